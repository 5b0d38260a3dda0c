/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpbench_main.c: chokepoint-dpbench command line, and the dataplane set up
 * inside this process the way chokepoint-dp sets itself up (dp_main.c):
 * ports, pools, one worker, the policy loaded from a sealed memfd.
 *
 *   chokepoint-dpbench gen-policy  --names N [--regex N] --out DIR
 *   chokepoint-dpbench gen-fast    --flows N --size 64|imix|1518 --names-file F --out PCAP
 *   chokepoint-dpbench gen-newflow --flows N --names-file F [--regex N --regex-pct P]
 *                                  [--stacks N [--stacks-sigalgs]] --out PCAP
 *   chokepoint-dpbench [EAL options] -- fastpath  --flows N --policy CONF --names-file F
 *                                        [--size ..] [--seconds S] [--warmup S]
 *      (port 0: net_pcap rx_pcap=<gen-fast capture>,infinite_rx=1; port 1: net_null no-rx=1)
 *   chokepoint-dpbench -l 0,1 --main-lcore 1 [EAL options] -- fastpath --ring-rx --pcap P ...
 *      (no --vdev: port 0 a ring ethdev fed by a generator lcore, port 1 net_null)
 *   chokepoint-dpbench [EAL options] -- newflow   --flows N --policy CONF --names-file F
 *                                        [--http-pct P] [--deny-pct P]
 *      (ports 0 and 1: net_null no-rx=1; the flows are injected)
 *   chokepoint-dpbench [EAL options] -- flowtable --flows N [--lookups M]
 *   chokepoint-dpbench [EAL options] -- reload    --flows N --policy CONF --names-file F
 *                                        --reload-policy CONF2 --reloads K [--seconds S]
 *      (fastpath's ports and traffic; K reloads of CONF2 through the loader thread over
 *       S seconds while the worker forwards: packets lost must be 0)
 *   common: [--seed N] [--data-dir tests/data] [--smoke] [--no-prof]
 *
 * Figures: one JSON object per line on stdout. --smoke (meson test --suite
 * bench) exits 1 when a figure is zero, not finite or absurd, or a flow got
 * the wrong verdict; it never judges speed.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring_elem.h>

#include "cp_policy.h"
#include "cpm.h"
#include "dp.h"
#include "dp_policy.h"
#include "dp_port.h"
#include "dp_worker.h"
#include "dpbench.h"

static struct dp_proc app;

double
dpb_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t
dpb_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool
dpb_sane(const char *what, double v, double lo, double hi)
{
	if (isfinite(v) && v >= lo && v <= hi)
		return true;
	fprintf(stderr, "dpbench: smoke: %s = %g is outside [%g, %g]\n", what, v, lo, hi);
	return false;
}

