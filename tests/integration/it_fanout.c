/* it_fanout.c -- commands that span the cluster (issue 10) on a 3+3
 * cluster: DBSIZE, KEYS, FLUSHALL, SCRIPT LOAD fanned out by the server's
 * COMMAND tips and merged; MGET, MSET, DEL, EXISTS split by slot and put
 * back in the caller's order; the explicit ALL_ and EACH_ routes; no split
 * with multi_slot_split = 0 or inside MULTI; the async face; a node down
 * and a node's error reply named; a split MGET through a live slot
 * migration and through a manual failover. Ports 22700-22705 (bus
 * 32700-32705). */
#define _DEFAULT_SOURCE   /* usleep */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "itest.h"

#define BASE 22700
#define NKEYS 10000
#define NMGET 200
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

/* ------------------------------------------------------------- helpers */

static clusterc_client *client_t(int timeout_ms, int split)
{
    clusterc_options o;
    clusterc_options_init(&o);
    if (timeout_ms)
        o.command_timeout_ms = timeout_ms;
    o.multi_slot_split = split;
    return it_client(H, &o);
}

/* SET <prefix>i <vprefix>i for from <= i < to, pipelined. */
static void set_many(clusterc_client *c, const char *prefix, const char *vprefix, int from, int to)
{
    for (int i = from; i < to; i++)
        assert_int_equal(clusterc_append_command(c, "SET %s%d %s%d", prefix, i, vprefix, i), 0);
    for (int i = from; i < to; i++) {
        void *v = NULL;
        if (clusterc_get_reply(c, &v) != 0)
            fail_msg("SET %s%d: %s", prefix, i, clusterc_errstr(c));
        it_expect_str(v, "OK");
        freeReplyObject(v);
    }
}

/* SET k:i v:i for every i, pipelined in chunks of 1000. */
static void load_keys(clusterc_client *c)
{
    for (int from = 0; from < NKEYS; from += 1000)
        set_many(c, "k:", "v:", from, from + 1000);
}

/* The keys are loaded once, by the first test that needs them. */
static void ensure_keys(clusterc_client *c)
{
    static int loaded;
    if (!loaded)
        load_keys(c);
    loaded = 1;
}

static long long node_int(int port, const char *cmd)
{
    redisReply *r = harness_cmd(H, port, "%s", cmd);
    if (!r || r->type != REDIS_REPLY_INTEGER)
        fail_msg("%d: %s -> %s", port, cmd, r ? (r->str ? r->str : "?") : "no reply");
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* The sum of DBSIZE over the primaries, asked of each with harness_cmd. */
static long long primaries_dbsize(void)
{
    long long sum = 0;
    int n = 0;
    for (int i = 0; i < harness_count(H); i++)
        if (strcmp(harness_role(H, i), "master") == 0) {
            sum += node_int(harness_port(H, i), "DBSIZE");
            n++;
        }
    assert_int_equal(n, 3);
    return sum;
}

static long long int_reply(clusterc_client *c, redisReply *r, const char *what)
{
    if (!r)
        fail_msg("%s: %s", what, clusterc_errstr(c));
    if (r->type != REDIS_REPLY_INTEGER)
        fail_msg("%s: reply type %d (%s)", what, r->type, r->str ? r->str : "-");
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static int distinct_slots(char keys[][32], int n)
{
    static unsigned char seen[CLUSTERC_SLOTS];
    int slots = 0;
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < n; i++) {
        int s = clusterc_keyslot(keys[i], strlen(keys[i]));
        slots += !seen[s];
        seen[s] = 1;
    }
    return slots;
}

/* An MGET: its keys, what each should read (want[i][0] == 0: nil), argv. */
typedef struct mget {
    int n;
    char key[NMGET][32];
    char want[NMGET][32];
    const char *argv[NMGET + 1];
} mget;

static void mget_add(mget *m, const char *key, const char *want)
{
    snprintf(m->key[m->n], sizeof(m->key[0]), "%s", key);
    snprintf(m->want[m->n], sizeof(m->want[0]), "%s", want ? want : "");
    m->n++;
}

static void mget_argv(mget *m)
{
    m->argv[0] = "MGET";
    for (int i = 0; i < m->n; i++)
        m->argv[i + 1] = m->key[i];
}

/* 200 keys: k:(i*37) with a missing key at every tenth place. */
static void mget_mixed(mget *m)
{
    char key[32], val[32];
    memset(m, 0, sizeof(*m));
    for (int i = 0; i < NMGET; i++) {
        if (i % 10 == 3) {
            snprintf(key, sizeof(key), "missing:%d", i);
            mget_add(m, key, NULL);
            continue;
        }
        snprintf(key, sizeof(key), "k:%d", (i * 37) % NKEYS);
        snprintf(val, sizeof(val), "v:%d", (i * 37) % NKEYS);
        mget_add(m, key, val);
    }
    mget_argv(m);
}

/* 0 when r is m's values in m's order; else -1, saying why on stderr. */
static int mget_check(const mget *m, const redisReply *r, const char *errstr)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)m->n) {
        fprintf(stderr, "MGET: %s (type %d, %zu elements)\n",
                !r ? errstr : r->str ? r->str : "-", r ? r->type : 0, r ? r->elements : 0);
        return -1;
    }
    for (int i = 0; i < m->n; i++) {
        const redisReply *e = r->element[i];
        int ok = m->want[i][0] ? e->type == REDIS_REPLY_STRING && strcmp(e->str, m->want[i]) == 0
                               : e->type == REDIS_REPLY_NIL;
        if (!ok) {
            fprintf(stderr, "MGET: %s at %d: type %d \"%s\", want \"%s\"\n", m->key[i], i,
                    e->type, e->str ? e->str : "", m->want[i][0] ? m->want[i] : "(nil)");
            return -1;
        }
    }
    return 0;
}

