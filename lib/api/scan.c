/* scan.c -- the cluster-wide SCAN, both faces (clusterc.h, async.h).
 *
 * It keeps which of the 16384 slots are finished, not which nodes: a node
 * is only where the next not-done slots live now. A node's scan begins by
 * recording the not-done slots the map gives it; its keys are kept only
 * when their slot is recorded (SCAN also walks the keys of slots a node is
 * importing, or that it lost). When its cursor comes back 0 the node is
 * asked (CLUSTER NODES, its own line) which slots it owns and migrates:
 * a recorded slot is done only when the node still owns it, is not
 * migrating it, and the client's map still gives it to that node. The
 * alternative, trusting the client's map alone, would mark a slot done
 * while a MIGRATE was moving its keys away unseen (SCAN is pinned, so no
 * ASK or MOVED ever tells the client). A slot that fails the test is
 * scanned again on its owner, so its keys may repeat; a done slot never
 * is. A failed step drops the node (its slots stay not done), refreshes
 * the map, waits, and starts over from the lowest not-done slot.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include "client_int.h"
#include "face_int.h"
#include "engine/engine.h"
#include "proto/addr.h"
#include "proto/info.h"
#include "proto/topology.h"

#define SCAN_MAX_FAILS 10        /* failed steps in a row */
#define SCAN_MAX_FAIL_MS 10000   /* from the first of them */
#define SCAN_WAIT_MIN_MS 100     /* wait before a retry, doubling ... */
#define SCAN_WAIT_MAX_MS 1000    /* ... up to this */

/* ------------------------------------------------------------- the core */

typedef struct scan_core {
    uint8_t done[CLUSTERC__NSLOTS];
    uint8_t mine[CLUSTERC__NSLOTS];  /* recorded for the current node */
    uint8_t own[CLUSTERC__NSLOTS];   /* core_verify: what the node says it owns */
    int ndone;
    char node[CLUSTERC__ADDR_MAX];   /* "" = none */
    char cursor[32];
    int verifying;                   /* cursor came back 0: ask the node */
    char *match, *type;
    char count[24];
    int fails;                       /* failed steps in a row */
    int stalls;                      /* node scans in a row that finished no slot */
    int64_t fail_t0_us;
    int last_code;
    char last[CLUSTERC__ERRSTR_MAX - 96];
} scan_core;

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int core_init(scan_core *k, const char *match, long count, const char *type)
{
    memset(k, 0, sizeof(*k));
    snprintf(k->count, sizeof(k->count), "%ld", count > 0 ? count : 10L);
    k->match = match ? strdup(match) : NULL;
    k->type = type ? strdup(type) : NULL;
    return (match && !k->match) || (type && !k->type) ? -1 : 0;
}

static void core_fini(scan_core *k)
{
    free(k->match);
    free(k->type);
}

/* The next node: the primary of the lowest not-done slot, with every
 * not-done slot it serves recorded. -1 when the map has no owner. */
static int core_pick(scan_core *k, const clusterc__engine *e)
{
    int first = 0;
    char owner[CLUSTERC__ADDR_MAX];
    while (first < CLUSTERC__NSLOTS && k->done[first])
        first++;
    if (!e || clusterc__engine_slot_owner(e, first, k->node, sizeof(k->node)) < 0) {
        k->node[0] = '\0';
        k->last_code = CLUSTERC_ETOPOLOGY;
        snprintf(k->last, sizeof(k->last), "slot %d has no primary in the slot map", first);
        return -1;
    }
    for (int s = 0; s < CLUSTERC__NSLOTS; s++)
        k->mine[s] = !k->done[s] && clusterc__engine_slot_owner(e, s, owner, sizeof(owner)) == 0
                     && strcmp(owner, k->node) == 0;
    snprintf(k->cursor, sizeof(k->cursor), "0");
    k->verifying = 0;
    return 0;
}

