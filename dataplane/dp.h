/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp.h: the chokepoint-dp process context shared by its modules: options,
 * ports, pools, the per-worker contexts, the live policy pointer and the
 * quit flag. Created by dp_main.c; workers get their own context (dp_worker.h)
 * as the lcore argument and reach this one through it.
 */
#ifndef CHOKEPOINT_DP_H
#define CHOKEPOINT_DP_H

#include <stdint.h>

#include "dp_proto.h"
#include "dp_time.h"

enum dp_mode {
	DP_MODE_WIRE = 0,        /* port 0 inside, port 1 outside */
	DP_MODE_ONEARM = 1,      /* port 0 carries both directions */
	DP_MODE_REPLAY = 2,      /* pcap ports, consumed in order, nothing sent */
	DP_MODE_GENEVE = 3,      /* port 0: AWS GWLB target, GENEVE in and back (dp_local.h) */
	DP_MODE_ROUTED = 4,      /* ports 0..n-1 own addresses, forward by routes (dp_local.h) */
};

#define DP_CTL_PATH_MAX 108      /* sun_path */

struct dp_config {
	enum dp_mode mode;
	char ctl_path[DP_CTL_PATH_MAX];
	int ctl_fd;                      /* -1 unless --ctl-fd */
	unsigned int n_workers;
	uint32_t flows;                  /* flow-table entries per worker */
	uint32_t hold_mbufs;             /* hold pool size */
	uint32_t event_ring;             /* per-worker event ring entries (2^n) */
	uint32_t event_retain;           /* events kept until acknowledged (control thread) */
	uint32_t idle_sleep_max_us;      /* 0: never sleep */
	uint32_t names;                  /* name-table slots per worker, 0: from flows */
	uint32_t cold_flows;             /* TCP side records per worker, 0: dp_flow_cold_cap */
	uint32_t v6_flows;               /* IPv6 address records per worker, 0: dp_flow_v6_cap */
	uint32_t geneve_pairs;           /* GENEVE (endpoint, attachment) pairs per worker,
					  * 0: DP_FLOW_ZONES */
	uint16_t linktype[DP_MAX_PORTS]; /* enum dp_link per port (replay) */
};

struct dp_worker;
struct dp_gen;
struct dp_local;
struct rte_mempool;
struct rte_ring;
struct rte_rcu_qsbr;

struct dp_proc {
	struct dp_config cfg;
	uint16_t n_ports;
	uint16_t port_id[DP_MAX_PORTS];  /* ethdev port id of port index i */
	uint16_t n_queues;               /* RX/TX queues per port */
	struct rte_mempool *rx_pool;
	struct rte_mempool *hold_pool;
	struct dp_worker *workers[DP_MAX_WORKERS];
	/* handoff[from][to]: SPSC rings of mbufs steered to the wrong worker */
	struct rte_ring *handoff[DP_MAX_WORKERS][DP_MAX_WORKERS];
	struct rte_rcu_qsbr *rcu;
	struct dp_gen *gen;              /* live policy; atomic load/store only */
	struct dp_gen *retired;          /* replaced, freed once every worker is quiescent */
	uint32_t dns_grace_s;            /* the DNS binding tables' (made at the first policy) */
	uint32_t dns_max_entries;
	volatile int quit;               /* set by signals, QUIT, EOF on --ctl-fd */
	uint8_t boot_id[16];
	struct dp_clock clock;           /* TSC -> realtime */
	struct dp_mbuf_ts mbuf_ts;       /* pcap PMD timestamps (replay) */
	uint64_t start_ns;
	struct dp_local *local;          /* geneve / routed: addresses, routes, neighbours,
					  * health, exception port (dp_local.h); else NULL */
};

static inline const char *
dp_mode_name(enum dp_mode m)
{
	return m == DP_MODE_WIRE ? "wire" : m == DP_MODE_ONEARM ? "one-arm" :
	       m == DP_MODE_REPLAY ? "replay" : m == DP_MODE_GENEVE ? "geneve" : "routed";
}

#endif /* CHOKEPOINT_DP_H */
