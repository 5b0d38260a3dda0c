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
 * Memory per worker, capacity n: the records n x sizeof(struct dp_flow)
 * (128 B) + buckets align32pow2(n / 6) x 64 B (at most 75 % of the slots
 * are ever used, so displacement stays rare) + the free-index stack n x 4 B
 * + the side records dp_flow_cold_cap(n) x 48 B: ~157 B per flow at 10M,
 * ~196 B at the default 65536 (every flow may hold a side record).
 */
#include <errno.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <rte_common.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

#include "dp_flow.h"

_Static_assert(sizeof(struct dp_flow) == 128, "struct dp_flow is two cache lines");
_Static_assert(sizeof(struct dp_flow) <= DP_FLOW_HOT_BYTES, "the prefetch covers the record");

#define BKT_SLOTS 8
#define MAX_KICKS 256
#define HASH_SEED 0x6d5a6d5au

struct dp_flow_bkt {
	uint32_t sig[BKT_SLOTS];
	uint32_t idx[BKT_SLOTS];         /* flow index + 1, 0: empty */
} __rte_cache_aligned;

static inline uint32_t
key_hash(const struct dp_flow_key *k)
{
	return rte_hash_crc(k, sizeof(*k), HASH_SEED);
}

/* The other bucket of a signature: symmetric, never the same bucket. */
static inline uint32_t
alt_bkt(uint32_t b, uint32_t sig, uint32_t mask)
{
	uint32_t t = (sig >> 16 | sig << 16) * 0x9e3779b1u;

	return (b ^ ((t >> 7) | 1)) & mask;
}

/* Whole-key equality, branch-free over 8-byte words (unrolled: no loop left). */
static inline int
key_eq(const struct dp_flow_key *a, const struct dp_flow_key *b)
{
	const uint8_t *pa = (const uint8_t *)a, *pb = (const uint8_t *)b;
	uint64_t d = 0, x, y;
	size_t i;

#pragma GCC unroll 16
	for (i = 0; i + 8 <= sizeof(*a); i += 8) {
		memcpy(&x, pa + i, 8);
		memcpy(&y, pb + i, 8);
		d |= x ^ y;
	}
#pragma GCC unroll 8
	for (; i < sizeof(*a); i++)
		d |= (uint64_t)(pa[i] ^ pb[i]);
	return d == 0;
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
	 const struct dp_flow_key *key)
{
	while (m != 0) {
		unsigned int s = (unsigned int)__builtin_ctz(m);
		uint32_t fi = b->idx[s] - 1;

		m &= m - 1;
		if (key_eq(&t->flows[fi].key, key))
			return (int32_t)fi;
	}
	return -1;
}

static int32_t
stash_find(const struct dp_flow_table *t, uint32_t sig, const struct dp_flow_key *key)
{
	for (uint32_t i = 0; i < t->n_stash; i++) {
		uint32_t fi = t->stash_idx[i] - 1;

		if (t->stash_sig[i] == sig && key_eq(&t->flows[fi].key, key))
			return (int32_t)fi;
	}
	return -1;
}

/* Record index of key (hash sig), or -1. */
static int32_t
find(const struct dp_flow_table *t, const struct dp_flow_key *key, uint32_t sig)
{
	uint32_t b = sig & t->bkt_mask;
	int32_t fi;

	fi = bkt_find(t, &t->bkt[b], bkt_match(&t->bkt[b], sig), key);
	if (fi >= 0)
		return fi;
	b = alt_bkt(b, sig, t->bkt_mask);
	fi = bkt_find(t, &t->bkt[b], bkt_match(&t->bkt[b], sig), key);
	if (fi >= 0 || t->n_stash == 0)
		return fi;
	return stash_find(t, sig, key);
}

