/*
 * pcap_shim.c - libpcap programs on unetmap ports (libunetmap-pcap.so).
 *
 *     LD_PRELOAD=libunetmap-pcap.so tcpdump -i vale0:a
 *
 * This library defines the libpcap functions that act on a live capture.
 * For a device name that is a unetmap port (see is_unetmap_device()) it
 * does the work itself on a port opened with nmport_open(); for any other
 * device, and for every pcap_t it did not create, it calls the real
 * libpcap function, found with dlsym(RTLD_NEXT).
 *
 * The pcap_t handed to the program for one of our ports is a real one,
 * made by libpcap's pcap_open_dead(DLT_EN10MB, ...), so the functions that
 * only read a handle (pcap_compile, pcap_geterr, pcap_dump, ...) work on
 * it unchanged.  A table maps such handles to our state (struct uport);
 * the functions defined here look the handle up there first.  Error
 * messages are written into the handle's own error buffer (the pointer
 * pcap_geterr() returns), where the program looks for them.
 *
 * The library also contains libnetmap itself (the same objects as
 * libnetmap.so): a preloaded library's dependencies come after libc in the
 * symbol search order, so a libnetmap.so pulled in as a dependency would
 * not see the program's (or its own) open/ioctl/poll calls.
 *
 * Reception: every RX ring of the port, round robin; a frame spread over
 * several slots (NS_MOREFRAG) is reassembled and delivered as one packet.
 * The time stamp is the ring's (set at the RX sync that brought the
 * frame).  The filter set with pcap_setfilter() runs here, on the whole
 * frame, with libpcap's bpf_filter().  Transmission (pcap_inject,
 * pcap_sendpacket) copies the frame into the TX ring and syncs it.
 * pcap_findalldevs() adds the unetmap ports that exist to libpcap's list.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include <libnetmap.h>
#include <unetmap/stats.h>

#define EXPORT __attribute__((visibility("default")))

/* libpcap's largest snapshot length; what 0 or an out-of-range value means */
#define MAX_SNAPLEN 262144
/* longest frame we reassemble from a NS_MOREFRAG chain */
#define MAX_FRAME 65536
/* how long one poll() may sleep, so a pcap_breakloop() from another
 * thread is seen (a signal interrupts the poll anyway) */
#define POLL_SLICE_MS 50

/* ------------------------------------------------------------------ */
/* Our state, and the table of our handles                             */
/* ------------------------------------------------------------------ */

struct uport {
	pcap_t *p;			/* the handle the program holds */
	char *device;			/* as the program named it */
	int activated;
	/* settings, as pcap_set_*() left them */
	int snaplen;			/* 0 until set: MAX_SNAPLEN */
	int promisc, timeout_ms, immediate, buffer_size, rfmon;
	int tstamp_type, tstamp_precision;
	int nonblock;
	pcap_direction_t direction;
	/* once activated */
	struct nmport_d *d;
	unsigned snap;			/* effective snapshot length */
	struct bpf_insn *filter;	/* our copy of the program, or NULL */
	unsigned filter_len;
	atomic_int break_loop;
	uint64_t received;		/* frames taken from the rings */
	uint64_t drops_at_open;		/* the port's rx_drops then */
	unsigned char *frame;		/* reassembly buffer (MAX_FRAME) */
	unsigned char *next_buf;	/* pcap_next()/pcap_next_ex() data */
	struct pcap_pkthdr next_hdr;
};

#define MAX_HANDLES 256
static _Atomic(struct uport *) handles[MAX_HANDLES];

/* lock-free, so pcap_breakloop() may run in a signal handler */
static struct uport *find(pcap_t *p)
{
	if (p == NULL)
		return NULL;
	for (int i = 0; i < MAX_HANDLES; i++) {
		struct uport *u = atomic_load_explicit(&handles[i], memory_order_acquire);
		if (u != NULL && u->p == p)
			return u;
	}
	return NULL;
}

static int add_handle(struct uport *u)
{
	for (int i = 0; i < MAX_HANDLES; i++) {
		struct uport *expected = NULL;
		if (atomic_compare_exchange_strong(&handles[i], &expected, u))
			return 0;
	}
	return -1;
}

static void remove_handle(struct uport *u)
{
	for (int i = 0; i < MAX_HANDLES; i++) {
		struct uport *expected = u;
		if (atomic_compare_exchange_strong(&handles[i], &expected, NULL))
			return;
	}
}

/* ------------------------------------------------------------------ */
/* The real libpcap                                                    */
/* ------------------------------------------------------------------ */

