/* engine.c -- requests: route, queue, classify the reply, retry or finish.
 *
 * The redirect and retry policy lives here once, for both faces. A request
 * carries one deadline across every attempt; redirects and retries are
 * counted against max_redirects and max_retries.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <ctype.h>
#include <limits.h>
#include "engine_int.h"
#include "proto/blocking.h"
#include "proto/options.h"
#include "proto/cmdname.h"
#include "proto/fanout.h"
#include "proto/redirect.h"
#include "proto/encode.h"

int64_t clusterc__now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void engine_destroy(clusterc__engine *e);

/* ------------------------------------------------------------ accessors */

struct event_base *clusterc__engine_base(const clusterc__engine *e) { return e->base; }
const clusterc_stats *clusterc__engine_stats(const clusterc__engine *e) { return &e->stats; }
const clusterc_options *clusterc__engine_options(const clusterc__engine *e) { return &e->opt; }
const clusterc__err *clusterc__engine_last_error(const clusterc__engine *e) { return &e->err; }

void clusterc__engine_set_blocking(clusterc__engine *e) { e->conn_cfg.blocking = 1; }
void clusterc__engine_loop_ran(clusterc__engine *e) { e->last_loop_us = clusterc__now_us(); }

int clusterc__engine_wait_fast(clusterc__engine *e, clusterc__req *r)
{
    clusterc__node *n = r->node;
    /* Only while every live request is the caller's own (a lone command, or
     * appended ones: their replies wait in the sockets until their turn):
     * a probe, a lag poll or a refresh in flight must be read when it lands
     * (a PONG left unread would count the wait as that node's latency). */
    if (e->pending != e->user_pending || r->state != CLUSTERC__REQ_QUEUED || !n ||
        clusterc__req_bconn(r) || !n->conn.blocking ||
        clusterc__conn_unwritten(&n->conn) || e->dirty || r->retries ||
        r->redirects || clusterc__now_us() - e->last_loop_us > 10000)
        return 0;
    return clusterc__conn_read_blocking(&n->conn) == 0;
}

/* ------------------------------------------------------------ lifecycle */

