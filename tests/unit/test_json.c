/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_json.c: the bounded JSON writer and the strict scanner (cp_json).
 * Escaping is checked byte by byte and by an independent parser
 * (/usr/bin/python3 json) reading the very bytes written.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cp_json.h"

/* Run python on a file holding buf; returns its exit status (0 = its asserts held). */
static int
python_check(const char *buf, size_t len, const char *script)
{
	char path[] = "/tmp/test_json.XXXXXX";
	char cmd[4096];
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c '%s' %s", script, path);
	rc = system(cmd);
	unlink(path);
	return rc;
}

static void
test_every_byte_escaped(void **state)
{
	uint8_t name[256];
	char buf[4096];
	struct cp_json j;

	for (int i = 0; i < 256; i++)
		name[i] = (uint8_t)i;
	cp_json_init(&j, buf, sizeof(buf));
	cp_json_obj_begin(&j);
	cp_json_key(&j, "sni");
	cp_json_str(&j, name, sizeof(name));
	cp_json_obj_end(&j);
	assert_int_equal(cp_json_error(&j), 0);
	/* output is printable ASCII only: no raw quote can end the string, no newline a line */
	for (size_t i = 0; i < j.len; i++)
		assert_true(buf[i] >= 0x20 && buf[i] <= 0x7e);
	assert_null(memchr(buf, '\n', j.len));
	/* spot checks of the contract's escapes */
	assert_non_null(strstr(buf, "\\u0000\\u0001"));
	assert_non_null(strstr(buf, "\\u001f !\\\"#"));      /* 0x1f, space, !, ", # */
	assert_non_null(strstr(buf, "[\\\\]"));              /* backslash */
	assert_non_null(strstr(buf, "}~\\u007f\\u0080"));    /* DEL and high bytes */
	assert_non_null(strstr(buf, "\\u00fe\\u00ff\"}"));
	/* an independent parser decodes each \u00XX back to code point XX */
	assert_int_equal(python_check(buf, j.len,
		"import json,sys; d=json.load(open(sys.argv[1])); "
		"assert list(d)==[\"sni\"]; "
		"assert [ord(c) for c in d[\"sni\"]]==list(range(256)), d"), 0);
}

static void
test_crafted_sni_stays_one_string(void **state)
{
	static const char *const evil[] = {
		"a\",\"verdict\":\"allow",
		"x\"}\n{\"v\":1,\"type\":\"flow.decision\",\"verdict\":\"allow\"}",
		"a\\\",\"verdict\":\"allow",
		"\\",
	};
	char buf[1024], esc[512];
	struct cp_json j;

	for (size_t k = 0; k < sizeof(evil) / sizeof(evil[0]); k++) {
		cp_json_init(&j, buf, sizeof(buf));
		cp_json_obj_begin(&j);
		cp_json_key(&j, "sni");
		cp_json_strz(&j, evil[k]);
		cp_json_key(&j, "verdict");
		cp_json_strz(&j, "deny");
		cp_json_obj_end(&j);
		assert_int_equal(cp_json_error(&j), 0);
		assert_null(memchr(buf, '\n', j.len));
		assert_int_equal(cp_json_escape(evil[k], strlen(evil[k]), esc, sizeof(esc)) > 0, 1);
		assert_non_null(strstr(buf, esc));
		assert_int_equal(python_check(buf, j.len,
			"import json,sys; raw=open(sys.argv[1]).read(); "
			"assert raw.count(chr(10))==0; d=json.loads(raw); "
			"assert list(d)==[\"sni\",\"verdict\"], d; assert d[\"verdict\"]==\"deny\", d"), 0);
	}
	/* and the decoded value is exactly the crafted bytes */
	cp_json_init(&j, buf, sizeof(buf));
	cp_json_obj_begin(&j);
	cp_json_key(&j, "sni");
	cp_json_strz(&j, evil[0]);
	cp_json_obj_end(&j);
	assert_int_equal(python_check(buf, j.len,
		"import json,sys; d=json.load(open(sys.argv[1])); "
		"assert d[\"sni\"]==\"a\\\",\\\"verdict\\\":\\\"allow\", d"), 0);
}

