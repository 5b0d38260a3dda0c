/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_routed.c: addresses, routes, neighbours and the appliance's own L2/L3
 * frames (see dp_routed.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_bytes.h"
#include "dp_routed.h"

#define ETH_HLEN 14
#define ETH_MIN 60
#define IPV6_HLEN 40
#define IPPROTO_ICMP_ 1
#define IPPROTO_ICMPV6_ 58
#define ND_NS 135
#define ND_NA 136
#define ND_OPT_SLLA 1
#define ND_OPT_TLLA 2
#define ND_LEN 32                /* NS / NA with one link-layer option */

/* ---- parsing ----------------------------------------------------------- */

static int
parse_ip(const char *s, size_t n, uint8_t *family, uint8_t ip[16])
{
	char buf[64];

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(ip, 0, 16);
	if (inet_pton(AF_INET, buf, ip) == 1) {
		*family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, ip) == 1) {
		*family = 6;
		return 0;
	}
	return -1;
}

static int
parse_num(const char *s, size_t n, unsigned long max, unsigned long *out)
{
	char buf[16], *end;

	if (n == 0 || n >= sizeof(buf) || s[0] == '-' || s[0] == '+')
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	*out = strtoul(buf, &end, 10);
	return errno != 0 || *end != '\0' || *out > max ? -1 : 0;
}

int
dp_addr_parse(const char *s, struct dp_addr *a, char *err, size_t errlen)
{
	const char *colon = strchr(s, ':'), *slash;
	unsigned long port, plen;

	memset(a, 0, sizeof(*a));
	if (colon == NULL || parse_num(s, (size_t)(colon - s), DP_MAX_PORTS - 1, &port) != 0) {
		snprintf(err, errlen, "'%s' is not PORT:IP/PREFIX (PORT 0..%d)", s, DP_MAX_PORTS - 1);
		return -EINVAL;
	}
	slash = strchr(colon + 1, '/');
	if (slash == NULL || parse_ip(colon + 1, (size_t)(slash - colon - 1), &a->family, a->ip) != 0) {
		snprintf(err, errlen, "'%s': no IPv4 or IPv6 address before '/PREFIX'", s);
		return -EINVAL;
	}
	if (parse_num(slash + 1, strlen(slash + 1), a->family == 4 ? 32 : 128, &plen) != 0) {
		snprintf(err, errlen, "'%s': prefix length not in 0..%d", s, a->family == 4 ? 32 : 128);
		return -EINVAL;
	}
	a->port = (uint16_t)port;
	a->plen = (uint8_t)plen;
	return 0;
}

int
dp_route_parse(const char *s, struct dp_route *r, char *err, size_t errlen)
{
	const char *slash = strchr(s, '/'), *c1, *c2;
	unsigned long plen, port;
	uint8_t fam;

	memset(r, 0, sizeof(*r));
	if (slash == NULL || parse_ip(s, (size_t)(slash - s), &r->family, r->prefix) != 0) {
		snprintf(err, errlen, "'%s' is not PREFIX/LEN:PORT[:NEXTHOP]", s);
		return -EINVAL;
	}
	c1 = strchr(slash, ':');
	if (c1 == NULL || parse_num(slash + 1, (size_t)(c1 - slash - 1),
				    r->family == 4 ? 32 : 128, &plen) != 0) {
		snprintf(err, errlen, "'%s': prefix length not in 0..%d, or no ':PORT'", s,
			 r->family == 4 ? 32 : 128);
		return -EINVAL;
	}
	c2 = strchr(c1 + 1, ':');
	if (parse_num(c1 + 1, c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1), DP_MAX_PORTS - 1,
		      &port) != 0) {
		snprintf(err, errlen, "'%s': PORT not in 0..%d", s, DP_MAX_PORTS - 1);
		return -EINVAL;
	}
	if (c2 != NULL) {
		if (parse_ip(c2 + 1, strlen(c2 + 1), &fam, r->gw) != 0 || fam != r->family) {
			snprintf(err, errlen, "'%s': NEXTHOP is not an IPv%d address", s, r->family);
			return -EINVAL;
		}
		r->has_gw = 1;
	}
	r->plen = (uint8_t)plen;
	r->port = (uint16_t)port;
	return 0;
}

