/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_verdict.c: decide, apply, audit (see dp_verdict.h and the state
 * machine in docs/dataplane.md).
 */
#include <netinet/in.h>
#include <string.h>

#include <rte_mbuf.h>

#include "cpm.h"
#include "dp_dns.h"
#include "dp_log.h"
#include "dp_policy.h"
#include "dp_quic.h"
#include "dp_verdict.h"

#define AN(x) (1u << (x))

static inline int
seq_before(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

/* Per-class anomaly counters: an_<class> counts the decisions that carry it. */
static inline void
count_anomalies(struct dp_worker *w, uint32_t an)
{
	while (an != 0) {
		unsigned int i = (unsigned int)__builtin_ctz(an);

		w->c[DP_C_AN_FIRST + i]++;
		an &= an - 1;
	}
}

_Static_assert(DP_C_AN_LAST - DP_C_AN_FIRST + 1 == DP_AN_MAX,
	       "dp_proto.h: one an_<class> counter per anomaly class, in class order");

/* The flow's side record (dp_flow.h), NULL if it has none (UDP, or given back). */
static inline struct dp_flow_cold *
cold_of(struct dp_worker *w, const struct dp_flow *f)
{
	return dp_flow_cold(&w->ft, f);
}

/* First client byte not judged yet (0 without a side record: UDP). */
static inline uint32_t
ws_seq(struct dp_worker *w, const struct dp_flow *f)
{
	const struct dp_flow_cold *c = cold_of(w, f);

	return c != NULL ? c->ws.seq : 0;
}

static void
flow_query(const struct dp_flow_table *t, const struct dp_flow *f, struct cpm_query *q)
{
	struct dp_flow_key key, *k = &key;
	size_t alen = f->key.family == 6 ? 16 : 4;
	int ports = f->key.l4proto == IPPROTO_TCP || f->key.l4proto == IPPROTO_UDP;

	dp_flow_key_get(t, f, k);
	memset(q, 0, sizeof(*q));
	q->family = k->family;
	q->l4proto = k->l4proto;
	if (f->client_is_a) {
		memcpy(q->src, k->a, alen);
		memcpy(q->dst, k->b, alen);
		q->sport = ports ? k->pa : 0;
		q->dport = ports ? k->pb : 0;
	} else {
		memcpy(q->src, k->b, alen);
		memcpy(q->dst, k->a, alen);
		q->sport = ports ? k->pb : 0;
		q->dport = ports ? k->pa : 0;
	}
	q->field = CPM_FIELD_NONE;
}

void
dp_flow_query(const struct dp_flow_table *t, const struct dp_flow *f, struct cpm_query *q)
{
	flow_query(t, f, q);
}

static int
is_pending(const struct dp_flow *f)
{
	return f->state == DP_FS_SYN_SEEN || f->state == DP_FS_PENDING ||
	       f->state == DP_FS_MIDWAIT;
}

/* Record v on f, write flow.decision, count. */
static void
finish(struct dp_worker *w, struct dp_flow *f, const struct cpm_verdict *v,
       const char *name, int name_len, const uint8_t *alpn, unsigned int alpn_len,
       const char *ja4)
{
	const struct dp_gen *g = w->gen;
	struct dp_flow_key fk;
	struct dp_event *ev;

	v = dp_evq_overflow_verdict(&w->evq, g->set, v);   /* audit_overflow = deny_new_flows */
	f->verdict = v->action == CPM_ALLOW ? DP_VERDICT_ALLOW : DP_VERDICT_DENY;
	dp_fi(w, f)->reason = v->reason;
	dp_fi(w, f)->rule = v->rule;
	dp_fi(w, f)->policy_gen = g->gen;
	dp_gen_hit(g, w->id, v->rule);
	if (g->set->mode == CPM_MODE_ENFORCE)
		f->flags |= DP_FF_ENFORCED;
	else
		f->flags &= ~DP_FF_ENFORCED;
	if (f->flags & DP_FF_DECIDED)
		w->c[DP_C_STREAM_DECISIONS]++;  /* a later unit of the client stream */
	f->flags |= DP_FF_DECIDED;
	count_anomalies(w, dp_fi(w, f)->anomalies);
	if (name_len > 0 && dp_fi(w, f)->name_id == DP_NO_NAME)
		dp_fi(w, f)->name_id = dp_names_get(&w->names, dp_fi(w, f)->name_kind, name,
						    (uint8_t)name_len);
	if (is_pending(f))
		w->c[DP_C_FLOWS_PENDING]--;

	if (f->verdict == DP_VERDICT_ALLOW)
		w->c[DP_C_ALLOW]++;
	else if (f->flags & DP_FF_ENFORCED)
		w->c[DP_C_DENY]++;
	else
		w->c[DP_C_MONITOR_WOULD_DENY]++;
	if (dp_fi(w, f)->reason == DP_REASON_TRUSTED)
		w->c[DP_C_TRUSTED]++;
	else if (dp_fi(w, f)->reason == DP_REASON_NOT_INTERNAL)
		w->c[DP_C_NOT_INTERNAL]++;
	else if (dp_fi(w, f)->reason == DP_REASON_INBOUND)
		w->c[DP_C_INBOUND]++;
	/* trusted destinations bypass inspection: counters only, no records (docs/soc2.md) */
	if (dp_fi(w, f)->reason == DP_REASON_TRUSTED)
		return;

	/* built in its ring slot: no copy */
	ev = dp_evq_begin(&w->evq, w->now_ns, w->c);
	dp_event_fill(ev, DP_EV_DECISION, f, dp_fi(w, f), dp_fkey(w, f, &fk), w->now_ns, name,
		      name_len > 0 ? (unsigned)name_len : 0, alpn, alpn_len, ja4, w->replay);
	dp_evq_commit(&w->evq, ev, w->c);
}

/* State after a verdict reached without holding anything. */
static void
settle(struct dp_flow *f)
{
	if (f->verdict == DP_VERDICT_DENY && (f->flags & DP_FF_ENFORCED)) {
		f->state = DP_FS_DENIED;
		f->close_cause = DP_CLOSE_DENIED;
	} else {
		f->state = DP_FS_ALLOWED;
	}
}

void
dp_decide_fixed(struct dp_worker *w, struct dp_flow *f, uint8_t action, uint8_t reason,
		int32_t rule)
{
	struct cpm_verdict v = { .action = action, .reason = reason, .rule = rule };

	dp_fi(w, f)->bound = DP_BOUND_NONE;       /* no name: nothing bound */
	finish(w, f, &v, NULL, 0, NULL, 0, NULL);
	settle(f);
	if (dp_fi(w, f)->slot != DP_NO_SLOT) {
		w->c[DP_C_HELD_SEGS] -= dp_hold_slot(&w->hold, dp_fi(w, f)->slot)->n_segs;
		dp_hold_slot_put(&w->hold, dp_fi(w, f)->slot);
		dp_fi(w, f)->slot = DP_NO_SLOT;
	}
}

/*
 * DNS over TLS (TCP 853) or over QUIC (UDP 853, RFC 9250): its answers are
 * hidden from the DNS binding, so it is the anomaly dot (default deny).
 * Trusted destinations and initiators outside `internal` are not governed.
 * Returns 1 if the flow was denied here.
 */
static int
dot_check(struct dp_worker *w, struct dp_flow *f, const struct cpm_query *q, int rc,
	  const struct cpm_verdict *v)
{
	if (q->dport != DP_DOT_PORT ||
	    (q->l4proto != IPPROTO_TCP && q->l4proto != IPPROTO_UDP))
		return 0;
	if (rc == CPM_DECIDED && (v->reason == CPM_REASON_TRUSTED ||
				  v->reason == CPM_REASON_NOT_INTERNAL))
		return 0;
	dp_fi(w, f)->anomalies |= AN(DP_AN_DOT);
	if (w->gen->set->anomaly_action[DP_AN_DOT] != CPM_DENY ||
	    (rc == CPM_DECIDED && v->action == CPM_DENY))
		return 0;       /* allowed by policy (recorded), or a deny keeps its own reason */
	dp_decide_fixed(w, f, CPM_DENY, DP_REASON_ANOMALY, -1);
	return 1;
}

/*
 * The deciding allow rule's binding (bind = "dns" | "pinned") for the flow's
 * destination: the enum dp_bound it was bound by, or DP_BOUND_NONE with
 * sni_dst_mismatch added to *an when it is not bound. norm/nlen: the name,
 * normalised as the matcher and the DNS tables keep it.
 */
static uint8_t
bind_check(struct dp_worker *w, const struct cpm_policy *pol, const struct cpm_query *q,
	   int32_t rule, const char *norm, int nlen, uint32_t *an)
{
	int b;

	switch (cpm_rule_bind(pol, rule)) {
	case CPM_BIND_DNS:
		if (nlen <= 0)
			break;
		/* 1: answered on the path; 2: resolved out of band (dp_dns.h) */
		b = dp_dns_bound(q->family, q->src, q->dst, norm, (size_t)nlen,
				 (uint32_t)(w->now_ns / DP_NS_PER_S));
		if (b == 1)
			return DP_BOUND_DNS;
		if (b == 2)
			return DP_BOUND_RESOLVED;
		break;
	case CPM_BIND_PINNED:
		if (cpm_rule_pin_holds(pol, rule, q))
			return DP_BOUND_PINNED;
		break;
	default:
		return DP_BOUND_NONE;
	}
	*an |= AN(DP_AN_SNI_DST_MISMATCH);
	return DP_BOUND_NONE;
}

int
dp_classify_new(struct dp_worker *w, struct dp_flow *f, uint16_t pidx)
{
	const struct dp_gen *g = w->gen;
	struct cpm_query q;
	struct cpm_verdict v;
	uint16_t dport;
	int rc;

	/* UDP: quic by content (dp_quic_flow_new) or by port */
	if (f->key.l4proto == IPPROTO_UDP && f->app == DP_APP_UNKNOWN) {
		dport = dp_flow_dport(f);
		f->app = dport == 443 ? DP_APP_QUIC : dport == 53 ? DP_APP_DNS : DP_APP_UNKNOWN;
	}
	if (w->mode == DP_MODE_WIRE && pidx == 1) {
		dp_decide_fixed(w, f, g->set->inbound_action, DP_REASON_INBOUND, -1);
		return 1;
	}
	flow_query(&w->ft, f, &q);
	rc = cpm_classify_l34(g->pol, &q, &v);
	if (dot_check(w, f, &q, rc, &v))
		return 1;
	if (rc == CPM_DECIDED) {
		dp_decide_fixed(w, f, v.action, v.reason, v.rule);
		return 1;
	}
	if (f->key.l4proto == IPPROTO_TCP)
		return 0;
	if (f->app == DP_APP_QUIC) {
		/* QUIC by content on another port than 443 (quic = "deny" covers it too) */
		if (g->set->quic_action == CPM_DENY) {
			dp_decide_fixed(w, f, CPM_DENY, DP_REASON_QUIC, -1);
			return 1;
		}
		return 0;       /* the name comes from the Initials (dp_quic_start) */
	}
	/* no name will come: the full match without one */
	if (cpm_match(g->pol, g->scratch[w->id], &q, &v) != 0)
		w->c[DP_C_MATCH_ERRORS]++;      /* v holds the default verdict */
	dp_decide_fixed(w, f, v.action, v.reason, v.rule);
	return 1;
}

struct dp_slot *
dp_flow_slot(struct dp_worker *w, struct dp_flow *f)
{
	uint32_t cap = DP_HOLD_WINDOW;

	if (dp_fi(w, f)->slot != DP_NO_SLOT)
		return dp_hold_slot(&w->hold, dp_fi(w, f)->slot);
	if (w->gen != NULL && w->gen->set->hold_max_bytes < cap)
		cap = w->gen->set->hold_max_bytes;
	/* the stream from the first byte not judged: isn + 1 for the first unit */
	dp_fi(w, f)->slot = dp_hold_slot_get(&w->hold, dp_flow_index(&w->ft, f), ws_seq(w, f), cap);
	if (dp_fi(w, f)->slot == DP_NO_SLOT) {
		/* a pending flow comes before verifying an allowed one: take its slot */
		for (uint32_t i = 0, k = w->hold.sweep_pos; i < RTE_MIN(w->hold.n, 64u); i++) {
			struct dp_slot *o = &w->hold.slots[(k + i) % w->hold.n];
			struct dp_flow *of = &w->ft.flows[o->flow];

			if (o->in_use && (of->flags & DP_FF_VERIFY)) {
				dp_verify_done(w, of);
				dp_fi(w, f)->slot = dp_hold_slot_get(&w->hold, dp_flow_index(&w->ft, f),
							   ws_seq(w, f), cap);
				break;
			}
		}
	}
	return dp_fi(w, f)->slot == DP_NO_SLOT ? NULL : dp_hold_slot(&w->hold, dp_fi(w, f)->slot);
}

/* Build an RST from a client frame and queue it on port pidx. */
static void
rst_out(struct dp_worker *w, const uint8_t *frame, const struct dp_pkt *p, int to_client,
	uint32_t seq, uint32_t ack, uint16_t pidx)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->app->rx_pool);
	int n;

	if (m == NULL)
		return;
	n = dp_local_build_rst(w, frame, p, to_client, seq, ack, rte_pktmbuf_mtod(m, uint8_t *),
			       rte_pktmbuf_tailroom(m));
	if (n < 0) {
		rte_pktmbuf_free(m);
		return;
	}
	m->data_len = (uint16_t)n;
	m->pkt_len = (uint32_t)n;
	dp_tx(w, pidx, m);
	w->c[DP_C_RST_SENT]++;
}

