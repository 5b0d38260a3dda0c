/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * cp_dplink.c: one dataplane connection: policy push, acknowledgements,
 * events into the audit trail, statistics. See cp_dplink.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "cp_dplink.h"
#include "cp_dpmsg.h"
#include "cp_log.h"
#include "cp_policy.h"
#include "cp_record.h"
#include "cp_util.h"
#include "cpm.h"

struct cp_dplink {
	int fd;
	struct cp_audit *audit;
	struct cp_gens gens;
	uint8_t *rx;              /* CP_DPMSG_MAX + 1 */
	char line[CP_LINE_MAX];

	/* policy: cur is the newest valid one; fallback the last acked one if different */
	struct cp_policy *cur;
	uint64_t cur_gen;
	char cur_by[8];
	bool cur_recorded;        /* policy.loaded written for cur with cur_by */
	struct cp_policy *fallback;
	uint64_t fallback_gen;
	uint64_t gen_counter;
	uint64_t pending_gen;
	uint64_t live_gen;

	/* dataplane */
	bool have_hello;
	struct dp_msg_hello hello;
	bool have_stats;
	struct dp_msg_stats stats;
	uint64_t nack_gen;
	char nack_reason[sizeof(((struct dp_msg_policy_nack *)0)->reason)];

	/* events: per (boot, worker) highest wseq written */
	uint8_t ev_boot[16];
	bool ev_boot_known;
	bool w_known[DP_MAX_WORKERS];
	uint64_t w_last[DP_MAX_WORKERS];
	/* the same, read back from the trail at start (boot id prefix only) */
	bool seed_valid;
	uint8_t seed_boot[8];
	bool seed_known[DP_MAX_WORKERS];
	uint64_t seed_last[DP_MAX_WORKERS];
	bool ack_due;             /* records written since the last EVENTS_ACK */

	struct cp_dplink_counters c;
};

int
cp_dplink_new(struct cp_audit *audit, struct cp_dplink **out)
{
	struct cp_dplink *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return -ENOMEM;
	l->rx = aligned_alloc(16, (CP_DPMSG_MAX + 1 + 15) & ~(size_t)15);
	if (l->rx == NULL) {
		free(l);
		return -ENOMEM;
	}
	l->fd = -1;
	l->audit = audit;
	cp_gens_init(&l->gens);
	*out = l;
	return 0;
}

void
cp_dplink_free(struct cp_dplink *l)
{
	if (l == NULL)
		return;
	if (l->fd >= 0)
		close(l->fd);
	if (l->fallback != NULL && l->fallback != l->cur)
		cp_policy_free(l->fallback);
	cp_policy_free(l->cur);
	cp_gens_free(&l->gens);
	free(l->rx);
	free(l);
}

/* ---------------------------------------------------------------- policy */

/* Record pol's rule ids under gen (one matcher load, which also validates the blob). */
static int
register_gen(struct cp_dplink *l, const struct cp_policy *pol, uint64_t gen,
	     char *err, size_t errlen)
{
	struct cpm_policy *mp = NULL;
	const char **ids;
	uint32_t n;
	int rc;

	rc = cpm_policy_load(pol->blob, pol->blob_len, &mp, err, errlen);
	if (rc < 0)
		return rc;
	n = cpm_rule_count(mp);
	ids = calloc(n > 0 ? n : 1, sizeof(*ids));
	if (ids == NULL) {
		cpm_policy_free(mp);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++)
		ids[i] = cpm_rule_id(mp, (int32_t)i);
	rc = cp_gens_add(&l->gens, gen, pol->sha256, ids, n);
	free(ids);
	cpm_policy_free(mp);
	if (rc < 0)
		snprintf(err, errlen, "%s: out of memory recording rule ids", pol->path);
	return rc;
}

