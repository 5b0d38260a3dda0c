/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_status.c: status text table and JSON object. See cp_status.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DP_PROTO_NAMES
#include "cp_json.h"
#include "cp_status.h"
#include "cp_util.h"

/* "key": unsigned number */
static void
kv_u64(struct cp_json *j, const char *key, uint64_t v)
{
	cp_json_key(j, key);
	cp_json_u64(j, v);
}

static const char *const mode_names[] = { "wire", "one-arm", "replay", "geneve", "routed" };

/* counters shown in the summary lines, by group */
static const enum dp_counter flow_counters[] = {
	DP_C_FLOWS_CREATED, DP_C_FLOWS_ENDED, DP_C_FLOWS_ACTIVE, DP_C_FLOWS_PENDING,
	DP_C_TABLE_FULL,
};
static const enum dp_counter verdict_counters[] = {
	DP_C_ALLOW, DP_C_DENY, DP_C_MONITOR_WOULD_DENY, DP_C_TRUSTED, DP_C_NOT_INTERNAL,
	DP_C_INBOUND, DP_C_MIDSTREAM, DP_C_NO_POLICY, DP_C_RST_SENT,
};

struct out {
	char *b;
	size_t cap, len;
	int overflow;
};

static void __attribute__((format(printf, 2, 3)))
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->b + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->overflow = 1;
		o->b[o->len] = '\0';
		return;
	}
	o->len += (size_t)n;
}

static unsigned
n_workers(const struct dp_msg_stats *s)
{
	return s->n_workers > DP_MAX_WORKERS ? DP_MAX_WORKERS : s->n_workers;
}

static unsigned
n_ports(const struct dp_msg_stats *s)
{
	return s->n_ports > DP_MAX_PORTS ? DP_MAX_PORTS : s->n_ports;
}

static uint64_t
total(const struct dp_msg_stats *s, unsigned c)
{
	uint64_t t = 0;

	for (unsigned w = 0; w < n_workers(s); w++)
		t += s->counters[w][c];
	return t;
}

static const char *
mode_name(uint8_t m)
{
	return m < sizeof(mode_names) / sizeof(mode_names[0]) ? mode_names[m] : "unknown";
}

static void
summary(struct out *o, const struct dp_msg_stats *s, const char *title,
	const enum dp_counter *cs, size_t n)
{
	put(o, "%s:", title);
	for (size_t i = 0; i < n; i++)
		put(o, "%s %s %" PRIu64, i ? "," : "", dp_counter_names[cs[i]], total(s, cs[i]));
	put(o, "\n");
}

/* The id of rule index r of the stats' generation ("#r" when unknown). */
static const char *
rule_name(const struct cp_status_in *in, uint32_t r, char *tmp, size_t len)
{
	const char *id = in->gens != NULL ?
		cp_gens_rule_id(in->gens, in->stats->rule_hits_gen, (int32_t)r) : NULL;

	if (id != NULL)
		return id;
	snprintf(tmp, len, "#%u", r);
	return tmp;
}

static unsigned
n_rule_hits(const struct dp_msg_stats *s)
{
	return s->rule_hits_n > DP_RULE_HITS_MAX ? DP_RULE_HITS_MAX : s->rule_hits_n;
}

static void
rule_hits_text(struct out *o, const struct cp_status_in *in)
{
	const struct dp_msg_stats *s = in->stats;
	char tmp[16];

	if (s->rule_hits_gen == 0)
		return;
	put(o, "rule hits (policy generation %" PRIu64 "):\n", s->rule_hits_gen);
	for (unsigned r = 0; r < n_rule_hits(s); r++)
		put(o, "  %-32s %14" PRIu64 "\n", rule_name(in, r, tmp, sizeof(tmp)),
		    s->rule_hits[r]);
	if (s->rule_hits_other != 0)
		put(o, "  %-32s %14" PRIu64 "\n", "(rules past the first 256)", s->rule_hits_other);
	put(o, "  %-32s %14" PRIu64 "\n", "(no rule: default, fixed setting)",
	    s->rule_hits_none);
}

