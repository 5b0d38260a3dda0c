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
#include "cp_sign.h"
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
	"tls_versions", "ech", "pqc", "ja4", "anomalies", "bound?", "vlan?", "gwlb?", "boot", "worker",
	"wseq", "prev", "hash", NULL,
};
static const char *const keys_end[] = {
	"v", "type", "ts", "seq", "policy", "rule", "verdict", "proto", "src", "sport",
	"dst", "dport", "app", "sni", "host", "pkts_c2s", "pkts_s2c", "bytes_c2s",
	"bytes_s2c", "duration_ms", "close", "gwlb?", "boot", "worker", "wseq", "prev", "hash",
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

static const char *const keys_checkpoint[] = {
	"v", "type", "ts", "seq", "cause", "records", "alg", "key", "sig", "prev", "hash", NULL,
};
static const char *const keys_recovered[] = {
	"v", "type", "ts", "seq", "file", "torn_bytes", "torn_sha256", "prev", "hash", NULL,
};

static const struct rec_shape shapes[] = {
	{ "flow.decision", keys_decision },
	{ "flow.end", keys_end },
	{ "policy.loaded", keys_policy },
	{ "audit.gap", keys_gap },
	{ "audit.checkpoint", keys_checkpoint },
	{ "audit.recovered", keys_recovered },
};

/* a string value of exactly n lowercase hex digits into out (n/2 bytes) */
static int
hex_val(const struct cp_json_member *m, size_t n, uint8_t *out)
{
	if (m->val_len != n + 2 || m->val[0] != '"' || m->val[n + 1] != '"')
		return -1;
	for (size_t i = 1; i <= n; i++) {
		char c = m->val[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return -1;
	}
	return cp_unhex(m->val + 1, n / 2, out);
}

static bool
val_is(const struct cp_json_member *m, const char *v)
{
	size_t n = strlen(v);

	return m->val_len == n && memcmp(m->val, v, n) == 0;
}

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
	memcpy(li->ts, m[2].val + 1, 27);
	li->ts[27] = '\0';
	if (strcmp(li->type, "audit.checkpoint") == 0) {
		if (!val_is(&m[6], "\"ed25519\""))
			return fail(why, whylen, "bad record shape: %s", "checkpoint alg is not \"ed25519\"");
		if (hex_val(&m[7], 2 * CP_KEY_ID_LEN, li->key_id) < 0)
			return fail(why, whylen, "bad record shape: %s", "checkpoint key is not 16 hex digits");
		if (hex_val(&m[8], 2 * CP_SIG_LEN, li->sig) < 0)
			return fail(why, whylen, "bad record shape: %s", "checkpoint sig is not 128 hex digits");
	} else if (strcmp(li->type, "audit.gap") == 0) {
		li->gap_count = strtoull(m[8].val, NULL, 10);
	} else if (strcmp(li->type, "audit.recovered") != 0 && m[4].val_len < sizeof(li->policy) + 2 &&
		   m[4].val[0] == '"') {
		memcpy(li->policy, m[4].val + 1, m[4].val_len - 2);
		li->policy[m[4].val_len - 2] = '\0';
	}
	return 0;
}

static void
note_policy(struct cp_audit_verify *st, const char *p)
{
	if (p[0] == '\0')
		return;
	for (unsigned i = 0; i < st->n_policies; i++)
		if (strcmp(st->policies[i], p) == 0)
			return;
	if (st->n_policies == CP_VERIFY_POLICIES) {
		st->more_policies = true;
		return;
	}
	snprintf(st->policies[st->n_policies++], sizeof(st->policies[0]), "%s", p);
}

/* A checkpoint's signature with the pinned key. 0, or 1 with msg filled. */
static int
check_signature(const struct cp_audit_verify *st, const struct cp_audit_line *li,
		const char *path, unsigned long lineno, char *msg, size_t msglen)
{
	const struct cp_key *k = st->pubkey;
	uint8_t m[CP_SIGN_MSG_LEN];
	char a[17], b[17];

	/* only a pinned key: the key id picks among them, it never brings one in */
	for (unsigned i = 0; i < st->n_more_keys &&
	     memcmp(li->key_id, cp_key_id(k), CP_KEY_ID_LEN) != 0; i++)
		k = st->more_keys[i];
	if (memcmp(li->key_id, cp_key_id(k), CP_KEY_ID_LEN) != 0) {
		snprintf(msg, msglen,
			 "%s:%lu: checkpoint signed by key %s, the pinned key is %s%s: not trusted",
			 path, lineno, cp_hex(li->key_id, CP_KEY_ID_LEN, a),
			 cp_hex(cp_key_id(st->pubkey), CP_KEY_ID_LEN, b),
			 st->n_more_keys > 0 ? " (and others given)" : "");
		return 1;
	}
	cp_sign_message(m, li->seq, li->prev, li->ts, li->key_id);
	if (cp_sign_verify(k, m, sizeof(m), li->sig) != 0) {
		snprintf(msg, msglen,
			 "%s:%lu: checkpoint signature does not verify with the pinned key (checkpoint forged or altered)",
			 path, lineno);
		return 1;
	}
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
			if (!st->partial && (li.seq != 1 || memcmp(li.prev, zero32, 32) != 0)) {
				snprintf(msg, msglen,
					 "%s:%lu: chain does not start at genesis (seq %llu, prev %.16s...): earlier records missing",
					 path, lineno, (unsigned long long)li.seq, cp_hex(li.prev, 32, hx));
				rc = 1;
				goto out;
			}
		} else {
			if (li.seq != st->seq + 1) {
				if (lineno == 1)
					snprintf(msg, msglen,
						 "%s:1: seq %llu where %llu belongs: the previous file ended at seq %llu (%s)",
						 path, (unsigned long long)li.seq,
						 (unsigned long long)(st->seq + 1), (unsigned long long)st->seq,
						 li.seq > st->seq + 1 ?
						 "records missing: a rotated file missing or left out?" :
						 "files given out of order?");
				else
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
		if (strcmp(li.type, "audit.checkpoint") == 0) {
			if (st->pubkey != NULL &&
			    check_signature(st, &li, path, lineno, msg, msglen) != 0) {
				rc = 1;
				goto out;
			}
			st->checkpoints++;
			st->last_checkpoint_seq = li.seq;
			st->unsigned_tail = 0;
		} else {
			st->unsigned_tail++;
		}
		if (strcmp(li.type, "audit.gap") == 0) {
			st->gaps++;
			st->gap_events += li.gap_count;
		} else if (strcmp(li.type, "audit.recovered") == 0) {
			st->recovered++;
		}
		note_policy(st, li.policy);
		if (st->first_ts[0] == '\0' || strcmp(li.ts, st->first_ts) < 0)
			memcpy(st->first_ts, li.ts, sizeof(st->first_ts));
		if (strcmp(li.ts, st->last_ts) > 0)
			memcpy(st->last_ts, li.ts, sizeof(st->last_ts));
		if (!st->started)
			st->start_seq = li.seq;
		st->started = 1;
		st->seq = li.seq;
		memcpy(st->prev, li.hash, 32);
		st->total++;
		if (st->records++ == 0)
			st->first_seq = li.seq;
	}
	st->files++;
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

void
cp_audit_verify_summary(const struct cp_audit_verify *st, char *out, size_t outlen)
{
	size_t n = 0;

#define ADD(...) do { \
		int k_ = snprintf(out + n, n < outlen ? outlen - n : 0, __VA_ARGS__); \
		if (k_ > 0) \
			n += (size_t)k_; \
	} while (0)
	if (outlen == 0)
		return;
	out[0] = '\0';
	ADD("records: %llu in %u file(s), seq %llu..%llu%s\n", (unsigned long long)st->total,
	    st->files, (unsigned long long)st->start_seq, (unsigned long long)st->seq,
	    st->start_seq > 1 ? " (starts after the genesis: earlier records not checked)" : "");
	if (st->total > 0)
		ADD("time span: %s .. %s\n", st->first_ts, st->last_ts);
	ADD("policies seen: %u%s\n", st->n_policies, st->more_policies ? "+" : "");
	for (unsigned i = 0; i < st->n_policies; i++)
		ADD("  %s\n", st->policies[i]);
	if (st->gaps > 0)
		ADD("audit.gap: %llu record(s), %llu events lost (the ranges are in the records)\n",
		    (unsigned long long)st->gaps, (unsigned long long)st->gap_events);
	if (st->recovered > 0)
		ADD("audit.recovered: %llu torn line(s) cut after a crash\n",
		    (unsigned long long)st->recovered);
	if (st->pubkey != NULL)
		ADD("checkpoints: %llu, every signature verified with the pinned key %s%s%s\n",
		    (unsigned long long)st->checkpoints, cp_key_id_hex(st->pubkey),
		    st->n_more_keys > 0 ? " (or another --pubkey given)" : "",
		    st->checkpoints > 0 ? "" : " (none found: nothing is signed)");
	else
		ADD("checkpoints: %llu, signatures NOT checked (no --pubkey): hash chain only\n",
		    (unsigned long long)st->checkpoints);
	if (st->unsigned_tail > 0)
		ADD("unsigned: %llu record(s) after the last checkpoint%s (seq %llu..%llu)\n",
		    (unsigned long long)st->unsigned_tail,
		    st->checkpoints > 0 ? "" : " (no checkpoint at all)",
		    (unsigned long long)(st->seq - st->unsigned_tail + 1),
		    (unsigned long long)st->seq);
	else if (st->checkpoints > 0)
		ADD("unsigned: 0 (the trail ends with a checkpoint)\n");
#undef ADD
}
