/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_worker.c: the worker loop (see dp_worker.h). Per loop:
 *   rx_burst(32) per port -> prefetch -> decode -> owner check (handoff) ->
 *   bulk flow lookup -> state machine -> buffered TX; incoming handoff
 *   rings; TX flush; bounded aging; one RCU quiescent report.
 * No allocation, locks, atomics or printf in here; counters are per worker.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_prefetch.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "cpm.h"
#include "dp_dns.h"
#include "dp_fsm.h"
#include "dp_log.h"
#include "dp_policy.h"
#include "dp_reval.h"
#include "dp_verdict.h"
#include "dp_worker.h"

RTE_LOG_REGISTER_SUFFIX(dp_logtype_worker, worker, INFO);

#define PREFETCH_OFFSET 4
/* aging: records of the next sweep prefetched, at most */
#define AGE_PREFETCH 16

int
dp_worker_create(struct dp_proc *app, unsigned int id, int socket, struct dp_worker **out)
{
	struct dp_flow_sizes sz = { 0 };
	struct dp_worker *w;
	char name[RTE_HASH_NAMESIZE];
	uint32_t slots, names;
	const char *env;
	int ret;

	w = rte_zmalloc_socket("dp_worker", sizeof(*w), RTE_CACHE_LINE_SIZE, socket);
	if (w == NULL)
		return -ENOMEM;
	w->app = app;
	w->id = (uint16_t)id;
	w->queue = app->cfg.mode == DP_MODE_REPLAY ? 0 : (uint16_t)id;
	w->n_ports = app->n_ports;
	w->n_workers = (uint16_t)app->cfg.n_workers;
	w->mode = (uint8_t)app->cfg.mode;
	w->replay = app->cfg.mode == DP_MODE_REPLAY;

	snprintf(name, sizeof(name), "dp_flows_w%u", id);
	sz.cold = app->cfg.cold_flows;
	sz.v6 = app->cfg.v6_flows;
	sz.zones = app->cfg.geneve_pairs;
	ret = dp_flow_table_init_sized(&w->ft, name, app->cfg.flows, &sz, socket);
	if (ret != 0)
		goto err_free;
	if (w->ft.map != NULL)
		DP_LOG(worker, INFO, "worker %u: flow table %zu MiB outside the DPDK heap (no "
		       "hugepages), %zu MiB of it in transparent huge pages", id,
		       w->ft.map_len >> 20, dp_flow_table_huge_bytes(&w->ft) >> 20);
	/*
	 * Pending flows at once: 1/64 of the table, 64..1024 (each slot is a
	 * 16 KiB window + its bitmap, ~18.5 KiB).
	 */
	slots = RTE_MIN(RTE_MAX(app->cfg.flows / 64, 64u), 1024u);
	ret = dp_hold_init(&w->hold, slots, app->hold_pool, socket);
	if (ret != 0)
		goto err_flows;
	ret = dp_quic_init(&w->quic, slots, dp_quic_conns_for(app->cfg.flows), socket);
	if (ret != 0)
		goto err_hold;
	names = app->cfg.names != 0 ? app->cfg.names :
		RTE_MIN(RTE_MAX(app->cfg.flows / 4, 64u), 16384u);
	snprintf(name, sizeof(name), "dp_names_w%u", id);
	ret = dp_names_init(&w->names, name, names, socket);
	if (ret != 0)
		goto err_quic;
	ret = dp_evq_init(&w->evq, (uint8_t)id, app->cfg.event_ring, socket);
	if (ret != 0)
		goto err_names;
	/* the DNS binding table this worker writes is made at the first policy
	 * (dp_policy.c: its dns settings size it) */
	w->age_ns_per_entry = RTE_MAX(DP_AGING_PERIOD_NS / app->cfg.flows,
				      DP_NS_PER_S / DP_AGING_RATE_MAX);
	env = getenv("CHOKEPOINT_DP_CYCLES");
	w->prof = env != NULL && strcmp(env, "1") == 0;
	*out = w;
	return 0;

err_names:
	dp_names_free(&w->names);
err_quic:
	dp_quic_fini(&w->quic);
err_hold:
	dp_hold_fini(&w->hold);
err_flows:
	dp_flow_table_free(&w->ft);
err_free:
	rte_free(w);
	return ret;
}

