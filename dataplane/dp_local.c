/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_local.c: the appliance's own addresses in geneve and routed mode (see
 * dp_local.h): options, setup, the worker hooks, health.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include "dp_bytes.h"
#include "dp_exception.h"
#include "dp_geneve.h"
#include "dp_local.h"
#include "dp_log.h"
#include "dp_policy.h"
#include "dp_verdict.h"
#include "dp_worker.h"

RTE_LOG_REGISTER_SUFFIX(dp_logtype_local, local, INFO);

#define ICMP_ERR_PER_WINDOW 100  /* ICMP errors per worker per 100 ms */
#define TICK_NS (50ull * DP_NS_PER_MS)

static struct dp_local the_local = {
	.geneve_port = DP_GENEVE_PORT,
	.health_stall_ms = 1000,
	.exc_port = -1,
	.stuck = -1,
	/* locally administered: the "router" the kernel's neighbours resolve to */
	.proxy_mac = { 0x02, 0x63, 0x70, 0x00, 0x00, 0x01 },
};

/* ---- options --------------------------------------------------------------- */

static const char *const opt_names[] = {
	"addr", "route", "geneve-port", "geneve-rst", "health-port", "health-proto",
	"health-stall-ms", "health-ctl-grace-ms", "exception-port", "mtu",
};

static int
opt_u32(const char *opt, const char *s, unsigned long min, unsigned long max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "chokepoint-dp: --%s: '%s' is not a number in %lu..%lu\n", opt, s,
			min, max);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
take_opt(struct dp_local *L, const char *name, const char *val)
{
	char err[160];
	uint32_t v;

	L->given = 1;
	if (strcmp(name, "addr") == 0) {
		if (L->n_addrs == DP_MAX_ADDRS) {
			fprintf(stderr, "chokepoint-dp: --addr: at most %d addresses\n", DP_MAX_ADDRS);
			return -1;
		}
		if (dp_addr_parse(val, &L->addrs[L->n_addrs], err, sizeof(err)) != 0) {
			fprintf(stderr, "chokepoint-dp: --addr: %s\n", err);
			return -1;
		}
		L->n_addrs++;
	} else if (strcmp(name, "route") == 0) {
		if (L->n_user_routes == DP_MAX_ROUTES) {
			fprintf(stderr, "chokepoint-dp: --route: at most %d routes\n", DP_MAX_ROUTES);
			return -1;
		}
		if (dp_route_parse(val, &L->user_routes[L->n_user_routes], err, sizeof(err)) != 0) {
			fprintf(stderr, "chokepoint-dp: --route: %s\n", err);
			return -1;
		}
		L->n_user_routes++;
	} else if (strcmp(name, "geneve-port") == 0) {
		if (opt_u32(name, val, 1, 65535, &v) != 0)
			return -1;
		L->geneve_port = (uint16_t)v;
	} else if (strcmp(name, "geneve-rst") == 0) {
		L->geneve_rst = 1;
	} else if (strcmp(name, "health-port") == 0) {
		if (opt_u32(name, val, 1, 65535, &v) != 0)
			return -1;
		L->health_port = (uint16_t)v;
	} else if (strcmp(name, "health-proto") == 0) {
		if (strcmp(val, "http") == 0)
			L->health_proto = DP_HEALTH_HTTP;
		else if (strcmp(val, "tcp") == 0)
			L->health_proto = DP_HEALTH_TCP;
		else {
			fprintf(stderr, "chokepoint-dp: --health-proto: '%s' is not http or tcp\n",
				val);
			return -1;
		}
	} else if (strcmp(name, "health-stall-ms") == 0) {
		if (opt_u32(name, val, 10, 600000, &L->health_stall_ms) != 0)
			return -1;
	} else if (strcmp(name, "health-ctl-grace-ms") == 0) {
		if (opt_u32(name, val, 0, 86400000, &L->health_grace_ms) != 0)
			return -1;
	} else if (strcmp(name, "mtu") == 0) {
		if (opt_u32(name, val, 576, 9702, &L->mtu) != 0)
			return -1;
	} else if (strcmp(name, "exception-port") == 0) {
		if (opt_u32(name, val, 0, RTE_MAX_ETHPORTS - 1, &v) != 0)
			return -1;
		L->exc_port = (int)v;
	}
	return 0;
}

int
dp_local_args(int argc, char **argv)
{
	struct dp_local *L = &the_local;
	int i, out = 1;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *val = NULL;
		size_t n;
		unsigned int k;

		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			argv[out++] = argv[i];
			continue;
		}
		eq = strchr(a + 2, '=');
		n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		for (k = 0; k < RTE_DIM(opt_names); k++)
			if (strlen(opt_names[k]) == n && strncmp(a + 2, opt_names[k], n) == 0)
				break;
		if (k == RTE_DIM(opt_names)) {
			argv[out++] = argv[i];
			continue;
		}
		if (strcmp(opt_names[k], "geneve-rst") == 0) {
			if (eq != NULL) {
				fprintf(stderr, "chokepoint-dp: --geneve-rst takes no value\n");
				return -1;
			}
		} else if (eq != NULL) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fprintf(stderr, "chokepoint-dp: --%s needs a value\n", opt_names[k]);
			return -1;
		}
		if (take_opt(L, opt_names[k], val) != 0)
			return -1;
	}
	argv[out] = NULL;
	return out;
}

