/* it_acl.c -- ACL users with restricted commands, and passwords that never
 * show (docs/security.md). A real 3+3 cluster (default user's password PW)
 * with ACL users made on every node (the cluster bus does not carry ACLs):
 * what works, what degrades, what fails clearly. A wrong password, the
 * admin JSON views and node stats show no password. Fake nodes show AUTH is
 * the first command on command, blocking-pool and subscriber connections.
 * clusterc_admin_reshard moves keys on the password-protected cluster.
 * Ports 23000-23005 (cluster; the harness puts its bus on 13000-13005),
 * 23090-23091 (fake nodes). */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <clusterc/admin.h>
#include "itest.h"

#define BASE 23000
#define FAKE_OK 23090
#define FAKE_BAD 23091
#define PW "Zq9xWk7vAcl"       /* the default user's */
#define WRONG_PW "Wr0ngQz8Pk"
#define FAKE_PW "Fk3jRt6uWy"
#define FRAGMENT 4             /* this many bytes of a secret count as shown */

static harness *H;

typedef struct user { const char *name, *pw, *rules; } user;
static const user APP = {"app", "Ap7pQr2sTu",
                         "~app:* +get +set +cluster|slots +cluster|shards +command +ping +info"};
static const user APPRO = {"appro", "Ro4xYv8mNb",
                           "~app:* +get +set +cluster|slots +cluster|shards +command +ping "
                           "+info +readonly"};
static const user NOINFO = {"noinfo", "Ni5kLp3wQe",
                            "~app:* +get +set +cluster|slots +cluster|shards +command +ping "
                            "+readonly"};
static const user NOCLUSTER = {"nocluster", "Nc6tGh1zXa", "~app:* +get +set +command +ping +info"};
static const user SLOTSONLY = {"slotsonly", "So2bVn9cMd",
                               "~app:* +get +set +cluster|slots +command +ping +info"};
static const user SUB = {"sub", "Sb8dFg4hJk", "~app:* resetchannels &ok:* +cluster|slots "
                         "+cluster|shards +command +ping +info +subscribe +unsubscribe"};
static const user ADMIN = {"admin", "Ad5mGt8nHq", "~* &* +@all"};
static const user *const USERS[] = {&APP, &APPRO, &NOINFO, &NOCLUSTER, &SLOTSONLY, &SUB, &ADMIN};
static const char *const SECRETS[] = {PW, WRONG_PW, FAKE_PW, "Ap7pQr2sTu", "Ro4xYv8mNb",
                                      "Ni5kLp3wQe", "Nc6tGh1zXa", "So2bVn9cMd", "Sb8dFg4hJk",
                                      "Ad5mGt8nHq", "Rq3wZx8vBn"};

/* ------------------------------------------------------------ secrets */

/* Whether text holds FRAGMENT consecutive bytes of secret. */
static int shows(const char *text, const char *secret)
{
    size_t n = strlen(secret);
    char frag[FRAGMENT + 1];
    for (size_t i = 0; text && i + FRAGMENT <= n; i++) {
        memcpy(frag, secret + i, FRAGMENT);
        frag[FRAGMENT] = '\0';
        if (strstr(text, frag))
            return 1;
    }
    return 0;
}

/* The secret text shows, or NULL. */
static const char *shown(const char *text)
{
    for (size_t i = 0; i < sizeof(SECRETS) / sizeof(SECRETS[0]); i++)
        if (shows(text, SECRETS[i]))
            return SECRETS[i];
    return NULL;
}

static void no_secret(const char *where, const char *text)
{
    const char *s = shown(text);
    if (s)
        fail_msg("%s shows (part of) the password %s: %s", where, s, text);
}

/* Every event and command-hook call, checked in full as it comes (the
 * library's pointers live only during the callback). */
static struct seen {
    int events, commands, leaks, auth_events, hook_fail;
    char leak[600], last_detail[300];
} S;

static void on_event(const clusterc_event *ev, void *arg)
{
    (void)arg;
    S.events++;
    if (shown(ev->detail) || (ev->node && shown(ev->node)))
        S.leaks++, snprintf(S.leak, sizeof(S.leak), "event %s: %s", ev->node, ev->detail);
    if (ev->code == CLUSTERC_EAUTH) {
        S.auth_events++;
        snprintf(S.last_detail, sizeof(S.last_detail), "%s", ev->detail);
    }
}

static void on_command(const clusterc_command_info *ci, void *arg)
{
    (void)arg;
    S.commands++;
    if (shown(ci->name) || (ci->node && shown(ci->node)))
        S.leaks++, snprintf(S.leak, sizeof(S.leak), "hook %s on %s", ci->name, ci->node);
    S.hook_fail += ci->code != 0;
}

