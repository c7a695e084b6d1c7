/* nodes.c -- the engine's nodes: the table by address, each node's
 * connection wired to the engine through clusterc__conn_ops, write
 * batching (one write per node per loop turn), and reaping nodes that left
 * the map.
 *
 * The connection (conn.c) reports; this file turns each report into the
 * engine's terms: a reply or a lost request goes to classify.c, a closed
 * connection marks the node failing and asks refresh.c for a new map.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"

static void flush_cb(evutil_socket_t fd, short what, void *arg);
static void reap_cb(evutil_socket_t fd, short what, void *arg);

/* ----------------------------------------------- the connection's callbacks */

static void node_enter(void *owner) { clusterc__engine_enter(((clusterc__node *)owner)->e); }
static void node_leave(void *owner) { clusterc__engine_leave(((clusterc__node *)owner)->e); }

clusterc__dns *clusterc__engine_dns(clusterc__engine *e)
{
    if (!e->dns)
        e->dns = clusterc__dns_new(e->base);
    return e->dns;
}

static clusterc__dns *node_dns(void *owner)
{
    return clusterc__engine_dns(((clusterc__node *)owner)->e);
}

static void node_connected(void *owner)
{
    clusterc__node *n = owner;
    clusterc__engine *e = n->e;
    e->stats.connects++;
    n->redial_at_us = 0;
    clusterc__emit(e, CLUSTERC_EVENT_NODE_CONNECTED, n, 0, "connected");
    if (n->failing_reported) {
        n->failing_reported = 0;
        clusterc__emit(e, CLUSTERC_EVENT_NODE_RECOVERED, n, 0, "connected again");
    }
    clusterc__zones_on_connect(e, n);
}

static int node_reply(void *owner, void *tag, redisReply *reply)
{
    clusterc__node *n = owner;
    clusterc__req *r = tag;
    r->node = NULL;
    clusterc__engine_on_reply(n->e, n, r, reply);
    return n->e->dead ? -1 : 0;   /* a callback freed the client: stop */
}

static void node_lost(void *owner, void *tag, int code, const char *msg, int written)
{
    clusterc__node *n = owner;
    clusterc__req *r = tag;
    r->node = NULL;
    if (!n->e->dead)
        clusterc__engine_lost(n->e, n, r, code, msg, written);
    else   /* a callback of an earlier lost command freed the client: fail_all
            * could not see this FIFO (the close had detached it) */
        clusterc__engine_complete(n->e, r, NULL, CLUSTERC_ECLOSED, "client freed");
}

static void unlink_dirty(clusterc__engine *e, clusterc__node *n)
{
    clusterc__node **pp = &e->dirty;
    while (*pp && *pp != n)
        pp = &(*pp)->dirty_next;
    if (*pp)
        *pp = n->dirty_next;
    n->dirty = 0;
}

/* A node that could not be dialled is not dialled again for this long:
 * commands for it wait in backoff (and a map load looks elsewhere) instead
 * of hammering a dead address. A connection that was up may reconnect at
 * once: one lost connection says little about the node. */
#define REDIAL_GAP_US 500000

static void node_closed(void *owner, int code, const char *msg, int was_up)
{
    clusterc__node *n = owner;
    clusterc__engine *e = n->e;
    int64_t now = clusterc__now_us();
    n->fail_until_us = now + (int64_t)e->opt.failing_ms * 1000;
    n->redial_at_us = was_up ? 0 : now + REDIAL_GAP_US;
    if (was_up)
        clusterc__emit(e, CLUSTERC_EVENT_NODE_DISCONNECTED, n, code, "%s", msg);
    if (!n->failing_reported) {
        n->failing_reported = 1;
        clusterc__emit(e, CLUSTERC_EVENT_NODE_FAILING, n, code, "%s", msg);
    }
    n->errors++;
    clusterc__tx_node_lost(e, n);
    if (n->dirty)
        unlink_dirty(e, n);   /* the flush list must not hold a closed node */
    /* Only a node of the current map is news; a seed that is down is just
     * the refresh in progress moving on to the next candidate. */
    if (!e->dead && clusterc__engine_in_map(e, n))
        clusterc__refresh_request(e, "connection lost", 0);
    if (n->retired || e->draining)
        clusterc__engine_schedule_reap(e);
}

static void node_want_write(void *owner)
{
    clusterc__node *n = owner;
    clusterc__engine_mark_dirty(n->e, n);
}

static const clusterc__conn_ops node_ops = {
    node_enter, node_leave, node_dns, node_connected, node_reply, node_lost, node_closed,
    node_want_write,
};

