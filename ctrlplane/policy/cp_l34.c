/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_l34.c: the address, port and protocol half of the blob (layout and
 * reasoning in dataplane/match/cpm_blob.h).
 *
 * Every CIDR or port list becomes sorted disjoint ranges, stored as the
 * boundaries of an interval map ("parity" set), with a first-level index
 * when it is long. Then, per dimension (dport, src and dst per family), one
 * sweep over the sorted range boundaries of every rule yields the intervals
 * on which the set of rules whose condition holds is constant; each distinct
 * set is a class (a bitset over the rules), found again through a Zobrist
 * hash kept up to date as rules enter and leave the sweep. The protocol
 * dimension's classes are computed directly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cp_build.h"

typedef unsigned __int128 u128;

/* Maps with at least this many boundaries get a first-level index. */
#define IMAP_INDEX_MIN 32
/* Most sweep work (intervals x class words) one dimension may take. */
#define SWEEP_WORK_MAX (UINT64_C(1) << 28)

static size_t class_budget = CP_CLASS_BUDGET_DEFAULT;

size_t
cp_l34_set_class_budget(size_t bytes)
{
	size_t old = class_budget;

	class_budget = bytes;
	return old;
}

/* ---- ranges -------------------------------------------------------------------- */

struct rng {
	u128 lo, hi;
};

struct rset {
	struct rng *v;
	size_t n;
};

