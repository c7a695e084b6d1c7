/* threaded.c -- the thread-safe face (threaded.h): the handle, submissions
 * from any thread, close and free. The loop thread's side is in
 * threaded_loop.c, the completion queue in threaded_cq.c. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "threaded_int.h"
#include "face_int.h"
#include "proto/encode.h"

/* --------------------------------------------------------------- setup */

static clusterc_threaded *handle_new(void)
{
    clusterc_threaded *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    atomic_init(&t->sub_top, NULL);
    atomic_init(&t->close_asked, 0);
    pthread_mutex_init(&t->close_mu, NULL);
    clusterc__tcq_init(t);
    t->sub_wake.rfd = t->sub_wake.wfd = -1;
    t->cq_wake.rfd = t->cq_wake.wfd = -1;
    atomic_init(&t->fd_used, 0);
    atomic_init(&t->pending, 0);
    return t;
}

/* The loop thread takes no signals: they belong to the application's
 * threads (a SIGINT handler must not run on ours). */
static int start_thread(clusterc_threaded *t)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&t->thr, NULL, clusterc__tloop_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    t->thr_started = rc == 0;
    return rc == 0 ? 0 : -1;
}

/* Everything but the thread; -1 only when out of resources (t->err set). */
static int setup(clusterc_threaded *t, const clusterc_options *o)
{
    if (clusterc__twake_open(&t->sub_wake) < 0 || clusterc__twake_open(&t->cq_wake) < 0) {
        clusterc__err_set(&t->err, CLUSTERC_ENOMEM, "threaded: cannot open a wakeup descriptor");
        return -1;
    }
    t->base = event_base_new();
    if (!t->base) {
        clusterc__err_set(&t->err, CLUSTERC_ENOMEM, "threaded: cannot create an event_base");
        return -1;
    }
    t->sub_ev = event_new(t->base, t->sub_wake.rfd, EV_READ | EV_PERSIST,
                          clusterc__tloop_on_sub, t);
    t->pub_ev = event_new(t->base, -1, 0, clusterc__tloop_publish, t);
    if (!t->sub_ev || !t->pub_ev || event_add(t->sub_ev, NULL) < 0) {
        clusterc__err_set(&t->err, CLUSTERC_ENOMEM, "threaded: cannot add the wakeup event");
        return -1;
    }
    t->a = clusterc_async_connect(t->base, o);
    if (!t->a) {
        clusterc__err_set(&t->err, CLUSTERC_ENOMEM, "threaded: out of memory");
        return -1;
    }
    if (clusterc__async_engine(t->a))
        clusterc__tloop_faces(clusterc__async_engine(t->a));
    if (clusterc_async_error(t->a)) {
        /* Rejected options: the handle carries why and refuses commands. */
        clusterc__err_set(&t->err, clusterc_async_error(t->a), "%s", clusterc_async_errstr(t->a));
        return 0;
    }
    if (start_thread(t) < 0) {
        clusterc__err_set(&t->err, CLUSTERC_ENOMEM, "threaded: cannot start the loop thread");
        return -1;
    }
    return 0;
}

CLUSTERC_API clusterc_threaded *clusterc_threaded_connect(const clusterc_options *o)
{
    clusterc_threaded *t = handle_new();
    if (!t)
        return NULL;
    if (setup(t, o) < 0) {
        clusterc_threaded_free(t);
        return NULL;
    }
    return t;
}

CLUSTERC_API clusterc_threaded *clusterc_threaded_connect_url(const char *url)
{
    clusterc_options o;
    clusterc_options_init(&o);
    if (clusterc_options_parse_url(&o, url) < 0) {
        clusterc_threaded *t = handle_new();
        if (t)
            clusterc__err_set(&t->err, CLUSTERC_EINVAL, "%s", clusterc_options_url_error(&o));
        clusterc_options_release(&o);
        return t;
    }
    clusterc_threaded *t = clusterc_threaded_connect(&o);   /* copies every string */
    clusterc_options_release(&o);
    return t;
}

CLUSTERC_API int clusterc_threaded_error(const clusterc_threaded *t) { return t->err.code; }
CLUSTERC_API const char *clusterc_threaded_errstr(const clusterc_threaded *t)
{
    return t->err.str;
}

/* --------------------------------------------------------- submissions */

tjob clusterc__tstack_closed;

static int free_chain(tjob *j, int code)
{
    while (j) {
        tjob *next = j->next;
        clusterc__tjob_free(j);
        j = next;
    }
    return code;
}

int clusterc__threaded_enqueue(clusterc_threaded *t, tjob *first, tjob *last, long n)
{
    int cmd = first->type == TJ_CMD;
    if (!t->thr_started || (cmd && atomic_load_explicit(&t->close_asked, memory_order_relaxed))) {
        last->next = NULL;
        return free_chain(first, t->err.code ? t->err.code : CLUSTERC_ECLOSED);
    }
    if (cmd)
        atomic_fetch_add_explicit(&t->pending, n, memory_order_relaxed);
    tjob *old = atomic_load_explicit(&t->sub_top, memory_order_relaxed);
    do {
        if (old == TSTACK_CLOSED) {   /* the loop stopped taking: refused after all */
            if (cmd)
                atomic_fetch_sub(&t->pending, n);
            last->next = NULL;
            return free_chain(first, CLUSTERC_ECLOSED);
        }
        last->next = old;
    } while (!atomic_compare_exchange_weak_explicit(&t->sub_top, &old, first,
                                                    memory_order_release, memory_order_relaxed));
    if (!old)   /* the stack was empty: the loop may be asleep */
        clusterc__twake_signal(&t->sub_wake);
    return 0;
}

