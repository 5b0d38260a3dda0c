/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sha256.h: one-shot SHA-256 (FIPS 180-4) of a short buffer, for JA4's two
 * digests per ClientHello. No allocation, no library state: OpenSSL's
 * EVP_Digest costs a context allocation, a provider dispatch and a free per
 * call, more than the two or three blocks a JA4 list takes. Uses the x86
 * SHA extensions when the CPU has them (checked once, at load), else a
 * portable implementation; both are checked against OpenSSL in
 * tests/unit/test_sha256.c.
 */
#ifndef CHOKEPOINT_SHA256_H
#define CHOKEPOINT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define CP_SHA256_LEN 32

/* out = SHA-256(data[0..len)), with the fastest implementation this CPU has. */
void cp_sha256(const void *data, size_t len, uint8_t out[CP_SHA256_LEN]);

/* The portable implementation alone (tests, CPUs without SHA extensions). */
void cp_sha256_generic(const void *data, size_t len, uint8_t out[CP_SHA256_LEN]);

/* 1 if cp_sha256 uses the x86 SHA extensions. */
int cp_sha256_accelerated(void);

#endif /* CHOKEPOINT_SHA256_H */
