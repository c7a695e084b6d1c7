/* it_lifecycle.c -- issue 15, items 1 and 2: a drain that always ends,
 * errors that tell the truth, a teardown that frees everything. Drains run
 * on a real 3+3 cluster with a primary frozen (SIGSTOP) and on the fake
 * server leaving replies half-sent; map loads and reconnects during a drain
 * are read from the servers (INFO) and from the fake's journal (--log).
 * The resolver of this machine is off it, and tests send nothing off
 * loopback: the DNS cases run in a child ("--dns-child") in a private mount
 * namespace whose /etc/resolv.conf says "nameserver 127.0.0.1:22090"
 * (evdns takes a port there), served by tests/fake/dns_responder.py;
 * skipped, saying so, without the right to unshare.
 * Ports: cluster 22000-22005 (bus 32000-32005); fake nodes 22051-22052; a
 * listener that accepts nothing 22070; DNS (UDP) 22090. */
#define _GNU_SOURCE   /* unshare, mount */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <event2/util.h>
#include "itest.h"
#ifdef CLUSTERC_TEST_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif

#define BASE 22000
#define PA 22051
#define PB 22052
#define DEAD_END 22070   /* listens with a full backlog: connects hang */
#define DNS_PORT 22090
#define TIMEOUT_MS 500
#define SLACK_MS 1000    /* the contract: dispatch returns within timeout + 1 s */
#define NPROCS 8

static harness *H;
static int slot_port[CLUSTERC_SLOTS];
static char self_path[4096];
static pid_t frozen_pid;
static struct { pid_t pid; FILE *out; } procs[NPROCS];
static const char *guarding = "";
/* What a failed assertion leaves behind, released by cleanup(). */
static struct { clusterc_client *c; clusterc_async *a; struct event_base *base; int fd[2]; } L;
static struct { pid_t pid; char dir[64], log[96], dnslog[96]; } F;

/* ------------------------------------------------------------ helpers */

static void leak_check(void)
{
#ifdef CLUSTERC_TEST_SANITIZED
    assert_int_equal(__lsan_do_recoverable_leak_check(), 0);
#endif
}

/* A blocking call that never returns would stall the run: SIGALRM ends
 * the program, naming the call. */
static void on_alarm(int sig)
{
    static const char pre[] = "\nit_lifecycle: HUNG in ";
    (void)sig;
    (void)!write(2, pre, sizeof(pre) - 1);
    (void)!write(2, guarding, strlen(guarding));
    (void)!write(2, "\n", 1);
    _exit(3);
}

/* Run cmd; wait until it prints READY. The shell prints its pid, then
 * execs cmd, which keeps that pid. */
static pid_t spawn_ready(const char *cmd)
{
    char sh[1024], line[128] = "";
    int i = 0;
    snprintf(sh, sizeof(sh), "echo $$; exec %s", cmd);
    while (i < NPROCS - 1 && procs[i].pid)
        i++;
    procs[i].out = popen(sh, "r");
    assert_non_null(procs[i].out);
    assert_non_null(fgets(line, sizeof(line), procs[i].out));
    procs[i].pid = atoi(line);
    if (!fgets(line, sizeof(line), procs[i].out) || !strstr(line, "READY"))
        fail_msg("not ready: %s", cmd);
    return procs[i].pid;
}

static void proc_stop(pid_t pid)
{
    for (int i = 0; i < NPROCS; i++)
        if (procs[i].pid == pid) {
            kill(pid, SIGTERM);
            pclose(procs[i].out);
            procs[i].pid = 0;
        }
}

/* ------------------------------------------------------- fake servers */