int
dp_flow_table_init(struct dp_flow_table *t, const char *name, uint32_t capacity,
		   int socket)
{
	uint32_t n_bkt, i;

	memset(t, 0, sizeof(*t));
	if (capacity < 8 || capacity > (1u << 30))
		return -EINVAL;
	(void)name;
	n_bkt = rte_align32pow2(RTE_MAX((capacity + 5) / 6, 2u));
	t->flows = rte_zmalloc_socket("dp_flows", (size_t)capacity * sizeof(struct dp_flow),
				      RTE_CACHE_LINE_SIZE, socket);
	t->bkt = rte_zmalloc_socket("dp_flow_bkt", (size_t)n_bkt * sizeof(struct dp_flow_bkt),
				    RTE_CACHE_LINE_SIZE, socket);
	t->free_idx = rte_malloc_socket("dp_flow_free", (size_t)capacity * sizeof(uint32_t),
					RTE_CACHE_LINE_SIZE, socket);
	t->cold_cap = dp_flow_cold_cap(capacity);
	t->cold = rte_malloc_socket("dp_flow_cold",
				    (size_t)t->cold_cap * sizeof(struct dp_flow_cold),
				    RTE_CACHE_LINE_SIZE, socket);
	if (t->flows == NULL || t->bkt == NULL || t->free_idx == NULL || t->cold == NULL) {
		dp_flow_table_free(t);
		return -ENOMEM;
	}
	/* popped from the top: index 0 first */
	for (i = 0; i < capacity; i++)
		t->free_idx[i] = capacity - 1 - i;
	t->n_free = capacity;
	for (i = 0; i < t->cold_cap; i++)
		t->cold[i].link = i + 2 <= t->cold_cap ? i + 2 : 0;
	t->cold_free = 1;
	t->bkt_mask = n_bkt - 1;
	t->capacity = capacity;
	return 0;
}

void
dp_flow_table_free(struct dp_flow_table *t)
{
	rte_free(t->flows);
	rte_free(t->bkt);
	rte_free(t->free_idx);
	rte_free(t->cold);
	memset(t, 0, sizeof(*t));
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
	int32_t fi = find(t, key, key_hash(key));

	return fi < 0 ? NULL : &t->flows[fi];
}

void
dp_flow_lookup_bulk(struct dp_flow_table *t, const struct dp_flow_key *const *keys,
		    unsigned int n, struct dp_flow **out)
{
	uint32_t sig[64], b[64], m[64];
	unsigned int i;

	if (n > 64)
		n = 64;
	for (i = 0; i < n; i++) {
		sig[i] = key_hash(keys[i]);
		b[i] = sig[i] & t->bkt_mask;
		rte_prefetch0(&t->bkt[b[i]]);
	}
	for (i = 0; i < n; i++) {
		const struct dp_flow_bkt *bk = &t->bkt[b[i]];

		m[i] = bkt_match(bk, sig[i]);
		if (m[i] != 0)
			rte_prefetch0(&t->flows[bk->idx[__builtin_ctz(m[i])] - 1]);
		else
			rte_prefetch0(&t->bkt[alt_bkt(b[i], sig[i], t->bkt_mask)]);
	}
	for (i = 0; i < n; i++) {
		int32_t fi = bkt_find(t, &t->bkt[b[i]], m[i], keys[i]);

		if (fi < 0) {
			uint32_t a = alt_bkt(b[i], sig[i], t->bkt_mask);

			fi = bkt_find(t, &t->bkt[a], bkt_match(&t->bkt[a], sig[i]), keys[i]);
			if (fi < 0 && t->n_stash > 0)
				fi = stash_find(t, sig[i], keys[i]);
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
	uint32_t sig = key_hash(key), fi;
	struct dp_flow *f;
	int32_t found;

	found = find(t, key, sig);
	if (found >= 0) {
		*out = &t->flows[found];
		return -EEXIST;
	}
	if (t->n_free == 0) {
		*out = NULL;
		return -ENOSPC;
	}
	fi = t->free_idx[t->n_free - 1];
	if (place(t, sig, fi) != 0) {
		*out = NULL;
		return -ENOSPC;
	}
	t->n_free--;
	f = &t->flows[fi];
	memset(f, 0, sizeof(*f));
	f->key = *key;
	f->slot = DP_NO_SLOT;
	f->name_id = DP_NO_NAME;
	f->rule = -1;
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
	if (unplace(t, key_hash(&f->key), fi + 1) != 0)
		return;         /* not in the table: never happens */
	dp_flow_cold_put(t, f);
	f->state = DP_FS_FREE;
	t->free_idx[t->n_free++] = fi;
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
