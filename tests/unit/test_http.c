/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_http.c: the HTTP/1.x request-head parser against heads captured from
 * real clients (tests/data/http, see tests/data/clienthello/README.md),
 * truncated at every offset, and against hand-written heads for the forms
 * and evasions it must get right.
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

#include "http.h"

#define MAXLEN 16384

struct fixture {
	const char *file;
	uint8_t method;
	const char *name;
	uint16_t port;        /* 0xffff: the capture's random port, read from Host */
	const char *host;
	uint8_t has_uri_host, upgrade, has_cl;
	uint64_t cl;
};

static const struct fixture fixtures[] = {
	{ "curl-get", HTTP_M_GET, "www.example.test", 0xffff, "www.example.test", 0, 0, 0, 0 },
	{ "curl-post", HTTP_M_POST, "post.example.test", 0xffff, "post.example.test", 0, 0, 1, 7 },
	{ "curl-proxy-absolute", HTTP_M_GET, "abs.example.test", 0, "abs.example.test", 1, 0, 0, 0 },
	{ "curl-connect", HTTP_M_CONNECT, "tunnel.example.test", 443, "tunnel.example.test", 1, 0, 0, 0 },
	{ "python-http-client", HTTP_M_GET, "py.example.test", 0xffff, "py.example.test", 0, 0, 0, 0 },
	{ "wget-proxy", HTTP_M_GET, "wget.example.test", 0, "wget.example.test", 1, 0, 0, 0 },
	{ "python-websocket", HTTP_M_GET, "ws.example.test", 0, "ws.example.test", 0, 1, 0, 0 },
};
#define N_FIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

static size_t
load(const char *name, uint8_t *buf, size_t cap)
{
	char rel[512];

	snprintf(rel, sizeof(rel), "tests/data/http/%s.bin", name);
	return fixture_read(rel, buf, cap);
}

/* the port after "Host: name:" in the raw capture (independent of the parser) */
static uint16_t
raw_host_port(const uint8_t *buf, size_t n)
{
	const char *p = memmem(buf, n, "\r\nHost: ", 8);
	const char *c;

	assert_non_null(p);
	c = memchr(p + 8, ':', n - (size_t)((const uint8_t *)p + 8 - buf));
	assert_non_null(c);
	return (uint16_t)strtoul(c + 1, NULL, 10);
}

static void
test_fixtures(void **state)
{
	uint8_t buf[4096];
	struct http_request r;
	size_t n;

	(void)state;
	for (size_t i = 0; i < N_FIXTURES; i++) {
		const struct fixture *fx = &fixtures[i];
		uint16_t port = fx->port;

		n = load(fx->file, buf, sizeof(buf));
		if (port == 0xffff)
			port = raw_host_port(buf, n);
		assert_int_equal(http_parse_request(buf, n, MAXLEN, &r), HTTP_OK);
		assert_int_equal(r.method, fx->method);
		assert_int_equal(r.version_minor, 1);
		assert_string_equal(r.name, fx->name);
		assert_int_equal(r.name_len, strlen(fx->name));
		assert_int_equal(r.name_port, port);
		assert_string_equal(r.host, fx->host);
		assert_int_equal(r.host_count, 1);
		assert_int_equal(r.has_uri_host, fx->has_uri_host);
		assert_int_equal(r.host_mismatch, 0);
		assert_int_equal(r.upgrade_websocket, fx->upgrade);
		assert_int_equal(r.has_content_length, fx->has_cl);
		assert_int_equal(r.content_length, fx->cl);
		assert_int_equal(r.chunked, 0);
		assert_int_equal(r.head_len, n);
		assert_true(http_looks_like(buf, n));
		/* bytes after the head (a body) do not change the result */
		memcpy(buf + n, "a=1&b=2", 7);
		assert_int_equal(http_parse_request(buf, n + 7, MAXLEN, &r), HTTP_OK);
		assert_int_equal(r.head_len, n);
		/* every truncation is NEED_MORE, never read past (exact heap copy) */
		for (size_t t = 0; t < n; t++) {
			uint8_t *cp = malloc(t ? t : 1);

			assert_non_null(cp);
			memcpy(cp, buf, t);
			if (http_parse_request(cp, t, MAXLEN, &r) != HTTP_NEED_MORE)
				fail_msg("%s cut at %zu: not NEED_MORE", fx->file, t);
			free(cp);
		}
		/* a bound below the head size: TOO_BIG once that many bytes are in */
		assert_int_equal(http_parse_request(buf, n, n - 1, &r), HTTP_TOO_BIG);
		assert_int_equal(http_parse_request(buf, n - 2, n - 1, &r), HTTP_NEED_MORE);
		assert_int_equal(http_parse_request(buf, n, n, &r), HTTP_OK);
	}
}

