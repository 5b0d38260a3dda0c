/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cpm_blob.h: layout of the compiled policy blob. Written by
 * ctrlplane/policy/cp_compile.c, read by cpm.c / cpm_l34.c. Shared by both
 * sides only; nobody else should need it (use cpm.h).
 *
 * The blob is position-independent: one header, then sections, every
 * reference an offset or an index, never a pointer. It crosses a process
 * boundary (sealed memfd), so cpm_policy_load() checks every offset, length,
 * count and index below against the blob length before anything reads it.
 * All integers are host byte order (both ends run on one machine).
 *
 *   [hdr][RULES][STRINGS][NAMES][RULE_LISTS][IMAPS][KEYS32][KEYS128]
 *        [VALUES][INDEX][CLASSES][REGEX_MAP][HSDB]
 *
 * Sections appear in this order, each at an 8-byte aligned offset, without
 * overlap; the last one ends exactly at total_len. Padding between sections
 * and every pad field is zero.
 *
 * NAMES: an open-addressing (linear probing) hash table of n slots, at most
 * half full (n = twice the keys: no rounding to a power of two, which would
 * cost up to twice the memory). A slot holds no name, only two keyed digests
 * of kind || field || normalised name (kind and field one byte each):
 *   hash  = SipHash-2-4(siphash_key, ...)   64 bits; home slot = hash * n >> 64
 *   check = SipHash-2-4(check_key, ...)     low 32 bits, compared on a hash hit
 * and what the key maps to (val). Kinds:
 *   EXACT  - the name itself               (`api.openai.com`, and `.x` for x)
 *   SUFFIX - strict subdomains of the name (`*.x`, and `.x` for its subdomains)
 *   ECH    - a configured ECH public name (field SNI, val CPM_NV_ECH)
 *   DOH_EXACT / DOH_SUFFIX - a DNS-over-HTTPS list name, as EXACT / SUFFIX
 *            (field 0, val CPM_NV_DOH)
 * A lookup of a.b.c probes EXACT a.b.c, then SUFFIX b.c and SUFFIX c: one
 * probe per label, whatever the number of names.
 *
 * Why 96 bits of digest are enough without the name (16 bytes a slot instead
 * of 24 + the string, ~25 MB less at 1M names): the two keys are independent
 * and random per compile and never leave the host, so for a name q that is
 * not in the table, modelling SipHash as a PRF, each stored key s matches
 * with probability 2^-64 (hash) x 2^-32 (check) = 2^-96. A lookup probes at
 * most 128 suffixes (a name of 253 bytes has at most 127 labels) against N
 * stored keys, so over Q lookups P[any false match] <= Q * 128 * N * 2^-96:
 * for N = 2^22 keys (2M names) and Q = 2^45 new flows (a million per second
 * for a year), that is 2^(45+7+22-96) = 2^-22. Collisions among the stored
 * keys themselves cannot happen: the compiler keeps every name while it
 * builds the table, compares the names whenever two entries have the same
 * (hash, check), and draws new keys and rebuilds if they differ.
 *
 * Address and port sets (a rule's src/dst/dport, internal, trusted): interval
 * maps (IMAPS) over a key space of 16 (ports), 32 (IPv4) or 128 (IPv6) bits.
 * A map holds n strictly ascending boundaries b[0..n); a key k falls in
 * interval c(k) = the number of boundaries <= k (0..n). A set ("parity" map)
 * contains k iff c(k) is odd: CIDRs are flattened by the compiler into
 * sorted disjoint ranges [lo, hi], stored as boundaries lo, hi + 1 (hi + 1
 * omitted when hi is the largest key). A valued map gives interval c(k) the
 * class VALUES[vals_off + c(k)]. Maps with many boundaries carry a first-level
 * index over idx_bits key bits after the skip leading bits that every
 * boundary shares (prefix): INDEX[idx_off + j] = the number of boundaries
 * whose bucket is < j (2^idx_bits + 1 entries), so a lookup reads one index
 * entry and binary-searches one bucket. Cost: O(1 + log(bucket)), not
 * O(entries).
 *
 * Rule walk (cpm_classify_l34, and the name-less rules in cpm_match): per
 * dimension (protocol, dport, src, dst) the key space is cut into intervals
 * whose "set of rules whose condition on this dimension holds" is constant;
 * each such set is a class, a bitset over the rules (CLASSES, class_words
 * uint64 words each, bit r = rule r). A flow's candidates are the AND of
 * its four classes; the first set bit is the first rule whose address, port
 * and protocol conditions all hold. A dimension whose classes would not fit
 * the compiler's budget is left out (its map CPM_MAP_ANY); the matcher then
 * confirms each candidate with the rule's own sets.
 */
#ifndef CHOKEPOINT_CPM_BLOB_H
#define CHOKEPOINT_CPM_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "cpm.h"
#include "siphash.h"

#define CPM_BLOB_MAGIC   0x4d50434bu /* "KCPM" read as little-endian bytes */
#define CPM_BLOB_VERSION 4
#define CPM_BLOB_ALIGN   8

#define CPM_NAME_MAX     253   /* longest normalised DNS name in a config */
#define CPM_LABEL_MAX    63
#define CPM_RULE_ID_MAX  64
#define CPM_RULES_MAX    0x7ffffff0u  /* rule indexes fit CPM_NV_* encoding */

enum cpm_sect {
	CPM_SECT_RULES = 0,      /* struct cpm_blob_rule[n_rules] */
	CPM_SECT_STRINGS,        /* rule ids; starts with one NUL (offset 0 = "") */
	CPM_SECT_NAMES,          /* struct cpm_blob_name[n] (or empty) */
	CPM_SECT_RULE_LISTS,     /* uint32_t groups: count, then count rule indexes */
	CPM_SECT_IMAPS,          /* struct cpm_blob_imap[] */
	CPM_SECT_KEYS32,         /* uint32_t boundaries of 16- and 32-bit maps */
	CPM_SECT_KEYS128,        /* struct cpm_blob_k128 boundaries of 128-bit maps */
	CPM_SECT_VALUES,         /* uint32_t class ids of valued maps */
	CPM_SECT_INDEX,          /* uint32_t first-level index entries */
	CPM_SECT_CLASSES,        /* uint64_t[n_classes * class_words] */
	CPM_SECT_REGEX_MAP,      /* struct cpm_blob_regex[n_regex]: Hyperscan id -> rule */
	CPM_SECT_HSDB,           /* hs_serialize_database() bytes, empty if n_regex == 0 */
	CPM_SECT_MAX
};

struct cpm_blob_sect {
	uint64_t off;            /* from the start of the blob */
	uint64_t len;            /* bytes; a multiple of the element size */
};

/* An IMAPS index that is not a map: "no condition" (a rule's src/dst/ports),
 * "every initiator" (internal), "dimension not indexed" (dims). */
#define CPM_MAP_ANY UINT32_MAX

/* cpm_blob_rule.proto */
enum cpm_proto {
	CPM_PROTO_ANY = 0,
	CPM_PROTO_TCP = 1,
	CPM_PROTO_UDP = 2,
	CPM_PROTO_ICMP = 3,      /* ICMP for IPv4, ICMPv6 for IPv6 */
	CPM_PROTO_MAX
};

/* A flow's protocol, as the dimension tables see it. */
enum cpm_l4 {
	CPM_L4_TCP = 0,
	CPM_L4_UDP,
	CPM_L4_ICMP,             /* ICMP on IPv4, ICMPv6 on IPv6 */
	CPM_L4_OTHER,
	CPM_L4_MAX
};

/* Rule subsets for the protocol classes. */
enum cpm_space {
	CPM_SPACE_NAMELESS = 0,  /* name-less rules only (cpm_match's walk) */
	CPM_SPACE_ALL,           /* every rule that can match (cpm_classify_l34) */
	CPM_SPACE_MAX
};

struct cpm_blob_dims {
	/* class per family (0: IPv4, 1: IPv6), protocol and space; name rules
	 * are only in CPM_SPACE_ALL, in the TCP classes, and sni rules in the
	 * UDP classes too (QUIC) */
	uint32_t proto[2][CPM_L4_MAX][CPM_SPACE_MAX];
	uint32_t port;           /* valued 16-bit map, or CPM_MAP_ANY */
	uint32_t noport_class;   /* flows without ports (not TCP/UDP), when port is a map */
	uint32_t src[2];         /* valued 32-bit (IPv4) / 128-bit (IPv6) maps, or CPM_MAP_ANY */
	uint32_t dst[2];
	uint32_t n_classes;
	uint32_t class_words;    /* (n_rules + 63) / 64, or 0 when there are no rules */
};

struct cpm_blob_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t hdr_len;        /* sizeof(struct cpm_blob_hdr) */
	uint64_t total_len;      /* the whole blob */
	uint8_t sha256[32];      /* the policy hash (docs/configuration.md: a manifest
				  * of the config file and every list file) */
	uint8_t siphash_key[16]; /* name table: hash, random per compile */
	uint8_t check_key[16];   /* name table: check, random per compile, independent */
	uint8_t hsdb_sha256[32]; /* of the HSDB section: Hyperscan bytecode is not
				  * ours to validate, so it must be intact */
	uint32_t n_rules;
	uint32_t n_regex;
	uint32_t flags;          /* none defined: 0 */
	uint32_t n_ech;          /* ECH entries in NAMES */
	uint32_t n_doh;          /* DOH_EXACT + DOH_SUFFIX entries in NAMES */
	uint32_t pad;
	uint32_t internal[2];    /* parity maps (v4, v6) of the initiators governed,
				  * both CPM_MAP_ANY = every initiator */
	uint32_t trusted[2];     /* parity maps (v4, v6) of trusted destinations */
	struct cpm_blob_dims dims;
	struct cpm_settings settings;
	struct cpm_blob_sect sect[CPM_SECT_MAX];
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
	uint32_t src[2];         /* parity maps (v4 32-bit, v6 128-bit); both
				  * CPM_MAP_ANY = no condition */
	uint32_t dst[2];
	uint32_t ports;          /* parity 16-bit map, or CPM_MAP_ANY = no condition */
	uint8_t bind;            /* enum cpm_bind; CPM_BIND_PINNED: dst is the pin, not a
				  * condition (never in the dst classes, cpm_l34_holds skips it) */
	uint8_t pad[3];
};