static char *dup_opt(const char *s, int *oom)
{
    char *d;
    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

static int copy_options(clusterc__engine *e, const clusterc_options *o)
{
    int oom = 0;
    e->opt = *o;
    /* The TLS files and names live in e->tls (built from o at once). */
    e->opt.tls_ca_file = e->opt.tls_ca_dir = e->opt.tls_cert_file = NULL;
    e->opt.tls_key_file = e->opt.tls_server_name = e->opt.tls_min_version = NULL;
    e->opt.seeds = dup_opt(o->seeds, &oom);
    e->opt.username = dup_opt(o->username, &oom);
    e->opt.password = dup_opt(o->password, &oom);
    e->opt.client_name = dup_opt(o->client_name, &oom);
    return oom ? -1 : 0;
}

clusterc__engine *clusterc__engine_new(struct event_base *base, const clusterc_options *o,
                                       clusterc__err *errp)
{
    clusterc__engine *e = calloc(1, sizeof(*e));
    char err[256];
    if (!e)
        return NULL;
    e->base = base;
    e->cmds = clusterc__cmdtable_builtin();
    e->rng = (uint64_t)clusterc__now_us() ^ (uint64_t)(uintptr_t)e;
    memset(e->slot_shard, 0xff, sizeof(e->slot_shard));
    if (clusterc__nodes_tls(e, o, errp) < 0 || copy_options(e, o) < 0 ||
        clusterc__seeds_parse(o->seeds, &e->seeds, &e->nseeds, err, sizeof(err)) < 0)
        goto fail;
    if (clusterc__remap_parse(o->node_address_map, &e->remap, &e->nremap, err, sizeof(err)) < 0)
        goto fail;
    if (clusterc__timers_init(e) < 0 || clusterc__nodes_init(e) < 0 ||
        clusterc__refresh_init(e) < 0 ||
        clusterc__reads_init(e) < 0 || clusterc__pubsub_init(e) < 0)
        goto fail;
    return e;
fail:
    engine_destroy(e);
    return NULL;
}

void clusterc__engine_on_destroy(clusterc__engine *e, void (*fn)(void *), void *arg)
{
    e->on_destroy = fn;
    e->on_destroy_arg = arg;
}

void *clusterc__engine_owner(const clusterc__engine *e)
{
    return e->on_destroy_arg;
}

static void engine_destroy(clusterc__engine *e)
{
    if (e->on_destroy)
        e->on_destroy(e->on_destroy_arg);
    clusterc__pubsub_fini(e);
    clusterc__nodes_fini(e);
    clusterc__engine_drop_map(e);
    clusterc__refresh_fini(e);
    clusterc__reads_fini(e);
    free(e->remap);
    free(e->ev_slot);
    clusterc__policytable_free(e->policies);
    free(e->ev_ids);
    clusterc__dns_release(e->dns);   /* outlives e while lookups are owed a callback */
    clusterc__tls_free(e->tls);      /* after every connection (sessions use its BIO) */
    clusterc__cmdtable_free(e->learned);
    clusterc__timers_fini(e);
    clusterc__reqpool_fini(e);   /* last: every request is gone by now */
    free(e->seeds);
    free((char *)e->opt.seeds);
    free((char *)e->opt.username);
    clusterc__secret_free((char *)e->opt.password);
    free((char *)e->opt.client_name);
    free(e);
}

static void fail_all(clusterc__engine *e, int code, const char *msg);

void clusterc__engine_free(clusterc__engine *e, int code, const char *msg)
{
    if (!e || e->dead)
        return;
    e->dead = 1;
    e->depth++;
    fail_all(e, code, msg);
    clusterc__engine_unwind(e);
    if (e->depth == 0)
        engine_destroy(e);
}

/* An entry from the loop (a socket's callback, nested ones too) reads the
 * clock once for the deadlines of every command its callbacks submit
 * (timers.c), instead of once per command. */
void clusterc__engine_enter(clusterc__engine *e)
{
    e->depth++;
    e->clock_us = clusterc__now_us();
    e->clock_ok = 1;
}

void clusterc__engine_leave(clusterc__engine *e)
{
    if (--e->depth == 0) {
        e->clock_ok = 0;
        if (e->dead)
            engine_destroy(e);
    }
}

/* A command that blocks forever would hold a drain open forever: from the
 * drain on it has the plain deadline (command_timeout_ms). */
static void bound_forever(void *tag, void *arg)
{
    clusterc__req *r = tag;
    clusterc__engine *e = arg;
    if (r->blocking && clusterc__req_block_ms(r) == 0 && !r->dl && r->state != CLUSTERC__REQ_DONE)
        clusterc__dl_add(e, r, e->opt.command_timeout_ms);
}

void clusterc__engine_drain(clusterc__engine *e)
{
    if (e->draining)
        return;
    e->draining = 1;
    for (size_t i = 0; i < e->nnodes; i++) {
        clusterc__conn_each_tag(&e->nodes[i]->conn, bound_forever, e);
        clusterc__bpool_each(e->nodes[i], bound_forever, e);
    }
    for (clusterc__req *r = e->wait_head; r; r = r->wnext)
        bound_forever(r, e);
    for (clusterc__req *r = e->backoff_head; r; r = r->wnext)
        bound_forever(r, e);
    for (clusterc__req *r = e->later_head; r; r = r->wnext)
        bound_forever(r, e);
    clusterc__refresh_drain(e);      /* no scheduled or periodic load */
    clusterc__pubsub_drain(e);       /* subscriptions end with the drain */
    if (e->probe_ev)
        event_del(e->probe_ev);
    if (e->lag_ev)
        event_del(e->lag_ev);
    clusterc__engine_schedule_reap(e);   /* idle connections close now */
}

int clusterc__engine_drained(const clusterc__engine *e) { return e->drained; }

/* ------------------------------------------------------------ node table */

void clusterc__engine_remap(const clusterc__engine *e, const clusterc__addr *in,
                            clusterc__addr *out)
{
    clusterc__remap_apply(e->remap, e->nremap, e->opt.node_address_remap,
                          e->opt.node_address_remap_arg, in, out);
}

static int is_node_id(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return i == 40;
}

int clusterc__req_pin(clusterc__engine *e, clusterc__req *r, const char *node,
                      clusterc__err *err)
{
    clusterc__node *n = NULL;
    char why[200];
    if (!node) {
        clusterc__err_set(err, CLUSTERC_EINVAL, "%s: no node given", CLUSTERC__RNAME(r));
        return -1;
    }
    if (is_node_id(node)) {
        n = clusterc__nindex_find(&e->by_id, e, node);
        if (!n) {
            clusterc__err_set(err, CLUSTERC_EINVAL, "%s: no node with id %s in the slot map",
                              CLUSTERC__RNAME(r), node);
            return -1;
        }
    } else {
        clusterc__addr a, dial;
        /* a is written only on success: the message must not read it. */
        int bad = clusterc__addr_parse(node, strlen(node), &a, why, sizeof(why)) < 0;
        if (bad || !a.host[0]) {
            clusterc__err_set(err, CLUSTERC_EINVAL, "%s: bad node address \"%s\": %s",
                              CLUSTERC__RNAME(r), node, bad ? why : "no host");
            return -1;
        }
        clusterc__engine_remap(e, &a, &dial);
        n = clusterc__engine_node(e, &dial, 1);
        if (!n) {
            clusterc__err_set(err, CLUSTERC_ENOMEM, "%s: out of memory", CLUSTERC__RNAME(r));
            return -1;
        }
        if (!clusterc__engine_in_map(e, n))
            n->retired = 0;   /* not in the map: kept until the next map */
    }
    clusterc__req_x *x = clusterc__req_ext(r);
    if (!x) {
        clusterc__err_set(err, CLUSTERC_ENOMEM, "%s: out of memory pinning it to %s",
                          CLUSTERC__RNAME(r), n->name);
        return -1;
    }
    x->target = n;
    r->pinned = 1;
    return 0;
}

/* -------------------------------------------------------------- requests */

/* A blocking command's timeout, read once at creation. -1 when out of
 * memory (its rare part holds it). */
static int set_blocking(clusterc__req *r)
{
    int64_t ms;
    int b = clusterc__block_timeout(clusterc__req_text(r), r->len, &ms);
    if (b <= 0)
        return 0;
    clusterc__req_x *x = clusterc__req_ext(r);
    if (!x)
        return -1;
    r->blocking = (uint8_t)b;
    x->block_ms = ms;
    return 0;
}

clusterc__req *clusterc__req_new(clusterc__engine *e, char *cmd, size_t len,
                                 clusterc__done_fn *done, clusterc__err *err)
{
    clusterc__cmdtext t = { cmd, (int)len, 0, { 0 } };
    if (len > (size_t)INT_MAX) {
        free(cmd);
        clusterc__err_set(err, CLUSTERC_EINVAL, "invalid command: longer than 2 GB");
        return NULL;
    }
    return clusterc__req_new_text(e, &t, done, err);
}

/* The text moves into the request's own block when it fits, else the
 * request keeps the one it came in (reqpool.c). */
static void take_text(clusterc__req *r, const clusterc__cmdtext *t)
{
    size_t len = (size_t)t->len;
    if (t->pooled == 2) {   /* written where it stays (reqpool.c) */
        r->big = len >= CLUSTERC__REQ_INLINE;
    } else if (len < CLUSTERC__REQ_INLINE) {
        r->text_out = 0;
        memcpy(r->inl, t->cmd, len + 1);
        clusterc__cmdtext_release(r->e, t);
    } else {
        r->cmd_pooled = t->pooled != 0;
    }
}

void clusterc__engine_face_done(clusterc__engine *e, clusterc__done_fn *done)
{
    for (int i = 0; i < CLUSTERC__FACE_DONE; i++) {
        if (e->face_done[i] == done)
            return;
        if (!e->face_done[i]) {
            e->face_done[i] = done;
            return;
        }
    }
}

/* r completes through done: a face's, named by its index, else kept in x.
 * 0, or -1 out of memory. */
static int set_done(clusterc__engine *e, clusterc__req *r, clusterc__done_fn *done)
{
    for (int i = 0; i < CLUSTERC__FACE_DONE; i++) {
        if (e->face_done[i] == done) {
            r->done_ix = (unsigned)i + 1u;
            return 0;
        }
    }
    clusterc__req_x *x = clusterc__req_ext(r);
    if (!x)
        return -1;
    x->done = done;
    return 0;
}

/* Inspect the text: info, or -1 with err set (the text not released). */
static int inspect(clusterc__engine *e, const clusterc__cmdtext *t, clusterc__cmdinfo *info,
                   clusterc__err *err)
{
    char why[160];
    if (t->ca.argc >= 1)   /* encoded here: valid, its arguments already found */
        clusterc__cmd_inspect_args(e->cmds, &t->ca, info);
    else if (clusterc__cmd_inspect(e->cmds, t->cmd, (size_t)t->len, info, why, sizeof(why)) < 0) {
        clusterc__err_set(err, CLUSTERC_EINVAL, "invalid command: %s", why);
        return -1;
    }
    if ((info->props & CLUSTERC__CMDP_NOT_HERE) &&   /* from the same lookup */
        clusterc__cmd_not_here(info->name, info->namelen, why, sizeof(why))) {
        clusterc__err_set(err, CLUSTERC_EUSAGE, "%s", why);
        return -1;
    }
    return 0;
}

clusterc__req *clusterc__req_new_text(clusterc__engine *e, const clusterc__cmdtext *t,
                                      clusterc__done_fn *done, clusterc__err *err)
{
    clusterc__cmdinfo info;
    if (inspect(e, t, &info, err) < 0) {
        clusterc__cmdtext_release(e, t);
        return NULL;
    }
    clusterc__req *r = t->pooled == 2 ? clusterc__req_of_text(t->cmd)   /* reqpool.c */
                                      : clusterc__req_mem_get(e, 0);
    if (!r) {
        clusterc__err_set(err, CLUSTERC_ENOMEM, "%.*s: out of memory queuing the command",
                          (int)(info.namelen > 30 ? 30 : info.namelen), info.name);
        clusterc__cmdtext_release(e, t);
        return NULL;
    }
    memset(r, 0, sizeof(*r));
    r->e = e;
    if (t->pooled != 2)   /* until take_text: fanout_mark reads it */
        clusterc__req_set_text_out(r, t->cmd);
    r->len = (uint32_t)t->len;
    r->flags = info.flags;
    r->slot = (int16_t)info.slot;
    if (info.slot >= 0)   /* dispatch reads it next: a miss there stalled it */
        CLUSTERC__PREFETCH(&e->slot_shard[info.slot]);
    /* A name in no table may still have a policy ("CONFIG|SET" as one word). */
    if ((info.props & CLUSTERC__CMDP_FANOUT) ||
        (info.slot < 0 && !(info.flags & CLUSTERC__CMD_KNOWN)))
        clusterc__fanout_mark(e, r, info.name, info.namelen);
    take_text(r, t);   /* last: info points into the text as it came */
    if (set_done(e, r, done) < 0) {
        clusterc__err_set(err, CLUSTERC_ENOMEM, "%s: out of memory queuing the command",
                          CLUSTERC__RNAME(r));
        clusterc__req_free(r);
        return NULL;
    }
    /* The rare part, where this command will need it: made now, so running
     * out of memory is said here and not half-way. */
    if (((info.flags & CLUSTERC__CMD_BLOCKING) && set_blocking(r) < 0) ||
        (e->opt.on_command && !clusterc__req_ext(r)) ||
        (e->opt.read_your_writes && !(info.flags & CLUSTERC__CMD_READONLY) &&
         !clusterc__req_ext(r))) {
        clusterc__err_set(err, CLUSTERC_ENOMEM, "%s: out of memory queuing the command",
                          CLUSTERC__RNAME(r));
        clusterc__req_free(r);
        return NULL;
    }
    return r;
}

/* "*N\r\n$L\r\nARG\r\n..." (inspected when the request was made): the
 * argument that starts at p, or NULL. */
static const char *arg_at(const char *p, const char *end, size_t *alen)
{
    p = p < end ? memchr(p, '$', (size_t)(end - p)) : NULL;
    if (!p)
        return NULL;
    char *q;
    long n = strtol(p + 1, &q, 10);
    if (n < 0 || q + 2 + n > end)
        return NULL;
    *alen = (size_t)n;
    return q + 2;
}

const char *clusterc__req_name(const clusterc__req *r, char *buf, size_t cap)
{
    const char *text = clusterc__req_text(r), *end = text + r->len, *a0, *a1;
    size_t n0 = 0, n1 = 0;
    buf[0] = '\0';
    if (!(a0 = arg_at(text, end, &n0)))
        return buf;
    if (r->internal && (a1 = arg_at(a0 + n0, end, &n1)))   /* "CLUSTER SHARDS" */
        snprintf(buf, cap, "%.*s %.*s", (int)n0, a0, (int)n1, a1);
    else
        clusterc__cmd_display_name(text, r->len, a0, n0, buf, cap);
    return buf;
}

clusterc__req_x *clusterc__req_ext(clusterc__req *r)
{
    if (!r->x)
        r->x = calloc(1, sizeof(*r->x));
    return r->x;
}

void clusterc__req_free(clusterc__req *r)
{
    if (!r)
        return;
    if (r->cmd_pooled)
        clusterc__cmdbuf_put(r->e, clusterc__req_text(r));
    else if (r->text_out)
        free(clusterc__req_text(r));
    if (r->x) {
        if (r->x->retry_ev)
            event_free(r->x->retry_ev);
        free(r->x->fail_msg);
        free(r->x);
    }
    clusterc__req_mem_put(r->e, r, r->big);
}

static void wait_unlink(clusterc__engine *e, clusterc__req *r)
{
    if (r->wprev) r->wprev->wnext = r->wnext; else e->wait_head = r->wnext;
    if (r->wnext) r->wnext->wprev = r->wprev; else e->wait_tail = r->wprev;
    r->wnext = r->wprev = NULL;
}

static void wait_push(clusterc__engine *e, clusterc__req *r)
{
    r->state = CLUSTERC__REQ_WAITING;
    r->waited_gen = (uint32_t)e->map_gen;
    r->wnext = NULL;
    r->wprev = e->wait_tail;
    if (e->wait_tail) e->wait_tail->wnext = r; else e->wait_head = r;
    e->wait_tail = r;
}

static void forget_in(clusterc__req *r, const clusterc__node *n)
{
    for (; r; r = r->wnext)
        if (r->x && r->x->last_node == n)
            r->x->last_node = NULL;
}

void clusterc__engine_forget_node(clusterc__engine *e, const clusterc__node *n)
{
    forget_in(e->wait_head, n);
    forget_in(e->backoff_head, n);
    forget_in(e->later_head, n);
}

/* Take a request out of wherever it waits. */
static void detach(clusterc__engine *e, clusterc__req *r)
{
    switch (r->state) {
    case CLUSTERC__REQ_WAITING: wait_unlink(e, r); break;
    case CLUSTERC__REQ_BACKOFF: clusterc__backoff_detach(e, r); break;   /* timers.c */
    case CLUSTERC__REQ_QUEUED:
        if (clusterc__req_bconn(r))
            clusterc__bpool_abandon(r);
        else if (r->node)
            clusterc__conn_orphan(&r->node->conn, r->seq);
        r->node = NULL;
        break;
    case CLUSTERC__REQ_POOLWAIT:
        clusterc__bpool_abandon(r);
        break;
    case CLUSTERC__REQ_FANOUT:
        clusterc__fanout_abandon(r);
        break;
    default: break;
    }
}

/* Finish a request: exactly one callback, then it is freed. */
void clusterc__engine_complete(clusterc__engine *e, clusterc__req *r, redisReply *reply,
                     int code, const char *msg)
{
    detach(e, r);
    clusterc__dl_unlink(e, r);
    if (r->x && r->x->synth) {   /* a local answer that never went out */
        freeReplyObject(r->x->synth);
        r->x->synth = NULL;
    }
    r->state = CLUSTERC__REQ_DONE;
    if (!r->internal && !r->child) {
        e->user_pending--;
        e->stats.failures += !reply;
    }
    clusterc__reads_done(e, r);
    if (e->opt.on_command && !r->internal && !r->child)
        clusterc__hook_command(e, r, reply ? 0 : code);
    e->depth++;
    clusterc__req_done(r)(e, r, reply, code, msg);   /* reply now belongs to the face */
    clusterc__engine_unwind(e);
    clusterc__req_free(r);
    e->pending--;
    if (e->draining && !e->dead)   /* its connection may be idle now */
        clusterc__engine_schedule_reap(e);
    /* Never destroyed here: every path into clusterc__engine_complete() runs inside
     * enter/leave (or engine_free), and leave() does the destroying. */
}

void clusterc__engine_fail(clusterc__engine *e, clusterc__req *r, int code, const char *fmt, ...)
{
    char msg[CLUSTERC__ERRSTR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    clusterc__engine_complete(e, r, NULL, code, msg);
}

/* Fail everything still pending (engine free). */
static void fail_all(clusterc__engine *e, int code, const char *msg)
{
    clusterc__nodes_fail_all(e, code, msg);
    while (e->wait_head)
        clusterc__engine_complete(e, e->wait_head, NULL, code, msg);
    while (e->backoff_head)
        clusterc__engine_complete(e, e->backoff_head, NULL, code, msg);
    while (e->later_head)
        clusterc__engine_complete(e, e->later_head, NULL, code, msg);
}

/* ---------------------------------------------------------------- submit */

/* A blocking command's deadline is its own timeout plus command_timeout_ms;
 * one that blocks forever has none (a lost connection still fails it). */
static void arm_deadline(clusterc__engine *e, clusterc__req *r)
{
    if (!r->blocking) {
        clusterc__dl_add(e, r, e->opt.command_timeout_ms);   /* in order: O(1) */
        return;
    }
    int64_t ms = clusterc__req_block_ms(r);
    if (ms > 0)
        clusterc__dl_add(e, r, ms + e->opt.command_timeout_ms);
}

void clusterc__engine_submit(clusterc__engine *e, clusterc__req *r)
{
    e->pending++;
    if (!r->internal && !r->child) {   /* only callers' commands count */
        e->stats.commands++;
        e->user_pending++;
    }
    if (e->opt.on_command && r->x)   /* made by req_new */
        r->x->t0_us = clusterc__now_us();
    if (r->route_mode > CLUSTERC_ROUTE_ANY)
        r->fan = 3;   /* CLUSTERC_ROUTE_ALL_* / EACH_*: fanout.c */
    int local = !r->internal && !r->child && clusterc__tx_submit(e, r);   /* in MULTI: not blocking */
    arm_deadline(e, r);
    if (!local)   /* else answered locally, or pinned to the transaction's node */
        clusterc__engine_dispatch(e, r);
}

clusterc__node *clusterc__engine_route_keyless(clusterc__engine *e)
{
    for (size_t i = 0; i < e->nshards; i++) {
        clusterc__shard *s = &e->shards[(e->keyless_rr + i) % e->nshards];
        if (s->n > 0) {
            e->keyless_rr++;
            return s->nodes[0];
        }
    }
    return NULL;
}

clusterc__node *clusterc__engine_route(clusterc__engine *e, clusterc__req *r, int *noreplica)
{
    *noreplica = 0;
    if (r->x && r->x->target)
        return r->x->target;
    if (e->map_gen == 0)
        return NULL;
    if (r->slot < 0)
        return clusterc__engine_route_keyless(e);
    int s = e->slot_shard[r->slot];
    if (s < 0 || e->shards[s].n == 0)
        return NULL;
    if (!clusterc__reads_applies(e, r))
        return e->shards[s].nodes[0];
    int i = clusterc__reads_pick(e, &e->shards[s], r);
    if (i < 0) {
        *noreplica = 1;
        return NULL;
    }
    return e->shards[s].nodes[i];
}

/* Whether r must not dial n now: a drain reconnects nothing (a node never
 * dialled may still be, for a command that waited for the map), and a node
 * that could not be dialled is not tried again before its redial time.
 * Returns 1 when it took r over. */
static int no_dial(clusterc__engine *e, clusterc__req *r, clusterc__node *n)
{
    if (e->draining && n->conn.dials > 0) {
        r->state = CLUSTERC__REQ_NEW;
        clusterc__engine_fail_later(e, r, r->x && r->x->last_code ? r->x->last_code
                                                                 : CLUSTERC_ECLOSED,
                                    "%s: not reconnecting to %s while the client drains%s%s",
                                    CLUSTERC__RNAME(r), n->name, n->conn.last_err[0] ? "; " : "",
                                    n->conn.last_err);
        return 1;
    }
    if (!e->draining && clusterc__now_us() < n->redial_at_us) {
        char why[sizeof(n->conn.last_err) + 64];
        snprintf(why, sizeof(why), "%s (not dialled again yet)", n->conn.last_err);
        r->state = CLUSTERC__REQ_NEW;
        clusterc__engine_retry_later(e, r, CLUSTERC_ECONNECT, why);
        return 1;
    }
    return 0;
}

void clusterc__engine_dispatch(clusterc__engine *e, clusterc__req *r)
{
    int noreplica;
    if (r->fan && !r->internal && !r->pinned && !r->child) {   /* spans the cluster */
        int rc = clusterc__fanout_dispatch(e, r);
        if (rc > 0)
            return;
        if (rc < 0) {   /* which nodes: the map will say */
            wait_push(e, r);
            clusterc__refresh_request(e, "fan-out waits for the map", 0);
            return;
        }
    }
    clusterc__node *n = clusterc__engine_route(e, r, &noreplica);
    if (noreplica) {
        clusterc__engine_fail_later(e, r, CLUSTERC_ENOREPLICA,
                                    "%s: no eligible replica serves slot %d%s%s",
                                    CLUSTERC__RNAME(r), r->slot,
                                    clusterc__req_last(r)[0] ? "; last error: " : "",
                                    clusterc__req_last(r));
        return;
    }
    if (!n) {
        if (e->map_gen > 0 && r->state == CLUSTERC__REQ_WAITING) {
            /* A map was loaded since it started waiting and still nobody
             * serves the slot: waiting longer would only hide that. */
            clusterc__engine_fail_later(e, r, CLUSTERC_ETOPOLOGY,
                                        "%s: slot %d is not served by any node",
                                        CLUSTERC__RNAME(r), r->slot);
            return;
        }
        clusterc__refresh_request(e, "slot not covered", 0);
        if (e->map_gen == 0 && e->err.code &&
            clusterc__refresh_held_us(e) > (int64_t)e->opt.command_timeout_ms * 1000) {
            /* No map, the last load failed, and the throttle holds the next
             * one past this command's deadline: say why now, not at it. */
            clusterc__engine_fail_later(e, r, e->err.code, "%s: no slot map (the next load "
                                        "starts in %lld ms): %s", CLUSTERC__RNAME(r),
                                        (long long)(clusterc__refresh_held_us(e) / 1000), e->err.str);
            return;
        }
        wait_push(e, r);
        return;
    }
    /* Rare: the node's connection is down and it failed before. */
    if (n->conn.state == CLUSTERC__CONN_DOWN && (n->redial_at_us || e->draining) &&
        no_dial(e, r, n))
        return;
    if (r->blocking == 1) {   /* on a connection of its own (bpool.c) */
        if (clusterc__bpool_send(e, n, r) < 0)
            clusterc__engine_fail_later(e, r, CLUSTERC_ENOMEM, "%s: out of memory queuing for %s",
                                        CLUSTERC__RNAME(r), n->name);
        else
            clusterc__reads_sent(e, r, n);
        return;
    }
    if (n->conn.state != CLUSTERC__CONN_UP && clusterc__node_queue_full(e, n, r))
        return;
    r->state = CLUSTERC__REQ_QUEUED;
    if (clusterc__node_send(n, r) < 0)
        clusterc__engine_fail_later(e, r, CLUSTERC_ENOMEM, "%s: out of memory queuing for %s",
                                    CLUSTERC__RNAME(r), n->name);
    else
        clusterc__reads_sent(e, r, n);
}

/* A map arrived (or the refresh gave up): everything waiting tries again. */
void clusterc__engine_redispatch_waiting(clusterc__engine *e, int failed, int code,
                                         const char *msg)
{
    clusterc__req *list = e->wait_head;
    e->wait_head = e->wait_tail = NULL;
    while (list) {
        clusterc__req *r = list;
        list = r->wnext;
        r->wnext = r->wprev = NULL;
        if (failed && (e->map_gen == 0 || r->waited_gen == (uint32_t)e->map_gen)) {
            r->state = CLUSTERC__REQ_NEW;
            clusterc__engine_fail(e, r, code, "%s: %s", CLUSTERC__RNAME(r), msg);
        } else {
            clusterc__engine_dispatch(e, r);
        }
    }
}

clusterc__req *clusterc__engine_internal(clusterc__engine *e, clusterc__node *n,
                                         int argc, const char **argv,
                                         clusterc__done_fn *done, void *u1)
{
    char *cmd = NULL;
    clusterc__err err;
    int len = clusterc__format_argv(&cmd, argc, argv, NULL);
    if (len < 0)
        return NULL;
    clusterc__req *r = clusterc__req_new(e, cmd, (size_t)len, done, &err);
    if (!r)
        return NULL;
    clusterc__req_x *x = clusterc__req_ext(r);
    if (!x) {
        clusterc__req_free(r);
        return NULL;
    }
    r->internal = 1;
    r->pinned = 1;
    x->target = n;
    r->u1 = u1;
    clusterc__engine_submit(e, r);
    return r;
}

/* The primary of slot in the current map, as the cluster announces it (the
 * form clusterc__req_pin takes): the cluster-wide SCAN (api/scan.c). */
int clusterc__engine_slot_owner(const clusterc__engine *e, int slot, char *out, size_t cap)
{
    if (!e->map_gen || slot < 0 || slot >= CLUSTERC__NSLOTS)
        return -1;
    int si = e->slot_shard[slot];
    if (si < 0 || (size_t)si >= e->nshards || e->shards[si].n == 0)
        return -1;
    const clusterc__node *n = e->shards[si].nodes[0];
    clusterc__addr_format(out, cap, n->announced.host, n->announced.port);
    return 0;
}
