/* it_fake.c -- what a real server will not do on demand, played by the
 * scripted fake server (tests/fake/fake_server.py): malformed topology
 * replies, a connection dropped mid-reply, garbage bytes, a MOVED loop,
 * a replica that has not yet heard of its primary's newest slot.
 * Ports 20500-20509. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <clusterc/admin.h>
#include "itest.h"

#define PA 20501
#define PB 20502

/* A CLUSTER SHARDS reply: one shard, every slot, on 127.0.0.1:port. */
static void shards_for(int port, char *out, size_t cap)
{
    snprintf(out, cap,
             "*1\\r\\n*4\\r\\n$5\\r\\nslots\\r\\n*2\\r\\n:0\\r\\n:16383\\r\\n"
             "$5\\r\\nnodes\\r\\n*1\\r\\n*14\\r\\n"
             "$2\\r\\nid\\r\\n$40\\r\\n%040d\\r\\n$4\\r\\nport\\r\\n:%d\\r\\n"
             "$2\\r\\nip\\r\\n$9\\r\\n127.0.0.1\\r\\n$8\\r\\nendpoint\\r\\n$9\\r\\n127.0.0.1\\r\\n"
             "$4\\r\\nrole\\r\\n$6\\r\\nmaster\\r\\n$18\\r\\nreplication-offset\\r\\n:0\\r\\n"
             "$6\\r\\nhealth\\r\\n$6\\r\\nonline\\r\\n", port, port);
}

/* One shard's CLUSTER SHARDS entry: slots lo..hi on 127.0.0.1:port. */
static int shard_entry(char *out, size_t cap, int lo, int hi, int port)
{
    return snprintf(out, cap,
             "*4\\r\\n$5\\r\\nslots\\r\\n*2\\r\\n:%d\\r\\n:%d\\r\\n"
             "$5\\r\\nnodes\\r\\n*1\\r\\n*14\\r\\n"
             "$2\\r\\nid\\r\\n$40\\r\\n%040d\\r\\n$4\\r\\nport\\r\\n:%d\\r\\n"
             "$2\\r\\nip\\r\\n$9\\r\\n127.0.0.1\\r\\n$8\\r\\nendpoint\\r\\n$9\\r\\n127.0.0.1\\r\\n"
             "$4\\r\\nrole\\r\\n$6\\r\\nmaster\\r\\n$18\\r\\nreplication-offset\\r\\n:0\\r\\n"
             "$6\\r\\nhealth\\r\\n$6\\r\\nonline\\r\\n", lo, hi, port, port);
}

typedef struct fake { FILE *p; char files[2][64]; } fake;

/* Start fake nodes on PA (script a) and, when b != NULL, PB (script b). */
static fake *fake_start_t(const char *a, const char *b, int timeout_s)
{
    fake *f = calloc(1, sizeof(*f));
    char cmd[512], line[128];
    const char *scripts[2] = { a, b };
    int n = b ? 2 : 1;
    for (int i = 0; i < n; i++) {
        snprintf(f->files[i], sizeof(f->files[i]), "/tmp/clusterc-fake-XXXXXX");
        int fd = mkstemp(f->files[i]);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, scripts[i], strlen(scripts[i])), (ssize_t)strlen(scripts[i]));
        close(fd);
    }
    snprintf(cmd, sizeof(cmd), "%s %s --timeout %d --listen %d:%s%s%s%s", PYTHON, FAKE_SERVER, timeout_s,
             PA, f->files[0], b ? " --listen " : "", b ? "20502:" : "", b ? f->files[1] : "");
    f->p = popen(cmd, "r");
    assert_non_null(f->p);
    assert_non_null(fgets(line, sizeof(line), f->p));
    assert_non_null(strstr(line, "READY"));
    return f;
}

static fake *fake_start(const char *a, const char *b)
{
    return fake_start_t(a, b, 20);
}

/* The fake's exit code: 0 when every script completed and no unexpected
 * command arrived. */
