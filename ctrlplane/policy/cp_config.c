/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_config.c: libconfig policy file -> validated struct cp_config.
 *
 * One validating setter per key; unknown keys are errors at every level;
 * every error is one line "FILE:LINE: KEY: message" where KEY is the
 * setting's path in libconfig syntax (rules.[2].action, 0-based). Parsing
 * goes on after an error so that one run reports every problem.
 * The reference for every key, default and message is docs/configuration.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>
#include <libconfig.h>
#include <libpsl.h>
#include <openssl/evp.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-const-variable"
#define DP_PROTO_NAMES
#include "dp_proto.h"
#pragma GCC diagnostic pop

#include "cpm.h"
#include "cpm_blob.h"
#include "cp_config.h"

#define KEY_MAX 160

/* Limits (inclusive) of the integer settings. */
#define HOLD_TIMEOUT_MIN 100
#define HOLD_TIMEOUT_MAX 60000
#define HOLD_BYTES_MIN 256
#define HOLD_BYTES_MAX 65536
#define HOLD_SEGS_MIN 2
#define HOLD_SEGS_MAX 1024
#define TIMEOUT_MAX 604800          /* one week, in seconds */
#define TCP_ESTABLISHED_MIN 60
#define CHECKPOINT_RECORDS_MAX 10000000
#define CHECKPOINT_SECONDS_MAX 86400
#define DNS_ENTRIES_MIN 64

#define REGEX_FLAGS (HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL | HS_FLAG_CASELESS)

/* Errors shown per list file; the rest are counted in one last line. */
#define LIST_ERRORS_MAX 100
/* Longest line of a list file. */
#define LIST_LINE_MAX 1024

struct pctx {
	struct cp_errs *e;
	struct cp_config *cfg;
	psl_ctx_t *psl;
	bool psl_tried;
	const char *dir;         /* the config file's directory, NULL: the working one */
};

/* ---- errors ---------------------------------------------------------------- */

static void
err_add(struct cp_errs *e, const char *file, int line, const char *key, const char *fmt,
	va_list ap)
{
	char msg[1024];
	int n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	e->count++;
	n = snprintf(NULL, 0, "%s:%d: %s: %s\n", file, line, key, msg);
	if (n < 0)
		return;
	if (e->len + (size_t)n + 1 > e->cap) {
		size_t cap = e->cap ? e->cap : 1024;
		char *b;

		while (cap < e->len + (size_t)n + 1)
			cap *= 2;
		b = realloc(e->buf, cap);
		if (b == NULL) {
			e->oom = true;
			return;
		}
		e->buf = b;
		e->cap = cap;
	}
	snprintf(e->buf + e->len, e->cap - e->len, "%s:%d: %s: %s\n", file, line, key, msg);
	e->len += (size_t)n;
}

void
cp_err(struct cp_errs *e, int line, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_add(e, e->file, line, key, fmt, ap);
	va_end(ap);
}

void
cp_err_in(struct cp_errs *e, const char *file, int line, const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_add(e, file, line, key, fmt, ap);
	va_end(ap);
}

void
cp_errs_release(struct cp_errs *e)
{
	free(e->buf);
	e->buf = NULL;
	e->len = e->cap = 0;
}

/* A user string made safe for a message: printable ASCII but '"', the rest \xNN. */
static const char *
esc(const char *s, char *buf, size_t buflen)
{
	size_t o = 0;

	for (; *s != '\0' && o + 8 < buflen; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch >= 0x20 && ch < 0x7f && ch != '"')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", ch);
	}
	if (*s != '\0' && o + 4 <= buflen) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* ---- small helpers ---------------------------------------------------------- */

/* Room for one more element in a vector of n (capacity: next power of two). */
static bool
vec_room(struct pctx *c, void *pv, size_t n, size_t elem)
{
	void **v = pv;
	void *nv;

	if (n != 0 && (n & (n - 1)) != 0)
		return true;
	nv = realloc(*v, (n ? 2 * n : 1) * elem);
	if (nv == NULL) {
		c->e->oom = true;
		return false;
	}
	*v = nv;
	return true;
}

static char *
dup_str(struct pctx *c, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		c->e->oom = true;
	return d;
}

static int
line_of(const config_setting_t *s)
{
	return (int)config_setting_source_line(s);
}

/* Key paths are short; a longer one is cut (never overflows). */
static const char *
keyf(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, KEY_MAX, fmt, ap);
	va_end(ap);
	return buf;
}

/* libconfig path of a child: parent.name, or parent.[idx] in a list */
static const char *
child_key(char *buf, const char *parent, const config_setting_t *s, unsigned int idx)
{
	const char *name = config_setting_name(s);

	if (name != NULL)
		return keyf(buf, "%s%s%s", parent, parent[0] ? "." : "", name);
	return keyf(buf, "%s.[%u]", parent, idx);
}

static bool
is_seq(const config_setting_t *s)
{
	int t = config_setting_type(s);

	return t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST;
}

static const char *
str_of(const config_setting_t *s)
{
	return config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;
}

/* Report a key the group does not know. */
static void
unknown_key(struct pctx *c, const config_setting_t *s, const char *key)
{
	cp_err(c->e, line_of(s), key, "unknown key");
}

static bool
want_group(struct pctx *c, const config_setting_t *s, const char *key)
{
	if (config_setting_is_group(s))
		return true;
	cp_err(c->e, line_of(s), key, "must be a group { ... }");
	return false;
}

/* One word of a fixed set and the value it stands for. */
struct word {
	const char *name;
	int value;
};

#define WORDS(...) (const struct word[]){ __VA_ARGS__, { NULL, 0 } }

/*
 * A setting that must be one of the words (a list ending with a NULL name,
 * in the order the error names them): *out = its value, true; else the error
 * `must be "a", "b" or "c"`, false, *out unchanged.
 */
static bool
parse_word(struct pctx *c, const config_setting_t *s, const char *key,
	   const struct word *w, int *out)
{
	const char *v = str_of(s);
	char msg[256];
	size_t len = 0;
	int i;

	for (i = 0; w[i].name != NULL; i++) {
		if (v != NULL && strcmp(v, w[i].name) == 0) {
			*out = w[i].value;
			return true;
		}
	}
	len += snprintf(msg, sizeof(msg), "must be");
	for (int j = 0; j < i && len < sizeof(msg); j++)
		len += snprintf(msg + len, sizeof(msg) - len, "%s\"%s\"",
				j == 0 ? " " : j == i - 1 ? " or " : ", ", w[j].name);
	cp_err(c->e, line_of(s), key, "%s", msg);
	return false;
}

/* parse_word into a uint8_t field */
static bool
parse_word8(struct pctx *c, const config_setting_t *s, const char *key,
	    const struct word *w, uint8_t *out)
{
	int v;

	if (!parse_word(c, s, key, w, &v))
		return false;
	*out = (uint8_t)v;
	return true;
}

static bool
parse_action(struct pctx *c, const config_setting_t *s, const char *key, uint8_t *out)
{
	return parse_word8(c, s, key, WORDS({ "allow", CPM_ALLOW }, { "deny", CPM_DENY }), out);
}

/*
 * quic = "inspect" | "deny". "inspect" is stored as CPM_ALLOW: the matcher
 * then lets UDP 443 reach the rules, and the dataplane reads the name from
 * the QUIC Initial (docs/quic.md). "allow", its old spelling, is kept.
 */
