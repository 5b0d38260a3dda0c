/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_policy.c: policy load, publish and RCU reclaim (see dp_policy.h).
 */

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "cpm.h"
#include "dp_dns.h"
#include "dp_log.h"
#include "dp_policy.h"
#include "dp_thp.h"

RTE_LOG_REGISTER_SUFFIX(dp_logtype_policy, policy, INFO);

#define DP_POLICY_MAX_BYTES (1ull << 30)

int
dp_policy_init(struct dp_proc *app)
{
	size_t sz = rte_rcu_qsbr_get_memsize(app->cfg.n_workers);
	int ret;

	app->rcu = rte_zmalloc("dp_rcu", sz, RTE_CACHE_LINE_SIZE);
	if (app->rcu == NULL)
		return -ENOMEM;
	ret = rte_rcu_qsbr_init(app->rcu, app->cfg.n_workers);
	if (ret != 0) {
		rte_free(app->rcu);
		app->rcu = NULL;
		return -rte_errno;
	}
	return 0;
}

static void
gen_free(struct dp_gen *g)
{
	unsigned int i;

	if (g == NULL)
		return;
	for (i = 0; i < DP_MAX_WORKERS; i++)
		cpm_scratch_free(g->scratch[i]);
	cpm_policy_free(g->pol);
	free(g->hits);
	if (g->map != NULL)
		munmap((void *)(uintptr_t)g->map, g->map_len);
	free(g);
}

int dp_policy_thp;

#define THP_SIZE DP_THP_SIZE

/*
 * Copy a large blob into anonymous memory the kernel may back with 2 MiB
 * transparent huge pages (MADV_HUGEPAGE, 2 MiB aligned), read-only once
 * written, so the matcher's table reads cost fewer TLB misses than on the
 * memfd's 4 KiB shmem pages. Needs no hugetlbfs reservation (works with
 * --no-huge). On success *map / *map_len become the copy (the memfd mapping
 * is unmapped); on any failure they are left as they were.
 */
