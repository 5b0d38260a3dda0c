/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_config.c: the policy file -> blob compiler (ctrlplane/policy).
 *
 * Every tests/data/config/bad-*.conf carries its exact expected error lines
 * in leading "# expect: " comments; the compiler must print exactly those,
 * in that order, and nothing else. Every good-*.conf and every shipped
 * example in etc/ must compile, and the policy hash must be the sha256 of
 * the manifest (sha256sum of the config and of every list file it names).
 * List files: entries, comments, relative paths, errors naming the list file
 * and line, the hash following a list file's bytes. Runs from the source
 * root (meson test workdir).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cp_config.h"
#include "cp_policy.h"
#include "cpm.h"
#include "dp_proto.h"

#define ERRLEN 16384

/* Sorted list of DIR/NAME for names with the prefix and suffix. */
static size_t
list_files(const char *dir, const char *prefix, const char *suffix, char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), sl = strlen(suffix);

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 || l < sl ||
		    strcmp(de->d_name + l - sl, suffix) != 0)
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		assert_non_null(v);
		assert_true(asprintf(&v[n], "%s/%s", dir, de->d_name) > 0);
		n++;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(v[i], v[j]) > 0) {
				char *t = v[i];

				v[i] = v[j];
				v[j] = t;
			}
	*out = v;
	return n;
}

static void
free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The leading "# expect: X" lines of a fixture, as "X\n" lines. */
static char *
read_expect(const char *path)
{
	FILE *f = fopen(path, "rb");
	char line[4096];
	char *out = calloc(1, 1);
	size_t len = 0;

	assert_non_null(f);
	assert_non_null(out);
	while (fgets(line, sizeof(line), f) != NULL && strncmp(line, "# expect: ", 10) == 0) {
		size_t l = strlen(line + 10);

		out = realloc(out, len + l + 1);
		assert_non_null(out);
		memcpy(out + len, line + 10, l + 1);
		len += l;
	}
	fclose(f);
	return out;
}

static void
test_bad_fixtures(void **state)
{
	char **files, *err = malloc(ERRLEN);
	size_t n = list_files("tests/data/config", "bad-", ".conf", &files);

	assert_non_null(err);
	/* an empty or shrunken fixture directory must not pass silently */
	assert_true(n >= 55);
	for (size_t i = 0; i < n; i++) {
		struct cp_policy *p = (struct cp_policy *)0x1;
		char *expect = read_expect(files[i]);
		int rc;

		if (expect[0] == '\0')
			fail_msg("%s: no '# expect: ' line", files[i]);
		rc = cp_policy_compile_file(files[i], &p, err, ERRLEN);
		if (rc != -EINVAL || strcmp(err, expect) != 0)
			fail_msg("%s: rc %d\nexpected:\n%sgot:\n%s", files[i], rc, expect, err);
		assert_null(p);
		free(expect);
	}
	free_list(files, n);
	free(err);
}

/* sha256sum FILE, as 32 bytes */
static void
sha256sum(const char *path, uint8_t out[32])
{
	char cmd[4200], hex[65];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_int_equal(fread(hex, 1, 64, f), 64);
	pclose(f);
	hex[64] = '\0';
	for (int i = 0; i < 32; i++) {
		unsigned int b;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
}

/* sha256sum of bytes (through a temporary file), as 32 bytes */
static void
sha256_bytes(const void *d, size_t n, uint8_t out[32])
{
	char tmp[] = "/tmp/chokepoint-test-config-XXXXXX";
	int fd = mkstemp(tmp);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, d, n), (ssize_t)n);
	close(fd);
	sha256sum(tmp, out);
	unlink(tmp);
}

