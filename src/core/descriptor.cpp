#include "core/descriptor.h"

#include <bit>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/port_type.h"
#include "core/syscalls.h"
#include "ports/monitor.h"

namespace unetmap {

namespace {

thread_local uint32_t t_tag = 0;

void reset_tag_after_fork() { t_tag = 0; }

// netmap's nm_kr_tryget: one sync per ring at a time.  A ring left busy by a
// thread that died is taken over.
bool ring_tryget(KRing& k) {
    const uint32_t me = thread_tag();
    uint32_t expected = 0;
    if (k.busy.compare_exchange_strong(expected, me, std::memory_order_acquire)) return true;
    if (expected == me) return false;  // re-entered from a signal handler: skip
    if (::syscall(SYS_tgkill, ::getpid(), expected, 0) != 0 && errno == ESRCH &&
        ::kill(static_cast<pid_t>(expected), 0) != 0 && errno == ESRCH)
        return k.busy.compare_exchange_strong(expected, me, std::memory_order_acquire);
    return false;
}

void ring_put(KRing& k) { k.busy.store(0, std::memory_order_release); }

bool ring_has_room(const netmap_ring* r) {  // nm_ring_empty() negated, read once
    return __atomic_load_n(&r->cur, __ATOMIC_RELAXED) != __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
}

}  // namespace

uint32_t thread_tag() {
    if (t_tag == 0) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, [] { pthread_atfork(nullptr, nullptr, reset_tag_after_fork); });
        t_tag = static_cast<uint32_t>(::syscall(SYS_gettid));
    }
    return t_tag;
}

void Descriptor::bind(uint32_t binding, uint32_t port, std::shared_ptr<Region> region,
                      const uint32_t qfirst[2], const uint32_t qlast[2], uint64_t flags,
                      uint64_t nifp_ofs, std::shared_ptr<LocalBinding> local) {
    binding_ = binding;
    binding_gen_ = Registry::get().binding(binding).gen;
    port_slot_ = port;
    port_ = &Registry::get().port(port);
    region_ = std::move(region);
    for (int d = 0; d < 2; d++) {
        qfirst_[d] = qfirst[d];
        qlast_[d] = qlast[d];
    }
    flags_ = flags;
    nifp_ofs_ = nifp_ofs;
    local_ = std::move(local);
}

int Descriptor::adopt(uint32_t b, uint32_t gen) {
    Registry& reg = Registry::get();
    CtlGuard g(reg);
    if (g.error()) return g.error();
    if (b >= kMaxBindings || !reg.binding(b).in_use || reg.binding(b).gen != gen) return EBADF;
    BindingEntry& e = reg.binding(b);
    auto region = reg.region(reg.port(e.port).region);
    if (!region) return ENOMEM;
    // A NIC binding needs this process's sockets: shared with the other
    // descriptors of this process that hold them, or opened anew (a
    // descriptor received from a process that has exited).  Without them
    // the descriptor still works for everything but its syncs (ENXIO).
    std::shared_ptr<LocalBinding> local;
    if (const PortType& type = port_type_of(reg.port(e.port)); type.open_local) {
        RingSpan rings;
        for (int d = 0; d < 2; d++) rings.first[d] = e.qfirst[d], rings.last[d] = e.qlast[d];
        (void)type.open_local(reg, e.port, rings, fd_, local);
    }
    bind(b, e.port, std::move(region), e.qfirst, e.qlast, e.flags, e.nifp_ofs, std::move(local));
    return 0;
}

int Descriptor::sync_ring(uint32_t dir, uint32_t i) {
    KRing& k = port_->kring[dir][i];
    auto* ring = region_->at<netmap_ring>(k.ring_ofs);
    if (!ring_tryget(k)) return 0;  // another thread is syncing it: netmap skips too
    Registry& reg = Registry::get();
    SyncContext cx{reg, *region_, *port_, local_.get()};
    const PortType& type = port_type_of(*port_);
    int err = 0;
    const uint32_t head = dir == kTx ? txsync_prologue(k, ring) : rxsync_prologue(k, ring);
    // Copy monitors (src/ports/monitor.h): one relaxed load when there are none.
    const bool monitored = port_->nmonitors.load(std::memory_order_relaxed) != 0;
    MonitorTap tap;
    if (monitored) monitor_before_sync(cx, k, head, tap);
    if (head >= k.num_slots) {
        err = EINVAL;
    } else if (const int e = dir == kTx ? type.txsync(cx, k) : type.rxsync(cx, k); e != 0) {
        err = e;  // the type's reason (EINVAL for a bad slot; ENXIO, ENETDOWN from a NIC)
    } else {
        sync_finalize(k, ring);
        if (dir == kRx) {
            // netmap stamps the ring on every receive sync (netmap_no_timestamp=0).
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ring->ts.tv_sec = ts.tv_sec;
            ring->ts.tv_usec = ts.tv_nsec / 1000;
        }
    }
    if (err) ring_reinit(k, ring, region_->buf_total(), region_->buf_size());
    if (monitored) monitor_after_sync(cx, k, tap, err == 0);
    ring_put(k);
    return err;
}