static void
blob_to_thp(const void **map, size_t *map_len, size_t blob_len)
{
	size_t len;
	uint8_t *p;

	if (!dp_policy_thp || blob_len < THP_SIZE)
		return;
	p = dp_thp_map(blob_len, &len);
	if (p == NULL)
		return;
	memcpy(p, *map, blob_len);
	if (mprotect(p, len, PROT_READ) != 0) {
		dp_thp_unmap(p, len);
		return;
	}
	munmap((void *)(uintptr_t)*map, *map_len);
	*map = p;
	*map_len = len;
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
 * The workers' DNS binding tables (dp_dns.h), made with the first policy's
 * dns = { grace; max_entries; }. Every worker reads every table without a
 * lock, so a table is never replaced under them, and a new one would forget
 * every binding (clients with cached answers would be refused until they
 * resolve again): a later policy with other dns values is logged and takes
 * effect at the next dataplane start (docs/configuration.md). Called by
 * gen_build (the loader thread, one load at a time): each table is published
 * with a release store (dp_dns.c), so a worker sees it whole or not at all.
 */
static int
dns_tables(struct dp_proc *app, const struct cpm_settings *set, char *err, size_t errlen)
{
	unsigned int i;

	for (i = 0; i < app->cfg.n_workers; i++) {
		if (dp_dns_table_of(i) != NULL)
			continue;
		if (dp_dns_table_create(i, set->dns_max_entries, set->dns_grace_s) == NULL) {
			snprintf(err, errlen, "cannot allocate the DNS binding table of worker %u "
				 "(dns.max_entries %u)", i, set->dns_max_entries);
			return -ENOMEM;
		}
		app->dns_grace_s = set->dns_grace_s;
		app->dns_max_entries = set->dns_max_entries;
	}
	if (set->dns_grace_s != app->dns_grace_s || set->dns_max_entries != app->dns_max_entries)
		DP_LOG(policy, NOTICE, "dns.grace %u / dns.max_entries %u differ from the live "
		       "tables' %u / %u: they take effect at the next dataplane start",
		       set->dns_grace_s, set->dns_max_entries, app->dns_grace_s,
		       app->dns_max_entries);
	return 0;
}

/*
 * Build generation msg->gen aside from fd: map, load (validation included),
 * scratches, hit counters. Touches nothing the workers or the control
 * thread read (but for the DNS tables made at the first policy, published
 * whole: dns_tables): the loader thread runs it. 0 (*out set) or -errno (err).
 */
static int
gen_build(struct dp_proc *app, int fd, const struct dp_msg_policy *msg, struct dp_gen **out,
	  char *err, size_t errlen)
{
	struct dp_gen *g;
	struct stat st;
	int seals, ret;
	unsigned int i;

	if (fd < 0) {
		snprintf(err, errlen, "POLICY without a file descriptor");
		return -EINVAL;
	}
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		snprintf(err, errlen, "fstat on the policy fd: %s", strerror(-ret));
		return ret;
	}
	if (msg->blob_len == 0 || msg->blob_len > DP_POLICY_MAX_BYTES ||
	    (uint64_t)st.st_size < msg->blob_len) {
		snprintf(err, errlen, "policy blob length %llu does not fit the file (%lld bytes)",
			 (unsigned long long)msg->blob_len, (long long)st.st_size);
		return -EINVAL;
	}
	/* the bytes must not change under the matcher: sealed memfd only */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_WRITE | F_SEAL_SHRINK)) != (F_SEAL_WRITE | F_SEAL_SHRINK)) {
		snprintf(err, errlen, "policy fd is not a memfd sealed against write and shrink");
		return -EPERM;
	}
	g = calloc(1, sizeof(*g));
	if (g == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	g->gen = msg->gen;
	g->map_len = msg->blob_len;
	g->map = mmap(NULL, g->map_len, PROT_READ, MAP_SHARED, fd, 0);
	if (g->map == MAP_FAILED) {
		ret = -errno;
		g->map = NULL;
		snprintf(err, errlen, "mmap of the policy blob: %s", strerror(-ret));
		goto err_free;
	}
	blob_to_thp(&g->map, &g->map_len, msg->blob_len);
	ret = cpm_policy_load(g->map, msg->blob_len, &g->pol, err, errlen);
	if (ret != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "policy blob rejected (%d)", ret);
		goto err_free;
	}
	if (memcmp(cpm_policy_sha256(g->pol), msg->sha256, 32) != 0) {
		snprintf(err, errlen, "policy sha256 in the blob differs from the POLICY message");
		ret = -EINVAL;
		goto err_free;
	}
	for (i = 0; i < app->cfg.n_workers; i++) {
		g->scratch[i] = cpm_scratch_alloc(g->pol);
		if (g->scratch[i] == NULL) {
			snprintf(err, errlen, "cannot allocate the matcher scratch for worker %u", i);
			ret = -ENOMEM;
			goto err_free;
		}
	}
	g->set = cpm_settings(g->pol);
	g->n_rules = cpm_rule_count(g->pol);
	/* per worker rows of whole cache lines: n_rules + 1 counters (the last: no rule) */
	g->hits_stride = (uint32_t)RTE_ALIGN_CEIL((size_t)g->n_rules + 1,
						  RTE_CACHE_LINE_SIZE / sizeof(uint64_t));
	g->hits = aligned_alloc(RTE_CACHE_LINE_SIZE,
				(size_t)g->hits_stride * app->cfg.n_workers * sizeof(uint64_t));
	if (g->hits == NULL) {
		snprintf(err, errlen, "cannot allocate the rule hit counters");
		ret = -ENOMEM;
		goto err_free;
	}
	memset(g->hits, 0, (size_t)g->hits_stride * app->cfg.n_workers * sizeof(uint64_t));
	memcpy(g->sha256, msg->sha256, 32);
	ret = dns_tables(app, g->set, err, errlen);
	if (ret != 0)
		goto err_free;
	*out = g;
	return 0;

err_free:
	gen_free(g);
	return ret < 0 ? ret : -EINVAL;
}

/* Make g live (control thread): one pointer store, the old one retired. */
static void
gen_publish(struct dp_proc *app, struct dp_gen *g)
{
	struct dp_gen *old;
	char hex[65];

	old = app->gen;
	__atomic_store_n(&app->gen, g, __ATOMIC_RELEASE);
	if (old != NULL) {
		old->token = rte_rcu_qsbr_start(app->rcu);
		old->next = app->retired;
		app->retired = old;
	}
	hex32(g->sha256, hex);
	DP_LOG(policy, NOTICE, "policy generation %llu live: %u rules, %s mode, sha256:%s",
	       (unsigned long long)g->gen, g->n_rules,
	       g->set->mode == CPM_MODE_MONITOR ? "monitor" : "enforce", hex);
}

