/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_names.c: per-worker name interning (see dp_names.h).
 */
#include <errno.h>
#include <string.h>

#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "dp_flow.h"
#include "dp_names.h"

int
dp_names_init(struct dp_names *n, const char *name, uint32_t capacity, int socket)
{
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = capacity,
		.key_len = sizeof(uint64_t),
		.hash_func = rte_hash_crc,
		.socket_id = socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	uint32_t i;

	memset(n, 0, sizeof(*n));
	if (capacity < 8)
		return -EINVAL;
	n->slots = rte_zmalloc_socket("dp_names", (size_t)capacity * sizeof(*n->slots),
				      RTE_CACHE_LINE_SIZE, socket);
	n->free_stack = rte_malloc_socket("dp_names_free", (size_t)capacity * sizeof(uint32_t),
					  0, socket);
	n->h = rte_hash_create(&hp);
	if (n->slots == NULL || n->free_stack == NULL || n->h == NULL) {
		dp_names_free(n);
		return -ENOMEM;
	}
	n->capacity = capacity;
	for (i = 0; i < capacity; i++)
		n->free_stack[i] = capacity - 1 - i;
	n->n_free = capacity;
	return 0;
}

void
dp_names_free(struct dp_names *n)
{
	rte_hash_free(n->h);
	rte_free(n->slots);
	rte_free(n->free_stack);
	memset(n, 0, sizeof(*n));
}

static uint64_t
name_key(uint8_t kind, const char *name, uint8_t len)
{
	uint64_t lo = rte_hash_crc(name, len, 0x9e3779b9u ^ kind);
	uint64_t hi = rte_hash_crc(name, len, 0x7f4a7c15u + kind);

	return (hi << 32) | lo;
}

uint32_t
dp_names_get(struct dp_names *n, uint8_t kind, const char *name, uint8_t len)
{
	struct dp_name_slot *s;
	uint64_t key;
	void *data;
	uint32_t id;

	if (n->h == NULL || len == 0)
		return DP_NO_NAME;
	key = name_key(kind, name, len);
	if (rte_hash_lookup_data(n->h, &key, &data) >= 0) {
		id = (uint32_t)(uintptr_t)data;
		s = &n->slots[id];
		if (s->kind != kind || s->len != len || memcmp(s->name, name, len) != 0)
			return DP_NO_NAME;      /* 64-bit collision: do without */
		s->refs++;
		return id;
	}
	if (n->n_free == 0)
		return DP_NO_NAME;
	id = n->free_stack[--n->n_free];
	if (rte_hash_add_key_data(n->h, &key, (void *)(uintptr_t)id) < 0) {
		n->n_free++;
		return DP_NO_NAME;
	}
	s = &n->slots[id];
	s->refs = 1;
	s->kind = kind;
	s->len = len;
	memcpy(s->name, name, len);
	s->name[len] = '\0';
	return id;
}

void
dp_names_put(struct dp_names *n, uint32_t id)
{
	struct dp_name_slot *s;
	uint64_t key;

	if (id >= n->capacity)
		return;
	s = &n->slots[id];
	if (s->refs == 0 || --s->refs > 0)
		return;
	key = name_key(s->kind, s->name, s->len);
	rte_hash_del_key(n->h, &key);
	n->free_stack[n->n_free++] = id;
}
