/* reads.c -- replica reads: the engine's side of routing, probes, RYW.
 *
 * The decision itself is route.c's (pure). This file feeds it: a snapshot
 * of each node's health, latency (PING round trips, an EWMA measured on a
 * timer, not at refresh time) and lag (INFO replication on each primary),
 * and the read-your-writes clocks.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "engine_int.h"
#include "proto/info.h"

#define MAX_SHARD_NODES 64   /* nodes of one shard considered for a read */
#define EWMA_WEIGHT 0.25     /* weight of a new latency sample */
#define PROBE_MAX_SKIPS 3    /* busy rounds before a probe queues anyway */

static void probe_cb(evutil_socket_t fd, short what, void *arg);
static void lag_cb(evutil_socket_t fd, short what, void *arg);

static clusterc__policy policy_of(const clusterc_options *o)
{
    if (o->route_by_latency) return CLUSTERC__POLICY_LATENCY;
    if (o->route_randomly) return CLUSTERC__POLICY_RANDOM;
    if (o->read_only || o->az_affinity) return CLUSTERC__POLICY_READ_ONLY;
    return CLUSTERC__POLICY_PRIMARY;
}

static void arm(struct event *ev, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    if (ev)
        event_add(ev, &tv);
}

int clusterc__reads_init(clusterc__engine *e)
{
    const clusterc_options *o = &e->opt;
    e->rcfg.policy = policy_of(o);
    e->rcfg.latency_replicas_only = o->latency_replicas_only;
    e->rcfg.tolerance_us = (uint32_t)o->latency_tolerance_us;
    e->rcfg.max_lag_ms = o->max_lag_ms;
    e->rcfg.max_lag_bytes = o->max_lag_bytes;
    e->rcfg.az = o->az_affinity;
    if (clusterc__zones_init(e) < 0)
        return -1;
    e->read_routing = e->rcfg.policy != CLUSTERC__POLICY_PRIMARY;
    e->lag_polling = o->max_lag_ms > 0 || o->max_lag_bytes > 0 || o->read_your_writes;
    if (e->rcfg.policy == CLUSTERC__POLICY_LATENCY && o->latency_probe_ms > 0) {
        e->probe_ev = event_new(e->base, -1, EV_PERSIST, probe_cb, e);
        if (!e->probe_ev)
            return -1;
        arm(e->probe_ev, o->latency_probe_ms);
    }
    if (e->lag_polling) {
        e->lag_ev = event_new(e->base, -1, EV_PERSIST, lag_cb, e);
        if (!e->lag_ev)
            return -1;
        arm(e->lag_ev, o->lag_probe_ms);
    }
    return 0;
}

void clusterc__reads_fini(clusterc__engine *e)
{
    clusterc__zones_fini(e);
    if (e->probe_ev) event_free(e->probe_ev);
    if (e->lag_ev) event_free(e->lag_ev);
    e->probe_ev = e->lag_ev = NULL;
}

/* ------------------------------------------------------------ snapshot */

static void snapshot(const clusterc__engine *e, const clusterc__shard *s, size_t i,
                     clusterc__route_node *out)
{
    const clusterc__node *n = s->nodes[i], *p = s->nodes[0];
    memset(out, 0, sizeof(*out));
    out->failing_until_us = n->fail_until_us;
    out->loading_until_us = n->loading_until_us;
    out->health_loading = n->health == CLUSTERC__HEALTH_LOADING;
    out->health_failed = n->health == CLUSTERC__HEALTH_FAIL;
    out->readonly_refused = n->conn.readonly_refused;
    out->lag_known = n->lag_known;
    out->link_up = n->link_up;
    out->lag_s = n->lag_s;
    out->lag_bytes = n->lag_bytes;
    out->ryw_stale = e->opt.read_your_writes && i > 0 && n->ryw_ok_clock < p->ryw_write_clock;
    out->has_latency = n->has_latency;
    out->latency_us = (uint32_t)(n->latency_us + 0.5);
    out->in_zone = n->in_zone;
}

int clusterc__reads_applies(const clusterc__engine *e, const clusterc__req *r)
{
    if (r->pinned || r->internal || !(r->flags & CLUSTERC__CMD_READONLY))
        return 0;
    return e->read_routing || r->route_mode != CLUSTERC__MODE_DEFAULT;
}