static int
push_policy(struct cp_dplink *l)
{
	struct dp_msg_policy m;
	int mfd, rc;

	mfd = cp_policy_memfd(l->cur);
	if (mfd < 0) {
		CP_ERR("policy %s generation %llu: cannot create its memfd: %s", l->cur->path,
		       (unsigned long long)l->cur_gen, strerror(-mfd));
		return mfd;
	}
	memset(&m, 0, sizeof(m));
	cp_dpmsg_hdr(&m.hdr, DP_MSG_POLICY, sizeof(m));
	m.gen = l->cur_gen;
	m.blob_len = l->cur->blob_len;
	memcpy(m.sha256, l->cur->sha256, 32);
	rc = cp_dpmsg_send(l->fd, &m, sizeof(m), mfd, 0);
	close(mfd);
	if (rc < 0) {
		CP_ERR("dataplane: cannot send policy generation %llu: %s",
		       (unsigned long long)l->cur_gen, strerror(-rc));
		return rc;
	}
	l->pending_gen = l->cur_gen;
	l->c.policies_pushed++;
	CP_INFO("dataplane: policy generation %llu pushed (%s, %u rules)",
		(unsigned long long)l->cur_gen, l->cur->path, l->cur->n_rules);
	return 0;
}

int
cp_dplink_set_policy(struct cp_dplink *l, struct cp_policy *pol, const char *by,
		     char *err, size_t errlen)
{
	uint64_t gen = l->gen_counter + 1;
	int rc;

	rc = register_gen(l, pol, gen, err, errlen);
	if (rc < 0)
		return rc;
	l->gen_counter = gen;
	/* keep the live policy as the fallback for a NACK; drop one nobody runs */
	if (l->cur != NULL) {
		if (l->fallback == NULL && l->cur_gen == l->live_gen && cp_dplink_ready(l)) {
			l->fallback = l->cur;
			l->fallback_gen = l->cur_gen;
		} else {
			cp_policy_free(l->cur);
		}
	}
	l->cur = pol;
	l->cur_gen = gen;
	snprintf(l->cur_by, sizeof(l->cur_by), "%s", by);
	l->cur_recorded = false;
	if (cp_dplink_ready(l) && push_policy(l) < 0)
		cp_dplink_detach(l, "policy push failed");
	return 0;
}

const struct cp_policy *
cp_dplink_policy(const struct cp_dplink *l)
{
	return l->cur;
}

uint64_t
cp_dplink_policy_gen(const struct cp_dplink *l)
{
	return l->cur_gen;
}

uint64_t
cp_dplink_live_gen(const struct cp_dplink *l)
{
	return l->live_gen;
}

uint64_t
cp_dplink_pending_gen(const struct cp_dplink *l)
{
	return l->pending_gen;
}

const struct cp_gens *
cp_dplink_gens(const struct cp_dplink *l)
{
	return &l->gens;
}

/* ------------------------------------------------------------ connection */

void
cp_dplink_attach(struct cp_dplink *l, int fd)
{
	struct timeval tv = { .tv_sec = 2 };

	if (l->fd >= 0)
		cp_dplink_detach(l, "replaced by a newer connection");
	/* a dataplane that stops reading must not stall the control plane forever */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	l->fd = fd;
	l->c.connections++;
}

void
cp_dplink_detach(struct cp_dplink *l, const char *why)
{
	if (l->fd < 0)
		return;
	CP_INFO("dataplane: connection closed: %s", why);
	close(l->fd);
	l->fd = -1;
	l->have_hello = false;
	l->have_stats = false;
	l->pending_gen = 0;
	l->live_gen = 0;
}

int
cp_dplink_fd(const struct cp_dplink *l)
{
	return l->fd;
}

bool
cp_dplink_ready(const struct cp_dplink *l)
{
	return l->fd >= 0 && l->have_hello;
}

const struct dp_msg_hello *
cp_dplink_hello(const struct cp_dplink *l)
{
	return l->have_hello ? &l->hello : NULL;
}

const struct dp_msg_stats *
cp_dplink_stats(const struct cp_dplink *l)
{
	return l->have_stats ? &l->stats : NULL;
}

uint64_t
cp_dplink_nack_gen(const struct cp_dplink *l)
{
	return l->nack_gen;
}

const char *
cp_dplink_nack_reason(const struct cp_dplink *l)
{
	return l->nack_reason;
}

const struct cp_dplink_counters *
cp_dplink_counters(const struct cp_dplink *l)
{
	return &l->c;
}

