/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_sign.c: Ed25519 key files, checkpoint message, sign and verify
 * (OpenSSL 3 EVP only). See cp_sign.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cp_sign.h"
#include "cp_util.h"

struct cp_key {
	EVP_PKEY *pkey;
	int is_private;
	uint8_t id[CP_KEY_ID_LEN];
	char id_hex[2 * CP_KEY_ID_LEN + 1];
};

/* the last OpenSSL error as text ("" when none) */
static const char *
ossl_err(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	buf[0] = '\0';
	if (e != 0)
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/* never prompt: an encrypted key fails with a clear message */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	int *asked = u;

	*asked = 1;
	return 0;
}

static const char *
key_type_name(const EVP_PKEY *p)
{
	switch (EVP_PKEY_get_base_id(p)) {
	case EVP_PKEY_RSA:
		return "an RSA key";
	case EVP_PKEY_EC:
		return "an EC (ECDSA) key";
	case EVP_PKEY_ED448:
		return "an Ed448 key";
	case EVP_PKEY_X25519:
		return "an X25519 key";
	case EVP_PKEY_DSA:
		return "a DSA key";
	default:
		return "not an Ed25519 key";
	}
}

static int
finish_key(struct cp_key *k, const char *path, char *err, size_t errlen)
{
	uint8_t raw[32], h[32];
	size_t rl = sizeof(raw);
	unsigned int hl = 0;

	if (EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_ED25519) {
		snprintf(err, errlen, "%s: %s; the audit signing key must be Ed25519 "
			 "(chokepointctl audit keygen, or openssl genpkey -algorithm ed25519)",
			 path, key_type_name(k->pkey));
		return -EINVAL;
	}
	if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &rl) != 1 || rl != 32 ||
	    EVP_Digest(raw, rl, h, &hl, EVP_sha256(), NULL) != 1 || hl != 32) {
		snprintf(err, errlen, "%s: cannot read the public key", path);
		return -EIO;
	}
	memcpy(k->id, h, CP_KEY_ID_LEN);
	cp_hex(k->id, CP_KEY_ID_LEN, k->id_hex);
	return 0;
}

static int
load(const char *path, int priv, struct cp_key **out, char *err, size_t errlen,
     char *warn, size_t warnlen)
{
	struct cp_key *k;
	struct stat st;
	char oe[256];
	int asked = 0, rc;
	BIO *b;

	*out = NULL;
	if (warn != NULL && warnlen > 0)
		warn[0] = '\0';
	if (stat(path, &st) != 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -EINVAL;
	}
	if (priv && (st.st_mode & 077) != 0 && warn != NULL)
		snprintf(warn, warnlen,
			 "%s: private key is readable by group or others (mode %03o): chmod 600 it",
			 path, (unsigned)(st.st_mode & 0777));
	b = BIO_new_file(path, "r");
	if (b == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, ossl_err(oe, sizeof(oe)));
		return -EIO;
	}
	k = calloc(1, sizeof(*k));
	if (k == NULL) {
		BIO_free(b);
		return -ENOMEM;
	}
	k->is_private = priv;
	k->pkey = priv ? PEM_read_bio_PrivateKey(b, NULL, no_passphrase, &asked) :
			 PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	if (k->pkey == NULL) {
		ossl_err(oe, sizeof(oe));
		if (asked)
			snprintf(err, errlen, "%s: the key is encrypted; use an unencrypted PKCS#8 key "
				 "(kept 0600)", path);
		else
			snprintf(err, errlen, "%s: not a PEM %s (%s)", path,
				 priv ? "private key (PKCS#8 \"PRIVATE KEY\")" : "public key (\"PUBLIC KEY\")",
				 oe);
		free(k);
		return -EINVAL;
	}
	rc = finish_key(k, path, err, errlen);
	if (rc < 0) {
		cp_key_free(k);
		return rc;
	}
	*out = k;
	return 0;
}

int
cp_key_load_private(const char *path, struct cp_key **out, char *err, size_t errlen,
		    char *warn, size_t warnlen)
{
	return load(path, 1, out, err, errlen, warn, warnlen);
}

int
cp_key_load_public(const char *path, struct cp_key **out, char *err, size_t errlen)
{
	return load(path, 0, out, err, errlen, NULL, 0);
}

