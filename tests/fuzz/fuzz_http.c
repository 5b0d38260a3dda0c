/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * fuzz_http.c: libFuzzer harness for the HTTP/1.x request-head parser.
 * Checks the output invariants of every OK result, that the head minus its
 * last byte is NEED_MORE, and that the parser never reads past the input
 * (the sanitizers catch that). Any violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define MAXLEN 16384

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request r, p;
	enum http_result rc;

	rc = http_parse_request(data, size, MAXLEN, &r);
	if (rc == HTTP_TOO_BIG && size < MAXLEN)
		abort();
	if (rc != HTTP_OK)
		return 0;
	if (r.head_len == 0 || r.head_len > size || data[r.head_len - 1] != '\n')
		abort();
	if (r.name_len > HTTP_NAME_MAX || r.name[r.name_len] != '\0')
		abort();
	if (r.host_len > HTTP_NAME_MAX || r.host[r.host_len] != '\0')
		abort();
	if (r.host_len > 0 && r.host_count == 0)
		abort();
	if (r.host_mismatch && !r.has_uri_host)
		abort();
	if (r.version_minor > 1)
		abort();
	if (!http_looks_like(data, size))
		abort();
	/* only the bytes of the head count: the same head alone parses the same */
	if (http_parse_request(data, r.head_len, MAXLEN, &p) != HTTP_OK ||
	    p.name_len != r.name_len || memcmp(p.name, r.name, r.name_len) != 0 ||
	    p.name_port != r.name_port)
		abort();
	/* and without its last byte it is not complete */
	if (http_parse_request(data, r.head_len - 1, MAXLEN, &p) != HTTP_NEED_MORE)
		abort();
	return 0;
}
