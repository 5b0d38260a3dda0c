/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dplink.c: the dataplane link (cp_dpmsg, cp_dplink) over a real
 * socketpair, the test playing the dataplane: exact message validation
 * (short, long, bad magic/version/type/direction, wrong length, fd missing
 * or unexpected), and a whole session with a real compiled policy and a real
 * audit trail: HELLO -> POLICY (sealed memfd holding the blob), ACK ->
 * policy.loaded, EVENTS -> records + EVENTS_ACK, resends de-duplicated,
 * holes recorded, NACK keeps the old policy, STATS, DRAINED/QUIT, reconnect.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "cp_audit.h"
#include "cp_dplink.h"
#include "cp_dpmsg.h"
#include "cp_log.h"
#include "cp_policy.h"
#include "dp_proto.h"

static char tmpdir[64];
static char conf[128], conf2[128], trail[128];

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int
setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_dplink.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/a.conf", tmpdir);
	snprintf(conf2, sizeof(conf2), "%s/b.conf", tmpdir);
	snprintf(trail, sizeof(trail), "%s/audit.jsonl", tmpdir);
	cp_log_setup("test_dplink", CP_LOG_ERR);
	if (write_file(conf,
		       "default = \"deny\";\n"
		       "rules = (\n"
		       "  { id = \"llm\"; action = \"allow\"; sni = [\"api.openai.com\"]; },\n"
		       "  { id = \"docs\"; action = \"allow\"; host = [\"docs.example.com\"]; }\n"
		       ");\n") < 0)
		return -1;
	return write_file(conf2,
			  "default = \"allow\";\n"
			  "rules = ( { id = \"block\"; action = \"deny\"; sni = [\".evil.test\"]; } );\n");
}

static int
teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static struct cp_policy *
compile(const char *path)
{
	struct cp_policy *p = NULL;
	char err[2048];

	if (cp_policy_compile_file(path, &p, err, sizeof(err)) < 0)
		fail_msg("%s does not compile: %s", path, err);
	return p;
}

static void
hello(struct dp_msg_hello *h, uint64_t gen, const uint8_t *sha)
{
	memset(h, 0, sizeof(*h));
	cp_dpmsg_hdr(&h->hdr, DP_MSG_HELLO, sizeof(*h));
	for (int i = 0; i < 16; i++)
		h->boot_id[i] = (uint8_t)(0xa0 + i);
	h->pid = 4242;
	h->n_workers = 2;
	h->n_ports = 1;
	h->policy_gen = gen;
	if (sha != NULL)
		memcpy(h->policy_sha256, sha, 32);
}

/* ---------------------------------------------------- message validation */

static void
expect_bad(const void *buf, size_t len, int nfds, enum cp_dpmsg_dir dir, const char *what)
{
	char why[160];

	assert_int_equal(cp_dpmsg_check(buf, len, nfds, dir, why, sizeof(why)), -EBADMSG);
	if (strstr(why, what) == NULL)
		fail_msg("expected \"%s\" in \"%s\"", what, why);
}

