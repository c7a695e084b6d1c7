/* it_ffi.c -- the surface bindings use, against a real 3+3 cluster:
 * clusterc_connect_url, replies walked only through the accessors, and the
 * JSON views checked by Python's own json module. Ports 20860-20865. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <clusterc/admin.h>
#include "itest.h"

#define BASE 20860
static harness *H;

static int setup(void **state)
{
    (void)state;
    H = harness_start(BASE, 3, 1, NULL);
    return H ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(H);
    return 0;
}

/* Feed json to `python3 -c "...; assert <check>"` with d the parsed value:
 * the text must be JSON and check must hold. check uses single quotes. */
static void python_accepts(const char *json, const char *check)
{
    char cmd[1024];
    assert_non_null(json);
    snprintf(cmd, sizeof(cmd),
             "%s -c \"import json,sys; d=json.load(sys.stdin); assert %s, d\"", PYTHON, check);
    FILE *f = popen(cmd, "w");
    assert_non_null(f);
    fputs(json, f);
    int rc = pclose(f);
    if (rc != 0)
        fail_msg("python rejected (%s):\n%s", check, json);
}

static clusterc_client *url_client(const char *query)
{
    char url[512];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d?addr=127.0.0.1:%d&%s", BASE, BASE + 1,
             query);
    clusterc_client *c = clusterc_connect_url(url);
    assert_non_null(c);
    if (clusterc_error(c))
        fail_msg("connect_url %s: %s", url, clusterc_errstr(c));
    return c;
}

/* Right after the harness starts, the seeds' CLUSTER SHARDS may still show
 * replicas as slotless primaries, or replicas answer LOADING (CLUSTER SHARDS says "loading"): reload the map until
 * every node the client knows may serve reads, so routing checks are not
 * racing the cluster's own start-up. */
static void wait_all_eligible(clusterc_client *c)
{
    clusterc_node_info v[16];
    for (int64_t end = it_now_ms() + 20000; it_now_ms() < end;) {
        int n = clusterc_node_stats(c, v, 16), ok = n == harness_count(H), replicas = 0;
        for (int i = 0; ok && i < n; i++) {
            ok = v[i].eligible;
            replicas += !v[i].is_primary;
        }
        if (ok && replicas == n / 2)
            return;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        clusterc_refresh(c);
    }
    fail_msg("replicas never became eligible");
}

static redisReply *argv_cmd(clusterc_client *c, int argc, const char **argv,
                            const size_t *lens)
{
    redisReply *r = clusterc_command_argv(c, argc, argv, lens);
    if (!r)
        fail_msg("%s: %s", argv[0], clusterc_errstr(c));
    return r;
}

/* ------------------------------------------------------------ replies */

