/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cpm_int.h: the loaded policy, shared by the matcher's own files (cpm.c:
 * names, decisions, load; cpm_l34.c: address/port sets and the rule walk).
 * Not for anyone else: use cpm.h.
 */
#ifndef CHOKEPOINT_CPM_INT_H
#define CHOKEPOINT_CPM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs/hs.h>

#include "cpm.h"
#include "cpm_blob.h"

#define CPM_NONE UINT32_MAX    /* no rule */

#define IPPROTO_ICMP_   1
#define IPPROTO_TCP_    6
#define IPPROTO_UDP_    17
#define IPPROTO_ICMPV6_ 58

/* A class's set bits lie in [first, end); first == end == 0 when empty. */
struct cpm_class_span {
	uint32_t first, end;
};

struct cpm_policy {
	const uint8_t *blob;
	size_t len;
	const struct cpm_blob_hdr *hdr;
	const struct cpm_blob_rule *rules;
	uint32_t n_rules;
	const char *strings;
	uint64_t strings_len;
	const struct cpm_blob_name *names;
	uint64_t n_slots;
	uint64_t *filter;            /* heap: blocked Bloom filter of the slots' hashes, or NULL */
	uint64_t filter_words;
	uint64_t *special;           /* heap: sorted hashes of the ECH and DoH slots, or NULL */
	uint32_t n_special;
	const uint32_t *lists;
	uint64_t n_lists;
	const struct cpm_blob_imap *imaps;
	uint64_t n_imaps;
	const uint32_t *keys32;
	uint64_t n_keys32;
	const struct cpm_blob_k128 *keys128;
	uint64_t n_keys128;
	const uint32_t *values;
	uint64_t n_values;
	const uint32_t *index;
	uint64_t n_index;
	const uint64_t *classes;     /* n_classes * words */
	uint32_t n_classes;
	uint32_t words;              /* uint64 words per class */
	uint32_t agg_words;          /* words of one class's summary */
	uint64_t *agg;               /* heap: bit w of class c = word w of c is non-zero */
	struct cpm_class_span *span; /* heap: per class */
	bool exact;                  /* every dimension indexed: candidates need no check */
	const struct cpm_blob_regex *regex;
	uint32_t n_regex;
	uint32_t regex_min[3];       /* per enum cpm_field: lowest rule with a regex */
	hs_database_t *db;           /* NULL when there is no regex */
};

int cpm_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* [off, off + count) inside [0, total) without overflow */
static inline bool
cpm_range_ok(uint64_t off, uint64_t count, uint64_t total)
{
	return off <= total && count <= total - off;
}

/* 0 for IPv4, 1 for IPv6, -1 for anything else. */
static inline int
cpm_fam(const struct cpm_query *q)
{
	return q->family == 4 ? 0 : q->family == 6 ? 1 : -1;
}

/* cpm.c: 1 if (kind, field, name) is in the name table (bench/ compares it with libcmph). */
int cpm_name_probe(const struct cpm_policy *p, uint8_t kind, uint8_t field, const char *name,
		   size_t len);

/* cpm_l34.c */
int cpm_l34_check(struct cpm_policy *p, char *err, size_t errlen);
void cpm_l34_release(struct cpm_policy *p);
bool cpm_addr_in(const struct cpm_policy *p, const uint32_t maps[2], int fam,
		 const uint8_t *addr);
bool cpm_l34_holds(const struct cpm_policy *p, const struct cpm_blob_rule *r,
		   const struct cpm_query *q);
uint32_t cpm_l34_first(const struct cpm_policy *p, const struct cpm_query *q,
		       enum cpm_space space, uint32_t limit);

#endif /* CHOKEPOINT_CPM_INT_H */