void
dp_local_usage(FILE *out)
{
	fprintf(out,
		"  geneve / routed mode (docs/deploy.md):\n"
		"  --addr PORT:IP/PREFIX       an address of the appliance on a port (repeat; v4, v6)\n"
		"  --route PREFIX/LEN:PORT[:NEXTHOP]  a static route (repeat)\n"
		"  --geneve-port N             GENEVE UDP port (default %u)\n"
		"  --geneve-rst                deny: also an RST to the client inside GENEVE\n"
		"  --health-port N             answer the health check on this TCP port\n"
		"  --health-proto http|tcp     http: GET /healthz 200/503; tcp: refuse when unhealthy\n"
		"  --health-stall-ms N         a worker silent this long is stuck (default 1000)\n"
		"  --health-ctl-grace-ms N     unhealthy after the control plane is away this long\n"
		"                              (default 0: never)\n"
		"  --exception-port N          ethdev port (net_tap, virtio_user) to the kernel\n"
		"  --mtu N                     set the data ports' MTU (GWLB sends 8500-byte packets)\n",
		DP_GENEVE_PORT);
}

/* ---- setup ----------------------------------------------------------------- */

static int
build_routes(struct dp_local *L)
{
	unsigned int i;
	int ret;

	for (i = 0; i < L->n_addrs; i++) {
		struct dp_route r;

		memset(&r, 0, sizeof(r));
		r.family = L->addrs[i].family;
		r.plen = L->addrs[i].plen;
		r.port = L->addrs[i].port;
		r.connected = 1;
		memcpy(r.prefix, L->addrs[i].ip, 16);
		ret = dp_rtable_add(&L->routes, &r);
		if (ret != 0 && ret != -EEXIST)
			return ret;
	}
	for (i = 0; i < L->n_user_routes; i++) {
		const struct dp_route *r = &L->user_routes[i];

		if (r->port >= L->n_ports) {
			fprintf(stderr, "chokepoint-dp: --route: port %u is not a data port "
				"(0..%u)\n", r->port, L->n_ports - 1);
			return -EINVAL;
		}
		if (r->has_gw && dp_addr_on_port(L->addrs, L->n_addrs, r->family, r->port) == NULL) {
			fprintf(stderr, "chokepoint-dp: --route: port %u has no IPv%u address to "
				"resolve next hop from (add --addr)\n", r->port, r->family);
			return -EINVAL;
		}
		ret = dp_rtable_add(&L->routes, r);
		if (ret == -EEXIST) {
			fprintf(stderr, "chokepoint-dp: --route: a route to that prefix exists "
				"(connected or given twice)\n");
			return ret;
		}
		if (ret != 0)
			return ret;
	}
	return 0;
}

int
dp_local_setup(struct dp_proc *app)
{
	struct dp_local *L = &the_local;
	unsigned int i, max_port = 0;
	uint16_t n_eal = 0, pid;

	app->local = NULL;
	if (app->cfg.mode != DP_MODE_GENEVE && app->cfg.mode != DP_MODE_ROUTED) {
		if (L->given) {
			fprintf(stderr, "chokepoint-dp: --addr, --route, --geneve-*, --health-*, "
				"--exception-port need --mode geneve or routed\n");
			return -EINVAL;
		}
		return 0;
	}
	L->mode = (int)app->cfg.mode;
	if (L->n_addrs == 0) {
		fprintf(stderr, "chokepoint-dp: --mode %s needs the appliance's address "
			"(--addr PORT:IP/PREFIX)\n", dp_mode_name(app->cfg.mode));
		return -EINVAL;
	}
	for (i = 0; i < L->n_addrs; i++)
		max_port = RTE_MAX(max_port, (unsigned int)L->addrs[i].port);
	RTE_ETH_FOREACH_DEV(pid)
		n_eal++;
	if (L->exc_port >= 0) {
		if (!rte_eth_dev_is_valid_port((uint16_t)L->exc_port)) {
			fprintf(stderr, "chokepoint-dp: --exception-port %d: no such port\n",
				L->exc_port);
			return -EINVAL;
		}
		n_eal--;
	}
	if (app->cfg.mode == DP_MODE_GENEVE) {
		if (max_port != 0 || dp_addr_on_port(L->addrs, L->n_addrs, 4, 0) == NULL) {
			fprintf(stderr, "chokepoint-dp: --mode geneve: the GENEVE address is an "
				"IPv4 --addr on port 0, and port 0 is the only data port\n");
			return -EINVAL;
		}
		L->n_ports = 1;
	} else {
		L->n_ports = (uint16_t)(max_port + 1);
		if (L->n_ports > n_eal) {
			fprintf(stderr, "chokepoint-dp: --mode routed: --addr names port %u, EAL has "
				"%u data port%s\n", max_port, n_eal, n_eal == 1 ? "" : "s");
			return -EINVAL;
		}
	}
	for (i = 0; i < L->n_ports; i++) {
		if (L->exc_port >= 0 && app->port_id[i] == L->exc_port) {
			fprintf(stderr, "chokepoint-dp: --exception-port %d is data port %u: give "
				"its --vdev after the data ports'\n", L->exc_port, i);
			return -EINVAL;
		}
	}
	app->n_ports = L->n_ports;
	for (i = 0; i < L->n_ports; i++) {
		struct rte_ether_addr mac;

		if (rte_eth_macaddr_get(app->port_id[i], &mac) != 0) {
			fprintf(stderr, "chokepoint-dp: port %u: no MAC address\n", i);
			return -EINVAL;
		}
		memcpy(L->port_mac[i], mac.addr_bytes, 6);
	}
	if (build_routes(L) != 0)
		return -EINVAL;
	dp_neigh_init(&L->neigh);
	if (getrandom(&L->health_key, sizeof(L->health_key), 0) != (ssize_t)sizeof(L->health_key))
		return -errno;
	L->health_word = DP_HW_STARTING;
	app->local = L;
	return 0;
}

