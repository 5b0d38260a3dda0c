/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cpm.c: the one policy matcher over a compiled blob (layout: cpm_blob.h).
 *
 * cpm_policy_load() trusts nothing in the blob: every offset, length, count
 * and index is checked against the blob before use, every name hash is
 * recomputed, and the Hyperscan bytecode must match its SHA-256 and our
 * Hyperscan version. After a successful load, the lookups below index the
 * blob without further checks.
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
#include "dp_proto.h"

#define IPPROTO_ICMP_   1
#define IPPROTO_TCP_    6
#define IPPROTO_UDP_    17
#define IPPROTO_ICMPV6_ 58

/* Longest query name cpm_match() considers for name conditions. */
#define CPM_MATCH_NAME_MAX 1024

struct cpm_policy {
	const uint8_t *blob;
	size_t len;
	const struct cpm_blob_hdr *hdr;
	const struct cpm_blob_rule *rules;
	uint32_t n_rules;
	const char *strings;
	uint64_t strings_len;
	const struct cpm_blob_name *names;
	uint64_t n_slots;            /* 0 or a power of two */
	const uint32_t *lists;
	uint64_t n_lists;
	const struct cpm_blob_cidr *cidrs;
	uint64_t n_cidrs;
	const struct cpm_blob_port *ports;
	uint64_t n_ports;
	const struct cpm_blob_regex *regex;
	uint32_t n_regex;
	hs_database_t *db;           /* NULL when there is no regex */
	uint64_t *nameless;          /* bitmap: rules without a name condition */
	uint32_t n_words;
};

struct cpm_scratch {
	const struct cpm_policy *p;
	hs_scratch_t *hs;
	uint64_t *bits;              /* candidate rules of the current match */
	char name[CPM_MATCH_NAME_MAX + 1];
};

static int
fail(char *err, size_t errlen, const char *fmt, ...)
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

static const struct cpm_blob_name *
name_find(const struct cpm_policy *p, uint8_t kind, uint8_t field,
	  const char *name, size_t len)
{
	uint64_t h, i, mask, n;

	if (p->n_slots == 0)
		return NULL;
	mask = p->n_slots - 1;
	h = cpm_blob_name_hash(p->hdr->siphash_key, kind, field, name, len);
	for (i = h & mask, n = 0; n < p->n_slots; n++, i = (i + 1) & mask) {
		const struct cpm_blob_name *e = &p->names[i];

		if (e->kind == CPM_NK_EMPTY)
			return NULL;
		if (e->hash == h && e->kind == kind && e->field == field &&
		    e->str_len == len && memcmp(p->strings + e->str_off, name, len) == 0)
			return e;
	}
	return NULL;
}

int
cpm_is_ech_public_name(const struct cpm_policy *p, const char *name, size_t len)
{
	char buf[CPM_NAME_MAX + 2];
	int n;

	if (p == NULL || p->hdr->n_ech == 0 || name == NULL || len == 0 ||
	    len > CPM_NAME_MAX + 1)
		return 0;
	n = cpm_normalise_name(name, len, buf, sizeof(buf));
	if (n <= 0)
		return 0;
	return name_find(p, CPM_NK_ECH, CPM_FIELD_SNI, buf, (size_t)n) != NULL;
}

/* ---- addresses and ports -------------------------------------------------- */

static bool
cidr_has(const struct cpm_blob_cidr *c, uint8_t family, const uint8_t *addr)
{
	unsigned int bytes = c->plen / 8, bits = c->plen % 8;

	if (c->family != family)
		return false;
	if (memcmp(c->addr, addr, bytes) != 0)
		return false;
	if (bits != 0) {
		uint8_t mask = (uint8_t)(0xff << (8 - bits));

		if ((addr[bytes] & mask) != c->addr[bytes])
			return false;
	}
	return true;
}

static bool
cidr_list_has(const struct cpm_policy *p, uint32_t off, uint32_t count,
	      uint8_t family, const uint8_t *addr)
{
	for (uint32_t i = 0; i < count; i++)
		if (cidr_has(&p->cidrs[off + i], family, addr))
			return true;
	return false;
}

static bool
proto_ok(uint8_t proto, const struct cpm_query *q)
{
	switch (proto) {
	case CPM_PROTO_ANY:
		return true;
	case CPM_PROTO_TCP:
		return q->l4proto == IPPROTO_TCP_;
	case CPM_PROTO_UDP:
		return q->l4proto == IPPROTO_UDP_;
	case CPM_PROTO_ICMP:
		return (q->family == 4 && q->l4proto == IPPROTO_ICMP_) ||
		       (q->family == 6 && q->l4proto == IPPROTO_ICMPV6_);
	}
	return false;
}

