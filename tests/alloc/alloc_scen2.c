/* alloc_scen2.c -- it_alloc's scenarios on the fake nodes (MOVED, ASK),
 * the libevent face, and the URL parser. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <event2/event.h>
#include <clusterc/async.h>
#include "alloc_int.h"
#include "alloc_wrap.h"

/* GET key on the fake node A, which redirects it to B: B answers want. */
static void redirected_get(const alloc_env *env, long n, alloc_result *res,
                           const char *key, const char *want)
{
    clusterc_options o;
    alloc_options(&o, env->fake_a);
    clusterc_client *c = clusterc_connect(&o);
    if (!c || clusterc_error(c)) {
        alloc_set(res, OUT_SETUP, "setup connect to the fake: %s", c ? clusterc_errstr(c) : "NULL");
        clusterc_free(c);
        return;
    }
    alloc_arm(n);
    redisReply *r = clusterc_command(c, "GET %s", key);
    alloc_stop(res);
    if (!r)
        alloc_set_err(res, clusterc_error(c), clusterc_errstr(c));
    else if (r->type != REDIS_REPLY_STRING || strcmp(r->str, want) != 0)
        alloc_set(res, OUT_BAD, "GET %s: type %d %s", key, r->type, r->str ? r->str : "");
    freeReplyObject(r);
    r = clusterc_command(c, "GET %s", key);   /* the follow-up */
    if (!r || r->type != REDIS_REPLY_STRING || strcmp(r->str, want) != 0)
        alloc_set(res, OUT_UNUSABLE, "follow-up GET %s: %s (after: %s)", key,
                  r ? (r->str ? r->str : "?") : clusterc_errstr(c), res->msg);
    freeReplyObject(r);
    clusterc_free(c);
}

void scen_moved(const alloc_env *env, long n, alloc_result *res)
{
    redirected_get(env, n, res, "foo", "moved-here");
}

void scen_ask(const alloc_env *env, long n, alloc_result *res)
{
    redirected_get(env, n, res, "bar", "asked-here");
}

/* ------------------------------------------------------------- async */

typedef struct cb_state {
    int done;
    int type;      /* reply type, -1 for NULL */
    int code;
    char msg[200];
} cb_state;

static void on_reply(clusterc_async *a, redisReply *r, void *priv)
{
    cb_state *st = priv;
    st->done = 1;
    st->type = r ? r->type : -1;
    st->code = r ? 0 : clusterc_async_error(a);
    snprintf(st->msg, sizeof(st->msg), "%s", r ? "" : clusterc_async_errstr(a));
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
}

/* Run base until st->done or 5 s pass; returns st->done. */
static int loop_until(struct event_base *base, const cb_state *st)
{
    struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = { 0, 10000 };
    event_add(t, &tv);
    for (int i = 0; i < 500 && !st->done; i++)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
    return st->done;
}

/* SET key val through a; 0 when +OK came back. */
static int async_set(struct event_base *base, clusterc_async *a, cb_state *st)
{
    memset(st, 0, sizeof(*st));
    if (clusterc_async_command(a, on_reply, st, "SET alloc:async fine") != 0)
        return -1;
    return loop_until(base, st) && st->type == REDIS_REPLY_STATUS ? 0 : -1;
}

/* The armed part: one command and its callback. */
static void async_armed(struct event_base *base, clusterc_async *a, long n, alloc_result *res)
{
    cb_state st;
    memset(&st, 0, sizeof(st));
    alloc_arm(n);
    int rc = clusterc_async_command(a, on_reply, &st, "SET alloc:async v%ld", n);
    int code = clusterc_async_error(a);
    char msg[200];
    snprintf(msg, sizeof(msg), "%s", clusterc_async_errstr(a));
    int done = rc == 0 ? loop_until(base, &st) : 0;
    alloc_stop(res);
    if (rc != 0)
        alloc_set_err(res, code, msg);
    else if (!done)
        alloc_set(res, OUT_BAD, "the callback never ran (5 s)");
    else if (st.type == -1)
        alloc_set_err(res, st.code, st.msg);
    else if (st.type != REDIS_REPLY_STATUS)
        alloc_set(res, OUT_BAD, "SET reply type %d", st.type);
}

