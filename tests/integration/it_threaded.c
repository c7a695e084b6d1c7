/* it_threaded.c -- the thread-safe face (threaded.h) on a real 3+3 cluster:
 * completions by queue and by callback, packed batches, the descriptor,
 * Pub/Sub, refusals, many threads submitting mixed commands while a
 * primary fails over and slots migrate (every command completes exactly
 * once, every value read back is the last one written), and a close with
 * thousands of commands in flight (nothing leaks: ASan in CI, and the
 * ThreadSanitizer build of .ci/run).
 * Ports: 25000-25005 (bus 15000-15005; 24400 is it_tls_valkey's). */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <clusterc/admin.h>
#include <clusterc/threaded.h>
#include "itest.h"

#define BASE 25000

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

static clusterc_threaded *connect_t(int timeout_ms)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    o.command_timeout_ms = timeout_ms;
    clusterc_threaded *t = clusterc_threaded_connect(&o);
    assert_non_null(t);
    assert_int_equal(clusterc_threaded_error(t), 0);
    return t;
}

/* Wait for exactly one completion and return it. */
static clusterc_completion wait_one(clusterc_threaded *t)
{
    clusterc_completion c;
    int n = clusterc_threaded_wait(t, &c, 1, 5000);
    assert_int_equal(n, 1);
    return c;
}

/* ------------------------------------------------------------ basics */

static void test_queue(void **state)
{
    (void)state;
    clusterc_threaded *t = connect_t(2000);
    assert_int_equal(clusterc_threaded_submit(t, 1, CLUSTERC_ROUTE_DEFAULT, "SET %s %s",
                                              "tq:a", "alpha"), 0);
    clusterc_completion c = wait_one(t);
    assert_int_equal(c.token, 1);
    assert_int_equal(c.kind, CLUSTERC_COMPLETION_REPLY);
    assert_int_equal(c.code, 0);
    assert_non_null(c.reply);
    assert_int_equal(c.reply->type, REDIS_REPLY_STATUS);
    clusterc_completion_release(&c);
    assert_null(c.reply);

    const char *argv[] = {"GET", "tq:a"};
    assert_int_equal(clusterc_threaded_submit_argv(t, 2, CLUSTERC_ROUTE_PRIMARY, 2, argv, NULL), 0);
    /* The descriptor: readable once the completion is queued, not after
     * the queue is emptied. */
    struct pollfd p = {.fd = clusterc_threaded_fd(t), .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    clusterc_completion out[4];
    assert_int_equal(clusterc_threaded_poll(t, out, 4), 1);
    assert_int_equal(out[0].token, 2);
    it_expect_str(out[0].reply, "alpha");
    clusterc_completion_release(&out[0]);
    assert_int_equal(poll(&p, 1, 0), 0);
    assert_int_equal(clusterc_threaded_poll(t, out, 4), 0);
    assert_int_equal(clusterc_threaded_pending(t), 0);

    /* A server error reply is a reply; a failure has a code and a text. */
    assert_int_equal(clusterc_threaded_submit(t, 3, 0, "INCR %s", "tq:a"), 0);
    c = wait_one(t);
    assert_int_equal(c.reply->type, REDIS_REPLY_ERROR);
    clusterc_completion_release(&c);
    assert_int_equal(clusterc_threaded_submit_to_node(t, 4, "no-such-node-id", 1,
                                                      (const char *[]){"PING"}, NULL), 0);
    c = wait_one(t);
    assert_null(c.reply);
    assert_int_not_equal(c.code, 0);
    assert_non_null(c.errstr);
    fprintf(stderr, "unknown node: %s\n", c.errstr);
    clusterc_completion_release(&c);
    clusterc_threaded_free(t);
}

static void test_refusals(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);
    clusterc_threaded *t = clusterc_threaded_connect(&o);   /* no seeds */
    assert_non_null(t);
    assert_int_equal(clusterc_threaded_error(t), CLUSTERC_EINVAL);
    fprintf(stderr, "no seeds: %s\n", clusterc_threaded_errstr(t));
    assert_int_equal(clusterc_threaded_submit(t, 1, 0, "PING"), CLUSTERC_EINVAL);
    clusterc_completion c;
    assert_int_equal(clusterc_threaded_poll(t, &c, 1), CLUSTERC_ECLOSED);
    assert_int_equal(clusterc_threaded_wait(t, &c, 1, -1), CLUSTERC_ECLOSED);
    clusterc_threaded_free(t);

    t = clusterc_threaded_connect_url("redis://127.0.0.1:1?bogus_key=1");
    assert_non_null(t);
    assert_int_equal(clusterc_threaded_error(t), CLUSTERC_EINVAL);
    fprintf(stderr, "bad url: %s\n", clusterc_threaded_errstr(t));
    clusterc_threaded_free(t);

    t = connect_t(2000);
    assert_int_equal(clusterc_threaded_submit(t, 1, 99, "PING"), CLUSTERC_EINVAL);
    assert_int_equal(clusterc_threaded_submit_argv(t, 1, 0, 0, NULL, NULL), CLUSTERC_EINVAL);
    int argc[2] = {1, 0}, err = 0;
    size_t lens[1] = {4};
    uint64_t tok[2] = {1, 2};
    assert_int_equal(clusterc_threaded_submit_packed(t, 2, tok, NULL, argc, lens, "PING", &err),
                     1);   /* the first accepted, the second refused */
    assert_int_equal(err, CLUSTERC_EINVAL);
    c = wait_one(t);
    assert_int_equal(c.token, 1);
    clusterc_completion_release(&c);
    assert_int_equal(clusterc_threaded_subscribe(t, 1, 9, "ch"), CLUSTERC_EINVAL);
    assert_int_equal(clusterc_threaded_close(t), 0);
    assert_int_equal(clusterc_threaded_submit(t, 1, 0, "PING"), CLUSTERC_ECLOSED);
    assert_int_equal(clusterc_threaded_poll(t, &c, 1), CLUSTERC_ECLOSED);
    clusterc_stats st;
    assert_int_equal(clusterc_threaded_get_stats(t, &st), 0);   /* the final counters */
    assert_true(st.refreshes >= 1);
    clusterc_threaded_free(t);
}