static void test_connect_url_and_accessors(void **state)
{
    (void)state;
    clusterc_client *c = url_client("read_only=true&route_randomly=true&dial_timeout=1s");
    wait_all_eligible(c);
    size_t len;

    const char *set[] = {"SET", "ffi:{k}", "v\0w"};
    const size_t setl[] = {3, 7, 3};
    redisReply *r = argv_cmd(c, 3, set, setl);
    assert_int_equal(clusterc_reply_type(r), CLUSTERC_REPLY_STATUS);
    assert_string_equal(clusterc_reply_str(r, &len), "OK");
    assert_int_equal(len, 2);
    clusterc_reply_free(r);

    const char *get[] = {"GET", "ffi:{k}"};
    for (int i = 0; i < 50; i++) {   /* reads spread over replicas */
        r = argv_cmd(c, 2, get, NULL);
        assert_int_equal(clusterc_reply_type(r), CLUSTERC_REPLY_STRING);
        const char *s = clusterc_reply_str(r, &len);
        assert_int_equal(len, 3);
        assert_memory_equal(s, "v\0w", 3);   /* binary-safe both ways */
        assert_int_equal(clusterc_reply_elements(r), 0);
        assert_null(clusterc_reply_element(r, 0));
        clusterc_reply_free(r);
    }

    const char *incr[] = {"INCRBY", "ffi:{k}n", "41"};
    r = argv_cmd(c, 3, incr, NULL);
    assert_int_equal(clusterc_reply_type(r), CLUSTERC_REPLY_INTEGER);
    assert_int_equal(clusterc_reply_integer(r), 41);
    assert_null(clusterc_reply_str(r, &len));
    assert_int_equal(len, 0);
    clusterc_reply_free(r);

    const char *push[] = {"RPUSH", "ffi:{k}l", "a", "bb", "ccc"};
    clusterc_reply_free(argv_cmd(c, 5, push, NULL));
    const char *range[] = {"LRANGE", "ffi:{k}l", "0", "-1"};
    r = argv_cmd(c, 4, range, NULL);
    assert_int_equal(clusterc_reply_type(r), CLUSTERC_REPLY_ARRAY);
    assert_int_equal(clusterc_reply_elements(r), 3);
    for (size_t i = 0; i < 3; i++) {
        const redisReply *e = clusterc_reply_element(r, i);
        assert_int_equal(clusterc_reply_type(e), CLUSTERC_REPLY_STRING);
        assert_non_null(clusterc_reply_str(e, &len));
        assert_int_equal(len, i + 1);
    }
    assert_null(clusterc_reply_element(r, 3));
    clusterc_reply_free(r);

    const char *missing[] = {"GET", "ffi:{k}none"};
    r = argv_cmd(c, 2, missing, NULL);
    assert_int_equal(clusterc_reply_type(r), CLUSTERC_REPLY_NIL);
    assert_null(clusterc_reply_str(r, NULL));
    clusterc_reply_free(r);

    const char *wrong[] = {"LPUSH", "ffi:{k}", "x"};   /* a string key */
    r = argv_cmd(c, 3, wrong, NULL);
    assert_int_equal(clusterc_reply_type(r), CLUSTERC_REPLY_ERROR);
    assert_non_null(strstr(clusterc_reply_str(r, NULL), "WRONGTYPE"));
    clusterc_reply_free(r);

    /* NULL everywhere is harmless. */
    assert_int_equal(clusterc_reply_type(NULL), 0);
    assert_int_equal(clusterc_reply_integer(NULL), 0);
    assert_null(clusterc_reply_str(NULL, &len));
    assert_int_equal(len, 0);
    assert_int_equal(clusterc_reply_elements(NULL), 0);
    assert_null(clusterc_reply_element(NULL, 0));
    clusterc_reply_free(NULL);
    clusterc_free_string(NULL);

    /* The URL's read policy took effect: replicas served some of the GETs. */
    char *js = clusterc_node_stats_json(c);
    assert_non_null(js);
    if (!strstr(js, "\"role\":\"primary\"") || !strstr(js, "\"role\":\"replica\"") ||
        !strstr(js, "\"addr\":\"127.0.0.1:2086"))
        fail_msg("node_stats_json: %s", js);
    python_accepts(js, "len(d) == 6 and "
                       "sum(n['reads'] for n in d if n['role'] == 'replica') > 0 and "
                       "all(n['why'] for n in d)");
    clusterc_free_string(js);
    clusterc_free(c);
}

/* ------------------------------------------------------------ admin JSON */

