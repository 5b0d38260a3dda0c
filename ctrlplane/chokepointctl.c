/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * chokepointctl: the operator's command line.
 *
 *   chokepointctl [--socket PATH] status [--json]
 *   chokepointctl [--socket PATH] reload
 *   chokepointctl replay --config CONF [--audit-out FILE] [--dp PATH] PCAP...
 *   chokepointctl policy test --config FILE (--sni NAME | --host NAME)
 *                 [--src IP] [--dst IP] [--dport N] [--proto tcp|udp]
 *   chokepointctl audit verify [--pubkey PEM]... [--strict] [--partial] [--with-rotated] FILE...
 *   chokepointctl audit keygen --out PREFIX
 *
 * Exit codes: 0 success, 1 failure (reason on stderr), 2 usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DP_PROTO_NAMES
#include "cp_audit.h"
#include "cp_ctl.h"
#include "cp_log.h"
#include "cp_policy.h"
#include "cp_sign.h"
#include "cp_util.h"
#include "cpm.h"
#include "dp_proto.h"
#ifdef CP_HAVE_PCAP
#include "cp_replay.h"
#endif

#define ERR_MAX 16384

static const char usage_text[] =
	"usage: chokepointctl [--socket PATH] status [--json]\n"
	"       chokepointctl [--socket PATH] reload\n"
	"       chokepointctl replay --config CONF [--audit-out FILE] [--dp PATH] PCAP...\n"
	"       chokepointctl policy test --config FILE (--sni NAME | --host NAME)\n"
	"                     [--src IP] [--dst IP] [--dport N] [--proto tcp|udp]\n"
	"       chokepointctl audit verify [--pubkey PEM]... [--strict] [--partial] [--with-rotated] FILE...\n"
	"                     (FILE...: the rotated files oldest first, then the live one;\n"
	"                      --with-rotated: FILE's rotated files, FILE.<timestamp>, go first)\n"
	"       chokepointctl audit keygen --out PREFIX   (writes PREFIX.key 0600, PREFIX.pub)\n"
	"  --socket PATH   chokepointd's control socket (default " CP_DEFAULT_CTL_SOCK ")\n";

static int __attribute__((format(printf, 1, 2)))
usage_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "chokepointctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage_text);
	return 2;
}

/* ------------------------------------------------------------ daemon calls */

static int
ask(const char *sock, const char *req, int timeout_ms)
{
	char *reply = malloc(CP_CTL_REPLY_MAX);
	const char *body;
	char err[512];
	ssize_t n;
	int st;

	if (reply == NULL)
		return 1;
	n = cp_ctl_request(sock, req, reply, CP_CTL_REPLY_MAX, timeout_ms, err, sizeof(err));
	if (n < 0) {
		fprintf(stderr, "chokepointctl: %s\n", err);
		free(reply);
		return 1;
	}
	st = cp_ctl_reply_status(reply, &body);
	if (st < 0) {
		fprintf(stderr, "chokepointctl: %s: malformed reply\n", sock);
		free(reply);
		return 1;
	}
	fputs(body, st == 0 ? stdout : stderr);
	if (body[0] != '\0' && body[strlen(body) - 1] != '\n')
		fputc('\n', st == 0 ? stdout : stderr);
	free(reply);
	return st == 0 ? 0 : 1;
}

static int
cmd_status(const char *sock, int argc, char **argv)
{
	int json = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else
			return usage_err("status: unknown argument '%s'", argv[i]);
	}
	/* the daemon waits up to 2 s for the dataplane */
	return ask(sock, json ? "status json" : "status", 5000);
}

static int
cmd_reload(const char *sock, int argc, char **argv)
{
	if (argc > 1)
		return usage_err("reload: unknown argument '%s'", argv[1]);
	return ask(sock, "reload", 30000);
}

/* ------------------------------------------------------------------ replay */

static int
cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "audit-out", required_argument, NULL, 'o' },
		{ "dp", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
#ifdef CP_HAVE_PCAP
	struct cp_replay_opts o = { 0 };
#endif
	const char *config = NULL, *out = NULL, *dp = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+c:o:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'd':
			dp = optarg;
			break;
		default:
			return usage_err("replay: bad option");
		}
	}
	if (config == NULL)
		return usage_err("replay: --config CONF is required");
	if (optind >= argc)
		return usage_err("replay: no capture given");
#ifdef CP_HAVE_PCAP
	o.config = config;
	o.audit_out = out;
	o.dp_path = dp;
	o.pcaps = argv + optind;
	o.n_pcaps = argc - optind;
	return cp_replay_run(&o);
#else
	(void)out;
	(void)dp;
	fprintf(stderr, "chokepointctl: replay: built without libpcap\n");
	return 1;
