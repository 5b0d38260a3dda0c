/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_proto.h: the wire contract between chokepoint-dp and its control plane
 * (chokepointd, or chokepointctl replay acting as one). Types only: no DPDK,
 * no functions, so both sides include it.
 *
 * Transport: one UNIX SOCK_SEQPACKET connection. The dataplane connects (and
 * reconnects) to the control plane's listening socket, or is handed one end
 * of a socketpair with --ctl-fd. Every message starts with struct dp_msg_hdr;
 * the receiver checks magic, version, type and that hdr.len equals the
 * datagram length and the size its type requires, and drops (and counts) any
 * message that does not, never trusting a length from the wire.
 *
 *   dp -> cp  HELLO          once per connection (boot id, sizes, current policy)
 *   cp -> dp  POLICY         + SCM_RIGHTS fd of a sealed memfd holding the blob
 *   dp -> cp  POLICY_ACK     generation now live, or POLICY_NACK with a reason
 *   dp -> cp  EVENTS         a batch of struct dp_event
 *   cp -> dp  EVENTS_ACK     per worker: every wseq <= acked is durable (resend the rest);
 *                            the dataplane keeps every unacknowledged event in a bounded
 *                            retention and resends it after a reconnect
 *   cp -> dp  STATS_REQ      -> dp -> cp STATS
 *   dp -> cp  DRAINED        replay only: every capture consumed, every event sent
 *   cp -> dp  QUIT           replay only: exit cleanly
 *   cp -> dp  DNS_RESOLVED   out-of-band answers for one name (add), or the name
 *                            no longer resolved by policy (remove); no reply
 *
 * All integers are host byte order (both ends are on one machine); addresses
 * are network byte order, IPv4 in the first 4 bytes of a 16-byte array.
 */
#ifndef CHOKEPOINT_DP_PROTO_H
#define CHOKEPOINT_DP_PROTO_H

#include <stdint.h>

#define DP_PROTO_MAGIC   0x43484b50u /* "CHKP" */
#define DP_PROTO_VERSION 1

#define DP_MAX_WORKERS   16
#define DP_MAX_PORTS     4
#define DP_NAME_MAX      255  /* DNS name limit; longer wire names are truncated + anomaly */
#define DP_ALPN_BYTES    62   /* ALPN list, wire format (len-prefixed strings), truncated */
#define DP_JA4_MAX       40
#define DP_REASON_TEXT_MAX 200 /* NACK reason text, NUL included */
#define DP_EVENTS_PER_MSG 32
#define DP_RULE_HITS_MAX 256      /* rules whose hits STATS carries one by one */

enum dp_msg_type {
	DP_MSG_HELLO = 1,
	DP_MSG_POLICY = 2,
	DP_MSG_POLICY_ACK = 3,
	DP_MSG_POLICY_NACK = 4,
	DP_MSG_EVENTS = 5,
	DP_MSG_EVENTS_ACK = 6,
	DP_MSG_STATS_REQ = 7,
	DP_MSG_STATS = 8,
	DP_MSG_DRAINED = 9,
	DP_MSG_QUIT = 10,
	DP_MSG_DNS_RESOLVED = 11,
	DP_MSG_TYPE_MAX
};

struct dp_msg_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;       /* whole message, header included */
	uint32_t reserved;
};

struct dp_msg_hello {
	struct dp_msg_hdr hdr;
	uint8_t boot_id[16];      /* random per dataplane start */
	uint32_t pid;
	uint16_t n_workers;
	uint16_t n_ports;
	uint64_t policy_gen;      /* 0: no policy (fail closed) */
	uint8_t policy_sha256[32];
	uint64_t next_wseq[DP_MAX_WORKERS];
	uint8_t replay;           /* 1: chokepointctl replay */
	uint8_t pad[7];
};

struct dp_msg_policy {
	struct dp_msg_hdr hdr;    /* + one fd (SCM_RIGHTS): sealed memfd, blob at offset 0 */
	uint64_t gen;
	uint64_t blob_len;
	uint8_t sha256[32];       /* policy hash (config + every included file) */
};

struct dp_msg_policy_ack {
	struct dp_msg_hdr hdr;
	uint64_t gen;
};

struct dp_msg_policy_nack {
	struct dp_msg_hdr hdr;
	uint64_t gen;
	char reason[DP_REASON_TEXT_MAX]; /* NUL-terminated */
};

/* ---- out-of-band DNS (issue 9): chokepointd resolves, the dataplane binds --- */

