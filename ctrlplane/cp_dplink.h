/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_dplink.h: the control plane's side of one dataplane connection, the
 * same over chokepointd's listening socket and replay's socketpair.
 *
 *   HELLO        -> push the current policy (sealed memfd + dp_msg_policy)
 *                   unless the dataplane already runs it
 *   POLICY_ACK   -> generation live; policy.loaded written to the trail
 *   POLICY_NACK  -> logged; the previous policy stays the current one
 *   EVENTS       -> de-duplicated by (boot, worker, wseq), rendered, written,
 *                   synced per policy, then EVENTS_ACK (per-worker high mark)
 *   STATS        -> kept for status
 *   DRAINED      -> replay: every event is in; the caller answers QUIT
 *
 * A message that fails validation is counted and logged, and the connection
 * is dropped (the dataplane reconnects and resends what was not acked). A
 * newer connection replaces an older one.
 */
#ifndef CHOKEPOINT_CP_DPLINK_H
#define CHOKEPOINT_CP_DPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cp_audit.h"
#include "cp_gens.h"
#include "dp_proto.h"

struct cp_policy;
struct cp_dplink;

/* What cp_dplink_service() saw (bitmask). */
#define CP_DPL_HELLO    (1u << 0)
#define CP_DPL_ACK      (1u << 1)
#define CP_DPL_NACK     (1u << 2)
#define CP_DPL_STATS    (1u << 3)
#define CP_DPL_DRAINED  (1u << 4)
#define CP_DPL_EVENTS   (1u << 5)
#define CP_DPL_CLOSED   (1u << 6)   /* EOF, error or bad message: connection gone */
#define CP_DPL_AUDIT_ERR (1u << 7)  /* a record could not be written (connection dropped) */

struct cp_dplink_counters {
	uint64_t connections;
	uint64_t bad_msgs;        /* failed validation (connection dropped each time) */
	uint64_t bad_events;      /* unknown type, out-of-range fields */
	uint64_t events;          /* records written from events */
	uint64_t dup_events;      /* resent events already written */
	uint64_t gaps_missing;    /* audit.gap records the control plane wrote itself */
	uint64_t policies_pushed;
	uint64_t policy_acks;
	uint64_t policy_nacks;
	uint64_t unknown_gen;     /* events whose generation was no longer known */
	uint64_t audit_errors;
};

int cp_dplink_new(struct cp_audit *audit, struct cp_dplink **out);
void cp_dplink_free(struct cp_dplink *l);

/*
 * Make pol the current policy (taking ownership on success): loads it once
 * with the matcher to record its rule ids under a new generation, and pushes
 * it if a dataplane is connected. by = "start" | "sighup" | "ctl" (written
 * in policy.loaded when the dataplane acknowledges). 0, or -errno with err.
 */
int cp_dplink_set_policy(struct cp_dplink *l, struct cp_policy *pol, const char *by,
			 char *err, size_t errlen);
const struct cp_policy *cp_dplink_policy(const struct cp_dplink *l);
uint64_t cp_dplink_policy_gen(const struct cp_dplink *l); /* generation of the current policy */
uint64_t cp_dplink_live_gen(const struct cp_dplink *l);   /* acked by the connected dataplane, 0 none */
uint64_t cp_dplink_pending_gen(const struct cp_dplink *l); /* pushed, not answered, 0 none */
const struct cp_gens *cp_dplink_gens(const struct cp_dplink *l);

/*
 * Seed the de-duplication state from the trail's last records (the tail of
 * path, up to 4 MiB, after that of the newest rotated file when path holds
 * less): after a control-plane restart the dataplane resends
 * what was written but not yet acknowledged, and those events must not be
 * written twice. Records carry the first 8 bytes of the boot id; the seed
 * applies to the dataplane boot whose id starts with them. Returns the
 * number of records read, or -errno.
 */
int cp_dplink_seed_from_trail(struct cp_dplink *l, const char *path);

/* Adopt a connected socket (closing any previous one). */
void cp_dplink_attach(struct cp_dplink *l, int fd);
void cp_dplink_detach(struct cp_dplink *l, const char *why);
int cp_dplink_fd(const struct cp_dplink *l);
bool cp_dplink_ready(const struct cp_dplink *l);  /* connected and HELLO received */
const struct dp_msg_hello *cp_dplink_hello(const struct cp_dplink *l);

/* Process queued messages (at most 64 per call). Returns CP_DPL_* bits. */
unsigned cp_dplink_service(struct cp_dplink *l);

int cp_dplink_request_stats(struct cp_dplink *l);
/* last STATS received on this connection, NULL if none */
const struct dp_msg_stats *cp_dplink_stats(const struct cp_dplink *l);
int cp_dplink_quit(struct cp_dplink *l);
/* Out-of-band answers for the dataplane's resolved table (no reply). 0 or -errno. */
int cp_dplink_send_dns(struct cp_dplink *l, const struct dp_msg_dns_resolved *m);

/* After CP_DPL_NACK: the generation and reason. */
uint64_t cp_dplink_nack_gen(const struct cp_dplink *l);
const char *cp_dplink_nack_reason(const struct cp_dplink *l);
const struct cp_dplink_counters *cp_dplink_counters(const struct cp_dplink *l);

#endif /* CHOKEPOINT_CP_DPLINK_H */