/*
 * RSTs for a denied pending flow (docs/dataplane.md, step 7), built from a
 * client frame of the flow:
 *   to the server: seq = ISN + 1, the first byte it has not received
 *     (nothing of the client's payload was forwarded), so it equals the
 *     server's rcv_nxt exactly (RFC 5961);
 *   to the client: seq = the ACK field of its latest segment (the server's
 *     snd_nxt as the client knows it), ack = the client's next seq; before
 *     the client sent any ACK (SYN-SENT), seq 0 and ack = ISN + 1.
 */
static void
deny_rsts(struct dp_worker *w, struct dp_flow *f, const uint8_t *frame, uint32_t len,
	  uint16_t pidx, uint32_t srv_seq)
{
	const struct dp_flow_cold *c = cold_of(w, f);
	struct dp_pkt p;

	if (w->replay || frame == NULL || c == NULL)
		return;
	if (dp_local_decode(w, frame, len, pidx, &p) != DP_DEC_OK ||
	    p.l4proto != IPPROTO_TCP)
		return;
	if (f->flags & DP_FF_SYN)
		rst_out(w, frame, &p, 0, srv_seq,
			(f->flags & DP_FF_HAS_ACK) ? c->c_ack : 0, dp_server_port(w, f));
	if (f->flags & DP_FF_HAS_ACK)
		rst_out(w, frame, &p, 1, c->c_ack, c->c_nxt, f->client_port);
	else
		rst_out(w, frame, &p, 1, 0, c->isn + 1, f->client_port);
}