static void
parse_quic(struct pctx *c, const config_setting_t *s, const char *key, uint8_t *out)
{
	const char *v = str_of(s);

	if (v != NULL && (strcmp(v, "inspect") == 0 || strcmp(v, "allow") == 0))
		*out = CPM_ALLOW;
	else if (v != NULL && strcmp(v, "deny") == 0)
		*out = CPM_DENY;
	else
		cp_err(c->e, line_of(s), key, "must be \"inspect\" or \"deny\"");
}

static bool
parse_uint(struct pctx *c, const config_setting_t *s, const char *key,
	   long long min, long long max, uint32_t *out)
{
	long long v;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(s);
		break;
	default:
		v = min - 1;
		break;
	}
	if (v < min || v > max) {
		cp_err(c->e, line_of(s), key, "must be an integer from %lld to %lld", min, max);
		return false;
	}
	*out = (uint32_t)v;
	return true;
}

static void
parse_path(struct pctx *c, const config_setting_t *s, const char *key, char **out)
{
	const char *v = str_of(s);

	if (v == NULL || v[0] == '\0') {
		cp_err(c->e, line_of(s), key, "must be a non-empty path string");
		return;
	}
	free(*out);
	*out = dup_str(c, v);
}

/* ---- CIDRs ------------------------------------------------------------------ */

static int
parse_cidr(const char *str, struct cp_cidr *out, char *msg, size_t msglen)
{
	char addr[64], ebuf[160], fixed[INET6_ADDRSTRLEN];
	const char *slash = strchr(str, '/');
	size_t alen = slash != NULL ? (size_t)(slash - str) : strlen(str);
	unsigned int max, plen;
	bool bad = false;

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(addr))
		goto err_syntax;
	memcpy(addr, str, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, out->addr) == 1) {
		out->family = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
		out->family = 6;
		max = 128;
	} else {
		goto err_syntax;
	}
	plen = max;
	if (slash != NULL) {
		const char *p = slash + 1;

		if (*p == '\0' || strlen(p) > 3)
			goto err_syntax;
		plen = 0;
		for (; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				goto err_syntax;
			plen = plen * 10 + (unsigned int)(*p - '0');
		}
		if (plen > max)
			goto err_syntax;
	}
	out->plen = (uint8_t)plen;
	for (unsigned int b = 0; b < 16; b++) {
		unsigned int keep = b * 8 >= plen ? 0 : plen - b * 8 >= 8 ? 8 : plen - b * 8;
		uint8_t mask = (uint8_t)(0xff00 >> keep);

		if (out->addr[b] & ~mask) {
			bad = true;
			out->addr[b] &= mask;
		}
	}
	if (bad) {
		inet_ntop(out->family == 4 ? AF_INET : AF_INET6, out->addr, fixed, sizeof(fixed));
		snprintf(msg, msglen, "\"%s\" has host bits set (did you mean \"%s/%u\"?)",
			 esc(str, ebuf, sizeof(ebuf)), fixed, plen);
		return -EINVAL;
	}
	return 0;

err_syntax:
	snprintf(msg, msglen, "\"%s\" is not an IPv4 or IPv6 address or CIDR",
		 esc(str, ebuf, sizeof(ebuf)));
	return -EINVAL;
}

/* One CIDR entry (from the config or a list file) into out. */
static bool
add_cidr(struct pctx *c, const char *v, const char *file, int line, const char *key,
	 struct cp_cidrs *out)
{
	struct cp_cidr cidr;
	char msg[400];

	if (parse_cidr(v, &cidr, msg, sizeof(msg)) != 0) {
		cp_err_in(c->e, file, line, key, "%s", msg);
		return false;
	}
	if (!vec_room(c, &out->v, out->n, sizeof(*out->v)))
		return false;
	out->v[out->n++] = cidr;
	return true;
}

static void
parse_cidrs(struct pctx *c, const config_setting_t *s, const char *key, struct cp_cidrs *out)
{
	char k[KEY_MAX];
	int n;

	if (!is_seq(s)) {
		cp_err(c->e, line_of(s), key, "must be a list of CIDR strings, e.g. [\"10.0.0.0/8\"]");
		return;
	}
	n = config_setting_length(s);
	if (n == 0) {
		cp_err(c->e, line_of(s), key, "must not be empty");
		return;
	}
	for (int i = 0; i < n; i++) {
		config_setting_t *el = config_setting_get_elem(s, (unsigned int)i);
		const char *v = str_of(el);

		child_key(k, key, el, (unsigned int)i);
		if (v == NULL) {
			cp_err(c->e, line_of(el), k, "must be a string");
			continue;
		}
		add_cidr(c, v, c->e->file, line_of(el), k, out);
		if (c->e->oom)
			return;
	}
}

/* ---- names ------------------------------------------------------------------ */

int
cp_name_parse(const char *in, char *out, size_t outlen, uint8_t *kind,
	      char *msg, size_t msglen)
{
	const char *p = in;
	size_t len, label = 0;

	*kind = CP_NAME_EXACT;
	if (p[0] == '*' && p[1] == '.') {
		*kind = CP_NAME_GLOB;
		p += 2;
	} else if (p[0] == '.') {
		*kind = CP_NAME_SUFFIX;
		p += 1;
	}
	len = strlen(p);
	if (len > 0 && p[len - 1] == '.')
		len--;
	if (len == 0) {
		snprintf(msg, msglen, "empty name");
		return -EINVAL;
	}
	if (len > CPM_NAME_MAX) {
		snprintf(msg, msglen, "longer than %d bytes", CPM_NAME_MAX);
		return -EINVAL;
	}
	if (len >= outlen)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		char ch = p[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		out[i] = ch;
		if (ch == '.') {
			if (label == 0) {
				snprintf(msg, msglen, "empty label");
				return -EINVAL;
			}
			label = 0;
			continue;
		}
		if (ch == '*') {
			snprintf(msg, msglen,
				 "'*' is only allowed as a leading \"*.\" label (use sni_regex/host_regex for patterns)");
			return -EINVAL;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')) {
			if ((unsigned char)ch >= 0x21 && (unsigned char)ch < 0x7f)
				snprintf(msg, msglen, "character '%c' not allowed (a-z 0-9 - _ .)", ch);
			else
				snprintf(msg, msglen, "byte 0x%02x not allowed (a-z 0-9 - _ .)",
					 (unsigned char)ch);
			return -EINVAL;
		}
		if (++label > CPM_LABEL_MAX) {
			snprintf(msg, msglen, "label longer than %d bytes", CPM_LABEL_MAX);
			return -EINVAL;
		}
	}
	if (label == 0) {
		snprintf(msg, msglen, "empty label");
		return -EINVAL;
	}
	out[len] = '\0';
	return 0;
}

static bool
is_public_suffix(struct pctx *c, const char *name)
{
	if (!c->psl_tried) {
		c->psl_tried = true;
		c->psl = psl_latest(NULL);
	}
	if (c->psl != NULL)
		return psl_is_public_suffix2(c->psl, name, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) != 0;
	return psl_is_public_suffix2(psl_builtin(), name, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) != 0;
}

/*
 * One name entry (from the config or a list file) into out. exact_only:
 * ech_public_names. force: the rule's force flag (a suffix or glob over a
 * public suffix needs it).
 */
static bool
add_name(struct pctx *c, const char *v, const char *file, int line, const char *key,
	 struct cp_names *out, bool exact_only, bool force)
{
	char msg[200], ebuf[200], norm[CPM_NAME_MAX + 2];
	uint8_t kind;

