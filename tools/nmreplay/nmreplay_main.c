/*
 * nmreplay - send the packets of a pcap file into a unetmap port.
 *
 * Command line as netmap's nmreplay(8) (-f file -i port -B bandwidth
 * -D delay -L loss -b batch -w wait -C cpu -v), plus -R (packet rate) and
 * -l (repetitions).  By default the file's own timing is reproduced.
 *
 * The file is read whole before anything is sent, and the time of every
 * packet (relative to the start of a pass over the file) is computed then.
 * The sending loop waits until each packet is due (sleeping, then
 * spinning the last stretch), copies it into the TX ring with
 * nmport_inject() and syncs the ring every -b packets, or before it waits.
 * See docs/man/nmreplay.mdoc.
 */
#define _GNU_SOURCE
#define PROG "nmreplay"
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include <libnetmap.h>
#include "tool_util.h"

struct pkt {
	uint64_t ts;		/* time stamp in the file, ns */
	uint64_t when;		/* when to send it, ns from the start of a pass */
	size_t off;		/* its bytes in data[] */
	uint32_t len;		/* bytes sent: the captured length */
};

static struct pkt *pkts;
static size_t npkts, cap_pkts;
static unsigned char *data;
static size_t data_len, data_cap;

enum { TIME_REAL, TIME_CONSTANT, TIME_ETHER, TIME_RATE };
enum { DELAY_NONE, DELAY_CONSTANT, DELAY_UNIFORM, DELAY_EXP };
enum { LOSS_NONE, LOSS_PLR, LOSS_BER };

static struct {
	const char *file, *port;
	int timing;
	double speedup;		/* TIME_REAL */
	double bps;		/* TIME_CONSTANT, TIME_ETHER */
	double pps;		/* TIME_RATE */
	int delay;
	double d1, d2;		/* delay parameters, ns */
	int loss;
	double loss_rate;
	long batch, wait, cpu, loops;
	int verbose;
} G = {
	.timing = TIME_REAL, .speedup = 1.0, .batch = 1, .wait = 0, .cpu = -1, .loops = 1,
};

static void usage(int status)
{
	fprintf(status ? stderr : stdout,
"usage: nmreplay -f pcap-file -i port [-B bandwidth] [-R rate] [-D delay]\n"
"                [-L loss] [-b batch] [-l loops] [-w wait] [-C cpu] [-v]\n"
"  -f FILE     pcap file to send\n"
"  -i PORT     unetmap port (valeS:P, x{N, x}N, null, netmap:...)\n"
"  -B BW       bps | constant,bps | ether,bps | real[,speedup]\n"
"              (bps may end in k, m or g; default real,1: the file's timing)\n"
"  -R PPS      a fixed packet rate instead (may end in k, m or g)\n"
"  -D DELAY    dt | constant,dt | uniform,dmin,dmax | exp,dmin,davg\n"
"              extra delay per packet (times may end in s, m, u or n)\n"
"  -L LOSS     x | plr,x | ber,x: drop packets at this packet/bit error rate\n"
"  -b N        sync the ring at least every N packets (default 1)\n"
"  -l N        send the file N times (default 1, 0: until interrupted)\n"
"  -w SECS     wait before sending (default 0)\n"
"  -C CPU      run on this CPU\n"
"  -v          report progress every second\n");
	exit(status);
}

/* "1.5", "10k", "2.5M": a positive number times 10^3, 10^6 or 10^9 */
static double scaled(const char *what, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v > 0) || isinf(v))
		die("%s %s: expected a positive number", what, s);
	switch (*end) {
	case 'k': case 'K': v *= 1e3; end++; break;
	case 'm': case 'M': v *= 1e6; end++; break;
	case 'g': case 'G': v *= 1e9; end++; break;
	default: break;
	}
	if (*end != '\0')
		die("%s %s: expected a number, optionally followed by k, m or g", what, s);
	return v;
}