static int mget_run(clusterc_client *c, mget *m)
{
    redisReply *r = clusterc_command_argv(c, m->n + 1, m->argv, NULL);
    int rc = mget_check(m, r, clusterc_errstr(c));
    freeReplyObject(r);
    return rc;
}

/* -------------------------------------------------------- fan-out, merge */

static void test_dbsize_sums_primaries(void **state)
{
    (void)state;
    clusterc_client *c = client_t(0, 1);
    ensure_keys(c);
    long long want = primaries_dbsize();
    assert_int_equal(want, NKEYS);
    assert_int_equal(int_reply(c, clusterc_command(c, "DBSIZE"), "DBSIZE"), want);
    clusterc_free(c);
}

static void test_keys_all_once(void **state)
{
    (void)state;
    clusterc_client *c = client_t(0, 1);
    ensure_keys(c);
    static unsigned char seen[NKEYS];
    memset(seen, 0, sizeof(seen));
    redisReply *r = clusterc_command(c, "KEYS k:*");
    if (!r)
        fail_msg("KEYS: %s", clusterc_errstr(c));
    if (r->type != REDIS_REPLY_ARRAY)
        fail_msg("KEYS: reply type %d (%s)", r->type, r->str ? r->str : "-");
    assert_int_equal(r->elements, NKEYS);
    for (size_t i = 0; i < r->elements; i++) {
        assert_int_equal(r->element[i]->type, REDIS_REPLY_STRING);
        assert_memory_equal(r->element[i]->str, "k:", 2);
        int k = atoi(r->element[i]->str + 2);
        assert_in_range(k, 0, NKEYS - 1);
        if (seen[k]++)
            fail_msg("KEYS: %s twice", r->element[i]->str);
    }
    freeReplyObject(r);
    clusterc_free(c);
}

static void test_mget_in_order(void **state)
{
    (void)state;
    clusterc_client *c = client_t(0, 1);
    ensure_keys(c);
    static mget m;
    mget_mixed(&m);
    assert_true(distinct_slots(m.key, m.n) >= 150);
    assert_int_equal(mget_run(c, &m), 0);
    clusterc_free(c);
}

static void test_exists_counts(void **state)
{
    (void)state;
    clusterc_client *c = client_t(0, 1);
    ensure_keys(c);
    /* k:1 twice counts twice, as the server counts it; two missing keys. */
    redisReply *r = clusterc_command(c, "EXISTS k:1 k:2 nosuch:a k:1 k:3000 nosuch:b k:9999 k:77");
    assert_int_equal(int_reply(c, r, "EXISTS"), 6);
    r = clusterc_command(c, "EXISTS nosuch:a nosuch:b nosuch:c");
    assert_int_equal(int_reply(c, r, "EXISTS none"), 0);
    clusterc_free(c);
}

