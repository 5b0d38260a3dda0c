/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_psl.c: `chokepoint-bench psl`: what the public-suffix check costs a
 * big list. Every suffix (.x) or glob (*.x) entry is checked with libpsl
 * (psl_is_public_suffix2 over the Debian list); exact names are not. Two
 * list files of N entries that differ only in kind are parsed by the real
 * config parser: the difference is the check's share.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpsl.h>

#include "bench.h"
#include "cp_config.h"

static double
parse_seconds(const char *conf, size_t *names)
{
	struct cp_errs e = { .file = conf };
	struct cp_config cfg;
	char *text;
	size_t len;
	double t0 = bench_cpu(), t;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	if (cp_read_file(conf, &text, &len) != 0)
		return -1;
	rc = cp_config_parse(text, len, &cfg, &e);
	t = bench_cpu() - t0;
	*names = rc == 0 && cfg.n_rules == 1 ? cfg.rules[0].sni.n : 0;
	if (rc != 0)
		fprintf(stderr, "%s", e.buf != NULL ? e.buf : "parse failed\n");
	cp_config_release(&cfg);
	cp_errs_release(&e);
	free(text);
	return rc == 0 ? t : -1;
}

int
bench_psl(const struct bench_opts *o)
{
	size_t n = o->n_sizes ? o->sizes[0] : o->smoke ? 20000 : 1000000, got[2];
	char *dir = bench_mkdir(), *conf, name[64];
	struct bench_text list[2] = { { 0 } };
	double parse[2], t0, call_ns;
	psl_ctx_t *psl;
	int hits = 0;
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		bench_printf(&list[0], "z%zu.d%zu.net\n", i, i % 97);
		bench_printf(&list[1], ".z%zu.d%zu.net\n", i, i % 97);
	}
	free(bench_write(dir, "exact.txt", list[0].p, list[0].len));
	free(bench_write(dir, "suffix.txt", list[1].p, list[1].len));
	for (int k = 0; k < 2; k++) {
		char text[256];

		snprintf(text, sizeof(text), "default = \"deny\";\n"
			 "rules = ( { id = \"l\"; action = \"allow\"; sni_file = \"%s\"; } );\n",
			 k ? "suffix.txt" : "exact.txt");
		conf = bench_write(dir, k ? "suffix.conf" : "exact.conf", text, strlen(text));
		parse[k] = parse_seconds(conf, &got[k]);
		free(conf);
	}
	/* the call alone */
	psl = psl_latest(NULL);
	t0 = bench_cpu();
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "z%zu.d%zu.net", i, i % 97);
		hits += psl_is_public_suffix2(psl != NULL ? psl : psl_builtin(), name,
					      PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE);
	}
	call_ns = (bench_cpu() - t0) * 1e9 / (double)n;
	if (psl != NULL)
		psl_free(psl);
	printf("chokepoint-bench psl: %zu names (%s)\n", n, psl_get_version());
	printf("parse %zu exact names: %.3f s; %zu suffix names (each checked): %.3f s\n", got[0],
	       parse[0], got[1], parse[1]);
	printf("psl_is_public_suffix2: %.0f ns per call (incl. formatting the name), %d public suffixes "
	       "found; the check is %.0f%% of the suffix list's parse time\n", call_ns, hits,
	       100.0 * (parse[1] - parse[0]) / parse[1]);
	ok &= got[0] == n && got[1] == n && hits == 0;
	ok &= bench_sane("exact parse seconds", parse[0], 1e-6, 600);
	ok &= bench_sane("suffix parse seconds", parse[1], 1e-6, 600);
	ok &= bench_sane("psl ns per call", call_ns, 1, 1e6);
	free(list[0].p);
	free(list[1].p);
	bench_rmdir(dir);
	return ok ? 0 : 1;
}
