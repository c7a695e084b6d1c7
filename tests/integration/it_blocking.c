/* it_blocking.c -- issue 9, blocking commands: each runs to its own timeout
 * plus command_timeout_ms (never cut at command_timeout_ms alone), on a
 * per-node pool of connections of its own (a GET to the same node never
 * waits behind it), a timed-out blocking connection is closed rather than
 * reused, a blocking write lost in flight is EUNCERTAIN and not resent,
 * and Pub/Sub commands are refused by the command functions (EUSAGE) with
 * the connection untouched. Both faces where they apply.
 * A 3+3 cluster, node-timeout 3000 (a 2 s freeze starts no failover).
 * Ports 22500-22505 (bus 32500-32505; not 21500: it_basic_valkey is there). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "itest.h"
#include "cluster_probe.h"
#ifdef CLUSTERC_TEST_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif

#define BASE 22500

static harness *H;
/* What a failed assertion leaves behind, released by cleanup(). */
static struct { clusterc_client *c; clusterc_async *a; struct event_base *base; } L;
static volatile pid_t frozen_pid;

/* ------------------------------------------------------------ helpers */

static void leak_check(void)
{
#ifdef CLUSTERC_TEST_SANITIZED
    assert_int_equal(__lsan_do_recoverable_leak_check(), 0);
#endif
}

static int port_of(const char *key)
{
    int p = harness_primary_of_slot(H, clusterc_keyslot(key, strlen(key)));
    if (p < 0)
        fail_msg("no primary for %s", key);
    return p;
}

static pid_t pid_of(int port)
{
    for (int i = 0; i < harness_count(H); i++)
        if (harness_port(H, i) == port)
            return harness_pid(H, i);
    fail_msg("no node on %d", port);
    return -1;
}

static void freeze(int port, int on)
{
    pid_t pid = pid_of(port);
    if (on)
        frozen_pid = pid;
    assert_int_equal(kill(pid, on ? SIGSTOP : SIGCONT), 0);
    if (!on)
        frozen_pid = 0;
}

/* Things done by a helper thread at set times, while the test's thread is
 * inside a blocking call (or a loop): a command on a fresh connection, a
 * signal to a node, or harness_kill. */
typedef struct act { int at_ms, port, sig, hkill; char cmd[192]; } act;
static struct { act a[4]; int n, running; pthread_t t; } T;

static void later_cmd(int at_ms, int port, const char *cmd)
{
    act *x = &T.a[T.n++];
    memset(x, 0, sizeof(*x));
    x->at_ms = at_ms;
    x->port = port;
    snprintf(x->cmd, sizeof(x->cmd), "%s", cmd);
}

static void later_sig(int at_ms, int port, int sig)
{
    act *x = &T.a[T.n++];
    memset(x, 0, sizeof(*x));
    x->at_ms = at_ms;
    x->port = port;
    x->sig = sig;
    if (sig == SIGSTOP)
        frozen_pid = pid_of(port);
}

static void later_kill(int at_ms, int port)
{
    act *x = &T.a[T.n++];
    memset(x, 0, sizeof(*x));
    x->at_ms = at_ms;
    x->port = port;
    x->hkill = 1;
}

static void *later_run(void *arg)
{
    int64_t t0 = it_now_ms();
    (void)arg;
    for (int i = 0; i < T.n; i++) {
        act *x = &T.a[i];
        int64_t wait = t0 + x->at_ms - it_now_ms();
        if (wait > 0)
            usleep((useconds_t)(wait * 1000));
        if (x->hkill) {
            if (harness_kill(H, x->port, "KILL") != 0)
                fprintf(stderr, "later: harness_kill %d failed\n", x->port);
        } else if (x->sig) {
            kill(pid_of(x->port), x->sig);
            if (x->sig == SIGCONT)
                frozen_pid = 0;
        } else {
            redisContext *c = harness_connect(x->port);
            redisReply *r = c ? redisCommand(c, x->cmd) : NULL;
            if (!r || r->type == REDIS_REPLY_ERROR)
                fprintf(stderr, "later: %d %s -> %s\n", x->port, x->cmd,
                        r ? r->str : "no reply");
            freeReplyObject(r);
            if (c)
                redisFree(c);
        }
    }
    return NULL;
}

static void later_start(void)
{
    assert_int_equal(pthread_create(&T.t, NULL, later_run, NULL), 0);
    T.running = 1;
}

static void later_join(void)
{
    if (T.running)
        pthread_join(T.t, NULL);
    T.running = 0;
    T.n = 0;
}

static int cleanup(void **state)
{
    (void)state;
    later_join();
    if (frozen_pid > 0)
        kill(frozen_pid, SIGCONT);
    frozen_pid = 0;
    clusterc_async_free(L.a);
    if (L.base)
        event_base_free(L.base);
    clusterc_free(L.c);
    memset(&L, 0, sizeof(L));
    return 0;
}

