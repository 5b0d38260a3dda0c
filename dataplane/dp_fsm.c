/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_fsm.c: the flow state machine (see dp_fsm.h, docs/dataplane.md).
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <rte_mbuf.h>

#include "cpm.h"
#include "dp_dns.h"
#include "dns.h"
#include "dp_fsm.h"
#include "dp_inspect.h"
#include "dp_policy.h"
#include "dp_quic.h"
#include "dp_reval.h"
#include "dp_verdict.h"
#include "dp_watch.h"

#define AN(x) (1u << (x))

static inline int
seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

static inline int
flow_dir(const struct dp_flow *f, const struct dp_pktctx *pc)
{
	return (pc->a_is_src != 0) == (f->client_is_a != 0) ? DP_DIR_C2S : DP_DIR_S2C;
}

static inline void
account(struct dp_worker *w, struct dp_flow *f, const struct dp_pktctx *pc, int dir)
{
	if (unlikely(++f->pkts[dir] == 0))
		f->pkts_hi[dir]++;
	f->bytes[dir] += pc->p.ip_len;
	f->last_ms = dp_flow_ms(w->now_ns);
}

/* Side records looked at for a closed flow's when the pool is empty. */
#define DP_COLD_SCAN 64

/*
 * New flow for pc's key; the sender is its client when sender_is_client;
 * with a side record (struct dp_flow_cold) when cold. NULL: no room in the
 * table or the side pool (the caller applies the table_full verdict).
 */
static struct dp_flow *
flow_new(struct dp_worker *w, struct dp_pktctx *pc, int sender_is_client, int cold)
{
	struct dp_flow *f;
	int ret;

	ret = dp_flow_insert(&w->ft, &pc->key, &f);
	if (ret == -EEXIST) {
		/* a stale bulk-lookup result: the entry appeared in this burst */
		dp_end_flow(w, f, DP_CLOSE_EVICTED);
		ret = dp_flow_insert(&w->ft, &pc->key, &f);
	}
	if (ret != 0) {
		/* -ENOSPC: the table, or its IPv6 or GENEVE pair pool (dp_flow.h) */
		w->c[DP_C_V6_FULL] = w->ft.v6_full;
		w->c[DP_C_ZONE_FULL] = w->ft.zone_full;
		return NULL;
	}
	f->state = DP_FS_ALLOWED;       /* every caller sets the real state */
	if (cold && dp_flow_cold_take(&w->ft, f) != 0) {
		/* the side pool is empty: a flow that has closed gives its record */
		struct dp_flow *v = dp_flow_cold_victim(&w->ft, DP_COLD_SCAN);

		if (v != NULL) {
			w->c[DP_C_COLD_RECLAIMED]++;
			dp_end_flow(w, v, DP_CLOSE_IDLE);       /* reported as it closed */
		}
		if (v == NULL || dp_flow_cold_take(&w->ft, f) != 0) {
			w->c[DP_C_COLD_FULL]++;
			dp_flow_remove(&w->ft, f);
			return NULL;
		}
	}
	w->tbl_changes++;
	w->c[DP_C_FLOWS_CREATED]++;
	w->c[DP_C_FLOWS_ACTIVE] = w->ft.active;
	if (sender_is_client) {
		f->client_is_a = (uint8_t)(pc->a_is_src != 0);
		f->client_port = (uint8_t)pc->pidx;
	} else {
		f->client_is_a = (uint8_t)(pc->a_is_src == 0);
		f->client_port = (uint8_t)dp_out_port(w, pc->pidx);
	}
	dp_fi(w, f)->start_ms = dp_flow_ms(w->now_ns);
	f->last_ms = dp_fi(w, f)->start_ms;
	return f;
}

/* Close tracking of a decided flow. */
static void
track_close(struct dp_flow *f, const struct dp_pktctx *pc, int dir)
{
	uint8_t fl = pc->p.tcp_flags;

	if (fl & DP_TCP_RST)
		f->flags |= DP_FF_RST;
	else if (pc->p.payload_len > 0)
		/* data after an RST: that RST did not end the flow (spoofed or lost) */
		f->flags &= ~DP_FF_RST;
	if (fl & DP_TCP_FIN)
		f->flags |= dir == DP_DIR_C2S ? DP_FF_FIN_C : DP_FF_FIN_S;
}

