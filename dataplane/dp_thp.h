/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_thp.h: anonymous memory advised for 2 MiB transparent huge pages, for
 * large tables when EAL has no hugepages (--no-huge): the policy blob copy
 * (dp_policy.c) and the flow table's arrays (dp_flow.c).
 */

#ifndef DP_THP_H
#define DP_THP_H

#include <stddef.h>

#define DP_THP_SIZE ((size_t)2 << 20)

/*
 * A private anonymous mapping of len bytes rounded up to 2 MiB, 2 MiB
 * aligned, madvise(MADV_HUGEPAGE)d, zeroed (untouched). *map_len is set to
 * its length. NULL if mmap or madvise fails (THP "never", old kernel).
 */
void *dp_thp_map(size_t len, size_t *map_len);

/* Fault every page of [p, p + len) in now (writes a zero byte per 4 KiB). */
void dp_thp_prefault(void *p, size_t len);

void dp_thp_unmap(void *p, size_t map_len);

/*
 * Bytes of [p, p + len) backed by huge pages: the AnonHugePages of every
 * mapping inside it in /proc/self/smaps. 0 when unknown.
 */
size_t dp_thp_huge_bytes(const void *p, size_t len);

#endif /* DP_THP_H */
