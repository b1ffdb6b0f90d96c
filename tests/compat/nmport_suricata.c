/*
 * A capture program in the style of Suricata's netmap source: one worker
 * thread per ring, each opening its own descriptor with nmport_prepare()
 * and nmport_open_desc() on "PORT-N/R" (ring N, receive rings only), and
 * port options given as "@conf:".  Then monitors of a VALE port, as an
 * IDS watching somebody else's traffic: "/t" and "/r" copies and a "/z"
 * zero-copy monitor.  Pipes and VALE ports only (no privileges needed).
 * Every frame is checked for its count, ring, order and contents.
 */
#define _GNU_SOURCE
#include <libnetmap.h>

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"

#define RINGS 4
#define SLOTS 256
#define FRAMES 8000	/* over all rings */

static unsigned
frame_len(unsigned seq)
{
	return 60 + (seq * 13) % 1400;
}

/* A frame of ours: the sequence number in its first 4 bytes, the pattern
 * after. */
static void
make_frame(unsigned char *buf, unsigned seq, unsigned len)
{
	fill_frame(buf, seq, len);
	memcpy(buf, &seq, 4);
}

static int
frame_ok(const unsigned char *buf, unsigned len, unsigned *seq)
{
	unsigned char want[2048];

	if (len < 60 || len > sizeof(want))
		return 0;
	memcpy(seq, buf, 4);
	if (len != frame_len(*seq))
		return 0;
	make_frame(want, *seq, len);
	return memcmp(buf, want, len) == 0;
}

/* --- part 1: one worker per ring of a pipe ------------------------------- */

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

struct worker {
	pthread_t tid;
	char spec[80];
	unsigned ring;
	struct nmport_d *d;
	unsigned got;
	int failed;
	char why[160];
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct netmap_ring *rx = NETMAP_RXRING(w->d->nifp, w->ring);
	unsigned want = FRAMES / RINGS;

#define WFAIL(...)                                                  \
	do {                                                        \
		snprintf(w->why, sizeof(w->why), __VA_ARGS__);      \
		w->failed = 1;                                      \
		return NULL;                                        \
	} while (0)
	while (w->got < want) {
		struct pollfd p = { .fd = w->d->fd, .events = POLLIN };

		if (poll(&p, 1, 5000) <= 0)
			WFAIL("ring %u: nothing for 5 s after %u frames", w->ring, w->got);
		if (p.revents & POLLERR)
			WFAIL("ring %u: POLLERR", w->ring);
		while (!nm_ring_empty(rx)) {
			struct netmap_slot *s = &rx->slot[rx->cur];
			unsigned seq;

			if (!frame_ok((unsigned char *)NETMAP_BUF(rx, s->buf_idx), s->len, &seq))
				WFAIL("ring %u: frame %u damaged", w->ring, w->got);
			if (seq != w->ring + w->got * RINGS)
				WFAIL("ring %u: frame %u is seq %u", w->ring, w->got, seq);
			w->got++;
			rx->head = rx->cur = nm_ring_next(rx, rx->cur);
		}
	}
#undef WFAIL
	return NULL;
}

