// NIC ports: "netmap:IFNAME" (all queues), "netmap:IFNAME-N" (queue N),
// netmap's hardware adapters, on a stock kernel.
//
// Two ways to serve one, chosen when the port is created, as netmap's
// `admode` chooses between native and generic adapters:
//   native    AF_XDP (nic_xdp.cpp): the region's buffer pool is the UMEM,
//             frames land in netmap buffers and leave from them with no
//             copy in userspace; an XDP program of ours steers the bound
//             queues' traffic to the sockets, away from the host stack;
//   emulated  AF_PACKET (nic_packet.cpp): a TPACKET_V3 receive ring copied
//             into the netmap buffers, batched sends with qdisc bypass;
//             the host stack keeps seeing received frames (as a tap).
// admode 0 (best) tries native and falls back to emulated; 1 and 2 force
// one.  It comes from UNETMAP_ADMODE / the config file's `admode`, and per
// interface from UNETMAP_ADMODE_<IFNAME> (non-alphanumerics as '_').
//
// The port is created at the first registration (ring pairs = the
// interface's channels, at most kMaxRings; slots from nr_*_slots, default
// 1024), in the global region unless nr_mem_id names another: all NIC
// ports of a process then share buffers, so a bridge between two NICs
// swaps buffers.  Each process binding rings opens its own sockets for
// them (LocalBinding below); the port goes away with its last binding.
//
// Every NIC port has host rings after its NIC rings, as netmap's hardware
// adapters do: one pair unless the registration that creates the port asks
// for more (nr_host_tx_rings/nr_host_rx_rings, libnetmap's
// "@conf:host-rings=N"; later registrations get the port's count back, as
// in netmap).  "netmap:IF^" binds them all, "netmap:IF^N" pair N,
// "netmap:IF*" the NIC and host rings (nic_host.cpp).  The process binding
// the host rings serves them.
#include "ports/nic.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <linux/capability.h>
#include <map>
#include <mutex>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

#include "core/diag.h"
#include "core/port_type.h"
#include "core/registry.h"
#include "core/syscalls.h"
#include "ports/slot_check.h"

