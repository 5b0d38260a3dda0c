/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dns_bind.c: the per-worker DNS binding tables (dataplane/dp_dns.c) fed
 * with dnsmasq's captured answers (tests/data/dns) and with generated ones:
 * a binding holds for its client, address and name only, until TTL + grace;
 * a lookup sees every worker's table; the table stays bounded and counts what
 * it drops; a reader never sees a torn entry while the writer works.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

#include "dns.h"
#include "dp_dns.h"

#define NOW 1000000u
#define GRACE 300u

static size_t
load(const char *name, uint8_t *buf, size_t cap)
{
	char rel[512];

	snprintf(rel, sizeof(rel), "tests/data/dns/%s.bin", name);
	return fixture_read(rel, buf, cap);
}

static void
ip(const char *s, uint8_t out[16])
{
	memset(out, 0, 16);
	if (inet_pton(strchr(s, ':') ? AF_INET6 : AF_INET, s, out) != 1)
		fail_msg("bad address %s", s);
}

static int
bound(const char *client, const char *addr, const char *name, uint32_t now)
{
	uint8_t c[16], a[16];

	ip(client, c);
	ip(addr, a);
	return dp_dns_bound(strchr(client, ':') ? 6 : 4, c, a, name, strlen(name), now);
}

static void
observe(struct dp_dns_table *t, const char *client, const uint8_t *msg, size_t len,
	uint32_t now, int want)
{
	uint8_t c[16];

	ip(client, c);
	assert_int_equal(dp_dns_observe(t, strchr(client, ':') ? 6 : 4, c, msg, len, now), want);
}

/* a response for qname with n A records 10.x.y.z from base, each with ttl */
static size_t
answer(uint8_t *b, const char *qname, unsigned n, uint32_t base, uint32_t ttl)
{
	const char *p = qname, *dot;
	size_t o = 0;
	unsigned i;

	memcpy(b, "\x12\x34\x81\x80\x00\x01\x00\x00\x00\x00\x00\x00", 12);
	b[6] = (uint8_t)(n >> 8);
	b[7] = (uint8_t)n;
	o = 12;
	while (*p) {
		dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		b[o++] = (uint8_t)l;
		memcpy(b + o, p, l);
		o += l;
		p += l + (dot ? 1 : 0);
	}
	b[o++] = 0;
	memcpy(b + o, "\x00\x01\x00\x01", 4);
	o += 4;
	for (i = 0; i < n; i++) {
		uint32_t a = base + i;

		memcpy(b + o, "\xc0\x0c\x00\x01\x00\x01", 6);
		o += 6;
		b[o++] = (uint8_t)(ttl >> 24); b[o++] = (uint8_t)(ttl >> 16);
		b[o++] = (uint8_t)(ttl >> 8); b[o++] = (uint8_t)ttl;
		b[o++] = 0; b[o++] = 4;
		b[o++] = 10; b[o++] = (uint8_t)(a >> 16); b[o++] = (uint8_t)(a >> 8); b[o++] = (uint8_t)a;
	}
	return o;
}