static enum http_result
parse(const char *s, struct http_request *r)
{
	return http_parse_request((const uint8_t *)s, strlen(s), MAXLEN, r);
}

static void
test_header_casing_and_whitespace(void **state)
{
	static const char *const heads[] = {
		"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n",
		"GET / HTTP/1.1\r\nhost: a.example\r\n\r\n",
		"GET / HTTP/1.1\r\nHOST:a.example\r\n\r\n",
		"GET / HTTP/1.1\r\nhOsT: \t a.example \t \r\n\r\n",
		"GET / HTTP/1.1\r\nHost: A.Example\r\n\r\n",
		"GET / HTTP/1.1\nHost: a.example\n\n",
		"GET / HTTP/1.1\r\nX-Other: 1\r\nHost: a.example:80\r\nAccept: */*\r\n\r\n",
		"GET / HTTP/1.0\r\nHost: a.example:\r\n\r\n",
	};
	struct http_request r;

	(void)state;
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		if (parse(heads[i], &r) != HTTP_OK)
			fail_msg("head %zu not OK", i);
		/* raw case kept: the matcher lower-cases */
		assert_int_equal(r.name_len, 9);
		assert_true(strcmp(r.name, "a.example") == 0 || strcmp(r.name, "A.Example") == 0);
		assert_int_equal(r.host_count, 1);
		assert_int_equal(r.has_uri_host, 0);
	}
	assert_int_equal(parse(heads[6], &r), HTTP_OK);
	assert_int_equal(r.name_port, 80);
	assert_int_equal(parse(heads[7], &r), HTTP_OK);
	assert_int_equal(r.name_port, 0);
	assert_int_equal(r.version_minor, 0);
	/* HTTP/1.0 without Host: OK, no name */
	assert_int_equal(parse("GET /x HTTP/1.0\r\n\r\n", &r), HTTP_OK);
	assert_int_equal(r.name_len, 0);
	assert_int_equal(r.host_count, 0);
}

static void
test_ports(void **state)
{
	struct http_request r;

	(void)state;
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a.example:8443\r\n\r\n", &r), HTTP_OK);
	assert_string_equal(r.name, "a.example");
	assert_string_equal(r.host, "a.example");
	assert_int_equal(r.name_port, 8443);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a.example:65535\r\n\r\n", &r), HTTP_OK);
	assert_int_equal(r.name_port, 65535);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a.example:65536\r\n\r\n", &r),
			 HTTP_MALFORMED);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a.example:0\r\n\r\n", &r),
			 HTTP_MALFORMED);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a.example:8x\r\n\r\n", &r),
			 HTTP_MALFORMED);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a.example:1:2\r\n\r\n", &r),
			 HTTP_MALFORMED);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: user@a.example\r\n\r\n", &r),
			 HTTP_MALFORMED);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a example\r\n\r\n", &r),
			 HTTP_MALFORMED);
}

