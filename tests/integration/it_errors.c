/* it_errors.c -- failures that must be clear: wrong password, every seed
 * down, a command that outlives its deadline, bad options, host names, an
 * async failure decided at submit time (delivered from the loop).
 * Ports 20400-20405 (cluster), 20490-20491 (nothing listens there). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#include "itest.h"

static harness *H;

static int setup(void **state)
{
    (void)state;
    H = harness_start(20400, 3, 0, "--password s3cret");
    return H ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(H);
    return 0;
}

static void test_right_password(void **state)
{
    (void)state;
    clusterc_client *c = it_client(H, NULL);   /* takes the harness password */
    redisReply *r = clusterc_command(c, "SET pw ok");
    it_expect_str(r, "OK");
    freeReplyObject(r);
    clusterc_free(c);
}

static void test_wrong_password(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    o.password = "wrong";
    clusterc_client *c = clusterc_connect(&o);
    assert_non_null(c);
    fprintf(stderr, "  error: %s\n", clusterc_errstr(c));
    assert_int_equal(clusterc_error(c), CLUSTERC_EAUTH);
    assert_non_null(strstr(clusterc_errstr(c), "authentication failed on 127.0.0.1:2040"));
    assert_null(clusterc_command(c, "GET x"));
    assert_int_equal(clusterc_error(c), CLUSTERC_EAUTH);
    clusterc_free(c);
}

static void test_all_seeds_down(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = "127.0.0.1:20490,127.0.0.1:20491";
    clusterc_client *c = clusterc_connect(&o);
    assert_non_null(c);
    fprintf(stderr, "  error: %s\n", clusterc_errstr(c));
    assert_int_equal(clusterc_error(c), CLUSTERC_ECONNECT);
    assert_non_null(strstr(clusterc_errstr(c), "127.0.0.1:20490"));
    assert_non_null(strstr(clusterc_errstr(c), "127.0.0.1:20491"));
    assert_non_null(strstr(clusterc_errstr(c), "refused"));
    /* Commands try the seeds again and fail the same clear way. */
    assert_null(clusterc_command(c, "GET x"));
    assert_int_equal(clusterc_error(c), CLUSTERC_ECONNECT);
    clusterc_free(c);
}

static void test_command_timeout(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);
    o.command_timeout_ms = 300;
    clusterc_client *c = it_client(H, &o);
    int port = harness_primary_of_slot(H, clusterc_keyslot("slow", 4));
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "redis-cli -p %d -a s3cret --no-auth-warning DEBUG SLEEP 1.5 >/dev/null &", port);
    assert_int_equal(system(cmd), 0);
    /* Give the DEBUG SLEEP a head start so our GET queues behind it. */
    struct timespec ts = { 0, 200 * 1000000L };
    nanosleep(&ts, NULL);
    int64_t t0 = it_now_ms();
    redisReply *r = clusterc_command(c, "GET slow");
    int64_t took = it_now_ms() - t0;
    fprintf(stderr, "  after %lld ms: %s\n", (long long)took, clusterc_errstr(c));
    assert_null(r);
    assert_int_equal(clusterc_error(c), CLUSTERC_ETIMEOUT);
    assert_non_null(strstr(clusterc_errstr(c), "timed out after 300 ms"));
    assert_true(took >= 290 && took < 1000);
    /* The late reply is dropped, and the connection keeps working. */
    nanosleep(&(struct timespec){ 1, 500 * 1000000L }, NULL);
    r = clusterc_command(c, "SET slow done");
    if (!r)
        fail_msg("SET after the timeout: %s", clusterc_errstr(c));
    it_expect_str(r, "OK");
    freeReplyObject(r);
    r = clusterc_command(c, "GET slow");
    it_expect_str(r, "done");
    freeReplyObject(r);
    clusterc_free(c);
}

static void expect_bad_option(clusterc_options *o, const char *needle)
{
    clusterc_client *c = clusterc_connect(o);
    assert_non_null(c);
    fprintf(stderr, "  error: %s\n", clusterc_errstr(c));
    assert_int_equal(clusterc_error(c), CLUSTERC_EINVAL);
    assert_non_null(strstr(clusterc_errstr(c), needle));
    assert_null(clusterc_command(c, "GET x"));
    clusterc_free(c);
}

