/* it_migrate.c -- a live slot migration done by the test (SETSLOT
 * IMPORTING/MIGRATING, MIGRATE in batches, SETSLOT NODE) while both faces
 * read and write the slot's keys: every command succeeds, and ASK and MOVED
 * are both exercised. Ports 20100-20105. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "itest.h"

#define NKEYS 200
#define BATCH 20
static harness *H;

static int setup(void **state)
{
    (void)state;
    H = harness_start(20100, 3, 1, NULL);
    return H ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(H);
    return 0;
}

/* Every key of the slot, old and new, reads back what was written. */
static void check_all(clusterc_client *c, int nnew)
{
    for (int i = 0; i < NKEYS; i++) {
        char want[32];
        snprintf(want, sizeof(want), "v%d", i);
        redisReply *r = clusterc_command(c, "GET {mig}k%d", i);
        if (!r)
            fail_msg("GET {mig}k%d: %s", i, clusterc_errstr(c));
        it_expect_str(r, want);
        freeReplyObject(r);
    }
    for (int i = 0; i < nnew; i++) {
        redisReply *r = clusterc_command(c, "GET {mig}new%d", i);
        if (!r)
            fail_msg("GET {mig}new%d: %s", i, clusterc_errstr(c));
        it_expect_str(r, "n");
        freeReplyObject(r);
    }
}

typedef struct acount { int ok, bad, want, done; } acount;

static void on_get(clusterc_async *a, redisReply *r, void *pd)
{
    acount *k = pd;
    if (r && r->type == REDIS_REPLY_STRING)
        k->ok++;
    else {
        k->bad++;
        fprintf(stderr, "async GET: %s\n", r ? r->str : clusterc_async_errstr(a));
    }
    k->done = k->ok + k->bad == k->want;
}

static void async_reads(struct event_base *base, clusterc_async *a)
{
    acount k = { 0, 0, NKEYS, 0 };
    for (int i = 0; i < NKEYS; i++)
        assert_int_equal(clusterc_async_command(a, on_get, &k, "GET {mig}k%d", i), 0);
    assert_true(it_loop_until(base, &k.done, 10000));
    assert_int_equal(k.bad, 0);
}

static void migrate_batch(int src, int dst, int from)
{
    const char *argv[8 + BATCH];
    char keys[BATCH][32], port[8];
    int argc = 0;
    snprintf(port, sizeof(port), "%d", dst);
    argv[argc++] = "MIGRATE"; argv[argc++] = "127.0.0.1"; argv[argc++] = port;
    argv[argc++] = "";        argv[argc++] = "0";         argv[argc++] = "5000";
    argv[argc++] = "KEYS";
    for (int i = from; i < from + BATCH && i < NKEYS; i++) {
        snprintf(keys[i - from], sizeof(keys[0]), "{mig}k%d", i);
        argv[argc++] = keys[i - from];
    }
    redisContext *rc = harness_connect(src);
    assert_non_null(rc);
    redisReply *r = redisCommandArgv(rc, argc, argv, NULL);
    if (!r || r->type == REDIS_REPLY_ERROR)
        fail_msg("MIGRATE: %s", r ? r->str : rc->errstr);
    freeReplyObject(r);
    redisFree(rc);
}

static void test_live_migration(void **state)
{
    (void)state;
    int slot = clusterc_keyslot("mig", 3);
    int src = harness_primary_of_slot(H, slot);
    int dst = it_other_master(H, src);
    clusterc_client *c = it_client(H, NULL);
    struct event_base *base = event_base_new();
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    clusterc_async *a = clusterc_async_connect(base, &o);

    for (int i = 0; i < NKEYS; i++) {
        redisReply *r = clusterc_command(c, "SET {mig}k%d v%d", i, i);
        it_expect_str(r, "OK");
        freeReplyObject(r);
    }
    async_reads(base, a);
    it_node_ok(H, dst, "CLUSTER SETSLOT %d IMPORTING %s", slot, it_id_of_port(H, src));
    it_node_ok(H, src, "CLUSTER SETSLOT %d MIGRATING %s", slot, it_id_of_port(H, dst));
    int nnew = 0;
    for (int from = 0; from < NKEYS; from += BATCH) {
        migrate_batch(src, dst, from);
        /* New keys while the slot is half moved: the source does not have
         * them, so it answers ASK and the target takes them after ASKING. */
        redisReply *r = clusterc_command(c, "SET {mig}new%d n", nnew++);
        if (!r)
            fail_msg("SET during migration: %s", clusterc_errstr(c));
        it_expect_str(r, "OK");
        freeReplyObject(r);
        check_all(c, nnew);
        async_reads(base, a);
    }
    /* Target first, then source, then everyone (as redis-cli does). */
    it_node_ok(H, dst, "CLUSTER SETSLOT %d NODE %s", slot, it_id_of_port(H, dst));
    it_node_ok(H, src, "CLUSTER SETSLOT %d NODE %s", slot, it_id_of_port(H, dst));
    for (int i = 0; i < harness_count(H); i++)
        if (strcmp(harness_role(H, i), "master") == 0 && harness_port(H, i) != src &&
            harness_port(H, i) != dst)
            it_node_ok(H, harness_port(H, i), "CLUSTER SETSLOT %d NODE %s", slot,
                       it_id_of_port(H, dst));
    check_all(c, nnew);      /* the old owner now answers MOVED */
    async_reads(base, a);

    clusterc_stats st, ast;
    clusterc_get_stats(c, &st);
    clusterc_async_get_stats(a, &ast);
    fprintf(stderr, "blocking: ask=%llu moved=%llu refreshes=%llu failures=%llu\n",
            (unsigned long long)st.ask, (unsigned long long)st.moved,
            (unsigned long long)st.refreshes, (unsigned long long)st.failures);
    fprintf(stderr, "async: ask=%llu moved=%llu refreshes=%llu failures=%llu\n",
            (unsigned long long)ast.ask, (unsigned long long)ast.moved,
            (unsigned long long)ast.refreshes, (unsigned long long)ast.failures);
    assert_true(st.ask > 0);
    assert_true(st.moved > 0);
    assert_true(ast.ask > 0);
    assert_true(ast.moved > 0);
    assert_int_equal(st.failures, 0);
    assert_int_equal(ast.failures, 0);
    /* A burst of MOVED costs one refresh each time, not one per reply. */
    assert_true(st.refreshes <= 3);
    clusterc_async_free(a);
    event_base_free(base);
    clusterc_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_migration),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