namespace unetmap {

namespace nic {

const char* mode_name(Mode m) { return m == Mode::Native ? "native (AF_XDP)" : "emulated (AF_PACKET)"; }

uint32_t max_frame(Mode m, uint32_t buf_size) {
    return m == Mode::Native ? (buf_size > kXdpHeadroom ? buf_size - kXdpHeadroom : 0) : buf_size;
}

}  // namespace nic

namespace {

using nic::Mode;
using nic::NicQueue;

constexpr uint32_t kModeShift = 8;  // PortEntry::flags bits 8..9: the Mode

Mode port_mode(const PortEntry& p) { return static_cast<Mode>((p.flags >> kModeShift) & 3u); }

// UNETMAP_ADMODE_<IFNAME>, else the global admode.
uint32_t admode_for(std::string_view ifname) {
    std::string var = "UNETMAP_ADMODE_";
    for (char c : ifname) var.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
    if (const char* v = std::getenv(var.c_str()); v && *v) {
        if (v[0] >= '0' && v[0] <= '2' && v[1] == 0) return static_cast<uint32_t>(v[0] - '0');
        std::fprintf(stderr, "unetmap: %s='%s' must be 0, 1 or 2; using the global admode\n",
                     var.c_str(), v);
    }
    return RegionConfig::from_env().admode;
}

// Interface names as the kernel receives them: no ':' (VALE, null), no
// '{' '}' (pipes, matched earlier), not "null".
bool nic_match(std::string_view name) {
    return !name.empty() && name.size() < IFNAMSIZ && name.find_first_of(":{}") == std::string_view::npos &&
           name != "null";
}

// UNETMAP_NIC_NETNS_ONLY=1 (set by our tests, fuzzers and benchmarks):
// NIC ports only inside a named network namespace (`ip netns add`, which
// pins it at /run/netns/NAME), so that nothing they do can reach the
// machine's own interfaces.  (/proc/1/ns/net, the obvious reference, may
// be unreadable even to root in a sandbox.)
bool nic_allowed_here() {
    const char* v = std::getenv("UNETMAP_NIC_NETNS_ONLY");
    if (!v || !*v || std::strcmp(v, "0") == 0) return true;
    struct stat mine{};
    if (::stat("/proc/thread-self/ns/net", &mine) != 0) return false;
    DIR* d = ::opendir("/run/netns");
    if (!d) return false;
    bool named = false;
    while (const dirent* e = ::readdir(d)) {
        struct stat ns{};
        const std::string path = std::string("/run/netns/") + e->d_name;
        if (e->d_name[0] != '.' && ::stat(path.c_str(), &ns) == 0 && ns.st_ino == mine.st_ino &&
            ns.st_dev == mine.st_dev)
            named = true;
    }
    ::closedir(d);
    return named;
}

int nic_create(Registry& reg, std::string_view name, const PortShape& shape, uint32_t& out) {
    nic::Facts f;
    if (int e = nic::read_facts(name, f)) return e;  // no such interface: nothing to protect
    if (!nic_allowed_here()) {
        std::fprintf(stderr, "unetmap: NIC port '%.*s' refused: UNETMAP_NIC_NETNS_ONLY is set and this is "
                             "not a namespace of /run/netns\n", static_cast<int>(name.size()), name.data());
        return EPERM;
    }
    if (!f.up) return ENETDOWN;
    static DiagRate no_carrier;
    if (!f.carrier && diag_allowed(no_carrier))  // netmap binds it too; say why nothing will flow
        diag_print("%.*s is up but has no carrier: nothing will pass until its link comes up",
                   static_cast<int>(name.size()), name.data());
    uint32_t region;
    if (int e = reg.get_region(shape.mem_id, region)) return e;
    auto r = reg.region(region);
    const uint32_t buf_size = r ? r->buf_size() : 0;
    r.reset();

    // Native needs AF_XDP's frame geometry (chunks of 2 KiB to a page,
    // frames that fit a buffer after the headroom); otherwise emulated.
    const uint32_t admode = admode_for(name);
    const uint32_t frame = f.mtu + 18;  // Ethernet header and one VLAN tag
    const bool native_ok = buf_size >= 2048 && buf_size <= 4096 && frame <= nic::max_frame(Mode::Native, buf_size);
    Mode mode;
    if (admode == 2) mode = Mode::Emulated;
    else if (native_ok) mode = Mode::Native;
    else if (admode == 1) {
        reg.put_region(region);
        return EOPNOTSUPP;  // native only, and this MTU or buffer size cannot be native
    } else mode = Mode::Emulated;
    if (mode == Mode::Emulated && nic::slots_for(frame, buf_size) > nic::kMaxChainSlots) {
        reg.put_region(region);
        return EMSGSIZE;  // longer chains than we build (emulated frames beyond a buffer are chained)
    }

    const uint32_t q = mode == Mode::Emulated ? 1u : std::min(f.queues, kMaxRings);
    const uint32_t nrings[2] = {q, q};
    auto slots = [](uint32_t s) { return std::min(s ? s : kDefaultSlots, 4096u); };
    const uint32_t nslots[2] = {slots(shape.tx_slots), slots(shape.rx_slots)};
    const bool fill[2] = {true, true};
    const uint32_t nhost[2] = {shape.host_tx_rings ? shape.host_tx_rings : 1u,
                               shape.host_rx_rings ? shape.host_rx_rings : 1u};
    int e = reg.new_port(name, PortKind::Nic, region, nrings, nslots, fill, out, nhost);
    reg.put_region(region);
    if (e) return e;
    PortEntry& p = reg.port(out);
    p.flags |= static_cast<uint32_t>(mode) << kModeShift;
    p.peer = f.ifindex;  // NIC ports have no peer: keep the ifindex there
    return 0;
}

void nic_destroy(Registry& reg, uint32_t port) {
    const uint32_t p[1] = {port};
    reg.free_ports(p);
}

// ---------------------------------------------------------------------------
// This process's sockets
// ---------------------------------------------------------------------------

struct QueueKey {
    uint32_t port, gen, queue;
    auto operator<=>(const QueueKey&) const = default;
};

// Open queues of this process, so that descriptors binding the same queue
// share its socket.  Entries expire with their last holder.
struct OpenQueues {
    std::mutex mu;
    std::map<QueueKey, std::weak_ptr<NicQueue>> by_key;
};
OpenQueues& open_queues() {
    static auto* q = new OpenQueues();  // never destroyed: used from atexit handlers
    return *q;
}

class NicBinding final : public LocalBinding {
public:
    // Raw system calls: this epoll set is ours, not the application's, and
    // the interposed epoll_ctl would take the descriptor socket we add for
    // one of the application's netmap descriptors.
    NicBinding() : epfd_(sys::epoll_create1(EPOLL_CLOEXEC)) {}
    ~NicBinding() override {
        if (epfd_ >= 0) sys::close(epfd_);
    }
    NicBinding(const NicBinding&) = delete;
    NicBinding& operator=(const NicBinding&) = delete;

    [[nodiscard]] int wait_fd() const override { return epfd_; }
    [[nodiscard]] bool ok() const { return epfd_ >= 0; }
    /// Watches `fd` (the descriptor's own socket, which peers write
    /// wakeups to) for as long as the binding lives.
    int watch(int fd) { return add(fd); }

