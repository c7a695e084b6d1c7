/* it_admin.c -- the admin API against a real cluster, as the lab runs it:
 * a new empty primary (the lab's 7007), slots resharded to it while a
 * client reads and writes them, the check naming it as unprotected, a
 * replica added for it, a replica moved to the right primary, a failover,
 * a node removed, the refusals that must leave the cluster unchanged, an
 * empty primary with two replicas removed (the replicas move first), and
 * a reshard that meets a key on both nodes (BUSYKEY) stopping cleanly, and
 * a failover asked again after the frozen primary let the first one lapse.
 * Ports 20700-20799: the harness takes 20700-20705, the extra nodes
 * 20706 and up are started here. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <clusterc/admin.h>
#include "itest.h"

#define BASE 20700
#define P_NEW 20706      /* the lab's 7007: an empty primary */
#define P_REPL 20707     /* its replica, added with an explicit id */
#define P_AUTO 20708     /* added with no id, then moved with replicate */
#define P_AUTO2 20709    /* added with no id, then removed */
#define P_KEYS 20710     /* refused: holds keys */
#define P_KNOWS 20711    /* refused: knows another node (20712) */
#define P_KNOWN 20712
#define P_FRESH 20713    /* refused: unknown id, replica id */
#define P_GONE 20714     /* an empty primary with two replicas, removed */
#define P_GONE_R1 20715
#define P_GONE_R2 20716
#define SLOTS_LIVE 100
#define KEYS_PER_SLOT 50
#define NKEYS (SLOTS_LIVE * KEYS_PER_SLOT)

static harness *H;
static clusterc_client *C;
static pid_t Pids[16];
static int Ports[16];
static int Npids;
static char Dir[128];
static char NewId[41], ReplId[41];
static char Keys[NKEYS][32];
static int Ver[NKEYS];        /* the value of key i is "v<i>-<Ver[i]>" */

/* ------------------------------------------------------------ extra nodes */

static void kill_nodes(void)
{
    for (int i = 0; i < Npids; i++)
        if (Pids[i] > 0) {
            kill(Pids[i], SIGKILL);
            waitpid(Pids[i], NULL, 0);
            Pids[i] = 0;
        }
    if (Dir[0]) {
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", Dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", Dir);
        Dir[0] = '\0';
    }
}

static void write_conf(const char *path, const char *dir, int port)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "port %d\nbind 127.0.0.1\nprotected-mode no\ndir %s\n"
               "cluster-enabled yes\ncluster-config-file nodes.conf\n"
               "cluster-node-timeout 2000\nappendonly no\nsave \"\"\n"
               "repl-diskless-sync-delay 0\nlogfile %s/redis.log\n",
            port, dir, dir);
    fclose(f);
}

/* A standalone cluster-enabled node. The child asks the kernel to kill it
 * when this process dies, so a crashed test leaves no server behind. */
static void spawn_node(int port)
{
    char dir[192], conf[256];
    snprintf(dir, sizeof(dir), "%s/%d", Dir, port);
    snprintf(conf, sizeof(conf), "%s/redis.conf", dir);
    assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
    write_conf(conf, dir, port);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (chdir(dir) != 0)
            _exit(127);
        execlp("redis-server", "redis-server", conf, (char *)NULL);
        _exit(127);
    }
    Ports[Npids] = port;
    Pids[Npids++] = pid;
    for (int i = 0; i < 100; i++) {
        redisContext *rc = harness_connect(port);
        redisReply *r = rc ? redisCommand(rc, "PING") : NULL;
        int up = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        redisFree(rc);
        if (up)
            return;
        usleep(50000);
    }
    fail_msg("redis-server on %d did not start", port);
}

/* ---------------------------------------------------------------- helpers */

static void on_progress_quiet(const clusterc_admin_progress *p, void *arg)
{
    (void)arg;
    if (strcmp(p->step, "migrate") != 0)
        fprintf(stderr, "  [%6lld ms] %s %s %s\n", (long long)p->elapsed_ms, p->step,
                p->node, p->state);
}

static clusterc_admin_opts opts(void)
{
    clusterc_admin_opts o;
    clusterc_admin_opts_init(&o);
    o.timeout_ms = 20000;
    o.poll_ms = 100;
    o.progress = on_progress_quiet;
    return o;
}

