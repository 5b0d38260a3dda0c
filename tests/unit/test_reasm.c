/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_reasm.c: the client-stream reassembler (dp_reasm) in every order,
 * with duplicates, overlaps (equal and conflicting), a window that wraps
 * the 32-bit sequence space and segments past its end; plus a long
 * randomised comparison against a byte-at-a-time reference model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dp_reasm.h"

#define CAP 4096

struct fixture {
	struct dp_reasm r;
	uint8_t *mem;
	uint8_t stream[CAP + 64];       /* what the client sends */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->mem = malloc(dp_reasm_mem_size(CAP));
	if (f->mem == NULL) {
		free(f);
		return -1;
	}
	for (size_t i = 0; i < sizeof(f->stream); i++)
		f->stream[i] = (uint8_t)(i * 7 + 3);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	free(f->mem);
	free(f);
	return 0;
}

/* add stream[off, off+len) at base + off */
static enum dp_reasm_res
add(struct fixture *f, uint32_t off, uint32_t len)
{
	return dp_reasm_add(&f->r, f->r.base_seq + off, f->stream + off, len);
}

static void
test_mem_size(void **state)
{
	(void)state;
	assert_int_equal(dp_reasm_mem_size(0), 0);
	assert_int_equal(dp_reasm_mem_size(1), 2);
	assert_int_equal(dp_reasm_mem_size(8), 9);
	assert_int_equal(dp_reasm_mem_size(16384), 16384 + 2048);
	assert_int_equal(dp_reasm_mem_size(16385), 16385 + 2049);
}

static void
test_in_order(void **state)
{
	struct fixture *f = *state;

	dp_reasm_init(&f->r, f->mem, CAP, 1000);
	assert_int_equal(dp_reasm_contig(&f->r), 0);
	assert_int_equal(add(f, 0, 100), DP_RA_NEW);
	assert_int_equal(dp_reasm_contig(&f->r), 100);
	assert_int_equal(f->r.last_new, 100);
	assert_int_equal(add(f, 100, 517), DP_RA_NEW);
	assert_int_equal(add(f, 617, 3), DP_RA_NEW);
	assert_int_equal(dp_reasm_contig(&f->r), 620);
	assert_memory_equal(dp_reasm_data(&f->r), f->stream, 620);
	assert_int_equal(f->r.segs, 3);
	assert_false(f->r.ooo);
	assert_false(f->r.conflict);
	assert_false(f->r.overflow);
	assert_false(dp_reasm_has_gap(&f->r));
}

static void
test_reverse_order(void **state)
{
	struct fixture *f = *state;

	dp_reasm_init(&f->r, f->mem, CAP, 5);
	assert_int_equal(add(f, 300, 100), DP_RA_NEW);
	assert_true(f->r.ooo);
	assert_true(dp_reasm_has_gap(&f->r));
	assert_int_equal(add(f, 200, 100), DP_RA_NEW);
	assert_int_equal(add(f, 100, 100), DP_RA_NEW);
	assert_int_equal(dp_reasm_contig(&f->r), 0);
	assert_true(dp_reasm_has(&f->r, 100));
	assert_false(dp_reasm_has(&f->r, 99));
	assert_int_equal(add(f, 0, 100), DP_RA_NEW);
	assert_int_equal(dp_reasm_contig(&f->r), 400);
	assert_memory_equal(dp_reasm_data(&f->r), f->stream, 400);
	assert_false(dp_reasm_has_gap(&f->r));
	assert_false(f->r.conflict);
}

