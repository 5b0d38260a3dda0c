/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * chokepointd: the control plane daemon. Owns the policy file (compile,
 * validate, reload), pushes the compiled policy to the dataplane, writes the
 * audit trail from the dataplane's events, answers chokepointctl.
 *
 * One thread, one poll() loop over: the signalfd (SIGHUP reload, SIGTERM /
 * SIGINT exit), the dataplane listening socket and connection, the control
 * listening socket and its connections, and the compile eventfd. A reload
 * compiles in a worker thread (one at a time; a reload asked for meanwhile
 * runs once after it, the latest asker's name kept) that shares nothing
 * mutable with the loop: the loop keeps draining audit events and answering
 * status, and applies the result when the eventfd says the compile is done.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cp_audit.h"
#include "cp_ctl.h"
#include "cp_dplink.h"
#include "cp_log.h"
#include "cp_policy.h"
#include "cp_sign.h"
#include "cp_syslog.h"
#include "cp_resolve.h"
#include "cp_status.h"
#include "cp_util.h"
#include "cpm.h"

#define DEFAULT_CONFIG "/etc/chokepoint/chokepoint.conf"
#define MAX_CTL_CONNS 16
#define STATUS_WAIT_MS 2000
#define RELOAD_WAIT_MS 5000
#define REQUEST_WAIT_MS 5000     /* a connection that sends no request is closed */
#define ERR_MAX 16384

enum ctl_wait {
	WAIT_NONE = 0,
	WAIT_STATUS,
	WAIT_STATUS_JSON,
	WAIT_RELOAD,
	WAIT_COMPILE,             /* reload: its compile (seq) has not finished */
};

struct ctl_conn {
	int fd;
	enum ctl_wait wait;
	uint64_t deadline_ms;
	uint64_t gen;             /* WAIT_RELOAD: generation pushed */
	uint8_t sha[32];          /* its policy hash */
	uint64_t stats_seen;      /* WAIT_STATUS: stats counter when asked */
	uint64_t compile_seq;     /* WAIT_COMPILE: the compile whose result it waits for */
};

/* One compile in the worker thread. The thread reads only config and writes
 * only pol, err and rc, then signals efd; the loop joins it after that. */
struct compile_job {
	pthread_t tid;
	bool threaded;            /* false: ran inline (no thread could be made) */
	int efd;
	const char *config;
	const char *by;           /* "ctl" or "sighup" (static strings) */
	uint64_t seq;
	struct cp_policy *pol;
	int rc;
	char *err;                /* ERR_MAX bytes */
};

struct daemon {
	const char *config;
	const char *dp_sock_path;
	const char *ctl_sock_path;
	const char *audit_opt;
	int sig_fd;
	int dp_listen;
	int ctl_listen;
	struct ctl_conn ctl[MAX_CTL_CONNS];
	struct cp_audit *audit;
	struct cp_key *key;       /* audit.signing_key, NULL when not signing */
	struct cp_syslog *syslog; /* syslog export, NULL when not configured */
	char *key_path;
	struct cp_dplink *link;
	struct cp_resolve *resolve; /* out-of-band resolution (dns.resolver) */
	char *audit_path;         /* in use (the config's may change on reload) */
	int compile_efd;          /* the worker's "compile done" */
	struct compile_job *job;  /* compile running, NULL when none */
	uint64_t compile_seq;     /* seq of the last compile started */
	uint64_t compile_since_ns; /* CLOCK_REALTIME when job started */
	const char *again_by;     /* non-NULL: compile again after job, asked by */
	uint64_t start_ms;
	uint64_t stats_count;     /* STATS messages received */
	bool stats_outstanding;
	bool quit;
	char reply[CP_CTL_REPLY_MAX];
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: chokepointd [-c FILE] [--dp-socket PATH] [--ctl-socket PATH] [--audit PATH] [-v]\n"
		"       chokepointd --check FILE\n"
		"  -c, --config FILE    policy file (default " DEFAULT_CONFIG ")\n"
		"  --dp-socket PATH     dataplane socket (default " CP_DEFAULT_DP_SOCK ")\n"
		"  --ctl-socket PATH    control socket (default " CP_DEFAULT_CTL_SOCK ")\n"
		"  --audit PATH         audit trail (default: audit.path of the config)\n"
		"  --check FILE         validate and compile FILE; print the files its hash covers\n"
		"                       (sha256sum lines), the policy hash, rules and sizes; exit 0/1\n"
		"  -v, --verbose        debug logging\n"
		"Signals: SIGHUP reloads the policy; SIGTERM/SIGINT exit.\n");
}