int
dp_local_start(struct dp_proc *app)
{
	struct dp_local *L = app->local;
	char ip[64];
	int ret;

	if (L == NULL)
		return 0;
	for (unsigned int i = 0; L->mtu != 0 && i < L->n_ports; i++) {
		ret = rte_eth_dev_set_mtu(app->port_id[i], (uint16_t)L->mtu);
		if (ret == -ENOTSUP) {
			/* pcap, ring...: no MTU of their own, frames of any size pass */
			DP_LOG(local, WARNING, "port %u: the PMD has no MTU setting (MTU %u not "
			       "applied)", i, L->mtu);
			continue;
		}
		if (ret != 0) {
			DP_LOG(local, ERR, "port %u: MTU %u: %s", i, L->mtu, rte_strerror(-ret));
			return ret;
		}
		DP_LOG(local, INFO, "port %u: MTU %u", i, L->mtu);
	}
	if (L->exc_port >= 0) {
		ret = dp_exception_start(app, L);
		if (ret != 0)
			return ret;
	}
	for (unsigned int i = 0; i < L->n_addrs; i++) {
		inet_ntop(L->addrs[i].family == 4 ? AF_INET : AF_INET6, L->addrs[i].ip, ip,
			  sizeof(ip));
		DP_LOG(local, INFO, "port %u: address %s/%u, MAC " RTE_ETHER_ADDR_PRT_FMT,
		       L->addrs[i].port, ip, L->addrs[i].plen,
		       RTE_ETHER_ADDR_BYTES((struct rte_ether_addr *)L->port_mac[L->addrs[i].port]));
	}
	for (unsigned int i = 0; i < L->routes.n; i++) {
		const struct dp_route *r = &L->routes.r[i];
		char gw[64] = "on-link";

		inet_ntop(r->family == 4 ? AF_INET : AF_INET6, r->prefix, ip, sizeof(ip));
		if (r->has_gw)
			inet_ntop(r->family == 4 ? AF_INET : AF_INET6, r->gw, gw, sizeof(gw));
		DP_LOG(local, INFO, "route %s/%u port %u via %s%s", ip, r->plen, r->port, gw,
		       r->connected ? " (connected)" : "");
	}
	if (L->mode == DP_MODE_GENEVE)
		DP_LOG(local, INFO, "GENEVE on UDP %u, RST to denied clients %s", L->geneve_port,
		       L->geneve_rst ? "on" : "off");
	if (L->health_port)
		DP_LOG(local, INFO, "health check on TCP %u (%s), stall bound %u ms, control "
		       "plane grace %u ms", L->health_port,
		       L->health_proto == DP_HEALTH_TCP ? "tcp" : "http", L->health_stall_ms,
		       L->health_grace_ms);
	return 0;
}

void
dp_local_stop(struct dp_proc *app)
{
	struct dp_local *L = app->local;

	if (L == NULL)
		return;
	dp_exception_stop(L);
	for (unsigned int i = 0; i < DP_MAX_WORKERS; i++) {
		struct dp_local_w *lw = &L->w[i];

		for (unsigned int k = 0; k < lw->n_pend; k++)
			rte_pktmbuf_free(lw->pend[k].m);
		lw->n_pend = 0;
	}
}

/* ---- health (control thread) ------------------------------------------------ */

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * DP_NS_PER_S + (uint64_t)ts.tv_nsec;
}