	if (cp_name_parse(v, norm, sizeof(norm), &kind, msg, sizeof(msg)) != 0) {
		cp_err_in(c->e, file, line, key, "invalid name \"%s\": %s",
			  esc(v, ebuf, sizeof(ebuf)), msg);
		return false;
	}
	if (exact_only && kind != CP_NAME_EXACT) {
		cp_err_in(c->e, file, line, key, "\"%s\" must be a plain name (no \".\" or \"*.\" prefix)",
			  esc(v, ebuf, sizeof(ebuf)));
		return false;
	}
	if (kind != CP_NAME_EXACT && !force && is_public_suffix(c, norm)) {
		cp_err_in(c->e, file, line, key,
			  "\"%s\" covers the public suffix \"%s\": set force = true; in the rule if that is intended",
			  esc(v, ebuf, sizeof(ebuf)), norm);
		return false;
	}
	if (!vec_room(c, &out->v, out->n, sizeof(*out->v)))
		return false;
	out->v[out->n].kind = kind;
	out->v[out->n].name = dup_str(c, norm);
	if (out->v[out->n].name == NULL)
		return false;
	out->n++;
	return true;
}

/* A list of names in the config. */
static void
parse_names(struct pctx *c, const config_setting_t *s, const char *key,
	    struct cp_names *out, bool exact_only, bool force)
{
	char k[KEY_MAX];
	int n;

	if (!is_seq(s)) {
		cp_err(c->e, line_of(s), key, "must be a list of name strings, e.g. [\"api.example.com\"]");
		return;
	}
	n = config_setting_length(s);
	if (n == 0) {
		cp_err(c->e, line_of(s), key, "must not be empty");
		return;
	}
	for (int i = 0; i < n; i++) {
		config_setting_t *el = config_setting_get_elem(s, (unsigned int)i);
		const char *v = str_of(el);

		child_key(k, key, el, (unsigned int)i);
		if (v == NULL) {
			cp_err(c->e, line_of(el), k, "must be a string");
			continue;
		}
		add_name(c, v, c->e->file, line_of(el), k, out, exact_only, force);
		if (c->e->oom)
			return;
	}
}

static void
parse_regexes(struct pctx *c, const config_setting_t *s, const char *key,
	      const char *rule_id, struct cp_strs *out)
{
	char k[KEY_MAX], ebuf[200], ibuf[80];
	int n;

	if (!is_seq(s)) {
		cp_err(c->e, line_of(s), key, "must be a list of regex strings");
		return;
	}
	n = config_setting_length(s);
	if (n == 0) {
		cp_err(c->e, line_of(s), key, "must not be empty");
		return;
	}
	for (int i = 0; i < n; i++) {
		config_setting_t *el = config_setting_get_elem(s, (unsigned int)i);
		const char *v = str_of(el);
		hs_compile_error_t *cerr = NULL;
		hs_database_t *db = NULL;

		child_key(k, key, el, (unsigned int)i);
		if (v == NULL || v[0] == '\0') {
			cp_err(c->e, line_of(el), k, "must be a non-empty string");
			continue;
		}
		if (hs_compile(v, REGEX_FLAGS, HS_MODE_BLOCK, NULL, &db, &cerr) != HS_SUCCESS) {
			cp_err(c->e, line_of(el), k, "rule \"%s\": pattern \"%s\": %s",
			       esc(rule_id != NULL ? rule_id : "?", ibuf, sizeof(ibuf)),
			       esc(v, ebuf, sizeof(ebuf)),
			       cerr != NULL && cerr->message != NULL ? cerr->message : "does not compile");
			hs_free_compile_error(cerr);
			continue;
		}
		hs_free_database(db);
		if (!vec_room(c, &out->v, out->n, sizeof(*out->v)))
			return;
		out->v[out->n] = dup_str(c, v);
		if (out->v[out->n] == NULL)
			return;
		out->n++;
	}
}

/* ---- list files --------------------------------------------------------------- */

enum list_kind {
	LIST_SNI,
	LIST_HOST,
	LIST_SRC,
	LIST_DST,
	LIST_DOH,                /* doh_file: into cfg->doh (r is NULL) */
};

static bool
is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* A list file's path: absolute as written, else under the config's directory. */
static char *
resolve_path(struct pctx *c, const char *written)
{
	char *p;

	if (written[0] == '/' || c->dir == NULL)
		return dup_str(c, written);
	if (asprintf(&p, "%s/%s", c->dir, written) < 0) {
		c->e->oom = true;
		return NULL;
	}
	return p;
}

/* The list file written as w, read and hashed on its first use; NULL (reported) if unusable. */
static struct cp_listfile *
list_file(struct pctx *c, const char *w, int line, const char *key)
{
	struct cp_config *cfg = c->cfg;
	struct cp_listfile *lf;
	char ebuf[300], *path, *text = NULL;
	size_t len = 0;
	int rc;

	for (size_t i = 0; i < cfg->n_files; i++)
		if (strcmp(cfg->files[i].written, w) == 0)
			return &cfg->files[i];
	path = resolve_path(c, w);
	if (path == NULL)
		return NULL;
	rc = cp_read_file(path, &text, &len);
	if (rc == 0 && memchr(text, '\0', len) != NULL)
		rc = -EILSEQ;
	if (rc != 0) {
		if (rc == -EINVAL)
			cp_err(c->e, line, key, "list file \"%s\" is not a regular file",
			       esc(path, ebuf, sizeof(ebuf)));
		else if (rc == -EILSEQ)
			cp_err(c->e, line, key, "list file \"%s\" contains a NUL byte: not a text file",
			       esc(path, ebuf, sizeof(ebuf)));
		else if (rc == -ENOMEM)
			c->e->oom = true;
		else
			cp_err(c->e, line, key, "cannot read list file \"%s\": %s",
			       esc(path, ebuf, sizeof(ebuf)), strerror(-rc));
		free(path);
		free(text);
		return NULL;
	}
	if (!vec_room(c, &cfg->files, cfg->n_files, sizeof(*cfg->files)))
		goto err;
	lf = &cfg->files[cfg->n_files];
	memset(lf, 0, sizeof(*lf));
	lf->written = dup_str(c, w);
	if (lf->written == NULL ||
	    EVP_Digest(text, len, lf->sha256, NULL, EVP_sha256(), NULL) != 1) {
		free(lf->written);
		c->e->oom = true;
		goto err;
	}
	lf->path = path;
	lf->text = text;
	lf->len = len;
	cfg->n_files++;
	return lf;

err:
	free(path);
	free(text);
	return NULL;
}

/* One entry of a list file into the rule. */
static void
list_entry(struct pctx *c, const struct cp_listfile *lf, int line, const char *key,
	   enum list_kind kind, struct cp_rule *r, const char *v)
{
	switch (kind) {
	case LIST_SNI:
		add_name(c, v, lf->path, line, key, &r->sni, false, r->force);
		break;
	case LIST_HOST:
		add_name(c, v, lf->path, line, key, &r->host, false, r->force);
		break;
	case LIST_SRC:
		add_cidr(c, v, lf->path, line, key, &r->src);
		break;
	case LIST_DST:
		add_cidr(c, v, lf->path, line, key, &r->dst);
		break;
	case LIST_DOH:
		/* a deny list: a suffix entry over a public suffix is the list's own business */
		add_name(c, v, lf->path, line, key, &c->cfg->doh, false, true);
		break;
	}
}

/*
 * The entries of a list file: one a line; '#' starts a comment; blank
 * lines and blanks around an entry are ignored. Every bad line is an error
 * "LISTFILE:LINE: KEY: message" (the first LIST_ERRORS_MAX of a file shown,
 * then one line counting the rest).
 */