void
dp_rerst(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc)
{
	const struct dp_pkt *p = &pc->p;
	struct dp_flow_cold *c;
	uint32_t ack;

	if (w->replay || pc->data == NULL || (p->tcp_flags & DP_TCP_RST))
		return;
	/* the RST rate limit is kept in the side record: taken now if given back */
	if (dp_flow_cold_take(&w->ft, f) != 0) {
		w->c[DP_C_COLD_FULL]++;
		return;
	}
	c = cold_of(w, f);
	if (w->now_ns - c->last_rst_ns < DP_RST_INTERVAL_NS)
		return;
	c->last_rst_ns = w->now_ns;
	ack = p->seq + p->payload_len + ((p->tcp_flags & DP_TCP_SYN) ? 1 : 0) +
	      ((p->tcp_flags & DP_TCP_FIN) ? 1 : 0);
	rst_out(w, pc->data, p, 1, (p->tcp_flags & DP_TCP_ACK) ? p->ack : 0, ack, pc->pidx);
}

/* Lowest sequence number among the held segments of s (n_segs > 0). */
static uint32_t
held_base(const struct dp_slot *s)
{
	uint32_t b = s->segs[0].seq;

	for (unsigned int i = 1; i < s->n_segs; i++)
		if (seq_before(s->segs[i].seq, b))
			b = s->segs[i].seq;
	return b;
}

