/*
 * A registered netmap descriptor opened without O_CLOEXEC survives exec(),
 * as netmap allows (the file stays bound across exec):
 *  1. fork + exec: the parent registers the master end of a pipe, forks,
 *     and closes its own copy; the exec'ed child (a new program image that
 *     knows nothing but the descriptor number, the region size and the
 *     netmap_if offset from its command line) mmaps the descriptor, sends
 *     N frames through it with NIOCTXSYNC and poll(), and exits.  The
 *     parent, holding the slave end, receives exactly those N frames, in
 *     order, with their contents.  A descriptor opened with O_CLOEXEC is
 *     checked to be gone in the child.
 *  2. exec without fork: the process registers both ends of a pipe and
 *     exec()s itself; the new image adopts both descriptors and moves
 *     frames from one to the other.
 *  3. poll first: a child registers both ends of a pipe, queues K frames
 *     on the master and exec()s itself; the new image's first call on
 *     the descriptors is poll(), which must see them as netmap
 *     descriptors: POLLIN on the slave (its implicit rxsync makes the K
 *     frames visible, without any ioctl), POLLOUT on the master.
 * The state directory must be empty at the end (run_isolated.sh checks).
 * Run linked (-lnetmap) and as a plain binary under LD_PRELOAD (the
 * environment, so the preload, is inherited by the exec'ed image).
 *
 *   exec_inherit [N]          exit 0 on success
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <net/netmap_user.h>

#define CHECK(c)                                                                      \
    do {                                                                              \
        if (!(c)) {                                                                   \
            fprintf(stderr, "%s:%d: %s failed (errno %d %s)\n", __FILE__, __LINE__, #c, \
                    errno, strerror(errno));                                          \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

static int reg_port(const char *name, int flags, struct nmreq_register *reg) {
    struct nmreq_header hdr;
    memset(&hdr, 0, sizeof hdr);
    memset(reg, 0, sizeof *reg);
    hdr.nr_version = NETMAP_API;
    hdr.nr_reqtype = NETMAP_REQ_REGISTER;
    snprintf(hdr.nr_name, sizeof hdr.nr_name, "%s", name);
    hdr.nr_body = (uintptr_t)reg;
    reg->nr_mode = NR_REG_ALL_NIC;
    int fd = open("/dev/netmap", O_RDWR | flags);
    CHECK(fd >= 0);
    CHECK(ioctl(fd, NIOCCTRL, &hdr) == 0);
    return fd;
}

static struct netmap_if *map_port(int fd, uint64_t memsize, uint64_t offset) {
    void *mem = mmap(NULL, memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(mem != MAP_FAILED);
    return NETMAP_IF(mem, offset);
}

static uint32_t frame_word(unsigned seq, unsigned k) { return seq * 2654435761u + k; }

/* Send n frames (60..123 bytes, content derived from the sequence number). */
static void send_frames(int fd, struct netmap_if *nifp, unsigned n) {
    struct netmap_ring *tx = NETMAP_TXRING(nifp, 0);
    for (unsigned i = 0; i < n; i++) {
        while (nm_ring_space(tx) == 0) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            CHECK(poll(&p, 1, 10000) == 1);
            CHECK(!(p.revents & POLLERR));
        }
        struct netmap_slot *s = &tx->slot[tx->cur];
        uint32_t *b = (uint32_t *)NETMAP_BUF(tx, s->buf_idx);
        s->len = (uint16_t)(60 + (i & 63));
        for (unsigned k = 0; k < 15; k++) b[k] = frame_word(i, k);
        tx->head = tx->cur = nm_ring_next(tx, tx->cur);
        if ((i & 31) == 31 || i + 1 == n) CHECK(ioctl(fd, NIOCTXSYNC, NULL) == 0);
    }
}

/* Wait (bounded) until the peer took every queued frame. */
static void wait_drained(int fd, struct netmap_if *nifp) {
    struct netmap_ring *tx = NETMAP_TXRING(nifp, 0);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (nm_tx_pending(tx)) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        CHECK(t.tv_sec - t0.tv_sec < 20);
        usleep(100);
        CHECK(ioctl(fd, NIOCTXSYNC, NULL) == 0);
    }
}

