/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_geneve.h: GENEVE (RFC 8926) as AWS Gateway Load Balancer speaks it to
 * its targets (--mode geneve). GWLB sends every packet of the flows it
 * balances to the appliance in IPv4/UDP to port 6081; the GENEVE header
 * carries three options of class 0x0108: type 1, the GWLB endpoint id (8
 * bytes), type 2, the attachment id (8 bytes), type 3, the flow cookie (4
 * bytes). The payload is a bare IP packet (protocol type 0x0800 / 0x86dd);
 * Ethernet (0x6558) is accepted too. The appliance returns an allowed packet
 * with the GENEVE header unchanged byte for byte, the outer addresses
 * swapped and the UDP ports kept.
 *
 * Pure functions over byte buffers (no DPDK), unit-tested with crafted
 * frames (tests/unit/test_geneve.c). Nothing here trusts a length field.
 */
#ifndef CHOKEPOINT_DP_GENEVE_H
#define CHOKEPOINT_DP_GENEVE_H

#include <stddef.h>
#include <stdint.h>

#include "dp_pkt.h"

#define DP_GENEVE_PORT 6081
#define DP_GENEVE_AWS_CLASS 0x0108
#define DP_GENEVE_TLV_EP 1           /* GWLB endpoint id, 8 bytes */
#define DP_GENEVE_TLV_ATT 2          /* attachment id, 8 bytes */
#define DP_GENEVE_TLV_COOKIE 3       /* flow cookie, 4 bytes */
#define DP_GENEVE_HAVE_EP 0x1
#define DP_GENEVE_HAVE_ATT 0x2
#define DP_GENEVE_HAVE_COOKIE 0x4
#define DP_GENEVE_HAVE_ALL 0x7

#define DP_GENEVE_PROTO_IPV4 0x0800
#define DP_GENEVE_PROTO_IPV6 0x86dd
#define DP_GENEVE_PROTO_ETH 0x6558   /* transparent Ethernet bridging */

enum dp_geneve_result {
	DP_GNV_OK = 0,
	DP_GNV_MALFORMED,        /* version, lengths, an option past the header, a control
				  * (O) packet, an unknown critical option, a repeated AWS TLV */
	DP_GNV_PROTO,            /* a protocol type other than IPv4, IPv6, Ethernet */
	DP_GNV_TLV_MISSING,      /* well-formed, but not all three AWS TLVs */
};

struct dp_geneve {
	uint16_t l3_off;         /* outer IPv4 header */
	uint16_t l4_off;         /* outer UDP header */
	uint16_t hdr_off;        /* GENEVE header */
	uint16_t hdr_len;        /* 8 + options */
	uint16_t inner_off;      /* hdr_off + hdr_len */
	uint16_t inner_end;      /* end of the UDP payload */
	uint16_t proto;          /* GENEVE protocol type */
	uint8_t have;            /* DP_GENEVE_HAVE_* */
	uint32_t vni;
	uint64_t ep, att;        /* valid per have */
	uint32_t cookie;
};

/*
 * Parse the GENEVE header of buf, whose outer headers dp_decode() decoded
 * into outer (an IPv4 UDP packet; the caller checked the port). Fills g as
 * far as it got (ids of the TLVs present even when one is missing).
 */
enum dp_geneve_result dp_geneve_parse(const uint8_t *buf, const struct dp_pkt *outer,
				      struct dp_geneve *g);

/*
 * Decode the inner packet of a parsed GENEVE frame into p. Offsets in p are
 * from the start of buf (the outer frame), so the worker's code reads and
 * rewrites the inner headers in place; link is DP_LINK_ETHERNET for a 0x6558
 * payload, else DP_LINK_IPV4/IPV6; p->gwlb_ep / gwlb_att carry the ids.
 */
enum dp_decode_result dp_geneve_decode_inner(const uint8_t *buf, const struct dp_geneve *g,
					     struct dp_pkt *p);

/*
 * Turn a received GENEVE frame into its return (in place): outer MACs and
 * IPv4 addresses swapped, UDP ports and the GENEVE header untouched. When the
 * frame shrank (a TCP Fast Open SYN stripped of its payload) the outer IPv4
 * total length and UDP length follow pkt_len and the UDP checksum becomes 0
 * (allowed over IPv4), else it stays valid as it was (the pseudo-header sum
 * does not change when the addresses swap). The IPv4 header checksum is
 * recomputed. seg_len: the contiguous bytes at frame (the headers must be in
 * them); pkt_len: the whole frame. Returns 0, -1 if frame is not IPv4/UDP.
 */
int dp_geneve_return(uint8_t *frame, uint32_t seg_len, uint32_t pkt_len);

/*
 * Build, in the same GENEVE context as frame (its outer headers, GENEVE
 * header and options byte for byte), a TCP RST toward the client of the
 * inner packet p (as dp_build_rst with to_client = 1: seq, ack given). The
 * result has the orientation of the received frame: dp_geneve_return() turns
 * it around like any returned packet. Returns the length, -1 if p is not TCP
 * or out is too small.
 */
int dp_geneve_build_rst(const uint8_t *frame, const struct dp_geneve *g, const struct dp_pkt *p,
			uint32_t seq, uint32_t ack, uint8_t *out, size_t outlen);

#endif /* CHOKEPOINT_DP_GENEVE_H */