/* Print every line of a compiler error text with the log prefix. */
static void
log_errors(const char *what, const char *err)
{
	const char *p = err;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		int n = nl != NULL ? (int)(nl - p) : (int)strlen(p);

		if (n > 0)
			CP_ERR("%s%.*s", what, n, p);
		p += n + (nl != NULL);
	}
}

static int
check_only(const char *file)
{
	struct cpm_policy *cpm = NULL;
	struct cp_policy *pol = NULL;
	char *err = calloc(1, ERR_MAX);
	char hex[65];
	int rc;

	if (err == NULL)
		return 1;
	rc = cp_policy_compile_file(file, &pol, err, ERR_MAX);
	if (rc < 0) {
		if (err[0] == '\0')
			snprintf(err, ERR_MAX, "%s: %s\n", file, strerror(-rc));
		fputs(err, stderr);
		if (err[strlen(err) - 1] != '\n')
			fputc('\n', stderr);
		free(err);
		return 1;
	}
	/* what the hash covers (sha256sum lines), then the summary line */
	fputs(cp_policy_manifest(pol), stdout);
	rc = cpm_policy_load(pol->blob, pol->blob_len, &cpm, err, ERR_MAX);
	printf("%s: ok: %u rules, policy sha256:%s, compiled %zu bytes", file, pol->n_rules,
	       cp_hex(pol->sha256, 32, hex), pol->blob_len);
	if (rc == 0)
		printf(", loaded %zu bytes", cpm_policy_size(cpm));
	printf("\n");
	cpm_policy_free(cpm);
	cp_policy_free(pol);
	free(err);
	return 0;
}

/* ------------------------------------------------------------------ reload */

/* Out-of-band answers go to the dataplane when one is connected (else the
 * next HELLO starts a round for it). */
static void
resolve_emit(void *arg, const struct dp_msg_dns_resolved *m)
{
	struct daemon *d = arg;
	int rc = cp_dplink_send_dns(d->link, m);

	if (rc < 0 && rc != -ENOTCONN)
		CP_WARN("dns resolver: %s not sent to the dataplane: %s", m->name, strerror(-rc));
}

/* The current policy's dns.resolver & co (and bind = "dns" names) to the resolver. */
static void
resolve_apply(struct daemon *d)
{
	const struct cp_policy *pol = cp_dplink_policy(d->link);
	struct cp_resolve_conf rc;
	char err[256];

	if (pol == NULL || d->resolve == NULL)
		return;
	memset(&rc, 0, sizeof(rc));
	rc.server = pol->dns.resolver;
	rc.interval_s = pol->dns.interval_s;
	rc.timeout_ms = pol->dns.timeout_ms;
	rc.retries = pol->dns.retries;
	rc.max_names = pol->dns.max_names;
	rc.names = (const char *const *)pol->dns.names;
	rc.n_names = pol->dns.n_names;
	if (cp_resolve_configure(d->resolve, &rc, cp_mono_ms(), err, sizeof(err)) < 0) {
		CP_ERR("dns.resolver %s: %s", rc.server, err);
		return;
	}
	if (rc.server == NULL)
		return;
	CP_INFO("dns resolver %s: %u bind = \"dns\" names resolved every %u s", rc.server,
		rc.n_names < rc.max_names ? (unsigned)rc.n_names : rc.max_names, rc.interval_s);
	if (rc.n_names > rc.max_names)
		CP_WARN("dns resolver: %zu exact bind = \"dns\" names, only the first %u "
			"(dns.resolve_max_names) are resolved", rc.n_names, rc.max_names);
}

/*
 * Make a finished compile current (rc, pol, err: its result; pol is taken).
 * On failure the old policy stays; the reason goes to the log and into why
 * (for a ctl reply).
 */