/*
 * Send the held segments to the server in sequence order, duplicates dropped:
 * all of them (all), or those that end at or before upto (every byte before
 * upto is judged); the others stay held, in order. Returns the number kept.
 */
static unsigned int
release_upto(struct dp_worker *w, struct dp_flow *f, struct dp_slot *s, uint32_t upto, int all)
{
	uint8_t order[DP_HOLD_SEGS], dup[DP_HOLD_SEGS];
	struct dp_hold_seg kept[DP_HOLD_SEGS];
	uint16_t port = dp_server_port(w, f);
	unsigned int i, n = s->n_segs, k = 0;

	if (n == 0)
		return 0;
	dp_hold_release_order(s->segs, n, held_base(s), order, dup);
	for (i = 0; i < n; i++) {
		struct dp_hold_seg *seg = &s->segs[order[i]];

		if (!all && seq_before(upto, seg->seq + seg->len)) {
			kept[k++] = *seg;       /* holds bytes of a unit not judged yet */
			continue;
		}
		if (dup[order[i]])
			rte_pktmbuf_free(seg->m);
		else
			dp_tx(w, port, seg->m);
		seg->m = NULL;
	}
	memcpy(s->segs, kept, k * sizeof(kept[0]));
	s->n_segs = (uint16_t)k;
	w->c[DP_C_HELD_SEGS] -= n - k;
	return k;
}

static void
release(struct dp_worker *w, struct dp_flow *f, struct dp_slot *s)
{
	release_upto(w, f, s, 0, 1);
}

/* Leave DP_FS_UNIT (the pending-flows gauge counts a held unit). */
static void
unit_leave(struct dp_worker *w, struct dp_flow *f, uint8_t state)
{
	if (f->state == DP_FS_UNIT)
		w->c[DP_C_FLOWS_PENDING]--;
	f->state = state;
}

/*
 * Deny enforced on a flow with held data (first or later unit): drop what
 * is held and pc, reset both ends. The server's rcv_nxt is the first client
 * byte not forwarded: the first held byte, or the unit's start when the
 * bytes before it are missing (ISN + 1 for the first unit).
 */
static void
deny_apply(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, enum dp_why why,
	   struct dp_slot *s)
{
	struct dp_flow_cold *c = cold_of(w, f);
	uint32_t srv_seq = c != NULL ? c->ws.seq : 0;

	if (s != NULL && s->n_segs > 0 && seq_before(held_base(s), srv_seq))
		srv_seq = held_base(s);
	if (why != DP_WHY_END && !(f->flags & DP_FF_RST)) {
		if (pc != NULL && pc->data != NULL)
			deny_rsts(w, f, pc->data, pc->len, pc->pidx, srv_seq);
		else if (s != NULL && s->n_segs > 0) {
			struct rte_mbuf *m = s->segs[s->n_segs - 1].m;

			if (rte_pktmbuf_is_contiguous(m))
				deny_rsts(w, f, rte_pktmbuf_mtod(m, uint8_t *),
					  rte_pktmbuf_data_len(m), m->port, srv_seq);
		}
	}
	if (pc != NULL)
		dp_drop(w, pc);
	if (s != NULL)
		w->c[DP_C_DROPPED] += s->n_segs;        /* held, never forwarded */
	unit_leave(w, f, DP_FS_DENIED);
	if (c != NULL) {
		dp_stream_stop(&c->ws);
		c->last_rst_ns = w->now_ns;
	}
	f->close_cause = DP_CLOSE_DENIED;
	if (s != NULL) {
		w->c[DP_C_HELD_SEGS] -= s->n_segs;
		dp_hold_slot_put(&w->hold, dp_fi(w, f)->slot);
		dp_fi(w, f)->slot = DP_NO_SLOT;
		f->flags &= ~DP_FF_VERIFY;
	}
}

/*
 * Allowed: keep the decided bytes until the server acknowledges them, so a
 * "retransmission" with other bytes (the server never got the first copy)
 * cannot pass unseen (PITFALLS 5b); else free the slot.
 */