static void
test_check_messages(void **state)
{
	static uint8_t big[CP_DPMSG_MAX + 64];
	struct dp_msg_hello h;
	struct dp_msg_policy p;
	struct dp_msg_events *ev = (struct dp_msg_events *)big;
	struct dp_msg_hdr q;
	char why[160];

	hello(&h, 0, NULL);
	assert_int_equal(cp_dpmsg_check(&h, sizeof(h), 0, CP_DPMSG_TO_CP, why, sizeof(why)),
			 DP_MSG_HELLO);
	/* short: nothing, a partial header, a header alone for a type that needs more */
	expect_bad(&h, 0, 0, CP_DPMSG_TO_CP, "short message (0 bytes");
	expect_bad(&h, 5, 0, CP_DPMSG_TO_CP, "short message (5 bytes");
	expect_bad(&h, 15, 0, CP_DPMSG_TO_CP, "short message (15 bytes");
	h.hdr.len = sizeof(h.hdr);
	expect_bad(&h, sizeof(h.hdr), 0, CP_DPMSG_TO_CP, "the type requires");
	/* long: hdr.len honest but longer than a HELLO */
	memset(big, 0, sizeof(big));
	memcpy(big, &h, sizeof(h));
	((struct dp_msg_hdr *)big)->len = sizeof(h) + 1;
	expect_bad(big, sizeof(h) + 1, 0, CP_DPMSG_TO_CP, "the type requires");
	/* hdr.len lying about the datagram, both ways */
	hello(&h, 0, NULL);
	h.hdr.len = sizeof(h) - 8;
	expect_bad(&h, sizeof(h), 0, CP_DPMSG_TO_CP, "!= datagram length");
	h.hdr.len = sizeof(h) + 8;
	expect_bad(&h, sizeof(h), 0, CP_DPMSG_TO_CP, "!= datagram length");
	hello(&h, 0, NULL);
	h.hdr.magic = 0x50424b43;
	expect_bad(&h, sizeof(h), 0, CP_DPMSG_TO_CP, "bad magic 0x50424b43");
	hello(&h, 0, NULL);
	h.hdr.version = 2;
	expect_bad(&h, sizeof(h), 0, CP_DPMSG_TO_CP, "protocol version 2");
	hello(&h, 0, NULL);
	h.hdr.type = 0;
	expect_bad(&h, sizeof(h), 0, CP_DPMSG_TO_CP, "unknown message type 0");
	h.hdr.type = DP_MSG_TYPE_MAX;
	expect_bad(&h, sizeof(h), 0, CP_DPMSG_TO_CP, "unknown message type");
	h.hdr.type = 0xffff;
	expect_bad(&h, sizeof(h), 0, CP_DPMSG_TO_CP, "unknown message type 65535");
	/* out-of-range fields */
	hello(&h, 0, NULL);
	h.n_workers = DP_MAX_WORKERS + 1;
	expect_bad(&h, sizeof(h), 0, CP_DPMSG_TO_CP, "workers");
	h.n_workers = 0;
	expect_bad(&h, sizeof(h), 0, CP_DPMSG_TO_CP, "workers");
	/* a descriptor where none belongs */
	hello(&h, 0, NULL);
	expect_bad(&h, sizeof(h), 1, CP_DPMSG_TO_CP, "carries 1 descriptor");
	/* POLICY: only towards the dataplane, and only with its memfd */
	memset(&p, 0, sizeof(p));
	cp_dpmsg_hdr(&p.hdr, DP_MSG_POLICY, sizeof(p));
	expect_bad(&p, sizeof(p), 0, CP_DPMSG_TO_DP, "carries 0 descriptor(s), the type requires 1");
	expect_bad(&p, sizeof(p), 2, CP_DPMSG_TO_DP, "carries 2 descriptor(s)");
	assert_int_equal(cp_dpmsg_check(&p, sizeof(p), 1, CP_DPMSG_TO_DP, why, sizeof(why)),
			 DP_MSG_POLICY);
	expect_bad(&p, sizeof(p), 1, CP_DPMSG_TO_CP, "not expected in direction");
	/* header-only messages */
	cp_dpmsg_hdr(&q, DP_MSG_QUIT, sizeof(q));
	assert_int_equal(cp_dpmsg_check(&q, sizeof(q), 0, CP_DPMSG_TO_DP, why, sizeof(why)),
			 DP_MSG_QUIT);
	expect_bad(&q, sizeof(q), 0, CP_DPMSG_TO_CP, "not expected in direction");
	/* EVENTS: count and length must agree */
	memset(big, 0, sizeof(big));
	cp_dpmsg_hdr(&ev->hdr, DP_MSG_EVENTS, sizeof(*ev) + 2 * sizeof(struct dp_event));
	ev->count = 2;
	assert_int_equal(cp_dpmsg_check(ev, ev->hdr.len, 0, CP_DPMSG_TO_CP, why, sizeof(why)),
			 DP_MSG_EVENTS);
	ev->count = 3;
	expect_bad(ev, ev->hdr.len, 0, CP_DPMSG_TO_CP, "does not hold 3 events");
	ev->count = 0;
	expect_bad(ev, ev->hdr.len, 0, CP_DPMSG_TO_CP, "count 0 outside");
	ev->count = DP_EVENTS_PER_MSG + 1;
	ev->hdr.len = sizeof(*ev) + (DP_EVENTS_PER_MSG + 1) * sizeof(struct dp_event);
	expect_bad(ev, ev->hdr.len, 0, CP_DPMSG_TO_CP, "outside 1..32");
	ev->hdr.len = sizeof(*ev) + 2 * sizeof(struct dp_event) - 1;
	ev->count = 2;
	expect_bad(ev, ev->hdr.len, 0, CP_DPMSG_TO_CP, "does not hold 2 events");
	/* NACK reason must be terminated inside its array */
	{
		struct dp_msg_policy_nack n;

		memset(&n, 'x', sizeof(n));
		cp_dpmsg_hdr(&n.hdr, DP_MSG_POLICY_NACK, sizeof(n));
		expect_bad(&n, sizeof(n), 0, CP_DPMSG_TO_CP, "not NUL-terminated");
		n.reason[sizeof(n.reason) - 1] = '\0';
		assert_int_equal(cp_dpmsg_check(&n, sizeof(n), 0, CP_DPMSG_TO_CP, why, sizeof(why)),
				 DP_MSG_POLICY_NACK);
	}
}

