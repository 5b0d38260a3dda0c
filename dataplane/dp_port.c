/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_port.c: mempools and port bring-up, every return checked.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dp_log.h"
#include "dp_port.h"
#include "dp_worker.h"

RTE_LOG_REGISTER_SUFFIX(dp_logtype_port, port, INFO);

int
dp_ports_select(struct dp_proc *app)
{
	uint16_t pid, n = 0, need;

	RTE_ETH_FOREACH_DEV(pid) {
		if (n == DP_MAX_PORTS) {
			DP_LOG(port, ERR, "more than %u ports: not supported", DP_MAX_PORTS);
			return -EINVAL;
		}
		app->port_id[n++] = pid;
	}
	need = app->cfg.mode == DP_MODE_WIRE ? 2 : 1;
	if (n < need) {
		DP_LOG(port, ERR, "--mode %s needs %u port%s, EAL found %u (add --vdev ...)",
		       dp_mode_name(app->cfg.mode), need, need > 1 ? "s" : "", n);
		return -EINVAL;
	}
	if (app->cfg.mode == DP_MODE_WIRE && n > 2)
		DP_LOG(port, WARNING, "wire mode uses ports 0 and 1; %u more ignored", n - 2);
	if (app->cfg.mode == DP_MODE_ONEARM && n > 1)
		DP_LOG(port, WARNING, "one-arm mode uses port 0; %u more ignored", n - 1);
	app->n_ports = app->cfg.mode == DP_MODE_REPLAY ? n : need;
	app->n_queues = app->cfg.mode == DP_MODE_REPLAY ? 1 : (uint16_t)app->cfg.n_workers;
	return 0;
}

