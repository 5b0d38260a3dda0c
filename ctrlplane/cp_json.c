/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_json.c: bounded JSON writer with strict escaping, and a strict scanner
 * for one object. See cp_json.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cp_json.h"

static const char hexdig[] = "0123456789abcdef";

void
cp_json_init(struct cp_json *j, char *buf, size_t cap)
{
	memset(j, 0, sizeof(*j));
	j->buf = buf;
	j->cap = cap;
	j->first[0] = true;
	if (cap > 0)
		buf[0] = '\0';
	else
		j->overflow = true;
}

int
cp_json_error(const struct cp_json *j)
{
	if (j->overflow)
		return -ENOSPC;
	return 0;
}

void
cp_json_raw(struct cp_json *j, const char *s, size_t n)
{
	if (j->overflow)
		return;
	if (n >= j->cap - j->len) {
		j->overflow = true;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void
put_c(struct cp_json *j, char c)
{
	cp_json_raw(j, &c, 1);
}

/* Separator before a key or a value in the current container. */
static void
sep(struct cp_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		put_c(j, ',');
	j->first[j->depth] = false;
}

static void
open_c(struct cp_json *j, char c)
{
	sep(j);
	put_c(j, c);
	if (j->depth + 1 >= CP_JSON_DEPTH) {
		j->overflow = true;
		return;
	}
	j->depth++;
	j->first[j->depth] = true;
}

static void
close_c(struct cp_json *j, char c)
{
	if (j->depth == 0) {
		j->overflow = true;
		return;
	}
	j->depth--;
	put_c(j, c);
}

void
cp_json_obj_begin(struct cp_json *j)
{
	open_c(j, '{');
}

void
cp_json_obj_end(struct cp_json *j)
{
	close_c(j, '}');
}

void
cp_json_arr_begin(struct cp_json *j)
{
	open_c(j, '[');
}

void
cp_json_arr_end(struct cp_json *j)
{
	close_c(j, ']');
}

void
cp_json_key(struct cp_json *j, const char *key)
{
	sep(j);
	put_c(j, '"');
	cp_json_raw(j, key, strlen(key));
	cp_json_raw(j, "\":", 2);
	j->after_key = true;
}

/* Escaped length of one byte, and its text into out[6]. */
static size_t
esc_byte(uint8_t c, char out[6])
{
	if (c == '"' || c == '\\') {
		out[0] = '\\';
		out[1] = (char)c;
		return 2;
	}
	if (c >= 0x20 && c <= 0x7e) {
		out[0] = (char)c;
		return 1;
	}
	out[0] = '\\';
	out[1] = 'u';
	out[2] = '0';
	out[3] = '0';
	out[4] = hexdig[c >> 4];
	out[5] = hexdig[c & 0xf];
	return 6;
}

int
cp_json_escape(const void *s, size_t n, char *out, size_t outlen)
{
	const uint8_t *p = s;
	size_t o = 0;
	char e[6];

	for (size_t i = 0; i < n; i++) {
		size_t k = esc_byte(p[i], e);

		if (o + k >= outlen)
			return -ENOSPC;
		memcpy(out + o, e, k);
		o += k;
	}
	if (o >= outlen)
		return -ENOSPC;
	out[o] = '\0';
	return (int)o;
}

void
cp_json_str(struct cp_json *j, const void *s, size_t n)
{
	const uint8_t *p = s;
	char e[6];

	size_t i = 0, run;

	sep(j);
	put_c(j, '"');
	while (i < n && !j->overflow) {
		/* a run of bytes that need no escape goes in one copy */
		for (run = i; run < n && p[run] >= 0x20 && p[run] <= 0x7e && p[run] != '"' &&
		     p[run] != '\\'; run++)
			;
		if (run > i) {
			cp_json_raw(j, (const char *)p + i, run - i);
			i = run;
			continue;
		}
		cp_json_raw(j, e, esc_byte(p[i], e));
		i++;
	}
	put_c(j, '"');
}

void
cp_json_strz(struct cp_json *j, const char *s)
{
	if (s == NULL)
		cp_json_null(j);
	else
		cp_json_str(j, s, strlen(s));
}

void
cp_json_u64(struct cp_json *j, uint64_t v)
{
	char t[24];
	size_t n = sizeof(t);

	/* decimal digits from the end: the hot path of every record, no printf */
	do {
		t[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	sep(j);
	cp_json_raw(j, t + n, sizeof(t) - n);
}

void
cp_json_i64(struct cp_json *j, int64_t v)
{
	char t[24];
	int n = snprintf(t, sizeof(t), "%" PRId64, v);

	sep(j);
	cp_json_raw(j, t, (size_t)n);
}

void
cp_json_bool(struct cp_json *j, bool v)
{
	sep(j);
	if (v)
		cp_json_raw(j, "true", 4);
	else
		cp_json_raw(j, "false", 5);
}

void
cp_json_null(struct cp_json *j)
{
	sep(j);
	cp_json_raw(j, "null", 4);
}

/* ---------------------------------------------------------------- scanner */

struct scan {
	const char *b;
	size_t len;
	size_t i;
	unsigned depth;
};

static int
sc_fail(struct scan *s)
{
	return -EBADMSG;
}

static void
sc_ws(struct scan *s)
{
	while (s->i < s->len && (s->b[s->i] == ' ' || s->b[s->i] == '\t' ||
				 s->b[s->i] == '\n' || s->b[s->i] == '\r'))
		s->i++;
}

static int
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
sc_string(struct scan *s)
{
	if (s->i >= s->len || s->b[s->i] != '"')
		return sc_fail(s);
	s->i++;
	while (s->i < s->len) {
		unsigned char c = (unsigned char)s->b[s->i];

		if (c == '"') {
			s->i++;
			return 0;
		}
		if (c < 0x20 || c > 0x7e)
			return sc_fail(s);
		if (c == '\\') {
			char e;

			if (++s->i >= s->len)
				return sc_fail(s);
			e = s->b[s->i];
			if (e == 'u') {
				if (s->i + 4 >= s->len)
					return sc_fail(s);
				for (int k = 1; k <= 4; k++)
					if (!is_hex(s->b[s->i + k])) {
						s->i += k;
						return sc_fail(s);
					}
				s->i += 4;
			} else if (strchr("\"\\/bfnrt", e) == NULL || e == '\0') {
				return sc_fail(s);
			}
		}
		s->i++;
	}
	return sc_fail(s);
}

static int
sc_digits(struct scan *s)
{
	size_t st = s->i;

	while (s->i < s->len && s->b[s->i] >= '0' && s->b[s->i] <= '9')
		s->i++;
	return s->i > st ? 0 : sc_fail(s);
}

static int
sc_number(struct scan *s)
{
	if (s->i < s->len && s->b[s->i] == '-')
		s->i++;
	if (s->i < s->len && s->b[s->i] == '0')
		s->i++;
	else if (sc_digits(s) < 0)
		return sc_fail(s);
	if (s->i < s->len && s->b[s->i] == '.') {
		s->i++;
		if (sc_digits(s) < 0)
			return sc_fail(s);
	}
	if (s->i < s->len && (s->b[s->i] == 'e' || s->b[s->i] == 'E')) {
		s->i++;
		if (s->i < s->len && (s->b[s->i] == '+' || s->b[s->i] == '-'))
			s->i++;
		if (sc_digits(s) < 0)
			return sc_fail(s);
	}
	return 0;
}

static int
sc_lit(struct scan *s, const char *lit)
{
	size_t n = strlen(lit);

	if (s->len - s->i < n || memcmp(s->b + s->i, lit, n) != 0)
		return sc_fail(s);
	s->i += n;
	return 0;
}

static int sc_value(struct scan *s);

static int
sc_container(struct scan *s, char open, char close)
{
	if (++s->depth > 32)
		return sc_fail(s);
	s->i++;                 /* the opening bracket */
	sc_ws(s);
	if (s->i < s->len && s->b[s->i] == close) {
		s->i++;
		s->depth--;
		return 0;
	}
	for (;;) {
		sc_ws(s);
		if (open == '{') {
			if (sc_string(s) < 0)
				return -EBADMSG;
			sc_ws(s);
			if (s->i >= s->len || s->b[s->i] != ':')
				return sc_fail(s);
			s->i++;
			sc_ws(s);
		}
		if (sc_value(s) < 0)
			return -EBADMSG;
		sc_ws(s);
		if (s->i >= s->len)
			return sc_fail(s);
		if (s->b[s->i] == ',') {
			s->i++;
			continue;
		}
		if (s->b[s->i] == close) {
			s->i++;
			s->depth--;
			return 0;
		}
		return sc_fail(s);
	}
}

static int
sc_value(struct scan *s)
{
	if (s->i >= s->len)
		return sc_fail(s);
	switch (s->b[s->i]) {
	case '"':
		return sc_string(s);
	case '{':
		return sc_container(s, '{', '}');
	case '[':
		return sc_container(s, '[', ']');
	case 't':
		return sc_lit(s, "true");
	case 'f':
		return sc_lit(s, "false");
	case 'n':
		return sc_lit(s, "null");
	default:
		return sc_number(s);
	}
}

int
cp_json_scan_object(const char *buf, size_t len, struct cp_json_member *m,
		    int max, size_t *err_off)
{
	struct scan s = { .b = buf, .len = len, .i = 0, .depth = 1 };
	int n = 0;

	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)buf[k];

		if (c < 0x20 || c > 0x7e) {
			*err_off = k;
			return -EBADMSG;
		}
	}
	sc_ws(&s);
	if (s.i >= len || buf[s.i] != '{')
		goto bad;
	s.i++;
	sc_ws(&s);
	if (s.i < len && buf[s.i] == '}') {
		s.i++;
		goto end;
	}
	for (;;) {
		size_t ks, vs;

		sc_ws(&s);
		ks = s.i;
		if (sc_string(&s) < 0)
			goto bad;
		if (n < max) {
			m[n].key_off = ks;
			m[n].key = buf + ks + 1;
			m[n].key_len = s.i - ks - 2;
		}
		sc_ws(&s);
		if (s.i >= len || buf[s.i] != ':')
			goto bad;
		s.i++;
		sc_ws(&s);
		vs = s.i;
		if (sc_value(&s) < 0)
			goto bad;
		if (n < max) {
			m[n].val = buf + vs;
			m[n].val_len = s.i - vs;
		}
		n++;
		sc_ws(&s);
		if (s.i >= len)
			goto bad;
		if (buf[s.i] == ',') {
			s.i++;
			continue;
		}
		if (buf[s.i] == '}') {
			s.i++;
			break;
		}
		goto bad;
	}
end:
	sc_ws(&s);
	if (s.i != len)
		goto bad;
	if (n > max)
		return -E2BIG;
	return n;
bad:
	*err_off = s.i;
	return -EBADMSG;
}
