/* it_events.c -- issue 15, items 3-5, on real clusters: one map load at
 * start (the seed behind a delay proxy), the leading-edge refresh throttle,
 * lifecycle events and the command hook, on both faces. Map loads are
 * counted by the servers (CONFIG RESETSTAT, INFO commandstats) beside the
 * client's stats. Ports: clusters on 21100-21102, 21110-21115 and
 * 21120-21125, one at a time; the delay proxy on 21180; nothing on 21199. */
#define _DEFAULT_SOURCE   /* usleep */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "itest.h"
#include "cluster_probe.h"
#include "hook_recorder.h"

#define BASE_A 21100      /* 3 primaries, no replica: every node sees a slot move at once */
#define BASE_B 21110      /* 3+3: events of a failover and of a killed primary */
#define BASE_C 21120      /* 3+3: a node dead before the client starts */
#define PROXY_PORT 21180
#define DEAD_PORT 21199
#define NODE_TIMEOUT_MS 1000

static harness *H;
static pid_t Proxy;

static rec_events EV = { .echo = 1 };
static rec_commands CL;

static int ev_count(int type, const char *node) { return rec_find(&EV, type, node, NULL, NULL); }
static int ev_first(int type, const char *node) { return rec_first(&EV, type, node); }
static int cmd_count(const char *name) { return rec_named(&CL, name); }

/* Options with both hooks on the (emptied) recorders. */
static void hooked_options(clusterc_options *o, const char *seeds)
{
    clusterc_options_init(o);
    o->seeds = seeds;
    rec_hook(o, &EV, &CL);
}

/* ------------------------------------------------------- async replies */

typedef struct acount {
    int want, ok, fail, outstanding;
    int last_code;           /* clusterc_async_error of the last failure */
    int64_t last_at_us;      /* when the last callback ran */
    char last_str[64];       /* the last string reply ("" for any other) */
} acount;

static void on_reply(clusterc_async *a, redisReply *r, void *pd)
{
    acount *k = pd;
    k->outstanding--;
    k->last_at_us = rec_now_us();
    k->last_str[0] = '\0';
    if (r && r->type == REDIS_REPLY_STRING)
        snprintf(k->last_str, sizeof(k->last_str), "%s", r->str);
    k->ok += r != NULL;
    if (!r) {
        k->fail++;
        k->last_code = clusterc_async_error(a);
        fprintf(stderr, "  command failed: %s\n", clusterc_async_errstr(a));
    }
}

/* GET prefix<i>, or GET prefix when i < 0. */
static void send_get(clusterc_async *a, acount *k, const char *prefix, int i)
{
    char key[64];
    snprintf(key, sizeof(key), i < 0 ? "%s" : "%s%d", prefix, i);
    assert_int_equal(clusterc_async_command(a, on_reply, k, "GET %s", key), 0);
    k->outstanding++;
}

/* --------------------------------------------------------------- loops */

typedef int cond_fn(void *arg);

static void tick(evutil_socket_t fd, short what, void *arg) { (void)fd; (void)what; (void)arg; }

/* Turn the loop until cond(arg) holds or ms pass (cond NULL: run ms).
 * The condition is checked after every turn (a 5 ms tick bounds a quiet
 * one), so the moment it first holds is seen to within that turn. */
