/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_ctl.c: the control loop's socket work (see dp_ctl.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "cpm.h"
#include "dp_ctl.h"
#include "dp_dns.h"
#include "dp_event.h"
#include "dp_log.h"
#include "dp_policy.h"
#include "dp_worker.h"

RTE_LOG_REGISTER_SUFFIX(dp_logtype_ctl, ctl, INFO);

#define RECV_CAP 4096            /* larger than any cp -> dp message */
#define MAX_FDS 4

static void
hdr_init(struct dp_msg_hdr *h, uint16_t type, uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->magic = DP_PROTO_MAGIC;
	h->version = DP_PROTO_VERSION;
	h->type = type;
	h->len = len;
}

/* Send one datagram; 0, -EAGAIN, or -errno (connection to drop). */
static int
send_msg(struct dp_ctl *c, const void *m, size_t len)
{
	ssize_t n;

	if (c->fd < 0)
		return -ENOTCONN;
	n = send(c->fd, m, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -EAGAIN;
	return n < 0 ? -errno : -EMSGSIZE;
}

static void
disconnect(struct dp_ctl *c, const char *why)
{
	if (c->fd < 0)
		return;
	DP_LOG(ctl, NOTICE, "control plane connection closed: %s", why);
	close(c->fd);
	c->fd = -1;
	c->sent = 0;             /* what was not acknowledged goes again */
	c->out_len = c->retain_count;
	if (c->inherited) {
		DP_LOG(ctl, NOTICE, "--ctl-fd closed: stopping");
		c->app->quit = 1;
	}
	c->next_connect_ns = dp_realtime_ns() + DP_NS_PER_S;
}

static int
send_hello(struct dp_ctl *c)
{
	struct dp_proc *app = c->app;
	struct dp_msg_hello h;
	struct dp_gen *g = dp_policy_live(app);

	memset(&h, 0, sizeof(h));
	hdr_init(&h.hdr, DP_MSG_HELLO, sizeof(h));
	memcpy(h.boot_id, app->boot_id, 16);
	h.pid = (uint32_t)getpid();
	h.n_workers = (uint16_t)app->cfg.n_workers;
	h.n_ports = app->n_ports;
	if (g != NULL) {
		h.policy_gen = g->gen;
		memcpy(h.policy_sha256, g->sha256, 32);
	}
	for (unsigned int i = 0; i < app->cfg.n_workers; i++)
		h.next_wseq[i] = __atomic_load_n(&app->workers[i]->evq.next_wseq,
						 __ATOMIC_RELAXED);
	h.replay = app->cfg.mode == DP_MODE_REPLAY;
	return send_msg(c, &h, sizeof(h));
}

static void
on_connected(struct dp_ctl *c)
{
	int ret = send_hello(c);

	if (ret != 0) {
		disconnect(c, "HELLO not sent");
		return;
	}
	/* what was sent but not acknowledged goes again (the cp de-duplicates) */
	c->sent = 0;
	c->out_len = c->retain_count;
}

static void
try_connect(struct dp_ctl *c)
{
	struct sockaddr_un sa;
	uint64_t now = dp_realtime_ns();
	int fd;

	if (c->inherited || now < c->next_connect_ns)
		return;
	c->next_connect_ns = now + DP_NS_PER_S;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		DP_LOG(ctl, ERR, "socket: %s", strerror(errno));
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", c->app->cfg.ctl_path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (!c->connect_logged)
			DP_LOG(ctl, NOTICE, "cannot connect to %s (%s); retrying every second, "
			       "enforcing the last policy", c->app->cfg.ctl_path, strerror(errno));
		c->connect_logged = 1;
		close(fd);
		return;
	}
	c->connect_logged = 0;
	c->fd = fd;
	DP_LOG(ctl, NOTICE, "connected to the control plane at %s", c->app->cfg.ctl_path);
	on_connected(c);
}

