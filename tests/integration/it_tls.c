/* it_tls.c -- issue 11, TLS against real TLS clusters (tls-port, port 0,
 * tls-cluster yes, tls-replication yes; certificates made by the harness
 * with examples/lab/tls-certs.sh):
 *  - a 3+3 cluster with --tls: 10,000 SET/GET on the blocking face,
 *    pipelining, 10,000 SET/GET on the async face, replica reads with
 *    read_only, a BLPOP on the blocking pool served by another client's
 *    LPUSH, an SSUBSCRIBE/SPUBLISH round trip, a live slot migration
 *    (clusterc_admin_reshard, MIGRATE between TLS nodes) while a client
 *    works, and a manual failover (clusterc_admin_failover) with a client
 *    serving throughout;
 *  - a 3+3 cluster with mutual TLS (--tls-auth-clients): a client with
 *    client.crt/key does 10,000 SET/GET and replica reads; one without a
 *    client certificate is refused.
 * Against Valkey (CLUSTERC_TEST_SERVER=valkey-server, it_tls_valkey) only
 * the first group runs. In TLS mode hiredis cannot reach the nodes
 * (harness_connect is NULL): per-node commands go through the library.
 * Ports 22900-22905 and 22910-22915, +1500 for Valkey (bus ports: the
 * harness's rule, port-10000 where port+10000 is ephemeral). */
#define _DEFAULT_SOURCE   /* usleep */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <clusterc/admin.h>
#include "itest.h"

#define BASE 22900
#define MTLS_BASE 22910
#define NKEYS 10000
#define NREAD 300     /* keys of the replica-read check */
#define MIG_KEYS 200  /* keys in the migrated slot */

static harness *H;
static char Ca[512], Cert[512], Key[512];
static int Mutual;   /* the running cluster wants client certificates */

/* What a failed assertion leaves behind, released by cleanup(). */
static struct {
    clusterc_client *c, *c2, *admin;
    clusterc_async *a;
    struct event_base *base;
} L;

/* --------------------------------------------------------------- set-up */

/* Defaults plus TLS: the harness's CA, and the client certificate when
 * the cluster checks clients. */
static void tls_opts(clusterc_options *o)
{
    clusterc_options_init(o);
    o->seeds = harness_seeds(H);
    o->tls = 1;
    o->tls_ca_file = Ca;
    if (Mutual) {
        o->tls_cert_file = Cert;
        o->tls_key_file = Key;
    }
}

static clusterc_client *tls_client(void)
{
    clusterc_options o;
    tls_opts(&o);
    return it_client(H, &o);
}

static int start(int base, int mutual)
{
    Mutual = mutual;
    H = harness_start(base, 3, 1, mutual ? "--tls --tls-auth-clients" : "--tls");
    if (!H)
        return -1;
    const char *d = harness_tls_dir(H);
    if (!d) {
        fprintf(stderr, "harness_tls_dir: NULL\n");
        return -1;
    }
    snprintf(Ca, sizeof(Ca), "%s/ca.crt", d);
    snprintf(Cert, sizeof(Cert), "%s/client.crt", d);
    snprintf(Key, sizeof(Key), "%s/client.key", d);
    return 0;
}

static int setup_tls(void **state)
{
    (void)state;
    return start(BASE, 0);
}

static int setup_mtls(void **state)
{
    (void)state;
    return start(MTLS_BASE, 1);
}

static int cleanup(void **state)
{
    (void)state;
    clusterc_free(L.c);
    clusterc_free(L.c2);
    clusterc_free(L.admin);
    clusterc_async_free(L.a);
    if (L.base) {
        event_base_loop(L.base, EVLOOP_NONBLOCK);   /* a cancelled lookup */
        event_base_free(L.base);
    }
    memset(&L, 0, sizeof(L));
    return 0;
}

static int teardown(void **state)
{
    cleanup(state);
    harness_stop(H);
    H = NULL;
    return 0;
}

/* ------------------------------------------------------------- helpers */

