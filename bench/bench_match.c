/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_match.c: `chokepoint-bench match`: the per-new-flow cost of the
 * matcher as the name count grows.
 *
 * For each size N a policy is generated: the same seven rules every time
 * (three name-less rules, a deny list and an allow list read from list
 * files, a rule of R regex names, a host rule); only the lists' lengths
 * change. 70% of the listed entries are exact names, 20% suffixes (.x),
 * 10% globs (*.x). It is compiled by the real compiler (chokepointd's
 * cp_policy_compile_file), and queries of new TCP flows with an SNI are
 * decided by cpm_match:
 *   ~45% names on the lists (exact, apex or subdomain of a suffix, under a
 *   glob), ~5% names matching a regex, ~50% names on no list;
 *   warm: 256 distinct queries over and over (table lines in cache);
 *   cold: 1M distinct queries in random order (a table larger than the
 *   caches is read where the hash lands, as a live flow mix does).
 * Every verdict is checked against the generator's expectation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"
#include "cpm.h"
#include "cpm_blob.h"
#include "cp_config.h"
#include "cp_policy.h"

/* rule indexes in the generated policy */
enum { R_IMDS, R_DNS, R_SSH, R_DENY, R_ALLOW, R_REGEX, R_WEB };

#define WARM_SET 256

struct qry {
	char name[72];
	uint8_t len;
	int8_t want;             /* expected rule, -1 default */
	uint8_t dst[4];
};

/* Entry i of the lists: "h<i>.s<a>.d<b>.com", ".z<i>.d<b>.net" or "*.g<i>.d<b>.org". */
static int
entry(size_t i, char *out, size_t cap)
{
	unsigned int a = (unsigned int)(i * 7919 % 4099), b = (unsigned int)(i % 97);

	switch (i % 10) {
	case 7:
	case 8:
		return snprintf(out, cap, ".z%zu.d%u.net", i, b);
	case 9:
		return snprintf(out, cap, "*.g%zu.d%u.org", i, b);
	default:
		return snprintf(out, cap, "h%zu.s%u.d%u.com", i, a, b);
	}
}

static bool
on_deny_list(size_t i)
{
	return i % 20 == 3 || i % 20 == 17;
}

/* A query name for entry i that the entry covers. */
static void
hit_name(size_t i, struct qry *q)
{
	char e[60];

	entry(i, e, sizeof(e));
	if (e[0] == '.')          /* the apex or a subdomain */
		snprintf(q->name, sizeof(q->name), "%s", bench_below(2) ? e + 1 : "api");
	if (e[0] == '.' && strcmp(q->name, "api") == 0)
		snprintf(q->name, sizeof(q->name), "api%s", e);
	else if (e[0] == '*')
		snprintf(q->name, sizeof(q->name), "x%s", e + 1);
	else if (e[0] != '.')
		snprintf(q->name, sizeof(q->name), "%s", e);
	q->want = on_deny_list(i) ? R_DENY : R_ALLOW;
}

static void
random_query(size_t n, size_t regex, struct qry *q)
{
	uint32_t r = bench_below(100);

	if (r < 45) {
		hit_name(bench_below((uint32_t)n), q);
	} else if (r < 50 && regex != 0) {
		snprintf(q->name, sizeof(q->name), "r%u-x%u.api.example.org",
			 bench_below((uint32_t)regex), bench_below(100000));
		q->want = R_REGEX;
	} else {
		/* the shape of a listed exact name, an index past the lists */
		size_t i = n + bench_below(1u << 30);

		snprintf(q->name, sizeof(q->name), "h%zu.s%u.d%u.com", i, (unsigned int)(i % 4099),
			 (unsigned int)(i % 97));
		q->want = -1;
	}
	q->len = (uint8_t)strlen(q->name);
	q->dst[0] = 198;
	q->dst[1] = 18;
	q->dst[2] = (uint8_t)bench_below(256);
	q->dst[3] = (uint8_t)bench_below(256);
}