/* Client sequence tracking (ACK field and next seq) for the RSTs. */
static void
track_client(struct dp_worker *w, struct dp_flow *f, const struct dp_pkt *p)
{
	struct dp_flow_cold *c = dp_flow_cold(&w->ft, f);
	uint32_t end = p->seq + p->payload_len + ((p->tcp_flags & DP_TCP_SYN) ? 1 : 0) +
		       ((p->tcp_flags & DP_TCP_FIN) ? 1 : 0);

	if (c == NULL)
		return;
	if (p->tcp_flags & DP_TCP_ACK) {
		c->c_ack = p->ack;
		f->flags |= DP_FF_HAS_ACK;
	}
	if (seq_after(end, c->c_nxt))
		c->c_nxt = end;
}

/* 1 if [seq, seq + len) lies inside one segment already held. */
static int
held_covers(const struct dp_slot *s, uint32_t seq, uint32_t len)
{
	for (unsigned int i = 0; i < s->n_segs; i++) {
		const struct dp_hold_seg *h = &s->segs[i];

		if (h->len >= len && (uint32_t)(seq - h->seq) <= h->len - len)
			return 1;
	}
	return 0;
}

static inline int
enforcing(const struct dp_worker *w)
{
	return w->gen->set->mode == CPM_MODE_ENFORCE;
}

/*
 * Run the extractors over the held window; decide each unit as soon as it
 * can be (the first: the flow's name; later ones: the next request head, a
 * second ClientHello), walk the framing between them, release what is
 * judged (dp_watch.c). 1 if pc was dealt with and the flow holds nothing.
 */
static int
inspect_stream(struct dp_worker *w, struct dp_flow *f, struct dp_slot *s,
	       struct dp_pktctx *pc)
{
	return dp_watch_inspect(w, f, s, pc);
}

static void
arm_deadline(struct dp_worker *w, struct dp_slot *s)
{
	if (s->deadline_ns == 0)
		s->deadline_ns = w->now_ns +
				 (uint64_t)w->gen->set->hold_timeout_ms * DP_NS_PER_MS;
}

/*
 * TCP Fast Open: the SYN's payload is the stream's first chunk. If it
 * decides the flow at once, the SYN follows the verdict as it is (allow:
 * forwarded whole; deny: dropped, the client reset in SYN-SENT, the server
 * never sees it). Otherwise, enforcing, the SYN is forwarded with the
 * payload stripped and the TFO option NOP'd, so the server acknowledges
 * ISN + 1 only and the client retransmits the bytes, which are then held
 * like any other (and compared byte for byte with the stripped ones).
 */
static void
syn_payload(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc)
{
	struct dp_pkt *p = &pc->p;
	struct dp_slot *s = dp_flow_slot(w, f);
	int n;

	if (s == NULL) {
		dp_fi(w, f)->anomalies |= AN(DP_AN_HOLD_MEMORY_FULL);
		w->c[DP_C_HOLD_OVERFLOW]++;
		dp_decide_pending(w, f, pc, NULL, DP_WHY_BOUND);
		return;
	}
	if (dp_reasm_add(&s->ra, p->seq + 1, pc->data + p->payload_off, p->payload_len) ==
	    DP_RA_CONFLICT)
		dp_fi(w, f)->anomalies |= AN(DP_AN_OVERLAP_CONFLICT);
	arm_deadline(w, s);
	f->state = DP_FS_PENDING;
	if (!enforcing(w)) {
		dp_forward(w, pc);
		pc->data = NULL;
		inspect_stream(w, f, s, NULL);
		return;
	}
	if (inspect_stream(w, f, s, pc))
		return;
	if (pc->linear) {
		/* a chained SYN cannot be stripped in place: not forwarded */
		dp_drop(w, pc);
		return;
	}
	n = dp_strip_syn_payload(pc->data, pc->len, p);
	if (n > 0) {
		rte_pktmbuf_trim(pc->m, (uint16_t)(pc->len - (uint32_t)n));
		pc->len = (uint32_t)n;
		w->c[DP_C_TFO_STRIPPED]++;
	}
	dp_forward(w, pc);
}

