/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_pkt.c: packet decoding and building over plain byte buffers (see
 * dp_pkt.h). Every read is bounds-checked against the buffer length and,
 * above L3, against the IP length; no length field is trusted.
 */
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "dp_pkt.h"

#define ETH_HLEN 14
#define ETH_MIN_FRAME 60        /* without FCS */
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100
#define ETHERTYPE_PPPOE_SES 0x8864
#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057
#define PPPOE_HLEN 6

#define SLL_HLEN 16
#define SLL2_HLEN 20

#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_ICMP_ 1
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_ROUTING_ 43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_ESP_ 50
#define IPPROTO_AH_ 51
#define IPPROTO_ICMPV6_ 58
#define IPPROTO_NONE_ 59
#define IPPROTO_DSTOPTS_ 60

#define IPV6_HLEN 40
#define IPV6_MAX_EXT_HDRS 8
#define IPV6_MAX_EXT_BYTES 256

#define TCP_HLEN 20
#define UDP_HLEN 8
#define ICMP_HLEN 8
#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_TFO 34

static inline uint16_t
rd16(const uint8_t *b)
{
	return (uint16_t)((b[0] << 8) | b[1]);
}

static inline uint32_t
rd32(const uint8_t *b)
{
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
	       ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}

static inline void
wr16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static inline void
wr32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/*
 * Ones-complement sum (RFC 1071) of n bytes added to sum. The bytes are
 * summed as big-endian 16-bit words, so the result does not depend on the
 * host byte order; an odd last byte is padded with a zero. A caller summing
 * several pieces must give every piece but the last an even length.
 */
static uint64_t
csum_add(uint64_t sum, const uint8_t *b, size_t n)
{
	while (n >= 8) {
		sum += rd32(b);
		sum += rd32(b + 4);
		b += 8;
		n -= 8;
	}
	while (n >= 2) {
		sum += rd16(b);
		b += 2;
		n -= 2;
	}
	if (n)
		sum += (uint32_t)b[0] << 8;
	return sum;
}

/* Fold a sum to 16 bits; 0xffff means the summed data verifies. */
static uint16_t
csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * csum_add for a long run (a held segment's payload): 16 bytes a step as
 * eight host-order 16-bit words into 32-bit lanes (a 64 KiB run cannot
 * overflow them), folded and byte-swapped into the big-endian sum (RFC
 * 1071: the ones-complement sum of swapped words is the swapped sum). The
 * result is congruent to csum_add's modulo 0xffff, which is all that a
 * verification (folded sum == 0xffff, the pseudo header never zero) reads;
 * the tail goes through csum_add (the pairing of bytes is unchanged).
 */
static uint64_t
csum_add_long(uint64_t sum, const uint8_t *b, size_t n)
{
#if defined(__SSE2__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (n >= 32) {
		const __m128i z = _mm_setzero_si128();
		__m128i a0 = z, a1 = z;
		uint32_t lane[4];
		uint64_t le;
		size_t i;

		for (i = 0; i + 16 <= n; i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));

			a0 = _mm_add_epi32(a0, _mm_unpacklo_epi16(v, z));
			a1 = _mm_add_epi32(a1, _mm_unpackhi_epi16(v, z));
		}
		_mm_storeu_si128((__m128i *)(void *)lane, _mm_add_epi32(a0, a1));
		le = (uint64_t)lane[0] + lane[1] + lane[2] + lane[3];
		le = (le & 0xffff) + (le >> 16);
		le = (le & 0xffff) + (le >> 16);
		le = (le & 0xffff) + (le >> 16);
		sum += (uint16_t)((le << 8) | (le >> 8));
		b += i;
		n -= i;
	}
#endif
	return csum_add(sum, b, n);
}

/*
 * The IPv4 header checksum verifies (ihl: a multiple of 4, 20-60). Sums
 * host-order 32-bit words: a ones-complement sum folded to 16 bits is the
 * byte swap of the big-endian one, and 0xffff is its own swap.
 */
