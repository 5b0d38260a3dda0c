/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_reval.h: revalidation of established flows (policy key revalidate).
 *
 * When a generation whose settings say revalidate = true (and mode enforce)
 * becomes live, each worker walks its own flow array once, a bounded number
 * of entries per loop (below, like the aging sweep), and judges
 * every decided flow that is still let through (state ALLOWED or UNIT) and
 * was decided by an older generation again: from its recorded name
 * (dp_flow.name_id, dp_names.h) and name kind, its tuple and the anomalies
 * of its decision, with the same matcher calls a new flow gets
 * (cpm_classify_l34, then cpm_match). Flows decided by a fixed setting
 * (inbound, midstream) are judged by the new setting. A flow decided on a
 * name the per-worker name table had no room to keep (dp_names.h) cannot be
 * judged by it: it is left as it is and counted (reval_no_name).
 *
 * Trusted bypass flows: still trusted by the new policy -> untouched. No
 * longer trusted -> judged like any flow, without a name (bypass flows are
 * never inspected, so none was recorded): the new policy's verdict for a
 * nameless flow to that address and port.
 *
 * A flow the new policy denies is denied at once: flow.decision (verdict
 * deny, reason "revalidated", rule = the denying rule's id or null for the
 * default, policy = the new generation), held bytes dropped, state DENIED
 * (every later packet dropped: UDP/QUIC flows simply stop). A TCP flow
 * resets both ends at its next packet in either direction (the record keeps
 * no frame to build an RST from; dp_reval_rsts). Flows the new policy still
 * allows are not touched and write nothing.
 */
#ifndef CHOKEPOINT_DP_REVAL_H
#define CHOKEPOINT_DP_REVAL_H

#include "dp_flow.h"
#include "dp_worker.h"

/*
 * Per worker loop the walk looks at up to DP_REVAL_BUDGET flow-array
 * entries (each a record's first cache line, likely a miss: 256 bound the
 * loop's cost on a sparse table) and judges up to DP_REVAL_JUDGE of them in a loop that had
 * packets (a judgement is a cpm_match and a name look-up, a few hundred ns:
 * 16 cost about what a burst of packets does, so the loop stays short), up
 * to DP_REVAL_JUDGE_IDLE in a loop that had none.
 */
#define DP_REVAL_BUDGET 256u
#define DP_REVAL_JUDGE 16u
#define DP_REVAL_JUDGE_IDLE 256u

/*
 * One bounded step of the walk for the live generation (w->gen != NULL);
 * idle: the loop had no packets. A newer generation arriving mid-walk takes
 * the walk over where it is and goes once around the whole array from
 * there, so frequent reloads never starve the flows at the array's end.
 */
void dp_reval_step(struct dp_worker *w, int idle);

/*
 * Judge one flow by w->gen: 1 if it was denied (and its record written),
 * 0 if it stays as it is.
 */
int dp_reval_flow(struct dp_worker *w, struct dp_flow *f);

/*
 * A packet of a flow revalidation denied (DP_FF_REVOKE_RST): RST to both
 * ends, built from this packet (dir: its direction). The caller drops it.
 */
void dp_reval_rsts(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, int dir);

#endif /* CHOKEPOINT_DP_REVAL_H */
