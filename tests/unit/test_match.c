/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_match.c: the one matcher (dataplane/match/cpm.c) over blobs compiled
 * from real policy text by the real compiler (ctrlplane/policy).
 *
 * Precedence across exact/suffix/glob/regex/name-less rules, look-alike
 * names, normalisation, address/port/proto conditions on IPv4 and IPv6,
 * trusted/internal/quic, cpm_classify_l34, SipHash-2-4 reference vectors,
 * and a blob that is truncated, bit-flipped or has its offsets bent: always
 * rejected or safe (ASan/UBSan), never a crash.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <unistd.h>

#include <cmocka.h>
#include <hs/hs.h>
#include <openssl/evp.h>

#include "cp_policy.h"
#include "cpm.h"
#include "cpm_blob.h"
#include "siphash.h"

#define TCP 6
#define UDP 17
#define ICMP 1
#define ICMP6 58

struct fx {
	struct cp_policy *cp;
	struct cpm_policy *p;
	struct cpm_scratch *s;
};

/* Compile policy text with the real compiler (through a temp file) and load it. */
static void
fx_open(struct fx *f, const char *text)
{
	char path[] = "/tmp/chokepoint-test-match-XXXXXX.conf", err[8192];
	int fd = mkstemps(path, 5);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	if (cp_policy_compile_file(path, &f->cp, err, sizeof(err)) != 0)
		fail_msg("policy does not compile:\n%s", err);
	unlink(path);
	if (cpm_policy_load(f->cp->blob, f->cp->blob_len, &f->p, err, sizeof(err)) != 0)
		fail_msg("blob does not load: %s", err);
	f->s = cpm_scratch_alloc(f->p);
	assert_non_null(f->s);
}

static void
fx_close(struct fx *f)
{
	cpm_scratch_free(f->s);
	cpm_policy_free(f->p);
	cp_policy_free(f->cp);
}

static struct cpm_query
mkq(uint8_t l4, const char *src, const char *dst, uint16_t dport, enum cpm_field field,
    const char *name)
{
	struct cpm_query q = { .l4proto = l4, .sport = 40000, .dport = dport, .field = field,
			       .name = name, .name_len = name != NULL ? strlen(name) : 0 };

	q.family = strchr(src, ':') != NULL ? 6 : 4;
	assert_int_equal(inet_pton(q.family == 4 ? AF_INET : AF_INET6, src, q.src), 1);
	assert_int_equal(inet_pton(q.family == 4 ? AF_INET : AF_INET6, dst, q.dst), 1);
	return q;
}

/* The deciding rule's id, "default", or the reason for the early decisions. */
static const char *
decide(const struct fx *f, const struct cpm_query *q, uint8_t *action)
{
	struct cpm_verdict v = { 0 };

	assert_int_equal(cpm_match(f->p, f->s, q, &v), 0);
	if (action != NULL)
		*action = v.action;
	switch (v.reason) {
	case CPM_REASON_RULE:
		assert_true(v.rule >= 0);
		return cpm_rule_id(f->p, v.rule);
	case CPM_REASON_DEFAULT:
		assert_int_equal(v.rule, -1);
		return "default";
	case CPM_REASON_TRUSTED:
		return "trusted";
	case CPM_REASON_NOT_INTERNAL:
		return "not_internal";
	case CPM_REASON_QUIC:
		return "quic";
	}
	fail_msg("bad reason %u", v.reason);
	return NULL;
}

static const char *
sni(const struct fx *f, const char *name)
{
	struct cpm_query q = mkq(TCP, "10.77.1.5", "198.51.100.10", 443, CPM_FIELD_SNI, name);

	return decide(f, &q, NULL);
}

static const char *
host(const struct fx *f, const char *name)
{
	struct cpm_query q = mkq(TCP, "10.77.1.5", "198.51.100.10", 80, CPM_FIELD_HOST, name);

	return decide(f, &q, NULL);
}

/* ---- SipHash-2-4 and normalisation -------------------------------------------- */

/* The reference vectors of the SipHash paper's implementation: key 00..0f,
 * message 00..(n-1), n = 0..63. */
static const uint64_t sip_vectors[64] = {
	0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL, 0x85676696d7fb7e2dULL,
	0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL, 0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL,
	0x93f5f5799a932462ULL, 0x9e0082df0ba9e4b0ULL, 0x7a5dbbc594ddb9f3ULL, 0xf4b32f46226bada7ULL,
	0x751e8fbc860ee5fbULL, 0x14ea5627c0843d90ULL, 0xf723ca908e7af2eeULL, 0xa129ca6149be45e5ULL,
	0x3f2acc7f57c29bdbULL, 0x699ae9f52cbe4794ULL, 0x4bc1b3f0968dd39cULL, 0xbb6dc91da77961bdULL,
	0xbed65cf21aa2ee98ULL, 0xd0f2cbb02e3b67c7ULL, 0x93536795e3a33e88ULL, 0xa80c038ccd5ccec8ULL,
	0xb8ad50c6f649af94ULL, 0xbce192de8a85b8eaULL, 0x17d835b85bbb15f3ULL, 0x2f2e6163076bcfadULL,
	0xde4daaaca71dc9a5ULL, 0xa6a2506687956571ULL, 0xad87a3535c49ef28ULL, 0x32d892fad841c342ULL,
	0x7127512f72f27cceULL, 0xa7f32346f95978e3ULL, 0x12e0b01abb051238ULL, 0x15e034d40fa197aeULL,
	0x314dffbe0815a3b4ULL, 0x027990f029623981ULL, 0xcadcd4e59ef40c4dULL, 0x9abfd8766a33735cULL,
	0x0e3ea96b5304a7d0ULL, 0xad0c42d6fc585992ULL, 0x187306c89bc215a9ULL, 0xd4a60abcf3792b95ULL,
	0xf935451de4f21df2ULL, 0xa9538f0419755787ULL, 0xdb9acddff56ca510ULL, 0xd06c98cd5c0975ebULL,
	0xe612a3cb9ecba951ULL, 0xc766e62cfcadaf96ULL, 0xee64435a9752fe72ULL, 0xa192d576b245165aULL,
	0x0a8787bf8ecb74b2ULL, 0x81b3e73d20b49b6fULL, 0x7fa8220ba3b2eceaULL, 0x245731c13ca42499ULL,
	0xb78dbfaf3a8d83bdULL, 0xea1ad565322a1a0bULL, 0x60e61c23a3795013ULL, 0x6606d7e446282b93ULL,
	0x6ca4ecb15c5f91e1ULL, 0x9f626da15c9625f3ULL, 0xe51b38608ef25f57ULL, 0x958a324ceb064572ULL,
};

