/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_tls.c: the ClientHello parser against first flights captured from real
 * clients (tests/data/clienthello, see its README), cross-checked with the
 * tshark decode stored next to each capture, then truncated at every offset,
 * re-split into two and three TLS records, corrupted, and against hand-built
 * hellos for the corner cases (GREASE, duplicates, multiple names, oversize).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

#include "dp_proto.h"
#include "tls.h"
#include "tls_groups.h"

#define MAXLEN 16384
#define BUFSZ  (3 * MAXLEN)

/* ---- fixtures ------------------------------------------------------------ */

struct fixture {
	const char *name;
	const char *sni;
	const char *alpn;          /* comma-separated */
	uint16_t versions;
	uint8_t ech, pqc;
	uint16_t max_version;
};

/* Expected values: tests/data/clienthello/README.md (checked against tshark). */
static const struct fixture fixtures[] = {
	{ "curl-tls13", "curl13.example.test", "h2,http/1.1",
	  DP_TLSV_1_3 | DP_TLSV_1_2 | DP_TLSV_1_1 | DP_TLSV_1_0, 0, 0, 0x0304 },
	{ "curl-tls12", "curl12.example.test", "h2,http/1.1", DP_TLSV_1_2, 0, 0, 0x0303 },
	{ "openssl-tls12", "ossl12.example.test", "h2,http/1.1", DP_TLSV_1_2, 0, 0, 0x0303 },
	{ "openssl-tls13", "ossl13.example.test", "h2,http/1.1", DP_TLSV_1_3, 0, 0, 0x0304 },
	{ "python-ssl", "python.example.test", "h2,http/1.1",
	  DP_TLSV_1_3 | DP_TLSV_1_2 | DP_TLSV_1_1 | DP_TLSV_1_0, 0, 0, 0x0304 },
	{ "gnutls", "gnutls.example.test", "h2,http/1.1",
	  DP_TLSV_1_3 | DP_TLSV_1_2 | DP_TLSV_1_1 | DP_TLSV_1_0, 0, 0, 0x0304 },
	{ "node", "node.example.test", "h2,http/1.1", DP_TLSV_1_3 | DP_TLSV_1_2, 0, 0, 0x0304 },
	{ "chromium", "api.example.test", "h2,http/1.1", DP_TLSV_1_3 | DP_TLSV_1_2, 1, 1, 0x0304 },
};
#define N_FIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

static size_t
load_fixture(const struct fixture *fx, uint8_t *buf)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "tests/data/clienthello/%s.bin", fx->name);
	return fixture_read(rel, buf, BUFSZ);
}

/* ALPN wire format -> "a,b" */
static void
alpn_str(const struct tls_hello *h, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < h->alpn_len; ) {
		uint8_t n = h->alpn[i++];

		assert_true(i + n <= h->alpn_len);
		if (o > 0 && o + 1 < cap)
			out[o++] = ',';
		for (uint8_t k = 0; k < n && o + 1 < cap; k++)
			out[o++] = (char)h->alpn[i + k];
		i += n;
	}
	out[o] = '\0';
}

/* fields that must not change however the hello is cut into records */
static void
assert_same_hello(const struct tls_hello *a, const struct tls_hello *b)
{
	assert_int_equal(a->sni_len, b->sni_len);
	assert_memory_equal(a->sni, b->sni, a->sni_len + 1);
	assert_int_equal(a->sni_count, b->sni_count);
	assert_int_equal(a->alpn_len, b->alpn_len);
	assert_memory_equal(a->alpn, b->alpn, a->alpn_len);
	assert_int_equal(a->has_ech, b->has_ech);
	assert_int_equal(a->has_pqc, b->has_pqc);
	assert_int_equal(a->versions, b->versions);
	assert_int_equal(a->legacy_version, b->legacy_version);
	assert_int_equal(a->max_version, b->max_version);
	assert_int_equal(a->hello_len, b->hello_len);
	assert_int_equal(a->n_ciphers, b->n_ciphers);
	assert_memory_equal(a->ciphers, b->ciphers, a->n_ciphers * 2);
	assert_int_equal(a->n_exts, b->n_exts);
	assert_memory_equal(a->exts, b->exts, a->n_exts * 2);
	assert_int_equal(a->n_sigalgs, b->n_sigalgs);
	assert_memory_equal(a->sigalgs, b->sigalgs, a->n_sigalgs * 2);
	assert_memory_equal(a->first_alpn, b->first_alpn, 2);
}

/* ---- tshark cross-check -------------------------------------------------- */

/* field i (0-based) of the ';'-separated second line of <name>.tshark.txt */
static int
tshark_field(const char *txt, int idx, char *out, size_t cap)
{
	const char *p = strchr(txt, '\n');
	int i = 0;
	size_t o = 0;

	if (p == NULL)
		return -1;
	p++;
	while (*p != '\0' && *p != '\n') {
		if (*p == ';') {
			i++;
			p++;
			continue;
		}
		if (i == idx && o + 1 < cap)
			out[o++] = *p;
		p++;
	}
	out[o] = '\0';
	return i >= idx ? 0 : -1;
}