/* The policy directory: policy.conf, allow.txt, deny.txt. */
static char *
make_policy(const char *dir, size_t n, size_t regex)
{
	struct bench_text allow = { 0 }, deny = { 0 }, conf = { 0 };
	char e[64], *path;

	bench_printf(&allow, "# %zu-name benchmark allow list\n", n);
	bench_printf(&deny, "# benchmark deny list\n");
	for (size_t i = 0; i < n; i++) {
		entry(i, e, sizeof(e));
		bench_printf(on_deny_list(i) ? &deny : &allow, "%s\n", e);
	}
	free(bench_write(dir, "allow.txt", allow.p, allow.len));
	free(bench_write(dir, "deny.txt", deny.p, deny.len));
	bench_printf(&conf,
		     "default = \"deny\";\n"
		     "internal = [\"10.0.0.0/8\", \"fd00::/8\"];\n"
		     "trusted = [\"10.255.0.0/16\"];\n"
		     "rules = (\n"
		     "  { id = \"imds\"; action = \"deny\"; dst = [\"169.254.169.254/32\", \"fd00:ec2::254/128\"]; },\n"
		     "  { id = \"dns\"; action = \"allow\"; proto = \"udp\"; dport = [53]; },\n"
		     "  { id = \"ssh\"; action = \"deny\"; dport = [22]; },\n"
		     "  { id = \"deny-list\"; action = \"deny\"; sni_file = \"deny.txt\"; },\n"
		     "  { id = \"allow-list\"; action = \"allow\"; sni_file = \"allow.txt\"; dport = [443]; },\n");
	if (regex != 0) {
		bench_printf(&conf, "  { id = \"regex\"; action = \"allow\"; sni_regex = [\n");
		for (size_t k = 0; k < regex; k++)
			bench_printf(&conf, "    \"^r%zu-[a-z0-9]+\\\\.api\\\\.example\\\\.org$\"%s\n", k,
				     k + 1 < regex ? "," : "");
		bench_printf(&conf, "  ]; },\n");
	} else {
		bench_printf(&conf, "  { id = \"regex\"; action = \"allow\"; sni = [\"regex.invalid\"]; },\n");
	}
	bench_printf(&conf, "  { id = \"web\"; action = \"allow\"; host = [\"docs.example.com\"]; dport = [80]; }\n);\n");
	path = bench_write(dir, "policy.conf", conf.p, conf.len);
	free(allow.p);
	free(deny.p);
	free(conf.p);
	return path;
}

struct row {
	size_t n;
	double compile_s, compile_cpu, parse_s, build_s, load_ms;
	size_t blob, names_bytes, lists_bytes, slots, mem;
	double warm_ns, cold_ns, classify_ns;
	size_t wrong, hits;
};

/* ns per cpm_match over qs[0..n), iters times. */
static double
time_match(const struct cpm_policy *p, struct cpm_scratch *s, const struct qry *qs, size_t n,
	   size_t iters, int32_t *sink)
{
	struct cpm_query q = { .family = 4, .l4proto = 6, .sport = 40000, .dport = 443,
			       .src = { 10, 1, 2, 3 }, .field = CPM_FIELD_SNI };
	struct cpm_verdict v;
	double t0 = bench_cpu();

	for (size_t it = 0; it < iters; it++) {
		for (size_t i = 0; i < n; i++) {
			q.name = qs[i].name;
			q.name_len = qs[i].len;
			memcpy(q.dst, qs[i].dst, 4);
			cpm_match(p, s, &q, &v);
			*sink += v.rule;
		}
	}
	return (bench_cpu() - t0) * 1e9 / (double)(n * iters);
}

static double
time_classify(const struct cpm_policy *p, const struct qry *qs, size_t n, int32_t *sink)
{
	struct cpm_query q = { .family = 4, .l4proto = 6, .sport = 40000, .dport = 443,
			       .src = { 10, 1, 2, 3 } };
	struct cpm_verdict v;
	double t0 = bench_cpu();

	for (size_t i = 0; i < n; i++) {
		memcpy(q.dst, qs[i].dst, 4);
		*sink += cpm_classify_l34(p, &q, &v);
	}
	return (bench_cpu() - t0) * 1e9 / (double)n;
}

