/*
 * pkt-gen - packet generator and sink for unetmap ports.
 *
 * Command line compatible with netmap's pkt-gen(8): the same functions
 * (tx, rx, txseq, rxseq, ping, pong), the same option letters and the same
 * report lines, so scripts written for netmap keep working.  Ports are
 * opened with libnetmap's nmport_open() family; any unetmap port name is
 * accepted (pipes NAME{N / NAME}N, null:NAME, valeS:P).
 *
 * Frames are UDP over IPv4 (or IPv6 with -6) with valid IP and UDP
 * checksums.  txseq and ping put a 32-bit big-endian sequence number at the
 * start of the UDP payload (ping adds a timestamp after it); the checksums
 * are kept correct for every frame.
 *
 * Differences from netmap's pkt-gen are listed in docs/man/pkt-gen.mdoc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <ctype.h>

#include <libnetmap.h>
#include <pcap/pcap.h>

#define PROG "pkt-gen"
#include "tool_util.h"

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */

enum func { F_TX, F_RX, F_TXSEQ, F_RXSEQ, F_PING, F_PONG };
enum kind { K_SENDER, K_RECEIVER, K_OTHER };

static const struct {
	const char *name;
	enum func f;
	enum kind k;
	int burst;
} funcs[] = {
	{ "tx", F_TX, K_SENDER, 512 },
	{ "rx", F_RX, K_RECEIVER, 512 },
	{ "txseq", F_TXSEQ, K_SENDER, 512 },
	{ "rxseq", F_RXSEQ, K_RECEIVER, 512 },
	{ "ping", F_PING, K_OTHER, 1 },
	{ "pong", F_PONG, K_OTHER, 1 },
};

struct addr_range {
	const char *text;
	uint8_t start[16], end[16];	/* v4: bytes 0..3 used */
	uint32_t lo, hi;		/* the part that is iterated (v4: all, v6: low 32 bits) */
	uint16_t port0, port1;
};

struct cfg {
	int af;			/* 4 or 6 */
	enum func func;
	enum kind kind;
	char ifname[512];
	uint64_t npackets;	/* 0 = forever */
	int pkt_size;
	int burst;
	double rate;		/* pps, 0 = unlimited */
	int wait_link;
	int nthreads;
	int affinity;		/* -1 = none */
	int cpus;
	int report_ms;
	struct addr_range src, dst;
	uint8_t src_mac[6], dst_mac[6];
	const char *src_mac_text, *dst_mac_text;
	int rand_src, rand_dst;
	int nocopy;		/* -N */
	int rubbish;		/* -r */
	int no_wait;		/* -W */
	int dump;		/* -X */
	int framing;		/* -B: bits of framing per packet */
	const char *ring_conf;	/* -C */
	int verbose;
	int frags;		/* -F: slots per frame (1 = one buffer) */
	int frag_size;		/* -M: bytes per slot but the last (0: len / frags, rounded up) */
	const char *pcap_file;	/* -P */
	/* derived */
	int addr_varies;
	int l3off;		/* offset of the UDP header */
	int payoff;		/* offset of the UDP payload */
	uint64_t period_ns;	/* time per burst when rate limited */
};

static struct cfg G;

/* -P: the frames of the pcap file, sent in turn */
struct pcap_frame {
	uint8_t *data;
	uint32_t len;
};
static struct pcap_frame *pcap_frames;
static size_t pcap_count;
static uint32_t pcap_max_len;

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

/* value with K/M/G/T unit, as netmap's pkt-gen prints them */
static const char *norm(char *buf, size_t n, double val)
{
	static const char *units[] = { "", "K", "M", "G", "T" };
	unsigned i = 0;

	while (val >= 1000 && i < 4) {
		val /= 1000;
		i++;
	}
	snprintf(buf, n, "%.3f %s", val, units[i]);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Argument parsing                                                    */
/* ------------------------------------------------------------------ */

static const char usage_text[] =
"Usage: " PROG " -i port [-f function] [options]\n"
"\n"
"Functions (-f):\n"
"  tx       transmit frames (default burst 512)\n"
"  rx       receive and count frames (the default function)\n"
"  txseq    transmit frames carrying a sequence number\n"
"  rxseq    receive, and count lost and reordered sequence numbers\n"
"  ping     send timestamped frames and measure round-trip times\n"
"  pong     answer ping frames\n"
"\n"
"Options:\n"
"  -i port       unetmap port: NAME{N / NAME}N (pipe ends), null:NAME,\n"
"                valeS:P, optionally prefixed by netmap:\n"
"  -f function   tx, rx, txseq, rxseq, ping, pong\n"
"  -n count      packets to send or receive, ping-pong round trips\n"
"                (0 = no limit, the default); k/m/g suffixes accepted\n"
"  -l len        frame length in bytes without CRC, 60 (74 with -6) up to\n"
"                the port's buffer size, more with -F (default 60)\n"
"  -b burst      packets per batch (default 512; 1 for ping/pong)\n"
"  -R rate       transmit rate in packets per second, k/m/g suffixes\n"
"  -w seconds    wait before starting (default 0: unetmap ports have no\n"
"                link to bring up)\n"
"  -p threads    threads, one ring each (default 1: one thread, all rings)\n"
"  -a cpu        pin thread i to CPU cpu+i\n"
"  -c cpus       CPUs to use for -a (0 = all, default 1)\n"
"  -T ms         milliseconds between reports (default 1000)\n"
"  -4 / -6       IPv4 (default) / IPv6 frames\n"
"  -s ip[:port[-ip[:port]]]   source address and port, single or range\n"
"                (default 10.0.0.1:1234; fd00::1 with -6)\n"
"  -d ip[:port[-ip[:port]]]   destination address and port, likewise\n"
"                (default 10.1.0.1:1234; fd00::2 with -6); IPv6 as\n"
"                [addr]:port, ranges vary the last 32 bits\n"
"  -S mac        source MAC (default 00:00:00:00:00:00)\n"
"  -D mac        destination MAC (default ff:ff:ff:ff:ff:ff)\n"
"  -z / -Z       random source / destination address and port\n"
"  -N            no-copy: fill each buffer once, then only set lengths\n"
"                (headers still change with ranges, -z/-Z and txseq)\n"
"  -r            rubbish: send buffers as they are, never write them\n"
"  -B            count 24 bytes of framing and CRC in the raw bandwidth\n"
"  -W            tx: exit without waiting for the peer to take the last\n"
"                frames; rx/rxseq/pong: exit after 1 s without traffic\n"
"  -C tx_slots[,rx_slots[,tx_rings[,rx_rings]]]   ring configuration\n"
"  -F frags      tx/txseq: send each frame in frags slots chained with\n"
"                NS_MOREFRAG (1..64, default 1); frames may then be longer\n"
"                than one buffer\n"
"  -M size       bytes in each of those slots but the last (default: the\n"
"                frame length divided by frags, rounded up)\n"
"  -P file       tx: send the frames of a pcap file, in turn, instead of\n"
"                generated ones (a frame longer than a buffer goes in\n"
"                several slots)\n"
"  -X            dump every frame sent or received\n"
"  -v            more messages (-v -v: per-ring buffer ranges)\n"
"  -h            this help\n"
"\n"
"Not supported (rejected with an error): -I (indirect buffers),\n"
"-H (virtio-net header), -o, -A.\n";

static void usage(void)
{
	fputs(usage_text, stdout);
	exit(0);
}

/* strict unsigned number with optional k/m/g suffix (x1000) */
static int parse_count(const char *s, double *out, int allow_frac)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s) || *s == '-')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': v *= 1e3; end++; break;
	case 'm': case 'M': v *= 1e6; end++; break;
	case 'g': case 'G': v *= 1e9; end++; break;
	default: break;
	}
	if (*end != '\0' || v < 0 || v > 1.8e19)
		return -1;
	if (!allow_frac && v != (double)(uint64_t)v)
		return -1;
	*out = v;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	int n = -1;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%n", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &n) != 6 || n < 0 || s[n] != '\0')
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end != '\0' || v < 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* one end: "a.b.c.d[:port]" or, for IPv6, "addr" / "[addr][:port]" */
static int parse_endpoint(char *s, int af, uint8_t addr[16], uint16_t *port)
{
	char *p = NULL;

	if (af == 4) {
		p = strchr(s, ':');
		if (p != NULL)
			*p++ = '\0';
		if (inet_pton(AF_INET, s, addr) != 1)
			return -1;
	} else {
		if (*s == '[') {
			char *q = strchr(++s, ']');
			if (q == NULL)
				return -1;
			*q++ = '\0';
			if (*q == ':')
				p = q + 1;
			else if (*q != '\0')
				return -1;
		}
		if (inet_pton(AF_INET6, s, addr) != 1)
			return -1;
	}
	if (p != NULL && parse_port(p, port) != 0)
		return -1;
	return 0;
}