#endif
}

/* ------------------------------------------------------------- policy test */

static int
parse_ip(const char *s, uint8_t out[16], uint8_t *family)
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1) {
		*family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*family = 6;
		return 0;
	}
	return -EINVAL;
}


/*
 * What the dataplane adds to the matcher's verdict for a named flow (dp_verdict.c):
 * dot (port 853), doh (a DoH list name), the rule's binding (sni_dst_mismatch for a
 * pinned rule and a destination outside its dst). An anomaly whose action is deny
 * turns an allow into deny (*an: the class). Returns the "bind:" line to print, or
 * NULL when the deciding rule binds nothing. DNS answers are the dataplane's: a
 * bind = "dns" rule is reported, not checked.
 */
static const char *
test_binding(const struct cpm_policy *mp, const struct cpm_query *q, struct cpm_verdict *v,
	     unsigned int *an)
{
	const struct cpm_settings *set = cpm_settings(mp);
	const char *line = NULL;
	char norm[DP_NAME_MAX + 1];
	uint32_t found = 0;
	int n;

	if (v->reason == CPM_REASON_TRUSTED || v->reason == CPM_REASON_NOT_INTERNAL)
		return NULL;
	if (q->dport == 853)
		found |= 1u << DP_AN_DOT;
	n = cpm_normalise_name(q->name, q->name_len, norm, sizeof(norm));
	if (n > 0 && cpm_is_doh_name(mp, norm, (size_t)n))
		found |= 1u << DP_AN_DOH;
	if (v->action == CPM_ALLOW && v->reason == CPM_REASON_RULE) {
		switch (cpm_rule_bind(mp, v->rule)) {
		case CPM_BIND_DNS:
			line = "dns (the destination must be a DNS answer for the name to the client: "
			       "the dataplane's tables decide, not checked here)";
			break;
		case CPM_BIND_PINNED:
			if (cpm_rule_pin_holds(mp, v->rule, q)) {
				line = "pinned (the destination is in the rule's dst)";
			} else {
				line = "pinned: the destination is outside the rule's dst (sni_dst_mismatch)";
				found |= 1u << DP_AN_SNI_DST_MISMATCH;
			}
			break;
		default:
			break;
		}
	}
	if (v->action != CPM_ALLOW)
		return line;
	for (unsigned int i = 0; i < DP_AN_MAX; i++) {
		if ((found & (1u << i)) && set->anomaly_action[i] == CPM_DENY) {
			v->action = CPM_DENY;
			v->reason = DP_REASON_ANOMALY;
			v->rule = -1;
			*an = i;
			break;
		}
	}
	return line;
}

