/* it_pubsub.c -- issue 9, Pub/Sub: classic, pattern and shard messages
 * delivered exactly once on a stable cluster (both faces); subscriptions
 * that come back by themselves after a manual failover, a live slot
 * migration (the server's SUNSUBSCRIBE) and a SIGKILL of a primary owning
 * subscribed slots (the gap is measured and printed); the fake server's
 * subscriber connection dropped mid-message, a malformed push and a
 * SUNSUBSCRIBE for a channel still wanted; a graceful disconnect with
 * subscriptions open that ends at once (DRAINED); subscriptions an ACL
 * user may not make (dropped, reported once, the others unharmed) and
 * refusals that pass (CLUSTERDOWN: tried again on the same connection).
 * A 3+3 cluster, node-timeout 1000: ports 22600-22605 (bus 32600-32605; not 21600: it_migrate_valkey is there);
 * the fake node 22651. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "itest.h"
#include "cluster_probe.h"
#ifdef CLUSTERC_TEST_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif

#define BASE 22600
static int PA = 22651;   /* + CLUSTERC_TEST_PORT_SHIFT, as the harness does */
#define NCH 50
#define MAXSEQ 1024

static harness *H;
/* What a failed assertion leaves behind, released by cleanup(). */
static struct { clusterc_client *c, *pub; clusterc_async *a; struct event_base *base;
                int killed; } L;
static struct { pid_t pid; FILE *out; char dir[64], log[96]; } F;

/* ------------------------------------------------------ messages seen */

/* Kinds by index: 0 classic "cc<i>", 1 pattern "pp*" on "pp<i>", 2 shard
 * "{ss<i>}". Payloads are sequence numbers. */
static const char *const prefix[3] = { "cc", "pp", "{ss" };

typedef struct got {
    unsigned char n[3][NCH][MAXSEQ];
    int total, dup, bad;
    int64_t first_after[3][NCH];   /* when a seq >= after_seq first came */
    int after_seq;
    int64_t since;                 /* event time: inter-arrival gaps counted after it */
    int64_t last_at[3][NCH], max_gap[3][NCH];
    char last[64];                 /* fake cases: payloads, "|"-joined */
    char joined[512];
} got;

static got G[2];   /* [0] async, [1] blocking */

static void name_of(int k, int i, char *out, size_t cap)
{
    snprintf(out, cap, k == 2 ? "%s%d}" : "%s%d", prefix[k], i);
}

static void note(got *g, const clusterc_message *m)
{
    char ch[128], pay[64];
    int k = m->kind == CLUSTERC_PUBSUB_CHANNEL ? 0 : m->kind == CLUSTERC_PUBSUB_PATTERN ? 1 :
            m->kind == CLUSTERC_PUBSUB_SHARD ? 2 : -1;
    snprintf(ch, sizeof(ch), "%.*s", (int)m->channel_len, m->channel);
    snprintf(pay, sizeof(pay), "%.*s", (int)m->payload_len, m->payload);
    snprintf(g->last, sizeof(g->last), "%s", pay);
    if (strlen(g->joined) + strlen(pay) + 2 < sizeof(g->joined))
        strcat(strcat(g->joined, pay), "|");
    if (k < 0) {
        g->bad++;
        return;
    }
    if (k == 1 && (!m->pattern || m->pattern_len != 3 || memcmp(m->pattern, "pp*", 3) != 0))
        g->bad++;
    if (k != 1 && m->pattern)
        g->bad++;
    if (strncmp(ch, prefix[k], strlen(prefix[k])) != 0) {
        if (strcmp(ch, "ch") != 0 && strcmp(ch, "{x}sch") != 0)   /* the fake's */
            g->bad++;
        return;
    }
    int i = atoi(ch + strlen(prefix[k])), seq = atoi(pay);
    if (i < 0 || i >= NCH || seq < 0 || seq >= MAXSEQ) {
        g->bad++;
        return;
    }
    g->total++;
    if (++g->n[k][i][seq] > 1)
        g->dup++;
    int64_t now = it_now_ms();
    if (seq >= g->after_seq && g->after_seq > 0 && !g->first_after[k][i])
        g->first_after[k][i] = now;
    if (g->since && now > g->since) {
        int64_t from = g->last_at[k][i] > g->since ? g->last_at[k][i] : g->since;
        if (now - from > g->max_gap[k][i])
            g->max_gap[k][i] = now - from;
    }
    g->last_at[k][i] = now;
}

static void on_msg(clusterc_async *a, const clusterc_message *m, void *privdata)
{
    (void)a;
    note(privdata, m);
}

/* Run the async loop and the blocking subscriber's message wait for ms. */
static void pump(int ms)
{
    int64_t end = it_now_ms() + ms;
    int never = 0;
    clusterc_message m;
    do {
        if (L.base)
            it_loop_until(L.base, &never, L.c ? 5 : 10);
        if (L.c) {
            for (int i = 0; i < 10000 && clusterc_next_message(L.c, &m, L.base ? 0 : 10) == 1; i++)
                note(&G[1], &m);
            if (L.base) {
                int r = clusterc_next_message(L.c, &m, 5);
                if (r == 1)
                    note(&G[1], &m);
            }
        }
    } while (it_now_ms() < end);
}

/* ------------------------------------------------------------ helpers */

static void leak_check(void)
{
#ifdef CLUSTERC_TEST_SANITIZED
    assert_int_equal(__lsan_do_recoverable_leak_check(), 0);
#endif
}

static int port_of(const char *key)
{
    int p = harness_primary_of_slot(H, clusterc_keyslot(key, strlen(key)));
    if (p < 0)
        fail_msg("no primary for %s", key);
    return p;
}

static clusterc_async *aopen(void)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    o.client_name = "t9-async";
    L.base = event_base_new();
    L.a = clusterc_async_connect(L.base, &o);
    assert_non_null(L.a);
    return L.a;
}

static clusterc_client *bopen(void)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.client_name = "t9-blocking";
    L.c = it_client(H, &o);
    return L.c;
}

static clusterc_client *pubopen(int command_timeout_ms)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.command_timeout_ms = command_timeout_ms;
    L.pub = it_client(H, &o);
    return L.pub;
}

static void subscribe_all(int nch, int shards)
{
    char name[32];
    for (int i = 0; i < nch; i++) {
        name_of(0, i, name, sizeof(name));
        if (L.a)
            assert_int_equal(clusterc_async_subscribe(L.a, name, on_msg, &G[0]), 0);
        if (L.c)
            assert_int_equal(clusterc_subscribe(L.c, CLUSTERC_PUBSUB_CHANNEL, name), 0);
    }
    for (int i = 0; i < shards; i++) {
        name_of(2, i, name, sizeof(name));
        if (L.a)
            assert_int_equal(clusterc_async_ssubscribe(L.a, name, on_msg, &G[0]), 0);
        if (L.c)
            assert_int_equal(clusterc_subscribe(L.c, CLUSTERC_PUBSUB_SHARD, name), 0);
    }
    if (L.a)
        assert_int_equal(clusterc_async_psubscribe(L.a, "pp*", on_msg, &G[0]), 0);
    if (L.c)
        assert_int_equal(clusterc_subscribe(L.c, CLUSTERC_PUBSUB_PATTERN, "pp*"), 0);
}

