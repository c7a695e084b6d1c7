/* threaded_loop.c -- the thread-safe face's loop thread: it takes the jobs
 * the submitting threads queued, hands their commands to the engine, and
 * completes them by callback or into the completion queue. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include "threaded_int.h"
#include "face_int.h"
#include "engine/pubsub.h"

/* A subscription's token, kept for the engine's message callback. */
typedef struct tsub {
    struct tsub *next;
    uint64_t token;
} tsub;

static _Thread_local const clusterc_threaded *self_loop;

int clusterc__tloop_is_self(const clusterc_threaded *t) { return self_loop == t; }

void clusterc__tjob_free(tjob *j)
{
    if (!j)
        return;
    free(j->cmd);
    free(j->node);
    clusterc_completion_release(&j->c);
    free(j);
}

/* Completions of this loop turn go to the queue together at its end: the
 * consumers' lock is taken once per turn, not once per reply. */
static void local_push(clusterc_threaded *t, tjob *j)
{
    j->next = NULL;
    if (t->lq_tail) {
        t->lq_tail->next = j;
    } else {
        t->lq_head = j;
        event_active(t->pub_ev, 0, 0);
    }
    t->lq_tail = j;
    t->lq_n++;
}

void clusterc__tloop_publish(evutil_socket_t fd, short what, void *arg)
{
    clusterc_threaded *t = arg;
    (void)fd;
    (void)what;
    if (!t->lq_head)
        return;
    clusterc__tcq_push(t, t->lq_head, t->lq_tail, t->lq_n);
    t->lq_head = t->lq_tail = NULL;
    t->lq_n = 0;
}

/* The end of a job's command: by callback, into the queue, or nowhere. */
static void complete(clusterc_threaded *t, tjob *j, redisReply *reply, int code, const char *msg)
{
    if (j->to_queue) {
        j->c.kind = CLUSTERC_COMPLETION_REPLY;
        j->c.reply = reply;
        j->c.code = reply ? 0 : (code ? code : CLUSTERC_EIO);
        j->c.errstr = reply ? NULL : strdup(msg ? msg : "failed");
        local_push(t, j);   /* pending drops when it is taken */
        return;
    }
    if (j->fn)
        j->fn(t, reply, reply ? 0 : (code ? code : CLUSTERC_EIO), reply ? NULL : msg, j->pd);
    freeReplyObject(reply);
    clusterc__tjob_free(j);
    atomic_fetch_sub(&t->pending, 1);
}

static void on_done(clusterc__engine *e, clusterc__req *r, redisReply *reply, int code,
                    const char *msg)
{
    (void)e;
    complete(r->u1, r->u2, reply, code, msg);
}

void clusterc__tloop_faces(struct clusterc__engine *e)
{
    clusterc__engine_face_done(e, on_done);
}

static void run_cmd(clusterc_threaded *t, tjob *j)
{
    clusterc__engine *e = clusterc__async_engine(t->a);
    clusterc__err err = {0};
    clusterc__cmdtext text = { j->cmd, (int)j->len, 0, { 0 } };   /* malloc'ed */
    j->cmd = NULL;   /* the request owns it now, or freed it */
    clusterc__req *r = clusterc__req_new_user(e, &text, on_done, &err);
    if (r && j->node && clusterc__req_pin(e, r, j->node, &err) < 0) {
        clusterc__req_free(r);
        r = NULL;
    }
    free(j->node);   /* the job lives on as the completion: nothing else in it */
    j->node = NULL;
    if (!r) {
        /* Refused by the engine (overload, bad RESP, unknown node): a
         * completion like any failure, on the loop as promised. */
        complete(t, j, NULL, err.code, err.str);
        return;
    }
    r->u1 = t;
    r->u2 = j;
    r->route_mode = (uint8_t)j->route;
    clusterc__engine_submit(e, r);
}

/* ------------------------------------------------------------- pubsub */

