/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sha256.c: one-shot SHA-256 (see sha256.h). Written from FIPS 180-4 and
 * Intel's description of the SHA extensions (sha256rnds2 works on the state
 * as the register pair ABEF / CDGH; sha256msg1/msg2 compute the message
 * schedule four words at a time).
 */
#include <stdint.h>
#include <string.h>

#include "sha256.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define SHA256_X86 1
#endif

typedef void (*sha256_blocks_fn)(uint32_t st[8], const uint8_t *p, size_t nblocks);

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

static const uint32_t H0[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
	0x5be0cd19,
};

static inline uint32_t
ror32(uint32_t x, unsigned int n)
{
	return (x >> n) | (x << (32 - n));
}

static inline uint32_t
load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
blocks_generic(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
	uint32_t w[64], a, b, c, d, e, f, g, h, t1, t2;
	unsigned int t;

	for (; nblocks > 0; nblocks--, p += 64) {
		for (t = 0; t < 16; t++)
			w[t] = load_be32(p + 4 * t);
		for (t = 16; t < 64; t++) {
			uint32_t s0 = ror32(w[t - 15], 7) ^ ror32(w[t - 15], 18) ^ (w[t - 15] >> 3);
			uint32_t s1 = ror32(w[t - 2], 17) ^ ror32(w[t - 2], 19) ^ (w[t - 2] >> 10);

			w[t] = w[t - 16] + s0 + w[t - 7] + s1;
		}
		a = st[0], b = st[1], c = st[2], d = st[3];
		e = st[4], f = st[5], g = st[6], h = st[7];
		for (t = 0; t < 64; t++) {
			t1 = h + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) +
			     K[t] + w[t];
			t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) +
			     ((a & b) ^ (a & c) ^ (b & c));
			h = g;
			g = f;
			f = e;
			e = d + t1;
			d = c;
			c = b;
			b = a;
			a = t1 + t2;
		}
		st[0] += a, st[1] += b, st[2] += c, st[3] += d;
		st[4] += e, st[5] += f, st[6] += g, st[7] += h;
	}
}

#ifdef SHA256_X86
/*
 * Four rounds: msg holds W[4g..4g+3]; sha256rnds2 does two rounds with the
 * low two words of its third operand (W + K), the high two are shifted down.
 */
#define SHA_NI_ROUNDS4(abef, cdgh, msg, g) do {                                     \
	__m128i wk_ = _mm_add_epi32((msg), _mm_loadu_si128((const __m128i *)&K[4 * (g)])); \
	(cdgh) = _mm_sha256rnds2_epu32((cdgh), (abef), wk_);                          \
	wk_ = _mm_shuffle_epi32(wk_, 0x0e);                                           \
	(abef) = _mm_sha256rnds2_epu32((abef), (cdgh), wk_);                          \
} while (0)

/* W[4g..4g+3] from the four groups before it (m0 = g-4 .. m3 = g-1), into m0 */
#define SHA_NI_SCHED(m0, m1, m2, m3) do {                                           \
	(m0) = _mm_sha256msg1_epu32((m0), (m1));                                      \
	(m0) = _mm_add_epi32((m0), _mm_alignr_epi8((m3), (m2), 4));                   \
	(m0) = _mm_sha256msg2_epu32((m0), (m3));                                      \
} while (0)

