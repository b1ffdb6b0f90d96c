#include "ctl/requests.h"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

#include <net/netmap.h>
#include <net/netmap_legacy.h>

#include "core/descriptor.h"
#include "core/diag.h"
#include "core/port_type.h"
#include "core/registry.h"
#include "ctl/copyio.h"
#include "ctl/portname.h"
#include "ports/monitor.h"
#include "ports/vale.h"

namespace unetmap {

namespace {

// ---------------------------------------------------------------------------
// Option chains
// ---------------------------------------------------------------------------

constexpr int kMaxOptions = 32;  // longer chains (or loops) are rejected

struct OptionChain {
    int n = 0;
    uint64_t where[kMaxOptions];     // user address of each option
    nmreq_option opt[kMaxOptions];   // our copies

    void set_status(int i, uint32_t status) {
        opt[i].nro_status = status;
        copy_out(where[i] + offsetof(nmreq_option, nro_status), &status, sizeof status);
    }
};

// Copy the chain in; EINVAL for loops, over-long chains and duplicated
// option types (netmap accepts each type once), EFAULT for bad pointers.
int read_options(uint64_t first, OptionChain& c) {
    for (uint64_t p = first; p != 0;) {
        if (c.n == kMaxOptions) return EINVAL;
        for (int i = 0; i < c.n; i++)
            if (c.where[i] == p) return EINVAL;  // loop
        if (int e = copy_in(&c.opt[c.n], p, sizeof(nmreq_option))) return e;
        for (int i = 0; i < c.n; i++)
            if (c.opt[i].nro_reqtype == c.opt[c.n].nro_reqtype) {
                c.where[c.n] = p;
                c.n++;
                c.set_status(c.n - 1, EINVAL);
                return EINVAL;
            }
        c.where[c.n] = p;
        p = c.opt[c.n].nro_next;
        c.n++;
    }
    return 0;
}

// No option is implemented yet by any request: each one gets EOPNOTSUPP in
// its nro_status and the request fails with EOPNOTSUPP, as netmap does for
// options it does not know or that do not apply to the request.
int reject_unsupported(OptionChain& c) {
    for (int i = 0; i < c.n; i++) c.set_status(i, EOPNOTSUPP);
    return c.n ? EOPNOTSUPP : 0;
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

template <class T> void set_const(const T& field, T value) { const_cast<T&>(field) = value; }

// Find a port, or create it the way its type does on first open.  On
// success takes a reference the caller must drop with put_port.
int get_port(Registry& reg, std::string_view name, const PortShape& shape, uint32_t& out) {
    uint32_t port = reg.find_port(name);  // existing ports first (persistent VALE ports, ...)
    if (port == kNone) {
        const PortType* type = port_type_for(name);
        if (!type) return ENXIO;
        if (int e = type->create(reg, name, shape, port)) return e;
    }
    reg.port(port).refs++;
    out = port;
    return 0;
}

// netmap_interp_ringid: which rings a (mode, ringid, flags) binds.
int rings_for_mode(const PortEntry& p, uint32_t mode, uint32_t ringid, uint64_t flags, RingSpan& r) {
    for (uint32_t d = 0; d < 2; d++) {
        const uint32_t nr = p.nrings[d], nh = p.nhost[d];
        switch (mode) {
            case NR_REG_ALL_NIC:
                r.first[d] = 0, r.last[d] = nr;
                break;
            case NR_REG_ONE_NIC:
                if (ringid >= std::max(p.nrings[kTx], p.nrings[kRx])) return EINVAL;
                r.first[d] = std::min(ringid, nr), r.last[d] = std::min(ringid + 1, nr);
                break;
            case NR_REG_SW:
                if (p.nhost[kTx] + p.nhost[kRx] == 0) return EINVAL;
                r.first[d] = nr, r.last[d] = nr + nh;
                break;
            case NR_REG_NIC_SW:
                r.first[d] = 0, r.last[d] = nr + nh;
                break;
            case NR_REG_ONE_SW:
                if (ringid >= std::max(p.nhost[kTx], p.nhost[kRx])) return EINVAL;
                r.first[d] = nr + std::min(ringid, nh), r.last[d] = nr + std::min(ringid + 1, nh);
                break;
            case NR_REG_NULL:
                r.first[d] = r.last[d] = 0;
                break;
            default:
                return EINVAL;
        }
    }
    if (flags & NR_TX_RINGS_ONLY) r.first[kRx] = r.last[kRx] = 0;
    if (flags & NR_RX_RINGS_ONLY) r.first[kTx] = r.last[kTx] = 0;
    return 0;
}

int bind_socket(int fd, const std::string& path) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) return ENAMETOOLONG;
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    ::unlink(path.c_str());  // left by a binding reclaimed after a crash
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return errno;
    return 0;
}

// ---------------------------------------------------------------------------
// NETMAP_REQ_REGISTER
// ---------------------------------------------------------------------------

constexpr uint64_t kKnownRegFlags = NR_MONITOR_TX | NR_MONITOR_RX | NR_ZCOPY_MON | NR_EXCLUSIVE |
                                    NR_RX_RINGS_ONLY | NR_TX_RINGS_ONLY | NR_ACCEPT_VNET_HDR |
                                    NR_DO_RX_POLL | NR_NO_TX_POLL;

int do_register(Descriptor& d, std::string_view name_in, nmreq_register& r, OptionChain& opts) {
    if (d.registered()) return EBUSY;
    std::string name(name_in);
    uint32_t mode = r.nr_mode == NR_REG_DEFAULT ? static_cast<uint32_t>(NR_REG_ALL_NIC) : r.nr_mode;
    uint32_t ringid = r.nr_ringid;
    if (mode == NR_REG_PIPE_MASTER || mode == NR_REG_PIPE_SLAVE) {
        // Old-style pipes: the pipe id travels in nr_ringid.
        name.push_back(mode == NR_REG_PIPE_MASTER ? '{' : '}');
        name.append(std::to_string(ringid));
        if (name.size() >= NETMAP_REQ_IFNAMSIZ) return EINVAL;
        mode = NR_REG_ALL_NIC;
        ringid = 0;
    }
    if (mode > NR_REG_ONE_SW) return EINVAL;
    const uint64_t flags = r.nr_flags;
    if (flags & ~kKnownRegFlags) return EINVAL;
    if ((flags & NR_TX_RINGS_ONLY) && (flags & NR_RX_RINGS_ONLY)) return EINVAL;
    if (r.nr_tx_rings > kMaxRings || r.nr_rx_rings > kMaxRings) return EINVAL;
    // Host rings: a count matters only to the registration that creates a
    // NIC port (netmap_get_na: later ones get the port's own count back),
    // but one beyond what any port can have is refused from everybody.
    if (r.nr_host_tx_rings > kMaxHostRings || r.nr_host_rx_rings > kMaxHostRings) return EINVAL;
    if (int e = reject_unsupported(opts)) return e;

    Registry& reg = Registry::get();
    // Reclaim what dead processes left (their exclusive rings, ports and
    // regions) before deciding anything: one connect() per binding.
    CtlGuard g(reg, CtlGuard::kCollect);
    if (g.error()) return g.error();

    const PortShape shape{r.nr_tx_rings, r.nr_rx_rings, r.nr_tx_slots, r.nr_rx_slots,
                          r.nr_host_tx_rings, r.nr_host_rx_rings, r.nr_mem_id};
    uint32_t port;
    // A monitor registers a port of its own that watches `name` (src/ports/monitor.h).
    const bool monitor = flags & (NR_MONITOR_TX | NR_MONITOR_RX | NR_ZCOPY_MON);
    if (int e = monitor ? monitor_create(reg, name, flags, shape, port) : get_port(reg, name, shape, port))
        return e;
    PortEntry& p = reg.port(port);
    // From here on, failures drop the port reference (destroying a port
    // created by this very request).
    auto fail = [&](int e) {
        reg.put_port(port);
        return e;
    };
    if (r.nr_mem_id && r.nr_mem_id != reg.hdr().regions[p.region].mem_id) return fail(EINVAL);
    // Frames of a port with virtio-net headers carry them: only for
    // applications that say they handle them (netmap: EIO).
    if (!monitor && vale::port_hdr_len(reg, port) && !(flags & NR_ACCEPT_VNET_HDR)) return fail(EIO);

    RingSpan rr;
    if (int e = rings_for_mode(p, mode, ringid, flags, rr)) return fail(e);
    for (uint32_t dd = 0; dd < 2; dd++)
        for (uint32_t i = rr.first[dd]; i < rr.last[dd]; i++) {
            const KRing& k = p.kring[dd][i];
            if ((k.flags & KRing::kExclusive) || ((flags & NR_EXCLUSIVE) && k.users)) return fail(EBUSY);
        }
    if (p.nlisteners >= kMaxListeners)
        return fail(UNETMAP_REFUSE(EBUSY, "port '%s': already registered by %u descriptors, the most a port takes",
                                   name.c_str(), kMaxListeners));
    uint32_t b = kNone;
    for (uint32_t i = 0; i < kMaxBindings && b == kNone; i++)
        if (!reg.binding(i).in_use) b = i;
    if (b == kNone)
        return fail(UNETMAP_REFUSE(ENOMEM, "port '%s': no free binding entry (%u registered descriptors, all ports together)",
                                   name.c_str(), kMaxBindings));
    auto region = reg.region(p.region);
    if (!region) return fail(ENOMEM);
    // Types served by this process's own kernel objects (NIC ports) open
    // them now, so that a missing interface queue, a busy queue or a
    // missing privilege fails the registration itself.
    std::shared_ptr<LocalBinding> local;
    if (const PortType& type = port_type_of(p); type.open_local)
        if (int e = type.open_local(reg, port, rr, d.fd(), local)) return fail(e);

    // The netmap_if: one per registration, listing every ring of the port.
    const uint32_t ntx = p.total_rings(kTx), nrx = p.total_rings(kRx);
    if (sizeof(netmap_if) + (ntx + nrx) * sizeof(ssize_t) > region->meta().pool[0].objsize)
        return fail(EINVAL);
    uint32_t nif_obj;
    if (region->alloc_one(Pool::If, nif_obj, true))
        return fail(UNETMAP_REFUSE(ENOMEM, "port '%s': if pool of memory region %u exhausted (all %u netmap_if in use)",
                                   name.c_str(), region->mem_id(), region->meta().pool[0].objtotal));
    const uint64_t nifp_ofs = region->obj_offset(Pool::If, nif_obj);
    auto* nifp = region->at<netmap_if>(nifp_ofs);
    std::strncpy(nifp->ni_name, name.c_str(), sizeof nifp->ni_name - 1);
    set_const(nifp->ni_version, static_cast<uint32_t>(NETMAP_API));
    set_const(nifp->ni_flags, region->mem_id() == kGlobalMemId ? 0u : static_cast<uint32_t>(NI_PRIV_MEM));
    set_const(nifp->ni_tx_rings, p.nrings[kTx]);
    set_const(nifp->ni_rx_rings, p.nrings[kRx]);
    set_const(nifp->ni_host_tx_rings, p.nhost[kTx]);
    set_const(nifp->ni_host_rx_rings, p.nhost[kRx]);
    // Rings this registration does not bind get offset 0, as in netmap
    // (libnetmap finds the bound rings that way).
    for (uint32_t i = rr.first[kTx]; i < rr.last[kTx]; i++)
        set_const(nifp->ring_ofs[i], static_cast<ssize_t>(p.kring[kTx][i].ring_ofs - nifp_ofs));
    for (uint32_t i = rr.first[kRx]; i < rr.last[kRx]; i++)
        set_const(nifp->ring_ofs[ntx + i], static_cast<ssize_t>(p.kring[kRx][i].ring_ofs - nifp_ofs));
    uint32_t extra_head = 0;
    const uint32_t extra = region->alloc_buf_list(r.nr_extra_bufs, extra_head);
    nifp->ni_bufs_head = extra_head;

    BindingEntry& e = reg.binding(b);
    e.gen = reg.next_gen();
    if (int err = bind_socket(d.fd(), reg.binding_path(b, e.gen))) {
        region->free_buf_list(extra_head);
        region->free(Pool::If, std::span<const uint32_t>(&nif_obj, 1));
        return fail(err);
    }
    // Commit.
    e.port = port;
    e.mode = mode;
    e.ringid = ringid;
    e.pid = static_cast<uint32_t>(::getpid());
    e.flags = flags;
    for (uint32_t dd = 0; dd < 2; dd++) {
        e.qfirst[dd] = rr.first[dd];
        e.qlast[dd] = rr.last[dd];
        for (uint32_t i = rr.first[dd]; i < rr.last[dd]; i++) {
            KRing& k = p.kring[dd][i];
            k.users++;
            if (flags & NR_EXCLUSIVE) k.flags |= KRing::kExclusive;
        }
    }
    e.nif_obj = nif_obj;
    e.nifp_ofs = nifp_ofs;
    e.armed.store(0);
    e.in_use = 1;
    __atomic_store_n(&p.listeners[p.nlisteners], b, __ATOMIC_RELAXED);
    __atomic_store_n(&p.nlisteners, p.nlisteners + 1, __ATOMIC_RELEASE);
    if (monitor) monitor_activate(reg, port, flags, rr.first[kRx], rr.last[kRx]);

    r.nr_offset = nifp_ofs;
    r.nr_memsize = region->memsize();
    r.nr_tx_slots = p.nslots[kTx];
    r.nr_rx_slots = p.nslots[kRx];
    r.nr_tx_rings = static_cast<uint16_t>(p.nrings[kTx]);
    r.nr_rx_rings = static_cast<uint16_t>(p.nrings[kRx]);
    r.nr_host_tx_rings = static_cast<uint16_t>(p.nhost[kTx]);
    r.nr_host_rx_rings = static_cast<uint16_t>(p.nhost[kRx]);
    r.nr_mem_id = static_cast<uint16_t>(region->mem_id());
    r.nr_extra_bufs = extra;
    d.bind(b, port, std::move(region), rr.first, rr.last, flags, nifp_ofs, std::move(local));
    return 0;
}

// ---------------------------------------------------------------------------
// NETMAP_REQ_PORT_INFO_GET / NETMAP_REQ_POOLS_INFO_GET
// ---------------------------------------------------------------------------

int do_port_info(std::string_view name, nmreq_port_info_get& info, OptionChain& opts) {
    if (int e = reject_unsupported(opts)) return e;
    Registry& reg = Registry::get();
    CtlGuard g(reg);
    if (g.error()) return g.error();
    const PortShape shape{info.nr_tx_rings, info.nr_rx_rings, info.nr_tx_slots, info.nr_rx_slots,
                          0, 0, info.nr_mem_id};
    uint32_t port;
    if (int e = get_port(reg, name, shape, port)) return e;
    const PortEntry& p = reg.port(port);
    const RegionEntry& re = reg.hdr().regions[p.region];
    info.nr_memsize = re.memsize;
    info.nr_tx_slots = p.nslots[kTx];
    info.nr_rx_slots = p.nslots[kRx];
    info.nr_tx_rings = static_cast<uint16_t>(p.nrings[kTx]);
    info.nr_rx_rings = static_cast<uint16_t>(p.nrings[kRx]);
    info.nr_host_tx_rings = static_cast<uint16_t>(p.nhost[kTx]);
    info.nr_host_rx_rings = static_cast<uint16_t>(p.nhost[kRx]);
    info.nr_mem_id = static_cast<uint16_t>(re.mem_id);
    reg.put_port(port);  // a port created just to answer goes away again
    return 0;
}

void fill_pools(const Region& r, nmreq_pools_info& pi) {
    const RegionMeta& m = r.meta();
    pi.nr_memsize = m.memsize;
    pi.nr_mem_id = static_cast<uint16_t>(m.mem_id);
    pi.nr_if_pool_offset = m.pool[0].offset;
    pi.nr_if_pool_objtotal = m.pool[0].objtotal;
    pi.nr_if_pool_objsize = m.pool[0].objsize;
    pi.nr_ring_pool_offset = m.pool[1].offset;
    pi.nr_ring_pool_objtotal = m.pool[1].objtotal;
    pi.nr_ring_pool_objsize = m.pool[1].objsize;
    pi.nr_buf_pool_offset = m.pool[2].offset;
    pi.nr_buf_pool_objtotal = m.pool[2].objtotal;
    pi.nr_buf_pool_objsize = m.pool[2].objsize;
}

int do_pools_info(Descriptor& d, const char* raw_name, nmreq_pools_info& pi, OptionChain& opts) {
    if (int e = reject_unsupported(opts)) return e;
    if (raw_name[0] == '\0' && d.registered()) {  // the descriptor's own region
        fill_pools(*d.region(), pi);
        return 0;
    }
    Registry& reg = Registry::get();
    CtlGuard g(reg);
    if (g.error()) return g.error();
    uint32_t slot;
    if (raw_name[0] != '\0') {
        std::string_view name;
        if (int e = check_port_name(raw_name, NETMAP_REQ_IFNAMSIZ, name)) return e;
        uint32_t port;
        if (int e = get_port(reg, name, PortShape{}, port)) return e;
        slot = reg.port(port).region;
        if (auto r = reg.region(slot)) fill_pools(*r, pi);
        reg.put_port(port);
        return 0;
    }
    if (int e = reg.get_region(pi.nr_mem_id, slot)) return e;
    auto r = reg.region(slot);
    if (r) fill_pools(*r, pi);
    reg.put_region(slot);
    return r ? 0 : ENOMEM;
}

size_t body_size(uint16_t reqtype) {
    switch (reqtype) {
        case NETMAP_REQ_REGISTER: return sizeof(nmreq_register);
        case NETMAP_REQ_PORT_INFO_GET: return sizeof(nmreq_port_info_get);
        case NETMAP_REQ_POOLS_INFO_GET: return sizeof(nmreq_pools_info);
        default: return 0;
    }
}

int extra_request(Descriptor& d, const nmreq_header& h, uint64_t user_hdr, const ExtraRequest& x,
                  OptionChain& opts) {
    if (int e = reject_unsupported(opts)) return e;
    std::string_view name;
    if (h.nr_name[0] != '\0' || x.name_required) {
        if (int e = check_port_name(h.nr_name, sizeof h.nr_name, name)) return e;
    }
    std::vector<unsigned char> body(x.body_size);
    if (int e = copy_in(body.data(), h.nr_body, x.body_size)) return e;
    char name_out[NETMAP_REQ_IFNAMSIZ];
    std::memcpy(name_out, h.nr_name, sizeof name_out);
    if (int e = x.handle(d, name, body.data(), name_out)) return e;
    if (std::memcmp(name_out, h.nr_name, sizeof name_out) != 0)
        if (int e = copy_out(user_hdr + offsetof(nmreq_header, nr_name), name_out, sizeof name_out)) return e;
    return copy_out(h.nr_body, body.data(), x.body_size);
}

}  // namespace

