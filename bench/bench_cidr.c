/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_cidr.c: `chokepoint-bench cidr`: the per-new-flow cost of address,
 * port and protocol conditions as they grow.
 *
 * Part 1, CIDR entries: a deny list of N destination CIDRs (dst_file, 80%
 * IPv4 /16../32, 20% IPv6 /32../128) and an allow list of N/10 source CIDRs
 * (src_file) in one small policy; N = 10 and 100,000 by default.
 * Part 2, rules: R name-less rules (each one /24 destination, one port, TCP
 * or UDP) ahead of a name rule and the default; R = 10 and 10,000; and the
 * same policies compiled without room for rule classes (the matcher's
 * fallback: candidates confirmed rule by rule, i.e. a walk of the rules).
 * Flows: half of them inside an entry/rule, half anywhere; cpm_classify_l34
 * (the first packet's decision) and cpm_match without a name, warm (256
 * flows again and again) and cold (1M distinct flows).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cpm.h"
#include "cpm_blob.h"
#include "cp_build.h"
#include "cp_policy.h"

#define WARM_SET 256

struct flow {
	uint8_t family, l4;
	uint16_t dport;
	uint8_t src[16], dst[16];
	int32_t inside;          /* the rule the generator aimed at, -1 none */
};

struct entry {
	uint8_t family, plen;
	uint8_t addr[16];
};

static void
random_entry(struct entry *e, bool v4only)
{
	memset(e, 0, sizeof(*e));
	e->family = v4only || bench_below(5) ? 4 : 6;
	if (e->family == 4) {
		e->plen = (uint8_t)(16 + bench_below(17));
		for (int b = 0; b < 4; b++)
			e->addr[b] = (uint8_t)bench_below(256);
		e->addr[0] = (uint8_t)(1 + bench_below(223));
		if (e->addr[0] == 10 || e->addr[0] == 127 || e->addr[0] == 169)
			e->addr[0] = 44;
	} else {
		e->plen = (uint8_t)(32 + bench_below(97));
		e->addr[0] = 0x20;
		e->addr[1] = (uint8_t)(1 + bench_below(15));
		for (int b = 2; b < 16; b++)
			e->addr[b] = (uint8_t)bench_below(256);
	}
	for (unsigned int b = 0; b < 16; b++) {
		unsigned int keep = b * 8 >= e->plen ? 0 : e->plen - b * 8 >= 8 ? 8 : e->plen - b * 8;

		e->addr[b] &= (uint8_t)(0xff00 >> keep);
	}
}

static void
entry_text(struct bench_text *t, const struct entry *e)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(e->family == 4 ? AF_INET : AF_INET6, e->addr, a, sizeof(a));
	bench_printf(t, "%s/%u", a, e->plen);
}

/* An address inside e. */
static void
inside(const struct entry *e, uint8_t *a)
{
	unsigned int len = e->family == 4 ? 4 : 16;

	memcpy(a, e->addr, len);
	for (unsigned int b = e->plen; b < len * 8; b++)
		if (bench_below(2))
			a[b / 8] |= (uint8_t)(0x80 >> (b % 8));
}

static void
anywhere(uint8_t family, uint8_t *a)
{
	memset(a, 0, 16);
	for (int b = 0; b < (family == 4 ? 4 : 16); b++)
		a[b] = (uint8_t)bench_below(256);
	if (family == 4)
		a[0] = (uint8_t)(11 + bench_below(150));   /* never 10/8 (internal) or 169.254 */
	else
		a[0] = 0x20;
}

static void
fill_query(struct cpm_query *q, const struct flow *f)
{
	q->family = f->family;
	q->l4proto = f->l4;
	q->sport = 40000;
	q->dport = f->dport;
	memcpy(q->src, f->src, 16);
	memcpy(q->dst, f->dst, 16);
	q->field = CPM_FIELD_NONE;
	q->name = NULL;
	q->name_len = 0;
}

