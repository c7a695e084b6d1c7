/* async.c -- the libevent face: requests on the caller's event_base. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include "clusterc/async.h"
#include "face_int.h"
#include "engine/engine.h"
#include "engine/reply_arena.h"
#include "proto/options.h"

struct clusterc_async {
    clusterc__engine *e;
    clusterc__err err;
    int closing;        /* disconnect or free asked: refuse new commands */
};

static void destroy(void *arg) { free(arg); }
static clusterc__done_fn async_done;

CLUSTERC_API clusterc_async *clusterc_async_connect(struct event_base *base,
                                                    const clusterc_options *o)
{
    clusterc_async *a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    if (!base) {
        clusterc__err_set(&a->err, CLUSTERC_EINVAL, "clusterc_async_connect: base is NULL");
        return a;
    }
    if (clusterc__options_check(o, &a->err) < 0) {
        if (a->err.code != CLUSTERC_ENOMEM)
            return a;
        free(a);   /* "NULL only when out of memory" */
        return NULL;
    }
    a->e = clusterc__engine_new(base, o, &a->err);
    if (!a->e) {
        if (a->err.code)   /* a TLS file that cannot be used */
            return a;
        free(a);
        return NULL;
    }
    /* The handle lives until the engine is gone, so callbacks that run
     * during a deferred free still see a valid client. */
    clusterc__engine_on_destroy(a->e, destroy, a);
    clusterc__engine_face_done(a->e, async_done);
    clusterc__engine_refresh(a->e, 1);
    return a;
}

static void async_done(clusterc__engine *e, clusterc__req *r, redisReply *reply,
                       int code, const char *msg)
{
    clusterc_async *a = clusterc__engine_owner(e);   /* r->u1 holds fn */
    clusterc_async_fn *fn = (clusterc_async_fn *)r->fn;
    if (!reply)
        clusterc__err_set(&a->err, code, "%s", msg ? msg : "failed");
    if (fn)
        fn(a, reply, r->u2);
    /* The reply lives for the callback only, which is why it may come from
     * the engine's reply pool (r->reply_pool): it goes back there now. */
    clusterc__reply_free(reply);
}

static int submit_node(clusterc_async *a, int route, const char *node, clusterc_async_fn *fn,
                       void *pd, clusterc__cmdtext *f);

static int submit(clusterc_async *a, int route, clusterc_async_fn *fn, void *pd,
                  clusterc__cmdtext *f)
{
    return submit_node(a, route, NULL, fn, pd, f);
}

static int submit_node(clusterc_async *a, int route, const char *node, clusterc_async_fn *fn,
                       void *pd, clusterc__cmdtext *f)
{
    int len = f->len;
    if (!a->e || a->closing) {
        clusterc__cmdtext_release(a->e, f);
        if (a->e)
            clusterc__err_set(&a->err, CLUSTERC_ECLOSED, "client is disconnecting");
        return -1;
    }
    if (route < CLUSTERC_ROUTE_DEFAULT || route > CLUSTERC_ROUTE_EACH_NODE) {
        clusterc__cmdtext_release(a->e, f);
        clusterc__err_set(&a->err, CLUSTERC_EINVAL, "route %d is not a CLUSTERC_ROUTE_* value", route);
        return -1;
    }
    if (len < 0) {
        clusterc__err_set(&a->err, len == -2 ? CLUSTERC_EINVAL : CLUSTERC_ENOMEM,
                          "cannot format the command: %s",
                          len == -2 ? "invalid format string" : "out of memory");
        return -1;
    }
    clusterc__req *r = clusterc__req_new_user(a->e, f, async_done, &a->err);
    if (!r)
        return -1;
    r->u2 = pd;
    r->route_mode = (unsigned)route & 7u;   /* checked above */
    r->reply_pool = 1;   /* async_done frees the reply when the callback returns */
    if (node && clusterc__req_pin(a->e, r, node, &a->err) < 0) {
        clusterc__req_free(r);
        return -1;
    }
    r->fn = (void (*)(void))fn;
    clusterc__engine_submit(a->e, r);
    return 0;
}

