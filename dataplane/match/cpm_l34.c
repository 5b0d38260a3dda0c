/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cpm_l34.c: address, port and protocol conditions over the blob's interval
 * maps, and the rule walk over its rule classes (layout and reasoning in
 * cpm_blob.h).
 *
 * Membership of an address in a set of 100,000 CIDRs costs one index read
 * and a binary search of one bucket; the first rule whose address, port and
 * protocol conditions hold is the first set bit of the AND of four class
 * bitsets, found through a one-bit-per-word summary. Neither walks the
 * entries nor the rules.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cpm_int.h"

typedef unsigned __int128 u128;

static inline u128
k128(const struct cpm_blob_k128 *k)
{
	return (u128)k->hi << 64 | k->lo;
}

static inline uint32_t
be32(const uint8_t *a)
{
	return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

static inline u128
be128(const uint8_t *a)
{
	uint64_t hi, lo;

	memcpy(&hi, a, 8);
	memcpy(&lo, a + 8, 8);
	return (u128)__builtin_bswap64(hi) << 64 | __builtin_bswap64(lo);
}

/* ---- interval maps ----------------------------------------------------------- */

/* Position of the first boundary in b[lo, hi) greater than k. */
static inline uint32_t
ub32(const uint32_t *b, uint32_t lo, uint32_t hi, uint32_t k)
{
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (b[mid] <= k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static inline uint32_t
ub128(const struct cpm_blob_k128 *b, uint32_t lo, uint32_t hi, u128 k)
{
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (k128(&b[mid]) <= k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* c(k) of a 16/32-bit map: the number of boundaries <= k. */
static uint32_t
pos32(const struct cpm_policy *p, const struct cpm_blob_imap *m, uint32_t k)
{
	const uint32_t *b = p->keys32 + m->keys_off;
	const uint32_t *idx;
	unsigned int w = m->width;
	uint32_t j;

	if (m->idx_bits == 0)
		return ub32(b, 0, m->n, k);
	if (m->skip != 0) {
		uint32_t top = k >> (w - m->skip);
		uint32_t ptop = (uint32_t)m->prefix_lo >> (w - m->skip);

		if (top != ptop)
			return top < ptop ? 0 : m->n;
	}
	j = (k >> (w - m->skip - m->idx_bits)) & ((1u << m->idx_bits) - 1);
	idx = p->index + m->idx_off;
	return ub32(b, idx[j], idx[j + 1], k);
}

static uint32_t
pos128(const struct cpm_policy *p, const struct cpm_blob_imap *m, u128 k)
{
	const struct cpm_blob_k128 *b = p->keys128 + m->keys_off;
	const uint32_t *idx;
	uint32_t j;

	if (m->idx_bits == 0)
		return ub128(b, 0, m->n, k);
	if (m->skip != 0) {
		u128 top = k >> (128 - m->skip);
		u128 ptop = ((u128)m->prefix_hi << 64 | m->prefix_lo) >> (128 - m->skip);

		if (top != ptop)
			return top < ptop ? 0 : m->n;
	}
	j = (uint32_t)(k >> (128 - m->skip - m->idx_bits)) & ((1u << m->idx_bits) - 1);
	idx = p->index + m->idx_off;
	return ub128(b, idx[j], idx[j + 1], k);
}

/* Interval of an address (network order, fam 0: 4 bytes, 1: 16 bytes). */
static inline uint32_t
pos_addr(const struct cpm_policy *p, uint32_t map, int fam, const uint8_t *addr)
{
	const struct cpm_blob_imap *m = &p->imaps[map];

	return fam == 0 ? pos32(p, m, be32(addr)) : pos128(p, m, be128(addr));
}

bool
cpm_addr_in(const struct cpm_policy *p, const uint32_t maps[2], int fam, const uint8_t *addr)
{
	return pos_addr(p, maps[fam], fam, addr) & 1;
}

static inline enum cpm_l4
l4_of(const struct cpm_query *q)
{
	switch (q->l4proto) {
	case IPPROTO_TCP_:
		return CPM_L4_TCP;
	case IPPROTO_UDP_:
		return CPM_L4_UDP;
	case IPPROTO_ICMP_:
		return q->family == 4 ? CPM_L4_ICMP : CPM_L4_OTHER;
	case IPPROTO_ICMPV6_:
		return q->family == 6 ? CPM_L4_ICMP : CPM_L4_OTHER;
	}
	return CPM_L4_OTHER;
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

/* The rule's own address, port and protocol conditions (no classes). */
bool
cpm_l34_holds(const struct cpm_policy *p, const struct cpm_blob_rule *r,
	      const struct cpm_query *q)
{
	enum cpm_l4 l4 = l4_of(q);
	int fam = cpm_fam(q);

	if (fam < 0 || !proto_ok(r->proto, l4))
		return false;
	if (r->src[0] != CPM_MAP_ANY && !cpm_addr_in(p, r->src, fam, q->src))
		return false;
	/* a pinned rule's dst is its binding, checked after the match (cpm_rule_pin_holds) */
	if (r->dst[0] != CPM_MAP_ANY && r->bind != CPM_BIND_PINNED &&
	    !cpm_addr_in(p, r->dst, fam, q->dst))
		return false;
	if (r->ports != CPM_MAP_ANY) {
		if (l4 != CPM_L4_TCP && l4 != CPM_L4_UDP)
			return false;
		if (!(pos32(p, &p->imaps[r->ports], q->dport) & 1))
			return false;
	}
	return true;
}

/* ---- the rule walk ------------------------------------------------------------- */

/* The lowest bit in [lo, hi) set in each of the k classes, or CPM_NONE. */
static uint32_t
first_common(const struct cpm_policy *p, const uint32_t *cls, unsigned int k,
	     uint32_t lo, uint32_t hi)
{
	const uint64_t *wd[4], *ag[4];
	uint32_t w_lo, w_hi;

	for (unsigned int i = 0; i < k; i++) {
		const struct cpm_class_span *s = &p->span[cls[i]];

		lo = s->first > lo ? s->first : lo;
		hi = s->end < hi ? s->end : hi;
		wd[i] = p->classes + (size_t)cls[i] * p->words;
		ag[i] = p->agg + (size_t)cls[i] * p->agg_words;
	}
	if (lo >= hi)
		return CPM_NONE;
	w_lo = lo / 64;
	w_hi = (hi - 1) / 64;
	for (uint32_t a = w_lo / 64; a <= w_hi / 64; a++) {
		uint64_t am = ~UINT64_C(0);

		for (unsigned int i = 0; i < k; i++)
			am &= ag[i][a];
		if (a == w_lo / 64)
			am &= ~UINT64_C(0) << (w_lo % 64);
		if (a == w_hi / 64)
			am &= ~UINT64_C(0) >> (63 - w_hi % 64);
		while (am != 0) {
			uint32_t w = a * 64 + (uint32_t)__builtin_ctzll(am);
			uint64_t m = ~UINT64_C(0);

			am &= am - 1;
			for (unsigned int i = 0; i < k; i++)
				m &= wd[i][w];
			if (w == w_lo)
				m &= ~UINT64_C(0) << (lo % 64);
			if (w == w_hi)
				m &= ~UINT64_C(0) >> (63 - (hi - 1) % 64);
			if (m != 0)
				return w * 64 + (uint32_t)__builtin_ctzll(m);
		}
	}
	return CPM_NONE;
}

/*
 * The first rule below limit whose address, port and protocol conditions
 * hold for q, among the rules of the space (CPM_NONE if none). q->family
 * must be 4 or 6.
 */
uint32_t
cpm_l34_first(const struct cpm_policy *p, const struct cpm_query *q,
	      enum cpm_space space, uint32_t limit)
{
	const struct cpm_blob_dims *d = &p->hdr->dims;
	enum cpm_l4 l4 = l4_of(q);
	int fam = cpm_fam(q);
	uint32_t cls[4], from = 0;
	unsigned int k = 0;

	if (p->n_rules == 0 || fam < 0)
		return CPM_NONE;
	if (limit > p->n_rules)
		limit = p->n_rules;
	cls[k++] = d->proto[fam][l4][space];
	if (d->port != CPM_MAP_ANY)
		cls[k++] = l4 == CPM_L4_TCP || l4 == CPM_L4_UDP ?
			   p->values[p->imaps[d->port].vals_off +
				     pos32(p, &p->imaps[d->port], q->dport)] :
			   d->noport_class;
	if (d->src[fam] != CPM_MAP_ANY)
		cls[k++] = p->values[p->imaps[d->src[fam]].vals_off +
				     pos_addr(p, d->src[fam], fam, q->src)];
	if (d->dst[fam] != CPM_MAP_ANY)
		cls[k++] = p->values[p->imaps[d->dst[fam]].vals_off +
				     pos_addr(p, d->dst[fam], fam, q->dst)];
	for (;;) {
		uint32_t r = first_common(p, cls, k, from, limit);

		/* a dimension left out of the classes: confirm with the rule's own sets */
		if (r == CPM_NONE || (d->port != CPM_MAP_ANY && d->src[fam] != CPM_MAP_ANY &&
				      d->dst[fam] != CPM_MAP_ANY) ||
		    cpm_l34_holds(p, &p->rules[r], q))
			return r;
		from = r + 1;
	}
}

/* ---- validation on load ---------------------------------------------------------- */

/* Bucket of a key: bits [skip, skip + idx_bits) of the width-bit key. */
static uint32_t
bucket_of(const struct cpm_blob_imap *m, u128 k)
{
	return (uint32_t)(k >> (m->width - m->skip - m->idx_bits)) & ((1u << m->idx_bits) - 1);
}

static u128
key_at(const struct cpm_policy *p, const struct cpm_blob_imap *m, uint32_t i)
{
	return m->width == 128 ? k128(&p->keys128[m->keys_off + i]) : p->keys32[m->keys_off + i];
}

static int
check_imap(const struct cpm_policy *p, uint32_t i, char *err, size_t errlen)
{
	const struct cpm_blob_imap *m = &p->imaps[i];
	u128 prefix = (u128)m->prefix_hi << 64 | m->prefix_lo, kmax;
	uint64_t nkeys;

	if ((m->width != 16 && m->width != 32 && m->width != 128) || m->valued > 1 ||
	    m->pad != 0 || m->idx_bits > 16 || m->skip + m->idx_bits > m->width)
		return cpm_fail(err, errlen, "policy blob: address/port map %u: bad header", i);
	kmax = m->width == 128 ? ~(u128)0 : ((u128)1 << m->width) - 1;
	nkeys = m->width == 128 ? p->n_keys128 : p->n_keys32;
	if (!cpm_range_ok(m->keys_off, m->n, nkeys))
		return cpm_fail(err, errlen, "policy blob: address/port map %u: keys out of range", i);
	for (uint32_t j = 0; j < m->n; j++) {
		u128 k = key_at(p, m, j);

		if (k > kmax || (j > 0 && k <= key_at(p, m, j - 1)))
			return cpm_fail(err, errlen,
					"policy blob: address/port map %u: keys not ascending", i);
	}
	if (m->valued) {
		if (!cpm_range_ok(m->vals_off, (uint64_t)m->n + 1, p->n_values))
			return cpm_fail(err, errlen,
					"policy blob: address/port map %u: values out of range", i);
		for (uint64_t j = 0; j <= m->n; j++)
			if (p->values[m->vals_off + j] >= p->n_classes)
				return cpm_fail(err, errlen,
						"policy blob: address/port map %u: bad class", i);
	} else if (m->vals_off != 0) {
		return cpm_fail(err, errlen, "policy blob: address/port map %u: bad header", i);
	}
	if (m->idx_bits == 0) {
		if (m->skip != 0 || m->idx_off != 0 || prefix != 0)
			return cpm_fail(err, errlen, "policy blob: address/port map %u: bad header", i);
		return 0;
	}
	{
		uint32_t nb = 1u << m->idx_bits, pos = 0;
		const uint32_t *idx = p->index + m->idx_off;
		u128 low = m->width - m->skip == 128 ? ~(u128)0
						      : ((u128)1 << (m->width - m->skip)) - 1;

		/* the prefix is the shared top bits, nothing else, and every key has them */
		if (prefix > kmax || (prefix & low) != 0 ||
		    !cpm_range_ok(m->idx_off, (uint64_t)nb + 1, p->n_index))
			return cpm_fail(err, errlen, "policy blob: address/port map %u: bad index", i);
		for (uint32_t j = 0; j < m->n; j++)
			if ((key_at(p, m, j) & ~low) != prefix)
				return cpm_fail(err, errlen,
						"policy blob: address/port map %u: key outside its prefix", i);
		for (uint32_t j = 0; j <= nb; j++) {
			while (pos < m->n && bucket_of(m, key_at(p, m, pos)) < j)
				pos++;
			if (idx[j] != pos)
				return cpm_fail(err, errlen,
						"policy blob: address/port map %u: bad index", i);
		}
	}
	return 0;
}

/* maps[0..1] are both CPM_MAP_ANY (if any_ok), or a v4 and a v6 parity map. */
static bool
set_pair_ok(const struct cpm_policy *p, const uint32_t maps[2], bool any_ok)
{
	if (maps[0] == CPM_MAP_ANY && maps[1] == CPM_MAP_ANY)
		return any_ok;
	for (int f = 0; f < 2; f++) {
		if (maps[f] >= p->n_imaps || p->imaps[maps[f]].valued ||
		    p->imaps[maps[f]].width != (f == 0 ? 32 : 128))
			return false;
	}
	return true;
}

static bool
map_ok(const struct cpm_policy *p, uint32_t map, unsigned int width, bool valued)
{
	return map < p->n_imaps && p->imaps[map].width == width &&
	       p->imaps[map].valued == (valued ? 1 : 0);
}

static int
check_dims(struct cpm_policy *p, char *err, size_t errlen)
{
	const struct cpm_blob_dims *d = &p->hdr->dims;
	uint64_t words = ((uint64_t)p->n_rules + 63) / 64;

	/* without rules a class has no words: then there is exactly one (empty) class */
	if (d->n_classes == 0 || d->class_words != words || (words == 0 && d->n_classes != 1) ||
	    p->hdr->sect[CPM_SECT_CLASSES].len != (uint64_t)d->n_classes * words * 8)
		return cpm_fail(err, errlen, "policy blob: rule classes do not match the rule count");
	for (int f = 0; f < 2; f++)
		for (int l = 0; l < CPM_L4_MAX; l++)
			for (int s = 0; s < CPM_SPACE_MAX; s++)
				if (d->proto[f][l][s] >= d->n_classes)
					return cpm_fail(err, errlen, "policy blob: bad protocol class");
	if (d->port == CPM_MAP_ANY ? d->noport_class != 0
				   : !map_ok(p, d->port, 16, true) || d->noport_class >= d->n_classes)
		return cpm_fail(err, errlen, "policy blob: bad port dimension");
	for (int f = 0; f < 2; f++)
		if ((d->src[f] != CPM_MAP_ANY && !map_ok(p, d->src[f], f ? 128 : 32, true)) ||
		    (d->dst[f] != CPM_MAP_ANY && !map_ok(p, d->dst[f], f ? 128 : 32, true)))
			return cpm_fail(err, errlen, "policy blob: bad address dimension");
	if (words != 0 && p->n_rules % 64 != 0) {
		uint64_t spare = ~UINT64_C(0) << (p->n_rules % 64);

		for (uint32_t c = 0; c < d->n_classes; c++)
			if (p->classes[(size_t)c * words + words - 1] & spare)
				return cpm_fail(err, errlen,
						"policy blob: rule class %u names rules that do not exist", c);
	}
	return 0;
}

/* Summaries and spans of the classes (heap, never in the blob). */
static int
build_spans(struct cpm_policy *p)
{
	p->agg_words = (p->words + 63) / 64;
	p->agg = calloc((size_t)p->n_classes * (p->agg_words ? p->agg_words : 1), sizeof(uint64_t));
	p->span = calloc(p->n_classes, sizeof(*p->span));
	if (p->agg == NULL || p->span == NULL)
		return -ENOMEM;
	for (uint32_t c = 0; c < p->n_classes; c++) {
		const uint64_t *w = p->classes + (size_t)c * p->words;
		uint64_t *a = p->agg + (size_t)c * p->agg_words;
		bool any = false;

		for (uint32_t i = 0; i < p->words; i++) {
			if (w[i] == 0)
				continue;
			a[i / 64] |= UINT64_C(1) << (i % 64);
			if (!any)
				p->span[c].first = i * 64 + (uint32_t)__builtin_ctzll(w[i]);
			p->span[c].end = i * 64 + 64 - (uint32_t)__builtin_clzll(w[i]);
			any = true;
		}
	}
	return 0;
}

int
cpm_l34_check(struct cpm_policy *p, char *err, size_t errlen)
{
	const struct cpm_blob_hdr *h = p->hdr;
	int rc;

	p->n_classes = h->dims.n_classes;
	p->words = h->dims.class_words;
	for (uint32_t i = 0; i < p->n_imaps; i++) {
		rc = check_imap(p, i, err, errlen);
		if (rc != 0)
			return rc;
	}
	for (uint32_t i = 0; i < p->n_rules; i++) {
		const struct cpm_blob_rule *r = &p->rules[i];

		if (!set_pair_ok(p, r->src, true) || !set_pair_ok(p, r->dst, true) ||
		    (r->ports != CPM_MAP_ANY && !map_ok(p, r->ports, 16, false)))
			return cpm_fail(err, errlen, "policy blob: rule %u: bad address/port set", i);
	}
	if (!set_pair_ok(p, h->internal, true) || !set_pair_ok(p, h->trusted, false))
		return cpm_fail(err, errlen, "policy blob: bad internal/trusted sets");
	rc = check_dims(p, err, errlen);
	if (rc != 0)
		return rc;
	return build_spans(p);
}

void
cpm_l34_release(struct cpm_policy *p)
{
	free(p->agg);
	free(p->span);
	p->agg = NULL;
	p->span = NULL;
}