static void node_cmd(int port, const char *fmt, const char *key)
{
    redisReply *r = harness_cmd(H, port, fmt, key);
    if (!r || r->type == REDIS_REPLY_ERROR)
        fail_msg("%d: %s %s -> %s", port, fmt, key, r ? r->str : "no reply");
    freeReplyObject(r);
}

static long long node_int(int port, const char *fmt, const char *key)
{
    redisReply *r = harness_cmd(H, port, fmt, key);
    if (!r || r->type != REDIS_REPLY_INTEGER)
        fail_msg("%d: %s %s -> %s", port, fmt, key, r && r->str ? r->str : "not an integer");
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static void del(const char *key)
{
    node_cmd(port_of(key), "DEL %s", key);
}

static clusterc_client *bclient(int command_timeout_ms, int pool)
{
    clusterc_options o;
    clusterc_options_init(&o);
    if (command_timeout_ms)
        o.command_timeout_ms = command_timeout_ms;
    if (pool)
        o.blocking_pool_size = pool;
    L.c = it_client(H, &o);
    return L.c;
}

static clusterc_async *aclient(int command_timeout_ms, int pool)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    if (command_timeout_ms)
        o.command_timeout_ms = command_timeout_ms;
    if (pool)
        o.blocking_pool_size = pool;
    L.base = event_base_new();
    L.a = clusterc_async_connect(L.base, &o);
    assert_non_null(L.a);
    return L.a;
}

/* A blocking-face command that must reply (not fail); elapsed into *ms. */
static redisReply *timed(clusterc_client *c, int64_t *ms, const char *cmd)
{
    const char *argv[16];
    char buf[256];
    int argc = 0;
    snprintf(buf, sizeof(buf), "%s", cmd);
    for (char *s = strtok(buf, " "); s && argc < 16; s = strtok(NULL, " "))
        argv[argc++] = s;
    int64_t t0 = it_now_ms();
    redisReply *r = clusterc_command_argv(c, argc, argv, NULL);
    *ms = it_now_ms() - t0;
    fprintf(stderr, "  %-44s -> %s after %lld ms%s%s\n", cmd,
            !r ? "FAILED" : r->type == REDIS_REPLY_NIL ? "nil" : r->type == REDIS_REPLY_ARRAY ?
            "array" : r->type == REDIS_REPLY_INTEGER ? "integer" : r->type == REDIS_REPLY_ERROR ?
            r->str : "string", (long long)*ms, r ? "" : ": ", r ? "" : clusterc_errstr(c));
    if (!r)
        fail_msg("%s failed after %lld ms: %s", cmd, (long long)*ms, clusterc_errstr(c));
    return r;
}

static void expect_nil_after(clusterc_client *c, const char *cmd, int min_ms)
{
    int64_t ms;
    redisReply *r = timed(c, &ms, cmd);
    if (r->type != REDIS_REPLY_NIL)
        fail_msg("%s: reply type %d, want nil", cmd, r->type);
    freeReplyObject(r);
    assert_true(ms >= min_ms);
}

/* The async face's record of one command. */
typedef struct rec { int calls, code, type; long long integer; char str[64], err[256];
                     int64_t at; } rec;

static void on_rec(clusterc_async *a, redisReply *r, void *p)
{
    rec *x = p;
    x->calls++;
    x->at = it_now_ms();
    x->type = r ? r->type : 0;
    x->code = r ? 0 : clusterc_async_error(a);
    x->integer = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    x->str[0] = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 && r->element[1]->str)
        snprintf(x->str, sizeof(x->str), "%s", r->element[1]->str);
    else if (r && r->str)
        snprintf(x->str, sizeof(x->str), "%s", r->str);
    snprintf(x->err, sizeof(x->err), "%s", r ? "" : clusterc_async_errstr(a));
}

static void async_wait(rec *r, int limit_ms, const char *what)
{
    if (!it_loop_until(L.base, &r->calls, limit_ms))
        fail_msg("%s: no callback within %d ms", what, limit_ms);
    if (r->code)
        fail_msg("%s failed: %s", what, r->err);
}

/* ------------------------------------------------- own timeouts */

static void test_blpop_own_timeout(void **state)
{
    (void)state;
    clusterc_client *c = bclient(0, 0);   /* command_timeout_ms 2000 */
    int64_t ms;
    del("{b1}q");
    expect_nil_after(c, "BLPOP {b1}q 3", 2900);
    /* BLPOP 0 waits for ever: an LPUSH from elsewhere serves it. */
    later_cmd(2500, port_of("{b1}q"), "LPUSH {b1}q pushed");
    later_start();
    redisReply *r = timed(c, &ms, "BLPOP {b1}q 0");
    later_join();
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[0]->str, "{b1}q");
    assert_string_equal(r->element[1]->str, "pushed");
    assert_true(ms >= 2400);
    freeReplyObject(r);
}