static void
test_recv_truncation_and_fds(void **state)
{
	static uint8_t big[CP_DPMSG_MAX + 64], buf[CP_DPMSG_MAX + 1];
	int sv[2], fds[4], nfds, before, devnull;
	struct dp_msg_hello h;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	before = count_fds();
	/* a datagram longer than any message: reported, never parsed */
	memset(big, 0x41, sizeof(big));
	assert_int_equal(send(sv[1], big, sizeof(big), 0), (ssize_t)sizeof(big));
	assert_int_equal(cp_dpmsg_recv(sv[0], buf, sizeof(buf), fds, 4, &nfds), -EMSGSIZE);
	/* exactly the largest size is fine */
	assert_int_equal(send(sv[1], big, CP_DPMSG_MAX, 0), (ssize_t)CP_DPMSG_MAX);
	assert_int_equal(cp_dpmsg_recv(sv[0], buf, sizeof(buf), fds, 4, &nfds), CP_DPMSG_MAX);
	/* nothing queued */
	assert_int_equal(cp_dpmsg_recv(sv[0], buf, sizeof(buf), fds, 4, &nfds), -EAGAIN);
	/* a descriptor arrives with it and is handed over (closed by the caller) */
	hello(&h, 0, NULL);
	devnull = open("/dev/null", O_RDONLY);
	assert_int_equal(cp_dpmsg_send(sv[1], &h, sizeof(h), devnull, 0), 0);
	close(devnull);
	assert_int_equal(cp_dpmsg_recv(sv[0], buf, sizeof(buf), fds, 4, &nfds), sizeof(h));
	assert_int_equal(nfds, 1);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	close(fds[0]);
	/* more descriptors than the caller takes: all closed, message refused */
	devnull = open("/dev/null", O_RDONLY);
	assert_int_equal(cp_dpmsg_send(sv[1], &h, sizeof(h), devnull, 0), 0);
	close(devnull);
	assert_int_equal(cp_dpmsg_recv(sv[0], buf, sizeof(buf), fds, 0, &nfds), -EMSGSIZE);
	assert_int_equal(count_fds(), before);
	/* EOF */
	close(sv[1]);
	assert_int_equal(cp_dpmsg_recv(sv[0], buf, sizeof(buf), fds, 4, &nfds), 0);
	close(sv[0]);
}

/* --------------------------------------------------------------- session */

struct sess {
	struct cp_audit *audit;
	struct cp_dplink *link;
	int dp;                    /* the test's (dataplane's) end */
};

static void
connect_dp(struct sess *s)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	cp_dplink_attach(s->link, sv[0]);
	s->dp = sv[1];
}

/* Receive what the control plane sent to the dataplane. */
static int
dp_recv(struct sess *s, void *buf, size_t cap, int *fd)
{
	int fds[4], nfds;
	char why[160];
	ssize_t n = cp_dpmsg_recv(s->dp, buf, cap, fds, 4, &nfds);
	int type;

	assert_true(n > 0);
	type = cp_dpmsg_check(buf, (size_t)n, nfds, CP_DPMSG_TO_DP, why, sizeof(why));
	if (type < 0)
		fail_msg("control plane sent a bad message: %s", why);
	*fd = nfds > 0 ? fds[0] : -1;
	return type;
}

static void
dp_send(struct sess *s, const void *m, size_t len)
{
	assert_int_equal(send(s->dp, m, len, 0), (ssize_t)len);
}

static void
expect_policy(struct sess *s, const struct cp_policy *pol, uint64_t gen)
{
	struct dp_msg_policy m;
	int fd, seals;
	void *map;

	assert_int_equal(dp_recv(s, &m, sizeof(m), &fd), DP_MSG_POLICY);
	assert_true(fd >= 0);
	assert_int_equal(m.gen, gen);
	assert_int_equal(m.blob_len, pol->blob_len);
	assert_memory_equal(m.sha256, pol->sha256, 32);
	seals = fcntl(fd, F_GET_SEALS);
	assert_true((seals & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW)) ==
		    (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW));
	map = mmap(NULL, m.blob_len, PROT_READ, MAP_PRIVATE, fd, 0);
	assert_true(map != MAP_FAILED);
	assert_memory_equal(map, pol->blob, m.blob_len);
	munmap(map, m.blob_len);
	close(fd);
}

static void
send_ack(struct sess *s, uint64_t gen)
{
	struct dp_msg_policy_ack a;

	memset(&a, 0, sizeof(a));
	cp_dpmsg_hdr(&a.hdr, DP_MSG_POLICY_ACK, sizeof(a));
	a.gen = gen;
	dp_send(s, &a, sizeof(a));
}

