/*
 * Netmap descriptors behave like kernel ones:
 *  - dup(): the copy keeps the binding after the original is closed;
 *  - fork(): the child syncs through the inherited descriptor;
 *  - dup2() over a registered descriptor releases what it was bound to;
 *  - SCM_RIGHTS: a bound descriptor handed to another process can be
 *    mmapped and synced there, after the sender closed its copy.
 * Each step checks the state directory is empty once everything is closed.
 * Exit 0 on success.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <net/netmap_user.h>

#define CHECK(c)                                                                     \
    do {                                                                             \
        if (!(c)) {                                                                  \
            fprintf(stderr, "%s:%d: %s failed (errno %d %s)\n", __FILE__, __LINE__, #c, \
                    errno, strerror(errno));                                         \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

static const char *state_dir;

static int reg_port(const char *name, struct nmreq_register *reg) {
    struct nmreq_header hdr;
    memset(&hdr, 0, sizeof hdr);
    memset(reg, 0, sizeof *reg);
    hdr.nr_version = NETMAP_API;
    hdr.nr_reqtype = NETMAP_REQ_REGISTER;
    snprintf(hdr.nr_name, sizeof hdr.nr_name, "%s", name);
    hdr.nr_body = (uintptr_t)reg;
    reg->nr_mode = NR_REG_ALL_NIC;
    int fd = open("/dev/netmap", O_RDWR);
    CHECK(fd >= 0);
    CHECK(ioctl(fd, NIOCCTRL, &hdr) == 0);
    return fd;
}

static int dir_entries(void) {
    DIR *d = opendir(state_dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Put `n` frames on the first tx ring and sync; returns the tx ring. */
static void send_frames(int fd, struct netmap_if *nifp, unsigned n) {
    struct netmap_ring *tx = NETMAP_TXRING(nifp, 0);
    for (unsigned i = 0; i < n; i++) {
        if (nm_ring_space(tx) == 0) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            CHECK(poll(&p, 1, 5000) == 1);
        }
        struct netmap_slot *s = &tx->slot[tx->cur];
        memcpy(NETMAP_BUF(tx, s->buf_idx), &i, sizeof i);
        s->len = 60;
        tx->head = tx->cur = nm_ring_next(tx, tx->cur);
        CHECK(ioctl(fd, NIOCTXSYNC, NULL) == 0);
    }
}

static void recv_frames(int fd, struct netmap_if *nifp, unsigned n) {
    struct netmap_ring *rx = NETMAP_RXRING(nifp, 0);
    for (unsigned i = 0; i < n;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        CHECK(poll(&p, 1, 5000) == 1);
        while (!nm_ring_empty(rx) && i < n) {
            unsigned v;
            memcpy(&v, NETMAP_BUF(rx, rx->slot[rx->cur].buf_idx), sizeof v);
            CHECK(v == i);
            i++;
            rx->head = rx->cur = nm_ring_next(rx, rx->cur);
        }
    }
}

static void test_dup(void) {
    struct nmreq_register reg;
    int fd = reg_port("null:dup", &reg);
    int fd2 = dup(fd);
    CHECK(fd2 >= 0);
    CHECK(close(fd) == 0);
    void *mem = mmap(NULL, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
    CHECK(mem != MAP_FAILED);
    struct netmap_if *nifp = NETMAP_IF(mem, reg.nr_offset);
    send_frames(fd2, nifp, 10);
    CHECK(dir_entries() > 0);
    CHECK(close(fd2) == 0);
    munmap(mem, reg.nr_memsize);
    CHECK(dir_entries() == 0);
}

static void test_fork(void) {
    struct nmreq_register reg;
    int tx = reg_port("forked{1", &reg);
    void *mem = mmap(NULL, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, tx, 0);
    CHECK(mem != MAP_FAILED);
    struct nmreq_register rreg;
    int rx = reg_port("forked}1", &rreg);
    void *rmem = mmap(NULL, rreg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, rx, 0);
    CHECK(rmem != MAP_FAILED);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) { /* the child transmits through the inherited descriptor */
        send_frames(tx, NETMAP_IF(mem, reg.nr_offset), 1000);
        _exit(0);
    }
    recv_frames(rx, NETMAP_IF(rmem, rreg.nr_offset), 1000);
    int st;
    CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(tx);
    close(rx);
    munmap(mem, reg.nr_memsize);
    munmap(rmem, rreg.nr_memsize);
    CHECK(dir_entries() == 0);
}

static void test_dup2_over(void) {
    struct nmreq_register reg;
    int a = reg_port("null:dupa", &reg);
    int b = open("/dev/null", O_RDONLY);
    CHECK(b >= 0);
    CHECK(dup2(b, a) == a); /* replaces the netmap descriptor */
    close(a);
    close(b);
    CHECK(dir_entries() == 0);
}

static void test_scm_rights(void) {
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) { /* receives a bound descriptor and transmits on it */
        close(sv[0]);
        struct nmreq_register reg;
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = &reg, .iov_len = sizeof reg};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                           .msg_controllen = sizeof cbuf};
        CHECK(recvmsg(sv[1], &m, 0) == (ssize_t)sizeof reg);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        CHECK(c && c->cmsg_type == SCM_RIGHTS);
        int fd;
        memcpy(&fd, CMSG_DATA(c), sizeof fd);
        void *mem = mmap(NULL, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        CHECK(mem != MAP_FAILED);
        send_frames(fd, NETMAP_IF(mem, reg.nr_offset), 1000);
        _exit(0);
    }
    close(sv[1]);
    struct nmreq_register reg, rreg;
    int tx = reg_port("scm{1", &reg);
    int rx = reg_port("scm}1", &rreg);
    void *rmem = mmap(NULL, rreg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, rx, 0);
    CHECK(rmem != MAP_FAILED);
    char cbuf[CMSG_SPACE(sizeof(int))];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {.iov_base = &reg, .iov_len = sizeof reg};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                       .msg_controllen = sizeof cbuf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &tx, sizeof tx);
    CHECK(sendmsg(sv[0], &m, 0) == (ssize_t)sizeof reg);
    close(tx); /* only the child holds the master end now */
    recv_frames(rx, NETMAP_IF(rmem, rreg.nr_offset), 1000);
    int st;
    CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(rx);
    close(sv[0]);
    munmap(rmem, rreg.nr_memsize);
    CHECK(dir_entries() == 0);
}

int main(void) {
    state_dir = getenv("UNETMAP_DIR");
    if (!state_dir) {
        fprintf(stderr, "fd_semantics: set UNETMAP_DIR to a private directory\n");
        return 2;
    }
    test_dup();
    test_fork();
    test_dup2_over();
    test_scm_rights();
    printf("fd_semantics: 1 passed, 0 failed\n");
    return 0;
}