/* "10m" = 10 ms; no suffix: seconds.  Result in ns, >= 0. */
static double duration(const char *what, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0 || isinf(v) || isnan(v))
		die("%s %s: expected a time", what, s);
	switch (*end) {
	case 's': case '\0': v *= 1e9; break;
	case 'm': v *= 1e6; break;
	case 'u': v *= 1e3; break;
	case 'n': break;
	default: die("%s %s: a time ends in s, m, u or n", what, s);
	}
	if (*end != '\0' && end[1] != '\0')
		die("%s %s: a time ends in s, m, u or n", what, s);
	return v;
}

/* split "word,rest" at the first comma: returns the word's length */
static size_t word_len(const char *s)
{
	const char *c = strchr(s, ',');
	return c ? (size_t)(c - s) : strlen(s);
}

static int is_word(const char *s, const char *w)
{
	return word_len(s) == strlen(w) && strncmp(s, w, strlen(w)) == 0;
}

static void parse_bandwidth(const char *s)
{
	const char *rest = s + word_len(s);

	if (*rest == ',')
		rest++;
	if (is_word(s, "real")) {
		G.timing = TIME_REAL;
		G.speedup = *rest ? scaled("-B real,", rest) : 1.0;
	} else if (is_word(s, "constant") || is_word(s, "ether")) {
		G.timing = is_word(s, "ether") ? TIME_ETHER : TIME_CONSTANT;
		if (*rest == '\0')
			die("-B %s: give the bandwidth (%.*s,bps)", s, (int)word_len(s), s);
		G.bps = scaled("-B", rest);
	} else {
		G.timing = TIME_CONSTANT;
		G.bps = scaled("-B", s);
	}
}

static void parse_delay(const char *s)
{
	const char *rest = s + word_len(s), *second;

	if (*rest == ',')
		rest++;
	if (is_word(s, "constant")) {
		G.delay = DELAY_CONSTANT;
		G.d1 = duration("-D", rest);
	} else if (is_word(s, "uniform") || is_word(s, "exp")) {
		char first[64];
		G.delay = is_word(s, "exp") ? DELAY_EXP : DELAY_UNIFORM;
		second = strchr(rest, ',');
		if (second == NULL || (size_t)(second - rest) >= sizeof first)
			die("-D %s: expected %.*s,min,%s", s, (int)word_len(s), s,
			    G.delay == DELAY_EXP ? "avg" : "max");
		memcpy(first, rest, (size_t)(second - rest));
		first[second - rest] = '\0';
		G.d1 = duration("-D", first);
		G.d2 = duration("-D", second + 1);
		if (G.d2 < G.d1)
			die("-D %s: the second time is below the first", s);
	} else {
		G.delay = DELAY_CONSTANT;
		G.d1 = duration("-D", s);
	}
}

static void parse_loss(const char *s)
{
	const char *rest = s + word_len(s), *num = s;
	char *end;

	G.loss = LOSS_PLR;
	if (is_word(s, "plr") || is_word(s, "ber")) {
		G.loss = is_word(s, "ber") ? LOSS_BER : LOSS_PLR;
		num = *rest == ',' ? rest + 1 : rest;
	}
	errno = 0;
	G.loss_rate = strtod(num, &end);
	if (errno || end == num || *end != '\0' || G.loss_rate < 0 || G.loss_rate > 1)
		die("-L %s: expected a rate between 0 and 1", s);
}

/* ------------------------------------------------------------------ */
/* The file                                                            */
/* ------------------------------------------------------------------ */