static void test_blpop_own_timeout_async(void **state)
{
    (void)state;
    clusterc_async *a = aclient(0, 0);
    rec r1 = { 0 }, r2 = { 0 };
    del("{b1}aq");
    int64_t t0 = it_now_ms();
    assert_int_equal(clusterc_async_command(a, on_rec, &r1, "BLPOP {b1}aq 3"), 0);
    async_wait(&r1, 8000, "async BLPOP {b1}aq 3");
    fprintf(stderr, "  async BLPOP 3: type %d after %lld ms\n", r1.type, (long long)(r1.at - t0));
    assert_int_equal(r1.type, REDIS_REPLY_NIL);
    assert_true(r1.at - t0 >= 2900);
    later_cmd(2500, port_of("{b1}aq"), "LPUSH {b1}aq pushed");
    t0 = it_now_ms();
    later_start();
    assert_int_equal(clusterc_async_command(a, on_rec, &r2, "BLPOP {b1}aq 0"), 0);
    async_wait(&r2, 8000, "async BLPOP {b1}aq 0");
    later_join();
    fprintf(stderr, "  async BLPOP 0: %s after %lld ms\n", r2.str, (long long)(r2.at - t0));
    assert_int_equal(r2.type, REDIS_REPLY_ARRAY);
    assert_string_equal(r2.str, "pushed");
    assert_true(r2.at - t0 >= 2400);
}

/* BRPOP, BLMOVE, BZPOPMIN (and a fractional timeout) with a short
 * command_timeout_ms: each runs to its own timeout, or until served. */
static void test_others_own_timeout(void **state)
{
    (void)state;
    clusterc_client *c = bclient(500, 0);
    int64_t ms;
    const char *keys[] = { "{b2}l", "{b2}src", "{b2}dst", "{b2}z" };
    for (int i = 0; i < 4; i++)
        del(keys[i]);
    int port = port_of("{b2}l");
    expect_nil_after(c, "BRPOP {b2}l 1", 950);
    expect_nil_after(c, "BLMOVE {b2}src {b2}dst LEFT RIGHT 1", 950);
    expect_nil_after(c, "BZPOPMIN {b2}z 1.5", 1450);
    expect_nil_after(c, "BRPOPLPUSH {b2}src {b2}dst 1", 950);
    /* Redis 7's timeout-first forms. */
    expect_nil_after(c, "BLMPOP 1 2 {b2}l {b2}src LEFT", 950);
    expect_nil_after(c, "BZMPOP 1.2 1 {b2}z MIN", 1150);
    expect_nil_after(c, "BZPOPMAX {b2}z 1", 950);

    later_cmd(800, port, "RPUSH {b2}l one");
    later_start();
    redisReply *r = timed(c, &ms, "BRPOP {b2}l 0");
    later_join();
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_string_equal(r->element[1]->str, "one");
    freeReplyObject(r);

    later_cmd(800, port, "RPUSH {b2}src moved");
    later_start();
    r = timed(c, &ms, "BLMOVE {b2}src {b2}dst LEFT RIGHT 0");
    later_join();
    it_expect_str(r, "moved");
    freeReplyObject(r);
    assert_int_equal(node_int(port, "LLEN %s", "{b2}dst"), 1);

    later_cmd(800, port, "ZADD {b2}z 7 m");
    later_start();
    r = timed(c, &ms, "BZPOPMIN {b2}z 0");
    later_join();
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 3);
    assert_string_equal(r->element[1]->str, "m");
    freeReplyObject(r);
    assert_true(ms >= 700);
}

/* ------------------------------------------- no head-of-line blocking */

static void test_get_not_behind_blpop(void **state)
{
    (void)state;
    clusterc_client *c = bclient(0, 0);
    del("{b3}q");
    node_cmd(port_of("{b3}y"), "SET %s yv", "{b3}y");
    redisReply *r = clusterc_command(c, "GET {b3}y");   /* connections up */
    it_expect_str(r, "yv");
    freeReplyObject(r);
    int64_t t0 = it_now_ms();
    assert_int_equal(clusterc_append_command(c, "BLPOP {b3}q 2"), 0);
    r = clusterc_command(c, "GET {b3}y");
    int64_t t_get = it_now_ms();
    if (!r)
        fail_msg("GET while BLPOP waits: %s", clusterc_errstr(c));
    it_expect_str(r, "yv");
    freeReplyObject(r);
    void *rep = NULL;
    if (clusterc_get_reply(c, &rep) != 0)
        fail_msg("appended BLPOP failed: %s", clusterc_errstr(c));
    int64_t t_blpop = it_now_ms();
    assert_int_equal(((redisReply *)rep)->type, REDIS_REPLY_NIL);
    freeReplyObject(rep);
    fprintf(stderr, "  GET after %lld ms, BLPOP after %lld ms\n", (long long)(t_get - t0),
            (long long)(t_blpop - t0));
    /* The GET came back while most of the BLPOP's wait was still ahead. */
    assert_true(t_get < t_blpop);
    assert_true(t_blpop - t_get > (t_blpop - t0) / 2);
}

