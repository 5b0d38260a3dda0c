/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_resolve.c: out-of-band resolution of the bind = "dns" names (see
 * cp_resolve.h). Every name has two queries (A, AAAA); a query is idle, in
 * flight over UDP, in flight over TCP (connecting, writing, reading), or done
 * for this round. A round walks the names in order, keeping at most
 * CP_RESOLVE_INFLIGHT queries out; when every query is done the round ends and
 * the next one is due interval_s after this one started.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cp_log.h"
#include "cp_policy.h"
#include "cp_resolve.h"
#include "dns.h"

#define EDNS_SIZE 1232
#define TCP_BUF_MAX 65537          /* 2-byte prefix + the largest message */

enum q_state {
	Q_IDLE = 0,
	Q_UDP,
	Q_TCP_CONNECT,
	Q_TCP_READ,
	Q_DONE,
};

struct rquery {
	uint8_t state;            /* enum q_state */
	uint8_t attempts;
	uint16_t id;
	uint16_t qtype;
	uint64_t deadline_ms;
	int tcp;                  /* index in r->tcp[], -1 */
};

struct rname {
	char name[DNS_NAME_MAX + 1];
	uint16_t len;
	struct rquery q[2];       /* A, AAAA */
	uint8_t n;                /* addresses collected this round */
	struct dp_dns_res_addr a[DP_DNS_RES_ADDRS];
};

struct rtcp {
	int fd;                   /* -1: free */
	struct rname *nm;
	int qi;
	uint8_t *buf;             /* TCP_BUF_MAX */
	size_t have, sent, out_len;
	uint8_t out[2 + 320];
};

struct cp_resolve {
	cp_resolve_emit_fn emit;
	void *arg;
	bool on;
	struct sockaddr_storage ss;
	socklen_t sslen;
	uint32_t timeout_ms, retries;
	struct rname *names;
	size_t n_names;
	int udp;                  /* this round's socket, -1 between rounds */
	bool in_round;
	bool again;               /* asked for a round during this one: the next starts at its end */
	size_t cursor;            /* next query to start: name * 2 + type */
	unsigned inflight;
	uint64_t round_start_ms, next_round_ms;
	struct rtcp tcp[CP_RESOLVE_TCP_MAX];
	struct cp_resolve_stats st;
};

static const uint16_t qtypes[2] = { DNS_TYPE_A, DNS_TYPE_AAAA };

int
cp_resolve_new(cp_resolve_emit_fn emit, void *arg, struct cp_resolve **out)
{
	struct cp_resolve *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -ENOMEM;
	r->emit = emit;
	r->arg = arg;
	r->udp = -1;
	for (int i = 0; i < CP_RESOLVE_TCP_MAX; i++)
		r->tcp[i].fd = -1;
	*out = r;
	return 0;
}

static void
tcp_close(struct cp_resolve *r, struct rtcp *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	free(t->buf);
	t->buf = NULL;
	if (t->nm != NULL)
		t->nm->q[t->qi].tcp = -1;
	t->nm = NULL;
	(void)r;
}

static void
round_stop(struct cp_resolve *r)
{
	for (int i = 0; i < CP_RESOLVE_TCP_MAX; i++)
		tcp_close(r, &r->tcp[i]);
	if (r->udp >= 0)
		close(r->udp);
	r->udp = -1;
	r->in_round = false;
	r->inflight = 0;
}

void
cp_resolve_free(struct cp_resolve *r)
{
	if (r == NULL)
		return;
	round_stop(r);
	free(r->names);
	free(r);
}

size_t
cp_resolve_query(uint8_t *b, uint16_t id, const char *name, uint16_t qtype)
{
	const char *p = name;
	size_t o = 12;

	memset(b, 0, 12);
	b[0] = (uint8_t)(id >> 8);
	b[1] = (uint8_t)id;
	b[2] = 0x01;              /* RD */
	b[5] = 1;                 /* QDCOUNT */
	b[11] = 1;                /* ARCOUNT: the OPT record */
	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);

		b[o++] = (uint8_t)l;
		memcpy(b + o, p, l);
		o += l;
		p += l + (dot != NULL);
	}
	b[o++] = 0;
	b[o++] = (uint8_t)(qtype >> 8);
	b[o++] = (uint8_t)qtype;
	b[o++] = 0;
	b[o++] = DNS_CLASS_IN;
	/* OPT: root name, type 41, class = UDP payload size, TTL 0, no data */
	b[o++] = 0;
	b[o++] = 0;
	b[o++] = 41;
	b[o++] = (uint8_t)(EDNS_SIZE >> 8);
	b[o++] = (uint8_t)EDNS_SIZE;
	memset(b + o, 0, 6);
	o += 6;
	return o;
}

