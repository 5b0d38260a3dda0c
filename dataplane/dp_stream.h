/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_stream.h: the client stream of a TCP flow after a decision
 * (docs/dataplane.md, "After the first decision"). A flow is decided on a
 * unit of its client stream (a ClientHello, an HTTP request head); what
 * comes after it may hold further units that are judged too:
 *
 *   HTTP/1.x   every request head on a keep-alive or pipelined connection.
 *              The request's framing (Content-Length, chunked; RFC 9112
 *              section 6.3) says where the next head starts.
 *   TLS        a second ClientHello after a HelloRetryRequest. The client's
 *              records are walked until its first application_data record;
 *              the server's ServerHello says whether an HRR was sent.
 *   CONNECT    the tunnel's first bytes (the tunnelled ClientHello) after
 *              the proxy's status line; Upgrade: after "101" nothing more
 *              is HTTP.
 *
 * The walker only looks at structural bytes: body, chunk data and skipped
 * TLS records are jumped over by sequence number, so a segment that lies
 * wholly before `seq` costs one comparison. Pure: no DPDK, no allocation;
 * the state is 24 bytes inside the flow.
 */
#ifndef CHOKEPOINT_DP_STREAM_H
#define CHOKEPOINT_DP_STREAM_H

#include <stdint.h>

/* What the client stream is watched for (dp_wstate.mode). */
enum dp_watch_mode {
	DP_W_NONE = 0,           /* nothing: the fast path */
	DP_W_HTTP,               /* HTTP/1.x request framing; the next head is a unit */
	DP_W_TLS,                /* TLS records until application data (HRR) */
	DP_W_AWAIT,              /* after CONNECT / Upgrade: the server's status line */
};

/* Walker states (dp_wstate.st). */
enum dp_walk_state {
	DP_WS_UNIT = 0,          /* a unit starts at seq (request head, ClientHello, tunnel) */
	DP_WS_BODY,              /* Content-Length body: `left` more bytes from seq */
	DP_WS_CH_SIZE,           /* chunk-size hex digits (n of them so far) */
	DP_WS_CH_EXT,            /* chunk extension, up to its CR */
	DP_WS_CH_SIZE_LF,        /* LF ending the chunk-size line */
	DP_WS_CH_DATA,           /* chunk data: `left` more bytes from seq */
	DP_WS_CH_DATA_CR,        /* CR after the chunk data */
	DP_WS_CH_DATA_LF,        /* LF after the chunk data */
	DP_WS_CH_TRAILER,        /* start of a trailer line, or the final CRLF */
	DP_WS_CH_TRAILER_LINE,   /* inside a trailer field line, up to its CR */
	DP_WS_CH_TRAILER_LF,     /* LF ending a trailer field line */
	DP_WS_CH_END_LF,         /* LF of the final CRLF: the message ends */
	DP_WS_REC,               /* TLS: a record header starts at seq */
	DP_WS_REC_HDR,           /* TLS: inside a record header (n bytes seen) */
	DP_WS_REC_SKIP,          /* TLS: `left` more bytes of a skipped record */
};

/* dp_wstate.flags */
#define DP_WSF_HRR       0x01    /* the server sent a HelloRetryRequest */
#define DP_WSF_CONNECT   0x02    /* AWAIT: after CONNECT (else after Upgrade) */
#define DP_WSF_TUNNEL    0x04    /* the proxy answered 2xx: the tunnel is open */

/* Server payloads looked at for a ServerHello or a status line, per unit. */
#define DP_WATCH_S2C_LOOKS 4

/* Chunk-size digits accepted (16 hex digits = 2^64 - 1). */
#define DP_WATCH_CHUNK_DIGITS 16

/* Most bytes jumped at once: sequence arithmetic stays within 2^31. */
#define DP_WATCH_JUMP_MAX (1u << 30)

struct dp_wstate {
	uint8_t mode;            /* enum dp_watch_mode */
	uint8_t st;              /* enum dp_walk_state */
	uint8_t n;               /* digits / header bytes / leading empty-line bytes seen */
	uint8_t flags;           /* DP_WSF_* */
	uint8_t s2c_looks;       /* server payloads still to look at */
	uint8_t rec_type;        /* TLS record type being skipped */
	uint16_t units;          /* units decided on this flow (saturating) */
	uint32_t seq;            /* first client byte not judged yet */
	uint32_t pad;
	uint64_t left;           /* body / chunk / record bytes left, or size being read */
};

enum dp_walk_res {
	DP_WALK_MORE = 0,        /* every byte given is judged (seq may lie beyond them) */
	DP_WALK_UNIT,            /* a unit starts at seq: inspect it before forwarding */
	DP_WALK_DONE,            /* nothing more to watch (mode is now DP_W_NONE) */
	DP_WALK_BAD,             /* HTTP framing broken (http_smuggling); mode DP_W_NONE */
};

/* Start state of a flow: its first unit is the stream's first byte (isn + 1). */
void dp_stream_init(struct dp_wstate *ws, uint32_t first_seq);

/*
 * Walk the client bytes p[0..n), p[0] being sequence ws->seq, until every
 * one is judged (MORE), a unit starts (UNIT, ws->seq at its first byte),
 * the watch ends (DONE) or the framing breaks (BAD). Never called in state
 * DP_WS_UNIT of a non-HTTP mode (that is a unit already).
 */
enum dp_walk_res dp_stream_walk(struct dp_wstate *ws, const uint8_t *p, uint32_t n);

/*
 * After an allowed ClientHello that starts at `start` and whose records
 * take `consumed` bytes: walk the client's records (second ClientHello
 * after HRR) until application data.
 */
void dp_stream_after_tls(struct dp_wstate *ws, uint32_t start, uint32_t consumed);

/* HTTP request framing, as dp_stream_after_http needs it. */
#define DP_HTTPF_CONNECT  0x01   /* CONNECT: the tunnel follows the status line */
#define DP_HTTPF_UPGRADE  0x02   /* an Upgrade header: "101" ends HTTP */
#define DP_HTTPF_CHUNKED  0x04   /* Transfer-Encoding: chunked (wins over Content-Length) */
#define DP_HTTPF_CLEN     0x08   /* Content-Length given */

/* After an allowed request head of head_len bytes starting at `start`. */
void dp_stream_after_http(struct dp_wstate *ws, uint32_t start, uint32_t head_len,
			  uint8_t httpf, uint64_t content_length);

/* Nothing more to watch. */
static inline void
dp_stream_stop(struct dp_wstate *ws)
{
	ws->mode = DP_W_NONE;
}

/*
 * A server payload (its first bytes p[0..n)) while watching: a ServerHello
 * (TLS: an HRR keeps the watch, any other ends it) or a status line (AWAIT:
 * "101" after Upgrade ends the watch; after CONNECT 2xx opens the tunnel,
 * anything else goes back to HTTP). At most DP_WATCH_S2C_LOOKS payloads per
 * unit are looked at.
 */
void dp_stream_server(struct dp_wstate *ws, const uint8_t *p, uint32_t n);

/*
 * TLS mode, a handshake record at the unit start: 1 if it carries a
 * ClientHello (judge it), 0 if another handshake message (a TLS 1.2 key
 * exchange: stop watching), -1 if fewer than 6 bytes are there yet.
 */
int dp_stream_tls_unit_is_hello(const uint8_t *p, uint32_t n);

/* 1 if p[0..n) is a ServerHello carrying the HelloRetryRequest random (n >= 43). */
int dp_stream_is_hrr(const uint8_t *p, uint32_t n);

#endif /* CHOKEPOINT_DP_STREAM_H */