/* Receive exactly n frames, checking order, length and contents. */
static void recv_frames(int fd, struct netmap_if *nifp, unsigned n) {
    struct netmap_ring *rx = NETMAP_RXRING(nifp, 0);
    for (unsigned i = 0; i < n;) {
        if (nm_ring_empty(rx)) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int r = poll(&p, 1, 10000);
            if (r != 1) fprintf(stderr, "exec_inherit: stuck after %u of %u frames\n", i, n);
            CHECK(r == 1);
            CHECK(!(p.revents & POLLERR));
            continue;
        }
        while (!nm_ring_empty(rx) && i < n) {
            struct netmap_slot *s = &rx->slot[rx->cur];
            const uint32_t *b = (const uint32_t *)NETMAP_BUF(rx, s->buf_idx);
            if (s->len != 60 + (i & 63) || b[0] != frame_word(i, 0) || b[14] != frame_word(i, 14)) {
                fprintf(stderr, "exec_inherit: frame %u: len %u word0 %08x\n", i, s->len, b[0]);
                exit(1);
            }
            rx->head = rx->cur = nm_ring_next(rx, rx->cur);
            i++;
        }
        CHECK(ioctl(fd, NIOCRXSYNC, NULL) == 0);
    }
    /* Nothing more than n. */
    CHECK(ioctl(fd, NIOCRXSYNC, NULL) == 0);
    CHECK(nm_ring_empty(rx));
}

/* The exec'ed sender: child-send FD MEMSIZE OFFSET CLOEXEC_FD N */
static int child_send(char **argv) {
    const int fd = atoi(argv[2]);
    const uint64_t memsize = strtoull(argv[3], NULL, 0), offset = strtoull(argv[4], NULL, 0);
    const int cloexec_fd = atoi(argv[5]);
    const unsigned n = (unsigned)strtoul(argv[6], NULL, 0);
    errno = 0;
    CHECK(fcntl(cloexec_fd, F_GETFD) == -1 && errno == EBADF); /* O_CLOEXEC: gone */
    CHECK(fcntl(fd, F_GETFD) == 0);                            /* inherited */
    struct netmap_if *nifp = map_port(fd, memsize, offset);    /* adopts fd */
    CHECK(nifp->ni_tx_rings == 1 && nifp->ni_rx_rings == 1);
    CHECK(strncmp(nifp->ni_name, "exA{0", sizeof nifp->ni_name) == 0);
    send_frames(fd, nifp, n);
    wait_drained(fd, nifp);
    return 0; /* exit() closes the descriptor: the binding goes */
}

/* The re-exec'ed image of part 2: self-loop M_FD S_FD MEMSIZE M_OFS S_OFS N */
static int self_loop(char **argv) {
    const int mfd = atoi(argv[2]), sfd = atoi(argv[3]);
    const uint64_t memsize = strtoull(argv[4], NULL, 0);
    const unsigned n = (unsigned)strtoul(argv[7], NULL, 0);
    /* First netmap call on the slave is a sync ioctl, on the master mmap:
     * both adopt the inherited descriptor. */
    CHECK(ioctl(sfd, NIOCRXSYNC, NULL) == 0);
    struct netmap_if *m = map_port(mfd, memsize, strtoull(argv[5], NULL, 0));
    struct netmap_if *s = map_port(sfd, memsize, strtoull(argv[6], NULL, 0));
    struct netmap_ring *tx = NETMAP_TXRING(m, 0);
    for (unsigned done = 0; done < n;) {
        unsigned chunk = n - done < tx->num_slots / 2 ? n - done : tx->num_slots / 2;
        /* frames numbered done.. of the same pattern */
        for (unsigned i = 0; i < chunk; i++) {
            struct netmap_slot *sl = &tx->slot[tx->cur];
            uint32_t *b = (uint32_t *)NETMAP_BUF(tx, sl->buf_idx);
            sl->len = (uint16_t)(60 + ((done + i) & 63));
            for (unsigned k = 0; k < 15; k++) b[k] = frame_word(done + i, k);
            tx->head = tx->cur = nm_ring_next(tx, tx->cur);
        }
        CHECK(ioctl(mfd, NIOCTXSYNC, NULL) == 0);
        struct netmap_ring *rx = NETMAP_RXRING(s, 0);
        CHECK(ioctl(sfd, NIOCRXSYNC, NULL) == 0);
        CHECK(nm_ring_space(rx) == chunk);
        for (unsigned i = 0; i < chunk; i++) {
            struct netmap_slot *sl = &rx->slot[rx->cur];
            const uint32_t *b = (const uint32_t *)NETMAP_BUF(rx, sl->buf_idx);
            CHECK(sl->len == 60 + ((done + i) & 63) && b[0] == frame_word(done + i, 0) &&
                  b[14] == frame_word(done + i, 14));
            rx->head = rx->cur = nm_ring_next(rx, rx->cur);
        }
        CHECK(ioctl(sfd, NIOCRXSYNC, NULL) == 0);
        CHECK(ioctl(mfd, NIOCTXSYNC, NULL) == 0);
        done += chunk;
    }
    CHECK(close(mfd) == 0 && close(sfd) == 0);
    return 0;
}