static void
pipe_workers(int pid)
{
	char spec[80];
	struct nmport_d *prod, *d;
	struct worker w[RINGS];
	unsigned char buf[2048];
	unsigned seq, r;

	/* The producer: the master end, all rings, transmit only, made with
	 * RINGS rings of SLOTS slots. */
	snprintf(spec, sizeof(spec), "netmap:su%d{1/T@conf:rings=%d,slots=%d", pid, RINGS, SLOTS);
	prod = nmport_prepare(spec);
	CHECK(prod != NULL);
	CHECK(prod->reg.nr_mode == NR_REG_ALL_NIC);
	CHECK(prod->reg.nr_flags & NR_TX_RINGS_ONLY);
	CHECK(prod->reg.nr_tx_rings == RINGS && prod->reg.nr_rx_rings == RINGS);
	CHECK(prod->reg.nr_tx_slots == SLOTS);
	CHECK(nmport_open_desc(prod) == 0);
	CHECK(prod->first_tx_ring == 0 && prod->last_tx_ring == RINGS - 1);
	CHECK(prod->first_rx_ring > prod->last_rx_ring);	/* /T: no RX ring */
	CHECK(NETMAP_TXRING(prod->nifp, 0)->num_slots == SLOTS);

	/* Options a port does not know, and a ring it does not have. */
	snprintf(spec, sizeof(spec), "netmap:su%d}1@conf:nosuchkey=1", pid);
	errno = 0;
	CHECK(nmport_prepare(spec) == NULL && errno == EINVAL);
	snprintf(spec, sizeof(spec), "netmap:su%d}1-%d/R", pid, RINGS);
	d = nmport_prepare(spec);
	CHECK(d != NULL);
	errno = 0;
	CHECK(nmport_open_desc(d) == -1 && errno == EINVAL);
	nmport_close(d);

	/* The workers: the slave end, ring N, receive only. */
	for (r = 0; r < RINGS; r++) {
		memset(&w[r], 0, sizeof(w[r]));
		w[r].ring = r;
		snprintf(w[r].spec, sizeof(w[r].spec), "netmap:su%d}1-%u/R", pid, r);
		w[r].d = nmport_prepare(w[r].spec);
		CHECK(w[r].d != NULL);
		CHECK(w[r].d->reg.nr_mode == NR_REG_ONE_NIC && w[r].d->reg.nr_ringid == r);
		CHECK(w[r].d->reg.nr_flags & NR_RX_RINGS_ONLY);
		CHECK(nmport_open_desc(w[r].d) == 0);
		CHECK(w[r].d->reg.nr_rx_rings == RINGS);	/* the pipe's, as the producer made it */
		CHECK(w[r].d->reg.nr_rx_slots == SLOTS);
		CHECK(w[r].d->first_rx_ring == r && w[r].d->last_rx_ring == r);
		CHECK(w[r].d->first_tx_ring > w[r].d->last_tx_ring);
		CHECK(w[r].d->mem == prod->mem);	/* one mapping of the pipe's region */
	}
	for (r = 0; r < RINGS; r++)
		CHECK(pthread_create(&w[r].tid, NULL, worker_main, &w[r]) == 0);

	/* Frame seq goes to ring seq % RINGS. */
	for (seq = 0; seq < FRAMES; seq++) {
		struct netmap_ring *tx = NETMAP_TXRING(prod->nifp, seq % RINGS);
		struct netmap_slot *s;
		double start = now_s();

		while (nm_ring_space(tx) == 0) {
			struct pollfd p = { .fd = prod->fd, .events = POLLOUT };

			CHECK(ioctl(prod->fd, NIOCTXSYNC, NULL) == 0);
			/* (POLLOUT is ready as soon as any ring has room) */
			if (nm_ring_space(tx) == 0)
				(void)poll(&p, 1, 10);
			if (now_s() - start > 10) {
				for (r = 0; r < RINGS; r++)
					fprintf(stderr, "%s: %u frames%s%s\n", w[r].spec, w[r].got,
					    w[r].failed ? ", failed: " : "", w[r].why);
				fprintf(stderr, "stuck at seq %u on ring %u\n", seq, seq % RINGS);
				exit(1);
			}
		}
		s = &tx->slot[tx->cur];
		s->len = (uint16_t)frame_len(seq);
		make_frame(buf, seq, s->len);
		memcpy(NETMAP_BUF(tx, s->buf_idx), buf, s->len);
		tx->head = tx->cur = nm_ring_next(tx, tx->cur);
		if (seq % 64 == 63)
			CHECK(ioctl(prod->fd, NIOCTXSYNC, NULL) == 0);
	}
	CHECK(ioctl(prod->fd, NIOCTXSYNC, NULL) == 0);
	for (r = 0; r < RINGS; r++) {
		CHECK(pthread_join(w[r].tid, NULL) == 0);
		if (w[r].failed)
			fprintf(stderr, "%s: %s\n", w[r].spec, w[r].why);
		CHECK(!w[r].failed);
		CHECK(w[r].got == FRAMES / RINGS);
		/* nothing more than that */
		CHECK(ioctl(w[r].d->fd, NIOCRXSYNC, NULL) == 0);
		CHECK(nm_ring_empty(NETMAP_RXRING(w[r].d->nifp, r)));
		nmport_close(w[r].d);
	}
	nmport_close(prod);
}

/* --- part 2: monitors of a VALE port ------------------------------------- */

#define MON_FRAMES 300
#define BATCH 30

/* Everything waiting on the bound RX rings of d: frames checked and their
 * seq appended to seqs (at most cap); the slots released.  Returns how
 * many. */
static unsigned
drain(struct nmport_d *d, unsigned *seqs, unsigned have, unsigned cap)
{
	unsigned n = 0;

	for (unsigned r = d->first_rx_ring; r <= d->last_rx_ring; r++) {
		struct netmap_ring *rx = NETMAP_RXRING(d->nifp, r);

		while (!nm_ring_empty(rx)) {
			struct netmap_slot *s = &rx->slot[rx->cur];
			const unsigned char *b = (unsigned char *)NETMAP_BUF(rx, s->buf_idx);
			unsigned seq;

			/* Ethernet header of ours, then a frame of ours */
			CHECK(s->len > 14 && b[12] == 0x88 && b[13] == 0xb5);
			CHECK(frame_ok(b + 14, s->len - 14, &seq));
			CHECK(have + n < cap);
			seqs[have + n++] = seq;
			rx->head = rx->cur = nm_ring_next(rx, rx->cur);
		}
	}
	return n;
}