int
dp_policy_apply(struct dp_proc *app, int fd, const struct dp_msg_policy *msg,
		char *err, size_t errlen)
{
	struct dp_gen *g = NULL;
	int ret;

	ret = gen_build(app, fd, msg, &g, err, errlen);
	if (ret == 0)
		gen_publish(app, g);
	return ret;
}

/* ------------------------------------------------------------- loader */

struct dp_policy_load {
	struct dp_proc *app;
	int fd;                  /* our own copy of the sealed memfd */
	struct dp_msg_policy msg;
	pthread_t tid;
	int started;
	int done;                /* set (release) by the loader thread when it returns */
	int ret;
	struct dp_gen *g;        /* built, not live */
	uint64_t t0_ns, build_ns;
	char err[DP_REASON_TEXT_MAX];
};

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *
loader_main(void *arg)
{
	struct dp_policy_load *l = arg;

	l->ret = gen_build(l->app, l->fd, &l->msg, &l->g, l->err, sizeof(l->err));
	l->build_ns = mono_ns() - l->t0_ns;
	__atomic_store_n(&l->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

struct dp_policy_load *
dp_policy_load_new(struct dp_proc *app, int fd, const struct dp_msg_policy *msg)
{
	struct dp_policy_load *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	l->app = app;
	l->msg = *msg;
	l->fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (fd >= 0 && l->fd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

int
dp_policy_load_start(struct dp_policy_load *l)
{
	int ret;

	l->t0_ns = mono_ns();
	ret = pthread_create(&l->tid, NULL, loader_main, l);
	if (ret != 0)
		return -ret;
	l->started = 1;
	return 0;
}

uint64_t
dp_policy_load_gen(const struct dp_policy_load *l)
{
	return l->msg.gen;
}

int
dp_policy_load_done(const struct dp_policy_load *l)
{
	return __atomic_load_n(&l->done, __ATOMIC_ACQUIRE);
}

int
dp_policy_load_finish(struct dp_proc *app, struct dp_policy_load *l, char *err, size_t errlen)
{
	int ret;

	pthread_join(l->tid, NULL);
	l->started = 0;
	ret = l->ret;
	if (ret == 0) {
		gen_publish(app, l->g);
		l->g = NULL;
		DP_LOG(policy, INFO, "policy generation %llu built in %.1f ms by the loader thread",
		       (unsigned long long)l->msg.gen, (double)l->build_ns / 1e6);
	} else {
		snprintf(err, errlen, "%s", l->err[0] != '\0' ? l->err : strerror(-ret));
	}
	dp_policy_load_free(l);
	return ret;
}

void
dp_policy_load_free(struct dp_policy_load *l)
{
	if (l == NULL)
		return;
	if (l->started)
		pthread_join(l->tid, NULL);
	gen_free(l->g);
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

uint64_t
dp_gen_hits(const struct dp_gen *g, unsigned int n_workers, uint32_t r)
{
	uint64_t t = 0;

	for (unsigned int w = 0; w < n_workers; w++)
		t += __atomic_load_n(&g->hits[(size_t)w * g->hits_stride + r], __ATOMIC_RELAXED);
	return t;
}

void
dp_policy_reclaim(struct dp_proc *app)
{
	struct dp_gen **pp = &app->retired;

	while (*pp != NULL) {
		struct dp_gen *g = *pp;

		if (rte_rcu_qsbr_check(app->rcu, g->token, false) == 1) {
			*pp = g->next;
			DP_LOG(policy, DEBUG, "policy generation %llu freed",
			       (unsigned long long)g->gen);
			gen_free(g);
		} else {
			pp = &g->next;
		}
	}
}

void
dp_policy_fini(struct dp_proc *app)
{
	while (app->retired != NULL) {
		struct dp_gen *g = app->retired;

		app->retired = g->next;
		gen_free(g);
	}
	gen_free(app->gen);
	app->gen = NULL;
	rte_free(app->rcu);
	app->rcu = NULL;
}
