/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tls.c: TLS ClientHello extraction over the client's record stream.
 *
 * Two passes. The record walk checks every TLS record header that the hello
 * touches (content type 22, version 3.0-3.4, 1..2^14 bytes), reads the
 * handshake header (which may itself be split across records), applies the
 * max_len bound from the declared length and finds out whether the whole
 * hello is present. Only then is the body parsed, through a cursor that
 * steps over record headers, so a hello split into any number of records is
 * parsed in place: no copy, no allocation. Every length is checked against
 * the container it sits in before anything inside it is read.
 *
 * References: RFC 8446 4.1.2 (ClientHello) and 5.1 (records), RFC 6066 3
 * (server_name), RFC 7301 3.1 (ALPN), RFC 8701 (GREASE),
 * draft-ietf-tls-esni (encrypted_client_hello, 0xfe0d).
 */
#include <stdint.h>
#include <string.h>

#include "dp_proto.h"
#include "tls.h"
#include "tls_groups.h"

#define TLS_CT_HANDSHAKE   22
#define TLS_HS_CLIENT_HELLO 1
#define TLS_REC_HDR        5
#define TLS_HS_HDR         4
#define TLS_REC_MAX        16384     /* 2^14, RFC 8446 5.1 */

#define EXT_SERVER_NAME    0x0000
#define EXT_SIG_ALGS       0x000d
#define EXT_ALPN           0x0010
#define EXT_SUPP_VERSIONS  0x002b
#define EXT_KEY_SHARE      0x0033
#define EXT_ECH            0xfe0d

/* extensions whose duplicates are always caught (bit per slot) */
#define SEEN_SNI   (1u << 0)
#define SEEN_ALPN  (1u << 1)
#define SEEN_SV    (1u << 2)
#define SEEN_KS    (1u << 3)
#define SEEN_ECH   (1u << 4)
#define SEEN_SIG   (1u << 5)

/*
 * A read cursor over the handshake bytes. `p` walks the stream; `seg` is what
 * is left of the current record's payload from p; `left` is what is left of
 * the current view (the hello, an extension, a list). When a record's payload
 * is used up, the next record's header is stepped over: the record walk has
 * already validated every header the hello touches.
 */
struct cur {
	const uint8_t *p;
	size_t seg;
	size_t left;
};

static inline void
cur_cross(struct cur *c)
{
	while (c->seg == 0) {
		c->seg = ((size_t)c->p[3] << 8) | c->p[4];
		c->p += TLS_REC_HDR;
	}
}

static inline int
cur_u8(struct cur *c, uint8_t *v)
{
	if (c->left < 1)
		return -1;
	cur_cross(c);
	*v = *c->p++;
	c->seg--;
	c->left--;
	return 0;
}

static inline int
cur_u16(struct cur *c, uint16_t *v)
{
	uint8_t a, b;

	if (c->left < 2)
		return -1;
	if (c->seg >= 2) {
		/* fast path: both bytes in the current record */
		*v = (uint16_t)((c->p[0] << 8) | c->p[1]);
		c->p += 2;
		c->seg -= 2;
		c->left -= 2;
		return 0;
	}
	if (cur_u8(c, &a) != 0 || cur_u8(c, &b) != 0)
		return -1;
	*v = (uint16_t)((a << 8) | b);
	return 0;
}

static int
cur_skip(struct cur *c, size_t n)
{
	size_t k;

	if (n > c->left)
		return -1;
	c->left -= n;
	while (n > 0) {
		cur_cross(c);
		k = n < c->seg ? n : c->seg;
		c->p += k;
		c->seg -= k;
		n -= k;
	}
	return 0;
}

/* Copy n bytes out (dst may be NULL to only skip). */
static int
cur_copy(struct cur *c, uint8_t *dst, size_t n)
{
	size_t k;

	if (dst == NULL)
		return cur_skip(c, n);
	if (n > c->left)
		return -1;
	c->left -= n;
	while (n > 0) {
		cur_cross(c);
		k = n < c->seg ? n : c->seg;
		memcpy(dst, c->p, k);
		dst += k;
		c->p += k;
		c->seg -= k;
		n -= k;
	}
	return 0;
}

