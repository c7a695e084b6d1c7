/* bpool.c -- blocking commands (BLPOP, BLMOVE, XREAD BLOCK...) on
 * connections of their own.
 *
 * A blocking command on the node's multiplexed connection would hold up
 * every command behind it for as long as it blocks (libvalkey and
 * hiredis-cluster have that flaw). So each node keeps a small pool of
 * extra connections, opened when needed (up to blocking_pool_size) and
 * reused; a blocking command takes a free one or waits for one. Each pool
 * connection carries one command at a time, and one whose command left
 * before its reply (deadline, failure) is closed, never reused: the reply
 * may still come. Replies and losses go through classify.c like any
 * other, so MOVED, ASK, retries and EUNCERTAIN are the same code path.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include "engine_int.h"

typedef struct clusterc__bconn {
    clusterc__conn conn;
    clusterc__node *n;
    clusterc__req *r;            /* the command on it, NULL when idle */
    struct event *flush_ev;      /* writes from the loop, never inside a submit */
} clusterc__bconn;

static void start_next(clusterc__node *n);

/* ------------------------------------------------- the connection's callbacks */

static void b_enter(void *owner) { clusterc__engine_enter(((clusterc__bconn *)owner)->n->e); }
static void b_leave(void *owner) { clusterc__engine_leave(((clusterc__bconn *)owner)->n->e); }
static clusterc__dns *b_dns(void *owner) { return clusterc__engine_dns(((clusterc__bconn *)owner)->n->e); }

static void b_connected(void *owner)
{
    clusterc__bconn *b = owner;
    b->n->e->stats.blocking_conns++;
}

/* The command on b is answered or lost: b is free again. */
static clusterc__req *release(clusterc__bconn *b, void *tag)
{
    clusterc__req *r = tag;
    b->r = NULL;
    r->node = NULL;
    r->x->bconn = NULL;
    return r;
}

static int b_reply(void *owner, void *tag, redisReply *reply)
{
    clusterc__bconn *b = owner;
    clusterc__engine *e = b->n->e;
    clusterc__req *r = release(b, tag);
    clusterc__engine_on_reply(e, b->n, r, reply);
    if (e->dead)
        return -1;
    start_next(b->n);
    return 0;
}

static void b_lost(void *owner, void *tag, int code, const char *msg, int written)
{
    clusterc__bconn *b = owner;
    clusterc__engine *e = b->n->e;
    clusterc__req *r = release(b, tag);
    if (e->dead)
        return;
    clusterc__engine_lost(e, b->n, r, code, msg, written);
    start_next(b->n);
}

/* The node's health is its multiplexed connection's to tell: a pool
 * connection's close only hands its command back (b_lost). */
static void b_closed(void *owner, int code, const char *msg, int was_up)
{
    (void)owner; (void)code; (void)msg; (void)was_up;
}

static void b_want_write(void *owner)
{
    event_active(((clusterc__bconn *)owner)->flush_ev, 0, 0);
}

static const clusterc__conn_ops bconn_ops = {
    b_enter, b_leave, b_dns, b_connected, b_reply, b_lost, b_closed, b_want_write,
};

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__bconn *b = arg;
    clusterc__engine *e = b->n->e;
    (void)fd; (void)what;
    clusterc__engine_enter(e);
    clusterc__conn_flush(&b->conn);
    clusterc__engine_leave(e);
}

/* ------------------------------------------------------------ the pool */

static clusterc__bconn *bconn_new(clusterc__node *n)
{
    clusterc__engine *e = n->e;
    clusterc__bconn **v = realloc(n->bpool, (size_t)(n->nbpool + 1) * sizeof(*v));
    if (!v)
        return NULL;
    n->bpool = v;
    clusterc__bconn *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->n = n;
    b->flush_ev = event_new(e->base, -1, 0, flush_cb, b);
    if (!b->flush_ev || clusterc__conn_init(&b->conn, e->base, &e->conn_cfg, &bconn_ops, b,
                                            &n->conn.addr, n->name) < 0) {
        if (b->flush_ev)
            event_free(b->flush_ev);
        free(b);
        return NULL;
    }
    n->bpool[n->nbpool++] = b;
    return b;
}

/* An idle connection (an open one first), or a new one while the pool is
 * not full, or NULL. */
static clusterc__bconn *take_idle(clusterc__node *n, int *oom)
{
    clusterc__bconn *down = NULL;
    for (int i = 0; i < n->nbpool; i++) {
        clusterc__bconn *b = n->bpool[i];
        if (b->r)
            continue;
        if (b->conn.state == CLUSTERC__CONN_UP)
            return b;
        down = down ? down : b;
    }
    if (down || n->nbpool >= n->e->opt.blocking_pool_size)
        return down;
    clusterc__bconn *b = bconn_new(n);
    *oom = b == NULL;
    return b;
}

