/* threaded_ctl.c -- the thread-safe face's batch submission, Pub/Sub,
 * close/free and the calls that ask the loop thread for its state. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include "threaded_int.h"
#include "face_int.h"
#include "proto/encode.h"

/* ------------------------------------------------------------ packed */

/* Command i of a packed batch as a job; lens and buf advance past it. */
static tjob *packed_job(int argc, const size_t **lens, const char **buf, int route, int *code)
{
    const char *small[16];
    const char **argv = argc <= 16 ? small : malloc(sizeof(*argv) * (size_t)argc);
    if (!argv) {
        *code = CLUSTERC_ENOMEM;
        return NULL;
    }
    const char *p = *buf;
    for (int a = 0; a < argc; a++) {
        argv[a] = p;
        p += (*lens)[a];
    }
    char *cmd = NULL;
    int len = clusterc__format_argv(&cmd, argc, argv, *lens);
    if (argv != small)
        free(argv);
    *lens += argc;
    *buf = p;
    tjob *j = NULL;
    if (len < 0 || !cmd)
        *code = CLUSTERC_ENOMEM;
    else if (route < CLUSTERC_ROUTE_DEFAULT || route > CLUSTERC_ROUTE_EACH_NODE)
        *code = CLUSTERC_EINVAL;
    else if (!(j = calloc(1, sizeof(*j))))
        *code = CLUSTERC_ENOMEM;
    if (!j) {
        free(cmd);
        return NULL;
    }
    j->type = TJ_CMD;
    j->route = route;
    j->cmd = cmd;
    j->len = len;
    j->to_queue = 1;
    return j;
}

CLUSTERC_API int clusterc_threaded_submit_packed(clusterc_threaded *t, int n,
                                                 const uint64_t *tokens, const int *routes,
                                                 const int *argc, const size_t *lens,
                                                 const char *buf, int *err)
{
    int code = t ? t->err.code : CLUSTERC_EINVAL;
    if (!code && (n < 0 || (n > 0 && (!tokens || !argc || !lens || !buf))))
        code = CLUSTERC_EINVAL;
    tjob *first = NULL, *last = NULL;
    int k = 0;
    for (; !code && k < n; k++) {
        tjob *j = argc[k] < 1 ? (code = CLUSTERC_EINVAL, NULL)
                              : packed_job(argc[k], &lens, &buf,
                                           routes ? routes[k] : CLUSTERC_ROUTE_DEFAULT, &code);
        if (!j)
            break;
        j->c.token = tokens[k];
        j->next = first;   /* newest first, as the submission stack wants */
        first = j;
        if (!last)
            last = j;
    }
    if (first) {
        int rc = clusterc__threaded_enqueue(t, first, last, k);
        if (rc) {
            code = rc;
            k = 0;
        }
    }
    if (err)
        *err = code;
    return k;
}

/* ------------------------------------------------------------- pubsub */

static int sub_job(clusterc_threaded *t, int type, uint64_t token, int kind, const char *name)
{
    if (!t)
        return CLUSTERC_EINVAL;
    if (t->err.code)
        return t->err.code;
    if (!name || !*name || kind < CLUSTERC_PUBSUB_CHANNEL || kind > CLUSTERC_PUBSUB_SHARD)
        return CLUSTERC_EINVAL;
    tjob *j = calloc(1, sizeof(*j));
    if (!j || !(j->node = strdup(name))) {
        free(j);
        return CLUSTERC_ENOMEM;
    }
    j->type = type;
    j->kind = kind;
    j->c.token = token;
    return clusterc__threaded_enqueue(t, j, j, 1);
}

CLUSTERC_API int clusterc_threaded_subscribe(clusterc_threaded *t, uint64_t token, int kind,
                                             const char *name)
{
    return sub_job(t, TJ_SUB, token, kind, name);
}

CLUSTERC_API int clusterc_threaded_unsubscribe(clusterc_threaded *t, int kind, const char *name)
{
    return sub_job(t, TJ_UNSUB, 0, kind, name);
}

/* ---------------------------------------------------- asking the loop */

typedef struct tcall {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int done;
    void (*fn)(clusterc_threaded *t, struct tcall *c);
    clusterc_stats stats;
    char *json;
} tcall;

