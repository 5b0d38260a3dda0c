/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_geneve.c: GENEVE for AWS Gateway Load Balancer (see dp_geneve.h).
 */
#include <string.h>

#include "dp_bytes.h"
#include "dp_geneve.h"

#define ETH_HLEN 14
#define GENEVE_HLEN 8
#define IPPROTO_UDP_ 17
#define IPPROTO_TCP_ 6
#define OPT_CRITICAL 0x80        /* high bit of the option type (RFC 8926 3.5) */

enum dp_geneve_result
dp_geneve_parse(const uint8_t *buf, const struct dp_pkt *outer, struct dp_geneve *g)
{
	const uint8_t *h = buf + outer->payload_off;
	uint32_t avail = outer->payload_len, optlen, off;

	memset(g, 0, sizeof(*g));
	g->l3_off = outer->l3_off;
	g->l4_off = outer->l4_off;
	g->hdr_off = outer->payload_off;
	if (outer->family != 4 || outer->l4proto != IPPROTO_UDP_ || avail < GENEVE_HLEN)
		return DP_GNV_MALFORMED;
	if ((h[0] >> 6) != 0)                   /* version 0 only */
		return DP_GNV_MALFORMED;
	optlen = (uint32_t)(h[0] & 0x3f) * 4;
	if (GENEVE_HLEN + optlen > avail)
		return DP_GNV_MALFORMED;
	g->hdr_len = (uint16_t)(GENEVE_HLEN + optlen);
	g->inner_off = (uint16_t)(g->hdr_off + g->hdr_len);
	g->inner_end = (uint16_t)(g->hdr_off + avail);
	g->proto = dp_rd16(h + 2);
	g->vni = dp_rd32(h + 4) >> 8;
	if (h[1] & 0x80)                        /* O: a control message, not a packet */
		return DP_GNV_MALFORMED;
	for (off = GENEVE_HLEN; off < GENEVE_HLEN + optlen;) {
		const uint8_t *o = h + off;
		uint32_t dlen;
		uint16_t cls;
		uint8_t type;

		if (GENEVE_HLEN + optlen - off < 4)
			return DP_GNV_MALFORMED;
		cls = dp_rd16(o);
		type = o[2];
		dlen = (uint32_t)(o[3] & 0x1f) * 4;
		if (4 + dlen > GENEVE_HLEN + optlen - off)
			return DP_GNV_MALFORMED;
		if (cls == DP_GENEVE_AWS_CLASS && type == DP_GENEVE_TLV_EP && dlen == 8) {
			if (g->have & DP_GENEVE_HAVE_EP)
				return DP_GNV_MALFORMED;
			g->ep = dp_rd64(o + 4);
			g->have |= DP_GENEVE_HAVE_EP;
		} else if (cls == DP_GENEVE_AWS_CLASS && type == DP_GENEVE_TLV_ATT && dlen == 8) {
			if (g->have & DP_GENEVE_HAVE_ATT)
				return DP_GNV_MALFORMED;
			g->att = dp_rd64(o + 4);
			g->have |= DP_GENEVE_HAVE_ATT;
		} else if (cls == DP_GENEVE_AWS_CLASS && type == DP_GENEVE_TLV_COOKIE && dlen == 4) {
			if (g->have & DP_GENEVE_HAVE_COOKIE)
				return DP_GNV_MALFORMED;
			g->cookie = dp_rd32(o + 4);
			g->have |= DP_GENEVE_HAVE_COOKIE;
		} else if (type & OPT_CRITICAL) {
			/* a critical option we do not understand: the packet must be dropped */
			return DP_GNV_MALFORMED;
		}
		off += 4 + dlen;
	}
	if (g->proto != DP_GENEVE_PROTO_IPV4 && g->proto != DP_GENEVE_PROTO_IPV6 &&
	    g->proto != DP_GENEVE_PROTO_ETH)
		return DP_GNV_PROTO;
	if (g->have != DP_GENEVE_HAVE_ALL)
		return DP_GNV_TLV_MISSING;
	return DP_GNV_OK;
}

enum dp_decode_result
dp_geneve_decode_inner(const uint8_t *buf, const struct dp_geneve *g, struct dp_pkt *p)
{
	enum dp_decode_result res;
	enum dp_link link;
	uint16_t off = g->inner_off;

	if (g->proto == DP_GENEVE_PROTO_ETH)
		link = DP_LINK_ETHERNET;
	else if (g->proto == DP_GENEVE_PROTO_IPV6)
		link = DP_LINK_IPV6;
	else
		link = DP_LINK_IPV4;
	res = dp_decode_flags(buf + off, g->inner_end - off, link, 0, p);
	/* offsets from the outer frame (0 stays 0 where decoding stopped before) */
	p->l2_len = (uint16_t)(p->l2_len + off);
	p->l3_off = (uint16_t)(p->l3_off + off);
	if (p->l4_off)
		p->l4_off = (uint16_t)(p->l4_off + off);
	if (p->payload_off)
		p->payload_off = (uint16_t)(p->payload_off + off);
	p->gwlb_ep = g->ep;
	p->gwlb_att = g->att;
	return res;
}

