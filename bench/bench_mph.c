/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_mph.c: `chokepoint-bench mph`: the blob's name table against
 * Debian's libcmph (minimal perfect hashing), on the same N names, with the
 * same guarantee: a name that is not in the set must not be taken for one.
 *
 *   table: the real compiler builds the policy's name table (16-byte slots:
 *          64-bit SipHash + 32-bit independent check + rule), at most half
 *          full; a lookup is cpm_name_probe() (SipHash, linear probing,
 *          the check computed on a hash hit).
 *   cmph:  cmph_new() over the names (CHD and BDZ), cmph_pack() into one
 *          buffer (what a blob would carry), plus the same 16-byte record
 *          per key at the key's MPH position (an MPH maps a non-member to
 *          some member's position, so the fingerprint is not optional);
 *          a lookup is cmph_search_packed() + SipHash + compare.
 * Build time, bytes per key, ns per lookup of members and of non-members,
 * in random order (cold-ish).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#ifdef CHOKEPOINT_HAVE_CMPH

#include <cmph.h>

#include "cpm.h"
#include "cpm_blob.h"
#include "cpm_int.h"
#include "cp_config.h"
#include "cp_policy.h"
#include "siphash.h"

struct fp {
	uint64_t hash;
	uint32_t check;
	uint32_t val;
};

struct res {
	const char *what;
	double build_s, bytes_per_key, hit_ns, miss_ns;
	size_t wrong;
};

static void
shuffle(char **v, size_t n)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = bench_rand() % (i + 1);
		char *t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
}

/* ns per lookup of qs[0..n); *found counts the names found */
static double
time_table(const struct cpm_policy *p, char **qs, size_t n, size_t *found)
{
	double t0 = bench_cpu();

	*found = 0;
	for (size_t i = 0; i < n; i++)
		*found += (size_t)cpm_name_probe(p, CPM_NK_EXACT, CPM_FIELD_SNI, qs[i], strlen(qs[i]));
	return (bench_cpu() - t0) * 1e9 / (double)n;
}

struct cmph_set {
	void *packed;
	size_t packed_len;
	struct fp *fp;
	uint32_t n;
	uint8_t k1[16], k2[16];
};

static bool
cmph_has(const struct cmph_set *c, const char *name)
{
	uint32_t len = (uint32_t)strlen(name);
	uint32_t pos = cmph_search_packed(c->packed, name, len);

	if (pos >= c->n || c->fp[pos].hash != cpm_siphash24(c->k1, name, len))
		return false;
	return c->fp[pos].check == (uint32_t)cpm_siphash24(c->k2, name, len);
}

static double
time_cmph(const struct cmph_set *c, char **qs, size_t n, size_t *found)
{
	double t0 = bench_cpu();

	*found = 0;
	for (size_t i = 0; i < n; i++)
		*found += cmph_has(c, qs[i]);
	return (bench_cpu() - t0) * 1e9 / (double)n;
}

static int
build_cmph(CMPH_ALGO algo, char **keys, size_t n, struct cmph_set *c, double *secs)
{
	double t0 = bench_cpu();
	cmph_io_adapter_t *src = cmph_io_vector_adapter(keys, (cmph_uint32)n);
	cmph_config_t *cfg = cmph_config_new(src);
	cmph_t *mph;

	memset(c, 0, sizeof(*c));
	for (int i = 0; i < 16; i++) {
		c->k1[i] = (uint8_t)bench_rand();
		c->k2[i] = (uint8_t)bench_rand();
	}
	cmph_config_set_algo(cfg, algo);
	mph = cmph_new(cfg);
	cmph_config_destroy(cfg);
	cmph_io_vector_adapter_destroy(src);
	if (mph == NULL)
		return -1;
	c->packed_len = cmph_packed_size(mph);
	c->packed = malloc(c->packed_len);
	c->fp = calloc(n, sizeof(*c->fp));
	c->n = (uint32_t)n;
	if (c->packed == NULL || c->fp == NULL)
		return -1;
	cmph_pack(mph, c->packed);
	cmph_destroy(mph);
	for (size_t i = 0; i < n; i++) {
		uint32_t len = (uint32_t)strlen(keys[i]);
		uint32_t pos = cmph_search_packed(c->packed, keys[i], len);

		if (pos >= n)
			return -1;
		c->fp[pos] = (struct fp){ cpm_siphash24(c->k1, keys[i], len),
					  (uint32_t)cpm_siphash24(c->k2, keys[i], len), 1 };
	}
	*secs = bench_cpu() - t0;
	return 0;
}

