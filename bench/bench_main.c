/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_main.c: chokepoint-bench command line and shared helpers.
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
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static uint64_t rng = 1;

double
bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double
bench_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double
bench_pcpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void
bench_seed(uint64_t seed)
{
	rng = seed != 0 ? seed : 1;
}

uint64_t
bench_rand(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * UINT64_C(2685821657736338717);
}

char *
bench_mkdir(void)
{
	const char *base = getenv("TMPDIR");
	char *dir;

	if (asprintf(&dir, "%s/chokepoint-bench-XXXXXX", base != NULL ? base : "/tmp") < 0 ||
	    mkdtemp(dir) == NULL) {
		perror("chokepoint-bench: mkdtemp");
		exit(2);
	}
	return dir;
}

void
bench_rmdir(char *dir)
{
	char *cmd;

	/* only ever our own mkdtemp directory */
	if (dir != NULL && strstr(dir, "/chokepoint-bench-") != NULL &&
	    asprintf(&cmd, "rm -rf -- '%s'", dir) > 0) {
		if (system(cmd) != 0)
			fprintf(stderr, "chokepoint-bench: cannot remove %s\n", dir);
		free(cmd);
	}
	free(dir);
}

char *
bench_write(const char *dir, const char *name, const char *text, size_t len)
{
	char *path;
	FILE *f;

	if (asprintf(&path, "%s/%s", dir, name) < 0)
		exit(2);
	f = fopen(path, "w");
	if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "chokepoint-bench: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return path;
}

void
bench_printf(struct bench_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->p != NULL ? t->p + t->len : NULL, t->p != NULL ? t->cap - t->len : 0,
			      fmt, ap);
		va_end(ap);
		if (n < 0)
			exit(2);
		if (t->p != NULL && t->len + (size_t)n < t->cap)
			break;
		t->cap = t->cap ? t->cap * 2 : 1 << 16;
		while (t->cap <= t->len + (size_t)n)
			t->cap *= 2;
		t->p = realloc(t->p, t->cap);
		if (t->p == NULL)
			exit(2);
	}
	t->len += (size_t)n;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double
bench_median(double *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bool
bench_sane(const char *what, double v, double lo, double hi)
{
	if (isfinite(v) && v >= lo && v <= hi)
		return true;
	fprintf(stderr, "chokepoint-bench: smoke: %s = %g, expected %g .. %g\n", what, v, lo, hi);
	return false;
}

size_t
bench_rss(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, rss = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * (size_t)sysconf(_SC_PAGESIZE);
}

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
