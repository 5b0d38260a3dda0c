/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_audit.c: audit records and the hash chain (cp_record, cp_audit,
 * cp_verify): every record type rendered against its expected line, the
 * chain re-checked by an independent implementation (python hashlib/json),
 * tampering found at the right line, resume after a restart and after a
 * torn last line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cp_audit.h"
#include "cp_export.h"
#include "cp_gens.h"
#include "cp_record.h"
#include "cp_sign.h"
#include "dp_proto.h"

#define TS_NS 1764114684123456789ull     /* 2025-11-25T23:51:24.123456Z */
#define ZERO64 "0000000000000000000000000000000000000000000000000000000000000000"
#define SHA_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static char tmpdir[64];
static const uint8_t boot[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static struct cp_gens gens;

static int
setup(void **state)
{
	uint8_t sha[32];
	const char *ids[] = { "llm", "docs" };

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_audit.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	for (int i = 0; i < 32; i++)
		sha[i] = (uint8_t)i;
	cp_gens_init(&gens);
	return cp_gens_add(&gens, 1, sha, ids, 2);
}

static int
teardown(void **state)
{
	char cmd[128];

	cp_gens_free(&gens);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
tpath(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", tmpdir, name);
}

static void
ip4(uint8_t a[16], const char *s)
{
	memset(a, 0, 16);
	assert_int_equal(inet_pton(AF_INET, s, a), 1);
}

static void
ip6(uint8_t a[16], const char *s)
{
	assert_int_equal(inet_pton(AF_INET6, s, a), 1);
}

static struct dp_event
ev_decision_tls(void)
{
	struct dp_event e;
	static const char alpn[] = "\x02h2\x08http/1.1";

	memset(&e, 0, sizeof(e));
	e.type = DP_EV_DECISION;
	e.worker = 1;
	e.verdict = DP_VERDICT_ALLOW;
	e.reason = DP_REASON_RULE;
	e.app = DP_APP_TLS;
	e.l4proto = IPPROTO_TCP;
	e.family = 4;
	e.name_kind = DP_NAME_SNI;
	e.sport = 51234;
	e.dport = 443;
	memcpy(e.name, "API.OpenAI.com.", 15);
	e.name_len = 15;
	ip4(e.src, "10.1.2.3");
	ip4(e.dst, "203.0.113.7");
	e.wseq = 7;
	e.ts_ns = TS_NS;
	e.policy_gen = 1;
	e.rule = 0;
	e.flags = DP_EVF_ENFORCED | DP_EVF_PQC;
	e.tls_versions = DP_TLSV_1_3 | DP_TLSV_1_2;
	memcpy(e.alpn, alpn, 12);
	e.alpn_len = 12;
	memcpy(e.ja4, "t13d1516h2_8daaf6152771_e5627efa2ab1", 36);
	e.ja4_len = 36;
	return e;
}

/* Render ev as record seq into a one-record trail file and return the line. */
static void
render_one(const struct dp_event *ev, char *line, size_t cap, int expect_flags)
{
	char buf[CP_LINE_MAX], path[128];
	struct cp_audit *a;
	struct cp_json j;
	FILE *f;

	tpath(path, sizeof(path), "one.jsonl");
	unlink(path);
	assert_int_equal(cp_audit_open(path, 0, &a, NULL, buf, sizeof(buf)), 0);
	assert_int_equal(cp_record_event(&j, buf, sizeof(buf), 1, ev, boot, &gens), expect_flags);
	assert_int_equal(cp_audit_append(a, &j, 1), 0);
	cp_audit_close(a);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, (int)cap, f));
	fclose(f);
}

/* line must be exactly body + ,"hash":"<64 hex>"}\n */
static void
assert_line(const char *line, const char *body)
{
	size_t bl = strlen(body);

	if (strncmp(line, body, bl) != 0)
		fail_msg("record differs:\n got  %s\n want %s", line, body);
	assert_memory_equal(line + bl, ",\"hash\":\"", 9);
	assert_int_equal(strlen(line), bl + 9 + 64 + 3);
	assert_string_equal(line + bl + 9 + 64, "\"}\n");
}

static void
test_render_decision_tls(void **state)
{
	struct dp_event e = ev_decision_tls();
	char line[CP_LINE_MAX];

	e.bound = DP_BOUND_DNS;
	render_one(&e, line, sizeof(line), 0);
	assert_line(line,
		"{\"v\":1,\"type\":\"flow.decision\",\"ts\":\"2025-11-25T23:51:24.123456Z\",\"seq\":1,"
		"\"policy\":\"sha256:" SHA_HEX "\",\"rule\":\"llm\",\"verdict\":\"allow\","
		"\"enforced\":true,\"reason\":\"rule\",\"proto\":\"tcp\",\"src\":\"10.1.2.3\","
		"\"sport\":51234,\"dst\":\"203.0.113.7\",\"dport\":443,\"app\":\"tls\","
		"\"sni\":\"api.openai.com\",\"host\":null,\"alpn\":[\"h2\",\"http/1.1\"],"
		"\"tls_versions\":[\"1.3\",\"1.2\"],\"ech\":false,\"pqc\":true,"
		"\"ja4\":\"t13d1516h2_8daaf6152771_e5627efa2ab1\",\"anomalies\":[],\"bound\":\"dns\","
		"\"boot\":\"0102030405060708\",\"worker\":1,\"wseq\":7,\"prev\":\"" ZERO64 "\"");
}

static void
test_render_decision_http_v6_vlan(void **state)
{
	struct dp_event e;
	char line[CP_LINE_MAX];

	memset(&e, 0, sizeof(e));
	e.type = DP_EV_DECISION;
	e.verdict = DP_VERDICT_DENY;
	e.reason = DP_REASON_DEFAULT;
	e.app = DP_APP_HTTP;
	e.l4proto = IPPROTO_TCP;
	e.family = 6;
	e.name_kind = DP_NAME_HOST;
	e.sport = 40000;
	e.dport = 8080;
	e.vlan = 100;
	memcpy(e.name, "Docs.Example.COM", 16);
	e.name_len = 16;
	ip6(e.src, "fd77:1::10");
	ip6(e.dst, "2001:db8::80");
	e.wseq = 1;
	e.ts_ns = TS_NS + 1000;     /* +1 us */
	e.policy_gen = 1;
	e.rule = -1;
	e.flags = DP_EVF_ENFORCED;
	e.anomalies = (1u << DP_AN_MULTIPLE_HOST) | (1u << DP_AN_HOST_MISMATCH);
	render_one(&e, line, sizeof(line), 0);
	assert_line(line,
		"{\"v\":1,\"type\":\"flow.decision\",\"ts\":\"2025-11-25T23:51:24.123457Z\",\"seq\":1,"
		"\"policy\":\"sha256:" SHA_HEX "\",\"rule\":null,\"verdict\":\"deny\","
		"\"enforced\":true,\"reason\":\"default\",\"proto\":\"tcp\",\"src\":\"fd77:1::10\","
		"\"sport\":40000,\"dst\":\"2001:db8::80\",\"dport\":8080,\"app\":\"http\","
		"\"sni\":null,\"host\":\"docs.example.com\",\"alpn\":[],\"tls_versions\":[],"
		"\"ech\":false,\"pqc\":false,\"ja4\":null,"
		"\"anomalies\":[\"multiple_host\",\"host_mismatch\"],\"bound\":\"none\",\"vlan\":100,"
		"\"boot\":\"0102030405060708\",\"worker\":0,\"wseq\":1,\"prev\":\"" ZERO64 "\"");
}

