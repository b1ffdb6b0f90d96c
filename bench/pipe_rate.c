/*
 * pipe_rate: packets per second through a netmap pipe between two
 * processes, one per core, for a given batch size.  The sender fills
 * `batch` slots (length only: the payload is not touched, like pkt-gen -N)
 * and calls NIOCTXSYNC; the receiver releases everything it sees and calls
 * NIOCRXSYNC; both poll() only when their ring is full/empty.
 *
 *   pipe_rate [-b BATCH] [-t SECONDS] [-p PIPENAME] [-s TXPORT -r RXPORT]
 * -p NAME uses the pipe NAME{0 / NAME}0; -s/-r name any two ports (two
 * ports of one VALE switch, say).
 * Prints: batch, Mpps sent and received, sender cycles per packet (TSC).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "bench_util.h"

int main(int argc, char **argv) {
    unsigned batch = 256;
    double seconds = 2;
    char master[64] = "pipebench{0", slave[64] = "pipebench}0";
    int opt;
    const char *label = "pipe";
    while ((opt = getopt(argc, argv, "b:t:p:s:r:")) != -1) {
        switch (opt) {
        case 'b': batch = (unsigned)atoi(optarg); break;
        case 't': seconds = atof(optarg); break;
        case 'p':
            snprintf(master, sizeof master, "%s{0", optarg);
            snprintf(slave, sizeof slave, "%s}0", optarg);
            break;
        case 's': snprintf(master, sizeof master, "%s", optarg); label = "ports"; break;
        case 'r': snprintf(slave, sizeof slave, "%s", optarg); label = "ports"; break;
        default:
            fprintf(stderr, "usage: pipe_rate [-b batch] [-t seconds] [-p name] [-s txport -r rxport]\n");
            return 1;
        }
    }
    int pfd[2];
    if (pipe(pfd) != 0) return 1;
    pid_t child = fork();
    if (child == 0) { /* receiver */
        close(pfd[0]);
        bench_pin(1);
        int fd;
        struct netmap_if *nifp = bench_open_port(slave, &fd, exit);
        struct netmap_ring *rx = NETMAP_RXRING(nifp, 0);
        unsigned long long got = 0;
        char c = 1;
        if (write(pfd[1], &c, 1) != 1) _exit(1);
        signal(SIGTERM, bench_on_stop);
        while (!bench_stop) {
            if (nm_ring_empty(rx)) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                poll(&p, 1, 100);
                continue;
            }
            got += nm_ring_space(rx);
            rx->head = rx->cur = rx->tail;
            ioctl(fd, NIOCRXSYNC, NULL);
        }
        if (write(pfd[1], &got, sizeof got) != sizeof got) _exit(1);
        _exit(0);
    }
    close(pfd[1]); /* so a receiver that fails makes read() return 0 */
    bench_pin(0);
    char c;
    if (read(pfd[0], &c, 1) != 1) {
        fprintf(stderr, "pipe_rate: receiver could not open %s\n", slave);
        waitpid(child, NULL, 0);
        return 1;
    }
    int fd;
    struct netmap_if *nifp = bench_open_port(master, &fd, exit);
    struct netmap_ring *tx = NETMAP_TXRING(nifp, 0);
    /* Write an Ethernet header into every buffer once (the loop never
     * touches payload): distinct source and destination so a VALE switch
     * learns the sender and floods to the receiver instead of dropping
     * frames addressed back to their own port. */
    static const unsigned char eth[14] = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5};
    for (unsigned i = 0; i < tx->num_slots; i++) {
        tx->slot[i].len = 60;
        memcpy(NETMAP_BUF(tx, tx->slot[i].buf_idx), eth, sizeof eth);
    }
    signal(SIGALRM, bench_on_stop);
    bench_arm_timer(seconds);
    double t0 = bench_now();
    uint64_t c0 = bench_tsc();
    unsigned long long sent = bench_tx_loop(fd, tx, batch);
    uint64_t c1 = bench_tsc();
    double dt = bench_now() - t0;
    unsigned long long got = bench_child_result(child, pfd[0]);
    close(fd);
    bench_print_rate(label, batch, sent, got, dt, c1 - c0);
    return 0;
}