static void hooks(clusterc_options *o)
{
    memset(&S, 0, sizeof(S));
    o->on_event = on_event;
    o->on_command = on_command;
}

/* ------------------------------------------------------------ cluster */

/* ACL SETUSER name reset on >pw rules... on every node. */
static void setuser(const user *u)
{
    char rules[512], pass[64];
    const char *argv[32] = {"ACL", "SETUSER", u->name, "reset", "on", pass};
    int argc = 6;
    snprintf(pass, sizeof(pass), ">%s", u->pw);
    snprintf(rules, sizeof(rules), "%s", u->rules);
    for (char *t = strtok(rules, " "); t && argc < 32; t = strtok(NULL, " "))
        argv[argc++] = t;
    for (int i = 0; i < harness_count(H); i++) {
        redisContext *ctx = harness_connect(harness_port(H, i));
        assert_non_null(ctx);
        redisReply *r = redisCommandArgv(ctx, argc, argv, NULL);
        assert_non_null(r);
        if (r->type != REDIS_REPLY_STATUS)
            fail_msg("ACL SETUSER %s on %d: %s", u->name, harness_port(H, i),
                     r->type == REDIS_REPLY_ERROR ? r->str : "?");
        freeReplyObject(r);
        redisFree(ctx);
    }
}

static int setup(void **state)
{
    (void)state;
    H = harness_start(BASE, 3, 1, "--password " PW);
    if (!H)
        return -1;
    for (size_t i = 0; i < sizeof(USERS) / sizeof(USERS[0]); i++)
        setuser(USERS[i]);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(H);
    return 0;
}

static void user_opts(clusterc_options *o, const user *u)
{
    clusterc_options_init(o);
    o->seeds = harness_seeds(H);
    o->username = u->name;
    o->password = u->pw;
}

static clusterc_client *connect_ok(const clusterc_options *o)
{
    clusterc_client *c = clusterc_connect(o);
    assert_non_null(c);
    if (clusterc_error(c))
        fail_msg("connect as %s: %s", o->username ? o->username : "default", clusterc_errstr(c));
    return c;
}

/* A client of u with read_only and a lag bound (polled every 100 ms),
 * hooks set. */
static clusterc_client *reads_client(const user *u)
{
    clusterc_options o;
    user_opts(&o, u);
    o.read_only = 1;
    o.max_lag_ms = 5000;
    o.lag_probe_ms = 100;
    hooks(&o);
    return connect_ok(&o);
}

/* SET (set != 0) or GET n keys app:<tag>:i; every answer right. */
static void keys(clusterc_client *c, const char *tag, int n, int set)
{
    for (int i = 0; i < n; i++) {
        char k[64], v[64];
        snprintf(k, sizeof(k), "app:%s:%d", tag, i);
        snprintf(v, sizeof(v), "v%d", i);
        redisReply *r = set ? clusterc_command(c, "SET %s %s", k, v)
                            : clusterc_command(c, "GET %s", k);
        if (!r)
            fail_msg("%s %s: %s", set ? "SET" : "GET", k, clusterc_errstr(c));
        it_expect_str(r, set ? "OK" : v);
        freeReplyObject(r);
    }
}

static void set_get(clusterc_client *c, const char *tag, int n)
{
    keys(c, tag, n, 1);
    keys(c, tag, n, 0);
}

/* Reads served by replicas, per clusterc_node_stats; prints the stats and
 * each node. */
static uint64_t replica_reads(clusterc_client *c, const char *why_replicas)
{
    clusterc_node_info v[16];
    clusterc_stats st;
    int n = clusterc_node_stats(c, v, 16);
    uint64_t reads = 0;
    assert_true(n > 0 && n <= 16);
    clusterc_get_stats(c, &st);
    fprintf(stderr, "  stats: moved %llu probes_refused %llu lag_unavailable %d\n",
            (unsigned long long)st.moved, (unsigned long long)st.probes_refused, st.lag_unavailable);
    for (int i = 0; i < n; i++) {
        fprintf(stderr, "    %s %-7s reads %3llu eligible %d why %s\n", v[i].addr,
                v[i].is_primary ? "primary" : "replica", (unsigned long long)v[i].reads,
                v[i].eligible, v[i].why);
        no_secret("node stats", v[i].addr);
        no_secret("node stats", v[i].why);
        if (!v[i].is_primary)
            reads += v[i].reads;
        if (!v[i].is_primary && why_replicas)
            assert_string_equal(v[i].why, why_replicas);
    }
    return reads;
}

/* Run the client's background work (lag polls, probes) for ms. */
static void idle(clusterc_client *c, int ms)
{
    for (int i = 0; i < ms / 20; i++)
        clusterc_poll(c, 20);
}