static void
test_siphash_vectors(void **state)
{
	uint8_t key[16], msg[64];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (size_t n = 0; n < 64; n++) {
		assert_int_equal(cpm_siphash24(key, msg, n), sip_vectors[n]);
		/* fed in two pieces at every split point, and byte by byte */
		for (size_t cut = 0; cut <= n; cut++) {
			struct cpm_siphash s;

			cpm_siphash_init(&s, key);
			cpm_siphash_update(&s, msg, cut);
			cpm_siphash_update(&s, msg + cut, n - cut);
			assert_int_equal(cpm_siphash_final(&s), sip_vectors[n]);
		}
		{
			struct cpm_siphash s;

			cpm_siphash_init(&s, key);
			for (size_t b = 0; b < n; b++)
				cpm_siphash_update(&s, msg + b, 1);
			assert_int_equal(cpm_siphash_final(&s), sip_vectors[n]);
		}
	}
}

static void
test_normalise(void **state)
{
	char out[32];

	assert_int_equal(cpm_normalise_name("API.OpenAI.com.", 15, out, sizeof(out)), 14);
	assert_string_equal(out, "api.openai.com");
	assert_int_equal(cpm_normalise_name("a_b-c.*.x", 9, out, sizeof(out)), 9);
	/* only one trailing dot goes */
	assert_int_equal(cpm_normalise_name("x.com..", 7, out, sizeof(out)), 6);
	assert_string_equal(out, "x.com.");
	/* invalid bytes: -1, but the lowered bytes are still written */
	assert_int_equal(cpm_normalise_name("Ex ample.COM", 12, out, sizeof(out)), -1);
	assert_string_equal(out, "ex ample.com");
	assert_int_equal(cpm_normalise_name("b\xc3\xa4r", 4, out, sizeof(out)), -1);
	/* does not fit: -1, truncated, NUL-terminated */
	assert_int_equal(cpm_normalise_name("abcdefgh", 8, out, 5), -1);
	assert_string_equal(out, "abcd");
	assert_int_equal(cpm_normalise_name("", 0, out, sizeof(out)), 0);
	assert_int_equal(cpm_normalise_name(".", 1, out, sizeof(out)), 0);
	assert_int_equal(cpm_normalise_name("x", 1, out, 0), -1);
}

/* ---- names and precedence ---------------------------------------------------- */

static const char precedence_conf[] =
	"default = \"deny\";\n"
	"rules = (\n"
	"  { id = \"r0-glob\";      action = \"allow\"; sni = [\"*.a.example.com\"]; },\n"
	"  { id = \"r1-exact\";     action = \"deny\";  sni = [\"x.a.example.com\", \"only.example.net\"]; },\n"
	"  { id = \"r2-suffix\";    action = \"deny\";  sni = [\".b.example.com\"]; },\n"
	"  { id = \"r3-regex\";     action = \"allow\"; sni_regex = [\"^y\\\\.b\\\\.example\\\\.com$\", \"^re[0-9]+\\\\.example\\\\.net$\"]; },\n"
	"  { id = \"r4-nameless\";  action = \"deny\";  dst = [\"203.0.113.0/24\"]; },\n"
	"  { id = \"r5-exact\";     action = \"allow\"; sni = [\"z.example.org\", \"re7.example.net\"]; },\n"
	"  { id = \"r6-regex\";     action = \"allow\"; sni_regex = [\"^w[0-9]+\\\\.example\\\\.org$\"]; },\n"
	"  { id = \"r7-exact\";     action = \"deny\";  sni = [\"w1.example.org\"]; },\n"
	"  { id = \"r8-host\";      action = \"allow\"; host = [\"w1.example.org\", \".c.example.com\"]; host_regex = [\"^h[0-9]\\\\.example\\\\.org$\"]; },\n"
	"  { id = \"r9-nameless\";  action = \"allow\"; dport = [443]; }\n"
	");\n";

static void
test_precedence(void **state)
{
	struct fx f;
	struct cpm_query q;

	fx_open(&f, precedence_conf);
	/* glob comes first: it wins over the later exact name */
	assert_string_equal(sni(&f, "x.a.example.com"), "r0-glob");
	assert_string_equal(sni(&f, "deep.x.a.example.com"), "r0-glob");
	/* the glob excludes its apex, the exact rule does not list it: a later rule decides */
	assert_string_equal(sni(&f, "a.example.com"), "r9-nameless");
	/* suffix before regex */
	assert_string_equal(sni(&f, "y.b.example.com"), "r2-suffix");
	assert_string_equal(sni(&f, "b.example.com"), "r2-suffix");
	/* regex before a later exact name */
	assert_string_equal(sni(&f, "re7.example.net"), "r3-regex");
	assert_string_equal(sni(&f, "RE7.Example.NET."), "r3-regex");
	/* name-less rule before a later name rule */
	q = mkq(TCP, "10.77.1.5", "203.0.113.5", 443, CPM_FIELD_SNI, "z.example.org");
	assert_string_equal(decide(&f, &q, NULL), "r4-nameless");
	assert_string_equal(sni(&f, "z.example.org"), "r5-exact");
	/* regex before a later exact */
	assert_string_equal(sni(&f, "w1.example.org"), "r6-regex");
	/* an exact name earlier than the regex that also matches */
	assert_string_equal(sni(&f, "only.example.net"), "r1-exact");
	/* sni rules never match an HTTP Host, host rules never a TLS SNI */
	assert_string_equal(host(&f, "w1.example.org"), "r8-host");
	assert_string_equal(host(&f, "x.a.example.com"), "default");
	assert_string_equal(host(&f, "q.c.example.com"), "r8-host");
	assert_string_equal(host(&f, "h5.example.org"), "r8-host");
	assert_string_equal(sni(&f, "h5.example.org"), "r9-nameless");
	assert_string_equal(sni(&f, "q.c.example.com"), "r9-nameless");
	/* no name at all: only name-less rules */
	q = mkq(TCP, "10.77.1.5", "198.51.100.10", 443, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "r9-nameless");
	q = mkq(TCP, "10.77.1.5", "198.51.100.10", 8443, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "default");
	q = mkq(TCP, "10.77.1.5", "198.51.100.10", 8443, CPM_FIELD_SNI, "nothing.example");
	assert_string_equal(decide(&f, &q, NULL), "default");
	fx_close(&f);
}