/* parse a ','-separated list of numbers (hex with 0x, else decimal) */
static int
num_list(const char *s, unsigned long *v, int cap)
{
	int n = 0;

	while (*s != '\0' && n < cap) {
		char *end;

		v[n++] = strtoul(s, &end, 0);
		if (end == s)
			return -1;
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

static uint16_t
vbit(unsigned long v)
{
	return v == 0x0304 ? DP_TLSV_1_3 : v == 0x0303 ? DP_TLSV_1_2 :
	       v == 0x0302 ? DP_TLSV_1_1 : v == 0x0301 ? DP_TLSV_1_0 :
	       v == 0x0300 ? DP_TLSV_SSL3 : 0;
}

static void
test_fixtures_vs_tshark(void **state)
{
	static uint8_t buf[BUFSZ];
	static char txt[16384];
	char f[4096], rel[256], alpn[128];
	unsigned long v[128];
	struct tls_hello h;
	size_t len, need;
	int n, pqc;

	(void)state;
	for (size_t i = 0; i < N_FIXTURES; i++) {
		const struct fixture *fx = &fixtures[i];
		uint16_t versions = 0;
		int k = 0;

		len = load_fixture(fx, buf);
		assert_int_equal(tls_parse_records(buf, len, MAXLEN, &h, &need), TLS_OK);
		snprintf(rel, sizeof(rel), "tests/data/clienthello/%s.tshark.txt", fx->name);
		memset(txt, 0, sizeof(txt));
		fixture_read(rel, (uint8_t *)txt, sizeof(txt) - 1);

		/* 1: handshake length */
		assert_int_equal(tshark_field(txt, 1, f, sizeof(f)), 0);
		assert_int_equal(h.hello_len, strtoul(f, NULL, 10));
		/* 2: SNI */
		tshark_field(txt, 2, f, sizeof(f));
		assert_string_equal(h.sni, f);
		/* 3: ALPN */
		tshark_field(txt, 3, f, sizeof(f));
		alpn_str(&h, alpn, sizeof(alpn));
		assert_string_equal(alpn, f);
		/* 4: supported_versions (with GREASE); empty -> legacy_version */
		tshark_field(txt, 4, f, sizeof(f));
		n = num_list(f, v, 128);
		assert_true(n >= 0);
		for (int j = 0; j < n; j++)
			if (!tls_is_grease((uint16_t)v[j]))
				versions |= vbit(v[j]);
		if (n == 0)
			versions = vbit(h.legacy_version);
		assert_int_equal(h.versions, versions);
		/* 5: key_share groups -> pqc */
		tshark_field(txt, 5, f, sizeof(f));
		n = num_list(f, v, 128);
		pqc = 0;
		for (int j = 0; j < n; j++)
			pqc |= tls_group_is_pqc((uint16_t)v[j]);
		assert_int_equal(h.has_pqc, pqc);
		/* 7: extension types, GREASE included there, removed here */
		tshark_field(txt, 7, f, sizeof(f));
		n = num_list(f, v, 128);
		k = 0;
		for (int j = 0; j < n; j++) {
			if (tls_is_grease((uint16_t)v[j]))
				continue;
			assert_true(k < h.n_exts);
			assert_int_equal(h.exts[k], v[j]);
			k++;
			if (v[j] == 0xfe0d)
				assert_int_equal(h.has_ech, 1);
		}
		assert_int_equal(k, h.n_exts);
		assert_int_equal(h.exts_total, h.n_exts);
		/* 8: cipher suites */
		tshark_field(txt, 8, f, sizeof(f));
		n = num_list(f, v, 128);
		k = 0;
		for (int j = 0; j < n; j++) {
			if (tls_is_grease((uint16_t)v[j]))
				continue;
			assert_true(k < h.n_ciphers);
			assert_int_equal(h.ciphers[k], v[j]);
			k++;
		}
		assert_int_equal(k, h.n_ciphers);
		/* 9: signature algorithms */
		tshark_field(txt, 9, f, sizeof(f));
		n = num_list(f, v, 128);
		k = 0;
		for (int j = 0; j < n; j++) {
			if (tls_is_grease((uint16_t)v[j]))
				continue;
			assert_true(k < h.n_sigalgs);
			assert_int_equal(h.sigalgs[k], v[j]);
			k++;
		}
		assert_int_equal(k, h.n_sigalgs);
		/* and tshark saw ECH iff we did */
		assert_int_equal(strstr(txt, "65037") != NULL, h.has_ech);
	}
}

static void
test_fixtures_expected(void **state)
{
	static uint8_t buf[BUFSZ];
	struct tls_hello h;
	char alpn[128];
	size_t len, need = 99;

	(void)state;
	for (size_t i = 0; i < N_FIXTURES; i++) {
		const struct fixture *fx = &fixtures[i];

		len = load_fixture(fx, buf);
		assert_int_equal(tls_parse_records(buf, len, MAXLEN, &h, &need), TLS_OK);
		assert_int_equal(need, 0);
		assert_string_equal(h.sni, fx->sni);
		assert_int_equal(h.sni_len, strlen(fx->sni));
		assert_int_equal(h.sni_count, 1);
		assert_int_equal(h.sni_truncated, 0);
		assert_int_equal(h.has_sni_ext, 1);
		alpn_str(&h, alpn, sizeof(alpn));
		assert_string_equal(alpn, fx->alpn);
		assert_int_equal(h.has_alpn, 1);
		assert_int_equal(h.first_alpn[0], 'h');
		assert_int_equal(h.first_alpn[1], '2');
		assert_int_equal(h.versions, fx->versions);
		assert_int_equal(h.max_version, fx->max_version);
		assert_int_equal(h.legacy_version, 0x0303);
		assert_int_equal(h.has_ech, fx->ech);
		assert_int_equal(h.has_pqc, fx->pqc);
		assert_int_equal(h.records, 1);
		assert_int_equal(h.consumed, len);
		assert_int_equal(h.hello_len + 4 + 5, len);
		assert_int_equal(h.lists_truncated, 0);
		for (uint16_t k = 0; k < h.n_ciphers; k++)
			assert_false(tls_is_grease(h.ciphers[k]));
		for (uint16_t k = 0; k < h.n_exts; k++)
			assert_false(tls_is_grease(h.exts[k]));
		for (uint8_t k = 0; k < h.n_sigalgs; k++)
			assert_false(tls_is_grease(h.sigalgs[k]));
		assert_true(tls_looks_like(buf, len));
		assert_true(tls_looks_like(buf, 1));

		/* the bare handshake message (as QUIC CRYPTO delivers it) */
		{
			struct tls_hello b;

			assert_int_equal(tls_parse_clienthello(buf + 5, len - 5, MAXLEN, &b, &need),
					 TLS_OK);
			assert_same_hello(&h, &b);
			assert_int_equal(b.consumed, len - 5);
			for (size_t t = 0; t < len - 5; t++)
				assert_int_equal(tls_parse_clienthello(buf + 5, t, MAXLEN, &b, NULL),
						 TLS_NEED_MORE);
		}
	}
}

/* Every prefix of a complete hello is NEED_MORE; need is exact once known. */
static void
test_fixtures_truncated(void **state)
{
	static uint8_t buf[BUFSZ];
	struct tls_hello h;
	size_t len, need;

	(void)state;
	for (size_t i = 0; i < N_FIXTURES; i++) {
		len = load_fixture(&fixtures[i], buf);
		for (size_t t = 0; t < len; t++) {
			/* an exact-size heap copy, so ASan sees any read past t */
			uint8_t *cp = malloc(t ? t : 1);

			assert_non_null(cp);
			memcpy(cp, buf, t);
			need = 12345;
			assert_int_equal(tls_parse_records(cp, t, MAXLEN, &h, &need),
					 TLS_NEED_MORE);
			free(cp);
			/* known from the record header on (5 bytes), exact here */
			if (t >= 5)
				assert_int_equal(need, len);
			else
				assert_int_equal(need, 0);
		}
	}
}

/* hello bytes hs[0..n) re-cut into records at the given offsets */
static size_t
resplit(const uint8_t *hs, size_t n, const size_t *cuts, int ncuts, uint8_t *out)
{
	size_t o = 0, s = 0;

	for (int c = 0; c <= ncuts; c++) {
		size_t e = c < ncuts ? cuts[c] : n;

		out[o++] = 22;
		out[o++] = 3;
		out[o++] = (uint8_t)(c == 0 ? 1 : 3);   /* as clients do: 3.1 then 3.3 */
		out[o++] = (uint8_t)((e - s) >> 8);
		out[o++] = (uint8_t)(e - s);
		memcpy(out + o, hs + s, e - s);
		o += e - s;
		s = e;
	}
	return o;
}

static void
test_fixtures_split_two(void **state)
{
	static uint8_t buf[BUFSZ], st[BUFSZ];
	struct tls_hello ref, h;
	size_t len, n, sl, need;

	(void)state;
	for (size_t i = 0; i < N_FIXTURES; i++) {
		len = load_fixture(&fixtures[i], buf);
		assert_int_equal(tls_parse_records(buf, len, MAXLEN, &ref, NULL), TLS_OK);
		n = len - 5;
		for (size_t k = 1; k < n; k++) {
			sl = resplit(buf + 5, n, &k, 1, st);
			assert_int_equal(sl, len + 5);
			assert_int_equal(tls_parse_records(st, sl, MAXLEN, &h, &need), TLS_OK);
			assert_same_hello(&ref, &h);
			assert_int_equal(h.records, 2);
			assert_int_equal(h.consumed, sl);
			/* prefixes of a split hello: NEED_MORE, for a sample of cuts */
			if (k % 97 == 1 || k < 6 || k > n - 3) {
				for (size_t t = 0; t < sl; t++) {
					uint8_t *cp = malloc(t ? t : 1);

					assert_non_null(cp);
					memcpy(cp, st, t);
					assert_int_equal(tls_parse_records(cp, t, MAXLEN, &h, &need),
							 TLS_NEED_MORE);
					/* need never overshoots the real total */
					assert_true(need <= sl);
					free(cp);
				}
			}
		}
	}
}

static void
test_fixtures_split_three(void **state)
{
	static uint8_t buf[BUFSZ], st[BUFSZ];
	struct tls_hello ref, h;
	size_t len, n, sl, cuts[2];

	(void)state;
	for (size_t i = 0; i < N_FIXTURES; i++) {
		len = load_fixture(&fixtures[i], buf);
		assert_int_equal(tls_parse_records(buf, len, MAXLEN, &ref, NULL), TLS_OK);
		n = len - 5;
		/* every first cut; second cuts at a spread of offsets after it */
		for (size_t a = 1; a + 1 < n; a++) {
			size_t step = (n - a) / 12 + 1;

			for (size_t b = a + 1; b < n; b += (b - a < 4 ? 1 : step)) {
				cuts[0] = a;
				cuts[1] = b;
				sl = resplit(buf + 5, n, cuts, 2, st);
				assert_int_equal(tls_parse_records(st, sl, MAXLEN, &h, NULL), TLS_OK);
				assert_same_hello(&ref, &h);
				assert_int_equal(h.records, 3);
				assert_int_equal(h.consumed, sl);
			}
		}
	}
}

/* ---- hand-built hellos --------------------------------------------------- */

struct hb {
	uint8_t b[BUFSZ];
	size_t n;
};

static void
put8(struct hb *h, unsigned v)
{
	h->b[h->n++] = (uint8_t)v;
}

static void
put16(struct hb *h, unsigned v)
{
	put8(h, v >> 8);
	put8(h, v);
}

static void
putb(struct hb *h, const void *p, size_t n)
{
	memcpy(h->b + h->n, p, n);
	h->n += n;
}

static void
set16(struct hb *h, size_t at, size_t v)
{
	h->b[at] = (uint8_t)(v >> 8);
	h->b[at + 1] = (uint8_t)v;
}

/* extension with an SNI list of the given names */
static void
ext_sni(struct hb *e, const char **names, int n)
{
	size_t l0, l1;

	put16(e, 0);
	l0 = e->n;
	put16(e, 0);
	l1 = e->n;
	put16(e, 0);
	for (int i = 0; i < n; i++) {
		put8(e, 0);
		put16(e, strlen(names[i]));
		putb(e, names[i], strlen(names[i]));
	}
	set16(e, l1, e->n - l1 - 2);
	set16(e, l0, e->n - l0 - 2);
}

static void
ext_raw(struct hb *e, unsigned type, const void *p, size_t n)
{
	put16(e, type);
	put16(e, n);
	putb(e, p, n);
}

/* record(22) + handshake(1) around a body: version, ciphers, exts block */
static size_t
build_hello(uint8_t *out, unsigned legacy, const uint16_t *cs, int ncs,
	    const struct hb *exts)
{
	struct hb h = { .n = 0 };
	size_t body;

	put8(&h, 22);
	put16(&h, 0x0301);
	put16(&h, 0);
	put8(&h, 1);
	put8(&h, 0);
	put16(&h, 0);
	put16(&h, legacy);
	for (int i = 0; i < 32; i++)
		put8(&h, i);
	put8(&h, 32);
	for (int i = 0; i < 32; i++)
		put8(&h, 0xa0 + i);
	put16(&h, ncs * 2);
	for (int i = 0; i < ncs; i++)
		put16(&h, cs[i]);
	put8(&h, 1);
	put8(&h, 0);
	if (exts != NULL) {
		put16(&h, exts->n);
		putb(&h, exts->b, exts->n);
	}
	body = h.n - 9;
	h.b[6] = (uint8_t)(body >> 16);
	set16(&h, 7, body);
	set16(&h, 3, body + 4);
	memcpy(out, h.b, h.n);
	return h.n;
}

static const uint16_t some_cs[] = { 0x1301, 0x1302, 0xc02b };

static void
test_grease_and_versions(void **state)
{
	static struct hb e;
	static uint8_t m[BUFSZ];
	const char *names[] = { "grease.example" };
	const uint16_t cs[] = { 0x2a2a, 0x1301, 0xfafa, 0x1303 };
	const uint8_t sv[] = { 8, 0x3a, 0x3a, 0x03, 0x04, 0x03, 0x03, 0x7f, 0x1c };
	const uint8_t sig[] = { 0, 6, 0x0a, 0x0a, 0x04, 0x03, 0x08, 0x04 };
	const uint8_t ks[] = { 0, 12, 0x4a, 0x4a, 0, 1, 0, 0x11, 0xec, 0, 3, 1, 2, 3 };
	struct tls_hello h;
	size_t n;

	(void)state;
	e.n = 0;
	ext_raw(&e, 0x1a1a, "", 0);
	ext_sni(&e, names, 1);
	ext_raw(&e, 0x002b, sv, sizeof(sv));
	ext_raw(&e, 0x000d, sig, sizeof(sig));
	ext_raw(&e, 0x0033, ks, sizeof(ks));
	ext_raw(&e, 0xdada, "\0", 1);
	n = build_hello(m, 0x0303, cs, 4, &e);
	assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_OK);
	assert_string_equal(h.sni, "grease.example");
	assert_int_equal(h.n_ciphers, 2);
	assert_int_equal(h.ciphers[0], 0x1301);
	assert_int_equal(h.ciphers[1], 0x1303);
	assert_int_equal(h.n_exts, 4);
	assert_int_equal(h.exts[0], 0x0000);
	assert_int_equal(h.exts[3], 0x0033);
	assert_int_equal(h.n_sigalgs, 2);
	assert_int_equal(h.sigalgs[0], 0x0403);
	/* 0x7f1c (TLS 1.3 draft 28) counts as 1.3; max_version is the raw
	 * highest value, as JA4 wants it */
	assert_int_equal(h.versions, DP_TLSV_1_3 | DP_TLSV_1_2);
	assert_int_equal(h.max_version, 0x7f1c);
	assert_int_equal(h.has_pqc, 1);
	assert_int_equal(h.has_alpn, 0);
	assert_int_equal(h.alpn_len, 0);

	/* no extensions at all (SSL 3.0 / TLS 1.0 style): versions from legacy */
	n = build_hello(m, 0x0301, some_cs, 3, NULL);
	assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_OK);
	assert_int_equal(h.versions, DP_TLSV_1_0);
	assert_int_equal(h.max_version, 0x0301);
	assert_int_equal(h.sni_len, 0);
	assert_int_equal(h.has_sni_ext, 0);
	n = build_hello(m, 0x0300, some_cs, 3, NULL);
	assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_OK);
	assert_int_equal(h.versions, DP_TLSV_SSL3);
	n = build_hello(m, 0x0302, some_cs, 3, NULL);
	assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_OK);
	assert_int_equal(h.versions, DP_TLSV_1_1);
	/* legacy_version major must be 3 */
	n = build_hello(m, 0x0203, some_cs, 3, NULL);
	assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_MALFORMED);
}

