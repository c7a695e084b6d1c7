/* events.c -- clusterc-events: watch a client's lifecycle events live.
 *
 *   clusterc-events [--seeds h:p,...] [--failover] [--seconds N] [--key K]
 *
 * Connects an async client (<clusterc/async.h>) with options.on_event and
 * options.on_command set, and keeps a steady, bounded stream of SET and GET
 * on one key (a pair every 10 ms, at most 4 commands in flight), so a
 * failover shows in the command outcomes as well as in the events. Prints:
 *   every lifecycle event, one line each: ms since start, type name, node,
 *   code (with clusterc_strerror's text) when nonzero, and the detail;
 *   "*" lines of its own: the failover it starts, commands that were
 *   redirected, retried or failed (the first 40), one summary per second;
 *   at the end a summary (commands, failures, redirects, retries), then the
 *   DRAINED event as the last line.
 * With --failover it asks CLUSTER SHARDS which replica serves the key's slot
 * (without --key it picks a key whose shard has a replica) and, about a
 * second after the stream started, sends CLUSTER FAILOVER to that replica
 * with clusterc_async_command_to_node. After --seconds (default 10), or on
 * SIGINT / SIGTERM, it calls clusterc_async_disconnect() and lets
 * event_base_dispatch() return.
 *
 * Exit status: 0 when all went well; 1 when a command failed or got an
 * error reply, the failover could not be started, or the drain did not end;
 * 2 for bad flags or a cluster that cannot be reached.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include <clusterc/async.h>
#include <clusterc/clusterc.h>

#define TICK_MS 10             /* one SET + GET pair per tick */
#define MAX_INFLIGHT 4         /* the stream never has more commands pending */
#define FAILOVER_AFTER_MS 1000 /* let the stream settle before the failover */
#define DRAIN_GUARD_MS 5000    /* past command_timeout: a drain that hangs */
#define MAX_OUTCOME_LINES 40   /* "*" lines for unusual command outcomes */
#define MAX_NODES 256
#define KEY_SEARCH 100000      /* keys tried to land in a chosen shard */
#define REPLY_MAP 9            /* hiredis REDIS_REPLY_MAP (RESP3) */

typedef struct counts {        /* from the command hook */
    long long commands, failures, redirects, retries;
    int64_t slowest_us;
} counts;

typedef struct app {
    /* flags */
    const char *seeds;
    int failover;
    int seconds;
    char key[128];
    int key_given;
    /* loop and client */
    struct event_base *base;
    clusterc_async *ac;
    struct event *tick, *second, *failover_timer, *deadline, *guard;
    struct event *sigint, *sigterm;
    int64_t t0_ns;
    /* state */
    int ready;                 /* READY seen or a reply came */
    int stopping;
    int drained;
    int summary_done;
    int inflight;
    long long seq;
    long long sent;            /* commands this program queued */
    long long error_replies;
    int outcome_lines;
    int failover_failed;
    int unreachable;
    char replica_id[41];
    char replica_addr[272];
    counts total, this_second;
    int second_no;
} app;

static void begin_stop(app *a, const char *why);
static void send_pair(app *a);

/* ------------------------------------------------------------ printing */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long long elapsed_ms(const app *a)
{
    return (long long)((now_ns() - a->t0_ns) / 1000000);
}

/* One line per event, whatever the detail holds: a newline in it would
 * break the one-event-one-line promise that scripts rely on. */
static void put_oneline(const char *s)
{
    for (; s && *s; s++)
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, stdout);
}