/* ------------------------------------------------------- ACL users */

/* The user: GET/SET on app:*, CLUSTER SHARDS/SLOTS, COMMAND, PING,
 * INFO. Without +readonly a replica refuses READONLY (NOPERM) and answers
 * MOVED to the primary, so read_only reads still succeed, through it. */
static void test_app_user_works(void **state)
{
    (void)state;
    clusterc_stats st;
    clusterc_client *c = reads_client(&APP);
    set_get(c, "w", 100);
    idle(c, 500);   /* lag polls (INFO replication) report on the replicas */
    keys(c, "w", 100, 0);
    clusterc_get_stats(c, &st);
    assert_int_equal(st.lag_unavailable, 0);
    assert_int_equal(st.probes_refused, 0);
    uint64_t rr = replica_reads(c, NULL);
    fprintf(stderr, "  replica-routed reads %llu, MOVED followed %llu (READONLY needs +readonly)\n",
            (unsigned long long)rr, (unsigned long long)st.moved);
    assert_int_equal(S.leaks, 0);
    clusterc_free(c);
}

/* The same with +readonly: replicas serve reads, no MOVED. */
static void test_readonly_user_reads_replicas(void **state)
{
    (void)state;
    clusterc_stats st;
    clusterc_client *c = reads_client(&APPRO);
    keys(c, "ro", 100, 1);
    idle(c, 500);   /* replication, and a lag poll or more */
    keys(c, "ro", 100, 0);
    clusterc_get_stats(c, &st);
    assert_true(replica_reads(c, NULL) > 0);
    assert_int_equal(st.moved, 0);
    assert_int_equal(st.lag_unavailable, 0);
    clusterc_free(c);
}

/* Without +info: lag polls are refused, the client still serves GET/SET,
 * says lag is unavailable (stats, node why) and reads go to the primary. */
static void test_noinfo_degraded(void **state)
{
    (void)state;
    clusterc_stats st;
    clusterc_client *c = reads_client(&NOINFO);
    for (int i = 0; i < 100; i++) {
        clusterc_get_stats(c, &st);
        if (st.lag_unavailable)
            break;
        idle(c, 50);
    }
    set_get(c, "ni", 50);
    clusterc_get_stats(c, &st);
    assert_int_equal(st.lag_unavailable, 1);
    assert_true(st.probes_refused > 0);
    assert_int_equal(replica_reads(c, "lag unavailable"), 0);
    assert_int_equal(clusterc_error(c), 0);
    assert_int_equal(S.leaks, 0);
    clusterc_free(c);
}

/* Neither CLUSTER SHARDS nor CLUSTER SLOTS: no map, and the error says
 * NOPERM and which command. CLUSTER SLOTS without SHARDS: the NOPERM on
 * SHARDS falls back to SLOTS, and the client works. */
static void test_map_commands(void **state)
{
    (void)state;
    clusterc_options o;
    user_opts(&o, &NOCLUSTER);
    hooks(&o);
    clusterc_client *c = clusterc_connect(&o);
    assert_non_null(c);
    const char *e = clusterc_errstr(c);
    fprintf(stderr, "  error (%d): %.200s...\n", clusterc_error(c), e);
    assert_int_not_equal(clusterc_error(c), 0);
    assert_non_null(strstr(e, "NOPERM"));
    assert_true(strstr(e, "cluster|slots") || strstr(e, "CLUSTER SLOTS"));
    no_secret("clusterc_errstr", e);
    assert_null(clusterc_command(c, "GET app:x"));
    assert_non_null(strstr(clusterc_errstr(c), "NOPERM"));
    no_secret("clusterc_errstr", clusterc_errstr(c));
    assert_int_equal(S.leaks, 0);
    clusterc_free(c);
    user_opts(&o, &SLOTSONLY);
    c = connect_ok(&o);
    set_get(c, "so", 50);
    clusterc_free(c);
}

static void expect_noperm(clusterc_client *c, const char *fmt, const char *arg)
{
    redisReply *r = clusterc_command(c, fmt, arg);
    if (!r)
        fail_msg("%s: no reply: %s", fmt, clusterc_errstr(c));
    if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOPERM", 6) != 0)
        fail_msg("%s: want a NOPERM error reply, got type %d", fmt, r->type);
    fprintf(stderr, "  %s -> %s\n", fmt, r->str);
    freeReplyObject(r);
}

/* A command (or key) the user may not use: an error reply; the client
 * keeps its connections and goes on. */
