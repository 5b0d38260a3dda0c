/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dns_bind.c: the per-worker DNS binding tables (dataplane/dp_dns.c) fed
 * with dnsmasq's captured answers (tests/data/dns) and with generated ones:
 * a binding holds for its client, address and name only, until TTL + grace;
 * a lookup sees every worker's table; the table stays bounded and counts what
 * it drops; a reader never sees a torn entry while the writer works.
 */
#include <arpa/inet.h>
#include <errno.h>
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

static void
addr_of(const char *s, uint8_t *fam, uint8_t out[16])
{
	ip(s, out);
	*fam = strchr(s, ':') ? 6 : 4;
}

/*
 * The resolved table (out-of-band answers pushed by the control plane):
 * binds the name to its addresses for any client, after the observed tables,
 * until TTL + grace; removing a name unbinds it at once; bounded and counted.
 */
static void
test_resolved(void **state)
{
	static uint8_t buf[4096];
	struct dp_dns_table *t = dp_dns_table_create(0, 64, GRACE);
	struct dp_dns_resolved_stats rs;
	uint8_t fam[3], a[3][16];
	uint32_t ttl[3] = { 60, 60, 30 };
	char nm[32];
	size_t n;

	(void)state;
	assert_int_equal(dp_dns_resolved_init(64, GRACE), 0);
	addr_of("203.0.113.7", &fam[0], a[0]);
	addr_of("203.0.113.8", &fam[1], a[1]);
	addr_of("2001:db8::7", &fam[2], a[2]);
	assert_int_equal(dp_dns_resolved_add("api.openai.com", 14, 3, fam,
					     (const uint8_t (*)[16])a, ttl, NOW), 0);
	/* any client, either family */
	assert_int_equal(bound("10.0.0.5", "203.0.113.7", "api.openai.com", NOW), DP_DNS_BOUND_RESOLVED);
	assert_int_equal(bound("10.9.9.9", "203.0.113.8", "api.openai.com", NOW), DP_DNS_BOUND_RESOLVED);
	assert_int_equal(bound("fd00::5", "2001:db8::7", "api.openai.com", NOW), DP_DNS_BOUND_RESOLVED);
	/* another address, another name: not bound */
	assert_int_equal(bound("10.0.0.5", "203.0.113.9", "api.openai.com", NOW), DP_DNS_BOUND_NONE);
	assert_int_equal(bound("10.0.0.5", "203.0.113.7", "evil.test", NOW), DP_DNS_BOUND_NONE);
	/* an IPv4 address written as the first bytes of an IPv6 one is not it */
	assert_int_equal(bound("fd00::5", "cb00:7107::", "api.openai.com", NOW), DP_DNS_BOUND_NONE);
	/* observed on the path (for its client only) is looked at first */
	n = load("dnsmasq-api-openai-com-a", buf, sizeof(buf));
	observe(t, "10.0.0.5", buf, n, NOW, DNS_OK);
	assert_int_equal(bound("10.0.0.5", "10.253.0.1", "api.openai.com", NOW), DP_DNS_BOUND_OBSERVED);
	assert_int_equal(bound("10.0.0.6", "10.253.0.1", "api.openai.com", NOW), DP_DNS_BOUND_NONE);
	assert_int_equal(bound("10.0.0.5", "203.0.113.7", "api.openai.com", NOW), DP_DNS_BOUND_RESOLVED);
	/* TTL + grace, per address */
	assert_int_equal(bound("10.0.0.5", "2001:db8::7", "api.openai.com", NOW + 30 + GRACE), DP_DNS_BOUND_NONE);
	assert_int_equal(bound("fd00::5", "2001:db8::7", "api.openai.com", NOW + 30 + GRACE), DP_DNS_BOUND_RESOLVED);
	assert_int_equal(bound("fd00::5", "2001:db8::7", "api.openai.com", NOW + 31 + GRACE), DP_DNS_BOUND_NONE);
	assert_int_equal(bound("10.0.0.6", "203.0.113.7", "api.openai.com", NOW + 61 + GRACE), DP_DNS_BOUND_NONE);
	/* a refresh moves it on */
	assert_int_equal(dp_dns_resolved_add("api.openai.com", 14, 1, fam,
					     (const uint8_t (*)[16])a, ttl, NOW + 60), 0);
	assert_int_equal(bound("10.0.0.6", "203.0.113.7", "api.openai.com", NOW + 61 + GRACE), DP_DNS_BOUND_RESOLVED);
	dp_dns_resolved_stats_get(NOW, &rs);
	assert_int_equal(rs.updates, 2);
	assert_int_equal(rs.entries, 3);
	assert_int_equal(rs.recorded, 3);
	assert_int_equal(rs.refreshed, 1);
	assert_int_equal(rs.capacity, 64);
	/* removed by a new policy: unbound at once, other names stay */
	assert_int_equal(dp_dns_resolved_add("api.anthropic.com", 17, 1, &fam[1],
					     (const uint8_t (*)[16])a[1], ttl, NOW), 0);
	assert_int_equal(dp_dns_resolved_remove("api.openai.com", 14), 3);
	assert_int_equal(bound("10.0.0.6", "203.0.113.7", "api.openai.com", NOW), DP_DNS_BOUND_NONE);
	assert_int_equal(bound("10.0.0.6", "203.0.113.8", "api.anthropic.com", NOW), DP_DNS_BOUND_RESOLVED);
	/* the observed binding of 10.0.0.5 is not the resolved table's to remove */
	assert_int_equal(bound("10.0.0.5", "10.253.0.1", "api.openai.com", NOW), DP_DNS_BOUND_OBSERVED);
	/* a new dns.grace applies to the answers added after it */
	dp_dns_resolved_set_grace(0);
	assert_int_equal(dp_dns_resolved_add("g0.test", 7, 1, &fam[1],
					     (const uint8_t (*)[16])a[1], ttl, NOW), 0);
	assert_int_equal(bound("10.0.0.6", "203.0.113.8", "g0.test", NOW + 60), DP_DNS_BOUND_RESOLVED);
	assert_int_equal(bound("10.0.0.6", "203.0.113.8", "g0.test", NOW + 61), DP_DNS_BOUND_NONE);
	assert_int_equal(bound("10.0.0.6", "203.0.113.8", "api.anthropic.com", NOW + 61), DP_DNS_BOUND_RESOLVED);
	dp_dns_resolved_set_grace(GRACE);
	/* bad input refused */
	fam[0] = 5;
	assert_int_equal(dp_dns_resolved_add("x.test", 6, 1, fam, (const uint8_t (*)[16])a, ttl, NOW), -EINVAL);
	assert_int_equal(dp_dns_resolved_add("x.test", 6, 0, fam, (const uint8_t (*)[16])a, ttl, NOW), -ENOENT);
	/* bounded: 400 names into 64 slots, every drop counted */
	fam[0] = 4;
	for (unsigned i = 0; i < 400; i++) {
		snprintf(nm, sizeof(nm), "n%u.test", i);
		assert_int_equal(dp_dns_resolved_add(nm, strlen(nm), 1, fam,
						     (const uint8_t (*)[16])a, ttl, NOW), 0);
	}
	dp_dns_resolved_stats_get(NOW, &rs);
	assert_true(rs.entries <= 64);
	assert_int_equal(rs.recorded - rs.evicted - rs.reused - 3 /* removed */, rs.entries);
	dp_dns_resolved_fini();
	assert_int_equal(bound("10.0.0.6", "203.0.113.8", "api.anthropic.com", NOW), DP_DNS_BOUND_NONE);
	dp_dns_table_free(t);
}

