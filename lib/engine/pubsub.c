/* pubsub.c -- Pub/Sub in the engine: the subscriptions the client wants,
 * and making the actual ones match them (see pubsub.h).
 *
 * Wanted subscriptions live in a hash table keyed by kind and name, so a
 * message finds its callback in O(1). "Making them match" is one pass,
 * sync_all, run after every map install, after a short backoff when a
 * subscriber connection was lost, and when the server dropped a shard
 * channel. It is idempotent: a subscription already on the right
 * connection costs nothing, so any trigger may run it. The connections and
 * the pushes they carry are pubsub_conn.c's.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pubsub_int.h"

#define RESYNC_MIN_MS 100    /* second attempt after a failure (the first is at once) */
#define RESYNC_MAX_MS 1000   /* a node that stays down is retried this often; each
                                failed attempt asks for a map load, which finds the
                                replica that replaced it (loads are rate-limited
                                to refresh_min_interval_ms, 1 s by default) */

static void resync_cb(evutil_socket_t fd, short what, void *arg);

/* -------------------------------------------------------------- the table */

static uint32_t hash_of(int kind, const char *name, size_t len)
{
    uint32_t h = 2166136261u ^ (uint32_t)kind;   /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    return h;
}

ps_sub *clusterc__ps_find(clusterc__pubsub *ps, int kind, const char *name, size_t len)
{
    uint32_t h = hash_of(kind, name, len);
    for (ps_sub *s = ps->buckets[h & (ps->nbuckets - 1)]; s; s = s->next)
        if (s->hash == h && s->kind == kind && s->len == len && memcmp(s->name, name, len) == 0)
            return s;
    return NULL;
}

/* Double the buckets when the table is full; out of memory, the chains
 * just grow longer. */
static void table_grow(clusterc__pubsub *ps)
{
    size_t cap = ps->nbuckets * 2;
    ps_sub **b = calloc(cap, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < ps->nbuckets; i++) {
        for (ps_sub *s = ps->buckets[i], *next; s; s = next) {
            next = s->next;
            s->next = b[s->hash & (cap - 1)];
            b[s->hash & (cap - 1)] = s;
        }
    }
    free(ps->buckets);
    ps->buckets = b;
    ps->nbuckets = cap;
}

static ps_sub *table_add(clusterc__pubsub *ps, int kind, const char *name, size_t len)
{
    ps_sub *s = calloc(1, sizeof(*s));
    if (!s || !(s->name = malloc(len + 1))) {
        free(s);
        return NULL;
    }
    memcpy(s->name, name, len);
    s->name[len] = '\0';
    s->len = len;
    s->kind = kind;
    s->hash = hash_of(kind, name, len);
    if (ps->nsubs >= ps->nbuckets)
        table_grow(ps);
    ps_sub **head = &ps->buckets[s->hash & (ps->nbuckets - 1)];
    s->next = *head;
    *head = s;
    ps->nsubs++;
    return s;
}

static void table_remove(clusterc__pubsub *ps, ps_sub *s)
{
    ps_sub **pp = &ps->buckets[s->hash & (ps->nbuckets - 1)];
    while (*pp != s)
        pp = &(*pp)->next;
    *pp = s->next;
    ps->nsubs--;
    free(s->name);
    free(s);
}

/* ------------------------------------------------------ subscribed or not */

/* Something failed (a connection lost, a subscribe refused, a channel
 * dropped by the server): resubscribe at once the first time (a failover's
 * old primary, now a replica, still serves the shard's channels; a MOVED
 * has already patched the map), then back off until a subscribe is
 * confirmed again, so a node that stays down costs a dial a second. */
static void retry_later(clusterc__pubsub *ps)
{
    int delay = ps->streak++ == 0 ? 0
        : (int)clusterc__backoff_ms(ps->streak - 2, RESYNC_MIN_MS, RESYNC_MAX_MS, &ps->e->rng);
    clusterc__ps_resync_later(ps, delay);
}

/* s stops being subscribed now: the gap stats.unsubscribed_us counts
 * starts (only for a subscription that was confirmed). */
static void stop(ps_sub *s, int64_t now)
{
    if (s->subscribed) {
        s->subscribed = 0;
        s->unsub_since = now;
    }
}

/* Take s off its connection; unsub: tell the server (the connection stays
 * up for others). A connection left with nothing closes. */