/* argv of cmd + keys <prefix>0..n-1 (+ values <vprefix>i when vprefix). */
static int build_argv(const char *cmd, const char *prefix, const char *vprefix, int n,
                      const char **argv, char buf[][32])
{
    int argc = 0, b = 0;
    argv[argc++] = cmd;
    for (int i = 0; i < n; i++) {
        snprintf(buf[b], 32, "%s%d", prefix, i);
        argv[argc++] = buf[b++];
        if (vprefix) {
            snprintf(buf[b], 32, "%s%d", vprefix, i);
            argv[argc++] = buf[b++];
        }
    }
    return argc;
}

static void test_del_many_slots(void **state)
{
    (void)state;
    clusterc_client *c = client_t(0, 1);
    static const char *argv[101];
    static char buf[100][32];
    ensure_keys(c);
    set_many(c, "del:", "x", 0, 100);
    int argc = build_argv("DEL", "del:", NULL, 100, argv, buf);
    assert_true(distinct_slots(buf, 100) >= 90);
    assert_int_equal(int_reply(c, clusterc_command_argv(c, argc, argv, NULL), "DEL"), 100);
    argv[0] = "EXISTS";
    assert_int_equal(int_reply(c, clusterc_command_argv(c, argc, argv, NULL), "EXISTS"), 0);
    assert_int_equal(primaries_dbsize(), NKEYS);   /* gone on the servers too */
    clusterc_free(c);
}

static void test_mset_then_get(void **state)
{
    (void)state;
    clusterc_client *c = client_t(0, 1);
    static const char *argv[201];
    static char buf[200][32];
    int argc = build_argv("MSET", "ms:", "mv:", 100, argv, buf);
    redisReply *r = clusterc_command_argv(c, argc, argv, NULL);
    if (!r)
        fail_msg("MSET: %s", clusterc_errstr(c));
    it_expect_str(r, "OK");
    freeReplyObject(r);
    for (int i = 0; i < 100; i++) {
        char want[32];
        snprintf(want, sizeof(want), "mv:%d", i);
        r = clusterc_command(c, "GET ms:%d", i);
        if (!r)
            fail_msg("GET ms:%d: %s", i, clusterc_errstr(c));
        it_expect_str(r, want);
        freeReplyObject(r);
    }
    clusterc_free(c);
}

static void test_script_load_evalsha_every_shard(void **state)
{
    (void)state;
    clusterc_client *c = client_t(0, 1);
    ensure_keys(c);
    redisReply *r = clusterc_command(c, "SCRIPT LOAD %s", "return 1");
    if (!r)
        fail_msg("SCRIPT LOAD: %s", clusterc_errstr(c));
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_int_equal(r->len, 40);
    char sha[41];
    memcpy(sha, r->str, 41);
    freeReplyObject(r);
    int ports[3] = { 0 }, nports = 0;
    for (int i = 0; i < 300; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k:%d", i);
        r = clusterc_command(c, "EVALSHA %s 1 %s", sha, key);
        if (!r || r->type != REDIS_REPLY_INTEGER || r->integer != 1)
            fail_msg("EVALSHA on %s: %s", key, r ? (r->str ? r->str : "?") : clusterc_errstr(c));
        freeReplyObject(r);
        int p = harness_primary_of_slot(H, clusterc_keyslot(key, strlen(key)));
        if (nports < 3 && p != ports[0] && p != ports[1] && p != ports[2])
            ports[nports++] = p;
    }
    assert_int_equal(nports, 3);   /* the keys covered every shard */
    clusterc_free(c);
}

/* -------------------------------------------------------- explicit routes */

static int port_of_addr(const redisReply *addr)
{
    if (addr->type != REDIS_REPLY_STRING && addr->type != REDIS_REPLY_STATUS)
        fail_msg("address of type %d", addr->type);
    if (strncmp(addr->str, "127.0.0.1:", 10) != 0)
        fail_msg("address \"%s\"", addr->str);
    return atoi(addr->str + 10);
}

/* r is n [address, reply] pairs, one per node of the role (NULL: any);
 * returns the sum of the integer replies (0 when they are not integers). */
static long long check_pairs(const redisReply *r, int n, const char *role)
{
    long long sum = 0;
    int seen[8] = { 0 };
    assert_non_null(r);
    if (r->type != REDIS_REPLY_ARRAY)
        fail_msg("EACH: reply type %d (%s)", r->type, r->str ? r->str : "-");
    assert_int_equal(r->elements, n);
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *p = r->element[i];
        assert_int_equal(p->type, REDIS_REPLY_ARRAY);
        assert_int_equal(p->elements, 2);
        int port = port_of_addr(p->element[0]), k = port - BASE;
        assert_in_range(k, 0, harness_count(H) - 1);
        assert_int_equal(seen[k]++, 0);
        if (role)
            assert_string_equal(harness_role(H, k), role);
        if (p->element[1]->type == REDIS_REPLY_INTEGER)
            sum += p->element[1]->integer;
    }
    return sum;
}