static void
rule_hits_json(struct cp_json *j, const struct cp_status_in *in)
{
	const struct dp_msg_stats *s = in->stats;
	char tmp[16];

	cp_json_key(j, "rule_hits");
	cp_json_obj_begin(j);
	kv_u64(j, "generation", s->rule_hits_gen);
	cp_json_key(j, "rules");
	cp_json_arr_begin(j);
	for (unsigned r = 0; r < n_rule_hits(s); r++) {
		cp_json_obj_begin(j);
		cp_json_key(j, "rule");
		cp_json_strz(j, rule_name(in, r, tmp, sizeof(tmp)));
		kv_u64(j, "hits", s->rule_hits[r]);
		cp_json_obj_end(j);
	}
	cp_json_arr_end(j);
	kv_u64(j, "other_rules", s->rule_hits_other);
	kv_u64(j, "no_rule", s->rule_hits_none);
	cp_json_obj_end(j);
}

static void
resolver_text(struct out *o, const struct cp_resolve_stats *r)
{
	if (!r->configured) {
		put(o, "dns resolver: off (no dns.resolver)\n");
		return;
	}
	put(o, "dns resolver: %s, every %u s, %u names (%u over the cap of %u), rounds %"
	    PRIu64 ", queries %" PRIu64 ", answers %" PRIu64 ", timeouts %" PRIu64
	    ", retries %" PRIu64 ", tcp %" PRIu64 ", failed %" PRIu64 ", bad %" PRIu64
	    ", names pushed %" PRIu64 ", removed %" PRIu64 "\n", r->server, r->interval_s,
	    r->names, r->names_capped, r->max_names, r->rounds, r->queries, r->answers,
	    r->timeouts, r->retries, r->tcp, r->failed, r->bad, r->pushed, r->removed);
}

static void
dns_text(struct out *o, const struct dp_dns_status *d)
{
	put(o, "dns: responses %" PRIu64 ", recorded %" PRIu64 ", refreshed %" PRIu64
	    ", evicted %" PRIu64 ", reused %" PRIu64 "; bad:", d->responses, d->recorded,
	    d->refreshed, d->evicted, d->reused);
	for (unsigned k = 1; k < 8; k++)
		if (dp_dns_bad_names[k] != NULL)
			put(o, "%s %s %" PRIu64, k > 1 ? "," : "", dp_dns_bad_names[k], d->bad[k]);
	put(o, "; tcp: messages %" PRIu64 ", skipped %" PRIu64 "\n", d->tcp_messages,
	    d->tcp_skipped);
	put(o, "dns https_rr: allowed %" PRIu64 ", refused %" PRIu64 ", stripped %" PRIu64
	    ", unstrippable %" PRIu64 "\n", d->https_allowed, d->https_refused,
	    d->https_stripped, d->https_unstrippable);
	put(o, "dns resolved table: %" PRIu64 " live of %" PRIu64 ", updates %" PRIu64
	    ", removes %" PRIu64 ", recorded %" PRIu64 ", refreshed %" PRIu64 ", evicted %"
	    PRIu64 ", reused %" PRIu64 "\n", d->res_entries, d->res_capacity, d->res_updates,
	    d->res_removes, d->res_recorded, d->res_refreshed, d->res_evicted, d->res_reused);
}

