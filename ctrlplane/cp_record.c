/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_record.c: dp_event / policy / gap -> audit JSON (fields before "prev").
 * Key order is the contract's; strings from the wire go through the strict
 * escaper of cp_json.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define DP_PROTO_NAMES
#include "cp_record.h"
#include "cp_util.h"

size_t
cp_record_norm_name(const char *in, size_t len, char *out)
{
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	if (len > 0 && out[len - 1] == '.')
		len--;
	return len;
}

static void
begin(struct cp_json *j, char *buf, size_t cap, const char *type, uint64_t ts_ns,
      uint64_t seq)
{
	char ts[CP_TS_LEN];

	cp_json_init(j, buf, cap);
	cp_json_obj_begin(j);
	cp_json_key(j, "v");
	cp_json_u64(j, 1);
	cp_json_key(j, "type");
	cp_json_strz(j, type);
	cp_fmt_ts(ts_ns, ts);
	cp_json_key(j, "ts");
	cp_json_strz(j, ts);
	cp_json_key(j, "seq");
	cp_json_u64(j, seq);
}

static void
put_sha(struct cp_json *j, const uint8_t sha[32])
{
	char s[7 + 65];

	memcpy(s, "sha256:", 7);
	cp_hex(sha, 32, s + 7);
	cp_json_strz(j, s);
}

static void
put_boot(struct cp_json *j, const uint8_t boot_id[16])
{
	char h[17];

	/* "boot":"HEX16": the first 8 bytes of the 16-byte random boot id */
	cp_json_key(j, "boot");
	cp_json_strz(j, cp_hex(boot_id, 8, h));
}

static void
put_ip(struct cp_json *j, uint8_t family, const uint8_t a[16], unsigned *bad)
{
	char s[INET6_ADDRSTRLEN];

	if ((family == 4 && inet_ntop(AF_INET, a, s, sizeof(s)) != NULL) ||
	    (family == 6 && inet_ntop(AF_INET6, a, s, sizeof(s)) != NULL)) {
		cp_json_strz(j, s);
		return;
	}
	*bad |= CP_REC_BAD_ENUM;
	cp_json_null(j);
}

/* name or "prefix_N" for a value outside the table */
static void
put_enum(struct cp_json *j, const char *const *names, unsigned n, unsigned v,
	 const char *prefix, unsigned *bad)
{
	char t[32];

	if (v < n) {
		cp_json_strz(j, names[v]);
		return;
	}
	*bad |= CP_REC_BAD_ENUM;
	snprintf(t, sizeof(t), "%s_%u", prefix, v);
	cp_json_strz(j, t);
}

static void
put_proto(struct cp_json *j, uint8_t p)
{
	char t[8];

	switch (p) {
	case IPPROTO_TCP:
		cp_json_strz(j, "tcp");
		break;
	case IPPROTO_UDP:
		cp_json_strz(j, "udp");
		break;
	case IPPROTO_ICMP:
		cp_json_strz(j, "icmp");
		break;
	case IPPROTO_ICMPV6:
		cp_json_strz(j, "ipv6-icmp");
		break;
	default:
		snprintf(t, sizeof(t), "%u", p);
		cp_json_strz(j, t);
	}
}

static void
put_verdict(struct cp_json *j, uint8_t v, unsigned *bad)
{
	if (v == DP_VERDICT_ALLOW)
		cp_json_strz(j, "allow");
	else if (v == DP_VERDICT_DENY)
		cp_json_strz(j, "deny");
	else {
		if (v != DP_VERDICT_NONE)
			*bad |= CP_REC_BAD_ENUM;
		cp_json_null(j);
	}
}

static void
put_reason(struct cp_json *j, const struct dp_event *ev, unsigned *bad)
{
	if (ev->reason == DP_REASON_ANOMALY && ev->anomalies != 0) {
		unsigned b = (unsigned)__builtin_ctz(ev->anomalies);

		put_enum(j, dp_anomaly_names, DP_AN_MAX, b, "anomaly", bad);
		return;
	}
	put_enum(j, dp_reason_names, DP_REASON_MAX, ev->reason, "reason", bad);
}

