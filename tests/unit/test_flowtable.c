/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_flowtable.c: the flow table (dataplane/dp_flow.c), a bucketized cuckoo
 * hash over the record array. Runs under EAL (--no-huge: the table is
 * rte_malloc'ed).
 *   - insert / lookup / remove, -EEXIST for a present key, -ENOSPC exactly
 *     when every record is taken, index reuse after a removal;
 *   - a small table filled to capacity (buckets 75 % full, so residents are
 *     displaced and entries may reach the stash): every key still found;
 *   - 200,000 random operations against a naive reference (an array of the
 *     present keys): lookup and bulk lookup agree with it after every step;
 *   - the same with IPv6 and GENEVE keys and small address / pair pools:
 *     -ENOSPC exactly when the reference says a pool is full, every full
 *     key read back from its record (dp_flow_key_get);
 *   - both directions of a flow give one key, so one record (IPv4, IPv6);
 *   - IPv6 flows told apart by their addresses, GENEVE pairs interned,
 *     bounded and reused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_lcore.h>

#include "dp_flow.h"
#include "dp_pkt.h"

static uint64_t rng = 88172645463325252ull;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Key number i: distinct for distinct i (v4 TCP, ports and addresses from i). */
static void
key_of(uint32_t i, struct dp_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = 4;
	k->l4proto = 6;
	k->a[0] = 10;
	k->a[1] = (uint8_t)(i >> 24);
	k->a[2] = (uint8_t)(i >> 16);
	k->a[3] = (uint8_t)(i >> 8);
	k->pa = (uint16_t)(1024 + (i & 0xff));
	k->b[0] = 198;
	k->b[1] = 18;
	k->pb = 443;
}

/*
 * Key number i of a mixed universe: IPv4 (i % 3 == 0), IPv6 (1; addresses
 * that differ only past the first 8 bytes for neighbours, so the digest and
 * the full compare both matter), IPv4 in GENEVE (2; one of 5 endpoint /
 * attachment pairs, the same addresses as key i - 2: only the pair tells
 * the two flows apart).
 */
static void
key_mixed(uint32_t i, struct dp_flow_key *k)
{
	switch (i % 3) {
	case 0:
		key_of(i, k);
		break;
	case 1:
		memset(k, 0, sizeof(k[0]));
		k->family = 6;
		k->l4proto = (i & 8) ? 17 : 6;
		k->a[0] = 0x20;
		k->a[1] = 0x01;
		k->a[12] = (uint8_t)(i >> 24);
		k->a[13] = (uint8_t)(i >> 16);
		k->a[14] = (uint8_t)(i >> 8);
		k->a[15] = (uint8_t)i;
		k->b[0] = 0x26;
		k->b[1] = 0x06;
		k->b[15] = 1;
		k->pa = 40000;
		k->pb = 443;
		break;
	default:
		key_of(i - 2, k);
		k->gwlb_ep = 0x1000 + (i / 3) % 5;
		k->gwlb_att = 0x2000 + (i / 3) % 5;
		break;
	}
}

static void
test_basic(void **state)
{
	struct dp_flow_table t;
	struct dp_flow_key k, got;
	struct dp_flow *f, *g;
	uint32_t i, cap = 100;

	(void)state;
	assert_int_equal(dp_flow_table_init(&t, "t_basic", cap, (int)rte_socket_id()), 0);
	for (i = 0; i < cap; i++) {
		key_of(i, &k);
		assert_int_equal(dp_flow_insert(&t, &k, &f), 0);
		f->state = DP_FS_ALLOWED;
		assert_int_equal(dp_flow_info(&t, f)->slot, DP_NO_SLOT);
		assert_int_equal(dp_flow_info(&t, f)->name_id, DP_NO_NAME);
		assert_int_equal(dp_flow_info(&t, f)->rule, -1);
		dp_flow_key_get(&t, f, &got);
		assert_memory_equal(&got, &k, sizeof(k));
	}
	assert_int_equal(t.active, cap);
	/* present: -EEXIST and the same record */
	key_of(7, &k);
	assert_int_equal(dp_flow_insert(&t, &k, &g), -EEXIST);
	assert_ptr_equal(g, dp_flow_lookup(&t, &k));
	/* full: -ENOSPC, nothing changed */
	key_of(cap, &k);
	assert_int_equal(dp_flow_insert(&t, &k, &f), -ENOSPC);
	assert_null(f);
	assert_null(dp_flow_lookup(&t, &k));
	assert_int_equal(t.active, cap);
	/* remove one: its key is gone, its index is reused by the next insert */
	key_of(42, &k);
	g = dp_flow_lookup(&t, &k);
	assert_non_null(g);
	dp_flow_remove(&t, g);
	assert_int_equal(g->state, DP_FS_FREE);
	assert_null(dp_flow_lookup(&t, &k));
	assert_int_equal(t.active, cap - 1);
	key_of(cap, &k);
	assert_int_equal(dp_flow_insert(&t, &k, &f), 0);
	assert_ptr_equal(f, g);
	f->state = DP_FS_ALLOWED;
	/* every other key is still there */
	for (i = 0; i < cap; i++) {
		key_of(i, &k);
		if (i == 42)
			assert_null(dp_flow_lookup(&t, &k));
		else
			assert_non_null(dp_flow_lookup(&t, &k));
	}
	dp_flow_table_free(&t);
}

static void
test_full_small(void **state)
{
	struct dp_flow_table t;
	struct dp_flow_key k;
	struct dp_flow *f;
	uint32_t i, n, round, cap = 48;     /* 8 buckets of 8: 75 % full */
	uint64_t kicks = 0;

	(void)state;
	for (round = 0; round < 50; round++) {
		uint32_t base = (uint32_t)rnd();

		assert_int_equal(dp_flow_table_init(&t, "t_small", cap, (int)rte_socket_id()), 0);
		assert_int_equal(t.bkt_mask + 1, 8);
		for (i = 0; i < cap; i++) {
			key_of(base + i * 977, &k);
			assert_int_equal(dp_flow_insert(&t, &k, &f), 0);
			f->state = DP_FS_ALLOWED;
		}
		for (i = 0; i < cap; i++) {
			struct dp_flow_key back;
			struct dp_flow *got;

			key_of(base + i * 977, &k);
			got = dp_flow_lookup(&t, &k);
			assert_non_null(got);
			dp_flow_key_get(&t, got, &back);
			assert_memory_equal(&back, &k, sizeof(k));
		}
		/* empty it again: every removal finds its entry */
		for (i = 0; i < cap; i++) {
			key_of(base + i * 977, &k);
			dp_flow_remove(&t, dp_flow_lookup(&t, &k));
		}
		assert_int_equal(t.active, 0);
		assert_int_equal(t.n_stash, 0);
		/* every record is on the free list again */
		assert_int_equal(t.fresh, cap);
		for (n = 0, i = t.free_head; i != 0 && n <= cap; i = t.flows[i - 1].next_free)
			n++;
		assert_int_equal(n, cap);
		kicks += t.kicks;
		dp_flow_table_free(&t);
	}
	/* the rounds did make the table displace residents */
	assert_true(kicks > 0);
}

static void
test_random_ops(void **state)
{
	enum { CAP = 3000, UNIVERSE = 6000, OPS = 200000, V6 = 700, ZONES = 3 };
	static struct dp_flow *ref[UNIVERSE];    /* the reference: key i -> record */
	const struct dp_flow_sizes sz = { .v6 = V6, .zones = ZONES };
	uint32_t pair_refs[5] = { 0 }, pairs = 0, v6 = 0;
	const struct dp_flow_key *kp[32];
	struct dp_flow_key keys[32];
	struct dp_flow *out[32];
	struct dp_flow_table t;
	struct dp_flow_key k, back;
	struct dp_flow *f;
	uint32_t present = 0, op, refused = 0;

	(void)state;
	memset(ref, 0, sizeof(ref));
	assert_int_equal(dp_flow_table_init_sized(&t, "t_random", CAP, &sz, (int)rte_socket_id()),
			 0);
	for (op = 0; op < OPS; op++) {
		uint32_t i = (uint32_t)(rnd() % UNIVERSE), j, pr = (i / 3) % 5;
		int ret;

		key_mixed(i, &k);
		switch (rnd() % 3) {
		case 0:
			ret = dp_flow_insert(&t, &k, &f);
			if (ref[i] != NULL) {
				assert_int_equal(ret, -EEXIST);
				assert_ptr_equal(f, ref[i]);
			} else if (present == CAP || (i % 3 == 1 && v6 == V6) ||
				   (i % 3 == 2 && pair_refs[pr] == 0 && pairs == ZONES)) {
				assert_int_equal(ret, -ENOSPC);
				assert_null(f);
				refused++;
			} else {
				assert_int_equal(ret, 0);
				f->state = DP_FS_ALLOWED;
				dp_flow_key_get(&t, f, &back);
				assert_memory_equal(&back, &k, sizeof(k));
				ref[i] = f;
				present++;
				v6 += i % 3 == 1;
				if (i % 3 == 2 && pair_refs[pr]++ == 0)
					pairs++;
			}
			break;
		case 1:
			if (ref[i] != NULL) {
				dp_flow_remove(&t, ref[i]);
				ref[i] = NULL;
				present--;
				v6 -= i % 3 == 1;
				if (i % 3 == 2 && --pair_refs[pr] == 0)
					pairs--;
			}
			break;
		default:
			/* 32 keys at once, present or not, against the reference */
			for (j = 0; j < 32; j++) {
				key_mixed((i + j * 131) % UNIVERSE, &keys[j]);
				kp[j] = &keys[j];
			}
			dp_flow_lookup_bulk(&t, kp, 32, out);
			for (j = 0; j < 32; j++)
				assert_ptr_equal(out[j], ref[(i + j * 131) % UNIVERSE]);
			break;
		}
		assert_ptr_equal(dp_flow_lookup(&t, &k), ref[i]);
		assert_int_equal(t.active, present);
		assert_int_equal(t.v6_used, v6);
		assert_int_equal(t.zone_used, pairs);
	}
	for (op = 0; op < UNIVERSE; op++) {
		key_mixed(op, &k);
		assert_ptr_equal(dp_flow_lookup(&t, &k), ref[op]);
		if (ref[op] != NULL) {
			dp_flow_key_get(&t, ref[op], &back);
			assert_memory_equal(&back, &k, sizeof(k));
		}
	}
	/* the pools did fill: the refusals above were exercised */
	assert_true(refused > 0);
	assert_true(t.v6_full > 0);
	assert_true(t.zone_full > 0);
	dp_flow_table_free(&t);
}

/*
 * Bulk lookups in a table with enough flows that the lookup prefetches the
 * IPv6 address records (dp_flow.c, V6_PREFETCH_MIN): every answer, for
 * IPv4, IPv6 and GENEVE keys present and absent, is the single lookup's
 * and the inserted record, also after a share of the flows is removed.
 */
static void
test_bulk_many(void **state)
{
	enum { CAP = 100000, IN = 90000, UNIVERSE = 120000 };
	static struct dp_flow *ref[UNIVERSE];
	const struct dp_flow_key *kp[32];
	struct dp_flow_key keys[32];
	struct dp_flow *out[32];
	struct dp_flow_table t;
	struct dp_flow_key k;
	uint32_t i, j, base, found;

	(void)state;
	memset(ref, 0, sizeof(ref));
	assert_int_equal(dp_flow_table_init(&t, "t_bulk", CAP, (int)rte_socket_id()), 0);
	for (i = 0; i < IN; i++) {
		key_mixed(i, &k);
		assert_int_equal(dp_flow_insert(&t, &k, &ref[i]), 0);
		ref[i]->state = DP_FS_ALLOWED;
	}
	assert_true(t.active >= 65536);
	assert_true(t.v6_used >= IN / 3);
	for (int round = 0; round < 2; round++) {
		found = 0;
		for (base = 0; base < UNIVERSE; base += 32) {
			for (j = 0; j < 32; j++) {
				key_mixed((base + j * 3779) % UNIVERSE, &keys[j]);
				kp[j] = &keys[j];
			}
			dp_flow_lookup_bulk(&t, kp, 32, out);
			for (j = 0; j < 32; j++) {
				assert_ptr_equal(out[j], ref[(base + j * 3779) % UNIVERSE]);
				assert_ptr_equal(out[j], dp_flow_lookup(&t, &keys[j]));
				found += out[j] != NULL;
			}
		}
		assert_true(found > 0);
		/* then without every seventh flow: the removed ones are not found */
		for (i = 0; round == 0 && i < IN; i += 7) {
			dp_flow_remove(&t, ref[i]);
			ref[i] = NULL;
		}
	}
	assert_true(t.active >= 65536);
	dp_flow_table_free(&t);
}

/*
 * The keys of a TCP flow client:40000 -> server:443 as its client's packet
 * (k1) and its server's reply (k2) make them; they name the endpoints in
 * opposite roles. *p is left holding the reply.
 */
static void
keys_both_ways(struct dp_pkt *p, uint8_t family, const char *client, const char *server,
	       struct dp_flow_key *k1, struct dp_flow_key *k2)
{
	size_t alen = family == 6 ? 16 : 4;
	int a1, a2;

	memset(p, 0, sizeof(*p));
	p->family = family;
	p->l4proto = 6;
	memcpy(p->src, client, alen);
	memcpy(p->dst, server, alen);
	p->sport = 40000;
	p->dport = 443;
	dp_flow_key_make(p, k1, &a1);
	memcpy(p->src, server, alen);
	memcpy(p->dst, client, alen);
	p->sport = 443;
	p->dport = 40000;
	dp_flow_key_make(p, k2, &a2);
	assert_int_not_equal(a1, a2);
}

static void
test_both_directions(void **state)
{
	struct dp_flow_table t;
	struct dp_flow_key k1, k2;
	struct dp_pkt p;
	struct dp_flow *f;

	(void)state;
	keys_both_ways(&p, 4, "\x0a\x00\x00\x05", "\xc6\x12\x00\x07", &k1, &k2);
	assert_int_equal(dp_flow_table_init(&t, "t_dir", 64, (int)rte_socket_id()), 0);
	assert_int_equal(dp_flow_insert(&t, &k1, &f), 0);
	f->state = DP_FS_SYN_SEEN;
	assert_ptr_equal(dp_flow_lookup(&t, &k2), f);
	dp_flow_table_free(&t);
}

/*
 * IPv6 and GENEVE: both directions of an IPv6 flow give one record whose
 * full key comes back from its address record; IPv6 flows one address
 * bit apart are two flows; the address pool and the pair ids are bounded (-ENOSPC,
 * counted) and given back by dp_flow_remove; two VPCs reusing one tuple
 * are two flows.
 */
static void
test_v6_geneve(void **state)
{
	const struct dp_flow_sizes sz = { .v6 = 2, .zones = 2 };
	struct dp_flow_key k1, k2, k3, back;
	struct dp_flow *f, *g, *h;
	struct dp_flow_table t;
	struct dp_pkt p;

	(void)state;
	assert_int_equal(dp_flow_table_init_sized(&t, "t_v6", 64, &sz, (int)rte_socket_id()), 0);
	assert_int_equal(t.v6_cap, 2);
	keys_both_ways(&p, 6, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x05",
		       "\x26\x06\x47\x00\0\0\0\0\0\0\0\0\0\0\0\x07", &k1, &k2);
	assert_int_equal(dp_flow_insert(&t, &k1, &f), 0);
	f->state = DP_FS_SYN_SEEN;
	assert_ptr_equal(dp_flow_lookup(&t, &k2), f);
	dp_flow_key_get(&t, f, &back);
	assert_memory_equal(&back, &k1, sizeof(back));
	assert_int_equal(t.v6_used, 1);
	/* one address bit apart: not the flow, and its insert is a new flow */
	k3 = k1;
	k3.b[15] ^= 0x40;
	assert_null(dp_flow_lookup(&t, &k3));
	assert_int_equal(dp_flow_insert(&t, &k3, &g), 0);
	g->state = DP_FS_SYN_SEEN;
	dp_flow_remove(&t, g);
	assert_int_equal(dp_flow_insert(&t, &k3, &g), 0);
	g->state = DP_FS_SYN_SEEN;
	{
		/* a third IPv6 flow: the pool of 2 is empty */
		struct dp_flow_key k4 = k1;

		k4.pb = 8443;
		assert_int_equal(t.v6_used, 2);
		assert_int_equal(dp_flow_insert(&t, &k4, &h), -ENOSPC);
		assert_null(h);
		assert_int_equal(t.v6_full, 1);
		assert_int_equal(t.active, 2);
	}
	assert_ptr_equal(dp_flow_lookup(&t, &k1), f);
	assert_ptr_equal(dp_flow_lookup(&t, &k3), g);
	dp_flow_remove(&t, g);
	assert_int_equal(t.v6_used, 1);
	dp_flow_remove(&t, f);
	assert_int_equal(t.v6_used, 0);
	assert_null(dp_flow_lookup(&t, &k1));

	/* GENEVE: one tuple in two VPCs is two flows; pair ids are bounded and reused */
	key_of(1, &k1);
	k1.gwlb_ep = 0xaaaa;
	k1.gwlb_att = 0x1;
	k2 = k1;
	k2.gwlb_att = 0x2;
	k3 = k1;
	k3.gwlb_ep = 0xbbbb;
	assert_null(dp_flow_lookup(&t, &k1));
	assert_int_equal(dp_flow_insert(&t, &k1, &f), 0);
	f->state = DP_FS_ALLOWED;
	assert_int_equal(dp_flow_insert(&t, &k2, &g), 0);
	g->state = DP_FS_ALLOWED;
	assert_ptr_not_equal(f, g);
	assert_int_not_equal(f->key.zone, g->key.zone);
	assert_int_equal(t.zone_used, 2);
	assert_ptr_equal(dp_flow_lookup(&t, &k1), f);
	assert_ptr_equal(dp_flow_lookup(&t, &k2), g);
	dp_flow_key_get(&t, g, &back);
	assert_memory_equal(&back, &k2, sizeof(back));
	/* a second flow of a known pair shares its id */
	key_of(2, &back);
	back.gwlb_ep = k1.gwlb_ep;
	back.gwlb_att = k1.gwlb_att;
	assert_int_equal(dp_flow_insert(&t, &back, &h), 0);
	h->state = DP_FS_ALLOWED;
	assert_int_equal(h->key.zone, f->key.zone);
	/* a third pair: no id left */
	assert_null(dp_flow_lookup(&t, &k3));
	assert_int_equal(dp_flow_insert(&t, &k3, &h), -ENOSPC);
	assert_int_equal(t.zone_full, 1);
	/* the pair of g is given back with g: k3 gets its id */
	dp_flow_remove(&t, g);
	assert_int_equal(t.zone_used, 1);
	assert_null(dp_flow_lookup(&t, &k2));
	assert_int_equal(dp_flow_insert(&t, &k3, &h), 0);
	h->state = DP_FS_ALLOWED;
	assert_ptr_equal(dp_flow_lookup(&t, &k3), h);
	assert_ptr_equal(dp_flow_lookup(&t, &k1), f);
	dp_flow_table_free(&t);
}

/*
 * The side pool (struct dp_flow_cold): bounded, zeroed records, -ENOSPC when
 * empty, given back by dp_flow_cold_put and by dp_flow_remove, never taken
 * for a UDP flow (whose union member is the QUIC record).
 */
static void
test_cold(void **state)
{
	struct dp_flow_table t;
	struct dp_flow_key k;
	struct dp_flow *f, *g, *u;
	struct dp_flow_cold *c;
	uint32_t i, cap = 70000, n_cold;

	(void)state;
	assert_int_equal(sizeof(struct dp_flow), 64);
	assert_int_equal(sizeof(struct dp_flow_info), 32);
	assert_int_equal(dp_flow_cold_cap(100), 100);
	assert_int_equal(dp_flow_cold_cap(cap), 65536);
	assert_int_equal(dp_flow_cold_cap(10000000), 2500000);
	assert_int_equal(dp_flow_v6_cap(100), 100);
	assert_int_equal(dp_flow_v6_cap(10000000), 625000);
	assert_int_equal(dp_flow_table_init(&t, "t_cold", cap, (int)rte_socket_id()), 0);
	n_cold = t.cold_cap;
	assert_int_equal(n_cold, 65536);
	for (i = 0; i < n_cold; i++) {
		key_of(i, &k);
		assert_int_equal(dp_flow_insert(&t, &k, &f), 0);
		f->state = DP_FS_SYN_SEEN;
		assert_null(dp_flow_cold(&t, f));
		assert_int_equal(dp_flow_cold_take(&t, f), 0);
		c = dp_flow_cold(&t, f);
		assert_non_null(c);
		assert_int_equal(c->ws.mode, DP_W_NONE);
		assert_int_equal(c->last_rst_ns, 0);
		c->isn = i;
		c->last_rst_ns = 1;
		/* a second take keeps the record */
		assert_int_equal(dp_flow_cold_take(&t, f), 0);
		assert_ptr_equal(dp_flow_cold(&t, f), c);
	}
	assert_int_equal(t.cold_used, n_cold);
	/* the pool is empty: the next TCP flow gets none */
	key_of(n_cold, &k);
	assert_int_equal(dp_flow_insert(&t, &k, &g), 0);
	g->state = DP_FS_SYN_SEEN;
	assert_int_equal(dp_flow_cold_take(&t, g), -ENOSPC);
	assert_null(dp_flow_cold(&t, g));
	/* no holder has closed: no victim, within the budget or around the pool */
	assert_null(dp_flow_cold_victim(&t, 64));
	assert_null(dp_flow_cold_victim(&t, n_cold + 10));
	/* one holder resets, one is denied: found, each in turn, from the cursor */
	key_of(40000, &k);
	f = dp_flow_lookup(&t, &k);
	f->flags |= DP_FF_RST;
	key_of(40001, &k);
	u = dp_flow_lookup(&t, &k);
	u->state = DP_FS_DENIED;
	assert_ptr_equal(dp_flow_cold_victim(&t, n_cold), f);
	assert_ptr_equal(dp_flow_cold_victim(&t, n_cold), u);
	assert_ptr_equal(dp_flow_cold_victim(&t, n_cold), f);
	f->flags &= (uint16_t)~DP_FF_RST;
	u->state = DP_FS_ALLOWED;
	assert_null(dp_flow_cold_victim(&t, n_cold));
	/* every record is its flow's own */
	for (i = 0; i < n_cold; i += 997) {
		key_of(i, &k);
		f = dp_flow_lookup(&t, &k);
		assert_int_equal(dp_flow_cold(&t, f)->isn, i);
	}
	/* removing a flow gives its record back: zeroed for the next taker */
	key_of(5, &k);
	dp_flow_remove(&t, dp_flow_lookup(&t, &k));
	assert_int_equal(t.cold_used, n_cold - 1);
	assert_int_equal(dp_flow_cold_take(&t, g), 0);
	assert_int_equal(dp_flow_cold(&t, g)->last_rst_ns, 0);
	assert_int_equal(dp_flow_cold(&t, g)->isn, 0);
	/* put: given back, the flow has none; a second put changes nothing */
	dp_flow_cold_put(&t, g);
	dp_flow_cold_put(&t, g);
	assert_null(dp_flow_cold(&t, g));
	assert_int_equal(t.cold_used, n_cold - 1);
	/* a UDP flow: no side record, its QUIC index is left alone */
	k.l4proto = 17;
	assert_int_equal(dp_flow_insert(&t, &k, &u), 0);
	u->state = DP_FS_ALLOWED;
	u->quic = 3;
	assert_null(dp_flow_cold(&t, u));
	assert_int_equal(dp_flow_cold_take(&t, u), -EINVAL);
	dp_flow_remove(&t, u);
	assert_int_equal(u->quic, 3);
	assert_int_equal(t.cold_used, n_cold - 1);
	dp_flow_table_free(&t);
}

int
main(void)
{
	char prefix[64];
	char *argv[] = { "test_flowtable", "--no-huge", "-m", "64", "--no-pci", "--no-telemetry",
			 "--log-level", "*:error", "--file-prefix", prefix, NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_full_small),
		cmocka_unit_test(test_random_ops),
		cmocka_unit_test(test_bulk_many),
		cmocka_unit_test(test_both_directions),
		cmocka_unit_test(test_v6_geneve),
		cmocka_unit_test(test_cold),
	};
	char dir[128];
	int ret;

	snprintf(prefix, sizeof(prefix), "test-flowtable-%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0) {
		fprintf(stderr, "test_flowtable: EAL init failed\n");
		return 1;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	/* EAL leaves /var/run/dpdk/<prefix>/ behind */
	snprintf(dir, sizeof(dir), "rm -rf /var/run/dpdk/%s", prefix);
	if (system(dir) != 0)
		fprintf(stderr, "test_flowtable: could not remove /var/run/dpdk/%s\n", prefix);
	return ret;
}
