/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_sign.h: Ed25519 keys and the checkpoint signature of the audit trail.
 *
 * An audit.checkpoint record signs the chain head: the signature (Ed25519,
 * OpenSSL EVP, one-shot EVP_DigestSign with no digest) covers the
 * domain-separated message
 *
 *   "chokepoint-audit-checkpoint-v1" 0x00      31 bytes
 *   seq of the checkpoint record               8 bytes, big endian
 *   head: the "prev" of the checkpoint record  32 bytes (hash of record seq-1)
 *   ts of the checkpoint record                27 ASCII bytes (2026-11-25T23:51:24.123456Z)
 *   key id                                     8 bytes
 *
 * so it vouches for every record before it (each hash covers its prev).
 * The key id is the first 8 bytes of SHA-256 over the raw 32-byte public
 * key; it names the key, it is never a reason to trust one: verification
 * uses only a public key the auditor pins (--pubkey).
 */
#ifndef CHOKEPOINT_CP_SIGN_H
#define CHOKEPOINT_CP_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define CP_SIGN_DOMAIN "chokepoint-audit-checkpoint-v1"
#define CP_SIGN_TS_LEN 27
#define CP_SIGN_MSG_LEN (sizeof(CP_SIGN_DOMAIN) + 8 + 32 + CP_SIGN_TS_LEN + 8)
#define CP_SIG_LEN 64
#define CP_KEY_ID_LEN 8

struct cp_key;

/*
 * Load an Ed25519 private key (PEM, PKCS#8 "PRIVATE KEY", unencrypted: what
 * `chokepointctl audit keygen` and `openssl genpkey -algorithm ed25519`
 * write). 0, or -errno with err filled (missing file, not PEM, encrypted,
 * another key type). A key file readable by group or others is accepted
 * with warn filled (warn[0] == '\0' otherwise).
 */
int cp_key_load_private(const char *path, struct cp_key **out, char *err, size_t errlen,
			char *warn, size_t warnlen);
/* Load an Ed25519 public key (PEM "PUBLIC KEY"). 0 or -errno with err. */
int cp_key_load_public(const char *path, struct cp_key **out, char *err, size_t errlen);
void cp_key_free(struct cp_key *k);

const uint8_t *cp_key_id(const struct cp_key *k);          /* CP_KEY_ID_LEN bytes */
const char *cp_key_id_hex(const struct cp_key *k);         /* 16 hex digits */

/* The signed message of a checkpoint (CP_SIGN_MSG_LEN bytes into out). */
void cp_sign_message(uint8_t out[CP_SIGN_MSG_LEN], uint64_t seq, const uint8_t head[32],
		     const char ts[CP_SIGN_TS_LEN], const uint8_t key_id[CP_KEY_ID_LEN]);

/* Sign len bytes with a private key. 0 or -EIO. */
int cp_sign(const struct cp_key *k, const void *msg, size_t len, uint8_t sig[CP_SIG_LEN]);
/* 0 when sig is k's signature over msg, -EBADMSG when not, -EIO on failure. */
int cp_sign_verify(const struct cp_key *k, const void *msg, size_t len,
		   const uint8_t sig[CP_SIG_LEN]);

/*
 * Generate a key pair: PREFIX.key (PKCS#8 PEM, mode 0600) and PREFIX.pub
 * (SubjectPublicKeyInfo PEM, 0644). Refuses to overwrite either file.
 * 0 or -errno with err; the key id (16 hex + NUL) into id_hex.
 */
int cp_sign_keygen(const char *prefix, char id_hex[2 * CP_KEY_ID_LEN + 1], char *err,
		   size_t errlen);

#endif /* CHOKEPOINT_CP_SIGN_H */