static uint32_t low32(const struct cfg *g, const uint8_t a[16])
{
	const uint8_t *p = g->af == 4 ? a : a + 12;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* addr[:port][-addr[:port]]; returns 1 if it is a real range */
static int parse_range(struct cfg *g, struct addr_range *r, const char *opt)
{
	char buf[256], *dash;
	uint16_t p0 = 1234, p1;

	if (strlen(r->text) >= sizeof buf)
		die("-%s %s: address too long", opt, r->text);
	strcpy(buf, r->text);
	dash = strchr(buf, '-');
	if (dash != NULL)
		*dash++ = '\0';
	memset(r->start, 0, sizeof r->start);
	if (parse_endpoint(buf, g->af, r->start, &p0) != 0)
		die("-%s %s: malformed address (expected %s)", opt, r->text,
		    g->af == 4 ? "a.b.c.d[:port][-a.b.c.d[:port]]"
			       : "addr or [addr][:port][-[addr][:port]]");
	p1 = p0;
	memcpy(r->end, r->start, sizeof r->end);
	if (dash != NULL && parse_endpoint(dash, g->af, r->end, &p1) != 0)
		die("-%s %s: malformed address (expected %s)", opt, r->text,
		    g->af == 4 ? "a.b.c.d[:port][-a.b.c.d[:port]]"
			       : "addr or [addr][:port][-[addr][:port]]");
	if (g->af == 6 && memcmp(r->start, r->end, 12) != 0)
		die("-%s %s: an IPv6 range may only vary the last 32 bits", opt, r->text);
	r->lo = low32(g, r->start);
	r->hi = low32(g, r->end);
	if (r->lo > r->hi) {
		uint32_t t = r->lo; r->lo = r->hi; r->hi = t;
		uint8_t tb[16];
		memcpy(tb, r->start, 16); memcpy(r->start, r->end, 16); memcpy(r->end, tb, 16);
	}
	r->port0 = p0 < p1 ? p0 : p1;
	r->port1 = p0 < p1 ? p1 : p0;
	return r->lo != r->hi || r->port0 != r->port1;
}

/* -F/-M: bytes in each slot of a generated frame but the last, which takes
 * the rest (default: the length divided by the slots, rounded down, so the
 * last slot is never empty) */
static int template_piece(void)
{
	return G.frag_size > 0 ? G.frag_size : G.pkt_size / G.frags;
}

/* -P: read every frame of the file into memory (at most a million) */
static void load_pcap(const char *path)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	size_t cap = 0;
	int r = 0;
	pcap_t *p = pcap_open_offline(path, err);

	if (p == NULL)
		die("-P %s: %s", path, err);
	while (pcap_count < 1000000 && (r = pcap_next_ex(p, &h, &data)) == 1) {
		if (h->caplen == 0)
			continue;
		if (pcap_count == cap) {
			cap = cap ? cap * 2 : 1024;
			pcap_frames = realloc(pcap_frames, cap * sizeof *pcap_frames);
			if (pcap_frames == NULL)
				die("-P %s: out of memory", path);
		}
		pcap_frames[pcap_count].data = malloc(h->caplen);
		if (pcap_frames[pcap_count].data == NULL)
			die("-P %s: out of memory", path);
		memcpy(pcap_frames[pcap_count].data, data, h->caplen);
		pcap_frames[pcap_count].len = h->caplen;
		if (h->caplen > pcap_max_len)
			pcap_max_len = h->caplen;
		pcap_count++;
	}
	if (pcap_count < 1000000 && r == PCAP_ERROR)
		die("-P %s: %s", path, pcap_geterr(p));
	pcap_close(p);
	if (pcap_count == 0)
		die("-P %s: no frames in the file", path);
}