/* Receive on d until `want` frames came or 3 s passed. */
static unsigned
collect(struct nmport_d *d, unsigned *seqs, unsigned want)
{
	unsigned got = 0, idle = 0;

	while (got < want && idle < 300) {
		struct pollfd p = { .fd = d->fd, .events = POLLIN };
		unsigned n;

		CHECK(poll(&p, 1, 10) >= 0);
		n = drain(d, seqs, got, want + 1);
		got += n;
		idle = n ? 0 : idle + 1;
	}
	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0);	/* release the last ones */
	return got;
}

/* Frames waiting on d after a sync. */
static unsigned
pending(struct nmport_d *d)
{
	unsigned seqs[MON_FRAMES + 1];

	CHECK(ioctl(d->fd, NIOCRXSYNC, NULL) == 0);
	return drain(d, seqs, 0, MON_FRAMES + 1);
}

static void
vale_monitors(int pid)
{
	char spec[80];
	struct nmport_d *a, *b, *mon_t, *mon_r, *zmon;
	unsigned char frame[2048];
	unsigned seqs[MON_FRAMES + 1], i;

	snprintf(spec, sizeof(spec), "valesu%d:a@conf:rings=2,slots=128", pid);
	a = nmport_open(spec);
	CHECK(a != NULL);
	CHECK(a->reg.nr_tx_rings == 2 && a->reg.nr_rx_rings == 2);
	CHECK(a->reg.nr_tx_slots == 128 && a->reg.nr_rx_slots == 128);
	snprintf(spec, sizeof(spec), "valesu%d:b", pid);
	b = nmport_open(spec);
	CHECK(b != NULL);
	snprintf(spec, sizeof(spec), "valesu%d:a/t", pid);	/* what a sends */
	mon_t = nmport_open(spec);
	CHECK(mon_t != NULL);
	snprintf(spec, sizeof(spec), "valesu%d:b/r", pid);	/* what b receives */
	mon_r = nmport_open(spec);
	CHECK(mon_r != NULL);
	snprintf(spec, sizeof(spec), "valesu%d:b/z", pid);	/* b's frames, once b is done */
	zmon = nmport_open(spec);
	CHECK(zmon != NULL);
	CHECK(zmon->reg.nr_flags & NR_ZCOPY_MON);
	CHECK(zmon->mem == b->mem);	/* zero-copy: in the watched port's region */
	/* A monitor of a port nobody has open: netmap's "not in netmap mode". */
	snprintf(spec, sizeof(spec), "valesu%d:nosuch0/r", pid);
	errno = 0;
	CHECK(nmport_open(spec) == NULL && errno != 0);

	/* a sends broadcast frames (the switch floods them to b), a batch at
	 * a time: a copy monitor that does not keep up loses copies, so each
	 * batch fits the smallest monitor ring (a's 128 slots). */
	for (i = 0; i < MON_FRAMES; i += BATCH) {
		unsigned j, k;

		for (j = i; j < i + BATCH; j++) {
			unsigned len = frame_len(j);

			memset(frame, 0xff, 6);
			memcpy(frame + 6, "\x02\x00\x00\x00\x00\x0a", 6);
			frame[12] = 0x88, frame[13] = 0xb5;
			make_frame(frame + 14, j, len);
			CHECK(nmport_inject(a, frame, 14 + len) == (int)(14 + len));
		}
		CHECK(ioctl(a->fd, NIOCTXSYNC, NULL) == 0);
		/* b gets them in order, so do the copy monitors; the
		 * zero-copy monitor gets what b has released. */
		CHECK(collect(b, seqs, BATCH) == BATCH);
		for (k = 0; k < BATCH; k++)
			CHECK(seqs[k] == i + k);
		CHECK(collect(mon_t, seqs, BATCH) == BATCH);
		for (k = 0; k < BATCH; k++)
			CHECK(seqs[k] == i + k);
		CHECK(collect(mon_r, seqs, BATCH) == BATCH);
		for (k = 0; k < BATCH; k++)
			CHECK(seqs[k] == i + k);
		CHECK(collect(zmon, seqs, BATCH) == BATCH);
		for (k = 0; k < BATCH; k++)
			CHECK(seqs[k] == i + k);
	}
	/* and nothing more anywhere */
	CHECK(pending(b) == 0 && pending(mon_t) == 0 && pending(mon_r) == 0 && pending(zmon) == 0);

	nmport_close(zmon);
	nmport_close(mon_r);
	nmport_close(mon_t);
	nmport_close(b);
	nmport_close(a);
}

int
main(void)
{
	int pid = (int)getpid();

	pipe_workers(pid);
	vale_monitors(pid);
	printf("nmport_suricata: ok (%d frames over %d worker rings, %d frames seen by /t, /r, /z monitors)\n",
	    FRAMES, RINGS, MON_FRAMES);
	return 0;
}
