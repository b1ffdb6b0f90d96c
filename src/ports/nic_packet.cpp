// Emulated NIC queues: one AF_PACKET socket per port (netmap's generic
// adapter), for interfaces or kernels where AF_XDP is not available.
//
// RX  A TPACKET_V3 ring (blocks of frames the kernel fills and hands over
//     whole, or after 1 ms); rxsync copies each frame into the buffer of
//     the next free slot, re-inserting the VLAN tag the kernel took out,
//     and gives a block back when all its frames are copied.  Frames that
//     do not fit a buffer are dropped and counted.  Our own transmissions
//     are not looped back (PACKET_IGNORE_OUTGOING).  The host stack still
//     receives every frame: AF_PACKET only taps.
// TX  sendmmsg() straight from the netmap buffers (the kernel copies once),
//     with PACKET_QDISC_BYPASS, in batches; slots are free again as soon
//     as the call returns.
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/syscalls.h"
#include "ports/copy_fed_rx.h"
#include "ports/nic.h"

namespace unetmap::nic {

namespace {

constexpr uint32_t kBlockSize = 1u << 18;  // 256 KiB
constexpr uint32_t kBlocks = 16;
constexpr uint32_t kFrameSize = 2048;      // only a hint for V3 (frames are packed)
constexpr uint32_t kRetireMs = 1;          // a partly filled block is handed over after this
constexpr uint32_t kTxBatch = 64;

class PacketQueue final : public NicQueue {
public:
    ~PacketQueue() override {
        if (map_ != MAP_FAILED) sys::munmap(map_, static_cast<size_t>(kBlockSize) * kBlocks);
        if (fd_ >= 0) sys::close(fd_);
    }
    [[nodiscard]] int fd() const override { return fd_; }
    [[nodiscard]] const char* how() const override { return "AF_PACKET"; }
    int txsync(Region& region, KRing& k, netmap_ring* ring) override;
    int rxsync(Region& region, KRing& k, netmap_ring* ring) override;

    static int open(const QueueSpec& spec, std::unique_ptr<NicQueue>& out);

private:
    tpacket_block_desc* block(uint32_t i) const {
        return reinterpret_cast<tpacket_block_desc*>(static_cast<char*>(map_) + static_cast<size_t>(i) * kBlockSize);
    }

