/*
 * bridge - forward packets both ways between two unetmap ports.
 *
 * Command line compatible with netmap's bridge(8):
 *
 *     bridge [-v] [-c] [-i ifa] [-i ifb] [-b batch] [-w wait] [ifa [ifb [batch]]]
 *
 * When both ports live in the same memory region (same nr_mem_id: two pipe
 * ends of different pipes in the global region, ports opened with @N or
 * @share=), a packet is forwarded by swapping the buffer indices of the RX
 * and TX slots and flagging both NS_BUF_CHANGED: no byte is copied.
 * Otherwise (or with -c) the payload is copied.
 *
 * On SIGINT/SIGTERM the number of packets forwarded in each direction is
 * printed; with -v it is also printed every second.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libnetmap.h>

#define PROG "bridge"
#include "tool_util.h"

static int verbose;
static int zerocopy = 1;

static const char usage_text[] =
"Usage: " PROG " [-v] [-c] [-i port_a] [-i port_b] [-b batch] [-w wait] [port_a [port_b [batch]]]\n"
"\n"
"Forward packets in both directions between two unetmap ports.\n"
"\n"
"  -i port   a port to bridge (give two); any unetmap port name:\n"
"            NAME{N / NAME}N (pipe ends), null:NAME, valeS:P\n"
"  -b batch  packets moved per ring and round, 1..8192 (default 1024)\n"
"  -w secs   wait before forwarding (default 0: no link to bring up)\n"
"  -c        always copy payloads, even when zero-copy is possible\n"
"  -v        report forwarded packets every second (-v -v: every batch)\n"
"  -h        this help\n"
"\n"
"Zero-copy (buffer swap) is used when both ports share a memory region.\n"
"Bridging a port with its host rings (a single port name) is not supported.\n"
"The totals per direction are printed on exit (SIGINT or SIGTERM).\n";

struct port {
	const char *name;
	struct nmport_d *d;
};

struct dir {
	struct port *src, *dst;
	unsigned long long pkts, bytes, dropped;
	char label[600];
};

/* packets waiting in the rx rings (tx = 0) or room in the tx rings (tx = 1) */
static unsigned queued(struct nmport_d *d, int tx)
{
	unsigned tot = 0;

	if (tx) {
		for (int i = d->first_tx_ring; i <= d->last_tx_ring; i++)
			tot += nm_ring_space(NETMAP_TXRING(d->nifp, i));
	} else {
		for (int i = d->first_rx_ring; i <= d->last_rx_ring; i++)
			tot += nm_ring_space(NETMAP_RXRING(d->nifp, i));
	}
	return tot;
}

/* move up to limit slots from rx to tx; returns how many slots moved */
static unsigned process_rings(struct dir *dr, struct netmap_ring *rx, struct netmap_ring *tx,
			      unsigned limit)
{
	unsigned j = rx->cur, k = tx->cur, m, n;

	m = nm_ring_space(rx);
	if (m < limit)
		limit = m;
	m = nm_ring_space(tx);
	if (m < limit)
		limit = m;
	n = limit;
	while (limit-- > 0) {
		struct netmap_slot *rs = &rx->slot[j];
		struct netmap_slot *ts = &tx->slot[k];
		uint16_t more = rs->flags & NS_MOREFRAG;

		if (zerocopy) {
			uint32_t idx = ts->buf_idx;
			ts->buf_idx = rs->buf_idx;
			rs->buf_idx = idx;
			ts->len = rs->len;
			ts->flags = (uint16_t)(more | NS_BUF_CHANGED);
			rs->flags |= NS_BUF_CHANGED;
		} else if (rs->len > tx->nr_buf_size) {
			/* does not fit in the other region's buffers: drop it */
			dr->dropped++;
			if (verbose)
				LOG("%s: dropped a %u-byte packet (buffers of %u bytes)",
				    dr->label, rs->len, tx->nr_buf_size);
			j = nm_ring_next(rx, j);
			continue;
		} else {
			memcpy(NETMAP_BUF(tx, ts->buf_idx), NETMAP_BUF(rx, rs->buf_idx), rs->len);
			ts->len = rs->len;
			ts->flags = more;
		}
		if (!more && ts->len > 0)
			dr->pkts++;
		dr->bytes += ts->len;
		if (verbose > 1)
			LOG("%s: len %u rx[%u] buf %u -> tx[%u]", dr->label, ts->len, j,
			    zerocopy ? ts->buf_idx : rs->buf_idx, k);
		j = nm_ring_next(rx, j);
		k = nm_ring_next(tx, k);
	}
	rx->head = rx->cur = j;
	tx->head = tx->cur = k;
	return n;
}

