/* it_overload.c -- the bounds that keep memory in check under overload
 * (max_inflight, max_node_queue), against a real 3-primary cluster:
 * a primary frozen with SIGSTOP while an async client submits 1,000,000
 * commands; a node whose connection is still opening while a pipeline
 * piles up for it. Ports 23900-23902 (bus ports 13900+). */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "itest.h"

#define SUBMITS 1000000
static harness *H;

static int setup(void **state)
{
    (void)state;
    /* A node timeout far above the freeze (13 s of submits under ASan):
     * the frozen primary must not be failed, or the cluster goes down. */
    H = harness_start(23900, 3, 0, "--node-timeout 60000");
    return H ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(H);
    return 0;
}

/* Resident set size of this process, in kB. */
static long rss_kb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

typedef struct {
    long ok, timeouts, other, done;
    int64_t last_ms;
} tally;

static void on_set(clusterc_async *a, redisReply *r, void *pd)
{
    tally *t = pd;
    (void)a;
    if (r && r->type != REDIS_REPLY_ERROR)
        t->ok++;
    else if (!r && clusterc_async_error(a) == CLUSTERC_ETIMEOUT)
        t->timeouts++;
    else
        t->other++;
    t->done++;
    t->last_ms = it_now_ms();
}

typedef struct {
    struct event_base *base;
    clusterc_async *a;
    int port;
} frozen;

/* An async client, warmed up (map loaded, the key's node connected). */
static void open_client(frozen *f, int timeout_ms)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    o.command_timeout_ms = timeout_ms;
    f->base = event_base_new();
    f->a = clusterc_async_connect(f->base, &o);
    assert_non_null(f->a);
    tally warm = { 0 };
    assert_int_equal(clusterc_async_command(f->a, on_set, &warm, "SET {ov}:warm 1"), 0);
    int one = 1;
    for (int64_t end = it_now_ms() + 5000; warm.done < one && it_now_ms() < end;)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_int_equal(warm.ok, 1);
    f->port = harness_primary_of_slot(H, clusterc_keyslot("{ov}", 4));
}

/* Submit SUBMITS SETs to the frozen node; returns how many were taken. */
static long submit_all(frozen *f, tally *t, long *refused, char *why, size_t cap)
{
    long taken = 0;
    *refused = 0;
    for (long i = 0; i < SUBMITS; i++) {
        if (clusterc_async_command(f->a, on_set, t, "SET {ov}:%ld %ld", i % 1000, i) == 0) {
            taken++;
            continue;
        }
        if (clusterc_async_error(f->a) != CLUSTERC_EOVERLOAD)
            fail_msg("submit %ld: %s", i, clusterc_async_errstr(f->a));
        if ((*refused)++ == 0)
            snprintf(why, cap, "%s", clusterc_async_errstr(f->a));
    }
    return taken;
}

/* A frozen primary, 1,000,000 submits: the first max_inflight are taken,
 * the rest refused at once; memory stays bounded; after SIGCONT every
 * taken command has completed or failed by its deadline. */
static void test_frozen_primary(void **state)
{
    (void)state;
    const int timeout_ms = 2000;
    frozen f;
    tally t = { 0 };
    char why[256] = "";
    long refused;
    open_client(&f, timeout_ms);
    long rss0 = rss_kb();
    assert_int_equal(harness_kill(H, f.port, "STOP"), 0);
    int64_t t0 = it_now_ms();
    long taken = submit_all(&f, &t, &refused, why, sizeof(why));
    int64_t t1 = it_now_ms();
    long rss1 = rss_kb();
    fprintf(stderr, "  %d submits in %lld ms: %ld taken, %ld refused (\"%s\"); RSS %ld -> %ld kB\n",
            SUBMITS, (long long)(t1 - t0), taken, refused, why, rss0, rss1);
    usleep(500 * 1000);
    /* Thawed before any assertion: a failed one must not leave the node
     * frozen (and the cluster down) for the next test. */
    assert_int_equal(harness_kill(H, f.port, "CONT"), 0);
    assert_int_equal(taken, 100000);   /* the default max_inflight */
    assert_int_equal(refused, SUBMITS - 100000);
    assert_non_null(strstr(why, "max_inflight"));
#ifndef CLUSTERC_TEST_SANITIZED
    /* 100,000 requests of ~40 bytes with their timers and buffers (about
     * 740 bytes each). Not under ASan: its redzones and its quarantine of
     * freed blocks make the same 100,000 cost some 700 MB. */
    assert_true(rss1 - rss0 < 160 * 1024);
#endif
    while (t.done < taken && it_now_ms() < t1 + timeout_ms + 10000)
        event_base_loop(f.base, EVLOOP_ONCE);
    fprintf(stderr, "  after SIGCONT: %ld ok, %ld timed out, %ld other; last at +%lld ms\n",
            t.ok, t.timeouts, t.other, (long long)(t.last_ms - t0));
    assert_int_equal(t.done, taken);
    assert_int_equal(t.other, 0);
    assert_true(t.last_ms - t0 <= (t1 - t0) + timeout_ms + 1000);
    /* Healthy again: a fresh round goes through. */
    tally after = { 0 };
    for (int i = 0; i < 100; i++)
        assert_int_equal(clusterc_async_command(f.a, on_set, &after, "SET {ov}:x%d 1", i), 0);
    while (after.done < 100 && it_now_ms() < t1 + 60000)
        event_base_loop(f.base, EVLOOP_ONCE);
    assert_int_equal(after.ok, 100);
    clusterc_async_free(f.a);
    event_base_free(f.base);
}

/* A pipeline for a node whose connection is not up yet: max_node_queue
 * commands wait for it, the rest fail at once with CLUSTERC_EOVERLOAD. */
static void test_node_queue(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);
    o.max_node_queue = 1000;
    clusterc_client *c = it_client(H, &o);
    /* The map came from the first seed; a key of another primary's slot
     * goes to a connection that opens on the first append. */
    int seed = harness_port(H, 0);
    char key[32];
    int i = 0;
    do
        snprintf(key, sizeof(key), "nq:%d", i++);
    while (harness_primary_of_slot(H, clusterc_keyslot(key, strlen(key))) == seed);
    for (int k = 0; k < 5000; k++)
        assert_int_equal(clusterc_append_command(c, "GET %s", key), 0);
    int ok = 0, over = 0;
    void *reply;
    for (int k = 0; k < 5000; k++) {
        if (clusterc_get_reply(c, &reply) == 0) {
            ok++;
            freeReplyObject(reply);
        } else if (clusterc_error(c) == CLUSTERC_EOVERLOAD) {
            if (over++ == 0)
                fprintf(stderr, "  %s\n", clusterc_errstr(c));
        } else {
            fail_msg("reply %d: %s", k, clusterc_errstr(c));
        }
    }
    fprintf(stderr, "  5000 appended: %d answered, %d refused\n", ok, over);
    assert_int_equal(ok, 1000);
    assert_int_equal(over, 4000);
    redisReply *r = clusterc_command(c, "GET %s", key);   /* connected now */
    assert_non_null(r);
    freeReplyObject(r);
    clusterc_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frozen_primary),
        cmocka_unit_test(test_node_queue),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
