/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_verify.c: `chokepointctl audit verify`: line shape, key order, seq
 * continuity, prev linkage and each record's hash, on the bytes as stored
 * (never re-serialised). The first break is reported as FILE:LINE.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cp_audit.h"
#include "cp_util.h"

#define LINE_LIMIT (1024 * 1024)
#define MAX_MEMBERS 40
#define HASH_TAIL_LEN (sizeof(",\"hash\":\"") - 1 + 64 + 2)   /* ,"hash":"<64>"} */

struct rec_shape {
	const char *type;
	const char *const *keys;  /* in order, NULL-terminated; "vlan?" = optional */
};

static const char *const keys_decision[] = {
	"v", "type", "ts", "seq", "policy", "rule", "verdict", "enforced", "reason",
	"proto", "src", "sport", "dst", "dport", "app", "sni", "host", "alpn",
	"tls_versions", "ech", "pqc", "ja4", "anomalies", "vlan?", "boot", "worker",
	"wseq", "prev", "hash", NULL,
};
static const char *const keys_end[] = {
	"v", "type", "ts", "seq", "policy", "rule", "verdict", "proto", "src", "sport",
	"dst", "dport", "app", "sni", "host", "pkts_c2s", "pkts_s2c", "bytes_c2s",
	"bytes_s2c", "duration_ms", "close", "boot", "worker", "wseq", "prev", "hash",
	NULL,
};
static const char *const keys_policy[] = {
	"v", "type", "ts", "seq", "policy", "rules", "generation", "path", "by",
	"prev", "hash", NULL,
};
static const char *const keys_gap[] = {
	"v", "type", "ts", "seq", "boot", "worker", "first", "last", "count", "cause",
	"prev", "hash", NULL,
};

static const struct rec_shape shapes[] = {
	{ "flow.decision", keys_decision },
	{ "flow.end", keys_end },
	{ "policy.loaded", keys_policy },
	{ "audit.gap", keys_gap },
};

static int
key_is(const struct cp_json_member *m, const char *k)
{
	size_t n = strlen(k);

	return m->key_len == n && memcmp(m->key, k, n) == 0;
}

static int
fail(char *why, size_t whylen, const char *fmt, const char *a)
{
	snprintf(why, whylen, fmt, a);
	return -EBADMSG;
}

