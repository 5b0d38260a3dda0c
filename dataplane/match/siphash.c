/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * siphash.c: SipHash-2-4 from the paper (section 2): the key splits into two
 * little-endian words k0, k1; the state v0..v3 starts as the key XORed with
 * "somepseudorandomlygeneratedbytes"; each 8-byte little-endian message word m
 * is absorbed as v3 ^= m, c = 2 SipRounds, v0 ^= m; the last word carries the
 * remaining bytes and, in its top byte, the message length mod 256; then
 * v2 ^= 0xff, d = 4 SipRounds, and the output is v0 ^ v1 ^ v2 ^ v3.
 */
#include <string.h>

#include "siphash.h"

static inline uint64_t
rotl64(uint64_t x, unsigned int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t
load_le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	       (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static inline void
sip_round(struct cpm_siphash *s)
{
	s->v0 += s->v1;
	s->v1 = rotl64(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl64(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl64(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl64(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl64(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl64(s->v2, 32);
}

static inline void
sip_absorb(struct cpm_siphash *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);       /* c = 2 compression rounds */
	sip_round(s);
	s->v0 ^= m;
}

void
cpm_siphash_init(struct cpm_siphash *s, const uint8_t key[CPM_SIPHASH_KEY_LEN])
{
	uint64_t k0 = load_le64(key);
	uint64_t k1 = load_le64(key + 8);

	s->v0 = k0 ^ UINT64_C(0x736f6d6570736575);
	s->v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
	s->v2 = k0 ^ UINT64_C(0x6c7967656e657261);
	s->v3 = k1 ^ UINT64_C(0x7465646279746573);
	s->tail = 0;
	s->total = 0;
	s->ntail = 0;
}

void
cpm_siphash_update(struct cpm_siphash *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->total += len;
	/* complete a pending partial word first */
	while (s->ntail != 0 && len > 0) {
		s->tail |= (uint64_t)*p++ << (8 * s->ntail);
		len--;
		if (++s->ntail == 8) {
			sip_absorb(s, s->tail);
			s->tail = 0;
			s->ntail = 0;
		}
	}
	while (len >= 8) {
		sip_absorb(s, load_le64(p));
		p += 8;
		len -= 8;
	}
	while (len > 0) {
		s->tail |= (uint64_t)*p++ << (8 * s->ntail);
		s->ntail++;
		len--;
	}
}

uint64_t
cpm_siphash_final(struct cpm_siphash *s)
{
	uint64_t b = s->tail | (s->total & 0xff) << 56;

	sip_absorb(s, b);
	s->v2 ^= 0xff;
	sip_round(s);       /* d = 4 finalisation rounds */
	sip_round(s);
	sip_round(s);
	sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

uint64_t
cpm_siphash24(const uint8_t key[CPM_SIPHASH_KEY_LEN], const void *data, size_t len)
{
	struct cpm_siphash s;

	cpm_siphash_init(&s, key);
	cpm_siphash_update(&s, data, len);
	return cpm_siphash_final(&s);
}

/* the first n (< 8) bytes at p, little-endian, the rest zero */
static inline uint64_t
load_le_part(const uint8_t *p, size_t n)
{
	uint64_t w = 0;

	switch (n) {
	case 7: w |= (uint64_t)p[6] << 48; /* fall through */
	case 6: w |= (uint64_t)p[5] << 40; /* fall through */
	case 5: w |= (uint64_t)p[4] << 32; /* fall through */
	case 4: w |= (uint64_t)p[3] << 24; /* fall through */
	case 3: w |= (uint64_t)p[2] << 16; /* fall through */
	case 2: w |= (uint64_t)p[1] << 8;  /* fall through */
	case 1: w |= (uint64_t)p[0];       /* fall through */
	default: break;
	}
	return w;
}

#define SIP_ROUND(v0, v1, v2, v3) do {                                      \
	(v0) += (v1); (v1) = rotl64((v1), 13); (v1) ^= (v0); (v0) = rotl64((v0), 32); \
	(v2) += (v3); (v3) = rotl64((v3), 16); (v3) ^= (v2);                    \
	(v0) += (v3); (v3) = rotl64((v3), 21); (v3) ^= (v0);                    \
	(v2) += (v1); (v1) = rotl64((v1), 17); (v1) ^= (v2); (v2) = rotl64((v2), 32); \
} while (0)

#define SIP_ABSORB(v0, v1, v2, v3, m) do {                                  \
	(v3) ^= (m);                                                            \
	SIP_ROUND(v0, v1, v2, v3);                                              \
	SIP_ROUND(v0, v1, v2, v3);                                              \
	(v0) ^= (m);                                                            \
} while (0)

uint64_t
cpm_siphash24_2(const uint8_t key[CPM_SIPHASH_KEY_LEN], uint8_t b0, uint8_t b1,
		const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v0 = k0 ^ UINT64_C(0x736f6d6570736575);
	uint64_t v1 = k1 ^ UINT64_C(0x646f72616e646f6d);
	uint64_t v2 = k0 ^ UINT64_C(0x6c7967656e657261);
	uint64_t v3 = k1 ^ UINT64_C(0x7465646279746573);
	uint64_t m = (uint64_t)b0 | (uint64_t)b1 << 8;
	uint64_t total = len + 2;

	if (len >= 6) {
		/* the first word: the two bytes and the data's first six */
		m |= load_le_part(p, 6) << 16;
		SIP_ABSORB(v0, v1, v2, v3, m);
		p += 6;
		len -= 6;
		for (; len >= 8; p += 8, len -= 8) {
			m = load_le64(p);
			SIP_ABSORB(v0, v1, v2, v3, m);
		}
		m = load_le_part(p, len);
	} else {
		m |= load_le_part(p, len) << 16;
	}
	m |= (total & 0xff) << 56;
	SIP_ABSORB(v0, v1, v2, v3, m);
	v2 ^= 0xff;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}
