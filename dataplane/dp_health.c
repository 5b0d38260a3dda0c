/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_health.c: the health rule and the stateless health-check responder
 * (see dp_health.h).
 */
#include <stdio.h>
#include <string.h>

#include "dp_bytes.h"
#include "dp_health.h"

#define IPPROTO_TCP_ 6
#define TCP_HLEN 20
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define ACK_SLACK 4096           /* our answer is shorter: an ACK past it is not ours */

uint32_t
dp_health_eval(const struct dp_health_in *in)
{
	if (!in->has_policy)
		return DP_HW_NO_POLICY;
	if (in->stuck_worker >= 0)
		return DP_HW_WORKER_STUCK | ((uint32_t)(in->stuck_worker & 0xff) << 8);
	if (!in->ctl_connected && in->ctl_grace_ns != 0 && in->ctl_down_ns > in->ctl_grace_ns)
		return DP_HW_CTL_DOWN;
	return DP_HW_OK;
}

void
dp_health_reason(uint32_t word, char *out, size_t outlen)
{
	switch (word & 0xff) {
	case DP_HW_OK:
		snprintf(out, outlen, "ok");
		break;
	case DP_HW_STARTING:
		snprintf(out, outlen, "starting");
		break;
	case DP_HW_NO_POLICY:
		snprintf(out, outlen, "no policy loaded");
		break;
	case DP_HW_WORKER_STUCK:
		snprintf(out, outlen, "worker %u stuck", (word >> 8) & 0xff);
		break;
	case DP_HW_CTL_DOWN:
		snprintf(out, outlen, "control plane unreachable");
		break;
	default:
		snprintf(out, outlen, "unknown");
		break;
	}
}

static inline uint64_t
mix(uint64_t h, uint64_t v)
{
	h ^= v;
	h *= 0x9e3779b97f4a7c15ull;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 29);
}

uint32_t
dp_health_isn(uint64_t key, const struct dp_pkt *p)
{
	uint64_t w[4], h = key;

	memcpy(w, p->src, 16);
	memcpy(w + 2, p->dst, 16);
	for (int i = 0; i < 4; i++)
		h = mix(h, w[i]);
	h = mix(h, ((uint64_t)p->sport << 16) | p->dport | ((uint64_t)p->family << 32));
	return (uint32_t)(h ^ (h >> 32));
}

/* Status and body for the request at req (len bytes). */
static int
http_answer(const uint8_t *req, size_t len, uint32_t word, char *buf, size_t cap)
{
	const char *sp, *end = memchr(req, '\n', len);
	char reason[64], body[96];
	int code, head = 0;
	size_t plen;

	if (end != NULL && len >= 4 && memcmp(req, "GET ", 4) == 0)
		sp = (const char *)req + 4;
	else if (end != NULL && len >= 5 && memcmp(req, "HEAD ", 5) == 0)
		sp = (const char *)req + 5, head = 1;
	else
		sp = NULL;
	if (sp == NULL) {
		code = 400;
		snprintf(body, sizeof(body), "bad request\n");
	} else {
		const char *q = memchr(sp, ' ', (size_t)(end - sp));

		plen = q ? (size_t)(q - sp) : 0;
		if ((plen == 8 && memcmp(sp, "/healthz", 8) == 0) || (plen == 1 && sp[0] == '/') ||
		    (plen > 8 && memcmp(sp, "/healthz?", 9) == 0)) {
			dp_health_reason(word, reason, sizeof(reason));
			code = word == DP_HW_OK ? 200 : 503;
			snprintf(body, sizeof(body), word == DP_HW_OK ? "%s\n" : "unhealthy: %s\n",
				 reason);
		} else {
			code = 404;
			snprintf(body, sizeof(body), "not found\n");
		}
	}
	return snprintf(buf, cap, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
			"Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n%s",
			code, code == 200 ? "OK" : code == 503 ? "Service Unavailable" :
			code == 404 ? "Not Found" : "Bad Request", strlen(body), head ? "" : body);
}

