/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_ctl.c: control socket protocol and UNIX socket helpers. See cp_ctl.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cp_ctl.h"
#include "cp_util.h"

int
cp_ctl_parse(const char *req, size_t len)
{
	static const struct { const char *s; int cmd; } cmds[] = {
		{ "status", CP_CTL_STATUS },
		{ "status json", CP_CTL_STATUS_JSON },
		{ "reload", CP_CTL_RELOAD },
	};

	if (len > CP_CTL_REQ_MAX)
		return -EINVAL;
	if (len > 0 && req[len - 1] == '\n')
		len--;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strlen(cmds[i].s) == len && memcmp(cmds[i].s, req, len) == 0)
			return cmds[i].cmd;
	return -EINVAL;
}

static int
fill_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int
cp_ctl_listen(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, rc;

	rc = fill_addr(path, &sa);
	if (rc < 0) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return rc;
	}
	rc = cp_mkdir_parent(path, 0750);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot create its directory: %s", path, strerror(-rc));
		return rc;
	}
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s: exists and is not a socket: not replaced", path);
			return -EEXIST;
		}
		probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			snprintf(err, errlen, "%s: another process is listening on it", path);
			return -EADDRINUSE;
		}
		if (probe >= 0)
			close(probe);
		if (unlink(path) < 0) {
			rc = -errno;
			snprintf(err, errlen, "%s: cannot remove stale socket: %s", path,
				 strerror(errno));
			return rc;
		}
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: socket: %s", path, strerror(errno));
		return rc;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: bind/listen: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	chmod(path, 0660);
	return fd;
}

int
cp_ctl_peer_ok(int fd, uid_t *uid)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0)
		return -errno;
	*uid = cr.uid;
	if (cr.uid != 0 && cr.uid != getuid())
		return -EPERM;
	return 0;
}

ssize_t
cp_ctl_request(const char *path, const char *req, char *reply, size_t cap,
	       int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct pollfd pfd;
	ssize_t n;
	int fd, rc;

	rc = fill_addr(path, &sa);
	if (rc < 0) {
		snprintf(err, errlen, "%s: socket path too long", path);
		return rc;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return rc;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: cannot connect: %s (is chokepointd running?)", path,
			 strerror(errno));
		goto out;
	}
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: send: %s", path, strerror(errno));
		goto out;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	rc = poll(&pfd, 1, timeout_ms);
	if (rc <= 0) {
		rc = rc == 0 ? -ETIMEDOUT : -errno;
		snprintf(err, errlen, "%s: no reply within %d ms", path, timeout_ms);
		goto out;
	}
	n = recv(fd, reply, cap - 1, MSG_TRUNC);
	if (n < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: receive: %s", path, strerror(errno));
		goto out;
	}
	if (n == 0) {
		rc = -ECONNRESET;
		snprintf(err, errlen, "%s: closed without a reply", path);
		goto out;
	}
	if ((size_t)n > cap - 1) {
		rc = -EMSGSIZE;
		snprintf(err, errlen, "%s: reply longer than %zu bytes", path, cap - 1);
		goto out;
	}
	reply[n] = '\0';
	close(fd);
	return n;
out:
	close(fd);
	return rc;
}

int
cp_ctl_reply_status(const char *reply, const char **body)
{
	const char *nl = strchr(reply, '\n');
	size_t l = nl != NULL ? (size_t)(nl - reply) : strlen(reply);

	*body = nl != NULL ? nl + 1 : reply + l;
	if (l == 2 && memcmp(reply, "ok", 2) == 0)
		return 0;
	if (l == 5 && memcmp(reply, "error", 5) == 0)
		return 1;
	return -EBADMSG;
}
