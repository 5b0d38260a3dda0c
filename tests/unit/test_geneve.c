/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_geneve.c: GENEVE for AWS GWLB (dp_geneve) against frames Scapy built
 * (tests/data/vpc/gen.py -> vpc_frames.h, Scapy's GENEVE layer and its
 * checksums): parsing of every option case, the inner packet decoded in
 * place, the returned frame and the RST inside the GENEVE context byte for
 * byte as Scapy builds them, every truncation and every options length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_geneve.h"
#include "dp_pkt.h"
#include "vpc_frames.h"

#define LEN(a) sizeof(a)

/* Decode the outer frame and parse its GENEVE header. */
static enum dp_geneve_result
parse(const uint8_t *f, size_t len, struct dp_pkt *outer, struct dp_geneve *g)
{
	assert_int_equal(dp_decode(f, len, DP_LINK_ETHERNET, outer), DP_DEC_OK);
	assert_int_equal(outer->l4proto, 17);
	assert_int_equal(outer->dport, DP_GENEVE_PORT);
	return dp_geneve_parse(f, outer, g);
}

static void
test_parse_v4(void **state)
{
	struct dp_pkt o, p;
	struct dp_geneve g;
	uint8_t f[LEN(gnv_v4)];

	(void)state;
	memcpy(f, gnv_v4, sizeof(f));
	assert_int_equal(parse(f, sizeof(f), &o, &g), DP_GNV_OK);
	assert_int_equal(g.have, DP_GENEVE_HAVE_ALL);
	assert_true(g.ep == GNV_EP && g.att == GNV_ATT && g.cookie == GNV_COOKIE);
	assert_int_equal(g.proto, DP_GENEVE_PROTO_IPV4);
	assert_int_equal(g.hdr_off, 14 + 20 + 8);
	assert_int_equal(g.hdr_len, 8 + 12 + 12 + 8);
	assert_int_equal(g.inner_off, g.hdr_off + g.hdr_len);
	assert_int_equal(g.inner_end, sizeof(f));
	/* the inner packet, offsets from the outer frame */
	assert_int_equal(dp_geneve_decode_inner(f, &g, &p), DP_DEC_OK);
	assert_int_equal(p.family, 4);
	assert_int_equal(p.l4proto, 6);
	assert_memory_equal(p.src, "\x0a\x01\x00\x05", 4);
	assert_memory_equal(p.dst, "\x5d\xb8\xd8\x22", 4);
	assert_int_equal(p.sport, 40000);
	assert_int_equal(p.dport, 443);
	assert_int_equal(p.seq, 1000);
	assert_int_equal(p.ttl, 63);
	assert_int_equal(p.l3_off, g.inner_off);
	assert_int_equal(p.l2_len, g.inner_off);
	assert_int_equal(p.payload_len, 8);
	assert_memory_equal(f + p.payload_off, "\x16\x03\x01hello", 8);
	assert_true(dp_l4_cksum_ok(f, &p));            /* the inner TCP checksum, in place */
	assert_true(p.gwlb_ep == GNV_EP && p.gwlb_att == GNV_ATT);
}

static void
test_parse_v6_and_eth(void **state)
{
	struct dp_pkt o, p;
	struct dp_geneve g;

	(void)state;
	/* an unknown non-critical option before the AWS ones is skipped */
	assert_int_equal(parse(gnv_v6, LEN(gnv_v6), &o, &g), DP_GNV_OK);
	assert_int_equal(g.hdr_len, 8 + 8 + 12 + 12 + 8);
	assert_int_equal(dp_geneve_decode_inner(gnv_v6, &g, &p), DP_DEC_OK);
	assert_int_equal(p.family, 6);
	assert_int_equal(p.sport, 40001);
	assert_int_equal(p.tcp_flags, DP_TCP_SYN);
	assert_true(dp_l4_cksum_ok(gnv_v6, &p));
	/* Ethernet payload (0x6558) */
	assert_int_equal(parse(gnv_eth, LEN(gnv_eth), &o, &g), DP_GNV_OK);
	assert_int_equal(g.vni, 0x123456);
	assert_int_equal(dp_geneve_decode_inner(gnv_eth, &g, &p), DP_DEC_OK);
	assert_int_equal(p.link, DP_LINK_ETHERNET);
	assert_int_equal(p.l2_len, g.inner_off + 14);
	assert_int_equal(p.dport, 80);
	assert_true(dp_l4_cksum_ok(gnv_eth, &p));
}

