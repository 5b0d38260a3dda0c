/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_compile.c: validated policy (struct cp_config) -> one position-
 * independent blob (dataplane/match/cpm_blob.h), and the public
 * cp_policy API (cp_policy.h): read + hash + parse + compile + self-check,
 * and the sealed memfd the dataplane receives.
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
#include "cp_config.h"
#include "cp_policy.h"

#define REGEX_FLAGS (HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL | HS_FLAG_CASELESS)

/* ---- growable byte buffer -------------------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

/* Append n bytes (zeros if d is NULL); returns the offset they start at. */
static size_t
buf_add(struct buf *b, const void *d, size_t n)
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
	if (d != NULL)
		memcpy(b->p + b->len, d, n);
	else
		memset(b->p + b->len, 0, n);
	b->len += n;
	return off;
}

/* ---- names ----------------------------------------------------------------------- */

struct nent {
	uint8_t kind;            /* enum cpm_name_kind */
	uint8_t field;           /* enum cpm_field */
	const char *name;
	size_t len;
	uint32_t rule;           /* UINT32_MAX for ECH */
};

static int
nent_cmp(const void *a, const void *b)
{
	const struct nent *x = a, *y = b;
	int d;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->field != y->field)
		return x->field < y->field ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	d = memcmp(x->name, y->name, x->len);
	if (d != 0)
		return d;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static bool
nent_same_key(const struct nent *x, const struct nent *y)
{
	return x->kind == y->kind && x->field == y->field && x->len == y->len &&
	       memcmp(x->name, y->name, x->len) == 0;
}

struct nvec {
	struct nent *v;
	size_t n, cap;
	bool oom;
};

static void
nvec_add(struct nvec *nv, uint8_t kind, uint8_t field, const char *name, uint32_t rule)
{
	if (nv->n == nv->cap) {
		size_t cap = nv->cap ? 2 * nv->cap : 64;
		struct nent *v = realloc(nv->v, cap * sizeof(*v));

		if (v == NULL) {
			nv->oom = true;
			return;
		}
		nv->v = v;
		nv->cap = cap;
	}
	nv->v[nv->n++] = (struct nent){ kind, field, name, strlen(name), rule };
}

static void
nvec_add_names(struct nvec *nv, const struct cp_names *names, uint8_t field, uint32_t rule)
{
	for (size_t i = 0; i < names->n; i++) {
		const struct cp_name *nm = &names->v[i];

		/* `.x` = x itself + its subdomains; `*.x` = subdomains only */
		if (nm->kind == CP_NAME_EXACT || nm->kind == CP_NAME_SUFFIX)
			nvec_add(nv, CPM_NK_EXACT, field, nm->name, rule);
		if (nm->kind == CP_NAME_SUFFIX || nm->kind == CP_NAME_GLOB)
			nvec_add(nv, CPM_NK_SUFFIX, field, nm->name, rule);
	}
}

/* Build the NAMES hash table, its strings and rule lists. */
static int
build_names(const struct cp_config *cfg, const uint8_t key[16], struct buf *strings,
	    struct buf *slots, struct buf *lists, uint32_t *n_ech)
{
	struct nvec nv = { 0 };
	struct cpm_blob_name *tab = NULL;
	size_t nkeys = 0, nslots, i, j;
	int rc = -ENOMEM;

	for (i = 0; i < cfg->n_rules; i++) {
		nvec_add_names(&nv, &cfg->rules[i].sni, CPM_FIELD_SNI, (uint32_t)i);
		nvec_add_names(&nv, &cfg->rules[i].host, CPM_FIELD_HOST, (uint32_t)i);
	}
	for (i = 0; i < cfg->ech.n; i++)
		nvec_add(&nv, CPM_NK_ECH, CPM_FIELD_SNI, cfg->ech.v[i].name, UINT32_MAX);
	if (nv.oom)
		goto out;
	*n_ech = 0;
	if (nv.n == 0) {
		rc = 0;
		goto out;
	}
	qsort(nv.v, nv.n, sizeof(*nv.v), nent_cmp);
	for (i = 0; i < nv.n; i++)
		if (i == 0 || !nent_same_key(&nv.v[i], &nv.v[i - 1]))
			nkeys++;
	for (nslots = 2; nslots < 2 * nkeys; nslots *= 2)
		;
	tab = calloc(nslots, sizeof(*tab));
	if (tab == NULL)
		goto out;
	for (i = 0; i < nv.n; i = j) {
		const struct nent *k = &nv.v[i];
		struct cpm_blob_name e = { 0 };
		uint64_t mask = nslots - 1, s;

		e.kind = k->kind;
		e.field = k->field;
		e.str_len = (uint16_t)k->len;
		e.str_off = (uint32_t)buf_add(strings, k->name, k->len + 1);
		e.hash = cpm_blob_name_hash(key, e.kind, e.field, k->name, k->len);
		if (k->kind != CPM_NK_ECH)
			e.list_off = (uint32_t)(lists->len / sizeof(uint32_t));
		else
			(*n_ech)++;
		for (j = i; j < nv.n && nent_same_key(&nv.v[j], k); j++) {
			if (k->kind == CPM_NK_ECH)
				continue;
			if (j > i && nv.v[j].rule == nv.v[j - 1].rule)
				continue;   /* the same name twice in one rule */
			buf_add(lists, &nv.v[j].rule, sizeof(uint32_t));
			e.list_count++;
		}
		for (s = e.hash & mask; tab[s].kind != CPM_NK_EMPTY; s = (s + 1) & mask)
			;
		tab[s] = e;
	}
	buf_add(slots, tab, nslots * sizeof(*tab));
	rc = strings->oom || slots->oom || lists->oom ? -ENOMEM : 0;
out:
	free(tab);
	free(nv.v);
	return rc;
}

