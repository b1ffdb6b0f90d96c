// The real system calls, bypassing our own interposed symbols.
//
// libnetmap.so defines open/ioctl/mmap/poll/close/... so that programs using
// /dev/netmap reach the emulation (see src/abi/).  The core must never call
// those interposers itself: it uses these wrappers, which issue the raw
// system calls.
#pragma once

#include <cstddef>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/types.h>

namespace unetmap::sys {

int open(const char* path, int flags, mode_t mode);
int close(int fd);
int ioctl(int fd, unsigned long req, void* arg);
void* mmap(void* addr, std::size_t len, int prot, int flags, int fd, off_t off);
int munmap(void* addr, std::size_t len);
int poll(struct pollfd* fds, nfds_t n, int timeout_ms);
int epoll_create1(int flags);
int epoll_ctl(int epfd, int op, int fd, struct epoll_event* ev);

}  // namespace unetmap::sys