static uint16_t
new_id(void)
{
	uint16_t id;

	if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id))
		id = (uint16_t)rand();
	return id;
}

/* the query is finished for this round; a name whose two are done is pushed */
static void
query_done(struct cp_resolve *r, struct rname *nm, int qi)
{
	struct dp_msg_dns_resolved m;

	if (nm->q[qi].state == Q_UDP || nm->q[qi].state == Q_TCP_CONNECT ||
	    nm->q[qi].state == Q_TCP_READ)
		r->inflight--;
	nm->q[qi].state = Q_DONE;
	if (nm->q[qi ^ 1].state != Q_DONE)
		return;
	if (nm->n == 0) {
		r->st.failed++;
		return;
	}
	memset(&m, 0, sizeof(m));
	m.hdr.magic = DP_PROTO_MAGIC;
	m.hdr.version = DP_PROTO_VERSION;
	m.hdr.type = DP_MSG_DNS_RESOLVED;
	m.hdr.len = sizeof(m);
	m.op = DP_DNS_RES_ADD;
	m.n_addrs = nm->n;
	m.name_len = nm->len;
	memcpy(m.name, nm->name, nm->len);
	memcpy(m.addrs, nm->a, sizeof(m.addrs[0]) * nm->n);
	r->st.pushed++;
	r->emit(r->arg, &m);
}

