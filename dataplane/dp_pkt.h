/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_pkt.h: packet decoding and building over plain byte buffers. No DPDK
 * types (the worker passes rte_pktmbuf_mtod() and data_len), so every case
 * is unit-tested with crafted and captured bytes.
 *
 * Decoding never reads past len and never trusts a length field: every
 * malformed case is a distinct result the worker counts.
 */
#ifndef CHOKEPOINT_DP_PKT_H
#define CHOKEPOINT_DP_PKT_H

#include <stddef.h>
#include <stdint.h>

/* Link types (pcap DLT_* / LINKTYPE_* values) the decoder understands. */
enum dp_link {
	DP_LINK_ETHERNET = 1,    /* LINKTYPE_ETHERNET */
	DP_LINK_NULL = 0,        /* BSD loopback, host-order 4-byte family */
	DP_LINK_LOOP = 108,      /* OpenBSD loopback, network-order family */
	DP_LINK_RAW = 101,       /* raw IPv4/IPv6 (also DLT 12 and 14 on some OSes) */
	DP_LINK_PPP = 9,
	DP_LINK_LINUX_SLL = 113,
	DP_LINK_LINUX_SLL2 = 276,
	DP_LINK_IPV4 = 228,
	DP_LINK_IPV6 = 229,
};

enum dp_decode_result {
	DP_DEC_OK = 0,           /* IPv4/IPv6 packet decoded */
	DP_DEC_NON_IP,           /* ARP, LLDP, ...: pass through in wire mode */
	DP_DEC_TRUNCATED,        /* headers cut short or lengths disagree */
	DP_DEC_BAD_IP,           /* bad version / IHL / total length / header checksum */
	DP_DEC_FRAGMENT,         /* IPv4 MF/offset or IPv6 Fragment header */
	DP_DEC_EXT_CHAIN,        /* IPv6 extension chain too long or unknown */
	DP_DEC_UNSUPPORTED_LINK, /* unknown link type, or more than DP_MAX_VLANS tags */
	DP_DEC_BAD_L4,           /* TCP data offset < 5, UDP length < 8 */
	DP_DEC_N_RESULTS         /* number of results (for counter arrays) */
};

#define DP_MAX_VLANS 3

struct dp_pkt {
	/* L2 */
	uint16_t l2_len;         /* bytes before the IP header (eth + tags, or link header) */
	uint8_t n_vlans;
	uint16_t vlan[DP_MAX_VLANS]; /* VIDs, outermost first */
	uint16_t ethertype;      /* inner ethertype (0x0800 / 0x86dd / other) */
	/* L3 */
	uint8_t family;          /* 4 or 6 */
	uint8_t l4proto;         /* after the IPv6 extension chain */
	uint8_t ttl;             /* TTL / hop limit */
	uint8_t frag_first;      /* fragment with offset 0 (DP_DEC_FRAGMENT) */
	uint16_t l3_off;
	uint16_t l3_len;         /* IP header incl. IPv6 extensions */
	uint32_t ip_len;         /* IP total length per header (<= buffer) */
	uint8_t src[16], dst[16];/* network order, IPv4 in [0..3] */
	/* L4 */
	uint16_t l4_off;
	uint16_t l4_hdr_len;     /* TCP incl. options, UDP 8, ICMP 8 (or 0 unknown) */
	uint16_t sport, dport;   /* host order */
	uint32_t seq, ack;       /* TCP, host order */
	uint8_t tcp_flags;       /* FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 */
	uint16_t tcp_window;
	uint16_t payload_off;
	uint16_t payload_len;    /* L4 payload within ip_len (Ethernet padding excluded) */
	uint8_t icmp_type, icmp_code;
	/* link framing, so builders can reproduce it */
	uint16_t link;           /* enum dp_link the frame was decoded as */
	uint8_t pppoe;           /* Ethernet: 0, or PPPoE session: the size of the PPP
				  * protocol field (2, or 1 when compressed) that ends
				  * l2, after the 6-byte PPPoE header */
	/*
	 * GENEVE (--mode geneve): the AWS GWLB endpoint and attachment ids of
	 * the encapsulation this inner packet came in (dp_geneve.h), 0 otherwise;
	 * the offsets above are then from the start of the outer frame.
	 * dp_decode() leaves them 0; dp_flow_key_make() copies them.
	 */
	uint64_t gwlb_ep, gwlb_att;
};

#define DP_TCP_FIN 0x01
#define DP_TCP_SYN 0x02
#define DP_TCP_RST 0x04
#define DP_TCP_PSH 0x08
#define DP_TCP_ACK 0x10

/* Decode a frame of the given link type. Fills *p as far as it got. */
enum dp_decode_result dp_decode(const uint8_t *buf, size_t len, enum dp_link link,
				struct dp_pkt *p);