/* A client segment with payload while pending. */
static void
client_payload(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc)
{
	const struct cpm_settings *set = w->gen->set;
	const struct dp_pkt *p = &pc->p;
	struct rte_mbuf *copy;
	struct dp_slot *s;
	uint32_t contig0, max_segs;
	enum dp_reasm_res res;
	int enforce = enforcing(w);

	/* insertion evasions (PITFALLS 5a): what the server would not accept is not input */
	if (!dp_l4_cksum_ok(pc->data, p)) {
		w->c[DP_C_BAD_L4_CKSUM]++;
		/* captures from a sending host carry unfilled offloaded checksums */
		if (!w->replay) {
			if (enforce)
				dp_drop(w, pc);
			else
				dp_forward(w, pc);
			return;
		}
	}
	if (dp_fi(w, f)->syn_ttl != 0 && p->ttl != dp_fi(w, f)->syn_ttl) {
		w->c[DP_C_TTL_MISMATCH]++;
		if (enforce)
			dp_drop(w, pc);
		else
			dp_forward(w, pc);
		return;
	}
	s = dp_flow_slot(w, f);
	if (s == NULL) {
		dp_fi(w, f)->anomalies |= AN(DP_AN_HOLD_MEMORY_FULL);
		w->c[DP_C_HOLD_OVERFLOW]++;
		dp_decide_pending(w, f, pc, NULL, DP_WHY_BOUND);
		return;
	}
	if (f->state == DP_FS_SYN_SEEN)
		f->state = DP_FS_PENDING;       /* a later unit stays DP_FS_UNIT */
	contig0 = dp_reasm_contig(&s->ra);
	res = dp_reasm_add(&s->ra, p->seq, pc->data + p->payload_off, p->payload_len);
	if (res == DP_RA_CONFLICT)
		dp_fi(w, f)->anomalies |= AN(DP_AN_OVERLAP_CONFLICT);
	if (s->ra.segs == 1 && p->seq != s->ra.base_seq && !(f->flags & DP_FF_DECIDED))
		dp_fi(w, f)->anomalies |= AN(DP_AN_OOO_FIRST_SEGMENT);
	arm_deadline(w, s);

	if (!enforce) {
		/* monitor: never hold; the reassembler has its own copy */
		dp_forward(w, pc);
		pc->data = NULL;
	} else if (held_covers(s, p->seq, p->payload_len)) {
		/* a retransmission of bytes already held */
		rte_pktmbuf_free(pc->m);
		pc->m = NULL;
		if (!pc->linear)
			pc->data = NULL;        /* freed with it: RSTs are built from a held copy */
	} else {
		max_segs = set->hold_max_segments < DP_HOLD_SEGS ? set->hold_max_segments :
								    DP_HOLD_SEGS;
		if (s->n_segs >= max_segs) {
			dp_fi(w, f)->anomalies |= AN(DP_AN_TINY_SEGMENTS);
			w->c[DP_C_HOLD_OVERFLOW]++;
			dp_decide_pending(w, f, pc, NULL, DP_WHY_BOUND);
			return;
		}
		copy = rte_pktmbuf_copy(pc->m, w->hold.pool, 0, UINT32_MAX);
		if (copy == NULL) {
			dp_fi(w, f)->anomalies |= AN(DP_AN_HOLD_MEMORY_FULL);
			w->c[DP_C_HOLD_OVERFLOW]++;
			dp_decide_pending(w, f, pc, NULL, DP_WHY_BOUND);
			return;
		}
		s->segs[s->n_segs].m = copy;
		s->segs[s->n_segs].seq = p->seq;
		s->segs[s->n_segs].len = p->payload_len;
		s->n_segs++;
		w->c[DP_C_HELD_SEGS]++;
		rte_pktmbuf_free(pc->m);
		pc->m = NULL;
		if (!pc->linear)
			pc->data = rte_pktmbuf_mtod(copy, uint8_t *);
	}

	if ((dp_fi(w, f)->anomalies & AN(DP_AN_OVERLAP_CONFLICT)) &&
	    set->anomaly_action[DP_AN_OVERLAP_CONFLICT] == CPM_DENY) {
		dp_decide_pending(w, f, pc, NULL, DP_WHY_ANOMALY);
		return;
	}
	if (dp_reasm_contig(&s->ra) > contig0 || s->ra.overflow) {
		if (inspect_stream(w, f, s, pc))
			return;
	}
	if (p->tcp_flags & (DP_TCP_FIN | DP_TCP_RST)) {
		/* the client ended its stream: no more bytes will come */
		f->flags |= (p->tcp_flags & DP_TCP_RST) ? DP_FF_RST : DP_FF_FIN_C;
		dp_decide_pending(w, f, pc, NULL, DP_WHY_CLOSE);
	}
}

