/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_flow.c: the per-worker flow table (see dp_flow.h).
 *
 * A bucketized cuckoo hash over the record array. A bucket is one cache
 * line of 8 slots, each a 32-bit signature (the key's CRC32-C) and the
 * record's index + 1 (0: empty). A key lives in its primary bucket
 * (signature & mask) or in the alternative one (primary ^ a function of the
 * signature, so either bucket gives the other); an insert that finds both
 * full moves residents to their alternative buckets (bounded), and what
 * still finds no place goes to a small stash. The key itself is stored only
 * in the record, whose first line holds it: a lookup reads one bucket line
 * and one record line. (rte_hash kept a second copy of the key in its own
 * 64-byte key slot, a third line per lookup, plus its free-slot rings and
 * extendable buckets: ~90 B per flow; docs/performance.md.)
 *
 * Memory per worker, capacity n: the records n x 64 B + their info n x
 * 32 B + buckets align32pow2(n / 6) x 64 B (at most 75 % of the slots are
 * ever used, so displacement stays rare) + the TCP side records
 * dp_flow_cold_cap(n) x 48 B + the IPv6 address records dp_flow_v6_cap(n) x
 * 32 B + the GENEVE pairs (4096 x 24 B + 8192 x 2 B): ~124 B per flow at
 * 10M. The free records are a list threaded through them (next_free).
 */
#include <errno.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

#include "dp_flow.h"
#include "dp_thp.h"

_Static_assert(sizeof(struct dp_flow) == 64, "struct dp_flow is one cache line");
_Static_assert(sizeof(struct dp_flow) <= DP_FLOW_HOT_BYTES, "the prefetch covers the record");
_Static_assert(sizeof(struct dp_flow_ckey) == 18, "the compact key is 18 B");
_Static_assert(sizeof(struct dp_flow_info) == 32, "struct dp_flow_info is 32 B");

#define BKT_SLOTS 8
#define MAX_KICKS 256
#define HASH_SEED 0x6d5a6d5au
#define V6_PREFETCH_MIN 65536    /* flows from which the bulk lookup prefetches IPv6 address
				  * records (fewer: records and address records stay cached) */

struct dp_flow_bkt {
	uint32_t sig[BKT_SLOTS];
	uint32_t idx[BKT_SLOTS];         /* flow index + 1, 0: empty */
} __rte_cache_aligned;

/* The compact key's words: w0 the addresses, w1 ports, VLAN, family, protocol. */
static inline uint32_t
ckey_hash_w(uint64_t w0, uint64_t w1, uint16_t zone)
{
	return rte_hash_crc_2byte(zone, rte_hash_crc_8byte(w1, rte_hash_crc_8byte(w0, HASH_SEED)));
}

static inline uint32_t
ckey_hash(const struct dp_flow_ckey *k)
{
	uint64_t w0, w1;

	memcpy(&w0, k, 8);
	memcpy(&w1, (const uint8_t *)k + 8, 8);
	return ckey_hash_w(w0, w1, k->zone);
}

/* The other bucket of a signature: symmetric, never the same bucket. */
static inline uint32_t
alt_bkt(uint32_t b, uint32_t sig, uint32_t mask)
{
	uint32_t t = (sig >> 16 | sig << 16) * 0x9e3779b1u;

	return (b ^ ((t >> 7) | 1)) & mask;
}

/* Compact key equality, branch-free: two 8-byte words and the zone. */
static inline int
ckey_eq(const struct dp_flow_ckey *a, const struct dp_flow_ckey *b)
{
	uint64_t a0, a1, b0, b1;

	memcpy(&a0, a, 8);
	memcpy(&a1, (const uint8_t *)a + 8, 8);
	memcpy(&b0, b, 8);
	memcpy(&b1, (const uint8_t *)b + 8, 8);
	return ((a0 ^ b0) | (a1 ^ b1) | (uint64_t)(a->zone ^ b->zone)) == 0;
}

static inline int
addr_eq16(const uint8_t *x, const uint8_t *y)
{
	uint64_t x0, x1, y0, y1;

	memcpy(&x0, x, 8);
	memcpy(&x1, x + 8, 8);
	memcpy(&y0, y, 8);
	memcpy(&y1, y + 8, 8);
	return ((x0 ^ y0) | (x1 ^ y1)) == 0;
}

/* The interned id of a GENEVE pair, DP_FLOW_ZONE_MISS if it has none. */
static inline uint32_t
zone_slot0(const struct dp_flow_table *t, uint64_t ep, uint64_t att)
{
	return rte_hash_crc_8byte(att, rte_hash_crc_8byte(ep, HASH_SEED)) & t->zone_hmask;
}

static uint16_t
zone_find(const struct dp_flow_table *t, uint64_t ep, uint64_t att)
{
	uint32_t h;

	if (t->zone_used == 0)
		return DP_FLOW_ZONE_MISS;
	for (h = zone_slot0(t, ep, att);; h = (h + 1) & t->zone_hmask) {
		uint16_t id = t->zone_hash[h];

		if (id == 0)
			return DP_FLOW_ZONE_MISS;
		if (t->zone[id - 1].ep == ep && t->zone[id - 1].att == att)
			return id;
	}
}

/* Intern a pair (one more reference): its id, or 0 if every id is taken. */
static uint16_t
zone_get(struct dp_flow_table *t, uint64_t ep, uint64_t att)
{
	uint16_t id = zone_find(t, ep, att);
	uint32_t h;

	if (id != DP_FLOW_ZONE_MISS) {
		t->zone[id - 1].refs++;
		return id;
	}
	if (t->zone_free == 0) {
		t->zone_full++;
		return 0;
	}
	id = (uint16_t)t->zone_free;
	t->zone_free = t->zone[id - 1].next_free;
	t->zone[id - 1] = (struct dp_flow_zone){ .ep = ep, .att = att, .refs = 1 };
	for (h = zone_slot0(t, ep, att); t->zone_hash[h] != 0; h = (h + 1) & t->zone_hmask)
		;
	t->zone_hash[h] = id;
	t->zone_used++;
	return id;
}

/* Drop a reference; the last one frees the id (linear probing, backward shift). */
static void
zone_put(struct dp_flow_table *t, uint16_t id)
{
	struct dp_flow_zone *z = &t->zone[id - 1];
	uint32_t h, j;

	if (--z->refs > 0)
		return;
	for (h = zone_slot0(t, z->ep, z->att); t->zone_hash[h] != id; h = (h + 1) & t->zone_hmask)
		;
	/* close the hole: move up every later entry whose probe passes it */
	for (j = (h + 1) & t->zone_hmask; t->zone_hash[j] != 0; j = (j + 1) & t->zone_hmask) {
		const struct dp_flow_zone *o = &t->zone[t->zone_hash[j] - 1];
		uint32_t home = zone_slot0(t, o->ep, o->att);

		/* o may move to h if h lies cyclically in [home, j) */
		if (((j - home) & t->zone_hmask) >= ((j - h) & t->zone_hmask)) {
			t->zone_hash[h] = t->zone_hash[j];
			h = j;
		}
	}
	t->zone_hash[h] = 0;
	z->next_free = t->zone_free;
	t->zone_free = id;
	t->zone_used--;
}

/*
 * Compact key of a full one (a pair never interned gets DP_FLOW_ZONE_MISS),
 * and its hash. Built in registers and stored as whole words: the hash and
 * the compare then load what was stored (no store-forwarding stall).
 */
static inline uint32_t
ckey_make(const struct dp_flow_table *t, const struct dp_flow_key *k, struct dp_flow_ckey *ck)
{
	uint64_t w0, w1;
	uint32_t a, b;
	uint16_t zone;

	if (unlikely(k->family == 6)) {
		a = rte_hash_crc(k->a, 32, 0x9747b28cu);
		b = rte_hash_crc(k->a, 32, 0x85ebca6bu);
	} else {
		memcpy(&a, k->a, 4);
		memcpy(&b, k->b, 4);
	}
	w0 = (uint64_t)a | (uint64_t)b << 32;
	w1 = (uint64_t)k->pa | (uint64_t)k->pb << 16 | (uint64_t)k->vlan << 32 |
	     (uint64_t)k->family << 48 | (uint64_t)k->l4proto << 56;
	zone = likely((k->gwlb_ep | k->gwlb_att) == 0) ? 0 :
	       zone_find(t, k->gwlb_ep, k->gwlb_att);
	memcpy(ck, &w0, 8);
	memcpy((uint8_t *)ck + 8, &w1, 8);
	ck->zone = zone;
	return ckey_hash_w(w0, w1, zone);
}

/* Record fi is the flow of (ck, k): the compact key, and an IPv6 flow's addresses. */
static inline int
rec_eq(const struct dp_flow_table *t, uint32_t fi, const struct dp_flow_ckey *ck,
       const struct dp_flow_key *k)
{
	const struct dp_flow *f = &t->flows[fi];
	const struct dp_flow_v6 *r;

	if (!ckey_eq(&f->key, ck))
		return 0;
	if (ck->family != 6)
		return 1;
	r = &t->v6[f->v6 - 1];
	return addr_eq16(r->a, k->a) && addr_eq16(r->b, k->b);
}

void
dp_flow_key_get(const struct dp_flow_table *t, const struct dp_flow *f, struct dp_flow_key *k)
{
	memset(k, 0, sizeof(*k));
	if (f->key.family == 6 && f->v6 != 0) {
		memcpy(k->a, t->v6[f->v6 - 1].a, 16);
		memcpy(k->b, t->v6[f->v6 - 1].b, 16);
	} else {
		memcpy(k->a, &f->key.a, 4);
		memcpy(k->b, &f->key.b, 4);
	}
	k->pa = f->key.pa;
	k->pb = f->key.pb;
	k->vlan = f->key.vlan;
	k->family = f->key.family;
	k->l4proto = f->key.l4proto;
	if (f->key.zone != 0) {
		k->gwlb_ep = t->zone[f->key.zone - 1].ep;
		k->gwlb_att = t->zone[f->key.zone - 1].att;
	}
}

/* Slots of bucket b whose signature is sig (bit s: slot s). */
static inline uint32_t
bkt_match(const struct dp_flow_bkt *b, uint32_t sig)
{
#if defined(__SSE2__)
	const __m128i *sv = (const __m128i *)b->sig, *iv = (const __m128i *)b->idx;
	__m128i want = _mm_set1_epi32((int)sig), zero = _mm_setzero_si128();
	__m128i m0 = _mm_andnot_si128(_mm_cmpeq_epi32(_mm_load_si128(&iv[0]), zero),
				      _mm_cmpeq_epi32(_mm_load_si128(&sv[0]), want));
	__m128i m1 = _mm_andnot_si128(_mm_cmpeq_epi32(_mm_load_si128(&iv[1]), zero),
				      _mm_cmpeq_epi32(_mm_load_si128(&sv[1]), want));

	return (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(m0)) |
	       (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(m1)) << 4;
#else
	uint32_t m = 0;

	for (unsigned int s = 0; s < BKT_SLOTS; s++)
		m |= (uint32_t)(b->sig[s] == sig && b->idx[s] != 0) << s;
	return m;
#endif
}

/* The record index of key among the candidates m of bucket b, or -1. */
static inline int32_t
bkt_find(const struct dp_flow_table *t, const struct dp_flow_bkt *b, uint32_t m,
	 const struct dp_flow_ckey *ck, const struct dp_flow_key *key)
{
	while (m != 0) {
		unsigned int s = (unsigned int)__builtin_ctz(m);
		uint32_t fi = b->idx[s] - 1;

		m &= m - 1;
		if (rec_eq(t, fi, ck, key))
			return (int32_t)fi;
	}
	return -1;
}

static int32_t
stash_find(const struct dp_flow_table *t, uint32_t sig, const struct dp_flow_ckey *ck,
	   const struct dp_flow_key *key)
{
	for (uint32_t i = 0; i < t->n_stash; i++) {
		uint32_t fi = t->stash_idx[i] - 1;

		if (t->stash_sig[i] == sig && rec_eq(t, fi, ck, key))
			return (int32_t)fi;
	}
	return -1;
}

/* Record index of key (compact ck, hash sig), or -1. */
static int32_t
find(const struct dp_flow_table *t, const struct dp_flow_ckey *ck,
     const struct dp_flow_key *key, uint32_t sig)
{
	uint32_t b = sig & t->bkt_mask;
	int32_t fi;

	fi = bkt_find(t, &t->bkt[b], bkt_match(&t->bkt[b], sig), ck, key);
	if (fi >= 0)
		return fi;
	b = alt_bkt(b, sig, t->bkt_mask);
	fi = bkt_find(t, &t->bkt[b], bkt_match(&t->bkt[b], sig), ck, key);
	if (fi >= 0 || t->n_stash == 0)
		return fi;
	return stash_find(t, sig, ck, key);
}

/*
 * Without EAL hugepages (--no-huge) the heap is 4 KiB pages, and at 1M
 * flows nearly every record and bucket access is also a TLB miss whose page
 * walk misses the caches. Then the arrays share one anonymous mapping
 * advised for 2 MiB transparent huge pages (dp_thp.h), the records first,
 * each array cache-line aligned, every page faulted in now (as the heap's
 * memory is): what the kernel gave in huge pages is
 * dp_flow_table_huge_bytes(). 0, or -ENOMEM (the caller uses the heap).
 */
static int
table_map(struct dp_flow_table *t, uint32_t capacity, uint32_t n_bkt)
{
	size_t sz[7], off[7], len = 0;
	uint8_t *p;
	unsigned int i;

	sz[0] = (size_t)capacity * sizeof(struct dp_flow);
	sz[1] = (size_t)n_bkt * sizeof(struct dp_flow_bkt);
	sz[2] = (size_t)capacity * sizeof(struct dp_flow_info);
	sz[3] = (size_t)t->cold_cap * sizeof(struct dp_flow_cold);
	sz[4] = (size_t)t->v6_cap * sizeof(struct dp_flow_v6);
	sz[5] = (size_t)t->zone_cap * sizeof(struct dp_flow_zone);
	sz[6] = (size_t)(t->zone_hmask + 1) * sizeof(uint16_t);
	for (i = 0; i < RTE_DIM(sz); i++) {
		off[i] = len;
		len = RTE_ALIGN_CEIL(len + sz[i], RTE_CACHE_LINE_SIZE);
	}
	p = dp_thp_map(len, &t->map_len);
	if (p == NULL)
		return -ENOMEM;
	dp_thp_prefault(p, t->map_len);
	t->map = p;
	t->flows = (struct dp_flow *)(p + off[0]);
	t->bkt = (struct dp_flow_bkt *)(p + off[1]);
	t->info = (struct dp_flow_info *)(p + off[2]);
	t->cold = (struct dp_flow_cold *)(p + off[3]);
	t->v6 = (struct dp_flow_v6 *)(p + off[4]);
	t->zone = (struct dp_flow_zone *)(p + off[5]);
	t->zone_hash = (uint16_t *)(p + off[6]);
	return 0;
}

int
dp_flow_table_init(struct dp_flow_table *t, const char *name, uint32_t capacity,
		   int socket)
{
	return dp_flow_table_init_sized(t, name, capacity, NULL, socket);
}

int
dp_flow_table_init_sized(struct dp_flow_table *t, const char *name, uint32_t capacity,
			 const struct dp_flow_sizes *sz, int socket)
{
	uint32_t n_bkt, i;

	memset(t, 0, sizeof(*t));
	if (capacity < 8 || capacity > (1u << 30))
		return -EINVAL;
	(void)name;
	n_bkt = rte_align32pow2(RTE_MAX((capacity + 5) / 6, 2u));
	t->cold_cap = sz != NULL && sz->cold != 0 ? sz->cold : dp_flow_cold_cap(capacity);
	t->v6_cap = sz != NULL && sz->v6 != 0 ? sz->v6 : dp_flow_v6_cap(capacity);
	t->zone_cap = sz != NULL && sz->zones != 0 ? RTE_MIN(sz->zones, 65534u) : DP_FLOW_ZONES;
	t->zone_hmask = rte_align32pow2(t->zone_cap * 2) - 1;
	if (!rte_eal_has_hugepages() && table_map(t, capacity, n_bkt) == 0)
		goto mapped;
	t->flows = rte_zmalloc_socket("dp_flows", (size_t)capacity * sizeof(struct dp_flow),
				      RTE_CACHE_LINE_SIZE, socket);
	t->info = rte_malloc_socket("dp_flow_info", (size_t)capacity * sizeof(struct dp_flow_info),
				    RTE_CACHE_LINE_SIZE, socket);
	t->bkt = rte_zmalloc_socket("dp_flow_bkt", (size_t)n_bkt * sizeof(struct dp_flow_bkt),
				    RTE_CACHE_LINE_SIZE, socket);
	t->cold = rte_malloc_socket("dp_flow_cold",
				    (size_t)t->cold_cap * sizeof(struct dp_flow_cold),
				    RTE_CACHE_LINE_SIZE, socket);
	t->v6 = rte_malloc_socket("dp_flow_v6", (size_t)t->v6_cap * sizeof(struct dp_flow_v6),
				  RTE_CACHE_LINE_SIZE, socket);
	t->zone = rte_malloc_socket("dp_flow_zone",
				    (size_t)t->zone_cap * sizeof(struct dp_flow_zone),
				    RTE_CACHE_LINE_SIZE, socket);
	t->zone_hash = rte_zmalloc_socket("dp_flow_zhash",
					  (size_t)(t->zone_hmask + 1) * sizeof(uint16_t),
					  RTE_CACHE_LINE_SIZE, socket);
	if (t->flows == NULL || t->info == NULL || t->bkt == NULL || t->cold == NULL ||
	    t->v6 == NULL || t->zone == NULL || t->zone_hash == NULL) {
		dp_flow_table_free(t);
		return -ENOMEM;
	}
mapped:
	/* records: never used ones from index 0 (fresh), freed ones on a list */
	for (i = 0; i < t->cold_cap; i++)
		t->cold[i].link = i + 2 <= t->cold_cap ? i + 2 : 0;
	t->cold_free = 1;
	for (i = 0; i < t->v6_cap; i++) {
		uint32_t next = i + 2 <= t->v6_cap ? i + 2 : 0;

		memcpy(t->v6[i].a, &next, sizeof(next));
	}
	t->v6_free = 1;
	for (i = 0; i < t->zone_cap; i++)
		t->zone[i] = (struct dp_flow_zone){ .next_free = i + 2 <= t->zone_cap ? i + 2 : 0 };
	t->zone_free = 1;
	t->bkt_mask = n_bkt - 1;
	t->capacity = capacity;
	return 0;
}

void
dp_flow_table_free(struct dp_flow_table *t)
{
	if (t->map != NULL) {
		dp_thp_unmap(t->map, t->map_len);
	} else {
		rte_free(t->flows);
		rte_free(t->info);
		rte_free(t->bkt);
		rte_free(t->cold);
		rte_free(t->v6);
		rte_free(t->zone);
		rte_free(t->zone_hash);
	}
	memset(t, 0, sizeof(*t));
}

size_t
dp_flow_table_huge_bytes(const struct dp_flow_table *t)
{
	return dp_thp_huge_bytes(t->map, t->map_len);
}

int
dp_flow_cold_take(struct dp_flow_table *t, struct dp_flow *f)
{
	struct dp_flow_cold *c;
	uint32_t id = t->cold_free;

	if (f->key.l4proto != 6)
		return -EINVAL;         /* the union member is a UDP flow's QUIC record */
	if (f->cold != 0)
		return 0;
	if (id == 0)
		return -ENOSPC;
	c = &t->cold[id - 1];
	t->cold_free = c->link;
	memset(c, 0, sizeof(*c));
	c->link = dp_flow_index(t, f);
	f->cold = id;
	t->cold_used++;
	return 0;
}

void
dp_flow_cold_put(struct dp_flow_table *t, struct dp_flow *f)
{
	if (f->key.l4proto != 6 || f->cold == 0)
		return;
	t->cold[f->cold - 1].link = t->cold_free;
	t->cold_free = f->cold;
	f->cold = 0;
	t->cold_used--;
}

struct dp_flow *
dp_flow_lookup(struct dp_flow_table *t, const struct dp_flow_key *key)
{
	struct dp_flow_ckey ck;
	int32_t fi;

	fi = find(t, &ck, key, ckey_make(t, key, &ck));
	return fi < 0 ? NULL : &t->flows[fi];
}

void
dp_flow_lookup_bulk(struct dp_flow_table *t, const struct dp_flow_key *const *keys,
		    unsigned int n, struct dp_flow **out)
{
	struct dp_flow_ckey ck[64];
	uint32_t sig[64], b[64], m[64];
	unsigned int i, v6 = 0;

	if (n > 64)
		n = 64;
	for (i = 0; i < n; i++) {
		sig[i] = ckey_make(t, keys[i], &ck[i]);
		b[i] = sig[i] & t->bkt_mask;
		rte_prefetch0(&t->bkt[b[i]]);
		v6 |= ck[i].family == 6;
	}
	for (i = 0; i < n; i++) {
		const struct dp_flow_bkt *bk = &t->bkt[b[i]];

		m[i] = bkt_match(bk, sig[i]);
		if (m[i] != 0)
			rte_prefetch0(&t->flows[bk->idx[__builtin_ctz(m[i])] - 1]);
		else
			rte_prefetch0(&t->bkt[alt_bkt(b[i], sig[i], t->bkt_mask)]);
	}
	/* an IPv6 key's address record too, once its candidate's compact key matches */
	if (t->active < V6_PREFETCH_MIN)
		v6 = 0;
	for (i = 0; unlikely(v6) && i < n; i++) {
		const struct dp_flow *f;

		if (ck[i].family != 6 || m[i] == 0)
			continue;
		f = &t->flows[t->bkt[b[i]].idx[__builtin_ctz(m[i])] - 1];
		if (ckey_eq(&f->key, &ck[i]) && f->v6 != 0)
			rte_prefetch0(&t->v6[f->v6 - 1]);
	}
	for (i = 0; i < n; i++) {
		int32_t fi = bkt_find(t, &t->bkt[b[i]], m[i], &ck[i], keys[i]);

		if (fi < 0) {
			uint32_t a = alt_bkt(b[i], sig[i], t->bkt_mask);

			fi = bkt_find(t, &t->bkt[a], bkt_match(&t->bkt[a], sig[i]), &ck[i],
				      keys[i]);
			if (fi < 0 && t->n_stash > 0)
				fi = stash_find(t, sig[i], &ck[i], keys[i]);
		}
		out[i] = fi < 0 ? NULL : &t->flows[fi];
	}
}

/* Put (sig, v) in a free slot of bucket b: 0, or -1 if it is full. */
static inline int
bkt_put(struct dp_flow_bkt *b, uint32_t sig, uint32_t v)
{
	for (unsigned int s = 0; s < BKT_SLOTS; s++) {
		if (b->idx[s] == 0) {
			b->sig[s] = sig;
			b->idx[s] = v;
			return 0;
		}
	}
	return -1;
}

/*
 * Place record index fi (signature sig): a free slot of either bucket, else
 * move residents to their other bucket (at most MAX_KICKS moves), else the
 * stash. Never loses a resident: it starts only when the stash has room.
 */
static int
place(struct dp_flow_table *t, uint32_t sig, uint32_t fi)
{
	uint32_t b = sig & t->bkt_mask, v = fi + 1, k;

	if (bkt_put(&t->bkt[b], sig, v) == 0)
		return 0;
	b = alt_bkt(b, sig, t->bkt_mask);
	if (bkt_put(&t->bkt[b], sig, v) == 0)
		return 0;
	if (t->n_stash == DP_FLOW_STASH)
		return -ENOSPC;
	for (k = 0; k < MAX_KICKS; k++) {
		struct dp_flow_bkt *bk = &t->bkt[b];
		unsigned int s = (unsigned int)((sig >> 3) + k + (uint32_t)t->kicks) % BKT_SLOTS;
		uint32_t vs = bk->sig[s], vv = bk->idx[s];

		/* the homeless entry takes slot s; the resident moves to its other bucket */
		bk->sig[s] = sig;
		bk->idx[s] = v;
		t->kicks++;
		sig = vs;
		v = vv;
		b = alt_bkt(b, sig, t->bkt_mask);
		if (bkt_put(&t->bkt[b], sig, v) == 0)
			return 0;
	}
	t->stash_sig[t->n_stash] = sig;
	t->stash_idx[t->n_stash] = v;
	t->n_stash++;
	return 0;
}

int
dp_flow_insert(struct dp_flow_table *t, const struct dp_flow_key *key, struct dp_flow **out)
{
	struct dp_flow_ckey ck;
	struct dp_flow_info *inf;
	struct dp_flow *f;
	uint32_t sig, fi, v6 = 0;
	uint16_t zone = 0;
	int32_t found;

	sig = ckey_make(t, key, &ck);
	found = find(t, &ck, key, sig);
	if (found >= 0) {
		*out = &t->flows[found];
		return -EEXIST;
	}
	*out = NULL;
	if (t->free_head != 0)
		fi = t->free_head - 1;
	else if (t->fresh < t->capacity)
		fi = t->fresh;
	else
		return -ENOSPC;
	if (ck.family == 6 && t->v6_free == 0) {
		t->v6_full++;
		return -ENOSPC;
	}
	if (ck.zone == DP_FLOW_ZONE_MISS) {
		/* a pair no flow names yet: interned now (its id changes the hash) */
		zone = zone_get(t, key->gwlb_ep, key->gwlb_att);
		if (zone == 0)
			return -ENOSPC;
		ck.zone = zone;
		sig = ckey_hash(&ck);
	} else if (ck.zone != 0) {
		zone = zone_get(t, key->gwlb_ep, key->gwlb_att);
	}
	if (place(t, sig, fi) != 0) {
		if (zone != 0)
			zone_put(t, zone);
		return -ENOSPC;
	}
	f = &t->flows[fi];
	if (fi == t->fresh && t->free_head == 0)
		t->fresh++;
	else
		t->free_head = f->next_free;
	if (ck.family == 6) {
		struct dp_flow_v6 *r = &t->v6[t->v6_free - 1];

		v6 = t->v6_free;
		memcpy(&t->v6_free, r->a, sizeof(t->v6_free));
		memcpy(r->a, key->a, 16);
		memcpy(r->b, key->b, 16);
		t->v6_used++;
	}
	memset(f, 0, sizeof(*f));
	f->key = ck;
	f->v6 = v6;
	inf = &t->info[fi];
	memset(inf, 0, sizeof(*inf));
	inf->slot = DP_NO_SLOT;
	inf->name_id = DP_NO_NAME;
	inf->rule = -1;
	t->active++;
	*out = f;
	return 0;
}

/* Clear the slot holding v (signature sig): 0, or -1 if not found. */
static int
unplace(struct dp_flow_table *t, uint32_t sig, uint32_t v)
{
	uint32_t b = sig & t->bkt_mask;

	for (int pass = 0; pass < 2; pass++) {
		struct dp_flow_bkt *bk = &t->bkt[b];

		for (unsigned int s = 0; s < BKT_SLOTS; s++) {
			if (bk->idx[s] == v) {
				bk->idx[s] = 0;
				return 0;
			}
		}
		b = alt_bkt(b, sig, t->bkt_mask);
	}
	for (uint32_t i = 0; i < t->n_stash; i++) {
		if (t->stash_idx[i] == v) {
			t->n_stash--;
			t->stash_sig[i] = t->stash_sig[t->n_stash];
			t->stash_idx[i] = t->stash_idx[t->n_stash];
			return 0;
		}
	}
	return -1;
}

void
dp_flow_remove(struct dp_flow_table *t, struct dp_flow *f)
{
	uint32_t fi = dp_flow_index(t, f), i;

	if (f->state == DP_FS_FREE)
		return;
	if (unplace(t, ckey_hash(&f->key), fi + 1) != 0)
		return;         /* not in the table: never happens */
	dp_flow_cold_put(t, f);
	if (f->key.family == 6 && f->v6 != 0) {
		memcpy(t->v6[f->v6 - 1].a, &t->v6_free, sizeof(t->v6_free));
		t->v6_free = f->v6;
		t->v6_used--;
	}
	if (f->key.zone != 0)
		zone_put(t, f->key.zone);
	f->state = DP_FS_FREE;
	f->next_free = t->free_head;
	t->free_head = fi + 1;
	t->active--;
	/* a slot may have opened for a stashed entry */
	for (i = 0; i < t->n_stash;) {
		uint32_t sig = t->stash_sig[i], v = t->stash_idx[i], b = sig & t->bkt_mask;

		if (bkt_put(&t->bkt[b], sig, v) == 0 ||
		    bkt_put(&t->bkt[alt_bkt(b, sig, t->bkt_mask)], sig, v) == 0) {
			t->n_stash--;
			t->stash_sig[i] = t->stash_sig[t->n_stash];
			t->stash_idx[i] = t->stash_idx[t->n_stash];
		} else {
			i++;
		}
	}
}

struct dp_flow *
dp_flow_cold_victim(struct dp_flow_table *t, unsigned int budget)
{
	uint32_t pos = t->cold_scan;
	struct dp_flow *v = NULL;

	while (budget-- > 0) {
		uint32_t i = pos, fi = t->cold[i].link;

		if (++pos == t->cold_cap)
			pos = 0;
		if (fi >= t->capacity)
			continue;
		/* taken: its flow names it back (a free record's link is a free-list link) */
		struct dp_flow *f = &t->flows[fi];

		if (f->state != DP_FS_FREE && f->key.l4proto == 6 && f->cold == i + 1 &&
		    dp_flow_closing(f)) {
			v = f;
			break;
		}
	}
	t->cold_scan = pos;
	return v;
}

uint64_t
dp_flow_timeout(const struct dp_flow *f, const struct dp_timeouts *to)
{
	if (f->key.l4proto == 6) {
		if (dp_flow_closing(f))
			return to->tcp_closed;
		if (f->state == DP_FS_SYN_SEEN || f->state == DP_FS_MIDWAIT)
			return to->tcp_halfopen;
		return to->tcp_established;
	}
	if (f->key.l4proto == 17)
		return to->udp;
	return to->other;
}

unsigned int
dp_flow_sweep(struct dp_flow_table *t, uint64_t now, const struct dp_timeouts *to,
	      unsigned int budget, struct dp_flow **expired, unsigned int max)
{
	unsigned int n = 0;
	uint32_t pos = t->sweep_pos, now_ms = dp_flow_ms(now);

	if (t->active == 0)
		return 0;
	while (budget-- > 0 && n < max) {
		struct dp_flow *f = &t->flows[pos];

		if (++pos == t->capacity)
			pos = 0;
		if (f->state == DP_FS_FREE)
			continue;
		int32_t idle = (int32_t)(now_ms - f->last_ms);

		if (idle > 0 && (uint64_t)idle * 1000000u > dp_flow_timeout(f, to))
			expired[n++] = f;
	}
	t->sweep_pos = pos;
	return n;
}

unsigned int
dp_flow_iter(struct dp_flow_table *t, uint32_t *pos, struct dp_flow **out, unsigned int max)
{
	unsigned int n = 0;

	while (*pos < t->capacity && n < max) {
		struct dp_flow *f = &t->flows[(*pos)++];

		if (f->state != DP_FS_FREE)
			out[n++] = f;
	}
	return n;
}
