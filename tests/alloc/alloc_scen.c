/* alloc_scen.c -- it_alloc's blocking scenarios on the real cluster: each
 * sets up disarmed, runs its operation with the N-th allocation failing,
 * then checks the client still works (or frees it). */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <clusterc/admin.h>
#include "alloc_int.h"
#include "alloc_wrap.h"

void alloc_options(clusterc_options *o, const char *seeds)
{
    clusterc_options_init(o);
    o->seeds = seeds;
    o->connect_timeout_ms = 1000;
    o->command_timeout_ms = 2000;
    o->refresh_interval_ms = 0;
    o->refresh_min_interval_ms = 0;   /* a failed first load is retried at once */
}

void alloc_set_err(alloc_result *res, int code, const char *msg)
{
    res->outcome = code ? OUT_ERR : OUT_BAD;
    res->code = code;
    /* hiredis's reader says "Out of memory"; lib/engine/conn.c's
     * protocol_error() reports every reader error as EPROTOCOL. */
    if (code == CLUSTERC_EPROTOCOL && msg && strstr(msg, ": Out of memory"))
        res->reader_oom = 1;
    snprintf(res->msg, sizeof(res->msg), "%s%s", code ? "" : "no code: ", msg ? msg : "(null)");
}

void alloc_set(alloc_result *res, int outcome, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    res->outcome = outcome;
    vsnprintf(res->msg, sizeof(res->msg), fmt, ap);
    va_end(ap);
}

void alloc_stop(alloc_result *res)
{
    res->counted = alloc_disarm();
    res->injected = alloc_injected();
}

