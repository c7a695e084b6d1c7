/* it_fds.c -- file descriptors of a client that talks to every node of a
 * 15+15 cluster (issue 12, item 5): counted in /proc/self/fd before the
 * client, after connect, after touching every node, after the free.
 *
 *   blocking face: fds = nodes connected + 3 (its private event_base:
 *                  the epoll fd and libevent's signal pipe, 2 ends)
 *                  [+ one UDP socket per resolv.conf nameserver once a
 *                  host name was resolved, and + 1 until the next map
 *                  load: that seed's own connection, see test_host_name_seed]
 *   async face:    fds = nodes connected (the event_base is the caller's)
 *   after free:    fds = as before the client (no leak)
 *
 * Ports 23600-23629 (bus ports 13600-13629: port-10000, as the harness
 * does on Redis 7 when port+10000 is ephemeral). */
#define _DEFAULT_SOURCE   /* readlink */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>
#include <clusterc/admin.h>
#include "itest.h"

#define BASE 23600
#define PRIMARIES 15
#define NODES (2 * PRIMARIES)
/* What event_base_new() opens (libevent 2.1, epoll backend): the epoll fd
 * and the two ends of the pipe its signal handling wakes the loop with
 * (evsig_init_, made whether or not a signal event is ever added). */
#define BASE_FDS 3
#define TOUCH_MS 20000     /* replicas may be "loading" just after the start */

static harness *H;
static char Keys[PRIMARIES][32];   /* Keys[j]: a key served by the j-th primary */

/* Open descriptors of this process, without the one opendir() holds. */
static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
}

/* What each descriptor is, for a failure's diagnosis. */
static void dump_fds(const char *when)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *e;
    fprintf(stderr, "fds %s:", when);
    while ((e = readdir(d)) != NULL) {
        char path[300], target[256];
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        ssize_t k = readlink(path, target, sizeof(target) - 1);
        target[k > 0 ? k : 0] = '\0';
        fprintf(stderr, " %s=%s", e->d_name, target);
    }
    fprintf(stderr, "\n");
    closedir(d);
}

static void expect_fds(int got, int want, const char *when)
{
    if (got != want) {
        dump_fds(when);
        fail_msg("%s: %d fds, want %d", when, got, want);
    }
}

/* The nameservers evdns opens a UDP socket for: resolv.conf's, or
 * 127.0.0.1 when it lists none. */
static int nameservers(void)
{
    FILE *f = fopen("/etc/resolv.conf", "r");
    char line[512];
    int n = 0;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "nameserver", 10) == 0)
            n++;
    if (f)
        fclose(f);
    return n ? n : 1;
}

/* Keys[j] for the j-th primary (port order), from one CLUSTER SLOTS. */
static void pick_keys(void)
{
    static int owner[CLUSTERC_SLOTS];
    redisReply *r = harness_cmd(H, harness_port(H, 0), "CLUSTER SLOTS");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        int port = (int)e->element[2]->element[1]->integer;
        for (long long s = e->element[0]->integer; s <= e->element[1]->integer; s++)
            owner[s] = port;
    }
    freeReplyObject(r);
    for (int j = 0; j < PRIMARIES; j++) {
        int port = harness_nth_port(H, "master", j);
        int found = 0;
        for (int i = 0; i < 1000000 && !found; i++) {
            snprintf(Keys[j], sizeof(Keys[j]), "fd:%d", i);
            found = owner[clusterc_keyslot(Keys[j], strlen(Keys[j]))] == port;
        }
        assert_true(found);
    }
}

static int setup(void **state)
{
    (void)state;
    int64_t t0 = it_now_ms();
    H = harness_start(BASE, PRIMARIES, 1, NULL);
    if (!H)
        return -1;
    fprintf(stderr, "15+15 cluster up in %lld ms\n", (long long)(it_now_ms() - t0));
    pick_keys();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(H);
    return 0;
}

/* Nodes with a connection up; *touched: how many of them took their part
 * (every primary a write, every replica a read). */
static int connected(const clusterc_node_info *v, int n, int *touched)
{
    int up = 0;
    *touched = 0;
    for (int i = 0; i < n; i++) {
        up += v[i].connected;
        *touched += v[i].connected && (v[i].is_primary ? v[i].writes > 0 : v[i].reads > 0);
    }
    return up;
}