#define DP_DNS_RES_ADDRS 32       /* addresses per name and message */

enum dp_dns_res_op {
	DP_DNS_RES_ADD = 1,       /* bind name to addrs (any client) for ttl + grace */
	DP_DNS_RES_REMOVE = 2,    /* unbind every address of name at once */
};

struct dp_dns_res_addr {
	uint8_t family;           /* 4 or 6 */
	uint8_t pad[3];
	uint32_t ttl;             /* seconds (smallest along its CNAME chain) */
	uint8_t addr[16];
};

struct dp_msg_dns_resolved {
	struct dp_msg_hdr hdr;
	uint8_t op;               /* enum dp_dns_res_op */
	uint8_t n_addrs;          /* ADD: 1..DP_DNS_RES_ADDRS; REMOVE: 0 */
	uint16_t name_len;        /* 1..253 */
	uint32_t pad;
	char name[DP_NAME_MAX + 1]; /* lower-case, no trailing dot, NUL at name_len */
	struct dp_dns_res_addr addrs[DP_DNS_RES_ADDRS];
};

/* ---- audit events -------------------------------------------------------- */

enum dp_event_type {
	DP_EV_DECISION = 1,       /* flow.decision */
	DP_EV_END = 2,            /* flow.end */
	DP_EV_GAP = 3,            /* events lost on this worker: wseq range in gap_*,
				   * cause (enum dp_gap_cause) in reason */
};

/* Why events were lost (audit.gap "cause"; names in dp_gap_cause_names[]). */
enum dp_gap_cause {
	DP_GAP_RING_FULL = 0,     /* the worker's ring was full, the retention had room */
	DP_GAP_CTRLPLANE_DOWN,    /* no control plane and the retention full */
	DP_GAP_SPOOL_FULL,        /* connected, but acknowledgements too slow: retention full */
	DP_GAP_CAUSE_MAX
};

enum dp_verdict {
	DP_VERDICT_NONE = 0,
	DP_VERDICT_ALLOW = 1,
	DP_VERDICT_DENY = 2,
};

/* Why a verdict was reached; names in dp_reason_names[] (audit "reason"). */
enum dp_reason {
	DP_REASON_RULE = 0,
	DP_REASON_DEFAULT,
	DP_REASON_TRUSTED,
	DP_REASON_NOT_INTERNAL,   /* initiator outside `internal`: not governed */
	DP_REASON_INBOUND,        /* initiated from the outside port (wire mode) */
	DP_REASON_QUIC,           /* UDP 443 with quic = "deny" */
	DP_REASON_NO_POLICY,      /* fail closed before the first policy */
	DP_REASON_TABLE_FULL,
	DP_REASON_MIDSTREAM,      /* TCP without a flow entry and no SYN */
	DP_REASON_ANOMALY,        /* see anomalies bitmask; first set bit names it */
	DP_REASON_AUDIT_OVERFLOW, /* audit_overflow = deny_new_flows and the event could not be kept */
	DP_REASON_REVALIDATED,    /* an established flow the new policy denies (revalidate = true) */
	DP_REASON_MAX
};

/* Anomaly classes (issue 3 fills in detection); bit i = dp_anomaly_names[i]. */
enum dp_anomaly {
	DP_AN_NO_SNI = 0,
	DP_AN_IP_LITERAL_SNI,
	DP_AN_MULTIPLE_SNI,
	DP_AN_MALFORMED_CLIENTHELLO,
	DP_AN_OVERSIZE_CLIENTHELLO,
	DP_AN_RECORD_FRAGMENTED,
	DP_AN_OOO_FIRST_SEGMENT,
	DP_AN_OVERLAP_CONFLICT,
	DP_AN_NON_TLS_ON_TLS_PORT,
	DP_AN_NON_HTTP_ON_HTTP_PORT,
	DP_AN_UNKNOWN_PROTOCOL,
	DP_AN_REASSEMBLY_TIMEOUT,
	DP_AN_HOLD_MEMORY_FULL,
	DP_AN_TINY_SEGMENTS,
	DP_AN_IP_FRAGMENT,
	DP_AN_IPV6_EXT_CHAIN,
	DP_AN_ECH,
	DP_AN_INVALID_NAME,
	DP_AN_MULTIPLE_HOST,
	DP_AN_HOST_MISMATCH,
	DP_AN_QUIC_UNDECRYPTABLE,   /* a QUIC Initial that does not open with its own keys */
	DP_AN_QUIC_UNKNOWN_VERSION, /* a QUIC long header of a version not decoded here */
	DP_AN_QUIC_MALFORMED,       /* QUIC header or Initial frames break RFC 9000 */
	DP_AN_HTTP_SMUGGLING,       /* HTTP request framing two parsers may read differently
				     * (Content-Length with chunked, broken chunked framing) */
	DP_AN_SNI_CHANGED,          /* a second ClientHello (after an HRR) names another server */
	DP_AN_GENEVE_TLV_MISSING,   /* GENEVE without the AWS GWLB TLVs (endpoint id, attachment
				     * id, flow cookie): dropped, whatever the policy says */
	DP_AN_SNI_DST_MISMATCH,     /* the deciding allow rule binds its name (bind = "dns" |
				     * "pinned") and the destination is not bound to it */
	DP_AN_DOT,                  /* DNS over TLS / QUIC: TCP or UDP to port 853 */
	DP_AN_DOH,                  /* a name on the DoH list (doh_file): DNS over HTTPS */
	DP_AN_MAX
};