static void test_admin_json(void **state)
{
    (void)state;
    clusterc_client *c = url_client("read_timeout=5s");
    char *js = clusterc_admin_nodes_json(c, NULL);
    if (!js)
        fail_msg("nodes_json: %s", clusterc_errstr(c));
    assert_non_null(strstr(js, "\"slots\":[["));
    python_accepts(js, "len(d) == 6 and "
                       "sum(n['slot_count'] for n in d) == 16384 and "
                       "sum('myself' in n['flags'] for n in d) == 1 and "
                       "all(n['primary_id'] for n in d if n['role'] == 'replica')");
    clusterc_free_string(js);

    char primary[32];
    snprintf(primary, sizeof(primary), "127.0.0.1:%d", harness_nth_port(H, "master", 0));
    js = clusterc_admin_replication_json(c, primary);
    if (!js)
        fail_msg("replication_json: %s", clusterc_errstr(c));
    assert_non_null(strstr(js, "\"role\":\"primary\""));
    python_accepts(js, "d['role'] == 'primary' and d['connected_replicas'] == 1 and "
                       "len(d['replicas']) == 1 and d['replicas'][0]['state'] == 'online'");
    clusterc_free_string(js);

    char replica[32];
    snprintf(replica, sizeof(replica), "127.0.0.1:%d", harness_nth_port(H, "slave", 0));
    js = clusterc_admin_replication_json(c, replica);
    assert_non_null(js);
    python_accepts(js, "d['role'] == 'replica' and d['master_link_up'] is True and "
                       "d['master_host'] == '127.0.0.1' and d['replicas'] == []");
    clusterc_free_string(js);

    /* The check counts replicas from every node's view, which may lag the
     * harness's start by a moment: retry while it says so. */
    for (int64_t end = it_now_ms() + 20000;; ) {
        js = clusterc_admin_check_json(c);
        if (!js)
            fail_msg("check_json: %s", clusterc_errstr(c));
        if (strstr(js, "\"ok\":true") || it_now_ms() > end)
            break;
        clusterc_free_string(js);
        struct timespec ts = {0, 200 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    python_accepts(js, "d['ok'] is True and d['slots_covered'] == 16384 and "
                       "len(d['primaries']) == 3 and len(d['replicas']) == 3 and "
                       "d['problems'] == [] and isinstance(d['report'], str) and "
                       "len(d['report']) > 0");
    clusterc_free_string(js);

    /* Failures: NULL with the error set on the client. */
    assert_null(clusterc_admin_replication_json(c, "127.0.0.1:1"));
    assert_int_not_equal(clusterc_error(c), 0);
    assert_true(strlen(clusterc_errstr(c)) > 0);
    assert_null(clusterc_admin_replication_json(c, NULL));
    assert_int_equal(clusterc_error(c), CLUSTERC_EINVAL);
    clusterc_free(c);
}

/* ------------------------------------------------------------ bad URLs */

static void test_bad_url(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d?read_onyl=true", BASE);
    clusterc_client *c = clusterc_connect_url(url);
    assert_non_null(c);
    assert_int_equal(clusterc_error(c), CLUSTERC_EINVAL);
    assert_non_null(strstr(clusterc_errstr(c), "read_onyl"));
    /* The client fails cleanly on use, and frees. */
    const char *get[] = {"GET", "k"};
    assert_null(clusterc_command_argv(c, 2, get, NULL));
    assert_int_not_equal(clusterc_error(c), 0);
    assert_null(clusterc_node_stats_json(c));
    assert_int_not_equal(clusterc_error(c), 0);
    clusterc_free(c);

    snprintf(url, sizeof(url), "redis://127.0.0.1:%d?dial_timeout=soon", BASE);
    c = clusterc_connect_url(url);
    assert_non_null(c);
    assert_int_equal(clusterc_error(c), CLUSTERC_EINVAL);
    assert_non_null(strstr(clusterc_errstr(c), "dial_timeout"));
    assert_non_null(strstr(clusterc_errstr(c), "soon"));
    clusterc_free(c);

    /* TLS files are read when the client is made: a missing one is the
     * caller's error, named, before any connection. */
    c = clusterc_connect_url("rediss://127.0.0.1:1?tls_ca_file=/nonexistent/ca.pem");
    assert_non_null(c);
    assert_int_equal(clusterc_error(c), CLUSTERC_EINVAL);
    assert_non_null(strstr(clusterc_errstr(c), "tls_ca_file"));
    assert_non_null(strstr(clusterc_errstr(c), "/nonexistent/ca.pem"));
    clusterc_free(c);

    c = clusterc_connect_url(NULL);
    assert_non_null(c);
    assert_int_equal(clusterc_error(c), CLUSTERC_EINVAL);
    clusterc_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_url_and_accessors),
        cmocka_unit_test(test_admin_json),
        cmocka_unit_test(test_bad_url),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
