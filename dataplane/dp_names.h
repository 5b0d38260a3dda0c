/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_names.h: per-worker interning of the names flows were decided on, so a
 * flow carries a 4-byte id instead of 256 bytes and flow.end can repeat the
 * name of its flow.decision. Reference counted: a name lives while a flow
 * holds it. Bounded: when every slot is taken the flow simply holds no id
 * and its flow.end has no name.
 *
 * The index is an open-addressing table of its own (linear probing,
 * backward-shift deletion, at most half full): 8-byte entries of the name's
 * 32-bit CRC and its slot id, so a lookup is one hash of the name, one or
 * two entries of one cache line and the slot's bytes; rte_hash cost a
 * second hash, its bucket and key lines and a free-slot ring per insert.
 */
#ifndef CHOKEPOINT_DP_NAMES_H
#define CHOKEPOINT_DP_NAMES_H

#include <stdint.h>

#include <rte_hash_crc.h>
#include <rte_prefetch.h>

#include "dp_proto.h"

struct dp_name_slot {
	uint32_t refs;
	uint8_t kind;            /* enum dp_name_kind */
	uint8_t len;
	char name[DP_NAME_MAX + 1];
};

struct dp_names_ent {
	uint32_t hash;           /* dp_names_hash() of the slot's name */
	uint32_t id;             /* slot index + 1; 0: empty */
};

struct dp_names {
	struct dp_names_ent *ix; /* mask + 1 entries, a power of two >= 2 x capacity */
	uint32_t mask;
	struct dp_name_slot *slots;
	uint32_t *free_stack;
	uint32_t n_free;
	uint32_t capacity;
};

int dp_names_init(struct dp_names *n, const char *name, uint32_t capacity, int socket);
void dp_names_free(struct dp_names *n);

/* Intern (kind, name): an id (reference taken) or DP_NO_NAME. */
uint32_t dp_names_get(struct dp_names *n, uint8_t kind, const char *name, uint8_t len);

/* Drop one reference. */
void dp_names_put(struct dp_names *n, uint32_t id);

/* The index hash of (kind, name). */
static inline uint32_t
dp_names_hash(uint8_t kind, const char *name, uint8_t len)
{
	return rte_hash_crc(name, len, 0x9e3779b9u ^ kind);
}

/*
 * Staged prefetch for a dp_names_get() to come (a name is known well before
 * the flow's decision interns it): stage 1 the index entry of hash h, stage 2
 * (once that line has had time to arrive) the slot it names, or the free
 * slot an insert would take. Hints only: no state changes.
 */
static inline void
dp_names_prefetch_ix(const struct dp_names *n, uint32_t h)
{
	if (n->ix != NULL)
		rte_prefetch0(&n->ix[h & n->mask]);
}

static inline void
dp_names_prefetch_slot(const struct dp_names *n, uint32_t h)
{
	const struct dp_names_ent *e;

	if (n->ix == NULL)
		return;
	e = &n->ix[h & n->mask];
	if (e->id != 0 && e->hash == h)
		rte_prefetch0(&n->slots[e->id - 1]);
	else if (e->id == 0 && n->n_free > 0)
		rte_prefetch0(&n->slots[n->free_stack[n->n_free - 1]]);
}

/* The slot of an id (NULL for DP_NO_NAME). */
static inline const struct dp_name_slot *
dp_names_slot(const struct dp_names *n, uint32_t id)
{
	return id < n->capacity ? &n->slots[id] : (const struct dp_name_slot *)0;
}

#endif /* CHOKEPOINT_DP_NAMES_H */
