/*
 * sync_cost: a fixed, deterministic amount of work on the sync paths, in
 * one process and one thread, for instruction counting under callgrind
 * (bench/run divides the counts by the packets moved):
 *
 *   sync_cost -m pipe  [-b BATCH] [-n ROUNDS]   pipe NAME{0 -> NAME}0
 *   sync_cost -m vale2 ...                      valeC:a -> valeC:b (learned)
 *   sync_cost -m vale3 ...                      valeC:a -> b, c (flooded)
 *
 * Each round fills BATCH 60-byte slots on the sender's TX ring, calls
 * NIOCTXSYNC on it, then NIOCRXSYNC on every receiver and releases what
 * arrived (handed back at the next round's NIOCRXSYNC).  Prints the
 * packets sent.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "bench_util.h"

static void frame(struct netmap_ring *r, unsigned i, unsigned dst, unsigned src) {
    unsigned char *b = (unsigned char *)NETMAP_BUF(r, r->slot[i].buf_idx);
    const unsigned char h[14] = {2, 0, 0, 0, 0, (unsigned char)dst, 2, 0, 0, 0, 0, (unsigned char)src, 0x88, 0xb5};
    memset(b, 0, 60);
    memcpy(b, h, sizeof h);
    r->slot[i].len = 60;
}

int main(int argc, char **argv) {
    const char *mode = "pipe";
    unsigned batch = 64, rounds = 10000;
    int opt;
    while ((opt = getopt(argc, argv, "m:b:n:")) != -1) {
        switch (opt) {
        case 'm': mode = optarg; break;
        case 'b': batch = (unsigned)atoi(optarg); break;
        case 'n': rounds = (unsigned)atoi(optarg); break;
        default:
            fprintf(stderr, "usage: sync_cost [-m pipe|vale2|vale3] [-b batch] [-n rounds]\n");
            return 1;
        }
    }
    int fds[3], nrx;
    struct netmap_if *ifs[3];
    if (!strcmp(mode, "pipe")) {
        ifs[0] = bench_open_port("synccost{0", &fds[0], exit);
        ifs[1] = bench_open_port("synccost}0", &fds[1], exit);
        nrx = 1;
    } else if (!strcmp(mode, "vale2") || !strcmp(mode, "vale3")) {
        nrx = mode[4] - '1';
        ifs[0] = bench_open_port("valeC:a", &fds[0], exit);
        ifs[1] = bench_open_port("valeC:b", &fds[1], exit);
        if (nrx == 2) ifs[2] = bench_open_port("valeC:c", &fds[2], exit);
    } else {
        fprintf(stderr, "sync_cost: unknown mode %s\n", mode);
        return 1;
    }
    struct netmap_ring *tx = NETMAP_TXRING(ifs[0], 0);
    if (batch < 1 || batch > tx->num_slots / 2) {
        fprintf(stderr, "sync_cost: batch 1..%u\n", tx->num_slots / 2);
        return 1;
    }
    /* vale2: b announces its MAC (2) so a's frames to it are unicast after
     * a lookup; vale3: a sends to MAC 9, unknown, so every frame floods. */
    unsigned dst = nrx == 2 ? 9 : 2;
    if (strcmp(mode, "pipe")) {
        struct netmap_ring *btx = NETMAP_TXRING(ifs[1], 0);
        frame(btx, btx->cur, 0xff, 2);
        btx->head = btx->cur = nm_ring_next(btx, btx->cur);
        ioctl(fds[1], NIOCTXSYNC, NULL);
    }
    for (unsigned i = 0; i < tx->num_slots; i++) frame(tx, i, dst, 1);
    unsigned long long sent = 0;
    for (unsigned n = 0; n < rounds; n++) {
        sent += bench_tx_advance(tx, batch);
        ioctl(fds[0], NIOCTXSYNC, NULL);
        for (int k = 1; k <= nrx; k++) {
            struct netmap_ring *rx = NETMAP_RXRING(ifs[k], 0);
            ioctl(fds[k], NIOCRXSYNC, NULL);
            rx->head = rx->cur = rx->tail;
        }
    }
    printf("%s batch %u: %llu packets\n", mode, batch, sent);
    return 0;
}
