/* it_scan.c -- the cluster-wide SCAN (issue 10) on a 3+3 cluster: every
 * key once while stable; MATCH, TYPE and COUNT; every key at least once
 * through a live slot migration and through a manual failover (the
 * duplicates are counted and reported); the async face returns the same
 * set; a scan freed half-way leaks nothing (the ASan build checks). Ports
 * 22800-22805 (bus 32800-32805). */
#define _DEFAULT_SOURCE   /* usleep */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "itest.h"

#define BASE 22800
#define NKEYS 10000
#define NHASH 100
#define NMIG 5000      /* keys of the migrating slot: a third of them all */
static harness *H;
static char TAG[16];   /* hash tag of the migrating keys */

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

/* ------------------------------------------------------------- helpers */

static clusterc_client *client(void)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.command_timeout_ms = 5000;
    return it_client(H, &o);
}

/* cmd fmt with i for from <= i < to, pipelined; every reply not an error. */
static void pipe_many(clusterc_client *c, const char *fmt, const char *tag, int from, int to)
{
    for (int i = from; i < to; i++)
        if (tag)
            assert_int_equal(clusterc_append_command(c, fmt, tag, i, i), 0);
        else
            assert_int_equal(clusterc_append_command(c, fmt, i, i), 0);
    for (int i = from; i < to; i++) {
        void *v = NULL;
        if (clusterc_get_reply(c, &v) != 0)
            fail_msg("load %d: %s", i, clusterc_errstr(c));
        assert_int_not_equal(((redisReply *)v)->type, REDIS_REPLY_ERROR);
        freeReplyObject(v);
    }
}

static void ensure_keys(clusterc_client *c)
{
    static int loaded;
    if (loaded)
        return;
    for (int from = 0; from < NKEYS; from += 1000)
        pipe_many(c, "SET k:%d v:%d", NULL, from, from + 1000);
    pipe_many(c, "HSET h:%d f %d", NULL, 0, NHASH);
    loaded = 1;
}

/* What a scan saw: counts per key index. */
typedef struct seen {
    int k[NKEYS], h[NHASH], m[NMIG];
    long total, other, batches, max_batch;
} seen;

static void see_key(seen *sn, const char *key)
{
    int i;
    char tagged[24];
    snprintf(tagged, sizeof(tagged), "{%s}", TAG);
    if (sscanf(key, "k:%d", &i) == 1 && i >= 0 && i < NKEYS)
        sn->k[i]++;
    else if (sscanf(key, "h:%d", &i) == 1 && i >= 0 && i < NHASH)
        sn->h[i]++;
    else if (TAG[0] && strncmp(key, tagged, strlen(tagged)) == 0 &&
             (i = atoi(key + strlen(tagged))) >= 0 && i < NMIG)
        sn->m[i]++;
    else
        sn->other++;
    sn->total++;
}

static void see_batch(seen *sn, const redisReply *keys)
{
    assert_int_equal(keys->type, REDIS_REPLY_ARRAY);
    assert_true(keys->elements > 0);
    for (size_t i = 0; i < keys->elements; i++) {
        assert_int_equal(keys->element[i]->type, REDIS_REPLY_STRING);
        see_key(sn, keys->element[i]->str);
    }
    sn->batches++;
    if ((long)keys->elements > sn->max_batch)
        sn->max_batch = (long)keys->elements;
}

/* Keys seen 0 times and keys seen more than once, over counts[0..n). */
static void tally(const int *counts, int n, int *missing, int *dups)
{
    for (int i = 0; i < n; i++) {
        *missing += counts[i] == 0;
        *dups += counts[i] > 1 ? counts[i] - 1 : 0;
    }
}