static unsigned move(struct dir *dr, unsigned limit)
{
	struct nmport_d *s = dr->src->d, *d = dr->dst->d;
	int si = s->first_rx_ring, di = d->first_tx_ring;
	unsigned m = 0;

	while (si <= s->last_rx_ring && di <= d->last_tx_ring) {
		struct netmap_ring *rx = NETMAP_RXRING(s->nifp, si);
		struct netmap_ring *tx = NETMAP_TXRING(d->nifp, di);

		if (nm_ring_empty(rx)) {
			si++;
			continue;
		}
		if (nm_ring_empty(tx)) {
			di++;
			continue;
		}
		m += process_rings(dr, rx, tx, limit);
	}
	return m;
}

static void report(struct dir *dirs, const char *when)
{
	for (int i = 0; i < 2; i++)
		printf("%s: %s: %llu packets forwarded (%llu bytes)%s\n", when, dirs[i].label,
		       dirs[i].pkts, dirs[i].bytes, zerocopy ? " zero-copy" : " copy");
	fflush(stdout);
}

static struct nmport_d *open_port(const char *name, struct nmport_d *other)
{
	char spec[600];
	struct nmport_d *d;

	if (strlen(name) >= 512)
		die("%s: port name too long", name);
	if (strncmp(name, "netmap:", 7) == 0 || strncmp(name, "vale", 4) == 0 ||
	    strcmp(name, "null") == 0 || strncmp(name, "null:", 5) == 0)
		snprintf(spec, sizeof spec, "%s", name);
	else
		snprintf(spec, sizeof spec, "netmap:%s", name);
	lib_err[0] = '\0';
	d = nmport_open(spec);
	if (d == NULL) {
		int e = errno;
		nmport_close(other);
		die("cannot open port '%s': %s", name, lib_err[0] ? lib_err : strerror(e));
	}
	return d;
}

