/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_audit.h: the audit trail: one JSON record per line, hash-chained.
 *
 *   hash = lowercase hex SHA-256 of the line's bytes from `{` up to (not
 *          including) `,"hash":`;  prev = the previous line's hash (genesis:
 *          64 zeros); seq counts lines from 1 and continues across restarts.
 *
 * Writer: cp_audit_open() resumes an existing file (a torn last line, one
 * without its newline, is cut off, reported in the resume info and recorded
 * as an audit.recovered record naming its size and sha256; a last complete
 * line that does not verify is refused: extending a broken chain would hide
 * the break). An empty or absent file resumes from the newest rotated file
 * beside it (PATH.<timestamp>), so a crash during a rotation keeps the chain. Each record goes out with one write(2) of the whole
 * line; a failed write is cut back so the file never holds half a line.
 *
 * Verifier: checks every line's JSON shape and key order, seq continuity,
 * prev linkage and its own hash; reports the first break as FILE:LINE.
 */
#ifndef CHOKEPOINT_CP_AUDIT_H
#define CHOKEPOINT_CP_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cp_json.h"

struct cp_audit;
struct cp_key;

struct cp_audit_resume {
	uint64_t seq;             /* seq of the last record found, 0 for a new/empty file */
	size_t torn_bytes;        /* bytes of a torn last line that were cut, 0 if none */
	char from[512];           /* file the chain was resumed from, when not path itself
				     (the newest rotated file, path being empty or absent) */
};

/*
 * do_fsync: 0 never, 1 at cp_audit_sync() (once per batch), 2 after every
 * line (CP_FSYNC_* of cp_policy.h).
 */

/* Open (create 0640, parent directories 0750) and resume path. 0 or -errno + err. */
int cp_audit_open(const char *path, int do_fsync, struct cp_audit **out,
		  struct cp_audit_resume *info, char *err, size_t errlen);
/* A fresh chain (seq 1, genesis prev) on an fd the caller owns (stdout, a pipe). */
int cp_audit_open_fd(int fd, int do_fsync, struct cp_audit **out);
void cp_audit_close(struct cp_audit *a);

/*
 * Signed checkpoints (cp_sign.h): key is borrowed (it must outlive a). An
 * audit.checkpoint is appended after every_records records (0: never by
 * count), by cp_audit_tick() when every_seconds passed since the last one
 * and records were written since (0: never by time), before a rotation, and
 * by cp_audit_checkpoint() (clean shutdown).
 */
void cp_audit_set_signer(struct cp_audit *a, const struct cp_key *key,
			 uint32_t every_records, uint32_t every_seconds);
/*
 * Rotation (files opened by path only): once the file holds rotate_bytes
 * (checked after each record) or rotate_seconds passed since it was opened
 * (checked by cp_audit_tick), it ends with a checkpoint (when signing), is
 * renamed PATH.YYYYmmddTHHMMSS.uuuuuuZ (UTC, so names sort by age) and a new
 * PATH continues the chain: its first record's prev is the last hash of the
 * renamed file and seq goes on. 0 disables either trigger.
 */
void cp_audit_set_rotation(struct cp_audit *a, uint64_t rotate_bytes, uint32_t rotate_seconds);
/* Called with every line written (newline included), e.g. the syslog export. */
typedef void (*cp_audit_sink_fn)(void *arg, const char *line, size_t len);
void cp_audit_set_sink(struct cp_audit *a, cp_audit_sink_fn fn, void *arg);

/*
 * Append a signed audit.checkpoint over the current head now (cause e.g.
 * "shutdown"), unless there is no signer or nothing was written since the
 * last one. 0 or -errno.
 */
int cp_audit_checkpoint(struct cp_audit *a, const char *cause);
/* Time-driven work (checkpoint_seconds, rotate_seconds). 0 or -errno. */
int cp_audit_tick(struct cp_audit *a);
/* ms until cp_audit_tick() has work at the latest (for a poll timeout); -1: none */
int cp_audit_tick_due_ms(const struct cp_audit *a);

struct cp_audit_stats {
	uint64_t records;         /* lines written by this process */
	uint64_t checkpoints;     /* audit.checkpoint written by this process */
	uint64_t last_checkpoint_seq;
	uint64_t since_checkpoint; /* records after the last checkpoint */
	uint64_t rotations;
	uint64_t errors;          /* failed checkpoints / rotations (logged) */
	const char *key_id;       /* NULL when not signing */
};
void cp_audit_stats(const struct cp_audit *a, struct cp_audit_stats *out);

