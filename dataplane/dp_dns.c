/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_dns.c: the per-worker DNS binding tables (see dp_dns.h).
 *
 * Concurrency: one writer per table (its worker), readers anywhere. Each
 * entry carries a sequence count: the writer makes it odd, stores the fields,
 * makes it even again (release); a reader loads it (acquire), loads the
 * fields, loads it again after an acquire fence and retries if it changed or
 * was odd. Every field is stored and loaded with relaxed atomics, so there is
 * no data race in the C11 sense, and no reader ever blocks the writer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dp_dns.h"
#include "dns.h"
#include "siphash.h"

#define WAYS 4
#define ENTRIES_MIN 64u

struct dns_ent {
	uint32_t seq;           /* odd while written */
	uint32_t expire;        /* realtime seconds; 0 = empty */
	uint64_t digest;        /* SipHash of the name */
	uint64_t client[2];
	uint64_t addr[2];
	uint64_t fam;           /* client family << 8 | address family */
	uint64_t pad;
};

struct dns_key {
	uint64_t client[2];
	uint64_t addr[2];
	uint64_t fam;
	uint64_t digest;
};

/* a DNS-over-TCP message in pieces (dp_dns_observe_tcp) */
struct tcp_slot {
	uint64_t flow_id;
	uint32_t next_seq;      /* the byte after what is kept */
	uint32_t need;          /* whole message with its prefix, 0 while the prefix is split */
	uint32_t have;          /* bytes in buf (skip: bytes still to pass over) */
	uint32_t stamp;         /* last use, seconds */
	uint8_t used;
	uint8_t skip;           /* a message over DP_DNS_TCP_MSG_MAX: passed over, not kept */
	uint8_t buf[DP_DNS_TCP_MSG_MAX + 2];
};

struct dp_dns_table {
	struct dns_ent *ent;    /* n_buckets * WAYS */
	uint32_t mask;          /* n_buckets - 1 */
	uint32_t grace;
	uint32_t tcp_used;      /* slots in use */
	uint8_t tcp_https;      /* this call's enum dp_dns_tcp_https */
	uint8_t tcp_block;      /* a message completed in this call is to be blocked */
	struct tcp_slot *tcp;   /* DP_DNS_TCP_SLOTS; NULL for the resolved table */
	struct dp_dns_stats st;
};

static struct dp_dns_table *tables[DP_DNS_WORKERS_MAX];
/* the resolved table: written by the control thread only */
static struct dp_dns_table *resolved;
static uint64_t res_updates, res_removes;
static uint8_t sip_key[CPM_SIPHASH_KEY_LEN];
static int sip_key_set;

#define LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define CNT(t, f) ST(&(t)->st.f, LD(&(t)->st.f) + 1)

static struct dp_dns_table *
table_alloc(uint32_t max_entries, uint32_t grace_s, int with_tcp)
{
	struct dp_dns_table *t;
	uint32_t n = ENTRIES_MIN;

	if (max_entries > (1u << 28)) {
		errno = EINVAL;
		return NULL;
	}
	if (!sip_key_set) {
		if (getrandom(sip_key, sizeof(sip_key), 0) != (ssize_t)sizeof(sip_key))
			return NULL;
		sip_key_set = 1;
	}
	while (n < max_entries)
		n <<= 1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->ent = aligned_alloc(64, (size_t)n * sizeof(struct dns_ent));
	if (t->ent == NULL) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	memset(t->ent, 0, (size_t)n * sizeof(struct dns_ent));
	if (with_tcp) {
		t->tcp = calloc(DP_DNS_TCP_SLOTS, sizeof(*t->tcp));
		if (t->tcp == NULL) {
			free(t->ent);
			free(t);
			errno = ENOMEM;
			return NULL;
		}
	}
	t->mask = n / WAYS - 1;
	t->grace = grace_s;
	return t;
}

struct dp_dns_table *
dp_dns_table_create(unsigned int id, uint32_t max_entries, uint32_t grace_s)
{
	struct dp_dns_table *t;

	if (id >= DP_DNS_WORKERS_MAX) {
		errno = EINVAL;
		return NULL;
	}
	t = table_alloc(max_entries, grace_s, 1);
	if (t == NULL)
		return NULL;
	__atomic_store_n(&tables[id], t, __ATOMIC_RELEASE);
	return t;
}

void
dp_dns_table_free(struct dp_dns_table *t)
{
	unsigned int i;

	if (t == NULL)
		return;
	for (i = 0; i < DP_DNS_WORKERS_MAX; i++)
		if (__atomic_load_n(&tables[i], __ATOMIC_ACQUIRE) == t)
			__atomic_store_n(&tables[i], NULL, __ATOMIC_RELEASE);
	free(t->tcp);
	free(t->ent);
	free(t);
}

