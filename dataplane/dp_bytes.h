/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_bytes.h: big-endian field access and the Internet checksum (RFC 1071)
 * for the packet builders of the appliance's own traffic (dp_geneve.c,
 * dp_routed.c, dp_health.c). No DPDK types.
 */
#ifndef CHOKEPOINT_DP_BYTES_H
#define CHOKEPOINT_DP_BYTES_H

#include <stddef.h>
#include <stdint.h>

static inline uint16_t
dp_rd16(const uint8_t *b)
{
	return (uint16_t)((b[0] << 8) | b[1]);
}

static inline uint32_t
dp_rd32(const uint8_t *b)
{
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static inline uint64_t
dp_rd64(const uint8_t *b)
{
	return ((uint64_t)dp_rd32(b) << 32) | dp_rd32(b + 4);
}

static inline void
dp_wr16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static inline void
dp_wr32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* Ones-complement sum of n bytes as big-endian words (odd tail padded) added to sum. */
static inline uint64_t
dp_csum_add(uint64_t sum, const uint8_t *b, size_t n)
{
	while (n >= 2) {
		sum += dp_rd16(b);
		b += 2;
		n -= 2;
	}
	if (n)
		sum += (uint32_t)b[0] << 8;
	return sum;
}

/* Fold to 16 bits and complement: the value to store in a checksum field. */
static inline uint16_t
dp_csum_final(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Pseudo-header sum (RFC 768 / RFC 8200 8.1) for family 4 or 6. */
static inline uint64_t
dp_csum_pseudo(int family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
	       uint32_t l4len)
{
	size_t alen = family == 6 ? 16 : 4;

	return dp_csum_add(dp_csum_add(0, src, alen), dst, alen) + proto + l4len;
}

/* Recompute the IPv4 header checksum of ip (header length from IHL). */
static inline void
dp_ipv4_cksum(uint8_t *ip)
{
	size_t ihl = (size_t)(ip[0] & 0x0f) * 4;

	dp_wr16(ip + 10, 0);
	dp_wr16(ip + 10, dp_csum_final(dp_csum_add(0, ip, ihl)));
}

#endif /* CHOKEPOINT_DP_BYTES_H */
