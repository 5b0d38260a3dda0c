/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_dns.c: the DNS response parser against answers captured from real
 * resolvers (tests/data/dns, see its README: dnsmasq answers captured in
 * namespaces, and the DNS responses of the external corpus pcaps; the expected
 * names, addresses and TTLs are tshark's reading of the same packets), cut at
 * every offset, and against hand-built messages for compression loops, CNAME
 * chains and every malformation it must refuse.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"

#include "dns.h"

#define BUF_MAX 4096

struct fixture {
	const char *file;
	enum dns_result rc;
	const char *qname;
	uint16_t qtype;
	uint8_t rcode;
	uint8_t chain_len;
	const char *canon;
	const char *addrs;      /* comma-separated, in answer order */
	uint32_t ttl;           /* every address's TTL */
	uint16_t ignored;
};

static const struct fixture fixtures[] = {
	{ "dnsmasq-api-openai-com-a", DNS_OK, "api.openai.com", 1, 0, 0, "api.openai.com",
	  "10.253.0.1", 300, 0 },
	{ "dnsmasq-api-openai-com-aaaa", DNS_OK, "api.openai.com", 28, 0, 0, "api.openai.com",
	  "fd00:253::1", 300, 0 },
	/* the question in 0x20 mixed case; the answer's owner points at it */
	{ "dnsmasq-mixedcase-api-openai-com-a", DNS_OK, "api.openai.com", 1, 0, 0,
	  "api.openai.com", "10.253.0.1", 300, 0 },
	{ "dnsmasq-alias-example-test-a", DNS_OK, "alias.example.test", 1, 0, 1,
	  "target.example.test", "198.51.100.7", 300, 0 },
	{ "dnsmasq-alias-example-test-aaaa", DNS_OK, "alias.example.test", 28, 0, 1,
	  "target.example.test", "2001:db8::7", 300, 0 },
	{ "dnsmasq-chain3-example-test-a", DNS_OK, "chain3.example.test", 1, 0, 3,
	  "target.example.test", "198.51.100.7", 300, 0 },
	{ "dnsmasq-many-example-test-a", DNS_OK, "many.example.test", 1, 0, 0,
	  "many.example.test", "192.0.2.2,192.0.2.1,192.0.2.3", 300, 0 },
	{ "dnsmasq-nx-example-test-a", DNS_OK, "nx.example.test", 1, 3, 0, "nx.example.test",
	  "", 0, 0 },
	{ "arkime-curl-enabled-tls13-3", DNS_OK, "enabled.tls13.com", 1, 0, 0,
	  "enabled.tls13.com", "104.16.125.34,104.16.126.34", 188, 0 },
	{ "arkime-curl-enabled-tls13-4", DNS_OK, "enabled.tls13.com", 28, 0, 0,
	  "enabled.tls13.com", "2606:4700::6810:7d22,2606:4700::6810:7e22", 188, 0 },
	{ "ndpi-dns-1", DNS_OK, "www.l.google.com", 28, 0, 0, "www.l.google.com", "", 0, 0 },
	{ "ndpi-dns-5", DNS_OK, "e7.whatsapp.net", 1, 0, 0, "e7.whatsapp.net",
	  "169.45.219.235,169.47.40.142,169.45.248.121,108.168.176.234,169.45.248.189,"
	  "169.45.248.180,169.53.81.79,169.45.219.232", 491, 0 },
	/* DNSKEY answers (IP-fragmented, 1702 bytes): four records, no address */
	{ "ndpi-dns_fragmented-3", DNS_OK, "weberlab.de", 48, 0, 0, "weberlab.de", "", 0, 4 },
	/* AAAA + its RRSIG; the additional section's glue is never an answer */
	{ "ndpi-dns_fragmented-6", DNS_OK, "pa.weberlab.de", 28, 0, 0, "pa.weberlab.de",
	  "2001:470:1f0b:1024::2", 60, 1 },
	{ "ndpi-dns_fragmented-21", DNS_OK, "fg2-mgmt.weberlab.de", 28, 0, 0,
	  "fg2-mgmt.weberlab.de", "2001:470:1f0b:16b0::1", 60, 0 },
	/* two questions, the second a 300-byte name: refused before any answer */
	{ "ndpi-malformed_dns-2", DNS_UNSUPPORTED, "", 0, 0, 0, "", "", 0, 0 },
};
#define N_FIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

static size_t
load(const char *name, uint8_t *buf, size_t cap)
{
	char rel[512];

	snprintf(rel, sizeof(rel), "tests/data/dns/%s.bin", name);
	return fixture_read(rel, buf, cap);
}

static void
addr_str(const struct dns_addr *a, char *out, size_t cap)
{
	if (inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->addr, out, (socklen_t)cap) == NULL)
		fail_msg("inet_ntop");
}

