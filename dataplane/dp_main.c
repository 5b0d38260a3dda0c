/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_main.c: chokepoint-dp, the DPDK primary process.
 *
 *   chokepoint-dp [EAL options] -- [--mode wire|one-arm|replay] [--ctl PATH |
 *       --ctl-fd N] [--workers N] [--flows N] [--cold-flows N] [--v6-flows N]
 *       [--geneve-pairs N]
 *       [--hold-mbufs N] [--event-ring N]
 *       [--idle-sleep-max-us N] [--linktype PORT:DLT ...]
 *
 * Live: workers run on the non-main lcores (one context each, passed as the
 * lcore argument); the main lcore runs the control loop and never touches
 * packets. Replay: the single worker's poll function runs on the main lcore
 * between control steps, every capture is consumed in port order, every
 * flow is ended, every event sent, then DRAINED; the control plane answers
 * QUIT. Signals only set the quit flag.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_rcu_qsbr.h>

#define DP_PROTO_NAMES
#include "dp.h"
#include "dp_ctl.h"
#include "dp_local.h"
#include "dp_log.h"
#include "dp_policy.h"
#include "dp_port.h"
#include "dp_worker.h"

RTE_LOG_REGISTER_DEFAULT(dp_logtype_main, INFO);

#define DEFAULT_CTL "/run/chokepoint/dp.sock"
/*
 * Free event-ring entries the replay loop keeps before each worker step: a
 * burst writes at most 2 events per packet (an evicted flow's end and the
 * new flow's decision), aging at most 32 hold timeouts + 32 ends, shutdown
 * steps end 64 flows (decision + end each).
 */
#define REPLAY_EVENT_ROOM 256

static struct dp_proc app;

static void
on_signal(int sig)
{
	(void)sig;
	app.quit = 1;
}

static void
usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [EAL options] -- [options]\n"
		"  --mode wire|one-arm|replay|geneve|routed  default wire (port 0 inside, 1 outside)\n"
		"  --ctl PATH                  control plane socket (default %s)\n"
		"  --ctl-fd N                  inherited connected SOCK_SEQPACKET fd (replay)\n"
		"  --workers N                 worker lcores (default: EAL lcores - 1, min 1)\n"
		"  --flows N                   flow-table entries per worker (default 65536)\n"
		"  --cold-flows N              TCP flows per worker that may be pending, watched or\n"
		"                              denied at once (default all --flows up to 65536, else\n"
		"                              --flows/4, at least 65536; 48 B each)\n"
		"  --v6-flows N                IPv6 flows per worker (default all --flows up to\n"
		"                              65536, else --flows/16, at least 65536; 32 B each)\n"
		"  --geneve-pairs N            GENEVE (endpoint, attachment) pairs per worker with\n"
		"                              flows at once, 1..65534 (default %u; 28 B each)\n"
		"  --hold-mbufs N              hold pool size (default 8192)\n"
		"  --names N                   names kept per worker for its flows' records and for\n"
		"                              revalidation (default --flows/4, 64..16384; 264 B each)\n"
		"  --event-ring N              per-worker event ring entries, power of two (default 4096)\n"
		"  --event-retain N            events kept until the control plane acknowledges them\n"
		"                              (default 8192, %zu bytes each)\n"
		"  --idle-sleep-max-us N       idle back-off cap (default 100; 0 = never sleep)\n"
		"  --linktype PORT:DLT         link type of a port's frames (default 1, Ethernet)\n",
		prog, DEFAULT_CTL, DP_FLOW_ZONES, sizeof(struct dp_event));
	dp_local_usage(out);
}

static int
parse_u32(const char *opt, const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "chokepoint-dp: %s: '%s' is not a number in %u..%u\n", opt, s,
			min, max);
		return -EINVAL;
	}
	*out = (uint32_t)v;
	return 0;
}

