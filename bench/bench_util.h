/*
 * Helpers shared by the benchmark programs (pipe_rate, vale_rate,
 * sync_cost, socket_peer, overhead_*): the clock and TSC, CPU pinning, a
 * stop flag set from a signal, a fractional-second timer, opening a port
 * with raw NIOCCTRL + mmap (no libnetmap call, so it also works under
 * LD_PRELOAD), the sender's batch loop, and the two-process result line.
 *
 * Static inline only; C11 and C++.  Define _GNU_SOURCE before the first
 * system header (CPU_SET, sched_setaffinity).  Needs the netmap headers
 * on the include path (unetmap_headers), not the library: socket_peer, the
 * baseline without netmap, uses only the clock, pinning and result parts.
 */
#ifndef UNETMAP_BENCH_BENCH_UTIL_H
#define UNETMAP_BENCH_BENCH_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include <net/netmap_user.h>

/* CLOCK_MONOTONIC in seconds. */
static inline double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#if defined(__x86_64__) || defined(__i386__)
static inline uint64_t bench_tsc(void) { return __rdtsc(); }
#endif

/* Pin the calling thread to CPU `cpu` modulo the online CPUs. */
static inline void bench_pin(long cpu) {
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)(n > 0 ? cpu % n : cpu), &set);
    sched_setaffinity(0, sizeof set, &set);
}

/* Set by bench_on_stop (install it for SIGALRM / SIGTERM); loops run
 * while it is 0. */
static volatile sig_atomic_t bench_stop __attribute__((unused));
static inline void bench_on_stop(int sig) {
    (void)sig;
    bench_stop = 1;
}

/* SIGALRM after `seconds` (fractions allowed, unlike alarm()). */
static inline void bench_arm_timer(double seconds) {
    struct itimerval it = {{0, 0}, {(time_t)seconds, (suseconds_t)((seconds - (time_t)seconds) * 1e6)}};
    if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0) it.it_value.tv_usec = 1000;
    setitimer(ITIMER_REAL, &it, NULL);
}

/* Register port `name` (all rings) on a new /dev/netmap descriptor and map
 * its memory.  Returns the netmap_if, its descriptor in *fdp and (if
 * sizep) the mapped size in *sizep; or NULL with errno set and (if what)
 * *what naming the failed step: `name` for open/NIOCCTRL, "mmap". */
static inline struct netmap_if *bench_try_open_port(const char *name, int *fdp, size_t *sizep, const char **what) {
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
        if (what) *what = name;
        return NULL;
    }
    void *mem = mmap(NULL, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED) {
        if (what) *what = "mmap";
        return NULL;
    }
    *fdp = fd;
    if (sizep) *sizep = reg.nr_memsize;
    return NETMAP_IF(mem, reg.nr_offset);
}

/* bench_try_open_port, or perror() and die(1): exit in the main process,
 * _exit in a forked child (no atexit handlers there). */
static inline struct netmap_if *bench_open_port(const char *name, int *fdp, void (*die)(int)) {
    const char *what = name;
    struct netmap_if *nifp = bench_try_open_port(name, fdp, NULL, &what);
    if (!nifp) {
        perror(what);
        die(1);
    }
    return nifp;
}

/* Hand the next min(batch, room) TX slots to the kernel side (their
 * lengths set beforehand); returns how many.  No sync. */
static inline unsigned bench_tx_advance(struct netmap_ring *tx, unsigned batch) {
    unsigned room = nm_ring_space(tx);
    if (room > batch) room = batch;
    unsigned cur = tx->cur + room;
    if (cur >= tx->num_slots) cur -= tx->num_slots;
    tx->head = tx->cur = cur;
    return room;
}

/* The sender: until bench_stop, up to `batch` slots then NIOCTXSYNC,
 * poll() only when the ring is full.  Returns the slots sent. */
static inline unsigned long long bench_tx_loop(int fd, struct netmap_ring *tx, unsigned batch) {
    unsigned long long sent = 0;
    while (!bench_stop) {
        const unsigned n = bench_tx_advance(tx, batch); /* 0: head, cur unchanged */
        if (n == 0) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT, .revents = 0};
            poll(&pf, 1, 100);
            continue;
        }
        sent += n;
        ioctl(fd, NIOCTXSYNC, NULL);
    }
    return sent;
}

/* SIGTERM the receiver `child`, read its count (0 if none) from
 * `fd` and reap it. */
static inline unsigned long long bench_child_result(pid_t child, int fd) {
    kill(child, SIGTERM);
    unsigned long long got = 0;
    if (read(fd, &got, sizeof got) != sizeof got) got = 0;
    waitpid(child, NULL, 0);
    return got;
}

/* The result line of pipe_rate and socket_peer (bench/run parses it). */
static inline void bench_print_rate(const char *label, unsigned batch, unsigned long long sent,
                                    unsigned long long got, double dt, uint64_t cycles) {
    printf("%s batch %4u: sent %.2f Mpps, received %.2f Mpps, %.1f cycles/packet (sender TSC)\n", label, batch,
           sent / dt / 1e6, got / dt / 1e6, (double)cycles / (double)(sent ? sent : 1));
}

#endif
