/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * siphash.h: SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input
 * PRF", 2012), written from the paper. 128-bit key, 64-bit output. Used for
 * the policy blob's name hash table, keyed with a random per-compile key so
 * that an outsider cannot aim names at one bucket.
 */
#ifndef CHOKEPOINT_SIPHASH_H
#define CHOKEPOINT_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define CPM_SIPHASH_KEY_LEN 16

/* Incremental state: feed the message in any number of pieces. */
struct cpm_siphash {
	uint64_t v0, v1, v2, v3;
	uint64_t tail;          /* up to 7 pending message bytes, little-endian */
	uint64_t total;         /* message length so far */
	unsigned int ntail;
};

void cpm_siphash_init(struct cpm_siphash *s, const uint8_t key[CPM_SIPHASH_KEY_LEN]);
void cpm_siphash_update(struct cpm_siphash *s, const void *data, size_t len);
uint64_t cpm_siphash_final(struct cpm_siphash *s);

/* One-shot SipHash-2-4 of data[0..len). */
uint64_t cpm_siphash24(const uint8_t key[CPM_SIPHASH_KEY_LEN], const void *data, size_t len);

/*
 * One-shot SipHash-2-4 of the message b0 || b1 || data[0..len) (the name
 * table's kind || field || name): the same value as the incremental form,
 * with the state in registers and the words loaded whole.
 */
uint64_t cpm_siphash24_2(const uint8_t key[CPM_SIPHASH_KEY_LEN], uint8_t b0, uint8_t b1,
			 const void *data, size_t len);

#endif /* CHOKEPOINT_SIPHASH_H */