static long long node_count(int port, const char *fmt, const char *arg)
{
    long long n = 0;
    redisReply *r = arg ? harness_cmd(H, port, fmt, arg) : harness_cmd(H, port, fmt);
    if (r && r->type == REDIS_REPLY_INTEGER)
        n = r->integer;
    else if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        n = r->element[1]->integer;
    freeReplyObject(r);
    return n;
}

/* PUBSUB NUMSUB / NUMPAT summed over every node; for SHARDNUMSUB
 * (shard_owner_only) the count on the channel's owner. */
static long long sum_over_nodes(const char *fmt, const char *arg, int shard_owner_only)
{
    if (shard_owner_only)
        return node_count(port_of(arg), fmt, arg);
    long long sum = 0;
    for (int i = 0; i < harness_count(H); i++)
        sum += node_count(harness_port(H, i), fmt, arg);
    return sum;
}

/* Pattern subscriptions over every node's connections (PUBSUB NUMPAT
 * counts unique patterns, not subscribers): psub= of CLIENT LIST. */
static long long psubs(void)
{
    long long sum = 0;
    for (int i = 0; i < harness_count(H); i++) {
        redisReply *r = harness_cmd(H, harness_port(H, i), "CLIENT LIST");
        for (const char *p = r && r->str ? r->str : ""; (p = strstr(p, " psub=")); p += 6)
            sum += atoll(p + 6);
        freeReplyObject(r);
    }
    return sum;
}

/* Wait (pumping the clients) until the servers count `subs` subscribers
 * on every channel, shard channel (on its owner) and the pattern. */
static void wait_subscribed(int nch, int shards, int subs)
{
    char name[32], what[64] = "";
    int64_t end = it_now_ms() + 20000;
    while (it_now_ms() < end) {
        int ok = nch == 0 || psubs() >= subs;
        snprintf(what, sizeof(what), "pattern pp*");
        for (int i = 0; ok && i < nch; i++) {
            name_of(0, i, name, sizeof(name));
            ok = sum_over_nodes("PUBSUB NUMSUB %s", name, 0) >= subs;
            snprintf(what, sizeof(what), "channel %s", name);
        }
        for (int i = 0; ok && i < shards; i++) {
            name_of(2, i, name, sizeof(name));
            ok = sum_over_nodes("PUBSUB SHARDNUMSUB %s", name, 1) >= subs;
            snprintf(what, sizeof(what), "shard channel %s", name);
        }
        if (ok)
            return;
        pump(100);
    }
    fail_msg("not subscribed after 20 s: %s (want %d subscribers)", what, subs);
}

/* One round: seq on every channel (pipelined); returns publishes that
 * failed (a node down). */
static int publish_round(int seq, int nch, int shards)
{
    char name[32];
    int n = 0, failed = 0;
    for (int i = 0; i < nch; i++, n += 2) {
        name_of(0, i, name, sizeof(name));
        assert_int_equal(clusterc_append_command(L.pub, "PUBLISH %s %d", name, seq), 0);
        name_of(1, i, name, sizeof(name));
        assert_int_equal(clusterc_append_command(L.pub, "PUBLISH %s %d", name, seq), 0);
    }
    for (int i = 0; i < shards; i++, n++) {
        name_of(2, i, name, sizeof(name));
        assert_int_equal(clusterc_append_command(L.pub, "SPUBLISH %s %d", name, seq), 0);
    }
    for (int i = 0; i < n; i++) {
        void *r = NULL;
        if (clusterc_get_reply(L.pub, &r) != 0 || ((redisReply *)r)->type != REDIS_REPLY_INTEGER)
            failed++;
        freeReplyObject(r);
    }
    return failed;
}

/* Every message of seqs [from, to) came exactly once on face f. */
static int complete(const got *g, int from, int to, int nch, int shards)
{
    for (int s = from; s < to; s++) {
        for (int i = 0; i < nch; i++)
            if (g->n[0][i][s] != 1 || g->n[1][i][s] != 1)
                return 0;
        for (int i = 0; i < shards; i++)
            if (g->n[2][i][s] != 1)
                return 0;
    }
    return 1;
}

static void explain_missing(const got *g, const char *face, int from, int to, int nch, int shards)
{
    int shown = 0;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < (k == 2 ? shards : nch); i++)
            for (int s = from; s < to; s++)
                if (g->n[k][i][s] != 1 && shown++ < 8) {
                    char name[32];
                    name_of(k, i, name, sizeof(name));
                    fprintf(stderr, "  %s: %s seq %d came %d times\n", face, name, s,
                            g->n[k][i][s]);
                }
}

static void wait_complete(int from, int to, int nch, int shards, int limit_ms)
{
    int64_t end = it_now_ms() + limit_ms;
    while (it_now_ms() < end &&
           !((!L.a || complete(&G[0], from, to, nch, shards)) &&
             (!L.c || complete(&G[1], from, to, nch, shards))))
        pump(20);
    pump(300);   /* duplicates would show up now */
    for (int f = 0; f < 2; f++) {
        if (f == 0 ? !L.a : !L.c)
            continue;
        const char *face = f == 0 ? "async" : "blocking";
        fprintf(stderr, "  %s: %d messages, %d duplicates, %d malformed\n", face, G[f].total,
                G[f].dup, G[f].bad);
        if (!complete(&G[f], from, to, nch, shards)) {
            explain_missing(&G[f], face, from, to, nch, shards);
            fail_msg("%s face: seqs %d..%d not each delivered exactly once", face, from, to - 1);
        }
        assert_int_equal(G[f].dup, 0);
        assert_int_equal(G[f].bad, 0);
    }
}

static void stop_fake(void);

static int cleanup(void **state)
{
    (void)state;
    clusterc_async_free(L.a);
    if (L.base)
        event_base_free(L.base);
    clusterc_free(L.c);
    clusterc_free(L.pub);
    if (L.killed > 0) {
        if (harness_restart(H, L.killed) != 0 || harness_wait_ok(H, 30) != 0)
            fprintf(stderr, "cleanup: restarting %d failed\n", L.killed);
    }
    memset(&L, 0, sizeof(L));
    stop_fake();
    memset(G, 0, sizeof(G));
    return 0;
}

/* ---------------------------------------------- stable: exactly once */

