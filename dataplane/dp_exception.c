/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_exception.c: the exception port to the kernel (see dp_exception.h).
 */
#include <errno.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dp_bytes.h"
#include "dp_exception.h"
#include "dp_log.h"
#include "dp_port.h"
#include "dp_worker.h"

RTE_LOG_REGISTER_SUFFIX(dp_logtype_exc, exception, INFO);

#define EXC_DESC 512

int
dp_exception_start(struct dp_proc *app, struct dp_local *L)
{
	uint16_t pid = (uint16_t)L->exc_port, nq = app->n_queues, q;
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	struct rte_ether_addr mac;
	unsigned int n;
	int ret;

	ret = rte_eth_dev_info_get(pid, &info);
	if (ret != 0) {
		DP_LOG(exc, ERR, "exception port %u: dev_info: %s", pid, rte_strerror(-ret));
		return ret;
	}
	if (info.max_rx_queues < nq || info.max_tx_queues < nq) {
		DP_LOG(exc, ERR, "exception port %u (%s): %u workers need %u queues, it has %u/%u",
		       pid, info.driver_name, nq, nq, info.max_rx_queues, info.max_tx_queues);
		return -EINVAL;
	}
	/* its RX ring and what is in flight to the data ports */
	n = nq * (EXC_DESC + DP_BURST) + rte_lcore_count() * DP_POOL_CACHE * 3 / 2 + 1024;
	L->exc_pool = rte_pktmbuf_pool_create("dp_exc", n, DP_POOL_CACHE, 0,
					      RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
	if (L->exc_pool == NULL) {
		DP_LOG(exc, ERR, "exception port %u: pool of %u mbufs: %s", pid, n,
		       rte_strerror(rte_errno));
		return -rte_errno;
	}
	memset(&conf, 0, sizeof(conf));
	ret = rte_eth_dev_configure(pid, nq, nq, &conf);
	if (ret != 0) {
		DP_LOG(exc, ERR, "exception port %u: configure: %s", pid, rte_strerror(-ret));
		return ret;
	}
	for (q = 0; q < nq; q++) {
		ret = rte_eth_rx_queue_setup(pid, q, EXC_DESC, rte_eth_dev_socket_id(pid), NULL,
					     L->exc_pool);
		if (ret == 0)
			ret = rte_eth_tx_queue_setup(pid, q, EXC_DESC, rte_eth_dev_socket_id(pid),
						     NULL);
		if (ret != 0) {
			DP_LOG(exc, ERR, "exception port %u: queue %u setup: %s", pid, q,
			       rte_strerror(-ret));
			return ret;
		}
	}
	/* the kernel interface answers with the MAC the network knows the appliance by */
	memcpy(mac.addr_bytes, L->port_mac[0], 6);
	ret = rte_eth_dev_default_mac_addr_set(pid, &mac);
	if (ret != 0)
		DP_LOG(exc, WARNING, "exception port %u: cannot set its MAC to port 0's: %s", pid,
		       rte_strerror(-ret));
	ret = rte_eth_dev_start(pid);
	if (ret != 0) {
		DP_LOG(exc, ERR, "exception port %u: start: %s", pid, rte_strerror(-ret));
		return ret;
	}
	ret = rte_eth_macaddr_get(pid, &mac);
	if (ret != 0) {
		DP_LOG(exc, ERR, "exception port %u: MAC: %s", pid, rte_strerror(-ret));
		return ret;
	}
	memcpy(L->exc_mac, mac.addr_bytes, 6);
	DP_LOG(exc, INFO, "exception port %u (%s) started: %u queue%s, MAC "
	       RTE_ETHER_ADDR_PRT_FMT, pid, info.driver_name, nq, nq > 1 ? "s" : "",
	       RTE_ETHER_ADDR_BYTES(&mac));
	return 0;
}

void
dp_exception_stop(struct dp_local *L)
{
	int ret;

	if (L->exc_port < 0)
		return;
	ret = rte_eth_dev_stop((uint16_t)L->exc_port);
	if (ret != 0)
		DP_LOG(exc, WARNING, "exception port %d: stop: %s", L->exc_port,
		       rte_strerror(-ret));
	rte_eth_dev_close((uint16_t)L->exc_port);
	for (unsigned int i = 0; i < DP_MAX_WORKERS; i++) {
		struct dp_local_w *lw = &L->w[i];

		if (lw->n_exc)
			rte_pktmbuf_free_bulk(lw->exc, lw->n_exc);
		lw->n_exc = 0;
	}
}

static void
flush(struct dp_worker *w, struct dp_local *L)
{
	struct dp_local_w *lw = &L->w[w->id];
	uint16_t sent;

	if (lw->n_exc == 0)
		return;
	sent = rte_eth_tx_burst((uint16_t)L->exc_port, w->queue, lw->exc, lw->n_exc);
	if (sent < lw->n_exc) {
		w->c[DP_C_TX_DROPPED] += lw->n_exc - sent;
		rte_pktmbuf_free_bulk(&lw->exc[sent], lw->n_exc - sent);
	}
	lw->n_exc = 0;
}

static void
to_kernel(struct dp_worker *w, struct dp_local *L, struct rte_mbuf *m)
{
	struct dp_local_w *lw = &L->w[w->id];

	lw->exc[lw->n_exc++] = m;
	if (lw->n_exc == DP_LOCAL_BURST)
		flush(w, L);
}

void
dp_exception_to_kernel(struct dp_worker *w, struct dp_local *L, struct rte_mbuf *m)
{
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);

	if (L->exc_port < 0) {
		w->c[DP_C_LOCAL_DROPPED]++;
		rte_pktmbuf_free(m);
		return;
	}
	/* unicast frames to the appliance carry the kernel interface's MAC */
	if (rte_pktmbuf_data_len(m) >= 14 && !(d[0] & 1))
		memcpy(d, L->exc_mac, 6);
	w->c[DP_C_EXC_TO_KERNEL]++;
	to_kernel(w, L, m);
}

