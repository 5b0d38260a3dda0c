/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_quic.c: QUIC flows in the worker (see dp_quic.h, docs/quic.md).
 *
 * A pending QUIC flow owns an inspection slot (dp_hold.h): the slot's
 * reassembly memory is the decoder's CRYPTO buffer and bitmap, its segment
 * list holds the client's datagrams (copies in the hold pool) numbered in
 * arrival order, so that the allow path (dp_verdict.c) releases them in
 * that order. The decoder state itself (struct quic_flow) lives next to
 * the slots, one per slot.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "cpm.h"
#include "dp_inspect.h"
#include "dp_policy.h"
#include "dp_quic.h"
#include "dp_verdict.h"
#include "dp_worker.h"
#include "ja4.h"
#include "quic.h"

#define AN(x) (1u << (x))

/* RFC 9000 14.1: a client pads every datagram carrying an Initial to 1200
 * bytes, and a server discards smaller ones. */
#define QUIC_MIN_INITIAL_DGRAM 1200

enum dp_quic_conn_state {
	QC_NONE = 0,             /* the flow was never inspected as QUIC */
	QC_INSPECT,              /* inspected; no Initial authenticated (no keys) */
	QC_KEYS,                 /* keys of the connection the verdict was made for */
};

/* What quic_new_connection needs of a decided flow (80 bytes); a free one is on a list. */
struct dp_quic_conn {
	int64_t largest_pn;
	uint32_t version;        /* free: index + 1 of the next free record, 0 none */
	uint8_t state;           /* enum dp_quic_conn_state */
	uint8_t server_done;     /* the server showed it holds a complete hello */
	uint8_t dcid_len;
	uint8_t dcid[QUIC_CID_MAX];
	uint8_t key[16], iv[12], hp[16];
};

int
dp_quic_init(struct dp_quic *q, uint32_t n_slots, uint32_t n_conns, int socket)
{
	memset(q, 0, sizeof(*q));
	if (n_conns == 0)
		return -EINVAL;
	q->ctx = quic_ctx_new();
	if (q->ctx == NULL)
		return -EIO;
	q->qf = rte_zmalloc_socket("dp_quic_flows", (size_t)n_slots * sizeof(*q->qf),
				   RTE_CACHE_LINE_SIZE, socket);
	q->conn = rte_zmalloc_socket("dp_quic_conns", (size_t)n_conns * sizeof(*q->conn),
				     RTE_CACHE_LINE_SIZE, socket);
	if (q->qf == NULL || q->conn == NULL) {
		dp_quic_fini(q);
		return -ENOMEM;
	}
	q->n_slots = n_slots;
	q->n_conns = n_conns;
	for (uint32_t i = 0; i < n_conns; i++)
		q->conn[i].version = i + 1 < n_conns ? i + 2 : 0;
	q->free_conn = 1;
	return 0;
}

void
dp_quic_fini(struct dp_quic *q)
{
	quic_ctx_free(q->ctx);
	rte_free(q->qf);
	rte_free(q->conn);
	memset(q, 0, sizeof(*q));
}

/* The flow's connection record, NULL if it has none. */
static inline struct dp_quic_conn *
conn_of(struct dp_worker *w, const struct dp_flow *f)
{
	/* (a TCP flow's union member is its side record, dp_flow.h) */
	return f->key.l4proto == IPPROTO_UDP && f->quic != 0 ? &w->quic.conn[f->quic - 1] : NULL;
}

/* Take a record for f (state QC_INSPECT): 0, or -ENOSPC. */
static int
conn_get(struct dp_quic *q, struct dp_flow *f)
{
	struct dp_quic_conn *c;
	uint32_t id = q->free_conn;

	if (id == 0)
		return -ENOSPC;
	c = &q->conn[id - 1];
	q->free_conn = c->version;
	memset(c, 0, sizeof(*c));
	c->state = QC_INSPECT;
	c->largest_pn = -1;
	f->quic = id;
	q->conns_in_use++;
	return 0;
}

