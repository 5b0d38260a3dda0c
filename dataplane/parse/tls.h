/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tls.h: TLS ClientHello extraction. Pure: no DPDK types, no allocation, no
 * global state; a bounds-checked cursor over (buf, len).
 *
 * Input is the client's byte stream from its first byte (TLS records over
 * TCP), possibly incomplete. The ClientHello may span several TLS records
 * (record_fragmented) and several TCP segments. tls_parse_records() returns
 *   TLS_NEED_MORE    the stream may become a ClientHello: call again with more
 *                    bytes; *need (if not NULL) = total bytes needed when known
 *                    from the declared lengths, else 0
 *   TLS_OK           a complete ClientHello was parsed; out filled
 *   TLS_NOT_TLS      the first bytes are not a TLS handshake record
 *   TLS_MALFORMED    a TLS handshake that violates its own lengths/grammar
 *   TLS_TOO_BIG      the declared ClientHello exceeds max_len (oversize)
 * tls_parse_clienthello() does the same over a bare handshake message (type 1
 * + 3-byte length + body), as QUIC CRYPTO frames deliver it.
 */
#ifndef CHOKEPOINT_TLS_H
#define CHOKEPOINT_TLS_H

#include <stddef.h>
#include <stdint.h>

enum tls_result {
	TLS_OK = 0,
	TLS_NEED_MORE,
	TLS_NOT_TLS,
	TLS_MALFORMED,
	TLS_TOO_BIG,
};

#define TLS_SNI_MAX   255
#define TLS_ALPN_MAX  62

struct tls_hello {
	/* server_name: the first host_name entry; sni_len 0 if none */
	char sni[TLS_SNI_MAX + 1];      /* raw bytes, NUL-terminated, may hold any byte */
	uint16_t sni_len;
	uint8_t sni_count;              /* host_name entries seen (>1: multiple_sni) */
	uint8_t sni_truncated;          /* name longer than TLS_SNI_MAX */
	uint8_t alpn[TLS_ALPN_MAX];     /* protocol_name_list, wire format, truncated at a whole entry */
	uint8_t alpn_len;
	uint8_t has_ech;                /* extension 0xfe0d present */
	uint8_t has_pqc;                /* a post-quantum group in key_share */
	uint8_t records;                /* TLS records the hello spanned (>1: record_fragmented) */
	uint16_t legacy_version;        /* ClientHello.legacy_version */
	uint16_t versions;              /* bitmask, DP_TLSV_* values (dp_proto.h) */
	uint32_t hello_len;             /* handshake body length */
	uint32_t consumed;              /* stream bytes through the end of the hello's last record */
	/* JA4 inputs (issue 3): GREASE already removed */
	uint16_t n_ciphers, n_exts;
	uint16_t ciphers[64];
	uint16_t exts[64];
	uint16_t sigalgs[32];
	uint8_t n_sigalgs;
	uint8_t first_alpn[2];          /* first/last char of first ALPN value */
	/* additions (parse work) */
	uint8_t has_sni_ext;            /* server_name extension present (JA4 'd'/'i') */
	uint8_t has_alpn;               /* ALPN present with >= 1 entry; first_alpn valid */
	uint8_t lists_truncated;        /* more ciphers/exts/sigalgs than the arrays hold */
	uint16_t max_version;           /* highest non-GREASE supported_versions entry,
					 * else legacy_version (JA4 version) */
	uint16_t ciphers_total;         /* non-GREASE cipher suites offered (may exceed 64) */
	uint16_t exts_total;            /* non-GREASE extensions offered (may exceed 64) */
};

/*
 * max_len: bound on the ClientHello handshake message (4-byte header + body,
 * 16384 by default). TLS_TOO_BIG is returned as soon as the record and
 * handshake headers are visible (9 bytes when the first record holds them).
 * *need on TLS_NEED_MORE: a lower bound on the stream length the hello
 * needs, from the lengths declared so far (exact once the handshake header
 * is visible and no further record follows); 0 while no record length is
 * visible. On other results *need is 0, except TLS_TOO_BIG: the declared
 * handshake message length.
 * Only the hello's own bytes must be present: bytes after it in its last
 * record are not waited for (consumed still counts the whole record).
 */
enum tls_result tls_parse_records(const uint8_t *buf, size_t len, size_t max_len,
				  struct tls_hello *out, size_t *need);
enum tls_result tls_parse_clienthello(const uint8_t *buf, size_t len, size_t max_len,
				      struct tls_hello *out, size_t *need);

/* Cheap check on the first bytes: 1 if they look like a TLS handshake record. */
int tls_looks_like(const uint8_t *buf, size_t len);

/* 1 if the named group is a post-quantum (hybrid) key exchange codepoint. */
int tls_group_is_pqc(uint16_t group);

/* 1 if v is a GREASE value (RFC 8701). */
static inline int
tls_is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

#endif /* CHOKEPOINT_TLS_H */