/* Split off a sub-view of n bytes; the parent moves past it. */
static int
cur_sub(struct cur *c, size_t n, struct cur *sub)
{
	if (n > c->left)
		return -1;
	*sub = *c;
	sub->left = n;
	return cur_skip(c, n);
}

/* A sub-view announced by a 1- or 2-byte length that must fit in c. */
static int
cur_vec(struct cur *c, int lenbytes, struct cur *sub)
{
	uint16_t n16;
	uint8_t n8;

	if (lenbytes == 1) {
		if (cur_u8(c, &n8) != 0)
			return -1;
		n16 = n8;
	} else if (cur_u16(c, &n16) != 0) {
		return -1;
	}
	return cur_sub(c, n16, sub);
}

int
tls_group_is_pqc(uint16_t group)
{
	for (size_t i = 0; i < TLS_PQC_GROUPS_N; i++)
		if (tls_pqc_groups[i].id == group)
			return 1;
	return 0;
}

static uint16_t
version_bit(uint16_t v)
{
	switch (v) {
	case 0x0300: return DP_TLSV_SSL3;
	case 0x0301: return DP_TLSV_1_0;
	case 0x0302: return DP_TLSV_1_1;
	case 0x0303: return DP_TLSV_1_2;
	case 0x0304: return DP_TLSV_1_3;
	default:
		/* TLS 1.3 drafts (0x7fNN) */
		if ((v & 0xff00) == 0x7f00)
			return DP_TLSV_1_3;
		return 0;
	}
}

/* server_name (RFC 6066 3): ServerNameList<1..2^16-1>, first host_name kept. */
static int
ext_server_name(struct cur *e, struct tls_hello *h)
{
	struct cur list, name;
	uint8_t type;
	size_t n;

	h->has_sni_ext = 1;
	if (cur_vec(e, 2, &list) != 0 || e->left != 0 || list.left == 0)
		return -1;
	while (list.left > 0) {
		if (cur_u8(&list, &type) != 0 || cur_vec(&list, 2, &name) != 0)
			return -1;
		if (type != 0)
			continue;
		if (name.left == 0)
			return -1;                 /* HostName<1..2^16-1> */
		if (h->sni_count < UINT8_MAX)
			h->sni_count++;
		if (h->sni_count > 1)
			continue;
		n = name.left;
		if (n > TLS_SNI_MAX) {
			n = TLS_SNI_MAX;
			h->sni_truncated = 1;
		}
		if (cur_copy(&name, (uint8_t *)h->sni, n) != 0)
			return -1;
		h->sni[n] = '\0';
		h->sni_len = (uint16_t)n;
	}
	return 0;
}

/* ALPN (RFC 7301 3.1): ProtocolNameList<2..2^16-1> of ProtocolName<1..2^8-1>. */
static int
ext_alpn(struct cur *e, struct tls_hello *h)
{
	struct cur list, name;
	uint8_t n, full = 0;

	if (cur_vec(e, 2, &list) != 0 || e->left != 0 || list.left < 2)
		return -1;
	while (list.left > 0) {
		if (cur_u8(&list, &n) != 0 || n == 0 || cur_sub(&list, n, &name) != 0)
			return -1;
		if (!h->has_alpn) {
			struct cur peek = name;

			/* first and last byte of the first protocol (JA4) */
			h->has_alpn = 1;
			if (cur_u8(&peek, &h->first_alpn[0]) != 0)
				return -1;
			peek = name;
			if (cur_skip(&peek, (size_t)n - 1) != 0 ||
			    cur_u8(&peek, &h->first_alpn[1]) != 0)
				return -1;
		}
		/* keep whole entries only, in wire format */
		if (full || (size_t)h->alpn_len + 1 + n > TLS_ALPN_MAX) {
			full = 1;
			continue;
		}
		h->alpn[h->alpn_len] = n;
		if (cur_copy(&name, &h->alpn[h->alpn_len + 1], n) != 0)
			return -1;
		h->alpn_len = (uint8_t)(h->alpn_len + 1 + n);
	}
	return 0;
}

