/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_resolve.c: out-of-band resolution (ctrlplane/cp_resolve.c) against a
 * resolver on loopback (a thread here, UDP and TCP on one port) that answers
 * with dnsmasq's captured answers (tests/data/dns, the query id patched in):
 * A and AAAA per name, CNAME chains followed, a truncated answer asked again
 * over TCP, a name never answered given up after its retries, NXDOMAIN and a
 * forged answer (wrong id, wrong name) counted and not pushed, names that leave
 * the policy removed, the name cap counted; and the dns.resolver syntax.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"

#include "cp_policy.h"
#include "cp_resolve.h"
#include "dns.h"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the resolver ------------------------------------------------------- */

struct server {
	int udp, tcp;
	uint16_t port;
	volatile int stop;
	pthread_t th;
	unsigned forged;          /* forged datagrams sent (wrong id / wrong name) */
};

static size_t
load(const char *name, uint8_t *buf, size_t cap)
{
	char rel[512];

	snprintf(rel, sizeof(rel), "tests/data/dns/%s.bin", name);
	return fixture_read(rel, buf, cap);
}

/* the question's name (lower-case dotted) and type of a query */
static int
query_q(const uint8_t *q, size_t len, char *name, uint16_t *qtype, size_t *qend)
{
	size_t o = 12, t = 0;

	while (o < len && q[o] != 0) {
		uint8_t l = q[o];

		if (o + 1 + l > len)
			return -1;
		if (t != 0)
			name[t++] = '.';
		memcpy(name + t, q + o + 1, l);
		t += l;
		o += 1u + l;
	}
	name[t] = '\0';
	if (o + 5 > len)
		return -1;
	*qtype = (uint16_t)(q[o + 1] << 8 | q[o + 2]);
	*qend = o + 5;
	return 0;
}

/* a reply made of the question: QR, RA, rcode; no answers */
static size_t
empty_reply(const uint8_t *q, size_t qend, uint8_t *out, uint8_t rcode, int tc)
{
	memcpy(out, q, qend);
	out[2] = 0x81 | (tc ? 0x02 : 0);
	out[3] = 0x80 | rcode;
	memset(out + 6, 0, 6);
	return qend;
}

/* 40 A records 10.40.0.x for the question (a TCP-sized answer) */
static size_t
big_reply(const uint8_t *q, size_t qend, uint8_t *out)
{
	size_t o = empty_reply(q, qend, out, 0, 0);

	out[7] = 40;
	for (unsigned i = 0; i < 40; i++) {
		static const uint8_t rr[] = { 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 77, 0, 4, 10, 40, 0 };

		memcpy(out + o, rr, sizeof(rr));
		o += sizeof(rr);
		out[o++] = (uint8_t)i;
	}
	return o;
}

/* the answer for a query: length, 0 for none */
static size_t
answer_for(struct server *s, const uint8_t *q, size_t len, int over_tcp, uint8_t *out)
{
	char name[300];
	uint16_t qtype;
	size_t qend, n = 0;
	const char *fx = NULL;

	(void)s;
	if (len < 12 || query_q(q, len, name, &qtype, &qend) != 0)
		return 0;
	if (strcmp(name, "api.openai.com") == 0)
		fx = qtype == DNS_TYPE_A ? "dnsmasq-api-openai-com-a" : "dnsmasq-api-openai-com-aaaa";
	else if (strcmp(name, "alias.example.test") == 0)
		fx = qtype == DNS_TYPE_A ? "dnsmasq-alias-example-test-a" :
		     "dnsmasq-alias-example-test-aaaa";
	else if (strcmp(name, "slow.test") == 0)
		return 0;
	else if (strcmp(name, "big.test") == 0 && qtype == DNS_TYPE_A)
		return over_tcp ? big_reply(q, qend, out) : empty_reply(q, qend, out, 0, 1);
	else
		return empty_reply(q, qend, out, 3, 0);   /* NXDOMAIN */
	n = load(fx, out, 4096);
	out[0] = q[0];
	out[1] = q[1];
	return n;
}