int clusterc__reads_pick(clusterc__engine *e, clusterc__shard *s, clusterc__req *r)
{
    clusterc__route_node snap[MAX_SHARD_NODES];
    size_t n = s->n < MAX_SHARD_NODES ? s->n : MAX_SHARD_NODES;
    int64_t now = clusterc__now_us();
    for (size_t i = 0; i < n; i++)
        snapshot(e, s, i, &snap[i]);
    if (e->rcfg.az && !s->zones_asked) {   /* once per shard and map */
        s->zones_asked = 1;
        clusterc__zones_on_read(e, s);
    }
    return clusterc__route_pick(&e->rcfg, (clusterc__route_mode)r->route_mode, snap, n,
                                &s->cursor, &e->rng, now);
}

/* ------------------------------------------------------- bookkeeping */

void clusterc__reads_sent(clusterc__engine *e, clusterc__req *r, clusterc__node *n)
{
    if (r->internal)
        return;
    if (r->flags & CLUSTERC__CMD_READONLY) {
        n->reads++;
        return;
    }
    n->writes++;
    /* r->x was made by req_new for a write under read_your_writes. */
    if (!e->opt.read_your_writes || !r->x || r->x->ryw_node == n)
        return;
    /* Read-your-writes: stamp the primary with this write's clock; replicas
     * become eligible again only when a poll sent after it (with no write
     * of ours still unanswered there) shows them caught up. */
    if (r->x->ryw_node)
        r->x->ryw_node->writes_inflight--;
    r->x->ryw_node = n;
    n->writes_inflight++;
    n->ryw_write_clock = ++e->ryw_clock;
}

void clusterc__reads_done(clusterc__engine *e, clusterc__req *r)
{
    (void)e;
    if (r->x && r->x->ryw_node) {
        r->x->ryw_node->writes_inflight--;
        r->x->ryw_node = NULL;
    }
}

int clusterc__reads_replica_refused(clusterc__engine *e, clusterc__node *n, clusterc__req *r)
{
    if (!clusterc__reads_applies(e, r) || n->shard < 0 || (size_t)n->shard >= e->nshards ||
        e->shards[n->shard].nodes[0] == n || r->retries >= e->opt.max_retries)
        return 0;
    /* A replica still loading, or cut from its primary with
     * replica-serve-stale-data off: skip it for a while and let the read
     * go to another eligible node at once, without a backoff. */
    n->loading_until_us = clusterc__now_us() + (int64_t)e->opt.failing_ms * 1000;
    n->errors++;
    r->retries++;
    e->stats.retries++;
    return 1;
}

/* ------------------------------------------------------- latency probes */

static void send_ping(clusterc__engine *e, clusterc__node *n, int phase);

static int64_t realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* A probe is three PINGs in a row. The first only wakes the server: on a
 * loaded host, scheduling a sleeping process costs milliseconds, which would
 * make every node that gets no reads look slow and so keep it from getting
 * any. The sample is the lower of the other two round trips: scheduling
 * noise, or a ping queued behind a big reply, only ever adds; a slow link
 * (or proxy) shows in both. */
#define PROBE_PINGS 3

static void take_sample(clusterc__node *n, double sample)
{
    /* Damp one-off spikes; a real change still shows within a few rounds. */
    if (n->has_latency && sample > 3 * n->latency_us + 200)
        sample = 3 * n->latency_us + 200;
    n->latency_us = n->has_latency
        ? n->latency_us + EWMA_WEIGHT * (sample - n->latency_us) : sample;
    n->has_latency = 1;
}

/* An ACL user without +ping or +info gets NOPERM for the probe. */
static int refused(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_ERROR && reply->str && strncmp(reply->str, "NOPERM", 6) == 0;
}

static void on_pong(clusterc__engine *e, clusterc__req *r, redisReply *reply,
                    int code, const char *msg)
{
    clusterc__node *n = r->u1;
    int phase = (int)(uintptr_t)r->u2;
    (void)code; (void)msg;
    if (e->dead)
        goto out;
    n->probe_busy = n->conn.stamp = 0;
    if (reply && refused(reply))
        e->stats.probes_refused++;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        goto out;
    /* The kernel's arrival stamp when there is one (SO_TIMESTAMPNS, realtime
     * clock), else when we read it. */
    double rtt = n->conn.rx_stamp_us >= n->probe_sent_rt_us && n->probe_sent_rt_us > 0
        ? (double)(n->conn.rx_stamp_us - n->probe_sent_rt_us)
        : (double)(clusterc__now_us() - n->probe_sent_us);
    if (phase > 1 && (n->probe_best < 0 || rtt < n->probe_best))
        n->probe_best = rtt;
    if (phase < PROBE_PINGS)
        send_ping(e, n, phase + 1);
    else if (n->probe_best >= 0)
        take_sample(n, n->probe_best);
out:
    freeReplyObject(reply);
}

