/* refresh.c -- loading and installing the slot map, and the command table.
 *
 * Refreshes are coalesced and throttled on the leading edge:
 * - a load in flight absorbs every trigger that arrives before it ends,
 *   except one that shows its answer may already be stale (a MOVED after
 *   it began, an explicit refresh): that one costs exactly one more load;
 * - the first trigger after a quiet period loads at once; triggers within
 *   refresh_min_interval_ms of a load's start coalesce into one load at the
 *   end of that interval. The load that installs the first map opens no
 *   such window, so a MOVED right after start-up is acted on at once.
 * So a burst of MOVED replies costs at most two CLUSTER SHARDS. The nodes
 * asked are the known ones in random order, then the seeds; the first
 * valid answer wins, and a malformed one is skipped without touching the
 * map in use.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"

static void refresh_start(clusterc__engine *e);
static void refresh_done(clusterc__engine *e, int ok);
static void log_failure(clusterc__engine *e, const char *who, int code, const char *what);
static void ask_next(clusterc__engine *e);

static void refresh_ev_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__engine *e = arg;
    (void)fd; (void)what;
    e->depth++;
    e->refresh_scheduled = 0;
    refresh_start(e);
    clusterc__engine_leave(e);
}

static void periodic_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__engine *e = arg;
    (void)fd; (void)what;
    e->depth++;
    clusterc__refresh_request(e, "periodic", 0);
    clusterc__engine_leave(e);
}

static void arm_periodic(clusterc__engine *e)
{
    int ms = e->opt.refresh_interval_ms;
    if (ms > 0 && e->periodic_ev && !e->draining) {
        struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
        event_add(e->periodic_ev, &tv);
    }
}

int clusterc__refresh_init(clusterc__engine *e)
{
    e->refresh_ev = evtimer_new(e->base, refresh_ev_cb, e);
    e->periodic_ev = evtimer_new(e->base, periodic_cb, e);
    return e->refresh_ev && e->periodic_ev ? 0 : -1;
}

void clusterc__refresh_fini(clusterc__engine *e)
{
    if (e->refresh_ev) event_free(e->refresh_ev);
    if (e->periodic_ev) event_free(e->periodic_ev);
    e->refresh_ev = e->periodic_ev = NULL;
    free(e->cands);
    e->cands = NULL;
    e->ncands = 0;
}

void clusterc__refresh_drain(clusterc__engine *e)
{
    if (e->refresh_ev)
        event_del(e->refresh_ev);
    if (e->periodic_ev)
        event_del(e->periodic_ev);
    e->refresh_scheduled = 0;
    e->refresh_again = 0;
}

/* Start a load at now + wait_us, or keep an earlier start already set. */
static void schedule_at(clusterc__engine *e, int64_t wait_us)
{
    int64_t now = clusterc__now_us();
    if (e->refresh_scheduled && e->refresh_due_us <= now + wait_us)
        return;
    struct timeval tv = { (long)(wait_us / 1000000), (long)(wait_us % 1000000) };
    e->refresh_scheduled = 1;
    e->refresh_due_us = now + wait_us;
    event_add(e->refresh_ev, &tv);
}

void clusterc__refresh_request(clusterc__engine *e, const char *why, int stale)
{
    (void)why;
    if (!e->refresh_ev || e->dead || e->draining)
        return;
    e->stats.refresh_requests++;
    if (e->refresh_inflight) {
        if (stale) {   /* the answer in flight may predate the change */
            e->refresh_again = 1;
            e->refresh_again_force |= e->refresh_force;
        }
        return;
    }
    int64_t wait = e->last_refresh_us + (int64_t)e->opt.refresh_min_interval_ms * 1000
                   - clusterc__now_us();
    if (e->last_refresh_us == 0 || wait < 0 || e->refresh_force)
        wait = 0;
    schedule_at(e, wait);
}

uint64_t clusterc__engine_refresh(clusterc__engine *e, int force)
{
    /* A load already in flight may have been answered before whatever
     * made the caller ask: the one after it is the one that counts. */
    uint64_t done_at = e->refresh_runs + (e->refresh_inflight ? 2 : 1);
    if (force && !e->refresh_inflight) {
        if (e->refresh_scheduled && e->refresh_ev)
            event_del(e->refresh_ev);
        e->refresh_scheduled = 0;
    }
    e->refresh_force = force;
    clusterc__refresh_request(e, force ? "forced" : "asked", 1);
    e->refresh_force = 0;
    return done_at;
}