static int fake_stop(fake *f)
{
    /* The scripts end by themselves (or at --timeout); LOOP scripts are
     * ended by closing their stdout reader after the run. */
    int st = pclose(f->p);
    unlink(f->files[0]);
    if (f->files[1][0])
        unlink(f->files[1]);
    free(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static clusterc_client *client(const char *seeds, int max_redirects)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = seeds;
    o.max_redirects = max_redirects;
    o.command_timeout_ms = 1500;
    return clusterc_connect(&o);
}

static char script[8192];
static char good[2048];

static void test_malformed_shards_at_bootstrap(void **state)
{
    (void)state;
    snprintf(script, sizeof(script),
             "EXPECT CLUSTER SHARDS\nSEND *1\\r\\n:42\\r\\n\n");
    fake *f = fake_start(script, NULL);
    clusterc_client *c = client("127.0.0.1:20501", 3);
    assert_int_equal(clusterc_error(c), CLUSTERC_EPROTOCOL);
    fprintf(stderr, "  error: %s\n", clusterc_errstr(c));
    assert_non_null(strstr(clusterc_errstr(c), "127.0.0.1:20501"));
    assert_non_null(strstr(clusterc_errstr(c), "malformed"));
    clusterc_free(c);
    fake_stop(f);
}

static void test_malformed_map_keeps_old_one(void **state)
{
    (void)state;
    shards_for(PA, good, sizeof(good));
    snprintf(script, sizeof(script),
             "ALWAYS COMMAND => -ERR no COMMAND here\\r\\n\n"
             "EXPECT CLUSTER SHARDS\nSEND %s\n"
             "EXPECT GET foo\nSEND $3\\r\\nbar\\r\\n\n"
             "EXPECT CLUSTER SHARDS\nSEND *1\\r\\n*2\\r\\n$5\\r\\nslots\\r\\n*2\\r\\n:0\\r\\n:99999\\r\\n\n"
             "EXPECT GET foo\nSEND $3\\r\\nbaz\\r\\n\n", good);
    fake *f = fake_start(script, NULL);
    clusterc_client *c = client("127.0.0.1:20501", 3);
    assert_int_equal(clusterc_error(c), 0);
    redisReply *r = clusterc_command(c, "GET foo");
    it_expect_str(r, "bar");
    freeReplyObject(r);
    assert_int_equal(clusterc_refresh(c), -1);
    fprintf(stderr, "  error: %s\n", clusterc_errstr(c));
    assert_non_null(strstr(clusterc_errstr(c), "malformed"));
    r = clusterc_command(c, "GET foo");   /* the old map still routes */
    it_expect_str(r, "baz");
    freeReplyObject(r);
    clusterc_free(c);
    fake_stop(f);
}

static void test_dropped_mid_reply(void **state)
{
    (void)state;
    shards_for(PA, good, sizeof(good));
    snprintf(script, sizeof(script),
             "ALWAYS COMMAND => -ERR no COMMAND here\\r\\n\n"
             "ALWAYS CLUSTER SHARDS => %s\n"
             "EXPECT GET foo\nSEND $10\\r\\nabc\nCLOSE\n"
             "ACCEPT\nEXPECT GET foo\nSEND $3\\r\\nbar\\r\\n\n"
             "EXPECT SET foo x\nSEND +O\nCLOSE\n", good);
    fake *f = fake_start(script, NULL);
    clusterc_client *c = client("127.0.0.1:20501", 3);
    assert_int_equal(clusterc_error(c), 0);
    /* A read is safe to repeat: it is sent again after reconnecting. */
    redisReply *r = clusterc_command(c, "GET foo");
    it_expect_str(r, "bar");
    freeReplyObject(r);
    /* A write may have run: it fails and says so. */
    r = clusterc_command(c, "SET foo x");
    assert_null(r);
    fprintf(stderr, "  error: %s\n", clusterc_errstr(c));
    assert_int_equal(clusterc_error(c), CLUSTERC_EUNCERTAIN);
    assert_non_null(strstr(clusterc_errstr(c), "may have run"));
    clusterc_free(c);
    fake_stop(f);
}

static void test_garbage_bytes(void **state)
{
    (void)state;
    shards_for(PA, good, sizeof(good));
    snprintf(script, sizeof(script),
             "ALWAYS COMMAND => -ERR no COMMAND here\\r\\n\n"
             "ALWAYS CLUSTER SHARDS => %s\n"
             "EXPECT SET k v\nSENDRAW 00ff13370d0a\n"
             "ACCEPT\nEXPECT GET k\nSEND $1\\r\\nv\\r\\n\n", good);
    fake *f = fake_start(script, NULL);
    clusterc_client *c = client("127.0.0.1:20501", 3);
    assert_int_equal(clusterc_error(c), 0);
    redisReply *r = clusterc_command(c, "SET k v");
    assert_null(r);
    fprintf(stderr, "  error: %s\n", clusterc_errstr(c));
    assert_non_null(strstr(clusterc_errstr(c), "protocol error"));
    assert_non_null(strstr(clusterc_errstr(c), "127.0.0.1:20501"));
    r = clusterc_command(c, "GET k");   /* a fresh connection works again */
    it_expect_str(r, "v");
    freeReplyObject(r);
    clusterc_free(c);
    fake_stop(f);
}

/* A node that left the cluster (CLUSTER RESET) answers with a map of
 * itself and no slot: the next node is asked and its map used. */
static void test_slotless_map_skipped(void **state)
{
    (void)state;
    char other[2048];
    static char sa[8192], sb[8192];
    shards_for(PB, other, sizeof(other));
    snprintf(sa, sizeof(sa), "ALWAYS COMMAND => -ERR no\\r\\n\n"
             "EXPECT CLUSTER SHARDS\nSEND *1\\r\\n*4\\r\\n$5\\r\\nslots\\r\\n*0\\r\\n"
             "$5\\r\\nnodes\\r\\n*1\\r\\n*4\\r\\n$4\\r\\nport\\r\\n:20501\\r\\n"
             "$4\\r\\nrole\\r\\n$6\\r\\nmaster\\r\\n\n");
    snprintf(sb, sizeof(sb), "ALWAYS COMMAND => -ERR no\\r\\n\nALWAYS CLUSTER SHARDS => %s\n"
             "EXPECT GET foo\nSEND $3\\r\\nbar\\r\\n\n", other);
    fake *f = fake_start_t(sa, sb, 10);
    clusterc_client *c = client("127.0.0.1:20501,127.0.0.1:20502", 3);
    assert_int_equal(clusterc_error(c), 0);
    redisReply *r = clusterc_command(c, "GET foo");
    it_expect_str(r, "bar");
    freeReplyObject(r);
    clusterc_free(c);
    fake_stop(f);
}

static void test_moved_loop(void **state)
{
    (void)state;
    char other[2048];
    shards_for(PA, good, sizeof(good));
    shards_for(PB, other, sizeof(other));
    static char sa[8192], sb[8192];
    snprintf(sa, sizeof(sa), "ALWAYS COMMAND => -ERR no\\r\\n\nALWAYS CLUSTER SHARDS => %s\n"
             "EXPECT GET *\nSEND -MOVED 12182 127.0.0.1:20502\\r\\n\nLOOP\n", good);
    snprintf(sb, sizeof(sb), "ALWAYS COMMAND => -ERR no\\r\\n\nALWAYS CLUSTER SHARDS => %s\n"
             "EXPECT GET *\nSEND -MOVED 12182 127.0.0.1:20501\\r\\n\nLOOP\n", other);
    fake *f = fake_start_t(sa, sb, 4);   /* LOOP scripts end at the timeout */
    clusterc_client *c = client("127.0.0.1:20501", 3);
    assert_int_equal(clusterc_error(c), 0);
    redisReply *r = clusterc_command(c, "GET foo");
    assert_null(r);
    fprintf(stderr, "  error: %s\n", clusterc_errstr(c));
    assert_int_equal(clusterc_error(c), CLUSTERC_EREDIRECTS);
    assert_non_null(strstr(clusterc_errstr(c), "too many redirects (3)"));
    assert_non_null(strstr(clusterc_errstr(c), "MOVED 12182"));
    clusterc_free(c);
    /* max_redirects = -1: not followed; the caller gets the MOVED reply. */
    c = client("127.0.0.1:20501", -1);
    r = clusterc_command(c, "GET foo");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "MOVED 12182 127.0.0.1:20502"));
    freeReplyObject(r);
    clusterc_free(c);
    fake_stop(f);
}