static void send_ping(clusterc__engine *e, clusterc__node *n, int phase)
{
    static const char *argv[1] = { "PING" };
    uintptr_t tag = (uintptr_t)phase;
    if (phase == 1)
        n->probe_best = -1;
    n->probe_busy = n->conn.stamp = 1;
    n->probe_sent_us = clusterc__now_us();
    n->probe_sent_rt_us = realtime_us();
    n->conn.rx_stamp_us = 0;
    clusterc__req *r = clusterc__engine_internal(e, n, 1, argv, on_pong, n);
    if (r)
        r->u2 = (void *)tag;
    else
        n->probe_busy = n->conn.stamp = 0;
}

/* PING every node of the map. A node with commands queued is skipped (its
 * queue would count as latency) unless it stayed busy for a few rounds. */
static void probe_round(clusterc__engine *e)
{
    for (size_t i = 0; i < e->nnodes; i++) {
        clusterc__node *n = e->nodes[i];
        if (n->probe_busy || !clusterc__engine_in_map(e, n))
            continue;
        if (n->conn.fcount > 0 && ++n->probe_skips < PROBE_MAX_SKIPS)
            continue;
        n->probe_skips = 0;
        send_ping(e, n, 1);
    }
}

static void probe_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__engine *e = arg;
    (void)fd; (void)what;
    e->depth++;
    if (e->map_gen > 0 && !e->draining)
        probe_round(e);
    clusterc__engine_leave(e);
}

/* ------------------------------------------------------------ lag polls */

/* The node of shard s that INFO's "slaveN" line describes. */
static clusterc__node *match_replica(clusterc__shard *s, const clusterc__info_replica *ir)
{
    clusterc__node *by_port = NULL;
    int port_hits = 0;
    for (size_t j = 1; j < s->n; j++) {
        clusterc__node *n = s->nodes[j];
        if (n->announced.port != ir->port)
            continue;
        if (strcmp(n->announced.host, ir->ip) == 0)
            return n;
        by_port = n;
        port_hits++;
    }
    /* The primary sees the replica's source address, which may differ from
     * the one the replica announces: a unique port is good enough. */
    return port_hits == 1 ? by_port : NULL;
}

static void apply_poll(clusterc__shard *s, const clusterc__info_repl *ir,
                       uint64_t clock)
{
    for (size_t j = 1; j < s->n; j++) {
        s->nodes[j]->lag_known = 1;
        s->nodes[j]->link_up = 0;   /* unless listed online below */
    }
    for (size_t k = 0; k < ir->nreplicas; k++) {
        clusterc__node *n = match_replica(s, &ir->replicas[k]);
        if (!n)
            continue;
        n->link_up = strcmp(ir->replicas[k].state, "online") == 0;
        n->lag_s = ir->replicas[k].lag;
        n->lag_bytes = ir->master_repl_offset - ir->replicas[k].offset;
        if (n->lag_bytes < 0)
            n->lag_bytes = 0;
        if (clock && ir->replicas[k].offset >= ir->master_repl_offset && n->ryw_ok_clock < clock)
            n->ryw_ok_clock = clock;
    }
}

/* Lag bounds are unavailable while any primary of the map refuses INFO:
 * its replicas then have no lag figure, so the bounds keep reads off them
 * (node why "lag unavailable") and the primary serves those reads. */
static void note_refusal(clusterc__engine *e, clusterc__node *p, int refusal)
{
    int any = 0;
    p->lag_refused = (uint8_t)refusal;
    if (refusal)
        e->stats.probes_refused++;
    for (size_t i = 0; i < e->nshards && !any; i++)
        any = e->shards[i].n > 0 && e->shards[i].nodes[0]->lag_refused;
    e->stats.lag_unavailable = any;
}

static void on_info(clusterc__engine *e, clusterc__req *r, redisReply *reply,
                    int code, const char *msg)
{
    clusterc__node *p = r->u1;
    uint64_t clock = (uint64_t)(uintptr_t)r->u2;
    clusterc__info_repl ir;
    char err[200];
    (void)code; (void)msg;
    if (e->dead)
        goto out;
    p->poll_busy = 0;
    if (reply)
        note_refusal(e, p, refused(reply));
    if (!reply || reply->type != REDIS_REPLY_STRING || p->shard < 0 ||
        (size_t)p->shard >= e->nshards || e->shards[p->shard].nodes[0] != p)
        goto out;
    if (clusterc__info_repl_parse(reply->str, reply->len, &ir, err, sizeof(err)) == 0) {
        if (ir.is_primary)
            apply_poll(&e->shards[p->shard], &ir, clock);
        clusterc__info_repl_free(&ir);
    }
out:
    freeReplyObject(reply);
}