static struct dp_event
mkev(uint8_t worker, uint64_t wseq, uint64_t gen, int32_t rule, const char *sni)
{
	struct dp_event e;

	memset(&e, 0, sizeof(e));
	e.type = DP_EV_DECISION;
	e.worker = worker;
	e.wseq = wseq;
	e.verdict = DP_VERDICT_ALLOW;
	e.reason = DP_REASON_RULE;
	e.app = DP_APP_TLS;
	e.l4proto = 6;
	e.family = 4;
	e.src[0] = 10;
	e.src[3] = 1;
	e.dst[0] = 192;
	e.dst[1] = 0;
	e.dst[2] = 2;
	e.dst[3] = 7;
	e.sport = (uint16_t)(40000 + wseq);
	e.dport = 443;
	e.name_kind = DP_NAME_SNI;
	e.name_len = (uint8_t)strlen(sni);
	memcpy(e.name, sni, e.name_len);
	e.ts_ns = 1764114684000000000ull + wseq;
	e.policy_gen = gen;
	e.rule = rule;
	e.flags = DP_EVF_ENFORCED;
	return e;
}

static void
send_events(struct sess *s, const struct dp_event *ev, uint32_t n)
{
	static uint8_t buf[CP_DPMSG_MAX];
	struct dp_msg_events *m = (struct dp_msg_events *)buf;
	size_t len = sizeof(*m) + n * sizeof(struct dp_event);

	memset(buf, 0, len);
	cp_dpmsg_hdr(&m->hdr, DP_MSG_EVENTS, (uint32_t)len);
	m->count = n;
	for (int i = 0; i < 16; i++)
		m->boot_id[i] = (uint8_t)(0xa0 + i);
	memcpy(buf + sizeof(*m), ev, n * sizeof(struct dp_event));
	dp_send(s, buf, len);
}

static void
expect_events_ack(struct sess *s, uint64_t w0, uint64_t w1)
{
	struct dp_msg_events_ack a;
	int fd;

	assert_int_equal(dp_recv(s, &a, sizeof(a), &fd), DP_MSG_EVENTS_ACK);
	assert_int_equal(a.acked_wseq[0], w0);
	assert_int_equal(a.acked_wseq[1], w1);
	for (int w = 2; w < DP_MAX_WORKERS; w++)
		assert_int_equal(a.acked_wseq[w], 0);
}

/* The trail's lines, for checks by substring. */
static int
trail_lines(char lines[][2048], int max)
{
	FILE *f = fopen(trail, "r");
	int n = 0;

	assert_non_null(f);
	while (n < max && fgets(lines[n], 2048, f) != NULL)
		n++;
	fclose(f);
	return n;
}

static void
assert_has(const char *line, const char *what)
{
	if (strstr(line, what) == NULL)
		fail_msg("expected \"%s\" in %s", what, line);
}

