/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cpm.c: the one policy matcher over a compiled blob (layout: cpm_blob.h):
 * names, decisions, load. Address/port sets and the rule walk: cpm_l34.c.
 *
 * cpm_policy_load() trusts nothing in the blob: every offset, length, count
 * and index is checked against the blob before use, and the Hyperscan
 * bytecode must match its SHA-256 and our Hyperscan version. After a
 * successful load, the lookups below index the blob without further checks.
 *
 * Cost of a decision, whatever the number of names, CIDRs or rules:
 *   names   one probe per label of the flow's name (prefetched together);
 *   regex   one Hyperscan scan, skipped when a lower rule already decided;
 *   L3/L4   four interval-map lookups and the first set bit of four ANDed
 *           rule classes (cpm_l34.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>
#include <openssl/evp.h>

#include "cpm.h"
#include "cpm_blob.h"
#include "cpm_int.h"
#include "dp_proto.h"

/* Tables with at least this many keys get a filter (smaller ones stay in cache). */
#ifndef CPM_FILTER_MIN_KEYS
#define CPM_FILTER_MIN_KEYS 16384
#endif
/* Filter bits per key: ~1.2 MB per million keys (fits L2), ~3% false positives. */
#define CPM_FILTER_BITS_PER_KEY 8

/* Longest query name cpm_match() considers for name conditions. */
#define CPM_MATCH_NAME_MAX 1024
/* Most probes of one name: the whole name and one per parent domain. */
#define CPM_PROBES_MAX (CPM_MATCH_NAME_MAX / 2 + 1)

struct cpm_probe {
	uint64_t hash;
	uint32_t off;                /* suffix start in the normalised name */
	uint8_t kind;
};

struct cpm_scratch {
	const struct cpm_policy *p;
	hs_scratch_t *hs;
	char name[CPM_MATCH_NAME_MAX + 1];
	struct cpm_probe probe[CPM_PROBES_MAX];
};

int
cpm_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* ---- names ---------------------------------------------------------------- */

static inline char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static inline bool
name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '-' || c == '_' || c == '*';
}

int
cpm_normalise_name(const char *in, size_t len, char *out, size_t outlen)
{
	bool bad = false;
	size_t i;

	if (out == NULL || outlen == 0)
		return -1;
	if (in == NULL)
		len = 0;
	if (len > 0 && in[len - 1] == '.')
		len--;
	for (i = 0; i < len && i < outlen - 1; i++) {
		out[i] = lower(in[i]);
		if (!name_char_ok(out[i]))
			bad = true;
	}
	out[i] = '\0';
	if (bad || i < len)
		return -1;
	return (int)len;
}

/*
 * The name filter: a blocked Bloom filter over the hashes of the table's
 * keys, built on load (never in the blob). A lookup of a.b.c probes one key
 * per label and most of them are absent (only the matching suffix, if any,
 * is there); in a table of a million names each absent probe would be a
 * cache and TLB miss. The filter answers "absent" for ~97% of them from one
 * 64-bit word of a structure small enough to stay in L2. One word per key,
 * three bits in it: the word from the hash remixed, the bits from its low
 * 18 bits (the home slot uses its high bits).
 */
static inline uint64_t
filter_mask(uint64_t h)
{
	return UINT64_C(1) << (h & 63) | UINT64_C(1) << ((h >> 6) & 63) |
	       UINT64_C(1) << ((h >> 12) & 63);
}

static inline const uint64_t *
filter_word(const struct cpm_policy *p, uint64_t h)
{
	return &p->filter[cpm_blob_name_home(h * UINT64_C(0x9e3779b97f4a7c15), p->filter_words)];
}

static inline bool
filter_may_have(const struct cpm_policy *p, uint64_t h)
{
	uint64_t m = filter_mask(h);

	return p->filter == NULL || (*filter_word(p, h) & m) == m;
}

static int
build_filter(struct cpm_policy *p, uint64_t keys)
{
	if (keys < CPM_FILTER_MIN_KEYS)
		return 0;
	p->filter_words = (keys * CPM_FILTER_BITS_PER_KEY + 63) / 64;
	p->filter = calloc(p->filter_words, sizeof(uint64_t));
	if (p->filter == NULL)
		return -ENOMEM;
	for (uint64_t i = 0; i < p->n_slots; i++)
		if (p->names[i].val != CPM_NV_EMPTY)
			*(uint64_t *)filter_word(p, p->names[i].hash) |= filter_mask(p->names[i].hash);
	return 0;
}

/*
 * The ECH and DoH names are a handful among possibly millions: their slots'
 * hashes, sorted, in a small array of their own, so the DoH check of every
 * new flow (one probe per label) and the ECH check search a few cache lines
 * instead of the filter's and the table's random ones.
 */
