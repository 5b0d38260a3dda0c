/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_gens.c: per-generation rule id tables. See cp_gens.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cp_gens.h"

void
cp_gens_init(struct cp_gens *g)
{
	memset(g, 0, sizeof(*g));
}

static void
gen_free(struct cp_gen *e)
{
	for (uint32_t i = 0; i < e->n_rules; i++)
		free(e->ids[i]);
	free(e->ids);
	memset(e, 0, sizeof(*e));
}

void
cp_gens_free(struct cp_gens *g)
{
	for (size_t i = 0; i < g->n; i++)
		gen_free(&g->v[i]);
	free(g->v);
	memset(g, 0, sizeof(*g));
}

static void
drop_first(struct cp_gens *g, size_t k)
{
	for (size_t i = 0; i < k; i++)
		gen_free(&g->v[i]);
	memmove(g->v, g->v + k, (g->n - k) * sizeof(g->v[0]));
	g->n -= k;
}

int
cp_gens_add(struct cp_gens *g, uint64_t gen, const uint8_t sha256[32],
	    const char *const *ids, uint32_t n)
{
	struct cp_gen e = { .gen = gen, .n_rules = n };
	size_t pos;

	memcpy(e.sha256, sha256, 32);
	e.ids = calloc(n > 0 ? n : 1, sizeof(char *));
	if (e.ids == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		e.ids[i] = strdup(ids[i] != NULL ? ids[i] : "");
		if (e.ids[i] == NULL) {
			gen_free(&e);
			return -ENOMEM;
		}
	}
	for (pos = 0; pos < g->n && g->v[pos].gen < gen; pos++)
		;
	if (pos < g->n && g->v[pos].gen == gen) {
		gen_free(&g->v[pos]);
		g->v[pos] = e;
		return 0;
	}
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		struct cp_gen *v = realloc(g->v, cap * sizeof(*v));

		if (v == NULL) {
			gen_free(&e);
			return -ENOMEM;
		}
		g->v = v;
		g->cap = cap;
	}
	memmove(g->v + pos + 1, g->v + pos, (g->n - pos) * sizeof(g->v[0]));
	g->v[pos] = e;
	g->n++;
	if (g->n > CP_GENS_KEEP)
		drop_first(g, g->n - CP_GENS_KEEP);
	return 0;
}

const struct cp_gen *
cp_gens_find(const struct cp_gens *g, uint64_t gen)
{
	for (size_t i = 0; i < g->n; i++)
		if (g->v[i].gen == gen)
			return &g->v[i];
	return NULL;
}

const char *
cp_gens_rule_id(const struct cp_gens *g, uint64_t gen, int32_t rule)
{
	const struct cp_gen *e = cp_gens_find(g, gen);

	if (e == NULL || rule < 0 || (uint32_t)rule >= e->n_rules)
		return NULL;
	return e->ids[rule];
}

void
cp_gens_retire(struct cp_gens *g, uint64_t keep_from)
{
	size_t k = 0;

	while (k < g->n && g->v[k].gen < keep_from)
		k++;
	if (k > 0)
		drop_first(g, k);
}
