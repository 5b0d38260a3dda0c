/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_stream.c: libFuzzer harness for the client-stream walker (dp_stream).
 * The input is
 *   u8  scenario: bits 0-2 = what the walk follows (HTTP without a body,
 *       Content-Length, chunked, CONNECT, Upgrade, TLS, TLS after an HRR),
 *       bits 3-7 = the piece size seed
 *   u32 Content-Length (little endian)
 *   u8  second piece size seed
 *   the client stream after the decided unit
 * The same stream is walked in one piece and in pieces of varying sizes the
 * way dp_watch_packet feeds it (a piece wholly before the judged edge is
 * skipped, one reaching past it is walked from the edge). Both must stop
 * with the same result at the same sequence number, the edge never moves
 * back, a unit never starts past the bytes given, and the server-side
 * checks never read past what they are given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)
#define BASE 0xffffff00u

static void
start(struct dp_wstate *ws, unsigned int scen, uint32_t clen)
{
	dp_stream_init(ws, BASE - 100);
	switch (scen) {
	case 0:
		dp_stream_after_http(ws, BASE - 100, 100, 0, 0);
		break;
	case 1:
		dp_stream_after_http(ws, BASE - 100, 100, DP_HTTPF_CLEN, clen);
		break;
	case 2:
		dp_stream_after_http(ws, BASE - 100, 100, DP_HTTPF_CHUNKED | DP_HTTPF_CLEN, clen);
		break;
	case 3:
		dp_stream_after_http(ws, BASE - 100, 100, DP_HTTPF_CONNECT, 0);
		break;
	case 4:
		dp_stream_after_http(ws, BASE - 100, 100, DP_HTTPF_UPGRADE | DP_HTTPF_CLEN,
				     clen & 0xff);
		break;
	case 5:
		dp_stream_after_tls(ws, BASE - 100, 100);
		break;
	default:
		dp_stream_after_tls(ws, BASE - 100, 100);
		ws->flags |= DP_WSF_HRR;
		break;
	}
}

/* Walk s[0..n) (s[0] at BASE) in pieces; returns the result, *at the edge offset. */
static enum dp_walk_res
walk(struct dp_wstate *ws, const uint8_t *s, uint32_t n, unsigned int seed1,
     unsigned int seed2, uint32_t *at)
{
	enum dp_walk_res r = DP_WALK_MORE;
	uint32_t pos = 0, k = 0;

	while (pos < n) {
		uint32_t len = seed1 == 0 ? n : 1 + ((seed1 * (k + 1) + seed2 * k * k) % 37);
		uint32_t seq = BASE + pos, before = ws->seq, off;

		if (len > n - pos)
			len = n - pos;
		k++;
		pos += len;
		if ((int32_t)(seq + len - ws->seq) <= 0)
			continue;
		if ((int32_t)(seq - ws->seq) > 0)
			break;                  /* the edge jumped past bytes never given: done */
		off = ws->seq - seq;
		r = dp_stream_walk(ws, s + pos - len + off, len - off);
		CHECK((int32_t)(ws->seq - before) >= 0);
		if (r == DP_WALK_UNIT)
			CHECK((int32_t)(ws->seq - seq) >= 0 && ws->seq - seq < len);
		if (r != DP_WALK_MORE)
			break;
	}
	*at = ws->seq - BASE;
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_wstate a, b;
	enum dp_walk_res ra, rb;
	uint32_t clen, at_a, at_b;
	unsigned int scen, seed1, seed2;

	if (size < 6)
		return 0;
	scen = data[0] & 7;
	seed1 = data[0] >> 3;
	memcpy(&clen, data + 1, 4);
	seed2 = data[5];
	data += 6;
	size -= 6;
	if (size > 65536)
		size = 65536;
	/* the prefix of 100 bytes before BASE is the decided unit: not walked */
	start(&a, scen, clen);
	start(&b, scen, clen);
	ra = walk(&a, data, (uint32_t)size, 0, 0, &at_a);
	rb = walk(&b, data, (uint32_t)size, seed1 + 1, seed2, &at_b);
	CHECK(ra == rb);
	CHECK(at_a == at_b);
	CHECK(a.mode == b.mode && a.st == b.st);
	/* the server side: never past what it is given */
	dp_stream_server(&a, data, (uint32_t)(size < 64 ? size : 64));
	(void)dp_stream_tls_unit_is_hello(data, (uint32_t)size);
	(void)dp_stream_is_hrr(data, (uint32_t)size);
	return 0;
}
