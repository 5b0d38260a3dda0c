/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_dns.h: DNS observation for name-to-address binding (issue 9).
 *
 * Every worker owns one binding table and is its only writer: the DNS
 * responses it forwards on allowed flows are parsed (parse/dns.h, over the
 * packet's bytes, which are forwarded unchanged) and every address answered
 * for the question name is recorded under (client address, answered address,
 * name digest) until TTL + grace. A client's DNS flow and its later TLS flow
 * can belong to different workers, so a lookup asks every worker's table:
 * entries are written under a per-entry sequence count (odd while written), a
 * reader retries a torn read, and nobody ever waits (see docs/dataplane.md,
 * "DNS binding").
 *
 * Bounded: max_entries slots per table (4-way buckets); a full bucket drops
 * the entry closest to expiry, counted in evicted (live ones) or reused
 * (expired ones). The name digest is SipHash-2-4 under a key drawn once per
 * process, so a client cannot craft a name that collides with an answered one.
 *
 * Pure C, no DPDK: the worker calls dp_dns_observe() from dp_fsm.c, the
 * decision calls dp_dns_bound(); the unit test drives both directly.
 */
#ifndef CHOKEPOINT_DP_DNS_H
#define CHOKEPOINT_DP_DNS_H

#include <stddef.h>
#include <stdint.h>

#define DP_DNS_WORKERS_MAX 128
#define DP_DNS_GRACE_DEFAULT 300u        /* seconds kept past the TTL */
#define DP_DNS_ENTRIES_DEFAULT 65536u    /* per worker */
#define DP_DNS_TTL_CAP 86400u            /* a longer TTL counts as one day */

struct dp_dns_stats {
	uint64_t responses;     /* DNS responses looked at */
	uint64_t bad[8];        /* by enum dns_result (index 0 unused) */
	uint64_t recorded;      /* new bindings */
	uint64_t refreshed;     /* bindings seen again (expiry moved on) */
	uint64_t evicted;       /* live bindings dropped for room */
	uint64_t reused;        /* expired slots taken */
	/* DNS over TCP (dp_dns_observe_tcp) */
	uint64_t tcp_messages;  /* complete messages handed to the parser */
	uint64_t tcp_skipped;   /* messages or pieces not read: out of order, over
				 * DP_DNS_TCP_MSG_MAX, or no reassembly slot left */
	/* HTTPS/SVCB answers (type 65), by the policy's dns.https_rr */
	uint64_t https_allowed; /* forwarded as they were */
	uint64_t https_refused; /* dropped */
	uint64_t https_stripped;/* ech SvcParams removed in flight */
	uint64_t https_unstrippable; /* with ech but not rewritable: dropped */
};

/*
 * The resolved table (out-of-band resolution, issue 9 item 2): the control
 * plane resolves the exact names of bind = "dns" rules through the configured
 * resolver and pushes the answers (DP_MSG_DNS_RESOLVED). They bind the name
 * to the address for ANY client until TTL + grace. One table per process,
 * written only by the control thread, read by the workers under the same
 * per-entry sequence counts as the observed tables.
 */
struct dp_dns_resolved_stats {
	uint64_t updates;       /* DP_MSG_DNS_RESOLVED applied (add) */
	uint64_t removes;       /* names dropped (no longer resolved by policy) */
	uint64_t entries;       /* live entries now (gauge, counted on request) */
	uint64_t capacity;
	uint64_t recorded, refreshed, evicted, reused;
};

struct dp_dns_table;

/*
 * A table of at least max_entries slots (rounded up to a power of two, at
 * least 64) for worker id, registered so dp_dns_bound() sees it. Called at
 * worker creation. NULL with errno set on failure.
 */
struct dp_dns_table *dp_dns_table_create(unsigned int id, uint32_t max_entries, uint32_t grace_s);
void dp_dns_table_free(struct dp_dns_table *t);

/* The table registered for worker id, or NULL. */
struct dp_dns_table *dp_dns_table_of(unsigned int id);

/*
 * A DNS message (UDP payload) sent to client (family 4 or 6, address in
 * network order, IPv4 in the first 4 bytes) at now_s (seconds, realtime):
 * records its answers. Returns the parser's enum dns_result (0 = recorded),
 * -EINVAL without a table.
 * Writer: the table's worker only.
 */
int dp_dns_observe(struct dp_dns_table *t, uint8_t family, const uint8_t client[16],
		   const uint8_t *msg, size_t len, uint32_t now_s);

/*
 * How the name is bound to addr for client (both of family), at now_s:
 *   DP_DNS_BOUND_OBSERVED (1)  some worker's table holds a live binding: the
 *                              name (lower-case, as the matcher normalises it)
 *                              was answered with addr to this client
 *   DP_DNS_BOUND_RESOLVED (2)  not observed, but the resolved table holds addr
 *                              for the name (out-of-band resolution)
 *   DP_DNS_BOUND_NONE (0)      neither (or expired: TTL + grace)
 * Any thread may call it.
 */
#define DP_DNS_BOUND_NONE 0
#define DP_DNS_BOUND_OBSERVED 1
#define DP_DNS_BOUND_RESOLVED 2

int dp_dns_bound(uint8_t family, const uint8_t client[16], const uint8_t addr[16],
		 const char *name, size_t name_len, uint32_t now_s);

/* A copy of the table's counters (a reader may see them a moment late). */
void dp_dns_stats_get(const struct dp_dns_table *t, struct dp_dns_stats *out);

/* What dns.https_rr did with a response holding SVCB/HTTPS records (counters). */
enum dp_dns_https_action {
	DP_DNS_HTTPS_ALLOWED = 0,
	DP_DNS_HTTPS_REFUSED,
	DP_DNS_HTTPS_STRIPPED,
	DP_DNS_HTTPS_UNSTRIPPABLE,
};
void dp_dns_https_count(struct dp_dns_table *t, enum dp_dns_https_action a);

/* DNS over TCP port 53: bounded reassembly per worker (dp_dns_tcp_*). */
#define DP_DNS_TCP_MSG_MAX 4096u        /* longer messages are skipped (counted) */
#define DP_DNS_TCP_SLOTS 16u            /* flows with a message in pieces, per worker */

/*
 * A TCP segment from a DNS server (port 53) to client on an allowed flow:
 * seq (host order) and payload. Messages are 2-byte length prefixed and may
 * span segments: the table keeps at most DP_DNS_TCP_SLOTS partial messages
 * (keyed by flow_id: unique per flow, not only per table slot, so a slot left
 * behind by an ended flow never continues into a new one; and the next
 * expected seq) of at
 * most DP_DNS_TCP_MSG_MAX bytes each; whatever cannot be followed (a segment
 * out of order, a message too long, a slot taken over) is counted in
 * tcp_skipped, never parsed from a wrong offset. A segment that does not
 * continue a kept message is taken to start at a message boundary (the first
 * answer of a connection always does); if it does not, the parser counts it
 * bad. Writer: the table's worker.
 */
/* What a TCP answer holding SVCB/HTTPS records does (they cannot be rewritten in a stream). */
enum dp_dns_tcp_https {
	DP_DNS_TCP_HTTPS_PASS = 0,      /* dns.https_rr = "allow" (and monitor mode) */
	DP_DNS_TCP_HTTPS_REFUSE,        /* "refuse": any SVCB/HTTPS record blocks */
	DP_DNS_TCP_HTTPS_NO_ECH,        /* "strip_ech": one with an ech SvcParam blocks */
};

/*
 * Returns 1 when a message completed by this segment holds SVCB/HTTPS
 * records that https says to block (counted refused / unstrippable): the
 * caller drops the segment, so the client never has the whole message, and
 * ends the flow. 0 otherwise.
 */
int dp_dns_observe_tcp(struct dp_dns_table *t, uint64_t flow_id, uint8_t family,
		       const uint8_t client[16], uint32_t seq, const uint8_t *data,
		       size_t len, uint32_t now_s, enum dp_dns_tcp_https https);
/* The flow ended: forget its partial message (if any; counted skipped).
 * Optional: a slot left behind is taken over later (and counted then). */
void dp_dns_tcp_forget(struct dp_dns_table *t, uint64_t flow_id);

/*
 * The process's resolved table, at least max_entries slots, entries kept
 * grace_s seconds past their TTL. Replaces (and frees) an earlier one.
 * 0 or -errno. Control thread only.
 */
int dp_dns_resolved_init(uint32_t max_entries, uint32_t grace_s);
void dp_dns_resolved_fini(void);
/* The grace of answers added from now on (the live policy's dns.grace). Control thread. */
void dp_dns_resolved_set_grace(uint32_t grace_s);

/*
 * Out-of-band answers for name (lower-case, no trailing dot): addrs[i] (family
 * fam[i], 4 or 6) valid ttl[i] seconds from now_s. Control thread only.
 * 0, or -EINVAL (no table, bad family), -ENOENT when n == 0.
 */
int dp_dns_resolved_add(const char *name, size_t name_len, unsigned int n,
			const uint8_t *fam, const uint8_t (*addrs)[16], const uint32_t *ttl,
			uint32_t now_s);
/* Drop every entry of name (the policy no longer resolves it). Count dropped. */
int dp_dns_resolved_remove(const char *name, size_t name_len);
void dp_dns_resolved_stats_get(uint32_t now_s, struct dp_dns_resolved_stats *out);

#endif /* CHOKEPOINT_DP_DNS_H */