/* every order of 4 segments (odd sizes, one overlapping its neighbours) */
static void
test_all_permutations(void **state)
{
	struct fixture *f = *state;
	static const uint32_t seg[4][2] = { {0, 13}, {13, 250}, {200, 301}, {501, 7} };
	int perm[4] = {0, 1, 2, 3}, count = 0;

	/* Heap's algorithm, iterative */
	int c[4] = {0, 0, 0, 0}, i = 0;

	for (;;) {
		uint32_t have = 0;

		dp_reasm_init(&f->r, f->mem, CAP, 0xdeadbeef);
		for (int k = 0; k < 4; k++) {
			const uint32_t *s = seg[perm[k]];
			enum dp_reasm_res res = add(f, s[0], s[1]);

			assert_true(res == DP_RA_NEW);
			have += f->r.last_new;
			/* the contiguous prefix only ever shows real stream bytes */
			assert_memory_equal(dp_reasm_data(&f->r), f->stream,
					    dp_reasm_contig(&f->r));
		}
		assert_int_equal(have, 508);
		assert_int_equal(dp_reasm_contig(&f->r), 508);
		assert_false(f->r.conflict);
		/* ooo is set exactly when some segment started past the prefix */
		{
			uint8_t got[512] = {0};
			uint32_t contig = 0;
			int expect_ooo = 0;

			for (int k = 0; k < 4; k++) {
				const uint32_t *s = seg[perm[k]];

				if (s[0] > contig)
					expect_ooo = 1;
				for (uint32_t b = s[0]; b < s[0] + s[1]; b++)
					got[b] = 1;
				while (contig < 508 && got[contig])
					contig++;
			}
			assert_int_equal(f->r.ooo, expect_ooo);
		}
		count++;
		/* next permutation */
		while (i < 4 && c[i] >= i) {
			c[i] = 0;
			i++;
		}
		if (i >= 4)
			break;
		{
			int j = (i % 2) ? c[i] : 0, t = perm[j];

			perm[j] = perm[i];
			perm[i] = t;
		}
		c[i]++;
		i = 1;
	}
	assert_int_equal(count, 24);
}

static void
test_duplicates(void **state)
{
	struct fixture *f = *state;

	dp_reasm_init(&f->r, f->mem, CAP, 77);
	assert_int_equal(add(f, 0, 50), DP_RA_NEW);
	assert_int_equal(add(f, 0, 50), DP_RA_DUP);
	assert_int_equal(f->r.last_new, 0);
	assert_int_equal(add(f, 10, 20), DP_RA_DUP);
	assert_int_equal(add(f, 60, 10), DP_RA_NEW);
	assert_int_equal(add(f, 60, 10), DP_RA_DUP);
	assert_int_equal(f->r.segs, 5);
	/* a zero-length add (pure ACK) is a no-op */
	assert_int_equal(add(f, 0, 0), DP_RA_DUP);
	assert_int_equal(f->r.segs, 5);
	assert_int_equal(dp_reasm_contig(&f->r), 50);
	assert_false(f->r.conflict);
}

static void
test_overlap_equal(void **state)
{
	struct fixture *f = *state;

	dp_reasm_init(&f->r, f->mem, CAP, 0);
	assert_int_equal(add(f, 10, 30), DP_RA_NEW);
	/* covers [0,50): 20 bytes new, 30 equal */
	assert_int_equal(add(f, 0, 50), DP_RA_NEW);
	assert_int_equal(f->r.last_new, 20);
	assert_int_equal(dp_reasm_contig(&f->r), 50);
	assert_memory_equal(dp_reasm_data(&f->r), f->stream, 50);
	assert_false(f->r.conflict);
}

static void
test_overlap_conflict(void **state)
{
	struct fixture *f = *state;
	uint8_t evil[64];

	dp_reasm_init(&f->r, f->mem, CAP, 100);
	assert_int_equal(add(f, 0, 40), DP_RA_NEW);
	/* a "retransmission" of [20, 60) whose byte 33 differs */
	memcpy(evil, f->stream + 20, 40);
	evil[13] ^= 0x55;
	assert_int_equal(dp_reasm_add(&f->r, 100 + 20, evil, 40), DP_RA_CONFLICT);
	assert_true(f->r.conflict);
	assert_int_equal(f->r.conflict_off, 33);
	/* first data kept; the new tail [40,60) still stored */
	assert_int_equal(f->r.last_new, 20);
	assert_int_equal(dp_reasm_contig(&f->r), 60);
	assert_memory_equal(dp_reasm_data(&f->r), f->stream, 60);
	/* a later equal copy is a plain duplicate, the flag stays */
	assert_int_equal(add(f, 0, 60), DP_RA_DUP);
	assert_true(f->r.conflict);
	/* a second conflict keeps the first offset */
	memcpy(evil, f->stream, 8);
	evil[2] ^= 1;
	assert_int_equal(dp_reasm_add(&f->r, 100, evil, 8), DP_RA_CONFLICT);
	assert_int_equal(f->r.conflict_off, 33);
	/* a conflict in an aligned 8-byte block is found too */
	dp_reasm_init(&f->r, f->mem, CAP, 100);
	assert_int_equal(add(f, 0, 64), DP_RA_NEW);
	memcpy(evil, f->stream, 64);
	evil[47] ^= 0x80;
	assert_int_equal(dp_reasm_add(&f->r, 100, evil, 64), DP_RA_CONFLICT);
	assert_int_equal(f->r.conflict_off, 47);
	assert_memory_equal(dp_reasm_data(&f->r), f->stream, 64);
}