/* A command job from a formatted command (cmd owned; freed on failure). */
static tjob *cmd_job(int route, char *cmd, int len, int *code)
{
    if (len < 0 || !cmd) {
        *code = len == -2 ? CLUSTERC_EINVAL : CLUSTERC_ENOMEM;
        return NULL;
    }
    if (route < CLUSTERC_ROUTE_DEFAULT || route > CLUSTERC_ROUTE_EACH_NODE) {
        free(cmd);
        *code = CLUSTERC_EINVAL;
        return NULL;
    }
    tjob *j = calloc(1, sizeof(*j));
    if (!j) {
        free(cmd);
        *code = CLUSTERC_ENOMEM;
        return NULL;
    }
    j->type = TJ_CMD;
    j->route = route;
    j->cmd = cmd;
    j->len = len;
    return j;
}

static int submit_one(clusterc_threaded *t, tjob *j, int code)
{
    if (!j)
        return code;
    j->next = NULL;
    return clusterc__threaded_enqueue(t, j, j, 1);
}

static int refused(clusterc_threaded *t)
{
    if (!t)
        return CLUSTERC_EINVAL;
    return t->err.code ? t->err.code : 0;
}

/* The job of a command given by a format or by argv; NULL with *code set. */
static tjob *fmt_job(int route, int *code, const char *fmt, va_list ap)
{
    char *cmd = NULL;
    int len = clusterc__format_command(&cmd, fmt, ap);
    return cmd_job(route, cmd, len, code);
}

static tjob *argv_job(int route, int *code, int argc, const char **argv, const size_t *argvlen)
{
    if (argc < 1 || !argv) {
        *code = CLUSTERC_EINVAL;
        return NULL;
    }
    char *cmd = NULL;
    int len = clusterc__format_argv(&cmd, argc, argv, argvlen);
    return cmd_job(route, cmd, len, code);
}

/* Where the completion goes: fn on the loop thread, or the queue. */
static tjob *by_callback(tjob *j, clusterc_threaded_fn *fn, void *privdata)
{
    if (j) {
        j->fn = fn;
        j->pd = privdata;
    }
    return j;
}

static tjob *queued(tjob *j, uint64_t token)
{
    if (j) {
        j->to_queue = 1;
        j->c.token = token;
    }
    return j;
}

CLUSTERC_API int clusterc_threaded_command(clusterc_threaded *t, int route,
                                           clusterc_threaded_fn *fn, void *privdata,
                                           const char *fmt, ...)
{
    int code = refused(t);
    if (code)
        return code;
    va_list ap;
    va_start(ap, fmt);
    tjob *j = by_callback(fmt_job(route, &code, fmt, ap), fn, privdata);
    va_end(ap);
    return submit_one(t, j, code);
}

CLUSTERC_API int clusterc_threaded_command_argv(clusterc_threaded *t, int route,
                                                clusterc_threaded_fn *fn, void *privdata,
                                                int argc, const char **argv,
                                                const size_t *argvlen)
{
    int code = refused(t);
    if (code)
        return code;
    tjob *j = by_callback(argv_job(route, &code, argc, argv, argvlen), fn, privdata);
    return submit_one(t, j, code);
}

CLUSTERC_API int clusterc_threaded_submit(clusterc_threaded *t, uint64_t token, int route,
                                          const char *fmt, ...)
{
    int code = refused(t);
    if (code)
        return code;
    va_list ap;
    va_start(ap, fmt);
    tjob *j = queued(fmt_job(route, &code, fmt, ap), token);
    va_end(ap);
    return submit_one(t, j, code);
}

CLUSTERC_API int clusterc_threaded_submit_argv(clusterc_threaded *t, uint64_t token, int route,
                                               int argc, const char **argv,
                                               const size_t *argvlen)
{
    int code = refused(t);
    if (code)
        return code;
    tjob *j = queued(argv_job(route, &code, argc, argv, argvlen), token);
    return submit_one(t, j, code);
}

CLUSTERC_API int clusterc_threaded_submit_to_node(clusterc_threaded *t, uint64_t token,
                                                  const char *node, int argc,
                                                  const char **argv, const size_t *argvlen)
{
    int code = refused(t);
    if (code)
        return code;
    if (!node)
        return CLUSTERC_EINVAL;
    tjob *j = queued(argv_job(CLUSTERC_ROUTE_DEFAULT, &code, argc, argv, argvlen), token);
    if (j && !(j->node = strdup(node))) {
        clusterc__tjob_free(j);
        return CLUSTERC_ENOMEM;
    }
    return submit_one(t, j, code);
}
