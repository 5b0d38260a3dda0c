/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ja4.c: JA4 fingerprint (see ja4.h for the spec version and the recipe).
 * SHA-256 by sha256.c: OpenSSL's EVP_Digest allocated, dispatched and freed
 * a context per digest, two per ClientHello, more than the hashing itself
 * (docs/performance.md).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "ja4.h"
#include "sha256.h"

static const char hexd[] = "0123456789abcdef";

static int
is_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static const char *
version_code(uint16_t v)
{
	switch (v) {
	case 0x0304: return "13";
	case 0x0303: return "12";
	case 0x0302: return "11";
	case 0x0301: return "10";
	case 0x0300: return "s3";
	case 0x0002: return "s2";
	case 0xfeff: return "d1";
	case 0xfefd: return "d2";
	case 0xfefc: return "d3";
	default: return "00";
	}
}

/* insertion sort: at most 64 entries */
static void
sort16(uint16_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint16_t x = v[i];
		size_t j = i;

		for (; j > 0 && v[j - 1] > x; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* The two hex digits of a byte, as the 2 bytes they are written as. */
static uint16_t
hex2(uint8_t b)
{
	char c[2] = { hexd[b >> 4], hexd[b & 15] };
	uint16_t v;

	memcpy(&v, c, 2);
	return v;
}

/* append "xxxx,xxxx,..." to s at *o (5 bytes stored per entry, 4 + ',') */
static void
put_list(char *s, size_t *o, const uint16_t *v, size_t n)
{
	char *p = s + *o;

	for (size_t i = 0; i < n; i++) {
		uint16_t hi = hex2((uint8_t)(v[i] >> 8)), lo = hex2((uint8_t)v[i]);

		memcpy(p, &hi, 2);
		memcpy(p + 2, &lo, 2);
		p[4] = ',';
		p += 5;
	}
	/* no separator after the last entry */
	*o += n > 0 ? n * 5 - 1 : 0;
}

/* first 12 hex digits of sha256(s[0..n)), or 12 zeros when empty */
static int
hash12(const char *s, size_t n, int empty, char *out)
{
	uint8_t md[CP_SHA256_LEN];

	if (empty) {
		memset(out, '0', 12);
		return 0;
	}
	cp_sha256(s, n, md);
	for (int i = 0; i < 6; i++) {
		out[2 * i] = hexd[md[i] >> 4];
		out[2 * i + 1] = hexd[md[i] & 15];
	}
	return 0;
}

/*
 * The hashes of the lists recently seen by this thread. The hashed text is
 * a function of the lists alone ("xxxx,..." of v, then "_" and the
 * signature algorithms if any), so an entry keyed by the exact lists
 * (compared in full, never by a digest) gives exactly the hash the text
 * would: a client stack sends the same sorted lists every time, so a busy
 * worker meets a few dozen of them, not one per flow.
 */
#define MEMO_SET_BITS 6          /* 64 sets of 2 entries */
#define MEMO_KEY_MAX (64 + 32)

struct ja4_memo {
	uint64_t h;
	uint8_t nv, ns, valid, sort;
	char hex[12];
	uint16_t key[MEMO_KEY_MAX];      /* v[0..nv) then sig[0..ns) */
};

static __thread struct ja4_memo memo[2u << MEMO_SET_BITS];

static uint64_t
memo_mix(uint64_t x, const uint16_t *a, size_t n)
{
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		uint64_t w;

		memcpy(&w, a + i, sizeof(w));
		x = (x ^ w) * 0xff51afd7ed558ccdull;
		x ^= x >> 29;
	}
	for (; i < n; i++)
		x = (x ^ a[i]) * 0xc4ceb9fe1a85ec53ull;
	return x;
}

static int
memo_is(const struct ja4_memo *m, uint64_t h, const uint16_t *v, size_t nv,
	const uint16_t *sig, size_t ns, int sort)
{
	return m->valid && m->h == h && m->nv == nv && m->ns == ns && m->sort == sort &&
	       memcmp(m->key, v, nv * sizeof(v[0])) == 0 &&
	       (ns == 0 || memcmp(m->key + nv, sig, ns * sizeof(sig[0])) == 0);
}

/*
 * hash12 of the text of v[0..nv) (and "_" sig[0..ns) when ns > 0), v sorted
 * first when sort is set. The memo is keyed by v as given (and sort): a
 * client's cipher list comes in one order every time, so its hit needs no
 * sort; extension orders are randomised by some clients (Chromium), so
 * the caller sorts those before asking. Two entries per set, the newer
 * first: two stacks whose lists share a set do not evict each other.
 */
static int
list_hash12(const uint16_t *v, size_t nv, const uint16_t *sig, size_t ns, int sort,
	    char *out)
{
	/* 64 exts + 32 sigalgs at 5 bytes each, plus the separator */
	char s[64 * 5 + 32 * 5 + 8];
	struct ja4_memo *set;
	size_t o = 0;
	uint64_t h;
	int rc;

	if (nv == 0)
		return hash12(s, 0, 1, out);
	h = memo_mix(memo_mix(0x9e3779b97f4a7c15ull ^ nv ^ (uint64_t)ns << 8 ^
			      (uint64_t)sort << 40, v, nv), sig, ns);
	h ^= h >> 32;
	set = &memo[(h >> (64 - MEMO_SET_BITS)) * 2];
	for (int w = 0; w < 2; w++)
		if (memo_is(&set[w], h, v, nv, sig, ns, sort)) {
			memcpy(out, set[w].hex, sizeof(set[w].hex));
			return 0;
		}
	if (sort) {
		uint16_t sv[64];

		memcpy(sv, v, nv * sizeof(sv[0]));
		sort16(sv, nv);
		put_list(s, &o, sv, nv);
	} else {
		put_list(s, &o, v, nv);
	}
	if (ns > 0) {
		s[o++] = '_';
		put_list(s, &o, sig, ns);
	}
	rc = hash12(s, o, 0, out);
	if (rc != 0)
		return rc;
	set[1] = set[0];
	set[0].h = h;
	set[0].nv = (uint8_t)nv;
	set[0].ns = (uint8_t)ns;
	set[0].sort = (uint8_t)sort;
	memcpy(set[0].key, v, nv * sizeof(v[0]));
	if (ns > 0)
		memcpy(set[0].key + nv, sig, ns * sizeof(sig[0]));
	memcpy(set[0].hex, out, sizeof(set[0].hex));
	set[0].valid = 1;
	return 0;
}

static int
ja4(const struct tls_hello *h, int quic, int original, char *out, size_t outlen)
{
	uint16_t v[64];
	size_t n;
	unsigned cnt;
	int rc;

	if (outlen < TLS_JA4_LEN + 1)
		return -ENOSPC;
	if (h->lists_truncated || h->n_ciphers < h->ciphers_total ||
	    h->n_exts < h->exts_total)
		return -E2BIG;

	/* a: t13d1516h2 */
	out[0] = quic ? 'q' : 't';
	memcpy(out + 1, version_code(h->max_version), 2);
	out[3] = h->has_sni_ext ? 'd' : 'i';
	cnt = h->ciphers_total > 99 ? 99 : h->ciphers_total;
	out[4] = (char)('0' + cnt / 10);
	out[5] = (char)('0' + cnt % 10);
	cnt = h->exts_total > 99 ? 99 : h->exts_total;
	out[6] = (char)('0' + cnt / 10);
	out[7] = (char)('0' + cnt % 10);
	if (!h->has_alpn) {
		out[8] = '0';
		out[9] = '0';
	} else if (is_alnum(h->first_alpn[0]) && is_alnum(h->first_alpn[1])) {
		out[8] = (char)h->first_alpn[0];
		out[9] = (char)h->first_alpn[1];
	} else {
		out[8] = hexd[h->first_alpn[0] >> 4];
		out[9] = hexd[h->first_alpn[1] & 15];
	}
	out[10] = '_';

	/* b: cipher suites (sorted by list_hash12 on a miss) */
	rc = list_hash12(h->ciphers, h->n_ciphers, NULL, 0, !original, out + 11);
	if (rc != 0)
		return rc;
	out[23] = '_';

	/* c: extensions (sorted, without SNI and ALPN) _ signature algorithms */
	n = 0;
	for (uint16_t i = 0; i < h->n_exts; i++)
		if (original || (h->exts[i] != 0x0000 && h->exts[i] != 0x0010))
			v[n++] = h->exts[i];
	if (!original)
		sort16(v, n);
	rc = list_hash12(v, n, h->sigalgs, h->n_sigalgs, 0, out + 24);
	if (rc != 0)
		return rc;
	out[TLS_JA4_LEN] = '\0';
	return 0;
}

int
tls_ja4(const struct tls_hello *h, int quic, char *out, size_t outlen)
{
	return ja4(h, quic, 0, out, outlen);
}

int
tls_ja4_o(const struct tls_hello *h, int quic, char *out, size_t outlen)
{
	return ja4(h, quic, 1, out, outlen);
}
