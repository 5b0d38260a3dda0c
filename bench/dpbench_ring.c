/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpbench_ring.c: fastpath --ring-rx, the fast path with an RX that models
 * a NIC. The pcap PMD of fastpath copies every frame out of its preload
 * (one mbuf per packet of the capture, 0.5 GB at 1M flows), so the worker's
 * flow-table misses share the core with that stream. Here port 0 is an
 * ethdev over rte_rings (DPDK's ring PMD) fed by a generator on a second
 * lcore: it takes mbufs from the same small pool in bursts (a NIC's
 * recycled set: a 1,024-entry RX ring and a 4,096-mbuf pool), writes the
 * frames of the same gen-fast capture into them (read once into a frame
 * array) and enqueues them. The worker runs its real loop (dp_worker_poll)
 * on the ring port and the null port, after fastpath's handshakes. Then an
 * io-forward loop on the same ports (rx_burst -> tx_burst) for the ratio.
 *
 * What it does not model: DMA, PCIe, DDIO; a generator core writes the
 * lines (and the mbuf header) that the worker then reads from that core's
 * cache, where a NIC would have written the data to the LLC and the worker's
 * own PMD the header.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include "dp_flow.h"
#include "dp_worker.h"
#include "dpbench.h"

#define RING_RX_SIZE 1024        /* the NIC's RX descriptors */
#define RING_TX_SIZE 8192        /* port 0's TX (handshakes only; drained) */
#define RING_POOL 4096           /* the recycled mbufs */
#define GEN_BURST 32

/* the frames of the capture, packed, in its order */
struct frames {
	uint8_t *bytes;
	uint64_t *off;
	uint16_t *len;
	uint64_t n;
};

static void
frames_free(struct frames *f)
{
	free(f->bytes);
	free(f->off);
	free(f->len);
	memset(f, 0, sizeof(*f));
}

/* A classic pcap file (dpb_pcap_write's format) read into f. */
static int
frames_load(struct frames *f, const char *path)
{
	uint8_t gh[24], rh[16];
	uint64_t cap = 0, bytes = 0, bcap = 0;
	FILE *fp;
	int ret = 0;

	memset(f, 0, sizeof(*f));
	fp = fopen(path, "rb");
	if (fp == NULL)
		return -errno;
	if (fread(gh, 1, sizeof(gh), fp) != sizeof(gh) ||
	    (gh[0] != 0xd4 || gh[1] != 0xc3 || gh[2] != 0xb2 || gh[3] != 0xa1)) {
		ret = -EINVAL;
		goto out;
	}
	while (fread(rh, 1, sizeof(rh), fp) == sizeof(rh)) {
		uint32_t incl = (uint32_t)rh[8] | (uint32_t)rh[9] << 8 | (uint32_t)rh[10] << 16 |
				(uint32_t)rh[11] << 24;

		if (incl == 0 || incl > 9000) {
			ret = -EINVAL;
			goto out;
		}
		if (f->n == cap) {
			uint64_t nc = cap ? cap * 2 : 65536;
			uint64_t *no = realloc(f->off, nc * sizeof(*no));
			uint16_t *nl;

			if (no == NULL) {
				ret = -ENOMEM;
				goto out;
			}
			f->off = no;
			nl = realloc(f->len, nc * sizeof(*nl));
			if (nl == NULL) {
				ret = -ENOMEM;
				goto out;
			}
			f->len = nl;
			cap = nc;
		}
		if (bytes + incl > bcap) {
			uint64_t nb = bcap ? bcap * 2 : (64ull << 20);
			uint8_t *p;

			while (nb < bytes + incl)
				nb *= 2;
			p = realloc(f->bytes, nb);
			if (p == NULL) {
				ret = -ENOMEM;
				goto out;
			}
			f->bytes = p;
			bcap = nb;
		}
		if (fread(f->bytes + bytes, 1, incl, fp) != incl) {
			ret = -EINVAL;
			goto out;
		}
		f->off[f->n] = bytes;
		f->len[f->n] = (uint16_t)incl;
		f->n++;
		bytes += incl;
	}
	if (f->n == 0)
		ret = -EINVAL;
out:
	fclose(fp);
	if (ret != 0)
		frames_free(f);
	return ret;
}

struct gen {
	struct rte_mempool *mp;
	struct rte_ring *r;
	const struct frames *fr;
	int stop;                /* atomic */
	uint64_t enq;            /* frames enqueued */
	uint64_t full;           /* enqueue attempts that found the ring full */
	uint64_t no_mbuf;        /* bulk allocs that failed */
	uint64_t cpu_ns;
	bool demote;             /* cldemote what it wrote (lines to the LLC, as DDIO puts them) */
};

/*
 * CLDEMOTE: a hint to move the line from this core's caches to the shared
 * LLC, where a NIC's DDIO write would have left it (a NOP on CPUs without it).
 */
static inline void
line_demote(const void *p)
{
	asm volatile("cldemote %0" : : "m"(*(const volatile uint8_t *)p));
}

static void
mbuf_demote(const struct rte_mbuf *m)
{
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t o;

	line_demote(m);
	line_demote((const uint8_t *)m + RTE_CACHE_LINE_SIZE);
	for (o = 0; o < m->data_len + ((uintptr_t)p & (RTE_CACHE_LINE_SIZE - 1));
	     o += RTE_CACHE_LINE_SIZE)
		line_demote(RTE_PTR_ALIGN_FLOOR(p, RTE_CACHE_LINE_SIZE) + o);
}

/* The generator lcore: the NIC's side of the RX ring. */
static int
gen_main(void *arg)
{
	struct gen *g = arg;
	const struct frames *fr = g->fr;
	struct rte_mbuf *ms[GEN_BURST];
	uint64_t k = 0, c0 = dpb_thread_cpu_ns();
	unsigned int i, sent;

	while (!__atomic_load_n(&g->stop, __ATOMIC_RELAXED)) {
		if (rte_pktmbuf_alloc_bulk(g->mp, ms, GEN_BURST) != 0) {
			g->no_mbuf++;
			rte_pause();
			continue;
		}
		for (i = 0; i < GEN_BURST; i++) {
			struct rte_mbuf *m = ms[i];
			uint16_t l = fr->len[k];

			rte_memcpy(rte_pktmbuf_mtod(m, void *), fr->bytes + fr->off[k], l);
			m->data_len = l;
			m->pkt_len = l;
			m->port = 0;
			if (++k == fr->n)
				k = 0;
		}
		if (g->demote)
			for (i = 0; i < GEN_BURST; i++)
				mbuf_demote(ms[i]);
		sent = 0;
		for (;;) {
			sent += rte_ring_sp_enqueue_burst(g->r, (void **)ms + sent,
							  GEN_BURST - sent, NULL);
			if (sent == GEN_BURST)
				break;
			g->full++;
			if (__atomic_load_n(&g->stop, __ATOMIC_RELAXED)) {
				rte_pktmbuf_free_bulk(ms + sent, GEN_BURST - sent);
				break;
			}
			rte_pause();
		}
		g->enq += sent;
	}
	g->cpu_ns = dpb_thread_cpu_ns() - c0;
	return 0;
}

/*
 * --ring-touch: an RX callback (inside rte_eth_rx_burst, so outside the
 * worker's own accounting) reads each mbuf's header lines and first data
 * line, as the pcap PMD's copy leaves them in the worker's cache, but
 * without its stream out of a preload: what is left in the own cycles is
 * the worker's processing and its flow table. --ring-touch-write stores the
 * same values back, so the lines are owned (modified) in the worker's L1 as
 * after the pcap PMD's copy, not shared with the generator's cache.
 */
static uint16_t
touch_cb(uint16_t port __rte_unused, uint16_t queue __rte_unused, struct rte_mbuf **pkts,
	 uint16_t n, uint16_t max __rte_unused, void *arg)
{
	const int *on = arg;
	uint64_t x = 0;

	if (*on == 0)
		return n;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		volatile uint8_t *d = rte_pktmbuf_mtod(m, volatile uint8_t *);

		if (*on == 2) {
			/* --ring-touch-write: the same bytes stored back, the lines owned here */
			((volatile struct rte_mbuf *)m)->port = m->port;
			*(volatile uint64_t *)((uint8_t *)m + RTE_CACHE_LINE_SIZE) =
				*(volatile uint64_t *)((uint8_t *)m + RTE_CACHE_LINE_SIZE);
			d[0] = d[0];
			continue;
		}
		x += *(const volatile uint64_t *)m;
		x += *(const volatile uint64_t *)((const uint8_t *)m + RTE_CACHE_LINE_SIZE);
		x += d[0];
	}
	RTE_SET_USED(x);
	return n;
}