static int
reload_apply(struct daemon *d, const char *by, int rc, struct cp_policy *pol, char *err,
	     char *why, size_t whylen)
{
	if (rc < 0) {
		if (err[0] == '\0')
			snprintf(err, ERR_MAX, "%s: %s", d->config, strerror(-rc));
		CP_ERR("reload (%s) of %s failed; the current policy stays:", by, d->config);
		log_errors("  ", err);
		snprintf(why, whylen, "reload of %s failed, the current policy stays:\n%s",
			 d->config, err);
		return rc;
	}
	if (d->audit_opt == NULL && pol->audit_path != NULL &&
	    strcmp(pol->audit_path, d->audit_path) != 0)
		CP_WARN("policy %s: audit.path changed to %s: the trail stays %s until restart",
			d->config, pol->audit_path, d->audit_path);
	if ((pol->audit_signing_key == NULL) != (d->key_path == NULL) ||
	    (pol->audit_signing_key != NULL && strcmp(pol->audit_signing_key, d->key_path) != 0))
		CP_WARN("policy %s: audit.signing_key changed: the trail is signed with %s until restart",
			d->config, d->key_path != NULL ? d->key_path : "no key");
	if (d->key != NULL)
		cp_audit_set_signer(d->audit, d->key, pol->checkpoint_records, pol->checkpoint_seconds);
	cp_audit_set_rotation(d->audit, pol->rotate_bytes, pol->rotate_seconds);
	CP_INFO("policy %s compiled (%s): %u rules", d->config, by, pol->n_rules);
	rc = cp_dplink_set_policy(d->link, pol, by, err, ERR_MAX);
	if (rc < 0) {
		CP_ERR("reload (%s) of %s: %s; the current policy stays", by, d->config, err);
		snprintf(why, whylen, "reload of %s failed: %s", d->config, err);
		cp_policy_free(pol);
		return rc;
	}
	if (!cp_dplink_ready(d->link))
		CP_INFO("policy generation %llu current; no dataplane connected: pushed when one connects",
			(unsigned long long)cp_dplink_policy_gen(d->link));
	resolve_apply(d);
	return 0;
}

