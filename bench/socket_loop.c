/*
 * socket_loop: the plain AF_PACKET baseline of bench/nic_veth.sh, what a
 * program does with no packet I/O framework on one interface:
 *
 *   socket_loop tx  IFNAME SECONDS [LEN]        send() of one frame per call
 *   socket_loop txm IFNAME SECONDS [LEN [BATCH]] sendmmsg() of BATCH (64)
 *   socket_loop rx  IFNAME SECONDS              recvmmsg() of up to 64
 *
 * A SOCK_RAW socket bound to the interface, blocking, default options (no
 * PACKET_QDISC_BYPASS, no ring): the ordinary way.  Frames are LEN bytes
 * (default 60, without CRC), broadcast, EtherType 0x88b5 (local
 * experimental), built once.  The sender stops after SECONDS; the receiver
 * after SECONDS, or earlier on SIGINT/SIGTERM, or 1 s after traffic stops.
 *
 * Prints one line:  MODE Mpps PACKETS SECONDS [errors N]
 * where SECONDS is, for the sender, its whole loop; for the receiver, from
 * the first frame to the last one (as pkt-gen -f rx counts).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAXB 1024
#define PROTO 0x88b5

static volatile sig_atomic_t stop;
static void on_signal(int s) { (void)s; stop = 1; }

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: socket_loop tx|txm|rx IFNAME SECONDS [LEN [BATCH]]\n");
        return 2;
    }
    const char *mode = argv[1], *ifname = argv[2];
    double secs = atof(argv[3]);
    int len = argc > 4 ? atoi(argv[4]) : 60;
    int batch = argc > 5 ? atoi(argv[5]) : 64;
    int rx = strcmp(mode, "rx") == 0, txm = strcmp(mode, "txm") == 0;
    if (!rx && !txm && strcmp(mode, "tx") != 0) {
        fprintf(stderr, "socket_loop: unknown mode %s\n", mode);
        return 2;
    }
    if (len < 14 || len > 2048 || batch < 1 || batch > MAXB || secs <= 0) {
        fprintf(stderr, "socket_loop: bad length, batch or seconds\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;  /* no SA_RESTART: a blocked recv returns */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    unsigned ifindex = if_nametoindex(ifname);
    if (!ifindex)
        die(ifname);
    int fd = socket(AF_PACKET, SOCK_RAW, htons(rx ? ETH_P_ALL : 0));
    if (fd < 0)
        die("socket(AF_PACKET)");
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = (int)ifindex;
    sll.sll_protocol = htons(rx ? ETH_P_ALL : 0);
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0)
        die("bind");

    static unsigned char frame[2048];
    static unsigned char rbuf[MAXB][2048];
    static struct mmsghdr msgs[MAXB];
    static struct iovec iov[MAXB];
    unsigned long long pkts = 0, errs = 0;
    double t0 = now(), first = 0, last = 0;

    if (!rx) {
        memset(frame, 0xff, 6);                      /* broadcast */
        frame[6] = 0x02; frame[11] = 0x01;           /* locally administered source */
        frame[12] = PROTO >> 8; frame[13] = PROTO & 0xff;
        for (int i = 14; i < len; i++)
            frame[i] = (unsigned char)i;
        for (int i = 0; i < batch; i++) {
            iov[i].iov_base = frame;
            iov[i].iov_len = (size_t)len;
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        double end = t0 + secs;
        unsigned n = 0;
        while (!stop) {
            if (txm) {
                int r = sendmmsg(fd, msgs, (unsigned)batch, 0);
                if (r > 0)
                    pkts += (unsigned)r;
                else
                    errs++;
            } else if (send(fd, frame, (size_t)len, 0) == len) {
                pkts++;
            } else {
                errs++;
            }
            if ((++n & 63) == 0 && now() >= end)
                break;
        }
        last = now();
        first = t0;
    } else {
        struct timeval tv = {0, 200000};  /* wake up to check the clock */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        int big = 8 << 20;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
        for (int i = 0; i < 64; i++) {
            iov[i].iov_base = rbuf[i];
            iov[i].iov_len = sizeof rbuf[i];
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        double end = t0 + secs;
        while (!stop) {
            int r = recvmmsg(fd, msgs, 64, MSG_WAITFORONE, NULL);
            double t = now();
            if (r > 0) {
                if (!pkts)
                    first = t;
                pkts += (unsigned)r;
                last = t;
            } else if (errno != EAGAIN && errno != EINTR) {
                errs++;
            }
            if (t >= end || (pkts && t - last > 1.0))
                break;
        }
    }
    double dt = last > first ? last - first : 0;
    printf("%s %.4f %llu %.3f", mode, dt > 0 ? (double)pkts / dt / 1e6 : 0.0, pkts, dt);
    if (errs)
        printf(" errors %llu", errs);
    printf("\n");
    return 0;
}