CLUSTERC_API int clusterc_async_vcommand(clusterc_async *a, clusterc_async_fn *fn,
                                         void *privdata, const char *fmt, va_list ap)
{
    clusterc__cmdtext f;
    clusterc__cmdtext_format(a->e, &f, fmt, ap);
    return submit(a, CLUSTERC_ROUTE_DEFAULT, fn, privdata, &f);
}

CLUSTERC_API int clusterc_async_command(clusterc_async *a, clusterc_async_fn *fn,
                                        void *privdata, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = clusterc_async_vcommand(a, fn, privdata, fmt, ap);
    va_end(ap);
    return rc;
}

CLUSTERC_API int clusterc_async_command_argv(clusterc_async *a, clusterc_async_fn *fn,
                                             void *privdata, int argc, const char **argv,
                                             const size_t *argvlen)
{
    clusterc__cmdtext f;
    clusterc__cmdtext_argv(a->e, &f, argc, argv, argvlen);
    return submit(a, CLUSTERC_ROUTE_DEFAULT, fn, privdata, &f);
}

CLUSTERC_API int clusterc_async_command_route(clusterc_async *a, int route, clusterc_async_fn *fn,
                                              void *privdata, const char *fmt, ...)
{
    clusterc__cmdtext f;
    va_list ap;
    va_start(ap, fmt);
    clusterc__cmdtext_format(a->e, &f, fmt, ap);
    va_end(ap);
    return submit(a, route, fn, privdata, &f);
}

CLUSTERC_API int clusterc_async_command_route_argv(clusterc_async *a, int route,
                                                   clusterc_async_fn *fn, void *privdata,
                                                   int argc, const char **argv,
                                                   const size_t *argvlen)
{
    clusterc__cmdtext f;
    clusterc__cmdtext_argv(a->e, &f, argc, argv, argvlen);
    return submit(a, route, fn, privdata, &f);
}

CLUSTERC_API int clusterc_async_command_to_node(clusterc_async *a, const char *node,
                                                clusterc_async_fn *fn, void *privdata,
                                                const char *fmt, ...)
{
    clusterc__cmdtext f;
    va_list ap;
    va_start(ap, fmt);
    clusterc__cmdtext_format(a->e, &f, fmt, ap);
    va_end(ap);
    return submit_node(a, CLUSTERC_ROUTE_DEFAULT, node ? node : "", fn, privdata, &f);
}

CLUSTERC_API int clusterc_async_node_stats(const clusterc_async *a, clusterc_node_info *out,
                                           int max)
{
    return a->e ? clusterc__engine_node_stats(a->e, out, max) : -1;
}

CLUSTERC_API void clusterc_async_disconnect(clusterc_async *a)
{
    if (!a || !a->e || a->closing)
        return;
    a->closing = 1;
    clusterc__engine_drain(a->e);
}

CLUSTERC_API void clusterc_async_free(clusterc_async *a)
{
    if (!a)
        return;
    if (!a->e) {
        free(a);
        return;
    }
    if (a->closing == 2)
        return;   /* already being freed (from inside a callback) */
    a->closing = 2;
    /* Frees a too, through the destroy hook, now or when the callback that
     * called us returns. */
    clusterc__engine_free(a->e, CLUSTERC_ECLOSED, "client freed");
}

CLUSTERC_API int clusterc_async_error(const clusterc_async *a) { return a->err.code; }
CLUSTERC_API const char *clusterc_async_errstr(const clusterc_async *a) { return a->err.str; }

CLUSTERC_API void clusterc_async_get_stats(const clusterc_async *a, clusterc_stats *out)
{
    if (a->e)
        *out = *clusterc__engine_stats(a->e);
    else
        memset(out, 0, sizeof(*out));
}

/* For async_pubsub.c: the doors of face_int.h. */
clusterc__engine *clusterc__async_engine(const clusterc_async *a) { return a->e; }
clusterc__err *clusterc__async_err(clusterc_async *a) { return &a->err; }
