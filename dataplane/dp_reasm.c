/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_reasm.c: first-bytes reassembly of a TCP client stream over caller
 * memory (see dp_reasm.h). The buffer and its coverage bitmap are walked
 * 64 bytes (one bitmap word) or eight bytes (one bitmap byte) at a time
 * where the bitmap allows.
 */
#include <string.h>

#include "dp_reasm.h"

static inline uint32_t
map_bytes(uint32_t cap)
{
	return (cap + 7) / 8;
}

size_t
dp_reasm_mem_size(uint32_t cap)
{
	return (size_t)cap + map_bytes(cap);
}

void
dp_reasm_init(struct dp_reasm *r, void *mem, uint32_t cap, uint32_t base_seq)
{
	memset(r, 0, sizeof(*r));
	r->buf = mem;
	r->map = (uint8_t *)mem + cap;
	r->cap = cap;
	r->base_seq = base_seq;
	memset(r->map, 0, map_bytes(cap));
}

static void
note_conflict(struct dp_reasm *r, uint32_t off, int *conflict)
{
	if (!r->conflict) {
		r->conflict = 1;
		r->conflict_off = off;
	}
	*conflict = 1;
}

/* Store d[0..n) at offsets [off, off + n), all inside the window. */
static uint32_t
store(struct dp_reasm *r, uint32_t off, const uint8_t *d, uint32_t n, int *conflict)
{
	uint32_t i = off, end = off + n, added = 0;

	while (i < end) {
		uint8_t *m = &r->map[i >> 3];
		const uint8_t *src = d + (i - off);

		if ((i & 63) == 0 && end - i >= 64) {
			/* 64 bytes under one bitmap word: all new or all held */
			uint64_t mw;

			memcpy(&mw, m, sizeof(mw));
			if (mw == 0) {
				memcpy(r->buf + i, src, 64);
				memset(m, 0xff, sizeof(mw));
				added += 64;
				i += 64;
				continue;
			}
			if (mw == UINT64_MAX) {
				if (memcmp(r->buf + i, src, 64) != 0)
					for (uint32_t k = 0; k < 64; k++)
						if (r->buf[i + k] != src[k]) {
							note_conflict(r, i + k, conflict);
							break;
						}
				i += 64;
				continue;
			}
		}
		if ((i & 7) == 0 && end - i >= 8 && (*m == 0 || *m == 0xff)) {
			if (*m == 0) {
				memcpy(r->buf + i, src, 8);
				*m = 0xff;
				added += 8;
			} else if (memcmp(r->buf + i, src, 8) != 0) {
				for (uint32_t k = 0; k < 8; k++)
					if (r->buf[i + k] != src[k]) {
						note_conflict(r, i + k, conflict);
						break;
					}
			}
			i += 8;
			continue;
		}
		if (*m & (1u << (i & 7))) {
			if (r->buf[i] != *src)
				note_conflict(r, i, conflict);
		} else {
			r->buf[i] = *src;
			*m |= (uint8_t)(1u << (i & 7));
			added++;
		}
		i++;
	}
	return added;
}

static void
advance_contig(struct dp_reasm *r)
{
	uint32_t c = r->contig;

	while (c < r->cap) {
		if ((c & 63) == 0 && c + 64 <= r->cap) {
			uint64_t mw;

			memcpy(&mw, &r->map[c >> 3], sizeof(mw));
			if (mw == UINT64_MAX) {
				c += 64;
				continue;
			}
		}
		if ((c & 7) == 0 && r->map[c >> 3] == 0xff) {
			c += 8;         /* bits are only ever set below cap */
			continue;
		}
		if (!((r->map[c >> 3] >> (c & 7)) & 1))
			break;
		c++;
	}
	r->contig = c;
}

enum dp_reasm_res
dp_reasm_add(struct dp_reasm *r, uint32_t seq, const uint8_t *data, uint32_t len)
{
	uint32_t off = seq - r->base_seq;
	int clipped = 0, conflict = 0;

	r->last_new = 0;
	if (len == 0)
		return DP_RA_DUP;
	r->segs++;
	if (off >= 0x80000000u) {               /* starts before base_seq */
		uint32_t before = r->base_seq - seq;

		r->before_base = 1;
		clipped = 1;
		if (len <= before)
			return DP_RA_OUT_OF_WINDOW;
		data += before;
		len -= before;
		off = 0;
	}
	if (off >= r->cap) {
		r->overflow = 1;
		return DP_RA_OUT_OF_WINDOW;
	}
	if (len > r->cap - off) {
		r->overflow = 1;
		clipped = 1;
		len = r->cap - off;
	}
	if (off > r->contig)
		r->ooo = 1;
	r->last_new = store(r, off, data, len, &conflict);
	if (off + len > r->high)
		r->high = off + len;
	if (r->last_new && off <= r->contig)
		advance_contig(r);
	if (conflict)
		return DP_RA_CONFLICT;
	if (clipped)
		return DP_RA_OUT_OF_WINDOW;
	return r->last_new ? DP_RA_NEW : DP_RA_DUP;
}

void
dp_reasm_rebase(struct dp_reasm *r, uint32_t new_base)
{
	uint32_t d = new_base - r->base_seq, keep, i;

	if (d == 0 || d >= 0x80000000u)
		return;
	keep = d < r->cap ? r->cap - d : 0;
	if (keep > 0)
		memmove(r->buf, r->buf + d, keep);
	if ((d & 7) == 0 && keep > 0) {
		memmove(r->map, r->map + d / 8, map_bytes(r->cap) - d / 8);
	} else {
		for (i = 0; i < keep; i++) {
			uint32_t j = i + d;

			if ((r->map[j >> 3] >> (j & 7)) & 1)
				r->map[i >> 3] |= (uint8_t)(1u << (i & 7));
			else
				r->map[i >> 3] &= (uint8_t)~(1u << (i & 7));
		}
	}
	/* nothing is stored at or after keep */
	for (i = keep; i < r->cap && (i & 7) != 0; i++)
		r->map[i >> 3] &= (uint8_t)~(1u << (i & 7));
	if (i < r->cap)
		memset(r->map + i / 8, 0, map_bytes(r->cap) - i / 8);
	r->base_seq = new_base;
	r->high = r->high > d ? r->high - d : 0;
	r->contig = 0;
	r->conflict_off = r->conflict_off > d ? r->conflict_off - d : 0;
	advance_contig(r);
	if (r->contig > r->high)
		r->contig = r->high;
}
