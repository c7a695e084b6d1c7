/* it_reads.c -- replica reads on 3 primaries + 2 replicas each, verified by
 * the servers' own counters (CONFIG RESETSTAT, INFO commandstats), not by
 * the library's stats alone. Ports 20600-20608; delay proxy on 20690. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "itest.h"

#define NKEYS 3000
/* The proxy's port follows the harness's CLUSTERC_TEST_PORT_SHIFT. */
#define PROXY_PORT (20690 + (getenv("CLUSTERC_TEST_PORT_SHIFT") ? atoi(getenv("CLUSTERC_TEST_PORT_SHIFT")) : 0))
static harness *H;

/* shard i: primary[i] and its replicas rep[i][0..1] */
static int primary[3], rep[3][2];

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int setup(void **state)
{
    (void)state;
    H = harness_start(20600, 3, 2, NULL);
    if (!H)
        return -1;
    it_learn_shards(H, primary, rep);
    clusterc_client *c = it_client(H, NULL);
    for (int i = 0; i < NKEYS; i++) {
        redisReply *r = clusterc_command(c, "SET rk:%d v%d", i, i);
        freeReplyObject(r);
    }
    clusterc_free(c);
    it_wait_replicas_online(H);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(H);
    return 0;
}

/* calls of one command on one node, from INFO commandstats */
static long long cmdstat(int port, const char *cmd)
{
    char needle[64];
    long long calls = 0;
    redisReply *r = harness_cmd(H, port, "INFO commandstats");
    assert_non_null(r);
    snprintf(needle, sizeof(needle), "cmdstat_%s:calls=", cmd);
    const char *p = strstr(r->str, needle);
    if (p)
        calls = atoll(p + strlen(needle));
    freeReplyObject(r);
    return calls;
}

static void reset_stats(void)
{
    for (int i = 0; i < harness_count(H); i++)
        it_node_ok(H, harness_port(H, i), "CONFIG RESETSTAT");
}

static void read_all(clusterc_client *c, int rounds)
{
    for (int k = 0; k < rounds; k++)
        for (int i = 0; i < NKEYS; i++) {
            char want[16];
            snprintf(want, sizeof(want), "v%d", i);
            redisReply *r = clusterc_command(c, "GET rk:%d", i);
            if (!r)
                fail_msg("GET rk:%d: %s", i, clusterc_errstr(c));
            it_expect_str(r, want);
            freeReplyObject(r);
        }
}

static void print_shard(const char *what, int s)
{
    fprintf(stderr, "  %s shard %d: primary %d=%lld, replicas %d=%lld %d=%lld\n", what, s,
            primary[s], cmdstat(primary[s], "get"), rep[s][0], cmdstat(rep[s][0], "get"),
            rep[s][1], cmdstat(rep[s][1], "get"));
}

static void test_read_only(void **state)
{
    (void)state;
    reset_stats();
    clusterc_options o;
    clusterc_options_init(&o);
    o.read_only = 1;
    clusterc_client *c = it_client(H, &o);
    read_all(c, 2);
    for (int i = 0; i < 300; i++) {
        redisReply *r = clusterc_command(c, "SET rw:%d x", i);
        it_expect_str(r, "OK");
        freeReplyObject(r);
    }
    long long sets = 0;
    for (int s = 0; s < 3; s++) {
        print_shard("read_only", s);
        assert_int_equal(cmdstat(primary[s], "get"), 0);
        sets += cmdstat(primary[s], "set");
        double a = (double)cmdstat(rep[s][0], "get"), b = (double)cmdstat(rep[s][1], "get");
        double mean = (a + b) / 2;
        assert_true(mean > 0);
        assert_true(a >= 0.8 * mean && a <= 1.2 * mean);
        assert_true(b >= 0.8 * mean && b <= 1.2 * mean);
        /* READONLY once per replica connection. */
        assert_int_equal(cmdstat(rep[s][0], "readonly"), 1);
        assert_int_equal(cmdstat(rep[s][1], "readonly"), 1);
    }
    assert_int_equal(sets, 300);   /* every write on a primary */
    clusterc_free(c);
}

