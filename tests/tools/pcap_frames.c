/*
 * pcap_frames FILE [-g GAP_US] SPEC...
 *
 * Test helper for the libpcap shim and nmreplay: writes a pcap file
 * (Ethernet) with one frame per SPEC, broadcast, frame k time-stamped
 * 1000 s + k * GAP_US microseconds (default gap 0).
 *   udp:PORT:LEN   IPv4/UDP frame of LEN bytes to port PORT
 *   tcp:PORT:LEN   IPv4/TCP frame of LEN bytes to port PORT
 *   raw:LEN        a frame of ethertype 0x88b5 (local experimental)
 * Payload byte i of frame k is (k * 7 + i) & 0xff, so frames differ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static int build(unsigned char *f, const char *spec, int k)
{
	unsigned port = 0, len = 0, proto = 0;
	char kind[8];

	if (sscanf(spec, "%7[a-z]:", kind) != 1)
		return -1;
	if (strcmp(kind, "raw") == 0) {
		if (sscanf(spec, "raw:%u", &len) != 1 || len < 14)
			return -1;
	} else if (strcmp(kind, "udp") == 0 || strcmp(kind, "tcp") == 0) {
		proto = kind[0] == 'u' ? 17 : 6;
		if (sscanf(spec + 4, "%u:%u", &port, &len) != 2 || len < 60 || port > 65535)
			return -1;
	} else {
		return -1;
	}
	if (len > 65535)
		return -1;
	for (unsigned i = 0; i < len; i++)
		f[i] = (unsigned char)((k * 7 + i) & 0xff);
	memset(f, 0xff, 6);				/* broadcast */
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);	/* local source */
	if (proto == 0) {
		put16(f + 12, 0x88b5);
		return (int)len;
	}
	put16(f + 12, 0x0800);
	unsigned char *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, len - 14);
	ip[8] = 64;
	ip[9] = (unsigned char)proto;
	memcpy(ip + 12, "\x0a\x00\x00\x01", 4);
	memcpy(ip + 16, "\x0a\x00\x00\x02", 4);
	unsigned sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (unsigned)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(ip + 10, ~sum & 0xffff);
	unsigned char *l4 = ip + 20;
	put16(l4, 40000 + (unsigned)k);
	put16(l4 + 2, port);
	if (proto == 17) {
		put16(l4 + 4, len - 34);
		put16(l4 + 6, 0);
	} else {
		memset(l4 + 4, 0, 16);
		l4[12] = 0x50;			/* header length 20 */
		l4[13] = 0x18;			/* PSH ACK */
		put16(l4 + 14, 512);
	}
	return (int)len;
}

int main(int argc, char **argv)
{
	long gap = 0;
	int first = 2;

	if (argc >= 4 && strcmp(argv[2], "-g") == 0) {
		gap = strtol(argv[3], NULL, 10);
		first = 4;
	}
	if (argc <= first) {
		fprintf(stderr, "usage: pcap_frames FILE [-g GAP_US] SPEC...\n");
		return 2;
	}
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *out = dead ? pcap_dump_open(dead, argv[1]) : NULL;
	if (out == NULL) {
		fprintf(stderr, "pcap_frames: %s: %s\n", argv[1], dead ? pcap_geterr(dead) : "pcap_open_dead");
		return 1;
	}
	static unsigned char frame[65536];
	for (int a = first; a < argc; a++) {
		int k = a - first;
		int len = build(frame, argv[a], k);
		if (len < 0) {
			fprintf(stderr, "pcap_frames: bad frame %s\n", argv[a]);
			return 2;
		}
		long long us = 1000000000LL + (long long)k * gap;
		struct pcap_pkthdr h;
		memset(&h, 0, sizeof h);
		h.ts.tv_sec = (time_t)(us / 1000000);
		h.ts.tv_usec = (suseconds_t)(us % 1000000);
		h.caplen = h.len = (bpf_u_int32)len;
		pcap_dump((u_char *)out, &h, frame);
	}
	pcap_dump_close(out);
	pcap_close(dead);
	return 0;
}