static void
test_grease_values(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 16; i++) {
		uint16_t g = (uint16_t)(0x0a0a + i * 0x1010);

		assert_true(tls_is_grease(g));
	}
	assert_false(tls_is_grease(0x0a1a));
	assert_false(tls_is_grease(0x1301));
	assert_false(tls_is_grease(0x0000));
	assert_false(tls_is_grease(0xfe0d));
	assert_false(tls_is_grease(0x0b0b));
}

static void
test_pqc_table(void **state)
{
	const uint16_t pqc[] = { 0x11ec, 0x11eb, 0x11ed, 0x0200, 0x0201, 0x0202,
				 0x6399, 0xfe30, 0xfe31 };
	const uint16_t classic[] = { 0x001d, 0x0017, 0x0018, 0x0019, 0x001e, 0x0100,
				     0x0203, 0x11ee, 0x2a2a };

	(void)state;
	for (size_t i = 0; i < sizeof(pqc) / sizeof(pqc[0]); i++)
		assert_true(tls_group_is_pqc(pqc[i]));
	for (size_t i = 0; i < sizeof(classic) / sizeof(classic[0]); i++)
		assert_false(tls_group_is_pqc(classic[i]));
}

static void
test_sni_variants(void **state)
{
	static struct hb e;
	static uint8_t m[BUFSZ];
	char longname[400];
	const char *two[] = { "first.example", "second.example" };
	const char *odd[] = { "bad name\x01\xff.example" };
	const char *lng[] = { longname };
	struct tls_hello h;
	size_t n;

	(void)state;
	/* two host_name entries: first kept, both counted */
	e.n = 0;
	ext_sni(&e, two, 2);
	n = build_hello(m, 0x0303, some_cs, 3, &e);
	assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_OK);
	assert_string_equal(h.sni, "first.example");
	assert_int_equal(h.sni_count, 2);

	/* raw bytes kept as they are */
	e.n = 0;
	ext_sni(&e, odd, 1);
	n = build_hello(m, 0x0303, some_cs, 3, &e);
	assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_OK);
	assert_int_equal(h.sni_len, strlen(odd[0]));
	assert_memory_equal(h.sni, odd[0], h.sni_len + 1);

	/* longer than TLS_SNI_MAX: truncated and flagged */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	e.n = 0;
	ext_sni(&e, lng, 1);
	n = build_hello(m, 0x0303, some_cs, 3, &e);
	assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_OK);
	assert_int_equal(h.sni_len, TLS_SNI_MAX);
	assert_int_equal(h.sni_truncated, 1);
	assert_int_equal(h.sni[TLS_SNI_MAX], '\0');

	/* an entry of another name_type before the host_name */
	{
		const uint8_t sni[] = { 0, 17, 7, 0, 3, 'x', 'y', 'z',
					0, 0, 8, 'h', 'o', 's', 't', '.', 'e', 'x', 'm' };

		e.n = 0;
		ext_raw(&e, 0, sni, sizeof(sni));
		n = build_hello(m, 0x0303, some_cs, 3, &e);
		assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_OK);
		assert_string_equal(h.sni, "host.exm");
		assert_int_equal(h.sni_count, 1);
	}
	/* malformed SNI payloads */
	{
		const uint8_t empty_list[] = { 0, 0 };
		const uint8_t empty_name[] = { 0, 3, 0, 0, 0 };
		const uint8_t over[] = { 0, 9, 0, 0, 7, 'a', 'b', 'c' };
		const uint8_t trailing[] = { 0, 4, 0, 0, 1, 'a', 'X' };

		e.n = 0;
		ext_raw(&e, 0, "", 0);
		n = build_hello(m, 0x0303, some_cs, 3, &e);
		assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_MALFORMED);
		e.n = 0;
		ext_raw(&e, 0, empty_list, sizeof(empty_list));
		n = build_hello(m, 0x0303, some_cs, 3, &e);
		assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_MALFORMED);
		e.n = 0;
		ext_raw(&e, 0, empty_name, sizeof(empty_name));
		n = build_hello(m, 0x0303, some_cs, 3, &e);
		assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_MALFORMED);
		e.n = 0;
		ext_raw(&e, 0, over, sizeof(over));
		n = build_hello(m, 0x0303, some_cs, 3, &e);
		assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_MALFORMED);
		e.n = 0;
		ext_raw(&e, 0, trailing, sizeof(trailing));
		n = build_hello(m, 0x0303, some_cs, 3, &e);
		assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_MALFORMED);
	}
}

