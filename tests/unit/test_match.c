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

#include "cp_build.h"
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
		/* the name table's one-shot form: two bytes, then the rest */
		if (n >= 2)
			assert_int_equal(cpm_siphash24_2(key, msg[0], msg[1], msg + 2, n - 2),
					 sip_vectors[n]);
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

/*
 * A table big enough for the loader's name filter (16,384 keys and more):
 * every listed name still finds its rule, in either of two rules that share
 * half of the list, and names next to them find nothing.
 */
static void
test_big_name_table(void **state)
{
	enum { N = 24000 };
	char dir[] = "/tmp/chokepoint-test-names-XXXXXX", conf[256], la[256], lb[256], name[80];
	FILE *fa, *fb, *fc;
	struct fx f;
	char err[4096];

	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/p.conf", dir);
	snprintf(la, sizeof(la), "%s/a.txt", dir);
	snprintf(lb, sizeof(lb), "%s/b.txt", dir);
	fa = fopen(la, "w");
	fb = fopen(lb, "w");
	assert_non_null(fa);
	assert_non_null(fb);
	for (int i = 0; i < N; i++) {
		/* exact, suffix, glob; the odd ones in both lists (a two-rule list) */
		const char *pfx = i % 3 == 0 ? "" : i % 3 == 1 ? "." : "*.";

		fprintf(fa, "%sn%d.example%d.com\n", pfx, i, i % 50);
		if (i % 2)
			fprintf(fb, "%sn%d.example%d.com\n", pfx, i, i % 50);
	}
	assert_int_equal(fclose(fa), 0);
	assert_int_equal(fclose(fb), 0);
	fc = fopen(conf, "w");
	assert_non_null(fc);
	fprintf(fc, "default = \"deny\";\nrules = (\n"
		    "{ id = \"b\"; action = \"deny\"; sni_file = \"b.txt\"; dport = [8443]; },\n"
		    "{ id = \"a\"; action = \"allow\"; sni_file = \"a.txt\"; }\n);\n");
	assert_int_equal(fclose(fc), 0);
	if (cp_policy_compile_file(conf, &f.cp, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cpm_policy_load(f.cp->blob, f.cp->blob_len, &f.p, err, sizeof(err)), 0);
	f.s = cpm_scratch_alloc(f.p);
	assert_non_null(f.s);
	for (int i = 0; i < N; i++) {
		struct cpm_query q;

		snprintf(name, sizeof(name), "n%d.example%d.com", i, i % 50);
		assert_string_equal(sni(&f, name), i % 3 == 2 ? "default" : "a");
		q = mkq(TCP, "10.77.1.5", "198.51.100.10", 8443, CPM_FIELD_SNI, name);
		assert_string_equal(decide(&f, &q, NULL), i % 3 == 2 ? "default" : i % 2 ? "b" : "a");
		snprintf(name, sizeof(name), "x.n%d.example%d.com", i, i % 50);
		assert_string_equal(sni(&f, name), i % 3 == 0 ? "default" : "a");
		snprintf(name, sizeof(name), "n%d.example%d.com", i + N, i % 50);
		assert_string_equal(sni(&f, name), "default");
		snprintf(name, sizeof(name), "n%dexample%d.com", i, i % 50);
		assert_string_equal(sni(&f, name), "default");
		/* the DoH list is searched apart from the big table: listed names are not on it */
		snprintf(name, sizeof(name), "n%d.example%d.com", i, i % 50);
		assert_int_equal(cpm_is_doh_name(f.p, name, strlen(name)), 0);
	}
	/* the default DoH list, in a table with the filter */
	assert_int_equal(cpm_is_doh_name(f.p, "dns.google", 10), 1);
	assert_int_equal(cpm_is_doh_name(f.p, "mozilla.cloudflare-dns.com", 26), 1);
	assert_int_equal(cpm_is_doh_name(f.p, "xdns.google", 11), 0);
	assert_int_equal(cpm_is_ech_public_name(f.p, "dns.google", 10), 0);
	fx_close(&f);
	unlink(la);
	unlink(lb);
	unlink(conf);
	rmdir(dir);
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
	/*
	 * UDP may carry an SNI (QUIC): an sni rule first means "need a name";
	 * the dataplane reads it from a QUIC Initial, or matches without one,
	 * where no name rule holds and the default decides
	 */
	q = mkq(UDP, "10.77.1.5", "198.51.100.7", 123, CPM_FIELD_NONE, NULL);
	assert_int_equal(cpm_classify_l34(p, &q, &v), CPM_NEED_NAME);
	{
		struct cpm_scratch *s = cpm_scratch_alloc(p);

		assert_non_null(s);
		assert_int_equal(cpm_match(p, s, &q, &v), 0);
		cpm_scratch_free(s);
	}
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
			uint64_t far = i + 1 == n ? 0 :
				       (uint64_t)((((unsigned __int128)(i + 1) << 64) + n - 1) / n);

			if (tab[i].val == CPM_NV_EMPTY) {
				bend32(&f, s + offsetof(struct cpm_blob_name, check), 1, "free slot check");
				continue;
			}
			used++;
			assert_int_equal(cpm_blob_name_home(far, n), (i + 1) % n);
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
	/* no rules: classes have no words, so their count is not bound by the section
	 * (libFuzzer found the loader allocating for 4 billion of them) */
	fx_open(&f, "default = \"allow\";\n");
	h = (const void *)f.cp->blob;
	assert_int_equal(h->n_rules, 0);
	assert_int_equal(h->dims.n_classes, 1);
	bend32(&f, offsetof(struct cpm_blob_hdr, dims.n_classes), 0xff000001, "n_classes without rules");
	bend32(&f, offsetof(struct cpm_blob_hdr, dims.n_classes), 2, "n_classes without rules");
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

/* ---- the optimised walk against a naive reference -------------------------------- */

/*
 * Random policies over a small universe of names, addresses and ports (so
 * that conditions overlap and collide), compiled by the real compiler; every
 * query is decided by cpm_classify_l34/cpm_match and by the reference below,
 * which walks the rules one by one in file order exactly as
 * docs/configuration.md says. The reference lives here only.
 */

static uint64_t rng_state;

static uint32_t
rnd(uint32_t n)
{
	/* xorshift64*: reproducible from the seed printed on failure */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * UINT64_C(2685821657736338717)) >> 32) % n;
}