static void test_get_not_behind_blpop_async(void **state)
{
    (void)state;
    clusterc_async *a = aclient(0, 0);
    rec w = { 0 }, b = { 0 }, g = { 0 };
    del("{q}x");
    node_cmd(port_of("{q}y"), "SET %s yv", "{q}y");
    assert_int_equal(clusterc_async_command(a, on_rec, &w, "GET {q}y"), 0);
    async_wait(&w, 3000, "warm-up GET");
    int64_t t0 = it_now_ms();
    assert_int_equal(clusterc_async_command(a, on_rec, &b, "BLPOP {q}x 2"), 0);
    assert_int_equal(clusterc_async_command(a, on_rec, &g, "GET {q}y"), 0);
    async_wait(&g, 6000, "GET {q}y");
    async_wait(&b, 6000, "BLPOP {q}x 2");
    fprintf(stderr, "  GET after %lld ms, BLPOP after %lld ms\n", (long long)(g.at - t0),
            (long long)(b.at - t0));
    assert_string_equal(g.str, "yv");
    assert_int_equal(b.type, REDIS_REPLY_NIL);
    assert_true(g.at < b.at);
    assert_true(b.at - g.at > (b.at - t0) / 2);
}

/* ------------------------------------------------ XREAD BLOCK, WAIT */

static void test_xread_wait(void **state)
{
    (void)state;
    clusterc_client *c = bclient(500, 0);
    int64_t ms;
    del("{b4}s");
    int port = port_of("{b4}s");
    node_cmd(port, "XADD %s 1-1 f v", "{b4}s");
    /* BLOCK is milliseconds: 1500 ms against a 500 ms command timeout. */
    expect_nil_after(c, "XREAD BLOCK 1500 STREAMS {b4}s $", 1450);
    later_cmd(800, port, "XADD {b4}s 2-1 f late");
    later_start();
    redisReply *r = timed(c, &ms, "XREAD BLOCK 0 STREAMS {b4}s $");
    later_join();
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 1);
    freeReplyObject(r);
    /* XREADGROUP BLOCK likewise. */
    node_cmd(port, "XGROUP CREATE %s g $", "{b4}s");
    expect_nil_after(c, "XREADGROUP GROUP g c1 BLOCK 1200 STREAMS {b4}s >", 1150);

    /* WAIT on a primary with one replica: an integer; WAIT 2 cannot be
     * met, so it runs its full 1000 ms, past the 500 ms command timeout. */
    char node[32];
    snprintf(node, sizeof(node), "127.0.0.1:%d", port);
    int64_t t0 = it_now_ms();
    r = clusterc_command_to_node(c, node, "WAIT 1 1000");
    if (!r)
        fail_msg("WAIT 1 1000: %s", clusterc_errstr(c));
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    r = clusterc_command(c, "SET {b4}w v");   /* a write, then WAIT for it */
    it_expect_str(r, "OK");
    freeReplyObject(r);
    t0 = it_now_ms();
    r = clusterc_command_to_node(c, node, "WAIT 2 1000");
    ms = it_now_ms() - t0;
    fprintf(stderr, "  WAIT 2 1000 -> %s after %lld ms\n",
            r ? "reply" : clusterc_errstr(c), (long long)ms);
    if (!r)
        fail_msg("WAIT 2 1000 (command timeout 500): %s", clusterc_errstr(c));
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_true(r->integer <= 1);
    assert_true(ms >= 950);
    freeReplyObject(r);
}

static void test_xread_wait_async(void **state)
{
    (void)state;
    clusterc_async *a = aclient(500, 0);
    rec x = { 0 }, w = { 0 };
    del("{b4}as");
    int port = port_of("{b4}as");
    node_cmd(port, "XADD %s 1-1 f v", "{b4}as");
    int64_t t0 = it_now_ms();
    assert_int_equal(clusterc_async_command(a, on_rec, &x, "XREAD BLOCK 1500 STREAMS {b4}as $"), 0);
    async_wait(&x, 6000, "async XREAD BLOCK 1500");
    fprintf(stderr, "  async XREAD BLOCK 1500: type %d after %lld ms\n", x.type,
            (long long)(x.at - t0));
    assert_int_equal(x.type, REDIS_REPLY_NIL);
    assert_true(x.at - t0 >= 1450);
    char node[32];
    snprintf(node, sizeof(node), "127.0.0.1:%d", port);
    t0 = it_now_ms();
    assert_int_equal(clusterc_async_command_to_node(a, node, on_rec, &w, "WAIT 2 1000"), 0);
    async_wait(&w, 6000, "async WAIT 2 1000");
    fprintf(stderr, "  async WAIT 2 1000: %lld after %lld ms\n", w.integer, (long long)(w.at - t0));
    assert_int_equal(w.type, REDIS_REPLY_INTEGER);
    assert_true(w.at - t0 >= 950);
}