int ctl_request(Descriptor& d, void* user_hdr) {
    nmreq_header h;
    if (int e = copy_in(&h, reinterpret_cast<uint64_t>(user_hdr), sizeof h)) return e;
    if (h.nr_version < NETMAP_MIN_API || h.nr_version > NETMAP_MAX_API) return EINVAL;
    if (h.nr_reserved != 0) return EINVAL;
    if (h.nr_reqtype == 0 || h.nr_reqtype > NETMAP_REQ_CSB_ENABLE) return EINVAL;
    const ExtraRequest* extra = nullptr;
    for (const ExtraRequest& x : extra_requests())
        if (x.reqtype == h.nr_reqtype) extra = &x;
    // Every request has a body, except those that take none (VALE_DELIF).
    if (h.nr_body == 0 && !(extra && extra->body_size == 0)) return EINVAL;
    OptionChain opts;
    if (int e = read_options(h.nr_options, opts)) return e;

    const size_t bsize = body_size(h.nr_reqtype);
    if (bsize == 0) {
        if (extra) return extra_request(d, h, reinterpret_cast<uint64_t>(user_hdr), *extra, opts);
        // Port headers, kloop and CSB requests are not implemented: say so
        // rather than pretend.
        return EOPNOTSUPP;
    }
    alignas(8) unsigned char body[256];
    static_assert(sizeof(nmreq_register) <= sizeof body && sizeof(nmreq_pools_info) <= sizeof body);
    if (int e = copy_in(body, h.nr_body, bsize)) return e;

    std::string_view name;
    int err = 0;
    switch (h.nr_reqtype) {
        case NETMAP_REQ_REGISTER:
            err = check_port_name(h.nr_name, sizeof h.nr_name, name);
            if (!err) err = do_register(d, name, *reinterpret_cast<nmreq_register*>(body), opts);
            break;
        case NETMAP_REQ_PORT_INFO_GET:
            err = check_port_name(h.nr_name, sizeof h.nr_name, name);
            if (!err) err = do_port_info(name, *reinterpret_cast<nmreq_port_info_get*>(body), opts);
            break;
        case NETMAP_REQ_POOLS_INFO_GET:
            if (strnlen(h.nr_name, sizeof h.nr_name) == sizeof h.nr_name) return EINVAL;
            err = do_pools_info(d, h.nr_name, *reinterpret_cast<nmreq_pools_info*>(body), opts);
            break;
    }
    if (err) return err;
    return copy_out(h.nr_body, body, bsize);
}

