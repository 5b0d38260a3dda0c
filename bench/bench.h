/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bench.h: chokepoint-bench, the benchmark program (not a test: figures go
 * to docs/performance.md). One file per mode; this header holds what they
 * share: timing, a reproducible generator, temporary policy directories and
 * the --smoke sanity checks run by `meson test --suite bench`.
 */
#ifndef CHOKEPOINT_BENCH_H
#define CHOKEPOINT_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_MAX_SIZES 8

struct bench_opts {
	size_t sizes[BENCH_MAX_SIZES];
	unsigned int n_sizes;
	size_t regex;            /* match: regex names in the policy */
	size_t rules[BENCH_MAX_SIZES];  /* cidr: name-less rule counts */
	unsigned int n_rules;
	size_t queries;          /* cold query set size */
	unsigned int reps;       /* timed passes; the median is reported */
	bool smoke;              /* CI: small, and check that figures are sane */
	bool huge;               /* match: load the blob from transparent huge pages */
	uint64_t seed;
};

/* Monotonic seconds (wall clock). */
double bench_now(void);
/*
 * Seconds of CPU this thread has run. Lookups are timed with it: the
 * machine is shared, and wall time would count the time other processes
 * held the CPU (their cache pollution still counts, honestly).
 */
double bench_cpu(void);
/* Seconds of CPU this process has run (compile, which may use threads). */
double bench_pcpu(void);

/* xorshift64*, seeded from opts.seed: the same policies every run. */
void bench_seed(uint64_t seed);
uint64_t bench_rand(void);
static inline uint32_t
bench_below(uint32_t n)
{
	return (uint32_t)((bench_rand() >> 32) % n);
}

/* A fresh directory under $TMPDIR (or /tmp); bench_rmdir removes it and its files. */
char *bench_mkdir(void);
void bench_rmdir(char *dir);
/* Write text to dir/name; returns the malloc'ed path (exits on error). */
char *bench_write(const char *dir, const char *name, const char *text, size_t len);

/* A growable text buffer. */
struct bench_text {
	char *p;
	size_t len, cap;
};
void bench_printf(struct bench_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Median of n doubles (sorts v). */
double bench_median(double *v, unsigned int n);

/* Smoke check: a figure that must be finite and inside [lo, hi]. */
bool bench_sane(const char *what, double v, double lo, double hi);

/* Resident set size of this process, bytes (from /proc/self/statm). */
size_t bench_rss(void);

int bench_match(const struct bench_opts *o);
int bench_cidr(const struct bench_opts *o);
int bench_psl(const struct bench_opts *o);
int bench_mph(const struct bench_opts *o);

#endif /* CHOKEPOINT_BENCH_H */