/* One node of a CLUSTER SHARDS entry on 127.0.0.1:port. */
static int shard_node(char *out, size_t cap, int port, const char *role)
{
    return snprintf(out, cap,
             "*14\\r\\n$2\\r\\nid\\r\\n$40\\r\\n%040d\\r\\n$4\\r\\nport\\r\\n:%d\\r\\n"
             "$2\\r\\nip\\r\\n$9\\r\\n127.0.0.1\\r\\n$8\\r\\nendpoint\\r\\n$9\\r\\n127.0.0.1\\r\\n"
             "$4\\r\\nrole\\r\\n$%zu\\r\\n%s\\r\\n$18\\r\\nreplication-offset\\r\\n:0\\r\\n"
             "$6\\r\\nhealth\\r\\n$6\\r\\nonline\\r\\n", port, port, strlen(role), role);
}

/* One shard, every slot: primary on port p, its replica on port r. */
static void pair_map(char *out, size_t cap, int p, int r)
{
    int n = snprintf(out, cap, "*1\\r\\n*4\\r\\n$5\\r\\nslots\\r\\n*2\\r\\n:0\\r\\n:16383\\r\\n"
                     "$5\\r\\nnodes\\r\\n*2\\r\\n");
    n += shard_node(out + n, cap - (size_t)n, p, "master");
    shard_node(out + n, cap - (size_t)n, r, "replica");
}

