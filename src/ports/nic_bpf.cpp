// Building, loading and attaching the tc programs of nic_bpf.h.
#include "ports/nic_bpf.h"

#include <bpf/bpf.h>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <linux/pkt_cls.h>
#include <unistd.h>

#include "core/kring.h"

namespace unetmap::nic {

BpfFd::~BpfFd() {
    if (fd_ >= 0) ::close(fd_);
}

BpfFd& BpfFd::operator=(BpfFd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        o.fd_ = -1;
    }
    return *this;
}

namespace {

// tcx verdicts (TCX_* in kernels >= 6.6).
constexpr int32_t kTcxNext = -1, kTcxPass = 0, kTcxDrop = 2;
constexpr int16_t kMarkOff = offsetof(__sk_buff, mark);
constexpr int16_t kLenOff = offsetof(__sk_buff, len);
constexpr int16_t kGsoSizeOff = offsetof(__sk_buff, gso_size);
constexpr int16_t kVlanPresentOff = offsetof(__sk_buff, vlan_present);
constexpr int16_t kVlanTciOff = offsetof(__sk_buff, vlan_tci);
constexpr int16_t kVlanProtoOff = offsetof(__sk_buff, vlan_proto);
constexpr uint32_t kMinFrame = 14;  // an Ethernet header

// Just enough of an assembler to write these programs readably: forward
// jumps to labels, resolved when the program is finished.
class Asm {
public:
    using Label = int;
    Label label() {
        at_.push_back(-1);
        return static_cast<Label>(at_.size() - 1);
    }
    void bind(Label l) { at_[static_cast<size_t>(l)] = static_cast<int>(code_.size()); }

