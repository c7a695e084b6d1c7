/* it_basic.c -- both faces against a 3+3 cluster: many keys, pipelining,
 * error replies, keyless commands, graceful and immediate close, an idle
 * blocking client's clusterc_poll. Ports
 * 20000-20005 (bus ports 30000+, below the ephemeral range). */
#define _DEFAULT_SOURCE   /* usleep */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "itest.h"

#define NKEYS 10000
static harness *H;

static int setup(void **state)
{
    (void)state;
    H = harness_start(20000, 3, 1, NULL);
    return H ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(H);
    return 0;
}

static void test_set_get_many_sync(void **state)
{
    (void)state;
    clusterc_client *c = it_client(H, NULL);
    char key[32], val[32];
    static unsigned char seen[CLUSTERC_SLOTS];
    int slots = 0;
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        snprintf(val, sizeof(val), "val:%d", i);
        redisReply *r = clusterc_command(c, "SET %s %s", key, val);
        if (!r)
            fail_msg("SET %s: %s", key, clusterc_errstr(c));
        it_expect_str(r, "OK");
        freeReplyObject(r);
        int s = clusterc_keyslot(key, strlen(key));
        slots += !seen[s];
        seen[s] = 1;
    }
    for (int i = 0; i < NKEYS; i++) {
        snprintf(key, sizeof(key), "key:%d", i);
        snprintf(val, sizeof(val), "val:%d", i);
        redisReply *r = clusterc_command(c, "GET %s", key);
        if (!r)
            fail_msg("GET %s: %s", key, clusterc_errstr(c));
        it_expect_str(r, val);
        freeReplyObject(r);
    }
    assert_true(slots > 4000);   /* the keys cover every node many times over */
    clusterc_stats st;
    clusterc_get_stats(c, &st);
    assert_int_equal(st.moved, 0);
    assert_int_equal(st.failures, 0);
    clusterc_free(c);
}

static void test_pipeline_in_order(void **state)
{
    (void)state;
    clusterc_client *c = it_client(H, NULL);
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "pipe:%d", i);
        if (i % 2 == 0)
            assert_int_equal(clusterc_append_command(c, "SET %s %d", key, i), 0);
        else
            assert_int_equal(clusterc_append_command(c, "INCR pipe:%d", i - 1), 0);
    }
    for (int i = 0; i < 1000; i++) {
        void *v;
        if (clusterc_get_reply(c, &v) != 0)
            fail_msg("reply %d: %s", i, clusterc_errstr(c));
        redisReply *r = v;
        if (i % 2 == 0) {
            it_expect_str(r, "OK");
        } else {
            assert_int_equal(r->type, REDIS_REPLY_INTEGER);
            assert_int_equal(r->integer, i);   /* (i-1) + 1 */
        }
        freeReplyObject(r);
    }
    void *v;
    assert_int_equal(clusterc_get_reply(c, &v), -1);
    assert_int_equal(clusterc_error(c), CLUSTERC_EUSAGE);
    clusterc_free(c);
}

/* Appended commands whose replies are awaited by a blocking recv on the
 * head's connection (wait_fast): replies of 300 KB arrive over many reads,
 * a lone command runs between append and read, and with the latency
 * policy probes and lag polls are in flight, so the loop must take over.
 * Every reply must come back whole and in order. The GETs are appended
 * once the SETs were answered: read_your_writes covers them then. */
static void read_back(clusterc_client *c, const char *tag, int from, const char *big,
                      size_t biglen)
{
    redisReply *lone = clusterc_command(c, "PING");   /* between append and read */
    it_expect_str(lone, "PONG");
    freeReplyObject(lone);
    for (int i = 0; i < 60; i++) {
        void *v;
        if (clusterc_get_reply(c, &v) != 0)
            fail_msg("%s reply %d: %s", tag, from + i, clusterc_errstr(c));
        redisReply *r = v;
        char want[16];
        snprintf(want, sizeof(want), "%d", i);
        if (from == 0) {
            it_expect_str(r, "OK");
        } else if (i % 3 == 0) {
            assert_int_equal(r->type, REDIS_REPLY_STRING);
            assert_int_equal(r->len, biglen);
            assert_memory_equal(r->str, big, biglen);
        } else {
            it_expect_str(r, want);
        }
        freeReplyObject(r);
    }
}

