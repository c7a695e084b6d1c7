/* classify.c -- what a reply means: done, redirect, retry later, or a
 * failure; and what a lost connection means for each command it held.
 *
 * The redirect and retry policy lives here once, for both faces.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include "engine_int.h"
#include "proto/redirect.h"

static int redirect(clusterc__engine *e, clusterc__req *r, clusterc__node *from,
                    const clusterc__redirect *rd, redisReply *reply)
{
    if (r->pinned || e->opt.max_redirects < 0)
        return 0;   /* not following: the caller gets the reply itself */
    if (r->redirects >= e->opt.max_redirects) {
        clusterc__engine_fail(e, r, CLUSTERC_EREDIRECTS,
                              "%s: too many redirects (%d); last from %s: %.*s", CLUSTERC__RNAME(r),
                              r->redirects, from->name, (int)reply->len, reply->str);
        freeReplyObject(reply);
        return 1;
    }
    clusterc__addr dial;
    from->redirects++;
    clusterc__engine_remap(e, &rd->target, &dial);
    clusterc__node *to = clusterc__engine_node(e, &dial, 1);
    if (!to) {
        clusterc__engine_fail(e, r, CLUSTERC_ENOMEM, "%s: out of memory following a redirect",
                              CLUSTERC__RNAME(r));
        freeReplyObject(reply);
        return 1;
    }
    r->redirects++;
    if (rd->kind == CLUSTERC__ERR_MOVED) {
        e->stats.moved++;
        clusterc__engine_patch_slot(e, rd->slot, to);
        clusterc__refresh_request(e, "MOVED", 1);
        if (r->x)
            r->x->target = NULL;
        r->asking = 0;
    } else {
        clusterc__req_x *x = clusterc__req_ext(r);
        e->stats.ask++;
        if (!x) {
            clusterc__engine_fail(e, r, CLUSTERC_ENOMEM, "%s: out of memory following a "
                                  "redirect", CLUSTERC__RNAME(r));
            freeReplyObject(reply);
            return 1;
        }
        x->target = to;   /* only this command, only once: the map stays */
        r->asking = 1;
    }
    freeReplyObject(reply);
    r->state = CLUSTERC__REQ_NEW;
    clusterc__engine_dispatch(e, r);
    return 1;
}

/* Transient errors: the command was refused, so it is safe to retry. */
static int transient(clusterc__engine *e, clusterc__req *r, clusterc__node *from,
                     clusterc__errkind kind, redisReply *reply)
{
    char why[160];
    if (r->pinned)
        return 0;
    from->errors++;
    if (kind == CLUSTERC__ERR_CLUSTERDOWN || kind == CLUSTERC__ERR_READONLY)
        clusterc__refresh_request(e, kind == CLUSTERC__ERR_READONLY ? "READONLY" : "CLUSTERDOWN",
                                  kind == CLUSTERC__ERR_READONLY);
    snprintf(why, sizeof(why), "%s replied %.*s", from->name,
             (int)(reply->len > 100 ? 100 : reply->len), reply->str);
    freeReplyObject(reply);
    clusterc__engine_retry_later(e, r, CLUSTERC_ERETRIES, why);
    return 1;
}

void clusterc__engine_on_reply(clusterc__engine *e, clusterc__node *n,
                               clusterc__req *r, redisReply *reply)
{
    clusterc__redirect rd;
    if (reply->type == REDIS_REPLY_ERROR) {
        clusterc__errkind k = clusterc__classify_error(reply->str, reply->len, n->conn.addr.host, &rd);
        int handled = 0;
        switch (k) {
        case CLUSTERC__ERR_MOVED:
        case CLUSTERC__ERR_ASK:
            handled = redirect(e, r, n, &rd, reply);
            break;
        case CLUSTERC__ERR_LOADING:
        case CLUSTERC__ERR_MASTERDOWN:
            if (clusterc__reads_replica_refused(e, n, r)) {
                clusterc__req_note(r, 0, "%s replied %.*s", n->name,
                                   (int)(reply->len > 60 ? 60 : reply->len), reply->str);
                freeReplyObject(reply);
                r->state = CLUSTERC__REQ_NEW;
                clusterc__engine_dispatch(e, r);
                return;
            }
            handled = transient(e, r, n, k, reply);
            break;
        case CLUSTERC__ERR_TRYAGAIN:
        case CLUSTERC__ERR_CLUSTERDOWN:
        case CLUSTERC__ERR_READONLY:
            handled = transient(e, r, n, k, reply);
            break;
        default:
            break;
        }
        if (handled)
            return;
    }
    r->state = CLUSTERC__REQ_NEW;
    clusterc__engine_complete(e, r, reply, 0, NULL);
}

/* The connection holding r is gone. A command that was (maybe partly)
 * written may have run: repeat it only if it only reads. */
void clusterc__engine_lost(clusterc__engine *e, clusterc__node *n, clusterc__req *r,
                           int code, const char *msg, int written)
{
    r->state = CLUSTERC__REQ_NEW;
    /* The library's own commands are never "may have run": they say why. */
    /* A refused certificate or password is not cured by trying again. */
    if (code == CLUSTERC_EAUTH || code == CLUSTERC_ETLS || code == CLUSTERC_ENOMEM ||
        r->internal) {
        clusterc__engine_fail(e, r, code, "%s: %s", CLUSTERC__RNAME(r), msg);
        return;
    }
    if (written && !(r->flags & CLUSTERC__CMD_READONLY) && code == CLUSTERC_ETIMEOUT) {
        /* Closed because a command ahead of it timed out (close_stuck): a
         * timeout, like that one's, and as uncertain. */
        clusterc__engine_fail(e, r, CLUSTERC_ETIMEOUT, "%s: timed out: %s; it was sent before, "
                              "so it may have run", CLUSTERC__RNAME(r), msg);
        return;
    }
    if (written && !(r->flags & CLUSTERC__CMD_READONLY)) {
        (void)n;   /* msg names the node */
        clusterc__engine_fail(e, r, CLUSTERC_EUNCERTAIN,
                              "%s: %s, after the command was sent; not retried since it may "
                              "have run", CLUSTERC__RNAME(r), msg);
        return;
    }
    clusterc__engine_retry_later(e, r, code, msg);
}

