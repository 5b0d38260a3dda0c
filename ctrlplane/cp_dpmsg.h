/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_dpmsg.h: dp_proto.h messages on a SOCK_SEQPACKET socket: exact
 * validation (magic, version, type, direction, length = datagram = what the
 * type requires, fd count), receive (recvmsg into a buffer one byte larger
 * than the largest message, MSG_TRUNC and MSG_CTRUNC checked, stray fds
 * closed) and send (POLICY with its memfd via SCM_RIGHTS).
 */
#ifndef CHOKEPOINT_CP_DPMSG_H
#define CHOKEPOINT_CP_DPMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dp_proto.h"

/* Largest message either side sends. */
#define CP_DPMSG_MAX \
	(sizeof(struct dp_msg_events) + DP_EVENTS_PER_MSG * sizeof(struct dp_event) > \
	 sizeof(struct dp_msg_stats) ? \
	 sizeof(struct dp_msg_events) + DP_EVENTS_PER_MSG * sizeof(struct dp_event) : \
	 sizeof(struct dp_msg_stats))

enum cp_dpmsg_dir {
	CP_DPMSG_TO_CP = 0,       /* dp -> cp: HELLO, ACK, NACK, EVENTS, STATS, DRAINED */
	CP_DPMSG_TO_DP = 1,       /* cp -> dp: POLICY, EVENTS_ACK, STATS_REQ, QUIT, DNS_RESOLVED */
};

/*
 * Validate a received datagram of len bytes that came with nfds descriptors.
 * Returns the message type, or -EBADMSG with why ("short message (5 bytes)",
 * "bad magic 0x...", ...).
 */
int cp_dpmsg_check(const void *buf, size_t len, int nfds, enum cp_dpmsg_dir dir,
		   char *why, size_t whylen);

/*
 * Receive one datagram without blocking. Returns its length (> 0), 0 at EOF,
 * -EAGAIN when nothing is queued, -EMSGSIZE when it was longer than cap
 * (truncated: reported, never parsed), or -errno. Descriptors that came with
 * it are stored in fds[0..*nfds) (at most maxfds; a control-message overflow
 * closes what arrived and returns -EMSGSIZE). The caller owns the fds.
 */
ssize_t cp_dpmsg_recv(int sock, void *buf, size_t cap, int *fds, int maxfds,
		      int *nfds);

/* Header for a message of type and total length len. */
void cp_dpmsg_hdr(struct dp_msg_hdr *h, uint16_t type, uint32_t len);

/* Send len bytes as one datagram, with pass_fd (>= 0) as SCM_RIGHTS. 0 or -errno. */
int cp_dpmsg_send(int sock, const void *msg, size_t len, int pass_fd, int dontwait);

#endif /* CHOKEPOINT_CP_DPMSG_H */
