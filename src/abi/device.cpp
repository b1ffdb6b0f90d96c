// The process-local table of netmap descriptors and the C entry points
// behind the interposed system calls.
#include "abi/device.h"

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sched.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

#include <net/netmap.h>
#include <net/netmap_legacy.h>

#include "core/descriptor.h"
#include "core/registry.h"
#include "core/shm.h"
#include "core/syscalls.h"
#include "ctl/requests.h"

namespace unetmap {
namespace {

// fd -> Descriptor*, two levels so lookups are lock-free and the table
// costs nothing until used.  Covers descriptors below 2^20.
constexpr int kChunkBits = 10, kChunk = 1 << kChunkBits, kChunks = 1024;
std::atomic<std::atomic<Descriptor*>*> g_table[kChunks];

std::atomic<Descriptor*>* slot_for(int fd, bool create) {
    if (fd < 0 || fd >= kChunk * kChunks) return nullptr;
    auto& top = g_table[fd >> kChunkBits];
    auto* chunk = top.load(std::memory_order_acquire);
    if (!chunk && create) {
        auto* fresh = new std::atomic<Descriptor*>[kChunk]();
        if (top.compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel)) chunk = fresh;
        else delete[] fresh;
    }
    return chunk ? &chunk[fd & (kChunk - 1)] : nullptr;
}

Descriptor* lookup(int fd) {
    auto* s = slot_for(fd, false);
    return s ? s->load(std::memory_order_acquire) : nullptr;
}

// Descriptors found not to be ours by a poll, select or epoll_ctl
// (below): a bit per descriptor, in the same two levels, so that looking
// again costs one load instead of a getsockname().  Cleared when the
// descriptor number is closed or replaced through us (close, dup2, dup3,
// dup, fcntl F_DUPFD, open of /dev/netmap); an exec starts afresh.
std::atomic<std::atomic<uint64_t>*> g_foreign[kChunks];

std::atomic<uint64_t>* foreign_word(int fd, bool create) {
    if (fd < 0 || fd >= kChunk * kChunks) return nullptr;
    auto& top = g_foreign[fd >> kChunkBits];
    auto* chunk = top.load(std::memory_order_acquire);
    if (!chunk && create) {
        auto* fresh = new std::atomic<uint64_t>[kChunk / 64]();
        if (top.compare_exchange_strong(chunk, fresh, std::memory_order_acq_rel)) chunk = fresh;
        else delete[] fresh;
    }
    return chunk ? &chunk[(fd & (kChunk - 1)) / 64] : nullptr;
}

bool known_foreign(int fd) {
    auto* w = foreign_word(fd, false);
    return w && (w->load(std::memory_order_relaxed) >> (fd % 64) & 1);
}

void set_foreign(int fd) {
    if (auto* w = foreign_word(fd, true)) w->fetch_or(uint64_t{1} << (fd % 64), std::memory_order_relaxed);
}

void clear_foreign(int fd) {
    auto* w = foreign_word(fd, false);
    if (w && (w->load(std::memory_order_relaxed) >> (fd % 64) & 1))
        w->fetch_and(~(uint64_t{1} << (fd % 64)), std::memory_order_relaxed);
}

bool is_netmap_ioctl(unsigned long req) {
    return req == NIOCCTRL || req == NIOCTXSYNC || req == NIOCRXSYNC || req == NIOCREGIF ||
           req == NIOCGINFO;
}

void close_all_at_exit();

// Release this process's bindings at a normal exit, as the kernel closes
// descriptors (a crash leaves them to the next gc).
void ensure_exit_handler() {
    static const bool registered = [] { return std::atexit(close_all_at_exit) == 0; }();
    (void)registered;
}

// A descriptor we did not create in this process (received over
// SCM_RIGHTS, or inherited across exec): recognise it by the path its
// socket is bound to, and rebuild our state from the registry.
Descriptor* adopt(int fd) {
    sockaddr_un sa{};
    socklen_t len = sizeof sa;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0 || sa.sun_family != AF_UNIX)
        return nullptr;
    const std::string prefix = state_path("b");
    if (std::strncmp(sa.sun_path, prefix.c_str(), prefix.size()) != 0) return nullptr;
    char* end = nullptr;
    const unsigned long b = std::strtoul(sa.sun_path + prefix.size(), &end, 10);
    if (*end != '.' || b >= kMaxBindings) return nullptr;
    ensure_exit_handler();
    auto* d = new Descriptor(fd);
    if (d->adopt(static_cast<uint32_t>(b), static_cast<uint32_t>(std::strtoul(end + 1, nullptr, 10))) != 0) {
        delete d;
        return nullptr;
    }
    auto* s = slot_for(fd, true);
    Descriptor* expected = nullptr;
    if (!s->compare_exchange_strong(expected, d)) {
        delete d;
        return expected;
    }
    return d;
}

