/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_sha256.c: sha256.c (both implementations: the SHA-extension one when
 * this CPU has it, and the portable one) against the FIPS 180-4 examples
 * and against OpenSSL's EVP SHA-256 at every length from 0 to 1,100 bytes
 * (every padding case: tail of 0..63 bytes, one or two final blocks) and
 * every start alignment, over pseudo-random bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "sha256.h"

static void
hex(const uint8_t *md, char *out)
{
	for (int i = 0; i < CP_SHA256_LEN; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void
check_known(void (*fn)(const void *, size_t, uint8_t *), const char *msg, const char *want)
{
	uint8_t md[CP_SHA256_LEN];
	char got[2 * CP_SHA256_LEN + 1];

	fn(msg, strlen(msg), md);
	hex(md, got);
	assert_string_equal(got, want);
}

/* FIPS 180-4 / NIST CSRC examples: empty, "abc", the two-block 448-bit message */
static void
test_known_answers(void **state)
{
	static const char *const msg[] = {
		"",
		"abc",
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	};
	static const char *const want[] = {
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(msg) / sizeof(msg[0]); i++) {
		check_known(cp_sha256, msg[i], want[i]);
		check_known(cp_sha256_generic, msg[i], want[i]);
	}
}

static uint64_t
next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* every length 0..1100 at every alignment 0..15: both implementations == OpenSSL */
static void
test_against_openssl(void **state)
{
	static uint8_t buf[1100 + 16];
	uint8_t want[CP_SHA256_LEN], got[CP_SHA256_LEN], gen[CP_SHA256_LEN];
	unsigned int wlen = 0;
	uint64_t r = 0x9e3779b97f4a7c15ull;
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);

	(void)state;
	assert_non_null(md);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)next_rand(&r);
	for (size_t len = 0; len <= 1100; len++) {
		for (size_t al = 0; al < 16; al++) {
			assert_int_equal(EVP_Digest(buf + al, len, want, &wlen, md, NULL), 1);
			assert_int_equal(wlen, CP_SHA256_LEN);
			cp_sha256(buf + al, len, got);
			cp_sha256_generic(buf + al, len, gen);
			if (memcmp(got, want, sizeof(want)) != 0 ||
			    memcmp(gen, want, sizeof(want)) != 0)
				fail_msg("SHA-256 differs from OpenSSL at length %zu, alignment %zu "
					 "(accelerated %d: %s, portable: %s)", len, al,
					 cp_sha256_accelerated(),
					 memcmp(got, want, sizeof(want)) ? "wrong" : "right",
					 memcmp(gen, want, sizeof(want)) ? "wrong" : "right");
		}
	}
	EVP_MD_free(md);
	print_message("cp_sha256 uses the %s implementation on this CPU\n",
		      cp_sha256_accelerated() ? "SHA-extension" : "portable");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_against_openssl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