static void
parse_list_text(struct pctx *c, const struct cp_listfile *lf, const char *key,
		enum list_kind kind, struct cp_rule *r)
{
	const char *p = lf->text, *end = lf->text + lf->len;
	struct cp_errs *shown = c->e, quiet = { .file = lf->path };
	unsigned int first = shown->count, hidden = 0;
	char entry[LIST_LINE_MAX + 1], ebuf[120];
	int line = 0;

	while (p < end && !shown->oom) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *b = p, *ce = nl != NULL ? nl : end, *hash;
		size_t n;

		line++;
		p = nl != NULL ? nl + 1 : end;
		hash = memchr(b, '#', (size_t)(ce - b));
		if (hash != NULL)
			ce = hash;
		while (b < ce && is_blank(*b))
			b++;
		while (ce > b && is_blank(ce[-1]))
			ce--;
		if (b == ce)
			continue;
		n = (size_t)(ce - b);
		/* past the shown errors, report into a scratch collector and count */
		if (shown->count - first >= LIST_ERRORS_MAX)
			c->e = &quiet;
		if (n > LIST_LINE_MAX) {
			cp_err_in(c->e, lf->path, line, key, "line longer than %d bytes", LIST_LINE_MAX);
		} else {
			memcpy(entry, b, n);
			entry[n] = '\0';
			if (strpbrk(entry, " \t\r\v\f") != NULL)
				cp_err_in(c->e, lf->path, line, key, "\"%s\": one entry per line",
					  esc(entry, ebuf, sizeof(ebuf)));
			else
				list_entry(c, lf, line, key, kind, r, entry);
		}
		if (c->e == &quiet) {
			hidden += quiet.count;
			if (quiet.oom)
				shown->oom = true;
			cp_errs_release(&quiet);
			quiet.count = 0;
			c->e = shown;
		}
	}
	if (hidden != 0)
		cp_err_in(shown, lf->path, 0, key, "%u more invalid lines not shown", hidden);
}

/* sni_file / host_file / src_file / dst_file: one path or a list of paths. */
static void
parse_list_files(struct pctx *c, const config_setting_t *s, const char *key,
		 enum list_kind kind, struct cp_rule *r)
{
	char k[KEY_MAX];
	int n;

	if (str_of(s) == NULL && !is_seq(s)) {
		cp_err(c->e, line_of(s), key, "must be a path string or a list of path strings");
		return;
	}
	n = is_seq(s) ? config_setting_length(s) : 1;
	if (n == 0) {
		cp_err(c->e, line_of(s), key, "must not be empty");
		return;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *el = is_seq(s) ? config_setting_get_elem(s, (unsigned int)i) : s;
		const char *v = str_of(el);
		const struct cp_listfile *lf;

		if (is_seq(s))
			child_key(k, key, el, (unsigned int)i);
		else
			keyf(k, "%s", key);
		if (v == NULL || v[0] == '\0') {
			cp_err(c->e, line_of(el), k, "must be a non-empty path string");
			continue;
		}
		lf = list_file(c, v, line_of(el), k);
		if (lf != NULL)
			parse_list_text(c, lf, k, kind, r);
		if (c->e->oom)
			return;
	}
}

/* ---- ports ------------------------------------------------------------------ */

static bool
parse_port_num(const char *s, const char *end, uint16_t *out)
{
	unsigned long v = 0;

	if (s == end || end - s > 5)
		return false;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

static void
parse_ports(struct pctx *c, const config_setting_t *s, const char *key, struct cp_ports *out)
{
	char k[KEY_MAX], ebuf[80];
	int n;

	if (!is_seq(s)) {
		cp_err(c->e, line_of(s), key,
		       "must be a list of ports and \"lo-hi\" ranges, e.g. ( 443, \"8000-8080\" )");
		return;
	}
	n = config_setting_length(s);
	if (n == 0) {
		cp_err(c->e, line_of(s), key, "must not be empty");
		return;
	}
	for (int i = 0; i < n; i++) {
		config_setting_t *el = config_setting_get_elem(s, (unsigned int)i);
		struct cp_port_range r;
		const char *v = str_of(el);
		bool ok = false;

		child_key(k, key, el, (unsigned int)i);
		if (config_setting_type(el) == CONFIG_TYPE_INT ||
		    config_setting_type(el) == CONFIG_TYPE_INT64) {
			long long p = config_setting_type(el) == CONFIG_TYPE_INT ?
				config_setting_get_int(el) : config_setting_get_int64(el);

			ok = p >= 1 && p <= 65535;
			r.lo = r.hi = (uint16_t)p;
		} else if (v != NULL) {
			const char *dash = strchr(v, '-');

			if (dash == NULL) {
				ok = parse_port_num(v, v + strlen(v), &r.lo);
				r.hi = r.lo;
			} else {
				ok = parse_port_num(v, dash, &r.lo) &&
				     parse_port_num(dash + 1, dash + strlen(dash), &r.hi);
				if (ok && r.lo > r.hi) {
					cp_err(c->e, line_of(el), k, "range \"%s\" is reversed",
					       esc(v, ebuf, sizeof(ebuf)));
					continue;
				}
			}
		}
		if (!ok) {
			cp_err(c->e, line_of(el), k, "must be a port from 1 to 65535 or a range \"lo-hi\"");
			continue;
		}
		if (!vec_room(c, &out->v, out->n, sizeof(*out->v)))
			return;
		out->v[out->n++] = r;
	}
}

/* ---- groups ------------------------------------------------------------------- */

static void
parse_hold(struct pctx *c, const config_setting_t *g, const char *key)
{
	struct cpm_settings *st = &c->cfg->settings;
	char k[KEY_MAX];
	int n;

	if (!want_group(c, g, key))
		return;
	n = config_setting_length(g);
	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned int)i);
		const char *name = config_setting_name(s);

		child_key(k, key, s, (unsigned int)i);
		if (strcmp(name, "timeout_ms") == 0)
			parse_uint(c, s, k, HOLD_TIMEOUT_MIN, HOLD_TIMEOUT_MAX, &st->hold_timeout_ms);
		else if (strcmp(name, "max_bytes") == 0)
			parse_uint(c, s, k, HOLD_BYTES_MIN, HOLD_BYTES_MAX, &st->hold_max_bytes);
		else if (strcmp(name, "max_segments") == 0)
			parse_uint(c, s, k, HOLD_SEGS_MIN, HOLD_SEGS_MAX, &st->hold_max_segments);
		else
			unknown_key(c, s, k);
	}
}

static void
parse_timeouts(struct pctx *c, const config_setting_t *g, const char *key)
{
	static const char *const keys[] = { "tcp_established", "tcp_halfopen", "tcp_closed",
					    "udp", "other" };
	struct cpm_settings *st = &c->cfg->settings;
	uint32_t *dst[] = { &st->tcp_established_ms, &st->tcp_halfopen_ms, &st->tcp_closed_ms,
			    &st->udp_ms, &st->other_ms };
	const long long min[] = { TCP_ESTABLISHED_MIN, 1, 1, 1, 1 };
	char k[KEY_MAX];
	int n;

	if (!want_group(c, g, key))
		return;
	n = config_setting_length(g);
	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned int)i);
		const char *name = config_setting_name(s);
		size_t j;
		uint32_t v;

		child_key(k, key, s, (unsigned int)i);
		for (j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
			if (strcmp(name, keys[j]) == 0)
				break;
		if (j == sizeof(keys) / sizeof(keys[0]))
			unknown_key(c, s, k);
		else if (parse_uint(c, s, k, min[j], TIMEOUT_MAX, &v))
			*dst[j] = v * 1000;
	}
}