static void detach(clusterc__pubsub *ps, ps_sub *s, int unsub)
{
    ps_conn *pc = s->pc;
    int active = s->subscribed || s->inflight > 0;
    stop(s, clusterc__now_us());
    s->pc = NULL;
    s->inflight = 0;
    if (--pc->nsubs == 0) {
        clusterc__ps_conn_retire(ps, pc);   /* closing unsubscribes from everything */
    } else if (unsub && active && pc->conn.state != CLUSTERC__CONN_DOWN) {
        /* Out of memory: its messages still come, and are dropped (not
         * s's connection any more). */
        (void)clusterc__ps_send(pc, s->kind, s->name, s->len, 0);
    }
}

void clusterc__ps_conn_lost(clusterc__pubsub *ps, ps_conn *pc)
{
    for (size_t i = 0; i < ps->nbuckets; i++)
        for (ps_sub *s = ps->buckets[i]; s; s = s->next)
            if (s->pc == pc)
                detach(ps, s, 0);
    snprintf(ps->classic_lost, sizeof(ps->classic_lost), "%s", pc->name);
    retry_later(ps);
}

/* The server confirmed (sub) or ended a subscription on pc. Replies of
 * connections a subscription has left are echoes of our own commands. */
void clusterc__ps_confirmed(clusterc__pubsub *ps, ps_conn *pc, int kind, const char *name,
                            size_t len, int sub)
{
    clusterc__engine *e = ps->e;
    ps_sub *s = clusterc__ps_find(ps, kind, name, len);
    if (!s || s->pc != pc)
        return;
    if (sub) {
        if (s->inflight > 0)
            s->inflight--;
        if (s->subscribed)
            return;
        s->subscribed = 1;
        if (s->unsub_since) {
            e->stats.unsubscribed_us += (uint64_t)(clusterc__now_us() - s->unsub_since);
            s->unsub_since = 0;
        }
        if (s->ever)
            e->stats.resubscribes++;
        s->ever = 1;
        s->refusals = 0;
        s->retry_at_us = 0;
        ps->streak = 0;   /* lost connections only: refusals have their own */
        return;
    }
    /* Only shard channels are ended by the server (their slot migrated
     * away); an unsubscribe while a subscribe is in flight is the echo of
     * an older UNSUBSCRIBE of ours. */
    if (kind != CLUSTERC_PUBSUB_SHARD || s->inflight > 0)
        return;
    detach(ps, s, 0);
    clusterc__refresh_request(e, "SUNSUBSCRIBE", 1);
    retry_later(ps);
}

void clusterc__ps_slot_refused(clusterc__pubsub *ps, ps_conn *pc, int slot)
{
    for (size_t i = 0; i < ps->nbuckets; i++)
        for (ps_sub *s = ps->buckets[i]; s; s = s->next)
            if (s->pc == pc && !s->subscribed && s->inflight > 0 &&
                clusterc_keyslot(s->name, s->len) == slot)
                detach(ps, s, 0);
    retry_later(ps);
}