/* The reply frame: p's L2 with MACs swapped, a new IP header, TCP, data. */
static int
build(uint8_t *out, size_t outlen, const uint8_t *frame, const struct dp_pkt *p,
      uint32_t seq, uint32_t ack, uint8_t flags, const char *data, size_t dlen)
{
	uint32_t iphl = p->family == 4 ? 20 : 40, l4len = TCP_HLEN + (uint32_t)dlen;
	size_t total = (size_t)p->l2_len + iphl + l4len;
	uint8_t *ip = out + p->l2_len, *tcp = ip + iphl;
	uint64_t sum;

	if (total > outlen || p->l2_len < 14)
		return -1;
	memcpy(out, frame, p->l2_len);
	memcpy(out, frame + 6, 6);
	memcpy(out + 6, frame, 6);
	memset(ip, 0, iphl + TCP_HLEN);
	if (p->family == 4) {
		ip[0] = 0x45;
		dp_wr16(ip + 2, (uint16_t)(iphl + l4len));
		dp_wr16(ip + 6, 0x4000);
		ip[8] = 64;
		ip[9] = IPPROTO_TCP_;
		memcpy(ip + 12, p->dst, 4);
		memcpy(ip + 16, p->src, 4);
		dp_ipv4_cksum(ip);
	} else {
		ip[0] = 0x60;
		dp_wr16(ip + 4, (uint16_t)l4len);
		ip[6] = IPPROTO_TCP_;
		ip[7] = 64;
		memcpy(ip + 8, p->dst, 16);
		memcpy(ip + 24, p->src, 16);
	}
	dp_wr16(tcp, p->dport);
	dp_wr16(tcp + 2, p->sport);
	dp_wr32(tcp + 4, seq);
	dp_wr32(tcp + 8, ack);
	tcp[12] = (TCP_HLEN / 4) << 4;
	tcp[13] = flags;
	dp_wr16(tcp + 14, 65535);
	if (dlen)
		memcpy(tcp + TCP_HLEN, data, dlen);
	sum = dp_csum_pseudo(p->family, p->dst, p->src, IPPROTO_TCP_, l4len);
	dp_wr16(tcp + 16, dp_csum_final(dp_csum_add(sum, tcp, l4len)));
	if (total < 60) {
		memset(out + total, 0, 60 - total);
		total = 60;
	}
	return (int)total;
}

int
dp_health_answer(const uint8_t *frame, const struct dp_pkt *p, uint64_t key, uint32_t word,
		 enum dp_health_proto proto, uint8_t *out, size_t outlen)
{
	uint8_t fl = p->tcp_flags;
	uint32_t isn, acked, end;
	char resp[512];
	int n;

	if (p->l4proto != IPPROTO_TCP_ || (p->family != 4 && p->family != 6))
		return -1;
	if (fl & TCP_RST)
		return 0;
	isn = dp_health_isn(key, p);
	end = p->seq + p->payload_len + ((fl & TCP_SYN) ? 1 : 0) + ((fl & TCP_FIN) ? 1 : 0);
	if ((fl & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		if (proto == DP_HEALTH_TCP && word != DP_HW_OK)
			return build(out, outlen, frame, p, 0, end, TCP_RST | TCP_ACK, NULL, 0);
		return build(out, outlen, frame, p, isn, end, TCP_SYN | TCP_ACK, NULL, 0);
	}
	if (!(fl & TCP_ACK))
		return 0;
	acked = p->ack - (isn + 1);
	if (acked > ACK_SLACK)          /* not a connection we accepted */
		return build(out, outlen, frame, p, p->ack, 0, TCP_RST, NULL, 0);
	if (p->payload_len > 0) {
		if (acked != 0)         /* answered already: acknowledge what came */
			return build(out, outlen, frame, p, p->ack, end, TCP_ACK, NULL, 0);
		n = http_answer(frame + p->payload_off, p->payload_len, word, resp, sizeof(resp));
		if (n < 0 || (size_t)n >= sizeof(resp))
			return -1;
		return build(out, outlen, frame, p, isn + 1, end, TCP_ACK | TCP_PSH | TCP_FIN, resp,
			     (size_t)n);
	}
	if (fl & TCP_FIN)
		return build(out, outlen, frame, p, p->ack, end,
			     acked == 0 ? TCP_FIN | TCP_ACK : TCP_ACK, NULL, 0);
	return 0;
}