void scen_async(const alloc_env *env, long n, alloc_result *res)
{
    struct event_base *base = event_base_new();
    clusterc_options o;
    alloc_options(&o, env->seed0);
    clusterc_async *a = clusterc_async_connect(base, &o);
    cb_state st;
    if (!a || async_set(base, a, &st) != 0) {
        alloc_set(res, OUT_SETUP, "setup async connect/SET failed");
    } else {
        /* The COMMAND table comes on the seed's connection: wait for it. */
        memset(&st, 0, sizeof(st));
        if (clusterc_async_command_to_node(a, env->seed0, on_reply, &st, "PING") == 0)
            loop_until(base, &st);
        async_armed(base, a, n, res);
        if (async_set(base, a, &st) != 0)
            alloc_set(res, OUT_UNUSABLE, "follow-up async SET failed: %s (after: %s)",
                      st.msg, res->msg);
    }
    clusterc_async_free(a);
    event_base_loop(base, EVLOOP_NONBLOCK);
    event_base_free(base);
}

/* ---------------------------------------------------------------- URL */

/* Every key clusterc_options_parse_url takes, with values. */
static const char long_url[] =
    "rediss://alice:s3cr%2Fet@127.0.0.1:7001/0?addr=127.0.0.1:7002&addr=127.0.0.1:7003"
    "&addr=[::1]:7004&read_only=true&route_by_latency=yes&route_randomly=0"
    "&max_redirects=5&dial_timeout=1s&read_timeout=500ms&write_timeout=2m"
    "&client_name=alloc-test&username=bob&password=pw2&max_retries=7"
    "&min_retry_backoff=8ms&max_retry_backoff=512ms&latency_tolerance=2ms"
    "&latency_replicas_only=1&latency_probe=1s&failing_timeout=15s&max_lag=3s"
    "&max_lag_bytes=100000&lag_probe=1s&read_your_writes=true&refresh_interval=60s"
    "&refresh_min_interval=1s&node_address_map=10.0.0.1:7001%3D127.0.0.1:7001"
    "&blocking_pool_size=4&pubsub_queue_max=100&max_inflight=1000&max_node_queue=100"
    "&tls=1&tls_ca_file=/tmp/ca.pem&tls_ca_dir=/tmp/cas&tls_cert_file=/tmp/c.pem"
    "&tls_key_file=/tmp/k.pem&tls_server_name=redis.example&tls_insecure_skip_verify=no"
    "&tls_min_version=1.2&pool_size=10&min_idle_conns=1&pool_timeout=1s";

void scen_url(const alloc_env *env, long n, alloc_result *res)
{
    (void)env;
    clusterc_options o;
    clusterc_options_init(&o);
    alloc_arm(n);
    int rc = clusterc_options_parse_url(&o, long_url);
    alloc_stop(res);
    if (rc != 0 && strstr(clusterc_options_url_error(&o), "out of memory"))
        alloc_set_err(res, CLUSTERC_ENOMEM, clusterc_options_url_error(&o));
    else if (rc != 0)
        alloc_set(res, OUT_BAD, "parse failed: %s", clusterc_options_url_error(&o));
    else if (!o.seeds || !strstr(o.seeds, "7003") || !o.tls || o.max_redirects != 5 ||
             strcmp(o.password, "pw2") != 0 || strcmp(o.tls_server_name, "redis.example") != 0)
        alloc_set(res, OUT_BAD, "parsed, but fields are wrong (seeds %s)", o.seeds ? o.seeds : "NULL");
    if (rc != 0 && (o.seeds || o.tls))
        alloc_set(res, OUT_BAD, "a failed parse changed the options");
    /* Usable afterwards: the same options parse again (the re-parse path). */
    if (clusterc_options_parse_url(&o, long_url) != 0 || o.max_redirects != 5)
        alloc_set(res, OUT_UNUSABLE, "follow-up parse failed: %s", clusterc_options_url_error(&o));
    clusterc_options_release(&o);
}