static void write_file(const char *name, const char *text, char *path, size_t cap)
{
    if (!F.dir[0]) {
        snprintf(F.dir, sizeof(F.dir), "/tmp/clusterc-life-XXXXXX");
        assert_non_null(mkdtemp(F.dir));
    }
    snprintf(path, cap, "%s/%s", F.dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Fake nodes on PA (script a) and, when b != NULL, PB (script b). */
static void fake_start(const char *a, const char *b)
{
    char sa[128], sb[128], cmd[1024];
    write_file("a.fake", a, sa, sizeof(sa));
    write_file("b.fake", b ? b : "", sb, sizeof(sb));
    write_file("fake.log", "", F.log, sizeof(F.log));
    snprintf(cmd, sizeof(cmd), "%s %s --timeout 30 --log %s --listen %d:%s", PYTHON, FAKE_SERVER,
             F.log, PA, sa);
    if (b)
        snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " --listen %d:%s", PB, sb);
    F.pid = spawn_ready(cmd);
}

/* The loopback DNS server: "nxdomain" or "silent". */
static void dns_start(const char *mode)
{
    char cmd[1024];
    write_file("dns.log", "", F.dnslog, sizeof(F.dnslog));
    snprintf(cmd, sizeof(cmd), "%s %s/../fake/dns_responder.py --port %d --mode %s --log %s "
             "--timeout 30", PYTHON, TESTS_DIR, DNS_PORT, mode, F.dnslog);
    spawn_ready(cmd);
}

static int cleanup(void **state)
{
    (void)state;
    alarm(0);
    if (frozen_pid > 0)
        kill(frozen_pid, SIGCONT);
    frozen_pid = 0;
    clusterc_async_free(L.a);
    if (L.base)
        event_base_free(L.base);
    clusterc_free(L.c);
    for (int i = 0; i < 2; i++)
        if (L.fd[i] > 0)
            close(L.fd[i]);
    memset(&L, 0, sizeof(L));
    for (int i = 0; i < NPROCS; i++)
        if (procs[i].pid)
            proc_stop(procs[i].pid);
    return 0;
}

/* Journal lines (fake_server.py / dns_responder.py --log) whose event
 * starts with prefix (any case), on connection conn (0: any), logged after
 * after_ms; *first (when not NULL) gets the connection of the first. */
static int log_scan(const char *path, const char *prefix, int conn, double after_ms, int *first)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int n = 0;
    while (f && fgets(line, sizeof(line), f)) {
        double ms;
        int port, c = 0, off = 0;
        if (sscanf(line, "%lf %d %d %n", &ms, &port, &c, &off) != 3)
            sscanf(line, "%lf %n", &ms, &off);   /* the DNS journal: "<ms> QUERY ..." */
        if (off > 0 && (conn == 0 || c == conn) && ms > after_ms &&
            strncasecmp(line + off, prefix, strlen(prefix)) == 0 && n++ == 0 && first)
            *first = c;
    }
    if (f)
        fclose(f);
    return n;
}
#define log_count(path, prefix, conn, after) log_scan(path, prefix, conn, after, NULL)

/* Run the client (L.base, or the blocking L.c) until the journal at path
 * has at least n lines starting with prefix; bounded. */
static void wait_log(const char *path, const char *prefix, int n)
{
    int never = 0;
    for (int i = 0; i < 300 && log_count(path, prefix, 0, 0) < n; i++) {
        if (L.base)
            it_loop_until(L.base, &never, 10);
        else
            clusterc_poll(L.c, 10);
    }
    if (log_count(path, prefix, 0, 0) < n)
        fail_msg("the server saw \"%s\" %d times, not %d", prefix, log_count(path, prefix, 0, 0), n);
}

/* A CLUSTER SHARDS reply (script escapes): one shard, every slot, on
 * host:port ("endpoint" and "hostname" both say host). */
static void shards_map(char *out, size_t cap, const char *host, int port)
{
    snprintf(out, cap,
             "*1\\r\\n*4\\r\\n$5\\r\\nslots\\r\\n*2\\r\\n:0\\r\\n:16383\\r\\n"
             "$5\\r\\nnodes\\r\\n*1\\r\\n*16\\r\\n"
             "$2\\r\\nid\\r\\n$40\\r\\n%040d\\r\\n$4\\r\\nport\\r\\n:%d\\r\\n"
             "$2\\r\\nip\\r\\n$9\\r\\n127.0.0.1\\r\\n$8\\r\\nendpoint\\r\\n$%zu\\r\\n%s\\r\\n"
             "$8\\r\\nhostname\\r\\n$%zu\\r\\n%s\\r\\n"
             "$4\\r\\nrole\\r\\n$6\\r\\nmaster\\r\\n$18\\r\\nreplication-offset\\r\\n:0\\r\\n"
             "$6\\r\\nhealth\\r\\n$6\\r\\nonline\\r\\n", port, port, strlen(host), host,
             strlen(host), host);
}

/* A seed on PA whose map puts every slot on host:port. */
static void fake_seed_for(const char *host, int port, const char *b)
{
    static char script[4096];
    char map[2048];
    shards_map(map, sizeof(map), host, port);
    snprintf(script, sizeof(script), "ALWAYS AUTH s3cret => +OK\\r\\n\nALWAYS COMMAND => -ERR no\\r\\n\n"
             "ALWAYS CLUSTER SHARDS => %s\nSLEEP 60000\n", map);
    fake_start(script, b);
}

/* ------------------------------------------------------------- clients */

typedef struct rec { int calls, code, replied; char err[512]; } rec;

static void on_rec(clusterc_async *a, redisReply *r, void *p)
{
    rec *x = p;
    x->calls++;
    x->replied = r != NULL;
    x->code = r ? 0 : clusterc_async_error(a);
    snprintf(x->err, sizeof(x->err), "%s", r ? "" : clusterc_async_errstr(a));
}

static void opts_init(clusterc_options *o, const char *seeds)
{
    clusterc_options_init(o);
    o->seeds = seeds;
    o->command_timeout_ms = TIMEOUT_MS;
    o->connect_timeout_ms = TIMEOUT_MS;
}

