/* timers.c -- a request's clocks: its deadline, a retry's backoff, and
 * completions owed from the loop (issue 17).
 *
 * Every request used to carry two libevent timers of its own (256 bytes of
 * a 640-byte request, and an event_add / event_del per command). Instead:
 *
 * - Deadlines. Every command has the same timeout (command_timeout_ms), so
 *   commands time out in the order they were submitted: one FIFO list per
 *   engine, appended at submit and unlinked at completion, both O(1), and
 *   one engine timer armed for the oldest. A blocking command with its own
 *   timeout (BLPOP k 5) is the exception: those few go on a second list
 *   kept sorted (insertion from the tail). The timer is not moved when the
 *   head completes: it fires at most once per timeout for nothing, finds
 *   the new head not due and is armed again.
 * - Completions from the loop (a failure decided inside the caller's
 *   submit, a local answer): a FIFO list and one event made active.
 * - Backoff: a retry's timer is made on the request's first retry (its
 *   rare part, engine.h) and reused by later ones.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"

static void sweep_cb(evutil_socket_t fd, short what, void *arg);
static void later_cb(evutil_socket_t fd, short what, void *arg);

int clusterc__timers_init(clusterc__engine *e)
{
    e->dl_ev = event_new(e->base, -1, 0, sweep_cb, e);
    e->later_ev = event_new(e->base, -1, 0, later_cb, e);
    return e->dl_ev && e->later_ev ? 0 : -1;
}

void clusterc__timers_fini(clusterc__engine *e)
{
    if (e->dl_ev)
        event_free(e->dl_ev);
    if (e->later_ev)
        event_free(e->later_ev);
    e->dl_ev = e->later_ev = NULL;
}

/* ------------------------------------------------------------ deadlines */

void clusterc__timers_quiet(clusterc__engine *e)
{
    /* The timer outlives the requests it was armed for (see above): with
     * none left it would hold the caller's loop open until it fired. */
    if (e->dl_armed && !e->dl_head && !e->bl_head) {
        event_del(e->dl_ev);
        e->dl_armed = 0;
    }
}

/* The timer fires at the earliest deadline of either list (or earlier:
 * the sweep arms it again). */
static void arm_at(clusterc__engine *e, int64_t at_us, int64_t now_us)
{
    if (e->dl_armed && e->dl_armed_us <= at_us)
        return;
    int64_t d = at_us > now_us ? at_us - now_us : 0;
    struct timeval tv = { (long)(d / 1000000), (long)(d % 1000000) };
    event_add(e->dl_ev, &tv);
    e->dl_armed = 1;
    e->dl_armed_us = at_us;
}

static void push_fifo(clusterc__engine *e, clusterc__req *r)
{
    r->dl = 1;
    r->dnext = NULL;
    r->dprev = e->dl_tail;
    if (e->dl_tail) e->dl_tail->dnext = r; else e->dl_head = r;
    e->dl_tail = r;
}

/* The blocking list, sorted by deadline: walk back from the tail (a new
 * deadline is usually the latest). */
static void push_sorted(clusterc__engine *e, clusterc__req *r)
{
    clusterc__req *after = e->bl_tail;
    while (after && after->deadline_us > r->deadline_us)
        after = after->dprev;
    r->dl = 2;
    r->dprev = after;
    r->dnext = after ? after->dnext : e->bl_head;
    if (r->dnext) r->dnext->dprev = r; else e->bl_tail = r;
    if (after) after->dnext = r; else e->bl_head = r;
}

void clusterc__dl_add(clusterc__engine *e, clusterc__req *r, int64_t ms)
{
    /* Inside a socket's callback, the time it was entered: as libevent
     * adds its own timers from the loop's cached time, a callback that
     * runs long before it submits makes that command's deadline early by
     * as much. The deadlines stay in submission order. */
    int64_t now = e->clock_ok ? e->clock_us : clusterc__now_us();
    r->deadline_us = now + ms * 1000;
    if (ms == e->opt.command_timeout_ms)   /* in submission order */
        push_fifo(e, r);
    else
        push_sorted(e, r);
    arm_at(e, r->deadline_us, now);
}