int
cp_status_text(const struct cp_status_in *in, char *buf, size_t cap)
{
	struct out o = { .b = buf, .cap = cap };
	const struct dp_msg_stats *s = in->stats;
	char hex[65], boot[33];

	buf[0] = '\0';
	put(&o, "chokepointd: pid %d, up %" PRIu64 " s\n", (int)in->pid, in->uptime_ms / 1000);
	if (in->sha256 != NULL) {
		put(&o, "policy: sha256:%s generation %" PRIu64 " (%u rules) %s\n",
		    cp_hex(in->sha256, 32, hex), in->gen, in->rules, in->policy_path);
		if (in->live_gen == in->gen && in->gen != 0)
			put(&o, "policy state: live on the dataplane\n");
		else if (in->pending_gen != 0)
			put(&o, "policy state: pushed, waiting for the dataplane (live generation %" PRIu64 ")\n",
			    in->live_gen);
		else
			put(&o, "policy state: not live (live generation %" PRIu64 ")\n", in->live_gen);
	} else {
		put(&o, "policy: none\n");
	}
	if (in->compile_since_ns != 0) {
		char ts[CP_TS_LEN];

		cp_fmt_ts(in->compile_since_ns, ts);
		put(&o, "policy: compiling since %s (%" PRIu64 " ms, reload by %s)%s\n", ts,
		    in->compile_ms, in->compile_by != NULL ? in->compile_by : "?",
		    in->compile_again ? ", another reload queued after it" : "");
	}
	if (!in->dp_connected || in->hello == NULL) {
		put(&o, "dataplane: not connected\n");
	} else if (s == NULL) {
		put(&o, "dataplane: connected (pid %u, boot %s) but no statistics within 2 s\n",
		    in->hello->pid, cp_hex(in->hello->boot_id, 16, boot));
	} else {
		put(&o, "dataplane: connected, pid %u, boot %s, mode %s, %s, up %" PRIu64
		    " s, %u workers, %u ports, policy generation %" PRIu64 ", %" PRIu64
		    " events pending\n",
		    in->hello->pid, cp_hex(s->boot_id, 16, boot), mode_name(s->mode),
		    s->enforcing ? "enforcing" : "monitor", s->uptime_ns / 1000000000u,
		    s->n_workers, s->n_ports, s->policy_gen, s->events_pending);
	}
	put(&o, "audit: %s, next seq %" PRIu64 ", head %s\n", in->audit_path,
	    in->audit_next_seq, in->audit_head);
	put(&o, "audit records: %" PRIu64 " from events, %" PRIu64 " duplicates skipped, %"
	    PRIu64 " gaps found here, %" PRIu64 " bad messages, %" PRIu64 " bad events\n",
	    in->c->events, in->c->dup_events, in->c->gaps_missing, in->c->bad_msgs,
	    in->c->bad_events);
	if (in->as != NULL && in->as->key_id != NULL)
		put(&o, "audit signing: key %s, %" PRIu64 " checkpoints, last at seq %" PRIu64
		    ", %" PRIu64 " records unsigned since, %" PRIu64 " rotations, %" PRIu64
		    " errors\n", in->as->key_id, in->as->checkpoints, in->as->last_checkpoint_seq,
		    in->as->since_checkpoint, in->as->rotations, in->as->errors);
	else if (in->as != NULL)
		put(&o, "audit signing: off (no audit.signing_key), %" PRIu64 " rotations\n",
		    in->as->rotations);
	if (in->syslog != NULL)
		put(&o, "syslog export: %s, %" PRIu64 " sent, %u queued, %" PRIu64
		    " dropped (queue full), %" PRIu64 " failures%s%s\n",
		    in->syslog->connected ? "connected" : "NOT connected", in->syslog->sent,
		    in->syslog->queued, in->syslog->dropped, in->syslog->failures,
		    in->syslog->last_error[0] ? ", last: " : "", in->syslog->last_error);
	if (in->resolve != NULL)
		resolver_text(&o, in->resolve);
	if (s == NULL || !in->dp_connected)
		goto done;
	summary(&o, s, "flows", flow_counters, sizeof(flow_counters) / sizeof(flow_counters[0]));
	summary(&o, s, "verdicts", verdict_counters,
		sizeof(verdict_counters) / sizeof(verdict_counters[0]));
	rule_hits_text(&o, in);
	dns_text(&o, &s->dns);
	put(&o, "ports:\n  %-4s %-20s %12s %12s %14s %14s %8s %8s %8s %8s\n", "port", "name",
	    "rx_pkts", "tx_pkts", "rx_bytes", "tx_bytes", "missed", "rx_err", "tx_err", "nombuf");
	for (unsigned p = 0; p < n_ports(s); p++) {
		const struct dp_port_stats *ps = &s->ports[p];

		put(&o, "  %-4u %-20.*s %12" PRIu64 " %12" PRIu64 " %14" PRIu64 " %14" PRIu64
		    " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n", p,
		    (int)strnlen(ps->name, sizeof(ps->name)), ps->name, ps->ipackets,
		    ps->opackets, ps->ibytes, ps->obytes, ps->imissed, ps->ierrors, ps->oerrors,
		    ps->rx_nombuf);
	}
	put(&o, "workers:\n  %-28s", "counter");
	for (unsigned w = 0; w < n_workers(s); w++)
		put(&o, " %12s%-2u", "w", w);
	put(&o, " %14s\n", "total");
	for (unsigned c = 0; c < DP_C_MAX; c++) {
		put(&o, "  %-28s", dp_counter_names[c]);
		for (unsigned w = 0; w < n_workers(s); w++)
			put(&o, " %14" PRIu64, s->counters[w][c]);
		put(&o, " %14" PRIu64 "\n", total(s, c));
	}
done:
	return o.overflow ? -ENOSPC : (int)o.len;
}