void
dp_local_tick(struct dp_proc *app, int ctl_connected)
{
	struct dp_local *L = app->local;
	struct dp_health_in in;
	uint64_t now;
	uint32_t word, old;
	char why[64];

	if (L == NULL)
		return;
	now = mono_ns();
	if (now - L->tick_ns < TICK_NS)
		return;
	L->tick_ns = now;
	if (ctl_connected)
		L->ctl_down_since_ns = 0;
	else if (L->ctl_down_since_ns == 0)
		L->ctl_down_since_ns = now;
	/*
	 * Heartbeat: every worker reports a quiescent state once per loop. A
	 * token every worker has passed proves they all loop; one that stays
	 * unpassed past the stall bound names the worker that does not.
	 */
	if (!L->token_out) {
		L->token = rte_rcu_qsbr_start(app->rcu);
		L->token_ns = now;
		L->token_out = 1;
	} else if (rte_rcu_qsbr_check(app->rcu, L->token, false) == 1) {
		L->token_out = 0;
		L->stuck = -1;
	} else if (now - L->token_ns > (uint64_t)L->health_stall_ms * DP_NS_PER_MS) {
		for (unsigned int i = 0; i < app->cfg.n_workers; i++) {
			uint64_t c = __atomic_load_n(&app->rcu->qsbr_cnt[i].cnt, __ATOMIC_ACQUIRE);

			if (c != __RTE_QSBR_CNT_THR_OFFLINE && c < L->token) {
				L->stuck = (int)i;
				break;
			}
		}
	}
	memset(&in, 0, sizeof(in));
	in.has_policy = dp_policy_live(app) != NULL;
	in.ctl_connected = ctl_connected;
	in.ctl_down_ns = L->ctl_down_since_ns ? now - L->ctl_down_since_ns : 0;
	in.ctl_grace_ns = (uint64_t)L->health_grace_ms * DP_NS_PER_MS;
	in.stuck_worker = L->stuck;
	word = dp_health_eval(&in);
	old = __atomic_exchange_n(&L->health_word, word, __ATOMIC_RELEASE);
	if (old != word && L->health_port) {
		dp_health_reason(word, why, sizeof(why));
		DP_LOG(local, NOTICE, "health: %s%s", word == DP_HW_OK ? "" : "unhealthy: ", why);
	}
}

/* ---- sending ---------------------------------------------------------------- */

void
dp_local_send(struct dp_worker *w, uint16_t pidx, struct rte_mbuf *m)
{
	struct dp_txbuf *b = &w->tx[pidx];

	b->m[b->n++] = m;
	if (b->n == DP_BURST)
		dp_tx_flush_port(w, pidx);
}

static struct rte_mbuf *
new_frame(struct dp_worker *w, uint8_t **data, size_t *room)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(w->app->rx_pool);

	if (m != NULL) {
		*data = rte_pktmbuf_mtod(m, uint8_t *);
		*room = rte_pktmbuf_tailroom(m);
	}
	return m;
}

static void
send_built(struct dp_worker *w, uint16_t pidx, struct rte_mbuf *m, size_t len)
{
	if (len == 0) {
		rte_pktmbuf_free(m);
		return;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	dp_local_send(w, pidx, m);
}

/* The consumed request: freed, not counted as a verdict drop. */
static void
consume(struct dp_pktctx *pc)
{
	if (pc->m != NULL) {
		rte_pktmbuf_free(pc->m);
		pc->m = NULL;
	}
}

/* Ask for the MAC of ip on port (rate-limited per neighbour, any worker). */
static void
solicit(struct dp_worker *w, struct dp_local *L, struct dp_neigh *nb, uint16_t port)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, zero[6];
	const struct dp_addr *src = dp_addr_on_port(L->addrs, L->n_addrs, nb->family, port);
	struct rte_mbuf *m;
	uint8_t *out;
	size_t room, n;

	if (src == NULL || !dp_neigh_may_request(nb, w->now_ns, DP_NEIGH_RETRY_NS))
		return;
	m = new_frame(w, &out, &room);
	if (m == NULL)
		return;
	if (nb->family == 4)
		n = dp_build_arp(out, 1, bcast, L->port_mac[port], src->ip, zero, nb->ip);
	else
		n = dp_build_ns(out, L->port_mac[port], src->ip, nb->ip);
	send_built(w, port, m, n);
}

static void
rewrite_send(struct dp_worker *w, struct dp_local *L, struct rte_mbuf *m, uint16_t port,
	     const uint8_t mac[6], int dec)
{
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);

	memcpy(d, mac, 6);
	memcpy(d + 6, L->port_mac[port], 6);
	if (dec)
		dp_ttl_dec(d + 14, dp_rd16(d + 12) == 0x86dd ? 6 : 4);
	dp_local_send(w, port, m);
}

