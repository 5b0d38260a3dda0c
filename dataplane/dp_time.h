/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_time.h: time for events and timeouts. Live: the TSC mapped to the
 * realtime clock once at start (one multiply and shift per read, no system
 * call in the fast path). Replay: the capture's time, which the pcap PMD
 * stores in the mbuf timestamp dynfield (RTE_MBUF_DYNFIELD_TIMESTAMP_NAME,
 * flagged by RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME): DPDK 22.11's
 * drivers/net/pcap/pcap_ethdev.c writes tv_sec * 1e6 + tv_usec there, i.e.
 * microseconds since the epoch (libpcap scales nanosecond captures down).
 */
#ifndef CHOKEPOINT_DP_TIME_H
#define CHOKEPOINT_DP_TIME_H

#include <stdint.h>

#define DP_NS_PER_S 1000000000ull
#define DP_NS_PER_MS 1000000ull
#define DP_NS_PER_US 1000ull

struct dp_clock {
	uint64_t tsc0;           /* TSC at the mapping */
	uint64_t ns0;            /* CLOCK_REALTIME ns at the mapping */
	uint64_t hz;             /* TSC frequency */
	uint64_t mult;           /* ns = (dtsc * mult) >> 32 */
};

/* Capture the mapping now (call after rte_eal_init). */
void dp_clock_init(struct dp_clock *c);

/* Realtime ns of a TSC reading (monotonic: never before ns0). */
static inline uint64_t
dp_clock_ns(const struct dp_clock *c, uint64_t tsc)
{
	uint64_t d = tsc > c->tsc0 ? tsc - c->tsc0 : 0;

	return c->ns0 + (uint64_t)(((unsigned __int128)d * c->mult) >> 32);
}

/* Realtime ns now, from the clock (not the TSC): for the control thread. */
uint64_t dp_realtime_ns(void);

/* Where the RX timestamp of an mbuf lives, if any PMD registered it. */
struct dp_mbuf_ts {
	int off;                 /* dynfield offset, -1 if not registered */
	uint64_t flag;           /* ol_flags bit that says the field is valid */
};

/* Look the dynfield up (after the ports are probed). 0 found, -ENOENT not. */
int dp_mbuf_ts_init(struct dp_mbuf_ts *t);

#endif /* CHOKEPOINT_DP_TIME_H */