/* n SETs then n GETs of "<prefix>:<i>" on the blocking face. */
static void set_get_many(clusterc_client *c, const char *prefix, int n)
{
    char key[48], val[48];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%s:%d", prefix, i);
        snprintf(val, sizeof(val), "val:%d", i);
        redisReply *r = clusterc_command(c, "SET %s %s", key, val);
        if (!r)
            fail_msg("SET %s: %s", key, clusterc_errstr(c));
        it_expect_str(r, "OK");
        freeReplyObject(r);
    }
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%s:%d", prefix, i);
        snprintf(val, sizeof(val), "val:%d", i);
        redisReply *r = clusterc_command(c, "GET %s", key);
        if (!r)
            fail_msg("GET %s: %s", key, clusterc_errstr(c));
        it_expect_str(r, val);
        freeReplyObject(r);
    }
}

/* Every node of the map is dialled at a harness port (the TLS port: the
 * servers listen on no other). Returns how many nodes the map has. */
static int check_map_on_tls_ports(clusterc_client *c)
{
    clusterc_node_info info[16];
    int n = clusterc_node_stats(c, info, 16);
    assert_int_equal(n, harness_count(H));
    for (int i = 0; i < n; i++) {
        int found = 0;
        for (int j = 0; j < harness_count(H); j++) {
            char want[32];
            snprintf(want, sizeof(want), "127.0.0.1:%d", harness_port(H, j));
            found |= strcmp(info[i].addr, want) == 0;
        }
        if (!found)
            fail_msg("node %s is not a TLS port of the harness", info[i].addr);
    }
    return n;
}

/* Replicas (per the client's map) that served reads; *primary_reads gets
 * the primaries' read count. */
static int replicas_with_reads(const clusterc_client *c, uint64_t *primary_reads)
{
    clusterc_node_info info[16];
    int n = clusterc_node_stats(c, info, 16), served = 0;
    *primary_reads = 0;
    for (int i = 0; i < n && i < 16; i++) {
        if (info[i].is_primary)
            *primary_reads += info[i].reads;
        else
            served += info[i].reads > 0;
    }
    return served;
}

/* WAIT for one replica on every primary of c's map: c's writes are then
 * on the replicas. */
static void wait_replicated(clusterc_client *c)
{
    clusterc_node_info info[16];
    int n = clusterc_node_stats(c, info, 16);
    for (int i = 0; i < n && i < 16; i++) {
        if (!info[i].is_primary)
            continue;
        redisReply *r = clusterc_command_to_node(c, info[i].addr, "WAIT 1 2000");
        if (!r)
            fail_msg("WAIT on %s: %s", info[i].addr, clusterc_errstr(c));
        freeReplyObject(r);
    }
}

/* read_only: writes go to the primaries, reads (once CLUSTER SHARDS
 * calls the replicas online) to the replicas, and every value is right. */
static void replica_reads(void)
{
    clusterc_options o;
    tls_opts(&o);
    o.read_only = 1;
    L.c = it_client(H, &o);
    for (int i = 0; i < NREAD; i++) {
        redisReply *r = clusterc_command(L.c, "SET rr:%d v%d", i, i);
        if (!r)
            fail_msg("SET rr:%d: %s", i, clusterc_errstr(L.c));
        it_expect_str(r, "OK");
        freeReplyObject(r);
    }
    wait_replicated(L.c);
    int64_t t0 = it_now_ms();
    uint64_t preads = 0;
    int served = 0, rounds = 0;
    for (; rounds < 60 && it_now_ms() < t0 + 20000; rounds++) {
        for (int i = 0; i < NREAD; i++) {
            char want[16];
            snprintf(want, sizeof(want), "v%d", i);
            redisReply *r = clusterc_command(L.c, "GET rr:%d", i);
            if (!r)
                fail_msg("GET rr:%d: %s", i, clusterc_errstr(L.c));
            it_expect_str(r, want);
            freeReplyObject(r);
        }
        if ((served = replicas_with_reads(L.c, &preads)) == 3)
            break;
        clusterc_poll(L.c, 200);   /* a map load may call them online */
    }
    fprintf(stderr, "  replica reads: %d of 3 replicas served reads after %d rounds (%lld ms); "
            "primaries served %llu\n", served, rounds + 1, (long long)(it_now_ms() - t0),
            (unsigned long long)preads);
    assert_int_equal(served, 3);
    clusterc_stats st;
    clusterc_get_stats(L.c, &st);
    assert_int_equal(st.failures, 0);
}

/* ------------------------------------------------------- group 1: TLS */