/* SCAN <cursor> [MATCH m] COUNT n [TYPE t] into argv; returns argc. */
static int core_argv(const scan_core *k, const char **argv)
{
    int argc = 0;
    argv[argc++] = "SCAN";
    argv[argc++] = k->cursor;
    if (k->match) {
        argv[argc++] = "MATCH";
        argv[argc++] = k->match;
    }
    argv[argc++] = "COUNT";
    argv[argc++] = k->count;
    if (k->type) {
        argv[argc++] = "TYPE";
        argv[argc++] = k->type;
    }
    return argc;
}

static void core_note(scan_core *k, int code, const char *what, const char *why)
{
    k->last_code = code ? code : CLUSTERC_EPROTOCOL;
    snprintf(k->last, sizeof(k->last), "%s on %s: %s", what, k->node, why);
}

/* A SCAN reply (not NULL). Takes its keys of recorded slots out of it into
 * *keys (a new array reply, maybe empty; ownership passes to the caller),
 * leaving reply to its owner. Returns 0, or -1 when it is no SCAN reply. */
static int core_take(scan_core *k, redisReply *reply, redisReply **keys)
{
    *keys = NULL;
    if (reply->type == REDIS_REPLY_ERROR) {
        core_note(k, CLUSTERC_EPROTOCOL, "SCAN", reply->str);
        return -1;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[0]->len >= sizeof(k->cursor) ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
        core_note(k, CLUSTERC_EPROTOCOL, "SCAN", "unexpected reply shape");
        return -1;
    }
    memcpy(k->cursor, reply->element[0]->str, reply->element[0]->len + 1);
    redisReply *arr = reply->element[1];
    reply->element[1] = NULL;   /* ownership of the key array passes here */
    size_t kept = 0;
    for (size_t i = 0; i < arr->elements; i++) {
        redisReply *key = arr->element[i];
        if (key && key->type == REDIS_REPLY_STRING &&
            k->mine[clusterc_keyslot(key->str, key->len)])
            arr->element[kept++] = key;
        else
            freeReplyObject(key);
    }
    arr->elements = kept;
    *keys = arr;
    k->verifying = strcmp(k->cursor, "0") == 0;
    return 0;
}

static void mark_ranges(uint8_t *set, const clusterc__cnode *me, uint8_t v)
{
    for (size_t i = 0; i < me->nslots; i++)
        for (int s = me->slots[i].start; s <= me->slots[i].end && s < CLUSTERC__NSLOTS; s++)
            if (s >= 0)
                set[s] = v;
}

/* The node's CLUSTER NODES after its cursor came back 0: mark done the
 * recorded slots it owns, does not migrate, and the map still gives it.
 * Returns how many were marked (the node is dropped), or -1. */
static int core_verify(scan_core *k, const clusterc__engine *e, const redisReply *reply)
{
    clusterc__cnode *v = NULL;
    size_t n = 0;
    char why[200], owner[CLUSTERC__ADDR_MAX];
    if (reply->type != REDIS_REPLY_STRING) {
        core_note(k, CLUSTERC_EPROTOCOL, "CLUSTER NODES",
                  reply->type == REDIS_REPLY_ERROR ? reply->str : "not a string");
        return -1;
    }
    if (clusterc__cluster_nodes_parse(reply->str, reply->len, &v, &n, why, sizeof(why)) < 0) {
        core_note(k, CLUSTERC_EPROTOCOL, "CLUSTER NODES", why);
        return -1;
    }
    uint8_t *own = k->own;   /* per scan: clients may run on several threads */
    memset(own, 0, sizeof(k->own));
    for (size_t i = 0; i < n; i++) {
        if (!(v[i].flags & CLUSTERC__CNODE_MYSELF))
            continue;
        mark_ranges(own, &v[i], 1);
        for (size_t j = 0; j < v[i].nmigrating; j++)
            if (v[i].migrating[j].slot >= 0 && v[i].migrating[j].slot < CLUSTERC__NSLOTS)
                own[v[i].migrating[j].slot] = 0;
    }
    clusterc__cluster_nodes_free(v, n);
    int marked = 0;
    for (int s = 0; s < CLUSTERC__NSLOTS; s++)
        if (k->mine[s] && own[s] && !k->done[s] &&
            clusterc__engine_slot_owner(e, s, owner, sizeof(owner)) == 0 &&
            strcmp(owner, k->node) == 0) {
            k->done[s] = 1;
            marked++;
        }
    k->ndone += marked;
    k->node[0] = '\0';
    return marked;
}