// Ours, or adopted now if it is a netmap descriptor inherited or received
// that has not been used here yet (its first call may be a poll); the
// answer "not ours" is remembered until the number is closed or reused.
Descriptor* lookup_or_adopt(int fd) {
    if (Descriptor* d = lookup(fd)) return d;
    if (fd < 0 || known_foreign(fd)) return nullptr;
    Descriptor* d = adopt(fd);
    if (!d) set_foreign(fd);
    return d;
}

void close_all_at_exit() {
    for (int c = 0; c < kChunks; c++) {
        auto* chunk = g_table[c].load(std::memory_order_acquire);
        if (!chunk) continue;
        for (int i = 0; i < kChunk; i++)
            if (Descriptor* d = chunk[i].exchange(nullptr)) {
                sys::close(d->fd());
                d->on_close();
                delete d;
            }
    }
}

struct TimeLeft {
    bool infinite;
    struct timespec deadline;
    explicit TimeLeft(const struct timespec* t) : infinite(t == nullptr), deadline{} {
        if (t) {
            clock_gettime(CLOCK_MONOTONIC, &deadline);
            deadline.tv_sec += t->tv_sec;
            deadline.tv_nsec += t->tv_nsec;
            if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000L;
            }
        }
    }
    // Remaining time, or nullptr for no limit; zero once expired.
    const struct timespec* remaining(struct timespec& out) const {
        if (infinite) return nullptr;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long ns = (deadline.tv_sec - now.tv_sec) * 1000000000LL + (deadline.tv_nsec - now.tv_nsec);
        if (ns < 0) ns = 0;
        out.tv_sec = ns / 1000000000LL;
        out.tv_nsec = ns % 1000000000LL;
        return &out;
    }
    bool expired() const {
        struct timespec t;
        return !infinite && remaining(t)->tv_sec == 0 && t.tv_nsec == 0;
    }
};

long long mono_ns() {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

// How long poll() spins before sleeping: UNETMAP_POLL_SPIN_US (default
// 50 us; 0 disables).
long long spin_ns() {
    // An atomic, not a function-local static: poll() is reached from inside
    // sanitizer runtimes' poll interceptors, where a static's guard is not
    // seen as synchronisation (ThreadSanitizer then reports a race).  Racing
    // first callers compute the same value.
    static std::atomic<long long> cached{-1};
    long long ns = cached.load(std::memory_order_relaxed);
    if (ns < 0) {
        const char* v = std::getenv("UNETMAP_POLL_SPIN_US");
        const long long us = v && *v ? std::atoll(v) : 50;
        ns = us < 0 ? 0 : us * 1000;
        cached.store(ns, std::memory_order_relaxed);
    }
    return ns;
}

// Small inline storage so a poll() over a handful of descriptors does not
// allocate.
template <class T, size_t N> struct SmallVec {
    T inline_[N];
    std::vector<T> heap_;
    T* p_;
    explicit SmallVec(size_t n) : p_(inline_) {
        if (n > N) {
            heap_.resize(n);
            p_ = heap_.data();
        }
    }
    T& operator[](size_t i) { return p_[i]; }
};

}  // namespace
}  // namespace unetmap

