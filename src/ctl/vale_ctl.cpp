// VALE control requests (NIOCCTRL): NETMAP_REQ_VALE_NEWIF, _DELIF,
// _ATTACH, _DETACH, _LIST, _POLLING_ENABLE/_DISABLE and
// NETMAP_REQ_PORT_HDR_SET/_GET, as netmap implements them (netmap.c,
// netmap_vale.c, netmap_bdg.c), over the switch state of
// src/ports/vale.{h,cpp}; and the unetmap_port_stats() entry points of
// <unetmap/stats.h>.
//
// Every handler runs after requests.cpp validated the header and name and
// copied the body in; each takes the control lock for its whole duration,
// so a request is atomic with respect to REGISTER and to other requests.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sched.h>
#include <string_view>
#include <unistd.h>

#include <net/netmap.h>
#include <unetmap/stats.h>

#include "core/registry.h"
#include "ctl/portname.h"
#include "ctl/requests.h"
#include "ctl/vale_nic.h"
#include "ports/vale.h"

namespace unetmap {
namespace vale {

namespace {

// NETMAP_REQ_VALE_NEWIF "NAME": a persistent VALE port (not on a switch).
int handle_newif(Descriptor&, std::string_view name, void* body, char*) {
    auto& r = *static_cast<nmreq_vale_newif*>(body);
    if (r.nr_tx_rings > kMaxRings || r.nr_rx_rings > kMaxRings) return EINVAL;
    Registry& reg = Registry::get();
    CtlGuard g(reg, CtlGuard::kCollect);  // a port left by a dead process may hold the name
    if (g.error()) return g.error();
    const PortShape shape{r.nr_tx_rings, r.nr_rx_rings, r.nr_tx_slots, r.nr_rx_slots, 0, 0, r.nr_mem_id};
    uint32_t port;
    if (int e = create_persistent(reg, name, shape, port)) return e;
    const PortEntry& p = reg.port(port);
    r.nr_tx_slots = p.nslots[kTx];
    r.nr_rx_slots = p.nslots[kRx];
    r.nr_tx_rings = static_cast<uint16_t>(p.nrings[kTx]);
    r.nr_rx_rings = static_cast<uint16_t>(p.nrings[kRx]);
    r.nr_mem_id = static_cast<uint16_t>(reg.hdr().regions[p.region].mem_id);
    return 0;
}

// NETMAP_REQ_VALE_DELIF "NAME" (no body).
int handle_delif(Descriptor&, std::string_view name, void*, char*) {
    Registry& reg = Registry::get();
    CtlGuard g(reg, CtlGuard::kCollect);  // descriptors of dead processes must not keep it busy
    if (g.error()) return g.error();
    return delete_persistent(reg, name);
}

// NETMAP_REQ_VALE_ATTACH "valeS:P".  P is a persistent VALE port, a null
// port, or an interface (served by an agent process: vale_nic.cpp).
int handle_attach(Descriptor&, std::string_view name, void* body, char*) {
    auto& r = *static_cast<nmreq_vale_attach*>(body);
    const uint32_t mode = r.reg.nr_mode;
    if (mode != NR_REG_DEFAULT && mode != NR_REG_ALL_NIC && mode != NR_REG_NIC_SW) return EINVAL;
    Registry& reg = Registry::get();
    uint32_t m;
    bool interface;
    {
        CtlGuard g(reg, CtlGuard::kCollect);  // ports of dead processes are gone, as in the kernel
        if (g.error()) return g.error();
        interface = names_interface(reg, name);
        if (!interface) {
            if (int e = attach(reg, name, mode, m)) return e;
        }
    }
    if (interface) {
        // Starting the agent needs the lock released: attach_interface takes it as needed.
        const PortShape shape{r.reg.nr_tx_rings, r.reg.nr_rx_rings, r.reg.nr_tx_slots, r.reg.nr_rx_slots,
                              0, 0, r.reg.nr_mem_id};
        if (int e = attach_interface(name, mode == NR_REG_NIC_SW, shape, m)) return e;
    }
    r.port_index = m;
    return 0;
}

// NETMAP_REQ_VALE_DETACH "valeS:P".
int handle_detach(Descriptor&, std::string_view name, void* body, char*) {
    auto& r = *static_cast<nmreq_vale_detach*>(body);
    uint32_t m;
    bool interface;
    if (int e = detach_interface(name, m, interface); interface) {  // stops the agent, without the lock
        if (e) return e;
        r.port_index = m;
        return 0;
    }
    Registry& reg = Registry::get();
    CtlGuard g(reg, CtlGuard::kCollect);  // ports of dead processes are gone, as in the kernel
    if (g.error()) return g.error();
    if (int e = detach(reg, name, m)) return e;
    r.port_index = m;
    return 0;
}

// NETMAP_REQ_VALE_LIST.  With a name: the indices of that switch and port
// (port kNoPort if the switch exists but the port is not on it; ENOENT if
// the switch does not exist).  Without: the first port at or after
// (nr_bridge_idx, nr_port_idx), whose name goes to `name_out` (the
// header's nr_name, NETMAP_REQ_IFNAMSIZ bytes) when given; ENOENT past the
// last one.
int list(std::string_view name, nmreq_vale_list& r, char* name_out) {
    Registry& reg = Registry::get();
    CtlGuard g(reg, CtlGuard::kCollect);  // ports of dead processes are gone, as in the kernel
    if (g.error()) return g.error();
    sweep(reg);
    Area& a = area(reg);
    if (!name.empty()) {
        if (!name.starts_with(NM_BDG_NAME)) return EINVAL;
        const size_t colon = name.find(':');
        const uint32_t sw = find_switch(reg, name.substr(0, colon));
        if (sw == kNone) return ENOENT;
        r.nr_bridge_idx = static_cast<uint16_t>(sw);
        const uint32_t m = colon == std::string_view::npos ? kNone : find_member(reg, sw, name);
        r.nr_port_idx = m == kNone ? kNoPort : m;
        return 0;
    }
    uint32_t b = r.nr_bridge_idx, p = r.nr_port_idx;
    for (; b < kMaxSwitches; b++, p = 0) {
        if (!a.sw[b].in_use) continue;
        for (; p < kMaxMembers; p++) {
            const Member& mb = a.sw[b].members[p];
            if (mb.ident.load(std::memory_order_relaxed) == 0) continue;
            r.nr_bridge_idx = static_cast<uint16_t>(b);
            r.nr_port_idx = p;
            if (name_out) {
                std::memset(name_out, 0, NETMAP_REQ_IFNAMSIZ);
                std::memcpy(name_out, mb.name, strnlen(mb.name, sizeof mb.name));
            }
            return 0;
        }
    }
    r.nr_bridge_idx = static_cast<uint16_t>(std::min<uint32_t>(b, 0xffff));
    r.nr_port_idx = p;
    return ENOENT;
}

// As netmap, the listed port's name goes back in nmreq_header.nr_name.
int handle_list(Descriptor&, std::string_view name, void* body, char* name_out) {
    return list(name, *static_cast<nmreq_vale_list*>(body), name_out);
}

// NETMAP_REQ_PORT_HDR_SET "NAME": the virtio-net header length of a VALE
// port, 0, 10 or 12 (else EINVAL), as netmap allows it on VALE ports only:
// ENXIO for any other name or a VALE port that does not exist (the request
// never creates one).  The interface members of attached NICs are served
// by an agent that knows nothing of headers: EOPNOTSUPP.
int handle_hdr_set(Descriptor&, std::string_view name, void* body, char*) {
    auto& r = *static_cast<nmreq_port_hdr*>(body);
    if (r.nr_hdr_len != 0 && r.nr_hdr_len != 10 && r.nr_hdr_len != 12) return EINVAL;
    Registry& reg = Registry::get();
    CtlGuard g(reg, CtlGuard::kCollect);
    if (g.error()) return g.error();
    const uint32_t port = find_vale_port(reg, name);
    if (port == kNone) return ENXIO;
    VPort& v = *vport_of(reg, port);
    if (v.flags & (VPort::kNic | VPort::kNicHost)) return EOPNOTSUPP;
    v.hdr_len.store(r.nr_hdr_len, std::memory_order_relaxed);
    return 0;
}

// NETMAP_REQ_PORT_HDR_GET "NAME": 0 for an existing port of any other
// type, ENXIO if there is no such port.
int handle_hdr_get(Descriptor&, std::string_view name, void* body, char*) {
    auto& r = *static_cast<nmreq_port_hdr*>(body);
    Registry& reg = Registry::get();
    CtlGuard g(reg, CtlGuard::kCollect);
    if (g.error()) return g.error();
    uint32_t port = find_vale_port(reg, name);
    if (port == kNone) port = reg.find_port(name);
    if (port == kNone) return ENXIO;
    r.nr_hdr_len = port_hdr_len(reg, port);
    return 0;
}

// NETMAP_REQ_VALE_POLLING_ENABLE/_DISABLE "valeS:IF".  netmap starts
// kernel threads that poll the interface's rings in place of interrupts;
// our agent process forwards by polling already, so enabling pins it to
// the CPUs asked for (SINGLE_CPU: nr_first_cpu_id; MULTI_CPU: one CPU per
// ring from nr_first_cpu_id on) and disabling lets it run anywhere again.
// Errors as netmap's: EINVAL for a name that is not a VALE port or a bad
// configuration (no CPU, all CPUs, rings out of range), ENXIO for a VALE
// port that does not exist, EOPNOTSUPP for a VALE port that is not an
// interface, EFAULT when polling is already on (enable) or off (disable).
int polling(std::string_view name, const nmreq_vale_polling& r, bool enable) {
    if (!name.starts_with(NM_BDG_NAME)) return EINVAL;
    Registry& reg = Registry::get();
    CtlGuard g(reg, CtlGuard::kCollect);
    if (g.error()) return g.error();
    const uint32_t port = find_vale_port(reg, name);
    if (port == kNone) return ENXIO;
    VPort& v = *vport_of(reg, port);
    if (!(v.flags & VPort::kNic)) return EOPNOTSUPP;
    if (enable == (v.nic.polling != 0)) return EFAULT;
    const long ncpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    CPU_ZERO(&set);
    if (enable) {
        const uint32_t first = r.nr_first_cpu_id, n = r.nr_num_polling_cpus;
        if (n == 0 || n >= static_cast<uint64_t>(ncpus)) return EINVAL;
        if (r.nr_mode == NETMAP_POLLING_MODE_MULTI_CPU) {
            if (static_cast<uint64_t>(first) + n > reg.port(port).nrings[kRx]) return EINVAL;
        } else if (r.nr_mode == NETMAP_POLLING_MODE_SINGLE_CPU) {
            if (n != 1) return EINVAL;
        } else {
            return EINVAL;
        }
        if (static_cast<uint64_t>(first) + n > static_cast<uint64_t>(ncpus) || first >= 0xffff) return EINVAL;
        for (uint32_t c = first; c < first + n; c++) CPU_SET(c, &set);
    } else {
        for (long c = 0; c < ncpus && c < CPU_SETSIZE; c++) CPU_SET(c, &set);
    }
    // The agent is our own child process: same user, so allowed.  One
    // that is gone (or not started yet) has nothing to pin.
    if (const int32_t pid = agent_pid(reg, port); pid > 0) ::sched_setaffinity(pid, sizeof set, &set);
    v.nic.polling = enable ? static_cast<uint16_t>(r.nr_first_cpu_id + 1) : 0;
    v.nic.polling_cpus = enable ? static_cast<uint16_t>(r.nr_num_polling_cpus) : 0;
    return 0;
}

int handle_polling_on(Descriptor&, std::string_view name, void* body, char*) {
    return polling(name, *static_cast<nmreq_vale_polling*>(body), true);
}

int handle_polling_off(Descriptor&, std::string_view name, void* body, char*) {
    return polling(name, *static_cast<nmreq_vale_polling*>(body), false);
}

constexpr ExtraRequest kRequests[] = {
    {NETMAP_REQ_VALE_ATTACH, sizeof(nmreq_vale_attach), true, handle_attach},
    {NETMAP_REQ_VALE_DETACH, sizeof(nmreq_vale_detach), true, handle_detach},
    {NETMAP_REQ_VALE_LIST, sizeof(nmreq_vale_list), false, handle_list},
    {NETMAP_REQ_VALE_NEWIF, sizeof(nmreq_vale_newif), true, handle_newif},
    {NETMAP_REQ_VALE_DELIF, 0, true, handle_delif},
    {NETMAP_REQ_PORT_HDR_SET, sizeof(nmreq_port_hdr), true, handle_hdr_set},
    {NETMAP_REQ_PORT_HDR_GET, sizeof(nmreq_port_hdr), true, handle_hdr_get},
    {NETMAP_REQ_VALE_POLLING_ENABLE, sizeof(nmreq_vale_polling), true, handle_polling_on},
    {NETMAP_REQ_VALE_POLLING_DISABLE, sizeof(nmreq_vale_polling), true, handle_polling_off},
};

// ---- statistics --------------------------------------------------------------

void fill_stats(Registry& reg, uint32_t port, std::string_view shown_name, struct ::unetmap_port_stats& out) {
    const PortEntry& p = reg.port(port);
    std::memset(&out, 0, sizeof out);
    std::memcpy(out.name, shown_name.data(), std::min<size_t>(shown_name.size(), sizeof out.name - 1));
    out.bridge_idx = 0xffff;
    out.port_idx = kNoPort;
    if (VPort* v = vport_of(reg, port)) {
        if (v->flags & VPort::kPersistent) out.flags |= UNETMAP_PORT_PERSISTENT;
        if (v->flags & (VPort::kNic | VPort::kNicHost)) out.flags |= UNETMAP_PORT_NIC;
        if (v->flags & VPort::kNic) out.agent_pid = static_cast<uint32_t>(agent_pid(reg, port));
        if (const uint32_t w = v->where.load(std::memory_order_relaxed)) {
            out.flags |= UNETMAP_PORT_ATTACHED;
            out.bridge_idx = static_cast<uint16_t>(where_switch(w));
            out.port_idx = where_member(w);
        }
    }
    fill_shape_and_counters(reg, p, out);
}

int fail(int e) {
    errno = e;
    return -1;
}

}  // namespace

std::span<const ExtraRequest> requests() { return kRequests; }

}  // namespace vale
}  // namespace unetmap

