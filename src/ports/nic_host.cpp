// Host rings of NIC ports ("netmap:IF^", and "netmap:IF*" with the NIC
// rings): netmap's link between an interface and the host network stack.
// While they are bound, what the host stack sends out through IF arrives
// on the host RX ring instead of the wire, and what the application puts
// on the host TX ring reaches the host stack as if IF had received it.
// `bridge -i netmap:IF -i netmap:IF^` is then a transparent in-line tap.
//
// netmap does this inside the driver.  On a stock kernel (nic_bpf.h):
//
// host RX  a tcx egress program copies every frame the stack sends into a
//          BPF ring buffer and drops it (with several host RX rings, one
//          ring buffer each, chosen by the frame's flow hash, so that a
//          flow stays on one ring); rxsync copies records from there
//          into the host RX ring's free slots (NS_MOREFRAG chains beyond
//          one buffer).  We read the ring buffer ourselves (its layout is
//          kernel ABI) rather than with libbpf's ring_buffer__consume,
//          which drops the record its callback cannot take: a full host
//          RX ring leaves records waiting, as netmap leaves them queued.
//          Frames longer than the MTU (GSO super-frames: turn GSO/TSO off,
//          as netmap asks) are dropped and counted.  What the driver would
//          have done to a frame before the wire we do here: a VLAN tag kept
//          beside the bytes goes back in, and a TCP/UDP checksum left for
//          the device is completed (partial_csum.h).
// host TX  txsync sends each frame on an AF_PACKET socket bound to IF whose
//          frames carry skb->mark = kHostMark.  Without qdisc bypass they
//          meet the same egress program, which sends marked frames back in
//          at IF's ingress (bpf_redirect with BPF_F_INGRESS); a tcx ingress
//          program clears the mark there and lets them up the stack.
//
// All of it belongs to the process that binds the host rings and goes with
// it: the BPF links detach when their descriptors close, even on SIGKILL.
// One process at a time (another one gets EBUSY), as for native queues; in
// that process, descriptors that bind different host rings of the port
// (one thread each, "netmap:IF^0", "^1", ...) share the programs and ring
// buffers (HostStack), each ring reading its own ring buffer.
#include <algorithm>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <map>
#include <memory>
#include <mutex>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include "core/syscalls.h"
#include "ports/copy_fed_rx.h"
#include "ports/nic.h"
#include "ports/nic_bpf.h"
#include "ports/gso_split.h"
#include "ports/partial_csum.h"

