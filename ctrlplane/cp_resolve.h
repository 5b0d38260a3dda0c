/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_resolve.h: out-of-band resolution (issue 9 item 2). Where the VPC
 * resolver's traffic does not cross the appliance (AWS's resolver at the VPC
 * base + 2 does not), the dataplane never sees the answers its clients get.
 * chokepointd then resolves every exact name of the bind = "dns" rules itself,
 * through the configured resolver (dns.resolver), every dns.resolve_interval
 * seconds, and pushes the addresses to the dataplane (DP_MSG_DNS_RESOLVED),
 * which binds them for any client until TTL + grace.
 *
 * Its own non-blocking client, driven by chokepointd's poll() loop: one UDP
 * socket per round (connected to the resolver, so only its datagrams are
 * read; a fresh source port each round), an A and an AAAA query per name with
 * a random id and EDNS0 (1232 bytes), at most CP_RESOLVE_INFLIGHT queries
 * outstanding, each retried resolve_retries times after resolve_timeout_ms;
 * an answer must come from the resolver, carry the query's id, name and type
 * and parse (dataplane/parse/dns.h: CNAME chains followed from the name, at
 * most DNS_ADDR_MAX addresses). A truncated answer (TC) is asked again over
 * TCP (2-byte length prefix, non-blocking connect, same timeout). At most
 * max_names names are resolved (config order); the rest are counted.
 *
 * A name whose queries all fail keeps what it had (its addresses expire in the
 * dataplane after TTL + grace: fail closed, not open). A name that leaves the
 * policy is removed from the dataplane at once.
 */
#ifndef CHOKEPOINT_CP_RESOLVE_H
#define CHOKEPOINT_CP_RESOLVE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dp_proto.h"

#define CP_RESOLVE_INFLIGHT 64        /* queries outstanding at once */
#define CP_RESOLVE_TCP_MAX 4          /* TCP fallbacks at once */
#define CP_RESOLVE_FDS (1 + CP_RESOLVE_TCP_MAX)

struct cp_resolve_stats {
	bool configured;
	char server[64];          /* as configured */
	uint32_t interval_s;
	uint32_t names;           /* names resolved each round */
	uint32_t names_capped;    /* exact bind = "dns" names over max_names: not resolved */
	uint32_t max_names;
	uint64_t rounds;          /* rounds completed */
	uint64_t queries;         /* queries sent (UDP and TCP, retries included) */
	uint64_t answers;         /* matching answers read */
	uint64_t timeouts;        /* queries given up after their retries */
	uint64_t retries;         /* queries sent again after a timeout */
	uint64_t tcp;             /* answers asked again over TCP (TC set) */
	uint64_t failed;          /* names of a round without any address (rcode, no data, timeouts) */
	uint64_t bad;             /* datagrams dropped: unparsable, unknown id, wrong name/type */
	uint64_t pushed;          /* DNS_RESOLVED add messages handed to the dataplane link */
	uint64_t removed;         /* names removed (gone from the policy) */
};

struct cp_resolve_conf {
	const char *server;       /* "IP[:port]", NULL: off */
	uint32_t interval_s;      /* > 0 */
	uint32_t timeout_ms;      /* per attempt */
	uint32_t retries;         /* attempts after the first */
	uint32_t max_names;
	const char *const *names; /* exact names, normalised, unique */
	size_t n_names;
};

/* Where the answers go: one message, ready to send (add or remove). */
typedef void (*cp_resolve_emit_fn)(void *arg, const struct dp_msg_dns_resolved *m);

struct cp_resolve;

int cp_resolve_new(cp_resolve_emit_fn emit, void *arg, struct cp_resolve **out);
void cp_resolve_free(struct cp_resolve *r);

/*
 * Apply a (new) policy's settings: names that left are removed (emitted at
 * once); a new name list or server starts a new round now. 0, or -EINVAL
 * (server does not parse: err says why).
 */
int cp_resolve_configure(struct cp_resolve *r, const struct cp_resolve_conf *c,
			 uint64_t now_ms, char *err, size_t errlen);

/* Start a round now (a dataplane connected: its table may be empty); during a
 * round, the next one starts as soon as it ends. */
void cp_resolve_kick(struct cp_resolve *r, uint64_t now_ms);

/* The descriptors to poll (fills pfd, returns how many, <= CP_RESOLVE_FDS). */
int cp_resolve_pollfds(const struct cp_resolve *r, struct pollfd *pfd, int max);

/* Milliseconds until cp_resolve_service() has work to do without I/O, -1 never. */
int cp_resolve_timeout_ms(const struct cp_resolve *r, uint64_t now_ms);

/* Read what arrived, resend or give up what timed out, start what is due. */
void cp_resolve_service(struct cp_resolve *r, uint64_t now_ms);

void cp_resolve_stats(const struct cp_resolve *r, struct cp_resolve_stats *out);

/* A DNS query for name/qtype with id into buf (at least 300 bytes). Length. */
size_t cp_resolve_query(uint8_t *buf, uint16_t id, const char *name, uint16_t qtype);

#endif /* CHOKEPOINT_CP_RESOLVE_H */