/* Scan to the end; between batches, step(i) (may be NULL). */
static void scan_all(clusterc_client *c, const char *match, long count, const char *type,
                     seen *sn, void (*step)(long))
{
    clusterc_scan *s = clusterc_scan_start(c, match, count, type);
    assert_non_null(s);
    redisReply *keys = NULL;
    int rc;
    memset(sn, 0, sizeof(*sn));
    while ((rc = clusterc_scan_next(s, &keys)) == 1) {
        see_batch(sn, keys);
        freeReplyObject(keys);
        if (step)
            step(sn->batches);
        assert_true(sn->batches < 100000);   /* bounded */
    }
    if (rc < 0)
        fail_msg("scan: %s", clusterc_errstr(c));
    assert_null(keys);
    assert_int_equal(clusterc_scan_next(s, &keys), 0);   /* stays finished */
    clusterc_scan_free(s);
}

/* -------------------------------------------------------------- stable */

static void test_full_scan_once_each(void **state)
{
    (void)state;
    clusterc_client *c = client();
    ensure_keys(c);
    static seen sn;
    scan_all(c, "k:*", 100, NULL, &sn, NULL);
    int missing = 0, dups = 0;
    tally(sn.k, NKEYS, &missing, &dups);
    fprintf(stderr, "  stable: %ld keys in %ld batches, %d missing, %d duplicates\n", sn.total,
            sn.batches, missing, dups);
    assert_int_equal(missing, 0);
    assert_int_equal(dups, 0);
    assert_int_equal(sn.total, NKEYS);
    scan_all(c, NULL, 0, NULL, &sn, NULL);   /* everything, default COUNT */
    assert_int_equal(sn.total, NKEYS + NHASH);
    clusterc_free(c);
}

static void test_match_and_type(void **state)
{
    (void)state;
    clusterc_client *c = client();
    ensure_keys(c);
    static seen sn;
    scan_all(c, "k:1*", 200, NULL, &sn, NULL);   /* k:1, k:10.., k:100.., k:1000.. */
    assert_int_equal(sn.total, 1 + 10 + 100 + 1000);
    assert_int_equal(sn.other + sn.h[0], 0);
    scan_all(c, NULL, 500, "hash", &sn, NULL);
    assert_int_equal(sn.total, NHASH);
    for (int i = 0; i < NHASH; i++)
        assert_int_equal(sn.h[i], 1);
    scan_all(c, "h:*", 500, "string", &sn, NULL);   /* none: no batch at all */
    assert_int_equal(sn.total, 0);
    assert_int_equal(sn.batches, 0);
    clusterc_free(c);
}

static void test_count_hint(void **state)
{
    (void)state;
    clusterc_client *c = client();
    ensure_keys(c);
    static seen small, big;
    scan_all(c, "k:*", 10, NULL, &small, NULL);
    scan_all(c, "k:*", 1000, NULL, &big, NULL);
    fprintf(stderr, "  COUNT 10: %ld batches (max %ld); COUNT 1000: %ld batches (max %ld)\n",
            small.batches, small.max_batch, big.batches, big.max_batch);
    assert_int_equal(small.total, NKEYS);
    assert_int_equal(big.total, NKEYS);
    assert_true(small.max_batch <= 100);          /* loosely: SCAN may return a few more */
    assert_true(big.max_batch > 100);
    assert_true(big.batches * 10 < small.batches);
    clusterc_free(c);
}

/* ------------------------------------------------------- live migration */

static int slot_has_k(int slot)
{
    char key[32];
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof(key), "k:%d", i);
        if (clusterc_keyslot(key, strlen(key)) == slot)
            return 1;
    }
    for (int i = 0; i < NHASH; i++) {
        snprintf(key, sizeof(key), "h:%d", i);
        if (clusterc_keyslot(key, strlen(key)) == slot)
            return 1;
    }
    return 0;
}

/* A slot with no other test key, served by slot 0's primary: the scan
 * walks that node first, so the migration runs while its scan does. */