struct dp_dns_table *
dp_dns_table_of(unsigned int id)
{
	if (id >= DP_DNS_WORKERS_MAX)
		return NULL;
	return __atomic_load_n(&tables[id], __ATOMIC_ACQUIRE);
}

static void
key_make(struct dns_key *k, uint8_t family, const uint8_t client[16], uint8_t afam,
	 const uint8_t addr[16], uint64_t digest)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->client, client, family == 4 ? 4 : 16);
	memcpy(k->addr, addr, afam == 4 ? 4 : 16);
	k->fam = (uint64_t)family << 8 | afam;
	k->digest = digest;
}

static struct dns_ent *
bucket(const struct dp_dns_table *t, const struct dns_key *k)
{
	uint64_t h = cpm_siphash24(sip_key, k, sizeof(*k));

	return &t->ent[(size_t)(h & t->mask) * WAYS];
}

/* a consistent copy of e's key and expiry (reader side) */
static void
ent_read(const struct dns_ent *e, struct dns_key *k, uint32_t *expire)
{
	uint32_t s1, s2;

	for (;;) {
		s1 = __atomic_load_n(&e->seq, __ATOMIC_ACQUIRE);
		if (s1 & 1)
			continue;       /* the writer is a few stores from done */
		*expire = LD(&e->expire);
		k->digest = LD(&e->digest);
		k->client[0] = LD(&e->client[0]);
		k->client[1] = LD(&e->client[1]);
		k->addr[0] = LD(&e->addr[0]);
		k->addr[1] = LD(&e->addr[1]);
		k->fam = LD(&e->fam);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = LD(&e->seq);
		if (s1 == s2)
			return;
	}
}

/* writer side: the whole entry, under the sequence count */
static void
ent_write(struct dns_ent *e, const struct dns_key *k, uint32_t expire)
{
	uint32_t s = LD(&e->seq);

	ST(&e->seq, s + 1);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	ST(&e->expire, expire);
	ST(&e->digest, k->digest);
	ST(&e->client[0], k->client[0]);
	ST(&e->client[1], k->client[1]);
	ST(&e->addr[0], k->addr[0]);
	ST(&e->addr[1], k->addr[1]);
	ST(&e->fam, k->fam);
	__atomic_store_n(&e->seq, s + 2, __ATOMIC_RELEASE);
}

static int
key_eq(const struct dns_key *a, const struct dns_key *b)
{
	return a->digest == b->digest && a->fam == b->fam &&
	       a->client[0] == b->client[0] && a->client[1] == b->client[1] &&
	       a->addr[0] == b->addr[0] && a->addr[1] == b->addr[1];
}

/* The writer reads its own entries directly: nobody else stores to them. */
static void
record(struct dp_dns_table *t, const struct dns_key *k, uint32_t expire, uint32_t now)
{
	struct dns_ent *b = bucket(t, k), *victim = NULL;
	struct dns_key ek;
	uint32_t ex;
	int i;

	for (i = 0; i < WAYS; i++) {
		ent_read(&b[i], &ek, &ex);
		if (ex != 0 && key_eq(&ek, k)) {
			if (expire > ex) {
				ent_write(&b[i], k, expire);
				CNT(t, refreshed);
			}
			return;
		}
		if (victim == NULL || ex < LD(&victim->expire))
			victim = &b[i];
	}
	ex = LD(&victim->expire);
	if (ex != 0 && ex >= now)
		CNT(t, evicted);
	else if (ex != 0)
		CNT(t, reused);
	ent_write(victim, k, expire);
	CNT(t, recorded);
}

static uint64_t
name_digest(const char *name, size_t len)
{
	return cpm_siphash24(sip_key, name, len);
}

int
dp_dns_observe(struct dp_dns_table *t, uint8_t family, const uint8_t client[16],
	       const uint8_t *msg, size_t len, uint32_t now_s)
{
	struct dns_response r;
	enum dns_result rc;
	struct dns_key k;
	uint64_t digest;
	uint32_t ttl;
	unsigned int i;

	if (t == NULL)
		return -EINVAL;
	CNT(t, responses);
	rc = dns_parse_response(msg, len, &r);
	if (rc != DNS_OK) {
		CNT(t, bad[rc]);
		return rc;
	}
	if (r.qname_len == 0 || r.n_addrs == 0)
		return DNS_OK;
	digest = name_digest(r.qname, r.qname_len);
	for (i = 0; i < r.n_addrs; i++) {
		ttl = r.addrs[i].ttl < DP_DNS_TTL_CAP ? r.addrs[i].ttl : DP_DNS_TTL_CAP;
		key_make(&k, family, client, r.addrs[i].family, r.addrs[i].addr, digest);
		record(t, &k, now_s + ttl + t->grace, now_s);
	}
	return DNS_OK;
}