static void note(const app *a, const char *fmt, ...) CLUSTERC_PRINTF(2, 3);
static void note(const app *a, const char *fmt, ...)
{
    va_list ap;
    printf("%7lld ms  * ", elapsed_ms(a));
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

static void print_summary(app *a)
{
    if (a->summary_done)
        return;
    a->summary_done = 1;
    note(a, "summary: commands %lld (sent %lld), failures %lld, redirects %lld, retries %lld, "
            "error replies %lld",
         a->total.commands, a->sent, a->total.failures, a->total.redirects, a->total.retries,
         a->error_replies);
}

/* ------------------------------------------------------------ the hooks */

static void on_event(const clusterc_event *ev, void *privdata)
{
    app *a = privdata;
    if (ev->type == CLUSTERC_EVENT_READY)
        a->ready = 1;
    if (ev->type == CLUSTERC_EVENT_DRAINED) {
        /* Everything has completed: the counters are final, and the
         * DRAINED line is to be the last one. */
        a->drained = 1;
        if (a->guard)
            event_del(a->guard);
        print_summary(a);
    }
    printf("%7lld ms  %-17s  %-21s  ", elapsed_ms(a), clusterc_event_name(ev->type),
           ev->node ? ev->node : "-");
    if (ev->code)
        printf("code %d (%s)  ", ev->code, clusterc_strerror(ev->code));
    put_oneline(ev->detail);
    fputc('\n', stdout);
    fflush(stdout);
}

static void count(counts *c, const clusterc_command_info *ci)
{
    c->commands++;
    c->failures += ci->code != 0;
    c->redirects += ci->redirects;
    c->retries += ci->retries;
    if (ci->duration_us > c->slowest_us)
        c->slowest_us = ci->duration_us;
}

static void on_command(const clusterc_command_info *ci, void *privdata)
{
    app *a = privdata;
    count(&a->total, ci);
    count(&a->this_second, ci);
    if (!ci->code && !ci->redirects && !ci->retries)
        return;
    if (++a->outcome_lines > MAX_OUTCOME_LINES) {
        if (a->outcome_lines == MAX_OUTCOME_LINES + 1)
            note(a, "(more command outcomes not shown; see the per-second lines)");
        return;
    }
    char codebuf[96] = "";
    if (ci->code)
        snprintf(codebuf, sizeof(codebuf), ", code %d (%s)", ci->code,
                 clusterc_strerror(ci->code));
    note(a, "%s on %s: redirects %d, retries %d, %.1f ms%s", ci->name ? ci->name : "?",
         ci->node ? ci->node : "(never sent)", ci->redirects, ci->retries,
         (double)ci->duration_us / 1000.0, codebuf);
}

/* ------------------------------------------------------------ the stream */

/* A reply to the stream's SET or GET. A failure before anything ever
 * answered means the cluster cannot be reached: stop with status 2. */
static void on_stream_reply(clusterc_async *ac, redisReply *reply, void *privdata)
{
    app *a = privdata;
    a->inflight--;
    if (reply) {
        a->ready = 1;
        if (reply->type == REDIS_REPLY_ERROR) {
            a->error_replies++;
            if (a->error_replies <= MAX_OUTCOME_LINES)
                note(a, "error reply: %s", reply->str);
        }
        return;
    }
    if (!a->ready && !a->stopping) {
        fprintf(stderr, "clusterc-events: cannot reach the cluster at %s: %s\n", a->seeds,
                clusterc_async_errstr(ac));
        a->unreachable = 1;
        begin_stop(a, "the cluster cannot be reached");
    }
}

static void send_pair(app *a)
{
    char val[32];
    int n = snprintf(val, sizeof(val), "%lld", ++a->seq);
    const char *sargv[3] = { "SET", a->key, val };
    size_t slen[3] = { 3, strlen(a->key), (size_t)n };
    const char *gargv[2] = { "GET", a->key };
    size_t glen[2] = { 3, strlen(a->key) };

    if (clusterc_async_command_argv(a->ac, on_stream_reply, a, 3, sargv, slen) == 0)
        a->inflight++, a->sent++;
    if (clusterc_async_command_argv(a->ac, on_stream_reply, a, 2, gargv, glen) == 0)
        a->inflight++, a->sent++;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    app *a = arg;
    (void)fd, (void)what;
    /* Bounded: a stalled node (a failover pauses writes) makes the stream
     * wait instead of piling commands up. */
    if (!a->stopping && a->inflight + 2 <= MAX_INFLIGHT)
        send_pair(a);
}

static void on_second(evutil_socket_t fd, short what, void *arg)
{
    app *a = arg;
    counts *c = &a->this_second;
    (void)fd, (void)what;
    a->second_no++;
    note(a, "second %d: %lld commands, %lld failed, %lld redirected, %lld retried, "
            "slowest %.1f ms",
         a->second_no, c->commands, c->failures, c->redirects, c->retries,
         (double)c->slowest_us / 1000.0);
    memset(c, 0, sizeof(*c));
}

/* ------------------------------------------------- finding the replica */

/* The value after name in a flat key/value reply (RESP2 array or RESP3
 * map: hiredis lays both out as key, value, key, value ...). */
static const redisReply *kv_get(const redisReply *r, const char *name)
{
    if (!r || (r->type != REDIS_REPLY_ARRAY && r->type != REPLY_MAP))
        return NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i];
        if (k && k->str && strcmp(k->str, name) == 0)
            return r->element[i + 1];
    }
    return NULL;
}

static const char *kv_str(const redisReply *r, const char *name)
{
    const redisReply *v = kv_get(r, name);
    return v && v->str ? v->str : "";
}