    int fd_ = -1;
    void* map_ = MAP_FAILED;
    // Where rxsync stopped: block, frames of it already copied, next frame.
    uint32_t blk_ = 0;
    uint32_t blk_done_ = 0;
    const tpacket3_hdr* next_ = nullptr;
};

int PacketQueue::open(const QueueSpec& spec, std::unique_ptr<NicQueue>& out) {
    auto q = std::make_unique<PacketQueue>();
    // Protocol 0 until bound: nothing queued from other interfaces meanwhile.
    q->fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (q->fd_ < 0) return errno == EAFNOSUPPORT ? EOPNOTSUPP : errno;
    const int v3 = TPACKET_V3, one = 1;
    if (::setsockopt(q->fd_, SOL_PACKET, PACKET_VERSION, &v3, sizeof v3) != 0) return errno;
    tpacket_req3 req{};
    req.tp_block_size = kBlockSize;
    req.tp_block_nr = kBlocks;
    req.tp_frame_size = kFrameSize;
    req.tp_frame_nr = kBlockSize / kFrameSize * kBlocks;
    req.tp_retire_blk_tov = kRetireMs;
    if (::setsockopt(q->fd_, SOL_PACKET, PACKET_RX_RING, &req, sizeof req) != 0) return errno;
    q->map_ = sys::mmap(nullptr, static_cast<size_t>(kBlockSize) * kBlocks, PROT_READ | PROT_WRITE, MAP_SHARED,
                        q->fd_, 0);
    if (q->map_ == MAP_FAILED) return errno;
    (void)::setsockopt(q->fd_, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
    (void)::setsockopt(q->fd_, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = static_cast<int>(spec.ifindex);
    if (::bind(q->fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) return errno == ENODEV ? ENXIO : errno;
    out = std::move(q);
    return 0;
}

int PacketQueue::rxsync(Region& region, KRing& k, netmap_ring* ring) {
    release_copy_fed_rx(region, k);  // the copy below checks each slot's buffer
    const uint32_t n = k.num_slots, head = k.rhead, bsz = region.buf_size();

    uint32_t tail = k.hwtail.load(std::memory_order_relaxed);
    uint32_t room = ring_dist(tail, head == 0 ? n - 1 : head - 1, n);
    uint64_t pkts = 0, bytes = 0, drops = 0;
    while (room > 0) {
        tpacket_block_desc* bd = block(blk_);
        if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) break;
        const uint32_t total = bd->hdr.bh1.num_pkts;
        if (blk_done_ == 0)
            next_ = reinterpret_cast<const tpacket3_hdr*>(reinterpret_cast<const char*>(bd) +
                                                          bd->hdr.bh1.offset_to_first_pkt);
        for (; blk_done_ < total && room > 0; blk_done_++) {
            const tpacket3_hdr* h = next_;
            const auto* frame = reinterpret_cast<const unsigned char*>(h) + h->tp_mac;
            const uint32_t caplen = h->tp_snaplen;
            const bool vlan = (h->tp_status & TP_STATUS_VLAN_VALID) != 0 && caplen >= 12;
            const uint32_t len = caplen + (vlan ? 4 : 0);
            next_ = reinterpret_cast<const tpacket3_hdr*>(reinterpret_cast<const char*>(h) + h->tp_next_offset);
            if (len > bsz || caplen < h->tp_len) {
                drops++;
                continue;
            }
            netmap_slot& s = ring->slot[tail];
            const uint32_t idx = s.buf_idx;  // read once: the free zone is ours, but in shared memory
            if (!region.valid_buf(idx)) return EINVAL;
            auto* dst = reinterpret_cast<unsigned char*>(region.buf(idx));
            if (vlan) {
                // The kernel took the 802.1Q tag out; netmap programs expect it in the frame.
                const uint16_t tpid =
                    htons((h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : ETH_P_8021Q);
                const uint16_t tci = htons(h->hv1.tp_vlan_tci);
                std::memcpy(dst, frame, 12);
                std::memcpy(dst + 12, &tpid, 2);
                std::memcpy(dst + 14, &tci, 2);
                std::memcpy(dst + 16, frame + 12, caplen - 12);
            } else {
                std::memcpy(dst, frame, caplen);
            }
            s.len = static_cast<uint16_t>(len);
            s.flags = 0;
            tail = ring_next(tail, n);
            room--;
            pkts++;
            bytes += len;
        }
        if (blk_done_ < total) break;  // our ring is full; resume here next time
        __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        blk_ = (blk_ + 1) % kBlocks;
        blk_done_ = 0;
    }
    k.hwtail.store(tail, std::memory_order_release);
    k.packets.fetch_add(pkts, std::memory_order_relaxed);
    k.bytes.fetch_add(bytes, std::memory_order_relaxed);
    if (drops) k.drops.fetch_add(drops, std::memory_order_relaxed);
    return 0;
}

int PacketQueue::txsync(Region& region, KRing& k, netmap_ring* ring) {
    const uint32_t n = k.num_slots, head = k.rhead;
    uint32_t cur = k.hwcur.load(std::memory_order_relaxed);
    uint64_t pkts = 0, bytes = 0, drops = 0;
    int err = 0;
    while (cur != head && !err) {
        iovec iov[kTxBatch];
        mmsghdr msg[kTxBatch];
        uint32_t cnt = 0;
        uint32_t j = cur;
        for (; j != head && cnt < kTxBatch; j = ring_next(j, n)) {
            netmap_slot& s = ring->slot[j];
            const uint32_t idx = s.buf_idx, len = s.len;  // read once
            if (!region.valid_buf(idx) || len > region.buf_size() || (s.flags & NS_MOREFRAG)) {
                err = EINVAL;
                break;
            }
            s.flags &= static_cast<uint16_t>(~NS_BUF_CHANGED);
            iov[cnt] = {region.buf(idx), len};
            msg[cnt] = {};
            msg[cnt].msg_hdr.msg_iov = &iov[cnt];
            msg[cnt].msg_hdr.msg_iovlen = 1;
            cnt++;
        }
        uint32_t done = 0;
        while (done < cnt) {
            const int r = ::sendmmsg(fd_, msg + done, cnt - done, MSG_DONTWAIT);
            if (r > 0) {
                for (int i = 0; i < r; i++) bytes += iov[done + static_cast<uint32_t>(i)].iov_len;
                pkts += static_cast<uint32_t>(r);
                done += static_cast<uint32_t>(r);
                continue;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == ENOBUFS) break;  // the device is full: the rest waits
            drops++;  // this frame cannot go (too long, interface down): drop it, go on
            done++;
        }
        for (uint32_t i = 0; i < done; i++) cur = ring_next(cur, n);
        if (done < cnt) break;
    }
    k.hwcur.store(cur, std::memory_order_relaxed);
    k.hwtail.store(cur == 0 ? n - 1 : cur - 1, std::memory_order_relaxed);  // sent: free again at once
    k.packets.fetch_add(pkts, std::memory_order_relaxed);
    k.bytes.fetch_add(bytes, std::memory_order_relaxed);
    if (drops) k.drops.fetch_add(drops, std::memory_order_relaxed);
    return err;
}

}  // namespace

int open_packet_queue(const QueueSpec& spec, std::unique_ptr<NicQueue>& out) {
    return PacketQueue::open(spec, out);
}

}  // namespace unetmap::nic
