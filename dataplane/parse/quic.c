/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * quic.c: QUIC client Initial decoding up to the TLS ClientHello.
 *
 * Per datagram: walk every coalesced long-header packet by its Length field
 * (RFC 9000 12.2, 17.2); for an Initial of a version decoded here, remove
 * header protection (RFC 9001 5.4: AES-128-ECB over the 16-byte sample taken
 * 4 bytes after the packet number offset), rebuild the packet number
 * (RFC 9000 17.1, A.3), open the payload with AES-128-GCM (nonce = iv XOR
 * packet number, associated data = the unprotected header), then read the
 * frames an Initial may carry (RFC 9000 12.4 table 3): PADDING, PING, ACK,
 * CRYPTO, CONNECTION_CLOSE (0x1c). CRYPTO data is written by offset into the
 * flow's buffer with a coverage bitmap; the contiguous prefix goes to
 * tls_parse_clienthello() each time it grows.
 *
 * Keys (RFC 9001 5.2, RFC 9369 3.3): initial_secret = HKDF-Extract(salt,
 * client's first DCID); client_initial_secret = HKDF-Expand-Label(secret,
 * "client in", "", 32); key/iv/hp from it with the version's labels. HMAC is
 * EVP_MAC over a context made once per worker; every output here is at most
 * one SHA-256 block, so HKDF-Expand is a single HMAC.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "quic.h"
#include "tls.h"

#define QUIC_TAG_LEN      16
#define QUIC_SAMPLE_LEN   16
#define QUIC_MIN_INITIAL_DGRAM 1200  /* RFC 9000 14.1 */
#define QUIC_MIN_DCID     8          /* RFC 9000 7.2 */
#define QUIC_VARINT_MAX   ((1ull << 62) - 1)

/* frame types an Initial may carry (RFC 9000 12.4, table 3) */
#define FT_PADDING        0x00
#define FT_PING           0x01
#define FT_ACK            0x02
#define FT_ACK_ECN        0x03
#define FT_CRYPTO         0x06
#define FT_CONN_CLOSE     0x1c

struct quic_version_params {
	uint32_t version;
	uint8_t salt[20];
	const char *key_label;
	const char *iv_label;
	const char *hp_label;
	uint8_t type_of[4];             /* wire type bits -> enum quic_pkt_type */
	uint8_t initial_bits;           /* wire type bits of an Initial */
	uint8_t retry_key[16];
	uint8_t retry_nonce[12];
};

/*
 * RFC 9001 5.2 (v1 salt), 5.8 (v1 Retry key/nonce); RFC 9369 3.2 (v2 type
 * bits), 3.3.1 (v2 salt), 3.3.2 (labels), 3.3.3 (v2 Retry key/nonce).
 */
static const struct quic_version_params quic_versions[] = {
	{
		.version = QUIC_V1,
		.salt = { 0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
			  0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a },
		.key_label = "quic key",
		.iv_label = "quic iv",
		.hp_label = "quic hp",
		.type_of = { QUIC_PT_INITIAL, QUIC_PT_0RTT, QUIC_PT_HANDSHAKE, QUIC_PT_RETRY },
		.initial_bits = 0,
		.retry_key = { 0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a,
			       0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8, 0x4e },
		.retry_nonce = { 0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2,
				 0x23, 0x98, 0x25, 0xbb },
	},
	{
		.version = QUIC_V2,
		.salt = { 0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
			  0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9 },
		.key_label = "quicv2 key",
		.iv_label = "quicv2 iv",
		.hp_label = "quicv2 hp",
		.type_of = { QUIC_PT_RETRY, QUIC_PT_INITIAL, QUIC_PT_0RTT, QUIC_PT_HANDSHAKE },
		.initial_bits = 1,
		.retry_key = { 0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2,
			       0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc, 0x92 },
		.retry_nonce = { 0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99,
				 0x90, 0xef, 0xb0, 0x4a },
	},
};

struct quic_ctx {
	EVP_CIPHER *gcm;
	EVP_CIPHER *ecb;
	EVP_MAC *hmac;
	EVP_CIPHER_CTX *aead;
	EVP_CIPHER_CTX *hpc;
	EVP_MAC_CTX *mac;
	uint8_t scratch[QUIC_MAX_DATAGRAM + 64];  /* unprotected header + plaintext */
};

/* A long header as read from the wire (before header protection removal). */
struct quic_lh {
	uint32_t version;
	uint8_t type;                   /* enum quic_pkt_type */
	uint8_t dcid_len, scid_len;
	const uint8_t *dcid, *scid;
	size_t pn_off;                  /* Initial/0-RTT/Handshake: packet number offset */
	size_t pkt_len;                 /* whole packet (Retry/VN: rest of datagram) */
	const struct quic_version_params *vp;  /* NULL: version not decoded here */
};


static const struct quic_version_params *
version_params(uint32_t version)
{
	for (size_t i = 0; i < sizeof(quic_versions) / sizeof(quic_versions[0]); i++)
		if (quic_versions[i].version == version)
			return &quic_versions[i];
	return NULL;
}

int
quic_version_supported(uint32_t version)
{
	return version_params(version) != NULL;
}

const char *
quic_result_name(enum quic_result r)
{
	static const char *const names[QUIC_N_RESULTS] = {
		"ok", "need_more", "not_quic", "unknown_version", "undecryptable",
		"malformed", "too_big", "conflict",
	};

	return (unsigned)r < QUIC_N_RESULTS ? names[r] : "?";
}

