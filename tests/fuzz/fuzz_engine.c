/* fuzz_engine.c -- fuzzed server bytes through the engine's whole reply
 * path: the async client (async.h) on a libevent base, its connections
 * made by the dial seam to the fake cluster of fuzz_engine_srv.c, so the
 * hiredis reader of every connection, reply classification (MOVED, ASK,
 * TRYAGAIN, CLUSTERDOWN, LOADING...), map loads, fan-out merges,
 * transactions, blocking pools, subscriptions and the cluster-wide SCAN
 * run on bytes that never touch a network.
 *
 * Input: byte 0 options, byte 1 the program (and more options), then items
 *   [n][n bytes]  n = 1..255: server bytes, for the connection whose
 *                 oldest request is unanswered
 *   [0][h]        time passes: every timer due within horizon_ms[h & 7]
 *                 fires (retry backoffs, deadlines, probes, lag polls,
 *                 throttled and periodic map loads)
 * byte 0: bits 0-1 read policy (none, read_only, route_randomly,
 *   route_by_latency), 2 read_your_writes, 3 multi_slot_split, 4 canned
 *   mode (map, handshake and probe commands get fixed valid replies, so
 *   the fuzzer spends itself on the callers' commands; else every request
 *   gets fuzzed bytes), 5 client_name, a second seed, a lag bound,
 *   latency_replicas_only and a zone (client_az, az_affinity: INFO server
 *   to every node), 6 (canned) CLUSTER SHARDS refused, so CLUSTER
 *   SLOTS, 7 a password (AUTH holds the pipeline).
 * byte 1: bits 0-3 program (progs[]), 4-5 max_retries (16, 0, 1, 3),
 *   6 max_redirects -1, 7 lifecycle events (on_event; the map diff they
 *   need walks the slots: off by default, it halves the speed).
 *
 * Invariants (abort: a finding): every queued command's callback runs
 * exactly once, never inside its submit, none for a refused submit, none
 * after the client is freed; the command hook runs once per callback; a
 * reply is well formed (counts, elements, NUL-terminated strings); a NULL
 * reply comes with an error; events, messages and SCAN batches are well
 * formed and stop with the client; the client's output is RESP commands,
 * and EXEC / DISCARD reach a server only after its MULTI; every socket is
 * closed once the client is freed; no leak (LSan).
 *
 * Determinism: no run waits for a clock (every timeout is seconds long,
 * time passes only by [0][h] items) and the engine's RNG gets a fixed
 * seed. One thing is left to libevent: completions made "from the loop"
 * in the same clock tick run in its timer heap's order, which rarely
 * differs between two runs of an input. FUZZ_ENGINE_TRACE=1 prints what
 * the client sends, where each chunk goes and what each callback gets.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include "fuzz_common.h"
#include "fuzz_engine.h"
#include "clusterc/async.h"
#include "api/face_int.h"
#include "engine/engine_int.h"

#define MAX_CMDS 160
#define MAX_STEPS 256     /* input items per run */
#define TURNS 4           /* loop turns between items */

static const int64_t horizon_ms[8] = {
    500, 2500, 5500, 17000, 31000, 61000, 3600000, 30LL * 86400000,
};

static struct {
    struct event_base *base;
    clusterc_async *a;            /* NULL once released */
    int prog;
    int free_asked;               /* a callback freed the client */
    int closing;                  /* disconnect or free asked: submits are refused */
    int gone;                     /* released: nothing may call back */
    int ncmds;
    uint8_t queued[MAX_CMDS];     /* submit returned 0: one callback owed */
    uint8_t calls[MAX_CMDS];
    long hooks, callbacks;
    int chain;                    /* follow-ups left (chain program) */
    int followed;                 /* the one-time follow-up was made */
    clusterc_async_scan *scan;
    int scan_pending, scan_steps;
    int trace;                    /* FUZZ_ENGINE_TRACE: say what each callback got */
} G;

/* ------------------------------------------------------------ checks */