/* On the loop thread, the calls that wait for it refuse. */
static atomic_int usage_seen;
static void usage_cb(clusterc_threaded *t, redisReply *r, int code, const char *e, void *pd)
{
    (void)r;
    (void)code;
    (void)e;
    (void)pd;
    clusterc_completion c;
    clusterc_stats st;
    int ok = clusterc_threaded_wait(t, &c, 1, 10) == CLUSTERC_EUSAGE &&
             clusterc_threaded_close(t) == CLUSTERC_EUSAGE &&
             clusterc_threaded_get_stats(t, &st) == CLUSTERC_EUSAGE &&
             clusterc_threaded_submit(t, 7, 0, "PING") == 0;   /* submitting is fine */
    atomic_store(&usage_seen, ok ? 1 : -1);
}

static void test_loop_thread_rules(void **state)
{
    (void)state;
    clusterc_threaded *t = connect_t(2000);
    assert_int_equal(clusterc_threaded_command(t, 0, usage_cb, NULL, "PING"), 0);
    clusterc_completion c = wait_one(t);   /* the PING the callback sent */
    assert_int_equal(c.token, 7);
    clusterc_completion_release(&c);
    assert_int_equal(atomic_load(&usage_seen), 1);
    clusterc_threaded_free(t);
}

static void test_packed_and_pubsub(void **state)
{
    (void)state;
    clusterc_threaded *t = connect_t(2000);
    enum { N = 1000 };
    static uint64_t tok[N];
    static int argc[N];
    static size_t lens[3 * N];
    static char buf[N * 32];
    size_t at = 0;
    for (int i = 0; i < N; i++) {
        tok[i] = 1000 + (uint64_t)i;
        argc[i] = 3;
        int n = sprintf(buf + at, "SETtp:%dv%d", i, i);
        lens[3 * i] = 3;
        lens[3 * i + 1] = (size_t)(strchr(buf + at + 3, 'v') - (buf + at + 3));
        lens[3 * i + 2] = (size_t)n - 3 - lens[3 * i + 1];
        at += (size_t)n;
    }
    int err = 0;
    assert_int_equal(clusterc_threaded_submit_packed(t, N, tok, NULL, argc, lens, buf, &err), N);
    static clusterc_completion out[N];
    static int seen[N];
    for (int got = 0; got < N;) {
        int n = clusterc_threaded_wait(t, out, N, 5000);
        assert_true(n > 0);
        for (int i = 0; i < n; i++) {
            assert_int_equal(out[i].code, 0);
            assert_int_equal(out[i].reply->type, REDIS_REPLY_STATUS);
            seen[out[i].token - 1000]++;
            clusterc_completion_release(&out[i]);
        }
        got += n;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);

    assert_int_equal(clusterc_threaded_subscribe(t, 55, CLUSTERC_PUBSUB_CHANNEL, "tch"), 0);
    clusterc_completion c;
    int64_t until = it_now_ms() + 5000;
    int got_msg = 0;
    while (!got_msg && it_now_ms() < until) {
        assert_int_equal(clusterc_threaded_submit(t, 2, 0, "PUBLISH tch hello"), 0);
        for (int n; (n = clusterc_threaded_wait(t, &c, 1, 200)) == 1;) {
            if (c.kind == CLUSTERC_COMPLETION_MESSAGE) {
                assert_int_equal(c.token, 55);
                assert_string_equal(c.channel, "tch");
                assert_int_equal(c.payload_len, 5);
                assert_memory_equal(c.payload, "hello", 5);
                got_msg = 1;
            }
            clusterc_completion_release(&c);
        }
    }
    assert_true(got_msg);
    assert_int_equal(clusterc_threaded_unsubscribe(t, CLUSTERC_PUBSUB_CHANNEL, "tch"), 0);
    char *json = clusterc_threaded_node_stats_json(t);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"role\":\"primary\""));
    free(json);
    clusterc_threaded_free(t);   /* messages may still be queued: released */
}