static void
check_addrs(const char *file, const struct dns_response *r, const char *want, uint32_t ttl)
{
	char list[1024] = "", one[64];
	unsigned i;

	for (i = 0; i < r->n_addrs; i++) {
		addr_str(&r->addrs[i], one, sizeof(one));
		if (i > 0)
			strcat(list, ",");
		strcat(list, one);
		if (r->addrs[i].ttl != ttl)
			fail_msg("%s: address %s ttl %u, want %u", file, one, r->addrs[i].ttl, ttl);
	}
	if (strcmp(list, want) != 0)
		fail_msg("%s: addresses \"%s\", want \"%s\"", file, list, want);
}

/* every captured answer reads as tshark reads it */
static void
test_captured(void **state)
{
	static uint8_t buf[BUF_MAX];
	struct dns_response r;
	unsigned i;

	(void)state;
	for (i = 0; i < N_FIXTURES; i++) {
		const struct fixture *fx = &fixtures[i];
		size_t n = load(fx->file, buf, sizeof(buf));
		enum dns_result rc = dns_parse_response(buf, n, &r);

		if (rc != fx->rc)
			fail_msg("%s: %s, want %s", fx->file, dns_result_str(rc), dns_result_str(fx->rc));
		if (rc != DNS_OK)
			continue;
		if (strcmp(r.qname, fx->qname) != 0 || r.qname_len != strlen(fx->qname))
			fail_msg("%s: qname %s", fx->file, r.qname);
		if (r.qtype != fx->qtype || r.qclass != DNS_CLASS_IN || r.rcode != fx->rcode)
			fail_msg("%s: qtype %u qclass %u rcode %u", fx->file, r.qtype, r.qclass, r.rcode);
		if (r.chain_len != fx->chain_len || r.chain_cut)
			fail_msg("%s: chain %u cut %u", fx->file, r.chain_len, r.chain_cut);
		if (strcmp(r.canon, fx->canon) != 0 || r.canon_len != strlen(fx->canon))
			fail_msg("%s: canon %s", fx->file, r.canon);
		if (r.ignored != fx->ignored)
			fail_msg("%s: ignored %u, want %u", fx->file, r.ignored, fx->ignored);
		check_addrs(fx->file, &r, fx->addrs, fx->ttl);
		if (r.answers_end > n || r.answers_end < 12)
			fail_msg("%s: answers_end %u", fx->file, r.answers_end);
	}
}

/*
 * Every prefix shorter than the answer section is TRUNCATED; every longer
 * prefix (cut in the authority/additional sections) gives the same answers.
 */
static void
test_truncated_every_offset(void **state)
{
	static uint8_t buf[BUF_MAX];
	struct dns_response full, r;
	unsigned i;
	size_t cut, n;

	(void)state;
	for (i = 0; i < N_FIXTURES; i++) {
		if (fixtures[i].rc != DNS_OK)
			continue;
		n = load(fixtures[i].file, buf, sizeof(buf));
		assert_int_equal(dns_parse_response(buf, n, &full), DNS_OK);
		for (cut = 0; cut < n; cut++) {
			/* a copy of exactly cut bytes, so ASan sees any read past it */
			uint8_t *p = malloc(cut ? cut : 1);
			enum dns_result rc;

			assert_non_null(p);
			memcpy(p, buf, cut);
			rc = dns_parse_response(p, cut, &r);
			free(p);
			if (cut < full.answers_end && rc != DNS_TRUNCATED)
				fail_msg("%s cut at %zu of %u: %s, want truncated", fixtures[i].file,
					 cut, full.answers_end, dns_result_str(rc));
			if (cut >= full.answers_end &&
			    (rc != DNS_OK || r.n_addrs != full.n_addrs ||
			     memcmp(r.addrs, full.addrs, full.n_addrs * sizeof(r.addrs[0])) != 0))
				fail_msg("%s cut at %zu (after the answers): %s", fixtures[i].file, cut,
					 dns_result_str(rc));
		}
	}
}

/* ---- a small message builder for the hand-made cases ---- */

