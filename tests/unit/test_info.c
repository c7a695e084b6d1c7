/* test_info.c -- INFO replication, CLUSTER NODES and CLUSTER INFO parsers
 * over canned texts shaped like what Redis 7 and Valkey 8 print.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "proto/info.h"

static void expect_in(const char *err, const char *words)
{
    if (strstr(err, words) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err, words);
}

/* "\r\n" -> "\n" in a copy (malloc'ed), to run each text both ways. */
static char *lf_only(const char *s)
{
    char *d = malloc(strlen(s) + 1), *o = d;
    assert_non_null(d);
    for (; *s; s++)
        if (*s != '\r')
            *o++ = *s;
    *o = '\0';
    return d;
}

/* ------------------------------------------------------- INFO replication */

static const char redis7_primary[] =
    "# Replication\r\n"
    "role:master\r\n"
    "connected_slaves:2\r\n"
    "slave0:ip=10.0.1.12,port=6379,state=online,offset=1834592,lag=0\r\n"
    "slave1:ip=10.0.1.13,port=6380,state=online,offset=1834400,lag=1\r\n"
    "master_failover_state:no-failover\r\n"
    "master_replid:8f3c0a7e2d9b4c1f6a5e3d2c1b0a9f8e7d6c5b4a\r\n"
    "master_replid2:0000000000000000000000000000000000000000\r\n"
    "master_repl_offset:1834592\r\n"
    "second_repl_offset:-1\r\n"
    "repl_backlog_active:1\r\n"
    "repl_backlog_size:1048576\r\n"
    "repl_backlog_first_byte_offset:786017\r\n"
    "repl_backlog_histlen:1048576\r\n";

