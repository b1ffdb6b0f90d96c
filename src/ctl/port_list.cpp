// unetmap_port_list() of <unetmap/stats.h>: the counters of every port in
// the control file, for monitoring tools (nmstat).  Like the other stats
// entry points it takes the control lock only while it copies the table
// and never touches a ring.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include <unetmap/stats.h>

#include "core/registry.h"
#include "ctl/vale_nic.h"
#include "ports/vale.h"

namespace unetmap {
namespace {

void fill(Registry& reg, uint32_t port, struct ::unetmap_port_stats& out) {
    using namespace vale;
    const PortEntry& p = reg.port(port);
    std::memset(&out, 0, sizeof out);
    std::string_view name(p.name, strnlen(p.name, sizeof p.name));
    out.bridge_idx = 0xffff;
    out.port_idx = kNoPort;
    if (VPort* v = vport_of(reg, port)) {
        if (v->flags & VPort::kPersistent) out.flags |= UNETMAP_PORT_PERSISTENT;
        if (v->flags & (VPort::kNic | VPort::kNicHost)) out.flags |= UNETMAP_PORT_NIC;
        if (v->flags & VPort::kNic) out.agent_pid = static_cast<uint32_t>(agent_pid(reg, port));
        if (const uint32_t w = v->where.load(std::memory_order_relaxed)) {
            const uint32_t s = where_switch(w), m = where_member(w);
            if (s < kMaxSwitches && m < kMaxMembers) {
                out.flags |= UNETMAP_PORT_ATTACHED;
                out.bridge_idx = static_cast<uint16_t>(s);
                out.port_idx = m;
                // shown as listed by NETMAP_REQ_VALE_LIST: "valeS:P"
                const Member& mb = area(reg).sw[s].members[m];
                if (mb.ident.load(std::memory_order_relaxed) != 0)
                    name = std::string_view(mb.name, strnlen(mb.name, sizeof mb.name));
            }
        }
    }
    std::memcpy(out.name, name.data(), std::min<size_t>(name.size(), sizeof out.name - 1));
    fill_shape_and_counters(reg, p, out);
}

}  // namespace
}  // namespace unetmap

extern "C" __attribute__((visibility("default"))) int unetmap_port_list(struct unetmap_port_stats* out, int max) {
    using namespace unetmap;
    if (max < 0 || (max > 0 && !out)) {
        errno = EINVAL;
        return -1;
    }
    Registry& reg = Registry::get();
    CtlGuard g(reg);
    if (g.error()) {
        errno = g.error();
        return -1;
    }
    int n = 0;
    for (uint32_t i = 0; i < kMaxPorts && n < max; i++) {
        const PortEntry& p = reg.port(i);
        if (!p.in_use || p.kind == PortKind::Free) continue;
        fill(reg, i, out[n++]);
    }
    return n;
}
