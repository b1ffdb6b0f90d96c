/*
 * pcap_writer FILE LEN...
 *
 * Test helper for pkt-gen -P: writes a pcap file (Ethernet link type) with
 * one frame per LEN argument.  Frame k's byte i is (k * 31 + i) & 0xff,
 * after a broadcast destination MAC, so a receiver can tell the frames
 * and their bytes apart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: pcap_writer FILE LEN...\n");
		return 2;
	}
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *out = dead ? pcap_dump_open(dead, argv[1]) : NULL;
	if (out == NULL) {
		fprintf(stderr, "pcap_writer: %s: %s\n", argv[1], dead ? pcap_geterr(dead) : "pcap_open_dead");
		return 1;
	}
	static unsigned char frame[65535];
	for (int k = 2; k < argc; k++) {
		long len = strtol(argv[k], NULL, 10);
		if (len < 14 || len > 65535) {
			fprintf(stderr, "pcap_writer: bad length %s\n", argv[k]);
			return 2;
		}
		for (long i = 0; i < len; i++)
			frame[i] = (unsigned char)(((k - 2) * 31 + i) & 0xff);
		memset(frame, 0xff, 6);
		struct pcap_pkthdr h;
		memset(&h, 0, sizeof h);
		h.caplen = h.len = (bpf_u_int32)len;
		pcap_dump((u_char *)out, &h, frame);
	}
	pcap_dump_close(out);
	pcap_close(dead);
	return 0;
}
