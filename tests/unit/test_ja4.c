/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_ja4.c: JA4 against the worked example of the FoxIO spec
 * (technical_details/JA4.md, commit d8f731ce0f19), both from a filled
 * tls_hello and end to end from ClientHello bytes carrying exactly the
 * spec's cipher suites, extensions and signature algorithms; the spec's
 * ALPN rules; and the captured fixtures (stable under record splits).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "fixture.h"
#include "ja4.h"
#include "tls.h"

#define MAXLEN 16384

/* the spec's example, in wire order */
static const uint16_t spec_ciphers[] = {
	0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
	0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
};
static const uint16_t spec_exts[] = {
	0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005,
	0x0023, 0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
};
static const uint16_t spec_sigalgs[] = {
	0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
};
#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
fill_spec(struct tls_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->max_version = 0x0304;
	h->has_sni_ext = 1;
	h->has_alpn = 1;
	h->first_alpn[0] = 'h';
	h->first_alpn[1] = '2';
	h->n_ciphers = h->ciphers_total = N(spec_ciphers);
	memcpy(h->ciphers, spec_ciphers, sizeof(spec_ciphers));
	h->n_exts = h->exts_total = N(spec_exts);
	memcpy(h->exts, spec_exts, sizeof(spec_exts));
	h->n_sigalgs = N(spec_sigalgs);
	memcpy(h->sigalgs, spec_sigalgs, sizeof(spec_sigalgs));
}