static int
cmd_policy_test(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "sni", required_argument, NULL, 's' },
		{ "host", required_argument, NULL, 'H' },
		{ "src", required_argument, NULL, 'S' },
		{ "dst", required_argument, NULL, 'D' },
		{ "dport", required_argument, NULL, 'p' },
		{ "proto", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *sni = NULL, *host = NULL, *src = NULL, *dst = NULL;
	struct cp_policy *pol = NULL;
	struct cpm_policy *mp = NULL;
	struct cpm_scratch *scr = NULL;
	struct cpm_query q;
	struct cpm_verdict v;
	uint8_t fs = 0, fd = 0;
	long dport = -1;
	char *err, *end, sbuf[INET6_ADDRSTRLEN], dbuf[INET6_ADDRSTRLEN];
	const char *id, *bind;
	unsigned int an = DP_AN_MAX;
	int c, rc;

	memset(&q, 0, sizeof(q));
	q.l4proto = IPPROTO_TCP;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			sni = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		case 'S':
			src = optarg;
			break;
		case 'D':
			dst = optarg;
			break;
		case 'p':
			errno = 0;
			dport = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || dport < 0 || dport > 65535)
				return usage_err("policy test: --dport '%s' is not a port number", optarg);
			break;
		case 'P':
			if (strcmp(optarg, "tcp") == 0)
				q.l4proto = IPPROTO_TCP;
			else if (strcmp(optarg, "udp") == 0)
				q.l4proto = IPPROTO_UDP;
			else
				return usage_err("policy test: --proto '%s': tcp or udp", optarg);
			break;
		default:
			return usage_err("policy test: bad option");
		}
	}
	if (optind < argc)
		return usage_err("policy test: unexpected argument '%s'", argv[optind]);
	if (config == NULL)
		return usage_err("policy test: --config FILE is required");
	if ((sni == NULL) == (host == NULL))
		return usage_err("policy test: give exactly one of --sni NAME or --host NAME");
	if (src != NULL && parse_ip(src, q.src, &fs) < 0)
		return usage_err("policy test: --src '%s' is not an IP address", src);
	if (dst != NULL && parse_ip(dst, q.dst, &fd) < 0)
		return usage_err("policy test: --dst '%s' is not an IP address", dst);
	if (fs != 0 && fd != 0 && fs != fd)
		return usage_err("policy test: --src and --dst are of different families");
	q.family = fs != 0 ? fs : fd != 0 ? fd : 4;
	/* documentation addresses by default (RFC 5737 / 3849), printed below */
	if (fs == 0)
		parse_ip(q.family == 4 ? "10.0.0.1" : "fd00::1", q.src, &fs);
	if (fd == 0)
		parse_ip(q.family == 4 ? "192.0.2.1" : "2001:db8::1", q.dst, &fd);
	q.sport = 40000;
	q.dport = (uint16_t)(dport >= 0 ? dport : sni != NULL ? 443 : 80);
	q.field = sni != NULL ? CPM_FIELD_SNI : CPM_FIELD_HOST;
	q.name = sni != NULL ? sni : host;
	q.name_len = strlen(q.name);

	err = calloc(1, ERR_MAX);
	if (err == NULL)
		return 1;
	rc = cp_policy_compile_file(config, &pol, err, ERR_MAX);
	if (rc < 0) {
		if (err[0] == '\0')
			snprintf(err, ERR_MAX, "%s: %s\n", config, strerror(-rc));
		fputs(err, stderr);
		free(err);
		return 1;
	}
	rc = cpm_policy_load(pol->blob, pol->blob_len, &mp, err, ERR_MAX);
	if (rc < 0) {
		fprintf(stderr, "chokepointctl: %s: compiled policy does not load: %s\n", config, err);
		goto fail;
	}
	if (cpm_classify_l34(mp, &q, &v) == CPM_NEED_NAME) {
		scr = cpm_scratch_alloc(mp);
		if (scr == NULL) {
			fprintf(stderr, "chokepointctl: out of memory\n");
			goto fail;
		}
		if (cpm_match(mp, scr, &q, &v) < 0)
			fprintf(stderr, "chokepointctl: %s: pattern scan failed: default applied\n",
				config);
	}
	bind = test_binding(mp, &q, &v, &an);
	id = v.rule >= 0 ? cpm_rule_id(mp, v.rule) : NULL;
	printf("%s\n", v.action == CPM_DENY ? "deny" : "allow");
	printf("rule: %s\n", id != NULL ? id : "none");
	if (v.reason == DP_REASON_ANOMALY && an < DP_AN_MAX)
		printf("reason: %s\n", dp_anomaly_names[an]);
	else
		printf("reason: %s\n", v.reason < DP_REASON_MAX ? dp_reason_names[v.reason] : "unknown");
	if (bind != NULL)
		printf("bind: %s\n", bind);
	if (cpm_settings(mp)->mode == CPM_MODE_MONITOR)
		printf("mode: monitor (recorded, not enforced)\n");
	inet_ntop(q.family == 4 ? AF_INET : AF_INET6, q.src, sbuf, sizeof(sbuf));
	inet_ntop(q.family == 4 ? AF_INET : AF_INET6, q.dst, dbuf, sizeof(dbuf));
	printf("query: %s %s -> %s port %u %s %s\n", q.l4proto == IPPROTO_TCP ? "tcp" : "udp",
	       sbuf, dbuf, q.dport, sni != NULL ? "sni" : "host", q.name);
	cpm_scratch_free(scr);
	cpm_policy_free(mp);
	cp_policy_free(pol);
	free(err);
	return 0;
fail:
	cpm_scratch_free(scr);
	cpm_policy_free(mp);
	cp_policy_free(pol);
	free(err);
	return 1;
}

/* ------------------------------------------------------------ audit verify */