static void
test_render_decision_anomaly_reason(void **state)
{
	struct dp_event e = ev_decision_tls();
	char line[CP_LINE_MAX];

	/* monitor mode, UDP, no name, the first anomaly bit names the reason */
	e.verdict = DP_VERDICT_DENY;
	e.reason = DP_REASON_ANOMALY;
	e.anomalies = (1u << DP_AN_ECH) | (1u << DP_AN_OVERLAP_CONFLICT);
	e.flags = DP_EVF_ECH;
	e.l4proto = IPPROTO_UDP;
	e.app = DP_APP_QUIC;
	e.name_kind = DP_NAME_NONE;
	e.rule = 1;
	e.alpn_len = 7;            /* "\x02h2\x08http": the second entry is cut off */
	e.tls_versions = DP_TLSV_1_0 | DP_TLSV_SSL3 | DP_TLSV_1_1;
	e.ja4_len = 0;
	render_one(&e, line, sizeof(line), 0);
	assert_line(line,
		"{\"v\":1,\"type\":\"flow.decision\",\"ts\":\"2025-11-25T23:51:24.123456Z\",\"seq\":1,"
		"\"policy\":\"sha256:" SHA_HEX "\",\"rule\":\"docs\",\"verdict\":\"deny\","
		"\"enforced\":false,\"reason\":\"overlap_conflict\",\"proto\":\"udp\","
		"\"src\":\"10.1.2.3\",\"sport\":51234,\"dst\":\"203.0.113.7\",\"dport\":443,"
		"\"app\":\"quic\",\"sni\":null,\"host\":null,\"alpn\":[\"h2\"],"
		"\"tls_versions\":[\"1.1\",\"1.0\",\"ssl3\"],\"ech\":true,\"pqc\":false,\"ja4\":null,"
		"\"anomalies\":[\"overlap_conflict\",\"ech\"],\"bound\":\"none\","
		"\"boot\":\"0102030405060708\",\"worker\":1,\"wseq\":7,\"prev\":\"" ZERO64 "\"");
}

/* revalidate = true: an established flow the new policy denies (dataplane/dp_reval.h) */
static void
test_render_decision_revalidated(void **state)
{
	struct dp_event e = ev_decision_tls();
	char line[CP_LINE_MAX];

	e.verdict = DP_VERDICT_DENY;
	e.reason = DP_REASON_REVALIDATED;
	e.rule = -1;               /* the new policy's default */
	e.alpn_len = 0;
	e.ja4_len = 0;
	e.tls_versions = 0;
	e.flags = DP_EVF_ENFORCED;
	render_one(&e, line, sizeof(line), 0);
	assert_line(line,
		"{\"v\":1,\"type\":\"flow.decision\",\"ts\":\"2025-11-25T23:51:24.123456Z\",\"seq\":1,"
		"\"policy\":\"sha256:" SHA_HEX "\",\"rule\":null,\"verdict\":\"deny\","
		"\"enforced\":true,\"reason\":\"revalidated\",\"proto\":\"tcp\","
		"\"src\":\"10.1.2.3\",\"sport\":51234,\"dst\":\"203.0.113.7\",\"dport\":443,"
		"\"app\":\"tls\",\"sni\":\"api.openai.com\",\"host\":null,\"alpn\":[],"
		"\"tls_versions\":[],\"ech\":false,\"pqc\":false,\"ja4\":null,\"anomalies\":[],\"bound\":\"none\","
		"\"boot\":\"0102030405060708\",\"worker\":1,\"wseq\":7,\"prev\":\"" ZERO64 "\"");
}

/* every "bound" value, the new anomaly classes, and a bound value from nowhere */
static void
test_render_decision_bound(void **state)
{
	static const char *const want[] = { "none", "dns", "resolved", "pinned" };
	struct dp_event e = ev_decision_tls();
	char line[CP_LINE_MAX], frag[64];

	for (unsigned int b = 0; b < DP_BOUND_MAX; b++) {
		e.bound = (uint8_t)b;
		render_one(&e, line, sizeof(line), 0);
		snprintf(frag, sizeof(frag), "\"anomalies\":[],\"bound\":\"%s\",", want[b]);
		assert_non_null(strstr(line, frag));
	}
	/* a spoofed name denied: the anomaly names the reason, nothing was bound */
	e.verdict = DP_VERDICT_DENY;
	e.reason = DP_REASON_ANOMALY;
	e.rule = -1;
	e.bound = DP_BOUND_NONE;
	e.anomalies = 1u << DP_AN_SNI_DST_MISMATCH;
	render_one(&e, line, sizeof(line), 0);
	assert_non_null(strstr(line, "\"reason\":\"sni_dst_mismatch\""));
	assert_non_null(strstr(line, "\"anomalies\":[\"sni_dst_mismatch\"],\"bound\":\"none\","));
	e.anomalies = (1u << DP_AN_DOT) | (1u << DP_AN_DOH);
	render_one(&e, line, sizeof(line), 0);
	assert_non_null(strstr(line, "\"reason\":\"dot\""));
	assert_non_null(strstr(line, "\"anomalies\":[\"dot\",\"doh\"]"));
	/* out of range: rendered as bound_<n>, flagged */
	e.bound = DP_BOUND_MAX;
	render_one(&e, line, sizeof(line), CP_REC_BAD_ENUM);
	snprintf(frag, sizeof(frag), "\"bound\":\"bound_%u\"", DP_BOUND_MAX);
	assert_non_null(strstr(line, frag));
}

static void
test_render_end(void **state)
{
	struct dp_event e = ev_decision_tls();
	char line[CP_LINE_MAX];

	e.type = DP_EV_END;
	e.close_cause = DP_CLOSE_FIN;
	e.pkts_c2s = 12;
	e.pkts_s2c = 10;
	e.bytes_c2s = 2345;
	e.bytes_s2c = 67890;
	e.start_ns = TS_NS - 1500 * 1000000ull - 999999;
	e.wseq = 8;
	render_one(&e, line, sizeof(line), 0);
	assert_line(line,
		"{\"v\":1,\"type\":\"flow.end\",\"ts\":\"2025-11-25T23:51:24.123456Z\",\"seq\":1,"
		"\"policy\":\"sha256:" SHA_HEX "\",\"rule\":\"llm\",\"verdict\":\"allow\","
		"\"proto\":\"tcp\",\"src\":\"10.1.2.3\",\"sport\":51234,\"dst\":\"203.0.113.7\","
		"\"dport\":443,\"app\":\"tls\",\"sni\":\"api.openai.com\",\"host\":null,"
		"\"pkts_c2s\":12,\"pkts_s2c\":10,\"bytes_c2s\":2345,\"bytes_s2c\":67890,"
		"\"duration_ms\":1500,\"close\":\"fin\",\"boot\":\"0102030405060708\","
		"\"worker\":1,\"wseq\":8,\"prev\":\"" ZERO64 "\"");
}

static void
test_render_gap_and_policy(void **state)
{
	struct dp_event e;
	char line[CP_LINE_MAX], buf[CP_LINE_MAX], path[128];
	uint8_t sha[32];
	struct cp_audit *a;
	struct cp_json j;
	FILE *f;

	memset(&e, 0, sizeof(e));
	e.type = DP_EV_GAP;
	e.worker = 2;
	e.wseq = 15;
	e.gap_first = 10;
	e.gap_last = 14;
	e.ts_ns = TS_NS;
	render_one(&e, line, sizeof(line), 0);
	assert_line(line,
		"{\"v\":1,\"type\":\"audit.gap\",\"ts\":\"2025-11-25T23:51:24.123456Z\",\"seq\":1,"
		"\"boot\":\"0102030405060708\",\"worker\":2,\"first\":10,\"last\":14,\"count\":5,"
		"\"cause\":\"ring_full\",\"prev\":\"" ZERO64 "\"");

	for (int i = 0; i < 32; i++)
		sha[i] = (uint8_t)i;
	tpath(path, sizeof(path), "policy.jsonl");
	assert_int_equal(cp_audit_open(path, 0, &a, NULL, buf, sizeof(buf)), 0);
	assert_int_equal(cp_record_policy_loaded(&j, buf, sizeof(buf), 1, TS_NS, sha, 2, 3,
						 "/etc/chokepoint/a \"b\".conf", "sighup"), 0);
	assert_int_equal(cp_audit_append(a, &j, 1), 0);
	assert_int_equal(cp_record_gap(&j, buf, sizeof(buf), 2, TS_NS, boot, 0, 4, 4,
				       "missing"), 0);
	assert_int_equal(cp_audit_append(a, &j, 2), 0);
	cp_audit_close(a);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_line(line,
		"{\"v\":1,\"type\":\"policy.loaded\",\"ts\":\"2025-11-25T23:51:24.123456Z\",\"seq\":1,"
		"\"policy\":\"sha256:" SHA_HEX "\",\"rules\":2,\"generation\":3,"
		"\"path\":\"/etc/chokepoint/a \\\"b\\\".conf\",\"by\":\"sighup\",\"prev\":\"" ZERO64 "\"");
	assert_non_null(fgets(buf, sizeof(buf), f));
	/* the second line's prev is the first line's hash */
	assert_memory_equal(strstr(buf, "\"prev\":\"") + 8, strstr(line, "\"hash\":\"") + 8, 64);
	assert_non_null(strstr(buf, "\"first\":4,\"last\":4,\"count\":1,\"cause\":\"missing\""));
	fclose(f);
}

