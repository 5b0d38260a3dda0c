/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_pkt.c: the packet layer (dp_pkt) against
 *   - frames built by Scapy (tests/data/pkt/gen.py writes NAME.bin and
 *     frames.tsv, Scapy's own reading of each frame): every field, every
 *     truncation, every single-byte corruption;
 *   - checksums (Scapy's are the reference), RST and TFO builders (rebuilt
 *     frames re-decoded and checked), the flow key and hash, pcap headers;
 *   - the external capture corpus (../shared/corpus/external, read with
 *     libpcap): every TCP/UDP flow tshark lists in truth.tsv must come out
 *     of dp_decode with the same tuple, VLAN ids and PPPoE framing.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pcap/pcap.h>

#include "dp_pkt.h"

#define MAX_FRAMES 64
#define MAX_FRAME 2048

struct frame {
	char name[48];
	int link;
	int result;
	int family, l4proto;
	char src[64], dst[64];
	unsigned sport, dport;
	char vlans[32];
	unsigned l3_off, l4_off, l4_hdr_len, payload_off, payload_len, ip_len, ttl;
	unsigned flags;
	uint32_t seq, ack;
	unsigned window;
	char icmp[16];
	int frag_first, pppoe;
	uint8_t data[MAX_FRAME];
	size_t len;
};

static struct frame frames[MAX_FRAMES];
static int n_frames;

static const char *const result_names[] = {
	[DP_DEC_OK] = "OK",
	[DP_DEC_NON_IP] = "NON_IP",
	[DP_DEC_TRUNCATED] = "TRUNCATED",
	[DP_DEC_BAD_IP] = "BAD_IP",
	[DP_DEC_FRAGMENT] = "FRAGMENT",
	[DP_DEC_EXT_CHAIN] = "EXT_CHAIN",
	[DP_DEC_UNSUPPORTED_LINK] = "UNSUPPORTED_LINK",
	[DP_DEC_BAD_L4] = "BAD_L4",
};

static int
result_of(const char *s)
{
	for (int i = 0; i < DP_DEC_N_RESULTS; i++)
		if (strcmp(result_names[i], s) == 0)
			return i;
	return -1;
}

static const char *
data_dir(void)
{
	static char dir[4096];
	const char *src = getenv("CHOKEPOINT_SRC");

	snprintf(dir, sizeof(dir), "%s/tests/data/pkt", src ? src : ".");
	return dir;
}

static int
load_frames(void **state)
{
	char path[4200], line[1024];
	FILE *f;

	(void)state;
	if (n_frames)
		return 0;
	snprintf(path, sizeof(path), "%s/frames.tsv", data_dir());
	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (fgets(line, sizeof(line), f) == NULL) {     /* header */
		fclose(f);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL && n_frames < MAX_FRAMES) {
		struct frame *fr = &frames[n_frames];
		char res[32];
		FILE *b;

		if (sscanf(line, "%47s %d %31s %d %d %63s %63s %u %u %31s %u %u %u %u %u %u %u %u %u %u %u %15s %d %d",
			   fr->name, &fr->link, res, &fr->family, &fr->l4proto, fr->src, fr->dst,
			   &fr->sport, &fr->dport, fr->vlans, &fr->l3_off, &fr->l4_off,
			   &fr->l4_hdr_len, &fr->payload_off, &fr->payload_len, &fr->ip_len,
			   &fr->ttl, &fr->flags, &fr->seq, &fr->ack, &fr->window, fr->icmp,
			   &fr->frag_first, &fr->pppoe) != 24) {
			fprintf(stderr, "frames.tsv: bad line: %s", line);
			fclose(f);
			return -1;
		}
		fr->result = result_of(res);
		snprintf(path, sizeof(path), "%s/%s.bin", data_dir(), fr->name);
		b = fopen(path, "rb");
		if (b == NULL) {
			fprintf(stderr, "%s: %s\n", path, strerror(errno));
			fclose(f);
			return -1;
		}
		fr->len = fread(fr->data, 1, sizeof(fr->data), b);
		fclose(b);
		n_frames++;
	}
	fclose(f);
	return n_frames > 30 ? 0 : -1;
}

static struct frame *
frame_named(const char *name)
{
	for (int i = 0; i < n_frames; i++)
		if (strcmp(frames[i].name, name) == 0)
			return &frames[i];
	fail_msg("no frame %s", name);
	return NULL;
}

static void
addr_str(const struct dp_pkt *p, const uint8_t *a, char *out, size_t n)
{
	inet_ntop(p->family == 4 ? AF_INET : AF_INET6, a, out, (socklen_t)n);
}

static void
vlan_str(const struct dp_pkt *p, char *out, size_t n)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < p->n_vlans; i++)
		o += (size_t)snprintf(out + o, n - o, "%s%u", i ? "," : "", p->vlan[i]);
	if (p->n_vlans == 0)
		snprintf(out, n, "-");
}

/*
 * dp_decode_fast (the worker's inline common case) gives what
 * dp_decode_flags gives: the same result and the same struct, byte for byte
 * (both start from a zeroed struct, padding included). Garbage in *q first,
 * so a field the fast pass forgot would show.
 */
static enum dp_decode_result
decode_both(const uint8_t *buf, size_t len, int link, unsigned flags, struct dp_pkt *p)
{
	enum dp_decode_result r, rq;
	struct dp_pkt q;

	r = dp_decode_flags(buf, len, (enum dp_link)link, flags, p);
	memset(&q, 0xa5, sizeof(q));
	rq = dp_decode_fast(buf, len, (enum dp_link)link, flags, &q);
	if (rq != r || memcmp(&q, p, sizeof(q)) != 0)
		fail_msg("dp_decode_fast differs from dp_decode_flags (%d vs %d, len %zu, link %d, "
			 "flags %#x)", rq, r, len, link, flags);
	return r;
}

/* Decode from an exact-size heap copy so ASan sees any read past len. */
static enum dp_decode_result
decode_exact(const uint8_t *buf, size_t len, int link, unsigned flags, struct dp_pkt *p)
{
	uint8_t *copy = malloc(len ? len : 1);
	enum dp_decode_result r;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	r = decode_both(copy, len, link, flags, p);
	free(copy);
	return r;
}

/* ------------------------------------------------------ Scapy frames */