static void test_set_get_many(void **state)
{
    (void)state;
    L.c = tls_client();
    int64_t t0 = it_now_ms();
    set_get_many(L.c, "key", NKEYS);
    fprintf(stderr, "  %d SET + %d GET over TLS: %lld ms\n", NKEYS, NKEYS,
            (long long)(it_now_ms() - t0));
    assert_int_equal(check_map_on_tls_ports(L.c), 6);
    clusterc_stats st;
    clusterc_get_stats(L.c, &st);
    assert_int_equal(st.moved, 0);
    assert_int_equal(st.failures, 0);
    assert_true(st.connects >= 3);
}

/* node_address_map applies to TLS addresses: every announced
 * 127.0.0.1:P is dialled as localhost:P, and the name checked is then
 * "localhost" (the certificate's DNS SAN), not the announced address. */
static void test_remap_names_checked(void **state)
{
    (void)state;
    char map[1024] = "", one[64];
    clusterc_options o;
    tls_opts(&o);
    for (int i = 0; i < harness_count(H); i++) {
        snprintf(one, sizeof(one), "%s127.0.0.1:%d=localhost:%d", i ? "," : "",
                 harness_port(H, i), harness_port(H, i));
        strncat(map, one, sizeof(map) - strlen(map) - 1);
    }
    o.node_address_map = map;
    L.c = it_client(H, &o);
    set_get_many(L.c, "remap", 200);
    clusterc_node_info nodes[8];
    int n = clusterc_node_stats(L.c, nodes, 8);
    assert_int_equal(n, harness_count(H));
    for (int i = 0; i < n; i++)
        if (strncmp(nodes[i].addr, "localhost:", 10) != 0)
            fail_msg("node %d dialled as %s, announced %s", i, nodes[i].addr, nodes[i].announced);
    /* The same options with a name the certificate lacks are refused (the
     * seeds themselves are not remapped: they are dialled as given). */
    o.tls_server_name = "wrong.example";
    clusterc_client *bad = clusterc_connect(&o);
    assert_int_equal(clusterc_error(bad), CLUSTERC_ETLS);
    assert_non_null(strstr(clusterc_errstr(bad), "host name mismatch"));
    clusterc_free(bad);
}

static void test_pipeline(void **state)
{
    (void)state;
    L.c = tls_client();
    for (int i = 0; i < 2000; i++) {
        if (i % 2 == 0)
            assert_int_equal(clusterc_append_command(L.c, "SET pipe:%d %d", i, i), 0);
        else
            assert_int_equal(clusterc_append_command(L.c, "INCR pipe:%d", i - 1), 0);
    }
    for (int i = 0; i < 2000; i++) {
        void *v;
        if (clusterc_get_reply(L.c, &v) != 0)
            fail_msg("reply %d: %s", i, clusterc_errstr(L.c));
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
    assert_int_equal(clusterc_get_reply(L.c, &v), -1);
    assert_int_equal(clusterc_error(L.c), CLUSTERC_EUSAGE);
}

typedef struct counter {
    int ok, failed, expected, done;
    long long sum;   /* GET: the values read, added up */
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
        if (r->type == REDIS_REPLY_STRING)
            k->sum += atoll(r->str);
    }
    if (k->ok + k->failed == k->expected)
        k->done = 1;
}

static void test_async(void **state)
{
    (void)state;
    clusterc_options o;
    tls_opts(&o);
    L.base = event_base_new();
    L.a = clusterc_async_connect(L.base, &o);
    assert_non_null(L.a);
    assert_int_equal(clusterc_async_error(L.a), 0);
    int64_t t0 = it_now_ms();
    counter k = { 0, 0, NKEYS, 0, 0 };
    for (int i = 0; i < NKEYS; i++)
        assert_int_equal(clusterc_async_command(L.a, on_reply, &k, "SET akey:%d %d", i, i), 0);
    assert_true(it_loop_until(L.base, &k.done, 30000));
    assert_int_equal(k.ok, NKEYS);
    counter g = { 0, 0, NKEYS, 0, 0 };
    for (int i = 0; i < NKEYS; i++)
        assert_int_equal(clusterc_async_command(L.a, on_reply, &g, "GET akey:%d", i), 0);
    assert_true(it_loop_until(L.base, &g.done, 30000));
    assert_int_equal(g.ok, NKEYS);
    assert_true(g.sum == (long long)NKEYS * (NKEYS - 1) / 2);
    fprintf(stderr, "  async %d SET + %d GET over TLS: %lld ms\n", NKEYS, NKEYS,
            (long long)(it_now_ms() - t0));
    /* Graceful close: what is queued completes, then the loop ends. */
    counter d = { 0, 0, 100, 0, 0 };
    for (int i = 0; i < 100; i++)
        assert_int_equal(clusterc_async_command(L.a, on_reply, &d, "GET akey:%d", i), 0);
    clusterc_async_disconnect(L.a);
    int64_t t1 = it_now_ms();
    event_base_dispatch(L.base);   /* returns when nothing is left */
    assert_int_equal(d.ok, 100);
    assert_true(it_now_ms() - t1 < 5000);
}