struct msg {
	uint8_t b[BUF_MAX];
	size_t n;
};

static void
put(struct msg *m, const void *p, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void
put16(struct msg *m, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(m, b, 2);
}

static void
put32(struct msg *m, uint32_t v)
{
	put16(m, (uint16_t)(v >> 16));
	put16(m, (uint16_t)v);
}

/* a name in wire form from dotted text, uncompressed */
static void
put_name(struct msg *m, const char *txt)
{
	const char *p = txt, *dot;
	uint8_t l;

	while (*p != '\0') {
		dot = strchr(p, '.');
		l = (uint8_t)(dot ? (size_t)(dot - p) : strlen(p));
		put(m, &l, 1);
		put(m, p, l);
		p += l;
		if (*p == '.')
			p++;
	}
	l = 0;
	put(m, &l, 1);
}

static void
put_ptr(struct msg *m, uint16_t off)
{
	put16(m, (uint16_t)(0xc000 | off));
}

/* header + question "name" type A, class IN; ancount given */
static void
start(struct msg *m, const char *qname, uint16_t ancount)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, 0x8180);       /* response, RD, RA, NOERROR */
	put16(m, 1);
	put16(m, ancount);
	put16(m, 0);
	put16(m, 0);
	put_name(m, qname);
	put16(m, DNS_TYPE_A);
	put16(m, DNS_CLASS_IN);
}

/* type, class IN, ttl, then rdata of len bytes */
static void
rr_tail(struct msg *m, uint16_t type, uint32_t ttl, const void *rdata, uint16_t len)
{
	put16(m, type);
	put16(m, DNS_CLASS_IN);
	put32(m, ttl);
	put16(m, len);
	put(m, rdata, len);
}

static void
rr_a(struct msg *m, const char *owner, uint32_t ttl, const char *ip)
{
	uint8_t a[4];

	assert_int_equal(inet_pton(AF_INET, ip, a), 1);
	put_name(m, owner);
	rr_tail(m, DNS_TYPE_A, ttl, a, 4);
}

static void
rr_cname(struct msg *m, const char *owner, uint32_t ttl, const char *target)
{
	struct msg t = { .n = 0 };

	put_name(&t, target);
	put_name(m, owner);
	rr_tail(m, DNS_TYPE_CNAME, ttl, t.b, (uint16_t)t.n);
}

static enum dns_result
parse(const struct msg *m, struct dns_response *r)
{
	return dns_parse_response(m->b, m->n, r);
}

/* compression pointers that loop, point forward, at themselves or into the header */
static void
test_compression_loops(void **state)
{
	struct dns_response r;
	struct msg m;
	size_t p1;

	(void)state;
	/* the question name is a pointer to itself */
	m.n = 0;
	put16(&m, 1); put16(&m, 0x8180); put16(&m, 1); put16(&m, 0); put16(&m, 0); put16(&m, 0);
	put_ptr(&m, 12);
	put16(&m, 1); put16(&m, 1);
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);

	/* an answer owner pointing at itself */
	start(&m, "a.test", 1);
	put_ptr(&m, (uint16_t)m.n);
	rr_tail(&m, DNS_TYPE_A, 60, "\x0a\x00\x00\x01", 4);
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);

	/* two names pointing at each other: "x" + ptr(B) at A, ptr(A) at B */
	start(&m, "a.test", 2);
	p1 = m.n;
	put(&m, "\x01x", 2);
	put_ptr(&m, (uint16_t)(p1 + 4 + 10 + 4));       /* forward, at the second owner */
	rr_tail(&m, DNS_TYPE_A, 60, "\x0a\x00\x00\x01", 4);
	put_ptr(&m, (uint16_t)p1);
	rr_tail(&m, DNS_TYPE_A, 60, "\x0a\x00\x00\x02", 4);
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);

	/* a label run that falls onto the pointer that led to it */
	start(&m, "a.test", 1);
	p1 = m.n;
	put(&m, "\x01y", 2);
	put_ptr(&m, (uint16_t)p1);       /* points at its own segment's start */
	rr_tail(&m, DNS_TYPE_A, 60, "\x0a\x00\x00\x01", 4);
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);

	/* a pointer into the header (offset 11, ARCOUNT's zero byte, would read as the root) */
	start(&m, "a.test", 1);
	put_ptr(&m, 11);
	rr_tail(&m, DNS_TYPE_A, 60, "\x0a\x00\x00\x01", 4);
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);

	/* a pointer past the end of the message */
	start(&m, "a.test", 1);
	put_ptr(&m, 0x3fff);
	rr_tail(&m, DNS_TYPE_A, 60, "\x0a\x00\x00\x01", 4);
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);

	/* the good form: a chain of backward pointers (suffix of a suffix) */
	start(&m, "www.a.test", 2);
	put(&m, "\x03" "api", 4);
	put_ptr(&m, 12);                  /* api.www.a.test */
	rr_tail(&m, DNS_TYPE_CNAME, 60, "\xc0\x10", 2);  /* -> a.test (offset 16) */
	put_ptr(&m, 12);
	rr_tail(&m, DNS_TYPE_A, 60, "\x0a\x00\x00\x09", 4);
	assert_int_equal(parse(&m, &r), DNS_OK);
	assert_string_equal(r.qname, "www.a.test");
	assert_int_equal(r.n_addrs, 1);
	assert_int_equal(r.chain_len, 0);        /* the CNAME's owner is api.www.a.test */
	assert_int_equal(r.ignored, 1);
}

