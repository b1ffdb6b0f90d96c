/*
 * pcap_probe - a libpcap program for the tests of libunetmap-pcap.so.
 * It is linked with the shim ahead of libpcap (the other way to use it
 * than LD_PRELOAD), and only calls libpcap's public API.
 *
 *   pcap_probe open DEV
 *       pcap_open_live(); "opened", or "error STATUS: MESSAGE" and exit 1
 *       (STATUS from pcap_create + pcap_activate).
 *   pcap_probe inject DEV N LEN
 *       send N broadcast frames of LEN bytes, alternately with pcap_inject
 *       and pcap_sendpacket; frame k carries k in bytes 14..17 and then
 *       (k + i) & 0xff.  Prints "sent N", and one "frame LEN SUM" line per
 *       frame (SUM: a checksum of its bytes).
 *   pcap_probe capture DEV N FILE [FILTER]
 *       capture N frames (non-blocking, poll() on pcap_get_selectable_fd,
 *       pcap_next_ex), writing them to FILE with pcap_dump; prints "ready"
 *       once activated, one "frame LEN SUM" line per frame, then
 *       "captured N recv R drop D" (pcap_stats).  Gives up after 15 s.
 *   pcap_probe api DEV
 *       checks libpcap's rules on a handle of DEV; prints "ok: ..." or
 *       "FAIL: ..." lines, exit 1 if any failed.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>

static unsigned sum(const unsigned char *p, unsigned len)
{
	unsigned s = 0;
	for (unsigned i = 0; i < len; i++)
		s = s * 31 + p[i];
	return s;
}

static int do_open(const char *dev)
{
	char eb[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_create(dev, eb);
	if (p == NULL) {
		printf("error create: %s\n", eb);
		return 1;
	}
	int st = pcap_activate(p);
	if (st < 0) {
		printf("error %d: %s\n", st, pcap_geterr(p));
		pcap_close(p);
		/* and pcap_open_live gives the same in its buffer */
		if (pcap_open_live(dev, 100, 0, 10, eb) != NULL || eb[0] == '\0') {
			printf("pcap_open_live succeeded or gave no message\n");
			return 2;
		}
		return 1;
	}
	printf("opened\n");
	pcap_close(p);
	return 0;
}

static int do_inject(const char *dev, int n, int len)
{
	char eb[PCAP_ERRBUF_SIZE];
	static unsigned char f[65536];
	pcap_t *p = pcap_open_live(dev, 0, 0, 100, eb);

	if (p == NULL) {
		printf("error: %s\n", eb);
		return 1;
	}
	for (int k = 0; k < n; k++) {
		for (int i = 0; i < len; i++)
			f[i] = (unsigned char)((k + i) & 0xff);
		memset(f, 0xff, 6);
		memcpy(f + 6, "\x02\x00\x00\x00\x00\x02", 6);
		f[12] = 0x88;
		f[13] = 0xb5;
		memcpy(f + 14, &k, sizeof k);
		int r = k % 2 ? pcap_sendpacket(p, f, len) : pcap_inject(p, f, (size_t)len);
		if (r != (k % 2 ? 0 : len)) {
			printf("error: frame %d: %d: %s\n", k, r, pcap_geterr(p));
			return 1;
		}
		printf("frame %d %u\n", len, sum(f, (unsigned)len));
	}
	printf("sent %d\n", n);
	pcap_close(p);
	return 0;
}

static int do_capture(const char *dev, int n, const char *file, const char *filter)
{
	char eb[PCAP_ERRBUF_SIZE];
	struct bpf_program prog;
	struct pcap_stat ps;
	pcap_t *p = pcap_create(dev, eb);
	int got = 0;

	if (p == NULL || pcap_set_snaplen(p, 0) != 0 || pcap_set_timeout(p, 100) != 0 ||
	    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_MICRO) != 0 || pcap_activate(p) != 0) {
		printf("error: %s\n", p ? pcap_geterr(p) : eb);
		return 1;
	}
	if (filter != NULL) {
		if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0 || pcap_setfilter(p, &prog) < 0) {
			printf("error: filter: %s\n", pcap_geterr(p));
			pcap_close(p);
			return 1;
		}
		pcap_freecode(&prog);
	}
	pcap_dumper_t *dump = pcap_dump_open(p, file);
	if (dump == NULL || pcap_setnonblock(p, 1, eb) != 0 || pcap_getnonblock(p, eb) != 1) {
		printf("error: %s\n", pcap_geterr(p));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	struct pollfd pfd = { .fd = pcap_get_selectable_fd(p), .events = POLLIN };
	time_t end = time(NULL) + 15;
	while (got < n && time(NULL) < end) {
		struct pcap_pkthdr *h;
		const u_char *data;
		int r = pcap_next_ex(p, &h, &data);
		if (r < 0) {
			printf("error: pcap_next_ex %d: %s\n", r, pcap_geterr(p));
			return 1;
		}
		if (r == 0) {
			poll(&pfd, 1, 100);
			continue;
		}
		pcap_dump((u_char *)dump, h, data);
		printf("frame %u %u\n", h->len, sum(data, h->caplen));
		got++;
	}
	pcap_dump_close(dump);
	if (pcap_stats(p, &ps) != 0) {
		printf("error: stats: %s\n", pcap_geterr(p));
		return 1;
	}
	printf("captured %d recv %u drop %u\n", got, ps.ps_recv, ps.ps_drop);
	pcap_close(p);
	return got == n ? 0 : 1;
}