/* WAIT counts the writes of the connection it runs on: after this
 * client's SET, with the one replica frozen, WAIT 1 500 must say 0 (not
 * acknowledged) after its timeout, not 1 at once, as it would on a
 * connection that never wrote anything. */
static void test_wait_sees_own_write(void **state)
{
    (void)state;
    clusterc_client *c = bclient(500, 0);
    int port = port_of("{b11}k");
    int replica = probe_replica_of(H, port);
    assert_true(replica > 0);
    char node[32];
    snprintf(node, sizeof(node), "127.0.0.1:%d", port);
    redisReply *r = clusterc_command(c, "SET {b11}k v0");
    it_expect_str(r, "OK");
    freeReplyObject(r);
    freeze(replica, 1);
    r = clusterc_command(c, "SET {b11}k v1");
    it_expect_str(r, "OK");
    freeReplyObject(r);
    int64_t t0 = it_now_ms();
    r = clusterc_command_to_node(c, node, "WAIT 1 500");
    int64_t ms = it_now_ms() - t0;
    freeze(replica, 0);
    if (!r)
        fail_msg("WAIT 1 500: %s", clusterc_errstr(c));
    fprintf(stderr, "  WAIT 1 500 with the replica frozen: %lld after %lld ms\n", r->integer,
            (long long)ms);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 0);
    assert_true(ms >= 450);
    freeReplyObject(r);
    r = clusterc_command_to_node(c, node, "WAIT 1 2000");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
}

/* ---------------------------------- no deadline of its own; free */

/* BLPOP 0 on a frozen node: no reply, and no failure at the command
 * timeout either (its deadline is none). clusterc_async_free then
 * completes it with NULL, once, and leaks nothing. */
static void test_blpop0_frozen_then_free(void **state)
{
    (void)state;
    clusterc_async *a = aclient(500, 0);
    rec w = { 0 }, b = { 0 };
    del("{b5}q");
    int port = port_of("{b5}q");
    assert_int_equal(clusterc_async_command(a, on_rec, &w, "GET {b5}k"), 0);
    async_wait(&w, 3000, "warm-up GET");
    assert_int_equal(clusterc_async_command(a, on_rec, &b, "BLPOP {b5}q 0"), 0);
    int never = 0;
    it_loop_until(L.base, &never, 300);   /* written and waiting */
    freeze(port, 1);
    it_loop_until(L.base, &never, 1500);  /* three command timeouts */
    freeze(port, 0);
    it_loop_until(L.base, &never, 300);
    if (b.calls)
        fail_msg("BLPOP 0 completed while its node was frozen: code %d: %s", b.code, b.err);
    clusterc_async_free(a);
    L.a = NULL;
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.type, 0);
    fprintf(stderr, "  after free: code %d: %s\n", b.code, b.err);
    assert_int_equal(b.code, CLUSTERC_ECLOSED);
    it_loop_until(L.base, &never, 50);
    assert_int_equal(b.calls, 1);
    event_base_free(L.base);
    L.base = NULL;
    leak_check();
}

/* --------------------------------------- a timed-out connection goes */

static void test_timed_out_conn_not_reused(void **state)
{
    (void)state;
    clusterc_client *c = bclient(500, 0);
    clusterc_stats s0, s1, s2;
    del("{b6}q");
    int port = port_of("{b6}q");
    expect_nil_after(c, "BLPOP {b6}q 0.2", 150);   /* the pool has a connection */
    clusterc_get_stats(c, &s0);
    /* BLPOP 1 with the node frozen from 200 ms to 2200 ms: the client gives
     * up at 1500 ms; the server's nil comes after SIGCONT. */
    later_sig(200, port, SIGSTOP);
    later_sig(2200, port, SIGCONT);
    later_start();
    int64_t t0 = it_now_ms();
    redisReply *r = clusterc_command(c, "BLPOP {b6}q 1");
    int64_t ms = it_now_ms() - t0;
    int code = clusterc_error(c);
    char err[512];
    snprintf(err, sizeof(err), "%s", clusterc_errstr(c));
    fprintf(stderr, "  BLPOP 1 on a frozen node: %s after %lld ms\n", r ? "a reply" : err,
            (long long)ms);
    later_join();
    assert_null(r);
    assert_int_equal(code, CLUSTERC_ETIMEOUT);
    assert_true(ms >= 1400);
    clusterc_get_stats(c, &s1);
    usleep(300000);   /* the late nil is on the wire now */
    node_cmd(port, "RPUSH %s mine", "{b6}q");
    r = clusterc_command(c, "BLPOP {b6}q 1");
    if (!r)
        fail_msg("BLPOP after the timed-out one: %s", clusterc_errstr(c));
    if (r->type != REDIS_REPLY_ARRAY)
        fail_msg("BLPOP after the timed-out one got type %d (the stale reply?)", r->type);
    assert_string_equal(r->element[1]->str, "mine");
    freeReplyObject(r);
    clusterc_get_stats(c, &s2);
    fprintf(stderr, "  blocking_conns %llu -> %llu -> %llu\n",
            (unsigned long long)s0.blocking_conns, (unsigned long long)s1.blocking_conns,
            (unsigned long long)s2.blocking_conns);
    assert_true(s0.blocking_conns >= 1);
    assert_true(s2.blocking_conns > s1.blocking_conns);   /* a new one was opened */
    r = clusterc_command(c, "BLPOP {b6}q 0.3");           /* and it is reused */
    assert_non_null(r);
    freeReplyObject(r);
    clusterc_stats s3;
    clusterc_get_stats(c, &s3);
    assert_int_equal(s3.blocking_conns, s2.blocking_conns);
    /* The message names the deadline it had: 1 s + 500 ms. */
    if (!strstr(err, "1500 ms"))
        fail_msg("the error does not name the BLPOP's deadline (1500 ms): %s", err);
}