static void
verify_or_free(struct dp_worker *w, struct dp_flow *f, struct dp_slot *s, enum dp_why why)
{
	if ((f->flags & DP_FF_ENFORCED) && why != DP_WHY_END && !w->replay && s->ra.high > 0) {
		f->flags |= DP_FF_VERIFY;
		s->deadline_ns = w->now_ns + (uint64_t)w->gen->set->hold_timeout_ms * DP_NS_PER_MS;
		return;
	}
	w->c[DP_C_HELD_SEGS] -= s->n_segs;
	dp_hold_slot_put(&w->hold, dp_fi(w, f)->slot);
	dp_fi(w, f)->slot = DP_NO_SLOT;
}

static void
apply_pending(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, enum dp_why why)
{
	uint32_t slot = dp_fi(w, f)->slot;
	struct dp_slot *s = slot != DP_NO_SLOT ? dp_hold_slot(&w->hold, slot) : NULL;

	if (f->verdict == DP_VERDICT_ALLOW || !(f->flags & DP_FF_ENFORCED)) {
		if (s != NULL)
			release(w, f, s);
		unit_leave(w, f, DP_FS_ALLOWED);
		if (cold_of(w, f) != NULL)      /* decided without a unit's end: not followed */
			dp_stream_stop(&cold_of(w, f)->ws);
		if (pc != NULL)
			dp_forward(w, pc);
		if (s != NULL)
			verify_or_free(w, f, s, why);
		return;
	}
	deny_apply(w, f, pc, why, s);
}

void
dp_verify_done(struct dp_worker *w, struct dp_flow *f)
{
	if (dp_fi(w, f)->slot != DP_NO_SLOT) {
		dp_hold_slot_put(&w->hold, dp_fi(w, f)->slot);
		dp_fi(w, f)->slot = DP_NO_SLOT;
	}
	f->flags &= ~DP_FF_VERIFY;
}

int
dp_verify_allowed(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, int dir)
{
	const struct dp_pkt *p = &pc->p;
	struct dp_slot *s = dp_hold_slot(&w->hold, dp_fi(w, f)->slot);
	uint32_t end = s->ra.base_seq + s->ra.high;
	struct dp_flow_cold *c = cold_of(w, f);
	struct dp_flow_key fk;
	struct dp_event ev;

	if (c == NULL) {
		dp_verify_done(w, f);   /* never: a verifying flow keeps its side record */
		return 0;
	}
	if (dir == DP_DIR_S2C) {
		/* the server has every decided byte: nothing left to compare */
		if ((p->tcp_flags & DP_TCP_ACK) && (int32_t)(p->ack - end) >= 0)
			dp_verify_done(w, f);
		return 0;
	}
	if (p->tcp_flags & DP_TCP_ACK) {
		c->c_ack = p->ack;
		f->flags |= DP_FF_HAS_ACK;
	}
	if ((int32_t)(p->seq + p->payload_len - c->c_nxt) > 0)
		c->c_nxt = p->seq + p->payload_len;
	if (p->payload_len == 0 || (int32_t)(p->seq - end) >= 0 || !dp_l4_cksum_ok(pc->data, p) ||
	    dp_reasm_add(&s->ra, p->seq, pc->data + p->payload_off, p->payload_len) !=
	    DP_RA_CONFLICT)
		return 0;
	/* other bytes over the decided range: decided again, by the anomaly */
	dp_fi(w, f)->anomalies |= AN(DP_AN_OVERLAP_CONFLICT);
	w->c[DP_C_AN_OVERLAP_CONFLICT]++;
	if (w->gen->set->anomaly_action[DP_AN_OVERLAP_CONFLICT] != CPM_DENY)
		return 0;
	f->verdict = DP_VERDICT_DENY;
	dp_fi(w, f)->reason = DP_REASON_ANOMALY;
	dp_fi(w, f)->rule = -1;
	dp_fi(w, f)->policy_gen = w->gen->gen;
	w->c[DP_C_DENY]++;
	dp_event_fill(&ev, DP_EV_DECISION, f, dp_fi(w, f), dp_fkey(w, f, &fk), w->now_ns,
		      NULL, 0, NULL, 0, NULL, w->replay);
	if (dp_fi(w, f)->name_id != DP_NO_NAME) {
		const struct dp_name_slot *ns = dp_names_slot(&w->names, dp_fi(w, f)->name_id);

		memcpy(ev.name, ns->name, ns->len);
		ev.name_len = ns->len;
		ev.name_kind = dp_fi(w, f)->name_kind;
	}
	dp_evq_push(&w->evq, &ev, w->c);
	/* the server's rcv_nxt is the client's highest sequence (all was forwarded) */
	deny_rsts(w, f, pc->data, pc->len, pc->pidx, c->c_nxt);
	dp_drop(w, pc);
	dp_verify_done(w, f);
	f->state = DP_FS_DENIED;
	f->close_cause = DP_CLOSE_DENIED;
	c->last_rst_ns = w->now_ns;
	return 1;
}