static void test_route_randomly(void **state)
{
    (void)state;
    reset_stats();
    clusterc_options o;
    clusterc_options_init(&o);
    o.route_randomly = 1;
    clusterc_client *c = it_client(H, &o);
    read_all(c, 2);
    for (int s = 0; s < 3; s++) {
        print_shard("random", s);
        double v[3] = { (double)cmdstat(primary[s], "get"), (double)cmdstat(rep[s][0], "get"),
                        (double)cmdstat(rep[s][1], "get") };
        double mean = (v[0] + v[1] + v[2]) / 3;
        for (int i = 0; i < 3; i++)
            assert_true(v[i] >= 0.4 * mean && v[i] <= 1.6 * mean);
    }
    clusterc_free(c);
}

static pid_t start_proxy(int target, int delay_ms)
{
    char cmd[512], line[64];
    snprintf(cmd, sizeof(cmd), "%s %s/../cluster/delay_proxy.py --listen %d --target %d "
             "--delay-ms %d --max-life 300 >/dev/null 2>&1 & echo $!", PYTHON, TESTS_DIR, PROXY_PORT, target,
             delay_ms);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof(line), p));
    pclose(p);
    pid_t pid = (pid_t)atoi(line);
    /* Wait until it accepts connections. */
    for (int i = 0; i < 100; i++) {
        redisContext *rc = redisConnect("127.0.0.1", PROXY_PORT);
        int ok = rc && !rc->err;
        redisFree(rc);
        if (ok)
            return pid;
        sleep_ms(50);
    }
    fail_msg("delay proxy did not start");
    return -1;
}

static void test_route_by_latency(void **state)
{
    (void)state;
    int slow = rep[0][0];
    pid_t proxy = start_proxy(slow, 10);
    char map[128];
    snprintf(map, sizeof(map), "127.0.0.1:%d=127.0.0.1:%d", slow, PROXY_PORT);
    clusterc_options o;
    clusterc_options_init(&o);
    o.route_by_latency = 1;
    o.node_address_map = map;
    o.latency_probe_ms = 100;
    /* A band of 4 ms, not the default 1 ms: on a shared 2-core machine a
     * busy moment of one redis-server moves its EWMA by a millisecond or
     * more (790 us against 27 us for its peer in one loaded run), while
     * the 10 ms proxy stays far outside the band either way. */
    o.latency_tolerance_us = 4000;
    reset_stats();
    clusterc_client *c = it_client(H, &o);
    read_all(c, 2);
    clusterc_node_info info[16];
    int n = clusterc_node_stats(c, info, 16);
    for (int i = 0; i < n && i < 16; i++)
        fprintf(stderr, "  %-16s %-8s latency %6lld us reads %llu %s\n", info[i].addr,
                info[i].is_primary ? "primary" : "replica", (long long)info[i].latency_us,
                (unsigned long long)info[i].reads, info[i].why);
    print_shard("latency", 0);
    double a = (double)cmdstat(primary[0], "get"), b = (double)cmdstat(rep[0][1], "get");
    double s = (double)cmdstat(slow, "get");
    assert_true(s < 0.02 * (a + b + s));
    /* The two equally close nodes share within +-30%.
     * Under ASan the client runs several times slower and the servers share
     * the two cores with it, so "equally close" stops being true of the
     * measurements (one node measured 0.6 ms against 0.13 ms for its peer
     * in a CI run): there the split is reported, not asserted. */
    double mean = (a + b) / 2;
    int even = a >= 0.7 * mean && a <= 1.3 * mean && b >= 0.7 * mean && b <= 1.3 * mean;
#ifdef CLUSTERC_TEST_SANITIZED
    if (!even)
        fprintf(stderr, "  (sanitizer build: uneven split %g / %g not asserted)\n", a, b);
#else
    assert_true(even);
#endif
    clusterc_free(c);
    kill(proxy, SIGTERM);
}

/* ------------------------------------------------- replica killed mid-run */

typedef struct load {
    clusterc_async *a;
    int sent, ok, failed, inflight, stop, done;
} load;

static void on_read(clusterc_async *a, redisReply *r, void *pd);

static void fire(load *l)
{
    while (!l->stop && l->inflight < 50) {
        int i = l->sent++ % NKEYS;
        if (clusterc_async_command(l->a, on_read, l, "GET rk:%d", i) != 0)
            fail_msg("async GET refused: %s", clusterc_async_errstr(l->a));
        l->inflight++;
    }
}