static void
test_absolute_form(void **state)
{
	struct http_request r;

	(void)state;
	assert_int_equal(parse("GET http://abs.example:8080/p?q HTTP/1.1\r\n"
			       "Host: abs.example:8080\r\n\r\n", &r), HTTP_OK);
	assert_string_equal(r.name, "abs.example");
	assert_int_equal(r.name_port, 8080);
	assert_int_equal(r.has_uri_host, 1);
	assert_int_equal(r.host_mismatch, 0);
	/* scheme case, no path, query right after the authority */
	assert_int_equal(parse("GET HTTP://abs.example?x HTTP/1.1\r\nHost: abs.example\r\n\r\n",
			       &r), HTTP_OK);
	assert_string_equal(r.name, "abs.example");
	assert_int_equal(r.name_port, 0);
	/* userinfo is not the host: the host is after the last '@' */
	assert_int_equal(parse("GET http://allowed.example@evil.example/ HTTP/1.1\r\n"
			       "Host: evil.example\r\n\r\n", &r), HTTP_OK);
	assert_string_equal(r.name, "evil.example");
	assert_int_equal(r.host_mismatch, 0);
	/* URI host wins over Host, and the mismatch is flagged (case-insensitive) */
	assert_int_equal(parse("GET http://Allowed.Example/ HTTP/1.1\r\n"
			       "Host: allowed.example\r\n\r\n", &r), HTTP_OK);
	assert_int_equal(r.host_mismatch, 0);
	assert_int_equal(parse("GET http://allowed.example/ HTTP/1.1\r\n"
			       "Host: evil.example\r\n\r\n", &r), HTTP_OK);
	assert_string_equal(r.name, "allowed.example");
	assert_string_equal(r.host, "evil.example");
	assert_int_equal(r.host_mismatch, 1);
	/* empty authority / bad scheme */
	assert_int_equal(parse("GET http:///x HTTP/1.1\r\n\r\n", &r), HTTP_MALFORMED);
	assert_int_equal(parse("GET http:/x HTTP/1.1\r\n\r\n", &r), HTTP_MALFORMED);
	assert_int_equal(parse("GET 1http://x/ HTTP/1.1\r\n\r\n", &r), HTTP_MALFORMED);
	assert_int_equal(parse("GET abs.example/x HTTP/1.1\r\n\r\n", &r), HTTP_MALFORMED);
	/* asterisk-form only for OPTIONS */
	assert_int_equal(parse("OPTIONS * HTTP/1.1\r\nHost: o.example\r\n\r\n", &r), HTTP_OK);
	assert_int_equal(r.method, HTTP_M_OPTIONS);
	assert_string_equal(r.name, "o.example");
	assert_int_equal(parse("GET * HTTP/1.1\r\nHost: o.example\r\n\r\n", &r), HTTP_MALFORMED);
}

static void
test_connect(void **state)
{
	struct http_request r;

	(void)state;
	assert_int_equal(parse("CONNECT api.example:443 HTTP/1.1\r\n\r\n", &r), HTTP_OK);
	assert_int_equal(r.method, HTTP_M_CONNECT);
	assert_string_equal(r.name, "api.example");
	assert_int_equal(r.name_port, 443);
	assert_int_equal(r.has_uri_host, 1);
	assert_int_equal(r.host_count, 0);
	/* authority wins over Host */
	assert_int_equal(parse("CONNECT api.example:443 HTTP/1.1\r\nHost: other.example:443\r\n\r\n",
			       &r), HTTP_OK);
	assert_string_equal(r.name, "api.example");
	assert_int_equal(r.host_mismatch, 1);
	/* port is mandatory; no path */
	assert_int_equal(parse("CONNECT api.example HTTP/1.1\r\n\r\n", &r), HTTP_MALFORMED);
	assert_int_equal(parse("CONNECT api.example: HTTP/1.1\r\n\r\n", &r), HTTP_MALFORMED);
	assert_int_equal(parse("CONNECT api.example:443/x HTTP/1.1\r\n\r\n", &r), HTTP_MALFORMED);
	assert_int_equal(parse("CONNECT :443 HTTP/1.1\r\n\r\n", &r), HTTP_MALFORMED);
	/* IPv6 literal */
	assert_int_equal(parse("CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n\r\n", &r), HTTP_OK);
	assert_string_equal(r.name, "2001:db8::1");
	assert_int_equal(r.name_port, 8443);
}

static void
test_ipv6(void **state)
{
	struct http_request r;

	(void)state;
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", &r), HTTP_OK);
	assert_string_equal(r.name, "::1");
	assert_string_equal(r.host, "::1");
	assert_int_equal(r.name_port, 8080);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: [fd00::a:B]\r\n\r\n", &r), HTTP_OK);
	assert_string_equal(r.name, "fd00::a:B");
	assert_int_equal(r.name_port, 0);
	assert_int_equal(parse("GET http://[2001:db8::2]:81/x HTTP/1.1\r\nHost: [2001:db8::2]:81\r\n\r\n",
			       &r), HTTP_OK);
	assert_string_equal(r.name, "2001:db8::2");
	assert_int_equal(r.name_port, 81);
	assert_int_equal(r.host_mismatch, 0);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", &r), HTTP_MALFORMED);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: []\r\n\r\n", &r), HTTP_MALFORMED);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: [::g]\r\n\r\n", &r), HTTP_MALFORMED);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", &r), HTTP_MALFORMED);
}