struct m_cidr {
	uint8_t family, plen;
	uint8_t addr[16];
};

struct m_name {
	char name[40];
	uint8_t kind;            /* 0 exact, 1 ".x", 2 "*.x", 3 regex ^P[0-9]\.D$ */
};

struct m_rule {
	uint8_t action, proto;   /* proto: 0 any, 1 tcp, 2 udp, 3 icmp */
	bool has_src, has_dst;
	unsigned int n_src, n_dst, n_ports, n_sni, n_host;
	struct m_cidr src[5], dst[5];
	uint16_t plo[3], phi[3];
	struct m_name sni[4], host[4];
};

struct m_policy {
	uint8_t def, quic;       /* CPM_ALLOW / CPM_DENY */
	bool has_internal;
	unsigned int n_internal, n_trusted, n_rules;
	struct m_cidr internal[3], trusted[3];
	struct m_rule rules[24];
};

static const char *const m_labels[] = { "a", "b", "r1", "s2", "xn--p1ai" };
static const char *const m_domains[] = { "x.test", "y.test", "a.x.test" };

static void
m_random_cidr(struct m_cidr *c)
{
	static const uint8_t v4plens[] = { 0, 8, 24, 28, 30, 31, 32, 32 };
	static const uint8_t v6plens[] = { 0, 16, 120, 124, 126, 127, 128, 128 };

	memset(c, 0, sizeof(*c));
	c->family = rnd(3) ? 4 : 6;
	if (c->family == 4) {
		c->addr[0] = 10;
		c->addr[2] = (uint8_t)rnd(2);
		c->addr[3] = (uint8_t)rnd(256);
		c->plen = v4plens[rnd(8)];
	} else {
		c->addr[0] = 0xfd;
		c->addr[14] = (uint8_t)rnd(2);
		c->addr[15] = (uint8_t)rnd(256);
		c->plen = v6plens[rnd(8)];
	}
	/* host bits off, as the compiler demands */
	for (unsigned int b = 0; b < 16; b++) {
		unsigned int keep = b * 8 >= c->plen ? 0 : c->plen - b * 8 >= 8 ? 8 : c->plen - b * 8;

		c->addr[b] &= (uint8_t)(0xff00 >> keep);
	}
}

static void
m_random_name(struct m_name *n, bool regex_ok)
{
	n->kind = (uint8_t)rnd(regex_ok ? 5 : 3);
	if (n->kind > 3)
		n->kind = 0;
	if (n->kind == 3)
		snprintf(n->name, sizeof(n->name), "%c|%s", rnd(2) ? 'r' : 's', m_domains[rnd(2)]);
	else if (rnd(2))
		snprintf(n->name, sizeof(n->name), "%s", m_domains[rnd(3)]);
	else
		snprintf(n->name, sizeof(n->name), "%s.%s", m_labels[rnd(5)], m_domains[rnd(3)]);
}

static void
m_random_policy(struct m_policy *m)
{
	memset(m, 0, sizeof(*m));
	m->def = rnd(2) ? CPM_ALLOW : CPM_DENY;
	m->quic = rnd(2) ? CPM_ALLOW : CPM_DENY;
	m->has_internal = rnd(4) == 0;
	m->n_internal = m->has_internal ? 1 + rnd(3) : 0;
	for (unsigned int i = 0; i < m->n_internal; i++)
		m_random_cidr(&m->internal[i]);
	m->n_trusted = rnd(4) == 0 ? 1 + rnd(2) : 0;
	for (unsigned int i = 0; i < m->n_trusted; i++) {
		m_random_cidr(&m->trusted[i]);
		if (m->trusted[i].plen < 24)
			m->trusted[i].plen = 32;   /* keep most flows out of trusted */
		if (m->trusted[i].family == 6)
			m->trusted[i].plen = 128;
	}
	m->n_rules = rnd(24) + 1;
	for (unsigned int i = 0; i < m->n_rules; i++) {
		struct m_rule *r = &m->rules[i];
		bool named;

		r->action = rnd(2) ? CPM_ALLOW : CPM_DENY;
		named = rnd(2);
		r->proto = (uint8_t)(named ? (rnd(2) ? 1 : 0) : rnd(4));
		r->has_src = rnd(3) == 0;
		r->has_dst = rnd(3) == 0;
		r->n_src = r->has_src ? 1 + rnd(5) : 0;
		r->n_dst = r->has_dst ? 1 + rnd(5) : 0;
		for (unsigned int k = 0; k < r->n_src; k++)
			m_random_cidr(&r->src[k]);
		for (unsigned int k = 0; k < r->n_dst; k++)
			m_random_cidr(&r->dst[k]);
		r->n_ports = r->proto == 3 || rnd(3) ? 0 : 1 + rnd(3);
		for (unsigned int k = 0; k < r->n_ports; k++) {
			static const uint16_t ports[] = { 22, 53, 80, 443, 8000, 65535, 1 };

			r->plo[k] = ports[rnd(7)];
			r->phi[k] = rnd(3) ? r->plo[k] : (uint16_t)(r->plo[k] + rnd(100));
			if (r->phi[k] < r->plo[k])
				r->phi[k] = 65535;
		}
		if (named) {
			r->n_sni = rnd(3) ? rnd(4) + 1 : 0;
			r->n_host = r->n_sni == 0 || rnd(3) == 0 ? rnd(4) + 1 : 0;
			for (unsigned int k = 0; k < r->n_sni; k++)
				m_random_name(&r->sni[k], true);
			for (unsigned int k = 0; k < r->n_host; k++)
				m_random_name(&r->host[k], true);
		}
	}
}

