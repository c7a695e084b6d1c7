/*
 * hook_recorder.h -- records what a client reports through its lifecycle
 * events and its command hook (clusterc_options.on_event / on_command), for
 * tests to assert on: a copy of every field (the library's pointers live
 * only during the callback) and the time each call came (CLOCK_MONOTONIC).
 *
 * Header-only (static inline), no test framework needed. A recorder is a
 * plain struct, usually static (they are large); rec_hook() empties both
 * and points the options at them. Not thread-safe: one client's thread.
 */
#ifndef CLUSTERC_TEST_HOOK_RECORDER_H
#define CLUSTERC_TEST_HOOK_RECORDER_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <clusterc/clusterc.h>

static inline int64_t rec_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct rec_event {
    int type, code;
    char node[64];         /* "" for a client-wide event (node NULL) */
    char detail[256];
    int64_t at_us;
} rec_event;

typedef struct rec_events {
    rec_event ev[1024];
    int n, dropped;        /* dropped: calls past the end of ev */
    int bad;               /* calls with detail NULL, or a node event without a node */
    int echo;              /* 1: print each event on stderr as it comes */
} rec_events;

typedef struct rec_command {
    char name[32], node[64];   /* node "" when NULL */
    int route, redirects, retries, code;
    int64_t duration_us, at_us;
} rec_command;

typedef struct rec_commands {
    rec_command c[2048];
    int n, dropped;
} rec_commands;

static inline void rec_on_event(const clusterc_event *ev, void *privdata)
{
    rec_events *l = privdata;
    int per_node = ev->type >= CLUSTERC_EVENT_NODE_CONNECTED &&
                   ev->type <= CLUSTERC_EVENT_NODE_RECOVERED;
    l->bad += !ev->detail || (per_node && !ev->node);
    if (l->echo)
        fprintf(stderr, "  event %-17s %-16s code %3d %s\n", clusterc_event_name(ev->type),
                ev->node ? ev->node : "-", ev->code, ev->detail ? ev->detail : "(null)");
    if (l->n == (int)(sizeof(l->ev) / sizeof(l->ev[0]))) {
        l->dropped++;
        return;
    }
    rec_event *r = &l->ev[l->n++];
    r->type = ev->type;
    r->code = ev->code;
    snprintf(r->node, sizeof(r->node), "%s", ev->node ? ev->node : "");
    snprintf(r->detail, sizeof(r->detail), "%s", ev->detail ? ev->detail : "");
    r->at_us = rec_now_us();
}

static inline void rec_on_command(const clusterc_command_info *ci, void *privdata)
{
    rec_commands *l = privdata;
    if (l->n == (int)(sizeof(l->c) / sizeof(l->c[0]))) {
        l->dropped++;
        return;
    }
    rec_command *r = &l->c[l->n++];
    snprintf(r->name, sizeof(r->name), "%s", ci->name ? ci->name : "(null)");
    snprintf(r->node, sizeof(r->node), "%s", ci->node ? ci->node : "");
    r->route = ci->route;
    r->redirects = ci->redirects;
    r->retries = ci->retries;
    r->code = ci->code;
    r->duration_us = ci->duration_us;
    r->at_us = rec_now_us();
}

/* Empty both recorders (either may be NULL) and set the options' hooks to
 * them; the rest of *o is left alone. */
static inline void rec_hook(clusterc_options *o, rec_events *ev, rec_commands *cmd)
{
    if (ev) {
        int echo = ev->echo;
        memset(ev, 0, sizeof(*ev));
        ev->echo = echo;
        o->on_event = rec_on_event;
        o->event_privdata = ev;
    }
    if (cmd) {
        memset(cmd, 0, sizeof(*cmd));
        o->on_command = rec_on_command;
        o->command_privdata = cmd;
    }
}

/* Events of a type for node, with needle in the detail (NULL: any): how
 * many; *first (may be NULL) gets the index of the first, -1 if none. */
static inline int rec_find(const rec_events *l, int type, const char *node, const char *needle,
                           int *first)
{
    int k = 0;
    if (first)
        *first = -1;
    for (int i = 0; i < l->n; i++)
        if (l->ev[i].type == type && (!node || strcmp(l->ev[i].node, node) == 0) &&
            (!needle || strstr(l->ev[i].detail, needle)) && k++ == 0 && first)
            *first = i;
    return k;
}

static inline int rec_first(const rec_events *l, int type, const char *node)
{
    int first;
    rec_find(l, type, node, NULL, &first);
    return first;
}

/* Hook calls for commands named name. */
static inline int rec_named(const rec_commands *l, const char *name)
{
    int k = 0;
    for (int i = 0; i < l->n; i++)
        k += strcmp(l->c[i].name, name) == 0;
    return k;
}

#endif /* CLUSTERC_TEST_HOOK_RECORDER_H */
