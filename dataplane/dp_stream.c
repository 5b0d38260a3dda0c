/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_stream.c: the client stream after a decision (see dp_stream.h).
 *
 * Chunked framing is walked strictly (RFC 9112 7.1): hex digits, optional
 * extensions, CRLF line ends, CRLF after each chunk's data, trailer lines
 * ending in CRLF. A bare LF or any other byte where the grammar has none
 * is DP_WALK_BAD: a server reading the framing differently from the
 * appliance would see a request head the appliance never judged.
 */
#include <string.h>

#include "dp_stream.h"

#define TLS_CT_CCS        20
#define TLS_CT_ALERT      21
#define TLS_CT_HANDSHAKE  22
#define TLS_CT_APPDATA    23
#define TLS_HS_CLIENT_HELLO 1
#define TLS_HS_SERVER_HELLO 2

/* RFC 8446 4.1.3: the random of a HelloRetryRequest, SHA-256("HelloRetryRequest") */
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65,
	0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2,
	0xc8, 0xa8, 0x33, 0x9c,
};

void
dp_stream_init(struct dp_wstate *ws, uint32_t first_seq)
{
	memset(ws, 0, sizeof(*ws));
	ws->st = DP_WS_UNIT;
	ws->seq = first_seq;
}

static int
hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static enum dp_walk_res
stop(struct dp_wstate *ws, enum dp_walk_res r)
{
	ws->mode = DP_W_NONE;
	return r;
}

/* The state after `left` jumped bytes of st are gone. */
static uint8_t
after_jump(uint8_t st)
{
	switch (st) {
	case DP_WS_CH_DATA:
		return DP_WS_CH_DATA_CR;
	case DP_WS_REC_SKIP:
		return DP_WS_REC;
	default:
		return DP_WS_UNIT;
	}
}

static int
is_jump(uint8_t st)
{
	return st == DP_WS_BODY || st == DP_WS_CH_DATA || st == DP_WS_REC_SKIP;
}

/*
 * Move the edge over (at most DP_WATCH_JUMP_MAX of) the `left` bytes of a jump
 * state at once, without their bytes: body and chunk data never need to be
 * seen, so segments carrying them may arrive in any order. Returns the step.
 */
static uint32_t
jump(struct dp_wstate *ws)
{
	uint32_t step = ws->left < DP_WATCH_JUMP_MAX ? (uint32_t)ws->left : DP_WATCH_JUMP_MAX;

	ws->seq += step;
	ws->left -= step;
	if (ws->left == 0) {
		ws->st = after_jump(ws->st);
		ws->n = 0;
	}
	return step;
}