struct phase {
	uint64_t polls, empty, pkts, busy_cyc, tsc, cpu_ns;
};

/*
 * The worker loop on the ring port (io == false), or io-forward on the same
 * ports (io == true), for seconds. busy_cyc: the TSC of the polls that found
 * packets (as testpmd --record-core-cycles counts), two rdtsc per poll.
 */
static void
run_phase(struct dpb_dp *d, bool io, double seconds, struct phase *ph)
{
	uint64_t hz = rte_get_tsc_hz(), t0 = rte_rdtsc(), c0 = dpb_thread_cpu_ns();
	uint64_t end = t0 + (uint64_t)(seconds * (double)hz), a, b;
	uint16_t in = d->app->port_id[0], out = d->app->port_id[1];
	struct rte_mbuf *pk[DP_BURST];
	unsigned int n, t;

	memset(ph, 0, sizeof(*ph));
	for (;;) {
		a = rte_rdtsc();
		if (io) {
			n = rte_eth_rx_burst(in, 0, pk, DP_BURST);
			if (n > 0) {
				t = rte_eth_tx_burst(out, 0, pk, (uint16_t)n);
				if (t < n)
					rte_pktmbuf_free_bulk(pk + t, n - t);
			}
		} else {
			n = dp_worker_poll(d->w);
		}
		b = rte_rdtsc();
		ph->polls++;
		if (n == 0) {
			ph->empty++;
		} else {
			ph->pkts += n;
			ph->busy_cyc += b - a;
		}
		if ((ph->polls & 255) == 0) {
			if (b >= end)
				break;
			if (!io)
				dpb_dp_drain(d);
		}
	}
	ph->tsc = rte_rdtsc() - t0;
	ph->cpu_ns = dpb_thread_cpu_ns() - c0;
}