/* CNAME chains: followed from the question, TTL the smallest on the path, bounded */
static void
test_cname_chains(void **state)
{
	struct dns_response r;
	struct msg m;
	char owner[32], target[32];
	int i;

	(void)state;
	/* out of order in the message; TTL 30 on the first link */
	start(&m, "api.openai.com", 3);
	rr_a(&m, "edge.cdn.test", 300, "203.0.113.5");
	rr_cname(&m, "mid.cdn.test", 600, "edge.cdn.test");
	rr_cname(&m, "API.OpenAI.com", 30, "mid.cdn.test");
	assert_int_equal(parse(&m, &r), DNS_OK);
	assert_int_equal(r.chain_len, 2);
	assert_string_equal(r.canon, "edge.cdn.test");
	assert_int_equal(r.n_addrs, 1);
	assert_int_equal(r.addrs[0].family, 4);
	assert_memory_equal(r.addrs[0].addr, "\xcb\x00\x71\x05", 4);
	assert_int_equal(r.addrs[0].ttl, 30);

	/* a loop a -> b -> a ends when the records are used up; A for a is on it */
	start(&m, "a.test", 3);
	rr_cname(&m, "a.test", 60, "b.test");
	rr_cname(&m, "b.test", 60, "a.test");
	rr_a(&m, "a.test", 60, "192.0.2.1");
	assert_int_equal(parse(&m, &r), DNS_OK);
	assert_int_equal(r.chain_len, 2);
	assert_int_equal(r.chain_cut, 0);
	assert_int_equal(r.n_addrs, 1);

	/* a chain longer than DNS_CNAME_MAX is cut and its address not returned */
	start(&m, "c0.test", DNS_CNAME_MAX + 2);
	for (i = 0; i <= DNS_CNAME_MAX; i++) {
		snprintf(owner, sizeof(owner), "c%d.test", i);
		snprintf(target, sizeof(target), "c%d.test", i + 1);
		rr_cname(&m, owner, 60, target);
	}
	rr_a(&m, target, 60, "192.0.2.9");
	assert_int_equal(parse(&m, &r), DNS_OK);
	assert_int_equal(r.chain_len, DNS_CNAME_MAX);
	assert_int_equal(r.chain_cut, 1);
	assert_int_equal(r.n_addrs, 0);
	assert_int_equal(r.ignored, 2);          /* the last CNAME and the A */

	/* addresses for names off the chain are never returned (no poisoning) */
	start(&m, "api.openai.com", 2);
	rr_a(&m, "evil.test", 60, "198.51.100.66");
	rr_a(&m, "api.openai.com", 60, "192.0.2.10");
	assert_int_equal(parse(&m, &r), DNS_OK);
	assert_int_equal(r.n_addrs, 1);
	assert_memory_equal(r.addrs[0].addr, "\xc0\x00\x02\x0a", 4);
	assert_int_equal(r.ignored, 1);

	/* a CNAME for another name does not lead the chain there */
	start(&m, "api.openai.com", 2);
	rr_cname(&m, "other.test", 60, "evil.test");
	rr_a(&m, "evil.test", 60, "198.51.100.66");
	assert_int_equal(parse(&m, &r), DNS_OK);
	assert_int_equal(r.chain_len, 0);
	assert_int_equal(r.n_addrs, 0);
	assert_int_equal(r.ignored, 2);
}