static size_t
m_cidr_text(char *out, size_t cap, const struct m_cidr *c)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, a, sizeof(a));
	return (size_t)snprintf(out, cap, "\"%s/%u\"", a, c->plen);
}

static size_t
m_cidrs_text(char *out, size_t cap, const char *key, const struct m_cidr *c, unsigned int n)
{
	size_t len = (size_t)snprintf(out, cap, " %s = [", key);

	for (unsigned int i = 0; i < n; i++) {
		len += i ? (size_t)snprintf(out + len, cap - len, ", ") : 0;
		len += m_cidr_text(out + len, cap - len, &c[i]);
	}
	return len + (size_t)snprintf(out + len, cap - len, "];");
}

/* The names of one kind (regex or not) of a list as config text. */
static size_t
m_names_text(char *out, size_t cap, const char *key, const struct m_name *nm, unsigned int n,
	     bool regex)
{
	size_t len = 0;
	unsigned int k = 0;

	for (unsigned int i = 0; i < n; i++) {
		const char *pfx = nm[i].kind == 1 ? "." : nm[i].kind == 2 ? "*." : "";

		if ((nm[i].kind == 3) != regex)
			continue;
		if (k++ == 0)
			len += (size_t)snprintf(out + len, cap - len, " %s%s = [", key, regex ? "_regex" : "");
		else
			len += (size_t)snprintf(out + len, cap - len, ", ");
		if (regex) {
			/* "r|x.test" -> ^r[0-9]\.x\.test$ (libconfig doubles backslashes) */
			char d[40], *p;

			snprintf(d, sizeof(d), "%s", nm[i].name + 2);
			len += (size_t)snprintf(out + len, cap - len, "\"^%c[0-9]\\\\.", nm[i].name[0]);
			for (p = d; *p != '\0'; p++)
				len += (size_t)(*p == '.' ? snprintf(out + len, cap - len, "\\\\.")
							  : snprintf(out + len, cap - len, "%c", *p));
			len += (size_t)snprintf(out + len, cap - len, "$\"");
		} else {
			len += (size_t)snprintf(out + len, cap - len, "\"%s%s\"", pfx, nm[i].name);
		}
	}
	if (k != 0)
		len += (size_t)snprintf(out + len, cap - len, "];");
	return len;
}

static char *
m_policy_text(const struct m_policy *m)
{
	static const char *const protos[] = { "any", "tcp", "udp", "icmp" };
	size_t cap = 1 << 16, len = 0;
	char *t = malloc(cap);

	assert_non_null(t);
	len += (size_t)snprintf(t + len, cap - len, "default = \"%s\";\nquic = \"%s\";\n",
				m->def == CPM_ALLOW ? "allow" : "deny",
				m->quic == CPM_ALLOW ? "allow" : "deny");
	if (m->has_internal) {
		len += m_cidrs_text(t + len, cap - len, "internal", m->internal, m->n_internal);
		len += (size_t)snprintf(t + len, cap - len, "\n");
	}
	if (m->n_trusted) {
		len += m_cidrs_text(t + len, cap - len, "trusted", m->trusted, m->n_trusted);
		len += (size_t)snprintf(t + len, cap - len, "\n");
	}
	len += (size_t)snprintf(t + len, cap - len, "rules = (\n");
	for (unsigned int i = 0; i < m->n_rules; i++) {
		const struct m_rule *r = &m->rules[i];

		len += (size_t)snprintf(t + len, cap - len,
					"{ id = \"r%u\"; action = \"%s\"; proto = \"%s\"; force = true;", i,
					r->action == CPM_ALLOW ? "allow" : "deny", protos[r->proto]);
		if (r->has_src)
			len += m_cidrs_text(t + len, cap - len, "src", r->src, r->n_src);
		if (r->has_dst)
			len += m_cidrs_text(t + len, cap - len, "dst", r->dst, r->n_dst);
		if (r->n_ports) {
			len += (size_t)snprintf(t + len, cap - len, " dport = (");
			for (unsigned int k = 0; k < r->n_ports; k++)
				len += (size_t)snprintf(t + len, cap - len, "%s\"%u-%u\"", k ? ", " : "",
							r->plo[k], r->phi[k]);
			len += (size_t)snprintf(t + len, cap - len, ");");
		}
		len += m_names_text(t + len, cap - len, "sni", r->sni, r->n_sni, false);
		len += m_names_text(t + len, cap - len, "sni", r->sni, r->n_sni, true);
		len += m_names_text(t + len, cap - len, "host", r->host, r->n_host, false);
		len += m_names_text(t + len, cap - len, "host", r->host, r->n_host, true);
		len += (size_t)snprintf(t + len, cap - len, " }%s\n", i + 1 < m->n_rules ? "," : "");
	}
	snprintf(t + len, cap - len, ");\n");
	return t;
}

