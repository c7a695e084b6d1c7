/* test_options.c -- option validation (clusterc__options_check), the TLS
 * options in particular, and the secret wipe. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "proto/options.h"

static clusterc_options base(void)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = "127.0.0.1:7000";
    return o;
}

/* Expect a refusal whose message holds want. */
static void refused(const clusterc_options *o, const char *want)
{
    clusterc__err err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(clusterc__options_check(o, &err), -1);
    assert_int_equal(err.code, CLUSTERC_EINVAL);
    if (!strstr(err.str, want))
        fail_msg("error \"%s\" lacks \"%s\"", err.str, want);
}

static void accepted(const clusterc_options *o)
{
    clusterc__err err;
    memset(&err, 0, sizeof(err));
    if (clusterc__options_check(o, &err) != 0)
        fail_msg("refused: %s", err.str);
}

static void test_tls_defaults(void **state)
{
    (void)state;
    clusterc_options o = base();
    assert_int_equal(o.tls, 0);
    assert_int_equal(o.tls_insecure_skip_verify, 0);   /* verification on by default */
    assert_null(o.tls_ca_file);
    assert_null(o.tls_min_version);
    accepted(&o);
    o.tls = 1;   /* the system trust store, TLS 1.2 or later */
    accepted(&o);
}

static void test_tls_combinations(void **state)
{
    (void)state;
    clusterc_options o = base();
    o.tls_ca_file = "/ca.pem";
    refused(&o, "option tls_ca_file is set but tls is off");
    o = base();
    o.tls_insecure_skip_verify = 1;
    refused(&o, "tls_insecure_skip_verify is set but tls is off");
    o = base();
    o.tls = 2;
    refused(&o, "option tls = 2");
    o = base();
    o.tls = 1;
    o.tls_cert_file = "/c.pem";
    refused(&o, "option tls_cert_file is set without tls_key_file");
    o.tls_cert_file = NULL;
    o.tls_key_file = "/k.pem";
    refused(&o, "option tls_key_file is set without tls_cert_file");
    o.tls_cert_file = "/c.pem";
    accepted(&o);   /* files are read when the client is made */
    o.tls_min_version = "1.0";
    refused(&o, "tls_min_version = \"1.0\"");
    o.tls_min_version = "1.3";
    accepted(&o);
    o.tls_server_name = "";
    refused(&o, "tls_server_name is empty");
}

static void test_overload_bounds(void **state)
{
    (void)state;
    clusterc_options o = base();
    assert_int_equal(o.max_inflight, 100000);   /* bounded by default */
    assert_int_equal(o.max_node_queue, 10000);
    o.max_inflight = 0;                         /* 0 = no bound */
    o.max_node_queue = 0;
    accepted(&o);
    o.max_inflight = -1;
    refused(&o, "max_inflight = -1");
    o = base();
    o.max_node_queue = -5;
    refused(&o, "max_node_queue = -5");
    clusterc_options_init(&o);
    assert_int_equal(clusterc_options_parse_url(&o, "redis://h:1?max_inflight=5&max_node_queue=7"), 0);
    assert_int_equal(o.max_inflight, 5);
    assert_int_equal(o.max_node_queue, 7);
    clusterc_options_release(&o);
}

static void test_az_options(void **state)
{
    (void)state;
    clusterc_options o = base();
    o.az_affinity = 1;
    refused(&o, "option az_affinity needs client_az");
    o.client_az = "";
    refused(&o, "option az_affinity needs client_az");
    o.client_az = "us-east-1a";
    accepted(&o);
    o.az_affinity = 2;
    accepted(&o);
    o.az_affinity = 3;
    refused(&o, "option az_affinity = 3: want 0 (off), 1");
    o = base();
    o.client_az = "a-zone-name-of-sixty-four-bytes-is-one-too-many-for-node-stats!!";
    refused(&o, "option client_az is longer than 63 bytes");
    o.client_az = "us-east-1a";   /* a zone without affinity: zones in node stats */
    accepted(&o);
}

static void test_wipe(void **state)
{
    (void)state;
    char buf[16];
    memcpy(buf, "hunter2\0tail", 12);
    clusterc__secret_wipe(buf, 7);
    for (int i = 0; i < 7; i++)
        assert_int_equal(buf[i], 0);
    assert_memory_equal(buf + 8, "tail", 4);   /* only what it was told */
    clusterc__secret_wipe(NULL, 3);            /* harmless */
    clusterc__secret_free(NULL);
    clusterc__secret_free(strdup("pw"));       /* valgrind: no leak */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_defaults),
        cmocka_unit_test(test_tls_combinations),
        cmocka_unit_test(test_overload_bounds),
        cmocka_unit_test(test_az_options),
        cmocka_unit_test(test_wipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
