/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_tls.c: libFuzzer harness for the ClientHello parser.
 *
 * The input is fed (1) as a record stream, (2) as a bare handshake message,
 * and (3) re-wrapped into two TLS records cut at an offset taken from the
 * input; (2) and (3) must agree field for field. Every OK result must obey
 * the output invariants, and a prefix of an input that parsed must not
 * parse into something else; its JA4 must be well-formed and the same
 * from (2) and (3). Any violation aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ja4.h"
#include "tls.h"

#define MAXLEN 16384

static uint8_t wrap[MAXLEN + 64];

static void
check_hello(const struct tls_hello *h, size_t max_len)
{
	if (h->sni_len > TLS_SNI_MAX || h->sni[h->sni_len] != '\0')
		abort();
	if (h->sni_len > 0 && h->sni_count == 0)
		abort();
	if (h->alpn_len > TLS_ALPN_MAX)
		abort();
	for (size_t i = 0; i < h->alpn_len; i += 1 + h->alpn[i])
		if (h->alpn[i] == 0 || i + 1 + h->alpn[i] > h->alpn_len)
			abort();
	if (h->hello_len + 4 > max_len)
		abort();
	if (h->n_ciphers > 64 || h->n_exts > 64 || h->n_sigalgs > 32)
		abort();
	for (int i = 0; i < h->n_ciphers; i++)
		if (tls_is_grease(h->ciphers[i]))
			abort();
	for (int i = 0; i < h->n_exts; i++)
		if (tls_is_grease(h->exts[i]))
			abort();
}

/* JA4 of an OK hello: 36 chars, fixed shape; 1 if there is one */
static int
check_ja4(const struct tls_hello *h, int quic, char *out)
{
	int rc = tls_ja4(h, quic, out, TLS_JA4_LEN + 1);

	if (rc == -E2BIG) {
		/* only when the hello had more entries than tls_hello keeps */
		if (!h->lists_truncated)
			abort();
		return 0;
	}
	if (rc != 0 || strlen(out) != TLS_JA4_LEN || out[10] != '_' || out[23] != '_')
		abort();
	if (out[0] != (quic ? 'q' : 't') || (out[3] != 'd' && out[3] != 'i'))
		abort();
	for (int i = 11; i < TLS_JA4_LEN; i++)
		if (i != 23 && strchr("0123456789abcdef", out[i]) == NULL)
			abort();
	return 1;
}

static int
same(const struct tls_hello *a, const struct tls_hello *b)
{
	return a->sni_len == b->sni_len && memcmp(a->sni, b->sni, a->sni_len) == 0 &&
	       a->sni_count == b->sni_count && a->alpn_len == b->alpn_len &&
	       memcmp(a->alpn, b->alpn, a->alpn_len) == 0 && a->has_ech == b->has_ech &&
	       a->has_pqc == b->has_pqc && a->versions == b->versions &&
	       a->hello_len == b->hello_len && a->n_ciphers == b->n_ciphers &&
	       memcmp(a->ciphers, b->ciphers, a->n_ciphers * 2u) == 0 &&
	       a->n_exts == b->n_exts && memcmp(a->exts, b->exts, a->n_exts * 2u) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tls_hello h, b, r;
	enum tls_result rc, rb, rr;
	size_t need = 0;
	char ja4a[TLS_JA4_LEN + 1], ja4b[TLS_JA4_LEN + 1];

	/* 1: record stream */
	rc = tls_parse_records(data, size, MAXLEN, &h, &need);
	if (rc == TLS_OK) {
		check_hello(&h, MAXLEN);
		check_ja4(&h, 0, ja4a);
		if (h.records == 0 || h.consumed < 9)
			abort();
		/* a shorter prefix can only still be waiting, or already complete */
		rr = tls_parse_records(data, size / 2, MAXLEN, &r, NULL);
		if (rr != TLS_NEED_MORE && rr != TLS_OK)
			abort();
	} else if (rc == TLS_NEED_MORE) {
		if (need != 0 && need <= size)
			abort();
	}
	if (size > 0 && (rc == TLS_OK) != 0 && !tls_looks_like(data, size))
		abort();

	/* 2: bare handshake message, 3: the same message in two records */
	rb = tls_parse_clienthello(data, size, MAXLEN, &b, NULL);
	if (rb == TLS_OK)
		check_hello(&b, MAXLEN);
	if (size >= 2 && size <= MAXLEN) {
		size_t cut = 1 + data[size - 1] % (size - 1);
		size_t o = 0;

		wrap[o++] = 22; wrap[o++] = 3; wrap[o++] = 1;
		wrap[o++] = (uint8_t)(cut >> 8); wrap[o++] = (uint8_t)cut;
		memcpy(wrap + o, data, cut);
		o += cut;
		wrap[o++] = 22; wrap[o++] = 3; wrap[o++] = 3;
		wrap[o++] = (uint8_t)((size - cut) >> 8); wrap[o++] = (uint8_t)(size - cut);
		memcpy(wrap + o, data + cut, size - cut);
		o += size - cut;
		rr = tls_parse_records(wrap, o, MAXLEN, &r, NULL);
		if (rr != rb)
			abort();
		if (rr == TLS_OK) {
			if (!same(&r, &b))
				abort();
			int ja = check_ja4(&r, 1, ja4a), jb = check_ja4(&b, 1, ja4b);

			if (ja != jb || (ja && strcmp(ja4a, ja4b) != 0))
				abort();
		}
	}
	return 0;
}