int
dp_ctl_init(struct dp_ctl *c, struct dp_proc *app)
{
	memset(c, 0, sizeof(*c));
	c->app = app;
	c->fd = -1;
	c->retain_cap = app->cfg.event_retain > 0 ? app->cfg.event_retain : DP_CTL_RETAIN;
	c->retain = calloc(c->retain_cap, sizeof(*c->retain));
	if (c->retain == NULL)
		return -ENOMEM;
	/* the resolved table: this thread is its only writer (DP_MSG_DNS_RESOLVED) */
	if (dp_dns_resolved_init(DP_DNS_ENTRIES_DEFAULT, DP_DNS_GRACE_DEFAULT) != 0) {
		free(c->retain);
		c->retain = NULL;
		return -ENOMEM;
	}
	if (app->cfg.ctl_fd >= 0) {
		c->inherited = 1;
		c->fd = app->cfg.ctl_fd;
		if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) != 0 ||
		    fcntl(c->fd, F_SETFD, FD_CLOEXEC) != 0) {
			DP_LOG(ctl, ERR, "--ctl-fd %d: %s", c->fd, strerror(errno));
			return -EBADF;
		}
		on_connected(c);
	}
	return 0;
}

void
dp_ctl_fini(struct dp_ctl *c)
{
	dp_policy_load_free(c->load_next);
	dp_policy_load_free(c->load);           /* waits for its thread */
	c->load = c->load_next = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->retain);
	c->retain = NULL;
	dp_dns_resolved_fini();
}

static struct dp_event *
retain_at(struct dp_ctl *c, uint32_t i)
{
	return &c->retain[(c->retain_head + i) % c->retain_cap];
}

/* Drop acknowledged events from the front of the retention. */
static void
retain_ack(struct dp_ctl *c)
{
	while (c->retain_count > 0) {
		const struct dp_event *ev = retain_at(c, 0);

		if (ev->worker >= DP_MAX_WORKERS || ev->wseq > c->acked[ev->worker])
			break;
		c->retain_head = (c->retain_head + 1) % c->retain_cap;
		c->retain_count--;
		if (c->sent > 0)
			c->sent--;
	}
	c->out_len = c->retain_count - c->sent;
}

/*
 * Move events from the workers' rings into the retention while it has room
 * (round robin, connected or not). Tells the workers why they lose events
 * when it is full.
 */
static unsigned int
drain_rings(struct dp_ctl *c)
{
	struct dp_proc *app = c->app;
	unsigned int i, n, moved = 0, turns = 64;
	uint8_t why;

	while (c->retain_count < c->retain_cap && turns-- > 0) {
		unsigned int got = 0;

		for (i = 0; i < app->cfg.n_workers && c->retain_count < c->retain_cap; i++) {
			struct dp_worker *w = app->workers[(c->rr + i) % app->cfg.n_workers];
			uint32_t tail = (c->retain_head + c->retain_count) % c->retain_cap;
			uint32_t room = c->retain_cap - c->retain_count;

			/* contiguous slots up to the end of the array */
			if (room > c->retain_cap - tail)
				room = c->retain_cap - tail;
			if (room > DP_EVENTS_PER_MSG)
				room = DP_EVENTS_PER_MSG;
			n = rte_ring_dequeue_burst_elem(w->evq.r, &c->retain[tail],
							sizeof(struct dp_event), room, NULL);
			c->retain_count += n;
			got += n;
		}
		c->rr++;
		moved += got;
		if (got == 0)
			break;
	}
	why = 0;
	if (c->retain_count >= c->retain_cap)
		why = 1 + (c->fd >= 0 ? DP_GAP_SPOOL_FULL : DP_GAP_CTRLPLANE_DOWN);
	dp_event_set_backlog(why);
	c->out_len = c->retain_count - c->sent;
	return moved;
}

static void
batch_finish(struct dp_ctl *c, uint32_t count)
{
	c->out.m.count = count;
	c->out.m.pad = 0;
	memcpy(c->out.m.boot_id, c->app->boot_id, 16);
	hdr_init(&c->out.m.hdr, DP_MSG_EVENTS,
		 (uint32_t)(sizeof(struct dp_msg_events) + (size_t)count * sizeof(struct dp_event)));
}