void
dp_quic_flow_end(struct dp_worker *w, struct dp_flow *f)
{
	struct dp_quic *q = &w->quic;
	struct dp_quic_conn *c = conn_of(w, f);

	if (c == NULL)
		return;
	c->state = QC_NONE;
	c->version = q->free_conn;
	q->free_conn = f->quic;
	f->quic = 0;
	q->conns_in_use--;
}

static inline const uint8_t *
payload(const struct dp_pktctx *pc)
{
	return pc->data + pc->p.payload_off;
}

/* 1 if the datagram is a QUIC v1/v2 Initial of a client's size. */
static int
is_initial(const uint8_t *d, size_t len)
{
	return len >= QUIC_MIN_INITIAL_DGRAM && quic_peek(d, len, NULL) == QUIC_PT_INITIAL;
}

void
dp_quic_flow_new(struct dp_worker *w, struct dp_flow *f, const struct dp_pktctx *pc)
{
	/* what ended the connection this datagram replaces (dp_quic_decided) */
	dp_fi(w, f)->anomalies |= w->quic.carry_an;
	w->quic.carry_an = 0;
	if (is_initial(payload(pc), pc->p.payload_len))
		f->app = DP_APP_QUIC;
}

/* Keep the connection record in step with the decoder (keys, largest pn). */
static void
conn_update(struct dp_quic_conn *c, const struct quic_flow *qf)
{
	if (c == NULL)
		return;
	if (!qf->have_keys) {
		c->state = QC_INSPECT;
		return;
	}
	if (c->state != QC_KEYS) {
		c->state = QC_KEYS;
		c->version = qf->version;
		c->dcid_len = qf->dcid_len;
		memcpy(c->dcid, qf->dcid, qf->dcid_len);
		memcpy(c->key, qf->key, sizeof(c->key));
		memcpy(c->iv, qf->iv, sizeof(c->iv));
		memcpy(c->hp, qf->hp, sizeof(c->hp));
	}
	c->largest_pn = qf->largest_pn;
}

/* quic_new_connection() over the connection record. */
static int
new_connection(struct dp_worker *w, const struct dp_quic_conn *c, const uint8_t *d, size_t len)
{
	struct quic_flow tmp;

	memset(&tmp, 0, sizeof(tmp));
	tmp.have_keys = 1;
	tmp.version = c->version;
	tmp.dcid_len = c->dcid_len;
	memcpy(tmp.dcid, c->dcid, c->dcid_len);
	memcpy(tmp.key, c->key, sizeof(tmp.key));
	memcpy(tmp.iv, c->iv, sizeof(tmp.iv));
	memcpy(tmp.hp, c->hp, sizeof(tmp.hp));
	tmp.largest_pn = c->largest_pn;
	return quic_new_connection(w->quic.ctx, &tmp, d, len);
}

int
dp_quic_decided(struct dp_worker *w, struct dp_flow *f, const struct dp_pktctx *pc, int dir)
{
	const uint8_t *d = payload(pc);
	size_t len = pc->p.payload_len;
	struct dp_quic_conn *c;
	enum quic_result r;

	c = conn_of(w, f);
	if (c == NULL || len == 0)
		return 0;               /* decided without inspection (L3/L4 rule, quic deny) */
	if (dir == DP_DIR_S2C) {
		/* a Handshake or 1-RTT packet: the server has the hello that was verified */
		if (!c->server_done && quic_server_past_hello(d, len)) {
			c->server_done = 1;
			if (f->flags & DP_FF_VERIFY)
				dp_verify_done(w, f);
		}
		return 0;
	}
	if (!(d[0] & 0x80))
		return 0;               /* short headers belong to the connection */
	switch (c->state) {
	case QC_INSPECT:
		/* decided without keys: an Initial we can read was never checked */
		return is_initial(d, len);
	case QC_KEYS:
		break;
	default:
		return 0;
	}
	if (new_connection(w, c, d, len))
		return 1;
	if (f->flags & DP_FF_VERIFY) {
		/* allowed, the server not past the hello yet: the same keys must carry the same hello */
		r = quic_verify_client(w->quic.ctx, &w->quic.qf[dp_fi(w, f)->slot], d, len);
		c->largest_pn = w->quic.qf[dp_fi(w, f)->slot].largest_pn;
		if (r == QUIC_CONFLICT) {
			w->quic.carry_an = AN(DP_AN_OVERLAP_CONFLICT);
			return 1;
		}
		return 0;
	}
	/*
	 * Allowed and enforced, the verification over (hold timeout, slot taken)
	 * before the server showed it holds the hello: an Initial may carry
	 * another one, so it is decided anew.
	 */
	return f->state == DP_FS_ALLOWED && (f->flags & DP_FF_ENFORCED) && !w->replay &&
	       !c->server_done && is_initial(d, len);
}

