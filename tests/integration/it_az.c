/* it_az.c -- availability-zone affinity (az_affinity, client_az), checked
 * by the servers' own counters (CONFIG RESETSTAT, INFO commandstats).
 *
 * Valkey 8 (it_az_valkey): 3 primaries with 2 replicas each; per shard one
 * replica in zone "a", one in "b", the primary in "c" (CONFIG SET
 * availability-zone). Reads follow the documented order: the client's
 * zone's replicas, [its primary, az_affinity 2], any replica, the primary,
 * as nodes are killed. Redis 7 (it_az): no node has a zone, and the same
 * client behaves as read_only. Ports 24300-24308 (Valkey: +1500).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "itest.h"

#define NKEYS 300
static harness *H;
static int primary[3], rep[3][2];   /* rep[s][0] in zone a, rep[s][1] in zone b */
static int valkey;

static int setup(void **state)
{
    (void)state;
    const char *srv = getenv("CLUSTERC_TEST_SERVER");
    valkey = srv && strstr(srv, "valkey") != NULL;
    H = harness_start(24300, 3, 2, NULL);
    if (!H)
        return -1;
    it_learn_shards(H, primary, rep);
    for (int s = 0; valkey && s < 3; s++) {
        it_node_ok(H, primary[s], "CONFIG SET availability-zone c");
        it_node_ok(H, rep[s][0], "CONFIG SET availability-zone a");
        it_node_ok(H, rep[s][1], "CONFIG SET availability-zone b");
    }
    clusterc_client *c = it_client(H, NULL);
    for (int i = 0; i < NKEYS; i++)
        freeReplyObject(clusterc_command(c, "SET az:%d v%d", i, i));
    clusterc_free(c);
    it_wait_replicas_online(H);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(H);
    return 0;
}

static long long gets(int port)
{
    long long calls = 0;
    redisReply *r = harness_cmd(H, port, "INFO commandstats");
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "cmdstat_get:calls=") : NULL;
    if (p)
        calls = atoll(p + strlen("cmdstat_get:calls="));
    freeReplyObject(r);
    return calls;
}

static void reset_stats(void)
{
    for (int s = 0; s < 3; s++) {
        it_node_ok(H, primary[s], "CONFIG RESETSTAT");
        for (int k = 0; k < 2; k++)
            if (rep[s][k] > 0)
                it_node_ok(H, rep[s][k], "CONFIG RESETSTAT");
    }
}

/* A client with client_az and az_affinity that knows every node's zone.
 * Zones are learned as shards are read (the first read of a shard asks
 * its nodes, so connections stay lazy): a read of every shard, then a
 * bounded wait for the answers. */
static clusterc_client *az_client(const char *zone, int affinity)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.client_az = zone;
    o.az_affinity = affinity;
    clusterc_client *c = it_client(H, &o);
    assert_int_equal(clusterc_error(c), 0);
    clusterc_node_info info[16];
    for (int i = 0; i < 30; i++)   /* 30 keys: every shard is read */
        freeReplyObject(clusterc_command(c, "GET az:%d", i));
    for (int tries = 0; tries < 100; tries++) {
        int n = clusterc_node_stats(c, info, 16), known = 0;
        for (int i = 0; i < n && i < 16; i++)
            known += info[i].az[0] != '\0';
        if (!valkey || known == n)
            break;
        clusterc_poll(c, 20);
    }
    return c;
}

/* NKEYS GETs; then how many each node served: want[s][0] primary, [1] a, [2] b. */
static void read_and_count(clusterc_client *c, long long got[3][3])
{
    reset_stats();
    for (int i = 0; i < NKEYS; i++) {
        char want[16];
        snprintf(want, sizeof(want), "v%d", i);
        redisReply *r = clusterc_command(c, "GET az:%d", i);
        if (!r)
            fail_msg("GET az:%d: %s", i, clusterc_errstr(c));
        it_expect_str(r, want);
        freeReplyObject(r);
    }
    for (int s = 0; s < 3; s++) {
        got[s][0] = gets(primary[s]);
        got[s][1] = rep[s][0] > 0 ? gets(rep[s][0]) : 0;
        got[s][2] = rep[s][1] > 0 ? gets(rep[s][1]) : 0;
        fprintf(stderr, "  shard %d: primary(c) %lld, replica a %lld, replica b %lld\n", s,
                got[s][0], got[s][1], got[s][2]);
    }
}

