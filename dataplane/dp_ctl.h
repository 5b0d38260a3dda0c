/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_ctl.h: the control thread's side of the dp_proto.h socket. Runs on the
 * main lcore and never touches packets: connects (and reconnects every
 * second) to chokepointd, or uses an inherited --ctl-fd; sends HELLO;
 * applies POLICY (ACK/NACK); answers STATS_REQ; moves the workers' events
 * from their rings into a bounded retention (--event-retain), sends them in
 * EVENTS batches and keeps each one until an EVENTS_ACK covers it (the
 * control plane has written it); after a reconnect everything unacknowledged
 * goes again and the control plane drops what it already has. Nothing in the
 * retention is ever overwritten: when it is full the control thread stops
 * taking events, the rings fill, and the workers count what they lose as an
 * exact wseq range (an audit.gap once delivery resumes). QUIT and EOF on
 * --ctl-fd stop the process. Every received message is validated exactly; anything else
 * is counted and dropped.
 */
#ifndef CHOKEPOINT_DP_CTL_H
#define CHOKEPOINT_DP_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "dp.h"
#include "dp_proto.h"

#define DP_CTL_RETAIN 8192       /* default --event-retain */

struct dp_ctl {
	struct dp_proc *app;
	int fd;                  /* -1: not connected */
	int inherited;           /* --ctl-fd: EOF means exit */
	int connect_logged;
	uint64_t next_connect_ns;
	uint64_t garbage;        /* malformed messages received */
	unsigned int rr;         /* first worker drained next turn */
	/* events in the retention not yet sent on this connection (0: nothing waits) */
	size_t out_len;
	union {
		struct dp_msg_events m;
		uint8_t raw[sizeof(struct dp_msg_events) +
			    DP_EVENTS_PER_MSG * sizeof(struct dp_event)];
	} out;
	/* retention: events taken from the rings, oldest first, until acknowledged */
	struct dp_event *retain;
	uint32_t retain_cap;
	uint32_t retain_head, retain_count;
	uint32_t sent;           /* of retain_count, sent on this connection */
	uint64_t acked[DP_MAX_WORKERS];
	/* POLICY: the load under way in the loader thread, and the next one waiting */
	struct dp_policy_load *load, *load_next;
};

int dp_ctl_init(struct dp_ctl *c, struct dp_proc *app);
void dp_ctl_fini(struct dp_ctl *c);

/*
 * One turn: (re)connect, receive and handle messages, send events, reclaim
 * retired policies. Waits in poll() at most timeout_ms (it returns early
 * when a message arrives or a blocked batch can go). Returns the events sent.
 */
unsigned int dp_ctl_step(struct dp_ctl *c, int timeout_ms);

/* Events waiting: in the rings and in the unsent batch. */
uint64_t dp_ctl_pending(const struct dp_ctl *c);

/* 1 when connected. */
static inline int
dp_ctl_connected(const struct dp_ctl *c)
{
	return c->fd >= 0;
}

/* Send DRAINED (replay). 0 or -errno. */
int dp_ctl_send_drained(struct dp_ctl *c);

#endif /* CHOKEPOINT_DP_CTL_H */