static const char *const sub_verb[] = { "", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE" };

/* A refusal for good drops s, reported once; one that passes keeps s on
 * pc (so pc stays up) and sends it again after s's own backoff, which no
 * other subscription's confirmation shortens. */
void clusterc__ps_sub_refused(clusterc__pubsub *ps, ps_conn *pc, int kind, const char *name,
                              size_t len, const char *why, size_t why_len, int for_good)
{
    clusterc__engine *e = ps->e;
    char detail[512];
    ps_sub *s = clusterc__ps_find(ps, kind, name, len);
    if (!s || s->pc != pc || s->subscribed)
        return;   /* the answer to an older subscribe: s has moved or been remade */
    if (s->inflight > 0)
        s->inflight--;
    if (s->inflight > 0)
        return;
    if (!for_good) {
        uint32_t ms = clusterc__backoff_ms(s->refusals++, RESYNC_MIN_MS, RESYNC_MAX_MS, &e->rng);
        s->retry_at_us = clusterc__now_us() + (int64_t)ms * 1000;
        e->stats.retries++;
        clusterc__ps_resync_later(ps, (int)ms);
        return;
    }
    snprintf(detail, sizeof(detail), "%s %.*s: %.*s", sub_verb[kind], (int)(len > 200 ? 200 : len),
             name, (int)(why_len > 300 ? 300 : why_len), why);
    const clusterc__node *n = clusterc__engine_node(e, &pc->conn.addr, 0);
    e->stats.subscribes_refused++;
    detach(ps, s, 0);   /* pc closes if s was all it carried */
    table_remove(ps, s);
    /* Last: the callback may subscribe again, unsubscribe or free the client. */
    clusterc__emit(e, CLUSTERC_EVENT_SUBSCRIBE_REFUSED, n, CLUSTERC_EUSAGE, "%s", detail);
}

/* ------------------------------------------------------ where each goes */

/* A primary for the channels and patterns: any node serves them (a
 * cluster forwards PUBLISH everywhere). Start at a random shard so clients
 * spread; avoid the node the last connection was lost on and nodes the
 * engine sees failing, unless nothing else is left. */
static clusterc__node *pick_classic(clusterc__pubsub *ps)
{
    clusterc__engine *e = ps->e;
    int64_t now = clusterc__now_us();
    if (e->nshards == 0)
        return NULL;
    uint32_t start = clusterc__rand_below(&e->rng, (uint32_t)e->nshards);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t k = 0; k < e->nshards; k++) {
            const clusterc__shard *sh = &e->shards[(start + k) % e->nshards];
            clusterc__node *n = sh->n ? sh->nodes[0] : NULL;
            if (!n || !clusterc__engine_in_map(e, n))
                continue;
            if (pass == 0 && (n->fail_until_us > now || strcmp(n->name, ps->classic_lost) == 0))
                continue;
            return n;
        }
    }
    return NULL;
}

/* The connection for channels and patterns: the current one while its
 * node is in the map, else a new one. */
static ps_conn *classic_conn(clusterc__pubsub *ps)
{
    clusterc__engine *e = ps->e;
    if (ps->classic) {
        clusterc__node *n = clusterc__engine_node(e, &ps->classic->conn.addr, 0);
        if (n && clusterc__engine_in_map(e, n))
            return ps->classic;
        ps->classic = NULL;   /* its node left: sync_all moves what it carries */
    }
    clusterc__node *n = pick_classic(ps);
    if (!n)
        return NULL;
    ps->classic = clusterc__ps_conn_get(ps, &n->conn.addr, n->name, 1);
    return ps->classic;
}

/* With a read policy a shard channel may ride a replica: keep the node it
 * is on while that is still in the shard and not failing (a pick per map
 * would hop between replicas, losing messages each time), else pick one
 * as a read would be. */
static clusterc__node *pick_shard_node(clusterc__engine *e, clusterc__shard *sh, const ps_sub *s)
{
    int64_t now = clusterc__now_us();
    if (!e->read_routing || sh->n < 2)
        return sh->nodes[0];
    for (size_t i = 0; s->pc && i < sh->n; i++)
        if (strcmp(sh->nodes[i]->name, s->pc->name) == 0 && sh->nodes[i]->fail_until_us <= now)
            return sh->nodes[i];
    clusterc__req probe;   /* reads_pick reads only the route mode */
    memset(&probe, 0, sizeof(probe));
    probe.route_mode = CLUSTERC__MODE_DEFAULT;
    int i = clusterc__reads_pick(e, sh, &probe);
    return i >= 0 && (size_t)i < sh->n ? sh->nodes[i] : sh->nodes[0];
}

static ps_conn *shard_conn(clusterc__pubsub *ps, const ps_sub *s)
{
    clusterc__engine *e = ps->e;
    int si = e->slot_shard[clusterc_keyslot(s->name, s->len)];
    if (si < 0 || (size_t)si >= e->nshards || e->shards[si].n == 0)
        return NULL;   /* slot not served: a map load will tell */
    clusterc__node *n = pick_shard_node(e, &e->shards[si], s);
    return clusterc__ps_conn_get(ps, &n->conn.addr, n->name, 1);
}

/* ------------------------------------------------------ making them match */

/* Put s where it belongs. Returns 0; 1 while s waits out the backoff of a
 * refusal (until s->retry_at_us); -1 when it must wait (no node for it,
 * out of memory): the caller retries later. */
