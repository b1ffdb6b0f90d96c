/*
 * The libc symbols a netmap program uses to talk to /dev/netmap.
 *
 * libnetmap.so defines them so that, linked (-lnetmap) or preloaded
 * (LD_PRELOAD), it sees those calls first.  Each one asks device.cpp
 * whether the descriptor (or path) is ours; if not, the call goes to the
 * next definition (libc's, found once with dlsym(RTLD_NEXT)).  For
 * descriptors that are not netmap's this costs one table lookup; mmap of
 * an unknown file descriptor also asks the kernel its socket name once
 * (to recognise netmap descriptors received from other processes).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "abi/device.h"

#define UNETMAP_EXPORT __attribute__((visibility("default")))

/* Fortify entry points glibc declares only under _FORTIFY_SOURCE. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __poll_chk(struct pollfd *fds, nfds_t n, int timeout_ms, size_t fdslen);

/* The next definition (libc's) of each symbol we define, resolved when the
 * library is loaded: dlsym may allocate and free, which must not first
 * happen inside a caller that cannot take it (a sanitizer's runtime opening
 * /proc/self/exe to symbolize a report hangs in its own allocator).  REAL()
 * still resolves lazily for calls made before our constructor ran (other
 * libraries' constructors). */
#define UNETMAP_REAL_SYMBOLS(X)                                              \
    X(open) X(open64) X(openat) X(openat64) X(__open_2) X(__open64_2)        \
    X(ioctl) X(mmap) X(close) X(dup) X(dup2) X(dup3) X(fcntl)                \
    X(poll) X(ppoll) X(select) X(pselect)                                    \
    X(epoll_ctl) X(epoll_wait) X(epoll_pwait)
#define UNETMAP_DECLARE_REAL(name) static __typeof__(&name) real_##name;
UNETMAP_REAL_SYMBOLS(UNETMAP_DECLARE_REAL)
#define REAL(name)                                                           \
    if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)
#define UNETMAP_RESOLVE_REAL(name) REAL(name);
__attribute__((constructor)) static void resolve_real_symbols(void) {
    UNETMAP_REAL_SYMBOLS(UNETMAP_RESOLVE_REAL)
}

static mode_t mode_arg(int flags, va_list ap) {
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

/* ---- open ---------------------------------------------------------------- */

UNETMAP_EXPORT int open(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    if (unetmap_dev_is_path(path)) return unetmap_dev_open(flags);
    REAL(open);
    return real_open(path, flags, mode);
}

UNETMAP_EXPORT int open64(const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    if (unetmap_dev_is_path(path)) return unetmap_dev_open(flags);
    REAL(open64);
    return real_open64(path, flags, mode);
}

UNETMAP_EXPORT int openat(int dirfd, const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    if (unetmap_dev_is_path(path)) return unetmap_dev_open(flags);
    REAL(openat);
    return real_openat(dirfd, path, flags, mode);
}

UNETMAP_EXPORT int openat64(int dirfd, const char *path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    if (unetmap_dev_is_path(path)) return unetmap_dev_open(flags);
    REAL(openat64);
    return real_openat64(dirfd, path, flags, mode);
}

/* _FORTIFY_SOURCE variants. */
UNETMAP_EXPORT int __open_2(const char *path, int flags) {
    if (unetmap_dev_is_path(path)) return unetmap_dev_open(flags);
    REAL(__open_2);
    return real___open_2(path, flags);
}

UNETMAP_EXPORT int __open64_2(const char *path, int flags) {
    if (unetmap_dev_is_path(path)) return unetmap_dev_open(flags);
    REAL(__open64_2);
    return real___open64_2(path, flags);
}

/* ---- ioctl ---------------------------------------------------------------- */

UNETMAP_EXPORT int ioctl(int fd, unsigned long req, ...) {
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    int handled = 1;
    int r = unetmap_dev_ioctl(fd, req, arg, &handled);
    if (handled) return r;
    REAL(ioctl);
    return real_ioctl(fd, req, arg);
}

/* ---- mmap ----------------------------------------------------------------- */

UNETMAP_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    if (fd >= 0 && !(flags & MAP_ANONYMOUS)) {
        int handled = 1;
        void *p = unetmap_dev_mmap(addr, len, prot, flags, fd, off, &handled);
        if (handled) return p;
    }
    REAL(mmap);
    return real_mmap(addr, len, prot, flags, fd, off);
}

UNETMAP_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    return mmap(addr, len, prot, flags, fd, off);
}

/* ---- close ---------------------------------------------------------------- */

UNETMAP_EXPORT int close(int fd) {
    int handled = 1;
    int r = unetmap_dev_close(fd, &handled);
    if (handled) return r;
    REAL(close);
    return real_close(fd);
}

/* ---- dup family: the copy shares the binding, as a kernel fd would -------- */

UNETMAP_EXPORT int dup(int fd) {
    REAL(dup);
    int nfd = real_dup(fd);
    if (nfd >= 0) unetmap_dev_dup_done(fd, nfd);
    return nfd;
}

UNETMAP_EXPORT int dup2(int fd, int nfd) {
    REAL(dup2);
    if (fd == nfd) return real_dup2(fd, nfd);
    void *old = unetmap_dev_forget(nfd);
    int r = real_dup2(fd, nfd);
    int err = errno;
    if (r >= 0) unetmap_dev_dup_done(fd, r);
    unetmap_dev_release_forgotten(old);
    errno = err;
    return r;
}