static inline int
ipv4_hdr_cksum_ok(const uint8_t *ip, uint32_t ihl)
{
	uint64_t sum = 0;
	uint32_t w, i;

	for (i = 0; i < ihl; i += 4) {
		memcpy(&w, ip + i, 4);
		sum += w;
	}
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/* Pseudo-header sum for an L4 segment of l4len bytes. */
static uint64_t
pseudo_sum(const struct dp_pkt *p, uint32_t l4len)
{
	uint64_t sum;

	if (p->family == 4) {
		sum = csum_add(0, p->src, 4);
		sum = csum_add(sum, p->dst, 4);
	} else {
		sum = csum_add(0, p->src, 16);
		sum = csum_add(sum, p->dst, 16);
	}
	return sum + p->l4proto + l4len;
}

/* ---------------------------------------------------------------- L4 */

static enum dp_decode_result
decode_l4(const uint8_t *buf, struct dp_pkt *p)
{
	/* bytes of L4 within the IP length (which is within the buffer) */
	uint32_t avail = p->ip_len - p->l3_len;
	const uint8_t *l4 = buf + p->l4_off;
	uint32_t hlen;

	switch (p->l4proto) {
	case IPPROTO_TCP_:
		if (avail < TCP_HLEN)
			return DP_DEC_TRUNCATED;
		hlen = (uint32_t)(l4[12] >> 4) * 4;
		if (hlen < TCP_HLEN)
			return DP_DEC_BAD_L4;
		if (hlen > avail)
			return DP_DEC_TRUNCATED;
		p->sport = rd16(l4);
		p->dport = rd16(l4 + 2);
		p->seq = rd32(l4 + 4);
		p->ack = rd32(l4 + 8);
		p->tcp_flags = l4[13];
		p->tcp_window = rd16(l4 + 14);
		p->l4_hdr_len = (uint16_t)hlen;
		p->payload_len = (uint16_t)(avail - hlen);
		break;
	case IPPROTO_UDP_: {
		uint32_t ulen;

		if (avail < UDP_HLEN)
			return DP_DEC_TRUNCATED;
		ulen = rd16(l4 + 4);
		if (ulen < UDP_HLEN)
			return DP_DEC_BAD_L4;
		if (ulen > avail)
			return DP_DEC_TRUNCATED;
		p->sport = rd16(l4);
		p->dport = rd16(l4 + 2);
		p->l4_hdr_len = UDP_HLEN;
		/* bytes past the UDP length (surplus area) are not payload */
		p->payload_len = (uint16_t)(ulen - UDP_HLEN);
		break;
	}
	case IPPROTO_ICMP_:
	case IPPROTO_ICMPV6_:
		if (avail < ICMP_HLEN)
			return DP_DEC_TRUNCATED;
		p->icmp_type = l4[0];
		p->icmp_code = l4[1];
		p->l4_hdr_len = ICMP_HLEN;
		p->payload_len = (uint16_t)(avail - ICMP_HLEN);
		break;
	case IPPROTO_NONE_:
		/* RFC 8200: bytes after No Next Header are ignored */
		p->l4_hdr_len = 0;
		p->payload_len = 0;
		break;
	default:
		/* other protocols (ESP, GRE, SCTP...): the rest is payload */
		p->l4_hdr_len = 0;
		p->payload_len = (uint16_t)avail;
		break;
	}
	p->payload_off = (uint16_t)(p->l4_off + p->l4_hdr_len);
	return DP_DEC_OK;
}

/* ---------------------------------------------------------------- L3 */

static enum dp_decode_result
decode_ipv4(const uint8_t *buf, size_t len, struct dp_pkt *p, unsigned flags)
{
	const uint8_t *ip = buf + p->l3_off;
	size_t avail = len - p->l3_off;
	uint32_t ihl, tot;
	uint16_t frag;

	p->family = 4;
	if (avail < 20)
		return DP_DEC_TRUNCATED;
	if ((ip[0] >> 4) != 4)
		return DP_DEC_BAD_IP;
	ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	if (ihl < 20)
		return DP_DEC_BAD_IP;
	if (ihl > avail)
		return DP_DEC_TRUNCATED;
	tot = rd16(ip + 2);
	if (tot == 0 && (flags & DP_DECODE_TSO_LEN0))
		tot = avail > 0xffff ? 0xffff : (uint32_t)avail;
	if (tot < ihl)
		return DP_DEC_BAD_IP;
	if (tot > avail)
		return DP_DEC_TRUNCATED;
	if (!(flags & (DP_DECODE_NO_IP_CKSUM | DP_DECODE_IP_CKSUM_GOOD)) &&
	    !ipv4_hdr_cksum_ok(ip, ihl))
		return DP_DEC_BAD_IP;
	p->l3_len = (uint16_t)ihl;
	p->ip_len = tot;
	p->ttl = ip[8];
	p->l4proto = ip[9];
	memcpy(p->src, ip + 12, 4);
	memcpy(p->dst, ip + 16, 4);
	p->l4_off = (uint16_t)(p->l3_off + ihl);
	frag = rd16(ip + 6);
	if (frag & 0x3fff) {            /* MF or a fragment offset */
		p->frag_first = (frag & 0x1fff) == 0;
		return DP_DEC_FRAGMENT;
	}
	return decode_l4(buf, p);
}

static int
ipv6_ext_unsupported(uint8_t nh)
{
	/* Mobility, HIP, Shim6, experimental: extension headers we do not walk */
	return nh == 135 || nh == 139 || nh == 140 || nh == 253 || nh == 254;
}

static enum dp_decode_result
decode_ipv6(const uint8_t *buf, size_t len, struct dp_pkt *p)
{
	const uint8_t *ip = buf + p->l3_off;
	size_t avail = len - p->l3_off;
	uint32_t off, end, n_ext = 0;
	uint8_t nh;

	p->family = 6;
	if (avail < IPV6_HLEN)
		return DP_DEC_TRUNCATED;
	if ((ip[0] >> 4) != 6)
		return DP_DEC_BAD_IP;
	end = IPV6_HLEN + (uint32_t)rd16(ip + 4);
	if (end > avail)
		return DP_DEC_TRUNCATED;
	p->ip_len = end;
	p->ttl = ip[7];
	memcpy(p->src, ip + 8, 16);
	memcpy(p->dst, ip + 24, 16);
	nh = ip[6];
	off = IPV6_HLEN;
	for (;;) {
		uint32_t hlen;

		switch (nh) {
		case IPPROTO_HOPOPTS_:
		case IPPROTO_ROUTING_:
		case IPPROTO_DSTOPTS_:
		case IPPROTO_AH_:
		case IPPROTO_FRAGMENT_:
			break;
		default:
			if (ipv6_ext_unsupported(nh)) {
				p->l4proto = nh;
				return DP_DEC_EXT_CHAIN;
			}
			goto upper;
		}
		/* hop-by-hop is only valid right after the fixed header */
		if (nh == IPPROTO_HOPOPTS_ && off != IPV6_HLEN) {
			p->l4proto = nh;
			return DP_DEC_EXT_CHAIN;
		}
		if (++n_ext > IPV6_MAX_EXT_HDRS) {
			p->l4proto = nh;
			return DP_DEC_EXT_CHAIN;
		}
		if (end - off < 8)
			return DP_DEC_TRUNCATED;
		if (nh == IPPROTO_FRAGMENT_)
			hlen = 8;
		else if (nh == IPPROTO_AH_)
			hlen = ((uint32_t)ip[off + 1] + 2) * 4;   /* RFC 4302 */
		else
			hlen = ((uint32_t)ip[off + 1] + 1) * 8;
		if (off + hlen - IPV6_HLEN > IPV6_MAX_EXT_BYTES) {
			p->l4proto = nh;
			return DP_DEC_EXT_CHAIN;
		}
		if (hlen > end - off)
			return DP_DEC_TRUNCATED;
		if (nh == IPPROTO_FRAGMENT_) {
			uint16_t fo = rd16(ip + off + 2);

			/* an atomic fragment (offset 0, no M) is a whole packet (RFC 6946) */
			if (fo & 0xfff9) {
				p->l4proto = ip[off];
				p->l3_len = (uint16_t)(off + hlen);
				p->l4_off = (uint16_t)(p->l3_off + off + hlen);
				p->frag_first = (fo & 0xfff8) == 0;
				return DP_DEC_FRAGMENT;
			}
		}
		nh = ip[off];
		off += hlen;
	}
upper:
	p->l4proto = nh;
	p->l3_len = (uint16_t)off;
	p->l4_off = (uint16_t)(p->l3_off + off);
	return decode_l4(buf, p);
}

static enum dp_decode_result
decode_ip(const uint8_t *buf, size_t len, struct dp_pkt *p, int family,
	  unsigned flags)
{
	if (p->l3_off > len)
		return DP_DEC_TRUNCATED;
	if (family == 0) {              /* decided by the version nibble */
		if (p->l3_off >= len)
			return DP_DEC_TRUNCATED;
		family = buf[p->l3_off] >> 4;
		if (family != 4 && family != 6)
			return DP_DEC_BAD_IP;
	}
	p->ethertype = family == 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
	if (family == 4)
		return decode_ipv4(buf, len, p, flags);
	return decode_ipv6(buf, len, p);
}

/* ---------------------------------------------------------------- L2 */

static enum dp_decode_result
decode_ether(const uint8_t *buf, size_t len, struct dp_pkt *p,
	     unsigned flags)
{
	size_t off = 12;
	uint16_t et;

	if (len < ETH_HLEN)
		return DP_DEC_TRUNCATED;
	et = rd16(buf + off);
	while (et == ETHERTYPE_VLAN || et == ETHERTYPE_QINQ || et == ETHERTYPE_QINQ_OLD) {
		if (p->n_vlans == DP_MAX_VLANS)
			return DP_DEC_UNSUPPORTED_LINK;
		if (len < off + 6)
			return DP_DEC_TRUNCATED;
		p->vlan[p->n_vlans++] = rd16(buf + off + 2) & 0x0fff;
		off += 4;
		et = rd16(buf + off);
	}
	off += 2;
	p->ethertype = et;
	if (et == ETHERTYPE_PPPOE_SES) {
		uint16_t proto;
		uint8_t plen = 2;

		if (len < off + PPPOE_HLEN + 1)
			return DP_DEC_TRUNCATED;
		/* ver 1 type 1, code 0 (session data) */
		if (buf[off] != 0x11 || buf[off + 1] != 0)
			return DP_DEC_NON_IP;
		off += PPPOE_HLEN;
		if (buf[off] & 1) {     /* protocol field compression */
			plen = 1;
			proto = buf[off];
		} else {
			if (len < off + 2)
				return DP_DEC_TRUNCATED;
			proto = rd16(buf + off);
		}
		if (proto != PPP_IPV4 && proto != PPP_IPV6)
			return DP_DEC_NON_IP;
		p->pppoe = plen;
		p->l2_len = (uint16_t)(off + plen);
		p->l3_off = p->l2_len;
		return decode_ip(buf, len, p, proto == PPP_IPV4 ? 4 : 6, flags);
	}
	p->l2_len = (uint16_t)off;
	p->l3_off = p->l2_len;
	if (et == ETHERTYPE_IPV4)
		return decode_ip(buf, len, p, 4, flags);
	if (et == ETHERTYPE_IPV6)
		return decode_ip(buf, len, p, 6, flags);
	return DP_DEC_NON_IP;
}

/* BSD address families that mean IPv6 (NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30). */
static int
af_family(uint32_t af)
{
	if (af == 2)
		return 4;
	if (af == 24 || af == 28 || af == 30)
		return 6;
	return 0;
}

static enum dp_decode_result
decode_ppp(const uint8_t *buf, size_t len, struct dp_pkt *p,
	   unsigned flags)
{
	size_t off = 0;
	uint16_t proto;

	if (len >= 2 && buf[0] == 0xff && buf[1] == 0x03)
		off = 2;                /* HDLC-like address and control */
	if (len < off + 1)
		return DP_DEC_TRUNCATED;
	if (buf[off] & 1) {             /* protocol field compression: 1 byte */
		proto = buf[off];
		off += 1;
	} else {
		if (len < off + 2)
			return DP_DEC_TRUNCATED;
		proto = rd16(buf + off);
		off += 2;
	}
	p->l2_len = (uint16_t)off;
	p->l3_off = p->l2_len;
	if (proto == PPP_IPV4)
		return decode_ip(buf, len, p, 4, flags);
	if (proto == PPP_IPV6)
		return decode_ip(buf, len, p, 6, flags);
	return DP_DEC_NON_IP;
}

static enum dp_decode_result
decode_by_ethertype(const uint8_t *buf, size_t len, struct dp_pkt *p,
		    size_t hlen, uint16_t et, unsigned flags)
{
	p->l2_len = (uint16_t)hlen;
	p->l3_off = p->l2_len;
	p->ethertype = et;
	if (et == ETHERTYPE_IPV4)
		return decode_ip(buf, len, p, 4, flags);
	if (et == ETHERTYPE_IPV6)
		return decode_ip(buf, len, p, 6, flags);
	return DP_DEC_NON_IP;
}

/*
 * memset(p, 0, sizeof(*p)) in 16-byte stores: the compiler made the memset a
 * `rep stos`, whose start-up cost was ~6 % of a fast-path packet.
 */
static inline void
pkt_zero(struct dp_pkt *p)
{
	typedef uint8_t v16 __attribute__((vector_size(16), aligned(1), may_alias));
	char *b = (char *)p;
	size_t i;

#pragma GCC unroll 16
	for (i = 0; i + 16 <= sizeof(*p); i += 16)
		*(v16 *)(b + i) = (v16){ 0 };
#pragma GCC unroll 16
	for (; i < sizeof(*p); i++)
		b[i] = 0;
}

enum dp_decode_result
dp_decode_flags(const uint8_t *buf, size_t len, enum dp_link link, unsigned flags,
		struct dp_pkt *p)
{
	uint32_t af;
	int fam;

	pkt_zero(p);
	p->link = (uint16_t)link;
	switch ((int)link) {
	case DP_LINK_ETHERNET:
		return decode_ether(buf, len, p, flags);
	case DP_LINK_LINUX_SLL:
		if (len < SLL_HLEN)
			return DP_DEC_TRUNCATED;
		return decode_by_ethertype(buf, len, p, SLL_HLEN, rd16(buf + 14), flags);
	case DP_LINK_LINUX_SLL2:
		if (len < SLL2_HLEN)
			return DP_DEC_TRUNCATED;
		return decode_by_ethertype(buf, len, p, SLL2_HLEN, rd16(buf), flags);
	case DP_LINK_NULL:
		if (len < 4)
			return DP_DEC_TRUNCATED;
		/* host order of the capturing machine: accept either */
		af = (uint32_t)buf[0] | ((uint32_t)buf[1] << 8) |
		     ((uint32_t)buf[2] << 16) | ((uint32_t)buf[3] << 24);
		if (af & 0xffff0000u)
			af = __builtin_bswap32(af);
		goto loop;
	case DP_LINK_LOOP:
		if (len < 4)
			return DP_DEC_TRUNCATED;
		af = rd32(buf);
loop:
		p->l2_len = 4;
		p->l3_off = 4;
		fam = af_family(af);
		if (fam == 0)
			return DP_DEC_NON_IP;
		return decode_ip(buf, len, p, fam, flags);
	case DP_LINK_RAW:
	case 12:                        /* DLT_RAW on most BSDs */
	case 14:                        /* DLT_RAW on OpenBSD */
		return decode_ip(buf, len, p, 0, flags);
	case DP_LINK_IPV4:
		return decode_ip(buf, len, p, 4, flags);
	case DP_LINK_IPV6:
		return decode_ip(buf, len, p, 6, flags);
	case DP_LINK_PPP:
		return decode_ppp(buf, len, p, flags);
	default:
		return DP_DEC_UNSUPPORTED_LINK;
	}
}

enum dp_decode_result
dp_decode(const uint8_t *buf, size_t len, enum dp_link link, struct dp_pkt *p)
{
	return dp_decode_flags(buf, len, link, 0, p);
}

/* ---------------------------------------------------------- checksums */

/* L4 length covered by the checksum: the TCP segment, or the UDP length. */
static uint32_t
l4_cksum_len(const struct dp_pkt *p)
{
	if (p->l4proto == IPPROTO_UDP_)
		return (uint32_t)p->l4_hdr_len + p->payload_len;
	return p->ip_len - p->l3_len;
}

int
dp_l4_cksum_ok(const uint8_t *buf, const struct dp_pkt *p)
{
	const uint8_t *l4 = buf + p->l4_off;
	uint32_t l4len;

	if ((p->l4proto != IPPROTO_TCP_ && p->l4proto != IPPROTO_UDP_) ||
	    p->l4_hdr_len == 0)
		return 0;
	if (p->l4proto == IPPROTO_UDP_ && rd16(l4 + 6) == 0)
		return p->family == 4;  /* optional over IPv4, mandatory over IPv6 */
	l4len = l4_cksum_len(p);
	return csum_fold(csum_add_long(pseudo_sum(p, l4len), l4, l4len)) == 0xffff;
}

static void
fix_ipv4_cksum(uint8_t *ip, uint32_t ihl)
{
	wr16(ip + 10, 0);
	wr16(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, ihl)));
}