static void check_redis7_primary(const char *text)
{
    clusterc__info_repl r;
    char err[256] = "x";
    assert_int_equal(clusterc__info_repl_parse(text, strlen(text), &r, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_int_equal(r.is_primary, 1);
    assert_int_equal(r.connected_replicas, 2);
    assert_true(r.master_repl_offset == 1834592);
    assert_string_equal(r.master_replid, "8f3c0a7e2d9b4c1f6a5e3d2c1b0a9f8e7d6c5b4a");
    assert_int_equal(r.nreplicas, 2);
    assert_string_equal(r.replicas[0].ip, "10.0.1.12");
    assert_int_equal(r.replicas[0].port, 6379);
    assert_string_equal(r.replicas[0].state, "online");
    assert_true(r.replicas[0].offset == 1834592);
    assert_true(r.replicas[0].lag == 0);
    assert_string_equal(r.replicas[1].ip, "10.0.1.13");
    assert_int_equal(r.replicas[1].port, 6380);
    assert_true(r.replicas[1].offset == 1834400);
    assert_true(r.replicas[1].lag == 1);
    /* Replica-side fields are absent on a primary. */
    assert_string_equal(r.master_host, "");
    assert_int_equal(r.master_port, -1);
    assert_int_equal(r.master_link_up, -1);
    assert_true(r.slave_repl_offset == -1);
    assert_true(r.master_link_down_since_seconds == -1);
    assert_true(r.master_sync_perc < 0);
    clusterc__info_repl_free(&r);
    assert_null(r.replicas);
    clusterc__info_repl_free(&r); /* twice is harmless */
}

static void test_repl_redis7_primary(void **state)
{
    (void)state;
    check_redis7_primary(redis7_primary);
    char *lf = lf_only(redis7_primary);
    check_redis7_primary(lf);
    free(lf);
    /* Without the header, and without the last line's "\r\n". */
    const char *noheader = strchr(redis7_primary, '\n') + 1;
    size_t len = strlen(noheader) - 2;
    clusterc__info_repl r;
    char err[128];
    assert_int_equal(clusterc__info_repl_parse(noheader, len, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nreplicas, 2);
    clusterc__info_repl_free(&r);
    clusterc__info_repl_free(NULL);
}

static const char redis7_syncing[] =
    "# Replication\r\n"
    "role:slave\r\n"
    "master_host:10.0.1.11\r\n"
    "master_port:6379\r\n"
    "master_link_status:down\r\n"
    "master_last_io_seconds_ago:-1\r\n"
    "master_sync_in_progress:1\r\n"
    "slave_read_repl_offset:1\r\n"
    "slave_repl_offset:1\r\n"
    "master_sync_total_bytes:52428800\r\n"
    "master_sync_read_bytes:13107200\r\n"
    "master_sync_left_bytes:39321600\r\n"
    "master_sync_perc:25.00\r\n"
    "master_sync_last_io_seconds_ago:0\r\n"
    "master_link_down_since_seconds:-1\r\n"
    "slave_priority:100\r\n"
    "slave_read_only:1\r\n"
    "replica_announced:1\r\n"
    "connected_slaves:0\r\n"
    "master_failover_state:no-failover\r\n"
    "master_replid:2c5f1e0a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e\r\n"
    "master_replid2:0000000000000000000000000000000000000000\r\n"
    "master_repl_offset:0\r\n"
    "second_repl_offset:-1\r\n"
    "repl_backlog_active:0\r\n"
    "repl_backlog_size:1048576\r\n"
    "repl_backlog_first_byte_offset:0\r\n"
    "repl_backlog_histlen:0\r\n";

static void test_repl_replica_full_sync(void **state)
{
    (void)state;
    clusterc__info_repl r;
    char err[256];
    assert_int_equal(clusterc__info_repl_parse(redis7_syncing, strlen(redis7_syncing), &r,
                                               err, sizeof(err)), 0);
    assert_int_equal(r.is_primary, 0);
    assert_string_equal(r.master_host, "10.0.1.11");
    assert_int_equal(r.master_port, 6379);
    assert_int_equal(r.master_link_up, 0);
    assert_true(r.master_last_io_seconds_ago == -1);
    assert_int_equal(r.master_sync_in_progress, 1);
    assert_true(r.slave_read_repl_offset == 1);
    assert_true(r.slave_repl_offset == 1);
    assert_true(r.master_sync_total_bytes == 52428800);
    assert_true(r.master_sync_read_bytes == 13107200);
    assert_true(r.master_sync_left_bytes == 39321600);
    assert_true(r.master_sync_perc > 24.999 && r.master_sync_perc < 25.001);
    assert_true(r.master_sync_last_io_seconds_ago == 0);
    assert_true(r.master_link_down_since_seconds == -1);
    assert_true(r.slave_priority == 100);
    assert_int_equal(r.slave_read_only, 1);
    assert_int_equal(r.connected_replicas, 0);
    assert_int_equal(r.nreplicas, 0);
    assert_null(r.replicas);
    assert_true(r.master_repl_offset == 0);
    clusterc__info_repl_free(&r);
}

static const char redis7_link_down[] =
    "# Replication\r\n"
    "role:slave\r\n"
    "master_host:redis-0.redis.svc.cluster.local\r\n"
    "master_port:6379\r\n"
    "master_link_status:down\r\n"
    "master_last_io_seconds_ago:-1\r\n"
    "master_sync_in_progress:0\r\n"
    "slave_read_repl_offset:1834592\r\n"
    "slave_repl_offset:1834592\r\n"
    "master_link_down_since_seconds:47\r\n"
    "slave_priority:100\r\n"
    "slave_read_only:1\r\n"
    "replica_announced:1\r\n"
    "connected_slaves:0\r\n"
    "master_failover_state:no-failover\r\n"
    "master_replid:8f3c0a7e2d9b4c1f6a5e3d2c1b0a9f8e7d6c5b4a\r\n"
    "master_replid2:0000000000000000000000000000000000000000\r\n"
    "master_repl_offset:1834592\r\n"
    "second_repl_offset:-1\r\n"
    "repl_backlog_active:1\r\n"
    "repl_backlog_size:1048576\r\n"
    "repl_backlog_first_byte_offset:786017\r\n"
    "repl_backlog_histlen:1048576\r\n";

static void test_repl_replica_link_down(void **state)
{
    (void)state;
    clusterc__info_repl r;
    char err[256];
    char *lf = lf_only(redis7_link_down);
    assert_int_equal(clusterc__info_repl_parse(lf, strlen(lf), &r, err, sizeof(err)), 0);
    free(lf);
    assert_int_equal(r.is_primary, 0);
    assert_string_equal(r.master_host, "redis-0.redis.svc.cluster.local");
    assert_int_equal(r.master_link_up, 0);
    assert_true(r.master_link_down_since_seconds == 47);
    assert_int_equal(r.master_sync_in_progress, 0);
    assert_true(r.master_sync_total_bytes == -1); /* no sync: absent */
    assert_true(r.master_sync_perc < 0);
    assert_true(r.slave_repl_offset == 1834592);
    assert_true(r.master_repl_offset == 1834592);
    clusterc__info_repl_free(&r);
}

/* A full INFO from Valkey 8: other sections are skipped, the replica line
 * has "type=", and an IPv6 replica address holds colons. */
static const char valkey8_full[] =
    "# Server\r\n"
    "redis_version:7.2.4\r\n"
    "server_name:valkey\r\n"
    "valkey_version:8.0.1\r\n"
    "role_in_another_section_is_ignored:slave\r\n"
    "\r\n"
    "# Clients\r\n"
    "connected_clients:3\r\n"
    "\r\n"
    "# Replication\r\n"
    "role:master\r\n"
    "connected_slaves:2\r\n"
    "slave0:ip=fd00::12,port=6379,state=online,offset=99812,lag=0,type=replica\r\n"
    "slave1:ip=10.0.2.7,port=6379,state=wait_bgsave,offset=0,lag=0,type=replica\r\n"
    "replicas_waiting_psync:0\r\n"
    "master_failover_state:no-failover\r\n"
    "master_replid:97096db9bcf142ac3672a8889244121130c6a3a9\r\n"
    "master_replid2:0000000000000000000000000000000000000000\r\n"
    "master_repl_offset:99826\r\n"
    "second_repl_offset:-1\r\n"
    "repl_backlog_active:1\r\n"
    "repl_backlog_size:10485760\r\n"
    "repl_backlog_first_byte_offset:1\r\n"
    "repl_backlog_histlen:99826\r\n"
    "\r\n"
    "# CPU\r\n"
    "used_cpu_sys:0.043487\r\n"
    "master_repl_offset:not-in-this-section\r\n"
    "\r\n"
    "# Keyspace\r\n"
    "db0:keys=12,expires=0,avg_ttl=0\r\n";

static void test_repl_valkey8(void **state)
{
    (void)state;
    clusterc__info_repl r;
    char err[256];
    assert_int_equal(clusterc__info_repl_parse(valkey8_full, strlen(valkey8_full), &r,
                                               err, sizeof(err)), 0);
    assert_int_equal(r.is_primary, 1);
    assert_int_equal(r.connected_replicas, 2);
    assert_int_equal(r.nreplicas, 2);
    assert_string_equal(r.replicas[0].ip, "fd00::12");
    assert_int_equal(r.replicas[0].port, 6379);
    assert_true(r.replicas[0].offset == 99812);
    assert_string_equal(r.replicas[1].state, "wait_bgsave");
    assert_true(r.replicas[1].offset == 0);
    assert_true(r.master_repl_offset == 99826);
    clusterc__info_repl_free(&r);

    /* Valkey 8 replica side, extra fields ignored; "\n" endings. */
    static const char rep[] =
        "# Replication\n"
        "role:slave\n"
        "master_host:fd00::11\n"
        "master_port:6379\n"
        "master_link_status:up\n"
        "master_last_io_seconds_ago:1\n"
        "master_sync_in_progress:0\n"
        "slave_read_repl_offset:99826\n"
        "slave_repl_offset:99826\n"
        "replicas_repl_buffer_size:0\n"
        "slave_priority:100\n"
        "slave_read_only:1\n"
        "replica_announced:1\n"
        "connected_slaves:0\n"
        "replicas_waiting_psync:0\n"
        "master_repl_offset:99826\n";
    assert_int_equal(clusterc__info_repl_parse(rep, sizeof(rep) - 1, &r, err, sizeof(err)), 0);
    assert_int_equal(r.is_primary, 0);
    assert_string_equal(r.master_host, "fd00::11");
    assert_int_equal(r.master_link_up, 1);
    assert_true(r.master_last_io_seconds_ago == 1);
    assert_true(r.master_link_down_since_seconds == -1);
    clusterc__info_repl_free(&r);
}

/* Old replica lines ("repl_offset=", no lag) and unknown keys. */
static void test_repl_replica_line_variants(void **state)
{
    (void)state;
    static const char t[] =
        "role:master\r\n"
        "slave0:ip=10.0.0.2,port=7001,state=send_bulk,repl_offset=5\r\n"
        "slave12:port=7002,ip=10.0.0.3,lag=4,offset=9,state=online,extra=x=y\r\n";
    clusterc__info_repl r;
    char err[256];
    assert_int_equal(clusterc__info_repl_parse(t, sizeof(t) - 1, &r, err, sizeof(err)), 0);
    assert_int_equal(r.nreplicas, 2);
    assert_true(r.replicas[0].offset == 5);
    assert_true(r.replicas[0].lag == -1);
    assert_string_equal(r.replicas[1].ip, "10.0.0.3");
    assert_true(r.replicas[1].lag == 4);
    assert_int_equal(r.connected_replicas, 0); /* absent: 0 */
    clusterc__info_repl_free(&r);
}

/* Rejected with an error naming the line and the field; out stays safe
 * to free (and valgrind checks nothing parsed before the error leaks). */
static void repl_rejects(const char *text, size_t len, const char *w1, const char *w2)
{
    clusterc__info_repl r;
    char err[256] = "";
    if (clusterc__info_repl_parse(text, len, &r, err, sizeof(err)) != -1)
        fail_msg("accepted: \"%.*s\"", (int)len, text);
    expect_in(err, "INFO replication");
    expect_in(err, w1);
    if (w2 != NULL)
        expect_in(err, w2);
    assert_null(r.replicas);
    assert_int_equal(r.nreplicas, 0);
    clusterc__info_repl_free(&r);
}
#define REPL_REJECTS(t, w1, w2) repl_rejects(t, sizeof(t) - 1, w1, w2)

static void test_repl_malformed(void **state)
{
    (void)state;
    REPL_REJECTS("# Replication\r\nrole:slave\r\nmaster_port:abc\r\n", "line 3",
                 "master_port is not a number");
    REPL_REJECTS("role:slave\nmaster_port:99999999999\n", "line 2", "master_port");
    REPL_REJECTS("role:master\nmaster_repl_offset:99999999999999999999\n", "line 2",
                 "master_repl_offset");
    REPL_REJECTS("role:master\nmaster_repl_offset:12 \n", "line 2", "master_repl_offset");
    REPL_REJECTS("role:master\nmaster_repl_offset:\n", "line 2", "master_repl_offset");
    REPL_REJECTS("role:master\nmaster_repl_offset:+5\n", "line 2", "master_repl_offset");
    REPL_REJECTS("role:slave\nmaster_sync_perc:12,5\n", "line 2", "master_sync_perc");
    REPL_REJECTS("role:slave\nmaster_sync_perc:1.\n", "line 2", "master_sync_perc");
    REPL_REJECTS("role:sentinel\n", "line 1", "role");
    REPL_REJECTS("role:slave\nmaster_link_status:maybe\n", "line 2", "master_link_status");
    REPL_REJECTS("role:master\r\nthis line has no colon\r\n", "line 2", "field:value");
    REPL_REJECTS("role:master\n:value\n", "line 2", "empty field name");
    /* Replica lines: a replica parsed before the bad one must not leak. */
    REPL_REJECTS("role:master\n"
                 "slave0:ip=10.0.0.2,port=6379,state=online,offset=1,lag=0\n"
                 "slave1:ip=10.0.0.3,port=6379,state=online,offset=1,lag=x\n",
                 "line 3", "lag");
    REPL_REJECTS("role:master\nslave0:ip=10.0.0.2,port=6379,state,offset=1\n", "line 2", "'='");
    REPL_REJECTS("role:master\nslave0:ip=10.0.0.2,port=6379,offset=1,lag=0\n", "line 2",
                 "lacks");
    REPL_REJECTS("role:master\nslave0:ip=10.0.0.2,port=65536,state=online,offset=1\n",
                 "line 2", "port");
    REPL_REJECTS("role:master\nslave0:ip=10.0.0.2,port=1,state=online,offset=1x\n",
                 "line 2", "offset");
    REPL_REJECTS("role:master\nslave0:ip=0123456789012345678901234567890123456789"
                 "012345678901234567890123,port=1,state=online,offset=1\n", "line 2", "ip");
    REPL_REJECTS("role:master\nslave0:ip=1.2.3.4,port=1,state=online_and_longer_than_24_bytes,"
                 "offset=1\n", "line 2", "state");
    /* No role line at all (or only in another section). */
    REPL_REJECTS("connected_slaves:0\n", "no role line", NULL);
    REPL_REJECTS("# Server\nrole:master\n# Replication\nconnected_slaves:0\n", "no role", NULL);
    REPL_REJECTS("", "no role line", NULL);
    /* A NUL byte inside a line. */
    REPL_REJECTS("role:master\nmaster_replid:ab\0cd\n", "line 2", "NUL");
    /* A string longer than its buffer. */
    char big[400];
    int n = snprintf(big, sizeof(big), "role:slave\nmaster_host:%0300d\n", 1);
    repl_rejects(big, (size_t)n, "line 2", "master_host is too long");
    /* Huge lines are clipped in the message; tiny buffers are respected. */
    char huge[2000];
    n = snprintf(huge, sizeof(huge), "role:slave\nmaster_port:%1500d\n", 7); /* padded with spaces */
    clusterc__info_repl r;
    char err[300];
    assert_int_equal(clusterc__info_repl_parse(huge, (size_t)n, &r, err, sizeof(err)), -1);
    expect_in(err, "...");
    expect_in(err, "master_port");
    char tiny[8];
    assert_int_equal(clusterc__info_repl_parse(huge, (size_t)n, &r, tiny, sizeof(tiny)), -1);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    assert_int_equal(clusterc__info_repl_parse(huge, (size_t)n, &r, NULL, 0), -1);
}

/* ---------------------------------------------------------- CLUSTER NODES */

#define ID_A "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"
#define ID_B "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1"
#define ID_C "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f"
#define ID_D "07c37dfeb235213a872192d90877d0cd55635b91"
#define ID_E "6ec23923021cf3ffec47632106199cb7f496ce01"
#define ID_F "824fe116063bc5fcf9f4ffd895bc17aee7731ac3"
#define ID_G "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
#define ID_H "0f1e2d3c4b5a69788796a5b4c3d2e1f001234567"

/* As a Redis 7 node prints it while slot 100 migrates to C and slot 5461
 * is being imported from B, with one replica failed, one suspected, a node
 * still in handshake, and one whose address is no longer known. */
static const char redis7_nodes[] =
    ID_A " 10.0.0.1:6379@16379,redis-0.example.com myself,master - 0 1700000000000 1"
    " connected 0-5460 [100->-" ID_C "] [5461-<-" ID_B "]\n"
    ID_B " 10.0.0.2:6379@16379,redis-1.example.com master - 0 1700000001000 2 connected"
    " 5461-10922\n"
    ID_C " 10.0.0.3:6379@16379,redis-2.example.com master - 0 1700000001500 3 connected"
    " 10923-16382 16383\n"
    ID_D " 10.0.0.4:6379@16379,redis-3.example.com slave " ID_A
    " 0 1700000000500 1 connected\n"
    ID_E " 10.0.0.5:6379@16379,redis-4.example.com slave,fail " ID_B
    " 1699999990000 1699999980000 2 disconnected\n"
    ID_F " 10.0.0.6:6379@16379,redis-5.example.com slave,fail? " ID_C
    " 1700000002000 1700000001000 3 connected\n"
    ID_G " 10.0.0.9:6379@16379, handshake - 1700000003000 0 0 disconnected\n"
    ID_H " :0@0 slave,noaddr " ID_B " 1699999000000 1699998000000 2 disconnected\n";

static clusterc__cnode *nodes_ok(const char *text, size_t len, size_t *n)
{
    clusterc__cnode *v = NULL;
    char err[256] = "";
    if (clusterc__cluster_nodes_parse(text, len, &v, n, err, sizeof(err)) != 0)
        fail_msg("rejected: %s", err);
    return v;
}

static void check_redis7_nodes(const clusterc__cnode *v, size_t n)
{
    assert_int_equal(n, 8);
    const clusterc__cnode *a = &v[0];
    assert_string_equal(a->id, ID_A);
    assert_string_equal(a->host, "10.0.0.1");
    assert_int_equal(a->port, 6379);
    assert_int_equal(a->bus_port, 16379);
    assert_string_equal(a->hostname, "redis-0.example.com");
    assert_int_equal(a->flags, CLUSTERC__CNODE_MYSELF | CLUSTERC__CNODE_MASTER);
    assert_string_equal(a->primary_id, "");
    assert_true(a->ping_sent == 0 && a->pong_recv == 1700000000000LL);
    assert_true(a->config_epoch == 1);
    assert_int_equal(a->link_connected, 1);
    assert_int_equal(a->nslots, 1);
    assert_int_equal(a->slots[0].start, 0);
    assert_int_equal(a->slots[0].end, 5460);
    assert_int_equal(a->nmigrating, 1);
    assert_int_equal(a->migrating[0].slot, 100);
    assert_string_equal(a->migrating[0].node, ID_C);
    assert_int_equal(a->nimporting, 1);
    assert_int_equal(a->importing[0].slot, 5461);
    assert_string_equal(a->importing[0].node, ID_B);

    const clusterc__cnode *c = &v[2];
    assert_int_equal(c->nslots, 2);
    assert_int_equal(c->slots[0].start, 10923);
    assert_int_equal(c->slots[0].end, 16382);
    assert_int_equal(c->slots[1].start, 16383);
    assert_int_equal(c->slots[1].end, 16383);
    assert_int_equal(c->nmigrating + c->nimporting, 0);

    assert_int_equal(v[3].flags, CLUSTERC__CNODE_SLAVE);
    assert_string_equal(v[3].primary_id, ID_A);
    assert_int_equal(v[3].nslots, 0);
    assert_null(v[3].slots);

    assert_int_equal(v[4].flags, CLUSTERC__CNODE_SLAVE | CLUSTERC__CNODE_FAIL);
    assert_int_equal(v[4].link_connected, 0);
    assert_true(v[4].ping_sent == 1699999990000LL);
    assert_int_equal(v[5].flags, CLUSTERC__CNODE_SLAVE | CLUSTERC__CNODE_PFAIL);

    const clusterc__cnode *g = &v[6]; /* handshake: nothing known yet */
    assert_int_equal(g->flags, CLUSTERC__CNODE_HANDSHAKE);
    assert_string_equal(g->hostname, ""); /* empty after the comma */
    assert_string_equal(g->primary_id, "");
    assert_true(g->config_epoch == 0 && g->pong_recv == 0);

    const clusterc__cnode *h = &v[7]; /* ":0@0": address unknown */
    assert_int_equal(h->flags, CLUSTERC__CNODE_SLAVE | CLUSTERC__CNODE_NOADDR);
    assert_string_equal(h->host, "");
    assert_int_equal(h->port, 0);
    assert_int_equal(h->bus_port, 0);
    assert_string_equal(h->hostname, "");
    assert_string_equal(h->primary_id, ID_B);
}

static void test_nodes_redis7(void **state)
{
    (void)state;
    size_t n = 0;
    clusterc__cnode *v = nodes_ok(redis7_nodes, strlen(redis7_nodes), &n);
    check_redis7_nodes(v, n);
    clusterc__cluster_nodes_free(v, n);
    /* The same with "\r\n" endings, no final newline, blank lines. */
    char buf[sizeof(redis7_nodes) * 2];
    size_t o = 0;
    for (const char *p = redis7_nodes; *p; p++) {
        if (*p == '\n')
            buf[o++] = '\r';
        buf[o++] = *p;
    }
    memmove(buf + 2, buf, o);
    buf[0] = '\r';
    buf[1] = '\n';
    o += 2;
    v = nodes_ok(buf, o - 2, &n);
    check_redis7_nodes(v, n);
    clusterc__cluster_nodes_free(v, n);
    clusterc__cluster_nodes_free(NULL, 0);
}

/* Valkey 8: an IPv6 address split at its last colon, hostnames, aux fields
 * after the hostname, "nofailover", a node that prints no flags. */
static const char valkey8_nodes[] =
    ID_A " 2001:db8::1:6379@16379,valkey-0.valkey.svc myself,master - 0 0 7 connected"
    " 0-8191\n"
    ID_B " 2001:db8::2:6379@16379,valkey-1.valkey.svc master - 0 1720000000123 8 connected"
    " 8192-16383\n"
    ID_C " [::ffff:10.0.0.3]x:6380@16380,,shard-id=abc slave,nofailover " ID_A
    " 0 1720000000456 7 connected\n"
    ID_D " ::1:7000@17000 noflags - 0 0 0 connected\n"
    ID_E " 10.0.0.5:7001 master,unknownflag - 0 0 0 connected\n";

static void test_nodes_valkey8(void **state)
{
    (void)state;
    size_t n = 0;
    clusterc__cnode *v = NULL;
    char err[256];
    /* Brackets are not how CLUSTER NODES prints IPv6: rejected. */
    assert_int_equal(clusterc__cluster_nodes_parse(valkey8_nodes, strlen(valkey8_nodes),
                                                   &v, &n, err, sizeof(err)), -1);
    expect_in(err, "line 3");
    expect_in(err, "host");
    assert_null(v);

    static const char ok[] =
        ID_A " 2001:db8::1:6379@16379,valkey-0.valkey.svc myself,master - 0 0 7 connected"
        " 0-8191\n"
        ID_B " 2001:db8::2:6379@16379,valkey-1.valkey.svc master - 0 1720000000123 8"
        " connected 8192-16383\n"
        ID_C " fd00::3:6380@16380,,shard-id=abc slave,nofailover " ID_A
        " 0 1720000000456 7 connected\n"
        ID_D " ::1:7000@17000 noflags - 0 0 0 connected\n"
        ID_E " 10.0.0.5:7001 master,unknownflag - 0 0 0 connected\n";
    v = nodes_ok(ok, sizeof(ok) - 1, &n);
    assert_int_equal(n, 5);
    assert_string_equal(v[0].host, "2001:db8::1");
    assert_int_equal(v[0].port, 6379);
    assert_int_equal(v[0].bus_port, 16379);
    assert_string_equal(v[0].hostname, "valkey-0.valkey.svc");
    assert_int_equal(v[0].slots[0].end, 8191);
    assert_true(v[1].pong_recv == 1720000000123LL);
    assert_string_equal(v[2].host, "fd00::3");
    assert_string_equal(v[2].hostname, ""); /* aux fields ignored */
    assert_int_equal(v[2].flags, CLUSTERC__CNODE_SLAVE | CLUSTERC__CNODE_NOFAILOVER);
    assert_string_equal(v[3].host, "::1");
    assert_int_equal(v[3].port, 7000);
    assert_int_equal(v[3].flags, CLUSTERC__CNODE_NOFLAGS);
    assert_string_equal(v[4].host, "10.0.0.5"); /* pre-4.0: no "@cport" */
    assert_int_equal(v[4].port, 7001);
    assert_int_equal(v[4].bus_port, 0);
    assert_int_equal(v[4].flags, CLUSTERC__CNODE_MASTER);
    clusterc__cluster_nodes_free(v, n);

    /* Empty text: no nodes. */
    v = nodes_ok("", 0, &n);
    assert_null(v);
    assert_int_equal(n, 0);
    v = nodes_ok("\r\n\n", 3, &n);
    assert_null(v);
}

/* Rejected with err naming line 2 and what; out and n untouched. */
static void nodes_rejects(const char *bad_line, const char *what)
{
    char text[1024];
    int len = snprintf(text, sizeof(text),
                       ID_A " 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-10 [3->-"
                       ID_B "]\n%s\n", bad_line);
    assert_true(len > 0 && (size_t)len < sizeof(text));
    clusterc__cnode *v = (clusterc__cnode *)text;
    size_t n = 42;
    char err[256] = "";
    assert_int_equal(clusterc__cluster_nodes_parse(text, (size_t)len, &v, &n, err,
                                                   sizeof(err)), -1);
    assert_ptr_equal(v, text);
    assert_int_equal(n, 42);
    expect_in(err, "CLUSTER NODES");
    expect_in(err, "line 2");
    expect_in(err, what);
}

static void test_nodes_malformed(void **state)
{
    (void)state;
#define TAIL " master - 0 0 2 connected"
    char line[600];
#define BAD(addr, rest, what) \
    (snprintf(line, sizeof(line), "%s %s%s", ID_B, addr, rest), nodes_rejects(line, what))
    BAD("10.0.0.2:6379@16379", " master - 0 0 2", "7 fields, at least 8");
    BAD("10.0.0.2:6379@16379", TAIL " 5-", "bad slot");
    BAD("10.0.0.2:6379@16379", TAIL " 16384", "bad slot");
    BAD("10.0.0.2:6379@16379", TAIL " 10-5", "reversed slot range 10-5");
    BAD("10.0.0.2:6379@16379", TAIL " -5", "bad slot");
    BAD("10.0.0.2:6379@16379", TAIL " [5->-]", "migrating target");
    BAD("10.0.0.2:6379@16379", TAIL " [5=>-" ID_A "]", "migrating/importing");
    BAD("10.0.0.2:6379@16379", TAIL " [5->-" ID_A, "migrating/importing");
    BAD("10.0.0.2:6379@16379", TAIL " [16384-<-" ID_A "]", "migrating/importing");
    BAD("10.0.0.2:6379@16379", TAIL " [5-<-xyz]", "importing source");
    BAD("10.0.0.2:abc@16379", TAIL, "bad port");
    BAD("10.0.0.2:70000@16379", TAIL, "bad port");
    BAD("10.0.0.2:6379@", TAIL, "bus port");
    BAD("10.0.0.2@16379", TAIL, "no port");
    BAD("10.0.0.2:6379@16379", " master " ID_A "0 0 0 2 connected", "primary id");
    BAD("10.0.0.2:6379@16379", " master - x 0 2 connected", "ping-sent");
    BAD("10.0.0.2:6379@16379", " master - 0 -1 2 connected", "pong-recv");
    BAD("10.0.0.2:6379@16379", " master - 0 0 2x connected", "config-epoch");
    BAD("10.0.0.2:6379@16379", " master - 0 0 2 up", "link-state");
#undef BAD
    /* Node ids: exactly 40 hex digits. */
    nodes_rejects("67ed2db8 10.0.0.2:6379@16379 master - 0 0 2 connected", "node id");
    nodes_rejects("g7ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 10.0.0.2:6379@16379 master"
                  " - 0 0 2 connected", "not 40 hex digits");
    /* A hostname longer than 256 bytes. */
    char host[300];
    memset(host, 'h', 280);
    host[280] = '\0';
    char addr[320];
    snprintf(addr, sizeof(addr), "10.0.0.2:6379@16379,%s", host);
    snprintf(line, sizeof(line), "%s %s%s", ID_B, addr, TAIL);
    nodes_rejects(line, "hostname");
    /* A NUL byte. */
    static const char nul[] = ID_A " 10.0.0.1:6379@16379 master - 0 0 1 connected 0\0-10\n";
    clusterc__cnode *v = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(clusterc__cluster_nodes_parse(nul, sizeof(nul) - 1, &v, &n, err,
                                                   sizeof(err)), -1);
    expect_in(err, "NUL");
#undef TAIL
}

/* ----------------------------------------------------------- CLUSTER INFO */

static const char redis7_cinfo[] =
    "cluster_state:ok\r\n"
    "cluster_slots_assigned:16384\r\n"
    "cluster_slots_ok:16380\r\n"
    "cluster_slots_pfail:3\r\n"
    "cluster_slots_fail:1\r\n"
    "cluster_known_nodes:6\r\n"
    "cluster_size:3\r\n"
    "cluster_current_epoch:6\r\n"
    "cluster_my_epoch:2\r\n"
    "cluster_stats_messages_ping_sent:1483972\r\n"
    "cluster_stats_messages_sent:2967944\r\n"
    "total_cluster_links_buffer_limit_exceeded:0\r\n";

static void test_cluster_info(void **state)
{
    (void)state;
    clusterc__cluster_info ci;
    char err[256];
    assert_int_equal(clusterc__cluster_info_parse(redis7_cinfo, strlen(redis7_cinfo), &ci,
                                                  err, sizeof(err)), 0);
    assert_int_equal(ci.state_ok, 1);
    assert_true(ci.slots_assigned == 16384);
    assert_true(ci.slots_ok == 16380);
    assert_true(ci.slots_pfail == 3);
    assert_true(ci.slots_fail == 1);
    assert_true(ci.known_nodes == 6);
    assert_true(ci.size == 3);
    assert_true(ci.current_epoch == 6);
    assert_true(ci.my_epoch == 2);

    /* A fresh node: "fail", one known node; absent fields are -1. */
    static const char fresh[] = "cluster_state:fail\ncluster_known_nodes:1\n";
    assert_int_equal(clusterc__cluster_info_parse(fresh, sizeof(fresh) - 1, &ci, err,
                                                  sizeof(err)), 0);
    assert_int_equal(ci.state_ok, 0);
    assert_true(ci.known_nodes == 1);
    assert_true(ci.size == -1 && ci.my_epoch == -1 && ci.slots_ok == -1);

    static const char *const bad[][2] = {
        {"cluster_state:ok\ncluster_state:maybe\n", "line 2"},
        {"cluster_state:ok\r\ncluster_size:three\r\n", "cluster_size is not a number"},
        {"cluster_state:ok\ncluster_size\n", "field:value"},
        {"cluster_known_nodes:-\n", "cluster_known_nodes"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(clusterc__cluster_info_parse(bad[i][0], strlen(bad[i][0]), &ci, err,
                                                      sizeof(err)), -1);
        expect_in(err, "CLUSTER INFO");
        expect_in(err, bad[i][1]);
    }
}

/* INFO server's availability_zone, as Valkey 8 prints it. */
static void test_info_field(void **state)
{
    (void)state;
    static const char text[] = "# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\n"
                               "availability_zone:zone-a\r\nrun_id:abc\r\n\r\n# Clients\r\n"
                               "connected_clients:1\r\nempty:\r\nlast:x";
    const char *v = NULL;
    size_t n = 0;
    assert_int_equal(clusterc__info_field(text, sizeof(text) - 1, "availability_zone", &v, &n), 1);
    assert_int_equal(n, 6);
    assert_memory_equal(v, "zone-a", 6);
    assert_int_equal(clusterc__info_field(text, sizeof(text) - 1, "empty", &v, &n), 1);
    assert_int_equal(n, 0);
    assert_int_equal(clusterc__info_field(text, sizeof(text) - 1, "last", &v, &n), 1);
    assert_int_equal(n, 1);
    /* Whole keys only: "run" is not "run_id"; a missing key is 0. */
    assert_int_equal(clusterc__info_field(text, sizeof(text) - 1, "run", &v, &n), 0);
    assert_int_equal(clusterc__info_field(text, sizeof(text) - 1, "availability", &v, &n), 0);
    assert_int_equal(clusterc__info_field("", 0, "availability_zone", &v, &n), 0);
    /* Redis 7 has no such line. */
    assert_int_equal(clusterc__info_field(text, 40, "availability_zone", &v, &n), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repl_redis7_primary),
        cmocka_unit_test(test_repl_replica_full_sync),
        cmocka_unit_test(test_repl_replica_link_down),
        cmocka_unit_test(test_repl_valkey8),
        cmocka_unit_test(test_repl_replica_line_variants),
        cmocka_unit_test(test_repl_malformed),
        cmocka_unit_test(test_nodes_redis7),
        cmocka_unit_test(test_nodes_valkey8),
        cmocka_unit_test(test_nodes_malformed),
        cmocka_unit_test(test_cluster_info),
        cmocka_unit_test(test_info_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
