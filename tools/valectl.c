/*
 * valectl - manage VALE switches and persistent VALE ports (unetmap).
 *
 * Same command line as netmap's valectl(8):
 *
 *   valectl                     list every port of every switch
 *   valectl -l valeS:P          bridge and port indices of one port
 *   valectl -n NAME [-C cfg] [-m memid]   create a persistent port
 *   valectl -r NAME             remove a persistent port
 *   valectl -a valeS:NAME       attach a port or an interface to switch valeS
 *   valectl -h valeS:IFNAME     attach an interface with its host rings
 *   valectl -d valeS:NAME       detach it
 *   valectl -g NAME             port geometry (NETMAP_REQ_PORT_INFO_GET)
 *   valectl -p/-P NAME          start/stop polling (NIC ports only)
 *   -C tx_slots[,rx_slots[,tx_rings[,rx_rings]]]   ring configuration
 *   -m MEMID                    memory region (number, or a port name whose
 *                               region to share)
 *   -v                          more output; with a listing, the per-port
 *                               counters (unetmap extension)
 *
 * Everything goes through NIOCCTRL on /dev/netmap, except the counters,
 * which come from unetmap_port_stats() (<unetmap/stats.h>).  Attaching an
 * interface starts the process that forwards its frames (the library does
 * that on VALE_ATTACH; see docs/NIC.md); -v shows its pid.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <net/netmap.h>
#include <net/netmap_user.h>
#include <unetmap/stats.h>

static int verbose;

struct args {
	const char *name;
	const char *config;
	const char *mem_id;
	uint16_t reqtype;
	uint32_t mode;
};

static void usage(int code)
{
	fprintf(stderr,
	    "usage: valectl [-v]                      list all VALE ports\n"
	    "       valectl -l valeS:P [-v]           bridge/port index of a port\n"
	    "       valectl -n NAME [-C cfg] [-m id]  create a persistent port\n"
	    "       valectl -r NAME                   remove a persistent port\n"
	    "       valectl -a valeS:NAME [-C cfg] [-m id]  attach NAME (port or interface) to valeS\n"
	    "       valectl -h valeS:IFNAME           attach an interface with its host rings\n"
	    "       valectl -d valeS:NAME             detach\n"
	    "       valectl -g NAME                   port information\n"
	    "       valectl -p NAME [-C mode,cpu,ncpu] / -P NAME   polling on/off\n"
	    "  cfg: tx_slots[,rx_slots[,tx_rings[,rx_rings]]]\n");
	exit(code);
}

static void parse_ring_config(const char *conf, uint32_t *tx_slots, uint32_t *rx_slots,
			      uint16_t *tx_rings, uint16_t *rx_rings)
{
	*tx_slots = *rx_slots = 0;
	*tx_rings = *rx_rings = 0;
	if (conf == NULL || *conf == '\0')
		return;
	char *copy = strdup(conf), *save = NULL;
	int i = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), i++) {
		long v = strtol(tok, NULL, 0);
		if (v < 0)
			v = 0;
		switch (i) {
		case 0: *tx_slots = *rx_slots = (uint32_t)v; break;
		case 1: *rx_slots = (uint32_t)v; break;
		case 2: *tx_rings = *rx_rings = (uint16_t)v; break;
		case 3: *rx_rings = (uint16_t)v; break;
		default: fprintf(stderr, "ignored config: %s\n", tok); break;
		}
	}
	free(copy);
}

static int parse_poll_config(const char *conf, struct nmreq_vale_polling *p)
{
	if (conf == NULL || *conf == '\0') {
		fprintf(stderr, "polling needs -C mode,first_cpu[,ncpus]\n");
		return -1;
	}
	char *copy = strdup(conf), *save = NULL;
	int i = 0, rc = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), i++) {
		long v = strtol(tok, NULL, 0);
		if (i == 0)
			p->nr_mode = v ? NETMAP_POLLING_MODE_MULTI_CPU : NETMAP_POLLING_MODE_SINGLE_CPU;
		else if (i == 1)
			p->nr_first_cpu_id = (uint32_t)v;
		else if (i == 2 && p->nr_mode == NETMAP_POLLING_MODE_MULTI_CPU)
			p->nr_num_polling_cpus = (uint32_t)v;
		else {
			fprintf(stderr, "too many numbers in '%s'\n", conf);
			rc = -1;
		}
	}
	if (p->nr_num_polling_cpus == 0)
		p->nr_num_polling_cpus = 1;
	free(copy);
	return rc;
}

static void init_header(struct nmreq_header *h, const char *name, uint16_t reqtype, void *body)
{
	memset(h, 0, sizeof *h);
	h->nr_version = NETMAP_API;
	h->nr_reqtype = reqtype;
	if (name)
		snprintf(h->nr_name, sizeof h->nr_name, "%s", name);
	h->nr_body = (uintptr_t)body;
}

/* -m: a number, or a port ("netmap:" optional) whose memory region to use. */
static int parse_mem_id(int fd, const char *s)
{
	if (s == NULL)
		return 0;
	if (isdigit((unsigned char)*s)) {
		long v = strtol(s, NULL, 0);
		if (v < 0 || v > 0xffff) {
			fprintf(stderr, "invalid memory id '%s'\n", s);
			return -1;
		}
		return (int)v;
	}
	if (strncmp(s, "netmap:", 7) == 0)
		s += 7;
	char port[NETMAP_REQ_IFNAMSIZ];
	snprintf(port, sizeof port, "%s", s);
	port[strcspn(port, "@/")] = '\0';
	struct nmreq_port_info_get info;
	struct nmreq_header h;
	memset(&info, 0, sizeof info);
	init_header(&h, port, NETMAP_REQ_PORT_INFO_GET, &info);
	if (ioctl(fd, NIOCCTRL, &h) < 0) {
		fprintf(stderr, "cannot find the memory region of '%s': %s\n", s, strerror(errno));
		return -1;
	}
	return info.nr_mem_id;
}