/* ------------------------------------------------------------ candidates */

/* The nodes of the current map in random order (connected ones first: no
 * dial needed), then the seeds, without repeats. Only members: a node
 * reached through clusterc_command_to_node may belong to another cluster
 * (the admin API talks to a node before it joins), and its map would
 * replace this one. */
static int build_candidates(clusterc__engine *e)
{
    size_t max = e->nnodes + e->nseeds, k = 0;
    clusterc__addr *c = malloc((max ? max : 1) * sizeof(*c));
    if (!c)
        return -1;
    for (int pass = 0; pass < 2; pass++) {
        size_t start = k;
        for (size_t i = 0; i < e->nnodes; i++) {
            clusterc__node *n = e->nodes[i];
            int up = n->conn.state == CLUSTERC__CONN_UP;
            if (!clusterc__engine_in_map(e, n) || up != (pass == 0))   /* members only */
                continue;
            c[k++] = n->conn.addr;
        }
        for (size_t i = k - start; i > 1; i--) {   /* Fisher-Yates */
            size_t j = clusterc__rand_below(&e->rng, (uint32_t)i);
            clusterc__addr t = c[start + i - 1];
            c[start + i - 1] = c[start + j];
            c[start + j] = t;
        }
    }
    for (size_t i = 0; i < e->nseeds; i++) {
        size_t j = 0;
        while (j < k && !(c[j].port == e->seeds[i].port &&
                          strcmp(c[j].host, e->seeds[i].host) == 0))
            j++;
        if (j == k)
            c[k++] = e->seeds[i];
    }
    free(e->cands);
    e->cands = c;
    e->ncands = k;
    e->cand_idx = 0;
    return 0;
}

static void refresh_start(clusterc__engine *e)
{
    if (e->refresh_inflight || e->dead)
        return;
    e->refresh_inflight = 1;
    e->refresh_again = 0;
    e->refresh_map_gen = e->map_gen;
    e->last_refresh_us = clusterc__now_us();
    e->stats.refreshes++;
    e->refresh_log[0] = '\0';
    e->refresh_code = 0;
    if (build_candidates(e) < 0) {
        log_failure(e, "refresh", CLUSTERC_ENOMEM, "out of memory listing nodes to ask");
        refresh_done(e, 0);   /* a blocking caller waits for this run to end */
        return;
    }
    ask_next(e);
}

static void log_failure(clusterc__engine *e, const char *who, int code, const char *what)
{
    size_t used = strlen(e->refresh_log);
    int named = strstr(what, who) != NULL;   /* most messages name the node */
    snprintf(e->refresh_log + used, sizeof(e->refresh_log) - used, "%s%s%s%s",
             used ? "; " : "", named ? "" : who, named ? "" : ": ", what);
    /* The most telling code wins: auth and TLS problems over connection
     * problems over bad answers. */
    int telling = e->refresh_code == CLUSTERC_EAUTH || e->refresh_code == CLUSTERC_ETLS;
    if (code == CLUSTERC_EAUTH || code == CLUSTERC_ETLS || e->refresh_code == 0 ||
        (code == CLUSTERC_ECONNECT && !telling))
        e->refresh_code = code;
}

/* ------------------------------------------------------------ finishing */

/* The map load's node is waiting for its AUTH reply: nothing was sent. */
static int behind_auth(const clusterc__engine *e)
{
    for (size_t i = 0; i < e->nnodes; i++)
        if (strcmp(e->nodes[i]->name, e->refresh_at) == 0)
            return e->nodes[i]->conn.auth_wait;
    return 0;
}

void clusterc__refresh_status(const clusterc__engine *e, char *buf, size_t cap)
{
    if (e->refresh_inflight)
        snprintf(buf, cap, "; the map load in flight: CLUSTER %s %s %s, no answer yet",
                 e->use_slots ? "SLOTS" : "SHARDS",
                 behind_auth(e) ? "queued behind the unanswered AUTH to" : "sent to",
                 e->refresh_at);
    else if (e->err.code)
        snprintf(buf, cap, "; the last map load failed: %s", e->err.str);
    else
        buf[0] = '\0';
}

int64_t clusterc__refresh_held_us(const clusterc__engine *e)
{
    if (e->refresh_inflight || !e->refresh_scheduled)
        return 0;
    int64_t wait = e->refresh_due_us - clusterc__now_us();
    return wait > 0 ? wait : 0;
}

