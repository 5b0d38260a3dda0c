/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ja4.h: JA4 TLS client fingerprint of a parsed ClientHello.
 *
 * Implements FoxIO's JA4 as specified in technical_details/JA4.md of
 * github.com/FoxIO-LLC/ja4 (text of commit d8f731ce0f19), from the spec text:
 *   a = proto(t|q) version(2) sni(d|i) ciphers(2) exts(2) alpn(2)
 *   b = sha256("cccc,..." sorted cipher suites)[:12]
 *   c = sha256("eeee,..." sorted extensions without 0000/0010
 *              ["_" "ssss,..." signature algorithms in wire order])[:12]
 * GREASE is ignored everywhere (the parser has already removed it). An
 * empty list hashes to "000000000000".
 */
#ifndef CHOKEPOINT_JA4_H
#define CHOKEPOINT_JA4_H

#include <stddef.h>

#include "tls.h"

#define TLS_JA4_LEN 36  /* "t13d1516h2_8daaf6152771_e5627efa2ab1", NUL not counted */

/*
 * Write the JA4 of h into out (NUL-terminated). quic: 1 for a hello carried
 * in QUIC ('q' prefix), 0 for TLS over TCP ('t'). Returns 0, -ENOSPC if
 * outlen < TLS_JA4_LEN + 1, -E2BIG if the hello had more ciphers, extensions
 * or signature algorithms than tls_hello keeps (the hash would be wrong).
 */
int tls_ja4(const struct tls_hello *h, int quic, char *out, size_t outlen);

/* JA4_o: the same with both lists in wire order and 0000/0010 kept. */
int tls_ja4_o(const struct tls_hello *h, int quic, char *out, size_t outlen);

#endif /* CHOKEPOINT_JA4_H */
