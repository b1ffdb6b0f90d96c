// fuzz_legacy_nmreq: the legacy API, a struct nmreq with NIOCREGIF or
// NIOCGINFO (and a few other ioctl numbers) through a real
// open("/dev/netmap") descriptor.  The nmreq pointer is the arena, NULL,
// a guard page, half a structure, a read-only page or wild, as the input
// chooses.  Same state bounds as fuzz_ctl_request: a NETMAP_BDG_NEWIF or
// NETMAP_BDG_ATTACH command (nr_cmd) that succeeds, or fails only to copy
// its reply out, is undone at once (BDG_DELIF / BDG_DETACH).
#include <poll.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include <net/netmap.h>
#include <net/netmap_legacy.h>

#include "ctl_input.h"
#include "fuzz_common.h"

namespace {

fuzz::Arena g_arena;
int g_fd = -1;
int g_registered_for = -1;
unsigned long g_iter = 0;

void reopen() {
    if (g_fd >= 0) ::close(g_fd);
    g_fd = ::open("/dev/netmap", O_RDWR);
    FUZZ_CHECK(g_fd >= 0, "open(/dev/netmap): %s", std::strerror(errno));
    g_registered_for = -1;
}

// Undo a persistent change with a clean legacy command.  With `must`
// false the change may not have happened (EFAULT at copy-in: nothing was
// done; at copy-out: it was).
void undo(uint16_t nr_cmd, const char* name, bool must) {
    nmreq q{};
    std::memcpy(q.nr_name, name, sizeof q.nr_name);
    q.nr_name[sizeof q.nr_name - 1] = '\0';
    q.nr_version = NETMAP_API;
    q.nr_cmd = nr_cmd;
    const int rc = ::ioctl(g_fd, NIOCREGIF, &q);
    if (!must) return;
    FUZZ_CHECK(rc == 0, "undo of nr_cmd %u on '%s' failed: %s", nr_cmd, q.nr_name, std::strerror(errno));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::setup_state_dir("legacy");
    g_arena.init();
    reopen();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace fuzz;
    LegacyPrefix pre{};
    std::memcpy(&pre, data, std::min(size, sizeof pre));
    unsigned char* a = g_arena.rw();
    std::memset(a, 0, 2 * Arena::kPage);
    auto* q = reinterpret_cast<nmreq*>(a);
    if (size > sizeof pre) std::memcpy(q, data + sizeof pre, std::min(size - sizeof pre, sizeof *q));
    if (q->nr_cmd == NETMAP_POOLS_INFO_GET) {
        // nr_arg1..nr_arg3 hold where the library writes a struct
        // netmap_pools_info.  Any address the input spells could be our own
        // heap (libFuzzer learns values from comparisons), and a write
        // there is the application's doing, not the library's bug: the
        // choice is among addresses whose fate is known.
        uint64_t where;
        std::memcpy(&where, &q->nr_arg1, sizeof where);
        switch (where % 6) {
            case 0: where = reinterpret_cast<uintptr_t>(a + Arena::kPage + 1024); break;  // writable
            case 1: where = reinterpret_cast<uintptr_t>(g_arena.guard()); break;
            case 2: where = reinterpret_cast<uintptr_t>(g_arena.ro()); break;
            case 3: where = reinterpret_cast<uintptr_t>(g_arena.guard() - 16); break;  // straddles the guard
            case 4: where = 0x1000; break;
            default: where = 0; break;
        }
        std::memcpy(&q->nr_arg1, &where, sizeof where);
    }
    const nmreq sent = *q;

    void* p = q;
    switch (pre.ptr_mode % kNumPtrModes) {
        case kPtrNull: p = nullptr; break;
        case kPtrGuard: p = g_arena.guard() + 64; break;
        case kPtrStraddle: p = g_arena.put_straddling(q, sizeof *q / 2); break;
        case kPtrReadOnly: p = g_arena.put_ro(q, sizeof *q); break;
        case kPtrLow: p = reinterpret_cast<void*>(0x1000); break;
        case kPtrHigh: p = reinterpret_cast<void*>(0xffff800000001000ull); break;
        case kPtrMisaligned:
            p = a + Arena::kPage + 1;
            std::memcpy(p, q, sizeof *q);
            break;
        default: break;
    }
    unsigned long cmd;
    switch (pre.cmd % 8) {
        case 0: case 1: cmd = NIOCREGIF; break;
        case 2: case 3: cmd = NIOCGINFO; break;
        case 4: cmd = NIOCCONFIG; break;
        case 5: cmd = FIONBIO; break;
        case 6: cmd = _IOWR('i', 147, struct nmreq); break;  // unknown netmap number
        default: cmd = NIOCTXSYNC; break;                    // a sync (ENXIO unless registered)
    }
    if (pre.flags & kReopenBefore) reopen();
    const int rc = ::ioctl(g_fd, cmd, p);
    const int err = rc == 0 ? 0 : errno;
    if (fuzz::verbose())
        std::fprintf(stderr, "cmd %#lx '%.16s' -> %d (%s)\n", cmd, sent.nr_name, rc, std::strerror(err));
    FUZZ_CHECK(rc == 0 || rc == -1, "ioctl returned %d", rc);
    FUZZ_CHECK(rc == 0 || err != 0, "ioctl failed with errno 0");
    if (cmd == NIOCREGIF && (rc == 0 || err == EFAULT)) {
        if (sent.nr_cmd == NETMAP_BDG_NEWIF) undo(NETMAP_BDG_DELIF, sent.nr_name, rc == 0);
        if (sent.nr_cmd == NETMAP_BDG_ATTACH) undo(NETMAP_BDG_DETACH, sent.nr_name, rc == 0);
    }
    if (cmd == NIOCREGIF && (rc == 0 || err == EFAULT)) {
        if (rc == 0) g_registered_for = 0;
        if (rc == 0 && (pre.flags & kSyncAfter)) {
            ::ioctl(g_fd, NIOCTXSYNC, nullptr);
            ::ioctl(g_fd, NIOCRXSYNC, nullptr);
            pollfd pf{g_fd, POLLIN | POLLOUT, 0};
            FUZZ_CHECK(::poll(&pf, 1, 0) >= 0, "poll: %s", std::strerror(errno));
        }
        if (rc != 0 || !(pre.flags & kKeepRegistered)) reopen();
    }
    if (g_registered_for >= 0 && ++g_registered_for > 8) reopen();
    if (++g_iter % 1024 == 0) reopen();
    check_state_bounded(12);
    return 0;
}