/* The rule's address, port and protocol conditions. */
static bool
l34_holds(const struct cpm_policy *p, const struct cpm_blob_rule *r,
	  const struct cpm_query *q)
{
	if (!proto_ok(r->proto, q))
		return false;
	if (r->src_count != 0 &&
	    !cidr_list_has(p, r->src_off, r->src_count, q->family, q->src))
		return false;
	if (r->dst_count != 0 &&
	    !cidr_list_has(p, r->dst_off, r->dst_count, q->family, q->dst))
		return false;
	if (r->port_count != 0) {
		bool hit = false;

		if (q->l4proto != IPPROTO_TCP_ && q->l4proto != IPPROTO_UDP_)
			return false;
		for (uint32_t i = 0; i < r->port_count && !hit; i++) {
			const struct cpm_blob_port *pr = &p->ports[r->port_off + i];

			hit = q->dport >= pr->lo && q->dport <= pr->hi;
		}
		if (!hit)
			return false;
	}
	return true;
}

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

/* Decisions made before any rule: trusted, not internal, QUIC. */
static bool
pre_rules(const struct cpm_policy *p, const struct cpm_query *q, struct cpm_verdict *v)
{
	const struct cpm_blob_hdr *h = p->hdr;

	if (h->trusted_count != 0 &&
	    cidr_list_has(p, h->trusted_off, h->trusted_count, q->family, q->dst)) {
		verdict_set(v, CPM_ALLOW, CPM_REASON_TRUSTED, -1);
		return true;
	}
	if (!(h->flags & CPM_BLOB_F_INTERNAL_ALL) &&
	    !cidr_list_has(p, h->internal_off, h->internal_count, q->family, q->src)) {
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

/* ---- decisions ------------------------------------------------------------ */

int
cpm_classify_l34(const struct cpm_policy *p, const struct cpm_query *q,
		 struct cpm_verdict *v)
{
	if (pre_rules(p, q, v))
		return CPM_DECIDED;
	for (uint32_t i = 0; i < p->n_rules; i++) {
		const struct cpm_blob_rule *r = &p->rules[i];

		/* names come from TCP only for now: a name rule cannot match other flows */
		if ((r->flags & CPM_RULE_F_ALL) && q->l4proto != IPPROTO_TCP_)
			continue;
		if (!l34_holds(p, r, q))
			continue;
		if (r->flags & CPM_RULE_F_ALL)
			return CPM_NEED_NAME;
		verdict_set(v, r->action, CPM_REASON_RULE, (int32_t)i);
		return CPM_DECIDED;
	}
	verdict_default(p, v);
	return CPM_DECIDED;
}

static void
mark_list(const struct cpm_policy *p, const struct cpm_blob_name *e, uint64_t *bits)
{
	for (uint32_t j = 0; j < e->list_count; j++) {
		uint32_t r = p->lists[e->list_off + j];

		bits[r / 64] |= UINT64_C(1) << (r % 64);
	}
}

struct scan_ctx {
	const struct cpm_policy *p;
	uint64_t *bits;
	uint32_t field;
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
	if (m->field == c->field)
		c->bits[m->rule / 64] |= UINT64_C(1) << (m->rule % 64);
	return 0;
}

/* Mark the rules whose name condition the query's name satisfies. */
static int
mark_names(const struct cpm_policy *p, struct cpm_scratch *s, const struct cpm_query *q)
{
	const struct cpm_blob_name *e;
	uint8_t field = (uint8_t)q->field;
	char *name = s->name;
	size_t len, i;

	if ((q->field != CPM_FIELD_SNI && q->field != CPM_FIELD_HOST) ||
	    q->name == NULL || q->name_len == 0 || q->name_len > CPM_MATCH_NAME_MAX)
		return 0;
	/* invalid bytes still match on the lowered bytes (the caller raises the anomaly) */
	cpm_normalise_name(q->name, q->name_len, name, sizeof(s->name));
	len = strnlen(name, sizeof(s->name));
	if (len == 0 || len != q->name_len - (q->name[q->name_len - 1] == '.'))
		return 0;     /* an embedded NUL: no DNS name holds one */

	e = name_find(p, CPM_NK_EXACT, field, name, len);
	if (e != NULL)
		mark_list(p, e, s->bits);
	for (i = 0; i < len; i++) {
		if (name[i] != '.' || i + 1 == len)
			continue;
		e = name_find(p, CPM_NK_SUFFIX, field, name + i + 1, len - i - 1);
		if (e != NULL)
			mark_list(p, e, s->bits);
	}
	if (p->db != NULL) {
		struct scan_ctx c = { .p = p, .bits = s->bits, .field = field };
		hs_error_t rc = hs_scan(p->db, name, (unsigned int)len, 0, s->hs,
					on_regex_match, &c);

		if (rc != HS_SUCCESS && rc != HS_SCAN_TERMINATED)
			return -EIO;
	}
	return 0;
}

int
cpm_match(const struct cpm_policy *p, struct cpm_scratch *s,
	  const struct cpm_query *q, struct cpm_verdict *v)
{
	if (s == NULL || s->p != p) {
		verdict_default(p, v);
		return -EINVAL;
	}
	if (pre_rules(p, q, v))
		return 0;
	memcpy(s->bits, p->nameless, (size_t)p->n_words * sizeof(uint64_t));
	if (mark_names(p, s, q) != 0) {
		verdict_default(p, v);
		return -EIO;
	}
	for (uint32_t w = 0; w < p->n_words; w++) {
		uint64_t word = s->bits[w];

		while (word != 0) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(word);

			word &= word - 1;
			if (l34_holds(p, &p->rules[i], q)) {
				verdict_set(v, p->rules[i].action, CPM_REASON_RULE, (int32_t)i);
				return 0;
			}
		}
	}
	verdict_default(p, v);
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
	s->bits = calloc(p->n_words > 0 ? p->n_words : 1, sizeof(uint64_t));
	if (s->bits == NULL)
		goto err_bits;
	if (p->db != NULL && hs_alloc_scratch(p->db, &s->hs) != HS_SUCCESS)
		goto err_hs;
	return s;

err_hs:
	free(s->bits);
err_bits:
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
	free(s->bits);
	free(s);
}

/* ---- load and validate ---------------------------------------------------- */

static const size_t sect_elem[CPM_SECT_MAX] = {
	[CPM_SECT_RULES] = sizeof(struct cpm_blob_rule),
	[CPM_SECT_STRINGS] = 1,
	[CPM_SECT_NAMES] = sizeof(struct cpm_blob_name),
	[CPM_SECT_RULE_LISTS] = sizeof(uint32_t),
	[CPM_SECT_CIDRS] = sizeof(struct cpm_blob_cidr),
	[CPM_SECT_PORTS] = sizeof(struct cpm_blob_port),
	[CPM_SECT_REGEX_MAP] = sizeof(struct cpm_blob_regex),
	[CPM_SECT_HSDB] = 1,
};

static const char *const sect_name[CPM_SECT_MAX] = {
	"rules", "strings", "names", "rule lists", "cidrs", "ports", "regex map",
	"hyperscan database",
};

/* [off, off + count) inside [0, total) without overflow */
static inline bool
range_ok(uint64_t off, uint64_t count, uint64_t total)
{
	return off <= total && count <= total - off;
}

static int
check_sections(struct cpm_policy *p, char *err, size_t errlen)
{
	const struct cpm_blob_hdr *h = p->hdr;
	uint64_t end = h->hdr_len;

	for (int i = 0; i < CPM_SECT_MAX; i++) {
		const struct cpm_blob_sect *s = &h->sect[i];

		if (s->off % CPM_BLOB_ALIGN != 0 || s->off < end ||
		    s->off - end >= CPM_BLOB_ALIGN)
			return fail(err, errlen, "policy blob: %s section at bad offset %llu",
				    sect_name[i], (unsigned long long)s->off);
		if (!range_ok(s->off, s->len, p->len))
			return fail(err, errlen,
				    "policy blob: %s section (%llu bytes at %llu) runs past the end (%zu bytes)",
				    sect_name[i], (unsigned long long)s->len,
				    (unsigned long long)s->off, p->len);
		if (s->len % sect_elem[i] != 0)
			return fail(err, errlen, "policy blob: %s section length %llu is not a multiple of %zu",
				    sect_name[i], (unsigned long long)s->len, sect_elem[i]);
		for (uint64_t b = end; b < s->off; b++)
			if (p->blob[b] != 0)
				return fail(err, errlen, "policy blob: non-zero padding before the %s section",
					    sect_name[i]);
		end = s->off + s->len;
	}
	if (end != p->len)
		return fail(err, errlen, "policy blob: sections end at %llu, blob is %zu bytes",
			    (unsigned long long)end, p->len);
	return 0;
}

static int
check_settings(const struct cpm_settings *st, char *err, size_t errlen)
{
	const uint8_t act[] = { st->default_action, st->inbound_action, st->quic_action,
				st->table_full_action, st->midstream_action };

	if (st->mode != CPM_MODE_ENFORCE && st->mode != CPM_MODE_MONITOR)
		return fail(err, errlen, "policy blob: bad mode %u", st->mode);
	for (size_t i = 0; i < sizeof(act); i++)
		if (act[i] != CPM_ALLOW && act[i] != CPM_DENY)
			return fail(err, errlen, "policy blob: bad action %u in settings", act[i]);
	if (st->no_name_action > CPM_DENY || st->pad != 0)
		return fail(err, errlen, "policy blob: bad no_name action %u", st->no_name_action);
	if (st->hold_timeout_ms == 0 || st->hold_max_bytes == 0 || st->hold_max_segments == 0 ||
	    st->tcp_established_ms == 0 || st->tcp_halfopen_ms == 0 || st->tcp_closed_ms == 0 ||
	    st->udp_ms == 0 || st->other_ms == 0)
		return fail(err, errlen, "policy blob: a hold bound or timeout is zero");
	for (int i = 0; i < 32; i++) {
		uint32_t a = st->anomaly_action[i];

		if (i < DP_AN_MAX ? (a != CPM_ALLOW && a != CPM_DENY) : a != 0)
			return fail(err, errlen, "policy blob: bad action %u for anomaly %d", a, i);
	}
	return 0;
}

static int
check_cidrs(const struct cpm_policy *p, char *err, size_t errlen)
{
	for (uint64_t i = 0; i < p->n_cidrs; i++) {
		const struct cpm_blob_cidr *c = &p->cidrs[i];
		unsigned int alen = c->family == 4 ? 4 : 16;

		if ((c->family != 4 && c->family != 6) || c->plen > alen * 8 ||
		    c->pad[0] != 0 || c->pad[1] != 0)
			return fail(err, errlen, "policy blob: bad CIDR entry %llu",
				    (unsigned long long)i);
		for (unsigned int b = 0; b < 16; b++) {
			/* prefix bits in this byte: 8, 0, or the partial byte */
			unsigned int keep = b * 8 >= c->plen ? 0 :
					    c->plen - b * 8 >= 8 ? 8 : c->plen - b * 8;

			if (c->addr[b] & (uint8_t)(0xff >> keep))
				return fail(err, errlen, "policy blob: CIDR entry %llu has host bits set",
					    (unsigned long long)i);
		}
	}
	for (uint64_t i = 0; i < p->n_ports; i++)
		if (p->ports[i].lo > p->ports[i].hi)
			return fail(err, errlen, "policy blob: bad port range %llu",
				    (unsigned long long)i);
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
	if (!range_ok(off, (uint64_t)len + 1, p->strings_len) || p->strings[off + len] != '\0')
		return false;
	return memchr(p->strings + off, '\0', len) == NULL;
}

static int
check_rules(const struct cpm_policy *p, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < p->n_rules; i++) {
		const struct cpm_blob_rule *r = &p->rules[i];

		if (r->id_len == 0 || r->id_len > CPM_RULE_ID_MAX || !string_ok(p, r->id_off, r->id_len))
			return fail(err, errlen, "policy blob: rule %u: bad id", i);
		for (uint32_t k = 0; k < r->id_len; k++)
			if (!id_char_ok(p->strings[r->id_off + k]))
				return fail(err, errlen, "policy blob: rule %u: bad id", i);
		if (r->action != CPM_ALLOW && r->action != CPM_DENY)
			return fail(err, errlen, "policy blob: rule %u: bad action %u", i, r->action);
		if (r->proto >= CPM_PROTO_MAX)
			return fail(err, errlen, "policy blob: rule %u: bad proto %u", i, r->proto);
		if (r->flags & ~CPM_RULE_F_ALL)
			return fail(err, errlen, "policy blob: rule %u: bad flags 0x%x", i, r->flags);
		if (!range_ok(r->src_off, r->src_count, p->n_cidrs) ||
		    !range_ok(r->dst_off, r->dst_count, p->n_cidrs))
			return fail(err, errlen, "policy blob: rule %u: CIDR list out of range", i);
		if (!range_ok(r->port_off, r->port_count, p->n_ports))
			return fail(err, errlen, "policy blob: rule %u: port list out of range", i);
	}
	return 0;
}

