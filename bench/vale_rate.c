/*
 * vale_rate: VALE switch throughput with S sender ports and R receiver
 * ports on one switch, each port in its own process.
 *
 *   vale_rate [-x SWITCH] [-s SENDERS] [-r RECEIVERS] [-l LEN] [-b BATCH]
 *             [-t SECONDS] [-d learn|flood]
 *
 * Ports are SWITCH:sI and SWITCH:rJ.  -d learn: every receiver first sends
 * one frame from its own MAC, so the switch learns it, and sender I sends
 * unicast to receiver I % R.  -d flood: senders send to a MAC nobody has,
 * so the switch floods every frame to every other port (receivers and the
 * other senders, whose RX rings fill up and then drop).
 *
 * Senders fill BATCH slots (length only, the payload is never written
 * after setup, like pkt-gen -N; the switch still copies LEN bytes per
 * destination) and call NIOCTXSYNC; receivers release what they see and
 * call NIOCRXSYNC.  Sender I is pinned to CPU I mod ncpu; receivers share
 * the CPUs no sender has (all CPUs round-robin when senders use them all).
 *
 * Prints one line: senders, receivers, len, batch, forwarded Mpps (the sum
 * of what senders handed to the switch), delivered Mpps (the sum of what
 * receivers got), delivered Gbps (frame bytes, no framing/CRC), and sender
 * cycles per forwarded packet (TSC, mean over senders).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "bench_util.h"

static void mac(unsigned char *p, unsigned kind, unsigned i) {
    const unsigned char m[6] = {0x02, 0, 0, 0, (unsigned char)kind, (unsigned char)i};
    memcpy(p, m, 6);
}

struct result {
    unsigned long long n;
    double secs;
    unsigned long long cycles;
};

int main(int argc, char **argv) {
    unsigned nsend = 1, nrecv = 1, len = 60, batch = 256;
    double seconds = 2;
    const char *sw = "valeR";
    int flood = 0, opt;
    while ((opt = getopt(argc, argv, "x:s:r:l:b:t:d:")) != -1) {
        switch (opt) {
        case 'x': sw = optarg; break;
        case 's': nsend = (unsigned)atoi(optarg); break;
        case 'r': nrecv = (unsigned)atoi(optarg); break;
        case 'l': len = (unsigned)atoi(optarg); break;
        case 'b': batch = (unsigned)atoi(optarg); break;
        case 't': seconds = atof(optarg); break;
        case 'd': flood = strcmp(optarg, "flood") == 0; break;
        default:
            fprintf(stderr, "usage: vale_rate [-x switch] [-s senders] [-r receivers] [-l len] [-b batch] "
                            "[-t seconds] [-d learn|flood]\n");
            return 1;
        }
    }
    if (nsend < 1 || nsend > 64 || nrecv < 1 || nrecv > 64 || len < 60 || len > 2048 || batch < 1) {
        fprintf(stderr, "vale_rate: senders/receivers 1..64, len 60..2048, batch >= 1\n");
        return 1;
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int ready[2], go[2], res[2];
    if (pipe(ready) || pipe(go) || pipe(res)) return 1;
    pid_t pids[128];
    unsigned np = 0;

    /* Receivers. */
    for (unsigned j = 0; j < nrecv; j++) {
        pid_t p = fork();
        if (p == 0) {
            close(ready[0]);
            close(go[1]);
            close(res[0]);
            long first = nsend < (unsigned)ncpu ? nsend : 0, span = ncpu - first;
            bench_pin(first + j % span);
            char name[64];
            snprintf(name, sizeof name, "%s:r%u", sw, j);
            int fd;
            struct netmap_if *nifp = bench_open_port(name, &fd, _exit);
            struct netmap_ring *rx = NETMAP_RXRING(nifp, 0);
            if (!flood) { /* announce our MAC */
                struct netmap_ring *tx = NETMAP_TXRING(nifp, 0);
                unsigned char *b = (unsigned char *)NETMAP_BUF(tx, tx->slot[tx->cur].buf_idx);
                memset(b, 0xff, 6);
                mac(b + 6, 1, j);
                b[12] = 0x88, b[13] = 0xb5;
                tx->slot[tx->cur].len = 60;
                tx->head = tx->cur = nm_ring_next(tx, tx->cur);
                ioctl(fd, NIOCTXSYNC, NULL);
            }
            struct sigaction sa = {0};
            sa.sa_handler = bench_on_stop;
            sigaction(SIGTERM, &sa, NULL);
            char c = 1;
            if (write(ready[1], &c, 1) != 1) _exit(1);
            unsigned long long got = 0;
            while (!bench_stop) {
                if (nm_ring_empty(rx)) {
                    struct pollfd pf = {.fd = fd, .events = POLLIN};
                    poll(&pf, 1, 100);
                    ioctl(fd, NIOCRXSYNC, NULL);
                    continue;
                }
                got += nm_ring_space(rx);
                rx->head = rx->cur = rx->tail;
                ioctl(fd, NIOCRXSYNC, NULL);
            }
            struct result r = {got, 0, 0};
            if (write(res[1], &r, sizeof r) != sizeof r) _exit(1);
            _exit(0);
        }
        pids[np++] = p;
    }
    /* Senders. */
    for (unsigned i = 0; i < nsend; i++) {
        pid_t p = fork();
        if (p == 0) {
            close(ready[0]);
            close(go[1]);
            close(res[0]);
            bench_pin((long)(i % (unsigned)ncpu));
            char name[64];
            snprintf(name, sizeof name, "%s:s%u", sw, i);
            int fd;
            struct netmap_if *nifp = bench_open_port(name, &fd, _exit);
            struct netmap_ring *tx = NETMAP_TXRING(nifp, 0);
            for (unsigned k = 0; k < tx->num_slots; k++) {
                unsigned char *b = (unsigned char *)NETMAP_BUF(tx, tx->slot[k].buf_idx);
                memset(b, 0, len);
                if (flood) mac(b, 2, 0);
                else mac(b, 1, i % nrecv);
                mac(b + 6, 0, i);
                b[12] = 0x88, b[13] = 0xb5;
                tx->slot[k].len = (uint16_t)len;
            }
            char c = 1;
            if (write(ready[1], &c, 1) != 1) _exit(1);
            if (read(go[0], &c, 1) != 0) _exit(1); /* wait for the parent to close go */
            struct sigaction sa = {0};
            sa.sa_handler = bench_on_stop;
            sigaction(SIGALRM, &sa, NULL);
            bench_arm_timer(seconds);
            double t0 = bench_now();
            uint64_t c0 = bench_tsc();
            unsigned long long sent = bench_tx_loop(fd, tx, batch);
            struct result r = {sent, bench_now() - t0, bench_tsc() - c0};
            if (write(res[1], &r, sizeof r) != sizeof r) _exit(1);
            _exit(0);
        }
        pids[np++] = p;
    }
    close(ready[1]);
    close(go[0]);
    close(res[1]);
    char c;
    for (unsigned k = 0; k < np; k++)
        if (read(ready[0], &c, 1) != 1) {
            fprintf(stderr, "vale_rate: a port could not be opened\n");
            for (unsigned q = 0; q < np; q++) kill(pids[q], SIGKILL);
            while (wait(NULL) > 0) {}
            return 1;
        }
    close(go[1]); /* start */
    double sent = 0, secs = 0, cyc = 0, got = 0;
    for (unsigned i = 0; i < nsend; i++) {
        struct result r;
        if (read(res[0], &r, sizeof r) != sizeof r) return 1;
        sent += (double)r.n / r.secs;
        secs += r.secs;
        cyc += r.n ? (double)r.cycles / (double)r.n : 0;
    }
    secs /= nsend;
    for (unsigned j = 0; j < nrecv; j++) kill(pids[j], SIGTERM);
    for (unsigned j = 0; j < nrecv; j++) {
        struct result r;
        if (read(res[0], &r, sizeof r) != sizeof r) return 1;
        got += (double)r.n;
    }
    while (wait(NULL) > 0) {}
    double rx_mpps = got / secs / 1e6;
    printf("vale senders %u receivers %u len %u batch %u %s: forwarded %.2f Mpps, delivered %.2f Mpps, "
           "%.2f Gbps, %.1f cycles/packet (sender TSC)\n",
           nsend, nrecv, len, batch, flood ? "flood" : "learn", sent / 1e6, rx_mpps, rx_mpps * len * 8 / 1e3,
           cyc / nsend);
    return 0;
}