void clusterc__dl_unlink(clusterc__engine *e, clusterc__req *r)
{
    clusterc__req **head = r->dl == 1 ? &e->dl_head : &e->bl_head;
    clusterc__req **tail = r->dl == 1 ? &e->dl_tail : &e->bl_tail;
    if (!r->dl)
        return;
    if (r->dprev) r->dprev->dnext = r->dnext; else *head = r->dnext;
    if (r->dnext) r->dnext->dprev = r->dprev; else *tail = r->dprev;
    r->dnext = r->dprev = NULL;
    r->dl = 0;
}

/* The earlier due head of the two lists, or NULL when neither is due. */
static clusterc__req *due(clusterc__engine *e, int64_t now)
{
    clusterc__req *a = e->dl_head, *b = e->bl_head;
    clusterc__req *first = !a ? b : !b ? a : a->deadline_us <= b->deadline_us ? a : b;
    return first && first->deadline_us <= now ? first : NULL;
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__engine *e = arg;
    clusterc__req *r;
    (void)fd; (void)what;
    e->dl_armed = 0;
    e->depth++;
    int64_t now = clusterc__now_us();
    while (!e->dead && (r = due(e, now)) != NULL) {
        clusterc__dl_unlink(e, r);
        clusterc__engine_timed_out(e, r);
    }
    if (!e->dead) {
        if (e->dl_head)
            arm_at(e, e->dl_head->deadline_us, now);
        if (e->bl_head)
            arm_at(e, e->bl_head->deadline_us, now);
    }
    clusterc__engine_leave(e);
}

/* ----------------------------------------------------- from the loop */

static void later_push(clusterc__engine *e, clusterc__req *r)
{
    r->state = CLUSTERC__REQ_BACKOFF;
    r->later = 1;
    r->wnext = NULL;
    r->wprev = e->later_tail;
    if (e->later_tail) e->later_tail->wnext = r; else e->later_head = r;
    e->later_tail = r;
    e->nlater++;
    event_active(e->later_ev, EV_TIMEOUT, 1);
}

static void later_unlink(clusterc__engine *e, clusterc__req *r)
{
    if (r->wprev) r->wprev->wnext = r->wnext; else e->later_head = r->wnext;
    if (r->wnext) r->wnext->wprev = r->wprev; else e->later_tail = r->wprev;
    r->wnext = r->wprev = NULL;
    r->later = 0;
    e->nlater--;
}

/* Those on the list when the turn began: one that a callback adds now
 * waits for the next turn, so a callback that keeps failing cannot hold
 * the loop here. */
static void later_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__engine *e = arg;
    (void)fd; (void)what;
    e->depth++;
    for (size_t n = e->nlater; n > 0 && e->later_head && !e->dead; n--) {
        clusterc__req *r = e->later_head;
        later_unlink(e, r);
        r->state = CLUSTERC__REQ_NEW;
        redisReply *reply = r->x ? r->x->synth : NULL;
        if (reply) {
            r->x->synth = NULL;
            clusterc__engine_complete(e, r, reply, 0, NULL);
        } else if (r->x && r->x->fail_msg) {
            clusterc__engine_complete(e, r, NULL, r->fail_code, r->x->fail_msg);
        } else {   /* the message could not be kept: say so, keep the code */
            char msg[96];
            snprintf(msg, sizeof(msg), "%s: %s", CLUSTERC__RNAME(r),
                     r->fail_code && r->fail_code != CLUSTERC_ENOMEM
                         ? "failed; its message was lost (out of memory)" : "out of memory");
            clusterc__engine_complete(e, r, NULL, r->fail_code ? r->fail_code : CLUSTERC_ENOMEM,
                                      msg);
        }
    }
    if (e->later_head && !e->dead)
        event_active(e->later_ev, EV_TIMEOUT, 1);
    clusterc__engine_leave(e);
}