/* the common flow fields: policy .. host */
static void
put_flow(struct cp_json *j, const struct dp_event *ev, const struct cp_gens *gens,
	 unsigned *bad)
{
	const struct cp_gen *g = cp_gens_find(gens, ev->policy_gen);
	char name[DP_NAME_MAX + 1];
	size_t nlen;

	cp_json_key(j, "policy");
	if (g != NULL) {
		put_sha(j, g->sha256);
	} else {
		if (ev->policy_gen != 0)
			*bad |= CP_REC_UNKNOWN_GEN;
		cp_json_null(j);
	}
	cp_json_key(j, "rule");
	if (ev->rule < 0) {
		cp_json_null(j);
	} else {
		const char *id = cp_gens_rule_id(gens, ev->policy_gen, ev->rule);

		if (id == NULL)
			*bad |= CP_REC_UNKNOWN_RULE;
		cp_json_strz(j, id);
	}
	cp_json_key(j, "verdict");
	put_verdict(j, ev->verdict, bad);
	if (ev->type == DP_EV_DECISION) {
		cp_json_key(j, "enforced");
		cp_json_bool(j, (ev->flags & DP_EVF_ENFORCED) != 0);
		cp_json_key(j, "reason");
		put_reason(j, ev, bad);
	}
	cp_json_key(j, "proto");
	put_proto(j, ev->l4proto);
	cp_json_key(j, "src");
	put_ip(j, ev->family, ev->src, bad);
	cp_json_key(j, "sport");
	cp_json_u64(j, ev->sport);
	cp_json_key(j, "dst");
	put_ip(j, ev->family, ev->dst, bad);
	cp_json_key(j, "dport");
	cp_json_u64(j, ev->dport);
	cp_json_key(j, "app");
	put_enum(j, dp_app_names, DP_APP_MAX, ev->app, "app", bad);

	/* name_len is a uint8_t and name[] holds DP_NAME_MAX + 1: never past it */
	nlen = cp_record_norm_name(ev->name, ev->name_len, name);
	cp_json_key(j, "sni");
	if (ev->name_kind == DP_NAME_SNI)
		cp_json_str(j, name, nlen);
	else
		cp_json_null(j);
	cp_json_key(j, "host");
	if (ev->name_kind == DP_NAME_HOST)
		cp_json_str(j, name, nlen);
	else
		cp_json_null(j);
	if (ev->name_kind > DP_NAME_HOST)
		*bad |= CP_REC_BAD_ENUM;
}

static void
put_alpn(struct cp_json *j, const struct dp_event *ev, unsigned *bad)
{
	size_t n = ev->alpn_len, i = 0;

	if (n > DP_ALPN_BYTES) {
		n = DP_ALPN_BYTES;
		*bad |= CP_REC_CLAMPED;
	}
	cp_json_arr_begin(j);
	/* wire format: 1-byte length + bytes; a cut-off last entry is left out */
	while (i < n) {
		size_t l = ev->alpn[i];

		if (l > n - i - 1)
			break;
		cp_json_str(j, ev->alpn + i + 1, l);
		i += 1 + l;
	}
	cp_json_arr_end(j);
}

static void
put_versions(struct cp_json *j, uint16_t v)
{
	static const struct { uint16_t bit; const char *name; } tab[] = {
		{ DP_TLSV_1_3, "1.3" }, { DP_TLSV_1_2, "1.2" }, { DP_TLSV_1_1, "1.1" },
		{ DP_TLSV_1_0, "1.0" }, { DP_TLSV_SSL3, "ssl3" },
	};

	cp_json_arr_begin(j);
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (v & tab[i].bit)
			cp_json_strz(j, tab[i].name);
	cp_json_arr_end(j);
}

