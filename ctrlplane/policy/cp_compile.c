/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_compile.c: validated policy (struct cp_config) -> one position-
 * independent blob (dataplane/match/cpm_blob.h): names table, regexes and
 * assembly here, address/port sets and rule classes in cp_l34.c; and the
 * public cp_policy API (cp_policy.h): read + manifest hash + parse +
 * compile + self-check, and the sealed memfd the dataplane receives.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hs/hs.h>
#include <openssl/evp.h>

#include "cpm.h"
#include "cpm_blob.h"
#include "cp_build.h"
#include "cp_config.h"
#include "cp_policy.h"

#define REGEX_FLAGS (HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL | HS_FLAG_CASELESS)
/* Fresh keys after a digest collision between two different names (never seen). */
#define NAME_KEY_TRIES 4

/* ---- growable byte buffer -------------------------------------------------------- */

size_t
cp_buf_add(struct cp_buf *b, const void *d, size_t n)
{
	size_t off = b->len;

	if (b->oom)
		return 0;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		uint8_t *np;

		while (cap < b->len + n)
			cap *= 2;
		np = realloc(b->p, cap);
		if (np == NULL) {
			b->oom = true;
			return 0;
		}
		b->p = np;
		b->cap = cap;
	}
	if (n == 0)
		return off;
	if (d != NULL)
		memcpy(b->p + b->len, d, n);
	else
		memset(b->p + b->len, 0, n);
	b->len += n;
	return off;
}

/* ---- names ----------------------------------------------------------------------- */

/* One distinct (kind, field, name) key while the table is built. */
struct nkey {
	uint64_t hash;
	uint32_t check;
	uint32_t last_rule;      /* the key's latest rule, UINT32_MAX: none (ECH) */
	uint32_t count;          /* rules */
	uint32_t cursor;         /* RULE_LISTS fill position (count >= 2) */
	const char *name;
	uint16_t len;
	uint8_t kind;
	uint8_t field;
};

struct pair {
	uint32_t key, rule;
};

struct nbuild {
	const uint8_t *hkey, *ckey;
	struct nkey *keys;
	size_t n_keys;
	uint32_t *tmp;           /* key index + 1; tmp_cap a power of two */
	size_t tmp_cap;
	struct pair *pairs;
	size_t n_pairs;
};

static size_t
pow2_at_least(size_t n)
{
	size_t p = 2;

	while (p < n)
		p *= 2;
	return p;
}

/* Add (kind, field, name) for rule (UINT32_MAX: ECH). -EAGAIN on a digest collision. */
static int
nb_add(struct nbuild *b, uint8_t kind, uint8_t field, const char *name, uint32_t rule)
{
	size_t len = strlen(name), mask = b->tmp_cap - 1, i;
	uint64_t h = cpm_blob_name_hash(b->hkey, kind, field, name, len);
	uint32_t check = (uint32_t)cpm_blob_name_hash(b->ckey, kind, field, name, len);
	struct nkey *k = NULL;

	for (i = h & mask; b->tmp[i] != 0; i = (i + 1) & mask) {
		struct nkey *c = &b->keys[b->tmp[i] - 1];

		if (c->hash != h || c->check != check)
			continue;
		if (c->kind != kind || c->field != field || c->len != len ||
		    memcmp(c->name, name, len) != 0)
			return -EAGAIN;   /* two names, one digest: new keys */
		k = c;
		break;
	}
	if (k == NULL) {
		k = &b->keys[b->n_keys];
		*k = (struct nkey){ .hash = h, .check = check, .last_rule = UINT32_MAX,
				    .name = name, .len = (uint16_t)len, .kind = kind, .field = field };
		b->tmp[i] = (uint32_t)++b->n_keys;
	}
	/* rules come in ascending order: a key's rules are ascending, each once */
	if (rule != UINT32_MAX && k->last_rule != rule) {
		b->pairs[b->n_pairs++] = (struct pair){ (uint32_t)(k - b->keys), rule };
		k->last_rule = rule;
		k->count++;
	}
	return 0;
}

