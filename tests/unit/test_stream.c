/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_stream.c: the client stream after a decision (dataplane/dp_stream.c).
 *   - HTTP/1.1 framing: Content-Length bodies, chunked bodies (extensions,
 *     trailers), empty lines before a request line, pipelined heads: the
 *     next unit is found at the exact byte, whatever the segmentation
 *     (every two-piece split, one byte at a time);
 *   - chunked framing errors (bare LF, non-hex sizes, too many digits, no
 *     CRLF after the data) are DP_WALK_BAD;
 *   - bodies and chunk data are jumped over as soon as their length is known
 *     (their segments may come in any order), in steps of at most 2^30;
 *   - TLS: records walked after a ClientHello until application data; a CCS
 *     ends the walk unless the server sent a HelloRetryRequest; the second
 *     ClientHello's record is the next unit;
 *   - server side: HRR vs ServerHello (RFC 8446 4.1.3 random), CONNECT and
 *     Upgrade status lines, interim responses, the look bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_stream.h"

#define BASE 0xfffffff0u      /* sequence space wraps inside every stream */

/*
 * Feed stream[0..n) (stream[0] at sequence BASE) to the walker in pieces of
 * the given sizes (the last repeats), the way dp_watch_packet does: a piece
 * wholly before ws->seq is skipped, one reaching past it is walked from
 * ws->seq. Returns the result at the first UNIT/DONE/BAD (or MORE at the
 * end), *at = the offset of ws->seq then.
 */
static enum dp_walk_res
feed(struct dp_wstate *ws, const uint8_t *stream, uint32_t n, const uint32_t *sizes,
     unsigned int n_sizes, uint32_t *at)
{
	uint32_t pos = 0;
	unsigned int k = 0;
	enum dp_walk_res r = DP_WALK_MORE;

	while (pos < n) {
		uint32_t len = sizes[k < n_sizes ? k : n_sizes - 1];
		uint32_t s = BASE + pos, off;

		if (len > n - pos)
			len = n - pos;
		k++;
		pos += len;
		if ((int32_t)(s + len - ws->seq) <= 0)
			continue;               /* judged already */
		assert_true((int32_t)(s - ws->seq) <= 0);   /* never a gap here */
		off = ws->seq - s;
		r = dp_stream_walk(ws, stream + pos - len + off, len - off);
		if (r != DP_WALK_MORE)
			break;
	}
	*at = ws->seq - BASE;
	return r;
}

/* After a head of head_len bytes at offset 0 of stream. */
static void
http_after(struct dp_wstate *ws, uint32_t head_len, uint8_t httpf, uint64_t clen)
{
	dp_stream_init(ws, BASE);
	dp_stream_after_http(ws, BASE, head_len, httpf, clen);
}

static const char HEAD1[] = "POST /a HTTP/1.1\r\nHost: a.example\r\n\r\n";

/* The next unit of stream (head HEAD1 + framing given) is at want, for every split. */
static void
check_all_splits(const char *stream, uint8_t httpf, uint64_t clen, uint32_t want)
{
	uint32_t n = (uint32_t)strlen(stream), at, one = 1, cut;
	uint32_t head = (uint32_t)strlen(HEAD1);
	struct dp_wstate ws;
	enum dp_walk_res r;

	for (cut = 1; cut < n; cut++) {
		uint32_t sizes[2] = { cut, n };

		http_after(&ws, head, httpf, clen);
		r = feed(&ws, (const uint8_t *)stream, n, sizes, 2, &at);
		if (r != DP_WALK_UNIT || at != want)
			fail_msg("split at %u: result %d at %u, want UNIT at %u", cut, r, at, want);
	}
	http_after(&ws, head, httpf, clen);
	r = feed(&ws, (const uint8_t *)stream, n, &one, 1, &at);
	assert_int_equal(r, DP_WALK_UNIT);
	assert_int_equal(at, want);
}

