/* client.c -- the blocking face: the engine on a private event_base.
 *
 * A blocking call submits a request, writes it at once (no extra loop turn)
 * and runs the loop until that request completes. Every request has a
 * deadline, so the wait always ends.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "client_int.h"
#include "face_int.h"
#include "engine/engine.h"
#include "proto/options.h"

/* A finished (or pending) pipelined command, kept until clusterc_get_reply. */
typedef struct result {
    redisReply *reply;
    char *msg;          /* failure message (malloc'ed), NULL on success */
    int code;
    int done;
    clusterc__req *req;  /* while not done: the request, for wait_fast */
} result;

struct clusterc_client {
    struct event_base *base;
    clusterc__engine *e;
    clusterc__err err;
    result *ring;       /* appended commands, oldest at head */
    size_t head, count, cap;   /* cap a power of two (masks, not divisions) */
    uint64_t seq;       /* sequence number of ring[head] */
};

/* One command waited for by clusterc_command. */
typedef struct single {
    redisReply *reply;
    int code;
    int done;
    char msg[CLUSTERC__ERRSTR_MAX];
} single;

static void run_until(clusterc_client *c, const int *done)
{
    while (!*done) {
        event_base_loop(c->base, EVLOOP_ONCE);
        clusterc__engine_loop_ran(c->e);
    }
}

static clusterc__done_fn single_done, pipe_done;   /* the face's completions */

CLUSTERC_API clusterc_client *clusterc_connect(const clusterc_options *o)
{
    clusterc_client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (clusterc__options_check(o, &c->err) < 0) {
        if (c->err.code != CLUSTERC_ENOMEM)
            return c;
        free(c);   /* "NULL only when out of memory" */
        return NULL;
    }
    c->base = event_base_new();
    c->e = c->base ? clusterc__engine_new(c->base, o, &c->err) : NULL;
    if (!c->e) {
        if (c->base)
            event_base_free(c->base);
        c->base = NULL;
        if (c->err.code)   /* a TLS file that cannot be used */
            return c;
        free(c);
        return NULL;
    }
    clusterc__engine_set_blocking(c->e);
    clusterc__engine_face_done(c->e, single_done);
    clusterc__engine_face_done(c->e, pipe_done);
    clusterc_refresh(c);   /* a failure stays in c's error */
    return c;
}

CLUSTERC_API int clusterc_refresh(clusterc_client *c)
{
    if (!c->e)
        return -1;   /* options were rejected: err says why */
    uint64_t done_at = clusterc__engine_refresh(c->e, 1);
    while (clusterc__engine_refresh_runs(c->e) < done_at)
        event_base_loop(c->base, EVLOOP_ONCE);
    const clusterc__err *le = clusterc__engine_last_error(c->e);
    if (le->code) {
        c->err = *le;
        return -1;
    }
    clusterc__err_clear(&c->err);
    return 0;
}

static void poll_over(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

CLUSTERC_API int clusterc_poll(clusterc_client *c, int timeout_ms)
{
    if (!c->e)
        return -1;   /* options were rejected: err says why */
    if (timeout_ms < 0) {
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "clusterc_poll: timeout_ms %d is negative", timeout_ms);
        return -1;
    }
    if (timeout_ms == 0) {
        event_base_loop(c->base, EVLOOP_NONBLOCK);
        clusterc__engine_loop_ran(c->e);
        return 0;
    }
    int over = 0;
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    if (event_base_once(c->base, -1, EV_TIMEOUT, poll_over, &over, &tv) < 0) {
        clusterc__client_set_error(c, CLUSTERC_ENOMEM, "clusterc_poll: cannot add a timer");
        return -1;
    }
    run_until(c, &over);
    return 0;
}

static void free_ring(clusterc_client *c)
{
    for (size_t i = 0; i < c->count; i++) {
        result *r = &c->ring[(c->head + i) & (c->cap - 1)];
        freeReplyObject(r->reply);
        free(r->msg);
    }
    free(c->ring);
}

CLUSTERC_API void clusterc_free(clusterc_client *c)
{
    if (!c)
        return;
    if (c->e) {
        /* Appended commands finish (or fail) by their own deadlines before
         * the connections close: a write is never cut off mid-flight. */
        clusterc__engine_drain(c->e);
        while (!clusterc__engine_drained(c->e))
            event_base_loop(c->base, EVLOOP_ONCE);
        clusterc__engine_free(c->e, CLUSTERC_ECLOSED, "client freed");
        /* A cancelled DNS lookup lands from the loop, and only then can
         * the resolver go (lib/engine/dns.h): a few turns deliver both. */
        for (int i = 0; i < 4; i++)
            event_base_loop(c->base, EVLOOP_NONBLOCK);
    }
    free_ring(c);
    if (c->base)
        event_base_free(c->base);
    free(c);
}