enum dp_app {
	DP_APP_UNKNOWN = 0,
	DP_APP_TLS,
	DP_APP_HTTP,
	DP_APP_QUIC,
	DP_APP_DNS,
	DP_APP_MAX
};

enum dp_name_kind {
	DP_NAME_NONE = 0,
	DP_NAME_SNI = 1,
	DP_NAME_HOST = 2,
};

/* How the decision's name was bound to its destination (audit "bound"). */
enum dp_bound {
	DP_BOUND_NONE = 0,        /* no binding asked: the name the client wrote, any address */
	DP_BOUND_DNS,             /* an answer for the name to this client, seen on the path */
	DP_BOUND_RESOLVED,        /* an address the ctrlplane resolved for the name out of band */
	DP_BOUND_PINNED,          /* an address in the deciding rule's own dst list */
	DP_BOUND_MAX
};

enum dp_close_cause {
	DP_CLOSE_NONE = 0,
	DP_CLOSE_FIN,
	DP_CLOSE_RST,
	DP_CLOSE_IDLE,
	DP_CLOSE_DENIED,
	DP_CLOSE_SHUTDOWN,        /* dataplane stopped / replay ended */
	DP_CLOSE_EVICTED,
	DP_CLOSE_MAX
};

/* TLS versions seen in supported_versions (or legacy_version): bitmask. */
#define DP_TLSV_SSL3  (1u << 0)
#define DP_TLSV_1_0   (1u << 1)
#define DP_TLSV_1_1   (1u << 2)
#define DP_TLSV_1_2   (1u << 3)
#define DP_TLSV_1_3   (1u << 4)

#define DP_EVF_ENFORCED  (1u << 0)  /* verdict enforced (enforce mode) */
#define DP_EVF_ECH       (1u << 1)  /* ClientHello carries ECH (0xfe0d) */
#define DP_EVF_PQC       (1u << 2)  /* post-quantum key share offered */
#define DP_EVF_REPLAY    (1u << 3)
#define DP_EVF_GWLB      (1u << 4)  /* GENEVE: gwlb_ep / gwlb_att carry the GWLB ids */

/*
 * One audit event, fixed size, copied through a per-worker ring. The control
 * plane renders it to JSON; every byte string from the wire (name, alpn, ja4)
 * is raw here and escaped there.
 */
struct dp_event {
	uint8_t type;             /* enum dp_event_type */
	uint8_t worker;
	uint8_t verdict;          /* enum dp_verdict */
	uint8_t reason;           /* enum dp_reason */
	uint8_t app;              /* enum dp_app */
	uint8_t l4proto;          /* IPPROTO_* */
	uint8_t family;           /* 4 or 6 */
	uint8_t name_kind;        /* enum dp_name_kind */
	uint16_t sport, dport;    /* client's port, server's port */
	uint16_t vlan;            /* outermost 802.1Q VID, 0 if none */
	uint8_t name_len;
	uint8_t close_cause;      /* enum dp_close_cause (END) */
	uint8_t src[16];          /* client (initiator) */
	uint8_t dst[16];          /* server */
	uint64_t wseq;            /* per-worker sequence, from 1, no holes */
	uint64_t ts_ns;           /* realtime ns (pcap time in replay) */
	uint64_t policy_gen;
	int32_t rule;             /* rule index, -1 when none */
	uint32_t flags;           /* DP_EVF_* */
	uint32_t anomalies;       /* bitmask of enum dp_anomaly */
	uint16_t tls_versions;    /* DP_TLSV_* */
	uint8_t alpn_len;
	uint8_t ja4_len;
	/* END */
	uint64_t pkts_c2s, pkts_s2c, bytes_c2s, bytes_s2c;
	uint64_t start_ns;        /* first packet of the flow */
	/* GAP */
	uint64_t gap_first, gap_last;
	char name[DP_NAME_MAX + 1];
	uint8_t alpn[DP_ALPN_BYTES];
	char ja4[DP_JA4_MAX];
	uint8_t bound;            /* enum dp_bound (DECISION) */
	/* GENEVE (DP_EVF_GWLB): the AWS GWLB endpoint id and attachment id of the flow */
	uint64_t gwlb_ep, gwlb_att;
};

