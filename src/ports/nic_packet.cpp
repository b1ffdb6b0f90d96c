// Emulated NIC queues: one AF_PACKET socket per port (netmap's generic
// adapter), for interfaces or kernels where AF_XDP is not available.
//
// RX  A TPACKET_V3 ring (blocks of frames the kernel fills and hands over
//     whole, or after 1 ms); rxsync copies each frame into the buffer of
//     the next free slot, re-inserting the VLAN tag the kernel took out,
//     and gives a block back when all its frames are copied; a frame longer
//     than a buffer becomes an NS_MOREFRAG chain (jumbo frames).  Our own
//     transmissions are not looped back (PACKET_IGNORE_OUTGOING), nor are
//     frames our host TX ring injects (a socket filter on kHostMark).
//     AF_PACKET only taps: to take the frames away from the host stack, as
//     netmap does, a tcx ingress program (nic_bpf.h, "steal") drops them
//     after the tap; without tcx (kernels before 6.6) the host stack keeps
//     seeing them.
// TX  sendmmsg() straight from the netmap buffers (the kernel copies once),
//     NS_MOREFRAG chains gathered into one frame, with PACKET_QDISC_BYPASS,
//     in batches; slots are free again as soon as the call returns.
#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/syscalls.h"
#include "ports/copy_fed_rx.h"
#include "ports/nic_bpf.h"
#include "ports/nic.h"

namespace unetmap::nic {

namespace {

// A block is handed over when full or kRetireMs after its first frame, so
// at low rates the ring holds kBlocks x kRetireMs of traffic whatever the
// block size: 64 blocks ride out a receiver that is off the processor for
// 64 ms (16 lost frames under a loaded test machine).  A block holds the
// largest frame a chain can take (kMaxChainSlots buffers).
constexpr uint32_t kBlockSize = 1u << 17;  // 128 KiB
constexpr uint32_t kBlocks = 64;
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
    [[nodiscard]] const char* how() const override {
        return steal_link_.ok() ? "AF_PACKET" : "AF_PACKET (tap: the host stack sees frames too)";
    }
    int txsync(Region& region, KRing& k, netmap_ring* ring) override;
    int rxsync(Region& region, KRing& k, netmap_ring* ring) override;

    static int open(const QueueSpec& spec, std::unique_ptr<NicQueue>& out);

private:
    tpacket_block_desc* block(uint32_t i) const {
        return reinterpret_cast<tpacket_block_desc*>(static_cast<char*>(map_) + static_cast<size_t>(i) * kBlockSize);
    }

