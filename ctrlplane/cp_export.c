/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_export.c: syslog framing and the OCSF rendering of audit lines
 * (see cp_export.h, docs/audit.md "Exports").
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cp_export.h"
#include "cp_json.h"

#define MEMBERS 40

struct out {
	char *p;
	size_t len, cap;
	bool over;
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->over || o->len + n + 1 > o->cap) {
		o->over = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void
lit(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
putf(struct out *o, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		o->over = true;
		return;
	}
	put(o, tmp, (size_t)n);
}

struct rec {
	struct cp_json_member m[MEMBERS];
	int n;
};

static const struct cp_json_member *
get(const struct rec *r, const char *key)
{
	size_t kl = strlen(key);

	for (int i = 0; i < r->n; i++)
		if (r->m[i].key_len == kl && memcmp(r->m[i].key, key, kl) == 0)
			return &r->m[i];
	return NULL;
}

static bool
is(const struct cp_json_member *m, const char *v)
{
	size_t n = strlen(v);

	return m != NULL && m->val_len == n && memcmp(m->val, v, n) == 0;
}

static bool
is_null(const struct cp_json_member *m)
{
	return m == NULL || is(m, "null");
}

/* the raw JSON value of key (already valid, strictly escaped JSON) */
static void
raw(struct out *o, const struct rec *r, const char *key)
{
	const struct cp_json_member *m = get(r, key);

	if (m == NULL)
		lit(o, "null");
	else
		put(o, m->val, m->val_len);
}

/* "2026-11-25T23:51:24.123456Z" (quotes included) -> ms since the epoch */
static long long
ts_ms(const struct cp_json_member *m)
{
	struct tm tm;
	unsigned us;
	char buf[32];

	if (m == NULL || m->val_len != 29)
		return 0;
	memcpy(buf, m->val + 1, 27);
	buf[27] = '\0';
	memset(&tm, 0, sizeof(tm));
	if (sscanf(buf, "%4d-%2d-%2dT%2d:%2d:%2d.%6uZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us) != 7)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm) * 1000 + us / 1000;
}

static int
scan(const char *line, size_t len, struct rec *r)
{
	size_t off;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	r->n = cp_json_scan_object(line, len, r->m, MEMBERS, &off);
	if (r->n < 4 || r->m[1].key_len != 4 || memcmp(r->m[1].key, "type", 4) != 0)
		return -EINVAL;
	return 0;
}

static void
endpoint(struct out *o, const struct rec *r, const char *ip, const char *port, bool server)
{
	const struct cp_json_member *sni = get(r, "sni"), *host = get(r, "host");

	lit(o, "{\"ip\":");
	raw(o, r, ip);
	lit(o, ",\"port\":");
	raw(o, r, port);
	if (server && (!is_null(sni) || !is_null(host))) {
		lit(o, ",\"hostname\":");
		raw(o, r, !is_null(sni) ? "sni" : "host");
	}
	lit(o, "}");
}

static int
ocsf(const struct rec *r, char *buf, size_t cap)
{
	struct out o = { .p = buf, .cap = cap };
	const struct cp_json_member *type = get(r, "type"), *verdict = get(r, "verdict");
	const struct cp_json_member *proto = get(r, "proto"), *close = get(r, "close");
	bool decision = is(type, "\"flow.decision\""), deny = is(verdict, "\"deny\"");
	long long t = ts_ms(get(r, "ts"));
	int activity;
	const char *aname;
	int pnum = -1;

	if (!decision && !is(type, "\"flow.end\""))
		return -ENOENT;
	if (decision) {
		activity = deny ? 5 : 1;
		aname = deny ? "Refuse" : "Open";
	} else if (is(close, "\"rst\"")) {
		activity = 3;
		aname = "Reset";
	} else {
		activity = 2;
		aname = "Close";
	}
	if (is(proto, "\"tcp\""))
		pnum = 6;
	else if (is(proto, "\"udp\""))
		pnum = 17;
	else if (is(proto, "\"icmp\""))
		pnum = 1;
	else if (is(proto, "\"ipv6-icmp\""))
		pnum = 58;
	putf(&o, "{\"class_uid\":4001,\"class_name\":\"Network Activity\",\"category_uid\":4,"
	     "\"category_name\":\"Network Activity\",\"activity_id\":%d,\"activity_name\":\"%s\","
	     "\"type_uid\":%d,\"time\":%lld,\"severity_id\":1,\"severity\":\"Informational\","
	     "\"status_id\":1,\"status\":\"Success\",", activity, aname, 400100 + activity, t);
	putf(&o, "\"action_id\":%d,\"action\":\"%s\",\"disposition_id\":%d,\"disposition\":\"%s\",",
	     deny ? 2 : 1, deny ? "Denied" : "Allowed", deny ? 2 : 1, deny ? "Blocked" : "Allowed");
	lit(&o, "\"metadata\":{\"version\":\"" CP_OCSF_VERSION "\",\"product\":{\"name\":\"chokepoint\","
	    "\"vendor_name\":\"chokepoint\"},\"log_name\":\"audit\",\"uid\":");
	raw(&o, r, "hash");
	lit(&o, ",\"sequence\":");
	raw(&o, r, "seq");
	lit(&o, "},\"src_endpoint\":");
	endpoint(&o, r, "src", "sport", false);
	lit(&o, ",\"dst_endpoint\":");
	endpoint(&o, r, "dst", "dport", true);
	lit(&o, ",\"connection_info\":{\"protocol_name\":");
	raw(&o, r, "proto");
	if (pnum >= 0)
		putf(&o, ",\"protocol_num\":%d", pnum);
	lit(&o, ",\"direction_id\":2,\"direction\":\"Outbound\"}");
	if (!is_null(get(r, "sni"))) {
		lit(&o, ",\"tls\":{\"sni\":");
		raw(&o, r, "sni");
		if (decision && !is_null(get(r, "ja4"))) {
			lit(&o, ",\"ja4_fingerprint_list\":[{\"value\":");
			raw(&o, r, "ja4");
			lit(&o, ",\"type_id\":0}]");
		}
		lit(&o, "}");
	}
	if (!is_null(get(r, "rule"))) {
		lit(&o, ",\"firewall_rule\":{\"uid\":");
		raw(&o, r, "rule");
		lit(&o, ",\"name\":");
		raw(&o, r, "rule");
		lit(&o, "}");
	}
	if (!is_null(get(r, "policy"))) {
		lit(&o, ",\"policy\":{\"uid\":");
		raw(&o, r, "policy");
		lit(&o, ",\"name\":\"chokepoint egress policy\"}");
	}
	if (!decision) {
		lit(&o, ",\"traffic\":{\"bytes_out\":");
		raw(&o, r, "bytes_c2s");
		lit(&o, ",\"bytes_in\":");
		raw(&o, r, "bytes_s2c");
		lit(&o, ",\"packets_out\":");
		raw(&o, r, "pkts_c2s");
		lit(&o, ",\"packets_in\":");
		raw(&o, r, "pkts_s2c");
		lit(&o, "},\"duration\":");
		raw(&o, r, "duration_ms");
		putf(&o, ",\"end_time\":%lld", t);
	}
	/* what OCSF has no field for, and what ties the event to the signed trail */
	lit(&o, ",\"unmapped\":{\"chokepoint\":{\"type\":");
	raw(&o, r, "type");
	if (decision) {
		lit(&o, ",\"reason\":");
		raw(&o, r, "reason");
		lit(&o, ",\"enforced\":");
		raw(&o, r, "enforced");
		lit(&o, ",\"anomalies\":");
		raw(&o, r, "anomalies");
		lit(&o, ",\"bound\":");
		raw(&o, r, "bound");
		lit(&o, ",\"alpn\":");
		raw(&o, r, "alpn");
		lit(&o, ",\"ech\":");
		raw(&o, r, "ech");
		lit(&o, ",\"pqc\":");
		raw(&o, r, "pqc");
	} else {
		lit(&o, ",\"close\":");
		raw(&o, r, "close");
	}
	lit(&o, ",\"app\":");
	raw(&o, r, "app");
	lit(&o, ",\"host\":");
	raw(&o, r, "host");
	lit(&o, ",\"boot\":");
	raw(&o, r, "boot");
	lit(&o, ",\"worker\":");
	raw(&o, r, "worker");
	lit(&o, ",\"wseq\":");
	raw(&o, r, "wseq");
	lit(&o, ",\"seq\":");
	raw(&o, r, "seq");
	lit(&o, ",\"prev\":");
	raw(&o, r, "prev");
	lit(&o, ",\"hash\":");
	raw(&o, r, "hash");
	lit(&o, "}}}");
	return o.over ? -ENOSPC : (int)o.len;
}

int
cp_export_ocsf(const char *line, size_t len, char *out, size_t cap)
{
	struct rec r;

	if (scan(line, len, &r) < 0)
		return -EINVAL;
	return ocsf(&r, out, cap);
}

int
cp_export_syslog(const char *line, size_t len, int use_ocsf, const char *hostname,
		 int pid, char *out, size_t cap)
{
	char *body = malloc(CP_EXPORT_MAX);
	const struct cp_json_member *type, *ts, *verdict;
	const char *msg = line;
	char head[256], mid[40], tsb[32];
	size_t mlen, hl;
	struct rec r;
	int sev = 6, n, rc;

	if (body == NULL)
		return -ENOMEM;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	mlen = len;
	rc = scan(line, len, &r);
	if (rc < 0)
		goto out;
	type = get(&r, "type");
	ts = get(&r, "ts");
	verdict = get(&r, "verdict");
	if (type == NULL || type->val_len < 3 || type->val_len - 2 >= sizeof(mid) ||
	    ts == NULL || ts->val_len != 29) {
		rc = -EINVAL;
		goto out;
	}
	memcpy(mid, type->val + 1, type->val_len - 2);
	mid[type->val_len - 2] = '\0';
	memcpy(tsb, ts->val + 1, 27);
	tsb[27] = '\0';
	if (strcmp(mid, "audit.gap") == 0 || strcmp(mid, "audit.recovered") == 0)
		sev = 4;
	else if (is(verdict, "\"deny\""))
		sev = 5;
	if (use_ocsf) {
		n = ocsf(&r, body, CP_EXPORT_MAX);
		if (n >= 0) {
			msg = body;
			mlen = (size_t)n;
		} else if (n != -ENOENT) {
			rc = n;
			goto out;
		}
	}
	n = snprintf(head, sizeof(head), "<%d>1 %s %s chokepoint %d %s - ",
		     CP_SYSLOG_FACILITY * 8 + sev, tsb, hostname[0] ? hostname : "-", pid, mid);
	if (n < 0 || (size_t)n >= sizeof(head)) {
		rc = -EINVAL;
		goto out;
	}
	hl = (size_t)n;
	/* octet counting: the decimal length of the message, a space, the message */
	n = snprintf(out, cap, "%zu %s", hl + mlen, head);
	if (n < 0 || (size_t)n + mlen + 1 > cap) {
		rc = -ENOSPC;
		goto out;
	}
	memcpy(out + n, msg, mlen);
	out[n + mlen] = '\0';
	rc = (int)((size_t)n + mlen);
out:
	free(body);
	return rc;
}