/* A frame built here for the kernel, in a new mbuf. */
static struct rte_mbuf *
new_frame(struct dp_worker *w, uint8_t **data)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->app->rx_pool);

	if (m != NULL)
		*data = rte_pktmbuf_mtod(m, uint8_t *);
	return m;
}

/* The kernel asks for a neighbour: the dataplane (its router) answers with proxy_mac. */
static void
kernel_arp(struct dp_worker *w, struct dp_local *L, const uint8_t *d, uint32_t len,
	   const struct dp_pkt *p)
{
	struct dp_arp a;
	struct rte_mbuf *m;
	uint8_t *out;

	if (dp_arp_parse(d, len, p->l2_len, &a) != 0 || a.op != 1 ||
	    memcmp(a.spa, a.tpa, 4) == 0 ||                     /* gratuitous */
	    dp_addr_find(L->addrs, L->n_addrs, 4, a.tpa, -1) != NULL)
		return;
	m = new_frame(w, &out);
	if (m == NULL)
		return;
	m->data_len = m->pkt_len = (uint32_t)dp_build_arp(out, 2, a.sha, L->proxy_mac, a.tpa,
							  a.sha, a.spa);
	to_kernel(w, L, m);
}

static void
kernel_nd(struct dp_worker *w, struct dp_local *L, const uint8_t *d, const struct dp_pkt *p)
{
	static const uint8_t unspec[16];
	struct dp_nd nd;
	struct rte_mbuf *m;
	uint8_t *out;

	if (dp_nd_parse(d, p, &nd) != 0 || nd.type != 135 || memcmp(p->src, unspec, 16) == 0 ||
	    dp_addr_find(L->addrs, L->n_addrs, 6, nd.target, -1) != NULL)
		return;                 /* DAD, or about the appliance itself */
	m = new_frame(w, &out);
	if (m == NULL)
		return;
	/* solicited, override, router */
	m->data_len = m->pkt_len = (uint32_t)dp_build_na(out, d + 6, L->proxy_mac, nd.target,
							 p->src, nd.target, 0xe0);
	to_kernel(w, L, m);
}

static void
from_kernel(struct dp_worker *w, struct dp_local *L, struct rte_mbuf *m)
{
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t len = rte_pktmbuf_data_len(m);
	struct dp_pkt p;
	enum dp_decode_result res;

	w->c[DP_C_EXC_FROM_KERNEL]++;
	res = dp_decode(d, len, DP_LINK_ETHERNET, &p);
	if (res == DP_DEC_NON_IP) {
		if (p.ethertype == 0x0806)
			kernel_arp(w, L, d, len, &p);
		rte_pktmbuf_free(m);
		return;
	}
	if (res != DP_DEC_OK || p.n_vlans != 0) {
		rte_pktmbuf_free(m);
		return;
	}
	if (p.l4proto == 58 && (p.icmp_type == 135 || p.icmp_type == 136 ||
				p.icmp_type == 133 || p.icmp_type == 143 || p.icmp_type == 131)) {
		/* the kernel's neighbour discovery and MLD stay between it and us */
		if (p.icmp_type == 135)
			kernel_nd(w, L, d, &p);
		rte_pktmbuf_free(m);
		return;
	}
	if ((p.family == 4 && memcmp(p.dst, "\xff\xff\xff\xff", 4) == 0) ||
	    (p.family == 6 && p.dst[0] == 0xff)) {
		/* DHCP / DHCPv6 and the like: out of port 0, from its MAC */
		uint8_t *wd = rte_pktmbuf_mtod(m, uint8_t *);

		memcpy(wd + 6, L->port_mac[0], 6);
		dp_local_send(w, 0, m);
		return;
	}
	dp_local_route_out(w, L, m, 0);
}

unsigned int
dp_exception_poll(struct dp_worker *w, struct dp_local *L)
{
	struct rte_mbuf *pkts[DP_LOCAL_BURST];
	uint16_t n, i;

	n = rte_eth_rx_burst((uint16_t)L->exc_port, w->queue, pkts, DP_LOCAL_BURST);
	for (i = 0; i < n; i++) {
		if (pkts[i]->nb_segs > 1) {     /* the kernel's MTU is the data port's */
			rte_pktmbuf_free(pkts[i]);
			continue;
		}
		from_kernel(w, L, pkts[i]);
	}
	flush(w, L);
	return n;
}