static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
build_special(struct cpm_policy *p, uint64_t n)
{
	uint32_t k = 0;

	if (n == 0)
		return 0;
	p->special = malloc(n * sizeof(uint64_t));
	if (p->special == NULL)
		return -ENOMEM;
	for (uint64_t i = 0; i < p->n_slots && k < n; i++)
		if (p->names[i].val == CPM_NV_ECH || p->names[i].val == CPM_NV_DOH)
			p->special[k++] = p->names[i].hash;
	qsort(p->special, k, sizeof(uint64_t), cmp_u64);
	p->n_special = k;
	return 0;
}

static bool
special_may_have(const struct cpm_policy *p, uint64_t h)
{
	uint32_t lo = 0, hi = p->n_special;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (p->special[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < p->n_special && p->special[lo] == h;
}

/*
 * The slot of (kind, field, name) whose hash is h, or NULL. A slot whose
 * 64-bit hash matches is confirmed by the independent 32-bit check.
 */
static const struct cpm_blob_name *
name_find_h(const struct cpm_policy *p, uint64_t h, uint8_t kind, uint8_t field,
	    const char *name, size_t len)
{
	uint64_t i = cpm_blob_name_home(h, p->n_slots);
	uint32_t check = 0;
	bool have_check = false;

	for (uint64_t n = 0; n < p->n_slots; n++, i = i + 1 == p->n_slots ? 0 : i + 1) {
		const struct cpm_blob_name *e = &p->names[i];

		if (e->val == CPM_NV_EMPTY)
			return NULL;
		if (e->hash != h)
			continue;
		if (!have_check) {
			check = (uint32_t)cpm_blob_name_hash(p->hdr->check_key, kind, field,
							     name, len);
			have_check = true;
		}
		if (e->check == check)
			return e;
	}
	return NULL;
}

static const struct cpm_blob_name *
name_find(const struct cpm_policy *p, uint8_t kind, uint8_t field, const char *name, size_t len)
{
	uint64_t h;

	if (p->n_slots == 0)
		return NULL;
	h = cpm_blob_name_hash(p->hdr->siphash_key, kind, field, name, len);
	if (!filter_may_have(p, h))
		return NULL;
	return name_find_h(p, h, kind, field, name, len);
}

/* name_find() for the ECH and DoH kinds, from their own small array */
static const struct cpm_blob_name *
special_find(const struct cpm_policy *p, uint8_t kind, uint8_t field, const char *name,
	     size_t len)
{
	uint64_t h = cpm_blob_name_hash(p->hdr->siphash_key, kind, field, name, len);

	if (!special_may_have(p, h))
		return NULL;
	return name_find_h(p, h, kind, field, name, len);
}

int
cpm_name_probe(const struct cpm_policy *p, uint8_t kind, uint8_t field, const char *name,
	       size_t len)
{
	return name_find(p, kind, field, name, len) != NULL;
}

int
cpm_is_ech_public_name(const struct cpm_policy *p, const char *name, size_t len)
{
	const struct cpm_blob_name *e;
	char buf[CPM_NAME_MAX + 2];
	int n;

	if (p == NULL || p->hdr->n_ech == 0 || name == NULL || len == 0 ||
	    len > CPM_NAME_MAX + 1)
		return 0;
	n = cpm_normalise_name(name, len, buf, sizeof(buf));
	if (n <= 0)
		return 0;
	e = special_find(p, CPM_NK_ECH, CPM_FIELD_SNI, buf, (size_t)n);
	return e != NULL && e->val == CPM_NV_ECH;
}

int
cpm_is_doh_name(const struct cpm_policy *p, const char *name, size_t len)
{
	const struct cpm_blob_name *e;

	if (p == NULL || p->hdr->n_doh == 0 || name == NULL || len == 0 || len > CPM_NAME_MAX + 1)
		return 0;
	e = special_find(p, CPM_NK_DOH_EXACT, 0, name, len);
	if (e != NULL && e->val == CPM_NV_DOH)
		return 1;
	for (size_t i = 0; i + 1 < len; i++) {
		if (name[i] != '.')
			continue;
		e = special_find(p, CPM_NK_DOH_SUFFIX, 0, name + i + 1, len - i - 1);
		if (e != NULL && e->val == CPM_NV_DOH)
			return 1;
	}
	return 0;
}

uint8_t
cpm_rule_bind(const struct cpm_policy *p, int32_t rule)
{
	if (p == NULL || rule < 0 || (uint32_t)rule >= p->n_rules)
		return CPM_BIND_NONE;
	return p->rules[rule].bind;
}

int
cpm_rule_pin_holds(const struct cpm_policy *p, int32_t rule, const struct cpm_query *q)
{
	const struct cpm_blob_rule *r;
	int fam = cpm_fam(q);

	if (p == NULL || rule < 0 || (uint32_t)rule >= p->n_rules || fam < 0)
		return 0;
	r = &p->rules[rule];
	if (r->dst[0] == CPM_MAP_ANY)
		return 0;
	return cpm_addr_in(p, r->dst, fam, q->dst) ? 1 : 0;
}

/* ---- decisions ------------------------------------------------------------ */

static void
verdict_set(struct cpm_verdict *v, uint8_t action, uint8_t reason, int32_t rule)
{
	v->action = action;
	v->reason = reason;
	v->rule = rule;
}

static void
verdict_default(const struct cpm_policy *p, struct cpm_verdict *v)
{
	verdict_set(v, p->hdr->settings.default_action, CPM_REASON_DEFAULT, -1);
}

static void
verdict_rule(const struct cpm_policy *p, uint32_t r, struct cpm_verdict *v)
{
	if (r == CPM_NONE)
		verdict_default(p, v);
	else
		verdict_set(v, p->rules[r].action, CPM_REASON_RULE, (int32_t)r);
}

/* Decisions made before any rule: trusted, not internal, QUIC. */
static bool
pre_rules(const struct cpm_policy *p, const struct cpm_query *q, struct cpm_verdict *v)
{
	const struct cpm_blob_hdr *h = p->hdr;
	int fam = cpm_fam(q);

	if (fam < 0) {
		/* not IP: no rule can hold */
		verdict_default(p, v);
		return true;
	}
	if (cpm_addr_in(p, h->trusted, fam, q->dst)) {
		verdict_set(v, CPM_ALLOW, CPM_REASON_TRUSTED, -1);
		return true;
	}
	if (h->internal[0] != CPM_MAP_ANY && !cpm_addr_in(p, h->internal, fam, q->src)) {
		verdict_set(v, CPM_ALLOW, CPM_REASON_NOT_INTERNAL, -1);
		return true;
	}
	if (q->l4proto == IPPROTO_UDP_ && q->dport == 443 &&
	    h->settings.quic_action == CPM_DENY) {
		verdict_set(v, CPM_DENY, CPM_REASON_QUIC, -1);
		return true;
	}
	return false;
}

int
cpm_classify_l34(const struct cpm_policy *p, const struct cpm_query *q,
		 struct cpm_verdict *v)
{
	uint32_t r;

	if (pre_rules(p, q, v))
		return CPM_DECIDED;
	/* names come from TCP and, sni only, UDP (QUIC): other protocols' classes hold no name rule */
	r = cpm_l34_first(p, q, CPM_SPACE_ALL, p->n_rules);
	if (r != CPM_NONE && (p->rules[r].flags & CPM_RULE_F_ALL))
		return CPM_NEED_NAME;
	verdict_rule(p, r, v);
	return CPM_DECIDED;
}

/* Lower *best to the first rule of slot e that names field and whose L3/L4 holds. */
static void
take_slot(const struct cpm_policy *p, const struct cpm_blob_name *e, uint32_t fbit,
	  const struct cpm_query *q, uint32_t *best)
{
	const uint32_t *list;
	uint32_t n;

	if (e->val == CPM_NV_ECH || e->val == CPM_NV_DOH)
		return;
	if (e->val & CPM_NV_LIST) {
		list = &p->lists[(e->val & ~CPM_NV_LIST) + 1];
		n = list[-1];
	} else {
		list = &e->val;      /* one rule: val - 1 */
		n = 1;
	}
	for (uint32_t j = 0; j < n; j++) {
		uint32_t r = e->val & CPM_NV_LIST ? list[j] : list[j] - 1;

		if (r >= *best)
			return;      /* lists are ascending */
		if ((p->rules[r].flags & fbit) && cpm_l34_holds(p, &p->rules[r], q)) {
			*best = r;
			return;
		}
	}
}

/*
 * The probes of the name (len > 0) the filter lets through, their home slots
 * loading into the cache; returns their number (names_best() reads them).
 */
static unsigned int
names_probe(const struct cpm_policy *p, struct cpm_scratch *s, uint8_t field,
	    const char *name, size_t len)
{
	unsigned int n = 0;

	if (p->n_slots == 0)
		return 0;
	/*
	 * Every probe's hash first, its filter word into the cache; then those
	 * the filter lets through: home slot into the cache. The misses of one
	 * step overlap instead of following one another.
	 */
	s->probe[n].hash = cpm_blob_name_hash(p->hdr->siphash_key, CPM_NK_EXACT, field, name, len);
	s->probe[n].off = 0;
	s->probe[n].kind = CPM_NK_EXACT;
	if (p->filter != NULL)
		__builtin_prefetch(filter_word(p, s->probe[n].hash));
	n++;
	for (size_t i = 0; i + 1 < len; i++) {
		if (name[i] != '.')
			continue;
		s->probe[n].hash = cpm_blob_name_hash(p->hdr->siphash_key, CPM_NK_SUFFIX, field,
						      name + i + 1, len - i - 1);
		s->probe[n].off = (uint32_t)(i + 1);
		s->probe[n].kind = CPM_NK_SUFFIX;
		if (p->filter != NULL)
			__builtin_prefetch(filter_word(p, s->probe[n].hash));
		n++;
	}
	{
		unsigned int all = n;

		n = 0;
		for (unsigned int i = 0; i < all; i++) {
			if (!filter_may_have(p, s->probe[i].hash))
				continue;
			s->probe[n++] = s->probe[i];
			__builtin_prefetch(&p->names[cpm_blob_name_home(s->probe[i].hash,
									p->n_slots)]);
		}
	}
	return n;
}

/* The first rule below best whose exact/suffix names hold the name: its n probes. */
static uint32_t
names_best(const struct cpm_policy *p, struct cpm_scratch *s, const struct cpm_query *q,
	   unsigned int n, const char *name, size_t len, uint32_t best)
{
	uint8_t field = (uint8_t)q->field;
	uint32_t fbit = field == CPM_FIELD_SNI ? CPM_RULE_F_SNI : CPM_RULE_F_HOST;

	for (unsigned int i = 0; i < n; i++) {
		const struct cpm_probe *pr = &s->probe[i];
		const struct cpm_blob_name *e = name_find_h(p, pr->hash, pr->kind, field,
							    name + pr->off, len - pr->off);

		if (e != NULL)
			take_slot(p, e, fbit, q, &best);
	}
	return best;
}

struct scan_ctx {
	const struct cpm_policy *p;
	const struct cpm_query *q;
	uint32_t field;
	uint32_t fbit;
	uint32_t best;
};

static int
on_regex_match(unsigned int id, unsigned long long from, unsigned long long to,
	       unsigned int flags, void *arg)
{
	struct scan_ctx *c = arg;
	const struct cpm_blob_regex *m;

	if (id >= c->p->n_regex)
		return 0;
	m = &c->p->regex[id];
	if (m->field == c->field && m->rule < c->best &&
	    (c->p->rules[m->rule].flags & c->fbit) &&
	    cpm_l34_holds(c->p, &c->p->rules[m->rule], c->q))
		c->best = m->rule;
	return 0;
}

int
cpm_match(const struct cpm_policy *p, struct cpm_scratch *s,
	  const struct cpm_query *q, struct cpm_verdict *v)
{
	uint32_t best = CPM_NONE;
	unsigned int nprobe = 0;
	size_t len = 0;
	char *name;

	if (s == NULL || s->p != p) {
		verdict_default(p, v);
		return -EINVAL;
	}
	if (pre_rules(p, q, v))
		return 0;
	name = s->name;
	if ((q->field == CPM_FIELD_SNI || q->field == CPM_FIELD_HOST) &&
	    q->name != NULL && q->name_len != 0 && q->name_len <= CPM_MATCH_NAME_MAX) {
		/* invalid bytes still match on the lowered bytes (the caller raises the anomaly) */
		cpm_normalise_name(q->name, q->name_len, name, sizeof(s->name));
		len = strnlen(name, sizeof(s->name));
		if (len != q->name_len - (q->name[q->name_len - 1] == '.'))
			len = 0;     /* an embedded NUL: no DNS name holds one */
	}
	/*
	 * The name's slots load while the name-less rules are walked; the first
	 * of both wins (the slots only ever lower best, in rule order).
	 */
	if (len != 0)
		nprobe = names_probe(p, s, (uint8_t)q->field, name, len);
	best = cpm_l34_first(p, q, CPM_SPACE_NAMELESS, best);
	if (nprobe != 0)
		best = names_best(p, s, q, nprobe, name, len, best);
	if (len != 0 && p->db != NULL && p->regex_min[q->field] < best) {
		struct scan_ctx c = {
			.p = p, .q = q, .field = (uint32_t)q->field,
			.fbit = q->field == CPM_FIELD_SNI ? CPM_RULE_F_SNI : CPM_RULE_F_HOST,
			.best = best,
		};
		hs_error_t rc = hs_scan(p->db, name, (unsigned int)len, 0, s->hs,
					on_regex_match, &c);

		if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED) {
			verdict_default(p, v);
			return -EIO;
		}
		best = c.best;
	}
	verdict_rule(p, best, v);
	return 0;
}

/* ---- accessors ------------------------------------------------------------ */

const struct cpm_settings *
cpm_settings(const struct cpm_policy *p)
{
	return &p->hdr->settings;
}

const uint8_t *
cpm_policy_sha256(const struct cpm_policy *p)
{
	return p->hdr->sha256;
}

uint32_t
cpm_rule_count(const struct cpm_policy *p)
{
	return p->n_rules;
}

const char *
cpm_rule_id(const struct cpm_policy *p, int32_t rule)
{
	if (p == NULL || rule < 0 || (uint32_t)rule >= p->n_rules)
		return NULL;
	return p->strings + p->rules[rule].id_off;
}

size_t
cpm_policy_size(const struct cpm_policy *p)
{
	if (p == NULL)
		return 0;
	return p->len + sizeof(*p) + (p->filter_words + p->n_special) * sizeof(uint64_t) +
	       (size_t)p->n_classes * (p->agg_words * sizeof(uint64_t) + sizeof(*p->span));
}

/* ---- scratch -------------------------------------------------------------- */

struct cpm_scratch *
cpm_scratch_alloc(const struct cpm_policy *p)
{
	struct cpm_scratch *s;

	if (p == NULL) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto err_nomem;
	s->p = p;
	if (p->db != NULL && hs_alloc_scratch(p->db, &s->hs) != HS_SUCCESS)
		goto err_hs;
	return s;

err_hs:
	free(s);
err_nomem:
	errno = ENOMEM;
	return NULL;
}

void
cpm_scratch_free(struct cpm_scratch *s)
{
	if (s == NULL)
		return;
	if (s->hs != NULL)
		hs_free_scratch(s->hs);
	free(s);
}

/* ---- load and validate ---------------------------------------------------- */

static const size_t sect_elem[CPM_SECT_MAX] = {
	[CPM_SECT_RULES] = sizeof(struct cpm_blob_rule),
	[CPM_SECT_STRINGS] = 1,
	[CPM_SECT_NAMES] = sizeof(struct cpm_blob_name),
	[CPM_SECT_RULE_LISTS] = sizeof(uint32_t),
	[CPM_SECT_IMAPS] = sizeof(struct cpm_blob_imap),
	[CPM_SECT_KEYS32] = sizeof(uint32_t),
	[CPM_SECT_KEYS128] = sizeof(struct cpm_blob_k128),
	[CPM_SECT_VALUES] = sizeof(uint32_t),
	[CPM_SECT_INDEX] = sizeof(uint32_t),
	[CPM_SECT_CLASSES] = sizeof(uint64_t),
	[CPM_SECT_REGEX_MAP] = sizeof(struct cpm_blob_regex),
	[CPM_SECT_HSDB] = 1,
};

static const char *const sect_name[CPM_SECT_MAX] = {
	"rules", "strings", "names", "rule lists", "address/port maps", "32-bit keys",
	"128-bit keys", "values", "index", "rule classes", "regex map", "hyperscan database",
};

static int
check_sections(struct cpm_policy *p, char *err, size_t errlen)
{
	const struct cpm_blob_hdr *h = p->hdr;
	uint64_t end = h->hdr_len;

	for (int i = 0; i < CPM_SECT_MAX; i++) {
		const struct cpm_blob_sect *s = &h->sect[i];

		if (s->off % CPM_BLOB_ALIGN != 0 || s->off < end ||
		    s->off - end >= CPM_BLOB_ALIGN)
			return cpm_fail(err, errlen, "policy blob: %s section at bad offset %llu",
					sect_name[i], (unsigned long long)s->off);
		if (!cpm_range_ok(s->off, s->len, p->len))
			return cpm_fail(err, errlen,
					"policy blob: %s section (%llu bytes at %llu) runs past the end (%zu bytes)",
					sect_name[i], (unsigned long long)s->len,
					(unsigned long long)s->off, p->len);
		if (s->len % sect_elem[i] != 0)
			return cpm_fail(err, errlen,
					"policy blob: %s section length %llu is not a multiple of %zu",
					sect_name[i], (unsigned long long)s->len, sect_elem[i]);
		for (uint64_t b = end; b < s->off; b++)
			if (p->blob[b] != 0)
				return cpm_fail(err, errlen,
						"policy blob: non-zero padding before the %s section",
						sect_name[i]);
		end = s->off + s->len;
	}
	if (end != p->len)
		return cpm_fail(err, errlen, "policy blob: sections end at %llu, blob is %zu bytes",
				(unsigned long long)end, p->len);
	return 0;
}

static int
check_settings(const struct cpm_settings *st, char *err, size_t errlen)
{
	const uint8_t act[] = { st->default_action, st->inbound_action, st->quic_action,
				st->table_full_action, st->midstream_action };

	if (st->mode != CPM_MODE_ENFORCE && st->mode != CPM_MODE_MONITOR)
		return cpm_fail(err, errlen, "policy blob: bad mode %u", st->mode);
	for (size_t i = 0; i < sizeof(act); i++)
		if (act[i] != CPM_ALLOW && act[i] != CPM_DENY)
			return cpm_fail(err, errlen, "policy blob: bad action %u in settings", act[i]);
	if (st->no_name_action > CPM_DENY)
		return cpm_fail(err, errlen, "policy blob: bad no_name action %u", st->no_name_action);
	if (st->audit_overflow > CPM_AUDIT_DENY_NEW_FLOWS)
		return cpm_fail(err, errlen, "policy blob: bad audit_overflow %u", st->audit_overflow);
	for (size_t i = 0; i < sizeof(st->reserved); i++)
		if (st->reserved[i] != 0)
			return cpm_fail(err, errlen, "policy blob: reserved settings bytes not zero");
	if (st->revalidate > 1)
		return cpm_fail(err, errlen, "policy blob: bad revalidate %u", st->revalidate);
	if (st->hold_timeout_ms == 0 || st->hold_max_bytes == 0 || st->hold_max_segments == 0 ||
	    st->tcp_established_ms == 0 || st->tcp_halfopen_ms == 0 || st->tcp_closed_ms == 0 ||
	    st->udp_ms == 0 || st->other_ms == 0)
		return cpm_fail(err, errlen, "policy blob: a hold bound or timeout is zero");
	for (int i = 0; i < 32; i++) {
		uint32_t a = st->anomaly_action[i];

		if (i < DP_AN_MAX ? (a != CPM_ALLOW && a != CPM_DENY) : a != 0)
			return cpm_fail(err, errlen, "policy blob: bad action %u for anomaly %d", a, i);
	}
	if (st->dns_max_entries == 0 || st->dns_max_entries > CPM_DNS_ENTRIES_MAX ||
	    st->dns_grace_s > CPM_DNS_GRACE_MAX)
		return cpm_fail(err, errlen, "policy blob: dns settings out of range");
	return 0;
}

static bool
id_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* A NUL-terminated string of len bytes at off, none of them NUL. */
static bool
string_ok(const struct cpm_policy *p, uint32_t off, uint32_t len)
{
	if (!cpm_range_ok(off, (uint64_t)len + 1, p->strings_len) || p->strings[off + len] != '\0')
		return false;
	return memchr(p->strings + off, '\0', len) == NULL;
}

static int
check_rules(const struct cpm_policy *p, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < p->n_rules; i++) {
		const struct cpm_blob_rule *r = &p->rules[i];

		if (r->id_len == 0 || r->id_len > CPM_RULE_ID_MAX || !string_ok(p, r->id_off, r->id_len))
			return cpm_fail(err, errlen, "policy blob: rule %u: bad id", i);
		for (uint32_t k = 0; k < r->id_len; k++)
			if (!id_char_ok(p->strings[r->id_off + k]))
				return cpm_fail(err, errlen, "policy blob: rule %u: bad id", i);
		if (r->action != CPM_ALLOW && r->action != CPM_DENY)
			return cpm_fail(err, errlen, "policy blob: rule %u: bad action %u", i, r->action);
		if (r->proto >= CPM_PROTO_MAX)
			return cpm_fail(err, errlen, "policy blob: rule %u: bad proto %u", i, r->proto);
		if (r->flags & ~CPM_RULE_F_ALL)
			return cpm_fail(err, errlen, "policy blob: rule %u: bad flags 0x%x", i, r->flags);
		if (r->pad[0] != 0 || r->pad[1] != 0 || r->pad[2] != 0)
			return cpm_fail(err, errlen, "policy blob: rule %u: non-zero padding", i);
		if (r->bind >= CPM_BIND_MAX ||
		    (r->bind != CPM_BIND_NONE && !(r->flags & CPM_RULE_F_ALL)) ||
		    (r->bind == CPM_BIND_PINNED && r->dst[0] == CPM_MAP_ANY))
			return cpm_fail(err, errlen, "policy blob: rule %u: bad bind %u", i, r->bind);
	}
	return 0;
}