static void test_replica_reads(void **state)
{
    (void)state;
    replica_reads();
}

/* ------------------------------------------------- blocking pool, pubsub */

typedef struct pusher {
    clusterc_options o;
    int delay_ms;
    int ok;
    char err[256];
} pusher;

/* Another client, on its own thread: LPUSH after delay_ms. */
static void *push_later(void *arg)
{
    pusher *p = arg;
    usleep((useconds_t)p->delay_ms * 1000);
    clusterc_client *c = clusterc_connect(&p->o);
    redisReply *r = c ? clusterc_command(c, "LPUSH {tlsq}q hello") : NULL;
    p->ok = r && r->type == REDIS_REPLY_INTEGER;
    if (!p->ok)
        snprintf(p->err, sizeof(p->err), "%s", c ? clusterc_errstr(c) : "out of memory");
    freeReplyObject(r);
    clusterc_free(c);
    return NULL;
}

static void test_blpop_pool(void **state)
{
    (void)state;
    L.c = tls_client();
    freeReplyObject(clusterc_command(L.c, "DEL {tlsq}q"));
    pusher p;
    memset(&p, 0, sizeof(p));
    tls_opts(&p.o);
    p.delay_ms = 500;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, push_later, &p), 0);
    int64_t t0 = it_now_ms();
    redisReply *r = clusterc_command(L.c, "BLPOP {tlsq}q 10");
    int64_t took = it_now_ms() - t0;
    pthread_join(t, NULL);
    if (!p.ok)
        fail_msg("LPUSH from the other client: %s", p.err);
    if (!r)
        fail_msg("BLPOP: %s", clusterc_errstr(L.c));
    fprintf(stderr, "  BLPOP over TLS served after %lld ms\n", (long long)took);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[0]->str, "{tlsq}q");
    assert_string_equal(r->element[1]->str, "hello");
    freeReplyObject(r);
    assert_true(took >= 300 && took < 9000);
    clusterc_stats st;
    clusterc_get_stats(L.c, &st);
    assert_true(st.blocking_conns >= 1);
    /* The shared connection still serves. */
    r = clusterc_command(L.c, "SET {tlsq}after 1");
    it_expect_str(r, "OK");
    freeReplyObject(r);
}

static void test_shard_pubsub(void **state)
{
    (void)state;
    L.c = tls_client();    /* subscriber */
    L.c2 = tls_client();   /* publisher */
    assert_int_equal(clusterc_subscribe(L.c, CLUSTERC_PUBSUB_SHARD, "{tlsch}c"), 0);
    int64_t t0 = it_now_ms();
    int got = 0, published = 0;
    /* Publish until the subscription (made in the background) delivers:
     * messages before it are lost, as Pub/Sub's are. */
    for (int i = 0; i < 200 && !got && it_now_ms() < t0 + 15000; i++) {
        clusterc_message m;
        int rc = clusterc_next_message(L.c, &m, 100);
        if (rc < 0)
            fail_msg("next_message: %s", clusterc_errstr(L.c));
        if (rc == 1) {
            assert_int_equal(m.kind, CLUSTERC_PUBSUB_SHARD);
            assert_int_equal(m.channel_len, strlen("{tlsch}c"));
            assert_memory_equal(m.channel, "{tlsch}c", m.channel_len);
            assert_int_equal(m.payload_len, 5);
            assert_memory_equal(m.payload, "hello", 5);
            got = 1;
            break;
        }
        redisReply *r = clusterc_command(L.c2, "SPUBLISH {tlsch}c hello");
        if (!r || r->type != REDIS_REPLY_INTEGER)
            fail_msg("SPUBLISH: %s", r ? r->str : clusterc_errstr(L.c2));
        freeReplyObject(r);
        published++;
    }
    fprintf(stderr, "  SSUBSCRIBE/SPUBLISH over TLS: message after %lld ms, %d published\n",
            (long long)(it_now_ms() - t0), published);
    assert_true(got);
    clusterc_stats st;
    clusterc_get_stats(L.c, &st);
    assert_true(st.messages >= 1);
    assert_int_equal(clusterc_unsubscribe(L.c, CLUSTERC_PUBSUB_SHARD, "{tlsch}c"), 0);
}

