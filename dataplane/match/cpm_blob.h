/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cpm_blob.h: layout of the compiled policy blob. Written by
 * ctrlplane/policy/cp_compile.c, read by cpm.c. Shared by both sides only;
 * nobody else should need it (use cpm.h).
 *
 * The blob is position-independent: one header, then sections, every
 * reference an offset or an index, never a pointer. It crosses a process
 * boundary (sealed memfd), so cpm_policy_load() checks every offset, length,
 * count and index below against the blob length before anything reads it.
 * All integers are host byte order (both ends run on one machine).
 *
 *   [hdr][RULES][STRINGS][NAMES][RULE_LISTS][CIDRS][PORTS][REGEX_MAP][HSDB]
 *
 * Sections appear in this order, each at an 8-byte aligned offset, without
 * overlap; the last one ends exactly at total_len. Padding between sections
 * and every pad field is zero.
 *
 * Names: an open-addressing (linear probing) hash table of 2^k slots. The key
 * is SipHash-2-4(siphash_key, kind || field || normalised name) with kind and
 * field one byte each. A slot holds the full hash, the name (in STRINGS, to
 * compare on a hit: collisions can never merge two names) and a sorted list
 * of rule indexes (in RULE_LISTS). Kinds:
 *   EXACT  - the name itself               (`api.openai.com`, and `.x` for x)
 *   SUFFIX - strict subdomains of the name (`*.x`, and `.x` for its subdomains)
 *   ECH    - a configured ECH public name (field SNI, no rule list)
 * A lookup of a.b.c probes EXACT a.b.c, then SUFFIX b.c and SUFFIX c: one
 * probe per label, whatever the number of names.
 */
#ifndef CHOKEPOINT_CPM_BLOB_H
#define CHOKEPOINT_CPM_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "cpm.h"
#include "siphash.h"

#define CPM_BLOB_MAGIC   0x4d50434bu /* "KCPM" read as little-endian bytes */
#define CPM_BLOB_VERSION 1
#define CPM_BLOB_ALIGN   8

#define CPM_NAME_MAX     253   /* longest normalised DNS name in a config */
#define CPM_LABEL_MAX    63
#define CPM_RULE_ID_MAX  64

enum cpm_sect {
	CPM_SECT_RULES = 0,      /* struct cpm_blob_rule[n_rules] */
	CPM_SECT_STRINGS,        /* bytes; starts with one NUL (offset 0 = "") */
	CPM_SECT_NAMES,          /* struct cpm_blob_name[2^k] (or empty) */
	CPM_SECT_RULE_LISTS,     /* uint32_t rule indexes */
	CPM_SECT_CIDRS,          /* struct cpm_blob_cidr[] */
	CPM_SECT_PORTS,          /* struct cpm_blob_port[] */
	CPM_SECT_REGEX_MAP,      /* struct cpm_blob_regex[n_regex]: Hyperscan id -> rule */
	CPM_SECT_HSDB,           /* hs_serialize_database() bytes, empty if n_regex == 0 */
	CPM_SECT_MAX
};

struct cpm_blob_sect {
	uint64_t off;            /* from the start of the blob */
	uint64_t len;            /* bytes; a multiple of the element size */
};

#define CPM_BLOB_F_INTERNAL_ALL (1u << 0) /* `internal` not given: every initiator */

struct cpm_blob_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t hdr_len;        /* sizeof(struct cpm_blob_hdr) */
	uint64_t total_len;      /* the whole blob */
	uint8_t sha256[32];      /* of the config file bytes */
	uint8_t siphash_key[16]; /* random per compile */
	uint8_t hsdb_sha256[32]; /* of the HSDB section: Hyperscan bytecode is not
				  * ours to validate, so it must be intact */
	uint32_t n_rules;
	uint32_t n_regex;
	uint32_t flags;          /* CPM_BLOB_F_* */
	uint32_t internal_off;   /* index range in CIDRS */
	uint32_t internal_count;
	uint32_t trusted_off;
	uint32_t trusted_count;
	uint32_t n_ech;          /* ECH entries in NAMES */
	struct cpm_settings settings;
	struct cpm_blob_sect sect[CPM_SECT_MAX];
};