static void
test_captured_answers(void **state)
{
	static uint8_t buf[4096];
	struct dp_dns_table *t = dp_dns_table_create(0, 1024, GRACE);
	struct dp_dns_stats st;
	size_t n;

	(void)state;
	assert_non_null(t);
	n = load("dnsmasq-api-openai-com-a", buf, sizeof(buf));
	observe(t, "10.0.0.5", buf, n, NOW, DNS_OK);
	/* the name, for that client, to that address: through TTL 300 + grace 300 */
	assert_true(bound("10.0.0.5", "10.253.0.1", "api.openai.com", NOW));
	assert_true(bound("10.0.0.5", "10.253.0.1", "api.openai.com", NOW + 300 + GRACE));
	assert_false(bound("10.0.0.5", "10.253.0.1", "api.openai.com", NOW + 300 + GRACE + 1));
	/* not for another client, another address, another name */
	assert_false(bound("10.0.0.6", "10.253.0.1", "api.openai.com", NOW));
	assert_false(bound("10.0.0.5", "10.253.0.2", "api.openai.com", NOW));
	assert_false(bound("10.0.0.5", "10.253.0.1", "chatgpt.com", NOW));
	assert_false(bound("10.0.0.5", "10.253.0.1", "api.openai.co", NOW));

	/* AAAA to an IPv6 client */
	n = load("dnsmasq-api-openai-com-aaaa", buf, sizeof(buf));
	observe(t, "fd00::5", buf, n, NOW, DNS_OK);
	assert_true(bound("fd00::5", "fd00:253::1", "api.openai.com", NOW + 10));
	assert_false(bound("fd00::6", "fd00:253::1", "api.openai.com", NOW + 10));

	/* a CNAME chain binds the question name (what the client puts in its SNI) */
	n = load("dnsmasq-chain3-example-test-a", buf, sizeof(buf));
	observe(t, "10.0.0.5", buf, n, NOW, DNS_OK);
	assert_true(bound("10.0.0.5", "198.51.100.7", "chain3.example.test", NOW));
	assert_false(bound("10.0.0.5", "198.51.100.7", "target.example.test", NOW));

	/* a mixed-case question binds the lower-cased name */
	n = load("dnsmasq-mixedcase-api-openai-com-a", buf, sizeof(buf));
	observe(t, "10.0.0.7", buf, n, NOW, DNS_OK);
	assert_true(bound("10.0.0.7", "10.253.0.1", "api.openai.com", NOW));

	/* NXDOMAIN records nothing; a truncated answer is counted, records nothing */
	n = load("dnsmasq-nx-example-test-a", buf, sizeof(buf));
	observe(t, "10.0.0.5", buf, n, NOW, DNS_OK);
	n = load("dnsmasq-many-example-test-a", buf, sizeof(buf));
	observe(t, "10.0.0.8", buf, n - 1, NOW, DNS_TRUNCATED);
	assert_false(bound("10.0.0.8", "192.0.2.3", "many.example.test", NOW));

	dp_dns_stats_get(t, &st);
	assert_int_equal(st.responses, 6);
	assert_int_equal(st.bad[DNS_TRUNCATED], 1);
	assert_int_equal(st.recorded, 4);
	assert_int_equal(st.evicted, 0);
	dp_dns_table_free(t);
	assert_false(bound("10.0.0.5", "10.253.0.1", "api.openai.com", NOW));
}

/* a binding observed by one worker is seen from every worker */
static void
test_across_workers(void **state)
{
	static uint8_t buf[4096];
	struct dp_dns_table *t0 = dp_dns_table_create(0, 64, GRACE);
	struct dp_dns_table *t3 = dp_dns_table_create(3, 64, GRACE);
	size_t n;

	(void)state;
	assert_non_null(t0);
	assert_non_null(t3);
	assert_ptr_equal(dp_dns_table_of(3), t3);
	n = load("dnsmasq-alias-example-test-a", buf, sizeof(buf));
	observe(t3, "10.0.0.9", buf, n, NOW, DNS_OK);
	assert_true(bound("10.0.0.9", "198.51.100.7", "alias.example.test", NOW));
	dp_dns_table_free(t3);
	assert_null(dp_dns_table_of(3));
	assert_false(bound("10.0.0.9", "198.51.100.7", "alias.example.test", NOW));
	dp_dns_table_free(t0);
}

