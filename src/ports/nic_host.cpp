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
//          BPF ring buffer and drops it; rxsync copies records from there
//          into the host RX ring's free slots (NS_MOREFRAG chains beyond
//          one buffer).  We read the ring buffer ourselves (its layout is
//          kernel ABI) rather than with libbpf's ring_buffer__consume,
//          which drops the record its callback cannot take: a full host
//          RX ring leaves records waiting, as netmap leaves them queued.
//          Frames longer than the MTU (GSO super-frames: turn GSO/TSO off,
//          as netmap asks) are dropped and counted.
// host TX  txsync sends each frame on an AF_PACKET socket bound to IF whose
//          frames carry skb->mark = kHostMark.  Without qdisc bypass they
//          meet the same egress program, which sends marked frames back in
//          at IF's ingress (bpf_redirect with BPF_F_INGRESS); a tcx ingress
//          program clears the mark there and lets them up the stack.
//
// All of it belongs to the process that binds the host rings and goes with
// it: the BPF links detach when their descriptors close, even on SIGKILL.
// One process at a time (another one gets EBUSY), as for native queues.
#include <algorithm>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <cerrno>
#include <cstring>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/syscalls.h"
#include "ports/copy_fed_rx.h"
#include "ports/nic.h"
#include "ports/nic_bpf.h"

namespace unetmap::nic {

namespace {

constexpr uint32_t kRingBytes = 4u << 20;  // the BPF ring buffer: ~2700 full-size frames

// bpf_ringbuf record header (include/uapi/linux/bpf.h).
constexpr uint32_t kBusyBit = 1u << 31, kDiscardBit = 1u << 30, kHdrSize = 8;

class HostQueue final : public NicQueue {
public:
    ~HostQueue() override {
        // Egress first: from then on the host sends to the wire again.
        egress_link_ = BpfFd();
        unmark_link_ = BpfFd();
        if (prod_ != MAP_FAILED) sys::munmap(prod_, page_ + 2 * static_cast<size_t>(kRingBytes));
        if (cons_ != MAP_FAILED) sys::munmap(cons_, page_);
        if (tx_fd_ >= 0) sys::close(tx_fd_);
    }
    [[nodiscard]] int fd() const override { return ringbuf_.get(); }
    [[nodiscard]] const char* how() const override { return "host stack (tcx + BPF ring buffer)"; }
    int txsync(Region& region, KRing& k, netmap_ring* ring) override { return sendmmsg_txsync(tx_fd_, region, k, ring); }
    int rxsync(Region& region, KRing& k, netmap_ring* ring) override;