static void
test_wrap(void **state)
{
	struct fixture *f = *state;
	uint32_t base = 0xfffffff0u;

	dp_reasm_init(&f->r, f->mem, CAP, base);
	/* [base+16, base+40) has sequence numbers 0..23 after the wrap */
	assert_int_equal(dp_reasm_add(&f->r, 0, f->stream + 16, 24), DP_RA_NEW);
	assert_true(f->r.ooo);
	assert_int_equal(dp_reasm_contig(&f->r), 0);
	/* crossing the wrap: [base+8, base+20) */
	assert_int_equal(dp_reasm_add(&f->r, base + 8, f->stream + 8, 12), DP_RA_NEW);
	assert_int_equal(dp_reasm_add(&f->r, base, f->stream, 8), DP_RA_NEW);
	assert_int_equal(dp_reasm_contig(&f->r), 40);
	assert_memory_equal(dp_reasm_data(&f->r), f->stream, 40);
	/* a sequence number just before the base (pre-wrap) is before base */
	assert_int_equal(dp_reasm_add(&f->r, base - 4, f->stream, 4), DP_RA_OUT_OF_WINDOW);
	assert_true(f->r.before_base);
	assert_false(f->r.overflow);
	/* the wrap with the window end beyond 2^32 and overflow there */
	assert_int_equal(dp_reasm_add(&f->r, base + CAP - 4, f->stream, 8),
			 DP_RA_OUT_OF_WINDOW);
	assert_true(f->r.overflow);
	assert_true(dp_reasm_has(&f->r, CAP - 1));
	assert_false(f->r.conflict);
}

static void
test_out_of_window(void **state)
{
	struct fixture *f = *state;

	dp_reasm_init(&f->r, f->mem, CAP, 5000);
	/* wholly past the end: nothing stored */
	assert_int_equal(add(f, CAP, 10), DP_RA_OUT_OF_WINDOW);
	assert_true(f->r.overflow);
	assert_int_equal(f->r.last_new, 0);
	assert_int_equal(f->r.high, 0);
	/* across the end: the in-window part stored */
	dp_reasm_init(&f->r, f->mem, CAP, 5000);
	assert_int_equal(add(f, CAP - 30, 60), DP_RA_OUT_OF_WINDOW);
	assert_true(f->r.overflow);
	assert_int_equal(f->r.last_new, 30);
	assert_int_equal(f->r.high, CAP);
	assert_memory_equal(dp_reasm_data(&f->r) + CAP - 30, f->stream + CAP - 30, 30);
	/* fill the window: the prefix stops at cap */
	assert_int_equal(add(f, 0, CAP - 30), DP_RA_NEW);
	assert_int_equal(dp_reasm_contig(&f->r), CAP);
	/* partly before base: the in-window part is stored */
	dp_reasm_init(&f->r, f->mem, CAP, 5000);
	assert_int_equal(dp_reasm_add(&f->r, 4990, f->stream, 30), DP_RA_OUT_OF_WINDOW);
	assert_true(f->r.before_base);
	assert_false(f->r.overflow);
	assert_int_equal(dp_reasm_contig(&f->r), 20);
	assert_memory_equal(dp_reasm_data(&f->r), f->stream + 10, 20);
	/* far away (2^31 ahead) counts as before base, never as a huge offset */
	assert_int_equal(dp_reasm_add(&f->r, 5000 + 0x80000000u, f->stream, 30),
			 DP_RA_OUT_OF_WINDOW);
	assert_int_equal(dp_reasm_contig(&f->r), 20);
	/* a conflict outranks out-of-window */
	{
		uint8_t evil[40];

		memcpy(evil, f->stream, 40);
		evil[15] ^= 1;  /* offset 5 after clipping 10 */
		assert_int_equal(dp_reasm_add(&f->r, 4990, evil, 40), DP_RA_CONFLICT);
		assert_int_equal(f->r.conflict_off, 5);
	}
}