static void
test_lookalikes(void **state)
{
	struct fx f;

	fx_open(&f,
		"default = \"deny\";\n"
		"rules = (\n"
		"  { id = \"openai\";    action = \"allow\"; sni = [\".openai.com\"]; },\n"
		"  { id = \"anthropic\"; action = \"allow\"; sni = [\"api.anthropic.com\"]; },\n"
		"  { id = \"glob\";      action = \"allow\"; sni = [\"*.example.net\"]; }\n"
		");\n");
	assert_string_equal(sni(&f, "openai.com"), "openai");
	assert_string_equal(sni(&f, "api.openai.com"), "openai");
	assert_string_equal(sni(&f, "a.b.c.openai.com"), "openai");
	assert_string_equal(sni(&f, "badopenai.com"), "default");
	assert_string_equal(sni(&f, "xopenai.com"), "default");
	assert_string_equal(sni(&f, "api.openai.com.evil.net"), "default");
	assert_string_equal(sni(&f, "openai.com.evil.net"), "default");
	assert_string_equal(sni(&f, "openai.co"), "default");
	assert_string_equal(sni(&f, "penai.com"), "default");
	assert_string_equal(sni(&f, "com"), "default");
	/* exact is exact */
	assert_string_equal(sni(&f, "api.anthropic.com"), "anthropic");
	assert_string_equal(sni(&f, "x.api.anthropic.com"), "default");
	assert_string_equal(sni(&f, "anthropic.com"), "default");
	assert_string_equal(sni(&f, "api.anthropic.com.evil.net"), "default");
	assert_string_equal(sni(&f, "api.anthropic.co"), "default");
	/* glob: subdomains only */
	assert_string_equal(sni(&f, "example.net"), "default");
	assert_string_equal(sni(&f, "a.example.net"), "glob");
	assert_string_equal(sni(&f, "a.b.example.net"), "glob");
	assert_string_equal(sni(&f, "aexample.net"), "default");
	/* case and one trailing dot */
	assert_string_equal(sni(&f, "API.OPENAI.COM."), "openai");
	assert_string_equal(sni(&f, "Api.Anthropic.Com."), "anthropic");
	assert_string_equal(sni(&f, "api.anthropic.com.."), "default");
	assert_string_equal(sni(&f, "api..anthropic.com"), "default");
	assert_string_equal(sni(&f, "."), "default");
	assert_string_equal(sni(&f, ""), "default");
	/* an embedded NUL never matches the name before it */
	{
		struct cpm_query q = mkq(TCP, "10.77.1.5", "198.51.100.10", 443, CPM_FIELD_SNI, NULL);

		q.name = "api.anthropic.com\0.evil";
		q.name_len = 23;
		assert_string_equal(decide(&f, &q, NULL), "default");
	}
	fx_close(&f);
}

/* Many names in one table: every one finds its own rule, near misses nothing. */
static void
test_many_names(void **state)
{
	enum { N = 1500 };
	size_t cap = N * 96 + 256, len = 0;
	char *text = malloc(cap), name[64], id[16];
	struct fx f;

	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len, "default = \"deny\";\nrules = (\n");
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(text + len, cap - len,
					"{ id = \"n%d\"; action = \"allow\"; sni = [\"%sh%d.example.com\"]; }%s\n",
					i, i % 2 ? "." : "", i, i + 1 < N ? "," : "");
	snprintf(text + len, cap - len, ");\n");
	fx_open(&f, text);
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "n%d", i);
		snprintf(name, sizeof(name), "h%d.example.com", i);
		assert_string_equal(sni(&f, name), id);
		snprintf(name, sizeof(name), "sub.h%d.example.com", i);
		assert_string_equal(sni(&f, name), i % 2 ? id : "default");
		snprintf(name, sizeof(name), "h%dx.example.com", i);
		assert_string_equal(sni(&f, name), "default");
	}
	fx_close(&f);
	free(text);
}

/* ---- address, port and protocol conditions ------------------------------------ */

static const char l34_conf[] =
	"default = \"deny\";\n"
	"rules = (\n"
	"  { id = \"v4src\";  action = \"allow\"; proto = \"tcp\"; src = [\"10.1.128.0/17\"]; dport = ( 22, \"8000-8080\" ); },\n"
	"  { id = \"v6dst\";  action = \"deny\";  proto = \"udp\"; dst = [\"2001:db8::/32\"]; },\n"
	"  { id = \"v6src\";  action = \"allow\"; src = [\"fd77:1::/64\"]; dst = [\"2001:db9::1\"]; dport = [443]; },\n"
	"  { id = \"ping\";   action = \"allow\"; proto = \"icmp\"; dst = [\"192.0.2.0/24\", \"2001:db8:ffff::/48\"]; },\n"
	"  { id = \"all4\";   action = \"deny\";  dst = [\"0.0.0.0/0\"]; dport = [\"25\"]; },\n"
	"  { id = \"all6\";   action = \"deny\";  dst = [\"::/0\"]; proto = \"tcp\"; dport = [\"25-26\"]; },\n"
	"  { id = \"named\";  action = \"allow\"; sni = [\"ok.example.com\"]; src = [\"10.9.0.0/16\"]; dport = [443]; }\n"
	");\n";

