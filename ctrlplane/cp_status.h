/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_status.h: the status reply of chokepointd (`chokepointctl status`),
 * as a text table or one JSON object, from what the daemon knows and the
 * dataplane's last DP_MSG_STATS.
 */
#ifndef CHOKEPOINT_CP_STATUS_H
#define CHOKEPOINT_CP_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cp_audit.h"
#include "cp_dplink.h"
#include "cp_resolve.h"
#include "cp_syslog.h"
#include "dp_proto.h"

struct cp_status_in {
	pid_t pid;
	uint64_t uptime_ms;
	/* policy */
	const uint8_t *sha256;    /* current policy, NULL if none */
	const char *policy_path;
	uint32_t rules;
	uint64_t gen, live_gen, pending_gen;
	uint64_t compile_since_ns;  /* a reload compiling since (CLOCK_REALTIME), 0: none */
	uint64_t compile_ms;        /* for how long */
	const char *compile_by;     /* "ctl" or "sighup" */
	bool compile_again;         /* another reload asked for meanwhile: compiles after */
	/* dataplane */
	bool dp_connected;
	const struct dp_msg_hello *hello;   /* NULL when not connected */
	const struct dp_msg_stats *stats;   /* NULL when it did not answer in time */
	/* audit */
	const char *audit_path;
	uint64_t audit_next_seq;
	const char *audit_head;   /* 64 hex */
	const struct cp_audit_stats *as;     /* checkpoints, rotations */
	const struct cp_syslog_stats *syslog; /* NULL when not exporting */
	const struct cp_dplink_counters *c;
	const struct cp_gens *gens;          /* rule ids of the rule hits; NULL: indexes */
	const struct cp_resolve_stats *resolve; /* out-of-band resolution, NULL: none */
};

/* Render into out (NUL-terminated). Length, or -ENOSPC. */
int cp_status_text(const struct cp_status_in *in, char *out, size_t cap);
int cp_status_json(const struct cp_status_in *in, char *out, size_t cap);

#endif /* CHOKEPOINT_CP_STATUS_H */