static int failures;
#define CHECK(cond, what) do {						\
	if (cond) printf("ok: %s\n", what);				\
	else { printf("FAIL: %s\n", what); failures++; }		\
} while (0)

static int do_api(const char *dev)
{
	char eb[PCAP_ERRBUF_SIZE];
	struct bpf_program prog;
	pcap_t *p = pcap_create(dev, eb);
	int *list, n;

	CHECK(p != NULL, "pcap_create");
	if (p == NULL)
		return 1;
	CHECK(pcap_datalink(p) == PCAP_ERROR_NOT_ACTIVATED, "pcap_datalink before activation");
	CHECK(pcap_snapshot(p) == PCAP_ERROR_NOT_ACTIVATED, "pcap_snapshot before activation");
	CHECK(pcap_dispatch(p, 1, NULL, NULL) == PCAP_ERROR_NOT_ACTIVATED, "pcap_dispatch before activation");
	CHECK(pcap_inject(p, "x", 1) == PCAP_ERROR_NOT_ACTIVATED, "pcap_inject before activation");
	CHECK(pcap_set_tstamp_type(p, PCAP_TSTAMP_ADAPTER) == PCAP_WARNING_TSTAMP_TYPE_NOTSUP,
	      "adapter time stamps not supported");
	CHECK(pcap_set_tstamp_precision(p, 7) == PCAP_ERROR_TSTAMP_PRECISION_NOTSUP, "bad precision");
	CHECK(pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) == 0, "nanosecond precision");
	n = pcap_list_tstamp_types(p, &list);
	CHECK(n == 1 && list[0] == PCAP_TSTAMP_HOST, "time stamp types: host only");
	if (n > 0)
		pcap_free_tstamp_types(list);
	CHECK(pcap_set_snaplen(p, 0) == 0 && pcap_set_promisc(p, 1) == 0 && pcap_set_timeout(p, 50) == 0 &&
	      pcap_set_immediate_mode(p, 1) == 0 && pcap_set_buffer_size(p, 1 << 20) == 0,
	      "settings before activation");
	CHECK(pcap_fileno(p) == -1, "no descriptor before activation");
	CHECK(pcap_activate(p) == 0, "pcap_activate");
	CHECK(pcap_activate(p) == PCAP_ERROR_ACTIVATED, "second pcap_activate");
	CHECK(pcap_set_snaplen(p, 100) == PCAP_ERROR_ACTIVATED, "pcap_set_snaplen after activation");
	CHECK(pcap_snapshot(p) == 262144, "snaplen 0 means 262144");
	CHECK(pcap_datalink(p) == DLT_EN10MB, "link type EN10MB");
	n = pcap_list_datalinks(p, &list);
	CHECK(n == 1 && list[0] == DLT_EN10MB, "one link type");
	if (n > 0)
		pcap_free_datalinks(list);
	CHECK(pcap_set_datalink(p, DLT_EN10MB) == 0 && pcap_set_datalink(p, DLT_RAW) == PCAP_ERROR,
	      "pcap_set_datalink");
	CHECK(pcap_get_tstamp_precision(p) == PCAP_TSTAMP_PRECISION_NANO, "precision kept");
	CHECK(pcap_get_selectable_fd(p) >= 0 && pcap_get_selectable_fd(p) == pcap_fileno(p), "selectable descriptor");
	CHECK(pcap_compile(p, &prog, "udp port", 1, PCAP_NETMASK_UNKNOWN) == -1 && strlen(pcap_geterr(p)) > 0,
	      "a bad filter does not compile");
	CHECK(pcap_compile(p, &prog, "udp port 53", 1, PCAP_NETMASK_UNKNOWN) == 0, "a good one does");
	CHECK(pcap_setfilter(p, &prog) == 0, "pcap_setfilter");
	pcap_freecode(&prog);
	CHECK(pcap_setdirection(p, PCAP_D_IN) == 0, "direction in");
	/* timeout: nothing arrives, pcap_next_ex gives 0 after about 50 ms */
	struct pcap_pkthdr *h;
	const u_char *data;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int r = pcap_next_ex(p, &h, &data);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
	CHECK(r == 0 && ms >= 40 && ms < 1000, "pcap_next_ex times out");
	CHECK(pcap_setnonblock(p, 1, eb) == 0 && pcap_getnonblock(p, eb) == 1, "non-blocking mode");
	clock_gettime(CLOCK_MONOTONIC, &a);
	r = pcap_dispatch(p, -1, NULL, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
	CHECK(r == 0 && ms < 20, "non-blocking pcap_dispatch returns at once");
	pcap_breakloop(p);
	CHECK(pcap_loop(p, -1, NULL, NULL) == PCAP_ERROR_BREAK, "pcap_breakloop ends pcap_loop");
	CHECK(pcap_inject(p, "", 0) == PCAP_ERROR, "empty packet refused");
	struct pcap_stat ps;
	CHECK(pcap_stats(p, &ps) == 0 && ps.ps_recv == 0 && ps.ps_drop == 0, "pcap_stats");
	pcap_close(p);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "open") == 0)
		return do_open(argv[2]);
	if (argc == 5 && strcmp(argv[1], "inject") == 0)
		return do_inject(argv[2], atoi(argv[3]), atoi(argv[4]));
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "capture") == 0)
		return do_capture(argv[2], atoi(argv[3]), argv[4], argc == 6 ? argv[5] : NULL);
	if (argc == 3 && strcmp(argv[1], "api") == 0)
		return do_api(argv[2]);
	fprintf(stderr, "usage: pcap_probe open|inject|capture|api DEV ...\n");
	return 2;
}