static void
test_alpn_truncation(void **state)
{
	static struct hb e;
	static uint8_t m[BUFSZ];
	uint8_t al[300];
	size_t o = 2, n;
	struct tls_hello h;

	(void)state;
	/* entries of 20 bytes: 3 fit in 62 (3 * 21 = 63 does not: only 2) */
	for (int i = 0; i < 5; i++) {
		al[o++] = 20;
		memset(al + o, 'a' + i, 20);
		o += 20;
	}
	al[0] = (uint8_t)((o - 2) >> 8);
	al[1] = (uint8_t)(o - 2);
	e.n = 0;
	ext_raw(&e, 16, al, o);
	n = build_hello(m, 0x0303, some_cs, 3, &e);
	assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_OK);
	assert_int_equal(h.alpn_len, 42);
	assert_int_equal(h.alpn[0], 20);
	assert_int_equal(h.alpn[21], 20);
	assert_int_equal(h.alpn[22], 'b');
	assert_int_equal(h.first_alpn[0], 'a');
	assert_int_equal(h.first_alpn[1], 'a');

	/* a first entry longer than the buffer: nothing kept, first/last known */
	o = 2;
	al[o++] = 100;
	memset(al + o, 'q', 100);
	al[o] = 'p';
	al[o + 99] = 'z';
	o += 100;
	al[o++] = 2;
	al[o++] = 'h';
	al[o++] = '2';
	al[0] = 0;
	al[1] = (uint8_t)(o - 2);
	e.n = 0;
	ext_raw(&e, 16, al, o);
	n = build_hello(m, 0x0303, some_cs, 3, &e);
	assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_OK);
	assert_int_equal(h.alpn_len, 0);
	assert_int_equal(h.has_alpn, 1);
	assert_int_equal(h.first_alpn[0], 'p');
	assert_int_equal(h.first_alpn[1], 'z');

	/* an empty protocol name is malformed; so is an empty list */
	{
		const uint8_t zero[] = { 0, 3, 2, 'h', '2', 0 };
		const uint8_t none[] = { 0, 0 };

		e.n = 0;
		ext_raw(&e, 16, zero, sizeof(zero));
		n = build_hello(m, 0x0303, some_cs, 3, &e);
		assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_MALFORMED);
		e.n = 0;
		ext_raw(&e, 16, none, sizeof(none));
		n = build_hello(m, 0x0303, some_cs, 3, &e);
		assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_MALFORMED);
	}
}