static int
nb_add_names(struct nbuild *b, const struct cp_names *names, uint8_t field, uint32_t rule)
{
	int rc = 0;

	for (size_t i = 0; i < names->n && rc == 0; i++) {
		const struct cp_name *nm = &names->v[i];

		/* `.x` = x itself + its subdomains; `*.x` = subdomains only */
		if (nm->kind == CP_NAME_EXACT || nm->kind == CP_NAME_SUFFIX)
			rc = nb_add(b, CPM_NK_EXACT, field, nm->name, rule);
		if (rc == 0 && (nm->kind == CP_NAME_SUFFIX || nm->kind == CP_NAME_GLOB))
			rc = nb_add(b, CPM_NK_SUFFIX, field, nm->name, rule);
	}
	return rc;
}

static size_t
name_entries(const struct cp_names *names)
{
	size_t n = 0;

	for (size_t i = 0; i < names->n; i++)
		n += names->v[i].kind == CP_NAME_SUFFIX ? 2 : 1;
	return n;
}

/* Emit the NAMES table and its RULE_LISTS from the distinct keys. */
static int
nb_emit(struct nbuild *b, struct cpm_blob_hdr *h, struct cp_buf *sect)
{
	size_t nslots = 2 * b->n_keys;   /* at most half full: short probes, also for misses */
	struct cpm_blob_name *tab = calloc(nslots, sizeof(*tab));
	uint32_t *lists;
	size_t n_lists = 0;

	if (tab == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_keys; i++)
		if (b->keys[i].count >= 2) {
			b->keys[i].cursor = (uint32_t)n_lists + 1;
			n_lists += 1 + b->keys[i].count;
		}
	if (n_lists > CPM_NV_LIST - 1) {
		free(tab);
		return -E2BIG;
	}
	lists = calloc(n_lists ? n_lists : 1, sizeof(*lists));
	if (lists == NULL) {
		free(tab);
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->n_pairs; i++) {
		struct nkey *k = &b->keys[b->pairs[i].key];

		if (k->count >= 2)
			lists[k->cursor++] = b->pairs[i].rule;
	}
	h->n_ech = 0;
	h->n_doh = 0;
	for (size_t i = 0; i < b->n_keys; i++) {
		const struct nkey *k = &b->keys[i];
		struct cpm_blob_name e = { .hash = k->hash, .check = k->check };
		size_t s;

		if (k->kind == CPM_NK_ECH) {
			e.val = CPM_NV_ECH;
			h->n_ech++;
		} else if (k->kind == CPM_NK_DOH_EXACT || k->kind == CPM_NK_DOH_SUFFIX) {
			e.val = CPM_NV_DOH;
			h->n_doh++;
		} else if (k->count == 1) {
			e.val = k->last_rule + 1;
		} else {
			uint32_t off = k->cursor - k->count - 1;

			lists[off] = k->count;
			e.val = CPM_NV_LIST | off;
		}
		for (s = cpm_blob_name_home(k->hash, nslots); tab[s].val != CPM_NV_EMPTY;
		     s = s + 1 == nslots ? 0 : s + 1)
			;
		tab[s] = e;
	}
	cp_buf_add(&sect[CPM_SECT_NAMES], tab, nslots * sizeof(*tab));
	cp_buf_add(&sect[CPM_SECT_RULE_LISTS], lists, n_lists * sizeof(*lists));
	free(tab);
	free(lists);
	return sect[CPM_SECT_NAMES].oom || sect[CPM_SECT_RULE_LISTS].oom ? -ENOMEM : 0;
}