/* Send what the retention holds beyond c->sent, in order. */
static unsigned int
send_events(struct dp_ctl *c)
{
	unsigned int turns = 256, sent = 0;
	uint32_t count;
	int ret;

	while (c->fd >= 0 && turns-- > 0 && c->sent < c->retain_count) {
		count = 0;
		while (c->sent + count < c->retain_count && count < DP_EVENTS_PER_MSG) {
			c->out.m.ev[count] = *retain_at(c, c->sent + count);
			count++;
		}
		batch_finish(c, count);
		ret = send_msg(c, c->out.raw, c->out.m.hdr.len);
		if (ret == -EAGAIN)
			break;            /* the socket wakes poll() when it can take more */
		if (ret != 0) {
			char why[64];

			snprintf(why, sizeof(why), "send: %s", strerror(-ret));
			disconnect(c, why);
			break;
		}
		c->sent += count;
		sent += count;
	}
	c->out_len = c->retain_count - c->sent;
	return sent;
}

/* DNS counters: the workers' tables summed, and the resolved table */
static void
dns_status(const struct dp_proc *app, struct dp_dns_status *d)
{
	struct dp_dns_resolved_stats rs;
	struct dp_dns_stats st;
	unsigned int i, k;

	memset(d, 0, sizeof(*d));
	for (i = 0; i < app->cfg.n_workers; i++) {
		const struct dp_dns_table *t = dp_dns_table_of(i);

		if (t == NULL)
			continue;
		dp_dns_stats_get(t, &st);
		d->responses += st.responses;
		d->recorded += st.recorded;
		d->refreshed += st.refreshed;
		d->evicted += st.evicted;
		d->reused += st.reused;
		for (k = 0; k < 8; k++)
			d->bad[k] += st.bad[k];
		d->tcp_messages += st.tcp_messages;
		d->tcp_skipped += st.tcp_skipped;
		d->https_allowed += st.https_allowed;
		d->https_refused += st.https_refused;
		d->https_stripped += st.https_stripped;
		d->https_unstrippable += st.https_unstrippable;
	}
	dp_dns_resolved_stats_get((uint32_t)(dp_realtime_ns() / DP_NS_PER_S), &rs);
	d->res_updates = rs.updates;
	d->res_removes = rs.removes;
	d->res_entries = rs.entries;
	d->res_capacity = rs.capacity;
	d->res_recorded = rs.recorded;
	d->res_refreshed = rs.refreshed;
	d->res_evicted = rs.evicted;
	d->res_reused = rs.reused;
}

