/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_routed.h: what an appliance that owns addresses needs at L2/L3 (--mode
 * routed, and --mode geneve for its own address): its addresses per port
 * (--addr PORT:IP/PREFIX), a static route table (--route PREFIX:PORT[:NEXTHOP],
 * plus the connected prefixes of the addresses), a neighbour table filled by
 * ARP and IPv6 neighbour discovery, and the frames it sends itself: ARP
 * replies and requests, neighbour advertisements and solicitations, ICMP /
 * ICMPv6 time exceeded, echo replies, and the TTL / hop-limit decrement.
 *
 * Pure functions over byte buffers (no DPDK), unit-tested with crafted and
 * kernel-made frames (tests/unit/test_routed.c). The neighbour table is the
 * one structure shared by the workers: entries are only ever added (under a
 * spin lock, rare: a new neighbour), read without locks; a MAC is one atomic
 * 64-bit word.
 */
#ifndef CHOKEPOINT_DP_ROUTED_H
#define CHOKEPOINT_DP_ROUTED_H

#include <stddef.h>
#include <stdint.h>

#include "dp_pkt.h"
#include "dp_proto.h"

#define DP_MAX_ADDRS 16
#define DP_MAX_ROUTES 256
#define DP_NEIGH_SLOTS 1024      /* power of two */

struct dp_addr {
	uint8_t family;          /* 4 or 6 */
	uint8_t plen;
	uint16_t port;           /* port index */
	uint8_t ip[16];
};

struct dp_route {
	uint8_t family;
	uint8_t plen;
	uint16_t port;
	uint8_t has_gw;          /* 0: on-link (the destination is the next hop) */
	uint8_t connected;       /* made from an --addr */
	uint8_t prefix[16];      /* masked */
	uint8_t gw[16];
};

struct dp_rtable {
	unsigned int n;
	struct dp_route r[DP_MAX_ROUTES];  /* longest prefix first */
};

/* "PORT:IP/PREFIX" (IPv4 or IPv6). 0, or -EINVAL with err filled. */
int dp_addr_parse(const char *s, struct dp_addr *a, char *err, size_t errlen);

/* "PREFIX/LEN:PORT[:NEXTHOP]" (IPv6 prefixes contain colons: the '/' ends them). */
int dp_route_parse(const char *s, struct dp_route *r, char *err, size_t errlen);

/* Add r (prefix masked here), longest prefixes first. -ENOSPC, -EEXIST (same prefix). */
int dp_rtable_add(struct dp_rtable *t, const struct dp_route *r);

/* Longest-prefix match, NULL if none. */
const struct dp_route *dp_rtable_lookup(const struct dp_rtable *t, int family,
					const uint8_t *dst);

/* 1 if ip lies in prefix/plen. */
int dp_prefix_match(int family, const uint8_t *prefix, unsigned int plen, const uint8_t *ip);

/* The address a (of family) names ip and is on port (port < 0: any port), or NULL. */
const struct dp_addr *dp_addr_find(const struct dp_addr *a, unsigned int n, int family,
				   const uint8_t *ip, int port);

/* The first address of family on port, or NULL. */
const struct dp_addr *dp_addr_on_port(const struct dp_addr *a, unsigned int n, int family,
				      unsigned int port);

/* ---- neighbours ---------------------------------------------------------- */

#define DP_NEIGH_VALID (1ull << 63)

struct dp_neigh {
	uint8_t ip[16];
	uint8_t family;
	uint8_t used;            /* published with release; ip/family/port never change */
	uint16_t port;
	uint64_t mac;            /* DP_NEIGH_VALID | 48-bit MAC, atomic */
	uint64_t req_ns;         /* last request sent (atomic, rate limit) */
};

struct dp_ntable {
	uint32_t lock;
	uint32_t n;
	uint32_t full;           /* inserts refused: table full */
	struct dp_neigh e[DP_NEIGH_SLOTS];
};

void dp_neigh_init(struct dp_ntable *t);

/* The entry for ip, or NULL. Lock-free. */
struct dp_neigh *dp_neigh_find(struct dp_ntable *t, int family, const uint8_t *ip);

