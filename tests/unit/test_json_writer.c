// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "json_writer.h"

static void nesting_and_commas(void **state)
{
	struct json j;

	json__init(&j);
	json__begin_object(&j);
	json__kv_string(&j, "a", "x");
	json__key(&j, "b");
	json__begin_array(&j);
	json__uint(&j, 1);
	json__int(&j, -2);
	json__begin_object(&j);
	json__end_object(&j);
	json__end_array(&j);
	json__kv_bool(&j, "c", false);
	json__kv_null(&j, "d");
	json__kv_uint(&j, "e", UINT64_MAX);
	json__end_object(&j);
	assert_string_equal(json__str(&j),
			    "{\"a\":\"x\",\"b\":[1,-2,{}],\"c\":false,\"d\":null,"
			    "\"e\":18446744073709551615}");
	json__free(&j);
}

static void escaping(void **state)
{
	struct json j;

	json__init(&j);
	json__string(&j, "q\"b\\n\n\t\x01\x7f\xc3\xa9");
	assert_string_equal(json__str(&j), "\"q\\\"b\\\\n\\n\\t\\u0001\\u007f\xc3\xa9\"");
	json__reset(&j);
	json__string_n(&j, "ab\0cd", 5);
	assert_string_equal(json__str(&j), "\"ab\\u0000cd\"");
	json__free(&j);
}

/* Bytes that are not UTF-8 come out as \u00XX of the byte; valid
 * sequences, up to four bytes, pass through untouched. */
static void invalid_utf8_escaped(void **state)
{
	static const char in[] = "a\xff\xc3\xa9\xc3(\xe2\x82\xac\xed\xa0\x80\xf0\x9f\x98\x80"
				 "\xc0\xaf\xf4\x90\x80\x80\xe2\x82";
	json_error_t err;
	json_t *v;
	struct json j;

	json__init(&j);
	json__string_n(&j, in, sizeof(in) - 1);
	assert_string_equal(json__str(&j),
			    "\"a\\u00ff\xc3\xa9\\u00c3(\xe2\x82\xac\\u00ed\\u00a0\\u0080"
			    "\xf0\x9f\x98\x80\\u00c0\\u00af\\u00f4\\u0090\\u0080\\u0080"
			    "\\u00e2\\u0082\"");
	v = json_loads(json__str(&j), JSON_DECODE_ANY, &err);
	assert_non_null(v);
	json_decref(v);
	json__free(&j);
}

static void write_line_resets(void **state)
{
	struct json j;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	json__init(&j);
	json__begin_object(&j);
	json__kv_uint(&j, "n", 1);
	json__end_object(&j);
	assert_int_equal(json__write_line(&j, f), 0);
	json__begin_object(&j);
	json__end_object(&j);
	assert_int_equal(json__write_line(&j, f), 0);
	fclose(f);
	assert_string_equal(buf, "{\"n\":1}\n{}\n");
	free(buf);
	json__free(&j);
}

static void grows_past_initial_buffer(void **state)
{
	struct json j;
	char big[5000];

	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	json__init(&j);
	json__string(&j, big);
	assert_int_equal(strlen(json__str(&j)), sizeof(big) - 1 + 2);
	json__free(&j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nesting_and_commas),
		cmocka_unit_test(escaping),
		cmocka_unit_test(invalid_utf8_escaped),
		cmocka_unit_test(write_line_resets),
		cmocka_unit_test(grows_past_initial_buffer),
	};

	return cmocka_run_group_tests_name("json_writer", tests, NULL, NULL);
}