static void
test_content_length(void **state)
{
	char s[256];
	uint32_t head = (uint32_t)strlen(HEAD1);

	(void)state;
	snprintf(s, sizeof(s), "%s0123456789GET /b HTTP/1.1\r\nHost: b\r\n\r\n", HEAD1);
	check_all_splits(s, DP_HTTPF_CLEN, 10, head + 10);
	/* no body: the next head follows at once */
	snprintf(s, sizeof(s), "%sGET /b HTTP/1.1\r\n\r\n", HEAD1);
	check_all_splits(s, 0, 0, head);
	check_all_splits(s, DP_HTTPF_CLEN, 0, head);
	/* empty lines before the request line are skipped (at most two CRLF) */
	snprintf(s, sizeof(s), "%s0123456789\r\n\r\nGET /b HTTP/1.1\r\n\r\n", HEAD1);
	check_all_splits(s, DP_HTTPF_CLEN, 10, head + 14);
	snprintf(s, sizeof(s), "%s\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", HEAD1);
	check_all_splits(s, 0, 0, head + 4);    /* the fifth is the unit's (parsed: not HTTP) */
}

static void
test_chunked(void **state)
{
	char s[512];
	uint32_t head = (uint32_t)strlen(HEAD1);
	const char *body;

	(void)state;
	body = "5\r\nhello\r\n1A;ext=\"x y\"\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n";
	snprintf(s, sizeof(s), "%s%sGET /b HTTP/1.1\r\n\r\n", HEAD1, body);
	check_all_splits(s, DP_HTTPF_CHUNKED, 0, head + (uint32_t)strlen(body));
	/* chunked wins over Content-Length (RFC 9112 6.3) */
	check_all_splits(s, DP_HTTPF_CHUNKED | DP_HTTPF_CLEN, 3, head + (uint32_t)strlen(body));
	/* trailer fields, upper-case hex, leading zeros, BWS before the extension */
	body = "00A \t;a=b\r\n0123456789\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n";
	snprintf(s, sizeof(s), "%s%sDELETE /c HTTP/1.1\r\n\r\n", HEAD1, body);
	check_all_splits(s, DP_HTTPF_CHUNKED, 0, head + (uint32_t)strlen(body));
	/* a chunk whose data holds what looks like a request head is data */
	body = "1c\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n\r\n0\r\n\r\n";
	snprintf(s, sizeof(s), "%s%sGET /y HTTP/1.1\r\n\r\n", HEAD1, body);
	check_all_splits(s, DP_HTTPF_CHUNKED, 0, head + (uint32_t)strlen(body));
}

static void
test_chunked_bad(void **state)
{
	static const char *const bad[] = {
		"5\nhello\r\n0\r\n\r\n",                /* bare LF after the size */
		"5\r\nhello\n0\r\n\r\n",                /* bare LF after the data */
		"5\r\nhelloX\r\n0\r\n\r\n",             /* no CRLF after the data */
		"g\r\n",                                /* not a hex digit */
		"\r\n",                                 /* no digits */
		"11111111111111111\r\n",                /* 17 digits */
		"5;x\nhello\r\n",                       /* bare LF ends an extension */
		"0\r\nX: 1\n\r\n",                      /* bare LF ends a trailer line */
		"0\r\n\n",                              /* bare LF ends the message */
		"0\r\n\rX",                             /* CR not followed by LF */
		"-5\r\n",
	};
	uint32_t head = (uint32_t)strlen(HEAD1), at, one = 1;
	struct dp_wstate ws;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char s[256];
		uint32_t n;

		snprintf(s, sizeof(s), "%s%s", HEAD1, bad[i]);
		n = (uint32_t)strlen(s);
		http_after(&ws, head, DP_HTTPF_CHUNKED, 0);
		if (feed(&ws, (uint8_t *)s, n, &n, 1, &at) != DP_WALK_BAD)
			fail_msg("chunked body %u %s not BAD", (unsigned)i, bad[i]);
		assert_int_equal(ws.mode, DP_W_NONE);
		http_after(&ws, head, DP_HTTPF_CHUNKED, 0);
		assert_int_equal(feed(&ws, (uint8_t *)s, n, &one, 1, &at), DP_WALK_BAD);
	}
}