static void stable_case(int async_face)
{
    if (async_face)
        aopen();
    else
        bopen();
    pubopen(2000);
    /* The 50 shard channels spread over every shard. */
    int on[3] = { 0, 0, 0 };
    char name[32];
    for (int i = 0; i < NCH; i++) {
        name_of(2, i, name, sizeof(name));
        for (int m = 0; m < 3; m++)
            on[m] += port_of(name) == harness_nth_port(H, "master", m);
    }
    fprintf(stderr, "  shard channels per primary: %d %d %d\n", on[0], on[1], on[2]);
    assert_true(on[0] > 0 && on[1] > 0 && on[2] > 0);
    subscribe_all(NCH, NCH);
    wait_subscribed(NCH, NCH, 1);
    /* 20 rounds: 1,000 SPUBLISH over 50 shard channels, 1,000 PUBLISH over
     * 50 classic channels, 1,000 matching the pattern. */
    for (int s = 1; s <= 20; s++) {
        assert_int_equal(publish_round(s, NCH, NCH), 0);
        pump(0);
    }
    wait_complete(1, 21, NCH, NCH, 20000);
    clusterc_stats st;
    if (L.a)
        clusterc_async_get_stats(L.a, &st);
    else
        clusterc_get_stats(L.c, &st);
    fprintf(stderr, "  stats: messages %llu dropped %llu resubscribes %llu\n",
            (unsigned long long)st.messages, (unsigned long long)st.messages_dropped,
            (unsigned long long)st.resubscribes);
    assert_int_equal(st.messages, 3000);
    assert_int_equal(st.messages_dropped, 0);

    /* Unsubscribed: nothing more for that channel. Not subscribed: -1. */
    name_of(2, 0, name, sizeof(name));
    if (L.a) {
        assert_int_equal(clusterc_async_unsubscribe(L.a, CLUSTERC_PUBSUB_SHARD, name), 0);
        assert_int_equal(clusterc_async_unsubscribe(L.a, CLUSTERC_PUBSUB_SHARD, name), -1);
        assert_int_equal(clusterc_async_unsubscribe(L.a, CLUSTERC_PUBSUB_PATTERN, "nope*"), -1);
    } else {
        assert_int_equal(clusterc_unsubscribe(L.c, CLUSTERC_PUBSUB_SHARD, name), 0);
        assert_int_equal(clusterc_unsubscribe(L.c, CLUSTERC_PUBSUB_SHARD, name), -1);
    }
    redisReply *r = clusterc_command(L.pub, "SPUBLISH %s 30", name);
    freeReplyObject(r);
    pump(300);
    assert_int_equal(G[async_face ? 0 : 1].n[2][0][30], 0);
}

static void test_stable_async(void **state) { (void)state; stable_case(1); }
static void test_stable_blocking(void **state) { (void)state; stable_case(0); }

/* The blocking face's queue: messages that come while the caller does
 * other things wait for clusterc_next_message, up to pubsub_queue_max. */
static void test_blocking_queue_cap(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);
    o.pubsub_queue_max = 10;
    L.c = it_client(H, &o);
    pubopen(2000);
    assert_int_equal(clusterc_subscribe(L.c, CLUSTERC_PUBSUB_SHARD, "{ss0}"), 0);
    assert_int_equal(clusterc_subscribe(L.c, CLUSTERC_PUBSUB_SHARD, "{ss0}"), 0);   /* harmless */
    assert_int_equal(clusterc_subscribe(L.c, 99, "x"), -1);
    assert_int_equal(clusterc_subscribe(L.c, CLUSTERC_PUBSUB_SHARD, ""), -1);
    wait_subscribed(0, 1, 1);
    for (int s = 1; s <= 30; s++) {
        redisReply *r = clusterc_command(L.pub, "SPUBLISH {ss0} %d", s);
        assert_non_null(r);
        freeReplyObject(r);
    }
    usleep(300000);
    /* A command on the subscriber's client takes the messages in. */
    redisReply *r = clusterc_command(L.c, "GET {ss0}k");
    assert_non_null(r);
    freeReplyObject(r);
    clusterc_message m;
    int n = 0, lastseq = 0;
    while (clusterc_next_message(L.c, &m, 200) == 1) {
        char pay[16];
        snprintf(pay, sizeof(pay), "%.*s", (int)m.payload_len, m.payload);
        n++;
        lastseq = atoi(pay);
    }
    clusterc_stats st;
    clusterc_get_stats(L.c, &st);
    fprintf(stderr, "  queued %d, last %d, dropped %llu\n", n, lastseq,
            (unsigned long long)st.messages_dropped);
    assert_int_equal(n, 10);
    assert_int_equal(lastseq, 30);   /* the oldest went */
    assert_int_equal(st.messages_dropped, 20);
    assert_int_equal(clusterc_next_message(L.c, &m, 0), 0);
    /* Unsubscribing drops what is still queued of it: none comes out. */
    for (int s = 1; s <= 5; s++) {
        r = clusterc_command(L.pub, "SPUBLISH {ss0} %d", s);
        assert_non_null(r);
        freeReplyObject(r);
    }
    usleep(300000);
    r = clusterc_command(L.c, "GET {ss0}k");   /* takes them in */
    assert_non_null(r);
    freeReplyObject(r);
    assert_int_equal(clusterc_unsubscribe(L.c, CLUSTERC_PUBSUB_SHARD, "{ss0}"), 0);
    assert_int_equal(clusterc_next_message(L.c, &m, 200), 0);
}

/* ------------------------------------------------ failover, migration */

#define RCH 5    /* classic and pattern channels in the resubscribe cases */

/* The longest time a channel of face g went without a message since the
 * event (publishes come every ~100 ms): the resubscribe gap. */
static int64_t worst_gap(const got *g, char *which, size_t cap)
{
    int64_t worst = 0;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < (k == 2 ? NCH : RCH); i++)
            if (g->max_gap[k][i] > worst) {
                worst = g->max_gap[k][i];
                name_of(k, i, which, cap);
            }
    return worst;
}

static int all_after(const got *g)
{
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < (k == 2 ? NCH : RCH); i++)
            if (!g->first_after[k][i])
                return 0;
    return 1;
}

typedef int event_done_fn(int arg);
#define FACE_ASYNC 1
#define FACE_BLOCKING 2

/* Publish a round every ~100 ms from `seq` on (pumping both faces) until
 * the event is over as the servers see it (done(arg)), the faces in
 * `resub` counted a resubscription, and then every channel of each face
 * got a message published after that; then 10 more rounds must all
 * arrive, exactly once. */
