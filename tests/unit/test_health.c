/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_health.c: the health rule and the stateless health-check responder
 * (dp_health): a whole HTTP check and a TCP check segment by segment, over
 * IPv4 and IPv6, healthy and not, every answer decoded and its checksum
 * verified with dp_pkt.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_health.h"
#include "dp_pkt.h"

#define KEY 0x5eed5eed12345678ull
#define HPORT 8080

struct peer {
	int family;
	uint8_t client[16], app[16];
	uint16_t sport;
};

/* A client segment to the health port, checksums filled. */
static size_t
seg(const struct peer *pr, uint8_t flags, uint32_t seq, uint32_t ack, const char *data,
    uint8_t *f, struct dp_pkt *p)
{
	size_t dlen = data ? strlen(data) : 0, iphl = pr->family == 4 ? 20 : 40;
	uint8_t *ip = f + 14, *tcp = ip + iphl;
	size_t len = 14 + iphl + 20 + dlen;

	memset(f, 0, len);
	memcpy(f, "\x02\0\0\0\x0a\x02", 6);    /* to the appliance */
	memcpy(f + 6, "\x02\0\0\0\x0a\x01", 6);
	if (pr->family == 4) {
		f[12] = 0x08;
		ip[0] = 0x45;
		ip[2] = (uint8_t)((20 + 20 + dlen) >> 8);
		ip[3] = (uint8_t)(20 + 20 + dlen);
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, pr->client, 4);
		memcpy(ip + 16, pr->app, 4);
	} else {
		f[12] = 0x86;
		f[13] = 0xdd;
		ip[0] = 0x60;
		ip[4] = (uint8_t)((20 + dlen) >> 8);
		ip[5] = (uint8_t)(20 + dlen);
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, pr->client, 16);
		memcpy(ip + 24, pr->app, 16);
	}
	tcp[0] = (uint8_t)(pr->sport >> 8);
	tcp[1] = (uint8_t)pr->sport;
	tcp[2] = HPORT >> 8;
	tcp[3] = HPORT & 0xff;
	for (int i = 0; i < 4; i++) {
		tcp[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
		tcp[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
	}
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	tcp[14] = 0xff;
	tcp[15] = 0xff;
	if (dlen)
		memcpy(tcp + 20, data, dlen);
	assert_int_equal(dp_decode_flags(f, len, DP_LINK_ETHERNET, DP_DECODE_NO_IP_CKSUM, p),
			 DP_DEC_OK);
	dp_fix_cksums(f, p);
	assert_int_equal(dp_decode(f, len, DP_LINK_ETHERNET, p), DP_DEC_OK);
	assert_true(dp_l4_cksum_ok(f, p));
	return len;
}

/* The answer to (f, p), decoded into r (its payload in *body); returns its length or 0. */
static int
answer(const uint8_t *f, const struct dp_pkt *p, uint32_t word, enum dp_health_proto proto,
       uint8_t *out, struct dp_pkt *r)
{
	int n = dp_health_answer(f, p, KEY, word, proto, out, 1514);

	assert_true(n >= 0);
	if (n == 0)
		return 0;
	assert_int_equal(dp_decode(out, (size_t)n, DP_LINK_ETHERNET, r), DP_DEC_OK);
	assert_true(dp_l4_cksum_ok(out, r));
	/* MACs, addresses and ports turned around */
	assert_memory_equal(out, f + 6, 6);
	assert_memory_equal(out + 6, f, 6);
	assert_memory_equal(r->src, p->dst, 16);
	assert_memory_equal(r->dst, p->src, 16);
	assert_int_equal(r->sport, p->dport);
	assert_int_equal(r->dport, p->sport);
	return n;
}

static void
http_check(const struct peer *pr, uint32_t word, int want_code, const char *path,
	   const char *want_body)
{
	uint8_t f[1600], out[1600];
	struct dp_pkt p, r;
	char req[128], body[512];
	uint32_t isn, cseq = 1000;
	int n;

	/* SYN -> SYN-ACK with the keyed ISN (healthy or not: HTTP reports it in the status) */
	seg(pr, DP_TCP_SYN, cseq, 0, NULL, f, &p);
	isn = dp_health_isn(KEY, &p);
	n = answer(f, &p, word, DP_HEALTH_HTTP, out, &r);
	assert_true(n > 0);
	assert_int_equal(r.tcp_flags, DP_TCP_SYN | DP_TCP_ACK);
	assert_int_equal(r.seq, isn);
	assert_int_equal(r.ack, cseq + 1);
	/* the handshake's ACK: nothing */
	seg(pr, DP_TCP_ACK, cseq + 1, isn + 1, NULL, f, &p);
	assert_int_equal(answer(f, &p, word, DP_HEALTH_HTTP, out, &r), 0);
	/* the request -> the whole answer and FIN */
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 10.9.0.2:8080\r\n"
		 "User-Agent: ELB-HealthChecker/2.0\r\n\r\n", path);
	seg(pr, DP_TCP_ACK | DP_TCP_PSH, cseq + 1, isn + 1, req, f, &p);
	n = answer(f, &p, word, DP_HEALTH_HTTP, out, &r);
	assert_true(n > 0);
	assert_int_equal(r.tcp_flags, DP_TCP_ACK | DP_TCP_PSH | DP_TCP_FIN);
	assert_int_equal(r.seq, isn + 1);
	assert_int_equal(r.ack, cseq + 1 + strlen(req));
	memcpy(body, out + r.payload_off, r.payload_len);
	body[r.payload_len] = '\0';
	snprintf(req, sizeof(req), "HTTP/1.1 %d ", want_code);
	assert_true(strncmp(body, req, strlen(req)) == 0);
	assert_non_null(strstr(body, "Connection: close\r\n"));
	assert_non_null(strstr(body, "\r\n\r\n"));
	assert_string_equal(strstr(body, "\r\n\r\n") + 4, want_body);
	{
		unsigned long cl = strtoul(strstr(body, "Content-Length: ") + 16, NULL, 10);

		assert_int_equal(cl, strlen(want_body));
	}
	/* the checker's FIN after our answer: acknowledged (our FIN went with the answer) */
	{
		uint32_t rlen = r.payload_len;

		seg(pr, DP_TCP_ACK | DP_TCP_FIN, cseq + 1 + 10, isn + 1 + rlen + 1, NULL, f, &p);
		n = answer(f, &p, word, DP_HEALTH_HTTP, out, &r);
		assert_true(n > 0);
		assert_int_equal(r.tcp_flags, DP_TCP_ACK);
		assert_int_equal(r.seq, isn + 1 + rlen + 1);
		assert_int_equal(r.ack, cseq + 1 + 10 + 1);
	}
	/* a segment that does not acknowledge our ISN: reset */
	seg(pr, DP_TCP_ACK, cseq + 1, isn + 99999, "GET / HTTP/1.0\r\n\r\n", f, &p);
	n = answer(f, &p, word, DP_HEALTH_HTTP, out, &r);
	assert_int_equal(r.tcp_flags, DP_TCP_RST);
	assert_int_equal(r.seq, isn + 99999);
	/* an RST: nothing */
	seg(pr, DP_TCP_RST, cseq + 1, 0, NULL, f, &p);
	assert_int_equal(answer(f, &p, word, DP_HEALTH_HTTP, out, &r), 0);
}

