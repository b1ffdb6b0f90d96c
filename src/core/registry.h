// The registry: the shared control file every unetmap process maps.
//
// It plays the part of the kernel's global state in netmap: which ports
// exist, which descriptors are registered to them (bindings, netmap's
// netmap_priv_d), which memory regions exist, and each ring's private
// KRing.  Layout (fixed-size tables, sparse file):
//
//   CtlHeader { magic, lock, counters,
//               RegionEntry  regions[kMaxRegions]
//               BindingEntry bindings[kMaxBindings]
//               PortEntry    ports[kMaxPorts]   (each with its KRings)
//               ZmonShadow   zmon[kMaxZmons]    (zero-copy monitors' buffers)
//               switch_area                     (VALE) }
//
// Every table change happens under `lock` (robust: a process dying while
// holding it makes the next locker run gc()).  The data path reads port and
// kring fields without the lock: they are immutable while a binding holds
// the port, or atomics.
//
// Liveness.  Each binding owns a Unix datagram socket bound to
// `b<slot>.<gen>` in the state directory; it is the descriptor the
// application holds.  The kernel tracks who holds that socket across dup(),
// fork() and SCM_RIGHTS, so "is anyone still holding this binding?" is
// answered by connect(): ECONNREFUSED means every holder closed it or died.
// gc() reclaims such bindings, then ports and regions left without users.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "core/kring.h"
#include "core/region.h"
#include "core/robust_mutex.h"
#include "core/shm.h"

namespace unetmap {

inline constexpr uint32_t kMaxPorts = 256;
inline constexpr uint32_t kMaxBindings = 1024;
inline constexpr uint32_t kMaxRegions = 320;  // every port may have a private one
inline constexpr uint32_t kMaxListeners = 32;  // bindings per port
inline constexpr uint32_t kNone = 0xffffffffu;
inline constexpr uint32_t kNameMax = 64;       // NETMAP_REQ_IFNAMSIZ
inline constexpr uint32_t kDefaultSlots = 1024;
inline constexpr uint32_t kGlobalMemId = 1;
inline constexpr size_t kSwitchAreaBytes = 4u << 20;
inline constexpr uint32_t kMaxZmons = 16;          // zero-copy monitors at once, all ports together
inline constexpr uint32_t kZmonMaxSlots = 4096;    // netmap's NM_MONITOR_MAXSLOTS

struct RegionEntry {
    uint32_t in_use;
    uint32_t mem_id;
    uint32_t gen;
    uint32_t refs;        // ports using it
    uint64_t memsize;
};

enum class PortKind : uint16_t { Free = 0, Null, PipeMaster, PipeSlave, Vale, Nic, Monitor };

struct BindingEntry {
    uint32_t in_use;
    uint32_t gen;
    uint32_t port;
    uint32_t mode;        // NR_REG_*
    uint32_t ringid;
    uint32_t pid;         // who registered (diagnostics only; liveness is the socket)
    uint64_t flags;       // NR_* register flags
    uint32_t qfirst[2], qlast[2];
    uint32_t nif_obj;     // netmap_if in the region's if pool
    uint32_t pad;
    uint64_t nifp_ofs;
    std::atomic<uint32_t> armed;  // bit kTx/kRx: a thread sleeps waiting on that direction
};

struct PortEntry {
    uint32_t in_use;
    uint32_t gen;
    char name[kNameMax];
    PortKind kind;
    uint16_t region;      // index in regions[]
    uint32_t refs;        // bindings + 1 if persistent
    uint32_t flags;
    static constexpr uint32_t kPersistent = 1;
    uint32_t nrings[2];   // hardware-like rings per direction
    uint32_t nhost[2];    // host rings per direction (0 .. kMaxHostRings)
    uint32_t nslots[2];
    uint32_t peer;        // pipes: the other end's slot
    uint32_t nlisteners;
    uint32_t listeners[kMaxListeners];  // binding slots registered here
    std::atomic<uint32_t> sleepers;     // armed bindings (fast "anyone asleep?" check)
    // --- monitors (src/ports/monitor.h) ---------------------------------------
    // On a monitored port: the copy monitors its syncs feed.  On a monitor
    // port: the port it watches and which of that port's rings.
    static constexpr uint32_t kMaxMonitors = 8;
    std::atomic<uint32_t> nmonitors;               // nonzero: syncs run the monitor hook
    std::atomic<uint32_t> mon_epoch;               // new value whenever nmonitors leaves 0
    std::atomic<uint64_t> monitors[kMaxMonitors];  // (gen << 32) | monitor port slot; 0 = free
    uint32_t mon_parent;                           // monitor port: the monitored port, else kNone
    std::atomic<uint32_t> mon_watch[2];            // monitor port: bit i = parent's ring i, per direction
    uint32_t mon_zslot;                            // zero-copy monitor: its ZmonShadow entry, else kNone
    uint32_t mon_seq;                              // zero-copy monitor: place in the chain (lower = earlier)
    // ---------------------------------------------------------------------------
    KRing kring[2][kMaxRingsAll];

