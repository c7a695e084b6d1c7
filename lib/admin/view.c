/* admin_view.c -- the admin API's read side: CLUSTER NODES, INFO
 * replication and CLUSTER INFO of one node, parsed; options; and the small
 * helpers every admin operation uses (one command to one node with its
 * failure in words, waits, progress). */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "admin_int.h"
#include "proto/info.h"

/* --------------------------------------------------------------- helpers */

static redisReply *vcall(clusterc_client *c, const char *node, const char *what,
                         const char *fmt, va_list ap)
{
    redisReply *r = clusterc_vcommand_to_node(c, node, fmt, ap);
    if (!r) {
        /* Copy first: the format reads the message being replaced. */
        char why[CLUSTERC__ADMIN_WHY];
        snprintf(why, sizeof(why), "%s", clusterc_errstr(c));
        /* The core's message often starts with the command already. */
        size_t wl = strlen(what);
        int named = strncmp(why, what, wl) == 0 && why[wl] == ':';
        clusterc__client_set_error(c, clusterc_error(c), "%s: %s%s%s", node, named ? "" : what,
                                   named ? "" : ": ", why);
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        clusterc__client_set_error(c, CLUSTERC_EPROTOCOL, "%s: %s: %s", node, what, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

redisReply *clusterc__admin_call(clusterc_client *c, const char *node, const char *what,
                                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = vcall(c, node, what, fmt, ap);
    va_end(ap);
    return r;
}

int clusterc__admin_ok(clusterc_client *c, const char *node, const char *what,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = vcall(c, node, what, fmt, ap);
    va_end(ap);
    freeReplyObject(r);
    return r ? 0 : -1;
}

const char *clusterc__admin_text(const redisReply *r, size_t *len)
{
    /* RESP2 sends bulk strings; a RESP3 connection would send verbatim
     * text, which older hiredis does not know. */
#ifdef REDIS_REPLY_VERB
    if (r && r->type == REDIS_REPLY_VERB) {
        *len = r->len;
        return r->str;
    }
#endif
    if (!r || r->type != REDIS_REPLY_STRING)
        return NULL;
    *len = r->len;
    return r->str;
}

const clusterc_admin_opts *clusterc__admin_opts(const clusterc_admin_opts *o,
                                                clusterc_admin_opts *def)
{
    if (o)
        return o;
    clusterc_admin_opts_init(def);
    return def;
}

int64_t clusterc__admin_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clusterc__admin_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

void clusterc__admin_progress(const clusterc_admin_opts *o, int64_t t0, const char *step,
                              const char *node, const char *state)
{
    if (!o->progress)
        return;
    clusterc_admin_progress p = { step, node, state, -1, -1, -1, 0, 0,
                                  clusterc__admin_now_ms() - t0 };
    o->progress(&p, o->progress_arg);
}

void clusterc__admin_success(clusterc_client *c)
{
    clusterc__client_set_error(c, 0, "%s", "");
}

CLUSTERC_API void clusterc_admin_opts_init(clusterc_admin_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->timeout_ms = 60000;
    o->wait_sync = 1;
    o->poll_ms = 200;
    o->migrate_batch = 100;
    o->migrate_timeout_ms = 60000;
}

/* ---------------------------------------------------------- CLUSTER NODES */

static int nodes_of(clusterc_client *c, const char *node, clusterc_cluster_node **out, size_t *n)
{
    char err[256];
    size_t len;
    redisReply *r = clusterc__admin_call(c, node, "CLUSTER NODES", "CLUSTER NODES");
    if (!r)
        return -1;
    const char *text = clusterc__admin_text(r, &len);
    if (!text || clusterc__cluster_nodes_parse(text, len, out, n, err, sizeof(err)) < 0) {
        /* The parser's own "out of memory" ends its message (after any
         * quoted line): the reply was fine, this process was not. */
        size_t el = text ? strlen(err) : 0;
        int oom = el >= 15 && strcmp(err + el - 15, ": out of memory") == 0;
        clusterc__client_set_error(c, oom ? CLUSTERC_ENOMEM : CLUSTERC_EPROTOCOL,
                                   "%s: CLUSTER NODES: %s", node, text ? err : "not a text reply");
        freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    return 0;
}

/* Any node of the map: the first that answers. The map may be stale (a
 * node gone), so each is tried in turn, and when none answers the map is
 * reloaded from the seeds once and tried again. With must_know, the first
 * view that lists that node (id or address) is preferred: a node that
 * missed a moment of gossip, or did not answer during an operation's wait,
 * may not know a node the others know. No such view: the first one. */
static int nodes_any(clusterc_client *c, const char *must_know, clusterc_cluster_node **out,
                     size_t *n, char *addr)
{
    clusterc_cluster_node *first = NULL;
    size_t nfirst = 0;
    char first_addr[272] = "";
    for (int round = 0; round < 2 && !first; round++) {
        clusterc_node_info info[64];
        int k = clusterc_node_stats(c, info, 64);
        for (int i = 0; i < k && i < 64; i++) {
            if (nodes_of(c, info[i].announced, out, n) < 0)
                continue;
            /* A node that knows only itself left the cluster (or never
             * joined): its view says nothing about the others. */
            int alone = *n <= 1 && i + 1 < k;
            if (!alone && (!must_know || clusterc__admin_find(*out, *n, must_know))) {
                clusterc_nodes_free(first, nfirst);
                if (addr)
                    snprintf(addr, 272, "%s", info[i].announced);
                return 0;
            }
            if (!alone && !first) {
                first = *out;
                nfirst = *n;
                snprintf(first_addr, sizeof(first_addr), "%s", info[i].announced);
            } else {
                clusterc_nodes_free(*out, *n);
            }
            *out = NULL;
            *n = 0;
        }
        if (!first && round == 0 && clusterc_refresh(c) < 0)
            break;
    }
    if (first) {
        *out = first;
        *n = nfirst;
        if (addr)
            snprintf(addr, 272, "%s", first_addr);
        return 0;
    }
    if (clusterc_error(c) == 0)
        clusterc__client_set_error(c, CLUSTERC_ETOPOLOGY, "no node of the cluster answered CLUSTER NODES");
    return -1;
}

int clusterc__admin_nodes_knowing(clusterc_client *c, const char *key, clusterc_cluster_node **out,
                                  size_t *n, char *addr)
{
    *out = NULL;
    *n = 0;
    return nodes_any(c, key, out, n, addr);
}

int clusterc__admin_nodes_from(clusterc_client *c, const char *node, clusterc_cluster_node **out,
                               size_t *n, char *addr)
{
    *out = NULL;
    *n = 0;
    if (!node)
        return nodes_any(c, NULL, out, n, addr);
    if (addr)
        snprintf(addr, 272, "%s", node);
    return nodes_of(c, node, out, n);
}

CLUSTERC_API int clusterc_admin_nodes(clusterc_client *c, const char *node,
                                      clusterc_cluster_node **out, size_t *n)
{
    if (!out || !n) {
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "clusterc_admin_nodes: out and n are required");
        return -1;
    }
    if (clusterc__admin_nodes_from(c, node, out, n, NULL) < 0)
        return -1;
    clusterc__admin_success(c);
    return 0;
}

int clusterc__admin_resolve(clusterc_client *c, const char *key, clusterc_cluster_node **v,
                            size_t *n, const clusterc_cluster_node **node)
{
    if (!key || !*key) {
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "no node given");
        return -1;
    }
    char entry[272];
    if (clusterc__admin_nodes_knowing(c, key, v, n, entry) < 0)
        return -1;
    *node = clusterc__admin_find(*v, *n, key);
    if (!*node) {
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "%s: no such node in the cluster (no node knows it; %s asked first)",
                                   key, entry);
        clusterc_nodes_free(*v, *n);
        *v = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------ INFO / CLUSTER INFO */

/* A node given by id is looked up in CLUSTER NODES: the client's map may
 * not know it yet (a node just added). */
static int addr_of(clusterc_client *c, const char *node, char *addr, size_t cap)
{
    if (!node || strchr(node, ':')) {
        snprintf(addr, cap, "%s", node ? node : "");
        return 0;
    }
    clusterc_cluster_node *v;
    size_t n;
    const clusterc_cluster_node *x;
    if (clusterc__admin_resolve(c, node, &v, &n, &x) < 0)
        return -1;
    clusterc__admin_addr(x, addr, cap);
    clusterc_nodes_free(v, n);
    return 0;
}

CLUSTERC_API int clusterc_admin_replication(clusterc_client *c, const char *node,
                                            clusterc_replication *out)
{
    char addr[300], err[256];
    size_t len;
    memset(out, 0, sizeof(*out));
    if (!node) {
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "clusterc_admin_replication: no node given");
        return -1;
    }
    if (addr_of(c, node, addr, sizeof(addr)) < 0)
        return -1;
    redisReply *r = clusterc__admin_call(c, addr, "INFO replication", "INFO replication");
    if (!r)
        return -1;
    const char *text = clusterc__admin_text(r, &len);
    int rc = text ? clusterc__info_repl_parse(text, len, out, err, sizeof(err)) : -1;
    if (rc < 0)
        clusterc__client_set_error(c, CLUSTERC_EPROTOCOL, "%s: INFO replication: %s", addr,
                                   text ? err : "not a text reply");
    else
        clusterc__admin_success(c);
    freeReplyObject(r);
    return rc;
}

CLUSTERC_API void clusterc_replication_free(clusterc_replication *r)
{
    clusterc__info_repl_free(r);
}

CLUSTERC_API int clusterc_admin_cluster_info(clusterc_client *c, const char *node,
                                             clusterc_cluster_info *out)
{
    char addr[300], err[256], any[272];
    size_t len;
    if (!node) {   /* any node: the one that answers CLUSTER NODES */
        clusterc_cluster_node *v;
        size_t n;
        if (clusterc__admin_nodes_from(c, NULL, &v, &n, any) < 0)
            return -1;
        clusterc_nodes_free(v, n);
        node = any;
    }
    if (addr_of(c, node, addr, sizeof(addr)) < 0)
        return -1;
    redisReply *r = clusterc__admin_call(c, addr, "CLUSTER INFO", "CLUSTER INFO");
    if (!r)
        return -1;
    const char *text = clusterc__admin_text(r, &len);
    int rc = text ? clusterc__cluster_info_parse(text, len, out, err, sizeof(err)) : -1;
    if (rc < 0)
        clusterc__client_set_error(c, CLUSTERC_EPROTOCOL, "%s: CLUSTER INFO: %s", addr,
                                   text ? err : "not a text reply");
    else
        clusterc__admin_success(c);
    freeReplyObject(r);
    return rc;
}
