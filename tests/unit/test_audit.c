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
#include "cp_gens.h"
#include "cp_record.h"
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

	render_one(&e, line, sizeof(line), 0);
	assert_line(line,
		"{\"v\":1,\"type\":\"flow.decision\",\"ts\":\"2025-11-25T23:51:24.123456Z\",\"seq\":1,"
		"\"policy\":\"sha256:" SHA_HEX "\",\"rule\":\"llm\",\"verdict\":\"allow\","
		"\"enforced\":true,\"reason\":\"rule\",\"proto\":\"tcp\",\"src\":\"10.1.2.3\","
		"\"sport\":51234,\"dst\":\"203.0.113.7\",\"dport\":443,\"app\":\"tls\","
		"\"sni\":\"api.openai.com\",\"host\":null,\"alpn\":[\"h2\",\"http/1.1\"],"
		"\"tls_versions\":[\"1.3\",\"1.2\"],\"ech\":false,\"pqc\":true,"
		"\"ja4\":\"t13d1516h2_8daaf6152771_e5627efa2ab1\",\"anomalies\":[],"
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
		"\"anomalies\":[\"multiple_host\",\"host_mismatch\"],\"vlan\":100,"
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
		"\"anomalies\":[\"overlap_conflict\",\"ech\"],"
		"\"boot\":\"0102030405060708\",\"worker\":1,\"wseq\":7,\"prev\":\"" ZERO64 "\"");
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
	append_n(path, 0, &ri);                 /* reopening cuts the torn bytes */
	assert_int_equal(ri.torn_bytes, strlen(torn));
	assert_int_equal(ri.seq, 4);
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_size, st0.st_size);
	append_n(path, 2, &ri);
	assert_int_equal(ri.torn_bytes, 0);
	assert_int_equal(verify(path, msg, sizeof(msg)), 0);
	assert_non_null(strstr(msg, "ok: 6 records"));

	/* a file holding only a torn line starts a new chain */
	tpath(path, sizeof(path), "torn-only.jsonl");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(fd, torn, strlen(torn)), (ssize_t)strlen(torn));
	close(fd);
	append_n(path, 1, &ri);
	assert_int_equal(ri.seq, 0);
	assert_int_equal(ri.torn_bytes, strlen(torn));
	assert_int_equal(verify(path, msg, sizeof(msg)), 0);
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
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_decision_tls),
		cmocka_unit_test(test_render_decision_http_v6_vlan),
		cmocka_unit_test(test_render_decision_anomaly_reason),
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
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