static void big_pipeline(clusterc_client *c, const char *tag, const char *big, size_t biglen)
{
    char key[48];
    for (int i = 0; i < 60; i++) {
        snprintf(key, sizeof(key), "%s:%d", tag, i);
        if (i % 3 == 0) {
            const char *argv[] = { "SET", key, big };
            size_t argvlen[] = { 3, strlen(key), biglen };
            assert_int_equal(clusterc_append_command_argv(c, 3, argv, argvlen), 0);
        } else {
            assert_int_equal(clusterc_append_command(c, "SET %s %d", key, i), 0);
        }
    }
    read_back(c, tag, 0, big, biglen);
    for (int i = 0; i < 60; i++) {
        snprintf(key, sizeof(key), "%s:%d", tag, i);
        assert_int_equal(clusterc_append_command(c, "GET %s", key), 0);
    }
    read_back(c, tag, 60, big, biglen);
}

static void test_pipeline_big_replies(void **state)
{
    (void)state;
    size_t biglen = 300 * 1024;
    char *big = malloc(biglen);
    assert_non_null(big);
    for (size_t i = 0; i < biglen; i++)
        big[i] = (char)('a' + i % 26);
    clusterc_client *c = it_client(H, NULL);
    big_pipeline(c, "bigp", big, biglen);
    clusterc_free(c);
    clusterc_options o;
    clusterc_options_init(&o);
    o.route_by_latency = 1;   /* latency probes run beside the pipeline */
    o.latency_probe_ms = 1;
    o.read_your_writes = 1;   /* and lag polls */
    o.lag_probe_ms = 10;
    c = it_client(H, &o);
    for (int round = 0; round < 5; round++)
        big_pipeline(c, "bigl", big, biglen);
    clusterc_free(c);
    free(big);
}

static void test_error_replies_are_replies(void **state)
{
    (void)state;
    clusterc_client *c = it_client(H, NULL);
    redisReply *r = clusterc_command(c, "SET %s %s", "wt", "x");
    freeReplyObject(r);
    r = clusterc_command(c, "LPUSH %s %s", "wt", "y");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "WRONGTYPE"));
    freeReplyObject(r);
    /* Keys in different slots: split by slot (issue 10)... */
    r = clusterc_command(c, "MSET %s 1 %s 2", "a", "b");
    it_expect_str(r, "OK");
    freeReplyObject(r);
    /* ...or, with splitting off, the server's CROSSSLOT error, not a crash. */
    clusterc_options o;
    clusterc_options_init(&o);
    o.multi_slot_split = 0;
    clusterc_client *whole = it_client(H, &o);
    r = clusterc_command(whole, "MSET %s 1 %s 2", "a", "b");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "CROSSSLOT"));
    freeReplyObject(r);
    clusterc_free(whole);
    r = clusterc_command(c, "MSET {t}a 1 {t}b 2");
    it_expect_str(r, "OK");
    freeReplyObject(r);
    r = clusterc_command(c, "NOSUCHCOMMAND x");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = clusterc_command(c, "PING");
    it_expect_str(r, "PONG");
    freeReplyObject(r);
    r = clusterc_command(c, "MGET {t}a {t}b");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    freeReplyObject(r);
    clusterc_free(c);
}

/* MULTI names no key: it is held until the first keyed command picks the
 * node, and everything up to EXEC goes there. */
static void test_transactions(void **state)
{
    (void)state;
    for (int t = 0; t < 5; t++) {   /* several tags: several owners */
        clusterc_client *c = it_client(H, NULL);
        redisReply *r = clusterc_command(c, "MULTI");
        it_expect_str(r, "OK");
        freeReplyObject(r);
        r = clusterc_command(c, "SET {tx%d}a 1", t);
        it_expect_str(r, "QUEUED");
        freeReplyObject(r);
        r = clusterc_command(c, "INCR {tx%d}a", t);
        it_expect_str(r, "QUEUED");
        freeReplyObject(r);
        r = clusterc_command(c, "EXEC");
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->elements, 2);
        assert_int_equal(r->element[1]->integer, 2);
        freeReplyObject(r);
        /* The same, pipelined. */
        assert_int_equal(clusterc_append_command(c, "MULTI"), 0);
        assert_int_equal(clusterc_append_command(c, "INCR {tx%d}a", t), 0);
        assert_int_equal(clusterc_append_command(c, "GET {tx%d}a", t), 0);
        assert_int_equal(clusterc_append_command(c, "EXEC"), 0);
        const char *want[3] = { "OK", "QUEUED", "QUEUED" };
        for (int i = 0; i < 4; i++) {
            void *v;
            assert_int_equal(clusterc_get_reply(c, &v), 0);
            r = v;
            if (i < 3)
                it_expect_str(r, want[i]);
            else
                assert_string_equal(r->element[1]->str, "3");
            freeReplyObject(r);
        }
        clusterc_free(c);
    }
}