/* A failover as one client sees it (the chaos suite's lost reads): A was
 * the primary and B its replica; B took over, and A tells the client so
 * with a MOVED, but A's CLUSTER SHARDS still gives the older view (A not
 * yet told, or a third node answering). A map load that asks A first must
 * not put the shard back on A: it asks B, whom our map calls the primary,
 * before believing it. Loads pick nodes in random order, so the client
 * runs 16 times: every GET must reach B, and some loads must have been
 * deferred (each asks A first with odds of about 1/2). */
static void test_older_map_deferred(void **state)
{
    (void)state;
    static char old_view[4096], new_view[4096], sa[8192], sb[8192];
    pair_map(old_view, sizeof(old_view), PA, PB);
    pair_map(new_view, sizeof(new_view), PB, PA);
    snprintf(sa, sizeof(sa), "ALWAYS COMMAND => -ERR no\\r\\n\nALWAYS CLUSTER SHARDS => %s\n"
             "EXPECT SET foo new\nSEND -MOVED 12182 127.0.0.1:20502\\r\\n\nLOOP\n", old_view);
    snprintf(sb, sizeof(sb), "ALWAYS COMMAND => -ERR no\\r\\n\nALWAYS CLUSTER SHARDS => %s\n"
             "EXPECT SET foo new\nSEND +OK\\r\\n\nEXPECT GET foo\nSEND $3\\r\\nnew\\r\\n\nLOOP\n",
             new_view);
    fake *f = fake_start_t(sa, sb, 6);   /* LOOP scripts end at the timeout */
    uint64_t deferred = 0;
    for (int i = 0; i < 16; i++) {
        clusterc_client *c = client("127.0.0.1:20501", 3);
        assert_int_equal(clusterc_error(c), 0);
        redisReply *r = clusterc_command(c, "SET foo new");   /* MOVED by A, done by B */
        assert_non_null(r);
        assert_int_equal(r->type, REDIS_REPLY_STATUS);
        freeReplyObject(r);
        assert_int_equal(clusterc_refresh(c), 0);
        r = clusterc_command(c, "GET foo");
        it_expect_str(r, "new");
        freeReplyObject(r);
        clusterc_stats st;
        clusterc_get_stats(c, &st);
        deferred += st.maps_deferred;
        clusterc_free(c);
    }
    fprintf(stderr, "  maps deferred in 16 runs: %llu\n", (unsigned long long)deferred);
    assert_true(deferred > 0);
    fake_stop(f);
}