static void
put_anomalies(struct cp_json *j, uint32_t a, unsigned *bad)
{
	cp_json_arr_begin(j);
	for (unsigned b = 0; b < 32; b++)
		if (a & (1u << b))
			put_enum(j, dp_anomaly_names, DP_AN_MAX, b, "anomaly", bad);
	cp_json_arr_end(j);
}

static void
put_tail(struct cp_json *j, const struct dp_event *ev, const uint8_t boot_id[16])
{
	if (ev->flags & DP_EVF_GWLB) {
		/* GENEVE: the GWLB endpoint and attachment the flow came through (issue 8) */
		char hex[17];

		cp_json_key(j, "gwlb");
		cp_json_obj_begin(j);
		cp_json_key(j, "endpoint");
		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)ev->gwlb_ep);
		cp_json_strz(j, hex);
		cp_json_key(j, "attachment");
		snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)ev->gwlb_att);
		cp_json_strz(j, hex);
		cp_json_obj_end(j);
	}
	put_boot(j, boot_id);
	cp_json_key(j, "worker");
	cp_json_u64(j, ev->worker);
	cp_json_key(j, "wseq");
	cp_json_u64(j, ev->wseq);
}

static void
render_decision(struct cp_json *j, const struct dp_event *ev,
		const uint8_t boot_id[16], const struct cp_gens *gens, unsigned *bad)
{
	size_t jl = ev->ja4_len;

	put_flow(j, ev, gens, bad);
	cp_json_key(j, "alpn");
	put_alpn(j, ev, bad);
	cp_json_key(j, "tls_versions");
	put_versions(j, ev->tls_versions);
	cp_json_key(j, "ech");
	cp_json_bool(j, (ev->flags & DP_EVF_ECH) != 0);
	cp_json_key(j, "pqc");
	cp_json_bool(j, (ev->flags & DP_EVF_PQC) != 0);
	cp_json_key(j, "ja4");
	if (jl > DP_JA4_MAX) {
		jl = DP_JA4_MAX;
		*bad |= CP_REC_CLAMPED;
	}
	if (jl > 0)
		cp_json_str(j, ev->ja4, jl);
	else
		cp_json_null(j);
	cp_json_key(j, "anomalies");
	put_anomalies(j, ev->anomalies, bad);
	/* how the name was bound to the destination (docs/audit.md) */
	cp_json_key(j, "bound");
	put_enum(j, dp_bound_names, DP_BOUND_MAX, ev->bound, "bound", bad);
	if (ev->vlan != 0) {
		cp_json_key(j, "vlan");
		cp_json_u64(j, ev->vlan);
	}
	put_tail(j, ev, boot_id);
}

static void
render_end(struct cp_json *j, const struct dp_event *ev,
	   const uint8_t boot_id[16], const struct cp_gens *gens, unsigned *bad)
{
	uint64_t dur = ev->ts_ns >= ev->start_ns ? (ev->ts_ns - ev->start_ns) / 1000000u : 0;

	put_flow(j, ev, gens, bad);
	cp_json_key(j, "pkts_c2s");
	cp_json_u64(j, ev->pkts_c2s);
	cp_json_key(j, "pkts_s2c");
	cp_json_u64(j, ev->pkts_s2c);
	cp_json_key(j, "bytes_c2s");
	cp_json_u64(j, ev->bytes_c2s);
	cp_json_key(j, "bytes_s2c");
	cp_json_u64(j, ev->bytes_s2c);
	cp_json_key(j, "duration_ms");
	cp_json_u64(j, dur);
	cp_json_key(j, "close");
	put_enum(j, dp_close_names, DP_CLOSE_MAX, ev->close_cause, "close", bad);
	put_tail(j, ev, boot_id);
}

static void
render_gap(struct cp_json *j, const uint8_t boot_id[16], unsigned worker,
	   uint64_t first, uint64_t last, const char *cause)
{
	put_boot(j, boot_id);
	cp_json_key(j, "worker");
	cp_json_u64(j, worker);
	cp_json_key(j, "first");
	cp_json_u64(j, first);
	cp_json_key(j, "last");
	cp_json_u64(j, last);
	cp_json_key(j, "count");
	cp_json_u64(j, last >= first ? last - first + 1 : 0);
	cp_json_key(j, "cause");
	cp_json_strz(j, cause);
}