static void
check_frame(const struct frame *fr)
{
	struct dp_pkt p;
	char s[64];
	int r = decode_exact(fr->data, fr->len, fr->link, 0, &p);

	if (r != fr->result)
		fail_msg("%s: result %s, Scapy frame says %s", fr->name,
			 r >= 0 && r < DP_DEC_N_RESULTS ? result_names[r] : "?",
			 result_names[fr->result]);
	vlan_str(&p, s, sizeof(s));
	assert_string_equal(s, fr->vlans);
	assert_int_equal(p.link, fr->link);
	if (r == DP_DEC_NON_IP || r == DP_DEC_UNSUPPORTED_LINK || r == DP_DEC_TRUNCATED)
		return;
	assert_int_equal(p.family, fr->family);
	addr_str(&p, p.src, s, sizeof(s));
	assert_string_equal(s, fr->src);
	addr_str(&p, p.dst, s, sizeof(s));
	assert_string_equal(s, fr->dst);
	assert_int_equal(p.l3_off, fr->l3_off);
	assert_int_equal(p.l2_len, fr->l3_off);
	assert_int_equal(p.ip_len, fr->ip_len);
	assert_int_equal(p.ttl, fr->ttl);
	assert_int_equal(p.pppoe, fr->pppoe);
	assert_int_equal(p.ethertype, fr->family == 4 ? 0x0800 : 0x86dd);
	assert_int_equal(p.l4proto, fr->l4proto);
	if (r == DP_DEC_EXT_CHAIN)
		return;
	if (r == DP_DEC_FRAGMENT) {
		assert_int_equal(p.frag_first, fr->frag_first);
		assert_int_equal(p.l4_off, fr->l4_off);
		return;
	}
	assert_int_equal(p.l4_off, fr->l4_off);
	assert_int_equal(p.l3_len, fr->l4_off - fr->l3_off);
	assert_int_equal(p.l4_hdr_len, fr->l4_hdr_len);
	assert_int_equal(p.payload_off, fr->payload_off);
	assert_int_equal(p.payload_len, fr->payload_len);
	assert_int_equal(p.sport, fr->sport);
	assert_int_equal(p.dport, fr->dport);
	if (p.l4proto == 6) {
		assert_int_equal(p.tcp_flags, fr->flags);
		assert_int_equal(p.seq, fr->seq);
		assert_int_equal(p.ack, fr->ack);
		assert_int_equal(p.tcp_window, fr->window);
	}
	if (p.l4proto == 1 || p.l4proto == 58) {
		snprintf(s, sizeof(s), "%u/%u", p.icmp_type, p.icmp_code);
		assert_string_equal(s, fr->icmp);
	}
}

static void
test_frames_decode(void **state)
{
	(void)state;
	for (int i = 0; i < n_frames; i++)
		check_frame(&frames[i]);
}

/* The fields a truncated frame may only reproduce, never change. */
static void
assert_same_decode(const struct dp_pkt *a, const struct dp_pkt *b, const char *name, size_t cut)
{
	if (a->family != b->family || a->l4proto != b->l4proto ||
	    memcmp(a->src, b->src, 16) || memcmp(a->dst, b->dst, 16) ||
	    a->sport != b->sport || a->dport != b->dport || a->seq != b->seq ||
	    a->ack != b->ack || a->tcp_flags != b->tcp_flags || a->ip_len != b->ip_len ||
	    a->l4_off != b->l4_off || a->payload_off != b->payload_off ||
	    a->payload_len != b->payload_len || a->n_vlans != b->n_vlans)
		fail_msg("%s cut at %zu: decoded OK with different fields", name, cut);
}

static void
test_every_truncation(void **state)
{
	(void)state;
	for (int i = 0; i < n_frames; i++) {
		const struct frame *fr = &frames[i];
		struct dp_pkt full, p;
		enum dp_decode_result rf = dp_decode(fr->data, fr->len, fr->link, &full);

		for (size_t cut = 0; cut < fr->len; cut++) {
			enum dp_decode_result r = decode_exact(fr->data, cut, fr->link, 0, &p);

			assert_true(r >= 0 && r < DP_DEC_N_RESULTS);
			if (r != DP_DEC_OK)
				continue;
			/* only link padding may be cut from a frame that decodes */
			if (rf != DP_DEC_OK || cut < (size_t)full.l3_off + full.ip_len)
				fail_msg("%s cut at %zu (of %zu) decodes OK", fr->name, cut, fr->len);
			assert_same_decode(&p, &full, fr->name, cut);
		}
	}
}

/* Invariants of any OK decode: everything it points at is inside the buffer. */
static void
assert_sane(const struct dp_pkt *p, const uint8_t *buf, size_t len)
{
	assert_true(p->family == 4 || p->family == 6);
	assert_true(p->n_vlans <= DP_MAX_VLANS);
	assert_true((size_t)p->l3_off + p->ip_len <= len);
	assert_true(p->l3_len <= p->ip_len);
	assert_int_equal(p->l4_off, p->l3_off + p->l3_len);
	assert_int_equal(p->payload_off, p->l4_off + p->l4_hdr_len);
	assert_true((size_t)p->payload_off + p->payload_len <= (size_t)p->l3_off + p->ip_len);
	(void)dp_l4_cksum_ok(buf, p);
}

static void
test_every_byte_corrupted(void **state)
{
	static const uint8_t flips[] = {0xff, 0x01, 0x80, 0x0f, 0x40};
	unsigned ok = 0, bad = 0;

	(void)state;
	for (int i = 0; i < n_frames; i++) {
		const struct frame *fr = &frames[i];

		for (size_t pos = 0; pos < fr->len; pos++)
			for (size_t k = 0; k < sizeof(flips); k++) {
				uint8_t *b = malloc(fr->len);
				struct dp_pkt p;
				enum dp_decode_result r;

				assert_non_null(b);
				memcpy(b, fr->data, fr->len);
				b[pos] ^= flips[k];
				r = decode_both(b, fr->len, fr->link, 0, &p);
				assert_true(r >= 0 && r < DP_DEC_N_RESULTS);
				if (r == DP_DEC_OK) {
					assert_sane(&p, b, fr->len);
					ok++;
				} else {
					bad++;
				}
				free(b);
			}
	}
	/* both outcomes occur: the corruption really reaches the decoder */
	assert_true(ok > 1000 && bad > 1000);
}