static int shard_has_slot(const redisReply *shard, int slot)
{
    const redisReply *s = kv_get(shard, "slots");
    for (size_t i = 0; s && i + 1 < s->elements; i += 2)
        if (slot >= s->element[i]->integer && slot <= s->element[i + 1]->integer)
            return 1;
    return 0;
}

static long long shard_slot_count(const redisReply *shard)
{
    const redisReply *s = kv_get(shard, "slots");
    long long n = 0;
    for (size_t i = 0; s && i + 1 < s->elements; i += 2)
        n += s->element[i + 1]->integer - s->element[i]->integer + 1;
    return n;
}

/* An online replica of shard, or NULL. */
static const redisReply *shard_replica(const redisReply *shard)
{
    const redisReply *nodes = kv_get(shard, "nodes");
    for (size_t i = 0; nodes && i < nodes->elements; i++) {
        const redisReply *n = nodes->element[i];
        if (strcmp(kv_str(n, "role"), "replica") == 0 &&
            strcmp(kv_str(n, "health"), "online") == 0)
            return n;
    }
    return NULL;
}

/* Pick a key of our own in shard's slots ("clusterc-events:N"). */
static int key_in_shard(app *a, const redisReply *shard)
{
    char k[sizeof(a->key)];
    for (int i = 0; i < KEY_SEARCH; i++) {
        int n = snprintf(k, sizeof(k), "clusterc-events:%d", i);
        if (shard_has_slot(shard, clusterc_keyslot(k, (size_t)n))) {
            memcpy(a->key, k, sizeof(k));
            return 0;
        }
    }
    return -1;
}

/* The replica's dialled address, from the client's map (by node id), else
 * what CLUSTER SHARDS announces. */
static void replica_address(app *a, const redisReply *node)
{
    static clusterc_node_info nodes[MAX_NODES];
    int n = clusterc_async_node_stats(a->ac, nodes, MAX_NODES);
    for (int i = 0; i < n && i < MAX_NODES; i++)
        if (strcmp(nodes[i].id, a->replica_id) == 0) {
            snprintf(a->replica_addr, sizeof(a->replica_addr), "%s", nodes[i].addr);
            return;
        }
    const redisReply *port = kv_get(node, "port");
    const char *ip = kv_str(node, "endpoint");
    snprintf(a->replica_addr, sizeof(a->replica_addr), "%s:%lld",
             *ip && strcmp(ip, "?") ? ip : kv_str(node, "ip"), port ? port->integer : 0);
}

/* Choose the shard: the key's when it has a replica; without --key, any
 * shard with one (and a key there). 0, or -1 with a note saying why. */
static int choose_replica(app *a, const redisReply *shards)
{
    int slot = clusterc_keyslot(a->key, strlen(a->key));
    const redisReply *pick = NULL, *spare = NULL;
    for (size_t i = 0; shards && i < shards->elements; i++) {
        const redisReply *s = shards->element[i];
        if (shard_has_slot(s, slot))
            pick = s;
        else if (!spare && shard_replica(s) && kv_get(s, "slots") &&
                 kv_get(s, "slots")->elements > 0)
            spare = s;
    }
    if ((!pick || !shard_replica(pick)) && !a->key_given && spare && key_in_shard(a, spare) == 0)
        pick = spare;
    if (!pick || !shard_replica(pick)) {
        note(a, "failover: no online replica serves slot %d of key \"%s\"", slot, a->key);
        return -1;
    }
    const redisReply *rep = shard_replica(pick);
    snprintf(a->replica_id, sizeof(a->replica_id), "%s", kv_str(rep, "id"));
    replica_address(a, rep);
    note(a, "failover: replica %s (%s) serves slot %d of key \"%s\" (its shard: %lld slots)",
         a->replica_addr, a->replica_id, clusterc_keyslot(a->key, strlen(a->key)), a->key,
         shard_slot_count(pick));
    return 0;
}

/* ------------------------------------------------------------ failover */

static void on_failover_reply(clusterc_async *ac, redisReply *reply, void *privdata)
{
    app *a = privdata;
    if (reply && reply->type != REDIS_REPLY_ERROR) {
        note(a, "failover: %s answered CLUSTER FAILOVER: %s", a->replica_addr,
             reply->str ? reply->str : "(reply)");
        return;
    }
    a->failover_failed = 1;
    note(a, "failover: CLUSTER FAILOVER to %s failed: %s", a->replica_addr,
         reply ? reply->str : clusterc_async_errstr(ac));
}