/* a later answer moves the expiry on; a shorter one never cuts it */
static void
test_refresh(void **state)
{
	static uint8_t buf[4096];
	struct dp_dns_table *t = dp_dns_table_create(0, 64, 0);
	struct dp_dns_stats st;
	size_t n;

	(void)state;
	n = answer(buf, "a.test", 1, 1, 100);
	observe(t, "10.0.0.1", buf, n, NOW, DNS_OK);
	assert_false(bound("10.0.0.1", "10.0.0.1", "a.test", NOW + 101));
	observe(t, "10.0.0.1", buf, n, NOW + 50, DNS_OK);
	assert_true(bound("10.0.0.1", "10.0.0.1", "a.test", NOW + 150));
	n = answer(buf, "a.test", 1, 1, 5);
	observe(t, "10.0.0.1", buf, n, NOW + 60, DNS_OK);
	assert_true(bound("10.0.0.1", "10.0.0.1", "a.test", NOW + 150));
	dp_dns_stats_get(t, &st);
	assert_int_equal(st.recorded, 1);
	assert_int_equal(st.refreshed, 1);
	/* a huge TTL counts as one day */
	n = answer(buf, "b.test", 1, 1, 0x7fffffff);
	observe(t, "10.0.0.1", buf, n, NOW, DNS_OK);
	assert_true(bound("10.0.0.1", "10.0.0.1", "b.test", NOW + DP_DNS_TTL_CAP));
	assert_false(bound("10.0.0.1", "10.0.0.1", "b.test", NOW + DP_DNS_TTL_CAP + 1));
	dp_dns_table_free(t);
}

/* 2048 bindings into 64 slots: bounded, every drop counted */
static void
test_bounded(void **state)
{
	static uint8_t buf[4096];
	struct dp_dns_table *t = dp_dns_table_create(0, 64, GRACE);
	struct dp_dns_stats st;
	unsigned i, live = 0;
	size_t n;
	char a[32];

	(void)state;
	for (i = 0; i < 64; i++) {
		n = answer(buf, "many.test", 32, i * 32, 60);
		observe(t, "10.0.0.1", buf, n, NOW, DNS_OK);
	}
	for (i = 0; i < 2048; i++) {
		snprintf(a, sizeof(a), "10.0.%u.%u", i >> 8, i & 0xff);
		live += bound("10.0.0.1", a, "many.test", NOW);
	}
	dp_dns_stats_get(t, &st);
	assert_int_equal(st.recorded, 2048);
	assert_int_equal(st.evicted + 64, 2048);
	assert_int_equal(live, 64);
	/* once they expired, their slots are reused, not evicted */
	n = answer(buf, "late.test", 4, 0, 60);
	observe(t, "10.0.0.1", buf, n, NOW + 60 + GRACE + 1, DNS_OK);
	dp_dns_stats_get(t, &st);
	assert_int_equal(st.evicted + 64, 2048);  /* 4 new ones fit in any bucket's 4 ways */
	assert_true(st.reused > 0);
	dp_dns_table_free(t);
}

struct hammer {
	struct dp_dns_table *t;
	int stop;
	unsigned long rounds;
};

static void *
hammer_main(void *arg)
{
	struct hammer *h = arg;
	uint8_t buf[1024], c[16] = { 10, 0, 0, 1 };
	uint32_t base = 0;
	size_t n;

	while (!__atomic_load_n(&h->stop, __ATOMIC_RELAXED)) {
		n = answer(buf, "churn.test", 32, base, 1);
		dp_dns_observe(h->t, 4, c, buf, n, NOW);
		base += 32;
		h->rounds++;
	}
	return NULL;
}

/* while the writer churns its table, a reader on another thread never misses a stable binding */
static void
test_concurrent_reader(void **state)
{
	static uint8_t buf[4096];
	struct hammer h = { .stop = 0, .rounds = 0 };
	pthread_t th;
	unsigned long i, miss = 0;
	size_t n;

	(void)state;
	h.t = dp_dns_table_create(0, 256, GRACE);
	assert_non_null(h.t);
	n = answer(buf, "stable.test", 1, 0x7003, 86400);
	observe(h.t, "10.0.0.1", buf, n, NOW, DNS_OK);
	assert_int_equal(pthread_create(&th, NULL, hammer_main, &h), 0);
	for (i = 0; i < 200000; i++)
		miss += !bound("10.0.0.1", "10.0.112.3", "stable.test", NOW);
	__atomic_store_n(&h.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	assert_true(h.rounds > 0);
	assert_int_equal(miss, 0);
	dp_dns_table_free(h.t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_captured_answers),
		cmocka_unit_test(test_across_workers),
		cmocka_unit_test(test_refresh),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_concurrent_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
