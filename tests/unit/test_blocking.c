/* test_blocking.c -- which commands block, for how long; Pub/Sub names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include "proto/blocking.h"
#include "proto/cmdname.h"

/* The timeout of a command given as words; returns the function's result. */
static int timeout_of(const char *fmt, int64_t *ms)
{
    char *cmd = NULL;
    int len = redisFormatCommand(&cmd, fmt);
    assert_true(len > 0);
    *ms = -7;
    int rc = clusterc__block_timeout(cmd, (size_t)len, ms);
    redisFreeCommand(cmd);
    return rc;
}

static void expect_block(const char *cmd, int64_t want_ms)
{
    int64_t ms;
    assert_int_equal(timeout_of(cmd, &ms), 1);
    assert_int_equal(ms, want_ms);
}

static void test_seconds_last(void **state)
{
    (void)state;
    expect_block("BLPOP q 3", 3000);
    expect_block("blpop a b c 0", 0);
    expect_block("BRPOP q 0.5", 500);
    expect_block("BZPOPMIN z 1.25", 1250);
    expect_block("BZPOPMAX z 2", 2000);
    expect_block("BLMOVE a b LEFT RIGHT 4", 4000);
    expect_block("BRPOPLPUSH a b 0.001", 1);
}

static void test_seconds_first(void **state)
{
    (void)state;
    expect_block("BLMPOP 2 1 q LEFT", 2000);
    expect_block("BZMPOP 0 2 a b MIN COUNT 3", 0);
}

static void test_milliseconds(void **state)
{
    (void)state;
    int64_t ms;
    expect_block("XREAD BLOCK 1500 STREAMS s $", 1500);
    expect_block("XREAD COUNT 10 BLOCK 0 STREAMS s $", 0);
    expect_block("XREADGROUP GROUP g c COUNT 1 BLOCK 250 NOACK STREAMS s >", 250);
    /* A group or consumer named like a keyword is a value, not an option. */
    expect_block("XREADGROUP GROUP block streams BLOCK 9 STREAMS s >", 9);
    assert_int_equal(timeout_of("XREAD STREAMS block 0", &ms), 0);
    assert_int_equal(timeout_of("XREAD COUNT 5 STREAMS s 0", &ms), 0);
    /* WAIT and WAITAOF block on the connection that made the writes: 2. */
    assert_int_equal(timeout_of("WAIT 1 1000", &ms), 2);
    assert_int_equal(ms, 1000);
    assert_int_equal(timeout_of("WAIT 0 0", &ms), 2);
    assert_int_equal(ms, 0);
    assert_int_equal(timeout_of("WAITAOF 1 0 200", &ms), 2);
    assert_int_equal(ms, 200);
}

static void test_not_blocking_or_bad(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(timeout_of("GET k", &ms), 0);
    assert_int_equal(timeout_of("LPOP q", &ms), 0);
    assert_int_equal(timeout_of("BLPOP q", &ms), -1);       /* no timeout */
    assert_int_equal(timeout_of("BLPOP q soon", &ms), -1);  /* not a number */
    assert_int_equal(timeout_of("BLPOP q -1", &ms), -1);
    assert_int_equal(timeout_of("XREAD BLOCK", &ms), -1);
    assert_int_equal(timeout_of("WAIT 1", &ms), -1);
    assert_int_equal(clusterc__block_timeout("*1\r\n$5\r\nBLP", 13, &ms), -1);  /* truncated */
    assert_int_equal(clusterc__block_timeout("garbage", 7, &ms), -1);
}

static void test_pubsub_names(void **state)
{
    (void)state;
    const char *yes[] = { "SUBSCRIBE", "psubscribe", "SSubscribe", "UNSUBSCRIBE", "PUNSUBSCRIBE",
                          "SUNSUBSCRIBE", "monitor" };
    const char *no[] = { "PUBLISH", "SPUBLISH", "GET", "SET", "PUBSUB", "SUBSCRIBED", "MONITORS" };
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        assert_true(clusterc__is_pubsub(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_false(clusterc__is_pubsub(no[i], strlen(no[i])));
}

/* What the command functions refuse, and what they say instead. */
static void test_not_here(void **state)
{
    (void)state;
    char why[200];
    assert_int_equal(clusterc__cmd_not_here("auth", 4, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "set username and password in the options"));
    assert_int_equal(clusterc__cmd_not_here("HELLO", 5, why, sizeof(why)), 1);
    assert_int_equal(clusterc__cmd_not_here("Subscribe", 9, why, sizeof(why)), 1);
    assert_non_null(strstr(why, "Pub/Sub has its own API"));
    const char *no[] = { "GET", "AUTHX", "HGET", "HELLOS", "SELECT", "ACL", "CLIENT" };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        assert_int_equal(clusterc__cmd_not_here(no[i], strlen(no[i]), why, sizeof(why)), 0);
}

/* The name messages and the command hook show. */
static void expect_name(const char *fmt, const char *want)
{
    char *cmd = NULL, out[24];
    int len = redisFormatCommand(&cmd, fmt);
    assert_true(len > 0);
    const char *name = strchr(strchr(cmd, '$'), '\n') + 1;   /* argv[0] */
    size_t namelen = (size_t)(strchr(name, '\r') - name);
    clusterc__cmd_display_name(cmd, (size_t)len, name, namelen, out, sizeof(out));
    assert_string_equal(out, want);
    redisFreeCommand(cmd);
}

static void test_display_names(void **state)
{
    (void)state;
    expect_name("get k", "get");
    expect_name("SET k v", "SET");
    expect_name("cluster shards", "CLUSTER SHARDS");
    expect_name("config get maxmemory", "CONFIG GET");
    expect_name("ACL whoami", "ACL WHOAMI");
    expect_name("CLUSTER", "CLUSTER");                      /* no sub-command */
    expect_name("CLIENT aaaaaaaaaaaaaaaaaaaaaaaa", "CLIENT");  /* does not fit: the command */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seconds_last),
        cmocka_unit_test(test_seconds_first),
        cmocka_unit_test(test_milliseconds),
        cmocka_unit_test(test_not_blocking_or_bad),
        cmocka_unit_test(test_pubsub_names),
        cmocka_unit_test(test_not_here),
        cmocka_unit_test(test_display_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