/* The re-exec'ed image of part 3: poll-first M_FD S_FD MEMSIZE M_OFS S_OFS K */
static int poll_first(char **argv) {
    const int mfd = atoi(argv[2]), sfd = atoi(argv[3]);
    const uint64_t memsize = strtoull(argv[4], NULL, 0);
    const unsigned k = (unsigned)strtoul(argv[7], NULL, 0);
    struct pollfd p[2] = {{.fd = sfd, .events = POLLIN}, {.fd = mfd, .events = POLLOUT}};
    /* Nothing else touched them in this image: poll must adopt both. */
    const int r = poll(p, 2, 5000);
    if (r != 2) fprintf(stderr, "exec_inherit: poll-first: poll gave %d, revents %#x %#x\n", r, p[0].revents, p[1].revents);
    CHECK(r == 2);
    CHECK(p[0].revents == POLLIN && p[1].revents == POLLOUT);
    struct netmap_if *m = map_port(mfd, memsize, strtoull(argv[5], NULL, 0));
    struct netmap_if *s = map_port(sfd, memsize, strtoull(argv[6], NULL, 0));
    struct netmap_ring *rx = NETMAP_RXRING(s, 0);
    CHECK(nm_ring_space(rx) == k); /* the poll's rxsync published them */
    for (unsigned i = 0; i < k; i++) {
        struct netmap_slot *sl = &rx->slot[rx->cur];
        const uint32_t *b = (const uint32_t *)NETMAP_BUF(rx, sl->buf_idx);
        CHECK(sl->len == 60 + (i & 63) && b[0] == frame_word(i, 0) && b[14] == frame_word(i, 14));
        rx->head = rx->cur = nm_ring_next(rx, rx->cur);
    }
    /* select() and epoll on a descriptor polled before are plain lookups now. */
    fd_set w;
    FD_ZERO(&w);
    FD_SET(mfd, &w);
    struct timeval tv = {5, 0};
    CHECK(select(mfd + 1, NULL, &w, NULL, &tv) == 1 && FD_ISSET(mfd, &w));
    CHECK(ioctl(sfd, NIOCRXSYNC, NULL) == 0);
    CHECK(nm_ring_empty(rx));
    CHECK(NETMAP_TXRING(m, 0)->num_slots > 0);
    CHECK(close(mfd) == 0 && close(sfd) == 0);
    return 0;
}

/* Exec this program as `mode` with a pipe pair's two descriptors, what
 * mapping them takes, and a frame count (self-loop, poll-first).  Returns
 * only if execv failed. */
