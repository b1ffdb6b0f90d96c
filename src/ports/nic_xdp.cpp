// Native NIC queues: AF_XDP sockets whose UMEM is the region's buffer pool.
//
// UMEM.  The whole buffer pool of the region (page-aligned, buf_num x
// buf_size) is registered once per process and region, in unaligned-chunk
// mode.  AF_XDP puts a received frame XDP_PACKET_HEADROOM (256) bytes after
// the chunk address it took from the fill ring, while netmap applications
// expect the frame at the start of the buffer: so buffer `i` is posted as
// the chunk starting 256 bytes before it, `i * buf_size - 256`, and the frame
// lands exactly at buffer i.  The kernel never writes the headroom in copy
// mode, nor does a zero-copy driver's DMA (our XDP program does not move the
// packet start), so the previous buffer's last 256 bytes are not touched;
// frames are limited to buf_size - 256 bytes (1792 with 2 KiB buffers).
// Receive descriptors come back as chunk | (offset << 48); we check the
// result is the start of a valid buffer.  Transmit descriptors are simply
// `i * buf_size`, length `len`.
//
// Ring discipline (one socket per queue, one sync at a time per kring):
//   RX  free slots [hwtail, hwcur - 1) are posted to the fill ring; rxsync
//       first posts the slots the user released ([hwcur, head), buffers the
//       user swapped in included, after validation), then fills slots from
//       hwtail with the RX descriptors, up to the free count;
//   TX  txsync validates [hwcur, head) and queues them on the TX ring,
//       kicks the kernel (sendto) and reaps the completion ring; slots
//       stay in flight until completed: hwtail = hwcur - 1 - in_flight.
//
// Steering.  Our own XDP program (five instructions, loaded with libbpf,
// no compiler needed) redirects a frame to the XSKMAP entry of its receive
// queue, or lets it pass to the host stack when the queue is not bound.
// It is attached through a BPF link, which the kernel detaches when the
// last descriptor of the link closes: at close, at exit, or when the
// process is killed, the interface returns to normal with no program left.
// Only one process at a time can attach a program to an interface, so the
// queues of one NIC port are bound from one process (several descriptors
// of it may share them); another process gets EBUSY.
#include <bpf/bpf.h>
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstring>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <map>
#include <memory>
#include <mutex>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "ports/nic.h"