enum dp_walk_res
dp_stream_walk(struct dp_wstate *ws, const uint8_t *p, uint32_t n)
{
	uint32_t i = 0;
	int v;

	while (i < n) {
		uint8_t c = p[i];

		switch (ws->st) {
		case DP_WS_UNIT:
			/* a server ignores empty lines before a request line (RFC 9112 2.2) */
			if (ws->mode == DP_W_HTTP && (c == '\r' || c == '\n') && ws->n < 4) {
				ws->n++;
				break;
			}
			return DP_WALK_UNIT;
		case DP_WS_BODY:
		case DP_WS_CH_DATA:
		case DP_WS_REC_SKIP: {
			/* a jump longer than DP_WATCH_JUMP_MAX goes on from here */
			uint32_t step = jump(ws);

			if (step >= n - i)
				return DP_WALK_MORE;
			i += step;
			continue;               /* seq already moved */
		}
		case DP_WS_CH_SIZE:
			v = hexval(c);
			if (v >= 0) {
				if (ws->n >= DP_WATCH_CHUNK_DIGITS)
					return stop(ws, DP_WALK_BAD);
				ws->left = (ws->left << 4) | (uint64_t)v;
				ws->n++;
			} else if (ws->n == 0) {
				return stop(ws, DP_WALK_BAD);
			} else if (c == ';' || c == ' ' || c == '\t') {
				ws->st = DP_WS_CH_EXT;
			} else if (c == '\r') {
				ws->st = DP_WS_CH_SIZE_LF;
			} else {
				return stop(ws, DP_WALK_BAD);
			}
			break;
		case DP_WS_CH_EXT:
			if (c == '\r')
				ws->st = DP_WS_CH_SIZE_LF;
			else if (c == '\n')
				return stop(ws, DP_WALK_BAD);
			break;
		case DP_WS_CH_SIZE_LF:
			if (c != '\n')
				return stop(ws, DP_WALK_BAD);
			ws->st = ws->left == 0 ? DP_WS_CH_TRAILER : DP_WS_CH_DATA;
			break;
		case DP_WS_CH_DATA_CR:
			if (c != '\r')
				return stop(ws, DP_WALK_BAD);
			ws->st = DP_WS_CH_DATA_LF;
			break;
		case DP_WS_CH_DATA_LF:
			if (c != '\n')
				return stop(ws, DP_WALK_BAD);
			ws->st = DP_WS_CH_SIZE;
			ws->n = 0;
			ws->left = 0;
			break;
		case DP_WS_CH_TRAILER:
			if (c == '\r')
				ws->st = DP_WS_CH_END_LF;
			else if (c == '\n')
				return stop(ws, DP_WALK_BAD);
			else
				ws->st = DP_WS_CH_TRAILER_LINE;
			break;
		case DP_WS_CH_TRAILER_LINE:
			if (c == '\r')
				ws->st = DP_WS_CH_TRAILER_LF;
			else if (c == '\n')
				return stop(ws, DP_WALK_BAD);
			break;
		case DP_WS_CH_TRAILER_LF:
			if (c != '\n')
				return stop(ws, DP_WALK_BAD);
			ws->st = DP_WS_CH_TRAILER;
			break;
		case DP_WS_CH_END_LF:
			if (c != '\n')
				return stop(ws, DP_WALK_BAD);
			ws->st = DP_WS_UNIT;     /* the message ends: the next head */
			ws->n = 0;
			break;
		case DP_WS_REC:
			switch (c) {
			case TLS_CT_HANDSHAKE:
				ws->st = DP_WS_UNIT;
				return DP_WALK_UNIT;
			case TLS_CT_CCS:
				/*
				 * TLS 1.3 compatibility mode sends a CCS before the second
				 * ClientHello after an HRR. Without an HRR a CCS starts the
				 * client's last flight (TLS 1.2 resumption: an encrypted
				 * Finished follows): nothing more to judge.
				 */
				if (!(ws->flags & DP_WSF_HRR))
					return stop(ws, DP_WALK_DONE);
				/* fall through */
			case TLS_CT_ALERT:
				ws->st = DP_WS_REC_HDR;
				ws->rec_type = c;
				ws->n = 1;
				ws->left = 0;
				break;
			default:
				/* application data (or not TLS at all): done */
				return stop(ws, DP_WALK_DONE);
			}
			break;
		case DP_WS_REC_HDR:
			if (ws->n == 1 && c != 0x03)
				return stop(ws, DP_WALK_DONE);
			if (ws->n >= 3)
				ws->left = (ws->left << 8) | c;
			if (++ws->n == 5)
				ws->st = ws->left == 0 ? DP_WS_REC : DP_WS_REC_SKIP;
			break;
		default:
			return stop(ws, DP_WALK_DONE);
		}
		ws->seq++;
		i++;
		if (is_jump(ws->st)) {
			/* entering data: jump over it at once (the bytes may be here or not) */
			uint32_t step = jump(ws);

			if (step >= n - i)
				return DP_WALK_MORE;
			i += step;
		}
	}
	return DP_WALK_MORE;
}