/* 1 if an anomaly in an the policy marks "deny" is set. */
static int
anomaly_denies(const struct cpm_settings *set, uint32_t an)
{
	for (unsigned int i = 0; i < DP_AN_MAX; i++)
		if ((an & AN(i)) && set->anomaly_action[i] == CPM_DENY)
			return 1;
	return 0;
}

int
dp_anomaly_denies(const struct cpm_settings *set, uint32_t an)
{
	return anomaly_denies(set, an);
}

/*
 * A second ClientHello (after a HelloRetryRequest) must name what the first
 * named: 1 if the name (or its absence) changed. norm/nlen: the new name,
 * normalised. A first name that could not be interned is not compared.
 */
static int
sni_changed(struct dp_worker *w, const struct dp_flow *f, const struct dp_insp_out *io,
	    const char *norm, int nlen)
{
	const struct dp_name_slot *ns;

	if (!(f->flags & DP_FF_DECIDED) || f->app != DP_APP_TLS || io->app != DP_APP_TLS)
		return 0;
	if (dp_fi(w, f)->name_kind != DP_NAME_SNI)
		return nlen > 0;
	ns = dp_names_slot(&w->names, dp_fi(w, f)->name_id);
	if (ns == NULL)
		return 0;
	return nlen != ns->len || memcmp(norm, ns->name, ns->len) != 0;
}

/*
 * Decide the unit being held (the first: the flow's name; a later one: the
 * next request head, a second ClientHello) and write its flow.decision.
 * io: the extractors' result, or NULL (no name: what the bytes so far say).
 */
static void
decide(struct dp_worker *w, struct dp_flow *f, const struct dp_insp_out *io, enum dp_why why)
{
	const struct dp_gen *g = w->gen;
	const struct cpm_settings *set = g->set;
	uint32_t slot = dp_fi(w, f)->slot;
	struct dp_slot *s = slot != DP_NO_SLOT ? dp_hold_slot(&w->hold, slot) : NULL;
	struct dp_insp_out partial;
	char norm[DP_NAME_MAX + 1];
	struct cpm_query q;
	struct cpm_verdict v;
	uint8_t bound = DP_BOUND_NONE;
	int nlen = 0;
	uint32_t an, nh = 0;

	if (io == NULL && f->key.l4proto == IPPROTO_UDP) {
		/* QUIC: the ClientHello never completed (hold bound, timeout, end) */
		dp_quic_partial(w, f, &partial);
		io = &partial;
	}
	if (io == NULL) {
		uint32_t off = s != NULL ? ws_seq(w, f) - s->ra.base_seq : 0;

		if (s != NULL && off < dp_reasm_contig(&s->ra))
			dp_inspect_partial(dp_reasm_data(&s->ra) + off,
					   dp_reasm_contig(&s->ra) - off, &partial);
		else
			dp_inspect_partial(NULL, 0, &partial);
		io = &partial;
	}
	an = dp_fi(w, f)->anomalies | io->anomalies;
	flow_query(&w->ft, f, &q);
	if (io->name_kind != DP_NAME_NONE && io->name_len > 0) {
		nlen = cpm_normalise_name(io->name, io->name_len, norm, sizeof(norm));
		if (nlen < 0) {
			an |= AN(DP_AN_INVALID_NAME);
			nlen = (int)strnlen(norm, sizeof(norm) - 1);
		}
		q.field = io->name_kind == DP_NAME_SNI ? CPM_FIELD_SNI : CPM_FIELD_HOST;
		q.name = io->name;
		q.name_len = io->name_len;
		if (io->ech && io->name_kind == DP_NAME_SNI &&
		    cpm_is_ech_public_name(g->pol, io->name, io->name_len))
			an |= AN(DP_AN_ECH);
	}
	if (sni_changed(w, f, io, norm, nlen))
		an |= AN(DP_AN_SNI_CHANGED);
	/* finish() interns the name: its index line loads while the policy matches */
	if (nlen > 0) {
		nh = dp_names_hash(io->name_kind, norm, (uint8_t)nlen);
		dp_names_prefetch_ix(&w->names, nh);
	}
	if (why == DP_WHY_BOUND && q.field == CPM_FIELD_NONE && set->no_name_action != 0) {
		v.action = set->no_name_action;
		v.reason = DP_REASON_ANOMALY;
		v.rule = -1;
	} else if (cpm_match(g->pol, g->scratch[w->id], &q, &v) != 0) {
		w->c[DP_C_MATCH_ERRORS]++;      /* v holds the default verdict */
	}
	if (nlen > 0)
		dp_names_prefetch_slot(&w->names, nh);
	/* DNS over HTTPS hides answers from the binding: named on the list, it is an anomaly */
	if (nlen > 0 && cpm_is_doh_name(g->pol, norm, (size_t)nlen))
		an |= AN(DP_AN_DOH);
	if (v.action == CPM_ALLOW && v.reason == CPM_REASON_RULE)
		bound = bind_check(w, g->pol, &q, v.rule, norm, nlen, &an);
	if (v.action == CPM_ALLOW && anomaly_denies(set, an)) {
		/* allowed by the rules, denied by the anomaly (a deny keeps its own reason) */
		v.action = CPM_DENY;
		v.reason = DP_REASON_ANOMALY;
		v.rule = -1;
	}
	if (f->flags & DP_FF_DECIDED) {
		/* a later unit: its record (and flow.end) carries its own name and flags */
		f->flags &= ~(DP_FF_ECH | DP_FF_PQC);
		dp_names_put(&w->names, dp_fi(w, f)->name_id);
		dp_fi(w, f)->name_id = DP_NO_NAME;
	}
	dp_fi(w, f)->anomalies = an;
	dp_fi(w, f)->bound = v.action == CPM_ALLOW ? bound : DP_BOUND_NONE;
	f->app = io->app;
	dp_fi(w, f)->name_kind = nlen > 0 ? io->name_kind : DP_NAME_NONE;
	dp_fi(w, f)->tls_versions = io->tls_versions;
	if (io->ech)
		f->flags |= DP_FF_ECH;
	if (io->pqc)
		f->flags |= DP_FF_PQC;
	finish(w, f, &v, norm, nlen, io->alpn, io->alpn_len, io->ja4);
}