void clusterc__engine_complete_later(clusterc__engine *e, clusterc__req *r, redisReply *reply)
{
    clusterc__req_x *x = clusterc__req_ext(r);
    if (!x) {   /* the answer cannot be kept: say so instead */
        freeReplyObject(reply);
        r->fail_code = CLUSTERC_ENOMEM;
    } else {
        x->synth = reply;
    }
    later_push(e, r);
}

void clusterc__engine_fail_later(clusterc__engine *e, clusterc__req *r, int code, const char *fmt,
                                 ...)
{
    char msg[CLUSTERC__ERRSTR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    clusterc__req_x *x = clusterc__req_ext(r);
    if (x) {
        free(x->fail_msg);
        x->fail_msg = strdup(msg);   /* NULL: later_cb says "out of memory" */
    }
    r->fail_code = code;
    later_push(e, r);
}

/* ------------------------------------------------------------ backoff */

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__req *r = arg;
    clusterc__engine *e = r->e;
    (void)fd; (void)what;
    e->depth++;
    clusterc__backoff_detach(e, r);
    r->state = CLUSTERC__REQ_NEW;
    clusterc__engine_dispatch(e, r);
    clusterc__engine_leave(e);
}

static void backoff_push(clusterc__engine *e, clusterc__req *r)
{
    r->wprev = NULL;
    r->wnext = e->backoff_head;
    if (e->backoff_head)
        e->backoff_head->wprev = r;
    e->backoff_head = r;
}

void clusterc__backoff_detach(clusterc__engine *e, clusterc__req *r)
{
    if (r->later) {
        later_unlink(e, r);
        return;
    }
    event_del(r->x->retry_ev);   /* a request in backoff has its timer */
    if (r->wprev) r->wprev->wnext = r->wnext; else e->backoff_head = r->wnext;
    if (r->wnext) r->wnext->wprev = r->wprev;
    r->wnext = r->wprev = NULL;
}

void clusterc__req_note(clusterc__req *r, int code, const char *fmt, ...)
{
    clusterc__req_x *x = clusterc__req_ext(r);
    va_list ap;
    if (!x)   /* the detail is lost, not the command */
        return;
    va_start(ap, fmt);
    vsnprintf(x->last, sizeof(x->last), fmt, ap);
    va_end(ap);
    if (code)
        x->last_code = code;
}

/* Try again after a backoff, within the retry budget. why names the cause. */
void clusterc__engine_retry_later(clusterc__engine *e, clusterc__req *r, int code, const char *why)
{
    clusterc__req_note(r, code, "%s", why);
    /* Giving up is reported from the loop: this may run inside the caller's
     * submit (a dial that failed moments ago), where no callback may run. */
    if (r->pinned || r->retries >= e->opt.max_retries) {
        if (r->pinned)
            clusterc__engine_fail_later(e, r, code, "%s: %s", CLUSTERC__RNAME(r), why);
        else   /* connection trouble keeps its code; refusals become ERETRIES */
            clusterc__engine_fail_later(e, r,
                                        code == CLUSTERC_EIO || code == CLUSTERC_ECONNECT
                                            ? code : CLUSTERC_ERETRIES,
                                        "%s: gave up after %d retries: %s",
                                        CLUSTERC__RNAME(r), r->retries, why);
        return;
    }
    clusterc__req_x *x = clusterc__req_ext(r);
    if (x && !x->retry_ev)
        x->retry_ev = event_new(e->base, -1, 0, retry_cb, r);
    if (!x || !x->retry_ev) {
        clusterc__engine_fail_later(e, r, CLUSTERC_ENOMEM, "%s: out of memory scheduling a "
                                    "retry after: %s", CLUSTERC__RNAME(r), why);
        return;
    }
    uint32_t ms = clusterc__backoff_ms(r->retries, (uint32_t)e->opt.retry_backoff_min_ms,
                                       (uint32_t)e->opt.retry_backoff_max_ms, &e->rng);
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    r->retries++;
    e->stats.retries++;
    r->state = CLUSTERC__REQ_BACKOFF;
    x->target = NULL;   /* re-route: the map may have changed meanwhile */
    r->asking = 0;
    backoff_push(e, r);
    event_add(x->retry_ev, &tv);
}

