/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dpbench.h: chokepoint-dpbench, the dataplane benchmarks (figures for
 * docs/performance.md, never timed tests). It links the dataplane's own
 * modules (every dp_*.c but dp_main.c) and drives the real worker:
 *
 *   fastpath   the worker loop (dp_worker_poll) between a pcap vdev with
 *              infinite_rx (port 0) and a null vdev (port 1), after the
 *              handshakes of every flow of the capture went through the
 *              worker (dp_worker_inject), so the capture's packets find
 *              >= 1M established, allowed flows
 *   newflow    generated flows, each with a fresh tuple (SYN, SYN-ACK, ACK,
 *              a templated captured ClientHello or HTTP request head, the
 *              server's ACK, RST), through dp_worker_inject, with a real
 *              policy and the audit events drained from the worker's ring
 *   flowtable  the flow table alone (dp_flow.c): bytes per flow, inserts,
 *              bulk lookups and aging at N flows
 *   fastpath --ring-rx --pcap P: the same traffic from a ring port fed by a
 *              generator lcore (a NIC's small recycled set of mbufs instead
 *              of the pcap PMD's copy out of its preload), and io-forward
 *              on the same ports (dpbench_ring.c)
 *   gen-fast, gen-newflow, gen-policy: write the captures and the policy
 *              the modes above (and testpmd / ndpiReader) read
 *
 * Every figure is one JSON object on stdout; progress goes to stderr.
 */
#ifndef CHOKEPOINT_DPBENCH_H
#define CHOKEPOINT_DPBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct dp_proc;
struct dp_worker;
struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

/* ---- options ------------------------------------------------------------ */

enum dpb_size {
	DPB_SIZE_64 = 0,         /* 64 B on the wire (60 B frames + FCS) */
	DPB_SIZE_IMIX,           /* 7 x 64, 4 x 594, 1 x 1518 (simple IMIX) */
	DPB_SIZE_1518,
};

struct dpb_opts {
	uint32_t flows;          /* flows (fastpath, newflow, flowtable) */
	uint32_t table;          /* flow-table entries (0: from flows) */
	double seconds;          /* fastpath: measured time */
	double warmup;           /* fastpath: unmeasured time before it */
	enum dpb_size size;
	uint64_t seed;
	uint32_t names;          /* gen-policy: names in the list */
	uint32_t http_pct;       /* newflow: share of HTTP flows, percent */
	uint32_t deny_pct;       /* newflow: share of flows with unlisted names */
	uint64_t lookups;        /* flowtable: lookups timed */
	const char *policy;      /* policy file (compiled in-process) */
	const char *names_file;  /* names the generator picks from (gen-policy writes it) */
	const char *out;         /* gen-*: output file / directory */
	const char *data_dir;    /* tests/data (templates) */
	bool smoke;              /* CI: check the figures are sane, never speed */
	bool prof;               /* cycle accounting in the worker */
	const char *reload_policy; /* reload: the policy reloaded */
	uint32_t reloads;        /* reload: how many times, over --seconds */
	uint32_t name_slots;     /* the worker's name table (chokepoint-dp --names), 0: default */
	uint32_t regex;          /* gen-policy: regex names rN (0: none); newflow: ask for them */
	uint32_t regex_pct;      /* newflow with --regex: share of flows named by a regex */
	bool ipv6;               /* gen-fast, fastpath, newflow: the flows over IPv6 (frames
				  * 20 B longer than the --size's IPv4 ones) */
	bool ring_rx;            /* fastpath: RX from a ring port fed by a generator lcore */
	const char *pcap;        /* fastpath --ring-rx: the gen-fast capture it replays */
	bool ring_demote;        /* --ring-rx: the generator cldemotes the lines it wrote */
	bool ring_touch;         /* --ring-rx: RX reads each mbuf's lines (outside own cycles) */
	bool ring_touch_write;   /* --ring-rx: ... and stores them back (owned, as after a copy) */
	uint32_t stacks;         /* newflow: flow i's cipher list permuted by (i mod stacks), 0: off */
	bool stacks_sigalgs;     /* --stacks: its signature_algorithms permuted too */
};

/* ---- the generated traffic (dpbench_gen.c) ----------------------------- */

/* One flow's tuple and initial sequence numbers, a pure function of i. */
struct dpb_flow {
	uint32_t cip, sip;       /* host order */
	uint16_t cport, sport;
	uint32_t isn, sisn;
	bool ipv6;               /* fd00::/96 + cip, 2001:db8:18::/96 + sip */
};

void dpb_flow_of(uint32_t i, uint16_t dport, struct dpb_flow *f);

/* Templates: captured ClientHellos and HTTP request heads (tests/data). */
struct dpb_tmpl {
	uint8_t *bytes;
	uint32_t len;
	uint32_t name_off;       /* the SNI host_name / Host value inside bytes */
	uint32_t name_len;
	int http;                /* 1: an HTTP request head (Host), 0: a ClientHello (SNI) */
	char label[32];
};

struct dpb_tmpls {
	struct dpb_tmpl t[32];
	unsigned int n, n_tls, n_http;
};

int dpb_tmpls_load(struct dpb_tmpls *ts, const char *data_dir);
void dpb_tmpls_free(struct dpb_tmpls *ts);

/*
 * The template's bytes with its name replaced by name (TLS lengths or the
 * Host line fixed) into out (cap bytes). Returns the length or -1.
 */
int dpb_tmpl_render(const struct dpb_tmpl *t, const char *name, uint8_t *out, uint32_t cap);

/* Names list (one per line). */
struct dpb_names {
	char **v;
	uint32_t n;
};
int dpb_names_load(struct dpb_names *nl, const char *path);
void dpb_names_free(struct dpb_names *nl);

/*
 * An Ethernet/IPv4/TCP frame of flow f into buf (>= 14 + 40 + plen bytes):
 * c2s from the client, else from the server; checksums computed. Returns
 * the frame length (padded to 60).
 */
uint32_t dpb_frame(uint8_t *buf, const struct dpb_flow *f, int c2s, uint8_t flags,
		   uint32_t seq, uint32_t ack, const uint8_t *payload, uint32_t plen);

/* Frame length of a size class at packet position k. */
uint32_t dpb_size_at(enum dpb_size s, uint64_t k);
const char *dpb_size_name(enum dpb_size s);

/* A classic pcap file (Ethernet, microseconds). */
struct dpb_pcap {
	FILE *f;
	uint64_t pkts, bytes;
};
int dpb_pcap_open(struct dpb_pcap *p, const char *path);
int dpb_pcap_write(struct dpb_pcap *p, const uint8_t *frame, uint32_t len, uint64_t ts_us);
int dpb_pcap_close(struct dpb_pcap *p);

/*
 * The packets of one new flow (newflow mode and its capture): SYN, SYN-ACK,
 * ACK, the request (1 or 2 segments), then as tail says the server's ACK
 * of the request, the client's first TLS application_data record (a TLS
 * client's next flight: it ends the watch of the records after the
 * ClientHello, docs/dataplane.md) and the client's RST. Each packet: its
 * frame and the side it arrives on (0 client, 1 server).
 */
#define DPB_FLOW_PKTS_MAX 9
#define DPB_TAIL_SACK 0x1
#define DPB_TAIL_RST  0x2
#define DPB_TAIL_DATA 0x4
struct dpb_pkt {
	uint8_t side;
	uint16_t len;
	uint8_t frame[1600];
};
unsigned int dpb_newflow_pkts(const struct dpb_flow *f, const uint8_t *req, uint32_t req_len,
			      unsigned int tail, struct dpb_pkt *out);

/*
 * The request of new flow i: a template and a name chosen by i (deny_pct of
 * them not in the list). Returns its length; *denied says which.
 */
int dpb_newflow_request(uint32_t i, const struct dpb_opts *o, const struct dpb_tmpls *ts,
			const struct dpb_names *nl, uint8_t *out, uint32_t cap, int *denied,
			uint16_t *dport, int *http);

/* ---- the dataplane inside this process (dpbench_main.c) ----------------- */

struct dpb_dp {
	struct dp_proc *app;
	struct dp_worker *w;
	uint64_t events;         /* drained from the worker's ring */
	uint64_t decisions, ends, gaps;
	uint64_t ev_allow, ev_deny;
	size_t worker_bytes;     /* DPDK heap the worker took (flow table, slots, ...) */
	uint64_t cpu_ns;         /* newflow: this thread's CPU time inside the worker */
	double policy_compile_ms; /* the policy: compiled in-process (cp_policy_compile_file) */
	double policy_load_ms;   /* ... and loaded by the dataplane (dp_policy_apply) */
	size_t policy_blob;      /* its blob's bytes */
	size_t policy_loaded;    /* what the loaded policy holds (cpm_policy_size) */
	uint64_t anon_huge_kb;   /* AnonHugePages of the process once the policy is loaded */
	struct rte_ring *drain_ring; /* mbufs the worker sent here are freed by dpb_dp_drain */
};

/*
 * Create the process context, pools (rx_pool of pool_n mbufs of data_room
 * bytes), ports (wire mode: port 0 inside, port 1 outside), one worker with
 * table entries, and load the policy file through the same path as a
 * POLICY message (sealed memfd, dp_policy_apply).
 */
int dpb_dp_start(struct dpb_dp *d, const struct dpb_opts *o, uint32_t table, uint32_t pool_n,
		 uint16_t data_room);
void dpb_dp_stop(struct dpb_dp *d);

/* Drain the worker's event ring (what the control thread would send). */
unsigned int dpb_dp_drain(struct dpb_dp *d);

/* Counter k of the worker. */
uint64_t dpb_counter(const struct dpb_dp *d, unsigned int k);

/*
 * Inject the packets of nf flows (pk[f][0..cnt[f])) run by run; returns the
 * TSC cycles spent in the worker and draining its events.
 */
uint64_t dpb_inject_flows(struct dpb_dp *d, struct rte_mempool *gp,
			  struct dpb_pkt (*pk)[DPB_FLOW_PKTS_MAX], const unsigned int *cnt,
			  unsigned int nf);

/*
 * The handshakes of flows 0..o->flows-1 (TLS, allowed names, server ACK of
 * the hello, no RST): every flow established and allowed. *req_len_out gets
 * each flow's request length (free it); *rate the handshakes per second.
 */
int dpb_handshakes(struct dpb_dp *d, const struct dpb_opts *o, uint32_t **req_len_out,
		   double *rate);

/*
 * The fast path's worker (dpbench_fast.c): dpb_dp_start with the table
 * (--table, else flows x 1.125 + 1024) and mbuf room of o's frame size,
 * pool_n mbufs; then dpb_fast_establish: every flow's handshake, 0 when
 * all o->flows are allowed and active (else a message naming what).
 */
int dpb_fast_start(struct dpb_dp *d, const struct dpb_opts *o, uint32_t pool_n);
int dpb_fast_establish(struct dpb_dp *d, const struct dpb_opts *o, const char *what,
		       double *hs_rate);

/* The worker's counters, its own-cycle accounting, TSC and thread CPU time now. */
struct dpb_snap {
	uint64_t rx, tx, dropped, created, midstream, prof_cyc, prof_pkts, tsc, cpu_ns;
};

void dpb_snap_take(const struct dpb_dp *d, struct dpb_snap *s);

/* The request lengths dpb_handshakes will send (gen-fast writes data after them). */
int dpb_request_lengths(const struct dpb_opts *o, uint32_t *rl);

/* ---- modes ----------------------------------------------------------------- */

int dpb_gen_fast(const struct dpb_opts *o);
int dpb_gen_newflow(const struct dpb_opts *o);
int dpb_gen_policy(const struct dpb_opts *o);
int dpb_fastpath(const struct dpb_opts *o);
int dpb_fastpath_ring(const struct dpb_opts *o);
int dpb_newflow(const struct dpb_opts *o);
int dpb_flowtable(const struct dpb_opts *o);
int dpb_reload(const struct dpb_opts *o);

/* ---- helpers ------------------------------------------------------------------ */

double dpb_now(void);
/*
 * This thread's CPU time, ns. On a shared machine the TSC also counts the
 * time other processes had the CPU; figures per CPU-second do not.
 */
uint64_t dpb_thread_cpu_ns(void);
uint64_t dpb_mix64(uint64_t x);
/* Smoke check: finite and inside [lo, hi]; prints what failed. */
bool dpb_sane(const char *what, double v, double lo, double hi);

#endif /* CHOKEPOINT_DPBENCH_H */
