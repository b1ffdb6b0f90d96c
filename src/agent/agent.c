/*
 * unetmap-vale-agent - forward frames between a network interface and its
 * member port on a VALE switch.
 *
 * netmap moves the frames of a NIC attached to a VALE switch in the kernel.
 * unetmap has no kernel part, so libnetmap starts this program when a
 * NETMAP_REQ_VALE_ATTACH names an interface (valectl -a valeS:IF, -h for
 * the host rings); see src/ctl/vale_nic.cpp for the lifecycle.  It is not
 * meant to be started by hand:
 *
 *     unetmap-vale-agent -p valeS:IF -i IF [-H]
 *
 * with the handshake socket of agent_proto.h as descriptor 3.  It forks
 * once (so that it is not the attaching process's child), opens
 *
 *     valeS:IF/x             the interface's member on the switch (made by
 *                            the library, persistent; exclusive, so nobody
 *                            else can bind it while the agent runs)
 *     netmap:IF/x@M          the NIC, in the member's memory region M, so
 *                            that forwarding swaps buffers (no copy here;
 *                            the switch itself copies, as it always does)
 *     netmap:IF*, valeS:IF^  with -H: the NIC with its host rings, and the
 *                            member for the host rings (netmap names the
 *                            host port of an attached NIC the same way)
 *
 * reports to the library, waits for its go-ahead, then forwards both ways
 * as bridge(8) does: poll, move what is there in batches, sync; it sleeps
 * in poll when there is nothing to do.  It stops
 *   - on SIGTERM/SIGINT (valectl -d sends SIGTERM),
 *   - when the interface disappears: RTM_DELLINK on a netlink socket, or a
 *     NIC error after which the interface no longer exists,
 *   - when the NIC port keeps failing while the interface is up,
 * closes its ports and detaches its member (NETMAP_REQ_VALE_DETACH on its
 * own name; the library recognises the agent and only removes the member).
 * Messages go to stderr, which the library points at $UNETMAP_AGENT_LOG
 * (default /dev/null).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libnetmap.h>

#define PROG "unetmap-vale-agent"
#include "tool_util.h"

#include "agent_proto.h"

#define BATCH		512	/* slots moved per ring pair and round */
#define IDLE_MS		2000	/* poll timeout: the interface is re-checked this often when idle */
#define ERROR_WAIT_MS	500	/* after a NIC error, wait this long (on netlink) before retrying */
#define MAX_ERRORS	20	/* consecutive NIC errors with the interface up: give up */
#define GO_TIMEOUT_MS	30000	/* longer than the library waits for our result */

/* Rings [first, last] of a port, per direction, that one link uses. */
struct rings {
	int rx_first, rx_last, tx_first, tx_last;
};

/* Frames move between the NIC's rings `nic_rings` and the switch port `sw`. */
struct link {
	const char *label;
	struct nmport_d *nic, *sw;
	struct rings nr, sr;
	unsigned long long pkts[2];	/* NIC -> switch, switch -> NIC */
};

static int zerocopy;
static int ctl_fd = UNETMAP_AGENT_FD;
static const char *member, *ifname;

/* ------------------------------------------------------------------ */
/* Handshake with the library                                          */
/* ------------------------------------------------------------------ */

static void send_msg(int kind, int error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void send_msg(int kind, int error, const char *fmt, ...)
{
	struct unetmap_agent_msg m;
	va_list ap;

	memset(&m, 0, sizeof m);
	m.kind = kind;
	m.error = error;
	m.pid = (int32_t)getpid();
	va_start(ap, fmt);
	vsnprintf(m.text, sizeof m.text, fmt, ap);
	va_end(ap);
	if (send(ctl_fd, &m, sizeof m, MSG_NOSIGNAL) != (ssize_t)sizeof m)
		LOG("cannot report to the library: %s", strerror(errno));
	if (kind == UNETMAP_AGENT_RESULT && error)
		LOG("%s: %s", member, m.text);
}

/* The library's go-ahead: 1 if it came. */
static int wait_go(void)
{
	struct pollfd p = { ctl_fd, POLLIN, 0 };
	char c = 0;

	while (!do_abort) {
		int n = poll(&p, 1, GO_TIMEOUT_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		return recv(ctl_fd, &c, 1, 0) == 1 && c == UNETMAP_AGENT_GO;
	}
	return 0;
}

/* Take our member off the switch (the library knows it is us). */
static void detach_self(void)
{
	struct nmreq_vale_detach body;
	struct nmreq_header h;
	int fd = open("/dev/netmap", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		LOG("/dev/netmap: %s", strerror(errno));
		return;
	}
	memset(&h, 0, sizeof h);
	memset(&body, 0, sizeof body);
	h.nr_version = NETMAP_API;
	h.nr_reqtype = NETMAP_REQ_VALE_DETACH;
	snprintf(h.nr_name, sizeof h.nr_name, "%s", member);
	h.nr_body = (uintptr_t)&body;
	if (ioctl(fd, NIOCCTRL, &h) < 0)
		LOG("detaching %s: %s", member, strerror(errno));
	close(fd);
}

/* ------------------------------------------------------------------ */
/* The interface                                                       */
/* ------------------------------------------------------------------ */

static unsigned ifindex;

static int interface_present(void)
{
	return if_nametoindex(ifname) == ifindex;
}

static int interface_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), up = 0;

	if (s < 0)
		return 0;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0)
		up = (ifr.ifr_flags & IFF_UP) != 0;
	close(s);
	return up;
}

