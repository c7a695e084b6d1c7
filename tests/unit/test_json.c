/* test_json.c -- the JSON writer: structure, commas, string escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "proto/json.h"

static void expect(clusterc__json *j, const char *want)
{
    char *s = clusterc__json_finish(j);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

/* One string value, escaped. */
static void str_is(const char *in, size_t len, const char *want)
{
    clusterc__json j;
    clusterc__json_init(&j);
    clusterc__json_strn(&j, in, len);
    expect(&j, want);
}

static void test_structure(void **state)
{
    (void)state;
    clusterc__json j;
    clusterc__json_init(&j);
    clusterc__json_object(&j);
    clusterc__json_kstr(&j, "a", "x");
    clusterc__json_kint(&j, "b", -5);
    clusterc__json_kbool(&j, "c", 1);
    clusterc__json_key(&j, "d");
    clusterc__json_array(&j);
    clusterc__json_int(&j, 1);
    clusterc__json_array(&j);
    clusterc__json_array_end(&j);
    clusterc__json_object(&j);
    clusterc__json_object_end(&j);
    clusterc__json_null(&j);
    clusterc__json_str(&j, NULL);
    clusterc__json_uint(&j, 18446744073709551615ULL);
    clusterc__json_array_end(&j);
    clusterc__json_key(&j, "e");
    clusterc__json_bool(&j, 0);
    clusterc__json_key(&j, "f");
    clusterc__json_double(&j, 0.5);
    clusterc__json_key(&j, "g");
    clusterc__json_double(&j, 0.0 / 0.0);
    clusterc__json_object_end(&j);
    expect(&j, "{\"a\":\"x\",\"b\":-5,\"c\":true,\"d\":[1,[],{},null,null,"
               "18446744073709551615],\"e\":false,\"f\":0.5,\"g\":null}");
    clusterc__json_init(&j);
    clusterc__json_array(&j);
    clusterc__json_array_end(&j);
    expect(&j, "[]");
}

static void test_escaping(void **state)
{
    (void)state;
    str_is("", 0, "\"\"");
    str_is("plain", 5, "\"plain\"");
    str_is("q\"b\\s/", 6, "\"q\\\"b\\\\s/\"");
    str_is("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
    str_is("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
    str_is("a\0b", 3, "\"a\\u0000b\"");   /* binary-safe with a length */
    /* UTF-8 passes through as it is. */
    str_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
           "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    /* Invalid UTF-8 becomes U+FFFD, one per bad byte. */
    str_is("a\xff" "b", 3, "\"a\\ufffdb\"");
    str_is("\xc3", 1, "\"\\ufffd\"");             /* truncated sequence */
    str_is("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");  /* overlong '/' */
    str_is("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");   /* surrogate */
    str_is("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  /* > U+10FFFF */
    /* Keys are escaped the same way. */
    clusterc__json j;
    clusterc__json_init(&j);
    clusterc__json_object(&j);
    clusterc__json_kstr(&j, "k\"\n", "v");
    clusterc__json_object_end(&j);
    expect(&j, "{\"k\\\"\\n\":\"v\"}");
}

/* A long string grows the buffer many times; every byte survives. */
static void test_growth(void **state)
{
    (void)state;
    size_t n = 100000;
    char *in = malloc(n);
    assert_non_null(in);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)('a' + i % 26);
    clusterc__json j;
    clusterc__json_init(&j);
    clusterc__json_array(&j);
    for (int k = 0; k < 3; k++)
        clusterc__json_strn(&j, in, n);
    clusterc__json_array_end(&j);
    char *s = clusterc__json_finish(&j);
    assert_non_null(s);
    assert_int_equal(strlen(s), 3 * (n + 2) + 2 + 2);
    assert_memory_equal(s + 2, in, n);
    free(s);
    free(in);
}

/* Nesting deeper than the writer tracks fails cleanly (finish gives NULL);
 * free after a partial write releases the buffer. */
static void test_limits(void **state)
{
    (void)state;
    clusterc__json j;
    clusterc__json_init(&j);
    for (int i = 0; i < CLUSTERC__JSON_DEPTH + 2; i++)
        clusterc__json_array(&j);
    assert_null(clusterc__json_finish(&j));
    clusterc__json_init(&j);
    clusterc__json_object(&j);
    clusterc__json_kstr(&j, "a", "b");
    clusterc__json_free(&j);
    clusterc__json_free(&j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