/* ---- regexes --------------------------------------------------------------------- */

static int
build_regex(const struct cp_config *cfg, struct buf *map, char **hsdb, size_t *hsdb_len,
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
				buf_add(map, &m, sizeof(m));
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

static void
add_cidrs(struct buf *b, const struct cp_cidrs *c, uint32_t *off, uint32_t *count)
{
	*off = (uint32_t)(b->len / sizeof(struct cpm_blob_cidr));
	*count = (uint32_t)c->n;
	for (size_t i = 0; i < c->n; i++) {
		struct cpm_blob_cidr e = { .family = c->v[i].family, .plen = c->v[i].plen };

		memcpy(e.addr, c->v[i].addr, sizeof(e.addr));
		buf_add(b, &e, sizeof(e));
	}
}

int
cp_compile_blob(const struct cp_config *cfg, const uint8_t sha256[32],
		uint8_t **blob, size_t *blob_len, struct cp_errs *e)
{
	struct buf sect[CPM_SECT_MAX] = { 0 };
	struct cpm_blob_hdr h = { 0 };
	char *hsdb = NULL;
	size_t hsdb_len = 0, off;
	uint8_t *out;
	int rc;

	h.magic = CPM_BLOB_MAGIC;
	h.version = CPM_BLOB_VERSION;
	h.hdr_len = sizeof(h);
	memcpy(h.sha256, sha256, 32);
	if (getrandom(h.siphash_key, sizeof(h.siphash_key), 0) != sizeof(h.siphash_key))
		return -errno;
	h.n_rules = (uint32_t)cfg->n_rules;
	h.settings = cfg->settings;
	h.flags = cfg->internal_all ? CPM_BLOB_F_INTERNAL_ALL : 0;

	buf_add(&sect[CPM_SECT_STRINGS], "", 1);
	if (!cfg->internal_all)
		add_cidrs(&sect[CPM_SECT_CIDRS], &cfg->internal, &h.internal_off, &h.internal_count);
	add_cidrs(&sect[CPM_SECT_CIDRS], &cfg->trusted, &h.trusted_off, &h.trusted_count);
	for (size_t i = 0; i < cfg->n_rules; i++) {
		const struct cp_rule *r = &cfg->rules[i];
		struct cpm_blob_rule br = {
			.id_len = (uint16_t)strlen(r->id),
			.action = r->action,
			.proto = r->proto,
			.line = (uint32_t)r->line,
		};

		br.id_off = (uint32_t)buf_add(&sect[CPM_SECT_STRINGS], r->id, strlen(r->id) + 1);
		if (r->sni.n != 0 || r->sni_regex.n != 0)
			br.flags |= CPM_RULE_F_SNI;
		if (r->host.n != 0 || r->host_regex.n != 0)
			br.flags |= CPM_RULE_F_HOST;
		add_cidrs(&sect[CPM_SECT_CIDRS], &r->src, &br.src_off, &br.src_count);
		add_cidrs(&sect[CPM_SECT_CIDRS], &r->dst, &br.dst_off, &br.dst_count);
		br.port_off = (uint32_t)(sect[CPM_SECT_PORTS].len / sizeof(struct cpm_blob_port));
		br.port_count = (uint32_t)r->dport.n;
		for (size_t p = 0; p < r->dport.n; p++) {
			struct cpm_blob_port bp = { r->dport.v[p].lo, r->dport.v[p].hi };

			buf_add(&sect[CPM_SECT_PORTS], &bp, sizeof(bp));
		}
		buf_add(&sect[CPM_SECT_RULES], &br, sizeof(br));
	}
	rc = build_names(cfg, h.siphash_key, &sect[CPM_SECT_STRINGS], &sect[CPM_SECT_NAMES],
			 &sect[CPM_SECT_RULE_LISTS], &h.n_ech);
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
	free(hsdb);
	return rc;
}

/* ---- cp_policy --------------------------------------------------------------------- */

static int
read_file(const char *path, char **text, size_t *len, struct cp_errs *e)
{
	struct stat st;
	char *buf = NULL;
	size_t cap, n = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto err;
	}
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
err:
	if (rc == -EINVAL)
		cp_err(e, 0, "(file)", "not a regular file");
	else
		cp_err(e, 0, "(file)", "cannot read: %s", strerror(-rc));
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
	free(p);
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
	rc = read_file(path, &text, &len, &e);
	if (rc != 0)
		goto err;
	if (EVP_Digest(text, len, sha, NULL, EVP_sha256(), NULL) != 1) {
		rc = -ENOMEM;
		goto err;
	}
	rc = cp_config_parse(text, len, &cfg, &e);
	if (rc != 0)
		goto err;
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
	p->path = strdup(path);
	p->audit_path = strdup(cfg.audit_path);
	p->audit_signing_key = cfg.audit_signing_key != NULL ? strdup(cfg.audit_signing_key) : NULL;
	p->checkpoint_records = cfg.checkpoint_records;
	p->checkpoint_seconds = cfg.checkpoint_seconds;
	p->audit_fsync = cfg.audit_fsync;
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