static void
test_session(void **state)
{
	static char lines[32][2048];
	struct cp_policy *a = compile(conf), *b = compile(conf2), *c = compile(conf2);
	struct dp_msg_hello h;
	struct dp_msg_hdr q;
	struct sess s;
	struct dp_event ev[3];
	uint8_t sha_a[32], sha_c[32];
	char err[512], msg[1024];
	struct cp_audit_verify vst;
	int fd, n;

	memcpy(sha_a, a->sha256, 32);
	memcpy(sha_c, c->sha256, 32);
	unlink(trail);
	assert_int_equal(cp_audit_open(trail, 1, &s.audit, NULL, err, sizeof(err)), 0);
	assert_int_equal(cp_dplink_new(s.audit, &s.link), 0);
	assert_int_equal(cp_dplink_set_policy(s.link, a, "start", err, sizeof(err)), 0);
	assert_int_equal(cp_dplink_policy_gen(s.link), 1);
	assert_false(cp_dplink_ready(s.link));

	/* anything before HELLO is a protocol error */
	connect_dp(&s);
	ev[0] = mkev(0, 1, 1, 0, "api.openai.com");
	send_events(&s, ev, 1);
	assert_int_equal(cp_dplink_service(s.link), CP_DPL_CLOSED);
	assert_int_equal(cp_dplink_counters(s.link)->bad_msgs, 1);
	close(s.dp);

	/* HELLO -> POLICY gen 1 with the sealed blob; ACK -> policy.loaded */
	connect_dp(&s);
	hello(&h, 0, NULL);
	dp_send(&s, &h, sizeof(h));
	assert_int_equal(cp_dplink_service(s.link), CP_DPL_HELLO);
	assert_true(cp_dplink_ready(s.link));
	expect_policy(&s, a, 1);
	assert_int_equal(cp_dplink_pending_gen(s.link), 1);
	send_ack(&s, 1);
	assert_int_equal(cp_dplink_service(s.link), CP_DPL_ACK);
	assert_int_equal(cp_dplink_live_gen(s.link), 1);
	assert_int_equal(trail_lines(lines, 32), 1);
	assert_has(lines[0], "\"type\":\"policy.loaded\"");
	assert_has(lines[0], "\"rules\":2,\"generation\":1,");
	assert_has(lines[0], "\"by\":\"start\"");

	/* EVENTS -> records with rule ids of gen 1, then EVENTS_ACK */
	ev[0] = mkev(0, 1, 1, 0, "API.openai.com");
	ev[1] = mkev(0, 2, 1, -1, "other.test");
	ev[1].verdict = DP_VERDICT_DENY;
	ev[1].reason = DP_REASON_DEFAULT;
	ev[2] = mkev(1, 1, 1, 1, "docs.example.com");
	send_events(&s, ev, 3);
	assert_int_equal(cp_dplink_service(s.link), CP_DPL_EVENTS);
	expect_events_ack(&s, 2, 1);
	assert_int_equal(trail_lines(lines, 32), 4);
	assert_has(lines[1], "\"rule\":\"llm\",\"verdict\":\"allow\"");
	assert_has(lines[1], "\"sni\":\"api.openai.com\"");
	assert_has(lines[1], "\"boot\":\"a0a1a2a3a4a5a6a7\",\"worker\":0,\"wseq\":1,");
	assert_has(lines[2], "\"rule\":null,\"verdict\":\"deny\",\"enforced\":true,\"reason\":\"default\"");
	assert_has(lines[3], "\"rule\":\"docs\"");

	/* the same batch resent (dataplane reconnect): nothing new, same ack */
	send_events(&s, ev, 3);
	assert_int_equal(cp_dplink_service(s.link), CP_DPL_EVENTS);
	expect_events_ack(&s, 2, 1);
	assert_int_equal(trail_lines(lines, 32), 4);
	assert_int_equal(cp_dplink_counters(s.link)->dup_events, 3);

	/* a hole in worker 0's sequence is recorded; a GAP event covering its range is not one */
	ev[0] = mkev(0, 5, 1, 0, "api.openai.com");
	ev[1] = mkev(0, 9, 1, 0, "api.openai.com");
	ev[1].type = DP_EV_GAP;
	ev[1].gap_first = 6;
	ev[1].gap_last = 8;
	ev[2] = mkev(0, 10, 1, 0, "api.openai.com");
	send_events(&s, ev, 3);
	assert_int_equal(cp_dplink_service(s.link), CP_DPL_EVENTS);
	expect_events_ack(&s, 10, 1);
	n = trail_lines(lines, 32);
	assert_int_equal(n, 8);
	assert_has(lines[4], "\"type\":\"audit.gap\"");
	assert_has(lines[4], "\"worker\":0,\"first\":3,\"last\":4,\"count\":2,\"cause\":\"missing\"");
	assert_has(lines[5], "\"wseq\":5,");
	assert_has(lines[6], "\"first\":6,\"last\":8,\"count\":3,\"cause\":\"ring_full\"");
	assert_int_equal(cp_dplink_counters(s.link)->gaps_missing, 1);

	/* STATS on request */
	assert_int_equal(cp_dplink_request_stats(s.link), 0);
	{
		static struct dp_msg_stats st;

		assert_int_equal(dp_recv(&s, &st, sizeof(st), &fd), DP_MSG_STATS_REQ);
		memset(&st, 0, sizeof(st));
		cp_dpmsg_hdr(&st.hdr, DP_MSG_STATS, sizeof(st));
		st.n_workers = 2;
		st.counters[1][DP_C_ALLOW] = 77;
		dp_send(&s, &st, sizeof(st));
		assert_int_equal(cp_dplink_service(s.link), CP_DPL_STATS);
		assert_int_equal(cp_dplink_stats(s.link)->counters[1][DP_C_ALLOW], 77);
	}

	/* a reload the dataplane rejects: the old policy stays current, nothing recorded */
	assert_int_equal(cp_dplink_set_policy(s.link, b, "ctl", err, sizeof(err)), 0);
	expect_policy(&s, b, 2);
	{
		struct dp_msg_policy_nack nk;

		memset(&nk, 0, sizeof(nk));
		cp_dpmsg_hdr(&nk.hdr, DP_MSG_POLICY_NACK, sizeof(nk));
		nk.gen = 2;
		strcpy(nk.reason, "hyperscan version mismatch");
		dp_send(&s, &nk, sizeof(nk));
	}
	assert_int_equal(cp_dplink_service(s.link), CP_DPL_NACK);
	assert_int_equal(cp_dplink_nack_gen(s.link), 2);
	assert_string_equal(cp_dplink_nack_reason(s.link), "hyperscan version mismatch");
	assert_int_equal(cp_dplink_policy_gen(s.link), 1);
	assert_memory_equal(cp_dplink_policy(s.link)->sha256, sha_a, 32);
	assert_int_equal(cp_dplink_live_gen(s.link), 1);
	assert_int_equal(trail_lines(lines, 32), 8);

	/* a reload it accepts: gen 3, by sighup; events of gen 3 resolve gen 3's ids */
	assert_int_equal(cp_dplink_set_policy(s.link, c, "sighup", err, sizeof(err)), 0);
	expect_policy(&s, c, 3);
	send_ack(&s, 3);
	assert_int_equal(cp_dplink_service(s.link), CP_DPL_ACK);
	ev[0] = mkev(1, 2, 3, 0, "x.evil.test");
	ev[1] = mkev(1, 3, 1, 1, "docs.example.com");   /* a flow decided under gen 1 */
	send_events(&s, ev, 2);
	assert_int_equal(cp_dplink_service(s.link), CP_DPL_EVENTS);
	expect_events_ack(&s, 10, 3);
	n = trail_lines(lines, 32);
	assert_int_equal(n, 11);
	assert_has(lines[8], "\"generation\":3,");
	assert_has(lines[8], "\"by\":\"sighup\"");
	assert_has(lines[9], "\"rule\":\"block\"");
	assert_has(lines[10], "\"rule\":\"docs\"");

	/* DRAINED -> the caller answers QUIT */
	cp_dpmsg_hdr(&q, DP_MSG_DRAINED, sizeof(q));
	dp_send(&s, &q, sizeof(q));
	assert_int_equal(cp_dplink_service(s.link), CP_DPL_DRAINED);
	assert_int_equal(cp_dplink_quit(s.link), 0);
	assert_int_equal(dp_recv(&s, &q, sizeof(q), &fd), DP_MSG_QUIT);

	/* a newer connection replaces this one; it already runs gen 3: no push */
	{
		int old = s.dp;

		connect_dp(&s);
		hello(&h, 3, sha_c);
		dp_send(&s, &h, sizeof(h));
		assert_int_equal(cp_dplink_service(s.link), CP_DPL_HELLO);
		assert_int_equal(cp_dplink_live_gen(s.link), 3);
		assert_int_equal(recv(s.dp, &q, sizeof(q), MSG_DONTWAIT), -1);
		assert_int_equal(errno, EAGAIN);
		/* the old end sees EOF */
		assert_int_equal(recv(old, &q, sizeof(q), 0), 0);
		close(old);
	}
	/* a dataplane numbered by an earlier control plane (gen 7): pushed again above it */
	connect_dp(&s);
	hello(&h, 7, sha_a);
	dp_send(&s, &h, sizeof(h));
	assert_int_equal(cp_dplink_service(s.link), CP_DPL_HELLO);
	expect_policy(&s, cp_dplink_policy(s.link), 8);
	send_ack(&s, 8);
	assert_int_equal(cp_dplink_service(s.link), CP_DPL_ACK);
	n = trail_lines(lines, 32);
	assert_has(lines[n - 1], "\"generation\":8,");
	assert_has(lines[n - 1], "\"by\":\"start\"");
	/* EOF from the dataplane */
	close(s.dp);
	assert_int_equal(cp_dplink_service(s.link), CP_DPL_CLOSED);
	assert_false(cp_dplink_ready(s.link));

	cp_dplink_free(s.link);
	cp_audit_close(s.audit);
	memset(&vst, 0, sizeof(vst));
	assert_int_equal(cp_audit_verify_file(trail, &vst, msg, sizeof(msg)), 0);
}

