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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include <net/netmap_user.h>

static struct netmap_if *open_port(const char *name, int *fdp) {
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
        perror(name);
        exit(1);
    }
    void *mem = mmap(NULL, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED) {
        perror("mmap");
        exit(1);
    }
    *fdp = fd;
    return NETMAP_IF(mem, reg.nr_offset);
}

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % sysconf(_SC_NPROCESSORS_ONLN), &set);
    sched_setaffinity(0, sizeof set, &set);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* SIGALRM after `seconds` (fractions allowed, unlike alarm()). */
static void arm_timer(double seconds) {
    struct itimerval it = {{0, 0}, {(time_t)seconds, (suseconds_t)((seconds - (time_t)seconds) * 1e6)}};
    if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0) it.it_value.tv_usec = 1000;
    setitimer(ITIMER_REAL, &it, NULL);
}

static volatile sig_atomic_t stop;
static void on_alarm(int sig) { (void)sig; stop = 1; }

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
        pin(1);
        int fd;
        struct netmap_if *nifp = open_port(slave, &fd);
        struct netmap_ring *rx = NETMAP_RXRING(nifp, 0);
        unsigned long long got = 0;
        char c = 1;
        if (write(pfd[1], &c, 1) != 1) _exit(1);
        signal(SIGTERM, on_alarm);
        while (!stop) {
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
    pin(0);
    char c;
    if (read(pfd[0], &c, 1) != 1) {
        fprintf(stderr, "pipe_rate: receiver could not open %s\n", slave);
        waitpid(child, NULL, 0);
        return 1;
    }
    int fd;
    struct netmap_if *nifp = open_port(master, &fd);
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
    signal(SIGALRM, on_alarm);
    arm_timer(seconds);
    unsigned long long sent = 0;
    double t0 = now_s();
    uint64_t c0 = __rdtsc();
    while (!stop) {
        unsigned room = nm_ring_space(tx);
        if (room == 0) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            poll(&p, 1, 100);
            continue;
        }
        if (room > batch) room = batch;
        unsigned cur = tx->cur + room;
        if (cur >= tx->num_slots) cur -= tx->num_slots;
        tx->head = tx->cur = cur;
        sent += room;
        ioctl(fd, NIOCTXSYNC, NULL);
    }
    uint64_t c1 = __rdtsc();
    double dt = now_s() - t0;
    kill(child, SIGTERM);
    unsigned long long got = 0;
    if (read(pfd[0], &got, sizeof got) != sizeof got) got = 0;
    waitpid(child, NULL, 0);
    close(fd);
    printf("%s batch %4u: sent %.2f Mpps, received %.2f Mpps, %.1f cycles/packet (sender TSC)\n",
           label, batch, sent / dt / 1e6, got / dt / 1e6, (double)(c1 - c0) / (double)(sent ? sent : 1));
    return 0;
}