void
dp_quic_partial(struct dp_worker *w, const struct dp_flow *f, struct dp_insp_out *io)
{
	memset(io, 0, sizeof(*io));
	io->app = f->app;
}

/* The ClientHello the decoder completed, as the extractors' result. */
static void
io_from_hello(const struct tls_hello *h, struct dp_insp_out *io)
{
	memset(io, 0, sizeof(*io));
	io->app = DP_APP_QUIC;
	io->tls_versions = h->versions;
	io->ech = h->has_ech;
	io->pqc = h->has_pqc;
	if (h->sni_count > 1)
		io->anomalies |= AN(DP_AN_MULTIPLE_SNI);
	if (h->sni_len == 0) {
		io->anomalies |= AN(DP_AN_NO_SNI);
	} else {
		io->name_kind = DP_NAME_SNI;
		io->name_len = h->sni_len > DP_NAME_MAX ? DP_NAME_MAX : h->sni_len;
		memcpy(io->name, h->sni, io->name_len);
		io->name[io->name_len] = '\0';
		if (h->sni_truncated)
			io->anomalies |= AN(DP_AN_INVALID_NAME);
		if (dp_name_is_ip_literal(io->name, io->name_len))
			io->anomalies |= AN(DP_AN_IP_LITERAL_SNI);
	}
	if (h->alpn_len > 0) {
		io->alpn_len = h->alpn_len > DP_ALPN_BYTES ? DP_ALPN_BYTES : h->alpn_len;
		memcpy(io->alpn, h->alpn, io->alpn_len);
	}
	/* JA4 with the 'q' prefix; none when the hello had more lists than tls_hello keeps */
	if (tls_ja4(h, 1, io->ja4, sizeof(io->ja4)) != 0)
		io->ja4[0] = '\0';
}

/* Decide without a name, an anomaly of the flow's own (set in dp_fi(w, f)->anomalies) given. */
static void
decide_anomaly(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, unsigned int an,
	       enum dp_why why)
{
	struct dp_insp_out io;

	dp_fi(w, f)->anomalies |= AN(an);
	dp_quic_partial(w, f, &io);
	dp_decide_pending(w, f, pc, &io, why);
}

/* A datagram that is not input (a server would drop it): dropped, or forwarded in monitor. */
static void
not_input(struct dp_worker *w, struct dp_pktctx *pc)
{
	if (w->gen->set->mode == CPM_MODE_ENFORCE)
		dp_drop(w, pc);
	else
		dp_forward(w, pc);
}

/*
 * Hold pc's datagram (enforcing) as the slot's next one, numbered in arrival
 * order; monitor mode forwards it at once. 0, or the anomaly that stops the
 * hold: tiny_segments (too many datagrams), hold_memory_full (pool empty).
 */