/* A server whose COMMAND gives no tips (Redis 6.2-style, or refused as
 * here): the built-in policy table routes and merges the same way.
 * Node A serves slots 0-8191, node B 8192-16383. */
static void test_fanout_without_tips(void **state)
{
    (void)state;
    static char map[4096], sa[8192], sb[8192];
    int n = snprintf(map, sizeof(map), "*2\\r\\n");
    n += shard_entry(map + n, sizeof(map) - (size_t)n, 0, 8191, PA);
    shard_entry(map + n, sizeof(map) - (size_t)n, 8192, 16383, PB);
    /* "b" (slot 3300) is on A, "a" (slot 15495) on B. */
    snprintf(sa, sizeof(sa), "ALWAYS CLUSTER SHARDS => %s\nALWAYS COMMAND => -ERR no\\r\\n\n"
             "ALWAYS DBSIZE => :3\\r\\n\nALWAYS MGET b => *1\\r\\n$2\\r\\nvb\\r\\n\nSLEEP 1500\n", map);
    snprintf(sb, sizeof(sb), "ALWAYS CLUSTER SHARDS => %s\nALWAYS COMMAND => -ERR no\\r\\n\n"
             "ALWAYS DBSIZE => :4\\r\\n\nALWAYS MGET a => *1\\r\\n$2\\r\\nva\\r\\n\nSLEEP 1500\n", map);
    fake *f = fake_start(sa, sb);
    clusterc_client *c = client("127.0.0.1:20501", 3);
    assert_int_equal(clusterc_error(c), 0);
    redisReply *r = clusterc_command(c, "DBSIZE");   /* all_shards, agg_sum */
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 7);
    freeReplyObject(r);
    r = clusterc_command(c, "MGET a b");   /* multi_shard: split, then in key order */
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    assert_string_equal(r->element[0]->str, "va");
    assert_string_equal(r->element[1]->str, "vb");
    freeReplyObject(r);
    clusterc_free(c);
    fake_stop(f);
}

/* ------------------------------------------- a failover that must wait */

/* A CLUSTER NODES reply as a script writes it: PA a primary serving
 * 0..p_hi, PB its replica; the "myself" line is PB's when from_replica. */
static void nodes_reply(char *out, size_t cap, int from_replica, int p_hi)
{
    char text[512];
    int len = snprintf(text, sizeof(text),
                       "%040d 127.0.0.1:%d@%d %smaster - 0 0 1 connected 0-%d\\n"
                       "%040d 127.0.0.1:%d@%d %sslave %040d 0 0 1 connected\\n",
                       PA, PA, PA + 10000, from_replica ? "" : "myself,", p_hi, PB, PB,
                       PB + 10000, from_replica ? "myself," : "", PA);
    /* Each "\n" above is two characters in the script, one on the wire. */
    snprintf(out, cap, "$%d\\r\\n%s\\r\\n", len - 2, text);
}

static const char *primary_script(char *out, size_t cap)
{
    char map[2048], nodes[1024];
    shards_for(PA, map, sizeof(map));
    nodes_reply(nodes, sizeof(nodes), 0, 16383);
    snprintf(out, cap, "ALWAYS COMMAND => -ERR no COMMAND here\\r\\n\n"
             "ALWAYS CLUSTER SHARDS => %s\nALWAYS CLUSTER NODES => %s\n"
             "EXPECT PING\nSEND +PONG\\r\\n\n", map, nodes);
    return out;
}

static int waited;
static void on_wait(const clusterc_admin_progress *p, void *arg)
{
    (void)arg;
    waited += strcmp(p->step, "failover") == 0 && strstr(p->state, "every slot") != NULL;
}

