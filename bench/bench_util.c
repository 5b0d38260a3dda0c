/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench_util.c: what chokepoint-bench's modes (and bench-acl-compare)
 * share: clocks, a reproducible generator, temporary policy directories,
 * text buffers, medians and the --smoke sanity check.
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