static void on_read(clusterc_async *a, redisReply *r, void *pd)
{
    load *l = pd;
    l->inflight--;
    if (r && r->type == REDIS_REPLY_STRING) {
        l->ok++;
    } else {
        l->failed++;
        fprintf(stderr, "  read failed: %s\n", r ? r->str : clusterc_async_errstr(a));
    }
    fire(l);
    if (l->stop && l->inflight == 0)
        l->done = 1;
}

static void run_for(struct event_base *base, int ms)
{
    int never = 0;
    it_loop_until(base, &never, ms);
}

static void test_replica_killed(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    o.read_only = 1;
    load l;
    memset(&l, 0, sizeof(l));
    l.a = clusterc_async_connect(base, &o);
    fire(&l);
    run_for(base, 800);
    int victim = rep[1][0];
    assert_int_equal(harness_kill(H, victim, "KILL"), 0);
    run_for(base, 2000);
    l.stop = 1;
    assert_true(it_loop_until(base, &l.done, 10000));
    fprintf(stderr, "  replica %d killed: %d reads ok, %d failed\n", victim, l.ok, l.failed);
    assert_int_equal(l.failed, 0);
    assert_true(l.ok > 1000);
    clusterc_async_free(l.a);
    event_base_free(base);
    assert_int_equal(harness_restart(H, victim), 0);
    assert_int_equal(harness_wait_ok(H, 30), 0);
}

/* ------------------------------------------------------------ lag bound */

static const clusterc_node_info *find(clusterc_node_info *v, int n, int port)
{
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    for (int i = 0; i < n; i++)
        if (strcmp(v[i].addr, addr) == 0)
            return &v[i];
    return NULL;
}

/* Poll (keeping the loop turning with PINGs) until the node's eligibility
 * is `want`; returns the ms it took, or -1. */
static int wait_eligible(clusterc_client *c, int port, int want, int timeout_ms)
{
    int64_t t0 = it_now_ms();
    clusterc_node_info v[16];
    while (it_now_ms() - t0 < timeout_ms) {
        freeReplyObject(clusterc_command(c, "PING"));
        int n = clusterc_node_stats(c, v, 16);
        const clusterc_node_info *x = find(v, n, port);
        if (x && x->eligible == want) {
            fprintf(stderr, "  %d eligible=%d (%s, lag %lld s) after %lld ms\n", port, want,
                    x->why, (long long)x->lag_s, (long long)(it_now_ms() - t0));
            return (int)(it_now_ms() - t0);
        }
        sleep_ms(20);
    }
    return -1;
}

static void test_max_lag(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);
    o.read_only = 1;
    o.command_timeout_ms = 8000;   /* a read caught by the sleep waits it out */
    o.max_lag_ms = 2000;
    o.lag_probe_ms = 200;
    clusterc_client *c = it_client(H, &o);
    int victim = rep[2][0];
    assert_true(wait_eligible(c, victim, 1, 3000) >= 0);
    /* Freeze the replica: it stops acknowledging, its lag grows. */
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "redis-cli -p %d DEBUG SLEEP 5 >/dev/null &", victim);
    assert_int_equal(system(cmd), 0);
    /* lag > 2 s shows at the 3rd second; then within 2 polls (400 ms). */
    int t = wait_eligible(c, victim, 0, 6000);
    assert_true(t >= 0 && t < 3000 + 2 * 200 + 1000);
    /* Reads of its shard go elsewhere now (it is asleep: its counters can
     * only be read once it wakes, and must not have moved). */
    for (int i = 0; i < 300; i++) {
        redisReply *r = clusterc_command(c, "GET rk:%d", i);
        assert_non_null(r);
        freeReplyObject(r);
    }
    clusterc_node_info v[16];
    int n = clusterc_node_stats(c, v, 16);
    const clusterc_node_info *x = find(v, n, victim);
    assert_non_null(x);
    uint64_t reads_before = x->reads;
    /* It wakes at 5 s, acknowledges within a second, and comes back. */
    assert_true(wait_eligible(c, victim, 1, 8000) >= 0);
    n = clusterc_node_stats(c, v, 16);
    x = find(v, n, victim);
    assert_int_equal(x->reads, reads_before);   /* none of the 300 went there */
    clusterc_free(c);
}