static void print_counters(const struct unetmap_port_stats *st)
{
	printf("    tx %" PRIu64 " packets %" PRIu64 " bytes %" PRIu64 " drops"
	       "  rx %" PRIu64 " packets %" PRIu64 " bytes %" PRIu64 " drops\n",
	       st->tx_packets, st->tx_bytes, st->tx_drops,
	       st->rx_packets, st->rx_bytes, st->rx_drops);
	if (st->flags & UNETMAP_PORT_NIC) {
		if (st->agent_pid)
			printf("    interface, forwarded by agent pid %" PRIu32 "\n", st->agent_pid);
		else
			printf("    interface, no agent running\n");
	}
	if (verbose > 1)
		printf("    mem_id %u tx_rings %u rx_rings %u tx_slots %u rx_slots %u%s\n",
		       st->mem_id, st->tx_rings, st->rx_rings, st->tx_slots, st->rx_slots,
		       (st->flags & UNETMAP_PORT_PERSISTENT) ? " persistent" : "");
}

/* Every port of every switch, in netmap's format. */
static int list_all(int fd)
{
	struct nmreq_vale_list list;
	struct nmreq_header h;
	memset(&list, 0, sizeof list);
	for (;;) {
		init_header(&h, NULL, NETMAP_REQ_VALE_LIST, &list);
		if (ioctl(fd, NIOCCTRL, &h) < 0) {
			if (errno == ENOENT)
				return 0;
			fprintf(stderr, "failed to list all: %s\n", strerror(errno));
			return 1;
		}
		struct unetmap_port_stats st;
		int have_stats = unetmap_vale_port_stats(list.nr_bridge_idx, list.nr_port_idx, &st) == 0;
		/* netmap returns the listed port's name in the header */
		const char *name = h.nr_name[0] ? h.nr_name : have_stats ? st.name : "?";
		printf("%s bridge_idx %" PRIu16 " port_idx %" PRIu32 "\n", name,
		       list.nr_bridge_idx, list.nr_port_idx);
		if (verbose && have_stats)
			print_counters(&st);
		list.nr_port_idx++;
	}
}

