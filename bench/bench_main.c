/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_main.c: chokepoint-bench command line (shared helpers: bench_util.c).
 *
 *   chokepoint-bench match [--sizes 100,10000,100000,1000000] [--regex 1000]
 *   chokepoint-bench cidr  [--sizes 10,100000] [--rules 10,10000]
 *   chokepoint-bench psl   [--sizes 1000000]
 *   chokepoint-bench mph   [--sizes 1000000]        (built with libcmph only)
 *   common: [--queries N] [--reps N] [--seed N] [--smoke]
 *   match: [--huge] maps the blob on transparent huge pages (madvise) first
 *
 * --smoke (meson test --suite bench) runs small sizes and exits 1 if a
 * figure is zero, not finite or absurd, or a query got the wrong verdict;
 * it never judges speed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* The machine is shared: say how busy it was. */
static void
bench_loadavg(const char *when)
{
	FILE *f = fopen("/proc/loadavg", "r");
	char line[128];

	if (f != NULL && fgets(line, sizeof(line), f) != NULL)
		printf("# load average at %s: %s", when, line);
	if (f != NULL)
		fclose(f);
	printf("# cpus online: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
}

static unsigned int
parse_list(const char *s, size_t *out)
{
	unsigned int n = 0;
	char *end;

	while (*s != '\0' && n < BENCH_MAX_SIZES) {
		unsigned long long v = strtoull(s, &end, 10);

		if (end == s || v == 0)
			return 0;
		out[n++] = (size_t)v;
		s = *end == ',' ? end + 1 : end;
		if (*end != ',' && *end != '\0')
			return 0;
	}
	return n;
}

static int
usage(void)
{
	fprintf(stderr,
		"usage: chokepoint-bench match|cidr|psl|mph [--sizes N,N,...] [--rules N,N] [--regex N]\n"
		"                        [--queries N] [--reps N] [--seed N] [--smoke] [--huge]\n");
	return 2;
}

int
main(int argc, char **argv)
{
	struct bench_opts o = { .regex = 1000, .reps = 5, .seed = 0x63686f6b65ULL };
	const char *mode;
	int rc;

	if (argc < 2)
		return usage();
	mode = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--smoke") == 0) {
			o.smoke = true;
			continue;
		}
		if (strcmp(a, "--huge") == 0) {
			o.huge = true;
			continue;
		}
		if (v == NULL)
			return usage();
		i++;
		if (strcmp(a, "--sizes") == 0)
			o.n_sizes = parse_list(v, o.sizes);
		else if (strcmp(a, "--rules") == 0)
			o.n_rules = parse_list(v, o.rules);
		else if (strcmp(a, "--regex") == 0)
			o.regex = strtoul(v, NULL, 10);
		else if (strcmp(a, "--queries") == 0)
			o.queries = strtoul(v, NULL, 10);
		else if (strcmp(a, "--reps") == 0)
			o.reps = (unsigned int)strtoul(v, NULL, 10);
		else if (strcmp(a, "--seed") == 0)
			o.seed = strtoull(v, NULL, 0);
		else
			return usage();
		if ((strcmp(a, "--sizes") == 0 && o.n_sizes == 0) ||
		    (strcmp(a, "--rules") == 0 && o.n_rules == 0))
			return usage();
	}
	if (o.reps == 0)
		o.reps = 1;
	bench_seed(o.seed);
	bench_loadavg("start");
	if (strcmp(mode, "match") == 0)
		rc = bench_match(&o);
	else if (strcmp(mode, "cidr") == 0)
		rc = bench_cidr(&o);
	else if (strcmp(mode, "psl") == 0)
		rc = bench_psl(&o);
	else if (strcmp(mode, "mph") == 0)
		rc = bench_mph(&o);
	else
		return usage();
	bench_loadavg("end");
	return rc;
}
