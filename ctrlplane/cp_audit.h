/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_audit.h: the audit trail: one JSON record per line, hash-chained.
 *
 *   hash = lowercase hex SHA-256 of the line's bytes from `{` up to (not
 *          including) `,"hash":`;  prev = the previous line's hash (genesis:
 *          64 zeros); seq counts lines from 1 and continues across restarts.
 *
 * Writer: cp_audit_open() resumes an existing file (a torn last line, one
 * without its newline, is cut off and reported in the resume info; a last
 * complete line that does not verify is refused: extending a broken chain
 * would hide the break). Each record goes out with one write(2) of the whole
 * line; a failed write is cut back so the file never holds half a line.
 *
 * Verifier: checks every line's JSON shape and key order, seq continuity,
 * prev linkage and its own hash; reports the first break as FILE:LINE.
 */
#ifndef CHOKEPOINT_CP_AUDIT_H
#define CHOKEPOINT_CP_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cp_json.h"

struct cp_audit;

struct cp_audit_resume {
	uint64_t seq;             /* seq of the last record found, 0 for a new/empty file */
	size_t torn_bytes;        /* bytes of a torn last line that were cut, 0 if none */
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
/* fsync if do_fsync >= 1 and something was written since the last sync. */
int cp_audit_sync(struct cp_audit *a);

/* ---- verification ---- */

struct cp_audit_line {
	uint64_t seq;
	uint8_t prev[32];
	uint8_t hash[32];
	char type[24];
};

/*
 * Check one line (without its newline): JSON shape, key order of its type,
 * hash over its own bytes. 0 or -EBADMSG with why filled.
 */
int cp_audit_check_line(const char *line, size_t len, struct cp_audit_line *li,
			char *why, size_t whylen);

/* Chain state carried from one file to the next (rotated files, in order). */
struct cp_audit_verify {
	int started;
	uint64_t seq;             /* last seq seen */
	uint8_t prev[32];         /* last hash seen */
	uint64_t records;         /* in the last file verified */
	uint64_t first_seq;       /* of the last file verified */
};

/*
 * Verify path, continuing st. Returns 0 (msg: "FILE: ok: ..."), 1 on the
 * first break (msg: "FILE:LINE: what"), or 1 on an unreadable file.
 */
int cp_audit_verify_file(const char *path, struct cp_audit_verify *st,
			 char *msg, size_t msglen);

#endif /* CHOKEPOINT_CP_AUDIT_H */