static int blocking_up(const clusterc_client *c, int *touched)
{
    clusterc_node_info v[NODES + 8];
    int n = clusterc_node_stats(c, v, NODES + 8);
    assert_int_equal(n, NODES);
    return connected(v, n, touched);
}

/* A SET on every primary, then GETs (replica reads) until every node has
 * served its part, within TOUCH_MS. */
static void touch_blocking(clusterc_client *c)
{
    for (int j = 0; j < PRIMARIES; j++) {
        redisReply *r = clusterc_command(c, "SET %s %d", Keys[j], j);
        it_expect_str(r, "OK");
        freeReplyObject(r);
    }
    int64_t end = it_now_ms() + TOUCH_MS;
    int touched = 0;
    while (blocking_up(c, &touched), touched < NODES && it_now_ms() < end) {
        for (int j = 0; j < PRIMARIES; j++) {
            redisReply *r = clusterc_command(c, "GET %s", Keys[j]);
            assert_non_null(r);
            if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)
                fail_msg("GET %s: reply type %d", Keys[j], r->type);   /* nil: not replicated yet */
            freeReplyObject(r);
        }
        clusterc_poll(c, 50);   /* map reloads while a replica is "loading" */
    }
    assert_int_equal(touched, NODES);
}

/* One blocking client's run: what it should hold. */
typedef struct {
    const char *name;
    const char *seeds;
    int extra;     /* fds besides the nodes' connections */
    int dialled;   /* connections open when clusterc_connect returns (up
                      or still connecting) */
    int linger;    /* seed connections outside the map still open after the
                      touch: closed by the next map load */
} fd_run;

/* One blocking client from start to free, its fds counted at each step. */
static void run_blocking(clusterc_options *o, const fd_run *w)
{
    o->seeds = w->seeds;
    int before = count_fds();
    int64_t t0 = it_now_ms();
    clusterc_client *c = clusterc_connect(o);
    assert_non_null(c);
    if (clusterc_error(c))
        fail_msg("connect: %s", clusterc_errstr(c));
    int after_connect = count_fds(), touched;
    int up = blocking_up(c, &touched);
    expect_fds(after_connect - before, w->dialled + w->extra, "after connect");
    touch_blocking(c);
    int after_touch = count_fds();
    int64_t t1 = it_now_ms();
    expect_fds(after_touch - before, NODES + w->extra + w->linger, "after touching every node");
    if (w->linger) {
        assert_int_equal(clusterc_refresh(c), 0);
        clusterc_poll(c, 0);   /* the reaper runs from the loop */
        expect_fds(count_fds() - before, NODES + w->extra, "after a refresh");
    }
    clusterc_free(c);
    int after_free = count_fds();
    fprintf(stderr, "%s: fds before %d, after connect %d (%d nodes up), after touching all "
            "%d nodes %d (= before + %d + %d + %d), after free %d; %lld ms\n", w->name,
            before, after_connect, up, NODES, after_touch, NODES, w->extra, w->linger,
            after_free, (long long)(t1 - t0));
    expect_fds(after_free, before, "after clusterc_free");
}

/* What event_base_new() itself opens: the BASE_FDS of the formula. */
static void test_event_base_fds(void **state)
{
    (void)state;
    int before = count_fds();
    struct event_base *b = event_base_new();
    assert_non_null(b);
    int with = count_fds();
    event_base_free(b);
    fprintf(stderr, "event_base_new (%s): %d fds\n", event_get_version(), with - before);
    expect_fds(with - before, BASE_FDS, "after event_base_new");
    expect_fds(count_fds(), before, "after event_base_free");
}

static void test_read_only(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);
    o.read_only = 1;
    /* The map comes from the first seed: its connection only. */
    fd_run w = { "read_only", harness_seeds(H), BASE_FDS, 1, 0 };
    run_blocking(&o, &w);
}

static void test_route_by_latency(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);
    o.route_by_latency = 1;
    /* Every node in the band, so replicas share the reads even when two
     * busy cores make 30 local nodes' latencies differ by milliseconds. */
    o.latency_tolerance_us = 1000000;
    /* The first map starts a latency probe of every node: all dialled. */
    fd_run w = { "route_by_latency", harness_seeds(H), BASE_FDS, NODES, 0 };
    run_blocking(&o, &w);
}