/* cpm_blob_rule.proto */
enum cpm_proto {
	CPM_PROTO_ANY = 0,
	CPM_PROTO_TCP = 1,
	CPM_PROTO_UDP = 2,
	CPM_PROTO_ICMP = 3,      /* ICMP for IPv4, ICMPv6 for IPv6 */
	CPM_PROTO_MAX
};

/* cpm_blob_rule.flags: the rule has a name condition on that field */
#define CPM_RULE_F_SNI  (1u << 0)
#define CPM_RULE_F_HOST (1u << 1)
#define CPM_RULE_F_ALL  (CPM_RULE_F_SNI | CPM_RULE_F_HOST)

struct cpm_blob_rule {
	uint32_t id_off;         /* STRINGS offset of the id, NUL-terminated */
	uint16_t id_len;
	uint8_t action;          /* enum cpm_action */
	uint8_t proto;           /* enum cpm_proto */
	uint32_t flags;          /* CPM_RULE_F_* */
	uint32_t line;           /* line of the rule in the config file */
	uint32_t src_off, src_count;    /* CIDRS index range; count 0 = any */
	uint32_t dst_off, dst_count;
	uint32_t port_off, port_count;  /* PORTS index range; count 0 = any */
};

struct cpm_blob_cidr {
	uint8_t family;          /* 4 or 6 */
	uint8_t plen;            /* <= 32 / 128 */
	uint8_t pad[2];
	uint8_t addr[16];        /* network order, IPv4 in [0..3], host bits zero */
};

struct cpm_blob_port {
	uint16_t lo, hi;         /* inclusive, lo <= hi */
};

enum cpm_name_kind {
	CPM_NK_EMPTY = 0,
	CPM_NK_EXACT = 1,
	CPM_NK_SUFFIX = 2,
	CPM_NK_ECH = 3,
	CPM_NK_MAX
};

struct cpm_blob_name {
	uint64_t hash;           /* siphash(kind || field || name) */
	uint32_t str_off;        /* STRINGS offset of the name (NUL-terminated) */
	uint16_t str_len;
	uint8_t kind;            /* enum cpm_name_kind; EMPTY = free slot */
	uint8_t field;           /* enum cpm_field */
	uint32_t list_off;       /* RULE_LISTS index range, strictly ascending */
	uint32_t list_count;     /* >= 1, except 0 for ECH */
};

struct cpm_blob_regex {
	uint32_t rule;
	uint32_t field;          /* enum cpm_field */
};

/* The name table key: SipHash-2-4(key, kind || field || name). */
static inline uint64_t
cpm_blob_name_hash(const uint8_t key[CPM_SIPHASH_KEY_LEN], uint8_t kind,
		   uint8_t field, const char *name, size_t len)
{
	struct cpm_siphash s;
	const uint8_t kf[2] = { kind, field };

	cpm_siphash_init(&s, key);
	cpm_siphash_update(&s, kf, sizeof(kf));
	cpm_siphash_update(&s, name, len);
	return cpm_siphash_final(&s);
}

_Static_assert(sizeof(struct cpm_settings) == 168, "cpm_settings layout");
_Static_assert(sizeof(struct cpm_blob_hdr) == 128 + 168 + 16 * CPM_SECT_MAX,
	       "cpm_blob_hdr layout");
_Static_assert(sizeof(struct cpm_blob_rule) == 40, "cpm_blob_rule layout");
_Static_assert(sizeof(struct cpm_blob_cidr) == 20, "cpm_blob_cidr layout");
_Static_assert(sizeof(struct cpm_blob_name) == 24, "cpm_blob_name layout");

#endif /* CHOKEPOINT_CPM_BLOB_H */