static void touch(const char *p, size_t n, const char *what)
{
    volatile unsigned char sink = 0;
    if (!p)
        fuzz_fail(what);
    for (size_t i = 0; i < n; i++)
        sink ^= (unsigned char)p[i];
    (void)sink;
}

static void check_reply(const redisReply *r, int depth)
{
    if (depth > 12)
        fuzz_fail("a reply nested deeper than any reader makes");
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
#ifdef REDIS_REPLY_DOUBLE
    case REDIS_REPLY_DOUBLE:
    case REDIS_REPLY_VERB:
    case REDIS_REPLY_BIGNUM:
#endif
        touch(r->str, r->len, "a string reply without bytes");
        if (r->str[r->len] != '\0')
            fuzz_fail("a string reply not NUL-terminated");
        break;
    case REDIS_REPLY_ARRAY:
#ifdef REDIS_REPLY_MAP
    case REDIS_REPLY_MAP:
    case REDIS_REPLY_SET:
    case REDIS_REPLY_PUSH:
    case REDIS_REPLY_ATTR:
#endif
        if (r->elements && !r->element)
            fuzz_fail("an aggregate reply without its elements");
        for (size_t i = 0; i < r->elements; i++) {
            if (!r->element[i])
                fuzz_fail("an aggregate reply with a NULL element");
            check_reply(r->element[i], depth + 1);
        }
        break;
    case REDIS_REPLY_INTEGER:
    case REDIS_REPLY_NIL:
#ifdef REDIS_REPLY_BOOL
    case REDIS_REPLY_BOOL:
#endif
        break;
    default:
        fuzz_fail("a reply of an unknown type");
    }
}

static void all_called(void)
{
    long sum = 0;
    for (int i = 0; i < G.ncmds; i++) {
        if (G.queued[i] && G.calls[i] != 1)
            fuzz_fail("a queued command's callback never ran");
        sum += G.calls[i];
    }
    /* The hook reports every caller's command, SCAN's own ones too. */
    if (G.prog != 11 && G.hooks != sum)
        fuzz_fail("the command hook ran other than once per callback");
}

/* A callback freed the client: the release came when it returned. */
static void released(void)
{
    if (G.free_asked && G.a) {
        G.a = NULL;
        G.gone = 1;
        all_called();
    }
}

/* ------------------------------------------------------------ callbacks */

static void on_reply(clusterc_async *a, redisReply *r, void *pd);

static int next_slot(void)
{
    return G.ncmds < MAX_CMDS ? G.ncmds++ : -1;
}

static void took(int i, int rc)
{
    if (rc == 0 && G.closing)
        fuzz_fail("a command was queued on a client that is closing");
    if (rc == 0)
        G.queued[i] = 1;
    else if (rc != -1)
        fuzz_fail("a submit returned neither 0 nor -1");
    else if (clusterc_async_error(G.a) == 0)
        fuzz_fail("a refused submit left no error");
}

#define PD(i) ((void *)(intptr_t)(i))
#define CMD(...) do { int i_ = next_slot(); if (i_ >= 0) \
    took(i_, clusterc_async_command(G.a, on_reply, PD(i_), __VA_ARGS__)); } while (0)
#define ROUTE(rt, ...) do { int i_ = next_slot(); if (i_ >= 0) \
    took(i_, clusterc_async_command_route(G.a, CLUSTERC_ROUTE_##rt, on_reply, PD(i_), \
                                          __VA_ARGS__)); } while (0)
#define NODE(node, ...) do { int i_ = next_slot(); if (i_ >= 0) \
    took(i_, clusterc_async_command_to_node(G.a, node, on_reply, PD(i_), __VA_ARGS__)); \
    } while (0)

/* Commands some programs send from their first callback, once the map is
 * known (a transaction before it would only be refused). */
static void later_tx(void)
{
    CMD("MULTI");
    CMD("SET {t}a 1");
    CMD("INCR {t}b");
    CMD("EXEC");
    CMD("MULTI");
    CMD("GET {u}x");
    CMD("DISCARD");
}

