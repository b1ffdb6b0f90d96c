// VALE switches: the state shared by the port type (src/ports/vale.cpp)
// and the VALE control requests (src/ctl/vale_ctl.cpp).
//
// Everything lives in CtlHeader::switch_area (the control file), laid out
// as `Area` below.  The file starts zero-filled and zero is a valid empty
// state: no switch, no member, no learnt address, no port record.
//
//   Area { next_mem_id,
//          VPort  vports[kMaxPorts]      one per registry port slot
//          Switch sw[kMaxSwitches]       { name, members[254], active bitmap,
//                                          MAC table[1024] } }
//
// Writers: every field is changed under the control lock, except the MAC
// tables and VPort::tx_skip, which senders update from their
// txsync (single 64/32-bit atomic words, so a reader never sees half an
// entry).  Readers on the data path take no lock; whatever they read is
// validated before use (indices bounded, port generations compared under
// the destination ring's lease).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/port_type.h"
#include "core/registry.h"

#include <unetmap/stats.h>

namespace unetmap {

struct ExtraRequest;
extern const PortType vale_port_type;

namespace vale {

inline constexpr uint32_t kMaxSwitches = 64;   // netmap: NM_BRIDGES (8 by default)
inline constexpr uint32_t kMaxMembers = 254;   // netmap: NM_BDG_MAXPORTS
inline constexpr uint32_t kNoPort = kMaxMembers + 1;  // netmap: NM_BDG_NOPORT
inline constexpr uint32_t kHashSize = 1024;    // netmap: NM_BDG_HASH
inline constexpr uint32_t kIfNameMax = 16;     // IFNAMSIZ: persistent port names
inline constexpr uint32_t kRingSize = 1024;      // netmap: NM_BRIDGE_RINGSIZE
inline constexpr uint32_t kMaxSlots = 4096;      // netmap: NM_BDG_MAXSLOTS

enum MemberKind : uint32_t {
    kMemberVale = 1,  // a VALE port (ephemeral or persistent): frames are copied into its RX rings
    kMemberSink = 2,  // an attached null port: frames are counted and discarded
};

struct Member {
    // 0 = free; else (port generation << 32) | port slot.  Stored with
    // release after the rest of the entry; cleared first on removal.
    std::atomic<uint64_t> ident;
    uint32_t kind;
    uint32_t pad;
    char name[kNameMax];  // as listed: "vale0:p"
};

// MAC table entry (one word): bit 63 valid, bits 48..55 member index,
// bits 0..47 the address (first byte on the wire in the low byte).
inline constexpr uint64_t kMacValid = 1ULL << 63;
inline constexpr uint64_t kMacMask = (1ULL << 48) - 1;

struct Switch {
    uint32_t in_use;
    uint32_t nmembers;
    char name[kNameMax];  // "vale0" (everything before the ':')
    std::atomic<uint64_t> active[4];  // bit m: members[m] is in use
    Member members[kMaxMembers];
    std::atomic<uint64_t> ht[kHashSize];
};

// Who forwards between an attached interface and its member port (the
// interface's "agent", started by src/ctl/vale_nic.cpp).  A process is
// named by its pid and its start time (field 22 of /proc/PID/stat), so that
// a recycled pid is never mistaken for it.
struct ProcRef {
    int32_t pid;
    uint32_t pad;
    uint64_t start;  // clock ticks after boot; 0 = nobody
};

struct NicAgent {
    uint32_t state;
    static constexpr uint32_t kStarting = 1;  // `proc` is the attaching process, waiting for its agent
    static constexpr uint32_t kRunning = 2;   // `proc` is the agent
    uint32_t host_port;  // the member of the host rings (valectl -h), or kNone
    uint32_t host_gen;   // its port generation
    // NETMAP_REQ_VALE_POLLING_ENABLE: 0 = off, else 1 + the first CPU the
    // agent is pinned to (ncpus in polling_cpus).
    uint16_t polling;
    uint16_t polling_cpus;
    ProcRef proc;
    char ifname[kIfNameMax];
};

// Per registry port slot: what VALE knows about that port.  Valid only
// while `gen` equals the PortEntry's generation.
struct VPort {
    uint32_t gen;
    uint32_t flags;
    static constexpr uint32_t kPersistent = 1;  // created by NETMAP_REQ_VALE_NEWIF
    // The member of an attached interface, "valeS:IF" (VALE_ATTACH of an
    // interface name): a persistent port only its agent opens; `nic` says
    // who that is.  kNicHost: the member of its host rings, "valeS:IF^".
    static constexpr uint32_t kNic = 2;
    static constexpr uint32_t kNicHost = 4;
    // 0 = on no switch; else (switch index + 1) | member index << 16.
    std::atomic<uint32_t> where;
    // TX rings (bit i) in the middle of an over-long NS_MOREFRAG chain
    // being dropped: their next slots are discarded up to the chain's end.
    // Bit i is written only by the thread syncing TX ring i.
    std::atomic<uint32_t> tx_skip;
    // Virtio-net header length (NETMAP_REQ_PORT_HDR_SET): 0, 10 or 12.
    // Every frame on the port's rings starts with that many header bytes;
    // forwarding adds, strips or converts them (vale.cpp).  Written under
    // the control lock, read by senders (relaxed: a sync that raced the
    // change converts with the old or the new value, whole frames either way).
    std::atomic<uint32_t> hdr_len;
    NicAgent nic;  // kNic only
};

struct Area {
    uint32_t next_mem_id;  // where the search for a free private mem_id starts
    uint32_t pad;
    VPort vports[kMaxPorts];
    Switch sw[kMaxSwitches];
};
static_assert(sizeof(Area) <= kSwitchAreaBytes, "VALE state must fit in CtlHeader::switch_area");

inline Area& area(Registry& reg) { return *reinterpret_cast<Area*>(reg.hdr().switch_area); }

inline uint32_t where_switch(uint32_t w) { return (w & 0xffff) - 1; }
inline uint32_t where_member(uint32_t w) { return w >> 16; }

// ---- control plane (all under CtlGuard) ------------------------------------

/// Make the switch tables consistent with the port table again (members of
/// ports that are gone, records pointing nowhere).  Run by every operation.
void sweep(Registry& reg);
/// The VPort of `port` if it describes the port currently in that slot.
VPort* vport_of(Registry& reg, uint32_t port);
/// Switch index by switch name ("vale0"); kNone if absent.
uint32_t find_switch(Registry& reg, std::string_view sw_name);
/// Member index of `full_name` ("vale0:p") in switch `sw`; kNone if absent.
uint32_t find_member(Registry& reg, uint32_t sw, std::string_view full_name);
/// Split "valeS:P" into "valeS" and "P".  EINVAL if malformed.
int split_name(std::string_view name, std::string_view& sw, std::string_view& port);
/// Create a region of its own (fresh mem_id >= 2, one reference) sized for
/// a port of this shape, as every VALE port gets; monitors use it too.
int private_region(Registry& reg, const uint32_t nrings[2], const uint32_t nslots[2], uint32_t& slot);
/// The VALE port called `name`: by its own name (an ephemeral "valeS:P", a
/// persistent "v0") or as an attached member ("valeS:v0").  kNone if none.
uint32_t find_vale_port(Registry& reg, std::string_view name);
/// Virtio-net header length of `port` (0 for anything but a VALE port).
uint32_t port_hdr_len(Registry& reg, uint32_t port);
/// Is `name` acceptable for a persistent port (NETMAP_REQ_VALE_NEWIF)?
bool persistent_name_ok(std::string_view name);

/// Create a persistent VALE port (not attached).  EEXIST if the name is taken
/// (`out` is then the existing port when it is a persistent VALE port).
int create_persistent(Registry& reg, std::string_view name, const PortShape& shape, uint32_t& out);
/// Delete a persistent VALE port: ENXIO if absent, EINVAL if not a persistent
/// VALE port, EBUSY while attached or bound by a descriptor.
int delete_persistent(Registry& reg, std::string_view name);
/// Attach an existing persistent VALE port or null port `P` to switch `S`
/// under the name "S:P" (creating the switch).  A null port is marked
/// persistent (one reference) while attached.
int attach(Registry& reg, std::string_view full_name, uint32_t mode, uint32_t& member);
/// Undo attach(); a null port loses its reference (and may go away).
int detach(Registry& reg, std::string_view full_name, uint32_t& member);

// ---- attached interfaces (the agents themselves: src/ctl/vale_nic.cpp) -----

/// Does VALE_ATTACH "valeS:P" name an interface (P is no port, and an
/// interface of that name exists in the caller's network namespace)?
bool names_interface(Registry& reg, std::string_view full_name);
/// Create the member port "valeS:IF" (and "valeS:IF^" with `host`) on
/// switch S for interface IF, persistent, with its NicAgent in state
/// kStarting owned by `owner`.  EBUSY if the name is on the switch, the
/// interface is attached anywhere or is open as a NIC port; ENOMEM if a
/// table is full.  `port` is the member port ("valeS:IF").
int nic_member_create(Registry& reg, std::string_view full_name, bool host, const PortShape& shape,
                      const ProcRef& owner, uint32_t& member, uint32_t& port);
/// The NicAgent of member port `port` if it is still the one of generation `gen`.
NicAgent* nic_agent(Registry& reg, uint32_t port, uint32_t gen);
/// Member port of "valeS:IF" on its switch if it is an interface's member
/// (kNic), else kNone.
uint32_t nic_member_port(Registry& reg, std::string_view full_name);
/// Take an interface's members off their switch and drop their persistent
/// references (they go away with the agent's last descriptor).
void nic_member_remove(Registry& reg, uint32_t port);
/// Every interface member port (kNic), for the callback.
template <class F>
void for_each_nic_member(Registry& reg, F f) {
    for (uint32_t port = 0; port < kMaxPorts; port++)
        if (VPort* v = vport_of(reg, port); v && (v->flags & VPort::kNic)) f(port, *v);
}

/// The shape (mem_id, rings, slots) and the counters, summed over its
/// rings, of port p into out: what every port listing reports.
void fill_shape_and_counters(Registry& reg, const PortEntry& p, struct ::unetmap_port_stats& out);

/// The VALE control requests (NEWIF, DELIF, ATTACH, DETACH, LIST,
/// POLLING_ENABLE/DISABLE, PORT_HDR_SET/GET), for
/// extra_requests() in port_types.cpp.
std::span<const ExtraRequest> requests();

}  // namespace vale
}  // namespace unetmap
