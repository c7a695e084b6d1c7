/* test_scale.c -- issue 16 without servers: a 1,000 x 3 map installed
 * twice with 10 % of its nodes replaced in between (nodes that stay keep
 * their identity and connections, those that leave are released, slot
 * ownership is exact), node ids found after the change, and a refused
 * COMMAND asked once in ten map loads. The cluster is fake_shards.c's,
 * behind the engine's dial seam: nothing is dialled. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <clusterc/clusterc.h>
#include "fake_shards.h"

#define P 1000
#define R 2
#define N (P * (1 + R))

/* The reply is built first: an argument list would leave len's value to
 * the compiler's order of evaluation. */
static void set_map(char *reply, const size_t *len)
{
    fake_shards_set_map(reply, *len);
}

static clusterc_client *client(void)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = "127.0.0.1:9999";
    o.refresh_interval_ms = 0;
    clusterc_client *c = clusterc_connect(&o);
    assert_non_null(c);
    if (clusterc_error(c))
        fail_msg("connect: %s", clusterc_errstr(c));
    return c;
}

/* A hash tag per slot: "{t<n>}" for the first n that hashes there. */
static int tag_of[16384];

static void find_tags(void)
{
    int left = 16384;
    char key[32];
    for (int i = 0; i < 16384; i++)
        tag_of[i] = -1;
    for (int n = 0; left > 0 && n < 2000000; n++) {
        int len = snprintf(key, sizeof(key), "t%d", n);
        int s = clusterc_keyslot(key, (size_t)len);
        if (tag_of[s] < 0) {
            tag_of[s] = n;
            left--;
        }
    }
    assert_int_equal(left, 0);
}

/* The node number at position pos of the second map: every tenth node
 * (pos % 10 == 3) replaced by a new one. */
static int second(int pos)
{
    return pos % 10 == 3 ? N + pos : pos;
}

static int find_info(const clusterc_node_info *v, int n, int port)
{
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    for (int i = 0; i < n; i++)
        if (strcmp(v[i].addr, addr) == 0)
            return i;
    return -1;
}

/* GET a key of every 97th slot: each must reach its shard's primary. */
static void check_owners(clusterc_client *c, const int *number)
{
    for (int s = 0; s < 16384; s += 97) {
        int shard = (int)(((long)s * P + P - 1) / 16384);
        while ((long)shard * 16384 / P > s)
            shard--;
        while ((long)(shard + 1) * 16384 / P <= s)
            shard++;
        int port = FAKE_SHARDS_PORT0 + number[shard * (1 + R)];
        long before = fake_shards_gets(port);
        redisReply *r = clusterc_command(c, "GET {t%d}k", tag_of[s]);
        if (!r)
            fail_msg("GET for slot %d: %s", s, clusterc_errstr(c));
        freeReplyObject(r);
        if (fake_shards_gets(port) != before + 1)
            fail_msg("slot %d: the GET did not reach port %d (shard %d)", s, port, shard);
    }
}

static void test_reinstall_keeps_identity(void **state)
{
    (void)state;
    static int first_n[N], second_n[N];
    static clusterc_node_info v1[N + 16], v2[N + 16];
    size_t len;
    find_tags();
    for (int i = 0; i < N; i++) {
        first_n[i] = i;
        second_n[i] = second(i);
    }
    assert_int_equal(fake_shards_start(1), 0);
    set_map(fake_shards_reply(P, R, first_n, &len), &len);
    clusterc_client *c = client();
    check_owners(c, first_n);   /* touches about 170 primaries */
    int n1 = clusterc_node_stats(c, v1, N + 16);
    assert_int_equal(n1, N);
    clusterc_stats st1, st2;
    clusterc_get_stats(c, &st1);

    set_map(fake_shards_reply(P, R, second_n, &len), &len);
    assert_int_equal(clusterc_refresh(c), 0);
    int n2 = clusterc_node_stats(c, v2, N + 16);
    assert_int_equal(n2, N);
    clusterc_get_stats(c, &st2);
    int kept = 0, gone = 0;
    for (int pos = 0; pos < N; pos++) {
        int i1 = find_info(v1, n1, FAKE_SHARDS_PORT0 + first_n[pos]);
        int i2 = find_info(v2, n2, FAKE_SHARDS_PORT0 + second_n[pos]);
        assert_true(i1 >= 0 && i2 >= 0);
        if (second_n[pos] != first_n[pos]) {   /* replaced: the old one left */
            assert_int_equal(find_info(v2, n2, FAKE_SHARDS_PORT0 + first_n[pos]), -1);
            assert_int_equal(v2[i2].reads + v2[i2].writes, 0);
            gone++;
            continue;
        }
        /* The same node: its counters and its connection carried over. */
        assert_int_equal(v2[i2].reads, v1[i1].reads);
        assert_int_equal(v2[i2].connected, v1[i1].connected);
        kept += v1[i1].connected;
    }
    fprintf(stderr, "  %d connected nodes kept their connection, %d nodes replaced\n", kept,
            gone);
    assert_true(kept > 100);
    assert_int_equal(gone, N / 10);
    assert_true(st2.connects <= st1.connects + 1);   /* at most the map load's node */
    check_owners(c, second_n);
    clusterc_free(c);
    fake_shards_stop();
}

/* Node ids (fake_shards: "00000000" then the number in 32 digits) are
 * found in the new map, and a departed node's id is refused. */
static void test_ids_after_change(void **state)
{
    (void)state;
    static int first_n[N], second_n[N];
    char id[48];
    size_t len;
    for (int i = 0; i < N; i++) {
        first_n[i] = i;
        second_n[i] = second(i);
    }
    assert_int_equal(fake_shards_start(1), 0);
    set_map(fake_shards_reply(P, R, first_n, &len), &len);
    clusterc_client *c = client();
    set_map(fake_shards_reply(P, R, second_n, &len), &len);
    assert_int_equal(clusterc_refresh(c), 0);
    snprintf(id, sizeof(id), "00000000%032d", second(13));   /* a newcomer */
    redisReply *r = clusterc_command_to_node(c, id, "PING");
    if (!r)
        fail_msg("PING to %s: %s", id, clusterc_errstr(c));
    freeReplyObject(r);
    snprintf(id, sizeof(id), "00000000%032d", 13);           /* it replaced this one */
    assert_null(clusterc_command_to_node(c, id, "PING"));
    assert_int_equal(clusterc_error(c), CLUSTERC_EINVAL);
    clusterc_free(c);
    fake_shards_stop();
}

/* An ACL user without +command: the built-in table serves, and COMMAND is
 * not asked after every map load (it was: docs/security.md, F8). */
static void test_command_refused_once(void **state)
{
    (void)state;
    size_t len;
    assert_int_equal(fake_shards_start(0), 0);
    set_map(fake_shards_reply(3, 1, NULL, &len), &len);
    clusterc_client *c = client();
    for (int i = 0; i < 10; i++)
        assert_int_equal(clusterc_refresh(c), 0);
    redisReply *r = clusterc_command(c, "GET k");
    assert_non_null(r);
    freeReplyObject(r);
    fprintf(stderr, "  COMMAND asked %ld times in 11 map loads\n", fake_shards_commands());
    assert_int_equal(fake_shards_commands(), 1);
    clusterc_free(c);
    fake_shards_stop();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reinstall_keeps_identity),
        cmocka_unit_test(test_ids_after_change),
        cmocka_unit_test(test_command_refused_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