static clusterc_client *failover_client(clusterc_admin_opts *o, int timeout_ms)
{
    clusterc_admin_opts_init(o);
    o->timeout_ms = timeout_ms;
    o->poll_ms = 50;
    o->progress = on_wait;
    waited = 0;
    clusterc_client *c = client("127.0.0.1:20501", 3);
    assert_int_equal(clusterc_error(c), 0);
    return c;
}

/* The replica hears of slot 16383 on the second look: only then is it
 * sent CLUSTER FAILOVER (which this fake refuses, to end there). */
static void test_failover_waits_for_slots(void **state)
{
    (void)state;
    static char sa[8192], sb[4096];
    char stale[1024], fresh[1024];
    nodes_reply(stale, sizeof(stale), 1, 16382);
    nodes_reply(fresh, sizeof(fresh), 1, 16383);
    snprintf(sb, sizeof(sb), "EXPECT CLUSTER NODES\nSEND %s\nEXPECT CLUSTER NODES\nSEND %s\n"
             "EXPECT CLUSTER FAILOVER\nSEND -ERR fake refuses\\r\\n\n", stale, fresh);
    fake *f = fake_start(primary_script(sa, sizeof(sa)), sb);
    clusterc_admin_opts o;
    clusterc_client *c = failover_client(&o, 5000);
    assert_int_equal(clusterc_admin_failover(c, "127.0.0.1:20502", CLUSTERC_FAILOVER_DEFAULT, &o), -1);
    fprintf(stderr, "  error: %s\n", clusterc_errstr(c));
    assert_non_null(strstr(clusterc_errstr(c), "fake refuses"));
    assert_int_equal(waited, 1);
    freeReplyObject(clusterc_command_to_node(c, "127.0.0.1:20501", "PING"));
    clusterc_free(c);
    assert_int_equal(fake_stop(f), 0);
}

/* It never hears of it: no CLUSTER FAILOVER is sent (the fake would count
 * it unexpected), and the error names the slot. */
static void test_failover_refused_while_slot_unknown(void **state)
{
    (void)state;
    static char sa[8192], sb[4096];
    char stale[1024];
    nodes_reply(stale, sizeof(stale), 1, 16382);
    snprintf(sb, sizeof(sb), "ALWAYS CLUSTER NODES => %s\nEXPECT PING\nSEND +PONG\\r\\n\n", stale);
    fake *f = fake_start(primary_script(sa, sizeof(sa)), sb);
    clusterc_admin_opts o;
    clusterc_client *c = failover_client(&o, 600);
    assert_int_equal(clusterc_admin_failover(c, "127.0.0.1:20502", CLUSTERC_FAILOVER_DEFAULT, &o), -1);
    fprintf(stderr, "  error: %s\n", clusterc_errstr(c));
    assert_int_equal(clusterc_error(c), CLUSTERC_ETIMEOUT);
    assert_non_null(strstr(clusterc_errstr(c), "127.0.0.1:20502"));
    assert_non_null(strstr(clusterc_errstr(c), "slot 16383"));
    assert_int_equal(waited, 1);
    freeReplyObject(clusterc_command_to_node(c, "127.0.0.1:20501", "PING"));
    freeReplyObject(clusterc_command_to_node(c, "127.0.0.1:20502", "PING"));
    clusterc_free(c);
    assert_int_equal(fake_stop(f), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_shards_at_bootstrap),
        cmocka_unit_test(test_malformed_map_keeps_old_one),
        cmocka_unit_test(test_dropped_mid_reply),
        cmocka_unit_test(test_garbage_bytes),
        cmocka_unit_test(test_slotless_map_skipped),
        cmocka_unit_test(test_moved_loop),
        cmocka_unit_test(test_fanout_without_tips),
        cmocka_unit_test(test_older_map_deferred),
        cmocka_unit_test(test_failover_waits_for_slots),
        cmocka_unit_test(test_failover_refused_while_slot_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