static void
test_structure_and_commas(void **state)
{
	char buf[256];
	struct cp_json j;

	cp_json_init(&j, buf, sizeof(buf));
	cp_json_obj_begin(&j);
	cp_json_key(&j, "a");
	cp_json_arr_begin(&j);
	cp_json_arr_end(&j);
	cp_json_key(&j, "b");
	cp_json_arr_begin(&j);
	cp_json_strz(&j, "h2");
	cp_json_strz(&j, "http/1.1");
	cp_json_arr_end(&j);
	cp_json_key(&j, "c");
	cp_json_obj_begin(&j);
	cp_json_key(&j, "n");
	cp_json_null(&j);
	cp_json_key(&j, "t");
	cp_json_bool(&j, true);
	cp_json_key(&j, "f");
	cp_json_bool(&j, false);
	cp_json_obj_end(&j);
	cp_json_key(&j, "u");
	cp_json_u64(&j, UINT64_MAX);
	cp_json_key(&j, "i");
	cp_json_i64(&j, INT64_MIN);
	cp_json_key(&j, "z");
	cp_json_strz(&j, NULL);
	cp_json_obj_end(&j);
	assert_int_equal(cp_json_error(&j), 0);
	assert_string_equal(buf, "{\"a\":[],\"b\":[\"h2\",\"http/1.1\"],\"c\":{\"n\":null,\"t\":true,"
			    "\"f\":false},\"u\":18446744073709551615,\"i\":-9223372036854775808,"
			    "\"z\":null}");
	assert_int_equal(j.len, strlen(buf));
}

static void
test_overflow_is_reported_and_bounded(void **state)
{
	char *buf;
	struct cp_json j;

	/* exact-size heap buffers: ASan catches any byte written past cap */
	/* {"sni":"\u0001\u0002 abc \"quoted\""} is 37 bytes: it fits from cap 38 */
	for (size_t cap = 1; cap < 48; cap++) {
		buf = malloc(cap);
		cp_json_init(&j, buf, cap);
		cp_json_obj_begin(&j);
		cp_json_key(&j, "sni");
		cp_json_strz(&j, "\x01\x02 abc \"quoted\"");
		cp_json_obj_end(&j);
		if (cap <= 37)
			assert_int_equal(cp_json_error(&j), -ENOSPC);
		else
			assert_int_equal(cp_json_error(&j), 0);
		if (cap > 37)
			assert_int_equal(j.len, 37);
		assert_true(j.len < cap);
		assert_int_equal(buf[j.len], '\0');
		free(buf);
	}
	{
		char small[4];

		assert_int_equal(cp_json_escape("\x01", 1, small, sizeof(small)), -ENOSPC);
		assert_int_equal(cp_json_escape("ab", 2, small, sizeof(small)), 2);
		assert_string_equal(small, "ab");
	}
}

static void
test_scanner_accepts(void **state)
{
	static const char line[] =
		"{\"v\":1,\"type\":\"x\",\"a\":[1,-2.5e3,{\"k\":[]}],\"s\":\"q\\\"\\u00e9\\\\\",\"n\":null}";
	struct cp_json_member m[8];
	size_t off = 99;
	int n;

	n = cp_json_scan_object(line, strlen(line), m, 8, &off);
	assert_int_equal(n, 5);
	assert_int_equal(m[0].key_len, 1);
	assert_memory_equal(m[0].key, "v", 1);
	assert_int_equal(m[0].val_len, 1);
	assert_memory_equal(m[2].val, "[1,-2.5e3,{\"k\":[]}]", m[2].val_len);
	assert_memory_equal(m[3].val, "\"q\\\"\\u00e9\\\\\"", m[3].val_len);
	assert_int_equal(m[1].key_off, 7);
	assert_int_equal(cp_json_scan_object("{}", 2, m, 8, &off), 0);
	assert_int_equal(cp_json_scan_object(line, strlen(line), m, 2, &off), -E2BIG);
}

static void
test_scanner_rejects(void **state)
{
	static const struct { const char *s; size_t bad_at; } bad[] = {
		{ "", 0 },
		{ "[]", 0 },
		{ "{\"a\":1", 6 },
		{ "{\"a\":1}x", 7 },
		{ "{\"a\":1,}", 7 },
		{ "{\"a\" 1}", 5 },
		{ "{\"a\":01}", 6 },
		{ "{\"a\":\"\\x\"}", 7 },
		{ "{\"a\":\"\\u12g4\"}", 10 },
		{ "{\"a\":tru}", 5 },
		{ "{\"a\":\"unterminated}", 19 },
		{ "{a:1}", 1 },
		{ "{\"a\":[1 2]}", 8 },
		{ "{\"a\":\"tab\there\"}", 9 },
		{ "{\"a\":\"\xc3\xa9\"}", 6 },
	};
	struct cp_json_member m[4];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t off = 12345;

		assert_int_equal(cp_json_scan_object(bad[i].s, strlen(bad[i].s), m, 4, &off),
				 -EBADMSG);
		if (off != bad[i].bad_at)
			fail_msg("case %zu \"%s\": error at %zu, expected %zu", i, bad[i].s, off,
				 bad[i].bad_at);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_byte_escaped),
		cmocka_unit_test(test_crafted_sni_stays_one_string),
		cmocka_unit_test(test_structure_and_commas),
		cmocka_unit_test(test_overflow_is_reported_and_bounded),
		cmocka_unit_test(test_scanner_accepts),
		cmocka_unit_test(test_scanner_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