/* A packet of a flow waiting for its name (SYN_SEEN or PENDING). */
static void
pending_packet(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, int dir)
{
	const struct dp_pkt *p = &pc->p;
	uint8_t fl = p->tcp_flags;

	if (dir == DP_DIR_S2C) {
		/* SYN-ACK, ACKs, a server-first banner: the server knows the name already */
		dp_forward(w, pc);
		if (fl & DP_TCP_RST) {
			f->flags |= DP_FF_RST;
			dp_decide_pending(w, f, NULL, NULL, DP_WHY_CLOSE);
		} else if (fl & DP_TCP_FIN) {
			f->flags |= DP_FF_FIN_S;
		}
		return;
	}
	track_client(w, f, p);
	if ((fl & (DP_TCP_SYN | DP_TCP_ACK)) == DP_TCP_SYN) {
		/* the SYN again (same ISN) */
		if (p->payload_len > 0)
			syn_payload(w, f, pc);
		else
			dp_forward(w, pc);
		return;
	}
	if (p->payload_len > 0) {
		client_payload(w, f, pc);
		return;
	}
	if (fl & DP_TCP_RST) {
		f->flags |= DP_FF_RST;
		dp_forward(w, pc);
		dp_decide_pending(w, f, NULL, NULL, DP_WHY_CLOSE);
	} else if (fl & DP_TCP_FIN) {
		f->flags |= DP_FF_FIN_C;
		dp_decide_pending(w, f, pc, NULL, DP_WHY_CLOSE);
	} else {
		/* the handshake's ACK, window updates */
		dp_forward(w, pc);
	}
}

/* A packet of a DENIED flow: dropped; the client is answered with an RST. */
static void
denied_packet(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, int dir)
{
	if (unlikely(f->flags & DP_FF_REVOKE_RST)) {
		/* denied by revalidation: both ends learn it now (dp_reval.h) */
		dp_reval_rsts(w, f, pc, dir);
		dp_drop(w, pc);
		return;
	}
	if (dir == DP_DIR_C2S)
		dp_rerst(w, f, pc);
	dp_drop(w, pc);
}

/*
 * Replay: a TCP flow whose SYN the capture missed. Its client is the sender
 * of the first payload that looks like a ClientHello or an HTTP request;
 * from there it is inspected like any pending flow, so a replay names what
 * it sees. Any other payload: the midstream verdict.
 */
static void
midwait_packet(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, int dir)
{
	const struct dp_pkt *p = &pc->p;
	struct dp_flow_cold *c = dp_flow_cold(&w->ft, f);     /* taken with the flow */
	uint64_t t;
	uint8_t th;

	if (p->payload_len == 0) {
		track_close(f, pc, dir);
		dp_forward(w, pc);
		return;
	}
	if (c == NULL || !dp_inspect_looks_client(pc->data + p->payload_off, p->payload_len)) {
		dp_decide_fixed(w, f, w->gen->set->midstream_action, DP_REASON_MIDSTREAM, -1);
		if (f->state == DP_FS_DENIED)
			dp_drop(w, pc);
		else
			dp_forward(w, pc);
		return;
	}
	if (dir == DP_DIR_S2C) {
		f->client_is_a = !f->client_is_a;
		f->client_port = (uint8_t)pc->pidx;
		t = f->pkts[0]; f->pkts[0] = f->pkts[1]; f->pkts[1] = (uint32_t)t;
		th = f->pkts_hi[0]; f->pkts_hi[0] = f->pkts_hi[1]; f->pkts_hi[1] = th;
		t = f->bytes[0]; f->bytes[0] = f->bytes[1]; f->bytes[1] = t;
	}
	c->isn = p->seq - 1;
	c->c_nxt = p->seq;
	dp_stream_init(&c->ws, p->seq);
	f->state = DP_FS_SYN_SEEN;
	if (dp_classify_new(w, f, pc->pidx)) {
		if (f->state == DP_FS_DENIED)
			dp_drop(w, pc);
		else
			dp_forward(w, pc);
		return;
	}
	track_client(w, f, p);
	client_payload(w, f, pc);
}

