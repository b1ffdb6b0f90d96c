// fuzz_ctl_request: NIOCCTRL with an nmreq_header, its body and a chain of
// options laid out in one buffer, through a real open("/dev/netmap")
// descriptor and ioctl() (both interposed by the library linked in).
// Pointers are fixed up to point inside the buffer, or, as the input
// chooses, at NULL, an unmapped guard page, a read-only page, half a
// structure before the guard page, or wild addresses (EFAULT paths).
//
// State stays bounded: one descriptor, reopened after a successful
// REGISTER (or after at most 8 more requests when the input asks to keep
// it), and closed every 1024 inputs; a VALE_NEWIF or VALE_ATTACH that
// succeeds, or fails only to copy its reply out, is undone at once
// (DELIF / DETACH); the private state directory
// is checked to hold only a handful of files.
#include <poll.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <net/netmap.h>

#include "ctl_input.h"
#include "fuzz_common.h"

namespace {

fuzz::Arena g_arena;
int g_fd = -1;
int g_registered_for = -1;  // requests since the descriptor was registered, -1 if not
unsigned long g_iter = 0;

void reopen() {
    if (g_fd >= 0) ::close(g_fd);
    g_fd = ::open("/dev/netmap", O_RDWR);
    FUZZ_CHECK(g_fd >= 0, "open(/dev/netmap): %s", std::strerror(errno));
    g_registered_for = -1;
}

uint64_t wild_ptr(uint8_t mode, void* proper, size_t size) {
    using namespace fuzz;
    switch (mode % kNumPtrModes) {
        case kPtrNull: return 0;
        case kPtrGuard: return reinterpret_cast<uint64_t>(g_arena.guard()) + 128;
        case kPtrStraddle: return reinterpret_cast<uint64_t>(g_arena.put_straddling(proper, std::min<size_t>(size / 2, 12)));
        case kPtrReadOnly: return reinterpret_cast<uint64_t>(g_arena.put_ro(proper, size));
        case kPtrLow: return 0x1000;
        case kPtrHigh: return 0xffff800000001000ull;
        case kPtrMisaligned: {
            unsigned char* at = g_arena.rw() + 3 * fuzz::Arena::kPage + 1;  // room: 4095 bytes
            std::memmove(at, proper, size < 4000 ? size : 4000);
            return reinterpret_cast<uint64_t>(at);
        }
        default: return reinterpret_cast<uint64_t>(proper);
    }
}

// A clean request to undo a persistent change (DELIF / DETACH).  With
// `must` false the change may not have happened (the request failed with
// EFAULT: at copy-in, nothing was done; at copy-out, it was done).
void undo(uint16_t reqtype, const char* name, bool must = true) {
    nmreq_header h{};
    h.nr_version = NETMAP_API;
    h.nr_reqtype = reqtype;
    std::memcpy(h.nr_name, name, NETMAP_REQ_IFNAMSIZ);
    h.nr_name[NETMAP_REQ_IFNAMSIZ - 1] = '\0';
    nmreq_vale_detach body{};
    h.nr_body = reqtype == NETMAP_REQ_VALE_DELIF ? 0 : reinterpret_cast<uint64_t>(&body);
    int rc = ::ioctl(g_fd, NIOCCTRL, &h);
    if (!must) return;
    FUZZ_CHECK(rc == 0, "undo of request %u on '%s' failed: %s", reqtype, h.nr_name, std::strerror(errno));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::setup_state_dir("ctl");
    g_arena.init();
    reopen();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace fuzz;
    // Lay the input out: prefix, header, body, options (zero-padded).
    constexpr size_t kHdrOfs = 0, kBodyOfs = 256, kOptOfs = 1024;
    static_assert(kOptOfs + kMaxFuzzOpts * kOptBytes <= Arena::kArenaPages * Arena::kPage - Arena::kPage);
    unsigned char* a = g_arena.rw();
    std::memset(a, 0, 3 * Arena::kPage);
    CtlPrefix pre{};
    size_t pos = 0;
    auto take = [&](void* dst, size_t n) {
        const size_t k = pos < size ? std::min(n, size - pos) : 0;
        if (k) std::memcpy(dst, data + pos, k);
        pos += n;
    };
    take(&pre, sizeof pre);
    auto* h = reinterpret_cast<nmreq_header*>(a + kHdrOfs);
    take(h, sizeof *h);
    take(a + kBodyOfs, kBodyBytes);
    const unsigned nopts = pre.nopts % (kMaxFuzzOpts + 1);
    for (unsigned i = 0; i < nopts; i++) take(a + kOptOfs + i * kOptBytes, kOptBytes);

    // Fix the pointers up.
    auto opt_at = [&](unsigned i) { return reinterpret_cast<nmreq_option*>(a + kOptOfs + i * kOptBytes); };
    const uint8_t om = pre.opt_mode % 6;
    if (om != 5)
        for (unsigned i = 0; i < nopts; i++)
            opt_at(i)->nro_next = i + 1 < nopts ? reinterpret_cast<uint64_t>(opt_at(i + 1)) : 0;
    if (nopts && om == 2) opt_at(nopts - 1)->nro_next = wild_ptr(pre.opt_wild, opt_at(0), kOptBytes);
    if (nopts && om == 3) opt_at(nopts - 1)->nro_next = reinterpret_cast<uint64_t>(opt_at(0));
    if (nopts && om == 4) opt_at(nopts - 1)->nro_next = reinterpret_cast<uint64_t>(opt_at(nopts - 1));
    h->nr_options = (nopts && om != 1) ? reinterpret_cast<uint64_t>(opt_at(0)) : 0;
    h->nr_body = wild_ptr(pre.body_mode, a + kBodyOfs, kBodyBytes);
    const nmreq_header sent = *h;  // what we asked (the reply may rewrite nr_name)
    void* hp = reinterpret_cast<void*>(wild_ptr(pre.hdr_mode, h, sizeof *h));

    if (pre.flags & kReopenBefore) reopen();
    const int rc = ::ioctl(g_fd, NIOCCTRL, hp);
    const int err = rc == 0 ? 0 : errno;
    if (fuzz::verbose()) {
        std::string files;
        count_state_files(&files);
        std::fprintf(stderr, "req %u '%.64s' opts %u flags %#x -> %d (%s); state:%s\n", sent.nr_reqtype,
                     sent.nr_name, nopts, pre.flags, rc, std::strerror(err), files.c_str());
    }
    FUZZ_CHECK(rc == 0 || rc == -1, "ioctl returned %d", rc);
    FUZZ_CHECK(rc == 0 || err != 0, "ioctl failed with errno 0");

    if (rc == 0) {
        // Undo what would outlive the descriptor.
        if (sent.nr_reqtype == NETMAP_REQ_VALE_NEWIF) undo(NETMAP_REQ_VALE_DELIF, sent.nr_name);
        if (sent.nr_reqtype == NETMAP_REQ_VALE_ATTACH) undo(NETMAP_REQ_VALE_DETACH, sent.nr_name);
        if (sent.nr_reqtype == NETMAP_REQ_REGISTER) {
            g_registered_for = 0;
            if (pre.flags & kSyncAfter) {
                ::ioctl(g_fd, NIOCTXSYNC, nullptr);
                ::ioctl(g_fd, NIOCRXSYNC, nullptr);
                pollfd p{g_fd, POLLIN | POLLOUT, 0};
                FUZZ_CHECK(::poll(&p, 1, 0) >= 0, "poll: %s", std::strerror(errno));
            }
            if (!(pre.flags & kKeepRegistered)) reopen();
        }
    }
    // A request whose reply could not be copied out (EFAULT: the body is
    // read-only) has still done its work, as in netmap, which copies the
    // reply out after the handler ran: a REGISTER stays registered, start
    // afresh; a VALE_NEWIF or VALE_ATTACH must be undone (or the
    // persistent ports and their regions pile up).
    if (rc != 0 && err == EFAULT) {
        if (sent.nr_reqtype == NETMAP_REQ_REGISTER) reopen();
        if (sent.nr_reqtype == NETMAP_REQ_VALE_NEWIF) undo(NETMAP_REQ_VALE_DELIF, sent.nr_name, false);
        if (sent.nr_reqtype == NETMAP_REQ_VALE_ATTACH) undo(NETMAP_REQ_VALE_DETACH, sent.nr_name, false);
    }
    if (g_registered_for >= 0 && ++g_registered_for > 8) reopen();
    if (++g_iter % 1024 == 0) reopen();
    // ctl, the global region, one private region, one socket, plus slack.
    check_state_bounded(12);
    return 0;
}