uint64_t clusterc__engine_refresh_runs(const clusterc__engine *e)
{
    return e->refresh_runs;
}

/* A map that is still settling: CLUSTER SHARDS calls a replica "loading"
 * while its gossiped replication offset is 0 (during a full sync, but also
 * briefly after a cluster forms), and right after a cluster forms a node
 * may still list replicas as slotless primaries. Either way replicas get no
 * reads, so with read routing on such a map is looked at again soon, at
 * growing intervals (1 s, 2 s, 4 s... up to the periodic one), not 60 s on. */
static int unsettled(const clusterc__engine *e)
{
    unsigned char has_slots[1024] = { 0 };
    for (int i = 0; i < CLUSTERC__NSLOTS; i++)
        if (e->slot_shard[i] >= 0 && e->slot_shard[i] < 1024)
            has_slots[e->slot_shard[i]] = 1;
    for (size_t i = 0; i < e->nshards; i++) {
        if (i < 1024 && !has_slots[i] && e->shards[i].n == 1)
            return 1;   /* a lone primary without slots: maybe a replica-to-be */
        for (size_t j = 1; j < e->shards[i].n; j++)
            if (e->shards[i].nodes[j]->health == CLUSTERC__HEALTH_LOADING)
                return 1;
    }
    return 0;
}

static void schedule_settle(clusterc__engine *e)
{
    int cap = e->opt.refresh_interval_ms > 0 ? e->opt.refresh_interval_ms : 60000;
    int first = e->opt.refresh_min_interval_ms > 0 ? e->opt.refresh_min_interval_ms : 1000;
    e->settle_ms = e->settle_ms ? (e->settle_ms * 2 > cap ? cap : e->settle_ms * 2) : first;
    if (!e->refresh_ev || e->draining)
        return;
    schedule_at(e, (int64_t)e->settle_ms * 1000);
}

static void refresh_done(clusterc__engine *e, int ok)
{
    e->refresh_inflight = 0;
    e->refresh_runs++;
    if (ok && e->refresh_map_gen == 0)
        e->last_refresh_us = 0;   /* the first map opens no throttle window */
    if (ok) {
        clusterc__err_clear(&e->err);
        clusterc__engine_redispatch_waiting(e, 0, 0, NULL);
        if (e->cmds_state == 0 && clusterc__now_us() >= e->cmds_retry_us)
            clusterc__engine_fetch_commands(e);
    } else {
        clusterc__err_set(&e->err, e->refresh_code ? e->refresh_code : CLUSTERC_ETOPOLOGY,
                          "could not load the slot map: %s",
                          e->refresh_log[0] ? e->refresh_log : "no node to ask");
        clusterc__engine_redispatch_waiting(e, 1, e->err.code, e->err.str);
    }
    arm_periodic(e);
    if (e->refresh_again) {
        e->refresh_force = e->refresh_again_force;   /* a forced ask stays forced */
        e->refresh_again_force = 0;
        clusterc__refresh_request(e, "again", 1);
        e->refresh_force = 0;
    }
    else if (ok && e->read_routing && unsettled(e))
        schedule_settle(e);
    else if (ok)
        e->settle_ms = 0;
}

/* Returns 1 when what the id index keys on (the id, being listed) changed. */
static int install_node_facts(clusterc__node *n, const clusterc__topo_node *t, uint64_t gen)
{
    int changed = n->retired || strcmp(n->id, t->id) != 0;
    if (changed)
        memcpy(n->id, t->id, sizeof(n->id));
    n->role = t->role;
    n->health = t->health;
    n->repl_offset = t->repl_offset;
    n->map_gen = gen;
    n->retired = 0;
    return changed;
}

/* What a new map changes, for MAP_UPDATED (only with on_event set). */
typedef struct map_diff {
    int on, added, removed, slots, roles;
    size_t used;
    char text[400];
} map_diff;

static void diff_say(map_diff *d, const char *fmt, const char *name)
{
    if (d->used + 8 < sizeof(d->text))
        d->used += (size_t)snprintf(d->text + d->used, sizeof(d->text) - d->used, fmt,
                                    d->used ? "; " : "", name);
    if (d->used >= sizeof(d->text))
        d->used = sizeof(d->text) - 1;
}