/* Link notifications of this network namespace. */
static int netlink_open(void)
{
	struct sockaddr_nl sa;
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (s < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = RTMGRP_LINK;
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(s);
		return -1;
	}
	return s;
}

/* Read what netlink has: 1 if our interface is gone. */
static int netlink_gone(int s)
{
	char buf[16384] __attribute__((aligned(NLMSG_ALIGNTO)));

	for (;;) {
		ssize_t n = recv(s, buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS)	/* messages were lost: ask directly */
				return !interface_present();
			return 0;	/* EAGAIN: all read */
		}
		for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n)) {
			struct ifinfomsg *ifi = NLMSG_DATA(nh);

			if (nh->nlmsg_type != RTM_DELLINK && nh->nlmsg_type != RTM_NEWLINK)
				continue;
			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof *ifi) || (unsigned)ifi->ifi_index != ifindex)
				continue;
			/* deleted, or moved to another namespace */
			if (nh->nlmsg_type == RTM_DELLINK)
				return 1;
			LOG("%s is %s", ifname, (ifi->ifi_flags & IFF_UP) ? "up" : "down");
		}
	}
}

/* ------------------------------------------------------------------ */
/* Forwarding (as bridge(8))                                           */
/* ------------------------------------------------------------------ */

/* frames waiting in rx rings [first, last] */
static unsigned rx_pending(struct nmport_d *d, int first, int last)
{
	unsigned tot = 0;

	for (int i = first; i <= last; i++)
		tot += nm_ring_space(NETMAP_RXRING(d->nifp, i));
	return tot;
}

/* move up to limit slots from rx to tx, swapping buffers or copying */
static unsigned move_ring(struct netmap_ring *rx, struct netmap_ring *tx, unsigned limit)
{
	unsigned j = rx->cur, k = tx->cur, n = 0;

	if (nm_ring_space(rx) < limit)
		limit = nm_ring_space(rx);
	if (nm_ring_space(tx) < limit)
		limit = nm_ring_space(tx);
	for (; n < limit; n++) {
		struct netmap_slot *rs = &rx->slot[j], *ts = &tx->slot[k];
		uint16_t more = rs->flags & NS_MOREFRAG;

		if (zerocopy) {
			uint32_t idx = ts->buf_idx;

			ts->buf_idx = rs->buf_idx;
			rs->buf_idx = idx;
			ts->flags = (uint16_t)(more | NS_BUF_CHANGED);
			rs->flags |= NS_BUF_CHANGED;
			ts->len = rs->len;
		} else {
			uint16_t len = rs->len <= tx->nr_buf_size ? rs->len : 0;  /* too long: sent empty */

			memcpy(NETMAP_BUF(tx, ts->buf_idx), NETMAP_BUF(rx, rs->buf_idx), len);
			ts->len = len;
			ts->flags = more;
		}
		j = nm_ring_next(rx, j);
		k = nm_ring_next(tx, k);
	}
	rx->head = rx->cur = j;
	tx->head = tx->cur = k;
	return n;
}

/* from src's rx rings to dst's tx rings; returns slots moved */
static unsigned move(struct nmport_d *src, const struct rings *sr, struct nmport_d *dst,
		     const struct rings *dr)
{
	int si = sr->rx_first, di = dr->tx_first;
	unsigned m = 0;

	while (si <= sr->rx_last && di <= dr->tx_last) {
		struct netmap_ring *rx = NETMAP_RXRING(src->nifp, si);
		struct netmap_ring *tx = NETMAP_TXRING(dst->nifp, di);

		if (nm_ring_empty(rx)) {
			si++;
			continue;
		}
		if (nm_ring_empty(tx)) {
			di++;
			continue;
		}
		m += move_ring(rx, tx, BATCH);
	}
	return m;
}