/* supported_versions, client form: ProtocolVersion versions<2..254>. */
static int
ext_supported_versions(struct cur *e, struct tls_hello *h)
{
	struct cur list;
	uint16_t v;

	if (cur_vec(e, 1, &list) != 0 || e->left != 0 || list.left < 2 ||
	    (list.left & 1) != 0)
		return -1;
	h->versions = 0;
	h->max_version = 0;
	while (list.left > 0) {
		if (cur_u16(&list, &v) != 0)
			return -1;
		if (tls_is_grease(v))
			continue;
		h->versions |= version_bit(v);
		/* JA4: the highest value in the extension, GREASE ignored */
		if (v > h->max_version)
			h->max_version = v;
	}
	return 0;
}

/* key_share, client form: KeyShareEntry client_shares<0..2^16-1>. */
static int
ext_key_share(struct cur *e, struct tls_hello *h)
{
	struct cur list, kx;
	uint16_t group;

	if (cur_vec(e, 2, &list) != 0 || e->left != 0)
		return -1;
	while (list.left > 0) {
		if (cur_u16(&list, &group) != 0 || cur_vec(&list, 2, &kx) != 0 ||
		    kx.left == 0)
			return -1;
		if (tls_group_is_pqc(group))
			h->has_pqc = 1;
	}
	return 0;
}

/* signature_algorithms: SignatureScheme supported_signature_algorithms<2..2^16-2>. */
static int
ext_sig_algs(struct cur *e, struct tls_hello *h)
{
	struct cur list;
	uint16_t v;

	if (cur_vec(e, 2, &list) != 0 || e->left != 0 || list.left < 2 ||
	    (list.left & 1) != 0)
		return -1;
	while (list.left > 0) {
		if (cur_u16(&list, &v) != 0)
			return -1;
		if (tls_is_grease(v))
			continue;
		if (h->n_sigalgs < sizeof(h->sigalgs) / sizeof(h->sigalgs[0]))
			h->sigalgs[h->n_sigalgs++] = v;
		else
			h->lists_truncated = 1;
	}
	return 0;
}

static int
ext_seen(struct tls_hello *h, uint16_t type, unsigned *seen)
{
	unsigned bit = 0;

	switch (type) {
	case EXT_SERVER_NAME: bit = SEEN_SNI; break;
	case EXT_ALPN: bit = SEEN_ALPN; break;
	case EXT_SUPP_VERSIONS: bit = SEEN_SV; break;
	case EXT_KEY_SHARE: bit = SEEN_KS; break;
	case EXT_ECH: bit = SEEN_ECH; break;
	case EXT_SIG_ALGS: bit = SEEN_SIG; break;
	default:
		for (uint16_t i = 0; i < h->n_exts; i++)
			if (h->exts[i] == type)
				return 1;
		return 0;
	}
	if (*seen & bit)
		return 1;
	*seen |= bit;
	return 0;
}

static int
parse_extensions(struct cur *c, struct tls_hello *h, unsigned *seenp)
{
	struct cur all, e;
	uint16_t type;
	unsigned seen = 0;
	int rc;

	if (cur_vec(c, 2, &all) != 0 || c->left != 0)
		return -1;                 /* the block must fill the hello exactly */
	while (all.left > 0) {
		if (cur_u16(&all, &type) != 0 || cur_vec(&all, 2, &e) != 0)
			return -1;
		if (tls_is_grease(type))
			continue;
		/* RFC 8446 4.2: no extension type more than once */
		if (ext_seen(h, type, &seen))
			return -1;
		if (h->exts_total < UINT16_MAX)
			h->exts_total++;
		if (h->n_exts < sizeof(h->exts) / sizeof(h->exts[0]))
			h->exts[h->n_exts++] = type;
		else
			h->lists_truncated = 1;
		switch (type) {
		case EXT_SERVER_NAME:
			rc = ext_server_name(&e, h);
			break;
		case EXT_ALPN:
			rc = ext_alpn(&e, h);
			break;
		case EXT_SUPP_VERSIONS:
			rc = ext_supported_versions(&e, h);
			break;
		case EXT_KEY_SHARE:
			rc = ext_key_share(&e, h);
			break;
		case EXT_SIG_ALGS:
			rc = ext_sig_algs(&e, h);
			break;
		case EXT_ECH:
			h->has_ech = 1;
			rc = 0;
			break;
		default:
			rc = 0;
			break;
		}
		if (rc != 0)
			return -1;
	}
	*seenp = seen;
	return 0;
}