static void
test_multiple_host(void **state)
{
	struct http_request r;

	(void)state;
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: first.example\r\nHost: second.example\r\n\r\n",
			       &r), HTTP_OK);
	assert_int_equal(r.host_count, 2);
	assert_string_equal(r.name, "first.example");
	assert_string_equal(r.host, "first.example");
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\nHOST: a\r\n\r\n", &r),
			 HTTP_OK);
	assert_int_equal(r.host_count, 3);
	/* a second Host that is itself malformed makes the head malformed */
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b c\r\n\r\n", &r),
			 HTTP_MALFORMED);
}

static void
test_upgrade_and_framing(void **state)
{
	struct http_request r;

	(void)state;
	assert_int_equal(parse("GET /ws HTTP/1.1\r\nHost: w\r\nConnection: Upgrade\r\n"
			       "upgrade: WebSocket\r\n\r\n", &r), HTTP_OK);
	assert_int_equal(r.upgrade_websocket, 1);
	assert_int_equal(parse("GET /ws HTTP/1.1\r\nHost: w\r\nUpgrade: h2c, websocket/13\r\n\r\n",
			       &r), HTTP_OK);
	assert_int_equal(r.upgrade_websocket, 1);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: w\r\nUpgrade: h2c\r\n\r\n", &r), HTTP_OK);
	assert_int_equal(r.upgrade_websocket, 0);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: w\r\nUpgrade: websockets\r\n\r\n", &r),
			 HTTP_OK);
	assert_int_equal(r.upgrade_websocket, 0);

	/* chunked and Content-Length both reported: the caller decides */
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: w\r\nContent-Length: 12\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n", &r), HTTP_OK);
	assert_int_equal(r.chunked, 1);
	assert_int_equal(r.has_content_length, 1);
	assert_int_equal(r.content_length, 12);
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n",
			       &r), HTTP_OK);
	assert_int_equal(r.chunked, 1);
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: gzip\r\n"
			       "Transfer-Encoding: chunked\r\n\r\n", &r), HTTP_OK);
	assert_int_equal(r.chunked, 1);
	/* chunked not last, or not there at all: malformed request */
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
			       &r), HTTP_MALFORMED);
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: identity\r\n\r\n",
			       &r), HTTP_MALFORMED);
	/* Content-Length: repeated equal is fine, different or non-digits not */
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: w\r\nContent-Length: 5\r\n"
			       "content-length: 5\r\n\r\n", &r), HTTP_OK);
	assert_int_equal(r.content_length, 5);
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: w\r\nContent-Length: 5\r\n"
			       "Content-Length: 6\r\n\r\n", &r), HTTP_MALFORMED);
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: w\r\nContent-Length: -1\r\n\r\n", &r),
			 HTTP_MALFORMED);
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: w\r\nContent-Length: \r\n\r\n", &r),
			 HTTP_MALFORMED);
	assert_int_equal(parse("POST / HTTP/1.1\r\nHost: w\r\nContent-Length: 99999999999999999999999\r\n\r\n",
			       &r), HTTP_MALFORMED);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		/* obs-fold */
		"GET / HTTP/1.1\r\nHost: a.example\r\n b\r\n\r\n",
		"GET / HTTP/1.1\r\nX: 1\r\n\tcontinued\r\nHost: a\r\n\r\n",
		/* whitespace before the colon */
		"GET / HTTP/1.1\r\nHost : a.example\r\n\r\n",
		/* no colon, empty name, bad name char */
		"GET / HTTP/1.1\r\nHost a.example\r\n\r\n",
		"GET / HTTP/1.1\r\n: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",
		/* control bytes in a value, bare CR */
		("GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n"),
		"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
		/* request line: two spaces, space in target, version 1.2 */
		"GET  / HTTP/1.1\r\n\r\n",
		"GET /a b HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.2\r\n\r\n",
		"GET HTTP/1.1\r\n\r\n",
	};
	struct http_request r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &r) != HTTP_MALFORMED)
			fail_msg("bad head %zu: not MALFORMED (%d)", i, parse(bad[i], &r));
	/* NUL in a value */
	{
		const uint8_t nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";

		assert_int_equal(http_parse_request(nul, sizeof(nul) - 1, MAXLEN, &r),
				 HTTP_MALFORMED);
	}
}

