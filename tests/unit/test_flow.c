/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_flow.c: the worker's pure helpers.
 *   - dp_hold_release_order: held segments go out in sequence order, exact
 *     and contained duplicates dropped, across the 2^32 wrap;
 *   - dp_flow_timeout / dp_flow_sweep: the idle timeout per state and the
 *     bounded aging sweep (cursor order, budget, wrap, only expired flows);
 *   - dp_inspect: captured first flights (curl TLS 1.3 ClientHello, curl GET)
 *     decided complete (name, ALPN, JA4), every shorter prefix "need more", the declared-length
 *     shortcut for oversize hellos, non-TLS/HTTP bytes as unknown_protocol; a unit's
 *     length and framing (what follows it), HTTP on 443 / TLS on 80, CL + TE.
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

#include "dp_flow.h"
#include "dp_hold.h"
#include "dp_inspect.h"

#define AN(x) (1u << (x))

/* ---- release order ---------------------------------------------------- */

static void
order_of(const struct dp_hold_seg *s, unsigned int n, uint32_t base, uint8_t *order,
	 uint8_t *dup)
{
	memset(order, 0xee, DP_HOLD_SEGS);
	memset(dup, 0xee, DP_HOLD_SEGS);
	dp_hold_release_order(s, n, base, order, dup);
}

static void
test_release_in_order(void **state)
{
	const struct dp_hold_seg s[] = {
		{ NULL, 1001, 100 }, { NULL, 1101, 100 }, { NULL, 1201, 50 },
	};
	uint8_t order[DP_HOLD_SEGS], dup[DP_HOLD_SEGS];

	(void)state;
	order_of(s, 3, 1001, order, dup);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 1);
	assert_int_equal(order[2], 2);
	assert_int_equal(dup[0] + dup[1] + dup[2], 0);
}

static void
test_release_reordered_and_dups(void **state)
{
	/* arrival: 3rd, 1st, 2nd, 1st again (retransmission), a piece of the 2nd */
	const struct dp_hold_seg s[] = {
		{ NULL, 1201, 50 },  /* 0 */
		{ NULL, 1001, 100 }, /* 1 */
		{ NULL, 1101, 100 }, /* 2 */
		{ NULL, 1001, 100 }, /* 3: exact duplicate of 1 */
		{ NULL, 1150, 20 },  /* 4: inside 2 */
	};
	uint8_t order[DP_HOLD_SEGS], dup[DP_HOLD_SEGS];
	unsigned int kept = 0, i;
	uint32_t last = 0;

	(void)state;
	order_of(s, 5, 1001, order, dup);
	/* sequence order of the kept ones: 1, 2, 0 */
	for (i = 0; i < 5; i++) {
		if (dup[order[i]])
			continue;
		assert_true(kept == 0 || s[order[i]].seq > last);
		last = s[order[i]].seq;
		kept++;
	}
	assert_int_equal(kept, 3);
	assert_int_equal(dup[1] + dup[3], 1);   /* one of the two copies */
	assert_int_equal(dup[4], 1);
	assert_int_equal(dup[0], 0);
	assert_int_equal(dup[2], 0);
}

static void
test_release_partial_overlap_kept(void **state)
{
	/* an overlap that brings new bytes is not a duplicate */
	const struct dp_hold_seg s[] = { { NULL, 100, 50 }, { NULL, 120, 50 } };
	uint8_t order[DP_HOLD_SEGS], dup[DP_HOLD_SEGS];

	(void)state;
	order_of(s, 2, 100, order, dup);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 1);
	assert_int_equal(dup[0], 0);
	assert_int_equal(dup[1], 0);
}

static void
test_release_wraps(void **state)
{
	/* the stream starts 10 bytes before 2^32 */
	const uint32_t base = 0xfffffff6u;
	const struct dp_hold_seg s[] = {
		{ NULL, 6, 20 },            /* after the wrap */
		{ NULL, base, 16 },         /* before it */
	};
	uint8_t order[DP_HOLD_SEGS], dup[DP_HOLD_SEGS];

	(void)state;
	order_of(s, 2, base, order, dup);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 0);
	assert_int_equal(dup[0] + dup[1], 0);
}