void
dp_local_route_out(struct dp_worker *w, struct dp_local *L, struct rte_mbuf *m, int dec)
{
	struct dp_local_w *lw = &L->w[w->id];
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *), *dst, *nh;
	const struct dp_route *rt;
	struct dp_neigh *nb;
	uint8_t mac[6];
	uint16_t et;
	int fam;

	if (rte_pktmbuf_data_len(m) < 14 + 40)
		goto drop;
	et = dp_rd16(d + 12);
	if (et == 0x0800 && (d[14] >> 4) == 4) {
		fam = 4;
		dst = d + 14 + 16;
	} else if (et == 0x86dd && (d[14] >> 4) == 6) {
		fam = 6;
		dst = d + 14 + 24;
	} else {
		goto drop;
	}
	rt = dp_rtable_lookup(&L->routes, fam, dst);
	if (rt == NULL) {
		w->c[DP_C_NO_ROUTE]++;
		goto drop;
	}
	nh = rt->has_gw ? rt->gw : dst;
	nb = dp_neigh_get(&L->neigh, fam, nh, rt->port);
	if (nb == NULL) {
		w->c[DP_C_NEIGH_MISS]++;
		goto drop;
	}
	if (dp_neigh_mac(nb, mac)) {
		rewrite_send(w, L, m, rt->port, mac, dec);
		return;
	}
	/* not resolved yet: ask, and keep the packet a while (as a kernel would) */
	solicit(w, L, nb, rt->port);
	if (lw->n_pend == DP_LOCAL_PEND) {
		w->c[DP_C_NEIGH_MISS]++;
		goto drop;
	}
	lw->pend[lw->n_pend].m = m;
	lw->pend[lw->n_pend].nb = nb;
	lw->pend[lw->n_pend].port = rt->port;
	lw->pend[lw->n_pend].dec = (uint8_t)dec;
	lw->pend[lw->n_pend].deadline_ns = w->now_ns + DP_NEIGH_WAIT_NS;
	lw->n_pend++;
	return;
drop:
	w->c[DP_C_DROPPED]++;
	rte_pktmbuf_free(m);
}

/* ---- receiving: the appliance's own traffic ---------------------------------- */

/* Learn a neighbour's MAC when it is on one of the port's prefixes. */
static void
learn(struct dp_local *L, int family, const uint8_t *ip, uint16_t port, const uint8_t mac[6])
{
	const struct dp_route *rt = dp_rtable_lookup(&L->routes, family, ip);
	struct dp_neigh *nb;

	if (mac[0] & 1)
		return;                 /* never a multicast MAC */
	if (rt == NULL || !rt->connected || rt->port != port) {
		/* off our prefixes: only refresh a next hop we asked for */
		nb = dp_neigh_find(&L->neigh, family, ip);
		if (nb == NULL || nb->port != port)
			return;
	} else {
		nb = dp_neigh_get(&L->neigh, family, ip, port);
		if (nb == NULL)
			return;
	}
	dp_neigh_set(nb, mac);
}

static void
arp_in(struct dp_worker *w, struct dp_local *L, struct dp_pktctx *pc)
{
	struct dp_arp a;
	struct rte_mbuf *m;
	uint8_t *out;
	size_t room;

	if (dp_arp_parse(pc->data, pc->len, pc->p.l2_len, &a) != 0 || pc->p.n_vlans != 0)
		goto done;
	if (memcmp(a.spa, "\0\0\0\0", 4) != 0)
		learn(L, 4, a.spa, pc->pidx, a.sha);
	if (a.op == 1 && dp_addr_find(L->addrs, L->n_addrs, 4, a.tpa, pc->pidx) != NULL) {
		m = new_frame(w, &out, &room);
		if (m == NULL)
			goto done;
		w->c[DP_C_ARP_ND]++;
		send_built(w, pc->pidx, m, dp_build_arp(out, 2, a.sha, L->port_mac[pc->pidx],
							 a.tpa, a.sha, a.spa));
	}
done:
	consume(pc);
}

static void
nd_in(struct dp_worker *w, struct dp_local *L, struct dp_pktctx *pc)
{
	static const uint8_t unspec[16];
	static const uint8_t all_nodes[16] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	const struct dp_pkt *p = &pc->p;
	struct dp_nd nd;
	struct rte_mbuf *m;
	uint8_t *out, emac[6], flags;
	size_t room;
	int dad;

	if (dp_nd_parse(pc->data, p, &nd) != 0 || p->n_vlans != 0)
		goto done;
	dad = memcmp(p->src, unspec, 16) == 0;
	if (nd.type == 136) {
		if (nd.has_ll)
			learn(L, 6, nd.target, pc->pidx, nd.ll);
		goto done;
	}
	if (!dad && nd.has_ll)
		learn(L, 6, p->src, pc->pidx, nd.ll);
	if (dp_addr_find(L->addrs, L->n_addrs, 6, nd.target, pc->pidx) == NULL)
		goto done;
	m = new_frame(w, &out, &room);
	if (m == NULL)
		goto done;
	/* override; solicited unless answering DAD (then to all nodes); router when routing */
	flags = (uint8_t)(0x20 | (dad ? 0 : 0x40) | (L->mode == DP_MODE_ROUTED ? 0x80 : 0));
	if (dad)
		dp_ipv6_mcast_mac(all_nodes, emac);
	else
		memcpy(emac, pc->data + 6, 6);
	w->c[DP_C_ARP_ND]++;
	send_built(w, pc->pidx, m, dp_build_na(out, emac, L->port_mac[pc->pidx], nd.target,
					       dad ? all_nodes : p->src, nd.target, flags));
done:
	consume(pc);
}