    [[nodiscard]] uint32_t total_rings(uint32_t d) const { return nrings[d] + nhost[d]; }
};

/// The batch of exchanges a feeder is writing into one RX ring of a
/// zero-copy monitor, under that ring's lease (src/ports/monitor_zcopy.cpp).
/// An exchange changes two records that must agree (the source slot, the
/// monitor's shadow) and a process can die between the two stores; the
/// next holder of the lease, finding its holder dead, completes what this
/// says was under way and publishes the batch.
struct ZmonBatch {
    uint32_t armed;     // 1 while the exchange below is being written
    uint32_t counted;   // the batch's packets are in the ring's counters already
    uint32_t t_first;   // the ring's hwtail when the batch began
    uint32_t t_next;    // the slot after the last one exchanged
    // The exchange being written: the monitor's slot gets the packet `pkt`
    // (its shadow too), the source slot the monitor's free buffer `give`.
    uint32_t mon_slot, pkt, give;
    uint16_t len, flags;
    uint32_t src_zslot;      // the source is the previous monitor of a chain: its shadow entry, else kNone
    uint32_t src_index;      // and the slot in that shadow (same ring)
    uint64_t src_slot_ofs;   // region offset of the source netmap_slot
    uint64_t peer_slot_ofs;  // a pipe's TX source: the peer's RX slot naming the same buffer, else 0
};

/// A zero-copy monitor's record of the buffer each slot of its RX rings
/// holds (src/ports/monitor_zcopy.cpp).  Its rings are in the watched port's
/// region, writable by the monitor's process; this copy is not, so what
/// the monitor writes into buf_idx never decides which buffers go back to
/// the watched port or to the pool.  Entry r, slot j: written by the sync
/// that owns that slot (a feeder under the ring's lease in the free zone,
/// the monitor's rxsync in the released zone), like the slot itself.
struct ZmonShadow {
    uint32_t in_use;
    uint32_t port;  // the monitor's port slot
    ZmonBatch batch[kMaxRings];
    uint32_t buf[kMaxRings][kZmonMaxSlots];
};

struct CtlHeader {
    static constexpr uint64_t kMagic = 0x756e6d63746c3031ULL;  // "unmctl01"
    uint64_t magic;
    uint32_t layout_size;  // sizeof(CtlHeader), guards against mixed builds
    std::atomic<uint32_t> dead;  // set (under lock) just before the file is removed
    RobustMutex lock;
    uint32_t gen_counter;
    uint32_t pad;
    RegionEntry regions[kMaxRegions];
    BindingEntry bindings[kMaxBindings];
    PortEntry ports[kMaxPorts];
    ZmonShadow zmon[kMaxZmons];
    // State owned by port types that need more than ports (VALE switches:
    // names, member ports, forwarding tables).  Each type defines its own
    // layout over its area and static_asserts that it fits.
    alignas(64) unsigned char switch_area[kSwitchAreaBytes];
};

class Registry;

/// Holds the control lock; runs gc() first if the previous holder died.
/// `error()` is nonzero (an errno) if the control file could not be mapped,
/// in which case the lock is not held.  With `kExisting`, a missing control
/// file is not created: error() is then ENOENT (nothing exists to work on;
/// a closing descriptor whose binding an earlier closer already collected
/// has nothing to do, and creating the file only to remove it is churn).
class CtlGuard {
public:
    enum Existing { kExisting };
    enum Collect { kCollect };
    explicit CtlGuard(Registry& r);
    CtlGuard(Registry& r, Existing);  // only if the control file exists (ENOENT otherwise)
    CtlGuard(Registry& r, Collect);   // and, once locked, Registry::gc(): what dead processes left goes first
    ~CtlGuard();
    CtlGuard(const CtlGuard&) = delete;
    CtlGuard& operator=(const CtlGuard&) = delete;
    [[nodiscard]] int error() const { return err_; }

private:
    Registry& r_;
    int err_;
};

/// This process's handle on the registry (a process-wide singleton).
class Registry {
public:
    static Registry& get();