static int
denies(const struct dp_flow *f)
{
	return f->verdict == DP_VERDICT_DENY && (f->flags & DP_FF_ENFORCED);
}

void
dp_decide_pending(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc,
		  const struct dp_insp_out *io, enum dp_why why)
{
	decide(w, f, io, why);
	apply_pending(w, f, pc, why);
}

int
dp_decide_stream(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc,
		 const struct dp_insp_out *io)
{
	int first = !(f->flags & DP_FF_DECIDED);

	decide(w, f, io, DP_WHY_NAME);
	if (denies(f)) {
		deny_apply(w, f, pc, DP_WHY_NAME, dp_fi(w, f)->slot != DP_NO_SLOT ?
			   dp_hold_slot(&w->hold, dp_fi(w, f)->slot) : NULL);
		return 1;
	}
	if (first) {
		/* decided: what stays held from now on is a later unit's */
		f->state = DP_FS_UNIT;
		w->c[DP_C_FLOWS_PENDING]++;
	}
	dp_fi(w, f)->anomalies = 0;                       /* the next unit's own */
	return 0;
}

int
dp_release_judged(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc)
{
	uint32_t slot = dp_fi(w, f)->slot;
	struct dp_slot *s = slot != DP_NO_SLOT ? dp_hold_slot(&w->hold, slot) : NULL;
	const struct dp_flow_cold *c = cold_of(w, f);
	uint32_t upto = c != NULL ? c->ws.seq : 0;
	int all = c == NULL || c->ws.mode == DP_W_NONE;
	int left = 0;

	if (s != NULL) {
		left = release_upto(w, f, s, upto, all) > 0;
		/* monitor holds nothing: bytes of the next unit may be in the window only */
		if (!all && seq_before(upto, s->ra.base_seq + s->ra.high))
			left = 1;
	}
	if (!left) {
		unit_leave(w, f, DP_FS_ALLOWED);
		dp_forward(w, pc);
		if (s != NULL)
			verify_or_free(w, f, s, DP_WHY_NAME);
		return 1;
	}
	/* the next unit has begun: it stays held, with a window and a timer of its own */
	if (seq_before(s->ra.base_seq, upto))
		dp_reasm_rebase(&s->ra, upto);
	s->deadline_ns = w->now_ns + (uint64_t)w->gen->set->hold_timeout_ms * DP_NS_PER_MS;
	/* a TFO SYN is never held: it goes now, its unjudged tail is a partial head */
	dp_forward(w, pc);
	return 0;
}

int
dp_watch_enter(struct dp_worker *w, struct dp_flow *f, const struct dp_pkt *p)
{
	if (f->flags & DP_FF_VERIFY)
		dp_verify_done(w, f);           /* the slot is the new unit's */
	f->state = DP_FS_UNIT;
	w->c[DP_C_FLOWS_PENDING]++;
	dp_fi(w, f)->anomalies = 0;
	if (cold_of(w, f) != NULL)
		cold_of(w, f)->c_nxt = p->seq;  /* fresh: the RSTs' ack field */
	return 1;
}

void
dp_table_full(struct dp_worker *w, struct dp_pktctx *pc)
{
	const struct dp_gen *g = w->gen;
	uint8_t act = g->set->table_full_action;
	int enforce = g->set->mode == CPM_MODE_ENFORCE;

	w->c[DP_C_TABLE_FULL]++;
	if (w->now_ns - w->table_full_audit_ns >= DP_NS_PER_S || w->table_full_audit_ns == 0) {
		struct dp_flow_info tmpi;
		struct dp_flow tmp;
		struct dp_event ev;

		memset(&tmp, 0, sizeof(tmp));
		memset(&tmpi, 0, sizeof(tmpi));
		tmp.client_is_a = (uint8_t)pc->a_is_src;
		tmp.verdict = act == CPM_ALLOW ? DP_VERDICT_ALLOW : DP_VERDICT_DENY;
		tmpi.reason = DP_REASON_TABLE_FULL;
		tmpi.rule = -1;
		tmpi.policy_gen = g->gen;
		tmp.flags = enforce ? DP_FF_ENFORCED : 0;
		tmpi.start_ms = dp_flow_ms(w->now_ns);
		dp_event_fill(&ev, DP_EV_DECISION, &tmp, &tmpi, &pc->key, w->now_ns, NULL, 0, NULL, 0,
			      NULL, w->replay);
		dp_evq_push(&w->evq, &ev, w->c);
		w->table_full_audit_ns = w->now_ns;
	}
	if (act == CPM_ALLOW || !enforce)
		dp_forward(w, pc);
	else
		dp_drop(w, pc);
}