/* ------------------------------------------------------ the pool cap */

static void test_pool_cap(void **state)
{
    (void)state;
    clusterc_async *a = aclient(0, 2);
    rec b[3] = { { 0 } }, g = { 0 };
    clusterc_stats st;
    const char *keys[3] = { "{b7}q1", "{b7}q2", "{b7}q3" };
    for (int i = 0; i < 3; i++)
        del(keys[i]);
    node_cmd(port_of("{b7}y"), "SET %s yv", "{b7}y");
    int64_t t0 = it_now_ms();
    for (int i = 0; i < 3; i++)
        assert_int_equal(clusterc_async_command(a, on_rec, &b[i], "BLPOP %s 1", keys[i]), 0);
    assert_int_equal(clusterc_async_command(a, on_rec, &g, "GET {b7}y"), 0);
    async_wait(&g, 3000, "GET with the pool full");
    for (int i = 0; i < 3; i++)
        async_wait(&b[i], 8000, keys[i]);
    for (int i = 0; i < 3; i++)
        fprintf(stderr, "  BLPOP %s: type %d after %lld ms\n", keys[i], b[i].type,
                (long long)(b[i].at - t0));
    fprintf(stderr, "  GET after %lld ms\n", (long long)(g.at - t0));
    for (int i = 0; i < 3; i++)
        assert_int_equal(b[i].type, REDIS_REPLY_NIL);
    assert_true(g.at < b[0].at && g.at < b[1].at);
    /* Two ran at once; the third waited for one of them to free up. */
    int64_t first = b[0].at < b[1].at ? b[0].at : b[1].at;
    assert_true(b[2].at >= first);
    assert_true(b[2].at - t0 >= 1900);
    clusterc_async_get_stats(a, &st);
    fprintf(stderr, "  blocking_conns %llu\n", (unsigned long long)st.blocking_conns);
    assert_int_equal(st.blocking_conns, 2);
}

/* ------------------------------------------- Pub/Sub refused (EUSAGE) */

static const char *const refused[] = { "SUBSCRIBE {b8}ch", "PSUBSCRIBE {b8}*", "SSUBSCRIBE {b8}ch",
                                       "MONITOR", "UNSUBSCRIBE {b8}ch", "PUNSUBSCRIBE {b8}*",
                                       "SUNSUBSCRIBE {b8}ch" };
#define NREFUSED (int)(sizeof(refused) / sizeof(refused[0]))

/* No server connection is in a subscribed or monitor state. */
static void expect_no_subscriber(void)
{
    for (int i = 0; i < harness_count(H); i++) {
        redisReply *r = harness_cmd(H, harness_port(H, i), "CLIENT LIST");
        assert_non_null(r);
        for (char *l = r->str; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
            char *f = strstr(l, " flags=");
            char *e = f ? strchr(f + 7, ' ') : NULL;
            if (f && e && (memchr(f + 7, 'P', (size_t)(e - f - 7)) ||
                           memchr(f + 7, 'O', (size_t)(e - f - 7))))
                fail_msg("node %d has a subscriber/monitor connection: %.*s",
                         harness_port(H, i), (int)(strcspn(l, "\n")), l);
        }
        freeReplyObject(r);
    }
}

static void every_primary_get(clusterc_client *c)
{
    char k[32];
    for (int m = 0; m < 3; m++) {
        assert_int_equal(probe_key_on(H, harness_nth_port(H, "master", m), "b8", k, sizeof(k)), 0);
        redisReply *r = clusterc_command(c, "GET %s", k);
        if (!r || r->type == REDIS_REPLY_ERROR)
            fail_msg("GET %s after a refused Pub/Sub command: %s", k,
                     r ? r->str : clusterc_errstr(c));
        freeReplyObject(r);
    }
}