static void
test_parse_errors(void **state)
{
	struct dp_pkt o;
	struct dp_geneve g;

	(void)state;
	assert_int_equal(parse(gnv_no_cookie, LEN(gnv_no_cookie), &o, &g), DP_GNV_TLV_MISSING);
	assert_int_equal(g.have, DP_GENEVE_HAVE_EP | DP_GENEVE_HAVE_ATT);
	assert_true(g.ep == GNV_EP && g.att == GNV_ATT);
	assert_int_equal(parse(gnv_no_tlv, LEN(gnv_no_tlv), &o, &g), DP_GNV_TLV_MISSING);
	assert_int_equal(g.have, 0);
	/* the inner packet of a TLV-less frame still decodes (it is named in the record) */
	assert_true(g.inner_off > 0 && g.inner_end == LEN(gnv_no_tlv));
	assert_int_equal(parse(gnv_crit, LEN(gnv_crit), &o, &g), DP_GNV_MALFORMED);
	assert_int_equal(parse(gnv_oam, LEN(gnv_oam), &o, &g), DP_GNV_MALFORMED);
	assert_int_equal(parse(gnv_dup, LEN(gnv_dup), &o, &g), DP_GNV_MALFORMED);
	assert_int_equal(parse(gnv_proto, LEN(gnv_proto), &o, &g), DP_GNV_PROTO);
}

/* Every truncation and every option length: never past the buffer, never OK when short. */
static void
test_truncation_and_optlen(void **state)
{
	uint8_t f[LEN(gnv_v4)];
	struct dp_pkt o, p;
	struct dp_geneve g;
	unsigned int ok = 0;

	(void)state;
	for (size_t n = 0; n <= sizeof(f); n++) {
		uint8_t *t = malloc(n ? n : 1);

		memcpy(t, gnv_v4, n);
		/* the outer lengths are the frame's: shorten them so dp_decode accepts it */
		if (n >= 14 + 28) {
			t[14 + 2] = (uint8_t)((n - 14) >> 8);
			t[14 + 3] = (uint8_t)(n - 14);
			t[14 + 10] = t[14 + 11] = 0;
			t[34 + 4] = (uint8_t)((n - 34) >> 8);
			t[34 + 5] = (uint8_t)(n - 34);
			t[34 + 6] = t[34 + 7] = 0;
			{
				uint32_t s = 0;

				for (int i = 0; i < 20; i += 2)
					s += (uint32_t)(t[14 + i] << 8 | t[14 + i + 1]);
				while (s >> 16)
					s = (s & 0xffff) + (s >> 16);
				t[24] = (uint8_t)(~s >> 8);
				t[25] = (uint8_t)~s;
			}
			if (dp_decode(t, n, DP_LINK_ETHERNET, &o) == DP_DEC_OK) {
				enum dp_geneve_result r = dp_geneve_parse(t, &o, &g);

				if (n < 14 + 20 + 8 + 40)
					assert_int_not_equal(r, DP_GNV_OK);
				if (r == DP_GNV_OK) {
					assert_true(g.inner_end <= n);
					if (dp_geneve_decode_inner(t, &g, &p) == DP_DEC_OK) {
						assert_true(p.payload_off + p.payload_len <= n);
						ok++;
					}
				}
			}
		}
		free(t);
	}
	assert_int_equal(ok, 1);        /* only the whole frame */
	for (unsigned int ol = 0; ol < 64; ol++) {
		memcpy(f, gnv_v4, sizeof(f));
		f[42] = (uint8_t)ol;           /* version 0, options length ol x 4 */
		assert_int_equal(dp_decode(f, sizeof(f), DP_LINK_ETHERNET, &o), DP_DEC_OK);
		if (dp_geneve_parse(f, &o, &g) == DP_GNV_OK) {
			assert_int_equal(ol, 8);
			assert_true(g.inner_end <= sizeof(f));
		}
	}
	memcpy(f, gnv_v4, sizeof(f));
	f[42] |= 0x40;                          /* version 1 */
	assert_int_equal(dp_decode(f, sizeof(f), DP_LINK_ETHERNET, &o), DP_DEC_OK);
	assert_int_equal(dp_geneve_parse(f, &o, &g), DP_GNV_MALFORMED);
}

