/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_gens.h: what the audit renderer needs to know about each policy
 * generation the dataplane may still report: its sha256 and its rule ids by
 * index. Events carry (policy_gen, rule index); a flow decided under an old
 * generation can end long after a reload, so old generations are kept until
 * the dataplane that used them is gone (cp_gens_retire) or CP_GENS_KEEP newer
 * ones exist.
 */
#ifndef CHOKEPOINT_CP_GENS_H
#define CHOKEPOINT_CP_GENS_H

#include <stddef.h>
#include <stdint.h>

#define CP_GENS_KEEP 64

struct cp_gen {
	uint64_t gen;
	uint8_t sha256[32];
	uint32_t n_rules;
	char **ids;               /* n_rules NUL-terminated ids */
};

struct cp_gens {
	struct cp_gen *v;         /* ascending gen */
	size_t n;
	size_t cap;
};

void cp_gens_init(struct cp_gens *g);
void cp_gens_free(struct cp_gens *g);
/* Copy ids[0..n) for generation gen (replacing an entry of the same gen). 0 or -ENOMEM. */
int cp_gens_add(struct cp_gens *g, uint64_t gen, const uint8_t sha256[32],
		const char *const *ids, uint32_t n);
const struct cp_gen *cp_gens_find(const struct cp_gens *g, uint64_t gen);
/* Rule id of rule index `rule` under gen; NULL when unknown (gen gone, index out of range). */
const char *cp_gens_rule_id(const struct cp_gens *g, uint64_t gen, int32_t rule);
/* Drop every generation below keep_from. */
void cp_gens_retire(struct cp_gens *g, uint64_t keep_from);

#endif /* CHOKEPOINT_CP_GENS_H */