/* ----------------------------------------------------- slot migration */

static int Ver[MIG_KEYS];
static char MigKeys[MIG_KEYS][32];

typedef struct live {
    clusterc_client *c;
    int ops, errors;
} live;

/* GET a migrating key (its last value), then SET its next value. */
static void touch_key(live *l, int i)
{
    char want[32];
    snprintf(want, sizeof(want), "v%d-%d", i, Ver[i]);
    redisReply *r = clusterc_command(l->c, "GET %s", MigKeys[i]);
    if (!r || r->type != REDIS_REPLY_STRING || strcmp(r->str, want) != 0) {
        l->errors++;
        fprintf(stderr, "GET %s: %s\n", MigKeys[i],
                r ? (r->str ? r->str : "nil") : clusterc_errstr(l->c));
    }
    freeReplyObject(r);
    r = clusterc_command(l->c, "SET %s v%d-%d", MigKeys[i], i, Ver[i] + 1);
    if (!r || r->type != REDIS_REPLY_STATUS)
        l->errors++;
    else
        Ver[i]++;
    freeReplyObject(r);
    l->ops += 2;
}

/* Between MIGRATE batches the slot is half moved: some keys answer ASK. */
static void on_migrate(const clusterc_admin_progress *p, void *arg)
{
    live *l = arg;
    if (strcmp(p->step, "migrate") != 0 || strcmp(p->state, "moving") != 0)
        return;
    for (int j = 0; j < MIG_KEYS; j += 4)
        touch_key(l, (j + (int)p->keys_done) % MIG_KEYS);
}

/* The ids of the owner of slot 0 (whose lowest slot it is: the one a
 * reshard of 1 slot moves) and of another primary with slots. */
static void pick_primaries(clusterc_client *admin, char *src, char *dst)
{
    clusterc_cluster_node *v;
    size_t n;
    if (clusterc_admin_nodes(admin, NULL, &v, &n) != 0)
        fail_msg("CLUSTER NODES: %s", clusterc_errstr(admin));
    src[0] = dst[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!(v[i].flags & CLUSTERC_NODE_MASTER) || v[i].nslots == 0)
            continue;
        if (v[i].slots[0].start == 0)
            snprintf(src, 41, "%s", v[i].id);
        else if (!dst[0])
            snprintf(dst, 41, "%s", v[i].id);
    }
    clusterc_nodes_free(v, n);
    assert_true(src[0] && dst[0]);
}

/* MIG_KEYS keys in slot 0, written through L.c with version 0. */
static void make_mig_keys(void)
{
    char tag[16] = "";
    for (int t = 0; t < 1000000; t++) {
        snprintf(tag, sizeof(tag), "t%d", t);
        if (clusterc_keyslot(tag, strlen(tag)) == 0)
            break;
    }
    assert_int_equal(clusterc_keyslot(tag, strlen(tag)), 0);
    for (int i = 0; i < MIG_KEYS; i++) {
        snprintf(MigKeys[i], sizeof(MigKeys[0]), "{%s}:%d", tag, i);
        Ver[i] = 0;
        assert_int_equal(clusterc_append_command(L.c, "SET %s v%d-0", MigKeys[i], i), 0);
    }
    for (int i = 0; i < MIG_KEYS; i++) {
        void *r;
        if (clusterc_get_reply(L.c, &r) != 0)
            fail_msg("SET %s: %s", MigKeys[i], clusterc_errstr(L.c));
        it_expect_str(r, "OK");
        freeReplyObject(r);
    }
}

