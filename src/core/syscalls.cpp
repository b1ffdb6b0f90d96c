#include "core/syscalls.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

// Raw syscalls: they cannot be interposed by anyone (including sanitizer
// runtimes, which is fine: these are plain descriptor/memory operations).
namespace unetmap::sys {

int open(const char* path, int flags, mode_t mode) {
    return static_cast<int>(::syscall(SYS_openat, AT_FDCWD, path, flags, mode));
}
int close(int fd) { return static_cast<int>(::syscall(SYS_close, fd)); }
int ioctl(int fd, unsigned long req, void* arg) {
    return static_cast<int>(::syscall(SYS_ioctl, fd, req, arg));
}
void* mmap(void* addr, std::size_t len, int prot, int flags, int fd, off_t off) {
    long r = ::syscall(SYS_mmap, addr, len, prot, flags, fd, off);
    if (r < 0 && r > -4096) return MAP_FAILED;  // syscall() already set errno
    return reinterpret_cast<void*>(r);
}
int munmap(void* addr, std::size_t len) {
    return static_cast<int>(::syscall(SYS_munmap, addr, len));
}
int poll(struct pollfd* fds, nfds_t n, int timeout_ms) {
    struct timespec ts {}, *tp = nullptr;
    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = static_cast<long>(timeout_ms % 1000) * 1000000L;
        tp = &ts;
    }
    return static_cast<int>(::syscall(SYS_ppoll, fds, n, tp, nullptr, 0));
}

int epoll_create1(int flags) { return static_cast<int>(::syscall(SYS_epoll_create1, flags)); }
int epoll_ctl(int epfd, int op, int fd, struct epoll_event* ev) {
    return static_cast<int>(::syscall(SYS_epoll_ctl, epfd, op, fd, ev));
}

}  // namespace unetmap::sys