/* Rotated files of path (PATH.<timestamp>), oldest first; the caller frees each
 * string and the array. 0 or -errno (no directory: 0 files). */
int cp_audit_rotated_files(const char *path, char ***out, size_t *n);

uint64_t cp_audit_next_seq(const struct cp_audit *a);
/* hex of the last hash (genesis: 64 zeros) into out[65] */
void cp_audit_head(const struct cp_audit *a, char out[65]);
const char *cp_audit_path(const struct cp_audit *a);   /* "-" for an fd */

/*
 * Finish and write the record rendered in j (an open object whose "seq" is
 * `seq`, which must be cp_audit_next_seq()): adds "prev" and "hash", closes
 * it and writes the line. 0, -EINVAL (seq out of order), -ENOSPC (line too
 * long), or -errno of the write (nothing of the line stays in the file).
 */
int cp_audit_append(struct cp_audit *a, struct cp_json *j, uint64_t seq);
/*
 * Batch: records appended between begin and commit are gathered and go out
 * with one write(2) at commit (checkpoint and rotation triggers are looked
 * at then); if that write fails nothing of the batch stays in the file and
 * the chain is back where it was at begin (seq, head), as after abort. With
 * fsync "always" there is no batching (every line is written and synced).
 * cp_audit_sync() commits first. commit: 0 or -errno.
 */
void cp_audit_batch_begin(struct cp_audit *a);
int cp_audit_batch_commit(struct cp_audit *a);
void cp_audit_batch_abort(struct cp_audit *a);

/* The do_fsync given at open (CP_FSYNC_*). */
int cp_audit_fsync_mode(const struct cp_audit *a);
/* fsync if do_fsync >= 1 and something was written since the last sync. */
int cp_audit_sync(struct cp_audit *a);

/* ---- verification ---- */

struct cp_audit_line {
	uint64_t seq;
	uint8_t prev[32];
	uint8_t hash[32];
	char type[24];
	char ts[28];              /* as written (27 chars + NUL) */
	char policy[72];          /* "sha256:..." of decision/end/policy.loaded, "" otherwise */
	/* audit.checkpoint */
	uint8_t key_id[8];
	uint8_t sig[64];
	/* audit.gap */
	uint64_t gap_count;
};

/*
 * Check one line (without its newline): JSON shape, key order of its type,
 * hash over its own bytes. 0 or -EBADMSG with why filled.
 */
int cp_audit_check_line(const char *line, size_t len, struct cp_audit_line *li,
			char *why, size_t whylen);

#define CP_VERIFY_POLICIES 16

/*
 * Chain state carried from one file to the next (rotated files, in order),
 * the options, and the totals for the summary. Zero it, set the options.
 */
struct cp_audit_verify {
	/* options */
	const struct cp_key *pubkey;  /* pinned key: checkpoints verified; NULL: chain only */
	const struct cp_key *more_keys[7]; /* further pinned keys (a key changed over time) */
	unsigned n_more_keys;
	int partial;              /* accept a first record that is not the genesis */
	/* chain */
	int started;
	uint64_t seq;             /* last seq seen */
	uint8_t prev[32];         /* last hash seen */
	uint64_t records;         /* in the last file verified */
	uint64_t first_seq;       /* of the last file verified */
	unsigned files;           /* files verified */
	/* totals */
	uint64_t total;           /* records in every file */
	uint64_t start_seq;       /* first seq of the first file */
	uint64_t checkpoints;     /* audit.checkpoint records (signature verified with pubkey) */
	uint64_t last_checkpoint_seq;
	uint64_t unsigned_tail;   /* records after the last checkpoint */
	uint64_t gaps, gap_events, recovered;
	char first_ts[28], last_ts[28];   /* earliest and latest ts (ts may step back) */
	char policies[CP_VERIFY_POLICIES][72];
	unsigned n_policies;
	bool more_policies;
};

/*
 * Verify path, continuing st. Returns 0 (msg: "FILE: ok: ..."), 1 on the
 * first break (msg: "FILE:LINE: what"), or 1 on an unreadable file.
 */
int cp_audit_verify_file(const char *path, struct cp_audit_verify *st,
			 char *msg, size_t msglen);

/* The multi-line summary of a verified trail (records, time span, policies,
 * checkpoints, unsigned tail) into out. */
void cp_audit_verify_summary(const struct cp_audit_verify *st, char *out, size_t outlen);

#endif /* CHOKEPOINT_CP_AUDIT_H */