/* Kill, on the server, the connection of the client named name. */
static void kill_named_client(int port, const char *name)
{
    char needle[64];
    snprintf(needle, sizeof(needle), " name=%s ", name);
    redisReply *r = harness_cmd(H, port, "CLIENT LIST");
    assert_non_null(r);
    const char *line = strstr(r->str, needle);
    assert_non_null(line);
    while (line > r->str && line[-1] != '\n')
        line--;
    long long id = atoll(line + strlen("id="));
    freeReplyObject(r);
    it_node_ok(H, port, "CLIENT KILL ID %lld", id);
}

/* The transaction's connection is lost after MULTI went out: what follows
 * must not run outside MULTI on a new connection. */
static void test_transaction_connection_lost(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);
    o.client_name = "it-tx-lost";
    clusterc_client *c = it_client(H, &o);
    int port = harness_primary_of_slot(H, clusterc_keyslot("txl", 3));
    freeReplyObject(clusterc_command(c, "DEL {txl}c"));
    redisReply *r = clusterc_command(c, "MULTI");
    it_expect_str(r, "OK");
    freeReplyObject(r);
    r = clusterc_command(c, "SET {txl}a 1");
    it_expect_str(r, "QUEUED");
    freeReplyObject(r);
    kill_named_client(port, "it-tx-lost");
    r = clusterc_command(c, "SET {txl}b 2");   /* meets the closed connection */
    assert_true(r == NULL || r->type == REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = clusterc_command(c, "SET {txl}c 3");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "not queued: the connection to"));
    freeReplyObject(r);
    r = clusterc_command(c, "EXEC");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_true(strncmp(r->str, "EXECABORT", 9) == 0);
    freeReplyObject(r);
    r = clusterc_command(c, "GET {txl}c");   /* was never applied */
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    /* And the next transaction works. */
    r = clusterc_command(c, "MULTI");
    it_expect_str(r, "OK");
    freeReplyObject(r);
    r = clusterc_command(c, "INCR {txl}n");
    it_expect_str(r, "QUEUED");
    freeReplyObject(r);
    r = clusterc_command(c, "EXEC");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    clusterc_free(c);
}

static void test_client_name(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);
    o.client_name = "clusterc-it";
    clusterc_client *c = it_client(H, &o);
    redisReply *r = clusterc_command(c, "CLIENT GETNAME");
    it_expect_str(r, "clusterc-it");
    freeReplyObject(r);
    clusterc_stats st;
    clusterc_get_stats(c, &st);
    assert_true(st.connects >= 1);   /* at least the connection just used */
    clusterc_free(c);
}

/* PINGs the primaries ran. Not the replicas': their primaries PING them
 * over the replication link every second (repl-ping-replica-period 1). */
static long long pings_on_primaries(void)
{
    long long calls = 0;
    for (int i = 0; i < 3; i++) {
        redisReply *r = harness_cmd(H, harness_nth_port(H, "master", i), "INFO commandstats");
        assert_non_null(r);
        const char *p = strstr(r->str, "cmdstat_ping:calls=");
        calls += p ? atoll(p + strlen("cmdstat_ping:calls=")) : 0;
        freeReplyObject(r);
    }
    return calls;
}

/* An idle blocking client does nothing; clusterc_poll gives its probes
 * time to run (3 PINGs per node per round). */
