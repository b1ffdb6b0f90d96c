/*
 * lb - spread the packets of one unetmap port over groups of netmap pipes.
 *
 * Command line compatible with netmap's lb(8):
 *
 *     lb -i port [-p [name:]N]... [-B extra_bufs] [-b batch] [-w wait] [-s secs]
 *
 * Every group of N pipes receives every packet read from the input port;
 * inside a group a packet goes to one pipe, chosen by a hash of its
 * 5-tuple that is symmetric (both directions of a flow land on the same
 * pipe).  lb opens the master ends NAME{K; the workers open NAME}K.
 *
 * When the input port and a pipe share a memory region the packet's buffer
 * is swapped into the pipe's TX slot (zero-copy; only the last group can
 * take the buffer, earlier groups get copies); otherwise it is copied.
 * With -B, extra buffers of the input port hold packets for a full pipe
 * (an overflow queue per pipe); when none is left, the longest queue gives
 * back its oldest packets (they count as dropped).
 *
 * Counters per output are printed every second and, with the totals, at
 * exit (SIGINT or SIGTERM).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libnetmap.h>

#define PROG		"lb"
#define MAX_IFNAMELEN	64
#define DEF_OUT_PIPES	2
#define DEF_BATCH	2048
#define DEF_SYSLOG_INT	600
#define BUF_REVOKE	100

#include "tool_util.h"

static const char usage_text[] =
"Usage: " PROG " -i port [-p [name:]npipes]... [-B nbufs] [-b batch] [-w secs] [-s secs]\n"
"\n"
"Spread the packets read from a unetmap port over groups of netmap pipes,\n"
"keeping every flow (both of its directions) on one pipe of each group.\n"
"\n"
"  -i port      the input port (required, once): NAME{N / NAME}N, null:NAME, valeS:P\n"
"  -p [name:]N  add a group of N pipes, 1..1024 (default: one group of 2);\n"
"               lb opens name{K, the workers open name}K, K from 0 (continuing\n"
"               after earlier groups of the same name); name defaults to the\n"
"               input port's name without its suffixes ({ } - * ^ / @)\n"
"  -B nbufs     extra buffers queuing packets for full pipes (default 0: drop)\n"
"  -b batch     packets handled between two syncs of the input, 1..65535 (default 2048)\n"
"  -w secs      wait before forwarding (default 0: no link to bring up)\n"
"  -s secs      seconds between counter reports to syslog (default 600, 0: never)\n"
"  -h           this help\n"
"\n"
"Every group receives every packet.  Zero-copy (buffer swap) is used when the\n"
"input and the pipes share a memory region.  Counters per pipe are printed\n"
"every second; the totals on exit (SIGINT or SIGTERM).\n";

/* a queue of buffers (slots) of the input port's memory region */
struct oqueue {
	struct netmap_slot *slots;
	uint32_t head, n, size;
};

static void oq_push(struct oqueue *q, uint32_t buf_idx, uint16_t len)
{
	uint32_t t = q->head + q->n;

	if (t >= q->size)
		t -= q->size;
	q->slots[t].buf_idx = buf_idx;
	q->slots[t].len = len;
	q->n++;
}

static struct netmap_slot oq_pop(struct oqueue *q)
{
	struct netmap_slot s = q->slots[q->head];

	if (++q->head == q->size)
		q->head = 0;
	q->n--;
	return s;
}

struct output {
	char name[MAX_IFNAMELEN + 16];
	struct nmport_d *d;
	struct netmap_ring *ring;
	int zerocopy;		/* shares the input's memory region */
	int dirty;		/* slots added since the last txsync */
	int refreshed;		/* txsync'd this round to find room */
	struct oqueue oq;
	uint64_t pkts, bytes, drops, prev_pkts, prev_drops;
};

struct group {
	char name[MAX_IFNAMELEN];
	int custom;		/* name given with -p */
	int first_id, n;
	struct output *out;
};