static void test_explicit_routes(void **state)
{
    (void)state;
    clusterc_client *c = client_t(0, 1);
    ensure_keys(c);
    assert_int_equal(harness_wait_ok(H, 30), 0);   /* fresh roles */
    long long want = primaries_dbsize();
    redisReply *r = clusterc_command_route(c, CLUSTERC_ROUTE_ALL_PRIMARIES, "DBSIZE");
    assert_int_equal(int_reply(c, r, "ALL_PRIMARIES DBSIZE"), want);
    r = clusterc_command_route(c, CLUSTERC_ROUTE_EACH_PRIMARY, "DBSIZE");
    if (!r)
        fail_msg("EACH_PRIMARY DBSIZE: %s", clusterc_errstr(c));
    assert_int_equal(check_pairs(r, 3, "master"), want);
    freeReplyObject(r);
    r = clusterc_command_route(c, CLUSTERC_ROUTE_EACH_NODE, "PING");
    if (!r)
        fail_msg("EACH_NODE PING: %s", clusterc_errstr(c));
    check_pairs(r, 6, NULL);
    for (size_t i = 0; i < r->elements; i++)
        it_expect_str(r->element[i]->element[1], "PONG");
    freeReplyObject(r);
    clusterc_free(c);
}

/* ------------------------------------------------------------- no split */

static void expect_error(clusterc_client *c, redisReply *r, const char *what, const char *part)
{
    if (!r)
        fail_msg("%s: no reply: %s", what, clusterc_errstr(c));
    if (r->type != REDIS_REPLY_ERROR)
        fail_msg("%s: reply type %d, want an error with %s", what, r->type, part);
    if (!strstr(r->str, part))
        fail_msg("%s: \"%s\", want %s", what, r->str, part);
    freeReplyObject(r);
}

static void test_split_off_crossslot(void **state)
{
    (void)state;
    clusterc_client *c = client_t(0, 0);
    ensure_keys(c);
    expect_error(c, clusterc_command(c, "MGET k:1 k:2 k:3"), "MGET unsplit", "CROSSSLOT");
    expect_error(c, clusterc_command(c, "DEL nosuch:1 nosuch:2"), "DEL unsplit", "CROSSSLOT");
    redisReply *r = clusterc_command(c, "MGET {t}a {t}b");   /* one slot: fine */
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    freeReplyObject(r);
    clusterc_free(c);
}

static void test_multi_not_split(void **state)
{
    (void)state;
    clusterc_client *c = client_t(0, 1);
    ensure_keys(c);
    redisReply *r = clusterc_command(c, "MULTI");
    it_expect_str(r, "OK");
    freeReplyObject(r);
    expect_error(c, clusterc_command(c, "MGET k:1 k:2 k:3"), "MGET in MULTI", "CROSSSLOT");
    r = clusterc_command(c, "EXEC");
    if (!r || r->type != REDIS_REPLY_ERROR ||
        (!strstr(r->str, "EXECABORT") && !strstr(r->str, "CROSSSLOT")))
        fail_msg("EXEC: %s", !r ? clusterc_errstr(c) : r->str ? r->str : "not an error");
    freeReplyObject(r);
    r = clusterc_command(c, "GET k:1");   /* the client goes on */
    it_expect_str(r, "v:1");
    freeReplyObject(r);
    clusterc_free(c);
}

/* ------------------------------------------------------------ async face */

typedef struct amget { const mget *m; int done, bad; long long sum; } amget;

static void on_dbsize(clusterc_async *a, redisReply *r, void *pd)
{
    amget *k = pd;
    if (r && r->type == REDIS_REPLY_INTEGER)
        k->sum = r->integer;
    else
        k->bad++, fprintf(stderr, "async DBSIZE: %s\n", r ? r->str : clusterc_async_errstr(a));
    k->done++;
}

static void on_mget(clusterc_async *a, redisReply *r, void *pd)
{
    amget *k = pd;
    k->bad += mget_check(k->m, r, clusterc_async_errstr(a)) != 0;
    k->done++;
}