static void async_open(const clusterc_options *o)
{
    L.base = event_base_new();
    L.a = clusterc_async_connect(L.base, o);
    assert_non_null(L.a);
}

static void async_close(void)
{
    clusterc_async_free(L.a);
    event_base_free(L.base);
    L.a = NULL;
    L.base = NULL;
}

/* SET k v on a fresh async client, waited for (bounded). */
static void async_set(const clusterc_options *o, rec *r)
{
    async_open(o);
    assert_int_equal(clusterc_async_command(L.a, on_rec, r, "SET k v"), 0);
    assert_true(it_loop_until(L.base, &r->calls, 3000));
    async_close();
    fprintf(stderr, "  async SET: code %d: %s\n", r->code, r->err);
}

static void blocking_open(const clusterc_options *o)
{
    L.c = clusterc_connect(o);
    assert_non_null(L.c);
}

/* clusterc_free must return within the deadline of what is pending. */
static void timed_free(const char *what)
{
    clusterc_client *c = L.c;
    L.c = NULL;
    guarding = what;
    alarm(10);
    int64_t t0 = it_now_ms();
    clusterc_free(c);
    int64_t took = it_now_ms() - t0;
    alarm(0);
    fprintf(stderr, "  %s took %lld ms\n", what, (long long)took);
    assert_true(took <= TIMEOUT_MS + SLACK_MS);
}

static void tick(evutil_socket_t fd, short what, void *arg) { (void)fd; (void)what; (void)arg; }

/* Run L.base as event_base_dispatch() would, for at most limit_ms (a 5 ms
 * tick of ours keeps the watch): returns how long until nothing but the
 * tick was left, or -1 when the client still had events at the limit.
 * Then the real dispatch runs, and must return at once (1: no events). */
static int64_t drain_run(int limit_ms)
{
    const int flags = EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE | EVENT_BASE_COUNT_VIRTUAL;
    int64_t t0 = it_now_ms(), took;
    struct event *t = event_new(L.base, -1, EV_PERSIST, tick, NULL);
    event_add(t, &(struct timeval){ 0, 5000 });
    while ((took = it_now_ms() - t0) < limit_ms && event_base_get_num_events(L.base, flags) > 1)
        event_base_loop(L.base, EVLOOP_ONCE);
    event_free(t);
    if (event_base_get_num_events(L.base, flags) > 0) {
        fprintf(stderr, "  the loop still had %d events after %d ms\n",
                event_base_get_num_events(L.base, flags), limit_ms);
        return -1;
    }
    assert_int_equal(event_base_dispatch(L.base), 1);
    return took;
}

/* Free an async client with a GET pending: its callback runs once, with
 * ECLOSED, and nothing of the client is left in the loop. */
static void async_free_pending(rec *r)
{
    clusterc_async_free(L.a);
    L.a = NULL;
    assert_int_equal(r->calls, 1);
    assert_int_equal(r->code, CLUSTERC_ECLOSED);
    assert_true(drain_run(SLACK_MS) >= 0);
    async_close();
}

/* ------------------------------------------------- the cluster's view */

typedef struct srv { long long cluster, conns; } srv;

static long long info_field(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p ? atoll(p + strlen(key)) : -1;
}

static srv srv_stats(int port)
{
    srv s = { 0, 0 };
    redisReply *r = harness_cmd(H, port, "INFO stats commandstats");
    if (!r || r->type != REDIS_REPLY_STRING)
        fail_msg("INFO on %d failed", port);
    s.conns = info_field(r->str, "total_connections_received:");
    for (const char *p = r->str; (p = strstr(p, "cmdstat_cluster")) != NULL; p++)
        s.cluster += info_field(p, "calls=");
    freeReplyObject(r);
    return s;
}

static void srv_all(srv *out)
{
    for (int i = 0; i < harness_count(H); i++)
        out[i] = srv_stats(harness_port(H, i));
}

/* No map load and no new connection since before: each node was asked
 * only for its INFO (one new connection: ours). */
static void expect_quiet_servers(const srv *before)
{
    for (int i = 0; i < harness_count(H); i++) {
        srv now = srv_stats(harness_port(H, i));
        if (now.cluster != before[i].cluster || now.conns != before[i].conns + 1)
            fail_msg("node %d: CLUSTER calls %lld -> %lld, connections %lld -> %lld (+1 is ours)",
                     harness_port(H, i), before[i].cluster, now.cluster, before[i].conns, now.conns);
    }
}