void
dp_worker_destroy(struct dp_worker *w)
{
	unsigned int p;

	if (w == NULL)
		return;
	for (p = 0; p < DP_MAX_PORTS; p++)
		if (w->tx[p].n)
			rte_pktmbuf_free_bulk(w->tx[p].m, w->tx[p].n);
	dp_dns_table_free(dp_dns_table_of(w->id));
	dp_evq_fini(&w->evq);
	dp_names_free(&w->names);
	dp_quic_fini(&w->quic);
	dp_hold_fini(&w->hold);
	dp_flow_table_free(&w->ft);
	rte_free(w);
}

int
dp_worker_handoff_init(struct dp_proc *app, int socket)
{
	char name[RTE_RING_NAMESIZE];
	unsigned int from, to, n = app->cfg.n_workers;

	for (from = 0; from < n; from++) {
		for (to = 0; to < n; to++) {
			struct rte_ring *r;

			if (from == to)
				continue;
			snprintf(name, sizeof(name), "dp_handoff_%u_%u", from % 100, to % 100);
			r = rte_ring_create(name, DP_HANDOFF_RING, socket,
					    RING_F_SP_ENQ | RING_F_SC_DEQ);
			if (r == NULL)
				return -rte_errno;
			app->handoff[from][to] = r;
			app->workers[from]->handoff_out[to] = r;
			app->workers[to]->handoff_in[from] = r;
		}
	}
	return 0;
}

void
dp_worker_flush(struct dp_worker *w)
{
	for (uint16_t p = 0; p < w->n_ports; p++)
		dp_tx_flush_port(w, p);
}

/* ICMP errors, and in wire mode ND/MLD, pass without a flow. */
static int
icmp_passes(const struct dp_worker *w, const struct dp_pkt *p)
{
	uint8_t t = p->icmp_type;

	if (p->l4proto == IPPROTO_ICMP)
		return t == 3 || t == 4 || t == 5 || t == 11 || t == 12;
	if (p->l4proto == IPPROTO_ICMPV6) {
		if (t >= 1 && t <= 4)
			return 1;
		return w->mode == DP_MODE_WIRE &&
		       ((t >= 130 && t <= 137) || t == 143);
	}
	return 0;
}

static uint64_t
mbuf_ts_ns(const struct dp_worker *w, const struct rte_mbuf *m)
{
	const struct dp_mbuf_ts *t = &w->app->mbuf_ts;

	if (t->off >= 0 && (m->ol_flags & t->flag))
		return *RTE_MBUF_DYNFIELD(m, t->off, const uint64_t *) * DP_NS_PER_US;
	return dp_realtime_ns();
}

/*
 * Decode one packet into pc and settle everything that needs no flow.
 * Returns 1 if the packet was consumed here, 0 if it goes to the flow stage.
 */