static void test_migration_under_load(void **state)
{
    (void)state;
    L.admin = tls_client();
    L.c = tls_client();
    char src[41], dst[41];
    pick_primaries(L.admin, src, dst);
    make_mig_keys();
    live l = { L.c, 0, 0 };
    clusterc_admin_opts o;
    clusterc_admin_opts_init(&o);
    o.timeout_ms = 30000;
    o.migrate_batch = 10;
    o.progress = on_migrate;
    o.progress_arg = &l;
    int64_t t0 = it_now_ms();
    if (clusterc_admin_reshard(L.admin, src, dst, 1, &o) < 0)
        fail_msg("reshard: %s", clusterc_errstr(L.admin));
    fprintf(stderr, "  reshard of slot 0 (%d keys) over TLS: %lld ms, %d client ops\n", MIG_KEYS,
            (long long)(it_now_ms() - t0), l.ops);
    assert_true(l.ops > 100);
    assert_int_equal(l.errors, 0);
    for (int i = 0; i < MIG_KEYS; i++)
        touch_key(&l, i);   /* every key, with its last value, on the new owner */
    assert_int_equal(l.errors, 0);
    clusterc_stats st;
    clusterc_get_stats(L.c, &st);
    fprintf(stderr, "  live client: ask=%llu moved=%llu failures=%llu\n",
            (unsigned long long)st.ask, (unsigned long long)st.moved,
            (unsigned long long)st.failures);
    assert_true(st.ask > 0);
    assert_int_equal(st.failures, 0);
    /* The new owner, as the servers say. */
    int owner = harness_primary_of_slot(H, 0);
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", owner);
    redisReply *r = clusterc_command_to_node(L.admin, addr, "CLUSTER MYID");
    it_expect_str(r, dst);
    freeReplyObject(r);
}

/* -------------------------------------------------------------- failover */

typedef struct traffic {
    clusterc_client *c;
    volatile int stop;
    int ops, failures;
    char last_err[256];
} traffic;

/* SET then GET, over and over, until told to stop (at most 60 s or
 * 200,000 round trips). */
static void *traffic_run(void *arg)
{
    traffic *t = arg;
    int64_t end = it_now_ms() + 60000;
    for (int i = 0; i < 200000 && !t->stop && it_now_ms() < end; i++) {
        redisReply *r = clusterc_command(t->c, "SET fo:%d %d", i % 1000, i);
        int ok = r && r->type == REDIS_REPLY_STATUS;
        if (!ok)
            snprintf(t->last_err, sizeof(t->last_err), "SET: %s",
                     r ? r->str : clusterc_errstr(t->c));
        freeReplyObject(r);
        r = clusterc_command(t->c, "GET fo:%d", i % 1000);
        if (ok && !(r && r->type == REDIS_REPLY_STRING && atoi(r->str) == i)) {
            ok = 0;
            snprintf(t->last_err, sizeof(t->last_err), "GET: %s",
                     r ? (r->str ? r->str : "nil") : clusterc_errstr(t->c));
        }
        freeReplyObject(r);
        t->failures += !ok;
        t->ops++;
        usleep(1000);
    }
    return NULL;
}

/* Is the node at port a primary in c's map (after a reload)? */
static int primary_in_map(clusterc_client *c, int port)
{
    clusterc_node_info info[16];
    char want[32];
    snprintf(want, sizeof(want), "127.0.0.1:%d", port);
    if (clusterc_refresh(c) != 0)
        return 0;
    int n = clusterc_node_stats(c, info, 16);
    for (int i = 0; i < n && i < 16; i++)
        if (strcmp(info[i].addr, want) == 0)
            return info[i].is_primary;
    return 0;
}