static int choose_tag(void)
{
    int first = harness_primary_of_slot(H, 0);
    for (int t = 0; t < 1000; t++) {
        snprintf(TAG, sizeof(TAG), "smig%d", t);
        int slot = clusterc_keyslot(TAG, strlen(TAG));
        if (!slot_has_k(slot) && harness_primary_of_slot(H, slot) == first)
            return slot;
    }
    fail_msg("no free slot for the migration");
    return -1;
}

#define MIG_BATCH 100
static int Msrc, Mdst, Mslot, Mnext;   /* the migration in progress */

static void migrate_batch(void)
{
    const char *argv[8 + MIG_BATCH];
    static char keys[MIG_BATCH][32];
    char port[8];
    int argc = 0;
    snprintf(port, sizeof(port), "%d", Mdst);
    argv[argc++] = "MIGRATE"; argv[argc++] = "127.0.0.1"; argv[argc++] = port;
    argv[argc++] = "";        argv[argc++] = "0";         argv[argc++] = "5000";
    argv[argc++] = "KEYS";
    for (int i = 0; i < MIG_BATCH && Mnext < NMIG; i++, Mnext++) {
        snprintf(keys[i], sizeof(keys[0]), "{%s}%d", TAG, Mnext);
        argv[argc++] = keys[i];
    }
    redisContext *rc = harness_connect(Msrc);
    assert_non_null(rc);
    redisReply *r = redisCommandArgv(rc, argc, argv, NULL);
    if (!r || r->type == REDIS_REPLY_ERROR)
        fail_msg("MIGRATE: %s", r ? r->str : rc->errstr);
    freeReplyObject(r);
    redisFree(rc);
}

static void finish_migration(void)
{
    const char *dst_id = it_id_of_port(H, Mdst);
    it_node_ok(H, Mdst, "CLUSTER SETSLOT %d NODE %s", Mslot, dst_id);
    it_node_ok(H, Msrc, "CLUSTER SETSLOT %d NODE %s", Mslot, dst_id);
    for (int i = 0; i < harness_count(H); i++) {
        int p = harness_port(H, i);
        if (strcmp(harness_role(H, i), "master") == 0 && p != Msrc && p != Mdst)
            it_node_ok(H, p, "CLUSTER SETSLOT %d NODE %s", Mslot, dst_id);
    }
    Mslot = -1;
}

/* Between scan batches: one MIGRATE batch every 10 batches, then the end. */
static void migration_step(long batch)
{
    if (Mslot < 0 || batch % 10 != 0)
        return;
    if (Mnext < NMIG)
        migrate_batch();
    else
        finish_migration();
}

static void test_scan_during_migration(void **state)
{
    (void)state;
    assert_int_equal(harness_wait_ok(H, 30), 0);
    clusterc_client *c = client();
    ensure_keys(c);
    int slot = choose_tag();
    char fmt[48];
    snprintf(fmt, sizeof(fmt), "SET {%%s}%%d m%%d");
    for (int from = 0; from < NMIG; from += 1000)
        pipe_many(c, fmt, TAG, from, from + 1000);
    Msrc = harness_primary_of_slot(H, slot);
    Mdst = it_other_master(H, Msrc);
    it_node_ok(H, Mdst, "CLUSTER SETSLOT %d IMPORTING %s", slot, it_id_of_port(H, Msrc));
    it_node_ok(H, Msrc, "CLUSTER SETSLOT %d MIGRATING %s", slot, it_id_of_port(H, Mdst));
    Mslot = slot;
    Mnext = 0;
    static seen sn;
    scan_all(c, NULL, 10, NULL, &sn, migration_step);
    if (Mslot >= 0) {   /* the scan outran it: finish for the next tests */
        while (Mnext < NMIG)
            migrate_batch();
        finish_migration();
    }
    int missing = 0, dups = 0;
    tally(sn.k, NKEYS, &missing, &dups);
    tally(sn.h, NHASH, &missing, &dups);
    tally(sn.m, NMIG, &missing, &dups);
    fprintf(stderr, "  migration: %ld keys in %ld batches, %d missing, %d duplicates\n",
            sn.total, sn.batches, missing, dups);
    assert_int_equal(missing, 0);
    assert_int_equal(sn.other, 0);
    assert_int_equal(harness_primary_of_slot(H, slot), Mdst);
    clusterc_free(c);
}

