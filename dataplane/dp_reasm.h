/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_reasm.h: reassembly of the first bytes of a TCP client stream (the
 * ClientHello or HTTP request head of a pending flow). Pure: no DPDK types,
 * no allocation; the caller provides the memory (a slot of a per-worker
 * pool), sized by dp_reasm_mem_size().
 *
 * The window is [base_seq, base_seq + cap) in TCP sequence space (32-bit,
 * wrapping), base_seq = ISN + 1. Segments are accepted in any order, with
 * duplicates and overlaps; a byte-coverage bitmap records which bytes are
 * present. The first copy of a byte wins: an overlap that brings different
 * bytes is a conflict (PITFALLS: "overlap with different bytes is an
 * anomaly, never silently resolved"); the stored byte is kept and the
 * conflict flag raised.
 *
 *   size_t mem = dp_reasm_mem_size(16384);
 *   dp_reasm_init(&r, slot, 16384, isn + 1);
 *   switch (dp_reasm_add(&r, seq, payload, payload_len)) { ... }
 *   tls_parse_records(dp_reasm_data(&r), dp_reasm_contig(&r), ...);
 */
#ifndef CHOKEPOINT_DP_REASM_H
#define CHOKEPOINT_DP_REASM_H

#include <stddef.h>
#include <stdint.h>

enum dp_reasm_res {
	DP_RA_NEW = 0,          /* at least one new byte stored, no conflict */
	DP_RA_DUP,              /* nothing new: every byte already present and equal
				 * (also a zero-length add) */
	DP_RA_CONFLICT,         /* a byte already present differs (first data kept);
				 * new bytes of the segment are still stored */
	DP_RA_OUT_OF_WINDOW,    /* part (or all) of the segment lies before base_seq
				 * or at/after base_seq + cap; the in-window part is
				 * stored; r->overflow set when it went past the end */
};

struct dp_reasm {
	uint8_t *buf;           /* cap bytes: buf[i] is sequence base_seq + i */
	uint8_t *map;           /* coverage bitmap: bit i set = buf[i] present */
	uint32_t cap;           /* window size in bytes */
	uint32_t base_seq;      /* sequence number of buf[0] (ISN + 1) */
	uint32_t contig;        /* bytes present from buf[0] without a gap */
	uint32_t high;          /* end offset of the furthest byte stored */
	uint32_t segs;          /* non-empty segments added (every result) */
	uint32_t last_new;      /* bytes newly stored by the last dp_reasm_add */
	uint32_t conflict_off;  /* offset of the first conflicting byte (if conflict) */
	uint8_t conflict;       /* an overlap brought different bytes */
	uint8_t ooo;            /* a segment started beyond the contiguous end */
	uint8_t overflow;       /* bytes at/after base_seq + cap were offered */
	uint8_t before_base;    /* bytes before base_seq were offered */
};

/* Bytes of memory dp_reasm_init needs for a window of cap bytes. */
size_t dp_reasm_mem_size(uint32_t cap);

/*
 * Start an empty stream at base_seq over mem (dp_reasm_mem_size(cap) bytes,
 * any alignment). cap must be < 2^31.
 */
void dp_reasm_init(struct dp_reasm *r, void *mem, uint32_t cap, uint32_t base_seq);

/*
 * Add len bytes at sequence seq. Result priority when several apply:
 * CONFLICT, then OUT_OF_WINDOW, then NEW, then DUP. Sequence numbers more
 * than 2^31 before base_seq count as "before base" (RFC 1982 comparison).
 */
enum dp_reasm_res dp_reasm_add(struct dp_reasm *r, uint32_t seq, const uint8_t *data,
			       uint32_t len);

/*
 * Move the window's start forward to new_base (bytes before it are no
 * longer needed: a unit before them was judged). Bytes already stored at
 * or after new_base keep their place in sequence space; contig and high
 * are recomputed from the new start. A new_base at or before base_seq
 * changes nothing. O(cap).
 */
void dp_reasm_rebase(struct dp_reasm *r, uint32_t new_base);

/* Contiguous bytes from base_seq: what the extractors may parse. */
static inline uint32_t
dp_reasm_contig(const struct dp_reasm *r)
{
	return r->contig;
}

/* The stream from base_seq (valid for dp_reasm_contig() bytes). */
static inline const uint8_t *
dp_reasm_data(const struct dp_reasm *r)
{
	return r->buf;
}

/* 1 if byte at offset off (from base_seq) is present. */
static inline int
dp_reasm_has(const struct dp_reasm *r, uint32_t off)
{
	return off < r->cap && (r->map[off >> 3] >> (off & 7)) & 1;
}

/* 1 if bytes past the contiguous prefix are stored (a gap is open). */
static inline int
dp_reasm_has_gap(const struct dp_reasm *r)
{
	return r->high > r->contig;
}

#endif /* CHOKEPOINT_DP_REASM_H */