/* n is listed by the new map with role; what did the old one say? */
static void diff_node(map_diff *d, const clusterc__engine *e, const clusterc__node *n,
                      clusterc__role role)
{
    if (!d->on || e->map_gen == 0)
        return;
    if (n->map_gen != e->map_gen) {
        d->added++;
        if (role == CLUSTERC__ROLE_PRIMARY)
            diff_say(d, "%snew primary %s (a node new to the map)", n->name);
    } else if (n->role != role) {
        d->roles++;
        diff_say(d, role == CLUSTERC__ROLE_PRIMARY ? "%snew primary %s (was a replica)"
                                                   : "%s%s is now a replica", n->name);
    }
}

/* The primary's id of slot s in the map as installed (ev_slot, ev_ids):
 * a MOVED patches the live map between loads, so the live map is not
 * what the last MAP_UPDATED told the application. */
static const char *installed_primary(const clusterc__engine *e, int s)
{
    return e->ev_slot && e->ev_slot[s] >= 0 ? e->ev_ids[e->ev_slot[s]] : "";
}

static const char *new_primary(const clusterc__shard *sh, const clusterc__topology *t, int s)
{
    int i = t->slot_shard[s];
    return i >= 0 && sh[i].n ? sh[i].nodes[0]->id : "";
}

/* Keep the installed map's slot owners for the next diff. */
static void diff_keep(map_diff *d, clusterc__engine *e, const clusterc__shard *sh,
                      const clusterc__topology *t)
{
    char (*ids)[41] = d->on ? realloc(e->ev_ids, (t->nshards + 1) * sizeof(*ids)) : NULL;
    if (!e->ev_slot && ids)
        e->ev_slot = malloc(sizeof(t->slot_shard));
    if (!ids || !e->ev_slot) {   /* no memory: the next diff says less, nothing worse */
        if (ids)
            e->ev_ids = ids;
        return;
    }
    e->ev_ids = ids;
    for (size_t i = 0; i < t->nshards; i++)
        snprintf(ids[i], sizeof(ids[i]), "%s", sh[i].n ? sh[i].nodes[0]->id : "");
    memcpy(e->ev_slot, t->slot_shard, sizeof(t->slot_shard));
}

/* Slots whose primary changed since the last installed map, nodes that
 * left; then the event. */
static void diff_finish(map_diff *d, clusterc__engine *e, const clusterc__shard *sh,
                        const clusterc__topology *t)
{
    char tail[160];
    if (!d->on || e->map_gen == 0)
        return;
    for (int s = 0; s < CLUSTERC__NSLOTS; s++)
        d->slots += strcmp(installed_primary(e, s), new_primary(sh, t, s)) != 0;
    for (size_t i = 0; i < e->nnodes; i++)
        d->removed += e->nodes[i]->map_gen == e->map_gen;   /* not relisted */
    if (!d->slots && !d->added && !d->removed && !d->roles)
        return;
    snprintf(tail, sizeof(tail), "slots moved: %d; nodes added: %d, removed: %d", d->slots,
             d->added, d->removed);
    diff_say(d, "%s%s", tail);
    clusterc__emit(e, CLUSTERC_EVENT_MAP_UPDATED, NULL, 0, "%s", d->text);
}

/* Swap in a new map. Nodes are kept by address, so live connections
 * survive; nodes no longer listed retire and close once idle. */