static int setup_cluster(void **state)
{
    (void)state;
    H = harness_start(BASE, 3, 1, "--node-timeout 5000");   /* no failover while frozen */
    if (!H)
        return -1;
    redisReply *r = harness_cmd(H, harness_port(H, 0), "CLUSTER SLOTS");
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        redisReply *e = r->element[i];
        for (long long s = e->element[0]->integer; s <= e->element[1]->integer; s++)
            slot_port[s] = (int)e->element[2]->element[1]->integer;
    }
    freeReplyObject(r);
    return slot_port[0] && slot_port[CLUSTERC_SLOTS - 1] ? 0 : -1;
}

static int teardown_cluster(void **state)
{
    (void)state;
    harness_stop(H);
    H = NULL;
    return 0;
}

/* SIGSTOP / SIGCONT the node on port, as harness_kill(H, port, "STOP")
 * does, without a harness.py process per signal. */
static void freeze(int port, int on)
{
    pid_t pid = 0;
    for (int i = 0; i < harness_count(H); i++)
        if (harness_port(H, i) == port)
            pid = harness_pid(H, i);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, on ? SIGSTOP : SIGCONT), 0);
    frozen_pid = on ? pid : 0;
}

static int port_of(const char *key)
{
    return slot_port[clusterc_keyslot(key, strlen(key))];
}

/* A key of each primary, so that every primary has a connection. */
static const char *warm_key(int i, char *buf, size_t cap)
{
    for (int k = 0; k < 100000; k++) {
        snprintf(buf, cap, "life:%d", k);
        if (port_of(buf) == harness_nth_port(H, "master", i))
            return buf;
    }
    fail_msg("no key on primary %d", i);
    return NULL;
}

/* ------------------------------------------------ drain, real cluster */

static void warm_async(void)
{
    rec w[3] = { { 0 } };
    char k[32];
    for (int i = 0; i < 3; i++)
        assert_int_equal(clusterc_async_command(L.a, on_rec, &w[i], "SET %s warm",
                                                warm_key(i, k, sizeof(k))), 0);
    for (int i = 0, never = 0; i < 500 && w[0].calls + w[1].calls + w[2].calls < 3; i++)
        it_loop_until(L.base, &never, 10);
    for (int i = 0; i < 3; i++)
        if (!w[i].replied)
            fail_msg("warm-up SET %d failed: %s", i, w[i].err);
}

/* Each command's callback ran once: a reply from a live node; from the
 * frozen one ETIMEOUT (or, for a SET sent, EUNCERTAIN: it may have run). */
static void check_frozen_results(const rec *r, int n, int frozen)
{
    for (int i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof(k), n == 1 ? "foo" : "life:%d", i);
        int uncertain_ok = i % 2 == 0 && r[i].code == CLUSTERC_EUNCERTAIN;
        if (r[i].calls != 1)
            fail_msg("command %d (%s): %d callbacks", i, k, r[i].calls);
        if (port_of(k) != frozen && !r[i].replied)
            fail_msg("command %d (%s) on a live node failed: %s", i, k, r[i].err);
        if (port_of(k) == frozen && (r[i].replied || (r[i].code != CLUSTERC_ETIMEOUT && !uncertain_ok)))
            fail_msg("command %d (%s) on the frozen node: code %d, %s", i, k, r[i].code, r[i].err);
    }
}

/* n commands pending (n == 1: GET foo, on the frozen primary; else spread
 * over every primary), then disconnect: the loop returns within the
 * deadline, every callback ran once, nothing was loaded or dialled. */
static void drain_frozen(int n)
{
    static rec r[100];
    clusterc_options o;
    clusterc_stats s0, s1;
    srv before[6];
    int frozen = port_of("foo"), on_frozen = 0;
    opts_init(&o, harness_seeds(H));
    async_open(&o);
    warm_async();
    srv_all(before);
    clusterc_async_get_stats(L.a, &s0);
    freeze(frozen, 1);
    memset(r, 0, sizeof(r));
    for (int i = 0; i < n; i++) {
        char k[32];
        snprintf(k, sizeof(k), n == 1 ? "foo" : "life:%d", i);
        on_frozen += port_of(k) == frozen;
        assert_int_equal(clusterc_async_command(L.a, on_rec, &r[i], i % 2 ? "GET %s" : "SET %s v",
                                                k), 0);
    }
    assert_true(on_frozen > 0 && (n == 1 || on_frozen < n));
    clusterc_async_disconnect(L.a);
    int64_t took = drain_run(TIMEOUT_MS + SLACK_MS);
    freeze(frozen, 0);
    fprintf(stderr, "  drained in %lld ms, %d of %d commands on the frozen node\n",
            (long long)took, on_frozen, n);
    assert_true(took >= 0);
    check_frozen_results(r, n, frozen);
    clusterc_async_get_stats(L.a, &s1);
    assert_int_equal(s1.refreshes, s0.refreshes);
    assert_int_equal(s1.connects, s0.connects);
    expect_quiet_servers(before);
    async_close();
    leak_check();
}