/* declare and resolve (once) next_FN, the definition after ours */
#define NEXT(fn)							\
	static __typeof__(fn) *next_##fn;				\
	if (__atomic_load_n(&next_##fn, __ATOMIC_ACQUIRE) == NULL)	\
		__atomic_store_n(&next_##fn,				\
			(__typeof__(fn) *)dlsym(RTLD_NEXT, #fn), __ATOMIC_RELEASE)

/* the handle's error buffer, which pcap_geterr() returns */
static void seterr(pcap_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void seterr(pcap_t *p, const char *fmt, ...)
{
	NEXT(pcap_geterr);
	char *eb = next_pcap_geterr(p);
	va_list ap;

	if (eb == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(eb, PCAP_ERRBUF_SIZE, fmt, ap);
	va_end(ap);
}

static int not_activated(struct uport *u)
{
	seterr(u->p, "%s: the capture has not been activated yet", u->device);
	return PCAP_ERROR_NOT_ACTIVATED;
}

static int already_activated(struct uport *u)
{
	seterr(u->p, "%s: this cannot be done on an activated capture", u->device);
	return PCAP_ERROR_ACTIVATED;
}

/* ------------------------------------------------------------------ */
/* Which devices are ours                                              */
/* ------------------------------------------------------------------ */

/* "netmap:...", "valeS:P", "null", "null:..." or a pipe end ("x{1",
 * "x}1"), each possibly followed by netmap's suffixes ("/r", "@..."). */
static int is_unetmap_device(const char *dev)
{
	if (dev == NULL)
		return 0;
	if (strncmp(dev, "netmap:", 7) == 0)
		return 1;
	if (strncmp(dev, "vale", 4) == 0) {
		const char *s = dev + 4;
		while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		       (*s >= '0' && *s <= '9') || *s == '_')
			s++;
		return *s == ':';
	}
	if (strncmp(dev, "null", 4) == 0 && strchr(":/@", dev[4]) != NULL)
		return 1;	/* also "null" itself: strchr finds the '\0' */
	return strpbrk(dev, "{}") != NULL;
}

/* the portspec for nmport_open() */
static char *port_spec(const char *dev)
{
	char *spec;

	if (strncmp(dev, "netmap:", 7) == 0 || strncmp(dev, "vale", 4) == 0 ||
	    strncmp(dev, "null", 4) == 0)
		spec = strdup(dev);
	else if (asprintf(&spec, "netmap:%s", dev) < 0)
		spec = NULL;
	return spec;
}

/* a monitor port ("/r", "/t", "/rt" among the flags) sees what it monitors
 * in both directions; a plain port only what it receives */
static int is_monitor(const char *dev)
{
	const char *slash = strrchr(dev, '/');

	return slash != NULL && strpbrk(slash + 1, "rtz") != NULL;
}

/* the last message libnetmap reported in this thread */
static __thread char lib_msg[PCAP_ERRBUF_SIZE];

static void lib_error(struct nmctx *ctx, const char *msg)
{
	(void)ctx;
	snprintf(lib_msg, sizeof lib_msg, "%s", msg);
}

/* ------------------------------------------------------------------ */
/* Creation, settings, activation                                      */
/* ------------------------------------------------------------------ */

static void free_uport(struct uport *u)
{
	free(u->filter);
	free(u->frame);
	free(u->next_buf);
	free(u->device);
	free(u);
}

EXPORT pcap_t *pcap_create(const char *device, char *errbuf)
{
	NEXT(pcap_create);
	struct uport *u;

	if (!is_unetmap_device(device))
		return next_pcap_create(device, errbuf);
	u = calloc(1, sizeof *u);
	if (u != NULL)
		u->device = strdup(device);
	if (u == NULL || u->device == NULL) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: out of memory", device);
		if (u != NULL)
			free_uport(u);
		return NULL;
	}
	u->tstamp_type = PCAP_TSTAMP_HOST;
	u->tstamp_precision = PCAP_TSTAMP_PRECISION_MICRO;
	u->direction = PCAP_D_INOUT;
	u->p = pcap_open_dead(DLT_EN10MB, MAX_SNAPLEN);
	if (u->p == NULL) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: cannot allocate a pcap handle", device);
		free_uport(u);
		return NULL;
	}
	if (add_handle(u) < 0) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s: more than %d unetmap captures open",
			 device, MAX_HANDLES);
		NEXT(pcap_close);
		next_pcap_close(u->p);
		free_uport(u);
		return NULL;
	}
	return u->p;
}

/* pcap_set_*: as libpcap, only before activation */
#define SETTER(fn, field, type)						\
	EXPORT int fn(pcap_t *p, type v)				\
	{								\
		NEXT(fn);						\
		struct uport *u = find(p);				\
		if (u == NULL)						\
			return next_##fn(p, v);				\
		if (u->activated)					\
			return already_activated(u);			\
		u->field = v;						\
		return 0;						\
	}
SETTER(pcap_set_snaplen, snaplen, int)
SETTER(pcap_set_promisc, promisc, int)
SETTER(pcap_set_timeout, timeout_ms, int)
SETTER(pcap_set_immediate_mode, immediate, int)
SETTER(pcap_set_rfmon, rfmon, int)

EXPORT int pcap_set_buffer_size(pcap_t *p, int size)
{
	NEXT(pcap_set_buffer_size);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_set_buffer_size(p, size);
	if (u->activated)
		return already_activated(u);
	if (size > 0)	/* libpcap ignores a size <= 0 */
		u->buffer_size = size;
	return 0;
}

EXPORT int pcap_set_protocol_linux(pcap_t *p, int protocol)
{
	NEXT(pcap_set_protocol_linux);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_set_protocol_linux(p, protocol);
	return u->activated ? already_activated(u) : 0;
}

EXPORT int pcap_can_set_rfmon(pcap_t *p)
{
	NEXT(pcap_can_set_rfmon);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_can_set_rfmon(p);
	return u->activated ? already_activated(u) : 0;
}

/* the host's clock is the only time stamp type */
EXPORT int pcap_set_tstamp_type(pcap_t *p, int type)
{
	NEXT(pcap_set_tstamp_type);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_set_tstamp_type(p, type);
	if (u->activated)
		return already_activated(u);
	if (type != PCAP_TSTAMP_HOST)
		return PCAP_WARNING_TSTAMP_TYPE_NOTSUP;
	u->tstamp_type = type;
	return 0;
}

EXPORT int pcap_list_tstamp_types(pcap_t *p, int **types)
{
	NEXT(pcap_list_tstamp_types);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_list_tstamp_types(p, types);
	*types = malloc(sizeof **types);
	if (*types == NULL) {
		seterr(p, "out of memory");
		return PCAP_ERROR;
	}
	**types = PCAP_TSTAMP_HOST;
	return 1;
}

EXPORT int pcap_set_tstamp_precision(pcap_t *p, int precision)
{
	NEXT(pcap_set_tstamp_precision);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_set_tstamp_precision(p, precision);
	if (u->activated)
		return already_activated(u);
	if (precision != PCAP_TSTAMP_PRECISION_MICRO && precision != PCAP_TSTAMP_PRECISION_NANO)
		return PCAP_ERROR_TSTAMP_PRECISION_NOTSUP;
	u->tstamp_precision = precision;
	return 0;
}

EXPORT int pcap_get_tstamp_precision(pcap_t *p)
{
	NEXT(pcap_get_tstamp_precision);
	struct uport *u = find(p);

	return u == NULL ? next_pcap_get_tstamp_precision(p) : u->tstamp_precision;
}

static int open_port(struct uport *u)
{
	struct nmctx *ctx = nmctx_get();
	struct unetmap_port_stats st;
	char *spec = port_spec(u->device);
	int status;

	if (spec == NULL) {
		seterr(u->p, "%s: out of memory", u->device);
		return PCAP_ERROR;
	}
	ctx->error = lib_error;
	lib_msg[0] = '\0';
	u->d = nmport_open(spec);
	free(spec);
	if (u->d == NULL) {
		int e = errno;
		switch (e) {
		case ENXIO: case ENOENT: case ENODEV: case EINVAL:
			status = PCAP_ERROR_NO_SUCH_DEVICE;
			break;
		case EACCES: case EPERM:
			status = PCAP_ERROR_PERM_DENIED;
			break;
		default:
			status = PCAP_ERROR;
			break;
		}
		seterr(u->p, "%s: %s", u->device, lib_msg[0] ? lib_msg : strerror(e));
		return status;
	}
	if (u->d->first_rx_ring > u->d->last_rx_ring || u->d->nifp->ni_rx_rings == 0) {
		/* a TX-only registration ("/T") can still inject */
		u->d->first_rx_ring = 1;
		u->d->last_rx_ring = 0;
	}
	u->frame = malloc(MAX_FRAME);
	u->next_buf = malloc(MAX_FRAME);
	if (u->frame == NULL || u->next_buf == NULL) {
		nmport_close(u->d);
		u->d = NULL;
		seterr(u->p, "%s: out of memory", u->device);
		return PCAP_ERROR;
	}
	if (unetmap_port_stats(u->d->hdr.nr_name, &st) == 0)
		u->drops_at_open = st.rx_drops;
	return 0;
}

EXPORT int pcap_activate(pcap_t *p)
{
	NEXT(pcap_activate);
	struct uport *u = find(p);
	int status;

	if (u == NULL)
		return next_pcap_activate(p);
	if (u->activated)
		return already_activated(u);
	if (u->rfmon) {
		seterr(p, "%s: unetmap ports have no monitor (rfmon) mode", u->device);
		return PCAP_ERROR_RFMON_NOTSUP;
	}
	status = open_port(u);
	if (status < 0)
		return status;
	u->snap = u->snaplen <= 0 || u->snaplen > MAX_SNAPLEN ? MAX_SNAPLEN : (unsigned)u->snaplen;
	u->activated = 1;
	return 0;
}

EXPORT pcap_t *pcap_open_live(const char *device, int snaplen, int promisc, int to_ms, char *errbuf)
{
	NEXT(pcap_open_live);
	pcap_t *p;
	int status;

	if (!is_unetmap_device(device))
		return next_pcap_open_live(device, snaplen, promisc, to_ms, errbuf);
	p = pcap_create(device, errbuf);
	if (p == NULL)
		return NULL;
	pcap_set_snaplen(p, snaplen);
	pcap_set_promisc(p, promisc);
	pcap_set_timeout(p, to_ms);
	status = pcap_activate(p);
	if (status < 0) {
		snprintf(errbuf, PCAP_ERRBUF_SIZE, "%s", pcap_geterr(p));
		pcap_close(p);
		return NULL;
	}
	return p;
}

/* not an interface of the host: no IPv4 network (as libpcap's "any") */
EXPORT int pcap_lookupnet(const char *device, bpf_u_int32 *net, bpf_u_int32 *mask, char *errbuf)
{
	NEXT(pcap_lookupnet);

	if (!is_unetmap_device(device))
		return next_pcap_lookupnet(device, net, mask, errbuf);
	*net = 0;
	*mask = 0;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Device list                                                         */
/* ------------------------------------------------------------------ */

/* how a port of unetmap_port_list() is opened through this library, and
 * what it is; 0 for ports that cannot be opened by name (monitors) */
static int unetmap_device(const struct unetmap_port_stats *st, char **name, const char **what)
{
	const char *n = st->name;

	if (n[0] == '\0' || strchr(n, '/') != NULL)
		return 0;	/* a monitor, "PORT/rt#0" */
	if (strchr(n, '{') != NULL)
		*what = "unetmap pipe, master end";
	else if (strchr(n, '}') != NULL)
		*what = "unetmap pipe, slave end";
	else if (strncmp(n, "vale", 4) == 0 && is_unetmap_device(n))
		*what = "unetmap VALE port";
	else if (strcmp(n, "null") == 0 || strncmp(n, "null:", 5) == 0)
		*what = "unetmap null port";
	else if (st->flags & UNETMAP_PORT_PERSISTENT)
		*what = "unetmap persistent VALE port, not attached";
	else
		*what = "unetmap NIC port (interface in netmap mode)";
	if (is_unetmap_device(n))
		*name = strdup(n);
	else if (asprintf(name, "netmap:%s", n) < 0)
		*name = NULL;
	return *name != NULL ? 1 : -1;
}

/*
 * libpcap's list, then the unetmap ports that exist in $UNETMAP_DIR, as
 * they are opened here ("vale0:a", "x{1", "netmap:veth0").  Allocated as
 * libpcap allocates its entries (malloc, strdup), so pcap_freealldevs()
 * frees them.  Without a control file there are no ports, and nothing is
 * created just to look.
 */
EXPORT int pcap_findalldevs(pcap_if_t **alldevsp, char *errbuf)
{
	NEXT(pcap_findalldevs);
	const char *dir = getenv("UNETMAP_DIR");
	char ctl[PATH_MAX];
	struct unetmap_port_stats *st;
	pcap_if_t **tail;
	int n;

	if (next_pcap_findalldevs(alldevsp, errbuf) < 0)
		return PCAP_ERROR;
	if (dir == NULL || dir[0] == '\0')
		dir = "/dev/shm/unetmap";
	if (snprintf(ctl, sizeof ctl, "%s/ctl", dir) >= (int)sizeof ctl || access(ctl, R_OK | W_OK) != 0)
		return 0;
	st = calloc(256, sizeof *st);
	if (st == NULL)
		return 0;
	n = unetmap_port_list(st, 256);
	for (tail = alldevsp; *tail != NULL; tail = &(*tail)->next)
		;
	for (int i = 0; i < n; i++) {
		char *name = NULL;
		const char *what = NULL;
		pcap_if_t *d;

		if (unetmap_device(&st[i], &name, &what) <= 0)
			continue;
		d = calloc(1, sizeof *d);
		if (d == NULL || (d->description = strdup(what)) == NULL) {
			free(d);
			free(name);
			break;
		}
		d->name = name;
		d->flags = PCAP_IF_UP | PCAP_IF_RUNNING | PCAP_IF_CONNECTION_STATUS_NOT_APPLICABLE;
		*tail = d;
		tail = &d->next;
	}
	free(st);
	return 0;
}

EXPORT void pcap_close(pcap_t *p)
{
	NEXT(pcap_close);
	struct uport *u = find(p);

	if (u != NULL) {
		remove_handle(u);
		if (u->d != NULL)
			nmport_close(u->d);
		free_uport(u);
	}
	next_pcap_close(p);
}

/* ------------------------------------------------------------------ */
/* Handle properties                                                   */
/* ------------------------------------------------------------------ */

EXPORT int pcap_datalink(pcap_t *p)
{
	NEXT(pcap_datalink);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_datalink(p);
	return u->activated ? DLT_EN10MB : not_activated(u);
}

EXPORT int pcap_datalink_ext(pcap_t *p)
{
	NEXT(pcap_datalink_ext);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_datalink_ext(p);
	return u->activated ? DLT_EN10MB : not_activated(u);
}

EXPORT int pcap_list_datalinks(pcap_t *p, int **dlts)
{
	NEXT(pcap_list_datalinks);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_list_datalinks(p, dlts);
	if (!u->activated)
		return not_activated(u);
	*dlts = malloc(sizeof **dlts);
	if (*dlts == NULL) {
		seterr(p, "out of memory");
		return PCAP_ERROR;
	}
	**dlts = DLT_EN10MB;
	return 1;
}

EXPORT int pcap_set_datalink(pcap_t *p, int dlt)
{
	NEXT(pcap_set_datalink);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_set_datalink(p, dlt);
	if (dlt == DLT_EN10MB)
		return 0;
	seterr(p, "%s: link type %d is not supported (only EN10MB)", u->device, dlt);
	return PCAP_ERROR;
}

EXPORT int pcap_snapshot(pcap_t *p)
{
	NEXT(pcap_snapshot);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_snapshot(p);
	return u->activated ? (int)u->snap : not_activated(u);
}

EXPORT int pcap_fileno(pcap_t *p)
{
	NEXT(pcap_fileno);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_fileno(p);
	return u->activated ? u->d->fd : -1;
}

EXPORT int pcap_get_selectable_fd(pcap_t *p)
{
	NEXT(pcap_get_selectable_fd);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_get_selectable_fd(p);
	return u->activated ? u->d->fd : -1;
}

/* poll()/select() on the descriptor work: no timeout is required */
EXPORT const struct timeval *pcap_get_required_select_timeout(pcap_t *p)
{
	NEXT(pcap_get_required_select_timeout);
	struct uport *u = find(p);

	return u == NULL ? next_pcap_get_required_select_timeout(p) : NULL;
}

EXPORT int pcap_setnonblock(pcap_t *p, int nonblock, char *errbuf)
{
	NEXT(pcap_setnonblock);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_setnonblock(p, nonblock, errbuf);
	u->nonblock = nonblock != 0;
	return 0;
}

EXPORT int pcap_getnonblock(pcap_t *p, char *errbuf)
{
	NEXT(pcap_getnonblock);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_getnonblock(p, errbuf);
	return u->nonblock;
}

EXPORT int pcap_setdirection(pcap_t *p, pcap_direction_t d)
{
	NEXT(pcap_setdirection);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_setdirection(p, d);
	if (!u->activated)
		return not_activated(u);
	if (d == PCAP_D_IN || d == PCAP_D_INOUT || (d == PCAP_D_OUT && is_monitor(u->device))) {
		u->direction = d;
		return 0;
	}
	seterr(p, "%s: only incoming packets can be captured on a unetmap port "
		  "(a monitor port, NAME/t, sees the outgoing ones)", u->device);
	return PCAP_ERROR;
}

EXPORT int pcap_stats(pcap_t *p, struct pcap_stat *ps)
{
	NEXT(pcap_stats);
	struct uport *u = find(p);
	struct unetmap_port_stats st;

	if (u == NULL)
		return next_pcap_stats(p, ps);
	if (!u->activated)
		return not_activated(u);
	memset(ps, 0, sizeof *ps);
	ps->ps_recv = (u_int)u->received;
	if (unetmap_port_stats(u->d->hdr.nr_name, &st) == 0 && st.rx_drops >= u->drops_at_open)
		ps->ps_drop = (u_int)(st.rx_drops - u->drops_at_open);
	return 0;
}

/* The dump file's header carries the link type, the snapshot length and
 * the time stamp precision; our handle was made before the last two were
 * known, so a handle with the right values writes it. */
static pcap_t *header_handle(struct uport *u)
{
	pcap_t *h = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, (int)u->snap,
							 (u_int)u->tstamp_precision);
	if (h == NULL)
		seterr(u->p, "out of memory");
	return h;
}

static void copy_err(pcap_t *to, pcap_t *from)
{
	NEXT(pcap_geterr);
	seterr(to, "%s", next_pcap_geterr(from));
}

EXPORT pcap_dumper_t *pcap_dump_open(pcap_t *p, const char *fname)
{
	NEXT(pcap_dump_open);
	struct uport *u = find(p);
	pcap_dumper_t *dp;
	pcap_t *h;

	if (u == NULL || !u->activated)
		return next_pcap_dump_open(p, fname);
	if ((h = header_handle(u)) == NULL)
		return NULL;
	dp = next_pcap_dump_open(h, fname);
	if (dp == NULL)
		copy_err(p, h);
	NEXT(pcap_close);
	next_pcap_close(h);
	return dp;
}

EXPORT pcap_dumper_t *pcap_dump_open_append(pcap_t *p, const char *fname)
{
	NEXT(pcap_dump_open_append);
	struct uport *u = find(p);
	pcap_dumper_t *dp;
	pcap_t *h;

	if (u == NULL || !u->activated)
		return next_pcap_dump_open_append(p, fname);
	if ((h = header_handle(u)) == NULL)
		return NULL;
	dp = next_pcap_dump_open_append(h, fname);
	if (dp == NULL)
		copy_err(p, h);
	NEXT(pcap_close);
	next_pcap_close(h);
	return dp;
}

EXPORT pcap_dumper_t *pcap_dump_fopen(pcap_t *p, FILE *f)
{
	NEXT(pcap_dump_fopen);
	struct uport *u = find(p);
	pcap_dumper_t *dp;
	pcap_t *h;

	if (u == NULL || !u->activated)
		return next_pcap_dump_fopen(p, f);
	if ((h = header_handle(u)) == NULL)
		return NULL;
	dp = next_pcap_dump_fopen(h, f);
	if (dp == NULL)
		copy_err(p, h);
	NEXT(pcap_close);
	next_pcap_close(h);
	return dp;
}

/* ------------------------------------------------------------------ */
/* Filters                                                             */
/* ------------------------------------------------------------------ */

EXPORT int pcap_setfilter(pcap_t *p, struct bpf_program *fp)
{
	NEXT(pcap_setfilter);
	struct uport *u = find(p);
	struct bpf_insn *copy;
	size_t sz;

	if (u == NULL)
		return next_pcap_setfilter(p, fp);
	if (!u->activated)
		return not_activated(u);
	if (fp == NULL || fp->bf_insns == NULL) {
		seterr(p, "no filter given");
		return PCAP_ERROR;
	}
	if (!bpf_validate(fp->bf_insns, (int)fp->bf_len)) {
		seterr(p, "the BPF program is not valid");
		return PCAP_ERROR;
	}
	sz = fp->bf_len * sizeof *fp->bf_insns;
	copy = malloc(sz);
	if (copy == NULL) {
		seterr(p, "out of memory");
		return PCAP_ERROR;
	}
	memcpy(copy, fp->bf_insns, sz);
	free(u->filter);
	u->filter = copy;
	u->filter_len = fp->bf_len;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Reception                                                           */
/* ------------------------------------------------------------------ */

/*
 * Hand the frames already in the RX rings to cb, at most cnt of those the
 * filter passes (cnt <= 0: all there are).  Returns how many cb got, or
 * PCAP_ERROR_BREAK if pcap_breakloop() was called before the first.
 */
static int deliver(struct uport *u, int cnt, pcap_handler cb, u_char *user)
{
	struct nmport_d *d = u->d;
	int nrings = d->last_rx_ring - d->first_rx_ring + 1;
	int delivered = 0;

	for (int k = 0; k < nrings; k++) {
		unsigned ri = d->cur_rx_ring;
		struct netmap_ring *ring = NETMAP_RXRING(d->nifp, ri);

		while (!nm_ring_empty(ring)) {
			uint32_t i = ring->cur, len, nslots = 1;
			struct netmap_slot *slot = &ring->slot[i];
			const unsigned char *pkt = (const unsigned char *)NETMAP_BUF(ring, slot->buf_idx);
			struct pcap_pkthdr h;

			/* as libpcap: a break ends the call; it is reported
			 * (and cleared) by the call that delivered nothing */
			if (atomic_load(&u->break_loop)) {
				if (delivered > 0)
					return delivered;
				atomic_store(&u->break_loop, 0);
				return PCAP_ERROR_BREAK;
			}
			len = slot->len;
			if (slot->flags & NS_MOREFRAG) {
				/* a chain: copy it whole, or wait for the rest */
				uint32_t j = i, total = 0;
				int complete = 0;
				for (;;) {
					struct netmap_slot *s = &ring->slot[j];
					if (total + s->len <= MAX_FRAME) {
						memcpy(u->frame + total, NETMAP_BUF(ring, s->buf_idx), s->len);
						total += s->len;
					}
					j = nm_ring_next(ring, j);
					if (!(s->flags & NS_MOREFRAG)) {
						complete = 1;
						break;
					}
					if (j == ring->tail)
						break;
					nslots++;
				}
				if (!complete)
					break;	/* the rest comes with a later sync */
				pkt = u->frame;
				len = total;
			}
			u->received++;
			if (u->filter == NULL || bpf_filter(u->filter, pkt, len, len) != 0) {
				h.ts = ring->ts;
				if (u->tstamp_precision == PCAP_TSTAMP_PRECISION_NANO)
					h.ts.tv_usec *= 1000;
				h.len = len;
				h.caplen = len < u->snap ? len : u->snap;
				cb(user, &h, pkt);
				delivered++;
			}
			while (nslots-- > 0)
				i = nm_ring_next(ring, i);
			ring->head = ring->cur = i;
			if (cnt > 0 && delivered >= cnt)
				return delivered;
		}
		d->cur_rx_ring = ri == d->last_rx_ring ? d->first_rx_ring : ri + 1;
	}
	return delivered;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * libpcap's read: frames already there, else wait for some (not in
 * non-blocking mode; at most the timeout, if one was set).  Returns the
 * number delivered (0: the timeout expired), PCAP_ERROR_BREAK or
 * PCAP_ERROR.
 */
static int read_packets(struct uport *u, int cnt, pcap_handler cb, u_char *user)
{
	long long deadline = u->timeout_ms > 0 ? now_ms() + u->timeout_ms : -1;
	int n;

	if (u->d->first_rx_ring > u->d->last_rx_ring) {
		seterr(u->p, "%s: the port has no receive ring", u->device);
		return PCAP_ERROR;
	}
	for (;;) {
		if (atomic_exchange(&u->break_loop, 0))
			return PCAP_ERROR_BREAK;
		n = deliver(u, cnt, cb, user);
		if (n != 0)
			return n;
		/* nothing there: ask for more */
		if (ioctl(u->d->fd, NIOCRXSYNC, NULL) < 0 && errno != EINVAL) {
			seterr(u->p, "%s: receive sync: %s", u->device, strerror(errno));
			return PCAP_ERROR;
		}
		n = deliver(u, cnt, cb, user);
		if (n != 0 || u->nonblock)
			return n;
		int wait = POLL_SLICE_MS;
		if (deadline >= 0) {
			long long left = deadline - now_ms();
			if (left <= 0)
				return 0;
			if (left < wait)
				wait = (int)left;
		}
		struct pollfd pfd = { .fd = u->d->fd, .events = POLLIN };
		if (poll(&pfd, 1, wait) < 0 && errno != EINTR) {
			seterr(u->p, "%s: poll: %s", u->device, strerror(errno));
			return PCAP_ERROR;
		}
		if (atomic_exchange(&u->break_loop, 0))
			return PCAP_ERROR_BREAK;
	}
}

EXPORT int pcap_dispatch(pcap_t *p, int cnt, pcap_handler cb, u_char *user)
{
	NEXT(pcap_dispatch);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_dispatch(p, cnt, cb, user);
	if (!u->activated)
		return not_activated(u);
	return read_packets(u, cnt, cb, user);
}

EXPORT int pcap_loop(pcap_t *p, int cnt, pcap_handler cb, u_char *user)
{
	NEXT(pcap_loop);
	struct uport *u = find(p);
	int done = 0;

	if (u == NULL)
		return next_pcap_loop(p, cnt, cb, user);
	if (!u->activated)
		return not_activated(u);
	for (;;) {
		int n = read_packets(u, cnt > 0 ? cnt - done : -1, cb, user);
		if (n < 0)
			return n;
		done += n;
		if (cnt > 0 && done >= cnt)
			return 0;
	}
}

EXPORT void pcap_breakloop(pcap_t *p)
{
	NEXT(pcap_breakloop);
	struct uport *u = find(p);

	if (u == NULL)
		next_pcap_breakloop(p);
	else
		atomic_store(&u->break_loop, 1);
}

static void keep_one(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct uport *u = (struct uport *)user;

	u->next_hdr = *h;
	memcpy(u->next_buf, bytes, h->caplen < MAX_FRAME ? h->caplen : MAX_FRAME);
	if (u->next_hdr.caplen > MAX_FRAME)
		u->next_hdr.caplen = MAX_FRAME;
}

EXPORT int pcap_next_ex(pcap_t *p, struct pcap_pkthdr **h, const u_char **data)
{
	NEXT(pcap_next_ex);
	struct uport *u = find(p);
	int n;

	if (u == NULL)
		return next_pcap_next_ex(p, h, data);
	if (!u->activated)
		return not_activated(u);
	n = read_packets(u, 1, keep_one, (u_char *)u);
	if (n == 1) {
		*h = &u->next_hdr;
		*data = u->next_buf;
	}
	return n;
}

EXPORT const u_char *pcap_next(pcap_t *p, struct pcap_pkthdr *h)
{
	NEXT(pcap_next);
	struct uport *u = find(p);
	struct pcap_pkthdr *hp;
	const u_char *data;

	if (u == NULL)
		return next_pcap_next(p, h);
	if (pcap_next_ex(p, &hp, &data) != 1)
		return NULL;
	*h = *hp;
	return data;
}

/* ------------------------------------------------------------------ */
/* Transmission                                                        */
/* ------------------------------------------------------------------ */

static int inject(struct uport *u, const void *buf, size_t size)
{
	struct nmport_d *d = u->d;
	long long deadline = now_ms() + 1000;

	if (size == 0 || size > MAX_FRAME) {
		seterr(u->p, "%s: cannot send a packet of %zu bytes (1 to %d)", u->device, size, MAX_FRAME);
		return PCAP_ERROR;
	}
	if (d->first_tx_ring > d->last_tx_ring) {
		seterr(u->p, "%s: the port has no transmit ring", u->device);
		return PCAP_ERROR;
	}
	while (nmport_inject(d, buf, size) == 0) {
		/* rings full: reclaim what was sent, then wait for room */
		if (ioctl(d->fd, NIOCTXSYNC, NULL) < 0 && errno != EINVAL) {
			seterr(u->p, "%s: transmit sync: %s", u->device, strerror(errno));
			return PCAP_ERROR;
		}
		if (nmport_inject(d, buf, size) != 0)
			break;
		if (u->nonblock || now_ms() >= deadline) {
			seterr(u->p, "%s: no room in the transmit rings", u->device);
			errno = EAGAIN;
			return PCAP_ERROR;
		}
		struct pollfd pfd = { .fd = d->fd, .events = POLLOUT };
		poll(&pfd, 1, 10);
	}
	if (ioctl(d->fd, NIOCTXSYNC, NULL) < 0) {
		seterr(u->p, "%s: transmit sync: %s", u->device, strerror(errno));
		return PCAP_ERROR;
	}
	return (int)size;
}

EXPORT int pcap_inject(pcap_t *p, const void *buf, size_t size)
{
	NEXT(pcap_inject);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_inject(p, buf, size);
	if (!u->activated)
		return not_activated(u);
	return inject(u, buf, size);
}

EXPORT int pcap_sendpacket(pcap_t *p, const u_char *buf, int size)
{
	NEXT(pcap_sendpacket);
	struct uport *u = find(p);

	if (u == NULL)
		return next_pcap_sendpacket(p, buf, size);
	if (!u->activated)
		return not_activated(u);
	if (size <= 0) {
		seterr(p, "%s: cannot send a packet of %d bytes", u->device, size);
		return PCAP_ERROR;
	}
	return inject(u, buf, (size_t)size) < 0 ? PCAP_ERROR : 0;
}