/* Every kind of garbage drops the connection, counted, without leaking a descriptor. */
static void
test_garbage_drops_connection(void **state)
{
	static uint8_t big[CP_DPMSG_MAX + 100];
	struct cp_policy *a = compile(conf);
	struct dp_msg_hello h;
	struct dp_msg_policy p;
	struct cp_audit *audit;
	struct sess s;
	char err[512];
	int before, devnull;
	uint64_t bad = 0;

	unlink(trail);
	assert_int_equal(cp_audit_open(trail, 0, &audit, NULL, err, sizeof(err)), 0);
	s.audit = audit;
	assert_int_equal(cp_dplink_new(audit, &s.link), 0);
	assert_int_equal(cp_dplink_set_policy(s.link, a, "start", err, sizeof(err)), 0);
	before = count_fds();

	for (int k = 0; k < 9; k++) {
		int fd;

		connect_dp(&s);
		hello(&h, 0, NULL);
		if (k > 0) {
			/* a proper HELLO first, so each case tests a later message */
			dp_send(&s, &h, sizeof(h));
			assert_int_equal(cp_dplink_service(s.link), CP_DPL_HELLO);
			assert_int_equal(dp_recv(&s, &p, sizeof(p), &fd), DP_MSG_POLICY);
			close(fd);
		}
		switch (k) {
		case 0:         /* short */
			dp_send(&s, &h, 7);
			break;
		case 1:         /* longer than any message */
			memset(big, 0, sizeof(big));
			memcpy(big, &h, sizeof(h));
			((struct dp_msg_hdr *)big)->len = sizeof(big);
			dp_send(&s, big, sizeof(big));
			break;
		case 2:         /* bad magic */
			h.hdr.magic ^= 1;
			dp_send(&s, &h, sizeof(h));
			break;
		case 3:         /* bad type */
			h.hdr.type = 77;
			dp_send(&s, &h, sizeof(h));
			break;
		case 4:         /* wrong length for the type */
			h.hdr.type = DP_MSG_POLICY_ACK;
			dp_send(&s, &h, sizeof(h));
			break;
		case 5:         /* a descriptor riding on a message that has none */
			devnull = open("/dev/null", O_RDONLY);
			assert_int_equal(cp_dpmsg_send(s.dp, &h, sizeof(h), devnull, 0), 0);
			close(devnull);
			break;
		case 6:         /* POLICY sent to the control plane */
			memset(&p, 0, sizeof(p));
			cp_dpmsg_hdr(&p.hdr, DP_MSG_POLICY, sizeof(p));
			devnull = open("/dev/null", O_RDONLY);
			assert_int_equal(cp_dpmsg_send(s.dp, &p, sizeof(p), devnull, 0), 0);
			close(devnull);
			break;
		case 7:         /* empty datagram */
			dp_send(&s, &h, 0);
			break;
		case 8:         /* version */
			h.hdr.version = 0;
			dp_send(&s, &h, sizeof(h));
			break;
		}
		if (k == 7) {
			/* a zero-length SEQPACKET datagram reads as 0 bytes = end of stream */
			assert_int_equal(cp_dplink_service(s.link), CP_DPL_CLOSED);
		} else {
			assert_int_equal(cp_dplink_service(s.link), CP_DPL_CLOSED);
			bad++;
		}
		assert_int_equal(cp_dplink_counters(s.link)->bad_msgs, bad);
		assert_false(cp_dplink_ready(s.link));
		assert_int_equal(cp_dplink_fd(s.link), -1);
		close(s.dp);
		assert_int_equal(count_fds(), before);
	}
	cp_dplink_free(s.link);
	cp_audit_close(audit);
}

