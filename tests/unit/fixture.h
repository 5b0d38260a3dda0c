/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fixture.h: read a test fixture from the source tree (CHOKEPOINT_SRC, set by
 * tests/meson.build). Include after <cmocka.h>. A missing, empty or oversized
 * fixture fails the test: a test without its input proves nothing.
 */
#ifndef CHOKEPOINT_TEST_FIXTURE_H
#define CHOKEPOINT_TEST_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Read SRC/rel into buf (at most cap - 1 bytes); returns the length. */
static inline size_t
fixture_read(const char *rel, uint8_t *buf, size_t cap)
{
	const char *src = getenv("CHOKEPOINT_SRC");
	char path[4096];
	FILE *f;
	size_t n;

	if (src == NULL)
		fail_msg("CHOKEPOINT_SRC is not set (tests/meson.build sets it)");
	snprintf(path, sizeof(path), "%s/%s", src, rel);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open fixture %s", path);
	n = fread(buf, 1, cap, f);
	fclose(f);
	if (n == 0 || n == cap)
		fail_msg("fixture %s is empty or too large", path);
	return n;
}

#endif /* CHOKEPOINT_TEST_FIXTURE_H */