/* A rule-list group at off: count >= 2 ascending rules with a name condition. */
static bool
list_ok(const struct cpm_policy *p, uint32_t off)
{
	uint32_t n;

	if (off >= p->n_lists)
		return false;
	n = p->lists[off];
	if (n < 2 || !cpm_range_ok((uint64_t)off + 1, n, p->n_lists))
		return false;
	for (uint32_t j = 0; j < n; j++) {
		uint32_t r = p->lists[off + 1 + j];

		if (r >= p->n_rules || (j > 0 && r <= p->lists[off + j]) ||
		    !(p->rules[r].flags & CPM_RULE_F_ALL))
			return false;
	}
	return true;
}

/*
 * Every used slot must be reachable from its home slot without crossing a
 * free one (else lookups miss it), checked in one pass: walking from a free
 * slot, the run of used slots since it is the only place a probe can be.
 */
static int
check_names(struct cpm_policy *p, char *err, size_t errlen)
{
	uint64_t ech = 0, doh = 0, used = 0, n_slots = p->n_slots, start = 0;

	if (n_slots == 0)
		return p->hdr->n_ech == 0 && p->hdr->n_doh == 0 ? 0 :
		       cpm_fail(err, errlen, "policy blob: ECH or DoH names without a name table");
	/* a free slot to start from */
	while (start < p->n_slots && p->names[start].val != CPM_NV_EMPTY)
		start++;
	if (start == p->n_slots)
		return cpm_fail(err, errlen, "policy blob: name table has no free slot");
	for (uint64_t n = 1, run = 0; n <= n_slots; n++) {
		uint64_t i = (start + n) % n_slots, home;
		const struct cpm_blob_name *e = &p->names[i];

		if (e->val == CPM_NV_EMPTY) {
			if (e->hash != 0 || e->check != 0)
				return cpm_fail(err, errlen, "policy blob: free name slot %llu is not zero",
						(unsigned long long)i);
			run = 0;
			continue;
		}
		run++;
		used++;
		/* distance from home, around the end of the table */
		home = cpm_blob_name_home(e->hash, n_slots);
		if ((i >= home ? i - home : i + n_slots - home) >= run)
			return cpm_fail(err, errlen, "policy blob: name slot %llu: not reachable from its hash",
					(unsigned long long)i);
		if (e->val == CPM_NV_ECH) {
			ech++;
		} else if (e->val == CPM_NV_DOH) {
			doh++;
		} else if (e->val & CPM_NV_LIST) {
			if (!list_ok(p, e->val & ~CPM_NV_LIST))
				return cpm_fail(err, errlen, "policy blob: name slot %llu: bad rule list",
						(unsigned long long)i);
		} else if (e->val - 1 >= p->n_rules || !(p->rules[e->val - 1].flags & CPM_RULE_F_ALL)) {
			return cpm_fail(err, errlen, "policy blob: name slot %llu: bad rule",
					(unsigned long long)i);
		}
	}
	if (ech != p->hdr->n_ech)
		return cpm_fail(err, errlen, "policy blob: %llu ECH names, header says %u",
				(unsigned long long)ech, p->hdr->n_ech);
	if (doh != p->hdr->n_doh)
		return cpm_fail(err, errlen, "policy blob: %llu DoH names, header says %u",
				(unsigned long long)doh, p->hdr->n_doh);
	if (used * 2 > p->n_slots)
		return cpm_fail(err, errlen, "policy blob: name table more than half full");
	if (build_special(p, ech + doh) != 0)
		return -ENOMEM;
	return build_filter(p, used);
}