static void
test_huge_body_jumps(void **state)
{
	struct dp_wstate ws;
	uint64_t clen = 5ull << 30;            /* 5 GiB */
	uint32_t start, jumps = 0;
	uint8_t g = 'G';

	(void)state;
	http_after(&ws, 100, DP_HTTPF_CLEN, clen);
	start = BASE + 100;                     /* the body's first byte */
	/* the first jump is made at once: the body's segments need no order */
	assert_int_equal(ws.seq - start, DP_WATCH_JUMP_MAX);
	assert_int_equal(ws.st, DP_WS_BODY);
	jumps = 1;
	/* each byte arriving at the edge moves it by at most 2^30 more */
	while (ws.st == DP_WS_BODY) {
		uint32_t before = ws.seq;

		assert_int_equal(dp_stream_walk(&ws, &g, 1), DP_WALK_MORE);
		assert_true(ws.seq - before <= DP_WATCH_JUMP_MAX);
		jumps++;
	}
	assert_int_equal(jumps, 5);
	assert_int_equal(ws.seq - start, (uint32_t)clen);     /* mod 2^32 */
	/* a small body: the edge is at the next head before any body byte came */
	http_after(&ws, 100, DP_HTTPF_CLEN, 10);
	assert_int_equal(ws.seq, BASE + 110);
	assert_int_equal(ws.st, DP_WS_UNIT);
	assert_int_equal(dp_stream_walk(&ws, &g, 1), DP_WALK_UNIT);
	/* a chunk of 2^40 bytes likewise */
	http_after(&ws, 10, DP_HTTPF_CHUNKED, 0);
	{
		const char *sz = "10000000000\r\n";
		uint32_t n = (uint32_t)strlen(sz);

		uint32_t s0 = ws.seq;

		assert_int_equal(dp_stream_walk(&ws, (const uint8_t *)sz, n), DP_WALK_MORE);
		assert_int_equal(ws.st, DP_WS_CH_DATA);
		/* jumped at once past the size line and 2^30 of the data */
		assert_int_equal(ws.left, (1ull << 40) - DP_WATCH_JUMP_MAX);
		assert_int_equal(ws.seq - s0, n + DP_WATCH_JUMP_MAX);
	}
}

/* ---- TLS ------------------------------------------------------------------ */

static void
tls_after(struct dp_wstate *ws)
{
	dp_stream_init(ws, BASE);
	dp_stream_after_tls(ws, BASE, 512);
}

static const uint8_t CCS[] = { 0x14, 0x03, 0x03, 0x00, 0x01, 0x01 };
static const uint8_t APPDATA[] = { 0x17, 0x03, 0x03, 0x00, 0x02, 0xaa, 0xbb };
static const uint8_t ALERT[] = { 0x15, 0x03, 0x03, 0x00, 0x02, 0x01, 0x00 };
static const uint8_t HS_HELLO[] = { 0x16, 0x03, 0x01, 0x00, 0x20, 0x01, 0x00, 0x00, 0x1c };
static const uint8_t HS_CKE[] = { 0x16, 0x03, 0x03, 0x00, 0x25, 0x10, 0x00, 0x00, 0x21 };

static enum dp_walk_res
tls_feed(struct dp_wstate *ws, const uint8_t *p, uint32_t n, uint32_t piece, uint32_t *at)
{
	uint8_t buf[1024];

	/* the stream starts 512 bytes (the first hello) before p */
	memset(buf, 0, 512);
	memcpy(buf + 512, p, n);
	return feed(ws, buf, 512 + n, &piece, 1, at);
}

