/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpbench_fast.c: the fast path. gen-fast writes one data packet per flow
 * (client -> server, a TLS application-data record after the flow's
 * ClientHello, in a random order of the flows, sizes 64 B / IMIX / 1518 B);
 * fastpath sends every flow's handshake through the worker first, so that
 * the capture, replayed by the pcap PMD with infinite_rx on port 0, finds
 * N established, allowed flows, then runs the worker loop itself
 * (dp_worker_poll) and counts packets per second and the cycles of
 * chokepoint's own processing (the worker's rdtsc accounting). Port 1 is a
 * null PMD: what the worker forwards is freed there. testpmd runs on the
 * same two vdevs for the baselines (bench/bench.py).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "cp_policy.h"
#include "dp_flow.h"
#include "dp_policy.h"
#include "dp_worker.h"
#include "dpbench.h"

int
dpb_gen_fast(const struct dpb_opts *o)
{
	uint8_t payload[1600], frame[1600];
	struct dpb_pcap pc;
	struct dpb_flow f;
	uint32_t *rl, *perm, i, len, plen;
	uint64_t ts = 1764115200ull * 1000000;
	int ret;

	if (o->out == NULL) {
		fprintf(stderr, "dpbench: gen-fast needs --out PCAP\n");
		return -EINVAL;
	}
	rl = calloc(o->flows, sizeof(*rl));
	perm = malloc((size_t)o->flows * sizeof(*perm));
	if (rl == NULL || perm == NULL) {
		free(rl);
		free(perm);
		return -ENOMEM;
	}
	ret = dpb_request_lengths(o, rl);
	if (ret != 0)
		goto out;
	/* a random order of the flows: the table is walked, not streamed */
	for (i = 0; i < o->flows; i++)
		perm[i] = i;
	for (i = o->flows - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(dpb_mix64(i ^ (o->seed << 40)) % (i + 1)), t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(dpb_mix64(i) & 0xff);
	ret = dpb_pcap_open(&pc, o->out);
	for (i = 0; ret == 0 && i < o->flows; i++) {
		uint32_t fi = perm[i];

		len = dpb_size_at(o->size, i);
		plen = len - 54;
		/* one whole TLS application_data record */
		payload[0] = 0x17;
		payload[1] = 0x03;
		payload[2] = 0x03;
		payload[3] = (uint8_t)((plen - 5) >> 8);
		payload[4] = (uint8_t)(plen - 5);
		dpb_flow_of(fi, 443, &f);
		f.ipv6 = o->ipv6;
		len = dpb_frame(frame, &f, 1, 0x18, f.isn + 1 + rl[fi], f.sisn + 1, payload, plen);
		ret = dpb_pcap_write(&pc, frame, len, ts++);
	}
	if (dpb_pcap_close(&pc) != 0 && ret == 0)
		ret = -EIO;
	if (ret == 0) {
		fprintf(stderr, "dpbench: wrote %s: %u flows, %" PRIu64 " packets, %s\n", o->out,
			o->flows, pc.pkts, dpb_size_name(o->size));
		printf("{\"bench\":\"gen-fast\",\"flows\":%u,\"packets\":%" PRIu64
		       ",\"bytes\":%" PRIu64 ",\"size\":\"%s\"}\n", o->flows, pc.pkts, pc.bytes,
		       dpb_size_name(o->size));
	}
out:
	free(rl);
	free(perm);
	return ret;
}

void
dpb_snap_take(const struct dpb_dp *d, struct dpb_snap *s)
{
	s->rx = dpb_counter(d, DP_C_RX_PKTS);
	s->tx = dpb_counter(d, DP_C_TX_PKTS);
	s->dropped = dpb_counter(d, DP_C_DROPPED) + dpb_counter(d, DP_C_TX_DROPPED);
	s->created = dpb_counter(d, DP_C_FLOWS_CREATED);
	s->midstream = dpb_counter(d, DP_C_MIDSTREAM);
	s->prof_cyc = d->w->prof_cycles;
	s->prof_pkts = d->w->prof_pkts;
	s->tsc = rte_rdtsc();
	s->cpu_ns = dpb_thread_cpu_ns();
}

int
dpb_fast_start(struct dpb_dp *d, const struct dpb_opts *o, uint32_t pool_n)
{
	uint32_t table = o->table ? o->table : o->flows + o->flows / 8 + 1024;
	/* headroom + the largest frame (bench.py gives testpmd the same) */
	uint16_t room = RTE_PKTMBUF_HEADROOM + (o->size == DPB_SIZE_64 ? 128 : 1536);

	return dpb_dp_start(d, o, table, pool_n, room);
}

int
dpb_fast_establish(struct dpb_dp *d, const struct dpb_opts *o, const char *what,
		   double *hs_rate)
{
	uint32_t *rl = NULL;
	uint64_t allow;
	int ret;

	ret = dpb_handshakes(d, o, &rl, hs_rate);
	free(rl);
	if (ret != 0)
		return ret;
	allow = dpb_counter(d, DP_C_ALLOW);
	if (allow != o->flows || d->w->ft.active != o->flows) {
		fprintf(stderr, "dpbench: %s: %" PRIu64 " of %u flows allowed, %u active\n", what,
			allow, o->flows, d->w->ft.active);
		return -EINVAL;
	}
	return 0;
}

/* Run the worker loop for seconds. */
static void
run_for(struct dpb_dp *d, double seconds)
{
	uint64_t end = rte_rdtsc() + (uint64_t)(seconds * (double)rte_get_tsc_hz());
	unsigned int k = 0;

	for (;;) {
		dp_worker_poll(d->w);
		if ((++k & 255) == 0) {
			if (rte_rdtsc() >= end)
				break;
			dpb_dp_drain(d);
		}
	}
}

int
dpb_fastpath(const struct dpb_opts *o)
{
	struct dpb_snap a, b;
	struct dpb_dp d;
	uint64_t hz = rte_get_tsc_hz();
	double hs_rate = 0, secs, cpu, share, pps, own, total;
	int ret;
	bool ok = true;

	if (o->policy == NULL) {
		fprintf(stderr, "dpbench: fastpath needs --policy\n");
		return -EINVAL;
	}
	if (rte_eth_dev_count_avail() < 2) {
		fprintf(stderr, "dpbench: fastpath needs port 0 = net_pcap rx_pcap=<gen-fast "
			"capture>,infinite_rx=1 and port 1 = net_null no-rx=1\n");
		return -EINVAL;
	}
	/* the pcap PMD copies the whole capture into mbufs of this pool */
	ret = dpb_fast_start(&d, o, o->flows + 16384);
	if (ret != 0)
		goto out;
	fprintf(stderr, "dpbench: fastpath: handshakes of %u flows\n", o->flows);
	ret = dpb_fast_establish(&d, o, "fastpath", &hs_rate);
	if (ret != 0)
		goto out;
	fprintf(stderr, "dpbench: fastpath: %u flows allowed (%.0f handshakes/s); measuring "
		"%.1f s after %.1f s\n", o->flows, hs_rate, o->seconds, o->warmup);
	run_for(&d, o->warmup);
	dpb_snap_take(&d, &a);
	run_for(&d, o->seconds);
	dpb_snap_take(&d, &b);
	secs = (double)(b.tsc - a.tsc) / (double)hz;
	cpu = (double)(b.cpu_ns - a.cpu_ns) * 1e-9;
	share = cpu / secs;
	/*
	 * Per CPU-second of the worker thread: the rate one core gives when it
	 * has the core. On a shared machine the wall-clock rate (and the TSC
	 * inside the loop) also counts the time other processes had it; the
	 * rdtsc accounting of own processing is scaled by the same share
	 * (preemption falls anywhere in the loop, in proportion to time).
	 */
	pps = (double)(b.rx - a.rx) / cpu;
	own = b.prof_pkts > a.prof_pkts ?
	      (double)(b.prof_cyc - a.prof_cyc) / (double)(b.prof_pkts - a.prof_pkts) * share : 0;
	total = (double)hz / pps;
	printf("{\"bench\":\"fastpath\",\"size\":\"%s\",\"flows\":%u,\"seconds\":%.3f,"
	       "\"cpu_s\":%.3f,\"cpu_share\":%.3f,\"mpps_wall\":%.3f,"
	       "\"rx\":%" PRIu64 ",\"tx\":%" PRIu64 ",\"mpps\":%.3f,\"cycles_per_pkt\":%.1f,"
	       "\"own_cycles_per_pkt\":%.1f,\"tsc_hz\":%" PRIu64 ",\"dropped\":%" PRIu64
	       ",\"flows_created\":%" PRIu64 ",\"midstream\":%" PRIu64 ",\"active\":%u,"
	       "\"handshakes_per_s\":%.0f,\"sizeof_flow\":%zu,\"worker_bytes_per_entry\":%.0f,"
	       "\"table_huge_bytes\":%zu,\"prof\":%s}\n",
	       dpb_size_name(o->size), o->flows, secs, cpu, share,
	       (double)(b.rx - a.rx) / secs / 1e6, b.rx - a.rx, b.tx - a.tx, pps / 1e6, total,
	       own, hz, b.dropped - a.dropped, b.created - a.created, b.midstream - a.midstream,
	       d.w->ft.active, hs_rate, sizeof(struct dp_flow), (double)d.worker_bytes / d.w->ft.capacity,
	       dp_flow_table_huge_bytes(&d.w->ft), o->prof ? "true" : "false");
	fprintf(stderr, "dpbench: fastpath %s: %.2f Mpps per CPU-second (%.1f cycles/packet, %.1f "
		"own; the thread had %.0f%% of the CPU), %u flows; flow table %.1f of %.1f MB in "
		"huge pages\n", dpb_size_name(o->size), pps / 1e6, total, own, share * 100,
		o->flows, (double)dp_flow_table_huge_bytes(&d.w->ft) / 1e6,
		(double)d.w->ft.map_len / 1e6);
	/* the capture is all established, allowed flows: nothing new, nothing dropped */
	if (b.created != a.created || b.dropped != a.dropped || b.midstream != a.midstream ||
	    b.rx == a.rx) {
		fprintf(stderr, "dpbench: fastpath: not the fast path: %" PRIu64 " flows created, %"
			PRIu64 " dropped, %" PRIu64 " midstream while measuring\n",
			b.created - a.created, b.dropped - a.dropped, b.midstream - a.midstream);
		ok = false;
	}
	if (o->smoke) {
		ok &= dpb_sane("fastpath mpps", pps / 1e6, 0.001, 1000);
		ok &= dpb_sane("fastpath cycles_per_pkt", total, 1, 1e7);
		if (o->prof)
			ok &= dpb_sane("fastpath own_cycles_per_pkt", own, 1, 1e7);
	}
	ret = ok ? 0 : -EINVAL;
out:
	dpb_dp_stop(&d);
	return ret;
}

/* ---- reload: policy swaps under steady load ------------------------------------ */

struct reload_ctl {
	struct dp_proc *app;
	struct cp_policy *pol;
	unsigned int n;          /* reloads to do */
	double interval;         /* seconds between them */
	unsigned int done, failed;
	double live_ms_max, live_ms_sum;   /* POLICY to live (build aside + publish) */
	double freed_ms_max;     /* live to the old generation freed (RCU) */
	int finished;            /* atomic */
	int bad_load_ok;         /* a load that fails changed nothing and said why */
	char err[256];
};

/*
 * The control thread's part, as dp_ctl.c does it: each reload is built by
 * the loader thread, published here, and the old generation freed by the
 * non-blocking RCU check once the worker has passed a quiescent state.
 */
static void *
reload_main(void *arg)
{
	struct reload_ctl *c = arg;

	/* first, a load that must fail (sha256 not the blob's): nothing changes, it says why */
	{
		struct dp_msg_policy msg;
		struct dp_policy_load *l;
		const struct dp_gen *before = dp_policy_live(c->app);
		char why[256] = "";
		int fd = cp_policy_memfd(c->pol);

		memset(&msg, 0, sizeof(msg));
		msg.gen = 1000;
		msg.blob_len = c->pol->blob_len;
		memset(msg.sha256, 0xee, sizeof(msg.sha256));
		l = fd >= 0 ? dp_policy_load_new(c->app, fd, &msg) : NULL;
		if (fd >= 0)
			close(fd);
		if (l != NULL && dp_policy_load_start(l) == 0) {
			while (!dp_policy_load_done(l))
				usleep(100);
			c->bad_load_ok = dp_policy_load_finish(c->app, l, why, sizeof(why)) != 0 &&
					 dp_policy_live(c->app) == before && strstr(why, "sha256") != NULL;
		} else {
			dp_policy_load_free(l);
		}
		if (!c->bad_load_ok)
			snprintf(c->err, sizeof(c->err), "a bad load was not refused cleanly: '%s'", why);
	}
	for (unsigned int i = 0; i < c->n; i++) {
		struct dp_msg_policy msg;
		struct dp_policy_load *l;
		double t0, t1, t2;
		int fd, ret;

		fd = cp_policy_memfd(c->pol);
		if (fd < 0) {
			c->failed++;
			continue;
		}
		memset(&msg, 0, sizeof(msg));
		msg.gen = 2 + i;
		msg.blob_len = c->pol->blob_len;
		memcpy(msg.sha256, c->pol->sha256, sizeof(msg.sha256));
		t0 = dpb_now();
		l = dp_policy_load_new(c->app, fd, &msg);
		close(fd);
		if (l == NULL || dp_policy_load_start(l) != 0) {
			dp_policy_load_free(l);
			c->failed++;
			continue;
		}
		while (!dp_policy_load_done(l))
			usleep(100);
		ret = dp_policy_load_finish(c->app, l, c->err, sizeof(c->err));
		t1 = dpb_now();
		if (ret != 0) {
			c->failed++;
			continue;
		}
		while (c->app->retired != NULL) {
			dp_policy_reclaim(c->app);
			usleep(100);
		}
		t2 = dpb_now();
		c->done++;
		c->live_ms_sum += (t1 - t0) * 1e3;
		if ((t1 - t0) * 1e3 > c->live_ms_max)
			c->live_ms_max = (t1 - t0) * 1e3;
		if ((t2 - t1) * 1e3 > c->freed_ms_max)
			c->freed_ms_max = (t2 - t1) * 1e3;
		if (i + 1 < c->n)
			usleep((useconds_t)(c->interval * 1e6));
	}
	__atomic_store_n(&c->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Run the worker loop (draining its events) for at least `seconds`, and, when
 * done is given, until it is set too. Returns the longest loop in TSC cycles.
 */
static uint64_t
poll_timed(struct dpb_dp *d, double seconds, const int *done)
{
	double t0 = dpb_now();
	uint64_t last = rte_rdtsc(), gap = 0;

	for (unsigned int k = 0;; k++) {
		uint64_t now;

		dp_worker_poll(d->w);
		now = rte_rdtsc();
		if (now - last > gap)
			gap = now - last;
		last = now;
		if ((k & 255) == 0) {
			dpb_dp_drain(d);
			if ((done == NULL || __atomic_load_n(done, __ATOMIC_ACQUIRE)) &&
			    dpb_now() - t0 >= seconds)
				break;
		}
	}
	return gap;
}

int
dpb_reload(const struct dpb_opts *o)
{
	struct reload_ctl c;
	struct dpb_snap a, b, w0, w1;
	struct dpb_dp d;
	pthread_t tid;
	char err[4096] = "";
	uint64_t hz = rte_get_tsc_hz(), gap_max = 0, gap_base = 0, reval0, revoked0, lost;
	uint64_t noname0;
	double hs_rate = 0, t0;
	bool ok = true;
	int ret;

	memset(&c, 0, sizeof(c));
	if (o->policy == NULL || o->reload_policy == NULL || o->reloads == 0) {
		fprintf(stderr, "dpbench: reload needs --policy, --reload-policy and --reloads\n");
		return -EINVAL;
	}
	if (rte_eth_dev_count_avail() < 2) {
		fprintf(stderr, "dpbench: reload needs the fastpath ports (net_pcap infinite_rx, "
			"net_null)\n");
		return -EINVAL;
	}
	ret = cp_policy_compile_file(o->reload_policy, &c.pol, err, sizeof(err));
	if (ret != 0) {
		fprintf(stderr, "dpbench: %s: %s\n%s", o->reload_policy, strerror(-ret), err);
		return ret;
	}
	ret = dpb_fast_start(&d, o, o->flows + 16384);
	if (ret != 0)
		goto out;
	ret = dpb_fast_establish(&d, o, "reload", &hs_rate);
	if (ret != 0)
		goto out;
	/* warm-up: the longest worker loop and the rate without reloads, for comparison */
	dpb_snap_take(&d, &w0);
	gap_base = poll_timed(&d, o->warmup, NULL);
	dpb_snap_take(&d, &w1);
	c.app = d.app;
	c.n = o->reloads;
	c.interval = o->seconds / o->reloads;
	reval0 = dpb_counter(&d, DP_C_REVALIDATED);
	revoked0 = dpb_counter(&d, DP_C_REVOKED);
	noname0 = dpb_counter(&d, DP_C_REVAL_NO_NAME);
	dpb_snap_take(&d, &a);
	ret = pthread_create(&tid, NULL, reload_main, &c);
	if (ret != 0) {
		ret = -ret;
		goto out;
	}
	{
		/*
		 * As in chokepoint-dp, where the control thread (and the loader
		 * threads it starts) runs on the main lcore and the workers on
		 * others: keep the reloads off the worker's CPU when there is another.
		 */
		rte_cpuset_t wk = rte_lcore_cpuset(rte_lcore_id()), ctl;
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		CPU_ZERO(&ctl);
		for (long i = 0; i < n && i < CPU_SETSIZE; i++)
			if (!CPU_ISSET(i, &wk))
				CPU_SET(i, &ctl);
		if (CPU_COUNT(&ctl) > 0)
			pthread_setaffinity_np(tid, sizeof(ctl), &ctl);
	}
	/* the worker loop on this thread while the reloads happen; the longest loop noted */
	t0 = dpb_now();
	gap_max = poll_timed(&d, o->seconds, &c.finished);
	pthread_join(tid, NULL);
	/* the last generation's walk, if any, to its end (revalidate = true) */
	while (d.w->reval_left > 0)
		dp_worker_poll(d.w);
	dpb_dp_drain(&d);
	dpb_snap_take(&d, &b);
	/* every packet received was forwarded: nothing dropped, nothing held */
	lost = (b.rx - a.rx) - (b.tx - a.tx);
	printf("{\"bench\":\"reload\",\"size\":\"%s\",\"flows\":%u,\"reloads\":%u,"
	       "\"failed\":%u,\"seconds\":%.3f,\"rx\":%" PRIu64 ",\"tx\":%" PRIu64
	       ",\"dropped\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"flows_created\":%" PRIu64
	       ",\"revalidated\":%" PRIu64 ",\"revoked\":%" PRIu64 ",\"reval_no_name\":%" PRIu64
	       ",\"live_ms_mean\":%.2f,\"live_ms_max\":%.2f,\"freed_ms_max\":%.2f,"
	       "\"longest_loop_us\":%.1f,\"longest_loop_us_no_reload\":%.1f,"
	       "\"policy_bytes\":%zu,\"active\":%u,\"bad_load_refused\":%s,"
	       "\"mpps_cpu\":%.3f,\"mpps_cpu_no_reload\":%.3f}\n",
	       dpb_size_name(o->size), o->flows, c.done, c.failed, dpb_now() - t0, b.rx - a.rx,
	       b.tx - a.tx, b.dropped - a.dropped, lost, b.created - a.created,
	       dpb_counter(&d, DP_C_REVALIDATED) - reval0, dpb_counter(&d, DP_C_REVOKED) - revoked0,
	       dpb_counter(&d, DP_C_REVAL_NO_NAME) - noname0,
	       c.done ? c.live_ms_sum / c.done : 0.0, c.live_ms_max, c.freed_ms_max,
	       (double)gap_max * 1e6 / (double)hz, (double)gap_base * 1e6 / (double)hz,
	       c.pol->blob_len, d.w->ft.active, c.bad_load_ok ? "true" : "false",
	       b.cpu_ns > a.cpu_ns ? (double)(b.rx - a.rx) * 1e3 / (double)(b.cpu_ns - a.cpu_ns) : 0.0,
	       w1.cpu_ns > w0.cpu_ns ?
	       (double)(w1.rx - w0.rx) * 1e3 / (double)(w1.cpu_ns - w0.cpu_ns) : 0.0);
	fprintf(stderr, "dpbench: reload: %u reloads under %" PRIu64 " packets of %u established "
		"flows: %" PRIu64 " lost, %" PRIu64 " dropped; POLICY to live %.1f ms mean, "
		"%.1f max; longest worker loop %.0f us\n", c.done, b.rx - a.rx, o->flows, lost,
		b.dropped - a.dropped, c.done ? c.live_ms_sum / c.done : 0.0, c.live_ms_max,
		(double)gap_max * 1e6 / (double)hz);
	if (!c.bad_load_ok) {
		fprintf(stderr, "dpbench: reload: %s\n", c.err);
		ok = false;
	}
	if (c.failed != 0 || c.done != o->reloads) {
		fprintf(stderr, "dpbench: reload: %u of %u reloads failed: %s\n", c.failed,
			o->reloads, c.err);
		ok = false;
	}
	/* correctness, not speed: a reload must not cost a packet or a flow */
	if (lost != 0 || b.dropped != a.dropped || b.created != a.created ||
	    d.w->ft.active != o->flows || b.rx == a.rx) {
		fprintf(stderr, "dpbench: reload: packets lost or flows disturbed\n");
		ok = false;
	}
	if (o->smoke)
		ok &= dpb_sane("reload live_ms_max", c.live_ms_max, 0.001, 600000);
	ret = ok ? 0 : -EINVAL;
out:
	dpb_dp_stop(&d);
	cp_policy_free(c.pol);
	return ret;
}