/* ---- the reference: one rule at a time, in file order ---- */

static bool
ref_cidr_has(const struct m_cidr *c, const struct cpm_query *q, const uint8_t *addr)
{
	if (c->family != q->family)
		return false;
	for (unsigned int b = 0; b < c->plen; b++)
		if (((addr[b / 8] ^ c->addr[b / 8]) >> (7 - b % 8)) & 1)
			return false;
	return true;
}

static bool
ref_cidrs_have(const struct m_cidr *c, unsigned int n, const struct cpm_query *q,
	       const uint8_t *addr)
{
	for (unsigned int i = 0; i < n; i++)
		if (ref_cidr_has(&c[i], q, addr))
			return true;
	return false;
}

static bool
ref_l34(const struct m_rule *r, const struct cpm_query *q)
{
	bool icmp = (q->family == 4 && q->l4proto == ICMP) || (q->family == 6 && q->l4proto == ICMP6);

	if ((r->proto == 1 && q->l4proto != TCP) || (r->proto == 2 && q->l4proto != UDP) ||
	    (r->proto == 3 && !icmp))
		return false;
	if (r->has_src && !ref_cidrs_have(r->src, r->n_src, q, q->src))
		return false;
	if (r->has_dst && !ref_cidrs_have(r->dst, r->n_dst, q, q->dst))
		return false;
	if (r->n_ports) {
		bool hit = false;

		if (q->l4proto != TCP && q->l4proto != UDP)
			return false;
		for (unsigned int k = 0; k < r->n_ports; k++)
			hit |= q->dport >= r->plo[k] && q->dport <= r->phi[k];
		if (!hit)
			return false;
	}
	return true;
}

static bool
ends_with_label(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return n > s && name[n - s - 1] == '.' && strcmp(name + n - s, suffix) == 0;
}

/* name is normalised */
static bool
ref_name_has(const struct m_name *nm, unsigned int n, const char *name)
{
	for (unsigned int i = 0; i < n; i++) {
		const char *x = nm[i].name;

		switch (nm[i].kind) {
		case 0:
			if (strcmp(name, x) == 0)
				return true;
			break;
		case 1:
			if (strcmp(name, x) == 0 || ends_with_label(name, x))
				return true;
			break;
		case 2:
			if (ends_with_label(name, x))
				return true;
			break;
		case 3:  /* ^P[0-9]\.D$ */
			if (name[0] == x[0] && name[1] >= '0' && name[1] <= '9' && name[2] == '.' &&
			    strcmp(name + 3, x + 2) == 0)
				return true;
			break;
		}
	}
	return false;
}

static bool
ref_pre(const struct m_policy *m, const struct cpm_query *q, struct cpm_verdict *v)
{
	if (ref_cidrs_have(m->trusted, m->n_trusted, q, q->dst)) {
		*v = (struct cpm_verdict){ CPM_ALLOW, CPM_REASON_TRUSTED, -1 };
		return true;
	}
	if (m->has_internal && !ref_cidrs_have(m->internal, m->n_internal, q, q->src)) {
		*v = (struct cpm_verdict){ CPM_ALLOW, CPM_REASON_NOT_INTERNAL, -1 };
		return true;
	}
	if (q->l4proto == UDP && q->dport == 443 && m->quic == CPM_DENY) {
		*v = (struct cpm_verdict){ CPM_DENY, CPM_REASON_QUIC, -1 };
		return true;
	}
	return false;
}

static int
ref_classify(const struct m_policy *m, const struct cpm_query *q, struct cpm_verdict *v)
{
	if (ref_pre(m, q, v))
		return CPM_DECIDED;
	for (unsigned int i = 0; i < m->n_rules; i++) {
		const struct m_rule *r = &m->rules[i];
		bool named = r->n_sni + r->n_host != 0;
		/* names come from TCP, and sni from UDP too (QUIC) */
		bool can_name = q->l4proto == TCP || (q->l4proto == UDP && r->n_sni != 0);

		if ((named && !can_name) || !ref_l34(r, q))
			continue;
		if (named)
			return CPM_NEED_NAME;
		*v = (struct cpm_verdict){ r->action, CPM_REASON_RULE, (int32_t)i };
		return CPM_DECIDED;
	}
	*v = (struct cpm_verdict){ m->def, CPM_REASON_DEFAULT, -1 };
	return CPM_DECIDED;
}