/* -------------------------------------------------------------- failover */

static int role_is_master(int port)
{
    redisReply *r = harness_cmd(H, port, "ROLE");
    int yes = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
              strcmp(r->element[0]->str, "master") == 0;
    freeReplyObject(r);
    return yes;
}

/* The replica of the primary on port (from its ROLE), or fail. */
static int replica_of(int port)
{
    for (int i = 0; i < harness_count(H); i++) {
        if (strcmp(harness_role(H, i), "slave") != 0)
            continue;
        redisReply *r = harness_cmd(H, harness_port(H, i), "ROLE");
        int mine = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
                   r->element[2]->type == REDIS_REPLY_INTEGER && r->element[2]->integer == port;
        freeReplyObject(r);
        if (mine)
            return harness_port(H, i);
    }
    fail_msg("no replica of %d", port);
    return -1;
}

static int Freplica;
static int64_t Fasked;

/* Between scan batches: ask for the failover at batch 100 (again every 6
 * s until done), and go slowly meanwhile (1 ms a batch). */
static void failover_step(long batch)
{
    if (batch >= 100 && !role_is_master(Freplica) && it_now_ms() - Fasked > 6000) {
        it_node_ok(H, Freplica, "CLUSTER FAILOVER");
        Fasked = it_now_ms();
    }
    usleep(1000);
}

static void test_scan_during_failover(void **state)
{
    (void)state;
    assert_int_equal(harness_wait_ok(H, 30), 0);
    clusterc_client *c = client();
    ensure_keys(c);
    /* slot 0's primary is scanned first: it fails over during its scan */
    Freplica = replica_of(harness_primary_of_slot(H, 0));
    Fasked = 0;
    static seen sn;
    scan_all(c, NULL, 10, NULL, &sn, failover_step);
    int missing = 0, dups = 0;
    tally(sn.k, NKEYS, &missing, &dups);
    tally(sn.h, NHASH, &missing, &dups);
    tally(sn.m, NMIG, &missing, &dups);
    fprintf(stderr, "  failover: %ld keys in %ld batches, %d missing, %d duplicates\n",
            sn.total, sn.batches, missing, dups);
    assert_true(Fasked != 0);
    int64_t end = it_now_ms() + 20000;
    while (!role_is_master(Freplica) && it_now_ms() < end)
        usleep(100000);
    assert_true(role_is_master(Freplica));
    assert_int_equal(missing, 0);
    assert_int_equal(harness_wait_ok(H, 30), 0);
    clusterc_free(c);
}

/* ------------------------------------------------------------ async face */

typedef struct ascan {
    seen *sn;
    int done, status;
    struct event_base *base;
    int free_after;    /* free the scan from the callback after this batch */
} ascan;

static void on_batch(clusterc_async_scan *s, redisReply *keys, int status, void *pd)
{
    ascan *as = pd;
    if (status == 1) {
        see_batch(as->sn, keys);
        freeReplyObject(keys);
        if (as->free_after && as->sn->batches >= as->free_after) {
            clusterc_async_scan_free(s);
            as->done = 1;
            return;
        }
        if (clusterc_async_scan_next(s, on_batch, as) == 0)
            return;
        status = -1;
    }
    as->status = status;
    as->done = 1;
}

static clusterc_async *async_client(struct event_base *base)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    o.command_timeout_ms = 5000;
    clusterc_async *a = clusterc_async_connect(base, &o);
    assert_non_null(a);
    return a;
}