static int
parse_args(int argc, char **argv, struct dp_config *cfg, int *workers_given)
{
	enum { O_MODE = 256, O_CTL, O_CTL_FD, O_WORKERS, O_FLOWS, O_HOLD, O_RING, O_RETAIN, O_IDLE,
	       O_NAMES, O_COLD, O_V6, O_ZONES,
	       O_LINK, O_HELP };
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, O_MODE },
		{ "ctl", required_argument, NULL, O_CTL },
		{ "ctl-fd", required_argument, NULL, O_CTL_FD },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "flows", required_argument, NULL, O_FLOWS },
		{ "hold-mbufs", required_argument, NULL, O_HOLD },
		{ "names", required_argument, NULL, O_NAMES },
		{ "cold-flows", required_argument, NULL, O_COLD },
		{ "v6-flows", required_argument, NULL, O_V6 },
		{ "geneve-pairs", required_argument, NULL, O_ZONES },
		{ "event-ring", required_argument, NULL, O_RING },
		{ "event-retain", required_argument, NULL, O_RETAIN },
		{ "idle-sleep-max-us", required_argument, NULL, O_IDLE },
		{ "linktype", required_argument, NULL, O_LINK },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t v, port;
	char *colon;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_MODE:
			if (strcmp(optarg, "wire") == 0)
				cfg->mode = DP_MODE_WIRE;
			else if (strcmp(optarg, "one-arm") == 0)
				cfg->mode = DP_MODE_ONEARM;
			else if (strcmp(optarg, "replay") == 0)
				cfg->mode = DP_MODE_REPLAY;
			else if (strcmp(optarg, "geneve") == 0)
				cfg->mode = DP_MODE_GENEVE;
			else if (strcmp(optarg, "routed") == 0)
				cfg->mode = DP_MODE_ROUTED;
			else {
				fprintf(stderr, "chokepoint-dp: --mode: '%s' is not wire, one-arm, "
					"replay, geneve or routed\n", optarg);
				return -EINVAL;
			}
			break;
		case O_CTL:
			if (strlen(optarg) == 0 || strlen(optarg) >= sizeof(cfg->ctl_path)) {
				fprintf(stderr, "chokepoint-dp: --ctl: path empty or longer than "
					"%zu bytes\n", sizeof(cfg->ctl_path) - 1);
				return -EINVAL;
			}
			snprintf(cfg->ctl_path, sizeof(cfg->ctl_path), "%s", optarg);
			break;
		case O_CTL_FD:
			if (parse_u32("--ctl-fd", optarg, 0, INT_MAX, &v) != 0)
				return -EINVAL;
			cfg->ctl_fd = (int)v;
			break;
		case O_WORKERS:
			if (parse_u32("--workers", optarg, 1, DP_MAX_WORKERS, &v) != 0)
				return -EINVAL;
			cfg->n_workers = v;
			*workers_given = 1;
			break;
		case O_FLOWS:
			if (parse_u32("--flows", optarg, 64, 1u << 26, &cfg->flows) != 0)
				return -EINVAL;
			break;
		case O_HOLD:
			if (parse_u32("--hold-mbufs", optarg, 64, 1u << 24, &cfg->hold_mbufs) != 0)
				return -EINVAL;
			break;
		case O_NAMES:
			if (parse_u32("--names", optarg, 64, 1u << 24, &cfg->names) != 0)
				return -EINVAL;
			break;
		case O_COLD:
			if (parse_u32("--cold-flows", optarg, 64, 1u << 26, &cfg->cold_flows) != 0)
				return -EINVAL;
			break;
		case O_V6:
			if (parse_u32("--v6-flows", optarg, 64, 1u << 26, &cfg->v6_flows) != 0)
				return -EINVAL;
			break;
		case O_ZONES:
			if (parse_u32("--geneve-pairs", optarg, 1, 65534, &cfg->geneve_pairs) != 0)
				return -EINVAL;
			break;
		case O_RING:
			if (parse_u32("--event-ring", optarg, 64, 1u << 24, &v) != 0)
				return -EINVAL;
			if (!rte_is_power_of_2(v)) {
				fprintf(stderr, "chokepoint-dp: --event-ring: %u is not a power "
					"of two\n", v);
				return -EINVAL;
			}
			cfg->event_ring = v;
			break;
		case O_RETAIN:
			if (parse_u32("--event-retain", optarg, 64, 1u << 24, &cfg->event_retain) != 0)
				return -EINVAL;
			break;
		case O_IDLE:
			if (parse_u32("--idle-sleep-max-us", optarg, 0, 1000000,
				      &cfg->idle_sleep_max_us) != 0)
				return -EINVAL;
			break;
		case O_LINK:
			colon = strchr(optarg, ':');
			if (colon == NULL) {
				fprintf(stderr, "chokepoint-dp: --linktype: '%s' is not PORT:DLT\n",
					optarg);
				return -EINVAL;
			}
			*colon = '\0';
			if (parse_u32("--linktype PORT", optarg, 0, DP_MAX_PORTS - 1, &port) != 0 ||
			    parse_u32("--linktype DLT", colon + 1, 0, 65535, &v) != 0)
				return -EINVAL;
			cfg->linktype[port] = (uint16_t)v;
			break;
		case O_HELP:
			usage(stdout, argv[0]);
			exit(0);
		default:
			fprintf(stderr, "chokepoint-dp: unknown or incomplete option '%s'\n",
				argv[optind - 1]);
			usage(stderr, argv[0]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "chokepoint-dp: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static int
check_config(struct dp_config *cfg, int workers_given)
{
	unsigned int lcores = rte_lcore_count();

	if (cfg->mode == DP_MODE_REPLAY) {
		if (workers_given && cfg->n_workers != 1) {
			fprintf(stderr, "chokepoint-dp: --mode replay runs one worker on the main "
				"lcore: --workers must be 1\n");
			return -EINVAL;
		}
		cfg->n_workers = 1;
		/* one loop can write up to ~128 events; replay never loses one */
		if (cfg->event_ring < 1024) {
			fprintf(stderr, "chokepoint-dp: replay: --event-ring raised to 1024\n");
			cfg->event_ring = 1024;
		}
		return 0;
	}
	if (cfg->ctl_fd >= 0 && cfg->ctl_path[0] != '\0') {
		fprintf(stderr, "chokepoint-dp: --ctl and --ctl-fd exclude each other\n");
		return -EINVAL;
	}
	if (lcores < 2) {
		fprintf(stderr, "chokepoint-dp: --mode %s needs a main lcore and at least one "
			"worker lcore (e.g. -l 0-1)\n", dp_mode_name(cfg->mode));
		return -EINVAL;
	}
	if (!workers_given)
		cfg->n_workers = RTE_MIN(lcores - 1, (unsigned int)DP_MAX_WORKERS);
	if (cfg->n_workers > lcores - 1) {
		fprintf(stderr, "chokepoint-dp: --workers %u needs %u worker lcores, EAL has %u\n",
			cfg->n_workers, cfg->n_workers, lcores - 1);
		return -EINVAL;
	}
	return 0;
}

static void
log_counters(void)
{
	uint64_t sum[DP_C_MAX] = { 0 };
	char line[2048];
	size_t off = 0;

	for (unsigned int i = 0; i < app.cfg.n_workers; i++)
		if (app.workers[i] != NULL)
			for (unsigned int k = 0; k < DP_C_MAX; k++)
				sum[k] += app.workers[i]->c[k];
	for (unsigned int k = 0; k < DP_C_MAX && off < sizeof(line); k++)
		if (sum[k] != 0)
			off += (size_t)snprintf(line + off, sizeof(line) - off, " %s=%llu",
						dp_counter_names[k], (unsigned long long)sum[k]);
	line[sizeof(line) - 1] = '\0';
	DP_LOG(main, NOTICE, "final counters:%s", off ? line : " (all zero)");
}

/* Live: workers on their lcores, the control loop here. */
static void
run_live(struct dp_ctl *ctl)
{
	unsigned int lcore, i = 0, stopped, moved = 0;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (i == app.cfg.n_workers)
			break;
		if (rte_eal_remote_launch(dp_worker_main, app.workers[i], lcore) != 0) {
			DP_LOG(main, ERR, "cannot launch worker %u on lcore %u", i, lcore);
			app.quit = 1;
			break;
		}
		i++;
	}
	/* events are in rings, not fds: a turn that moved some is followed at once */
	while (!app.quit) {
		moved = dp_ctl_step(ctl, moved > 0 ? 0 : 10);
		dp_local_tick(&app, dp_ctl_connected(ctl));    /* health (geneve, routed) */
	}
	DP_LOG(main, NOTICE, "stopping: workers end their flows");
	/* keep draining events while the workers end their flows */
	do {
		stopped = 0;
		for (unsigned int k = 0; k < i; k++)
			stopped += __atomic_load_n(&app.workers[k]->stopped, __ATOMIC_ACQUIRE);
		dp_ctl_step(ctl, 1);
	} while (stopped < i);
	rte_eal_mp_wait_lcore();
	/* last events out (bounded: the control plane may be gone) */
	for (int t = 0; t < 100 && dp_ctl_connected(ctl) && dp_ctl_pending(ctl) > 0; t++)
		dp_ctl_step(ctl, 10);
}