static void parse_args(int argc, char **argv)
{
	int ch, fidx = 1;	/* rx by default, as netmap's pkt-gen */
	int burst_set = 0;
	double v;

	memset(&G, 0, sizeof G);
	G.af = 4;
	G.pkt_size = 60;
	G.nthreads = 1;
	G.affinity = -1;
	G.cpus = 1;
	G.report_ms = 1000;
	G.src.text = NULL;
	G.dst.text = NULL;
	G.frags = 1;
	G.src_mac_text = "00:00:00:00:00:00";
	G.dst_mac_text = "ff:ff:ff:ff:ff:ff";

	opterr = 0;
	while ((ch = getopt(argc, argv, ":46a:b:c:d:f:hi:l:n:p:rR:s:S:D:T:vw:WXzZNBC:P:F:M:IH:o:A")) != -1) {
		switch (ch) {
		case '4': G.af = 4; break;
		case '6': G.af = 6; break;
		case 'a': G.affinity = (int)num_arg("-a", optarg, 0, 4095); break;
		case 'b': G.burst = (int)num_arg("-b", optarg, 1, 1 << 20); burst_set = 1; break;
		case 'c': G.cpus = (int)num_arg("-c", optarg, 0, 4096); break;
		case 'd': G.dst.text = optarg; break;
		case 's': G.src.text = optarg; break;
		case 'D': G.dst_mac_text = optarg; break;
		case 'S': G.src_mac_text = optarg; break;
		case 'f': {
			size_t i;
			for (i = 0; i < sizeof funcs / sizeof funcs[0]; i++)
				if (strcmp(funcs[i].name, optarg) == 0)
					break;
			if (i == sizeof funcs / sizeof funcs[0])
				die("-f %s: unknown function (tx, rx, txseq, rxseq, ping, pong)", optarg);
			fidx = (int)i;
			break;
		}
		case 'h': usage(); break;
		case 'i':
			if (strlen(optarg) >= sizeof G.ifname - 8)
				die("-i %s: port name too long", optarg);
			snprintf(G.ifname, sizeof G.ifname, "%s", optarg);
			break;
		case 'l': G.pkt_size = (int)num_arg("-l", optarg, 0, 65535); break;
		case 'n':
			if (parse_count(optarg, &v, 0) != 0)
				die("-n %s: expected a packet count", optarg);
			G.npackets = (uint64_t)v;
			break;
		case 'p': G.nthreads = (int)num_arg("-p", optarg, 1, 64); break;
		case 'R':
			if (parse_count(optarg, &v, 1) != 0 || v <= 0)
				die("-R %s: expected a rate in packets per second (k/m/g suffixes)", optarg);
			G.rate = v;
			break;
		case 'r': G.rubbish = 1; break;
		case 'T': G.report_ms = (int)num_arg("-T", optarg, 1, 3600000); break;
		case 'v': G.verbose++; break;
		case 'w': G.wait_link = (int)num_arg("-w", optarg, 0, 3600); break;
		case 'W': G.no_wait = 1; break;
		case 'X': G.dump = 1; break;
		case 'z': G.rand_src = 1; break;
		case 'Z': G.rand_dst = 1; break;
		case 'N': G.nocopy = 1; break;
		case 'B': G.framing = 24 * 8; break;
		case 'C': G.ring_conf = optarg; break;
		case 'P': G.pcap_file = optarg; break;
		case 'F': G.frags = (int)num_arg("-F", optarg, 1, 64); break;
		case 'M': G.frag_size = (int)num_arg("-M", optarg, 1, 65535); break;
		case 'I': die("-I: indirect buffers are not supported by this pkt-gen");
		case 'H': die("-H: virtio-net headers are not supported by this pkt-gen");
		case 'o': die("-o: data generation options are not supported by this pkt-gen");
		case 'A': die("-A: sliding-window statistics are not supported by this pkt-gen");
		case ':': die("option -%c needs an argument (see " PROG " -h)", optopt);
		default:
			if (isprint(optopt))
				die("unknown option -%c (see " PROG " -h)", optopt);
			die("unknown option (see " PROG " -h)");
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (see " PROG " -h)", argv[optind]);
	if (G.ifname[0] == '\0')
		die("missing port name (-i port)");

	G.func = funcs[fidx].f;
	G.kind = funcs[fidx].k;
	if (!burst_set)
		G.burst = funcs[fidx].burst;
	if (G.pcap_file != NULL && G.func != F_TX)
		die("-P %s: pcap frames are sent by -f tx only", G.pcap_file);
	if (G.frags > 1 && G.func != F_TX && G.func != F_TXSEQ)
		die("-F %d: multi-slot frames are sent by -f tx and txseq only", G.frags);
	if (G.frag_size > 0 && G.frags == 1)
		die("-M %d: fragment size without -F (more than one slot per frame)", G.frag_size);
	if (G.frags > 1 && G.pcap_file != NULL)
		die("-F %d: pcap frames are split by buffer size, not by -F", G.frags);
	if (G.frags > 1) {
		int last = G.pkt_size - (G.frags - 1) * template_piece();
		if (template_piece() < 1 || last < 1)
			die("-F %d -M %d: %d-byte frames cannot fill %d slots", G.frags,
			    template_piece(), G.pkt_size, G.frags);
	}
	if (G.pcap_file != NULL)
		load_pcap(G.pcap_file);

	{
		int minlen = G.af == 4 ? 60 : 74;
		if (G.pkt_size < minlen)
			die("-l %d: length below the minimum of %d bytes", G.pkt_size, minlen);
	}
	if (parse_mac(G.src_mac_text, G.src_mac) != 0)
		die("-S %s: malformed MAC address (expected aa:bb:cc:dd:ee:ff)", G.src_mac_text);
	if (parse_mac(G.dst_mac_text, G.dst_mac) != 0)
		die("-D %s: malformed MAC address (expected aa:bb:cc:dd:ee:ff)", G.dst_mac_text);
	if (G.src.text == NULL)
		G.src.text = G.af == 4 ? "10.0.0.1:1234" : "[fd00::1]:1234";
	if (G.dst.text == NULL)
		G.dst.text = G.af == 4 ? "10.1.0.1:1234" : "[fd00::2]:1234";
	G.addr_varies = parse_range(&G, &G.src, "s") | parse_range(&G, &G.dst, "d");
	G.addr_varies |= G.rand_src | G.rand_dst;

	if ((G.func == F_PING || G.func == F_PONG) && G.nthreads > 1)
		die("-p %d: %s works with one thread only", G.nthreads, funcs[fidx].name);
	{
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		if (G.cpus > ncpu)
			die("-c %d: only %ld CPUs available", G.cpus, ncpu);
		if (G.cpus == 0)
			G.cpus = (int)ncpu;
		if (G.affinity >= ncpu)
			die("-a %d: only %ld CPUs available", G.affinity, ncpu);
		if (G.affinity >= 0 && G.cpus < G.nthreads && G.cpus < ncpu)
			G.cpus = (int)ncpu;	/* room for one CPU per thread */
	}
	G.l3off = 14;
	G.payoff = G.af == 4 ? 42 : 62;

	if (G.rate > 0) {
		/* netmap's pkt-gen: at most ~1/300 s worth of packets per burst */
		int lim = (int)(G.rate / G.nthreads / 300);
		if (G.burst > lim)
			G.burst = lim;
		if (G.burst < 1)
			G.burst = 1;
		G.period_ns = (uint64_t)(1e9 * G.burst * G.nthreads / G.rate);
		if (G.period_ns == 0)
			G.period_ns = 1;
	}
}

/* ------------------------------------------------------------------ */
/* Frames                                                              */
/* ------------------------------------------------------------------ */

static const char payload_text[] = "unetmap pkt-gen payload, all bytes after the headers. ";

#define VAR_BYTES 12	/* payload bytes that may change per frame (seq + timestamp) */

static uint64_t sum16(const uint8_t *p, size_t len, uint64_t s)
{
	for (; len > 1; p += 2, len -= 2)
		s += (uint32_t)p[0] << 8 | p[1];
	if (len)
		s += (uint32_t)p[0] << 8;
	return s;
}

static uint16_t fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

struct thr {
	int id;
	struct nmport_d *d;
	pthread_t tid;
	int started;
	atomic_int running;
	int failed;
	int affinity;

	_Atomic uint64_t pkts, bytes, events;
	_Atomic uint32_t min_space;

	uint64_t tic, toc;	/* ns, CLOCK_MONOTONIC */
	int have_tic;

	uint8_t *frame;		/* template */
	uint64_t udp_const;	/* checksum of the fixed part of the UDP datagram */
	uint32_t saddr, daddr;	/* current iterated address parts */
	uint16_t sport, dport;
	uint64_t rnd;		/* xorshift state */
	uint32_t **filled;	/* -N: buffer index last filled, per ring and slot */
	size_t pcap_next;	/* -P: the next frame of the file to send */
	int in_chain;		/* rx: inside a multi-slot frame (after NS_MOREFRAG) */

	/* rxseq */
	uint64_t seq_checked, seq_lost, seq_ooo;
	uint32_t seq_next;
	int seq_started;

	/* ping */
	uint64_t *rtt;
	size_t nrtt, rtt_cap;
	uint64_t rtt_min, rtt_max, rtt_sum, rtt_count, ping_sent;
};

static struct thr *thr;

static uint32_t rnd32(struct thr *t)
{
	uint64_t x = t->rnd;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	t->rnd = x;
	return (uint32_t)(x >> 16);
}

/* offsets of the address fields inside the frame */
static int saddr_off(void) { return G.af == 4 ? 26 : 22; }
static int daddr_off(void) { return G.af == 4 ? 30 : 38; }
static int alen(void) { return G.af == 4 ? 4 : 16; }

static void set_ip_csum(uint8_t *f)
{
	if (G.af != 4)
		return;
	put16(f + 24, 0);
	put16(f + 24, (uint16_t)~fold(sum16(f + 14, 20, 0)));
}

static void set_udp_csum(struct thr *t, uint8_t *f)
{
	uint64_t s = t->udp_const;
	uint16_t c;
	int u = G.payoff - 8;

	s = sum16(f + saddr_off(), (size_t)alen() * 2, s);	/* both addresses */
	s = sum16(f + u, 4, s);					/* ports */
	s = sum16(f + G.payoff, VAR_BYTES, s);
	c = (uint16_t)~fold(s);
	put16(f + u + 6, c ? c : 0xffff);
}

static void write_addresses(struct thr *t, uint8_t *f)
{
	int lo = G.af == 4 ? 0 : 12;
	put32(f + saddr_off() + lo, t->saddr);
	put32(f + daddr_off() + lo, t->daddr);
	put16(f + G.payoff - 8, t->sport);
	put16(f + G.payoff - 6, t->dport);
}

/* move to the next address/port combination, in netmap's order: source
 * port first, then source address, destination port, destination address;
 * random parts (-z, -Z) are drawn in stamp_frame() */
static void next_addresses(struct thr *t)
{
	if (!G.rand_src) {
		if (t->sport < G.src.port1) { t->sport++; return; }
		t->sport = G.src.port0;
		if (t->saddr < G.src.hi) { t->saddr++; return; }
		t->saddr = G.src.lo;
	}
	if (!G.rand_dst) {
		if (t->dport < G.dst.port1) { t->dport++; return; }
		t->dport = G.dst.port0;
		if (t->daddr < G.dst.hi) { t->daddr++; return; }
		t->daddr = G.dst.lo;
	}
}

static void build_template(struct thr *t)
{
	int len = G.pkt_size, u = G.payoff - 8;
	int udplen = len - u, paylen = len - G.payoff;
	uint8_t *f = calloc(1, (size_t)len);
	size_t pl = strlen(payload_text);

	if (f == NULL)
		die("out of memory");
	memcpy(f, G.dst_mac, 6);
	memcpy(f + 6, G.src_mac, 6);
	if (G.af == 4) {
		put16(f + 12, 0x0800);
		f[14] = 0x45;
		f[15] = 0x10;			/* low delay */
		put16(f + 16, (uint16_t)(len - 14));
		put16(f + 18, 0);		/* id */
		put16(f + 20, 0x4000);		/* don't fragment */
		f[22] = 64;			/* ttl */
		f[23] = 17;			/* UDP */
	} else {
		put16(f + 12, 0x86dd);
		put32(f + 14, 0x60000000);
		put16(f + 18, (uint16_t)udplen);
		f[20] = 17;
		f[21] = 64;
	}
	memcpy(f + saddr_off(), G.src.start, (size_t)alen());
	memcpy(f + daddr_off(), G.dst.start, (size_t)alen());
	put16(f + u + 4, (uint16_t)udplen);
	for (int i = 0; i < paylen; i++)
		f[G.payoff + i] = (uint8_t)payload_text[i % pl];
	f[len - 1] = '\0';

	/* fixed part of the UDP checksum: pseudo-header protocol and length,
	 * the UDP length field, the payload after the variable bytes */
	t->udp_const = 17 + (uint64_t)udplen + (uint64_t)udplen;
	t->udp_const = sum16(f + G.payoff + VAR_BYTES, (size_t)(paylen - VAR_BYTES), t->udp_const);

	t->saddr = G.src.lo;
	t->daddr = G.dst.lo;
	t->sport = G.src.port0;
	t->dport = G.dst.port0;
	t->rnd = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)(t->id + 1) * 0xbf58476d1ce4e5b9ULL) ^ now_ns();
	if (t->rnd == 0)
		t->rnd = 1;
	write_addresses(t, f);
	set_ip_csum(f);
	set_udp_csum(t, f);
	t->frame = f;
}