/* ClientHello body (RFC 8446 4.1.2), c->left == the declared body length. */
static enum tls_result
parse_body(struct cur *c, struct tls_hello *h)
{
	struct cur v;
	uint16_t cs;
	unsigned seen = 0;

	if (cur_u16(c, &h->legacy_version) != 0 || (h->legacy_version >> 8) != 3)
		return TLS_MALFORMED;
	if (cur_skip(c, 32) != 0)                      /* random */
		return TLS_MALFORMED;
	if (cur_vec(c, 1, &v) != 0 || v.left > 32)     /* legacy_session_id<0..32> */
		return TLS_MALFORMED;
	/* cipher_suites<2..2^16-2> */
	if (cur_vec(c, 2, &v) != 0 || v.left < 2 || (v.left & 1) != 0)
		return TLS_MALFORMED;
	while (v.left > 0) {
		if (cur_u16(&v, &cs) != 0)
			return TLS_MALFORMED;
		if (tls_is_grease(cs))
			continue;
		if (h->ciphers_total < UINT16_MAX)
			h->ciphers_total++;
		if (h->n_ciphers < sizeof(h->ciphers) / sizeof(h->ciphers[0]))
			h->ciphers[h->n_ciphers++] = cs;
		else
			h->lists_truncated = 1;
	}
	/* legacy_compression_methods<1..2^8-1> */
	if (cur_vec(c, 1, &v) != 0 || v.left < 1)
		return TLS_MALFORMED;
	/* extensions are optional before TLS 1.3 */
	if (c->left > 0 && parse_extensions(c, h, &seen) != 0)
		return TLS_MALFORMED;

	/* without supported_versions, legacy_version is the offered version */
	if (!(seen & SEEN_SV))
		h->versions = version_bit(h->legacy_version);
	if (h->max_version == 0)
		h->max_version = h->legacy_version;
	return TLS_OK;
}

static void
hello_reset(struct tls_hello *h)
{
	memset(h, 0, sizeof(*h));
}

enum tls_result
tls_parse_clienthello(const uint8_t *buf, size_t len, size_t max_len,
		      struct tls_hello *out, size_t *need)
{
	struct cur c;
	size_t body;
	enum tls_result rc;

	if (need != NULL)
		*need = 0;
	hello_reset(out);
	if (len >= 1 && buf[0] != TLS_HS_CLIENT_HELLO)
		return TLS_MALFORMED;
	if (len < TLS_HS_HDR)
		return TLS_NEED_MORE;
	body = ((size_t)buf[1] << 16) | ((size_t)buf[2] << 8) | buf[3];
	if (TLS_HS_HDR + body > max_len) {
		if (need != NULL)
			*need = TLS_HS_HDR + body;
		return TLS_TOO_BIG;
	}
	if (len < TLS_HS_HDR + body) {
		if (need != NULL)
			*need = TLS_HS_HDR + body;
		return TLS_NEED_MORE;
	}
	c.p = buf + TLS_HS_HDR;
	c.seg = body;
	c.left = body;
	out->hello_len = (uint32_t)body;
	out->consumed = (uint32_t)(TLS_HS_HDR + body);
	out->records = 0;
	rc = parse_body(&c, out);
	if (rc != TLS_OK)
		hello_reset(out);
	return rc;
}