    static int open(const QueueSpec& spec, std::unique_ptr<NicQueue>& out);

private:
    int tx_fd_ = -1;
    BpfFd ringbuf_, egress_prog_, unmark_prog_, egress_link_, unmark_link_;
    size_t page_ = 0;
    void* cons_ = MAP_FAILED;  // consumer position page (ours to write)
    void* prod_ = MAP_FAILED;  // producer position page, then the data twice
    uint32_t max_frame_ = 0;
};

int HostQueue::open(const QueueSpec& spec, std::unique_ptr<NicQueue>& out) {
    if (tcx_has_program(spec.ifindex, kTcxEgress, "unetmap_hegress")) return EBUSY;  // another process has them
    Facts f;
    if (int e = read_facts(spec.ifname, f)) return e;
    auto q = std::make_unique<HostQueue>();
    q->max_frame_ = f.mtu + 22;  // Ethernet header and two VLAN tags
    q->page_ = static_cast<size_t>(::sysconf(_SC_PAGESIZE));

    // The injecting socket: protocol 0 (it receives nothing), the mark.
    q->tx_fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (q->tx_fd_ < 0) return errno == EAFNOSUPPORT ? EOPNOTSUPP : errno;
    const uint32_t mark = kHostMark;
    if (::setsockopt(q->tx_fd_, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) return errno;
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = static_cast<int>(spec.ifindex);
    if (::bind(q->tx_fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) return errno == ENODEV ? ENXIO : errno;

    q->ringbuf_ = BpfFd(bpf_map_create(BPF_MAP_TYPE_RINGBUF, "unetmap_host", 0, 0, kRingBytes, nullptr));
    if (!q->ringbuf_.ok()) return errno == EINVAL ? EOPNOTSUPP : errno;
    q->cons_ = sys::mmap(nullptr, q->page_, PROT_READ | PROT_WRITE, MAP_SHARED, q->ringbuf_.get(), 0);
    if (q->cons_ == MAP_FAILED) return errno;
    q->prod_ = sys::mmap(nullptr, q->page_ + 2 * static_cast<size_t>(kRingBytes), PROT_READ, MAP_SHARED,
                         q->ringbuf_.get(), static_cast<off_t>(q->page_));
    if (q->prod_ == MAP_FAILED) return errno;

    int e = 0;
    q->unmark_prog_ = load_host_unmark(e);
    if (e) return e;
    q->egress_prog_ = load_host_egress(q->ringbuf_.get(), spec.ifindex, q->max_frame_, e);
    if (e) return e;
    // Ingress first, so that the first injected frame is already unmarked.
    q->unmark_link_ = attach_tcx(q->unmark_prog_, spec.ifindex, kTcxIngress, e);
    if (e) return e;
    q->egress_link_ = attach_tcx(q->egress_prog_, spec.ifindex, kTcxEgress, e);
    if (e) return e;
    out = std::move(q);
    return 0;
}

int HostQueue::rxsync(Region& region, KRing& k, netmap_ring* ring) {
    release_copy_fed_rx(region, k);
    const uint32_t n = k.num_slots, head = k.rhead, bsz = region.buf_size();
    uint32_t tail = k.hwtail.load(std::memory_order_relaxed);
    uint32_t room = ring_dist(tail, head == 0 ? n - 1 : head - 1, n);

    auto* cons_pos = static_cast<uint64_t*>(cons_);
    const auto* prod_pos = static_cast<const uint64_t*>(prod_);
    const auto* data = static_cast<const unsigned char*>(prod_) + page_;
    uint64_t cons = __atomic_load_n(cons_pos, __ATOMIC_RELAXED);  // only we move it
    const uint64_t prod = __atomic_load_n(prod_pos, __ATOMIC_ACQUIRE);
    uint64_t pkts = 0, bytes = 0, drops = 0;
    int err = 0;
    while (cons < prod) {
        const auto* hdr = reinterpret_cast<const uint32_t*>(data + (cons & (kRingBytes - 1)));
        const uint32_t word = __atomic_load_n(hdr, __ATOMIC_ACQUIRE);
        if (word & kBusyBit) break;  // reserved, not yet submitted
        const uint32_t sample = word & ~(kBusyBit | kDiscardBit);
        if (!(word & kDiscardBit)) {
            HostRecord rec{};
            if (sample >= sizeof rec) std::memcpy(&rec, hdr + kHdrSize / 4, sizeof rec);
            const auto* frame = reinterpret_cast<const unsigned char*>(hdr) + kHdrSize + sizeof rec;
            const uint32_t need = slots_for(rec.len, bsz);
            if (sample < sizeof rec || rec.oversize || rec.len > sample - sizeof rec ||
                need > std::min(n - 1, kMaxChainSlots)) {
                drops++;
            } else {
                if (need > room) break;  // the rest waits in the ring buffer
                if ((err = copy_frame_to_rx(region, ring, n, tail, {{frame, rec.len}}))) break;
                room -= need;
                pkts++;
                bytes += rec.len;
            }
        }
        cons += (sample + kHdrSize + 7) & ~7u;
    }
    __atomic_store_n(cons_pos, cons, __ATOMIC_RELEASE);
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