static void
test_l34_conditions(void **state)
{
	struct fx f;
	struct cpm_query q;
	uint8_t act;

	fx_open(&f, l34_conf);
	/* IPv4 src prefix not on a byte boundary, port list with a range, proto */
	q = mkq(TCP, "10.1.128.1", "198.51.100.1", 8080, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, &act), "v4src");
	assert_int_equal(act, CPM_ALLOW);
	q = mkq(TCP, "10.1.255.255", "198.51.100.1", 22, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "v4src");
	q = mkq(TCP, "10.1.127.255", "198.51.100.1", 8080, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "default");
	q = mkq(TCP, "10.1.128.1", "198.51.100.1", 8081, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "default");
	q = mkq(TCP, "10.1.128.1", "198.51.100.1", 7999, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "default");
	q = mkq(UDP, "10.1.128.1", "198.51.100.1", 8000, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "default");
	/* IPv6 dst, UDP only */
	q = mkq(UDP, "fd77:1::5", "2001:db8:1234::1", 53, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, &act), "v6dst");
	assert_int_equal(act, CPM_DENY);
	q = mkq(TCP, "fd77:1::5", "2001:db8:1234::1", 53, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "default");
	q = mkq(UDP, "fd77:1::5", "2001:db9::1", 53, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "default");
	/* IPv6 src + host dst + port, any proto */
	q = mkq(TCP, "fd77:1::ffff", "2001:db9::1", 443, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "v6src");
	q = mkq(UDP, "fd77:1::ffff", "2001:db9::1", 443, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "quic");
	q = mkq(TCP, "fd77:2::1", "2001:db9::1", 443, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "default");
	q = mkq(TCP, "fd77:1::ffff", "2001:db9::2", 443, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "default");
	/* a v4 query never matches a v6 CIDR, nor the reverse */
	q = mkq(TCP, "10.77.1.1", "32.1.13.184", 443, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "default");
	/* ICMP means ICMP on IPv4 and ICMPv6 on IPv6; ports need TCP/UDP */
	q = mkq(ICMP, "10.77.1.1", "192.0.2.9", 0, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "ping");
	q = mkq(ICMP6, "fd77:1::1", "2001:db8:ffff::9", 0, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "ping");
	q = mkq(ICMP6, "10.77.1.1", "192.0.2.9", 0, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "default");
	q = mkq(ICMP, "fd77:1::1", "2001:db8:ffff::9", 0, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "default");
	q = mkq(ICMP, "10.77.1.1", "198.51.100.1", 25, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "default");
	/* /0 covers its whole family and only it */
	q = mkq(UDP, "10.77.1.1", "198.51.100.1", 25, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "all4");
	q = mkq(TCP, "fd77:1::1", "2600::1", 26, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "all6");
	q = mkq(TCP, "fd77:1::1", "2600::1", 27, CPM_FIELD_NONE, NULL);
	assert_string_equal(decide(&f, &q, NULL), "default");
	/* a name rule needs its name and its address/port conditions */
	q = mkq(TCP, "10.9.1.1", "198.51.100.1", 443, CPM_FIELD_SNI, "ok.example.com");
	assert_string_equal(decide(&f, &q, NULL), "named");
	q = mkq(TCP, "10.8.1.1", "198.51.100.1", 443, CPM_FIELD_SNI, "ok.example.com");
	assert_string_equal(decide(&f, &q, NULL), "default");
	q = mkq(TCP, "10.9.1.1", "198.51.100.1", 444, CPM_FIELD_SNI, "ok.example.com");
	assert_string_equal(decide(&f, &q, NULL), "default");
	fx_close(&f);
}

static const char zones_conf[] =
	"default = \"deny\";\n"
	"internal = [\"10.77.1.0/24\", \"fd77:1::/64\"];\n"
	"trusted = [\"192.0.2.0/24\", \"2001:db8:1::/48\"];\n"
	"rules = (\n"
	"  { id = \"dns\"; action = \"allow\"; proto = \"udp\"; dport = [53]; },\n"
	"  { id = \"all\"; action = \"allow\"; proto = \"udp\"; }\n"
	");\n";

static void
check_both(const struct fx *f, const struct cpm_query *q, const char *want, uint8_t want_act)
{
	struct cpm_verdict v = { 0 };
	uint8_t act;

	assert_string_equal(decide(f, q, &act), want);
	assert_int_equal(act, want_act);
	/* these are decided without a name: classify agrees with match */
	assert_int_equal(cpm_classify_l34(f->p, q, &v), CPM_DECIDED);
	assert_int_equal(v.action, want_act);
}

static void
test_trusted_internal_quic(void **state)
{
	struct fx f;
	struct cpm_query q;

	fx_open(&f, zones_conf);
	q = mkq(TCP, "10.77.1.5", "192.0.2.9", 443, CPM_FIELD_SNI, "anything.example");
	check_both(&f, &q, "trusted", CPM_ALLOW);
	q = mkq(UDP, "fd77:1::5", "2001:db8:1:2::9", 443, CPM_FIELD_NONE, NULL);
	check_both(&f, &q, "trusted", CPM_ALLOW);   /* trusted comes before quic */
	q = mkq(TCP, "10.99.0.1", "198.51.100.1", 443, CPM_FIELD_NONE, NULL);
	check_both(&f, &q, "not_internal", CPM_ALLOW);
	q = mkq(TCP, "fd77:2::1", "2600::1", 443, CPM_FIELD_NONE, NULL);
	check_both(&f, &q, "not_internal", CPM_ALLOW);
	q = mkq(UDP, "10.77.1.5", "198.51.100.1", 443, CPM_FIELD_NONE, NULL);
	check_both(&f, &q, "quic", CPM_DENY);
	q = mkq(UDP, "fd77:1::5", "2600::1", 443, CPM_FIELD_NONE, NULL);
	check_both(&f, &q, "quic", CPM_DENY);
	q = mkq(TCP, "10.77.1.5", "198.51.100.1", 443, CPM_FIELD_NONE, NULL);
	check_both(&f, &q, "default", CPM_DENY);
	q = mkq(UDP, "10.77.1.5", "198.51.100.1", 53, CPM_FIELD_NONE, NULL);
	check_both(&f, &q, "dns", CPM_ALLOW);
	q = mkq(UDP, "10.77.1.5", "198.51.100.1", 444, CPM_FIELD_NONE, NULL);
	check_both(&f, &q, "all", CPM_ALLOW);
	fx_close(&f);

	/* quic = "allow": UDP 443 goes through the rules like any UDP flow */
	fx_open(&f, "default = \"deny\";\nquic = \"allow\";\n"
		    "rules = ( { id = \"h3\"; action = \"allow\"; proto = \"udp\"; dport = [443]; } );\n");
	q = mkq(UDP, "10.77.1.5", "198.51.100.1", 443, CPM_FIELD_NONE, NULL);
	check_both(&f, &q, "h3", CPM_ALLOW);
	/* no internal list: every initiator is governed */
	q = mkq(UDP, "203.0.113.1", "198.51.100.1", 443, CPM_FIELD_NONE, NULL);
	check_both(&f, &q, "h3", CPM_ALLOW);
	q = mkq(UDP, "203.0.113.1", "198.51.100.1", 444, CPM_FIELD_NONE, NULL);
	check_both(&f, &q, "default", CPM_DENY);
	fx_close(&f);
}