static void
hex_of(const uint8_t b[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/*
 * The policy hash is sha256 of the manifest; the manifest is sha256sum's
 * output for the config file (as given) and each list file (as written,
 * relative to the config's directory), config first. Checked with coreutils.
 */
static void
check_manifest(const struct cp_policy *p, const char *path)
{
	const char *m = cp_policy_manifest(p), *line = m;
	char dir[4096], want[8192], hex[65];
	uint8_t sha[32];
	unsigned int n = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	sha256sum(path, sha);
	hex_of(sha, hex);
	snprintf(want, sizeof(want), "%s  %s\n", hex, path);
	assert_true(strncmp(m, want, strlen(want)) == 0);
	while ((line = strchr(line, '\n')) != NULL && *++line != '\0') {
		char *file;
		const char *end = strchr(line, '\n');

		assert_non_null(end);
		assert_true(end - line > 66 && line[64] == ' ' && line[65] == ' ');
		assert_true(asprintf(&file, "%s/%.*s", dir, (int)(end - line - 66), line + 66) > 0);
		sha256sum(file, sha);
		free(file);
		hex_of(sha, hex);
		assert_memory_equal(line, hex, 64);
		n++;
	}
	assert_int_equal(n, p->n_files);
	sha256_bytes(m, strlen(m), sha);
	assert_memory_equal(p->sha256, sha, 32);
}

static void
compile_good(const char *path)
{
	struct cp_policy *p = NULL;
	struct cpm_policy *cp = NULL;
	char err[ERRLEN], lerr[256];
	int rc;

	rc = cp_policy_compile_file(path, &p, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s: rc %d:\n%s", path, rc, err);
	assert_string_equal(err, "");
	assert_non_null(p->blob);
	assert_string_equal(p->path, path);
	check_manifest(p, path);
	/* the blob carries the same hash, and the matcher accepts it */
	assert_int_equal(cpm_policy_load(p->blob, p->blob_len, &cp, lerr, sizeof(lerr)), 0);
	assert_memory_equal(cpm_policy_sha256(cp), p->sha256, 32);
	assert_int_equal(cpm_rule_count(cp), p->n_rules);
	cpm_policy_free(cp);
	cp_policy_free(p);
}

static void
test_good_fixtures(void **state)
{
	const char *dirs[][2] = {
		{ "tests/data/config", "good-" }, { "etc", "" }, { "etc/examples", "" },
	};
	size_t total = 0;

	for (size_t d = 0; d < 3; d++) {
		char **files;
		size_t n = list_files(dirs[d][0], dirs[d][1], ".conf", &files);

		for (size_t i = 0; i < n; i++)
			compile_good(files[i]);
		total += n;
		free_list(files, n);
	}
	/* 6 good fixtures, etc/chokepoint.conf, 2 examples */
	assert_true(total >= 9);
}

static void
test_demo_config(void **state)
{
	struct cp_policy *p;
	struct cpm_policy *cp;
	const struct cpm_settings *st;
	char err[ERRLEN];
	const char *ids[] = { "imds", "dns", "icmp", "llm", "webhooks", "docs" };

	assert_int_equal(cp_policy_compile_file("etc/chokepoint.conf", &p, err, sizeof(err)), 0);
	assert_int_equal(p->n_rules, 6);
	assert_int_equal(p->mode, CPM_MODE_ENFORCE);
	assert_string_equal(p->audit_path, "/tmp/chokepoint-demo/audit.jsonl");
	assert_null(p->audit_signing_key);
	assert_int_equal(p->audit_fsync, CP_FSYNC_BATCH);
	assert_int_equal(p->checkpoint_records, 1000);
	assert_int_equal(p->checkpoint_seconds, 60);
	assert_int_equal(cpm_policy_load(p->blob, p->blob_len, &cp, err, sizeof(err)), 0);
	for (int i = 0; i < 6; i++)
		assert_string_equal(cpm_rule_id(cp, i), ids[i]);
	assert_null(cpm_rule_id(cp, 6));
	assert_null(cpm_rule_id(cp, -1));
	st = cpm_settings(cp);
	/* every default of docs/configuration.md */
	assert_int_equal(st->mode, CPM_MODE_ENFORCE);
	assert_int_equal(st->default_action, CPM_DENY);
	assert_int_equal(st->inbound_action, CPM_DENY);
	assert_int_equal(st->quic_action, CPM_DENY);
	assert_int_equal(st->table_full_action, CPM_DENY);
	assert_int_equal(st->midstream_action, CPM_DENY);
	assert_int_equal(st->hold_timeout_ms, 5000);
	assert_int_equal(st->hold_max_bytes, 16384);
	assert_int_equal(st->hold_max_segments, 16);
	assert_int_equal(st->tcp_established_ms, 350000);
	assert_int_equal(st->tcp_halfopen_ms, 20000);
	assert_int_equal(st->tcp_closed_ms, 10000);
	assert_int_equal(st->udp_ms, 60000);
	assert_int_equal(st->other_ms, 30000);
	{
		/* dp_anomaly order: no_sni ip_literal_sni multiple_sni malformed oversize
		 * record_fragmented ooo overlap non_tls non_http unknown reassembly_timeout
		 * hold_memory_full tiny_segments ip_fragment ipv6_ext_chain ech invalid_name
		 * multiple_host host_mismatch quic_undecryptable quic_unknown_version
		 * quic_malformed http_smuggling sni_changed geneve_tlv_missing (GENEVE mode:
		 * dropped whatever its action) sni_dst_mismatch dot doh */
		const uint8_t want[29] = { CPM_ALLOW, CPM_ALLOW, CPM_DENY, CPM_DENY, CPM_DENY,
					   CPM_ALLOW, CPM_ALLOW, CPM_DENY, CPM_ALLOW, CPM_ALLOW,
					   CPM_ALLOW, CPM_DENY, CPM_DENY, CPM_DENY, CPM_DENY,
					   CPM_DENY, CPM_ALLOW, CPM_DENY, CPM_DENY, CPM_DENY,
					   CPM_DENY, CPM_DENY, CPM_DENY, CPM_DENY, CPM_DENY,
					   CPM_ALLOW, CPM_DENY, CPM_DENY, CPM_DENY };

		for (int i = 0; i < 29; i++)
			assert_int_equal(st->anomaly_action[i], want[i]);
		/* dns = { } defaults */
		assert_int_equal(st->dns_grace_s, 300);
		assert_int_equal(st->dns_max_entries, 65536);
		for (int i = 29; i < 32; i++)
			assert_int_equal(st->anomaly_action[i], 0);
	}
	cpm_policy_free(cp);
	cp_policy_free(p);
}

static void
test_every_setting(void **state)
{
	struct cp_policy *p;
	struct cpm_policy *cp;
	const struct cpm_settings *st;
	char err[ERRLEN];

	assert_int_equal(cp_policy_compile_file("tests/data/config/good-l34.conf", &p, err,
						sizeof(err)), 0);
	assert_string_equal(p->audit_path, "relative/audit.jsonl");
	assert_string_equal(p->audit_signing_key, "/etc/chokepoint/audit.key");
	assert_int_equal(p->checkpoint_records, 0);
	assert_int_equal(p->checkpoint_seconds, 0);
	assert_int_equal(p->audit_fsync, CP_FSYNC_ALWAYS);
	assert_int_equal(cpm_policy_load(p->blob, p->blob_len, &cp, err, sizeof(err)), 0);
	st = cpm_settings(cp);
	assert_int_equal(st->inbound_action, CPM_ALLOW);
	assert_int_equal(st->quic_action, CPM_ALLOW);
	assert_int_equal(st->table_full_action, CPM_ALLOW);
	assert_int_equal(st->midstream_action, CPM_ALLOW);
	assert_int_equal(st->revalidate, 1);
	assert_int_equal(st->hold_timeout_ms, 3000);
	assert_int_equal(st->hold_max_bytes, 8192);
	assert_int_equal(st->hold_max_segments, 8);
	assert_int_equal(st->tcp_established_ms, 7200000);
	assert_int_equal(st->tcp_halfopen_ms, 30000);
	assert_int_equal(st->tcp_closed_ms, 5000);
	assert_int_equal(st->udp_ms, 120000);
	assert_int_equal(st->other_ms, 10000);
	assert_int_equal(st->anomaly_action[0], CPM_DENY);   /* no_sni */
	assert_int_equal(st->anomaly_action[6], CPM_DENY);   /* ooo_first_segment */
	assert_int_equal(st->anomaly_action[7], CPM_ALLOW);  /* overlap_conflict */
	assert_int_equal(st->anomaly_action[2], CPM_DENY);   /* multiple_sni: untouched default */
	assert_true(cpm_is_ech_public_name(cp, "cloudflare-ech.com", 18));
	assert_true(cpm_is_ech_public_name(cp, "PUBLIC.example.net.", 19));
	assert_false(cpm_is_ech_public_name(cp, "x.cloudflare-ech.com", 20));
	assert_false(cpm_is_ech_public_name(cp, "api.openai.com", 14));
	cpm_policy_free(cp);
	cp_policy_free(p);

	assert_int_equal(cp_policy_compile_file("tests/data/config/good-empty-rules.conf", &p, err,
						sizeof(err)), 0);
	assert_int_equal(p->mode, CPM_MODE_MONITOR);
	assert_int_equal(p->n_rules, 0);
	assert_string_equal(p->audit_path, "/var/log/chokepoint/audit.jsonl");
	/* dns defaults: no out-of-band resolution, HTTPS/SVCB answers lose their ech */
	assert_null(p->dns.resolver);
	assert_int_equal(p->dns.interval_s, CP_DNS_RESOLVE_INTERVAL);
	assert_int_equal(p->dns.max_names, CP_DNS_RESOLVE_MAX_NAMES);
	assert_int_equal(cpm_policy_load(p->blob, p->blob_len, &cp, err, sizeof(err)), 0);
	assert_int_equal(cpm_settings(cp)->dns_https_rr, CPM_HTTPS_RR_STRIP_ECH);
	cpm_policy_free(cp);
	cp_policy_free(p);

	assert_int_equal(cp_policy_compile_file("tests/data/config/good-dns.conf", &p, err,
						sizeof(err)), 0);
	assert_string_equal(p->dns.resolver, "[fd00::53]:5353");
	assert_int_equal(p->dns.interval_s, 30);
	assert_int_equal(p->dns.timeout_ms, 500);
	assert_int_equal(p->dns.retries, 0);
	assert_int_equal(p->dns.max_names, 10);
	assert_int_equal(p->dns.n_names, 0);     /* no bind = "dns" rule */
	assert_int_equal(cpm_policy_load(p->blob, p->blob_len, &cp, err, sizeof(err)), 0);
	assert_int_equal(cpm_settings(cp)->dns_https_rr, CPM_HTTPS_RR_REFUSE);
	cpm_policy_free(cp);
	cp_policy_free(p);
}

/* good-bind.conf: bind per rule, dns = { grace; max_entries; }, a DoH list file */
static void
test_bind_config(void **state)
{
	const struct cpm_settings *st;
	struct cpm_policy *cp;
	struct cp_policy *p;
	char err[ERRLEN];
	const uint8_t want_bind[] = { CPM_BIND_NONE, CPM_BIND_DNS, CPM_BIND_PINNED,
				      CPM_BIND_PINNED, CPM_BIND_NONE };

	assert_int_equal(cp_policy_compile_file("tests/data/config/good-bind.conf", &p, err,
						sizeof(err)), 0);
	/* the out-of-band resolver's names: the exact names of bind = "dns" rules, once each */
	assert_int_equal(p->dns.n_names, 1);
	assert_string_equal(p->dns.names[0], "api.openai.com");
	/* the DoH list file is in the manifest (the policy hash covers it) */
	assert_non_null(strstr(cp_policy_manifest(p), "lists/doh-names.txt"));
	assert_int_equal(cpm_policy_load(p->blob, p->blob_len, &cp, err, sizeof(err)), 0);
	st = cpm_settings(cp);
	assert_int_equal(st->dns_grace_s, 60);
	assert_int_equal(st->dns_max_entries, 4096);
	assert_int_equal(st->anomaly_action[DP_AN_SNI_DST_MISMATCH], CPM_DENY);
	assert_int_equal(st->anomaly_action[DP_AN_DOT], CPM_ALLOW);
	assert_int_equal(st->anomaly_action[DP_AN_DOH], CPM_DENY);
	assert_int_equal(cpm_rule_count(cp), 5);
	for (int32_t r = 0; r < 5; r++)
		assert_int_equal(cpm_rule_bind(cp, r), want_bind[r]);
	assert_int_equal(cpm_is_doh_name(cp, "dns.example", 11), 1);
	assert_int_equal(cpm_is_doh_name(cp, "doh.example", 11), 1);
	assert_int_equal(cpm_is_doh_name(cp, "a.doh.example", 13), 1);
	assert_int_equal(cpm_is_doh_name(cp, "resolver.example", 16), 0);
	assert_int_equal(cpm_is_doh_name(cp, "x.resolver.example", 18), 1);
	assert_int_equal(cpm_is_doh_name(cp, "dns.google", 10), 0);
	cpm_policy_free(cp);
	cp_policy_free(p);
}

static void
test_file_errors(void **state)
{
	struct cp_policy *p = (struct cp_policy *)0x1;
	char err[ERRLEN], small[24];

	assert_int_equal(cp_policy_compile_file("tests/data/config/no-such.conf", &p, err,
						sizeof(err)), -ENOENT);
	assert_null(p);
	assert_string_equal(err, "tests/data/config/no-such.conf:0: (file): cannot read: "
			    "No such file or directory\n");
	assert_int_equal(cp_policy_compile_file("tests/data/config", &p, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "tests/data/config:0: (file): not a regular file\n");
	/* a short error buffer is cut, NUL-terminated, never overrun (ASan) */
	memset(small, 'x', sizeof(small));
	assert_int_equal(cp_policy_compile_file("tests/data/config/bad-multi.conf", &p, small,
						sizeof(small)), -EINVAL);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(strncmp(small, "tests/data/config/bad-mu", sizeof(small) - 1), 0);
	/* no error buffer at all */
	assert_int_equal(cp_policy_compile_file("tests/data/config/bad-multi.conf", &p, NULL, 0),
			 -EINVAL);
}

static void
test_name_parse(void **state)
{
	char out[300], msg[200];
	uint8_t kind;

	assert_int_equal(cp_name_parse("API.OpenAI.com.", out, sizeof(out), &kind, msg, sizeof(msg)), 0);
	assert_string_equal(out, "api.openai.com");
	assert_int_equal(kind, CP_NAME_EXACT);
	assert_int_equal(cp_name_parse(".Slack.com", out, sizeof(out), &kind, msg, sizeof(msg)), 0);
	assert_string_equal(out, "slack.com");
	assert_int_equal(kind, CP_NAME_SUFFIX);
	assert_int_equal(cp_name_parse("*.example.com.", out, sizeof(out), &kind, msg, sizeof(msg)), 0);
	assert_string_equal(out, "example.com");
	assert_int_equal(kind, CP_NAME_GLOB);
	assert_int_equal(cp_name_parse("_dmarc.x-y.example", out, sizeof(out), &kind, msg, sizeof(msg)), 0);
	/* a 63-byte label and a 253-byte name are the limits */
	{
		char name[260];

		memset(name, 'a', 63);
		strcpy(name + 63, ".com");
		assert_int_equal(cp_name_parse(name, out, sizeof(out), &kind, msg, sizeof(msg)), 0);
		for (int i = 0; i < 4; i++) {
			memset(name + i * 64, 'b', 63);
			name[i * 64 + 63] = '.';
		}
		name[253] = '\0';
		name[252] = 'c';
		assert_int_equal(strlen(name), 253);
		assert_int_equal(cp_name_parse(name, out, sizeof(out), &kind, msg, sizeof(msg)), 0);
		name[253] = 'd';
		name[254] = '\0';
		assert_int_equal(cp_name_parse(name, out, sizeof(out), &kind, msg, sizeof(msg)), -EINVAL);
		assert_string_equal(msg, "longer than 253 bytes");
	}
	assert_int_equal(cp_name_parse("*", out, sizeof(out), &kind, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(cp_name_parse(".", out, sizeof(out), &kind, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(cp_name_parse("*.", out, sizeof(out), &kind, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(cp_name_parse("a.b..", out, sizeof(out), &kind, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(cp_name_parse("..a", out, sizeof(out), &kind, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(cp_name_parse("*.*.a", out, sizeof(out), &kind, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(cp_name_parse("b\xc3\xa4r.de", out, sizeof(out), &kind, msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "byte 0xc3 not allowed (a-z 0-9 - _ .)");
}

static void
test_memfd(void **state)
{
	struct cp_policy *p;
	char err[ERRLEN];
	uint8_t *map;
	int fd, seals;

	assert_int_equal(cp_policy_compile_file("etc/chokepoint.conf", &p, err, sizeof(err)), 0);
	fd = cp_policy_memfd(p);
	assert_true(fd >= 0);
	seals = fcntl(fd, F_GET_SEALS);
	assert_int_equal(seals, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	assert_int_equal(lseek(fd, 0, SEEK_END), (off_t)p->blob_len);
	map = mmap(NULL, p->blob_len, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(map != MAP_FAILED);
	assert_memory_equal(map, p->blob, p->blob_len);
	munmap(map, p->blob_len);
	/* sealed: neither writable nor resizable, nor mappable for writing */
	assert_int_equal(pwrite(fd, "x", 1, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(fd, 1), -1);
	assert_true(mmap(NULL, p->blob_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, 0), -1);
	close(fd);
	cp_policy_free(p);
}

/* ---- list files ----------------------------------------------------------------- */

/* The deciding rule's id (or "default") of a TCP flow with a name. */
static const char *
decide(const struct cpm_policy *p, const char *src, const char *dst, uint16_t dport,
       enum cpm_field field, const char *name)
{
	struct cpm_scratch *s = cpm_scratch_alloc(p);
	struct cpm_query q = { .l4proto = 6, .sport = 40000, .dport = dport, .field = field,
			       .name = name, .name_len = name != NULL ? strlen(name) : 0 };
	struct cpm_verdict v;
	const char *id;

	assert_non_null(s);
	q.family = strchr(src, ':') != NULL ? 6 : 4;
	assert_int_equal(inet_pton(q.family == 4 ? AF_INET : AF_INET6, src, q.src), 1);
	assert_int_equal(inet_pton(q.family == 4 ? AF_INET : AF_INET6, dst, q.dst), 1);
	assert_int_equal(cpm_match(p, s, &q, &v), 0);
	cpm_scratch_free(s);
	id = v.rule >= 0 ? cpm_rule_id(p, v.rule) : "default";
	return id;
}

static void
test_list_files(void **state)
{
	const char *path = "tests/data/config/good-lists.conf";
	struct cp_policy *p;
	struct cpm_policy *cp;
	char err[ERRLEN];

	assert_int_equal(cp_policy_compile_file(path, &p, err, sizeof(err)), 0);
	/* each distinct file once, in order of first use */
	assert_int_equal(p->n_files, 7);
	assert_non_null(strstr(cp_policy_manifest(p), "  lists/dst-a.txt\n"));
	assert_non_null(strstr(cp_policy_manifest(p), "  lists/empty.txt\n"));
	assert_null(strstr(cp_policy_manifest(p), "tests/data/config/lists"));
	assert_int_equal(cpm_policy_load(p->blob, p->blob_len, &cp, err, sizeof(err)), 0);
	/* sni_file entries, with comments, blanks, CRLF, a trailing dot and no last newline */
	assert_string_equal(decide(cp, "10.77.1.5", "192.0.2.1", 443, CPM_FIELD_SNI, "api.openai.com"), "llm");
	assert_string_equal(decide(cp, "10.77.1.5", "192.0.2.1", 443, CPM_FIELD_SNI, "anthropic.com"), "llm");
	assert_string_equal(decide(cp, "10.77.1.5", "192.0.2.1", 443, CPM_FIELD_SNI, "x.anthropic.com"), "llm");
	assert_string_equal(decide(cp, "10.77.1.5", "192.0.2.1", 443, CPM_FIELD_SNI, "a.example.net"), "llm");
	assert_string_equal(decide(cp, "10.77.1.5", "192.0.2.1", 443, CPM_FIELD_SNI, "example.net"), "default");
	assert_string_equal(decide(cp, "10.77.1.5", "192.0.2.1", 443, CPM_FIELD_SNI, "api.example.org"), "llm");
	assert_string_equal(decide(cp, "10.77.1.5", "192.0.2.1", 443, CPM_FIELD_SNI, "last.example.com"), "llm");
	/* the inline sni list adds to the file's */
	assert_string_equal(decide(cp, "10.77.1.5", "192.0.2.1", 443, CPM_FIELD_SNI, "inline.example.com"), "llm");
	/* comments are not entries */
	assert_string_equal(decide(cp, "10.77.1.5", "192.0.2.1", 443, CPM_FIELD_SNI, "a"), "default");
	/* src_file: v4 and v6 */
	assert_string_equal(decide(cp, "10.77.1.200", "192.0.2.1", 443, CPM_FIELD_SNI, "api.openai.com"), "default");
	assert_string_equal(decide(cp, "fd77:1::9", "2001:db9::1", 443, CPM_FIELD_SNI, "api.openai.com"), "llm");
	/* dst_file list: both files */
	assert_string_equal(decide(cp, "10.77.1.5", "203.0.113.9", 443, CPM_FIELD_SNI, "api.openai.com"), "block");
	assert_string_equal(decide(cp, "10.77.1.5", "198.51.100.7", 443, CPM_FIELD_SNI, "api.openai.com"), "block");
	assert_string_equal(decide(cp, "fd77:1::9", "2001:db8::1", 443, CPM_FIELD_SNI, "api.openai.com"), "block");
	/* host_file, used by two rules */
	assert_string_equal(decide(cp, "10.77.1.5", "192.0.2.1", 80, CPM_FIELD_HOST, "docs.example.com"), "docs");
	/* an empty list file is a condition that holds for nothing, never "anything" */
	assert_string_equal(decide(cp, "10.77.1.5", "192.0.2.1", 443, CPM_FIELD_SNI, "random.example"), "default");
	assert_string_equal(decide(cp, "10.77.1.5", "192.0.2.1", 443, CPM_FIELD_NONE, NULL), "default");
	cpm_policy_free(cp);
	cp_policy_free(p);
}

static void
write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

/* Relative list paths resolve against the config's directory, whatever the
 * working directory; the hash follows every byte of every list file. */
static void
test_list_relative_and_hash(void **state)
{
	char dir[] = "/tmp/chokepoint-test-lists-XXXXXX", conf[256], list[256], sub[256];
	char err[ERRLEN], cwd[4096];
	struct cp_policy *a, *b, *c, *d, *e = (struct cp_policy *)0x1;
	struct cpm_policy *cp;

	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/lists", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(conf, sizeof(conf), "%s/policy.conf", dir);
	snprintf(list, sizeof(list), "%s/lists/allow.txt", dir);
	write_text(conf, "default = \"deny\";\n"
			 "rules = ( { id = \"l\"; action = \"allow\"; sni_file = \"lists/allow.txt\"; } );\n");
	write_text(list, "one.example.com\n");
	/* from another working directory, by absolute path */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir("/"), 0);
	assert_int_equal(cp_policy_compile_file(conf, &a, err, sizeof(err)), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(a->n_files, 1);
	check_manifest(a, conf);
	assert_int_equal(cpm_policy_load(a->blob, a->blob_len, &cp, err, sizeof(err)), 0);
	assert_string_equal(decide(cp, "10.0.0.1", "192.0.2.1", 443, CPM_FIELD_SNI, "one.example.com"), "l");
	cpm_policy_free(cp);
	/* one more line: another hash; the same bytes again: the first hash */
	write_text(list, "one.example.com\ntwo.example.com\n");
	assert_int_equal(cp_policy_compile_file(conf, &b, err, sizeof(err)), 0);
	check_manifest(b, conf);
	assert_memory_not_equal(a->sha256, b->sha256, 32);
	assert_int_equal(cpm_policy_load(b->blob, b->blob_len, &cp, err, sizeof(err)), 0);
	assert_string_equal(decide(cp, "10.0.0.1", "192.0.2.1", 443, CPM_FIELD_SNI, "two.example.com"), "l");
	cpm_policy_free(cp);
	write_text(list, "one.example.com\n");
	assert_int_equal(cp_policy_compile_file(conf, &c, err, sizeof(err)), 0);
	assert_memory_equal(a->sha256, c->sha256, 32);
	/* a comment is a byte of the file like any other: it changes the hash, not the rules */
	write_text(list, "one.example.com # hi\n");
	assert_int_equal(cp_policy_compile_file(conf, &d, err, sizeof(err)), 0);
	assert_memory_not_equal(a->sha256, d->sha256, 32);
	/* a bad line names the list file by its resolved path */
	write_text(list, "one.example.com\n\nbad_.example..com\n");
	assert_int_equal(cp_policy_compile_file(conf, &e, err, sizeof(err)), -EINVAL);
	assert_null(e);
	{
		char want[600];

		snprintf(want, sizeof(want),
			 "%s:3: rules.[0].sni_file: invalid name \"bad_.example..com\": empty label\n", list);
		assert_string_equal(err, want);
	}
	cp_policy_free(a);
	cp_policy_free(b);
	cp_policy_free(c);
	cp_policy_free(d);
	unlink(list);
	rmdir(sub);
	unlink(conf);
	rmdir(dir);
}

/* A list file full of garbage: the first 100 errors, then one line for the rest. */
static void
test_list_error_cap(void **state)
{
	char dir[] = "/tmp/chokepoint-test-lists-XXXXXX", conf[256], list[256];
	char *err = malloc(1 << 20), *text = malloc(200 * 32), *line;
	struct cp_policy *p = NULL;
	size_t len = 0;
	unsigned int lines = 0;

	assert_non_null(err);
	assert_non_null(text);
	assert_non_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/p.conf", dir);
	snprintf(list, sizeof(list), "%s/bad.txt", dir);
	for (int i = 0; i < 150; i++)
		len += (size_t)snprintf(text + len, 32, "good%d.example\nbad%d..x\n", i, i);
	write_text(list, text);
	write_text(conf, "default = \"deny\";\n"
			 "rules = ( { id = \"l\"; action = \"allow\"; host_file = \"bad.txt\"; } );\n");
	assert_int_equal(cp_policy_compile_file(conf, &p, err, 1 << 20), -EINVAL);
	assert_null(p);
	for (line = err; (line = strchr(line, '\n')) != NULL; line++)
		lines++;
	assert_int_equal(lines, 101);
	snprintf(text, 200 * 32, "%s:200: rules.[0].host_file: invalid name \"bad99..x\": empty label\n"
		 "%s:0: rules.[0].host_file: 50 more invalid lines not shown\n", list, list);
	assert_non_null(strstr(err, text));
	unlink(list);
	unlink(conf);
	rmdir(dir);
	free(text);
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_fixtures),
		cmocka_unit_test(test_good_fixtures),
		cmocka_unit_test(test_demo_config),
		cmocka_unit_test(test_every_setting),
		cmocka_unit_test(test_bind_config),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_name_parse),
		cmocka_unit_test(test_memfd),
		cmocka_unit_test(test_list_files),
		cmocka_unit_test(test_list_relative_and_hash),
		cmocka_unit_test(test_list_error_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