/* Crafted malformed cases, one per distinct result. */
static void
test_malformed_results(void **state)
{
	struct frame *fr;
	uint8_t b[MAX_FRAME];
	struct dp_pkt p;

	(void)state;
	fr = frame_named("raw_v4");
	memcpy(b, fr->data, fr->len);
	/* TCP data offset 4 */
	b[20 + 12] = 0x40;
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_RAW, &p), DP_DEC_BAD_L4);
	/* data offset 15 (60 bytes) past the segment: lengths disagree */
	b[20 + 12] = 0xf0;
	assert_int_equal(dp_decode(b, 20 + 40, DP_LINK_RAW, &p), DP_DEC_TRUNCATED);
	/* IHL 4 */
	memcpy(b, fr->data, fr->len);
	b[0] = 0x44;
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_RAW, &p), DP_DEC_BAD_IP);
	/* version 5 */
	b[0] = 0x55;
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_RAW, &p), DP_DEC_BAD_IP);
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_IPV4, &p), DP_DEC_BAD_IP);
	/* IPv4 bytes on the IPv6 link type */
	b[0] = 0x45;
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_IPV6, &p), DP_DEC_BAD_IP);
	/* total length below the header (checksum fixed so only the length is bad) */
	memcpy(b, fr->data, fr->len);
	b[2] = 0;
	b[3] = 19;
	b[10] = b[11] = 0;
	{
		struct dp_pkt q = { .family = 4, .l3_off = 0, .l3_len = 20 };

		dp_fix_cksums(b, &q);
	}
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_RAW, &p), DP_DEC_BAD_IP);
	/* unknown link type */
	assert_int_equal(dp_decode(fr->data, fr->len, (enum dp_link)147, &p),
			 DP_DEC_UNSUPPORTED_LINK);
	/* DLT_RAW numbers of the BSDs decode as raw */
	assert_int_equal(dp_decode(fr->data, fr->len, (enum dp_link)12, &p), DP_DEC_OK);
	assert_int_equal(dp_decode(fr->data, fr->len, (enum dp_link)14, &p), DP_DEC_OK);
	/* empty buffers */
	assert_int_equal(dp_decode(fr->data, 0, DP_LINK_RAW, &p), DP_DEC_TRUNCATED);
	assert_int_equal(dp_decode(fr->data, 0, DP_LINK_ETHERNET, &p), DP_DEC_TRUNCATED);

	/* UDP length 7, and UDP length beyond the IP payload */
	fr = frame_named("eth_v6_udp_padded");
	memcpy(b, fr->data, fr->len);
	b[54 + 4] = 0;
	b[54 + 5] = 7;
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_ETHERNET, &p), DP_DEC_BAD_L4);
	b[54 + 5] = 10;
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_ETHERNET, &p), DP_DEC_TRUNCATED);

	/* IPv6: an extension header we do not walk (Mobility, 135) */
	fr = frame_named("raw_v6");
	memcpy(b, fr->data, fr->len);
	b[6] = 135;
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_RAW, &p), DP_DEC_EXT_CHAIN);
	assert_int_equal(p.l4proto, 135);
	/* payload length beyond the buffer */
	memcpy(b, fr->data, fr->len);
	b[5] += 1;
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_RAW, &p), DP_DEC_TRUNCATED);
	/* No Next Header: no payload whatever follows */
	memcpy(b, fr->data, fr->len);
	b[6] = 59;
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_RAW, &p), DP_DEC_OK);
	assert_int_equal(p.l4proto, 59);
	assert_int_equal(p.payload_len, 0);
	/* raw link, version nibble neither 4 nor 6 */
	b[0] = 0x50;
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_RAW, &p), DP_DEC_BAD_IP);
}

/* ---------------------------------------------------------- checksums */

static void
test_checksums(void **state)
{
	unsigned checked = 0;

	(void)state;
	for (int i = 0; i < n_frames; i++) {
		const struct frame *fr = &frames[i];
		uint8_t b[MAX_FRAME];
		struct dp_pkt p;

		if (fr->result != DP_DEC_OK || (fr->l4proto != 6 && fr->l4proto != 17))
			continue;
		memcpy(b, fr->data, fr->len);
		assert_int_equal(dp_decode(b, fr->len, fr->link, &p), DP_DEC_OK);
		if (!dp_l4_cksum_ok(b, &p))
			fail_msg("%s: Scapy's checksum does not verify", fr->name);
		/* recomputing gives Scapy's bytes exactly (IPv4 header and L4) */
		dp_fix_cksums(b, &p);
		assert_memory_equal(b, fr->data, fr->len);
		/* a flipped payload or header byte is caught, and fixed */
		b[p.payload_len ? p.payload_off + p.payload_len - 1 : p.l4_off + 14] ^= 0x5a;
		assert_int_equal(dp_decode(b, fr->len, fr->link, &p), DP_DEC_OK);
		assert_false(dp_l4_cksum_ok(b, &p));
		dp_fix_cksums(b, &p);
		assert_true(dp_l4_cksum_ok(b, &p));
		checked++;
	}
	assert_true(checked >= 25);
}

static void
test_ip_cksum_and_replay_flags(void **state)
{
	struct frame *fr = frame_named("eth_v4_syn");
	uint8_t b[MAX_FRAME];
	struct dp_pkt p;

	(void)state;
	memcpy(b, fr->data, fr->len);
	b[14 + 10] ^= 0x01;             /* IPv4 header checksum */
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_ETHERNET, &p), DP_DEC_BAD_IP);
	assert_int_equal(dp_decode_flags(b, fr->len, DP_LINK_ETHERNET, DP_DECODE_NO_IP_CKSUM, &p),
			 DP_DEC_OK);
	/* the NIC said the header checksum is good: not summed again */
	assert_int_equal(dp_decode_flags(b, fr->len, DP_LINK_ETHERNET, DP_DECODE_IP_CKSUM_GOOD,
					 &p), DP_DEC_OK);
	/* every single-bit error in the header fails the software check (IHL 5) */
	for (unsigned int bit = 0; bit < 20 * 8; bit++) {
		memcpy(b, fr->data, fr->len);
		if (bit / 8 == 0 || bit / 8 == 2 || bit / 8 == 3)
			continue;       /* version/IHL and total length fail for other reasons */
		b[14 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (dp_decode(b, fr->len, DP_LINK_ETHERNET, &p) != DP_DEC_BAD_IP)
			fail_msg("header bit %u flipped: not BAD_IP", bit);
	}
	memcpy(b, fr->data, fr->len);
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_ETHERNET, &p), DP_DEC_OK);
	b[14 + 10] = b[14 + 11] = 0;    /* left to the NIC */
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_ETHERNET, &p), DP_DEC_BAD_IP);
	assert_int_equal(dp_decode_flags(b, fr->len, DP_LINK_ETHERNET, DP_DECODE_REPLAY, &p),
			 DP_DEC_OK);
	assert_true(dp_l4_cksum_ok(b, &p));
	/* total length 0 (TSO capture): the frame's length with DP_DECODE_TSO_LEN0 */
	memcpy(b, fr->data, fr->len);
	b[16] = b[17] = 0;
	assert_int_equal(dp_decode_flags(b, fr->len, DP_LINK_ETHERNET, DP_DECODE_NO_IP_CKSUM, &p),
			 DP_DEC_BAD_IP);
	assert_int_equal(dp_decode_flags(b, fr->len, DP_LINK_ETHERNET, DP_DECODE_REPLAY, &p),
			 DP_DEC_OK);
	assert_int_equal(p.ip_len, fr->len - 14);
	assert_int_equal(p.seq, 1000);
}