static void
test_classify_l34(void **state)
{
	struct cp_policy *cp;
	struct cpm_policy *p;
	struct cpm_verdict v;
	struct cpm_query q;
	char err[4096];
	struct fx f;

	/* the demo policy: imds first (decided at the SYN), then name rules */
	assert_int_equal(cp_policy_compile_file("etc/chokepoint.conf", &cp, err, sizeof(err)), 0);
	assert_int_equal(cpm_policy_load(cp->blob, cp->blob_len, &p, err, sizeof(err)), 0);
	q = mkq(TCP, "10.77.1.5", "169.254.169.254", 80, CPM_FIELD_NONE, NULL);
	assert_int_equal(cpm_classify_l34(p, &q, &v), CPM_DECIDED);
	assert_int_equal(v.action, CPM_DENY);
	assert_int_equal(v.reason, CPM_REASON_RULE);
	assert_string_equal(cpm_rule_id(p, v.rule), "imds");
	q = mkq(TCP, "10.77.1.5", "198.51.100.7", 443, CPM_FIELD_NONE, NULL);
	assert_int_equal(cpm_classify_l34(p, &q, &v), CPM_NEED_NAME);
	q = mkq(TCP, "fd77:1::5", "2001:db8::7", 80, CPM_FIELD_NONE, NULL);
	assert_int_equal(cpm_classify_l34(p, &q, &v), CPM_NEED_NAME);
	q = mkq(UDP, "10.77.1.5", "198.51.100.7", 53, CPM_FIELD_NONE, NULL);
	assert_int_equal(cpm_classify_l34(p, &q, &v), CPM_DECIDED);
	assert_string_equal(cpm_rule_id(p, v.rule), "dns");
	q = mkq(ICMP6, "fd77:1::5", "2001:db8::7", 0, CPM_FIELD_NONE, NULL);
	assert_int_equal(cpm_classify_l34(p, &q, &v), CPM_DECIDED);
	assert_string_equal(cpm_rule_id(p, v.rule), "icmp");
	/* UDP never waits for a name: the name rules are skipped, the default decides */
	q = mkq(UDP, "10.77.1.5", "198.51.100.7", 123, CPM_FIELD_NONE, NULL);
	assert_int_equal(cpm_classify_l34(p, &q, &v), CPM_DECIDED);
	assert_int_equal(v.reason, CPM_REASON_DEFAULT);
	assert_int_equal(v.action, CPM_DENY);
	assert_int_equal(v.rule, -1);
	q = mkq(UDP, "10.77.1.5", "198.51.100.7", 443, CPM_FIELD_NONE, NULL);
	assert_int_equal(cpm_classify_l34(p, &q, &v), CPM_DECIDED);
	assert_int_equal(v.reason, CPM_REASON_QUIC);
	/* initiators outside internal are not governed */
	q = mkq(TCP, "10.78.1.5", "198.51.100.7", 443, CPM_FIELD_NONE, NULL);
	assert_int_equal(cpm_classify_l34(p, &q, &v), CPM_DECIDED);
	assert_int_equal(v.reason, CPM_REASON_NOT_INTERNAL);
	cpm_policy_free(p);
	cp_policy_free(cp);

	/* a name rule whose ports cannot hold does not make the flow wait */
	fx_open(&f, "default = \"allow\";\n"
		    "rules = (\n"
		    "  { id = \"web\"; action = \"deny\"; sni = [\"bad.example.com\"]; dport = [443]; },\n"
		    "  { id = \"ssh\"; action = \"deny\"; dport = [22]; },\n"
		    "  { id = \"plain\"; action = \"deny\"; host = [\"bad.example.com\"]; proto = \"tcp\"; dport = [80]; }\n"
		    ");\n");
	q = mkq(TCP, "10.0.0.1", "198.51.100.7", 443, CPM_FIELD_NONE, NULL);
	assert_int_equal(cpm_classify_l34(f.p, &q, &v), CPM_NEED_NAME);
	q = mkq(TCP, "10.0.0.1", "198.51.100.7", 22, CPM_FIELD_NONE, NULL);
	assert_int_equal(cpm_classify_l34(f.p, &q, &v), CPM_DECIDED);
	assert_string_equal(cpm_rule_id(f.p, v.rule), "ssh");
	q = mkq(TCP, "10.0.0.1", "198.51.100.7", 80, CPM_FIELD_NONE, NULL);
	assert_int_equal(cpm_classify_l34(f.p, &q, &v), CPM_NEED_NAME);
	q = mkq(TCP, "10.0.0.1", "198.51.100.7", 8080, CPM_FIELD_NONE, NULL);
	assert_int_equal(cpm_classify_l34(f.p, &q, &v), CPM_DECIDED);
	assert_int_equal(v.reason, CPM_REASON_DEFAULT);
	assert_int_equal(v.action, CPM_ALLOW);
	/* and match with the name agrees */
	q = mkq(TCP, "10.0.0.1", "198.51.100.7", 443, CPM_FIELD_SNI, "bad.example.com");
	assert_string_equal(decide(&f, &q, NULL), "web");
	q = mkq(TCP, "10.0.0.1", "198.51.100.7", 80, CPM_FIELD_HOST, "BAD.example.com");
	assert_string_equal(decide(&f, &q, NULL), "plain");
	q = mkq(TCP, "10.0.0.1", "198.51.100.7", 443, CPM_FIELD_SNI, "good.example.com");
	assert_string_equal(decide(&f, &q, NULL), "default");
	fx_close(&f);
}

static void
test_scratch_and_ech(void **state)
{
	struct fx a, b;
	struct cpm_query q;
	struct cpm_verdict v;

	fx_open(&a, "default = \"deny\";\nech_public_names = [\"cloudflare-ech.com\"];\n"
		    "rules = ( { id = \"x\"; action = \"allow\"; sni_regex = [\"^x$\"]; } );\n");
	fx_open(&b, "default = \"allow\";\n");
	/* a scratch belongs to one policy generation */
	q = mkq(TCP, "10.0.0.1", "198.51.100.7", 443, CPM_FIELD_SNI, "x");
	assert_int_equal(cpm_match(a.p, b.s, &q, &v), -EINVAL);
	assert_int_equal(v.action, CPM_DENY);
	assert_int_equal(v.reason, CPM_REASON_DEFAULT);
	assert_int_equal(cpm_match(a.p, a.s, &q, &v), 0);
	assert_int_equal(v.action, CPM_ALLOW);
	assert_true(cpm_is_ech_public_name(a.p, "Cloudflare-ECH.com.", 19));
	assert_false(cpm_is_ech_public_name(a.p, "cloudflare-ech.co", 17));
	assert_false(cpm_is_ech_public_name(b.p, "cloudflare-ech.com", 18));
	assert_false(cpm_is_ech_public_name(a.p, NULL, 0));
	fx_close(&a);
	fx_close(&b);
}

/* ---- blob corruption ------------------------------------------------------------- */

