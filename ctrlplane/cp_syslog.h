/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_syslog.h: the syslog export of the audit trail: RFC 5424 messages in
 * RFC 5425 octet-counting framing over TCP with TLS (OpenSSL), to one
 * collector (syslog = { host; port; ca; cert; key; format; queue; }).
 *
 * The trail writer hands every line to cp_syslog_submit(), which only
 * copies it into a bounded queue (never blocks, never does I/O); a thread
 * of its own connects, verifies the collector's certificate against the
 * configured CA and its name, sends, and reconnects with back-off. A stalled
 * or absent collector therefore never holds back the file trail: when the
 * queue is full the message is dropped and counted. A message the
 * connection broke under is sent again after the reconnect (at least once).
 */
#ifndef CHOKEPOINT_CP_SYSLOG_H
#define CHOKEPOINT_CP_SYSLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_policy.h"

struct cp_syslog;

struct cp_syslog_stats {
	uint64_t submitted;       /* lines handed over */
	uint64_t sent;            /* messages written to the TLS connection */
	uint64_t dropped;         /* queue full: not exported (the file trail has them) */
	uint64_t connects;        /* TLS sessions established */
	uint64_t failures;        /* connect / handshake / write failures */
	uint32_t queued;          /* waiting now */
	bool connected;
	char last_error[160];
};

/* Copy cfg and start the exporter thread. 0 or -errno with err. */
int cp_syslog_start(const struct cp_syslog_cfg *cfg, struct cp_syslog **out, char *err,
		    size_t errlen);
/* Give the queue up to drain_ms to empty, then stop the thread and free. */
void cp_syslog_stop(struct cp_syslog *s, int drain_ms);
/* The cp_audit sink: queue a copy of line (never blocks). arg is the cp_syslog. */
void cp_syslog_submit(void *arg, const char *line, size_t len);
void cp_syslog_get_stats(struct cp_syslog *s, struct cp_syslog_stats *out);

#endif /* CHOKEPOINT_CP_SYSLOG_H */
