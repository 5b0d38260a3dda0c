/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * http.c: HTTP/1.x request-head extraction (RFC 9112 sections 2-3, 5-6;
 * RFC 9110 7.2 Host, 9.3.6 CONNECT).
 *
 * The head is walked line by line over what has arrived: each complete line
 * is checked as soon as it is there (so NOT_HTTP and MALFORMED come early),
 * and OK is only returned at the blank line that ends the head (CRLF CRLF,
 * or bare LF LF). A line ends at LF; one CR right before it is part of the
 * terminator, a CR anywhere else is an error.
 *
 * Strict where leniency would let a client show the appliance one name and
 * the server another: obs-fold, whitespace before the colon, control bytes,
 * conflicting Content-Length values, Transfer-Encoding whose last coding is
 * not chunked, and malformed Host values are all MALFORMED.
 */
#include <stdint.h>
#include <string.h>

#include "http.h"

#define METHOD_MAX 24

struct span {
	const uint8_t *p;
	size_t n;
};

static int
is_tchar(uint8_t c)
{
	/* RFC 9110 5.6.2 token characters */
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 1;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
is_method_char(uint8_t c)
{
	/* every registered method is upper-case letters and '-' (some use '_') */
	return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

static int
is_field_vchar(uint8_t c)
{
	/* VCHAR / obs-text / SP / HTAB */
	return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

static uint8_t
lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static int
span_ieq(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	if (s.n != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (lower(s.p[i]) != (uint8_t)lit[i])
			return 0;
	return 1;
}

static struct span
trim_ows(struct span s)
{
	while (s.n > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
		s.n--;
	return s;
}

static const struct {
	const char *name;
	uint8_t m;
} methods[] = {
	{ "GET", HTTP_M_GET }, { "HEAD", HTTP_M_HEAD }, { "POST", HTTP_M_POST },
	{ "PUT", HTTP_M_PUT }, { "DELETE", HTTP_M_DELETE },
	{ "OPTIONS", HTTP_M_OPTIONS }, { "PATCH", HTTP_M_PATCH },
	{ "CONNECT", HTTP_M_CONNECT }, { "TRACE", HTTP_M_TRACE },
};

static uint8_t
method_id(struct span m)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (m.n == strlen(methods[i].name) &&
		    memcmp(m.p, methods[i].name, m.n) == 0)
			return methods[i].m;
	return HTTP_M_OTHER;
}

/* reg-name / IPv4 characters (RFC 3986 3.2.2) plus obs-text kept raw */
static int
is_host_char(uint8_t c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    c >= 0x80)
		return 1;
	return strchr("-._~!$&'()*+,;=%", c) != NULL;
}

static int
is_ip6_char(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

/*
 * Split "host[:port]" (IPv6 in brackets) into name and port. need_port: the
 * port is mandatory (CONNECT). Returns 0 or -1 on a grammar error.
 */
static int
parse_authority(struct span a, int need_port, struct span *host, uint16_t *port)
{
	size_t i = 0, hend;
	uint32_t v = 0;

	*port = 0;
	if (a.n > 0 && a.p[0] == '[') {
		for (i = 1; i < a.n && a.p[i] != ']'; i++)
			if (!is_ip6_char(a.p[i]))
				return -1;
		if (i == a.n || i == 1)
			return -1;                  /* no ']' or empty literal */
		host->p = a.p + 1;
		host->n = i - 1;
		i++;                                /* past ']' */
		hend = i;
	} else {
		for (i = 0; i < a.n && a.p[i] != ':'; i++)
			if (!is_host_char(a.p[i]))
				return -1;
		host->p = a.p;
		host->n = i;
		hend = i;
	}
	if (host->n > HTTP_NAME_MAX)
		return -1;
	if (hend == a.n)
		return need_port ? -1 : 0;
	if (a.p[hend] != ':')
		return -1;
	/* port = *DIGIT; an empty port means the default (RFC 3986 3.2.3) */
	if (hend + 1 == a.n)
		return need_port ? -1 : 0;
	if (a.n - hend - 1 > 5)
		return -1;
	for (i = hend + 1; i < a.n; i++) {
		if (a.p[i] < '0' || a.p[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(a.p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

struct state {
	struct span uri_host;       /* from absolute-form or CONNECT */
	uint16_t uri_port;
	int te_seen;                /* a Transfer-Encoding header was seen */
	int te_last_chunked;        /* the last coding seen so far is chunked */
};

/* Request line: method SP request-target SP HTTP-version. */
static enum http_result
parse_request_line(struct span l, struct http_request *r, struct state *st)
{
	struct span m, t, a;
	size_t i, sp1, sp2;

	for (sp1 = 0; sp1 < l.n && l.p[sp1] != ' '; sp1++)
		;
	/* the version must be HTTP/1.x, or this is not an HTTP/1.x request */
	if (l.n < 9 || memcmp(l.p + l.n - 9, " HTTP/1.", 8) != 0)
		return HTTP_NOT_HTTP;
	if (l.p[l.n - 1] != '0' && l.p[l.n - 1] != '1')
		return HTTP_MALFORMED;
	r->version_minor = (uint8_t)(l.p[l.n - 1] - '0');
	sp2 = l.n - 9;
	if (sp1 >= sp2)
		return HTTP_MALFORMED;      /* no request-target */
	m.p = l.p;
	m.n = sp1;
	t.p = l.p + sp1 + 1;
	t.n = sp2 - sp1 - 1;
	if (t.n == 0)
		return HTTP_MALFORMED;
	for (i = 0; i < t.n; i++)
		if (t.p[i] <= 0x20 || t.p[i] == 0x7f)
			return HTTP_MALFORMED;  /* one SP each side, no CTL */
	r->method = method_id(m);

	if (r->method == HTTP_M_CONNECT) {
		/* authority-form, port required (RFC 9110 9.3.6) */
		if (parse_authority(t, 1, &st->uri_host, &st->uri_port) != 0 ||
		    st->uri_host.n == 0)
			return HTTP_MALFORMED;
		r->has_uri_host = 1;
		return HTTP_OK;
	}
	if (t.p[0] == '/')
		return HTTP_OK;                 /* origin-form */
	if (t.n == 1 && t.p[0] == '*')
		return r->method == HTTP_M_OPTIONS ? HTTP_OK : HTTP_MALFORMED;

	/* absolute-form: scheme "://" authority [path-abempty] [? query] */
	if (!((t.p[0] >= 'a' && t.p[0] <= 'z') || (t.p[0] >= 'A' && t.p[0] <= 'Z')))
		return HTTP_MALFORMED;
	for (i = 1; i < t.n && t.p[i] != ':'; i++) {
		uint8_t c = t.p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'))
			return HTTP_MALFORMED;
	}
	if (i + 3 > t.n || t.p[i + 1] != '/' || t.p[i + 2] != '/')
		return HTTP_MALFORMED;
	a.p = t.p + i + 3;
	for (a.n = 0; a.p + a.n < t.p + t.n; a.n++)
		if (a.p[a.n] == '/' || a.p[a.n] == '?' || a.p[a.n] == '#')
			break;
	/* userinfo@ is not part of the host: the host is after the last '@' */
	for (i = a.n; i > 0; i--) {
		if (a.p[i - 1] == '@') {
			a.p += i;
			a.n -= i;
			break;
		}
	}
	if (parse_authority(a, 0, &st->uri_host, &st->uri_port) != 0 ||
	    st->uri_host.n == 0)
		return HTTP_MALFORMED;
	r->has_uri_host = 1;
	return HTTP_OK;
}

static int
parse_content_length(struct span v, struct http_request *r)
{
	uint64_t n = 0;

	if (v.n == 0)
		return -1;
	for (size_t i = 0; i < v.n; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -1;
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(v.p[i] - '0');
	}
	if (r->has_content_length && r->content_length != n)
		return -1;              /* conflicting lengths (RFC 9112 6.3) */
	r->has_content_length = 1;
	r->content_length = n;
	return 0;
}

/* Walk a comma-separated list; cb sees each trimmed, non-empty member. */
static void
list_each(struct span v, void (*cb)(struct span, void *), void *arg)
{
	size_t s = 0;

	for (size_t i = 0; i <= v.n; i++) {
		if (i == v.n || v.p[i] == ',') {
			struct span m = { v.p + s, i - s };

			m = trim_ows(m);
			if (m.n > 0)
				cb(m, arg);
			s = i + 1;
		}
	}
}

static void
te_member(struct span m, void *arg)
{
	struct state *st = arg;
	size_t n;

	/* transfer-coding = token *( OWS ";" OWS transfer-parameter ) */
	for (n = 0; n < m.n && m.p[n] != ';' && m.p[n] != ' ' && m.p[n] != '\t'; n++)
		;
	m.n = n;
	st->te_last_chunked = span_ieq(m, "chunked");
}

static void
upgrade_member(struct span m, void *arg)
{
	struct http_request *r = arg;
	size_t n;

	/* protocol-name [ "/" protocol-version ] */
	for (n = 0; n < m.n && m.p[n] != '/'; n++)
		;
	m.n = n;
	r->has_upgrade = 1;
	if (span_ieq(m, "websocket"))
		r->upgrade_websocket = 1;
}

static enum http_result
parse_header(struct span l, struct http_request *r, struct state *st)
{
	struct span name, v, host;
	uint16_t port;
	size_t i;

	if (l.p[0] == ' ' || l.p[0] == '\t')
		return HTTP_MALFORMED;          /* obs-fold (RFC 9112 5.2) */
	for (i = 0; i < l.n && l.p[i] != ':'; i++)
		if (!is_tchar(l.p[i]))
			return HTTP_MALFORMED;  /* incl. whitespace before ':' */
	if (i == 0 || i == l.n)
		return HTTP_MALFORMED;
	name.p = l.p;
	name.n = i;
	v.p = l.p + i + 1;
	v.n = l.n - i - 1;
	for (i = 0; i < v.n; i++)
		if (!is_field_vchar(v.p[i]))
			return HTTP_MALFORMED;
	v = trim_ows(v);

	if (span_ieq(name, "host")) {
		if (r->host_count < UINT8_MAX)
			r->host_count++;
		if (parse_authority(v, 0, &host, &port) != 0)
			return HTTP_MALFORMED;
		if (r->host_count == 1) {
			memcpy(r->host, host.p, host.n);
			r->host[host.n] = '\0';
			r->host_len = (uint16_t)host.n;
			if (!r->has_uri_host) {
				memcpy(r->name, host.p, host.n);
				r->name[host.n] = '\0';
				r->name_len = (uint16_t)host.n;
				r->name_port = port;
			}
		}
	} else if (span_ieq(name, "content-length")) {
		if (parse_content_length(v, r) != 0)
			return HTTP_MALFORMED;
	} else if (span_ieq(name, "transfer-encoding")) {
		st->te_seen = 1;
		list_each(v, te_member, st);
	} else if (span_ieq(name, "upgrade")) {
		list_each(v, upgrade_member, r);
	}
	return HTTP_OK;
}

int
http_looks_like(const uint8_t *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len && i <= METHOD_MAX; i++) {
		if (buf[i] == ' ')
			return i > 0;
		if (!is_method_char(buf[i]))
			return 0;
	}
	return 0;
}

static int
host_ieq(const char *a, size_t an, struct span b)
{
	if (an != b.n)
		return 0;
	for (size_t i = 0; i < an; i++)
		if (lower((uint8_t)a[i]) != lower(b.p[i]))
			return 0;
	return 1;
}

enum http_result
http_parse_request(const uint8_t *buf, size_t len, size_t max_len,
		   struct http_request *out)
{
	struct state st;
	size_t lim = len < max_len ? len : max_len;
	size_t pos = 0, eol, n;
	struct span l;
	enum http_result rc;
	int first = 1;

	memset(out, 0, sizeof(*out));
	memset(&st, 0, sizeof(st));

	/* the method is visible early: decide NOT_HTTP from the first bytes */
	for (n = 0; n < lim && buf[n] != ' '; n++)
		if (!is_method_char(buf[n]) || n >= METHOD_MAX)
			return HTTP_NOT_HTTP;
	if (n < lim && n == 0)
		return HTTP_NOT_HTTP;

	for (;;) {
		const uint8_t *lf = memchr(buf + pos, '\n', lim - pos);

		if (lf == NULL)
			return len >= max_len ? HTTP_TOO_BIG : HTTP_NEED_MORE;
		eol = (size_t)(lf - buf);
		l.p = buf + pos;
		l.n = eol - pos;
		if (l.n > 0 && l.p[l.n - 1] == '\r')
			l.n--;
		for (size_t i = 0; i < l.n; i++)
			if (l.p[i] == '\r')
				return first ? HTTP_NOT_HTTP : HTTP_MALFORMED;
		pos = eol + 1;
		if (first) {
			rc = parse_request_line(l, out, &st);
			if (rc != HTTP_OK)
				return rc;
			if (st.uri_host.n > 0) {
				memcpy(out->name, st.uri_host.p, st.uri_host.n);
				out->name[st.uri_host.n] = '\0';
				out->name_len = (uint16_t)st.uri_host.n;
				out->name_port = st.uri_port;
			}
			first = 0;
			continue;
		}
		if (l.n == 0)
			break;                          /* end of the head */
		rc = parse_header(l, out, &st);
		if (rc != HTTP_OK)
			return rc;
	}

	if (st.te_seen) {
		/* chunked must be the final coding of a request (RFC 9112 6.1) */
		if (!st.te_last_chunked)
			return HTTP_MALFORMED;
		out->chunked = 1;
	}
	if (out->has_uri_host && out->host_count > 0 &&
	    !host_ieq(out->host, out->host_len, st.uri_host))
		out->host_mismatch = 1;
	out->head_len = (uint32_t)pos;
	return HTTP_OK;
}