static void
test_render_unknowns(void **state)
{
	struct dp_event e = ev_decision_tls();
	char line[CP_LINE_MAX], buf[CP_LINE_MAX];
	struct cp_json j;

	/* a generation nobody knows any more: policy and rule null, flagged */
	e.policy_gen = 9;
	render_one(&e, line, sizeof(line), CP_REC_UNKNOWN_GEN | CP_REC_UNKNOWN_RULE);
	assert_non_null(strstr(line, "\"policy\":null,\"rule\":null,"));
	/* a rule index past the table */
	e.policy_gen = 1;
	e.rule = 2;
	render_one(&e, line, sizeof(line), CP_REC_UNKNOWN_RULE);
	assert_non_null(strstr(line, "\"rule\":null,"));
	/* out-of-range enums are recorded by number, flagged, never dropped */
	e = ev_decision_tls();
	e.l4proto = 47;
	e.reason = 200;
	e.app = 77;
	e.family = 5;
	e.alpn_len = 200;
	render_one(&e, line, sizeof(line), CP_REC_BAD_ENUM | CP_REC_CLAMPED);
	assert_non_null(strstr(line, "\"reason\":\"reason_200\",\"proto\":\"47\",\"src\":null,"));
	assert_non_null(strstr(line, "\"app\":\"app_77\""));
	e = ev_decision_tls();
	e.l4proto = IPPROTO_ICMPV6;
	e.family = 6;
	render_one(&e, line, sizeof(line), 0);
	assert_non_null(strstr(line, "\"proto\":\"ipv6-icmp\",\"src\":\"a01:203::\""));
	/* unknown event type: nothing rendered */
	e.type = 9;
	assert_int_equal(cp_record_event(&j, buf, sizeof(buf), 1, &e, boot, &gens), -EINVAL);
}

static void
test_render_hostile_name(void **state)
{
	struct dp_event e = ev_decision_tls();
	char line[CP_LINE_MAX];

	/* a 255-byte name of quotes and control bytes: escaped 6x, one line, one string */
	for (int i = 0; i < 255; i++)
		e.name[i] = (char)(i % 2 ? '"' : '\n');
	e.name_len = 255;
	memcpy(e.ja4, "\"}\n{\"v\":1", 9);
	e.ja4_len = 9;
	render_one(&e, line, sizeof(line), 0);
	assert_int_equal(strchr(line, '\n') - line, (long)strlen(line) - 1);
	assert_non_null(strstr(line, "\"sni\":\"\\u000a\\\"\\u000a\\\""));
	assert_non_null(strstr(line, "\"ja4\":\"\\\"}\\u000a{\\\"v\\\":1\""));
}

/* ------------------------------------------------------------------ chain */

static void
write_records(const char *path, int n)
{
	struct cp_audit *a;
	struct cp_json j;
	char buf[CP_LINE_MAX];
	uint8_t sha[32] = { 0 };

	assert_int_equal(cp_audit_open(path, 1, &a, NULL, buf, sizeof(buf)), 0);
	for (int i = 0; i < n; i++) {
		uint64_t seq = cp_audit_next_seq(a);
		struct dp_event e = ev_decision_tls();

		e.wseq = seq;
		e.type = i % 3 == 2 ? DP_EV_END : DP_EV_DECISION;
		if (i % 4 == 3)
			assert_int_equal(cp_record_policy_loaded(&j, buf, sizeof(buf), seq, TS_NS,
								 sha, 2, 1, "/x.conf", "ctl"), 0);
		else
			assert_true(cp_record_event(&j, buf, sizeof(buf), seq, &e, boot, &gens) >= 0);
		/* out-of-order seq is refused */
		if (i == 0) {
			struct cp_json k = j;

			assert_int_equal(cp_audit_append(a, &k, seq + 1), -EINVAL);
		}
		assert_int_equal(cp_audit_append(a, &j, seq), 0);
	}
	assert_int_equal(cp_audit_sync(a), 0);
	cp_audit_close(a);
}

static int
python_chain(const char *path)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 -c '"
		 "import sys,json,hashlib\n"
		 "prev=\"0\"*64\n"
		 "for n,l in enumerate(open(sys.argv[1],\"rb\").read().split(b\"\\n\")[:-1],1):\n"
		 "  d=json.loads(l); i=l.rindex(b\",\\\"hash\\\":\")\n"
		 "  assert d[\"seq\"]==n and d[\"prev\"]==prev, n\n"
		 "  assert hashlib.sha256(l[:i]).hexdigest()==d[\"hash\"], n\n"
		 "  assert list(d)[-2:]==[\"prev\",\"hash\"] and list(d)[:4]==[\"v\",\"type\",\"ts\",\"seq\"]\n"
		 "  prev=d[\"hash\"]\n"
		 "' %s", path);
	return system(cmd);
}

static int
verify(const char *path, char *msg, size_t n)
{
	struct cp_audit_verify st;

	memset(&st, 0, sizeof(st));
	return cp_audit_verify_file(path, &st, msg, n);
}

static void
test_chain_build_and_verify(void **state)
{
	char path[128], msg[1024], want[256];

	tpath(path, sizeof(path), "chain.jsonl");
	write_records(path, 12);
	assert_int_equal(python_chain(path), 0);
	assert_int_equal(verify(path, msg, sizeof(msg)), 0);
	snprintf(want, sizeof(want), "%s: ok: 12 records, seq 1..12, head ", path);
	assert_memory_equal(msg, want, strlen(want));
}

/* Read path into lines[] (newlines kept). */
static int
read_lines(const char *path, char lines[][CP_LINE_MAX], int max)
{
	FILE *f = fopen(path, "r");
	int n = 0;

	assert_non_null(f);
	while (n < max && fgets(lines[n], CP_LINE_MAX, f) != NULL)
		n++;
	fclose(f);
	return n;
}

static void
write_lines(const char *path, char lines[][CP_LINE_MAX], const int *order, int n)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	for (int i = 0; i < n; i++)
		fputs(lines[order[i]], f);
	fclose(f);
}

static void
expect_break(const char *path, int line, const char *what)
{
	char msg[1024], want[160];

	assert_int_equal(verify(path, msg, sizeof(msg)), 1);
	snprintf(want, sizeof(want), "%s:%d: ", path, line);
	if (strncmp(msg, want, strlen(want)) != 0 || strstr(msg, what) == NULL)
		fail_msg("want \"%s...%s\", got \"%s\"", want, what, msg);
}

