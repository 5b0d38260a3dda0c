/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_event.h: audit events from a worker. Each worker owns one SP/SC ring
 * of fixed-size struct dp_event (rte_ring_create_elem); the control thread
 * is the only consumer. Every event gets the next per-worker wseq (from 1).
 * A full ring loses the event (counted events_lost) and remembers the lost
 * wseq range; the next event that fits, or the worker's next dp_evq_poll(),
 * is preceded by a DP_EV_GAP event naming that exact range and its cause,
 * so the control plane can prove what is missing.
 *
 * The control thread keeps every event it took from a ring until the
 * control plane acknowledges it (dp_ctl.c); it takes none while its
 * retention is full, so a ring fills only when the events cannot be kept:
 * losses are then exact and counted here. dp_event_set_backlog() tells the
 * workers why (the gap's cause) and, with audit_overflow = deny_new_flows,
 * dp_evq_overflow_verdict() turns an allow into a deny whenever its event
 * could not be kept.
 */
#ifndef CHOKEPOINT_DP_EVENT_H
#define CHOKEPOINT_DP_EVENT_H

#include <stdint.h>

#include "dp_proto.h"

struct rte_ring;
struct dp_flow;

struct dp_evq {
	struct rte_ring *r;
	uint64_t next_wseq;      /* wseq the next event gets */
	uint64_t gap_first;      /* lost range not yet reported (0: none) */
	uint64_t gap_last;
	uint8_t gap_cause;       /* enum dp_gap_cause of the pending range */
	uint8_t worker;
	struct dp_event lost;    /* dp_evq_begin's event when the ring has no room */
};

/*
 * Set by the control thread: 0 when its retention has room, else
 * 1 + enum dp_gap_cause (why events cannot leave: no control plane, or
 * acknowledgements too slow). Read by the workers when they lose an event.
 */
void dp_event_set_backlog(uint8_t v);

/* Emit a pending DP_EV_GAP when the ring has room (the worker's loop calls it). */
void dp_evq_poll(struct dp_evq *q, uint64_t now_ns, uint64_t *counters);

/*
 * audit_overflow hook, one call where a flow is decided: v itself, or, when
 * set->audit_overflow is deny_new_flows and an allow decision could not be
 * kept (a lost range is pending or the ring is nearly full: 1/8 kept for the
 * flow.end events of flows already allowed), a deny with reason
 * DP_REASON_AUDIT_OVERFLOW.
 */
struct cpm_settings;
struct cpm_verdict;
const struct cpm_verdict *dp_evq_overflow_verdict(const struct dp_evq *q,
						  const struct cpm_settings *set,
						  const struct cpm_verdict *v);

int dp_evq_init(struct dp_evq *q, uint8_t worker, unsigned int size, int socket);
void dp_evq_fini(struct dp_evq *q);

/*
 * Assign ev->wseq and ev->worker and enqueue it (after a pending GAP event).
 * counters: the worker's DP_C_* array (events, events_lost).
 */
void dp_evq_push(struct dp_evq *q, struct dp_event *ev, uint64_t *counters);

/*
 * dp_evq_push without the copy: begin returns the ring slot the next event
 * is to be built in (after a pending GAP event, as push), or, when the ring
 * has no room, a spare event of q; commit publishes it (or counts it lost,
 * as push). Nothing else may be pushed between the two.
 */
struct dp_event *dp_evq_begin(struct dp_evq *q, uint64_t ts_ns, uint64_t *counters);
void dp_evq_commit(struct dp_evq *q, struct dp_event *ev, uint64_t *counters);

/* Free entries of the ring (the replay loop keeps room before each step). */
unsigned int dp_evq_free(const struct dp_evq *q);

/*
 * Fill the flow part of an event: addresses/ports oriented client -> server
 * (from the flow's full key k, dp_flow_key_get), fi the flow's info,
 * verdict, reason, rule, generation, app, anomalies, flags; ts_ns given.
 * name (normalised, may be NULL), alpn (wire format, may be NULL), ja4
 * (NUL-terminated, may be NULL).
 */
struct dp_flow_info;
struct dp_flow_key;
void dp_event_fill(struct dp_event *ev, uint8_t type, const struct dp_flow *f,
		   const struct dp_flow_info *fi, const struct dp_flow_key *k,
		   uint64_t ts_ns, const char *name, unsigned int name_len,
		   const uint8_t *alpn, unsigned int alpn_len, const char *ja4, int replay);

#endif /* CHOKEPOINT_DP_EVENT_H */
