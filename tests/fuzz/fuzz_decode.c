/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_decode.c: libFuzzer harness for the packet layer. Input: one selector
 * byte (low 4 bits pick the link type, bit 7 the replay flags) followed by
 * the frame. Every decode is checked for the invariants the worker relies
 * on, and dp_decode_fast must give the same result and struct; an OK
 * TCP/UDP decode also runs the checksum, RST, TFO and flow-key
 * code over a copy, and the RST is decoded again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int links[16] = {
	DP_LINK_ETHERNET, DP_LINK_NULL, DP_LINK_LOOP, DP_LINK_RAW, DP_LINK_PPP,
	DP_LINK_LINUX_SLL, DP_LINK_LINUX_SLL2, DP_LINK_IPV4, DP_LINK_IPV6, 12, 14,
	DP_LINK_ETHERNET, DP_LINK_ETHERNET, DP_LINK_RAW, DP_LINK_LINUX_SLL, 147,
};

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static void
check_sane(const struct dp_pkt *p, size_t len)
{
	CHECK(p->family == 4 || p->family == 6);
	CHECK(p->n_vlans <= DP_MAX_VLANS);
	CHECK((size_t)p->l3_off + p->ip_len <= len);
	CHECK(p->l3_len <= p->ip_len);
	CHECK(p->l4_off == p->l3_off + p->l3_len);
	CHECK(p->payload_off == p->l4_off + p->l4_hdr_len);
	CHECK((size_t)p->payload_off + p->payload_len <= (size_t)p->l3_off + p->ip_len);
}

static void
exercise_builders(const uint8_t *frame, size_t len, const struct dp_pkt *p, int link)
{
	uint8_t *copy = malloc(len ? len : 1);
	uint8_t out[14 + 4 * DP_MAX_VLANS + 8 + 60 + 20];
	struct dp_pkt q = *p, r;
	struct dp_flow_key k1, k2;
	int a1, a2, n;

	if (copy == NULL)
		return;
	memcpy(copy, frame, len);
	(void)dp_l4_cksum_ok(copy, &q);
	dp_fix_cksums(copy, &q);
	if (q.l4proto == 6 || q.l4proto == 17)
		CHECK(dp_l4_cksum_ok(copy, &q));
	for (int dir = 0; dir < 2; dir++) {
		n = dp_build_rst(copy, &q, dir, 0x11111111u, 0x22222222u, out, sizeof(out));
		if (n < 0)
			continue;
		CHECK(link == DP_LINK_ETHERNET && q.l4proto == 6);
		CHECK((size_t)n <= sizeof(out));
		CHECK(dp_decode(out, (size_t)n, DP_LINK_ETHERNET, &r) == DP_DEC_OK);
		CHECK(r.tcp_flags == (DP_TCP_RST | DP_TCP_ACK) && r.seq == 0x11111111u);
		CHECK(dp_l4_cksum_ok(out, &r));
		dp_flow_key_make(&q, &k1, &a1);
		dp_flow_key_make(&r, &k2, &a2);
		CHECK(memcmp(&k1, &k2, sizeof(k1)) == 0);
		CHECK(dp_flow_hash(&k1) == dp_flow_hash(&k2));
	}
	n = dp_strip_syn_payload(copy, len, &q);
	if (n >= 0) {
		CHECK((size_t)n <= len && q.payload_len == 0);
		if (q.l4proto == 6)
			CHECK(dp_l4_cksum_ok(copy, &q));
	}
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_pkt p, q;
	enum dp_decode_result res;
	const uint8_t *frame;
	uint8_t *exact;
	size_t len;
	int link;

	if (size < 1)
		return 0;
	if (size >= 24)
		(void)dp_pcap_linktype(data);
	link = links[data[0] & 0x0f];
	frame = data + 1;
	len = size - 1;
	/* an exact-size copy so any read past len is caught */
	exact = malloc(len ? len : 1);
	if (exact == NULL)
		return 0;
	memcpy(exact, frame, len);
	res = dp_decode_flags(exact, len, (enum dp_link)link,
			      (data[0] & 0x80) ? DP_DECODE_REPLAY : 0, &p);
	CHECK(res < DP_DEC_N_RESULTS);
	/* the worker's inline common case gives the same, byte for byte */
	memset(&q, 0xa5, sizeof(q));
	CHECK(dp_decode_fast(exact, len, (enum dp_link)link,
			     (data[0] & 0x80) ? DP_DECODE_REPLAY : 0, &q) == res);
	CHECK(memcmp(&p, &q, sizeof(p)) == 0);
	if (res == DP_DEC_OK) {
		check_sane(&p, len);
		exercise_builders(exact, len, &p, link);
	}
	free(exact);
	return 0;
}