void clusterc__client_set_error(clusterc_client *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    clusterc__err_vset(&c->err, code, fmt, ap);
    va_end(ap);
}

void clusterc__client_auth(const clusterc_client *c, const char **user, const char **password)
{
    const clusterc_options *o = c && c->e ? clusterc__engine_options(c->e) : NULL;
    *user = o ? o->username : NULL;
    *password = o ? o->password : NULL;
}

CLUSTERC_API int clusterc_error(const clusterc_client *c) { return c->err.code; }
CLUSTERC_API const char *clusterc_errstr(const clusterc_client *c) { return c->err.str; }

CLUSTERC_API void clusterc_get_stats(const clusterc_client *c, clusterc_stats *out)
{
    if (c->e)
        *out = *clusterc__engine_stats(c->e);
    else
        memset(out, 0, sizeof(*out));
}

CLUSTERC_API int clusterc_node_stats(const clusterc_client *c, clusterc_node_info *out, int max)
{
    return c->e ? clusterc__engine_node_stats(c->e, out, max) : -1;
}

/* ------------------------------------------------------------ one command */

static void single_done(clusterc__engine *e, clusterc__req *r, redisReply *reply,
                        int code, const char *msg)
{
    single *s = r->u1;
    (void)e;
    s->done = 1;
    s->reply = reply;
    s->code = code;
    if (msg)
        snprintf(s->msg, sizeof(s->msg), "%s", msg);
}

/* Common front of every call: a usable engine and a formatted command. */
static clusterc__req *make_req(clusterc_client *c, clusterc__cmdtext *f, clusterc__done_fn *fn)
{
    int len = f->len;
    if (!c->e) {
        clusterc__cmdtext_release(NULL, f);   /* malloc'ed without an engine */
        return NULL;   /* err already says why the options were rejected */
    }
    if (len < 0) {
        clusterc__err_set(&c->err, len == -2 ? CLUSTERC_EINVAL : CLUSTERC_ENOMEM,
                          "cannot format the command: %s",
                          len == -2 ? "invalid format string" : "out of memory");
        return NULL;
    }
    return clusterc__req_new_user(c->e, f, fn, &c->err);
}

static redisReply *run_single(clusterc_client *c, clusterc__cmdtext *f, int route, const char *node)
{
    single s;
    if (route < CLUSTERC_ROUTE_DEFAULT || route > CLUSTERC_ROUTE_EACH_NODE) {
        clusterc__cmdtext_release(c->e, f);
        clusterc__err_set(&c->err, CLUSTERC_EINVAL, "route %d is not a CLUSTERC_ROUTE_* value", route);
        return NULL;
    }
    clusterc__req *r = make_req(c, f, single_done);
    if (!r)
        return NULL;
    r->route_mode = (uint8_t)route;
    if (node && clusterc__req_pin(c->e, r, node, &c->err) < 0) {
        clusterc__req_free(r);
        return NULL;
    }
    s.done = 0;
    s.msg[0] = '\0';
    r->u1 = &s;
    clusterc__engine_submit(c->e, r);
    clusterc__engine_flush_now(c->e);
    /* r stays valid until s.done: the engine frees it after single_done. */
    while (!s.done && clusterc__engine_wait_fast(c->e, r))
        ;
    run_until(c, &s.done);
    if (!s.reply) {
        clusterc__err_set(&c->err, s.code, "%s", s.msg);
        return NULL;
    }
    clusterc__err_clear(&c->err);
    return s.reply;
}

CLUSTERC_API redisReply *clusterc_vcommand_route(clusterc_client *c, int route,
                                                 const char *fmt, va_list ap)
{
    clusterc__cmdtext f;
    clusterc__cmdtext_format(c->e, &f, fmt, ap);
    return run_single(c, &f, route, NULL);
}

CLUSTERC_API redisReply *clusterc_command_route(clusterc_client *c, int route,
                                                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = clusterc_vcommand_route(c, route, fmt, ap);
    va_end(ap);
    return r;
}

CLUSTERC_API redisReply *clusterc_command_route_argv(clusterc_client *c, int route, int argc,
                                                     const char **argv, const size_t *argvlen)
{
    clusterc__cmdtext f;
    clusterc__cmdtext_argv(c->e, &f, argc, argv, argvlen);
    return run_single(c, &f, route, NULL);
}

CLUSTERC_API redisReply *clusterc_vcommand_to_node(clusterc_client *c, const char *node,
                                                   const char *fmt, va_list ap)
{
    clusterc__cmdtext f;
    clusterc__cmdtext_format(c->e, &f, fmt, ap);
    return run_single(c, &f, CLUSTERC_ROUTE_DEFAULT, node ? node : "");
}

CLUSTERC_API redisReply *clusterc_command_to_node(clusterc_client *c, const char *node,
                                                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = clusterc_vcommand_to_node(c, node, fmt, ap);
    va_end(ap);
    return r;
}

