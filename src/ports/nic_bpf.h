// The small BPF programs NIC ports put on an interface, written as
// instructions (no compiler, no object files to ship), and how they are
// attached: always through a BPF link, which the kernel removes when its
// last descriptor closes, so a killed process leaves nothing behind.
//
//   host egress   (tcx egress, host rings bound)  frames the host stack
//                 sends go to a BPF ring buffer (one per host RX ring, by
//                 flow hash), not to the wire; frames
//                 our host TX socket sends (marked kHostMark) are turned
//                 around into the interface's ingress;
//   host unmark   (tcx ingress, host rings bound)  those turned-around
//                 frames lose the mark and go up the stack;
//   steal         (tcx ingress, emulated NIC rings bound)  frames from the
//                 wire stop here, after AF_PACKET has copied them: the
//                 application has them, the host stack must not.
#pragma once

#include <cstdint>
#include <linux/bpf.h>
#include <span>
#include <string>
#include <vector>

namespace unetmap::nic {

/// skb->mark of the frames the host TX ring injects (SO_MARK of its
/// socket).  Only our own programs look at it; it is cleared before the
/// frame reaches the host stack.
inline constexpr uint32_t kHostMark = 0x6e6d6800;  // "nmh\0"

/// What the host egress program puts in the ring buffer before each frame.
struct HostRecord {
    static constexpr uint16_t kOversize = 1;  // longer than the record room: no bytes follow
    static constexpr uint16_t kVlan = 2;      // the stack left an 802.1Q tag out of the bytes
    uint32_t len;         // frame length, without the tag
    uint16_t flags;
    uint16_t vlan_tci;    // host order
    uint16_t vlan_proto;  // network order
    uint16_t gso_size;    // nonzero: a GSO super-frame (TCP always sends them), cut at this size
};

/// The longest frame the host egress program takes: a 64 KiB GSO
/// super-frame with its Ethernet header and two tags (BIG TCP's larger
/// ones are dropped and counted).
inline constexpr uint32_t kMaxSuperFrame = 65535 + 22;

/// tcx attach points (linux/bpf.h of kernels >= 6.6; Debian 12's headers
/// predate them).
inline constexpr int kTcxIngress = 46;
inline constexpr int kTcxEgress = 47;

/// A BPF file descriptor, closed with its owner.
class BpfFd {
public:
    BpfFd() = default;
    explicit BpfFd(int fd) : fd_(fd) {}
    ~BpfFd();
    BpfFd(BpfFd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    BpfFd& operator=(BpfFd&& o) noexcept;
    BpfFd(const BpfFd&) = delete;
    BpfFd& operator=(const BpfFd&) = delete;
    [[nodiscard]] int get() const { return fd_; }
    [[nodiscard]] bool ok() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

/// Load one of the tc programs (0 or errno in `err`).  The host egress
/// program puts each frame into one of `ringbufs` (1 .. 16 ring buffers,
/// one per host RX ring), chosen by the frame's flow hash.
BpfFd load_host_egress(std::span<const int> ringbufs, unsigned ifindex, uint32_t max_frame, int& err);
BpfFd load_host_unmark(int& err);
BpfFd load_steal(int& err);

/// Attach `prog` at a tcx hook of `ifindex`; the returned link detaches it
/// when closed.  EOPNOTSUPP when the kernel has no tcx (before 6.6).
BpfFd attach_tcx(const BpfFd& prog, unsigned ifindex, int where, int& err);

/// Does a program whose name starts with `prefix` sit at that hook (put
/// there by another process)?
bool tcx_has_program(unsigned ifindex, int where, const char* prefix);

}  // namespace unetmap::nic
