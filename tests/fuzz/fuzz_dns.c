/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_dns.c: libFuzzer harness for the DNS response parser. Checks the
 * output invariants of every OK result (names NUL-terminated and in text
 * form, counts within bounds, addresses of a known family), that the message
 * cut just before the end of its answers is TRUNCATED and cut at their end
 * gives the same answers, and that the parser never reads past the input (the
 * sanitizers catch that). Any violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *s, uint16_t len)
{
	uint16_t i;

	if (len > DNS_NAME_MAX || s[len] != '\0')
		abort();
	for (i = 0; i < len; i++)
		if ((uint8_t)s[i] < 0x21 || (uint8_t)s[i] > 0x7e || (s[i] >= 'A' && s[i] <= 'Z'))
			abort();
	if (len > 0 && (s[0] == '.' || s[len - 1] == '.'))
		abort();
}

/*
 * dns_strip_ech on a copy: a refusal leaves it unchanged; a strip leaves no
 * ech, the same SVCB/HTTPS records, a message no longer than before that walks
 * again, and stripping it again changes nothing.
 */
static void
check_strip(const uint8_t *data, size_t size)
{
	static uint8_t a[65536], b[65536];
	struct dns_svcb_info s1, s2, s3;
	enum dns_result sc, rc;
	size_t nl, nl2;

	if (size > sizeof(a))
		return;
	memcpy(a, data, size);
	sc = dns_svcb_scan(a, size, &s1);
	rc = dns_strip_ech(a, size, &nl, &s2);
	if (rc != DNS_OK) {
		if (memcmp(a, data, size) != 0 || rc > DNS_UNSUPPORTED)
			abort();
		return;
	}
	if (sc != DNS_OK || nl > size || nl != size - s2.removed ||
	    (s1.n_ech == 0) != (s2.removed == 0))
		abort();
	if (dns_svcb_scan(a, nl, &s3) != DNS_OK || s3.n_ech != 0 || s3.n_svcb != s1.n_svcb)
		abort();
	memcpy(b, a, nl);
	if (dns_strip_ech(b, nl, &nl2, &s3) != DNS_OK || nl2 != nl || memcmp(a, b, nl) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_response r, p;
	enum dns_result rc;
	unsigned i;

	check_strip(data, size);
	rc = dns_parse_response(data, size, &r);
	if (rc > DNS_UNSUPPORTED)
		abort();
	if (rc != DNS_OK)
		return 0;
	check_name(r.qname, r.qname_len);
	check_name(r.canon, r.canon_len);
	if (r.chain_len > DNS_CNAME_MAX || (r.chain_cut && r.chain_len != DNS_CNAME_MAX))
		abort();
	if (r.chain_len == 0 && strcmp(r.qname, r.canon) != 0)
		abort();
	if (r.n_addrs > DNS_ADDR_MAX || (r.addrs_dropped && r.n_addrs != DNS_ADDR_MAX))
		abort();
	/* every answer is a chain link, an address (kept or dropped) or ignored */
	if ((unsigned)r.n_addrs + r.addrs_dropped + r.ignored + r.chain_len + r.rr_dropped !=
	    r.ancount)
		abort();
	for (i = 0; i < r.n_addrs; i++)
		if (r.addrs[i].family != 4 && r.addrs[i].family != 6)
			abort();
	if (r.answers_end > size ||
	    r.answers_end < 12u + (r.qname_len ? r.qname_len + 2u : 1u) + 4u)
		abort();
	/* cut at the end of the answers: the same answers */
	if (dns_parse_response(data, r.answers_end, &p) != DNS_OK || p.n_addrs != r.n_addrs ||
	    memcmp(p.addrs, r.addrs, r.n_addrs * sizeof(r.addrs[0])) != 0)
		abort();
	/* one byte less: not complete */
	if (dns_parse_response(data, r.answers_end - 1, &p) != DNS_TRUNCATED)
		abort();
	return 0;
}
