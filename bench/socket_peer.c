/*
 * socket_peer: the baseline for bench/pipe_rate.  Two processes, one per
 * core (0 and 1), move 60-byte frames in batches through what a program
 * would use without a packet I/O framework:
 *
 *   -m socketpair  AF_UNIX SOCK_DGRAM socketpair, one frame per datagram,
 *                  sendmmsg/recvmmsg of BATCH messages per system call;
 *   -m pipe        pipe(2), writev of BATCH 60-byte iovecs per call, read
 *                  of up to BATCH*60 bytes per call (a byte stream: frames
 *                  are counted as bytes / len).
 *
 *   -m packet      AF_PACKET SOCK_RAW sockets on two interfaces (-i sender,
 *                  -o receiver: two veth ends on a Linux bridge, say),
 *                  sendmmsg/recvmmsg of BATCH frames per call, addressed
 *                  to the receiving interface's MAC, EtherType 0x88b5;
 *                  the sender never blocks, so this counts what arrives.
 *
 *   socket_peer -m MODE [-b BATCH] [-t SECONDS] [-l LEN] [-i IF -o IF]
 * Prints the same line as pipe_rate: sent and received Mpps and sender
 * cycles per packet (TSC).  Blocking I/O: a full socket/pipe makes the
 * sender sleep in the kernel, as it would in a real program.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "bench_util.h"

/* An AF_PACKET socket bound to interface `ifname` for EtherType `proto`
 * (0: send only); its MAC in mac. */
static int packet_socket(const char *ifname, unsigned proto, unsigned char mac[6]) {
    int fd = socket(AF_PACKET, SOCK_RAW, htons(proto));
    if (fd < 0) {
        perror("socket(AF_PACKET)");
        exit(1);
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
        perror(ifname);
        exit(1);
    }
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof sll);
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(proto);
    sll.sll_ifindex = (int)if_nametoindex(ifname);
    if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
        perror("bind(AF_PACKET)");
        exit(1);
    }
    int sz = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz);
    return fd;
}

int main(int argc, char **argv) {
    unsigned batch = 256, len = 60;
    double seconds = 2;
    const char *mode = "socketpair", *txif = NULL, *rxif = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "m:b:t:l:i:o:")) != -1) {
        switch (opt) {
        case 'm': mode = optarg; break;
        case 'b': batch = (unsigned)atoi(optarg); break;
        case 't': seconds = atof(optarg); break;
        case 'l': len = (unsigned)atoi(optarg); break;
        case 'i': txif = optarg; break;
        case 'o': rxif = optarg; break;
        default:
            fprintf(stderr, "usage: socket_peer [-m socketpair|pipe|packet] [-b batch] [-t seconds] [-l len] "
                            "[-i txif -o rxif]\n");
            return 1;
        }
    }
    if (batch < 1 || batch > 1024 || len < 1 || len > 2048) {
        fprintf(stderr, "socket_peer: batch 1..1024, len 1..2048\n");
        return 1;
    }
    int is_pipe = strcmp(mode, "pipe") == 0, is_packet = strcmp(mode, "packet") == 0;
    if (!is_pipe && !is_packet && strcmp(mode, "socketpair") != 0) {
        fprintf(stderr, "socket_peer: unknown mode %s\n", mode);
        return 1;
    }
    int fds[2];
    unsigned char dmac[6] = {0x02, 0, 0, 0, 0, 0x02}, smac[6];
    if (is_packet) {
        if (!txif || !rxif) {
            fprintf(stderr, "socket_peer: -m packet needs -i txif -o rxif\n");
            return 1;
        }
        fds[0] = packet_socket(txif, 0, smac);
        fds[1] = packet_socket(rxif, 0x88b5, dmac);
    } else if (is_pipe ? pipe(fds) : socketpair(AF_UNIX, SOCK_DGRAM, 0, fds)) {
        perror("socket_peer");
        return 1;
    }
    int res[2]; /* the receiver's count comes back here */
    if (pipe(res) != 0) return 1;
    /* Frames: an Ethernet header then zeros. */
    static unsigned char frames[1024][2048];
    for (unsigned i = 0; i < batch; i++) {
        static const unsigned char eth[14] = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x88, 0xb5};
        memcpy(frames[i], eth, sizeof eth);
        memcpy(frames[i], dmac, 6);
    }
    static struct iovec iov[1024];
    static struct mmsghdr msgs[1024];
    for (unsigned i = 0; i < batch; i++) {
        iov[i].iov_base = frames[i];
        iov[i].iov_len = len;
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    pid_t child = fork();
    if (child == 0) { /* receiver */
        bench_pin(1);
        close(fds[is_pipe ? 1 : 0]);
        close(res[0]);
        int fd = fds[1 - (is_pipe ? 1 : 0)];
        struct sigaction sa = {0};
        sa.sa_handler = bench_on_stop; /* no SA_RESTART: a blocked read returns */
        sigaction(SIGTERM, &sa, NULL);
        unsigned long long got = 0, bytes = 0;
        for (unsigned i = 0; i < batch; i++) iov[i].iov_len = 2048;
        while (!bench_stop) {
            if (is_pipe) {
                ssize_t n = read(fd, frames, (size_t)batch * len);
                if (n > 0) bytes += (unsigned long long)n;
                else if (n == 0) break;
            } else {
                int n = recvmmsg(fd, msgs, batch, 0, NULL);
                if (n > 0) got += (unsigned)n;
            }
        }
        if (is_pipe) got = bytes / len;
        if (write(res[1], &got, sizeof got) != sizeof got) _exit(1);
        _exit(0);
    }
    bench_pin(0);
    close(res[1]);
    int fd = fds[is_pipe ? 1 : 0];
    close(fds[is_pipe ? 0 : 1]);
    struct sigaction sa = {0};
    sa.sa_handler = bench_on_stop;
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    bench_arm_timer(seconds);
    unsigned long long sent = 0, sent_bytes = 0;
    double t0 = bench_now();
    uint64_t c0 = bench_tsc();
    while (!bench_stop) {
        if (is_pipe) {
            ssize_t n = writev(fd, iov, (int)batch);
            if (n > 0) sent_bytes += (unsigned long long)n;
        } else {
            int n = sendmmsg(fd, msgs, batch, 0);
            if (n > 0) sent += (unsigned)n;
        }
    }
    uint64_t c1 = bench_tsc();
    double dt = bench_now() - t0;
    if (is_pipe) sent = sent_bytes / len;
    unsigned long long got = bench_child_result(child, res[0]);
    bench_print_rate(mode, batch, sent, got, dt, c1 - c0);
    return 0;
}
