// epoll on netmap descriptors.
//
// The kernel sees our descriptors as sockets that become readable only
// when a peer sends a wakeup, and a peer sends one only to a descriptor
// that armed itself first.  So epoll_ctl remembers, per epoll instance,
// which netmap descriptors it watches (and registers their sockets with
// the kernel for POLLIN under a marker), and epoll_wait does what poll
// does: netmap readiness first (with the implicit syncs), a short spin,
// then arm, re-check, and sleep in the kernel's epoll_wait.  Events come
// back with the user's epoll_data.  Readiness is level-triggered: EPOLLET
// and EPOLLONESHOT are accepted and treated as level-triggered.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

#include "abi/device.h"
#include "core/descriptor.h"

namespace unetmap {
namespace {

// Marks the kernel-side registration of one of our sockets: no real
// epoll_data we hand back carries it.
constexpr uint64_t kMarker = 0x756e6d6100000000ULL;  // "unma" in the top 4 bytes, fd below
constexpr uint64_t kMarkerMask = 0xffffffff00000000ULL;

struct Watched {
    int fd;
    uint32_t events;
    epoll_data_t data;
};

struct EpollSet {
    std::mutex mu;
    std::vector<Watched> ours;
};

// Indexed by epoll fd; grows, never shrinks.  Never destroyed: close() is
// interposed and still called after static destructors have run.
struct EpollSets {
    std::mutex mu;
    std::vector<EpollSet*> by_fd;
};
EpollSets& sets() {
    static EpollSets* s = new EpollSets();
    return *s;
}

EpollSet* set_for(int epfd, bool create) {
    EpollSets& all = sets();
    std::lock_guard lk(all.mu);
    if (epfd < 0) return nullptr;
    if (static_cast<size_t>(epfd) >= all.by_fd.size()) {
        if (!create) return nullptr;
        all.by_fd.resize(static_cast<size_t>(epfd) + 1, nullptr);
    }
    if (!all.by_fd[epfd] && create) all.by_fd[epfd] = new EpollSet();
    return all.by_fd[epfd];
}

short poll_events(uint32_t ep) {
    short e = 0;
    if (ep & (EPOLLIN | EPOLLRDNORM)) e |= POLLIN;
    if (ep & (EPOLLOUT | EPOLLWRNORM)) e |= POLLOUT;
    return e;
}

uint32_t epoll_events(short rev, uint32_t wanted) {
    uint32_t e = 0;
    if (rev & POLLIN) e |= wanted & (EPOLLIN | EPOLLRDNORM);
    if (rev & POLLOUT) e |= wanted & (EPOLLOUT | EPOLLWRNORM);
    if (rev & POLLERR) e |= EPOLLERR;
    return e;
}

int real_epoll_wait(int epfd, epoll_event* ev, int max, int timeout_ms, const sigset_t* mask) {
    return static_cast<int>(::syscall(SYS_epoll_pwait, epfd, ev, max, timeout_ms, mask, _NSIG / 8));
}

long long now_ms() {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

}  // namespace
}  // namespace unetmap

using namespace unetmap;

extern "C" {

int unetmap_dev_epoll_ctl(int epfd, int op, int fd, struct epoll_event* ev, int* handled) {
    // A netmap descriptor inherited or received and first used here is
    // adopted when added (not on MOD/DEL: the kernel set holds its socket).
    Descriptor* d = op == EPOLL_CTL_ADD ? unetmap_dev_lookup_or_adopt(fd) : unetmap_dev_lookup(fd);
    if (!d) {
        *handled = 0;
        return 0;
    }
    *handled = 1;
    epoll_event kev{};
    kev.events = EPOLLIN;
    kev.data.u64 = kMarker | static_cast<uint32_t>(fd);
    // The kernel watches what the descriptor sleeps on (its socket, or for
    // a NIC port one that also wakes on the interface's traffic).
    if (::syscall(SYS_epoll_ctl, epfd, op, d->wait_fd(), op == EPOLL_CTL_DEL ? nullptr : &kev) != 0)
        return -1;
    EpollSet* s = set_for(epfd, op != EPOLL_CTL_DEL);
    if (!s) return 0;
    std::lock_guard lk(s->mu);
    auto it = s->ours.begin();
    while (it != s->ours.end() && it->fd != fd) ++it;
    if (op == EPOLL_CTL_DEL) {
        if (it != s->ours.end()) s->ours.erase(it);
    } else if (it != s->ours.end()) {
        it->events = ev->events;
        it->data = ev->data;
    } else {
        s->ours.push_back({fd, ev->events, ev->data});
    }
    return 0;
}

int unetmap_dev_epoll_wait(int epfd, struct epoll_event* out, int max, int timeout_ms,
                           const sigset_t* sigmask, int* handled) {
    EpollSet* s = set_for(epfd, false);
    if (!s) {
        *handled = 0;
        return 0;
    }
    std::vector<Watched> ours;
    {
        std::lock_guard lk(s->mu);
        ours = s->ours;
    }
    if (ours.empty()) {
        *handled = 0;
        return 0;
    }
    *handled = 1;
    if (max <= 0) {
        errno = EINVAL;
        return -1;
    }
    const long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    std::vector<epoll_event> kev(static_cast<size_t>(max) + ours.size());

    // Netmap readiness of ours plus whatever the kernel says of the others
    // right now; kernel reports of our sockets are only wakeups.
    auto collect = [&](int wait_ms) -> int {
        int n = 0;
        for (const Watched& w : ours) {
            if (n >= max) break;
            Descriptor* d = unetmap_dev_lookup(w.fd);
            if (!d) continue;
            const short rev = d->poll_ready(poll_events(w.events));
            if (uint32_t e = epoll_events(rev, w.events)) out[n++] = {e, w.data};
        }
        if (n > 0) wait_ms = 0;
        int k = real_epoll_wait(epfd, kev.data(), static_cast<int>(kev.size()), wait_ms, sigmask);
        if (k < 0) return n > 0 ? n : -1;
        bool woken = false;
        for (int i = 0; i < k; i++) {
            if ((kev[i].data.u64 & kMarkerMask) == kMarker) {
                if (Descriptor* d = unetmap_dev_lookup(static_cast<int>(kev[i].data.u64 & 0xffffffffu)))
                    d->drain_wakeups();
                woken = true;
            } else if (n < max) {
                out[n++] = kev[i];
            }
        }
        return n > 0 ? n : (woken ? -2 : 0);  // -2: woken, look again
    };

    for (;;) {
        int n = collect(0);
        if (n != 0 && n != -2) return n;
        const long long left = deadline < 0 ? -1 : deadline - now_ms();
        if (deadline >= 0 && left <= 0) return 0;
        for (const Watched& w : ours)
            if (Descriptor* d = unetmap_dev_lookup(w.fd)) d->arm(poll_events(w.events));
        n = collect(static_cast<int>(left < 0 ? -1 : left));
        for (const Watched& w : ours)
            if (Descriptor* d = unetmap_dev_lookup(w.fd)) d->disarm();
        if (n != 0 && n != -2) return n;
    }
}

void unetmap_dev_epoll_forget(int epfd) {
    if (EpollSet* s = set_for(epfd, false)) {
        std::lock_guard lk(s->mu);
        s->ours.clear();
    }
}

}  // extern "C"