/* Every command answered, a 60 s command timeout: the drain leaves no
 * timer of the client's in the loop (the deadline timer, armed for the
 * first command, is taken down), so the loop ends within the 5 s bound,
 * not at the first command's deadline. */
static void test_drain_answered_leaves_no_timer(void **state)
{
    (void)state;
    clusterc_options o;
    rec r[20];
    opts_init(&o, harness_seeds(H));
    o.command_timeout_ms = 60000;
    memset(r, 0, sizeof(r));
    async_open(&o);
    for (int i = 0; i < 20; i++) {
        char k[32];
        snprintf(k, sizeof(k), "answered:%d", i);
        assert_int_equal(clusterc_async_command(L.a, on_rec, &r[i], "SET %s v", k), 0);
    }
    for (int i = 0; i < 20; i++) {   /* nodes answer in any order */
        assert_true(it_loop_until(L.base, &r[i].calls, 3000));
        assert_true(r[i].calls == 1 && r[i].replied);
    }
    clusterc_async_disconnect(L.a);
    int64_t took = drain_run(5000);
    fprintf(stderr, "  drained in %lld ms\n", (long long)took);
    assert_true(took >= 0);
    async_close();
    leak_check();
}

static void test_drain_frozen_get(void **state) { (void)state; drain_frozen(1); }
static void test_drain_frozen_100(void **state) { (void)state; drain_frozen(100); }

/* The blocking face: appended commands, one on the frozen node; free
 * drains them within the deadline, writes to live nodes land, and nothing
 * is loaded or dialled meanwhile. */
static void test_drain_blocking(void **state)
{
    (void)state;
    clusterc_options o;
    char k[32], want[16];
    srv before[6];
    int frozen = port_of("foo");
    opts_init(&o, harness_seeds(H));
    blocking_open(&o);
    for (int i = 0; i < 3; i++) {
        redisReply *r = clusterc_command(L.c, "SET %s warm", warm_key(i, k, sizeof(k)));
        it_expect_str(r, "OK");
        freeReplyObject(r);
    }
    srv_all(before);
    freeze(frozen, 1);
    for (int i = 0; i < 12; i++)
        assert_int_equal(clusterc_append_command(L.c, "SET life:blk:%d v%d", i, i), 0);
    assert_int_equal(clusterc_append_command(L.c, "GET foo"), 0);
    timed_free("clusterc_free with appended commands");
    freeze(frozen, 0);
    expect_quiet_servers(before);   /* before our reads below dial them */
    for (int i = 0; i < 12; i++) {
        snprintf(k, sizeof(k), "life:blk:%d", i);
        snprintf(want, sizeof(want), "v%d", i);
        if (port_of(k) == frozen)
            continue;
        redisReply *r = harness_cmd(H, port_of(k), "GET %s", k);
        if (!r || r->type != REDIS_REPLY_STRING || strcmp(r->str, want) != 0)
            fail_msg("appended SET %s was not applied before clusterc_free returned", k);
        freeReplyObject(r);
    }
    leak_check();
}

/* ------------------------------------------- half-sent replies (fake) */

enum { AT_GET, AT_MAP, AT_SETNAME, AT_AUTH };
static const char *const at_cmd[] = { "CMD GET foo", "CMD CLUSTER SHARDS",
                                      "CMD CLIENT SETNAME life", "CMD AUTH s3cret" };
/* Three replies cut short, and none at all (NULL). */
static const char *const payloads[] = { "$600000000\\r\\nabc", "+OK", "*3\\r\\n", NULL };

static void half_script(char *out, size_t cap, int at, const char *payload)
{
    char map[2048], send[64] = "";
    shards_map(map, sizeof(map), "127.0.0.1", PA);
    if (payload)
        snprintf(send, sizeof(send), "SEND %s\n", payload);
    /* No ALWAYS rule: it would answer a COMMAND sent behind the stuck GET
     * ahead of the GET. A COMMAND ahead of the GET gets "unexpected". */
    if (at == AT_GET)
        snprintf(out, cap, "EXPECT CLUSTER SHARDS\nSEND %s\nEXPECT GET foo\n%sSLEEP 60000\n",
                 map, send);
    else
        snprintf(out, cap, "EXPECT %s\n%sSLEEP 60000\n", at_cmd[at] + 4, send);
}

/* The node leaves a reply unfinished (or unsent) at one point while a GET
 * is pending; disconnect: the loop returns by the GET's deadline, the GET
 * failed once, truthfully, and no map load was repeated on the stuck
 * connection nor any connection opened after the disconnect. Returns
 * whether the message names the command and what stopped it. */