static void
test_duplicates(void **state)
{
	static struct hb e;
	static uint8_t m[BUFSZ];
	const char *a[] = { "a.example" };
	const char *b[] = { "b.example" };
	struct tls_hello h;
	size_t n;

	(void)state;
	/* two server_name extensions: malformed (RFC 8446 4.2), not first-wins */
	e.n = 0;
	ext_sni(&e, a, 1);
	ext_sni(&e, b, 1);
	n = build_hello(m, 0x0303, some_cs, 3, &e);
	assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_MALFORMED);
	/* duplicate of an uninteresting extension too */
	e.n = 0;
	ext_raw(&e, 23, "", 0);
	ext_sni(&e, a, 1);
	ext_raw(&e, 23, "", 0);
	n = build_hello(m, 0x0303, some_cs, 3, &e);
	assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_MALFORMED);
	/* two different GREASE extensions are fine (Chromium sends two) */
	e.n = 0;
	ext_raw(&e, 0x0a0a, "", 0);
	ext_sni(&e, a, 1);
	ext_raw(&e, 0x0a0a, "x", 1);
	n = build_hello(m, 0x0303, some_cs, 3, &e);
	assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_OK);
	assert_string_equal(h.sni, "a.example");
}

static void
test_ech_flag(void **state)
{
	static struct hb e;
	static uint8_t m[BUFSZ];
	const uint8_t ech[] = { 0, 0, 1, 0, 1, 7, 0, 0, 0, 0 };
	const char *a[] = { "public.example" };
	struct tls_hello h;
	size_t n;

	(void)state;
	e.n = 0;
	ext_sni(&e, a, 1);
	ext_raw(&e, 0xfe0d, ech, sizeof(ech));
	n = build_hello(m, 0x0303, some_cs, 3, &e);
	assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_OK);
	assert_int_equal(h.has_ech, 1);
	assert_string_equal(h.sni, "public.example");
}

