/*
 * flow_recorder - receive on several unetmap ports and report which flows
 * (IPv4 5-tuples) arrived on which port.  For the lb tests.
 *
 *     flow_recorder -n total port0 [port1 ...]
 *
 * Exits when `total` packets have arrived (on all ports together), or on
 * SIGINT/SIGTERM, printing one line per flow and port:
 *
 *     FLOW <port#> <proto> <src-ip>:<sport> <dst-ip>:<dport> <packets>
 *
 * then `PORT <port#> <packets>` per port and `TOTAL <packets>`.
 * Non-IPv4 frames are counted as flow "other".  Exit status 0, or 1 with a
 * one-line message on a bad argument or a port that cannot be opened.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libnetmap.h>

#define MAX_PORTS 16
#define MAX_FLOWS 4096

struct flow {
	int port;
	uint8_t proto;
	uint32_t src, dst;
	uint16_t sport, dport;
	uint64_t pkts;
};

static struct flow flows[MAX_FLOWS];
static int nflows;
static volatile sig_atomic_t do_abort;

static void on_signal(int sig)
{
	(void)sig;
	do_abort = 1;
}

static void record(int port, const unsigned char *p, unsigned len)
{
	struct flow f = { .port = port };

	if (len >= 34 && p[12] == 0x08 && p[13] == 0x00 && (p[14] >> 4) == 4) {
		unsigned l4 = 14 + (p[14] & 0xf) * 4u;
		f.proto = p[23];
		f.src = (uint32_t)p[26] << 24 | p[27] << 16 | p[28] << 8 | p[29];
		f.dst = (uint32_t)p[30] << 24 | p[31] << 16 | p[32] << 8 | p[33];
		if ((f.proto == 6 || f.proto == 17) && len >= l4 + 4) {
			f.sport = (uint16_t)(p[l4] << 8 | p[l4 + 1]);
			f.dport = (uint16_t)(p[l4 + 2] << 8 | p[l4 + 3]);
		}
	}
	for (int i = 0; i < nflows; i++) {
		struct flow *g = &flows[i];
		if (g->port == f.port && g->proto == f.proto && g->src == f.src && g->dst == f.dst &&
		    g->sport == f.sport && g->dport == f.dport) {
			g->pkts++;
			return;
		}
	}
	if (nflows < MAX_FLOWS) {
		f.pkts = 1;
		flows[nflows++] = f;
	}
}

static void ip(char *b, size_t sz, uint32_t a)
{
	snprintf(b, sz, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

int main(int argc, char **argv)
{
	struct nmport_d *d[MAX_PORTS];
	struct pollfd pfd[MAX_PORTS];
	uint64_t per_port[MAX_PORTS] = { 0 }, total = 0, want = 0;
	int ch, n;

	while ((ch = getopt(argc, argv, "n:")) != -1) {
		switch (ch) {
		case 'n': want = strtoull(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: flow_recorder -n total port...\n");
			return 1;
		}
	}
	n = argc - optind;
	if (n < 1 || n > MAX_PORTS || want == 0) {
		fprintf(stderr, "flow_recorder: give -n total and 1..%d ports\n", MAX_PORTS);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		char spec[256];
		snprintf(spec, sizeof spec, "netmap:%s", argv[optind + i]);
		d[i] = nmport_open(spec);
		if (d[i] == NULL) {
			fprintf(stderr, "flow_recorder: cannot open %s: %s\n", argv[optind + i], strerror(errno));
			return 1;
		}
		pfd[i].fd = d[i]->fd;
		pfd[i].events = POLLIN;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("ready\n");
	fflush(stdout);

	while (!do_abort && total < want) {
		if (poll(pfd, n, 200) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			for (int r = d[i]->first_rx_ring; r <= d[i]->last_rx_ring; r++) {
				struct netmap_ring *ring = NETMAP_RXRING(d[i]->nifp, r);
				while (!nm_ring_empty(ring)) {
					struct netmap_slot *s = &ring->slot[ring->cur];
					record(i, (const unsigned char *)NETMAP_BUF(ring, s->buf_idx), s->len);
					per_port[i]++;
					total++;
					ring->head = ring->cur = nm_ring_next(ring, ring->cur);
				}
			}
		}
	}
	for (int i = 0; i < nflows; i++) {
		char a[20], b[20];
		ip(a, sizeof a, flows[i].src);
		ip(b, sizeof b, flows[i].dst);
		if (flows[i].src == 0 && flows[i].dst == 0)
			printf("FLOW %d other - - %llu\n", flows[i].port, (unsigned long long)flows[i].pkts);
		else
			printf("FLOW %d %u %s:%u %s:%u %llu\n", flows[i].port, flows[i].proto, a, flows[i].sport, b,
			       flows[i].dport, (unsigned long long)flows[i].pkts);
	}
	for (int i = 0; i < n; i++)
		printf("PORT %d %llu\n", i, (unsigned long long)per_port[i]);
	printf("TOTAL %llu\n", (unsigned long long)total);
	for (int i = 0; i < n; i++)
		nmport_close(d[i]);
	return 0;
}