static int half_case(int at, const char *payload)
{
    static char script[8192];
    clusterc_options o;
    rec r = { 0 };
    int never = 0, stuck = 0;
    half_script(script, sizeof(script), at, payload);
    fake_start(script, NULL);
    opts_init(&o, "127.0.0.1:22051");
    o.client_name = at == AT_SETNAME ? "life" : NULL;
    o.password = at == AT_AUTH ? "s3cret" : NULL;
    async_open(&o);
    assert_int_equal(clusterc_async_command(L.a, on_rec, &r, "GET foo"), 0);
    wait_log(F.log, at_cmd[at], 1);
    it_loop_until(L.base, &never, 50);   /* the half reply arrives */
    if (r.calls)
        fail_msg("the GET ended before the disconnect: %s", r.replied ? "a reply" : r.err);
    double t_disc = (double)it_now_ms();
    clusterc_async_disconnect(L.a);
    int64_t took = drain_run(TIMEOUT_MS + SLACK_MS);
    fprintf(stderr, "  stuck at %s with %s: drained in %lld ms; GET: %s\n", at_cmd[at] + 4,
            payload ? payload : "silence", (long long)took, r.err);
    assert_true(took >= 0);
    assert_int_equal(r.calls, 1);
    assert_false(r.replied);
    if (at == AT_GET)
        assert_int_equal(r.code, CLUSTERC_ETIMEOUT);
    else
        assert_true(r.code == CLUSTERC_ETIMEOUT || r.code == CLUSTERC_ETOPOLOGY ||
                    r.code == CLUSTERC_EPROTOCOL);
    if (at != AT_GET)
        assert_int_equal(log_count(F.log, "CMD GET", 0, 0), 0);   /* it never left */
    log_scan(F.log, at_cmd[at], 0, 0, &stuck);
    /* Nothing is written behind an unanswered AUTH (docs/security.md):
     * the map load waits in the client, not on the server. */
    int shards = at == AT_AUTH ? 0 : 1;
    assert_int_equal(log_count(F.log, "CMD CLUSTER SHARDS", stuck, 0), shards);
    assert_int_equal(log_count(F.log, "CMD CLUSTER SHARDS", 0, 0), shards);
    assert_int_equal(log_count(F.log, "ACCEPT", 0, t_disc), 0);
    async_close();
    proc_stop(F.pid);
    leak_check();
    /* Checked last, so that every case's drain is checked. */
    return strstr(r.err, "GET") && strstr(r.err, at == AT_GET ? "127.0.0.1:22051" : "CLUSTER SHARDS");
}

static void half_at(int at)
{
    int untold = 0;
    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++)
        untold += !half_case(at, payloads[i]);
    if (untold)
        fail_msg("%d of 4 GET failures do not name GET and %s", untold,
                 at == AT_GET ? "the node" : "CLUSTER SHARDS");
}

static void test_half_on_get(void **state) { (void)state; half_at(AT_GET); }
static void test_half_on_map(void **state) { (void)state; half_at(AT_MAP); }
static void test_half_on_setname(void **state) { (void)state; half_at(AT_SETNAME); }
static void test_half_on_auth(void **state) { (void)state; half_at(AT_AUTH); }

/* ------------------------------------------------- errors that tell */

static const char garbage_map[] = "EXPECT CLUSTER SHARDS\nSENDRAW 00ff13370d0a\nLOOP\n";

/* The map load fails on a protocol error while a SET waits for it: the
 * SET never left the client, so it is not "maybe applied". */
static void test_map_protocol_error_fails_set(void **state)
{
    (void)state;
    clusterc_options o;
    rec r = { 0 };
    opts_init(&o, "127.0.0.1:22051");
    fake_start(garbage_map, NULL);
    async_set(&o, &r);
    assert_false(r.replied);
    assert_true(r.code == CLUSTERC_EPROTOCOL || r.code == CLUSTERC_ETOPOLOGY);
    assert_non_null(strstr(r.err, "CLUSTER SHARDS"));
    assert_int_equal(log_count(F.log, "CMD SET", 0, 0), 0);
    proc_stop(F.pid);
    /* The blocking face: the first load fails, then a SET asks again. */
    fake_start(garbage_map, NULL);
    blocking_open(&o);
    fprintf(stderr, "  connect: %s\n", clusterc_errstr(L.c));
    assert_int_equal(clusterc_error(L.c), CLUSTERC_EPROTOCOL);
    assert_non_null(strstr(clusterc_errstr(L.c), "CLUSTER SHARDS"));
    assert_null(clusterc_command(L.c, "SET k v"));
    fprintf(stderr, "  blocking SET: code %d: %s (the server saw %d CLUSTER SHARDS)\n",
            clusterc_error(L.c), clusterc_errstr(L.c), log_count(F.log, "CMD CLUSTER SHARDS", 0, 0));
    assert_int_equal(log_count(F.log, "CMD SET", 0, 0), 0);
    assert_true(clusterc_error(L.c) == CLUSTERC_EPROTOCOL || clusterc_error(L.c) == CLUSTERC_ETOPOLOGY);
    assert_non_null(strstr(clusterc_errstr(L.c), "CLUSTER SHARDS"));
    timed_free("clusterc_free");
    leak_check();
}

