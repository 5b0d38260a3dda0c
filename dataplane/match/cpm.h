/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cpm.h: the one policy matcher. DPDK-free; linked by chokepoint-dp,
 * chokepointd --check, chokepointctl policy test, the unit tests and the
 * fuzzers, so what is tested is what runs.
 *
 * It works over a compiled policy blob (written by ctrlplane/cp_compile.c,
 * layout in cpm_blob.h): position-independent, validated on load, mapped
 * read-only. Thread model: a struct cpm_policy is immutable after
 * cpm_policy_load() and shared by all workers; each worker owns one
 * struct cpm_scratch per policy generation (Hyperscan scratch + buffers).
 *
 * Decision order for a flow (first rule in config order wins):
 *   1. cpm_classify_l34() at the flow's first packet: trusted destination ->
 *      allow/trusted; initiator outside `internal` -> allow/not_internal;
 *      UDP 443 with quic = "deny" -> deny/quic; otherwise walk the rules: the
 *      first rule whose address/port/proto conditions hold decides at once if
 *      it has no name condition; if a rule with a name condition comes first,
 *      the answer is CPM_NEED_NAME (hold and extract). No rule at all ->
 *      default.
 *   2. cpm_match() once the name is known (or known to be absent): the first
 *      rule whose conditions all hold, name included; a rule with a name
 *      condition never matches a flow without that kind of name.
 * A query whose family is neither 4 nor 6 gets the default action at once.
 *
 * Neither walks the rules, the names nor the CIDR entries: the cost of a
 * decision does not grow with them (cpm_blob.h, docs/performance.md).
 */
#ifndef CHOKEPOINT_CPM_H
#define CHOKEPOINT_CPM_H

#include <stddef.h>
#include <stdint.h>

struct cpm_policy;
struct cpm_scratch;

enum cpm_action {
	CPM_ALLOW = 1,
	CPM_DENY = 2,
};

enum cpm_field {
	CPM_FIELD_NONE = 0,   /* no name extracted */
	CPM_FIELD_SNI = 1,    /* TLS / QUIC server_name */
	CPM_FIELD_HOST = 2,   /* HTTP Host / absolute URI / CONNECT authority */
};

/* Same values as enum dp_reason in dataplane/dp_proto.h. */
enum cpm_reason {
	CPM_REASON_RULE = 0,
	CPM_REASON_DEFAULT = 1,
	CPM_REASON_TRUSTED = 2,
	CPM_REASON_NOT_INTERNAL = 3,
	CPM_REASON_QUIC = 5,
};

/* A rule's bind key: what an allow by it requires of the destination. */
enum cpm_bind {
	CPM_BIND_NONE = 0,       /* the name the client wrote, any address */
	CPM_BIND_DNS = 1,        /* an address the resolver gave this client for the name */
	CPM_BIND_PINNED = 2,     /* an address in the rule's own dst list */
	CPM_BIND_MAX
};

enum cpm_mode {
	CPM_MODE_ENFORCE = 0,
	CPM_MODE_MONITOR = 1,
};

struct cpm_query {
	uint8_t family;          /* 4 or 6 */
	uint8_t l4proto;         /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, ... */
	uint16_t sport;          /* host order; 0 for non-TCP/UDP */
	uint16_t dport;
	uint8_t src[16];         /* initiator, network order, IPv4 in [0..3] */
	uint8_t dst[16];
	enum cpm_field field;
	const char *name;        /* raw as extracted; matcher normalises */
	size_t name_len;
};

struct cpm_verdict {
	uint8_t action;          /* enum cpm_action */
	uint8_t reason;          /* enum cpm_reason */
	int32_t rule;            /* rule index in config order, -1 if none */
};

/*
 * Settings the dataplane applies, carried in the blob so that one reload
 * changes them atomically with the rules. Durations in milliseconds.
 */
/* audit_overflow: what the dataplane does while it cannot record events */
enum cpm_audit_overflow {
	CPM_AUDIT_DROP_RECORDS = 0,   /* keep forwarding; lost events become an audit.gap */
	CPM_AUDIT_DENY_NEW_FLOWS = 1, /* deny every new decision that could not be recorded */
};

struct cpm_settings {
	uint8_t mode;            /* enum cpm_mode */
	uint8_t default_action;  /* enum cpm_action */
	uint8_t inbound_action;  /* flows initiated from the outside port (wire) */
	uint8_t quic_action;     /* UDP 443: CPM_DENY forces HTTP/3 back to TCP */
	uint8_t table_full_action;
	uint8_t midstream_action;
	uint8_t no_name_action;  /* hold bound/timeout hit without a name: 0 = treat as no name */
	uint8_t audit_overflow;  /* enum cpm_audit_overflow (audit_overflow key) */
	uint8_t revalidate;      /* 1: established flows are judged again by this policy */
	uint8_t dns_https_rr;    /* enum cpm_https_rr: DNS HTTPS/SVCB answers (dns.https_rr) */
	uint8_t reserved[6];     /* 0 */
	uint32_t hold_timeout_ms;       /* default 5000 */
	uint32_t hold_max_bytes;        /* default 16384 */
	uint32_t hold_max_segments;     /* default 16 */
	uint32_t tcp_established_ms;    /* default 350000 */
	uint32_t tcp_halfopen_ms;       /* default 20000 */
	uint32_t tcp_closed_ms;         /* default 10000 */
	uint32_t udp_ms;                /* default 60000 */
	uint32_t other_ms;              /* default 30000 */
	uint32_t anomaly_action[32];    /* per enum dp_anomaly: enum cpm_action */
	uint32_t dns_grace_s;           /* dns.grace: seconds a DNS binding outlives its TTL (300) */
	uint32_t dns_max_entries;       /* dns.max_entries: bindings per worker (65536) */
};