static void
test_malformed(void **state)
{
	struct dns_response r;
	struct msg m;
	char big[300];

	(void)state;
	/* A with 5 bytes of data */
	start(&m, "a.test", 1);
	put_name(&m, "a.test");
	rr_tail(&m, DNS_TYPE_A, 60, "\x0a\x00\x00\x01\x00", 5);
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);

	/* AAAA with 4 */
	start(&m, "a.test", 1);
	put_name(&m, "a.test");
	rr_tail(&m, DNS_TYPE_AAAA, 60, "\x0a\x00\x00\x01", 4);
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);

	/* CNAME data longer than its name */
	start(&m, "a.test", 1);
	put_name(&m, "a.test");
	rr_tail(&m, DNS_TYPE_CNAME, 60, "\x01" "b\x00\x00", 4);
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);

	/* CNAME data shorter than its name */
	start(&m, "a.test", 1);
	put_name(&m, "a.test");
	rr_tail(&m, DNS_TYPE_CNAME, 60, "\x03" "bb", 3);
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);

	/* extended (0x40) and reserved (0x80) label types */
	start(&m, "a.test", 1);
	put(&m, "\x41\x00", 2);
	rr_tail(&m, DNS_TYPE_A, 60, "\x0a\x00\x00\x01", 4);
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);
	start(&m, "a.test", 1);
	put(&m, "\x81\x00", 2);
	rr_tail(&m, DNS_TYPE_A, 60, "\x0a\x00\x00\x01", 4);
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);

	/* a label holding a dot, a space, a control byte */
	start(&m, "a.test", 0);
	m.b[12 + 1] = '.';
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);
	m.b[12 + 1] = ' ';
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);
	m.b[12 + 1] = 0x01;
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);

	/* a name of 256 wire bytes (4 x 63-byte labels) is refused; 253 text bytes pass */
	memset(big, 'a', sizeof(big));
	big[63] = big[127] = big[191] = '.';
	big[255] = '\0';                         /* 63.63.63.63 + ... = 255 text bytes */
	start(&m, big, 0);
	assert_int_equal(parse(&m, &r), DNS_MALFORMED);
	big[253] = '\0';                         /* 63.63.63.61: wire 255 */
	start(&m, big, 0);
	assert_int_equal(parse(&m, &r), DNS_OK);
	assert_int_equal(r.qname_len, 253);

	/* not a response; another opcode; no question; two questions */
	start(&m, "a.test", 0);
	m.b[2] &= 0x7f;
	assert_int_equal(parse(&m, &r), DNS_NOT_RESPONSE);
	start(&m, "a.test", 0);
	m.b[2] |= 2 << 3;                        /* STATUS */
	assert_int_equal(parse(&m, &r), DNS_UNSUPPORTED);
	start(&m, "a.test", 0);
	m.b[5] = 0;
	assert_int_equal(parse(&m, &r), DNS_UNSUPPORTED);
	m.b[5] = 2;
	assert_int_equal(parse(&m, &r), DNS_UNSUPPORTED);

	/* more answers declared than present */
	start(&m, "a.test", 2);
	rr_a(&m, "a.test", 60, "192.0.2.1");
	assert_int_equal(parse(&m, &r), DNS_TRUNCATED);
}

/* the captured answer with two questions, one a 300-byte name, read as one question */
static void
test_malformed_capture(void **state)
{
	static uint8_t buf[BUF_MAX];
	struct dns_response r;
	size_t n = load("ndpi-malformed_dns-2", buf, sizeof(buf));

	(void)state;
	buf[5] = 1;     /* QDCOUNT 1: the long name is now read as an answer's owner */
	assert_int_equal(dns_parse_response(buf, n, &r), DNS_MALFORMED);
}