static int
prepare(struct dp_worker *w, struct rte_mbuf *m, struct dp_pktctx *pc)
{
	enum dp_decode_result res;
	unsigned int owner;

	pc->m = m;
	pc->pidx = m->port;
	pc->linear = 0;
	if (likely(m->nb_segs == 1)) {
		pc->data = rte_pktmbuf_mtod(m, uint8_t *);
		pc->len = rte_pktmbuf_data_len(m);
	} else {
		uint32_t len = RTE_MIN(rte_pktmbuf_pkt_len(m), (uint32_t)DP_LINEAR_MAX);

		pc->data = (uint8_t *)(uintptr_t)rte_pktmbuf_read(m, 0, len, w->lin);
		pc->len = len;
		pc->linear = pc->data == w->lin;
	}
	if (w->replay)
		pc->ts_ns = mbuf_ts_ns(w, m);
	res = dp_decode_fast(pc->data, pc->len, (enum dp_link)w->app->cfg.linktype[pc->pidx],
			     w->replay ? DP_DECODE_REPLAY :
			     (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) ==
			     RTE_MBUF_F_RX_IP_CKSUM_GOOD ? DP_DECODE_IP_CKSUM_GOOD : 0,
			     &pc->p);
	/* geneve / routed: the appliance's own traffic; GENEVE decapsulated (dp_local.h) */
	if (unlikely(w->mode >= DP_MODE_GENEVE) && dp_local_rx(w, pc, &res))
		return 1;
	if (unlikely(res != DP_DEC_OK)) {
		switch (res) {
		case DP_DEC_NON_IP:
			w->c[DP_C_NON_IP]++;
			if (w->mode == DP_MODE_WIRE) {
				dp_forward(w, pc);
				return 1;
			}
			rte_pktmbuf_free(m);
			return 1;
		case DP_DEC_FRAGMENT:
			w->c[DP_C_IP_FRAGMENT]++;
			if (w->replay && pc->ts_ns > w->now_ns)
				w->now_ns = pc->ts_ns;
			dp_stateless_anomaly(w, pc, DP_AN_IP_FRAGMENT);
			return 1;
		case DP_DEC_EXT_CHAIN:
			w->c[DP_C_BAD_PACKET]++;
			if (w->replay && pc->ts_ns > w->now_ns)
				w->now_ns = pc->ts_ns;
			dp_stateless_anomaly(w, pc, DP_AN_IPV6_EXT_CHAIN);
			return 1;
		default:
			w->c[DP_C_BAD_PACKET]++;
			break;
		}
		dp_drop(w, pc);
		return 1;
	}
	dp_flow_key_make(&pc->p, &pc->key, &pc->a_is_src);
	owner = dp_flow_owner(&pc->key, w->n_workers);
	if (unlikely(owner != w->id)) {
		if (rte_ring_enqueue(w->handoff_out[owner], m) == 0) {
			w->c[DP_C_MISROUTED]++;
		} else {
			w->c[DP_C_HANDOFF_DROPPED]++;
			rte_pktmbuf_free(m);
		}
		return 1;
	}
	if (unlikely(pc->p.l4proto == IPPROTO_ICMP || pc->p.l4proto == IPPROTO_ICMPV6) &&
	    icmp_passes(w, &pc->p)) {
		if (w->replay)
			rte_pktmbuf_free(m);
		else
			dp_forward(w, pc);
		return 1;
	}
	if (unlikely(w->gen == NULL)) {
		/* fail closed until the first policy */
		w->c[DP_C_NO_POLICY]++;
		dp_drop(w, pc);
		return 1;
	}
	return 0;
}

/* Flow stage for n prepared packets, in order: one bulk lookup. */
static void
flow_stage(struct dp_worker *w, struct dp_pktctx *pc, unsigned int n)
{
	const struct dp_flow_key *keys[DP_BURST] = { NULL };
	struct dp_flow *flows[DP_BURST];
	uint64_t changes;
	unsigned int i;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		keys[i] = &pc[i].key;
	dp_flow_lookup_bulk(&w->ft, keys, n, flows);
	/*
	 * The state machine reads and writes the hot lines of every flow record
	 * (DP_FLOW_HOT_BYTES); with a table larger than the caches each is a
	 * miss. Ask for all of them now so the misses of the burst overlap
	 * instead of queueing one by one.
	 */
	for (i = 0; i < n; i++) {
		if (flows[i] != NULL) {
			const char *fp = (const char *)flows[i];

			for (unsigned int o = 0; o < DP_FLOW_HOT_BYTES; o += RTE_CACHE_LINE_SIZE)
				rte_prefetch0(fp + o);
		}
	}
	changes = w->tbl_changes;
	for (i = 0; i < n; i++) {
		/* an earlier packet of the burst created or ended a flow */
		if (w->tbl_changes != changes)
			flows[i] = dp_flow_lookup(&w->ft, &pc[i].key);
		/* replay time is the capture's, packet by packet (never backwards) */
		if (w->replay && pc[i].ts_ns > w->now_ns)
			w->now_ns = pc[i].ts_ns;
		dp_fsm_packet(w, &pc[i], flows[i]);
	}
}

static void
process_burst(struct dp_worker *w, struct rte_mbuf **pkts, unsigned int n, int handoff,
	      uint16_t pidx)
{
	struct dp_pktctx pc[DP_BURST];
	unsigned int i, k = 0;

	for (i = 0; i < n && i < PREFETCH_OFFSET; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		if (i + PREFETCH_OFFSET < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_OFFSET], void *));
		if (!handoff) {
			m->port = pidx;         /* port index from here on */
			w->c[DP_C_RX_PKTS]++;
		}
		if (unlikely(m->nb_segs > 1)) {
			/* decoded from w->lin: run what is queued, then this one alone */
			flow_stage(w, pc, k);
			k = 0;
			if (prepare(w, m, &pc[0]) == 0)
				flow_stage(w, pc, 1);
			continue;
		}
		if (prepare(w, m, &pc[k]) == 0)
			k++;
	}
	flow_stage(w, pc, k);
}