static void
test_udp_zero_cksum(void **state)
{
	uint8_t b[MAX_FRAME];
	struct dp_pkt p;
	struct frame *fr;

	(void)state;
	/* IPv4: 0 = no checksum, accepted */
	fr = frame_named("eth_v4_udp_surplus");
	memcpy(b, fr->data, fr->len);
	b[34 + 6] = b[34 + 7] = 0;
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_ETHERNET, &p), DP_DEC_OK);
	assert_true(dp_l4_cksum_ok(b, &p));
	/* the checksum covers the UDP length, not the surplus bytes after it */
	dp_fix_cksums(b, &p);
	assert_memory_equal(b, fr->data, fr->len);
	/* IPv6: mandatory, 0 is rejected */
	fr = frame_named("eth_v6_udp_padded");
	memcpy(b, fr->data, fr->len);
	b[54 + 6] = b[54 + 7] = 0;
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_ETHERNET, &p), DP_DEC_OK);
	assert_false(dp_l4_cksum_ok(b, &p));
	dp_fix_cksums(b, &p);
	assert_true(dp_l4_cksum_ok(b, &p));
	assert_memory_equal(b, fr->data, fr->len);
	/* not TCP/UDP: nothing to verify */
	fr = frame_named("eth_v4_icmp");
	assert_int_equal(dp_decode(fr->data, fr->len, DP_LINK_ETHERNET, &p), DP_DEC_OK);
	assert_false(dp_l4_cksum_ok(fr->data, &p));
}

/* -------------------------------------------------------------- RST */

static void
check_rst(const char *name, int to_client)
{
	struct frame *fr = frame_named(name);
	struct dp_pkt p, r;
	uint8_t out[256];
	uint32_t seq = 0x01020304u + (uint32_t)to_client, ack = 0xfffffffeu;
	int n;
	size_t min;

	assert_int_equal(dp_decode(fr->data, fr->len, DP_LINK_ETHERNET, &p), DP_DEC_OK);
	min = (size_t)p.l2_len + (p.family == 4 ? 20 : 40) + 20;
	/* too small a buffer is refused, not overrun */
	assert_int_equal(dp_build_rst(fr->data, &p, to_client, seq, ack, out,
				      (min < 60 ? 60 : min) - 1), -1);
	n = dp_build_rst(fr->data, &p, to_client, seq, ack, out, sizeof(out));
	assert_int_equal(n, min < 60 ? 60 : min);
	assert_int_equal(dp_decode(out, (size_t)n, DP_LINK_ETHERNET, &r), DP_DEC_OK);
	/* L2: tags and PPPoE framing as received, MACs swapped toward the client */
	assert_int_equal(r.n_vlans, p.n_vlans);
	assert_memory_equal(r.vlan, p.vlan, sizeof(r.vlan));
	assert_int_equal(r.l2_len, p.l2_len);
	assert_int_equal(r.pppoe, p.pppoe);
	assert_memory_equal(out + 12, fr->data + 12, p.l2_len - 12 - (p.pppoe ? p.pppoe + 2 : 0));
	if (p.pppoe)
		assert_memory_equal(out + p.l2_len - p.pppoe, fr->data + p.l2_len - p.pppoe, p.pppoe);
	assert_memory_equal(out, fr->data + (to_client ? 6 : 0), 6);
	assert_memory_equal(out + 6, fr->data + (to_client ? 0 : 6), 6);
	/* L3/L4: addresses and ports swapped toward the client */
	assert_int_equal(r.family, p.family);
	assert_memory_equal(r.src, to_client ? p.dst : p.src, 16);
	assert_memory_equal(r.dst, to_client ? p.src : p.dst, 16);
	assert_int_equal(r.sport, to_client ? p.dport : p.sport);
	assert_int_equal(r.dport, to_client ? p.sport : p.dport);
	assert_int_equal(r.seq, seq);
	assert_int_equal(r.ack, ack);
	assert_int_equal(r.tcp_flags, DP_TCP_RST | DP_TCP_ACK);
	assert_int_equal(r.tcp_window, 0);
	assert_int_equal(r.l4_hdr_len, 20);
	assert_int_equal(r.payload_len, 0);
	assert_int_equal(r.ttl, 64);
	assert_int_equal(r.ip_len, (p.family == 4 ? 20 : 40) + 20);
	assert_true(dp_l4_cksum_ok(out, &r));   /* IPv4 header checksum: decode checked it */
	if (p.family == 4) {
		const uint8_t *ip = out + r.l3_off;

		assert_int_equal(ip[4] | ip[5], 0);     /* id 0 */
		assert_int_equal(ip[6], 0x40);          /* DF */
		assert_int_equal(ip[7], 0);
	}
	if (p.pppoe)    /* PPPoE length = PPP protocol + IP packet */
		assert_int_equal((out[r.l2_len - p.pppoe - 2] << 8) | out[r.l2_len - p.pppoe - 1],
				 p.pppoe + r.ip_len);
	/* link padding (if any) is zero */
	for (int i = r.l3_off + (int)r.ip_len; i < n; i++)
		assert_int_equal(out[i], 0);
}

static void
test_build_rst(void **state)
{
	static const char *const names[] = {
		"eth_v4_syn", "eth_qinq_v4_data", "eth_3vlan_v6_data", "eth_pppoe_v4",
		"eth_pppoe_pfc_v4", "eth_v6_ext_ok", "eth_v6_tfo",
	};
	struct dp_pkt p;
	uint8_t out[256];
	struct frame *fr;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		check_rst(names[i], 0);
		check_rst(names[i], 1);
	}
	/* not TCP, or not Ethernet: refused */
	fr = frame_named("eth_pppoe_v6_udp");
	assert_int_equal(dp_decode(fr->data, fr->len, DP_LINK_ETHERNET, &p), DP_DEC_OK);
	assert_int_equal(dp_build_rst(fr->data, &p, 0, 1, 2, out, sizeof(out)), -1);
	fr = frame_named("sll_v4");
	assert_int_equal(dp_decode(fr->data, fr->len, DP_LINK_LINUX_SLL, &p), DP_DEC_OK);
	assert_int_equal(dp_build_rst(fr->data, &p, 0, 1, 2, out, sizeof(out)), -1);
}

/* -------------------------------------------------------------- TFO */

static void
check_tfo(const char *name)
{
	struct frame *fr = frame_named(name);
	uint8_t b[MAX_FRAME], opts[64];
	struct dp_pkt p, q;
	int n, olen;

	memcpy(b, fr->data, fr->len);
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_ETHERNET, &p), DP_DEC_OK);
	assert_true(p.payload_len > 0);
	olen = p.l4_hdr_len - 20;
	memcpy(opts, b + p.l4_off + 20, (size_t)olen);
	n = dp_strip_syn_payload(b, fr->len, &p);
	assert_int_equal(n, p.payload_off);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(dp_decode(b, (size_t)n, DP_LINK_ETHERNET, &q), DP_DEC_OK);
	assert_int_equal(q.payload_len, 0);
	assert_int_equal(q.ip_len, p.ip_len);
	assert_int_equal(q.seq, fr->seq);
	assert_int_equal(q.tcp_flags, DP_TCP_SYN);
	assert_int_equal(q.l4_hdr_len, fr->l4_hdr_len);
	assert_true(dp_l4_cksum_ok(b, &q));
	/* kind 34 is gone (all its bytes NOP), every other option unchanged */
	for (int i = 0; i < olen;) {
		uint8_t kind = opts[i];

		if (kind == 0)
			break;
		if (kind == 1) {
			assert_int_equal(b[q.l4_off + 20 + i], 1);
			i++;
			continue;
		}
		for (int k = 0; k < opts[i + 1]; k++)
			assert_int_equal(b[q.l4_off + 20 + i + k], kind == 34 ? 1 : opts[i + k]);
		i += opts[i + 1];
	}
	assert_null(memchr(b + q.l4_off + 20, 34, (size_t)olen));
	/* a second strip finds no payload */
	assert_int_equal(dp_strip_syn_payload(b, (size_t)n, &q), -1);
}