static int install(clusterc__engine *e, const clusterc__topology *t)
{
    uint64_t gen = e->map_gen + 1;
    size_t known = e->nnodes;
    int ids = e->by_id.stale;   /* the id index must be rebuilt */
    map_diff d = { clusterc__events_on(e), 0, 0, 0, 0, 0, "" };
    clusterc__shard *sh = calloc(t->nshards ? t->nshards : 1, sizeof(*sh));
    if (!sh)
        return -1;
    for (size_t i = 0; i < t->nshards; i++) {
        const clusterc__topo_shard *ts = &t->shards[i];
        sh[i].nodes = calloc(ts->nnodes ? ts->nnodes : 1, sizeof(clusterc__node *));
        for (size_t j = 0; sh[i].nodes && j < ts->nnodes; j++) {
            clusterc__addr dial;
            clusterc__engine_remap(e, &ts->nodes[j].addr, &dial);
            clusterc__node *n = clusterc__engine_node(e, &dial, 1);
            if (!n)
                break;
            diff_node(&d, e, n, ts->nodes[j].role);
            ids |= install_node_facts(n, &ts->nodes[j], gen);
            n->announced = ts->nodes[j].addr;
            sh[i].nodes[sh[i].n++] = n;
        }
        if (!sh[i].nodes || sh[i].n != ts->nnodes) {
            for (size_t k = 0; k <= i; k++)
                free(sh[k].nodes);
            free(sh);
            if (ids || e->nnodes != known)   /* facts already taken stay findable */
                (void)clusterc__nindex_rebuild(&e->by_id, e);
            return -1;
        }
    }
    diff_finish(&d, e, sh, t);   /* before the old map goes */
    diff_keep(&d, e, sh, t);
    for (size_t i = 0; i < e->nshards; i++)
        free(e->shards[i].nodes);
    free(e->shards);
    e->shards = sh;
    e->nshards = t->nshards;
    memcpy(e->slot_shard, t->slot_shard, sizeof(e->slot_shard));
    e->map_gen = gen;
    for (size_t i = 0; i < e->nnodes; i++)
        if (e->nodes[i]->map_gen != gen && !e->nodes[i]->retired) {
            e->nodes[i]->retired = 1;
            ids |= e->nodes[i]->id[0] != '\0';
        }
    /* Rebuilt only when ids, retirements or the node set changed: a
     * map load that changes nothing (most of them) skips an O(nodes) pass. */
    if (ids || e->nnodes != known)
        (void)clusterc__nindex_rebuild(&e->by_id, e);
    clusterc__engine_schedule_reap(e);
    clusterc__reads_on_map(e);
    clusterc__pubsub_on_map(e);
    if (!e->ready_sent) {
        e->ready_sent = 1;
        clusterc__emit(e, CLUSTERC_EVENT_READY, NULL, 0, "slot map loaded: %zu shards, %d of %d "
                       "slots served", e->nshards, clusterc__topology_covered(t), CLUSTERC__NSLOTS);
    }
    return 0;
}

/* Swap a replica into the primary's place: its shard's slots follow it.
 * (n->role stays as the last map said, for MAP_UPDATED's diff: the live
 * role is the place in the shard, clusterc__node_is_live_replica.) */
static int promote_in_shard(clusterc__shard *sh, clusterc__node *to)
{
    for (size_t j = 1; j < sh->n; j++) {
        if (sh->nodes[j] == to) {
            sh->nodes[j] = sh->nodes[0];
            sh->nodes[0] = to;
            return 1;
        }
    }
    return 0;
}

void clusterc__engine_patch_slot(clusterc__engine *e, int slot, clusterc__node *to)
{
    int cur = e->slot_shard[slot];
    /* MOVED to a replica of the slot's own shard means a failover: every
     * slot of the shard moved with it, so patch them all at once instead of
     * paying one MOVED per slot until the refresh lands. */
    if (cur >= 0 && promote_in_shard(&e->shards[cur], to))
        return;
    for (size_t i = 0; i < e->nshards; i++) {
        if (e->shards[i].n > 0 && e->shards[i].nodes[0] == to) {
            e->slot_shard[slot] = (int16_t)i;
            return;
        }
    }
    /* A primary the map does not know yet: a one-node shard until the
     * refresh that MOVED triggered replaces the whole map. */
    clusterc__shard *sh = realloc(e->shards, (e->nshards + 1) * sizeof(*sh));
    if (!sh)
        return;
    e->shards = sh;
    sh[e->nshards].nodes = malloc(sizeof(clusterc__node *));
    if (!sh[e->nshards].nodes)
        return;
    sh[e->nshards].nodes[0] = to;
    sh[e->nshards].n = 1;
    sh[e->nshards].cursor = 0;
    sh[e->nshards].zones_asked = 0;
    to->shard = (int)e->nshards;
    if (to->retired && to->id[0])
        e->by_id.stale = 1;   /* listed again: scanned until the next install */
    to->retired = 0;
    e->slot_shard[slot] = (int16_t)e->nshards++;
}

/* ------------------------------------------------------------ older views */

/* The node our map calls a shard's primary when the new map t lists it as
 * a replica, neither marked failed there nor failing here: the shape of a
 * failover as t's answerer tells it. NULL when there is none. */