static void test_poll_keeps_probing(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);
    o.route_by_latency = 1;
    o.latency_probe_ms = 100;
    clusterc_client *c = it_client(H, &o);
    freeReplyObject(clusterc_command(c, "GET k"));
    for (int i = 0; i < harness_count(H); i++)
        it_node_ok(H, harness_port(H, i), "CONFIG RESETSTAT");
    usleep(500000);
    long long idle = pings_on_primaries();
    assert_int_equal(clusterc_poll(c, 600), 0);
    long long polled = pings_on_primaries();
    fprintf(stderr, "PINGs on the 3 primaries: %lld while idle 500 ms, %lld during a 600 ms poll\n",
            idle, polled - idle);
    assert_int_equal(idle, 0);
    assert_true(polled - idle >= 3 * 3);
    assert_int_equal(clusterc_poll(c, 0), 0);
    assert_int_equal(clusterc_poll(c, -1), -1);
    assert_int_equal(clusterc_error(c), CLUSTERC_EINVAL);
    clusterc_free(c);
}

static void test_command_to_node(void **state)
{
    (void)state;
    clusterc_client *c = it_client(H, NULL);
    char addr[32];
    for (int i = 0; i < harness_count(H); i++) {
        snprintf(addr, sizeof(addr), "127.0.0.1:%d", harness_port(H, i));
        redisReply *r = clusterc_command_to_node(c, addr, "CLUSTER MYID");
        it_expect_str(r, harness_id(H, i));
        freeReplyObject(r);
        r = clusterc_command_to_node(c, harness_id(H, i), "CLUSTER MYID");  /* by id */
        it_expect_str(r, harness_id(H, i));
        freeReplyObject(r);
    }
    /* No redirect is followed: a key on another node gives MOVED back. */
    int owner = harness_primary_of_slot(H, clusterc_keyslot("k2n", 3));
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", it_other_master(H, owner));
    redisReply *r = clusterc_command_to_node(c, addr, "GET k2n");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "MOVED"));
    freeReplyObject(r);
    assert_null(clusterc_command_to_node(c, "0123456789012345678901234567890123456789", "PING"));
    assert_int_equal(clusterc_error(c), CLUSTERC_EINVAL);
    assert_null(clusterc_command_to_node(c, "nonsense", "PING"));
    assert_int_equal(clusterc_error(c), CLUSTERC_EINVAL);
    assert_non_null(strstr(clusterc_errstr(c), "bad node address \"nonsense\": bad address \"nonsense\": missing port"));
    assert_null(clusterc_command_to_node(c, ":7001", "PING"));
    assert_non_null(strstr(clusterc_errstr(c), "bad node address \":7001\": no host"));
    assert_null(clusterc_command_to_node(c, "127.0.0.1:20099", "PING"));
    assert_int_equal(clusterc_error(c), CLUSTERC_ECONNECT);
    clusterc_free(c);
}

/* ------------------------------------------------------------- async face */

typedef struct counter {
    int ok, failed, expected, done;
    int check_value;
} counter;

static void on_reply(clusterc_async *a, redisReply *r, void *pd)
{
    counter *k = pd;
    if (!r) {
        k->failed++;
        fprintf(stderr, "async failure: %s\n", clusterc_async_errstr(a));
    } else if (r->type == REDIS_REPLY_ERROR) {
        k->failed++;
        fprintf(stderr, "async error reply: %s\n", r->str);
    } else {
        k->ok++;
    }
    if (k->ok + k->failed == k->expected)
        k->done = 1;
}

static void test_async_many(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    clusterc_async *a = clusterc_async_connect(base, &o);
    assert_non_null(a);
    assert_int_equal(clusterc_async_error(a), 0);
    counter k = { 0, 0, NKEYS, 0, 0 };
    for (int i = 0; i < NKEYS; i++)
        assert_int_equal(clusterc_async_command(a, on_reply, &k, "SET akey:%d %d", i, i), 0);
    assert_true(it_loop_until(base, &k.done, 20000));
    assert_int_equal(k.ok, NKEYS);
    /* Now read them back. */
    counter g = { 0, 0, NKEYS, 0, 0 };
    for (int i = 0; i < NKEYS; i++)
        assert_int_equal(clusterc_async_command(a, on_reply, &g, "GET akey:%d", i), 0);
    assert_true(it_loop_until(base, &g.done, 20000));
    assert_int_equal(g.ok, NKEYS);
    /* Graceful close: what is queued completes, then the loop ends. */
    counter d = { 0, 0, 100, 0, 0 };
    for (int i = 0; i < 100; i++)
        assert_int_equal(clusterc_async_command(a, on_reply, &d, "GET akey:%d", i), 0);
    clusterc_async_disconnect(a);
    assert_int_equal(clusterc_async_command(a, on_reply, &d, "GET x"), -1);
    assert_int_equal(clusterc_async_error(a), CLUSTERC_ECLOSED);
    event_base_dispatch(base);   /* returns only when nothing is left */
    assert_int_equal(d.ok, 100);
    /* The drained client's nodes are gone, and so is its map (reading
     * it here once touched freed nodes: ASan's job to notice). */
    clusterc_node_info info[16];
    assert_int_equal(clusterc_async_node_stats(a, info, 16), -1);
    clusterc_async_free(a);
    event_base_free(base);
}

