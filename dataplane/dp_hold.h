/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_hold.h: per-worker inspection slots for pending TCP flows. A slot holds
 * the flow's reassembly window (dp_reasm over slot memory) and the client
 * segments held until the verdict, as copies in the dedicated hold mempool
 * (rte_pktmbuf_copy; the RX mbuf is freed at once, so held data never pins
 * the RX pool, PITFALLS 2). Slots exist only for flows waiting for a name,
 * so the per-flow state stays small (PITFALLS 12).
 *
 * Bounds: DP_HOLD_WINDOW bytes of stream (the policy's hold_max_bytes is
 * clamped to it), DP_HOLD_SEGS segments (hold_max_segments clamped), and
 * the global hold pool (hold_memory_full when empty).
 */
#ifndef CHOKEPOINT_DP_HOLD_H
#define CHOKEPOINT_DP_HOLD_H

#include <stdint.h>

#include "dp_reasm.h"

#define DP_HOLD_WINDOW 16384     /* reassembly window per pending flow */
#define DP_HOLD_SEGS   32        /* held segments per pending flow */

struct rte_mbuf;
struct rte_mempool;

struct dp_hold_seg {
	struct rte_mbuf *m;      /* full frame copy in the hold pool */
	uint32_t seq;            /* TCP seq of its first payload byte */
	uint32_t len;            /* payload bytes */
};

struct dp_slot {
	uint32_t flow;           /* flow index owning the slot, or DP_NO_SLOT-free */
	uint32_t next_free;
	uint64_t deadline_ns;    /* hold timeout; 0 until the first byte arrives */
	struct dp_reasm ra;
	uint16_t n_segs;
	uint8_t in_use;
	struct dp_hold_seg segs[DP_HOLD_SEGS];
};

struct dp_hold {
	struct dp_slot *slots;
	uint8_t *mem;            /* n x dp_reasm_mem_size(DP_HOLD_WINDOW) */
	size_t mem_per_slot;
	uint32_t n;
	uint32_t free_head;
	uint32_t in_use;
	uint32_t sweep_pos;
	struct rte_mempool *pool;
};

int dp_hold_init(struct dp_hold *h, uint32_t n_slots, struct rte_mempool *pool, int socket);
void dp_hold_fini(struct dp_hold *h);

/* Take a free slot for flow index fi with its stream starting at base_seq. */
uint32_t dp_hold_slot_get(struct dp_hold *h, uint32_t fi, uint32_t base_seq, uint32_t cap);

/* Free a slot and every mbuf still held in it; returns the mbufs freed. */
unsigned int dp_hold_slot_put(struct dp_hold *h, uint32_t slot);

static inline struct dp_slot *
dp_hold_slot(struct dp_hold *h, uint32_t slot)
{
	return &h->slots[slot];
}

/*
 * Release order of held segments (pure, unit-tested): sort by sequence
 * (relative to base, wrap-safe) and mark every segment whose bytes are all
 * covered by segments released before it as a duplicate. order[] gets the
 * n indices in release order, dup[i] = 1 for a duplicate of segment i.
 */
void dp_hold_release_order(const struct dp_hold_seg *segs, unsigned int n, uint32_t base,
			   uint8_t *order, uint8_t *dup);

#endif /* CHOKEPOINT_DP_HOLD_H */