static void test_bad_options(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);
    expect_bad_option(&o, "seeds");
    o.seeds = "127.0.0.1";
    expect_bad_option(&o, "seeds");
    o.seeds = "127.0.0.1:99999";
    expect_bad_option(&o, "seeds");
    o.seeds = "127.0.0.1:20400";
    o.max_redirects = -5;
    expect_bad_option(&o, "max_redirects");
    clusterc_options_init(&o);
    o.seeds = "127.0.0.1:20400";
    o.command_timeout_ms = 0;
    expect_bad_option(&o, "command_timeout_ms");
    clusterc_client *c = clusterc_connect(NULL);   /* no options at all */
    assert_non_null(c);
    assert_int_equal(clusterc_error(c), CLUSTERC_EINVAL);
    clusterc_free(c);
}

static void test_hostname_and_ipv6_seeds(void **state)
{
    (void)state;
    char seeds[128];
    clusterc_options o;
    clusterc_options_init(&o);
    /* An IPv6 seed nobody listens on, then a host name that resolves. */
    snprintf(seeds, sizeof(seeds), "[::1]:20491,localhost:%d", harness_port(H, 0));
    o.seeds = seeds;
    o.password = "s3cret";
    clusterc_client *c = clusterc_connect(&o);
    assert_non_null(c);
    if (clusterc_error(c))
        fail_msg("connect: %s", clusterc_errstr(c));
    redisReply *r = clusterc_command(c, "GET pw");
    it_expect_str(r, "ok");
    freeReplyObject(r);
    clusterc_free(c);
}

/* ------------------------------------------- socket() fails (EMFILE) */

/* A connection that cannot even get a socket fails the command at once,
 * naming the reason, instead of leaving it queued until its deadline. */
static void test_socket_failure_reported(void **state)
{
    (void)state;
    clusterc_client *c = it_client(H, NULL);
    clusterc_node_info info[8];
    int k = clusterc_node_stats(c, info, 8), idle = -1;
    for (int i = 0; i < k && i < 8; i++)
        if (!info[i].connected)
            idle = i;
    assert_true(idle >= 0);   /* connections are opened lazily */
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    int probe = open("/dev/null", O_RDONLY);   /* the lowest free descriptor */
    assert_true(probe >= 0);
    close(probe);
    low = old;
    low.rlim_cur = (rlim_t)probe;   /* every new descriptor is refused */
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    redisReply *r = clusterc_command_to_node(c, info[idle].addr, "PING");
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    assert_null(r);
    fprintf(stderr, "  error: %s\n", clusterc_errstr(c));
    assert_non_null(strstr(clusterc_errstr(c), "socket: Too many open files"));
    clusterc_free(c);
}

/* ------------------------------------- an async failure decided at submit */

typedef struct probe {
    int in_call, ran_inside, calls, code;
} probe;

static void on_first(clusterc_async *a, redisReply *r, void *p)
{
    (void)a;
    (void)r;
    ((probe *)p)->calls++;
}

static void on_noreplica(clusterc_async *a, redisReply *r, void *p)
{
    probe *x = p;
    x->calls++;
    x->ran_inside |= x->in_call;
    x->code = r ? 0 : clusterc_async_error(a);
    clusterc_async_free(a);   /* allowed in a callback; nothing may leak */
}

/* No replicas here, so CLUSTERC_ROUTE_REPLICA fails at once; the callback
 * must still come from the loop, never from inside the submitting call. */
static void test_async_failure_not_inside_call(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    o.password = "s3cret";
    clusterc_async *a = clusterc_async_connect(base, &o);
    probe first = { 0 }, x = { 0 };
    assert_int_equal(clusterc_async_command(a, on_first, &first, "GET k"), 0);
    for (int i = 0; i < 1000 && first.calls == 0; i++)
        event_base_loop(base, EVLOOP_ONCE);
    assert_int_equal(first.calls, 1);   /* the map is loaded */
    x.in_call = 1;
    assert_int_equal(clusterc_async_command_route(a, CLUSTERC_ROUTE_REPLICA, on_noreplica, &x,
                                                  "GET k"), 0);
    x.in_call = 0;
    assert_int_equal(x.calls, 0);
    event_base_dispatch(base);
    assert_int_equal(x.calls, 1);
    assert_int_equal(x.ran_inside, 0);
    assert_int_equal(x.code, CLUSTERC_ENOREPLICA);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_right_password),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_all_seeds_down),
        cmocka_unit_test(test_command_timeout),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_hostname_and_ipv6_seeds),
        cmocka_unit_test(test_async_failure_not_inside_call),
        cmocka_unit_test(test_socket_failure_reported),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