int
dp_pools_create(struct dp_proc *app)
{
	unsigned int ports = app->n_ports, q = app->n_queues, w = app->cfg.n_workers;
	unsigned int lcores = rte_lcore_count();
	unsigned int n;

	/*
	 * RX pool: every mbuf that can be outside the pool at once
	 *   ports x queues x (RX descriptors + TX descriptors)   in NIC rings
	 * + w x (w - 1) x DP_HANDOFF_RING                         handoff rings
	 * + w x (ports + 1) x DP_BURST                            RX burst + TX buffers
	 * + lcores x DP_POOL_CACHE x 1.5                          per-lcore caches
	 * + 1024                                                  RSTs in flight
	 * Held client segments are copies in the hold pool, never RX mbufs.
	 */
	n = ports * q * (DP_RX_DESC + DP_TX_DESC) + w * (w - 1) * DP_HANDOFF_RING +
	    w * (ports + 1) * DP_BURST + lcores * DP_POOL_CACHE * 3 / 2 + 1024;
	app->rx_pool = rte_pktmbuf_pool_create("dp_rx", n, DP_POOL_CACHE, 0,
					       RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (app->rx_pool == NULL) {
		DP_LOG(port, ERR, "cannot create the RX pool of %u mbufs: %s", n,
		       rte_strerror(rte_errno));
		return -rte_errno;
	}
	/* hold pool: --hold-mbufs copies of held client segments, shared by workers */
	app->hold_pool = rte_pktmbuf_pool_create("dp_hold", app->cfg.hold_mbufs,
						 RTE_MIN(64u, app->cfg.hold_mbufs / 16), 0,
						 RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (app->hold_pool == NULL) {
		DP_LOG(port, ERR, "cannot create the hold pool of %u mbufs: %s",
		       app->cfg.hold_mbufs, rte_strerror(rte_errno));
		return -rte_errno;
	}
	DP_LOG(port, INFO, "RX pool %u mbufs, hold pool %u mbufs", n, app->cfg.hold_mbufs);
	return 0;
}

static int
port_start(struct dp_proc *app, uint16_t idx)
{
	uint16_t pid = app->port_id[idx], nq = app->n_queues, q;
	uint16_t nb_rxd = DP_RX_DESC, nb_txd = DP_TX_DESC;
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	struct rte_eth_rxconf rxc;
	struct rte_eth_txconf txc;
	uint8_t key[128];
	int ret;

	ret = rte_eth_dev_info_get(pid, &info);
	if (ret != 0) {
		DP_LOG(port, ERR, "port %u: dev_info: %s", pid, rte_strerror(-ret));
		return ret;
	}
	if (info.max_rx_queues < nq || info.max_tx_queues < nq) {
		DP_LOG(port, ERR, "port %u (%s): %u workers need %u RX/TX queues, the port has "
		       "%u/%u (af_packet: qpairs=%u)", pid, info.driver_name, nq, nq,
		       info.max_rx_queues, info.max_tx_queues, nq);
		return -EINVAL;
	}
	memset(&conf, 0, sizeof(conf));
	/* no LRO, no GRO, no VLAN strip: the reassembler judges real segments */
	conf.rxmode.offloads = 0;
	conf.txmode.offloads = 0;
	if (nq > 1 && info.flow_type_rss_offloads != 0) {
		unsigned int klen = info.hash_key_size ? info.hash_key_size : 40;

		if (klen > sizeof(key))
			klen = sizeof(key);
		dp_rss_symmetric_key(key, klen);
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_key = key;
		conf.rx_adv_conf.rss_conf.rss_key_len = (uint8_t)klen;
		conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP |
						    RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
		DP_LOG(port, INFO, "port %u: symmetric RSS, key %u bytes, rss_hf 0x%llx", pid, klen,
		       (unsigned long long)conf.rx_adv_conf.rss_conf.rss_hf);
	} else if (nq > 1) {
		DP_LOG(port, INFO, "port %u (%s): no RSS; flows are handed to their owner worker",
		       pid, info.driver_name);
	}
	ret = rte_eth_dev_configure(pid, nq, nq, &conf);
	if (ret != 0) {
		DP_LOG(port, ERR, "port %u: configure %u queues: %s", pid, nq, rte_strerror(-ret));
		return ret;
	}
	ret = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &nb_rxd, &nb_txd);
	if (ret != 0) {
		DP_LOG(port, ERR, "port %u: adjust descriptors: %s", pid, rte_strerror(-ret));
		return ret;
	}
	rxc = info.default_rxconf;
	rxc.offloads = 0;
	txc = info.default_txconf;
	txc.offloads = 0;
	for (q = 0; q < nq; q++) {
		ret = rte_eth_rx_queue_setup(pid, q, nb_rxd, rte_eth_dev_socket_id(pid), &rxc,
					     app->rx_pool);
		if (ret != 0) {
			DP_LOG(port, ERR, "port %u: RX queue %u setup: %s", pid, q,
			       rte_strerror(-ret));
			return ret;
		}
		ret = rte_eth_tx_queue_setup(pid, q, nb_txd, rte_eth_dev_socket_id(pid), &txc);
		if (ret != 0) {
			DP_LOG(port, ERR, "port %u: TX queue %u setup: %s", pid, q,
			       rte_strerror(-ret));
			return ret;
		}
	}
	ret = rte_eth_dev_start(pid);
	if (ret != 0) {
		DP_LOG(port, ERR, "port %u: start: %s", pid, rte_strerror(-ret));
		return ret;
	}
	if (nq > 1 && info.flow_type_rss_offloads != 0 && info.reta_size > 0) {
		/* the same RETA on every port: queue = hash % reta, round robin */
		struct rte_eth_rss_reta_entry64 reta[RTE_ETH_RSS_RETA_SIZE_512 /
						     RTE_ETH_RETA_GROUP_SIZE];
		unsigned int i, n = RTE_MIN((unsigned int)info.reta_size,
					    (unsigned int)RTE_ETH_RSS_RETA_SIZE_512);

		memset(reta, 0, sizeof(reta));
		for (i = 0; i < n; i++) {
			reta[i / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ull << (i % RTE_ETH_RETA_GROUP_SIZE);
			reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] =
				(uint16_t)(i % nq);
		}
		ret = rte_eth_dev_rss_reta_update(pid, reta, (uint16_t)n);
		if (ret != 0 && ret != -ENOTSUP)
			DP_LOG(port, WARNING, "port %u: RETA update: %s", pid, rte_strerror(-ret));
	}
	ret = rte_eth_promiscuous_enable(pid);
	if (ret != 0 && ret != -ENOTSUP) {
		DP_LOG(port, ERR, "port %u: promiscuous: %s", pid, rte_strerror(-ret));
		return ret;
	}
	DP_LOG(port, INFO, "port %u (%s) started: %u queue%s, %u/%u descriptors", pid,
	       info.driver_name, nq, nq > 1 ? "s" : "", nb_rxd, nb_txd);
	return 0;
}

int
dp_ports_start(struct dp_proc *app)
{
	int ret;

	for (uint16_t i = 0; i < app->n_ports; i++) {
		ret = port_start(app, i);
		if (ret != 0)
			return ret;
	}
	return 0;
}

void
dp_ports_wait_link(struct dp_proc *app, unsigned int max_ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	unsigned int waited = 0;

	for (uint16_t i = 0; i < app->n_ports; i++) {
		struct rte_eth_link link;

		for (;;) {
			memset(&link, 0, sizeof(link));
			if (rte_eth_link_get_nowait(app->port_id[i], &link) != 0)
				break;
			if (link.link_status == RTE_ETH_LINK_UP || app->quit || waited >= max_ms)
				break;
			nanosleep(&ts, NULL);
			waited += 10;
		}
		if (link.link_status == RTE_ETH_LINK_UP)
			DP_LOG(port, INFO, "port %u: link up, %u Mbps", app->port_id[i],
			       link.link_speed);
		else
			DP_LOG(port, WARNING, "port %u: link down (starting anyway)",
			       app->port_id[i]);
	}
}

void
dp_ports_stop(struct dp_proc *app)
{
	for (uint16_t i = 0; i < app->n_ports; i++) {
		int ret = rte_eth_dev_stop(app->port_id[i]);

		if (ret != 0)
			DP_LOG(port, WARNING, "port %u: stop: %s", app->port_id[i],
			       rte_strerror(-ret));
		rte_eth_dev_close(app->port_id[i]);
	}
}