static void
ref_match(const struct m_policy *m, const struct cpm_query *q, struct cpm_verdict *v)
{
	char name[64] = "";
	size_t n = 0;

	if (ref_pre(m, q, v))
		return;
	if (q->name != NULL) {
		n = q->name_len;
		if (n > 0 && q->name[n - 1] == '.')
			n--;
		for (size_t i = 0; i < n && i < sizeof(name) - 1; i++)
			name[i] = (char)(q->name[i] >= 'A' && q->name[i] <= 'Z' ? q->name[i] + 32 : q->name[i]);
		name[n < sizeof(name) ? n : sizeof(name) - 1] = '\0';
	}
	for (unsigned int i = 0; i < m->n_rules; i++) {
		const struct m_rule *r = &m->rules[i];

		if (!ref_l34(r, q))
			continue;
		if (r->n_sni + r->n_host != 0) {
			if (n == 0 || !((q->field == CPM_FIELD_SNI && ref_name_has(r->sni, r->n_sni, name)) ||
					(q->field == CPM_FIELD_HOST && ref_name_has(r->host, r->n_host, name))))
				continue;
		}
		*v = (struct cpm_verdict){ r->action, CPM_REASON_RULE, (int32_t)i };
		return;
	}
	*v = (struct cpm_verdict){ m->def, CPM_REASON_DEFAULT, -1 };
}

static void
m_random_addr(uint8_t family, uint8_t *a)
{
	memset(a, 0, 16);
	if (family == 4) {
		a[0] = rnd(8) ? 10 : (uint8_t)rnd(256);
		a[2] = (uint8_t)rnd(3);
		a[3] = (uint8_t)rnd(256);
	} else {
		a[0] = rnd(8) ? 0xfd : (uint8_t)rnd(256);
		a[14] = (uint8_t)rnd(3);
		a[15] = (uint8_t)rnd(256);
	}
}

static void
m_random_query(struct cpm_query *q, char *name, size_t cap)
{
	static const uint8_t protos[] = { TCP, TCP, TCP, UDP, UDP, ICMP, ICMP6, 47 };
	static const uint16_t ports[] = { 22, 53, 80, 443, 8000, 8050, 65535, 1, 9999 };

	memset(q, 0, sizeof(*q));
	q->family = rnd(3) ? 4 : 6;
	q->l4proto = protos[rnd(8)];
	if (q->l4proto == TCP || q->l4proto == UDP) {
		q->sport = 40000;
		q->dport = ports[rnd(9)];
	}
	m_random_addr(q->family, q->src);
	m_random_addr(q->family, q->dst);
	q->field = (enum cpm_field)rnd(3);
	if (q->field == CPM_FIELD_NONE)
		return;
	switch (rnd(4)) {
	case 0:
		snprintf(name, cap, "%s", m_domains[rnd(3)]);
		break;
	case 1:
		snprintf(name, cap, "%s.%s", m_labels[rnd(5)], m_domains[rnd(3)]);
		break;
	case 2:
		snprintf(name, cap, "%c%u.%s", rnd(2) ? 'r' : 's', rnd(12), m_domains[rnd(2)]);
		break;
	default:
		snprintf(name, cap, "%s.%s.%s", m_labels[rnd(5)], m_labels[rnd(5)], m_domains[rnd(3)]);
		break;
	}
	if (rnd(8) == 0)
		name[0] = (char)(name[0] - 32);       /* upper case */
	if (rnd(8) == 0)
		strcat(name, ".");                    /* one trailing dot */
	q->name = name;
	q->name_len = strlen(name);
}

static bool
verdict_eq(const struct cpm_verdict *a, const struct cpm_verdict *b)
{
	return a->action == b->action && a->reason == b->reason && a->rule == b->rule;
}

static uint64_t
test_seed(void)
{
	const char *s = getenv("CHOKEPOINT_TEST_SEED");

	return s != NULL ? strtoull(s, NULL, 0) : UINT64_C(0x5eed0c0ffee);
}

static void
test_walk_equivalence(void **state)
{
	enum { POLICIES = 1000, QUERIES = 120 };
	static const size_t budgets[] = { CP_CLASS_BUDGET_DEFAULT, 1, 150 };
	uint64_t seed = test_seed();
	unsigned long compared = 0, decided_by_rule = 0, need_name = 0, fallback = 0;

	rng_state = seed;
	for (int pi = 0; pi < POLICIES; pi++) {
		struct m_policy m;
		struct fx f;
		char *text;
		size_t old;

		m_random_policy(&m);
		text = m_policy_text(&m);
		old = cp_l34_set_class_budget(budgets[pi % 3]);
		fx_open(&f, text);
		cp_l34_set_class_budget(old);
		{
			const struct cpm_blob_hdr *h = (const void *)f.cp->blob;

			if (h->dims.port == CPM_MAP_ANY || h->dims.src[0] == CPM_MAP_ANY ||
			    h->dims.dst[1] == CPM_MAP_ANY)
				fallback++;
		}
		for (int qi = 0; qi < QUERIES; qi++) {
			struct cpm_verdict a = { 0 }, b = { 0 };
			struct cpm_query q;
			char name[64];
			int ca, cb;

			m_random_query(&q, name, sizeof(name));
			ca = cpm_classify_l34(f.p, &q, &a);
			cb = ref_classify(&m, &q, &b);
			if (ca != cb || (ca == CPM_DECIDED && !verdict_eq(&a, &b)))
				fail_msg("seed 0x%llx policy %d query %d: classify %d/%d rule %d/%d reason %u/%u\n%s",
					 (unsigned long long)seed, pi, qi, ca, cb, a.rule, b.rule, a.reason,
					 b.reason, text);
			need_name += cb == CPM_NEED_NAME;
			assert_int_equal(cpm_match(f.p, f.s, &q, &a), 0);
			ref_match(&m, &q, &b);
			if (!verdict_eq(&a, &b))
				fail_msg("seed 0x%llx policy %d query %d (%s): match rule %d/%d reason %u/%u action %u/%u\n%s",
					 (unsigned long long)seed, pi, qi, q.name ? q.name : "-", a.rule, b.rule,
					 a.reason, b.reason, a.action, b.action, text);
			decided_by_rule += b.reason == CPM_REASON_RULE;
			compared++;
		}
		fx_close(&f);
		free(text);
	}
	print_message("walk equivalence: %lu queries over %d policies (%lu with a dimension left out), "
		      "%lu decided by a rule, %lu needed a name; seed 0x%llx\n", compared, POLICIES,
		      fallback, decided_by_rule, need_name, (unsigned long long)seed);
	/* the generator must exercise what it claims to */
	assert_true(decided_by_rule > compared / 4);
	assert_true(need_name > compared / 20);
	assert_true(fallback >= POLICIES / 3);
}