static void test_pubsub_refused(void **state)
{
    (void)state;
    clusterc_client *c = bclient(0, 0);
    every_primary_get(c);
    for (int i = 0; i < NREFUSED; i++) {
        redisReply *r;
        const char *argv[2];
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", refused[i]);
        argv[0] = strtok(buf, " ");
        argv[1] = strtok(NULL, " ");
        int64_t t0 = it_now_ms();
        r = clusterc_command_argv(c, argv[1] ? 2 : 1, argv, NULL);
        fprintf(stderr, "  %-22s -> %s (code %d) after %lld ms\n", refused[i],
                r ? "a reply" : clusterc_errstr(c), clusterc_error(c),
                (long long)(it_now_ms() - t0));
        if (r)
            fail_msg("%s through clusterc_command gave a reply (type %d)", refused[i], r->type);
        assert_int_equal(clusterc_error(c), CLUSTERC_EUSAGE);
        every_primary_get(c);
        /* the same through the formatted call */
        if (argv[1]) {
            r = clusterc_command(c, "%s %s", argv[0], argv[1]);
            assert_null(r);
            assert_int_equal(clusterc_error(c), CLUSTERC_EUSAGE);
        }
    }
    redisReply *r = clusterc_command(c, "SUBSCRIBE {b8}ch");
    assert_null(r);
    assert_non_null(strcasestr(clusterc_errstr(c), "subscribe"));
    expect_no_subscriber();
    every_primary_get(c);
    /* PUBLISH and SPUBLISH stay ordinary commands. */
    r = clusterc_command(c, "PUBLISH {b8}ch hello");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    r = clusterc_command(c, "SPUBLISH {b8}ch hello");
    if (!r)
        fail_msg("SPUBLISH: %s", clusterc_errstr(c));
    if (r->type != REDIS_REPLY_INTEGER)
        fail_msg("SPUBLISH: type %d %s", r->type, r->str ? r->str : "");
    freeReplyObject(r);
    /* Pipelined too: refused, and the pipeline goes on. */
    assert_int_equal(clusterc_append_command(c, "GET {b8}a"), 0);
    int rc = clusterc_append_command(c, "SUBSCRIBE {b8}ch");
    int rc_code = clusterc_error(c);
    assert_int_equal(clusterc_append_command(c, "GET {b8}b"), 0);
    void *rep = NULL;
    assert_int_equal(clusterc_get_reply(c, &rep), 0);
    freeReplyObject(rep);
    if (rc == 0) {
        assert_int_equal(clusterc_get_reply(c, &rep), -1);
        assert_int_equal(clusterc_error(c), CLUSTERC_EUSAGE);
    } else {
        assert_int_equal(rc_code, CLUSTERC_EUSAGE);
    }
    assert_int_equal(clusterc_get_reply(c, &rep), 0);
    freeReplyObject(rep);
    expect_no_subscriber();
}

static void test_pubsub_refused_async(void **state)
{
    (void)state;
    clusterc_async *a = aclient(0, 0);
    rec w = { 0 };
    assert_int_equal(clusterc_async_command(a, on_rec, &w, "GET {b8}k"), 0);
    async_wait(&w, 3000, "warm-up GET");
    for (int i = 0; i < NREFUSED; i++) {
        rec s = { 0 }, g[3];
        memset(g, 0, sizeof(g));
        const char *argv[2];
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", refused[i]);
        argv[0] = strtok(buf, " ");
        argv[1] = strtok(NULL, " ");
        int rc = clusterc_async_command_argv(a, on_rec, &s, argv[1] ? 2 : 1, argv, NULL);
        if (rc == 0) {
            if (!it_loop_until(L.base, &s.calls, 3000))
                fail_msg("%s: accepted, and no callback", refused[i]);
            fprintf(stderr, "  async %-22s -> callback, code %d: %s\n", refused[i], s.code, s.err);
            assert_int_equal(s.type, 0);
            assert_int_equal(s.code, CLUSTERC_EUSAGE);
        } else {
            fprintf(stderr, "  async %-22s -> refused, code %d: %s\n", refused[i],
                    clusterc_async_error(a), clusterc_async_errstr(a));
            assert_int_equal(clusterc_async_error(a), CLUSTERC_EUSAGE);
            assert_int_equal(s.calls, 0);
        }
        char k[32];
        for (int m = 0; m < 3; m++) {
            assert_int_equal(probe_key_on(H, harness_nth_port(H, "master", m), "b8", k, sizeof(k)),
                             0);
            assert_int_equal(clusterc_async_command(a, on_rec, &g[m], "GET %s", k), 0);
        }
        for (int m = 0; m < 3; m++) {
            async_wait(&g[m], 3000, "GET after a refused Pub/Sub command");
            if (g[m].type == REDIS_REPLY_ERROR)
                fail_msg("GET after %s: %s", refused[i], g[m].str);
        }
    }
    expect_no_subscriber();
    rec p = { 0 }, sp = { 0 };
    assert_int_equal(clusterc_async_command(a, on_rec, &p, "PUBLISH {b8}ch x"), 0);
    assert_int_equal(clusterc_async_command(a, on_rec, &sp, "SPUBLISH {b8}ch x"), 0);
    async_wait(&p, 3000, "PUBLISH");
    async_wait(&sp, 3000, "SPUBLISH");
    assert_int_equal(p.type, REDIS_REPLY_INTEGER);
    assert_int_equal(sp.type, REDIS_REPLY_INTEGER);
}