/* After a control-plane restart, resent events already in the trail are not written twice. */
static void
test_seed_after_restart(void **state)
{
	static char lines[32][2048];
	struct dp_msg_hello h;
	struct dp_event ev[4];
	struct sess s;
	char err[512], msg[1024];
	struct cp_audit_verify vst;
	int fd;

	unlink(trail);
	for (int round = 0; round < 3; round++) {
		struct dp_msg_policy p;

		assert_int_equal(cp_audit_open(trail, 0, &s.audit, NULL, err, sizeof(err)), 0);
		assert_int_equal(cp_dplink_new(s.audit, &s.link), 0);
		assert_int_equal(cp_dplink_set_policy(s.link, compile(conf), "start", err,
						      sizeof(err)), 0);
		assert_true(cp_dplink_seed_from_trail(s.link, trail) >= 0);
		connect_dp(&s);
		hello(&h, 0, NULL);
		if (round == 2)
			h.boot_id[0] ^= 0xff;   /* another dataplane boot */
		dp_send(&s, &h, sizeof(h));
		cp_dplink_service(s.link);
		assert_int_equal(dp_recv(&s, &p, sizeof(p), &fd), DP_MSG_POLICY);
		close(fd);
		send_ack(&s, 1);
		cp_dplink_service(s.link);
		/* worker 0: 1..3 the first time, 2..4 resent after the restart; worker 1: 1 then 1..2 */
		ev[0] = mkev(0, round == 0 ? 1 : 2, 1, 0, "api.openai.com");
		ev[1] = mkev(0, round == 0 ? 2 : 3, 1, 0, "api.openai.com");
		ev[2] = mkev(0, round == 0 ? 3 : 4, 1, 0, "api.openai.com");
		ev[3] = mkev(1, round == 0 ? 1 : 2, 1, 0, "api.openai.com");
		if (round == 2)
			for (int i = 0; i < 4; i++)
				ev[i].wseq = (uint64_t)(i < 3 ? i + 1 : 1);
		{
			static uint8_t buf[CP_DPMSG_MAX];
			struct dp_msg_events *m = (struct dp_msg_events *)buf;
			size_t len = sizeof(*m) + 4 * sizeof(struct dp_event);

			memset(buf, 0, len);
			cp_dpmsg_hdr(&m->hdr, DP_MSG_EVENTS, (uint32_t)len);
			m->count = 4;
			memcpy(m->boot_id, h.boot_id, 16);
			memcpy(buf + sizeof(*m), ev, sizeof(ev));
			dp_send(&s, buf, len);
		}
		assert_int_equal(cp_dplink_service(s.link), CP_DPL_EVENTS);
		if (round == 0)
			expect_events_ack(&s, 3, 1);
		else if (round == 1)
			expect_events_ack(&s, 4, 2);
		else
			expect_events_ack(&s, 3, 1);
		close(s.dp);
		cp_dplink_free(s.link);
		cp_audit_close(s.audit);
	}
	/* round 0: policy + 4; round 1: policy + w0 4 + w1 2 only; round 2 (new boot): policy + 4 */
	assert_int_equal(trail_lines(lines, 32), 5 + 3 + 5);
	assert_has(lines[6], "\"worker\":0,\"wseq\":4,");
	assert_has(lines[7], "\"worker\":1,\"wseq\":2,");
	memset(&vst, 0, sizeof(vst));
	assert_int_equal(cp_audit_verify_file(trail, &vst, msg, sizeof(msg)), 0);
}