typedef struct freer {
    int calls, nulls;
} freer;

static void free_in_callback(clusterc_async *a, redisReply *r, void *pd)
{
    freer *f = pd;
    f->calls++;
    if (!r)
        f->nulls++;
    if (f->calls == 1)
        clusterc_async_free(a);   /* the rest run now, with NULL */
}

static void test_async_free_inside_callback(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    clusterc_async *a = clusterc_async_connect(base, &o);
    freer f = { 0, 0 };
    for (int i = 0; i < 50; i++)
        assert_int_equal(clusterc_async_command(a, free_in_callback, &f, "GET akey:%d", i), 0);
    event_base_dispatch(base);
    assert_int_equal(f.calls, 50);
    assert_true(f.nulls >= 1);
    event_base_free(base);
}

/* The command hook names a container command with its sub-command, in
 * capitals, and reports the node of its last attempt and its code. */
typedef struct seen { char name[8][32], node[8][64]; int code[8], n; } seen;

static void record(const clusterc_command_info *ci, void *privdata)
{
    seen *s = privdata;
    if (s->n >= 8)
        return;
    snprintf(s->name[s->n], sizeof(s->name[0]), "%s", ci->name);
    snprintf(s->node[s->n], sizeof(s->node[0]), "%s", ci->node ? ci->node : "-");
    s->code[s->n++] = ci->code;
}

static void test_command_hook_names(void **state)
{
    (void)state;
    seen s;
    memset(&s, 0, sizeof(s));
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    o.connect_timeout_ms = 300;
    o.on_command = record;
    o.command_privdata = &s;
    clusterc_client *c = clusterc_connect(&o);
    assert_int_equal(clusterc_error(c), 0);
    const char *cmds[4][3] = { { "GET", "hooked" }, { "cluster", "info" },
                               { "config", "get", "maxmemory" }, { "ACL", "WHOAMI" } };
    const int argc[4] = { 2, 2, 3, 2 };
    const char *want[] = { "GET", "CLUSTER INFO", "CONFIG GET", "ACL WHOAMI" };
    for (int i = 0; i < 4; i++) {
        redisReply *r = clusterc_command_argv(c, argc[i], cmds[i], NULL);
        assert_non_null(r);
        freeReplyObject(r);
    }
    assert_null(clusterc_command_to_node(c, "127.0.0.1:1", "PING"));   /* nothing listens */
    assert_int_equal(s.n, 5);   /* the map load and COMMAND are the library's own */
    for (int i = 0; i < 4; i++) {
        assert_string_equal(s.name[i], want[i]);
        assert_int_equal(s.code[i], 0);
        assert_non_null(strstr(s.node[i], "127.0.0.1:"));
    }
    assert_string_equal(s.name[4], "PING");
    assert_string_equal(s.node[4], "127.0.0.1:1");
    assert_int_equal(s.code[4], CLUSTERC_ECONNECT);
    clusterc_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_many_sync),
        cmocka_unit_test(test_pipeline_in_order),
        cmocka_unit_test(test_pipeline_big_replies),
        cmocka_unit_test(test_error_replies_are_replies),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_transaction_connection_lost),
        cmocka_unit_test(test_client_name),
        cmocka_unit_test(test_command_to_node),
        cmocka_unit_test(test_poll_keeps_probing),
        cmocka_unit_test(test_async_many),
        cmocka_unit_test(test_async_free_inside_callback),
        cmocka_unit_test(test_command_hook_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