static int sync_one(clusterc__pubsub *ps, ps_sub *s, ps_conn *classic)
{
    int held = s->retry_at_us > clusterc__now_us();
    if (held && !s->pc)
        return 1;
    ps_conn *to = s->kind == CLUSTERC_PUBSUB_SHARD ? shard_conn(ps, s) : classic;
    if (s->pc && s->pc != to)
        detach(ps, s, 1);   /* moved: leave the old node (it may still be up) */
    if (!to)
        return -1;
    if (s->pc == to && (s->subscribed || s->inflight > 0))
        return 0;
    if (held)
        return 1;
    if (!s->pc) {
        s->pc = to;
        to->nsubs++;
    }
    if (clusterc__ps_send(to, s->kind, s->name, s->len, 1) < 0)
        return -1;
    s->inflight++;
    return 0;
}

/* Close connections nobody uses (a node all subscriptions left, one made
 * for a subscription that could not be sent). */
static void retire_idle(clusterc__pubsub *ps)
{
    for (ps_conn *pc = ps->conns, *next; pc; pc = next) {
        next = pc->next;
        if (pc->nsubs == 0)
            clusterc__ps_conn_retire(ps, pc);
    }
}

/* A pass when the first held subscription's backoff ends (at, in us). */
static void resync_at(clusterc__pubsub *ps, int64_t at)
{
    int64_t us = at - clusterc__now_us();
    clusterc__ps_resync_later(ps, us > 0 ? (int)((us + 999) / 1000) : 0);
}

static void sync_all(clusterc__pubsub *ps)
{
    clusterc__engine *e = ps->e;
    int waiting = 0;
    int64_t held = 0;
    if (e->map_gen == 0 || ps->draining || e->dead)
        return;   /* before the first map, subscriptions wait for it */
    ps_conn *classic = NULL;
    for (size_t i = 0; i < ps->nbuckets; i++) {
        for (ps_sub *s = ps->buckets[i]; s; s = s->next) {
            if (s->kind != CLUSTERC_PUBSUB_SHARD && !classic)
                classic = classic_conn(ps);
            int rc = sync_one(ps, s, classic);
            waiting |= rc < 0;
            if (rc > 0 && (!held || s->retry_at_us < held))
                held = s->retry_at_us;
        }
    }
    retire_idle(ps);
    if (waiting) {
        clusterc__refresh_request(e, "subscription without a node", 0);
        clusterc__ps_resync_later(ps, RESYNC_MAX_MS);
    }
    if (held)
        resync_at(ps, held);
}

/* ------------------------------------------------------------- timers */

void clusterc__ps_resync_later(clusterc__pubsub *ps, int delay_ms)
{
    struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };
    if (ps->draining || ps->e->dead)
        return;
    /* An earlier resync already due covers this one. */
    if (evtimer_pending(ps->resync_ev, NULL) &&
        ps->resync_due_us <= clusterc__now_us() + (int64_t)delay_ms * 1000)
        return;
    ps->resync_due_us = clusterc__now_us() + (int64_t)delay_ms * 1000;
    evtimer_add(ps->resync_ev, &tv);
}

static void resync_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__pubsub *ps = arg;
    clusterc__engine *e = ps->e;
    (void)fd; (void)what;
    clusterc__engine_enter(e);
    sync_all(ps);
    clusterc__engine_leave(e);
}

/* ------------------------------------------------------------ lifecycle */

int clusterc__pubsub_init(clusterc__engine *e)
{
    clusterc__pubsub *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return -1;
    e->ps = ps;   /* before anything can fail: fini frees what was made */
    ps->e = e;
    ps->nbuckets = 16;
    ps->buckets = calloc(ps->nbuckets, sizeof(*ps->buckets));
    ps->resync_ev = evtimer_new(e->base, resync_cb, ps);
    if (!ps->buckets || !ps->resync_ev || clusterc__ps_conns_init(ps) < 0)
        return -1;
    return 0;
}

void clusterc__pubsub_fini(clusterc__engine *e)
{
    clusterc__pubsub *ps = e->ps;
    if (!ps)
        return;
    clusterc__ps_conns_fini(ps);
    for (size_t i = 0; ps->buckets && i < ps->nbuckets; i++)
        while (ps->buckets[i])
            table_remove(ps, ps->buckets[i]);
    free(ps->buckets);
    if (ps->resync_ev)
        event_free(ps->resync_ev);
    if (ps->face_free)
        ps->face_free(ps->face);
    free(ps);
    e->ps = NULL;
}