/* dns.https_rr: what the dataplane does with HTTPS/SVCB (type 64/65) answers */
enum cpm_https_rr {
	CPM_HTTPS_RR_STRIP_ECH = 0, /* default: the ech SvcParam removed in flight */
	CPM_HTTPS_RR_ALLOW = 1,     /* forwarded as they are */
	CPM_HTTPS_RR_REFUSE = 2,    /* a response carrying one is dropped */
};

#define CPM_DNS_GRACE_MAX   86400u      /* dns.grace upper bound, seconds */
#define CPM_DNS_ENTRIES_MAX (1u << 24)  /* dns.max_entries upper bound (per worker) */

enum {
	CPM_DECIDED = 0,
	CPM_NEED_NAME = 1,
};

/*
 * Validate and open a blob. The blob must stay mapped while the policy lives.
 * Returns 0, or -EINVAL (with err filled: a sentence naming what is wrong,
 * e.g. a Hyperscan version mismatch) / -ENOMEM.
 */
int cpm_policy_load(const void *blob, size_t len, struct cpm_policy **out,
		    char *err, size_t errlen);
void cpm_policy_free(struct cpm_policy *p);

struct cpm_scratch *cpm_scratch_alloc(const struct cpm_policy *p);
void cpm_scratch_free(struct cpm_scratch *s);

const struct cpm_settings *cpm_settings(const struct cpm_policy *p);
/* 32 bytes: the policy hash, SHA-256 of the manifest of the config file and
 * every list file it names (docs/configuration.md, "The policy hash"). */
const uint8_t *cpm_policy_sha256(const struct cpm_policy *p);
uint32_t cpm_rule_count(const struct cpm_policy *p);
const char *cpm_rule_id(const struct cpm_policy *p, int32_t rule); /* NULL if out of range */
/* Memory the loaded policy holds: the blob's bytes plus what the loader
 * allocated (class summaries, name filter); a scratch adds its Hyperscan
 * scratch. */
size_t cpm_policy_size(const struct cpm_policy *p);

/* Step 1: returns CPM_DECIDED (v filled) or CPM_NEED_NAME. q->name ignored. */
int cpm_classify_l34(const struct cpm_policy *p, const struct cpm_query *q,
		     struct cpm_verdict *v);

/*
 * Step 2: full decision. Always decides (fills v). Returns 0, or -EIO when
 * the Hyperscan scan failed (v then holds the default action, reason
 * default, and the caller counts the error).
 */
int cpm_match(const struct cpm_policy *p, struct cpm_scratch *s,
	      const struct cpm_query *q, struct cpm_verdict *v);

/*
 * 1 if the (raw) name, once normalised, is one of the policy's
 * ech_public_names: a ClientHello with an ECH extension and this outer SNI
 * is real ECH (raise DP_AN_ECH); with any other outer SNI it is GREASE and
 * the outer SNI is the real name. 0 otherwise.
 */
int cpm_is_ech_public_name(const struct cpm_policy *p, const char *name, size_t len);

/*
 * A rule's bind (enum cpm_bind); CPM_BIND_NONE for rule -1 or out of range.
 * A pinned rule's dst list is not a condition of the match: a flow whose
 * name (and other conditions) match it is decided by it wherever it goes,
 * and cpm_rule_pin_holds() says whether its destination is in the list.
 */
uint8_t cpm_rule_bind(const struct cpm_policy *p, int32_t rule);

/* 1 if q->dst is in the rule's dst list (a pinned rule's binding), else 0. */
int cpm_rule_pin_holds(const struct cpm_policy *p, int32_t rule, const struct cpm_query *q);

/*
 * 1 if the (normalised, lower-case) name is on the policy's DNS-over-HTTPS
 * list (doh_file, or the shipped list): exact entries, and `.x` / `*.x`
 * entries over their subdomains. 0 otherwise.
 */
int cpm_is_doh_name(const struct cpm_policy *p, const char *name, size_t len);

/*
 * Normalise a name for matching and for the audit record: lower-case ASCII,
 * one trailing dot removed. Writes at most outlen-1 bytes + NUL. Returns the
 * length, or -1 if the name holds bytes outside [a-z0-9.-_*] after lowering
 * (the caller raises DP_AN_INVALID_NAME; it still matches on the raw bytes).
 */
int cpm_normalise_name(const char *in, size_t len, char *out, size_t outlen);

#endif /* CHOKEPOINT_CPM_H */