/*
 * dp_decode() with options; replay passes DP_DECODE_REPLAY, live traffic
 * uses dp_decode(). DP_DECODE_NO_IP_CKSUM skips the IPv4 header checksum
 * check: captures often hold packets whose checksum was left to the NIC (0 on
 * the sending host) or whose addresses an anonymiser rewrote.
 */
#define DP_DECODE_NO_IP_CKSUM 0x1u
/*
 * DP_DECODE_TSO_LEN0: an IPv4 total length of 0 means "to the end of the
 * buffer" (a TSO super-segment captured on the sending host). Replay only.
 */
#define DP_DECODE_TSO_LEN0 0x2u
#define DP_DECODE_REPLAY (DP_DECODE_NO_IP_CKSUM | DP_DECODE_TSO_LEN0)
/*
 * DP_DECODE_IP_CKSUM_GOOD: the NIC verified the IPv4 header checksum
 * (RTE_MBUF_F_RX_IP_CKSUM_GOOD), so it is not summed again in software.
 */
#define DP_DECODE_IP_CKSUM_GOOD 0x4u
enum dp_decode_result dp_decode_flags(const uint8_t *buf, size_t len, enum dp_link link,
				      unsigned flags, struct dp_pkt *p);

/*
 * dp_decode_flags() with the common case inline: an Ethernet frame, no VLAN
 * tag, IPv4 without options, not a fragment, TCP or UDP whose lengths agree.
 * Anything else (and any frame the inline pass finds wrong in any way) goes
 * to dp_decode_flags(), so the result and *p are the same as its, byte for
 * byte (tests/unit/test_pkt.c and fuzz_decode compare the two).
 */
static inline uint16_t
dp_ld16be(const uint8_t *b)
{
	uint16_t v;

	__builtin_memcpy(&v, b, 2);
	return __builtin_bswap16(v);
}

static inline uint32_t
dp_ld32be(const uint8_t *b)
{
	uint32_t v;

	__builtin_memcpy(&v, b, 4);
	return __builtin_bswap32(v);
}

static inline enum dp_decode_result
dp_decode_fast(const uint8_t *buf, size_t len, enum dp_link link, unsigned flags,
	       struct dp_pkt *p)
{
	typedef uint8_t dp_v16 __attribute__((vector_size(16), aligned(1), may_alias));
	const uint8_t *ip = buf + 14, *l4 = buf + 34;
	uint32_t tot, hlen, plen, w0, w1, w2, w3, w4;
	uint64_t sum;
	uint8_t proto;

	if (link != DP_LINK_ETHERNET || len < 14 + 20 + 8 ||
	    dp_ld16be(buf + 12) != 0x0800 || ip[0] != 0x45 ||
	    (dp_ld16be(ip + 6) & 0x3fff) != 0)
		goto full;
	tot = dp_ld16be(ip + 2);
	if (tot > len - 14)
		goto full;
	proto = ip[9];
	if (proto == 6) {
		if (tot < 20 + 20)
			goto full;
		hlen = (uint32_t)(l4[12] >> 4) * 4;
		if (hlen < 20 || hlen > tot - 20)
			goto full;
		plen = tot - 20 - hlen;
	} else if (proto == 17) {
		if (tot < 20 + 8)
			goto full;
		hlen = dp_ld16be(l4 + 4);      /* the UDP length */
		if (hlen < 8 || hlen > tot - 20)
			goto full;
		plen = hlen - 8;
		hlen = 8;
	} else {
		goto full;
	}
	if (!(flags & (DP_DECODE_NO_IP_CKSUM | DP_DECODE_IP_CKSUM_GOOD))) {
		/* host-order 32-bit words: 0xffff is its own byte swap */
		__builtin_memcpy(&w0, ip, 4);
		__builtin_memcpy(&w1, ip + 4, 4);
		__builtin_memcpy(&w2, ip + 8, 4);
		__builtin_memcpy(&w3, ip + 12, 4);
		__builtin_memcpy(&w4, ip + 16, 4);
		sum = (uint64_t)w0 + w1 + w2 + w3 + w4;
		sum = (sum & 0xffffffffu) + (sum >> 32);
		sum = (sum & 0xffffffffu) + (sum >> 32);
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		if (sum != 0xffff)
			goto full;
	}
	{
		char *z = (char *)p;
		size_t i;

#pragma GCC unroll 16
		for (i = 0; i + 16 <= sizeof(*p); i += 16)
			*(dp_v16 *)(z + i) = (dp_v16){ 0 };
#pragma GCC unroll 16
		for (; i < sizeof(*p); i++)
			z[i] = 0;
	}
	p->link = DP_LINK_ETHERNET;
	p->l2_len = 14;
	p->ethertype = 0x0800;
	p->family = 4;
	p->l4proto = proto;
	p->ttl = ip[8];
	p->l3_off = 14;
	p->l3_len = 20;
	p->ip_len = tot;
	__builtin_memcpy(p->src, ip + 12, 4);
	__builtin_memcpy(p->dst, ip + 16, 4);
	p->l4_off = 34;
	p->l4_hdr_len = (uint16_t)hlen;
	p->sport = dp_ld16be(l4);
	p->dport = dp_ld16be(l4 + 2);
	if (proto == 6) {
		p->seq = dp_ld32be(l4 + 4);
		p->ack = dp_ld32be(l4 + 8);
		p->tcp_flags = l4[13];
		p->tcp_window = dp_ld16be(l4 + 14);
	}
	p->payload_off = (uint16_t)(34 + hlen);
	p->payload_len = (uint16_t)plen;
	return DP_DEC_OK;
full:
	return dp_decode_flags(buf, len, link, flags, p);
}

