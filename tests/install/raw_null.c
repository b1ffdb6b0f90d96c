/*
 * Built outside the tree against the installed headers and library, with
 * `cc raw_null.c $(pkg-config --cflags --libs netmap)`: registers a null
 * port with the raw API, transmits a batch and checks that the null port
 * consumed it (tail moves past the sent slots), then does a receive sync.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <net/netmap_user.h>

#define CHECK(c)                                                          \
    do {                                                                  \
        if (!(c)) {                                                       \
            fprintf(stderr, "raw_null: %s failed (errno %d)\n", #c, errno); \
            return 1;                                                     \
        }                                                                 \
    } while (0)

int main(void) {
    struct nmreq_header hdr;
    struct nmreq_register reg;
    memset(&hdr, 0, sizeof hdr);
    memset(&reg, 0, sizeof reg);
    hdr.nr_version = NETMAP_API;
    hdr.nr_reqtype = NETMAP_REQ_REGISTER;
    strcpy(hdr.nr_name, "null:installtest");
    hdr.nr_body = (uintptr_t)&reg;
    reg.nr_mode = NR_REG_ALL_NIC;
    int fd = open("/dev/netmap", O_RDWR);
    CHECK(fd >= 0);
    CHECK(ioctl(fd, NIOCCTRL, &hdr) == 0);
    CHECK(reg.nr_tx_rings == 1 && reg.nr_rx_rings == 1 && reg.nr_memsize > 0);
    void *mem = mmap(NULL, reg.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(mem != MAP_FAILED);
    struct netmap_if *nifp = NETMAP_IF(mem, reg.nr_offset);
    struct netmap_ring *tx = NETMAP_TXRING(nifp, 0);
    CHECK(tx->num_slots == reg.nr_tx_slots);
    unsigned space = nm_ring_space(tx);
    CHECK(space == tx->num_slots - 1);
    for (unsigned i = 0; i < 100; i++) {
        struct netmap_slot *s = &tx->slot[tx->cur];
        memset(NETMAP_BUF(tx, s->buf_idx), 0xab, 60);
        s->len = 60;
        tx->head = tx->cur = nm_ring_next(tx, tx->cur);
    }
    CHECK(nm_ring_space(tx) == space - 100);
    CHECK(ioctl(fd, NIOCTXSYNC, NULL) == 0);
    CHECK(nm_ring_space(tx) == space);  /* the null port took all 100 */
    CHECK(ioctl(fd, NIOCRXSYNC, NULL) == 0);
    CHECK(nm_ring_empty(NETMAP_RXRING(nifp, 0)));
    munmap(mem, reg.nr_memsize);
    CHECK(close(fd) == 0);
    printf("raw_null: ok\n");
    return 0;
}
