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

struct dp_dns_table {
	struct dns_ent *ent;    /* n_buckets * WAYS */
	uint32_t mask;          /* n_buckets - 1 */
	uint32_t grace;
	struct dp_dns_stats st;
};

static struct dp_dns_table *tables[DP_DNS_WORKERS_MAX];
static uint8_t sip_key[CPM_SIPHASH_KEY_LEN];
static int sip_key_set;

#define LD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ST(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define CNT(t, f) ST(&(t)->st.f, LD(&(t)->st.f) + 1)

struct dp_dns_table *
dp_dns_table_create(unsigned int id, uint32_t max_entries, uint32_t grace_s)
{
	struct dp_dns_table *t;
	uint32_t n = ENTRIES_MIN;

	if (id >= DP_DNS_WORKERS_MAX || max_entries > (1u << 28)) {
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
	t->mask = n / WAYS - 1;
	t->grace = grace_s;
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

int
dp_dns_bound(uint8_t family, const uint8_t client[16], const uint8_t addr[16],
	     const char *name, size_t name_len, uint32_t now_s)
{
	struct dns_key k, ek;
	const struct dp_dns_table *t;
	const struct dns_ent *b;
	unsigned int id;
	uint32_t ex;
	int i;

	if (!sip_key_set)
		return 0;
	key_make(&k, family, client, family, addr, name_digest(name, name_len));
	for (id = 0; id < DP_DNS_WORKERS_MAX; id++) {
		t = __atomic_load_n(&tables[id], __ATOMIC_ACQUIRE);
		if (t == NULL)
			continue;
		b = bucket(t, &k);
		for (i = 0; i < WAYS; i++) {
			ent_read(&b[i], &ek, &ex);
			if (ex != 0 && ex >= now_s && key_eq(&ek, &k))
				return 1;
		}
	}
	return 0;
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
}