void
cp_key_free(struct cp_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

const uint8_t *
cp_key_id(const struct cp_key *k)
{
	return k->id;
}

const char *
cp_key_id_hex(const struct cp_key *k)
{
	return k->id_hex;
}

void
cp_sign_message(uint8_t out[CP_SIGN_MSG_LEN], uint64_t seq, const uint8_t head[32],
		const char ts[CP_SIGN_TS_LEN], const uint8_t key_id[CP_KEY_ID_LEN])
{
	uint8_t *p = out;

	memcpy(p, CP_SIGN_DOMAIN, sizeof(CP_SIGN_DOMAIN));   /* NUL included */
	p += sizeof(CP_SIGN_DOMAIN);
	for (int i = 7; i >= 0; i--)
		*p++ = (uint8_t)(seq >> (8 * i));
	memcpy(p, head, 32);
	p += 32;
	memcpy(p, ts, CP_SIGN_TS_LEN);
	p += CP_SIGN_TS_LEN;
	memcpy(p, key_id, CP_KEY_ID_LEN);
}

int
cp_sign(const struct cp_key *k, const void *msg, size_t len, uint8_t sig[CP_SIG_LEN])
{
	EVP_MD_CTX *ctx;
	size_t sl = CP_SIG_LEN;
	int ok;

	if (!k->is_private)
		return -EINVAL;
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		return -ENOMEM;
	/* Ed25519: no digest, one shot (no streaming Update in OpenSSL 3.0) */
	ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	     EVP_DigestSign(ctx, sig, &sl, msg, len) == 1 && sl == CP_SIG_LEN;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok ? 0 : -EIO;
}

int
cp_sign_verify(const struct cp_key *k, const void *msg, size_t len,
	       const uint8_t sig[CP_SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int r;

	if (ctx == NULL)
		return -ENOMEM;
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) != 1) {
		EVP_MD_CTX_free(ctx);
		ERR_clear_error();
		return -EIO;
	}
	r = EVP_DigestVerify(ctx, sig, CP_SIG_LEN, msg, len);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return r == 1 ? 0 : -EBADMSG;
}

/* Write with PEM writer fn into a new file (O_EXCL) of mode. */
static int
write_new(const char *path, mode_t mode, EVP_PKEY *p, int priv, char *err, size_t errlen)
{
	char oe[256];
	FILE *f;
	int fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: %s%s", path, strerror(e),
			 e == EEXIST ? " (not overwritten: move it away first)" : "");
		return -e;
	}
	/* the umask may have cleared bits: the mode is exactly what was asked */
	if (fchmod(fd, mode) != 0) {
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -EIO;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(path);
		return -ENOMEM;
	}
	ok = priv ? PEM_write_PrivateKey(f, p, NULL, NULL, 0, NULL, NULL) :
		    PEM_write_PUBKEY(f, p);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (ok != 1) {
		snprintf(err, errlen, "%s: cannot write the key: %s", path, ossl_err(oe, sizeof(oe)));
		unlink(path);
		return -EIO;
	}
	return 0;
}

int
cp_sign_keygen(const char *prefix, char id_hex[2 * CP_KEY_ID_LEN + 1], char *err,
	       size_t errlen)
{
	struct cp_key k = { 0 };
	char kpath[4096], ppath[4096];
	int rc;

	if (snprintf(kpath, sizeof(kpath), "%s.key", prefix) >= (int)sizeof(kpath) ||
	    snprintf(ppath, sizeof(ppath), "%s.pub", prefix) >= (int)sizeof(ppath)) {
		snprintf(err, errlen, "%s: path too long", prefix);
		return -ENAMETOOLONG;
	}
	if (access(ppath, F_OK) == 0) {
		snprintf(err, errlen, "%s: exists (not overwritten: move it away first)", ppath);
		return -EEXIST;
	}
	k.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k.pkey == NULL) {
		snprintf(err, errlen, "Ed25519 key generation failed");
		return -EIO;
	}
	k.is_private = 1;
	rc = finish_key(&k, prefix, err, errlen);
	if (rc == 0)
		rc = write_new(kpath, 0600, k.pkey, 1, err, errlen);
	if (rc == 0) {
		rc = write_new(ppath, 0644, k.pkey, 0, err, errlen);
		if (rc < 0)
			unlink(kpath);
	}
	if (rc == 0)
		memcpy(id_hex, k.id_hex, sizeof(k.id_hex));
	EVP_PKEY_free(k.pkey);
	return rc;
}