static int loop_until(struct event_base *b, cond_fn *cond, void *arg, int ms)
{
    int64_t end = rec_now_us() + (int64_t)ms * 1000;
    struct event *t = event_new(b, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = { 0, 5000 };
    int held = 0;
    event_add(t, &tv);
    while (!(held = cond && cond(arg)) && rec_now_us() < end)
        event_base_loop(b, EVLOOP_ONCE);
    event_free(t);
    return held;
}

static int all_done(void *arg)
{
    const acount *k = arg;
    return k->ok + k->fail >= k->want;
}

typedef struct refresh_wait { clusterc_async *a; uint64_t want; } refresh_wait;

static int refreshes_reached(void *arg)
{
    const refresh_wait *w = arg;
    clusterc_stats st;
    clusterc_async_get_stats(w->a, &st);
    return st.refreshes >= w->want;
}

typedef struct event_wait { int type; const char *node, *needle; } event_wait;  /* NULL: any */

static int event_seen(void *arg)
{
    const event_wait *w = arg;
    return rec_find(&EV, w->type, w->node, w->needle, NULL) > 0;
}

/* An async client whose first map is loaded (a GET answered). */
static clusterc_async *ready_client(struct event_base *b, clusterc_options *o)
{
    clusterc_async *a = clusterc_async_connect(b, o);
    assert_non_null(a);
    acount k = { .want = 1 };
    send_get(a, &k, "warmup", -1);
    if (!loop_until(b, all_done, &k, 10000) || k.fail)
        fail_msg("first command: %s", clusterc_async_errstr(a));
    return a;
}

/* ----------------------------------------------------- cluster helpers */

static void stop_proxy(void) { probe_delay_proxy_stop(Proxy, PROXY_PORT); Proxy = 0; }

static void start_proxy(int target, int delay_ms)
{
    Proxy = probe_delay_proxy(PYTHON, TESTS_DIR "/../cluster/delay_proxy.py", PROXY_PORT,
                              target, delay_ms);
    assert_true(Proxy > 0);
}

static int start(int base, int replicas, const char *extra)
{
    return (H = harness_start(base, 3, replicas, extra)) ? 0 : -1;
}

static int setup_a(void **state) { (void)state; return start(BASE_A, 0, NULL); }
static int setup_b(void **state) { (void)state; return start(BASE_B, 1, "--node-timeout 1000"); }
static int setup_c(void **state) { (void)state; return start(BASE_C, 1, "--node-timeout 1000"); }

static int teardown(void **state)
{
    (void)state;
    stop_proxy();
    harness_stop(H);
    H = NULL;
    return 0;
}

static int role_is_master(int port) { return probe_primary_of(H, port) == 0; }

static int replica_of(int primary)
{
    int port = probe_replica_of(H, primary);
    assert_true(port > 0);
    return port;
}

static void key_on(int port, const char *prefix, char out[32])
{
    assert_int_equal(probe_key_on(H, port, prefix, out, 32), 0);
}

static void move_empty_slot(int slot, int src, int dst)
{
    redisReply *r = harness_cmd(H, src, "CLUSTER COUNTKEYSINSLOT %d", slot);
    assert_non_null(r);
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    assert_int_equal(probe_slot_open(H, slot, src, dst), 0);
    assert_int_equal(probe_slot_close(H, slot, src, dst), 0);
}

/* The first MAP_UPDATED says "slots moved: want" (the header's wording). */
static void expect_slots_moved(int want)
{
    int i = ev_first(CLUSTERC_EVENT_MAP_UPDATED, NULL);
    const char *p = i < 0 ? NULL : strstr(EV.ev[i].detail, "slots moved: ");
    if (!p || atoi(p + strlen("slots moved: ")) != want)
        fail_msg("%d slot(s) moved, MAP_UPDATED says \"%s\"", want,
                 i < 0 ? "(none)" : EV.ev[i].detail);
}

/* ============================================== group A: loads, hooks */

/* ncmds GETs sent right after clusterc_async_connect, the only seed (the
 * proxy; the map names the real nodes) 50 ms away: the servers serve one
 * map load and the client counts one. */
static void one_load_with(int ncmds)
{
    char seed[32];
    struct event_base *b = event_base_new();
    start_proxy(harness_port(H, 0), 50);
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", PROXY_PORT);
    assert_int_equal(probe_reset_stats(H), 0);
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = seed;
    clusterc_async *a = clusterc_async_connect(b, &o);
    assert_non_null(a);
    acount k = { .want = ncmds };
    for (int i = 0; i < ncmds; i++)
        send_get(a, &k, "ol:", i);
    int done = loop_until(b, all_done, &k, 10000);
    /* A second load would come at the end of refresh_min_interval_ms
     * (1000) after the first: look past it. */
    loop_until(b, NULL, NULL, 1500);
    clusterc_stats st;
    clusterc_async_get_stats(a, &st);
    long long loads = probe_map_loads(H);
    fprintf(stderr, "one load, %d commands: servers saw %lld map loads; refreshes=%llu "
            "refresh_requests=%llu\n", ncmds, loads, (unsigned long long)st.refreshes,
            (unsigned long long)st.refresh_requests);
    clusterc_async_free(a);
    event_base_free(b);
    stop_proxy();
    assert_true(done);
    assert_int_equal(k.fail, 0);
    assert_int_equal(loads, 1);
    assert_int_equal(st.refreshes, 1);
}

static void test_one_load_at_start(void **state)
{
    (void)state;
    one_load_with(1);
    one_load_with(100);
}

/* N commands -> N hook calls with the right names and code 0 (error
 * replies included), each naming the node that served it; the library's
 * own map load and COMMAND are not reported. */
static void test_command_hook_counts(void **state)
{
    (void)state;
    enum { NSET = 20, NGET = 20, NINCR = 5 };
    int want_port[3] = { 0 }, got_port[3] = { 0 };
    for (int i = 0; i < NGET; i++) {
        char key[32];
        snprintf(key, sizeof(key), "oc:%d", i);
        want_port[harness_primary_of_slot(H, clusterc_keyslot(key, strlen(key))) - BASE_A]++;
    }
    struct event_base *b = event_base_new();
    clusterc_options o;
    hooked_options(&o, harness_seeds(H));
    clusterc_async *a = clusterc_async_connect(b, &o);
    assert_non_null(a);
    acount k = { .want = NSET + NGET + NINCR + 2 };
    for (int i = 0; i < NSET; i++)
        assert_int_equal(clusterc_async_command(a, on_reply, &k, "SET oc:%d v", i), 0);
    for (int i = 0; i < NGET; i++)
        assert_int_equal(clusterc_async_command(a, on_reply, &k, "GET oc:%d", i), 0);
    for (int i = 0; i < NINCR; i++)
        assert_int_equal(clusterc_async_command(a, on_reply, &k, "INCR oc:n"), 0);
    assert_int_equal(clusterc_async_command(a, on_reply, &k, "LPUSH oc:0 x"), 0);  /* WRONGTYPE */
    assert_int_equal(clusterc_async_command(a, on_reply, &k, "CLUSTER INFO"), 0);
    assert_true(loop_until(b, all_done, &k, 10000));
    loop_until(b, NULL, NULL, 100);
    clusterc_async_free(a);
    event_base_free(b);
    assert_int_equal(k.fail, 0);
    assert_int_equal(CL.n, k.want);
    assert_int_equal(cmd_count("SET"), NSET);
    assert_int_equal(cmd_count("GET"), NGET);
    assert_int_equal(cmd_count("INCR"), NINCR);
    assert_int_equal(cmd_count("LPUSH"), 1);
    for (int i = 0; i < CL.n; i++) {
        const rec_command *c = &CL.c[i];
        int port = 0;
        if (sscanf(c->node, "127.0.0.1:%d", &port) != 1 || port < BASE_A || port > BASE_A + 2)
            fail_msg("%s: node \"%s\"", c->name, c->node);
        assert_int_equal(c->code, 0);
        assert_int_equal(c->route, CLUSTERC_ROUTE_DEFAULT);
        assert_int_equal(c->redirects, 0);
        assert_true(c->duration_us >= 0);
        got_port[port - BASE_A] += strcmp(c->name, "GET") == 0;
    }
    assert_memory_equal(want_port, got_port, sizeof(want_port));
    for (int i = 0; i < CL.n && cmd_count("CLUSTER INFO") != 1; i++)   /* as "CLUSTER SHARDS" */
        if (!strstr("SET GET INCR LPUSH", CL.c[i].name))
            fail_msg("CLUSTER INFO reported as \"%s\"", CL.c[i].name);
    assert_int_equal(cmd_count("CLUSTER INFO"), 1);
}

/* A failed command: the hook's code is the code its caller got. */
static void test_command_hook_codes(void **state)
{
    (void)state;
    char dead[32];
    struct event_base *b = event_base_new();
    clusterc_options o;
    hooked_options(&o, harness_seeds(H));
    o.command_timeout_ms = 500;
    clusterc_async *a = ready_client(b, &o);
    acount slow = { .want = 1 }, ping = { .want = 1 };
    /* The server sleeps 1 s: the client's deadline (500 ms) ends it. (A
     * BLPOP would not do: its deadline is its own timeout plus 500 ms.) */
    assert_int_equal(clusterc_async_command(a, on_reply, &slow, "DEBUG SLEEP 1"), 0);
    snprintf(dead, sizeof(dead), "127.0.0.1:%d", DEAD_PORT);
    assert_int_equal(clusterc_async_command_to_node(a, dead, on_reply, &ping, "PING"), 0);
    assert_true(loop_until(b, all_done, &slow, 5000));
    assert_true(loop_until(b, all_done, &ping, 5000));
    loop_until(b, NULL, NULL, 50);
    clusterc_async_free(a);
    event_base_free(b);
    assert_int_equal(slow.fail, 1);
    assert_int_equal(slow.last_code, CLUSTERC_ETIMEOUT);
    assert_int_equal(ping.fail, 1);
    assert_int_not_equal(ping.last_code, 0);
    assert_int_equal(cmd_count("DEBUG"), 1);
    assert_int_equal(cmd_count("PING"), 1);
    assert_int_equal(cmd_count("GET"), 1);   /* the warm-up */
    for (int i = 0; i < CL.n; i++) {
        const rec_command *c = &CL.c[i];
        if (strcmp(c->name, "DEBUG") == 0) {
            assert_int_equal(c->code, CLUSTERC_ETIMEOUT);
            assert_true(c->duration_us >= 400000);   /* it waited for its deadline */
        } else {
            assert_int_equal(c->code, strcmp(c->name, "PING") == 0 ? ping.last_code : 0);
        }
    }
}

/* A MOVED 100 ms after connect: the map is loaded at once, not at the end
 * of a refresh_min_interval_ms (1000) window opened by the initial load. */
static void test_leading_edge_moved(void **state)
{
    (void)state;
    const char *key = "{le1}k";
    struct event_base *b = event_base_new();
    clusterc_options o;
    hooked_options(&o, harness_seeds(H));
    int slot = clusterc_keyslot(key, strlen(key));
    int src = harness_primary_of_slot(H, slot), dst = it_other_master(H, src);
    int64_t t0 = rec_now_us();
    clusterc_async *a = ready_client(b, &o);
    clusterc_stats s0, s1;
    clusterc_async_get_stats(a, &s0);
    assert_int_equal(s0.refreshes, 1);
    loop_until(b, NULL, NULL, (int)((t0 + 100000 - rec_now_us()) / 1000));
    move_empty_slot(slot, src, dst);
    acount k = { .want = 1 };
    int64_t t_send = rec_now_us();
    send_get(a, &k, key, -1);
    refresh_wait w = { a, s0.refreshes + 1 };
    int reloaded = loop_until(b, refreshes_reached, &w, 3000);
    int64_t t_load = rec_now_us();
    assert_true(loop_until(b, all_done, &k, 5000));
    event_wait mw = { CLUSTERC_EVENT_MAP_UPDATED, NULL, NULL };
    loop_until(b, event_seen, &mw, 3000);   /* the load may end after the GET */
    clusterc_async_get_stats(a, &s1);
    int mu = ev_first(CLUSTERC_EVENT_MAP_UPDATED, NULL);
    fprintf(stderr, "leading edge: GET sent %lld ms after connect; load seen %lld us after "
            "it, MAP_UPDATED %lld us after it\n", (long long)(t_send - t0) / 1000,
            (long long)(t_load - t_send), mu < 0 ? -1LL : (long long)(EV.ev[mu].at_us - t_send));
    clusterc_async_free(a);
    event_base_free(b);
    assert_true(t_send - t0 < 800000);   /* inside the window the first load would open */
    assert_int_equal(k.fail, 0);
    assert_true(s1.moved > s0.moved);
    assert_true(reloaded);
    /* The behaviour under test, not a speed figure: at once (about 1 ms
     * here), against about 900 ms when the throttle applies. */
    assert_true(t_load - t_send < 50000);
    assert_true(mu >= 0);
    assert_true(EV.ev[mu].at_us - t_send < 50000);
    expect_slots_moved(1);
}

/* 1,000 MOVED in one burst: at most two loads, seen by the servers and by
 * the client; the triggers are counted apart from the loads. */
static void test_burst_of_moved(void **state)
{
    (void)state;
    const char *tag = "{le2}";
    struct event_base *b = event_base_new();
    clusterc_options o;
    hooked_options(&o, harness_seeds(H));
    int slot = clusterc_keyslot(tag, strlen(tag));
    int src = harness_primary_of_slot(H, slot), dst = it_other_master(H, src);
    clusterc_async *a = ready_client(b, &o);
    loop_until(b, NULL, NULL, 150);
    move_empty_slot(slot, src, dst);
    assert_int_equal(probe_reset_stats(H), 0);
    clusterc_stats s0, s1;
    clusterc_async_get_stats(a, &s0);
    acount k = { .want = 1000 };
    for (int i = 0; i < 1000; i++)
        send_get(a, &k, "{le2}k", i);
    int done = loop_until(b, all_done, &k, 20000);
    loop_until(b, NULL, NULL, 1500);   /* a coalesced load at the end of the window */
    clusterc_async_get_stats(a, &s1);
    long long loads = probe_map_loads(H);
    uint64_t dmoved = s1.moved - s0.moved, dref = s1.refreshes - s0.refreshes,
             dreq = s1.refresh_requests - s0.refresh_requests;
    fprintf(stderr, "burst: moved +%llu, refreshes +%llu, refresh_requests +%llu, servers "
            "saw %lld loads\n", (unsigned long long)dmoved, (unsigned long long)dref,
            (unsigned long long)dreq, loads);
    clusterc_async_free(a);
    event_base_free(b);
    assert_true(done);
    assert_int_equal(k.fail, 0);
    assert_true(dmoved >= 1);
    assert_true(dref >= 1 && dref <= 2);
    assert_true(loads >= 1 && loads <= 2);
    assert_true(dreq > dref);           /* many triggers, coalesced */
    expect_slots_moved(1);              /* one slot, however many MOVED said so */
}

static void migrate_keys(int src, int dst, int from, int to)
{
    redisContext *rc = harness_connect(src);
    assert_non_null(rc);
    for (int i = from; i < to; i++) {
        redisReply *r = redisCommand(rc, "MIGRATE 127.0.0.1 %d {hm}k%d 0 5000", dst, i);
        if (!r || r->type == REDIS_REPLY_ERROR)
            fail_msg("MIGRATE {hm}k%d: %s", i, r ? r->str : rc->errstr);
        freeReplyObject(r);
    }
    redisFree(rc);
}

/* GET {hm}k0..n-1 in one burst: every hook call a GET with code 0 served
 * by want_node (NULL: any); returns the sum of their redirects. */
static int burst_redirects(struct event_base *b, clusterc_async *a, int n, int *with_redirect,
                           const char *want_node)
{
    acount k = { .want = n };
    int sum = 0;
    CL.n = 0;
    for (int i = 0; i < n; i++)
        send_get(a, &k, "{hm}k", i);
    assert_true(loop_until(b, all_done, &k, 10000));
    loop_until(b, NULL, NULL, 50);
    assert_int_equal(k.fail, 0);
    assert_int_equal(CL.n, n);
    *with_redirect = 0;
    for (int i = 0; i < CL.n; i++) {
        assert_string_equal(CL.c[i].name, "GET");
        assert_int_equal(CL.c[i].code, 0);
        if (want_node)
            assert_string_equal(CL.c[i].node, want_node);
        sum += CL.c[i].redirects;
        *with_redirect += CL.c[i].redirects > 0;
    }
    return sum;
}

/* A live migration: the redirects the hook reports are the ASK and MOVED
 * the client followed, command by command. */
static void test_command_hook_redirects(void **state)
{
    (void)state;
    enum { N = 40, HALF = 20 };
    char dst_name[32];
    int slot = clusterc_keyslot("hm", 2), with = 0;
    int src = harness_primary_of_slot(H, slot), dst = it_other_master(H, src);
    snprintf(dst_name, sizeof(dst_name), "127.0.0.1:%d", dst);
    clusterc_client *c = it_client(H, NULL);
    for (int i = 0; i < N; i++) {
        redisReply *r = clusterc_command(c, "SET {hm}k%d v", i);
        it_expect_str(r, "OK");
        freeReplyObject(r);
    }
    clusterc_free(c);
    struct event_base *b = event_base_new();
    clusterc_options o;
    hooked_options(&o, harness_seeds(H));
    clusterc_async *a = ready_client(b, &o);
    assert_int_equal(probe_slot_open(H, slot, src, dst), 0);
    migrate_keys(src, dst, 0, HALF);
    clusterc_stats s0, s1;
    clusterc_async_get_stats(a, &s0);
    int sum = burst_redirects(b, a, N, &with, NULL);   /* the moved half answered by ASK */
    clusterc_async_get_stats(a, &s1);
    assert_int_equal(s1.ask - s0.ask, HALF);
    assert_int_equal(sum, HALF);
    assert_int_equal(with, HALF);
    migrate_keys(src, dst, HALF, N);
    assert_int_equal(probe_slot_close(H, slot, src, dst), 0);
    clusterc_async_get_stats(a, &s0);
    sum = burst_redirects(b, a, N, &with, dst_name);  /* all sent to src: each MOVED */
    clusterc_async_get_stats(a, &s1);
    assert_int_equal(sum, (int)(s1.moved - s0.moved + s1.ask - s0.ask));
    assert_int_equal(with, N);
    clusterc_async_free(a);
    event_base_free(b);
}

/* ================================================== group B: events */

/* Send GET key whenever none is outstanding, turning the loop in 50 ms
 * slices until cond holds; meanwhile note when watch_port (0: none) first
 * says it is a primary. */
typedef struct poke {
    struct event_base *b;
    clusterc_async *a;
    const char *key, *want;   /* served: the last GET returned want */
    acount k;
    int watch_port;
    int64_t promoted_us;
} poke;

static int served(void *arg)
{
    const poke *p = arg;
    return strcmp(p->k.last_str, p->want) == 0;
}

static int poke_until(poke *p, cond_fn *cond, void *arg, int ms)
{
    int64_t end = rec_now_us() + (int64_t)ms * 1000;
    while (rec_now_us() < end) {
        if (p->k.outstanding == 0)
            send_get(p->a, &p->k, p->key, -1);
        if (loop_until(p->b, cond, arg, 50))
            return 1;
        if (p->watch_port && !p->promoted_us && role_is_master(p->watch_port))
            p->promoted_us = rec_now_us();
    }
    return cond && cond(arg);
}

/* Events before READY are only seed connections coming up; READY is
 * client-wide and comes once. */
static void expect_one_ready(void)
{
    int ready = ev_first(CLUSTERC_EVENT_READY, NULL);
    assert_true(ready >= 0);
    assert_int_equal(ev_count(CLUSTERC_EVENT_READY, NULL), 1);
    assert_string_equal(EV.ev[ready].node, "");
    for (int i = 0; i < ready; i++)
        assert_int_equal(EV.ev[i].type, CLUSTERC_EVENT_NODE_CONNECTED);
}

static void expect_drained_last(void)
{
    assert_int_equal(ev_count(CLUSTERC_EVENT_DRAINED, NULL), 1);
    assert_int_equal(EV.ev[EV.n - 1].type, CLUSTERC_EVENT_DRAINED);
    assert_int_equal(EV.bad, 0);
    assert_int_equal(EV.dropped, 0);
}

static void test_events_ready_and_drained(void **state)
{
    (void)state;
    struct event_base *b = event_base_new();
    clusterc_options o;
    hooked_options(&o, harness_seeds(H));
    clusterc_async *a = ready_client(b, &o);
    acount k = { .want = 20 };
    for (int i = 0; i < 20; i++)
        send_get(a, &k, "ev:", i);
    assert_true(loop_until(b, all_done, &k, 5000));
    loop_until(b, NULL, NULL, 200);
    expect_one_ready();
    clusterc_async_disconnect(a);
    event_wait w = { CLUSTERC_EVENT_DRAINED, NULL, NULL };
    int drained = loop_until(b, event_seen, &w, 5000);
    loop_until(b, NULL, NULL, 100);
    clusterc_async_free(a);
    event_base_free(b);
    assert_true(drained);
    expect_drained_last();
}

/* The blocking face: READY during clusterc_connect, the hook once per
 * command, DRAINED last at clusterc_free. */
static void test_events_blocking(void **state)
{
    (void)state;
    clusterc_options o;
    hooked_options(&o, harness_seeds(H));
    clusterc_client *c = clusterc_connect(&o);
    assert_non_null(c);
    if (clusterc_error(c))
        fail_msg("connect: %s", clusterc_errstr(c));
    expect_one_ready();
    for (int i = 0; i < 10; i++) {
        redisReply *r = clusterc_command(c, "SET bl:%d x", i);
        it_expect_str(r, "OK");
        freeReplyObject(r);
    }
    assert_int_equal(CL.n, 10);
    assert_int_equal(cmd_count("SET"), 10);
    for (int i = 0; i < CL.n; i++)
        assert_int_equal(CL.c[i].code, 0);
    clusterc_free(c);
    expect_drained_last();
}

/* CLUSTER FAILOVER on replica, asked again if the server gave up (right
 * after a cluster forms a primary may not list its replica yet). */
static void manual_failover(int replica)
{
    int64_t end = rec_now_us() + 25000000, asked = 0;
    while (!role_is_master(replica) && rec_now_us() < end) {
        if (rec_now_us() - asked > 6000000) {
            it_node_ok(H, replica, "CLUSTER FAILOVER");
            asked = rec_now_us();
        }
        usleep(50000);
    }
    assert_true(role_is_master(replica));
    assert_int_equal(harness_wait_ok(H, 30), 0);
}

static void test_events_failover(void **state)
{
    (void)state;
    char key[32], want[32];
    assert_int_equal(harness_wait_ok(H, 30), 0);
    int primary = harness_nth_port(H, "master", 0), replica = replica_of(primary);
    key_on(primary, "fo", key);
    struct event_base *b = event_base_new();
    clusterc_options o;
    hooked_options(&o, harness_seeds(H));
    poke p = { b, ready_client(b, &o), key, "-", { 0 }, 0, 0 };
    manual_failover(replica);
    snprintf(want, sizeof(want), "127.0.0.1:%d", replica);
    event_wait w = { CLUSTERC_EVENT_MAP_UPDATED, NULL, want };
    int seen = poke_until(&p, event_seen, &w, 10000);   /* the old primary says MOVED */
    clusterc_async_free(p.a);
    event_base_free(b);
    if (!seen)
        fail_msg("no MAP_UPDATED names the new primary %s (%d MAP_UPDATED in all)", want,
                 ev_count(CLUSTERC_EVENT_MAP_UPDATED, NULL));
    assert_int_equal(ev_count(CLUSTERC_EVENT_READY, NULL), 1);
}

/* A primary killed while the client holds a connection to it: one
 * NODE_FAILING while it stays down (after at most one NODE_DISCONNECTED),
 * however many commands still try its slots; NODE_RECOVERED once it
 * answers again. */
static void test_events_killed_primary(void **state)
{
    (void)state;
    char key[32], vname[32];
    assert_int_equal(harness_wait_ok(H, 30), 0);
    int victim = harness_nth_port(H, "master", 0), rep = replica_of(victim);
    key_on(victim, "kp", key);
    snprintf(vname, sizeof(vname), "127.0.0.1:%d", victim);
    struct event_base *b = event_base_new();
    clusterc_options o;
    hooked_options(&o, harness_seeds(H));
    o.command_timeout_ms = 1000;
    poke p = { b, ready_client(b, &o), key, "before", { 0 }, rep, 0 };
    acount set = { .want = 1 }, ping = { 0 };
    assert_int_equal(clusterc_async_command(p.a, on_reply, &set, "SET %s before", key), 0);
    assert_true(loop_until(b, all_done, &set, 5000));
    assert_int_equal(set.fail, 0);
    assert_int_equal(probe_replicated(rep, key, "before", 5000), 0);
    assert_int_equal(harness_kill(H, victim, "KILL"), 0);
    int back = poke_until(&p, served, &p, 20000);
    poke_until(&p, NULL, NULL, 1500);        /* still down: no storm of events */
    int failing = ev_count(CLUSTERC_EVENT_NODE_FAILING, vname);
    int disc = ev_count(CLUSTERC_EVENT_NODE_DISCONNECTED, vname);
    int fi = ev_first(CLUSTERC_EVENT_NODE_FAILING, vname);
    int di = ev_first(CLUSTERC_EVENT_NODE_DISCONNECTED, vname);
    assert_int_equal(harness_restart(H, victim), 0);
    assert_int_equal(harness_wait_ok(H, 30), 0);
    event_wait w = { CLUSTERC_EVENT_NODE_RECOVERED, vname, NULL };
    int recovered = 0;
    for (int64_t end = rec_now_us() + 10000000; !recovered && rec_now_us() < end;) {
        if (ping.outstanding == 0 &&
            clusterc_async_command_to_node(p.a, vname, on_reply, &ping, "PING") == 0)
            ping.outstanding++;   /* a command to the node: the client dials it */
        recovered = loop_until(b, event_seen, &w, 100);
    }
    clusterc_async_free(p.a);
    event_base_free(b);
    fprintf(stderr, "killed primary %s: served again %d; NODE_FAILING %d, NODE_DISCONNECTED %d, "
            "NODE_RECOVERED %d\n", vname, back, failing, disc, recovered);
    assert_true(back);
    assert_int_equal(failing, 1);
    assert_true(disc <= 1);
    assert_true(di < fi);
    assert_true(recovered);
    assert_int_equal(ev_count(CLUSTERC_EVENT_NODE_RECOVERED, vname), 1);
}

/* ========================================= group C: dead before start */

/* The most increments of cnt within any 1 s of samples (each window is
 * widened to the sample before it: at most 1 s plus one sampling step). */
static uint64_t most_in_a_second(const int64_t *at, const uint64_t *cnt, int n)
{
    uint64_t most = 0;
    for (int i = 0, j = 0; i < n; i++) {
        while (at[i] - at[j] > 1000000)
            j++;
        uint64_t in = cnt[i] - (j > 0 ? cnt[j - 1] : 0);
        most = in > most ? in : most;
    }
    return most;
}

/* A primary killed before the client starts, still listed by the others:
 * its keys are served by the promoted replica within node-timeout + 1 s of
 * the promotion, and the dead node is dialled at most twice a second.
 * Dials are counted by the client's per-node `errors` (connection
 * failures; a dead node sends no error replies), sampled as the test goes
 * since the node may leave the map: a listening socket could count them,
 * but the port must stay refused. */
static void test_dead_before_start(void **state)
{
    (void)state;
    char key[32], vname[32], seeds[128] = "";
    int victim = harness_nth_port(H, "master", 0), rep = replica_of(victim);
    key_on(victim, "dead", key);
    clusterc_client *c = it_client(H, NULL);
    redisReply *r = clusterc_command(c, "SET %s before", key);
    it_expect_str(r, "OK");
    freeReplyObject(r);
    clusterc_free(c);
    assert_int_equal(probe_replicated(rep, key, "before", 5000), 0);
    snprintf(vname, sizeof(vname), "127.0.0.1:%d", victim);
    assert_int_equal(harness_kill(H, victim, "KILL"), 0);
    for (int i = 0; i < harness_count(H); i++)
        if (harness_port(H, i) != victim)
            snprintf(seeds + strlen(seeds), sizeof(seeds) - strlen(seeds), "%s127.0.0.1:%d",
                     seeds[0] ? "," : "", harness_port(H, i));
    struct event_base *b = event_base_new();
    clusterc_options o;
    hooked_options(&o, seeds);
    o.command_timeout_ms = 1000;
    int64_t t0 = rec_now_us(), served_us = 0;
    poke p = { b, clusterc_async_connect(b, &o), key, "before", { 0 }, rep, 0 };
    assert_non_null(p.a);
    uint64_t dials = 0, cnt[256];
    int64_t at[256];
    int ns = 0;
    while (!served_us && ns < 256 && rec_now_us() < t0 + 20000000) {
        if (poke_until(&p, served, &p, 100))
            served_us = p.k.last_at_us;
        clusterc_node_info ni[16];
        int n = clusterc_async_node_stats(p.a, ni, 16);
        for (int i = 0; i < n && i < 16; i++)
            if (strcmp(ni[i].addr, vname) == 0 && ni[i].errors > dials)
                dials = ni[i].errors;
        at[ns] = rec_now_us();
        cnt[ns++] = dials;
    }
    uint64_t most = most_in_a_second(at, cnt, ns);
    int failing = ev_count(CLUSTERC_EVENT_NODE_FAILING, vname);
    clusterc_async_free(p.a);
    event_base_free(b);
    double secs = (double)((served_us ? served_us : rec_now_us()) - t0) / 1e6;
    fprintf(stderr, "dead before start: promoted after %.2f s, served after %.2f s, %llu "
            "dials to %s (at most %llu in a second), NODE_FAILING %d\n",
            p.promoted_us ? (double)(p.promoted_us - t0) / 1e6 : -1.0, secs,
            (unsigned long long)dials, vname, (unsigned long long)most, failing);
    assert_true(served_us != 0);
    assert_true(p.promoted_us != 0);
    assert_true(served_us - p.promoted_us <= (NODE_TIMEOUT_MS + 1000) * 1000LL);
    assert_true(dials <= 2 * (uint64_t)(secs + 1) + 1);
    assert_true(most <= 3);   /* 2 a second, paced; 3 when a window catches both ends */
    assert_true(failing <= 1);
}

int main(void)
{
    const struct CMUnitTest loads[] = {
        cmocka_unit_test(test_one_load_at_start),
        cmocka_unit_test(test_command_hook_counts),
        cmocka_unit_test(test_command_hook_codes),
        cmocka_unit_test(test_leading_edge_moved),
        cmocka_unit_test(test_burst_of_moved),
        cmocka_unit_test(test_command_hook_redirects),
    };
    const struct CMUnitTest events[] = {
        cmocka_unit_test(test_events_ready_and_drained),
        cmocka_unit_test(test_events_blocking),
        cmocka_unit_test(test_events_failover),
        cmocka_unit_test(test_events_killed_primary),
    };
    const struct CMUnitTest dead[] = {
        cmocka_unit_test(test_dead_before_start),
    };
    int failed = cmocka_run_group_tests_name("loads_and_hooks", loads, setup_a, teardown);
    failed += cmocka_run_group_tests_name("events", events, setup_b, teardown);
    failed += cmocka_run_group_tests_name("dead_before_start", dead, setup_c, teardown);
    return failed;
}