/* A seed by host name: the resolver (evdns) adds its nameserver sockets. */
static void test_host_name_seed(void **state)
{
    (void)state;
    char seed[64];
    snprintf(seed, sizeof(seed), "localhost:%d", harness_port(H, 0));
    clusterc_options o;
    clusterc_options_init(&o);
    o.read_only = 1;
    /* "localhost:p" is not the map's "127.0.0.1:p", so the seed's
     * connection is an extra one, retired (closed) when the first map is
     * installed; COMMAND then goes to a node of the map (refresh.c), which
     * is the one connection open when clusterc_connect returns. */
    fd_run w = { "read_only, seed localhost", seed, BASE_FDS + nameservers(), 1, 0 };
    run_blocking(&o, &w);
}

/* ------------------------------------------------------------ async face */

typedef struct {
    int pending;
    int failed;
} batch;

static void batch_cb(clusterc_async *a, redisReply *reply, void *privdata)
{
    batch *b = privdata;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "async: %s\n", reply ? reply->str : clusterc_async_errstr(a));
        b->failed++;
    }
    b->pending--;
}

/* Send "SET k j" (set) or "GET k" for every key and wait for the replies. */
static void async_round(struct event_base *base, clusterc_async *a, int set)
{
    batch b = { PRIMARIES, 0 };
    for (int j = 0; j < PRIMARIES; j++) {
        int rc = set ? clusterc_async_command(a, batch_cb, &b, "SET %s %d", Keys[j], j)
                     : clusterc_async_command(a, batch_cb, &b, "GET %s", Keys[j]);
        assert_int_equal(rc, 0);
    }
    int64_t end = it_now_ms() + 10000;
    while (b.pending > 0 && it_now_ms() < end)
        event_base_loop(base, EVLOOP_ONCE);
    assert_int_equal(b.pending, 0);
    assert_int_equal(b.failed, 0);
}

static int async_up(const clusterc_async *a, int *touched)
{
    clusterc_node_info v[NODES + 8];
    int n = clusterc_async_node_stats(a, v, NODES + 8);
    assert_int_equal(n, NODES);
    return connected(v, n, touched);
}

static void test_async(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    assert_non_null(base);
    clusterc_options o;
    clusterc_options_init(&o);
    o.read_only = 1;
    o.seeds = harness_seeds(H);
    int before = count_fds();
    clusterc_async *a = clusterc_async_connect(base, &o);
    assert_non_null(a);
    async_round(base, a, 1);
    int64_t end = it_now_ms() + TOUCH_MS;
    int touched = 0;
    while (async_up(a, &touched), touched < NODES && it_now_ms() < end)
        async_round(base, a, 0);
    assert_int_equal(touched, NODES);
    int after_touch = count_fds();
    expect_fds(after_touch - before, NODES, "async, after touching every node");
    clusterc_async_free(a);
    event_base_loop(base, EVLOOP_NONBLOCK);
    int after_free = count_fds();
    fprintf(stderr, "async read_only: fds before %d, after touching all %d nodes %d, "
            "after free %d\n", before, NODES, after_touch, after_free);
    expect_fds(after_free, before, "after clusterc_async_free");
    event_base_free(base);
}

/* ------------------------------------------ a failover and a reshard */

#define LOAD_KEYS (PRIMARIES + 4)

typedef struct load {
    clusterc_client *c;
    char keys[LOAD_KEYS][32];
    atomic_int stop;
    long pairs, failed, wrong;
    char why[256];
} load;

/* SET k v<n>, then GET k must say v<n>: every command answered, nothing
 * read back stale, while the map changes under it. */
static void *load_thread(void *arg)
{
    load *l = arg;
    for (long v = 1; !atomic_load(&l->stop); v++) {
        const char *k = l->keys[v % LOAD_KEYS];
        redisReply *r = clusterc_command(l->c, "SET %s v%ld", k, v);
        int ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        r = ok ? clusterc_command(l->c, "GET %s", k) : NULL;
        char want[32];
        snprintf(want, sizeof(want), "v%ld", v);
        if (!ok || !r) {
            l->failed++;
            snprintf(l->why, sizeof(l->why), "%s: %s", k, clusterc_errstr(l->c));
        } else if (r->type != REDIS_REPLY_STRING || strcmp(r->str, want) != 0) {
            l->wrong++;
        }
        freeReplyObject(r);
        l->pairs++;
    }
    return NULL;
}