int main(int argc, char **argv)
{
	struct port pa = { 0 }, pb = { 0 };
	struct dir dirs[2];
	struct pollfd pfd[2];
	long burst = 1024, wait_link = 0;
	const char *ifa = NULL, *ifb = NULL;
	struct timeval last;
	int ch;

	opterr = 0;
	while ((ch = getopt(argc, argv, ":b:ci:vw:h")) != -1) {
		switch (ch) {
		case 'b': burst = num_arg("-b", optarg, 1, 8192); break;
		case 'c': zerocopy = 0; break;
		case 'i':
			if (ifa == NULL)
				ifa = optarg;
			else if (ifb == NULL)
				ifb = optarg;
			else
				die("-i %s: already have two ports", optarg);
			break;
		case 'v': verbose++; break;
		case 'w': wait_link = num_arg("-w", optarg, 0, 100); break;
		case 'h': fputs(usage_text, stdout); return 0;
		case ':': die("option -%c needs an argument (see " PROG " -h)", optopt);
		default: die("unknown option -%c (see " PROG " -h)", optopt);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 0 && ifa == NULL) { ifa = *argv++; argc--; }
	if (argc > 0 && ifb == NULL) { ifb = *argv++; argc--; }
	if (argc > 0) { burst = num_arg("batch", *argv++, 1, 8192); argc--; }
	if (argc > 0)
		die("unexpected argument '%s' (see " PROG " -h)", *argv);
	if (ifa == NULL)
		die("missing port (-i port_a -i port_b)");
	if (ifb == NULL || strcmp(ifa, ifb) == 0)
		die("%s: bridging a port with its host rings is not supported; give two ports", ifa);

	nmctx_get()->error = lib_error_cb;
	pa.name = ifa;
	pb.name = ifb;
	pa.d = open_port(ifa, NULL);
	pb.d = open_port(ifb, pa.d);

	zerocopy = zerocopy && pa.d->reg.nr_mem_id == pb.d->reg.nr_mem_id && pa.d->mem == pb.d->mem;
	LOG("------- zerocopy %ssupported (regions %u and %u)", zerocopy ? "" : "NOT ",
	    pa.d->reg.nr_mem_id, pb.d->reg.nr_mem_id);

	memset(dirs, 0, sizeof dirs);
	dirs[0].src = &pa; dirs[0].dst = &pb;
	dirs[1].src = &pb; dirs[1].dst = &pa;
	snprintf(dirs[0].label, sizeof dirs[0].label, "%s -> %s", ifa, ifb);
	snprintf(dirs[1].label, sizeof dirs[1].label, "%s -> %s", ifb, ifa);

	catch_stop_signals();

	if (wait_link > 0) {
		LOG("Wait %ld secs for link to come up...", wait_link);
		wait_secs(wait_link);
	}
	LOG("Ready to go, %s 0x%x/%d <-> %s 0x%x/%d.", pa.d->hdr.nr_name, pa.d->first_rx_ring,
	    pa.d->reg.nr_rx_rings, pb.d->hdr.nr_name, pb.d->first_rx_ring, pb.d->reg.nr_rx_rings);
	printf("bridge: %s <-> %s, %s\n", ifa, ifb, zerocopy ? "zero-copy (buffer swap)" : "copy");
	fflush(stdout);

	gettimeofday(&last, NULL);
	pfd[0].fd = pa.d->fd;
	pfd[1].fd = pb.d->fd;
	while (!do_abort) {
		unsigned n0 = queued(pa.d, 0), n1 = queued(pb.d, 0);
		int ret;

		/* wait for room where packets are waiting, else for packets */
		pfd[0].events = pfd[1].events = 0;
		pfd[0].revents = pfd[1].revents = 0;
		if (n0)
			pfd[1].events |= POLLOUT;
		else
			pfd[0].events |= POLLIN;
		if (n1)
			pfd[0].events |= POLLOUT;
		else
			pfd[1].events |= POLLIN;
		ret = poll(pfd, 2, verbose ? 500 : 2500);
		if (ret < 0 && errno != EINTR) {
			LOG("poll: %s", strerror(errno));
			break;
		}
		if (ret > 0) {
			if (pfd[0].revents & POLLERR)
				LOG("error on fd0 (%s)", ifa);
			if (pfd[1].revents & POLLERR)
				LOG("error on fd1 (%s)", ifb);
			if (pfd[1].revents & POLLOUT) {
				if (move(&dirs[0], (unsigned)burst) > 0) {
					ioctl(pb.d->fd, NIOCTXSYNC, NULL);	/* send */
					ioctl(pa.d->fd, NIOCRXSYNC, NULL);	/* release, swapped buffers back */
				}
			}
			if (pfd[0].revents & POLLOUT) {
				if (move(&dirs[1], (unsigned)burst) > 0) {
					ioctl(pa.d->fd, NIOCTXSYNC, NULL);
					ioctl(pb.d->fd, NIOCRXSYNC, NULL);
				}
			}
		}
		if (verbose) {
			struct timeval now;
			gettimeofday(&now, NULL);
			if ((now.tv_sec - last.tv_sec) * 1000000L + (now.tv_usec - last.tv_usec) >= 1000000L) {
				for (int i = 0; i < 2; i++)
					LOG("%s: %llu packets forwarded%s", dirs[i].label, dirs[i].pkts,
					    zerocopy ? " (zero-copy)" : " (copy)");
				last = now;
			}
		}
	}
	LOG("exiting");
	report(dirs, "bridge");
	if (dirs[0].dropped || dirs[1].dropped)
		printf("bridge: dropped %llu + %llu packets too long for the other port's buffers\n",
		       dirs[0].dropped, dirs[1].dropped);
	nmport_close(pb.d);
	nmport_close(pa.d);
	return 0;
}