static void
test_strip_syn_payload(void **state)
{
	struct frame *fr;
	uint8_t b[MAX_FRAME];
	struct dp_pkt p;

	(void)state;
	check_tfo("eth_v4_tfo");
	check_tfo("eth_v6_tfo");
	/* not a SYN: refused, untouched */
	fr = frame_named("eth_qinq_v4_data");
	memcpy(b, fr->data, fr->len);
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_ETHERNET, &p), DP_DEC_OK);
	assert_int_equal(dp_strip_syn_payload(b, fr->len, &p), -1);
	assert_memory_equal(b, fr->data, fr->len);
	/* a SYN without payload: refused */
	fr = frame_named("eth_v4_syn");
	memcpy(b, fr->data, fr->len);
	assert_int_equal(dp_decode(b, fr->len, DP_LINK_ETHERNET, &p), DP_DEC_OK);
	assert_int_equal(dp_strip_syn_payload(b, fr->len, &p), -1);
}

/* --------------------------------------------------------- flow key */

static void
test_flow_key_symmetry(void **state)
{
	unsigned checked = 0;

	(void)state;
	/* a packet and the RST toward its client are the two directions of a flow */
	for (int i = 0; i < n_frames; i++) {
		const struct frame *fr = &frames[i];
		struct dp_pkt p, r, s;
		struct dp_flow_key k1, k2, k3;
		uint8_t out[256];
		int a1, a2, a3, n;

		if (fr->result != DP_DEC_OK || fr->link != DP_LINK_ETHERNET || fr->l4proto != 6)
			continue;
		assert_int_equal(dp_decode(fr->data, fr->len, DP_LINK_ETHERNET, &p), DP_DEC_OK);
		n = dp_build_rst(fr->data, &p, 1, 1, 1, out, sizeof(out));
		assert_true(n > 0);
		assert_int_equal(dp_decode(out, (size_t)n, DP_LINK_ETHERNET, &r), DP_DEC_OK);
		dp_flow_key_make(&p, &k1, &a1);
		dp_flow_key_make(&r, &k2, &a2);
		assert_memory_equal(&k1, &k2, sizeof(k1));
		assert_int_equal(dp_flow_hash(&k1), dp_flow_hash(&k2));
		assert_int_not_equal(a1, a2);
		/* same direction (RST to the server): same key, same side */
		n = dp_build_rst(fr->data, &p, 0, 1, 1, out, sizeof(out));
		assert_int_equal(dp_decode(out, (size_t)n, DP_LINK_ETHERNET, &s), DP_DEC_OK);
		dp_flow_key_make(&s, &k3, &a3);
		assert_memory_equal(&k1, &k3, sizeof(k1));
		assert_int_equal(a1, a3);
		/* outermost VLAN, protocol, family; unused IPv4 bytes zero */
		assert_int_equal(k1.vlan, p.n_vlans ? p.vlan[0] : 0);
		assert_int_equal(k1.l4proto, 6);
		assert_int_equal(k1.family, p.family);
		if (p.family == 4) {
			static const uint8_t zero[12];

			assert_memory_equal(k1.a + 4, zero, 12);
			assert_memory_equal(k1.b + 4, zero, 12);
		}
		/* the lower endpoint is first */
		assert_true(memcmp(k1.a, k1.b, 16) < 0 ||
			    (memcmp(k1.a, k1.b, 16) == 0 && k1.pa <= k1.pb));
		checked++;
	}
	assert_true(checked >= 8);
}

/* The key as memcmp of the addresses orders it: the reference. */
static void
ref_key_make(const struct dp_pkt *p, struct dp_flow_key *key, int *a_is_src)
{
	size_t alen = p->family == 6 ? 16 : 4;
	int c;

	memset(key, 0, sizeof(*key));
	key->family = p->family;
	key->l4proto = p->l4proto;
	key->vlan = p->n_vlans ? p->vlan[0] : 0;
	key->gwlb_ep = p->gwlb_ep;
	key->gwlb_att = p->gwlb_att;
	c = memcmp(p->src, p->dst, alen);
	if (c == 0)
		c = (p->sport > p->dport) - (p->sport < p->dport);
	memcpy(key->a, c <= 0 ? p->src : p->dst, alen);
	memcpy(key->b, c <= 0 ? p->dst : p->src, alen);
	key->pa = c <= 0 ? p->sport : p->dport;
	key->pb = c <= 0 ? p->dport : p->sport;
	*a_is_src = c <= 0;
}

static void
test_flow_key_random(void **state)
{
	uint64_t x = 0x243f6a8885a308d3ull;

	(void)state;
	/* addresses that share long prefixes, differ in one byte, or are equal */
	for (unsigned int i = 0; i < 200000; i++) {
		struct dp_pkt p;
		struct dp_flow_key k, r;
		int a, ra;

		memset(&p, 0, sizeof(p));
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		p.family = (x >> 60) & 1 ? 6 : 4;
		p.l4proto = (x >> 59) & 1 ? 6 : 17;
		for (unsigned int j = 0; j < (p.family == 6 ? 16u : 4u); j++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			p.src[j] = (uint8_t)((x >> 33) & 3) * 0x55;
			p.dst[j] = (x >> 40) & 1 ? p.src[j] : (uint8_t)((x >> 41) & 3) * 0x55;
		}
		p.sport = (uint16_t)((x >> 20) & 3);
		p.dport = (uint16_t)((x >> 22) & 3);
		p.n_vlans = (x >> 24) & 1;
		p.vlan[0] = (uint16_t)(x >> 25) & 0xfff;
		p.gwlb_ep = (x >> 37) & 1 ? x : 0;
		p.gwlb_att = (x >> 38) & 1 ? ~x : 0;
		ref_key_make(&p, &r, &ra);
		memset(&k, 0xa5, sizeof(k));    /* stale bytes must all be overwritten */
		dp_flow_key_make(&p, &k, &a);
		assert_memory_equal(&k, &r, sizeof(k));
		assert_int_equal(a, ra);
	}
}

/* IPv4 header checksum of ip[0..20) written in place. */
static void
ip4_cksum_set(uint8_t *ip)
{
	uint32_t sum = 0;

	ip[10] = 0;
	ip[11] = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = (uint8_t)~sum;
}

