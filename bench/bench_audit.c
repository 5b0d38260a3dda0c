/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_audit.c: sustained audit records per second through the control
 * plane (docs/performance.md, "Audit trail throughput").
 *
 *   chokepoint-bench-audit [--records N] [--fsync never|batch|always]
 *                          [--checkpoint N] [--no-sign] [--inflight N] [--smoke]
 *
 * A child process plays the dataplane on a SOCK_SEQPACKET socketpair, as
 * chokepoint-dp does: HELLO, POLICY_ACK, then EVENTS batches of 32
 * flow.decision events (SNI, ALPN, JA4: a realistic line of ~620 bytes),
 * never more than --inflight batches ahead of the EVENTS_ACKs. The parent
 * is the real control-plane path (cp_dplink + cp_audit + cp_sign): message
 * validation, de-duplication, rendering, SHA-256 chain, write(2), fsync
 * per policy, Ed25519 checkpoints, acknowledgement. The figure is records
 * written per second of wall time until the last one is written,
 * with the parent's CPU time beside it (the machine is shared); the clock
 * starts at the first service turn. The trail
 * is verified afterwards (chain and signatures).
 *
 * --smoke: a small run that fails (exit 1) only if the trail does not
 * verify or a record is missing, never on speed.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cp_audit.h"
#include "cp_dplink.h"
#include "cp_log.h"
#include "cp_policy.h"
#include "cp_sign.h"
#include "dp_proto.h"

#define BATCH DP_EVENTS_PER_MSG

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void
hdr(struct dp_msg_hdr *h, uint16_t type, uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->magic = DP_PROTO_MAGIC;
	h->version = DP_PROTO_VERSION;
	h->type = type;
	h->len = len;
}

static void
fill_event(struct dp_event *e, uint64_t wseq)
{
	static const char alpn[] = "\x02h2\x08http/1.1";
	static const char name[] = "api.openai.com";
	static const char ja4[] = "t13d1516h2_8daaf6152771_e5627efa2ab1";

	memset(e, 0, sizeof(*e));
	e->type = DP_EV_DECISION;
	e->verdict = DP_VERDICT_ALLOW;
	e->reason = DP_REASON_RULE;
	e->app = DP_APP_TLS;
	e->l4proto = 6;
	e->family = 4;
	e->name_kind = DP_NAME_SNI;
	e->sport = (uint16_t)(1024 + wseq % 60000);
	e->dport = 443;
	e->src[0] = 10, e->src[1] = 1, e->src[2] = (uint8_t)(wseq >> 8), e->src[3] = (uint8_t)wseq;
	e->dst[0] = 203, e->dst[1] = 0, e->dst[2] = 113, e->dst[3] = 7;
	e->wseq = wseq;
	e->ts_ns = 1764114684000000000ull + wseq * 1000;
	e->policy_gen = 1;
	e->rule = 0;
	e->flags = DP_EVF_ENFORCED | DP_EVF_PQC;
	e->tls_versions = DP_TLSV_1_3 | DP_TLSV_1_2;
	memcpy(e->name, name, sizeof(name) - 1);
	e->name_len = sizeof(name) - 1;
	memcpy(e->alpn, alpn, sizeof(alpn) - 1);
	e->alpn_len = sizeof(alpn) - 1;
	memcpy(e->ja4, ja4, sizeof(ja4) - 1);
	e->ja4_len = sizeof(ja4) - 1;
}