/* 1 if the TCP/UDP checksum (over the pseudo-header) verifies. */
int dp_l4_cksum_ok(const uint8_t *buf, const struct dp_pkt *p);

/* Recompute IPv4 header and TCP/UDP checksums in place (software). */
void dp_fix_cksums(uint8_t *buf, const struct dp_pkt *p);

/*
 * Build a TCP RST answering the flow of packet p (an Ethernet frame with its
 * VLAN tags) into out (size outlen >= 14 + 4*n_vlans + 60 + 20).
 *   to_client = 0: same direction as p (client -> server), seq given
 *   to_client = 1: reversed: MACs, addresses and ports swapped, seq given
 * The RST carries ACK with ack given. Checksums computed. Returns the frame
 * length, or -1 if p is not TCP or out is too small.
 * Details: the L2 header (MACs, VLAN tags, a PPPoE session header with its
 * length fixed) is copied from buf; IPv4 id 0, DF, TTL 64 / hop limit 64, no
 * IP options or IPv6 extensions; TCP RST|ACK, window 0, no options. Frames
 * shorter than 60 bytes are zero-padded to 60 (outlen must allow it).
 * -1 also for non-Ethernet links (p->link).
 */
int dp_build_rst(const uint8_t *buf, const struct dp_pkt *p, int to_client,
		 uint32_t seq, uint32_t ack, uint8_t *out, size_t outlen);

/*
 * TCP Fast Open: strip the payload of a SYN in place and NOP the TFO option
 * (kind 34), fixing IP length and checksums. Returns the new frame length,
 * or -1 if p is not a SYN with payload.
 */
int dp_strip_syn_payload(uint8_t *buf, size_t len, struct dp_pkt *p);

/*
 * A UDP payload rewritten in place to new_len (<= payload_len) bytes: fix
 * the IP and UDP lengths (and a PPPoE session length) and the checksums.
 * Returns the new frame length (link padding after the payload dropped), or
 * -1 if p is not UDP or new_len is longer. Not for GENEVE-encapsulated
 * packets (the outer headers are not touched).
 */
int dp_shrink_udp_payload(uint8_t *buf, size_t len, struct dp_pkt *p, uint16_t new_len);

/*
 * Canonical flow key: both directions of a flow give the same key. In GENEVE
 * mode the GWLB endpoint and attachment ids are part of it, so two VPCs that
 * reuse the same addresses never share a flow (PITFALLS 11); 0 otherwise.
 * 56 bytes.
 */
struct dp_flow_key {
	uint8_t a[16], b[16];    /* the lower (addr,port) endpoint first */
	uint16_t pa, pb;
	uint16_t vlan;           /* outermost VID */
	uint8_t family;
	uint8_t l4proto;
	uint64_t gwlb_ep;        /* GENEVE: AWS TLV type 1 (GWLB endpoint id) */
	uint64_t gwlb_att;       /* GENEVE: AWS TLV type 2 (attachment id) */
} __attribute__((packed));

/* Fill key from p; *a_is_src = 1 when p's source is endpoint a. */
void dp_flow_key_make(const struct dp_pkt *p, struct dp_flow_key *key, int *a_is_src);

/* Symmetric 32-bit hash of the key (same for both directions by construction). */
uint32_t dp_flow_hash(const struct dp_flow_key *key);

/* Owner worker of a flow: dp_flow_hash(key) % n_workers. */
static inline unsigned
dp_flow_owner(const struct dp_flow_key *key, unsigned n_workers)
{
	return n_workers > 1 ? dp_flow_hash(key) % n_workers : 0;
}

/* Read the link type of a classic pcap file header (24 bytes). -1 if not pcap. */
int dp_pcap_linktype(const uint8_t hdr[24]);

#endif /* CHOKEPOINT_DP_PKT_H */
