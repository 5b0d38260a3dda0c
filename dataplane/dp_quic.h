/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_quic.h: QUIC flows in the worker (docs/quic.md). With quic = "inspect",
 * a UDP flow to port 443, or one whose first datagram is a QUIC v1/v2
 * Initial on any port, waits for its name like a TCP flow: the client's
 * datagrams are held (copies in the hold pool, in an inspection slot) and
 * fed to the QUIC Initial decoder (parse/quic.h) until the ClientHello is
 * complete, then the flow is decided with cpm_match (field SNI, app quic):
 * allow releases the held datagrams in arrival order, deny drops them and
 * every later datagram (no reset: UDP). Server datagrams go to the decoder
 * (a Retry or Version Negotiation restarts reassembly) and are forwarded.
 *
 * A QUIC flow keeps the Initial keys of its connection (a record of 80 bytes
 * from a per-worker pool, taken when the flow starts waiting and given back
 * when it ends) so that a client long header starting another
 * connection on the same 5-tuple (quic_new_connection) ends the flow and is
 * decided anew: a verdict is never inherited. An allowed, enforced flow also
 * keeps its slot (DP_FF_VERIFY) until the server sends a Handshake or 1-RTT
 * packet: until then an Initial on the same keys carrying other CRYPTO bytes
 * (a second hello, the first having been lost after the appliance) is
 * overlap_conflict and decided anew (PITFALLS 5b).
 */
#ifndef CHOKEPOINT_DP_QUIC_H
#define CHOKEPOINT_DP_QUIC_H

#include <stdint.h>

/* The hold timeout of a QUIC flow is at least this: a lost first Initial is
 * sent again after the client's first PTO (~1 s, doubling). */
#define DP_QUIC_HOLD_MIN_MS 3000

struct quic_ctx;
struct quic_flow;
struct dp_quic_conn;
struct dp_worker;
struct dp_flow;
struct dp_pktctx;
struct dp_insp_out;

/* Per worker: the decoder context, one decoder state per inspection slot,
 * a pool of connection records (struct dp_flow.quic = index + 1). */
struct dp_quic {
	struct quic_ctx *ctx;
	struct quic_flow *qf;        /* [n_slots] */
	struct dp_quic_conn *conn;   /* [n_conns] */
	uint32_t n_slots;
	uint32_t n_conns;
	uint32_t free_conn;          /* index + 1 of the first free record, 0 none */
	uint32_t conns_in_use;
	uint32_t carry_an;           /* anomalies for the flow replacing an evicted one */
};

/* Connection records per worker for a flow table of n flows. */
static inline uint32_t
dp_quic_conns_for(uint32_t flows)
{
	uint32_t n = flows / 8;

	return n < 1024 ? 1024 : n > 262144 ? 262144 : n;
}

/*
 * n_conns connection records (dp_quic_conns_for). 0, -EINVAL, -ENOMEM, or
 * -EIO (OpenSSL could not fetch AES-128-GCM/ECB, HMAC).
 */
int dp_quic_init(struct dp_quic *q, uint32_t n_slots, uint32_t n_conns, int socket);
void dp_quic_fini(struct dp_quic *q);

/* A flow ends (dp_end_flow): its connection record, if any, is given back. */
void dp_quic_flow_end(struct dp_worker *w, struct dp_flow *f);

/*
 * A new UDP flow's first datagram (before dp_classify_new): app quic when
 * it is a QUIC v1/v2 Initial (content, any port).
 */
void dp_quic_flow_new(struct dp_worker *w, struct dp_flow *f, const struct dp_pktctx *pc);

/*
 * A new QUIC flow that needs its name (dp_classify_new returned 0): the flow
 * becomes pending, takes a connection record (none left: decided at once as
 * hold_memory_full) and pc, its first datagram, is inspected.
 */
void dp_quic_start(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc);

/* A datagram of a pending QUIC flow, in direction dir (DP_DIR_*). */
void dp_quic_packet(struct dp_worker *w, struct dp_flow *f, struct dp_pktctx *pc, int dir);

/*
 * A datagram of a decided UDP flow, direction dir. Server: notes when the
 * server is past the hello (ends the verification). Client: 1 if it starts
 * a QUIC connection the flow's verdict was not made for (a new connection,
 * another hello on the verified keys, an Initial after the verification
 * ended early): the caller ends the flow, cause evicted, and starts a new
 * one with this datagram.
 */
int dp_quic_decided(struct dp_worker *w, struct dp_flow *f, const struct dp_pktctx *pc, int dir);

/* What a pending QUIC flow says without a complete ClientHello (timeout, end). */
void dp_quic_partial(struct dp_worker *w, const struct dp_flow *f, struct dp_insp_out *io);

#endif /* CHOKEPOINT_DP_QUIC_H */