/* The stand-in dataplane. Exits 0 when every event is acknowledged. */
static int
feeder(int fd, uint64_t records, unsigned inflight)
{
	size_t mlen = sizeof(struct dp_msg_events) + BATCH * sizeof(struct dp_event);
	struct dp_msg_events *m = calloc(1, mlen);
	uint8_t buf[65536];
	struct dp_msg_hello h;
	uint64_t next = 1, acked = 0;
	ssize_t n;

	if (m == NULL)
		return 1;
	memset(&h, 0, sizeof(h));
	hdr(&h.hdr, DP_MSG_HELLO, sizeof(h));
	memset(h.boot_id, 0xb5, 16);
	h.pid = (uint32_t)getpid();
	h.n_workers = 1;
	h.n_ports = 2;
	if (send(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return 1;
	for (;;) {                       /* POLICY (its fd is closed with the process) */
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return 1;
		if (((struct dp_msg_hdr *)buf)->type == DP_MSG_POLICY)
			break;
	}
	{
		struct dp_msg_policy_ack a;

		memset(&a, 0, sizeof(a));
		hdr(&a.hdr, DP_MSG_POLICY_ACK, sizeof(a));
		a.gen = ((struct dp_msg_policy *)buf)->gen;
		if (send(fd, &a, sizeof(a), 0) != (ssize_t)sizeof(a))
			return 1;
	}
	memcpy(m->boot_id, h.boot_id, 16);
	while (acked < records) {
		/* keep up to inflight batches ahead of the acknowledgements */
		while (next <= records && next - 1 - acked < (uint64_t)inflight * BATCH) {
			uint32_t c = 0;

			while (c < BATCH && next <= records)
				fill_event(&m->ev[c++], next++);
			m->count = c;
			hdr(&m->hdr, DP_MSG_EVENTS,
			    (uint32_t)(sizeof(*m) + c * sizeof(struct dp_event)));
			if (send(fd, m, m->hdr.len, 0) != (ssize_t)m->hdr.len)
				return 1;
		}
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return 1;
		if (((struct dp_msg_hdr *)buf)->type == DP_MSG_EVENTS_ACK)
			acked = ((struct dp_msg_events_ack *)buf)->acked_wseq[0];
	}
	free(m);
	return 0;
}

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "records", required_argument, NULL, 'r' },
		{ "fsync", required_argument, NULL, 'f' },
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "no-sign", no_argument, NULL, 'n' },
		{ "inflight", required_argument, NULL, 'i' },
		{ "smoke", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t records = 200000;
	unsigned checkpoint = 1000, inflight = 256;   /* chokepoint-dp keeps 8192 = 256 batches */
	int do_fsync = CP_FSYNC_BATCH, sign = 1, smoke = 0, c, sv[2], st = 0, rc = 1;
	char dir[] = "/tmp/chokepoint-bench-audit.XXXXXX", path[256], conf[256], kp[256];
	char cmd[1024], err[4096], id[17];
	struct cp_policy *pol = NULL;
	struct cp_audit *a = NULL;
	struct cp_dplink *l = NULL;
	struct cp_key *key = NULL;
	struct cp_audit_stats as;
	double t0 = 0, t1, c0 = 0, c1;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			records = strtoull(optarg, NULL, 10);
			break;
		case 'f':
			do_fsync = strcmp(optarg, "never") == 0 ? CP_FSYNC_NEVER :
				   strcmp(optarg, "always") == 0 ? CP_FSYNC_ALWAYS : CP_FSYNC_BATCH;
			break;
		case 'c':
			checkpoint = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'n':
			sign = 0;
			break;
		case 'i':
			inflight = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			smoke = 1;
			records = 5000;
			break;
		default:
			fprintf(stderr, "usage: chokepoint-bench-audit [--records N] [--fsync never|batch|always] "
				"[--checkpoint N] [--no-sign] [--inflight N] [--smoke]\n");
			return 2;
		}
	}
	if (records == 0 || inflight == 0)
		return 2;
	cp_log_setup("bench-audit", CP_LOG_WARN);
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	snprintf(conf, sizeof(conf), "%s/bench.conf", dir);
	snprintf(kp, sizeof(kp), "%s/k", dir);
	if (write_file(conf, "mode = \"enforce\";\ndefault = \"deny\";\n"
		       "rules = ( { id = \"llm\"; action = \"allow\"; sni = [\"api.openai.com\"]; } );\n") != 0 ||
	    cp_policy_compile_file(conf, &pol, err, sizeof(err)) < 0) {
		fprintf(stderr, "policy: %s\n", err);
		goto out;
	}
	if (cp_audit_open(path, do_fsync, &a, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (sign) {
		snprintf(cmd, sizeof(cmd), "%s.key", kp);
		if (cp_sign_keygen(kp, id, err, sizeof(err)) < 0 ||
		    cp_key_load_private(cmd, &key, err, sizeof(err), NULL, 0) < 0) {
			fprintf(stderr, "key: %s\n", err);
			goto out;
		}
		cp_audit_set_signer(a, key, checkpoint, 0);
	}
	if (cp_dplink_new(a, &l) < 0 || cp_dplink_set_policy(l, pol, "start", err, sizeof(err)) < 0)
		goto out;
	pol = NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		goto out;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(feeder(sv[1], records, inflight));
	}
	close(sv[1]);
	cp_dplink_attach(l, sv[0]);
	while (cp_dplink_counters(l)->events < records) {
		struct pollfd p = { .fd = cp_dplink_fd(l), .events = POLLIN };
		unsigned bits;

		if (p.fd < 0 || poll(&p, 1, 5000) <= 0)
			break;
		/* the clock starts with the first service turn (HELLO, policy push and ack
		 * included: under a millisecond) */
		if (t0 == 0) {
			t0 = now_s();
			c0 = cpu_s();
		}
		bits = cp_dplink_service(l);
		if (bits & (CP_DPL_CLOSED | CP_DPL_AUDIT_ERR))
			break;
	}
	t1 = now_s();
	c1 = cpu_s();
	waitpid(pid, &st, 0);
	cp_audit_checkpoint(a, "shutdown");
	cp_audit_stats(a, &as);
	if (cp_dplink_counters(l)->events != records || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "bench-audit: %llu of %llu records written, feeder status %d\n",
			(unsigned long long)cp_dplink_counters(l)->events,
			(unsigned long long)records, st);
		goto out;
	}
	printf("audit: %llu records, fsync %s, signing %s (checkpoint every %u), %u batches of %d in flight\n",
	       (unsigned long long)records,
	       do_fsync == CP_FSYNC_NEVER ? "never" : do_fsync == CP_FSYNC_ALWAYS ? "always" : "batch",
	       sign ? "ed25519" : "off", checkpoint, inflight, BATCH);
	{
		struct stat sb;

		printf("audit: %.0f records/s wall (%.3f s), %.1f us CPU per record, %llu checkpoints, %.1f MB written\n",
		       (double)records / (t1 - t0), t1 - t0,
		       (c1 - c0) * 1e6 / (double)records, (unsigned long long)as.checkpoints,
		       stat(path, &sb) == 0 ? (double)sb.st_size / 1e6 : 0.0);
	}
	/* the trail verifies: chain and, when signing, every checkpoint signature */
	{
		struct cp_audit_verify v;
		struct cp_key *pk = NULL;
		char msg[1024];

		memset(&v, 0, sizeof(v));
		if (sign) {
			snprintf(cmd, sizeof(cmd), "%s.pub", kp);
			if (cp_key_load_public(cmd, &pk, err, sizeof(err)) < 0)
				goto out;
			v.pubkey = pk;
		}
		if (cp_audit_verify_file(path, &v, msg, sizeof(msg)) != 0 ||
		    v.total != records + 1 + as.checkpoints || (sign && v.unsigned_tail != 0)) {
			fprintf(stderr, "bench-audit: trail does not verify: %s\n", msg);
			cp_key_free(pk);
			goto out;
		}
		printf("audit: trail verified: %s\n", msg);
		cp_key_free(pk);
	}
	rc = 0;
	(void)smoke;
out:
	cp_dplink_free(l);
	cp_audit_close(a);
	cp_key_free(key);
	cp_policy_free(pol);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
