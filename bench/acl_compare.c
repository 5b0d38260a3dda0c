/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * acl_compare.c: bench-acl-compare, the measurement behind "why not
 * rte_acl / rte_lpm" in docs/performance.md. The same N IPv4 destination
 * CIDRs (random, /16../32) as
 *   rte_acl: one ACL rule per CIDR (5-tuple layout: proto, src, dst, ports),
 *            built with rte_acl_build, classified one flow at a time (a new
 *            flow is decided alone) and in bursts of 64;
 *   rte_lpm: one route per CIDR, rte_lpm_lookup;
 *   chokepoint: a policy with the CIDRs in a dst_file, compiled by the real
 *            compiler, cpm_classify_l34 (the blob's interval maps + classes).
 * Build time (CPU seconds: the machine is shared), memory (rte_malloc heap
 * growth / blob bytes), CPU ns per flow.
 *
 *   bench-acl-compare [N]   runs EAL with --no-huge -m 2048 --no-pci
 *   --file-prefix chokepoint-acl, and removes that runtime directory at exit.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_acl.h>
#include <rte_eal.h>
#include <rte_lpm.h>
#include <rte_malloc.h>

#include "bench.h"
#include "cpm.h"
#include "cp_policy.h"

struct key4 {
	uint8_t proto;
	uint8_t pad[3];
	uint32_t src, dst;           /* network order, as rte_acl reads packets */
	uint16_t sport, dport;
};

enum { F_PROTO, F_SRC, F_DST, F_SPORT, F_DPORT, F_MAX };

static struct rte_acl_field_def defs[F_MAX] = {
	{ .type = RTE_ACL_FIELD_TYPE_BITMASK, .size = sizeof(uint8_t), .field_index = F_PROTO,
	  .input_index = 0, .offset = offsetof(struct key4, proto) },
	{ .type = RTE_ACL_FIELD_TYPE_MASK, .size = sizeof(uint32_t), .field_index = F_SRC,
	  .input_index = 1, .offset = offsetof(struct key4, src) },
	{ .type = RTE_ACL_FIELD_TYPE_MASK, .size = sizeof(uint32_t), .field_index = F_DST,
	  .input_index = 2, .offset = offsetof(struct key4, dst) },
	{ .type = RTE_ACL_FIELD_TYPE_RANGE, .size = sizeof(uint16_t), .field_index = F_SPORT,
	  .input_index = 3, .offset = offsetof(struct key4, sport) },
	{ .type = RTE_ACL_FIELD_TYPE_RANGE, .size = sizeof(uint16_t), .field_index = F_DPORT,
	  .input_index = 3, .offset = offsetof(struct key4, dport) },
};

RTE_ACL_RULE_DEF(acl4_rule, F_MAX);

struct cidr4 {
	uint32_t addr;               /* host order */
	uint8_t plen;
};

static size_t
heap_bytes(void)
{
	struct rte_malloc_socket_stats st;

	if (rte_malloc_get_socket_stats(0, &st) != 0)
		return 0;
	return st.heap_allocsz_bytes;
}

static uint32_t
random_inside(const struct cidr4 *c)
{
	uint32_t host = c->plen == 32 ? 0 : (uint32_t)bench_rand() & (0xffffffffu >> c->plen);

	return c->addr | host;
}

int
main(int argc, char **argv)
{
	char *eal[] = { argv[0], "--no-huge", "-m", "2048", "--no-pci", "--no-telemetry",
			"--file-prefix", "chokepoint-acl", "-l", "0", "--log-level", "lib.*:error" };
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000, nq = 1 << 20;
	struct cidr4 *c = calloc(n, sizeof(*c));
	struct key4 *keys = calloc(nq, sizeof(*keys));
	const uint8_t **data = calloc(nq, sizeof(*data));
	uint32_t *res = calloc(nq, sizeof(*res));
	struct bench_text list = { 0 };
	double t0, acl_build, lpm_build, acl1_ns, acl64_ns, lpm_ns, cpm_ns, cpm_build;
	size_t h0, acl_mem, lpm_mem, sink = 0, agree = 0;
	struct rte_acl_ctx *acx;
	struct rte_lpm *lpm;

	if (c == NULL || keys == NULL || data == NULL || res == NULL)
		return 2;
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])), eal) < 0) {
		fprintf(stderr, "bench-acl-compare: EAL init failed\n");
		return 2;
	}
	bench_seed(0x61636c);
	for (size_t i = 0; i < n; i++) {
		c[i].plen = (uint8_t)(16 + bench_below(17));
		c[i].addr = (uint32_t)bench_rand() & (c[i].plen == 0 ? 0 : 0xffffffffu << (32 - c[i].plen));
		bench_printf(&list, "%u.%u.%u.%u/%u\n", c[i].addr >> 24, (c[i].addr >> 16) & 255,
			     (c[i].addr >> 8) & 255, c[i].addr & 255, c[i].plen);
	}
	for (size_t i = 0; i < nq; i++) {
		uint32_t d = bench_below(2) ? random_inside(&c[bench_below((uint32_t)n)])
					    : (uint32_t)bench_rand();

		keys[i].proto = 6;
		keys[i].src = htonl(0x0a010203);
		keys[i].dst = htonl(d);
		keys[i].sport = htons(40000);
		keys[i].dport = htons(443);
		data[i] = (const uint8_t *)&keys[i];
	}

	/* rte_acl */
	{
		struct rte_acl_param prm = { .name = "chokepoint-acl", .socket_id = SOCKET_ID_ANY,
					     .rule_size = RTE_ACL_RULE_SZ(F_MAX),
					     .max_rule_num = (uint32_t)n };
		struct rte_acl_config cfg = { .num_categories = 1, .num_fields = F_MAX };
		struct acl4_rule r;

		memcpy(cfg.defs, defs, sizeof(defs));
		h0 = heap_bytes();
		t0 = bench_cpu();
		acx = rte_acl_create(&prm);
		if (acx == NULL)
			return 2;
		for (size_t i = 0; i < n; i++) {
			memset(&r, 0, sizeof(r));
			r.data.category_mask = 1;
			r.data.priority = (int32_t)(n - i);      /* first listed wins, like the rules */
			r.data.userdata = (uint32_t)i + 1;
			r.field[F_PROTO].value.u8 = 0;
			r.field[F_PROTO].mask_range.u8 = 0;
			r.field[F_SRC].value.u32 = 0;
			r.field[F_SRC].mask_range.u32 = 0;
			r.field[F_DST].value.u32 = c[i].addr;
			r.field[F_DST].mask_range.u32 = c[i].plen;
			r.field[F_SPORT].mask_range.u16 = 0xffff;
			r.field[F_DPORT].mask_range.u16 = 0xffff;
			if (rte_acl_add_rules(acx, (const struct rte_acl_rule *)&r, 1) != 0)
				return 2;
		}
		if (rte_acl_build(acx, &cfg) != 0) {
			fprintf(stderr, "bench-acl-compare: rte_acl_build failed\n");
			return 2;
		}
		acl_build = bench_cpu() - t0;
		acl_mem = heap_bytes() - h0;
		t0 = bench_cpu();
		for (size_t i = 0; i < nq; i++)
			rte_acl_classify(acx, &data[i], &res[i], 1, 1);
		acl1_ns = (bench_cpu() - t0) * 1e9 / (double)nq;
		t0 = bench_cpu();
		for (size_t i = 0; i + 64 <= nq; i += 64)
			rte_acl_classify(acx, &data[i], &res[i], 64, 1);
		acl64_ns = (bench_cpu() - t0) * 1e9 / (double)nq;
	}
	/* rte_lpm */
	{
		struct rte_lpm_config cfg = { .max_rules = (uint32_t)n, .number_tbl8s = 1 << 16 };
		uint32_t nh;

		h0 = heap_bytes();
		t0 = bench_cpu();
		lpm = rte_lpm_create("chokepoint-lpm", SOCKET_ID_ANY, &cfg);
		if (lpm == NULL)
			return 2;
		for (size_t i = 0; i < n; i++)
			if (rte_lpm_add(lpm, c[i].addr, c[i].plen, 1) != 0)
				return 2;
		lpm_build = bench_cpu() - t0;
		lpm_mem = heap_bytes() - h0;
		t0 = bench_cpu();
		for (size_t i = 0; i < nq; i++)
			sink += rte_lpm_lookup(lpm, ntohl(keys[i].dst), &nh) == 0;
		lpm_ns = (bench_cpu() - t0) * 1e9 / (double)nq;
	}
	/* chokepoint's matcher over the same set */
	{
		char *dir = bench_mkdir(), *conf, err[4096];
		const char *text = "default = \"allow\";\n"
				   "rules = ( { id = \"block\"; action = \"deny\"; dst_file = \"dst.txt\"; } );\n";
		struct cp_policy *cp;
		struct cpm_policy *p;
		struct cpm_query q = { .family = 4, .l4proto = 6, .sport = 40000, .dport = 443,
				       .src = { 10, 1, 2, 3 } };
		struct cpm_verdict v;

		free(bench_write(dir, "dst.txt", list.p, list.len));
		conf = bench_write(dir, "p.conf", text, strlen(text));
		t0 = bench_cpu();
		if (cp_policy_compile_file(conf, &cp, err, sizeof(err)) != 0 ||
		    cpm_policy_load(cp->blob, cp->blob_len, &p, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
		cpm_build = bench_cpu() - t0;
		t0 = bench_cpu();
		for (size_t i = 0; i < nq; i++) {
			memcpy(q.dst, &keys[i].dst, 4);
			cpm_classify_l34(p, &q, &v);
			sink += v.rule;
		}
		cpm_ns = (bench_cpu() - t0) * 1e9 / (double)nq;
		/* the three agree on every flow */
		for (size_t i = 0; i < nq; i++) {
			uint32_t nh;
			bool in_lpm = rte_lpm_lookup(lpm, ntohl(keys[i].dst), &nh) == 0;

			memcpy(q.dst, &keys[i].dst, 4);
			cpm_classify_l34(p, &q, &v);
			agree += (v.rule == 0) == in_lpm && (res[i] != 0) == in_lpm;
		}
		printf("chokepoint blob: %.2f MB\n", cp->blob_len / 1e6);
		cpm_policy_free(p);
		cp_policy_free(cp);
		free(conf);
		bench_rmdir(dir);
	}
	printf("bench-acl-compare: %zu IPv4 destination CIDRs, %zu flows (half inside), one core\n", n,
	       nq);
	printf("%-28s %10s %10s %10s\n", "structure", "build_s", "memory_MB", "ns/flow");
	printf("%-28s %10.2f %10.1f %10.0f\n", "rte_acl (1 flow a call)", acl_build, acl_mem / 1e6, acl1_ns);
	printf("%-28s %10s %10s %10.0f\n", "rte_acl (64 flows a call)", "", "", acl64_ns);
	printf("%-28s %10.2f %10.1f %10.0f\n", "rte_lpm", lpm_build, lpm_mem / 1e6, lpm_ns);
	printf("%-28s %10.2f %10s %10.0f\n", "chokepoint cpm_classify_l34", cpm_build, "(above)", cpm_ns);
	printf("verdicts agree on %zu of %zu flows%s\n", agree, nq, sink == 42 ? " " : "");
	rte_acl_free(acx);
	rte_lpm_free(lpm);
	{
		/* leave no runtime directory behind (only ever our own file prefix) */
		char *rundir = strdup(rte_eal_get_runtime_dir()), *cmd;

		rte_eal_cleanup();
		if (rundir != NULL && strstr(rundir, "/chokepoint-acl") != NULL &&
		    asprintf(&cmd, "rm -rf -- '%s'", rundir) > 0) {
			if (system(cmd) != 0)
				fprintf(stderr, "bench-acl-compare: cannot remove %s\n", rundir);
			free(cmd);
		}
		free(rundir);
	}
	return agree == nq ? 0 : 1;
}