static void
test_return(void **state)
{
	uint8_t f[LEN(gnv_v6)];
	struct dp_pkt o;

	(void)state;
	{
		uint8_t v4[LEN(gnv_v4)];

		memcpy(v4, gnv_v4, sizeof(v4));
		assert_int_equal(dp_geneve_return(v4, sizeof(v4), sizeof(v4)), 0);
		/* Scapy's returned frame: addresses swapped, same header, its own checksums */
		assert_memory_equal(v4, gnv_v4_ret, sizeof(v4));
		assert_int_equal(dp_geneve_return(v4, sizeof(v4), sizeof(v4)), 0);
		assert_memory_equal(v4, gnv_v4, sizeof(v4));
	}
	memcpy(f, gnv_v6, sizeof(f));
	assert_int_equal(dp_geneve_return(f, sizeof(f), sizeof(f)), 0);
	assert_memory_equal(f, gnv_v6_ret, sizeof(f));
	assert_int_equal(dp_decode(f, sizeof(f), DP_LINK_ETHERNET, &o), DP_DEC_OK);
	assert_true(dp_l4_cksum_ok(f, &o));     /* the kept UDP checksum still verifies */
	/* a frame that shrank (TFO payload stripped): lengths follow, UDP checksum 0 */
	memcpy(f, gnv_v6, sizeof(f));
	assert_int_equal(dp_geneve_return(f, sizeof(f), sizeof(f) - 4), 0);
	assert_int_equal(dp_decode(f, sizeof(f) - 4, DP_LINK_ETHERNET, &o), DP_DEC_OK);
	assert_int_equal(o.ip_len, sizeof(f) - 4 - 14);
	assert_int_equal(o.payload_len, sizeof(f) - 4 - 42);
	assert_int_equal(f[40] | f[41], 0);
	/* not IPv4/UDP: refused, untouched */
	{
		uint8_t a[LEN(arp_req)];

		memcpy(a, arp_req, sizeof(a));
		assert_int_equal(dp_geneve_return(a, sizeof(a), sizeof(a)), -1);
		assert_memory_equal(a, arp_req, sizeof(a));
	}
}

static void
check_rst(const uint8_t *frame, size_t len, uint32_t seq, uint32_t ack, const uint8_t *want,
	  size_t wlen)
{
	uint8_t out[256];
	struct dp_pkt o, p, r;
	struct dp_geneve g, rg;
	int n;

	assert_int_equal(parse(frame, len, &o, &g), DP_GNV_OK);
	assert_int_equal(dp_geneve_decode_inner(frame, &g, &p), DP_DEC_OK);
	n = dp_geneve_build_rst(frame, &g, &p, seq, ack, out, sizeof(out));
	assert_int_equal(n, (int)wlen);
	assert_memory_equal(out, want, wlen);
	/* and it parses back: same GENEVE header byte for byte, the reversed inner flow */
	assert_int_equal(parse(out, (size_t)n, &o, &rg), DP_GNV_OK);
	assert_memory_equal(out + rg.hdr_off, frame + g.hdr_off, g.hdr_len);
	assert_int_equal(dp_geneve_decode_inner(out, &rg, &r), DP_DEC_OK);
	assert_int_equal(r.sport, p.dport);
	assert_int_equal(r.dport, p.sport);
	assert_int_equal(r.tcp_flags, DP_TCP_RST | DP_TCP_ACK);
	assert_true(dp_l4_cksum_ok(out, &r));
	/* too small a buffer */
	assert_int_equal(dp_geneve_build_rst(frame, &g, &p, seq, ack, out, wlen - 1), -1);
}

static void
test_rst(void **state)
{
	(void)state;
	check_rst(gnv_v4, LEN(gnv_v4), 5000, 1010, gnv_v4_rst, LEN(gnv_v4_rst));
	check_rst(gnv_v6, LEN(gnv_v6), 0, 78, gnv_v6_rst, LEN(gnv_v6_rst));
	check_rst(gnv_eth, LEN(gnv_eth), 10, 9, gnv_eth_rst, LEN(gnv_eth_rst));
}

/* The attachment and endpoint ids are part of the flow key; both directions agree. */
static void
test_flow_key(void **state)
{
	struct dp_pkt o, p, r;
	struct dp_geneve g;
	struct dp_flow_key k1, k2, k3;
	uint8_t out[256];
	int a1, a2, n;

	(void)state;
	assert_int_equal(parse(gnv_v4, LEN(gnv_v4), &o, &g), DP_GNV_OK);
	assert_int_equal(dp_geneve_decode_inner(gnv_v4, &g, &p), DP_DEC_OK);
	dp_flow_key_make(&p, &k1, &a1);
	assert_true(k1.gwlb_ep == GNV_EP && k1.gwlb_att == GNV_ATT);
	n = dp_geneve_build_rst(gnv_v4, &g, &p, 1, 2, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(parse(out, (size_t)n, &o, &g), DP_GNV_OK);
	assert_int_equal(dp_geneve_decode_inner(out, &g, &r), DP_DEC_OK);
	dp_flow_key_make(&r, &k2, &a2);
	assert_memory_equal(&k1, &k2, sizeof(k1));
	assert_int_not_equal(a1, a2);
	/* the same addresses from another attachment: another flow */
	p.gwlb_att ^= 1;
	dp_flow_key_make(&p, &k3, NULL);
	assert_memory_not_equal(&k1, &k3, sizeof(k1));
	assert_int_not_equal(dp_flow_hash(&k1), dp_flow_hash(&k3));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_v4),
		cmocka_unit_test(test_parse_v6_and_eth),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_truncation_and_optlen),
		cmocka_unit_test(test_return),
		cmocka_unit_test(test_rst),
		cmocka_unit_test(test_flow_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
