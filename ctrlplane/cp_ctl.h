/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_ctl.h: the chokepointd <-> chokepointctl protocol and the UNIX socket
 * helpers both daemons' sockets use.
 *
 * One UNIX SOCK_SEQPACKET connection per request. Request: one message of
 * short text, at most CP_CTL_REQ_MAX bytes: "status", "status json" or
 * "reload" (a trailing newline is allowed). Reply: one message, at most
 * CP_CTL_REPLY_MAX bytes, whose first line is "ok" or "error" and the rest
 * the body (status: a text table or one JSON object; reload: "reloaded:
 * generation N policy sha256:HEX ..."; error: the reason). The server then
 * closes the connection. Anything else gets an "error" reply.
 */
#ifndef CHOKEPOINT_CP_CTL_H
#define CHOKEPOINT_CP_CTL_H

#include <stddef.h>
#include <sys/types.h>

#define CP_CTL_REQ_MAX   64
#define CP_CTL_REPLY_MAX (128 * 1024)
#define CP_DEFAULT_DP_SOCK  "/run/chokepoint/dp.sock"
#define CP_DEFAULT_CTL_SOCK "/run/chokepoint/ctl.sock"

enum cp_ctl_cmd {
	CP_CTL_STATUS = 0,
	CP_CTL_STATUS_JSON,
	CP_CTL_RELOAD,
};

/* Parse a request datagram. Returns enum cp_ctl_cmd or -EINVAL. */
int cp_ctl_parse(const char *req, size_t len);

/*
 * Listening SOCK_SEQPACKET socket at path: creates its directory (0750) if
 * missing, removes a stale socket file (one nobody answers on), refuses to
 * replace a live one or a file that is not a socket. fd or -errno + err.
 */
int cp_ctl_listen(const char *path, char *err, size_t errlen);

/* Peer of an accepted socket runs as root or as our own uid. 0 or -EPERM. */
int cp_ctl_peer_ok(int fd, uid_t *uid);

/*
 * Client: connect to path, send req, wait up to timeout_ms for the reply.
 * Returns the reply length (reply NUL-terminated) or -errno with err.
 */
ssize_t cp_ctl_request(const char *path, const char *req, char *reply, size_t cap,
		       int timeout_ms, char *err, size_t errlen);

/* Split a reply: returns 0 for "ok", 1 for "error", -EBADMSG otherwise; *body after the first line. */
int cp_ctl_reply_status(const char *reply, const char **body);

#endif /* CHOKEPOINT_CP_CTL_H */