static void
test_tls_records(void **state)
{
	uint8_t s[64];
	struct dp_wstate ws;
	uint32_t at, piece;

	(void)state;
	for (piece = 1; piece <= 520; piece += 519) {
		/* TLS 1.3 without HRR: the CCS ends the watch */
		tls_after(&ws);
		assert_int_equal(tls_feed(&ws, CCS, sizeof(CCS), piece, &at), DP_WALK_DONE);
		assert_int_equal(ws.mode, DP_W_NONE);
		/* application data ends it */
		tls_after(&ws);
		assert_int_equal(tls_feed(&ws, APPDATA, sizeof(APPDATA), piece, &at), DP_WALK_DONE);
		/* after an HRR: CCS skipped, the next handshake record is a unit at its start */
		tls_after(&ws);
		ws.flags |= DP_WSF_HRR;
		memcpy(s, CCS, sizeof(CCS));
		memcpy(s + sizeof(CCS), HS_HELLO, sizeof(HS_HELLO));
		assert_int_equal(tls_feed(&ws, s, sizeof(CCS) + sizeof(HS_HELLO), piece, &at),
				 DP_WALK_UNIT);
		assert_int_equal(at, 512 + sizeof(CCS));
		assert_int_equal(dp_stream_tls_unit_is_hello(s + sizeof(CCS), sizeof(HS_HELLO)), 1);
		/* an alert is skipped, a handshake record without HRR is a unit too */
		tls_after(&ws);
		memcpy(s, ALERT, sizeof(ALERT));
		memcpy(s + sizeof(ALERT), HS_CKE, sizeof(HS_CKE));
		assert_int_equal(tls_feed(&ws, s, sizeof(ALERT) + sizeof(HS_CKE), piece, &at),
				 DP_WALK_UNIT);
		assert_int_equal(at, 512 + sizeof(ALERT));
		/* ... whose handshake type says it is no ClientHello (TLS 1.2 key exchange) */
		assert_int_equal(dp_stream_tls_unit_is_hello(HS_CKE, sizeof(HS_CKE)), 0);
		assert_int_equal(dp_stream_tls_unit_is_hello(HS_CKE, 5), -1);
		/* not TLS at all */
		tls_after(&ws);
		assert_int_equal(tls_feed(&ws, (const uint8_t *)"GET ", 4, piece, &at), DP_WALK_DONE);
	}
}

/* A ServerHello: record + handshake header, legacy_version, random. */
static uint32_t
server_hello(uint8_t *b, int hrr)
{
	static const uint8_t rnd[32] = {
		0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e,
		0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e,
		0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
	};
	static const uint8_t hdr[] = { 0x16, 0x03, 0x03, 0x00, 0x58, 0x02, 0x00, 0x00, 0x54,
				       0x03, 0x03 };

	memcpy(b, hdr, sizeof(hdr));
	memcpy(b + sizeof(hdr), rnd, sizeof(rnd));
	if (!hrr)
		b[sizeof(hdr) + 7] ^= 0x01;
	memset(b + 43, 0x20, 20);
	return 63;
}

static void
test_server_hello(void **state)
{
	uint8_t sh[64];
	struct dp_wstate ws;
	uint32_t n;

	(void)state;
	n = server_hello(sh, 1);
	assert_true(dp_stream_is_hrr(sh, n));
	assert_false(dp_stream_is_hrr(sh, 42));
	tls_after(&ws);
	dp_stream_server(&ws, sh, 20);          /* too short to tell: keep looking */
	assert_int_equal(ws.mode, DP_W_TLS);
	assert_int_equal(ws.flags & DP_WSF_HRR, 0);
	dp_stream_server(&ws, sh, n);
	assert_int_equal(ws.mode, DP_W_TLS);
	assert_int_equal(ws.flags & DP_WSF_HRR, DP_WSF_HRR);
	assert_int_equal(ws.s2c_looks, 0);
	/* the second hello allowed: the next ServerHello is a real one and ends the watch */
	dp_stream_after_tls(&ws, BASE + 600, 520);
	assert_int_equal(ws.flags & DP_WSF_HRR, 0);
	n = server_hello(sh, 0);
	assert_false(dp_stream_is_hrr(sh, n));
	dp_stream_server(&ws, sh, n);
	assert_int_equal(ws.mode, DP_W_NONE);
	/* payloads that are no ServerHello are looked at a bounded number of times */
	tls_after(&ws);
	for (int i = 0; i < DP_WATCH_S2C_LOOKS; i++)
		dp_stream_server(&ws, (const uint8_t *)"garbage", 7);
	assert_int_equal(ws.s2c_looks, 0);
	dp_stream_server(&ws, sh, n);           /* too late: not looked at */
	assert_int_equal(ws.mode, DP_W_TLS);
}