/* ---- prefixes, addresses, routes ----------------------------------------- */

static void
mask_prefix(uint8_t *ip, unsigned int plen, size_t alen)
{
	for (size_t i = 0; i < alen; i++) {
		if (plen >= 8) {
			plen -= 8;
			continue;
		}
		ip[i] &= (uint8_t)(0xff << (8 - plen));
		plen = 0;
	}
}

int
dp_prefix_match(int family, const uint8_t *prefix, unsigned int plen, const uint8_t *ip)
{
	unsigned int full = plen / 8, rest = plen % 8;

	(void)family;
	if (memcmp(prefix, ip, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((prefix[full] ^ ip[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

const struct dp_addr *
dp_addr_find(const struct dp_addr *a, unsigned int n, int family, const uint8_t *ip, int port)
{
	size_t alen = family == 6 ? 16 : 4;

	for (unsigned int i = 0; i < n; i++)
		if (a[i].family == family && memcmp(a[i].ip, ip, alen) == 0 &&
		    (port < 0 || a[i].port == port))
			return &a[i];
	return NULL;
}

const struct dp_addr *
dp_addr_on_port(const struct dp_addr *a, unsigned int n, int family, unsigned int port)
{
	for (unsigned int i = 0; i < n; i++)
		if (a[i].family == family && a[i].port == port)
			return &a[i];
	return NULL;
}

int
dp_rtable_add(struct dp_rtable *t, const struct dp_route *r)
{
	struct dp_route nr = *r;
	unsigned int i, pos;

	mask_prefix(nr.prefix, nr.plen, nr.family == 6 ? 16 : 4);
	for (i = 0; i < t->n; i++)
		if (t->r[i].family == nr.family && t->r[i].plen == nr.plen &&
		    memcmp(t->r[i].prefix, nr.prefix, 16) == 0)
			return -EEXIST;
	if (t->n == DP_MAX_ROUTES)
		return -ENOSPC;
	for (pos = 0; pos < t->n && t->r[pos].plen >= nr.plen; pos++)
		;
	memmove(&t->r[pos + 1], &t->r[pos], (t->n - pos) * sizeof(t->r[0]));
	t->r[pos] = nr;
	t->n++;
	return 0;
}

const struct dp_route *
dp_rtable_lookup(const struct dp_rtable *t, int family, const uint8_t *dst)
{
	for (unsigned int i = 0; i < t->n; i++)
		if (t->r[i].family == family &&
		    dp_prefix_match(family, t->r[i].prefix, t->r[i].plen, dst))
			return &t->r[i];
	return NULL;
}

/* ---- neighbours ---------------------------------------------------------- */

void
dp_neigh_init(struct dp_ntable *t)
{
	memset(t, 0, sizeof(*t));
}

static uint32_t
neigh_hash(int family, const uint8_t *ip)
{
	size_t alen = family == 6 ? 16 : 4;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < alen; i++)
		h = (h ^ ip[i]) * 16777619u;
	return h ^ (h >> 15);
}

struct dp_neigh *
dp_neigh_find(struct dp_ntable *t, int family, const uint8_t *ip)
{
	size_t alen = family == 6 ? 16 : 4;
	uint32_t i = neigh_hash(family, ip);

	for (uint32_t k = 0; k < DP_NEIGH_SLOTS; k++, i++) {
		struct dp_neigh *e = &t->e[i & (DP_NEIGH_SLOTS - 1)];

		if (!__atomic_load_n(&e->used, __ATOMIC_ACQUIRE))
			return NULL;
		if (e->family == family && memcmp(e->ip, ip, alen) == 0)
			return e;
	}
	return NULL;
}

struct dp_neigh *
dp_neigh_get(struct dp_ntable *t, int family, const uint8_t *ip, uint16_t port)
{
	size_t alen = family == 6 ? 16 : 4;
	struct dp_neigh *e = dp_neigh_find(t, family, ip);
	uint32_t i;

	if (e != NULL)
		return e;
	while (__atomic_exchange_n(&t->lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&t->lock, __ATOMIC_RELAXED))
			;
	/* keep a quarter free so a lookup of an unknown address ends quickly */
	if (t->n >= DP_NEIGH_SLOTS * 3 / 4) {
		t->full++;
		__atomic_store_n(&t->lock, 0, __ATOMIC_RELEASE);
		return NULL;
	}
	i = neigh_hash(family, ip);
	for (;; i++) {
		e = &t->e[i & (DP_NEIGH_SLOTS - 1)];
		if (!e->used)
			break;
		if (e->family == family && memcmp(e->ip, ip, alen) == 0)
			goto out;       /* another worker added it */
	}
	memset(e->ip, 0, sizeof(e->ip));
	memcpy(e->ip, ip, alen);
	e->family = (uint8_t)family;
	e->port = port;
	e->mac = 0;
	e->req_ns = 0;
	t->n++;
	__atomic_store_n(&e->used, 1, __ATOMIC_RELEASE);
out:
	__atomic_store_n(&t->lock, 0, __ATOMIC_RELEASE);
	return e;
}

void
dp_neigh_set(struct dp_neigh *n, const uint8_t mac[6])
{
	uint64_t v = DP_NEIGH_VALID;

	for (int i = 0; i < 6; i++)
		v |= (uint64_t)mac[i] << (40 - 8 * i);
	__atomic_store_n(&n->mac, v, __ATOMIC_RELEASE);
}

int
dp_neigh_mac(const struct dp_neigh *n, uint8_t mac[6])
{
	uint64_t v = __atomic_load_n(&n->mac, __ATOMIC_ACQUIRE);

	if (!(v & DP_NEIGH_VALID))
		return 0;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(v >> (40 - 8 * i));
	return 1;
}

int
dp_neigh_may_request(struct dp_neigh *n, uint64_t now_ns, uint64_t interval_ns)
{
	uint64_t last = __atomic_load_n(&n->req_ns, __ATOMIC_RELAXED);

	if (last != 0 && now_ns - last < interval_ns)
		return 0;
	return __atomic_compare_exchange_n(&n->req_ns, &last, now_ns, 0, __ATOMIC_RELAXED,
					   __ATOMIC_RELAXED);
}

/* ---- ARP and neighbour discovery ------------------------------------------ */

int
dp_arp_parse(const uint8_t *buf, size_t len, size_t l2_len, struct dp_arp *a)
{
	const uint8_t *h = buf + l2_len;

	if (len < l2_len + 28)
		return -1;
	/* Ethernet, IPv4, 6-byte hardware and 4-byte protocol addresses */
	if (dp_rd16(h) != 1 || dp_rd16(h + 2) != 0x0800 || h[4] != 6 || h[5] != 4)
		return -1;
	a->op = dp_rd16(h + 6);
	memcpy(a->sha, h + 8, 6);
	memcpy(a->spa, h + 14, 4);
	memcpy(a->tha, h + 18, 6);
	memcpy(a->tpa, h + 24, 4);
	return a->op == 1 || a->op == 2 ? 0 : -1;
}

size_t
dp_build_arp(uint8_t *out, uint16_t op, const uint8_t eth_dst[6], const uint8_t sha[6],
	     const uint8_t spa[4], const uint8_t tha[6], const uint8_t tpa[4])
{
	uint8_t *h = out + ETH_HLEN;

	memset(out, 0, ETH_MIN);
	memcpy(out, eth_dst, 6);
	memcpy(out + 6, sha, 6);
	dp_wr16(out + 12, 0x0806);
	dp_wr16(h, 1);
	dp_wr16(h + 2, 0x0800);
	h[4] = 6;
	h[5] = 4;
	dp_wr16(h + 6, op);
	memcpy(h + 8, sha, 6);
	memcpy(h + 14, spa, 4);
	memcpy(h + 18, tha, 6);
	memcpy(h + 24, tpa, 4);
	return ETH_MIN;
}

static uint16_t
icmp6_cksum(const uint8_t *ip6, const uint8_t *icmp, uint32_t len)
{
	return dp_csum_final(dp_csum_add(dp_csum_pseudo(6, ip6 + 8, ip6 + 24, IPPROTO_ICMPV6_, len),
					 icmp, len));
}

int
dp_nd_parse(const uint8_t *buf, const struct dp_pkt *p, struct dp_nd *nd)
{
	const uint8_t *icmp = buf + p->l4_off, *ip6 = buf + p->l3_off;
	uint32_t len = p->ip_len - p->l3_len, off;

	memset(nd, 0, sizeof(*nd));
	if (p->family != 6 || p->l4proto != IPPROTO_ICMPV6_ || p->l3_len != IPV6_HLEN ||
	    (p->icmp_type != ND_NS && p->icmp_type != ND_NA))
		return -1;
	/* RFC 4861 7.1.1 / 7.1.2: hop limit 255, code 0, at least 24 bytes, checksum */
	if (p->ttl != 255 || p->icmp_code != 0 || len < 24 || (len & 7) != 0 ||
	    icmp6_cksum(ip6, icmp, len) != 0)
		return -1;
	nd->type = p->icmp_type;
	nd->flags = icmp[4];
	memcpy(nd->target, icmp + 8, 16);
	if (nd->target[0] == 0xff)
		return -1;              /* multicast target */
	for (off = 24; off + 8 <= len;) {
		uint32_t olen = (uint32_t)icmp[off + 1] * 8;

		if (olen == 0 || off + olen > len)
			return -1;
		if ((icmp[off] == ND_OPT_SLLA && nd->type == ND_NS) ||
		    (icmp[off] == ND_OPT_TLLA && nd->type == ND_NA)) {
			memcpy(nd->ll, icmp + off + 2, 6);
			nd->has_ll = 1;
		}
		off += olen;
	}
	return 0;
}

static size_t
build_nd(uint8_t *out, const uint8_t eth_dst[6], const uint8_t mac[6], const uint8_t src[16],
	 const uint8_t dst[16], uint8_t type, uint8_t flags, const uint8_t target[16])
{
	uint8_t *ip = out + ETH_HLEN, *icmp = ip + IPV6_HLEN;

	memset(out, 0, ETH_HLEN + IPV6_HLEN + ND_LEN);
	memcpy(out, eth_dst, 6);
	memcpy(out + 6, mac, 6);
	dp_wr16(out + 12, 0x86dd);
	ip[0] = 0x60;
	dp_wr16(ip + 4, ND_LEN);
	ip[6] = IPPROTO_ICMPV6_;
	ip[7] = 255;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	icmp[0] = type;
	icmp[4] = flags;
	memcpy(icmp + 8, target, 16);
	icmp[24] = type == ND_NS ? ND_OPT_SLLA : ND_OPT_TLLA;
	icmp[25] = 1;
	memcpy(icmp + 26, mac, 6);
	dp_wr16(icmp + 2, icmp6_cksum(ip, icmp, ND_LEN));
	return ETH_HLEN + IPV6_HLEN + ND_LEN;
}

size_t
dp_build_na(uint8_t *out, const uint8_t eth_dst[6], const uint8_t mac[6], const uint8_t src[16],
	    const uint8_t dst[16], const uint8_t target[16], uint8_t flags)
{
	return build_nd(out, eth_dst, mac, src, dst, ND_NA, flags, target);
}

void
dp_ipv6_mcast_mac(const uint8_t ip[16], uint8_t mac[6])
{
	mac[0] = 0x33;
	mac[1] = 0x33;
	memcpy(mac + 2, ip + 12, 4);
}

size_t
dp_build_ns(uint8_t *out, const uint8_t mac[6], const uint8_t src[16], const uint8_t target[16])
{
	uint8_t snm[16] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 0 };
	uint8_t emac[6];

	memcpy(snm + 13, target + 13, 3);
	dp_ipv6_mcast_mac(snm, emac);
	return build_nd(out, emac, mac, src, snm, ND_NS, 0, target);
}

/* ---- ICMP ------------------------------------------------------------------ */

int
dp_icmp_is_error(const struct dp_pkt *p)
{
	uint8_t t = p->icmp_type;

	if (p->l4proto == IPPROTO_ICMP_)
		return t == 3 || t == 4 || t == 5 || t == 11 || t == 12;
	if (p->l4proto == IPPROTO_ICMPV6_)
		return t < 128;
	return 0;
}

/* Ethernet + IP header of a reply to p (MACs swapped), protocol proto, l4len bytes after. */
static uint8_t *
reply_headers(uint8_t *out, const uint8_t *frame, const struct dp_pkt *p, const uint8_t *src,
	      const uint8_t *dst, uint8_t proto, uint32_t l4len)
{
	uint8_t *ip = out + ETH_HLEN;

	memcpy(out, frame + 6, 6);
	memcpy(out + 6, frame, 6);
	if (p->family == 4) {
		dp_wr16(out + 12, 0x0800);
		memset(ip, 0, 20);
		ip[0] = 0x45;
		dp_wr16(ip + 2, (uint16_t)(20 + l4len));
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, src, 4);
		memcpy(ip + 16, dst, 4);
		dp_ipv4_cksum(ip);
		return ip + 20;
	}
	dp_wr16(out + 12, 0x86dd);
	memset(ip, 0, IPV6_HLEN);
	ip[0] = 0x60;
	dp_wr16(ip + 4, (uint16_t)l4len);
	ip[6] = proto;
	ip[7] = 64;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	return ip + IPV6_HLEN;
}

static void
icmp_cksum(uint8_t *icmp, uint32_t len, const struct dp_pkt *p, const uint8_t *ip)
{
	dp_wr16(icmp + 2, 0);
	if (p->family == 4)
		dp_wr16(icmp + 2, dp_csum_final(dp_csum_add(0, icmp, len)));
	else
		dp_wr16(icmp + 2, icmp6_cksum(ip, icmp, len));
}

size_t
dp_build_time_exceeded(uint8_t *out, size_t outlen, const uint8_t *frame,
		       const struct dp_pkt *p, const uint8_t *from)
{
	uint32_t iphl = p->family == 4 ? 20 : IPV6_HLEN;
	uint32_t max = p->family == 4 ? 576 : 1280;
	uint32_t quote = p->ip_len, total;
	uint8_t *icmp;

	if (quote > max - iphl - 8)
		quote = max - iphl - 8;
	total = ETH_HLEN + iphl + 8 + quote;
	if (total > outlen || (p->family != 4 && p->family != 6))
		return 0;
	icmp = reply_headers(out, frame, p, from, p->src, p->family == 4 ? IPPROTO_ICMP_ :
			     IPPROTO_ICMPV6_, 8 + quote);
	icmp[0] = p->family == 4 ? 11 : 3;
	icmp[1] = 0;
	memset(icmp + 2, 0, 6);
	memcpy(icmp + 8, frame + p->l3_off, quote);
	icmp_cksum(icmp, 8 + quote, p, out + ETH_HLEN);
	if (total < ETH_MIN) {
		memset(out + total, 0, ETH_MIN - total);
		total = ETH_MIN;
	}
	return total;
}

size_t
dp_build_echo_reply(uint8_t *out, size_t outlen, const uint8_t *frame, const struct dp_pkt *p)
{
	uint32_t iphl = p->family == 4 ? 20 : IPV6_HLEN;
	uint32_t l4len = p->ip_len - p->l3_len, total = ETH_HLEN + iphl + l4len;
	uint8_t *icmp;

	if (!((p->l4proto == IPPROTO_ICMP_ && p->icmp_type == 8) ||
	      (p->l4proto == IPPROTO_ICMPV6_ && p->icmp_type == 128)) || total > outlen)
		return 0;
	icmp = reply_headers(out, frame, p, p->dst, p->src, p->l4proto, l4len);
	memcpy(icmp, frame + p->l4_off, l4len);
	icmp[0] = p->family == 4 ? 0 : 129;
	icmp_cksum(icmp, l4len, p, out + ETH_HLEN);
	if (total < ETH_MIN) {
		memset(out + total, 0, ETH_MIN - total);
		total = ETH_MIN;
	}
	return total;
}

uint8_t
dp_ttl_dec(uint8_t *ip, int family)
{
	if (family == 6)
		return --ip[7];
	ip[8]--;
	dp_ipv4_cksum(ip);
	return ip[8];
}