/* One round over a link, both ways.  -1 if a NIC sync failed. */
static int forward(struct link *l)
{
	int err = 0;
	unsigned m;

	if ((m = move(l->nic, &l->nr, l->sw, &l->sr)) > 0) {
		l->pkts[0] += m;
		ioctl(l->sw->fd, NIOCTXSYNC, NULL);
		if (ioctl(l->nic->fd, NIOCRXSYNC, NULL) < 0)
			err = -1;
	}
	if ((m = move(l->sw, &l->sr, l->nic, &l->nr)) > 0) {
		l->pkts[1] += m;
		if (ioctl(l->nic->fd, NIOCTXSYNC, NULL) < 0)
			err = -1;
		ioctl(l->sw->fd, NIOCRXSYNC, NULL);
	}
	return err;
}

static struct rings all_rings(const struct nmport_d *d)
{
	struct rings r = { d->first_rx_ring, d->last_rx_ring, d->first_tx_ring, d->last_tx_ring };
	return r;
}

/* ------------------------------------------------------------------ */
/* Setup                                                               */
/* ------------------------------------------------------------------ */

static struct nmport_d *open_spec(const char *spec, const char *name_override)
{
	struct nmport_d *d = nmport_prepare(spec);

	if (d == NULL)
		return NULL;
	if (name_override)	/* "valeS:IF^": the name would read as host rings of valeS:IF */
		snprintf(d->hdr.nr_name, sizeof d->hdr.nr_name, "%s", name_override);
	if (nmport_open_desc(d) < 0) {
		int e = errno;
		nmport_close(d);
		errno = e;
		return NULL;
	}
	return d;
}

static const char *why(int e)
{
	return lib_err[0] ? lib_err : strerror(e);
}