static void
timeouts_of(const struct cpm_settings *set, struct dp_timeouts *to)
{
	to->tcp_established = (uint64_t)set->tcp_established_ms * DP_NS_PER_MS;
	to->tcp_halfopen = (uint64_t)set->tcp_halfopen_ms * DP_NS_PER_MS;
	to->tcp_closed = (uint64_t)set->tcp_closed_ms * DP_NS_PER_MS;
	to->udp = (uint64_t)set->udp_ms * DP_NS_PER_MS;
	to->other = (uint64_t)set->other_ms * DP_NS_PER_MS;
}

/*
 * Flow-array entries the idle sweep looks at in this loop. Live: in
 * proportion to the time since the sweep last caught up (the whole array
 * once per DP_AGING_PERIOD_NS, at most DP_AGING_RATE_MAX a second), so the
 * cost per packet does not grow with the loop rate: 128 entries per loop
 * cost more than the packets at 1M flows (docs/performance.md). Replay:
 * DP_AGING_BUDGET per loop, because the capture's time jumps.
 */
static unsigned int
age_budget(struct dp_worker *w)
{
	uint64_t per = w->age_ns_per_entry, due;

	if (w->replay)
		return DP_AGING_BUDGET;
	if (w->now_ns <= w->age_last_ns)
		return 0;
	due = (w->now_ns - w->age_last_ns) / per;
	if (due == 0)
		return 0;
	if (due > DP_AGING_BUDGET_MAX) {
		/* behind (a long loop, or just started): catch up at most one period */
		due = DP_AGING_BUDGET_MAX;
		if (w->now_ns - w->age_last_ns > DP_AGING_PERIOD_NS)
			w->age_last_ns = w->now_ns - DP_AGING_PERIOD_NS;
	}
	w->age_last_ns += due * per;
	return (unsigned int)due;
}

/*
 * The sweep reads every record of the array in turn, a few per loop (a
 * table larger than the caches: each a miss, and the hardware prefetcher
 * does not follow a stream read a few records at a time between the
 * packets' random accesses). Ask now for the records the next sweep starts
 * with, so their misses overlap the next loop's packets.
 */
static void
sweep_prefetch(const struct dp_flow_table *t, unsigned int n)
{
	uint32_t pos = t->sweep_pos;

	for (unsigned int k = 0; k < n; k++) {
		const char *fp = (const char *)&t->flows[pos];

		for (unsigned int o = 0; o < DP_FLOW_HOT_BYTES; o += RTE_CACHE_LINE_SIZE)
			rte_prefetch0(fp + o);
		if (++pos == t->capacity)
			pos = 0;
	}
}

/* Hold timeouts of pending flows, then idle flows: bounded work per loop. */
static void
age(struct dp_worker *w)
{
	struct dp_flow *expired[32];
	struct dp_timeouts to;
	unsigned int i, n, budget;

	if (w->hold.in_use > 0) {
		for (i = 0; i < DP_SLOT_BUDGET && i < w->hold.n; i++) {
			struct dp_slot *s = &w->hold.slots[w->hold.sweep_pos];

			if (++w->hold.sweep_pos == w->hold.n)
				w->hold.sweep_pos = 0;
			if (s->in_use && s->deadline_ns != 0 && w->now_ns >= s->deadline_ns) {
				struct dp_flow *f = &w->ft.flows[s->flow];

				if (f->flags & DP_FF_VERIFY) {
					/* allowed long enough ago: stop comparing */
					dp_verify_done(w, f);
					continue;
				}
				w->c[DP_C_HOLD_TIMEOUT]++;
				dp_fi(w, f)->anomalies |= 1u << DP_AN_REASSEMBLY_TIMEOUT;
				dp_decide_pending(w, f, NULL, NULL, DP_WHY_BOUND);
			}
		}
	}
	timeouts_of(w->gen->set, &to);
	budget = age_budget(w);
	if (budget == 0)
		return;
	n = dp_flow_sweep(&w->ft, w->now_ns, &to, budget, expired, RTE_DIM(expired));
	for (i = 0; i < n; i++)
		dp_end_flow(w, expired[i], DP_CLOSE_IDLE);
	sweep_prefetch(&w->ft, RTE_MIN(budget, (unsigned int)AGE_PREFETCH));
}