namespace unetmap::nic {

namespace {

// One BPF ring buffer per host RX ring: 8 MiB for one ring (5000
// full-size frames, 120 super-frames), shared out among several, at least
// 2 MiB each.
constexpr uint32_t kRingBytes = 8u << 20, kMinRingBytes = 2u << 20;

uint32_t ring_bytes_for(uint32_t rings) {
    uint32_t b = kRingBytes;
    for (uint32_t n = 1; n < rings && b > kMinRingBytes; n <<= 1) b >>= 1;
    return b;
}

// bpf_ringbuf record header (include/uapi/linux/bpf.h).
constexpr uint32_t kBusyBit = 1u << 31, kDiscardBit = 1u << 30, kHdrSize = 8;

// What this process puts on an interface for its host rings, shared by
// the host ring pairs it binds: one ring buffer per host RX ring (mapped
// here), the programs and their links.  Goes with the last HostQueue.
class HostStack {
public:
    ~HostStack() {
        // Egress first: from then on the host sends to the wire again.
        egress_link_ = BpfFd();
        unmark_link_ = BpfFd();
        for (Ring& r : rings_) {
            if (r.prod != MAP_FAILED) sys::munmap(r.prod, page_ + 2 * static_cast<size_t>(bytes_));
            if (r.cons != MAP_FAILED) sys::munmap(r.cons, page_);
        }
    }
    struct Ring {
        BpfFd fd;
        void* cons = MAP_FAILED;  // consumer position page (ours to write)
        void* prod = MAP_FAILED;  // producer position page, then the data twice
    };
    static int open(const QueueSpec& spec, std::shared_ptr<HostStack>& out);
    [[nodiscard]] const Ring* ring(uint32_t i) const { return i < rings_.size() ? &rings_[i] : nullptr; }
    [[nodiscard]] size_t page() const { return page_; }
    [[nodiscard]] uint32_t bytes() const { return bytes_; }

private:
    std::vector<Ring> rings_;
    size_t page_ = 0;
    uint32_t bytes_ = 0;
    BpfFd egress_prog_, unmark_prog_, egress_link_, unmark_link_;
};

int HostStack::open(const QueueSpec& spec, std::shared_ptr<HostStack>& out) {
    if (tcx_has_program(spec.ifindex, kTcxEgress, "unetmap_hegress")) return EBUSY;  // another process has them
    Facts f;
    if (int e = read_facts(spec.ifname, f)) return e;
    auto st = std::make_shared<HostStack>();
    st->page_ = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const uint32_t nrings = std::max(spec.host_rx_rings, 1u);  // a TX-only port still diverts the host's frames
    st->bytes_ = ring_bytes_for(nrings);
    st->rings_.resize(nrings);
    std::vector<int> fds;
    for (Ring& r : st->rings_) {
        r.fd = BpfFd(bpf_map_create(BPF_MAP_TYPE_RINGBUF, "unetmap_host", 0, 0, st->bytes_, nullptr));
        if (!r.fd.ok()) return errno == EINVAL ? EOPNOTSUPP : errno;
        r.cons = sys::mmap(nullptr, st->page_, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd.get(), 0);
        if (r.cons == MAP_FAILED) return errno;
        r.prod = sys::mmap(nullptr, st->page_ + 2 * static_cast<size_t>(st->bytes_), PROT_READ, MAP_SHARED,
                           r.fd.get(), static_cast<off_t>(st->page_));
        if (r.prod == MAP_FAILED) return errno;
        fds.push_back(r.fd.get());
    }
    int e = 0;
    st->unmark_prog_ = load_host_unmark(e);
    if (e) return e;
    st->egress_prog_ = load_host_egress(fds, spec.ifindex, f.mtu + 22, e);  // Ethernet header, two tags
    if (e) return e;
    // Ingress first, so that the first injected frame is already unmarked.
    st->unmark_link_ = attach_tcx(st->unmark_prog_, spec.ifindex, kTcxIngress, e);
    if (e) return e;
    st->egress_link_ = attach_tcx(st->egress_prog_, spec.ifindex, kTcxEgress, e);
    if (e) return e;
    out = std::move(st);
    return 0;
}

// This process's host stacks, by port (slot, gen): the host ring pairs of
// one port bound through several descriptors (one thread each) share one.
struct Stacks {
    std::mutex mu;
    std::map<std::pair<uint32_t, uint32_t>, std::weak_ptr<HostStack>> by_port;
};
Stacks& stacks() {
    static auto* s = new Stacks();  // never destroyed: used from atexit handlers
    return *s;
}

// One host ring pair: its RX ring reads ring buffer `index` of the stack;
// its TX ring sends on a socket of its own.
class HostQueue final : public NicQueue {
public:
    ~HostQueue() override {
        if (tx_fd_ >= 0) sys::close(tx_fd_);
    }
    [[nodiscard]] int fd() const override { return rb_ ? rb_->fd.get() : tx_fd_; }
    [[nodiscard]] const char* how() const override { return "host stack (tcx + BPF ring buffer)"; }
    int txsync(Region& region, KRing& k, netmap_ring* ring) override { return sendmmsg_txsync(tx_fd_, region, k, ring); }
    int rxsync(Region& region, KRing& k, netmap_ring* ring) override;