/* A probe from e's home slot reaches index i without crossing a free slot. */
static bool
slot_reachable(const struct cpm_policy *p, uint64_t i, uint64_t hash)
{
	uint64_t mask = p->n_slots - 1;

	for (uint64_t j = hash & mask; j != i; j = (j + 1) & mask)
		if (p->names[j].kind == CPM_NK_EMPTY)
			return false;
	return true;
}

static int
check_names(const struct cpm_policy *p, char *err, size_t errlen)
{
	uint64_t ech = 0, used = 0;

	if (p->n_slots & (p->n_slots - 1))
		return fail(err, errlen, "policy blob: name table size %llu is not a power of two",
			    (unsigned long long)p->n_slots);
	for (uint64_t i = 0; i < p->n_slots; i++) {
		const struct cpm_blob_name *e = &p->names[i];

		if (e->kind == CPM_NK_EMPTY) {
			static const struct cpm_blob_name zero;

			if (memcmp(e, &zero, sizeof(zero)) != 0)
				return fail(err, errlen, "policy blob: free name slot %llu is not zero",
					    (unsigned long long)i);
			continue;
		}
		used++;
		if (e->kind >= CPM_NK_MAX ||
		    (e->field != CPM_FIELD_SNI && e->field != CPM_FIELD_HOST) ||
		    (e->kind == CPM_NK_ECH && e->field != CPM_FIELD_SNI))
			return fail(err, errlen, "policy blob: name slot %llu: bad kind/field",
				    (unsigned long long)i);
		if (e->str_len == 0 || e->str_len > CPM_NAME_MAX || !string_ok(p, e->str_off, e->str_len))
			return fail(err, errlen, "policy blob: name slot %llu: bad name",
				    (unsigned long long)i);
		if (e->hash != cpm_blob_name_hash(p->hdr->siphash_key, e->kind, e->field,
						  p->strings + e->str_off, e->str_len) ||
		    !slot_reachable(p, i, e->hash))
			return fail(err, errlen, "policy blob: name slot %llu: hash does not match",
				    (unsigned long long)i);
		if (e->kind == CPM_NK_ECH) {
			ech++;
			if (e->list_count != 0 || e->list_off != 0)
				return fail(err, errlen, "policy blob: name slot %llu: ECH entry with rules",
					    (unsigned long long)i);
			continue;
		}
		if (e->list_count == 0 || !range_ok(e->list_off, e->list_count, p->n_lists))
			return fail(err, errlen, "policy blob: name slot %llu: rule list out of range",
				    (unsigned long long)i);
		for (uint32_t j = 0; j < e->list_count; j++) {
			uint32_t r = p->lists[e->list_off + j];

			if (r >= p->n_rules || (j > 0 && r <= p->lists[e->list_off + j - 1]) ||
			    !(p->rules[r].flags & (e->field == CPM_FIELD_SNI ? CPM_RULE_F_SNI
									     : CPM_RULE_F_HOST)))
				return fail(err, errlen, "policy blob: name slot %llu: bad rule list",
					    (unsigned long long)i);
		}
	}
	if (ech != p->hdr->n_ech)
		return fail(err, errlen, "policy blob: %llu ECH names, header says %u",
			    (unsigned long long)ech, p->hdr->n_ech);
	if (p->n_slots != 0 && used == p->n_slots)
		return fail(err, errlen, "policy blob: name table has no free slot");
	return 0;
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
			return fail(err, errlen, "policy blob: Hyperscan database without regexes");
		return 0;
	}
	if (s->len == 0)
		return fail(err, errlen, "policy blob: %u regexes but no Hyperscan database",
			    p->n_regex);
	if (EVP_Digest(bytes, s->len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return fail(err, errlen, "policy blob: cannot hash the Hyperscan database");
	if (memcmp(md, p->hdr->hsdb_sha256, 32) != 0)
		return fail(err, errlen, "policy blob: Hyperscan database does not match its SHA-256");
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
		return fail(err, errlen, "policy blob: Hyperscan database section is not a serialised database");
	if (strcmp(theirs, ours) != 0)
		return fail(err, errlen,
			    "policy blob: Hyperscan database built by Hyperscan %s, this process runs Hyperscan %s: recompile the policy with a matching chokepointd",
			    theirs, ours);
	if (strcmp(mode, "BLOCK") != 0)
		return fail(err, errlen, "policy blob: Hyperscan database mode %s, expected BLOCK", mode);
	rc = hs_deserialize_database(bytes, s->len, &p->db);
	switch (rc) {
	case HS_SUCCESS:
		return 0;
	case HS_NOMEM:
		return -ENOMEM;
	case HS_DB_VERSION_ERROR:
		return fail(err, errlen, "policy blob: Hyperscan database version mismatch (this process runs Hyperscan %s)",
			    ours);
	case HS_DB_PLATFORM_ERROR:
		return fail(err, errlen, "policy blob: Hyperscan database built for another CPU platform");
	default:
		return fail(err, errlen, "policy blob: Hyperscan database rejected (error %d)", rc);
	}
}

static int
check_regex_map(const struct cpm_policy *p, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < p->n_regex; i++) {
		const struct cpm_blob_regex *m = &p->regex[i];

		if (m->rule >= p->n_rules ||
		    (m->field != CPM_FIELD_SNI && m->field != CPM_FIELD_HOST) ||
		    !(p->rules[m->rule].flags & (m->field == CPM_FIELD_SNI ? CPM_RULE_F_SNI
									    : CPM_RULE_F_HOST)))
			return fail(err, errlen, "policy blob: regex %u: bad rule/field", i);
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
		return fail(err, errlen, "policy blob: %zu bytes, shorter than its header", len);
	if ((uintptr_t)blob % CPM_BLOB_ALIGN != 0)
		return fail(err, errlen, "policy blob: not 8-byte aligned");
	if (h->magic != CPM_BLOB_MAGIC)
		return fail(err, errlen, "policy blob: bad magic 0x%08x", h->magic);
	if (h->version != CPM_BLOB_VERSION || h->hdr_len != sizeof(*h))
		return fail(err, errlen, "policy blob: version %u (header %u bytes), this matcher reads version %u",
			    h->version, h->hdr_len, CPM_BLOB_VERSION);
	if (h->total_len != len)
		return fail(err, errlen, "policy blob: header says %llu bytes, got %zu",
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
	p->cidrs = SECT(CPM_SECT_CIDRS, struct cpm_blob_cidr);
	p->n_cidrs = COUNT(CPM_SECT_CIDRS);
	p->ports = SECT(CPM_SECT_PORTS, struct cpm_blob_port);
	p->n_ports = COUNT(CPM_SECT_PORTS);
	p->regex = SECT(CPM_SECT_REGEX_MAP, struct cpm_blob_regex);
#undef SECT
	if (COUNT(CPM_SECT_RULES) != h->n_rules || COUNT(CPM_SECT_REGEX_MAP) != h->n_regex) {
		rc = fail(err, errlen, "policy blob: rule or regex count disagrees with its section");
		goto err_free;
	}
#undef COUNT
	p->n_rules = h->n_rules;
	p->n_regex = h->n_regex;
	if (p->strings_len == 0 || p->strings[0] != '\0' ||
	    p->strings[p->strings_len - 1] != '\0') {
		rc = fail(err, errlen, "policy blob: string table not NUL-delimited");
		goto err_free;
	}
	if ((h->flags & ~CPM_BLOB_F_INTERNAL_ALL) ||
	    ((h->flags & CPM_BLOB_F_INTERNAL_ALL) && h->internal_count != 0) ||
	    (!(h->flags & CPM_BLOB_F_INTERNAL_ALL) && h->internal_count == 0) ||
	    !range_ok(h->internal_off, h->internal_count, p->n_cidrs) ||
	    !range_ok(h->trusted_off, h->trusted_count, p->n_cidrs)) {
		rc = fail(err, errlen, "policy blob: bad internal/trusted lists");
		goto err_free;
	}
	rc = check_settings(&h->settings, err, errlen);
	if (rc == 0)
		rc = check_cidrs(p, err, errlen);
	if (rc == 0)
		rc = check_rules(p, err, errlen);
	if (rc == 0)
		rc = check_names(p, err, errlen);
	if (rc == 0)
		rc = check_regex_map(p, err, errlen);
	if (rc != 0)
		goto err_free;

	p->n_words = (p->n_rules + 63) / 64;
	p->nameless = calloc(p->n_words > 0 ? p->n_words : 1, sizeof(uint64_t));
	if (p->nameless == NULL) {
		rc = -ENOMEM;
		goto err_free;
	}
	for (uint32_t i = 0; i < p->n_rules; i++)
		if (!(p->rules[i].flags & CPM_RULE_F_ALL))
			p->nameless[i / 64] |= UINT64_C(1) << (i % 64);

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
	free(p->nameless);
	free(p);
}