/* An interval map (see the top of this file). */
struct cpm_blob_imap {
	uint8_t width;           /* key bits: 16, 32 or 128 */
	uint8_t valued;          /* 0: parity set; 1: VALUES give the classes */
	uint8_t skip;            /* leading key bits shared by every boundary (with idx_bits) */
	uint8_t idx_bits;        /* 0: no index; else 1..16, skip + idx_bits <= width */
	uint32_t n;              /* boundaries */
	uint32_t keys_off;       /* KEYS32 (width 16/32) or KEYS128 index of b[0] */
	uint32_t vals_off;       /* VALUES index of n + 1 classes (valued), else 0 */
	uint32_t idx_off;        /* INDEX index of 2^idx_bits + 1 entries (idx_bits), else 0 */
	uint32_t pad;
	uint64_t prefix_hi;      /* the skip shared bits, as a key with the other bits 0; */
	uint64_t prefix_lo;      /* keys of width <= 32 use prefix_lo only */
};

/* A 128-bit key (IPv6 address as a big-endian number), host-order halves. */
struct cpm_blob_k128 {
	uint64_t hi, lo;
};

enum cpm_name_kind {
	CPM_NK_EMPTY = 0,
	CPM_NK_EXACT = 1,
	CPM_NK_SUFFIX = 2,
	CPM_NK_ECH = 3,
	CPM_NK_DOH_EXACT = 4,    /* a DoH list name itself (field 0, val CPM_NV_DOH) */
	CPM_NK_DOH_SUFFIX = 5,   /* strict subdomains of a DoH list name */
	CPM_NK_MAX
};