/* ---- byte helpers -------------------------------------------------------- */

static inline uint32_t
rd_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* RFC 9000 16: variable-length integer at buf[*off], bounded by len. */
static int
rd_varint(const uint8_t *buf, size_t len, size_t *off, uint64_t *v)
{
	size_t n;
	uint64_t x;

	if (*off >= len)
		return -1;
	n = (size_t)1 << (buf[*off] >> 6);
	if (len - *off < n)
		return -1;
	x = buf[*off] & 0x3f;
	for (size_t i = 1; i < n; i++)
		x = (x << 8) | buf[*off + i];
	*off += n;
	*v = x;
	return 0;
}

/* Writes v as a varint of exactly n bytes (1, 2, 4, 8). */
static void
wr_varint(uint8_t *p, uint64_t v, size_t n)
{
	static const uint8_t prefix[9] = { 0, 0x00, 0x40, 0, 0x80, 0, 0, 0, 0xc0 };

	for (size_t i = n; i-- > 0;) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
	p[0] |= prefix[n];
}

/* ---- context ------------------------------------------------------------- */

struct quic_ctx *
quic_ctx_new(void)
{
	struct quic_ctx *ctx;
	OSSL_PARAM params[2];
	char digest[] = "SHA256";

	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return NULL;
	ctx->gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	ctx->ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
	ctx->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (ctx->gcm == NULL || ctx->ecb == NULL || ctx->hmac == NULL)
		goto err_fetch;
	ctx->aead = EVP_CIPHER_CTX_new();
	ctx->hpc = EVP_CIPHER_CTX_new();
	ctx->mac = EVP_MAC_CTX_new(ctx->hmac);
	if (ctx->aead == NULL || ctx->hpc == NULL || ctx->mac == NULL)
		goto err_fetch;
	if (EVP_CipherInit_ex(ctx->aead, ctx->gcm, NULL, NULL, NULL, 0) != 1 ||
	    EVP_EncryptInit_ex(ctx->hpc, ctx->ecb, NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx->hpc, 0) != 1)
		goto err_fetch;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(ctx->mac, params) != 1)
		goto err_fetch;
	return ctx;

err_fetch:
	quic_ctx_free(ctx);
	errno = EIO;
	return NULL;
}

void
quic_ctx_free(struct quic_ctx *ctx)
{
	if (ctx == NULL)
		return;
	EVP_MAC_CTX_free(ctx->mac);
	EVP_CIPHER_CTX_free(ctx->hpc);
	EVP_CIPHER_CTX_free(ctx->aead);
	EVP_MAC_free(ctx->hmac);
	EVP_CIPHER_free(ctx->ecb);
	EVP_CIPHER_free(ctx->gcm);
	free(ctx);
}

/* ---- key derivation ------------------------------------------------------ */

static int
hmac_sha256(struct quic_ctx *ctx, const uint8_t *key, size_t key_len,
	    const uint8_t *d1, size_t l1, const uint8_t *d2, size_t l2, uint8_t out[32])
{
	size_t outl = 0;

	if (EVP_MAC_init(ctx->mac, key, key_len, NULL) != 1 ||
	    EVP_MAC_update(ctx->mac, d1, l1) != 1 ||
	    (l2 != 0 && EVP_MAC_update(ctx->mac, d2, l2) != 1) ||
	    EVP_MAC_final(ctx->mac, out, &outl, 32) != 1 || outl != 32)
		return -EIO;
	return 0;
}

/* RFC 8446 7.1 HKDF-Expand-Label with an empty context, out_len <= 32. */
static int
hkdf_expand_label(struct quic_ctx *ctx, const uint8_t secret[32], const char *label,
		  uint8_t *out, size_t out_len)
{
	uint8_t info[2 + 1 + 6 + 32 + 1 + 1];
	uint8_t t[32];
	size_t llen = strlen(label), n = 0;
	int rc;

	if (out_len > 32 || llen > 32)
		return -EINVAL;
	info[n++] = (uint8_t)(out_len >> 8);
	info[n++] = (uint8_t)out_len;
	info[n++] = (uint8_t)(6 + llen);
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, llen);
	n += llen;
	info[n++] = 0;                  /* context: empty */
	info[n++] = 1;                  /* T(1) counter */
	rc = hmac_sha256(ctx, secret, 32, info, n, NULL, 0, t);
	if (rc == 0)
		memcpy(out, t, out_len);
	return rc;
}

static int
derive_keys(struct quic_ctx *ctx, const struct quic_version_params *vp, const uint8_t *dcid,
	    size_t dcid_len, int server, struct quic_keys *k)
{
	if (hmac_sha256(ctx, vp->salt, sizeof(vp->salt), dcid, dcid_len, NULL, 0,
			k->initial_secret) != 0 ||
	    hkdf_expand_label(ctx, k->initial_secret, server ? "server in" : "client in",
			      k->secret, 32) != 0 ||
	    hkdf_expand_label(ctx, k->secret, vp->key_label, k->key, sizeof(k->key)) != 0 ||
	    hkdf_expand_label(ctx, k->secret, vp->iv_label, k->iv, sizeof(k->iv)) != 0 ||
	    hkdf_expand_label(ctx, k->secret, vp->hp_label, k->hp, sizeof(k->hp)) != 0)
		return -EIO;
	return 0;
}