/* ------------------------------------------------------------ the table */

static clusterc__node *node_new(clusterc__engine *e, const clusterc__addr *a)
{
    clusterc__node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->e = e;
    clusterc__addr_format(n->name, sizeof(n->name), a->host, a->port);
    n->shard = -1;
    n->announced = *a;
    n->repl_offset = -1;
    n->health = CLUSTERC__HEALTH_UNKNOWN;
    if (clusterc__conn_init(&n->conn, e->base, &e->conn_cfg, &node_ops, n, a, n->name) < 0) {
        free(n);
        return NULL;
    }
    return n;
}

void clusterc__node_free(clusterc__node *n)
{
    if (!n)
        return;
    clusterc__bpool_fini(n);
    clusterc__conn_fini(&n->conn);
    free(n);
}

clusterc__node *clusterc__engine_node(clusterc__engine *e, const clusterc__addr *a, int create)
{
    char name[CLUSTERC__ADDR_MAX];
    clusterc__addr_format(name, sizeof(name), a->host, a->port);
    clusterc__node *found = clusterc__nindex_find(&e->by_name, e, name);
    if (found || !create)
        return found;
    if (e->nnodes == e->nodes_cap) {
        size_t cap = e->nodes_cap ? e->nodes_cap * 2 : 16;
        clusterc__node **v = realloc(e->nodes, cap * sizeof(*v));
        if (!v)
            return NULL;
        e->nodes = v;
        e->nodes_cap = cap;
    }
    clusterc__node *n = node_new(e, a);
    if (n) {
        e->nodes[e->nnodes++] = n;
        (void)clusterc__nindex_add(&e->by_name, e, e->nnodes - 1);   /* OOM: it scans */
    }
    return n;
}

/* The TLS context, when o asks for TLS: a bad file is the caller's error
 * (EINVAL in *err), not a failure to allocate. */
int clusterc__nodes_tls(clusterc__engine *e, const clusterc_options *o, clusterc__err *err)
{
    char why[512];
    int oom = 0;
    if (!o->tls)
        return 0;
    e->tls = clusterc__tls_new(o, why, sizeof(why), &oom);
    if (!e->tls && !oom)
        clusterc__err_set(err, CLUSTERC_EINVAL, "%s", why);
    e->conn_cfg.tls = e->tls;
    return e->tls ? 0 : -1;
}

int clusterc__nodes_init(clusterc__engine *e)
{
    const clusterc_options *o = &e->opt;
    clusterc__conn_cfg *cfg = &e->conn_cfg;
    cfg->connect_timeout_ms = o->connect_timeout_ms;
    cfg->command_timeout_ms = o->command_timeout_ms;
    cfg->tcp_keepalive_s = o->tcp_keepalive_s;
    cfg->timestamps = o->route_by_latency && o->latency_probe_ms > 0;
    cfg->readonly = o->read_only || o->route_randomly || o->route_by_latency || o->az_affinity;
    cfg->username = o->username;
    cfg->password = o->password;
    cfg->client_name = o->client_name;
    /* The async face's replies (reply_pool.h); every connection's reader
     * uses it, so it goes in nodes_fini, after them. */
    cfg->reply_pool = clusterc__reply_pool_new();
    e->by_id.by_id = 1;
    e->flush_ev = event_new(e->base, -1, 0, flush_cb, e);
    e->reap_ev = event_new(e->base, -1, 0, reap_cb, e);
    return e->flush_ev && e->reap_ev && cfg->reply_pool ? 0 : -1;
}

void clusterc__nodes_fini(clusterc__engine *e)
{
    for (size_t i = 0; i < e->nnodes; i++)
        clusterc__node_free(e->nodes[i]);
    free(e->nodes);
    e->nodes = NULL;
    e->nnodes = e->nodes_cap = 0;
    clusterc__nindex_free(&e->by_name);
    clusterc__nindex_free(&e->by_id);
    if (e->flush_ev) event_free(e->flush_ev);
    if (e->reap_ev) event_free(e->reap_ev);
    e->flush_ev = e->reap_ev = NULL;
    /* After every node's connections (and their readers) are gone; the
     * subscriber connections went before (clusterc__pubsub_fini). */
    clusterc__reply_pool_free(e->conn_cfg.reply_pool);
    e->conn_cfg.reply_pool = NULL;
}

/* ------------------------------------------------------------ sending */

int clusterc__node_send_skip(clusterc__node *n, const char *cmd, size_t len)
{
    uint32_t seq;
    return clusterc__conn_send(&n->conn, NULL, cmd, len, 0, &seq);
}

