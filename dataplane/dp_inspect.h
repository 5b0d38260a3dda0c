/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_inspect.h: what the client's first bytes say. Runs the pure extractors
 * over the contiguous prefix of a pending flow's stream: the TLS ClientHello
 * parser first, the HTTP/1.x request-head parser when the bytes are not TLS.
 * Pure (no DPDK, no policy): unit-tested with captured first flights.
 */
#ifndef CHOKEPOINT_DP_INSPECT_H
#define CHOKEPOINT_DP_INSPECT_H

#include <stddef.h>
#include <stdint.h>

#include "dp_proto.h"
#include "dp_stream.h"

enum dp_insp_res {
	DP_INSP_MORE = 0,        /* could still complete: keep holding */
	DP_INSP_DONE = 1,        /* a decision can be made now (out filled) */
};

struct dp_insp_out {
	uint8_t app;             /* enum dp_app */
	uint8_t name_kind;       /* enum dp_name_kind */
	uint8_t ech;             /* ClientHello carries an ECH extension */
	uint8_t pqc;             /* post-quantum key share offered */
	uint16_t name_len;
	uint16_t tls_versions;   /* DP_TLSV_* */
	uint32_t anomalies;      /* bitmask of enum dp_anomaly */
	uint8_t httpf;           /* DP_HTTPF_* of a request head: the framing of what follows */
	uint32_t unit_len;       /* DONE: stream bytes the unit took (the hello's records, the head) */
	uint32_t need;           /* MORE: stream bytes the unit needs at least, from declared
				  * lengths (TLS); 0 when not known */
	uint64_t content_length; /* DP_HTTPF_CLEN: the request's Content-Length */
	uint8_t alpn_len;
	uint8_t alpn[DP_ALPN_BYTES];
	char ja4[DP_JA4_MAX];    /* JA4 of the ClientHello, "" if none */
	char name[DP_NAME_MAX + 1]; /* raw bytes as sent, NUL-terminated */
};

/*
 * buf/len: the contiguous client stream from its first byte. max_len: the
 * hold bound in bytes (a declared ClientHello larger than it is decided at
 * once as oversize_clienthello). dport: the server port (port-based
 * anomalies). Returns DP_INSP_DONE with out filled, or DP_INSP_MORE.
 */
enum dp_insp_res dp_inspect(const uint8_t *buf, size_t len, size_t max_len, uint16_t dport,
			    struct dp_insp_out *out);

/*
 * The stream hit a bound (bytes, segments, time, memory) or ended before
 * DP_INSP_DONE: fill out with what the bytes so far say (app guessed from
 * the first bytes, no name).
 */
void dp_inspect_partial(const uint8_t *buf, size_t len, struct dp_insp_out *out);

/* 1 if a payload looks like the start of a ClientHello or an HTTP request. */
int dp_inspect_looks_client(const uint8_t *buf, size_t len);

/* 1 if name (len bytes) is an IPv4 or IPv6 literal. */
int dp_name_is_ip_literal(const char *name, size_t len);

#endif /* CHOKEPOINT_DP_INSPECT_H */