__attribute__((target("sha,sse4.1,ssse3")))
static void
blocks_shani(uint32_t st[8], const uint8_t *p, size_t nblocks)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bll, 0x0405060700010203ll);
	__m128i abef, cdgh, t, abef0, cdgh0, m0, m1, m2, m3;
	unsigned int g;

	/* st[0..3] = A B C D, st[4..7] = E F G H, word 0 lowest */
	t = _mm_loadu_si128((const __m128i *)&st[0]);          /* D C B A */
	cdgh = _mm_loadu_si128((const __m128i *)&st[4]);       /* H G F E */
	t = _mm_shuffle_epi32(t, 0xb1);                         /* C D A B */
	cdgh = _mm_shuffle_epi32(cdgh, 0x1b);                   /* E F G H */
	abef = _mm_alignr_epi8(t, cdgh, 8);                     /* A B E F */
	cdgh = _mm_blend_epi16(cdgh, t, 0xf0);                  /* C D G H */

	for (; nblocks > 0; nblocks--, p += 64) {
		abef0 = abef;
		cdgh0 = cdgh;
		m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), bswap);
		m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
		m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
		m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
		SHA_NI_ROUNDS4(abef, cdgh, m0, 0);
		SHA_NI_ROUNDS4(abef, cdgh, m1, 1);
		SHA_NI_ROUNDS4(abef, cdgh, m2, 2);
		SHA_NI_ROUNDS4(abef, cdgh, m3, 3);
		for (g = 4; g < 16; g += 4) {
			SHA_NI_SCHED(m0, m1, m2, m3);
			SHA_NI_ROUNDS4(abef, cdgh, m0, g);
			SHA_NI_SCHED(m1, m2, m3, m0);
			SHA_NI_ROUNDS4(abef, cdgh, m1, g + 1);
			SHA_NI_SCHED(m2, m3, m0, m1);
			SHA_NI_ROUNDS4(abef, cdgh, m2, g + 2);
			SHA_NI_SCHED(m3, m0, m1, m2);
			SHA_NI_ROUNDS4(abef, cdgh, m3, g + 3);
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}

	t = _mm_shuffle_epi32(abef, 0x1b);                      /* F E B A */
	cdgh = _mm_shuffle_epi32(cdgh, 0xb1);                   /* D C H G */
	abef = _mm_blend_epi16(t, cdgh, 0xf0);                  /* D C B A */
	cdgh = _mm_alignr_epi8(cdgh, t, 8);                     /* H G F E */
	_mm_storeu_si128((__m128i *)&st[0], abef);
	_mm_storeu_si128((__m128i *)&st[4], cdgh);
}

static int
cpu_has_sha_ni(void)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3))
		return 0;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (b & bit_SHA) != 0;
}
#endif /* SHA256_X86 */

static sha256_blocks_fn blocks_best = blocks_generic;

/* once at load: cpuid may trap to the hypervisor, far too slow per digest */
__attribute__((constructor))
static void
sha256_pick(void)
{
#ifdef SHA256_X86
	if (cpu_has_sha_ni())
		blocks_best = blocks_shani;
#endif
}

static void
sha256_run(sha256_blocks_fn blocks, const void *data, size_t len, uint8_t out[CP_SHA256_LEN])
{
	const uint8_t *p = data;
	size_t full = len / 64, rest = len % 64;
	uint8_t tail[128];
	uint64_t bits = (uint64_t)len << 3;
	size_t tlen = rest < 56 ? 64 : 128;
	uint32_t st[8];
	unsigned int i;

	memcpy(st, H0, sizeof(st));
	if (full > 0)
		blocks(st, p, full);
	memcpy(tail, p + full * 64, rest);
	tail[rest] = 0x80;
	memset(tail + rest + 1, 0, tlen - rest - 1 - 8);
	for (i = 0; i < 8; i++)
		tail[tlen - 1 - i] = (uint8_t)(bits >> (8 * i));
	blocks(st, tail, tlen / 64);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(st[i] >> 24);
		out[4 * i + 1] = (uint8_t)(st[i] >> 16);
		out[4 * i + 2] = (uint8_t)(st[i] >> 8);
		out[4 * i + 3] = (uint8_t)st[i];
	}
}

void
cp_sha256(const void *data, size_t len, uint8_t out[CP_SHA256_LEN])
{
	sha256_run(blocks_best, data, len, out);
}

void
cp_sha256_generic(const void *data, size_t len, uint8_t out[CP_SHA256_LEN])
{
	sha256_run(blocks_generic, data, len, out);
}

int
cp_sha256_accelerated(void)
{
	return blocks_best != blocks_generic;
}