/* per-frame fields: addresses (ranges, -z/-Z), sequence number, timestamp */
static void stamp_frame(struct thr *t, uint8_t *f, int seq_mode, uint32_t seq)
{
	if (G.addr_varies) {
		if (G.rand_src) {
			t->saddr = rnd32(t);
			t->sport = (uint16_t)rnd32(t);
		}
		if (G.rand_dst) {
			t->daddr = rnd32(t);
			t->dport = (uint16_t)rnd32(t);
		}
		write_addresses(t, f);
		set_ip_csum(f);
		next_addresses(t);	/* the ranges, random parts excepted */
	}
	if (seq_mode) {
		put32(f + G.payoff, seq);
		if (G.func == F_PING) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			put32(f + G.payoff + 4, (uint32_t)ts.tv_sec);
			put32(f + G.payoff + 8, (uint32_t)ts.tv_nsec);
		}
	}
	set_udp_csum(t, f);
}

static void dump_frame(const uint8_t *p, int len, struct netmap_ring *ring, unsigned cur)
{
	char line[128];

	printf("ring %p cur %5u [buf %6u flags 0x%04x len %5d]\n", (void *)ring, cur,
	       ring->slot[cur].buf_idx, ring->slot[cur].flags, len);
	for (int i = 0; i < len; i += 16) {
		int n = snprintf(line, sizeof line, "%5d: ", i);
		for (int j = 0; j < 16; j++)
			n += snprintf(line + n, sizeof line - (size_t)n,
				      i + j < len ? "%02x " : "   ", i + j < len ? p[i + j] : 0);
		for (int j = 0; j < 16 && i + j < len; j++)
			line[n++] = isprint(p[i + j]) ? (char)p[i + j] : '.';
		line[n] = '\0';
		printf("%s\n", line);
	}
}

/* ------------------------------------------------------------------ */
/* Thread bodies                                                       */
/* ------------------------------------------------------------------ */