/*
 * The L4 verification (dp_l4_cksum_ok, which sums long payloads 16 bytes a
 * step) against the checksums dp_fix_cksums writes (2 bytes a step), on
 * random TCP/IPv4 segments of every payload length 0..1460; a flipped byte
 * anywhere in the segment is caught.
 */
static void
test_l4_cksum_random(void **state)
{
	uint64_t x = 0xa4093822299f31d0ull;

#define NEXT() (x = x * 6364136223846793005ull + 1442695040888963407ull, x >> 11)

	(void)state;
	for (unsigned int n = 0; n <= 1460; n++) {
		uint8_t f[14 + 20 + 20 + 1460 + 8];
		uint8_t *ip = f + 14, *tcp = ip + 20;
		size_t len = 14 + 20 + 20 + n;
		struct dp_pkt p;
		size_t at;

		for (size_t j = 0; j < len; j++)
			f[j] = (uint8_t)(NEXT() >> 13);
		f[12] = 0x08;
		f[13] = 0x00;
		ip[0] = 0x45;
		ip[2] = (uint8_t)((40 + n) >> 8);
		ip[3] = (uint8_t)(40 + n);
		ip[6] = 0x40;
		ip[7] = 0;
		ip[9] = 6;
		tcp[12] = 5 << 4;
		ip4_cksum_set(ip);
		assert_int_equal(dp_decode(f, len, DP_LINK_ETHERNET, &p), DP_DEC_OK);
		assert_int_equal(p.payload_len, n);
		dp_fix_cksums(f, &p);
		if (!dp_l4_cksum_ok(f, &p))
			fail_msg("payload of %u bytes: a fixed checksum does not verify", n);
		at = 14 + 20 + (size_t)(NEXT() % (20 + n));
		f[at] ^= (uint8_t)(1 + NEXT() % 255);
		if (dp_l4_cksum_ok(f, &p))
			fail_msg("payload of %u bytes: byte %zu changed, still verifies", n, at);
	}
#undef NEXT
}

/*
 * dp_decode_fast against dp_decode_flags on 300,000 random frames near the
 * common case: Ethernet/IPv4/TCP or UDP with random lengths (total, IHL, TCP
 * offset, UDP length, buffer), fragment bits, VLAN tags, other ethertypes,
 * versions and protocols, checksums good or not, every flag set, other link
 * types. Both the inline OK path and the fall-backs must be taken many times.
 */
static void
test_decode_fast_random(void **state)
{
	static const unsigned flagsets[] = {
		0, DP_DECODE_REPLAY, DP_DECODE_IP_CKSUM_GOOD, DP_DECODE_NO_IP_CKSUM,
		DP_DECODE_TSO_LEN0,
	};
	static const int links[] = { DP_LINK_ETHERNET, DP_LINK_ETHERNET, DP_LINK_ETHERNET,
				     DP_LINK_RAW, DP_LINK_LINUX_SLL };
	uint64_t x = 0x13198a2e03707344ull;
	unsigned fast_ok = 0, other = 0;

	(void)state;
	for (unsigned int i = 0; i < 300000; i++) {
		uint8_t f[160], *ip = f + 14, *l4;
		size_t len;
		struct dp_pkt p;
		enum dp_decode_result r;
		unsigned flags;
		int link;
		uint64_t y;
		uint32_t tot;

#define NEXT() (x = x * 6364136223846793005ull + 1442695040888963407ull, x >> 11)
		for (size_t j = 0; j < sizeof(f); j++)
			f[j] = (uint8_t)(NEXT() >> 13);
		y = NEXT();
		f[12] = 0x08;
		f[13] = 0x00;
		if ((y & 31) == 0) {            /* another ethertype, or a VLAN tag */
			f[12] = (y >> 5) & 1 ? 0x81 : 0x86;
			f[13] = (y >> 5) & 1 ? 0x00 : 0xdd;
		}
		ip[0] = (y >> 6 & 15) == 0 ? (uint8_t)(NEXT() >> 20) : 0x45;
		ip[6] &= (y >> 10 & 7) == 0 ? 0xff : 0x80;  /* DF, reserved bit, or fragment */
		ip[7] = (y >> 10 & 7) == 0 ? ip[7] : 0;
		ip[9] = (y >> 13 & 7) == 0 ? (uint8_t)(NEXT() >> 17) : (y >> 16 & 1) ? 6 : 17;
		len = 14 + (size_t)(NEXT() % 130);
		tot = (y >> 17 & 7) == 0 ? (uint32_t)(NEXT() % 150) :
		      (uint32_t)(len - 14 - (NEXT() % 3 == 0 ? NEXT() % 8 : 0));
		ip[2] = (uint8_t)(tot >> 8);
		ip[3] = (uint8_t)tot;
		l4 = ip + 20;
		if ((y >> 20 & 3) != 0)         /* a plausible TCP offset / UDP length */
			l4[12] = (uint8_t)((5 + NEXT() % 4) << 4);
		if ((y >> 22 & 3) != 0 && tot >= 20) {
			uint32_t ul = tot - 20 - (uint32_t)(NEXT() % 4 == 0 ? NEXT() % 12 : 0);

			l4[4] = (uint8_t)(ul >> 8);
			l4[5] = (uint8_t)ul;
		}
		if ((y >> 24 & 7) != 0)
			ip4_cksum_set(ip);
		flags = flagsets[(y >> 27) % 5];
		link = links[(y >> 30) % 5];
		r = decode_exact(f, len, link, flags, &p);
		if (r == DP_DEC_OK && link == DP_LINK_ETHERNET && p.n_vlans == 0 &&
		    p.family == 4 && p.l3_len == 20 && (p.l4proto == 6 || p.l4proto == 17))
			fast_ok++;
		else
			other++;
#undef NEXT
	}
	assert_true(fast_ok > 30000);
	assert_true(other > 30000);
}

