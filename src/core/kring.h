// KRing: our private state for one ring, the counterpart of netmap's
// netmap_kring.  It lives in the control file, never in the region the
// application maps, so a client scribbling on its ring cannot change it.
//
// Indices (all in [0, num_slots)); "user" is the application, "we" the
// library acting as the kernel:
//
//   TX ring:                              RX ring:
//     hwcur  first slot we have not          hwcur  first slot the user has
//            consumed (sent) yet                    not released yet
//     head   first slot the user has         head   first slot the user
//            not handed to us                       still owns
//     tail   first slot the user may         tail   first slot we have not
//            not fill (we still own it)             filled yet
//     hwtail where tail will move at the     hwtail where tail will move at the
//            next sync (rtail: last value           next sync (written by the feeder)
//            shown to the user)
//
//   TX:   hwcur <= head <= cur <= tail == hwtail   (modulo num_slots)
//         [hwcur, head) to send, [head, tail) free for the user,
//         [tail, hwcur) in flight (owned by us / the peer).
//   RX:   hwcur <= head <= cur <= tail == hwtail
//         [hwcur, head) released by the user, [head, tail) received,
//         [tail, hwcur) free for us to fill.
//
//        0                                            num_slots-1
//   TX   |....in flight....|hwcur..to send..|head..free..|tail..in flight|
//
// rhead/rcur/rtail are the values of head/cur/tail we validated at the last
// sync: the prologue reads head and cur from shared memory exactly once and
// checks them against these (head may only move forward from rhead up to
// rtail; cur may not be behind head or beyond rtail).  Nothing after the
// prologue reads user-writable fields of the ring again, except the slots in
// [hwcur, head), which the port's sync reads once each and validates (TX
// slots to send; RX slots released, for buffers swapped in by the user).
//
// Concurrency: one sync at a time per ring (the `busy` word, like netmap's
// nm_kr_tryget).  Fields are grouped by writer so producer and consumer of a
// pipe do not share cache lines: `owner` is written only by the process
// syncing this ring; `hwtail` of an RX ring is written by whoever feeds it
// (the pipe peer's txsync, a VALE sender under `lease`).
#pragma once

#include <atomic>
#include <cstdint>

#include "core/robust_mutex.h"

struct netmap_ring;

namespace unetmap {

enum Dir : uint32_t { kTx = 0, kRx = 1 };
inline constexpr uint32_t kMaxRings = 16;          // per direction, hardware-like rings
inline constexpr uint32_t kMaxHostRings = 16;      // per direction, host rings (NIC ports)
inline constexpr uint32_t kMaxRingsAll = kMaxRings + kMaxHostRings;  // fits the 32-bit ring masks
static_assert(kMaxRingsAll <= 32, "monitors keep one bit per watched ring in a uint32_t");

struct alignas(64) KRing {
    // --- set at creation, read-only afterwards -------------------------------
    uint32_t num_slots;
    uint32_t dir;           // kTx / kRx
    uint32_t ring_id;       // index within the direction
    uint32_t ring_obj;      // index of the netmap_ring in the region's ring pool
    uint64_t ring_ofs;      // offset of the netmap_ring in the region
    uint32_t port;          // owning port slot
    uint32_t flags;         // kExclusive ...
    static constexpr uint32_t kExclusive = 1;

    // --- written by the process currently syncing this ring ------------------
    alignas(64) std::atomic<uint32_t> busy;  // 0 or tid of the syncing thread
    uint32_t users;          // bindings that include this ring (control lock)
    uint32_t rhead, rcur, rtail;
    std::atomic<uint32_t> hwcur;  // RX: read by the feeder to know what was freed
    // Monitor hook state (src/ports/monitor.cpp), valid while mon_epoch
    // equals the port's: TX, slots after hwcur already copied; RX, slots
    // before rtail not copied yet (an incomplete chain); mon_skip, the start
    // of a chain was lost and its other fragments are dropped.
    uint32_t mon_epoch, mon_held, mon_skip;

    // --- written by the feeder (RX) or by the owner (TX) ---------------------
    alignas(64) std::atomic<uint32_t> hwtail;

    // --- statistics, written by whoever moves packets on this ring -----------
    alignas(64) std::atomic<uint64_t> packets;
    std::atomic<uint64_t> bytes;
    std::atomic<uint64_t> drops;

    // --- VALE: serialises senders filling this RX ring (lease) ---------------
    alignas(64) RobustMutex lease;
};

inline uint32_t ring_next(uint32_t i, uint32_t n) { return i + 1 == n ? 0 : i + 1; }
/// Number of slots from a to b going forward (mod n).
inline uint32_t ring_dist(uint32_t a, uint32_t b, uint32_t n) { return b >= a ? b - a : b + n - a; }

/// Validate the user's head/cur against the cached values (netmap's
/// nm_txsync_prologue / nm_rxsync_prologue).  On success returns head and
/// stores head/cur in rhead/rcur, restoring ring->tail if the user changed
/// it.  On failure returns num_slots (the "invalid" sentinel).
uint32_t txsync_prologue(KRing& k, netmap_ring* ring);
uint32_t rxsync_prologue(KRing& k, netmap_ring* ring);

/// Publish the new tail to the user after a successful sync and remember it.
void sync_finalize(KRing& k, netmap_ring* ring);

/// netmap_ring_reinit: reset head=cur=hwcur and tail=hwtail, repair slots
/// whose buffer index is out of range (pointed at buffer 0, len 0) or whose
/// length exceeds the buffer.  Returns the number of problems found.
uint32_t ring_reinit(KRing& k, netmap_ring* ring, uint32_t buf_total, uint32_t buf_size);

}  // namespace unetmap
