/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_reval.c: revalidation of established flows (see dp_reval.h).
 */
#include <netinet/in.h>
#include <string.h>

#include <rte_mbuf.h>

#include "cpm.h"
#include "dp_event.h"
#include "dp_hold.h"
#include "dp_local.h"
#include "dp_names.h"
#include "dp_policy.h"
#include "dp_reval.h"
#include "dp_verdict.h"

/* The new generation's verdict for an established flow. */
static void
judge(struct dp_worker *w, const struct dp_flow *f, struct cpm_verdict *v)
{
	const struct dp_gen *g = w->gen;
	const struct cpm_settings *set = g->set;
	const struct dp_name_slot *ns;
	struct cpm_query q;

	v->rule = -1;
	if (dp_fi(w, f)->reason == DP_REASON_INBOUND) {
		v->action = set->inbound_action;
		v->reason = DP_REASON_INBOUND;
		return;
	}
	if (dp_fi(w, f)->reason == DP_REASON_MIDSTREAM) {
		v->action = set->midstream_action;
		v->reason = DP_REASON_MIDSTREAM;
		return;
	}
	dp_flow_query(&w->ft, f, &q);
	if (cpm_classify_l34(g->pol, &q, v) == CPM_DECIDED)
		return;
	if (f->app == DP_APP_QUIC && set->quic_action == CPM_DENY) {
		/* QUIC by content on another port than 443, as dp_classify_new decides it */
		v->action = CPM_DENY;
		v->reason = DP_REASON_QUIC;
		return;
	}
	ns = dp_names_slot(&w->names, dp_fi(w, f)->name_id);
	if (ns != NULL && dp_fi(w, f)->name_kind != DP_NAME_NONE) {
		q.field = dp_fi(w, f)->name_kind == DP_NAME_SNI ? CPM_FIELD_SNI : CPM_FIELD_HOST;
		q.name = ns->name;
		q.name_len = ns->len;
	}
	if (cpm_match(g->pol, g->scratch[w->id], &q, v) != 0)
		w->c[DP_C_MATCH_ERRORS]++;      /* v holds the default verdict */
	/* a pinned rule's dst is its binding, not a match condition (cpm.h); bind = "dns" is
	 * not asked again: an answer that expired while the flow was open does not cut it */
	if (v->action == CPM_ALLOW && v->reason == CPM_REASON_RULE &&
	    set->anomaly_action[DP_AN_SNI_DST_MISMATCH] == CPM_DENY &&
	    cpm_rule_bind(g->pol, v->rule) == CPM_BIND_PINNED &&
	    !cpm_rule_pin_holds(g->pol, v->rule, &q)) {
		v->action = CPM_DENY;
		v->reason = DP_REASON_ANOMALY;
		v->rule = -1;
		return;
	}
	if (v->action == CPM_ALLOW && dp_anomaly_denies(set, dp_fi(w, f)->anomalies)) {
		v->action = CPM_DENY;
		v->reason = DP_REASON_ANOMALY;
		v->rule = -1;
	}
}

int
dp_reval_flow(struct dp_worker *w, struct dp_flow *f)
{
	const struct dp_gen *g = w->gen;
	const struct dp_name_slot *ns;
	struct cpm_verdict v;
	struct dp_flow_key fk;
	struct dp_event ev;

	if (dp_fi(w, f)->name_kind != DP_NAME_NONE && dp_fi(w, f)->name_id == DP_NO_NAME) {
		/* its name was not kept (name table full): it cannot be judged by it */
		w->c[DP_C_REVAL_NO_NAME]++;
		return 0;
	}
	w->c[DP_C_REVALIDATED]++;
	judge(w, f, &v);
	if (v.action == CPM_ALLOW)
		return 0;
	/* denied: what is held is dropped, nothing passes from now on */
	if (dp_fi(w, f)->slot != DP_NO_SLOT) {
		struct dp_slot *s = dp_hold_slot(&w->hold, dp_fi(w, f)->slot);

		w->c[DP_C_HELD_SEGS] -= s->n_segs;
		w->c[DP_C_DROPPED] += s->n_segs;
		dp_hold_slot_put(&w->hold, dp_fi(w, f)->slot);
		dp_fi(w, f)->slot = DP_NO_SLOT;
	}
	if (f->state == DP_FS_UNIT)
		w->c[DP_C_FLOWS_PENDING]--;
	if (dp_flow_cold(&w->ft, f) != NULL)
		dp_stream_stop(&dp_flow_cold(&w->ft, f)->ws);
	f->flags &= (uint16_t)~DP_FF_VERIFY;
	f->flags |= DP_FF_ENFORCED;
	if (f->key.l4proto == IPPROTO_TCP && !(f->flags & DP_FF_RST))
		f->flags |= DP_FF_REVOKE_RST;
	f->state = DP_FS_DENIED;
	f->close_cause = DP_CLOSE_DENIED;
	f->verdict = DP_VERDICT_DENY;
	dp_fi(w, f)->reason = DP_REASON_REVALIDATED;
	dp_fi(w, f)->rule = v.rule;
	dp_fi(w, f)->policy_gen = g->gen;
	dp_gen_hit(g, w->id, v.rule);
	w->c[DP_C_DENY]++;
	w->c[DP_C_REVOKED]++;
	ns = dp_names_slot(&w->names, dp_fi(w, f)->name_id);
	dp_event_fill(&ev, DP_EV_DECISION, f, dp_fi(w, f), dp_fkey(w, f, &fk), w->now_ns,
		      ns != NULL ? ns->name : NULL, ns != NULL ? ns->len : 0, NULL, 0, NULL, w->replay);
	dp_evq_push(&w->evq, &ev, w->c);
	return 1;
}