static int
cmp_u16(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* first 12 hex digits of sha256("xxxx,xxxx,..." of v, sorted by qsort if sorted) */
static void
ref_hash_s(const uint16_t *in, size_t n, const uint16_t *tail, size_t nt, int sorted,
	   char out[13])
{
	uint16_t v[64];
	char s[1024];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	size_t o = 0;

	memcpy(v, in, n * sizeof(v[0]));
	if (sorted)
		qsort(v, n, sizeof(v[0]), cmp_u16);
	for (size_t i = 0; i < n; i++)
		o += (size_t)sprintf(s + o, "%s%04x", i ? "," : "", v[i]);
	for (size_t i = 0; i < nt; i++)
		o += (size_t)sprintf(s + o, "%s%04x", i ? "," : "_", tail[i]);
	assert_int_equal(EVP_Digest(s, o, md, &mdlen, EVP_sha256(), NULL), 1);
	for (int i = 0; i < 6; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void
ref_hash(const uint16_t *in, size_t n, const uint16_t *tail, size_t nt, char out[13])
{
	ref_hash_s(in, n, tail, nt, 1, out);
}

/* random lists (duplicates, extremes, up to the 64 kept): sorted as qsort does */
static void
test_sorted_lists(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (int round = 0; round < 2000; round++) {
		struct tls_hello h;
		uint16_t ex[64];
		size_t nex = 0;
		char out[64], want[13];

		fill_spec(&h);
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		h.n_ciphers = h.ciphers_total = (uint16_t)(1 + (x >> 40) % 64);
		h.n_exts = h.exts_total = (uint16_t)(1 + (x >> 50) % 64);
		for (int i = 0; i < 64; i++) {
			uint16_t pool[] = { 0x0000, 0x0010, 0xffff, 0x8000, 0x7fff, 0x1301 };

			x = x * 6364136223846793005ull + 1442695040888963407ull;
			h.ciphers[i] = (x >> 20) & 1 ? pool[(x >> 30) % 6] : (uint16_t)(x >> 40);
			h.exts[i] = (x >> 21) & 1 ? pool[(x >> 33) % 6] : (uint16_t)(x >> 48);
		}
		assert_int_equal(tls_ja4(&h, 0, out, sizeof(out)), 0);
		ref_hash(h.ciphers, h.n_ciphers, NULL, 0, want);
		assert_memory_equal(out + 11, want, 12);
		for (int i = 0; i < h.n_exts; i++)
			if (h.exts[i] != 0x0000 && h.exts[i] != 0x0010)
				ex[nex++] = h.exts[i];
		if (nex > 0) {
			ref_hash(ex, nex, h.sigalgs, h.n_sigalgs, want);
			assert_memory_equal(out + 24, want, 12);
		}
	}
}

/*
 * The same lists again and again (as a worker sees a few client stacks), in
 * random order: every fingerprint still equals the reference, including
 * list sets whose concatenations are equal (exts [a b] + sigalgs [c] vs
 * exts [a b c] and none) and sets that differ in one signature algorithm.
 */
static void
test_repeated_lists(void **state)
{
	enum { SETS = 150 };
	static struct tls_hello set[SETS];
	uint64_t x = 0x243f6a8885a308d3ull;

	(void)state;
	for (int k = 0; k < SETS; k++) {
		struct tls_hello *h = &set[k];

		fill_spec(h);
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		h->n_ciphers = h->ciphers_total = (uint16_t)(1 + (x >> 40) % 20);
		h->n_exts = h->exts_total = (uint16_t)(1 + (x >> 50) % 20);
		h->n_sigalgs = (uint16_t)((x >> 30) % 9);
		for (int i = 0; i < 64; i++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			h->ciphers[i] = (uint16_t)(0x1300 + (x >> 60));
			h->exts[i] = (uint16_t)(0x0011 + (x >> 58));
		}
		for (int i = 0; i < 32; i++)
			h->sigalgs[i] = (uint16_t)(0x0400 + (x >> (i % 48)) % 16);
		if (k % 3 == 1 && set[k - 1].n_sigalgs > 0) {
			/* the previous set with its first sigalg moved to the end of the exts */
			*h = set[k - 1];
			h->exts[h->n_exts] = h->sigalgs[0];
			h->n_exts++;
			h->exts_total++;
			memmove(h->sigalgs, h->sigalgs + 1, (h->n_sigalgs - 1) * sizeof(uint16_t));
			h->n_sigalgs--;
		} else if (k % 3 == 2 && set[k - 1].n_sigalgs > 0) {
			*h = set[k - 1];
			h->sigalgs[h->n_sigalgs - 1] ^= 0x0100;         /* one sigalg differs */
		}
	}
	for (int round = 0; round < 6000; round++) {
		struct tls_hello *h;
		uint16_t ex[64];
		size_t nex = 0;
		char out[64], want[13];

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		h = &set[(x >> 33) % SETS];
		assert_int_equal(tls_ja4(h, 0, out, sizeof(out)), 0);
		ref_hash(h->ciphers, h->n_ciphers, NULL, 0, want);
		assert_memory_equal(out + 11, want, 12);
		for (int i = 0; i < h->n_exts; i++)
			if (h->exts[i] != 0x0000 && h->exts[i] != 0x0010)
				ex[nex++] = h->exts[i];
		ref_hash(ex, nex, h->sigalgs, h->n_sigalgs, want);
		assert_memory_equal(out + 24, want, 12);
		/* JA4_o of the same lists: wire order, never a sorted list's memo */
		assert_int_equal(tls_ja4_o(h, 0, out, sizeof(out)), 0);
		ref_hash_s(h->ciphers, h->n_ciphers, NULL, 0, 0, want);
		assert_memory_equal(out + 11, want, 12);
		ref_hash_s(h->exts, h->n_exts, h->sigalgs, h->n_sigalgs, 0, want);
		assert_memory_equal(out + 24, want, 12);
		/* the cipher list in another order: the same JA4 */
		if (round % 7 == 0 && h->n_ciphers > 1) {
			struct tls_hello r = *h;

			for (int i = 0; i < r.n_ciphers; i++)
				r.ciphers[i] = h->ciphers[r.n_ciphers - 1 - i];
			assert_int_equal(tls_ja4(&r, 0, out, sizeof(out)), 0);
			ref_hash(h->ciphers, h->n_ciphers, NULL, 0, want);
			assert_memory_equal(out + 11, want, 12);
		}
	}
}

static void
test_spec_example(void **state)
{
	struct tls_hello h;
	char out[64];

	(void)state;
	fill_spec(&h);
	assert_int_equal(tls_ja4(&h, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "t13d1516h2_8daaf6152771_e5627efa2ab1");
	assert_int_equal(strlen(out), TLS_JA4_LEN);
	/* "ja4_o": original order, SNI and ALPN kept */
	assert_int_equal(tls_ja4_o(&h, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "t13d1516h2_acb858a92679_18f69afefd3d");
	/* QUIC prefix */
	assert_int_equal(tls_ja4(&h, 1, out, sizeof(out)), 0);
	assert_string_equal(out, "q13d1516h2_8daaf6152771_e5627efa2ab1");
	/* spec: no signature algorithms -> the string ends without '_' */
	h.n_sigalgs = 0;
	assert_int_equal(tls_ja4(&h, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "t13d1516h2_8daaf6152771_6d807ffa2a79");
	/* empty lists -> twelve zeros */
	h.n_ciphers = h.ciphers_total = 0;
	h.n_exts = h.exts_total = 0;
	assert_int_equal(tls_ja4(&h, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "t13d0000h2_000000000000_000000000000");
	/* no SNI, no ALPN, TLS 1.2 */
	fill_spec(&h);
	h.has_sni_ext = 0;
	h.has_alpn = 0;
	h.max_version = 0x0303;
	assert_int_equal(tls_ja4(&h, 0, out, sizeof(out)), 0);
	assert_memory_equal(out, "t12i151600_8daaf6152771_e5627efa2ab1", TLS_JA4_LEN);
	/* versions table and the 99 cap */
	h.max_version = 0x0300;
	h.ciphers_total = 150;
	assert_int_equal(tls_ja4(&h, 0, out, sizeof(out)), -E2BIG);
	h.ciphers_total = N(spec_ciphers);
	assert_int_equal(tls_ja4(&h, 0, out, sizeof(out)), 0);
	assert_memory_equal(out, "ts3i", 4);
	h.max_version = 0x7f1c;
	assert_int_equal(tls_ja4(&h, 0, out, sizeof(out)), 0);
	assert_memory_equal(out, "t00i", 4);
	/* output too small */
	assert_int_equal(tls_ja4(&h, 0, out, TLS_JA4_LEN), -ENOSPC);
}

static void
test_spec_alpn_rules(void **state)
{
	/* the spec's five examples: bytes of the first ALPN value -> 2 chars */
	static const struct {
		uint8_t b[4];
		size_t n;
		const char *want;
	} ex[] = {
		{ { 0xab }, 1, "ab" },
		{ { 0xab, 0xcd }, 2, "ad" },
		{ { 0x30, 0xab }, 2, "3b" },
		{ { 0x30, 0x31, 0xab, 0xcd }, 4, "3d" },
		{ { 0x30, 0xab, 0xcd, 0x31 }, 4, "01" },
		{ { 'h', 't', 't', 'p' }, 4, "hp" },
		{ { 'x' }, 1, "xx" },
	};
	struct tls_hello h;
	char out[64];

	(void)state;
	for (size_t i = 0; i < N(ex); i++) {
		fill_spec(&h);
		h.first_alpn[0] = ex[i].b[0];
		h.first_alpn[1] = ex[i].b[ex[i].n - 1];
		assert_int_equal(tls_ja4(&h, 0, out, sizeof(out)), 0);
		assert_memory_equal(out + 8, ex[i].want, 2);
	}
}

/* ---- end to end: bytes -> parser -> JA4 ------------------------------- */

struct buf {
	uint8_t b[4096];
	size_t n;
};

static void
p8(struct buf *b, unsigned v)
{
	b->b[b->n++] = (uint8_t)v;
}

static void
p16(struct buf *b, unsigned v)
{
	p8(b, v >> 8);
	p8(b, v);
}

static void
pext(struct buf *b, unsigned type, const uint8_t *d, size_t n)
{
	p16(b, type);
	p16(b, n);
	if (n > 0)
		memcpy(b->b + b->n, d, n);
	b->n += n;
}

static size_t
spec_hello(uint8_t *out, int grease)
{
	struct buf e = { .n = 0 }, h = { .n = 0 };
	const uint8_t sni[] = { 0, 14, 0, 0, 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm' };
	const uint8_t alpn[] = { 0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
	const uint8_t ks[] = { 0, 6, 0, 0x1d, 0, 2, 0xaa, 0xbb };
	const uint8_t sv[] = { 4, 0x03, 0x04, 0x03, 0x03 };
	const uint8_t svg[] = { 6, 0x7a, 0x7a, 0x03, 0x04, 0x03, 0x03 };
	uint8_t sig[2 + 2 * N(spec_sigalgs) + 2];
	size_t sn = 2;

	if (grease) {
		sig[sn++] = 0x5a;
		sig[sn++] = 0x5a;
	}
	for (size_t i = 0; i < N(spec_sigalgs); i++) {
		sig[sn++] = (uint8_t)(spec_sigalgs[i] >> 8);
		sig[sn++] = (uint8_t)spec_sigalgs[i];
	}
	sig[0] = 0;
	sig[1] = (uint8_t)(sn - 2);
	if (grease)
		pext(&e, 0x3a3a, NULL, 0);
	for (size_t i = 0; i < N(spec_exts); i++) {
		switch (spec_exts[i]) {
		case 0x0000: pext(&e, 0x0000, sni, sizeof(sni)); break;
		case 0x0010: pext(&e, 0x0010, alpn, sizeof(alpn)); break;
		case 0x0033: pext(&e, 0x0033, ks, sizeof(ks)); break;
		case 0x002b:
			if (grease)
				pext(&e, 0x002b, svg, sizeof(svg));
			else
				pext(&e, 0x002b, sv, sizeof(sv));
			break;
		case 0x000d: pext(&e, 0x000d, sig, sn); break;
		default: pext(&e, spec_exts[i], NULL, 0); break;
		}
	}
	if (grease)
		pext(&e, 0xeaea, (const uint8_t *)"\0", 1);
	p8(&h, 22); p16(&h, 0x0301); p16(&h, 0);
	p8(&h, 1); p8(&h, 0); p16(&h, 0);
	p16(&h, 0x0303);
	for (int i = 0; i < 32; i++)
		p8(&h, (unsigned)i);
	p8(&h, 0);
	p16(&h, 2 * (N(spec_ciphers) + (grease ? 1 : 0)));
	if (grease)
		p16(&h, 0x8a8a);
	for (size_t i = 0; i < N(spec_ciphers); i++)
		p16(&h, spec_ciphers[i]);
	p8(&h, 1); p8(&h, 0);
	p16(&h, e.n);
	memcpy(h.b + h.n, e.b, e.n);
	h.n += e.n;
	h.b[3] = (uint8_t)((h.n - 5) >> 8);
	h.b[4] = (uint8_t)(h.n - 5);
	h.b[7] = (uint8_t)((h.n - 9) >> 8);
	h.b[8] = (uint8_t)(h.n - 9);
	memcpy(out, h.b, h.n);
	return h.n;
}

static void
test_spec_example_from_bytes(void **state)
{
	uint8_t m[4096];
	struct tls_hello h;
	char out[64];
	size_t n;

	(void)state;
	for (int grease = 0; grease <= 1; grease++) {
		n = spec_hello(m, grease);
		assert_int_equal(tls_parse_records(m, n, MAXLEN, &h, NULL), TLS_OK);
		assert_string_equal(h.sni, "example.com");
		assert_int_equal(tls_ja4(&h, 0, out, sizeof(out)), 0);
		assert_string_equal(out, "t13d1516h2_8daaf6152771_e5627efa2ab1");
		assert_int_equal(tls_ja4_o(&h, 0, out, sizeof(out)), 0);
		assert_string_equal(out, "t13d1516h2_acb858a92679_18f69afefd3d");
	}
}

static size_t
load(const char *name, uint8_t *buf, size_t cap)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "tests/data/clienthello/%s.bin", name);
	return fixture_read(rel, buf, cap);
}

/*
 * fixtures: the values tests/data/clienthello/ja4_from_tshark.py computes
 * from tshark's decode of each capture (an implementation independent of
 * ours: Python hashlib over Wireshark's fields), listed in the README.
 */
static void
test_fixtures(void **state)
{
	static const struct {
		const char *name;
		const char *ja4_a;     /* the readable part, checked literally */
		const char *ja4;       /* full value, from ja4_from_tshark.py */
	} fx[] = {
		{ "chromium", "t13d1517h2", "t13d1517h2_8daaf6152771_cb7bf5808d99" },
		{ "curl-tls12", "t12d2807h2", "t12d2807h2_d943125447b4_a44c6288192a" },
		{ "curl-tls13", "t13d3112h2", "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6" },
		{ "gnutls", "t13d2914h2", "t13d2914h2_723694b0fccc_2cc26d266019" },
		{ "node", "t13d5911h2", "t13d5911h2_a33745022dd6_1f22a2ca17c4" },
		{ "openssl-tls12", "t12d2808h2", "t12d2808h2_d943125447b4_e7e480e5a997" },
		{ "openssl-tls13", "t13d0411h2", "t13d0411h2_16476d049b0b_78f1d400d464" },
		{ "python-ssl", "t13d3112h2", "t13d3112h2_e8f1e7e78f70_d41ae481755e" },
	};
	static uint8_t buf[20000], st[20000];
	struct tls_hello h, s;
	char out[64], out2[64];
	size_t n;

	(void)state;
	for (size_t i = 0; i < N(fx); i++) {
		n = load(fx[i].name, buf, sizeof(buf));
		assert_int_equal(tls_parse_records(buf, n, MAXLEN, &h, NULL), TLS_OK);
		assert_int_equal(tls_ja4(&h, 0, out, sizeof(out)), 0);
		printf("# %s %s\n", fx[i].name, out);
		if (strncmp(out, fx[i].ja4_a, strlen(fx[i].ja4_a)) != 0)
			fail_msg("%s: JA4 %s does not start %s", fx[i].name, out, fx[i].ja4_a);
		assert_string_equal(out, fx[i].ja4);
		/* same hello cut into two records: same fingerprint */
		{
			size_t k = (n - 5) / 2, o = 0;

			st[o++] = 22; st[o++] = 3; st[o++] = 1;
			st[o++] = (uint8_t)(k >> 8); st[o++] = (uint8_t)k;
			memcpy(st + o, buf + 5, k);
			o += k;
			st[o++] = 22; st[o++] = 3; st[o++] = 3;
			st[o++] = (uint8_t)((n - 5 - k) >> 8); st[o++] = (uint8_t)(n - 5 - k);
			memcpy(st + o, buf + 5 + k, n - 5 - k);
			o += n - 5 - k;
			assert_int_equal(tls_parse_records(st, o, MAXLEN, &s, NULL), TLS_OK);
			assert_int_equal(tls_ja4(&s, 0, out2, sizeof(out2)), 0);
			assert_string_equal(out, out2);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_spec_alpn_rules),
		cmocka_unit_test(test_spec_example_from_bytes),
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_sorted_lists),
		cmocka_unit_test(test_repeated_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