/* Every section non-empty: internal, trusted, ECH, all name kinds, regexes, ports. */
static const char rich_conf[] =
	"default = \"deny\";\n"
	"internal = [\"10.77.1.0/24\", \"fd77:1::/64\"];\n"
	"trusted = [\"192.0.2.0/24\"];\n"
	"ech_public_names = [\"cloudflare-ech.com\"];\n"
	"rules = (\n"
	"  { id = \"imds\"; action = \"deny\"; dst = [\"169.254.169.254/32\"]; },\n"
	"  { id = \"llm\"; action = \"allow\"; sni = [\"api.openai.com\", \".anthropic.com\", \"*.example.net\"]; dport = [443]; },\n"
	"  { id = \"re\"; action = \"allow\"; sni_regex = [\"^x[0-9]\\\\.example\\\\.com$\"]; host_regex = [\"^h\\\\.example$\"]; },\n"
	"  { id = \"docs\"; action = \"allow\"; host = [\"docs.example.com\"]; src = [\"10.77.1.0/25\", \"fd77:1::/80\"]; },\n"
	"  { id = \"dns\"; action = \"allow\"; proto = \"udp\"; dport = ( 53, \"5353-5354\" ); },\n"
	/* a name in two rules (a rule list), and a dst list long enough for an index */
	"  { id = \"dup\"; action = \"deny\"; host = [\"docs.example.com\"]; dst = [\"198.51.100.1\", \"198.51.100.3\",\n"
	"    \"198.51.100.5\", \"198.51.100.7\", \"198.51.100.9\", \"198.51.100.11\", \"198.51.100.13\", \"198.51.100.15\",\n"
	"    \"198.51.100.17\", \"198.51.100.19\", \"198.51.100.21\", \"198.51.100.23\", \"198.51.100.25\", \"198.51.100.27\",\n"
	"    \"198.51.100.29\", \"198.51.100.31\", \"198.51.100.33\"]; }\n"
	");\n";

static void
exercise(const struct cpm_policy *p)
{
	struct cpm_scratch *s = cpm_scratch_alloc(p);
	const char *names[] = { "api.openai.com", "x.anthropic.com", "a.example.net", "x1.example.com",
				"docs.example.com", "h.example", "nothing" };
	struct cpm_verdict v;

	assert_non_null(s);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct cpm_query q = mkq(TCP, "10.77.1.5", "198.51.100.7", 443,
					 i % 2 ? CPM_FIELD_HOST : CPM_FIELD_SNI, names[i]);

		cpm_classify_l34(p, &q, &v);
		cpm_match(p, s, &q, &v);
		q = mkq(UDP, "fd77:1::5", "2001:db8::1", 53, CPM_FIELD_NONE, NULL);
		cpm_match(p, s, &q, &v);
		(void)cpm_rule_id(p, v.rule);
	}
	(void)cpm_is_ech_public_name(p, "cloudflare-ech.com", 18);
	cpm_scratch_free(s);
}

static int
try_load(const uint8_t *blob, size_t len, bool run)
{
	/* exact-size heap copy: ASan sees any read past the end */
	uint8_t *copy = malloc(len ? len : 1);
	struct cpm_policy *p = NULL;
	char err[512];
	int rc;

	assert_non_null(copy);
	memcpy(copy, blob, len);
	rc = cpm_policy_load(copy, len, &p, err, sizeof(err));
	if (rc == 0) {
		if (run)
			exercise(p);
		cpm_policy_free(p);
	} else {
		assert_null(p);
		assert_int_equal(rc, -EINVAL);
		assert_true(strncmp(err, "policy blob: ", 13) == 0);
	}
	free(copy);
	return rc;
}

static void
test_blob_truncation(void **state)
{
	struct fx f;
	uint8_t *b;
	size_t len;

	fx_open(&f, rich_conf);
	len = f.cp->blob_len;
	b = malloc(len);
	assert_non_null(b);
	assert_int_equal(try_load(f.cp->blob, len, true), 0);
	for (size_t n = 0; n < len; n++)
		if (try_load(f.cp->blob, n, false) != -EINVAL)
			fail_msg("blob truncated to %zu of %zu bytes was accepted", n, len);
	/* and with the header's total_len lying about it: the sections still do not fit */
	for (size_t n = sizeof(struct cpm_blob_hdr); n < len; n++) {
		memcpy(b, f.cp->blob, n);
		((struct cpm_blob_hdr *)b)->total_len = n;
		if (try_load(b, n, false) != -EINVAL)
			fail_msg("blob truncated to %zu with total_len patched was accepted", n);
	}
	free(b);
	fx_close(&f);
}

/* Load a copy of blob with one 32-bit field at off replaced: must be rejected. */
static void
bend32(const struct fx *f, size_t off, uint32_t val, const char *what)
{
	uint8_t *b = malloc(f->cp->blob_len);

	assert_non_null(b);
	memcpy(b, f->cp->blob, f->cp->blob_len);
	memcpy(b + off, &val, sizeof(val));
	if (try_load(b, f->cp->blob_len, true) != -EINVAL)
		fail_msg("bent %s (offset %zu := %u) was accepted", what, off, val);
	free(b);
}

static void
bend8(const struct fx *f, size_t off, uint8_t val, const char *what)
{
	uint8_t *b = malloc(f->cp->blob_len);

	assert_non_null(b);
	memcpy(b, f->cp->blob, f->cp->blob_len);
	b[off] = val;
	if (try_load(b, f->cp->blob_len, true) != -EINVAL)
		fail_msg("bent %s (offset %zu := %u) was accepted", what, off, val);
	free(b);
}

static void
bend64(const struct fx *f, size_t off, uint64_t val, const char *what)
{
	uint8_t *b = malloc(f->cp->blob_len);

	assert_non_null(b);
	memcpy(b, f->cp->blob, f->cp->blob_len);
	memcpy(b + off, &val, sizeof(val));
	if (try_load(b, f->cp->blob_len, true) != -EINVAL)
		fail_msg("bent %s (offset %zu := %llu) was accepted", what, off,
			 (unsigned long long)val);
	free(b);
}