/* Keys in the four lowest slots of the primary on port (a reshard of its
 * lowest slots moves them). */
static void keys_in_low_slots(int port, char (*out)[32])
{
    int lo = 16384;
    redisReply *r = harness_cmd(H, port, "CLUSTER SLOTS");
    for (size_t i = 0; r && i < r->elements; i++)
        if (r->element[i]->element[2]->element[1]->integer == port &&
            r->element[i]->element[0]->integer < lo)
            lo = (int)r->element[i]->element[0]->integer;
    freeReplyObject(r);
    assert_true(lo < 16384);
    for (int k = 0; k < 4; k++)
        for (int i = 0;; i++) {
            snprintf(out[k], 32, "low:%d", i);
            if (clusterc_keyslot(out[k], strlen(out[k])) == lo + k)
                break;
        }
}

/* A replica whose primary is neither a nor b (the failover must not
 * demote the reshard's source or target). */
static int replica_elsewhere(int a, int b)
{
    for (int j = 0; j < PRIMARIES; j++) {
        int port = harness_nth_port(H, "slave", j), master = it_master_port_of(H, port);
        if (master > 0 && master != a && master != b)
            return port;
    }
    fail_msg("no replica outside the reshard's shards");
    return -1;
}

/* The 15+15 cluster under a blocking client's SET+GET load: a manual
 * failover of one shard, then 8 slots (with keys) moved between two
 * others. The map is reloaded along the way and no command is lost. */
static void test_failover_and_reshard(void **state)
{
    (void)state;
    load l;
    memset(&l, 0, sizeof(l));
    int from = harness_nth_port(H, "master", 3), to = harness_nth_port(H, "master", 4);
    for (int j = 0; j < PRIMARIES; j++)
        snprintf(l.keys[j], 32, "%s", Keys[j]);
    keys_in_low_slots(from, l.keys + PRIMARIES);
    l.c = it_client(H, NULL);
    clusterc_stats st0, st1;
    clusterc_get_stats(l.c, &st0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, load_thread, &l), 0);
    clusterc_client *adm = it_client(H, NULL);
    clusterc_admin_opts ao;
    clusterc_admin_opts_init(&ao);
    ao.timeout_ms = 30000;
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", replica_elsewhere(from, to));
    int rc = clusterc_admin_failover(adm, addr, CLUSTERC_FAILOVER_DEFAULT, &ao);
    if (rc == 0)
        rc = clusterc_admin_reshard(adm, it_id_of_port(H, from), it_id_of_port(H, to), 8, &ao);
    if (rc < 0)
        fprintf(stderr, "admin: %s\n", clusterc_errstr(adm));
    struct timespec ts = { 0, 500 * 1000000L };
    nanosleep(&ts, NULL);   /* some load on the new map too */
    atomic_store(&l.stop, 1);
    pthread_join(t, NULL);
    clusterc_get_stats(l.c, &st1);
    fprintf(stderr, "failover + reshard under load: %ld SET+GET pairs, %ld failed, %ld wrong; "
            "MOVED %llu, ASK %llu, map loads %llu%s%s\n", l.pairs, l.failed, l.wrong,
            (unsigned long long)(st1.moved - st0.moved), (unsigned long long)(st1.ask - st0.ask),
            (unsigned long long)(st1.refreshes - st0.refreshes), l.failed ? "; last: " : "",
            l.why);
    assert_int_equal(rc, 0);
    assert_int_equal(l.failed, 0);
    assert_int_equal(l.wrong, 0);
    assert_true(l.pairs > 0);
    assert_true(st1.refreshes > st0.refreshes);   /* the map was reloaded */
    assert_true(st1.moved > st0.moved);
    clusterc_free(adm);
    clusterc_free(l.c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_base_fds),
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_route_by_latency),
        cmocka_unit_test(test_host_name_seed),
        cmocka_unit_test(test_async),
        cmocka_unit_test(test_failover_and_reshard),
    };
    /* Under "ulimit -n 64" (it_fds_ulimit64) the fd tests run, not the
     * load test: its admin client and load client hold 60 connections. */
    struct rlimit rl;
    size_t n = sizeof(tests) / sizeof(tests[0]);
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 256)
        n--;
    return _cmocka_run_group_tests("it_fds", tests, n, setup, teardown);
}