static int after_event(const char *what, int64_t t0, int seq, event_done_fn *done, int arg,
                       int resub)
{
    int64_t end = t0 + 40000, marked = 0;
    int failed = 0, mark = 0;
    clusterc_stats sa, sb;
    G[0].since = G[1].since = t0;
    while (it_now_ms() < end && !(mark && all_after(&G[0]) && all_after(&G[1]))) {
        failed += publish_round(seq++, RCH, NCH);
        pump(100);
        clusterc_async_get_stats(L.a, &sa);
        clusterc_get_stats(L.c, &sb);
        if (!mark && done(arg) && (!(resub & FACE_ASYNC) || sa.resubscribes > 0) &&
            (!(resub & FACE_BLOCKING) || sb.resubscribes > 0)) {
            mark = seq;
            marked = it_now_ms();
            G[0].after_seq = G[1].after_seq = mark;
        }
    }
    char wa[32] = "-", wb[32] = "-";
    int64_t ga = worst_gap(&G[0], wa, sizeof(wa)), gb = worst_gap(&G[1], wb, sizeof(wb));
    fprintf(stderr, "  %s: resubscribe gap (longest silence of a channel) async %lld ms (%s), "
            "blocking %lld ms (%s); settled after %lld ms; %d publishes failed\n", what,
            (long long)ga, wa, (long long)gb, wb, (long long)(marked ? marked - t0 : -1), failed);
    if (!mark)
        fail_msg("%s: not over after 40 s (servers: %s; resubscribes async %llu blocking %llu)",
                 what, done(arg) ? "done" : "not done", (unsigned long long)sa.resubscribes,
                 (unsigned long long)sb.resubscribes);
    for (int f = 0; f < 2; f++)
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < (k == 2 ? NCH : RCH); i++)
                if (!G[f].first_after[k][i]) {
                    char name[32];
                    name_of(k, i, name, sizeof(name));
                    fail_msg("%s: %s face: nothing on %s (owner %d) published after the "
                             "resubscription", what, f ? "blocking" : "async", name,
                             k == 2 ? port_of(name) : 0);
                }
    pump(500);
    int from = seq;
    for (int i = 0; i < 10; i++)
        assert_int_equal(publish_round(seq++, RCH, NCH), 0);
    wait_complete(from, seq, RCH, NCH, 10000);
    clusterc_async_get_stats(L.a, &sa);
    clusterc_get_stats(L.c, &sb);
    fprintf(stderr, "  resubscribes async %llu blocking %llu; unsubscribed_us async %llu "
            "blocking %llu\n", (unsigned long long)sa.resubscribes,
            (unsigned long long)sb.resubscribes, (unsigned long long)sa.unsubscribed_us,
            (unsigned long long)sb.unsubscribed_us);
    assert_true(sa.resubscribes + sb.resubscribes > 0);
    if (resub & FACE_ASYNC)
        assert_true(sa.resubscribes > 0);
    if (resub & FACE_BLOCKING)
        assert_true(sb.resubscribes > 0);
    return seq;
}

static int always_done(int arg) { (void)arg; return 1; }
/* The slot of "{ssN}" (N = arg % 100) is served by port arg / 100 or, for
 * a negative arg, no longer by port -arg / 100. */
static int owner_is(int arg)
{
    char name[16];
    int a = arg < 0 ? -arg : arg;
    snprintf(name, sizeof(name), "{ss%d}", a % 100);
    int p = harness_primary_of_slot(H, clusterc_keyslot(name, strlen(name)));
    return arg < 0 ? p > 0 && p != a / 100 : p == a / 100;
}

/* Both faces subscribed; a few stable rounds; returns the next seq. */
static int resub_setup(void)
{
    aopen();
    bopen();
    pubopen(300);
    subscribe_all(RCH, NCH);
    wait_subscribed(RCH, NCH, 2);
    for (int s = 1; s <= 3; s++)
        assert_int_equal(publish_round(s, RCH, NCH), 0);
    wait_complete(1, 4, RCH, NCH, 10000);
    return 4;
}

static void test_manual_failover(void **state)
{
    (void)state;
    int seq = resub_setup();
    int victim = port_of("{ss0}");
    int replica = probe_replica_of(H, victim);
    assert_true(replica > 0);
    int64_t t0 = it_now_ms();
    it_node_ok(H, replica, "CLUSTER FAILOVER");
    after_event("manual failover", t0, seq, owner_is, replica * 100 + 0,
                FACE_ASYNC | FACE_BLOCKING);
    assert_int_equal(harness_wait_ok(H, 30), 0);
    assert_int_equal(port_of("{ss0}"), replica);
}

static void test_live_migration(void **state)
{
    (void)state;
    int seq = resub_setup();
    int slot = clusterc_keyslot("ss1", 3);
    int src = port_of("{ss1}"), dst = it_other_master(H, src);
    int64_t t0 = it_now_ms();
    assert_int_equal(probe_slot_open(H, slot, src, dst), 0);
    assert_int_equal(probe_slot_close(H, slot, src, dst), 0);
    fprintf(stderr, "  slot %d of {ss1}: %d -> %d\n", slot, src, dst);
    after_event("live migration", t0, seq, always_done, 0, FACE_ASYNC | FACE_BLOCKING);
    assert_int_equal(sum_over_nodes("PUBSUB SHARDNUMSUB %s", "{ss1}", 1), 2);
}

static void test_sigkill_primary(void **state)
{
    (void)state;
    int seq = resub_setup();
    int victim = port_of("{ss2}");
    int64_t t0 = it_now_ms();
    assert_int_equal(harness_kill(H, victim, "KILL"), 0);
    L.killed = victim;
    after_event("SIGKILL of a primary", t0, seq, owner_is, -(victim * 100 + 2),
                FACE_ASYNC | FACE_BLOCKING);
}

/* The node carrying a face's classic subscriber connection (name= of
 * CLIENT LIST, with sub= above 0), or 0. */
static int classic_node(const char *client_name)
{
    char needle[64];
    snprintf(needle, sizeof(needle), " name=%s ", client_name);
    for (int i = 0; i < harness_count(H); i++) {
        redisReply *r = harness_cmd(H, harness_port(H, i), "CLIENT LIST");
        int found = 0;
        for (const char *l = r && r->str ? r->str : ""; *l && !found;
             l = strchr(l, '\n') ? strchr(l, '\n') + 1 : "") {
            const char *e = strchr(l, '\n') ? strchr(l, '\n') : l + strlen(l);
            const char *nm = strstr(l, needle), *sub = strstr(l, " sub=");
            found = nm && sub && nm < e && sub < e && atoi(sub + 5) > 0;
        }
        freeReplyObject(r);
        if (found)
            return harness_port(H, i);
    }
    return 0;
}

/* The node of the classic channels and the pattern dies (a replica or a
 * primary): both come back on another node. */
