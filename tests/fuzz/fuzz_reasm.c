/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_reasm.c: libFuzzer harness for dp_reasm. The input is a script:
 *   u16 cap (1..512), u32 base_seq, then ops:
 *     u8 op: bit 7 = absolute sequence (u32 follows), else a u16 offset
 *            relative to base - 64 follows; bit 6 = flip one data byte
 *     u8 len, then up to len data bytes (the stream byte at each offset
 *            is (offset * 13) & 0xff unless the input supplies it)
 * Every add is compared with a byte-at-a-time reference model.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dp_reasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)
#define MAXCAP 512

struct model {
	uint8_t buf[MAXCAP], have[MAXCAP];
	uint32_t contig, high, conflict_off;
	int conflict, ooo, overflow, before;
};

static enum dp_reasm_res
model_add(struct model *m, uint32_t cap, uint32_t off, const uint8_t *d, uint32_t len)
{
	int newb = 0, conf = 0, clip = 0, first = 1;

	if (len == 0)
		return DP_RA_DUP;
	for (uint32_t k = 0; k < len; k++) {
		uint32_t o = off + k;   /* wraps like sequence numbers */

		if (o >= 0x80000000u && (off >= 0x80000000u)) {
			m->before = 1;
			clip = 1;
			continue;
		}
		if (o >= cap) {
			m->overflow = 1;
			clip = 1;
			continue;
		}
		if (first) {
			if (o > m->contig)
				m->ooo = 1;
			first = 0;
		}
		if (m->have[o]) {
			if (m->buf[o] != d[k]) {
				if (!m->conflict)
					m->conflict_off = o;
				m->conflict = 1;
				conf = 1;
			}
		} else {
			m->have[o] = 1;
			m->buf[o] = d[k];
			newb = 1;
		}
		if (o + 1 > m->high)
			m->high = o + 1;
	}
	while (m->contig < cap && m->have[m->contig])
		m->contig++;
	if (conf)
		return DP_RA_CONFLICT;
	if (clip)
		return DP_RA_OUT_OF_WINDOW;
	return newb ? DP_RA_NEW : DP_RA_DUP;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model m;
	struct dp_reasm r;
	uint8_t *mem, seg[256];
	uint32_t cap, base;
	size_t i = 6;

	if (size < 6)
		return 0;
	cap = 1 + (((uint32_t)data[0] << 8 | data[1]) % MAXCAP);
	base = (uint32_t)data[2] << 24 | (uint32_t)data[3] << 16 |
	       (uint32_t)data[4] << 8 | data[5];
	mem = malloc(dp_reasm_mem_size(cap));   /* exact size for ASan */
	if (mem == NULL)
		return 0;
	memset(&m, 0, sizeof(m));
	dp_reasm_init(&r, mem, cap, base);
	while (i + 2 <= size) {
		uint8_t op = data[i++];
		uint32_t seq, off, len;
		enum dp_reasm_res got, want;

		if (op & 0x80) {
			if (i + 4 > size)
				break;
			seq = (uint32_t)data[i] << 24 | (uint32_t)data[i + 1] << 16 |
			      (uint32_t)data[i + 2] << 8 | data[i + 3];
			i += 4;
		} else {
			if (i + 2 > size)
				break;
			seq = base - 64 + ((uint32_t)data[i] << 8 | data[i + 1]) % (cap + 128);
			i += 2;
		}
		if (i >= size)
			break;
		len = data[i++];
		off = seq - base;
		for (uint32_t k = 0; k < len; k++)
			seg[k] = (uint8_t)((off + k) * 13);
		if ((op & 0x40) && len)
			seg[op % len] ^= 0x01;
		/* the model only understands offsets within +-2^31 of base */
		want = model_add(&m, cap, off, seg, len);
		got = dp_reasm_add(&r, seq, seg, len);
		CHECK(got == want);
		CHECK(r.contig == m.contig && r.high == m.high);
		CHECK(r.conflict == m.conflict && r.ooo == m.ooo);
		CHECK(r.overflow == m.overflow && r.before_base == m.before);
		CHECK(!m.conflict || r.conflict_off == m.conflict_off);
		CHECK(r.contig <= cap && r.high <= cap);
	}
	for (uint32_t b = 0; b < cap; b++) {
		CHECK(dp_reasm_has(&r, b) == m.have[b]);
		CHECK(!m.have[b] || r.buf[b] == m.buf[b]);
	}
	/* the contiguous prefix is exactly the true stream unless someone lied */
	if (!m.conflict)
		for (uint32_t b = 0; b < r.contig; b++)
			CHECK(r.buf[b] == m.buf[b]);
	free(mem);
	return 0;
}
