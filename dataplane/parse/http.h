/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * http.h: HTTP/1.x request-head extraction. Pure: no DPDK, no allocation.
 *
 * http_parse_request() looks at the client's stream from the first byte of a
 * request and returns
 *   HTTP_NEED_MORE   could still be a request head; feed more bytes
 *   HTTP_OK          a complete head (through CRLFCRLF, or LFLF) was parsed
 *   HTTP_NOT_HTTP    the first bytes are not an HTTP/1.x request line
 *   HTTP_MALFORMED   request line or header grammar broken
 *   HTTP_TOO_BIG     no end of head within max_len
 * The name is taken, in order of authority: CONNECT authority, absolute-form
 * URI host, Host header. Port is stripped from names, kept in *_port.
 * Brackets are stripped from IPv6 literals.
 */
#ifndef CHOKEPOINT_HTTP_H
#define CHOKEPOINT_HTTP_H

#include <stddef.h>
#include <stdint.h>

enum http_result {
	HTTP_OK = 0,
	HTTP_NEED_MORE,
	HTTP_NOT_HTTP,
	HTTP_MALFORMED,
	HTTP_TOO_BIG,
};

#define HTTP_NAME_MAX 255

enum http_method {
	HTTP_M_OTHER = 0,
	HTTP_M_GET, HTTP_M_HEAD, HTTP_M_POST, HTTP_M_PUT, HTTP_M_DELETE,
	HTTP_M_OPTIONS, HTTP_M_PATCH, HTTP_M_CONNECT, HTTP_M_TRACE,
};

struct http_request {
	uint8_t method;                 /* enum http_method */
	uint8_t version_minor;          /* HTTP/1.x */
	uint8_t host_count;             /* Host headers seen (>1: multiple_host) */
	uint8_t upgrade_websocket;      /* Upgrade: websocket */
	uint8_t has_upgrade;            /* an Upgrade header naming any protocol ("101" may
					 * end HTTP on the connection) */
	uint8_t has_uri_host;           /* absolute-form or CONNECT authority */
	uint8_t chunked;                /* Transfer-Encoding: chunked */
	uint8_t has_content_length;
	uint8_t host_mismatch;          /* Host header host != URI host */
	char name[HTTP_NAME_MAX + 1];   /* the deciding name (see above), NUL-terminated */
	uint16_t name_len;
	uint16_t name_port;             /* 0 if none given */
	char host[HTTP_NAME_MAX + 1];   /* Host header value, port stripped */
	uint16_t host_len;
	uint64_t content_length;
	uint32_t head_len;              /* bytes through the blank line */
};

enum http_result http_parse_request(const uint8_t *buf, size_t len, size_t max_len,
				    struct http_request *out);

/* 1 if the first bytes can start an HTTP/1.x request line (method + SP). */
int http_looks_like(const uint8_t *buf, size_t len);

#endif /* CHOKEPOINT_HTTP_H */