static void test_kill_classic_node(void **state)
{
    (void)state;
    int seq = resub_setup();
    int na = classic_node("t9-async"), nb = classic_node("t9-blocking");
    fprintf(stderr, "  classic subscriber connections: async on %d, blocking on %d\n", na, nb);
    if (!na || !nb)
        fail_msg("no named classic subscriber connection (client_name on subscriber connections?)");
    int64_t t0 = it_now_ms();
    assert_int_equal(harness_kill(H, na, "KILL"), 0);
    L.killed = na;
    after_event("SIGKILL of the classic channels' node", t0, seq, always_done, 0,
                FACE_ASYNC | (nb == na ? FACE_BLOCKING : 0));
    int now = classic_node("t9-async");
    assert_true(now > 0 && now != na);
}

/* ------------------------------------------ graceful disconnect, DRAINED */

static int drained;
static void on_event(const clusterc_event *ev, void *p)
{
    (void)p;
    drained += ev->type == CLUSTERC_EVENT_DRAINED;
}

static void tick(evutil_socket_t fd, short what, void *arg) { (void)fd; (void)what; (void)arg; }

static void test_disconnect_drains(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    o.command_timeout_ms = 500;
    o.on_event = on_event;
    drained = 0;
    L.base = event_base_new();
    L.a = clusterc_async_connect(L.base, &o);
    subscribe_all(RCH, NCH);
    wait_subscribed(RCH, NCH, 1);
    int64_t t0 = it_now_ms();
    clusterc_async_disconnect(L.a);
    /* As event_base_dispatch, with a tick of ours to keep the watch. */
    const int flags = EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE | EVENT_BASE_COUNT_VIRTUAL;
    struct event *t = event_new(L.base, -1, EV_PERSIST, tick, NULL);
    event_add(t, &(struct timeval){ 0, 5000 });
    while (it_now_ms() - t0 < 3000 && event_base_get_num_events(L.base, flags) > 1)
        event_base_loop(L.base, EVLOOP_ONCE);
    event_free(t);
    int64_t took = it_now_ms() - t0;
    int left = event_base_get_num_events(L.base, flags);
    fprintf(stderr, "  drained in %lld ms, %d events left, DRAINED %d\n", (long long)took, left,
            drained);
    assert_int_equal(left, 0);
    assert_int_equal(event_base_dispatch(L.base), 1);
    assert_int_equal(drained, 1);
    assert_true(took <= 1500);   /* nothing pending: at once, within the deadline */
    /* The servers have no subscriber of ours left. */
    usleep(100000);
    assert_int_equal(psubs(), 0);
    assert_int_equal(sum_over_nodes("PUBSUB SHARDNUMSUB %s", "{ss0}", 1), 0);
    /* Refused now. */
    assert_int_equal(clusterc_async_subscribe(L.a, "late", on_msg, &G[0]), -1);
    clusterc_async_free(L.a);
    L.a = NULL;
    event_base_free(L.base);
    L.base = NULL;
    leak_check();
}

/* ----------------------------------------------------- the fake server */