static int
table_has(const struct dp_dns_table *t, const struct dns_key *k, uint32_t now_s)
{
	const struct dns_ent *b = bucket(t, k);
	struct dns_key ek;
	uint32_t ex;
	int i;

	for (i = 0; i < WAYS; i++) {
		ent_read(&b[i], &ek, &ex);
		if (ex != 0 && ex >= now_s && key_eq(&ek, k))
			return 1;
	}
	return 0;
}

/* resolved entries: no client (family 0, address zero), any client matches */
static const uint8_t no_client[16];

int
dp_dns_bound(uint8_t family, const uint8_t client[16], const uint8_t addr[16],
	     const char *name, size_t name_len, uint32_t now_s)
{
	const struct dp_dns_table *t;
	struct dns_key k;
	unsigned int id;
	uint64_t digest;

	if (!sip_key_set)
		return DP_DNS_BOUND_NONE;
	digest = name_digest(name, name_len);
	key_make(&k, family, client, family, addr, digest);
	for (id = 0; id < DP_DNS_WORKERS_MAX; id++) {
		t = __atomic_load_n(&tables[id], __ATOMIC_ACQUIRE);
		if (t != NULL && table_has(t, &k, now_s))
			return DP_DNS_BOUND_OBSERVED;
	}
	t = __atomic_load_n(&resolved, __ATOMIC_ACQUIRE);
	if (t != NULL) {
		key_make(&k, 0, no_client, family, addr, digest);
		if (table_has(t, &k, now_s))
			return DP_DNS_BOUND_RESOLVED;
	}
	return DP_DNS_BOUND_NONE;
}

/* ---- the resolved table (control thread writes, workers read) ---------- */

int
dp_dns_resolved_init(uint32_t max_entries, uint32_t grace_s)
{
	struct dp_dns_table *t = table_alloc(max_entries, grace_s, 0), *old;

	if (t == NULL)
		return -errno;
	old = __atomic_exchange_n(&resolved, t, __ATOMIC_ACQ_REL);
	/* only at start-up: the workers do not run yet when an old one is freed */
	if (old != NULL) {
		free(old->ent);
		free(old);
	}
	return 0;
}

void
dp_dns_resolved_fini(void)
{
	struct dp_dns_table *t = __atomic_exchange_n(&resolved, NULL, __ATOMIC_ACQ_REL);

	if (t != NULL) {
		free(t->ent);
		free(t);
	}
}

void
dp_dns_resolved_set_grace(uint32_t grace_s)
{
	if (resolved != NULL)
		resolved->grace = grace_s;      /* read by this (the writer's) thread only */
}

int
dp_dns_resolved_add(const char *name, size_t name_len, unsigned int n,
		    const uint8_t *fam, const uint8_t (*addrs)[16], const uint32_t *ttl,
		    uint32_t now_s)
{
	struct dp_dns_table *t = resolved;
	struct dns_key k;
	uint64_t digest;
	unsigned int i;

	if (t == NULL || name_len == 0)
		return -EINVAL;
	if (n == 0)
		return -ENOENT;
	for (i = 0; i < n; i++)
		if (fam[i] != 4 && fam[i] != 6)
			return -EINVAL;
	digest = name_digest(name, name_len);
	for (i = 0; i < n; i++) {
		uint32_t tl = ttl[i] < DP_DNS_TTL_CAP ? ttl[i] : DP_DNS_TTL_CAP;

		key_make(&k, 0, no_client, fam[i], addrs[i], digest);
		record(t, &k, now_s + tl + t->grace, now_s);
	}
	ST(&res_updates, LD(&res_updates) + 1);
	return 0;
}

int
dp_dns_resolved_remove(const char *name, size_t name_len)
{
	struct dp_dns_table *t = resolved;
	uint64_t digest;
	size_t i, n;
	int dropped = 0;

	if (t == NULL || name_len == 0)
		return -EINVAL;
	digest = name_digest(name, name_len);
	n = (size_t)(t->mask + 1) * WAYS;
	for (i = 0; i < n; i++) {
		struct dns_ent *e = &t->ent[i];
		struct dns_key k;

		if (LD(&e->expire) == 0 || LD(&e->digest) != digest)
			continue;
		memset(&k, 0, sizeof(k));
		ent_write(e, &k, 0);
		dropped++;
	}
	ST(&res_removes, LD(&res_removes) + 1);
	return dropped;
}