    // Frames the kernel dropped because every block was still ours.  It
    // flags the blocks it closes after a loss (TP_STATUS_LOSING) until the
    // count is read, which also resets it: one system call per loss.
    uint32_t kernel_drops() const {
        tpacket_stats_v3 st{};
        socklen_t len = sizeof st;
        return ::getsockopt(fd_, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0 ? st.tp_drops : 0;
    }

    int fd_ = -1;
    void* map_ = MAP_FAILED;
    BpfFd steal_prog_, steal_link_;
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
    // Frames marked kHostMark come from our host TX ring, not the wire.
    sock_filter not_injected[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_MARK)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kHostMark, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, 0),
        BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
    };
    sock_fprog fprog{static_cast<unsigned short>(sizeof not_injected / sizeof not_injected[0]), not_injected};
    if (::setsockopt(q->fd_, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) != 0) return errno;
    if (::bind(q->fd_, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) return errno == ENODEV ? ENXIO : errno;
    // Now that the tap is in place, take the frames from the host stack.
    int e = 0;
    q->steal_prog_ = load_steal(e);
    if (q->steal_prog_.ok()) q->steal_link_ = attach_tcx(q->steal_prog_, spec.ifindex, kTcxIngress, e);
    out = std::move(q);
    return 0;
}

int PacketQueue::rxsync(Region& region, KRing& k, netmap_ring* ring) {
    release_copy_fed_rx(region, k);  // the copy below checks each slot's buffer
    const uint32_t n = k.num_slots, head = k.rhead, bsz = region.buf_size();

    uint32_t tail = k.hwtail.load(std::memory_order_relaxed);
    uint32_t room = ring_dist(tail, head == 0 ? n - 1 : head - 1, n);
    uint64_t pkts = 0, bytes = 0, drops = 0;
    int err = 0;
    while (room > 0 && !err) {
        tpacket_block_desc* bd = block(blk_);
        if (!(__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) break;
        const uint32_t total = bd->hdr.bh1.num_pkts;
        if (blk_done_ == 0 && (bd->hdr.bh1.block_status & TP_STATUS_LOSING)) drops += kernel_drops();
        if (blk_done_ == 0)
            next_ = reinterpret_cast<const tpacket3_hdr*>(reinterpret_cast<const char*>(bd) +
                                                          bd->hdr.bh1.offset_to_first_pkt);
        for (; blk_done_ < total; blk_done_++) {
            const tpacket3_hdr* h = next_;
            const auto* frame = reinterpret_cast<const unsigned char*>(h) + h->tp_mac;
            const uint32_t caplen = h->tp_snaplen;
            const bool vlan = (h->tp_status & TP_STATUS_VLAN_VALID) != 0 && caplen >= 12;
            const uint32_t len = caplen + (vlan ? 4 : 0);
            const uint32_t need = slots_for(len, bsz);
            if (caplen < h->tp_len || need > std::min(n - 1, kMaxChainSlots)) {
                drops++;  // truncated by the kernel, or more than a ring can ever hold
            } else {
                if (need > room) break;  // resume with this frame when the user frees slots
                if (vlan) {
                    // The kernel took the 802.1Q tag out; netmap programs expect it in the frame.
                    const uint16_t tpid =
                        htons((h->tp_status & TP_STATUS_VLAN_TPID_VALID) ? h->hv1.tp_vlan_tpid : ETH_P_8021Q);
                    const uint16_t tci = htons(h->hv1.tp_vlan_tci);
                    unsigned char tag[4];
                    std::memcpy(tag, &tpid, 2);
                    std::memcpy(tag + 2, &tci, 2);
                    err = copy_frame_to_rx(region, ring, n, tail, {{frame, 12}, {tag, 4}, {frame + 12, caplen - 12}});
                } else {
                    err = copy_frame_to_rx(region, ring, n, tail, {{frame, caplen}});
                }
                if (err) break;
                room -= need;
                pkts++;
                bytes += len;
            }
            next_ = reinterpret_cast<const tpacket3_hdr*>(reinterpret_cast<const char*>(h) + h->tp_next_offset);
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
    return err;
}

int PacketQueue::txsync(Region& region, KRing& k, netmap_ring* ring) {
    return sendmmsg_txsync(fd_, region, k, ring);
}

}  // namespace

int copy_frame_to_rx(Region& region, netmap_ring* ring, uint32_t num_slots, uint32_t& tail,
                     std::initializer_list<Piece> pieces) {
    const uint32_t bsz = region.buf_size();
    uint32_t j = tail, used = 0;
    unsigned char* dst = nullptr;
    auto open_slot = [&]() -> bool {
        const uint32_t idx = ring->slot[j].buf_idx;  // read once: the free zone is ours, but in shared memory
        if (!region.valid_buf(idx)) return false;
        dst = reinterpret_cast<unsigned char*>(region.buf(idx));
        used = 0;
        return true;
    };
    if (!open_slot()) return EINVAL;
    for (const Piece& p : pieces) {
        for (uint32_t done = 0; done < p.len;) {
            if (used == bsz) {  // this buffer is full: chain the next slot
                ring->slot[j].len = static_cast<uint16_t>(used);
                ring->slot[j].flags = NS_MOREFRAG;
                j = ring_next(j, num_slots);
                if (!open_slot()) return EINVAL;
            }
            const uint32_t c = std::min(p.len - done, bsz - used);
            std::memcpy(dst + used, p.data + done, c);
            used += c;
            done += c;
        }
    }
    ring->slot[j].len = static_cast<uint16_t>(used);
    ring->slot[j].flags = 0;
    tail = ring_next(j, num_slots);
    return 0;
}

int sendmmsg_txsync(int fd, Region& region, KRing& k, netmap_ring* ring) {
    const uint32_t n = k.num_slots, head = k.rhead;
    uint32_t cur = k.hwcur.load(std::memory_order_relaxed);
    uint64_t pkts = 0, bytes = 0, drops = 0;
    int err = 0;
    iovec iov[kTxBatch + kMaxChainSlots];
    mmsghdr msg[kTxBatch];
    uint32_t slots_of[kTxBatch];  // slots each message takes
    while (cur != head && !err) {
        // Gather up to kTxBatch frames; a chain is one message of several iovecs.
        uint32_t cnt = 0, niov = 0, j = cur;
        bool partial = false;  // a chain runs up to head: it waits
        while (j != head && cnt < kTxBatch && niov + kMaxChainSlots <= sizeof iov / sizeof iov[0]) {
            const uint32_t first_iov = niov;
            uint32_t s_j = j, nslots = 0;
            bool more = true;
            while (more) {
                if (s_j == head) {
                    partial = true;
                    break;
                }
                netmap_slot& s = ring->slot[s_j];
                const uint32_t idx = s.buf_idx, len = s.len;  // read once
                more = (s.flags & NS_MOREFRAG) != 0;
                if (!region.valid_buf(idx) || len > region.buf_size() || ++nslots > kMaxChainSlots) {
                    err = EINVAL;
                    break;
                }
                s.flags &= static_cast<uint16_t>(~NS_BUF_CHANGED);
                iov[niov++] = {region.buf(idx), len};
                s_j = ring_next(s_j, n);
            }
            if (partial || err) {
                niov = first_iov;
                break;
            }
            msg[cnt] = {};
            msg[cnt].msg_hdr.msg_iov = &iov[first_iov];
            msg[cnt].msg_hdr.msg_iovlen = niov - first_iov;
            slots_of[cnt++] = nslots;
            j = s_j;
        }
        uint32_t done = 0;
        while (done < cnt) {
            const int r = ::sendmmsg(fd, msg + done, cnt - done, MSG_DONTWAIT);
            if (r > 0) {
                for (int i = 0; i < r; i++) {
                    const mmsghdr& m = msg[done + static_cast<uint32_t>(i)];
                    for (size_t v = 0; v < m.msg_hdr.msg_iovlen; v++) bytes += m.msg_hdr.msg_iov[v].iov_len;
                }
                pkts += static_cast<uint32_t>(r);
                done += static_cast<uint32_t>(r);
                continue;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == ENOBUFS) break;  // the device is full: the rest waits
            drops++;  // this frame cannot go (too long, interface down): drop it, go on
            done++;
        }
        for (uint32_t i = 0; i < done; i++)
            for (uint32_t s = 0; s < slots_of[i]; s++) cur = ring_next(cur, n);
        if (done < cnt || partial || cnt == 0) break;
    }
    k.hwcur.store(cur, std::memory_order_relaxed);
    k.hwtail.store(cur == 0 ? n - 1 : cur - 1, std::memory_order_relaxed);  // sent: free again at once
    k.packets.fetch_add(pkts, std::memory_order_relaxed);
    k.bytes.fetch_add(bytes, std::memory_order_relaxed);
    if (drops) k.drops.fetch_add(drops, std::memory_order_relaxed);
    return err;
}

int open_packet_queue(const QueueSpec& spec, std::unique_ptr<NicQueue>& out) {
    return PacketQueue::open(spec, out);
}

}  // namespace unetmap::nic