/* ---- CIDR sets at scale ------------------------------------------------------------ */

static void
random_set(struct m_cidr *v, size_t n, bool wide)
{
	for (size_t i = 0; i < n; i++) {
		struct m_cidr *c = &v[i];

		memset(c, 0, sizeof(*c));
		c->family = rnd(2) ? 4 : 6;
		for (int b = 0; b < (c->family == 4 ? 4 : 16); b++)
			c->addr[b] = (uint8_t)rnd(256);
		if (c->family == 6)
			c->addr[0] = wide ? (uint8_t)rnd(256) : 0x20;
		c->plen = (uint8_t)(c->family == 4 ? 8 + rnd(25) : 16 + rnd(113));
		for (unsigned int b = 0; b < 16; b++) {
			unsigned int keep = b * 8 >= c->plen ? 0 : c->plen - b * 8 >= 8 ? 8 : c->plen - b * 8;

			c->addr[b] &= (uint8_t)(0xff00 >> keep);
		}
	}
}

static void
write_set(const char *path, const struct m_cidr *v, size_t n)
{
	FILE *f = fopen(path, "w");
	char line[64];

	assert_non_null(f);
	fprintf(f, "# %zu random CIDRs\n", n);
	for (size_t i = 0; i < n; i++) {
		m_cidr_text(line, sizeof(line), &v[i]);
		/* strip the quotes of the config form */
		line[strlen(line) - 1] = '\0';
		fprintf(f, "%s\n", line + 1);
	}
	assert_int_equal(fclose(f), 0);
}

/* An address in, next to or around an entry, or anywhere. */
static void
probe_addr(const struct m_cidr *v, size_t n, uint8_t family, uint8_t *a)
{
	const struct m_cidr *c = n ? &v[rnd((uint32_t)n)] : NULL;
	unsigned int len = family == 4 ? 4 : 16;

	memset(a, 0, 16);
	if (c == NULL || c->family != family || rnd(4) == 0) {
		for (unsigned int b = 0; b < len; b++)
			a[b] = (uint8_t)rnd(256);
		return;
	}
	memcpy(a, c->addr, len);
	if (rnd(2)) {
		/* the last address of the entry */
		for (unsigned int b = c->plen; b < len * 8; b++)
			a[b / 8] |= (uint8_t)(0x80 >> (b % 8));
	}
	switch (rnd(3)) {
	case 0:   /* one below */
		for (int b = (int)len - 1; b >= 0 && a[b]-- == 0; b--)
			;
		break;
	case 1:   /* one above */
		for (int b = (int)len - 1; b >= 0 && ++a[b] == 0; b--)
			;
		break;
	default:
		break;
	}
}

