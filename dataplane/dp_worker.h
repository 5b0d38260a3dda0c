/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_worker.h: the worker context and loop. One cache-aligned context per
 * worker lcore, passed as the lcore argument; it owns RX/TX queue `queue` of
 * every port, its flow table, inspection slots, names, event ring, TX
 * buffers and counters. Nothing in it is shared except the counters (read
 * by the control thread, written only here) and the SPSC rings.
 */
#ifndef CHOKEPOINT_DP_WORKER_H
#define CHOKEPOINT_DP_WORKER_H

#include <stdint.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dp.h"
#include "dp_event.h"
#include "dp_flow.h"
#include "dp_hold.h"
#include "dp_local.h"
#include "dp_names.h"
#include "dp_pkt.h"
#include "dp_quic.h"

#define DP_BURST 32
/* with cycle accounting on, one poll in this many is timed (dp_worker_poll) */
#define DP_PROF_EVERY 16
#define DP_HANDOFF_RING 1024     /* per (from, to) worker pair */
#define DP_LINEAR_MAX 65536      /* a chained mbuf is copied here to be decoded */
#define DP_AGING_BUDGET 128      /* replay: flow-array entries looked at per loop */
/*
 * Live aging looks at flow-array entries in proportion to time: the whole
 * array once a second, at most DP_AGING_RATE_MAX entries a second (a 10M
 * table: once every 10 s), at most DP_AGING_BUDGET_MAX per loop.
 */
#define DP_AGING_PERIOD_NS 1000000000ull
#define DP_AGING_RATE_MAX 1000000ull
#define DP_AGING_BUDGET_MAX 1024
#define DP_SLOT_BUDGET 32        /* inspection slots looked at per loop */
#define DP_RST_INTERVAL_NS (100 * DP_NS_PER_MS)

struct dp_gen;

struct dp_txbuf {
	uint16_t n;
	struct rte_mbuf *m[DP_BURST];
};

/* One received packet on its way through the worker. */
struct dp_pktctx {
	struct rte_mbuf *m;      /* NULL once consumed (held, freed, sent) */
	uint8_t *data;           /* frame bytes: the mbuf's, or the linear copy */
	uint32_t len;
	uint16_t pidx;           /* port index it arrived on */
	uint8_t linear;          /* data is a copy (chained mbuf): read-only */
	uint64_t ts_ns;          /* replay: the capture's time of this packet */
	int a_is_src;
	struct dp_pkt p;
	struct dp_flow_key key;
};

struct dp_worker {
	struct dp_proc *app;
	uint16_t id;
	uint16_t queue;
	uint16_t n_ports;
	uint16_t n_workers;
	uint8_t mode;            /* enum dp_mode */
	uint8_t replay;
	uint8_t replay_done;     /* replay: every port at EOF */
	uint16_t replay_port;    /* replay: port index being consumed */
	uint64_t now_ns;         /* time of the packet / loop being processed */
	struct dp_gen *gen;      /* live policy, loaded once per loop */
	uint64_t tbl_changes;    /* inserts + removes: invalidates a bulk lookup */
	uint64_t age_last_ns;    /* live aging: time the sweep has caught up to */
	uint64_t age_ns_per_entry; /* live aging: one array entry per this many ns */
	uint64_t idle_us;
	uint64_t table_full_audit_ns;
	uint64_t anomaly_audit_ns[DP_AN_MAX]; /* stateless anomalies: 1 record/s */
	uint32_t end_pos;        /* shutdown: next flow index to end */
	uint64_t reval_gen;      /* generation the revalidation walk is for (dp_reval.h) */
	uint32_t reval_pos;      /* its next flow index */
	uint32_t reval_left;     /* entries left to look at in this walk (0: none under way) */
	uint8_t loop_idle;       /* this loop received no packet */
	volatile int stopped;    /* the lcore function returned */
	/*
	 * Cycle accounting (benchmarks, or CHOKEPOINT_DP_CYCLES=1 in the
	 * environment): TSC cycles spent in chokepoint's own processing of
	 * received bursts (decode, lookup, state machine, verdicts, aging;
	 * not rx_burst/tx_burst) and the packets they were spent on. Off, the
	 * loop pays one predictable branch per poll. On, one poll of
	 * DP_PROF_EVERY is timed (prof_now), so the seven rdtsc of a timed poll
	 * (~20 cycles each) are not paid by every burst: own cycles per packet
	 * are those of the timed polls' packets.
	 */
	uint8_t prof;
	uint8_t prof_now;        /* this poll (or inject) is timed */
	uint32_t prof_tick;      /* polls since the last timed one */
	uint64_t prof_cycles;
	uint64_t prof_pkts;
	uint64_t prof_tx_cycles; /* in tx_burst: taken out of prof_cycles */

	struct dp_flow_table ft;
	struct dp_hold hold;
	struct dp_quic quic;     /* QUIC decoder, per slot and per flow-table entry */
	struct dp_names names;
	struct dp_evq evq;
	struct rte_ring *handoff_in[DP_MAX_WORKERS];  /* [from] */
	struct rte_ring *handoff_out[DP_MAX_WORKERS]; /* [to] */
	struct dp_txbuf tx[DP_MAX_PORTS];