static void later_to_node(void)
{
    NODE("0000000000000000000000000000000000024903", "DBSIZE");   /* by node id */
    NODE("127.0.0.1:24906", "GET x");
}

static void later_unsubscribe(void)
{
    int rc = clusterc_async_unsubscribe(G.a, CLUSTERC_PUBSUB_PATTERN, "p*");
    if (rc != 0 && rc != -1)
        fuzz_fail("unsubscribe returned neither 0 nor -1");
}

static void later_drain(void)
{
    CMD("GET z");
    clusterc_async_disconnect(G.a);   /* what is pending finishes or times out */
    G.closing = 1;
    CMD("GET after-disconnect");      /* refused */
}

static void (*const later[16])(void) = {
    [6] = later_tx, [8] = later_to_node, [12] = later_unsubscribe, [14] = later_drain,
    [15] = later_tx,
};

/* What some programs do from inside a callback. */
static void follow_up(clusterc_async *a)
{
    if (G.prog == 9 && G.chain > 0 && !G.closing) {
        CMD("GET chain:%d", --G.chain);
        if (G.chain == 0) {
            clusterc_async_disconnect(a);
            G.closing = 1;
            CMD("GET after-disconnect");   /* refused */
        }
    } else if (G.prog == 10 && !G.free_asked) {
        G.free_asked = G.closing = 1;
        clusterc_async_free(a);   /* the rest fail now, inside this call */
        CMD("GET after-free");    /* refused */
    } else if (later[G.prog] && !G.followed && !G.closing) {
        G.followed = 1;
        later[G.prog]();
    }
}

static void on_reply(clusterc_async *a, redisReply *r, void *pd)
{
    int i = (int)(intptr_t)pd;
    if (G.gone)
        fuzz_fail("a callback ran after the client was freed");
    if (a != G.a)
        fuzz_fail("a callback got another client");
    if (i < 0 || i >= G.ncmds || !G.queued[i])
        fuzz_fail("a callback ran inside its submit, or for a refused submit");
    if (G.calls[i]++)
        fuzz_fail("a callback ran twice");
    G.callbacks++;
    if (G.trace)
        fprintf(stderr, "[cli] command %d: %s %d %.80s\n", i, r ? "reply of type" : "failed",
                r ? r->type : clusterc_async_error(a),
                r ? (r->str ? r->str : "") : clusterc_async_errstr(a));
    if (r)
        check_reply(r, 0);
    else if (clusterc_async_error(a) == 0 || !clusterc_async_errstr(a)[0])
        fuzz_fail("a NULL reply without an error");
    follow_up(a);
}

static void on_event(const clusterc_event *ev, void *pd)
{
    (void)pd;
    if (G.gone)
        fuzz_fail("an event after the client was freed");
    if (ev->type < CLUSTERC_EVENT_READY || ev->type > CLUSTERC_EVENT_SUBSCRIBE_REFUSED)
        fuzz_fail("an event of an unknown type");
    touch(ev->detail, strlen(ev->detail), "an event without detail");
    if (ev->node)
        touch(ev->node, strlen(ev->node), "");
    touch(clusterc_event_name(ev->type), 1, "an event without a name");
}

static void on_command(const clusterc_command_info *ci, void *pd)
{
    (void)pd;
    if (G.gone)
        fuzz_fail("a command hook call after the client was freed");
    touch(ci->name, strlen(ci->name), "a command hook call without a name");
    if (ci->node)
        touch(ci->node, strlen(ci->node), "");
    if (ci->redirects < 0 || ci->retries < 0 || ci->code > 0)
        fuzz_fail("a command hook call with bad counts");
    G.hooks++;
}