static void
send_stats(struct dp_ctl *c)
{
	struct dp_proc *app = c->app;
	struct dp_msg_stats *s;
	struct dp_gen *g = dp_policy_live(app);
	unsigned int i;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return;
	hdr_init(&s->hdr, DP_MSG_STATS, sizeof(*s));
	memcpy(s->boot_id, app->boot_id, 16);
	s->uptime_ns = dp_realtime_ns() - app->start_ns;
	if (g != NULL) {
		s->policy_gen = g->gen;
		memcpy(s->policy_sha256, g->sha256, 32);
		s->enforcing = g->set->mode == CPM_MODE_ENFORCE;
	}
	s->mode = (uint8_t)app->cfg.mode;
	s->n_workers = (uint16_t)app->cfg.n_workers;
	s->n_ports = app->n_ports;
	s->events_pending = dp_ctl_pending(c);
	for (i = 0; i < app->n_ports; i++) {
		struct rte_eth_stats st;

		rte_eth_dev_get_name_by_port(app->port_id[i], s->ports[i].name);
		s->ports[i].name[sizeof(s->ports[i].name) - 1] = '\0';
		if (rte_eth_stats_get(app->port_id[i], &st) == 0) {
			s->ports[i].ipackets = st.ipackets;
			s->ports[i].opackets = st.opackets;
			s->ports[i].ibytes = st.ibytes;
			s->ports[i].obytes = st.obytes;
			s->ports[i].imissed = st.imissed;
			s->ports[i].ierrors = st.ierrors;
			s->ports[i].oerrors = st.oerrors;
			s->ports[i].rx_nombuf = st.rx_nombuf;
		}
	}
	/* per worker, as the workers keep them; the reader sums */
	for (i = 0; i < app->cfg.n_workers; i++)
		for (unsigned int k = 0; k < DP_C_MAX; k++)
			s->counters[i][k] = __atomic_load_n(&app->workers[i]->c[k],
							    __ATOMIC_RELAXED);
	if (g != NULL) {
		s->rule_hits_gen = g->gen;
		s->rule_hits_n = RTE_MIN(g->n_rules, (uint32_t)DP_RULE_HITS_MAX);
		for (uint32_t r = 0; r < g->n_rules; r++) {
			uint64_t h = dp_gen_hits(g, app->cfg.n_workers, r);

			if (r < s->rule_hits_n)
				s->rule_hits[r] = h;
			else
				s->rule_hits_other += h;
		}
		s->rule_hits_none = dp_gen_hits(g, app->cfg.n_workers, g->n_rules);
	}
	dns_status(app, &s->dns);
	if (send_msg(c, s, sizeof(*s)) == -EAGAIN)
		DP_LOG(ctl, WARNING, "STATS not sent: socket full");
	free(s);
}

static void
policy_answer(struct dp_ctl *c, uint64_t gen, int ret, const char *err)
{
	if (ret == 0) {
		struct dp_msg_policy_ack a;

		memset(&a, 0, sizeof(a));
		hdr_init(&a.hdr, DP_MSG_POLICY_ACK, sizeof(a));
		a.gen = gen;
		send_msg(c, &a, sizeof(a));
	} else {
		struct dp_msg_policy_nack n;

		DP_LOG(policy, ERR, "policy generation %llu rejected, keeping the current one: %s",
		       (unsigned long long)gen, err);
		memset(&n, 0, sizeof(n));
		hdr_init(&n.hdr, DP_MSG_POLICY_NACK, sizeof(n));
		n.gen = gen;
		snprintf(n.reason, sizeof(n.reason), "%s", err);
		send_msg(c, &n, sizeof(n));
	}
}

/* Start l in the loader thread, or answer why not. */
static void
policy_start(struct dp_ctl *c, struct dp_policy_load *l)
{
	char err[DP_REASON_TEXT_MAX];
	int ret = dp_policy_load_start(l);

	if (ret == 0) {
		c->load = l;
		return;
	}
	snprintf(err, sizeof(err), "cannot start the loader thread: %s", strerror(-ret));
	policy_answer(c, dp_policy_load_gen(l), ret, err);
	dp_policy_load_free(l);
}

/*
 * POLICY: built aside by the loader thread (dp_policy.h) while this thread
 * keeps draining events; answered when done (policy_poll). One load at a
 * time: a POLICY that comes meanwhile waits, and a newer one replaces it.
 */
static void
on_policy(struct dp_ctl *c, const struct dp_msg_policy *m, int fd)
{
	struct dp_policy_load *l = dp_policy_load_new(c->app, fd, m);
	char err[DP_REASON_TEXT_MAX];

	if (l == NULL) {
		policy_answer(c, m->gen, -ENOMEM, "out of memory (or descriptors) for the load");
		return;
	}
	if (c->load == NULL) {
		policy_start(c, l);
		return;
	}
	if (c->load_next != NULL) {
		snprintf(err, sizeof(err), "superseded by generation %llu before it was loaded",
			 (unsigned long long)m->gen);
		policy_answer(c, dp_policy_load_gen(c->load_next), -ECANCELED, err);
		dp_policy_load_free(c->load_next);
	}
	c->load_next = l;
}

