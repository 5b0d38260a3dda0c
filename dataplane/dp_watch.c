/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_watch.c: every unit of a TCP client stream is judged (see dp_watch.h
 * and docs/dataplane.md, "After the first decision").
 */
#include <string.h>

#include <rte_mbuf.h>

#include "cpm.h"
#include "dp_inspect.h"
#include "dp_policy.h"
#include "dp_verdict.h"
#include "dp_watch.h"

#define AN(x) (1u << (x))
#define DP_WATCH_TURNS_MAX 4096

static inline int
seq_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

/* The framing of what follows an allowed unit that started at `start`. */
static void
after_unit(struct dp_flow_cold *c, uint32_t start, const struct dp_insp_out *io)
{
	if (io->app == DP_APP_TLS && io->unit_len > 0)
		dp_stream_after_tls(&c->ws, start, io->unit_len);
	else if (io->app == DP_APP_HTTP && io->unit_len > 0)
		dp_stream_after_http(&c->ws, start, io->unit_len, io->httpf, io->content_length);
	else
		dp_stream_stop(&c->ws);         /* an allowed unknown protocol: nothing to follow */
}

/*
 * 1 if the unit can never complete because the client has stopped: it
 * cannot send more segments than its initial window (IW10) without an ACK,
 * and the server acknowledges nothing it has not received (PITFALLS 1).
 * Held segments at that limit, or (from DP_TINY_MIN_SEGS on) a declared
 * ClientHello length that the segments' average size cannot reach within
 * it, decide at once (tiny_segments) instead of at the hold timeout.
 */
static int
stalled(const struct cpm_settings *set, const struct dp_slot *s, uint32_t have,
	const struct dp_insp_out *io)
{
	uint32_t lim = set->hold_max_segments, n = s->n_segs, avg;
	uint64_t more;

	if (lim > DP_CLIENT_IW)
		lim = DP_CLIENT_IW;
	if (n >= lim)
		return 1;
	if (n < DP_TINY_MIN_SEGS || io->need <= have)
		return 0;
	avg = have / n > 0 ? have / n : 1;
	more = ((uint64_t)io->need - have + avg - 1) / avg;
	return n + more > lim;
}

/* The unit at the judged edge hit a bound without completing: decide it without its name. */
static void
bound(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, const uint8_t *p,
      uint32_t n, int tiny)
{
	struct dp_insp_out part;

	dp_inspect_partial(p, n, &part);
	if (tiny)
		dp_fi(w, f)->anomalies |= AN(DP_AN_TINY_SEGMENTS);
	else if (part.app == DP_APP_TLS)
		dp_fi(w, f)->anomalies |= AN(DP_AN_OVERSIZE_CLIENTHELLO);
	w->c[DP_C_HOLD_OVERFLOW]++;
	dp_decide_pending(w, f, pc, NULL, DP_WHY_BOUND);
}

/* HTTP framing the walker cannot follow: judged (http_smuggling), no name. */
static int
bad_framing(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc)
{
	struct dp_insp_out io;

	memset(&io, 0, sizeof(io));
	io.app = DP_APP_HTTP;
	io.anomalies = AN(DP_AN_HTTP_SMUGGLING);
	return dp_decide_stream(w, f, pc, &io);
}

int
dp_watch_inspect(struct dp_worker *w, struct dp_flow *f, struct dp_slot *s,
		 struct dp_pktctx *pc)
{
	const struct cpm_settings *set = w->gen->set;
	const uint8_t *buf = dp_reasm_data(&s->ra);
	uint16_t dport = dp_flow_dport(f);
	struct dp_flow_cold *c = dp_flow_cold(&w->ft, f);     /* TCP, pending: taken */
	uint32_t lim = s->ra.cap, seq0, contig, off, start;
	struct dp_insp_out io;
	int decided = 0, turns;