static void
dns_json(struct cp_json *j, const struct dp_dns_status *d)
{
	cp_json_key(j, "dns");
	cp_json_obj_begin(j);
	kv_u64(j, "responses", d->responses);
	kv_u64(j, "recorded", d->recorded);
	kv_u64(j, "refreshed", d->refreshed);
	kv_u64(j, "evicted", d->evicted);
	kv_u64(j, "reused", d->reused);
	cp_json_key(j, "bad");
	cp_json_obj_begin(j);
	for (unsigned k = 1; k < 8; k++) {
		if (dp_dns_bad_names[k] == NULL)
			continue;
		kv_u64(j, dp_dns_bad_names[k], d->bad[k]);
	}
	cp_json_obj_end(j);
	kv_u64(j, "tcp_messages", d->tcp_messages);
	kv_u64(j, "tcp_skipped", d->tcp_skipped);
	cp_json_key(j, "https_rr");
	cp_json_obj_begin(j);
	kv_u64(j, "allowed", d->https_allowed);
	kv_u64(j, "refused", d->https_refused);
	kv_u64(j, "stripped", d->https_stripped);
	kv_u64(j, "unstrippable", d->https_unstrippable);
	cp_json_obj_end(j);
	cp_json_key(j, "resolved");
	cp_json_obj_begin(j);
	kv_u64(j, "entries", d->res_entries);
	kv_u64(j, "capacity", d->res_capacity);
	kv_u64(j, "updates", d->res_updates);
	kv_u64(j, "removes", d->res_removes);
	kv_u64(j, "recorded", d->res_recorded);
	kv_u64(j, "refreshed", d->res_refreshed);
	kv_u64(j, "evicted", d->res_evicted);
	kv_u64(j, "reused", d->res_reused);
	cp_json_obj_end(j);
	cp_json_obj_end(j);
}

static void
resolver_json(struct cp_json *j, const struct cp_resolve_stats *r)
{
	cp_json_key(j, "dns_resolver");
	if (r == NULL || !r->configured) {
		cp_json_null(j);
		return;
	}
	cp_json_obj_begin(j);
	cp_json_key(j, "server");
	cp_json_strz(j, r->server);
	kv_u64(j, "interval_s", r->interval_s);
	kv_u64(j, "names", r->names);
	kv_u64(j, "names_capped", r->names_capped);
	kv_u64(j, "max_names", r->max_names);
	kv_u64(j, "rounds", r->rounds);
	kv_u64(j, "queries", r->queries);
	kv_u64(j, "answers", r->answers);
	kv_u64(j, "timeouts", r->timeouts);
	kv_u64(j, "retries", r->retries);
	kv_u64(j, "tcp", r->tcp);
	kv_u64(j, "failed", r->failed);
	kv_u64(j, "bad", r->bad);
	kv_u64(j, "pushed", r->pushed);
	kv_u64(j, "removed", r->removed);
	cp_json_obj_end(j);
}

