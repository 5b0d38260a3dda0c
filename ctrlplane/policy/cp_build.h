/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_build.h: blob-writing helpers shared by cp_compile.c (names, regexes,
 * assembly) and cp_l34.c (address/port sets, rule classes). Internal to
 * ctrlplane/policy (and its tests).
 */
#ifndef CHOKEPOINT_CP_BUILD_H
#define CHOKEPOINT_CP_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpm_blob.h"
#include "cp_config.h"

/* A growable section. */
struct cp_buf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

/* Append n bytes (zeros if d is NULL); returns the offset they start at. */
size_t cp_buf_add(struct cp_buf *b, const void *d, size_t n);

/*
 * Address, port and protocol conditions: every rule's src/dst/dport sets,
 * internal and trusted (h->internal, h->trusted, rule src/dst/ports), and
 * the rule classes of the four dimensions (h->dims), appended to the IMAPS,
 * KEYS32, KEYS128, VALUES, INDEX and CLASSES sections. rules[] are the
 * blob's rules in config order, already filled but for those fields.
 * Returns 0 or -ENOMEM.
 */
int cp_l34_build(const struct cp_config *cfg, struct cpm_blob_hdr *h,
		 struct cpm_blob_rule *rules, struct cp_buf *sect);

/* Default cap on the bytes of rule classes; a dimension that would exceed
 * it is left out (the matcher then confirms candidates rule by rule). */
#define CP_CLASS_BUDGET_DEFAULT (64u << 20)

/* Set the cap (tests force the fallback with a tiny one); returns the old. */
size_t cp_l34_set_class_budget(size_t bytes);

#endif /* CHOKEPOINT_CP_BUILD_H */