static void test_refused_command(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_stats st;
    clusterc_node_info v[16];
    user_opts(&o, &APP);
    hooks(&o);
    clusterc_client *c = connect_ok(&o);
    set_get(c, "del", 20);
    expect_noperm(c, "DEL %s", "app:del:0");
    expect_noperm(c, "INCR %s", "app:del:1");
    expect_noperm(c, "GET %s", "other:key");
    set_get(c, "del", 20);
    clusterc_get_stats(c, &st);
    assert_int_equal(st.failures, 0);
    int n = clusterc_node_stats(c, v, 16);
    for (int i = 0; i < n && i < 16; i++)
        if (v[i].is_primary)
            assert_int_equal(v[i].connected, 1);
    assert_int_equal(S.leaks, 0);
    assert_true(S.commands >= 83);
    clusterc_free(c);
}

/* A channel the user may not subscribe to (NOPERM) next to one it may:
 * the refusal must not take the allowed one down with it, again and again
 * (a reconnect storm), and the allowed channel's messages keep coming. */
static void test_refused_subscribe(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_stats st;
    clusterc_message m;
    int got = 0, errs = 0;
    user_opts(&o, &SUB);
    clusterc_client *c = connect_ok(&o);
    assert_int_equal(clusterc_subscribe(c, CLUSTERC_PUBSUB_CHANNEL, "ok:1"), 0);
    assert_int_equal(clusterc_subscribe(c, CLUSTERC_PUBSUB_CHANNEL, "no:1"), 0);
    idle(c, 200);
    for (int i = 0; i < 30; i++) {
        freeReplyObject(harness_cmd(H, harness_port(H, i % 3), "PUBLISH ok:1 m%d", i));
        int k = clusterc_next_message(c, &m, 100);
        got += k == 1;
        errs += k < 0;
    }
    clusterc_get_stats(c, &st);
    fprintf(stderr, "  %d of 30 messages, %d errors; connects %llu, resubscribes %llu, "
            "refresh requests %llu\n", got, errs, (unsigned long long)st.connects,
            (unsigned long long)st.resubscribes, (unsigned long long)st.refresh_requests);
    clusterc_free(c);
    assert_true(st.connects < 20);
    assert_true(got >= 25);
}

/* ------------------------------------------------- wrong passwords */

/* A client whose AUTH was refused: EAUTH, and no message, event, hook
 * call or view shows the password. */
static void check_auth_failure(clusterc_client *c, const char *what)
{
    fprintf(stderr, "  %s: %s\n", what, clusterc_errstr(c));
    assert_int_equal(clusterc_error(c), CLUSTERC_EAUTH);
    assert_non_null(strstr(clusterc_errstr(c), "authentication failed"));
    no_secret("clusterc_errstr", clusterc_errstr(c));
    assert_null(clusterc_command(c, "GET app:x"));
    /* EAUTH, or ETIMEOUT when the GET's deadline passed while it waited for
     * a throttled map load; either way the message gives the cause. */
    fprintf(stderr, "  GET: %s\n", clusterc_errstr(c));
    assert_true(clusterc_error(c) == CLUSTERC_EAUTH || clusterc_error(c) == CLUSTERC_ETIMEOUT);
    assert_non_null(strstr(clusterc_errstr(c), "authentication failed"));
    no_secret("clusterc_errstr", clusterc_errstr(c));
    if (S.leaks)
        fail_msg("%s", S.leak);
    assert_true(S.auth_events > 0);
    no_secret("event", S.last_detail);
    assert_int_equal(S.hook_fail, 1);   /* the GET */
    char *j = clusterc_node_stats_json(c);   /* no map: NULL, errstr says why */
    no_secret("node stats JSON", j);
    clusterc_free_string(j);
    no_secret("clusterc_errstr", clusterc_errstr(c));
}

static void test_wrong_password(void **state)
{
    (void)state;
    const char *users[2] = {"app", NULL};
    char url[256];
    for (int i = 0; i < 2; i++) {
        clusterc_options o;
        clusterc_options_init(&o);
        o.seeds = harness_seeds(H);
        o.username = users[i];
        o.password = WRONG_PW;
        hooks(&o);
        clusterc_client *c = clusterc_connect(&o);
        assert_non_null(c);
        check_auth_failure(c, users[i] ? "AUTH app <wrong>" : "AUTH <wrong>");
        clusterc_free(c);
    }
    snprintf(url, sizeof(url), "redis://app:%s@127.0.0.1:%d?addr=127.0.0.1:%d", WRONG_PW, BASE,
             BASE + 1);
    memset(&S, 0, sizeof(S));
    clusterc_client *c = clusterc_connect_url_hooks(url, on_event, NULL, on_command, NULL);
    assert_non_null(c);
    check_auth_failure(c, "URL with a wrong password");
    clusterc_free(c);
}

/* ----------------------------------------------------------- views */