/* A step failed, or a node's whole scan finished no slot (stall: k->last
 * says why): drop the node. Returns the wait before the next try in ms, or
 * -1 when the budget is spent. A stall is counted apart from the time
 * budget: each is a whole node's scan, which may take longer than it (a
 * slot migrating for a while makes a few). */
static int core_failed(scan_core *k, int stall)
{
    int n;
    k->node[0] = '\0';
    k->verifying = 0;
    if (stall) {
        n = ++k->stalls;
    } else {
        if (k->fails++ == 0)
            k->fail_t0_us = mono_us();
        n = k->fails;
        if (mono_us() - k->fail_t0_us >= SCAN_MAX_FAIL_MS * 1000LL)
            return -1;
    }
    if (n >= SCAN_MAX_FAILS)
        return -1;
    int wait = SCAN_WAIT_MIN_MS << (n - 1 < 4 ? n - 1 : 4);
    return wait < SCAN_WAIT_MAX_MS ? wait : SCAN_WAIT_MAX_MS;
}

static void core_give_up(scan_core *k, clusterc__err *err)
{
    clusterc__err_set(err, k->last_code ? k->last_code : CLUSTERC_ERETRIES,
                      "cluster SCAN: gave up after %d failed attempts: %s",
                      k->fails > k->stalls ? k->fails : k->stalls, k->last);
    k->fails = k->stalls = 0;   /* a later next tries again, with a fresh budget */
}

/* What a verify's count means: 0 progress, -1 failed, 1 a stall (nothing
 * marked: a stale map, or every recorded slot migrating), counted so that
 * a scan always ends. */
static int core_verified(scan_core *k, int marked, const char *node)
{
    if (marked < 0)
        return -1;
    k->fails = 0;
    if (marked > 0) {
        k->stalls = 0;
        return 0;
    }
    k->last_code = CLUSTERC_ETOPOLOGY;
    snprintf(k->last, sizeof(k->last),
             "%s finished no slot (they moved, are migrating, or the map is stale)", node);
    return 1;
}

/* ------------------------------------------------------- blocking face */

struct clusterc_scan {
    clusterc_client *c;
    scan_core k;
};

CLUSTERC_API clusterc_scan *clusterc_scan_start(clusterc_client *c, const char *match,
                                                long count_hint, const char *type)
{
    if (!c)
        return NULL;
    if (!clusterc__client_engine(c))
        return NULL;   /* options were rejected: err says why */
    clusterc_scan *s = malloc(sizeof(*s));
    if (!s || core_init(&s->k, match, count_hint, type) < 0) {
        if (s)
            core_fini(&s->k);
        free(s);
        clusterc__client_set_error(c, CLUSTERC_ENOMEM, "clusterc_scan_start: out of memory");
        return NULL;
    }
    s->c = c;
    clusterc__client_set_error(c, 0, "%s", "");
    return s;
}

/* The step failed: refresh, wait; 0 to go on, -1 when out of budget. */
static int blocking_failed(clusterc_scan *s, int stall)
{
    int wait = core_failed(&s->k, stall);
    if (wait < 0) {
        clusterc__err tmp;
        core_give_up(&s->k, &tmp);
        clusterc__client_set_error(s->c, tmp.code, "%s", tmp.str);
        return -1;
    }
    clusterc_refresh(s->c);   /* a failure shows in the next step */
    clusterc_poll(s->c, wait);
    return 0;
}

/* One command to the current node; NULL (k->last set) on failure. */
static redisReply *blocking_send(clusterc_scan *s, int verify)
{
    const char *argv[10];
    int argc = verify ? 2 : core_argv(&s->k, argv);
    if (verify) {
        argv[0] = "CLUSTER";
        argv[1] = "NODES";
    }
    redisReply *r = clusterc_command_to_node_argv(s->c, s->k.node, argc, argv, NULL);
    if (!r)
        core_note(&s->k, clusterc_error(s->c), verify ? "CLUSTER NODES" : "SCAN",
                  clusterc_errstr(s->c));
    return r;
}