static struct nmport_d *in;
static struct netmap_ring *in_ref;	/* any ring of the input: for NETMAP_BUF */
static struct group *groups;
static int ngroups;
static struct output *outs;
static int nouts;
static struct oqueue freeq;
static int use_oq;
static uint64_t non_ip, too_long;

static void add_group(const char *spec)
{
	const char *colon = strchr(spec, ':');
	const char *num = spec;
	struct group *g;

	groups = realloc(groups, (ngroups + 1) * sizeof *groups);
	if (groups == NULL)
		die("out of memory");
	g = &groups[ngroups];
	memset(g, 0, sizeof *g);
	if (colon) {
		size_t l = (size_t)(colon - spec);
		if (l == 0 || l > MAX_IFNAMELEN - 8)
			die("-p %s: pipe name empty or longer than %d characters", spec, MAX_IFNAMELEN - 8);
		if (strcspn(spec, "{}-*^/@ ") < l)
			die("-p %s: pipe name must not contain any of { } - * ^ / @", spec);
		memcpy(g->name, spec, l);
		g->custom = 1;
		num = colon + 1;
	}
	g->n = *num ? (int)num_arg("-p", num, 1, 1024) : DEF_OUT_PIPES;
	ngroups++;
}

/* the symmetric hash: both directions of a flow give the same value */
static uint32_t mix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static uint32_t rd32(const unsigned char *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/*
 * Hash of (protocol, {address A, port A}, {address B, port B}) with the two
 * endpoints in a fixed order, so that swapping source and destination does
 * not change it.  Returns 0 for frames that are not IPv4/IPv6.
 */
static uint32_t sym_hash(const unsigned char *p, unsigned len)
{
	uint32_t a[4] = { 0 }, b[4] = { 0 }, h = 0x9e3779b9u;
	unsigned off = 14, alen, l4 = 0, i;
	uint16_t type, pa = 0, pb = 0;
	uint8_t proto;
	int frag = 0;

	if (len < 14)
		return 0;
	type = rd16(p + 12);
	while ((type == 0x8100 || type == 0x88a8) && len >= off + 4) {
		type = rd16(p + off + 2);
		off += 4;
	}
	if (type == 0x0800) {
		if (len < off + 20 || (p[off] >> 4) != 4)
			return 0;
		proto = p[off + 9];
		frag = (rd16(p + off + 6) & 0x1fff) != 0;
		a[0] = rd32(p + off + 12);
		b[0] = rd32(p + off + 16);
		alen = 1;
		l4 = off + (p[off] & 0xf) * 4u;
	} else if (type == 0x86dd) {
		if (len < off + 40 || (p[off] >> 4) != 6)
			return 0;
		proto = p[off + 6];
		for (i = 0; i < 4; i++) {
			a[i] = rd32(p + off + 8 + 4 * i);
			b[i] = rd32(p + off + 24 + 4 * i);
		}
		alen = 4;
		l4 = off + 40;
	} else {
		return 0;
	}
	if (!frag && (proto == 6 || proto == 17 || proto == 33 || proto == 132 || proto == 136) && len >= l4 + 4) {
		pa = rd16(p + l4);
		pb = rd16(p + l4 + 2);
	}
	/* order the endpoints: (a, pa) <= (b, pb) */
	int swap = memcmp(a, b, sizeof a) > 0 || (memcmp(a, b, sizeof a) == 0 && pa > pb);
	if (swap) {
		uint32_t t[4];
		uint16_t tp = pa;
		memcpy(t, a, sizeof t); memcpy(a, b, sizeof a); memcpy(b, t, sizeof b);
		pa = pb; pb = tp;
	}
	for (i = 0; i < alen; i++)
		h = mix32(h ^ a[i]) + i;
	for (i = 0; i < alen; i++)
		h = mix32(h ^ b[i]) + 7 * i;
	h = mix32(h ^ ((uint32_t)pa << 16 | pb));
	h = mix32(h ^ proto);
	return h ? h : 1;
}

/* the free extra buffers ran out: the longest queue gives some back */
static void revoke_bufs(void)
{
	struct output *lp = &outs[0];
	uint32_t j;

	for (int i = 1; i < nouts; i++)
		if (outs[i].oq.n > lp->oq.n)
			lp = &outs[i];
	for (j = 0; lp->oq.n && j < BUF_REVOKE; j++) {
		struct netmap_slot s = oq_pop(&lp->oq);
		oq_push(&freeq, s.buf_idx, 0);
	}
	lp->drops += j;
}

/*
 * Room in o's TX ring?  The ring's tail moves only at a txsync: when it
 * looks full, sync once per round to learn what the worker has taken.
 */
static int has_room(struct output *o)
{
	if (!nm_ring_empty(o->ring))
		return 1;
	if (o->refreshed)
		return 0;
	ioctl(o->d->fd, NIOCTXSYNC, NULL);
	o->refreshed = 1;
	o->dirty = 0;
	return !nm_ring_empty(o->ring);
}

/* hand the packet in rs (a buffer of the input) to o; take: o may keep rs's buffer */
static void deliver(struct output *o, struct netmap_slot *rs, int take)
{
	struct netmap_ring *ring = o->ring;
	const char *src = NETMAP_BUF(in_ref, rs->buf_idx);

	if (rs->len > ring->nr_buf_size) {
		o->drops++;
		too_long++;
		return;
	}
	if (o->oq.n == 0 && has_room(o)) {
		struct netmap_slot *ts = &ring->slot[ring->cur];

		if (take && o->zerocopy) {
			uint32_t b = ts->buf_idx;
			ts->buf_idx = rs->buf_idx;
			rs->buf_idx = b;
			ts->flags |= NS_BUF_CHANGED;
			rs->flags |= NS_BUF_CHANGED;
		} else {
			memcpy(NETMAP_BUF(ring, ts->buf_idx), src, rs->len);
		}
		ts->len = rs->len;
		ring->head = ring->cur = nm_ring_next(ring, ring->cur);
		o->pkts++;
		o->bytes += rs->len;
		o->dirty = 1;
		return;
	}
	if (!use_oq || rs->len > in_ref->nr_buf_size) {
		o->drops++;
		return;
	}
	if (freeq.n == 0)
		revoke_bufs();
	struct netmap_slot f = oq_pop(&freeq);
	if (take) {
		oq_push(&o->oq, rs->buf_idx, rs->len);
		rs->buf_idx = f.buf_idx;
		rs->flags |= NS_BUF_CHANGED;
	} else {
		memcpy(NETMAP_BUF(in_ref, f.buf_idx), src, rs->len);
		oq_push(&o->oq, f.buf_idx, rs->len);
	}
}

/* move queued packets into o's ring while it has room */
static void flush_oq(struct output *o)
{
	struct netmap_ring *ring = o->ring;

	while (o->oq.n && has_room(o)) {
		struct netmap_slot *ts = &ring->slot[ring->cur];
		struct netmap_slot s = oq_pop(&o->oq);

		if (o->zerocopy) {
			oq_push(&freeq, ts->buf_idx, 0);
			ts->buf_idx = s.buf_idx;
			ts->flags |= NS_BUF_CHANGED;
		} else {
			memcpy(NETMAP_BUF(ring, ts->buf_idx), NETMAP_BUF(in_ref, s.buf_idx), s.len);
			oq_push(&freeq, s.buf_idx, 0);
		}
		ts->len = s.len;
		ring->head = ring->cur = nm_ring_next(ring, ring->cur);
		o->pkts++;
		o->bytes += s.len;
		o->dirty = 1;
	}
}

static void sync_outputs(void)
{
	for (int i = 0; i < nouts; i++) {
		if (outs[i].dirty) {
			ioctl(outs[i].d->fd, NIOCTXSYNC, NULL);
			outs[i].dirty = 0;
		}
	}
}

static char *norm(char *buf, size_t sz, double v)
{
	const char *u = " KMGT";

	while (v >= 1000 && u[1]) {
		v /= 1000;
		u++;
	}
	snprintf(buf, sz, "%.2f%c", v, *u);
	return buf;
}

static void print_rates(double secs)
{
	uint64_t tp = 0, td = 0;
	char b1[32], b2[32];

	for (int i = 0; i < nouts; i++) {
		struct output *o = &outs[i];
		uint64_t p = o->pkts - o->prev_pkts, dr = o->drops - o->prev_drops;

		printf("%s/%s|", norm(b1, sizeof b1, p / secs), norm(b2, sizeof b2, dr / secs));
		tp += p;
		td += dr;
		o->prev_pkts = o->pkts;
		o->prev_drops = o->drops;
	}
	printf("\n===> aggregate %spps %sdps\n", norm(b1, sizeof b1, tp / secs), norm(b2, sizeof b2, td / secs));
	fflush(stdout);
}

static void log_counters(void)
{
	uint64_t f = 0, d = 0;

	for (int i = 0; i < nouts; i++) {
		syslog(LOG_INFO, "{\"interface\":\"%s\",\"output\":\"%s\",\"packets_forwarded\":%" PRIu64
		       ",\"packets_dropped\":%" PRIu64 "}", in->hdr.nr_name, outs[i].name, outs[i].pkts, outs[i].drops);
		f += outs[i].pkts;
		d += outs[i].drops;
	}
	syslog(LOG_INFO, "{\"interface\":\"%s\",\"output\":null,\"packets_forwarded\":%" PRIu64
	       ",\"packets_dropped\":%" PRIu64 ",\"non_ip_packets\":%" PRIu64 "}", in->hdr.nr_name, f, d, non_ip);
}

/* give every buffer held in a queue back to the input port's extra buffer list */
static void return_buffers(void)
{
	struct netmap_if *nifp;

	if (in == NULL)
		return;
	nifp = in->nifp;
	for (int i = 0; i <= nouts; i++) {
		struct oqueue *q = i < nouts ? &outs[i].oq : &freeq;
		while (q->slots && q->n) {
			struct netmap_slot s = oq_pop(q);
			*(uint32_t *)NETMAP_BUF(in_ref, s.buf_idx) = nifp->ni_bufs_head;
			nifp->ni_bufs_head = s.buf_idx;
		}
	}
}

static void close_all(void)
{
	return_buffers();
	for (int i = 0; i < nouts; i++)
		if (outs[i].d)
			nmport_close(outs[i].d);
	if (in)
		nmport_close(in);
	in = NULL;
}

static void fail_open(const char *what, const char *name, int e) __attribute__((noreturn));
static void fail_open(const char *what, const char *name, int e)
{
	char msg[sizeof lib_err];

	snprintf(msg, sizeof msg, "%s", lib_err[0] ? lib_err : strerror(e));
	close_all();
	die("cannot open %s '%s': %s", what, name, msg);
}

static struct nmport_d *open_spec(const char *spec, uint32_t extra_bufs, uint16_t mem_id)
{
	struct nmport_d *d;

	lib_err[0] = '\0';
	d = nmport_prepare(spec);
	if (d == NULL)
		return NULL;
	if (extra_bufs)
		d->reg.nr_extra_bufs = extra_bufs;
	if (mem_id)
		d->reg.nr_mem_id = mem_id;
	if (nmport_open_desc(d) < 0) {
		int e = errno;
		nmport_undo_prepare(d);
		errno = e;
		return NULL;
	}
	return d;
}

int main(int argc, char **argv)
{
	const char *ifname = NULL;
	char spec[600], base[MAX_IFNAMELEN];
	long extra = 0, batch = DEF_BATCH, wait_link = 0, syslog_int = DEF_SYSLOG_INT;
	struct timespec last, slast;
	int ch;

	opterr = 0;
	while ((ch = getopt(argc, argv, ":i:p:B:b:w:s:h")) != -1) {
		switch (ch) {
		case 'i':
			if (ifname)
				die("-i %s: the input port is already %s (give -i once)", optarg, ifname);
			ifname = optarg;
			break;
		case 'p': add_group(optarg); break;
		case 'B': extra = num_arg("-B", optarg, 0, 1000000); break;
		case 'b': batch = num_arg("-b", optarg, 1, 65535); break;
		case 'w': wait_link = num_arg("-w", optarg, 0, 100); break;
		case 's': syslog_int = num_arg("-s", optarg, 0, 86400); break;
		case 'h': fputs(usage_text, stdout); return 0;
		case ':': die("option -%c needs an argument (see " PROG " -h)", optopt);
		default: die("unknown option -%c (see " PROG " -h)", optopt);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (see " PROG " -h)", argv[optind]);
	if (ifname == NULL)
		die("missing input port (-i port)");
	if (strlen(ifname) > MAX_IFNAMELEN - 8)
		die("-i %s: port name longer than %d characters", ifname, MAX_IFNAMELEN - 8);
	if (ngroups == 0)
		add_group("");

	/* the default pipe name: the input's name without "netmap:" and suffixes */
	{
		const char *n = strncmp(ifname, "netmap:", 7) == 0 ? ifname + 7 : ifname;
		size_t l = strcspn(n, "{}-*^/@");
		memcpy(base, n, l);
		base[l] = '\0';
		if (l == 0)
			die("-i %s: no name to derive pipe names from; use -p name:N", ifname);
	}
	for (int i = 0; i < ngroups; i++) {
		struct group *g = &groups[i];
		if (!g->custom)
			snprintf(g->name, sizeof g->name, "%s", base);
		for (int j = 0; j < i; j++)
			if (strcmp(groups[j].name, g->name) == 0)
				g->first_id += groups[j].n;
		nouts += g->n;
	}
	outs = calloc(nouts, sizeof *outs);
	if (outs == NULL)
		die("out of memory");
	for (int i = 0, t = 0; i < ngroups; i++) {
		groups[i].out = &outs[t];
		for (int k = 0; k < groups[i].n; k++, t++)
			snprintf(outs[t].name, sizeof outs[t].name, "%s{%d", groups[i].name, groups[i].first_id + k);
	}

	nmctx_get()->error = lib_error_cb;
	if (strncmp(ifname, "netmap:", 7) == 0 || strncmp(ifname, "vale", 4) == 0)
		snprintf(spec, sizeof spec, "%s", ifname);
	else
		snprintf(spec, sizeof spec, "netmap:%s", ifname);
	in = open_spec(spec, (uint32_t)extra, 0);
	if (in == NULL)
		fail_open("port", ifname, errno);
	in_ref = NETMAP_RXRING(in->nifp, in->first_rx_ring);

	if (extra > 0) {
		uint32_t got = in->reg.nr_extra_bufs, scan, cnt = 0;
		if (got > 0) {
			freeq.size = got;
			freeq.slots = calloc(got, sizeof *freeq.slots);
			if (freeq.slots == NULL)
				die("out of memory");
			for (scan = in->nifp->ni_bufs_head; scan && cnt < got;
			     scan = *(uint32_t *)NETMAP_BUF(in_ref, scan), cnt++)
				oq_push(&freeq, scan, 0);
			in->nifp->ni_bufs_head = 0;
			for (int i = 0; i < nouts; i++) {
				outs[i].oq.size = got;
				outs[i].oq.slots = calloc(got, sizeof(struct netmap_slot));
				if (outs[i].oq.slots == NULL)
					die("out of memory");
			}
			use_oq = cnt > 0;
		}
		printf("lb: %ld extra buffers requested, %u obtained\n", extra, freeq.n);
	}

	for (int i = 0; i < nouts; i++) {
		struct output *o = &outs[i];
		snprintf(spec, sizeof spec, "netmap:%s/xT", o->name);
		/* in the input's region if possible: zero-copy */
		o->d = open_spec(spec, 0, in->reg.nr_mem_id);
		if (o->d == NULL)
			o->d = open_spec(spec, 0, 0);
		if (o->d == NULL)
			fail_open("pipe", o->name, errno);
		o->ring = NETMAP_TXRING(o->d->nifp, o->d->first_tx_ring);
		o->zerocopy = o->d->mem == in->mem && o->d->reg.nr_mem_id == in->reg.nr_mem_id;
	}

	printf("lb: %s -> %d group%s:", ifname, ngroups, ngroups > 1 ? "s" : "");
	for (int i = 0; i < ngroups; i++)
		printf(" %s{%d..%d", groups[i].name, groups[i].first_id, groups[i].first_id + groups[i].n - 1);
	printf(", %s\n", outs[nouts - 1].zerocopy ? "zero-copy (buffer swap)" : "copy");
	fflush(stdout);

	catch_stop_signals();
	if (syslog_int > 0)
		openlog(PROG, LOG_CONS | LOG_PID | LOG_NDELAY, LOG_LOCAL1);

	wait_secs(wait_link);

	clock_gettime(CLOCK_MONOTONIC, &last);
	slast = last;
	struct pollfd *pfd = calloc(nouts + 1, sizeof *pfd);
	if (pfd == NULL)
		die("out of memory");
	while (!do_abort) {
		int np = 0;
		struct timespec now;

		/* wait for input, or for room in a pipe with a backlog */
		pfd[np].fd = in->fd;
		pfd[np].events = POLLIN;
		pfd[np++].revents = 0;
		for (int i = 0; i < nouts; i++) {
			outs[i].refreshed = 0;
			/* a backlog waiting for room (poll syncs the ring) */
			if (outs[i].oq.n && nm_ring_empty(outs[i].ring)) {
				pfd[np].fd = outs[i].d->fd;
				pfd[np].events = POLLOUT;
				pfd[np++].revents = 0;
			}
		}
		int rv = poll(pfd, np, 100);
		if (rv < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));

		if (use_oq)
			for (int i = 0; i < nouts; i++)
				if (outs[i].oq.n)
					flush_oq(&outs[i]);

		long done = 0;
		for (int r = in->first_rx_ring; r <= in->last_rx_ring; r++) {
			struct netmap_ring *rx = NETMAP_RXRING(in->nifp, r);

			while (!nm_ring_empty(rx)) {
				struct netmap_slot *rs = &rx->slot[rx->cur];
				uint32_t h = sym_hash((const unsigned char *)NETMAP_BUF(rx, rs->buf_idx), rs->len);

				if (h == 0)
					non_ip++;
				for (int g = 0; g < ngroups; g++)
					deliver(&groups[g].out[h % (uint32_t)groups[g].n], rs, g == ngroups - 1);
				rx->head = rx->cur = nm_ring_next(rx, rx->cur);
				if (++done >= batch) {
					sync_outputs();
					for (int i = 0; i < nouts; i++)
						outs[i].refreshed = 0;
					ioctl(in->fd, NIOCRXSYNC, NULL);
					done = 0;
				}
			}
		}
		sync_outputs();

		clock_gettime(CLOCK_MONOTONIC, &now);
		double secs = (now.tv_sec - last.tv_sec) + (now.tv_nsec - last.tv_nsec) / 1e9;
		if (secs >= 1.0) {
			print_rates(secs);
			last = now;
		}
		if (syslog_int > 0 && now.tv_sec - slast.tv_sec >= syslog_int) {
			log_counters();
			slast = now;
		}
	}
	free(pfd);

	uint64_t fwd = 0, drp = 0;
	for (int i = 0; i < nouts; i++) {
		struct output *o = &outs[i];
		printf("lb: %s: %" PRIu64 " packets forwarded (%" PRIu64 " bytes), %" PRIu64 " dropped, %u queued\n",
		       o->name, o->pkts, o->bytes, o->drops, o->oq.n);
		fwd += o->pkts;
		drp += o->drops;
	}
	if (non_ip)
		printf("lb: %" PRIu64 " non-IP packets (sent to the first pipe of each group)\n", non_ip);
	if (too_long)
		printf("lb: %" PRIu64 " packets longer than a pipe's buffers dropped\n", too_long);
	printf("%" PRIu64 " packets forwarded.  %" PRIu64 " packets dropped. Total %" PRIu64 "\n",
	       fwd, drp, fwd + drp);
	fflush(stdout);
	if (syslog_int > 0) {
		log_counters();
		closelog();
	}
	close_all();
	return 0;
}