static void test_async_same_set(void **state)
{
    (void)state;
    clusterc_client *c = client();
    ensure_keys(c);
    static seen bl, as_seen;
    scan_all(c, NULL, 50, NULL, &bl, NULL);
    clusterc_free(c);
    struct event_base *base = event_base_new();
    clusterc_async *a = async_client(base);
    clusterc_async_scan *s = clusterc_async_scan_start(a, NULL, 50, NULL);
    assert_non_null(s);
    memset(&as_seen, 0, sizeof(as_seen));
    ascan as = { &as_seen, 0, 99, base, 0 };
    assert_int_equal(clusterc_async_scan_next(s, on_batch, &as), 0);
    assert_int_equal(clusterc_async_scan_next(s, on_batch, &as), -1);   /* one at a time */
    assert_int_equal(clusterc_async_error(a), CLUSTERC_EUSAGE);
    assert_true(it_loop_until(base, &as.done, 60000));
    if (as.status != 0)
        fail_msg("async scan: %s", clusterc_async_errstr(a));
    clusterc_async_scan_free(s);
    int missing = 0, dups = 0;
    tally(as_seen.k, NKEYS, &missing, &dups);
    tally(as_seen.h, NHASH, &missing, &dups);
    tally(as_seen.m, NMIG, &missing, &dups);
    assert_int_equal(missing, 0);
    assert_int_equal(dups, 0);
    assert_int_equal(as_seen.total, bl.total);
    assert_int_equal(memcmp(as_seen.k, bl.k, sizeof(bl.k)), 0);
    assert_int_equal(memcmp(as_seen.m, bl.m, sizeof(bl.m)), 0);
    clusterc_async_free(a);
    event_base_loop(base, EVLOOP_NONBLOCK);
    event_base_free(base);
}

/* ------------------------------------------------------- freed half-way */

static void test_free_midway(void **state)
{
    (void)state;
    clusterc_client *c = client();
    ensure_keys(c);
    clusterc_scan *s = clusterc_scan_start(c, "k:*", 10, NULL);
    redisReply *keys = NULL;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(clusterc_scan_next(s, &keys), 1);
        freeReplyObject(keys);
    }
    clusterc_scan_free(s);
    clusterc_scan_free(NULL);
    clusterc_scan_free(clusterc_scan_start(c, NULL, 10, NULL));   /* never stepped */
    clusterc_free(c);

    struct event_base *base = event_base_new();
    clusterc_async *a = async_client(base);
    static seen sn;
    memset(&sn, 0, sizeof(sn));
    ascan as = { &sn, 0, 0, base, 5 };   /* freed from its callback */
    s = NULL;
    clusterc_async_scan *as1 = clusterc_async_scan_start(a, NULL, 10, NULL);
    assert_int_equal(clusterc_async_scan_next(as1, on_batch, &as), 0);
    assert_true(it_loop_until(base, &as.done, 20000));
    clusterc_async_scan *as2 = clusterc_async_scan_start(a, NULL, 10, NULL);
    ascan never = { &sn, 0, 0, base, 0 };
    assert_int_equal(clusterc_async_scan_next(as2, on_batch, &never), 0);
    clusterc_async_scan_free(as2);   /* before its step ran: no callback */
    clusterc_async_scan *as3 = clusterc_async_scan_start(a, NULL, 10, NULL);
    assert_int_equal(clusterc_async_scan_next(as3, on_batch, &never), 0);
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);   /* its SCAN is sent */
    clusterc_async_scan_free(as3);   /* with its command pending */
    int idle = 0;
    it_loop_until(base, &idle, 300);
    assert_int_equal(never.done, 0);
    clusterc_async_scan_free(NULL);
    clusterc_async_free(a);
    event_base_loop(base, EVLOOP_NONBLOCK);
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_scan_once_each),
        cmocka_unit_test(test_match_and_type),
        cmocka_unit_test(test_count_hint),
        cmocka_unit_test(test_free_midway),
        cmocka_unit_test(test_scan_during_migration),
        cmocka_unit_test(test_async_same_set),
        cmocka_unit_test(test_scan_during_failover),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