CLUSTERC_API int clusterc_scan_next(clusterc_scan *s, redisReply **keys)
{
    scan_core *k = &s->k;
    clusterc__engine *e = clusterc__client_engine(s->c);
    *keys = NULL;
    for (;;) {
        if (k->ndone == CLUSTERC__NSLOTS) {
            clusterc__client_set_error(s->c, 0, "%s", "");
            return 0;
        }
        if (!k->node[0] && core_pick(k, e) < 0) {
            if (blocking_failed(s, 0) < 0)
                return -1;
            continue;
        }
        int verify = k->verifying, ok;
        char node[CLUSTERC__ADDR_MAX];
        memcpy(node, k->node, sizeof(node));
        redisReply *r = blocking_send(s, verify);
        if (!r)
            ok = -1;
        else if (verify)
            ok = core_verified(k, core_verify(k, e, r), node);
        else
            ok = core_take(k, r, keys);
        freeReplyObject(r);
        if (ok != 0) {
            if (blocking_failed(s, ok > 0) < 0)
                return -1;
            continue;
        }
        if (verify && k->ndone < CLUSTERC__NSLOTS)
            clusterc_refresh(s->c);   /* slots left behind: learn their owner */
        if (*keys && (*keys)->elements > 0) {
            k->fails = 0;
            clusterc__client_set_error(s->c, 0, "%s", "");
            return 1;
        }
        freeReplyObject(*keys);   /* an empty batch: go on */
        *keys = NULL;
    }
}

CLUSTERC_API void clusterc_scan_free(clusterc_scan *s)
{
    if (!s)
        return;
    core_fini(&s->k);
    free(s);
}

/* --------------------------------------------------------- libevent face */

struct clusterc_async_scan {
    clusterc_async *a;
    scan_core k;
    struct event *timer;
    clusterc_async_scan_fn *fn;
    void *privdata;
    int busy;          /* a step asked and not yet delivered */
    int inflight;      /* a command of ours is pending in the engine */
    int in_cb;         /* inside the user's callback */
    int freed;         /* freed while a command was pending or inside fn */
    char node[CLUSTERC__ADDR_MAX];   /* the node of the pending command */
};

static void async_step(evutil_socket_t fd, short what, void *arg);

CLUSTERC_API clusterc_async_scan *clusterc_async_scan_start(clusterc_async *a, const char *match,
                                                            long count_hint, const char *type)
{
    if (!a)
        return NULL;
    clusterc__engine *e = clusterc__async_engine(a);
    if (!e)
        return NULL;   /* options were rejected: err says why */
    clusterc_async_scan *s = calloc(1, sizeof(*s));
    if (s && core_init(&s->k, match, count_hint, type) == 0)
        s->timer = evtimer_new(clusterc__engine_base(e), async_step, s);
    if (!s || !s->timer) {
        if (s)
            core_fini(&s->k);
        free(s);
        clusterc__err_set(clusterc__async_err(a), CLUSTERC_ENOMEM,
                          "clusterc_async_scan_start: out of memory");
        return NULL;
    }
    s->a = a;
    return s;
}

static void async_destroy(clusterc_async_scan *s)
{
    event_free(s->timer);
    core_fini(&s->k);
    free(s);
}

/* Hand one outcome to the user: status 1 (keys), 0 (finished), -1. */
static void async_deliver(clusterc_async_scan *s, redisReply *keys, int status)
{
    s->busy = 0;
    if (status < 0)
        core_give_up(&s->k, clusterc__async_err(s->a));
    s->in_cb = 1;
    if (s->fn)
        s->fn(s, keys, status, s->privdata);   /* keys now belong to the user */
    else
        freeReplyObject(keys);
    s->in_cb = 0;
    if (s->freed)
        async_destroy(s);
}

static void async_arm(clusterc_async_scan *s, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(s->timer, &tv);
}

static void async_failed(clusterc_async_scan *s, int stall)
{
    int wait = core_failed(&s->k, stall);
    if (wait < 0) {
        async_deliver(s, NULL, -1);
        return;
    }
    clusterc__engine *e = clusterc__async_engine(s->a);
    if (e)
        clusterc__engine_refresh(e, 1);
    async_arm(s, wait);
}

