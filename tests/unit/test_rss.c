/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_rss.c: the RSS key dp_port.c programs is symmetric. With a key of
 * 0x6d,0x5a repeated, the Toeplitz hash (rte_softrss, the function NICs
 * implement) of a flow's tuple in one direction equals the hash of the
 * reverse tuple, for IPv4 and IPv6, with and without ports, so both
 * directions of a flow land on one queue. A classic non-repeating key
 * (the Microsoft RSS verification key) breaks the property, which shows the
 * assertions can fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <rte_thash.h>

#include "dp_port.h"

#define KEY_LEN 40

static const uint8_t ms_key[KEY_LEN] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* Deterministic pseudo-random words (xorshift32). */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* IPv4 tuple in rte_softrss word order: src, dst, (sport << 16 | dport). */
static void
v4(uint32_t *t, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport)
{
	t[0] = src;
	t[1] = dst;
	t[2] = ((uint32_t)sport << 16) | dport;
}

/* IPv6 tuple: 4 words src, 4 words dst, ports. */
static void
v6(uint32_t *t, const uint32_t *src, const uint32_t *dst, uint16_t sport, uint16_t dport)
{
	memcpy(t, src, 16);
	memcpy(t + 4, dst, 16);
	t[8] = ((uint32_t)sport << 16) | dport;
}

/* Count tuples (of n random ones) whose two directions hash differently. */
static unsigned int
asymmetric_v4(const uint8_t *key, unsigned int n, uint32_t len_words)
{
	uint32_t s = 0x12345678, a[3], b[3];
	unsigned int bad = 0;

	for (unsigned int i = 0; i < n; i++) {
		uint32_t src = rnd(&s), dst = rnd(&s), p = rnd(&s);
		uint16_t sp = (uint16_t)p, dp = (uint16_t)(p >> 16);

		v4(a, src, dst, sp, dp);
		v4(b, dst, src, dp, sp);
		if (rte_softrss(a, len_words, key) != rte_softrss(b, len_words, key))
			bad++;
	}
	return bad;
}

static unsigned int
asymmetric_v6(const uint8_t *key, unsigned int n, uint32_t len_words)
{
	uint32_t s = 0x9abcdef1, a[9], b[9], src[4], dst[4];
	unsigned int bad = 0;

	for (unsigned int i = 0; i < n; i++) {
		uint32_t p = rnd(&s);
		uint16_t sp = (uint16_t)p, dp = (uint16_t)(p >> 16);

		for (int k = 0; k < 4; k++) {
			src[k] = rnd(&s);
			dst[k] = rnd(&s);
		}
		v6(a, src, dst, sp, dp);
		v6(b, dst, src, dp, sp);
		if (rte_softrss(a, len_words, key) != rte_softrss(b, len_words, key))
			bad++;
	}
	return bad;
}

static void
test_key_bytes(void **state)
{
	uint8_t key[52];

	(void)state;
	memset(key, 0, sizeof(key));
	dp_rss_symmetric_key(key, sizeof(key));
	for (unsigned int i = 0; i < sizeof(key); i++)
		assert_int_equal(key[i], (i & 1) ? 0x5a : 0x6d);
}

static void
test_symmetric_v4(void **state)
{
	uint8_t key[KEY_LEN];

	(void)state;
	dp_rss_symmetric_key(key, sizeof(key));
	/* addresses only (fragments, other protocols) and with ports (TCP/UDP) */
	assert_int_equal(asymmetric_v4(key, 1000, RTE_THASH_V4_L3_LEN), 0);
	assert_int_equal(asymmetric_v4(key, 1000, RTE_THASH_V4_L4_LEN), 0);
}

static void
test_symmetric_v6(void **state)
{
	uint8_t key[KEY_LEN];

	(void)state;
	dp_rss_symmetric_key(key, sizeof(key));
	assert_int_equal(asymmetric_v6(key, 1000, RTE_THASH_V6_L3_LEN), 0);
	assert_int_equal(asymmetric_v6(key, 1000, RTE_THASH_V6_L4_LEN), 0);
}

static void
test_known_tuple(void **state)
{
	uint8_t key[KEY_LEN];
	uint32_t a[3], b[3];

	(void)state;
	dp_rss_symmetric_key(key, sizeof(key));
	/* 10.88.1.1:40000 -> 10.88.1.2:443 and back */
	v4(a, 0x0a580101, 0x0a580102, 40000, 443);
	v4(b, 0x0a580102, 0x0a580101, 443, 40000);
	assert_int_equal(rte_softrss(a, RTE_THASH_V4_L4_LEN, key),
			 rte_softrss(b, RTE_THASH_V4_L4_LEN, key));
	/* a different flow hashes differently (the key is not degenerate) */
	v4(b, 0x0a580101, 0x0a580102, 40001, 443);
	assert_int_not_equal(rte_softrss(a, RTE_THASH_V4_L4_LEN, key),
			     rte_softrss(b, RTE_THASH_V4_L4_LEN, key));
}

static void
test_asymmetric_key_fails(void **state)
{
	(void)state;
	/* the same checks with a non-repeating key find asymmetric tuples */
	assert_true(asymmetric_v4(ms_key, 1000, RTE_THASH_V4_L4_LEN) > 900);
	assert_true(asymmetric_v6(ms_key, 1000, RTE_THASH_V6_L4_LEN) > 900);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_bytes),
		cmocka_unit_test(test_symmetric_v4),
		cmocka_unit_test(test_symmetric_v6),
		cmocka_unit_test(test_known_tuple),
		cmocka_unit_test(test_asymmetric_key_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
