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
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
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

static struct netmap_if *open_port(const char *name, int *fdp, size_t *sizep) {
    struct nmreq_header hdr;
    struct nmreq_register reg;
    memset(&hdr, 0, sizeof hdr);
    memset(&reg, 0, sizeof reg);
    hdr.nr_version = NETMAP_API;
    hdr.nr_reqtype = NETMAP_REQ_REGISTER;
    strncpy(hdr.nr_name, name, sizeof hdr.nr_name - 1);
    hdr.nr_body = (uintptr_t)&reg;
    reg.nr_mode = NR_REG_ALL_NIC;
    int fd = open("/dev/netmap", O_RDWR);
    if (fd < 0 || ioctl(fd, NIOCCTRL, &hdr) != 0) return NULL;
    void *mem = mmap(NULL, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED) return NULL;
    *fdp = fd;
    *sizep = reg.nr_memsize;
    return NETMAP_IF(mem, reg.nr_offset);
}

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
    struct netmap_if *m = open_port("ovpipe{0", &mfd, &msize);
    struct netmap_if *s = open_port("ovpipe}0", &sfd, &ssize);
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
