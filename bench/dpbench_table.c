/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpbench_table.c: the flow table at scale (dp_flow.c alone). N flows are
 * inserted (IPv4 TCP tuples, canonical keys as the worker makes them), looked
 * up at random in bursts of 32 (dp_flow_lookup_bulk, as the worker does) and
 * aged out by the bounded sweep the worker runs every loop. Bytes per flow
 * are what the table took from the DPDK heap, divided by N.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "dp_flow.h"
#include "dp_pkt.h"
#include "dp_time.h"
#include "dpbench.h"

#define LOOKUP_KEYS (1u << 20)

static void
key_of(uint32_t i, struct dp_flow_key *k)
{
	struct dpb_flow f;
	struct dp_pkt p;
	int a_is_src;

	dpb_flow_of(i, 443, &f);
	memset(&p, 0, sizeof(p));
	p.family = 4;
	p.l4proto = 6;
	p.src[0] = (uint8_t)(f.cip >> 24);
	p.src[1] = (uint8_t)(f.cip >> 16);
	p.src[2] = (uint8_t)(f.cip >> 8);
	p.src[3] = (uint8_t)f.cip;
	p.dst[0] = (uint8_t)(f.sip >> 24);
	p.dst[1] = (uint8_t)(f.sip >> 16);
	p.dst[2] = (uint8_t)(f.sip >> 8);
	p.dst[3] = (uint8_t)f.sip;
	p.sport = f.cport;
	p.dport = f.sport;
	dp_flow_key_make(&p, k, &a_is_src);
}

static size_t
heap_used(void)
{
	struct rte_malloc_socket_stats st;

	if (rte_malloc_get_socket_stats((int)rte_socket_id(), &st) != 0)
		return 0;
	return st.heap_allocsz_bytes;
}

/* The record's key is the IPv4 key k (addresses, ports, protocol, no GENEVE pair). */
static inline bool
same_v4(const struct dp_flow_ckey *c, const struct dp_flow_key *k)
{
	return memcmp(&c->a, k->a, 4) == 0 && memcmp(&c->b, k->b, 4) == 0 && c->pa == k->pa &&
	       c->pb == k->pb && c->family == 4 && c->l4proto == k->l4proto && c->zone == 0;
}

