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
#define DNS_TYPE_SVCB 64
#define DNS_TYPE_HTTPS 65
#define DNS_CLASS_IN 1

#define DNS_SVC_KEY_MANDATORY 0
#define DNS_SVC_KEY_ECH 5
#define DNS_STRIP_CUTS_MAX 32     /* ech params removed from one message */
#define DNS_STRIP_PTRS_MAX 256    /* compression pointers moved in one message */

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

/*
 * SVCB (64) and HTTPS (65) records in a response (RFC 9460), for the policy's
 * dns.https_rr. Every section is walked (question, answer, authority,
 * additional: a resolver may add HTTPS records it was not asked for).
 */
struct dns_svcb_info {
	uint16_t n_svcb;          /* SVCB/HTTPS records of class IN */
	uint16_t n_ech;           /* of them carrying an ech SvcParam (key 5) */
	uint16_t n_ptrs;          /* compression pointers moved (dns_strip_ech) */
	uint32_t removed;         /* bytes removed (dns_strip_ech) */
};

/*
 * Count the SVCB/HTTPS records of msg and the ech SvcParams in them.
 * DNS_OK (info filled), or DNS_TRUNCATED / DNS_MALFORMED when a section or a
 * record's SvcParams cannot be walked (then nothing is known of the rest).
 */
enum dns_result dns_svcb_scan(const uint8_t *msg, size_t len, struct dns_svcb_info *info);

/*
 * Remove the ech SvcParam from every SVCB/HTTPS record of msg, in place, so
 * clients keep a readable SNI: each record's RDLENGTH shrinks by the removed
 * key, length and value, the bytes after it move up, and every compression
 * pointer whose target lies past a removed range is moved back by what was
 * removed before its target (owner names, question names, and the names in
 * the data of NS, CNAME, SOA, PTR, MX, SRV, DNAME, SVCB and HTTPS records;
 * other types carry no compressed names, RFC 3597). *new_len is the new
 * length (== len when there was no ech). Returns DNS_OK, or
 *   DNS_MALFORMED    a record's SvcParams break their framing, a pointer leads
 *                    to bytes of a removed range (its target, or the labels
 *                    read from there), or a mandatory key list names ech
 *                    (the record would be invalid without it)
 *   DNS_UNSUPPORTED  more than DNS_STRIP_CUTS_MAX ech params or
 *                    DNS_STRIP_PTRS_MAX pointers
 *   DNS_TRUNCATED    the message ends inside a section
 * and then msg is unchanged (the caller drops the answer).
 */
enum dns_result dns_strip_ech(uint8_t *msg, size_t len, size_t *new_len,
			      struct dns_svcb_info *info);

const char *dns_result_str(enum dns_result r);

#endif /* CHOKEPOINT_DNS_H */