static void pin(struct thr *t)
{
	cpu_set_t set;

	if (t->affinity < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(t->affinity, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0)
		LOG("Unable to set affinity to CPU %d", t->affinity);
}

static void wait_until(uint64_t t)
{
	for (;;) {
		uint64_t n = now_ns();
		if (n >= t || do_abort)
			return;
		if (t - n > 1000000) {
			struct timespec ts = { 0, (long)(t - n - 500000) };
			nanosleep(&ts, NULL);
		}
	}
}

static void note_space(struct thr *t, uint32_t space)
{
	if (space < atomic_load_explicit(&t->min_space, memory_order_relaxed))
		atomic_store_explicit(&t->min_space, space, memory_order_relaxed);
}

static uint64_t my_quota(struct thr *t)
{
	uint64_t n = G.npackets;

	if (n == 0 || G.kind != K_SENDER)
		return n;
	return n / (uint64_t)G.nthreads + ((uint64_t)t->id < n % (uint64_t)G.nthreads);
}

/* fill up to lim slots of ring starting at head; returns how many */
static unsigned fill_ring(struct thr *t, struct netmap_ring *ring, int ri, unsigned lim,
			  uint64_t *seq)
{
	unsigned head = ring->head;
	int seq_mode = G.func == F_TXSEQ || G.func == F_PING;
	int len = G.pkt_size;
	uint32_t *filled = t->filled[ri];

	for (unsigned i = 0; i < lim; i++) {
		struct netmap_slot *slot = &ring->slot[head];
		uint8_t *p = (uint8_t *)NETMAP_BUF(ring, slot->buf_idx);

		if (!G.rubbish) {
			if (!G.nocopy || filled[head] != slot->buf_idx) {
				memcpy(p, t->frame, (size_t)len);
				filled[head] = slot->buf_idx;
			}
			if (G.addr_varies || seq_mode)
				stamp_frame(t, p, seq_mode, (uint32_t)*seq);
		}
		(*seq)++;
		slot->len = (uint16_t)len;
		slot->flags = 0;
		if (G.dump)
			dump_frame(p, len, ring, head);
		head = nm_ring_next(ring, head);
	}
	ring->head = ring->cur = head;
	return lim;
}

/* Fill whole multi-slot frames (-F, or -P frames longer than a buffer):
 * up to lim frames; returns how many, adds their bytes to *bytes.  A frame
 * that does not fit waits: head stays before it, and cur goes to tail, so
 * that poll() (netmap's contract) blocks until more slots than that are
 * free instead of reporting the few that are already there. */
static unsigned fill_ring_chains(struct thr *t, struct netmap_ring *ring, unsigned lim,
				 uint64_t *seq, uint64_t *bytes)
{
	unsigned head = ring->head, done = 0;
	unsigned space = ring->tail >= head ? ring->tail - head : ring->tail + ring->num_slots - head;
	int seq_mode = G.func == F_TXSEQ;

	while (done < lim) {
		const uint8_t *src;
		uint32_t len, piece, nslots, off = 0;

		if (G.pcap_file != NULL) {
			src = pcap_frames[t->pcap_next].data;
			len = pcap_frames[t->pcap_next].len;
			piece = ring->nr_buf_size;
			nslots = (len + piece - 1) / piece;
		} else {
			src = t->frame;
			len = (uint32_t)G.pkt_size;
			piece = (uint32_t)template_piece();
			nslots = (uint32_t)G.frags;
		}
		if (nslots > space) {
			ring->head = head;
			ring->cur = ring->tail;
			return done;
		}
		if (G.pcap_file == NULL && (G.addr_varies || seq_mode))
			stamp_frame(t, t->frame, seq_mode, (uint32_t)*seq);
		for (uint32_t k = 0; k < nslots; k++) {
			struct netmap_slot *slot = &ring->slot[head];
			uint8_t *p = (uint8_t *)NETMAP_BUF(ring, slot->buf_idx);
			uint32_t n = k + 1 < nslots ? piece : len - off;

			if (!G.rubbish)
				memcpy(p, src + off, n);
			slot->len = (uint16_t)n;
			slot->flags = k + 1 < nslots ? NS_MOREFRAG : 0;
			if (G.dump)
				dump_frame(p, (int)n, ring, head);
			off += n;
			head = nm_ring_next(ring, head);
		}
		space -= nslots;
		done++;
		(*seq)++;
		*bytes += len;
		if (G.pcap_file != NULL && ++t->pcap_next == pcap_count)
			t->pcap_next = 0;
	}
	ring->head = ring->cur = head;
	return done;
}

static void *sender_body(void *arg)
{
	struct thr *t = arg;
	struct nmport_d *d = t->d;
	uint64_t n = my_quota(t), sent = 0, events = 0, seq = 0, bytes = 0;
	uint64_t next = 0;
	int64_t tosend = 0;
	int chains = G.frags > 1 || G.pcap_file != NULL;

	pin(t);
	t->tic = now_ns();
	t->have_tic = 1;
	next = t->tic;
	while (!do_abort && (n == 0 || sent < n)) {
		unsigned done = 0;

		if (G.rate > 0 && tosend <= 0) {
			tosend = G.burst;
			next += G.period_ns;
			wait_until(next);
		}
		for (int i = d->first_tx_ring; i <= d->last_tx_ring && !do_abort; i++) {
			struct netmap_ring *ring = NETMAP_TXRING(d->nifp, i);
			uint64_t lim = G.rate > 0 ? (uint64_t)tosend : (uint64_t)G.burst;
			unsigned space = nm_ring_space(ring), m;

			if (n > 0 && n - sent < lim)
				lim = n - sent;
			if (space == 0 || lim == 0)
				continue;
			note_space(t, space);
			if (lim > space)
				lim = space;
			if (chains) {
				m = fill_ring_chains(t, ring, (unsigned)lim, &seq, &bytes);
			} else {
				m = fill_ring(t, ring, i - d->first_tx_ring, (unsigned)lim, &seq);
				bytes += (uint64_t)m * (uint64_t)G.pkt_size;
			}
			sent += m;
			done += m;
			events++;
			if (G.rate > 0) {
				tosend -= m;
				if (tosend <= 0)
					break;
			}
		}
		atomic_store_explicit(&t->pkts, sent, memory_order_relaxed);
		atomic_store_explicit(&t->bytes, bytes, memory_order_relaxed);
		atomic_store_explicit(&t->events, events, memory_order_relaxed);
		if (done > 0) {
			if (ioctl(d->fd, NIOCTXSYNC, NULL) < 0) {
				LOG("TXSYNC error on queue %d: %s", t->id, strerror(errno));
				t->failed = 1;
				break;
			}
		} else {
			struct pollfd pfd = { .fd = d->fd, .events = POLLOUT };
			int rv = poll(&pfd, 1, 1000);
			if (rv < 0 && errno != EINTR) {
				LOG("poll error on queue %d: %s", t->id, strerror(errno));
				t->failed = 1;
				break;
			}
			if (rv > 0 && (pfd.revents & POLLERR)) {
				LOG("poll error on %d ring %d-%d", d->fd, d->first_tx_ring, d->last_tx_ring);
				t->failed = 1;
				break;
			}
			if (rv == 0 && G.verbose)
				LOG("poll timeout on queue %d (is a receiver running?)", t->id);
		}
	}
	/* wait until the peer has taken everything */
	if (!G.no_wait && !t->failed) {
		for (int i = d->first_tx_ring; i <= d->last_tx_ring; i++) {
			struct netmap_ring *ring = NETMAP_TXRING(d->nifp, i);
			while (!do_abort && nm_tx_pending(ring)) {
				ioctl(d->fd, NIOCTXSYNC, NULL);
				if (nm_tx_pending(ring))
					usleep(20);
			}
		}
	}
	t->toc = now_ns();
	atomic_store(&t->running, 0);
	return NULL;
}

static void check_seq(struct thr *t, const uint8_t *p, unsigned len)
{
	uint16_t et;
	unsigned off;
	uint32_t seq;

	if (len < 14)
		return;
	et = get16(p + 12);
	off = et == 0x0800 ? 42 : et == 0x86dd ? 62 : 0;
	if (off == 0 || len < off + 4) {
		if (G.verbose)
			LOG("frame without a sequence number (len %u)", len);
		return;
	}
	seq = get32(p + off);
	t->seq_checked++;
	if (!t->seq_started) {
		t->seq_started = 1;
	} else if (seq != t->seq_next) {
		uint32_t delta = seq - t->seq_next;
		if (delta < 0x80000000u) {
			if (G.verbose)
				LOG("Sequence GAP: exp %u found %u", t->seq_next, seq);
			t->seq_lost += delta;
		} else {
			if (G.verbose)
				LOG("Sequence OUT OF ORDER: exp %u found %u", t->seq_next, seq);
			t->seq_ooo++;
			if (t->seq_lost > 0)
				t->seq_lost--;	/* it was counted as lost before */
			return;			/* keep expecting seq_next */
		}
	}
	t->seq_next = seq + 1;
}

static uint64_t global_received(void)
{
	uint64_t s = 0;
	for (int i = 0; i < G.nthreads; i++)
		s += atomic_load_explicit(&thr[i].pkts, memory_order_relaxed);
	return s;
}

static void *receiver_body(void *arg)
{
	struct thr *t = arg;
	struct nmport_d *d = t->d;
	uint64_t pkts = 0, bytes = 0, events = 0, last = 0;
	int seq = G.func == F_RXSEQ;

	pin(t);
	if (G.verbose)
		LOG("reading from %s fd %d", G.ifname, d->fd);
	while (!do_abort) {
		struct pollfd pfd = { .fd = d->fd, .events = POLLIN };
		int rv = poll(&pfd, 1, 1000);

		if (rv < 0 && errno != EINTR) {
			LOG("poll() error: %s", strerror(errno));
			t->failed = 1;
			goto out;
		}
		if (rv > 0 && (pfd.revents & POLLERR)) {
			LOG("poll err");
			t->failed = 1;
			goto out;
		}
		if (rv == 0) {
			if (t->have_tic && G.no_wait)
				goto out;
			if (!t->have_tic && G.no_wait) {
				LOG("no traffic within 1 s");
				goto out;
			}
			continue;
		}
		if (rv < 0)
			continue;
		if (!t->have_tic) {
			t->tic = now_ns();
			t->have_tic = 1;
		}
		for (int i = d->first_rx_ring; i <= d->last_rx_ring; i++) {
			struct netmap_ring *ring = NETMAP_RXRING(d->nifp, i);
			unsigned avail = nm_ring_space(ring), lim = (unsigned)G.burst, head, got = 0;

			note_space(t, ring->num_slots - 1 - avail);
			if (avail == 0)
				continue;
			if (lim > avail)
				lim = avail;
			if (G.npackets > 0) {
				uint64_t all = G.nthreads == 1 ? pkts : global_received();
				if (all >= G.npackets)
					break;
				if (G.npackets - all < lim)
					lim = (unsigned)(G.npackets - all);
			}
			head = ring->head;
			for (unsigned k = 0; k < lim; k++) {
				struct netmap_slot *slot = &ring->slot[head];
				const uint8_t *p = (const uint8_t *)NETMAP_BUF(ring, slot->buf_idx);

				bytes += slot->len;
				if (G.dump)
					dump_frame(p, slot->len, ring, head);
				/* the sequence number is in a frame's first slot */
				if (seq && !t->in_chain)
					check_seq(t, p, slot->len);
				t->in_chain = (slot->flags & NS_MOREFRAG) != 0;
				if (!t->in_chain) {
					pkts++;
					got++;
				}
				head = nm_ring_next(ring, head);
			}
			ring->head = ring->cur = head;
			if (got)
				events++;
			last = now_ns();
		}
		atomic_store_explicit(&t->pkts, pkts, memory_order_relaxed);
		atomic_store_explicit(&t->bytes, bytes, memory_order_relaxed);
		atomic_store_explicit(&t->events, events, memory_order_relaxed);
		if (G.npackets > 0 && (G.nthreads == 1 ? pkts : global_received()) >= G.npackets) {
			ioctl(d->fd, NIOCRXSYNC, NULL);	/* release the last slots */
			break;
		}
	}
out:
	t->toc = last ? last : now_ns();
	atomic_store(&t->running, 0);
	return NULL;
}

static void rtt_record(struct thr *t, uint64_t rtt)
{
	if (rtt < t->rtt_min)
		t->rtt_min = rtt;
	if (rtt > t->rtt_max)
		t->rtt_max = rtt;
	t->rtt_sum += rtt;
	t->rtt_count++;
	if (t->nrtt == t->rtt_cap && t->rtt_cap < (1u << 22)) {
		size_t c = t->rtt_cap ? t->rtt_cap * 2 : 4096;
		uint64_t *r = realloc(t->rtt, c * sizeof *r);
		if (r != NULL) {
			t->rtt = r;
			t->rtt_cap = c;
		}
	}
	if (t->nrtt < t->rtt_cap)
		t->rtt[t->nrtt++] = rtt;
}

static void *ping_body(void *arg)
{
	struct thr *t = arg;
	struct nmport_d *d = t->d;
	uint64_t n = G.npackets, sent = 0, events = 0, seq = 0, received = 0;
	uint64_t next, last_print, drain_until = 0;
	uint64_t iv_count = 0, iv_sum = 0, iv_min = UINT64_MAX;
	int64_t tosend = 0;

	pin(t);
	t->rtt_min = UINT64_MAX;
	t->tic = now_ns();
	t->have_tic = 1;
	next = last_print = t->tic;
	while (!do_abort) {
		struct netmap_ring *tx = NETMAP_TXRING(d->nifp, d->first_tx_ring);
		struct pollfd pfd = { .fd = d->fd, .events = POLLIN };
		int rv;

		if (n == 0 || sent < n) {
			uint64_t lim = G.rate > 0 ? (uint64_t)(tosend > 0 ? tosend : G.burst) : (uint64_t)G.burst;
			unsigned space;

			if (G.rate > 0 && tosend <= 0) {
				tosend = G.burst;
				next += G.period_ns;
				wait_until(next);
			}
			if (n > 0 && n - sent < lim)
				lim = n - sent;
			space = nm_ring_space(tx);
			if (lim > space)
				lim = space;
			if (lim > 0) {
				fill_ring(t, tx, 0, (unsigned)lim, &seq);
				sent += lim;
				events++;
				if (G.rate > 0)
					tosend -= (int64_t)lim;
			}
			if (ioctl(d->fd, NIOCTXSYNC, NULL) < 0) {
				LOG("TXSYNC error: %s", strerror(errno));
				t->failed = 1;
				break;
			}
		} else if (received >= sent) {
			break;
		} else if (drain_until == 0) {
			drain_until = now_ns() + 1000000000ULL;	/* 1 s for the last replies */
		} else if (now_ns() > drain_until) {
			break;
		}
		t->ping_sent = sent;
		atomic_store_explicit(&t->pkts, sent, memory_order_relaxed);
		atomic_store_explicit(&t->bytes, sent * (uint64_t)G.pkt_size, memory_order_relaxed);
		atomic_store_explicit(&t->events, events, memory_order_relaxed);

		rv = poll(&pfd, 1, G.rate > 0 ? 1 : 1000);
		if (rv < 0 && errno != EINTR) {
			LOG("poll error: %s", strerror(errno));
			t->failed = 1;
			break;
		}
		if (rv > 0 && (pfd.revents & POLLERR)) {
			LOG("poll error on %s", G.ifname);
			t->failed = 1;
			break;
		}
		if (rv == 0 && G.rate == 0)
			LOG("poll timeout: no reply within 1 s");
		for (int i = d->first_rx_ring; i <= d->last_rx_ring; i++) {
			struct netmap_ring *rx = NETMAP_RXRING(d->nifp, i);
			uint64_t now = now_ns();

			while (!nm_ring_empty(rx)) {
				struct netmap_slot *slot = &rx->slot[rx->head];
				const uint8_t *p = (const uint8_t *)NETMAP_BUF(rx, slot->buf_idx);
				unsigned off = 0;

				if (G.dump)
					dump_frame(p, slot->len, rx, rx->head);
				if (slot->len >= 14)
					off = get16(p + 12) == 0x0800 ? 42 : get16(p + 12) == 0x86dd ? 62 : 0;
				if (off && slot->len >= off + VAR_BYTES) {
					uint64_t ts = (uint64_t)get32(p + off + 4) * 1000000000ULL + get32(p + off + 8);
					if (now >= ts) {
						uint64_t r = now - ts;
						rtt_record(t, r);
						iv_count++;
						iv_sum += r;
						if (r < iv_min)
							iv_min = r;
					}
					received++;
				}
				rx->head = rx->cur = nm_ring_next(rx, rx->head);
			}
		}
		if (now_ns() - last_print >= 1000000000ULL) {
			if (iv_count > 0)
				LOG("count %d RTT: min %d av %d ns", (int)iv_count, (int)iv_min,
				    (int)(iv_sum / iv_count));
			iv_count = iv_sum = 0;
			iv_min = UINT64_MAX;
			last_print = now_ns();
		}
	}
	ioctl(d->fd, NIOCRXSYNC, NULL);	/* give the last slots back to the peer */
	t->toc = now_ns();
	atomic_store(&t->running, 0);
	return NULL;
}

static void *pong_body(void *arg)
{
	struct thr *t = arg;
	struct nmport_d *d = t->d;
	uint64_t n = G.npackets, sent = 0, events = 0, bytes = 0;

	pin(t);
	while (!do_abort && (n == 0 || sent < n)) {
		struct pollfd pfd = { .fd = d->fd, .events = POLLIN };
		struct netmap_ring *tx = NETMAP_TXRING(d->nifp, d->first_tx_ring);
		unsigned txhead, txspace, before;
		int rv = poll(&pfd, 1, 1000);

		if (rv < 0 && errno != EINTR) {
			LOG("poll error: %s", strerror(errno));
			t->failed = 1;
			break;
		}
		if (rv > 0 && (pfd.revents & POLLERR)) {
			LOG("poll error on %s", G.ifname);
			t->failed = 1;
			break;
		}
		if (rv == 0) {
			if (G.no_wait && t->have_tic)
				break;
			continue;
		}
		if (!t->have_tic) {
			t->tic = now_ns();
			t->have_tic = 1;
		}
		txhead = tx->head;
		txspace = nm_ring_space(tx);
		before = txspace;
		for (int i = d->first_rx_ring; i <= d->last_rx_ring; i++) {
			struct netmap_ring *rx = NETMAP_RXRING(d->nifp, i);

			while (!nm_ring_empty(rx) && txspace > 0 && (n == 0 || sent < n)) {
				struct netmap_slot *rs = &rx->slot[rx->head];
				struct netmap_slot *ts = &tx->slot[txhead];
				const uint8_t *src = (const uint8_t *)NETMAP_BUF(rx, rs->buf_idx);
				uint8_t *dst = (uint8_t *)NETMAP_BUF(tx, ts->buf_idx);
				unsigned len = rs->len;

				if (len > tx->nr_buf_size)
					len = tx->nr_buf_size;
				if (G.dump)
					dump_frame(src, (int)len, rx, rx->head);
				memcpy(dst, src, len);
				if (len >= 12) {	/* swap MAC addresses */
					memcpy(dst, src + 6, 6);
					memcpy(dst + 6, src, 6);
				}
				ts->len = (uint16_t)len;
				ts->flags = 0;
				bytes += len;
				txhead = nm_ring_next(tx, txhead);
				txspace--;
				sent++;
				rx->head = rx->cur = nm_ring_next(rx, rx->head);
			}
		}
		if (txspace != before) {
			tx->head = tx->cur = txhead;
			events++;
			ioctl(d->fd, NIOCTXSYNC, NULL);
		}
		atomic_store_explicit(&t->pkts, sent, memory_order_relaxed);
		atomic_store_explicit(&t->bytes, bytes, memory_order_relaxed);
		atomic_store_explicit(&t->events, events, memory_order_relaxed);
	}
	/* let the last replies go out */
	{
		struct netmap_ring *tx = NETMAP_TXRING(d->nifp, d->first_tx_ring);
		uint64_t until = now_ns() + 200000000ULL;	/* at most 0.2 s */
		while (!do_abort && nm_tx_pending(tx) && now_ns() < until) {
			ioctl(d->fd, NIOCTXSYNC, NULL);
			usleep(20);
		}
	}
	t->toc = now_ns();
	atomic_store(&t->running, 0);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Main thread                                                         */
/* ------------------------------------------------------------------ */

static void close_all(void)
{
	for (int i = G.nthreads - 1; i >= 0; i--) {
		if (thr[i].d != NULL) {
			nmport_close(thr[i].d);
			thr[i].d = NULL;
		}
		if (thr[i].filled != NULL) {
			for (int r = 0; r < 64 && thr[i].filled[r]; r++)
				free(thr[i].filled[r]);
			free(thr[i].filled);
		}
		free(thr[i].frame);
		free(thr[i].rtt);
	}
}

static void fail_open(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail_open(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn_prog(fmt, ap);
	va_end(ap);
	close_all();
	exit(1);
}

static void apply_ring_conf(struct nmreq_register *reg)
{
	unsigned v[4] = { 0, 0, 0, 0 };
	int n = 0;
	const char *s = G.ring_conf;

	if (s == NULL || *s == '\0')
		return;
	while (*s && n < 4) {
		char *end;
		unsigned long x = strtoul(s, &end, 10);
		if (end == s || x > 65535 || (*end != ',' && *end != '\0'))
			die("-C %s: expected tx_slots[,rx_slots[,tx_rings[,rx_rings]]]", G.ring_conf);
		v[n++] = (unsigned)x;
		s = *end ? end + 1 : end;
	}
	if (*s != '\0')
		die("-C %s: at most four numbers", G.ring_conf);
	reg->nr_tx_slots = v[0];
	reg->nr_rx_slots = n > 1 ? v[1] : v[0];
	if (n > 2) {
		reg->nr_tx_rings = (uint16_t)v[2];
		reg->nr_rx_rings = (uint16_t)(n > 3 ? v[3] : v[2]);
	}
	if (G.verbose)
		LOG("txr %d txd %d rxr %d rxd %d", reg->nr_tx_rings, reg->nr_tx_slots,
		    reg->nr_rx_rings, reg->nr_rx_slots);
}

static void print_rings(struct nmport_d *d, int id)
{
	for (int tx = 1; tx >= 0; tx--) {
		int first = tx ? d->first_tx_ring : d->first_rx_ring;
		int last = tx ? d->last_tx_ring : d->last_rx_ring;
		for (int i = first; i <= last; i++) {
			struct netmap_ring *r = tx ? NETMAP_TXRING(d->nifp, i) : NETMAP_RXRING(d->nifp, i);
			uint32_t lo = UINT32_MAX, hi = 0;
			for (unsigned k = 0; k < r->num_slots; k++) {
				uint32_t b = r->slot[k].buf_idx;
				if (b < lo) lo = b;
				if (b > hi) hi = b;
			}
			LOG("thread %d %s%d: %u slots of %u bytes, buffers %u..%u, region %u",
			    id, tx ? "TX" : "RX", i, r->num_slots, r->nr_buf_size, lo, hi,
			    d->reg.nr_mem_id);
		}
	}
}

static void open_ports(void)
{
	char spec[sizeof G.ifname + 8];
	struct nmctx *ctx = nmctx_get();
	struct nmport_d *d;
	int nrings;

	ctx->error = lib_error_cb;
	if (strncmp(G.ifname, "netmap:", 7) == 0 || strncmp(G.ifname, "vale", 4) == 0 ||
	    strcmp(G.ifname, "null") == 0 || strncmp(G.ifname, "null:", 5) == 0)
		snprintf(spec, sizeof spec, "%s", G.ifname);
	else
		snprintf(spec, sizeof spec, "netmap:%s", G.ifname);

	thr = calloc((size_t)G.nthreads, sizeof *thr);
	if (thr == NULL)
		die("out of memory");
	lib_err[0] = '\0';
	d = nmport_prepare(spec);
	if (d == NULL)
		fail_open("cannot open port '%s': %s", G.ifname, lib_err[0] ? lib_err : strerror(errno));
	apply_ring_conf(&d->reg);
	if (G.nthreads > 1) {
		if (d->reg.nr_mode == NR_REG_ALL_NIC || d->reg.nr_mode == NR_REG_DEFAULT)
			d->reg.nr_mode = NR_REG_ONE_NIC;
		else
			fail_open("-p %d: the port must name all its rings", G.nthreads);
		d->reg.nr_ringid = 0;
		if (G.kind == K_RECEIVER)
			d->reg.nr_flags |= NR_NO_TX_POLL;
	}
	if (nmport_open_desc(d) < 0) {
		int e = errno;
		nmport_close(d);
		fail_open("cannot open port '%s': %s", G.ifname, lib_err[0] ? lib_err : strerror(e));
	}
	thr[0].d = d;
	nrings = G.kind == K_RECEIVER ? d->reg.nr_rx_rings : d->reg.nr_tx_rings;
	if (G.nthreads > nrings)
		fail_open("-p %d: port '%s' has only %d %s ring%s", G.nthreads, G.ifname, nrings,
			  G.kind == K_RECEIVER ? "rx" : "tx", nrings == 1 ? "" : "s");
	for (int i = 1; i < G.nthreads; i++) {
		struct nmport_d *c = nmport_clone(d);
		if (c == NULL)
			fail_open("cannot clone port '%s': %s", G.ifname, lib_err[0] ? lib_err : strerror(errno));
		c->reg.nr_ringid = (uint16_t)i;
		if (nmport_open_desc(c) < 0) {
			int e = errno;
			nmport_close(c);
			fail_open("cannot open ring %d of '%s': %s", i, G.ifname,
				  lib_err[0] ? lib_err : strerror(e));
		}
		thr[i].d = c;
	}
	/* the frame must fit in one buffer */
	{
		struct netmap_ring *r = G.kind == K_RECEIVER
			? NETMAP_RXRING(d->nifp, d->first_rx_ring)
			: NETMAP_TXRING(d->nifp, d->first_tx_ring);
		unsigned bs = r->nr_buf_size;
		if (G.pcap_file != NULL) {
			if (pcap_max_len > 64 * bs)
				fail_open("-P %s: a %u-byte frame is above the port's maximum of %u bytes "
					  "(64 slots of %u)", G.pcap_file, pcap_max_len, 64 * bs, bs);
		} else if (G.frags == 1 && (unsigned)G.pkt_size > bs) {
			fail_open("-l %d: length above the port's maximum of %u bytes "
				  "(one buffer; -F sends longer frames in several)", G.pkt_size, bs);
		} else if (G.frags > 1 && ((unsigned)template_piece() > bs ||
			   (unsigned)(G.pkt_size - (G.frags - 1) * template_piece()) > bs)) {
			fail_open("-l %d -F %d: a slot would hold more than the port's %u-byte buffers",
				  G.pkt_size, G.frags, bs);
		}
	}
	for (int i = 0; i < G.nthreads; i++) {
		struct thr *t = &thr[i];
		int nr = t->d->last_tx_ring - t->d->first_tx_ring + 1;

		t->id = i;
		/* thread i on CPU affinity+i, wrapping over the CPUs in use */
		t->affinity = G.affinity >= 0 ? (G.affinity + i) % (int)sysconf(_SC_NPROCESSORS_ONLN) : -1;
		t->min_space = UINT32_MAX;
		t->filled = calloc(65, sizeof *t->filled);
		if (t->filled == NULL)
			fail_open("out of memory");
		for (int r = 0; r < nr && r < 64; r++) {
			struct netmap_ring *ring = NETMAP_TXRING(t->d->nifp, t->d->first_tx_ring + r);
			t->filled[r] = calloc(ring->num_slots, sizeof(uint32_t));
			if (t->filled[r] == NULL)
				fail_open("out of memory");
		}
		build_template(t);
		if (G.verbose > 1)
			print_rings(t->d, i);
	}
}

static void main_thread(void)
{
	uint64_t prev_pkts = 0, prev_bytes = 0, prev_events = 0, prev_t = now_ns();

	for (;;) {
		uint64_t target = prev_t + (uint64_t)G.report_ms * 1000000ULL, t, usec;
		uint64_t pkts = 0, bytes = 0, events = 0, min_space = 0;
		int running = 0;
		char b1[40], b2[40], b3[40];
		double pps, abs;

		for (;;) {	/* sleep until the next report, or until all threads end */
			int any = 0;
			for (int i = 0; i < G.nthreads; i++)
				any |= atomic_load(&thr[i].running);
			t = now_ns();
			if (!any || t >= target)
				break;
			usleep(t + 10000000ULL < target ? 10000 : (useconds_t)((target - t) / 1000 + 1));
		}
		for (int i = 0; i < G.nthreads; i++) {
			uint32_t ms;
			pkts += atomic_load_explicit(&thr[i].pkts, memory_order_relaxed);
			bytes += atomic_load_explicit(&thr[i].bytes, memory_order_relaxed);
			events += atomic_load_explicit(&thr[i].events, memory_order_relaxed);
			ms = atomic_exchange_explicit(&thr[i].min_space, UINT32_MAX, memory_order_relaxed);
			min_space += ms == UINT32_MAX ? 0 : ms;
			running += atomic_load(&thr[i].running);
		}
		usec = (t - prev_t) / 1000;
		if (usec >= 10000) {
			uint64_t dp = pkts - prev_pkts, db = bytes - prev_bytes, de = events - prev_events;
			pps = (double)dp * 1e6 / (double)usec;
			abs = de ? (double)dp / (double)de : 0;
			LOG("%spps (%spkts %sbps in %llu usec) %.2f avg_batch %d min_space",
			    norm(b1, sizeof b1, pps), norm(b2, sizeof b2, (double)dp),
			    norm(b3, sizeof b3, ((double)db * 8 + (double)dp * G.framing) * 1e6 / (double)usec),
			    (unsigned long long)usec, abs, (int)min_space);
			prev_pkts = pkts;
			prev_bytes = bytes;
			prev_events = events;
			prev_t = t;
		}
		if (running == 0)
			break;
	}
}

static void summary(const char *msg)
{
	uint64_t pkts = 0, bytes = 0, events = 0, tic = 0, toc = 0;
	int have = 0;
	char b1[40], b2[40], b3[40];
	double delta, pps, bw, raw;
	int size;

	for (int i = 0; i < G.nthreads; i++) {
		struct thr *t = &thr[i];
		pkts += atomic_load(&t->pkts);
		bytes += atomic_load(&t->bytes);
		events += atomic_load(&t->events);
		if (!t->have_tic)
			continue;
		if (!have || t->tic < tic)
			tic = t->tic;
		if (!have || t->toc > toc)
			toc = t->toc;
		have = 1;
	}
	if (pkts == 0) {
		printf("%s nothing.\n", msg);
		return;
	}
	delta = have && toc > tic ? (double)(toc - tic) / 1e9 : 0;
	size = (int)(bytes / pkts);
	printf("%s %llu packets %llu bytes %llu events %d bytes each in %.2f seconds.\n", msg,
	       (unsigned long long)pkts, (unsigned long long)bytes, (unsigned long long)events,
	       size, delta);
	if (delta == 0)
		delta = 1e-6;
	pps = (double)pkts / delta;
	bw = 8.0 * (double)bytes / delta;
	raw = (8.0 * (double)bytes + (double)pkts * G.framing) / delta;
	printf("Speed: %spps Bandwidth: %sbps (raw %sbps). Average batch: %.2f pkts\n",
	       norm(b1, sizeof b1, pps), norm(b2, sizeof b2, bw), norm(b3, sizeof b3, raw),
	       events ? (double)pkts / (double)events : 0.0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *s, size_t n, unsigned p)
{
	size_t k = (n * p + 99) / 100;	/* nearest rank */
	return s[k ? k - 1 : 0];
}

static void ping_summary(struct thr *t)
{
	if (t->ping_sent == 0)
		return;
	if (t->rtt_count == 0) {
		LOG("RTT over %llu packets: no reply received", (unsigned long long)t->ping_sent);
		printf("Ping: %llu sent, 0 received\n", (unsigned long long)t->ping_sent);
		return;
	}
	LOG("RTT over %llu packets: min %d av %d ns", (unsigned long long)t->ping_sent,
	    (int)t->rtt_min, (int)(t->rtt_sum / t->rtt_count));
	qsort(t->rtt, t->nrtt, sizeof *t->rtt, cmp_u64);
	printf("Ping: %llu sent, %llu received\n", (unsigned long long)t->ping_sent,
	       (unsigned long long)t->rtt_count);
	printf("RTT (ns): min %llu avg %llu max %llu p50 %llu p90 %llu p99 %llu\n",
	       (unsigned long long)t->rtt_min, (unsigned long long)(t->rtt_sum / t->rtt_count),
	       (unsigned long long)t->rtt_max, (unsigned long long)pct(t->rtt, t->nrtt, 50),
	       (unsigned long long)pct(t->rtt, t->nrtt, 90),
	       (unsigned long long)pct(t->rtt, t->nrtt, 99));
}

int main(int argc, char **argv)
{
	void *(*body)(void *);
	int failed = 0;

	parse_args(argc, argv);
	open_ports();

	printf("%s %s: %d queues, %d threads and %d cpus.\n",
	       G.kind == K_SENDER ? "Sending on" : G.kind == K_RECEIVER ? "Receiving from" : "Working on",
	       G.ifname,
	       G.kind == K_RECEIVER ? thr[0].d->reg.nr_rx_rings : thr[0].d->reg.nr_tx_rings,
	       G.nthreads, G.cpus);
	if (G.kind == K_SENDER || G.func == F_PING)
		printf("%s -> %s (%s -> %s)\n", G.src.text, G.dst.text, G.src_mac_text, G.dst_mac_text);
	fflush(stdout);
	if (G.kind == K_SENDER && G.verbose)
		LOG("Sending %d packets every %llu.%09llu s", G.burst,
		    (unsigned long long)(G.period_ns / 1000000000ULL),
		    (unsigned long long)(G.period_ns % 1000000000ULL));

	catch_stop_signals();

	if (G.wait_link > 0) {
		LOG("Wait %d secs for phy reset", G.wait_link);
		wait_secs(G.wait_link);
		LOG("Ready...");
	}

	switch (G.func) {
	case F_TX: case F_TXSEQ: body = sender_body; break;
	case F_RX: case F_RXSEQ: body = receiver_body; break;
	case F_PING: body = ping_body; break;
	default: body = pong_body; break;
	}
	for (int i = 0; i < G.nthreads; i++) {
		atomic_store(&thr[i].running, 1);
		if (pthread_create(&thr[i].tid, NULL, body, &thr[i]) != 0) {
			LOG("Unable to create thread %d", i);
			atomic_store(&thr[i].running, 0);
			thr[i].failed = 1;
			do_abort = 1;
		} else {
			thr[i].started = 1;
		}
	}
	main_thread();
	for (int i = 0; i < G.nthreads; i++) {
		if (thr[i].started)
			pthread_join(thr[i].tid, NULL);
		if (thr[i].failed) {
			LOG("ouch, thread %d exited with error", i);
			failed = 1;
		}
	}
	fflush(stdout);
	if (G.kind == K_SENDER) {
		summary("Sent");
	} else if (G.kind == K_RECEIVER) {
		summary("Received");
		if (G.func == F_RXSEQ) {
			uint64_t c = 0, l = 0, o = 0;
			for (int i = 0; i < G.nthreads; i++) {
				c += thr[i].seq_checked;
				l += thr[i].seq_lost;
				o += thr[i].seq_ooo;
			}
			printf("Sequence: %llu checked, %llu lost, %llu out of order\n",
			       (unsigned long long)c, (unsigned long long)l, (unsigned long long)o);
		}
	} else if (G.func == F_PING) {
		fflush(stdout);
		ping_summary(&thr[0]);
	} else {
		printf("Pong: %llu replies sent\n", (unsigned long long)atomic_load(&thr[0].pkts));
	}
	fflush(stdout);
	close_all();
	free(thr);
	return failed ? 1 : 0;
}