/* Outer Ethernet (up to two 802.1Q tags) + IPv4 + UDP of frame: offsets, or -1. */
static int
outer_offsets(const uint8_t *frame, uint32_t seg_len, uint32_t *l3, uint32_t *l4)
{
	uint32_t off = 12, ihl;
	uint16_t et;
	int tags = 0;

	if (seg_len < ETH_HLEN)
		return -1;
	et = dp_rd16(frame + off);
	while ((et == 0x8100 || et == 0x88a8) && tags < 2) {
		off += 4;
		if (seg_len < off + 2)
			return -1;
		et = dp_rd16(frame + off);
		tags++;
	}
	off += 2;
	if (et != 0x0800 || seg_len < off + 20 || (frame[off] >> 4) != 4)
		return -1;
	ihl = (uint32_t)(frame[off] & 0x0f) * 4;
	if (ihl < 20 || frame[off + 9] != IPPROTO_UDP_ || seg_len < off + ihl + 8)
		return -1;
	*l3 = off;
	*l4 = off + ihl;
	return 0;
}

/* Outer IPv4 total length and UDP length for a frame of pkt_len bytes. */
static void
set_outer_lengths(uint8_t *frame, uint32_t l3, uint32_t l4, uint32_t pkt_len)
{
	uint8_t *ip = frame + l3, *udp = frame + l4;

	if (pkt_len - l3 < dp_rd16(ip + 2)) {
		dp_wr16(ip + 2, (uint16_t)(pkt_len - l3));
		dp_wr16(udp + 4, (uint16_t)(pkt_len - l4));
		dp_wr16(udp + 6, 0);
	}
}

int
dp_geneve_return(uint8_t *frame, uint32_t seg_len, uint32_t pkt_len)
{
	uint8_t tmp[6], *ip;
	uint32_t l3, l4;

	if (outer_offsets(frame, seg_len, &l3, &l4) != 0 || pkt_len < l4 + 8)
		return -1;
	ip = frame + l3;
	memcpy(tmp, frame, 6);
	memcpy(frame, frame + 6, 6);
	memcpy(frame + 6, tmp, 6);
	memcpy(tmp, ip + 12, 4);
	memcpy(ip + 12, ip + 16, 4);
	memcpy(ip + 16, tmp, 4);
	set_outer_lengths(frame, l3, l4, pkt_len);
	dp_ipv4_cksum(ip);
	return 0;
}

int
dp_geneve_build_rst(const uint8_t *frame, const struct dp_geneve *g, const struct dp_pkt *p,
		    uint32_t seq, uint32_t ack, uint8_t *out, size_t outlen)
{
	static const uint8_t no_l2[ETH_HLEN];
	uint8_t tmp[ETH_HLEN + 4 * DP_MAX_VLANS + 60 + 20 + 8];
	struct dp_pkt r = *p;
	uint32_t iphl = p->family == 4 ? 20 : 40, l2, total;
	const uint8_t *src;
	int n;

	if (p->l4proto != IPPROTO_TCP_ || (p->family != 4 && p->family != 6) ||
	    p->l3_off < g->inner_off)
		return -1;
	/* the inner RST over the inner frame's own L2 (or a blank one for bare IP) */
	r.l2_len = (uint16_t)(p->l2_len - g->inner_off);
	r.l3_off = (uint16_t)(p->l3_off - g->inner_off);
	r.l4_off = (uint16_t)(p->l4_off - g->inner_off);
	r.payload_off = (uint16_t)(p->payload_off - g->inner_off);
	r.pppoe = 0;
	if (g->proto == DP_GENEVE_PROTO_ETH) {
		src = frame + g->inner_off;
		r.link = DP_LINK_ETHERNET;
	} else {
		src = no_l2;
		r.link = DP_LINK_ETHERNET;
		r.l2_len = ETH_HLEN;
		r.l3_off = ETH_HLEN;
		r.n_vlans = 0;
	}
	if (r.l2_len > ETH_HLEN + 4 * DP_MAX_VLANS)
		return -1;
	n = dp_build_rst(src, &r, 1, seq, ack, tmp, sizeof(tmp));
	if (n < 0)
		return -1;
	/* the inner packet without dp_build_rst's padding to 60 bytes */
	l2 = g->proto == DP_GENEVE_PROTO_ETH ? r.l2_len : ETH_HLEN;
	total = g->inner_off + (g->proto == DP_GENEVE_PROTO_ETH ? l2 : 0) + iphl + 20;
	if (total > outlen)
		return -1;
	memcpy(out, frame, g->inner_off);
	if (g->proto == DP_GENEVE_PROTO_ETH)
		memcpy(out + g->inner_off, tmp, l2 + iphl + 20);
	else
		memcpy(out + g->inner_off, tmp + ETH_HLEN, iphl + 20);
	/* outer lengths for the new payload, UDP checksum 0 (IPv4) */
	dp_wr16(out + g->l3_off + 2, (uint16_t)(total - g->l3_off));
	dp_wr16(out + g->l4_off + 4, (uint16_t)(total - g->l4_off));
	dp_wr16(out + g->l4_off + 6, 0);
	dp_ipv4_cksum(out + g->l3_off);
	return (int)total;
}