static clusterc__node *demoted_primary(clusterc__engine *e, const clusterc__topology *t)
{
    int64_t now = clusterc__now_us();
    for (size_t i = 0; e->map_gen > 0 && i < t->nshards; i++) {
        const clusterc__topo_shard *ts = &t->shards[i];
        for (size_t j = 1; j < ts->nnodes; j++) {   /* nodes[0] is the primary */
            clusterc__addr dial;
            if (ts->nodes[j].health == CLUSTERC__HEALTH_FAIL)
                continue;
            clusterc__engine_remap(e, &ts->nodes[j].addr, &dial);
            clusterc__node *m = clusterc__engine_node(e, &dial, 0);
            if (m && clusterc__engine_in_map(e, m) && m->shard >= 0 &&
                (size_t)m->shard < e->nshards && e->shards[m->shard].nodes[0] == m &&
                m->fail_until_us <= now)
                return m;
        }
    }
    return NULL;
}

/* Any node may answer a map load with a view older than ours: one not yet
 * told of a failover we learned from a MOVED, or told of it before the
 * demoted primary itself was, while that node still serves reads as a
 * primary (a manual failover pauses its writes only). Installed, such a
 * map sends reads where the last acknowledged write is not (the chaos
 * suite's lost reads). So a map that demotes the node we call primary, x,
 * is believed only after x has had its say in this load: x goes next
 * (returns 1). x's word about itself is what the clients writing to it
 * see, so following it never reads behind a write it acknowledged. */
