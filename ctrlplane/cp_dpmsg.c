/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_dpmsg.c: validate, receive and send dp_proto.h messages. Nothing here
 * trusts a length from the wire: the datagram length is what recvmsg says,
 * and it must equal both hdr.len and what the type requires.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cp_dpmsg.h"

struct type_info {
	uint8_t dir;              /* enum cp_dpmsg_dir */
	uint8_t nfds;             /* descriptors it must carry */
	uint32_t size;            /* exact size; 0 = variable (EVENTS) */
};

static const struct type_info types[DP_MSG_TYPE_MAX] = {
	[DP_MSG_HELLO] = { CP_DPMSG_TO_CP, 0, sizeof(struct dp_msg_hello) },
	[DP_MSG_POLICY] = { CP_DPMSG_TO_DP, 1, sizeof(struct dp_msg_policy) },
	[DP_MSG_POLICY_ACK] = { CP_DPMSG_TO_CP, 0, sizeof(struct dp_msg_policy_ack) },
	[DP_MSG_POLICY_NACK] = { CP_DPMSG_TO_CP, 0, sizeof(struct dp_msg_policy_nack) },
	[DP_MSG_EVENTS] = { CP_DPMSG_TO_CP, 0, 0 },
	[DP_MSG_EVENTS_ACK] = { CP_DPMSG_TO_DP, 0, sizeof(struct dp_msg_events_ack) },
	[DP_MSG_STATS_REQ] = { CP_DPMSG_TO_DP, 0, sizeof(struct dp_msg_hdr) },
	[DP_MSG_STATS] = { CP_DPMSG_TO_CP, 0, sizeof(struct dp_msg_stats) },
	[DP_MSG_DRAINED] = { CP_DPMSG_TO_CP, 0, sizeof(struct dp_msg_hdr) },
	[DP_MSG_QUIT] = { CP_DPMSG_TO_DP, 0, sizeof(struct dp_msg_hdr) },
	[DP_MSG_DNS_RESOLVED] = { CP_DPMSG_TO_DP, 0, sizeof(struct dp_msg_dns_resolved) },
};

static const char *const dir_name[] = { "dataplane->ctrlplane", "ctrlplane->dataplane" };

#define BAD(...) do { snprintf(why, whylen, __VA_ARGS__); return -EBADMSG; } while (0)

int
cp_dpmsg_check(const void *buf, size_t len, int nfds, enum cp_dpmsg_dir dir,
	       char *why, size_t whylen)
{
	const struct type_info *ti;
	struct dp_msg_hdr h;

	if (len < sizeof(h))
		BAD("short message (%zu bytes, the header is %zu)", len, sizeof(h));
	memcpy(&h, buf, sizeof(h));
	if (h.magic != DP_PROTO_MAGIC)
		BAD("bad magic 0x%08x (want 0x%08x)", h.magic, DP_PROTO_MAGIC);
	if (h.version != DP_PROTO_VERSION)
		BAD("protocol version %u (want %u)", h.version, DP_PROTO_VERSION);
	if (h.type == 0 || h.type >= DP_MSG_TYPE_MAX)
		BAD("unknown message type %u", h.type);
	ti = &types[h.type];
	if (ti->dir != dir)
		BAD("message type %u not expected in direction %s", h.type, dir_name[dir]);
	if (h.len != len)
		BAD("header length %u != datagram length %zu", h.len, len);
	if (ti->size != 0 && len != ti->size)
		BAD("type %u: length %zu, the type requires %u", h.type, len, ti->size);
	if (nfds != ti->nfds)
		BAD("type %u: carries %d descriptor(s), the type requires %u", h.type, nfds,
		    ti->nfds);
	switch (h.type) {
	case DP_MSG_EVENTS: {
		const struct dp_msg_events *m = buf;

		if (len < sizeof(*m))
			BAD("events: short message (%zu bytes)", len);
		if (m->count < 1 || m->count > DP_EVENTS_PER_MSG)
			BAD("events: count %u outside 1..%d", m->count, DP_EVENTS_PER_MSG);
		if (len != sizeof(*m) + (size_t)m->count * sizeof(struct dp_event))
			BAD("events: length %zu does not hold %u events of %zu bytes", len,
			    m->count, sizeof(struct dp_event));
		break;
	}
	case DP_MSG_HELLO: {
		const struct dp_msg_hello *m = buf;

		if (m->n_workers < 1 || m->n_workers > DP_MAX_WORKERS ||
		    m->n_ports > DP_MAX_PORTS)
			BAD("hello: %u workers / %u ports out of range", m->n_workers, m->n_ports);
		break;
	}
	case DP_MSG_STATS: {
		const struct dp_msg_stats *m = buf;

		if (m->n_workers > DP_MAX_WORKERS || m->n_ports > DP_MAX_PORTS)
			BAD("stats: %u workers / %u ports out of range", m->n_workers, m->n_ports);
		break;
	}
	case DP_MSG_POLICY_NACK: {
		const struct dp_msg_policy_nack *m = buf;

		if (memchr(m->reason, '\0', sizeof(m->reason)) == NULL)
			BAD("policy nack: reason not NUL-terminated");
		break;
	}
	default:
		break;
	}
	return h.type;
}

ssize_t
cp_dpmsg_recv(int sock, void *buf, size_t cap, int *fds, int maxfds, int *nfds)
{
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int) * 8)];
	} cbuf;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.b, .msg_controllen = sizeof(cbuf.b),
	};
	struct cmsghdr *c;
	ssize_t r;
	int n = 0, overflow = 0;

	*nfds = 0;
	do {
		r = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		int *p, k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		p = (int *)CMSG_DATA(c);
		k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, p + i, sizeof(fd));
			if (n < maxfds)
				fds[n++] = fd;
			else {
				close(fd);
				overflow = 1;
			}
		}
	}
	if (overflow || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		for (int i = 0; i < n; i++)
			close(fds[i]);
		return -EMSGSIZE;
	}
	*nfds = n;
	return r;
}

void
cp_dpmsg_hdr(struct dp_msg_hdr *h, uint16_t type, uint32_t len)
{
	memset(h, 0, sizeof(*h));
	h->magic = DP_PROTO_MAGIC;
	h->version = DP_PROTO_VERSION;
	h->type = type;
	h->len = len;
}

int
cp_dpmsg_send(int sock, const void *msg, size_t len, int pass_fd, int dontwait)
{
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r;

	if (pass_fd >= 0) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf.b;
		mh.msg_controllen = sizeof(cbuf.b);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	do {
		r = sendmsg(sock, &mh, MSG_NOSIGNAL | (dontwait ? MSG_DONTWAIT : 0));
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if ((size_t)r != len)
		return -EMSGSIZE;
	return 0;
}