/* The entry for ip, created (no MAC yet) if absent; NULL when the table is full. */
struct dp_neigh *dp_neigh_get(struct dp_ntable *t, int family, const uint8_t *ip, uint16_t port);

/* Record the MAC of a neighbour. */
void dp_neigh_set(struct dp_neigh *n, const uint8_t mac[6]);

/* 1 and mac filled if the neighbour's MAC is known. */
int dp_neigh_mac(const struct dp_neigh *n, uint8_t mac[6]);

/* 1 if a request for n may be sent at now (at most one per interval_ns, any worker). */
int dp_neigh_may_request(struct dp_neigh *n, uint64_t now_ns, uint64_t interval_ns);

/* ---- ARP and neighbour discovery ------------------------------------------ */

struct dp_arp {
	uint16_t op;             /* 1 request, 2 reply */
	uint8_t sha[6], spa[4], tha[6], tpa[4];
};

/* Parse the ARP (Ethernet/IPv4) after an l2_len-byte header. 0, or -1. */
int dp_arp_parse(const uint8_t *buf, size_t len, size_t l2_len, struct dp_arp *a);

/* An ARP frame (60 bytes, untagged). Returns the length. */
size_t dp_build_arp(uint8_t *out, uint16_t op, const uint8_t eth_dst[6], const uint8_t sha[6],
		    const uint8_t spa[4], const uint8_t tha[6], const uint8_t tpa[4]);

struct dp_nd {
	uint8_t type;            /* 135 NS, 136 NA */
	uint8_t flags;           /* NA: R 0x80, S 0x40, O 0x20 */
	uint8_t target[16];
	uint8_t has_ll;          /* source (NS) / target (NA) link-layer address option */
	uint8_t ll[6];
};

/* Parse an NS / NA (p: the decoded ICMPv6 packet). 0, or -1 (not valid ND, RFC 4861 7.1). */
int dp_nd_parse(const uint8_t *buf, const struct dp_pkt *p, struct dp_nd *nd);

/* A neighbour advertisement from src for target (TLLA = mac), to dst/eth_dst. */
size_t dp_build_na(uint8_t *out, const uint8_t eth_dst[6], const uint8_t mac[6],
		   const uint8_t src[16], const uint8_t dst[16], const uint8_t target[16],
		   uint8_t flags);

/* A neighbour solicitation for target from src (SLLA = mac), to its solicited-node group. */
size_t dp_build_ns(uint8_t *out, const uint8_t mac[6], const uint8_t src[16],
		   const uint8_t target[16]);

/* ---- ICMP ------------------------------------------------------------------ */

/* 1 if p is an ICMP / ICMPv6 error (never answered with another error). */
int dp_icmp_is_error(const struct dp_pkt *p);

/*
 * ICMP time exceeded (v4 type 11, v6 type 3, code 0) from `from` (our address
 * on the receiving port) about the packet p of frame, back to its sender:
 * MACs swapped, as much of the offending packet as fits 576 (v4) / 1280 (v6)
 * bytes. Returns the length, 0 if out is too small.
 */
size_t dp_build_time_exceeded(uint8_t *out, size_t outlen, const uint8_t *frame,
			      const struct dp_pkt *p, const uint8_t *from);

/*
 * Echo reply to the echo request p of frame (v4 type 8, v6 type 128): MACs,
 * addresses swapped, identifier, sequence and data kept. Returns the length,
 * 0 if p is not an echo request or out is too small.
 */
size_t dp_build_echo_reply(uint8_t *out, size_t outlen, const uint8_t *frame,
			   const struct dp_pkt *p);

/*
 * Decrement the TTL / hop limit of the IP header at ip (family 4 or 6); the
 * IPv4 header checksum is updated. Returns the new value.
 */
uint8_t dp_ttl_dec(uint8_t *ip, int family);

/* The Ethernet multicast MAC of an IPv6 multicast address. */
void dp_ipv6_mcast_mac(const uint8_t ip[16], uint8_t mac[6]);

#endif /* CHOKEPOINT_DP_ROUTED_H */