/* the ring geometry of a port (created with -n, or asked for with -g) */
static void print_geometry(uint32_t tx_slots, uint32_t rx_slots, uint16_t tx_rings,
			   uint16_t rx_rings, uint16_t mem_id)
{
	printf("tx_slots:   %" PRIu32 "\n", tx_slots);
	printf("rx_slots:   %" PRIu32 "\n", rx_slots);
	printf("tx_rings:   %" PRIu16 "\n", tx_rings);
	printf("rx_rings:   %" PRIu16 "\n", rx_rings);
	printf("mem_id:     %" PRIu16 "\n", mem_id);
}

static int run(const struct args *a)
{
	struct nmreq_header h;
	struct nmreq_vale_attach attach;
	struct nmreq_vale_detach detach;
	struct nmreq_vale_newif newif;
	struct nmreq_vale_list list;
	struct nmreq_vale_polling polling;
	struct nmreq_port_info_get info;
	const char *action = "";
	int mem_id;

	int fd = open("/dev/netmap", O_RDWR);
	if (fd < 0) {
		perror("/dev/netmap");
		return 1;
	}
	init_header(&h, a->name, a->reqtype, NULL);
	switch (a->reqtype) {
	case NETMAP_REQ_VALE_LIST:
		if (a->name == NULL) {
			int rc = list_all(fd);
			close(fd);
			return rc;
		}
		memset(&list, 0, sizeof list);
		h.nr_body = (uintptr_t)&list;
		action = "list";
		break;
	case NETMAP_REQ_VALE_NEWIF:
		memset(&newif, 0, sizeof newif);
		parse_ring_config(a->config, &newif.nr_tx_slots, &newif.nr_rx_slots,
				  &newif.nr_tx_rings, &newif.nr_rx_rings);
		if ((mem_id = parse_mem_id(fd, a->mem_id)) < 0)
			goto fail_quiet;
		newif.nr_mem_id = (uint16_t)mem_id;
		h.nr_body = (uintptr_t)&newif;
		action = "create";
		break;
	case NETMAP_REQ_VALE_DELIF:
		action = "remove";  /* no body */
		break;
	case NETMAP_REQ_VALE_ATTACH:
		memset(&attach, 0, sizeof attach);
		attach.reg.nr_mode = a->mode;
		parse_ring_config(a->config, &attach.reg.nr_tx_slots, &attach.reg.nr_rx_slots,
				  &attach.reg.nr_tx_rings, &attach.reg.nr_rx_rings);
		if ((mem_id = parse_mem_id(fd, a->mem_id)) < 0)
			goto fail_quiet;
		attach.reg.nr_mem_id = (uint16_t)mem_id;
		h.nr_body = (uintptr_t)&attach;
		action = "attach";
		break;
	case NETMAP_REQ_VALE_DETACH:
		memset(&detach, 0, sizeof detach);
		h.nr_body = (uintptr_t)&detach;
		action = "detach";
		break;
	case NETMAP_REQ_VALE_POLLING_ENABLE:
	case NETMAP_REQ_VALE_POLLING_DISABLE:
		memset(&polling, 0, sizeof polling);
		if (a->reqtype == NETMAP_REQ_VALE_POLLING_ENABLE &&
		    parse_poll_config(a->config, &polling) < 0)
			goto fail_quiet;
		h.nr_body = (uintptr_t)&polling;
		action = a->reqtype == NETMAP_REQ_VALE_POLLING_ENABLE ? "enable polling on"
								     : "disable polling on";
		break;
	case NETMAP_REQ_PORT_INFO_GET:
		memset(&info, 0, sizeof info);
		h.nr_body = (uintptr_t)&info;
		action = "obtain info for";
		break;
	}

	int rc = ioctl(fd, NIOCCTRL, &h);
	if (rc < 0) {
		fprintf(stderr, "failed to %s %s: %s\n", action, a->name ? a->name : "", strerror(errno));
		goto fail_quiet;
	}
	switch (a->reqtype) {
	case NETMAP_REQ_VALE_NEWIF:
		if (verbose) {
			print_geometry(newif.nr_tx_slots, newif.nr_rx_slots, newif.nr_tx_rings,
				       newif.nr_rx_rings, newif.nr_mem_id);
		}
		break;
	case NETMAP_REQ_VALE_ATTACH:
		if (verbose)
			printf("port_index: %" PRIu32 "\n", attach.port_index);
		break;
	case NETMAP_REQ_VALE_DETACH:
		if (verbose)
			printf("port_index: %" PRIu32 "\n", detach.port_index);
		break;
	case NETMAP_REQ_VALE_LIST:
		printf("bridge_idx: %" PRIu16 "\n", list.nr_bridge_idx);
		printf("port_idx:   %" PRIu32 "\n", list.nr_port_idx);
		if (verbose) {
			struct unetmap_port_stats st;
			if (unetmap_port_stats(a->name, &st) == 0)
				print_counters(&st);
		}
		break;
	case NETMAP_REQ_PORT_INFO_GET:
		printf("memsize:    %" PRIu64 "\n", info.nr_memsize);
		print_geometry(info.nr_tx_slots, info.nr_rx_slots, info.nr_tx_rings,
			       info.nr_rx_rings, info.nr_mem_id);
		break;
	}
	close(fd);
	return 0;

fail_quiet:
	close(fd);
	return 1;
}