/* --------------------------------------- threads under a changing map */

#define THREADS 4
#define KEYS 24
#define MAXTOK (1 << 20)

typedef struct worker {
    clusterc_threaded *t;
    int id;
    int queue_mode;          /* completions from the shared consumer */
    atomic_long done;        /* completions of this worker's commands */
    long sent, refused, rounds;   /* the worker's own */
    long failed, wrong;           /* the completing thread's (loop or consumer) */
    long dup;                     /* tokens not completed exactly once (worker) */
    char why[200];
} worker;

static atomic_uchar once[MAXTOK];   /* completions per token, by idx_of */
/* Each worker's keys; the first four in the slots the reshard moves. The
 * last "key" (KEYS) is an MGET of them all (split by slot). */
static char key_name[THREADS][KEYS][32];
static atomic_int stop_load;
static worker W[THREADS];

/* token: worker (3 bits) | kind (1 bit: 1 = GET) | key (5 bits) | value */
static uint64_t tok_of(int w, int get, int k, long v)
{
    return ((uint64_t)v << 9) | ((uint64_t)k << 4) | ((uint64_t)get << 3) | (uint64_t)w;
}

/* A token's counter: its low 9 bits and its value modulo 2048 (a worker
 * checks and clears a round's counters before the value comes round). */
static size_t idx_of(uint64_t tok) { return (size_t)((((tok >> 9) % 2048) << 9) | (tok & 511)); }

static int mget_ok(const redisReply *r, long v)
{
    char want[32];
    snprintf(want, sizeof(want), "v%ld", v);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != KEYS)
        return 0;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING || strcmp(r->element[i]->str, want) != 0)
            return 0;
    return 1;
}