static void
test_http(void **state)
{
	struct peer v4 = { .family = 4, .sport = 41000 }, v6 = { .family = 6, .sport = 41001 };

	(void)state;
	inet_pton(AF_INET, "10.9.0.1", v4.client);
	inet_pton(AF_INET, "10.9.0.2", v4.app);
	inet_pton(AF_INET6, "fd09::1", v6.client);
	inet_pton(AF_INET6, "fd09::2", v6.app);
	http_check(&v4, DP_HW_OK, 200, "/healthz", "ok\n");
	http_check(&v6, DP_HW_OK, 200, "/", "ok\n");
	http_check(&v4, DP_HW_NO_POLICY, 503, "/healthz", "unhealthy: no policy loaded\n");
	http_check(&v6, DP_HW_WORKER_STUCK | (1 << 8), 503, "/healthz?x=1",
		   "unhealthy: worker 1 stuck\n");
	http_check(&v4, DP_HW_OK, 404, "/metrics", "not found\n");
}

static void
test_tcp_and_close(void **state)
{
	struct peer v4 = { .family = 4, .sport = 41002 };
	uint8_t f[1600], out[1600];
	struct dp_pkt p, r;
	uint32_t isn;

	(void)state;
	inet_pton(AF_INET, "10.9.0.1", v4.client);
	inet_pton(AF_INET, "10.9.0.2", v4.app);
	/* TCP check, unhealthy: the connection is refused */
	seg(&v4, DP_TCP_SYN, 7, 0, NULL, f, &p);
	assert_true(answer(f, &p, DP_HW_NO_POLICY, DP_HEALTH_TCP, out, &r) > 0);
	assert_int_equal(r.tcp_flags, DP_TCP_RST | DP_TCP_ACK);
	assert_int_equal(r.ack, 8);
	/* healthy: accepted */
	assert_true(answer(f, &p, DP_HW_OK, DP_HEALTH_TCP, out, &r) > 0);
	assert_int_equal(r.tcp_flags, DP_TCP_SYN | DP_TCP_ACK);
	isn = r.seq;
	assert_int_equal(isn, dp_health_isn(KEY, &p));
	/* the checker closes without a request: FIN -> FIN-ACK */
	seg(&v4, DP_TCP_ACK | DP_TCP_FIN, 8, isn + 1, NULL, f, &p);
	assert_true(answer(f, &p, DP_HW_OK, DP_HEALTH_TCP, out, &r) > 0);
	assert_int_equal(r.tcp_flags, DP_TCP_FIN | DP_TCP_ACK);
	assert_int_equal(r.seq, isn + 1);
	assert_int_equal(r.ack, 9);
	/* not a request line: 400 */
	seg(&v4, DP_TCP_ACK, 8, isn + 1, "\x16\x03\x01", f, &p);
	assert_true(answer(f, &p, DP_HW_OK, DP_HEALTH_TCP, out, &r) > 0);
	assert_memory_equal(out + r.payload_off, "HTTP/1.1 400 ", 13);
	/* the ISN depends on the key and the connection */
	assert_int_not_equal(dp_health_isn(KEY, &p), dp_health_isn(KEY + 1, &p));
	v4.sport++;
	seg(&v4, DP_TCP_SYN, 7, 0, NULL, f, &r);
	assert_int_not_equal(dp_health_isn(KEY, &p), dp_health_isn(KEY, &r));
}