/* AnonHugePages of this process, kB (transparent huge pages in use) */
static uint64_t
anon_huge_kb(void)
{
	unsigned long long kb = 0;
	char line[256];
	FILE *fp = fopen("/proc/self/smaps_rollup", "r");

	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "AnonHugePages: %llu kB", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

static int
load_policy(struct dp_proc *a, struct dpb_dp *d, const char *path)
{
	struct dp_msg_policy msg;
	struct cp_policy *pol = NULL;
	char err[4096] = "";
	double t0 = dpb_now(), t1;
	int fd, ret;

	ret = cp_policy_compile_file(path, &pol, err, sizeof(err));
	t1 = dpb_now();
	if (ret != 0) {
		fprintf(stderr, "dpbench: policy %s: %s\n%s", path, strerror(-ret), err);
		return ret;
	}
	fd = cp_policy_memfd(pol);
	if (fd < 0) {
		cp_policy_free(pol);
		return fd;
	}
	memset(&msg, 0, sizeof(msg));
	msg.gen = 1;
	msg.blob_len = pol->blob_len;
	memcpy(msg.sha256, pol->sha256, sizeof(msg.sha256));
	ret = dp_policy_apply(a, fd, &msg, err, sizeof(err));
	close(fd);
	d->policy_compile_ms = (t1 - t0) * 1e3;
	d->policy_load_ms = (dpb_now() - t1) * 1e3;
	d->policy_blob = pol->blob_len;
	if (ret == 0 && dp_policy_live(a) != NULL)
		d->policy_loaded = cpm_policy_size(dp_policy_live(a)->pol);
	d->anon_huge_kb = anon_huge_kb();
	if (ret != 0)
		fprintf(stderr, "dpbench: policy %s rejected by the dataplane: %s\n", path, err);
	else
		fprintf(stderr, "dpbench: policy %s: %u rules\n", path, pol->n_rules);
	cp_policy_free(pol);
	return ret;
}

static size_t
heap_used(void)
{
	struct rte_malloc_socket_stats st;

	if (rte_malloc_get_socket_stats((int)rte_socket_id(), &st) != 0)
		return 0;
	return st.heap_allocsz_bytes;
}

int
dpb_dp_start(struct dpb_dp *d, const struct dpb_opts *o, uint32_t table, uint32_t pool_n,
	     uint16_t data_room)
{
	int socket = (int)rte_socket_id(), ret;
	unsigned int i;
	size_t before;

	memset(d, 0, sizeof(*d));
	memset(&app, 0, sizeof(app));
	app.cfg.mode = DP_MODE_WIRE;
	app.cfg.ctl_fd = -1;
	app.cfg.n_workers = 1;
	app.cfg.flows = table;
	app.cfg.hold_mbufs = 8192;
	app.cfg.event_ring = 4096;
	app.cfg.idle_sleep_max_us = 0;
	app.cfg.names = o->name_slots;
	app.cfg.v6_flows = o->ipv6 ? table : 0;
	for (i = 0; i < DP_MAX_PORTS; i++)
		app.cfg.linktype[i] = DP_LINK_ETHERNET;
	app.mbuf_ts.off = -1;
	if (getrandom(app.boot_id, sizeof(app.boot_id), 0) != (ssize_t)sizeof(app.boot_id))
		return -EIO;
	dp_clock_init(&app.clock);
	app.start_ns = dp_realtime_ns();

	ret = dp_ports_select(&app);
	if (ret != 0)
		return ret;
	app.rx_pool = rte_pktmbuf_pool_create("dp_rx", pool_n, DP_POOL_CACHE, 0, data_room,
					      socket);
	app.hold_pool = rte_pktmbuf_pool_create("dp_hold", app.cfg.hold_mbufs, 64, 0,
						RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (app.rx_pool == NULL || app.hold_pool == NULL) {
		fprintf(stderr, "dpbench: pools (%u x %u B): %s; raise -m\n", pool_n, data_room,
			rte_strerror(rte_errno));
		return -ENOMEM;
	}
	ret = dp_policy_init(&app);
	if (ret != 0)
		return ret;
	before = heap_used();
	ret = dp_worker_create(&app, 0, socket, &app.workers[0]);
	if (ret != 0) {
		fprintf(stderr, "dpbench: worker (%u flows): %s; raise -m\n", table, strerror(-ret));
		return ret;
	}
	d->w = app.workers[0];
	d->w->prof = o->prof;
	/* the flow table's arrays are in their own mapping with --no-huge (dp_flow.c) */
	d->worker_bytes = heap_used() - before + d->w->ft.map_len;
	ret = dp_ports_start(&app);
	if (ret != 0)
		return ret;
	if (o->policy != NULL) {
		ret = load_policy(&app, d, o->policy);
		if (ret != 0)
			return ret;
	}
	rte_rcu_qsbr_thread_register(app.rcu, 0);
	rte_rcu_qsbr_thread_online(app.rcu, 0);
	d->app = &app;
	return 0;
}

void
dpb_dp_stop(struct dpb_dp *d)
{
	if (d->app == NULL)
		return;
	dpb_dp_drain(d);
	rte_rcu_qsbr_thread_offline(app.rcu, 0);
	rte_rcu_qsbr_thread_unregister(app.rcu, 0);
	dp_ports_stop(&app);
	dp_worker_destroy(app.workers[0]);
	app.workers[0] = NULL;
	dp_policy_fini(&app);
	d->app = NULL;
}

unsigned int
dpb_dp_drain(struct dpb_dp *d)
{
	static struct dp_event ev[64];
	unsigned int n, i, total = 0;

	do {
		n = rte_ring_dequeue_burst_elem(d->w->evq.r, ev, sizeof(ev[0]), 64, NULL);
		for (i = 0; i < n; i++) {
			switch (ev[i].type) {
			case DP_EV_DECISION:
				d->decisions++;
				if (ev[i].verdict == DP_VERDICT_ALLOW)
					d->ev_allow++;
				else if (ev[i].verdict == DP_VERDICT_DENY)
					d->ev_deny++;
				break;
			case DP_EV_END:
				d->ends++;
				break;
			default:
				d->gaps++;
				break;
			}
		}
		total += n;
	} while (n == 64);
	d->events += total;
	if (d->drain_ring != NULL) {
		struct rte_mbuf *m[64];

		while ((n = rte_ring_dequeue_burst(d->drain_ring, (void **)m, 64, NULL)) > 0)
			rte_pktmbuf_free_bulk(m, n);
	}
	return total;
}

uint64_t
dpb_counter(const struct dpb_dp *d, unsigned int k)
{
	return d->w->c[k];
}

static void
usage(FILE *out)
{
	fprintf(out,
		"usage: chokepoint-dpbench gen-policy|gen-fast|gen-newflow [options]\n"
		"       chokepoint-dpbench [EAL options] -- fastpath|newflow|flowtable|reload [options]\n"
		"  --flows N --table N --size 64|imix|1518 --seconds S --warmup S --seed N\n"
		"  --names N --names-file F --http-pct P --deny-pct P --lookups M\n"
		"  --policy CONF --out PATH --data-dir DIR --smoke --no-prof\n"
		"  --reload-policy CONF --reloads K --name-slots N --regex N --regex-pct P\n"
		"  --policy-thp (load the policy from a copy in transparent huge pages)\n"
		"  --ipv6 (gen-fast, fastpath, newflow: the flows over IPv6, frames 20 B longer;\n"
		"          the table's IPv6 address records as many as its flows)\n"
		"  --ring-rx --pcap P (fastpath: port 0 a ring ethdev fed from the gen-fast\n"
		"          capture P by a generator on the second lcore, port 1 net_null; no\n"
		"          --vdev; EAL -l 0,1 --main-lcore 1; then io-forward on the same ports)\n"
		"  --ring-demote (--ring-rx: the generator cldemotes the lines it wrote to the\n"
		"          shared LLC, where a NIC's DDIO write leaves them)\n"
		"  --ring-touch (--ring-rx: an RX callback reads each mbuf's lines, outside the\n"
		"          own cycles, as the pcap PMD's copy leaves them in the worker's cache)\n"
		"  --ring-touch-write (the same, storing the bytes back: the lines owned, as a copy\n"
		"          leaves them)\n"
		"  --stacks N (gen-newflow, newflow: flow i's ClientHello gets its cipher suites\n"
		"          permuted by a permutation chosen from i mod N, as N client stacks would\n"
		"          send them: same bytes and lengths, same JA4, but the JA4 memo's key, the\n"
		"          list in wire order, differs; 0: as captured)\n"
		"  --stacks-sigalgs (--stacks: signature_algorithms permuted too, which the JA4\n"
		"          memo of the extension hash keys on; JA4's third part then differs)\n");
}

static int
parse_num(const char *opt, const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max)) {
		fprintf(stderr, "dpbench: %s: '%s' is not a number in %g..%g\n", opt, s, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int
parse_opts(int argc, char **argv, struct dpb_opts *o)
{
	enum { O_FLOWS = 256, O_TABLE, O_SIZE, O_SECONDS, O_WARMUP, O_SEED, O_NAMES,
	       O_NAMES_FILE, O_HTTP, O_DENY, O_LOOKUPS, O_POLICY, O_OUT, O_DATA, O_SMOKE,
	       O_NOPROF, O_HELP, O_RELOAD_POLICY, O_RELOADS, O_NAME_SLOTS, O_REGEX, O_REGEX_PCT,
	       O_THP, O_IPV6, O_RING_RX, O_PCAP, O_RING_DEMOTE, O_RING_TOUCH, O_RING_TOUCH_WRITE,
	       O_STACKS, O_STACKS_SIGALGS };
	static const struct option opts[] = {
		{ "flows", required_argument, NULL, O_FLOWS },
		{ "table", required_argument, NULL, O_TABLE },
		{ "size", required_argument, NULL, O_SIZE },
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "warmup", required_argument, NULL, O_WARMUP },
		{ "seed", required_argument, NULL, O_SEED },
		{ "names", required_argument, NULL, O_NAMES },
		{ "names-file", required_argument, NULL, O_NAMES_FILE },
		{ "http-pct", required_argument, NULL, O_HTTP },
		{ "deny-pct", required_argument, NULL, O_DENY },
		{ "lookups", required_argument, NULL, O_LOOKUPS },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "out", required_argument, NULL, O_OUT },
		{ "data-dir", required_argument, NULL, O_DATA },
		{ "smoke", no_argument, NULL, O_SMOKE },
		{ "no-prof", no_argument, NULL, O_NOPROF },
		{ "help", no_argument, NULL, O_HELP },
		{ "reload-policy", required_argument, NULL, O_RELOAD_POLICY },
		{ "reloads", required_argument, NULL, O_RELOADS },
		{ "name-slots", required_argument, NULL, O_NAME_SLOTS },
		{ "regex", required_argument, NULL, O_REGEX },
		{ "regex-pct", required_argument, NULL, O_REGEX_PCT },
		{ "policy-thp", no_argument, NULL, O_THP },
		{ "ipv6", no_argument, NULL, O_IPV6 },
		{ "ring-rx", no_argument, NULL, O_RING_RX },
		{ "pcap", required_argument, NULL, O_PCAP },
		{ "ring-demote", no_argument, NULL, O_RING_DEMOTE },
		{ "ring-touch", no_argument, NULL, O_RING_TOUCH },
		{ "ring-touch-write", no_argument, NULL, O_RING_TOUCH_WRITE },
		{ "stacks", required_argument, NULL, O_STACKS },
		{ "stacks-sigalgs", no_argument, NULL, O_STACKS_SIGALGS },
		{ NULL, 0, NULL, 0 },
	};
	double v;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_FLOWS:
			if (parse_num("--flows", optarg, 1, 1 << 26, &v) != 0)
				return -EINVAL;
			o->flows = (uint32_t)v;
			break;
		case O_TABLE:
			if (parse_num("--table", optarg, 64, 1 << 26, &v) != 0)
				return -EINVAL;
			o->table = (uint32_t)v;
			break;
		case O_SIZE:
			if (strcmp(optarg, "64") == 0)
				o->size = DPB_SIZE_64;
			else if (strcmp(optarg, "imix") == 0)
				o->size = DPB_SIZE_IMIX;
			else if (strcmp(optarg, "1518") == 0)
				o->size = DPB_SIZE_1518;
			else {
				fprintf(stderr, "dpbench: --size: 64, imix or 1518\n");
				return -EINVAL;
			}
			break;
		case O_SECONDS:
			if (parse_num("--seconds", optarg, 0.01, 3600, &o->seconds) != 0)
				return -EINVAL;
			break;
		case O_WARMUP:
			if (parse_num("--warmup", optarg, 0, 3600, &o->warmup) != 0)
				return -EINVAL;
			break;
		case O_SEED:
			if (parse_num("--seed", optarg, 0, 1e15, &v) != 0)
				return -EINVAL;
			o->seed = (uint64_t)v;
			break;
		case O_NAMES:
			if (parse_num("--names", optarg, 1, 1e7, &v) != 0)
				return -EINVAL;
			o->names = (uint32_t)v;
			break;
		case O_NAMES_FILE:
			o->names_file = optarg;
			break;
		case O_HTTP:
			if (parse_num("--http-pct", optarg, 0, 100, &v) != 0)
				return -EINVAL;
			o->http_pct = (uint32_t)v;
			break;
		case O_THP:
			dp_policy_thp = 1;
			break;
		case O_IPV6:
			o->ipv6 = true;
			break;
		case O_RING_RX:
			o->ring_rx = true;
			break;
		case O_RING_TOUCH_WRITE:
			o->ring_touch_write = true;
			break;
		case O_RING_TOUCH:
			o->ring_touch = true;
			break;
		case O_RING_DEMOTE:
			o->ring_demote = true;
			break;
		case O_PCAP:
			o->pcap = optarg;
			break;
		case O_REGEX:
			if (parse_num("--regex", optarg, 0, 100000, &v) != 0)
				return -EINVAL;
			o->regex = (uint32_t)v;
			break;
		case O_STACKS:
			if (parse_num("--stacks", optarg, 0, 1 << 30, &v) != 0)
				return -EINVAL;
			o->stacks = (uint32_t)v;
			break;
		case O_STACKS_SIGALGS:
			o->stacks_sigalgs = true;
			break;
		case O_REGEX_PCT:
			if (parse_num("--regex-pct", optarg, 0, 100, &v) != 0)
				return -EINVAL;
			o->regex_pct = (uint32_t)v;
			break;
		case O_DENY:
			if (parse_num("--deny-pct", optarg, 0, 100, &v) != 0)
				return -EINVAL;
			o->deny_pct = (uint32_t)v;
			break;
		case O_LOOKUPS:
			if (parse_num("--lookups", optarg, 1, 1e12, &v) != 0)
				return -EINVAL;
			o->lookups = (uint64_t)v;
			break;
		case O_POLICY:
			o->policy = optarg;
			break;
		case O_OUT:
			o->out = optarg;
			break;
		case O_DATA:
			o->data_dir = optarg;
			break;
		case O_SMOKE:
			o->smoke = true;
			break;
		case O_NOPROF:
			o->prof = false;
			break;
		case O_RELOAD_POLICY:
			o->reload_policy = optarg;
			break;
		case O_RELOADS:
			if (parse_num("--reloads", optarg, 1, 100000, &v) != 0)
				return -EINVAL;
			o->reloads = (uint32_t)v;
			break;
		case O_NAME_SLOTS:
			if (parse_num("--name-slots", optarg, 64, 1 << 24, &v) != 0)
				return -EINVAL;
			o->name_slots = (uint32_t)v;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			fprintf(stderr, "dpbench: unknown or incomplete option '%s'\n",
				argv[optind - 1]);
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "dpbench: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static void
defaults(struct dpb_opts *o)
{
	const char *src = getenv("CHOKEPOINT_SRC");
	static char data[4096];

	memset(o, 0, sizeof(*o));
	o->flows = 1000000;
	o->seconds = 5;
	o->warmup = 1;
	o->seed = 1;
	o->names = 10000;
	o->http_pct = 20;
	o->deny_pct = 10;
	o->regex_pct = 5;
	o->lookups = 20000000;
	o->prof = true;
	snprintf(data, sizeof(data), "%s/tests/data", src != NULL ? src : ".");
	o->data_dir = data;
}

int
main(int argc, char **argv)
{
	struct dpb_opts o;
	const char *mode;
	int ret, eal = 0;

	defaults(&o);
	if (argc >= 2 && strncmp(argv[1], "gen-", 4) == 0) {
		mode = argv[1];
		if (parse_opts(argc - 1, argv + 1, &o) != 0)
			return 2;
		if (strcmp(mode, "gen-policy") == 0)
			ret = dpb_gen_policy(&o);
		else if (strcmp(mode, "gen-fast") == 0)
			ret = dpb_gen_fast(&o);
		else if (strcmp(mode, "gen-newflow") == 0)
			ret = dpb_gen_newflow(&o);
		else {
			usage(stderr);
			return 2;
		}
		return ret == 0 ? 0 : 1;
	}
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "dpbench: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 2;
	}
	eal = 1;
	argc -= ret;
	argv += ret;
	if (argc < 2) {
		usage(stderr);
		ret = 2;
		goto out;
	}
	mode = argv[1];
	if (parse_opts(argc - 1, argv + 1, &o) != 0) {
		ret = 2;
		goto out;
	}
	if (strcmp(mode, "fastpath") == 0 && o.ring_rx)
		ret = dpb_fastpath_ring(&o);
	else if (strcmp(mode, "fastpath") == 0)
		ret = dpb_fastpath(&o);
	else if (strcmp(mode, "newflow") == 0)
		ret = dpb_newflow(&o);
	else if (strcmp(mode, "flowtable") == 0)
		ret = dpb_flowtable(&o);
	else if (strcmp(mode, "reload") == 0)
		ret = dpb_reload(&o);
	else {
		usage(stderr);
		ret = 2;
		goto out;
	}
	ret = ret == 0 ? 0 : 1;
out:
	if (eal)
		rte_eal_cleanup();
	return ret;
}
