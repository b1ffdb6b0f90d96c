/*
 * nm_send: transmit numbered frames on a netmap port with the raw API
 * (open /dev/netmap, NIOCCTRL REGISTER, mmap, fill tx slots, NIOCTXSYNC,
 * poll for room).  Each frame carries its sequence number after a
 * 14-byte Ethernet header, so nm_recv can check order and loss.
 *
 *   nm_send -i PORT [-n COUNT] [-l LEN] [-b BATCH]
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <net/netmap_user.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void usage(void) {
    fprintf(stderr, "usage: nm_send -i PORT [-n COUNT] [-l LEN (60..2048)] [-b BATCH]\n");
    exit(1);
}

int main(int argc, char **argv) {
    const char *name = NULL;
    unsigned long long count = 1000000;
    unsigned len = 60, batch = 512;
    int opt;
    while ((opt = getopt(argc, argv, "i:n:l:b:")) != -1) {
        switch (opt) {
        case 'i': name = optarg; break;
        case 'n': count = strtoull(optarg, NULL, 0); break;
        case 'l': len = (unsigned)atoi(optarg); break;
        case 'b': batch = (unsigned)atoi(optarg); break;
        default: usage();
        }
    }
    if (!name || len < 60 || len > 2048 || batch < 1) usage();

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
    if (fd < 0 || ioctl(fd, NIOCCTRL, &hdr) < 0) {
        fprintf(stderr, "nm_send: cannot register %s: %s\n", name, strerror(errno));
        return 1;
    }
    void *mem = mmap(NULL, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED) {
        fprintf(stderr, "nm_send: mmap: %s\n", strerror(errno));
        return 1;
    }
    struct netmap_if *nifp = NETMAP_IF(mem, reg.nr_offset);
    struct netmap_ring *tx = NETMAP_TXRING(nifp, 0);
    if (len > tx->nr_buf_size) {
        fprintf(stderr, "nm_send: length %u exceeds buffer size %u\n", len, tx->nr_buf_size);
        return 1;
    }
    /* Pre-format every buffer of the ring once: only the sequence number
     * changes per frame. */
    static const unsigned char eth[14] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0x02, 0, 0, 0, 0, 1, 0x88, 0xb5};
    for (unsigned i = 0; i < tx->num_slots; i++) {
        char *buf = NETMAP_BUF(tx, tx->slot[i].buf_idx);
        memset(buf, 0, len);
        memcpy(buf, eth, sizeof eth);
    }
    printf("nm_send: %s: %llu frames of %u bytes, batch %u\n", name, count, len, batch);
    fflush(stdout);

    unsigned long long seq = 0;
    double t0 = now_s();
    while (seq < count) {
        unsigned room = nm_ring_space(tx);
        if (room == 0) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, 10000) <= 0) {
                fprintf(stderr, "nm_send: no room for 10 s (is a receiver running?)\n");
                return 1;
            }
            continue;
        }
        if (room > batch) room = batch;
        unsigned cur = tx->cur;
        for (unsigned i = 0; i < room && seq < count; i++, seq++) {
            struct netmap_slot *s = &tx->slot[cur];
            char *buf = NETMAP_BUF(tx, s->buf_idx);
            memcpy(buf, eth, sizeof eth);
            memcpy(buf + 14, &seq, sizeof seq);
            s->len = (uint16_t)len;
            cur = nm_ring_next(tx, cur);
        }
        tx->head = tx->cur = cur;
        ioctl(fd, NIOCTXSYNC, NULL);
    }
    /* Wait (bounded) until the peer consumed everything we queued. */
    for (int i = 0; i < 1000 && nm_tx_pending(tx); i++) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        poll(&pfd, 1, 10);
        ioctl(fd, NIOCTXSYNC, NULL);
    }
    double dt = now_s() - t0;
    printf("nm_send: sent %llu frames in %.3f s: %.2f Mpps\n", seq, dt, (double)seq / dt / 1e6);
    close(fd);
    return 0;
}
