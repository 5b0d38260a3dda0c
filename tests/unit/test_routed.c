/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_routed.c: the routed appliance's L2/L3 (dp_routed): option parsing,
 * longest-prefix match, the neighbour table, and every frame it builds
 * (ARP reply and request, NA and NS, ICMP / ICMPv6 time exceeded, echo
 * replies) byte for byte against Scapy's (tests/data/vpc/gen.py).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dp_pkt.h"
#include "dp_routed.h"
#include "vpc_frames.h"

#define LEN(a) sizeof(a)

static const uint8_t host_mac[6] = { 0x02, 0, 0, 0, 0x01, 0x10 };
static const uint8_t r_mac[6] = { 0x02, 0, 0, 0, 0x01, 0x01 };

static void
ip4(const char *s, uint8_t *out)
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(AF_INET, s, out), 1);
}

static void
ip6(const char *s, uint8_t *out)
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

static void
test_parse_options(void **state)
{
	struct dp_addr a;
	struct dp_route r;
	char err[160];
	uint8_t x[16];

	(void)state;
	assert_int_equal(dp_addr_parse("1:10.72.2.1/24", &a, err, sizeof(err)), 0);
	assert_true(a.family == 4 && a.plen == 24 && a.port == 1);
	ip4("10.72.2.1", x);
	assert_memory_equal(a.ip, x, 4);
	assert_int_equal(dp_addr_parse("0:fd72:1::1/64", &a, err, sizeof(err)), 0);
	assert_true(a.family == 6 && a.plen == 64 && a.port == 0);
	ip6("fd72:1::1", x);
	assert_memory_equal(a.ip, x, 16);
	/* bad: no port, port out of range, no prefix, prefix too long, junk */
	assert_int_equal(dp_addr_parse("10.0.0.1/24", &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_addr_parse("9:10.0.0.1/24", &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_addr_parse("0:10.0.0.1", &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_addr_parse("0:10.0.0.1/33", &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_addr_parse("0:fd00::1/129", &a, err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_addr_parse("0:10.0.0.x/8", &a, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "10.0.0.x"));

	assert_int_equal(dp_route_parse("0.0.0.0/0:1:10.72.2.254", &r, err, sizeof(err)), 0);
	assert_true(r.family == 4 && r.plen == 0 && r.port == 1 && r.has_gw);
	ip4("10.72.2.254", x);
	assert_memory_equal(r.gw, x, 4);
	assert_int_equal(dp_route_parse("fd72:3::/48:1:fd72:2::20", &r, err, sizeof(err)), 0);
	assert_true(r.family == 6 && r.plen == 48 && r.port == 1 && r.has_gw);
	ip6("fd72:2::20", x);
	assert_memory_equal(r.gw, x, 16);
	assert_int_equal(dp_route_parse("::/0:0", &r, err, sizeof(err)), 0);
	assert_true(r.family == 6 && r.plen == 0 && r.port == 0 && !r.has_gw);
	assert_int_equal(dp_route_parse("10.0.0.0/8", &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_route_parse("10.0.0.0/8:1:fd00::1", &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_route_parse("10.0.0.0/8:7", &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(dp_route_parse("10.0.0.0/x:1", &r, err, sizeof(err)), -EINVAL);
}

static void
add(struct dp_rtable *t, const char *spec, int want)
{
	struct dp_route r;
	char err[160];

	assert_int_equal(dp_route_parse(spec, &r, err, sizeof(err)), 0);
	assert_int_equal(dp_rtable_add(t, &r), want);
}

static const struct dp_route *
look(const struct dp_rtable *t, const char *dst)
{
	uint8_t x[16];

	if (strchr(dst, ':')) {
		ip6(dst, x);
		return dp_rtable_lookup(t, 6, x);
	}
	ip4(dst, x);
	return dp_rtable_lookup(t, 4, x);
}

static void
test_routes(void **state)
{
	static struct dp_rtable t;
	const struct dp_route *r;

	(void)state;
	memset(&t, 0, sizeof(t));
	add(&t, "0.0.0.0/0:1:10.72.2.254", 0);
	add(&t, "10.72.1.0/24:0", 0);
	add(&t, "10.72.2.0/24:1", 0);
	add(&t, "10.72.3.0/24:1:10.72.2.20", 0);
	add(&t, "10.72.3.128/25:0:10.72.1.99", 0);
	add(&t, "10.72.3.1/24:1", -EEXIST);    /* the same prefix, masked */
	add(&t, "fd72:1::/64:0", 0);
	add(&t, "::/0:1:fd72:2::1", 0);
	r = look(&t, "10.72.1.77");
	assert_true(r != NULL && r->port == 0 && !r->has_gw && r->plen == 24);
	r = look(&t, "10.72.3.5");
	assert_true(r != NULL && r->port == 1 && r->has_gw && r->plen == 24);
	r = look(&t, "10.72.3.200");
	assert_true(r != NULL && r->port == 0 && r->plen == 25);
	r = look(&t, "8.8.8.8");
	assert_true(r != NULL && r->plen == 0 && r->port == 1);
	r = look(&t, "fd72:1::55");
	assert_true(r != NULL && r->plen == 64 && r->port == 0);
	r = look(&t, "2001:db8::1");
	assert_true(r != NULL && r->plen == 0 && r->family == 6);
	/* longest first, whatever the order they were given in */
	for (unsigned int i = 1; i < t.n; i++)
		assert_true(t.r[i - 1].plen >= t.r[i].plen);
	memset(&t, 0, sizeof(t));
	add(&t, "10.0.0.0/8:0", 0);
	assert_null(look(&t, "11.0.0.1"));
	assert_null(look(&t, "fd00::1"));
}

static void
test_neighbours(void **state)
{
	static struct dp_ntable t;
	struct dp_neigh *n, *m;
	uint8_t ip[16], mac[6];
	unsigned int added = 0;

	(void)state;
	dp_neigh_init(&t);
	ip4("10.72.1.10", ip);
	assert_null(dp_neigh_find(&t, 4, ip));
	n = dp_neigh_get(&t, 4, ip, 0);
	assert_non_null(n);
	assert_ptr_equal(dp_neigh_find(&t, 4, ip), n);
	assert_ptr_equal(dp_neigh_get(&t, 4, ip, 0), n);
	assert_false(dp_neigh_mac(n, mac));
	dp_neigh_set(n, host_mac);
	assert_true(dp_neigh_mac(n, mac));
	assert_memory_equal(mac, host_mac, 6);
	/* the same bytes as IPv6 are another neighbour */
	assert_null(dp_neigh_find(&t, 6, ip));
	/* one request per interval, whoever asks */
	assert_true(dp_neigh_may_request(n, 5000000000ull, 1000000000ull));
	assert_false(dp_neigh_may_request(n, 5500000000ull, 1000000000ull));
	assert_true(dp_neigh_may_request(n, 6000000000ull, 1000000000ull));
	/* bounded: three quarters of the slots, then NULL (counted) */
	for (uint32_t i = 0; i < DP_NEIGH_SLOTS; i++) {
		ip4("10.0.0.0", ip);
		ip[2] = (uint8_t)(i >> 8);
		ip[3] = (uint8_t)i;
		m = dp_neigh_get(&t, 4, ip, 1);
		if (m == NULL)
			break;
		added++;
	}
	assert_int_equal(added + 1, DP_NEIGH_SLOTS * 3 / 4);
	assert_true(t.full > 0);
	/* every one of them is still found */
	for (uint32_t i = 0; i < added; i++) {
		ip4("10.0.0.0", ip);
		ip[2] = (uint8_t)(i >> 8);
		ip[3] = (uint8_t)i;
		assert_non_null(dp_neigh_find(&t, 4, ip));
	}
}

static void
test_arp(void **state)
{
	struct dp_arp a;
	uint8_t out[64], zero[6] = { 0 }, bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t ip[16];
	size_t n;

	(void)state;
	assert_int_equal(dp_arp_parse(arp_req, LEN(arp_req), 14, &a), 0);
	assert_int_equal(a.op, 1);
	assert_memory_equal(a.sha, host_mac, 6);
	assert_memory_equal(a.spa, "\x0a\x48\x01\x0a", 4);
	assert_memory_equal(a.tpa, "\x0a\x48\x01\x01", 4);
	assert_int_equal(dp_arp_parse(arp_req, 14 + 27, 14, &a), -1);
	/* the reply, as the dataplane builds it in arp_in() */
	n = dp_build_arp(out, 2, a.sha, r_mac, a.tpa, a.sha, a.spa);
	assert_int_equal(n, LEN(arp_rep));
	assert_memory_equal(out, arp_rep, n);
	/* a request for a next hop */
	ip4("10.72.1.20", ip);
	n = dp_build_arp(out, 1, bcast, r_mac, a.tpa, zero, ip);
	assert_int_equal(n, LEN(arp_who));
	assert_memory_equal(out, arp_who, n);
}

static void
test_nd(void **state)
{
	struct dp_pkt p;
	struct dp_nd nd;
	uint8_t out[128], ip[16], src[16];
	size_t n;

	(void)state;
	assert_int_equal(dp_decode(nd_ns, LEN(nd_ns), DP_LINK_ETHERNET, &p), DP_DEC_OK);
	assert_int_equal(dp_nd_parse(nd_ns, &p, &nd), 0);
	assert_int_equal(nd.type, 135);
	ip6("fd72:1::1", ip);
	assert_memory_equal(nd.target, ip, 16);
	assert_true(nd.has_ll);
	assert_memory_equal(nd.ll, host_mac, 6);
	/* the advertisement, as nd_in() builds it for a router */
	n = dp_build_na(out, nd_ns + 6, r_mac, nd.target, p.src, nd.target, 0xe0);
	assert_int_equal(n, LEN(nd_na));
	assert_memory_equal(out, nd_na, n);
	/* and it parses as an NA with our MAC */
	assert_int_equal(dp_decode(out, n, DP_LINK_ETHERNET, &p), DP_DEC_OK);
	assert_int_equal(dp_nd_parse(out, &p, &nd), 0);
	assert_true(nd.type == 136 && nd.has_ll && nd.flags == 0xe0);
	assert_memory_equal(nd.ll, r_mac, 6);
	/* hop limit other than 255: not neighbour discovery (RFC 4861 7.1.1) */
	assert_int_equal(dp_decode(nd_ns_hlim, LEN(nd_ns_hlim), DP_LINK_ETHERNET, &p), DP_DEC_OK);
	assert_int_equal(dp_nd_parse(nd_ns_hlim, &p, &nd), -1);
	/* a bad checksum: not either */
	memcpy(out, nd_ns, LEN(nd_ns));
	out[LEN(nd_ns) - 1] ^= 1;
	assert_int_equal(dp_decode(out, LEN(nd_ns), DP_LINK_ETHERNET, &p), DP_DEC_OK);
	assert_int_equal(dp_nd_parse(out, &p, &nd), -1);
	/* our own solicitation for a next hop */
	ip6("fd72:1::1", src);
	ip6("fd72:1::20", ip);
	n = dp_build_ns(out, r_mac, src, ip);
	assert_int_equal(n, LEN(nd_who));
	assert_memory_equal(out, nd_who, n);
}

static void
check_built(const uint8_t *in, size_t inlen, const uint8_t *want, size_t wlen, int kind,
	    const char *from)
{
	uint8_t out[1600], f[16];
	struct dp_pkt p;
	size_t n;

	assert_int_equal(dp_decode(in, inlen, DP_LINK_ETHERNET, &p), DP_DEC_OK);
	if (kind == 0) {
		if (strchr(from, ':'))
			ip6(from, f);
		else
			ip4(from, f);
		assert_int_equal(dp_icmp_is_error(&p), 0);
		n = dp_build_time_exceeded(out, sizeof(out), in, &p, f);
	} else {
		n = dp_build_echo_reply(out, sizeof(out), in, &p);
	}
	/* Scapy's frame, zero-padded to the Ethernet minimum */
	assert_int_equal(n, wlen < 60 ? 60 : wlen);
	assert_memory_equal(out, want, wlen);
	for (size_t i = wlen; i < n; i++)
		assert_int_equal(out[i], 0);
	/* what we built is an ICMP error never answered with another */
	assert_int_equal(dp_decode(out, n, DP_LINK_ETHERNET, &p), DP_DEC_OK);
	assert_int_equal(dp_icmp_is_error(&p), kind == 0);
	/* too small a buffer: nothing */
	if (kind == 0)
		assert_int_equal(dp_build_time_exceeded(out, wlen - 1, in, &p, f), 0);
}

static void
test_icmp(void **state)
{
	struct dp_pkt p;
	uint8_t f[LEN(ttl1_v4)];

	(void)state;
	check_built(ttl1_v4, LEN(ttl1_v4), ttl1_v4_te, LEN(ttl1_v4_te), 0, "10.72.1.1");
	check_built(ttl1_v6, LEN(ttl1_v6), ttl1_v6_te, LEN(ttl1_v6_te), 0, "fd72:1::1");
	check_built(echo_v4, LEN(echo_v4), echo_v4_rep, LEN(echo_v4_rep), 1, NULL);
	check_built(echo_v6, LEN(echo_v6), echo_v6_rep, LEN(echo_v6_rep), 1, NULL);
	/* not an echo request: no reply */
	assert_int_equal(dp_decode(ttl1_v4, LEN(ttl1_v4), DP_LINK_ETHERNET, &p), DP_DEC_OK);
	assert_int_equal(dp_build_echo_reply(f, sizeof(f), ttl1_v4, &p), 0);
	/* TTL decrement keeps the IPv4 header checksum right (dp_decode verifies it) */
	memcpy(f, ttl1_v4, sizeof(f));
	f[14 + 8] = 9;
	assert_int_equal(dp_decode(f, sizeof(f), DP_LINK_ETHERNET, &p), DP_DEC_BAD_IP);
	f[14 + 8] = 10;
	assert_int_equal(dp_ttl_dec(f + 14, 4), 9);
	assert_int_equal(dp_decode(f, sizeof(f), DP_LINK_ETHERNET, &p), DP_DEC_OK);
	assert_int_equal(p.ttl, 9);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_options),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_neighbours),
		cmocka_unit_test(test_arp),
		cmocka_unit_test(test_nd),
		cmocka_unit_test(test_icmp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