static int
build_names_once(const struct cp_config *cfg, struct cpm_blob_hdr *h, struct cp_buf *sect)
{
	struct nbuild b = { .hkey = h->siphash_key, .ckey = h->check_key };
	size_t entries = cfg->ech.n + name_entries(&cfg->doh);
	int rc = -ENOMEM;

	for (size_t i = 0; i < cfg->n_rules; i++)
		entries += name_entries(&cfg->rules[i].sni) + name_entries(&cfg->rules[i].host);
	h->n_ech = 0;
	h->n_doh = 0;
	if (entries == 0)
		return 0;
	b.tmp_cap = pow2_at_least(2 * entries);
	b.tmp = calloc(b.tmp_cap, sizeof(*b.tmp));
	b.keys = malloc(entries * sizeof(*b.keys));
	b.pairs = malloc(entries * sizeof(*b.pairs));
	if (b.tmp == NULL || b.keys == NULL || b.pairs == NULL)
		goto out;
	rc = 0;
	for (size_t i = 0; i < cfg->n_rules && rc == 0; i++) {
		rc = nb_add_names(&b, &cfg->rules[i].sni, CPM_FIELD_SNI, (uint32_t)i);
		if (rc == 0)
			rc = nb_add_names(&b, &cfg->rules[i].host, CPM_FIELD_HOST, (uint32_t)i);
	}
	for (size_t i = 0; i < cfg->ech.n && rc == 0; i++)
		rc = nb_add(&b, CPM_NK_ECH, CPM_FIELD_SNI, cfg->ech.v[i].name, UINT32_MAX);
	/* DoH names: one key per name and kind, whatever the field (SNI and Host alike) */
	for (size_t i = 0; i < cfg->doh.n && rc == 0; i++) {
		const struct cp_name *nm = &cfg->doh.v[i];

		if (nm->kind == CP_NAME_EXACT || nm->kind == CP_NAME_SUFFIX)
			rc = nb_add(&b, CPM_NK_DOH_EXACT, 0, nm->name, UINT32_MAX);
		if (rc == 0 && (nm->kind == CP_NAME_SUFFIX || nm->kind == CP_NAME_GLOB))
			rc = nb_add(&b, CPM_NK_DOH_SUFFIX, 0, nm->name, UINT32_MAX);
	}
	if (rc == 0)
		rc = nb_emit(&b, h, sect);
out:
	free(b.tmp);
	free(b.keys);
	free(b.pairs);
	return rc;
}

/* The NAMES table, with fresh random keys until no two names share a digest. */
static int
build_names(const struct cp_config *cfg, struct cpm_blob_hdr *h, struct cp_buf *sect)
{
	int rc = -EAGAIN;

	for (int t = 0; t < NAME_KEY_TRIES && rc == -EAGAIN; t++) {
		if (getrandom(h->siphash_key, sizeof(h->siphash_key), 0) != sizeof(h->siphash_key) ||
		    getrandom(h->check_key, sizeof(h->check_key), 0) != sizeof(h->check_key))
			return -errno;
		rc = build_names_once(cfg, h, sect);
	}
	return rc;
}

/* ---- regexes --------------------------------------------------------------------- */