/* ---- timeouts and aging ------------------------------------------------ */

static const struct dp_timeouts to = {
	.tcp_established = 350, .tcp_halfopen = 20, .tcp_closed = 10, .udp = 60, .other = 30,
};

static void
test_timeouts(void **state)
{
	struct dp_flow f;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.key.l4proto = 6;
	f.state = DP_FS_SYN_SEEN;
	assert_int_equal(dp_flow_timeout(&f, &to), 20);
	f.state = DP_FS_PENDING;
	assert_int_equal(dp_flow_timeout(&f, &to), 350);
	f.state = DP_FS_ALLOWED;
	assert_int_equal(dp_flow_timeout(&f, &to), 350);
	f.flags = DP_FF_FIN_C;
	assert_int_equal(dp_flow_timeout(&f, &to), 350);   /* half-closed: still open */
	f.flags = DP_FF_FIN_C | DP_FF_FIN_S;
	assert_int_equal(dp_flow_timeout(&f, &to), 10);
	f.flags = DP_FF_RST;
	assert_int_equal(dp_flow_timeout(&f, &to), 10);
	f.flags = 0;
	f.state = DP_FS_DENIED;
	assert_int_equal(dp_flow_timeout(&f, &to), 10);
	f.state = DP_FS_ALLOWED;
	f.key.l4proto = 17;
	assert_int_equal(dp_flow_timeout(&f, &to), 60);
	f.key.l4proto = 1;
	assert_int_equal(dp_flow_timeout(&f, &to), 30);
}

#define MS 1000000ull

static void
test_sweep(void **state)
{
	struct dp_flow flows[8];
	struct dp_flow_table t;
	struct dp_flow *out[8];
	/* the record keeps milliseconds: the timeouts above, as ms */
	const struct dp_timeouts tm = {
		.tcp_established = to.tcp_established * MS, .tcp_halfopen = to.tcp_halfopen * MS,
		.tcp_closed = to.tcp_closed * MS, .udp = to.udp * MS, .other = to.other * MS,
	};
	unsigned int n;

	(void)state;
	memset(flows, 0, sizeof(flows));
	memset(&t, 0, sizeof(t));
	t.flows = flows;
	t.capacity = 8;
	/* in use: 1 (udp, idle 100 > 60), 3 (udp, idle 10), 5 (tcp established, idle 400) */
	flows[1].state = DP_FS_ALLOWED;
	flows[1].key.l4proto = 17;
	flows[1].last_ms = 900;
	flows[3].state = DP_FS_ALLOWED;
	flows[3].key.l4proto = 17;
	flows[3].last_ms = 990;
	flows[5].state = DP_FS_ALLOWED;
	flows[5].key.l4proto = 6;
	flows[5].last_ms = 600;
	t.active = 3;

	/* budget 4 from 0: looks at 0..3, finds 1 */
	n = dp_flow_sweep(&t, 1000 * MS, &tm, 4, out, 8);
	assert_int_equal(n, 1);
	assert_ptr_equal(out[0], &flows[1]);
	assert_int_equal(t.sweep_pos, 4);
	/* next 4: 4..7, finds 5 */
	n = dp_flow_sweep(&t, 1000 * MS, &tm, 4, out, 8);
	assert_int_equal(n, 1);
	assert_ptr_equal(out[0], &flows[5]);
	assert_int_equal(t.sweep_pos, 0);
	/* the cursor wraps; max bounds the result; a later time expires 3 too */
	n = dp_flow_sweep(&t, 2000 * MS, &tm, 8, out, 2);
	assert_int_equal(n, 2);
	assert_ptr_equal(out[0], &flows[1]);
	assert_ptr_equal(out[1], &flows[3]);
	/*
	 * idle is taken modulo 2^32 ms: past the wrap, a last packet 100 ms
	 * before it is 106 ms old (> 60: expired), one 10 ms before it is not
	 */
	flows[1].last_ms = UINT32_MAX - 9;
	flows[3].last_ms = UINT32_MAX - 99;
	flows[5].last_ms = UINT32_MAX - 9;
	n = dp_flow_sweep(&t, ((uint64_t)UINT32_MAX + 1 + 5) * MS, &tm, 8, out, 8);
	assert_int_equal(n, 1);
	assert_ptr_equal(out[0], &flows[3]);
	/* nothing in use: no work */
	t.active = 0;
	assert_int_equal(dp_flow_sweep(&t, 5000 * MS, &tm, 8, out, 8), 0);
}

