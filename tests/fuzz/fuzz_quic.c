/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_quic.c: a sequence of datagrams fed into one QUIC flow state.
 *
 * Input: records of  op (1 byte) | len (2 bytes, big-endian) | data[len].
 *   op & 3 == 0  data is a client datagram, fed as is
 *   op & 3 == 1  data is a server datagram (Version Negotiation, Retry, ...)
 *   op & 3 == 2  data is the plaintext frames of a client Initial, sealed
 *                here (v2 when op & 4, packet number op >> 4) so the fuzzer
 *                reaches the frame parser, the CRYPTO reassembly and the
 *                ClientHello parser behind the AEAD
 *   op & 3 == 3  data[0] = k: data[1..1+k) sealed as in 2, the rest of data
 *                appended raw in the same datagram (coalesced packets)
 * Every sealed packet uses one fixed client DCID, so the keys agree. As the
 * dataplane must, a client datagram that quic_new_connection() flags on a
 * decided flow resets it and is decided anew; one it does not flag on a flow
 * whose hello is complete goes through quic_verify_client(), which must
 * store nothing. Server datagrams also go through quic_server_past_hello().
 * Invariants checked after every datagram: reassembly counters within the
 * bound, a final result stays final, an OK result carries a sane hello.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "quic.h"
#include "tls.h"

#define CAP 16384

static const uint8_t fuzz_dcid[8] = { 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08 };
static const uint8_t fuzz_scid[4] = { 0xc1, 0xc2, 0xc3, 0xc4 };

static struct quic_ctx *ctx;
static struct quic_keys keys_v1, keys_v2;
static uint8_t rbuf[CAP];
static uint8_t rbm[QUIC_BITMAP_BYTES(CAP)];
static uint8_t dgram[QUIC_MAX_DATAGRAM];

static void
init_once(void)
{
	if (ctx != NULL)
		return;
	ctx = quic_ctx_new();
	if (ctx == NULL ||
	    quic_initial_keys(ctx, QUIC_V1, fuzz_dcid, sizeof(fuzz_dcid), 0, &keys_v1) != 0 ||
	    quic_initial_keys(ctx, QUIC_V2, fuzz_dcid, sizeof(fuzz_dcid), 0, &keys_v2) != 0)
		abort();
}

/* The dataplane's rule: an unchecked hello on a decided flow is decided anew. */
static enum quic_result
redecide(struct quic_flow *f, const uint8_t *d, size_t len, enum quic_result prev)
{
	if (prev != QUIC_NEED_MORE && quic_new_connection(ctx, f, d, len)) {
		quic_flow_reset(f);
		if (f->have_keys || f->contig != 0 || f->result != QUIC_NEED_MORE)
			abort();
		return QUIC_NEED_MORE;
	}
	if (prev == QUIC_OK) {
		/* the dataplane's verification of a decided hello: reads, stores nothing */
		uint32_t contig = f->contig, high = f->high;
		enum quic_result v = quic_verify_client(ctx, f, d, len);

		if ((v != QUIC_NEED_MORE && v != QUIC_CONFLICT && v != QUIC_MALFORMED) ||
		    f->contig != contig || f->high != high || f->result != QUIC_OK)
			abort();
	}
	return prev;
}

static void
check(const struct quic_flow *f, enum quic_result r, enum quic_result prev,
      const struct tls_hello *h)
{
	if (f->contig > f->cap || f->high > f->cap || f->parsed_at > f->contig)
		abort();
	if ((unsigned)r >= QUIC_N_RESULTS)
		abort();
	if (prev != QUIC_NEED_MORE && r != prev)
		abort();                /* a final result must stay */
	if (r == QUIC_OK && prev != QUIC_OK &&
	    (h->sni_len > TLS_SNI_MAX || h->alpn_len > TLS_ALPN_MAX || f->contig == 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct quic_flow f;
	struct tls_hello hello;
	size_t off = 0;

	init_once();
	if (quic_flow_init(&f, rbuf, rbm, CAP) != 0)
		abort();
	while (size - off >= 3) {
		uint8_t op = data[off];
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
		const uint8_t *d = data + off + 3;
		enum quic_result prev = (enum quic_result)f.result, r;
		const struct quic_keys *k = (op & 4) ? &keys_v2 : &keys_v1;
		uint32_t ver = (op & 4) ? QUIC_V2 : QUIC_V1;
		size_t n, raw;
		long pl;

		off += 3;
		if (len > size - off)
			len = size - off;
		off += len;
		switch (op & 3) {
		case 0:
			/* an exact-size copy so that reads past the datagram are seen */
			{
				uint8_t *copy = malloc(len ? len : 1);

				if (copy == NULL)
					abort();
				memcpy(copy, d, len);
				prev = redecide(&f, copy, len, prev);
				r = quic_feed_client(ctx, &f, copy, len, &hello);
				free(copy);
			}
			check(&f, r, prev, &hello);
			break;
		case 1:
			{
				uint8_t *copy = malloc(len ? len : 1);

				if (copy == NULL)
					abort();
				memcpy(copy, d, len);
				if ((unsigned)quic_server_past_hello(copy, len) > 1)
					abort();
				quic_feed_server(ctx, &f, copy, len);
				free(copy);
			}
			break;
		case 2:
		case 3:
			n = len;
			raw = 0;
			if ((op & 3) == 3) {
				if (len == 0)
					break;
				n = d[0] < len - 1 ? d[0] : len - 1;
				raw = len - 1 - n;
				d++;
			}
			if (n < 4)
				break;          /* the builder needs a sample */
			pl = quic_build_initial(ctx, ver, k, fuzz_dcid, sizeof(fuzz_dcid),
						fuzz_scid, sizeof(fuzz_scid), NULL, 0,
						op >> 4, 4, d, n, dgram, sizeof(dgram));
			if (pl < 0 || (size_t)pl + raw > sizeof(dgram))
				break;
			memcpy(dgram + pl, d + n, raw);
			{
				size_t dl = (size_t)pl + raw;
				uint8_t *copy = malloc(dl);

				if (copy == NULL)
					abort();
				memcpy(copy, dgram, dl);
				prev = redecide(&f, copy, dl, prev);
				r = quic_feed_client(ctx, &f, copy, dl, &hello);
				free(copy);
			}
			check(&f, r, prev, &hello);
			break;
		}
	}
	return 0;
}
