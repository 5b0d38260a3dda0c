/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_flow.c: the per-worker flow table (see dp_flow.h).
 *
 * Memory per worker, capacity n (PITFALLS 12, rte_cuckoo_hash.c in 22.11):
 * key slots (n + 1) x align16(8 + 56) + buckets align32pow2(n)/8 x 64 B
 * + free-slot ring align32pow2(n) x 4 B + extendable buckets (as many again)
 * + the flow array n x sizeof(struct dp_flow) (~180 B): about 330 B per flow,
 * 21 MB for the default 65536.
 */
#include <errno.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "dp_flow.h"

int
dp_flow_table_init(struct dp_flow_table *t, const char *name, uint32_t capacity,
		   int socket)
{
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = capacity,
		.key_len = sizeof(struct dp_flow_key),
		.hash_func = rte_hash_crc,
		.hash_func_init_val = 0x6d5a6d5a,
		.socket_id = socket,
		/*
		 * Extendable buckets: without them cuckoo inserts fail before
		 * the nominal capacity (PITFALLS 13); with them "full" means
		 * every key slot is taken.
		 */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};

	memset(t, 0, sizeof(*t));
	if (capacity < 8)
		return -EINVAL;
	t->flows = rte_zmalloc_socket("dp_flows", (size_t)capacity * sizeof(struct dp_flow),
				      RTE_CACHE_LINE_SIZE, socket);
	if (t->flows == NULL)
		return -ENOMEM;
	t->h = rte_hash_create(&hp);
	if (t->h == NULL) {
		int err = rte_errno ? -rte_errno : -ENOMEM;

		rte_free(t->flows);
		t->flows = NULL;
		return err;
	}
	t->capacity = capacity;
	return 0;
}

void
dp_flow_table_free(struct dp_flow_table *t)
{
	rte_hash_free(t->h);
	rte_free(t->flows);
	memset(t, 0, sizeof(*t));
}

struct dp_flow *
dp_flow_lookup(struct dp_flow_table *t, const struct dp_flow_key *key)
{
	int32_t pos = rte_hash_lookup(t->h, key);

	if (pos < 0 || (uint32_t)pos >= t->capacity)
		return NULL;
	return &t->flows[pos];
}

void
dp_flow_lookup_bulk(struct dp_flow_table *t, const struct dp_flow_key *const *keys,
		    unsigned int n, struct dp_flow **out)
{
	int32_t pos[RTE_HASH_LOOKUP_BULK_MAX];
	unsigned int i;

	if (n == 0)
		return;
	if (n > RTE_HASH_LOOKUP_BULK_MAX)
		n = RTE_HASH_LOOKUP_BULK_MAX;
	if (rte_hash_lookup_bulk(t->h, (const void **)(uintptr_t)keys, n, pos) != 0) {
		for (i = 0; i < n; i++)
			out[i] = dp_flow_lookup(t, keys[i]);
		return;
	}
	for (i = 0; i < n; i++)
		out[i] = pos[i] >= 0 && (uint32_t)pos[i] < t->capacity ? &t->flows[pos[i]] : NULL;
}

int
dp_flow_insert(struct dp_flow_table *t, const struct dp_flow_key *key, struct dp_flow **out)
{
	struct dp_flow *f;
	int32_t pos;

	pos = rte_hash_lookup(t->h, key);
	if (pos >= 0) {
		*out = &t->flows[pos];
		return -EEXIST;
	}
	pos = rte_hash_add_key(t->h, key);
	if (pos < 0 || (uint32_t)pos >= t->capacity) {
		if (pos >= 0)
			rte_hash_del_key(t->h, key);
		*out = NULL;
		return -ENOSPC;
	}
	f = &t->flows[pos];
	memset(f, 0, sizeof(*f));
	f->key = *key;
	f->slot = DP_NO_SLOT;
	f->name_id = DP_NO_NAME;
	f->rule = -1;
	t->active++;
	*out = f;
	return 0;
}

void
dp_flow_remove(struct dp_flow_table *t, struct dp_flow *f)
{
	if (f->state == DP_FS_FREE)
		return;
	rte_hash_del_key(t->h, &f->key);
	f->state = DP_FS_FREE;
	t->active--;
}

uint64_t
dp_flow_timeout(const struct dp_flow *f, const struct dp_timeouts *to)
{
	if (f->key.l4proto == 6) {
		if (dp_flow_closing(f))
			return to->tcp_closed;
		if (f->state == DP_FS_SYN_SEEN || f->state == DP_FS_MIDWAIT)
			return to->tcp_halfopen;
		return to->tcp_established;
	}
	if (f->key.l4proto == 17)
		return to->udp;
	return to->other;
}

unsigned int
dp_flow_sweep(struct dp_flow_table *t, uint64_t now, const struct dp_timeouts *to,
	      unsigned int budget, struct dp_flow **expired, unsigned int max)
{
	unsigned int n = 0;
	uint32_t pos = t->sweep_pos;

	if (t->active == 0)
		return 0;
	while (budget-- > 0 && n < max) {
		struct dp_flow *f = &t->flows[pos];

		if (++pos == t->capacity)
			pos = 0;
		if (f->state == DP_FS_FREE)
			continue;
		if (now > f->last_ns && now - f->last_ns > dp_flow_timeout(f, to))
			expired[n++] = f;
	}
	t->sweep_pos = pos;
	return n;
}

unsigned int
dp_flow_iter(struct dp_flow_table *t, uint32_t *pos, struct dp_flow **out, unsigned int max)
{
	unsigned int n = 0;

	while (*pos < t->capacity && n < max) {
		struct dp_flow *f = &t->flows[(*pos)++];

		if (f->state != DP_FS_FREE)
			out[n++] = f;
	}
	return n;
}