using namespace unetmap;

extern "C" {

int unetmap_dev_is_path(const char* path) { return path && std::strcmp(path, "/dev/netmap") == 0; }

int unetmap_dev_open(int flags) {
    ensure_exit_handler();
    if ((flags & O_ACCMODE) != O_RDWR && (flags & O_ACCMODE) != O_RDONLY) {
        errno = EINVAL;
        return -1;
    }
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | ((flags & O_CLOEXEC) ? SOCK_CLOEXEC : 0), 0);
    if (fd < 0) return -1;
    clear_foreign(fd);
    auto* s = slot_for(fd, true);
    if (!s) {
        sys::close(fd);
        errno = EMFILE;
        return -1;
    }
    delete s->exchange(new Descriptor(fd));  // a stale entry means fd was closed behind our back
    return fd;
}

int unetmap_dev_owns(int fd) { return lookup(fd) != nullptr; }

}  // extern "C"

unetmap::Descriptor* unetmap_dev_lookup(int fd) { return lookup(fd); }
unetmap::Descriptor* unetmap_dev_lookup_or_adopt(int fd) { return lookup_or_adopt(fd); }

extern "C" {

int unetmap_dev_ioctl(int fd, unsigned long req, void* arg, int* handled) {
    Descriptor* d = lookup(fd);
    if (!d && is_netmap_ioctl(req)) d = adopt(fd);
    if (!d) {
        *handled = 0;
        return 0;
    }
    *handled = 1;
    int err;
    switch (req) {
        case NIOCCTRL: err = ctl_request(*d, arg); break;
        case NIOCTXSYNC: err = d->sync(kTx); break;
        case NIOCRXSYNC: err = d->sync(kRx); break;
        case NIOCREGIF:
        case NIOCGINFO: err = ctl_legacy(*d, req, arg); break;
        case FIONBIO: err = 0; break;  // accepted, meaningless for netmap
        default: err = ENOTTY; break;
    }
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

void* unetmap_dev_mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off, int* handled) {
    Descriptor* d = lookup(fd);
    if (!d) d = adopt(fd);
    if (!d) {
        *handled = 0;
        return MAP_FAILED;
    }
    *handled = 1;
    return d->map(addr, len, prot, flags, off);
}

int unetmap_dev_close(int fd, int* handled) {
    clear_foreign(fd);  // the number may come back as anything
    auto* s = slot_for(fd, false);
    Descriptor* d = s ? s->exchange(nullptr) : nullptr;
    if (!d) {
        unetmap_dev_epoll_forget(fd);  // in case fd is an epoll instance we know
        *handled = 0;
        return 0;
    }
    *handled = 1;
    const int r = sys::close(fd);
    const int err = errno;
    d->on_close();  // after the close: our own fd must not count as a holder
    delete d;
    errno = err;
    return r;
}

void unetmap_dev_dup_done(int oldfd, int newfd) {
    if (newfd != oldfd) clear_foreign(newfd);  // a copy of oldfd now, whatever it was
    Descriptor* d = lookup(oldfd);
    if (!d || newfd < 0 || oldfd == newfd) return;
    auto* copy = new Descriptor(newfd);
    if (d->registered() && copy->adopt(d->binding(), d->binding_gen()) != 0) {
        delete copy;
        return;
    }
    auto* s = slot_for(newfd, true);
    if (!s) {
        delete copy;
        return;
    }
    delete s->exchange(copy);
}

void* unetmap_dev_forget(int fd) {
    clear_foreign(fd);
    auto* s = slot_for(fd, false);
    return s ? s->exchange(nullptr) : nullptr;
}

void unetmap_dev_release_forgotten(void* state) {
    if (auto* d = static_cast<Descriptor*>(state)) {
        d->on_close();  // the kernel closed its socket as part of dup2/dup3
        delete d;
    }
}

int unetmap_dev_any_in_sets(int nfds, const void* r, const void* w, const void* e) {
    const fd_set* sets[3] = {static_cast<const fd_set*>(r), static_cast<const fd_set*>(w),
                             static_cast<const fd_set*>(e)};
    for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++)
        for (const fd_set* s : sets)
            if (s && FD_ISSET(fd, s) && lookup_or_adopt(fd)) return 1;
    return 0;
}