static void view_ok(clusterc_client *c, const char *what, char *json)
{
    if (!json)
        fail_msg("%s: %s", what, clusterc_errstr(c));
    no_secret(what, json);
    clusterc_free_string(json);
}

/* The admin JSON views, node stats (JSON and text) and admin errors of a
 * client on a password-protected cluster; the same views refused to a
 * user without the admin commands. */
static void test_views_hold_no_password(void **state)
{
    (void)state;
    char replica[64];
    clusterc_replication rep;
    clusterc_client *c = it_client(H, NULL);   /* the default user, PW */
    set_get(c, "view", 10);
    snprintf(replica, sizeof(replica), "127.0.0.1:%d", harness_nth_port(H, "slave", 0));
    view_ok(c, "clusterc_node_stats_json", clusterc_node_stats_json(c));
    view_ok(c, "clusterc_admin_nodes_json", clusterc_admin_nodes_json(c, NULL));
    view_ok(c, "clusterc_admin_replication_json", clusterc_admin_replication_json(c, replica));
    view_ok(c, "clusterc_admin_check_json", clusterc_admin_check_json(c));
    replica_reads(c, NULL);   /* node stats text */
    memset(&rep, 0, sizeof(rep));
    assert_int_equal(clusterc_admin_replication(c, "127.0.0.1:23099", &rep), -1);
    no_secret("admin error", clusterc_errstr(c));
    clusterc_free(c);

    clusterc_options o;
    user_opts(&o, &APP);
    c = connect_ok(&o);
    assert_null(clusterc_admin_nodes_json(c, NULL));   /* CLUSTER NODES: NOPERM */
    fprintf(stderr, "  admin view as app: %s\n", clusterc_errstr(c));
    no_secret("admin error", clusterc_errstr(c));
    assert_null(clusterc_admin_check_json(c));
    no_secret("admin error", clusterc_errstr(c));
    clusterc_free(c);
}

/* --------------------------------------- AUTH before anything else */

/* A connection as the default user: authenticated with PW, or, while
 * default is nopass (which refuses AUTH <password>), not at all. */
static redisContext *as_default(int port, int nopass)
{
    struct timeval tv = {2, 0};
    return nopass ? redisConnectWithTimeout("127.0.0.1", port, tv) : harness_connect(port);
}

/* ACL SETUSER a b c on every node, as the default user. */
static void acl_all(int nopass, const char *a, const char *b, const char *c)
{
    for (int i = 0; i < harness_count(H); i++) {
        int port = harness_port(H, i);
        redisContext *ctx = as_default(port, nopass);
        assert_non_null(ctx);
        redisReply *r = redisCommand(ctx, "ACL SETUSER %s %s %s", a, b, c);
        if (!r || r->type != REDIS_REPLY_STATUS)
            fail_msg("ACL SETUSER %s %s on %d: %s", a, b, port, r ? r->str : ctx->errstr);
        freeReplyObject(r);
        redisFree(ctx);
    }
}

/* A primary the client has no connection to, or -1. */
static int unconnected_primary(clusterc_client *c)
{
    clusterc_node_info v[16];
    int n = clusterc_node_stats(c, v, 16), port = -1;
    for (int i = 0; i < n && i < 16; i++)
        if (v[i].is_primary && !v[i].connected)
            sscanf(strrchr(v[i].addr, ':') + 1, "%d", &port);
    return port;
}

/* GET key on port as the nopass default user: 1 when it holds a value. */
static int holds(int port, const char *key)
{
    redisContext *ctx = as_default(port, 1);
    assert_non_null(ctx);
    redisReply *r = redisCommand(ctx, "GET %s", key);
    int got = r && r->type == REDIS_REPLY_STRING;
    freeReplyObject(r);
    redisFree(ctx);
    return got;
}

/* The default user on nopass (Redis's own default when no requirepass is
 * set): a connection whose AUTH as another user fails stays the default
 * user. A command pipelined behind that AUTH must not run. Here app's
 * password is rotated on the servers after the client connected; the
 * client's next connection (to a primary it has not dialled yet) sends
 * AUTH app <old> and, in the same write, the SET. */
