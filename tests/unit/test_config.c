/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_config.c: the policy file -> blob compiler (ctrlplane/policy).
 *
 * Every tests/data/config/bad-*.conf carries its exact expected error lines
 * in leading "# expect: " comments; the compiler must print exactly those,
 * in that order, and nothing else. Every good-*.conf and every shipped
 * example in etc/ must compile, and the policy hash must be sha256sum of the
 * file. Runs from the source root (meson test workdir).
 */
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
#include <unistd.h>

#include <cmocka.h>

#include "cp_config.h"
#include "cp_policy.h"
#include "cpm.h"

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

static void
compile_good(const char *path)
{
	struct cp_policy *p = NULL;
	struct cpm_policy *cp = NULL;
	char err[ERRLEN], lerr[256];
	uint8_t want[32];
	int rc;

	rc = cp_policy_compile_file(path, &p, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s: rc %d:\n%s", path, rc, err);
	assert_string_equal(err, "");
	assert_non_null(p->blob);
	assert_string_equal(p->path, path);
	sha256sum(path, want);
	assert_memory_equal(p->sha256, want, 32);
	/* the blob carries the same hash, and the matcher accepts it */
	assert_int_equal(cpm_policy_load(p->blob, p->blob_len, &cp, lerr, sizeof(lerr)), 0);
	assert_memory_equal(cpm_policy_sha256(cp), want, 32);
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
	/* 5 good fixtures, etc/chokepoint.conf, 2 examples */
	assert_true(total >= 8);
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
		 * multiple_host host_mismatch */
		const uint8_t want[20] = { CPM_ALLOW, CPM_ALLOW, CPM_DENY, CPM_DENY, CPM_DENY,
					   CPM_ALLOW, CPM_ALLOW, CPM_DENY, CPM_ALLOW, CPM_ALLOW,
					   CPM_ALLOW, CPM_DENY, CPM_DENY, CPM_DENY, CPM_DENY,
					   CPM_DENY, CPM_ALLOW, CPM_DENY, CPM_DENY, CPM_DENY };

		for (int i = 0; i < 20; i++)
			assert_int_equal(st->anomaly_action[i], want[i]);
		for (int i = 20; i < 32; i++)
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_fixtures),
		cmocka_unit_test(test_good_fixtures),
		cmocka_unit_test(test_demo_config),
		cmocka_unit_test(test_every_setting),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_name_parse),
		cmocka_unit_test(test_memfd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