    void mov(int dst, int src) { put(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
    void mov_imm(int dst, int32_t imm) { put(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
    void add_imm(int dst, int32_t imm) { put(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm); }
    /// dst = (uint32_t)dst % imm, upper half cleared
    void mod32_imm(int dst, int32_t imm) { put(BPF_ALU | BPF_MOD | BPF_K, dst, 0, 0, imm); }
    void load32(int dst, int src, int16_t off) { put(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0); }
    void store32(int dst, int16_t off, int src) { put(BPF_STX | BPF_W | BPF_MEM, dst, src, off, 0); }
    void store32_imm(int dst, int16_t off, int32_t imm) { put(BPF_ST | BPF_W | BPF_MEM, dst, 0, off, imm); }
    void store16(int dst, int16_t off, int src) { put(BPF_STX | BPF_H | BPF_MEM, dst, src, off, 0); }
    void store16_imm(int dst, int16_t off, int32_t imm) { put(BPF_ST | BPF_H | BPF_MEM, dst, 0, off, imm); }
    void load_map(int dst, int map_fd) {
        put(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, map_fd);
        put(0, 0, 0, 0, 0);  // the immediate's upper half
    }
    void call(int32_t helper) { put(BPF_JMP | BPF_CALL, 0, 0, 0, helper); }
    void exit_with(int32_t verdict) {
        mov_imm(0, verdict);
        put(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    }
    void exit() { put(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }
    /// if (reg OP imm) goto l;  OP one of BPF_JEQ, BPF_JNE, BPF_JGT, BPF_JLT (unsigned)
    void jump_if(uint8_t op, int reg, int32_t imm, Label l) { jump(BPF_JMP | op | BPF_K, reg, imm, l); }
    void jump_to(Label l) { jump(BPF_JMP | BPF_JA, 0, 0, l); }

    std::vector<bpf_insn> finish() {
        for (auto [insn, l] : fixups_)
            code_[insn].off = static_cast<int16_t>(at_[static_cast<size_t>(l)] - static_cast<int>(insn) - 1);
        return std::move(code_);
    }

private:
    void put(uint8_t code, int dst, int src, int16_t off, int32_t imm) {
        bpf_insn i{};
        i.code = code;
        i.dst_reg = static_cast<uint8_t>(dst) & 0xf;
        i.src_reg = static_cast<uint8_t>(src) & 0xf;
        i.off = off;
        i.imm = imm;
        code_.push_back(i);
    }
    void jump(uint8_t code, int reg, int32_t imm, Label l) {
        fixups_.emplace_back(code_.size(), l);
        put(code, reg, 0, 0, imm);
    }
    std::vector<bpf_insn> code_;
    std::vector<int> at_;
    std::vector<std::pair<size_t, Label>> fixups_;
};

BpfFd load(const char* name, const std::vector<bpf_insn>& prog, int& err) {
    const int fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, name, "Dual BSD/GPL", prog.data(), prog.size(), nullptr);
    err = fd < 0 ? errno : 0;
    return BpfFd(fd);
}

}  // namespace

BpfFd load_host_egress(std::span<const int> ringbufs, unsigned ifindex, uint32_t max_frame, int& err) {
    if (ringbufs.empty() || ringbufs.size() > kMaxHostRings) {
        err = EINVAL;
        return BpfFd();
    }
    Asm a;
    const auto capture = a.label(), big = a.label(), oversize = a.label(), drop = a.label();
    a.mov(6, 1);                                  // r6 = skb
    a.load32(2, 6, kMarkOff);
    a.jump_if(BPF_JNE, 2, static_cast<int32_t>(kHostMark), capture);
    // Our host TX socket's frame: into the interface, as if received.
    a.mov_imm(1, static_cast<int32_t>(ifindex));
    a.mov_imm(2, BPF_F_INGRESS);
    a.call(BPF_FUNC_redirect);
    a.exit();                                     // bpf_redirect's TC_ACT_REDIRECT

    // The host stack's frame: its bytes and what the kernel keeps beside
    // them into a record of ring buffer r9 (r7 = length, at most `limit`).
    auto record = [&](uint32_t limit) {
        const auto tagged = a.label(), copy = a.label(), discard = a.label();
        a.mov(1, 9);
        a.mov_imm(2, static_cast<int32_t>(sizeof(HostRecord) + limit));  // the verifier wants a constant
        a.mov_imm(3, 0);
        a.call(BPF_FUNC_ringbuf_reserve);
        a.jump_if(BPF_JEQ, 0, 0, drop);           // ring buffer full: the frame is lost
        a.mov(8, 0);
        a.store32(8, offsetof(HostRecord, len), 7);
        a.load32(2, 6, kGsoSizeOff);              // nonzero: a super-frame, to cut into gso_size pieces
        a.store16(8, offsetof(HostRecord, gso_size), 2);
        // A tag the stack keeps beside the bytes (VLAN devices over this
        // one): user space puts it back, as the driver would have.
        a.load32(2, 6, kVlanPresentOff);
        a.jump_if(BPF_JNE, 2, 0, tagged);
        a.store16_imm(8, offsetof(HostRecord, flags), 0);
        a.jump_to(copy);
        a.bind(tagged);
        a.store16_imm(8, offsetof(HostRecord, flags), HostRecord::kVlan);
        a.load32(2, 6, kVlanTciOff);
        a.store16(8, offsetof(HostRecord, vlan_tci), 2);
        a.load32(2, 6, kVlanProtoOff);
        a.store16(8, offsetof(HostRecord, vlan_proto), 2);
        a.bind(copy);
        a.mov(1, 6);
        a.mov_imm(2, 0);
        a.mov(3, 8);
        a.add_imm(3, sizeof(HostRecord));
        a.mov(4, 7);
        a.call(BPF_FUNC_skb_load_bytes);          // copies paged skbs too
        a.jump_if(BPF_JNE, 0, 0, discard);
        a.mov(1, 8);
        a.mov_imm(2, 0);
        a.call(BPF_FUNC_ringbuf_submit);
        a.jump_to(drop);
        a.bind(discard);
        a.mov(1, 8);
        a.mov_imm(2, 0);
        a.call(BPF_FUNC_ringbuf_discard);
        a.jump_to(drop);
    };
    a.bind(capture);
    // r9 = the ring buffer of host RX ring (flow hash % rings), as netmap
    // picks the host ring by the frame's transmit queue: a flow stays on
    // one ring.  One ring: no hash (and no cost).
    if (ringbufs.size() == 1) {
        a.load_map(9, ringbufs[0]);
    } else {
        const auto chosen = a.label();
        std::vector<Asm::Label> ring_label;
        a.mov(1, 6);
        a.call(BPF_FUNC_get_hash_recalc);         // skb->hash, computed if the stack has none yet
        a.mod32_imm(0, static_cast<int32_t>(ringbufs.size()));
        for (size_t i = 1; i < ringbufs.size(); i++) {
            ring_label.push_back(a.label());
            a.jump_if(BPF_JEQ, 0, static_cast<int32_t>(i), ring_label.back());
        }
        a.load_map(9, ringbufs[0]);
        a.jump_to(chosen);
        for (size_t i = 1; i < ringbufs.size(); i++) {
            a.bind(ring_label[i - 1]);
            a.load_map(9, ringbufs[i]);
            a.jump_to(chosen);
        }
        a.bind(chosen);
    }
    a.load32(7, 6, kLenOff);                      // from the MAC header on egress
    a.jump_if(BPF_JGT, 7, static_cast<int32_t>(kMaxSuperFrame), oversize);
    a.jump_if(BPF_JLT, 7, static_cast<int32_t>(kMinFrame), drop);
    a.jump_if(BPF_JGT, 7, static_cast<int32_t>(max_frame), big);
    record(max_frame);
    a.bind(big);                                  // beyond the MTU: only GSO super-frames
    a.load32(2, 6, kGsoSizeOff);
    a.jump_if(BPF_JEQ, 2, 0, oversize);
    record(kMaxSuperFrame);

    a.bind(oversize);                             // too long to take: only its length,
    a.mov(1, 9);                                  // so that it is counted
    a.mov_imm(2, sizeof(HostRecord));
    a.mov_imm(3, 0);
    a.call(BPF_FUNC_ringbuf_reserve);
    a.jump_if(BPF_JEQ, 0, 0, drop);
    a.store32(0, offsetof(HostRecord, len), 7);
    a.store16_imm(0, offsetof(HostRecord, flags), HostRecord::kOversize);
    a.mov(1, 0);
    a.mov_imm(2, 0);
    a.call(BPF_FUNC_ringbuf_submit);

    // Never to the wire while host rings are bound.  Not TCX_DROP: the
    // sender would see ENOBUFS, where netmap tells the host stack its frame
    // went (netmap_transmit).  A redirect to no interface (ifindex 0) is
    // freed with NET_XMIT_SUCCESS, the only quiet end tcx offers.
    a.bind(drop);
    a.mov_imm(1, 0);
    a.mov_imm(2, 0);
    a.call(BPF_FUNC_redirect);
    a.exit();
    return load("unetmap_hegress", a.finish(), err);
}

BpfFd load_host_unmark(int& err) {
    Asm a;
    const auto next = a.label();
    a.load32(2, 1, kMarkOff);
    a.jump_if(BPF_JNE, 2, static_cast<int32_t>(kHostMark), next);
    a.mov_imm(2, 0);
    a.store32(1, kMarkOff, 2);
    a.exit_with(kTcxPass);
    a.bind(next);
    a.exit_with(kTcxNext);
    return load("unetmap_hunmark", a.finish(), err);
}

BpfFd load_steal(int& err) {
    Asm a;
    const auto next = a.label();
    a.load32(2, 1, kMarkOff);
    a.jump_if(BPF_JEQ, 2, static_cast<int32_t>(kHostMark), next);  // injected by our host TX ring
    a.exit_with(kTcxDrop);
    a.bind(next);
    a.exit_with(kTcxNext);
    return load("unetmap_steal", a.finish(), err);
}

BpfFd attach_tcx(const BpfFd& prog, unsigned ifindex, int where, int& err) {
    bpf_link_create_opts opts{};
    opts.sz = sizeof opts;
    const int fd = bpf_link_create(prog.get(), static_cast<int>(ifindex), static_cast<bpf_attach_type>(where), &opts);
    err = fd >= 0 ? 0 : (errno == EINVAL ? EOPNOTSUPP : errno);
    return BpfFd(fd);
}

bool tcx_has_program(unsigned ifindex, int where, const char* prefix) {
    uint32_t ids[64], count = 64, flags = 0;
    if (bpf_prog_query(static_cast<int>(ifindex), static_cast<bpf_attach_type>(where), 0, &flags, ids, &count) != 0)
        return false;
    for (uint32_t i = 0; i < count && i < 64; i++) {
        BpfFd fd(bpf_prog_get_fd_by_id(ids[i]));
        if (!fd.ok()) continue;
        bpf_prog_info info{};
        uint32_t len = sizeof info;
        if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0 &&
            std::strncmp(info.name, prefix, std::strlen(prefix)) == 0)
            return true;
    }
    return false;
}

}  // namespace unetmap::nic