/* TCP without a flow entry and without a SYN. */
static void
tcp_midstream(struct dp_worker *w, struct dp_pktctx *pc)
{
	const struct cpm_settings *set = w->gen->set;
	const struct dp_pkt *p = &pc->p;
	struct dp_flow *f;
	int sender_is_client;

	w->c[DP_C_MIDSTREAM]++;
	if (p->tcp_flags & DP_TCP_RST) {
		/* never create state for an RST */
		if (set->midstream_action == CPM_ALLOW || set->mode == CPM_MODE_MONITOR)
			dp_forward(w, pc);
		else
			dp_drop(w, pc);
		return;
	}
	/* a guess until the payload tells: the server has the lower port */
	if ((p->tcp_flags & (DP_TCP_SYN | DP_TCP_ACK)) == (DP_TCP_SYN | DP_TCP_ACK))
		sender_is_client = 0;
	else
		sender_is_client = p->sport >= p->dport;
	f = flow_new(w, pc, sender_is_client, w->replay);     /* replay waits: MIDWAIT */
	if (f == NULL) {
		dp_table_full(w, pc);
		return;
	}
	account(w, f, pc, sender_is_client ? DP_DIR_C2S : DP_DIR_S2C);
	if (w->replay) {
		f->state = DP_FS_MIDWAIT;
		w->c[DP_C_FLOWS_PENDING]++;
		midwait_packet(w, f, pc, sender_is_client ? DP_DIR_C2S : DP_DIR_S2C);
		return;
	}
	dp_decide_fixed(w, f, set->midstream_action, DP_REASON_MIDSTREAM, -1);
	if (f->state == DP_FS_DENIED)
		dp_drop(w, pc);
	else
		dp_forward(w, pc);
}

/* The client's SYN: a new flow. */
static void
tcp_syn(struct dp_worker *w, struct dp_pktctx *pc)
{
	const struct dp_pkt *p = &pc->p;
	struct dp_flow_cold *c;
	struct dp_flow *f;

	f = flow_new(w, pc, 1, 1);
	if (f == NULL) {
		dp_table_full(w, pc);
		return;
	}
	c = dp_flow_cold(&w->ft, f);
	f->flags |= DP_FF_SYN;
	c->isn = p->seq;
	dp_fi(w, f)->syn_ttl = p->ttl;
	c->c_nxt = p->seq + 1;
	dp_stream_init(&c->ws, p->seq + 1);
	account(w, f, pc, DP_DIR_C2S);
	if (dp_classify_new(w, f, pc->pidx)) {
		if (f->state == DP_FS_DENIED) {
			/* refused at the SYN: the client fails at once (RST in SYN-SENT) */
			dp_rerst(w, f, pc);
			dp_drop(w, pc);
		} else {
			dp_forward(w, pc);
		}
		return;
	}
	f->state = DP_FS_SYN_SEEN;
	w->c[DP_C_FLOWS_PENDING]++;
	if (p->payload_len > 0)
		syn_payload(w, f, pc);
	else
		dp_forward(w, pc);
}

/*
 * DNS over TCP: answers read for the binding table (dp_dns.h). An answer with
 * SVCB/HTTPS records that dns.https_rr blocks cannot be rewritten inside a
 * stream: the segment completing it is dropped and the flow ends (state
 * DENIED, both ends reset, as a revalidation denial does), so the client never
 * holds the whole message. Returns 1 when the packet was consumed.
 */
