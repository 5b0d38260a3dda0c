/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_verdict.h: making and applying a flow's verdict. The matcher decides
 * (cpm_classify_l34 at the first packet, cpm_match once the name is known
 * or known to be absent), anomalies the policy marks "deny" force a deny,
 * monitor mode records without enforcing; then held segments are released
 * in sequence order (allow) or dropped with an RST to each end (deny), and
 * the flow.decision event is written. Ending a flow writes flow.end.
 */
#ifndef CHOKEPOINT_DP_VERDICT_H
#define CHOKEPOINT_DP_VERDICT_H

#include <stdint.h>

#include "dp_flow.h"
#include "dp_inspect.h"
#include "dp_worker.h"

#define DP_DOT_PORT 853          /* DNS over TLS (RFC 7858) and over QUIC (RFC 9250) */

enum dp_why {
	DP_WHY_NAME = 0,         /* the extractors finished (io given) */
	DP_WHY_BOUND,            /* a hold bound or the hold timeout hit without a name */
	DP_WHY_ANOMALY,          /* an anomaly the policy denies was seen */
	DP_WHY_CLOSE,            /* the client ended its stream while pending */
	DP_WHY_END,              /* the flow ends undecided (idle, shutdown, eviction) */
};

/*
 * Decide a pending TCP flow (or its later unit, DP_FS_UNIT) and apply the
 * verdict; an allow releases everything held and ends the watch of the
 * client stream (the unit never completed). pc: the client packet
 * that triggered it (NULL if none; its mbuf, when still owned, follows the
 * verdict). io: the extractors' result, or NULL (no name: the bytes so far).
 */
void dp_decide_pending(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc,
		       const struct dp_insp_out *io, enum dp_why why);

/*
 * The client-stream loop (dp_watch.c) has a complete unit (io): decide it
 * and write its flow.decision. An enforced deny is applied at once (held
 * data and pc dropped, both ends reset) and 1 returned. Allowed (or
 * monitor), nothing is released yet and 0 is returned: the caller sets the
 * framing of what follows (the side record's ws) and calls dp_release_judged.
 */
int dp_decide_stream(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc,
		     const struct dp_insp_out *io);

/*
 * Forward the held segments wholly before ws.seq (every byte before it
 * is judged; all of them once the watch has stopped). Returns 1 when
 * nothing is held any more (the flow is ALLOWED, pc forwarded, the slot
 * kept for verification or freed), 0 when a later unit has begun and stays
 * held (DP_FS_UNIT; the window rebased to it, its own hold timer).
 */
int dp_release_judged(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc);

/*
 * An allowed flow's client segment p starts a later unit: the flow goes
 * back to holding (DP_FS_UNIT). Returns 1 (the caller hands the packet to
 * the pending path).
 */
int dp_watch_enter(struct dp_worker *w, struct dp_flow *f, const struct dp_pkt *p);

/* Record a verdict reached without a name (inbound, midstream, l3/l4 rule). */
void dp_decide_fixed(struct dp_worker *w, struct dp_flow *f, uint8_t action, uint8_t reason,
		     int32_t rule);

/*
 * A new flow's first decision point: inbound (wire, port 1), then
 * cpm_classify_l34. Non-TCP flows are always decided here. Returns 1 if the
 * flow is decided, 0 if it needs a name.
 */
int dp_classify_new(struct dp_worker *w, struct dp_flow *f, uint16_t pidx);

/* The flow table is full: apply table_full to pc, audit once per second. */
void dp_table_full(struct dp_worker *w, struct dp_pktctx *pc);

/*
 * A packet that cannot belong to a flow (an IP fragment, an IPv6 extension
 * chain too long): the policy's action for anomaly an applies (monitor:
 * forwarded), counted by the caller; one flow.decision per second per worker
 * records it (no ports for non-first fragments).
 */
void dp_stateless_anomaly(struct dp_worker *w, struct dp_pktctx *pc, unsigned int an);

/*
 * An ALLOWED flow still verifying its decided bytes (DP_FF_VERIFY): a server
 * ACK covering them ends the verification; a client segment over them is
 * compared byte for byte, and different bytes are overlap_conflict (the
 * policy's "deny" denies the flow: pc dropped, RSTs, a second
 * flow.decision). Returns 1 if pc was consumed.
 */
int dp_verify_allowed(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, int dir);

/* Stop verifying (slot freed). */
void dp_verify_done(struct dp_worker *w, struct dp_flow *f);

/* RST to the client of a DENIED flow answering pc (rate-limited). */
void dp_rerst(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc);

/* The policy query of a flow without its name (revalidation: dp_reval.h). */
struct cpm_query;
struct cpm_settings;
struct dp_flow_table;
void dp_flow_query(const struct dp_flow_table *t, const struct dp_flow *f, struct cpm_query *q);
/* 1 if an anomaly in an is one the policy marks "deny". */
int dp_anomaly_denies(const struct cpm_settings *set, uint32_t an);

/* End a flow: decide it if undecided, write flow.end, free its state. */
void dp_end_flow(struct dp_worker *w, struct dp_flow *f, uint8_t cause);

/* Take the inspection slot of f (stream from isn + 1), DP_NO_SLOT if none. */
struct dp_slot *dp_flow_slot(struct dp_worker *w, struct dp_flow *f);

/* Server port index of a flow. */
static inline uint16_t
dp_server_port(const struct dp_worker *w, const struct dp_flow *f)
{
	return w->mode == DP_MODE_WIRE ? (uint16_t)(f->client_port ^ 1) : f->client_port;
}

/* Server's port number of a flow. */
static inline uint16_t
dp_flow_dport(const struct dp_flow *f)
{
	return f->client_is_a ? f->key.pb : f->key.pa;
}

#endif /* CHOKEPOINT_DP_VERDICT_H */