/* A load finished: make it live (or say why not), start the next. Never blocks. */
static void
policy_poll(struct dp_ctl *c)
{
	char err[DP_REASON_TEXT_MAX];
	uint64_t gen;
	int ret;

	if (c->load == NULL || !dp_policy_load_done(c->load))
		return;
	gen = dp_policy_load_gen(c->load);
	err[0] = '\0';
	ret = dp_policy_load_finish(c->app, c->load, err, sizeof(err));
	c->load = NULL;
	policy_answer(c, gen, ret, err);
	if (c->load_next != NULL) {
		struct dp_policy_load *l = c->load_next;

		c->load_next = NULL;
		policy_start(c, l);
	}
}

static void
garbage(struct dp_ctl *c, const char *why, ssize_t len)
{
	c->garbage++;
	DP_LOG(ctl, WARNING, "dropped a malformed control message (%zd bytes): %s", len, why);
}

/* Out-of-band answers for one name into the resolved table (dp_dns.h). */
static void
on_dns_resolved(struct dp_ctl *c, const struct dp_msg_dns_resolved *m, ssize_t len)
{
	uint8_t fam[DP_DNS_RES_ADDRS], addr[DP_DNS_RES_ADDRS][16];
	uint32_t ttl[DP_DNS_RES_ADDRS];
	uint32_t now_s = (uint32_t)(dp_realtime_ns() / DP_NS_PER_S);
	struct dp_gen *g;
	unsigned int i;

	if (m->name_len == 0 || m->name_len > 253 || m->name[m->name_len] != '\0' ||
	    memchr(m->name, '\0', m->name_len) != NULL) {
		garbage(c, "DNS_RESOLVED: bad name length", len);
		return;
	}
	if (m->op == DP_DNS_RES_REMOVE && m->n_addrs == 0) {
		dp_dns_resolved_remove(m->name, m->name_len);
		return;
	}
	if (m->op != DP_DNS_RES_ADD || m->n_addrs == 0 || m->n_addrs > DP_DNS_RES_ADDRS) {
		garbage(c, "DNS_RESOLVED: bad op or address count", len);
		return;
	}
	/* the live policy's dns.grace applies to each new answer */
	g = dp_policy_live(c->app);
	if (g != NULL)
		dp_dns_resolved_set_grace(g->set->dns_grace_s);
	for (i = 0; i < m->n_addrs; i++) {
		fam[i] = m->addrs[i].family;
		memcpy(addr[i], m->addrs[i].addr, 16);
		ttl[i] = m->addrs[i].ttl;
		if (fam[i] != 4 && fam[i] != 6) {
			garbage(c, "DNS_RESOLVED: address family not 4 or 6", len);
			return;
		}
	}
	dp_dns_resolved_add(m->name, m->name_len, m->n_addrs, fam,
			    (const uint8_t (*)[16])addr, ttl, now_s);
}