    // A socket with a waiter calls it back for every frame it frees
    // (sock_wfree -> write_space, under the wait queue's lock with
    // interrupts off): at full rate a third of a sender's time.  So the
    // queues' sockets join the set only when somebody sleeps, and a
    // descriptor that has only ever slept for output (a sender) takes them
    // out again when it wakes.  One that sleeps for input keeps them: a
    // receiver's wakeups come once per batch of frames anyway, and taking
    // the sockets out and in again would add two system calls per socket
    // to each of its sleeps.  Adding a socket
    // that is already readable makes the set readable, so nothing that
    // arrived before arm() is missed.  Counted, for threads sharing one
    // descriptor.
    void arm(bool for_input) override {
        std::lock_guard lk(arm_mu_);
        sticky_ = sticky_ || for_input;
        if (armers_++ > 0 || watching_) return;
        for (const auto& q : queues_)
            if (q) add(q->fd());
        watching_ = true;
    }
    void disarm() override {
        std::lock_guard lk(arm_mu_);
        if (armers_ == 0 || --armers_ > 0 || sticky_ || !watching_) return;
        for (const auto& q : queues_)
            if (q) sys::epoll_ctl(epfd_, EPOLL_CTL_DEL, q->fd(), nullptr);
        watching_ = false;
    }

    NicQueue* queue(uint32_t i) const { return i < kMaxRingsAll ? queues_[i].get() : nullptr; }
    void set_queue(uint32_t i, std::shared_ptr<NicQueue> q) { queues_[i] = std::move(q); }

private:
    int add(int fd) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        return sys::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : errno;
    }

    int epfd_;
    std::array<std::shared_ptr<NicQueue>, kMaxRingsAll> queues_{};  // ring pair i; the host pairs last
    std::mutex arm_mu_;
    uint32_t armers_ = 0;
    bool watching_ = false;  // the queues' sockets are in the set
    bool sticky_ = false;    // and stay there: this descriptor sleeps for input
};

// ---------------------------------------------------------------------------
// Privileges (docs/NIC.md, "Privileges")
// ---------------------------------------------------------------------------

#ifndef CAP_BPF
#define CAP_BPF 39  // Linux 5.8; older headers lack it
#endif

// The calling thread's effective capability sets, as capget(2) gives
// them (no libcap).
bool has_cap(const __user_cap_data_struct (&eff)[2], int cap) {
    return (eff[cap / 32].effective >> (cap % 32)) & 1u;
}

// A queue's sockets or programs could not be opened for lack of
// privilege (EPERM, EACCES; ENOBUFS from a UMEM beyond RLIMIT_MEMLOCK):
// say which capabilities this kind of queue needs and which of them the
// process lacks, and give EPERM as docs/NIC.md promises.  Any other error
// is returned as it is.
int privilege_error(int e, std::string_view ifname, bool host, Mode mode, uint64_t umem_bytes) {
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2]{};
    if (::syscall(SYS_capget, &hdr, data) != 0) return e;
    const bool native = !host && mode == Mode::Native;
    rlimit ml{};
    const bool memlock_ok = ::getrlimit(RLIMIT_MEMLOCK, &ml) == 0 &&
                            (ml.rlim_cur == RLIM_INFINITY || ml.rlim_cur >= umem_bytes);
    const bool lock_short = native && !has_cap(data, CAP_IPC_LOCK) && !memlock_ok;
    if (!(e == EPERM || e == EACCES || (e == ENOBUFS && lock_short))) return e;
    struct Need {
        int cap;
        const char* name;
    };
    std::vector<Need> needs = {{CAP_NET_RAW, "CAP_NET_RAW"}};
    if (host || native) needs.insert(needs.end(), {{CAP_BPF, "CAP_BPF"}, {CAP_NET_ADMIN, "CAP_NET_ADMIN"}});
    std::string need_s, missing_s;
    for (const Need& n : needs) {
        need_s.append(need_s.empty() ? "" : ", ").append(n.name);
        const bool held = has_cap(data, n.cap) || (n.cap == CAP_BPF && has_cap(data, CAP_SYS_ADMIN));
        if (!held) missing_s.append(missing_s.empty() ? "" : ", ").append(n.name);
    }
    char memlock[96] = "";
    if (native) {
        std::snprintf(memlock, sizeof memlock, ", and CAP_IPC_LOCK or RLIMIT_MEMLOCK >= %llu KiB",
                      static_cast<unsigned long long>(umem_bytes >> 10));
        if (lock_short) missing_s.append(missing_s.empty() ? "" : ", ").append("CAP_IPC_LOCK (or RLIMIT_MEMLOCK)");
    }
    const char* what = host ? "host rings" : native ? "native mode" : "emulated mode";
    diag_print("netmap:%.*s%s (%s): %s: needs %s%s; missing %s (docs/NIC.md, Privileges)",
               static_cast<int>(ifname.size()), ifname.data(), host ? "^" : "", what, std::strerror(e),
               need_s.c_str(), memlock, missing_s.empty() ? "none: refused for another reason" : missing_s.c_str());
    return EPERM;
}