static void
parse_anomalies(struct pctx *c, const config_setting_t *g, const char *key)
{
	struct cpm_settings *st = &c->cfg->settings;
	char k[KEY_MAX];
	int n;

	if (!want_group(c, g, key))
		return;
	n = config_setting_length(g);
	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned int)i);
		const char *name = config_setting_name(s);
		int cls = -1;
		uint8_t a;

		child_key(k, key, s, (unsigned int)i);
		for (int j = 0; j < DP_AN_MAX; j++)
			if (strcmp(name, dp_anomaly_names[j]) == 0)
				cls = j;
		if (cls < 0) {
			cp_err(c->e, line_of(s), k, "unknown anomaly class");
			continue;
		}
		if (parse_action(c, s, k, &a))
			st->anomaly_action[cls] = a;
	}
}

/* The shipped DoH list, when doh_file is not set. */
static void
doh_builtin(struct pctx *c)
{
	struct cp_listfile lf = {
		.path = (char *)CP_DOH_BUILTIN_NAME,
		.text = (char *)cp_doh_builtin,
		.len = cp_doh_builtin_len,
	};

	parse_list_text(c, &lf, "doh_file", LIST_DOH, NULL);
}

static void
parse_audit(struct pctx *c, const config_setting_t *g, const char *key)
{
	struct cp_config *cfg = c->cfg;
	char k[KEY_MAX];
	int n;

	if (!want_group(c, g, key))
		return;
	n = config_setting_length(g);
	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned int)i);
		const char *name = config_setting_name(s);

		child_key(k, key, s, (unsigned int)i);
		if (strcmp(name, "path") == 0) {
			parse_path(c, s, k, &cfg->audit_path);
		} else if (strcmp(name, "signing_key") == 0) {
			parse_path(c, s, k, &cfg->audit_signing_key);
		} else if (strcmp(name, "checkpoint_records") == 0) {
			parse_uint(c, s, k, 0, CHECKPOINT_RECORDS_MAX, &cfg->checkpoint_records);
		} else if (strcmp(name, "checkpoint_seconds") == 0) {
			parse_uint(c, s, k, 0, CHECKPOINT_SECONDS_MAX, &cfg->checkpoint_seconds);
		} else if (strcmp(name, "rotate_bytes") == 0) {
			parse_uint(c, s, k, 0, UINT32_MAX, &cfg->rotate_bytes);
		} else if (strcmp(name, "rotate_seconds") == 0) {
			parse_uint(c, s, k, 0, 366LL * 86400, &cfg->rotate_seconds);
		} else if (strcmp(name, "fsync") == 0) {
			parse_word(c, s, k, WORDS({ "always", 2 }, { "batch", 1 }, { "never", 0 }),
				   &cfg->audit_fsync);
		} else {
			unknown_key(c, s, k);
		}
	}
}

static void
parse_syslog(struct pctx *c, const config_setting_t *g, const char *key)
{
	struct cp_syslog_cfg *sl = &c->cfg->syslog;
	char k[KEY_MAX];
	int n;

	if (!want_group(c, g, key))
		return;
	n = config_setting_length(g);
	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned int)i);
		const char *name = config_setting_name(s);

		child_key(k, key, s, (unsigned int)i);
		if (strcmp(name, "host") == 0) {
			parse_path(c, s, k, &sl->host);
		} else if (strcmp(name, "port") == 0) {
			parse_uint(c, s, k, 1, 65535, &sl->port);
		} else if (strcmp(name, "ca") == 0) {
			parse_path(c, s, k, &sl->ca);
		} else if (strcmp(name, "cert") == 0) {
			parse_path(c, s, k, &sl->cert);
		} else if (strcmp(name, "key") == 0) {
			parse_path(c, s, k, &sl->key);
		} else if (strcmp(name, "queue") == 0) {
			parse_uint(c, s, k, 16, 10000000, &sl->queue);
		} else if (strcmp(name, "format") == 0) {
			int f;

			if (parse_word(c, s, k, WORDS({ "json", CP_SYSLOG_JSON },
						      { "ocsf", CP_SYSLOG_OCSF }), &f))
				sl->format = (uint32_t)f;
		} else {
			unknown_key(c, s, k);
		}
	}
	if (sl->host == NULL)
		cp_err(c->e, line_of(g), key, "host is required");
	if (sl->ca == NULL)
		cp_err(c->e, line_of(g), key, "ca is required (the collector's certificate is verified)");
	if ((sl->cert == NULL) != (sl->key == NULL))
		cp_err(c->e, line_of(g), key, "cert and key go together");
}

/* ---- dns: out-of-band resolution and HTTPS/SVCB answers -------------------- */

int
cp_dns_server_parse(const char *str, struct sockaddr_storage *ss, socklen_t *len,
		    char *msg, size_t msglen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL, *end;
	unsigned long pn = 53;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (str[0] == '[') {
		end = strchr(str, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			goto bad;
		hl = (size_t)(end - str - 1);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, str + 1, hl);
		host[hl] = '\0';
		if (end[1] == ':')
			port = end + 2;
	} else if (strchr(str, ':') != NULL && strchr(str, ':') == strrchr(str, ':')) {
		end = strchr(str, ':');             /* a.b.c.d:port */
		hl = (size_t)(end - str);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, str, hl);
		host[hl] = '\0';
		port = end + 1;
	} else {
		if (strlen(str) >= sizeof(host))
			goto bad;
		snprintf(host, sizeof(host), "%s", str);
	}
	if (port != NULL) {
		char *e;

		if (*port < '0' || *port > '9')
			goto bad;
		pn = strtoul(port, &e, 10);
		if (*e != '\0' || pn < 1 || pn > 65535)
			goto bad;
	}
	if (strchr(host, ':') == NULL) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)pn);
		*len = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto bad;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)pn);
		*len = sizeof(*s6);
	}
	return 0;
bad:
	snprintf(msg, msglen, "must be an IP address with an optional port: \"192.0.2.2\", "
		 "\"192.0.2.2:5353\", \"fd00::2\" or \"[fd00::2]:5353\"");
	return -EINVAL;
}

/*
 * One key of the dns group that is about out-of-band resolution or HTTPS/SVCB
 * answers; false if name is none of them.
 */
static bool
parse_dns_resolve_key(struct pctx *c, const config_setting_t *s, const char *name,
		      const char *k)
{
	struct cp_dns_resolve_cfg *d = &c->cfg->dns;
	const char *v = str_of(s);
	struct sockaddr_storage ss;
	socklen_t sl;
	char msg[160];

	if (strcmp(name, "resolver") == 0) {
		if (v == NULL || cp_dns_server_parse(v, &ss, &sl, msg, sizeof(msg)) != 0) {
			cp_err(c->e, line_of(s), k, "%s", v == NULL ?
			       "must be a string \"IP[:port]\"" : msg);
			return true;
		}
		free(d->resolver);
		d->resolver = dup_str(c, v);
	} else if (strcmp(name, "resolve_interval") == 0) {
		parse_uint(c, s, k, 5, 86400, &d->interval_s);
	} else if (strcmp(name, "resolve_timeout_ms") == 0) {
		parse_uint(c, s, k, 100, 30000, &d->timeout_ms);
	} else if (strcmp(name, "resolve_retries") == 0) {
		parse_uint(c, s, k, 0, 10, &d->retries);
	} else if (strcmp(name, "resolve_max_names") == 0) {
		parse_uint(c, s, k, 1, 100000, &d->max_names);
	} else if (strcmp(name, "https_rr") == 0) {
		parse_word8(c, s, k, WORDS({ "strip_ech", CPM_HTTPS_RR_STRIP_ECH },
					   { "allow", CPM_HTTPS_RR_ALLOW },
					   { "refuse", CPM_HTTPS_RR_REFUSE }),
			    &c->cfg->settings.dns_https_rr);
	} else {
		return false;
	}
	return true;
}

