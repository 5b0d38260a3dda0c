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
 * 1 if some worker's table holds a live binding: name (lower-case, as the
 * matcher normalises it) was answered with addr to client (both of family),
 * not expired at now_s (TTL + grace). Any thread may call it.
 */
int dp_dns_bound(uint8_t family, const uint8_t client[16], const uint8_t addr[16],
		 const char *name, size_t name_len, uint32_t now_s);

/* A copy of the table's counters (a reader may see them a moment late). */
void dp_dns_stats_get(const struct dp_dns_table *t, struct dp_dns_stats *out);

#endif /* CHOKEPOINT_DP_DNS_H */