static void
test_small_odd_cap(void **state)
{
	uint8_t mem[16];
	struct dp_reasm r;
	const uint8_t d[12] = "abcdefghijk";

	(void)state;
	assert_true(dp_reasm_mem_size(13) <= sizeof(mem));
	/* unaligned memory, cap not a multiple of 8 */
	dp_reasm_init(&r, mem + 1, 13, 42);
	assert_int_equal(dp_reasm_add(&r, 42 + 8, d + 8, 4), DP_RA_NEW);
	assert_int_equal(dp_reasm_add(&r, 42, d, 8), DP_RA_NEW);
	assert_int_equal(dp_reasm_contig(&r), 12);
	assert_int_equal(dp_reasm_add(&r, 42 + 12, d, 5), DP_RA_OUT_OF_WINDOW);
	assert_int_equal(dp_reasm_contig(&r), 13);
	assert_int_equal(r.last_new, 1);
	assert_memory_equal(dp_reasm_data(&r), "abcdefghijk\0a", 13);
}

/*
 * Reference model: one byte at a time, same rules. Random segments (some
 * before base, past the end, overlapping, some with flipped bytes) must give
 * the same result, counters, prefix and bytes as the real code.
 */
struct model {
	uint8_t buf[256];
	uint8_t have[256];
	uint32_t contig, high, conflict_off;
	int conflict, ooo, overflow, before;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static enum dp_reasm_res
model_add(struct model *m, uint32_t cap, int32_t off, const uint8_t *d, uint32_t len)
{
	int newb = 0, conf = 0, clip = 0;

	if (len == 0)
		return DP_RA_DUP;
	for (uint32_t k = 0; k < len; k++) {
		int64_t o = (int64_t)off + k;

		if (o < 0) {
			m->before = 1;
			clip = 1;
			continue;
		}
		if (o >= cap) {
			m->overflow = 1;
			clip = 1;
			continue;
		}
		if (k == 0 || (off < 0 && o == 0)) {
			if ((uint32_t)o > m->contig)
				m->ooo = 1;
		}
		if (m->have[o]) {
			if (m->buf[o] != d[k]) {
				if (!m->conflict)
					m->conflict_off = (uint32_t)o;
				m->conflict = 1;
				conf = 1;
			}
		} else {
			m->have[o] = 1;
			m->buf[o] = d[k];
			newb = 1;
		}
		if ((uint32_t)o + 1 > m->high)
			m->high = (uint32_t)o + 1;
	}
	while (m->contig < cap && m->have[m->contig])
		m->contig++;
	if (conf)
		return DP_RA_CONFLICT;
	if (clip)
		return DP_RA_OUT_OF_WINDOW;
	return newb ? DP_RA_NEW : DP_RA_DUP;
}

static void
test_random_vs_model(void **state)
{
	uint8_t mem[256 + 32], data[300];
	struct dp_reasm r;
	struct model m;

	(void)state;
	for (int round = 0; round < 3000; round++) {
		uint32_t cap = 1 + rnd() % 200;
		uint32_t base = rnd();

		if (round % 3 == 0)
			base = 0xffffffffu - rnd() % 300;   /* near the wrap */
		memset(&m, 0, sizeof(m));
		dp_reasm_init(&r, mem, cap, base);
		for (int k = 0, n = 1 + rnd() % 12; k < n; k++) {
			int32_t off = (int32_t)(rnd() % (cap + 40)) - 20;
			uint32_t len = rnd() % 70;

			/* odd rounds: whole 64-byte bitmap words (the word-wise path) */
			if ((round & 1) && rnd() % 2) {
				off = off < 0 ? off : off & ~63;
				len = rnd() % 200;
			}

			for (uint32_t b = 0; b < len; b++)
				data[b] = (uint8_t)(off + (int32_t)b);  /* the true stream */
			if (rnd() % 8 == 0 && len)
				data[rnd() % len] ^= 0x20;              /* a liar */
			enum dp_reasm_res want = model_add(&m, cap, off, data, len);
			enum dp_reasm_res got = dp_reasm_add(&r, base + (uint32_t)off, data, len);

			assert_int_equal(got, want);
			assert_int_equal(r.contig, m.contig);
			assert_int_equal(r.high, m.high);
			assert_int_equal(r.conflict, m.conflict);
			assert_int_equal(r.ooo, m.ooo);
			assert_int_equal(r.overflow, m.overflow);
			assert_int_equal(r.before_base, m.before);
			if (m.conflict)
				assert_int_equal(r.conflict_off, m.conflict_off);
			for (uint32_t b = 0; b < cap; b++) {
				assert_int_equal(dp_reasm_has(&r, b), m.have[b]);
				if (m.have[b])
					assert_int_equal(r.buf[b], m.buf[b]);
			}
		}
	}
}

/*
 * Rebase: the window moves forward (a unit before new_base was judged); what
 * was stored at or after new_base keeps its sequence number, contig and high
 * follow, and bytes beyond the old end can now be stored.
 */
static void
test_rebase(void **state)
{
	struct fixture *f = *state;
	uint32_t base = 0xfffff000u;           /* the move crosses the 2^32 wrap */

	for (uint32_t d = 1; d < 40; d += 3) {
		dp_reasm_init(&f->r, f->mem, CAP, base);
		assert_int_equal(add(f, 0, 100), DP_RA_NEW);
		assert_int_equal(add(f, 120, 30), DP_RA_NEW);    /* a gap at [100, 120) */
		dp_reasm_rebase(&f->r, base + d);
		assert_int_equal(f->r.base_seq, base + d);
		assert_int_equal(dp_reasm_contig(&f->r), 100 - d);
		assert_int_equal(f->r.high, 150 - d);
		assert_memory_equal(dp_reasm_data(&f->r), f->stream + d, 100 - d);
		for (uint32_t i = 0; i < CAP; i++) {
			uint32_t o = i + d;
			int want = o < 100 || (o >= 120 && o < 150);

			if (dp_reasm_has(&f->r, i) != want)
				fail_msg("d %u: byte %u present %d", d, i, dp_reasm_has(&f->r, i));
		}
		/* the gap filled: contiguous through the old second piece */
		assert_int_equal(dp_reasm_add(&f->r, base + 100, f->stream + 100, 20), DP_RA_NEW);
		assert_int_equal(dp_reasm_contig(&f->r), 150 - d);
		/* a conflicting byte after the move is still seen */
		assert_int_equal(dp_reasm_add(&f->r, base + 10 + d, (const uint8_t *)"\x00", 1) ==
				 DP_RA_CONFLICT, f->stream[10 + d] != 0);
	}
	/* past the end: room again where the old window ended */
	dp_reasm_init(&f->r, f->mem, CAP, base);
	assert_int_equal(add(f, 0, CAP), DP_RA_NEW);
	assert_int_equal(add(f, CAP, 8), DP_RA_OUT_OF_WINDOW);
	dp_reasm_rebase(&f->r, base + 16);
	assert_int_equal(dp_reasm_contig(&f->r), CAP - 16);
	assert_int_equal(dp_reasm_add(&f->r, base + CAP, f->stream + CAP, 16), DP_RA_NEW);
	assert_int_equal(dp_reasm_contig(&f->r), CAP);
	/* a move by the whole window or more empties it; backwards changes nothing */
	dp_reasm_rebase(&f->r, base + 16 + CAP);
	assert_int_equal(dp_reasm_contig(&f->r), 0);
	assert_int_equal(f->r.high, 0);
	assert_false(dp_reasm_has(&f->r, 0));
	dp_reasm_rebase(&f->r, base);
	assert_int_equal(f->r.base_seq, base + 16 + CAP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem_size),
		cmocka_unit_test_setup_teardown(test_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reverse_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_permutations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap_equal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_window, setup, teardown),
		cmocka_unit_test(test_small_odd_cap),
		cmocka_unit_test_setup_teardown(test_rebase, setup, teardown),
		cmocka_unit_test(test_random_vs_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