/* dns = { ... } (docs/configuration.md) */
static void
parse_dns(struct pctx *c, const config_setting_t *g, const char *key)
{
	char k[KEY_MAX];
	int n;

	if (!want_group(c, g, key))
		return;
	n = config_setting_length(g);
	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned int)i);
		const char *name = config_setting_name(s);

		child_key(k, key, s, (unsigned int)i);
		/* the binding tables (dp_dns.h) */
		if (strcmp(name, "grace") == 0)
			parse_uint(c, s, k, 0, CPM_DNS_GRACE_MAX, &c->cfg->settings.dns_grace_s);
		else if (strcmp(name, "max_entries") == 0)
			parse_uint(c, s, k, DNS_ENTRIES_MIN, CPM_DNS_ENTRIES_MAX,
				   &c->cfg->settings.dns_max_entries);
		else if (!parse_dns_resolve_key(c, s, name, k))
			unknown_key(c, s, k);
	}
}

/* the names one rule gives to resolve: its exact sni and host names */
static void
resolve_names_add(struct pctx *c, const struct cp_names *ns)
{
	struct cp_dns_resolve_cfg *d = &c->cfg->dns;

	for (size_t i = 0; i < ns->n; i++) {
		uint32_t k;

		if (ns->v[i].kind != CP_NAME_EXACT)
			continue;
		for (k = 0; k < d->n_names; k++)
			if (strcmp(d->names[k], ns->v[i].name) == 0)
				break;
		if (k < d->n_names)
			continue;
		if (!vec_room(c, &d->names, d->n_names, sizeof(char *)))
			return;
		d->names[d->n_names] = dup_str(c, ns->v[i].name);
		if (d->names[d->n_names] != NULL)
			d->n_names++;
	}
}

void
cp_dns_resolve_cfg_release(struct cp_dns_resolve_cfg *d)
{
	for (uint32_t i = 0; i < d->n_names; i++)
		free(d->names[i]);
	free(d->names);
	free(d->resolver);
	memset(d, 0, sizeof(*d));
}

/* ---- rules ------------------------------------------------------------------- */

static bool
rule_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > CPM_RULE_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

static bool
has_names(const config_setting_t *rs)
{
	return config_setting_get_member(rs, "sni") != NULL ||
	       config_setting_get_member(rs, "host") != NULL ||
	       config_setting_get_member(rs, "sni_file") != NULL ||
	       config_setting_get_member(rs, "host_file") != NULL ||
	       config_setting_get_member(rs, "sni_regex") != NULL ||
	       config_setting_get_member(rs, "host_regex") != NULL;
}

static bool
has_host_names(const config_setting_t *rs)
{
	return config_setting_get_member(rs, "host") != NULL ||
	       config_setting_get_member(rs, "host_file") != NULL ||
	       config_setting_get_member(rs, "host_regex") != NULL;
}

static void
parse_proto(struct pctx *c, const config_setting_t *s, const char *k, struct cp_rule *r)
{
	parse_word8(c, s, k, WORDS({ "tcp", CPM_PROTO_TCP }, { "udp", CPM_PROTO_UDP },
				   { "icmp", CPM_PROTO_ICMP }, { "any", CPM_PROTO_ANY }),
		    &r->proto);
}

/* bind = "none" | "dns" | "pinned" */
static void
parse_bind(struct pctx *c, const config_setting_t *s, const char *k, struct cp_rule *r)
{
	r->bind_line = line_of(s);
	parse_word8(c, s, k, WORDS({ "none", CPM_BIND_NONE }, { "dns", CPM_BIND_DNS },
				   { "pinned", CPM_BIND_PINNED }),
		    &r->bind);
}

/*
 * A binding needs something to bind: a name condition, and for "pinned" the
 * rule's own dst list (which then is the binding check, not a condition).
 * Only an allow rule binds: a deny rule lets nothing through to bind.
 */
static void
check_bind(struct pctx *c, const config_setting_t *rs, const char *key, struct cp_rule *r)
{
	const char *what = r->bind == CPM_BIND_DNS ? "dns" : "pinned";
	char k[KEY_MAX];

	if (r->bind == CPM_BIND_NONE)
		return;
	keyf(k, "%s.bind", key);
	if (!has_names(rs))
		cp_err(c->e, r->bind_line, k,
		       "\"%s\" needs a name condition (sni, host, sni_file, host_file, sni_regex or host_regex)",
		       what);
	if (r->bind == CPM_BIND_PINNED && !r->has_dst)
		cp_err(c->e, r->bind_line, k, "\"pinned\" needs the rule's own dst (or dst_file) list");
	if (r->action == CPM_DENY)
		cp_err(c->e, r->bind_line, k, "\"%s\" on a deny rule: only an allow rule binds its name",
		       what);
}

