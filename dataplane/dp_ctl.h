/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_ctl.h: the control thread's side of the dp_proto.h socket. Runs on the
 * main lcore and never touches packets: connects (and reconnects every
 * second) to chokepointd, or uses an inherited --ctl-fd; sends HELLO;
 * applies POLICY (ACK/NACK); answers STATS_REQ; drains the workers' event
 * rings into EVENTS batches; keeps sent events until EVENTS_ACK covers them
 * and sends the rest again after a reconnect; QUIT and EOF on --ctl-fd stop
 * the process. Every received message is validated exactly; anything else
 * is counted and dropped.
 */
#ifndef CHOKEPOINT_DP_CTL_H
#define CHOKEPOINT_DP_CTL_H

#include <stddef.h>
#include <stdint.h>

#include "dp.h"
#include "dp_proto.h"

#define DP_CTL_RETAIN 8192       /* sent, not yet acknowledged events kept for resend */

struct dp_ctl {
	struct dp_proc *app;
	int fd;                  /* -1: not connected */
	int inherited;           /* --ctl-fd: EOF means exit */
	int connect_logged;
	uint64_t next_connect_ns;
	uint64_t garbage;        /* malformed messages received */
	uint64_t retain_dropped; /* unacknowledged events overwritten */
	unsigned int rr;         /* first worker drained next turn */
	/* the EVENTS message being sent (out_len > 0: waiting for the socket) */
	size_t out_len;
	union {
		struct dp_msg_events m;
		uint8_t raw[sizeof(struct dp_msg_events) +
			    DP_EVENTS_PER_MSG * sizeof(struct dp_event)];
	} out;
	/* retention ring of sent events (live only) */
	struct dp_event *retain;
	uint32_t retain_head, retain_count;
	uint32_t resend_left;    /* events of the retention still to resend */
	uint64_t acked[DP_MAX_WORKERS];
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