static int
build_regex(const struct cp_config *cfg, struct cp_buf *map, char **hsdb, size_t *hsdb_len,
	    uint32_t *n_regex, struct cp_errs *e)
{
	const char **pats = NULL;
	unsigned int *flags = NULL, *ids = NULL;
	hs_compile_error_t *cerr = NULL;
	hs_database_t *db = NULL;
	size_t n = 0, k = 0;
	int rc = -ENOMEM;

	*hsdb = NULL;
	*hsdb_len = 0;
	for (size_t i = 0; i < cfg->n_rules; i++)
		n += cfg->rules[i].sni_regex.n + cfg->rules[i].host_regex.n;
	*n_regex = (uint32_t)n;
	if (n == 0)
		return 0;
	pats = calloc(n, sizeof(*pats));
	flags = calloc(n, sizeof(*flags));
	ids = calloc(n, sizeof(*ids));
	if (pats == NULL || flags == NULL || ids == NULL)
		goto out;
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct cp_rule *r = &cfg->rules[i];
		const struct cp_strs *lists[2] = { &r->sni_regex, &r->host_regex };

		for (int f = 0; f < 2; f++) {
			for (size_t x = 0; x < lists[f]->n; x++) {
				struct cpm_blob_regex m = {
					.rule = (uint32_t)i,
					.field = f == 0 ? CPM_FIELD_SNI : CPM_FIELD_HOST,
				};

				pats[k] = lists[f]->v[x];
				flags[k] = REGEX_FLAGS;
				ids[k] = (unsigned int)k;
				cp_buf_add(map, &m, sizeof(m));
				k++;
			}
		}
	}
	if (map->oom)
		goto out;
	if (hs_compile_multi(pats, flags, ids, (unsigned int)n, HS_MODE_BLOCK, NULL, &db,
			     &cerr) != HS_SUCCESS) {
		const struct cpm_blob_regex *m = (const void *)map->p;
		int x = cerr != NULL ? cerr->expression : -1;

		if (x >= 0 && (size_t)x < n)
			cp_err(e, cfg->rules[m[x].rule].line, m[x].field == CPM_FIELD_SNI ?
			       "rules.sni_regex" : "rules.host_regex",
			       "rule \"%s\": pattern \"%s\": %s", cfg->rules[m[x].rule].id, pats[x],
			       cerr->message);
		else
			cp_err(e, 0, "rules", "Hyperscan cannot build the regex database: %s",
			       cerr != NULL ? cerr->message : "unknown error");
		hs_free_compile_error(cerr);
		rc = -EINVAL;
		goto out;
	}
	if (hs_serialize_database(db, hsdb, hsdb_len) != HS_SUCCESS)
		goto out;
	rc = 0;
out:
	if (db != NULL)
		hs_free_database(db);
	free(pats);
	free(flags);
	free(ids);
	return rc;
}

/* ---- the blob --------------------------------------------------------------------- */

int
cp_compile_blob(const struct cp_config *cfg, const uint8_t sha256[32],
		uint8_t **blob, size_t *blob_len, struct cp_errs *e)
{
	struct cp_buf sect[CPM_SECT_MAX] = { 0 };
	struct cpm_blob_rule *rules = NULL;
	struct cpm_blob_hdr h = { 0 };
	char *hsdb = NULL;
	size_t hsdb_len = 0, off;
	uint8_t *out;
	int rc = -E2BIG;

	if (cfg->n_rules > CPM_RULES_MAX)
		return rc;
	h.magic = CPM_BLOB_MAGIC;
	h.version = CPM_BLOB_VERSION;
	h.hdr_len = sizeof(h);
	memcpy(h.sha256, sha256, 32);
	h.n_rules = (uint32_t)cfg->n_rules;
	h.settings = cfg->settings;

	rc = -ENOMEM;
	rules = calloc(cfg->n_rules ? cfg->n_rules : 1, sizeof(*rules));
	if (rules == NULL)
		goto out;
	cp_buf_add(&sect[CPM_SECT_STRINGS], "", 1);
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct cp_rule *r = &cfg->rules[i];
		struct cpm_blob_rule *br = &rules[i];

		br->id_len = (uint16_t)strlen(r->id);
		br->action = r->action;
		br->proto = r->proto;
		br->bind = r->bind;
		br->line = (uint32_t)r->line;
		br->id_off = (uint32_t)cp_buf_add(&sect[CPM_SECT_STRINGS], r->id, strlen(r->id) + 1);
		if (r->has_sni || r->sni_regex.n != 0)
			br->flags |= CPM_RULE_F_SNI;
		if (r->has_host || r->host_regex.n != 0)
			br->flags |= CPM_RULE_F_HOST;
	}
	rc = cp_l34_build(cfg, &h, rules, sect);
	if (rc != 0)
		goto out;
	cp_buf_add(&sect[CPM_SECT_RULES], rules, cfg->n_rules * sizeof(*rules));
	rc = build_names(cfg, &h, sect);
	if (rc != 0)
		goto out;
	rc = build_regex(cfg, &sect[CPM_SECT_REGEX_MAP], &hsdb, &hsdb_len, &h.n_regex, e);
	if (rc != 0)
		goto out;
	if (hsdb_len != 0 &&
	    EVP_Digest(hsdb, hsdb_len, h.hsdb_sha256, NULL, EVP_sha256(), NULL) != 1) {
		rc = -ENOMEM;
		goto out;
	}
	rc = -ENOMEM;
	for (int i = 0; i < CPM_SECT_MAX; i++)
		if (sect[i].oom)
			goto out;

	off = sizeof(h);
	for (int i = 0; i < CPM_SECT_MAX; i++) {
		off = (off + CPM_BLOB_ALIGN - 1) & ~(size_t)(CPM_BLOB_ALIGN - 1);
		h.sect[i].off = off;
		h.sect[i].len = i == CPM_SECT_HSDB ? hsdb_len : sect[i].len;
		off += h.sect[i].len;
	}
	h.total_len = off;
	out = calloc(1, off);
	if (out == NULL)
		goto out;
	memcpy(out, &h, sizeof(h));
	for (int i = 0; i < CPM_SECT_MAX; i++) {
		const void *src = i == CPM_SECT_HSDB ? (const void *)hsdb : sect[i].p;

		if (h.sect[i].len != 0)
			memcpy(out + h.sect[i].off, src, h.sect[i].len);
	}
	*blob = out;
	*blob_len = off;
	rc = 0;