static const char *id_of(int port)
{
    static char id[41];
    char addr[32];
    clusterc_cluster_node *v;
    size_t n;
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    assert_int_equal(clusterc_admin_nodes(C, addr, &v, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (v[i].flags & CLUSTERC_NODE_MYSELF)
            snprintf(id, sizeof(id), "%s", v[i].id);
    clusterc_nodes_free(v, n);
    return id;
}

/* What must not change when an add is refused: who is in the cluster,
 * their roles and their slots, as node 20700 sees it. */
static char *membership(void)
{
    clusterc_cluster_node *v;
    size_t n;
    char *s = calloc(1, 16384);
    assert_non_null(s);
    assert_int_equal(clusterc_admin_nodes(C, "127.0.0.1:20700", &v, &n), 0);
    for (size_t i = 0; i < n; i++) {
        char line[160];
        snprintf(line, sizeof(line), "%s %s %s %d\n", v[i].id,
                 (v[i].flags & CLUSTERC_NODE_MASTER) ? "master" : "slave", v[i].primary_id,
                 clusterc_node_slot_count(&v[i]));
        strcat(s, line);
    }
    clusterc_nodes_free(v, n);
    return s;
}

static int replicas_of(const char *id)
{
    clusterc_cluster_node *v;
    size_t n;
    int k = 0;
    assert_int_equal(clusterc_admin_nodes(C, "127.0.0.1:20700", &v, &n), 0);
    for (size_t i = 0; i < n; i++)
        k += (v[i].flags & CLUSTERC_NODE_SLAVE) && strcmp(v[i].primary_id, id) == 0;
    clusterc_nodes_free(v, n);
    return k;
}

/* Gossip carries a new replica to the other nodes' views: poll. */
static void wait_replicas(const char *id, int want)
{
    int64_t end = it_now_ms() + 10000;
    while (replicas_of(id) != want && it_now_ms() < end)
        usleep(100000);
    assert_int_equal(replicas_of(id), want);
}

/* The fewest replicas any primary with slots has, as 20700 sees it. */
static int min_replicas(void)
{
    clusterc_cluster_node *v;
    size_t n;
    int best = 99;
    assert_int_equal(clusterc_admin_nodes(C, "127.0.0.1:20700", &v, &n), 0);
    for (size_t i = 0; i < n; i++)
        if ((v[i].flags & CLUSTERC_NODE_MASTER) && v[i].nslots > 0) {
            int k = 0;
            for (size_t j = 0; j < n; j++)
                k += (v[j].flags & CLUSTERC_NODE_SLAVE) && strcmp(v[j].primary_id, v[i].id) == 0;
            best = k < best ? k : best;
        }
    clusterc_nodes_free(v, n);
    return best;
}

/* Gossip takes a moment to reach every node: poll the check. */
static clusterc_check_result *check_until_ok(int timeout_ms)
{
    int64_t end = it_now_ms() + timeout_ms;
    for (;;) {
        clusterc_check_result *r;
        assert_int_equal(clusterc_admin_check(C, &r), 0);
        if (r->ok || it_now_ms() >= end)
            return r;
        clusterc_check_free(r);
        usleep(200000);
    }
}

static void expect_replica_of(int port, int primary_port)
{
    char addr[32];
    clusterc_replication r;
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    assert_int_equal(clusterc_admin_replication(C, addr, &r), 0);
    assert_int_equal(r.is_primary, 0);
    assert_int_equal(r.master_port, primary_port);
    assert_int_equal(r.master_link_up, 1);
    clusterc_replication_free(&r);
}

/* ------------------------------------------------------------ setup */

static int setup(void **state)
{
    (void)state;
    snprintf(Dir, sizeof(Dir), "/tmp/clusterc-it-admin-%d", (int)getpid());
    if (mkdir(Dir, 0700) != 0)
        return -1;
    atexit(kill_nodes);
    H = harness_start(BASE, 3, 1, NULL);
    if (!H)
        return -1;
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    C = clusterc_connect(&o);
    return C && !clusterc_error(C) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    clusterc_free(C);
    kill_nodes();
    harness_stop(H);
    return 0;
}

/* --------------------------------------------------- live reshard (7007) */

typedef struct live {
    clusterc_client *c;     /* a second client, reading and writing */
    const int *slots;       /* the slots being moved, in order */
    int ops, errors;
} live;

static void touch_key(live *l, int i)
{
    char want[32];
    snprintf(want, sizeof(want), "v%d-%d", i, Ver[i]);
    redisReply *r = clusterc_command(l->c, "GET %s", Keys[i]);
    if (!r || r->type != REDIS_REPLY_STRING || strcmp(r->str, want) != 0) {
        l->errors++;
        fprintf(stderr, "GET %s: %s\n", Keys[i], r ? (r->str ? r->str : "nil") : clusterc_errstr(l->c));
    }
    freeReplyObject(r);
    r = clusterc_command(l->c, "SET %s v%d-%d", Keys[i], i, Ver[i] + 1);
    if (!r || r->type != REDIS_REPLY_STATUS)
        l->errors++;
    else
        Ver[i]++;
    freeReplyObject(r);
    l->ops += 2;
}

/* Between MIGRATE batches the slot is half moved: its keys are on both
 * nodes, so the other client meets ASK on some and not on others. */
static void on_migrate(const clusterc_admin_progress *p, void *arg)
{
    live *l = arg;
    if (strcmp(p->step, "migrate") != 0 || strcmp(p->state, "moving") != 0 ||
        p->slots_done >= SLOTS_LIVE)
        return;
    int base = p->slots_done * KEYS_PER_SLOT;
    for (int j = 0; j < KEYS_PER_SLOT; j += 5)
        touch_key(l, base + (j + (int)p->keys_done) % KEYS_PER_SLOT);
}

/* A hash tag per slot, so that KEYS_PER_SLOT keys land in each. */
static void make_keys(const int *slots)
{
    for (int s = 0; s < SLOTS_LIVE; s++) {
        char tag[16];
        for (int t = 0;; t++) {
            snprintf(tag, sizeof(tag), "t%d", t);
            if (clusterc_keyslot(tag, strlen(tag)) == slots[s])
                break;
        }
        for (int k = 0; k < KEYS_PER_SLOT; k++)
            snprintf(Keys[s * KEYS_PER_SLOT + k], sizeof(Keys[0]), "{%s}:%d", tag, k);
    }
    for (int i = 0; i < NKEYS; i++)
        assert_int_equal(clusterc_append_command(C, "SET %s v%d-0", Keys[i], i), 0);
    for (int i = 0; i < NKEYS; i++) {
        void *r;
        assert_int_equal(clusterc_get_reply(C, &r), 0);
        freeReplyObject(r);
    }
}

static int first_slots_of(int port, int *slots, int max)
{
    clusterc_cluster_node *v;
    size_t n;
    char addr[32];
    int k = 0;
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    assert_int_equal(clusterc_admin_nodes(C, addr, &v, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (v[i].flags & CLUSTERC_NODE_MYSELF)
            for (size_t j = 0; j < v[i].nslots; j++)
                for (int s = v[i].slots[j].start; s <= v[i].slots[j].end; s++) {
                    if (k < max)
                        slots[k] = s;
                    k++;   /* counted even past max: NULL, 0 counts them */
                }
    clusterc_nodes_free(v, n);
    return k;
}

static void test_add_primary_and_live_reshard(void **state)
{
    (void)state;
    clusterc_admin_opts o = opts();
    int slots[SLOTS_LIVE];
    spawn_node(P_NEW);
    /* The cluster has a function library: the new primary must get it. */
    for (int i = 0; i < harness_count(H); i++)
        if (strcmp(harness_role(H, i), "master") == 0) {
            redisReply *r = harness_cmd(H, harness_port(H, i), "FUNCTION LOAD %s",
                                        "#!lua name=itlib\nredis.register_function('itfn', "
                                        "function(keys, args) return 'from-itlib' end)");
            assert_non_null(r);
            freeReplyObject(r);
        }
    int64_t t0 = it_now_ms();
    if (clusterc_admin_add_node(C, "127.0.0.1:20706", 0, NULL, &o, NULL) < 0)
        fail_msg("add primary: %s", clusterc_errstr(C));
    fprintf(stderr, "add primary: %lld ms\n", (long long)(it_now_ms() - t0));
    snprintf(NewId, sizeof(NewId), "%s", id_of(P_NEW));
    redisReply *fl = harness_cmd(H, P_NEW, "FUNCTION LIST");
    assert_non_null(fl);
    assert_int_equal(fl->type, REDIS_REPLY_ARRAY);
    assert_int_equal(fl->elements, 1);   /* itlib, copied over */
    freeReplyObject(fl);

    int src = harness_primary_of_slot(H, 0);
    char src_id[41];
    snprintf(src_id, sizeof(src_id), "%s", id_of(src));
    assert_true(first_slots_of(src, slots, SLOTS_LIVE) >= SLOTS_LIVE);
    make_keys(slots);

    live l = { it_client(H, NULL), slots, 0, 0 };
    o.progress = on_migrate;
    o.progress_arg = &l;
    o.migrate_batch = 10;
    t0 = it_now_ms();
    if (clusterc_admin_reshard(C, src_id, NewId, SLOTS_LIVE, &o) < 0)
        fail_msg("reshard: %s", clusterc_errstr(C));
    fprintf(stderr, "reshard %d slots, %d keys, %d client ops: %lld ms\n", SLOTS_LIVE, NKEYS,
            l.ops, (long long)(it_now_ms() - t0));
    assert_true(l.ops > 1000);
    assert_int_equal(l.errors, 0);
    for (int i = 0; i < NKEYS; i++)
        touch_key(&l, i);       /* every key there, with its last value */
    assert_int_equal(l.errors, 0);
    clusterc_stats st;
    clusterc_get_stats(l.c, &st);
    fprintf(stderr, "live client: ask=%llu moved=%llu failures=%llu\n", (unsigned long long)st.ask,
            (unsigned long long)st.moved, (unsigned long long)st.failures);
    assert_true(st.ask > 0);
    assert_int_equal(st.failures, 0);
    clusterc_free(l.c);

    /* The rest of the lab's 4096: each old primary keeps 4096. */
    o.progress = NULL;
    o.migrate_batch = 100;
    t0 = it_now_ms();
    for (int i = 0; i < 3; i++) {
        int port = harness_nth_port(H, "master", i);
        int have = first_slots_of(port, NULL, 0), want = have - 4096;
        if (clusterc_admin_reshard(C, id_of(port), NewId, want, &o) < 0)
            fail_msg("reshard from %d: %s", port, clusterc_errstr(C));
    }
    fprintf(stderr, "reshard to 4096 slots: %lld ms\n", (long long)(it_now_ms() - t0));
    clusterc_cluster_node *v;
    size_t n;
    assert_int_equal(clusterc_admin_nodes(C, "127.0.0.1:20706", &v, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (v[i].flags & CLUSTERC_NODE_MYSELF)
            assert_int_equal(clusterc_node_slot_count(&v[i]), 4096);
    clusterc_nodes_free(v, n);
}

/* ------------------------------------------------- check, then a replica */

static void test_check_names_unprotected(void **state)
{
    (void)state;
    clusterc_check_result *r;
    int64_t end = it_now_ms() + 10000;
    for (;;) {   /* replicas learn the new slot owners by gossip */
        assert_int_equal(clusterc_admin_check(C, &r), 0);
        if (r->config_agrees || it_now_ms() >= end)
            break;
        clusterc_check_free(r);
        usleep(200000);
    }
    fprintf(stderr, "%s", r->report);
    assert_int_equal(r->ok, 0);
    assert_int_equal(r->config_agrees, 1);
    assert_int_equal(r->unprotected, 1);
    assert_int_equal(r->slots_covered, CLUSTERC_SLOTS);
    assert_int_equal(r->open_slots, 0);
    assert_non_null(strstr(r->report, "127.0.0.1:20706: no replica - 4096 slots at risk"));
    clusterc_check_free(r);
}

typedef struct seen { int connected, syncing; long long bytes; } seen;

static void on_sync(const clusterc_admin_progress *p, void *arg)
{
    seen *s = arg;
    on_progress_quiet(p, NULL);
    if (strcmp(p->step, "sync") != 0)
        return;
    if (strcmp(p->state, "connected") == 0)
        s->connected = 1;
    if (strcmp(p->state, "sync") == 0) {
        s->syncing++;
        if (p->bytes_done > s->bytes)
            s->bytes = p->bytes_done;
    }
}

/* A replica new to the map counts as "loading" (CLUSTER SHARDS health)
 * until gossip carries its offset, and gets no reads until then. */
static redisReply *replica_get(clusterc_client *rc, const char *key)
{
    int64_t end = it_now_ms() + 10000;
    for (;;) {
        redisReply *x = clusterc_command_route(rc, CLUSTERC_ROUTE_REPLICA, "GET %s", key);
        if (x || clusterc_error(rc) != CLUSTERC_ENOREPLICA || it_now_ms() >= end)
            return x;
        usleep(200000);
        clusterc_refresh(rc);
    }
}

static void test_add_replica_explicit(void **state)
{
    (void)state;
    clusterc_admin_opts o = opts();
    seen s = { 0 };
    char chosen[41];
    o.progress = on_sync;
    o.progress_arg = &s;
    spawn_node(P_REPL);
    /* Slow the primary's RDB down (a hidden server config: microseconds
     * per key saved) so the transfer lasts long enough for the progress
     * to show the "sync" state with its byte count, as it does for a
     * primary holding real data. */
    it_node_ok(H, P_NEW, "CONFIG SET rdb-key-save-delay 300");
    int64_t t0 = it_now_ms();
    int rc_add = clusterc_admin_add_node(C, "127.0.0.1:20707", 1, NewId, &o, chosen);
    it_node_ok(H, P_NEW, "CONFIG SET rdb-key-save-delay 0");
    if (rc_add < 0)
        fail_msg("add replica: %s", clusterc_errstr(C));
    fprintf(stderr, "add replica: %lld ms; 'sync' reported %d times, up to %lld bytes\n",
            (long long)(it_now_ms() - t0), s.syncing, s.bytes);
    assert_string_equal(chosen, NewId);
    assert_true(s.connected);
    assert_true(s.syncing > 0);
    assert_true(s.bytes > 0);
    snprintf(ReplId, sizeof(ReplId), "%s", id_of(P_REPL));
    expect_replica_of(P_REPL, P_NEW);

    clusterc_check_result *r = check_until_ok(10000);
    if (!r->ok)
        fail_msg("check after adding the replica:\n%s", r->report);
    assert_int_equal(r->unprotected, 0);
    clusterc_check_free(r);

    /* Data written before the add is on the replica. */
    clusterc_options co;
    clusterc_options_init(&co);
    co.read_only = 1;
    clusterc_client *rc = it_client(H, &co);
    for (int i = 0; i < NKEYS; i += 97) {
        char want[32];
        snprintf(want, sizeof(want), "v%d-%d", i, Ver[i]);
        redisReply *x = replica_get(rc, Keys[i]);
        if (!x)
            fail_msg("GET %s from a replica: %s", Keys[i], clusterc_errstr(rc));
        it_expect_str(x, want);
        freeReplyObject(x);
    }
    clusterc_node_info info[16];
    int k = clusterc_node_stats(rc, info, 16);
    uint64_t reads = 0;
    for (int i = 0; i < k && i < 16; i++)
        if (strcmp(info[i].announced, "127.0.0.1:20707") == 0)
            reads = info[i].reads;
    assert_true(reads > 0);
    clusterc_free(rc);
}

/* ------------------------------------ no id: fewest replicas; replicate */

static void test_add_auto_then_replicate(void **state)
{
    (void)state;
    clusterc_admin_opts o = opts();
    char chosen[41];
    spawn_node(P_AUTO);
    int least = min_replicas();
    if (clusterc_admin_add_node(C, "127.0.0.1:20708", 1, NULL, &o, chosen) < 0)
        fail_msg("add replica (auto): %s", clusterc_errstr(C));
    /* The chosen primary had the fewest; it now has one more. */
    wait_replicas(chosen, least + 1);

    /* The lab's "wrong master": move it to 20706, which gets a second. */
    if (clusterc_admin_replicate(C, "127.0.0.1:20708", NewId, &o) < 0)
        fail_msg("replicate: %s", clusterc_errstr(C));
    expect_replica_of(P_AUTO, P_NEW);
    wait_replicas(NewId, 2);
    clusterc_check_result *r = check_until_ok(10000);
    if (!r->ok)
        fail_msg("check after replicate:\n%s", r->report);
    clusterc_check_free(r);
}

/* Poll (reading keys through c, which also runs its loop) until the node
 * on port has (want 1) or has not (want 0) a client connection named name. */
static int named_client_on(int port, const char *name, clusterc_client *c, int want)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "name=%s ", name);
    for (int i = 0; i < 100; i++) {
        for (int k = 0; k < 50; k++)
            freeReplyObject(clusterc_command(c, "GET k%d", i * 50 + k));
        redisReply *r = harness_cmd(H, port, "CLIENT LIST");
        int has = r && r->type == REDIS_REPLY_STRING && strstr(r->str, needle);
        freeReplyObject(r);
        if (has == want)
            return 1;
        usleep(100000);
    }
    return 0;
}

static void test_add_auto_skips_protected_then_remove(void **state)
{
    (void)state;
    clusterc_admin_opts o = opts();
    char chosen[41];
    spawn_node(P_AUTO2);
    int least = min_replicas();
    if (clusterc_admin_add_node(C, "127.0.0.1:20709", 1, NULL, &o, chosen) < 0)
        fail_msg("add replica (auto): %s", clusterc_errstr(C));
    wait_replicas(chosen, least + 1);
    assert_string_not_equal(chosen, NewId);   /* 20706 has two */

    /* A reading client with a connection to the node about to leave. */
    clusterc_options lo;
    clusterc_options_init(&lo);
    lo.read_only = 1;
    lo.client_name = "it-leave";
    clusterc_client *L = it_client(H, &lo);
    assert_true(named_client_on(P_AUTO2, "it-leave", L, 1));

    char id[41];
    snprintf(id, sizeof(id), "%s", id_of(P_AUTO2));
    if (clusterc_admin_remove_node(C, id, &o) < 0)
        fail_msg("remove: %s", clusterc_errstr(C));
    char *m = membership();
    assert_null(strstr(m, id));
    free(m);
    /* Once L's map no longer lists it, L closes its connection there. */
    assert_int_equal(clusterc_refresh(L), 0);
    assert_true(named_client_on(P_AUTO2, "it-leave", L, 0));
    clusterc_free(L);
    clusterc_cluster_info ci;
    assert_int_equal(clusterc_admin_cluster_info(C, "127.0.0.1:20709", &ci), 0);
    assert_int_equal(ci.known_nodes, 1);    /* reset: knows only itself */
    clusterc_check_result *r = check_until_ok(10000);
    if (!r->ok)
        fail_msg("check after remove:\n%s", r->report);
    clusterc_check_free(r);
}

/* ------------------------------------------------------------- failover */

static void test_failover(void **state)
{
    (void)state;
    clusterc_admin_opts o = opts();
    int64_t t0 = it_now_ms();
    if (clusterc_admin_failover(C, "127.0.0.1:20707", CLUSTERC_FAILOVER_DEFAULT, &o) < 0)
        fail_msg("failover: %s", clusterc_errstr(C));
    fprintf(stderr, "failover: %lld ms\n", (long long)(it_now_ms() - t0));
    wait_replicas(ReplId, 2);   /* 20706 and 20708 follow it */
    int64_t end = it_now_ms() + 10000;
    clusterc_replication r;
    for (;;) {
        assert_int_equal(clusterc_admin_replication(C, "127.0.0.1:20706", &r), 0);
        int ok = !r.is_primary && r.master_port == P_REPL && r.master_link_up == 1;
        clusterc_replication_free(&r);
        if (ok)
            break;
        if (it_now_ms() >= end)
            fail_msg("20706 did not become a replica of 20707");
        usleep(100000);
    }
    for (int i = 0; i < NKEYS; i += 101) {
        char want[32];
        snprintf(want, sizeof(want), "v%d-%d", i, Ver[i]);
        redisReply *x = clusterc_command(C, "GET %s", Keys[i]);
        if (!x)
            fail_msg("GET after failover: %s", clusterc_errstr(C));
        it_expect_str(x, want);
        freeReplyObject(x);
    }
    /* Failing over a primary is refused. */
    assert_int_equal(clusterc_admin_failover(C, "127.0.0.1:20707", 0, &o), -1);
    assert_non_null(strstr(clusterc_errstr(C), "is a primary"));
}

/* -------------------------------------------------------------- refusals */

static void refused(const char *addr, int as_replica, const char *primary, const char *want)
{
    clusterc_admin_opts o = opts();
    char *before = membership();
    assert_int_equal(clusterc_admin_add_node(C, addr, as_replica, primary, &o, NULL), -1);
    fprintf(stderr, "refused: %s\n", clusterc_errstr(C));
    if (!strstr(clusterc_errstr(C), want))
        fail_msg("error \"%s\" lacks \"%s\"", clusterc_errstr(C), want);
    char *after = membership();
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void test_refusals(void **state)
{
    (void)state;
    spawn_node(P_KEYS);
    spawn_node(P_KNOWS);
    spawn_node(P_KNOWN);
    spawn_node(P_FRESH);
    /* A key needs a served slot on a lone cluster node. */
    int slot = clusterc_keyslot("stray", 5);
    it_node_ok(H, P_KEYS, "CONFIG SET cluster-require-full-coverage no");
    it_node_ok(H, P_KEYS, "CLUSTER ADDSLOTS %d", slot);
    /* A primary refuses writes for 2 s after it starts. */
    int64_t until = it_now_ms() + 5000;
    redisReply *x;
    while ((x = harness_cmd(H, P_KEYS, "SET stray 1")) && x->type == REDIS_REPLY_ERROR &&
           it_now_ms() < until) {
        freeReplyObject(x);
        usleep(100000);
    }
    it_expect_str(x, "OK");
    freeReplyObject(x);
    refused("127.0.0.1:20710", 0, NULL, "127.0.0.1:20710: holds 1 keys");
    /* C has talked to 20710, a lone node serving one slot of its own: its
     * map must never be taken for the cluster's (a refresh once asked it,
     * among random candidates, and installed a one-node map). */
    for (int i = 0; i < 30; i++) {
        freeReplyObject(clusterc_command_to_node(C, "127.0.0.1:20710", "PING"));
        assert_int_equal(clusterc_refresh(C), 0);
        clusterc_node_info info[32];
        int k = clusterc_node_stats(C, info, 32);
        assert_true(k >= 6);
        for (int j = 0; j < k && j < 32; j++)
            if (strstr(info[j].announced, ":20710"))
                fail_msg("refresh %d installed the map of 127.0.0.1:20710", i);
    }

    it_node_ok(H, P_KNOWS, "CLUSTER MEET 127.0.0.1 %d", P_KNOWN);
    int64_t end = it_now_ms() + 5000;
    clusterc_cluster_info ci;
    do {
        usleep(100000);
        assert_int_equal(clusterc_admin_cluster_info(C, "127.0.0.1:20711", &ci), 0);
    } while (ci.known_nodes != 2 && it_now_ms() < end);
    refused("127.0.0.1:20711", 0, NULL, "127.0.0.1:20711: already knows 1 other nodes");

    refused("127.0.0.1:20713", 1, "0123456789abcdef0123456789abcdef01234567", "no such primary");
    refused("127.0.0.1:20713", 1, id_of(harness_nth_port(H, "slave", 0)), "is a replica, not a primary");
    assert_int_equal(clusterc_admin_cluster_info(C, "127.0.0.1:20713", &ci), 0);
    assert_int_equal(ci.known_nodes, 1);
    refused("127.0.0.1:20799", 0, NULL, "127.0.0.1:20799");   /* nothing listens there */
    /* An id no node knows, after every node's view was asked. */
    clusterc_admin_opts o = opts();
    assert_int_equal(clusterc_admin_replicate(C, "127.0.0.1:20703", NULL, &o), -1);
    if (!strstr(clusterc_errstr(C), "replicate 127.0.0.1:20703: no primary id given"))
        fail_msg("unexpected error: %s", clusterc_errstr(C));
    assert_int_equal(clusterc_admin_failover(C, "0123456789abcdef0123456789abcdef01234567", 0, &o), -1);
    if (!strstr(clusterc_errstr(C), "no such node in the cluster (no node knows it"))
        fail_msg("unexpected error: %s", clusterc_errstr(C));
}

/* ------------------------------------------- remove a primary with replicas */

/* The port of the primary the node on port follows, once its link is up. */
static int primary_port_of(int port)
{
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    int64_t end = it_now_ms() + 10000;
    for (;;) {
        clusterc_replication r;
        assert_int_equal(clusterc_admin_replication(C, addr, &r), 0);
        int p = !r.is_primary && r.master_link_up == 1 ? r.master_port : 0;
        clusterc_replication_free(&r);
        if (p && p != P_GONE)
            return p;
        if (it_now_ms() >= end)
            fail_msg("%s did not follow another primary", addr);
        usleep(100000);
    }
}

static void test_remove_primary_with_replicas(void **state)
{
    (void)state;
    clusterc_admin_opts o = opts();
    spawn_node(P_GONE);
    spawn_node(P_GONE_R1);
    spawn_node(P_GONE_R2);
    if (clusterc_admin_add_node(C, "127.0.0.1:20714", 0, NULL, &o, NULL) < 0)
        fail_msg("add primary: %s", clusterc_errstr(C));
    char id[41];
    snprintf(id, sizeof(id), "%s", id_of(P_GONE));
    if (clusterc_admin_add_node(C, "127.0.0.1:20715", 1, id, &o, NULL) < 0 ||
        clusterc_admin_add_node(C, "127.0.0.1:20716", 1, id, &o, NULL) < 0)
        fail_msg("add replica: %s", clusterc_errstr(C));
    wait_replicas(id, 2);

    if (clusterc_admin_remove_node(C, id, &o) < 0)
        fail_msg("remove: %s", clusterc_errstr(C));
    char *m = membership();
    assert_null(strstr(m, id));
    free(m);
    /* Each replica went to a primary that serves slots, and not both to
     * the same one: the second move counts the first. */
    int p1 = primary_port_of(P_GONE_R1), p2 = primary_port_of(P_GONE_R2);
    fprintf(stderr, "replicas moved to %d and %d\n", p1, p2);
    assert_int_not_equal(p1, p2);
    clusterc_check_result *r = check_until_ok(10000);
    if (!r->ok)
        fail_msg("check after removing a primary with replicas:\n%s", r->report);
    clusterc_check_free(r);
}

/* ------------------------------------------------ reshard stops on BUSYKEY */

/* A key of slot on port's node, written past the slot's owner: the node
 * is set IMPORTING the slot and the write goes after ASKING, as a
 * half-finished earlier move would have left it. */
static void plant_key(int port, int slot, const char *src_id, const char *key, const char *val)
{
    it_node_ok(H, port, "CLUSTER SETSLOT %d IMPORTING %s", slot, src_id);
    redisContext *rc = harness_connect(port);
    assert_non_null(rc);
    freeReplyObject(redisCommand(rc, "ASKING"));
    redisReply *r = redisCommand(rc, "SET %s %s", key, val);
    it_expect_str(r, "OK");
    freeReplyObject(r);
    redisFree(rc);
}

static redisReply *asking_get(int port, const char *key)
{
    redisContext *rc = harness_connect(port);
    assert_non_null(rc);
    freeReplyObject(redisCommand(rc, "ASKING"));
    redisReply *r = redisCommand(rc, "GET %s", key);
    redisFree(rc);
    return r;
}

static void test_reshard_stops_on_busykey(void **state)
{
    (void)state;
    clusterc_admin_opts o = opts();
    int src = 20700, dst = 20701;
    char src_id[41], dst_id[41], key[32];
    snprintf(src_id, sizeof(src_id), "%s", id_of(src));
    snprintf(dst_id, sizeof(dst_id), "%s", id_of(dst));
    /* The slot reshard moves first: the source's lowest. */
    clusterc_cluster_node *v;
    size_t n;
    assert_int_equal(clusterc_admin_nodes(C, "127.0.0.1:20700", &v, &n), 0);
    int slot = -1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; (v[i].flags & CLUSTERC_NODE_MYSELF) && j < v[i].nslots; j++)
            if (slot < 0 || v[i].slots[j].start < slot)
                slot = v[i].slots[j].start;
    clusterc_nodes_free(v, n);
    assert_true(slot >= 0);
    for (int i = 0; slot >= 0; i++) {
        snprintf(key, sizeof(key), "busy:%d", i);
        if (clusterc_keyslot(key, strlen(key)) == slot)
            break;
    }
    redisReply *r = clusterc_command(C, "SET %s source", key);
    it_expect_str(r, "OK");
    freeReplyObject(r);
    plant_key(dst, slot, src_id, key, "target");

    assert_int_equal(clusterc_admin_reshard(C, src_id, dst_id, 1, &o), -1);
    fprintf(stderr, "reshard refused: %s\n", clusterc_errstr(C));
    char want[64];
    snprintf(want, sizeof(want), "slot %d is left open", slot);
    if (!strstr(clusterc_errstr(C), "BUSYKEY") || !strstr(clusterc_errstr(C), want) ||
        !strstr(clusterc_errstr(C), "nothing was overwritten"))
        fail_msg("unexpected error: %s", clusterc_errstr(C));
    /* Both values are intact, and the check names the open slot. */
    r = harness_cmd(H, src, "GET %s", key);
    it_expect_str(r, "source");
    freeReplyObject(r);
    r = asking_get(dst, key);
    it_expect_str(r, "target");
    freeReplyObject(r);
    clusterc_check_result *cr;
    assert_int_equal(clusterc_admin_check(C, &cr), 0);
    assert_false(cr->ok);
    assert_true(cr->open_slots > 0);
    clusterc_check_free(cr);

    /* The operator's fix: drop the stray copy, close the slot. */
    redisContext *rc = harness_connect(dst);
    freeReplyObject(redisCommand(rc, "ASKING"));
    freeReplyObject(redisCommand(rc, "DEL %s", key));
    redisFree(rc);
    it_node_ok(H, dst, "CLUSTER SETSLOT %d STABLE", slot);
    it_node_ok(H, src, "CLUSTER SETSLOT %d STABLE", slot);
    cr = check_until_ok(10000);
    if (!cr->ok)
        fail_msg("check after closing the slot:\n%s", cr->report);
    clusterc_check_free(cr);
}

/* ------------------------------------- failover re-sent after 5 s of silence */

static pid_t pid_of(int port)
{
    for (int i = 0; i < Npids; i++)
        if (Ports[i] == port)
            return Pids[i];
    fail_msg("no spawned node on %d", port);
    return -1;
}

/* cluster-node-timeout on every member: long enough that a primary frozen
 * for a few seconds is not failed over automatically. */
static void set_node_timeout(int ms)
{
    clusterc_cluster_node *v;
    size_t n;
    assert_int_equal(clusterc_admin_nodes(C, "127.0.0.1:20700", &v, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (!(v[i].flags & (CLUSTERC_NODE_FAIL | CLUSTERC_NODE_NOADDR)))
            it_node_ok(H, v[i].port, "CONFIG SET cluster-node-timeout %d", ms);
    clusterc_nodes_free(v, n);
}

typedef struct thaw { pid_t frozen; int again; } thaw;

/* The primary wakes up when the operation asks a second time. */
static void on_failover(const clusterc_admin_progress *p, void *arg)
{
    thaw *t = arg;
    on_progress_quiet(p, NULL);
    if (strcmp(p->step, "failover") == 0 && strcmp(p->state, "CLUSTER FAILOVER again") == 0 &&
        t->again++ == 0)
        kill(t->frozen, SIGCONT);
}

static void test_failover_asks_again(void **state)
{
    (void)state;
    /* 20707 is a primary since test_failover; 20706 and 20708 follow it. */
    clusterc_admin_opts o = opts();
    thaw t = { pid_of(P_REPL), 0 };
    o.progress = on_failover;
    o.progress_arg = &t;
    set_node_timeout(30000);
    /* A frozen primary never answers the replica's request: the server
     * gives the manual failover up after 5 s, and the library asks again. */
    kill(t.frozen, SIGSTOP);
    int rc = clusterc_admin_failover(C, "127.0.0.1:20708", CLUSTERC_FAILOVER_DEFAULT, &o);
    char why[512];   /* before set_node_timeout's calls replace it */
    snprintf(why, sizeof(why), "%s", clusterc_errstr(C));
    if (!t.again)
        kill(t.frozen, SIGCONT);
    set_node_timeout(2000);
    if (rc < 0)
        fail_msg("failover: %s", why);
    assert_int_equal(t.again, 1);
    clusterc_replication r;
    assert_int_equal(clusterc_admin_replication(C, "127.0.0.1:20708", &r), 0);
    assert_int_equal(r.is_primary, 1);
    clusterc_replication_free(&r);
    clusterc_check_result *cr = check_until_ok(10000);
    if (!cr->ok)
        fail_msg("check after the failover:\n%s", cr->report);
    clusterc_check_free(cr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_primary_and_live_reshard),
        cmocka_unit_test(test_check_names_unprotected),
        cmocka_unit_test(test_add_replica_explicit),
        cmocka_unit_test(test_add_auto_then_replicate),
        cmocka_unit_test(test_add_auto_skips_protected_then_remove),
        cmocka_unit_test(test_failover),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_remove_primary_with_replicas),
        cmocka_unit_test(test_reshard_stops_on_busykey),
        cmocka_unit_test(test_failover_asks_again),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
