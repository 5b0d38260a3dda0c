/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_watch.h: every unit of a TCP client stream is judged, not only the
 * first (docs/dataplane.md, "After the first decision"). The inspection
 * loop runs over a held window: it decides the unit at the window's judged
 * edge (the ClientHello, the request head), sets the framing of what
 * follows (dp_stream.h), walks it, decides the next unit if its bytes are
 * there too (pipelining), and releases what is judged. On an allowed flow
 * the watch looks at each client segment that reaches past the judged edge
 * and at the first few server payloads (ServerHello, status line); a
 * segment that starts a later unit sends the flow back to holding.
 */
#ifndef CHOKEPOINT_DP_WATCH_H
#define CHOKEPOINT_DP_WATCH_H

#include "dp_flow.h"
#include "dp_hold.h"
#include "dp_worker.h"

/* Segments a client can send unacknowledged (Linux, Windows and macOS start with 10). */
#define DP_CLIENT_IW 10
/* Held segments before the declared length is used to predict a stall. */
#define DP_TINY_MIN_SEGS 4

/*
 * Inspect the held window s of a pending flow (or of its later unit) after
 * new contiguous bytes. Returns 1 when the packet pc is dealt with and the
 * flow left holding (decided and released, or denied), 0 while a unit
 * still waits for bytes.
 */
int dp_watch_inspect(struct dp_worker *w, struct dp_flow *f, struct dp_slot *s,
		     struct dp_pktctx *pc);

/*
 * A packet of an ALLOWED flow whose client stream is watched (its side record's ws.mode, dp_flow.h).
 * Returns 1 when a client segment starts a later unit: the flow is now
 * DP_FS_UNIT and the caller hands pc to the pending path; 0 to forward pc
 * (a framing error the policy denies consumes pc and also returns 0 with
 * pc->m NULL).
 */
int dp_watch_packet(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, int dir);

#endif /* CHOKEPOINT_DP_WATCH_H */