void
dp_dns_resolved_stats_get(uint32_t now_s, struct dp_dns_resolved_stats *out)
{
	const struct dp_dns_table *t = resolved;
	size_t i, n;

	memset(out, 0, sizeof(*out));
	out->updates = LD(&res_updates);
	out->removes = LD(&res_removes);
	if (t == NULL)
		return;
	n = (size_t)(t->mask + 1) * WAYS;
	out->capacity = n;
	for (i = 0; i < n; i++) {
		uint32_t ex = LD(&t->ent[i].expire);

		if (ex != 0 && ex >= now_s)
			out->entries++;
	}
	out->recorded = LD(&t->st.recorded);
	out->refreshed = LD(&t->st.refreshed);
	out->evicted = LD(&t->st.evicted);
	out->reused = LD(&t->st.reused);
}

/* ---- DNS over TCP ------------------------------------------------------ */

static inline int
seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static struct tcp_slot *
tcp_find(struct dp_dns_table *t, uint64_t flow_id)
{
	unsigned int i;

	if (t->tcp_used == 0)
		return NULL;
	for (i = 0; i < DP_DNS_TCP_SLOTS; i++)
		if (t->tcp[i].used && t->tcp[i].flow_id == flow_id)
			return &t->tcp[i];
	return NULL;
}

static void
tcp_free(struct dp_dns_table *t, struct tcp_slot *s)
{
	s->used = 0;
	t->tcp_used--;
}

/* a free slot, or the least recently used one (its message counted skipped) */
static struct tcp_slot *
tcp_take(struct dp_dns_table *t, uint64_t flow_id, uint32_t now_s)
{
	struct tcp_slot *s = NULL;
	unsigned int i;

	for (i = 0; i < DP_DNS_TCP_SLOTS; i++) {
		if (!t->tcp[i].used) {
			s = &t->tcp[i];
			break;
		}
		if (s == NULL || t->tcp[i].stamp < s->stamp)
			s = &t->tcp[i];
	}
	if (s->used)
		CNT(t, tcp_skipped);
	else
		t->tcp_used++;
	s->used = 1;
	s->flow_id = flow_id;
	s->need = 0;
	s->have = 0;
	s->skip = 0;
	s->stamp = now_s;
	return s;
}

static void
tcp_message(struct dp_dns_table *t, uint8_t family, const uint8_t client[16],
	    const uint8_t *msg, size_t len, uint32_t now_s)
{
	struct dns_svcb_info in;

	CNT(t, tcp_messages);
	/* SVCB/HTTPS records cannot be rewritten in a TCP stream: block or pass */
	if (dns_svcb_scan(msg, len, &in) == DNS_OK && in.n_svcb > 0) {
		if (t->tcp_https == DP_DNS_TCP_HTTPS_REFUSE) {
			CNT(t, https_refused);
			t->tcp_block = 1;
		} else if (t->tcp_https == DP_DNS_TCP_HTTPS_NO_ECH && in.n_ech > 0) {
			CNT(t, https_unstrippable);
			t->tcp_block = 1;
		} else {
			CNT(t, https_allowed);
		}
	}
	dp_dns_observe(t, family, client, msg, len, now_s);
}

static void observe_tcp(struct dp_dns_table *t, uint64_t flow_id, uint8_t family,
			const uint8_t client[16], uint32_t seq, const uint8_t *data,
			size_t len, uint32_t now_s);

int
dp_dns_observe_tcp(struct dp_dns_table *t, uint64_t flow_id, uint8_t family,
		   const uint8_t client[16], uint32_t seq, const uint8_t *data,
		   size_t len, uint32_t now_s, enum dp_dns_tcp_https https)
{
	if (t == NULL || t->tcp == NULL || len == 0)
		return 0;
	t->tcp_https = (uint8_t)https;
	t->tcp_block = 0;
	observe_tcp(t, flow_id, family, client, seq, data, len, now_s);
	return t->tcp_block;
}