static void on_failover_timer(evutil_socket_t fd, short what, void *arg)
{
    app *a = arg;
    (void)fd, (void)what;
    if (a->stopping)
        return;
    note(a, "failover: sending CLUSTER FAILOVER to %s", a->replica_addr);
    /* By node id: an address is "as the cluster announces it", the id is
     * unambiguous whatever the remapping. */
    if (clusterc_async_command_to_node(a->ac, a->replica_id, on_failover_reply, a,
                                       "CLUSTER FAILOVER") == 0)
        a->sent++;
    else {
        a->failover_failed = 1;
        note(a, "failover: refused: %s", clusterc_async_errstr(a->ac));
    }
}

static void start_stream(app *a)
{
    struct timeval tick = { 0, TICK_MS * 1000 }, one = { 1, 0 };
    struct timeval fo = { FAILOVER_AFTER_MS / 1000, (FAILOVER_AFTER_MS % 1000) * 1000 };
    if (a->stopping)
        return;
    note(a, "stream: SET/GET on key \"%s\" (slot %d) every %d ms, at most %d in flight", a->key,
         clusterc_keyslot(a->key, strlen(a->key)), TICK_MS, MAX_INFLIGHT);
    send_pair(a);
    event_add(a->tick, &tick);
    event_add(a->second, &one);
    if (a->failover && a->replica_id[0])
        event_add(a->failover_timer, &fo);
}

static void on_shards_reply(clusterc_async *ac, redisReply *reply, void *privdata)
{
    app *a = privdata;
    if (!reply) {
        if (!a->stopping) {
            fprintf(stderr, "clusterc-events: CLUSTER SHARDS failed, cannot reach %s: %s\n",
                    a->seeds, clusterc_async_errstr(ac));
            a->unreachable = 1;
            begin_stop(a, "the cluster cannot be reached");
        }
        return;
    }
    a->ready = 1;
    if (reply->type != REDIS_REPLY_ARRAY || choose_replica(a, reply) < 0) {
        if (reply->type == REDIS_REPLY_ERROR)
            note(a, "failover: CLUSTER SHARDS: %s", reply->str);
        a->failover_failed = 1;
    }
    start_stream(a);
}

/* The first seed, where CLUSTER SHARDS goes ("host:port"). */
static void first_seed(const char *seeds, char *out, size_t cap)
{
    size_t n = strcspn(seeds, ",");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, seeds, n);
    out[n] = '\0';
}

static void start_failover_lookup(app *a)
{
    char seed[272];
    first_seed(a->seeds, seed, sizeof(seed));
    note(a, "failover: asking %s for CLUSTER SHARDS", seed);
    if (clusterc_async_command_to_node(a->ac, seed, on_shards_reply, a, "CLUSTER SHARDS") == 0) {
        a->sent++;
        return;
    }
    note(a, "failover: CLUSTER SHARDS refused: %s", clusterc_async_errstr(a->ac));
    a->failover_failed = 1;
    start_stream(a);
}

/* ------------------------------------------------------------ stopping */

static void on_guard(evutil_socket_t fd, short what, void *arg)
{
    app *a = arg;
    (void)fd, (void)what;
    fprintf(stderr, "clusterc-events: no DRAINED event %d ms after clusterc_async_disconnect()\n",
            DRAIN_GUARD_MS);
    event_base_loopexit(a->base, NULL);
}

/* Stop our own timers and signals (so only the client keeps the loop
 * running), then drain. The guard is the one timer left: it ends a drain
 * that hangs, and the DRAINED event removes it. */
static void begin_stop(app *a, const char *why)
{
    struct timeval g = { DRAIN_GUARD_MS / 1000, (DRAIN_GUARD_MS % 1000) * 1000 };
    if (a->stopping)
        return;
    a->stopping = 1;
    event_del(a->tick);
    event_del(a->second);
    event_del(a->failover_timer);
    event_del(a->deadline);
    event_del(a->sigint);
    event_del(a->sigterm);
    note(a, "stopping (%s): clusterc_async_disconnect(), stream commands pending: %d", why,
         a->inflight);
    event_add(a->guard, &g);
    clusterc_async_disconnect(a->ac);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    app *a = arg;
    (void)fd, (void)what;
    begin_stop(a, "time is up");
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    begin_stop(arg, fd == SIGINT ? "SIGINT" : "SIGTERM");
}

/* ------------------------------------------------------------ flags, main */

static void usage(FILE *f)
{
    fprintf(f,
"usage: clusterc-events [--seeds h:p,...] [--failover] [--seconds N] [--key K]\n"
"  --seeds     seed nodes (default 127.0.0.1:7001)\n"
"  --failover  find the replica serving the key's slot (CLUSTER SHARDS) and,\n"
"              a second into the stream, send it CLUSTER FAILOVER\n"
"  --seconds   how long to run before the graceful disconnect (default 10)\n"
"  --key       the key of the SET/GET stream (default: clusterc-events:0,\n"
"              or with --failover one whose shard has a replica)\n"
"Prints each lifecycle event as it happens (ms since start, type, node,\n"
"code, detail), '*' lines of its own, a summary, then DRAINED last.\n"
"Exit: 0 all well; 1 a command failed or the failover did not start;\n"
"2 bad flags or the cluster cannot be reached.\n");
}