int
cp_status_json(const struct cp_status_in *in, char *buf, size_t cap)
{
	const struct dp_msg_stats *s = in->stats;
	struct cp_json j;
	char hex[80], boot[33];

	cp_json_init(&j, buf, cap);
	cp_json_obj_begin(&j);
	cp_json_key(&j, "chokepointd");
	cp_json_obj_begin(&j);
	cp_json_key(&j, "pid");
	cp_json_u64(&j, (uint64_t)in->pid);
	cp_json_key(&j, "uptime_ms");
	cp_json_u64(&j, in->uptime_ms);
	cp_json_obj_end(&j);

	cp_json_key(&j, "policy");
	if (in->sha256 != NULL) {
		cp_json_obj_begin(&j);
		memcpy(hex, "sha256:", 7);
		cp_hex(in->sha256, 32, hex + 7);
		cp_json_key(&j, "sha256");
		cp_json_strz(&j, hex);
		cp_json_key(&j, "generation");
		cp_json_u64(&j, in->gen);
		cp_json_key(&j, "live_generation");
		cp_json_u64(&j, in->live_gen);
		cp_json_key(&j, "pending_generation");
		cp_json_u64(&j, in->pending_gen);
		cp_json_key(&j, "rules");
		cp_json_u64(&j, in->rules);
		cp_json_key(&j, "path");
		cp_json_strz(&j, in->policy_path);
		cp_json_obj_end(&j);
	} else {
		cp_json_null(&j);
	}
	cp_json_key(&j, "policy_compile");
	if (in->compile_since_ns != 0) {
		char ts[CP_TS_LEN];

		cp_fmt_ts(in->compile_since_ns, ts);
		cp_json_obj_begin(&j);
		cp_json_key(&j, "since");
		cp_json_strz(&j, ts);
		cp_json_key(&j, "elapsed_ms");
		cp_json_u64(&j, in->compile_ms);
		cp_json_key(&j, "by");
		cp_json_strz(&j, in->compile_by != NULL ? in->compile_by : "?");
		cp_json_key(&j, "again");
		cp_json_bool(&j, in->compile_again);
		cp_json_obj_end(&j);
	} else {
		cp_json_null(&j);
	}

	cp_json_key(&j, "dataplane");
	cp_json_obj_begin(&j);
	cp_json_key(&j, "connected");
	cp_json_bool(&j, in->dp_connected && in->hello != NULL);
	if (in->dp_connected && in->hello != NULL) {
		cp_json_key(&j, "pid");
		cp_json_u64(&j, in->hello->pid);
		cp_json_key(&j, "boot");
		cp_json_strz(&j, cp_hex(in->hello->boot_id, 16, boot));
		cp_json_key(&j, "stats");
		cp_json_bool(&j, s != NULL);
	}
	if (in->dp_connected && in->hello != NULL && s != NULL) {
		cp_json_key(&j, "mode");
		cp_json_strz(&j, mode_name(s->mode));
		cp_json_key(&j, "enforcing");
		cp_json_bool(&j, s->enforcing != 0);
		cp_json_key(&j, "uptime_ms");
		cp_json_u64(&j, s->uptime_ns / 1000000u);
		cp_json_key(&j, "policy_generation");
		cp_json_u64(&j, s->policy_gen);
		cp_json_key(&j, "workers");
		cp_json_u64(&j, s->n_workers);
		cp_json_key(&j, "events_pending");
		cp_json_u64(&j, s->events_pending);
		rule_hits_json(&j, in);
		cp_json_key(&j, "ports");
		cp_json_arr_begin(&j);
		for (unsigned p = 0; p < n_ports(s); p++) {
			const struct dp_port_stats *ps = &s->ports[p];

			cp_json_obj_begin(&j);
			cp_json_key(&j, "name");
			cp_json_str(&j, ps->name, strnlen(ps->name, sizeof(ps->name)));
			cp_json_key(&j, "rx_pkts");
			cp_json_u64(&j, ps->ipackets);
			cp_json_key(&j, "tx_pkts");
			cp_json_u64(&j, ps->opackets);
			cp_json_key(&j, "rx_bytes");
			cp_json_u64(&j, ps->ibytes);
			cp_json_key(&j, "tx_bytes");
			cp_json_u64(&j, ps->obytes);
			cp_json_key(&j, "missed");
			cp_json_u64(&j, ps->imissed);
			cp_json_key(&j, "rx_errors");
			cp_json_u64(&j, ps->ierrors);
			cp_json_key(&j, "tx_errors");
			cp_json_u64(&j, ps->oerrors);
			cp_json_key(&j, "rx_nombuf");
			cp_json_u64(&j, ps->rx_nombuf);
			cp_json_obj_end(&j);
		}
		cp_json_arr_end(&j);
		cp_json_key(&j, "totals");
		cp_json_obj_begin(&j);
		for (unsigned c = 0; c < DP_C_MAX; c++) {
			cp_json_key(&j, dp_counter_names[c]);
			cp_json_u64(&j, total(s, c));
		}
		cp_json_obj_end(&j);
		dns_json(&j, &s->dns);
		cp_json_key(&j, "per_worker");
		cp_json_obj_begin(&j);
		for (unsigned c = 0; c < DP_C_MAX; c++) {
			cp_json_key(&j, dp_counter_names[c]);
			cp_json_arr_begin(&j);
			for (unsigned w = 0; w < n_workers(s); w++)
				cp_json_u64(&j, s->counters[w][c]);
			cp_json_arr_end(&j);
		}
		cp_json_obj_end(&j);
	}
	cp_json_obj_end(&j);

	resolver_json(&j, in->resolve);

	cp_json_key(&j, "audit");
	cp_json_obj_begin(&j);
	cp_json_key(&j, "path");
	cp_json_strz(&j, in->audit_path);
	cp_json_key(&j, "next_seq");
	cp_json_u64(&j, in->audit_next_seq);
	cp_json_key(&j, "head");
	cp_json_strz(&j, in->audit_head);
	cp_json_key(&j, "records_from_events");
	cp_json_u64(&j, in->c->events);
	cp_json_key(&j, "duplicates");
	cp_json_u64(&j, in->c->dup_events);
	cp_json_key(&j, "gaps_found");
	cp_json_u64(&j, in->c->gaps_missing);
	cp_json_key(&j, "bad_messages");
	cp_json_u64(&j, in->c->bad_msgs);
	cp_json_key(&j, "bad_events");
	cp_json_u64(&j, in->c->bad_events);
	if (in->as != NULL) {
		cp_json_key(&j, "signing_key");
		cp_json_strz(&j, in->as->key_id);
		cp_json_key(&j, "checkpoints");
		cp_json_u64(&j, in->as->checkpoints);
		cp_json_key(&j, "last_checkpoint_seq");
		cp_json_u64(&j, in->as->last_checkpoint_seq);
		cp_json_key(&j, "unsigned_since_checkpoint");
		cp_json_u64(&j, in->as->since_checkpoint);
		cp_json_key(&j, "rotations");
		cp_json_u64(&j, in->as->rotations);
		cp_json_key(&j, "errors");
		cp_json_u64(&j, in->as->errors);
	}
	if (in->syslog != NULL) {
		cp_json_key(&j, "syslog");
		cp_json_obj_begin(&j);
		cp_json_key(&j, "connected");
		cp_json_bool(&j, in->syslog->connected);
		cp_json_key(&j, "sent");
		cp_json_u64(&j, in->syslog->sent);
		cp_json_key(&j, "queued");
		cp_json_u64(&j, in->syslog->queued);
		cp_json_key(&j, "dropped");
		cp_json_u64(&j, in->syslog->dropped);
		cp_json_key(&j, "failures");
		cp_json_u64(&j, in->syslog->failures);
		cp_json_key(&j, "last_error");
		cp_json_strz(&j, in->syslog->last_error);
		cp_json_obj_end(&j);
	}
	cp_json_obj_end(&j);
	cp_json_obj_end(&j);
	if (cp_json_error(&j) < 0)
		return -ENOSPC;
	return (int)j.len;
}