static int
icmp_budget(struct dp_worker *w, struct dp_local *L)
{
	struct dp_local_w *lw = &L->w[w->id];

	if (w->now_ns - lw->icmp_window_ns >= 100 * DP_NS_PER_MS) {
		lw->icmp_window_ns = w->now_ns;
		lw->icmp_sent = 0;
	}
	return lw->icmp_sent++ < ICMP_ERR_PER_WINDOW;
}

static void
time_exceeded(struct dp_worker *w, struct dp_local *L, struct dp_pktctx *pc)
{
	const struct dp_pkt *p = &pc->p;
	const struct dp_addr *from = dp_addr_on_port(L->addrs, L->n_addrs, p->family, pc->pidx);
	struct rte_mbuf *m;
	uint8_t *out;
	size_t room;

	if (from == NULL || p->n_vlans != 0 || dp_icmp_is_error(p) || !icmp_budget(w, L))
		return;
	m = new_frame(w, &out, &room);
	if (m == NULL)
		return;
	w->c[DP_C_TTL_EXCEEDED]++;
	send_built(w, pc->pidx, m, dp_build_time_exceeded(out, room, pc->data, p, from->ip));
}

static void
echo_in(struct dp_worker *w, struct dp_pktctx *pc)
{
	struct rte_mbuf *m;
	uint8_t *out;
	size_t room;

	m = new_frame(w, &out, &room);
	if (m != NULL) {
		w->c[DP_C_LOCAL_ICMP]++;
		send_built(w, pc->pidx, m, dp_build_echo_reply(out, room, pc->data, &pc->p));
	}
	consume(pc);
}

static void
health_in(struct dp_worker *w, struct dp_local *L, struct dp_pktctx *pc)
{
	uint32_t word = __atomic_load_n(&L->health_word, __ATOMIC_ACQUIRE);
	struct rte_mbuf *m;
	uint8_t *out;
	size_t room;
	int n;

	if (pc->p.payload_off + pc->p.payload_len > pc->len)
		goto done;
	m = new_frame(w, &out, &room);
	if (m == NULL)
		goto done;
	n = dp_health_answer(pc->data, &pc->p, L->health_key, word,
			     (enum dp_health_proto)L->health_proto, out, room);
	if (n > 0)
		w->c[DP_C_HEALTH]++;
	send_built(w, pc->pidx, m, n > 0 ? (size_t)n : 0);
done:
	consume(pc);
}

/* GENEVE without the AWS TLVs: dropped, counted, one flow.decision per second. */
static void
tlv_missing(struct dp_worker *w, struct dp_pktctx *pc, const struct dp_geneve *g)
{
	const unsigned int an = DP_AN_GENEVE_TLV_MISSING;
	struct dp_flow_info tmpi;
	struct dp_flow_key key;
	struct dp_flow tmp;
	struct dp_event ev;
	struct dp_pkt ip;
	int a_is_src;

	w->c[DP_C_AN_FIRST + an]++;
	if (w->gen != NULL && (w->anomaly_audit_ns[an] == 0 ||
			       w->now_ns - w->anomaly_audit_ns[an] >= DP_NS_PER_S)) {
		/* name the inner flow when it decodes, else the outer packet */
		if (dp_geneve_decode_inner(pc->data, g, &ip) != DP_DEC_OK)
			ip = pc->p;
		ip.gwlb_ep = g->ep;
		ip.gwlb_att = g->att;
		memset(&tmp, 0, sizeof(tmp));
		memset(&tmpi, 0, sizeof(tmpi));
		dp_flow_key_make(&ip, &key, &a_is_src);
		tmp.client_is_a = (uint8_t)a_is_src;
		tmp.verdict = DP_VERDICT_DENY;
		tmpi.reason = DP_REASON_ANOMALY;
		tmpi.rule = -1;
		tmpi.anomalies = 1u << an;
		tmpi.policy_gen = w->gen->gen;
		tmp.flags = DP_FF_ENFORCED;     /* never returned, whatever the mode */
		tmpi.start_ms = dp_flow_ms(w->now_ns);
		dp_event_fill(&ev, DP_EV_DECISION, &tmp, &tmpi, &key, w->now_ns, NULL, 0, NULL, 0,
			      NULL, 0);
		dp_evq_push(&w->evq, &ev, w->c);
		w->anomaly_audit_ns[an] = w->now_ns;
	}
	dp_drop(w, pc);
}