void
dp_fix_cksums(uint8_t *buf, const struct dp_pkt *p)
{
	uint8_t *l4 = buf + p->l4_off;
	uint32_t l4len;
	uint16_t ck;
	int off;

	if (p->family == 4)
		fix_ipv4_cksum(buf + p->l3_off, p->l3_len);
	if (p->l4proto == IPPROTO_TCP_ && p->l4_hdr_len >= TCP_HLEN)
		off = 16;
	else if (p->l4proto == IPPROTO_UDP_ && p->l4_hdr_len == UDP_HLEN)
		off = 6;
	else
		return;
	l4len = l4_cksum_len(p);
	wr16(l4 + off, 0);
	ck = (uint16_t)~csum_fold(csum_add(pseudo_sum(p, l4len), l4, l4len));
	if (ck == 0 && p->l4proto == IPPROTO_UDP_)
		ck = 0xffff;            /* 0 means "no checksum" for UDP */
	wr16(l4 + off, ck);
}

/* ----------------------------------------------------------- builders */

int
dp_build_rst(const uint8_t *buf, const struct dp_pkt *p, int to_client,
	     uint32_t seq, uint32_t ack, uint8_t *out, size_t outlen)
{
	struct dp_pkt r;
	uint32_t iphl = p->family == 4 ? 20 : IPV6_HLEN;
	size_t need = (size_t)p->l2_len + iphl + TCP_HLEN;
	const uint8_t *s = to_client ? p->dst : p->src;
	const uint8_t *d = to_client ? p->src : p->dst;
	uint8_t *ip, *tcp;

	if (p->link != DP_LINK_ETHERNET || p->l4proto != IPPROTO_TCP_ ||
	    (p->family != 4 && p->family != 6) || p->l2_len < ETH_HLEN)
		return -1;
	if (need < ETH_MIN_FRAME)
		need = ETH_MIN_FRAME;
	if (outlen < need)
		return -1;
	memset(out, 0, need);
	/* L2: MACs, VLAN tags (and a PPPoE session header) as received */
	memcpy(out, buf, p->l2_len);
	if (to_client) {
		memcpy(out, buf + 6, 6);
		memcpy(out + 6, buf, 6);
	}
	if (p->pppoe)                   /* PPPoE length = PPP proto + IP packet */
		wr16(out + p->l2_len - p->pppoe - 2,
		     (uint16_t)(p->pppoe + iphl + TCP_HLEN));
	ip = out + p->l2_len;
	if (p->family == 4) {
		ip[0] = 0x45;
		wr16(ip + 2, (uint16_t)(iphl + TCP_HLEN));
		wr16(ip + 6, 0x4000);   /* DF, id 0 */
		ip[8] = 64;
		ip[9] = IPPROTO_TCP_;
		memcpy(ip + 12, s, 4);
		memcpy(ip + 16, d, 4);
	} else {
		ip[0] = 0x60;
		wr16(ip + 4, TCP_HLEN);
		ip[6] = IPPROTO_TCP_;
		ip[7] = 64;
		memcpy(ip + 8, s, 16);
		memcpy(ip + 24, d, 16);
	}
	tcp = ip + iphl;
	wr16(tcp, to_client ? p->dport : p->sport);
	wr16(tcp + 2, to_client ? p->sport : p->dport);
	wr32(tcp + 4, seq);
	wr32(tcp + 8, ack);
	tcp[12] = (TCP_HLEN / 4) << 4;
	tcp[13] = DP_TCP_RST | DP_TCP_ACK;
	/* window 0, urgent 0, checksum below */

	memset(&r, 0, sizeof(r));
	r.family = p->family;
	r.l4proto = IPPROTO_TCP_;
	r.l3_off = p->l2_len;
	r.l3_len = (uint16_t)iphl;
	r.ip_len = iphl + TCP_HLEN;
	r.l4_off = (uint16_t)(p->l2_len + iphl);
	r.l4_hdr_len = TCP_HLEN;
	memcpy(r.src, s, 16);
	memcpy(r.dst, d, 16);
	dp_fix_cksums(out, &r);
	return (int)need;
}

