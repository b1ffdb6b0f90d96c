/*
 * The workload of the interposition overhead benchmark (see
 * docs/PERFORMANCE-interposition.md), shared by its three programs so that
 * only the way a sync is issued differs:
 *
 *   overhead_nmport  nmport_open() + ioctl(), linked with libnetmap   (a)
 *   overhead_raw     open/ioctl/mmap, not linked: run under LD_PRELOAD (b)
 *   overhead_direct  the core's C++ API (Descriptor::sync), no libc call (c)
 *
 * One thread, one process, a netmap pipe: each round puts BATCH 60-byte
 * frames (length only, payload untouched) on the master's TX ring and
 * syncs it, then syncs the slave's RX ring and releases everything it
 * got (published at its next sync).  Two syncs per round; rate = frames
 * received per second.
 *
 * Before including, define OV_TXSYNC(ctx) and OV_RXSYNC(ctx) (0 on
 * success) and OV_CTX (the type passed to them).
 *
 * Each program: PROG BATCH SECONDS  ->  prints "<Mpps>\n" (or fails).
 */
#ifndef UNETMAP_BENCH_OVERHEAD_LOOP_H
#define UNETMAP_BENCH_OVERHEAD_LOOP_H

#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

/* Pin to the last CPU (the others run the build or the shell). */
static inline void ov_pin(void) {
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    bench_pin(n > 0 ? n - 1 : 0);
}

static inline int ov_args(int argc, char **argv, unsigned *batch, double *seconds) {
    if (argc != 3) return -1;
    *batch = (unsigned)strtoul(argv[1], NULL, 10);
    *seconds = strtod(argv[2], NULL);
    return *batch >= 1 && *batch <= 512 && *seconds > 0 ? 0 : -1;
}

/* Run rounds for `seconds` (after a warm-up of a tenth of that); returns
 * Mpps received, or a negative value if a sync failed or frames got lost. */
static inline double ov_run(OV_CTX m, struct netmap_ring *tx, OV_CTX s, struct netmap_ring *rx,
                            unsigned batch, double seconds) {
    for (unsigned i = 0; i < tx->num_slots; i++) tx->slot[i].len = 60;
    unsigned long long sent = 0, got = 0, got_at_start = 0;
    double t0 = 0, end = bench_now() + seconds / 10;
    int measuring = 0;
    for (;;) {
        for (int k = 0; k < 256; k++) {
            sent += bench_tx_advance(tx, batch);
            if (OV_TXSYNC(m) != 0) return -1;
            if (OV_RXSYNC(s) != 0) return -1;
            got += nm_ring_space(rx);
            rx->head = rx->cur = rx->tail;
        }
        const double t = bench_now();
        if (t < end) continue;
        if (measuring) {
            /* Every frame sent before the last rxsync must have arrived. */
            if (sent - got > 2ull * batch) return -2;
            return (double)(got - got_at_start) / (t - t0) / 1e6;
        }
        measuring = 1;
        got_at_start = got;
        t0 = t;
        end = t + seconds;
    }
}

static inline int ov_report(double mpps) {
    if (mpps < 0) {
        fprintf(stderr, "overhead: %s\n", mpps == -1 ? "a sync failed" : "frames lost");
        return 1;
    }
    printf("%.3f\n", mpps);
    return 0;
}

#endif
