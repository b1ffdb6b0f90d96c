/*
 * nmstat - live view of the counters of every unetmap switch, port and pipe.
 *
 *     nmstat [-1|--once] [-j|--json] [-d|--delay secs] [-c|--count n]
 *
 * Like top(1): the table is redrawn every interval with the packets, bytes
 * and drops of every port per direction and the rates over the last
 * interval.  VALE switches get a row of their own (the sum of their
 * members), followed by their members; then pipe ends, persistent ports
 * that are on no switch, and null ports.
 *
 * It reads the counters unetmap keeps in its control file, through
 * unetmap_port_list() (<unetmap/stats.h>): the control lock is held for
 * the copy only, and no ring is touched, so the data path is undisturbed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <unetmap/stats.h>

#define PROG		"nmstat"
#define MAX_PORTS	1024	/* more than the control file holds (256) */

#include "tool_util.h"

static const char usage_text[] =
"Usage: " PROG " [-1|--once] [-j|--json] [-d|--delay secs] [-c|--count n]\n"
"\n"
"Show the packets, bytes and drops of every unetmap switch, port and pipe,\n"
"per direction, with the rates over the last interval, refreshed like top(1).\n"
"\n"
"  -1, --once        print one table (or JSON document) and exit\n"
"  -j, --json        print JSON, one document per line, instead of the table\n"
"  -d, --delay secs  interval between refreshes, and over which rates are\n"
"                    measured (default 1; 0 with --once: no rates, no wait)\n"
"  -c, --count n     exit after n refreshes (default: until SIGINT)\n"
"  -h, --help        this help\n"
"\n"
"The state directory is $UNETMAP_DIR (default /dev/shm/unetmap).  TX counts\n"
"what the port's TX rings sent, RX what was delivered to its RX rings; drops\n"
"are frames the switch refused on TX, or found no room for on RX.\n";

struct sample {
	struct unetmap_port_stats p[MAX_PORTS];
	int n;
	double t;
};

struct counters {
	uint64_t pkts, bytes, drops;
	double pps, bps;	/* NAN: unknown */
};

struct row {
	char name[80];
	const char *type;
	char sw[64];		/* switch name, if a member (or a switch row) */
	const struct unetmap_port_stats *st;	/* NULL for a switch row */
	int members;		/* switch rows */
	struct counters tx, rx;
};

static int state_dir_exists(void)
{
	const char *d = getenv("UNETMAP_DIR");

	return access(d && *d ? d : "/dev/shm/unetmap", F_OK) == 0;
}

static void take(struct sample *s)
{
	s->t = now_s();
	if (!state_dir_exists()) {	/* nothing there yet: do not create it */
		s->n = 0;
		return;
	}
	s->n = unetmap_port_list(s->p, MAX_PORTS);
	if (s->n < 0)
		die("cannot read the port counters: %s", strerror(errno));
}

static const struct unetmap_port_stats *find_prev(const struct sample *prev, const struct unetmap_port_stats *p)
{
	if (prev == NULL)
		return NULL;
	for (int i = 0; i < prev->n; i++)
		if (strcmp(prev->p[i].name, p->name) == 0)
			return &prev->p[i];
	return NULL;
}

static double rate(uint64_t cur, uint64_t old, double dt)
{
	return cur >= old ? (cur - old) / dt : 0;	/* the port was recreated */
}

static const char *type_of(const struct unetmap_port_stats *p)
{
	if (p->flags & UNETMAP_PORT_ATTACHED)
		return "vale";
	if (strchr(p->name, '{'))
		return "pipe-m";
	if (strchr(p->name, '}'))
		return "pipe-s";
	if (p->flags & UNETMAP_PORT_PERSISTENT)
		return "vale-p";
	if (strncmp(p->name, "null", 4) == 0)
		return "null";
	return "port";
}

static int rank(const char *type)
{
	if (strcmp(type, "switch") == 0 || strcmp(type, "vale") == 0)
		return 0;
	if (strncmp(type, "pipe", 4) == 0)
		return 1;
	if (strcmp(type, "vale-p") == 0)
		return 2;
	return 3;
}

static int cmp_rows(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int rx = rank(x->type), ry = rank(y->type), c;

	if (rx != ry)
		return rx - ry;
	if (rx == 0) {
		if ((c = strcmp(x->sw, y->sw)) != 0)
			return c;
		if ((x->st == NULL) != (y->st == NULL))	/* the switch first */
			return x->st == NULL ? -1 : 1;
		if (x->st && y->st && x->st->port_idx != y->st->port_idx)
			return x->st->port_idx < y->st->port_idx ? -1 : 1;
	}
	return strcmp(x->name, y->name);
}

