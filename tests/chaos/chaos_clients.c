/* chaos_clients.c -- the three load clients: blocking (primary reads or
 * replica reads) in a thread each, and an async client on its own
 * event_base in a thread. Each owns its keys, so no key state is shared. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <clusterc/async.h>
#include "chaos.h"

/* CHAOS_TRACE=1: map and node events with their time, and each command's
 * node (the hook runs just before the command's own completion), so a
 * lost write or a stale read can be laid beside the map the client held. */
static void trace_event(const clusterc_event *ev, void *priv)
{
    chaos_client *cl = priv;
    fprintf(stderr, "chaos[%s] t=%lld %s %s %s\n", cl->name, (long long)chaos_now_ms(),
            clusterc_event_name(ev->type), ev->node ? ev->node : "-",
            ev->detail ? ev->detail : "");
}

static void trace_command(const clusterc_command_info *ci, void *priv)
{
    chaos_client *cl = priv;
    snprintf(cl->last_node, sizeof(cl->last_node), "%s", ci->node ? ci->node : "-");
}

static void options(chaos_client *cl, clusterc_options *o)
{
    const char *trace = getenv("CHAOS_TRACE");
    clusterc_options_init(o);
    o->seeds = cl->seeds;
    o->read_only = cl->replica_reads;
    if (trace && atoi(trace) > 0) {
        o->on_event = trace_event;
        o->event_privdata = cl;
        o->on_command = trace_command;
        o->command_privdata = cl;
    }
}

/* The message of a failure other than a timeout or an uncertain write
 * (the first 20 of a run): those are the ones worth reading. */
static void show_rare(const char *who, int code, const char *msg)
{
    static atomic_int shown;
    if (code == 0 || code == CLUSTERC_ETIMEOUT || code == CLUSTERC_EUNCERTAIN)
        return;
    if (atomic_fetch_add(&shown, 1) < 20)
        fprintf(stderr, "chaos[%s]: %s: %s\n", who, clusterc_strerror(code), msg);
}

/* ------------------------------------------------------------ blocking */

/* One SET+GET pair. Returns 0 when both succeeded and (primary reads) the
 * GET saw the version just written; -1 otherwise. */
static int pair_blocking(chaos_client *cl, clusterc_client *c, chaos_key *k)
{
    long ver = ++k->attempted;
    k->t_submit = chaos_now_ms();
    redisReply *r = clusterc_command(c, "SET %s v%ld", k->name, ver);
    int ok = chaos_set_done(cl, k, r, r ? 0 : clusterc_error(c), ver);
    show_rare(cl->name, r ? 0 : clusterc_error(c), clusterc_errstr(c));
    freeReplyObject(r);
    k->t_submit = chaos_now_ms();
    r = clusterc_command(c, "GET %s", k->name);
    int v = chaos_get_done(cl, k, r, r ? 0 : clusterc_error(c));
    show_rare(cl->name, r ? 0 : clusterc_error(c), clusterc_errstr(c));
    freeReplyObject(r);
    atomic_store(&cl->progress_ms, chaos_now_ms());
    return ok && v >= 0 && (cl->replica_reads || v == ver) ? 0 : -1;
}

static void wait_phase(int phase)
{
    while (atomic_load(&chaos_phase) < phase)
        chaos_sleep_ms(20);
}

static void final_round_blocking(chaos_client *cl, clusterc_client *c)
{
    for (int i = 0; i < CHAOS_KEYS; i++) {
        cl->st.final_pairs++;
        if (pair_blocking(cl, c, &cl->keys[i]) < 0) {
            cl->st.final_failures++;
            fprintf(stderr, "chaos[%s]: final round: %s failed: %s (%s)\n", cl->name,
                    cl->keys[i].name, cl->last_err, clusterc_errstr(c));
        }
    }
}

void *chaos_blocking_thread(void *arg)
{
    chaos_client *cl = arg;
    clusterc_options o;
    options(cl, &o);
    clusterc_client *c = clusterc_connect(&o);
    if (!c || clusterc_error(c)) {
        fprintf(stderr, "chaos[%s]: connect: %s\n", cl->name, c ? clusterc_errstr(c) : "ENOMEM");
        cl->st.final_failures++;
    } else {
        for (int i = 0; cl->warm_ping && i < cl->nnodes; i++)   /* a connection to every node */
            freeReplyObject(clusterc_command_to_node(c, cl->nodes[i], "PING"));
    }
    for (long n = 0; c && atomic_load(&chaos_phase) == PH_RUN; n++) {
        pair_blocking(cl, c, &cl->keys[n % CHAOS_KEYS]);
        if (n + 1 == CHAOS_KEYS)
            atomic_store(&cl->warm, 1);
        if (cl->pace_us)
            chaos_sleep_ms(cl->pace_us / 1000);
    }
    atomic_store(&cl->warm, 1);
    wait_phase(PH_FINAL);
    if (c)
        final_round_blocking(cl, c);
    chaos_close_runs(&cl->st);
    atomic_store(&cl->final_done, 1);
    wait_phase(PH_CLOSE);
    if (c) {
        clusterc_stats cs;
        clusterc_get_stats(c, &cs);
        cl->st.maps_deferred = (long long)cs.maps_deferred;
    }
    clusterc_free(c);
    atomic_store(&cl->closed, 1);
    return NULL;
}