/* Validate one datagram exactly and act on it. fds are closed unless used. */
static void
handle(struct dp_ctl *c, const uint8_t *buf, ssize_t len, int *fds, int nfds)
{
	struct dp_msg_hdr h;
	size_t need;
	int i;

	if ((size_t)len < sizeof(h)) {
		garbage(c, "shorter than the header", len);
		goto out;
	}
	memcpy(&h, buf, sizeof(h));
	if (h.magic != DP_PROTO_MAGIC || h.version != DP_PROTO_VERSION) {
		garbage(c, "bad magic or version", len);
		goto out;
	}
	if (h.len != (uint32_t)len) {
		garbage(c, "header length differs from the datagram length", len);
		goto out;
	}
	switch (h.type) {
	case DP_MSG_POLICY:
		need = sizeof(struct dp_msg_policy);
		break;
	case DP_MSG_EVENTS_ACK:
		need = sizeof(struct dp_msg_events_ack);
		break;
	case DP_MSG_STATS_REQ:
	case DP_MSG_QUIT:
		need = sizeof(struct dp_msg_hdr);
		break;
	case DP_MSG_DNS_RESOLVED:
		need = sizeof(struct dp_msg_dns_resolved);
		break;
	default:
		garbage(c, "not a control-plane -> dataplane type", len);
		goto out;
	}
	if ((size_t)len != need) {
		garbage(c, "length differs from what its type requires", len);
		goto out;
	}
	if ((h.type == DP_MSG_POLICY) != (nfds == 1)) {
		garbage(c, h.type == DP_MSG_POLICY ? "POLICY without exactly one fd" :
		       "unexpected file descriptor", len);
		goto out;
	}
	switch (h.type) {
	case DP_MSG_POLICY: {
		struct dp_msg_policy m;

		memcpy(&m, buf, sizeof(m));
		on_policy(c, &m, fds[0]);
		break;
	}
	case DP_MSG_EVENTS_ACK: {
		struct dp_msg_events_ack a;

		memcpy(&a, buf, sizeof(a));
		for (i = 0; i < DP_MAX_WORKERS; i++)
			if (a.acked_wseq[i] > c->acked[i])
				c->acked[i] = a.acked_wseq[i];
		retain_ack(c);
		break;
	}
	case DP_MSG_STATS_REQ:
		send_stats(c);
		break;
	case DP_MSG_QUIT:
		DP_LOG(ctl, NOTICE, "QUIT from the control plane");
		c->app->quit = 1;
		break;
	case DP_MSG_DNS_RESOLVED:
		on_dns_resolved(c, (const struct dp_msg_dns_resolved *)buf, len);
		break;
	}
out:
	/* a POLICY's memfd is mapped by now: every descriptor is closed here */
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

static void
receive(struct dp_ctl *c)
{
	uint8_t buf[RECV_CAP];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * MAX_FDS)];
	} cb;
	int turns = 16;

	while (c->fd >= 0 && turns-- > 0) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cb.b, .msg_controllen = sizeof(cb.b),
		};
		struct cmsghdr *cm;
		int fds[MAX_FDS], nfds = 0;
		ssize_t n;

		n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				disconnect(c, strerror(errno));
			return;
		}
		if (n == 0) {
			disconnect(c, "end of file");
			return;
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t k = 0; k < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); k++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
				if (nfds < MAX_FDS)
					fds[nfds++] = fd;
				else
					close(fd);
			}
		}
		if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
			garbage(c, "truncated", n);
			for (int i = 0; i < nfds; i++)
				close(fds[i]);
			continue;
		}
		handle(c, buf, n, fds, nfds);
	}
}

uint64_t
dp_ctl_pending(const struct dp_ctl *c)
{
	const struct dp_proc *app = c->app;
	uint64_t n = c->retain_count;    /* kept until acknowledged */

	for (unsigned int i = 0; i < app->cfg.n_workers; i++)
		n += rte_ring_count(app->workers[i]->evq.r);
	return n;
}

int
dp_ctl_send_drained(struct dp_ctl *c)
{
	struct dp_msg_hdr h;

	hdr_init(&h, DP_MSG_DRAINED, sizeof(h));
	return send_msg(c, &h, sizeof(h));
}

unsigned int
dp_ctl_step(struct dp_ctl *c, int timeout_ms)
{
	struct pollfd pfd;
	unsigned int sent = 0;

	if (c->fd < 0)
		try_connect(c);
	sent = drain_rings(c);
	if (c->fd >= 0) {
		pfd.fd = c->fd;
		pfd.events = POLLIN | (c->out_len > 0 ? POLLOUT : 0);
		pfd.revents = 0;
		if (poll(&pfd, 1, timeout_ms) > 0 && (pfd.revents & (POLLERR | POLLHUP)) &&
		    !(pfd.revents & POLLIN))
			disconnect(c, "hang-up");
		receive(c);
		drain_rings(c);
		sent += send_events(c);
	} else if (timeout_ms > 0 && sent == 0) {
		poll(NULL, 0, timeout_ms);
	}
	policy_poll(c);
	dp_policy_reclaim(c->app);
	return sent;
}