/* Write p->ip_len into the IPv4 total length or IPv6 payload length (and PPPoE's). */
static void
put_ip_len(uint8_t *buf, const struct dp_pkt *p)
{
	uint8_t *ip = buf + p->l3_off;

	if (p->family == 4)
		wr16(ip + 2, (uint16_t)p->ip_len);
	else
		wr16(ip + 4, (uint16_t)(p->ip_len - IPV6_HLEN));
	if (p->pppoe)
		wr16(buf + p->l2_len - p->pppoe - 2, (uint16_t)(p->pppoe + p->ip_len));
}

int
dp_strip_syn_payload(uint8_t *buf, size_t len, struct dp_pkt *p)
{
	uint8_t *opt;
	uint32_t i, olen, n;

	if (p->l4proto != IPPROTO_TCP_ || !(p->tcp_flags & DP_TCP_SYN) ||
	    p->payload_len == 0 || p->l4_hdr_len < TCP_HLEN ||
	    (size_t)p->payload_off + p->payload_len > len)
		return -1;
	/* NOP every TFO option (kind 34: cookie or cookie request) */
	opt = buf + p->l4_off + TCP_HLEN;
	n = p->l4_hdr_len - TCP_HLEN;
	for (i = 0; i < n;) {
		if (opt[i] == TCPOPT_EOL)
			break;
		if (opt[i] == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (n - i < 2)
			break;
		olen = opt[i + 1];
		if (olen < 2 || olen > n - i)
			break;          /* malformed: leave the rest alone */
		if (opt[i] == TCPOPT_TFO)
			memset(opt + i, TCPOPT_NOP, olen);
		i += olen;
	}
	/* drop the payload (and any link padding after it) */
	p->ip_len -= p->payload_len;
	p->payload_len = 0;
	put_ip_len(buf, p);
	dp_fix_cksums(buf, p);
	return p->payload_off;
}

int
dp_shrink_udp_payload(uint8_t *buf, size_t len, struct dp_pkt *p, uint16_t new_len)
{
	uint32_t d;

	if (p->l4proto != IPPROTO_UDP_ || p->l4_hdr_len != UDP_HLEN ||
	    new_len > p->payload_len || (size_t)p->payload_off + p->payload_len > len)
		return -1;
	d = p->payload_len - new_len;
	p->ip_len -= d;
	p->payload_len = new_len;
	put_ip_len(buf, p);
	wr16(buf + p->l4_off + 4, (uint16_t)(UDP_HLEN + new_len));
	dp_fix_cksums(buf, p);
	return p->payload_off + new_len;
}

/* ----------------------------------------------------------- flow key */

/* 8 bytes as a big-endian integer (so integer order is memcmp order) */
static inline uint64_t
ld64be(const uint8_t *b)
{
	uint64_t v;

	memcpy(&v, b, 8);
	return __builtin_bswap64(v);
}

/*
 * Built in registers and stored once, word by word (no memset, no memcmp):
 * the addresses are compared as big-endian integers, the order memcmp gives.
 */
void
dp_flow_key_make(const struct dp_pkt *p, struct dp_flow_key *key, int *a_is_src)
{
	uint64_t s0, s1, d0, d1;
	uint16_t vlan = p->n_vlans ? p->vlan[0] : 0;
	int c;

	if (p->family == 6) {
		s0 = ld64be(p->src);
		s1 = ld64be(p->src + 8);
		d0 = ld64be(p->dst);
		d1 = ld64be(p->dst + 8);
	} else {
		uint32_t s, d;

		memcpy(&s, p->src, 4);
		memcpy(&d, p->dst, 4);
		s0 = (uint64_t)__builtin_bswap32(s) << 32;
		d0 = (uint64_t)__builtin_bswap32(d) << 32;
		s1 = 0;
		d1 = 0;
	}
	if (s0 != d0)
		c = s0 < d0 ? -1 : 1;
	else if (s1 != d1)
		c = s1 < d1 ? -1 : 1;
	else
		c = (p->sport > p->dport) - (p->sport < p->dport);
	if (c > 0) {
		uint64_t t0 = s0, t1 = s1;

		s0 = d0;
		s1 = d1;
		d0 = t0;
		d1 = t1;
	}
	s0 = __builtin_bswap64(s0);
	s1 = __builtin_bswap64(s1);
	d0 = __builtin_bswap64(d0);
	d1 = __builtin_bswap64(d1);
	memcpy(key->a, &s0, 8);
	memcpy(key->a + 8, &s1, 8);
	memcpy(key->b, &d0, 8);
	memcpy(key->b + 8, &d1, 8);
	key->pa = c <= 0 ? p->sport : p->dport;
	key->pb = c <= 0 ? p->dport : p->sport;
	key->vlan = vlan;
	key->family = p->family;
	key->l4proto = p->l4proto;
	key->gwlb_ep = p->gwlb_ep;
	key->gwlb_att = p->gwlb_att;
	if (a_is_src)
		*a_is_src = c <= 0;
}

static inline uint64_t
mix64(uint64_t x)
{
	/* a multiply-xorshift finaliser (as in splitmix64/murmur3 fmix64) */
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	return x;
}

uint32_t
dp_flow_hash(const struct dp_flow_key *key)
{
	const uint8_t *k = (const uint8_t *)key;
	uint64_t w[7], h = 0x9e3779b97f4a7c15ull;

	_Static_assert(sizeof(*key) == sizeof(w), "dp_flow_key is 56 bytes");
	memcpy(w, k, sizeof(w));
	/* one multiply per word, then a full finaliser over the state */
	for (unsigned i = 0; i < 7; i++) {
		h = (h ^ w[i]) * 0xff51afd7ed558ccdull;
		h ^= h >> 29;
	}
	h = mix64(h);
	return (uint32_t)(h ^ (h >> 32));
}

/* ---------------------------------------------------------------- pcap */

int
dp_pcap_linktype(const uint8_t hdr[24])
{
	uint32_t lt;

	if (hdr[0] == 0xa1 && hdr[1] == 0xb2 &&
	    ((hdr[2] == 0xc3 && hdr[3] == 0xd4) || (hdr[2] == 0x3c && hdr[3] == 0x4d)))
		lt = rd32(hdr + 20);                    /* big-endian file */
	else if (hdr[3] == 0xa1 && hdr[2] == 0xb2 &&
		 ((hdr[1] == 0xc3 && hdr[0] == 0xd4) || (hdr[1] == 0x3c && hdr[0] == 0x4d)))
		lt = (uint32_t)hdr[20] | ((uint32_t)hdr[21] << 8) |
		     ((uint32_t)hdr[22] << 16) | ((uint32_t)hdr[23] << 24);
	else
		return -1;
	/* upper bits carry the FCS length (pcap spec): the link type is the low 16 */
	return (int)(lt & 0xffff);
}