static void
test_flow_key_fields(void **state)
{
	struct dp_pkt p;
	struct dp_flow_key k1, k2;
	int a;

	(void)state;
	/* same address both ends: the ports decide, both directions agree */
	memset(&p, 0, sizeof(p));
	p.family = 4;
	p.l4proto = 17;
	memcpy(p.src, "\x7f\0\0\1", 4);
	memcpy(p.dst, "\x7f\0\0\1", 4);
	p.sport = 5000;
	p.dport = 53;
	dp_flow_key_make(&p, &k1, &a);
	assert_int_equal(a, 0);
	assert_int_equal(k1.pa, 53);
	p.sport = 53;
	p.dport = 5000;
	dp_flow_key_make(&p, &k2, &a);
	assert_int_equal(a, 1);
	assert_memory_equal(&k1, &k2, sizeof(k1));
	/* stale bytes past an IPv4 address never leak into the key */
	memset(p.src + 4, 0xee, 12);
	dp_flow_key_make(&p, &k2, NULL);
	assert_memory_equal(&k1, &k2, sizeof(k1));
	/* VLAN, protocol and ports each change the key and (here) the hash */
	p.n_vlans = 1;
	p.vlan[0] = 9;
	dp_flow_key_make(&p, &k2, NULL);
	assert_memory_not_equal(&k1, &k2, sizeof(k1));
	assert_int_not_equal(dp_flow_hash(&k1), dp_flow_hash(&k2));
	p.n_vlans = 0;
	p.l4proto = 6;
	dp_flow_key_make(&p, &k2, NULL);
	assert_int_not_equal(dp_flow_hash(&k1), dp_flow_hash(&k2));
	assert_int_equal(sizeof(struct dp_flow_key), 56);
	/* GENEVE: the GWLB endpoint and attachment ids each change the key and the hash */
	p.l4proto = 17;
	p.gwlb_ep = 0x0123456789abcdefull;
	dp_flow_key_make(&p, &k2, NULL);
	assert_memory_not_equal(&k1, &k2, sizeof(k1));
	assert_int_not_equal(dp_flow_hash(&k1), dp_flow_hash(&k2));
	p.gwlb_ep = 0;
	p.gwlb_att = 7;
	dp_flow_key_make(&p, &k2, NULL);
	assert_memory_not_equal(&k1, &k2, sizeof(k1));
	assert_int_not_equal(dp_flow_hash(&k1), dp_flow_hash(&k2));
	/* and both directions still agree */
	p.sport = 5000;
	p.dport = 53;
	dp_flow_key_make(&p, &k1, NULL);
	assert_memory_equal(&k1, &k2, sizeof(k1));
}

/* Owners spread evenly: 64k client ports to one server over 4 and 6 workers. */
static void
test_flow_hash_spread(void **state)
{
	struct dp_pkt p;
	struct dp_flow_key k;
	unsigned cnt4[4] = {0}, cnt6[6] = {0}, bits[32] = {0};
	const unsigned n = 65536;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.family = 4;
	p.l4proto = 6;
	memcpy(p.src, "\x0a\x01\x02\x03", 4);
	memcpy(p.dst, "\xcb\x00\x71\x07", 4);
	p.dport = 443;
	for (unsigned i = 0; i < n; i++) {
		uint32_t h;

		p.sport = (uint16_t)i;
		dp_flow_key_make(&p, &k, NULL);
		h = dp_flow_hash(&k);
		cnt4[dp_flow_owner(&k, 4)]++;
		cnt6[dp_flow_owner(&k, 6)]++;
		for (int b = 0; b < 32; b++)
			bits[b] += (h >> b) & 1;
	}
	for (int w = 0; w < 4; w++)
		assert_true(cnt4[w] > n / 4 * 95 / 100 && cnt4[w] < n / 4 * 105 / 100);
	for (int w = 0; w < 6; w++)
		assert_true(cnt6[w] > n / 6 * 95 / 100 && cnt6[w] < n / 6 * 105 / 100);
	for (int b = 0; b < 32; b++)            /* every output bit is used */
		assert_true(bits[b] > n * 45 / 100 && bits[b] < n * 55 / 100);
	assert_int_equal(dp_flow_owner(&k, 1), 0);
}

/* -------------------------------------------------------------- pcap */

static void
test_pcap_linktype(void **state)
{
	uint8_t h[24];

	(void)state;
	memset(h, 0, sizeof(h));
	memcpy(h, "\xd4\xc3\xb2\xa1", 4);               /* LE, microseconds */
	h[20] = 1;
	assert_int_equal(dp_pcap_linktype(h), 1);
	memcpy(h, "\x4d\x3c\xb2\xa1", 4);               /* LE, nanoseconds */
	h[20] = 0x14;
	h[21] = 0x01;                                   /* 276 = SLL2 */
	assert_int_equal(dp_pcap_linktype(h), 276);
	h[23] = 0x10 | 0x04;                            /* FCS bits set */
	assert_int_equal(dp_pcap_linktype(h), 276);
	memset(h + 20, 0, 4);
	memcpy(h, "\xa1\xb2\xc3\xd4", 4);               /* BE */
	h[23] = 101;
	assert_int_equal(dp_pcap_linktype(h), 101);
	memcpy(h, "\xa1\xb2\x3c\x4d", 4);               /* BE, nanoseconds */
	h[20] = 0x10;
	h[22] = 0;
	h[23] = 113;
	assert_int_equal(dp_pcap_linktype(h), 113);
	memcpy(h, "\x0a\x0d\x0d\x0a", 4);               /* pcapng */
	assert_int_equal(dp_pcap_linktype(h), -1);
	memset(h, 0, 4);
	assert_int_equal(dp_pcap_linktype(h), -1);
}

/* ------------------------------------------------ the external corpus */

struct cflow {
	char key[160];          /* "proto src sport dst dport" as sent */
	uint16_t vids[8];
	uint8_t n_vids, pppoe, n_pkts;
};

struct cfile {
	struct cflow *flows;
	size_t n, cap;
};

static const char *
corpus_dir(void)
{
	static char dir[4096];
	const char *src = getenv("CHOKEPOINT_SRC");

	snprintf(dir, sizeof(dir), "%s/../shared/corpus/external", src ? src : ".");
	return dir;
}

static struct cflow *
cflow_get(struct cfile *cf, const char *key)
{
	for (size_t i = 0; i < cf->n; i++)
		if (strcmp(cf->flows[i].key, key) == 0)
			return &cf->flows[i];
	if (cf->n == cf->cap) {
		cf->cap = cf->cap ? cf->cap * 2 : 64;
		cf->flows = realloc(cf->flows, cf->cap * sizeof(*cf->flows));
		assert_non_null(cf->flows);
	}
	memset(&cf->flows[cf->n], 0, sizeof(cf->flows[0]));
	snprintf(cf->flows[cf->n].key, sizeof(cf->flows[0].key), "%s", key);
	return &cf->flows[cf->n++];
}