CLUSTERC_API redisReply *clusterc_command_to_node_argv(clusterc_client *c, const char *node,
                                                       int argc, const char **argv,
                                                       const size_t *argvlen)
{
    clusterc__cmdtext f;
    clusterc__cmdtext_argv(c->e, &f, argc, argv, argvlen);
    return run_single(c, &f, CLUSTERC_ROUTE_DEFAULT, node ? node : "");
}

CLUSTERC_API redisReply *clusterc_vcommand(clusterc_client *c, const char *fmt, va_list ap)
{
    return clusterc_vcommand_route(c, CLUSTERC_ROUTE_DEFAULT, fmt, ap);
}

CLUSTERC_API redisReply *clusterc_command(clusterc_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = clusterc_vcommand(c, fmt, ap);
    va_end(ap);
    return r;
}

CLUSTERC_API redisReply *clusterc_command_argv(clusterc_client *c, int argc,
                                               const char **argv, const size_t *argvlen)
{
    return clusterc_command_route_argv(c, CLUSTERC_ROUTE_DEFAULT, argc, argv, argvlen);
}

/* -------------------------------------------------------------- pipeline */

static result *ring_at(clusterc_client *c, uint64_t seq)
{
    return &c->ring[(c->head + (size_t)(seq - c->seq)) & (c->cap - 1)];
}

static void pipe_done(clusterc__engine *e, clusterc__req *r, redisReply *reply,
                      int code, const char *msg)
{
    clusterc_client *c = r->u1;
    result *res = ring_at(c, (uint64_t)(uintptr_t)r->u2);
    (void)e;
    res->done = 1;
    res->req = NULL;   /* freed when this returns */
    res->reply = reply;
    res->code = code;
    res->msg = msg ? strdup(msg) : NULL;
}

static int ring_push(clusterc_client *c)
{
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        result *v = malloc(cap * sizeof(*v));
        if (!v)
            return -1;
        for (size_t i = 0; i < c->count; i++)
            v[i] = c->ring[(c->head + i) & (c->cap - 1)];
        free(c->ring);
        c->ring = v;
        c->cap = cap;
        c->head = 0;
    }
    memset(&c->ring[(c->head + c->count) & (c->cap - 1)], 0, sizeof(result));
    c->count++;
    return 0;
}

static int append(clusterc_client *c, clusterc__cmdtext *f)
{
    clusterc__req *r = make_req(c, f, pipe_done);
    if (!r)
        return -1;
    if (ring_push(c) < 0) {
        clusterc__err_set(&c->err, CLUSTERC_ENOMEM, "out of memory appending a command");
        clusterc__req_free(r);
        return -1;
    }
    r->u1 = c;
    r->u2 = (void *)(uintptr_t)(c->seq + c->count - 1);
    ring_at(c, c->seq + c->count - 1)->req = r;
    clusterc__engine_submit(c->e, r);
    clusterc__err_clear(&c->err);
    return 0;
}

CLUSTERC_API int clusterc_vappend_command(clusterc_client *c, const char *fmt, va_list ap)
{
    clusterc__cmdtext f;
    clusterc__cmdtext_format(c->e, &f, fmt, ap);
    return append(c, &f);
}

CLUSTERC_API int clusterc_append_command(clusterc_client *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = clusterc_vappend_command(c, fmt, ap);
    va_end(ap);
    return rc;
}

CLUSTERC_API int clusterc_append_command_argv(clusterc_client *c, int argc,
                                              const char **argv, const size_t *argvlen)
{
    clusterc__cmdtext f;
    clusterc__cmdtext_argv(c->e, &f, argc, argv, argvlen);
    return append(c, &f);
}

CLUSTERC_API int clusterc_get_reply(clusterc_client *c, void **reply)
{
    *reply = NULL;
    if (c->count == 0) {
        clusterc__err_set(&c->err, CLUSTERC_EUSAGE,
                          "clusterc_get_reply: no appended command is waiting");
        return -1;
    }
    clusterc__engine_flush_now(c->e);
    /* One blocking recv on the head's connection instead of a loop turn
     * (epoll_wait + recv) while only the caller's commands are in flight:
     * a reply is awaited as libvalkey's blocking context does. */
    result *h = &c->ring[c->head];
    while (!h->done && h->req && clusterc__engine_wait_fast(c->e, h->req))
        ;
    run_until(c, &h->done);
    result res = c->ring[c->head];
    c->head = (c->head + 1) & (c->cap - 1);
    c->count--;
    c->seq++;
    if (!res.reply) {
        clusterc__err_set(&c->err, res.code, "%s", res.msg ? res.msg : "failed");
        free(res.msg);
        return -1;
    }
    clusterc__err_clear(&c->err);
    *reply = res.reply;
    return 0;
}

/* For client_pubsub.c: the doors of face_int.h. */
clusterc__engine *clusterc__client_engine(const clusterc_client *c) { return c->e; }
