/* test_remap.c -- the static address map: "announced=dialled,..." parsing
 * and lookup, before the callback. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "proto/remap.h"

static void test_parse_and_apply(void **state)
{
    clusterc__remap *map = NULL;
    size_t n = 0;
    clusterc__addr in, out;
    char err[256];
    (void)state;
    assert_int_equal(clusterc__remap_parse("172.30.0.17:7007=127.0.0.1:7007, "
                                           "[fd00::1]:7001=localhost:17001",
                                           &map, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    snprintf(in.host, sizeof(in.host), "172.30.0.17");
    in.port = 7007;
    clusterc__remap_apply(map, n, NULL, NULL, &in, &out);
    assert_string_equal(out.host, "127.0.0.1");
    assert_int_equal(out.port, 7007);
    snprintf(in.host, sizeof(in.host), "fd00::1");
    in.port = 7001;
    clusterc__remap_apply(map, n, NULL, NULL, &in, &out);
    assert_string_equal(out.host, "localhost");
    assert_int_equal(out.port, 17001);
    in.port = 7002;   /* not in the map: unchanged */
    clusterc__remap_apply(map, n, NULL, NULL, &in, &out);
    assert_string_equal(out.host, "fd00::1");
    assert_int_equal(out.port, 7002);
    free(map);
}

static int callback(const char *host, int port, char *out_host, size_t cap, int *out_port,
                    void *arg)
{
    int *calls = arg;
    (*calls)++;
    if (strcmp(host, "10.0.0.1") != 0)
        return 0;
    snprintf(out_host, cap, "127.0.0.2");
    *out_port = port + 1000;
    return 1;
}

static void test_callback_after_table(void **state)
{
    clusterc__addr in, out;
    int calls = 0;
    (void)state;
    snprintf(in.host, sizeof(in.host), "10.0.0.1");
    in.port = 7000;
    clusterc__remap_apply(NULL, 0, callback, &calls, &in, &out);
    assert_string_equal(out.host, "127.0.0.2");
    assert_int_equal(out.port, 8000);
    snprintf(in.host, sizeof(in.host), "10.0.0.2");
    clusterc__remap_apply(NULL, 0, callback, &calls, &in, &out);
    assert_string_equal(out.host, "10.0.0.2");
    assert_int_equal(calls, 2);
}

static void test_bad_specs(void **state)
{
    const char *bad[] = { "172.30.0.17:7007", "a:1=b", "a:1=b:0", "=b:1", "a:1=:2", "a:x=b:1" };
    char err[256];
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        clusterc__remap *m = NULL;
        size_t n = 0;
        err[0] = '\0';
        assert_int_equal(clusterc__remap_parse(bad[i], &m, &n, err, sizeof(err)), -1);
        assert_null(m);
        assert_true(strlen(err) > 0);
    }
    clusterc__remap *m = NULL;
    size_t n = 9;
    assert_int_equal(clusterc__remap_parse("", &m, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 0);
    assert_int_equal(clusterc__remap_parse(NULL, &m, &n, err, sizeof(err)), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_apply),
        cmocka_unit_test(test_callback_after_table),
        cmocka_unit_test(test_bad_specs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