/* one row per port, one per switch; returns the number of rows */
static int build_rows(const struct sample *cur, const struct sample *prev, struct row *rows)
{
	double dt = prev ? cur->t - prev->t : 0;
	int n = 0, nports = cur->n;

	for (int i = 0; i < nports; i++) {
		const struct unetmap_port_stats *p = &cur->p[i];
		const struct unetmap_port_stats *o = dt > 0 ? find_prev(prev, p) : NULL;
		struct row *r = &rows[n++];

		memset(r, 0, sizeof *r);
		snprintf(r->name, sizeof r->name, "%s", p->name);
		r->type = type_of(p);
		r->st = p;
		if (p->flags & UNETMAP_PORT_ATTACHED) {
			size_t l = strcspn(p->name, ":");
			snprintf(r->sw, sizeof r->sw, "%.*s", (int)l, p->name);
		}
		r->tx = (struct counters){ p->tx_packets, p->tx_bytes, p->tx_drops, NAN, NAN };
		r->rx = (struct counters){ p->rx_packets, p->rx_bytes, p->rx_drops, NAN, NAN };
		if (dt > 0) {
			r->tx.pps = o ? rate(p->tx_packets, o->tx_packets, dt) : 0;
			r->tx.bps = o ? 8 * rate(p->tx_bytes, o->tx_bytes, dt) : 0;
			r->rx.pps = o ? rate(p->rx_packets, o->rx_packets, dt) : 0;
			r->rx.bps = o ? 8 * rate(p->rx_bytes, o->rx_bytes, dt) : 0;
		}
	}
	/* switch rows: the sums of their members */
	for (int i = 0; i < nports; i++) {
		struct row *m = &rows[i], *s = NULL;
		if (m->sw[0] == '\0')
			continue;
		for (int j = nports; j < n; j++)
			if (strcmp(rows[j].sw, m->sw) == 0)
				s = &rows[j];
		if (s == NULL) {
			char sw[sizeof m->sw]; /* rows[n] is never *m, but the compiler cannot tell */
			memcpy(sw, m->sw, sizeof sw);
			s = &rows[n++];
			memset(s, 0, sizeof *s);
			snprintf(s->name, sizeof s->name, "%s", sw);
			snprintf(s->sw, sizeof s->sw, "%s", sw);
			s->type = "switch";
			s->tx.pps = s->tx.bps = s->rx.pps = s->rx.bps = dt > 0 ? 0 : NAN;
		}
		s->members++;
		s->tx.pkts += m->tx.pkts; s->tx.bytes += m->tx.bytes; s->tx.drops += m->tx.drops;
		s->rx.pkts += m->rx.pkts; s->rx.bytes += m->rx.bytes; s->rx.drops += m->rx.drops;
		if (dt > 0) {
			s->tx.pps += m->tx.pps; s->tx.bps += m->tx.bps;
			s->rx.pps += m->rx.pps; s->rx.bps += m->rx.bps;
		}
	}
	qsort(rows, n, sizeof *rows, cmp_rows);
	return n;
}

static const char *human(char *buf, size_t sz, double v)
{
	const char *u = "\0KMGTPE";

	if (isnan(v))
		return "-";
	if (v < 100000) {
		snprintf(buf, sz, "%.0f", v);
		return buf;
	}
	while (v >= 1000 && u[1]) {
		v /= 1000;
		u++;
	}
	snprintf(buf, sz, "%.1f%c", v, *u);
	return buf;
}

static void print_table(const struct row *rows, int n, double dt)
{
	char b[10][32];

	printf("unetmap ports: %d (state directory %s)%s", n,
	       getenv("UNETMAP_DIR") ? getenv("UNETMAP_DIR") : "/dev/shm/unetmap", dt > 0 ? "" : "\n");
	if (dt > 0)
		printf(", rates over %.2f s\n", dt);
	printf("%-24s %-6s | %8s %8s %6s %8s %8s | %8s %8s %6s %8s %8s\n", "NAME", "TYPE",
	       "TX-PKTS", "TX-BYTES", "TX-DRP", "TX-PPS", "TX-BPS",
	       "RX-PKTS", "RX-BYTES", "RX-DRP", "RX-PPS", "RX-BPS");
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		char name[100];

		if (r->st && r->sw[0])
			snprintf(name, sizeof name, "  %.64s", r->name);
		else if (r->st == NULL)
			snprintf(name, sizeof name, "%.64s (%d)", r->name, r->members);
		else
			snprintf(name, sizeof name, "%.64s", r->name);
		printf("%-24s %-6s | %8s %8s %6s %8s %8s | %8s %8s %6s %8s %8s\n", name, r->type,
		       human(b[0], 32, (double)r->tx.pkts), human(b[1], 32, (double)r->tx.bytes),
		       human(b[2], 32, (double)r->tx.drops), human(b[3], 32, r->tx.pps), human(b[4], 32, r->tx.bps),
		       human(b[5], 32, (double)r->rx.pkts), human(b[6], 32, (double)r->rx.bytes),
		       human(b[7], 32, (double)r->rx.drops), human(b[8], 32, r->rx.pps), human(b[9], 32, r->rx.bps));
	}
	if (n == 0)
		printf("(no ports)\n");
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_dir(const char *key, const struct counters *c)
{
	printf("\"%s\":{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"drops\":%" PRIu64, key, c->pkts, c->bytes,
	       c->drops);
	if (!isnan(c->pps))
		printf(",\"pps\":%.1f,\"bps\":%.1f", c->pps, c->bps);
	putchar('}');
}