static int
dns_tcp(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, int dir)
{
	/* unique per flow: the table index, and the flow's start time */
	uint64_t id = ((uint64_t)(f - w->ft.flows) << 40) ^ dp_fi(w, f)->start_ms;
	uint8_t mode = w->gen != NULL ? w->gen->set->dns_https_rr : CPM_HTTPS_RR_STRIP_ECH;
	enum dp_dns_tcp_https h = DP_DNS_TCP_HTTPS_PASS;

	if (enforcing(w) && mode == CPM_HTTPS_RR_REFUSE)
		h = DP_DNS_TCP_HTTPS_REFUSE;
	else if (enforcing(w) && mode == CPM_HTTPS_RR_STRIP_ECH)
		h = DP_DNS_TCP_HTTPS_NO_ECH;
	if (!dp_dns_observe_tcp(dp_dns_table_of(w->id), id, pc->p.family, pc->p.dst, pc->p.seq,
				pc->data + pc->p.payload_off, pc->p.payload_len,
				(uint32_t)(w->now_ns / DP_NS_PER_S), h))
		return 0;
	f->state = DP_FS_DENIED;
	f->close_cause = DP_CLOSE_DENIED;
	if (!(f->flags & DP_FF_RST))
		dp_reval_rsts(w, f, pc, dir);
	dp_drop(w, pc);
	return 1;
}

static void
tcp_packet(struct dp_worker *w, struct dp_pktctx *pc, struct dp_flow *f)
{
	const struct dp_pkt *p = &pc->p;
	int syn_only = (p->tcp_flags & (DP_TCP_SYN | DP_TCP_ACK | DP_TCP_RST)) == DP_TCP_SYN;
	int dir;

	if (f != NULL && syn_only) {
		dir = flow_dir(f, pc);
		/*
		 * A SYN that is not a retransmission of the flow's own SYN starts
		 * a new flow: a cached verdict is never inherited (PITFALLS 5c).
		 */
		const struct dp_flow_cold *c = dp_flow_cold(&w->ft, f);

		/* (an allowed flow no longer watched has given its ISN back) */
		if (!(f->flags & DP_FF_SYN) || dir != DP_DIR_C2S || c == NULL ||
		    p->seq != c->isn) {
			dp_end_flow(w, f, DP_CLOSE_EVICTED);
			f = NULL;
		}
	}
	if (f == NULL) {
		if (syn_only)
			tcp_syn(w, pc);
		else
			tcp_midstream(w, pc);
		return;
	}
	dir = flow_dir(f, pc);
	account(w, f, pc, dir);
	switch (f->state) {
	case DP_FS_ALLOWED:
		track_close(f, pc, dir);
		if (unlikely(f->flags & DP_FF_VERIFY) && dp_verify_allowed(w, f, pc, dir))
			break;
		if (unlikely(f->cold != 0)) {
			const struct dp_flow_cold *c = dp_flow_cold(&w->ft, f);

			if (c->ws.mode != DP_W_NONE && dp_watch_packet(w, f, pc, dir)) {
				/* a later unit of the client stream starts: held until judged */
				pending_packet(w, f, pc, dir);
				break;
			}
			/*
			 * neither watched nor verifying: the side record goes back at
			 * the client's data (past it, its SYN is never sent again)
			 */
			if (f->state == DP_FS_ALLOWED && f->cold != 0 && c->ws.mode == DP_W_NONE &&
			    !(f->flags & DP_FF_VERIFY) && dir == DP_DIR_C2S && p->payload_len > 0)
				dp_flow_cold_put(&w->ft, f);
		}
		/* DNS over TCP: answers read for the binding table (dp_dns.h) */
		if (unlikely(p->sport == 53) && dir == DP_DIR_S2C && p->payload_len > 0 &&
		    dns_tcp(w, f, pc, dir))
			break;
		dp_forward(w, pc);
		break;
	case DP_FS_DENIED:
		track_close(f, pc, dir);
		denied_packet(w, f, pc, dir);
		break;
	case DP_FS_MIDWAIT:
		midwait_packet(w, f, pc, dir);
		break;
	default:
		pending_packet(w, f, pc, dir);
		break;
	}
}

/*
 * SVCB/HTTPS records (type 64/65) in a UDP DNS answer, by dns.https_rr:
 * refuse drops the answer; strip_ech removes the ech SvcParams in place
 * (lengths and checksums fixed), or drops the answer when that cannot be done
 * (ech mandatory, a broken record, a chained or GENEVE-encapsulated packet);
 * allow forwards it (and so does monitor mode, whatever the setting). Every
 * such answer is counted by what was done. Returns
 * nonzero when the packet must be dropped. A message the walk cannot read is
 * left to dp_dns_observe() to count as bad, unless it is to be refused.
 */