static void
test_blob_bent_offsets(void **state)
{
	const struct cpm_blob_hdr *h;
	struct fx f;
	size_t hs = offsetof(struct cpm_blob_hdr, sect);

	fx_open(&f, rich_conf);
	h = (const void *)f.cp->blob;
	bend32(&f, offsetof(struct cpm_blob_hdr, magic), 0, "magic");
	bend32(&f, offsetof(struct cpm_blob_hdr, version), CPM_BLOB_VERSION + 1, "version");
	bend64(&f, offsetof(struct cpm_blob_hdr, total_len), f.cp->blob_len + 1, "total_len");
	bend32(&f, offsetof(struct cpm_blob_hdr, n_rules), h->n_rules + 1, "n_rules");
	bend32(&f, offsetof(struct cpm_blob_hdr, n_rules), h->n_rules - 1, "n_rules");
	bend32(&f, offsetof(struct cpm_blob_hdr, n_regex), h->n_regex + 1, "n_regex");
	bend32(&f, offsetof(struct cpm_blob_hdr, internal[0]), 0xfffffffe, "internal[0]");
	bend32(&f, offsetof(struct cpm_blob_hdr, internal[1]), CPM_MAP_ANY, "internal[1]");
	bend32(&f, offsetof(struct cpm_blob_hdr, internal[0]), h->internal[1], "internal[0] (v6 map)");
	bend32(&f, offsetof(struct cpm_blob_hdr, trusted[0]), CPM_MAP_ANY, "trusted[0]");
	bend32(&f, offsetof(struct cpm_blob_hdr, trusted[1]), 0x7fffffff, "trusted[1]");
	bend32(&f, offsetof(struct cpm_blob_hdr, n_ech), 2, "n_ech");
	bend32(&f, offsetof(struct cpm_blob_hdr, flags), 0x80, "flags");
	/* the rule classes and dimensions */
	bend32(&f, offsetof(struct cpm_blob_hdr, dims.n_classes), h->dims.n_classes + 1, "n_classes");
	bend32(&f, offsetof(struct cpm_blob_hdr, dims.n_classes), 0, "n_classes");
	bend32(&f, offsetof(struct cpm_blob_hdr, dims.class_words), 2, "class_words");
	bend32(&f, offsetof(struct cpm_blob_hdr, dims.proto[1][2][1]), h->dims.n_classes, "proto class");
	bend32(&f, offsetof(struct cpm_blob_hdr, dims.port),
	       ((const struct cpm_blob_rule *)(f.cp->blob + h->sect[CPM_SECT_RULES].off))[1].ports,
	       "port dimension (a parity map)");
	bend32(&f, offsetof(struct cpm_blob_hdr, dims.noport_class), h->dims.n_classes, "noport class");
	bend32(&f, offsetof(struct cpm_blob_hdr, dims.src[0]), h->dims.src[1], "src dimension (v6 map)");
	bend32(&f, offsetof(struct cpm_blob_hdr, dims.dst[1]), 0xffff, "dst dimension");
	for (int i = 0; i < CPM_SECT_MAX; i++) {
		size_t o = hs + (size_t)i * sizeof(struct cpm_blob_sect);

		if (h->sect[i].len == 0)
			fail_msg("section %d is empty: the rich policy must fill every section", i);
		bend64(&f, o, h->sect[i].off + 8, "section offset");
		bend64(&f, o, h->sect[i].off - 8, "section offset");
		bend64(&f, o, h->sect[i].off + 1, "section offset");
		bend64(&f, o, UINT64_MAX - 7, "section offset");
		bend64(&f, o + 8, h->sect[i].len + 8, "section length");
		bend64(&f, o + 8, h->sect[i].len - 1, "section length");
		bend64(&f, o + 8, UINT64_MAX, "section length");
	}
	/* rule fields (rule 3, "docs", has a src condition and no ports) */
	{
		size_t r = h->sect[CPM_SECT_RULES].off + 3 * sizeof(struct cpm_blob_rule);
		const struct cpm_blob_rule *rr = (const void *)(f.cp->blob + r);

		assert_int_not_equal(rr->src[0], CPM_MAP_ANY);
		bend32(&f, r + offsetof(struct cpm_blob_rule, id_off), 0xfffffff0, "rule id_off");
		bend32(&f, r + offsetof(struct cpm_blob_rule, id_off), 2, "rule id_off");
		bend32(&f, r + offsetof(struct cpm_blob_rule, src[0]), 0xfffffffe, "rule src[0]");
		bend32(&f, r + offsetof(struct cpm_blob_rule, src[0]), CPM_MAP_ANY, "rule src[0] alone");
		bend32(&f, r + offsetof(struct cpm_blob_rule, src[1]), rr->src[0], "rule src[1] (v4 map)");
		bend32(&f, r + offsetof(struct cpm_blob_rule, dst[0]), 0x10000, "rule dst[0]");
		bend32(&f, r + offsetof(struct cpm_blob_rule, ports), rr->src[0], "rule ports (address map)");
		bend32(&f, r + offsetof(struct cpm_blob_rule, flags), 0, "rule flags");
		bend32(&f, r + offsetof(struct cpm_blob_rule, pad), 1, "rule pad");
	}
	/* interval maps, their keys, values and index */
	{
		const struct cpm_blob_imap *m = (const void *)(f.cp->blob + h->sect[CPM_SECT_IMAPS].off);
		size_t n = h->sect[CPM_SECT_IMAPS].len / sizeof(*m), indexed = 0;

		for (size_t i = 0; i < n; i++) {
			size_t o = h->sect[CPM_SECT_IMAPS].off + i * sizeof(*m);

			bend32(&f, o + offsetof(struct cpm_blob_imap, n), m[i].n + 1000, "map n");
			bend32(&f, o + offsetof(struct cpm_blob_imap, keys_off), 0xffffff00, "map keys_off");
			bend8(&f, o + offsetof(struct cpm_blob_imap, width), m[i].width == 32 ? 128 : 32,
			      "map width");
			bend8(&f, o + offsetof(struct cpm_blob_imap, width), 64, "map width");
			bend8(&f, o + offsetof(struct cpm_blob_imap, valued), !m[i].valued, "map valued");
			if (m[i].valued)
				bend32(&f, o + offsetof(struct cpm_blob_imap, vals_off), 0xfffffff0, "map vals_off");
			if (m[i].n >= 2) {
				/* two keys swapped: not ascending */
				if (m[i].width == 128) {
					size_t k = h->sect[CPM_SECT_KEYS128].off +
						   m[i].keys_off * sizeof(struct cpm_blob_k128);
					const struct cpm_blob_k128 *kk = (const void *)(f.cp->blob + k);

					assert_true(kk[0].hi != 0);
					bend64(&f, k + 16, 0, "128-bit key order");
				} else {
					size_t k = h->sect[CPM_SECT_KEYS32].off + m[i].keys_off * 4;

					bend32(&f, k + 4, *(const uint32_t *)(f.cp->blob + k), "32-bit key order");
				}
			}
			if (m[i].idx_bits != 0) {
				size_t x = h->sect[CPM_SECT_INDEX].off + m[i].idx_off * 4;

				indexed++;
				bend32(&f, x + 4, *(const uint32_t *)(f.cp->blob + x + 4) + 1, "index entry");
				bend8(&f, o + offsetof(struct cpm_blob_imap, idx_bits), 17, "index bits");
				bend8(&f, o + offsetof(struct cpm_blob_imap, idx_bits), m[i].idx_bits - 1,
				      "index bits");
				bend8(&f, o + offsetof(struct cpm_blob_imap, skip), m[i].skip + 1, "index skip");
				bend64(&f, o + offsetof(struct cpm_blob_imap, prefix_lo), m[i].prefix_lo + 1,
				       "index prefix");
			}
		}
		assert_true(indexed >= 2);
		bend32(&f, h->sect[CPM_SECT_VALUES].off, h->dims.n_classes, "class value");
	}
	/* a bit for a rule that does not exist */
	bend64(&f, h->sect[CPM_SECT_CLASSES].off, UINT64_C(1) << 63, "class bit");
	/* name slots: every used one */
	{
		const struct cpm_blob_name *tab = (const void *)(f.cp->blob + h->sect[CPM_SECT_NAMES].off);
		size_t n = h->sect[CPM_SECT_NAMES].len / sizeof(*tab), used = 0, lists = 0;

		for (size_t i = 0; i < n; i++) {
			size_t s = h->sect[CPM_SECT_NAMES].off + i * sizeof(*tab);
			/* a hash whose home is the next slot: reached only around the whole table */
			uint64_t far = (tab[i].hash & ~(uint64_t)(n - 1)) | ((i + 1) & (n - 1));

			if (tab[i].val == CPM_NV_EMPTY) {
				bend32(&f, s + offsetof(struct cpm_blob_name, check), 1, "free slot check");
				continue;
			}
			used++;
			bend64(&f, s + offsetof(struct cpm_blob_name, hash), far, "name hash");
			if (tab[i].val == CPM_NV_ECH)
				continue;
			bend32(&f, s + offsetof(struct cpm_blob_name, val), h->n_rules + 1, "name rule");
			bend32(&f, s + offsetof(struct cpm_blob_name, val), CPM_NV_LIST | 0xffffff, "name list");
			if (tab[i].val & CPM_NV_LIST)
				lists++;
		}
		assert_true(used >= 6);
		assert_true(lists >= 1);
	}
	/* rule lists: a count, then ascending rules with names */
	bend32(&f, h->sect[CPM_SECT_RULE_LISTS].off, 1, "rule list count");
	bend32(&f, h->sect[CPM_SECT_RULE_LISTS].off, 0xffffffff, "rule list count");
	bend32(&f, h->sect[CPM_SECT_RULE_LISTS].off + 4, h->n_rules, "rule list entry");
	bend32(&f, h->sect[CPM_SECT_RULE_LISTS].off + 4, 0, "rule list entry (name-less rule)");
	bend32(&f, h->sect[CPM_SECT_REGEX_MAP].off, h->n_rules, "regex map rule");
	bend32(&f, h->sect[CPM_SECT_REGEX_MAP].off + 4, 7, "regex map field");
	/* the Hyperscan bytes must match their SHA-256 */
	bend32(&f, h->sect[CPM_SECT_HSDB].off + 64, 0x12345678, "hyperscan bytecode");
	fx_close(&f);
}