/* ------------------------------------------------------ read your writes */

static int ryw_run(int ryw)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.read_only = 1;
    o.read_your_writes = ryw;
    clusterc_client *c = it_client(H, &o);
    int stale = 0;
    for (int i = 0; i < 1000; i++) {
        char want[16];
        snprintf(want, sizeof(want), "v%d", i);
        redisReply *r = clusterc_command(c, "SET ryw:k %s", want);
        it_expect_str(r, "OK");
        freeReplyObject(r);
        r = clusterc_command(c, "GET ryw:k");
        assert_non_null(r);
        if (r->type != REDIS_REPLY_STRING || strcmp(r->str, want) != 0)
            stale++;
        freeReplyObject(r);
    }
    clusterc_free(c);
    return stale;
}

static void test_read_your_writes(void **state)
{
    (void)state;
    int off = ryw_run(0);
    fprintf(stderr, "  read_your_writes off: %d of 1000 reads right after the write were stale\n", off);
    int on = ryw_run(1);
    fprintf(stderr, "  read_your_writes on: %d of 1000 stale\n", on);
    assert_int_equal(on, 0);
}

/* ------------------------------------------------------ per-command route */

static void test_route_override(void **state)
{
    (void)state;
    int slot = clusterc_keyslot("rk:1", 4), s;
    int owner = harness_primary_of_slot(H, slot);
    for (s = 0; s < 3 && primary[s] != owner; s++)
        ;
    assert_true(s < 3);
    /* A primary-only client forcing replica reads (READONLY sent lazily). */
    clusterc_client *c = it_client(H, NULL);
    reset_stats();
    for (int i = 0; i < 100; i++) {
        redisReply *r = clusterc_command_route(c, CLUSTERC_ROUTE_REPLICA, "GET rk:1");
        it_expect_str(r, "v1");
        freeReplyObject(r);
    }
    assert_int_equal(cmdstat(owner, "get"), 0);
    assert_int_equal(cmdstat(rep[s][0], "get") + cmdstat(rep[s][1], "get"), 100);
    clusterc_free(c);
    /* A read_only client forcing fresh reads from the primary. */
    clusterc_options o;
    clusterc_options_init(&o);
    o.read_only = 1;
    c = it_client(H, &o);
    reset_stats();
    for (int i = 0; i < 100; i++) {
        redisReply *r = clusterc_command_route(c, CLUSTERC_ROUTE_PRIMARY, "GET rk:1");
        it_expect_str(r, "v1");
        freeReplyObject(r);
    }
    assert_int_equal(cmdstat(owner, "get"), 100);
    assert_null(clusterc_command_route(c, 8, "GET rk:1"));   /* past CLUSTERC_ROUTE_EACH_NODE */
    assert_int_equal(clusterc_error(c), CLUSTERC_EINVAL);
    clusterc_free(c);
}

/* A read-only command fanned out to all shards (DBSIZE) under a read
 * policy: one eligible node per shard, a replica here, as reads go. */
static void test_fanout_reads_replicas(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);
    o.read_only = 1;
    clusterc_client *c = it_client(H, &o);
    reset_stats();
    for (int i = 0; i < 10; i++) {
        redisReply *r = clusterc_command(c, "DBSIZE");
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        freeReplyObject(r);
    }
    long long on_primaries = 0, on_replicas = 0;
    for (int i = 0; i < harness_count(H); i++) {
        long long n = cmdstat(harness_port(H, i), "dbsize");
        if (strcmp(harness_role(H, i), "master") == 0)
            on_primaries += n;
        else
            on_replicas += n;
    }
    assert_int_equal(on_primaries, 0);
    assert_int_equal(on_replicas, 30);   /* 3 shards x 10 */
    clusterc_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_only),
        cmocka_unit_test(test_route_randomly),
        cmocka_unit_test(test_route_by_latency),
        cmocka_unit_test(test_route_override),
        cmocka_unit_test(test_fanout_reads_replicas),
        cmocka_unit_test(test_read_your_writes),
        cmocka_unit_test(test_replica_killed),
        cmocka_unit_test(test_max_lag),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