static void
put16at(uint8_t *m, size_t at, size_t v)
{
	m[at] = (uint8_t)(v >> 8);
	m[at + 1] = (uint8_t)v;
}

static size_t
get16at(const uint8_t *m, size_t at)
{
	return (size_t)m[at] << 8 | m[at + 1];
}

static void
expect_malformed(const uint8_t *m, size_t len, const char *fixture, const char *what)
{
	struct tls_hello h;
	enum tls_result rc = tls_parse_records(m, len, MAXLEN, &h, NULL);

	if (rc != TLS_MALFORMED)
		fail_msg("%s: %s: got %d, want MALFORMED", fixture, what, rc);
	/* and nothing leaks into the output on failure */
	assert_int_equal(h.sni_len, 0);
}

/* corrupt one length field at a time in a real hello: always MALFORMED */
static void
test_corrupted_lengths(void **state)
{
	static uint8_t buf[BUFSZ], m[BUFSZ];
	size_t len;

	(void)state;
	for (size_t i = 0; i < N_FIXTURES; i++) {
		const char *fx = fixtures[i].name;
		size_t p, sid, csl, cm, eb, end;

		len = load_fixture(&fixtures[i], buf);
		end = len;
		sid = 9 + 2 + 32;
		csl = sid + 1 + buf[sid];
		cm = csl + 2 + get16at(buf, csl);
		eb = cm + 1 + buf[cm];
		assert_true(eb + 2 <= end);

		memcpy(m, buf, len);
		m[sid] = 33;
		expect_malformed(m, len, fx, "session id > 32");
		memcpy(m, buf, len);
		m[csl + 1] ^= 1;
		expect_malformed(m, len, fx, "odd cipher_suites length");
		memcpy(m, buf, len);
		m[csl] = 0xff;
		expect_malformed(m, len, fx, "cipher_suites past the hello");
		memcpy(m, buf, len);
		m[cm] = 0;
		expect_malformed(m, len, fx, "no compression method");
		memcpy(m, buf, len);
		put16at(m, eb, get16at(buf, eb) + 1);
		expect_malformed(m, len, fx, "extension block + 1");
		memcpy(m, buf, len);
		put16at(m, eb, get16at(buf, eb) - 1);
		expect_malformed(m, len, fx, "extension block - 1");

		/* record and handshake lengths shrunk together: the block overruns */
		memcpy(m, buf, len);
		put16at(m, 3, get16at(buf, 3) - 1);
		put16at(m, 7, get16at(buf, 7) - 1);
		expect_malformed(m, len - 1, fx, "hello - 1");
		/* grown together with a stray byte after the block */
		memcpy(m, buf, len);
		m[len] = 0;
		put16at(m, 3, get16at(buf, 3) + 1);
		put16at(m, 7, get16at(buf, 7) + 1);
		expect_malformed(m, len + 1, fx, "hello + 1 trailing byte");
		/* record lengths TLS forbids */
		memcpy(m, buf, len);
		put16at(m, 3, 0);
		expect_malformed(m, len, fx, "zero-length record");
		memcpy(m, buf, len);
		put16at(m, 3, 16385);
		expect_malformed(m, len, fx, "record > 2^14");
		/* handshake length 0 */
		memcpy(m, buf, len);
		m[6] = 0;
		put16at(m, 7, 0);
		expect_malformed(m, len, fx, "empty ClientHello");

		for (p = eb + 2; p + 4 <= end; ) {
			uint16_t type = (uint16_t)get16at(buf, p);
			size_t el = get16at(buf, p + 2);

			/* an extension running past the block */
			memcpy(m, buf, len);
			put16at(m, p + 2, end - p - 4 + 1);
			expect_malformed(m, len, fx, "extension past the block");
			/* inner lists that must fill their extension exactly */
			if (el >= 2 && (type == 0x0000 || type == 0x0010 || type == 0x0033 ||
					type == 0x000d)) {
				memcpy(m, buf, len);
				put16at(m, p + 4, get16at(buf, p + 4) + 1);
				expect_malformed(m, len, fx, "inner list + 1");
				memcpy(m, buf, len);
				put16at(m, p + 4, get16at(buf, p + 4) - 1);
				expect_malformed(m, len, fx, "inner list - 1");
			}
			if (el >= 1 && type == 0x002b) {
				memcpy(m, buf, len);
				m[p + 4]++;
				expect_malformed(m, len, fx, "supported_versions + 1");
			}
			if (type == 0x0000) {
				/* the host_name length past the list */
				memcpy(m, buf, len);
				put16at(m, p + 7, get16at(buf, p + 7) + 1);
				expect_malformed(m, len, fx, "host_name + 1");
			}
			p += 4 + el;
		}
		assert_int_equal(p, end);
	}
}