/* A restart right after a rotation: the records to de-duplicate against are in the
 * rotated file (the live one is absent), and the chain continues from it. */
static void
test_seed_across_rotation(void **state)
{
	static char lines[32][2048];
	struct dp_msg_hello h;
	struct dp_event ev[3];
	struct sess s;
	char err[512], msg[1024], rot[600];
	struct cp_audit_verify vst;
	int fd;

	unlink(trail);
	snprintf(rot, sizeof(rot), "%s.20260101T000000.000000Z", trail);
	unlink(rot);
	for (int round = 0; round < 2; round++) {
		struct dp_msg_policy p;
		static uint8_t buf[CP_DPMSG_MAX];
		struct dp_msg_events *m = (struct dp_msg_events *)buf;
		size_t len = sizeof(*m) + 3 * sizeof(struct dp_event);

		assert_int_equal(cp_audit_open(trail, 0, &s.audit, NULL, err, sizeof(err)), 0);
		assert_int_equal(cp_dplink_new(s.audit, &s.link), 0);
		assert_int_equal(cp_dplink_set_policy(s.link, compile(conf), "start", err,
						      sizeof(err)), 0);
		assert_true(cp_dplink_seed_from_trail(s.link, trail) >= 0);
		connect_dp(&s);
		hello(&h, 0, NULL);
		dp_send(&s, &h, sizeof(h));
		cp_dplink_service(s.link);
		assert_int_equal(dp_recv(&s, &p, sizeof(p), &fd), DP_MSG_POLICY);
		close(fd);
		send_ack(&s, 1);
		cp_dplink_service(s.link);
		/* worker 0: 1..3, then 2..4 resent after the restart */
		for (int i = 0; i < 3; i++)
			ev[i] = mkev(0, (uint64_t)(round + 1 + i), 1, 0, "api.openai.com");
		memset(buf, 0, len);
		cp_dpmsg_hdr(&m->hdr, DP_MSG_EVENTS, (uint32_t)len);
		m->count = 3;
		memcpy(m->boot_id, h.boot_id, 16);
		memcpy(buf + sizeof(*m), ev, sizeof(ev));
		dp_send(&s, buf, len);
		assert_int_equal(cp_dplink_service(s.link), CP_DPL_EVENTS);
		expect_events_ack(&s, round == 0 ? 3 : 4, 0);
		close(s.dp);
		cp_dplink_free(s.link);
		cp_audit_close(s.audit);
		if (round == 0)
			assert_int_equal(rename(trail, rot), 0);   /* rotated, live file not yet made */
	}
	/* the live file: policy.loaded + wseq 4 only; the chain runs through both files */
	assert_int_equal(trail_lines(lines, 32), 2);
	assert_has(lines[1], "\"worker\":0,\"wseq\":4,");
	memset(&vst, 0, sizeof(vst));
	assert_int_equal(cp_audit_verify_file(rot, &vst, msg, sizeof(msg)), 0);
	assert_int_equal(cp_audit_verify_file(trail, &vst, msg, sizeof(msg)), 0);
	assert_int_equal(vst.total, 6);
	unlink(rot);
}

static void
test_bad_policy_refused(void **state)
{
	struct cp_policy *a = compile(conf);
	struct cp_audit *audit;
	struct cp_dplink *l;
	char err[512];

	unlink(trail);
	assert_int_equal(cp_audit_open(trail, 0, &audit, NULL, err, sizeof(err)), 0);
	assert_int_equal(cp_dplink_new(audit, &l), 0);
	/* a blob the matcher refuses never becomes current */
	a->blob[0] ^= 0xff;
	assert_true(cp_dplink_set_policy(l, a, "start", err, sizeof(err)) < 0);
	assert_true(err[0] != '\0');
	assert_null(cp_dplink_policy(l));
	assert_int_equal(cp_dplink_policy_gen(l), 0);
	cp_policy_free(a);
	cp_dplink_free(l);
	cp_audit_close(audit);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_messages),
		cmocka_unit_test(test_recv_truncation_and_fds),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_garbage_drops_connection),
		cmocka_unit_test(test_seed_after_restart),
		cmocka_unit_test(test_seed_across_rotation),
		cmocka_unit_test(test_bad_policy_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