static int
hold(struct dp_worker *w, struct dp_slot *s, struct dp_pktctx *pc, unsigned int *an)
{
	const struct cpm_settings *set = w->gen->set;
	uint32_t max = set->hold_max_segments < DP_HOLD_SEGS ? set->hold_max_segments
							     : DP_HOLD_SEGS;
	struct rte_mbuf *copy;

	if (set->mode != CPM_MODE_ENFORCE) {
		dp_forward(w, pc);
		return 0;
	}
	if (s->n_segs >= max) {
		*an = DP_AN_TINY_SEGMENTS;
		return -ENOSPC;
	}
	copy = rte_pktmbuf_copy(pc->m, w->hold.pool, 0, UINT32_MAX);
	if (copy == NULL) {
		*an = DP_AN_HOLD_MEMORY_FULL;
		return -ENOMEM;
	}
	s->segs[s->n_segs].m = copy;
	/* numbered in arrival order from the window's base: released in that order */
	s->segs[s->n_segs].seq = s->ra.base_seq + s->n_segs;
	s->segs[s->n_segs].len = 1;
	s->n_segs++;
	w->c[DP_C_HELD_SEGS]++;
	rte_pktmbuf_free(pc->m);
	pc->m = NULL;
	return 0;
}

/*
 * Hold the datagram that completes the decision; when the hold cannot take
 * it, its anomaly is recorded and the datagram follows the verdict itself.
 */
static void
hold_last(struct dp_worker *w, struct dp_flow *f, struct dp_slot *s, struct dp_pktctx *pc)
{
	unsigned int an = 0;

	if (hold(w, s, pc, &an) != 0) {
		w->c[DP_C_HOLD_OVERFLOW]++;
		dp_fi(w, f)->anomalies |= AN(an);
	}
}

static void
client_datagram(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc)
{
	const struct cpm_settings *set = w->gen->set;
	struct dp_quic *q = &w->quic;
	const struct dp_pkt *p = &pc->p;
	const uint8_t *d = payload(pc);
	struct dp_insp_out io;
	struct quic_flow *qf;
	struct tls_hello h;
	struct dp_slot *s;
	enum quic_result r;
	unsigned int an = 0;
	uint64_t hold_ms;

	/* insertion evasions (PITFALLS 5a): what the server would not accept is not input */
	if (!dp_l4_cksum_ok(pc->data, p)) {
		w->c[DP_C_BAD_L4_CKSUM]++;
		/* captures from a sending host carry unfilled offloaded checksums */
		if (!w->replay) {
			not_input(w, pc);
			return;
		}
	}
	if (p->ttl != dp_fi(w, f)->syn_ttl) {
		w->c[DP_C_TTL_MISMATCH]++;
		not_input(w, pc);
		return;
	}
	if (dp_fi(w, f)->slot == DP_NO_SLOT) {
		s = dp_flow_slot(w, f);
		if (s == NULL) {
			w->c[DP_C_HOLD_OVERFLOW]++;
			decide_anomaly(w, f, pc, DP_AN_HOLD_MEMORY_FULL, DP_WHY_BOUND);
			return;
		}
		quic_flow_init(&q->qf[dp_fi(w, f)->slot], s->ra.buf, s->ra.map, s->ra.cap);
		hold_ms = set->hold_timeout_ms > DP_QUIC_HOLD_MIN_MS ? set->hold_timeout_ms
								     : DP_QUIC_HOLD_MIN_MS;
		s->deadline_ns = w->now_ns + hold_ms * DP_NS_PER_MS;
	} else {
		s = dp_hold_slot(&w->hold, dp_fi(w, f)->slot);
	}
	qf = &q->qf[dp_fi(w, f)->slot];
	if (p->payload_len < QUIC_MIN_INITIAL_DGRAM &&
	    quic_peek(d, p->payload_len, NULL) == QUIC_PT_INITIAL) {
		/* RFC 9000 14.1: a server discards it; the first one is a broken client */
		if (qf->datagrams == 0 && s->n_segs == 0)
			decide_anomaly(w, f, pc, DP_AN_QUIC_MALFORMED, DP_WHY_ANOMALY);
		else
			not_input(w, pc);
		return;
	}

	r = quic_feed_client(q->ctx, qf, d, p->payload_len, &h);
	conn_update(conn_of(w, f), qf);
	switch (r) {
	case QUIC_OK:
		hold_last(w, f, s, pc);
		io_from_hello(&h, &io);
		/*
		 * The window holds the decided CRYPTO bytes: allowed and enforced, the
		 * slot is kept (DP_FF_VERIFY) so that later Initials on these keys are
		 * compared with them until the server shows it holds the hello.
		 */
		s->ra.high = qf->high;
		dp_decide_pending(w, f, pc, &io, DP_WHY_NAME);
		return;
	case QUIC_NEED_MORE:
		if (hold(w, s, pc, &an) != 0) {
			w->c[DP_C_HOLD_OVERFLOW]++;
			decide_anomaly(w, f, pc, an, DP_WHY_BOUND);
		}
		return;
	case QUIC_TOO_BIG:
	case QUIC_CONFLICT:
		hold_last(w, f, s, pc);
		decide_anomaly(w, f, pc, r == QUIC_TOO_BIG ? DP_AN_OVERSIZE_CLIENTHELLO
							   : DP_AN_OVERLAP_CONFLICT, DP_WHY_ANOMALY);
		return;
	case QUIC_MALFORMED:
		if (qf->result == QUIC_MALFORMED) {
			/* authenticated content breaks the grammar: what the server would see */
			hold_last(w, f, s, pc);
			decide_anomaly(w, f, pc, DP_AN_QUIC_MALFORMED, DP_WHY_ANOMALY);
			return;
		}
		break;
	default:
		break;
	}
	/* bytes that did not authenticate (the decoder kept its state) */
	if (qf->have_keys) {
		/* the connection is known: a server drops these too */
		not_input(w, pc);
		return;
	}
	decide_anomaly(w, f, pc,
		       r == QUIC_UNDECRYPTABLE ? DP_AN_QUIC_UNDECRYPTABLE :
		       r == QUIC_UNKNOWN_VERSION ? DP_AN_QUIC_UNKNOWN_VERSION : DP_AN_QUIC_MALFORMED,
		       DP_WHY_ANOMALY);
}

