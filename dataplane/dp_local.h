/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_local.h: the appliance's own addresses, for the two deployment modes in
 * which chokepoint is a host on the network rather than a wire:
 *
 *   --mode geneve  (AWS Gateway Load Balancer target, port 0): GENEVE to UDP
 *                  6081 of the appliance's address is decapsulated, the inner
 *                  packet goes through the state machine like any other, and
 *                  what is forwarded goes back to GWLB in the same GENEVE
 *                  header (dp_geneve.h);
 *   --mode routed  (the subnets' next hop, ports 0..n-1): every port owns
 *                  addresses, answers ARP / neighbour discovery, forwards by
 *                  a static route table to next hops it resolves itself,
 *                  decrements the TTL and sends ICMP time exceeded
 *                  (dp_routed.h).
 *
 * In both: echo requests to the appliance are answered, the health check is
 * answered on --health-port (dp_health.h), and every other packet addressed
 * to the appliance (SSH, DHCP, the management plane) goes to a kernel
 * interface through a TAP (net_tap) or virtio-user exception port
 * (--exception-port, dp_exception.h) and its answers come back out, routed
 * by the same table.
 *
 * The hooks in the worker are small: dp_local_rx() right after decoding
 * (dp_worker.c), dp_local_tx() at the top of dp_tx() (dp_worker.h), and
 * dp_local_poll() once per loop; the RST builder and its decoder go through
 * dp_local_build_rst() / dp_local_decode() (dp_verdict.c). The control
 * thread calls dp_local_tick() every turn (health).
 *
 * Settings are chokepoint-dp options (docs/deploy.md), not policy keys: the
 * deployment is the process's, fixed at start with its ports, while the
 * policy reloads.
 */
#ifndef CHOKEPOINT_DP_LOCAL_H
#define CHOKEPOINT_DP_LOCAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dp_health.h"
#include "dp_pkt.h"
#include "dp_proto.h"
#include "dp_routed.h"

struct dp_proc;
struct dp_worker;
struct dp_pktctx;
struct rte_mbuf;
struct rte_mempool;

#define DP_LOCAL_BURST 32
#define DP_LOCAL_PEND 64         /* per worker: packets waiting for a next hop's MAC */
#define DP_NEIGH_WAIT_NS (3ull * 1000000000ull)
#define DP_NEIGH_RETRY_NS (1000000000ull)
#define DP_NEIGH_REFRESH_NS (30ull * 1000000000ull)

struct dp_local_pend {
	struct rte_mbuf *m;
	struct dp_neigh *nb;
	uint64_t deadline_ns;
	uint16_t port;
	uint8_t dec;             /* decrement the TTL when sent (forwarded, not ours) */
};

/* Per worker (only that worker writes it). */
struct dp_local_w {
	uint16_t n_exc;
	struct rte_mbuf *exc[DP_LOCAL_BURST];   /* to the exception port, queue = worker */
	unsigned int n_pend;
	struct dp_local_pend pend[DP_LOCAL_PEND];
	uint64_t icmp_window_ns;
	uint32_t icmp_sent;      /* ICMP errors in the current 100 ms window */
	uint64_t refresh_ns;     /* worker 0: next hops last solicited */
} __attribute__((aligned(64)));

struct dp_local {
	int mode;                /* enum dp_mode: DP_MODE_GENEVE or DP_MODE_ROUTED */
	int given;               /* some option of this module was given */
	uint16_t geneve_port;
	uint8_t geneve_rst;
	uint16_t n_ports;
	uint32_t mtu;            /* --mtu: set on every data port at start, 0 = leave it */
	unsigned int n_addrs;
	struct dp_addr addrs[DP_MAX_ADDRS];
	unsigned int n_user_routes;
	struct dp_route user_routes[DP_MAX_ROUTES];
	struct dp_rtable routes;
	struct dp_ntable neigh;
	uint8_t port_mac[DP_MAX_PORTS][6];
	/* health */
	uint16_t health_port;    /* 0: no health responder */
	uint8_t health_proto;    /* enum dp_health_proto */
	uint32_t health_stall_ms;
	uint32_t health_grace_ms;
	uint64_t health_key;
	uint32_t health_word;    /* atomic: dp_health_eval() result */
	uint64_t tick_ns, token, token_ns, ctl_down_since_ns;
	int token_out, stuck;
	/* exception port */
	int exc_port;            /* ethdev port id, -1 none */
	struct rte_mempool *exc_pool;
	uint8_t exc_mac[6];
	uint8_t proxy_mac[6];    /* the MAC the kernel is told its neighbours have */
	struct dp_local_w w[DP_MAX_WORKERS];
};

/*
 * Take this module's options out of argv (the application arguments after
 * EAL's): --addr, --route, --geneve-port, --geneve-rst, --health-port,
 * --health-proto, --health-stall-ms, --health-ctl-grace-ms, --exception-port, --mtu.
 * Returns the new argc, or -1 with a message on stderr.
 */
int dp_local_args(int argc, char **argv);

/* The usage lines of those options. */
void dp_local_usage(FILE *out);

/*
 * After dp_ports_select(): check the options against --mode, set the data
 * ports of routed mode, read the port MACs, build the route table; sets
 * app->local (NULL in wire / one-arm / replay). 0, or -EINVAL with a message.
 */
int dp_local_setup(struct dp_proc *app);

/* After dp_ports_start(): start the exception port. 0 or -errno. */
int dp_local_start(struct dp_proc *app);

/* Stop the exception port, free what waits. */
void dp_local_stop(struct dp_proc *app);

/* Control thread, every turn: health (RCU heartbeat, policy, control plane). */
void dp_local_tick(struct dp_proc *app, int ctl_connected);

/*
 * Worker: a decoded frame on a data port (*res: dp_decode's result). Returns
 * 1 if it was consumed here (the appliance's own traffic, GENEVE errors,
 * frames not for the appliance); 0 to go on with pc->p (the inner packet of
 * a GENEVE frame, *res set to its decode result, or a routed transit packet).
 */
int dp_local_rx(struct dp_worker *w, struct dp_pktctx *pc, enum dp_decode_result *res);

/*
 * Worker, at the top of dp_tx(): geneve turns the frame around (0: send on
 * *pidx); routed routes it (next-hop MAC, TTL - 1, port) and sends it itself
 * (1). 1 also when m was dropped.
 */
int dp_local_tx(struct dp_worker *w, uint16_t *pidx, struct rte_mbuf *m);

/* Worker, once per loop: exception port, next hops resolved. Returns frames handled. */
unsigned int dp_local_poll(struct dp_worker *w);

/* Decode a frame as the worker did (geneve: its inner packet). */
enum dp_decode_result dp_local_decode(struct dp_worker *w, const uint8_t *frame, uint32_t len,
				      uint16_t pidx, struct dp_pkt *p);

/*
 * dp_build_rst() for the mode: geneve builds the RST toward the client
 * inside the flow's GENEVE context, and only with --geneve-rst (to the
 * server: none, -1).
 */
int dp_local_build_rst(struct dp_worker *w, const uint8_t *frame, const struct dp_pkt *p,
		       int to_client, uint32_t seq, uint32_t ack, uint8_t *out, size_t outlen);

#endif /* CHOKEPOINT_DP_LOCAL_H */