static int
dns_https_rr(struct dp_worker *w, struct dp_pktctx *pc)
{
	struct dp_dns_table *t = dp_dns_table_of(w->id);
	uint8_t mode = w->gen != NULL ? w->gen->set->dns_https_rr : CPM_HTTPS_RR_STRIP_ECH;
	uint8_t *msg = pc->data + pc->p.payload_off;
	struct dns_svcb_info in;
	enum dns_result rc;
	size_t nl;
	int n;

	rc = dns_svcb_scan(msg, pc->p.payload_len, &in);
	if (rc != DNS_OK || in.n_svcb == 0)
		return 0;
	if (!enforcing(w))
		mode = CPM_HTTPS_RR_ALLOW;      /* monitor: nothing is changed, nothing dropped */
	if (mode == CPM_HTTPS_RR_ALLOW || (mode == CPM_HTTPS_RR_STRIP_ECH && in.n_ech == 0)) {
		dp_dns_https_count(t, DP_DNS_HTTPS_ALLOWED);
		return 0;
	}
	if (mode == CPM_HTTPS_RR_REFUSE) {
		dp_dns_https_count(t, DP_DNS_HTTPS_REFUSED);
		return 1;
	}
	if (pc->linear || w->mode == DP_MODE_GENEVE ||
	    dns_strip_ech(msg, pc->p.payload_len, &nl, &in) != DNS_OK) {
		dp_dns_https_count(t, DP_DNS_HTTPS_UNSTRIPPABLE);
		return 1;
	}
	n = dp_shrink_udp_payload(pc->data, pc->len, &pc->p, (uint16_t)nl);
	if (n < 0) {
		dp_dns_https_count(t, DP_DNS_HTTPS_UNSTRIPPABLE);
		return 1;
	}
	rte_pktmbuf_trim(pc->m, (uint16_t)(pc->len - (uint32_t)n));
	pc->len = (uint32_t)n;
	dp_dns_https_count(t, DP_DNS_HTTPS_STRIPPED);
	return 0;
}

/* UDP, ICMP and other IP protocols: decided at the first packet. */
static void
other_packet(struct dp_worker *w, struct dp_pktctx *pc, struct dp_flow *f)
{
	int dir = DP_DIR_C2S;
	int udp = pc->p.l4proto == IPPROTO_UDP;

	/* a new QUIC connection (or hello) on a decided 5-tuple never inherits its verdict */
	if (f != NULL && udp && (f->flags & DP_FF_DECIDED) &&
	    dp_quic_decided(w, f, pc, flow_dir(f, pc))) {
		dp_end_flow(w, f, DP_CLOSE_EVICTED);
		f = NULL;
	}
	if (f == NULL) {
		f = flow_new(w, pc, 1, 0);
		if (f == NULL) {
			dp_table_full(w, pc);
			return;
		}
		account(w, f, pc, DP_DIR_C2S);
		if (udp)
			dp_quic_flow_new(w, f, pc);
		if (!dp_classify_new(w, f, pc->pidx)) {
			/* QUIC: the name comes from the client's Initials (dp_quic.c) */
			dp_quic_start(w, f, pc);
			return;
		}
	} else {
		dir = flow_dir(f, pc);
		account(w, f, pc, dir);
		if (f->state == DP_FS_PENDING) {
			dp_quic_packet(w, f, pc, dir);
			return;
		}
	}
	if (f->state == DP_FS_DENIED) {
		dp_drop(w, pc);
		return;
	}
	/* a DNS answer to a query the policy let out: read for the binding table (dp_dns.h) */
	if (udp && dir == DP_DIR_S2C && pc->p.sport == 53 && f->state == DP_FS_ALLOWED) {
		if (dns_https_rr(w, pc) != 0) {
			dp_drop(w, pc);
			return;
		}
		dp_dns_observe(dp_dns_table_of(w->id), pc->p.family, pc->p.dst,
			       pc->data + pc->p.payload_off, pc->p.payload_len,
			       (uint32_t)(w->now_ns / DP_NS_PER_S));
	}
	dp_forward(w, pc);
}

void
dp_fsm_packet(struct dp_worker *w, struct dp_pktctx *pc, struct dp_flow *f)
{
	if (pc->p.l4proto == IPPROTO_TCP)
		tcp_packet(w, pc, f);
	else
		other_packet(w, pc, f);
}
