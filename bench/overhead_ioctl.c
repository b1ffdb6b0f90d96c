/*
 * Ways (a) and (b) of the interposition overhead benchmark
 * (bench/overhead_loop.h): syncs are ioctl() calls on the descriptor.
 *
 * Built with -DOV_NMPORT and linked with libnetmap: the ports are opened
 * with nmport_open() (overhead_nmport).  Without it, not linked with
 * libnetmap at all: raw open/ioctl/mmap, for LD_PRELOAD=libnetmap.so
 * (overhead_raw), as a binary built against upstream netmap would be.
 */
#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <unistd.h>

#define OV_CTX int
#define OV_TXSYNC(fd) ioctl((fd), NIOCTXSYNC, NULL)
#define OV_RXSYNC(fd) ioctl((fd), NIOCRXSYNC, NULL)
#include "overhead_loop.h"

#ifdef OV_NMPORT
#include <libnetmap.h>

int main(int argc, char **argv) {
    unsigned batch;
    double seconds;
    if (ov_args(argc, argv, &batch, &seconds) != 0) {
        fprintf(stderr, "usage: overhead_nmport BATCH SECONDS\n");
        return 2;
    }
    ov_pin();
    struct nmport_d *m = nmport_open("netmap:ovpipe{0");
    struct nmport_d *s = nmport_open("netmap:ovpipe}0");
    if (!m || !s) {
        perror("nmport_open");
        return 1;
    }
    const int rc = ov_report(ov_run(m->fd, NETMAP_TXRING(m->nifp, m->first_tx_ring), s->fd,
                                    NETMAP_RXRING(s->nifp, s->first_rx_ring), batch, seconds));
    nmport_close(m);
    nmport_close(s);
    return rc;
}

#else

int main(int argc, char **argv) {
    unsigned batch;
    double seconds;
    if (ov_args(argc, argv, &batch, &seconds) != 0) {
        fprintf(stderr, "usage: LD_PRELOAD=libnetmap.so overhead_raw BATCH SECONDS\n");
        return 2;
    }
    ov_pin();
    int mfd, sfd;
    size_t msize, ssize;
    struct netmap_if *m = bench_try_open_port("ovpipe{0", &mfd, &msize, NULL);
    struct netmap_if *s = bench_try_open_port("ovpipe}0", &sfd, &ssize, NULL);
    if (!m || !s) {
        perror("open /dev/netmap (is libnetmap.so preloaded?)");
        return 1;
    }
    const int rc = ov_report(ov_run(mfd, NETMAP_TXRING(m, 0), sfd, NETMAP_RXRING(s, 0), batch, seconds));
    close(mfd);
    close(sfd);
    return rc;
}
#endif