int
bench_mph(const struct bench_opts *o)
{
	size_t n = o->n_sizes ? o->sizes[0] : o->smoke ? 20000 : 1000000;
	char *buf = malloc(n * 2 * 40), **keys = calloc(n, sizeof(*keys));
	char **hit = calloc(n, sizeof(*hit)), **miss = calloc(n, sizeof(*miss));
	char *dir = bench_mkdir(), *conf, text[256];
	struct bench_text list = { 0 };
	struct res res[3] = { { "blob table" }, { "cmph CHD" }, { "cmph BDZ" } };
	static const CMPH_ALGO algos[] = { CMPH_CHD, CMPH_BDZ };
	unsigned int reps = o->reps < 16 ? o->reps : 16;
	double hit_ns[16], miss_ns[16];
	bool ok = true;

	if (buf == NULL || keys == NULL || hit == NULL || miss == NULL)
		return 2;
	for (size_t i = 0; i < n; i++) {
		keys[i] = buf + i * 80;
		miss[i] = buf + i * 80 + 40;
		snprintf(keys[i], 40, "h%zu.s%zu.d%zu.com", i, i * 7919 % 4099, i % 97);
		snprintf(miss[i], 40, "h%zu.s%zu.d%zu.com", i + n, (i + n) * 7919 % 4099, (i + n) % 97);
		bench_printf(&list, "%s\n", keys[i]);
	}
	memcpy(hit, keys, n * sizeof(*hit));
	shuffle(hit, n);
	shuffle(miss, n);
	free(bench_write(dir, "names.txt", list.p, list.len));
	snprintf(text, sizeof(text), "default = \"deny\";\n"
		 "rules = ( { id = \"l\"; action = \"allow\"; sni_file = \"names.txt\"; } );\n");
	conf = bench_write(dir, "policy.conf", text, strlen(text));

	/* the blob's table, built by the real compiler */
	{
		struct cp_errs e = { .file = conf };
		struct cp_config cfg;
		struct cpm_policy *p;
		uint8_t sha[32] = { 0 }, *blob = NULL;
		size_t len = 0, tlen, found;
		char *t, err[256];
		double t0;

		memset(&cfg, 0, sizeof(cfg));
		if (cp_read_file(conf, &t, &tlen) != 0 || cp_config_parse(t, tlen, &cfg, &e) != 0)
			return 2;
		t0 = bench_cpu();
		if (cp_compile_blob(&cfg, sha, &blob, &len, &e) != 0)
			return 2;
		res[0].build_s = bench_cpu() - t0;
		if (cpm_policy_load(blob, len, &p, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
		res[0].bytes_per_key =
			(double)(((const struct cpm_blob_hdr *)blob)->sect[CPM_SECT_NAMES].len) / (double)n;
		time_table(p, hit, n, &found);
		for (unsigned int k = 0; k < reps; k++) {
			hit_ns[k] = time_table(p, hit, n, &found);
			res[0].wrong += n - found;
			miss_ns[k] = time_table(p, miss, n, &found);
			res[0].wrong += found;
		}
		res[0].hit_ns = bench_median(hit_ns, reps);
		res[0].miss_ns = bench_median(miss_ns, reps);
		cpm_policy_free(p);
		free(blob);
		free(t);
		cp_config_release(&cfg);
		cp_errs_release(&e);
	}
	for (int a = 0; a < 2; a++) {
		struct cmph_set c;
		struct res *r = &res[a + 1];
		size_t found;

		if (build_cmph(algos[a], keys, n, &c, &r->build_s) != 0) {
			fprintf(stderr, "chokepoint-bench: cmph %s failed\n", r->what);
			return 2;
		}
		r->bytes_per_key = (double)(c.packed_len + n * sizeof(struct fp)) / (double)n;
		time_cmph(&c, hit, n, &found);
		for (unsigned int k = 0; k < reps; k++) {
			hit_ns[k] = time_cmph(&c, hit, n, &found);
			r->wrong += n - found;
			miss_ns[k] = time_cmph(&c, miss, n, &found);
			r->wrong += found;
		}
		r->hit_ns = bench_median(hit_ns, reps);
		r->miss_ns = bench_median(miss_ns, reps);
		printf("%s: packed MPH %zu bytes (%.2f bits/key) + %zu bytes of fingerprints\n", r->what,
		       c.packed_len, 8.0 * (double)c.packed_len / (double)n, n * sizeof(struct fp));
		free(c.packed);
		free(c.fp);
	}
	printf("chokepoint-bench mph: %zu names, lookups in random order, median of %u passes\n", n,
	       reps);
	printf("%-12s %9s %11s %9s %9s %6s\n", "structure", "build_s", "bytes/key", "hit_ns",
	       "miss_ns", "wrong");
	for (int i = 0; i < 3; i++) {
		printf("%-12s %9.3f %11.1f %9.0f %9.0f %6zu\n", res[i].what, res[i].build_s,
		       res[i].bytes_per_key, res[i].hit_ns, res[i].miss_ns, res[i].wrong);
		ok &= res[i].wrong == 0;
		ok &= bench_sane("build seconds", res[i].build_s, 1e-6, 600);
		ok &= bench_sane("hit ns", res[i].hit_ns, 1, 1e6);
		ok &= bench_sane("miss ns", res[i].miss_ns, 1, 1e6);
	}
	free(conf);
	free(list.p);
	free(buf);
	free(keys);
	free(hit);
	free(miss);
	bench_rmdir(dir);
	return ok ? 0 : 1;
}

#else

int
bench_mph(const struct bench_opts *o)
{
	fprintf(stderr, "chokepoint-bench: built without libcmph (apt-get install libcmph-dev)\n");
	return 2;
}

#endif