/* msg with its 2-byte TCP length prefix */
static size_t
tcp_frame(uint8_t *out, const uint8_t *msg, size_t len)
{
	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
	memcpy(out + 2, msg, len);
	return len + 2;
}

/*
 * DNS over TCP: dnsmasq's answer with its length prefix, whole, split at
 * every offset (prefix split too), two messages in one segment, a
 * retransmission; a gap, an oversize message and a lost slot are counted in
 * tcp_skipped and never parsed from a wrong offset.
 */
static void
test_tcp(void **state)
{
	static uint8_t msg[4096], seg[16384], big[8192];
	struct dp_dns_table *t = dp_dns_table_create(0, 1024, GRACE);
	struct dp_dns_stats st;
	uint8_t c[16];
	size_t n, fl, cut, o;
	uint32_t seq = 0xfffffff0u;     /* wraps inside the message */

	(void)state;
	ip("10.0.0.5", c);
	n = load("dnsmasq-api-openai-com-a", msg, sizeof(msg));
	fl = tcp_frame(seg, msg, n);
	dp_dns_observe_tcp(t, 7, 4, c, seq, seg, fl, NOW, DP_DNS_TCP_HTTPS_PASS);
	assert_int_equal(bound("10.0.0.5", "10.253.0.1", "api.openai.com", NOW), DP_DNS_BOUND_OBSERVED);
	assert_int_equal(bound("10.0.0.6", "10.253.0.1", "api.openai.com", NOW), DP_DNS_BOUND_NONE);
	dp_dns_stats_get(t, &st);
	assert_int_equal(st.tcp_messages, 1);
	assert_int_equal(st.responses, 1);
	assert_true(st.recorded > 0);
	/* every split point, on a new flow each time */
	for (cut = 1; cut < fl; cut++) {
		dp_dns_observe_tcp(t, (uint32_t)(100 + cut), 4, c, seq, seg, cut, NOW, DP_DNS_TCP_HTTPS_PASS);
		dp_dns_observe_tcp(t, (uint32_t)(100 + cut), 4, c, seq + (uint32_t)cut,
				   seg + cut, fl - cut, NOW, DP_DNS_TCP_HTTPS_PASS);
	}
	dp_dns_stats_get(t, &st);
	assert_int_equal(st.tcp_messages, fl);
	assert_int_equal(st.tcp_skipped, 0);
	assert_int_equal(st.bad[DNS_TRUNCATED] + st.bad[DNS_MALFORMED], 0);
	/* three pieces with a retransmission of the first in between */
	dp_dns_observe_tcp(t, 9, 4, c, seq, seg, 10, NOW, DP_DNS_TCP_HTTPS_PASS);
	dp_dns_observe_tcp(t, 9, 4, c, seq, seg, 20, NOW, DP_DNS_TCP_HTTPS_PASS);
	dp_dns_observe_tcp(t, 9, 4, c, seq + 20, seg + 20, fl - 20, NOW, DP_DNS_TCP_HTTPS_PASS);
	dp_dns_stats_get(t, &st);
	assert_int_equal(st.tcp_messages, fl + 1);
	/* two messages in one segment, the second split off into the next */
	o = tcp_frame(seg + fl, msg, n) + fl;
	dp_dns_observe_tcp(t, 10, 4, c, seq, seg, o - 5, NOW, DP_DNS_TCP_HTTPS_PASS);
	dp_dns_observe_tcp(t, 10, 4, c, seq + (uint32_t)(o - 5), seg + o - 5, 5, NOW, DP_DNS_TCP_HTTPS_PASS);
	dp_dns_stats_get(t, &st);
	assert_int_equal(st.tcp_messages, fl + 3);
	/* a gap: the piece after it is skipped, counted, not parsed */
	dp_dns_observe_tcp(t, 11, 4, c, seq, seg, 10, NOW, DP_DNS_TCP_HTTPS_PASS);
	dp_dns_observe_tcp(t, 11, 4, c, seq + 15, seg + 15, fl - 15, NOW, DP_DNS_TCP_HTTPS_PASS);
	dp_dns_stats_get(t, &st);
	assert_int_equal(st.tcp_messages, fl + 3);
	assert_int_equal(st.tcp_skipped, 1);
	assert_int_equal(st.bad[DNS_TRUNCATED] + st.bad[DNS_MALFORMED], 0);
	/* a message over DP_DNS_TCP_MSG_MAX is passed over; the one after it is read */
	memset(big, 0, sizeof(big));
	big[0] = (uint8_t)((DP_DNS_TCP_MSG_MAX + 100) >> 8);
	big[1] = (uint8_t)(DP_DNS_TCP_MSG_MAX + 100);
	dp_dns_observe_tcp(t, 12, 4, c, 0, big, 1000, NOW, DP_DNS_TCP_HTTPS_PASS);
	dp_dns_observe_tcp(t, 12, 4, c, 1000, big + 1000, DP_DNS_TCP_MSG_MAX + 102 - 1000, NOW, DP_DNS_TCP_HTTPS_PASS);
	dp_dns_observe_tcp(t, 12, 4, c, DP_DNS_TCP_MSG_MAX + 102, seg, fl, NOW, DP_DNS_TCP_HTTPS_PASS);
	dp_dns_stats_get(t, &st);
	assert_int_equal(st.tcp_skipped, 2);
	assert_int_equal(st.tcp_messages, fl + 4);
	/* more flows in pieces than slots: the oldest is given up, counted */
	for (unsigned i = 0; i <= DP_DNS_TCP_SLOTS; i++)
		dp_dns_observe_tcp(t, 200 + i, 4, c, 0, seg, 10, NOW + i, DP_DNS_TCP_HTTPS_PASS);
	dp_dns_stats_get(t, &st);
	assert_int_equal(st.tcp_skipped, 3);
	/*
	 * the flow that lost its slot: its next piece is read as if it started a
	 * message, and the parser counts what it makes of it as bad
	 */
	dp_dns_observe_tcp(t, 200, 4, c, 10, seg + 10, fl - 10, NOW + 20, DP_DNS_TCP_HTTPS_PASS);
	dp_dns_stats_get(t, &st);
	assert_true(st.bad[DNS_TRUNCATED] + st.bad[DNS_MALFORMED] + st.bad[DNS_NOT_RESPONSE] +
		    st.bad[DNS_UNSUPPORTED] + st.tcp_skipped > 3);
	/* a flow that ends with a message in pieces: counted */
	dp_dns_tcp_forget(t, 201);
	dp_dns_stats_get(t, &st);
	assert_true(st.tcp_skipped >= 4);
	dp_dns_table_free(t);
}