/* 0 when SET key val then GET key gives val back. */
static int set_get(clusterc_client *c, const char *key, const char *val)
{
    redisReply *r = clusterc_command(c, "SET %s %s", key, val);
    int ok = r && r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (!ok)
        return -1;
    r = clusterc_command(c, "GET %s", key);
    ok = r && r->type == REDIS_REPLY_STRING && strcmp(r->str, val) == 0;
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* The follow-up: the client serves a SET and a GET with no injection. */
static void follow_up(clusterc_client *c, alloc_result *res)
{
    if (set_get(c, "alloc:after", "fine") != 0 && res->outcome != OUT_BAD)
        alloc_set(res, OUT_UNUSABLE, "follow-up SET/GET failed: %s (after: %s)",
                  clusterc_errstr(c), res->msg);
}

/* A client on the seed primary whose COMMAND table has been learned (the
 * COMMAND reply comes on the seed's connection, ahead of the PING). */
static clusterc_client *ready_client(const alloc_env *env, alloc_result *res)
{
    clusterc_options o;
    alloc_options(&o, env->seed0);
    clusterc_client *c = clusterc_connect(&o);
    if (!c || clusterc_error(c)) {
        alloc_set(res, OUT_SETUP, "setup connect: %s", c ? clusterc_errstr(c) : "NULL");
        clusterc_free(c);
        return NULL;
    }
    redisReply *r = clusterc_command_to_node(c, env->seed0, "PING");
    freeReplyObject(r);
    return c;
}

void scen_connect(const alloc_env *env, long n, alloc_result *res)
{
    clusterc_options o;
    alloc_options(&o, env->seed0);
    alloc_arm(n);
    clusterc_client *c = clusterc_connect(&o);
    redisReply *r = NULL;
    if (c && !clusterc_error(c))   /* flushes the COMMAND table's load */
        r = clusterc_command_to_node(c, env->seed0, "PING");
    alloc_stop(res);
    if (!c) {
        alloc_set(res, OUT_ERR, "clusterc_connect returned NULL (out of memory)");
        res->code = CLUSTERC_ENOMEM;
        c = clusterc_connect(&o);   /* usable afterwards: a new one works */
        if (!c || clusterc_error(c))
            alloc_set(res, OUT_UNUSABLE, "connect after NULL failed");
    } else if (clusterc_error(c)) {
        alloc_set_err(res, clusterc_error(c), clusterc_errstr(c));
    } else if (!r) {
        alloc_set_err(res, clusterc_error(c), clusterc_errstr(c));
    } else if (r->type != REDIS_REPLY_STATUS) {
        alloc_set(res, OUT_BAD, "PING reply type %d", r->type);
    }
    freeReplyObject(r);
    if (c)
        follow_up(c, res);
    clusterc_free(c);
}

void scen_command(const alloc_env *env, long n, alloc_result *res)
{
    clusterc_client *c = ready_client(env, res);
    if (!c)
        return;
    char val[32];
    snprintf(val, sizeof(val), "v%ld", n);
    alloc_arm(n);
    redisReply *s = clusterc_command(c, "SET alloc:cmd %s", val);
    int scode = clusterc_error(c);
    char smsg[200];
    snprintf(smsg, sizeof(smsg), "%s", clusterc_errstr(c));
    redisReply *g = clusterc_command(c, "GET alloc:cmd");
    alloc_stop(res);
    if (!s)
        alloc_set_err(res, scode, smsg);
    else if (s->type != REDIS_REPLY_STATUS)
        alloc_set(res, OUT_BAD, "SET reply type %d", s->type);
    if (!g) {
        if (res->outcome == OUT_OK)
            alloc_set_err(res, clusterc_error(c), clusterc_errstr(c));
    } else if (s && (g->type != REDIS_REPLY_STRING || strcmp(g->str, val) != 0)) {
        alloc_set(res, OUT_BAD, "GET after SET: type %d, not %s", g->type, val);
    }
    freeReplyObject(s);
    freeReplyObject(g);
    follow_up(c, res);
    clusterc_free(c);
}

/* Collect the pipeline's replies: n_ok of them must be +OK. */
static void pipeline_collect(clusterc_client *c, int appended, alloc_result *res)
{
    for (int i = 0; i < appended; i++) {
        void *v = NULL;
        if (clusterc_get_reply(c, &v) != 0) {
            if (res->outcome == OUT_OK)
                alloc_set_err(res, clusterc_error(c), clusterc_errstr(c));
            continue;
        }
        redisReply *r = v;
        if (!r || r->type != REDIS_REPLY_STATUS)
            alloc_set(res, OUT_BAD, "pipeline reply %d: type %d", i, r ? r->type : -1);
        freeReplyObject(r);
    }
}

void scen_pipeline(const alloc_env *env, long n, alloc_result *res)
{
    clusterc_client *c = ready_client(env, res);
    if (!c)
        return;
    int appended = 0;
    alloc_arm(n);
    for (int i = 0; i < 10; i++) {
        if (clusterc_append_command(c, "SET alloc:pipe:%d %d", i, i) == 0)
            appended++;
        else if (res->outcome == OUT_OK)
            alloc_set_err(res, clusterc_error(c), clusterc_errstr(c));
    }
    pipeline_collect(c, appended, res);
    alloc_stop(res);
    void *extra = NULL;   /* nothing is left queued */
    if (clusterc_get_reply(c, &extra) == 0) {
        alloc_set(res, OUT_BAD, "a reply beyond the %d appended", appended);
        freeReplyObject(extra);
    }
    follow_up(c, res);
    clusterc_free(c);
}

void scen_refresh(const alloc_env *env, long n, alloc_result *res)
{
    clusterc_client *c = ready_client(env, res);
    if (!c)
        return;
    alloc_arm(n);
    int rc = clusterc_refresh(c);
    alloc_stop(res);
    if (rc != 0)
        alloc_set_err(res, clusterc_error(c), clusterc_errstr(c));
    follow_up(c, res);
    clusterc_free(c);
}

void scen_admin_check(const alloc_env *env, long n, alloc_result *res)
{
    clusterc_client *c = ready_client(env, res);
    if (!c)
        return;
    clusterc_check_result *out = NULL;
    alloc_arm(n);
    int rc = clusterc_admin_check(c, &out);
    alloc_stop(res);
    if (rc != 0)
        alloc_set_err(res, clusterc_error(c), clusterc_errstr(c));
    else if (!out)
        alloc_set(res, OUT_BAD, "check returned 0 and no result");
    else if (!out->ok && out->nproblems && strstr(out->problems[0], "protocol error") &&
             strstr(out->problems[0], ": Out of memory"))
        alloc_set_err(res, CLUSTERC_EPROTOCOL, out->problems[0]);   /* counted apart */
    else if (!out->ok)
        alloc_set(res, OUT_BAD, "check ran but reports a problem: %s",
                  out->nproblems ? out->problems[0] : "(none listed)");
    clusterc_check_free(out);
    out = NULL;
    if (clusterc_admin_check(c, &out) != 0 || !out || !out->ok)
        alloc_set(res, OUT_UNUSABLE, "follow-up check failed: %s (after: %s)",
                  clusterc_errstr(c), res->msg);
    clusterc_check_free(out);
    follow_up(c, res);
    clusterc_free(c);
}