static void on_message(clusterc_async *a, const clusterc_message *m, void *pd)
{
    (void)pd;
    if (G.gone || a != G.a)
        fuzz_fail("a message after the client was freed, or for another client");
    if (m->kind < CLUSTERC_PUBSUB_CHANNEL || m->kind > CLUSTERC_PUBSUB_SHARD)
        fuzz_fail("a message of an unknown kind");
    touch(m->channel, m->channel_len, "a message without a channel");
    touch(m->payload, m->payload_len, "a message without a payload");
    if ((m->kind == CLUSTERC_PUBSUB_PATTERN) != (m->pattern != NULL))
        fuzz_fail("a message with a pattern but not a pmessage, or the reverse");
    if (m->pattern)
        touch(m->pattern, m->pattern_len, "");
}

static void on_scan(clusterc_async_scan *s, redisReply *keys, int status, void *pd)
{
    (void)pd;
    if (G.gone || !G.scan || s != G.scan)
        fuzz_fail("a SCAN callback after its scan or its client was freed");
    if (!G.scan_pending)
        fuzz_fail("a SCAN callback with no step asked");
    G.scan_pending = 0;
    if (status == 1) {
        if (!keys || keys->type != REDIS_REPLY_ARRAY || keys->elements == 0)
            fuzz_fail("a SCAN batch that is not a non-empty array");
        check_reply(keys, 0);
        for (size_t i = 0; i < keys->elements; i++)
            if (keys->element[i]->type != REDIS_REPLY_STRING)
                fuzz_fail("a SCAN batch with a key that is not a string");
        freeReplyObject(keys);
    } else if (keys || (status != 0 && status != -1)) {
        fuzz_fail("a SCAN callback with keys but no batch, or a bad status");
    }
    if (status != 0 && G.scan_steps > 0) {
        G.scan_steps--;
        G.scan_pending = clusterc_async_scan_next(s, on_scan, NULL) == 0;
    }
}

/* ------------------------------------------------------------ programs */

static void prog_basic(void)
{
    CMD("GET foo");
    CMD("SET foo %s", "bar");
    CMD("INCR ctr");
}

static void prog_pipeline(void)
{
    for (int k = 0; k < 24; k++)
        CMD("GET key:%d", k);
}

static void prog_multikey(void)
{
    CMD("MGET a b c d");
    CMD("DEL a b c");
    CMD("MSET a 1 b 2 c 3");
    CMD("EXISTS a b c d");
    CMD("MGET {t}a {t}b");
    CMD("TOUCH a b");
}

static void prog_reads(void)
{
    CMD("GET r1");
    CMD("HGETALL h1");
    CMD("SET r1 v");
    CMD("GET r1");
    CMD("LRANGE l1 0 -1");
    CMD("ZRANGE z1 0 -1 WITHSCORES");
    CMD("STRLEN r2");
}

static void prog_routes(void)
{
    ROUTE(PRIMARY, "GET x");
    ROUTE(REPLICA, "GET x");
    ROUTE(ANY, "GET y");
    ROUTE(ALL_PRIMARIES, "DBSIZE");
    ROUTE(ALL_NODES, "ECHO hi");
    ROUTE(EACH_PRIMARY, "DBSIZE");
    ROUTE(EACH_NODE, "INFO stats");
    ROUTE(ALL_PRIMARIES, "GET x");
}