/*
 * DNS over TCP with HTTPS records (dnsmasq's answers): they cannot be rewritten
 * in a stream, so the segment completing a message to block says so (1):
 * strip_ech blocks one with ech, refuse blocks any; allow passes; counted.
 */
static void
test_tcp_https(void **state)
{
	static uint8_t msg[4096], seg[8192];
	struct dp_dns_table *t = dp_dns_table_create(0, 1024, GRACE);
	struct dp_dns_stats st;
	uint8_t c[16];
	size_t n, fl;

	(void)state;
	ip("10.0.0.5", c);
	n = load("dnsmasq-https-two-ech", msg, sizeof(msg));
	fl = tcp_frame(seg, msg, n);
	assert_int_equal(dp_dns_observe_tcp(t, 1, 4, c, 0, seg, fl, NOW, DP_DNS_TCP_HTTPS_PASS), 0);
	assert_int_equal(dp_dns_observe_tcp(t, 2, 4, c, 0, seg, fl, NOW, DP_DNS_TCP_HTTPS_NO_ECH), 1);
	/* in two pieces: the first passes, the one completing the message is blocked */
	assert_int_equal(dp_dns_observe_tcp(t, 3, 4, c, 0, seg, 50, NOW, DP_DNS_TCP_HTTPS_NO_ECH), 0);
	assert_int_equal(dp_dns_observe_tcp(t, 3, 4, c, 50, seg + 50, fl - 50, NOW,
					    DP_DNS_TCP_HTTPS_NO_ECH), 1);
	n = load("dnsmasq-https-no-ech", msg, sizeof(msg));
	fl = tcp_frame(seg, msg, n);
	assert_int_equal(dp_dns_observe_tcp(t, 4, 4, c, 0, seg, fl, NOW, DP_DNS_TCP_HTTPS_NO_ECH), 0);
	assert_int_equal(dp_dns_observe_tcp(t, 5, 4, c, 0, seg, fl, NOW, DP_DNS_TCP_HTTPS_REFUSE), 1);
	/* no HTTPS record: nothing to block */
	n = load("dnsmasq-api-openai-com-a", msg, sizeof(msg));
	fl = tcp_frame(seg, msg, n);
	assert_int_equal(dp_dns_observe_tcp(t, 6, 4, c, 0, seg, fl, NOW, DP_DNS_TCP_HTTPS_REFUSE), 0);
	dp_dns_stats_get(t, &st);
	assert_int_equal(st.https_allowed, 2);
	assert_int_equal(st.https_unstrippable, 2);
	assert_int_equal(st.https_refused, 1);
	assert_int_equal(st.tcp_messages, 6);
	dp_dns_table_free(t);
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
		cmocka_unit_test(test_resolved),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_tcp_https),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
