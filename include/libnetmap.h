/*
 * libnetmap.h - the netmap port-opening library (nmport_*, nmctx_*, nmreq_*).
 *
 * Source-compatible with upstream netmap's libnetmap (API 14): the same
 * function names and signatures, and the same layouts for struct nmport_d,
 * struct nmctx, struct nmem_d and the option-parser types, so programs
 * written for upstream's libnetmap build unchanged against this header.
 * The implementation (src/lib/) talks to netmap only through open(),
 * ioctl(NIOCCTRL), mmap() and close() on /dev/netmap.
 *
 * Port specification ("portspec") grammar:
 *
 *     prefix[id]:vpname[mode][options]
 *
 *   prefix    "netmap" (no id; the "netmap:" part is not sent to netmap)
 *             "vale"   (optional id naming the switch, kept in the name)
 *             "null"   (unetmap extension: kept in the name, no id)
 *   vpname    ident, or ident{pipe or ident}pipe (a pipe end in the memory
 *             of ident); identifiers are letters, digits and '_'
 *   mode      ^     all host rings          ^N   host ring N
 *             *     NIC and host rings      -N   NIC ring N
 *             @N    use memory region N (N > 0)
 *             /flags, any of: x exclusive, z zero-copy monitor,
 *                    t tx monitor, r rx monitor, R rx rings only,
 *                    T tx rings only
 *   options   start at the first '@' not followed by a digit:
 *             @name  |  @name=value  |  @name:key=value,key=value...
 *             share=PORT                     memory region of PORT
 *             conf:rings,tx-rings,rx-rings,host-rings,host-tx-rings,
 *                  host-rx-rings,slots,tx-slots,rx-slots
 *             extmem:file(default, required),if-num,if-size,ring-num,
 *                  ring-size,buf-num,buf-size
 *             offset:initial(default, required),bits   (disabled unless
 *                  nmport_enable_option("offset") is called)
 *
 * Unless stated otherwise, functions returning int give 0 on success and
 * -1 with errno set on failure; functions returning pointers give NULL with
 * errno set.  Failures are also described through the error() callback of
 * the nmctx in use (when its verbose field is non-zero).
 *
 * Define LIBNETMAP_NOTHREADSAFE before including this header if the program
 * does not need the default context to be protected by a mutex.
 */
#ifndef LIBNETMAP_H_
#define LIBNETMAP_H_

#include <stddef.h>
#include <stdint.h>
#include <net/netmap_user.h>