static void load(void)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *bytes;
	pcap_t *pc;
	int r;

	pc = pcap_open_offline_with_tstamp_precision(G.file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
	if (pc == NULL)
		die("%s", errbuf);
	if (pcap_datalink(pc) != DLT_EN10MB)
		die("%s: link type %s, not Ethernet", G.file,
		    pcap_datalink_val_to_name(pcap_datalink(pc)) ? pcap_datalink_val_to_name(pcap_datalink(pc)) : "unknown");
	while ((r = pcap_next_ex(pc, &h, &bytes)) == 1) {
		if (npkts == cap_pkts) {
			cap_pkts = cap_pkts ? 2 * cap_pkts : 1024;
			pkts = realloc(pkts, cap_pkts * sizeof *pkts);
			if (pkts == NULL)
				die("out of memory");
		}
		while (data_len + h->caplen > data_cap) {
			data_cap = data_cap ? 2 * data_cap : 1 << 20;
			data = realloc(data, data_cap);
			if (data == NULL)
				die("out of memory");
		}
		struct pkt *p = &pkts[npkts++];
		p->ts = (uint64_t)h->ts.tv_sec * 1000000000ULL + (uint64_t)h->ts.tv_usec;
		p->len = h->caplen;
		p->off = data_len;
		memcpy(data + data_len, bytes, h->caplen);
		data_len += h->caplen;
	}
	if (r != PCAP_ERROR_BREAK)	/* what pcap_next_ex() returns at the end of a file */
		die("%s: %s", G.file, pcap_geterr(pc));
	pcap_close(pc);
	if (npkts == 0)
		die("%s: no packets", G.file);
}

/* when each packet is due within a pass; returns the length of a pass */
static uint64_t schedule(void)
{
	double t = 0;

	for (size_t i = 0; i < npkts; i++) {
		struct pkt *p = &pkts[i];
		switch (G.timing) {
		case TIME_REAL:
			/* time stamps that go back are taken as "at once" */
			t = p->ts > pkts[0].ts ? (double)(p->ts - pkts[0].ts) / G.speedup : 0;
			if (i > 0 && t < (double)pkts[i - 1].when)
				t = (double)pkts[i - 1].when;
			p->when = (uint64_t)t;
			break;
		case TIME_RATE:
			p->when = (uint64_t)(i * 1e9 / G.pps);
			break;
		default:
			/* each packet starts when the previous one is "on the wire" */
			p->when = (uint64_t)t;
			t += (p->len + (G.timing == TIME_ETHER ? 24 : 0)) * 8e9 / G.bps;
			break;
		}
	}
	switch (G.timing) {
	case TIME_REAL:
		/* the next pass follows after the file's average gap */
		return npkts > 1 ? pkts[npkts - 1].when + pkts[npkts - 1].when / (npkts - 1) : 0;
	case TIME_RATE:
		return (uint64_t)(npkts * 1e9 / G.pps);
	default:
		return (uint64_t)t;
	}
}

static double rnd(void)
{
	return drand48();
}

static uint64_t extra_delay(void)
{
	switch (G.delay) {
	case DELAY_CONSTANT: return (uint64_t)G.d1;
	case DELAY_UNIFORM: return (uint64_t)(G.d1 + (G.d2 - G.d1) * rnd());
	case DELAY_EXP: return (uint64_t)(G.d1 - (G.d2 - G.d1) * log(1.0 - rnd()));
	default: return 0;
	}
}