/* ---- inspection of captured first flights --------------------------------- */

static void
test_inspect_tls(void **state)
{
	static uint8_t buf[16384];
	struct dp_insp_out out;
	size_t n = fixture_read("tests/data/clienthello/curl-tls13.bin", buf, sizeof(buf));

	(void)state;
	assert_int_equal(dp_inspect(buf, n, 16384, 443, &out), DP_INSP_DONE);
	assert_int_equal(out.app, DP_APP_TLS);
	assert_int_equal(out.name_kind, DP_NAME_SNI);
	assert_string_equal(out.name, "curl13.example.test");
	assert_int_equal(out.name_len, strlen("curl13.example.test"));
	assert_true(out.tls_versions & DP_TLSV_1_3);
	/* ALPN in wire format: 02 "h2" 08 "http/1.1" */
	assert_int_equal(out.alpn_len, 12);
	assert_memory_equal(out.alpn, "\x02h2\x08http/1.1", 12);
	assert_int_equal(out.anomalies, 0);
	/* JA4 as tests/data/clienthello/README.md gives it (computed from tshark's fields) */
	assert_string_equal(out.ja4, "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6");
	/* every prefix keeps holding */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(dp_inspect(buf, k, 16384, 443, &out), DP_INSP_MORE);
	/* a bound below the declared length decides at once, from the headers */
	assert_int_equal(dp_inspect(buf, 9, 256, 443, &out), DP_INSP_DONE);
	assert_int_equal(out.app, DP_APP_TLS);
	assert_true(out.anomalies & AN(DP_AN_OVERSIZE_CLIENTHELLO));
	assert_int_equal(out.name_kind, DP_NAME_NONE);
}

static void
test_inspect_http(void **state)
{
	static uint8_t buf[16384];
	struct dp_insp_out out;
	size_t n = fixture_read("tests/data/http/curl-get.bin", buf, sizeof(buf));

	(void)state;
	assert_int_equal(dp_inspect(buf, n, 16384, 80, &out), DP_INSP_DONE);
	assert_int_equal(out.app, DP_APP_HTTP);
	assert_int_equal(out.name_kind, DP_NAME_HOST);
	assert_string_equal(out.name, "www.example.test");   /* port stripped */
	for (size_t k = 1; k < n - 1; k++)
		assert_int_equal(dp_inspect(buf, k, 16384, 80, &out), DP_INSP_MORE);
}