static double
time_flows(const struct cpm_policy *p, struct cpm_scratch *s, const struct flow *fl, size_t n,
	   size_t iters, bool match, int64_t *sink)
{
	struct cpm_query q;
	struct cpm_verdict v;
	double t0 = bench_cpu();

	for (size_t it = 0; it < iters; it++) {
		for (size_t i = 0; i < n; i++) {
			fill_query(&q, &fl[i]);
			if (match)
				cpm_match(p, s, &q, &v);
			else
				*sink += cpm_classify_l34(p, &q, &v);
			*sink += v.rule;
		}
	}
	return (bench_cpu() - t0) * 1e9 / (double)(n * iters);
}

struct result {
	double compile_s, warm_ns, cold_ns, match_ns;
	size_t blob, classes;
	bool exact;
	size_t wrong;
};

/* work: lookups of the warm loop (the fallback walk is slow: fewer) */
static int
measure(const struct bench_opts *o, const char *conf, const struct flow *fl, size_t nq,
	size_t work, struct result *r)
{
	struct cp_policy *cp = NULL;
	struct cpm_policy *p = NULL;
	struct cpm_scratch *s;
	const struct cpm_blob_hdr *h;
	char err[4096];
	double t0 = bench_pcpu(), passes[16];
	unsigned int reps = o->reps < 16 ? o->reps : 16;
	size_t w = nq < WARM_SET ? nq : WARM_SET;
	int64_t sink = 0;

	if (cp_policy_compile_file(conf, &cp, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s", err);
		return -1;
	}
	r->compile_s = bench_pcpu() - t0;
	if (cpm_policy_load(cp->blob, cp->blob_len, &p, err, sizeof(err)) != 0 ||
	    (s = cpm_scratch_alloc(p)) == NULL) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	h = (const void *)cp->blob;
	r->blob = cp->blob_len;
	r->classes = h->dims.n_classes;
	r->exact = h->dims.port != CPM_MAP_ANY && h->dims.src[0] != CPM_MAP_ANY &&
		   h->dims.src[1] != CPM_MAP_ANY && h->dims.dst[0] != CPM_MAP_ANY &&
		   h->dims.dst[1] != CPM_MAP_ANY;
	/* a flow aimed inside rule k is decided by k or an earlier rule; classify == match */
	r->wrong = 0;
	for (size_t i = 0; i < nq; i++) {
		struct cpm_query q;
		struct cpm_verdict a, b;
		int c;

		fill_query(&q, &fl[i]);
		c = cpm_classify_l34(p, &q, &a);
		cpm_match(p, s, &q, &b);
		if ((fl[i].inside >= 0 && (b.rule < 0 || b.rule > fl[i].inside)) ||
		    (c == CPM_DECIDED && (a.rule != b.rule || a.action != b.action)))
			r->wrong++;
	}
	time_flows(p, s, fl, w, work / w / 10 + 1, false, &sink);
	for (unsigned int k = 0; k < reps; k++)
		passes[k] = time_flows(p, s, fl, w, work / w + 1, false, &sink);
	r->warm_ns = bench_median(passes, reps);
	time_flows(p, s, fl, nq, 1, false, &sink);
	for (unsigned int k = 0; k < reps; k++)
		passes[k] = time_flows(p, s, fl, nq, 1, false, &sink);
	r->cold_ns = bench_median(passes, reps);
	for (unsigned int k = 0; k < reps; k++)
		passes[k] = time_flows(p, s, fl, nq, 1, true, &sink);
	r->match_ns = bench_median(passes, reps);
	cpm_scratch_free(s);
	cpm_policy_free(p);
	cp_policy_free(cp);
	if (sink == 42)
		putchar(' ');
	return 0;
}

/* Part 1: n destination CIDRs, n/10 source CIDRs. */
static int
entries_case(const struct bench_opts *o, size_t n, size_t nq, struct result *r)
{
	struct bench_text dst = { 0 }, src = { 0 }, conf = { 0 };
	size_t nsrc = n / 10 + 1;
	struct entry *de = calloc(n, sizeof(*de)), *se = calloc(nsrc, sizeof(*se));
	struct flow *fl = calloc(nq, sizeof(*fl));
	char *dir = bench_mkdir(), *path;
	int rc;

	if (de == NULL || se == NULL || fl == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		random_entry(&de[i], false);
		entry_text(&dst, &de[i]);
		bench_printf(&dst, "\n");
	}
	for (size_t i = 0; i < nsrc; i++) {
		random_entry(&se[i], false);
		entry_text(&src, &se[i]);
		bench_printf(&src, "\n");
	}
	free(bench_write(dir, "dst.txt", dst.p, dst.len));
	free(bench_write(dir, "src.txt", src.p, src.len));
	bench_printf(&conf,
		     "default = \"allow\";\n"
		     "rules = (\n"
		     "  { id = \"imds\"; action = \"deny\"; dst = [\"169.254.169.254/32\"]; },\n"
		     "  { id = \"blocklist\"; action = \"deny\"; dst_file = \"dst.txt\"; },\n"
		     "  { id = \"vpn\"; action = \"allow\"; src_file = \"src.txt\"; dport = [443]; },\n"
		     "  { id = \"named\"; action = \"deny\"; sni = [\"x.example.com\"]; }\n"
		     ");\n");
	path = bench_write(dir, "policy.conf", conf.p, conf.len);
	for (size_t i = 0; i < nq; i++) {
		struct flow *f = &fl[i];
		uint32_t k = bench_below(4);

		/* UDP never to 443: quic = "deny" would decide it before any rule */
		f->l4 = bench_below(4) ? 6 : 17;
		f->dport = f->l4 == 6 && bench_below(2) ? 443 : (uint16_t)(1024 + bench_below(60000));
		f->inside = -1;
		if (k == 0) {            /* inside a blocked destination */
			const struct entry *e = &de[bench_below((uint32_t)n)];

			f->family = e->family;
			inside(e, f->dst);
			anywhere(f->family, f->src);
			f->inside = 1;
		} else if (k == 1) {     /* from a listed source */
			const struct entry *e = &se[bench_below((uint32_t)nsrc)];

			f->family = e->family;
			inside(e, f->src);
			anywhere(f->family, f->dst);
		} else {
			f->family = bench_below(5) ? 4 : 6;
			anywhere(f->family, f->src);
			anywhere(f->family, f->dst);
		}
	}
	rc = measure(o, path, fl, nq, o->smoke ? 20000 : 2000000, r);
	free(path);
	free(dst.p);
	free(src.p);
	free(conf.p);
	free(de);
	free(se);
	free(fl);
	bench_rmdir(dir);
	return rc;
}

/* Part 2: n name-less rules. */
static int
rules_case(const struct bench_opts *o, size_t n, size_t nq, struct result *r, struct result *walk)
{
	static const uint16_t ports[] = { 22, 25, 53, 80, 123, 443, 465, 587, 993, 995, 3306,
					  5432, 6379, 8080, 8443, 9200 };
	struct bench_text conf = { 0 };
	struct entry *re = calloc(n, sizeof(*re));
	uint16_t *rp = calloc(n, sizeof(*rp));
	uint8_t *rl4 = calloc(n, 1);
	struct flow *fl = calloc(nq, sizeof(*fl));
	char *dir = bench_mkdir(), *path;
	int rc;

	if (re == NULL || rp == NULL || rl4 == NULL || fl == NULL)
		return -1;
	bench_printf(&conf, "default = \"deny\";\nrules = (\n");
	for (size_t i = 0; i < n; i++) {
		random_entry(&re[i], true);
		re[i].plen = 24;
		re[i].addr[3] = 0;
		rp[i] = ports[bench_below(16)];
		rl4[i] = bench_below(3) || rp[i] == 443 ? 6 : 17;   /* UDP 443 is quic's */
		bench_printf(&conf, "  { id = \"r%zu\"; action = \"%s\"; proto = \"%s\"; dst = [\"", i,
			     i % 2 ? "allow" : "deny", rl4[i] == 6 ? "tcp" : "udp");
		entry_text(&conf, &re[i]);
		bench_printf(&conf, "\"]; dport = [%u]; },\n", rp[i]);
	}
	bench_printf(&conf, "  { id = \"web\"; action = \"allow\"; sni = [\".example.com\"]; }\n);\n");
	path = bench_write(dir, "policy.conf", conf.p, conf.len);
	for (size_t i = 0; i < nq; i++) {
		struct flow *f = &fl[i];

		f->family = 4;
		anywhere(4, f->src);
		f->inside = -1;
		if (bench_below(2)) {
			uint32_t k = bench_below((uint32_t)n);

			inside(&re[k], f->dst);
			f->dport = rp[k];
			f->l4 = rl4[k];
			f->inside = (int32_t)k;
		} else {
			anywhere(4, f->dst);
			f->dport = ports[bench_below(16)];
			f->l4 = bench_below(2) || f->dport == 443 ? 6 : 17;
		}
	}
	rc = measure(o, path, fl, nq, o->smoke ? 20000 : 2000000, r);
	if (rc == 0 && walk != NULL) {
		/* the same policy with no room for classes: the matcher's fallback,
		 * a walk confirming rule after rule (what the walk costs without them) */
		size_t old = cp_l34_set_class_budget(1);

		rc = measure(o, path, fl, o->smoke ? nq : nq / 64, o->smoke ? 2000 : 20000, walk);
		cp_l34_set_class_budget(old);
	}
	free(path);
	free(conf.p);
	free(re);
	free(rp);
	free(rl4);
	free(fl);
	bench_rmdir(dir);
	return rc;
}

static bool
report(const char *what, size_t n, const struct result *r)
{
	bool ok = true;

	printf("%-14s %9zu %9.2f %9.2f %8zu %6s %10.0f %10.0f %10.0f %6zu\n", what, n, r->compile_s,
	       r->blob / 1e6, r->classes, r->exact ? "yes" : "no", r->warm_ns, r->cold_ns,
	       r->match_ns, r->wrong);
	fflush(stdout);
	ok &= r->wrong == 0;
	ok &= bench_sane("compile seconds", r->compile_s, 1e-6, 600);
	ok &= bench_sane("warm classify ns", r->warm_ns, 1, 1e6);
	ok &= bench_sane("cold classify ns", r->cold_ns, 1, 1e6);
	ok &= bench_sane("cold match ns", r->match_ns, 1, 1e6);
	return ok;
}

int
bench_cidr(const struct bench_opts *o)
{
	static const size_t full_sizes[] = { 10, 100000 }, full_rules[] = { 10, 10000 };
	const size_t *sizes = o->n_sizes ? o->sizes : full_sizes;
	const size_t *rules = o->n_rules ? o->rules : full_rules;
	unsigned int ns = o->n_sizes ? o->n_sizes : 2, nr = o->n_rules ? o->n_rules : 2;
	size_t nq = o->queries ? o->queries : o->smoke ? 4096 : (size_t)1 << 20;
	struct result first = { 0 }, r;
	bool ok = true;

	printf("chokepoint-bench cidr: %zu cold flows, median of %u passes\n", nq, o->reps);
	printf("# compile_s: CPU seconds of cp_policy_compile_file; ns: CPU per decision\n");
	printf("%-14s %9s %9s %9s %8s %6s %10s %10s %10s %6s\n", "case", "n", "compile_s",
	       "blob_MB", "classes", "exact", "l34_warm", "l34_cold", "match_cold", "wrong");
	for (unsigned int i = 0; i < ns; i++) {
		if (entries_case(o, sizes[i], nq, &r) != 0)
			return 1;
		ok &= report("cidr-entries", sizes[i], &r);
		if (i == 0)
			first = r;
	}
	if (ns >= 2)
		printf("ratio %zu/%zu entries (flows/s, cold classify): %.2f\n", sizes[ns - 1], sizes[0],
		       first.cold_ns / r.cold_ns);
	for (unsigned int i = 0; i < nr; i++) {
		struct result walk;

		if (rules_case(o, rules[i], nq, &r, &walk) != 0)
			return 1;
		ok &= report("nameless-rules", rules[i], &r);
		ok &= report("  (no classes)", rules[i], &walk);
		if (i == 0)
			first = r;
	}
	if (nr >= 2)
		printf("ratio %zu/%zu rules (flows/s, cold classify): %.2f\n", rules[nr - 1], rules[0],
		       first.cold_ns / r.cold_ns);
	return ok ? 0 : 1;
}
