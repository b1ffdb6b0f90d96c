/*
 * epoll on netmap descriptors, across two processes: the receiver waits
 * with epoll_wait(EPOLLIN) on its pipe end (in an epoll set that also
 * holds an ordinary pipe(2), to check mixing); the sender waits with
 * epoll_wait(EPOLLOUT) whenever its ring is full.  Every frame must
 * arrive once, in order; an idle wait must time out.
 * usage: epoll_pipe [count]   (exit 0 on success)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <net/netmap_user.h>

#define CHECK(c)                                                                       \
    do {                                                                               \
        if (!(c)) {                                                                    \
            fprintf(stderr, "%s:%d: %s failed (errno %d)\n", __FILE__, __LINE__, #c, errno); \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

static struct netmap_if *reg_port(const char *name, int *fdp) {
    struct nmreq_header hdr;
    struct nmreq_register reg;
    memset(&hdr, 0, sizeof hdr);
    memset(&reg, 0, sizeof reg);
    hdr.nr_version = NETMAP_API;
    hdr.nr_reqtype = NETMAP_REQ_REGISTER;
    snprintf(hdr.nr_name, sizeof hdr.nr_name, "%s", name);
    hdr.nr_body = (uintptr_t)&reg;
    reg.nr_mode = NR_REG_ALL_NIC;
    int fd = open("/dev/netmap", O_RDWR);
    CHECK(fd >= 0);
    CHECK(ioctl(fd, NIOCCTRL, &hdr) == 0);
    void *mem = mmap(NULL, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(mem != MAP_FAILED);
    *fdp = fd;
    return NETMAP_IF(mem, reg.nr_offset);
}

static int receiver(unsigned count, int ready_pipe) {
    int fd;
    struct netmap_if *nifp = reg_port("ep}1", &fd);
    struct netmap_ring *rx = NETMAP_RXRING(nifp, 0);
    int ep = epoll_create1(0);
    int other[2];
    CHECK(ep >= 0 && pipe(other) == 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0xabcdef};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
    struct epoll_event oev = {.events = EPOLLIN, .data.u64 = 42};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, other[0], &oev) == 0);
    struct epoll_event out[4];
    CHECK(epoll_wait(ep, out, 4, 50) == 0); /* nothing yet: times out */
    char c = 1;
    CHECK(write(ready_pipe, &c, 1) == 1);
    unsigned seq = 0;
    while (seq < count) {
        int n = epoll_wait(ep, out, 4, 5000);
        CHECK(n >= 1);
        for (int i = 0; i < n; i++) CHECK(out[i].data.u64 == 0xabcdef && (out[i].events & EPOLLIN));
        while (!nm_ring_empty(rx)) {
            unsigned v;
            memcpy(&v, NETMAP_BUF(rx, rx->slot[rx->cur].buf_idx), sizeof v);
            CHECK(v == seq);
            seq++;
            rx->head = rx->cur = nm_ring_next(rx, rx->cur);
        }
    }
    /* The ordinary descriptor still reports through the same set. */
    CHECK(write(other[1], &c, 1) == 1);
    int n = epoll_wait(ep, out, 4, 1000);
    CHECK(n == 1 && out[0].data.u64 == 42);
    close(fd);
    close(ep);
    return 0;
}

int main(int argc, char **argv) {
    unsigned count = argc > 1 ? (unsigned)atoi(argv[1]) : 200000;
    int fd;
    struct netmap_if *nifp = reg_port("ep{1", &fd);
    int rp[2];
    CHECK(pipe(rp) == 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        close(rp[0]);
        _exit(receiver(count, rp[1]));
    }
    close(rp[1]);
    char c;
    CHECK(read(rp[0], &c, 1) == 1);
    struct netmap_ring *tx = NETMAP_TXRING(nifp, 0);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
    unsigned seq = 0, waits = 0;
    while (seq < count) {
        if (nm_ring_space(tx) == 0) {
            struct epoll_event out;
            CHECK(epoll_wait(ep, &out, 1, 5000) == 1 && out.data.fd == fd && (out.events & EPOLLOUT));
            waits++;
            continue;
        }
        struct netmap_slot *s = &tx->slot[tx->cur];
        memcpy(NETMAP_BUF(tx, s->buf_idx), &seq, sizeof seq);
        s->len = 60;
        seq++;
        tx->head = tx->cur = nm_ring_next(tx, tx->cur);
        if ((seq & 63) == 0 || seq == count) CHECK(ioctl(fd, NIOCTXSYNC, NULL) == 0);
    }
    int st;
    CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) == 0);
    close(ep);
    close(fd);
    printf("epoll_pipe: %u frames, %u epoll waits for room: 1 passed, 0 failed\n", count, waits);
    return 0;
}