/* cpm_blob_name.val */
#define CPM_NV_EMPTY 0u             /* free slot (the whole slot is zero) */
#define CPM_NV_ECH   0xffffffffu    /* an ECH public name: no rules */
#define CPM_NV_DOH   0xfffffffeu    /* a DoH list name: no rules */
#define CPM_NV_LIST  0x80000000u    /* | RULE_LISTS index of a group (2+ rules) */
/* otherwise: val - 1 is the one rule index */

struct cpm_blob_name {
	uint64_t hash;           /* SipHash-2-4(siphash_key, kind || field || name) */
	uint32_t check;          /* SipHash-2-4(check_key, kind || field || name) & 0xffffffff */
	uint32_t val;            /* CPM_NV_* or rule + 1 */
};

struct cpm_blob_regex {
	uint32_t rule;
	uint32_t field;          /* enum cpm_field */
};

/* The home slot of a hash in a table of n slots (Lemire's multiply-shift). */
static inline uint64_t
cpm_blob_name_home(uint64_t hash, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)hash * n) >> 64);
}

/* One name-table digest: SipHash-2-4(key, kind || field || name). */
static inline uint64_t
cpm_blob_name_hash(const uint8_t key[CPM_SIPHASH_KEY_LEN], uint8_t kind,
		   uint8_t field, const char *name, size_t len)
{
	return cpm_siphash24_2(key, kind, field, name, len);
}

_Static_assert(sizeof(struct cpm_settings) == 184, "cpm_settings layout");
_Static_assert(sizeof(struct cpm_blob_dims) == 4 * 16 + 4 * 8, "cpm_blob_dims layout");
_Static_assert(sizeof(struct cpm_blob_hdr) == 152 + 96 + 184 + 16 * CPM_SECT_MAX,
	       "cpm_blob_hdr layout");
_Static_assert(sizeof(struct cpm_blob_rule) == 40, "cpm_blob_rule layout");
_Static_assert(sizeof(struct cpm_blob_imap) == 40, "cpm_blob_imap layout");
_Static_assert(sizeof(struct cpm_blob_name) == 16, "cpm_blob_name layout");

#endif /* CHOKEPOINT_CPM_BLOB_H */