int Descriptor::sync(uint32_t dir) {
    if (!registered()) return ENXIO;
    int err = 0;
    for (uint32_t i = qfirst_[dir]; i < qlast_[dir]; i++)
        if (int e = sync_ring(dir, i)) err = e;
    return err;
}

short Descriptor::poll_ready(short events) {
    if (!registered()) return POLLERR;
    const short want_rx = events & (POLLIN | POLLRDNORM);
    const short want_tx = events & (POLLOUT | POLLWRNORM);
    short revents = 0;
    bool check_tx = want_tx, check_rx = want_rx;
    // Rings already holding something for the user, with nothing handed
    // back since the last sync: ready without a sync.  (A ring whose head
    // moved must be synced, so released slots go back and a bad head is
    // caught.)
    for (uint32_t d = 0; d < 2; d++) {
        bool& check = d == kTx ? check_tx : check_rx;
        if (!check || (d == kRx && (flags_ & NR_DO_RX_POLL))) continue;
        for (uint32_t i = qfirst_[d]; i < qlast_[d]; i++) {
            const KRing& k = port_->kring[d][i];
            const auto* ring = region_->at<netmap_ring>(k.ring_ofs);
            if (__atomic_load_n(&ring->head, __ATOMIC_RELAXED) != k.rhead) continue;
            if (ring_has_room(ring)) {
                revents |= d == kTx ? want_tx : want_rx;
                check = false;
                break;
            }
        }
    }
    if (check_tx || !(flags_ & NR_NO_TX_POLL)) {
        for (uint32_t i = qfirst_[kTx]; i < qlast_[kTx]; i++) {
            KRing& k = port_->kring[kTx][i];
            auto* ring = region_->at<netmap_ring>(k.ring_ofs);
            // Nothing to send and space already found: skip (netmap does too).
            if (!check_tx && __atomic_load_n(&ring->head, __ATOMIC_RELAXED) ==
                                 k.hwcur.load(std::memory_order_relaxed))
                continue;
            if (sync_ring(kTx, i)) revents |= POLLERR;
            if (check_tx && k.rcur != k.rtail) {
                revents |= want_tx;
                check_tx = false;
            }
        }
    }
    if (check_rx || (want_rx && (flags_ & NR_DO_RX_POLL))) {
        for (uint32_t i = qfirst_[kRx]; i < qlast_[kRx]; i++) {
            KRing& k = port_->kring[kRx][i];
            if (sync_ring(kRx, i)) revents |= POLLERR;
            if (k.rcur != k.rtail) revents |= want_rx;
        }
    }
    return revents;
}

void Descriptor::arm(short events) {
    if (!registered()) return;
    uint32_t bits = 0;
    if (events & (POLLIN | POLLRDNORM)) bits |= 1u << kRx;
    if (events & (POLLOUT | POLLWRNORM)) bits |= 1u << kTx;
    if (local_) local_->arm((bits & (1u << kRx)) != 0);
    BindingEntry& b = Registry::get().binding(binding_);
    // Count ourselves as a sleeper before raising the flag: a notifier that
    // sees the flag must find the count nonzero (see Registry::notify).
    const uint32_t old = b.armed.load(std::memory_order_relaxed);
    const uint32_t add = bits & ~old;
    if (!add) return;
    port_->sleepers.fetch_add(std::popcount(add), std::memory_order_seq_cst);
    const uint32_t prev = b.armed.fetch_or(add, std::memory_order_seq_cst);
    if (const uint32_t dup = prev & add) port_->sleepers.fetch_sub(std::popcount(dup));
    // Pairs with the notifier's fence: our flag is visible before we look
    // at the rings again, or the notifier's update is visible to that look.
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

void Descriptor::disarm() {
    if (!registered()) return;
    BindingEntry& b = Registry::get().binding(binding_);
    const uint32_t prev = b.armed.exchange(0, std::memory_order_seq_cst);
    if (prev) port_->sleepers.fetch_sub(std::popcount(prev), std::memory_order_relaxed);
    if (local_) local_->disarm();
}

void Descriptor::drain_wakeups() {
    char buf[64];
    while (::recv(fd_, buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
}

void* Descriptor::map(void* addr, size_t len, int prot, int flags, off_t off) {
    if (!registered()) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    if (off < 0 || len == 0 || static_cast<uint64_t>(off) + len > region_->memsize()) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    const std::string path = Registry::get().region_file(port_->region);
    int fd = sys::open(path.c_str(), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) return MAP_FAILED;
    void* p = sys::mmap(addr, len, prot, flags, fd, off);
    int err = errno;
    sys::close(fd);
    errno = err;
    return p;
}

void Descriptor::on_close() {
    if (!registered()) return;
    local_.reset();  // our sockets (NIC ports) go before the binding may be released
    Registry& reg = Registry::get();
    {
        // No control file: an earlier closer collected our binding along
        // with everything else and removed the file; nothing to do.
        CtlGuard g(reg, CtlGuard::kExisting);
        // Our binding lives on if still held through a dup, a fork or a
        // descriptor passed to another process.  Collect every binding
        // nobody holds any more, ours included: a process that received
        // one of our descriptors may have exited since.
        if (!g.error()) reg.gc();
    }
    binding_ = kNone;
    port_ = nullptr;
    region_.reset();
}

}  // namespace unetmap