static void check(worker *w, uint64_t tok, redisReply *r, int code, const char *err)
{
    atomic_fetch_add(&once[idx_of(tok)], 1);
    int get = (tok >> 3) & 1, k = (int)((tok >> 4) & 31);
    long v = (long)(tok >> 9);
    if (!r) {
        w->failed++;
        snprintf(w->why, sizeof(w->why), "code %d: %s", code, err ? err : "");
    } else if (k == KEYS) {
        w->wrong += !mget_ok(r, v);
    } else if (get) {
        char want[32];
        snprintf(want, sizeof(want), "v%ld", v);
        if (r->type != REDIS_REPLY_STRING || strcmp(r->str, want) != 0)
            w->wrong++;
    } else if (r->type != REDIS_REPLY_STATUS) {
        w->wrong++;
    }
    atomic_fetch_add(&w->done, 1);
}

static void cb(clusterc_threaded *t, redisReply *r, int code, const char *err, void *pd)
{
    (void)t;
    uint64_t tok = (uint64_t)(uintptr_t)pd;
    check(&W[tok & 7], tok, r, code, err);
}

static void *consumer(void *arg)
{
    clusterc_threaded *t = arg;
    clusterc_completion out[64];
    for (;;) {
        int n = clusterc_threaded_wait(t, out, 64, -1);
        if (n < 0)
            return NULL;   /* closed */
        for (int i = 0; i < n; i++) {
            check(&W[out[i].token & 7], out[i].token, out[i].reply, out[i].code,
                  out[i].errstr);
            clusterc_completion_release(&out[i]);
        }
    }
}

static int submit_w(worker *w, int get, int k, long v)
{
    uint64_t tok = tok_of(w->id, get, k, v);
    char val[32];
    snprintf(val, sizeof(val), "v%ld", v);
    const char *argv[KEYS + 1] = {get ? "GET" : "SET", key_name[w->id][k % KEYS], val};
    int argc = get ? 2 : 3;
    if (k == KEYS) {   /* MGET of every key: a command split by slot */
        argv[0] = "MGET";
        for (int i = 0; i < KEYS; i++)
            argv[1 + i] = key_name[w->id][i];
        argc = KEYS + 1;
    }
    w->sent++;
    if (w->queue_mode)
        return clusterc_threaded_submit_argv(w->t, tok, CLUSTERC_ROUTE_DEFAULT, argc, argv, NULL);
    return clusterc_threaded_command_argv(w->t, 0, cb, (void *)(uintptr_t)tok, argc, argv,
                                          NULL);
}

/* Rounds of: SET every key to v, wait; GET every key, wait (must be v). */
static void *worker_main(void *arg)
{
    worker *w = arg;
    for (long v = 1; !atomic_load(&stop_load) && v < 100000; v++) {
        for (int get = 0; get < 2; get++) {
            for (int k = 0; k < KEYS + get; k++)   /* the GETs, then an MGET */
                if (submit_w(w, get, k, v) != 0)
                    w->refused++;
            int64_t until = it_now_ms() + 30000;
            while (atomic_load(&w->done) < w->sent - w->refused && it_now_ms() < until) {
                struct timespec ts = {0, 200000};
                nanosleep(&ts, NULL);
            }
            for (int k = 0; k < KEYS + get; k++) {
                size_t i = idx_of(tok_of(w->id, get, k, v));
                w->dup += atomic_exchange(&once[i], 0) != 1;
            }
        }
        w->rounds++;
    }
    return NULL;
}

/* The lowest slot the primary on port serves. */
static int lowest_slot_of(int port)
{
    int lo = CLUSTERC_SLOTS;
    redisReply *r = harness_cmd(H, port, "CLUSTER SLOTS");
    for (size_t i = 0; r && i < r->elements; i++)
        if (r->element[i]->element[2]->element[1]->integer == port &&
            r->element[i]->element[0]->integer < lo)
            lo = (int)r->element[i]->element[0]->integer;
    freeReplyObject(r);
    assert_true(lo < CLUSTERC_SLOTS);
    return lo;
}