// ---------------------------------------------------------------------------
// Legacy API (struct nmreq): NIOCREGIF and NIOCGINFO, translated into the
// API 14 requests as netmap's own compatibility layer does.
// ---------------------------------------------------------------------------

namespace {

const ExtraRequest* extra_for(uint16_t reqtype) {
    for (const ExtraRequest& x : extra_requests())
        if (x.reqtype == reqtype) return &x;
    return nullptr;
}

// The legacy nmreq's ring geometry and memory region (nr_arg2) into an
// API 14 body, whose fields bear the same names (nmreq_register,
// nmreq_port_info_get, nmreq_vale_newif), and back.
template <class Body> void geometry_in(const nmreq& q, Body& b) {
    b.nr_tx_slots = q.nr_tx_slots;
    b.nr_rx_slots = q.nr_rx_slots;
    b.nr_tx_rings = q.nr_tx_rings;
    b.nr_rx_rings = q.nr_rx_rings;
    b.nr_mem_id = q.nr_arg2;
}
template <class Body> void geometry_out(const Body& b, nmreq& q) {
    q.nr_tx_slots = b.nr_tx_slots;
    q.nr_rx_slots = b.nr_rx_slots;
    q.nr_tx_rings = b.nr_tx_rings;
    q.nr_rx_rings = b.nr_rx_rings;
    q.nr_arg2 = b.nr_mem_id;
}

// Run a request of extra_requests() on our own copy of its body.  `name`
// comes from the legacy nr_name (already checked); a name it returns
// (VALE_LIST) goes to `name_out`.
int run_extra(Descriptor& d, uint16_t reqtype, std::string_view name, void* body, char* name_out) {
    const ExtraRequest* x = extra_for(reqtype);
    if (!x) return EOPNOTSUPP;
    if (name.empty() && x->name_required) return EINVAL;
    char out[NETMAP_REQ_IFNAMSIZ] = {};
    if (int e = x->handle(d, name, body, out)) return e;
    if (name_out) std::memcpy(name_out, out, sizeof out);
    return 0;
}

// NIOCGINFO with nr_cmd = NETMAP_BDG_LIST.  With a name: that port's
// switch and member indices in nr_arg1/nr_arg2.  Without: the first
// member at or after (nr_arg1, nr_arg2), its indices in nr_arg1/nr_arg2
// and its name in nr_name (cut to IFNAMSIZ - 1), so that a caller
// enumerates by clearing nr_name and incrementing nr_arg2 after each
// answer, until ENOENT.
int legacy_list(Descriptor& d, nmreq& q, std::string_view name) {
    nmreq_vale_list l{};
    l.nr_bridge_idx = q.nr_arg1;
    l.nr_port_idx = q.nr_arg2;
    char out[NETMAP_REQ_IFNAMSIZ];
    if (int e = run_extra(d, NETMAP_REQ_VALE_LIST, name, &l, out)) return e;
    q.nr_arg1 = l.nr_bridge_idx;
    q.nr_arg2 = static_cast<uint16_t>(l.nr_port_idx);
    if (name.empty()) {
        std::memset(q.nr_name, 0, sizeof q.nr_name);
        std::memcpy(q.nr_name, out, strnlen(out, sizeof q.nr_name - 1));
    }
    return 0;
}

// NIOCREGIF with a non-zero nr_cmd: netmap's legacy commands, each
// translated into the NIOCCTRL request that does the same, as netmap's
// netmap_legacy.c does, with the results copied back the same way.
int legacy_command(Descriptor& d, nmreq& q, std::string_view name) {
    switch (q.nr_cmd) {
        case NETMAP_BDG_ATTACH: {
            nmreq_vale_attach a{};
            a.reg.nr_mode = (q.nr_arg1 & NETMAP_BDG_HOST) ? NR_REG_NIC_SW : NR_REG_ALL_NIC;
            geometry_in(q, a.reg);
            return run_extra(d, NETMAP_REQ_VALE_ATTACH, name, &a, nullptr);
        }
        case NETMAP_BDG_DETACH: {
            nmreq_vale_detach x{};
            return run_extra(d, NETMAP_REQ_VALE_DETACH, name, &x, nullptr);
        }
        case NETMAP_BDG_VNET_HDR:
        case NETMAP_VNET_HDR_GET: {
            nmreq_port_hdr h{};
            h.nr_hdr_len = q.nr_arg1;
            const bool set = q.nr_cmd == NETMAP_BDG_VNET_HDR;
            if (int e = run_extra(d, set ? NETMAP_REQ_PORT_HDR_SET : NETMAP_REQ_PORT_HDR_GET, name, &h, nullptr))
                return e;
            q.nr_arg1 = static_cast<uint16_t>(h.nr_hdr_len);
            return 0;
        }
        case NETMAP_BDG_NEWIF: {
            nmreq_vale_newif n{};
            geometry_in(q, n);
            if (int e = run_extra(d, NETMAP_REQ_VALE_NEWIF, name, &n, nullptr)) return e;
            geometry_out(n, q);
            return 0;
        }
        case NETMAP_BDG_DELIF:
            return run_extra(d, NETMAP_REQ_VALE_DELIF, name, nullptr, nullptr);
        case NETMAP_BDG_POLLING_ON:
        case NETMAP_BDG_POLLING_OFF: {
            nmreq_vale_polling p{};
            const uint32_t mode = q.nr_flags & NR_REG_MASK;
            p.nr_mode = mode == NR_REG_ONE_NIC   ? NETMAP_POLLING_MODE_MULTI_CPU
                        : mode == NR_REG_ALL_NIC ? NETMAP_POLLING_MODE_SINGLE_CPU
                                                 : 0;
            p.nr_first_cpu_id = q.nr_ringid & NETMAP_RING_MASK;
            p.nr_num_polling_cpus = q.nr_arg1;
            const bool on = q.nr_cmd == NETMAP_BDG_POLLING_ON;
            return run_extra(d, on ? NETMAP_REQ_VALE_POLLING_ENABLE : NETMAP_REQ_VALE_POLLING_DISABLE, name, &p,
                             nullptr);
        }
        case NETMAP_POOLS_INFO_GET: {
            // nr_arg1..nr_arg3 hold a pointer to a struct netmap_pools_info.
            uint64_t where;
            static_assert(offsetof(nmreq, nr_arg3) + sizeof(uint32_t) - offsetof(nmreq, nr_arg1) == sizeof where);
            std::memcpy(&where, &q.nr_arg1, sizeof where);
            nmreq_pools_info pi{};
            OptionChain none;
            char raw[NETMAP_REQ_IFNAMSIZ] = {};
            name.copy(raw, sizeof raw - 1);  // (memcpy from an empty name's null data() is UB)
            if (int e = do_pools_info(d, raw, pi, none)) return e;
            netmap_pools_info out{};
            out.memsize = pi.nr_memsize;
            out.memid = pi.nr_mem_id;
            out.if_pool_offset = static_cast<uint32_t>(pi.nr_if_pool_offset);
            out.if_pool_objtotal = pi.nr_if_pool_objtotal;
            out.if_pool_objsize = pi.nr_if_pool_objsize;
            out.ring_pool_offset = static_cast<uint32_t>(pi.nr_ring_pool_offset);
            out.ring_pool_objtotal = pi.nr_ring_pool_objtotal;
            out.ring_pool_objsize = pi.nr_ring_pool_objsize;
            out.buf_pool_offset = static_cast<uint32_t>(pi.nr_buf_pool_offset);
            out.buf_pool_objtotal = pi.nr_buf_pool_objtotal;
            out.buf_pool_objsize = pi.nr_buf_pool_objsize;
            return copy_out(where, &out, sizeof out);
        }
        case NETMAP_PT_HOST_CREATE:
        case NETMAP_PT_HOST_DELETE:
            return EOPNOTSUPP;  // ptnetmap: a hypervisor's kernel threads, nothing to emulate
        default:
            // NETMAP_BDG_REGOPS installs kernel callbacks (a kernel module's
            // call, never a user's); it and unknown commands are invalid
            // requests, as in netmap (EINVAL).
            return EINVAL;
    }
}

}  // namespace