/* Ports for --ring-rx: port 0 the ring ethdev, port 1 net_null (no-rx). */
static int
ring_ports(struct rte_ring **rx, struct rte_ring **tx)
{
	uint16_t pid;
	int ret, port;

	if (rte_eth_dev_count_avail() != 0) {
		fprintf(stderr, "dpbench: fastpath --ring-rx makes its own ports: no --vdev\n");
		return -EINVAL;
	}
	*rx = rte_ring_create("cpb_ring_rx", RING_RX_SIZE, (int)rte_socket_id(),
			      RING_F_SP_ENQ | RING_F_SC_DEQ);
	*tx = rte_ring_create("cpb_ring_tx", RING_TX_SIZE, (int)rte_socket_id(),
			      RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (*rx == NULL || *tx == NULL)
		return -ENOMEM;
	port = rte_eth_from_rings("cpb_ring0", rx, 1, tx, 1, rte_socket_id());
	if (port < 0)
		return -rte_errno;
	ret = rte_eal_hotplug_add("vdev", "net_null0", "no-rx=1");
	if (ret != 0)
		return ret;
	if (rte_eth_dev_get_port_by_name("net_null0", &pid) != 0 || port != 0 || pid != 1) {
		fprintf(stderr, "dpbench: --ring-rx: ports %d and %u, not 0 and 1\n", port, pid);
		return -EINVAL;
	}
	return 0;
}

int
dpb_fastpath_ring(const struct dpb_opts *o)
{
	struct rte_ring *rx = NULL, *tx = NULL;
	struct frames fr;
	struct phase wp, iop;
	struct gen g;
	struct dpb_dp d;
	struct dpb_snap a, b;
	uint64_t hz = rte_get_tsc_hz();
	double hs_rate = 0, share, iosh, pps, io_pps, own, busy, io_busy, empty, io_empty;
	unsigned int gl;
	bool ok = true, launched = false;
	static int touch_on;
	int ret;

	memset(&d, 0, sizeof(d));
	memset(&g, 0, sizeof(g));
	if (o->policy == NULL || o->pcap == NULL) {
		fprintf(stderr, "dpbench: fastpath --ring-rx needs --policy and --pcap (the "
			"gen-fast capture)\n");
		return -EINVAL;
	}
	gl = rte_get_next_lcore(-1, 1, 0);
	if (gl >= RTE_MAX_LCORE) {
		fprintf(stderr, "dpbench: fastpath --ring-rx needs a second lcore for the "
			"generator (-l 0,1 --main-lcore 1)\n");
		return -EINVAL;
	}
	ret = frames_load(&fr, o->pcap);
	if (ret != 0) {
		fprintf(stderr, "dpbench: %s: %s\n", o->pcap, strerror(-ret));
		return ret;
	}
	ret = ring_ports(&rx, &tx);
	if (ret != 0)
		goto out;
	ret = dpb_fast_start(&d, o, RING_POOL);
	if (ret != 0)
		goto out;
	/* what the worker sends to port 0 (the handshakes' server packets) is freed */
	d.drain_ring = tx;
	fprintf(stderr, "dpbench: fastpath --ring-rx: %" PRIu64 " frames; handshakes of %u "
		"flows\n", fr.n, o->flows);
	ret = dpb_fast_establish(&d, o, "fastpath --ring-rx", &hs_rate);
	if (ret != 0)
		goto out;
	g.mp = d.app->rx_pool;
	g.r = rx;
	g.fr = &fr;
	g.demote = o->ring_demote;
	if (o->ring_touch || o->ring_touch_write) {
		touch_on = o->ring_touch_write ? 2 : 1;
		if (rte_eth_add_rx_callback(d.app->port_id[0], 0, touch_cb, &touch_on) == NULL) {
			fprintf(stderr, "dpbench: --ring-touch: no RX callbacks in this DPDK\n");
			ret = -ENOTSUP;
			goto out;
		}
	}
	ret = rte_eal_remote_launch(gen_main, &g, gl);
	if (ret != 0)
		goto out;
	launched = true;
	run_phase(&d, false, o->warmup, &wp);
	dpb_snap_take(&d, &a);
	run_phase(&d, false, o->seconds, &wp);
	dpb_snap_take(&d, &b);
	share = (double)wp.cpu_ns * 1e-9 / ((double)wp.tsc / (double)hz);
	pps = (double)wp.pkts / ((double)wp.cpu_ns * 1e-9);
	own = b.prof_pkts > a.prof_pkts ?
	      (double)(b.prof_cyc - a.prof_cyc) / (double)(b.prof_pkts - a.prof_pkts) * share : 0;
	busy = wp.pkts ? (double)wp.busy_cyc / (double)wp.pkts * share : 0;
	empty = wp.polls ? (double)wp.empty / (double)wp.polls : 0;
	if (b.rx - a.rx != wp.pkts || b.created != a.created || b.midstream != a.midstream ||
	    b.dropped != a.dropped || wp.pkts == 0) {
		fprintf(stderr, "dpbench: fastpath --ring-rx: not the fast path: %" PRIu64
			" received (%" PRIu64 " by the loop), %" PRIu64 " flows created, %" PRIu64
			" midstream, %" PRIu64 " dropped\n", b.rx - a.rx, wp.pkts,
			b.created - a.created, b.midstream - a.midstream, b.dropped - a.dropped);
		ok = false;
	}
	/* the baseline: io-forward on the same ports, the same generator still running */
	__atomic_store_n(&touch_on, 0, __ATOMIC_RELAXED);
	run_phase(&d, true, o->warmup / 2, &iop);
	run_phase(&d, true, o->seconds, &iop);
	iosh = (double)iop.cpu_ns * 1e-9 / ((double)iop.tsc / (double)hz);
	io_pps = (double)iop.pkts / ((double)iop.cpu_ns * 1e-9);
	io_busy = iop.pkts ? (double)iop.busy_cyc / (double)iop.pkts * iosh : 0;
	io_empty = iop.polls ? (double)iop.empty / (double)iop.polls : 0;
	__atomic_store_n(&g.stop, 1, __ATOMIC_RELAXED);
	rte_eal_wait_lcore(gl);
	launched = false;
	printf("{\"bench\":\"fastpath-ring\",\"size\":\"%s\",\"flows\":%u,\"frames\":%" PRIu64
	       ",\"ring\":%u,\"pool\":%u,\"seconds\":%.3f,\"cpu_share\":%.3f,\"rx\":%" PRIu64
	       ",\"mpps\":%.3f,\"mpps_wall\":%.3f,\"own_cycles_per_pkt\":%.1f,"
	       "\"busy_cycles_per_pkt\":%.1f,\"cycles_per_pkt\":%.1f,\"empty_polls\":%.4f,"
	       "\"io_mpps\":%.3f,\"io_busy_cycles_per_pkt\":%.1f,\"io_empty_polls\":%.4f,"
	       "\"io_cpu_share\":%.3f,\"gen_mpps_cpu\":%.3f,\"gen_full\":%" PRIu64
	       ",\"gen_no_mbuf\":%" PRIu64 ",\"tsc_hz\":%" PRIu64 ",\"handshakes_per_s\":%.0f,"
	       "\"active\":%u,\"demote\":%s,\"touch\":%s,\"burst\":%.1f,\"io_burst\":%.1f}\n",
	       dpb_size_name(o->size), o->flows, fr.n, RING_RX_SIZE, RING_POOL,
	       (double)wp.tsc / (double)hz, share, wp.pkts, pps / 1e6,
	       (double)wp.pkts / ((double)wp.tsc / (double)hz) / 1e6, own, busy,
	       pps > 0 ? (double)hz / pps : 0.0, empty, io_pps / 1e6, io_busy, io_empty, iosh,
	       g.cpu_ns ? (double)g.enq * 1e3 / (double)g.cpu_ns : 0.0, g.full, g.no_mbuf, hz,
	       hs_rate, d.w->ft.active, g.demote ? "true" : "false",
	       o->ring_touch_write ? "\"write\"" : o->ring_touch ? "true" : "false",
	       wp.polls > wp.empty ? (double)wp.pkts / (double)(wp.polls - wp.empty) : 0.0,
	       iop.polls > iop.empty ? (double)iop.pkts / (double)(iop.polls - iop.empty) : 0.0);
	fprintf(stderr, "dpbench: fastpath --ring-rx %s: %.2f Mpps per CPU-second, %.1f own "
		"cycles/packet, %.1f in non-empty polls, %.1f%% of polls empty; io-forward "
		"%.2f Mpps, %.1f cycles/packet, %.1f%% empty; generator %.2f Mpps per its "
		"CPU-second\n", dpb_size_name(o->size), pps / 1e6, own, busy, empty * 100,
		io_pps / 1e6, io_busy, io_empty * 100,
		g.cpu_ns ? (double)g.enq * 1e3 / (double)g.cpu_ns : 0.0);
	if (o->smoke) {
		ok &= dpb_sane("ring mpps", pps / 1e6, 0.001, 1000);
		ok &= dpb_sane("ring busy_cycles_per_pkt", busy, 1, 1e7);
		ok &= dpb_sane("ring io_mpps", io_pps / 1e6, 0.001, 1000);
		ok &= dpb_sane("ring io_busy_cycles_per_pkt", io_busy, 1, 1e7);
		if (o->prof)
			ok &= dpb_sane("ring own_cycles_per_pkt", own, 1, 1e7);
	}
	ret = ok ? 0 : -EINVAL;
out:
	if (launched) {
		__atomic_store_n(&g.stop, 1, __ATOMIC_RELAXED);
		rte_eal_wait_lcore(gl);
	}
	if (d.app != NULL) {
		struct rte_mbuf *m;

		/* the mbufs still in the RX ring go back before the pool does */
		while (rte_ring_sc_dequeue(rx, (void **)&m) == 0)
			rte_pktmbuf_free(m);
	}
	dpb_dp_stop(&d);
	frames_free(&fr);
	return ret;
}