static void test_manual_failover(void **state)
{
    (void)state;
    assert_int_equal(harness_wait_ok(H, 30), 0);
    int replica = harness_nth_port(H, "slave", 0);
    assert_true(replica > 0);
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", replica);
    L.admin = tls_client();
    clusterc_options co;
    tls_opts(&co);
    co.command_timeout_ms = 5000;
    L.c = it_client(H, &co);
    traffic t;
    memset(&t, 0, sizeof(t));
    t.c = L.c;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, traffic_run, &t), 0);
    usleep(300000);
    clusterc_admin_opts o;
    clusterc_admin_opts_init(&o);
    o.timeout_ms = 30000;
    int64_t t0 = it_now_ms();
    int rc = clusterc_admin_failover(L.admin, addr, CLUSTERC_FAILOVER_DEFAULT, &o);
    int64_t took = it_now_ms() - t0;
    usleep(1500000);   /* the client keeps serving after it */
    t.stop = 1;
    pthread_join(th, NULL);
    if (rc < 0)
        fail_msg("failover of %s: %s", addr, clusterc_errstr(L.admin));
    clusterc_stats st;
    clusterc_get_stats(L.c, &st);
    fprintf(stderr, "  manual failover of %s over TLS: %lld ms; client: %d round trips, "
            "%d failures%s%s, moved=%llu refreshes=%llu\n", addr, (long long)took, t.ops,
            t.failures, t.failures ? ", last: " : "", t.last_err,
            (unsigned long long)st.moved, (unsigned long long)st.refreshes);
    assert_int_equal(t.failures, 0);
    assert_true(t.ops > 100);
    assert_true(primary_in_map(L.c, replica));
    set_get_many(L.c, "after-fo", 500);
    assert_int_equal(harness_wait_ok(H, 30), 0);   /* roles, for what follows */
}

/* ------------------------------------------------ group 2: mutual TLS */

static void test_mtls_set_get(void **state)
{
    (void)state;
    L.c = tls_client();
    int64_t t0 = it_now_ms();
    set_get_many(L.c, "mkey", NKEYS);
    fprintf(stderr, "  %d SET + %d GET over mutual TLS: %lld ms\n", NKEYS, NKEYS,
            (long long)(it_now_ms() - t0));
    assert_int_equal(check_map_on_tls_ports(L.c), 6);
    clusterc_stats st;
    clusterc_get_stats(L.c, &st);
    assert_int_equal(st.failures, 0);
}

static void test_mtls_replica_reads(void **state)
{
    (void)state;
    replica_reads();
}

/* Without a client certificate the servers end the handshake: no map. */
static void test_mtls_needs_client_cert(void **state)
{
    (void)state;
    clusterc_options o;
    tls_opts(&o);
    o.tls_cert_file = NULL;
    o.tls_key_file = NULL;
    o.connect_timeout_ms = 1000;
    int64_t t0 = it_now_ms();
    L.c = clusterc_connect(&o);
    assert_non_null(L.c);
    int code = clusterc_error(L.c);
    fprintf(stderr, "  no client certificate: %lld ms, code %d: %s\n",
            (long long)(it_now_ms() - t0), code, clusterc_errstr(L.c));
    assert_int_not_equal(code, 0);
    assert_true(it_now_ms() - t0 < 6 * 1000 + 2000);   /* bounded by the seeds' timeouts */
}

/* ----------------------------------------------------------------- main */

static int is_valkey(void)
{
    const char *s = getenv("CLUSTERC_TEST_SERVER");
    return s && strstr(s, "valkey") != NULL;
}

int main(void)
{
    const struct CMUnitTest tls_tests[] = {
        cmocka_unit_test_teardown(test_set_get_many, cleanup),
        cmocka_unit_test_teardown(test_pipeline, cleanup),
        cmocka_unit_test_teardown(test_remap_names_checked, cleanup),
        cmocka_unit_test_teardown(test_async, cleanup),
        cmocka_unit_test_teardown(test_replica_reads, cleanup),
        cmocka_unit_test_teardown(test_blpop_pool, cleanup),
        cmocka_unit_test_teardown(test_shard_pubsub, cleanup),
        cmocka_unit_test_teardown(test_migration_under_load, cleanup),
        cmocka_unit_test_teardown(test_manual_failover, cleanup),
    };
    const struct CMUnitTest mtls_tests[] = {
        cmocka_unit_test_teardown(test_mtls_set_get, cleanup),
        cmocka_unit_test_teardown(test_mtls_replica_reads, cleanup),
        cmocka_unit_test_teardown(test_mtls_needs_client_cert, cleanup),
    };
    int failed = cmocka_run_group_tests(tls_tests, setup_tls, teardown);
    if (is_valkey())   /* Valkey over TLS once: the first group is enough */
        return failed;
    failed += cmocka_run_group_tests(mtls_tests, setup_mtls, teardown);
    return failed;
}
