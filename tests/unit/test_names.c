/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_names.c: the per-worker name table (dp_names.c) against a naive
 * reference: 300,000 random gets and puts over 5,000 names of two kinds in
 * a table of 1,024 slots (its index of 2,048 entries often full to half,
 * so probe runs are long and every deletion shifts entries back), checking
 * after each step that a held name has one id, its slot's bytes and kind,
 * a full table refuses, and at the end, everything put, the index is empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_eal.h>

#include "dp_flow.h"
#include "dp_names.h"

#define UNIVERSE 5000
#define CAP 1024
#define STEPS 300000

struct ref {
	uint32_t refs;
	uint32_t id;
};

static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int
name_of(uint32_t k, char *buf)
{
	/* a few shapes and lengths; names k and k + UNIVERSE / 2 share bytes, not kind */
	uint32_t b = k % (UNIVERSE / 2);

	return snprintf(buf, 64, b % 3 ? "api%u.vendor%u.example" : "h%u.x%u", b * 7919u,
			b % 97);
}

static uint8_t
kind_of(uint32_t k)
{
	return k < UNIVERSE / 2 ? DP_NAME_SNI : DP_NAME_HOST;
}

static void
test_against_reference(void **state)
{
	static struct ref ref[UNIVERSE];
	struct dp_names n;
	uint64_t r = 0x2545f4914f6cdd1dull;
	uint32_t held = 0, ids_used[CAP];
	char buf[64];

	(void)state;
	memset(ref, 0, sizeof(ref));
	memset(ids_used, 0, sizeof(ids_used));
	assert_int_equal(dp_names_init(&n, "test_names", CAP, 0), 0);
	for (uint32_t step = 0; step < STEPS; step++) {
		uint32_t k = (uint32_t)(next_rand(&r) % UNIVERSE);
		int len = name_of(k, buf);
		/* more gets than puts while filling, then balanced */
		int get = (next_rand(&r) % 100) < (held < CAP ? 55u : 45u);

		if (get) {
			uint32_t id = dp_names_get(&n, kind_of(k), buf, (uint8_t)len);

			if (ref[k].refs > 0) {
				assert_int_equal(id, ref[k].id);
				ref[k].refs++;
			} else if (held == CAP) {
				assert_int_equal(id, DP_NO_NAME);       /* full: refused */
			} else {
				const struct dp_name_slot *s = dp_names_slot(&n, id);

				assert_true(id < CAP);
				assert_int_equal(ids_used[id], 0);      /* not another name's */
				assert_non_null(s);
				assert_int_equal(s->kind, kind_of(k));
				assert_int_equal(s->len, len);
				assert_memory_equal(s->name, buf, (size_t)len);
				assert_int_equal(s->name[len], '\0');
				ids_used[id] = 1;
				ref[k].refs = 1;
				ref[k].id = id;
				held++;
			}
		} else if (ref[k].refs > 0) {
			dp_names_put(&n, ref[k].id);
			if (--ref[k].refs == 0) {
				ids_used[ref[k].id] = 0;
				held--;
			}
		}
		assert_int_equal(n.n_free, CAP - held);
	}
	/* every held name still found under its id (no entry lost by a shift) */
	for (uint32_t k = 0; k < UNIVERSE; k++) {
		if (ref[k].refs == 0)
			continue;
		int len = name_of(k, buf);

		assert_int_equal(dp_names_get(&n, kind_of(k), buf, (uint8_t)len), ref[k].id);
		dp_names_put(&n, ref[k].id);
		while (ref[k].refs-- > 0)
			dp_names_put(&n, ref[k].id);
	}
	assert_int_equal(n.n_free, CAP);
	for (uint32_t i = 0; i <= n.mask; i++)
		assert_int_equal(n.ix[i].id, 0);
	/* an empty name and an id out of range are refused / ignored */
	assert_int_equal(dp_names_get(&n, DP_NAME_SNI, "x", 0), DP_NO_NAME);
	dp_names_put(&n, CAP + 5);
	assert_int_equal(n.n_free, CAP);
	dp_names_free(&n);
}

int
main(void)
{
	char prefix[64];
	char *argv[] = { "test_names", "--no-huge", "-m", "64", "--no-pci", "--no-telemetry",
			 "--log-level", "*:error", "--file-prefix", prefix, NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_reference),
	};
	int rc;

	snprintf(prefix, sizeof(prefix), "test_names_%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0) {
		fprintf(stderr, "test_names: EAL init failed\n");
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	return rc;
}