static void
observe_tcp(struct dp_dns_table *t, uint64_t flow_id, uint8_t family,
	    const uint8_t client[16], uint32_t seq, const uint8_t *data,
	    size_t len, uint32_t now_s)
{
	struct tcp_slot *s;
	size_t take;
	uint32_t mlen;

	s = tcp_find(t, flow_id);
	if (s != NULL) {
		if (seq_lt(seq, s->next_seq)) {
			/* a retransmission: only what lies past next_seq is new */
			uint32_t old = s->next_seq - seq;

			if (old >= len)
				return;
			data += old;
			len -= old;
			seq = s->next_seq;
		} else if (seq != s->next_seq) {
			/* a gap: the rest of this message cannot be read */
			CNT(t, tcp_skipped);
			tcp_free(t, s);
			return;
		}
		s->stamp = now_s;
		if (s->skip) {
			take = len < s->have ? len : s->have;
			s->have -= (uint32_t)take;
			s->next_seq += (uint32_t)take;
			data += take;
			len -= take;
			seq += (uint32_t)take;
			if (s->have != 0)
				return;
			tcp_free(t, s);
		} else {
			if (s->need == 0) {
				/* the length prefix was split: one byte kept */
				s->buf[1] = data[0];
				s->have = 2;
				s->need = 2u + (((uint32_t)s->buf[0] << 8) | s->buf[1]);
				data++;
				len--;
				seq++;
				s->next_seq++;
				if (s->need > DP_DNS_TCP_MSG_MAX + 2) {
					CNT(t, tcp_skipped);
					s->skip = 1;
					s->have = s->need - 2;
					if (len == 0)
						return;
					observe_tcp(t, flow_id, family, client, seq, data,
						    len, now_s);
					return;
				}
			}
			take = s->need - s->have;
			if (take > len)
				take = len;
			memcpy(s->buf + s->have, data, take);
			s->have += (uint32_t)take;
			s->next_seq += (uint32_t)take;
			data += take;
			len -= take;
			seq += (uint32_t)take;
			if (s->have < s->need)
				return;
			tcp_message(t, family, client, s->buf + 2, s->need - 2, now_s);
			tcp_free(t, s);
		}
	}
	/* at a message boundary */
	while (len > 0) {
		if (len < 2) {
			s = tcp_take(t, flow_id, now_s);
			s->buf[0] = data[0];
			s->have = 1;
			s->next_seq = seq + 1;
			return;
		}
		mlen = ((uint32_t)data[0] << 8) | data[1];
		if (2 + (size_t)mlen <= len) {
			tcp_message(t, family, client, data + 2, mlen, now_s);
			data += 2 + mlen;
			len -= 2 + mlen;
			seq += 2 + mlen;
			continue;
		}
		s = tcp_take(t, flow_id, now_s);
		if (mlen > DP_DNS_TCP_MSG_MAX) {
			CNT(t, tcp_skipped);
			s->skip = 1;
			s->have = (uint32_t)(2 + mlen - len);
		} else {
			memcpy(s->buf, data, len);
			s->have = (uint32_t)len;
			s->need = 2 + mlen;
		}
		s->next_seq = seq + (uint32_t)len;
		return;
	}
}

void
dp_dns_tcp_forget(struct dp_dns_table *t, uint64_t flow_id)
{
	struct tcp_slot *s;

	if (t == NULL || t->tcp == NULL)
		return;
	s = tcp_find(t, flow_id);
	if (s != NULL) {
		if (!s->skip)
			CNT(t, tcp_skipped);    /* a message left in pieces */
		tcp_free(t, s);
	}
}

void
dp_dns_https_count(struct dp_dns_table *t, enum dp_dns_https_action a)
{
	if (t == NULL)
		return;
	switch (a) {
	case DP_DNS_HTTPS_ALLOWED:
		CNT(t, https_allowed);
		break;
	case DP_DNS_HTTPS_REFUSED:
		CNT(t, https_refused);
		break;
	case DP_DNS_HTTPS_STRIPPED:
		CNT(t, https_stripped);
		break;
	case DP_DNS_HTTPS_UNSTRIPPABLE:
		CNT(t, https_unstrippable);
		break;
	}
}

void
dp_dns_stats_get(const struct dp_dns_table *t, struct dp_dns_stats *out)
{
	unsigned int i;

	out->responses = LD(&t->st.responses);
	for (i = 0; i < 8; i++)
		out->bad[i] = LD(&t->st.bad[i]);
	out->recorded = LD(&t->st.recorded);
	out->refreshed = LD(&t->st.refreshed);
	out->evicted = LD(&t->st.evicted);
	out->reused = LD(&t->st.reused);
	out->tcp_messages = LD(&t->st.tcp_messages);
	out->tcp_skipped = LD(&t->st.tcp_skipped);
	out->https_allowed = LD(&t->st.https_allowed);
	out->https_refused = LD(&t->st.https_refused);
	out->https_stripped = LD(&t->st.https_stripped);
	out->https_unstrippable = LD(&t->st.https_unstrippable);
}