static int ask_demoted_first(clusterc__engine *e, const clusterc__node *x, const clusterc__node *from)
{
    if (x == from)
        return 0;
    for (size_t i = 0; i < e->ncands; i++) {
        clusterc__addr *c = &e->cands[i];
        if (c->port != x->conn.addr.port || strcmp(c->host, x->conn.addr.host) != 0)
            continue;
        if (i < e->cand_idx)
            return 0;          /* asked already in this load: it failed */
        clusterc__addr tmp = *c;
        *c = e->cands[e->cand_idx];
        e->cands[e->cand_idx] = tmp;
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------ asking */

static int parse_map(clusterc__engine *e, clusterc__node *n, redisReply *reply)
{
    clusterc__topology *t = NULL;
    char err[256];
    int rc = e->use_slots
        ? clusterc__topology_from_slots(reply, n->conn.addr.host, &t, err, sizeof(err))
        : clusterc__topology_from_shards_tls(reply, n->conn.addr.host, e->opt.tls, &t, err,
                                             sizeof(err));
    if (rc < 0) {
        char what[320];
        snprintf(what, sizeof(what), "malformed CLUSTER %s reply: %s", e->use_slots ? "SLOTS" : "SHARDS", err);
        log_failure(e, n->name, CLUSTERC_EPROTOCOL, what);
        return -1;
    }
    /* A node that left the cluster (CLUSTER RESET, or not yet joined)
     * answers with a map of itself and no slot: never better than the map
     * in use, nor than what another node would say. */
    if (clusterc__topology_covered(t) == 0 && (e->map_gen > 0 || e->cand_idx < e->ncands)) {
        clusterc__topology_free(t);
        log_failure(e, n->name, CLUSTERC_ETOPOLOGY,
                    "its map has no slot assigned (not a member of the cluster?)");
        return -1;
    }
    clusterc__node *x = demoted_primary(e, t);
    if (x && ask_demoted_first(e, x, n)) {
        char what[2 * CLUSTERC__ADDR_MAX + 64];
        snprintf(what, sizeof(what), "its map makes %s a replica: asking %s itself first",
                 x->name, x->name);
        clusterc__topology_free(t);
        log_failure(e, n->name, CLUSTERC_ETOPOLOGY, what);
        e->stats.maps_deferred++;
        return -1;
    }
    rc = install(e, t);
    clusterc__topology_free(t);
    if (rc < 0)
        log_failure(e, n->name, CLUSTERC_ENOMEM, "out of memory installing the map");
    return rc;
}

static int lacks_shards(const redisReply *r)
{
    /* Redis < 7 answers "ERR Unknown subcommand or wrong number of
     * arguments for 'SHARDS'" (wording varies by version); an ACL user
     * allowed CLUSTER SLOTS but not SHARDS gets NOPERM: SLOTS may still do. */
    return r->type == REDIS_REPLY_ERROR && r->str &&
           (strstr(r->str, "nknown subcommand") || strstr(r->str, "nknown command") ||
            strncmp(r->str, "NOPERM", 6) == 0);
}

void clusterc__refresh_on_map(clusterc__engine *e, clusterc__req *r, redisReply *reply,
                              int code, const char *msg)
{
    clusterc__node *n = r->u1;
    if (e->dead) {
        clusterc__reply_free(reply);
        return;
    }
    if (!reply) {
        log_failure(e, n->name, code, msg);
    } else if (!e->use_slots && lacks_shards(reply)) {
        e->use_slots = 1;
        e->cand_idx--;      /* same node, older command */
    } else if (reply->type == REDIS_REPLY_ERROR) {
        char what[320];
        snprintf(what, sizeof(what), "%s replied %s", CLUSTERC__RNAME(r), reply->str);
        log_failure(e, n->name, CLUSTERC_ETOPOLOGY, what);
    } else if (parse_map(e, n, reply) == 0) {
        clusterc__reply_free(reply);
        e->map_from = n;   /* COMMAND goes there: its connection is open */
        refresh_done(e, 1);
        e->map_from = NULL;
        return;
    }
    clusterc__reply_free(reply);
    ask_next(e);
}

static void ask_next(clusterc__engine *e)
{
    while (e->cand_idx < e->ncands) {
        clusterc__addr *a = &e->cands[e->cand_idx++];
        clusterc__node *n = clusterc__engine_node(e, a, 1);
        if (!n) {   /* said, or the load ends in "no node to ask" */
            log_failure(e, a->host, CLUSTERC_ENOMEM, "out of memory adding the node to ask");
            continue;
        }
        const char *argv[2] = { "CLUSTER", e->use_slots ? "SLOTS" : "SHARDS" };
        snprintf(e->refresh_at, sizeof(e->refresh_at), "%s", n->name);
        if (clusterc__engine_internal(e, n, 2, argv, clusterc__refresh_on_map, n))
            return;
        log_failure(e, n->name, CLUSTERC_ENOMEM, "out of memory queuing the map load");
    }
    refresh_done(e, 0);
}

/* ------------------------------------------------------ command table */

#define CMDS_RETRY_S 300   /* a failed COMMAND is asked again after this */

static void on_commands(clusterc__engine *e, clusterc__req *r, redisReply *reply,
                        int code, const char *msg)
{
    clusterc__cmdtable *t = NULL;
    char err[256];
    (void)r; (void)code; (void)msg;
    if (!e->dead && reply && reply->type == REDIS_REPLY_ARRAY &&
        clusterc__cmdtable_from_reply(reply, &t, err, sizeof(err)) == 0) {
        clusterc__cmdtable_free(e->learned);
        e->learned = t;
        e->cmds = t;
        e->cmds_state = 2;
        clusterc__fanout_learn(e, reply);   /* the same reply's routing tips */
    } else if (!e->dead) {
        /* Keep the built-in table. Refused (an ACL user without +command,
         * a proxy) or failed, COMMAND is asked again only after a map load
         * at least CMDS_RETRY_S later, not after every load. */
        e->cmds_state = 0;
        e->cmds_retry_us = clusterc__now_us() + (int64_t)CMDS_RETRY_S * 1000000;
    }
    freeReplyObject(reply);
}

void clusterc__engine_fetch_commands(clusterc__engine *e)
{
    const char *argv[1] = { "COMMAND" };
    if (e->nshards == 0 || e->shards[0].n == 0 || e->draining)
        return;
    /* Any node knows the commands: the one that just answered the map has
     * its connection up, where another would cost a connect (and a TLS
     * handshake) to a client that may never use that node. Unless it is not
     * in the map (a seed named by host name): busy with COMMAND, it would
     * escape the reaping of retired connections until the next map load. */
    clusterc__node *to = e->map_from && e->map_from->conn.state == CLUSTERC__CONN_UP &&
                                 clusterc__engine_in_map(e, e->map_from)
                             ? e->map_from : e->shards[0].nodes[0];
    e->cmds_state = 1;
    if (!clusterc__engine_internal(e, to, 1, argv, on_commands, NULL))
        e->cmds_state = 0;
}

/* No map: shards freed, nothing routes until the next load. */
void clusterc__engine_drop_map(clusterc__engine *e)
{
    for (size_t i = 0; i < e->nshards; i++)
        free(e->shards[i].nodes);
    free(e->shards);
    e->shards = NULL;
    e->nshards = 0;
    e->map_gen = 0;
}