/* The server read the SET, then the connection was cut: it may have run. */
static void test_set_cut_after_read_is_uncertain(void **state)
{
    (void)state;
    static char script[4096];
    char map[2048];
    clusterc_options o;
    rec r = { 0 };
    shards_map(map, sizeof(map), "127.0.0.1", PA);
    snprintf(script, sizeof(script), "EXPECT CLUSTER SHARDS\nSEND %s\n"
             "EXPECT SET k v\nCLOSE\nSLEEP 60000\n", map);   /* no ALWAYS: see half_script */
    fake_start(script, NULL);
    opts_init(&o, "127.0.0.1:22051");
    async_set(&o, &r);
    assert_int_equal(r.code, CLUSTERC_EUNCERTAIN);
    assert_non_null(strstr(r.err, "SET"));
    assert_non_null(strstr(r.err, "127.0.0.1:22051"));
    assert_int_equal(log_count(F.log, "CMD SET", 0, 0), 1);
    leak_check();
}

/* ------------------------------------------------------------ teardown */

/* A listener whose accept queue is full (listen(0) and one connection
 * queued): a connect to it stays in flight, the SYN dropped. */
static void dead_end(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(DEAD_END) };
    int one = 1;
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    L.fd[0] = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(L.fd[0], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    assert_int_equal(bind(L.fd[0], (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(L.fd[0], 0), 0);
    L.fd[1] = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(L.fd[1], (struct sockaddr *)&sa, sizeof(sa)), 0);
}

/* Connections in SYN_SENT towards port, from /proc/net/tcp. */
static int syn_sent_to(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[256];
    int n = 0;
    unsigned rport, st;
    while (f && fgets(line, sizeof(line), f))
        n += sscanf(line, "%*d: %*x:%*x %*x:%x %x", &rport, &st) == 2 &&
             rport == (unsigned)port && st == 2;
    if (f)
        fclose(f);
    return n;
}

static void test_free_during_connect(void **state)
{
    (void)state;
    clusterc_options o;
    rec r = { 0 };
    int never = 0;
    dead_end();
    int syn0 = syn_sent_to(DEAD_END);
    opts_init(&o, "127.0.0.1:22070");
    o.connect_timeout_ms = 3000;   /* still in flight when freed */
    async_open(&o);
    assert_int_equal(clusterc_async_command(L.a, on_rec, &r, "GET foo"), 0);
    it_loop_until(L.base, &never, 100);
    assert_true(syn_sent_to(DEAD_END) > syn0);
    async_free_pending(&r);
    /* The blocking face: the map (from a fake seed) names the dead end; a
     * GET appended to it is dialling when the client is freed. */
    fake_seed_for("127.0.0.1", DEAD_END, NULL);
    opts_init(&o, "127.0.0.1:22051");
    o.connect_timeout_ms = 3000;
    blocking_open(&o);
    assert_int_equal(clusterc_error(L.c), 0);
    assert_int_equal(clusterc_append_command(L.c, "GET foo"), 0);
    clusterc_poll(L.c, 50);
    assert_true(syn_sent_to(DEAD_END) > syn0);
    timed_free("clusterc_free during a connect");
    leak_check();
}

static void test_free_during_handshake(void **state)
{
    (void)state;
    static const char no_auth[] = "EXPECT AUTH s3cret\nSLEEP 60000\n";
    clusterc_options o;
    rec r = { 0 };
    fake_start(no_auth, NULL);
    opts_init(&o, "127.0.0.1:22051");
    o.password = "s3cret";
    async_open(&o);
    assert_int_equal(clusterc_async_command(L.a, on_rec, &r, "GET foo"), 0);
    wait_log(F.log, "CMD AUTH", 1);
    async_free_pending(&r);
    proc_stop(F.pid);
    /* The blocking face: the seed answers; the node its map names never
     * answers AUTH, with a GET appended to that node. */
    fake_seed_for("127.0.0.1", PB, no_auth);
    blocking_open(&o);
    assert_int_equal(clusterc_error(L.c), 0);
    assert_int_equal(clusterc_append_command(L.c, "GET foo"), 0);
    wait_log(F.log, "CMD AUTH", 2);   /* the seed's, then the node's */
    timed_free("clusterc_free during a handshake");
    leak_check();
}

/* ------------------------------------------- host names (in the child) */

static void test_dns_failure_named(void **state)
{
    (void)state;
    clusterc_options o;
    fake_seed_for("nosuch.invalid", PA, NULL);
    dns_start("nxdomain");
    opts_init(&o, "127.0.0.1:22051");
    o.command_timeout_ms = 800;
    o.connect_timeout_ms = 300;
    blocking_open(&o);
    assert_int_equal(clusterc_error(L.c), 0);
    assert_null(clusterc_command(L.c, "GET foo"));
    const char *msg = clusterc_errstr(L.c);
    fprintf(stderr, "  GET: code %d: %s\n", clusterc_error(L.c), msg);
    assert_true(clusterc_error(L.c) == CLUSTERC_ECONNECT || clusterc_error(L.c) == CLUSTERC_ETIMEOUT);
    assert_non_null(strstr(msg, "nosuch.invalid"));
    assert_true(strstr(msg, "resolve") || strstr(msg, "DNS lookup"));
    assert_non_null(strstr(msg, evutil_gai_strerror(EVUTIL_EAI_NONAME)));
    assert_true(log_count(F.dnslog, "QUERY nosuch.invalid", 0, 0) > 0);
    timed_free("clusterc_free");
    leak_check();
}

/* The lookup never answers: free while it is in flight, on both faces. */
static void test_free_during_dns(void **state)
{
    (void)state;
    clusterc_options o;
    rec r = { 0 };
    fake_seed_for("nosuch.invalid", PA, NULL);
    dns_start("silent");
    opts_init(&o, "127.0.0.1:22051");
    o.connect_timeout_ms = 3000;   /* the lookup outlives the test */
    async_open(&o);
    assert_int_equal(clusterc_async_command(L.a, on_rec, &r, "GET foo"), 0);
    wait_log(F.dnslog, "QUERY", 1);
    async_free_pending(&r);
    int seen = log_count(F.dnslog, "QUERY", 0, 0);
    blocking_open(&o);
    assert_int_equal(clusterc_error(L.c), 0);
    assert_int_equal(clusterc_append_command(L.c, "GET foo"), 0);
    wait_log(F.dnslog, "QUERY", seen + 1);
    timed_free("clusterc_free during a DNS lookup");
    leak_check();
}

/* Parent side: run the two cases above in this program again, in a mount
 * namespace of its own where /etc/resolv.conf points at DNS_PORT. */
static void test_host_names(void **state)
{
    (void)state;
    char resolv[128], line[64];
    int st = 0;
    snprintf(line, sizeof(line), "nameserver 127.0.0.1:%d\n", DNS_PORT);
    write_file("resolv.conf", line, resolv, sizeof(resolv));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount(resolv, "/etc/resolv.conf", "none", MS_BIND, NULL) < 0) {
            fprintf(stderr, "  cannot make a mount namespace: %s\n", strerror(errno));
            _exit(77);
        }
        execl(self_path, self_path, "--dns-child", (char *)NULL);
        _exit(78);
    }
    for (int64_t end = it_now_ms() + 60000; waitpid(pid, &st, WNOHANG) == 0; usleep(20000))
        if (it_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
        }
    unlink(resolv);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
        fprintf(stderr, "  SKIPPED: the host name cases need unshare(CLONE_NEWNS) and mount\n");
        skip();
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("the host name cases failed (child status 0x%x)", st);
}