static void die_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "clusterc-events: %s%s%s (see --help)\n", msg, arg ? ": " : "",
            arg ? arg : "");
    exit(2);
}

static void parse_args(app *a, int argc, char **argv)
{
    a->seeds = "127.0.0.1:7001";
    a->seconds = 10;
    snprintf(a->key, sizeof(a->key), "clusterc-events:0");
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (strcmp(f, "--help") == 0 || strcmp(f, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(f, "--failover") == 0) {
            a->failover = 1;
            continue;
        }
        if (strcmp(f, "--seeds") && strcmp(f, "--seconds") && strcmp(f, "--key"))
            die_usage("unknown option", f);
        if (i + 1 >= argc)
            die_usage("option needs a value", f);
        const char *v = argv[++i];
        if (strcmp(f, "--seeds") == 0) {
            if (!*v)
                die_usage("--seeds is empty", NULL);
            a->seeds = v;
        } else if (strcmp(f, "--key") == 0) {
            if (!*v || strlen(v) >= sizeof(a->key))
                die_usage("--key wants 1 to 127 bytes", v);
            snprintf(a->key, sizeof(a->key), "%s", v);
            a->key_given = 1;
        } else {
            char *end;
            long s = strtol(v, &end, 10);
            if (*end || end == v || s < 1 || s > 86400)
                die_usage("--seconds wants 1 to 86400", v);
            a->seconds = (int)s;
        }
    }
}

static int make_events(app *a)
{
    a->tick = event_new(a->base, -1, EV_PERSIST, on_tick, a);
    a->second = event_new(a->base, -1, EV_PERSIST, on_second, a);
    a->failover_timer = event_new(a->base, -1, 0, on_failover_timer, a);
    a->deadline = event_new(a->base, -1, 0, on_deadline, a);
    a->guard = event_new(a->base, -1, 0, on_guard, a);
    a->sigint = evsignal_new(a->base, SIGINT, on_signal, a);
    a->sigterm = evsignal_new(a->base, SIGTERM, on_signal, a);
    return a->tick && a->second && a->failover_timer && a->deadline && a->guard && a->sigint &&
           a->sigterm ? 0 : -1;
}

static void free_events(app *a)
{
    struct event *all[] = { a->tick, a->second, a->failover_timer, a->deadline,
                            a->guard, a->sigint, a->sigterm };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i])
            event_free(all[i]);
}

static int connect_client(app *a)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = a->seeds;
    o.on_event = on_event;
    o.event_privdata = a;
    o.on_command = on_command;
    o.command_privdata = a;
    a->ac = clusterc_async_connect(a->base, &o);
    if (!a->ac || clusterc_async_error(a->ac)) {
        fprintf(stderr, "clusterc-events: cannot connect to %s: %s\n", a->seeds,
                a->ac ? clusterc_async_errstr(a->ac) : "out of memory");
        return -1;
    }
    return 0;
}

static int exit_status(const app *a)
{
    if (a->unreachable)
        return 2;
    if (a->total.failures || a->error_replies || a->failover_failed)
        return 1;
    if (a->total.commands != a->sent) {
        fprintf(stderr, "clusterc-events: the command hook saw %lld commands, %lld were sent\n",
                a->total.commands, a->sent);
        return 1;
    }
    return a->drained ? 0 : 1;
}

int main(int argc, char **argv)
{
    static app a;
    struct timeval run;
    int status = 2;

    parse_args(&a, argc, argv);
    a.t0_ns = now_ns();
    a.base = event_base_new();
    if (!a.base || make_events(&a) < 0) {
        fprintf(stderr, "clusterc-events: cannot set up libevent\n");
        return 2;
    }
    if (connect_client(&a) == 0) {
        run.tv_sec = a.seconds, run.tv_usec = 0;
        event_add(a.deadline, &run);
        event_add(a.sigint, NULL);
        event_add(a.sigterm, NULL);
        if (a.failover)
            start_failover_lookup(&a);
        else
            start_stream(&a);
        event_base_dispatch(a.base);
        print_summary(&a);  /* only when no DRAINED event came */
        status = exit_status(&a);
    }
    clusterc_async_free(a.ac);
    free_events(&a);
    event_base_free(a.base);
    return status;
}