/* A GENEVE frame to the appliance: 0 with pc->p the inner packet, or 1 (consumed). */
static int
geneve_in(struct dp_worker *w, struct dp_pktctx *pc, enum dp_decode_result *res)
{
	struct dp_geneve g;
	enum dp_geneve_result gr;
	enum dp_decode_result ir;

	gr = dp_geneve_parse(pc->data, &pc->p, &g);
	if (gr == DP_GNV_TLV_MISSING) {
		tlv_missing(w, pc, &g);
		return 1;
	}
	if (gr != DP_GNV_OK) {
		w->c[DP_C_GENEVE_BAD]++;
		dp_drop(w, pc);
		return 1;
	}
	w->c[DP_C_GENEVE_RX]++;
	ir = dp_geneve_decode_inner(pc->data, &g, &pc->p);
	switch (ir) {
	case DP_DEC_OK:
		*res = DP_DEC_OK;
		return 0;
	case DP_DEC_FRAGMENT:
		w->c[DP_C_IP_FRAGMENT]++;
		dp_stateless_anomaly(w, pc, DP_AN_IP_FRAGMENT);
		return 1;
	case DP_DEC_EXT_CHAIN:
		w->c[DP_C_BAD_PACKET]++;
		dp_stateless_anomaly(w, pc, DP_AN_IPV6_EXT_CHAIN);
		return 1;
	case DP_DEC_NON_IP:
		w->c[DP_C_NON_IP]++;
		dp_drop(w, pc);
		return 1;
	default:
		w->c[DP_C_BAD_PACKET]++;
		dp_drop(w, pc);
		return 1;
	}
}

/* Everything else addressed to the appliance: the kernel's (consumes pc). */
static void
to_kernel(struct dp_worker *w, struct dp_local *L, struct dp_pktctx *pc)
{
	if (pc->m != NULL)
		dp_exception_to_kernel(w, L, pc->m);
	pc->m = NULL;
}

static int
is_echo_request(const struct dp_pkt *p)
{
	return (p->l4proto == IPPROTO_ICMP && p->icmp_type == 8) ||
	       (p->l4proto == IPPROTO_ICMPV6 && p->icmp_type == 128);
}

static int
is_nd(const struct dp_pkt *p)
{
	return p->l4proto == IPPROTO_ICMPV6 && (p->icmp_type == 135 || p->icmp_type == 136);
}

int
dp_local_rx(struct dp_worker *w, struct dp_pktctx *pc, enum dp_decode_result *res)
{
	struct dp_local *L = w->app->local;
	const struct dp_pkt *p = &pc->p;
	const uint8_t *d = pc->data;

	if (pc->len < 14 || p->link != DP_LINK_ETHERNET)
		goto drop;
	/* a host on the network: unicast frames for another MAC are not ours */
	if (!(d[0] & 1) && memcmp(d, L->port_mac[pc->pidx], 6) != 0)
		goto drop;
	if (*res == DP_DEC_NON_IP) {
		if (p->ethertype == 0x0806) {
			arp_in(w, L, pc);
			return 1;
		}
		w->c[DP_C_NON_IP]++;
		consume(pc);
		return 1;
	}
	if (*res != DP_DEC_OK) {
		/* routed: fragments and bad packets take the usual path; geneve: not ours */
		if (L->mode == DP_MODE_ROUTED)
			return 0;
		w->c[DP_C_BAD_PACKET]++;
		goto drop;
	}
	if (dp_addr_find(L->addrs, L->n_addrs, p->family, p->dst, -1) != NULL) {
		if (L->mode == DP_MODE_GENEVE && p->l4proto == IPPROTO_UDP &&
		    p->dport == L->geneve_port)
			return geneve_in(w, pc, res);
		if (is_echo_request(p)) {
			echo_in(w, pc);
		} else if (is_nd(p)) {
			nd_in(w, L, pc);
		} else if (L->health_port && p->l4proto == IPPROTO_TCP &&
			   p->dport == L->health_port) {
			health_in(w, L, pc);
		} else {
			to_kernel(w, L, pc);
		}
		return 1;
	}
	if (p->family == 6 && p->dst[0] == 0xff) {
		/* link-scope multicast: neighbour discovery for us, DHCPv6 to the kernel */
		if (is_nd(p))
			nd_in(w, L, pc);
		else if (p->l4proto == IPPROTO_UDP && p->dport == 546 && L->exc_port >= 0)
			to_kernel(w, L, pc);
		else
			consume(pc);
		return 1;
	}
	if (p->family == 4 && (p->dst[0] >= 224 || (d[0] & 1))) {
		/* broadcast / multicast: DHCP answers to the kernel, nothing else */
		if (p->l4proto == IPPROTO_UDP && p->dport == 68 && L->exc_port >= 0)
			to_kernel(w, L, pc);
		else
			consume(pc);
		return 1;
	}
	if (L->mode == DP_MODE_GENEVE) {
		w->c[DP_C_LOCAL_DROPPED]++;
		consume(pc);
		return 1;
	}
	/* routed transit: the hop limit is checked here, decremented when sent */
	if (p->ttl <= 1) {
		time_exceeded(w, L, pc);
		dp_drop(w, pc);
		return 1;
	}
	return 0;
drop:
	dp_drop(w, pc);
	return 1;
}