static int
send_hdr_only(struct cp_dplink *l, uint16_t type)
{
	struct dp_msg_hdr h;

	if (l->fd < 0)
		return -ENOTCONN;
	cp_dpmsg_hdr(&h, type, sizeof(h));
	return cp_dpmsg_send(l->fd, &h, sizeof(h), -1, 0);
}

int
cp_dplink_request_stats(struct cp_dplink *l)
{
	if (!cp_dplink_ready(l))
		return -ENOTCONN;
	return send_hdr_only(l, DP_MSG_STATS_REQ);
}

int
cp_dplink_send_dns(struct cp_dplink *l, const struct dp_msg_dns_resolved *m)
{
	if (!cp_dplink_ready(l))
		return -ENOTCONN;
	/* blocking: a full socket waits for the dataplane rather than losing an answer */
	return cp_dpmsg_send(l->fd, m, sizeof(*m), -1, 0);
}

int
cp_dplink_quit(struct cp_dplink *l)
{
	return send_hdr_only(l, DP_MSG_QUIT);
}

/* ------------------------------------------------------------ seeding */

/* The unsigned value of member key, if it is a plain number. */
static bool
member_u64(const struct cp_json_member *m, int n, const char *key, uint64_t *out)
{
	size_t kl = strlen(key);

	for (int i = 0; i < n; i++) {
		char num[24];

		if (m[i].key_len != kl || memcmp(m[i].key, key, kl) != 0)
			continue;
		if (m[i].val_len == 0 || m[i].val_len >= sizeof(num) || m[i].val[0] < '0' ||
		    m[i].val[0] > '9')
			return false;
		memcpy(num, m[i].val, m[i].val_len);
		num[m[i].val_len] = '\0';
		*out = strtoull(num, NULL, 10);
		return true;
	}
	return false;
}

static bool
member_boot(const struct cp_json_member *m, int n, uint8_t boot[8])
{
	for (int i = 0; i < n; i++)
		if (m[i].key_len == 4 && memcmp(m[i].key, "boot", 4) == 0)
			return m[i].val_len == 18 && cp_unhex(m[i].val + 1, 8, boot) == 0;
	return false;
}

enum { SEED_TAIL = 4 * 1024 * 1024 };   /* > one service turn of records (64 x 32 x ~700 B) */

/* Read the tail of one file into the seed state (continuing it). Records read or -errno. */
static int
seed_file(struct cp_dplink *l, const char *path, off_t *size_out)
{
	enum { TAIL = SEED_TAIL, MEMBERS = 40 };
	struct cp_json_member m[MEMBERS];
	char *buf, *p, *end;
	off_t size;
	ssize_t r;
	int fd, n, records = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	size = lseek(fd, 0, SEEK_END);
	if (size_out != NULL)
		*size_out = size;
	buf = malloc(TAIL + 1);
	if (size < 0 || buf == NULL) {
		close(fd);
		free(buf);
		return -ENOMEM;
	}
	r = pread(fd, buf, size > TAIL ? TAIL : (size_t)size, size > TAIL ? size - TAIL : 0);
	close(fd);
	if (r < 0) {
		free(buf);
		return -errno;
	}
	buf[r] = '\0';
	end = buf + r;
	p = buf;
	if (size > TAIL) {
		/* skip the first, probably partial, line */
		p = memchr(buf, '\n', (size_t)r);
		p = p != NULL ? p + 1 : end;
	}
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		uint8_t boot[8];
		uint64_t w, seq, hi;
		size_t off;

		if (nl == NULL)
			break;
		n = cp_json_scan_object(p, (size_t)(nl - p), m, MEMBERS, &off);
		p = nl + 1;
		if (n <= 0 || !member_boot(m, n, boot) || !member_u64(m, n, "worker", &w) ||
		    w >= DP_MAX_WORKERS)
			continue;
		if (member_u64(m, n, "wseq", &seq))
			hi = seq;
		else if (member_u64(m, n, "last", &seq))
			hi = seq;     /* audit.gap: its range was accounted for */
		else
			continue;
		records++;
		/* a newer boot in the trail supersedes what came before it */
		if (!l->seed_valid || memcmp(l->seed_boot, boot, 8) != 0) {
			memcpy(l->seed_boot, boot, 8);
			memset(l->seed_known, 0, sizeof(l->seed_known));
			memset(l->seed_last, 0, sizeof(l->seed_last));
			l->seed_valid = true;
		}
		if (!l->seed_known[w] || hi > l->seed_last[w])
			l->seed_last[w] = hi;
		l->seed_known[w] = true;
	}
	free(buf);
	return records;
}