/*
 * Chokepoint's own processing of one received burst; with prof, its TSC
 * cycles are accounted (a constant at every call site: the plain loop has
 * no rdtsc in it), less those in tx_burst when a full TX buffer is sent
 * meanwhile (dp_tx_flush_port): like rx_burst, the driver's.
 */
static __rte_always_inline void
own_burst(struct dp_worker *w, struct rte_mbuf **pkts, unsigned int n, int handoff,
	  uint16_t pidx, const int prof)
{
	uint64_t t0 = 0, tx0 = 0;

	if (prof) {
		tx0 = w->prof_tx_cycles;
		t0 = rte_rdtsc();
	}
	process_burst(w, pkts, n, handoff, pidx);
	if (prof) {
		w->prof_cycles += rte_rdtsc() - t0 - (w->prof_tx_cycles - tx0);
		w->prof_pkts += n;
	}
}

/* Aging and the quiescent report that end every loop. */
static __rte_always_inline void
loop_end(struct dp_worker *w, const int prof)
{
	uint64_t t0 = 0, tx0 = 0;

	dp_worker_flush(w);
	if (prof) {
		tx0 = w->prof_tx_cycles;
		t0 = rte_rdtsc();
	}
	if (w->gen != NULL) {
		age(w);
		dp_reval_step(w, w->loop_idle);
	}
	rte_rcu_qsbr_quiescent(w->app->rcu, w->id);
	if (prof)
		w->prof_cycles += rte_rdtsc() - t0 - (w->prof_tx_cycles - tx0);
}

static __rte_always_inline unsigned int
poll_once(struct dp_worker *w, const int prof)
{
	struct dp_proc *app = w->app;
	struct rte_mbuf *pkts[DP_BURST];
	unsigned int total = 0, i, n;
	uint16_t p;

	w->gen = dp_policy_live(app);
	if (w->replay) {
		if (!w->replay_done) {
			p = w->replay_port;
			n = rte_eth_rx_burst(app->port_id[p], 0, pkts, DP_BURST);
			if (n > 0) {
				own_burst(w, pkts, n, 0, p, prof);
				total = n;
			} else if (rte_mempool_avail_count(app->rx_pool) >= DP_BURST) {
				/* a file-backed queue with free mbufs returned nothing: EOF */
				DP_LOG(worker, INFO, "replay: port %u at end of capture", p);
				if (++w->replay_port == w->n_ports)
					w->replay_done = 1;
			}
		}
	} else {
		w->now_ns = dp_clock_ns(&app->clock, rte_rdtsc());
		for (p = 0; p < w->n_ports; p++) {
			n = rte_eth_rx_burst(app->port_id[p], w->queue, pkts, DP_BURST);
			if (n > 0) {
				own_burst(w, pkts, n, 0, p, prof);
				total += n;
			}
		}
		for (i = 0; i < w->n_workers; i++) {
			if (w->handoff_in[i] == NULL)
				continue;
			n = rte_ring_dequeue_burst(w->handoff_in[i], (void **)pkts, DP_BURST, NULL);
			if (n > 0) {
				own_burst(w, pkts, n, 1, 0, prof);
				total += n;
			}
		}
		/* geneve / routed: the exception port, packets waiting for a next hop */
		if (unlikely(w->mode >= DP_MODE_GENEVE))
			total += dp_local_poll(w);
	}
	dp_evq_poll(&w->evq, w->now_ns, w->c);     /* a lost range reported once room is back */
	w->loop_idle = total == 0;
	loop_end(w, prof);
	return total;
}

unsigned int
dp_worker_poll(struct dp_worker *w)
{
	unsigned int n;

	/* accounting on: one poll in DP_PROF_EVERY timed (dp_worker.h, prof) */
	if (unlikely(w->prof) && ++w->prof_tick >= DP_PROF_EVERY) {
		w->prof_tick = 0;
		w->prof_now = 1;
		n = poll_once(w, 1);
		w->prof_now = 0;
		return n;
	}
	return poll_once(w, 0);
}