static int lost(uint32_t len)
{
	switch (G.loss) {
	case LOSS_PLR: return rnd() < G.loss_rate;
	case LOSS_BER: return rnd() < 1.0 - pow(1.0 - G.loss_rate, 8.0 * len);
	default: return 0;
	}
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */
/* ------------------------------------------------------------------ */

static struct nmport_d *port;
static uint64_t sent, sent_bytes, dropped;

static void txsync(void)
{
	if (ioctl(port->fd, NIOCTXSYNC, NULL) < 0 && errno != EINVAL)
		die("%s: transmit sync: %s", G.port, strerror(errno));
}

/* sleep, then spin, until now_ns() >= t (or an interruption) */
static void wait_until(uint64_t t)
{
	uint64_t now = now_ns();

	if (now + 200000 < t) {
		uint64_t wake = t - 100000;
		struct timespec ts = { (time_t)(wake / 1000000000ULL), (long)(wake % 1000000000ULL) };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	while (!do_abort && now_ns() < t)
		;
}

static int rings_empty(void)
{
	for (int r = port->first_tx_ring; r <= port->last_tx_ring; r++) {
		struct netmap_ring *ring = NETMAP_TXRING(port->nifp, r);
		if (nm_ring_space(ring) != ring->num_slots - 1)
			return 0;
	}
	return 1;
}

static void send_one(const struct pkt *p, size_t index)
{
	while (nmport_inject(port, data + p->off, p->len) == 0) {
		txsync();
		if (nmport_inject(port, data + p->off, p->len) != 0)
			break;
		if (rings_empty())
			die("packet %zu (%u bytes) does not fit in the port's ring", index + 1, p->len);
		struct pollfd pfd = { .fd = port->fd, .events = POLLOUT };
		poll(&pfd, 1, 100);
		if (do_abort)
			return;
	}
	sent++;
	sent_bytes += p->len;
}

static void open_port(void)
{
	char spec[512];

	nmctx_get()->error = lib_error_cb;
	if (strncmp(G.port, "netmap:", 7) == 0 || strncmp(G.port, "vale", 4) == 0 ||
	    strcmp(G.port, "null") == 0 || strncmp(G.port, "null:", 5) == 0)
		snprintf(spec, sizeof spec, "%s", G.port);
	else
		snprintf(spec, sizeof spec, "netmap:%s", G.port);
	lib_err[0] = '\0';
	port = nmport_open(spec);
	if (port == NULL)
		die("cannot open port %s: %s", G.port, lib_err[0] ? lib_err : strerror(errno));
	if (port->first_tx_ring > port->last_tx_ring)
		die("%s: the port has no transmit ring", G.port);
}

int main(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "f:i:B:R:D:L:b:l:w:C:vh")) != -1) {
		switch (ch) {
		case 'f': G.file = optarg; break;
		case 'i': G.port = optarg; break;
		case 'B': parse_bandwidth(optarg); break;
		case 'R': G.timing = TIME_RATE; G.pps = scaled("-R", optarg); break;
		case 'D': parse_delay(optarg); break;
		case 'L': parse_loss(optarg); break;
		case 'b': G.batch = num_arg("-b", optarg, 1, 4096); break;
		case 'l': G.loops = num_arg("-l", optarg, 0, 1000000000); break;
		case 'w': G.wait = num_arg("-w", optarg, 0, 3600); break;
		case 'C': G.cpu = num_arg("-C", optarg, 0, CPU_SETSIZE - 1); break;
		case 'v': G.verbose++; break;
		case 'h': usage(0); break;
		default: die("unknown option (-h for help)");
		}
	}
	if (optind < argc)
		die("unexpected argument %s", argv[optind]);
	if (G.file == NULL)
		die("missing pcap file (-f)");
	if (G.port == NULL)
		die("missing port (-i)");
	if (G.cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(G.cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) < 0)
			die("-C %ld: %s", G.cpu, strerror(errno));
	}
	load();
	uint64_t period = schedule();
	srand48((long)now_ns() ^ getpid());
	open_port();
	catch_stop_signals();
	wait_secs(G.wait);

	uint64_t start = now_ns(), base = start, last = start, next_report = start + 1000000000ULL;
	uint64_t reported = 0;
	long pending = 0;
	for (long pass = 0; !do_abort && (G.loops == 0 || pass < G.loops); pass++, base += period) {
		for (size_t i = 0; i < npkts && !do_abort; i++) {
			const struct pkt *p = &pkts[i];
			if (lost(p->len)) {
				dropped++;
				continue;
			}
			uint64_t due = base + p->when + extra_delay();
			if (due < last)
				due = last;	/* a delay never reorders */
			last = due;
			if (due > now_ns()) {
				if (pending > 0) {
					txsync();
					pending = 0;
				}
				wait_until(due);
			}
			send_one(p, i);
			if (++pending >= G.batch) {
				txsync();
				pending = 0;
			}
			if (G.verbose && now_ns() >= next_report) {
				fprintf(stderr, "nmreplay: %llu packets sent, %llu in the last second\n",
					(unsigned long long)sent, (unsigned long long)(sent - reported));
				reported = sent;
				next_report += 1000000000ULL;
			}
		}
	}
	txsync();
	double secs = (now_ns() - start) / 1e9;
	printf("Sent %llu packets %llu bytes in %.3f seconds (%llu dropped by -L)\n",
	       (unsigned long long)sent, (unsigned long long)sent_bytes, secs,
	       (unsigned long long)dropped);
	nmport_close(port);
	free(pkts);
	free(data);
	return 0;
}