static void
test_tamper_detection(void **state)
{
	static char lines[8][CP_LINE_MAX];
	char path[128], t[128];
	int n, order[8];
	char *p;

	tpath(path, sizeof(path), "orig.jsonl");
	tpath(t, sizeof(t), "tampered.jsonl");
	write_records(path, 6);
	n = read_lines(path, lines, 8);
	assert_int_equal(n, 6);

	/* modified: one verdict flipped on line 3 */
	for (int i = 0; i < 6; i++)
		order[i] = i;
	p = strstr(lines[2], "\"verdict\":\"allow\"");
	assert_non_null(p);
	memcpy(p + 11, "deny\" ", 6);   /* "allow" -> "deny" + a blank: still valid JSON */
	write_lines(t, lines, order, 6);
	expect_break(t, 3, "hash does not match");
	n = read_lines(path, lines, 8);

	/* deleted: line 3 gone */
	{
		int o[] = { 0, 1, 3, 4, 5 };

		write_lines(t, lines, o, 5);
		expect_break(t, 3, "seq 4 where 3 belongs (record missing");
	}
	/* inserted: a copy of line 2 after line 2 */
	{
		int o[] = { 0, 1, 1, 2, 3, 4, 5 };

		write_lines(t, lines, o, 7);
		expect_break(t, 3, "seq 2 where 3 belongs (record repeated, inserted or out of order");
	}
	/* reordered: lines 4 and 5 swapped */
	{
		int o[] = { 0, 1, 2, 4, 3, 5 };

		write_lines(t, lines, o, 6);
		expect_break(t, 4, "seq 5 where 4 belongs");
	}
	/* truncated: the last line cut in the middle */
	{
		lines[5][40] = '\0';
		write_lines(t, lines, order, 6);
		expect_break(t, 6, "torn last line (40 bytes");
		n = read_lines(path, lines, 8);
	}
	/* head cut: the first record deleted */
	{
		int o[] = { 1, 2, 3, 4, 5 };

		write_lines(t, lines, o, 5);
		expect_break(t, 1, "does not start at genesis");
	}
	/* replaced consistently: line 3 edited and re-hashed, so line 4's prev breaks */
	{
		char cmd[1024];

		snprintf(cmd, sizeof(cmd),
			 "/usr/bin/python3 -c '"
			 "import sys,hashlib\n"
			 "L=open(sys.argv[1],\"rb\").read().split(b\"\\n\")\n"
			 "l=L[2].replace(b\"\\\"worker\\\":1\",b\"\\\"worker\\\":2\")\n"
			 "i=l.rindex(b\",\\\"hash\\\":\"); b=l[:i]\n"
			 "L[2]=b+b\",\\\"hash\\\":\\\"\"+hashlib.sha256(b).hexdigest().encode()+b\"\\\"}\"\n"
			 "open(sys.argv[2],\"wb\").write(b\"\\n\".join(L))\n"
			 "' %s %s", path, t);
		assert_int_equal(system(cmd), 0);
		expect_break(t, 4, "does not link to the previous record's hash");
	}
	/* garbage line */
	{
		strcpy(lines[1], "{\"v\":1,\"type\":\"flow.decision\"}\n");
		write_lines(t, lines, order, 6);
		expect_break(t, 2, "bad record shape");
		strcpy(lines[1], "not json\n");
		write_lines(t, lines, order, 6);
		expect_break(t, 2, "not a JSON object");
	}
	/* untouched original still verifies */
	{
		char msg[1024];

		assert_int_equal(verify(path, msg, sizeof(msg)), 0);
	}
}

static void
test_chain_across_files(void **state)
{
	static char lines[8][CP_LINE_MAX];
	char path[128], a[128], b[128], msg[1024];
	struct cp_audit_verify st;
	int o1[] = { 0, 1, 2 }, o2[] = { 3, 4, 5 };

	tpath(path, sizeof(path), "rot.jsonl");
	tpath(a, sizeof(a), "rot.1");
	tpath(b, sizeof(b), "rot.2");
	write_records(path, 6);
	read_lines(path, lines, 8);
	write_lines(a, lines, o1, 3);
	write_lines(b, lines, o2, 3);
	memset(&st, 0, sizeof(st));
	assert_int_equal(cp_audit_verify_file(a, &st, msg, sizeof(msg)), 0);
	assert_int_equal(cp_audit_verify_file(b, &st, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "ok: 3 records, seq 4..6"));
	/* out of order: the second file alone does not start at genesis */
	memset(&st, 0, sizeof(st));
	assert_int_equal(cp_audit_verify_file(b, &st, msg, sizeof(msg)), 1);
	/* missing file */
	assert_int_equal(verify("/nonexistent/audit.jsonl", msg, sizeof(msg)), 1);
	assert_string_equal(msg, "/nonexistent/audit.jsonl: No such file or directory");
}

/* ----------------------------------------------------------------- resume */

static void
append_n(const char *path, int n, struct cp_audit_resume *ri)
{
	struct cp_audit *a;
	struct cp_json j;
	char buf[CP_LINE_MAX];

	assert_int_equal(cp_audit_open(path, 2, &a, ri, buf, sizeof(buf)), 0);
	for (int i = 0; i < n; i++) {
		uint64_t seq = cp_audit_next_seq(a);
		struct dp_event e = ev_decision_tls();

		assert_int_equal(cp_record_event(&j, buf, sizeof(buf), seq, &e, boot, &gens), 0);
		assert_int_equal(cp_audit_append(a, &j, seq), 0);
	}
	cp_audit_close(a);
}

static void
test_resume_after_restart(void **state)
{
	struct cp_audit_resume ri;
	struct cp_audit *a;
	char path[128], msg[1024], head[65], buf[256];
	static char lines[8][CP_LINE_MAX];

	tpath(path, sizeof(path), "sub/dir/resume.jsonl");   /* directories created */
	append_n(path, 3, &ri);
	assert_int_equal(ri.seq, 0);
	assert_int_equal(ri.torn_bytes, 0);
	append_n(path, 2, &ri);
	assert_int_equal(ri.seq, 3);
	assert_int_equal(verify(path, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "ok: 5 records, seq 1..5"));
	/* the head after resume is the last line's hash */
	assert_int_equal(read_lines(path, lines, 8), 5);
	assert_int_equal(cp_audit_open(path, 0, &a, &ri, buf, sizeof(buf)), 0);
	assert_int_equal(cp_audit_next_seq(a), 6);
	cp_audit_head(a, head);
	assert_memory_equal(strstr(lines[4], "\"hash\":\"") + 8, head, 64);
	cp_audit_close(a);
	assert_int_equal(python_chain(path), 0);
}

static void
test_resume_torn_last_line(void **state)
{
	static const char torn[] = "{\"v\":1,\"type\":\"flow.decision\",\"ts\":\"2025";
	struct cp_audit_resume ri;
	struct stat st0, st1;
	char path[128], msg[1024];
	int fd;

	tpath(path, sizeof(path), "torn.jsonl");
	append_n(path, 4, &ri);
	assert_int_equal(stat(path, &st0), 0);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, torn, strlen(torn)), (ssize_t)strlen(torn));
	close(fd);
	expect_break(path, 5, "torn last line");
	append_n(path, 0, &ri);                 /* reopening cuts the torn bytes ... */
	assert_int_equal(ri.torn_bytes, strlen(torn));
	assert_int_equal(ri.seq, 4);
	assert_int_equal(stat(path, &st1), 0);
	assert_true(st1.st_size > st0.st_size);
	{
		/* ... and records the cut: audit.recovered with its size and sha256 */
		static char lines[8][CP_LINE_MAX];
		char want[256];

		assert_int_equal(read_lines(path, lines, 8), 5);
		snprintf(want, sizeof(want),
			 "\"type\":\"audit.recovered\",\"ts\":\"");
		assert_non_null(strstr(lines[4], want));
		assert_non_null(strstr(lines[4], "\"seq\":5,\"file\":\""));
		assert_int_equal(python_chain(path), 0);
		{
			char cmd[512];

			/* the recorded sha256 is the cut bytes' (independently: python hashlib) */
			snprintf(cmd, sizeof(cmd),
				 "/usr/bin/python3 -c 'import json,hashlib,sys; r=json.loads(open(sys.argv[1]).read().split(\"\\n\")[4]); "
				 "sys.exit(r[\"torn_sha256\"]!=hashlib.sha256(sys.argv[2].encode()).hexdigest() or r[\"torn_bytes\"]!=len(sys.argv[2]))' %s '%s'",
				 path, torn);
			assert_int_equal(system(cmd), 0);
		}
	}
	append_n(path, 2, &ri);
	assert_int_equal(ri.torn_bytes, 0);
	assert_int_equal(verify(path, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "ok: 7 records"));

	/* a file holding only a torn line starts a new chain */
	tpath(path, sizeof(path), "torn-only.jsonl");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(fd, torn, strlen(torn)), (ssize_t)strlen(torn));
	close(fd);
	append_n(path, 1, &ri);
	assert_int_equal(ri.seq, 0);
	assert_int_equal(ri.torn_bytes, strlen(torn));
	assert_int_equal(verify(path, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "ok: 2 records"));
}