static void
test_limits_and_ttl(void **state)
{
	struct dns_response r;
	struct msg m;
	int i;

	(void)state;
	/* more on-chain addresses than DNS_ADDR_MAX: the rest counted */
	start(&m, "many.test", DNS_ADDR_MAX + 5);
	for (i = 0; i < DNS_ADDR_MAX + 5; i++) {
		put_ptr(&m, 12);
		rr_tail(&m, DNS_TYPE_A, 60, (uint8_t[4]){ 192, 0, 2, (uint8_t)(i + 1) }, 4);
	}
	assert_int_equal(parse(&m, &r), DNS_OK);
	assert_int_equal(r.n_addrs, DNS_ADDR_MAX);
	assert_int_equal(r.addrs_dropped, 5);
	assert_int_equal(r.addrs[DNS_ADDR_MAX - 1].addr[3], DNS_ADDR_MAX);

	/* a TTL with the top bit set is zero (RFC 2181 section 8) */
	start(&m, "a.test", 1);
	put_ptr(&m, 12);
	rr_tail(&m, DNS_TYPE_A, 0x80000010u, "\x0a\x00\x00\x01", 4);
	assert_int_equal(parse(&m, &r), DNS_OK);
	assert_int_equal(r.addrs[0].ttl, 0);

	/* records of another class never bind */
	start(&m, "a.test", 1);
	put_ptr(&m, 12);
	put16(&m, DNS_TYPE_A);
	put16(&m, 3);   /* CHAOS */
	put32(&m, 60);
	put16(&m, 4);
	put(&m, "\x0a\x00\x00\x01", 4);
	assert_int_equal(parse(&m, &r), DNS_OK);
	assert_int_equal(r.n_addrs, 0);
	assert_int_equal(r.ignored, 1);

	/* the TC bit is reported, what is there still read */
	start(&m, "a.test", 1);
	m.b[2] |= 0x02;
	put_ptr(&m, 12);
	rr_tail(&m, DNS_TYPE_A, 60, "\x0a\x00\x00\x01", 4);
	assert_int_equal(parse(&m, &r), DNS_OK);
	assert_int_equal(r.tc, 1);
	assert_int_equal(r.n_addrs, 1);
}

/* ---- SVCB / HTTPS: scan and strip ech (dnsmasq's answers, make_https.py) ---- */

/* the name at off, following pointers, as text; length of the name in place */
static size_t
name_text(const uint8_t *m, size_t len, size_t off, char *out)
{
	size_t o = 0, in_place = 0, pos = off;
	int jumped = 0, hops = 0;

	for (;;) {
		assert_true(pos < len);
		if ((m[pos] & 0xc0) == 0xc0) {
			if (!jumped)
				in_place = pos + 2 - off;
			jumped = 1;
			pos = ((size_t)(m[pos] & 0x3f) << 8) | m[pos + 1];
			assert_true(++hops < 32);
			continue;
		}
		if (m[pos] == 0) {
			if (!jumped)
				in_place = pos + 1 - off;
			out[o] = '\0';
			return in_place;
		}
		if (o)
			out[o++] = '.';
		memcpy(out + o, m + pos + 1, m[pos]);
		o += m[pos];
		pos += 1u + m[pos];
	}
}

struct svc_rr {
	char owner[256], target[256];
	uint16_t type, keys[16], n_keys, vlen[16];
	const uint8_t *val[16];
};

/* every record of the answer section (an independent reading: names followed by hand) */
static unsigned
read_rrs(const uint8_t *m, size_t len, struct svc_rr *rr, unsigned cap)
{
	char tmp[256];
	size_t pos = 12;
	unsigned n = 0, an = (unsigned)(m[6] << 8 | m[7]) + (unsigned)(m[10] << 8 | m[11]);

	pos += name_text(m, len, pos, tmp) + 4;
	for (unsigned i = 0; i < an && n < cap; i++, n++) {
		uint16_t rdlen;
		size_t rd, p;

		memset(&rr[n], 0, sizeof(rr[n]));
		pos += name_text(m, len, pos, rr[n].owner);
		rr[n].type = (uint16_t)(m[pos] << 8 | m[pos + 1]);
		rdlen = (uint16_t)(m[pos + 8] << 8 | m[pos + 9]);
		rd = pos + 10;
		assert_true(rd + rdlen <= len);
		if (rr[n].type == DNS_TYPE_HTTPS || rr[n].type == DNS_TYPE_SVCB) {
			p = rd + 2 + name_text(m, len, rd + 2, rr[n].target);
			while (p < rd + rdlen) {
				unsigned k = rr[n].n_keys++;

				rr[n].keys[k] = (uint16_t)(m[p] << 8 | m[p + 1]);
				rr[n].vlen[k] = (uint16_t)(m[p + 2] << 8 | m[p + 3]);
				rr[n].val[k] = m + p + 4;
				p += 4u + rr[n].vlen[k];
			}
			assert_int_equal(p, rd + rdlen);      /* RDLENGTH covers the params exactly */
		}
		pos = rd + rdlen;
	}
	assert_int_equal(pos, len);
	return n;
}