int
cp_record_event(struct cp_json *j, char *buf, size_t cap, uint64_t seq,
		const struct dp_event *ev, const uint8_t boot_id[16],
		const struct cp_gens *gens)
{
	unsigned bad = 0;

	switch (ev->type) {
	case DP_EV_DECISION:
		begin(j, buf, cap, "flow.decision", ev->ts_ns, seq);
		render_decision(j, ev, boot_id, gens, &bad);
		break;
	case DP_EV_END:
		begin(j, buf, cap, "flow.end", ev->ts_ns, seq);
		render_end(j, ev, boot_id, gens, &bad);
		break;
	case DP_EV_GAP:
		begin(j, buf, cap, "audit.gap", ev->ts_ns, seq);
		if (ev->reason >= DP_GAP_CAUSE_MAX)
			bad |= CP_REC_BAD_ENUM;
		render_gap(j, boot_id, ev->worker, ev->gap_first, ev->gap_last,
			   ev->reason < DP_GAP_CAUSE_MAX ? dp_gap_cause_names[ev->reason] :
			   "unknown");
		break;
	default:
		return -EINVAL;
	}
	if (cp_json_error(j) < 0)
		return -ENOSPC;
	return (int)bad;
}

int
cp_record_policy_loaded(struct cp_json *j, char *buf, size_t cap, uint64_t seq,
			uint64_t ts_ns, const uint8_t sha256[32], uint32_t rules,
			uint64_t gen, const char *path, const char *by)
{
	begin(j, buf, cap, "policy.loaded", ts_ns, seq);
	cp_json_key(j, "policy");
	put_sha(j, sha256);
	cp_json_key(j, "rules");
	cp_json_u64(j, rules);
	cp_json_key(j, "generation");
	cp_json_u64(j, gen);
	cp_json_key(j, "path");
	cp_json_strz(j, path != NULL ? path : "");
	cp_json_key(j, "by");
	cp_json_strz(j, by);
	return cp_json_error(j);
}

int
cp_record_gap(struct cp_json *j, char *buf, size_t cap, uint64_t seq,
	      uint64_t ts_ns, const uint8_t boot_id[16], unsigned worker,
	      uint64_t first, uint64_t last, const char *cause)
{
	begin(j, buf, cap, "audit.gap", ts_ns, seq);
	render_gap(j, boot_id, worker, first, last, cause);
	return cp_json_error(j);
}

int
cp_record_checkpoint(struct cp_json *j, char *buf, size_t cap, uint64_t seq,
		     uint64_t ts_ns, const char *cause, uint64_t records,
		     const char *key_id_hex, const uint8_t sig[64])
{
	char hex[129];

	begin(j, buf, cap, "audit.checkpoint", ts_ns, seq);
	cp_json_key(j, "cause");
	cp_json_strz(j, cause);
	cp_json_key(j, "records");
	cp_json_u64(j, records);
	cp_json_key(j, "alg");
	cp_json_strz(j, "ed25519");
	cp_json_key(j, "key");
	cp_json_strz(j, key_id_hex);
	cp_json_key(j, "sig");
	cp_json_strz(j, cp_hex(sig, 64, hex));
	return cp_json_error(j);
}

int
cp_record_recovered(struct cp_json *j, char *buf, size_t cap, uint64_t seq,
		    uint64_t ts_ns, const char *file, uint64_t torn_bytes,
		    const uint8_t torn_sha256[32])
{
	char hex[65];

	begin(j, buf, cap, "audit.recovered", ts_ns, seq);
	cp_json_key(j, "file");
	cp_json_strz(j, file);
	cp_json_key(j, "torn_bytes");
	cp_json_u64(j, torn_bytes);
	cp_json_key(j, "torn_sha256");
	cp_json_strz(j, cp_hex(torn_sha256, 32, hex));
	return cp_json_error(j);
}