/* Checks on the visible bytes of a record header at p (n of 5 visible). */
static enum tls_result
check_rec_hdr(const uint8_t *p, size_t n, int first)
{
	enum tls_result bad = first ? TLS_NOT_TLS : TLS_MALFORMED;
	size_t reclen;

	if (n >= 1 && p[0] != TLS_CT_HANDSHAKE)
		return bad;
	if (n >= 2 && p[1] != 3)
		return bad;
	if (n >= 3 && p[2] > 4)
		return bad;
	if (n >= 5) {
		reclen = ((size_t)p[3] << 8) | p[4];
		/* zero-length handshake fragments are forbidden (RFC 8446 5.1) */
		if (reclen == 0 || reclen > TLS_REC_MAX)
			return TLS_MALFORMED;
	}
	return TLS_OK;
}

enum tls_result
tls_parse_records(const uint8_t *buf, size_t len, size_t max_len,
		  struct tls_hello *out, size_t *need)
{
	uint8_t hdr[TLS_HS_HDR];
	size_t pos = 0, hs_got = 0, total = 0, reclen, data, avail, rest, k;
	unsigned records = 0;
	struct cur c;
	enum tls_result rc;

	if (need != NULL)
		*need = 0;
	hello_reset(out);

	for (;;) {
		rc = check_rec_hdr(buf + pos, len - pos < TLS_REC_HDR ?
				   len - pos : TLS_REC_HDR, records == 0);
		if (rc != TLS_OK)
			return rc;
		if (len - pos < TLS_REC_HDR) {
			if (need != NULL && total != 0)
				*need = pos + TLS_REC_HDR + (total - hs_got);
			return TLS_NEED_MORE;
		}
		reclen = ((size_t)buf[pos + 3] << 8) | buf[pos + 4];
		records++;
		data = pos + TLS_REC_HDR;
		avail = len - data < reclen ? len - data : reclen;

		/* the handshake header may be split across records too */
		for (k = 0; hs_got + k < TLS_HS_HDR && k < avail; k++)
			hdr[hs_got + k] = buf[data + k];
		if (hs_got == 0 && avail >= 1 && hdr[0] != TLS_HS_CLIENT_HELLO)
			return TLS_MALFORMED;
		if (total == 0 && hs_got + k >= TLS_HS_HDR) {
			size_t body = ((size_t)hdr[1] << 16) | ((size_t)hdr[2] << 8) | hdr[3];

			total = TLS_HS_HDR + body;
			if (total > max_len) {
				if (need != NULL)
					*need = total;
				return TLS_TOO_BIG;
			}
			if (body == 0)
				return TLS_MALFORMED;
		}

		if (total != 0 && hs_got + reclen >= total) {
			/* the hello ends in this record */
			rest = total - hs_got;
			if (avail < rest) {
				if (need != NULL)
					*need = data + rest;
				return TLS_NEED_MORE;
			}
			break;
		}
		if (avail < reclen) {
			if (need != NULL)
				*need = total != 0 ?
					data + reclen + TLS_REC_HDR + (total - hs_got - reclen) :
					data + reclen;
			return TLS_NEED_MORE;
		}
		hs_got += reclen;
		pos = data + reclen;
	}

	/* whole hello present: parse it through the record-crossing cursor */
	c.p = buf + TLS_REC_HDR;
	c.seg = ((size_t)buf[3] << 8) | buf[4];
	c.left = total;
	if (cur_skip(&c, TLS_HS_HDR) != 0)
		return TLS_MALFORMED;
	out->hello_len = (uint32_t)(total - TLS_HS_HDR);
	out->consumed = (uint32_t)(data + reclen);
	out->records = records > UINT8_MAX ? UINT8_MAX : (uint8_t)records;
	rc = parse_body(&c, out);
	if (rc != TLS_OK) {
		hello_reset(out);
		return rc;
	}
	return TLS_OK;
}

int
tls_looks_like(const uint8_t *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (check_rec_hdr(buf, len < TLS_REC_HDR ? len : TLS_REC_HDR, 1) != TLS_OK)
		return 0;
	if (len > TLS_REC_HDR && buf[TLS_REC_HDR] != TLS_HS_CLIENT_HELLO)
		return 0;
	return 1;
}