    static int open(const QueueSpec& spec, std::unique_ptr<NicQueue>& out);

private:
    int tx_fd_ = -1;
    std::shared_ptr<HostStack> stack_;
    const HostStack::Ring* rb_ = nullptr;  // nullptr: a host TX ring without an RX ring
    uint32_t rb_bytes_ = 0;
    size_t page_ = 0;
    uint32_t max_frame_ = 0;
    std::vector<uint8_t> scratch_;  // one frame being completed (tag, checksum)
    std::vector<uint8_t> segment_;  // one piece of a super-frame
};

int HostQueue::open(const QueueSpec& spec, std::unique_ptr<NicQueue>& out) {
    Facts f;
    if (int e = read_facts(spec.ifname, f)) return e;
    auto q = std::make_unique<HostQueue>();
    q->max_frame_ = f.mtu + 22;  // Ethernet header and two VLAN tags
    q->scratch_.resize(kMaxSuperFrame + 4);
    q->segment_.resize(q->max_frame_ + 4);

    // The injecting socket: protocol 0 (it receives nothing), the mark.
    q->tx_fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (q->tx_fd_ < 0) return errno == EAFNOSUPPORT ? EOPNOTSUPP : errno;
    const uint32_t mark = kHostMark;
    if (::setsockopt(q->tx_fd_, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) return errno;
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = static_cast<int>(spec.ifindex);
    if (::bind(q->tx_fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) return errno == ENODEV ? ENXIO : errno;

    Stacks& ss = stacks();
    std::lock_guard lk(ss.mu);
    const std::pair key{spec.port, spec.port_gen};
    if (auto it = ss.by_port.find(key); it != ss.by_port.end()) q->stack_ = it->second.lock();
    if (!q->stack_) {
        if (int e = HostStack::open(spec, q->stack_)) return e;
        ss.by_port[key] = q->stack_;
    }
    for (auto it = ss.by_port.begin(); it != ss.by_port.end();)  // forget expired entries
        it = it->second.expired() ? ss.by_port.erase(it) : std::next(it);
    if (spec.rx) q->rb_ = q->stack_->ring(spec.host_index);
    q->rb_bytes_ = q->stack_->bytes();
    q->page_ = q->stack_->page();
    out = std::move(q);
    return 0;
}

int HostQueue::rxsync(Region& region, KRing& k, netmap_ring* ring) {
    if (!rb_) return ENXIO;  // cannot happen: only RX krings call rxsync, and they have a ring buffer
    release_copy_fed_rx(region, k);
    const uint32_t n = k.num_slots, head = k.rhead, bsz = region.buf_size();
    uint32_t tail = k.hwtail.load(std::memory_order_relaxed);
    uint32_t room = ring_dist(tail, head == 0 ? n - 1 : head - 1, n);

    auto* cons_pos = static_cast<uint64_t*>(rb_->cons);
    const auto* prod_pos = static_cast<const uint64_t*>(rb_->prod);
    const auto* data = static_cast<const unsigned char*>(rb_->prod) + page_;
    // The kernel wakes a sleeping reader only when it commits the record
    // the consumer position points at (a reader that has caught up): so
    // the position moves after every record, as libbpf's reader does, and
    // once caught up we look at the producer again after a full fence, in
    // case a record was committed while the position was stale.
    uint64_t cons = __atomic_load_n(cons_pos, __ATOMIC_RELAXED);  // only we move it
    uint64_t pkts = 0, bytes = 0, drops = 0;
    int err = 0;
    for (;;) {
        const uint64_t prod = __atomic_load_n(prod_pos, __ATOMIC_ACQUIRE);
        if (cons >= prod) break;
        while (cons < prod) {
            const auto* hdr = reinterpret_cast<const uint32_t*>(data + (cons & (rb_bytes_ - 1)));
            const uint32_t word = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
            if (word & kBusyBit) goto done;  // reserved, not yet submitted: its commit will wake us
            const uint32_t sample = word & ~(kBusyBit | kDiscardBit);
            if (!(word & kDiscardBit)) {
                HostRecord rec{};
                if (sample >= sizeof rec) std::memcpy(&rec, hdr + kHdrSize / 4, sizeof rec);
                const auto* bytes_in = reinterpret_cast<const unsigned char*>(hdr) + kHdrSize + sizeof rec;
                const bool tagged = (rec.flags & HostRecord::kVlan) != 0;
                const uint32_t len = rec.len + (tagged ? 4 : 0);
                if (sample < sizeof rec || (rec.flags & HostRecord::kOversize) || rec.len > sample - sizeof rec ||
                    rec.len < 14 || len > scratch_.size()) {
                    drops++;
                } else {
                    // The frame as the wire would have had it: the tag back
                    // in (the driver would have put it there), then cut into
                    // segments or its checksum completed (validate_xmit_skb's
                    // work, which comes after tc egress).
                    uint8_t* f = scratch_.data();
                    if (tagged) {
                        const uint16_t tci = htons(rec.vlan_tci);
                        std::memcpy(f, bytes_in, 12);
                        std::memcpy(f + 12, &rec.vlan_proto, 2);
                        std::memcpy(f + 14, &tci, 2);
                        std::memcpy(f + 16, bytes_in + 12, rec.len - 12);
                    } else {
                        std::memcpy(f, bytes_in, rec.len);
                    }
                    const uint32_t segs = rec.gso_size ? gso_count(f, len, rec.gso_size) : 1;
                    const uint32_t seg_len = rec.gso_size ? std::min(len, max_frame_) : len;
                    const uint32_t need = segs * slots_for(seg_len, bsz);
                    if (segs == 0 || seg_len > segment_.size() || need > n - 1) {
                        drops++;  // a super-frame we cannot cut, or more than the ring holds
                    } else {
                        if (need > room) goto done;  // the rest waits in the ring buffer
                        if (rec.gso_size) {
                            gso_split(f, len, rec.gso_size, segment_.data(), [&](const uint8_t* p, size_t l) {
                                if (!err) err = copy_frame_to_rx(region, ring, n, tail, {{p, static_cast<uint32_t>(l)}});
                                bytes += l;
                            });
                        } else {
                            complete_partial_checksum(f, len);
                            err = copy_frame_to_rx(region, ring, n, tail, {{f, len}});
                            bytes += len;
                        }
                        if (err) goto done;
                        room -= need;
                        pkts += segs;
                    }
                }
            }
            cons += (sample + kHdrSize + 7) & ~7u;
            __atomic_store_n(cons_pos, cons, __ATOMIC_RELEASE);
        }
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
    }
done:
    k.hwtail.store(tail, std::memory_order_release);
    k.packets.fetch_add(pkts, std::memory_order_relaxed);
    k.bytes.fetch_add(bytes, std::memory_order_relaxed);
    if (drops) k.drops.fetch_add(drops, std::memory_order_relaxed);
    return err;
}

}  // namespace

int open_host_queue(const QueueSpec& spec, std::unique_ptr<NicQueue>& out) {
    return HostQueue::open(spec, out);
}

}  // namespace unetmap::nic
