/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_replay.c: chokepointctl replay. See cp_replay.h and notes/cli.md
 * ("Replay start", "Replay protocol").
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cp_audit.h"
#include "cp_capture.h"
#include "cp_dplink.h"
#include "cp_log.h"
#include "cp_policy.h"
#include "cp_replay.h"
#include "cp_sign.h"
#include "cp_util.h"

#define ERR_MAX 16384
#define QUIT_WAIT_MS 30000

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

/* --dp, $CHOKEPOINT_DP, <dir of our binary>/../dataplane/chokepoint-dp, PATH */
static void
find_dp(const char *opt, char *out, size_t outlen)
{
	const char *env = getenv("CHOKEPOINT_DP");
	char self[PATH_MAX];
	ssize_t n;

	if (opt != NULL) {
		snprintf(out, outlen, "%s", opt);
		return;
	}
	if (env != NULL && env[0] != '\0') {
		snprintf(out, outlen, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(out, outlen, "%s/../dataplane/chokepoint-dp", dirname(self));
		if (access(out, X_OK) == 0)
			return;
	}
	snprintf(out, outlen, "chokepoint-dp");
}

struct argv_buf {
	char **v;
	int n, cap;
};

static int
arg_add(struct argv_buf *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
arg_add(struct argv_buf *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (a->n + 2 > a->cap) {
		int cap = a->cap ? a->cap * 2 : 32;
		char **v = realloc(a->v, (size_t)cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s == NULL)
		return -ENOMEM;
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
	return 0;
}

static void
arg_free(struct argv_buf *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
}

static int
build_argv(struct argv_buf *a, const char *dp, const struct cp_captures *cs)
{
	int rc = 0;

	rc |= arg_add(a, "%s", dp);
	rc |= arg_add(a, "-l");
	rc |= arg_add(a, "0");
	rc |= arg_add(a, "--no-huge");
	rc |= arg_add(a, "-m");
	rc |= arg_add(a, "256");
	rc |= arg_add(a, "--no-pci");
	rc |= arg_add(a, "--no-telemetry");
	rc |= arg_add(a, "--file-prefix");
	rc |= arg_add(a, "cpreplay-%d", (int)getpid());
	for (int i = 0; i < cs->n_ports; i++) {
		rc |= arg_add(a, "--vdev");
		rc |= arg_add(a, "net_pcap%d,rx_pcap=%s,tx_pcap=/dev/null", i, cs->port[i].path);
	}
	rc |= arg_add(a, "--");
	rc |= arg_add(a, "--mode");
	rc |= arg_add(a, "replay");
	rc |= arg_add(a, "--ctl-fd");
	rc |= arg_add(a, "3");
	for (int i = 0; i < cs->n_ports; i++) {
		rc |= arg_add(a, "--linktype");
		rc |= arg_add(a, "%d:%d", i, cs->port[i].linktype);
	}
	return rc < 0 ? -ENOMEM : 0;
}

static pid_t
spawn(char **argv, int child_sock)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	/* a replay dataplane never outlives chokepointctl (killed by a timeout, say) */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	/* child: the socket becomes fd 3, stdout goes to stderr (stdout may carry records) */
	if (child_sock == 3) {
		int fl = fcntl(3, F_GETFD);

		fcntl(3, F_SETFD, fl & ~FD_CLOEXEC);
	} else if (dup2(child_sock, 3) < 0) {
		_exit(127);
	}
	dup2(STDERR_FILENO, STDOUT_FILENO);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	execvp(argv[0], argv);
	fprintf(stderr, "chokepointctl: %s: cannot execute: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/*
 * EAL leaves its runtime directory (config, mp_socket, fbarrays) behind;
 * --in-memory would avoid it but is refused with --no-huge (legacy memory)
 * in DPDK 22.11. The prefix is ours and unique (cpreplay-PID): remove it.
 */
static void
remove_runtime_dir(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	char dir[PATH_MAX], f[PATH_MAX + 256];
	struct dirent *e;
	DIR *dp;

	if (getuid() == 0)
		snprintf(dir, sizeof(dir), "/var/run/dpdk/cpreplay-%d", (int)getpid());
	else
		snprintf(dir, sizeof(dir), "%s/dpdk/cpreplay-%d",
			 xdg != NULL && xdg[0] != '\0' ? xdg : "/tmp", (int)getpid());
	dp = opendir(dir);
	if (dp == NULL)
		return;
	while ((e = readdir(dp)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(f, sizeof(f), "%s/%s", dir, e->d_name);
		unlink(f);
	}
	closedir(dp);
	rmdir(dir);
}

static void
describe_status(int st, char *out, size_t len)
{
	if (WIFEXITED(st))
		snprintf(out, len, "exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(out, len, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(out, len, "status 0x%x", st);
}

/* Wait for the child up to ms, then SIGKILL it. Returns its wait status. */
static int
reap(pid_t pid, int ms)
{
	uint64_t end = cp_mono_ms() + (uint64_t)ms;
	int st = 0;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			return st;
		if (cp_mono_ms() >= end) {
			CP_WARN("chokepoint-dp pid %d did not exit within %d ms: killed", (int)pid, ms);
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return st;
		}
		usleep(20000);
	}
}

static int
open_output(const char *path, struct cp_audit **out)
{
	int fd;

	if (path == NULL)
		return cp_audit_open_fd(STDOUT_FILENO, 0, out);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		CP_ERR("%s: %s", path, strerror(errno));
		return -errno;
	}
	if (cp_audit_open_fd(fd, 0, out) < 0) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

int
cp_replay_run(const struct cp_replay_opts *o)
{
	struct cp_captures cs;
	struct cp_policy *pol = NULL;
	struct cp_audit *audit = NULL;
	struct cp_key *key = NULL;
	struct cp_dplink *link = NULL;
	struct argv_buf av = { 0 };
	struct sigaction sa, old_int, old_term;
	char dp[PATH_MAX], stdesc[96];
	char *err;
	int sv[2] = { -1, -1 }, out_fd = -1, rc = 1, st = 0;
	bool drained = false, reaped = false, failed = false;
	unsigned long packets = 0;
	pid_t pid = -1;

	memset(&cs, 0, sizeof(cs));
	err = calloc(1, ERR_MAX);
	if (err == NULL)
		return 1;
	if (cp_policy_compile_file(o->config, &pol, err, ERR_MAX) < 0) {
		if (err[0] == '\0')
			snprintf(err, ERR_MAX, "%s: cannot compile\n", o->config);
		fputs(err, stderr);
		if (err[strlen(err) - 1] != '\n')
			fputc('\n', stderr);
		goto out;
	}
	if (cp_captures_prepare(&cs, o->pcaps, o->n_pcaps, err, ERR_MAX) < 0) {
		CP_ERR("%s", err);
		goto out;
	}
	for (int i = 0; i < cs.n; i++) {
		packets += cs.c[i].packets;
		if (cs.c[i].converted)
			CP_INFO("%s: not classic pcap (pcapng?): converted to a classic pcap copy for the dataplane's pcap PMD",
				cs.c[i].src);
	}
	out_fd = open_output(o->audit_out, &audit);
	if (out_fd < 0 && o->audit_out != NULL)
		goto out;
	/* the same signed trail as chokepointd's when the config names a key */
	if (pol->audit_signing_key != NULL) {
		char warn[512];

		if (cp_key_load_private(pol->audit_signing_key, &key, err, ERR_MAX, warn,
					sizeof(warn)) < 0) {
			CP_ERR("audit.signing_key %s", err);
			goto out;
		}
		if (warn[0] != '\0')
			CP_WARN("audit.signing_key %s", warn);
		/* pcap time is not wall time: checkpoints by count, and one at the end */
		cp_audit_set_signer(audit, key, pol->checkpoint_records, 0);
	}
	if (cp_dplink_new(audit, &link) < 0) {
		CP_ERR("out of memory");
		goto out;
	}
	if (cp_dplink_set_policy(link, pol, "start", err, ERR_MAX) < 0) {
		CP_ERR("policy %s: %s", o->config, err);
		goto out;
	}
	pol = NULL;     /* the link owns it */
	find_dp(o->dp_path, dp, sizeof(dp));
	if (build_argv(&av, dp, &cs) < 0) {
		CP_ERR("out of memory");
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		CP_ERR("socketpair: %s", strerror(errno));
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;    /* no SA_RESTART: poll returns EINTR */
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	signal(SIGPIPE, SIG_IGN);
	pid = spawn(av.v, sv[1]);
	if (pid < 0) {
		CP_ERR("fork: %s", strerror(errno));
		goto restore;
	}
	close(sv[1]);
	sv[1] = -1;
	cp_dplink_attach(link, sv[0]);
	sv[0] = -1;

	while (!drained && !failed) {
		struct pollfd pfd = { .fd = cp_dplink_fd(link), .events = POLLIN };
		unsigned bits;

		if (got_signal) {
			CP_ERR("signal %d: stopping chokepoint-dp pid %d", (int)got_signal, (int)pid);
			kill(pid, SIGTERM);
			failed = true;
			break;
		}
		if (pfd.fd < 0) {
			failed = true;
			break;
		}
		if (poll(&pfd, 1, 200) < 0 && errno != EINTR) {
			CP_ERR("poll: %s", strerror(errno));
			failed = true;
			break;
		}
		bits = cp_dplink_service(link);
		if (bits & CP_DPL_AUDIT_ERR) {
			CP_ERR("cannot write the records to %s", o->audit_out ? o->audit_out : "stdout");
			failed = true;
		}
		if (bits & CP_DPL_NACK) {
			CP_ERR("chokepoint-dp rejected the policy of %s: %s", o->config,
			       cp_dplink_nack_reason(link));
			failed = true;
		}
		if (bits & CP_DPL_DRAINED) {
			drained = true;
			break;
		}
		if (bits & CP_DPL_CLOSED) {
			failed = true;
			break;
		}
		if (!reaped && waitpid(pid, &st, WNOHANG) == pid) {
			reaped = true;
			/* it may have queued its last messages before exiting */
			bits = cp_dplink_service(link);
			drained = (bits & CP_DPL_DRAINED) != 0;
			failed = !drained;
		}
	}
	if (drained) {
		if (cp_dplink_live_gen(link) == 0)
			CP_WARN("chokepoint-dp drained without acknowledging the policy");
		if (cp_dplink_quit(link) < 0 && !reaped)
			CP_WARN("chokepoint-dp: QUIT not delivered");
	}
	cp_dplink_detach(link, drained ? "replay done" : "replay failed");
	if (!reaped)
		st = reap(pid, drained ? QUIT_WAIT_MS : 5000);
	remove_runtime_dir();
	describe_status(st, stdesc, sizeof(stdesc));
	if (!drained) {
		CP_ERR("chokepoint-dp (%s) ended before it drained the captures: %s", dp, stdesc);
	} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		CP_ERR("chokepoint-dp (%s): %s", dp, stdesc);
	} else if (!failed && cp_audit_checkpoint(audit, "shutdown") < 0) {
		CP_ERR("cannot write the closing checkpoint to %s",
		       o->audit_out ? o->audit_out : "stdout");
	} else if (!failed) {
		CP_INFO("replay: %d capture(s), %lu packets, %llu records from events, %s",
			cs.n, packets,
			(unsigned long long)cp_dplink_counters(link)->events,
			o->audit_out ? o->audit_out : "stdout");
		rc = 0;
	}
restore:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	arg_free(&av);
	cp_dplink_free(link);
	cp_policy_free(pol);
	cp_audit_close(audit);
	cp_key_free(key);
	if (out_fd >= 0 && o->audit_out != NULL)
		close(out_fd);
	cp_captures_cleanup(&cs);
	free(err);
	return rc;
}