namespace unetmap::nic {

namespace {

constexpr uint64_t kHeadroom = kXdpHeadroom;
constexpr uint32_t kUmemRing = 4096;  // fill/completion ring entries (NIC rings: at most 4096 slots)

int quiet_libxdp(enum libxdp_print_level, const char*, va_list) { return 0; }

// --- per process and interface: the XDP program and its queue map ----------

class XdpSteering {
public:
    static int open(unsigned ifindex, uint32_t nqueues, std::shared_ptr<XdpSteering>& out);
    ~XdpSteering() {
        if (link_fd_ >= 0) ::close(link_fd_);  // detaches the program
        if (prog_fd_ >= 0) ::close(prog_fd_);
        if (map_fd_ >= 0) ::close(map_fd_);
    }
    [[nodiscard]] int map_fd() const { return map_fd_; }

private:
    int map_fd_ = -1, prog_fd_ = -1, link_fd_ = -1;
};

int XdpSteering::open(unsigned ifindex, uint32_t nqueues, std::shared_ptr<XdpSteering>& out) {
    auto s = std::make_shared<XdpSteering>();
    s->map_fd_ = bpf_map_create(BPF_MAP_TYPE_XSKMAP, "unetmap_xsks", sizeof(uint32_t), sizeof(uint32_t),
                                std::max(nqueues, 1u), nullptr);
    if (s->map_fd_ < 0) return errno == EINVAL ? EOPNOTSUPP : errno;
    // r2 = ctx->rx_queue_index; r1 = map; r3 = XDP_PASS (default action
    // when the queue has no socket); return bpf_redirect_map(r1, r2, r3).
    const bpf_insn prog[] = {
        {BPF_LDX | BPF_W | BPF_MEM, 2, 1, static_cast<int16_t>(offsetof(xdp_md, rx_queue_index)), 0},
        {BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, s->map_fd_},
        {0, 0, 0, 0, 0},
        {BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, XDP_PASS},
        {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_redirect_map},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    s->prog_fd_ = bpf_prog_load(BPF_PROG_TYPE_XDP, "unetmap_steer", "Dual BSD/GPL", prog,
                                sizeof prog / sizeof prog[0], nullptr);
    if (s->prog_fd_ < 0) return errno;
    // Driver mode where the driver has XDP, generic (skb) mode otherwise.
    for (uint32_t mode : {static_cast<uint32_t>(XDP_FLAGS_DRV_MODE), static_cast<uint32_t>(XDP_FLAGS_SKB_MODE)}) {
        bpf_link_create_opts opts{};
        opts.sz = sizeof opts;
        opts.flags = mode;
        s->link_fd_ = bpf_link_create(s->prog_fd_, static_cast<int>(ifindex), BPF_XDP, &opts);
        if (s->link_fd_ >= 0) break;
        if (errno == EBUSY || errno == EEXIST) return EBUSY;  // another XDP program is attached
    }
    if (s->link_fd_ < 0) return errno;
    out = std::move(s);
    return 0;
}

// --- per process and region: the UMEM -------------------------------------

class Umem {
public:
    static int open(const QueueSpec& spec, std::shared_ptr<Umem>& out);
    ~Umem() {
        if (umem_) xsk_umem__delete(umem_);
    }
    xsk_umem* get() { return umem_; }
    xsk_ring_prod fill0{};  // the rings made with the UMEM, taken over by its first socket
    xsk_ring_cons comp0{};

private:
    xsk_umem* umem_ = nullptr;
    std::shared_ptr<Region> region_;  // the mapping must outlive the registration
};

int Umem::open(const QueueSpec& spec, std::shared_ptr<Umem>& out) {
    auto u = std::make_shared<Umem>();
    u->region_ = spec.region;
    Region& r = *spec.region;
    const uint64_t pool_ofs = r.obj_offset(Pool::Buf, 0);
    xsk_umem_config cfg{};
    cfg.fill_size = kUmemRing;
    cfg.comp_size = kUmemRing;
    cfg.frame_size = r.buf_size();
    cfg.frame_headroom = 0;
    cfg.flags = XDP_UMEM_UNALIGNED_CHUNK_FLAG;
    // The buffer pool is pinned: lift the memlock limit if we may (root).
    rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
    (void)::setrlimit(RLIMIT_MEMLOCK, &unlimited);
    const int e = xsk_umem__create(&u->umem_, r.base() + pool_ofs,
                                   static_cast<uint64_t>(r.buf_total()) * r.buf_size(), &u->fill0,
                                   &u->comp0, &cfg);
    if (e) {
        u->umem_ = nullptr;
        return -e;
    }
    out = std::move(u);
    return 0;
}

struct Shared {
    std::mutex mu;
    std::map<unsigned, std::weak_ptr<XdpSteering>> steering;              // by ifindex
    std::map<std::pair<uint32_t, uint32_t>, std::weak_ptr<Umem>> umems;  // by region slot, gen
};
Shared& shared() {
    static auto* s = new Shared();
    return *s;
}

// --- one queue ---------------------------------------------------------------

class XdpQueue final : public NicQueue {
public:
    ~XdpQueue() override {
        if (!xsk_) return;
        // Unsteer the queue first (the UMEM's first socket stays open until
        // the UMEM goes), then the socket, before the UMEM and the program.
        (void)bpf_map_delete_elem(steering_->map_fd(), &queue_);
        xsk_socket__delete(xsk_);
    }
    [[nodiscard]] int fd() const override { return xsk_socket__fd(xsk_); }
    [[nodiscard]] const char* how() const override { return zerocopy_ ? "AF_XDP zero-copy" : "AF_XDP copy"; }
    int txsync(Region& region, KRing& k, netmap_ring* ring) override;
    int rxsync(Region& region, KRing& k, netmap_ring* ring) override;

    static int open(const QueueSpec& spec, std::unique_ptr<NicQueue>& out);

private:
    void post_fill(const uint32_t* idx, uint32_t n, uint32_t buf_size);
    void reap_completions();
    void kick_tx();

    xsk_socket* xsk_ = nullptr;
    xsk_ring_cons rx_{};
    xsk_ring_prod tx_{};
    xsk_ring_prod fill_{};
    xsk_ring_cons comp_{};
    uint32_t in_flight_ = 0;  // TX descriptors not completed yet
    uint32_t queue_ = 0;
    bool zerocopy_ = false;
    std::shared_ptr<Umem> umem_;
    std::shared_ptr<XdpSteering> steering_;
};

int XdpQueue::open(const QueueSpec& spec, std::unique_ptr<NicQueue>& out) {
    auto q = std::make_unique<XdpQueue>();
    q->queue_ = spec.queue;
    Shared& sh = shared();
    std::lock_guard lk(sh.mu);
    auto& st = sh.steering[spec.ifindex];
    q->steering_ = st.lock();
    if (!q->steering_) {
        if (int e = XdpSteering::open(spec.ifindex, spec.nqueues, q->steering_)) return e;
        st = q->steering_;
    }
    auto& um = sh.umems[{spec.region_slot, spec.region_gen}];
    q->umem_ = um.lock();
    const bool fresh = !q->umem_;
    if (fresh)
        if (int e = Umem::open(spec, q->umem_)) return e;

    const libxdp_print_fn_t old = libxdp_set_print(quiet_libxdp);
    auto bind = [&](uint16_t how) {
        xsk_socket_config cfg{};
        cfg.rx_size = std::bit_ceil(std::max(spec.rx->num_slots, 64u));
        cfg.tx_size = std::bit_ceil(std::max(spec.tx_slots, 64u));
        cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
        cfg.bind_flags = static_cast<uint16_t>(how | XDP_USE_NEED_WAKEUP);
        const int r = -xsk_socket__create_shared(&q->xsk_, spec.ifname.c_str(), spec.queue, q->umem_->get(),
                                                 &q->rx_, &q->tx_, &q->fill_, &q->comp_, &cfg);
        if (r) q->xsk_ = nullptr;
        return r;
    };
    // Zero-copy where the driver has it, copy otherwise (veth, most virtual
    // devices).  Only the UMEM's first socket chooses (the others share its
    // mode), and a failed bind leaves that UMEM's fill and completion rings
    // unusable: so try zero-copy only on a fresh UMEM, and make another one
    // for the copy bind.
    int e = fresh ? bind(XDP_ZEROCOPY) : bind(XDP_COPY);
    if (e && fresh && e != EBUSY) {
        q->umem_.reset();
        e = Umem::open(spec, q->umem_);
        if (!e) e = bind(XDP_COPY);
    }
    libxdp_set_print(old);
    if (e) return e == ENOPROTOOPT || e == EAFNOSUPPORT ? EOPNOTSUPP : e;
    um = q->umem_;
    xdp_options opt{};
    socklen_t optlen = sizeof opt;
    q->zerocopy_ = ::getsockopt(q->fd(), SOL_XDP, XDP_OPTIONS, &opt, &optlen) == 0 &&
                   (opt.flags & XDP_OPTIONS_ZEROCOPY);
    if (xsk_socket__update_xskmap(q->xsk_, q->steering_->map_fd()) != 0) return errno ? errno : EIO;
    // Every free RX slot's buffer goes to the kernel, ready to receive.
    Region& r = *spec.region;
    std::vector<uint32_t> idx;
    idx.reserve(spec.rx->num_slots);
    for_each_free_rx_buffer(r, *spec.rx, spec.rx_ring, [&](uint32_t i) { idx.push_back(i); });
    q->post_fill(idx.data(), static_cast<uint32_t>(idx.size()), r.buf_size());
    out = std::move(q);
    return 0;
}

void XdpQueue::post_fill(const uint32_t* idx, uint32_t n, uint32_t buf_size) {
    if (n == 0) return;
    uint32_t pos;
    // The fill ring (kUmemRing) is larger than any RX ring, and the kernel
    // holds at most num_slots - 1 of our buffers: it cannot be short of room.
    const uint32_t got = xsk_ring_prod__reserve(&fill_, std::min(n, xsk_prod_nb_free(&fill_, n)), &pos);
    for (uint32_t i = 0; i < got; i++)
        *xsk_ring_prod__fill_addr(&fill_, pos + i) = static_cast<uint64_t>(idx[i]) * buf_size - kHeadroom;
    xsk_ring_prod__submit(&fill_, got);
    if (xsk_ring_prod__needs_wakeup(&fill_)) (void)::recvfrom(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
}

int XdpQueue::rxsync(Region& region, KRing& k, netmap_ring* ring) {
    const uint32_t n = k.num_slots, head = k.rhead, bsz = region.buf_size();
    const uint32_t mtu_max = static_cast<uint32_t>(bsz - kHeadroom);
    // 1. Slots the user released go back to the kernel.
    uint32_t released[256];
    uint32_t nrel = 0;
    uint32_t j = k.hwcur.load(std::memory_order_relaxed);
    for (; j != head; j = ring_next(j, n)) {
        netmap_slot& s = ring->slot[j];
        const uint32_t idx = s.buf_idx;  // read once
        if (!region.valid_buf(idx)) return EINVAL;
        s.flags &= static_cast<uint16_t>(~NS_BUF_CHANGED);
        released[nrel++] = idx;
        if (nrel == sizeof released / sizeof released[0]) {
            post_fill(released, nrel, bsz);
            nrel = 0;
        }
    }
    post_fill(released, nrel, bsz);
    k.hwcur.store(head, std::memory_order_relaxed);

    // 2. Received frames fill the free slots from hwtail.
    uint32_t tail = k.hwtail.load(std::memory_order_relaxed);
    const uint32_t room = ring_dist(tail, head == 0 ? n - 1 : head - 1, n);
    uint32_t pos;
    const uint32_t got = xsk_ring_cons__peek(&rx_, room, &pos);
    uint64_t bytes = 0, bad = 0;
    for (uint32_t i = 0; i < got; i++) {
        const xdp_desc* d = xsk_ring_cons__rx_desc(&rx_, pos + i);
        const uint64_t at = xsk_umem__add_offset_to_addr(d->addr);
        const uint64_t idx = at / bsz;
        netmap_slot& s = ring->slot[tail];
        if (at % bsz != 0 || idx >= region.buf_total() || idx < 2 || d->len > mtu_max) {
            // Not where we put it: should not happen; drop it, and keep the
            // slot's buffer count right by reusing the slot for the next.
            bad++;
            continue;
        }
        s.buf_idx = static_cast<uint32_t>(idx);
        s.len = static_cast<uint16_t>(d->len);
        s.flags = 0;
        bytes += d->len;
        tail = ring_next(tail, n);
    }
    xsk_ring_cons__release(&rx_, got);
    k.hwtail.store(tail, std::memory_order_release);
    k.packets.fetch_add(got - bad, std::memory_order_relaxed);
    k.bytes.fetch_add(bytes, std::memory_order_relaxed);
    if (bad) k.drops.fetch_add(bad, std::memory_order_relaxed);
    return 0;
}

void XdpQueue::reap_completions() {
    uint32_t pos;
    const uint32_t done = xsk_ring_cons__peek(&comp_, in_flight_, &pos);
    if (done) {
        xsk_ring_cons__release(&comp_, done);
        in_flight_ -= done;
    }
}

void XdpQueue::kick_tx() {
    // Copy mode sends during sendto, a bounded batch per call (EAGAIN:
    // more to do); zero-copy drivers only need a kick when they ask.
    if (zerocopy_ && !xsk_ring_prod__needs_wakeup(&tx_)) return;
    for (int tries = 0; tries < 256 && in_flight_ > 0; tries++) {
        const ssize_t r = ::sendto(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0);
        reap_completions();
        if (r >= 0 || (errno != EAGAIN && errno != EBUSY) || zerocopy_) break;
    }
}

int XdpQueue::txsync(Region& region, KRing& k, netmap_ring* ring) {
    const uint32_t n = k.num_slots, head = k.rhead, bsz = region.buf_size();
    const uint32_t mtu_max = static_cast<uint32_t>(bsz - kHeadroom);
    reap_completions();
    uint32_t cur = k.hwcur.load(std::memory_order_relaxed);
    const uint32_t want = ring_dist(cur, head, n);
    uint32_t pos = 0;
    const uint32_t got = want ? xsk_ring_prod__reserve(&tx_, std::min(want, xsk_prod_nb_free(&tx_, want)), &pos) : 0;
    uint64_t bytes = 0;
    int err = 0;
    uint32_t queued = 0;
    for (; queued < got; queued++, cur = ring_next(cur, n)) {
        netmap_slot& s = ring->slot[cur];
        const uint32_t idx = s.buf_idx, len = s.len;  // read once
        if (!region.valid_buf(idx) || len > mtu_max || len == 0 || (s.flags & NS_MOREFRAG)) {
            err = EINVAL;  // stop here; what was queued before still goes
            break;
        }
        xdp_desc* d = xsk_ring_prod__tx_desc(&tx_, pos + queued);
        d->addr = static_cast<uint64_t>(idx) * bsz;
        d->len = len;
        d->options = 0;
        s.flags &= static_cast<uint16_t>(~NS_BUF_CHANGED);
        bytes += len;
    }
    if (queued < got) {
        // Give back the reserved entries we did not fill.  The producer
        // index is ours only, so stepping it back is safe before submit.
        tx_.cached_prod -= got - queued;
    }
    xsk_ring_prod__submit(&tx_, queued);
    in_flight_ += queued;
    k.hwcur.store(cur, std::memory_order_relaxed);
    k.packets.fetch_add(queued, std::memory_order_relaxed);
    k.bytes.fetch_add(bytes, std::memory_order_relaxed);
    if (in_flight_) kick_tx();
    // Slots stay ours until the kernel completed them (one slot always empty).
    const uint32_t back = in_flight_ + 1;
    k.hwtail.store((cur + n - (back % n)) % n, std::memory_order_relaxed);
    return err;
}

}  // namespace

int open_xdp_queue(const QueueSpec& spec, std::unique_ptr<NicQueue>& out) {
    return XdpQueue::open(spec, out);
}

}  // namespace unetmap::nic
