/*
 * The /dev/netmap emulation, as plain C entry points.
 *
 * interpose.c defines the libc symbols (open, ioctl, mmap, poll, select,
 * close, ...) that a netmap program calls; for descriptors that are ours
 * they land here, everything else goes to libc untouched.  Conventions
 * follow the system calls they stand for: -1 (or MAP_FAILED) and errno.
 * `*handled` is set to 0 when the call is not for us and must be passed on.
 */
#ifndef UNETMAP_ABI_DEVICE_H
#define UNETMAP_ABI_DEVICE_H

#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Is this the path of the netmap device (/dev/netmap)? */
int unetmap_dev_is_path(const char *path);
/* open("/dev/netmap", flags): a new unregistered descriptor. */
int unetmap_dev_open(int flags);
/* Is fd a descriptor of ours (known to this process)? Cheap, lock-free. */
int unetmap_dev_owns(int fd);
/* ioctl on fd; *handled = 0 if fd is not ours. */
int unetmap_dev_ioctl(int fd, unsigned long req, void *arg, int *handled);
/* mmap through fd (caller checked unetmap_dev_owns or a netmap fd). */
void *unetmap_dev_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off, int *handled);
/* close(fd) for one of ours (does the real close too). */
int unetmap_dev_close(int fd, int *handled);
/* poll/ppoll with netmap semantics when some fd is ours. */
int unetmap_dev_poll(struct pollfd *fds, nfds_t n, const struct timespec *timeout,
                     const sigset_t *sigmask, int *handled);
/* After a successful dup of `oldfd` to `newfd` (dup, dup2, dup3, fcntl
 * F_DUPFD): make newfd ours too if oldfd is, sharing its binding. */
void unetmap_dev_dup_done(int oldfd, int newfd);
/* Before dup2/dup3 onto newfd: detach our state for newfd (the kernel
 * closes it); unetmap_dev_release_forgotten() must follow the syscall. */
void *unetmap_dev_forget(int fd);
void unetmap_dev_release_forgotten(void *state);

/* epoll on netmap descriptors (epoll.cpp). */
struct epoll_event;
int unetmap_dev_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev, int *handled);
int unetmap_dev_epoll_wait(int epfd, struct epoll_event *out, int max, int timeout_ms,
                           const sigset_t *sigmask, int *handled);
/* An epoll descriptor is being closed: drop what we remembered of it. */
void unetmap_dev_epoll_forget(int epfd);

/* Does any descriptor in the fd_sets belong to us? */
int unetmap_dev_any_in_sets(int nfds, const void *r, const void *w, const void *e);

#ifdef __cplusplus
}

namespace unetmap {
class Descriptor;
}
/* The descriptor state behind fd, or null (C++ callers only). */
unetmap::Descriptor *unetmap_dev_lookup(int fd);
/* The same, adopting an inherited or received netmap descriptor first used
 * here (poll, select, epoll_ctl ADD); "not ours" is remembered until the
 * number is closed or reused through us. */
unetmap::Descriptor *unetmap_dev_lookup_or_adopt(int fd);
#endif

#endif