/* Replay: consume every capture in order, end every flow, send every event. */
static void
run_replay(struct dp_ctl *ctl)
{
	struct dp_worker *w = app.workers[0];
	enum { CONSUME, END, DRAIN, WAIT_QUIT } phase = CONSUME;

	rte_rcu_qsbr_thread_register(app.rcu, 0);
	rte_rcu_qsbr_thread_online(app.rcu, 0);
	while (!app.quit) {
		int busy = (phase == CONSUME || phase == END) && ctl->out_len == 0;

		/* the socket wakes poll() when a blocked batch can go */
		dp_ctl_step(ctl, busy && dp_policy_live(&app) != NULL ? 0 : 10);
		if (dp_policy_live(&app) == NULL)
			continue;               /* nothing before the policy */
		/* never let a burst overflow the event ring: replay loses nothing */
		if (ctl->out_len > 0 || dp_evq_free(&w->evq) < REPLAY_EVENT_ROOM)
			continue;
		switch (phase) {
		case CONSUME:
			dp_worker_poll(w);
			if (w->replay_done) {
				DP_LOG(main, INFO, "replay: every capture consumed, ending flows");
				phase = END;
			}
			break;
		case END:
			if (dp_worker_end_some(w, 64) == 0)
				phase = DRAIN;
			rte_rcu_qsbr_quiescent(app.rcu, 0);
			break;
		case DRAIN:
			if (dp_ctl_pending(ctl) == 0) {
				if (dp_ctl_send_drained(ctl) == 0) {
					DP_LOG(main, INFO, "replay: DRAINED sent");
					phase = WAIT_QUIT;
				}
			}
			break;
		case WAIT_QUIT:
			break;
		}
	}
	rte_rcu_qsbr_thread_offline(app.rcu, 0);
	rte_rcu_qsbr_thread_unregister(app.rcu, 0);
}