static void
test_status_lines(void **state)
{
	struct dp_wstate ws;
	const char *h = "CONNECT x:443 HTTP/1.1\r\n\r\n";

	(void)state;
	http_after(&ws, (uint32_t)strlen(h), DP_HTTPF_CONNECT | DP_HTTPF_CLEN, 99);
	assert_int_equal(ws.mode, DP_W_AWAIT);
	assert_int_equal(ws.st, DP_WS_UNIT);    /* a CONNECT has no content */
	dp_stream_server(&ws, (const uint8_t *)"HTTP/1.1 100 Continue\r\n\r\n", 25);
	assert_int_equal(ws.flags & DP_WSF_TUNNEL, 0);
	dp_stream_server(&ws, (const uint8_t *)"HTTP/1.1 200 Connection established\r\n\r\n", 39);
	assert_int_equal(ws.mode, DP_W_AWAIT);
	assert_int_equal(ws.flags & DP_WSF_TUNNEL, DP_WSF_TUNNEL);
	/* refused: back to HTTP requests */
	http_after(&ws, (uint32_t)strlen(h), DP_HTTPF_CONNECT, 0);
	dp_stream_server(&ws, (const uint8_t *)"HTTP/1.1 407 Proxy Auth\r\n", 25);
	assert_int_equal(ws.mode, DP_W_HTTP);
	/* Upgrade: 101 ends HTTP; an Upgrade request with a body is framed first */
	http_after(&ws, 50, DP_HTTPF_UPGRADE | DP_HTTPF_CLEN, 4);
	assert_int_equal(ws.mode, DP_W_AWAIT);
	assert_int_equal(ws.seq, BASE + 54);    /* past the 4-byte body */
	assert_int_equal(ws.st, DP_WS_UNIT);
	dp_stream_server(&ws, (const uint8_t *)"HTTP/1.1 101 Switching Protocols\r\n", 34);
	assert_int_equal(ws.mode, DP_W_NONE);
	http_after(&ws, 50, DP_HTTPF_UPGRADE, 0);
	dp_stream_server(&ws, (const uint8_t *)"HTTP/1.1 200 OK\r\n", 17);
	assert_int_equal(ws.mode, DP_W_HTTP);
	/* a plain request's responses are never looked at */
	http_after(&ws, 50, 0, 0);
	dp_stream_server(&ws, (const uint8_t *)"HTTP/1.1 101 Switching Protocols\r\n", 34);
	assert_int_equal(ws.mode, DP_W_HTTP);
	/* an AWAIT unit arriving before the status line is a unit at once */
	http_after(&ws, 10, DP_HTTPF_CONNECT, 0);
	assert_int_equal(dp_stream_walk(&ws, HS_HELLO, sizeof(HS_HELLO)), DP_WALK_UNIT);
	assert_int_equal(ws.seq, BASE + 10);
	assert_int_equal(ws.units, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_chunked_bad),
		cmocka_unit_test(test_huge_body_jumps),
		cmocka_unit_test(test_tls_records),
		cmocka_unit_test(test_server_hello),
		cmocka_unit_test(test_status_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