static void test_nothing_runs_after_a_failed_auth(void **state)
{
    (void)state;
    clusterc_options o;
    char key[64] = "";
    user_opts(&o, &APP);
    clusterc_client *c = connect_ok(&o);
    int port = unconnected_primary(c);
    assert_int_not_equal(port, -1);
    for (int i = 0; i < 1000 && !key[0]; i++) {
        snprintf(key, sizeof(key), "app:pipe:%d", i);
        if (harness_primary_of_slot(H, clusterc_keyslot(key, strlen(key))) != port)
            key[0] = '\0';
    }
    assert_true(key[0] != '\0');
    acl_all(0, "default", "on", "nopass");
    acl_all(1, "app", "resetpass", ">Ap7pRotated");
    redisReply *r = clusterc_command(c, "SET %s ran", key);
    fprintf(stderr, "  SET %s on %d after the rotation: %s\n", key, port,
            r ? "a reply" : clusterc_errstr(c));
    int code = r ? 0 : clusterc_error(c);
    freeReplyObject(r);
    clusterc_free(c);
    int ran = holds(port, key);
    acl_all(1, "default", "resetpass", ">" PW);   /* restore before asserting */
    setuser(&APP);
    assert_int_equal(code, CLUSTERC_EAUTH);
    if (ran)
        fail_msg("the SET pipelined behind the refused AUTH ran as the default user "
                 "(lib/engine/conn.c queue_handshake/send_prelude: commands go out before "
                 "AUTH's reply)");
}

/* ------------------------------------------------- admin reshard */

/* CLUSTER COUNTKEYSINSLOT slot on port, as the default user. */
static long long keys_in_slot(int port, int slot)
{
    redisContext *ctx = harness_connect(port);
    assert_non_null(ctx);
    redisReply *r = redisCommand(ctx, "CLUSTER COUNTKEYSINSLOT %d", slot);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    redisFree(ctx);
    return n;
}

/* clusterc_admin_reshard of one slot (from's lowest: slot) as client c, in
 * MIGRATEs of 7 keys; 0, or -1 with errstr checked for secrets. */
static int reshard_one(clusterc_client *c, int from, int to)
{
    clusterc_admin_opts ao;
    clusterc_admin_opts_init(&ao);
    ao.migrate_batch = 7;
    int rc = clusterc_admin_reshard(c, it_id_of_port(H, from), it_id_of_port(H, to), 1, &ao);
    no_secret("reshard", clusterc_errstr(c));
    return rc;
}

/* SET (set != 0) or GET the 30 keys {rs<tag>}:i of slot 0 through c. */
static void slot0_keys(clusterc_client *c, int tag, int set)
{
    for (int i = 0; i < 30; i++) {
        char k[64], v[32];
        snprintf(k, sizeof(k), "{rs%d}:%d", tag, i);
        snprintf(v, sizeof(v), "v%d", i);
        redisReply *r = set ? clusterc_command(c, "SET %s %s", k, v)
                            : clusterc_command(c, "GET %s", k);
        if (!r)
            fail_msg("%s %s: %s", set ? "SET" : "GET", k, clusterc_errstr(c));
        it_expect_str(r, set ? "OK" : v);
        freeReplyObject(r);
    }
}

/* Slot 0 and its 30 keys from a primary to another and back, as the
 * default user (MIGRATE ... AUTH pw) then as an ACL user (AUTH2 user pw):
 * each MIGRATE carries the client's credentials to the target, which
 * otherwise answers NOAUTH and the slot stays open. First a target that
 * refuses the credentials: the failure shows none of them. */
static void test_reshard_with_password(void **state)
{
    (void)state;
    int from = harness_primary_of_slot(H, 0), to = it_other_master(H, from), tag = 0;
    char id[64];
    while (snprintf(id, sizeof(id), "{rs%d}", tag), clusterc_keyslot(id, strlen(id)) != 0)
        tag++;
    clusterc_client *c = it_client(H, NULL);
    slot0_keys(c, tag, 1);
    clusterc_options o;
    user_opts(&o, &ADMIN);
    clusterc_client *a = connect_ok(&o);
    snprintf(id, sizeof(id), "127.0.0.1:%d", to);   /* a's connection there, made now */
    redisReply *r = clusterc_command_to_node(a, id, "PING");
    it_expect_str(r, "PONG");
    freeReplyObject(r);
    redisContext *ctx = harness_connect(to);   /* admin's password differs on the target */
    freeReplyObject(redisCommand(ctx, "ACL SETUSER admin resetpass >Rq3wZx8vBn"));
    assert_int_equal(reshard_one(a, from, to), -1);
    fprintf(stderr, "  refused: %s\n", clusterc_errstr(a));
    assert_non_null(strstr(clusterc_errstr(a), "MIGRATE of slot 0"));
    assert_non_null(strstr(clusterc_errstr(a), "WRONGPASS"));
    freeReplyObject(redisCommand(ctx, "CLUSTER SETSLOT 0 STABLE"));
    redisFree(ctx);
    it_node_ok(H, from, "CLUSTER SETSLOT 0 STABLE");
    setuser(&ADMIN);
    assert_int_equal(keys_in_slot(from, 0), 30);
    for (int pass = 0; pass < 2; pass++) {
        clusterc_client *x = pass ? a : c;
        int src = pass ? to : from, dst = pass ? from : to;
        if (reshard_one(x, src, dst) < 0)
            fail_msg("reshard %d -> %d: %s", src, dst, clusterc_errstr(x));
        fprintf(stderr, "  slot 0 (30 keys) %d -> %d as %s\n", src, dst,
                pass ? "admin (AUTH2)" : "default (AUTH)");
        assert_int_equal(keys_in_slot(dst, 0), 30);
        assert_int_equal(keys_in_slot(src, 0), 0);
        assert_int_equal(harness_primary_of_slot(H, 0), dst);
        slot0_keys(x, tag, 0);
    }
    clusterc_free(a);
    clusterc_free(c);
}