static int
cmd_audit_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pubkey", required_argument, NULL, 'k' },
		{ "strict", no_argument, NULL, 's' },
		{ "partial", no_argument, NULL, 'p' },
		{ "with-rotated", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct cp_audit_verify st;
	struct cp_key *keys[8] = { NULL }, *key = NULL;
	const char *pub[8];
	unsigned n_pub = 0;
	char msg[1024], *sum;
	int c, strict = 0, partial = 0, rotated = 0, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (n_pub == 8)
				return usage_err("audit verify: at most 8 --pubkey");
			pub[n_pub++] = optarg;
			break;
		case 's':
			strict = 1;
			break;
		case 'p':
			partial = 1;
			break;
		case 'r':
			rotated = 1;
			break;
		default:
			return usage_err("audit verify: bad option");
		}
	}
	if (optind >= argc)
		return usage_err("audit verify: no file given");
	memset(&st, 0, sizeof(st));
	for (unsigned i = 0; i < n_pub; i++) {
		if (cp_key_load_public(pub[i], &keys[i], msg, sizeof(msg)) < 0) {
			fprintf(stderr, "chokepointctl: --pubkey %s\n", msg);
			for (unsigned k = 0; k < i; k++)
				cp_key_free(keys[k]);
			return 1;
		}
		if (i > 0)
			st.more_keys[st.n_more_keys++] = keys[i];
	}
	key = keys[0];
	st.pubkey = key;
	st.partial = partial;
	for (int i = optind; i < argc && rc == 0; i++) {
		char **v = NULL;
		size_t n = 0;

		if (rotated && cp_audit_rotated_files(argv[i], &v, &n) < 0) {
			fprintf(stderr, "chokepointctl: %s: cannot list its rotated files\n", argv[i]);
			rc = 1;
		}
		for (size_t f = 0; f <= n && rc == 0; f++) {
			const char *path = f < n ? v[f] : argv[i];

			if (cp_audit_verify_file(path, &st, msg, sizeof(msg)) != 0) {
				fprintf(stderr, "%s\n", msg);
				printf("chain BROKEN: %s\n", msg);
				rc = 1;
				break;
			}
			printf("%s\n", msg);
		}
		for (size_t f = 0; f < n; f++)
			free(v[f]);
		free(v);
	}
	if (rc != 0) {
		for (unsigned k = 0; k < n_pub; k++)
			cp_key_free(keys[k]);
		return 1;
	}
	sum = malloc(8192);
	if (sum != NULL) {
		cp_audit_verify_summary(&st, sum, 8192);
		fputs(sum, stdout);
		free(sum);
	}
	if (key == NULL) {
		printf("chain verified; signatures not checked: give --pubkey PEM (the key you pinned, never one from the trail)\n");
		rc = strict ? 1 : 0;
		if (strict)
			fprintf(stderr, "chokepointctl: --strict without --pubkey: nothing is proven signed\n");
	} else if (st.unsigned_tail > 0) {
		printf("chain and signatures verified; the last %llu record(s) are not covered by a checkpoint%s\n",
		       (unsigned long long)st.unsigned_tail, strict ? " (--strict: failure)" : "");
		rc = strict ? 1 : 0;
	} else {
		printf("chain and signatures verified\n");
	}
	for (unsigned k = 0; k < n_pub; k++)
		cp_key_free(keys[k]);
	return rc;
}

static int
cmd_audit_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prefix = NULL;
	char id[2 * CP_KEY_ID_LEN + 1], err[1024];
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c != 'o')
			return usage_err("audit keygen: bad option");
		prefix = optarg;
	}
	if (prefix == NULL || optind < argc)
		return usage_err("audit keygen: --out PREFIX is required (and nothing else)");
	if (cp_sign_keygen(prefix, id, err, sizeof(err)) < 0) {
		fprintf(stderr, "chokepointctl: audit keygen: %s\n", err);
		return 1;
	}
	printf("%s.key: Ed25519 private key (mode 0600): audit.signing_key of the config\n", prefix);
	printf("%s.pub: public key: give it to the auditor (audit verify --pubkey)\n", prefix);
	printf("key id %s\n", id);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *sock = CP_DEFAULT_CTL_SOCK;
	int i = 1;

	cp_log_setup("chokepointctl", CP_LOG_INFO);
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			sock = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--socket=", 9) == 0) {
			sock = argv[i] + 9;
			i++;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(usage_text, stdout);
			return 0;
		} else {
			return usage_err("unknown option '%s'", argv[i]);
		}
	}
	if (i >= argc)
		return usage_err("no command given");
	argc -= i;
	argv += i;
	if (strcmp(argv[0], "status") == 0)
		return cmd_status(sock, argc, argv);
	if (strcmp(argv[0], "reload") == 0)
		return cmd_reload(sock, argc, argv);
	if (strcmp(argv[0], "replay") == 0)
		return cmd_replay(argc, argv);
	if (strcmp(argv[0], "policy") == 0) {
		if (argc < 2 || strcmp(argv[1], "test") != 0)
			return usage_err("policy: the only subcommand is 'test'");
		return cmd_policy_test(argc - 1, argv + 1);
	}
	if (strcmp(argv[0], "audit") == 0) {
		if (argc >= 2 && strcmp(argv[1], "verify") == 0)
			return cmd_audit_verify(argc - 1, argv + 1);
		if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
			return cmd_audit_keygen(argc - 1, argv + 1);
		return usage_err("audit: subcommands are 'verify' and 'keygen'");
	}
	return usage_err("unknown command '%s'", argv[0]);
}