	uint64_t c[DP_C_MAX] __rte_cache_aligned;     /* counters (enum dp_counter) */
	uint8_t frame[128];      /* an RST being built */
	uint8_t lin[DP_LINEAR_MAX] __rte_cache_aligned;
} __rte_cache_aligned;

/* Create worker id (flow table, slots, names, event ring) on socket. */
int dp_worker_create(struct dp_proc *app, unsigned int id, int socket, struct dp_worker **out);
void dp_worker_destroy(struct dp_worker *w);

/* Wire the handoff rings of all workers (app->handoff). */
int dp_worker_handoff_init(struct dp_proc *app, int socket);

/*
 * One loop: RX on every port (replay: the current port), handoff rings,
 * TX flush, aging, one quiescent report. Returns the packets handled.
 */
unsigned int dp_worker_poll(struct dp_worker *w);

/*
 * Process n packets as if received on port index pidx now (benchmarks
 * feed generated traffic through the real worker this way), then flush
 * TX, age and report quiescent like a poll. Returns n.
 */
unsigned int dp_worker_inject(struct dp_worker *w, uint16_t pidx, struct rte_mbuf **pkts,
			      unsigned int n);

/* The lcore entry point of a live worker (arg: its struct dp_worker). */
int dp_worker_main(void *arg);

/*
 * Shutdown: end up to budget flows (flow.end, cause shutdown unless the
 * flow had closed); returns the number ended, 0 when none is left.
 */
unsigned int dp_worker_end_some(struct dp_worker *w, unsigned int budget);

/* Send every buffered TX packet. */
void dp_worker_flush(struct dp_worker *w);

/* ---- helpers shared by the worker modules (dp_fsm.c, dp_verdict.c) ---- */

static inline void
dp_tx_flush_port(struct dp_worker *w, uint16_t pidx)
{
	struct dp_txbuf *b = &w->tx[pidx];
	uint16_t sent;

	if (b->n == 0)
		return;
	if (unlikely(w->prof_now)) {
		/* the driver's time is not the worker's own (dp_worker.c own_burst) */
		uint64_t t0 = rte_rdtsc();

		sent = rte_eth_tx_burst(w->app->port_id[pidx], w->queue, b->m, b->n);
		w->prof_tx_cycles += rte_rdtsc() - t0;
	} else {
		sent = rte_eth_tx_burst(w->app->port_id[pidx], w->queue, b->m, b->n);
	}
	w->c[DP_C_TX_PKTS] += sent;
	if (unlikely(sent < b->n)) {
		w->c[DP_C_TX_DROPPED] += b->n - sent;
		rte_pktmbuf_free_bulk(&b->m[sent], b->n - sent);
	}
	b->n = 0;
}

/* Queue m for TX on port index pidx (replay: nothing is sent, m is freed). */
static inline void
dp_tx(struct dp_worker *w, uint16_t pidx, struct rte_mbuf *m)
{
	struct dp_txbuf *b;

	if (w->replay) {
		rte_pktmbuf_free(m);
		return;
	}
	/* geneve: back to GWLB in its GENEVE header; routed: to the route's next hop */
	if (unlikely(w->mode >= DP_MODE_GENEVE) && dp_local_tx(w, &pidx, m))
		return;
	b = &w->tx[pidx];
	b->m[b->n++] = m;
	if (b->n == DP_BURST)
		dp_tx_flush_port(w, pidx);
}

/* Port index a packet arriving on pidx leaves by. */
static inline uint16_t
dp_out_port(const struct dp_worker *w, uint16_t pidx)
{
	return w->mode == DP_MODE_WIRE ? (uint16_t)(pidx ^ 1) : pidx;
}

/* Forward the packet of pc (consumes it). */
static inline void
dp_forward(struct dp_worker *w, struct dp_pktctx *pc)
{
	if (pc->m != NULL) {
		dp_tx(w, dp_out_port(w, pc->pidx), pc->m);
		pc->m = NULL;
	}
}

/* Drop the packet of pc (consumes it, counted). */
static inline void
dp_drop(struct dp_worker *w, struct dp_pktctx *pc)
{
	if (pc->m != NULL) {
		rte_pktmbuf_free(pc->m);
		pc->m = NULL;
		w->c[DP_C_DROPPED]++;
	}
}

/* A flow's less used data (dp_flow_info of the worker's table). */
static inline struct dp_flow_info *
dp_fi(const struct dp_worker *w, const struct dp_flow *f)
{
	return dp_flow_info(&w->ft, f);
}

/* A flow's full key into *k (dp_flow_key_get); returns k. */
static inline const struct dp_flow_key *
dp_fkey(const struct dp_worker *w, const struct dp_flow *f, struct dp_flow_key *k)
{
	dp_flow_key_get(&w->ft, f, k);
	return k;
}

#endif /* CHOKEPOINT_DP_WORKER_H */
