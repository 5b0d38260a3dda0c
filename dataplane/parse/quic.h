/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * quic.h: QUIC client Initial decoding (RFC 9000, RFC 9001, RFC 9369) up to
 * the TLS ClientHello. Pure: no DPDK types; OpenSSL EVP only; no allocation
 * and no global state after quic_ctx_new().
 *
 * One struct quic_ctx per worker holds the fetched ciphers, the EVP contexts
 * and a plaintext scratch buffer. One struct quic_flow per flow holds the
 * Initial keys and the CRYPTO reassembly state over a buffer + coverage bitmap
 * the caller owns (like the TCP reassembler's slot).
 *
 * quic_feed_client() takes every UDP payload the client sends, walks every
 * long-header packet coalesced in it (by its Length field), removes header
 * protection, decrypts and authenticates the Initial packets with the keys
 * derived from the client's first Destination Connection ID, parses their
 * frames, reassembles CRYPTO data by offset (any order, duplicates,
 * overlaps) and runs tls_parse_clienthello() on the contiguous prefix:
 *   QUIC_NEED_MORE        valid so far, no complete ClientHello yet
 *   QUIC_OK               ClientHello complete: *out filled (sni, alpn, ech, pqc, ...)
 *   QUIC_NOT_QUIC         not a QUIC long header
 *   QUIC_UNKNOWN_VERSION  a long header of a version not decoded here: f->version
 *   QUIC_UNDECRYPTABLE    an Initial whose AEAD tag does not verify
 *   QUIC_MALFORMED        header, frames or ClientHello violate the grammar
 *   QUIC_TOO_BIG          CRYPTO data or the declared ClientHello exceed the buffer
 *   QUIC_CONFLICT         overlapping CRYPTO bytes differ (overlap_conflict)
 * Results about bytes that did not authenticate (NOT_QUIC, UNKNOWN_VERSION,
 * UNDECRYPTABLE, a malformed header) leave the flow state untouched, as a
 * server would drop such a datagram: the caller decides whether to keep
 * feeding. Results about authenticated content (OK, MALFORMED frames or
 * hello, TOO_BIG, CONFLICT) are final: later calls return the same result
 * without reading the datagram (*out is filled only by the call that
 * completes the hello).
 *
 * quic_feed_server() takes the server's datagrams: a valid Version
 * Negotiation or Retry addressed to the client resets the flow (the client
 * starts over with other keys), everything else is ignored.
 *
 * Once a flow is decided, quic_new_connection() tells which client datagrams
 * carry a ClientHello that was never checked (a new connection on the same
 * 5-tuple, or the client's restart after a Retry): those are decided anew.
 *
 * Cost (measured, -O2, one core): a new flow's first Initial (key derivation
 * + open of 1200 bytes) ~13 us, each further Initial ~5 us. Key derivation
 * runs once per flow and is the only place OpenSSL 3.0 allocates (its HMAC
 * re-creates digest contexts on every init); opening packets does not.
 */
#ifndef CHOKEPOINT_QUIC_H
#define CHOKEPOINT_QUIC_H

#include <stddef.h>
#include <stdint.h>

#include "tls.h"

#define QUIC_V1          0x00000001u
#define QUIC_V2          0x6b3343cfu  /* RFC 9369 */
#define QUIC_VN          0x00000000u  /* Version Negotiation */

#define QUIC_CID_MAX     20           /* v1/v2 connection ID limit */
#define QUIC_MAX_DATAGRAM 65527       /* largest UDP payload */
#define QUIC_CRYPTO_MAX_DEFAULT 16384 /* suggested reassembly bound */
#define QUIC_BITMAP_BYTES(cap) (((size_t)(cap) + 7) / 8)

enum quic_result {
	QUIC_OK = 0,
	QUIC_NEED_MORE,
	QUIC_NOT_QUIC,
	QUIC_UNKNOWN_VERSION,
	QUIC_UNDECRYPTABLE,
	QUIC_MALFORMED,
	QUIC_TOO_BIG,
	QUIC_CONFLICT,
	QUIC_N_RESULTS
};

/* Long-header packet types, version independent (v2 maps its type bits here). */
enum quic_pkt_type {
	QUIC_PT_INITIAL = 0,
	QUIC_PT_0RTT,
	QUIC_PT_HANDSHAKE,
	QUIC_PT_RETRY,
	QUIC_PT_VN,                     /* version 0 */
	QUIC_PT_SHORT,                  /* first bit clear: 1-RTT (or not QUIC) */
	QUIC_PT_UNKNOWN_VERSION,        /* long header, version not decoded here */
	QUIC_PT_INVALID,                /* cannot be a QUIC packet (truncated, bad lengths) */
};

/* Keys of one direction's Initial packets (RFC 9001 5.2, RFC 9369 3.3). */
struct quic_keys {
	uint8_t initial_secret[32];     /* HKDF-Extract(salt, dcid) */
	uint8_t secret[32];             /* client_initial_secret or server_initial_secret */
	uint8_t key[16];
	uint8_t iv[12];
	uint8_t hp[16];
};

/* Per-flow state; fields are read-only for the caller. */
struct quic_flow {
	/* reassembly memory, caller owned: buf[cap], bitmap[QUIC_BITMAP_BYTES(cap)] */
	uint8_t *buf;
	uint8_t *bitmap;
	uint32_t cap;
	uint32_t contig;                /* CRYPTO bytes [0, contig) present */
	uint32_t high;                  /* highest CRYPTO end offset received */
	uint32_t parsed_at;             /* contig when the hello parser last ran */
	uint32_t version;               /* version of the client's last long header */
	uint8_t result;                 /* enum quic_result: NEED_MORE until final */
	uint8_t have_keys;              /* keys fixed by the first authenticated Initial */
	uint8_t dcid_len, scid_len;
	uint8_t dcid[QUIC_CID_MAX];     /* client's first Destination CID (keys) */
	uint8_t scid[QUIC_CID_MAX];     /* client's Source CID */
	uint8_t key[16], iv[12], hp[16];
	int64_t largest_pn;             /* largest Initial packet number, -1 none */
	/* counters and anomalies (for the audit record) */
	uint16_t datagrams;             /* client datagrams fed */
	uint16_t initials;              /* Initial packets authenticated */
	uint16_t crypto_frames;         /* CRYPTO frames received */
	uint16_t ooo_frames;            /* CRYPTO frames starting beyond contig */
	uint16_t dup_bytes;             /* CRYPTO bytes received more than once (saturating) */
	uint8_t resets;                 /* Retry / Version Negotiation resets */
	uint8_t retried;                /* a Retry was accepted */
	uint8_t closed;                 /* client sent CONNECTION_CLOSE */
	uint8_t small_datagram;         /* an Initial datagram < 1200 bytes (RFC 9000 14.1) */
	uint8_t short_dcid;             /* first DCID < 8 bytes (RFC 9000 7.2) */
};

struct quic_ctx;

/* Per-worker context: NULL with errno set on failure. */
struct quic_ctx *quic_ctx_new(void);
void quic_ctx_free(struct quic_ctx *ctx);

/*
 * Start a flow over caller memory: buf of cap bytes and a bitmap of
 * QUIC_BITMAP_BYTES(cap) bytes (cleared here). cap is also the bound on the
 * ClientHello (tls_parse_clienthello max_len). 0 or -EINVAL.
 */
int quic_flow_init(struct quic_flow *f, uint8_t *buf, uint8_t *bitmap, uint32_t cap);

/* Forget everything but the caller memory (Retry, Version Negotiation). */
void quic_flow_reset(struct quic_flow *f);

enum quic_result quic_feed_client(struct quic_ctx *ctx, struct quic_flow *f,
				  const uint8_t *dgram, size_t len, struct tls_hello *out);

/*
 * A server datagram. Returns the type of its first packet; a Version
 * Negotiation (DCID/SCID echo the client's, not listing the client's version)
 * or a Retry (DCID = client's SCID, integrity tag valid over the client's
 * first DCID, first Retry only) resets the flow.
 */
enum quic_pkt_type quic_feed_server(struct quic_ctx *ctx, struct quic_flow *f,
				    const uint8_t *dgram, size_t len);

/*
 * For a flow whose keys are fixed (typically decided): 1 if this client
 * datagram starts with a long header that the flow's keys do not account
 * for, so its ClientHello has not been checked: an Initial that does not
 * open with the flow's keys (a new connection on the same 5-tuple, or the
 * client's restart after a Retry: both have new keys) or a long header of
 * another version. The caller must not let it inherit the verdict: it
 * starts a new decision (quic_flow_reset, then quic_feed_client). 0 for the
 * connection's own packets (whatever DCID the client moved to), short
 * headers, and while the flow has no keys.
 */
int quic_new_connection(struct quic_ctx *ctx, const struct quic_flow *f,
			const uint8_t *dgram, size_t len);

/*
 * For a flow whose ClientHello is complete (result QUIC_OK): check a later
 * client datagram against it. Every Initial that opens with the flow's keys
 * (the connection's, whatever DCID it carries now) has its frames read and
 * each CRYPTO byte compared with the bytes the hello was decided on:
 *   QUIC_CONFLICT   a byte differs, or lies outside them (another hello on
 *                   the same keys: the first may never have reached the server)
 *   QUIC_MALFORMED  the frames break the grammar
 *   QUIC_NEED_MORE  nothing else (retransmissions, ACK/PING/PADDING-only
 *                   Initials, other packet types, bytes that do not open)
 * Nothing is stored; only largest_pn advances.
 */
enum quic_result quic_verify_client(struct quic_ctx *ctx, struct quic_flow *f,
				    const uint8_t *dgram, size_t len);

/*
 * 1 if a server datagram shows that the server holds a complete ClientHello:
 * it is a 1-RTT (short header) packet, or carries a Handshake packet (any
 * coalesced position). Keys are not needed. 0 otherwise.
 */
int quic_server_past_hello(const uint8_t *dgram, size_t len);

/*
 * Read the first packet's long header without keys: type, version, CIDs.
 * Returns its type; info may be NULL.
 */
struct quic_pkt_info {
	uint32_t version;
	uint8_t dcid_len, scid_len;
	uint8_t dcid[255], scid[255];   /* invariant header allows 255 (RFC 8999) */
};
enum quic_pkt_type quic_peek(const uint8_t *dgram, size_t len, struct quic_pkt_info *info);

/* 1 if version is decoded here (v1, v2). */
int quic_version_supported(uint32_t version);

/*
 * Derive the Initial keys of a version for a Destination CID; server = 0 for
 * the client's keys. 0, -ENOTSUP (version), -EINVAL, -EIO (OpenSSL).
 */
int quic_initial_keys(struct quic_ctx *ctx, uint32_t version, const uint8_t *dcid,
		      size_t dcid_len, int server, struct quic_keys *out);

/*
 * Remove header protection from the Initial packet at pkt (len bytes left in
 * the datagram) and open it with keys k; largest_pn is the largest packet
 * number received so far (-1: none), to rebuild the truncated one. Returns 0
 * with *out pointing into ctx (valid until the next call on ctx), 1 when the
 * AEAD tag does not verify, -EBADMSG when pkt is not a complete Initial of a
 * version decoded here, -EINVAL, -EIO.
 */
struct quic_packet {
	const uint8_t *hdr;             /* unprotected header through the packet number */
	size_t hdr_len;
	const uint8_t *payload;         /* plaintext frames */
	size_t payload_len;
	uint64_t pn;                    /* full packet number */
	size_t pkt_len;                 /* bytes of the datagram the packet took */
	uint32_t version;
	uint8_t first_byte;             /* unprotected first byte */
};
int quic_open_initial(struct quic_ctx *ctx, const struct quic_keys *k, const uint8_t *pkt,
		      size_t len, int64_t largest_pn, struct quic_packet *out);

/*
 * Tests and tools (not the dataplane): build one protected Initial packet.
 * Writes the long header (version's Initial type bits, CIDs, token, Length),
 * the packet number truncated to pn_len (1..4) bytes, the AEAD-sealed
 * payload and tag, then applies header protection. pn_len + payload_len must
 * be >= 4 so that the 16-byte sample exists (callers pad). Returns the packet
 * length, or -EINVAL / -ENOSPC / -EIO.
 */
long quic_build_initial(struct quic_ctx *ctx, uint32_t version, const struct quic_keys *k,
			const uint8_t *dcid, size_t dcid_len,
			const uint8_t *scid, size_t scid_len,
			const uint8_t *token, size_t token_len,
			uint64_t pn, unsigned pn_len,
			const uint8_t *payload, size_t payload_len,
			uint8_t *out, size_t out_cap);

const char *quic_result_name(enum quic_result r);

#endif /* CHOKEPOINT_QUIC_H */
