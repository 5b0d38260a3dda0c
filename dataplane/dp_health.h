/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_health.h: the load balancer's health check, answered by the workers
 * themselves on a configured TCP port of the appliance's own address
 * (--health-port), so an answer proves a worker is forwarding, not only that
 * a process is alive.
 *
 * The responder is a stateless TCP endpoint (SYN cookies, no connection
 * table): SYN -> SYN-ACK with a keyed ISN; a request segment acknowledging
 * that ISN -> the HTTP answer with FIN; a FIN -> its ACK. "GET /healthz"
 * (or "/") is answered 200 "ok" while healthy, 503 with the reason while not.
 * With --health-proto tcp (GWLB's TCP check: a completed handshake is
 * healthy) an unhealthy appliance refuses the connection (RST) instead.
 *
 * Health: a policy is loaded, every worker passed an RCU quiescent state
 * within --health-stall-ms (a stuck worker cannot), and, with
 * --health-ctl-grace-ms, the control plane has not been away longer than
 * that. dp_health_eval() is the pure rule; the control thread applies it
 * (dp_local.c) and publishes the result in one atomic word.
 *
 * Pure functions over byte buffers (no DPDK): tests/unit/test_health.c.
 */
#ifndef CHOKEPOINT_DP_HEALTH_H
#define CHOKEPOINT_DP_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "dp_pkt.h"

enum dp_health_proto {
	DP_HEALTH_HTTP = 0,      /* every connection completes; GET -> 200 / 503 */
	DP_HEALTH_TCP = 1,       /* unhealthy: SYN -> RST (connection refused) */
};

/* Health word: 0 healthy, else why (low byte) and a worker index (next byte). */
enum dp_health_why {
	DP_HW_OK = 0,
	DP_HW_STARTING,          /* no health evaluation yet */
	DP_HW_NO_POLICY,
	DP_HW_WORKER_STUCK,
	DP_HW_CTL_DOWN,
	DP_HW_MAX
};

struct dp_health_in {
	int has_policy;
	int ctl_connected;
	uint64_t ctl_down_ns;    /* how long the control plane has been away */
	uint64_t ctl_grace_ns;   /* 0: its absence never makes the appliance unhealthy */
	int stuck_worker;        /* -1 none, else the index of a worker past the stall bound */
};

/* The health word for in. */
uint32_t dp_health_eval(const struct dp_health_in *in);

/* A sentence for a health word ("ok", "no policy loaded", "worker 1 stuck", ...). */
void dp_health_reason(uint32_t word, char *out, size_t outlen);

/* The keyed initial sequence number of the health connection of p (either direction). */
uint32_t dp_health_isn(uint64_t key, const struct dp_pkt *p);

/*
 * The answer to the TCP segment p of frame (addressed to the health port):
 * a frame with MACs, addresses and ports swapped, written to out. word: the
 * health word now. Returns its length, 0 when nothing is sent (an RST, a bare
 * ACK), -1 when out is too small or p is not TCP.
 */
int dp_health_answer(const uint8_t *frame, const struct dp_pkt *p, uint64_t key, uint32_t word,
		     enum dp_health_proto proto, uint8_t *out, size_t outlen);

#endif /* CHOKEPOINT_DP_HEALTH_H */