static void test_async_mget(void **state)
{
    (void)state;
    clusterc_client *c = client_t(0, 1);
    ensure_keys(c);
    clusterc_free(c);
    static mget m, m4;
    mget_mixed(&m);
    memset(&m4, 0, sizeof(m4));
    mget_add(&m4, "k:5", "v:5");
    mget_add(&m4, "missing:x", NULL);
    mget_add(&m4, "k:6", "v:6");
    mget_add(&m4, "k:9000", "v:9000");
    struct event_base *base = event_base_new();
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    clusterc_async *a = clusterc_async_connect(base, &o);
    assert_non_null(a);
    amget k1 = { &m4, 0, 0, 0 }, k2 = { &m, 0, 0, 0 }, k3 = { NULL, 0, 0, -1 };
    assert_int_equal(clusterc_async_command_route(a, CLUSTERC_ROUTE_ALL_PRIMARIES, on_dbsize,
                                                  &k3, "DBSIZE"), 0);
    assert_int_equal(clusterc_async_command(a, on_mget, &k1, "MGET %s %s %s %s", "k:5",
                                            "missing:x", "k:6", "k:9000"), 0);
    assert_int_equal(clusterc_async_command_argv(a, on_mget, &k2, m.n + 1, m.argv, NULL), 0);
    assert_true(it_loop_until(base, &k2.done, 10000));
    assert_true(it_loop_until(base, &k1.done, 10000));
    assert_true(it_loop_until(base, &k3.done, 10000));
    assert_int_equal(k1.bad, 0);
    assert_int_equal(k2.bad, 0);
    assert_int_equal(k3.bad, 0);
    assert_int_equal(k3.sum, primaries_dbsize());
    clusterc_async_free(a);
    event_base_free(base);
}

/* ----------------------------------------------------------------- errors */

static void test_node_error_named(void **state)
{
    (void)state;
    clusterc_client *c = client_t(0, 1);
    redisReply *r = clusterc_command_route(c, CLUSTERC_ROUTE_ALL_NODES,
                                           "CONFIG SET no-such-parameter-xyz 1");
    if (r && r->type == REDIS_REPLY_ERROR)
        fprintf(stderr, "  error: %s\n", r->str);
    expect_error(c, r, "CONFIG SET bad via ALL_NODES", "127.0.0.1:");
    /* The same through the command's own policy (all_nodes). */
    expect_error(c, clusterc_command(c, "CONFIG SET no-such-parameter-xyz 1"),
                 "CONFIG SET bad", "127.0.0.1:");
    clusterc_free(c);
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

static int role_is_master(int port)
{
    redisReply *r = harness_cmd(H, port, "ROLE");
    int yes = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
              strcmp(r->element[0]->str, "master") == 0;
    freeReplyObject(r);
    return yes;
}

static void wait_master(int port, int timeout_ms)
{
    int64_t end = it_now_ms() + timeout_ms;
    while (!role_is_master(port) && it_now_ms() < end)
        usleep(100000);
    assert_true(role_is_master(port));
}

static void test_node_down_named(void **state)
{
    (void)state;
    assert_int_equal(harness_wait_ok(H, 30), 0);
    clusterc_client *c = client_t(1000, 1);
    redisReply *r = clusterc_command(c, "DBSIZE");   /* connected everywhere */
    int_reply(c, r, "DBSIZE before");
    int victim = harness_nth_port(H, "master", 0), rep = replica_of(victim);
    char name[32];
    snprintf(name, sizeof(name), "127.0.0.1:%d", victim);
    assert_int_equal(harness_kill(H, victim, "KILL"), 0);
    int64_t t0 = it_now_ms();
    r = clusterc_command(c, "DBSIZE");
    int64_t took = it_now_ms() - t0;
    fprintf(stderr, "  DBSIZE with %s down: %lld ms, %s\n", name, (long long)took,
            r ? "a reply" : clusterc_errstr(c));
    if (r)
        fail_msg("DBSIZE with a primary down: a reply of type %d (%s)", r->type,
                 r->str ? r->str : "-");
    assert_true(took <= 2000);
    assert_non_null(strstr(clusterc_errstr(c), name));
    /* Again, now that the node refuses connections. */
    t0 = it_now_ms();
    r = clusterc_command_route(c, CLUSTERC_ROUTE_ALL_PRIMARIES, "DBSIZE");
    took = it_now_ms() - t0;
    fprintf(stderr, "  again: %lld ms, %s\n", (long long)took, r ? "a reply" : clusterc_errstr(c));
    assert_null(r);
    assert_true(took <= 2000);
    assert_non_null(strstr(clusterc_errstr(c), name));
    /* Its replica takes over before it comes back (with no data of its own). */
    wait_master(rep, 20000);
    assert_int_equal(harness_restart(H, victim), 0);
    assert_int_equal(harness_wait_ok(H, 30), 0);
    clusterc_free(c);
}

/* ------------------------------------------------- live migration, failover */

#define NMIG 40        /* keys in the migrating slot; MGET reads 5 of them */
static char TAG[16];   /* their hash tag: a slot no other key of the tests is in */

static int slot_has(const char *fmt, int n, int slot)
{
    char key[32];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), fmt, i);
        if (clusterc_keyslot(key, strlen(key)) == slot)
            return 1;
    }
    return 0;
}