static void
test_not_http(void **state)
{
	static const char *const notit[] = {
		"\x16\x03\x01\x02\x00\x01",
		"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"get / HTTP/1.1\r\n\r\n",
		" GET / HTTP/1.1\r\n\r\n",
		"\r\nGET / HTTP/1.1\r\n\r\n",
		"GET /\r\n",
		"GET / FTP/1.1\r\n\r\n",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ / HTTP/1.1\r\n\r\n",
	};
	struct http_request r;

	(void)state;
	for (size_t i = 0; i < sizeof(notit) / sizeof(notit[0]); i++)
		if (parse(notit[i], &r) != HTTP_NOT_HTTP)
			fail_msg("input %zu: not NOT_HTTP (%d)", i, parse(notit[i], &r));
	/* early: the first byte already tells */
	assert_int_equal(http_parse_request((const uint8_t *)"\x16", 1, MAXLEN, &r), HTTP_NOT_HTTP);
	assert_int_equal(http_parse_request((const uint8_t *)"GE", 2, MAXLEN, &r), HTTP_NEED_MORE);
	assert_int_equal(http_parse_request((const uint8_t *)"", 0, MAXLEN, &r), HTTP_NEED_MORE);
	assert_false(http_looks_like((const uint8_t *)"\x16\x03", 2));
	assert_false(http_looks_like((const uint8_t *)"GET", 3));
	assert_true(http_looks_like((const uint8_t *)"GET ", 4));
	assert_true(http_looks_like((const uint8_t *)"M-SEARCH ", 9));
	/* an unknown but well-formed method is HTTP */
	assert_int_equal(parse("PROPFIND /x HTTP/1.1\r\nHost: d\r\n\r\n", &r), HTTP_OK);
	assert_int_equal(r.method, HTTP_M_OTHER);
}

static void
test_methods(void **state)
{
	static const struct {
		const char *m;
		uint8_t id;
	} ms[] = {
		{ "GET", HTTP_M_GET }, { "HEAD", HTTP_M_HEAD }, { "POST", HTTP_M_POST },
		{ "PUT", HTTP_M_PUT }, { "DELETE", HTTP_M_DELETE },
		{ "OPTIONS", HTTP_M_OPTIONS }, { "PATCH", HTTP_M_PATCH },
		{ "TRACE", HTTP_M_TRACE }, { "GETS", HTTP_M_OTHER },
	};
	char head[128];
	struct http_request r;

	(void)state;
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		snprintf(head, sizeof(head), "%s /x HTTP/1.1\r\nHost: m\r\n\r\n", ms[i].m);
		assert_int_equal(parse(head, &r), HTTP_OK);
		assert_int_equal(r.method, ms[i].id);
	}
}

static void
test_too_big(void **state)
{
	static uint8_t big[MAXLEN + 100];
	struct http_request r;
	size_t n;

	(void)state;
	n = (size_t)snprintf((char *)big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\n");
	while (n + 12 < sizeof(big)) {
		memcpy(big + n, "X-Pad: yyy\r\n", 12);
		n += 12;
	}
	assert_int_equal(http_parse_request(big, n, MAXLEN, &r), HTTP_TOO_BIG);
	assert_int_equal(http_parse_request(big, MAXLEN - 1, MAXLEN, &r), HTTP_NEED_MORE);
	/* a name longer than HTTP_NAME_MAX */
	n = (size_t)snprintf((char *)big, sizeof(big), "GET / HTTP/1.1\r\nHost: ");
	memset(big + n, 'a', 300);
	n += 300;
	memcpy(big + n, "\r\n\r\n", 4);
	n += 4;
	assert_int_equal(http_parse_request(big, n, MAXLEN, &r), HTTP_MALFORMED);
	/* exactly HTTP_NAME_MAX fits */
	n = (size_t)snprintf((char *)big, sizeof(big), "GET / HTTP/1.1\r\nHost: ");
	memset(big + n, 'b', HTTP_NAME_MAX);
	n += HTTP_NAME_MAX;
	memcpy(big + n, "\r\n\r\n", 4);
	n += 4;
	assert_int_equal(http_parse_request(big, n, MAXLEN, &r), HTTP_OK);
	assert_int_equal(r.name_len, HTTP_NAME_MAX);
	assert_int_equal(r.name[HTTP_NAME_MAX], '\0');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_header_casing_and_whitespace),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_absolute_form),
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_multiple_host),
		cmocka_unit_test(test_upgrade_and_framing),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_not_http),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_too_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