int
quic_initial_keys(struct quic_ctx *ctx, uint32_t version, const uint8_t *dcid,
		  size_t dcid_len, int server, struct quic_keys *out)
{
	const struct quic_version_params *vp = version_params(version);

	if (vp == NULL)
		return -ENOTSUP;
	if (ctx == NULL || out == NULL || (dcid == NULL && dcid_len != 0) || dcid_len > 255)
		return -EINVAL;
	return derive_keys(ctx, vp, dcid, dcid_len, server, out);
}

/* ---- AEAD and header protection ----------------------------------------- */

static int
hp_mask(struct quic_ctx *ctx, const uint8_t hp[16], const uint8_t *sample, uint8_t mask[16])
{
	int outl = 0;

	if (EVP_EncryptInit_ex(ctx->hpc, NULL, NULL, hp, NULL) != 1 ||
	    EVP_EncryptUpdate(ctx->hpc, mask, &outl, sample, QUIC_SAMPLE_LEN) != 1 ||
	    outl != QUIC_SAMPLE_LEN)
		return -EIO;
	return 0;
}

static void
make_nonce(const uint8_t iv[12], uint64_t pn, uint8_t nonce[12])
{
	memcpy(nonce, iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
}

/*
 * AES-128-GCM open: 0 when the tag verifies, 1 when it does not, -EIO on an
 * OpenSSL failure. ct_len may be 0 (Retry integrity tag).
 */
static int
aead_open(struct quic_ctx *ctx, const uint8_t key[16], const uint8_t nonce[12],
	  const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
	  const uint8_t tag[QUIC_TAG_LEN], uint8_t *out)
{
	uint8_t fin[16];
	int outl = 0, finl = 0;

	if (aad_len > INT32_MAX || ct_len > INT32_MAX)
		return -EINVAL;
	if (EVP_CipherInit_ex(ctx->aead, NULL, NULL, key, nonce, 0) != 1 ||
	    EVP_DecryptUpdate(ctx->aead, NULL, &outl, aad, (int)aad_len) != 1)
		return -EIO;
	if (ct_len != 0 && EVP_DecryptUpdate(ctx->aead, out, &outl, ct, (int)ct_len) != 1)
		return -EIO;
	if (EVP_CIPHER_CTX_ctrl(ctx->aead, EVP_CTRL_AEAD_SET_TAG, QUIC_TAG_LEN,
				(void *)(uintptr_t)tag) != 1)
		return -EIO;
	if (EVP_DecryptFinal_ex(ctx->aead, ct_len != 0 ? out + outl : fin, &finl) != 1)
		return 1;
	return 0;
}

static int
aead_seal(struct quic_ctx *ctx, const uint8_t key[16], const uint8_t nonce[12],
	  const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
	  uint8_t *out, uint8_t tag[QUIC_TAG_LEN])
{
	uint8_t fin[16];
	int outl = 0, finl = 0;

	if (aad_len > INT32_MAX || pt_len > INT32_MAX)
		return -EINVAL;
	if (EVP_CipherInit_ex(ctx->aead, NULL, NULL, key, nonce, 1) != 1 ||
	    EVP_EncryptUpdate(ctx->aead, NULL, &outl, aad, (int)aad_len) != 1)
		return -EIO;
	if (pt_len != 0 && EVP_EncryptUpdate(ctx->aead, out, &outl, pt, (int)pt_len) != 1)
		return -EIO;
	if (EVP_EncryptFinal_ex(ctx->aead, pt_len != 0 ? out + outl : fin, &finl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx->aead, EVP_CTRL_AEAD_GET_TAG, QUIC_TAG_LEN, tag) != 1)
		return -EIO;
	return 0;
}

/* RFC 9000 A.3: the full packet number closest to largest + 1. */
static uint64_t
decode_pn(int64_t largest, uint64_t truncated, unsigned bits)
{
	int64_t expected = largest + 1;
	int64_t win = (int64_t)1 << bits;
	int64_t hwin = win / 2;
	int64_t cand = (expected & ~(win - 1)) | (int64_t)truncated;

	if (cand <= expected - hwin && cand < ((int64_t)1 << 62) - win)
		return (uint64_t)(cand + win);
	if (cand > expected + hwin && cand >= win)
		return (uint64_t)(cand - win);
	return (uint64_t)cand;
}

/* ---- long header --------------------------------------------------------- */

/*
 * Read the long header at pkt (len bytes left in the datagram).
 * Returns QUIC_PT_* of the packet; QUIC_PT_INVALID when it cannot be a
 * packet (truncated, a Length past the datagram, a CID too long for v1/v2).
 */
static enum quic_pkt_type
read_long_header(const uint8_t *pkt, size_t len, struct quic_lh *h)
{
	size_t off;
	uint64_t v;

	memset(h, 0, sizeof(*h));
	if (len < 1)
		return QUIC_PT_INVALID;
	if (!(pkt[0] & 0x80))
		return QUIC_PT_SHORT;
	/* RFC 8999 5.1: invariant long header */
	if (len < 7)
		return QUIC_PT_INVALID;
	h->version = rd_be32(pkt + 1);
	h->dcid_len = pkt[5];
	off = 6;
	if (len - off < (size_t)h->dcid_len + 1)
		return QUIC_PT_INVALID;
	h->dcid = pkt + off;
	off += h->dcid_len;
	h->scid_len = pkt[off++];
	if (len - off < h->scid_len)
		return QUIC_PT_INVALID;
	h->scid = pkt + off;
	off += h->scid_len;

	if (h->version == QUIC_VN) {
		/* RFC 9000 17.2.1: a list of 32-bit versions fills the rest */
		h->type = QUIC_PT_VN;
		h->pkt_len = len;
		if ((len - off) % 4 != 0 || len == off)
			return QUIC_PT_INVALID;
		return QUIC_PT_VN;
	}
	h->vp = version_params(h->version);
	if (h->vp == NULL) {
		h->type = QUIC_PT_UNKNOWN_VERSION;
		h->pkt_len = len;
		return QUIC_PT_UNKNOWN_VERSION;
	}
	if (h->dcid_len > QUIC_CID_MAX || h->scid_len > QUIC_CID_MAX)
		return QUIC_PT_INVALID;
	h->type = h->vp->type_of[(pkt[0] >> 4) & 3];
	if (h->type == QUIC_PT_RETRY) {
		/* token + 16-byte integrity tag fill the rest */
		h->pkt_len = len;
		if (len - off < QUIC_TAG_LEN)
			return QUIC_PT_INVALID;
		return QUIC_PT_RETRY;
	}
	if (h->type == QUIC_PT_INITIAL) {
		if (rd_varint(pkt, len, &off, &v) != 0 || len - off < v)
			return QUIC_PT_INVALID;
		off += (size_t)v;       /* token */
	}
	if (rd_varint(pkt, len, &off, &v) != 0 || len - off < v)
		return QUIC_PT_INVALID;
	h->pn_off = off;
	h->pkt_len = off + (size_t)v;
	return (enum quic_pkt_type)h->type;
}

enum quic_pkt_type
quic_peek(const uint8_t *dgram, size_t len, struct quic_pkt_info *info)
{
	struct quic_lh h;
	enum quic_pkt_type t;

	if (dgram == NULL)
		return QUIC_PT_INVALID;
	t = read_long_header(dgram, len, &h);
	if (info != NULL) {
		memset(info, 0, sizeof(*info));
		if (t != QUIC_PT_INVALID && t != QUIC_PT_SHORT) {
			info->version = h.version;
			info->dcid_len = h.dcid_len;
			info->scid_len = h.scid_len;
			memcpy(info->dcid, h.dcid, h.dcid_len);
			memcpy(info->scid, h.scid, h.scid_len);
		}
	}
	return t;
}

/*
 * Remove header protection and open one Initial (h already read). Returns
 * 0 (o filled, pointing into ctx->scratch), 1 when the tag does not verify,
 * -EBADMSG when the packet is too short to carry a sample, -EIO.
 */
static int
open_initial(struct quic_ctx *ctx, const struct quic_keys *k, const uint8_t *pkt,
	     const struct quic_lh *h, int64_t largest_pn, struct quic_packet *o)
{
	uint8_t mask[16], nonce[12];
	uint8_t *hdr = ctx->scratch;
	size_t pn_len, hdr_len, ct_len;
	uint64_t tpn = 0;
	int rc;

	/* RFC 9001 5.4.2: the sample starts 4 bytes after the pn offset */
	if (h->pkt_len < h->pn_off + 4 + QUIC_SAMPLE_LEN)
		return -EBADMSG;
	rc = hp_mask(ctx, k->hp, pkt + h->pn_off + 4, mask);
	if (rc != 0)
		return rc;
	o->first_byte = pkt[0] ^ (mask[0] & 0x0f);
	pn_len = (o->first_byte & 3) + 1;
	hdr_len = h->pn_off + pn_len;
	if (h->pkt_len < hdr_len + QUIC_TAG_LEN)
		return -EBADMSG;
	memcpy(hdr, pkt, hdr_len);
	hdr[0] = o->first_byte;
	for (size_t i = 0; i < pn_len; i++) {
		hdr[h->pn_off + i] ^= mask[1 + i];
		tpn = (tpn << 8) | hdr[h->pn_off + i];
	}
	o->pn = decode_pn(largest_pn, tpn, (unsigned)pn_len * 8);
	make_nonce(k->iv, o->pn, nonce);
	ct_len = h->pkt_len - hdr_len - QUIC_TAG_LEN;
	rc = aead_open(ctx, k->key, nonce, hdr, hdr_len, pkt + hdr_len, ct_len,
		       pkt + hdr_len + ct_len, hdr + hdr_len);
	if (rc != 0)
		return rc;
	o->hdr = hdr;
	o->hdr_len = hdr_len;
	o->payload = hdr + hdr_len;
	o->payload_len = ct_len;
	o->pkt_len = h->pkt_len;
	o->version = h->version;
	return 0;
}

int
quic_open_initial(struct quic_ctx *ctx, const struct quic_keys *k, const uint8_t *pkt,
		  size_t len, int64_t largest_pn, struct quic_packet *out)
{
	struct quic_lh h;

	if (ctx == NULL || k == NULL || pkt == NULL || out == NULL || len > QUIC_MAX_DATAGRAM)
		return -EINVAL;
	if (read_long_header(pkt, len, &h) != QUIC_PT_INITIAL)
		return -EBADMSG;
	return open_initial(ctx, k, pkt, &h, largest_pn, out);
}

/* ---- flow state and CRYPTO reassembly ------------------------------------ */

int
quic_flow_init(struct quic_flow *f, uint8_t *buf, uint8_t *bitmap, uint32_t cap)
{
	if (f == NULL || buf == NULL || bitmap == NULL || cap == 0)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	f->buf = buf;
	f->bitmap = bitmap;
	f->cap = cap;
	quic_flow_reset(f);
	return 0;
}

void
quic_flow_reset(struct quic_flow *f)
{
	uint8_t *buf = f->buf, *bitmap = f->bitmap;
	uint32_t cap = f->cap;

	memset(f, 0, sizeof(*f));
	f->buf = buf;
	f->bitmap = bitmap;
	f->cap = cap;
	f->result = QUIC_NEED_MORE;
	f->largest_pn = -1;
	if (bitmap != NULL)
		memset(bitmap, 0, QUIC_BITMAP_BYTES(cap));
}

static inline int
bit_get(const uint8_t *bm, uint32_t i)
{
	return (bm[i >> 3] >> (i & 7)) & 1;
}

static inline void
bit_set(uint8_t *bm, uint32_t i)
{
	bm[i >> 3] |= (uint8_t)(1u << (i & 7));
}

static enum quic_result
crypto_write(struct quic_flow *f, uint64_t off, const uint8_t *data, uint64_t n)
{
	uint32_t pos, end;

	if (off + n > QUIC_VARINT_MAX)
		return QUIC_MALFORMED;  /* RFC 9000 19.6: FRAME_ENCODING_ERROR */
	if (f->crypto_frames < UINT16_MAX)
		f->crypto_frames++;
	if (n == 0)
		return QUIC_NEED_MORE;
	if (off + n > f->cap)
		return QUIC_TOO_BIG;
	if (off > f->contig && f->ooo_frames < UINT16_MAX)
		f->ooo_frames++;
	pos = (uint32_t)off;
	end = (uint32_t)(off + n);
	for (; pos < end; pos++, data++) {
		if (bit_get(f->bitmap, pos)) {
			if (f->buf[pos] != *data)
				return QUIC_CONFLICT;
			if (f->dup_bytes < UINT16_MAX)
				f->dup_bytes++;
			continue;
		}
		f->buf[pos] = *data;
		bit_set(f->bitmap, pos);
	}
	if (end > f->high)
		f->high = end;
	while (f->contig < f->cap) {
		if ((f->contig & 7) == 0 && f->cap - f->contig >= 8 &&
		    f->bitmap[f->contig >> 3] == 0xff) {
			f->contig += 8;
			continue;
		}
		if (!bit_get(f->bitmap, f->contig))
			break;
		f->contig++;
	}
	return QUIC_NEED_MORE;
}

/*
 * CRYPTO bytes of a decided flow: every byte must be one the hello was
 * decided on (present, equal); anything else is a conflict.
 */
static enum quic_result
crypto_compare(const struct quic_flow *f, uint64_t off, const uint8_t *data, uint64_t n)
{
	if (off + n > QUIC_VARINT_MAX)
		return QUIC_MALFORMED;
	if (off + n > f->cap)
		return QUIC_CONFLICT;
	for (uint32_t pos = (uint32_t)off, end = (uint32_t)(off + n); pos < end; pos++, data++)
		if (!bit_get(f->bitmap, pos) || f->buf[pos] != *data)
			return QUIC_CONFLICT;
	return QUIC_NEED_MORE;
}

/* RFC 9000 19.3: skip an ACK frame (type already read), checking its ranges. */
static int
skip_ack(const uint8_t *p, size_t len, size_t *off, int ecn)
{
	uint64_t largest, delay, count, range, gap, smallest;

	if (rd_varint(p, len, off, &largest) != 0 || rd_varint(p, len, off, &delay) != 0 ||
	    rd_varint(p, len, off, &count) != 0 || rd_varint(p, len, off, &range) != 0)
		return -1;
	if (range > largest)
		return -1;
	smallest = largest - range;
	/* each range is two varints (>= 2 bytes): the loop is bounded by len */
	for (uint64_t i = 0; i < count; i++) {
		if (rd_varint(p, len, off, &gap) != 0 || rd_varint(p, len, off, &range) != 0)
			return -1;
		/* next largest = smallest - gap - 2 must be >= range */
		if (smallest < gap + 2 || smallest - gap - 2 < range)
			return -1;
		smallest = smallest - gap - 2 - range;
	}
	if (ecn) {
		for (int i = 0; i < 3; i++)
			if (rd_varint(p, len, off, &gap) != 0)
				return -1;
	}
	return 0;
}

/* Frames of one authenticated Initial; verify: compare CRYPTO data, store nothing. */
static enum quic_result
parse_frames(struct quic_flow *f, const uint8_t *p, size_t len, int verify)
{
	size_t off = 0;
	uint64_t a, b, c;
	enum quic_result r;

	if (len == 0)
		return QUIC_MALFORMED;  /* RFC 9000 12.4: at least one frame */
	while (off < len) {
		uint8_t type = p[off++];

		switch (type) {
		case FT_PADDING:
			while (off < len && p[off] == 0)
				off++;
			break;
		case FT_PING:
			break;
		case FT_ACK:
		case FT_ACK_ECN:
			if (skip_ack(p, len, &off, type == FT_ACK_ECN) != 0)
				return QUIC_MALFORMED;
			break;
		case FT_CRYPTO:
			if (rd_varint(p, len, &off, &a) != 0 || rd_varint(p, len, &off, &b) != 0 ||
			    len - off < b)
				return QUIC_MALFORMED;
			r = verify ? crypto_compare(f, a, p + off, b) : crypto_write(f, a, p + off, b);
			if (r != QUIC_NEED_MORE)
				return r;
			off += (size_t)b;
			break;
		case FT_CONN_CLOSE:
			if (rd_varint(p, len, &off, &a) != 0 || rd_varint(p, len, &off, &b) != 0 ||
			    rd_varint(p, len, &off, &c) != 0 || len - off < c)
				return QUIC_MALFORMED;
			off += (size_t)c;
			f->closed = 1;
			break;
		default:
			/* anything else in an Initial: PROTOCOL_VIOLATION */
			return QUIC_MALFORMED;
		}
	}
	return QUIC_NEED_MORE;
}

static void
fix_keys(struct quic_flow *f, const struct quic_lh *h, const struct quic_keys *k)
{
	f->have_keys = 1;
	f->version = h->version;
	f->dcid_len = h->dcid_len;
	memcpy(f->dcid, h->dcid, h->dcid_len);
	f->scid_len = h->scid_len;
	memcpy(f->scid, h->scid, h->scid_len);
	memcpy(f->key, k->key, sizeof(f->key));
	memcpy(f->iv, k->iv, sizeof(f->iv));
	memcpy(f->hp, k->hp, sizeof(f->hp));
	if (h->dcid_len < QUIC_MIN_DCID)
		f->short_dcid = 1;
}

/* A final result: stays. */
static enum quic_result
finish(struct quic_flow *f, enum quic_result r)
{
	f->result = (uint8_t)r;
	return r;
}

enum quic_result
quic_feed_client(struct quic_ctx *ctx, struct quic_flow *f, const uint8_t *dgram,
		 size_t len, struct tls_hello *out)
{
	const uint8_t *first_dcid = NULL;
	uint8_t first_dcid_len = 0;
	size_t off = 0;
	int opened = 0, bad_tag = 0;
	enum quic_result r;

	if (ctx == NULL || f == NULL || out == NULL || (dgram == NULL && len != 0))
		return QUIC_MALFORMED;
	if (f->result != QUIC_NEED_MORE)
		return (enum quic_result)f->result;
	if (f->datagrams < UINT16_MAX)
		f->datagrams++;
	if (len == 0)
		return QUIC_NOT_QUIC;
	if (len > QUIC_MAX_DATAGRAM)
		return QUIC_MALFORMED;

	while (off < len) {
		const uint8_t *pkt = dgram + off;
		struct quic_lh h;
		struct quic_keys k;
		const struct quic_keys *kp;
		struct quic_packet o;
		enum quic_pkt_type t;
		int rc;

		t = read_long_header(pkt, len - off, &h);
		if (off == 0) {
			switch (t) {
			case QUIC_PT_SHORT:
				return QUIC_NOT_QUIC;
			case QUIC_PT_INVALID:
				return QUIC_MALFORMED;
			case QUIC_PT_UNKNOWN_VERSION:
				if (!f->have_keys) {
					/* remembered to check a Version Negotiation */
					f->version = h.version;
					f->dcid_len = h.dcid_len <= QUIC_CID_MAX ? h.dcid_len : 0;
					memcpy(f->dcid, h.dcid, f->dcid_len);
					f->scid_len = h.scid_len <= QUIC_CID_MAX ? h.scid_len : 0;
					memcpy(f->scid, h.scid, f->scid_len);
				}
				return QUIC_UNKNOWN_VERSION;
			case QUIC_PT_VN:
			case QUIC_PT_RETRY:
				return QUIC_MALFORMED;  /* never sent by a client */
			default:
				break;
			}
			first_dcid = h.dcid;
			first_dcid_len = h.dcid_len;
		} else if (t == QUIC_PT_SHORT || t == QUIC_PT_INVALID || h.vp == NULL ||
			   t == QUIC_PT_RETRY) {
			/* RFC 9000 12.2: the rest is padding or a packet we cannot use */
			break;
		}
		off += h.pkt_len;
		/* RFC 9000 12.2: ignore coalesced packets for another connection */
		if (t != QUIC_PT_INITIAL || h.dcid_len != first_dcid_len ||
		    memcmp(h.dcid, first_dcid, first_dcid_len) != 0)
			continue;
		if (f->have_keys && h.version != f->version)
			continue;       /* keys are fixed for one version */

		if (f->have_keys) {
			memcpy(k.key, f->key, sizeof(k.key));
			memcpy(k.iv, f->iv, sizeof(k.iv));
			memcpy(k.hp, f->hp, sizeof(k.hp));
			kp = &k;
		} else {
			if (derive_keys(ctx, h.vp, h.dcid, h.dcid_len, 0, &k) != 0)
				return QUIC_UNDECRYPTABLE;
			kp = &k;
		}
		rc = open_initial(ctx, kp, pkt, &h, f->largest_pn, &o);
		if (rc == -EBADMSG) {
			if (!opened && off == h.pkt_len)
				return QUIC_MALFORMED;
			continue;
		}
		if (rc != 0) {
			bad_tag = 1;
			continue;
		}
		/* authenticated: from here on the content is what the server sees */
		opened = 1;
		if (!f->have_keys) {
			fix_keys(f, &h, &k);
			if (len < QUIC_MIN_INITIAL_DGRAM)
				f->small_datagram = 1;
		}
		if (f->initials < UINT16_MAX)
			f->initials++;
		if ((int64_t)o.pn > f->largest_pn)
			f->largest_pn = (int64_t)o.pn;
		if (o.first_byte & 0x0c)
			return finish(f, QUIC_MALFORMED);  /* reserved bits: RFC 9000 17.2 */
		r = parse_frames(f, o.payload, o.payload_len, 0);
		if (r != QUIC_NEED_MORE)
			return finish(f, r);
	}

	if (!opened)
		return bad_tag ? QUIC_UNDECRYPTABLE : QUIC_NEED_MORE;
	if (f->contig > f->parsed_at) {
		size_t need = 0;
		enum tls_result tr;

		f->parsed_at = f->contig;
		tr = tls_parse_clienthello(f->buf, f->contig, f->cap, out, &need);
		switch (tr) {
		case TLS_OK:
			return finish(f, QUIC_OK);
		case TLS_NEED_MORE:
			break;
		case TLS_TOO_BIG:
			return finish(f, QUIC_TOO_BIG);
		default:
			return finish(f, QUIC_MALFORMED);
		}
	}
	return QUIC_NEED_MORE;
}

enum quic_result
quic_verify_client(struct quic_ctx *ctx, struct quic_flow *f, const uint8_t *dgram, size_t len)
{
	struct quic_keys k;
	size_t off = 0;

	if (ctx == NULL || f == NULL || dgram == NULL || !f->have_keys ||
	    f->result != QUIC_OK || len > QUIC_MAX_DATAGRAM)
		return QUIC_NEED_MORE;
	memcpy(k.key, f->key, sizeof(k.key));
	memcpy(k.iv, f->iv, sizeof(k.iv));
	memcpy(k.hp, f->hp, sizeof(k.hp));
	while (off < len) {
		const uint8_t *pkt = dgram + off;
		struct quic_packet o;
		struct quic_lh h;
		enum quic_pkt_type t;
		enum quic_result r;

		t = read_long_header(pkt, len - off, &h);
		if (t == QUIC_PT_SHORT || t == QUIC_PT_INVALID || h.vp == NULL ||
		    t == QUIC_PT_RETRY)
			break;
		off += h.pkt_len;
		if (t != QUIC_PT_INITIAL || h.version != f->version)
			continue;
		/* the connection's Initials open with its keys, whatever DCID they carry */
		if (open_initial(ctx, &k, pkt, &h, f->largest_pn, &o) != 0)
			continue;
		if ((int64_t)o.pn > f->largest_pn)
			f->largest_pn = (int64_t)o.pn;
		r = parse_frames(f, o.payload, o.payload_len, 1);
		if (r != QUIC_NEED_MORE)
			return r;
	}
	return QUIC_NEED_MORE;
}

int
quic_server_past_hello(const uint8_t *dgram, size_t len)
{
	size_t off = 0;

	if (dgram == NULL || len == 0)
		return 0;
	if (!(dgram[0] & 0x80))
		return 1;               /* 1-RTT: the server has its application keys */
	while (off < len) {
		struct quic_lh h;
		enum quic_pkt_type t = read_long_header(dgram + off, len - off, &h);

		if (t == QUIC_PT_HANDSHAKE)
			return 1;
		if (t != QUIC_PT_INITIAL && t != QUIC_PT_0RTT)
			return 0;
		off += h.pkt_len;
	}
	return 0;
}

/* ---- server side: Version Negotiation and Retry -------------------------- */

static int
vn_valid(const struct quic_flow *f, const uint8_t *dgram, const struct quic_lh *h)
{
	size_t off = 7 + h->dcid_len + h->scid_len;

	if (f->version == 0)
		return 0;               /* the client has not spoken yet */
	/* RFC 9000 17.2.1: the CIDs echo the client's, swapped */
	if (h->dcid_len != f->scid_len || memcmp(h->dcid, f->scid, f->scid_len) != 0 ||
	    h->scid_len != f->dcid_len || memcmp(h->scid, f->dcid, f->dcid_len) != 0)
		return 0;
	/* RFC 9000 6.2: a list holding the client's version is discarded */
	for (; off + 4 <= h->pkt_len; off += 4)
		if (rd_be32(dgram + off) == f->version)
			return 0;
	return 1;
}

static int
retry_valid(struct quic_ctx *ctx, const struct quic_flow *f, const uint8_t *dgram,
	    const struct quic_lh *h)
{
	uint8_t *pseudo = ctx->scratch;
	size_t body = h->pkt_len - QUIC_TAG_LEN;

	/* RFC 9000 17.2.5.2: one Retry, to the client's SCID, with a new SCID */
	if (!f->have_keys || f->retried || h->version != f->version)
		return 0;
	if (h->dcid_len != f->scid_len || memcmp(h->dcid, f->scid, f->scid_len) != 0)
		return 0;
	if (h->scid_len == f->dcid_len && memcmp(h->scid, f->dcid, f->dcid_len) == 0)
		return 0;
	if (body == 7 + (size_t)h->dcid_len + h->scid_len)
		return 0;               /* RFC 9000 17.2.5.1: zero-length token */
	/* RFC 9001 5.8: tag over ODCID length, ODCID, the Retry without its tag */
	if (1 + (size_t)f->dcid_len + body > sizeof(ctx->scratch))
		return 0;
	pseudo[0] = f->dcid_len;
	memcpy(pseudo + 1, f->dcid, f->dcid_len);
	memcpy(pseudo + 1 + f->dcid_len, dgram, body);
	return aead_open(ctx, h->vp->retry_key, h->vp->retry_nonce, pseudo,
			 1 + f->dcid_len + body, NULL, 0, dgram + body, NULL) == 0;
}

enum quic_pkt_type
quic_feed_server(struct quic_ctx *ctx, struct quic_flow *f, const uint8_t *dgram, size_t len)
{
	struct quic_lh h;
	enum quic_pkt_type t;
	uint8_t resets;

	if (ctx == NULL || f == NULL || dgram == NULL)
		return QUIC_PT_INVALID;
	t = read_long_header(dgram, len, &h);
	if (f->result != QUIC_NEED_MORE)
		return t;
	if ((t == QUIC_PT_VN && vn_valid(f, dgram, &h)) ||
	    (t == QUIC_PT_RETRY && retry_valid(ctx, f, dgram, &h))) {
		resets = f->resets;
		quic_flow_reset(f);
		f->resets = resets < UINT8_MAX ? resets + 1 : resets;
		if (t == QUIC_PT_RETRY)
			f->retried = 1;
	}
	return t;
}

int
quic_new_connection(struct quic_ctx *ctx, const struct quic_flow *f,
		    const uint8_t *dgram, size_t len)
{
	struct quic_lh h;
	struct quic_keys k;
	struct quic_packet o;
	enum quic_pkt_type t;

	if (ctx == NULL || f == NULL || dgram == NULL || !f->have_keys)
		return 0;
	t = read_long_header(dgram, len, &h);
	if (t == QUIC_PT_UNKNOWN_VERSION || ((t == QUIC_PT_INITIAL || t == QUIC_PT_0RTT ||
					      t == QUIC_PT_HANDSHAKE) && h.version != f->version))
		return 1;
	if (t != QUIC_PT_INITIAL)
		return 0;
	if (h.dcid_len == f->dcid_len && memcmp(h.dcid, f->dcid, f->dcid_len) == 0)
		return 0;               /* the DCID that made the keys */
	memcpy(k.key, f->key, sizeof(k.key));
	memcpy(k.iv, f->iv, sizeof(k.iv));
	memcpy(k.hp, f->hp, sizeof(k.hp));
	return open_initial(ctx, &k, dgram, &h, f->largest_pn, &o) != 0;
}

/* ---- builder (tests and tools) ------------------------------------------- */

long
quic_build_initial(struct quic_ctx *ctx, uint32_t version, const struct quic_keys *k,
		   const uint8_t *dcid, size_t dcid_len,
		   const uint8_t *scid, size_t scid_len,
		   const uint8_t *token, size_t token_len,
		   uint64_t pn, unsigned pn_len,
		   const uint8_t *payload, size_t payload_len,
		   uint8_t *out, size_t out_cap)
{
	const struct quic_version_params *vp = version_params(version);
	uint8_t mask[16], nonce[12];
	size_t off = 0, pn_off, tl_len, len_len, total;
	uint64_t length;

	if (ctx == NULL || vp == NULL || k == NULL || out == NULL ||
	    dcid_len > QUIC_CID_MAX || scid_len > QUIC_CID_MAX ||
	    pn_len < 1 || pn_len > 4 || payload_len + pn_len < 4 ||
	    payload_len > QUIC_MAX_DATAGRAM || token_len > QUIC_MAX_DATAGRAM ||
	    (payload == NULL && payload_len != 0) || (token == NULL && token_len != 0))
		return -EINVAL;
	length = pn_len + payload_len + QUIC_TAG_LEN;
	tl_len = token_len < 64 ? 1 : token_len < 16384 ? 2 : 4;
	len_len = length < 16384 ? 2 : 4;
	total = 7 + dcid_len + scid_len + tl_len + token_len + len_len + (size_t)length;
	if (total > out_cap)
		return -ENOSPC;

	out[off++] = (uint8_t)(0xc0 | (vp->initial_bits << 4) | (pn_len - 1));
	out[off++] = (uint8_t)(version >> 24);
	out[off++] = (uint8_t)(version >> 16);
	out[off++] = (uint8_t)(version >> 8);
	out[off++] = (uint8_t)version;
	out[off++] = (uint8_t)dcid_len;
	if (dcid_len != 0)
		memcpy(out + off, dcid, dcid_len);
	off += dcid_len;
	out[off++] = (uint8_t)scid_len;
	if (scid_len != 0)
		memcpy(out + off, scid, scid_len);
	off += scid_len;
	wr_varint(out + off, token_len, tl_len);
	off += tl_len;
	if (token_len != 0)
		memcpy(out + off, token, token_len);
	off += token_len;
	wr_varint(out + off, length, len_len);
	off += len_len;
	pn_off = off;
	for (unsigned i = 0; i < pn_len; i++)
		out[off++] = (uint8_t)(pn >> (8 * (pn_len - 1 - i)));

	make_nonce(k->iv, pn, nonce);
	if (aead_seal(ctx, k->key, nonce, out, off, payload, payload_len, out + off,
		      out + off + payload_len) != 0)
		return -EIO;
	if (hp_mask(ctx, k->hp, out + pn_off + 4, mask) != 0)
		return -EIO;
	out[0] ^= mask[0] & 0x0f;
	for (unsigned i = 0; i < pn_len; i++)
		out[pn_off + i] ^= mask[1 + i];
	return (long)total;
}
