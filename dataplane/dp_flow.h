/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_flow.h: the per-worker flow table. A bucketized cuckoo hash (dp_flow.c)
 * keyed by the canonical struct dp_flow_key (both directions give one key)
 * maps a key to the index of its record in a flat array of struct dp_flow,
 * one 64-byte line; the key is stored once, in the record, compact (struct
 * dp_flow_ckey), so a lookup is one bucket line and the record's line (and,
 * for IPv6, the flow's address record). What the packets of an established
 * flow never touch is in a parallel array (struct dp_flow_info,
 * dp_flow_info()). Bounded: an insert that finds no room (records, IPv6
 * address records, GENEVE pair ids) is "table full" (the caller applies the
 * policy's table_full verdict). Aging is a bounded sweep over the array
 * (dp_flow_sweep), never a full walk.
 */
#ifndef CHOKEPOINT_DP_FLOW_H
#define CHOKEPOINT_DP_FLOW_H

#include <stdint.h>

#include "dp_pkt.h"
#include "dp_proto.h"
#include "dp_stream.h"

enum dp_fstate {
	DP_FS_FREE = 0,
	DP_FS_SYN_SEEN,          /* TCP: SYN seen, a name is needed, no client payload yet */
	DP_FS_PENDING,           /* TCP: client payload held (or fed, monitor), no verdict */
	DP_FS_MIDWAIT,           /* replay: TCP without SYN, client not known yet */
	DP_FS_ALLOWED,           /* verdict allow (or monitor: forwarded whatever the verdict) */
	DP_FS_DENIED,            /* verdict deny, enforced: dropped */
	DP_FS_UNIT,              /* TCP, decided: a later unit of the client stream (the next
				  * request head, a second ClientHello) is held until judged */
};

/* dp_flow.flags */
#define DP_FF_ENFORCED   0x01    /* the verdict is enforced (policy in enforce mode) */
#define DP_FF_FIN_C      0x02    /* FIN seen from the client */
#define DP_FF_FIN_S      0x04    /* FIN seen from the server */
#define DP_FF_RST        0x08    /* an RST was seen */
#define DP_FF_DECIDED    0x10    /* a flow.decision event was emitted */
#define DP_FF_ECH        0x20
#define DP_FF_PQC        0x40
#define DP_FF_HAS_ACK    0x80    /* c_ack holds a client ACK field */
#define DP_FF_SYN        0x100   /* created by the client's SYN: isn is known */
#define DP_FF_VERIFY     0x200   /* allowed; the decided bytes are kept (slot) until the
				  * server acknowledges them, to compare retransmissions */
#define DP_FF_REVOKE_RST 0x400   /* denied by revalidation (dp_reval.h): reset both ends
				  * at the flow's next packet */

#define DP_NO_SLOT UINT32_MAX
#define DP_NO_NAME UINT32_MAX

/* Direction of a packet relative to its flow. */
#define DP_DIR_C2S 0
#define DP_DIR_S2C 1

/*
 * The state only a TCP flow that is pending, watched (its client stream
 * followed after a decision), verifying or denied needs: a record of a
 * bounded side pool of the table (dp_flow_cold_take), named by
 * dp_flow.cold, taken at the SYN and given back at the client's data once
 * the flow is allowed and neither watched nor verifying (or when the flow is
 * removed). When the pool is empty a closed flow holding a record is ended
 * to give it (dp_flow_cold_victim), else the SYN gets the table_full
 * verdict (counted, audited).
 */
struct dp_flow_cold {
	uint32_t isn;            /* client ISN */
	uint32_t c_ack;          /* ACK field of the latest client segment */
	uint32_t c_nxt;          /* client's next seq: highest seq + len seen */
	uint32_t link;           /* free: next free record + 1 (0 end); taken: its flow's index */
	uint64_t last_rst_ns;    /* last RST sent for this DENIED flow */
	struct dp_wstate ws;     /* the client stream after a decision (dp_stream.h) */
};

/*
 * The key as the record keeps it (18 B; docs/performance.md "Flow record in
 * one line"): for IPv4 the addresses themselves, for IPv6 a 64-bit digest of
 * the address pair (the addresses are in a side record of the table, struct
 * dp_flow_v6, which a lookup compares too), and for GENEVE a small id of the
 * (GWLB endpoint, attachment) pair interned per table (0: none). Canonical as
 * struct dp_flow_key: both directions give one key.
 */
struct dp_flow_ckey {
	uint32_t a, b;           /* IPv4: the addresses (network order, lower endpoint
				  * first); IPv6: the two halves of the pair's digest */
	uint16_t pa, pb;
	uint16_t vlan;           /* outermost VID */
	uint8_t family;
	uint8_t l4proto;
	uint16_t zone;           /* GENEVE pair id (dp_flow.c), 0 none */
} __attribute__((packed, aligned(2)));

/*
 * The record: exactly one 64-byte line, what every packet of a decided flow
 * reads or writes (the key a lookup compares, the state, the counters,
 * last_ms). What only a decision, an event or revalidation needs is in the
 * parallel array of struct dp_flow_info (dp_flow_info()); an IPv6 flow's
 * addresses in a struct dp_flow_v6 side record; a pending/watched TCP
 * flow's sequence state in a struct dp_flow_cold side record.
 * Packet counters are 40 bits (32 + an 8-bit high part), timestamps are
 * milliseconds modulo 2^32 (dp_flow_ms; a span of up to 49 days is
 * recovered against the current time, dp_flow_ms_ns).
 */
struct dp_flow {
	struct dp_flow_ckey key; /* 18 B: compared by every lookup */
	uint8_t state;           /* enum dp_fstate */
	uint8_t client_is_a;     /* the client is endpoint a of the key */
	uint8_t client_port;     /* port index the client's packets arrive on */
	uint8_t verdict;         /* enum dp_verdict */
	uint16_t flags;          /* DP_FF_* */
	uint64_t bytes[2];       /* [DP_DIR_C2S], [DP_DIR_S2C] */
	uint32_t pkts[2];        /* low 32 bits; pkts_hi holds the next 8 */
	uint32_t last_ms;        /* dp_flow_ms of the latest packet */
	union {
		uint32_t quic;   /* UDP: QUIC connection record + 1 (dp_quic.h), 0 none */
		uint32_t cold;   /* TCP: side record + 1 (struct dp_flow_cold), 0 none */
	};
	union {
		uint32_t v6;     /* IPv6: address record + 1 (struct dp_flow_v6) */
		uint32_t next_free; /* free record: the next free index + 1, 0 end */
	};
	uint8_t app;             /* enum dp_app */
	uint8_t close_cause;     /* enum dp_close_cause once closing */
	uint8_t pkts_hi[2];      /* bits 32-39 of the packet counters */
};

/*
 * Per-flow data that the packets of an established flow do not touch: same
 * index as the record (dp_flow_info()), 32 B.
 */
struct dp_flow_info {
	uint32_t start_ms;       /* dp_flow_ms of the first packet */
	int32_t rule;            /* deciding rule index, -1 none */
	uint32_t anomalies;      /* bitmask of enum dp_anomaly */
	uint32_t slot;           /* inspection slot (dp_hold.h), DP_NO_SLOT */
	uint32_t name_id;        /* interned name (dp_names), DP_NO_NAME */
	uint32_t policy_gen;     /* generation that decided (low 32 bits) */
	uint8_t reason;          /* enum dp_reason */
	uint8_t name_kind;       /* enum dp_name_kind */
	uint8_t syn_ttl;         /* TTL / hop limit of the client's SYN, 0 unknown */
	uint8_t bound;           /* enum dp_bound of the latest decision */
	uint16_t tls_versions;   /* DP_TLSV_* */
};

/* An IPv6 flow's addresses (free: a[0..3] link the free list). */
struct dp_flow_v6 {
	uint8_t a[16], b[16];
};

/* An interned GENEVE (endpoint, attachment) pair, id = index + 1. */
struct dp_flow_zone {
	uint64_t ep, att;
	uint32_t refs;           /* flows naming it; 0: free */
	uint32_t next_free;      /* free: next free id, 0 end */
};

/* Bytes of a record the packets of a decided flow touch: one line. */
#define DP_FLOW_HOT_BYTES 64

/* A table bucket: 8 x (signature, flow index + 1), one cache line (dp_flow.c). */
struct dp_flow_bkt;

#define DP_FLOW_STASH 32         /* entries cuckoo displacement could not place */

/* Side pool sizes (0: the default of dp_flow_cold_cap / dp_flow_v6_cap). */
struct dp_flow_sizes {
	uint32_t cold;           /* TCP side records */
	uint32_t v6;             /* IPv6 address records */
	uint32_t zones;          /* GENEVE pairs (default DP_FLOW_ZONES) */
};

#define DP_FLOW_ZONES 4096
#define DP_FLOW_ZONE_MISS 0xffffu /* a lookup key's pair that is not interned */

struct dp_flow_table {
	struct dp_flow_bkt *bkt; /* bkt_mask + 1 buckets */
	struct dp_flow *flows;   /* capacity entries; a flow's index never changes */
	struct dp_flow_info *info; /* capacity entries, same index */
	uint32_t free_head;      /* first free record + 1 (threaded by next_free), 0 none */
	uint32_t fresh;          /* records never used start here */
	uint32_t bkt_mask;
	uint32_t capacity;
	uint32_t active;
	uint32_t sweep_pos;      /* next array index the aging sweep looks at */
	uint32_t n_stash;
	struct dp_flow_cold *cold; /* cold_cap side records */
	uint32_t cold_cap;
	uint32_t cold_free;      /* first free side record + 1, 0 none */
	uint32_t cold_used;
	uint32_t cold_scan;      /* next side record dp_flow_cold_victim looks at */
	struct dp_flow_v6 *v6;   /* v6_cap address records */
	uint32_t v6_cap;
	uint32_t v6_free;        /* first free address record + 1, 0 none */
	uint32_t v6_used;
	uint32_t zone_cap;       /* interned GENEVE pairs, at most 65534 */
	uint32_t zone_free;      /* first free id, 0 none */
	uint32_t zone_used;
	uint32_t zone_hmask;     /* zone_hash has zone_hmask + 1 slots */
	struct dp_flow_zone *zone;
	uint16_t *zone_hash;     /* open addressing: id, 0 empty */
	uint64_t v6_full;        /* inserts refused: no address record left */
	uint64_t zone_full;      /* inserts refused: no GENEVE pair id left */
	uint32_t stash_sig[DP_FLOW_STASH];
	uint32_t stash_idx[DP_FLOW_STASH];
	uint64_t kicks;          /* cuckoo displacements so far */
	void *map;               /* the arrays' one THP mapping (--no-huge), else NULL */
	size_t map_len;
};

/*
 * Bytes of the table's arrays in 2 MiB huge pages now (--no-huge: the
 * AnonHugePages of its mapping); 0 when they are on the DPDK heap.
 */
size_t dp_flow_table_huge_bytes(const struct dp_flow_table *t);

/* Idle timeouts per state, ns (from the live policy's cpm_settings). */
struct dp_timeouts {
	uint64_t tcp_established;
	uint64_t tcp_halfopen;
	uint64_t tcp_closed;
	uint64_t udp;
	uint64_t other;
};

int dp_flow_table_init(struct dp_flow_table *t, const char *name, uint32_t capacity,
		       int socket);
/* The same with the side pools' sizes given (zeros: the defaults). */
int dp_flow_table_init_sized(struct dp_flow_table *t, const char *name, uint32_t capacity,
			     const struct dp_flow_sizes *sz, int socket);
void dp_flow_table_free(struct dp_flow_table *t);

/* Lookup: the flow, or NULL. */
struct dp_flow *dp_flow_lookup(struct dp_flow_table *t, const struct dp_flow_key *key);

/*
 * Bulk lookup of n (<= 64) keys: out[i] = flow or NULL. Staged so the
 * misses of the burst overlap: every key's bucket is prefetched, then every
 * candidate record, then the keys are compared.
 */
void dp_flow_lookup_bulk(struct dp_flow_table *t, const struct dp_flow_key *const *keys,
			 unsigned int n, struct dp_flow **out);

/*
 * Insert key: a zeroed flow (key filled, slot/name_id unset) in *out.
 * Returns 0, -EEXIST (then *out is the existing flow), or -ENOSPC (full:
 * no record, no IPv6 address record or no GENEVE pair id left).
 */
int dp_flow_insert(struct dp_flow_table *t, const struct dp_flow_key *key,
		   struct dp_flow **out);

/* Remove a flow (the caller has ended it). */
void dp_flow_remove(struct dp_flow_table *t, struct dp_flow *f);

/* Index of a flow in the table array. */
static inline uint32_t
dp_flow_index(const struct dp_flow_table *t, const struct dp_flow *f)
{
	return (uint32_t)(f - t->flows);
}

/* The flow's less used data (same index). */
static inline struct dp_flow_info *
dp_flow_info(const struct dp_flow_table *t, const struct dp_flow *f)
{
	return &t->info[f - t->flows];
}

/* The full key of a flow (addresses from its IPv6 record, GENEVE ids from its pair). */
void dp_flow_key_get(const struct dp_flow_table *t, const struct dp_flow *f,
		     struct dp_flow_key *key);

/* Side records per table of capacity n: all of them up to 65536, else n / 4. */
static inline uint32_t
dp_flow_cold_cap(uint32_t n)
{
	return n <= 65536 ? n : (n / 4 > 65536 ? n / 4 : 65536);
}

/* IPv6 address records per table of capacity n: all up to 65536, else n / 16. */
static inline uint32_t
dp_flow_v6_cap(uint32_t n)
{
	return n <= 65536 ? n : (n / 16 > 65536 ? n / 16 : 65536);
}

/* The flow's side record (TCP flows only), NULL if it has none. */
static inline struct dp_flow_cold *
dp_flow_cold(const struct dp_flow_table *t, const struct dp_flow *f)
{
	return f->key.l4proto == 6 && f->cold != 0 ? &t->cold[f->cold - 1] : NULL;
}

/* Give f (TCP) a zeroed side record if it has none: 0, or -ENOSPC (pool empty). */
int dp_flow_cold_take(struct dp_flow_table *t, struct dp_flow *f);

/* Give f's side record back (none: nothing). */
void dp_flow_cold_put(struct dp_flow_table *t, struct dp_flow *f);

/*
 * A flow holding a side record that has closed (dp_flow_closing: RST, FIN
 * both ways, denied), among up to budget records from a rotating cursor;
 * NULL if none. The caller ends it to give its record to a new flow.
 */
struct dp_flow *dp_flow_cold_victim(struct dp_flow_table *t, unsigned int budget);

/* A time in ns as the record keeps it: milliseconds modulo 2^32. */
static inline uint32_t
dp_flow_ms(uint64_t ns)
{
	return (uint32_t)(ns / 1000000u);
}

/* The ns time of a record timestamp ms, at most 49 days before now_ns. */
static inline uint64_t
dp_flow_ms_ns(uint32_t ms, uint64_t now_ns)
{
	uint64_t back = (uint64_t)(uint32_t)(dp_flow_ms(now_ns) - ms) * 1000000u;

	return (now_ns / 1000000u) * 1000000u - back;
}

/* A packet counter of a record (40 bits). */
static inline uint64_t
dp_flow_pkts(const struct dp_flow *f, int dir)
{
	return ((uint64_t)f->pkts_hi[dir] << 32) | f->pkts[dir];
}

/* Idle timeout of a flow in its current state. Pure. */
uint64_t dp_flow_timeout(const struct dp_flow *f, const struct dp_timeouts *to);

/* 1 if the flow is closing (FIN both ways, an RST, or denied). Pure. */
static inline int
dp_flow_closing(const struct dp_flow *f)
{
	return (f->flags & DP_FF_RST) ||
	       (f->flags & (DP_FF_FIN_C | DP_FF_FIN_S)) == (DP_FF_FIN_C | DP_FF_FIN_S) ||
	       f->state == DP_FS_DENIED;
}

/*
 * Aging sweep: look at up to budget array entries from the cursor and put
 * the flows idle longer than their timeout at now into expired[] (at most
 * max). Returns the number put. The caller ends and removes them.
 */
unsigned int dp_flow_sweep(struct dp_flow_table *t, uint64_t now, const struct dp_timeouts *to,
			   unsigned int budget, struct dp_flow **expired, unsigned int max);

/*
 * Flows in array order from *pos (for shutdown: end everything): up to max
 * in-use flows into out[], *pos advanced. Returns the number put (0: done).
 */
unsigned int dp_flow_iter(struct dp_flow_table *t, uint32_t *pos, struct dp_flow **out,
			  unsigned int max);

#endif /* CHOKEPOINT_DP_FLOW_H */
