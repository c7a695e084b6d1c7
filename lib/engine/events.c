/* events.c -- lifecycle events and the command hook (clusterc.h).
 *
 * The engine calls these at the place where a state changes; each guards
 * on the hook being set, so an unset hook costs one test. The user's
 * callback runs with the engine's reentrancy depth raised: a callback that
 * frees its (async) client only marks it, and the enter/leave pair around
 * the engine code that emitted the event does the freeing afterwards.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include "engine_int.h"

void clusterc__emit(clusterc__engine *e, int type, const clusterc__node *n, int code,
                    const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    if (!e->opt.on_event || e->dead)
        return;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    clusterc_event ev = { type, n ? n->name : NULL, code, detail };
    e->depth++;
    e->opt.on_event(&ev, e->opt.event_privdata);
    clusterc__engine_unwind(e);
}

void clusterc__hook_command(clusterc__engine *e, const clusterc__req *r, int code)
{
    clusterc_command_info ci;
    char name[CLUSTERC__REQ_NAME_MAX];
    ci.name = clusterc__req_name(r, name, sizeof(name));
    ci.node = r->x && r->x->last_node ? r->x->last_node->name : NULL;
    ci.route = r->route_mode;
    ci.redirects = r->redirects;
    ci.retries = r->retries;
    ci.duration_us = r->x ? clusterc__now_us() - r->x->t0_us : 0;   /* x: made by req_new */
    ci.code = code;
    e->depth++;
    e->opt.on_command(&ci, e->opt.command_privdata);
    clusterc__engine_unwind(e);
}