static void on_message(clusterc__engine *e, const clusterc_message *m, void (*ufn)(void),
                       void *u1, void *u2)
{
    (void)e;
    (void)ufn;
    clusterc_threaded *t = u1;
    const tsub *s = u2;
    size_t plen = m->pattern ? m->pattern_len + 1 : 0;
    tjob *j = calloc(1, sizeof(*j));
    char *buf = malloc(m->channel_len + 1 + plen + m->payload_len + 1);
    if (!j || !buf) {
        /* Messages are at most once anyway; this one is lost to the
         * shortage, never half-delivered. */
        free(j);
        free(buf);
        return;
    }
    j->c.token = s->token;
    j->c.kind = CLUSTERC_COMPLETION_MESSAGE;
    j->c.pubsub_kind = m->kind;
    j->c.channel = buf;
    j->c.channel_len = m->channel_len;
    memcpy(buf, m->channel, m->channel_len);
    buf[m->channel_len] = '\0';
    char *p = buf + m->channel_len + 1;
    if (m->pattern) {
        j->c.pattern = p;
        memcpy(p, m->pattern, m->pattern_len);
        p[m->pattern_len] = '\0';
        p += plen;
    }
    j->c.payload = p;
    j->c.payload_len = m->payload_len;
    memcpy(p, m->payload, m->payload_len);
    p[m->payload_len] = '\0';
    atomic_fetch_add(&t->pending, 1);   /* it counts until taken, as replies do */
    local_push(t, j);
}

static void run_sub(clusterc_threaded *t, tjob *j)
{
    clusterc__engine *e = clusterc__async_engine(t->a);
    clusterc__err err = {0};
    const char *name = j->node;
    if (j->type == TJ_UNSUB) {
        clusterc__pubsub_unwant(e, j->kind, name, strlen(name), &err);
        return;
    }
    tsub *s = malloc(sizeof(*s));
    if (!s)
        return;
    s->token = j->c.token;
    s->next = t->subs;
    t->subs = s;
    clusterc__pubsub_want(e, j->kind, name, strlen(name), on_message, NULL, t, s, &err);
}

/* --------------------------------------------------------------- jobs */

static void run_job(clusterc_threaded *t, tjob *j)
{
    switch (j->type) {
    case TJ_CMD:
        run_cmd(t, j);
        return;   /* j lives until its completion */
    case TJ_SUB:
    case TJ_UNSUB:
        run_sub(t, j);
        break;
    case TJ_CALL:
        j->call(t, j->arg);   /* the caller waits for it and owns arg */
        break;
    case TJ_CLOSE:
        clusterc_async_disconnect(t->a);
        event_del(t->sub_ev);   /* nothing more to take: the loop may end */
        return;                 /* the handle's own job */
    }
    clusterc__tjob_free(j);
}

/* The stack holds the newest job first: turn it into submission order. */
static tjob *reversed(tjob *j)
{
    tjob *out = NULL;
    while (j) {
        tjob *next = j->next;
        j->next = out;
        out = j;
        j = next;
    }
    return out;
}

void clusterc__tloop_on_sub(evutil_socket_t fd, short what, void *arg)
{
    clusterc_threaded *t = arg;
    (void)fd;
    (void)what;
    /* Drain first: a push after the exchange below wakes us again. */
    clusterc__twake_drain(&t->sub_wake);
    tjob *j = reversed(atomic_exchange_explicit(&t->sub_top, NULL, memory_order_acquire));
    while (j) {
        tjob *next = j->next;
        run_job(t, j);
        j = next;
    }
}

/* After the drain: jobs that came after the close are refused, but a
 * command that was accepted still completes (ECLOSED), and a caller
 * waiting for the loop still gets its answer. */
static void refuse_late_jobs(clusterc_threaded *t)
{
    tjob *j = reversed(atomic_exchange(&t->sub_top, TSTACK_CLOSED));
    while (j) {
        tjob *next = j->next;
        if (j->type == TJ_CMD)
            complete(t, j, NULL, CLUSTERC_ECLOSED, "client is closed");
        else if (j->type == TJ_CALL)
            run_job(t, j);
        else if (j->type != TJ_CLOSE)
            clusterc__tjob_free(j);
        j = next;
    }
}

void *clusterc__tloop_main(void *arg)
{
    clusterc_threaded *t = arg;
    self_loop = t;
    /* Runs until the close job removed the submission event and the drain
     * released every socket and timer of the engine. */
    event_base_dispatch(t->base);
    refuse_late_jobs(t);
    clusterc_async_get_stats(t->a, &t->final_stats);
    clusterc_async_free(t->a);
    t->a = NULL;
    /* A host-name lookup cancelled by the free is delivered from the
     * loop: one more turn releases it. */
    event_base_loop(t->base, EVLOOP_NONBLOCK);
    clusterc__tloop_publish(-1, 0, t);
    while (t->subs) {
        tsub *s = t->subs;
        t->subs = s->next;
        free(s);
    }
    clusterc__tcq_closed(t);
    return NULL;
}