static void
test_svcb_scan(void **state)
{
	static const struct {
		const char *file;
		uint16_t n_svcb, n_ech;
	} fx[] = {
		{ "dnsmasq-https-two-ech", 2, 2 },
		{ "dnsmasq-https-cname-ech", 2, 2 },
		{ "dnsmasq-https-ech-mandatory", 1, 1 },
		{ "dnsmasq-https-no-ech", 1, 0 },
		{ "dnsmasq-https-alias-mode", 1, 0 },
		{ "dnsmasq-svcb-ech", 1, 1 },
		{ "dnsmasq-api-openai-com-a", 0, 0 },
		{ "dnsmasq-chain3-example-test-a", 0, 0 },
	};
	uint8_t buf[BUF_MAX];
	struct dns_svcb_info in;

	(void)state;
	for (size_t i = 0; i < sizeof(fx) / sizeof(fx[0]); i++) {
		size_t n = load(fx[i].file, buf, sizeof(buf));

		assert_int_equal(dns_svcb_scan(buf, n, &in), DNS_OK);
		if (in.n_svcb != fx[i].n_svcb || in.n_ech != fx[i].n_ech)
			fail_msg("%s: %u svcb %u ech", fx[i].file, in.n_svcb, in.n_ech);
		/* every shorter prefix: not complete (or not walkable), never OK */
		for (size_t cut = 12; cut < n; cut++)
			if (dns_svcb_scan(buf, cut, &in) == DNS_OK)
				fail_msg("%s cut at %zu: OK", fx[i].file, cut);
	}
}

/* strip, then check what an independent reading of the result sees */
static size_t
strip_ok(uint8_t *buf, size_t n, uint32_t want_removed)
{
	struct dns_svcb_info in;
	struct dns_response r;
	size_t nl = 0;

	assert_int_equal(dns_strip_ech(buf, n, &nl, &in), DNS_OK);
	assert_int_equal(in.removed, want_removed);
	assert_int_equal(nl, n - want_removed);
	assert_int_equal(dns_svcb_scan(buf, nl, &in), DNS_OK);
	assert_int_equal(in.n_ech, 0);
	assert_int_equal(dns_parse_response(buf, nl, &r), DNS_OK);
	return nl;
}