static void *
server_main(void *arg)
{
	struct server *s = arg;
	uint8_t q[1024], a[8192];

	while (!s->stop) {
		struct pollfd p[2] = { { s->udp, POLLIN, 0 }, { s->tcp, POLLIN, 0 } };
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n;
		size_t an;

		if (poll(p, 2, 50) <= 0)
			continue;
		if (p[0].revents) {
			n = recvfrom(s->udp, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
			if (n <= 0)
				continue;
			an = answer_for(s, q, (size_t)n, 0, a);
			if (an == 0)
				continue;
			/* before the real answer: one with another id, one for another name */
			if (strstr((char *)q + 12, "openai") != NULL) {
				uint8_t f[4096];

				memcpy(f, a, an);
				f[0] ^= 0x55;
				sendto(s->udp, f, an, 0, (struct sockaddr *)&from, fl);
				memcpy(f, a, an);
				f[13] = 'x';      /* "api" -> "xpi" */
				sendto(s->udp, f, an, 0, (struct sockaddr *)&from, fl);
				s->forged += 2;
			}
			sendto(s->udp, a, an, 0, (struct sockaddr *)&from, fl);
		}
		if (p[1].revents) {
			int c = accept(s->tcp, NULL, NULL);
			size_t have = 0;

			if (c < 0)
				continue;
			/* the query in pieces as it comes */
			while (have < 2 || have < 2u + ((size_t)q[0] << 8 | q[1])) {
				n = recv(c, q + have, sizeof(q) - have, 0);
				if (n <= 0)
					break;
				have += (size_t)n;
			}
			if (have >= 2) {
				an = answer_for(s, q + 2, have - 2, 1, a + 2);
				a[0] = (uint8_t)(an >> 8);
				a[1] = (uint8_t)an;
				/* the answer in two writes */
				send(c, a, 7, MSG_NOSIGNAL);
				usleep(20000);
				send(c, a + 7, an + 2 - 7, MSG_NOSIGNAL);
			}
			close(c);
		}
	}
	return NULL;
}

static void
server_start(struct server *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int one = 1;

	memset(s, 0, sizeof(*s));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->tcp = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->tcp >= 0);
	setsockopt(s->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(s->tcp, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s->tcp, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(listen(s->tcp, 8), 0);
	s->udp = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(s->udp >= 0);
	assert_int_equal(bind(s->udp, (struct sockaddr *)&sa, sizeof(sa)), 0);
	s->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, server_main, s), 0);
}

static void
server_stop(struct server *s)
{
	s->stop = 1;
	pthread_join(s->th, NULL);
	close(s->udp);
	close(s->tcp);
}

/* ---- the client side ---------------------------------------------------- */

#define MAX_MSGS 64

struct sink {
	unsigned n;
	struct dp_msg_dns_resolved m[MAX_MSGS];
};

static void
emit(void *arg, const struct dp_msg_dns_resolved *m)
{
	struct sink *k = arg;

	assert_int_equal(m->hdr.magic, DP_PROTO_MAGIC);
	assert_int_equal(m->hdr.type, DP_MSG_DNS_RESOLVED);
	assert_int_equal(m->hdr.len, sizeof(*m));
	if (k->n < MAX_MSGS)
		k->m[k->n++] = *m;
}

static const struct dp_msg_dns_resolved *
msg_for(const struct sink *k, const char *name, uint8_t op)
{
	for (unsigned i = 0; i < k->n; i++)
		if (k->m[i].op == op && strcmp(k->m[i].name, name) == 0)
			return &k->m[i];
	return NULL;
}

static int
has_addr(const struct dp_msg_dns_resolved *m, const char *a, uint32_t ttl)
{
	uint8_t b[16] = { 0 };
	int fam = strchr(a, ':') ? 6 : 4;

	assert_int_equal(inet_pton(fam == 6 ? AF_INET6 : AF_INET, a, b), 1);
	for (unsigned i = 0; i < m->n_addrs; i++)
		if (m->addrs[i].family == fam && memcmp(m->addrs[i].addr, b, 16) == 0 &&
		    m->addrs[i].ttl == ttl)
			return 1;
	return 0;
}

/* drive the client until a round is done (or 10 s) */
static void
run_round(struct cp_resolve *r, uint64_t rounds_before)
{
	struct cp_resolve_stats st;
	uint64_t end = now_ms() + 10000;

	for (;;) {
		struct pollfd p[CP_RESOLVE_FDS];
		int n = cp_resolve_pollfds(r, p, CP_RESOLVE_FDS);
		int to = cp_resolve_timeout_ms(r, now_ms());

		poll(p, (nfds_t)n, to < 0 || to > 100 ? 100 : to);
		cp_resolve_service(r, now_ms());
		cp_resolve_stats(r, &st);
		if (st.rounds > rounds_before)
			return;
		assert_true(now_ms() < end);
	}
}