int
cp_dplink_seed_from_trail(struct cp_dplink *l, const char *path)
{
	off_t size = 0;
	char **v = NULL;
	size_t n = 0;
	int rc, total = 0;

	memset(l->seed_known, 0, sizeof(l->seed_known));
	l->seed_valid = false;
	/* a trail rotated a moment ago: the last records are in the newest rotated file */
	if (cp_audit_rotated_files(path, &v, &n) == 0 && n > 0) {
		struct stat st;

		if (stat(path, &st) != 0 || st.st_size < SEED_TAIL) {
			rc = seed_file(l, v[n - 1], NULL);
			if (rc > 0)
				total += rc;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	rc = seed_file(l, path, &size);
	if (rc < 0)
		return rc;
	return total + rc;
}

/* -------------------------------------------------------------- messages */

static unsigned
on_hello(struct cp_dplink *l, const struct dp_msg_hello *m)
{
	char boot[33];
	char err[512];

	l->hello = *m;
	l->have_hello = true;
	CP_INFO("dataplane: hello from pid %u boot %s: %u workers, %u ports, policy generation %llu%s",
		m->pid, cp_hex(m->boot_id, 16, boot), m->n_workers, m->n_ports,
		(unsigned long long)m->policy_gen, m->replay ? " (replay)" : "");
	/* a dataplane without a policy started afresh: older generations are done with */
	if (m->policy_gen == 0 && l->cur != NULL)
		cp_gens_retire(&l->gens, l->cur_gen);
	if (l->cur == NULL) {
		CP_WARN("dataplane: no valid policy to push: it stays fail-closed");
		return CP_DPL_HELLO;
	}
	if (m->policy_gen == l->cur_gen && memcmp(m->policy_sha256, l->cur->sha256, 32) == 0) {
		l->live_gen = l->cur_gen;
		return CP_DPL_HELLO;
	}
	if (m->policy_gen >= l->cur_gen) {
		/* it runs a generation numbered by an earlier control plane: renumber above it */
		uint64_t gen = (m->policy_gen > l->gen_counter ? m->policy_gen : l->gen_counter) + 1;

		if (register_gen(l, l->cur, gen, err, sizeof(err)) < 0) {
			CP_ERR("policy %s: %s", l->cur->path, err);
			return CP_DPL_HELLO;
		}
		l->gen_counter = gen;
		l->cur_gen = gen;
	}
	if (l->cur_recorded)
		snprintf(l->cur_by, sizeof(l->cur_by), "start");
	l->cur_recorded = false;
	if (push_policy(l) < 0) {
		cp_dplink_detach(l, "policy push failed");
		return CP_DPL_HELLO | CP_DPL_CLOSED;
	}
	return CP_DPL_HELLO;
}

static int
write_policy_loaded(struct cp_dplink *l)
{
	struct cp_json j;
	uint64_t seq = cp_audit_next_seq(l->audit);
	int rc;

	rc = cp_record_policy_loaded(&j, l->line, sizeof(l->line), seq, cp_now_ns(),
				     l->cur->sha256, l->cur->n_rules, l->cur_gen,
				     l->cur->path, l->cur_by);
	if (rc == 0)
		rc = cp_audit_append(l->audit, &j, seq);
	if (rc == 0)
		rc = cp_audit_sync(l->audit);
	return rc;
}

static unsigned
on_ack(struct cp_dplink *l, uint64_t gen)
{
	char sha[65];
	int rc;

	l->c.policy_acks++;
	if (gen != l->pending_gen || gen != l->cur_gen) {
		CP_WARN("dataplane: acknowledged policy generation %llu, expected %llu: ignored",
			(unsigned long long)gen, (unsigned long long)l->pending_gen);
		return 0;
	}
	l->pending_gen = 0;
	l->live_gen = gen;
	if (l->fallback != NULL) {
		cp_policy_free(l->fallback);
		l->fallback = NULL;
	}
	CP_INFO("dataplane: policy generation %llu live: sha256:%s (%s, by %s)",
		(unsigned long long)gen, cp_hex(l->cur->sha256, 32, sha), l->cur->path,
		l->cur_by);
	if (!l->cur_recorded) {
		rc = write_policy_loaded(l);
		if (rc < 0) {
			l->c.audit_errors++;
			CP_ERR("audit %s: cannot write policy.loaded: %s",
			       cp_audit_path(l->audit), strerror(-rc));
			return CP_DPL_ACK | CP_DPL_AUDIT_ERR;
		}
		l->cur_recorded = true;
	}
	return CP_DPL_ACK;
}

static unsigned
on_nack(struct cp_dplink *l, const struct dp_msg_policy_nack *m)
{
	l->c.policy_nacks++;
	l->nack_gen = m->gen;
	snprintf(l->nack_reason, sizeof(l->nack_reason), "%s", m->reason);
	CP_ERR("dataplane: rejected policy generation %llu: %s",
	       (unsigned long long)m->gen, m->reason);
	if (m->gen != l->pending_gen)
		return CP_DPL_NACK;
	l->pending_gen = 0;
	if (m->gen == l->cur_gen && l->fallback != NULL) {
		CP_WARN("policy: generation %llu (%s) stays current",
			(unsigned long long)l->fallback_gen, l->fallback->path);
		cp_policy_free(l->cur);
		l->cur = l->fallback;
		l->cur_gen = l->fallback_gen;
		l->cur_recorded = true;
		l->fallback = NULL;
	}
	return CP_DPL_NACK;
}

static int
append_record(struct cp_dplink *l, struct cp_json *j, uint64_t seq)
{
	int rc = cp_audit_append(l->audit, j, seq);

	if (rc < 0) {
		l->c.audit_errors++;
		CP_ERR("audit %s: cannot write record %llu: %s", cp_audit_path(l->audit),
		       (unsigned long long)seq, strerror(-rc));
	}
	return rc;
}

/* audit.gap for wseq first..last of worker w that neither arrived nor were reported lost */
static int
write_missing(struct cp_dplink *l, const struct dp_event *ev, uint64_t first, uint64_t last)
{
	struct cp_json j;
	uint64_t seq = cp_audit_next_seq(l->audit);
	int rc;

	CP_WARN("dataplane: worker %u: events %llu..%llu never arrived: audit.gap written",
		ev->worker, (unsigned long long)first, (unsigned long long)last);
	rc = cp_record_gap(&j, l->line, sizeof(l->line), seq, ev->ts_ns, l->ev_boot,
			   ev->worker, first, last, "missing");
	if (rc == 0)
		rc = append_record(l, &j, seq);
	if (rc == 0)
		l->c.gaps_missing++;
	return rc;
}

static int
one_event(struct cp_dplink *l, const struct dp_event *ev)
{
	struct cp_json j;
	uint64_t seq, lo, hi;
	unsigned w = ev->worker;
	int rc;

	if (w < DP_MAX_WORKERS && l->w_known[w]) {
		if (ev->wseq <= l->w_last[w]) {
			l->c.dup_events++;
			return 0;
		}
		lo = ev->wseq;
		if (ev->type == DP_EV_GAP && ev->gap_first < lo)
			lo = ev->gap_first;
		if (lo > l->w_last[w] + 1) {
			rc = write_missing(l, ev, l->w_last[w] + 1, lo - 1);
			if (rc < 0)
				return rc;
		}
	}
	seq = cp_audit_next_seq(l->audit);
	rc = cp_record_event(&j, l->line, sizeof(l->line), seq, ev, l->ev_boot, &l->gens);
	if (rc == -EINVAL) {
		l->c.bad_events++;
		CP_WARN("dataplane: worker %u wseq %llu: unknown event type %u: not recorded",
			w, (unsigned long long)ev->wseq, ev->type);
		return 0;
	}
	if (rc < 0) {
		CP_ERR("dataplane: worker %u wseq %llu: record does not fit in %d bytes", w,
		       (unsigned long long)ev->wseq, CP_LINE_MAX);
		return rc;
	}
	if (rc & (CP_REC_CLAMPED | CP_REC_BAD_ENUM)) {
		l->c.bad_events++;
		CP_WARN("dataplane: worker %u wseq %llu: field out of range (recorded as is)", w,
			(unsigned long long)ev->wseq);
	}
	if (rc & (CP_REC_UNKNOWN_GEN | CP_REC_UNKNOWN_RULE)) {
		if (l->c.unknown_gen++ == 0)
			CP_WARN("dataplane: worker %u wseq %llu: policy generation %llu rule %d unknown here: recorded as null",
				w, (unsigned long long)ev->wseq,
				(unsigned long long)ev->policy_gen, ev->rule);
	}
	rc = append_record(l, &j, seq);
	if (rc < 0)
		return rc;
	l->c.events++;
	if (w < DP_MAX_WORKERS) {
		hi = ev->wseq;
		if (ev->type == DP_EV_GAP && ev->gap_last > hi)
			hi = ev->gap_last;
		l->w_known[w] = true;
		l->w_last[w] = hi;
	}
	return 0;
}

static unsigned
on_events(struct cp_dplink *l, const struct dp_msg_events *m)
{
	bool known[DP_MAX_WORKERS];
	uint64_t last[DP_MAX_WORKERS], events;
	struct dp_event ev;
	int rc = 0;

	if (!l->ev_boot_known || memcmp(l->ev_boot, m->boot_id, 16) != 0) {
		memcpy(l->ev_boot, m->boot_id, 16);
		l->ev_boot_known = true;
		memset(l->w_known, 0, sizeof(l->w_known));
		memset(l->w_last, 0, sizeof(l->w_last));
		if (l->seed_valid && memcmp(l->seed_boot, m->boot_id, 8) == 0) {
			memcpy(l->w_known, l->seed_known, sizeof(l->w_known));
			memcpy(l->w_last, l->seed_last, sizeof(l->w_last));
		}
		l->seed_valid = false;
	}
	/* the message's records go out with one write; if it fails, none of them count */
	memcpy(known, l->w_known, sizeof(known));
	memcpy(last, l->w_last, sizeof(last));
	events = l->c.events;
	cp_audit_batch_begin(l->audit);
	for (uint32_t i = 0; i < m->count; i++) {
		/* copy out: the receive buffer gives no alignment promise for the array */
		memcpy(&ev, (const uint8_t *)m->ev + (size_t)i * sizeof(ev), sizeof(ev));
		rc = one_event(l, &ev);
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		cp_audit_batch_abort(l->audit);     /* one_event counted and logged it */
	} else {
		rc = cp_audit_batch_commit(l->audit);
		if (rc < 0) {
			l->c.audit_errors++;
			CP_ERR("audit %s: cannot write %u records: %s", cp_audit_path(l->audit),
			       m->count, strerror(-rc));
		}
	}
	if (rc < 0) {
		/* de-duplication as before the message: the dataplane resends all of it */
		memcpy(l->w_known, known, sizeof(known));
		memcpy(l->w_last, last, sizeof(last));
		l->c.events = events;
		cp_dplink_detach(l, "audit write failed; events stay with the dataplane");
		return CP_DPL_EVENTS | CP_DPL_AUDIT_ERR | CP_DPL_CLOSED;
	}
	/* written; synced and acknowledged once per service turn (flush_ack) */
	l->ack_due = true;
	return CP_DPL_EVENTS;
}

/*
 * Make what on_events() wrote durable per the fsync policy, then tell the
 * dataplane: one fsync and one EVENTS_ACK for every EVENTS message handled
 * in this turn, so a backlog costs one fsync per turn, not one per batch.
 */
static unsigned
flush_ack(struct cp_dplink *l)
{
	struct dp_msg_events_ack ack;
	int rc;

	if (!l->ack_due)
		return 0;
	l->ack_due = false;
	rc = cp_audit_sync(l->audit);
	if (rc < 0) {
		l->c.audit_errors++;
		CP_ERR("audit %s: fsync: %s", cp_audit_path(l->audit), strerror(-rc));
		cp_dplink_detach(l, "audit fsync failed; events stay with the dataplane");
		return CP_DPL_AUDIT_ERR | CP_DPL_CLOSED;
	}
	if (l->fd < 0)
		return 0;
	memset(&ack, 0, sizeof(ack));
	cp_dpmsg_hdr(&ack.hdr, DP_MSG_EVENTS_ACK, sizeof(ack));
	for (unsigned w = 0; w < DP_MAX_WORKERS; w++)
		ack.acked_wseq[w] = l->w_known[w] ? l->w_last[w] : 0;
	/* best effort: a later ack supersedes a dropped one */
	cp_dpmsg_send(l->fd, &ack, sizeof(ack), -1, 1);
	return 0;
}

static unsigned
dispatch(struct cp_dplink *l, int type)
{
	switch (type) {
	case DP_MSG_HELLO:
		return on_hello(l, (const struct dp_msg_hello *)l->rx);
	case DP_MSG_POLICY_ACK: {
		const struct dp_msg_policy_ack *m = (const void *)l->rx;

		return on_ack(l, m->gen);
	}
	case DP_MSG_POLICY_NACK:
		return on_nack(l, (const struct dp_msg_policy_nack *)l->rx);
	case DP_MSG_EVENTS:
		return on_events(l, (const struct dp_msg_events *)l->rx);
	case DP_MSG_STATS:
		memcpy(&l->stats, l->rx, sizeof(l->stats));
		l->have_stats = true;
		return CP_DPL_STATS;
	case DP_MSG_DRAINED:
		return CP_DPL_DRAINED;
	default:
		return 0;
	}
}

unsigned
cp_dplink_service(struct cp_dplink *l)
{
	unsigned seen = 0, turns = 256;  /* bounded (~30 ms of records): the caller's other sockets get their turn */
	unsigned waits = 0;
	char why[160];
	int fds[4], nfds;

	while (l->fd >= 0 && turns-- > 0) {
		ssize_t n = cp_dpmsg_recv(l->fd, l->rx, CP_DPMSG_MAX + 1, fds, 4, &nfds);
		int type;

		if (n == -EAGAIN) {
			struct pollfd p = { .fd = l->fd, .events = POLLIN };

			/*
			 * Group commit: the socket holds only a few messages (net.unix.
			 * max_dgram_qlen), the dataplane sends more as soon as they are read.
			 * While records wait for their fsync, give it 1 ms (at most 4 times
			 * a turn) so one fsync covers more of them.
			 */
			if (!l->ack_due || cp_audit_fsync_mode(l->audit) != 1 || waits++ >= 4 ||
			    poll(&p, 1, 1) <= 0)
				break;
			continue;
		}
		if (n == 0) {
			seen |= flush_ack(l);   /* written records stay written: sync them */
			cp_dplink_detach(l, "end of stream");
			return seen | CP_DPL_CLOSED;
		}
		if (n == -EMSGSIZE) {
			l->c.bad_msgs++;
			CP_ERR("dataplane: bad message: longer than %zu bytes (or too many descriptors)",
			       (size_t)CP_DPMSG_MAX);
			cp_dplink_detach(l, "bad message");
			return seen | CP_DPL_CLOSED;
		}
		if (n < 0) {
			snprintf(why, sizeof(why), "receive: %s", strerror((int)-n));
			cp_dplink_detach(l, why);
			return seen | CP_DPL_CLOSED;
		}
		type = cp_dpmsg_check(l->rx, (size_t)n, nfds, CP_DPMSG_TO_CP, why, sizeof(why));
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		if (type < 0) {
			l->c.bad_msgs++;
			CP_ERR("dataplane: bad message: %s", why);
			cp_dplink_detach(l, "bad message");
			return seen | CP_DPL_CLOSED;
		}
		if (type != DP_MSG_HELLO && !l->have_hello) {
			l->c.bad_msgs++;
			CP_ERR("dataplane: bad message: type %d before HELLO", type);
			cp_dplink_detach(l, "bad message");
			return seen | CP_DPL_CLOSED;
		}
		if (type == DP_MSG_DRAINED)
			seen |= flush_ack(l);   /* every record durable before the caller answers */
		seen |= dispatch(l, type);
		if (seen & CP_DPL_DRAINED)
			break;    /* replay: the caller writes out and answers QUIT */
	}
	return seen | flush_ack(l);
}