/* "Version: 5.4.0 Features: ..." -> "5.4.0" */
static void
first_token_after(const char *s, const char *key, char *out, size_t outlen)
{
	const char *v = s != NULL ? strstr(s, key) : NULL;
	size_t n = 0;

	if (v != NULL) {
		v += strlen(key);
		while (v[n] != '\0' && v[n] != ' ' && n + 1 < outlen)
			n++;
		memcpy(out, v, n);
	}
	out[n] = '\0';
}

static int
load_hsdb(struct cpm_policy *p, char *err, size_t errlen)
{
	const struct cpm_blob_sect *s = &p->hdr->sect[CPM_SECT_HSDB];
	const char *bytes = (const char *)p->blob + s->off;
	char theirs[32], ours[32], mode[16];
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *info = NULL;
	hs_error_t rc;

	if (p->n_regex == 0) {
		if (s->len != 0)
			return cpm_fail(err, errlen, "policy blob: Hyperscan database without regexes");
		return 0;
	}
	if (s->len == 0)
		return cpm_fail(err, errlen, "policy blob: %u regexes but no Hyperscan database",
				p->n_regex);
	if (EVP_Digest(bytes, s->len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return cpm_fail(err, errlen, "policy blob: cannot hash the Hyperscan database");
	if (memcmp(md, p->hdr->hsdb_sha256, 32) != 0)
		return cpm_fail(err, errlen, "policy blob: Hyperscan database does not match its SHA-256");
	first_token_after(hs_version(), "", ours, sizeof(ours));
	rc = hs_serialized_database_info(bytes, s->len, &info);
	if (rc == HS_DB_VERSION_ERROR && s->len >= 8) {
		/* serialised header: u32 magic, u32 version = major << 24 | minor << 16 | patch << 8 */
		uint32_t v;

		memcpy(&v, bytes + 4, sizeof(v));
		snprintf(theirs, sizeof(theirs), "%u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff);
		rc = HS_SUCCESS;
		mode[0] = '\0';
	} else if (rc == HS_SUCCESS) {
		first_token_after(info, "Version: ", theirs, sizeof(theirs));
		first_token_after(info, "Mode: ", mode, sizeof(mode));
		free(info);
	}
	if (rc != HS_SUCCESS)
		return cpm_fail(err, errlen,
				"policy blob: Hyperscan database section is not a serialised database");
	if (strcmp(theirs, ours) != 0)
		return cpm_fail(err, errlen,
				"policy blob: Hyperscan database built by Hyperscan %s, this process runs Hyperscan %s: recompile the policy with a matching chokepointd",
				theirs, ours);
	if (strcmp(mode, "BLOCK") != 0)
		return cpm_fail(err, errlen, "policy blob: Hyperscan database mode %s, expected BLOCK",
				mode);
	rc = hs_deserialize_database(bytes, s->len, &p->db);
	switch (rc) {
	case HS_SUCCESS:
		return 0;
	case HS_NOMEM:
		return -ENOMEM;
	case HS_DB_VERSION_ERROR:
		return cpm_fail(err, errlen,
				"policy blob: Hyperscan database version mismatch (this process runs Hyperscan %s)",
				ours);
	case HS_DB_PLATFORM_ERROR:
		return cpm_fail(err, errlen, "policy blob: Hyperscan database built for another CPU platform");
	default:
		return cpm_fail(err, errlen, "policy blob: Hyperscan database rejected (error %d)", rc);
	}
}

static int
check_regex_map(struct cpm_policy *p, char *err, size_t errlen)
{
	for (int f = 0; f < 3; f++)
		p->regex_min[f] = CPM_NONE;
	for (uint32_t i = 0; i < p->n_regex; i++) {
		const struct cpm_blob_regex *m = &p->regex[i];

		if (m->rule >= p->n_rules ||
		    (m->field != CPM_FIELD_SNI && m->field != CPM_FIELD_HOST) ||
		    !(p->rules[m->rule].flags & (m->field == CPM_FIELD_SNI ? CPM_RULE_F_SNI
									    : CPM_RULE_F_HOST)))
			return cpm_fail(err, errlen, "policy blob: regex %u: bad rule/field", i);
		if (m->rule < p->regex_min[m->field])
			p->regex_min[m->field] = m->rule;
	}
	return 0;
}

int
cpm_policy_load(const void *blob, size_t len, struct cpm_policy **out,
		char *err, size_t errlen)
{
	const struct cpm_blob_hdr *h = blob;
	struct cpm_policy *p;
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (blob == NULL || len < sizeof(*h))
		return cpm_fail(err, errlen, "policy blob: %zu bytes, shorter than its header", len);
	if ((uintptr_t)blob % CPM_BLOB_ALIGN != 0)
		return cpm_fail(err, errlen, "policy blob: not 8-byte aligned");
	if (h->magic != CPM_BLOB_MAGIC)
		return cpm_fail(err, errlen, "policy blob: bad magic 0x%08x", h->magic);
	if (h->version != CPM_BLOB_VERSION || h->hdr_len != sizeof(*h))
		return cpm_fail(err, errlen,
				"policy blob: version %u (header %u bytes), this matcher reads version %u",
				h->version, h->hdr_len, CPM_BLOB_VERSION);
	if (h->total_len != len)
		return cpm_fail(err, errlen, "policy blob: header says %llu bytes, got %zu",
				(unsigned long long)h->total_len, len);

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	p->blob = blob;
	p->len = len;
	p->hdr = h;
	rc = check_sections(p, err, errlen);
	if (rc != 0)
		goto err_free;
#define SECT(i, T) ((const T *)(p->blob + h->sect[i].off))
#define COUNT(i) (h->sect[i].len / sect_elem[i])
	p->rules = SECT(CPM_SECT_RULES, struct cpm_blob_rule);
	p->strings = SECT(CPM_SECT_STRINGS, char);
	p->strings_len = COUNT(CPM_SECT_STRINGS);
	p->names = SECT(CPM_SECT_NAMES, struct cpm_blob_name);
	p->n_slots = COUNT(CPM_SECT_NAMES);
	p->lists = SECT(CPM_SECT_RULE_LISTS, uint32_t);
	p->n_lists = COUNT(CPM_SECT_RULE_LISTS);
	p->imaps = SECT(CPM_SECT_IMAPS, struct cpm_blob_imap);
	p->n_imaps = COUNT(CPM_SECT_IMAPS);
	p->keys32 = SECT(CPM_SECT_KEYS32, uint32_t);
	p->n_keys32 = COUNT(CPM_SECT_KEYS32);
	p->keys128 = SECT(CPM_SECT_KEYS128, struct cpm_blob_k128);
	p->n_keys128 = COUNT(CPM_SECT_KEYS128);
	p->values = SECT(CPM_SECT_VALUES, uint32_t);
	p->n_values = COUNT(CPM_SECT_VALUES);
	p->index = SECT(CPM_SECT_INDEX, uint32_t);
	p->n_index = COUNT(CPM_SECT_INDEX);
	p->classes = SECT(CPM_SECT_CLASSES, uint64_t);
	p->regex = SECT(CPM_SECT_REGEX_MAP, struct cpm_blob_regex);
#undef SECT
	if (COUNT(CPM_SECT_RULES) != h->n_rules || COUNT(CPM_SECT_REGEX_MAP) != h->n_regex ||
	    h->n_rules > CPM_RULES_MAX || p->n_imaps >= CPM_MAP_ANY) {
		rc = cpm_fail(err, errlen, "policy blob: rule or regex count disagrees with its section");
		goto err_free;
	}
#undef COUNT
	p->n_rules = h->n_rules;
	p->n_regex = h->n_regex;
	if (p->strings_len == 0 || p->strings[0] != '\0' ||
	    p->strings[p->strings_len - 1] != '\0') {
		rc = cpm_fail(err, errlen, "policy blob: string table not NUL-delimited");
		goto err_free;
	}
	if (h->flags != 0) {
		rc = cpm_fail(err, errlen, "policy blob: unknown flags 0x%x", h->flags);
		goto err_free;
	}
	rc = check_settings(&h->settings, err, errlen);
	if (rc == 0)
		rc = check_rules(p, err, errlen);
	if (rc == 0)
		rc = cpm_l34_check(p, err, errlen);
	if (rc == 0)
		rc = check_names(p, err, errlen);
	if (rc == 0)
		rc = check_regex_map(p, err, errlen);
	if (rc == 0)
		rc = load_hsdb(p, err, errlen);
	if (rc != 0)
		goto err_free;
	*out = p;
	return 0;

err_free:
	cpm_policy_free(p);
	return rc;
}

void
cpm_policy_free(struct cpm_policy *p)
{
	if (p == NULL)
		return;
	if (p->db != NULL)
		hs_free_database(p->db);
	cpm_l34_release(p);
	free(p->filter);
	free(p->special);
	free(p);
}