int unetmap_dev_poll(struct pollfd* fds, nfds_t n, const struct timespec* timeout,
                     const sigset_t* sigmask, int* handled) {
    SmallVec<Descriptor*, 16> desc(n);
    SmallVec<short, 16> want(n);
    size_t ours = 0, others = 0;
    for (nfds_t i = 0; i < n; i++) {
        desc[i] = fds[i].fd >= 0 ? lookup_or_adopt(fds[i].fd) : nullptr;
        want[i] = fds[i].events;
        ours += desc[i] != nullptr;
        others += desc[i] == nullptr && fds[i].fd >= 0;
    }
    if (!ours) {
        *handled = 0;
        return 0;
    }
    *handled = 1;
    const TimeLeft left(timeout);
    const struct timespec zero{0, 0};

    // One pass: netmap readiness for ours, the kernel's for the others.
    auto check = [&]() -> int {
        int ready = 0;
        if (others) {
            for (nfds_t i = 0; i < n; i++) fds[i].events = desc[i] ? 0 : want[i];
            int r = static_cast<int>(::syscall(SYS_ppoll, fds, n, &zero, nullptr, 0));
            for (nfds_t i = 0; i < n; i++) fds[i].events = want[i];
            if (r < 0) return -1;
        }
        for (nfds_t i = 0; i < n; i++) {
            if (desc[i]) fds[i].revents = desc[i]->poll_ready(want[i]);
            else if (!others || fds[i].fd < 0) fds[i].revents = 0;
            ready += fds[i].revents != 0;
        }
        return ready;
    };

    for (;;) {
        int ready = check();
        if (ready != 0 || left.expired()) return ready;
        // Before sleeping, keep looking for a short while: at high rates
        // the peer publishes again within microseconds, and a sleep costs
        // both sides a system call and a context switch per batch.
        // Yield between looks: if the peer shares our core, spinning would
        // only keep it from running (sched_yield returns at once otherwise).
        if (spin_ns() > 0) {
            const long long until = mono_ns() + spin_ns();
            do {
                for (int i = 0; i < 16; i++) cpu_relax();
                sched_yield();
                ready = check();
            } while (ready == 0 && mono_ns() < until && !left.expired());
            if (ready != 0) return ready;
        }
        // Nothing yet: ask to be woken, look once more (a peer may have
        // published between the check and the arming), then sleep.
        for (nfds_t i = 0; i < n; i++)
            if (desc[i]) desc[i]->arm(want[i]);
        ready = check();
        if (ready != 0) {
            for (nfds_t i = 0; i < n; i++)
                if (desc[i]) desc[i]->disarm();
            return ready;
        }
        // Ours sleep on their wait descriptor: the socket peers send
        // wakeups to, or (NIC ports) one that also wakes on their traffic.
        for (nfds_t i = 0; i < n; i++) {
            fds[i].events = desc[i] ? POLLIN : want[i];
            if (desc[i]) fds[i].fd = desc[i]->wait_fd();
        }
        struct timespec rem;
        int r = static_cast<int>(
            ::syscall(SYS_ppoll, fds, n, left.remaining(rem), sigmask, sigmask ? _NSIG / 8 : 0));
        const int err = errno;
        for (nfds_t i = 0; i < n; i++) {
            fds[i].events = want[i];
            if (desc[i]) {
                fds[i].fd = desc[i]->fd();
                desc[i]->disarm();
                if (fds[i].revents & POLLIN) desc[i]->drain_wakeups();
                fds[i].revents = 0;
            }
        }
        if (r < 0) {
            errno = err;
            return -1;
        }
    }
}

}  // extern "C"