static void
test_resume_refuses_broken_tail(void **state)
{
	static char lines[8][CP_LINE_MAX];
	struct cp_audit_resume ri;
	struct cp_audit *a;
	char path[128], err[512];
	int order[] = { 0, 1, 2 };
	char *p;

	tpath(path, sizeof(path), "broken.jsonl");
	append_n(path, 3, &ri);
	read_lines(path, lines, 8);
	p = strstr(lines[2], "\"wseq\":7");
	assert_non_null(p);
	p[7] = '8';
	write_lines(path, lines, order, 3);
	assert_int_equal(cp_audit_open(path, 0, &a, &ri, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "hash does not match"));
	assert_non_null(strstr(err, "refusing to extend a broken chain"));
}

static void
test_failed_write_leaves_no_record(void **state)
{
	struct cp_audit *a;
	struct cp_json j;
	struct dp_event e = ev_decision_tls();
	char buf[CP_LINE_MAX];
	int fd = open("/dev/full", O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(cp_audit_open_fd(fd, 0, &a), 0);
	assert_int_equal(cp_record_event(&j, buf, sizeof(buf), 1, &e, boot, &gens), 0);
	assert_int_equal(cp_audit_append(a, &j, 1), -ENOSPC);
	assert_int_equal(cp_audit_next_seq(a), 1);
	cp_audit_close(a);
	close(fd);
	/* a line too long for the buffer is refused before anything is written */
	assert_int_equal(cp_record_event(&j, buf, 100, 1, &e, boot, &gens), -ENOSPC);

	/* a batch whose write fails leaves the chain where it was before the batch */
	fd = open("/dev/full", O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(cp_audit_open_fd(fd, 1, &a), 0);
	cp_audit_batch_begin(a);
	for (uint64_t seq = 1; seq <= 3; seq++) {
		assert_int_equal(cp_record_event(&j, buf, sizeof(buf), seq, &e, boot, &gens), 0);
		assert_int_equal(cp_audit_append(a, &j, seq), 0);    /* gathered, not written */
	}
	assert_int_equal(cp_audit_next_seq(a), 4);
	assert_int_equal(cp_audit_batch_commit(a), -ENOSPC);
	assert_int_equal(cp_audit_next_seq(a), 1);
	{
		char head[65];

		cp_audit_head(a, head);
		assert_string_equal(head, ZERO64);
	}
	cp_audit_close(a);
	close(fd);
}

static void put_records(struct cp_audit *a, int n);
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
test_batch_equals_single_writes(void **state)
{
	char p1[128], p2[128], err[512];
	struct cp_audit *a, *b;

	/* the same records, one write per line and one write per batch: same bytes */
	tpath(p1, sizeof(p1), "single.jsonl");
	tpath(p2, sizeof(p2), "batch.jsonl");
	assert_int_equal(cp_audit_open(p1, 1, &a, NULL, err, sizeof(err)), 0);
	assert_int_equal(cp_audit_open(p2, 1, &b, NULL, err, sizeof(err)), 0);
	put_records(a, 7);
	cp_audit_batch_begin(b);
	put_records(b, 5);
	assert_int_equal(cp_audit_batch_commit(b), 0);
	cp_audit_batch_begin(b);
	put_records(b, 2);
	cp_audit_batch_abort(b);                  /* nothing of it stays */
	cp_audit_batch_begin(b);
	put_records(b, 2);
	assert_int_equal(cp_audit_sync(b), 0);    /* a sync commits */
	cp_audit_close(a);
	cp_audit_close(b);
	assert_int_equal(sh("cmp -s %s %s", p1, p2), 0);
	assert_int_equal(python_chain(p2), 0);
}

/* ------------------------------------------------------- signed checkpoints */

static int
sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* n data records into an open trail */
static void
put_records(struct cp_audit *a, int n)
{
	char buf[CP_LINE_MAX];
	struct cp_json j;

	for (int i = 0; i < n; i++) {
		uint64_t seq = cp_audit_next_seq(a);
		struct dp_event e = ev_decision_tls();

		e.wseq = seq;
		assert_int_equal(cp_record_event(&j, buf, sizeof(buf), seq, &e, boot, &gens), 0);
		assert_int_equal(cp_audit_append(a, &j, seq), 0);
	}
}

static struct cp_key *
keypair(const char *name, char *pub, size_t publen)
{
	char prefix[128], path[160], id[17], err[512], warn[512];
	struct cp_key *k;

	tpath(prefix, sizeof(prefix), name);
	assert_int_equal(cp_sign_keygen(prefix, id, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s.key", prefix);
	snprintf(pub, publen, "%s.pub", prefix);
	assert_int_equal(cp_key_load_private(path, &k, err, sizeof(err), warn, sizeof(warn)), 0);
	assert_string_equal(warn, "");
	assert_string_equal(cp_key_id_hex(k), id);
	return k;
}

static int
verify_key(const char *path, const char *pub, struct cp_audit_verify *st, char *msg, size_t n)
{
	static struct cp_key *pk;
	char err[512];

	cp_key_free(pk);
	pk = NULL;
	memset(st, 0, sizeof(*st));
	if (pub != NULL) {
		assert_int_equal(cp_key_load_public(pub, &pk, err, sizeof(err)), 0);
		st->pubkey = pk;
	}
	return cp_audit_verify_file(path, st, msg, n);
}

static void
test_checkpoint_sign_verify(void **state)
{
	struct cp_audit_verify st;
	struct cp_audit_stats as;
	struct cp_audit *a;
	char path[128], pub[160], msg[1024], err[512];
	static char lines[24][CP_LINE_MAX];
	struct cp_key *k = keypair("ck", pub, sizeof(pub));
	int n;

	tpath(path, sizeof(path), "signed.jsonl");
	assert_int_equal(cp_audit_open(path, 1, &a, NULL, err, sizeof(err)), 0);
	cp_audit_set_signer(a, k, 5, 0);
	put_records(a, 12);            /* 5 + ckpt(6), 5 + ckpt(12), 2 */
	cp_audit_stats(a, &as);
	assert_int_equal(as.checkpoints, 2);
	assert_int_equal(as.last_checkpoint_seq, 12);
	assert_int_equal(as.since_checkpoint, 2);
	assert_int_equal(cp_audit_checkpoint(a, "shutdown"), 0);
	assert_int_equal(cp_audit_checkpoint(a, "shutdown"), 0);   /* nothing new: no record */
	cp_audit_close(a);
	n = read_lines(path, lines, 24);
	assert_int_equal(n, 15);
	assert_non_null(strstr(lines[5], "\"type\":\"audit.checkpoint\""));
	assert_non_null(strstr(lines[5], "\"seq\":6,\"cause\":\"records\",\"records\":5,\"alg\":\"ed25519\",\"key\":\""));
	assert_non_null(strstr(lines[14], "\"seq\":15,\"cause\":\"shutdown\",\"records\":2,"));
	assert_int_equal(python_chain(path), 0);

	/* chain only: says so, counts the checkpoints */
	assert_int_equal(verify_key(path, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.checkpoints, 3);
	/* with the pinned key: every signature checked, nothing unsigned */
	assert_int_equal(verify_key(path, pub, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.checkpoints, 3);
	assert_int_equal(st.unsigned_tail, 0);
	assert_int_equal(st.last_checkpoint_seq, 15);
	{
		char sum[2048];

		cp_audit_verify_summary(&st, sum, sizeof(sum));
		assert_non_null(strstr(sum, "records: 15 in 1 file(s), seq 1..15\n"));
		assert_non_null(strstr(sum, "time span: 2025-11-25T23:51:24.123456Z .. "));
		assert_non_null(strstr(sum, "policies seen: 1\n  sha256:" SHA_HEX "\n"));
		assert_non_null(strstr(sum, "checkpoints: 3, every signature verified with the pinned key"));
		assert_non_null(strstr(sum, "unsigned: 0 (the trail ends with a checkpoint)"));
	}
	/* independent check of one signature: OpenSSL's CLI over the documented message */
	assert_int_equal(sh("/usr/bin/python3 -c '"
			    "import json,struct,sys\n"
			    "r=json.loads(open(sys.argv[1]).read().split(\"\\n\")[5])\n"
			    "m=b\"chokepoint-audit-checkpoint-v1\\0\"+struct.pack(\">Q\",r[\"seq\"])+bytes.fromhex(r[\"prev\"])"
			    "+r[\"ts\"].encode()+bytes.fromhex(r[\"key\"])\n"
			    "open(sys.argv[2],\"wb\").write(m); open(sys.argv[3],\"wb\").write(bytes.fromhex(r[\"sig\"]))\n"
			    "' %s %s/m.bin %s/s.bin && openssl pkeyutl -verify -pubin -inkey %s -rawin "
			    "-in %s/m.bin -sigfile %s/s.bin >/dev/null",
			    path, tmpdir, tmpdir, pub, tmpdir, tmpdir), 0);
	/* and a flipped message byte fails it (the check can fail) */
	assert_int_not_equal(sh("printf X | dd of=%s/m.bin bs=1 seek=40 conv=notrunc 2>/dev/null && "
				"openssl pkeyutl -verify -pubin -inkey %s -rawin -in %s/m.bin "
				"-sigfile %s/s.bin >/dev/null 2>&1", tmpdir, pub, tmpdir, tmpdir), 0);
	cp_key_free(k);
}

static void
test_checkpoint_tampering(void **state)
{
	struct cp_audit_verify st;
	struct cp_audit *a;
	char path[128], t[128], pub[160], pub2[160], msg[1024], err[512];
	struct cp_key *k = keypair("tk", pub, sizeof(pub));
	struct cp_key *k2 = keypair("other", pub2, sizeof(pub2));

	tpath(path, sizeof(path), "tsigned.jsonl");
	tpath(t, sizeof(t), "tsigned-t.jsonl");
	assert_int_equal(cp_audit_open(path, 1, &a, NULL, err, sizeof(err)), 0);
	cp_audit_set_signer(a, k, 4, 0);
	put_records(a, 10);            /* 4 + ckpt(5), 4 + ckpt(10), 2 unsigned */
	cp_audit_close(a);

	/* unsigned tail reported: the 2 records after the last checkpoint */
	assert_int_equal(verify_key(path, pub, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.unsigned_tail, 2);
	assert_int_equal(st.checkpoints, 2);

	/* the whole chain rewritten after editing line 3 (an attacker with the
	 * file but not the key): the chain verifies, the signature does not */
	assert_int_equal(sh("/usr/bin/python3 -c '"
			    "import sys,hashlib\n"
			    "L=open(sys.argv[1],\"rb\").read().split(b\"\\n\")[:-1]\n"
			    "L[2]=L[2].replace(b\"\\\"verdict\\\":\\\"allow\\\"\",b\"\\\"verdict\\\":\\\"deny\\\"\")\n"
			    "prev=b\"0\"*64; out=[]\n"
			    "for l in L:\n"
			    "  i=l.index(b\",\\\"prev\\\":\\\"\"); b=l[:i]+b\",\\\"prev\\\":\\\"\"+prev+b\"\\\"\"\n"
			    "  prev=hashlib.sha256(b).hexdigest().encode()\n"
			    "  out.append(b+b\",\\\"hash\\\":\\\"\"+prev+b\"\\\"}\")\n"
			    "open(sys.argv[2],\"wb\").write(b\"\\n\".join(out)+b\"\\n\")\n"
			    "' %s %s", path, t), 0);
	assert_int_equal(verify_key(t, NULL, &st, msg, sizeof(msg)), 0);
	assert_int_equal(verify_key(t, pub, &st, msg, sizeof(msg)), 1);
	snprintf(err, sizeof(err), "%s:5: checkpoint signature does not verify", t);
	if (strncmp(msg, err, strlen(err)) != 0)
		fail_msg("got \"%s\"", msg);

	/* another key pinned: the first checkpoint names the mismatch */
	assert_int_equal(verify_key(path, pub2, &st, msg, sizeof(msg)), 1);
	snprintf(err, sizeof(err), "%s:5: checkpoint signed by key %s, the pinned key is %s",
		 path, cp_key_id_hex(k), cp_key_id_hex(k2));
	if (strncmp(msg, err, strlen(err)) != 0)
		fail_msg("got \"%s\"", msg);

	/* a checkpoint's signature edited (shape kept, record re-hashed): found at its line */
	assert_int_equal(sh("/usr/bin/python3 -c '"
			    "import sys,hashlib\n"
			    "L=open(sys.argv[1],\"rb\").read().split(b\"\\n\")[:-1]\n"
			    "l=L[9]; i=l.index(b\"\\\"sig\\\":\\\"\")+7; l=l[:i]+(b\"1\" if l[i:i+1]!=b\"1\" else b\"2\")+l[i+1:]\n"
			    "c=l.rindex(b\",\\\"hash\\\":\"); h=hashlib.sha256(l[:c]).hexdigest().encode()\n"
			    "L[9]=l[:c]+b\",\\\"hash\\\":\\\"\"+h+b\"\\\"}\"\n"
			    "open(sys.argv[2],\"wb\").write(b\"\\n\".join(L)+b\"\\n\")\n"
			    "' %s %s", path, t), 0);
	assert_int_equal(verify_key(t, pub, &st, msg, sizeof(msg)), 1);
	/* line 10's own hash is fine; it is the signature that fails (before line 11's prev) */
	snprintf(err, sizeof(err), "%s:10: checkpoint signature does not verify", t);
	if (strncmp(msg, err, strlen(err)) != 0)
		fail_msg("got \"%s\"", msg);
	cp_key_free(k);
	cp_key_free(k2);
}

static void
test_key_errors(void **state)
{
	struct cp_key *k = NULL;
	char path[160], prefix[128], err[512], warn[512], id[17];

	/* missing file */
	tpath(path, sizeof(path), "nokey.pem");
	assert_int_equal(cp_key_load_private(path, &k, err, sizeof(err), warn, sizeof(warn)),
			 -ENOENT);
	assert_non_null(strstr(err, "No such file or directory"));
	assert_null(k);
	/* an RSA key is refused by name */
	tpath(path, sizeof(path), "rsa.pem");
	assert_int_equal(sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out %s "
			    "2>/dev/null", path), 0);
	assert_int_equal(cp_key_load_private(path, &k, err, sizeof(err), warn, sizeof(warn)),
			 -EINVAL);
	assert_non_null(strstr(err, "an RSA key; the audit signing key must be Ed25519"));
	/* not PEM at all */
	tpath(path, sizeof(path), "junk.pem");
	assert_int_equal(sh("echo hello > %s", path), 0);
	assert_int_equal(cp_key_load_private(path, &k, err, sizeof(err), warn, sizeof(warn)),
			 -EINVAL);
	assert_non_null(strstr(err, "not a PEM private key"));
	/* encrypted: refused without a prompt */
	tpath(path, sizeof(path), "enc.pem");
	assert_int_equal(sh("openssl genpkey -algorithm ed25519 -aes-128-cbc -pass pass:x -out %s "
			    "2>/dev/null", path), 0);
	assert_int_equal(cp_key_load_private(path, &k, err, sizeof(err), warn, sizeof(warn)),
			 -EINVAL);
	assert_non_null(strstr(err, "the key is encrypted"));
	/* openssl genpkey -algorithm ed25519 works; mode 644 gives a warning */
	tpath(path, sizeof(path), "ossl.pem");
	assert_int_equal(sh("openssl genpkey -algorithm ed25519 -out %s && chmod 644 %s", path,
			    path), 0);
	assert_int_equal(cp_key_load_private(path, &k, err, sizeof(err), warn, sizeof(warn)), 0);
	assert_non_null(strstr(warn, "readable by group or others (mode 644)"));
	cp_key_free(k);
	k = NULL;
	/* a public key where the private key belongs, and the other way round */
	tpath(prefix, sizeof(prefix), "kg");
	assert_int_equal(cp_sign_keygen(prefix, id, err, sizeof(err)), 0);
	{
		struct stat st;

		snprintf(path, sizeof(path), "%s.key", prefix);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	snprintf(path, sizeof(path), "%s.pub", prefix);
	assert_int_equal(cp_key_load_private(path, &k, err, sizeof(err), warn, sizeof(warn)),
			 -EINVAL);
	snprintf(path, sizeof(path), "%s.key", prefix);
	assert_int_equal(cp_key_load_public(path, &k, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a PEM public key"));
	/* keygen never overwrites */
	assert_int_equal(cp_sign_keygen(prefix, id, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "not overwritten"));
}

/* The signing key changed at a restart: each checkpoint is checked with the pinned key of
 * its key id; a key that is not pinned is named at its first checkpoint. */
static void
test_key_change(void **state)
{
	struct cp_audit_verify st;
	struct cp_audit *a;
	struct cp_key *pk1, *pk2;
	char path[128], pub1[160], pub2[160], msg[1024], err[512];
	struct cp_key *k1 = keypair("kc1", pub1, sizeof(pub1));
	struct cp_key *k2 = keypair("kc2", pub2, sizeof(pub2));

	tpath(path, sizeof(path), "keychange.jsonl");
	assert_int_equal(cp_audit_open(path, 0, &a, NULL, err, sizeof(err)), 0);
	cp_audit_set_signer(a, k1, 3, 0);
	put_records(a, 3);                  /* 3 + ckpt(4) by k1 */
	cp_audit_close(a);
	assert_int_equal(cp_audit_open(path, 0, &a, NULL, err, sizeof(err)), 0);
	cp_audit_set_signer(a, k2, 3, 0);
	put_records(a, 3);                  /* 3 + ckpt(8) by k2 */
	cp_audit_close(a);
	assert_int_equal(cp_key_load_public(pub1, &pk1, err, sizeof(err)), 0);
	assert_int_equal(cp_key_load_public(pub2, &pk2, err, sizeof(err)), 0);
	memset(&st, 0, sizeof(st));
	st.pubkey = pk1;
	assert_int_equal(cp_audit_verify_file(path, &st, msg, sizeof(msg)), 1);
	snprintf(err, sizeof(err), "%s:8: checkpoint signed by key %s, the pinned key is %s",
		 path, cp_key_id_hex(k2), cp_key_id_hex(k1));
	if (strncmp(msg, err, strlen(err)) != 0)
		fail_msg("got \"%s\"", msg);
	memset(&st, 0, sizeof(st));
	st.pubkey = pk1;
	st.more_keys[st.n_more_keys++] = pk2;
	assert_int_equal(cp_audit_verify_file(path, &st, msg, sizeof(msg)), 0);
	assert_int_equal(st.checkpoints, 2);
	assert_int_equal(st.unsigned_tail, 0);
	cp_key_free(pk1);
	cp_key_free(pk2);
	cp_key_free(k1);
	cp_key_free(k2);
}

/* ---------------------------------------------------------------- rotation */

static void
test_rotation(void **state)
{
	struct cp_audit_verify st;
	struct cp_audit_resume ri;
	struct cp_audit_stats as;
	struct cp_audit *a;
	char dir[128], path[160], pub[160], msg[1024], err[512], head[65];
	struct cp_key *k = keypair("rk", pub, sizeof(pub));
	char **v = NULL;
	size_t n = 0;

	tpath(dir, sizeof(dir), "rot");
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	assert_int_equal(cp_audit_open(path, 1, &a, NULL, err, sizeof(err)), 0);
	cp_audit_set_signer(a, k, 0, 0);
	cp_audit_set_rotation(a, 2000, 0);   /* a decision line is ~620 bytes */
	put_records(a, 12);
	cp_audit_stats(a, &as);
	assert_true(as.rotations >= 3);
	/* each rotated file ends with a "rotate" checkpoint */
	assert_int_equal(as.checkpoints, as.rotations);
	put_records(a, 1);               /* the live file holds one record at least */
	assert_int_equal(cp_audit_checkpoint(a, "shutdown"), 0);
	cp_audit_stats(a, &as);
	cp_audit_head(a, head);
	cp_audit_close(a);
	assert_int_equal(cp_audit_rotated_files(path, &v, &n), 0);
	assert_int_equal(n, as.rotations);
	assert_int_equal(as.checkpoints, as.rotations + 1);
	/* all files in order, then the live one: chain and signatures hold */
	memset(&st, 0, sizeof(st));
	{
		struct cp_key *pk;

		assert_int_equal(cp_key_load_public(pub, &pk, err, sizeof(err)), 0);
		st.pubkey = pk;
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(cp_audit_verify_file(v[i], &st, msg, sizeof(msg)), 0);
			assert_int_equal(sh("tail -n1 %s | grep -q '\"cause\":\"rotate\"'", v[i]), 0);
		}
		assert_int_equal(cp_audit_verify_file(path, &st, msg, sizeof(msg)), 0);
		assert_int_equal(st.total, 13 + as.checkpoints);
		assert_int_equal(st.unsigned_tail, 0);
		assert_int_equal(st.files, n + 1);
		/* a rotated file left out: named at the next file's first line */
		memset(&st, 0, sizeof(st));
		st.pubkey = pk;
		assert_int_equal(cp_audit_verify_file(v[0], &st, msg, sizeof(msg)), 0);
		assert_int_equal(cp_audit_verify_file(v[2], &st, msg, sizeof(msg)), 1);
		snprintf(err, sizeof(err), "%s:1: seq ", v[2]);
		assert_memory_equal(msg, err, strlen(err));
		assert_non_null(strstr(msg, "records missing: a rotated file missing or left out?"));
		/* files in the wrong order */
		memset(&st, 0, sizeof(st));
		assert_int_equal(cp_audit_verify_file(v[0], &st, msg, sizeof(msg)), 0);
		assert_int_equal(cp_audit_verify_file(v[1], &st, msg, sizeof(msg)), 0);
		assert_int_equal(cp_audit_verify_file(v[0], &st, msg, sizeof(msg)), 1);
		assert_non_null(strstr(msg, "files given out of order?"));
		/* only the live file: not from the genesis, unless --partial */
		memset(&st, 0, sizeof(st));
		assert_int_equal(cp_audit_verify_file(path, &st, msg, sizeof(msg)), 1);
		assert_non_null(strstr(msg, "does not start at genesis"));
		memset(&st, 0, sizeof(st));
		st.partial = 1;
		assert_int_equal(cp_audit_verify_file(path, &st, msg, sizeof(msg)), 0);
		cp_key_free(pk);
	}
	/* the live file lost (crash between rename and the first write): resume from the
	 * newest rotated file, seq and prev continue */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sh("cp %s %s.keep", v[n - 1], dir), 0);
	{
		char last[65], cmd[512];
		FILE *p;

		snprintf(cmd, sizeof(cmd), "tail -n1 %s | sed 's/.*\"hash\":\"\\([0-9a-f]*\\)\".*/\\1/'",
			 v[n - 1]);
		p = popen(cmd, "r");
		assert_non_null(p);
		assert_non_null(fgets(last, sizeof(last), p));
		pclose(p);
		assert_int_equal(cp_audit_open(path, 1, &a, &ri, err, sizeof(err)), 0);
		assert_string_equal(ri.from, v[n - 1]);
		cp_audit_head(a, head);
		assert_memory_equal(head, last, 64);
		put_records(a, 1);
		cp_audit_close(a);
	}
	memset(&st, 0, sizeof(st));
	for (size_t i = 0; i < n; i++)
		assert_int_equal(cp_audit_verify_file(v[i], &st, msg, sizeof(msg)), 0);
	assert_int_equal(cp_audit_verify_file(path, &st, msg, sizeof(msg)), 0);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	cp_key_free(k);
}

/* checkpoint_seconds and rotate_seconds: cp_audit_tick() does them when due, and only
 * when records came since (no checkpoint over an idle trail) */
static void
test_time_triggers(void **state)
{
	struct cp_audit_stats as;
	struct cp_audit *a;
	char dir[128], path[160], pub[160], err[512];
	struct cp_key *k = keypair("tt", pub, sizeof(pub));
	char **v = NULL;
	size_t n = 0;

	tpath(dir, sizeof(dir), "tick");
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	assert_int_equal(cp_audit_open(path, 1, &a, NULL, err, sizeof(err)), 0);
	cp_audit_set_signer(a, k, 0, 1);
	assert_int_equal(cp_audit_tick_due_ms(a), -1);          /* nothing written yet */
	put_records(a, 2);
	assert_true(cp_audit_tick_due_ms(a) > 0 && cp_audit_tick_due_ms(a) <= 1000);
	assert_int_equal(cp_audit_tick(a), 0);
	cp_audit_stats(a, &as);
	assert_int_equal(as.checkpoints, 0);                      /* not due yet */
	usleep(1100 * 1000);
	assert_int_equal(cp_audit_tick_due_ms(a), 0);
	assert_int_equal(cp_audit_tick(a), 0);
	cp_audit_stats(a, &as);
	assert_int_equal(as.checkpoints, 1);
	assert_int_equal(as.last_checkpoint_seq, 3);
	assert_int_equal(sh("tail -n1 %s | grep -q '\"cause\":\"seconds\",\"records\":2,'", path), 0);
	usleep(1100 * 1000);
	assert_int_equal(cp_audit_tick(a), 0);                    /* idle: no new checkpoint */
	cp_audit_stats(a, &as);
	assert_int_equal(as.checkpoints, 1);
	/* rotation by time */
	cp_audit_set_rotation(a, 0, 1);
	usleep(1100 * 1000);
	put_records(a, 1);
	assert_int_equal(cp_audit_tick(a), 0);
	cp_audit_stats(a, &as);
	assert_int_equal(as.rotations, 1);
	assert_int_equal(as.checkpoints, 2);                      /* the rotated file ends signed */
	cp_audit_close(a);
	assert_int_equal(cp_audit_rotated_files(path, &v, &n), 0);
	assert_int_equal(n, 1);
	/* (the seconds checkpoint came due in the same tick, just before the rotation) */
	assert_int_equal(sh("tail -n1 %s | grep -q '\"type\":\"audit.checkpoint\"'", v[0]), 0);
	free(v[0]);
	free(v);
	cp_key_free(k);
}

/* ------------------------------------------------------------------ exports */

static void
test_export_syslog_ocsf(void **state)
{
	static char lines[4][CP_LINE_MAX];
	char path[128], out[CP_EXPORT_MAX], file[160];
	struct cp_audit *a;
	struct cp_json j;
	char buf[CP_LINE_MAX];
	struct dp_event e = ev_decision_tls();
	size_t hl;
	char *sp;
	int n;
	FILE *f;

	tpath(path, sizeof(path), "export.jsonl");
	assert_int_equal(cp_audit_open(path, 0, &a, NULL, buf, sizeof(buf)), 0);
	put_records(a, 1);
	e.type = DP_EV_END;
	e.close_cause = DP_CLOSE_RST;
	e.bytes_c2s = 517;
	e.bytes_s2c = 4242;
	assert_true(cp_record_event(&j, buf, sizeof(buf), 2, &e, boot, &gens) >= 0);
	assert_int_equal(cp_audit_append(a, &j, 2), 0);
	assert_int_equal(cp_record_gap(&j, buf, sizeof(buf), 3, TS_NS, boot, 0, 5, 9,
				       "ctrlplane_down"), 0);
	assert_int_equal(cp_audit_append(a, &j, 3), 0);
	cp_audit_close(a);
	assert_int_equal(read_lines(path, lines, 4), 3);

	/* JSON: octet counting frame around an RFC 5424 message carrying the line */
	n = cp_export_syslog(lines[0], strlen(lines[0]), 0, "gw1", 4242, out, sizeof(out));
	assert_true(n > 0);
	sp = strchr(out, ' ');
	assert_non_null(sp);
	hl = (size_t)(sp - out);
	assert_int_equal(strtoul(out, NULL, 10), (size_t)n - hl - 1);
	assert_memory_equal(sp + 1, "<134>1 2025-11-25T23:51:24.123456Z gw1 chokepoint 4242 flow.decision - {\"v\":1,", 78);
	assert_memory_equal(out + n - (strlen(lines[0]) - 1), lines[0], strlen(lines[0]) - 1);
	/* the gap goes out as a warning */
	n = cp_export_syslog(lines[2], strlen(lines[2]), 1, "gw1", 1, out, sizeof(out));
	assert_true(n > 0);
	assert_non_null(strstr(out, " <132>1 2025-11-25T23:51:24.123456Z gw1 chokepoint 1 audit.gap - {\"v\":1,\"type\":\"audit.gap\""));

	/* OCSF: valid JSON, checked field by field by an independent parser */
	tpath(file, sizeof(file), "ocsf.json");
	f = fopen(file, "w");
	assert_non_null(f);
	n = cp_export_ocsf(lines[0], strlen(lines[0]), out, sizeof(out));
	assert_true(n > 0);
	fprintf(f, "%s\n", out);
	n = cp_export_ocsf(lines[1], strlen(lines[1]), out, sizeof(out));
	assert_true(n > 0);
	fprintf(f, "%s\n", out);
	fclose(f);
	assert_int_equal(cp_export_ocsf(lines[2], strlen(lines[2]), out, sizeof(out)), -ENOENT);
	assert_int_equal(cp_export_ocsf("nope", 4, out, sizeof(out)), -EINVAL);
	assert_int_equal(cp_export_ocsf(lines[0], strlen(lines[0]), out, 100), -ENOSPC);
	assert_int_equal(sh("/usr/bin/python3 -c '"
			    "import json,sys\n"
			    "L=[json.loads(l) for l in open(sys.argv[1])]\n"
			    "R=[json.loads(l) for l in open(sys.argv[2])]\n"
			    "d,e=L\n"
			    "assert d[\"class_uid\"]==4001 and d[\"category_uid\"]==4 and d[\"activity_id\"]==1 and d[\"type_uid\"]==400101, d\n"
			    "assert d[\"time\"]==1764114684123 and d[\"action\"]==\"Allowed\" and d[\"disposition_id\"]==1\n"
			    "assert d[\"src_endpoint\"]=={\"ip\":\"10.1.2.3\",\"port\":51234}\n"
			    "assert d[\"dst_endpoint\"]=={\"ip\":\"203.0.113.7\",\"port\":443,\"hostname\":\"api.openai.com\"}\n"
			    "assert d[\"connection_info\"][\"protocol_num\"]==6 and d[\"connection_info\"][\"direction_id\"]==2\n"
			    "assert d[\"tls\"][\"sni\"]==\"api.openai.com\" and d[\"tls\"][\"ja4_fingerprint_list\"][0][\"value\"]==R[0][\"ja4\"]\n"
			    "assert d[\"firewall_rule\"][\"uid\"]==\"llm\" and d[\"policy\"][\"uid\"]==R[0][\"policy\"]\n"
			    "assert d[\"metadata\"][\"uid\"]==R[0][\"hash\"] and d[\"metadata\"][\"sequence\"]==1\n"
			    "u=d[\"unmapped\"][\"chokepoint\"]; assert u[\"prev\"]==R[0][\"prev\"] and u[\"reason\"]==\"rule\" and u[\"alpn\"]==[\"h2\",\"http/1.1\"] and u[\"bound\"]==R[0][\"bound\"]==\"none\"\n"
			    "assert e[\"activity_id\"]==3 and e[\"activity_name\"]==\"Reset\" and e[\"traffic\"]=={\"bytes_out\":517,\"bytes_in\":4242,\"packets_out\":0,\"packets_in\":0}\n"
			    "assert e[\"unmapped\"][\"chokepoint\"][\"close\"]==\"rst\" and e[\"metadata\"][\"sequence\"]==2\n"
			    "' %s %s", file, path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_decision_tls),
		cmocka_unit_test(test_render_decision_http_v6_vlan),
		cmocka_unit_test(test_render_decision_anomaly_reason),
		cmocka_unit_test(test_render_decision_revalidated),
		cmocka_unit_test(test_render_decision_bound),
		cmocka_unit_test(test_render_end),
		cmocka_unit_test(test_render_gap_and_policy),
		cmocka_unit_test(test_render_unknowns),
		cmocka_unit_test(test_render_hostile_name),
		cmocka_unit_test(test_chain_build_and_verify),
		cmocka_unit_test(test_tamper_detection),
		cmocka_unit_test(test_chain_across_files),
		cmocka_unit_test(test_resume_after_restart),
		cmocka_unit_test(test_resume_torn_last_line),
		cmocka_unit_test(test_resume_refuses_broken_tail),
		cmocka_unit_test(test_failed_write_leaves_no_record),
		cmocka_unit_test(test_batch_equals_single_writes),
		cmocka_unit_test(test_checkpoint_sign_verify),
		cmocka_unit_test(test_checkpoint_tampering),
		cmocka_unit_test(test_key_errors),
		cmocka_unit_test(test_key_change),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_time_triggers),
		cmocka_unit_test(test_export_syslog_ocsf),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