#ifdef __cplusplus
extern "C" {
#endif

struct nmctx;
struct nmport_d;
struct nmem_d;
struct nmport_cleanup_d;	/* private to the library */

/* ------------------------------------------------------------------ */
/* Port descriptors                                                    */
/* ------------------------------------------------------------------ */

struct nmport_d {
	/* the NETMAP_REQ_REGISTER request (hdr.nr_body points to reg) */
	struct nmreq_header hdr;
	struct nmreq_register reg;

	/* everything below is read-only for the application */

	/* memory region in use; within one nmctx, two descriptors have the
	 * same mem iff they share a region (zero copy between them works) */
	struct nmem_d *mem;
	/* the context this descriptor was created in */
	struct nmctx *ctx;

	int register_done;	/* nmport_register() succeeded */
	int mmap_done;		/* nmport_mmap() succeeded */
	/* the extmem option in hdr's option list, or NULL */
	struct nmreq_opt_extmem *extmem;

	/* same meaning as the homonymous nm_desc fields */
	int fd;			/* /dev/netmap descriptor, -1 when closed */
	struct netmap_if *nifp;	/* this port's netmap_if */
	uint16_t first_tx_ring;
	uint16_t last_tx_ring;
	uint16_t first_rx_ring;
	uint16_t last_rx_ring;
	uint16_t cur_tx_ring;	/* next ring nmport_inject() tries */
	uint16_t cur_rx_ring;

	/* undo actions, last pushed first run (library internal) */
	struct nmport_cleanup_d *clist;
};

/* nmport_open - parse @portspec, register the port and map its memory.
 * Equivalent to nmport_prepare() followed by nmport_open_desc().  Release
 * with nmport_close().  Rings usable for transmission are
 * [first_tx_ring, last_tx_ring], for reception [first_rx_ring, last_rx_ring]. */
struct nmport_d *nmport_open(const char *portspec);

/* nmport_close - undo nmport_open() (or any prefix of its steps) and free
 * the descriptor.  NULL is accepted and ignored. */
void nmport_close(struct nmport_d *d);

/* nmport_inject - copy one packet of @size bytes into the next free slot(s)
 * of the tx rings, starting from cur_tx_ring and moving on to the next ring
 * when one is full.  A packet longer than a buffer is split over several
 * slots, all but the last flagged NS_MOREFRAG.  head and cur are advanced;
 * no system call is made.  Returns @size on success and 0 if no ring had
 * room (as upstream). */
int nmport_inject(struct nmport_d *d, const void *buf, size_t size);

/*
 * The steps of nmport_open(), for callers that need to act in between:
 *
 *   nmport_open = nmport_prepare  (nmport_new + nmport_parse)
 *               + nmport_open_desc (nmport_register + nmport_mmap)
 *
 * Each step has an undo_ counterpart; on failure a step leaves the
 * descriptor as it was before the step.
 */

/* nmport_new - allocate an empty descriptor in the default context. */
struct nmport_d *nmport_new(void);

/* nmport_parse - fill d->hdr and d->reg from @portspec.  Makes no call to
 * netmap except for "@share=" (a NETMAP_REQ_PORT_INFO_GET) and may mmap a
 * file for "@extmem". */
int nmport_parse(struct nmport_d *d, const char *portspec);

/* nmport_register - open /dev/netmap and issue NIOCCTRL with d->hdr. */
int nmport_register(struct nmport_d *d);

/* nmport_mmap - map the port's memory region (or reuse a mapping of the
 * same region already made in d->ctx) and compute nifp and ring ranges. */
int nmport_mmap(struct nmport_d *d);

void nmport_delete(struct nmport_d *d);
void nmport_undo_parse(struct nmport_d *d);
void nmport_undo_register(struct nmport_d *d);
void nmport_undo_mmap(struct nmport_d *d);

/* nmport_prepare - nmport_new() followed by nmport_parse(). */
struct nmport_d *nmport_prepare(const char *portspec);

/* nmport_open_desc - nmport_register() followed by nmport_mmap(). */
int nmport_open_desc(struct nmport_d *d);

void nmport_undo_prepare(struct nmport_d *d);
void nmport_undo_open_desc(struct nmport_d *d);

/* nmport_clone - new prepared (not yet opened) descriptor with the same
 * request as @d, options excluded, in the same context.  A descriptor that
 * uses extmem can only be cloned after it has been registered. */
struct nmport_d *nmport_clone(struct nmport_d *d);

/* nmport_extmem - have netmap build the port's region inside the
 * application-provided memory [@base, @base + @size).  Call between
 * parse and register. */
int nmport_extmem(struct nmport_d *d, void *base, size_t size);

/* nmport_extmem_from_file - nmport_extmem() on a shared mapping of the
 * whole of @fname; the mapping is removed when the descriptor is closed. */
int nmport_extmem_from_file(struct nmport_d *d, const char *fname);

/* nmport_extmem_getinfo - the pools description of the extmem option (to
 * set before registering, or read after), or NULL if no extmem is used. */
struct nmreq_pools_info *nmport_extmem_getinfo(struct nmport_d *d);

/* nmport_offset - request the NETMAP_REQ_OPT_OFFSETS option: the low @bits
 * bits of each slot's ptr hold a buffer offset, initially @initial, never
 * above @maxoff; @mingap (if non-zero) is the minimum distance between
 * offsets of slots sharing a buffer. */
int nmport_offset(struct nmport_d *d, uint64_t initial, uint64_t maxoff,
		uint64_t bits, uint64_t mingap);

/* Enable/disable the parsing of an option by name ("share", "conf",
 * "extmem", "offset").  Disabling an unknown option does nothing; enabling
 * one fails with EOPNOTSUPP.  Not thread-safe: call at program start. */
void nmport_disable_option(const char *opt);
int nmport_enable_option(const char *opt);

/* ------------------------------------------------------------------ */
/* Request helpers                                                     */
/* ------------------------------------------------------------------ */

/* nmreq_header_init - zero @hdr, then set nr_version to NETMAP_API and
 * nr_reqtype/nr_body to the given values. */
void nmreq_header_init(struct nmreq_header *hdr, uint16_t reqtype, void *body);

/* nmreq_header_decode - read "prefix[id]:vpname" at *@ppspec into
 * hdr->nr_name (other fields untouched) and advance *@ppspec past it.
 * On error: -1, errno EINVAL, nothing modified. */
int nmreq_header_decode(const char **ppspec, struct nmreq_header *hdr,
		struct nmctx *ctx);

/* nmreq_register_decode - read the mode part at *@pmode into reg's
 * nr_mode, nr_ringid, nr_flags and nr_mem_id, and advance *@pmode.  Stops
 * without error at an '@' not followed by a digit (the options), leaving
 * *@pmode on that '@'.  A non-zero reg->nr_mem_id on entry can only be
 * confirmed, not changed.  On error: -1, errno EINVAL, nothing modified. */
int nmreq_register_decode(const char **pmode, struct nmreq_register *reg,
		struct nmctx *ctx);

struct nmreq_opt_parser;
struct nmreq_parse_ctx;

/* nmreq_options_decode - parse the "@opt..." list @opt, handing each
 * option to the parser in the @parsers list whose prefix matches, with
 * @token.  Effects of options parsed before a failing one are not undone. */
int nmreq_options_decode(const char *opt, struct nmreq_opt_parser *parsers,
		void *token, struct nmctx *ctx);

/* option parser callback: 0 or -1 with errno set */
typedef int (*nmreq_opt_parser_cb)(struct nmreq_parse_ctx *);

#define NMREQ_OPT_MAXKEYS 16	/* keys an option can have at most */

struct nmreq_opt_key {
	const char *key;	/* key name, '_' standing for '-' */
	int id;			/* index into nmreq_parse_ctx.keys */
	unsigned int flags;
#define NMREQ_OPTK_ALLOWEMPTY	(1U << 0) /* "key" alone is accepted */
#define NMREQ_OPTK_MUSTSET	(1U << 1) /* the key must be given */
#define NMREQ_OPTK_DEFAULT	(1U << 2) /* "option=value" sets this key */
};

struct nmreq_opt_parser {
	const char *prefix;		/* option name */
	nmreq_opt_parser_cb parse;	/* called once the keys are split */
	int default_key;		/* id of the default key, or -1 */
	int nr_keys;
	unsigned int flags;
#define NMREQ_OPTF_DISABLED	(1U << 0)
#define NMREQ_OPTF_ALLOWEMPTY	(1U << 1) /* "@option" alone is accepted */

	struct nmreq_opt_parser *next;	/* next parser in the list */

	struct nmreq_opt_key keys[NMREQ_OPT_MAXKEYS];
} __attribute__((aligned(16)));

struct nmreq_parse_ctx {
	struct nmctx *ctx;	/* for errors and allocations */
	void *token;		/* as passed to nmreq_options_decode() */
	/* value given for each key, by key id; NULL if not given */
	const char *keys[NMREQ_OPT_MAXKEYS];
};

/* nmreq_get_mem_id - ask netmap (NETMAP_REQ_PORT_INFO_GET) for the memory
 * region of the "prefix:vpname" port at *@portname; on success return it
 * and advance *@portname past the name, else -1 with errno set. */
int32_t nmreq_get_mem_id(const char **portname, struct nmctx *ctx);

/* Option lists (hdr->nr_options, linked through nro_next). */
void nmreq_push_option(struct nmreq_header *h, struct nmreq_option *o);
void nmreq_remove_option(struct nmreq_header *h, struct nmreq_option *o);
struct nmreq_option *nmreq_find_option(struct nmreq_header *h, uint32_t reqtype);
/* free() every option in the list (they must come from malloc()) */
void nmreq_free_options(struct nmreq_header *h);
const char *nmreq_option_name(uint32_t reqtype);
#define nmreq_foreach_option(h_, o_)					\
	for ((o_) = (struct nmreq_option *)(uintptr_t)((h_)->nr_options); \
	     (o_) != NULL;						\
	     (o_) = (struct nmreq_option *)(uintptr_t)((o_)->nro_next))

/* ------------------------------------------------------------------ */
/* Contexts                                                            */
/* ------------------------------------------------------------------ */

/*
 * An nmctx holds the callbacks the library uses for error reporting,
 * memory allocation and locking, and the list of memory regions mapped by
 * the descriptors created in it.  verbose == 0 silences error().
 */
typedef void  (*nmctx_error_cb)(struct nmctx *, const char *);
typedef void *(*nmctx_malloc_cb)(struct nmctx *, size_t);
typedef void  (*nmctx_free_cb)(struct nmctx *, void *);
typedef void  (*nmctx_lock_cb)(struct nmctx *, int);	/* 1 lock, 0 unlock */

struct nmctx {
	int verbose;
	nmctx_error_cb	error;
	nmctx_malloc_cb	malloc;
	nmctx_free_cb	free;
	nmctx_lock_cb	lock;

	struct nmem_d	*mem_descs;
};

/* the current default context (used by nmport_new and friends) */
struct nmctx *nmctx_get(void);
/* install @ctx as the default and return the previous one */
struct nmctx *nmctx_set_default(struct nmctx *ctx);

/* a memory region mapped by one or more descriptors of a context */
struct nmem_d {
	uint16_t mem_id;	/* netmap's id of the region */
	int refcount;		/* descriptors using it */
	void *mem;		/* where it is mapped */
	size_t size;		/* its length */
	int is_extmem;		/* application memory, not mapped by us */

	/* doubly-linked list headed by nmctx.mem_descs */
	struct nmem_d *next;
	struct nmem_d *prev;
};

/* Referencing nmctx_threadsafe pulls in the mutex-protected default
 * context (always present in this library; kept for source compatibility). */
static __attribute__((used)) void libnetmap_init(void)
{
#ifndef LIBNETMAP_NOTHREADSAFE
	extern int nmctx_threadsafe;
	nmctx_threadsafe = 1;
#endif
}

/* install a default context whose lock() is a process-wide mutex (done
 * automatically when the library is loaded; calling it again is harmless) */
void nmctx_set_threadsafe(void);

/* printf-style error report through ctx->error() */
void nmctx_ferror(struct nmctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void *nmctx_malloc(struct nmctx *ctx, size_t sz);
void nmctx_free(struct nmctx *ctx, void *p);
void nmctx_lock(struct nmctx *ctx);
void nmctx_unlock(struct nmctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* LIBNETMAP_H_ */