void clusterc__pubsub_on_map(clusterc__engine *e)
{
    if (e->ps)
        sync_all(e->ps);
}

/* The subscriptions end with the drain: every subscriber connection
 * closes now (quietly), no resubscribe is scheduled, so nothing of ours
 * keeps the loop alive. The wanted list is kept until fini. */
void clusterc__pubsub_drain(clusterc__engine *e)
{
    clusterc__pubsub *ps = e->ps;
    if (!ps || ps->draining)
        return;
    ps->draining = 1;
    event_del(ps->resync_ev);
    for (size_t i = 0; i < ps->nbuckets; i++) {
        for (ps_sub *s = ps->buckets[i]; s; s = s->next) {
            s->pc = NULL;
            s->inflight = 0;
            s->subscribed = 0;
        }
    }
    ps->classic = NULL;
    clusterc__ps_conns_close_all(ps);
}

/* ------------------------------------------------------- the face's calls */

int clusterc__pubsub_want(clusterc__engine *e, int kind, const char *name, size_t len,
                          clusterc__pubsub_fn *fn, void (*ufn)(void), void *u1, void *u2,
                          clusterc__err *err)
{
    clusterc__pubsub *ps = e->ps;
    if (ps->draining || e->dead || e->draining) {
        clusterc__err_set(err, CLUSTERC_ECLOSED, "client is disconnecting");
        return -1;
    }
    if (kind < CLUSTERC_PUBSUB_CHANNEL || kind > CLUSTERC_PUBSUB_SHARD) {
        clusterc__err_set(err, CLUSTERC_EINVAL, "Pub/Sub kind %d is not a CLUSTERC_PUBSUB_* value",
                          kind);
        return -1;
    }
    if (!name || len == 0) {
        clusterc__err_set(err, CLUSTERC_EINVAL, "%s: empty %s name", sub_verb[kind],
                          kind == CLUSTERC_PUBSUB_PATTERN ? "pattern" : "channel");
        return -1;
    }
    ps_sub *s = clusterc__ps_find(ps, kind, name, len);
    if (!s && !(s = table_add(ps, kind, name, len))) {
        clusterc__err_set(err, CLUSTERC_ENOMEM, "%s: out of memory", sub_verb[kind]);
        return -1;
    }
    s->fn = fn;
    s->ufn = ufn;
    s->u1 = u1;
    s->u2 = u2;
    if (!s->pc && e->map_gen > 0) {
        ps_conn *classic = kind == CLUSTERC_PUBSUB_SHARD ? NULL : classic_conn(ps);
        int rc = sync_one(ps, s, classic);
        if (rc < 0)
            clusterc__ps_resync_later(ps, RESYNC_MIN_MS);
        else if (rc > 0)
            resync_at(ps, s->retry_at_us);
    }
    clusterc__err_clear(err);
    return 0;
}

int clusterc__pubsub_unwant(clusterc__engine *e, int kind, const char *name, size_t len,
                            clusterc__err *err)
{
    clusterc__pubsub *ps = e->ps;
    ps_sub *s = name && kind >= CLUSTERC_PUBSUB_CHANNEL && kind <= CLUSTERC_PUBSUB_SHARD
        ? clusterc__ps_find(ps, kind, name, len) : NULL;
    if (!s) {
        clusterc__err_set(err, CLUSTERC_EINVAL, "not subscribed to %s \"%.*s\" (kind %d)",
                          kind == CLUSTERC_PUBSUB_PATTERN ? "pattern" : "channel",
                          name ? (int)(len > 200 ? 200 : len) : 0, name ? name : "", kind);
        return -1;
    }
    if (s->pc)
        detach(ps, s, 1);
    table_remove(ps, s);
    clusterc__err_clear(err);
    return 0;
}

/* ------------------------------------------------------- the face's state */

void clusterc__pubsub_set_face(clusterc__engine *e, void *face, void (*face_free)(void *))
{
    e->ps->face = face;
    e->ps->face_free = face_free;
}

void *clusterc__pubsub_face(const clusterc__engine *e) { return e->ps->face; }

int clusterc__pubsub_queue_max(const clusterc__engine *e) { return e->opt.pubsub_queue_max; }

void clusterc__pubsub_count_dropped(clusterc__engine *e) { e->stats.messages_dropped++; }