static void
send_udp(struct cp_resolve *r, struct rname *nm, int qi, uint64_t now_ms)
{
	struct rquery *q = &nm->q[qi];
	uint8_t b[320];
	size_t n;

	q->id = new_id();
	n = cp_resolve_query(b, q->id, nm->name, q->qtype);
	q->attempts++;
	q->deadline_ms = now_ms + r->timeout_ms;
	r->st.queries++;
	/* a failed send is a lost datagram: the timeout resends it */
	if (send(r->udp, b, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		CP_DEBUG("dns resolver: send %s: %s", nm->name, strerror(errno));
}

static int
start_round(struct cp_resolve *r, uint64_t now_ms)
{
	int fd;

	round_stop(r);
	r->round_start_ms = now_ms;
	r->next_round_ms = now_ms + (uint64_t)r->st.interval_s * 1000u;
	fd = socket(r->ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&r->ss, r->sslen) != 0) {
		CP_WARN("dns resolver %s: %s; next round in %u s", r->st.server, strerror(errno),
			r->st.interval_s);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	r->udp = fd;
	r->in_round = true;
	r->cursor = 0;
	for (size_t i = 0; i < r->n_names; i++) {
		r->names[i].n = 0;
		for (int k = 0; k < 2; k++) {
			r->names[i].q[k].state = Q_IDLE;
			r->names[i].q[k].attempts = 0;
			r->names[i].q[k].tcp = -1;
		}
	}
	return 0;
}

static void
start_more(struct cp_resolve *r, uint64_t now_ms)
{
	while (r->in_round && r->inflight < CP_RESOLVE_INFLIGHT && r->cursor < r->n_names * 2) {
		struct rname *nm = &r->names[r->cursor / 2];
		int qi = (int)(r->cursor % 2);

		r->cursor++;
		nm->q[qi].state = Q_UDP;
		r->inflight++;
		send_udp(r, nm, qi, now_ms);
	}
}

static void
round_check_end(struct cp_resolve *r)
{
	if (r->in_round && r->inflight == 0 && r->cursor >= r->n_names * 2) {
		round_stop(r);
		r->st.rounds++;
		if (r->again) {
			/* answers sent before the dataplane connected were lost: go again */
			r->again = false;
			r->next_round_ms = 0;
		}
	}
}

/* ---- answers ---------------------------------------------------------- */

static struct rname *
find_query(struct cp_resolve *r, uint16_t id, int *qi)
{
	for (size_t i = 0; i < r->n_names && i < r->cursor / 2 + 1; i++)
		for (int k = 0; k < 2; k++)
			if (r->names[i].q[k].state == Q_UDP && r->names[i].q[k].id == id) {
				*qi = k;
				return &r->names[i];
			}
	return NULL;
}

/* a parsed answer for nm's query qi: collect, or go to TCP on TC */
static void start_tcp(struct cp_resolve *r, struct rname *nm, int qi, uint64_t now_ms);

static void
on_answer(struct cp_resolve *r, struct rname *nm, int qi, const struct dns_response *d,
	  bool over_tcp, uint64_t now_ms)
{
	uint8_t fam = qi == 0 ? 4 : 6;

	r->st.answers++;
	if (d->tc && !over_tcp) {
		r->st.tcp++;
		start_tcp(r, nm, qi, now_ms);
		return;
	}
	if (d->rcode == 0) {
		for (unsigned i = 0; i < d->n_addrs && nm->n < DP_DNS_RES_ADDRS; i++) {
			struct dp_dns_res_addr *a;

			if (d->addrs[i].family != fam)
				continue;
			a = &nm->a[nm->n++];
			memset(a, 0, sizeof(*a));
			a->family = fam;
			a->ttl = d->addrs[i].ttl;
			memcpy(a->addr, d->addrs[i].addr, 16);
		}
	}
	query_done(r, nm, qi);
}

/* parses msg and checks it answers nm/qi (id, name, type); NULL and counted if not */
static bool
answer_ok(struct cp_resolve *r, const uint8_t *msg, size_t len, const struct rname *nm,
	  int qi, struct dns_response *d)
{
	if (dns_parse_response(msg, len, d) != DNS_OK || d->id != nm->q[qi].id ||
	    d->qtype != nm->q[qi].qtype || d->qclass != DNS_CLASS_IN ||
	    d->qname_len != nm->len || memcmp(d->qname, nm->name, nm->len) != 0) {
		r->st.bad++;
		return false;
	}
	return true;
}

static void
read_udp(struct cp_resolve *r, uint64_t now_ms)
{
	static struct dns_response d;
	uint8_t b[4096];
	int turns = 256;

	while (r->udp >= 0 && turns-- > 0) {
		ssize_t n = recv(r->udp, b, sizeof(b), MSG_DONTWAIT);
		struct rname *nm;
		int qi;

		if (n < 0) {
			/* ECONNREFUSED: nothing listens there; the timeouts count it */
			break;
		}
		if (n < 2) {
			r->st.bad++;
			continue;
		}
		nm = find_query(r, (uint16_t)(b[0] << 8 | b[1]), &qi);
		if (nm == NULL) {
			r->st.bad++;      /* late (already retried) or not ours */
			continue;
		}
		if (!answer_ok(r, b, (size_t)n, nm, qi, &d))
			continue;
		on_answer(r, nm, qi, &d, false, now_ms);
	}
}

/* ---- TCP fallback ------------------------------------------------------ */

static void
start_tcp(struct cp_resolve *r, struct rname *nm, int qi, uint64_t now_ms)
{
	struct rtcp *t = NULL;
	struct rquery *q = &nm->q[qi];
	size_t n;

	for (int i = 0; i < CP_RESOLVE_TCP_MAX; i++)
		if (r->tcp[i].fd < 0) {
			t = &r->tcp[i];
			q->tcp = i;
			break;
		}
	if (t == NULL) {
		CP_WARN("dns resolver: %s truncated and %d TCP queries already out: not resolved this round",
			nm->name, CP_RESOLVE_TCP_MAX);
		query_done(r, nm, qi);
		return;
	}
	t->buf = malloc(TCP_BUF_MAX);
	t->fd = socket(r->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->buf == NULL || t->fd < 0 ||
	    (connect(t->fd, (struct sockaddr *)&r->ss, r->sslen) != 0 && errno != EINPROGRESS)) {
		CP_WARN("dns resolver: TCP to %s: %s", r->st.server, strerror(errno));
		t->nm = nm;
		t->qi = qi;
		tcp_close(r, t);
		query_done(r, nm, qi);
		return;
	}
	t->nm = nm;
	t->qi = qi;
	t->have = 0;
	t->sent = 0;
	q->id = new_id();
	n = cp_resolve_query(t->out + 2, q->id, nm->name, q->qtype);
	t->out[0] = (uint8_t)(n >> 8);
	t->out[1] = (uint8_t)n;
	t->out_len = n + 2;
	q->state = Q_TCP_CONNECT;
	q->deadline_ms = now_ms + r->timeout_ms;
	r->st.queries++;
}

static void
service_tcp(struct cp_resolve *r, struct rtcp *t, uint64_t now_ms)
{
	static struct dns_response d;
	struct rname *nm = t->nm;
	int qi = t->qi;
	struct rquery *q = &nm->q[qi];
	ssize_t n;

	if (q->state == Q_TCP_CONNECT) {
		n = send(t->fd, t->out + t->sent, t->out_len - t->sent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOTCONN)
				return;
			goto fail;
		}
		t->sent += (size_t)n;
		if (t->sent == t->out_len)
			q->state = Q_TCP_READ;
		return;
	}
	n = recv(t->fd, t->buf + t->have, TCP_BUF_MAX - t->have, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0)
		goto fail;
	t->have += (size_t)n;
	if (t->have < 2 || t->have < 2u + ((size_t)t->buf[0] << 8 | t->buf[1]))
		return;
	if (!answer_ok(r, t->buf + 2, (size_t)t->buf[0] << 8 | t->buf[1], nm, qi, &d)) {
		tcp_close(r, t);
		query_done(r, nm, qi);
		return;
	}
	tcp_close(r, t);
	on_answer(r, nm, qi, &d, true, now_ms);
	return;
fail:
	r->st.bad++;
	tcp_close(r, t);
	query_done(r, nm, qi);
}

/* ---- the loop ---------------------------------------------------------- */

static void
expire(struct cp_resolve *r, uint64_t now_ms)
{
	for (size_t i = 0; i < r->n_names && r->in_round; i++) {
		for (int k = 0; k < 2; k++) {
			struct rquery *q = &r->names[i].q[k];

			if (q->state == Q_IDLE || q->state == Q_DONE || now_ms < q->deadline_ms)
				continue;
			if (q->state == Q_TCP_CONNECT || q->state == Q_TCP_READ) {
				r->st.timeouts++;
				tcp_close(r, &r->tcp[q->tcp]);
				query_done(r, &r->names[i], k);
			} else if (q->attempts <= r->retries) {
				r->st.retries++;
				send_udp(r, &r->names[i], k, now_ms);
			} else {
				r->st.timeouts++;
				query_done(r, &r->names[i], k);
			}
		}
	}
}

void
cp_resolve_service(struct cp_resolve *r, uint64_t now_ms)
{
	if (!r->on)
		return;
	if (!r->in_round && now_ms >= r->next_round_ms && r->n_names > 0)
		start_round(r, now_ms);
	if (!r->in_round)
		return;
	read_udp(r, now_ms);
	for (int i = 0; i < CP_RESOLVE_TCP_MAX; i++)
		if (r->tcp[i].fd >= 0)
			service_tcp(r, &r->tcp[i], now_ms);
	expire(r, now_ms);
	start_more(r, now_ms);
	round_check_end(r);
}

int
cp_resolve_pollfds(const struct cp_resolve *r, struct pollfd *pfd, int max)
{
	int n = 0;

	if (!r->on || !r->in_round)
		return 0;
	if (r->udp >= 0 && n < max)
		pfd[n++] = (struct pollfd){ .fd = r->udp, .events = POLLIN };
	for (int i = 0; i < CP_RESOLVE_TCP_MAX && n < max; i++) {
		const struct rtcp *t = &r->tcp[i];

		if (t->fd < 0)
			continue;
		pfd[n++] = (struct pollfd){
			.fd = t->fd,
			.events = t->nm->q[t->qi].state == Q_TCP_CONNECT ? POLLOUT : POLLIN,
		};
	}
	return n;
}

int
cp_resolve_timeout_ms(const struct cp_resolve *r, uint64_t now_ms)
{
	uint64_t t = UINT64_MAX;

	if (!r->on || r->n_names == 0)
		return -1;
	if (!r->in_round) {
		t = r->next_round_ms;
	} else {
		for (size_t i = 0; i < r->n_names; i++)
			for (int k = 0; k < 2; k++) {
				const struct rquery *q = &r->names[i].q[k];

				if (q->state != Q_IDLE && q->state != Q_DONE && q->deadline_ms < t)
					t = q->deadline_ms;
			}
		if (r->inflight < CP_RESOLVE_INFLIGHT && r->cursor < r->n_names * 2)
			t = now_ms;
	}
	if (t == UINT64_MAX)
		return -1;
	if (t <= now_ms)
		return 0;
	return t - now_ms > 60000 ? 60000 : (int)(t - now_ms);
}

void
cp_resolve_kick(struct cp_resolve *r, uint64_t now_ms)
{
	if (!r->on)
		return;
	if (!r->in_round)
		r->next_round_ms = now_ms;
	else
		r->again = true;
}

static void
emit_remove(struct cp_resolve *r, const char *name, size_t len)
{
	struct dp_msg_dns_resolved m;

	memset(&m, 0, sizeof(m));
	m.hdr.magic = DP_PROTO_MAGIC;
	m.hdr.version = DP_PROTO_VERSION;
	m.hdr.type = DP_MSG_DNS_RESOLVED;
	m.hdr.len = sizeof(m);
	m.op = DP_DNS_RES_REMOVE;
	m.name_len = (uint16_t)len;
	memcpy(m.name, name, len);
	r->st.removed++;
	r->emit(r->arg, &m);
}

int
cp_resolve_configure(struct cp_resolve *r, const struct cp_resolve_conf *c, uint64_t now_ms,
		     char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct rname *names = NULL;
	socklen_t sslen = 0;
	size_t n = 0, i, k;
	bool same;

	if (c->server != NULL && cp_dns_server_parse(c->server, &ss, &sslen, err, errlen) != 0)
		return -EINVAL;
	if (c->server != NULL) {
		n = c->n_names < c->max_names ? c->n_names : c->max_names;
		names = calloc(n ? n : 1, sizeof(*names));
		if (names == NULL) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		for (i = 0; i < n; i++) {
			size_t l = strlen(c->names[i]);

			if (l == 0 || l > DNS_NAME_MAX) {
				snprintf(err, errlen, "name %zu: length %zu", i, l);
				free(names);
				return -EINVAL;
			}
			memcpy(names[i].name, c->names[i], l);
			names[i].len = (uint16_t)l;
			names[i].q[0].qtype = qtypes[0];
			names[i].q[1].qtype = qtypes[1];
			names[i].q[0].tcp = names[i].q[1].tcp = -1;
		}
	}
	/* names that left the policy: unbound now */
	for (i = 0; i < r->n_names; i++) {
		for (k = 0; k < n; k++)
			if (names[k].len == r->names[i].len &&
			    memcmp(names[k].name, r->names[i].name, names[k].len) == 0)
				break;
		if (k == n)
			emit_remove(r, r->names[i].name, r->names[i].len);
	}
	same = r->on && c->server != NULL && sslen == r->sslen &&
	       memcmp(&ss, &r->ss, sslen) == 0 && n == r->n_names;
	for (i = 0; same && i < n; i++)
		same = names[i].len == r->names[i].len &&
		       memcmp(names[i].name, r->names[i].name, names[i].len) == 0;
	r->st.interval_s = c->interval_s;
	r->timeout_ms = c->timeout_ms;
	r->retries = c->retries;
	r->st.max_names = c->max_names;
	if (same) {
		free(names);
		/* the next round follows the (maybe new) interval */
		if (!r->in_round)
			r->next_round_ms = r->round_start_ms + (uint64_t)c->interval_s * 1000u;
		return 0;
	}
	round_stop(r);
	free(r->names);
	r->names = names;
	r->n_names = n;
	r->on = c->server != NULL;
	r->st.configured = r->on;
	r->st.names = (uint32_t)n;
	r->st.names_capped = c->server != NULL && c->n_names > n ? (uint32_t)(c->n_names - n) : 0;
	snprintf(r->st.server, sizeof(r->st.server), "%s", c->server != NULL ? c->server : "");
	if (r->on) {
		r->ss = ss;
		r->sslen = sslen;
		r->next_round_ms = now_ms;
	}
	return 0;
}

void
cp_resolve_stats(const struct cp_resolve *r, struct cp_resolve_stats *out)
{
	*out = r->st;
}