unsigned int
dp_worker_inject(struct dp_worker *w, uint16_t pidx, struct rte_mbuf **pkts, unsigned int n)
{
	unsigned int done = 0, k;

	w->gen = dp_policy_live(w->app);
	if (!w->replay)
		w->now_ns = dp_clock_ns(&w->app->clock, rte_rdtsc());
	w->prof_now = w->prof;          /* every injected burst is timed */
	while (done < n) {
		k = RTE_MIN(n - done, (unsigned int)DP_BURST);
		if (w->prof)
			own_burst(w, pkts + done, k, 0, pidx, 1);
		else
			own_burst(w, pkts + done, k, 0, pidx, 0);
		done += k;
	}
	if (w->prof)
		loop_end(w, 1);
	else
		loop_end(w, 0);
	w->prof_now = 0;
	return n;
}

unsigned int
dp_worker_end_some(struct dp_worker *w, unsigned int budget)
{
	struct dp_flow *fl[64];
	unsigned int i, n;

	w->gen = dp_policy_live(w->app);
	if (w->gen == NULL)
		return 0;
	if (!w->replay)
		w->now_ns = dp_clock_ns(&w->app->clock, rte_rdtsc());
	if (budget > RTE_DIM(fl))
		budget = RTE_DIM(fl);
	n = dp_flow_iter(&w->ft, &w->end_pos, fl, budget);
	for (i = 0; i < n; i++)
		dp_end_flow(w, fl[i], DP_CLOSE_SHUTDOWN);
	dp_worker_flush(w);
	return n;
}

static void
idle_sleep(struct dp_worker *w, uint32_t max_us)
{
	struct timespec ts;

	w->idle_us = w->idle_us == 0 ? 1 : RTE_MIN(w->idle_us * 2, (uint64_t)max_us);
	ts.tv_sec = (time_t)(w->idle_us / 1000000);
	ts.tv_nsec = (long)(w->idle_us % 1000000) * 1000;
	nanosleep(&ts, NULL);
}

int
dp_worker_main(void *arg)
{
	struct dp_worker *w = arg;
	struct dp_proc *app = w->app;
	uint32_t max_us = app->cfg.idle_sleep_max_us;
	uint64_t deadline;
	unsigned int room;

	/* nanosleep precise to the microsecond, not the default 50 us slack */
	if (prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0) != 0)
		DP_LOG(worker, WARNING, "worker %u: PR_SET_TIMERSLACK failed", w->id);
	rte_rcu_qsbr_thread_register(app->rcu, w->id);
	rte_rcu_qsbr_thread_online(app->rcu, w->id);
	DP_LOG(worker, INFO, "worker %u running on lcore %u (queue %u)", w->id,
	       rte_lcore_id(), w->queue);

	while (!app->quit) {
		if (dp_worker_poll(w) > 0)
			w->idle_us = 0;
		else if (max_us > 0)
			idle_sleep(w, max_us);
	}

	/* shutdown: every active flow ends (cause shutdown); keep room for its events */
	dp_worker_flush(w);
	room = RTE_MIN(128u, rte_ring_get_capacity(w->evq.r) / 2);
	deadline = rte_get_timer_cycles() + 2 * rte_get_timer_hz();
	for (;;) {
		/* 32 flows per step: at most 64 events (decision + end) */
		while (dp_evq_free(&w->evq) < room && rte_get_timer_cycles() < deadline) {
			struct timespec ts = { 0, 100000 };

			nanosleep(&ts, NULL);
		}
		if (dp_worker_end_some(w, 32) == 0)
			break;
	}
	dp_worker_flush(w);
	rte_rcu_qsbr_thread_offline(app->rcu, w->id);
	rte_rcu_qsbr_thread_unregister(app->rcu, w->id);
	DP_LOG(worker, INFO, "worker %u stopped: rx %llu tx %llu dropped %llu flows %llu",
	       w->id, (unsigned long long)w->c[DP_C_RX_PKTS],
	       (unsigned long long)w->c[DP_C_TX_PKTS], (unsigned long long)w->c[DP_C_DROPPED],
	       (unsigned long long)w->c[DP_C_FLOWS_CREATED]);
	if (w->prof && w->prof_pkts > 0)
		DP_LOG(worker, INFO, "worker %u: %.1f cycles/packet of own processing "
		       "(%llu packets in the timed polls)", w->id, (double)w->prof_cycles / (double)w->prof_pkts,
		       (unsigned long long)w->prof_pkts);
	__atomic_store_n(&w->stopped, 1, __ATOMIC_RELEASE);
	return 0;
}