static int
rng_cmp(const void *a, const void *b)
{
	const struct rng *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort and merge overlapping or adjacent ranges. */
static void
rset_normalise(struct rset *s, u128 kmax)
{
	size_t out = 0;

	qsort(s->v, s->n, sizeof(*s->v), rng_cmp);
	for (size_t i = 0; i < s->n; i++) {
		struct rng *last = out > 0 ? &s->v[out - 1] : NULL;

		if (last != NULL && (last->hi == kmax || s->v[i].lo <= last->hi + 1)) {
			if (s->v[i].hi > last->hi)
				last->hi = s->v[i].hi;
			continue;
		}
		s->v[out++] = s->v[i];
	}
	s->n = out;
}

static u128
addr_num(const uint8_t *a, int fam)
{
	u128 v = 0;

	for (int i = 0; i < (fam == 0 ? 4 : 16); i++)
		v = v << 8 | a[i];
	return v;
}

/* The family's CIDRs of a list as normalised ranges (v is malloc'ed). */
static int
cidr_ranges(const struct cp_cidrs *c, int fam, struct rset *out)
{
	unsigned int bits = fam == 0 ? 32 : 128;
	u128 kmax = fam == 0 ? 0xffffffffu : ~(u128)0;

	out->n = 0;
	out->v = malloc((c->n ? c->n : 1) * sizeof(*out->v));
	if (out->v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < c->n; i++) {
		const struct cp_cidr *e = &c->v[i];
		u128 lo;

		if (e->family != (fam == 0 ? 4 : 6))
			continue;
		lo = addr_num(e->addr, fam);
		out->v[out->n].lo = lo;
		out->v[out->n].hi = e->plen == 0 ? kmax : lo | (((u128)1 << (bits - e->plen)) - 1);
		out->n++;
	}
	rset_normalise(out, kmax);
	return 0;
}

static int
port_ranges(const struct cp_ports *p, struct rset *out)
{
	out->n = 0;
	out->v = malloc((p->n ? p->n : 1) * sizeof(*out->v));
	if (out->v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++) {
		out->v[out->n].lo = p->v[i].lo;
		out->v[out->n].hi = p->v[i].hi;
		out->n++;
	}
	rset_normalise(out, 0xffff);
	return 0;
}

/* ---- interval maps --------------------------------------------------------------- */

static unsigned int
clz_width(u128 x, unsigned int width)
{
	uint64_t hi = (uint64_t)(x >> 64), lo = (uint64_t)x;
	unsigned int z128 = hi != 0 ? (unsigned int)__builtin_clzll(hi)
			    : 64 + (unsigned int)__builtin_clzll(lo);

	return z128 - (128 - width);
}

/* Append a map of n ascending keys (and n + 1 values, or NULL for a set). */
static uint32_t
emit_imap(struct cp_buf *sect, unsigned int width, const u128 *keys, uint32_t n,
	  const uint32_t *vals)
{
	struct cpm_blob_imap m = { .width = (uint8_t)width, .valued = vals != NULL, .n = n };

	if (width == 128) {
		m.keys_off = (uint32_t)(sect[CPM_SECT_KEYS128].len / sizeof(struct cpm_blob_k128));
		for (uint32_t i = 0; i < n; i++) {
			struct cpm_blob_k128 k = { (uint64_t)(keys[i] >> 64), (uint64_t)keys[i] };

			cp_buf_add(&sect[CPM_SECT_KEYS128], &k, sizeof(k));
		}
	} else {
		m.keys_off = (uint32_t)(sect[CPM_SECT_KEYS32].len / sizeof(uint32_t));
		for (uint32_t i = 0; i < n; i++) {
			uint32_t k = (uint32_t)keys[i];

			cp_buf_add(&sect[CPM_SECT_KEYS32], &k, sizeof(k));
		}
	}
	if (vals != NULL) {
		m.vals_off = (uint32_t)(sect[CPM_SECT_VALUES].len / sizeof(uint32_t));
		cp_buf_add(&sect[CPM_SECT_VALUES], vals, ((size_t)n + 1) * sizeof(uint32_t));
	}
	if (n >= IMAP_INDEX_MIN) {
		unsigned int skip = clz_width(keys[0] ^ keys[n - 1], width);
		unsigned int bits = 32 - (unsigned int)__builtin_clz(n);   /* floor(log2 n) + 1 */
		u128 low;
		uint32_t pos = 0;

		if (bits > 16)
			bits = 16;
		if (bits > width - skip)
			bits = width - skip;
		low = width - skip == 128 ? ~(u128)0 : ((u128)1 << (width - skip)) - 1;
		m.skip = (uint8_t)skip;
		m.idx_bits = (uint8_t)bits;
		m.prefix_hi = (uint64_t)((keys[0] & ~low) >> 64);
		m.prefix_lo = (uint64_t)(keys[0] & ~low);
		m.idx_off = (uint32_t)(sect[CPM_SECT_INDEX].len / sizeof(uint32_t));
		for (uint32_t j = 0; j <= (1u << bits); j++) {
			while (pos < n && (uint32_t)(keys[pos] >> (width - skip - bits)) %
					  (1u << bits) < j)
				pos++;
			cp_buf_add(&sect[CPM_SECT_INDEX], &pos, sizeof(pos));
		}
	}
	cp_buf_add(&sect[CPM_SECT_IMAPS], &m, sizeof(m));
	return (uint32_t)(sect[CPM_SECT_IMAPS].len / sizeof(m)) - 1;
}

/* A parity map holding exactly the ranges of s. */
static int
emit_set(struct cp_buf *sect, unsigned int width, const struct rset *s, uint32_t *out)
{
	u128 kmax = width == 128 ? ~(u128)0 : ((u128)1 << width) - 1;
	u128 *keys = malloc((2 * s->n + 1) * sizeof(*keys));
	uint32_t n = 0;

	if (keys == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		keys[n++] = s->v[i].lo;
		if (s->v[i].hi != kmax)
			keys[n++] = s->v[i].hi + 1;
	}
	*out = emit_imap(sect, width, keys, n, NULL);
	free(keys);
	return 0;
}

/* A parity map of the family's CIDRs of a list. */
static int
emit_cidr_set(struct cp_buf *sect, const struct cp_cidrs *c, int fam, uint32_t *out)
{
	struct rset s;
	int rc = cidr_ranges(c, fam, &s);

	if (rc == 0)
		rc = emit_set(sect, fam ? 128 : 32, &s, out);
	free(s.v);
	return rc;
}

/* ---- classes ------------------------------------------------------------------------ */

struct classes {
	uint64_t *w;             /* n * words */
	uint64_t *zh;            /* per class: Zobrist hash of its set */
	uint32_t n, cap, words;
	uint32_t *ht;            /* class id + 1, 0 = free; ht_cap a power of two */
	uint32_t ht_cap;
	size_t max;              /* most classes the budget allows */
	bool oom;
};

static void
ht_put(struct classes *c, uint32_t id)
{
	uint32_t mask = c->ht_cap - 1, i = (uint32_t)c->zh[id] & mask;

	while (c->ht[i] != 0)
		i = (i + 1) & mask;
	c->ht[i] = id + 1;
}

static bool
ht_rebuild(struct classes *c, uint32_t cap)
{
	uint32_t *ht = calloc(cap, sizeof(*ht));

	if (ht == NULL)
		return false;
	free(c->ht);
	c->ht = ht;
	c->ht_cap = cap;
	for (uint32_t i = 0; i < c->n; i++)
		ht_put(c, i);
	return true;
}

/* The id of the class holding exactly bits (Zobrist hash zh); CPM_MAP_ANY
 * when the budget is exhausted or memory is short (c->oom). */
static uint32_t
class_get(struct classes *c, const uint64_t *bits, uint64_t zh)
{
	uint32_t mask = c->ht_cap - 1, i = (uint32_t)zh & mask;
	size_t wb = (size_t)c->words * sizeof(uint64_t);

	for (; c->ht[i] != 0; i = (i + 1) & mask) {
		uint32_t id = c->ht[i] - 1;

		if (c->zh[id] == zh && memcmp(c->w + (size_t)id * c->words, bits, wb) == 0)
			return id;
	}
	if (c->n >= c->max)
		return CPM_MAP_ANY;
	if (c->n == c->cap) {
		uint32_t cap = c->cap ? 2 * c->cap : 64;
		uint64_t *w = realloc(c->w, (size_t)cap * (wb ? wb : 1));
		uint64_t *z = w != NULL ? realloc(c->zh, cap * sizeof(*z)) : NULL;

		if (w != NULL)
			c->w = w;
		if (z == NULL) {
			c->oom = true;
			return CPM_MAP_ANY;
		}
		c->zh = z;
		c->cap = cap;
	}
	memcpy(c->w + (size_t)c->n * c->words, bits, wb);
	c->zh[c->n] = zh;
	c->n++;
	if (c->n * 2 > c->ht_cap) {
		if (!ht_rebuild(c, c->ht_cap * 2)) {
			c->oom = true;
			return CPM_MAP_ANY;
		}
	} else {
		ht_put(c, c->n - 1);
	}
	return c->n - 1;
}

/* Drop the classes from id n on (a dimension that did not fit). */
static void
classes_truncate(struct classes *c, uint32_t n)
{
	c->n = n;
	if (!ht_rebuild(c, c->ht_cap))
		c->oom = true;
}

static uint64_t
zobrist(uint32_t r)
{
	/* splitmix64: a fixed, well-mixed value per rule (every hit is compared in full) */
	uint64_t z = (uint64_t)r * UINT64_C(0x9e3779b97f4a7c15) + UINT64_C(0x632be59bd9b4e019);

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

struct ev {
	u128 key;
	uint32_t rule;
};

static int
ev_cmp(const void *a, const void *b)
{
	const struct ev *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

/*
 * One dimension: sets[r] are rule r's ranges (NULL: no condition, the rule
 * holds everywhere). Emits a valued map and returns its index, or
 * CPM_MAP_ANY when the dimension does not fit the budget. *base_class (if
 * not NULL) gets the class of the rules without a condition.
 */
static uint32_t
build_dim(struct classes *c, struct cp_buf *sect, unsigned int width,
	  const struct rset *const *sets, uint32_t n_rules, uint32_t *base_class)
{
	u128 kmax = width == 128 ? ~(u128)0 : ((u128)1 << width) - 1;
	uint32_t saved = c->n, nk = 0, map = CPM_MAP_ANY, cls;
	uint64_t *cur = calloc(c->words ? c->words : 1, sizeof(*cur)), zh = 0;
	struct ev *ev = NULL;
	u128 *keys = NULL;
	uint32_t *vals = NULL;
	size_t nev = 0, i;

	if (cur == NULL)
		goto oom;
	for (uint32_t r = 0; r < n_rules; r++) {
		if (sets[r] == NULL) {
			cur[r / 64] |= UINT64_C(1) << (r % 64);
			zh ^= zobrist(r);
			continue;
		}
		for (i = 0; i < sets[r]->n; i++)
			nev += sets[r]->v[i].hi == kmax ? 1 : 2;
	}
	if (base_class != NULL) {
		*base_class = class_get(c, cur, zh);
		if (*base_class == CPM_MAP_ANY)
			goto out;
	}
	if ((uint64_t)(nev + 1) * (c->words + 1) > SWEEP_WORK_MAX)
		goto out;
	ev = malloc((nev ? nev : 1) * sizeof(*ev));
	keys = malloc((nev ? nev : 1) * sizeof(*keys));
	vals = malloc((nev + 1) * sizeof(*vals));
	if (ev == NULL || keys == NULL || vals == NULL)
		goto oom;
	nev = 0;
	for (uint32_t r = 0; r < n_rules; r++) {
		if (sets[r] == NULL)
			continue;
		for (i = 0; i < sets[r]->n; i++) {
			ev[nev++] = (struct ev){ sets[r]->v[i].lo, r };
			if (sets[r]->v[i].hi != kmax)
				ev[nev++] = (struct ev){ sets[r]->v[i].hi + 1, r };
		}
	}
	qsort(ev, nev, sizeof(*ev), ev_cmp);
	/* a rule's ranges are disjoint and not adjacent: at one key it enters or leaves */
	for (i = 0; i < nev && ev[i].key == 0; i++) {
		cur[ev[i].rule / 64] ^= UINT64_C(1) << (ev[i].rule % 64);
		zh ^= zobrist(ev[i].rule);
	}
	vals[0] = class_get(c, cur, zh);
	if (vals[0] == CPM_MAP_ANY)
		goto drop;
	while (i < nev) {
		u128 k = ev[i].key;

		for (; i < nev && ev[i].key == k; i++) {
			cur[ev[i].rule / 64] ^= UINT64_C(1) << (ev[i].rule % 64);
			zh ^= zobrist(ev[i].rule);
		}
		cls = class_get(c, cur, zh);
		if (cls == CPM_MAP_ANY)
			goto drop;
		if (cls == vals[nk])
			continue;        /* same rules on both sides: no boundary */
		keys[nk] = k;
		vals[++nk] = cls;
	}
	map = emit_imap(sect, width, keys, nk, vals);
	goto out;

drop:
	if (base_class != NULL && *base_class >= saved)
		saved = *base_class + 1;    /* keep the base class */
	classes_truncate(c, saved);
	goto out;
oom:
	c->oom = true;
out:
	free(cur);
	free(ev);
	free(keys);
	free(vals);
	return map;
}

/* ---- rules ----------------------------------------------------------------------------- */

struct rule_sets {
	struct rset src[2], dst[2], ports;
};

static void
rule_sets_free(struct rule_sets *rs, size_t n)
{
	for (size_t i = 0; rs != NULL && i < n; i++) {
		for (int f = 0; f < 2; f++) {
			free(rs[i].src[f].v);
			free(rs[i].dst[f].v);
		}
		free(rs[i].ports.v);
	}
	free(rs);
}

static bool
proto_ok(uint8_t proto, enum cpm_l4 l4)
{
	switch (proto) {
	case CPM_PROTO_ANY:
		return true;
	case CPM_PROTO_TCP:
		return l4 == CPM_L4_TCP;
	case CPM_PROTO_UDP:
		return l4 == CPM_L4_UDP;
	case CPM_PROTO_ICMP:
		return l4 == CPM_L4_ICMP;
	}
	return false;
}

static int
proto_classes(struct classes *c, const struct cpm_blob_rule *rules, uint32_t n_rules,
	      struct cpm_blob_dims *d)
{
	uint64_t *bits = calloc(c->words ? c->words : 1, sizeof(*bits));

	if (bits == NULL)
		return -ENOMEM;
	for (int l4 = 0; l4 < CPM_L4_MAX; l4++) {
		for (int sp = 0; sp < CPM_SPACE_MAX; sp++) {
			uint64_t zh = 0;
			uint32_t id;

			memset(bits, 0, (size_t)c->words * sizeof(*bits));
			for (uint32_t r = 0; r < n_rules; r++) {
				bool named = rules[r].flags & CPM_RULE_F_ALL;
				/* names come from TCP (SNI, Host) and UDP (QUIC SNI) */
				bool name_here = l4 == CPM_L4_TCP ||
						 (l4 == CPM_L4_UDP && (rules[r].flags & CPM_RULE_F_SNI));

				/* name rules only when classifying, and where a name can come from */
				if (!proto_ok(rules[r].proto, (enum cpm_l4)l4) ||
				    (named && (sp != CPM_SPACE_ALL || !name_here)))
					continue;
				bits[r / 64] |= UINT64_C(1) << (r % 64);
				zh ^= zobrist(r);
			}
			/* never over budget: there is room for these few (see cp_l34_build) */
			id = class_get(c, bits, zh);
			if (id == CPM_MAP_ANY) {
				free(bits);
				return -ENOMEM;
			}
			d->proto[0][l4][sp] = d->proto[1][l4][sp] = id;
		}
	}
	free(bits);
	return 0;
}

int
cp_l34_build(const struct cp_config *cfg, struct cpm_blob_hdr *h,
	     struct cpm_blob_rule *rules, struct cp_buf *sect)
{
	uint32_t n = (uint32_t)cfg->n_rules;
	struct classes c = { .words = (n + 63) / 64 };
	struct rule_sets *rs = calloc(n ? n : 1, sizeof(*rs));
	const struct rset **sets = calloc(n ? n : 1, sizeof(*sets));
	struct cpm_blob_dims *d = &h->dims;
	int rc = -ENOMEM;

	if (rs == NULL || sets == NULL)
		goto out;
	/* each rule's own sets, for its exact check */
	for (uint32_t i = 0; i < n; i++) {
		const struct cp_rule *r = &cfg->rules[i];

		rules[i].src[0] = rules[i].src[1] = CPM_MAP_ANY;
		rules[i].dst[0] = rules[i].dst[1] = CPM_MAP_ANY;
		rules[i].ports = CPM_MAP_ANY;
		for (int f = 0; f < 2; f++) {
			if (r->has_src && (cidr_ranges(&r->src, f, &rs[i].src[f]) != 0 ||
					   emit_set(sect, f ? 128 : 32, &rs[i].src[f], &rules[i].src[f]) != 0))
				goto out;
			if (r->has_dst && (cidr_ranges(&r->dst, f, &rs[i].dst[f]) != 0 ||
					   emit_set(sect, f ? 128 : 32, &rs[i].dst[f], &rules[i].dst[f]) != 0))
				goto out;
		}
		if (r->dport.n != 0 && (port_ranges(&r->dport, &rs[i].ports) != 0 ||
					emit_set(sect, 16, &rs[i].ports, &rules[i].ports) != 0))
			goto out;
	}
	/* internal (absent: every initiator) and trusted (absent: nobody) */
	h->internal[0] = h->internal[1] = CPM_MAP_ANY;
	for (int f = 0; f < 2; f++) {
		if (!cfg->internal_all && emit_cidr_set(sect, &cfg->internal, f, &h->internal[f]) != 0)
			goto out;
		if (emit_cidr_set(sect, &cfg->trusted, f, &h->trusted[f]) != 0)
			goto out;
	}

	/* classes: the protocol's always (at most 4 x 2), then each dimension that fits */
	c.max = 2 * CPM_L4_MAX * CPM_SPACE_MAX;
	if (!ht_rebuild(&c, 64) || proto_classes(&c, rules, n, d) != 0)
		goto out;
	c.max = class_budget / ((size_t)(c.words ? c.words : 1) * sizeof(uint64_t));
	if (c.max > UINT32_MAX - 1)
		c.max = UINT32_MAX - 1;
	for (uint32_t i = 0; i < n; i++)
		sets[i] = cfg->rules[i].dport.n != 0 ? &rs[i].ports : NULL;
	d->port = build_dim(&c, sect, 16, sets, n, &d->noport_class);
	if (d->port == CPM_MAP_ANY)
		d->noport_class = 0;
	for (int f = 0; f < 2; f++) {
		for (uint32_t i = 0; i < n; i++)
			/* a pinned rule's dst is its binding, not a condition: every class holds it */
			sets[i] = cfg->rules[i].has_dst && cfg->rules[i].bind != CPM_BIND_PINNED ?
				  &rs[i].dst[f] : NULL;
		d->dst[f] = build_dim(&c, sect, f ? 128 : 32, sets, n, NULL);
	}
	for (int f = 0; f < 2; f++) {
		for (uint32_t i = 0; i < n; i++)
			sets[i] = cfg->rules[i].has_src ? &rs[i].src[f] : NULL;
		d->src[f] = build_dim(&c, sect, f ? 128 : 32, sets, n, NULL);
	}
	if (c.oom)
		goto out;
	d->n_classes = c.n;
	d->class_words = c.words;
	cp_buf_add(&sect[CPM_SECT_CLASSES], c.w, (size_t)c.n * c.words * sizeof(uint64_t));
	rc = 0;
	for (int i = 0; i < CPM_SECT_MAX; i++)
		if (sect[i].oom)
			rc = -ENOMEM;
out:
	rule_sets_free(rs, n);
	free(sets);
	free(c.w);
	free(c.zh);
	free(c.ht);
	return rc;
}