/* oversize is decided from the first 9 bytes */
static void
test_too_big(void **state)
{
	static uint8_t buf[BUFSZ];
	struct tls_hello h;
	size_t len, need;

	(void)state;
	for (size_t i = 0; i < N_FIXTURES; i++) {
		size_t total;

		len = load_fixture(&fixtures[i], buf);
		total = len - 5;     /* handshake message: header + body */
		for (size_t t = 9; t <= len; t++) {
			need = 0;
			assert_int_equal(tls_parse_records(buf, t, total - 1, &h, &need),
					 TLS_TOO_BIG);
			assert_int_equal(need, total);
		}
		assert_int_equal(tls_parse_records(buf, len, total, &h, NULL), TLS_OK);
		assert_int_equal(tls_parse_records(buf, 8, total - 1, &h, NULL), TLS_NEED_MORE);
		assert_int_equal(tls_parse_clienthello(buf + 5, 4, total - 1, &h, &need),
				 TLS_TOO_BIG);
	}
	/* a 16 MiB declared hello with the default bound */
	{
		const uint8_t big[] = { 22, 3, 1, 0x40, 0x00, 1, 0xff, 0xff, 0xff };

		assert_int_equal(tls_parse_records(big, sizeof(big), MAXLEN, &h, &need),
				 TLS_TOO_BIG);
		assert_int_equal(need, 4 + 0xffffff);
	}
}

