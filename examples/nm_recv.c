/*
 * nm_recv: receive the numbered frames nm_send transmits and check them:
 * every sequence number must arrive once, in order.
 *
 *   nm_recv -i PORT [-n COUNT] [-t TIMEOUT_S]
 * Exits 0 when COUNT frames arrived in order, 1 otherwise.
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

int main(int argc, char **argv) {
    const char *name = NULL;
    unsigned long long count = 1000000;
    int timeout_s = 10;
    int opt;
    while ((opt = getopt(argc, argv, "i:n:t:")) != -1) {
        switch (opt) {
        case 'i': name = optarg; break;
        case 'n': count = strtoull(optarg, NULL, 0); break;
        case 't': timeout_s = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: nm_recv -i PORT [-n COUNT] [-t TIMEOUT_S]\n");
            return 1;
        }
    }
    if (!name) {
        fprintf(stderr, "usage: nm_recv -i PORT [-n COUNT] [-t TIMEOUT_S]\n");
        return 1;
    }
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
        fprintf(stderr, "nm_recv: cannot register %s: %s\n", name, strerror(errno));
        return 1;
    }
    void *mem = mmap(NULL, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED) {
        fprintf(stderr, "nm_recv: mmap: %s\n", strerror(errno));
        return 1;
    }
    struct netmap_if *nifp = NETMAP_IF(mem, reg.nr_offset);
    struct netmap_ring *rx = NETMAP_RXRING(nifp, 0);
    printf("nm_recv: %s: waiting for %llu frames\n", name, count);
    fflush(stdout);

    unsigned long long got = 0, bad = 0, bytes = 0;
    double t0 = 0;
    while (got < count) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, timeout_s * 1000);
        if (r <= 0) {
            fprintf(stderr, "nm_recv: nothing for %d s after %llu frames\n", timeout_s, got);
            break;
        }
        if (got == 0) t0 = now_s();
        unsigned cur = rx->cur, tail = rx->tail;
        for (; cur != tail; cur = nm_ring_next(rx, cur)) {
            struct netmap_slot *s = &rx->slot[cur];
            unsigned long long seq;
            memcpy(&seq, NETMAP_BUF(rx, s->buf_idx) + 14, sizeof seq);
            if (seq != got) bad++;
            got++;
            bytes += s->len;
        }
        rx->head = rx->cur = cur;
    }
    double dt = now_s() - t0;
    printf("nm_recv: received %llu frames (%llu bytes), %llu out of order, in %.3f s: %.2f Mpps\n",
           got, bytes, bad, dt, dt > 0 ? (double)got / dt / 1e6 : 0.0);
    close(fd);
    return (got == count && bad == 0) ? 0 : 1;
}