struct dp_msg_events {
	struct dp_msg_hdr hdr;
	uint32_t count;           /* 1..DP_EVENTS_PER_MSG */
	uint32_t pad;
	uint8_t boot_id[16];
	struct dp_event ev[];     /* count entries; hdr.len == sizeof + count*sizeof(ev) */
};

struct dp_msg_events_ack {
	struct dp_msg_hdr hdr;
	uint64_t acked_wseq[DP_MAX_WORKERS];
};

/* ---- statistics --------------------------------------------------------- */

/* Per-worker counters; names in dp_counter_names[] (status output). */
enum dp_counter {
	DP_C_RX_PKTS = 0,
	DP_C_TX_PKTS,
	DP_C_TX_DROPPED,          /* TX queue full */
	DP_C_DROPPED,             /* dropped by verdict or bad input */
	DP_C_FLOWS_CREATED,
	DP_C_FLOWS_ENDED,
	DP_C_FLOWS_ACTIVE,        /* gauge */
	DP_C_FLOWS_PENDING,       /* gauge: waiting for a name */
	DP_C_TABLE_FULL,
	DP_C_ALLOW,
	DP_C_DENY,
	DP_C_MONITOR_WOULD_DENY,
	DP_C_TRUSTED,
	DP_C_NOT_INTERNAL,
	DP_C_INBOUND,
	DP_C_MIDSTREAM,
	DP_C_NO_POLICY,
	DP_C_RST_SENT,
	DP_C_HELD_SEGS,           /* gauge */
	DP_C_HOLD_OVERFLOW,
	DP_C_HOLD_TIMEOUT,
	DP_C_MISROUTED,           /* handed to the owner worker */
	DP_C_HANDOFF_DROPPED,
	DP_C_BAD_PACKET,          /* truncated / malformed headers */
	DP_C_BAD_L4_CKSUM,
	DP_C_NON_IP,              /* ARP etc. passed through */
	DP_C_IP_FRAGMENT,
	DP_C_EVENTS,
	DP_C_EVENTS_LOST,         /* ring full */
	DP_C_TFO_STRIPPED,
	DP_C_TTL_MISMATCH,        /* pending client segment whose TTL differs from the SYN's: not input */
	DP_C_MATCH_ERRORS,        /* cpm_match scan errors (the default verdict was applied) */
	DP_C_STREAM_DECISIONS,    /* flow.decision records after a flow's first (keep-alive
				   * requests, a second ClientHello, a CONNECT tunnel) */
	/* one per anomaly class, in enum dp_anomaly order (checked at build time) */
	DP_C_AN_NO_SNI,           /* an_<class>: decisions (stateless: packets) carrying it */
	DP_C_AN_IP_LITERAL_SNI,
	DP_C_AN_MULTIPLE_SNI,
	DP_C_AN_MALFORMED_CLIENTHELLO,
	DP_C_AN_OVERSIZE_CLIENTHELLO,
	DP_C_AN_RECORD_FRAGMENTED,
	DP_C_AN_OOO_FIRST_SEGMENT,
	DP_C_AN_OVERLAP_CONFLICT,
	DP_C_AN_NON_TLS_ON_TLS_PORT,
	DP_C_AN_NON_HTTP_ON_HTTP_PORT,
	DP_C_AN_UNKNOWN_PROTOCOL,
	DP_C_AN_REASSEMBLY_TIMEOUT,
	DP_C_AN_HOLD_MEMORY_FULL,
	DP_C_AN_TINY_SEGMENTS,
	DP_C_AN_IP_FRAGMENT,
	DP_C_AN_IPV6_EXT_CHAIN,
	DP_C_AN_ECH,
	DP_C_AN_INVALID_NAME,
	DP_C_AN_MULTIPLE_HOST,
	DP_C_AN_HOST_MISMATCH,
	DP_C_AN_QUIC_UNDECRYPTABLE,
	DP_C_AN_QUIC_UNKNOWN_VERSION,
	DP_C_AN_QUIC_MALFORMED,
	DP_C_AN_HTTP_SMUGGLING,
	DP_C_AN_SNI_CHANGED,
	DP_C_AN_GENEVE_TLV_MISSING,
	DP_C_AN_SNI_DST_MISMATCH,
	DP_C_AN_DOT,
	DP_C_AN_DOH,
	/* the appliance's own addresses (geneve and routed modes: dp_local.h) */
	DP_C_GENEVE_RX,           /* GENEVE packets decapsulated */
	DP_C_GENEVE_BAD,          /* UDP to the GENEVE port that is not valid GENEVE */
	DP_C_ARP_ND,              /* ARP requests / neighbour solicitations answered */
	DP_C_NEIGH_MISS,          /* packets dropped: next hop not resolved in time */
	DP_C_NO_ROUTE,            /* packets dropped: no route to the destination */
	DP_C_TTL_EXCEEDED,        /* ICMP / ICMPv6 time exceeded sent */
	DP_C_LOCAL_ICMP,          /* echo requests to the appliance answered */
	DP_C_HEALTH,              /* health-check segments answered */
	DP_C_EXC_TO_KERNEL,       /* frames handed to the exception (TAP) port */
	DP_C_EXC_FROM_KERNEL,     /* frames from the exception port sent out */
	DP_C_LOCAL_DROPPED,       /* to the appliance, not handled, no exception port */
	DP_C_REVALIDATED,         /* established flows judged again by a new policy */
	DP_C_REVOKED,             /* of those, denied by it and reset (dp_reval.h) */
	DP_C_REVAL_NO_NAME,       /* not judged: decided on a name the name table had no room
				   * to keep (dp_names.h), so left as they are */
	DP_C_COLD_FULL,           /* TCP flows refused (table_full verdict): the flow table's
				   * side pool (struct dp_flow_cold) was empty; also RSTs of a
				   * denied flow not sent for want of a side record */
	DP_C_COLD_RECLAIMED,      /* closed TCP flows (RST, FIN both ways, denied) ended before
				   * their closed timeout to give a new flow their side record */
	DP_C_V6_FULL,             /* IPv6 flows refused (table_full verdict): no IPv6 address
				   * record left (--v6-flows) */
	DP_C_ZONE_FULL,           /* GENEVE flows refused (table_full verdict): every id for an
				   * (endpoint, attachment) pair taken (DP_FLOW_ZONES) */
	DP_C_MAX
};