static void remove_files(void)
{
    static const char *const names[] = { "a.fake", "b.fake", "fake.log", "dns.log" };
    char p[128];
    for (size_t i = 0; F.dir[0] && i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", F.dir, names[i]);
        unlink(p);
    }
    if (F.dir[0])
        rmdir(F.dir);
}

#define T(f) cmocka_unit_test_teardown(f, cleanup)

int main(int argc, char **argv)
{
    int rc;
    signal(SIGALRM, on_alarm);
    if (!realpath(argv[0], self_path))
        snprintf(self_path, sizeof(self_path), "/proc/self/exe");
    if (argc > 1 && strcmp(argv[1], "--dns-child") == 0) {
        const struct CMUnitTest dns[] = { T(test_dns_failure_named), T(test_free_during_dns) };
        rc = cmocka_run_group_tests_name("host names (namespace child)", dns, NULL, NULL);
        remove_files();
        return rc;
    }
    if (getenv("LIFE_FILTER"))   /* e.g. LIFE_FILTER='test_half*' */
        cmocka_set_test_filter(getenv("LIFE_FILTER"));
    const struct CMUnitTest cluster[] = {
        T(test_drain_answered_leaves_no_timer), T(test_drain_frozen_get),
        T(test_drain_frozen_100), T(test_drain_blocking),
    };
    const struct CMUnitTest fake[] = {
        T(test_half_on_get), T(test_half_on_map), T(test_half_on_setname), T(test_half_on_auth),
        T(test_map_protocol_error_fails_set), T(test_set_cut_after_read_is_uncertain),
        T(test_free_during_connect), T(test_free_during_handshake), T(test_host_names),
    };
    rc = cmocka_run_group_tests_name("drain, real cluster", cluster, setup_cluster,
                                     teardown_cluster);
    rc += cmocka_run_group_tests_name("fake server", fake, NULL, NULL);
    remove_files();
    return rc;
}