static void
test_cidr_scale(void **state)
{
	static const size_t sizes[] = { 1, 7, 40, 1000, 30000, 100000 };
	char dir[] = "/tmp/chokepoint-test-cidr-XXXXXX", conf[256], da[256], sb[256];
	uint64_t seed = test_seed() ^ 0xc1d7;
	unsigned long hits = 0, total = 0;

	rng_state = seed;
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/p.conf", dir);
	snprintf(da, sizeof(da), "%s/a.txt", dir);
	snprintf(sb, sizeof(sb), "%s/b.txt", dir);
	for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		size_t n = sizes[si], nb = n / 3 + 1;
		struct m_cidr *a = calloc(n, sizeof(*a)), *b = calloc(nb, sizeof(*b));
		struct cp_policy *cp;
		struct cpm_policy *p;
		struct cpm_scratch *s;
		char err[4096];
		FILE *f;

		assert_non_null(a);
		assert_non_null(b);
		random_set(a, n, si % 2);
		random_set(b, nb, true);
		write_set(da, a, n);
		write_set(sb, b, nb);
		f = fopen(conf, "w");
		assert_non_null(f);
		fprintf(f, "default = \"allow\";\nrules = (\n"
			   "{ id = \"a\"; action = \"deny\"; dst_file = \"a.txt\"; },\n"
			   "{ id = \"b\"; action = \"deny\"; src_file = \"b.txt\"; proto = \"tcp\"; }\n);\n");
		assert_int_equal(fclose(f), 0);
		if (cp_policy_compile_file(conf, &cp, err, sizeof(err)) != 0)
			fail_msg("%zu CIDRs: %s", n, err);
		assert_int_equal(cpm_policy_load(cp->blob, cp->blob_len, &p, err, sizeof(err)), 0);
		s = cpm_scratch_alloc(p);
		assert_non_null(s);
		for (int qi = 0; qi < 3000; qi++) {
			struct cpm_query q = { .l4proto = rnd(4) ? TCP : UDP, .sport = 1, .dport = 80 };
			struct cpm_verdict v, w;
			int32_t want;

			q.family = rnd(2) ? 4 : 6;
			probe_addr(a, n, q.family, q.dst);
			probe_addr(b, nb, q.family, q.src);
			want = ref_cidrs_have(a, (unsigned int)n, &q, q.dst) ? 0 :
			       q.l4proto == TCP && ref_cidrs_have(b, (unsigned int)nb, &q, q.src) ? 1 : -1;
			assert_int_equal(cpm_match(p, s, &q, &v), 0);
			assert_int_equal(cpm_classify_l34(p, &q, &w), CPM_DECIDED);
			if (v.rule != want || w.rule != want)
				fail_msg("seed 0x%llx, %zu CIDRs, query %d: rule %d/%d, reference %d",
					 (unsigned long long)seed, n, qi, v.rule, w.rule, want);
			hits += want >= 0;
			total++;
		}
		cpm_scratch_free(s);
		cpm_policy_free(p);
		cp_policy_free(cp);
		free(a);
		free(b);
	}
	print_message("CIDR sets: %lu queries, %lu inside a set; seed 0x%llx\n", total, hits,
		      (unsigned long long)seed);
	assert_true(hits > total / 4 && hits < total * 3 / 4 + total / 8);
	unlink(conf);
	unlink(da);
	unlink(sb);
	rmdir(dir);
}

/* ---- name binding (bind = "pinned" | "dns") and the DoH list ---------------------- */

static const char bind_conf[] =
	"default = \"deny\";\n"
	"rules = (\n"
	"  { id = \"pin\"; action = \"allow\"; sni = [\"api.example.com\"];\n"
	"    dst = [\"198.51.100.0/24\", \"2001:db8:5::/48\"]; bind = \"pinned\"; },\n"
	"  { id = \"other\"; action = \"allow\"; sni = [\"api.example.com\"]; },\n"
	"  { id = \"dnsb\"; action = \"allow\"; host = [\".svc.example\"]; bind = \"dns\"; },\n"
	"  { id = \"nodst\"; action = \"allow\"; proto = \"tcp\"; dst = [\"203.0.113.0/24\"]; dport = [443]; },\n"
	"  { id = \"plain\"; action = \"allow\"; sni = [\"plain.example.com\"]; dst = [\"198.51.100.0/24\"]; }\n"
	");\n";

/* the deciding rule of q and whether its pin holds */
static const char *
pin_case(const struct fx *f, const char *dst, const char *name, int *holds, uint8_t *bind)
{
	struct cpm_query q = mkq(TCP, strchr(dst, ':') ? "fd77:1::5" : "10.77.1.5", dst, 443,
				 CPM_FIELD_SNI, name);
	struct cpm_verdict v = { 0 };

	assert_int_equal(cpm_match(f->p, f->s, &q, &v), 0);
	*holds = cpm_rule_pin_holds(f->p, v.rule, &q);
	*bind = cpm_rule_bind(f->p, v.rule);
	return decide(f, &q, NULL);
}