int
dpb_flowtable(const struct dpb_opts *o)
{
	static const struct dp_flow_key *kp[32];
	struct dp_flow *out[32];
	struct dp_flow_table t;
	struct dp_flow_key *keys;
	struct dp_timeouts to = {
		.tcp_established = 350 * DP_NS_PER_S, .tcp_halfopen = 20 * DP_NS_PER_S,
		.tcp_closed = 10 * DP_NS_PER_S, .udp = 60 * DP_NS_PER_S, .other = 30 * DP_NS_PER_S,
	};
	uint32_t n = o->flows, cap = o->table ? o->table : o->flows, i, nk;
	uint64_t t0, misses = 0, done, sweeps = 0, aged = 0;
	uint64_t now0 = 1000 * DP_NS_PER_S;
	size_t before, after, huge;
	double bpf, ins_s, lk_s, age_s;
	int ret;
	bool ok = true;

	if (cap < n) {
		fprintf(stderr, "dpbench: flowtable: --table %u < --flows %u\n", cap, n);
		return -EINVAL;
	}
	before = heap_used();
	ret = dp_flow_table_init(&t, "dpb_flows", cap, (int)rte_socket_id());
	if (ret != 0) {
		fprintf(stderr, "dpbench: flowtable: %u entries: %s (raise -m)\n", cap,
			strerror(-ret));
		return ret;
	}
	after = heap_used() + t.map_len;      /* --no-huge: its own mapping (dp_flow.c) */
	huge = dp_flow_table_huge_bytes(&t);
	bpf = (double)(after - before) / cap;
	fprintf(stderr, "dpbench: flowtable: %u entries take %.1f MB (%.1f B/flow, struct "
		"dp_flow %zu B), %.1f MB in huge pages\n", cap, (double)(after - before) / 1e6, bpf,
		sizeof(struct dp_flow), (double)huge / 1e6);

	/* insert (rates per CPU-second of this thread: see dpb_thread_cpu_ns) */
	t0 = dpb_thread_cpu_ns();
	for (i = 0; i < n; i++) {
		struct dp_flow_key k;
		struct dp_flow *f;

		key_of(i, &k);
		if (dp_flow_insert(&t, &k, &f) != 0) {
			fprintf(stderr, "dpbench: flowtable: insert %u of %u failed\n", i, n);
			ret = -ENOSPC;
			goto out;
		}
		f->state = DP_FS_ALLOWED;
		f->last_ms = dp_flow_ms(now0);
	}
	ins_s = (double)n * 1e9 / (double)(dpb_thread_cpu_ns() - t0);

	/* random lookups of present keys, bursts of 32 */
	nk = n < LOOKUP_KEYS ? n : LOOKUP_KEYS;
	keys = malloc((size_t)nk * sizeof(*keys));
	if (keys == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nk; i++)
		key_of((uint32_t)(dpb_mix64(i ^ 0xabcdef) % n), &keys[i]);
	t0 = dpb_thread_cpu_ns();
	for (done = 0; done < o->lookups; done += 32) {
		uint32_t base = (uint32_t)(done % nk);

		for (i = 0; i < 32; i++)
			kp[i] = &keys[(base + i) % nk];
		dp_flow_lookup_bulk(&t, kp, 32, out);
		for (i = 0; i < 32; i++)
			misses += out[i] == NULL || !same_v4(&out[i]->key, kp[i]);
	}
	lk_s = (double)done * 1e9 / (double)(dpb_thread_cpu_ns() - t0);
	free(keys);

	/* age everything: the worker's bounded sweep (128 entries per call) */
	t0 = dpb_thread_cpu_ns();
	while (t.active > 0 && sweeps < 100ull * cap) {
		struct dp_flow *exp[32];
		unsigned int m = dp_flow_sweep(&t, now0 + 400 * DP_NS_PER_S, &to, 128, exp, 32);

		for (unsigned int k = 0; k < m; k++)
			dp_flow_remove(&t, exp[k]);
		aged += m;
		sweeps++;
	}
	age_s = (double)aged * 1e9 / (double)(dpb_thread_cpu_ns() - t0);

	printf("{\"bench\":\"flowtable\",\"flows\":%u,\"capacity\":%u,\"bytes_per_flow\":%.1f,"
	       "\"table_bytes\":%zu,\"sizeof_flow\":%zu,\"inserts_per_s\":%.0f,"
	       "\"lookups_per_s\":%.0f,\"lookups\":%" PRIu64 ",\"misses\":%" PRIu64
	       ",\"aged\":%" PRIu64 ",\"aged_per_s\":%.0f,\"sweeps\":%" PRIu64 ",\"left\":%u,"
	       "\"huge_bytes\":%zu}\n",
	       n, cap, bpf, after - before, sizeof(struct dp_flow), ins_s, lk_s, done, misses, aged,
	       age_s, sweeps, t.active, huge);
	fprintf(stderr, "dpbench: flowtable %u: %.1f B/flow, %.2f M inserts/s, %.2f M lookups/s, "
		"%.2f M aged/s\n", n, bpf, ins_s / 1e6, lk_s / 1e6, age_s / 1e6);
	if (misses != 0 || aged != n || t.active != 0) {
		fprintf(stderr, "dpbench: flowtable: %" PRIu64 " lookups missed, %" PRIu64
			" of %u aged, %u left\n", misses, aged, n, t.active);
		ok = false;
	}
	if (o->smoke) {
		ok &= dpb_sane("flowtable bytes_per_flow", bpf, 16, 4096);
		ok &= dpb_sane("flowtable inserts_per_s", ins_s, 1000, 1e10);
		ok &= dpb_sane("flowtable lookups_per_s", lk_s, 1000, 1e10);
		ok &= dpb_sane("flowtable aged_per_s", age_s, 1000, 1e10);
	}
	ret = ok ? 0 : -EINVAL;
out:
	dp_flow_table_free(&t);
	return ret;
}