/* ------------------------------------------------------ fake nodes */

static struct { pid_t pid; FILE *out; char dir[64], script[128], log[128]; } F;

static void fake_start(int port, const char *script)
{
    char cmd[1024], line[128] = "";
    snprintf(F.dir, sizeof(F.dir), "/tmp/clusterc-acl-XXXXXX");
    assert_non_null(mkdtemp(F.dir));
    snprintf(F.script, sizeof(F.script), "%s/node.fake", F.dir);
    snprintf(F.log, sizeof(F.log), "%s/journal.log", F.dir);
    FILE *f = fopen(F.script, "w");
    assert_non_null(f);
    fputs(script, f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "echo $$; exec %s %s --timeout 60 --quiet --log %s --listen %d:%s",
             PYTHON, FAKE_SERVER, F.log, port, F.script);
    F.out = popen(cmd, "r");
    assert_non_null(F.out);
    assert_non_null(fgets(line, sizeof(line), F.out));
    F.pid = (pid_t)atoi(line);
    if (!fgets(line, sizeof(line), F.out) || !strstr(line, "READY"))
        fail_msg("fake node on %d not ready", port);
}

static void fake_stop(void)
{
    if (F.pid > 0)
        kill(F.pid, SIGTERM);
    if (F.out)
        pclose(F.out);
    unlink(F.script);
    unlink(F.log);
    rmdir(F.dir);
    memset(&F, 0, sizeof(F));
}

/* A CLUSTER SHARDS reply (script escapes): one shard, every slot, on
 * 127.0.0.1:port. */
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

/* The first commands of each connection the journal saw. */
typedef struct jconn {
    int id, n, get, blpop, sub;
    char cmd[3][128];
} jconn;

static int journal(jconn *v, int max)
{
    FILE *f = fopen(F.log, "r");
    char line[1024];
    int n = 0;
    while (f && fgets(line, sizeof(line), f)) {
        double ms;
        int port, id, off = 0, k = 0;
        if (sscanf(line, "%lf %d %d %n", &ms, &port, &id, &off) != 3 || strncmp(line + off, "CMD ", 4))
            continue;
        const char *cmd = line + off + 4;
        while (k < n && v[k].id != id)
            k++;
        if (k == n && n == max)
            continue;
        if (k == n)
            memset(&v[n++], 0, sizeof(*v)), v[k].id = id;
        if (v[k].n < 3)
            snprintf(v[k].cmd[v[k].n], sizeof(v[k].cmd[0]), "%.*s", (int)strcspn(cmd, "\n"), cmd);
        v[k].n++;
        v[k].get |= strncasecmp(cmd, "GET ", 4) == 0;
        v[k].blpop |= strncasecmp(cmd, "BLPOP ", 6) == 0;
        v[k].sub |= strncasecmp(cmd, "SUBSCRIBE ", 10) == 0;
    }
    if (f)
        fclose(f);
    return n;
}

/* Print a connection's first commands, the password hidden. */
static void print_conn(const jconn *j)
{
    fprintf(stderr, "  conn %d (%d commands%s%s%s):", j->id, j->n, j->get ? ", GET" : "",
            j->blpop ? ", BLPOP" : "", j->sub ? ", SUBSCRIBE" : "");
    for (int i = 0; i < j->n && i < 3; i++)   /* AUTH's password not shown */
        fprintf(stderr, " [%.*s]", i ? 127 : 8, j->cmd[i]);
    fprintf(stderr, "\n");
}

/* AUTH user pass is the first command on the command connection (then
 * CLIENT SETNAME and READONLY), on a blocking-pool connection (BLPOP) and
 * on a subscriber connection (SUBSCRIBE). */