static void async_reply(clusterc_async *a, redisReply *reply, void *privdata)
{
    clusterc_async_scan *s = privdata;
    s->inflight = 0;
    if (s->freed) {
        async_destroy(s);
        return;
    }
    scan_core *k = &s->k;
    clusterc__engine *e = clusterc__async_engine(a);
    int verify = k->verifying, ok;
    redisReply *keys = NULL;
    if (!reply) {
        core_note(k, clusterc_async_error(a), verify ? "CLUSTER NODES" : "SCAN",
                  clusterc_async_errstr(a));
        ok = -1;
    } else if (verify) {
        ok = core_verified(k, core_verify(k, e, reply), s->node);
        if (ok == 0 && k->ndone < CLUSTERC__NSLOTS && e)
            clusterc__engine_refresh(e, 0);   /* slots left behind: learn their owner */
    } else {
        ok = core_take(k, reply, &keys);   /* the library frees reply after us */
    }
    if (ok != 0) {
        async_failed(s, ok > 0);
        return;
    }
    if (keys && keys->elements > 0) {
        k->fails = 0;
        async_deliver(s, keys, 1);
        return;
    }
    freeReplyObject(keys);   /* an empty batch: the next step, from the loop */
    async_arm(s, 0);
}

/* The next command to the current node: CLUSTER NODES when its cursor
 * came back 0, else SCAN (the async face formats, it takes no argv). */
static int async_send(clusterc_async_scan *s)
{
    scan_core *k = &s->k;
    clusterc_async *a = s->a;
    if (k->verifying)
        return clusterc_async_command_to_node(a, k->node, async_reply, s, "CLUSTER NODES");
    if (k->match && k->type)
        return clusterc_async_command_to_node(a, k->node, async_reply, s,
                                              "SCAN %s MATCH %s COUNT %s TYPE %s", k->cursor,
                                              k->match, k->count, k->type);
    if (k->match)
        return clusterc_async_command_to_node(a, k->node, async_reply, s,
                                              "SCAN %s MATCH %s COUNT %s", k->cursor, k->match,
                                              k->count);
    if (k->type)
        return clusterc_async_command_to_node(a, k->node, async_reply, s,
                                              "SCAN %s COUNT %s TYPE %s", k->cursor, k->count,
                                              k->type);
    return clusterc_async_command_to_node(a, k->node, async_reply, s, "SCAN %s COUNT %s",
                                          k->cursor, k->count);
}

static void async_step(evutil_socket_t fd, short what, void *arg)
{
    clusterc_async_scan *s = arg;
    scan_core *k = &s->k;
    (void)fd;
    (void)what;
    if (k->ndone == CLUSTERC__NSLOTS) {
        async_deliver(s, NULL, 0);
        return;
    }
    if (!k->node[0] && core_pick(k, clusterc__async_engine(s->a)) < 0) {
        async_failed(s, 0);
        return;
    }
    memcpy(s->node, k->node, sizeof(s->node));
    int rc = async_send(s);
    if (rc < 0) {
        core_note(k, clusterc_async_error(s->a), "SCAN", clusterc_async_errstr(s->a));
        async_failed(s, 0);
        return;
    }
    s->inflight = 1;
}

CLUSTERC_API int clusterc_async_scan_next(clusterc_async_scan *s, clusterc_async_scan_fn *fn,
                                          void *privdata)
{
    if (s->busy) {
        clusterc__err_set(clusterc__async_err(s->a), CLUSTERC_EUSAGE,
                          "clusterc_async_scan_next: a step is already running");
        return -1;
    }
    s->fn = fn;
    s->privdata = privdata;
    s->busy = 1;
    async_arm(s, 0);   /* the callback never runs inside this call */
    return 0;
}

CLUSTERC_API void clusterc_async_scan_free(clusterc_async_scan *s)
{
    if (!s || s->freed)
        return;
    s->freed = 1;
    evtimer_del(s->timer);
    if (!s->inflight && !s->in_cb)
        async_destroy(s);
    /* else: the pending command's callback or async_deliver frees it */
}