static void
parse_rule(struct pctx *c, const config_setting_t *rs, unsigned int idx)
{
	struct cp_rule *r = &c->cfg->rules[idx];
	config_setting_t *s;
	char key[KEY_MAX], k[KEY_MAX];
	int n;

	keyf(key, "rules.[%u]", idx);
	r->line = line_of(rs);
	r->proto = CPM_PROTO_ANY;
	if (!config_setting_is_group(rs)) {
		cp_err(c->e, r->line, key, "must be a group { id = \"...\"; action = \"...\"; ... }");
		return;
	}
	/* the names' public-suffix check needs force and the id, wherever they are written */
	s = config_setting_get_member(rs, "force");
	if (s != NULL && config_setting_type(s) == CONFIG_TYPE_BOOL)
		r->force = config_setting_get_bool(s) != 0;
	s = config_setting_get_member(rs, "id");
	if (s != NULL && str_of(s) != NULL && rule_id_ok(str_of(s)))
		r->id = dup_str(c, str_of(s));
	s = config_setting_get_member(rs, "proto");
	if (s != NULL)
		parse_proto(c, s, child_key(k, key, s, 0), r);

	n = config_setting_length(rs);
	for (int i = 0; i < n; i++) {
		const char *name;

		s = config_setting_get_elem(rs, (unsigned int)i);
		name = config_setting_name(s);
		child_key(k, key, s, (unsigned int)i);
		if (strcmp(name, "id") == 0) {
			if (r->id == NULL)
				cp_err(c->e, line_of(s), k,
				       "must be 1 to %d characters from A-Z a-z 0-9 _ . -", CPM_RULE_ID_MAX);
		} else if (strcmp(name, "action") == 0) {
			parse_action(c, s, k, &r->action);
		} else if (strcmp(name, "force") == 0) {
			if (config_setting_type(s) != CONFIG_TYPE_BOOL)
				cp_err(c->e, line_of(s), k, "must be true or false");
		} else if (strcmp(name, "proto") == 0) {
			if ((r->proto == CPM_PROTO_ICMP && has_names(rs)) ||
			    (r->proto == CPM_PROTO_UDP && has_host_names(rs)))
				cp_err(c->e, line_of(s), k,
				       "a rule with host names must be \"tcp\" or \"any\", one with sni names \"tcp\", \"udp\" (QUIC) or \"any\"");
		} else if (strcmp(name, "sni") == 0) {
			r->has_sni = true;
			parse_names(c, s, k, &r->sni, false, r->force);
		} else if (strcmp(name, "host") == 0) {
			r->has_host = true;
			parse_names(c, s, k, &r->host, false, r->force);
		} else if (strcmp(name, "sni_file") == 0) {
			r->has_sni = true;
			parse_list_files(c, s, k, LIST_SNI, r);
		} else if (strcmp(name, "host_file") == 0) {
			r->has_host = true;
			parse_list_files(c, s, k, LIST_HOST, r);
		} else if (strcmp(name, "src_file") == 0) {
			r->has_src = true;
			parse_list_files(c, s, k, LIST_SRC, r);
		} else if (strcmp(name, "dst_file") == 0) {
			r->has_dst = true;
			parse_list_files(c, s, k, LIST_DST, r);
		} else if (strcmp(name, "sni_regex") == 0) {
			parse_regexes(c, s, k, r->id, &r->sni_regex);
		} else if (strcmp(name, "host_regex") == 0) {
			parse_regexes(c, s, k, r->id, &r->host_regex);
		} else if (strcmp(name, "src") == 0) {
			r->has_src = true;
			parse_cidrs(c, s, k, &r->src);
		} else if (strcmp(name, "dst") == 0) {
			r->has_dst = true;
			parse_cidrs(c, s, k, &r->dst);
		} else if (strcmp(name, "bind") == 0) {
			parse_bind(c, s, k, r);
		} else if (strcmp(name, "dport") == 0) {
			parse_ports(c, s, k, &r->dport);
			if (r->proto == CPM_PROTO_ICMP)
				cp_err(c->e, line_of(s), k, "ports need proto \"tcp\", \"udp\" or \"any\"");
		} else {
			unknown_key(c, s, k);
		}
	}
	if (config_setting_get_member(rs, "id") == NULL)
		cp_err(c->e, r->line, keyf(k, "%s.id", key), "is required");
	if (config_setting_get_member(rs, "action") == NULL)
		cp_err(c->e, r->line, keyf(k, "%s.action", key), "is required");
	check_bind(c, rs, key, r);
}

struct id_ref {
	const char *id;
	unsigned int idx;
};

static int
id_ref_cmp(const void *a, const void *b)
{
	const struct id_ref *x = a, *y = b;
	int d = strcmp(x->id, y->id);

	if (d != 0)
		return d;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void
check_unique_ids(struct pctx *c)
{
	struct cp_config *cfg = c->cfg;
	struct id_ref *refs;
	size_t n = 0;
	char k[KEY_MAX];

	if (cfg->n_rules < 2)
		return;
	refs = calloc(cfg->n_rules, sizeof(*refs));
	if (refs == NULL) {
		c->e->oom = true;
		return;
	}
	for (size_t i = 0; i < cfg->n_rules; i++)
		if (cfg->rules[i].id != NULL)
			refs[n++] = (struct id_ref){ cfg->rules[i].id, (unsigned int)i };
	qsort(refs, n, sizeof(*refs), id_ref_cmp);
	for (size_t i = 1; i < n; i++) {
		size_t first = i - 1;

		if (strcmp(refs[i].id, refs[i - 1].id) != 0)
			continue;
		while (first > 0 && strcmp(refs[first - 1].id, refs[i].id) == 0)
			first--;
		keyf(k, "rules.[%u].id", refs[i].idx);
		cp_err(c->e, cfg->rules[refs[i].idx].line, k,
		       "duplicate id \"%s\" (first used by rules.[%u] at line %d)", refs[i].id,
		       refs[first].idx, cfg->rules[refs[first].idx].line);
	}
	free(refs);
}

static void
parse_rules(struct pctx *c, const config_setting_t *s, const char *key)
{
	struct cp_config *cfg = c->cfg;
	int n;

	if (config_setting_type(s) != CONFIG_TYPE_LIST) {
		cp_err(c->e, line_of(s), key, "must be a list of rule groups: rules = ( { ... }, { ... } );");
		return;
	}
	n = config_setting_length(s);
	if (n == 0)
		return;
	cfg->rules = calloc((size_t)n, sizeof(*cfg->rules));
	if (cfg->rules == NULL) {
		c->e->oom = true;
		return;
	}
	cfg->n_rules = (size_t)n;
	for (int i = 0; i < n; i++)
		parse_rule(c, config_setting_get_elem(s, (unsigned int)i), (unsigned int)i);
	check_unique_ids(c);
	/* what the out-of-band resolver resolves: the exact names of bind = "dns" rules */
	for (size_t i = 0; i < cfg->n_rules && !c->e->oom; i++) {
		if (cfg->rules[i].bind != CPM_BIND_DNS)
			continue;
		resolve_names_add(c, &cfg->rules[i].sni);
		resolve_names_add(c, &cfg->rules[i].host);
	}
}

/* ---- top level ----------------------------------------------------------------- */

static void
set_defaults(struct cp_config *cfg)
{
	static const uint8_t deny_by_default[] = {
		DP_AN_OVERLAP_CONFLICT, DP_AN_MULTIPLE_SNI, DP_AN_MALFORMED_CLIENTHELLO,
		DP_AN_OVERSIZE_CLIENTHELLO, DP_AN_TINY_SEGMENTS, DP_AN_REASSEMBLY_TIMEOUT,
		DP_AN_HOLD_MEMORY_FULL, DP_AN_IP_FRAGMENT, DP_AN_IPV6_EXT_CHAIN,
		DP_AN_MULTIPLE_HOST, DP_AN_HOST_MISMATCH, DP_AN_INVALID_NAME,
		DP_AN_QUIC_UNDECRYPTABLE, DP_AN_QUIC_UNKNOWN_VERSION, DP_AN_QUIC_MALFORMED,
		DP_AN_HTTP_SMUGGLING, DP_AN_SNI_CHANGED, DP_AN_SNI_DST_MISMATCH,
		DP_AN_DOT, DP_AN_DOH,
	};
	struct cpm_settings *st = &cfg->settings;

	memset(cfg, 0, sizeof(*cfg));
	st->mode = CPM_MODE_ENFORCE;
	st->default_action = 0;   /* required */
	st->inbound_action = CPM_DENY;
	st->quic_action = CPM_DENY;
	st->table_full_action = CPM_DENY;
	st->midstream_action = CPM_DENY;
	st->no_name_action = 0;
	st->hold_timeout_ms = 5000;
	st->hold_max_bytes = 16384;
	st->hold_max_segments = 16;
	st->tcp_established_ms = 350 * 1000;
	st->tcp_halfopen_ms = 20 * 1000;
	st->tcp_closed_ms = 10 * 1000;
	st->udp_ms = 60 * 1000;
	st->other_ms = 30 * 1000;
	st->dns_grace_s = 300;
	st->dns_max_entries = 65536;
	for (int i = 0; i < DP_AN_MAX; i++)
		st->anomaly_action[i] = CPM_ALLOW;
	for (size_t i = 0; i < sizeof(deny_by_default); i++)
		st->anomaly_action[deny_by_default[i]] = CPM_DENY;
	cfg->internal_all = true;
	cfg->checkpoint_records = 1000;
	cfg->checkpoint_seconds = 60;
	cfg->audit_fsync = 1;
	cfg->syslog.port = 6514;
	cfg->syslog.queue = 10000;
	cfg->dns.interval_s = CP_DNS_RESOLVE_INTERVAL;
	cfg->dns.timeout_ms = CP_DNS_RESOLVE_TIMEOUT_MS;
	cfg->dns.retries = CP_DNS_RESOLVE_RETRIES;
	cfg->dns.max_names = CP_DNS_RESOLVE_MAX_NAMES;
}

/* Settings that came from an @include'd file: not supported (the hash covers one file). */
static bool
find_include(struct pctx *c, const config_setting_t *s, const char *key)
{
	char k[KEY_MAX];
	int n;

	if (config_setting_source_file(s) != NULL) {
		cp_err(c->e, 0, key,
		       "set in @include \"%s\" (line %d): @include is not supported (the policy hash covers one file)",
		       config_setting_source_file(s), line_of(s));
		return true;
	}
	if (!config_setting_is_aggregate(s))
		return false;
	n = config_setting_length(s);
	for (int i = 0; i < n; i++) {
		config_setting_t *el = config_setting_get_elem(s, (unsigned int)i);

		if (find_include(c, el, child_key(k, key, el, (unsigned int)i)))
			return true;
	}
	return false;
}

static void
parse_root(struct pctx *c, const config_setting_t *root)
{
	struct cp_config *cfg = c->cfg;
	struct cpm_settings *st = &cfg->settings;
	int n = config_setting_length(root);

	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(root, (unsigned int)i);
		const char *k = config_setting_name(s);

		if (strcmp(k, "mode") == 0) {
			parse_word8(c, s, k, WORDS({ "enforce", CPM_MODE_ENFORCE },
						   { "monitor", CPM_MODE_MONITOR }), &st->mode);
		} else if (strcmp(k, "default") == 0) {
			parse_action(c, s, k, &st->default_action);
		} else if (strcmp(k, "internal") == 0) {
			parse_cidrs(c, s, k, &cfg->internal);
			cfg->internal_all = false;
		} else if (strcmp(k, "trusted") == 0) {
			parse_cidrs(c, s, k, &cfg->trusted);
		} else if (strcmp(k, "inbound") == 0) {
			parse_action(c, s, k, &st->inbound_action);
		} else if (strcmp(k, "quic") == 0) {
			parse_quic(c, s, k, &st->quic_action);
		} else if (strcmp(k, "table_full") == 0) {
			parse_action(c, s, k, &st->table_full_action);
		} else if (strcmp(k, "midstream") == 0) {
			parse_action(c, s, k, &st->midstream_action);
		} else if (strcmp(k, "hold") == 0) {
			parse_hold(c, s, k);
		} else if (strcmp(k, "timeouts") == 0) {
			parse_timeouts(c, s, k);
		} else if (strcmp(k, "anomalies") == 0) {
			parse_anomalies(c, s, k);
		} else if (strcmp(k, "ech_public_names") == 0) {
			parse_names(c, s, k, &cfg->ech, true, false);
		} else if (strcmp(k, "rules") == 0) {
			parse_rules(c, s, k);
		} else if (strcmp(k, "audit") == 0) {
			parse_audit(c, s, k);
		} else if (strcmp(k, "audit_overflow") == 0) {
			parse_word8(c, s, k, WORDS({ "drop_records", CPM_AUDIT_DROP_RECORDS },
						   { "deny_new_flows", CPM_AUDIT_DENY_NEW_FLOWS }),
				    &st->audit_overflow);
		} else if (strcmp(k, "syslog") == 0) {
			parse_syslog(c, s, k);
		} else if (strcmp(k, "dns") == 0) {
			parse_dns(c, s, k);
		} else if (strcmp(k, "revalidate") == 0) {
			if (config_setting_type(s) == CONFIG_TYPE_BOOL)
				st->revalidate = config_setting_get_bool(s) ? 1 : 0;
			else
				cp_err(c->e, line_of(s), k, "must be true or false");
		} else if (strcmp(k, "doh_file") == 0) {
			parse_list_files(c, s, k, LIST_DOH, NULL);
		} else {
			unknown_key(c, s, k);
		}
	}
	if (config_setting_get_member(root, "default") == NULL)
		cp_err(c->e, 0, "default", "is required (\"allow\" or \"deny\")");
	if (config_setting_get_member(root, "doh_file") == NULL)
		doh_builtin(c);
	if (cfg->audit_path == NULL)
		cfg->audit_path = dup_str(c, "/var/log/chokepoint/audit.jsonl");
}