/* The worker: compile, hand the result over, wake the loop. */
static void *
compile_main(void *arg)
{
	struct compile_job *j = arg;
	uint64_t one = 1;

	j->rc = cp_policy_compile_file(j->config, &j->pol, j->err, ERR_MAX);
	while (write(j->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	return NULL;
}

/* Start compiling d->config in the worker (none is running). 0 or -errno. */
static int
compile_start(struct daemon *d, const char *by)
{
	struct compile_job *j = calloc(1, sizeof(*j));
	int rc;

	if (j != NULL)
		j->err = calloc(1, ERR_MAX);
	if (j == NULL || j->err == NULL) {
		free(j);
		return -ENOMEM;
	}
	j->efd = d->compile_efd;
	j->config = d->config;
	j->by = by;
	j->seq = ++d->compile_seq;
	d->job = j;
	d->compile_since_ns = cp_now_ns();
	CP_INFO("reload (%s): compiling %s (compile %llu)", by, d->config,
		(unsigned long long)j->seq);
	rc = pthread_create(&j->tid, NULL, compile_main, j);
	if (rc != 0) {
		/* no thread: compile here, the result is picked up the same way */
		CP_WARN("reload (%s): no compile thread (%s): compiling in the event loop",
			by, strerror(rc));
		compile_main(j);
		return 0;
	}
	j->threaded = true;
	return 0;
}

/*
 * A reload is asked for (by "ctl" or "sighup"): compile now, or after the
 * running compile when one is. The seq of the compile whose result answers
 * it, or 0 when none could start.
 */
static uint64_t
reload_request(struct daemon *d, const char *by)
{
	if (d->job != NULL) {
		if (d->again_by == NULL)
			CP_INFO("reload (%s): a compile is running: compiling again after it", by);
		d->again_by = by;
		return d->compile_seq + 1;
	}
	if (compile_start(d, by) < 0) {
		CP_ERR("reload (%s) of %s: out of memory; the current policy stays", by, d->config);
		return 0;
	}
	return d->compile_seq;
}

/* ------------------------------------------------------------------ ctl */

static void
ctl_close(struct ctl_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->wait = WAIT_NONE;
}

static void
ctl_reply(struct ctl_conn *c, bool ok, const char *body)
{
	char *msg;
	size_t n = strlen(body);

	msg = malloc(n + 8);
	if (msg != NULL) {
		int l = snprintf(msg, n + 8, "%s\n%s", ok ? "ok" : "error", body);

		if (send(c->fd, msg, (size_t)l, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			CP_WARN("ctl: reply not sent: %s", strerror(errno));
		free(msg);
	}
	ctl_close(c);
}

static void
status_reply(struct daemon *d, struct ctl_conn *c, bool json, bool with_stats)
{
	const struct cp_policy *pol = cp_dplink_policy(d->link);
	struct cp_status_in in;
	struct cp_resolve_stats rs;
	struct cp_audit_stats as;
	struct cp_syslog_stats ss;
	char head[65];
	int n;

	memset(&in, 0, sizeof(in));
	in.pid = getpid();
	in.uptime_ms = cp_mono_ms() - d->start_ms;
	if (pol != NULL) {
		in.sha256 = pol->sha256;
		in.policy_path = pol->path;
		in.rules = pol->n_rules;
	}
	in.gen = cp_dplink_policy_gen(d->link);
	in.live_gen = cp_dplink_live_gen(d->link);
	in.pending_gen = cp_dplink_pending_gen(d->link);
	in.dp_connected = cp_dplink_ready(d->link);
	in.hello = cp_dplink_hello(d->link);
	in.stats = with_stats ? cp_dplink_stats(d->link) : NULL;
	in.audit_path = d->audit_path;
	in.audit_next_seq = cp_audit_next_seq(d->audit);
	cp_audit_head(d->audit, head);
	in.audit_head = head;
	in.c = cp_dplink_counters(d->link);
	in.gens = cp_dplink_gens(d->link);
	if (d->job != NULL) {
		in.compile_since_ns = d->compile_since_ns;
		in.compile_ms = (cp_now_ns() - d->compile_since_ns) / 1000000u;
		in.compile_by = d->job->by;
		in.compile_again = d->again_by != NULL;
	}
	if (d->resolve != NULL) {
		cp_resolve_stats(d->resolve, &rs);
		in.resolve = &rs;
	}
	cp_audit_stats(d->audit, &as);
	in.as = &as;
	if (d->syslog != NULL) {
		cp_syslog_get_stats(d->syslog, &ss);
		in.syslog = &ss;
	}
	n = json ? cp_status_json(&in, d->reply, sizeof(d->reply)) :
		   cp_status_text(&in, d->reply, sizeof(d->reply));
	if (n < 0) {
		ctl_reply(c, false, "status does not fit in one reply");
		return;
	}
	ctl_reply(c, true, d->reply);
}

static void
reload_reply_ok(struct daemon *d, struct ctl_conn *c, const char *note)
{
	char hex[65], body[256];

	/* the generation this caller's compile made (a newer one may be current) */
	snprintf(body, sizeof(body), "reloaded: generation %llu policy sha256:%s%s\n",
		 (unsigned long long)c->gen, cp_hex(c->sha, 32, hex), note);
	ctl_reply(c, true, body);
}

static void
ctl_request(struct daemon *d, struct ctl_conn *c)
{
	char req[CP_CTL_REQ_MAX + 1];
	char why[ERR_MAX];
	ssize_t n;
	int cmd;

	n = recv(c->fd, req, sizeof(req), MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ctl_close(c);
		return;
	}
	if ((size_t)n > CP_CTL_REQ_MAX) {
		CP_WARN("ctl: request of %zd bytes refused", n);
		ctl_reply(c, false, "request too long\n");
		return;
	}
	cmd = cp_ctl_parse(req, (size_t)n);
	switch (cmd) {
	case CP_CTL_STATUS:
	case CP_CTL_STATUS_JSON:
		if (!cp_dplink_ready(d->link)) {
			status_reply(d, c, cmd == CP_CTL_STATUS_JSON, false);
			return;
		}
		if (!d->stats_outstanding) {
			if (cp_dplink_request_stats(d->link) < 0) {
				status_reply(d, c, cmd == CP_CTL_STATUS_JSON, false);
				return;
			}
			d->stats_outstanding = true;
		}
		c->wait = cmd == CP_CTL_STATUS_JSON ? WAIT_STATUS_JSON : WAIT_STATUS;
		c->stats_seen = d->stats_count;
		c->deadline_ms = cp_mono_ms() + STATUS_WAIT_MS;
		return;
	case CP_CTL_RELOAD:
		c->compile_seq = reload_request(d, "ctl");
		if (c->compile_seq == 0) {
			snprintf(why, sizeof(why), "reload of %s failed: %s\n", d->config,
				 strerror(ENOMEM));
			ctl_reply(c, false, why);
			return;
		}
		c->wait = WAIT_COMPILE;
		c->deadline_ms = UINT64_MAX;    /* answered when its compile ends */
		return;
	default:
		CP_WARN("ctl: unknown request refused");
		ctl_reply(c, false,
			  "unknown request (known: \"status\", \"status json\", \"reload\")\n");
	}
}

/* A reload client's compile ended (applied when rc is 0): answer, or wait
 * for the dataplane's acknowledgement. */
static void
reload_answer(struct daemon *d, struct ctl_conn *c, int rc, const char *why)
{
	if (rc < 0) {
		ctl_reply(c, false, why);
		return;
	}
	c->gen = cp_dplink_policy_gen(d->link);
	memcpy(c->sha, cp_dplink_policy(d->link)->sha256, sizeof(c->sha));
	if (!cp_dplink_ready(d->link)) {
		reload_reply_ok(d, c, " (dataplane not connected: applied when it connects)");
		return;
	}
	if (cp_dplink_pending_gen(d->link) == 0) {
		reload_reply_ok(d, c, "");
		return;
	}
	c->wait = WAIT_RELOAD;
	c->deadline_ms = cp_mono_ms() + RELOAD_WAIT_MS;
}

/* The eventfd says the compile is done: apply it, answer its reload
 * clients, start the queued compile if one was asked for. */
static void
compile_done(struct daemon *d)
{
	struct compile_job *j = d->job;
	char why[ERR_MAX];
	uint64_t v;
	int rc;

	if (read(d->compile_efd, &v, sizeof(v)) < 0 || j == NULL)
		return;
	if (j->threaded)
		pthread_join(j->tid, NULL);
	d->job = NULL;
	rc = reload_apply(d, j->by, j->rc, j->pol, j->err, why, sizeof(why));
	for (int i = 0; i < MAX_CTL_CONNS; i++)
		if (d->ctl[i].wait == WAIT_COMPILE && d->ctl[i].compile_seq == j->seq)
			reload_answer(d, &d->ctl[i], rc, why);
	free(j->err);
	free(j);
	if (d->again_by != NULL) {
		const char *by = d->again_by;

		d->again_by = NULL;
		if (compile_start(d, by) < 0) {
			CP_ERR("reload (%s) of %s: out of memory; the current policy stays",
			       by, d->config);
			for (int i = 0; i < MAX_CTL_CONNS; i++)
				if (d->ctl[i].wait == WAIT_COMPILE)
					ctl_reply(&d->ctl[i], false, "reload failed: out of memory\n");
		}
	}
}

/* Answer waiting clients after the link reported bits, or on deadlines. */
static void
ctl_progress(struct daemon *d, unsigned bits)
{
	uint64_t now = cp_mono_ms();
	char body[512];

	if (bits & CP_DPL_STATS) {
		d->stats_count++;
		d->stats_outstanding = false;
	}
	if (bits & CP_DPL_CLOSED)
		d->stats_outstanding = false;
	for (int i = 0; i < MAX_CTL_CONNS; i++) {
		struct ctl_conn *c = &d->ctl[i];

		switch (c->wait) {
		case WAIT_NONE:
			if (c->fd >= 0 && now >= c->deadline_ms) {
				CP_WARN("ctl: no request within %d ms: connection closed",
					REQUEST_WAIT_MS);
				ctl_close(c);
			}
			break;
		case WAIT_STATUS:
		case WAIT_STATUS_JSON:
			if (d->stats_count != c->stats_seen)
				status_reply(d, c, c->wait == WAIT_STATUS_JSON, true);
			else if (!cp_dplink_ready(d->link) || now >= c->deadline_ms)
				status_reply(d, c, c->wait == WAIT_STATUS_JSON, false);
			break;
		case WAIT_COMPILE:
			break;
		case WAIT_RELOAD:
			if (cp_dplink_live_gen(d->link) >= c->gen) {
				reload_reply_ok(d, c, "");
			} else if ((bits & CP_DPL_NACK) && cp_dplink_nack_gen(d->link) == c->gen) {
				snprintf(body, sizeof(body),
					 "dataplane rejected generation %llu: %s\ngeneration %llu stays current\n",
					 (unsigned long long)c->gen, cp_dplink_nack_reason(d->link),
					 (unsigned long long)cp_dplink_policy_gen(d->link));
				ctl_reply(c, false, body);
			} else if (!cp_dplink_ready(d->link)) {
				reload_reply_ok(d, c,
						" (dataplane disconnected before acknowledging: applied when it reconnects)");
			} else if (now >= c->deadline_ms) {
				snprintf(body, sizeof(body),
					 "dataplane did not acknowledge generation %llu within %d ms\n",
					 (unsigned long long)c->gen, RELOAD_WAIT_MS);
				ctl_reply(c, false, body);
			}
			break;
		}
	}
	if (d->stats_outstanding) {
		bool waiting = false;

		for (int i = 0; i < MAX_CTL_CONNS; i++)
			if (d->ctl[i].wait == WAIT_STATUS || d->ctl[i].wait == WAIT_STATUS_JSON)
				waiting = true;
		if (!waiting)
			d->stats_outstanding = false;   /* a late reply is simply kept */
	}
}

static void
ctl_accept(struct daemon *d)
{
	uid_t uid;
	int fd = accept4(d->ctl_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (cp_ctl_peer_ok(fd, &uid) < 0) {
		CP_WARN("ctl: connection from uid %u refused", (unsigned)uid);
		close(fd);
		return;
	}
	for (int i = 0; i < MAX_CTL_CONNS; i++) {
		if (d->ctl[i].fd < 0) {
			d->ctl[i].fd = fd;
			d->ctl[i].wait = WAIT_NONE;
			d->ctl[i].deadline_ms = cp_mono_ms() + REQUEST_WAIT_MS;
			return;
		}
	}
	CP_WARN("ctl: more than %d connections: refused", MAX_CTL_CONNS);
	close(fd);
}

static void
dp_accept(struct daemon *d)
{
	uid_t uid;
	int fd = accept4(d->dp_listen, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (cp_ctl_peer_ok(fd, &uid) < 0) {
		CP_WARN("dataplane socket %s: connection from uid %u refused", d->dp_sock_path,
			(unsigned)uid);
		close(fd);
		return;
	}
	CP_INFO("dataplane: connected on %s", d->dp_sock_path);
	cp_dplink_attach(d->link, fd);
	d->stats_outstanding = false;
}

/* ------------------------------------------------------------------ main */

static int
setup_signals(struct daemon *d)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	d->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return d->sig_fd < 0 ? -errno : 0;
}

static void
on_signal(struct daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			CP_INFO("SIGHUP: reloading %s", d->config);
			reload_request(d, "sighup");
		} else {
			CP_INFO("signal %u: exiting", si.ssi_signo);
			d->quit = true;
		}
	}
}

static int
next_timeout(struct daemon *d)
{
	uint64_t now = cp_mono_ms(), t = now + 1000;
	int due = cp_audit_tick_due_ms(d->audit);

	if (due >= 0 && now + (uint64_t)due < t)
		t = now + (uint64_t)due;
	for (int i = 0; i < MAX_CTL_CONNS; i++)
		if (d->ctl[i].fd >= 0 && d->ctl[i].deadline_ms < t)
			t = d->ctl[i].deadline_ms;
	due = d->resolve != NULL ? cp_resolve_timeout_ms(d->resolve, now) : -1;
	if (due >= 0 && now + (uint64_t)due < t)
		t = now + (uint64_t)due;
	return t > now ? (int)(t - now) : 0;
}

static int
run(struct daemon *d)
{
	enum { P_SIG, P_CMP, P_DPL, P_DP, P_CTLL, P_CTL0, P_RES = P_CTL0 + MAX_CTL_CONNS };
	struct pollfd pfd[P_RES + CP_RESOLVE_FDS];

	while (!d->quit) {
		int n, n_res;
		unsigned bits = 0;

		pfd[P_SIG] = (struct pollfd){ .fd = d->sig_fd, .events = POLLIN };
		pfd[P_CMP] = (struct pollfd){ .fd = d->compile_efd, .events = POLLIN };
		pfd[P_DPL] = (struct pollfd){ .fd = d->dp_listen, .events = POLLIN };
		pfd[P_DP] = (struct pollfd){ .fd = cp_dplink_fd(d->link), .events = POLLIN };
		pfd[P_CTLL] = (struct pollfd){ .fd = d->ctl_listen, .events = POLLIN };
		for (int i = 0; i < MAX_CTL_CONNS; i++)
			pfd[P_CTL0 + i] = (struct pollfd){
				.fd = d->ctl[i].wait == WAIT_NONE ? d->ctl[i].fd : -1,
				.events = POLLIN };
		n_res = d->resolve != NULL ?
			cp_resolve_pollfds(d->resolve, &pfd[P_RES], CP_RESOLVE_FDS) : 0;
		n = poll(pfd, P_RES + (nfds_t)n_res, next_timeout(d));
		if (n < 0 && errno != EINTR) {
			CP_ERR("poll: %s", strerror(errno));
			return 1;
		}
		if (n > 0) {
			if (pfd[P_SIG].revents)
				on_signal(d);
			if (pfd[P_CMP].revents)
				compile_done(d);
			if (pfd[P_DP].revents)
				bits |= cp_dplink_service(d->link);
			if (pfd[P_DPL].revents)
				dp_accept(d);
			if (pfd[P_CTLL].revents)
				ctl_accept(d);
			for (int i = 0; i < MAX_CTL_CONNS; i++)
				if (pfd[P_CTL0 + i].fd >= 0 && pfd[P_CTL0 + i].revents)
					ctl_request(d, &d->ctl[i]);
		}
		if (bits & CP_DPL_AUDIT_ERR)
			CP_ERR("audit %s: write failed: events stay with the dataplane until it reconnects",
			       d->audit_path);
		cp_audit_tick(d->audit);
		if (d->resolve != NULL) {
			/* a dataplane that (re)connects may have an empty resolved table */
			if (bits & CP_DPL_HELLO)
				cp_resolve_kick(d->resolve, cp_mono_ms());
			cp_resolve_service(d->resolve, cp_mono_ms());
		}
		ctl_progress(d, bits);
	}
	if (d->job != NULL) {
		CP_INFO("exiting: waiting for the running compile to end");
		if (d->job->threaded)
			pthread_join(d->job->tid, NULL);
		cp_policy_free(d->job->pol);
		free(d->job->err);
		free(d->job);
		d->job = NULL;
	}
	/* a clean exit ends the trail signed */
	if (cp_audit_checkpoint(d->audit, "shutdown") == 0 && d->key != NULL)
		CP_INFO("audit %s: closed with a checkpoint at seq %llu", d->audit_path,
			(unsigned long long)(cp_audit_next_seq(d->audit) - 1));
	return 0;
}

/* audit.signing_key: load it (a configured key that does not load is fatal) */
static int
load_signing_key(struct daemon *d, const struct cp_policy *pol)
{
	char err[1024], warn[512];

	if (pol->audit_signing_key == NULL) {
		CP_WARN("audit %s: no audit.signing_key: records are hash-chained but not signed",
			d->audit_path);
		return 0;
	}
	if (cp_key_load_private(pol->audit_signing_key, &d->key, err, sizeof(err), warn,
				sizeof(warn)) < 0) {
		CP_ERR("audit.signing_key %s", err);
		return -1;
	}
	if (warn[0] != '\0')
		CP_WARN("audit.signing_key %s", warn);
	d->key_path = strdup(pol->audit_signing_key);
	CP_INFO("audit %s: signed checkpoints with key %s every %u records / %u s",
		d->audit_path, cp_key_id_hex(d->key), pol->checkpoint_records,
		pol->checkpoint_seconds);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dp-socket", required_argument, NULL, 'D' },
		{ "ctl-socket", required_argument, NULL, 'C' },
		{ "audit", required_argument, NULL, 'a' },
		{ "check", required_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon *d;
	struct cp_audit_resume ri;
	enum cp_log_level lvl = CP_LOG_INFO;
	char err[1024], why[ERR_MAX];
	int c, rc = 1, fsync_mode;

	cp_log_setup("chokepointd", lvl);
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return 1;
	d->config = DEFAULT_CONFIG;
	d->dp_sock_path = CP_DEFAULT_DP_SOCK;
	d->ctl_sock_path = CP_DEFAULT_CTL_SOCK;
	d->sig_fd = d->dp_listen = d->ctl_listen = -1;
	d->compile_efd = -1;
	for (int i = 0; i < MAX_CTL_CONNS; i++)
		d->ctl[i].fd = -1;
	while ((c = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d->config = optarg;
			break;
		case 'D':
			d->dp_sock_path = optarg;
			break;
		case 'C':
			d->ctl_sock_path = optarg;
			break;
		case 'a':
			d->audit_opt = optarg;
			break;
		case 'k':
			rc = check_only(optarg);
			free(d);
			return rc;
		case 'v':
			lvl = CP_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			free(d);
			return 0;
		default:
			usage(stderr);
			free(d);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "chokepointd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		free(d);
		return 2;
	}
	cp_log_setup("chokepointd", lvl);
	d->start_ms = cp_mono_ms();

	/* the policy first: without one there is nothing to run */
	{
		struct cp_policy *pol = NULL;
		char *cerr = calloc(1, ERR_MAX);

		if (cerr == NULL)
			goto out;
		rc = cp_policy_compile_file(d->config, &pol, cerr, ERR_MAX);
		if (rc < 0) {
			if (cerr[0] == '\0')
				snprintf(cerr, ERR_MAX, "%s: %s", d->config, strerror(-rc));
			CP_ERR("policy %s does not compile; not starting:", d->config);
			log_errors("  ", cerr);
			free(cerr);
			rc = 1;
			goto out;
		}
		free(cerr);
		d->audit_path = strdup(d->audit_opt != NULL ? d->audit_opt : pol->audit_path);
		fsync_mode = pol->audit_fsync;
		rc = d->audit_path != NULL ? cp_audit_open(d->audit_path, fsync_mode, &d->audit, &ri,
							   err, sizeof(err)) : -ENOMEM;
		if (rc < 0) {
			CP_ERR("audit: %s", err);
			cp_policy_free(pol);
			rc = 1;
			goto out;
		}
		if (ri.torn_bytes > 0)
			CP_WARN("audit %s: cut a torn last line of %zu bytes (a write cut short by a crash) and recorded it (audit.recovered seq %llu)",
				d->audit_path, ri.torn_bytes, (unsigned long long)(ri.seq + 1));
		if (ri.from[0] != '\0')
			CP_INFO("audit %s: empty: the chain continues from %s", d->audit_path, ri.from);
		CP_INFO("audit %s: next seq %llu", d->audit_path,
			(unsigned long long)cp_audit_next_seq(d->audit));
		if (load_signing_key(d, pol) < 0) {
			cp_policy_free(pol);
			rc = 1;
			goto out;
		}
		if (d->key != NULL)
			cp_audit_set_signer(d->audit, d->key, pol->checkpoint_records,
					    pol->checkpoint_seconds);
		cp_audit_set_rotation(d->audit, pol->rotate_bytes, pol->rotate_seconds);
		if (pol->syslog.host != NULL) {
			if (cp_syslog_start(&pol->syslog, &d->syslog, err, sizeof(err)) < 0) {
				CP_ERR("%s", err);
				cp_policy_free(pol);
				rc = 1;
				goto out;
			}
			cp_audit_set_sink(d->audit, cp_syslog_submit, d->syslog);
			CP_INFO("audit %s: exported to syslog %s:%u over TLS (%s)", d->audit_path,
				pol->syslog.host, pol->syslog.port,
				pol->syslog.format == CP_SYSLOG_OCSF ? "OCSF" : "JSON");
		}
		if (cp_dplink_new(d->audit, &d->link) < 0 ||
		    cp_dplink_set_policy(d->link, pol, "start", why, sizeof(why)) < 0) {
			CP_ERR("policy %s: %s", d->config, why);
			cp_policy_free(pol);
			rc = 1;
			goto out;
		}
		if (cp_resolve_new(resolve_emit, d, &d->resolve) < 0) {
			CP_ERR("dns resolver: out of memory");
			rc = 1;
			goto out;
		}
		resolve_apply(d);
		rc = cp_dplink_seed_from_trail(d->link, d->audit_path);
		if (rc < 0)
			CP_WARN("audit %s: cannot read back its last records (%s): events resent after this restart may be recorded twice",
				d->audit_path, strerror(-rc));
		CP_INFO("policy %s: generation 1, %u rules; waiting for the dataplane", d->config,
			pol->n_rules);
	}
	if (setup_signals(d) < 0) {
		CP_ERR("signals: %s", strerror(errno));
		rc = 1;
		goto out;
	}
	d->compile_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->compile_efd < 0) {
		CP_ERR("eventfd: %s", strerror(errno));
		rc = 1;
		goto out;
	}
	d->dp_listen = cp_ctl_listen(d->dp_sock_path, err, sizeof(err));
	if (d->dp_listen < 0) {
		CP_ERR("dataplane socket %s", err);
		rc = 1;
		goto out;
	}
	d->ctl_listen = cp_ctl_listen(d->ctl_sock_path, err, sizeof(err));
	if (d->ctl_listen < 0) {
		CP_ERR("control socket %s", err);
		rc = 1;
		goto out;
	}
	CP_INFO("listening: dataplane %s, control %s", d->dp_sock_path, d->ctl_sock_path);
	rc = run(d);
out:
	for (int i = 0; i < MAX_CTL_CONNS; i++)
		ctl_close(&d->ctl[i]);
	if (d->dp_listen >= 0) {
		close(d->dp_listen);
		unlink(d->dp_sock_path);
	}
	if (d->ctl_listen >= 0) {
		close(d->ctl_listen);
		unlink(d->ctl_sock_path);
	}
	if (d->sig_fd >= 0)
		close(d->sig_fd);
	if (d->compile_efd >= 0)
		close(d->compile_efd);
	cp_resolve_free(d->resolve);
	cp_dplink_free(d->link);
	if (d->audit != NULL)
		cp_audit_set_sink(d->audit, NULL, NULL);
	cp_syslog_stop(d->syslog, 2000);
	cp_audit_close(d->audit);
	cp_key_free(d->key);
	free(d->key_path);
	free(d->audit_path);
	free(d);
	return rc;
}
