/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_record.h: renders audit records (docs: notes/cli.md "Audit record").
 * Each function starts a fresh JSON object in j holding every field of the
 * record up to, not including, "prev"; cp_audit_append() adds "prev" and
 * "hash" and closes the line. Rendering is pure: same inputs, same bytes.
 */
#ifndef CHOKEPOINT_CP_RECORD_H
#define CHOKEPOINT_CP_RECORD_H

#include <stdint.h>

#include "cp_gens.h"
#include "cp_json.h"
#include "dp_proto.h"

/* Longest line: a 255-byte name escaped 6x, ALPN, JA4, every anomaly. */
#define CP_LINE_MAX 8192

/* Problems found while rendering an event (the record is still written). */
#define CP_REC_UNKNOWN_GEN   (1u << 0)  /* policy_gen not in the table: policy null */
#define CP_REC_UNKNOWN_RULE  (1u << 1)  /* rule index not resolvable: rule null */
#define CP_REC_CLAMPED       (1u << 2)  /* a length field exceeded its array: clamped */
#define CP_REC_BAD_ENUM      (1u << 3)  /* verdict/reason/app/close/family out of range */

/*
 * flow.decision, flow.end or audit.gap from a dataplane event. Returns a
 * CP_REC_* mask (>= 0), or -EINVAL for an unknown event type (nothing
 * rendered), -ENOSPC if the line did not fit.
 */
int cp_record_event(struct cp_json *j, char *buf, size_t cap, uint64_t seq,
		    const struct dp_event *ev, const uint8_t boot_id[16],
		    const struct cp_gens *gens);

/* policy.loaded. by: "start", "sighup" or "ctl". 0 or -ENOSPC. */
int cp_record_policy_loaded(struct cp_json *j, char *buf, size_t cap,
			    uint64_t seq, uint64_t ts_ns, const uint8_t sha256[32],
			    uint32_t rules, uint64_t gen, const char *path,
			    const char *by);

/* audit.gap the control plane found itself (cause e.g. "missing"). 0 or -ENOSPC. */
int cp_record_gap(struct cp_json *j, char *buf, size_t cap, uint64_t seq,
		  uint64_t ts_ns, const uint8_t boot_id[16], unsigned worker,
		  uint64_t first, uint64_t last, const char *cause);

/*
 * audit.checkpoint: cause ("records", "seconds", "shutdown", "rotate"),
 * records since the previous checkpoint, signing key id (16 hex) and the
 * Ed25519 signature (cp_sign.h) as 128 hex digits. 0 or -ENOSPC.
 */
int cp_record_checkpoint(struct cp_json *j, char *buf, size_t cap, uint64_t seq,
			 uint64_t ts_ns, const char *cause, uint64_t records,
			 const char *key_id_hex, const uint8_t sig[64]);

/* audit.recovered: a torn last line of file was cut on restart. 0 or -ENOSPC. */
int cp_record_recovered(struct cp_json *j, char *buf, size_t cap, uint64_t seq,
			uint64_t ts_ns, const char *file, uint64_t torn_bytes,
			const uint8_t torn_sha256[32]);

/* Audit spelling of a name: ASCII lower-cased, one trailing dot removed. */
size_t cp_record_norm_name(const char *in, size_t len, char *out);

#endif /* CHOKEPOINT_CP_RECORD_H */