int nic_open_local(Registry& reg, uint32_t port, const RingSpan& rings, int fd,
                   std::shared_ptr<LocalBinding>& out) {
    PortEntry& p = reg.port(port);
    auto b = std::make_shared<NicBinding>();
    if (!b->ok()) return errno;
    if (int e = b->watch(fd)) return e;  // wakeups from peers, as for every descriptor
    const uint32_t first = std::min(rings.first[kTx], rings.first[kRx]);
    const uint32_t last = std::max(rings.last[kTx], rings.last[kRx]);
    const RegionEntry& re = reg.hdr().regions[p.region];
    OpenQueues& oq = open_queues();
    std::lock_guard lk(oq.mu);
    // Ring pair i < host is queue i, then the host pairs (NIC ports have as
    // many TX as RX NIC rings; host TX and RX counts may differ).
    const uint32_t host = p.nrings[kRx];
    const uint32_t end = host + std::max(p.nhost[kTx], p.nhost[kRx]);
    for (uint32_t i = first; i < last && i < end; i++) {
        const bool bound = (i >= rings.first[kTx] && i < rings.last[kTx]) ||
                           (i >= rings.first[kRx] && i < rings.last[kRx]);
        if (!bound) continue;
        const QueueKey key{port, p.gen, i};
        std::shared_ptr<NicQueue> q;
        if (auto it = oq.by_key.find(key); it != oq.by_key.end()) q = it->second.lock();
        if (!q) {
            nic::QueueSpec spec;
            spec.ifname = p.name;
            spec.ifindex = p.peer;
            spec.queue = i;
            spec.nqueues = p.nrings[kRx];
            spec.region_slot = p.region;
            spec.region_gen = re.gen;
            spec.region = reg.region(p.region);
            if (!spec.region) return ENOMEM;
            spec.rx = i < p.total_rings(kRx) ? &p.kring[kRx][i] : nullptr;
            spec.rx_ring = spec.rx ? spec.region->at<netmap_ring>(spec.rx->ring_ofs) : nullptr;
            spec.tx_slots = p.nslots[kTx];
            spec.host_index = i >= host ? i - host : 0;
            spec.host_rx_rings = p.nhost[kRx];
            spec.port = port;
            spec.port_gen = p.gen;
            std::unique_ptr<NicQueue> made;
            const int e = i >= host                   ? nic::open_host_queue(spec, made)
                          : port_mode(p) == Mode::Native ? nic::open_xdp_queue(spec, made)
                                                         : nic::open_packet_queue(spec, made);
            if (e) {
                const uint64_t umem = static_cast<uint64_t>(spec.region->buf_total()) * spec.region->buf_size();
                return privilege_error(e, p.name, i == host, port_mode(p), umem);
            }
            q = std::shared_ptr<NicQueue>(std::move(made));
            oq.by_key[key] = q;
        }
        b->set_queue(i, std::move(q));
    }
    for (auto it = oq.by_key.begin(); it != oq.by_key.end();)  // forget expired entries
        it = it->second.expired() ? oq.by_key.erase(it) : std::next(it);
    out = std::move(b);
    return 0;
}

NicQueue* queue_of(SyncContext& cx, const KRing& k) {
    auto* b = static_cast<NicBinding*>(cx.local);
    return b ? b->queue(k.ring_id) : nullptr;
}

int nic_txsync(SyncContext& cx, KRing& k) {
    NicQueue* q = queue_of(cx, k);
    if (!q) return ENXIO;  // a descriptor adopted by a process without the socket
    return q->txsync(cx.region, k, cx.region.at<netmap_ring>(k.ring_ofs));
}

int nic_rxsync(SyncContext& cx, KRing& k) {
    NicQueue* q = queue_of(cx, k);
    if (!q) return ENXIO;
    return q->rxsync(cx.region, k, cx.region.at<netmap_ring>(k.ring_ofs));
}

}  // namespace

extern const PortType nic_port_type = {
    "nic", nic_match, nic_create, nic_destroy, nic_txsync, nic_rxsync, nic_open_local,
};

}  // namespace unetmap
