/*
 * The man page's raw API, across two processes: open /dev/netmap,
 * NIOCCTRL REGISTER, mmap, fill/drain rings, NIOCTXSYNC and poll().
 * The parent opens the master end of a pipe and sends N frames of 60 to
 * 9000 bytes whose payload encodes their sequence number; frames longer
 * than a buffer span several slots chained with NS_MOREFRAG.  A forked
 * child opens the slave end, reassembles each frame and checks it, in
 * order, byte for byte.
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

/* Mostly Ethernet sizes, every 7th frame a jumbo one up to 9000 bytes. */
static unsigned frame_len(unsigned seq) {
    return seq % 7 == 3 ? 2000 + (seq * 131) % 7001 : 60 + (seq * 13) % 1455;
}

static int receiver(unsigned count) {
    struct port p;
    if (port_open(&p, "rawtest}1") < 0) return 2;
    struct netmap_ring *rx = NETMAP_RXRING(p.nifp, 0);
    unsigned seq = 0;
    static char expect[10000];
    while (seq < count) {
        struct pollfd pfd = {.fd = p.fd, .events = POLLIN};
        int r = poll(&pfd, 1, 5000);
        if (r <= 0) {
            fprintf(stderr, "receiver: poll %d (got %u of %u)\n", r, seq, count);
            return 3;
        }
        /* Take whole frames only: a chain whose last slot has not
         * arrived yet stays in the ring until the next round. */
        while (!nm_ring_empty(rx)) {
            unsigned len = frame_len(seq), got = 0, i = rx->cur, complete = 0;
            static char frame[10000];
            for (; i != rx->tail; i = nm_ring_next(rx, i)) {
                struct netmap_slot *s = &rx->slot[i];
                if (got + s->len > sizeof frame) {
                    fprintf(stderr, "receiver: frame %u too long\n", seq);
                    return 4;
                }
                memcpy(frame + got, NETMAP_BUF(rx, s->buf_idx), s->len);
                got += s->len;
                if (!(s->flags & NS_MOREFRAG)) {
                    complete = 1;
                    i = nm_ring_next(rx, i);
                    break;
                }
            }
            if (!complete) break;
            fill(expect, seq, len);
            if (got != len || memcmp(frame, expect, len) != 0) {
                fprintf(stderr, "receiver: frame %u bad (len %u want %u)\n", seq, got, len);
                return 4;
            }
            seq++;
            rx->head = rx->cur = i;
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
        /* A frame goes in whole, in as many buffers as it needs. */
        while (seq < count) {
            unsigned len = frame_len(seq), bufsz = tx->nr_buf_size;
            unsigned nslots = (len + bufsz - 1) / bufsz;
            if (nm_ring_space(tx) < nslots) break;
            static char frame[10000];
            fill(frame, seq, len);
            for (unsigned off = 0; off < len; off += bufsz) {
                struct netmap_slot *s = &tx->slot[tx->cur];
                unsigned n = len - off < bufsz ? len - off : bufsz;
                memcpy(NETMAP_BUF(tx, s->buf_idx), frame + off, n);
                s->len = (uint16_t)n;
                s->flags = off + n < len ? NS_MOREFRAG : 0;
                tx->head = tx->cur = nm_ring_next(tx, tx->cur);
            }
            seq++;
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
