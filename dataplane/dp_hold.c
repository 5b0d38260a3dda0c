/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_hold.c: inspection slots and held segments (see dp_hold.h).
 */
#include <errno.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dp_flow.h"
#include "dp_hold.h"

#define SLOT_NONE UINT32_MAX

int
dp_hold_init(struct dp_hold *h, uint32_t n_slots, struct rte_mempool *pool, int socket)
{
	uint32_t i;

	memset(h, 0, sizeof(*h));
	if (n_slots == 0)
		return -EINVAL;
	h->mem_per_slot = RTE_ALIGN_CEIL(dp_reasm_mem_size(DP_HOLD_WINDOW), RTE_CACHE_LINE_SIZE);
	h->slots = rte_zmalloc_socket("dp_slots", (size_t)n_slots * sizeof(*h->slots),
				      RTE_CACHE_LINE_SIZE, socket);
	h->mem = rte_malloc_socket("dp_slot_mem", (size_t)n_slots * h->mem_per_slot,
				   RTE_CACHE_LINE_SIZE, socket);
	if (h->slots == NULL || h->mem == NULL) {
		dp_hold_fini(h);
		return -ENOMEM;
	}
	h->n = n_slots;
	h->pool = pool;
	for (i = 0; i < n_slots; i++)
		h->slots[i].next_free = i + 1 < n_slots ? i + 1 : SLOT_NONE;
	h->free_head = 0;
	return 0;
}

void
dp_hold_fini(struct dp_hold *h)
{
	uint32_t i;

	if (h->slots != NULL)
		for (i = 0; i < h->n; i++)
			if (h->slots[i].in_use)
				dp_hold_slot_put(h, i);
	rte_free(h->slots);
	rte_free(h->mem);
	memset(h, 0, sizeof(*h));
}

uint32_t
dp_hold_slot_get(struct dp_hold *h, uint32_t fi, uint32_t base_seq, uint32_t cap)
{
	struct dp_slot *s;
	uint32_t id = h->free_head;

	if (id == SLOT_NONE)
		return DP_NO_SLOT;
	s = &h->slots[id];
	h->free_head = s->next_free;
	s->flow = fi;
	s->deadline_ns = 0;
	s->n_segs = 0;
	s->in_use = 1;
	if (cap == 0 || cap > DP_HOLD_WINDOW)
		cap = DP_HOLD_WINDOW;
	dp_reasm_init(&s->ra, h->mem + (size_t)id * h->mem_per_slot, cap, base_seq);
	h->in_use++;
	return id;
}

unsigned int
dp_hold_slot_put(struct dp_hold *h, uint32_t slot)
{
	struct dp_slot *s = &h->slots[slot];
	unsigned int i, n = s->n_segs;

	if (!s->in_use)
		return 0;
	for (i = 0; i < n; i++)
		rte_pktmbuf_free(s->segs[i].m);
	s->n_segs = 0;
	s->in_use = 0;
	s->next_free = h->free_head;
	h->free_head = slot;
	h->in_use--;
	return n;
}

void
dp_hold_release_order(const struct dp_hold_seg *segs, unsigned int n, uint32_t base,
		      uint8_t *order, uint8_t *dup)
{
	unsigned int i, j;
	uint64_t covered = 0;
	int any = 0;

	/* insertion sort by (offset, longer first): n <= DP_HOLD_SEGS */
	for (i = 0; i < n; i++) {
		uint32_t off = segs[i].seq - base;

		for (j = i; j > 0; j--) {
			const struct dp_hold_seg *p = &segs[order[j - 1]];
			uint32_t poff = p->seq - base;

			if (poff < off || (poff == off && p->len >= segs[i].len))
				break;
			order[j] = order[j - 1];
		}
		order[j] = (uint8_t)i;
	}
	/*
	 * Sorted by start, a segment ending at or before the furthest end
	 * released so far lies inside the segment that reached that end
	 * (it starts no later), so it is a duplicate copy.
	 */
	for (i = 0; i < n; i++) {
		const struct dp_hold_seg *s = &segs[order[i]];
		uint64_t end = (uint64_t)(uint32_t)(s->seq - base) + s->len;

		if (any && end <= covered) {
			dup[order[i]] = 1;
			continue;
		}
		dup[order[i]] = 0;
		if (end > covered)
			covered = end;
		any = 1;
	}
}
