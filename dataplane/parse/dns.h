/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dns.h: DNS response parsing for name-to-address binding. Pure: no DPDK, no
 * allocation, no globals.
 *
 * dns_parse_response() reads one DNS message (UDP payload, or a TCP message
 * with its 2-byte length prefix removed) and returns
 *   DNS_OK            header, the one question and every answer record parsed
 *   DNS_TRUNCATED     the message ends inside the header, the question or the
 *                     answer section (every shorter prefix of a good message)
 *   DNS_MALFORMED     broken structure: bad label type, a compression pointer
 *                     that does not point strictly backwards (so loops are
 *                     impossible), a name over 255 bytes, an A/AAAA record
 *                     whose length is not 4/16, CNAME data not exactly one name
 *   DNS_NOT_RESPONSE  QR bit clear (a query)
 *   DNS_UNSUPPORTED   opcode other than QUERY, or a question count other than 1
 * Only the header, the question and the answer section are read: authority and
 * additional records never bind a name, so a message cut after the answers is
 * DNS_OK (answers_end says where the answers end).
 *
 * The answers are reduced to what binding needs: starting from the question
 * name, CNAME records whose owner is the current name are followed (at most
 * DNS_CNAME_MAX links; a longer chain or a loop sets chain_cut), and A/AAAA
 * records are kept only if their owner is on that chain. Records for other
 * owners are counted in ignored, never returned. An address's TTL is the
 * smallest TTL along its path (the CNAMEs leading to it and its own record).
 * Names are compared case-insensitively and returned lower-cased, dotted,
 * without the trailing dot; a label holding a '.' or a byte outside 0x21..0x7e
 * cannot be written that way and makes the message DNS_MALFORMED.
 */
#ifndef CHOKEPOINT_DNS_H
#define CHOKEPOINT_DNS_H

#include <stddef.h>
#include <stdint.h>

enum dns_result {
	DNS_OK = 0,
	DNS_TRUNCATED,
	DNS_MALFORMED,
	DNS_NOT_RESPONSE,
	DNS_UNSUPPORTED,
};

#define DNS_NAME_MAX 253        /* text form, no trailing dot */
#define DNS_ADDR_MAX 32         /* addresses returned; more are counted in addrs_dropped */
#define DNS_CNAME_MAX 8         /* CNAME links followed */
#define DNS_RR_MAX 128          /* answer records looked at; more are counted in rr_dropped */

#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1

struct dns_addr {
	uint8_t family;         /* 4 or 6 */
	uint8_t addr[16];       /* network order; IPv4 in the first 4 bytes */
	uint32_t ttl;           /* seconds, smallest along the chain */
};

struct dns_response {
	uint16_t id;
	uint8_t rcode;
	uint8_t tc;             /* TC bit: the server truncated the answer */
	uint16_t qtype;
	uint16_t qclass;
	uint16_t ancount;
	uint8_t chain_len;      /* CNAME links followed from the question name */
	uint8_t chain_cut;      /* the chain went on past DNS_CNAME_MAX links (or looped) */
	uint16_t n_addrs;
	uint16_t addrs_dropped; /* on-chain addresses past DNS_ADDR_MAX */
	uint16_t rr_dropped;    /* answer records past DNS_RR_MAX (parsed, not used) */
	uint16_t ignored;       /* answer records off the chain or of other types/classes */
	uint32_t answers_end;   /* offset just past the answer section */
	char qname[DNS_NAME_MAX + 1];   /* the question name, NUL-terminated */
	uint16_t qname_len;
	char canon[DNS_NAME_MAX + 1];   /* the chain's last name (== qname without CNAMEs) */
	uint16_t canon_len;
	struct dns_addr addrs[DNS_ADDR_MAX];
};

enum dns_result dns_parse_response(const uint8_t *msg, size_t len, struct dns_response *out);

const char *dns_result_str(enum dns_result r);

#endif /* CHOKEPOINT_DNS_H */
