/*
 * The man page's raw API, across two processes: open /dev/netmap,
 * NIOCCTRL REGISTER, mmap, fill/drain rings, NIOCTXSYNC and poll().
 * The parent opens the master end of a pipe and sends N frames whose
 * payload encodes their sequence number and length; a forked child opens
 * the slave end and checks every frame, in order, byte for byte.
 *
 * usage: raw_api_pipe [count]   (exit 0 on success)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <net/netmap_user.h>

struct port {
    int fd;
    void *mem;
    struct nmreq_register reg;
    struct netmap_if *nifp;
};

static int port_open(struct port *p, const char *name) {
    struct nmreq_header hdr;
    memset(&hdr, 0, sizeof hdr);
    memset(&p->reg, 0, sizeof p->reg);
    hdr.nr_version = NETMAP_API;
    hdr.nr_reqtype = NETMAP_REQ_REGISTER;
    snprintf(hdr.nr_name, sizeof hdr.nr_name, "%s", name);
    hdr.nr_body = (uintptr_t)&p->reg;
    p->reg.nr_mode = NR_REG_ALL_NIC;
    p->fd = open("/dev/netmap", O_RDWR);
    if (p->fd < 0) return perror("open /dev/netmap"), -1;
    if (ioctl(p->fd, NIOCCTRL, &hdr) < 0) return perror("NIOCCTRL"), -1;
    p->mem = mmap(NULL, p->reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd, 0);
    if (p->mem == MAP_FAILED) return perror("mmap"), -1;
    p->nifp = NETMAP_IF(p->mem, p->reg.nr_offset);
    return 0;
}

static void fill(char *buf, unsigned seq, unsigned len) {
    for (unsigned i = 0; i < len; i++) buf[i] = (char)(seq * 7 + i);
}

static unsigned frame_len(unsigned seq) { return 60 + (seq * 13) % 1455; }

static int receiver(unsigned count) {
    struct port p;
    if (port_open(&p, "rawtest}1") < 0) return 2;
    struct netmap_ring *rx = NETMAP_RXRING(p.nifp, 0);
    unsigned seq = 0;
    char expect[2048];
    while (seq < count) {
        struct pollfd pfd = {.fd = p.fd, .events = POLLIN};
        int r = poll(&pfd, 1, 5000);
        if (r <= 0) {
            fprintf(stderr, "receiver: poll %d (got %u of %u)\n", r, seq, count);
            return 3;
        }
        while (!nm_ring_empty(rx)) {
            struct netmap_slot *s = &rx->slot[rx->cur];
            char *buf = NETMAP_BUF(rx, s->buf_idx);
            unsigned len = frame_len(seq);
            fill(expect, seq, len);
            if (s->len != len || memcmp(buf, expect, len) != 0) {
                fprintf(stderr, "receiver: frame %u bad (len %u want %u)\n", seq, s->len, len);
                return 4;
            }
            seq++;
            rx->head = rx->cur = nm_ring_next(rx, rx->cur);
        }
    }
    close(p.fd);
    return 0;
}

int main(int argc, char **argv) {
    unsigned count = argc > 1 ? (unsigned)atoi(argv[1]) : 100000;
    struct port p;
    if (port_open(&p, "rawtest{1") < 0) return 1;
    pid_t child = fork();
    if (child == 0) _exit(receiver(count));
    struct netmap_ring *tx = NETMAP_TXRING(p.nifp, 0);
    unsigned seq = 0;
    while (seq < count) {
        struct pollfd pfd = {.fd = p.fd, .events = POLLOUT};
        if (poll(&pfd, 1, 5000) <= 0) {
            fprintf(stderr, "sender: poll timeout at %u\n", seq);
            return 1;
        }
        while (seq < count && nm_ring_space(tx)) {
            struct netmap_slot *s = &tx->slot[tx->cur];
            unsigned len = frame_len(seq);
            fill(NETMAP_BUF(tx, s->buf_idx), seq, len);
            s->len = (uint16_t)len;
            seq++;
            tx->head = tx->cur = nm_ring_next(tx, tx->cur);
        }
        ioctl(p.fd, NIOCTXSYNC, NULL);
    }
    /* Wait for the ring to drain before closing (the pipe stays while the
     * child holds its end, so closing early would also be fine). */
    int status = 0;
    waitpid(child, &status, 0);
    close(p.fd);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "receiver failed: status %d\n", status);
        return 1;
    }
    printf("raw_api_pipe: %u frames verified\n", count);
    return 0;
}
