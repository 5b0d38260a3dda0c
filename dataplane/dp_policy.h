/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_policy.h: policy generations. A loader thread (dp_policy_load_*; the
 * control thread with dp_policy_apply) maps the sealed memfd the control
 * plane sent (read-only), loads it with the one matcher
 * (cpm_policy_load validates everything, Hyperscan version included),
 * allocates one cpm_scratch per worker and publishes the generation with one
 * atomic pointer store. The generation it replaced is retired with an RCU
 * token (rte_rcu_qsbr_start) and freed by a non-blocking check on a later
 * control-loop turn, once every worker has reported a quiescent state.
 * Workers load the pointer once per burst and never keep it across loops.
 */
#ifndef CHOKEPOINT_DP_POLICY_H
#define CHOKEPOINT_DP_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "dp.h"
#include "dp_proto.h"

struct cpm_policy;
struct cpm_scratch;
struct cpm_settings;

struct dp_gen {
	uint64_t gen;
	struct cpm_policy *pol;
	const struct cpm_settings *set;
	struct cpm_scratch *scratch[DP_MAX_WORKERS];
	const void *map;
	size_t map_len;
	uint8_t sha256[32];
	uint32_t n_rules;
	/*
	 * Decisions per rule, per worker: worker w counts rule r (r < 0: no
	 * rule, index n_rules) at hits[w * hits_stride + r] (dp_gen_hit); a
	 * worker's row is whole cache lines. The control thread reads them.
	 */
	uint64_t *hits;
	uint32_t hits_stride;
	uint64_t token;          /* RCU token once retired */
	struct dp_gen *next;     /* retired list */
};

/* The live generation (NULL before the first policy). */
static inline struct dp_gen *
dp_policy_live(struct dp_proc *app)
{
	return __atomic_load_n(&app->gen, __ATOMIC_ACQUIRE);
}

/* Count a decision of worker wid by rule (-1: no rule) in generation g. */
static inline void
dp_gen_hit(const struct dp_gen *g, unsigned int wid, int32_t rule)
{
	uint32_t r = rule < 0 || (uint32_t)rule >= g->n_rules ? g->n_rules : (uint32_t)rule;

	g->hits[(size_t)wid * g->hits_stride + r]++;
}

/* Hits of rule index r (n_rules: no rule) summed over n workers. */
uint64_t dp_gen_hits(const struct dp_gen *g, unsigned int n_workers, uint32_t r);

/* Create the RCU variable for n workers. */
int dp_policy_init(struct dp_proc *app);

/*
 * 1: a blob of 2 MiB or more is copied out of the memfd into anonymous
 * memory advised for transparent huge pages before it is loaded
 * (dp_policy.c, blob_to_thp). 0 (default): loaded from the memfd mapping;
 * the copy made no measurable difference to new flows with 1M names on the
 * reference VM (docs/performance.md, "New flows by policy size").
 */
extern int dp_policy_thp;

/*
 * Load the blob in fd (sealed memfd) announced by msg and make it live.
 * Returns 0, or -errno with err filled (nothing changed).
 */
int dp_policy_apply(struct dp_proc *app, int fd, const struct dp_msg_policy *msg,
		    char *err, size_t errlen);

/*
 * The loader thread (issue 4, item 5): a POLICY is built aside (map, load,
 * per-worker scratches and hit counters) in a thread of its own, so the
 * control thread keeps draining events and answering while a large policy
 * loads; it publishes the result itself (dp_policy_load_finish), with the
 * same pointer store and RCU retirement as dp_policy_apply. Nothing built
 * per generation is a named DPDK object (scratches and counters are plain
 * allocations), so no name can collide between generations. A failed build
 * changes nothing.
 *
 * new: a load of msg from fd (fd is duplicated; the caller keeps its own),
 * not started; NULL when out of memory. start: run it in a new thread
 * (0 or -errno). done: 1 once built (or failed). finish (control thread,
 * done): make it live, or fill err; returns 0 or -errno and frees l. free:
 * discard l (waits for its thread).
 */
struct dp_policy_load;
struct dp_policy_load *dp_policy_load_new(struct dp_proc *app, int fd,
					  const struct dp_msg_policy *msg);
int dp_policy_load_start(struct dp_policy_load *l);
int dp_policy_load_done(const struct dp_policy_load *l);
uint64_t dp_policy_load_gen(const struct dp_policy_load *l);
int dp_policy_load_finish(struct dp_proc *app, struct dp_policy_load *l, char *err,
			  size_t errlen);
void dp_policy_load_free(struct dp_policy_load *l);

/* Free retired generations every worker is done with. Never blocks. */
void dp_policy_reclaim(struct dp_proc *app);

/* Free everything (workers stopped). */
void dp_policy_fini(struct dp_proc *app);

#endif /* CHOKEPOINT_DP_POLICY_H */