static void write_file(const char *name, const char *text, char *path, size_t cap)
{
    if (!F.dir[0]) {
        snprintf(F.dir, sizeof(F.dir), "/tmp/clusterc-pubsub-XXXXXX");
        assert_non_null(mkdtemp(F.dir));
    }
    snprintf(path, cap, "%s/%s", F.dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void start_fake(const char *script)
{
    char path[128], cmd[1024], line[128] = "";
    write_file("a.fake", script, path, sizeof(path));
    write_file("fake.log", "", F.log, sizeof(F.log));
    snprintf(cmd, sizeof(cmd), "echo $$; exec %s %s --timeout 40 --log %s --listen %d:%s",
             PYTHON, FAKE_SERVER, F.log, PA, path);
    F.out = popen(cmd, "r");
    assert_non_null(F.out);
    assert_non_null(fgets(line, sizeof(line), F.out));
    F.pid = atoi(line);
    if (!fgets(line, sizeof(line), F.out) || !strstr(line, "READY"))
        fail_msg("the fake server did not start");
}

static void stop_fake(void)
{
    if (F.pid > 0) {
        kill(F.pid, SIGTERM);
        pclose(F.out);
    }
    F.pid = 0;
    F.out = NULL;
}

static void dump_log(void)
{
    char line[512];
    FILE *f = fopen(F.log, "r");
    while (f && fgets(line, sizeof(line), f))
        fprintf(stderr, "    fake: %s", line);
    if (f)
        fclose(f);
}

/* Connections that sent a command starting with cmd; *first gets the
 * first one's number. Also whether that connection was closed. */
static int log_conns(const char *cmd, int *first, int *first_closed)
{
    char line[512];
    int n = 0, c1 = 0;
    FILE *f = fopen(F.log, "r");
    *first_closed = 0;
    while (f && fgets(line, sizeof(line), f)) {
        double ms;
        int port, c, off = 0;
        if (sscanf(line, "%lf %d %d %n", &ms, &port, &c, &off) != 3)
            continue;
        if (strncasecmp(line + off, "CMD ", 4) == 0 &&
            strncasecmp(line + off + 4, cmd, strlen(cmd)) == 0) {
            if (!n++)
                c1 = c;
        }
        if (c1 && c == c1 && strncmp(line + off, "CLOSED", 6) == 0)
            *first_closed = 1;
    }
    if (f)
        fclose(f);
    *first = c1;
    return n;
}

/* A CLUSTER SHARDS reply (script escapes): one shard, every slot, on PA. */
static void shards_map(char *out, size_t cap)
{
    snprintf(out, cap,
             "*1\\r\\n*4\\r\\n$5\\r\\nslots\\r\\n*2\\r\\n:0\\r\\n:16383\\r\\n"
             "$5\\r\\nnodes\\r\\n*1\\r\\n*14\\r\\n"
             "$2\\r\\nid\\r\\n$40\\r\\n%040d\\r\\n$4\\r\\nport\\r\\n:%d\\r\\n"
             "$2\\r\\nip\\r\\n$9\\r\\n127.0.0.1\\r\\n$8\\r\\nendpoint\\r\\n$9\\r\\n127.0.0.1\\r\\n"
             "$4\\r\\nrole\\r\\n$6\\r\\nmaster\\r\\n$18\\r\\nreplication-offset\\r\\n:0\\r\\n"
             "$6\\r\\nhealth\\r\\n$6\\r\\nonline\\r\\n", PA, PA);
}

static char script[16384];

static void fake_script(const char *body)
{
    char map[2048];
    shards_map(map, sizeof(map));
    snprintf(script, sizeof(script),
             "ALWAYS COMMAND ... => -ERR no\\r\\n\n"
             "ALWAYS CLUSTER SHARDS => %s\n"
             "ALWAYS PING => +PONG\\r\\n\n"
             "%sSLEEP 30000\n", map, body);
}

#define SUB_OK "*3\\r\\n$9\\r\\nsubscribe\\r\\n$2\\r\\nch\\r\\n:1\\r\\n"
#define MSG "*3\\r\\n$7\\r\\nmessage\\r\\n$2\\r\\nch\\r\\n$%d\\r\\n%s\\r\\n"
#define SSUB_OK "*3\\r\\n$10\\r\\nssubscribe\\r\\n$6\\r\\n{x}sch\\r\\n:1\\r\\n"

/* Run a client of the face on the fake until the payloads joined by "|"
 * are `want`, or 10 s. */
static void fake_client(int async_face, int kind, const char *name, const char *want)
{
    clusterc_options o;
    clusterc_options_init(&o);
    char seeds[32];
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%d", PA);
    o.seeds = seeds;
    o.command_timeout_ms = 1000;
    got *g = &G[async_face ? 0 : 1];
    if (async_face) {
        L.base = event_base_new();
        L.a = clusterc_async_connect(L.base, &o);
        int rc = kind == CLUSTERC_PUBSUB_SHARD ? clusterc_async_ssubscribe(L.a, name, on_msg, g)
                                               : clusterc_async_subscribe(L.a, name, on_msg, g);
        assert_int_equal(rc, 0);
    } else {
        L.c = clusterc_connect(&o);
        assert_non_null(L.c);
        if (clusterc_error(L.c))
            fail_msg("connect to the fake: %s", clusterc_errstr(L.c));
        assert_int_equal(clusterc_subscribe(L.c, kind, name), 0);
    }
    int64_t end = it_now_ms() + 10000;
    while (it_now_ms() < end && strcmp(g->joined, want) != 0)
        pump(20);
    pump(200);
    clusterc_stats st;
    if (L.a)
        clusterc_async_get_stats(L.a, &st);
    else
        clusterc_get_stats(L.c, &st);
    fprintf(stderr, "  %s face: payloads \"%s\", resubscribes %llu, messages %llu\n",
            async_face ? "async" : "blocking", g->joined, (unsigned long long)st.resubscribes,
            (unsigned long long)st.messages);
    if (strcmp(g->joined, want) != 0) {
        dump_log();
        fail_msg("payloads \"%s\", want \"%s\"", g->joined, want);
    }
    assert_true(st.resubscribes >= 1);
}

/* The subscriber connection drops in the middle of a message: the client
 * reconnects and subscribes again; the cut message is not delivered. */
static void fake_drop_mid_message(int async_face)
{
    char body[2048];
    snprintf(body, sizeof(body),
             "EXPECT SUBSCRIBE ch\nSEND " SUB_OK MSG "\nSLEEP 200\n"
             "SEND *3\\r\\n$7\\r\\nmessage\\r\\n$2\\r\\nch\\r\\n$5\\r\\ntw\nCLOSE\n"
             "EXPECT SUBSCRIBE ch\nSEND " SUB_OK "\nSLEEP 200\nSEND " MSG "\n",
             3, "one", 5, "three");
    fake_script(body);
    start_fake(script);
    fake_client(async_face, CLUSTERC_PUBSUB_CHANNEL, "ch", "one|three|");
    int first, closed;
    assert_int_equal(log_conns("SUBSCRIBE", &first, &closed), 2);
}

static void test_fake_drop_async(void **state) { (void)state; fake_drop_mid_message(1); }
static void test_fake_drop_blocking(void **state) { (void)state; fake_drop_mid_message(0); }

/* A malformed push on the subscriber connection: the client closes that
 * connection (it cannot trust what follows) and subscribes again. */
static void fake_malformed(int async_face, const char *push)
{
    char body[2048];
    snprintf(body, sizeof(body),
             "EXPECT SUBSCRIBE ch\nSEND " SUB_OK MSG "\nSLEEP 200\nSEND %s\n"
             "EXPECT SUBSCRIBE ch\nSEND " SUB_OK "\nSLEEP 200\nSEND " MSG "\n",
             3, "one", push, 5, "after");
    fake_script(body);
    start_fake(script);
    fake_client(async_face, CLUSTERC_PUBSUB_CHANNEL, "ch", "one|after|");
    int first, closed;
    assert_int_equal(log_conns("SUBSCRIBE", &first, &closed), 2);
    if (!closed) {
        dump_log();
        fail_msg("the connection that carried the malformed push was not closed");
    }
    stop_fake();
    cleanup(NULL);
}

static void fake_malformed_all(int async_face)
{
    /* a message without its payload; a bare integer; a channel that is an
     * array */
    fake_malformed(async_face, "*2\\r\\n$7\\r\\nmessage\\r\\n$2\\r\\nch\\r\\n");
    fake_malformed(async_face, ":42\\r\\n");
    fake_malformed(async_face, "*3\\r\\n$7\\r\\nmessage\\r\\n*1\\r\\n:1\\r\\n$1\\r\\nx\\r\\n");
}

static void test_fake_malformed_async(void **state) { (void)state; fake_malformed_all(1); }
static void test_fake_malformed_blocking(void **state) { (void)state; fake_malformed_all(0); }

/* The server drops a shard channel the client still wants (what a slot
 * migration does): the client subscribes to it again. */
static void fake_sunsubscribe(int async_face)
{
    char body[2048];
    snprintf(body, sizeof(body),
             "EXPECT SSUBSCRIBE {x}sch\nSEND " SSUB_OK "\nSLEEP 200\n"
             "SEND *3\\r\\n$8\\r\\nsmessage\\r\\n$6\\r\\n{x}sch\\r\\n$6\\r\\nbefore\\r\\n"
             "*3\\r\\n$12\\r\\nsunsubscribe\\r\\n$6\\r\\n{x}sch\\r\\n:0\\r\\n\n"
             "EXPECT SSUBSCRIBE {x}sch\nSEND " SSUB_OK "\nSLEEP 200\n"
             "SEND *3\\r\\n$8\\r\\nsmessage\\r\\n$6\\r\\n{x}sch\\r\\n$5\\r\\nagain\\r\\n\n");
    fake_script(body);
    start_fake(script);
    fake_client(async_face, CLUSTERC_PUBSUB_SHARD, "{x}sch", "before|again|");
}

/* ---------------------------------------- shard channels on a replica */

/* With a read policy on, a shard subscription may use an eligible replica
 * (Redis 7 serves SSUBSCRIBE there): the replica counts the subscriber,
 * its primary does not, and every SPUBLISH still arrives once. */
static void test_replica_subscription(void **state)
{
    (void)state;
    char name[32];
    name_of(2, 7, name, sizeof(name));
    int primary = port_of(name), replica = probe_replica_of(H, primary);
    assert_true(replica > 0);
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    o.read_only = 1;
    L.base = event_base_new();
    L.a = clusterc_async_connect(L.base, &o);
    assert_non_null(L.a);
    pubopen(2000);
    assert_int_equal(clusterc_async_ssubscribe(L.a, name, on_msg, &G[0]), 0);
    int64_t end = it_now_ms() + 20000;
    while (node_count(replica, "PUBSUB SHARDNUMSUB %s", name) < 1 && it_now_ms() < end)
        pump(100);
    assert_int_equal(node_count(replica, "PUBSUB SHARDNUMSUB %s", name), 1);
    assert_int_equal(node_count(primary, "PUBSUB SHARDNUMSUB %s", name), 0);
    for (int seq = 1; seq <= 20; seq++) {
        redisReply *r = clusterc_command(L.pub, "SPUBLISH %s %d", name, seq);
        assert_non_null(r);
        freeReplyObject(r);
    }
    for (int64_t stop = it_now_ms() + 5000; G[0].total < 20 && it_now_ms() < stop;)
        pump(50);
    assert_int_equal(G[0].total, 20);
    assert_int_equal(G[0].dup, 0);
    assert_int_equal(G[0].bad, 0);
}

static void test_fake_sunsubscribe_async(void **state) { (void)state; fake_sunsubscribe(1); }
static void test_fake_sunsubscribe_blocking(void **state) { (void)state; fake_sunsubscribe(0); }

/* -------------------------------------------- subscriptions refused */

/* An ACL user allowed the channels t9ok:* only, made on every node (the
 * cluster bus does not carry ACLs). */
#define RUSER "t9sub"
#define RPASS "Rf5sUb7xQw"
#define ROUNDS 40

static struct {
    int refused, code, ok[2], bad;
    char detail[1024], node[64];
} R;

static void on_refused(const clusterc_event *ev, void *p)
{
    (void)p;
    if (ev->type != CLUSTERC_EVENT_SUBSCRIBE_REFUSED)
        return;
    R.refused++;
    R.code = ev->code;
    snprintf(R.node, sizeof(R.node), "%s", ev->node ? ev->node : "(none)");
    size_t at = strlen(R.detail);
    snprintf(R.detail + at, sizeof(R.detail) - at, "%s|", ev->detail);
}

static void rnote(const clusterc_message *m)
{
    if (m->channel_len == 6 && memcmp(m->channel, "t9ok:c", 6) == 0)
        R.ok[0]++;
    else if (m->channel_len == 9 && memcmp(m->channel, "t9ok:{r1}", 9) == 0)
        R.ok[1]++;
    else
        R.bad++;
}

static void on_rmsg(clusterc_async *a, const clusterc_message *m, void *p)
{
    (void)a; (void)p;
    rnote(m);
}

static void rpump(int ms)
{
    int64_t end = it_now_ms() + ms;
    int never = 0;
    clusterc_message m;
    do {
        if (L.base)
            it_loop_until(L.base, &never, 10);
        while (L.c && clusterc_next_message(L.c, &m, 10) == 1)
            rnote(&m);
    } while (it_now_ms() < end);
}

static void acl_all(const char *cmd)
{
    for (int i = 0; i < harness_count(H); i++) {
        redisReply *r = harness_cmd(H, harness_port(H, i), cmd);
        if (!r || r->type == REDIS_REPLY_ERROR)
            fail_msg("%s on %d: %s", cmd, harness_port(H, i), r ? r->str : "no reply");
        freeReplyObject(r);
    }
}

static int rsub(int kind, const char *name)
{
    if (L.a)
        return kind == CLUSTERC_PUBSUB_SHARD ? clusterc_async_ssubscribe(L.a, name, on_rmsg, NULL)
                                             : clusterc_async_subscribe(L.a, name, on_rmsg, NULL);
    return clusterc_subscribe(L.c, kind, name);
}

static int runsub(int kind, const char *name)
{
    return L.a ? clusterc_async_unsubscribe(L.a, kind, name) : clusterc_unsubscribe(L.c, kind, name);
}

static void rstats(clusterc_stats *st)
{
    if (L.a)
        clusterc_async_get_stats(L.a, st);
    else
        clusterc_get_stats(L.c, st);
}

/* Open a client of the face as the ACL user; subscribe to an allowed and a
 * refused classic channel, and an allowed and a refused shard channel of
 * the same slot (one subscriber connection): wait for the refusals. */
static void refused_open(int async_face)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(H);
    o.username = RUSER;
    o.password = RPASS;
    o.on_event = on_refused;
    memset(&R, 0, sizeof(R));
    if (async_face) {
        L.base = event_base_new();
        L.a = clusterc_async_connect(L.base, &o);
        assert_non_null(L.a);
    } else {
        L.c = clusterc_connect(&o);
        assert_non_null(L.c);
        if (clusterc_error(L.c))
            fail_msg("connect as " RUSER ": %s", clusterc_errstr(L.c));
    }
    assert_int_equal(rsub(CLUSTERC_PUBSUB_CHANNEL, "t9ok:c"), 0);
    assert_int_equal(rsub(CLUSTERC_PUBSUB_CHANNEL, "t9no:c"), 0);
    assert_int_equal(rsub(CLUSTERC_PUBSUB_SHARD, "t9ok:{r1}"), 0);
    assert_int_equal(rsub(CLUSTERC_PUBSUB_SHARD, "t9no:{r1}"), 0);
    int64_t end = it_now_ms() + 10000;
    while (it_now_ms() < end &&
           (R.refused < 2 || sum_over_nodes("PUBSUB NUMSUB %s", "t9ok:c", 0) < 1 ||
            sum_over_nodes("PUBSUB SHARDNUMSUB %s", "t9ok:{r1}", 1) < 1))
        rpump(50);
    fprintf(stderr, "  refused events %d, code %d, node %s: %s\n", R.refused, R.code, R.node,
            R.detail);
    assert_int_equal(R.refused, 2);
}

/* A refused subscription is dropped and reported once; the others on the
 * same connection keep their messages; no reconnect, no loop, no leak. */
static void refused_case(int async_face)
{
    clusterc_stats st0, st;
    acl_all("ACL SETUSER " RUSER " reset on >" RPASS " allcommands allkeys resetchannels &t9ok:*");
    refused_open(async_face);
    assert_int_equal(R.code, CLUSTERC_EUSAGE);
    assert_non_null(strstr(R.detail, "SUBSCRIBE t9no:c: NOPERM"));
    assert_non_null(strstr(R.detail, "SSUBSCRIBE t9no:{r1}: NOPERM"));
    assert_int_equal(sum_over_nodes("PUBSUB NUMSUB %s", "t9ok:c", 0), 1);
    assert_int_equal(sum_over_nodes("PUBSUB SHARDNUMSUB %s", "t9ok:{r1}", 1), 1);
    rstats(&st0);
    pubopen(2000);
    for (int i = 0; i < ROUNDS; i++) {
        freeReplyObject(clusterc_command(L.pub, "PUBLISH t9ok:c %d", i));
        freeReplyObject(clusterc_command(L.pub, "SPUBLISH t9ok:{r1} %d", i));
        rpump(25);
    }
    for (int64_t end = it_now_ms() + 5000; it_now_ms() < end && R.ok[0] + R.ok[1] < 2 * ROUNDS;)
        rpump(50);
    rpump(300);
    rstats(&st);
    fprintf(stderr, "  messages %d + %d of %d each, bad %d; connects %llu (%llu when "
            "subscribed), refused %llu, resubscribes %llu, refresh requests %llu\n", R.ok[0],
            R.ok[1], ROUNDS, R.bad, (unsigned long long)st.connects,
            (unsigned long long)st0.connects, (unsigned long long)st.subscribes_refused,
            (unsigned long long)st.resubscribes, (unsigned long long)st.refresh_requests);
    assert_int_equal(R.ok[0], ROUNDS);
    assert_int_equal(R.ok[1], ROUNDS);
    assert_int_equal(R.bad, 0);
    assert_int_equal(R.refused, 2);             /* once each, never again */
    assert_int_equal(st.subscribes_refused, 2);
    assert_int_equal(st.resubscribes, 0);
    assert_int_equal(st.connects, st0.connects);   /* nothing redialled */
    assert_true(st.connects <= 8);   /* 6 nodes' command connections + 2 subscriber */
    /* Dropped: not subscribed any more; asking again asks the server. */
    assert_int_equal(runsub(CLUSTERC_PUBSUB_CHANNEL, "t9no:c"), -1);
    assert_int_equal(rsub(CLUSTERC_PUBSUB_CHANNEL, "t9no:c"), 0);
    for (int64_t end = it_now_ms() + 5000; it_now_ms() < end && R.refused < 3;)
        rpump(50);
    assert_int_equal(R.refused, 3);
    assert_int_equal(runsub(CLUSTERC_PUBSUB_CHANNEL, "t9ok:c"), 0);
    if (L.a) {
        clusterc_async_free(L.a);
        event_base_free(L.base);
        L.a = NULL;
        L.base = NULL;
    } else {
        clusterc_free(L.c);
        L.c = NULL;
    }
    acl_all("ACL DELUSER " RUSER);
    leak_check();
}

static void test_refused_async(void **state) { (void)state; refused_case(1); }
static void test_refused_blocking(void **state) { (void)state; refused_case(0); }

/* Refusals that pass (CLUSTERDOWN, TRYAGAIN) keep the subscription and the
 * connection: the same connection subscribes again after a backoff. */
static void test_fake_passing_refusal(void **state)
{
    (void)state;
    char body[2048], seeds[32];
    snprintf(body, sizeof(body),
             "EXPECT SSUBSCRIBE {x}sch\nSEND -CLUSTERDOWN Hash slot not served\\r\\n\n"
             "EXPECT SSUBSCRIBE {x}sch\nSEND -TRYAGAIN try again later\\r\\n\n"
             "EXPECT SSUBSCRIBE {x}sch\nSEND " SSUB_OK "\nSLEEP 200\n"
             "SEND *3\\r\\n$8\\r\\nsmessage\\r\\n$6\\r\\n{x}sch\\r\\n$5\\r\\nagain\\r\\n\n");
    fake_script(body);
    start_fake(script);
    clusterc_options o;
    clusterc_options_init(&o);
    snprintf(seeds, sizeof(seeds), "127.0.0.1:%d", PA);
    o.seeds = seeds;
    o.command_timeout_ms = 1000;
    o.on_event = on_refused;
    memset(&R, 0, sizeof(R));
    L.base = event_base_new();
    L.a = clusterc_async_connect(L.base, &o);
    assert_non_null(L.a);
    int64_t t0 = it_now_ms();
    assert_int_equal(clusterc_async_ssubscribe(L.a, "{x}sch", on_msg, &G[0]), 0);
    while (it_now_ms() - t0 < 10000 && strcmp(G[0].joined, "again|") != 0)
        pump(20);
    clusterc_stats st;
    clusterc_async_get_stats(L.a, &st);
    int first, closed, n = log_conns("SSUBSCRIBE", &first, &closed);
    fprintf(stderr, "  payloads \"%s\" after %lld ms; SSUBSCRIBE %d times, connects %llu, "
            "retries %llu, refused events %d\n", G[0].joined, (long long)(it_now_ms() - t0), n,
            (unsigned long long)st.connects, (unsigned long long)st.retries, R.refused);
    if (strcmp(G[0].joined, "again|") != 0)
        dump_log();
    assert_string_equal(G[0].joined, "again|");
    assert_int_equal(n, 3);
    assert_int_equal(closed, 0);
    assert_int_equal(R.refused, 0);
    assert_int_equal(st.subscribes_refused, 0);
    assert_true(st.retries >= 2);
    assert_true(st.connects <= 2);   /* the command connection and one subscriber */
}

/* ------------------------------------------------------------- main */

static int setup(void **state)
{
    (void)state;
    const char *shift = getenv("CLUSTERC_TEST_PORT_SHIFT");
    PA += shift ? atoi(shift) : 0;
    H = harness_start(BASE, 3, 1, "--node-timeout 1000");
    return H ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(H);
    if (F.dir[0]) {
        char path[128];
        snprintf(path, sizeof(path), "%s/a.fake", F.dir);
        unlink(path);
        unlink(F.log);
        rmdir(F.dir);
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_stable_async, cleanup),
        cmocka_unit_test_teardown(test_stable_blocking, cleanup),
        cmocka_unit_test_teardown(test_blocking_queue_cap, cleanup),
        cmocka_unit_test_teardown(test_disconnect_drains, cleanup),
        cmocka_unit_test_teardown(test_fake_drop_async, cleanup),
        cmocka_unit_test_teardown(test_fake_drop_blocking, cleanup),
        cmocka_unit_test_teardown(test_fake_malformed_async, cleanup),
        cmocka_unit_test_teardown(test_fake_malformed_blocking, cleanup),
        cmocka_unit_test_teardown(test_fake_sunsubscribe_async, cleanup),
        cmocka_unit_test_teardown(test_fake_sunsubscribe_blocking, cleanup),
        cmocka_unit_test_teardown(test_replica_subscription, cleanup),
        cmocka_unit_test_teardown(test_refused_async, cleanup),
        cmocka_unit_test_teardown(test_refused_blocking, cleanup),
        cmocka_unit_test_teardown(test_fake_passing_refusal, cleanup),
        cmocka_unit_test_teardown(test_manual_failover, cleanup),
        cmocka_unit_test_teardown(test_live_migration, cleanup),
        cmocka_unit_test_teardown(test_kill_classic_node, cleanup),
        cmocka_unit_test_teardown(test_sigkill_primary, cleanup),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
