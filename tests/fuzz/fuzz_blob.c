/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_blob.c: cpm_policy_load() over arbitrary bytes (the blob crosses a
 * process boundary), and a few cpm_classify_l34()/cpm_match() calls on
 * whatever it accepts. Seeds: real compiled blobs (gen_blob_corpus.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
query(const struct cpm_policy *p, struct cpm_scratch *s, uint8_t family, uint8_t l4,
      uint16_t dport, const char *name, enum cpm_field field)
{
	struct cpm_query q = {
		.family = family, .l4proto = l4, .sport = 40000, .dport = dport,
		.field = field, .name = name, .name_len = name != NULL ? strlen(name) : 0,
	};
	struct cpm_verdict v;

	if (family == 4) {
		memcpy(q.src, "\x0a\x4d\x01\x05", 4);
		memcpy(q.dst, "\xa9\xfe\xa9\xfe", 4);
	} else {
		memcpy(q.src, "\xfd\x77\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05", 16);
		memcpy(q.dst, "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", 16);
	}
	cpm_classify_l34(p, &q, &v);
	cpm_match(p, s, &q, &v);
	(void)cpm_rule_id(p, v.rule);
	(void)cpm_rule_bind(p, v.rule);
	(void)cpm_rule_pin_holds(p, v.rule, &q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cpm_policy *p;
	struct cpm_scratch *s;
	uint64_t *copy;
	char err[256];

	/* the dataplane maps the blob page-aligned: give the loader an aligned copy */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	if (cpm_policy_load(copy, size, &p, err, sizeof(err)) == 0) {
		s = cpm_scratch_alloc(p);
		if (s != NULL) {
			query(p, s, 4, 6, 443, "api.openai.com", CPM_FIELD_SNI);
			query(p, s, 4, 6, 443, "x.hooks.slack.com.", CPM_FIELD_SNI);
			query(p, s, 6, 6, 80, "Docs.Example.COM", CPM_FIELD_HOST);
			query(p, s, 4, 17, 53, NULL, CPM_FIELD_NONE);
			query(p, s, 6, 58, 0, NULL, CPM_FIELD_NONE);
			query(p, s, 4, 6, 443, "a..b.\xff", CPM_FIELD_SNI);
			(void)cpm_is_ech_public_name(p, "cloudflare-ech.com", 18);
			(void)cpm_is_doh_name(p, "a.dns.google", 12);
			cpm_scratch_free(s);
		}
		(void)cpm_settings(p);
		(void)cpm_policy_sha256(p);
		(void)cpm_rule_count(p);
		cpm_policy_free(p);
	}
	free(copy);
	return 0;
}