	if (unlikely(c == NULL))
		return 0;               /* never: the hold timer decides */
	seq0 = c->ws.seq;
	if (set->hold_max_bytes < lim)
		lim = set->hold_max_bytes;
	/*
	 * Every turn moves the judged edge or leaves the loop; the bound (two turns
	 * per unit of a full window of the smallest request heads) only guards that.
	 */
	for (turns = 0;; turns++) {
		if (unlikely(turns == DP_WATCH_TURNS_MAX)) {
			dp_stream_stop(&c->ws);
			break;
		}
		contig = dp_reasm_contig(&s->ra);
		off = c->ws.seq - s->ra.base_seq;
		if (off >= contig)
			break;                  /* judged up to what is here (or beyond it) */
		if (c->ws.mode != DP_W_NONE) {
			enum dp_walk_res wr = dp_stream_walk(&c->ws, buf + off, contig - off);

			if (wr == DP_WALK_MORE)
				continue;
			if (wr == DP_WALK_DONE)
				break;
			if (wr == DP_WALK_BAD) {
				if (bad_framing(w, f, pc))
					return 1;
				decided = 1;
				break;          /* allowed: nothing more is followed */
			}
			off = c->ws.seq - s->ra.base_seq;
			if (c->ws.mode == DP_W_TLS) {
				int hello = dp_stream_tls_unit_is_hello(buf + off, contig - off);

				if (hello < 0)
					break;  /* wait for the handshake type */
				if (hello == 0) {
					/* a TLS 1.2 key exchange: no ClientHello can follow */
					dp_stream_stop(&c->ws);
					break;
				}
			}
		}
		start = c->ws.seq;
		/* a tunnel's bytes are not the proxy port's protocol: no port anomalies */
		if (c->ws.mode == DP_W_AWAIT && (c->ws.flags & DP_WSF_CONNECT))
			dport = 0;
		if (dp_inspect(buf + off, contig - off, lim, dport, &io) != DP_INSP_DONE) {
			if (contig >= lim || s->ra.overflow) {
				bound(w, f, pc, buf + off, contig - off, 0);
				return 1;
			}
			/* IW10 binds the first unit only: later the server acknowledges */
			if (set->mode == CPM_MODE_ENFORCE && !(f->flags & DP_FF_DECIDED) &&
			    stalled(set, s, contig - off, &io)) {
				bound(w, f, pc, buf + off, contig - off, 1);
				return 1;
			}
			break;                  /* the unit needs more bytes */
		}
		if (dp_decide_stream(w, f, pc, &io))
			return 1;               /* denied: everything held is dropped */
		decided = 1;
		after_unit(c, start, &io);
		if (c->ws.mode == DP_W_NONE)
			break;                  /* nothing after this unit is followed */
	}
	if (!(f->flags & DP_FF_DECIDED))
		return 0;                       /* the first unit is incomplete: keep holding */
	if (!decided && c->ws.seq == seq0 && c->ws.mode != DP_W_NONE)
		return 0;                       /* the same unit still incomplete: its timer runs on */
	return dp_release_judged(w, f, pc);
}

/* The client's ACK and next sequence, for the RSTs of a deny on the fast path. */
static void
track_client(struct dp_flow *f, struct dp_flow_cold *c, const struct dp_pkt *p)
{
	if (p->tcp_flags & DP_TCP_ACK) {
		c->c_ack = p->ack;
		f->flags |= DP_FF_HAS_ACK;
	}
	c->c_nxt = p->seq + p->payload_len + ((p->tcp_flags & DP_TCP_FIN) ? 1 : 0);
}

int
dp_watch_packet(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, int dir)
{
	const struct dp_pkt *p = &pc->p;
	struct dp_flow_cold *c = dp_flow_cold(&w->ft, f);     /* watched: it has one */
	const uint8_t *d;
	uint32_t off;
	int enforce = (f->flags & DP_FF_ENFORCED) != 0;

	if (p->payload_len == 0 || pc->data == NULL)
		return 0;
	d = pc->data + p->payload_off;
	if (dir == DP_DIR_S2C) {
		dp_stream_server(&c->ws, d, p->payload_len);
		return 0;
	}
	if (!seq_after(p->seq + p->payload_len, c->ws.seq))
		return 0;                       /* every byte judged: body, a retransmission */
	/* insertion evasions (PITFALLS 5a): what the server would not accept is not walked */
	if (!w->replay && !dp_l4_cksum_ok(pc->data, p)) {
		w->c[DP_C_BAD_L4_CKSUM]++;
		if (enforce)
			dp_drop(w, pc);
		return 0;
	}
	if (dp_fi(w, f)->syn_ttl != 0 && p->ttl != dp_fi(w, f)->syn_ttl) {
		w->c[DP_C_TTL_MISMATCH]++;
		if (enforce)
			dp_drop(w, pc);
		return 0;
	}
	if (seq_after(p->seq, c->ws.seq))
		return dp_watch_enter(w, f, p); /* the bytes at the edge are missing: hold */
	off = c->ws.seq - p->seq;
	switch (dp_stream_walk(&c->ws, d + off, p->payload_len - off)) {
	case DP_WALK_UNIT:
		return dp_watch_enter(w, f, p);
	case DP_WALK_BAD:
		/* nothing of this segment is forwarded: the server's rcv_nxt is its seq */
		track_client(f, c, p);
		c->ws.seq = p->seq;
		bad_framing(w, f, pc);
		return 0;
	default:
		return 0;
	}
}