static void print_json(const struct row *rows, int n, double dt)
{
	int first = 1;

	printf("{\"interval\":%.3f,\"ports\":[", dt);
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		const struct unetmap_port_stats *p = r->st;
		if (p == NULL)
			continue;
		printf("%s{\"name\":", first ? "" : ",");
		first = 0;
		json_str(r->name);
		printf(",\"type\":\"%s\",", r->type);
		if (r->sw[0]) {
			printf("\"switch\":");
			json_str(r->sw);
			printf(",\"bridge_idx\":%u,\"port_idx\":%u,", p->bridge_idx, p->port_idx);
		}
		printf("\"persistent\":%s,\"mem_id\":%u,\"tx_rings\":%u,\"rx_rings\":%u,\"tx_slots\":%u,\"rx_slots\":%u,",
		       (p->flags & UNETMAP_PORT_PERSISTENT) ? "true" : "false", p->mem_id, p->tx_rings, p->rx_rings,
		       p->tx_slots, p->rx_slots);
		json_dir("tx", &r->tx);
		putchar(',');
		json_dir("rx", &r->rx);
		putchar('}');
	}
	printf("],\"switches\":[");
	first = 1;
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		if (r->st != NULL)
			continue;
		printf("%s{\"name\":", first ? "" : ",");
		first = 0;
		json_str(r->name);
		printf(",\"ports\":%d,", r->members);
		json_dir("tx", &r->tx);
		putchar(',');
		json_dir("rx", &r->rx);
		putchar('}');
	}
	printf("]}\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "once", no_argument, NULL, '1' },
		{ "json", no_argument, NULL, 'j' },
		{ "delay", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct sample sa, sb;
	static struct row rows[2 * MAX_PORTS];
	struct sample *cur = &sa, *prev = NULL;
	int once = 0, json = 0, ch, tty = isatty(STDOUT_FILENO);
	double delay = 1;
	long count = -1;
	char *end;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":1jd:c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case '1': once = 1; break;
		case 'j': json = 1; break;
		case 'd':
			errno = 0;
			delay = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(delay >= 0 && delay <= 3600))
				die("-d %s: expected a number of seconds in [0, 3600]", optarg);
			break;
		case 'c':
			errno = 0;
			count = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || count < 1)
				die("-c %s: expected a positive integer", optarg);
			break;
		case 'h': fputs(usage_text, stdout); return 0;
		case ':': die("option %s needs an argument (see " PROG " -h)", argv[optind - 1]);
		default:
			if (optopt)
				die("unknown option -%c (see " PROG " -h)", optopt);
			die("unknown option %s (see " PROG " -h)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die("unexpected argument '%s' (see " PROG " -h)", argv[optind]);
	if (delay == 0 && !once)
		die("-d 0 needs --once (a live view needs an interval)");
	if (once)
		count = 1;

	catch_stop_signals();

	take(cur);
	if (once && delay > 0) {	/* two samples, for the rates */
		usleep((useconds_t)(delay * 1e6));
		prev = cur;
		cur = &sb;
		take(cur);
	}
	for (long k = 0; !do_abort; k++) {
		int n = build_rows(cur, prev, rows);
		double dt = prev ? cur->t - prev->t : 0;

		if (json) {
			print_json(rows, n, dt);
		} else {
			if (tty && !once)
				fputs("\033[H\033[2J", stdout);
			print_table(rows, n, dt);
		}
		fflush(stdout);
		if (count > 0 && k + 1 >= count)
			break;
		/* sleep in small steps so that SIGINT ends it promptly */
		for (double t = 0; t < delay && !do_abort; t += 0.05)
			usleep(50000);
		if (do_abort)
			break;
		prev = cur;
		cur = cur == &sa ? &sb : &sa;
		take(cur);
	}
	return 0;
}