static void
test_blob_byte_flips(void **state)
{
	struct fx f;
	uint8_t *b;
	size_t len, loaded = 0, tried = 0;
	const uint8_t flips[] = { 0x01, 0x80, 0xff };

	fx_open(&f, rich_conf);
	len = f.cp->blob_len;
	b = malloc(len);
	assert_non_null(b);
	for (size_t i = 0; i < len; i++) {
		for (size_t k = 0; k < sizeof(flips); k++) {
			memcpy(b, f.cp->blob, len);
			b[i] ^= flips[k];
			tried++;
			if (try_load(b, len, true) == 0)
				loaded++;   /* a flip that leaves a valid policy (a hash, a timeout) */
		}
	}
	print_message("byte flips: %zu tried, %zu still valid (exercised under ASan)\n", tried, loaded);
	/* most flips must be caught; the valid ones are settings values and the config hash */
	assert_true(loaded < tried / 4);
	free(b);
	fx_close(&f);
}

/* A database from another Hyperscan version is refused with a clear message. */
static void
test_hyperscan_version(void **state)
{
	struct cpm_blob_hdr *h;
	struct cpm_policy *p;
	struct fx f;
	uint8_t *b, *db;
	char err[512], want[128], ours[32];
	unsigned int n = 0;

	fx_open(&f, rich_conf);
	b = malloc(f.cp->blob_len);
	assert_non_null(b);
	memcpy(b, f.cp->blob, f.cp->blob_len);
	h = (struct cpm_blob_hdr *)b;
	db = b + h->sect[CPM_SECT_HSDB].off;
	/* serialised header: u32 magic, u32 version (major << 24 | minor << 16 | patch << 8) */
	assert_int_equal(db[7], 5);
	db[6] = (uint8_t)(db[6] - 1);
	assert_int_equal(EVP_Digest(db, h->sect[CPM_SECT_HSDB].len, h->hsdb_sha256, &n,
				    EVP_sha256(), NULL), 1);
	assert_int_equal(cpm_policy_load(b, f.cp->blob_len, &p, err, sizeof(err)), -EINVAL);
	sscanf(hs_version(), "%31s", ours);
	snprintf(want, sizeof(want), "built by Hyperscan 5.%u.", db[6]);
	assert_non_null(strstr(err, want));
	snprintf(want, sizeof(want), "this process runs Hyperscan %s", ours);
	assert_non_null(strstr(err, want));
	free(b);
	fx_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_lookalikes),
		cmocka_unit_test(test_many_names),
		cmocka_unit_test(test_l34_conditions),
		cmocka_unit_test(test_trusted_internal_quic),
		cmocka_unit_test(test_classify_l34),
		cmocka_unit_test(test_scratch_and_ech),
		cmocka_unit_test(test_blob_truncation),
		cmocka_unit_test(test_blob_bent_offsets),
		cmocka_unit_test(test_blob_byte_flips),
		cmocka_unit_test(test_hyperscan_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