/* "x..." with exactly 64 lowercase hex digits between the quotes */
static int
hex64_val(const struct cp_json_member *m, uint8_t out[32])
{
	if (m->val_len != 66 || m->val[0] != '"' || m->val[65] != '"')
		return -1;
	for (int i = 1; i <= 64; i++) {
		char c = m->val[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
	}
	return cp_unhex(m->val + 1, 32, out);
}

static int
check_keys(const struct rec_shape *s, const struct cp_json_member *m, int n,
	   char *why, size_t whylen)
{
	int i = 0;

	for (const char *const *k = s->keys; *k != NULL; k++) {
		size_t kl = strlen(*k);

		if ((*k)[kl - 1] == '?') {
			char opt[32];

			snprintf(opt, sizeof(opt), "%.*s", (int)(kl - 1), *k);
			if (i < n && key_is(&m[i], opt))
				i++;
			continue;
		}
		if (i >= n)
			return fail(why, whylen, "bad record shape: key \"%s\" missing", *k);
		if (!key_is(&m[i], *k)) {
			char got[48];

			snprintf(got, sizeof(got), "%.*s", (int)(m[i].key_len > 40 ? 40 : m[i].key_len),
				 m[i].key);
			snprintf(why, whylen, "bad record shape: key \"%s\" where \"%s\" belongs",
				 got, *k);
			return -EBADMSG;
		}
		i++;
	}
	if (i != n)
		return fail(why, whylen, "bad record shape: %s has extra keys", s->type);
	return 0;
}

int
cp_audit_check_line(const char *line, size_t len, struct cp_audit_line *li,
		    char *why, size_t whylen)
{
	static const char hash_key[] = ",\"hash\":\"";
	struct cp_json_member m[MAX_MEMBERS];
	const struct rec_shape *shape = NULL;
	uint8_t h[32];
	unsigned int hl = 0;
	size_t off = 0, tl;
	char *endp;
	int n;

	memset(li, 0, sizeof(*li));
	if (len == 0)
		return fail(why, whylen, "%sempty line", "");
	n = cp_json_scan_object(line, len, m, MAX_MEMBERS, &off);
	if (n == -E2BIG)
		return fail(why, whylen, "bad record shape: %s", "too many keys");
	if (n < 0) {
		snprintf(why, whylen, "not a JSON object (bad byte at column %zu)", off + 1);
		return -EBADMSG;
	}
	if (n < 6 || !key_is(&m[0], "v") || !key_is(&m[1], "type"))
		return fail(why, whylen, "bad record shape: %s", "must start with \"v\",\"type\"");
	if (m[0].val_len != 1 || m[0].val[0] != '1')
		return fail(why, whylen, "unsupported record version %s", "(v != 1)");
	tl = m[1].val_len;
	if (tl < 2 || m[1].val[0] != '"' || tl - 2 >= sizeof(li->type))
		return fail(why, whylen, "bad record shape: %s", "bad type");
	memcpy(li->type, m[1].val + 1, tl - 2);
	li->type[tl - 2] = '\0';
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (strcmp(shapes[i].type, li->type) == 0)
			shape = &shapes[i];
	if (shape == NULL)
		return fail(why, whylen, "unknown record type \"%.30s\"", li->type);
	if (check_keys(shape, m, n, why, whylen) < 0)
		return -EBADMSG;
	if (m[2].val_len != 29 || m[2].val[0] != '"' || m[2].val[27] != 'Z')
		return fail(why, whylen, "bad record shape: %s", "ts is not RFC 3339 UTC with microseconds");
	/* seq: digits, no sign, no leading zero, no overflow */
	if (m[3].val_len == 0 || m[3].val_len > 20 || m[3].val[0] < '1' || m[3].val[0] > '9')
		return fail(why, whylen, "bad record shape: %s", "seq is not a positive integer");
	for (size_t i = 0; i < m[3].val_len; i++)
		if (m[3].val[i] < '0' || m[3].val[i] > '9')
			return fail(why, whylen, "bad record shape: %s", "seq is not a positive integer");
	errno = 0;
	li->seq = strtoull(m[3].val, &endp, 10);
	if (errno != 0 || endp != m[3].val + m[3].val_len)
		return fail(why, whylen, "bad record shape: %s", "seq out of range");
	if (hex64_val(&m[n - 2], li->prev) < 0)
		return fail(why, whylen, "bad record shape: %s", "prev is not 64 lowercase hex digits");
	if (hex64_val(&m[n - 1], li->hash) < 0)
		return fail(why, whylen, "bad record shape: %s", "hash is not 64 lowercase hex digits");
	/* the hashed bytes end exactly where ,"hash":" starts, and the line right after it */
	if (len < HASH_TAIL_LEN ||
	    memcmp(line + len - HASH_TAIL_LEN, hash_key, sizeof(hash_key) - 1) != 0 ||
	    m[n - 1].key_off != len - HASH_TAIL_LEN + 1)
		return fail(why, whylen, "bad record shape: %s", "line must end with ,\"hash\":\"...\"}");
	if (EVP_Digest(line, len - HASH_TAIL_LEN, h, &hl, EVP_sha256(), NULL) != 1 || hl != 32)
		return fail(why, whylen, "%ssha256 failed", "");
	if (memcmp(h, li->hash, 32) != 0)
		return fail(why, whylen, "hash does not match the record's bytes (record altered)%s", "");
	return 0;
}

static const uint8_t zero32[32];

int
cp_audit_verify_file(const char *path, struct cp_audit_verify *st, char *msg,
		     size_t msglen)
{
	struct cp_audit_line li;
	char why[256], hx[65], hy[65];
	unsigned long lineno = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t r;
	FILE *f;
	int rc = 0;

	f = fopen(path, "re");
	if (f == NULL) {
		snprintf(msg, msglen, "%s: %s", path, strerror(errno));
		return 1;
	}
	st->records = 0;
	st->first_seq = 0;
	while ((r = getline(&line, &cap, f)) > 0) {
		size_t len = (size_t)r;

		lineno++;
		if (line[len - 1] != '\n') {
			snprintf(msg, msglen,
				 "%s:%lu: torn last line (%zu bytes, no newline): a write was cut short or the file was truncated",
				 path, lineno, len);
			rc = 1;
			goto out;
		}
		len--;
		if (len > LINE_LIMIT) {
			snprintf(msg, msglen, "%s:%lu: line longer than %d bytes", path, lineno,
				 LINE_LIMIT);
			rc = 1;
			goto out;
		}
		if (cp_audit_check_line(line, len, &li, why, sizeof(why)) < 0) {
			snprintf(msg, msglen, "%s:%lu: %s", path, lineno, why);
			rc = 1;
			goto out;
		}
		if (!st->started) {
			/* the first record of the first file is the genesis */
			if (li.seq != 1 || memcmp(li.prev, zero32, 32) != 0) {
				snprintf(msg, msglen,
					 "%s:%lu: chain does not start at genesis (seq %llu, prev %.16s...): earlier records missing",
					 path, lineno, (unsigned long long)li.seq, cp_hex(li.prev, 32, hx));
				rc = 1;
				goto out;
			}
		} else {
			if (li.seq != st->seq + 1) {
				snprintf(msg, msglen,
					 "%s:%lu: seq %llu where %llu belongs (record %s)",
					 path, lineno, (unsigned long long)li.seq,
					 (unsigned long long)(st->seq + 1),
					 li.seq > st->seq + 1 ? "missing before this line" :
					 "repeated, inserted or out of order");
				rc = 1;
				goto out;
			}
			if (memcmp(li.prev, st->prev, 32) != 0) {
				snprintf(msg, msglen,
					 "%s:%lu: prev %.16s... does not link to the previous record's hash %.16s... (record inserted or replaced)",
					 path, lineno, cp_hex(li.prev, 32, hx), cp_hex(st->prev, 32, hy));
				rc = 1;
				goto out;
			}
		}
		st->started = 1;
		st->seq = li.seq;
		memcpy(st->prev, li.hash, 32);
		if (st->records++ == 0)
			st->first_seq = li.seq;
	}
	if (ferror(f)) {
		snprintf(msg, msglen, "%s: read error: %s", path, strerror(errno));
		rc = 1;
		goto out;
	}
	if (st->records == 0)
		snprintf(msg, msglen, "%s: ok: 0 records", path);
	else
		snprintf(msg, msglen, "%s: ok: %llu records, seq %llu..%llu, head %s", path,
			 (unsigned long long)st->records, (unsigned long long)st->first_seq,
			 (unsigned long long)st->seq, cp_hex(st->prev, 32, hx));
out:
	free(line);
	fclose(f);
	return rc;
}