static void exec_pair(const char *self, const char *mode, int mfd, int sfd, const struct nmreq_register *mreg,
                      const struct nmreq_register *sreg, unsigned n) {
    char a_m[16], a_s[16], a_mem[32], a_mo[32], a_so[32], a_n[16];
    snprintf(a_m, sizeof a_m, "%d", mfd);
    snprintf(a_s, sizeof a_s, "%d", sfd);
    snprintf(a_mem, sizeof a_mem, "%llu", (unsigned long long)mreg->nr_memsize);
    snprintf(a_mo, sizeof a_mo, "%llu", (unsigned long long)mreg->nr_offset);
    snprintf(a_so, sizeof a_so, "%llu", (unsigned long long)sreg->nr_offset);
    snprintf(a_n, sizeof a_n, "%u", n);
    char *args[] = {(char *)"exec_inherit", (char *)mode, a_m, a_s, a_mem, a_mo, a_so, a_n, NULL};
    fflush(NULL);
    execv(self, args);
    perror("execv");
}

static void part3(const char *self) {
    const unsigned k = 100;
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct nmreq_register mreg, sreg;
        const int mfd = reg_port("exD{0", 0, &mreg);
        const int sfd = reg_port("exD}0", 0, &sreg);
        struct netmap_if *m = map_port(mfd, mreg.nr_memsize, mreg.nr_offset);
        send_frames(mfd, m, k); /* queued on the slave's RX ring, not synced there */
        exec_pair(self, "poll-first", mfd, sfd, &mreg, &sreg, k);
        _exit(97);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void part1(const char *self, unsigned n) {
    struct nmreq_register mreg, sreg, creg;
    const int mfd = reg_port("exA{0", 0, &mreg);
    const int sfd = reg_port("exA}0", 0, &sreg);
    const int cfd = reg_port("exC{0", O_CLOEXEC, &creg);
    CHECK(mreg.nr_memsize == sreg.nr_memsize);
    struct netmap_if *snifp = map_port(sfd, sreg.nr_memsize, sreg.nr_offset);

    char a_fd[16], a_mem[32], a_ofs[32], a_cfd[16], a_n[16];
    snprintf(a_fd, sizeof a_fd, "%d", mfd);
    snprintf(a_mem, sizeof a_mem, "%llu", (unsigned long long)mreg.nr_memsize);
    snprintf(a_ofs, sizeof a_ofs, "%llu", (unsigned long long)mreg.nr_offset);
    snprintf(a_cfd, sizeof a_cfd, "%d", cfd);
    snprintf(a_n, sizeof a_n, "%u", n);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char *args[] = {(char *)"exec_inherit", (char *)"child-send", a_fd, a_mem, a_ofs, a_cfd, a_n, NULL};
        execv(self, args);
        _exit(97);
    }
    /* The child holds the only other copy: our close must not unbind it. */
    CHECK(close(mfd) == 0);
    CHECK(close(cfd) == 0);
    recv_frames(sfd, snifp, n);
    int st = 0;
    for (int i = 0; i < 2000 && waitpid(pid, &st, WNOHANG) == 0; i++) usleep(10000);
    if (waitpid(pid, &st, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        fprintf(stderr, "exec_inherit: child did not exit\n");
        exit(1);
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(munmap((char *)snifp - sreg.nr_offset, sreg.nr_memsize) == 0);
    CHECK(close(sfd) == 0);
}

int main(int argc, char **argv) {
    if (argc >= 7 && strcmp(argv[1], "child-send") == 0) return child_send(argv);
    if (argc >= 8 && strcmp(argv[1], "self-loop") == 0) return self_loop(argv);
    if (argc >= 8 && strcmp(argv[1], "poll-first") == 0) return poll_first(argv);
    const unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 20000;
    CHECK(n > 0);
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(len > 0);
    self[len] = '\0';

    part1(self, n);
    part3(self);

    /* Part 2: exec without fork; the new image finishes the job. */
    struct nmreq_register mreg, sreg;
    const int mfd = reg_port("exB{0", 0, &mreg);
    const int sfd = reg_port("exB}0", 0, &sreg);
    exec_pair(self, "self-loop", mfd, sfd, &mreg, &sreg, n);
    return 1;
}
