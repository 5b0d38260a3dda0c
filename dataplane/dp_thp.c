/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_thp.c: anonymous memory advised for transparent huge pages (dp_thp.h).
 */

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#include "dp_thp.h"

void *
dp_thp_map(size_t len, size_t *map_len)
{
	size_t mlen, room, head;
	uint8_t *raw, *p;

	if (len == 0 || len > SIZE_MAX - 2 * DP_THP_SIZE)
		return NULL;
	mlen = (len + DP_THP_SIZE - 1) & ~(DP_THP_SIZE - 1);
	room = mlen + DP_THP_SIZE;
	raw = mmap(NULL, room, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	/* keep the 2 MiB aligned part: a huge page needs an aligned 2 MiB range */
	p = (uint8_t *)(((uintptr_t)raw + DP_THP_SIZE - 1) & ~(uintptr_t)(DP_THP_SIZE - 1));
	head = (size_t)(p - raw);
	if (head > 0)
		munmap(raw, head);
	if (room - head > mlen)
		munmap(p + mlen, room - head - mlen);
	if (madvise(p, mlen, MADV_HUGEPAGE) != 0) {
		munmap(p, mlen);
		return NULL;
	}
	*map_len = mlen;
	return p;
}

void
dp_thp_prefault(void *p, size_t len)
{
	volatile uint8_t *b = p;

	for (size_t o = 0; o < len; o += 4096)
		b[o] = 0;
}

void
dp_thp_unmap(void *p, size_t map_len)
{
	if (p != NULL)
		munmap(p, map_len);
}

size_t
dp_thp_huge_bytes(const void *p, size_t len)
{
	uintptr_t lo = (uintptr_t)p, hi = lo + len;
	char line[512];
	size_t total = 0;
	int inside = 0;
	FILE *f;

	if (p == NULL || len == 0)
		return 0;
	f = fopen("/proc/self/smaps", "re");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long long kb;
		uintmax_t s, e;

		/* a mapping's first line starts "start-end "; its fields "Name: " */
		if (sscanf(line, "%jx-%jx ", &s, &e) == 2) {
			inside = (uintptr_t)s >= lo && (uintptr_t)e <= hi;
			continue;
		}
		if (inside && sscanf(line, "AnonHugePages: %llu kB", &kb) == 1)
			total += (size_t)kb * 1024;
	}
	fclose(f);
	return total;
}