int
cp_config_parse(const char *text, size_t len, struct cp_config *cfg, struct cp_errs *e)
{
	struct pctx c = { .e = e, .cfg = cfg };
	unsigned int before = e->count;
	config_t lc;
	char *dir;
	int rc;

	set_defaults(cfg);
	if (memchr(text, '\0', len) != NULL) {
		cp_err(e, 0, "(file)", "contains a NUL byte: not a text file");
		return -EINVAL;
	}
	config_init(&lc);
	/* resolve an @include like config_read_file would, so it is reported, not "not found" */
	dir = strdup(e->file);
	if (dir == NULL) {
		config_destroy(&lc);
		return -ENOMEM;
	}
	c.dir = dirname(dir);
	config_set_include_dir(&lc, c.dir);
	if (strcmp(c.dir, ".") == 0)
		c.dir = NULL;      /* relative list paths stay as written */
	rc = config_read_string(&lc, text);
	if (rc != CONFIG_TRUE) {
		cp_err(e, config_error_line(&lc), "(syntax)", "%s",
		       config_error_text(&lc) != NULL ? config_error_text(&lc) : "syntax error");
		config_destroy(&lc);
		free(dir);
		return -EINVAL;
	}
	if (!find_include(&c, config_root_setting(&lc), ""))
		parse_root(&c, config_root_setting(&lc));
	config_destroy(&lc);
	free(dir);
	if (c.psl != NULL)
		psl_free(c.psl);
	/* the list files' bytes were hashed and parsed: not needed any more */
	for (size_t i = 0; i < cfg->n_files; i++) {
		free(cfg->files[i].text);
		cfg->files[i].text = NULL;
	}
	if (e->oom)
		return -ENOMEM;
	return e->count != before ? -EINVAL : 0;
}

static void
release_names(struct cp_names *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i].name);
	free(n->v);
}

static void
release_strs(struct cp_strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

void
cp_config_release(struct cp_config *cfg)
{
	for (size_t i = 0; i < cfg->n_rules; i++) {
		struct cp_rule *r = &cfg->rules[i];

		free(r->id);
		release_names(&r->sni);
		release_names(&r->host);
		release_strs(&r->sni_regex);
		release_strs(&r->host_regex);
		free(r->src.v);
		free(r->dst.v);
		free(r->dport.v);
	}
	free(cfg->rules);
	free(cfg->internal.v);
	free(cfg->trusted.v);
	release_names(&cfg->ech);
	release_names(&cfg->doh);
	for (size_t i = 0; i < cfg->n_files; i++) {
		free(cfg->files[i].written);
		free(cfg->files[i].path);
		free(cfg->files[i].text);
	}
	free(cfg->files);
	free(cfg->audit_path);
	free(cfg->audit_signing_key);
	free(cfg->syslog.host);
	free(cfg->syslog.ca);
	free(cfg->syslog.cert);
	free(cfg->syslog.key);
	cp_dns_resolve_cfg_release(&cfg->dns);
	memset(cfg, 0, sizeof(*cfg));
}