void
dp_stateless_anomaly(struct dp_worker *w, struct dp_pktctx *pc, unsigned int an)
{
	const struct dp_gen *g = w->gen;
	uint8_t act;
	int enforce;

	if (g == NULL) {
		w->c[DP_C_NO_POLICY]++;
		dp_drop(w, pc);
		return;
	}
	act = (uint8_t)g->set->anomaly_action[an];
	enforce = g->set->mode == CPM_MODE_ENFORCE;
	w->c[DP_C_AN_FIRST + an]++;
	if (w->now_ns - w->anomaly_audit_ns[an] >= DP_NS_PER_S || w->anomaly_audit_ns[an] == 0) {
		struct dp_flow_info tmpi;
		struct dp_flow_key key;
		struct dp_flow tmp;
		struct dp_event ev;

		memset(&tmp, 0, sizeof(tmp));
		memset(&tmpi, 0, sizeof(tmpi));
		dp_flow_key_make(&pc->p, &key, &pc->a_is_src);
		tmp.client_is_a = (uint8_t)pc->a_is_src;
		tmp.verdict = act == CPM_ALLOW ? DP_VERDICT_ALLOW : DP_VERDICT_DENY;
		tmpi.reason = DP_REASON_ANOMALY;
		tmpi.rule = -1;
		tmpi.anomalies = AN(an);
		tmpi.policy_gen = g->gen;
		tmp.flags = enforce ? DP_FF_ENFORCED : 0;
		tmpi.start_ms = dp_flow_ms(w->now_ns);
		dp_event_fill(&ev, DP_EV_DECISION, &tmp, &tmpi, &key, w->now_ns, NULL, 0, NULL, 0,
			      NULL, w->replay);
		dp_evq_push(&w->evq, &ev, w->c);
		w->anomaly_audit_ns[an] = w->now_ns;
	}
	if (act == CPM_ALLOW || !enforce)
		dp_forward(w, pc);
	else
		dp_drop(w, pc);
}

void
dp_end_flow(struct dp_worker *w, struct dp_flow *f, uint8_t cause)
{
	const struct dp_name_slot *ns;
	struct dp_flow_key fk;

	if (!(f->flags & DP_FF_DECIDED)) {
		if (f->state == DP_FS_MIDWAIT)
			dp_decide_fixed(w, f, w->gen->set->midstream_action, DP_REASON_MIDSTREAM, -1);
		else
			dp_decide_pending(w, f, NULL, NULL, DP_WHY_END);
	}
	if (f->state == DP_FS_UNIT)
		unit_leave(w, f, DP_FS_ALLOWED);   /* a later unit still held: dropped */
	/* a flow that had closed reports how, not what found it closed */
	if (cause == DP_CLOSE_IDLE || cause == DP_CLOSE_SHUTDOWN) {
		if (f->state == DP_FS_DENIED)
			cause = DP_CLOSE_DENIED;
		else if (f->flags & DP_FF_RST)
			cause = DP_CLOSE_RST;
		else if ((f->flags & (DP_FF_FIN_C | DP_FF_FIN_S)) == (DP_FF_FIN_C | DP_FF_FIN_S))
			cause = DP_CLOSE_FIN;
	}
	f->close_cause = cause;
	ns = dp_names_slot(&w->names, dp_fi(w, f)->name_id);
	/* ts of flow.end: the flow's last packet, so duration is the flow's own */
	if (dp_fi(w, f)->reason != DP_REASON_TRUSTED) {
		uint64_t ts = dp_flow_ms_ns(f->last_ms, w->now_ns);
		struct dp_event *ev = dp_evq_begin(&w->evq, ts, w->c);

		dp_event_fill(ev, DP_EV_END, f, dp_fi(w, f), dp_fkey(w, f, &fk), ts,
			      ns ? ns->name : NULL,
			      ns ? ns->len : 0, NULL, 0, NULL, w->replay);
		dp_evq_commit(&w->evq, ev, w->c);
	}
	dp_names_put(&w->names, dp_fi(w, f)->name_id);
	dp_fi(w, f)->name_id = DP_NO_NAME;
	if (dp_fi(w, f)->slot != DP_NO_SLOT) {
		w->c[DP_C_HELD_SEGS] -= dp_hold_slot(&w->hold, dp_fi(w, f)->slot)->n_segs;
		dp_hold_slot_put(&w->hold, dp_fi(w, f)->slot);
		dp_fi(w, f)->slot = DP_NO_SLOT;
	}
	dp_quic_flow_end(w, f);
	dp_flow_remove(&w->ft, f);
	w->tbl_changes++;
	w->c[DP_C_FLOWS_ENDED]++;
	w->c[DP_C_FLOWS_ACTIVE] = w->ft.active;
}
