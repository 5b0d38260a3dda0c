/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_fsm.h: the per-packet flow state machine (docs/dataplane.md, "The
 * pre-verdict TCP state machine" and "UDP and other protocols"). The worker
 * has decoded the packet, checked ownership and looked the flow up; this
 * module creates, advances and ends flows and decides what the packet does.
 */
#ifndef CHOKEPOINT_DP_FSM_H
#define CHOKEPOINT_DP_FSM_H

#include "dp_flow.h"
#include "dp_worker.h"

/* Handle one decoded IP packet of flow f (NULL: no entry). Consumes pc->m. */
void dp_fsm_packet(struct dp_worker *w, struct dp_pktctx *pc, struct dp_flow *f);

#endif /* CHOKEPOINT_DP_FSM_H */