static void
test_bind(void **state)
{
	const struct cpm_blob_hdr *h;
	struct cpm_verdict v;
	struct cpm_query q;
	struct fx f;
	uint8_t bind;
	int holds;

	fx_open(&f, bind_conf);
	/* a pinned rule decides its name wherever it goes; the pin says where it may go */
	assert_string_equal(pin_case(&f, "198.51.100.10", "api.example.com", &holds, &bind), "pin");
	assert_int_equal(bind, CPM_BIND_PINNED);
	assert_int_equal(holds, 1);
	assert_string_equal(pin_case(&f, "192.0.2.77", "api.example.com", &holds, &bind), "pin");
	assert_int_equal(holds, 0);
	assert_string_equal(pin_case(&f, "203.0.113.5", "API.Example.com.", &holds, &bind), "pin");
	assert_int_equal(holds, 0);
	assert_string_equal(pin_case(&f, "2001:db8:5::1", "api.example.com", &holds, &bind), "pin");
	assert_int_equal(holds, 1);
	assert_string_equal(pin_case(&f, "2001:db8:6::1", "api.example.com", &holds, &bind), "pin");
	assert_int_equal(holds, 0);
	/* a rule without bind keeps dst as a condition: no match outside it */
	assert_string_equal(pin_case(&f, "198.51.100.10", "plain.example.com", &holds, &bind), "plain");
	assert_int_equal(bind, CPM_BIND_NONE);
	assert_string_equal(pin_case(&f, "192.0.2.77", "plain.example.com", &holds, &bind), "default");
	/* the name-less rule's dst is still a condition too */
	assert_string_equal(pin_case(&f, "203.0.113.5", NULL, &holds, &bind), "nodst");
	assert_string_equal(pin_case(&f, "198.51.100.10", NULL, &holds, &bind), "default");
	/* at the SYN, the pinned rule needs the name wherever the flow goes */
	q = mkq(TCP, "10.77.1.5", "192.0.2.77", 443, CPM_FIELD_NONE, NULL);
	assert_int_equal(cpm_classify_l34(f.p, &q, &v), CPM_NEED_NAME);
	/* bind = "dns": on Host rules too */
	q = mkq(TCP, "10.77.1.5", "192.0.2.77", 80, CPM_FIELD_HOST, "a.svc.example");
	assert_string_equal(decide(&f, &q, NULL), "dnsb");
	assert_int_equal(cpm_match(f.p, f.s, &q, &v), 0);
	assert_int_equal(cpm_rule_bind(f.p, v.rule), CPM_BIND_DNS);
	assert_int_equal(cpm_rule_pin_holds(f.p, v.rule, &q), 0);
	/* no rule, a rule out of range */
	assert_int_equal(cpm_rule_bind(f.p, -1), CPM_BIND_NONE);
	assert_int_equal(cpm_rule_bind(f.p, 5), CPM_BIND_NONE);
	assert_int_equal(cpm_rule_pin_holds(f.p, -1, &q), 0);
	/* the loader refuses a bind it cannot honour */
	h = (const struct cpm_blob_hdr *)f.cp->blob;
	bend8(&f, h->sect[CPM_SECT_RULES].off + offsetof(struct cpm_blob_rule, bind), CPM_BIND_MAX,
	      "rule 0 bind");
	bend8(&f, h->sect[CPM_SECT_RULES].off + 3 * sizeof(struct cpm_blob_rule) +
	      offsetof(struct cpm_blob_rule, bind), CPM_BIND_DNS, "bind dns on a name-less rule");
	bend8(&f, h->sect[CPM_SECT_RULES].off + 2 * sizeof(struct cpm_blob_rule) +
	      offsetof(struct cpm_blob_rule, bind), CPM_BIND_PINNED, "pinned without dst");
	bend8(&f, h->sect[CPM_SECT_RULES].off + offsetof(struct cpm_blob_rule, pad) + 1, 1,
	      "rule 0 padding");
	/* the default DoH list is the shipped one */
	assert_true(h->n_doh > 10);
	assert_int_equal(cpm_is_doh_name(f.p, "dns.google", 10), 1);
	assert_int_equal(cpm_is_doh_name(f.p, "cloudflare-dns.com", 18), 1);
	assert_int_equal(cpm_is_doh_name(f.p, "mozilla.cloudflare-dns.com", 26), 1);
	assert_int_equal(cpm_is_doh_name(f.p, "abc123.dns.nextdns.io", 21), 1);
	assert_int_equal(cpm_is_doh_name(f.p, "google", 6), 0);
	assert_int_equal(cpm_is_doh_name(f.p, "xdns.google", 11), 0);
	assert_int_equal(cpm_is_doh_name(f.p, "api.example.com", 15), 0);
	/* a DoH entry is no rule: the names of the list never decide a flow */
	assert_string_equal(sni(&f, "dns.google"), "default");
	bend32(&f, offsetof(struct cpm_blob_hdr, n_doh), h->n_doh + 1, "n_doh");
	fx_close(&f);
}

static void
test_doh_file(void **state)
{
	char list[] = "/tmp/chokepoint-test-doh-XXXXXX.txt", conf[512];
	const char text[] = "# test list\n*.doh.example\nexact.example\n";
	struct fx f;
	int fd = mkstemps(list, 4);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(conf, sizeof(conf), "default = \"allow\";\ndoh_file = \"%s\";\n", list);
	fx_open(&f, conf);
	assert_int_equal(((const struct cpm_blob_hdr *)f.cp->blob)->n_doh, 2);
	assert_int_equal(cpm_is_doh_name(f.p, "a.doh.example", 13), 1);
	assert_int_equal(cpm_is_doh_name(f.p, "b.a.doh.example", 15), 1);
	assert_int_equal(cpm_is_doh_name(f.p, "doh.example", 11), 0);      /* `*.` = subdomains only */
	assert_int_equal(cpm_is_doh_name(f.p, "exact.example", 13), 1);
	assert_int_equal(cpm_is_doh_name(f.p, "x.exact.example", 15), 0);
	assert_int_equal(cpm_is_doh_name(f.p, "dns.google", 10), 0);       /* the file replaces the shipped list */
	/* the list file is in the policy hash's manifest */
	assert_non_null(strstr(cp_policy_manifest(f.cp), list));
	fx_close(&f);
	unlink(list);
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
		cmocka_unit_test(test_big_name_table),
		cmocka_unit_test(test_l34_conditions),
		cmocka_unit_test(test_trusted_internal_quic),
		cmocka_unit_test(test_classify_l34),
		cmocka_unit_test(test_scratch_and_ech),
		cmocka_unit_test(test_blob_truncation),
		cmocka_unit_test(test_blob_bent_offsets),
		cmocka_unit_test(test_blob_byte_flips),
		cmocka_unit_test(test_hyperscan_version),
		cmocka_unit_test(test_walk_equivalence),
		cmocka_unit_test(test_cidr_scale),
		cmocka_unit_test(test_bind),
		cmocka_unit_test(test_doh_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