/* ---- sending: every frame the state machine forwards ---------------------------- */

int
dp_local_tx(struct dp_worker *w, uint16_t *pidx, struct rte_mbuf *m)
{
	struct dp_local *L = w->app->local;

	if (L->mode == DP_MODE_GENEVE) {
		if (dp_geneve_return(rte_pktmbuf_mtod(m, uint8_t *), rte_pktmbuf_data_len(m),
				     rte_pktmbuf_pkt_len(m)) != 0) {
			w->c[DP_C_DROPPED]++;
			rte_pktmbuf_free(m);
			return 1;
		}
		*pidx = 0;
		return 0;
	}
	dp_local_route_out(w, L, m, 1);
	return 1;
}

unsigned int
dp_local_poll(struct dp_worker *w)
{
	struct dp_local *L = w->app->local;
	struct dp_local_w *lw = &L->w[w->id];
	unsigned int i, k = 0, n = 0;
	uint8_t mac[6];

	for (i = 0; i < lw->n_pend; i++) {
		struct dp_local_pend *pe = &lw->pend[i];

		if (dp_neigh_mac(pe->nb, mac)) {
			rewrite_send(w, L, pe->m, pe->port, mac, pe->dec);
			n++;
		} else if (w->now_ns >= pe->deadline_ns) {
			w->c[DP_C_NEIGH_MISS]++;
			rte_pktmbuf_free(pe->m);
		} else {
			lw->pend[k++] = *pe;
			if (w->now_ns - __atomic_load_n(&pe->nb->req_ns, __ATOMIC_RELAXED) >=
			    DP_NEIGH_RETRY_NS)
				solicit(w, L, pe->nb, pe->port);
		}
	}
	lw->n_pend = k;
	/* worker 0 keeps the next hops of the routes resolved (and learns them at start) */
	if (w->id == 0 && (lw->refresh_ns == 0 || w->now_ns - lw->refresh_ns >= DP_NEIGH_REFRESH_NS)) {
		lw->refresh_ns = w->now_ns;
		for (i = 0; i < L->routes.n; i++) {
			const struct dp_route *r = &L->routes.r[i];
			struct dp_neigh *nb;

			if (!r->has_gw)
				continue;
			nb = dp_neigh_get(&L->neigh, r->family, r->gw, r->port);
			if (nb != NULL)
				solicit(w, L, nb, r->port);
		}
	}
	if (L->exc_port >= 0)
		n += dp_exception_poll(w, L);
	return n;
}

/* ---- the RST builder of dp_verdict.c -------------------------------------------- */

enum dp_decode_result
dp_local_decode(struct dp_worker *w, const uint8_t *frame, uint32_t len, uint16_t pidx,
		struct dp_pkt *p)
{
	struct dp_local *L = w->app->local;
	enum dp_decode_result res;
	struct dp_geneve g;

	res = dp_decode(frame, len, (enum dp_link)w->app->cfg.linktype[pidx], p);
	if (L == NULL || L->mode != DP_MODE_GENEVE || res != DP_DEC_OK)
		return res;
	if (p->l4proto != IPPROTO_UDP || p->dport != L->geneve_port ||
	    dp_geneve_parse(frame, p, &g) != DP_GNV_OK)
		return DP_DEC_BAD_L4;
	return dp_geneve_decode_inner(frame, &g, p);
}

int
dp_local_build_rst(struct dp_worker *w, const uint8_t *frame, const struct dp_pkt *p,
		   int to_client, uint32_t seq, uint32_t ack, uint8_t *out, size_t outlen)
{
	struct dp_local *L = w->app->local;
	struct dp_pkt outer;
	struct dp_geneve g;

	if (L == NULL || L->mode != DP_MODE_GENEVE)
		return dp_build_rst(frame, p, to_client, seq, ack, out, outlen);
	/* GWLB: the guaranteed deny is "not returned"; the RST is best effort */
	if (!to_client || !L->geneve_rst || p->l3_off < 14)
		return -1;
	if (dp_decode(frame, p->l3_off + p->ip_len, DP_LINK_ETHERNET, &outer) != DP_DEC_OK ||
	    dp_geneve_parse(frame, &outer, &g) != DP_GNV_OK)
		return -1;
	return dp_geneve_build_rst(frame, &g, p, seq, ack, out, outlen);
}