static int send_on(clusterc__bconn *b, clusterc__req *r)
{
    clusterc__node *n = b->n;
    unsigned flags = r->asking ? CLUSTERC__CONN_ASKING : 0;
    if (n->role == CLUSTERC__ROLE_REPLICA && (r->flags & CLUSTERC__CMD_READONLY))
        flags |= CLUSTERC__CONN_READONLY;
    if (clusterc__conn_send(&b->conn, r, clusterc__req_text(r), r->len, flags, &r->seq) < 0)
        return -1;
    r->state = CLUSTERC__REQ_QUEUED;
    r->node = n;
    r->x->last_node = n;
    r->x->bconn = b;
    b->r = r;
    return 0;
}

static void bwait_push(clusterc__node *n, clusterc__req *r)
{
    r->state = CLUSTERC__REQ_POOLWAIT;
    r->node = n;
    r->wnext = NULL;
    r->wprev = n->bwait_tail;
    if (n->bwait_tail) n->bwait_tail->wnext = r; else n->bwait_head = r;
    n->bwait_tail = r;
}

static void bwait_unlink(clusterc__node *n, clusterc__req *r)
{
    if (r->wprev) r->wprev->wnext = r->wnext; else n->bwait_head = r->wnext;
    if (r->wnext) r->wnext->wprev = r->wprev; else n->bwait_tail = r->wprev;
    r->wnext = r->wprev = NULL;
    r->node = NULL;
}

int clusterc__bpool_send(clusterc__engine *e, clusterc__node *n, clusterc__req *r)
{
    int oom = 0;
    (void)e;
    clusterc__bconn *b = take_idle(n, &oom);
    if (oom)
        return -1;
    if (!b) {
        bwait_push(n, r);   /* every pool connection is busy */
        return 0;
    }
    return send_on(b, r);
}

/* A pool connection freed up: the oldest waiting command takes it. */
static void start_next(clusterc__node *n)
{
    int oom = 0;
    while (n->bwait_head && !n->e->dead) {
        clusterc__bconn *b = take_idle(n, &oom);
        if (!b)
            return;
        clusterc__req *r = n->bwait_head;
        bwait_unlink(n, r);
        if (send_on(b, r) < 0) {
            r->state = CLUSTERC__REQ_NEW;
            clusterc__engine_fail_later(n->e, r, CLUSTERC_ENOMEM, "%s: out of memory queuing for %s",
                                        CLUSTERC__RNAME(r), n->name);
        }
    }
}

void clusterc__bpool_abandon(clusterc__req *r)
{
    if (r->state == CLUSTERC__REQ_POOLWAIT) {
        bwait_unlink(r->node, r);
        return;
    }
    clusterc__bconn *b = r->x->bconn;
    if (!b)
        return;
    clusterc__conn_orphan(&b->conn, r->seq);
    b->r = NULL;
    r->x->bconn = NULL;
    r->node = NULL;
    clusterc__conn_shutdown(&b->conn);   /* its reply may still come: never reused */
    start_next(b->n);
}

int clusterc__bpool_sent(const clusterc__req *r)
{
    return r->x->bconn && clusterc__conn_sent(&r->x->bconn->conn, r->seq);
}

int clusterc__bpool_busy(const clusterc__node *n)
{
    if (n->bwait_head)
        return 1;
    for (int i = 0; i < n->nbpool; i++)
        if (n->bpool[i]->r)
            return 1;
    return 0;
}

void clusterc__bpool_fail_all(clusterc__engine *e, clusterc__node *n, int code, const char *msg)
{
    while (n->bwait_head) {
        clusterc__req *r = n->bwait_head;
        bwait_unlink(n, r);
        r->state = CLUSTERC__REQ_NEW;
        clusterc__engine_complete(e, r, NULL, code, msg);
    }
    for (int i = 0; i < n->nbpool; i++) {
        clusterc__bconn *b = n->bpool[i];
        clusterc__req *r = b->r;
        if (!r)
            continue;
        b->r = NULL;
        r->x->bconn = NULL;
        r->node = NULL;
        clusterc__conn_shutdown(&b->conn);
        r->state = CLUSTERC__REQ_NEW;
        clusterc__engine_complete(e, r, NULL, code, msg);
    }
}

void clusterc__bpool_each(const clusterc__node *n, void (*fn)(void *req, void *arg), void *arg)
{
    for (clusterc__req *r = n->bwait_head; r; r = r->wnext)
        fn(r, arg);
    for (int i = 0; i < n->nbpool; i++)
        if (n->bpool[i]->r)
            fn(n->bpool[i]->r, arg);
}

void clusterc__bpool_close_idle(clusterc__node *n)
{
    for (int i = 0; i < n->nbpool; i++)
        if (!n->bpool[i]->r && n->bpool[i]->conn.state != CLUSTERC__CONN_DOWN)
            clusterc__conn_shutdown(&n->bpool[i]->conn);
}

void clusterc__bpool_fini(clusterc__node *n)
{
    for (int i = 0; i < n->nbpool; i++) {
        clusterc__conn_fini(&n->bpool[i]->conn);
        event_free(n->bpool[i]->flush_ev);
        free(n->bpool[i]);
    }
    free(n->bpool);
    n->bpool = NULL;
    n->nbpool = 0;
}