static void test_threads_under_failover_and_reshard(void **state)
{
    (void)state;
    /* Fail over one shard, then move 64 slots between the other two. */
    int rep = harness_nth_port(H, "slave", 0), failed_over = it_master_port_of(H, rep);
    int from = it_other_master(H, failed_over), to = -1;
    for (int i = 0; i < 3 && to < 0; i++) {
        int p = harness_nth_port(H, "master", i);
        if (p != failed_over && p != from)
            to = p;
    }
    int lo = lowest_slot_of(from);
    for (int w = 0; w < THREADS; w++)
        for (int k = 0; k < KEYS; k++)
            for (int i = 0;; i++) {
                snprintf(key_name[w][k], 32, "tt:%d:%d:%d", w, k, i);
                int slot = clusterc_keyslot(key_name[w][k], strlen(key_name[w][k]));
                if (k >= 4 || (slot >= lo && slot < lo + 64))
                    break;
            }
    clusterc_threaded *t = connect_t(5000);
    pthread_t th[THREADS], cons;
    assert_int_equal(pthread_create(&cons, NULL, consumer, t), 0);
    for (int i = 0; i < THREADS; i++) {
        memset(&W[i], 0, sizeof(W[i]));
        W[i].t = t;
        W[i].id = i;
        W[i].queue_mode = i % 2;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &W[i]), 0);
    }
    clusterc_client *adm = it_client(H, NULL);
    clusterc_admin_opts ao;
    clusterc_admin_opts_init(&ao);
    ao.timeout_ms = 30000;
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", rep);
    int rc = clusterc_admin_failover(adm, addr, CLUSTERC_FAILOVER_DEFAULT, &ao);
    if (rc == 0)
        rc = clusterc_admin_reshard(adm, it_id_of_port(H, from), it_id_of_port(H, to), 64, &ao);
    if (rc < 0)
        fprintf(stderr, "admin: %s\n", clusterc_errstr(adm));
    struct timespec ts = {0, 500 * 1000000L};
    nanosleep(&ts, NULL);
    atomic_store(&stop_load, 1);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    clusterc_stats st;
    assert_int_equal(clusterc_threaded_get_stats(t, &st), 0);
    assert_int_equal(clusterc_threaded_close(t), 0);
    pthread_join(cons, NULL);
    long sent = 0, failed = 0, wrong = 0, done = 0, rounds = 0, dup = 0, refused = 0;
    for (int i = 0; i < THREADS; i++) {
        sent += W[i].sent;
        dup += W[i].dup;
        refused += W[i].refused;
        failed += W[i].failed;
        wrong += W[i].wrong;
        done += atomic_load(&W[i].done);
        rounds += W[i].rounds;
        if (W[i].failed)
            fprintf(stderr, "worker %d: %s\n", i, W[i].why);
    }
    fprintf(stderr, "threads under failover + reshard: %ld commands in %ld rounds, %ld done, "
            "%ld failed, %ld wrong, %ld refused, %ld not exactly once; MOVED %llu, ASK %llu, "
            "map loads %llu\n", sent, rounds, done, failed, wrong, refused, dup, (unsigned long long)st.moved, (unsigned long long)st.ask,
            (unsigned long long)st.refreshes);
    assert_int_equal(rc, 0);
    assert_int_equal(refused, 0);
    assert_int_equal(done, sent);      /* every command completed, once */
    assert_int_equal(dup, 0);
    assert_int_equal(failed, 0);
    assert_int_equal(wrong, 0);
    assert_true(st.moved > 0);
    assert_int_equal(clusterc_threaded_pending(t), 0);
    clusterc_threaded_free(t);
    clusterc_free(adm);
}

/* -------------------------------------------------- close in flight */

