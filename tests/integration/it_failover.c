#define _DEFAULT_SOURCE
/* it_failover.c -- the cluster changes under traffic: a manual failover
 * (CLUSTER FAILOVER on a replica) and a primary killed with SIGKILL.
 * Ports 20200-20205. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "itest.h"

static harness *H;

static int setup(void **state)
{
    (void)state;
    H = harness_start(20200, 3, 1, NULL);
    return H ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(H);
    return 0;
}

static int role_is_master(int port)
{
    redisReply *r = harness_cmd(H, port, "ROLE");
    int yes = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
              strcmp(r->element[0]->str, "master") == 0;
    freeReplyObject(r);
    return yes;
}

/* One SET+GET of key i; returns 0 or -1 (printing why). */
static int roundtrip(clusterc_client *c, int i)
{
    redisReply *r = clusterc_command(c, "SET fo:%d %d", i, i);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "SET fo:%d: %s\n", i, r ? r->str : clusterc_errstr(c));
        freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    r = clusterc_command(c, "GET fo:%d", i);
    int ok = r && r->type == REDIS_REPLY_STRING && atoi(r->str) == i;
    if (!ok)
        fprintf(stderr, "GET fo:%d: %s\n", i, r ? (r->str ? r->str : "nil") : clusterc_errstr(c));
    freeReplyObject(r);
    return ok ? 0 : -1;
}

static void test_manual_failover_under_traffic(void **state)
{
    (void)state;
    clusterc_client *c = it_client(H, NULL);
    int replica = harness_nth_port(H, "slave", 0);
    int failures = 0, i = 0;
    for (; i < 300; i++)
        failures += roundtrip(c, i) < 0;
    /* Right after the cluster forms, the primary may not list its replica
     * yet and the manual failover times out (5 s) on the server side: ask
     * again then. */
    int64_t end = it_now_ms() + 25000, promoted_at = 0, asked_at = 0;
    while (it_now_ms() < end) {
        if (!promoted_at && it_now_ms() - asked_at > 6000) {
            it_node_ok(H, replica, "CLUSTER FAILOVER");
            asked_at = it_now_ms();
        }
        failures += roundtrip(c, i++ % 3000) < 0;
        if (!promoted_at && i % 50 == 0 && role_is_master(replica))
            promoted_at = it_now_ms();
        if (promoted_at && it_now_ms() > promoted_at + 1500)
            break;
    }
    clusterc_stats st;
    clusterc_get_stats(c, &st);
    fprintf(stderr, "failover: %d round trips, %d failures, moved=%llu refreshes=%llu retries=%llu\n",
            i, failures, (unsigned long long)st.moved, (unsigned long long)st.refreshes,
            (unsigned long long)st.retries);
    assert_true(promoted_at != 0);
    assert_int_equal(failures, 0);
    assert_true(st.moved > 0 || st.refreshes > 1);
    clusterc_free(c);
}

/* A key served by the given master. */
static void key_on(int port, char *out, size_t cap)
{
    for (int i = 0;; i++) {
        snprintf(out, cap, "kill:%d", i);
        if (harness_primary_of_slot(H, clusterc_keyslot(out, strlen(out))) == port)
            return;
    }
}

static void test_primary_killed(void **state)
{
    (void)state;
    assert_int_equal(harness_wait_ok(H, 30), 0);
    int victim = harness_nth_port(H, "master", 0);
    int other = it_other_master(H, victim);
    char kv[32], ko[32];
    key_on(victim, kv, sizeof(kv));
    key_on(other, ko, sizeof(ko));
    /* While the victim is marked FAIL and before its replica wins the
     * election, a cluster that requires full coverage answers CLUSTERDOWN
     * for every slot; a deadline longer than that window rides it out. */
    clusterc_options o;
    clusterc_options_init(&o);
    o.command_timeout_ms = 8000;
    clusterc_client *c = it_client(H, &o);
    redisReply *r = clusterc_command(c, "SET %s before", kv);
    it_expect_str(r, "OK");
    freeReplyObject(r);
    assert_int_equal(harness_kill(H, victim, "KILL"), 0);
    int64_t t0 = it_now_ms(), back_at = 0;
    int other_failures = 0, victim_failures = 0;
    while (it_now_ms() < t0 + 30000 && !back_at) {
        r = clusterc_command(c, "SET %s x", ko);          /* unaffected slot */
        if (!r || r->type == REDIS_REPLY_ERROR) {
            other_failures++;
            fprintf(stderr, "other slot: %s\n", r ? r->str : clusterc_errstr(c));
        }
        freeReplyObject(r);
        r = clusterc_command(c, "GET %s", kv);            /* affected slot */
        if (r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "before") == 0)
            back_at = it_now_ms();
        else
            victim_failures++;
        freeReplyObject(r);
        usleep(50000);
    }
    fprintf(stderr, "kill: affected slot back after %lld ms (%d failed reads meanwhile), "
            "%d failures on other slots\n", (long long)(back_at - t0), victim_failures,
            other_failures);
    assert_true(back_at != 0);
    assert_int_equal(other_failures, 0);
    assert_int_equal(harness_restart(H, victim), 0);
    assert_int_equal(harness_wait_ok(H, 30), 0);
    r = clusterc_command(c, "GET %s", kv);
    it_expect_str(r, "before");
    freeReplyObject(r);
    clusterc_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manual_failover_under_traffic),
        cmocka_unit_test(test_primary_killed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