int main(int argc, char **argv)
{
	struct args a = { NULL, NULL, NULL, 0, NR_REG_ALL_NIC };
	int ch;

	while ((ch = getopt(argc, argv, "d:a:h:g:l:n:r:C:p:P:m:v")) != -1) {
		switch (ch) {
		case 'd': a.reqtype = NETMAP_REQ_VALE_DETACH; a.name = optarg; break;
		case 'a': a.reqtype = NETMAP_REQ_VALE_ATTACH; a.mode = NR_REG_ALL_NIC; a.name = optarg; break;
		case 'h': a.reqtype = NETMAP_REQ_VALE_ATTACH; a.mode = NR_REG_NIC_SW; a.name = optarg; break;
		case 'n': a.reqtype = NETMAP_REQ_VALE_NEWIF; a.name = optarg; break;
		case 'r': a.reqtype = NETMAP_REQ_VALE_DELIF; a.name = optarg; break;
		case 'g': a.reqtype = NETMAP_REQ_PORT_INFO_GET; a.name = optarg; break;
		case 'l':
			a.reqtype = NETMAP_REQ_VALE_LIST;
			a.name = optarg;
			if (strncmp(a.name, NM_BDG_NAME, strlen(NM_BDG_NAME)) != 0) {
				fprintf(stderr, "invalid vale port name: '%s'\n", a.name);
				usage(1);
			}
			break;
		case 'C': a.config = optarg; break;
		case 'p': a.reqtype = NETMAP_REQ_VALE_POLLING_ENABLE; a.name = optarg; break;
		case 'P': a.reqtype = NETMAP_REQ_VALE_POLLING_DISABLE; a.name = optarg; break;
		case 'm': a.mem_id = optarg; break;
		case 'v': verbose++; break;
		default: usage(1);
		}
	}
	if (optind != argc)
		usage(1);
	if (a.reqtype == 0) {
		if (a.config || a.mem_id)
			usage(1);
		a.reqtype = NETMAP_REQ_VALE_LIST;  /* no command: list everything */
		a.name = NULL;
	}
	return run(&a);
}