void
dp_reval_step(struct dp_worker *w, int idle)
{
	const struct dp_gen *g = w->gen;
	struct dp_flow_table *t = &w->ft;
	unsigned int i, judged = 0, max_judged = idle ? DP_REVAL_JUDGE_IDLE : DP_REVAL_JUDGE;

	if (likely(w->reval_gen == g->gen) && w->reval_left == 0)
		return;
	if (w->reval_gen != g->gen) {
		/* a new generation: once around the array from the cursor */
		w->reval_gen = g->gen;
		w->reval_left = g->set->revalidate && g->set->mode == CPM_MODE_ENFORCE &&
				!w->replay ? t->capacity : 0;
		if (w->reval_left == 0)
			return;
	}
	for (i = 0; i < DP_REVAL_BUDGET && judged < max_judged && w->reval_left > 0; i++) {
		struct dp_flow *f = &t->flows[w->reval_pos];

		if (++w->reval_pos == t->capacity)
			w->reval_pos = 0;
		w->reval_left--;
		if ((f->state == DP_FS_ALLOWED || f->state == DP_FS_UNIT) &&
		    dp_fi(w, f)->policy_gen != (uint32_t)g->gen) {
			dp_reval_flow(w, f);
			judged++;
		}
	}
}

void
dp_reval_rsts(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, int dir)
{
	const struct dp_pkt *p = &pc->p;
	uint32_t seq_end;

	f->flags &= (uint16_t)~DP_FF_REVOKE_RST;
	/* the RST rate limit of the DENIED flow: its side record, taken now if given back */
	if (dp_flow_cold_take(&w->ft, f) == 0)
		dp_flow_cold(&w->ft, f)->last_rst_ns = w->now_ns;
	else
		w->c[DP_C_COLD_FULL]++;
	if (w->replay || pc->data == NULL || (p->tcp_flags & DP_TCP_RST))
		return;
	seq_end = p->seq + p->payload_len + ((p->tcp_flags & DP_TCP_SYN) ? 1 : 0) +
		  ((p->tcp_flags & DP_TCP_FIN) ? 1 : 0);
	for (int back = 0; back < 2; back++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(w->app->rx_pool);
		uint16_t port;
		int n;

		if (m == NULL)
			return;
		/*
		 * back: to the sender of this packet, seq = its ACK field (its
		 * rcv_nxt); else on to its peer, seq = this packet's (the peer's
		 * rcv_nxt: the packet itself is dropped).
		 */
		if (back)
			port = pc->pidx;
		else
			port = dir == DP_DIR_C2S ? dp_server_port(w, f) : f->client_port;
		n = dp_local_build_rst(w, pc->data, p, back,
				       back ? ((p->tcp_flags & DP_TCP_ACK) ? p->ack : 0) : p->seq,
				       back ? seq_end : p->ack, rte_pktmbuf_mtod(m, uint8_t *),
				       rte_pktmbuf_tailroom(m));
		if (n < 0) {
			rte_pktmbuf_free(m);
			continue;
		}
		m->data_len = (uint16_t)n;
		m->pkt_len = (uint32_t)n;
		dp_tx(w, port, m);
		w->c[DP_C_RST_SENT]++;
	}
}