static void
test_eval(void **state)
{
	struct dp_health_in in = { .has_policy = 1, .ctl_connected = 1, .stuck_worker = -1 };
	char why[64];

	(void)state;
	assert_int_equal(dp_health_eval(&in), DP_HW_OK);
	in.has_policy = 0;
	assert_int_equal(dp_health_eval(&in), DP_HW_NO_POLICY);
	in.has_policy = 1;
	in.stuck_worker = 3;
	assert_int_equal(dp_health_eval(&in), DP_HW_WORKER_STUCK | (3 << 8));
	dp_health_reason(dp_health_eval(&in), why, sizeof(why));
	assert_string_equal(why, "worker 3 stuck");
	in.stuck_worker = -1;
	/* the control plane away: only with a grace, only past it */
	in.ctl_connected = 0;
	in.ctl_down_ns = 10ull * 1000000000ull;
	assert_int_equal(dp_health_eval(&in), DP_HW_OK);
	in.ctl_grace_ns = 11ull * 1000000000ull;
	assert_int_equal(dp_health_eval(&in), DP_HW_OK);
	in.ctl_grace_ns = 9ull * 1000000000ull;
	assert_int_equal(dp_health_eval(&in), DP_HW_CTL_DOWN);
	in.ctl_connected = 1;
	assert_int_equal(dp_health_eval(&in), DP_HW_OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eval),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_tcp_and_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