void clusterc__engine_mark_dirty(clusterc__engine *e, clusterc__node *n)
{
    if (n->dirty)
        return;
    n->dirty = 1;
    n->dirty_next = e->dirty;
    e->dirty = n;
    event_active(e->flush_ev, 0, 0);
}

void clusterc__engine_flush_now(clusterc__engine *e)
{
    /* The blocking face calls this before every reply it waits for: with
     * nothing queued since, no event_del (a lock and a look-up in
     * libevent, 80 instructions a GET). The flush event is made active
     * only with a node made dirty, and running it with none is harmless. */
    if (!e->dirty)
        return;
    event_del(e->flush_ev);
    while (e->dirty) {
        clusterc__node *n = e->dirty;
        e->dirty = n->dirty_next;
        n->dirty = 0;
        clusterc__conn_flush(&n->conn);
    }
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__engine *e = arg;
    (void)fd; (void)what;
    e->depth++;
    clusterc__engine_flush_now(e);
    clusterc__engine_leave(e);
}

/* Fail everything queued on the nodes (engine free): each request is
 * taken out of its FIFO, then completed. */
void clusterc__nodes_fail_all(clusterc__engine *e, int code, const char *msg)
{
    for (size_t i = 0; i < e->nnodes; i++) {
        void *tag;
        while (clusterc__conn_take(&e->nodes[i]->conn, &tag)) {
            clusterc__req *r = tag;
            if (!r)
                continue;
            r->node = NULL;
            r->state = CLUSTERC__REQ_NEW;
            clusterc__engine_complete(e, r, NULL, code, msg);
        }
        clusterc__bpool_fail_all(e, e->nodes[i], code, msg);
    }
}

/* ------------------------------------------------------------ reaping */

void clusterc__engine_schedule_reap(clusterc__engine *e)
{
    event_active(e->reap_ev, 0, 0);
}

/* A draining engine closes each connection nobody waits on any more
 * (quietly: the close is the caller's wish, not news); one whose command
 * timed out was closed already, so a half-sent reply cannot hold it. */
static void drain_close_idle(clusterc__engine *e)
{
    for (size_t i = 0; i < e->nnodes; i++) {
        clusterc__node *n = e->nodes[i];
        clusterc__bpool_close_idle(n);
        if (n->conn.state == CLUSTERC__CONN_DOWN || clusterc__conn_has_tags(&n->conn))
            continue;
        if (n->dirty)
            unlink_dirty(e, n);
        clusterc__conn_shutdown(&n->conn);
    }
}

/* Everything is done: no node, no map, no resolver; nothing keeps the
 * caller's loop alive. */
static void drain_finish(clusterc__engine *e)
{
    for (size_t i = 0; i < e->nnodes; i++)
        clusterc__node_free(e->nodes[i]);
    e->nnodes = 0;
    (void)clusterc__nindex_rebuild(&e->by_name, e);
    (void)clusterc__nindex_rebuild(&e->by_id, e);
    e->dirty = NULL;
    e->tx_node = NULL;
    if (e->map_gen > 0)   /* node stats after a graceful disconnect read it */
        clusterc__engine_drop_map(e);
    clusterc__dns_release(e->dns);
    e->dns = NULL;
    clusterc__timers_quiet(e);   /* the loop ends now, not at the last timeout */
    e->drained = 1;
    clusterc__emit(e, CLUSTERC_EVENT_DRAINED, NULL, 0, "every command finished, every connection closed");
}

/* Retired nodes (gone from the map) are freed once nothing is queued on
 * them; a draining engine closes idle connections as it goes. */
static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__engine *e = arg;
    size_t j = 0;
    (void)fd; (void)what;
    e->depth++;
    for (size_t i = 0; i < e->nnodes; i++) {
        clusterc__node *n = e->nodes[i];
        int idle = n->conn.fcount == 0 && !n->dirty && n->writes_inflight == 0 &&
                   !clusterc__bpool_busy(n);
        if (idle && n != e->tx_node && n->retired && !e->draining) {
            clusterc__engine_forget_node(e, n);
            clusterc__node_free(n);
            continue;
        }
        e->nodes[j++] = n;
    }
    if (j != e->nnodes) {   /* positions moved */
        e->nnodes = j;
        (void)clusterc__nindex_rebuild(&e->by_name, e);
        (void)clusterc__nindex_rebuild(&e->by_id, e);
    }
    if (e->draining && !e->drained && !e->dead) {
        drain_close_idle(e);
        if (e->pending == 0)
            drain_finish(e);
    }
    clusterc__engine_leave(e);
}