static void test_auth_first_on_every_connection(void **state)
{
    (void)state;
    static char script[8192];
    char shards[2048];
    jconn v[16];
    clusterc_message m;
    shards_for(FAKE_OK, shards, sizeof(shards));
    snprintf(script, sizeof(script),
             "ALWAYS AUTH app " FAKE_PW " => +OK\\r\\n\n"
             "ALWAYS CLIENT SETNAME ... => +OK\\r\\n\n"
             "ALWAYS READONLY => +OK\\r\\n\n"
             "ALWAYS CLUSTER SHARDS => %s\n"
             "ALWAYS COMMAND ... => -NOPERM this user has no permissions to run the 'command' "
             "command\\r\\n\n"
             "ALWAYS PING ... => +PONG\\r\\n\n"
             "ALWAYS GET * => $1\\r\\nv\\r\\n\n"
             "ALWAYS BLPOP ... => *-1\\r\\n\n"
             "ALWAYS SUBSCRIBE ch => *3\\r\\n$9\\r\\nsubscribe\\r\\n$2\\r\\nch\\r\\n:1\\r\\n\n"
             "ALWAYS ANY => -ERR fake: not scripted\\r\\n\n"
             "SLEEP 60000\n", shards);
    fake_start(FAKE_OK, script);
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = "127.0.0.1:23090";
    o.username = "app";
    o.password = FAKE_PW;
    o.client_name = "acl-test";
    o.read_only = 1;
    clusterc_client *c = connect_ok(&o);
    redisReply *r = clusterc_command(c, "GET k");
    it_expect_str(r, "v");
    freeReplyObject(r);
    r = clusterc_command(c, "BLPOP q 1");
    if (!r)
        fail_msg("BLPOP: %s", clusterc_errstr(c));
    freeReplyObject(r);
    assert_int_equal(clusterc_subscribe(c, CLUSTERC_PUBSUB_CHANNEL, "ch"), 0);
    int n = 0, subs = 0;
    for (int i = 0; i < 100 && !subs; i++) {
        clusterc_next_message(c, &m, 20);
        n = journal(v, 16);
        for (int k = 0; k < n; k++)
            subs += v[k].sub;
    }
    clusterc_free(c);
    n = journal(v, 16);
    int get = -1, blpop = -1, sub = -1;
    for (int k = 0; k < n; k++) {
        print_conn(&v[k]);
        if (strcasecmp(v[k].cmd[0], "AUTH app " FAKE_PW) != 0)
            fail_msg("conn %d: the first command is not AUTH app <password>", v[k].id);
        get = v[k].get ? k : get;
        blpop = v[k].blpop ? k : blpop;
        sub = v[k].sub ? k : sub;
    }
    fake_stop();
    assert_true(get >= 0 && blpop >= 0 && sub >= 0);
    assert_true(blpop != get && sub != get && sub != blpop);
    assert_true(v[get].n >= 3);
    assert_int_equal(strncasecmp(v[get].cmd[1], "CLIENT SETNAME acl-test", 23), 0);
    assert_int_equal(strcasecmp(v[get].cmd[2], "READONLY"), 0);
}

/* A refused AUTH on a fake node: EAUTH, nothing shows the password; the
 * journal shows what the client sent behind the AUTH before its answer. */
static void test_auth_refused_by_fake(void **state)
{
    (void)state;
    jconn v[16];
    fake_start(FAKE_BAD,
               "ALWAYS AUTH ... => -WRONGPASS invalid username-password pair or user is "
               "disabled.\\r\\n\n"
               "ALWAYS ANY => -NOAUTH Authentication required.\\r\\n\n"
               "SLEEP 60000\n");
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = "127.0.0.1:23091";
    o.username = "app";
    o.password = WRONG_PW;
    hooks(&o);
    clusterc_client *c = clusterc_connect(&o);
    assert_non_null(c);
    check_auth_failure(c, "fake node, WRONGPASS");
    clusterc_free(c);
    int n = journal(v, 16), behind = 0;
    for (int k = 0; k < n; k++) {
        print_conn(&v[k]);
        if (strncasecmp(v[k].cmd[0], "AUTH app ", 9) != 0)
            fail_msg("conn %d: the first command is not AUTH", v[k].id);
        behind += v[k].n - 1;
    }
    fake_stop();
    fprintf(stderr, "  %d command(s) reached the node behind a refused AUTH\n", behind);
    assert_true(n > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_first_on_every_connection),
        cmocka_unit_test(test_auth_refused_by_fake),
        cmocka_unit_test(test_app_user_works),
        cmocka_unit_test(test_readonly_user_reads_replicas),
        cmocka_unit_test(test_noinfo_degraded),
        cmocka_unit_test(test_map_commands),
        cmocka_unit_test(test_refused_command),
        cmocka_unit_test(test_refused_subscribe),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_views_hold_no_password),
        cmocka_unit_test(test_nothing_runs_after_a_failed_auth),
        cmocka_unit_test(test_reshard_with_password),
    };
    if (getenv("IT_ACL_FILTER"))   /* e.g. IT_ACL_FILTER='*fake*' */
        cmocka_set_test_filter(getenv("IT_ACL_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
