/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_time.c: the TSC -> realtime mapping and the mbuf timestamp lookup.
 */
#include <errno.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_mbuf_dyn.h>

#include "dp_time.h"

uint64_t
dp_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * DP_NS_PER_S + (uint64_t)ts.tv_nsec;
}

void
dp_clock_init(struct dp_clock *c)
{
	uint64_t t0, t1, ns;

	/* read the TSC on both sides of the clock so the pair is close */
	t0 = rte_rdtsc();
	ns = dp_realtime_ns();
	t1 = rte_rdtsc();
	c->tsc0 = t0 + (t1 - t0) / 2;
	c->ns0 = ns;
	c->hz = rte_get_tsc_hz();
	if (c->hz == 0)
		c->hz = 1;
	c->mult = (uint64_t)(((unsigned __int128)DP_NS_PER_S << 32) / c->hz);
}

int
dp_mbuf_ts_init(struct dp_mbuf_ts *t)
{
	int off, bit;

	t->off = -1;
	t->flag = 0;
	off = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
	if (off < 0)
		return -ENOENT;
	bit = rte_mbuf_dynflag_lookup(RTE_MBUF_DYNFLAG_RX_TIMESTAMP_NAME, NULL);
	if (bit < 0)
		return -ENOENT;
	t->off = off;
	t->flag = 1ull << bit;
	return 0;
}
