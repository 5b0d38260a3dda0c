/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_event.c: event rings and event construction (see dp_event.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_ring_peek_zc.h>

#include "cpm.h"
#include "dp_event.h"
#include "dp_flow.h"
#include "dp_log.h"

RTE_LOG_REGISTER_SUFFIX(dp_logtype_event, event, INFO);

_Static_assert(sizeof(struct dp_event) % 4 == 0, "rte_ring elements are 4-byte multiples");

static uint8_t backlog;          /* see dp_event_set_backlog() */

static const struct cpm_verdict overflow_deny = {
	.action = CPM_DENY,
	.reason = DP_REASON_AUDIT_OVERFLOW,
	.rule = -1,
};

void
dp_event_set_backlog(uint8_t v)
{
	__atomic_store_n(&backlog, v, __ATOMIC_RELAXED);
}

int
dp_evq_init(struct dp_evq *q, uint8_t worker, unsigned int size, int socket)
{
	char name[RTE_RING_NAMESIZE];

	memset(q, 0, sizeof(*q));
	snprintf(name, sizeof(name), "dp_events_w%u", worker);
	q->r = rte_ring_create_elem(name, sizeof(struct dp_event), size, socket,
				    RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (q->r == NULL)
		return -rte_errno;
	q->next_wseq = 1;
	q->worker = worker;
	return 0;
}

void
dp_evq_fini(struct dp_evq *q)
{
	rte_ring_free(q->r);
	q->r = NULL;
}

unsigned int
dp_evq_free(const struct dp_evq *q)
{
	return rte_ring_free_count(q->r);
}

static int
enqueue(struct dp_evq *q, const struct dp_event *ev)
{
	return rte_ring_enqueue_elem(q->r, (void *)(uintptr_t)ev, sizeof(*ev));
}

/* Enqueue the pending GAP event if the ring has room for it and `extra` more. */
static void
flush_gap(struct dp_evq *q, uint64_t ts_ns, unsigned int extra, uint64_t *counters)
{
	struct dp_event gap;

	if (q->gap_first == 0 || rte_ring_free_count(q->r) < 1 + extra)
		return;
	memset(&gap, 0, sizeof(gap));
	gap.type = DP_EV_GAP;
	gap.worker = q->worker;
	gap.reason = q->gap_cause;
	gap.ts_ns = ts_ns;
	gap.gap_first = q->gap_first;
	gap.gap_last = q->gap_last;
	gap.wseq = q->next_wseq;
	if (enqueue(q, &gap) == 0) {
		q->next_wseq++;
		counters[DP_C_EVENTS]++;
		q->gap_first = q->gap_last = 0;
	}
}

/* Event wseq could not be queued: count it and open or extend the gap it is in. */
static void
count_lost(struct dp_evq *q, uint64_t wseq, uint64_t *counters)
{
	uint8_t b;

	counters[DP_C_EVENTS_LOST]++;
	if (q->gap_first == 0) {
		b = __atomic_load_n(&backlog, __ATOMIC_RELAXED);
		q->gap_first = wseq;
		q->gap_cause = b > 0 && b <= DP_GAP_CAUSE_MAX ? (uint8_t)(b - 1) : DP_GAP_RING_FULL;
	}
	q->gap_last = wseq;
}

void
dp_evq_push(struct dp_evq *q, struct dp_event *ev, uint64_t *counters)
{
	ev->worker = q->worker;
	/* the GAP event and this one must both fit, or this one is lost too */
	flush_gap(q, ev->ts_ns, 1, counters);
	ev->wseq = q->next_wseq++;
	if (q->gap_first == 0 && enqueue(q, ev) == 0) {
		counters[DP_C_EVENTS]++;
		return;
	}
	count_lost(q, ev->wseq, counters);
}

struct dp_event *
dp_evq_begin(struct dp_evq *q, uint64_t ts_ns, uint64_t *counters)
{
	struct rte_ring_zc_data zcd;

	/* the GAP event and this one must both fit, or this one is lost too */
	flush_gap(q, ts_ns, 1, counters);
	/* single producer: the reserved slot is this worker's until commit */
	if (q->gap_first == 0 &&
	    rte_ring_enqueue_zc_bulk_elem_start(q->r, sizeof(struct dp_event), 1, &zcd,
						NULL) == 1)
		return zcd.ptr1;
	return &q->lost;
}

void
dp_evq_commit(struct dp_evq *q, struct dp_event *ev, uint64_t *counters)
{
	ev->worker = q->worker;
	ev->wseq = q->next_wseq++;
	if (ev != &q->lost) {
		rte_ring_enqueue_zc_elem_finish(q->r, 1);
		counters[DP_C_EVENTS]++;
		return;
	}
	count_lost(q, ev->wseq, counters);
}

void
dp_evq_poll(struct dp_evq *q, uint64_t now_ns, uint64_t *counters)
{
	if (unlikely(q->gap_first != 0))
		flush_gap(q, now_ns, 0, counters);
}

const struct cpm_verdict *
dp_evq_overflow_verdict(const struct dp_evq *q, const struct cpm_settings *set,
			const struct cpm_verdict *v)
{
	unsigned int reserve;

	if (likely(set->audit_overflow != CPM_AUDIT_DENY_NEW_FLOWS) || v->action != CPM_ALLOW)
		return v;
	reserve = rte_ring_get_capacity(q->r) / 8;
	if (reserve < 2)
		reserve = 2;
	if (q->gap_first != 0 || rte_ring_free_count(q->r) < reserve)
		return &overflow_deny;
	return v;
}

void
dp_event_fill(struct dp_event *ev, uint8_t type, const struct dp_flow *f,
	      const struct dp_flow_info *fi, const struct dp_flow_key *k, uint64_t ts_ns,
	      const char *name, unsigned int name_len,
	      const uint8_t *alpn, unsigned int alpn_len, const char *ja4, int replay)
{
	size_t alen = k->family == 6 ? 16 : 4;

	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->verdict = f->verdict;
	ev->reason = fi->reason;
	ev->app = f->app;
	ev->l4proto = k->l4proto;
	ev->family = k->family;
	ev->vlan = k->vlan;
	if (k->gwlb_ep != 0 || k->gwlb_att != 0) {      /* GENEVE (dp_geneve.h) */
		ev->flags |= DP_EVF_GWLB;
		ev->gwlb_ep = k->gwlb_ep;
		ev->gwlb_att = k->gwlb_att;
	}
	if (f->client_is_a) {
		memcpy(ev->src, k->a, alen);
		memcpy(ev->dst, k->b, alen);
		ev->sport = k->pa;
		ev->dport = k->pb;
	} else {
		memcpy(ev->src, k->b, alen);
		memcpy(ev->dst, k->a, alen);
		ev->sport = k->pb;
		ev->dport = k->pa;
	}
	ev->ts_ns = ts_ns;
	ev->policy_gen = fi->policy_gen;
	ev->rule = fi->rule;
	ev->anomalies = fi->anomalies;
	ev->bound = fi->bound;
	ev->tls_versions = fi->tls_versions;
	if (f->flags & DP_FF_ENFORCED)
		ev->flags |= DP_EVF_ENFORCED;
	if (f->flags & DP_FF_ECH)
		ev->flags |= DP_EVF_ECH;
	if (f->flags & DP_FF_PQC)
		ev->flags |= DP_EVF_PQC;
	if (replay)
		ev->flags |= DP_EVF_REPLAY;
	ev->close_cause = f->close_cause;
	ev->pkts_c2s = dp_flow_pkts(f, DP_DIR_C2S);
	ev->pkts_s2c = dp_flow_pkts(f, DP_DIR_S2C);
	ev->bytes_c2s = f->bytes[DP_DIR_C2S];
	ev->bytes_s2c = f->bytes[DP_DIR_S2C];
	ev->start_ns = dp_flow_ms_ns(fi->start_ms, ts_ns);
	if (name != NULL && name_len > 0) {
		if (name_len > DP_NAME_MAX)
			name_len = DP_NAME_MAX;
		memcpy(ev->name, name, name_len);
		ev->name_len = (uint8_t)name_len;
		ev->name_kind = fi->name_kind;
	}

	if (alpn != NULL && alpn_len > 0) {
		if (alpn_len > DP_ALPN_BYTES)
			alpn_len = DP_ALPN_BYTES;
		memcpy(ev->alpn, alpn, alpn_len);
		ev->alpn_len = (uint8_t)alpn_len;
	}
	if (ja4 != NULL && ja4[0] != '\0') {
		size_t n = strnlen(ja4, DP_JA4_MAX);

		memcpy(ev->ja4, ja4, n);
		ev->ja4_len = (uint8_t)n;
	}

}