/* --------------------------------------------------------------- async */

static chaos_client *A_cl;          /* one async client per process */
static clusterc_async *A;
static struct event *A_tick;
static long A_pairs, A_final_left;
static int A_final_started, A_disconnected;

static void pair_end(chaos_key *k, int good)
{
    k->busy = 0;
    if (++A_pairs >= CHAOS_KEYS)
        atomic_store(&A_cl->warm, 1);
    if (k->final) {
        k->final = 0;
        if (!good)
            A_cl->st.final_failures++;
        if (--A_final_left == 0) {
            chaos_close_runs(&A_cl->st);
            atomic_store(&A_cl->final_done, 1);
        }
    }
}

static void on_get(clusterc_async *a, redisReply *r, void *priv)
{
    chaos_key *k = priv;
    atomic_store(&A_cl->progress_ms, chaos_now_ms());
    int v = chaos_get_done(A_cl, k, r, r ? 0 : clusterc_async_error(a));
    show_rare("async", r ? 0 : clusterc_async_error(a), clusterc_async_errstr(a));
    if (k->final && v != k->ver)
        fprintf(stderr, "chaos[async]: final round: GET %s: %s\n", k->name,
                v < 0 ? clusterc_async_errstr(a) : "not the version just written");
    pair_end(k, v >= 0 && v == k->ver);
}

static void on_set(clusterc_async *a, redisReply *r, void *priv)
{
    chaos_key *k = priv;
    atomic_store(&A_cl->progress_ms, chaos_now_ms());
    int ok = chaos_set_done(A_cl, k, r, r ? 0 : clusterc_async_error(a), k->ver);
    show_rare("async", r ? 0 : clusterc_async_error(a), clusterc_async_errstr(a));
    if (!ok && k->final)
        fprintf(stderr, "chaos[async]: final round: SET %s: %s\n", k->name,
                r ? r->str : clusterc_async_errstr(a));
    k->busy = 2;
    k->t_submit = chaos_now_ms();
    if (clusterc_async_command(a, on_get, k, "GET %s", k->name) != 0) {
        chaos_get_done(A_cl, k, NULL, clusterc_async_error(a));
        pair_end(k, 0);
        return;
    }
    if (!ok && k->final)
        k->ver = -1;          /* the pair fails whatever the GET says */
}

static void start_pair(chaos_key *k)
{
    k->ver = ++k->attempted;
    k->busy = 1;
    k->t_submit = chaos_now_ms();
    if (clusterc_async_command(A, on_set, k, "SET %s v%ld", k->name, k->ver) != 0) {
        chaos_set_done(A_cl, k, NULL, clusterc_async_error(A), k->ver);
        pair_end(k, 0);
    }
}

static int all_idle(void)
{
    for (int i = 0; i < CHAOS_KEYS; i++)
        if (A_cl->keys[i].busy)
            return 0;
    return 1;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
    int phase = atomic_load(&chaos_phase);
    if (phase == PH_RUN) {
        for (int i = 0; i < CHAOS_KEYS; i++)
            if (!A_cl->keys[i].busy)
                start_pair(&A_cl->keys[i]);
    } else if (phase == PH_FINAL && !A_final_started && all_idle()) {
        A_final_started = 1;
        A_final_left = CHAOS_KEYS;
        A_cl->st.final_pairs += CHAOS_KEYS;
        for (int i = 0; i < CHAOS_KEYS; i++) {
            A_cl->keys[i].final = 1;
            start_pair(&A_cl->keys[i]);
        }
    } else if (phase == PH_CLOSE && !A_disconnected && all_idle()) {
        A_disconnected = 1;
        event_del(A_tick);
        clusterc_async_disconnect(A);
    }
}

static void on_ping(clusterc_async *a, redisReply *r, void *priv)
{
    (void)a; (void)r; (void)priv;
}

void *chaos_async_thread(void *arg)
{
    A_cl = arg;
    clusterc_options o;
    options(A_cl, &o);
    struct event_base *base = event_base_new();
    A = base ? clusterc_async_connect(base, &o) : NULL;
    if (!A || clusterc_async_error(A)) {
        fprintf(stderr, "chaos[async]: connect failed\n");
        A_cl->st.final_failures++;
        atomic_store(&A_cl->warm, 1);
        atomic_store(&A_cl->final_done, 1);
        atomic_store(&A_cl->closed, 1);
        return NULL;
    }
    for (int i = 0; A_cl->warm_ping && i < A_cl->nnodes; i++)
        clusterc_async_command_to_node(A, A_cl->nodes[i], on_ping, NULL, "PING");
    A_tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tv = { 0, A_cl->pace_us > 0 ? A_cl->pace_us : 1000 };
    event_add(A_tick, &tv);
    event_base_dispatch(base);
    clusterc_stats cs;
    clusterc_async_get_stats(A, &cs);
    A_cl->st.maps_deferred = (long long)cs.maps_deferred;
    clusterc_async_free(A);
    event_base_loop(base, EVLOOP_NONBLOCK);
    event_free(A_tick);
    event_base_free(base);
    atomic_store(&A_cl->closed, 1);
    return NULL;
}