static void
test_round(void **state)
{
	static struct sink k;
	static const char *const names[] = {
		"api.openai.com", "alias.example.test", "big.test", "slow.test", "nx.example.test",
	};
	struct cp_resolve_conf c = {
		.interval_s = 60, .timeout_ms = 300, .retries = 1, .max_names = 16,
		.names = names, .n_names = 5,
	};
	struct cp_resolve_stats st;
	const struct dp_msg_dns_resolved *m;
	struct cp_resolve *r;
	struct server s;
	char srv[64], err[256];

	(void)state;
	memset(&k, 0, sizeof(k));
	server_start(&s);
	snprintf(srv, sizeof(srv), "127.0.0.1:%u", s.port);
	c.server = srv;
	assert_int_equal(cp_resolve_new(emit, &k, &r), 0);
	assert_int_equal(cp_resolve_configure(r, &c, now_ms(), err, sizeof(err)), 0);
	run_round(r, 0);
	cp_resolve_stats(r, &st);

	/* dnsmasq's A and AAAA answers, TTL 300, in one message per name */
	m = msg_for(&k, "api.openai.com", DP_DNS_RES_ADD);
	assert_non_null(m);
	assert_int_equal(m->n_addrs, 2);
	assert_int_equal(m->name_len, 14);
	assert_true(has_addr(m, "10.253.0.1", 300));
	assert_true(has_addr(m, "fd00:253::1", 300));
	/* a CNAME to target.example.test: its addresses, under the asked name */
	m = msg_for(&k, "alias.example.test", DP_DNS_RES_ADD);
	assert_non_null(m);
	assert_true(has_addr(m, "198.51.100.7", 300));
	assert_true(has_addr(m, "2001:db8::7", 300));
	/* TC over UDP, asked again over TCP: 40 records, the first 32 kept */
	m = msg_for(&k, "big.test", DP_DNS_RES_ADD);
	assert_non_null(m);
	assert_int_equal(m->n_addrs, DP_DNS_RES_ADDRS);
	assert_true(has_addr(m, "10.40.0.0", 77));
	assert_true(has_addr(m, "10.40.0.31", 77));
	assert_int_equal(st.tcp, 1);
	/* never answered, NXDOMAIN: nothing pushed, counted */
	assert_null(msg_for(&k, "slow.test", DP_DNS_RES_ADD));
	assert_null(msg_for(&k, "nx.example.test", DP_DNS_RES_ADD));
	assert_int_equal(k.n, 3);
	assert_int_equal(st.pushed, 3);
	assert_int_equal(st.failed, 2);
	assert_int_equal(st.timeouts, 2);         /* slow.test A and AAAA */
	assert_int_equal(st.retries, 2);          /* one resend each */
	/* the forged datagrams before the openai answers: dropped and counted */
	assert_int_equal(st.bad, s.forged);
	assert_true(s.forged >= 4);
	/* 10 first queries + 2 resends + 1 over TCP */
	assert_int_equal(st.queries, 13);
	assert_int_equal(st.rounds, 1);
	assert_int_equal(st.names, 5);
	assert_true(st.configured);

	/* nothing is due before the interval: no new round */
	assert_true(cp_resolve_timeout_ms(r, now_ms()) > 50000);

	/* a new policy without alias.example.test (and a cap of 2 names): removed at once */
	k.n = 0;
	c.max_names = 2;
	c.names = (const char *const[]){ "api.openai.com", "big.test", "slow.test" };
	c.n_names = 3;
	assert_int_equal(cp_resolve_configure(r, &c, now_ms(), err, sizeof(err)), 0);
	m = msg_for(&k, "alias.example.test", DP_DNS_RES_REMOVE);
	assert_non_null(m);
	assert_int_equal(m->n_addrs, 0);
	assert_non_null(msg_for(&k, "nx.example.test", DP_DNS_RES_REMOVE));
	assert_non_null(msg_for(&k, "slow.test", DP_DNS_RES_REMOVE));  /* over the cap */
	assert_int_equal(k.n, 3);
	cp_resolve_stats(r, &st);
	assert_int_equal(st.names, 2);
	assert_int_equal(st.names_capped, 1);
	assert_int_equal(st.removed, 3);
	/* the new list is resolved at once */
	run_round(r, 1);
	assert_non_null(msg_for(&k, "api.openai.com", DP_DNS_RES_ADD));
	assert_non_null(msg_for(&k, "big.test", DP_DNS_RES_ADD));

	/* a dataplane that connects asks for a round now */
	cp_resolve_kick(r, now_ms());
	assert_int_equal(cp_resolve_timeout_ms(r, now_ms()), 0);
	/* ... and during a round, for another one right after it */
	cp_resolve_service(r, now_ms());          /* starts round 3 */
	cp_resolve_kick(r, now_ms());
	run_round(r, 2);
	assert_int_equal(cp_resolve_timeout_ms(r, now_ms()), 0);
	run_round(r, 3);
	assert_true(cp_resolve_timeout_ms(r, now_ms()) > 50000);

	/* resolver off: every name removed */
	k.n = 0;
	c.server = NULL;
	assert_int_equal(cp_resolve_configure(r, &c, now_ms(), err, sizeof(err)), 0);
	assert_int_equal(k.n, 2);
	assert_int_equal(cp_resolve_timeout_ms(r, now_ms()), -1);
	cp_resolve_stats(r, &st);
	assert_false(st.configured);
	cp_resolve_free(r);
	server_stop(&s);
}