static void call_run(clusterc_threaded *t, void *arg)
{
    tcall *c = arg;
    c->fn(t, c);
    pthread_mutex_lock(&c->mu);
    c->done = 1;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

/* Run c->fn on the loop thread and wait for it. 0, or a refusal. */
static int on_loop(clusterc_threaded *t, tcall *c)
{
    if (clusterc__tloop_is_self(t))
        return CLUSTERC_EUSAGE;
    tjob *j = calloc(1, sizeof(*j));
    if (!j)
        return CLUSTERC_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    j->type = TJ_CALL;
    j->call = call_run;
    j->arg = c;
    int rc = clusterc__threaded_enqueue(t, j, j, 1);
    if (rc == 0) {
        pthread_mutex_lock(&c->mu);
        while (!c->done)
            pthread_cond_wait(&c->cond, &c->mu);
        pthread_mutex_unlock(&c->mu);
    }
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    return rc;
}

static void stats_fn(clusterc_threaded *t, tcall *c) { clusterc_async_get_stats(t->a, &c->stats); }

CLUSTERC_API int clusterc_threaded_get_stats(clusterc_threaded *t, clusterc_stats *out)
{
    tcall c = {.fn = stats_fn};
    int rc = t ? on_loop(t, &c) : CLUSTERC_EINVAL;
    if (rc == CLUSTERC_ECLOSED && t->joined) {
        *out = t->final_stats;   /* written before the join */
        return 0;
    }
    if (rc)
        memset(out, 0, sizeof(*out));
    else
        *out = c.stats;
    return rc;
}

static void json_fn(clusterc_threaded *t, tcall *c)
{
    int n = clusterc_async_node_stats(t->a, NULL, 0);
    clusterc_node_info *v = n >= 0 ? calloc((size_t)n + 1, sizeof(*v)) : NULL;
    if (!v)
        return;
    int got = clusterc_async_node_stats(t->a, v, n);
    c->json = clusterc__nodes_json(v, got < n ? got : n);
    free(v);
}

CLUSTERC_API char *clusterc_threaded_node_stats_json(clusterc_threaded *t)
{
    tcall c = {.fn = json_fn};
    if (!t || on_loop(t, &c))
        return NULL;
    return c.json;
}

CLUSTERC_API long clusterc_threaded_pending(const clusterc_threaded *t)
{
    return t ? atomic_load(&((clusterc_threaded *)t)->pending) : 0;
}

/* ----------------------------------------------------------- lifecycle */

CLUSTERC_API int clusterc_threaded_close(clusterc_threaded *t)
{
    if (!t)
        return 0;
    if (clusterc__tloop_is_self(t))
        return CLUSTERC_EUSAGE;
    pthread_mutex_lock(&t->close_mu);
    if (!t->joined && t->thr_started) {
        if (!atomic_exchange(&t->close_asked, 1)) {
            /* The handle's own job: closing never needs memory. */
            t->close_job.type = TJ_CLOSE;
            clusterc__threaded_enqueue(t, &t->close_job, &t->close_job, 1);
        }
        pthread_join(t->thr, NULL);
        t->joined = 1;
    }
    pthread_mutex_unlock(&t->close_mu);
    return 0;
}

CLUSTERC_API void clusterc_threaded_free(clusterc_threaded *t)
{
    if (!t)
        return;
    clusterc_threaded_close(t);
    if (!t->thr_started && t->a)
        clusterc_async_free(t->a);   /* options rejected: no loop ran */
    clusterc__tcq_release_all(t);
    if (t->sub_ev)
        event_free(t->sub_ev);
    if (t->pub_ev)
        event_free(t->pub_ev);
    if (t->base) {
        event_base_loop(t->base, EVLOOP_NONBLOCK);
        event_base_free(t->base);
    }
    clusterc__twake_close(&t->sub_wake);
    clusterc__twake_close(&t->cq_wake);
    pthread_mutex_destroy(&t->close_mu);
    pthread_mutex_destroy(&t->cq_mu);
    pthread_cond_destroy(&t->cq_cond);
    free(t);
}