/* ---------------------------- a blocking write lost: EUNCERTAIN, once */

/* After the failover: the destination got nothing, and a BLMOVE resent to
 * the new primary would move an element pushed now: none moves. */
static void after_kill(int victim, const char *src, const char *dst)
{
    assert_int_equal(harness_wait_ok(H, 30), 0);
    int now = port_of(src);
    fprintf(stderr, "  %s: primary %d killed, now %d\n", src, victim, now);
    assert_true(now != victim);
    assert_int_equal(node_int(now, "LLEN %s", dst), 0);
    node_cmd(now, "RPUSH %s bait", src);
    usleep(500000);
    if (L.base) {
        int never = 0;
        it_loop_until(L.base, &never, 300);
    }
    assert_int_equal(node_int(now, "LLEN %s", dst), 0);
    assert_int_equal(node_int(now, "LLEN %s", src), 1);
    assert_int_equal(harness_restart(H, victim), 0);
    assert_int_equal(harness_wait_ok(H, 30), 0);
}

static void test_blmove_killed_uncertain(void **state)
{
    (void)state;
    clusterc_client *c = bclient(0, 0);
    del("{b9}src");
    del("{b9}dst");
    int victim = port_of("{b9}src");
    redisReply *r = clusterc_command(c, "GET {b9}k");
    freeReplyObject(r);
    later_kill(500, victim);
    later_start();
    int64_t t0 = it_now_ms();
    r = clusterc_command(c, "BLMOVE {b9}src {b9}dst LEFT RIGHT 10");
    int code = clusterc_error(c);
    fprintf(stderr, "  BLMOVE with its primary killed: %s (code %d) after %lld ms\n",
            r ? "a reply" : clusterc_errstr(c), code, (long long)(it_now_ms() - t0));
    later_join();
    if (r)
        fail_msg("BLMOVE got a reply of type %d", r->type);
    assert_int_equal(code, CLUSTERC_EUNCERTAIN);
    after_kill(victim, "{b9}src", "{b9}dst");
}

static void test_blmove_killed_uncertain_async(void **state)
{
    (void)state;
    clusterc_async *a = aclient(0, 0);
    rec w = { 0 }, b = { 0 };
    del("{b10}src");
    del("{b10}dst");
    int victim = port_of("{b10}src");
    assert_int_equal(clusterc_async_command(a, on_rec, &w, "GET {b10}k"), 0);
    async_wait(&w, 3000, "warm-up GET");
    assert_int_equal(clusterc_async_command(a, on_rec, &b, "BLMOVE {b10}src {b10}dst LEFT RIGHT 0"),
                     0);
    int never = 0;
    it_loop_until(L.base, &never, 300);
    assert_int_equal(harness_kill(H, victim, "KILL"), 0);
    it_loop_until(L.base, &b.calls, 15000);
    fprintf(stderr, "  async BLMOVE with its primary killed: calls %d code %d: %s\n", b.calls,
            b.code, b.err);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.type, 0);
    assert_int_equal(b.code, CLUSTERC_EUNCERTAIN);
    after_kill(victim, "{b10}src", "{b10}dst");
    assert_int_equal(b.calls, 1);
}

/* ------------------------------------------------------------- main */

static int setup(void **state)
{
    (void)state;
    H = harness_start(BASE, 3, 1, "--node-timeout 3000");
    return H ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(H);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_blpop_own_timeout, cleanup),
        cmocka_unit_test_teardown(test_blpop_own_timeout_async, cleanup),
        cmocka_unit_test_teardown(test_others_own_timeout, cleanup),
        cmocka_unit_test_teardown(test_get_not_behind_blpop, cleanup),
        cmocka_unit_test_teardown(test_get_not_behind_blpop_async, cleanup),
        cmocka_unit_test_teardown(test_xread_wait, cleanup),
        cmocka_unit_test_teardown(test_xread_wait_async, cleanup),
        cmocka_unit_test_teardown(test_wait_sees_own_write, cleanup),
        cmocka_unit_test_teardown(test_blpop0_frozen_then_free, cleanup),
        cmocka_unit_test_teardown(test_timed_out_conn_not_reused, cleanup),
        cmocka_unit_test_teardown(test_pool_cap, cleanup),
        cmocka_unit_test_teardown(test_pubsub_refused, cleanup),
        cmocka_unit_test_teardown(test_pubsub_refused_async, cleanup),
        cmocka_unit_test_teardown(test_blmove_killed_uncertain, cleanup),
        cmocka_unit_test_teardown(test_blmove_killed_uncertain_async, cleanup),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