#define UNETMAP_EXPORT __attribute__((visibility("default")))

extern "C" UNETMAP_EXPORT int unetmap_port_stats(const char* name, struct unetmap_port_stats* out) {
    using namespace unetmap;
    using namespace unetmap::vale;
    if (!name || !out) return fail(EINVAL);
    std::string_view n;
    if (check_port_name(name, NETMAP_REQ_IFNAMSIZ, n)) return fail(EINVAL);
    Registry& reg = Registry::get();
    CtlGuard g(reg);
    if (g.error()) return fail(g.error());
    uint32_t port = reg.find_port(n);
    if (port == kNone) {  // "valeS:P" for an attached persistent or null port
        std::string_view sw, pp;
        if (split_name(n, sw, pp) == 0) {
            const uint32_t s = find_switch(reg, sw);
            const uint32_t m = find_member(reg, s, n);
            if (m != kNone) {
                const uint64_t ident = area(reg).sw[s].members[m].ident.load(std::memory_order_relaxed);
                port = static_cast<uint32_t>(ident);
            }
        }
    }
    if (port >= kMaxPorts || !reg.port(port).in_use) return fail(ENOENT);
    fill_stats(reg, port, n, *out);
    return 0;
}

extern "C" UNETMAP_EXPORT int unetmap_vale_port_stats(unsigned bridge_idx, unsigned port_idx,
                                                      struct unetmap_port_stats* out) {
    using namespace unetmap;
    using namespace unetmap::vale;
    if (!out) return fail(EINVAL);
    if (bridge_idx >= kMaxSwitches || port_idx >= kMaxMembers) return fail(ENOENT);
    Registry& reg = Registry::get();
    CtlGuard g(reg);
    if (g.error()) return fail(g.error());
    const Switch& s = area(reg).sw[bridge_idx];
    const Member& mb = s.members[port_idx];
    const uint64_t ident = mb.ident.load(std::memory_order_relaxed);
    const uint32_t port = static_cast<uint32_t>(ident);
    if (!s.in_use || ident == 0 || port >= kMaxPorts || !reg.port(port).in_use) return fail(ENOENT);
    fill_stats(reg, port, std::string_view(mb.name, strnlen(mb.name, sizeof mb.name)), *out);
    return 0;
}