int
main(int argc, char **argv)
{
	struct dp_ctl ctl;
	int ret, workers_given = 0, ctl_ready = 0;
	unsigned int i;

	ret = rte_eal_init(argc, argv);
	if (ret < 0) {
		fprintf(stderr, "chokepoint-dp: EAL init failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	argc -= ret;
	argv += ret;
	argv[0] = (char *)"chokepoint-dp";
	/* the options of geneve / routed mode (dp_local.h) */
	argc = dp_local_args(argc, argv);
	if (argc < 0) {
		rte_eal_cleanup();
		return 1;
	}

	memset(&app, 0, sizeof(app));
	app.cfg.mode = DP_MODE_WIRE;
	app.cfg.ctl_fd = -1;
	app.cfg.flows = 65536;
	app.cfg.hold_mbufs = 8192;
	app.cfg.event_ring = 4096;
	app.cfg.event_retain = DP_CTL_RETAIN;
	app.cfg.idle_sleep_max_us = 100;
	for (i = 0; i < DP_MAX_PORTS; i++)
		app.cfg.linktype[i] = DP_LINK_ETHERNET;
	if (parse_args(argc, argv, &app.cfg, &workers_given) != 0 ||
	    check_config(&app.cfg, workers_given) != 0) {
		rte_eal_cleanup();
		return 1;
	}
	if (app.cfg.ctl_fd < 0 && app.cfg.ctl_path[0] == '\0')
		snprintf(app.cfg.ctl_path, sizeof(app.cfg.ctl_path), "%s", DEFAULT_CTL);

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	if (getrandom(app.boot_id, sizeof(app.boot_id), 0) != (ssize_t)sizeof(app.boot_id)) {
		DP_LOG(main, ERR, "getrandom: %s", strerror(errno));
		goto err_eal;
	}
	dp_clock_init(&app.clock);
	app.start_ns = dp_realtime_ns();

	if (dp_ports_select(&app) != 0 || dp_local_setup(&app) != 0 ||
	    dp_pools_create(&app) != 0)
		goto err_eal;
	if (dp_mbuf_ts_init(&app.mbuf_ts) != 0 && app.cfg.mode == DP_MODE_REPLAY)
		DP_LOG(main, WARNING, "no mbuf timestamp field: replay uses the realtime clock");
	ret = dp_policy_init(&app);
	if (ret != 0) {
		DP_LOG(main, ERR, "RCU init: %s", strerror(-ret));
		goto err_eal;
	}
	for (i = 0; i < app.cfg.n_workers; i++) {
		ret = dp_worker_create(&app, i, (int)rte_socket_id(), &app.workers[i]);
		if (ret != 0) {
			DP_LOG(main, ERR, "worker %u: cannot allocate its state (%s); "
			       "try a smaller --flows or a larger -m", i, strerror(-ret));
			goto err_workers;
		}
	}
	ret = dp_worker_handoff_init(&app, (int)rte_socket_id());
	if (ret != 0) {
		DP_LOG(main, ERR, "handoff rings: %s", strerror(-ret));
		goto err_workers;
	}
	if (dp_ports_start(&app) != 0 || dp_local_start(&app) != 0)
		goto err_ports;
	dp_ports_wait_link(&app, app.cfg.mode == DP_MODE_REPLAY ? 0 : 3000);

	if (dp_ctl_init(&ctl, &app) != 0)
		goto err_ports;
	ctl_ready = 1;
	{
		char ctl_name[DP_CTL_PATH_MAX + 16];

		if (app.cfg.ctl_fd >= 0)
			snprintf(ctl_name, sizeof(ctl_name), "fd %d", app.cfg.ctl_fd);
		else
			snprintf(ctl_name, sizeof(ctl_name), "%s", app.cfg.ctl_path);
		DP_LOG(main, NOTICE, "running: mode %s, %u worker%s, %u port%s, %u flows per "
		       "worker, control %s", dp_mode_name(app.cfg.mode), app.cfg.n_workers,
		       app.cfg.n_workers > 1 ? "s" : "", app.n_ports, app.n_ports > 1 ? "s" : "",
		       app.cfg.flows, ctl_name);
	}

	if (app.cfg.mode == DP_MODE_REPLAY)
		run_replay(&ctl);
	else
		run_live(&ctl);

	dp_ports_stop(&app);
	dp_local_stop(&app);
	log_counters();
	if (ctl.garbage)
		DP_LOG(main, NOTICE, "malformed control messages dropped: %llu",
		       (unsigned long long)ctl.garbage);
	dp_ctl_fini(&ctl);
	for (i = 0; i < app.cfg.n_workers; i++)
		dp_worker_destroy(app.workers[i]);
	dp_policy_fini(&app);
	rte_eal_cleanup();
	return 0;

err_ports:
	if (ctl_ready)
		dp_ctl_fini(&ctl);
	dp_ports_stop(&app);
	dp_local_stop(&app);
err_workers:
	for (i = 0; i < app.cfg.n_workers; i++)
		dp_worker_destroy(app.workers[i]);
	dp_policy_fini(&app);
err_eal:
	rte_eal_cleanup();
	return 1;
}