out:
	for (int i = 0; i < CPM_SECT_MAX; i++)
		free(sect[i].p);
	free(rules);
	free(hsdb);
	return rc;
}

/* ---- cp_policy --------------------------------------------------------------------- */

int
cp_read_file(const char *path, char **text, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t cap, n = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto err_close;
	}
	cap = (size_t)st.st_size + 2;   /* +1 to see EOF in one read, +1 for the NUL */
	buf = malloc(cap);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto err_close;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 == cap) {     /* the file grew while we read it */
			char *nb = realloc(buf, cap * 2);

			if (nb == NULL) {
				rc = -ENOMEM;
				goto err_close;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto err_close;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;

err_close:
	close(fd);
	free(buf);
	return rc;
}

static void
copy_errors(const struct cp_errs *e, char *err, size_t errlen)
{
	size_t n;

	if (err == NULL || errlen == 0)
		return;
	n = e->len < errlen - 1 ? e->len : errlen - 1;
	if (e->buf != NULL)
		memcpy(err, e->buf, n);
	err[e->buf != NULL ? n : 0] = '\0';
}

void
cp_policy_free(struct cp_policy *p)
{
	if (p == NULL)
		return;
	free(p->blob);
	free(p->path);
	free(p->audit_path);
	free(p->audit_signing_key);
	free(p->syslog.host);
	free(p->syslog.ca);
	free(p->syslog.cert);
	free(p->syslog.key);
	cp_dns_resolve_cfg_release(&p->dns);
	free(p->manifest);
	free(p);
}

const char *
cp_policy_manifest(const struct cp_policy *p)
{
	return p != NULL && p->manifest != NULL ? p->manifest : "";
}

static void
hex32(const uint8_t *b, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[64] = '\0';
}

/*
 * The manifest: one "HEX  PATH\n" line per file (sha256sum's format), the
 * config file first (its path as given), then each list file in order of
 * first use (its path as written in the config). The policy hash is its
 * SHA-256.
 */
static char *
make_manifest(const char *path, const uint8_t config_sha[32], const struct cp_config *cfg)
{
	struct cp_buf b = { 0 };
	char hex[65];

	hex32(config_sha, hex);
	cp_buf_add(&b, hex, 64);
	cp_buf_add(&b, "  ", 2);
	cp_buf_add(&b, path, strlen(path));
	cp_buf_add(&b, "\n", 1);
	for (size_t i = 0; i < cfg->n_files; i++) {
		hex32(cfg->files[i].sha256, hex);
		cp_buf_add(&b, hex, 64);
		cp_buf_add(&b, "  ", 2);
		cp_buf_add(&b, cfg->files[i].written, strlen(cfg->files[i].written));
		cp_buf_add(&b, "\n", 1);
	}
	cp_buf_add(&b, "", 1);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return (char *)b.p;
}

int
cp_policy_compile_file(const char *path, struct cp_policy **out, char *err, size_t errlen)
{
	struct cp_errs e = { .file = path };
	struct cp_config cfg;
	struct cp_policy *p = NULL;
	struct cpm_policy *check = NULL;
	uint8_t sha[32];
	char *text = NULL, lerr[256];
	size_t len = 0;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out == NULL || path == NULL)
		return -EINVAL;
	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	rc = cp_read_file(path, &text, &len);
	if (rc != 0) {
		if (rc == -EINVAL)
			cp_err(&e, 0, "(file)", "not a regular file");
		else
			cp_err(&e, 0, "(file)", "cannot read: %s", strerror(-rc));
		goto err;
	}
	if (EVP_Digest(text, len, sha, NULL, EVP_sha256(), NULL) != 1) {
		rc = -ENOMEM;
		goto err;
	}
	rc = cp_config_parse(text, len, &cfg, &e);
	if (rc != 0)
		goto err;
	p->manifest = make_manifest(path, sha, &cfg);
	if (p->manifest == NULL ||
	    EVP_Digest(p->manifest, strlen(p->manifest), sha, NULL, EVP_sha256(), NULL) != 1) {
		rc = -ENOMEM;
		goto err;
	}
	rc = cp_compile_blob(&cfg, sha, &p->blob, &p->blob_len, &e);
	if (rc != 0)
		goto err;
	/* what runs is what was tested: the matcher must accept what we built */
	rc = cpm_policy_load(p->blob, p->blob_len, &check, lerr, sizeof(lerr));
	if (rc != 0) {
		cp_err(&e, 0, "(internal)", "compiled blob rejected by the matcher: %s", lerr);
		goto err;
	}
	cpm_policy_free(check);

	memcpy(p->sha256, sha, sizeof(sha));
	p->n_rules = (uint32_t)cfg.n_rules;
	p->n_files = (uint32_t)cfg.n_files;
	p->path = strdup(path);
	p->audit_path = strdup(cfg.audit_path);
	p->audit_signing_key = cfg.audit_signing_key != NULL ? strdup(cfg.audit_signing_key) : NULL;
	p->checkpoint_records = cfg.checkpoint_records;
	p->checkpoint_seconds = cfg.checkpoint_seconds;
	p->audit_fsync = cfg.audit_fsync;
	p->rotate_bytes = cfg.rotate_bytes;
	p->rotate_seconds = cfg.rotate_seconds;
	p->audit_overflow = cfg.settings.audit_overflow;
	p->syslog = cfg.syslog;     /* the strings move to p */
	memset(&cfg.syslog, 0, sizeof(cfg.syslog));
	p->dns = cfg.dns;           /* the strings move to p */
	memset(&cfg.dns, 0, sizeof(cfg.dns));
	p->mode = cfg.settings.mode;
	if (p->path == NULL || p->audit_path == NULL ||
	    (cfg.audit_signing_key != NULL && p->audit_signing_key == NULL)) {
		rc = -ENOMEM;
		goto err;
	}
	cp_config_release(&cfg);
	free(text);
	cp_errs_release(&e);
	*out = p;
	return 0;

err:
	if (rc == -ENOMEM && e.count == 0)
		cp_err(&e, 0, "(file)", "out of memory");
	else if (rc == -E2BIG && e.count == 0)
		cp_err(&e, 0, "rules", "too many rules or rule lists for the blob format");
	copy_errors(&e, err, errlen);
	cp_config_release(&cfg);
	cp_errs_release(&e);
	free(text);
	cp_policy_free(p);
	return rc;
}

int
cp_policy_memfd(const struct cp_policy *p)
{
	size_t done = 0;
	int fd, rc;

	if (p == NULL || p->blob == NULL)
		return -EINVAL;
	fd = memfd_create("chokepoint-policy", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	while (done < p->blob_len) {
		ssize_t n = write(fd, p->blob + done, p->blob_len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto err;
		done += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		goto err;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
		goto err;
	return fd;

err:
	rc = errno != 0 ? -errno : -EIO;
	close(fd);
	return rc;
}