/* a resolver that refuses (nothing listening): every query times out, nothing pushed */
static void
test_no_resolver(void **state)
{
	static struct sink k;
	static const char *const names[] = { "api.openai.com" };
	struct cp_resolve_conf c = {
		.server = "127.0.0.1:9", .interval_s = 60, .timeout_ms = 100, .retries = 2,
		.max_names = 16, .names = names, .n_names = 1,
	};
	struct cp_resolve_stats st;
	struct cp_resolve *r;
	char err[256];

	(void)state;
	memset(&k, 0, sizeof(k));
	assert_int_equal(cp_resolve_new(emit, &k, &r), 0);
	assert_int_equal(cp_resolve_configure(r, &c, now_ms(), err, sizeof(err)), 0);
	run_round(r, 0);
	cp_resolve_stats(r, &st);
	assert_int_equal(k.n, 0);
	assert_int_equal(st.timeouts, 2);
	assert_int_equal(st.retries, 4);
	assert_int_equal(st.queries, 6);
	assert_int_equal(st.failed, 1);
	cp_resolve_free(r);
}

static void
test_server_syntax(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	char msg[256];
	static const char *const bad[] = {
		"", "resolver", "10.0.0.2:", "10.0.0.2:0", "10.0.0.2:65536", "10.0.0.2:53x",
		"[fd00::2", "[fd00::2]53", "fd00::zz", "10.0.0.256", "[10.0.0.2]:53:1",
	};

	(void)state;
	assert_int_equal(cp_dns_server_parse("10.0.0.2", &ss, &sl, msg, sizeof(msg)), 0);
	assert_int_equal(s4->sin_family, AF_INET);
	assert_int_equal(ntohs(s4->sin_port), 53);
	assert_int_equal(sl, sizeof(*s4));
	assert_int_equal(cp_dns_server_parse("10.0.0.2:5353", &ss, &sl, msg, sizeof(msg)), 0);
	assert_int_equal(ntohs(s4->sin_port), 5353);
	assert_int_equal(cp_dns_server_parse("fd00::2", &ss, &sl, msg, sizeof(msg)), 0);
	assert_int_equal(s6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(s6->sin6_port), 53);
	assert_int_equal(cp_dns_server_parse("[fd00::2]:5300", &ss, &sl, msg, sizeof(msg)), 0);
	assert_int_equal(ntohs(s6->sin6_port), 5300);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = '\0';
		if (cp_dns_server_parse(bad[i], &ss, &sl, msg, sizeof(msg)) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_non_null(strstr(msg, "IP address"));
	}
}

/* the query the client sends parses as a query for the name (and carries EDNS0) */
static void
test_query_bytes(void **state)
{
	uint8_t b[320];
	struct dns_response d;
	size_t n = cp_resolve_query(b, 0xbeef, "api.openai.com", DNS_TYPE_AAAA);

	(void)state;
	assert_int_equal(n, 12 + 16 + 4 + 11);
	assert_int_equal(b[0], 0xbe);
	assert_int_equal(b[2] & 0x80, 0);             /* a query */
	assert_int_equal(b[11], 1);                   /* the OPT record */
	assert_int_equal(dns_parse_response(b, n, &d), DNS_NOT_RESPONSE);
	b[2] |= 0x80;
	assert_int_equal(dns_parse_response(b, n, &d), DNS_OK);
	assert_string_equal(d.qname, "api.openai.com");
	assert_int_equal(d.qtype, DNS_TYPE_AAAA);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_bytes),
		cmocka_unit_test(test_server_syntax),
		cmocka_unit_test(test_round),
		cmocka_unit_test(test_no_resolver),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