static atomic_long cb_count;
static void count_cb(clusterc_threaded *t, redisReply *r, int code, const char *e, void *pd)
{
    (void)t;
    (void)r;
    (void)code;
    (void)e;
    (void)pd;
    atomic_fetch_add(&cb_count, 1);
}

static void test_close_in_flight(void **state)
{
    (void)state;
    clusterc_threaded *t = connect_t(2000);
    enum { N = 20000 };
    atomic_store(&cb_count, 0);
    for (int i = 0; i < N; i++) {
        int rc = i % 2 ? clusterc_threaded_submit(t, (uint64_t)i, 0, "INCR tc:%d", i % 50)
                       : clusterc_threaded_command(t, 0, count_cb, NULL, "GET tc:%d", i % 50);
        assert_int_equal(rc, 0);
    }
    /* A blocking command in flight too: the drain gives it the timeout. */
    assert_int_equal(clusterc_threaded_submit(t, N, 0, "BLPOP tc:list 0"), 0);
    int64_t t0 = it_now_ms();
    assert_int_equal(clusterc_threaded_close(t), 0);
    int64_t took = it_now_ms() - t0;
    fprintf(stderr, "close with %d commands in flight: %lld ms\n", N + 1, (long long)took);
    assert_true(took < 2000 + 1500);
    assert_int_equal(atomic_load(&cb_count), N / 2);
    /* Take half of the queued completions and leave the rest to free. */
    static clusterc_completion out[N];
    int n = clusterc_threaded_poll(t, out, N / 4);
    assert_int_equal(n, N / 4);
    for (int i = 0; i < n; i++)
        clusterc_completion_release(&out[i]);
    assert_int_equal(clusterc_threaded_pending(t), N / 2 + 1 - N / 4);
    clusterc_threaded_free(t);
}

/* Threads that keep submitting while another closes: every command that
 * was accepted completes exactly once (by callback or in the queue), the
 * rest were refused with ECLOSED, and nothing leaks. */
typedef struct racer {
    clusterc_threaded *t;
    long accepted, refused, other;
} racer;

static void *race_main(void *arg)
{
    racer *r = arg;
    for (long i = 0; i < 2000000; i++) {
        int rc = i % 2 ? clusterc_threaded_submit(r->t, 1, 0, "GET tr:%ld", i % 10)
                       : clusterc_threaded_command(r->t, 0, count_cb, NULL, "GET tr:%ld", i % 10);
        if (rc == 0)
            r->accepted++;
        else if (rc == CLUSTERC_ECLOSED && ++r->refused > 1000)
            break;
        else if (rc != CLUSTERC_ECLOSED)
            r->other++;
    }
    return NULL;
}

static void test_close_races_submitters(void **state)
{
    (void)state;
    clusterc_threaded *t = connect_t(2000);
    atomic_store(&cb_count, 0);
    racer r[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (racer){.t = t};
        assert_int_equal(pthread_create(&th[i], NULL, race_main, &r[i]), 0);
    }
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    assert_int_equal(clusterc_threaded_close(t), 0);
    long accepted = 0, queued = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        accepted += r[i].accepted;
        assert_int_equal(r[i].other, 0);
        assert_true(r[i].refused > 0);
    }
    static clusterc_completion out[4096];
    for (int n; (n = clusterc_threaded_poll(t, out, 4096)) > 0; queued += n)
        for (int i = 0; i < n; i++)
            clusterc_completion_release(&out[i]);
    fprintf(stderr, "close racing 3 submitters: %ld accepted, %ld by callback, %ld queued\n",
            accepted, atomic_load(&cb_count), queued);
    assert_int_equal(atomic_load(&cb_count) + queued, accepted);
    assert_int_equal(clusterc_threaded_pending(t), 0);
    clusterc_threaded_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_loop_thread_rules),
        cmocka_unit_test(test_packed_and_pubsub),
        cmocka_unit_test(test_close_in_flight),
        cmocka_unit_test(test_close_races_submitters),
        cmocka_unit_test(test_threads_under_failover_and_reshard),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