int ctl_legacy(Descriptor& d, unsigned long cmd, void* user_req) {
    nmreq q;
    if (int e = copy_in(&q, reinterpret_cast<uint64_t>(user_req), sizeof q)) return e;
    if (q.nr_version < 11 || q.nr_version > NETMAP_MAX_API) return EINVAL;
    std::string_view name;
    if (cmd == NIOCGINFO && q.nr_cmd == NETMAP_BDG_LIST) {
        // Enumeration takes no name; a name must be a proper one.
        if (q.nr_name[0] != '\0')
            if (int e = check_port_name(q.nr_name, sizeof q.nr_name, name)) return e;
        if (int e = legacy_list(d, q, name)) return e;
        return copy_out(reinterpret_cast<uint64_t>(user_req), &q, sizeof q);
    }
    if (cmd == NIOCREGIF && q.nr_cmd != 0) {
        // POOLS_INFO_GET may name no port: the descriptor's own region.
        if (!(q.nr_cmd == NETMAP_POOLS_INFO_GET && q.nr_name[0] == '\0'))
            if (int e = check_port_name(q.nr_name, sizeof q.nr_name, name)) return e;
        if (int e = legacy_command(d, q, name)) return e;
        return copy_out(reinterpret_cast<uint64_t>(user_req), &q, sizeof q);
    }
    if (int e = check_port_name(q.nr_name, sizeof q.nr_name, name)) return e;
    OptionChain none;
    if (cmd == NIOCGINFO) {
        nmreq_port_info_get info{};
        geometry_in(q, info);
        if (int e = do_port_info(name, info, none)) return e;
        q.nr_memsize = static_cast<uint32_t>(info.nr_memsize);
        geometry_out(info, q);
        return copy_out(reinterpret_cast<uint64_t>(user_req), &q, sizeof q);
    }
    // NIOCREGIF
    nmreq_register r{};
    const uint32_t regmode = q.nr_flags & NR_REG_MASK;
    if (regmode != NR_REG_DEFAULT) {
        r.nr_mode = regmode;
        r.nr_ringid = q.nr_ringid & NETMAP_RING_MASK;
    } else if (q.nr_ringid & NETMAP_SW_RING) {
        r.nr_mode = NR_REG_SW;
    } else if (q.nr_ringid & NETMAP_HW_RING) {
        r.nr_mode = NR_REG_ONE_NIC;
        r.nr_ringid = q.nr_ringid & NETMAP_RING_MASK;
    } else {
        r.nr_mode = NR_REG_ALL_NIC;
    }
    r.nr_flags = q.nr_flags & ~static_cast<uint64_t>(NR_REG_MASK);
    if (q.nr_ringid & NETMAP_NO_TX_POLL) r.nr_flags |= NR_NO_TX_POLL;
    if (q.nr_ringid & NETMAP_DO_RX_POLL) r.nr_flags |= NR_DO_RX_POLL;
    geometry_in(q, r);
    r.nr_extra_bufs = q.nr_arg3;
    if (int e = do_register(d, name, r, none)) return e;
    q.nr_offset = static_cast<uint32_t>(r.nr_offset);
    q.nr_memsize = static_cast<uint32_t>(r.nr_memsize);
    geometry_out(r, q);
    q.nr_arg3 = r.nr_extra_bufs;
    return copy_out(reinterpret_cast<uint64_t>(user_req), &q, sizeof q);
}

}  // namespace unetmap