int main(int argc, char **argv)
{
	struct nmport_d *nic = NULL, *sw = NULL, *swh = NULL;
	struct link links[2];
	int nlinks = 1, host = 0, ch, nl, errors = 0, gone = 0, rc = 0;
	char spec[NETMAP_REQ_IFNAMSIZ + 32], host_member[NETMAP_REQ_IFNAMSIZ];
	pid_t pid;

	while ((ch = getopt(argc, argv, "p:i:H")) != -1) {
		switch (ch) {
		case 'p': member = optarg; break;
		case 'i': ifname = optarg; break;
		case 'H': host = 1; break;
		default: die("usage: " PROG " -p valeS:IF -i IF [-H] (started by libnetmap)");
		}
	}
	if (member == NULL || ifname == NULL || optind != argc)
		die("usage: " PROG " -p valeS:IF -i IF [-H] (started by libnetmap)");
	if (fcntl(ctl_fd, F_GETFD) < 0)
		die("no handshake socket on descriptor %d: started by hand?", ctl_fd);

	/* Not the attaching process's child: it would have to reap us. */
	pid = fork();
	if (pid < 0) {
		send_msg(UNETMAP_AGENT_RESULT, errno, "fork: %s", strerror(errno));
		return 1;
	}
	if (pid > 0)
		_exit(0);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	catch_stop_signals();
	nmctx_get()->error = lib_error_cb;
	send_msg(UNETMAP_AGENT_HELLO, 0, "%s", "");

	ifindex = if_nametoindex(ifname);
	if (ifindex == 0) {
		send_msg(UNETMAP_AGENT_RESULT, ENXIO, "no interface %s here", ifname);
		return 1;
	}
	snprintf(spec, sizeof spec, "%s/x", member);
	if ((sw = open_spec(spec, NULL)) == NULL) {
		int e = errno;
		send_msg(UNETMAP_AGENT_RESULT, e, "%s: %s", member, why(e));
		return 1;
	}
	if (host) {
		snprintf(host_member, sizeof host_member, "%s^", member);
		lib_err[0] = '\0';
		if ((swh = open_spec(spec, host_member)) == NULL) {
			int e = errno;
			send_msg(UNETMAP_AGENT_RESULT, e, "%s: %s", host_member, why(e));
			goto out;
		}
	}
	snprintf(spec, sizeof spec, "netmap:%s%s/x@%u", ifname, host ? "*" : "", sw->reg.nr_mem_id);
	lib_err[0] = '\0';
	nic = nmport_open(spec);
	if (nic == NULL) {
		int e = errno;
		send_msg(UNETMAP_AGENT_RESULT, e, "%s: %s", spec, why(e));
		goto out;
	}
	if (host && (nic->reg.nr_host_rx_rings == 0 || nic->reg.nr_host_tx_rings == 0)) {
		send_msg(UNETMAP_AGENT_RESULT, EOPNOTSUPP, "%s has no host rings", spec);
		goto out;
	}
	nl = netlink_open();
	if (nl < 0) {
		int e = errno;
		send_msg(UNETMAP_AGENT_RESULT, e, "netlink: %s", strerror(e));
		goto out;
	}

	zerocopy = nic->reg.nr_mem_id == sw->reg.nr_mem_id && nic->mem == sw->mem &&
		   (swh == NULL || swh->mem == sw->mem);
	memset(links, 0, sizeof links);
	links[0].label = member;
	links[0].nic = nic;
	links[0].sw = sw;
	links[0].nr = all_rings(nic);
	links[0].sr = all_rings(sw);
	if (host) {
		/* hardware rings 0..n-1 to valeS:IF, host rings n.. to valeS:IF^ */
		links[0].nr.rx_last = nic->reg.nr_rx_rings - 1;
		links[0].nr.tx_last = nic->reg.nr_tx_rings - 1;
		links[1].label = host_member;
		links[1].nic = nic;
		links[1].sw = swh;
		links[1].nr.rx_first = nic->reg.nr_rx_rings;
		links[1].nr.rx_last = nic->reg.nr_rx_rings + nic->reg.nr_host_rx_rings - 1;
		links[1].nr.tx_first = nic->reg.nr_tx_rings;
		links[1].nr.tx_last = nic->reg.nr_tx_rings + nic->reg.nr_host_tx_rings - 1;
		links[1].sr = all_rings(swh);
		nlinks = 2;
	}

	send_msg(UNETMAP_AGENT_RESULT, 0, "%s", "");
	if (!wait_go()) {	/* the attach failed after all: the library cleans up */
		LOG("%s: no go-ahead from the library, exiting", member);
		close(nl);
		goto out;
	}
	close(ctl_fd);
	LOG("%s <-> netmap:%s%s: forwarding (%s), pid %d", member, ifname, host ? "*" : "",
	    zerocopy ? "buffer swap" : "copy", (int)getpid());

	while (!do_abort && !gone) {
		struct pollfd pfd[4];
		int n = 0, ifd, ret, nic_err = 0;

		/* as bridge(8): wait for room where frames wait, else for frames */
		pfd[n].fd = nic->fd;
		pfd[n].events = 0;
		ifd = n++;
		for (int i = 0; i < nlinks; i++) {
			struct link *l = &links[i];
			int s = n++;

			pfd[s].fd = l->sw->fd;
			pfd[s].events = 0;
			if (rx_pending(l->nic, l->nr.rx_first, l->nr.rx_last))
				pfd[s].events |= POLLOUT;
			else
				pfd[ifd].events |= POLLIN;
			if (rx_pending(l->sw, l->sr.rx_first, l->sr.rx_last))
				pfd[ifd].events |= POLLOUT;
			else
				pfd[s].events |= POLLIN;
		}
		pfd[n].fd = nl;
		pfd[n].events = POLLIN;
		n++;
		for (int i = 0; i < n; i++)
			pfd[i].revents = 0;

		ret = poll(pfd, (nfds_t)n, IDLE_MS);
		if (ret < 0 && errno != EINTR) {
			LOG("poll: %s", strerror(errno));
			rc = 1;
			break;
		}
		if (ret == 0 && !interface_present()) {	/* idle: a missed notification? */
			gone = 1;
			break;
		}
		if ((pfd[n - 1].revents & POLLIN) && netlink_gone(nl)) {
			gone = 1;
			break;
		}
		if (pfd[ifd].revents & POLLERR)
			nic_err = 1;
		for (int i = 0; i < nlinks; i++)
			if (forward(&links[i]) < 0)
				nic_err = 1;
		if (!nic_err) {
			errors = 0;
			continue;
		}
		/* A NIC sync failed.  Gone?  Else do not spin: wait a little
		 * (on netlink, to see a deletion at once) and try again. */
		if (!interface_present()) {
			gone = 1;
			break;
		}
		if (interface_up() && ++errors >= MAX_ERRORS) {
			LOG("netmap:%s keeps failing while the interface is up: giving up", ifname);
			rc = 1;
			break;
		}
		struct pollfd w = { nl, POLLIN, 0 };
		if (poll(&w, 1, ERROR_WAIT_MS) > 0 && netlink_gone(nl)) {
			gone = 1;
			break;
		}
	}
	if (gone)
		LOG("%s is gone: detaching %s", ifname, member);
	for (int i = 0; i < nlinks; i++)
		LOG("%s: %llu frames from the interface, %llu to it", links[i].label, links[i].pkts[0],
		    links[i].pkts[1]);
	close(nl);
	nmport_close(nic);
	nmport_close(swh);
	nmport_close(sw);
	/* Our descriptors are closed: the member goes at once. */
	detach_self();
	LOG("%s: stopped", member);
	return rc;

out:
	nmport_close(nic);
	nmport_close(swh);
	nmport_close(sw);
	return 1;
}