#define DP_C_AN_FIRST DP_C_AN_NO_SNI
#define DP_C_AN_LAST  DP_C_AN_DOH

struct dp_port_stats {
	char name[32];
	uint64_t ipackets, opackets, ibytes, obytes, imissed, ierrors, oerrors, rx_nombuf;
};

/* DNS binding counters (dp_dns.h), summed over the workers; in dp_msg_stats. */
struct dp_dns_status {
	uint64_t responses;       /* DNS responses read (UDP and TCP) */
	uint64_t recorded, refreshed, evicted, reused;  /* observed bindings */
	uint64_t bad[8];          /* responses not read, by kind: dp_dns_bad_names[] */
	uint64_t tcp_messages;    /* DNS-over-TCP messages read */
	uint64_t tcp_skipped;     /* DNS-over-TCP messages or pieces not read */
	uint64_t https_allowed, https_refused, https_stripped, https_unstrippable;
	/* the resolved table (out-of-band answers) */
	uint64_t res_updates, res_removes, res_entries, res_capacity;
	uint64_t res_recorded, res_refreshed, res_evicted, res_reused;
};

struct dp_msg_stats {
	struct dp_msg_hdr hdr;
	uint8_t boot_id[16];
	uint64_t uptime_ns;
	uint64_t policy_gen;
	uint8_t policy_sha256[32];
	uint8_t mode;             /* 0 wire, 1 one-arm, 2 replay */
	uint8_t enforcing;        /* 1 enforce, 0 monitor */
	uint16_t n_workers;
	uint16_t n_ports;
	uint16_t pad;
	uint64_t events_pending;  /* in rings + retention, not yet acknowledged */
	struct dp_port_stats ports[DP_MAX_PORTS];
	uint64_t counters[DP_MAX_WORKERS][DP_C_MAX];
	/*
	 * Decisions per policy rule of the live generation, summed over the
	 * workers (each counts its own, per generation, when it decides):
	 * rule_hits[i] for rule index i < rule_hits_n = min(rules,
	 * DP_RULE_HITS_MAX); the rules past that summed in rule_hits_other;
	 * decisions by no rule (the default, a fixed setting) in rule_hits_none.
	 */
	uint64_t rule_hits_gen;
	uint32_t rule_hits_n;
	uint32_t rule_hits_pad;
	uint64_t rule_hits_none;
	uint64_t rule_hits_other;
	uint64_t rule_hits[DP_RULE_HITS_MAX];
	struct dp_dns_status dns;
};