static void lag_round(clusterc__engine *e)
{
    static const char *argv[2] = { "INFO", "replication" };
    for (size_t i = 0; i < e->nshards; i++) {
        clusterc__node *p = e->shards[i].n > 1 ? e->shards[i].nodes[0] : NULL;
        if (!p || p->poll_busy)
            continue;
        /* The poll rides the same connection as our writes, after them: if
         * none is unanswered, its offsets cover every write stamped so far. */
        uint64_t clock = p->writes_inflight == 0 ? e->ryw_clock : 0;
        p->poll_busy = 1;
        clusterc__req *r = clusterc__engine_internal(e, p, 2, argv, on_info, p);
        if (r)
            r->u2 = (void *)(uintptr_t)clock;
        else
            p->poll_busy = 0;
    }
}

static void lag_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__engine *e = arg;
    (void)fd; (void)what;
    e->depth++;
    if (e->map_gen > 0 && !e->draining)
        lag_round(e);
    clusterc__engine_leave(e);
}

void clusterc__reads_on_map(clusterc__engine *e)
{
    for (size_t i = 0; i < e->nnodes; i++)
        e->nodes[i]->shard = -1;
    for (size_t i = 0; i < e->nshards; i++)
        for (size_t j = 0; j < e->shards[i].n; j++)
            e->shards[i].nodes[j]->shard = (int)i;
    /* Measure at once, so the first reads are judged on samples rather
     * than on nothing, and idle clients keep measuring on the timer. */
    if (e->probe_ev && e->map_gen == 1)
        probe_round(e);
    if (e->lag_ev && e->map_gen == 1)
        lag_round(e);
    clusterc__zones_on_map(e);
}

/* ------------------------------------------------------------ stats */

static void node_info(const clusterc__engine *e, const clusterc__shard *s, size_t j,
                      int64_t now, clusterc_node_info *out)
{
    const clusterc__node *n = s->nodes[j];
    clusterc__route_node snap[MAX_SHARD_NODES];
    size_t k = s->n < MAX_SHARD_NODES ? s->n : MAX_SHARD_NODES;
    for (size_t i = 0; i < k; i++)
        snapshot(e, s, i, &snap[i]);
    memset(out, 0, sizeof(*out));
    snprintf(out->addr, sizeof(out->addr), "%s", n->name);
    clusterc__addr_format(out->announced, sizeof(out->announced), n->announced.host,
                          n->announced.port);
    memcpy(out->id, n->id, sizeof(out->id));
    out->is_primary = j == 0;
    out->shard = n->shard;
    out->connected = n->conn.state == CLUSTERC__CONN_UP;
    out->reads = n->reads;
    out->writes = n->writes;
    out->redirects = n->redirects;
    out->errors = n->errors;
    out->latency_us = n->has_latency ? (int64_t)(n->latency_us + 0.5) : -1;
    out->lag_s = j > 0 && n->lag_known ? n->lag_s : -1;
    out->lag_bytes = j > 0 && n->lag_known ? n->lag_bytes : -1;
    memcpy(out->az, n->az, sizeof(out->az));
    clusterc__inelig why = j < k ? clusterc__route_why(&e->rcfg, snap, j, now)
                                 : CLUSTERC__ELIGIBLE;
    out->eligible = why == CLUSTERC__ELIGIBLE;
    out->why = clusterc__inelig_str(why);
    if (!out->eligible && j > 0 && !n->lag_known && s->nodes[0]->lag_refused &&
        (why == CLUSTERC__INELIG_LAG_TIME || why == CLUSTERC__INELIG_LAG_BYTES ||
         why == CLUSTERC__INELIG_RYW))
        out->why = "lag unavailable";
}

int clusterc__engine_node_stats(const clusterc__engine *e, clusterc_node_info *out, int max)
{
    int count = 0;
    int64_t now = clusterc__now_us();
    if (e->map_gen == 0)
        return -1;
    for (size_t i = 0; i < e->nshards; i++)
        for (size_t j = 0; j < e->shards[i].n; j++, count++)
            if (count < max)
                node_info(e, &e->shards[i], j, now, &out[count]);
    return count;
}