static int choose_tag(void)
{
    for (int t = 0; t < 1000; t++) {
        snprintf(TAG, sizeof(TAG), "fmig%d", t);
        int slot = clusterc_keyslot(TAG, strlen(TAG));
        if (!slot_has("k:%d", NKEYS, slot) && !slot_has("ms:%d", 100, slot) &&
            !slot_has("del:%d", 100, slot) && !slot_has("missing:%d", NMGET, slot))
            return slot;
    }
    fail_msg("no free slot for the migration");
    return -1;
}

static void migrate_keys(int src, int dst, int from, int to)
{
    const char *argv[8 + NMIG];
    char keys[NMIG][32], port[8];
    int argc = 0;
    snprintf(port, sizeof(port), "%d", dst);
    argv[argc++] = "MIGRATE"; argv[argc++] = "127.0.0.1"; argv[argc++] = port;
    argv[argc++] = "";        argv[argc++] = "0";         argv[argc++] = "5000";
    argv[argc++] = "KEYS";
    for (int i = from; i < to; i++) {
        snprintf(keys[i - from], sizeof(keys[0]), "{%s}%d", TAG, i);
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

/* 195 keys k:* and, at every 40th place, one of {TAG}0..4. */
static void mget_with_slot(mget *m)
{
    char key[32], val[32];
    memset(m, 0, sizeof(*m));
    for (int i = 0; i < NMGET; i++) {
        if (i % 40 == 7) {
            snprintf(key, sizeof(key), "{%s}%d", TAG, i / 40);
            snprintf(val, sizeof(val), "m%d", i / 40);
        } else {
            snprintf(key, sizeof(key), "k:%d", (i * 53) % NKEYS);
            snprintf(val, sizeof(val), "v:%d", (i * 53) % NKEYS);
        }
        mget_add(m, key, val);
    }
    mget_argv(m);
}

static int mget_times(clusterc_client *c, mget *m, int times)
{
    int bad = 0;
    for (int i = 0; i < times; i++)
        bad += mget_run(c, m) != 0;
    return bad;
}

static void set_slot_everywhere(int slot, int src, int dst)
{
    const char *dst_id = it_id_of_port(H, dst);
    it_node_ok(H, dst, "CLUSTER SETSLOT %d NODE %s", slot, dst_id);
    it_node_ok(H, src, "CLUSTER SETSLOT %d NODE %s", slot, dst_id);
    for (int i = 0; i < harness_count(H); i++) {
        int p = harness_port(H, i);
        if (strcmp(harness_role(H, i), "master") == 0 && p != src && p != dst)
            it_node_ok(H, p, "CLUSTER SETSLOT %d NODE %s", slot, dst_id);
    }
}

/* The MGET's keys of the slot move in one MIGRATE (a part never finds them
 * half moved, which the server answers with TRYAGAIN until the migration
 * ends); the slot's other keys move in batches around it. */
static void test_mget_during_migration(void **state)
{
    (void)state;
    assert_int_equal(harness_wait_ok(H, 30), 0);
    clusterc_client *c = client_t(5000, 1);
    ensure_keys(c);
    static mget m;
    int slot = choose_tag(), bad = 0;
    mget_with_slot(&m);
    char prefix[24];
    snprintf(prefix, sizeof(prefix), "{%s}", TAG);
    set_many(c, prefix, "m", 0, NMIG);
    int src = harness_primary_of_slot(H, slot), dst = it_other_master(H, src);
    bad += mget_times(c, &m, 3);
    it_node_ok(H, dst, "CLUSTER SETSLOT %d IMPORTING %s", slot, it_id_of_port(H, src));
    it_node_ok(H, src, "CLUSTER SETSLOT %d MIGRATING %s", slot, it_id_of_port(H, dst));
    for (int from = 10; from < NMIG; from += 10) {
        migrate_keys(src, dst, from, from + 10);
        bad += mget_times(c, &m, 3);    /* the MGET's keys still on src */
    }
    migrate_keys(src, dst, 0, 5);
    bad += mget_times(c, &m, 3);        /* src answers ASK for the part */
    migrate_keys(src, dst, 5, 10);
    bad += mget_times(c, &m, 3);
    assert_int_equal(int_reply(c, harness_cmd(H, src, "CLUSTER COUNTKEYSINSLOT %d", slot),
                               "COUNTKEYSINSLOT"), 0);
    set_slot_everywhere(slot, src, dst);
    bad += mget_times(c, &m, 3);        /* src answers MOVED */
    clusterc_stats st;
    clusterc_get_stats(c, &st);
    fprintf(stderr, "  migration: ask=%llu moved=%llu failures=%llu\n", (unsigned long long)st.ask,
            (unsigned long long)st.moved, (unsigned long long)st.failures);
    assert_int_equal(bad, 0);
    assert_true(st.ask > 0);
    assert_true(st.moved > 0);
    clusterc_free(c);
}

static void test_mget_during_failover(void **state)
{
    (void)state;
    assert_int_equal(harness_wait_ok(H, 30), 0);
    clusterc_client *c = client_t(5000, 1);
    ensure_keys(c);
    static mget m;
    mget_mixed(&m);
    int replica = harness_nth_port(H, "slave", 0), runs = 0, bad = 0;
    bad += mget_times(c, &m, 5);
    int64_t end = it_now_ms() + 25000, promoted_at = 0, asked_at = 0;
    while (it_now_ms() < end) {
        if (!promoted_at && it_now_ms() - asked_at > 6000) {
            it_node_ok(H, replica, "CLUSTER FAILOVER");   /* asked again if it timed out */
            asked_at = it_now_ms();
        }
        bad += mget_run(c, &m) != 0;
        runs++;
        if (!promoted_at && runs % 5 == 0 && role_is_master(replica))
            promoted_at = it_now_ms();
        if (promoted_at && it_now_ms() > promoted_at + 1500)
            break;
    }
    fprintf(stderr, "  failover: %d split MGETs, %d bad\n", runs, bad);
    assert_true(promoted_at != 0);
    assert_int_equal(bad, 0);
    assert_int_equal(harness_wait_ok(H, 30), 0);
    clusterc_free(c);
}

/* Last: it empties the cluster. */
static void test_flushall_every_primary(void **state)
{
    (void)state;
    assert_int_equal(harness_wait_ok(H, 30), 0);
    clusterc_client *c = client_t(0, 1);
    ensure_keys(c);
    assert_true(primaries_dbsize() > 0);
    redisReply *r = clusterc_command(c, "FLUSHALL");
    if (!r)
        fail_msg("FLUSHALL: %s", clusterc_errstr(c));
    it_expect_str(r, "OK");
    freeReplyObject(r);
    for (int i = 0; i < harness_count(H); i++)
        if (strcmp(harness_role(H, i), "master") == 0)
            assert_int_equal(node_int(harness_port(H, i), "DBSIZE"), 0);
    assert_int_equal(int_reply(c, clusterc_command(c, "DBSIZE"), "DBSIZE after"), 0);
    clusterc_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dbsize_sums_primaries),
        cmocka_unit_test(test_keys_all_once),
        cmocka_unit_test(test_mget_in_order),
        cmocka_unit_test(test_exists_counts),
        cmocka_unit_test(test_del_many_slots),
        cmocka_unit_test(test_mset_then_get),
        cmocka_unit_test(test_script_load_evalsha_every_shard),
        cmocka_unit_test(test_explicit_routes),
        cmocka_unit_test(test_split_off_crossslot),
        cmocka_unit_test(test_multi_not_split),
        cmocka_unit_test(test_async_mget),
        cmocka_unit_test(test_node_error_named),
        cmocka_unit_test(test_mget_during_migration),
        cmocka_unit_test(test_mget_during_failover),
        cmocka_unit_test(test_node_down_named),
        cmocka_unit_test(test_flushall_every_primary),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