static void
test_not_tls(void **state)
{
	static const struct {
		const char *what;
		const uint8_t *b;
		size_t n;
	} cases[] = {
		{ "http", (const uint8_t *)"GET / HTTP/1.1\r\n", 16 },
		{ "ssh", (const uint8_t *)"SSH-2.0-OpenSSH_9.2\r\n", 21 },
		{ "sslv2 hello", (const uint8_t *)"\x80\x2e\x01\x03\x01", 5 },
		{ "application data", (const uint8_t *)"\x17\x03\x03\x00\x10", 5 },
		{ "alert", (const uint8_t *)"\x15\x03\x03\x00\x02\x02\x28", 7 },
		{ "change_cipher_spec", (const uint8_t *)"\x14\x03\x03\x00\x01\x01", 6 },
		{ "record major 2", (const uint8_t *)"\x16\x02\x00\x00\x10", 5 },
		{ "record minor 5", (const uint8_t *)"\x16\x03\x05\x00\x10", 5 },
		{ "one byte", (const uint8_t *)"\x00", 1 },
		{ "two bytes", (const uint8_t *)"\x16\x04", 2 },
	};
	struct tls_hello h;
	size_t need;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (tls_parse_records(cases[i].b, cases[i].n, MAXLEN, &h, &need) != TLS_NOT_TLS)
			fail_msg("%s: not NOT_TLS", cases[i].what);
		assert_false(tls_looks_like(cases[i].b, cases[i].n));
	}
	/* every record version 3.0..3.4 is accepted on the record layer */
	for (uint8_t minor = 0; minor <= 4; minor++) {
		const uint8_t r[] = { 22, 3, minor, 0, 50, 1, 0, 0 };

		assert_int_equal(tls_parse_records(r, sizeof(r), MAXLEN, &h, &need),
				 TLS_NEED_MORE);
		assert_true(tls_looks_like(r, sizeof(r)));
	}
	/* a handshake record whose first message is not a ClientHello */
	{
		const uint8_t r[] = { 22, 3, 3, 0, 50, 2, 0, 0, 46 };

		assert_int_equal(tls_parse_records(r, sizeof(r), MAXLEN, &h, &need),
				 TLS_MALFORMED);
		assert_false(tls_looks_like(r, sizeof(r)));
	}
	assert_int_equal(tls_parse_records(NULL, 0, MAXLEN, &h, &need), TLS_NEED_MORE);
}

/* a non-handshake record in the middle of the hello is malformed */
static void
test_interleaved_record(void **state)
{
	static uint8_t buf[BUFSZ], st[BUFSZ];
	struct tls_hello h;
	size_t len, sl, k = 40;

	(void)state;
	len = load_fixture(&fixtures[0], buf);
	sl = resplit(buf + 5, len - 5, &k, 1, st);
	st[5 + k] = 23;                    /* second record: application_data */
	assert_int_equal(tls_parse_records(st, sl, MAXLEN, &h, NULL), TLS_MALFORMED);
	assert_int_equal(tls_parse_records(st, 5 + k + 1, MAXLEN, &h, NULL), TLS_MALFORMED);
	st[5 + k] = 22;
	st[5 + k + 1] = 2;                 /* bad version on a later record */
	assert_int_equal(tls_parse_records(st, sl, MAXLEN, &h, NULL), TLS_MALFORMED);
	st[5 + k + 1] = 3;
	assert_int_equal(tls_parse_records(st, sl, MAXLEN, &h, NULL), TLS_OK);
	assert_int_equal(h.records, 2);

	/* the handshake header itself split (1 + 3 bytes) */
	k = 1;
	sl = resplit(buf + 5, len - 5, &k, 1, st);
	assert_int_equal(tls_parse_records(st, sl, MAXLEN, &h, NULL), TLS_OK);
	assert_string_equal(h.sni, fixtures[0].sni);
	/* a record with bytes after the hello: not waited for, counted in consumed */
	memcpy(st, buf, len);
	st[len] = 0xee;
	put16at(st, 3, get16at(buf, 3) + 1);
	assert_int_equal(tls_parse_records(st, len, MAXLEN, &h, NULL), TLS_OK);
	assert_int_equal(h.consumed, len + 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures_expected),
		cmocka_unit_test(test_fixtures_vs_tshark),
		cmocka_unit_test(test_fixtures_truncated),
		cmocka_unit_test(test_fixtures_split_two),
		cmocka_unit_test(test_fixtures_split_three),
		cmocka_unit_test(test_grease_and_versions),
		cmocka_unit_test(test_grease_values),
		cmocka_unit_test(test_pqc_table),
		cmocka_unit_test(test_sni_variants),
		cmocka_unit_test(test_alpn_truncation),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_ech_flag),
		cmocka_unit_test(test_corrupted_lengths),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_not_tls),
		cmocka_unit_test(test_interleaved_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