static void
test_strip_ech(void **state)
{
	uint8_t buf[BUF_MAX], orig[BUF_MAX];
	struct svc_rr rr[8];
	struct dns_svcb_info in;
	struct dns_response r;
	size_t n, nl;

	(void)state;
	/* two HTTPS records (dnsmasq sends priority 2 first): ech last in one, between others in the other */
	n = load("dnsmasq-https-two-ech", buf, sizeof(buf));
	assert_int_equal(read_rrs(buf, n, rr, 8), 2);
	assert_int_equal(rr[0].n_keys, 2);
	assert_int_equal(rr[1].n_keys, 4);
	nl = strip_ok(buf, n, (4 + 70) + (4 + 18));
	assert_int_equal(read_rrs(buf, nl, rr, 8), 2);
	assert_string_equal(rr[0].target, "alt.example.test");
	assert_int_equal(rr[0].n_keys, 1);
	assert_memory_equal(rr[0].val[0], "\x02h2", 3);
	assert_string_equal(rr[1].owner, "https.example.test");
	assert_int_equal(rr[1].n_keys, 3);
	assert_int_equal(rr[1].keys[0], 1);
	assert_int_equal(rr[1].keys[1], 4);
	assert_int_equal(rr[1].keys[2], 6);
	assert_memory_equal(rr[1].val[0], "\x02h2\x02h3", 6);
	assert_memory_equal(rr[1].val[1], "\xc0\x00\x02\x01", 4);
	assert_memory_equal(rr[1].val[2], "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);

	/* behind a CNAME: the chain still reads, records after a cut still point right */
	n = load("dnsmasq-https-cname-ech", buf, sizeof(buf));
	nl = strip_ok(buf, n, (4 + 18) + (4 + 70));
	assert_int_equal(dns_parse_response(buf, nl, &r), DNS_OK);
	assert_string_equal(r.qname, "chain.example.test");
	assert_string_equal(r.canon, "https.example.test");
	assert_int_equal(read_rrs(buf, nl, rr, 8), 3);
	assert_string_equal(rr[2].owner, "https.example.test");
	assert_int_equal(rr[2].n_keys, 3);

	/* SVCB (64), ech last */
	n = load("dnsmasq-svcb-ech", buf, sizeof(buf));
	nl = strip_ok(buf, n, 4 + 18);
	assert_int_equal(read_rrs(buf, nl, rr, 8), 1);
	assert_string_equal(rr[0].target, "svc.example.test");
	assert_int_equal(rr[0].n_keys, 1);
	assert_int_equal(rr[0].keys[0], 3);

	/* nothing to strip: untouched */
	n = load("dnsmasq-https-no-ech", buf, sizeof(buf));
	memcpy(orig, buf, n);
	assert_int_equal(dns_strip_ech(buf, n, &nl, &in), DNS_OK);
	assert_int_equal(nl, n);
	assert_memory_equal(buf, orig, n);

	/* ech mandatory: refused, untouched */
	n = load("dnsmasq-https-ech-mandatory", buf, sizeof(buf));
	memcpy(orig, buf, n);
	assert_int_equal(dns_strip_ech(buf, n, &nl, &in), DNS_MALFORMED);
	assert_memory_equal(buf, orig, n);

	/* every prefix of a message with ech: refused and untouched */
	n = load("dnsmasq-https-two-ech", orig, sizeof(orig));
	for (size_t cut = 0; cut < n; cut++) {
		memcpy(buf, orig, n);
		if (dns_strip_ech(buf, cut, &nl, &in) == DNS_OK)
			fail_msg("cut at %zu: OK", cut);
		assert_memory_equal(buf, orig, n);
	}
}

/*
 * A pointer whose target lies after a removed range moves back with it: the
 * dnsmasq answer with two additional A records appended, the first owned by
 * "extra.example.test" written in full (after both cuts), the second by a
 * pointer to it; a pointer into an ech value is refused.
 */
static void
test_strip_ech_pointers(void **state)
{
	static const uint8_t a_rr[] = "\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x09";
	uint8_t buf[BUF_MAX], orig[BUF_MAX];
	struct dns_svcb_info in;
	char owner[256];
	size_t n, nl, x, y, ech = 0;

	(void)state;
	n = load("dnsmasq-https-two-ech", buf, sizeof(buf));
	for (size_t i = 12; i + 4 < n && ech == 0; i++)
		if (memcmp(buf + i, "\x00\x05\x00\x46", 4) == 0)
			ech = i;
	assert_true(ech > 12);
	x = n;
	memcpy(buf + n, "\x05" "extra\x07" "example\x04" "test", 19);
	n += 19;
	buf[n++] = 0;
	memcpy(buf + n, a_rr, 14);
	n += 14;
	y = n;
	buf[n++] = (uint8_t)(0xc0 | x >> 8);
	buf[n++] = (uint8_t)x;
	memcpy(buf + n, a_rr, 14);
	n += 14;
	buf[11] = 2;                                  /* ARCOUNT */
	memcpy(orig, buf, n);
	assert_int_equal(dns_strip_ech(buf, n, &nl, &in), DNS_OK);
	assert_int_equal(in.removed, 96);
	assert_int_equal(nl, n - 96);
	assert_int_equal(((buf[y - 96] & 0x3f) << 8 | buf[y - 96 + 1]), x - 96);
	name_text(buf, nl, y - 96, owner);
	assert_string_equal(owner, "extra.example.test");
	assert_memory_equal(buf + y - 96 + 2, a_rr, 14);
	assert_int_equal(dns_svcb_scan(buf, nl, &in), DNS_OK);
	assert_int_equal(in.n_svcb, 2);

	/* a pointer into the ech value: refused, untouched */
	memcpy(buf, orig, n);
	buf[y] = (uint8_t)(0xc0 | (ech + 8) >> 8);
	buf[y + 1] = (uint8_t)(ech + 8);
	memcpy(orig, buf, n);
	assert_int_equal(dns_strip_ech(buf, n, &nl, &in), DNS_MALFORMED);
	assert_memory_equal(buf, orig, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_captured),
		cmocka_unit_test(test_truncated_every_offset),
		cmocka_unit_test(test_compression_loops),
		cmocka_unit_test(test_cname_chains),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_capture),
		cmocka_unit_test(test_limits_and_ttl),
		cmocka_unit_test(test_svcb_scan),
		cmocka_unit_test(test_strip_ech),
		cmocka_unit_test(test_strip_ech_pointers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
