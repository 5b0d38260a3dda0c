/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_inspect.c: run the extractors over a pending flow's stream (see
 * dp_inspect.h).
 */
#include <arpa/inet.h>
#include <string.h>

#include "dp_inspect.h"
#include "http.h"
#include "ja4.h"
#include "tls.h"

#define AN(x) (1u << (x))

int
dp_name_is_ip_literal(const char *name, size_t len)
{
	char tmp[64];
	uint8_t addr[16];

	if (len == 0 || len >= sizeof(tmp))
		return 0;
	memcpy(tmp, name, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET, tmp, addr) == 1 || inet_pton(AF_INET6, tmp, addr) == 1;
}

static void
out_reset(struct dp_insp_out *out)
{
	memset(out, 0, offsetof(struct dp_insp_out, alpn));
	out->ja4[0] = '\0';
	out->name[0] = '\0';
}

static void
from_tls(const struct tls_hello *h, uint16_t dport, struct dp_insp_out *out)
{
	out->app = DP_APP_TLS;
	out->unit_len = h->consumed;
	out->tls_versions = h->versions;
	/* decided on the name whatever the port; the port's protocol is recorded */
	if (dport == 80)
		out->anomalies |= AN(DP_AN_NON_HTTP_ON_HTTP_PORT);
	out->ech = h->has_ech;
	out->pqc = h->has_pqc;
	if (h->records > 1)
		out->anomalies |= AN(DP_AN_RECORD_FRAGMENTED);
	if (h->sni_count > 1)
		out->anomalies |= AN(DP_AN_MULTIPLE_SNI);
	if (h->sni_len == 0) {
		out->anomalies |= AN(DP_AN_NO_SNI);
	} else {
		out->name_kind = DP_NAME_SNI;
		out->name_len = h->sni_len > DP_NAME_MAX ? DP_NAME_MAX : h->sni_len;
		memcpy(out->name, h->sni, out->name_len);
		out->name[out->name_len] = '\0';
		if (h->sni_truncated)
			out->anomalies |= AN(DP_AN_INVALID_NAME);
		if (dp_name_is_ip_literal(out->name, out->name_len))
			out->anomalies |= AN(DP_AN_IP_LITERAL_SNI);
	}
	if (h->alpn_len > 0) {
		out->alpn_len = h->alpn_len > DP_ALPN_BYTES ? DP_ALPN_BYTES : h->alpn_len;
		memcpy(out->alpn, h->alpn, out->alpn_len);
	}
	/* a hello with more lists than tls_hello keeps has no trustworthy JA4 */
	if (tls_ja4(h, 0, out->ja4, sizeof(out->ja4)) != 0)
		out->ja4[0] = '\0';
}

static void
from_http(const struct http_request *r, uint16_t dport, struct dp_insp_out *out)
{
	out->app = DP_APP_HTTP;
	out->unit_len = r->head_len;
	if (r->method == HTTP_M_CONNECT)
		out->httpf |= DP_HTTPF_CONNECT;
	if (r->has_upgrade)
		out->httpf |= DP_HTTPF_UPGRADE;
	if (r->chunked)
		out->httpf |= DP_HTTPF_CHUNKED;
	if (r->has_content_length) {
		out->httpf |= DP_HTTPF_CLEN;
		out->content_length = r->content_length;
	}
	/* both framings at once: a server may pick the other one (request smuggling) */
	if (r->chunked && r->has_content_length)
		out->anomalies |= AN(DP_AN_HTTP_SMUGGLING);
	if (dport == 443)
		out->anomalies |= AN(DP_AN_NON_TLS_ON_TLS_PORT);
	if (r->host_count > 1)
		out->anomalies |= AN(DP_AN_MULTIPLE_HOST);
	if (r->host_mismatch)
		out->anomalies |= AN(DP_AN_HOST_MISMATCH);
	if (r->name_len > 0) {
		out->name_kind = DP_NAME_HOST;
		out->name_len = r->name_len > DP_NAME_MAX ? DP_NAME_MAX : r->name_len;
		memcpy(out->name, r->name, out->name_len);
		out->name[out->name_len] = '\0';
	}
}

static void
unknown(uint16_t dport, struct dp_insp_out *out)
{
	out->app = DP_APP_UNKNOWN;
	out->anomalies |= AN(DP_AN_UNKNOWN_PROTOCOL);
	if (dport == 443)
		out->anomalies |= AN(DP_AN_NON_TLS_ON_TLS_PORT);
	else if (dport == 80)
		out->anomalies |= AN(DP_AN_NON_HTTP_ON_HTTP_PORT);
}

enum dp_insp_res
dp_inspect(const uint8_t *buf, size_t len, size_t max_len, uint16_t dport,
	   struct dp_insp_out *out)
{
	struct tls_hello h;
	struct http_request r;
	size_t need = 0;

	out_reset(out);
	if (len == 0)
		return DP_INSP_MORE;
	switch (tls_parse_records(buf, len, max_len, &h, &need)) {
	case TLS_OK:
		from_tls(&h, dport, out);
		return DP_INSP_DONE;
	case TLS_NEED_MORE:
		out->app = DP_APP_TLS;
		out->need = need > UINT32_MAX ? UINT32_MAX : (uint32_t)need;
		return DP_INSP_MORE;
	case TLS_TOO_BIG:
		out->app = DP_APP_TLS;
		out->anomalies |= AN(DP_AN_OVERSIZE_CLIENTHELLO);
		return DP_INSP_DONE;
	case TLS_MALFORMED:
		out->app = DP_APP_TLS;
		out->anomalies |= AN(DP_AN_MALFORMED_CLIENTHELLO);
		return DP_INSP_DONE;
	case TLS_NOT_TLS:
	default:
		break;
	}
	switch (http_parse_request(buf, len, max_len, &r)) {
	case HTTP_OK:
		from_http(&r, dport, out);
		return DP_INSP_DONE;
	case HTTP_NEED_MORE:
		return DP_INSP_MORE;
	case HTTP_TOO_BIG:
	case HTTP_MALFORMED:
		/* an HTTP request line that does not make a valid head */
		out->app = DP_APP_HTTP;
		if (dport == 80)
			out->anomalies |= AN(DP_AN_NON_HTTP_ON_HTTP_PORT);
		return DP_INSP_DONE;
	case HTTP_NOT_HTTP:
	default:
		unknown(dport, out);
		return DP_INSP_DONE;
	}
}

void
dp_inspect_partial(const uint8_t *buf, size_t len, struct dp_insp_out *out)
{
	out_reset(out);
	if (len > 0 && tls_looks_like(buf, len))
		out->app = DP_APP_TLS;
	else if (len > 0 && http_looks_like(buf, len))
		out->app = DP_APP_HTTP;
}

int
dp_inspect_looks_client(const uint8_t *buf, size_t len)
{
	return len > 0 && (tls_looks_like(buf, len) || http_looks_like(buf, len));
}