/* ------------------------------------------------------------ timeouts */

/* A command whose bytes went out and whose reply did not come in time
 * leaves its connection in an unknown state: the reply may still come, or
 * come half-way. The connection is closed (as hiredis's async timeout
 * does) so it is never reused with a stale reply at its head, and nothing
 * (a drain, a map load) waits on it. The others it held are handed back:
 * reads are retried, writes that went out fail as timed out (classify.c),
 * saying they may have run. */
static void close_stuck(clusterc__engine *e, clusterc__node *n, const char *cmd)
{
    char msg[CLUSTERC__ADDR_MAX + 96];
    if (n->conn.state != CLUSTERC__CONN_UP)
        return;
    snprintf(msg, sizeof(msg), "connection to %s closed: no reply to %s within %d ms", n->name,
             cmd, e->opt.command_timeout_ms);
    clusterc__conn_close(&n->conn, CLUSTERC_ETIMEOUT, msg);
}

/* Where r was when its deadline passed, for the message; *stuck is the
 * connection its unanswered bytes leave unusable. */
static const char *where_was(clusterc__engine *e, clusterc__req *r, char *buf, size_t cap,
                             clusterc__node **stuck)
{
    *stuck = NULL;
    if (r->state == CLUSTERC__REQ_QUEUED && r->node) {
        /* A pool connection is closed by the abandon itself (bpool.c). */
        struct clusterc__bconn *b = clusterc__req_bconn(r);
        int sent = b ? clusterc__bpool_sent(r) : clusterc__conn_sent(&r->node->conn, r->seq);
        snprintf(buf, cap, "waiting for %s%s", r->node->name,
                 sent ? (r->flags & CLUSTERC__CMD_READONLY ? " (sent)" : " (sent: it may have run)")
                      : " (never sent)");
        *stuck = sent && !b && !clusterc__conn_was_held(&r->node->conn, r->seq) ? r->node : NULL;
        clusterc__refresh_request(e, "command timeout", 0);
        return buf;
    }
    if (r->state == CLUSTERC__REQ_BACKOFF)
        return "between retries";
    if (r->state == CLUSTERC__REQ_FANOUT)
        return "waiting for its parts on several nodes";
    if (r->state == CLUSTERC__REQ_WAITING) {
        char status[CLUSTERC__ERRSTR_MAX - 64];
        clusterc__refresh_status(e, status, sizeof(status));
        snprintf(buf, cap, "waiting for the slot map%s", status);
        return buf;
    }
    return "waiting for the slot map";
}

/* r's deadline passed (the sweep, inside enter/leave): it fails. */
void clusterc__engine_timed_out(clusterc__engine *e, clusterc__req *r)
{
    char buf[CLUSTERC__ERRSTR_MAX], name[CLUSTERC__REQ_NAME_MAX];
    clusterc__node *stuck;
    const char *where = where_was(e, r, buf, sizeof(buf), &stuck);
    clusterc__req_name(r, name, sizeof(name));   /* r is gone after the fail */
    /* A blocking command's deadline is its own timeout plus the command
     * timeout (or, in a drain, the command timeout): say which passed. */
    long long ms = e->opt.command_timeout_ms;
    if (r->blocking && clusterc__req_block_ms(r) > 0 && !e->draining)
        ms += clusterc__req_block_ms(r);
    const char *last = clusterc__req_last(r);
    clusterc__engine_fail(e, r, CLUSTERC_ETIMEOUT, "%s: timed out after %lld ms %s%s%s", name,
                          ms, where, last[0] ? "; last error: " : "", last);
    if (stuck && !e->dead)
        close_stuck(e, stuck, name);
}