#ifdef DP_PROTO_NAMES
static const char *const dp_reason_names[DP_REASON_MAX] = {
	"rule", "default", "trusted", "not_internal", "inbound", "quic",
	"no_policy", "table_full", "midstream", "anomaly", "audit_overflow",
	"revalidated",
};
static const char *const dp_gap_cause_names[DP_GAP_CAUSE_MAX] = {
	"ring_full", "ctrlplane_down", "spool_full",
};
static const char *const dp_anomaly_names[DP_AN_MAX] = {
	"no_sni", "ip_literal_sni", "multiple_sni", "malformed_clienthello",
	"oversize_clienthello", "record_fragmented", "ooo_first_segment",
	"overlap_conflict", "non_tls_on_tls_port", "non_http_on_http_port",
	"unknown_protocol", "reassembly_timeout", "hold_memory_full",
	"tiny_segments", "ip_fragment", "ipv6_ext_chain", "ech",
	"invalid_name", "multiple_host", "host_mismatch", "quic_undecryptable",
	"quic_unknown_version", "quic_malformed", "http_smuggling", "sni_changed",
	"geneve_tlv_missing", "sni_dst_mismatch", "dot", "doh",
};
/* struct dp_dns_status.bad[] (enum dns_result of dataplane/parse/dns.h) */
static const char *const dp_dns_bad_names[8] = {
	NULL, "truncated", "malformed", "not_response", "unsupported", NULL, NULL, NULL,
};
static const char *const dp_app_names[DP_APP_MAX] = {
	"unknown", "tls", "http", "quic", "dns",
};
static const char *const dp_bound_names[DP_BOUND_MAX] = {
	"none", "dns", "resolved", "pinned",
};
static const char *const dp_close_names[DP_CLOSE_MAX] = {
	"none", "fin", "rst", "idle", "denied", "shutdown", "evicted",
};
static const char *const dp_counter_names[DP_C_MAX] = {
	"rx_pkts", "tx_pkts", "tx_dropped", "dropped", "flows_created",
	"flows_ended", "flows_active", "flows_pending", "table_full", "allow",
	"deny", "monitor_would_deny", "trusted", "not_internal", "inbound",
	"midstream", "no_policy", "rst_sent", "held_segs", "hold_overflow",
	"hold_timeout", "misrouted", "handoff_dropped", "bad_packet",
	"bad_l4_cksum", "non_ip", "ip_fragment", "events", "events_lost",
	"tfo_stripped", "ttl_mismatch", "match_errors",
	"stream_decisions", "an_no_sni", "an_ip_literal_sni", "an_multiple_sni",
	"an_malformed_clienthello", "an_oversize_clienthello", "an_record_fragmented",
	"an_ooo_first_segment", "an_overlap_conflict", "an_non_tls_on_tls_port",
	"an_non_http_on_http_port", "an_unknown_protocol", "an_reassembly_timeout",
	"an_hold_memory_full", "an_tiny_segments", "an_ip_fragment",
	"an_ipv6_ext_chain", "an_ech", "an_invalid_name", "an_multiple_host",
	"an_host_mismatch", "an_quic_undecryptable", "an_quic_unknown_version",
	"an_quic_malformed", "an_http_smuggling", "an_sni_changed",
	"an_geneve_tlv_missing", "an_sni_dst_mismatch", "an_dot", "an_doh", "geneve_rx", "geneve_bad", "arp_nd", "neigh_miss",
	"no_route", "ttl_exceeded", "local_icmp", "health", "exc_to_kernel",
	"exc_from_kernel", "local_dropped", "revalidated", "revoked",
	"reval_no_name", "cold_full", "cold_reclaimed", "v6_full", "zone_full",
};
#endif

#endif /* CHOKEPOINT_DP_PROTO_H */