void
dp_quic_packet(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, int dir)
{
	if (dir == DP_DIR_C2S) {
		client_datagram(w, f, pc);
		return;
	}
	/* the server's datagrams pass; a Retry or Version Negotiation restarts the hello */
	if (dp_fi(w, f)->slot != DP_NO_SLOT) {
		struct quic_flow *qf = &w->quic.qf[dp_fi(w, f)->slot];

		quic_feed_server(w->quic.ctx, qf, payload(pc), pc->p.payload_len);
		conn_update(conn_of(w, f), qf);
	}
	dp_forward(w, pc);
}

void
dp_quic_start(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc)
{
	const uint8_t *d = payload(pc);

	f->state = DP_FS_PENDING;
	w->c[DP_C_FLOWS_PENDING]++;
	/* later datagrams must keep the TTL / hop limit of the first (PITFALLS 5a) */
	dp_fi(w, f)->syn_ttl = pc->p.ttl;
	if (conn_get(&w->quic, f) != 0) {
		/* no record to check the connection after the decision: fail closed */
		w->c[DP_C_HOLD_OVERFLOW]++;
		decide_anomaly(w, f, pc, DP_AN_HOLD_MEMORY_FULL, DP_WHY_BOUND);
		return;
	}
	if (pc->p.payload_len > 0 && quic_peek(d, pc->p.payload_len, NULL) == QUIC_PT_SHORT) {
		/* a short header first: a connection we never saw start (restart, rebinding) */
		w->c[DP_C_MIDSTREAM]++;
		dp_decide_fixed(w, f, w->gen->set->midstream_action, DP_REASON_MIDSTREAM, -1);
		if (f->state == DP_FS_DENIED)
			dp_drop(w, pc);
		else
			dp_forward(w, pc);
		return;
	}
	client_datagram(w, f, pc);
}
