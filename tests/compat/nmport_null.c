/*
 * nmport_* on null ports: opening with options, ring ranges for each mode,
 * nmport_inject over several rings and slots, memory-region sharing inside
 * one nmctx (second port, clone, @N, @share=), the split open steps and
 * their undo functions, and the errors an application sees.
 */
#define _DEFAULT_SOURCE
#include <libnetmap.h>

#include <poll.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "compat.h"

static char last_error[1024];

static void
record_error(struct nmctx *ctx, const char *msg)
{
	(void)ctx;
	snprintf(last_error, sizeof(last_error), "%s", msg);
}

/* nmport_open() of a printf-formatted port specification */
static struct nmport_d *
open_fmt(const char *fmt, ...)
{
	char spec[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(spec, sizeof(spec), fmt, ap);
	va_end(ap);
	return nmport_open(spec);
}

int
main(void)
{
	char tag[32], name[64];
	struct nmport_d *d, *d2, *c, *m2, *s, *one, *t, *r, *p;
	struct nmctx *ctx = nmctx_get();
	nmctx_error_cb old_error = ctx->error;
	unsigned char pkt[5000];
	int sent, i;

	snprintf(tag, sizeof(tag), "c%d", (int)getpid());
	ctx->error = record_error;	/* keep expected errors off stderr */

	/* open with @conf: two ring pairs of 64 slots */
	d = open_fmt("null:%s@conf:rings=2,slots=64", tag);
	CHECK(d != NULL);
	snprintf(name, sizeof(name), "null:%s", tag);
	CHECK(strcmp(d->hdr.nr_name, name) == 0);
	CHECK(d->fd >= 0 && d->register_done && d->mmap_done);
	CHECK(d->nifp != NULL && d->mem != NULL && d->mem->refcount == 1);
	CHECK(d->reg.nr_tx_rings == 2 && d->reg.nr_rx_rings == 2);
	CHECK(d->reg.nr_memsize > 0 && d->mem->size == d->reg.nr_memsize);
	CHECK(d->nifp == NETMAP_IF(d->mem->mem, d->reg.nr_offset));
	CHECK(d->first_tx_ring == 0 && d->last_tx_ring == 1);
	CHECK(d->first_rx_ring == 0 && d->last_rx_ring == 1);
	CHECK(d->cur_tx_ring == 0);
	CHECK(NETMAP_TXRING(d->nifp, 0)->num_slots == 64);
	CHECK(NETMAP_RXRING(d->nifp, 1)->num_slots == 64);

	/* nmport_inject fills ring 0, then ring 1, then reports no room */
	memset(pkt, 0xab, sizeof(pkt));
	for (sent = 0; nmport_inject(d, pkt, 60) == 60; sent++)
		CHECK(sent < 1000);
	CHECK(sent == 2 * 63);
	CHECK(d->cur_tx_ring == 1);
	/* a null port consumes everything on txsync: room again */
	CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0);
	{
		struct pollfd pfd = { .fd = d->fd, .events = POLLOUT };

		CHECK(poll(&pfd, 1, 1000) == 1 && (pfd.revents & POLLOUT));
	}
	/* a frame longer than a buffer takes several slots */
	{
		struct netmap_ring *ring = NETMAP_TXRING(d->nifp, d->cur_tx_ring);
		uint32_t first = ring->cur, nslots, k;

		nslots = (uint32_t)((sizeof(pkt) + ring->nr_buf_size - 1) / ring->nr_buf_size);
		fill_frame(pkt, 1, sizeof(pkt));
		CHECK(nmport_inject(d, pkt, sizeof(pkt)) == (int)sizeof(pkt));
		for (k = 0; k < nslots; k++) {
			struct netmap_slot *sl = &ring->slot[(first + k) % ring->num_slots];
			size_t off = (size_t)k * ring->nr_buf_size;
			size_t len = k + 1 < nslots ? ring->nr_buf_size : sizeof(pkt) - off;

			CHECK(sl->len == len);
			CHECK(!!(sl->flags & NS_MOREFRAG) == (k + 1 < nslots));
			CHECK(memcmp(NETMAP_BUF(ring, sl->buf_idx), pkt + off, len) == 0);
		}
		CHECK(ring->head == (first + nslots) % ring->num_slots);
		CHECK(ioctl(d->fd, NIOCTXSYNC, NULL) == 0);
	}

	/* same region: another port, a clone; @2: another region */
	d2 = open_fmt("null:%s_b", tag);
	CHECK(d2 != NULL && d2->mem == d->mem && d->mem->refcount == 2);
	CHECK(d2->reg.nr_mem_id == d->reg.nr_mem_id);
	c = nmport_clone(d);
	CHECK(c != NULL && c->fd == -1 && !c->register_done && c->mem == NULL);
	CHECK(strcmp(c->hdr.nr_name, d->hdr.nr_name) == 0);
	CHECK(nmport_open_desc(c) == 0);
	CHECK(c->fd != d->fd && c->mem == d->mem && d->mem->refcount == 3);
	CHECK(c->first_tx_ring == 0 && c->last_tx_ring == 1);
	nmport_close(c);
	CHECK(d->mem->refcount == 2);
	m2 = open_fmt("null:%s_m2@2", tag);
	CHECK(m2 != NULL && m2->reg.nr_mem_id == 2 && m2->mem != d->mem);
	CHECK(m2->mem->refcount == 1 && m2->mem->mem_id == 2);
	s = open_fmt("null:%s_s@share=null:%s_m2", tag, tag);
	CHECK(s != NULL && s->reg.nr_mem_id == 2 && s->mem == m2->mem);
	CHECK(m2->mem->refcount == 2);
	nmport_close(s);
	nmport_close(m2);

	/* modes select rings of the open port */
	one = open_fmt("null:%s-1", tag);
	CHECK(one != NULL);
	CHECK(one->first_tx_ring == 1 && one->last_tx_ring == 1);
	CHECK(one->first_rx_ring == 1 && one->last_rx_ring == 1);
	t = open_fmt("null:%s/T", tag);
	CHECK(t != NULL && t->first_tx_ring == 0 && t->last_tx_ring == 1);
	CHECK(t->first_rx_ring > t->last_rx_ring);	/* no rx ring */
	r = open_fmt("null:%s-0/R", tag);
	CHECK(r != NULL && r->first_tx_ring > r->last_tx_ring);
	CHECK(r->first_rx_ring == 0 && r->last_rx_ring == 0);
	CHECK(nmport_inject(r, pkt, 60) == 0);	/* no tx ring to use */
	nmport_close(r);
	nmport_close(t);
	nmport_close(one);

	/* the split steps and their undo functions */
	snprintf(name, sizeof(name), "null:%s", tag);
	p = nmport_prepare(name);
	CHECK(p != NULL && p->fd == -1);
	CHECK(nmport_mmap(p) == -1 && errno == EINVAL);	/* not registered */
	CHECK(strstr(last_error, "unregistered") != NULL);
	CHECK(nmport_register(p) == 0 && p->fd >= 0);
	CHECK(nmport_register(p) == -1 && errno == EINVAL);	/* twice */
	CHECK(nmport_mmap(p) == 0 && p->mem == d->mem);
	CHECK(nmport_mmap(p) == -1 && errno == EINVAL);	/* twice */
	nmport_undo_mmap(p);
	CHECK(p->mem == NULL && p->nifp == NULL && p->fd >= 0);
	CHECK(d->mem->refcount == 2);
	CHECK(nmport_mmap(p) == 0);
	nmport_undo_open_desc(p);
	CHECK(p->fd == -1 && !p->register_done);
	CHECK(nmport_open_desc(p) == 0);
	nmport_close(p);

	/* errors: messages through the context, errno for the caller */
	last_error[0] = '\0';
	CHECK(open_fmt("null:%s-7", tag) == NULL && errno == EINVAL);	/* no ring 7 */
	CHECK(strstr(last_error, tag) != NULL);
	last_error[0] = '\0';
	CHECK(nmport_open("netmap:eth0/q") == NULL && errno == EINVAL);
	CHECK(strstr(last_error, "'q'") != NULL);
	CHECK(open_fmt("netmap:%s_no_such_if", tag) == NULL && errno != 0);
	CHECK(open_fmt("null:%s@share=netmap:no_such_if_x", tag) == NULL && errno != 0);
	ctx->error = old_error;

	nmport_close(d2);
	CHECK(d->mem->refcount == 1);
	nmport_close(d);
	CHECK(ctx->mem_descs == NULL);	/* every region unmapped */
	for (i = 0; i < 3; i++) {	/* reopen after close */
		d = open_fmt("null:%s", tag);
		CHECK(d != NULL);
		nmport_close(d);
	}
	printf("nmport_null: ok\n");
	return 0;
}
