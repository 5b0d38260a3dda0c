/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_json.h: a tiny append-only JSON writer into a caller-owned bounded
 * buffer (no allocation), and a strict scanner for one flat-ish JSON object
 * (used by `audit verify` to check a record's shape byte by byte).
 *
 * Writer: commas are placed automatically; a value that does not fit sets
 * the overflow flag and every later call is a no-op, so a caller checks
 * cp_json_error() once at the end. The buffer is always NUL-terminated.
 *
 * Strings are escaped strictly (the audit contract): `"` -> \", `\` -> \\,
 * every byte outside 0x20..0x7e -> \u00xx. The output is pure ASCII, so a
 * name from the wire can never end its string, forge a field or a line.
 */
#ifndef CHOKEPOINT_CP_JSON_H
#define CHOKEPOINT_CP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CP_JSON_DEPTH 16

struct cp_json {
	char *buf;
	size_t cap;               /* bytes of buf, NUL included */
	size_t len;
	bool overflow;
	bool after_key;
	uint8_t depth;
	bool first[CP_JSON_DEPTH];
};

void cp_json_init(struct cp_json *j, char *buf, size_t cap);
/* 0, or -ENOSPC when anything did not fit, -EINVAL on unbalanced nesting */
int cp_json_error(const struct cp_json *j);

void cp_json_obj_begin(struct cp_json *j);
void cp_json_obj_end(struct cp_json *j);
void cp_json_arr_begin(struct cp_json *j);
void cp_json_arr_end(struct cp_json *j);
/* key: trusted ASCII literal (written unescaped) */
void cp_json_key(struct cp_json *j, const char *key);
void cp_json_str(struct cp_json *j, const void *s, size_t n);
void cp_json_strz(struct cp_json *j, const char *s);   /* NULL -> null */
void cp_json_u64(struct cp_json *j, uint64_t v);
void cp_json_i64(struct cp_json *j, int64_t v);
void cp_json_bool(struct cp_json *j, bool v);
void cp_json_null(struct cp_json *j);
/* Append bytes as they are (no comma logic): for trusted, pre-rendered text. */
void cp_json_raw(struct cp_json *j, const char *s, size_t n);

/* Escaped form of s into out (NUL-terminated); returns the length or -ENOSPC. */
int cp_json_escape(const void *s, size_t n, char *out, size_t outlen);

/*
 * Scanner: checks that buf[0..len) is exactly one JSON object (RFC 8259
 * syntax, no bytes outside 0x20..0x7e) and reports its top-level members in
 * order. Nested objects/arrays are validated and reported as one value.
 */
struct cp_json_member {
	const char *key;          /* raw bytes between the quotes */
	size_t key_len;
	const char *val;          /* the value's bytes, quotes included for strings */
	size_t val_len;
	size_t key_off;           /* offset of the key's opening quote */
};

/*
 * Returns the number of members (0..max; more members than max -> -E2BIG),
 * or -EBADMSG with *err_off set to the offset of the first bad byte.
 */
int cp_json_scan_object(const char *buf, size_t len, struct cp_json_member *m,
			int max, size_t *err_off);

#endif /* CHOKEPOINT_CP_JSON_H */
