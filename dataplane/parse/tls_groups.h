/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tls_groups.h: the one table of post-quantum (and hybrid) key exchange
 * groups that sets tls_hello.has_pqc (through tls_group_is_pqc()).
 *
 * Source: IANA "Transport Layer Security (TLS) Parameters" registry,
 * "TLS Supported Groups" table
 * (https://www.iana.org/assignments/tls-parameters/tls-parameters.xhtml#tls-parameters-8),
 * which lists the ML-KEM codepoints of draft-ietf-tls-mlkem (0x0200-0x0202)
 * and draft-ietf-tls-ecdhe-mlkem (0x11eb-0x11ed), and keeps the obsoleted
 * Kyber draft codepoints 0x6399/0x639a (draft-tls-westerbaan-xyber768d00)
 * as reserved. 0xfe30/0xfe31 are the pre-standard Kyber codepoints from the
 * private-use range that Cloudflare and the Open Quantum Safe builds used
 * before 0x6399 was assigned; they are not IANA entries, listed so that
 * clients still offering them are recognised.
 *
 * Add a codepoint here (and only here) when the registry gains one.
 */
#ifndef CHOKEPOINT_TLS_GROUPS_H
#define CHOKEPOINT_TLS_GROUPS_H

#include <stdint.h>

struct tls_pqc_group {
	uint16_t id;
	const char *name;
};

static const struct tls_pqc_group tls_pqc_groups[] = {
	{ 0x0200, "MLKEM512" },
	{ 0x0201, "MLKEM768" },
	{ 0x0202, "MLKEM1024" },
	{ 0x11eb, "SecP256r1MLKEM768" },
	{ 0x11ec, "X25519MLKEM768" },
	{ 0x11ed, "SecP384r1MLKEM1024" },
	{ 0x6399, "X25519Kyber768Draft00" },
	{ 0x639a, "SecP256r1Kyber768Draft00" },
	{ 0xfe30, "X25519Kyber512Draft00" },
	{ 0xfe31, "X25519Kyber768Draft00 (pre-IANA codepoint)" },
};

#define TLS_PQC_GROUPS_N (sizeof(tls_pqc_groups) / sizeof(tls_pqc_groups[0]))

#endif /* CHOKEPOINT_TLS_GROUPS_H */