    // Read without the lock by the data path (a descriptor's syncs and
    // sleeps) while a closing thread may be mapping a fresh control file
    // under it (Registry::lock): an atomic load (a plain one on x86) so
    // that the pointer itself is never torn or a data race.  The header a
    // bound descriptor uses cannot go away: it holds a binding in it.
    CtlHeader& hdr() { return *current(); }
    PortEntry& port(uint32_t i) { return current()->ports[i]; }
    BindingEntry& binding(uint32_t i) { return current()->bindings[i]; }

    // ---- under CtlGuard ----------------------------------------------------
    /// Find a port by exact name; kNone if absent.
    uint32_t find_port(std::string_view name);
    /// Allocate a port slot with its rings in region `region_slot`.
    /// Rings get buffers in every slot (TX and RX alike).  Returns 0 or errno.
    /// `fill[d]` false leaves direction d's slots without buffers (buf_idx 0)
    /// for the type to fill (pipe ends share their peer's buffers).
    /// `nhost[d]` host rings (at most kMaxHostRings) follow direction d's rings, numbered
    /// from nrings[d] on, as in netmap.
    int new_port(std::string_view name, PortKind kind, uint32_t region_slot,
                 const uint32_t nrings[2], const uint32_t nslots[2], const bool fill[2],
                 uint32_t& out, const uint32_t* nhost = nullptr);
    /// This thread's mapping of region `slot`, for a data path that writes
    /// into another port's region (VALE forwarding, copy monitors): kept
    /// across syncs (the registry itself only holds weak references), and
    /// let go of periodically once the region went away.  No lock needed.
    Region* thread_region(uint32_t slot);
    /// Is a binding's socket still held by anyone?
    bool binding_alive(uint32_t b);
    /// Free ports' rings and slots and drop their region references.  The
    /// buffers found in all their slots go back to the pool in one call, so
    /// ports sharing buffers (pipe ends) are freed together without a
    /// buffer being freed twice.
    void free_ports(std::span<const uint32_t> ports);
    /// Drop one reference; destroys the port through its type when it
    /// reaches zero.
    void put_port(uint32_t port);
    /// Find or create a region; `mem_id` 0 means the global one (1).
    int get_region(uint32_t mem_id, uint32_t& slot);
    void put_region(uint32_t slot);
    /// Reclaim bindings whose socket nobody holds any more.
    void gc();
    /// After the lock's previous holder died mid-operation: gc, then rebuild
    /// reference counts, listeners and ring users from the live bindings
    /// and free ports, regions and sockets nothing references.
    void repair();
    /// Free a binding's resources (if, extra buffers, ring users), unlink its
    /// socket, and drop its port reference.
    void release_binding(uint32_t b);
    uint32_t next_gen() { return ++hdr_->gen_counter; }

    // ---- lock-free ----------------------------------------------------------
    /// This process's mapping of a region slot (mapped on first use; kept
    /// while someone holds the shared_ptr).  nullptr if it cannot be mapped.
    std::shared_ptr<Region> region(uint32_t slot);
    /// Path of a binding's socket.
    std::string binding_path(uint32_t b, uint32_t gen) const;
    /// Path of the file of region slot `slot`.
    std::string region_file(uint32_t slot) const;

    /// Wake the bindings of `port` asleep on direction `d` ring `ring`.
    /// Costs one atomic load when nobody sleeps.
    void notify(PortEntry& p, uint32_t d, uint32_t ring);

private:
    friend class CtlGuard;
    Registry() = default;
    int attach(bool create);  // map (creating if needed and allowed) the control file
    int lock(bool create = true);
    void unlock();
    void maybe_remove();   // remove the control file when nothing is left
    void sweep_orphans();  // remove our files that no table entry claims

    std::mutex local_;  // serialises this process's threads around the shared lock (not re-entrant)
    Mapping map_;
    CtlHeader* hdr_ = nullptr;  // written only through set_hdr, under the lock
    [[nodiscard]] CtlHeader* current() const { return __atomic_load_n(&hdr_, __ATOMIC_RELAXED); }
    void set_hdr(CtlHeader* h) { __atomic_store_n(&hdr_, h, __ATOMIC_RELAXED); }
    std::mutex regions_mu_;
    std::weak_ptr<Region> regions_[kMaxRegions];
    uint32_t region_gen_[kMaxRegions] = {};
};

}  // namespace unetmap