/* Decode a whole capture; record every TCP/UDP flow it shows, both directions. */
static void
scan_pcap(const char *path, struct cfile *cf, unsigned *pkts, unsigned *ok)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *pc = pcap_open_offline(path, err);
	uint8_t hdr[24];
	FILE *f;
	int lt;

	if (pc == NULL)
		fail_msg("%s: %s", path, err);
	/* our header reader agrees with libpcap (DLT 12 is LINKTYPE_RAW 101) */
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fread(hdr, 1, 24, f), 24);
	fclose(f);
	lt = pcap_datalink(pc);
	assert_int_equal(dp_pcap_linktype(hdr), lt == 12 ? 101 : lt);
	while (pcap_next_ex(pc, &h, &d) == 1) {
		struct dp_pkt p;
		char a[64], b[64], key[160];
		enum dp_decode_result r;

		(*pkts)++;
		r = decode_exact(d, h->caplen, dp_pcap_linktype(hdr), DP_DECODE_REPLAY, &p);
		if (r != DP_DEC_OK)
			continue;
		(*ok)++;
		assert_sane(&p, d, h->caplen);
		if (p.l4proto != 6 && p.l4proto != 17)
			continue;
		addr_str(&p, p.src, a, sizeof(a));
		addr_str(&p, p.dst, b, sizeof(b));
		for (int dir = 0; dir < 2; dir++) {
			struct cflow *fl;

			snprintf(key, sizeof(key), "%s %s %u %s %u", p.l4proto == 6 ? "tcp" : "udp",
				 dir ? b : a, dir ? p.dport : p.sport, dir ? a : b,
				 dir ? p.sport : p.dport);
			fl = cflow_get(cf, key);
			for (int v = 0; v < p.n_vlans; v++) {
				int seen = 0;

				for (int k = 0; k < fl->n_vids; k++)
					seen |= fl->vids[k] == p.vlan[v];
				if (!seen && fl->n_vids < 8)
					fl->vids[fl->n_vids++] = p.vlan[v];
			}
			fl->pppoe |= p.pppoe;
			if (fl->n_pkts < 255)
				fl->n_pkts++;
		}
	}
	pcap_close(pc);
}

static int
note_has(const char *notes, const char *item)
{
	size_t n = strlen(item);

	for (const char *s = notes; (s = strstr(s, item)) != NULL; s += n)
		if ((s == notes || s[-1] == ';') && (s[n] == ';' || s[n] == '\0' ||
						     s[n] == '\n' || item[n - 1] == '='))
			return 1;
	return 0;
}

static void
test_corpus_truth(void **state)
{
	char path[4200], line[4096], cur[256] = "";
	struct cfile cf = {0};
	unsigned rows = 0, matched = 0, missed = 0, vlan_rows = 0, pppoe_rows = 0, files = 0;
	unsigned pkts = 0, ok = 0, by_link[300] = {0};
	FILE *t;

	(void)state;
	snprintf(path, sizeof(path), "%s/truth.tsv", corpus_dir());
	t = fopen(path, "r");
	if (t == NULL)
		fail_msg("%s: %s (the external corpus is ../shared relative to the repo)",
			 path, strerror(errno));
	assert_non_null(fgets(line, sizeof(line), t));
	while (fgets(line, sizeof(line), t) != NULL) {
		char *col[11], *save = NULL, *s = line, key[160];
		struct cflow *fl = NULL;
		int nc = 0;

		line[strcspn(line, "\n")] = '\0';
		for (char *tok; nc < 11 && (tok = strtok_r(s, "\t", &save)) != NULL; s = NULL)
			col[nc++] = tok;
		assert_int_equal(nc, 11);
		if (strcmp(col[0], cur) != 0) {
			char hdr[24];
			FILE *f;

			free(cf.flows);
			memset(&cf, 0, sizeof(cf));
			snprintf(cur, sizeof(cur), "%s", col[0]);
			snprintf(path, sizeof(path), "%s/pcap/%s", corpus_dir(), cur);
			scan_pcap(path, &cf, &pkts, &ok);
			f = fopen(path, "rb");
			assert_non_null(f);
			assert_int_equal(fread(hdr, 1, 24, f), 24);
			fclose(f);
			by_link[dp_pcap_linktype((uint8_t *)hdr) % 300]++;
			files++;
		}
		rows++;
		/* the inner flow of a GTP tunnel is not a flow of the outer packet */
		if (note_has(col[10], "tunnelled"))
			continue;
		snprintf(key, sizeof(key), "%s %s %s %s %s", col[1], col[2], col[3], col[4], col[5]);
		for (size_t i = 0; i < cf.n; i++)
			if (strcmp(cf.flows[i].key, key) == 0)
				fl = &cf.flows[i];
		if (fl == NULL) {
			static const char *const expected[] = {
				"ndpi-fuzz-2006-09-29-28586.pcap",      /* fuzzed bytes */
				"ndpi-ip_fragmented_garbage.pcap",      /* fragments only */
				"sv-ipv4-truncated.pcap",               /* cut short */
			};
			int ok_miss = 0;

			for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
				ok_miss |= strcmp(cur, expected[i]) == 0;
			if (!ok_miss)
				fail_msg("%s: truth flow \"%s\" not decoded", cur, key);
			missed++;
			continue;
		}
		matched++;
		{
			const char *v = strstr(col[10], "vlan=");

			if (v != NULL) {
				/* tshark's tag ids, outermost first, are the ids we saw */
				unsigned n = 0;

				for (v += 5; *v && *v != ';'; ) {
					unsigned id = (unsigned)strtoul(v, (char **)&v, 10);
					int seen = 0;

					for (int k = 0; k < fl->n_vids; k++)
						seen |= fl->vids[k] == id;
					if (!seen)
						fail_msg("%s: %s: VLAN %u not decoded", cur, key, id);
					n++;
					if (*v == ',')
						v++;
				}
				assert_int_equal(n, fl->n_vids);
				vlan_rows++;
			} else {
				assert_int_equal(fl->n_vids, 0);
			}
		}
		if (strstr(col[10], "encap=pppoes") != NULL) {
			assert_true(fl->pppoe);
			pppoe_rows++;
		}
	}
	fclose(t);
	free(cf.flows);
	printf("corpus: %u files, %u packets (%u decoded), %u truth rows, %u flows matched "
	       "(%u with VLANs, %u PPPoE); files by link: eth %u raw %u sll %u sll2 %u null %u ppp %u\n",
	       files, pkts, ok, rows, matched, vlan_rows, pppoe_rows, by_link[1], by_link[101],
	       by_link[113], by_link[276], by_link[0], by_link[9]);
	/*
	 * Flows tshark finds that dp_decode must not produce: it drops IP
	 * fragments and cut-short packets by design, and does not guess at
	 * fuzzed bytes.
	 */
	assert_int_equal(missed, 6);
	assert_true(files >= 100 && matched >= 900);
	assert_true(by_link[101] && by_link[113] && by_link[276] && by_link[0] && by_link[9]);
	assert_true(vlan_rows >= 5 && pppoe_rows >= 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_decode),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_every_byte_corrupted),
		cmocka_unit_test(test_decode_fast_random),
		cmocka_unit_test(test_malformed_results),
		cmocka_unit_test(test_checksums),
		cmocka_unit_test(test_ip_cksum_and_replay_flags),
		cmocka_unit_test(test_udp_zero_cksum),
		cmocka_unit_test(test_build_rst),
		cmocka_unit_test(test_strip_syn_payload),
		cmocka_unit_test(test_flow_key_symmetry),
		cmocka_unit_test(test_flow_key_fields),
		cmocka_unit_test(test_flow_key_random),
		cmocka_unit_test(test_l4_cksum_random),
		cmocka_unit_test(test_flow_hash_spread),
		cmocka_unit_test(test_pcap_linktype),
		cmocka_unit_test(test_corpus_truth),
	};

	return cmocka_run_group_tests(tests, load_frames, NULL);
}
