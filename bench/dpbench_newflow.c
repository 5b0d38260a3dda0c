/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpbench_newflow.c: new flows per second per core (and the policy and the
 * capture it and ndpiReader read).
 *
 * Every flow has a fresh tuple and goes through the real worker
 * (dp_worker_inject): SYN, SYN-ACK, ACK, a captured ClientHello (8 clients,
 * Chromium's in two segments) or HTTP request head with its name replaced,
 * then, if allowed, the server's ACK and the client's RST. The worker holds
 * the request, extracts SNI/Host, ALPN, versions, JA4, matches the policy
 * (gen-policy: 10,000 names; --regex N: and N regex names), releases or
 * resets, writes the flow.decision event; the events are drained from its
 * ring as the control thread would.
 * Building the frames (copies and checksums) is not counted: only the
 * cycles inside dp_worker_inject and the drain are.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <rte_cycles.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "dp_flow.h"
#include "dp_worker.h"
#include "dpbench.h"

#define BATCH 32

/* ---- gen-policy --------------------------------------------------------------- */

int
dpb_gen_policy(const struct dpb_opts *o)
{
	static const char *const w1[] = { "api", "cdn", "auth", "hooks", "edge", "files",
					  "inference", "models", "static", "events" };
	static const char *const w2[] = { "vendor", "cloud", "svc", "data", "mesh", "infra",
					  "ai", "ml", "ops", "net" };
	static const char *const tld[] = { "com", "net", "org", "io", "ai", "dev" };
	char path[4096];
	FILE *fn, *fc;
	uint32_t k;

	if (o->out == NULL) {
		fprintf(stderr, "dpbench: gen-policy needs --out DIR\n");
		return -EINVAL;
	}
	if (mkdir(o->out, 0755) != 0 && errno != EEXIST) {
		perror(o->out);
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/names.txt", o->out);
	fn = fopen(path, "w");
	if (fn == NULL) {
		perror(path);
		return -errno;
	}
	/* 90 % exact names of 3 or 4 labels, 10 % suffixes (".x" = x and below) */
	for (k = 0; k < o->names; k++) {
		uint64_t h = dpb_mix64(k ^ (o->seed << 32));

		if (k % 10 == 9)
			fprintf(fn, ".zone%u.%s%u.example\n", k, w2[h % 10], (unsigned)(h >> 40) % 100);
		else if (h & 0x100)
			fprintf(fn, "%s%u.%s.%s\n", w1[(h >> 8) % 10], k, w2[(h >> 16) % 10],
				tld[(h >> 24) % 6]);
		else
			fprintf(fn, "%s.r%u.%s%u.%s\n", w1[(h >> 8) % 10], k, w2[(h >> 16) % 10],
				(unsigned)(h >> 40) % 1000, tld[(h >> 24) % 6]);
	}
	if (fclose(fn) != 0)
		return -EIO;
	snprintf(path, sizeof(path), "%s/chokepoint.conf", o->out);
	fc = fopen(path, "w");
	if (fc == NULL) {
		perror(path);
		return -errno;
	}
	fprintf(fc,
		"# chokepoint-dpbench gen-policy: %u names (allowlist), everything else denied\n"
		"mode = \"enforce\";\n"
		"default = \"deny\";\n"
		"rules = (\n"
		"  { id = \"imds\"; action = \"deny\"; dst = [\"169.254.169.254/32\"]; },\n"
		"  { id = \"bench-names\"; action = \"allow\"; sni_file = \"names.txt\";\n"
		"    host_file = \"names.txt\"; dport = (80, 443); }", o->names);
	if (o->regex > 0) {
		/* --regex N: N Hyperscan names rK-<anything>.api.example.org, SNI and Host */
		static const char *const key[] = { "sni_regex", "host_regex" };

		fprintf(fc, ",\n  { id = \"bench-regex\"; action = \"allow\"; dport = (80, 443);");
		for (unsigned int x = 0; x < 2; x++) {
			fprintf(fc, "\n    %s = [", key[x]);
			for (k = 0; k < o->regex; k++)
				fprintf(fc, "%s\"^r%u-[a-z0-9]+\\\\.api\\\\.example\\\\.org$\"",
					k == 0 ? "\n      " : k % 8 == 0 ? ",\n      " : ", ", k);
			fprintf(fc, " ];");
		}
		fprintf(fc, " }");
	}
	fprintf(fc, "\n);\naudit = { path = \"audit.jsonl\"; };\n");
	if (fclose(fc) != 0)
		return -EIO;
	fprintf(stderr, "dpbench: wrote %s and %s/names.txt (%u names, %u regex names)\n", path,
		o->out, o->names, o->regex);
	printf("{\"bench\":\"gen-policy\",\"names\":%u,\"regex\":%u,\"config\":\"%s\"}\n",
	       o->names, o->regex, path);
	return 0;
}

/* ---- flows -------------------------------------------------------------------- */

struct dpb_gen {
	struct dpb_tmpls ts;
	struct dpb_names nl;
};

static int
gen_init(struct dpb_gen *g, const struct dpb_opts *o)
{
	int ret;

	memset(g, 0, sizeof(*g));
	if (o->names_file == NULL) {
		fprintf(stderr, "dpbench: needs --names-file (gen-policy writes one)\n");
		return -EINVAL;
	}
	ret = dpb_tmpls_load(&g->ts, o->data_dir);
	if (ret != 0)
		return ret;
	ret = dpb_names_load(&g->nl, o->names_file);
	if (ret != 0)
		dpb_tmpls_free(&g->ts);
	return ret;
}

static void
gen_fini(struct dpb_gen *g)
{
	dpb_names_free(&g->nl);
	dpb_tmpls_free(&g->ts);
}

/*
 * The packets of flow i (tail: DPB_TAIL_*; a denied flow gets no tail: the
 * dataplane resets it). Returns the count, 0 on a template error.
 */
static unsigned int
flow_pkts(uint32_t i, const struct dpb_opts *o, const struct dpb_gen *g, unsigned int tail,
	  struct dpb_pkt *out, int *denied, int *http, uint32_t *req_len)
{
	uint8_t req[4096];
	struct dpb_flow f;
	uint16_t dport;
	int len;

	len = dpb_newflow_request(i, o, &g->ts, &g->nl, req, sizeof(req), denied, &dport, http);
	if (len <= 0)
		return 0;
	*req_len = (uint32_t)len;
	dpb_flow_of(i, dport, &f);
	f.ipv6 = o->ipv6;
	return dpb_newflow_pkts(&f, req, (uint32_t)len, *denied ? 0 : tail, out);
}

int
dpb_gen_newflow(const struct dpb_opts *o)
{
	static struct dpb_pkt pk[DPB_FLOW_PKTS_MAX];
	struct dpb_pcap pc;
	struct dpb_gen g;
	uint64_t ts = 1764115200ull * 1000000;  /* 2025-11-26 */
	uint32_t i, rl;
	unsigned int n, k;
	int ret, denied, http;

	if (o->out == NULL) {
		fprintf(stderr, "dpbench: gen-newflow needs --out PCAP\n");
		return -EINVAL;
	}
	ret = gen_init(&g, o);
	if (ret != 0)
		return ret;
	ret = dpb_pcap_open(&pc, o->out);
	for (i = 0; ret == 0 && i < o->flows; i++) {
		n = flow_pkts(i, o, &g, DPB_TAIL_SACK | DPB_TAIL_RST, pk, &denied, &http, &rl);
		if (n == 0)
			ret = -EINVAL;
		for (k = 0; ret == 0 && k < n; k++)
			ret = dpb_pcap_write(&pc, pk[k].frame, pk[k].len, ts++);
	}
	if (dpb_pcap_close(&pc) != 0 && ret == 0)
		ret = -EIO;
	if (ret == 0)
		fprintf(stderr, "dpbench: wrote %s: %u flows, %" PRIu64 " packets\n", o->out,
			o->flows, pc.pkts);
	printf("{\"bench\":\"gen-newflow\",\"flows\":%u,\"packets\":%" PRIu64 "}\n", o->flows,
	       pc.pkts);
	gen_fini(&g);
	return ret;
}

/* ---- injection ------------------------------------------------------------------- */

/*
 * Inject the packets of nf flows, run by run (a run is a flow's consecutive
 * packets from one side: SYN | SYN-ACK | ACK + request | server ACK | RST),
 * all flows' run r together so the worker sees bursts. Returns the TSC
 * cycles spent in the worker and in draining its events; the mbuf copies are
 * made before and not counted.
 */
uint64_t
dpb_inject_flows(struct dpb_dp *d, struct rte_mempool *gp, struct dpb_pkt (*pk)[DPB_FLOW_PKTS_MAX],
		 const unsigned int *cnt, unsigned int nf)
{
	struct rte_mbuf *runs[6][BATCH * 4];
	unsigned int nr[6] = { 0 }, f, k, r, maxr = 0;
	uint64_t t0, c0, cyc;

	for (f = 0; f < nf; f++) {
		r = 0;
		for (k = 0; k < cnt[f]; k++) {
			struct rte_mbuf *m;

			if (k > 0 && pk[f][k].side != pk[f][k - 1].side)
				r++;
			if (r >= 6 || nr[r] == RTE_DIM(runs[r]))
				break;
			m = rte_pktmbuf_alloc(gp);
			if (m == NULL)
				break;
			memcpy(rte_pktmbuf_mtod(m, void *), pk[f][k].frame, pk[f][k].len);
			m->data_len = pk[f][k].len;
			m->pkt_len = pk[f][k].len;
			runs[r][nr[r]++] = m;
			if (r + 1 > maxr)
				maxr = r + 1;
		}
	}
	c0 = dpb_thread_cpu_ns();
	t0 = rte_rdtsc();
	for (r = 0; r < maxr; r++)
		if (nr[r] > 0)
			dp_worker_inject(d->w, (uint16_t)(r & 1), runs[r], nr[r]);
	dpb_dp_drain(d);
	cyc = rte_rdtsc() - t0;
	d->cpu_ns += dpb_thread_cpu_ns() - c0;
	return cyc;
}

/* ---- newflow ---------------------------------------------------------------------- */

int
dpb_newflow(const struct dpb_opts *o)
{
	static struct dpb_pkt pk[BATCH][DPB_FLOW_PKTS_MAX];
	unsigned int cnt[BATCH];
	struct rte_mempool *gp;
	struct dpb_dp d;
	struct dpb_gen g;
	uint64_t cyc = 0, pkts = 0, n_denied = 0, n_http = 0, req_bytes = 0;
	uint64_t hz = rte_get_tsc_hz();
	uint32_t table = o->table ? o->table : o->flows + o->flows / 4 + 1024;
	uint32_t i, rl;
	double t0, wall, fps, cpf, c0_pkts = 0;
	int ret, denied, http;
	bool ok = true;

	if (o->policy == NULL) {
		fprintf(stderr, "dpbench: newflow needs --policy (gen-policy writes one)\n");
		return -EINVAL;
	}
	ret = gen_init(&g, o);
	if (ret != 0)
		return ret;
	ret = dpb_dp_start(&d, o, table, 8192, RTE_MBUF_DEFAULT_BUF_SIZE);
	if (ret != 0)
		goto out;
	gp = rte_pktmbuf_pool_create("dpb_gen", 4096, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     (int)rte_socket_id());
	if (gp == NULL) {
		ret = -ENOMEM;
		goto out_dp;
	}
	fprintf(stderr, "dpbench: newflow: %u flows, table %u, %u%% HTTP, %u%% unlisted names\n",
		o->flows, table, o->http_pct, o->deny_pct);
	t0 = dpb_now();
	for (i = 0; i < o->flows;) {
		unsigned int nf = 0;

		for (; nf < BATCH && i < o->flows; nf++, i++) {
			cnt[nf] = flow_pkts(i, o, &g, DPB_TAIL_SACK | DPB_TAIL_RST, pk[nf], &denied,
					    &http, &rl);
			if (cnt[nf] == 0) {
				ret = -EINVAL;
				goto out_dp;
			}
			pkts += cnt[nf];
			n_denied += (uint64_t)denied;
			n_http += (uint64_t)http;
			req_bytes += rl;
		}
		cyc += dpb_inject_flows(&d, gp, pk, cnt, nf);
	}
	wall = dpb_now() - t0;
	c0_pkts = (double)pkts;
	/* per CPU-second of this thread: what one core does when it has the core */
	cpf = (double)d.cpu_ns * 1e-9 * (double)hz / o->flows;
	fps = (double)o->flows / ((double)d.cpu_ns * 1e-9);
	printf("{\"bench\":\"newflow\",\"flows\":%u,\"packets\":%.0f,\"http\":%" PRIu64
	       ",\"unlisted\":%" PRIu64 ",\"avg_request_bytes\":%.0f,\"cycles_per_flow\":%.0f,"
	       "\"flows_per_s\":%.0f,\"flows_per_s_tsc\":%.0f,\"cpu_share\":%.3f,"
	       "\"wall_s\":%.3f,\"tsc_hz\":%" PRIu64 ",\"decisions\":%" PRIu64
	       ",\"allow\":%" PRIu64 ",\"deny\":%" PRIu64 ",\"events_lost\":%" PRIu64
	       ",\"table_full\":%" PRIu64 ",\"rst_sent\":%" PRIu64 ",\"flows_created\":%" PRIu64
	       ",\"sizeof_flow\":%zu,\"policy_compile_ms\":%.1f,\"policy_load_ms\":%.1f,"
	       "\"policy_blob\":%zu,\"policy_loaded\":%zu,\"anon_huge_kb\":%" PRIu64 "}\n",
	       o->flows, c0_pkts, n_http, n_denied, (double)req_bytes / o->flows, cpf, fps,
	       (double)o->flows * (double)hz / (double)cyc,
	       (double)d.cpu_ns * 1e-9 * (double)hz / (double)cyc, wall, hz, d.decisions, d.ev_allow, d.ev_deny, dpb_counter(&d, DP_C_EVENTS_LOST),
	       dpb_counter(&d, DP_C_TABLE_FULL), dpb_counter(&d, DP_C_RST_SENT),
	       dpb_counter(&d, DP_C_FLOWS_CREATED), sizeof(struct dp_flow), d.policy_compile_ms,
	       d.policy_load_ms, d.policy_blob, d.policy_loaded, d.anon_huge_kb);
	fprintf(stderr, "dpbench: newflow: %.0f new flows/s per core (%.0f cycles/flow, %.1f "
		"packets/flow), %" PRIu64 " decisions (%" PRIu64 " allow, %" PRIu64 " deny)\n",
		fps, cpf, c0_pkts / o->flows, d.decisions, d.ev_allow, d.ev_deny);
	/* every flow decided once, exactly the unlisted names denied: always checked */
	if (d.decisions != o->flows || d.ev_deny != n_denied ||
	    dpb_counter(&d, DP_C_FLOWS_CREATED) != o->flows ||
	    dpb_counter(&d, DP_C_EVENTS_LOST) != 0 || dpb_counter(&d, DP_C_TABLE_FULL) != 0) {
		fprintf(stderr, "dpbench: newflow: wrong outcome: %" PRIu64 " decisions (%" PRIu64
			" deny, %" PRIu64 " expected), %" PRIu64 " flows created, %" PRIu64
			" events lost, %" PRIu64 " table full\n", d.decisions, d.ev_deny, n_denied,
			dpb_counter(&d, DP_C_FLOWS_CREATED), dpb_counter(&d, DP_C_EVENTS_LOST),
			dpb_counter(&d, DP_C_TABLE_FULL));
		ok = false;
	}
	if (o->smoke)
		ok &= dpb_sane("newflow flows_per_s", fps, 1000, 1e8) &
		      dpb_sane("newflow cycles_per_flow", cpf, 10, 1e8);
	ret = ok ? 0 : -EINVAL;
out_dp:
	dpb_dp_stop(&d);
out:
	gen_fini(&g);
	return ret;
}

/* ---- fast-path handshakes (dpbench_fast.c) ------------------------------------------- */

int
dpb_handshakes(struct dpb_dp *d, const struct dpb_opts *o, uint32_t **req_len_out,
	       double *rate)
{
	static struct dpb_pkt pk[BATCH][DPB_FLOW_PKTS_MAX];
	unsigned int cnt[BATCH];
	struct rte_mempool *gp;
	struct dpb_opts ho = *o;
	struct dpb_gen g;
	uint64_t cyc = 0;
	uint32_t i, *rl;
	int ret = 0, denied, http;

	ho.http_pct = 0;
	ho.deny_pct = 0;
	ret = gen_init(&g, &ho);
	if (ret != 0)
		return ret;
	rl = calloc(o->flows, sizeof(*rl));
	gp = rte_pktmbuf_pool_create("dpb_gen", 4096, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     (int)rte_socket_id());
	if (rl == NULL || gp == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < o->flows;) {
		unsigned int nf = 0;

		for (; nf < BATCH && i < o->flows; nf++, i++) {
			cnt[nf] = flow_pkts(i, &ho, &g, DPB_TAIL_SACK | DPB_TAIL_DATA, pk[nf],
					    &denied, &http, &rl[i]);
			if (cnt[nf] == 0) {
				ret = -EINVAL;
				goto out;
			}
		}
		cyc += dpb_inject_flows(d, gp, pk, cnt, nf);
	}
	*rate = (double)o->flows * (double)rte_get_tsc_hz() / (double)cyc;
	*req_len_out = rl;
	rl = NULL;
out:
	free(rl);
	rte_mempool_free(gp);
	gen_fini(&g);
	return ret;
}

/* The request length of every flow, as dpb_handshakes sends them (gen-fast). */
int
dpb_request_lengths(const struct dpb_opts *o, uint32_t *rl)
{
	struct dpb_opts ho = *o;
	struct dpb_gen g;
	uint8_t req[4096];
	uint16_t dport;
	int ret, denied, http, len;

	ho.http_pct = 0;
	ho.deny_pct = 0;
	ret = gen_init(&g, &ho);
	if (ret != 0)
		return ret;
	for (uint32_t i = 0; i < o->flows; i++) {
		len = dpb_newflow_request(i, &ho, &g.ts, &g.nl, req, sizeof(req), &denied, &dport,
					  &http);
		if (len <= 0) {
			ret = -EINVAL;
			break;
		}
		rl[i] = (uint32_t)len;
	}
	gen_fini(&g);
	return ret;
}