static void
unit_done(struct dp_wstate *ws)
{
	if (ws->units < UINT16_MAX)
		ws->units++;
	ws->n = 0;
	ws->left = 0;
	ws->s2c_looks = DP_WATCH_S2C_LOOKS;
}

void
dp_stream_after_tls(struct dp_wstate *ws, uint32_t start, uint32_t consumed)
{
	unit_done(ws);
	ws->mode = DP_W_TLS;
	ws->st = DP_WS_REC;
	ws->flags = 0;
	ws->seq = start + consumed;
}

void
dp_stream_after_http(struct dp_wstate *ws, uint32_t start, uint32_t head_len, uint8_t httpf,
		     uint64_t content_length)
{
	unit_done(ws);
	ws->seq = start + head_len;
	ws->flags = 0;
	ws->st = DP_WS_UNIT;
	if (httpf & DP_HTTPF_CONNECT) {
		/* a CONNECT has no content: the tunnel (or the next request) follows */
		ws->mode = DP_W_AWAIT;
		ws->flags = DP_WSF_CONNECT;
		return;
	}
	ws->mode = (httpf & DP_HTTPF_UPGRADE) ? DP_W_AWAIT : DP_W_HTTP;
	if (httpf & DP_HTTPF_CHUNKED) {
		/* Transfer-Encoding overrides Content-Length (RFC 9112 6.3) */
		ws->st = DP_WS_CH_SIZE;
	} else if ((httpf & DP_HTTPF_CLEN) && content_length > 0) {
		ws->st = DP_WS_BODY;
		ws->left = content_length;
		jump(ws);       /* the body's segments are forwarded in whatever order they come */
	}
}

static int
status_code(const uint8_t *p, uint32_t n)
{
	if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return -1;
	return (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
}

int
dp_stream_is_hrr(const uint8_t *p, uint32_t n)
{
	return n >= 43 && p[0] == TLS_CT_HANDSHAKE && p[5] == TLS_HS_SERVER_HELLO &&
	       memcmp(p + 11, hrr_random, sizeof(hrr_random)) == 0;
}

void
dp_stream_server(struct dp_wstate *ws, const uint8_t *p, uint32_t n)
{
	int code;

	if (ws->s2c_looks == 0 || n == 0)
		return;
	if (ws->mode == DP_W_TLS) {
		if (n < 6 || p[0] != TLS_CT_HANDSHAKE || p[1] != 0x03 ||
		    p[5] != TLS_HS_SERVER_HELLO) {
			ws->s2c_looks--;        /* not the start of a ServerHello */
			return;
		}
		if (n < 43)
			return;                 /* cannot tell yet: look at the next one */
		ws->s2c_looks = 0;
		if (dp_stream_is_hrr(p, n))
			ws->flags |= DP_WSF_HRR; /* a second ClientHello comes */
		else
			ws->mode = DP_W_NONE;   /* no second ClientHello can come */
		return;
	}
	if (ws->mode != DP_W_AWAIT)
		return;
	ws->s2c_looks--;
	code = status_code(p, n);
	if (code < 0 || (code >= 100 && code < 200 && code != 101))
		return;                         /* not a status line, or an interim one */
	ws->s2c_looks = 0;
	if (ws->flags & DP_WSF_CONNECT) {
		if (code >= 200 && code < 300)
			ws->flags |= DP_WSF_TUNNEL; /* the next unit is the tunnel's first bytes */
		else
			ws->mode = DP_W_HTTP;   /* refused: the next unit is a request head */
	} else if (code == 101) {
		ws->mode = DP_W_NONE;           /* switched protocols: nothing more is HTTP */
	} else {
		ws->mode = DP_W_HTTP;
	}
}

int
dp_stream_tls_unit_is_hello(const uint8_t *p, uint32_t n)
{
	if (n < 6)
		return -1;
	return p[0] == TLS_CT_HANDSHAKE && p[5] == TLS_HS_CLIENT_HELLO;
}