static void
test_inspect_unknown(void **state)
{
	static const uint8_t ssh[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";
	struct dp_insp_out out;

	(void)state;
	assert_int_equal(dp_inspect(ssh, sizeof(ssh) - 1, 16384, 443, &out), DP_INSP_DONE);
	assert_int_equal(out.app, DP_APP_UNKNOWN);
	assert_int_equal(out.name_kind, DP_NAME_NONE);
	assert_true(out.anomalies & AN(DP_AN_UNKNOWN_PROTOCOL));
	assert_true(out.anomalies & AN(DP_AN_NON_TLS_ON_TLS_PORT));
	assert_int_equal(dp_inspect(ssh, sizeof(ssh) - 1, 16384, 22, &out), DP_INSP_DONE);
	assert_false(out.anomalies & AN(DP_AN_NON_TLS_ON_TLS_PORT));
	/* nothing yet: keep waiting */
	assert_int_equal(dp_inspect(ssh, 0, 16384, 22, &out), DP_INSP_MORE);
	assert_false(dp_inspect_looks_client(ssh, sizeof(ssh) - 1));
}

/* What follows a unit: its length and the request's framing (dp_stream.h). */
static void
test_inspect_units(void **state)
{
	static uint8_t buf[16384];
	static const char post[] = "POST /u HTTP/1.1\r\nHost: a.example\r\n"
				   "Content-Length: 11\r\n\r\nhello world";
	static const char both[] = "POST /u HTTP/1.1\r\nHost: a.example\r\n"
				   "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
	static const char conn[] = "CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n";
	static const char ws[] = "GET /ws HTTP/1.1\r\nHost: a.example\r\nUpgrade: websocket\r\n"
				 "Connection: Upgrade\r\n\r\n";
	struct dp_insp_out out;
	size_t n = fixture_read("tests/data/clienthello/curl-tls13.bin", buf, sizeof(buf));

	(void)state;
	/* a ClientHello's records: the next record starts after them */
	assert_int_equal(dp_inspect(buf, n, 16384, 443, &out), DP_INSP_DONE);
	assert_int_equal(out.unit_len, 5 + ((buf[3] << 8) | buf[4]));
	/* need: the declared length, known from the record header on */
	assert_int_equal(dp_inspect(buf, 5, 16384, 443, &out), DP_INSP_MORE);
	assert_int_equal(out.need, 5 + ((buf[3] << 8) | buf[4]));
	assert_int_equal(dp_inspect(buf, 4, 16384, 443, &out), DP_INSP_MORE);
	assert_int_equal(out.need, 0);
	/* TLS to port 80: named by its SNI, the port's protocol recorded */
	assert_int_equal(dp_inspect(buf, n, 16384, 80, &out), DP_INSP_DONE);
	assert_int_equal(out.name_kind, DP_NAME_SNI);
	assert_int_equal(out.anomalies, AN(DP_AN_NON_HTTP_ON_HTTP_PORT));
	/* Content-Length: head length and body length */
	assert_int_equal(dp_inspect((const uint8_t *)post, sizeof(post) - 1, 16384, 80, &out),
			 DP_INSP_DONE);
	assert_int_equal(out.unit_len, sizeof(post) - 1 - 11);
	assert_int_equal(out.httpf, DP_HTTPF_CLEN);
	assert_int_equal(out.content_length, 11);
	assert_int_equal(out.anomalies, 0);
	/* HTTP to port 443: named by its Host, the port's protocol recorded */
	assert_int_equal(dp_inspect((const uint8_t *)post, sizeof(post) - 1, 16384, 443, &out),
			 DP_INSP_DONE);
	assert_int_equal(out.name_kind, DP_NAME_HOST);
	assert_int_equal(out.anomalies, AN(DP_AN_NON_TLS_ON_TLS_PORT));
	/* both framings: http_smuggling */
	assert_int_equal(dp_inspect((const uint8_t *)both, sizeof(both) - 1, 16384, 8080, &out),
			 DP_INSP_DONE);
	assert_int_equal(out.httpf, DP_HTTPF_CLEN | DP_HTTPF_CHUNKED);
	assert_int_equal(out.anomalies, AN(DP_AN_HTTP_SMUGGLING));
	assert_int_equal(out.unit_len, sizeof(both) - 1);
	/* CONNECT and Upgrade: what follows is decided by the server's status line */
	assert_int_equal(dp_inspect((const uint8_t *)conn, sizeof(conn) - 1, 16384, 3128, &out),
			 DP_INSP_DONE);
	assert_int_equal(out.httpf, DP_HTTPF_CONNECT);
	assert_string_equal(out.name, "a.example");
	assert_int_equal(dp_inspect((const uint8_t *)ws, sizeof(ws) - 1, 16384, 80, &out),
			 DP_INSP_DONE);
	assert_int_equal(out.httpf, DP_HTTPF_UPGRADE);
}

/* The anomalies dp_inspect raises, on the curl hello altered in place. */
static void
test_inspect_anomalies(void **state)
{
	static uint8_t buf[16384], alt[16384];
	static const char name[] = "curl13.example.test";
	static const char two_hosts[] = "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n";
	static const char mismatch[] = "GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n";
	struct dp_insp_out out;
	size_t n = fixture_read("tests/data/clienthello/curl-tls13.bin", buf, sizeof(buf));
	size_t rec = ((size_t)buf[3] << 8 | buf[4]), half = rec / 2, at;
	uint8_t *p;

	(void)state;
	assert_int_equal(n, 5 + rec);
	p = memmem(buf, n, name, sizeof(name) - 1);
	assert_non_null(p);
	at = (size_t)(p - buf);
	/* the hello in two TLS records: record_fragmented, still named */
	memcpy(alt, buf, 5 + half);
	alt[3] = (uint8_t)(half >> 8);
	alt[4] = (uint8_t)half;
	memcpy(alt + 5 + half, buf, 5);
	alt[5 + half + 3] = (uint8_t)((rec - half) >> 8);
	alt[5 + half + 4] = (uint8_t)(rec - half);
	memcpy(alt + 10 + half, buf + 5 + half, rec - half);
	assert_int_equal(dp_inspect(alt, n + 5, 16384, 443, &out), DP_INSP_DONE);
	assert_string_equal(out.name, name);
	assert_int_equal(out.anomalies, AN(DP_AN_RECORD_FRAGMENTED));
	assert_int_equal(out.unit_len, n + 5);
	/* an IPv6 literal of the same length as server_name: ip_literal_sni */
	memcpy(alt, buf, n);
	memcpy(alt + at, "2001:db8::1234:5678", sizeof(name) - 1);
	assert_int_equal(dp_inspect(alt, n, 16384, 443, &out), DP_INSP_DONE);
	assert_int_equal(out.anomalies, AN(DP_AN_IP_LITERAL_SNI));
	/* the server_name extension renamed to an unassigned type: no_sni, no name */
	memcpy(alt, buf, n);
	assert_int_equal(alt[at - 9], 0x00);
	assert_int_equal(alt[at - 8], 0x00);    /* extension type server_name */
	alt[at - 8] = 0xfa;
	assert_int_equal(dp_inspect(alt, n, 16384, 443, &out), DP_INSP_DONE);
	assert_int_equal(out.name_kind, DP_NAME_NONE);
	assert_int_equal(out.anomalies, AN(DP_AN_NO_SNI));
	/* a handshake message that is not a ClientHello: malformed_clienthello */
	memcpy(alt, buf, n);
	alt[5] = 2;
	assert_int_equal(dp_inspect(alt, n, 16384, 443, &out), DP_INSP_DONE);
	assert_int_equal(out.anomalies, AN(DP_AN_MALFORMED_CLIENTHELLO));
	/* HTTP: two Host headers; a Host unlike the absolute URI's host */
	assert_int_equal(dp_inspect((const uint8_t *)two_hosts, sizeof(two_hosts) - 1, 16384, 80,
				    &out), DP_INSP_DONE);
	assert_int_equal(out.anomalies, AN(DP_AN_MULTIPLE_HOST));
	assert_string_equal(out.name, "a.example");
	assert_int_equal(dp_inspect((const uint8_t *)mismatch, sizeof(mismatch) - 1, 16384, 80,
				    &out), DP_INSP_DONE);
	assert_int_equal(out.anomalies, AN(DP_AN_HOST_MISMATCH));
	assert_string_equal(out.name, "a.example");     /* the URI's host decides */
}

static void
test_ip_literal(void **state)
{
	(void)state;
	assert_true(dp_name_is_ip_literal("192.0.2.1", 9));
	assert_true(dp_name_is_ip_literal("2001:db8::1", 11));
	assert_false(dp_name_is_ip_literal("api.example.test", 16));
	assert_false(dp_name_is_ip_literal("", 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release_in_order),
		cmocka_unit_test(test_release_reordered_and_dups),
		cmocka_unit_test(test_release_partial_overlap_kept),
		cmocka_unit_test(test_release_wraps),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_inspect_tls),
		cmocka_unit_test(test_inspect_http),
		cmocka_unit_test(test_inspect_unknown),
		cmocka_unit_test(test_inspect_units),
		cmocka_unit_test(test_inspect_anomalies),
		cmocka_unit_test(test_ip_literal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
