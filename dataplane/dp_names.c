/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_names.c: per-worker name interning (see dp_names.h).
 */
#include <errno.h>
#include <string.h>

#include <rte_common.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "dp_flow.h"
#include "dp_names.h"

int
dp_names_init(struct dp_names *n, const char *name, uint32_t capacity, int socket)
{
	uint32_t i, size;

	memset(n, 0, sizeof(*n));
	if (capacity < 8 || capacity > (1u << 30))
		return -EINVAL;
	size = rte_align32pow2(capacity * 2);
	n->slots = rte_zmalloc_socket(name, (size_t)capacity * sizeof(*n->slots),
				      RTE_CACHE_LINE_SIZE, socket);
	n->free_stack = rte_malloc_socket("dp_names_free", (size_t)capacity * sizeof(uint32_t),
					  0, socket);
	n->ix = rte_zmalloc_socket("dp_names_ix", (size_t)size * sizeof(*n->ix),
				   RTE_CACHE_LINE_SIZE, socket);
	if (n->slots == NULL || n->free_stack == NULL || n->ix == NULL) {
		dp_names_free(n);
		return -ENOMEM;
	}
	n->mask = size - 1;
	n->capacity = capacity;
	for (i = 0; i < capacity; i++)
		n->free_stack[i] = capacity - 1 - i;
	n->n_free = capacity;
	return 0;
}

void
dp_names_free(struct dp_names *n)
{
	rte_free(n->ix);
	rte_free(n->slots);
	rte_free(n->free_stack);
	memset(n, 0, sizeof(*n));
}

uint32_t
dp_names_get(struct dp_names *n, uint8_t kind, const char *name, uint8_t len)
{
	struct dp_name_slot *s;
	uint32_t h, i, id;

	if (n->ix == NULL || len == 0)
		return DP_NO_NAME;
	h = dp_names_hash(kind, name, len);
	/* at most half full: an empty entry ends every probe */
	for (i = h & n->mask; n->ix[i].id != 0; i = (i + 1) & n->mask) {
		if (n->ix[i].hash != h)
			continue;
		s = &n->slots[n->ix[i].id - 1];
		if (s->kind == kind && s->len == len && memcmp(s->name, name, len) == 0) {
			s->refs++;
			return n->ix[i].id - 1;
		}
	}
	if (n->n_free == 0)
		return DP_NO_NAME;
	id = n->free_stack[--n->n_free];
	n->ix[i].hash = h;
	n->ix[i].id = id + 1;
	s = &n->slots[id];
	s->refs = 1;
	s->kind = kind;
	s->len = len;
	memcpy(s->name, name, len);
	s->name[len] = '\0';
	return id;
}

/*
 * Remove entry i: move back every later entry of the run that may sit at i
 * (its home is not cyclically in (i, j]), so no probe meets a hole early.
 */
static void
ix_remove(struct dp_names *n, uint32_t i)
{
	uint32_t j = i, home;

	for (;;) {
		j = (j + 1) & n->mask;
		if (n->ix[j].id == 0)
			break;
		home = n->ix[j].hash & n->mask;
		if (((j - home) & n->mask) < ((j - i) & n->mask))
			continue;       /* home in (i, j]: it stays */
		n->ix[i] = n->ix[j];
		i = j;
	}
	n->ix[i].id = 0;
	n->ix[i].hash = 0;
}

void
dp_names_put(struct dp_names *n, uint32_t id)
{
	struct dp_name_slot *s;
	uint32_t i;

	if (id >= n->capacity)
		return;
	s = &n->slots[id];
	if (s->refs == 0 || --s->refs > 0)
		return;
	for (i = dp_names_hash(s->kind, s->name, s->len) & n->mask; n->ix[i].id != 0;
	     i = (i + 1) & n->mask)
		if (n->ix[i].id == id + 1) {
			ix_remove(n, i);
			break;
		}
	n->free_stack[n->n_free++] = id;
}