/* Compile in stages (read + parse, build) to see where the time goes. */
static int
staged_compile(const char *conf, struct row *r)
{
	struct cp_errs e = { .file = conf };
	struct cp_config cfg;
	uint8_t sha[32] = { 0 }, *blob = NULL;
	size_t len = 0, tlen;
	char *text;
	double t0 = bench_cpu(), t1;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	if (cp_read_file(conf, &text, &tlen) != 0)
		return -1;
	rc = cp_config_parse(text, tlen, &cfg, &e);
	t1 = bench_cpu();
	if (rc == 0)
		rc = cp_compile_blob(&cfg, sha, &blob, &len, &e);
	r->parse_s = t1 - t0;
	r->build_s = bench_cpu() - t1;
	if (rc != 0)
		fprintf(stderr, "%s", e.buf != NULL ? e.buf : "compile failed\n");
	free(blob);
	free(text);
	cp_config_release(&cfg);
	cp_errs_release(&e);
	return rc;
}

static int
run_size(const struct bench_opts *o, size_t n, size_t nq, struct row *r)
{
	char *dir = bench_mkdir(), *conf, err[4096];
	struct cp_policy *cp = NULL;
	struct cpm_policy *p = NULL;
	struct cpm_scratch *s;
	const struct cpm_blob_hdr *h;
	struct qry *qs = calloc(nq, sizeof(*qs));
	double t0, c0, passes[16];
	int32_t sink = 0;

	memset(r, 0, sizeof(*r));
	r->n = n;
	if (qs == NULL)
		return -1;
	conf = make_policy(dir, n, o->regex);
	if (staged_compile(conf, r) != 0)
		return -1;
	t0 = bench_now();
	c0 = bench_pcpu();
	if (cp_policy_compile_file(conf, &cp, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s", err);
		return -1;
	}
	r->compile_s = bench_now() - t0;
	r->compile_cpu = bench_pcpu() - c0;
	if (o->huge) {
		/* what the dataplane could do with MFD_HUGETLB: fewer TLB misses on a big table */
		size_t sz = (cp->blob_len + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
		uint8_t *hp = aligned_alloc(2u << 20, sz);

		if (hp == NULL || madvise(hp, sz, MADV_HUGEPAGE) != 0) {
			perror("chokepoint-bench: huge pages");
			return -1;
		}
		memcpy(hp, cp->blob, cp->blob_len);
		free(cp->blob);
		cp->blob = hp;
		/* did the kernel give huge pages? (THP is best effort) */
		{
			FILE *f = fopen("/proc/self/smaps_rollup", "r");
			char line[256];

			while (f != NULL && fgets(line, sizeof(line), f) != NULL)
				if (strncmp(line, "AnonHugePages:", 14) == 0)
					printf("# %zu names: blob on huge pages, process %s", n, line);
			if (f != NULL)
				fclose(f);
		}
	}
	t0 = bench_cpu();
	if (cpm_policy_load(cp->blob, cp->blob_len, &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	r->load_ms = (bench_cpu() - t0) * 1e3;
	h = (const void *)cp->blob;
	r->blob = cp->blob_len;
	r->names_bytes = h->sect[CPM_SECT_NAMES].len;
	r->lists_bytes = h->sect[CPM_SECT_RULE_LISTS].len;
	r->slots = h->sect[CPM_SECT_NAMES].len / sizeof(struct cpm_blob_name);
	r->mem = cpm_policy_size(p);
	s = cpm_scratch_alloc(p);
	if (s == NULL)
		return -1;

	for (size_t i = 0; i < nq; i++)
		random_query(n, o->regex, &qs[i]);
	/* every verdict is what the generator expects */
	{
		struct cpm_query q = { .family = 4, .l4proto = 6, .sport = 40000, .dport = 443,
				       .src = { 10, 1, 2, 3 }, .field = CPM_FIELD_SNI };
		struct cpm_verdict v;

		for (size_t i = 0; i < nq; i++) {
			q.name = qs[i].name;
			q.name_len = qs[i].len;
			memcpy(q.dst, qs[i].dst, 4);
			if (cpm_match(p, s, &q, &v) != 0 || v.rule != qs[i].want) {
				if (r->wrong++ < 5)
					fprintf(stderr, "chokepoint-bench: %s: rule %d, expected %d\n",
						qs[i].name, v.rule, qs[i].want);
			}
			r->hits += v.rule >= 0;
		}
	}
	/* warm: a small set again and again */
	{
		size_t w = nq < WARM_SET ? nq : WARM_SET, iters = (o->smoke ? 20000 : 2000000) / w;

		time_match(p, s, qs, w, iters / 10 + 1, &sink);
		for (unsigned int k = 0; k < o->reps && k < 16; k++)
			passes[k] = time_match(p, s, qs, w, iters, &sink);
		r->warm_ns = bench_median(passes, o->reps < 16 ? o->reps : 16);
	}
	/* cold-ish: every query once per pass, after one untimed pass */
	time_match(p, s, qs, nq, 1, &sink);
	for (unsigned int k = 0; k < o->reps && k < 16; k++)
		passes[k] = time_match(p, s, qs, nq, 1, &sink);
	r->cold_ns = bench_median(passes, o->reps < 16 ? o->reps : 16);
	for (unsigned int k = 0; k < o->reps && k < 16; k++)
		passes[k] = time_classify(p, qs, nq, &sink);
	r->classify_ns = bench_median(passes, o->reps < 16 ? o->reps : 16);

	cpm_scratch_free(s);
	cpm_policy_free(p);
	cp_policy_free(cp);
	free(conf);
	free(qs);
	bench_rmdir(dir);
	if (sink == 42)
		putchar(' ');     /* keep the loops' results alive */
	return 0;
}

int
bench_match(const struct bench_opts *o)
{
	static const size_t full[] = { 100, 10000, 100000, 1000000 };
	const size_t *sizes = o->n_sizes ? o->sizes : full;
	unsigned int ns = o->n_sizes ? o->n_sizes : 4;
	size_t nq = o->queries ? o->queries : o->smoke ? 4096 : (size_t)1 << 20;
	struct row rows[BENCH_MAX_SIZES];
	bool ok = true;

	printf("chokepoint-bench match: %zu regex names, %zu cold queries, median of %u passes\n",
	       o->regex, nq, o->reps);
	printf("# compile_s: wall clock of cp_policy_compile_file (as chokepointd); cpu_s: its CPU time;\n"
	       "# parse_s/build_s: CPU of read+parse and of building the blob; ns: CPU per lookup\n");
	printf("%9s %9s %6s %8s %8s %8s %8s %8s %7s %8s %8s %8s %8s %8s %6s\n", "names", "compile_s",
	       "cpu_s", "parse_s", "build_s", "load_ms", "blob_MB", "mem_MB", "B/name", "warm_ns",
	       "warm_M/s", "cold_ns", "cold_M/s", "l34_ns", "wrong");
	for (unsigned int i = 0; i < ns; i++) {
		struct row *r = &rows[i];

		if (run_size(o, sizes[i], nq, r) != 0) {
			fprintf(stderr, "chokepoint-bench: size %zu failed\n", sizes[i]);
			return 1;
		}
		printf("%9zu %9.2f %6.2f %8.2f %8.2f %8.1f %8.2f %8.2f %7.1f %8.0f %8.2f %8.0f %8.2f %8.0f %6zu\n",
		       r->n, r->compile_s, r->compile_cpu, r->parse_s, r->build_s, r->load_ms, r->blob / 1e6,
		       r->mem / 1e6, (double)(r->names_bytes + r->lists_bytes) / (double)r->n,
		       r->warm_ns, 1e3 / r->warm_ns, r->cold_ns, 1e3 / r->cold_ns, r->classify_ns,
		       r->wrong);
		fflush(stdout);
		ok &= r->wrong == 0;
		ok &= bench_sane("compile seconds", r->compile_s, 1e-6, 600);
		ok &= bench_sane("warm ns/lookup", r->warm_ns, 1, 1e6);
		ok &= bench_sane("cold ns/lookup", r->cold_ns, 1, 1e6);
		ok &= bench_sane("classify ns", r->classify_ns, 1, 1e6);
		ok &= bench_sane("bytes per name", (double)r->names_bytes / (double)r->n, 16, 1024);
		ok &= bench_sane("hit share", (double)r->hits / (double)nq, 0.3, 0.7);
	}
	if (ns >= 2) {
		const struct row *a = &rows[0], *b = &rows[ns - 1];

		printf("ratio %zu/%zu names (lookups/s): warm %.2f, cold %.2f\n", b->n, a->n,
		       a->warm_ns / b->warm_ns, a->cold_ns / b->cold_ns);
	}
	return ok ? 0 : 1;
}