UNETMAP_EXPORT int dup3(int fd, int nfd, int flags) {
    REAL(dup3);
    if (fd == nfd) return real_dup3(fd, nfd, flags);
    void *old = unetmap_dev_forget(nfd);
    int r = real_dup3(fd, nfd, flags);
    int err = errno;
    if (r >= 0) unetmap_dev_dup_done(fd, r);
    unetmap_dev_release_forgotten(old);
    errno = err;
    return r;
}

UNETMAP_EXPORT int fcntl(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);  /* int or pointer: same register on x86_64/arm64 */
    va_end(ap);
    REAL(fcntl);
    int r = real_fcntl(fd, cmd, arg);
    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) unetmap_dev_dup_done(fd, r);
    return r;
}

UNETMAP_EXPORT int fcntl64(int fd, int cmd, ...) {
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return fcntl(fd, cmd, arg);
}

/* ---- epoll ---------------------------------------------------------------- */

UNETMAP_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev) {
    int handled = 1;
    int r = unetmap_dev_epoll_ctl(epfd, op, fd, ev, &handled);
    if (handled) return r;
    REAL(epoll_ctl);
    return real_epoll_ctl(epfd, op, fd, ev);
}

UNETMAP_EXPORT int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout_ms) {
    int handled = 1;
    int r = unetmap_dev_epoll_wait(epfd, ev, max, timeout_ms, NULL, &handled);
    if (handled) return r;
    REAL(epoll_wait);
    return real_epoll_wait(epfd, ev, max, timeout_ms);
}

UNETMAP_EXPORT int epoll_pwait(int epfd, struct epoll_event *ev, int max, int timeout_ms,
                               const sigset_t *mask) {
    int handled = 1;
    int r = unetmap_dev_epoll_wait(epfd, ev, max, timeout_ms, mask, &handled);
    if (handled) return r;
    REAL(epoll_pwait);
    return real_epoll_pwait(epfd, ev, max, timeout_ms, mask);
}

/* ---- poll / select -------------------------------------------------------- */

UNETMAP_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout_ms) {
    struct timespec ts, *tp = NULL;
    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
        tp = &ts;
    }
    int handled = 1;
    int r = unetmap_dev_poll(fds, n, tp, NULL, &handled);
    if (handled) return r;
    REAL(poll);
    return real_poll(fds, n, timeout_ms);
}

UNETMAP_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout_ms, size_t fdslen) {
    (void)fdslen;
    return poll(fds, n, timeout_ms);
}

UNETMAP_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *tmo,
                         const sigset_t *sigmask) {
    int handled = 1;
    int r = unetmap_dev_poll(fds, n, tmo, sigmask, &handled);
    if (handled) return r;
    REAL(ppoll);
    return real_ppoll(fds, n, tmo, sigmask);
}

/* select() over poll(): only when a netmap descriptor is in the sets. */
static int select_via_poll(int nfds, fd_set *r, fd_set *w, fd_set *e,
                           const struct timespec *tmo, const sigset_t *sigmask) {
    struct pollfd small[64], *pfd = small;
    int n = 0;
    for (int fd = 0; fd < nfds; fd++)
        if ((r && FD_ISSET(fd, r)) || (w && FD_ISSET(fd, w)) || (e && FD_ISSET(fd, e))) n++;
    if (n > 64 && !(pfd = calloc((size_t)n, sizeof *pfd))) {
        errno = ENOMEM;
        return -1;
    }
    n = 0;
    for (int fd = 0; fd < nfds; fd++) {
        short ev = 0;
        if (r && FD_ISSET(fd, r)) ev |= POLLIN;
        if (w && FD_ISSET(fd, w)) ev |= POLLOUT;
        if (e && FD_ISSET(fd, e)) ev |= POLLPRI;
        if (ev) {
            pfd[n].fd = fd;
            pfd[n].events = ev;
            pfd[n].revents = 0;
            n++;
        }
    }
    int handled = 1;
    int ret = unetmap_dev_poll(pfd, (nfds_t)n, tmo, sigmask, &handled);
    if (ret >= 0) {
        if (r) FD_ZERO(r);
        if (w) FD_ZERO(w);
        if (e) FD_ZERO(e);
        ret = 0;
        for (int i = 0; i < n; i++) {
            short rv = pfd[i].revents;
            if (r && (rv & (POLLIN | POLLHUP | POLLERR))) FD_SET(pfd[i].fd, r), ret++;
            if (w && (rv & (POLLOUT | POLLERR))) FD_SET(pfd[i].fd, w), ret++;
            if (e && (rv & POLLPRI)) FD_SET(pfd[i].fd, e), ret++;
        }
    }
    if (pfd != small) free(pfd);
    return ret;
}

UNETMAP_EXPORT int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv) {
    if (unetmap_dev_any_in_sets(nfds, r, w, e)) {
        struct timespec ts, *tp = NULL;
        if (tv) {
            ts.tv_sec = tv->tv_sec;
            ts.tv_nsec = tv->tv_usec * 1000L;
            tp = &ts;
        }
        return select_via_poll(nfds, r, w, e, tp, NULL);
    }
    REAL(select);
    return real_select(nfds, r, w, e, tv);
}

UNETMAP_EXPORT int pselect(int nfds, fd_set *r, fd_set *w, fd_set *e,
                           const struct timespec *tmo, const sigset_t *sigmask) {
    if (unetmap_dev_any_in_sets(nfds, r, w, e)) return select_via_poll(nfds, r, w, e, tmo, sigmask);
    REAL(pselect);
    return real_pselect(nfds, r, w, e, tmo, sigmask);
}