/* Sum over shards of column k, and the total. */
static long long col(long long got[3][3], int k)
{
    return got[0][k] + got[1][k] + got[2][k];
}

static void expect_zones(clusterc_client *c)
{
    clusterc_node_info info[16];
    int n = clusterc_node_stats(c, info, 16);
    assert_int_equal(n, 9);
    for (int i = 0; i < n; i++) {
        int port = atoi(strrchr(info[i].addr, ':') + 1);
        const char *want = valkey ? "c" : "";
        for (int s = 0; valkey && s < 3; s++)
            want = port == rep[s][0] ? "a" : port == rep[s][1] ? "b" : want;
        if (strcmp(info[i].az, want) != 0)
            fail_msg("node %s: zone \"%s\", want \"%s\"", info[i].addr, info[i].az, want);
    }
}

/* Valkey 8: the order, stage by stage, as nodes die. */
static void test_zone_order(void **state)
{
    (void)state;
    long long got[3][3];
    clusterc_client *a = az_client("a", 1);
    expect_zones(a);
    fprintf(stderr, " client_az=a az_affinity=1:\n");
    read_and_count(a, got);
    assert_int_equal(col(got, 1), NKEYS);          /* every GET on a zone-a replica */

    clusterc_client *c2 = az_client("c", 2);
    fprintf(stderr, " client_az=c az_affinity=2 (no replica in c, the primary is):\n");
    read_and_count(c2, got);
    assert_int_equal(col(got, 0), NKEYS);
    clusterc_free(c2);

    clusterc_client *c1 = az_client("c", 1);
    fprintf(stderr, " client_az=c az_affinity=1 (no replica in c: any replica):\n");
    read_and_count(c1, got);
    assert_int_equal(col(got, 0), 0);
    assert_int_equal(col(got, 1) + col(got, 2), NKEYS);
    assert_true(col(got, 1) > 0 && col(got, 2) > 0);
    clusterc_free(c1);

    for (int s = 0; s < 3; s++) {                   /* zone a's replicas die */
        assert_int_equal(harness_kill(H, rep[s][0], "KILL"), 0);
        rep[s][0] = 0;
    }
    fprintf(stderr, " zone-a replicas killed, client_az=a:\n");
    read_and_count(a, got);
    assert_int_equal(col(got, 2), NKEYS);           /* then zone b's */
    for (int s = 0; s < 3; s++) {
        assert_int_equal(harness_kill(H, rep[s][1], "KILL"), 0);
        rep[s][1] = 0;
    }
    fprintf(stderr, " zone-b replicas killed too:\n");
    read_and_count(a, got);
    assert_int_equal(col(got, 0), NKEYS);           /* then the primary */
    clusterc_free(a);
}

/* Redis 7: no node reports a zone; az_affinity reads as read_only does. */
static void test_no_zones(void **state)
{
    (void)state;
    long long got[3][3];
    clusterc_client *a = az_client("a", 1);
    expect_zones(a);
    read_and_count(a, got);
    assert_int_equal(col(got, 0), 0);
    assert_int_equal(col(got, 1) + col(got, 2), NKEYS);
    assert_true(col(got, 1) >= NKEYS / 4 && col(got, 2) >= NKEYS / 4);
    clusterc_free(a);
}

int main(void)
{
    /* One server per run: ctest runs it_az (Redis 7) and it_az_valkey. */
    const char *srv = getenv("CLUSTERC_TEST_SERVER");
    const struct CMUnitTest redis7[] = { cmocka_unit_test(test_no_zones) };
    const struct CMUnitTest valkey8[] = { cmocka_unit_test(test_zone_order) };
    if (srv && strstr(srv, "valkey"))
        return cmocka_run_group_tests(valkey8, setup, teardown);
    return cmocka_run_group_tests(redis7, setup, teardown);
}