static void prog_fanout(void)
{
    CMD("DBSIZE");
    CMD("KEYS *");
    CMD("SCRIPT EXISTS %s %s", "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
        "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    CMD("RANDOMKEY");
    CMD("SCRIPT LOAD %s", "return 1");
    CMD("FLUSHALL");
    CMD("ECHO x");
}

static void prog_tx(void)   /* the transactions: later_tx */
{
    CMD("GET {t}a");
    CMD("GET {u}x");
}

static void prog_blocking(void)
{
    CMD("BLPOP q1 1");
    CMD("BRPOP q2 0");
    CMD("GET x");
    CMD("WAIT 1 100");
    CMD("XREAD BLOCK 100 STREAMS s1 0");
}

static void prog_to_node(void)   /* and later_to_node */
{
    NODE("127.0.0.1:24902", "INFO keyspace");
    NODE("127.0.0.1:24905", "GET x");
    NODE("nohost", "GET x");   /* refused: no port */
    CMD("GET x");
}

static void prog_chain(void)
{
    G.chain = 12;
    CMD("GET c0");
    CMD("SET c1 v");
}

static void prog_free_in_callback(void)
{
    CMD("GET a");
    CMD("GET b");
    CMD("SET c v");
    CMD("DBSIZE");
}

static void prog_scan(void)
{
    G.scan = clusterc_async_scan_start(G.a, "k*", 10, NULL);
    if (!G.scan)
        fuzz_fail("clusterc_async_scan_start failed");
    G.scan_steps = 6;
    G.scan_pending = clusterc_async_scan_next(G.scan, on_scan, NULL) == 0;
    if (!G.scan_pending)
        fuzz_fail("the first clusterc_async_scan_next was refused");
    CMD("GET x");
}

static void prog_pubsub(void)   /* and later_unsubscribe */
{
    if (clusterc_async_subscribe(G.a, "ch", on_message, NULL) != 0 ||
        clusterc_async_psubscribe(G.a, "p*", on_message, NULL) != 0 ||
        clusterc_async_ssubscribe(G.a, "sch", on_message, NULL) != 0)
        fuzz_fail("a subscription was refused");
    CMD("PUBLISH ch m");
    CMD("SPUBLISH sch m");
    CMD("GET x");
}

static void prog_scripts(void)
{
    CMD("EVAL %s 2 {k}1 {k}2 a", "return redis.call('get', KEYS[1])");
    CMD("EVALSHA a94a8fe5ccb19ba61c4c0873d391e987982fbbd3 1 k");
    CMD("XADD s1 * f v");
    CMD("XREAD COUNT 1 STREAMS s1 s2 0 0");
    CMD("SORT l1 LIMIT 0 2");
    CMD("OBJECT ENCODING k");
    CMD("FCALL f 1 k");
}

static void prog_drain(void)   /* and later_drain */
{
    CMD("GET x");
    CMD("SET y 1");
    CMD("MGET x y z");
    ROUTE(ALL_PRIMARIES, "DBSIZE");
}

static void prog_mix(void)   /* and later_tx */
{
    CMD("GET foo");
    CMD("MGET a b");
    ROUTE(EACH_PRIMARY, "DBSIZE");
    CMD("BLPOP q1 1");
    if (clusterc_async_subscribe(G.a, "ch", on_message, NULL) != 0)
        fuzz_fail("a subscription was refused");
    CMD("KEYS *");
}

static void (*const progs[16])(void) = {
    prog_basic, prog_pipeline, prog_multikey, prog_reads, prog_routes, prog_fanout, prog_tx,
    prog_blocking, prog_to_node, prog_chain, prog_free_in_callback, prog_scan, prog_pubsub,
    prog_scripts, prog_drain, prog_mix,
};

/* ------------------------------------------------------------ the run */

static void options(clusterc_options *o, uint8_t b0, uint8_t b1)
{
    static const int retries[4] = { 16, 0, 1, 3 };
    clusterc_options_init(o);
    o->seeds = b0 & 32 ? "127.0.0.1:24901,127.0.0.1:24902" : "127.0.0.1:24901";
    /* Every timer long enough never to expire by itself during a run:
     * time passes only when the input says so (fz_warp). */
    o->connect_timeout_ms = 5000;
    o->command_timeout_ms = 30000;
    o->retry_backoff_min_ms = 2000;
    o->retry_backoff_max_ms = 16000;
    o->refresh_min_interval_ms = 2000;
    o->refresh_interval_ms = 60000;
    o->latency_probe_ms = 3000;
    o->lag_probe_ms = 3000;
    o->tcp_keepalive_s = 0;
    o->blocking_pool_size = 2;
    o->max_retries = retries[(b1 >> 4) & 3];
    o->max_redirects = b1 & 64 ? -1 : 3;
    o->read_only = (b0 & 3) == 1;
    o->route_randomly = (b0 & 3) == 2;
    o->route_by_latency = (b0 & 3) == 3;
    o->read_your_writes = (b0 & 4) != 0;
    o->multi_slot_split = (b0 & 8) != 0;
    o->password = b0 & 128 ? "secret" : NULL;
    if (b0 & 32) {
        o->client_name = "fuzz";
        o->max_lag_bytes = 1000;
        o->latency_replicas_only = 1;
        o->client_az = "az-1";
        o->az_affinity = 1;
    }
    o->on_event = b1 & 128 ? on_event : NULL;
    o->on_command = on_command;
}

/* Run the client's loop, then read and answer what it wrote. */
static void pump(void)
{
    for (int t = 0; t < TURNS; t++) {
        event_base_loop(G.base, EVLOOP_NONBLOCK);
        released();
        fz_srv_poll();
    }
}

static void feed(const uint8_t *p, size_t n)
{
    size_t at = 0;
    for (int step = 0; step < MAX_STEPS; step++) {
        pump();
        if (G.trace && at >= n && !G.gone)
            fz_srv_trace_next();
        if (at >= n || G.gone)
            return;
        size_t len = p[at++];
        if (len == 0) {
            fz_warp(G.base, horizon_ms[at < n ? p[at++] & 7 : 0]);
            continue;
        }
        if (len > n - at)
            len = n - at;
        if (fz_srv_deliver(p + at, len) < 0)
            return;
        at += len;
    }
}

static void observe(const clusterc_async *a)
{
    clusterc_node_info info[8];
    clusterc_stats st;
    int n = clusterc_async_node_stats(a, info, 8);
    for (int i = 0; i < n && i < 8; i++) {
        if (!memchr(info[i].addr, '\0', sizeof(info[i].addr)) ||
            !memchr(info[i].announced, '\0', sizeof(info[i].announced)) ||
            !memchr(info[i].id, '\0', sizeof(info[i].id)) || !info[i].why)
            fuzz_fail("node stats with an unterminated string");
    }
    clusterc_async_get_stats(a, &st);
}

/* The server goes away, then the client: every callback owed runs. */
static void finish(void)
{
    fz_srv_close_all();
    for (int t = 0; t < TURNS; t++) {
        event_base_loop(G.base, EVLOOP_NONBLOCK);
        released();
    }
    if (G.scan) {   /* before the client (async.h) */
        clusterc_async_scan_free(G.scan);
        G.scan = NULL;
    }
    if (G.a) {
        observe(G.a);
        G.closing = 1;
        clusterc_async_free(G.a);
        G.a = NULL;
    }
    G.gone = 1;
    all_called();
    event_base_loop(G.base, EVLOOP_NONBLOCK);   /* a cancelled lookup's turn */
    event_base_free(G.base);
    G.base = NULL;
    fz_srv_end();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int trace = -1;
    clusterc_options o;
    if (trace < 0)
        trace = getenv("FUZZ_ENGINE_TRACE") != NULL;
    if (size < 2)
        return 0;
    memset(&G, 0, sizeof(G));
    options(&o, data[0], data[1]);
    G.prog = data[1] & 15;
    G.trace = trace;
    G.base = event_base_new();
    if (!G.base)
        fuzz_fail("event_base_new failed");
    fz_srv_begin((data[0] & 16) != 0, (data[0] & 64) != 0, trace);
    G.a = clusterc_async_connect(G.base, &o);
    if (!G.a || clusterc_async_error(G.a))
        fuzz_fail("clusterc_async_connect refused valid options");
    /* A fixed seed, so the node a refresh asks, random reads and backoff
     * jitter are the same on every run of an input. */
    clusterc__async_engine(G.a)->rng = 0x9e3779b97f4a7c15ULL;
    progs[G.prog]();
    feed(data + 2, size - 2);
    finish();
    return 0;
}
