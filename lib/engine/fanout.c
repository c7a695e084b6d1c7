/* fanout.c -- commands that span the cluster.
 *
 * Redis 7 says in COMMAND's tips where a command goes and how its replies
 * merge (proto/fanout.c keeps those policies, learned or built in). A
 * caller's command that fans out becomes a parent request whose parts are
 * child requests, one per node (all_shards, all_nodes, the explicit ALL /
 * EACH routes: pinned to their node; a read-only all_shards command under a
 * read policy goes to one eligible node per shard) or one per slot (MGET, DEL, MSET...
 * split by proto/fanout.c: routed by their slot, so each part follows
 * MOVED, ASK and retries on its own). When the last part is in, the
 * replies are merged (or re-assembled in key order) and the parent
 * completes; the parent's one deadline bounds the whole. A part that got
 * no reply fails the whole, its message naming the node.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "engine_int.h"
#include "proto/fanout.h"

#define FAN_SPLIT 1    /* a multi-key command: split by slot if it spans several */
#define FAN_POLICY 2   /* all shards / all nodes, by the command's policy */
#define FAN_ROUTE 3    /* CLUSTERC_ROUTE_ALL_* / EACH_* */

typedef struct clusterc__fan {
    clusterc__req *parent;
    clusterc__resp_policy resp;
    int each;                    /* EACH route: [address, reply] pairs, unmerged */
    int split;                   /* parts are s's sub-commands */
    clusterc__split s;
    size_t n, left;
    clusterc__req **kids;        /* NULL once a part completed */
    redisReply **replies;
    int *codes;
    char **msgs, **nodes;
} clusterc__fan;

/* ------------------------------------------------------------ marking */

/* The multi-key commands proto/fanout.c can split: a name test cheap
 * enough for every request (GET and SET leave at the first letter). */
static int may_split(const char *name, size_t len)
{
    static const char *const list[] = { "del", "mget", "mset", "touch", "unlink", "exists" };
    switch (name[0] | 0x20) {
    case 'd': case 'm': case 't': case 'u': case 'e': break;
    default: return 0;
    }
    for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
        if (strlen(list[i]) == len && strncasecmp(list[i], name, len) == 0)
            return 1;
    return 0;
}

void clusterc__fanout_mark(clusterc__engine *e, clusterc__req *r, const char *name, size_t len)
{
    clusterc__fanpolicy pol;
    if (may_split(name, len)) {
        r->fan = e->opt.multi_slot_split ? FAN_SPLIT : 0;
        return;
    }
    if (r->slot >= 0)
        return;
    /* Keyless: its policy. A "special" merge (INFO) stays on one node. */
    if (clusterc__policy_lookup(e->policies, clusterc__req_text(r), r->len, &pol) == 1 &&
        (pol.req == CLUSTERC__REQ_ALL_SHARDS || pol.req == CLUSTERC__REQ_ALL_NODES) &&
        pol.resp != CLUSTERC__RESP_SPECIAL)
        r->fan = FAN_POLICY;
}

void clusterc__fanout_learn(clusterc__engine *e, const redisReply *reply)
{
    clusterc__policytable *t = NULL;
    char err[128];
    if (clusterc__policytable_from_reply(reply, &t, err, sizeof(err)) == 0) {
        clusterc__policytable_free(e->policies);
        e->policies = t;
    }   /* else the built-in table goes on serving */
}

/* ------------------------------------------------------------ finishing */

static void fan_free(clusterc__fan *f)
{
    for (size_t i = 0; i < f->n; i++) {
        freeReplyObject(f->replies[i]);
        free(f->msgs[i]);
        free(f->nodes[i]);
    }
    free(f->kids);
    free(f->replies);
    free(f->codes);
    free(f->msgs);
    free(f->nodes);
    clusterc__split_free(&f->s);
    free(f);
}

void clusterc__fanout_abandon(clusterc__req *r)
{
    clusterc__fan *f = r->x ? r->x->fanout : NULL;
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        if (f->kids[i])
            f->kids[i]->u1 = NULL;   /* its completion is dropped */
    r->x->fanout = NULL;
    fan_free(f);
}

static redisReply *merged(clusterc__fan *f)
{
    clusterc__part *parts = calloc(f->n ? f->n : 1, sizeof(*parts));
    redisReply *out = NULL;
    if (!parts)
        return NULL;
    for (size_t i = 0; i < f->n; i++) {
        parts[i].reply = f->replies[i];
        parts[i].node = f->nodes[i];
    }
    if (f->each)
        out = clusterc__fanout_pairs(parts, f->n);
    else if (f->split && f->resp == CLUSTERC__RESP_DEFAULT)
        out = clusterc__fanout_reassemble(&f->s, parts, f->n);   /* MGET: key order */
    else
        out = clusterc__fanout_merge(f->resp, parts, f->n);
    free(parts);
    return out;
}

/* Every part is in: one reply, or the first part's failure. */
static void finish(clusterc__engine *e, clusterc__fan *f)
{
    clusterc__req *parent = f->parent;
    for (size_t i = 0; i < f->n; i++) {
        if (!f->replies[i]) {
            clusterc__engine_fail(e, parent, f->codes[i], "%s (a part of %s, on %s)",
                                  f->msgs[i] ? f->msgs[i] : "failed", CLUSTERC__RNAME(parent),
                                  f->nodes[i] ? f->nodes[i] : "no node");
            return;
        }
    }
    redisReply *reply = merged(f);
    if (!reply) {
        clusterc__engine_fail(e, parent, CLUSTERC_ENOMEM, "%s: out of memory merging replies",
                              CLUSTERC__RNAME(parent));
        return;
    }
    clusterc__engine_complete(e, parent, reply, 0, NULL);   /* frees f (abandon) */
}

static void part_done(clusterc__engine *e, clusterc__req *kid, redisReply *reply, int code,
                      const char *msg)
{
    clusterc__fan *f = kid->u1;
    size_t i = (size_t)(uintptr_t)kid->u2;
    if (!f) {   /* the whole already ended */
        freeReplyObject(reply);
        return;
    }
    f->kids[i] = NULL;
    f->replies[i] = reply;
    f->codes[i] = code;
    f->msgs[i] = msg ? strdup(msg) : NULL;
    f->nodes[i] = kid->x && kid->x->last_node ? strdup(kid->x->last_node->name) : NULL;
    if (--f->left == 0)
        finish(e, f);
}

/* ------------------------------------------------------------ the parts */

static clusterc__fan *fan_new(clusterc__req *parent, size_t n)
{
    clusterc__fan *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->parent = parent;
    f->n = f->left = n;
    f->kids = calloc(n ? n : 1, sizeof(*f->kids));
    f->replies = calloc(n ? n : 1, sizeof(*f->replies));
    f->codes = calloc(n ? n : 1, sizeof(*f->codes));
    f->msgs = calloc(n ? n : 1, sizeof(*f->msgs));
    f->nodes = calloc(n ? n : 1, sizeof(*f->nodes));
    if (!f->kids || !f->replies || !f->codes || !f->msgs || !f->nodes) {
        fan_free(f);
        return NULL;
    }
    return f;
}

/* Part i: its own request for cmd (copied), on node `to` (pinned) or by
 * its slot (to NULL). Returns it unsubmitted, NULL when out of memory. */
static clusterc__req *part_new(clusterc__engine *e, clusterc__fan *f, size_t i, const char *cmd,
                               size_t len, clusterc__node *to)
{
    clusterc__err err;
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, cmd, len);
    copy[len] = '\0';
    clusterc__req *kid = clusterc__req_new(e, copy, len, part_done, &err);
    if (!kid)
        return NULL;
    kid->child = 1;
    kid->fan = 0;
    kid->route_mode = f->parent->route_mode > CLUSTERC_ROUTE_ANY ? 0 : f->parent->route_mode;
    kid->u1 = f;
    kid->u2 = (void *)(uintptr_t)i;
    clusterc__req_x *x = clusterc__req_ext(kid);   /* x->last_node: part_done */
    if (!x) {
        clusterc__req_free(kid);
        return NULL;
    }
    if (to) {
        x->target = to;
        kid->pinned = 1;
    }
    f->kids[i] = kid;
    return kid;
}

/* The node of shard i a part goes to: the primary, or for a read-only
 * command fanned out by its policy under a read policy, one eligible node
 * of the shard picked as a read would be (an explicit ALL_PRIMARIES route
 * means the primaries). */
static clusterc__node *shard_node(clusterc__engine *e, clusterc__req *r, size_t i)
{
    clusterc__shard *sh = &e->shards[i];
    if (r->fan == FAN_POLICY && clusterc__reads_applies(e, r)) {
        int k = clusterc__reads_pick(e, sh, r);
        if (k >= 0)
            return sh->nodes[k];
    }
    return sh->nodes[0];
}

/* The nodes a fan-out goes to (out NULL: only count them): one per shard,
 * or every node of the map. */
static size_t nodes_of(clusterc__engine *e, clusterc__req *r, int all, clusterc__node **out)
{
    size_t k = 0;
    for (size_t i = 0; i < e->nshards; i++) {
        if (e->shards[i].n == 0)
            continue;
        if (!all) {
            if (out)
                out[k] = shard_node(e, r, i);
            k++;
            continue;
        }
        for (size_t j = 0; j < e->shards[i].n; j++)
            if (out)
                out[k++] = e->shards[i].nodes[j];
            else
                k++;
    }
    return k;
}

/* How the parts' replies become one, and where they go. */
static void plan(clusterc__engine *e, clusterc__req *r, clusterc__fan *f)
{
    clusterc__fanpolicy pol;
    clusterc__policy_lookup(e->policies, clusterc__req_text(r), r->len, &pol);
    f->resp = pol.resp;
    f->each = r->route_mode == CLUSTERC_ROUTE_EACH_PRIMARY || r->route_mode == CLUSTERC_ROUTE_EACH_NODE;
}

static int route_all(const clusterc__req *r)
{
    if (r->fan == FAN_ROUTE)
        return r->route_mode == CLUSTERC_ROUTE_ALL_NODES || r->route_mode == CLUSTERC_ROUTE_EACH_NODE;
    clusterc__fanpolicy pol;
    clusterc__policy_lookup(r->e->policies, clusterc__req_text(r), r->len, &pol);
    return pol.req == CLUSTERC__REQ_ALL_NODES;
}

/* Start every part; they complete from the loop, never in here. */
static int start(clusterc__engine *e, clusterc__req *r, clusterc__fan *f)
{
    clusterc__req_x *x = clusterc__req_ext(r);
    for (size_t i = 0; i < f->n; i++) {
        if (!f->kids[i] || !x) {
            for (size_t k = 0; k < f->n; k++)   /* calloc'ed: a NULL is fine */
                clusterc__req_free(f->kids[k]);
            fan_free(f);
            clusterc__engine_fail_later(e, r, CLUSTERC_ENOMEM, "%s: out of memory fanning out",
                                        CLUSTERC__RNAME(r));
            return 1;
        }
    }
    r->state = CLUSTERC__REQ_FANOUT;
    x->fanout = f;
    for (size_t i = 0; i < f->n; i++)
        clusterc__engine_submit(e, f->kids[i]);
    return 1;
}

static int by_slot(clusterc__engine *e, clusterc__req *r)
{
    clusterc__split s;
    char err[160];
    int rc = clusterc__fanout_split(clusterc__req_text(r), r->len, &s, err, sizeof(err));
    if (rc <= 0) {   /* one slot (or the server will refuse it): as one command */
        r->fan = 0;
        return 0;
    }
    clusterc__fan *f = fan_new(r, s.nsub);
    if (!f) {
        clusterc__split_free(&s);
        clusterc__engine_fail_later(e, r, CLUSTERC_ENOMEM, "%s: out of memory splitting",
                                    CLUSTERC__RNAME(r));
        return 1;
    }
    f->s = s;
    f->split = 1;
    plan(e, r, f);
    for (size_t i = 0; i < s.nsub; i++)
        part_new(e, f, i, s.sub[i].resp, s.sub[i].len, NULL);
    return start(e, r, f);
}

int clusterc__fanout_dispatch(clusterc__engine *e, clusterc__req *r)
{
    if (r->fan == FAN_SPLIT)
        return by_slot(e, r);
    if (e->map_gen == 0)
        return -1;   /* which nodes: wait for the map */
    int all = route_all(r);
    size_t n = nodes_of(e, r, all, NULL);
    clusterc__fan *f = n ? fan_new(r, n) : NULL;
    clusterc__node **to = n ? malloc(n * sizeof(*to)) : NULL;
    if (!f || !to) {
        if (f)
            fan_free(f);
        free(to);
        clusterc__engine_fail_later(e, r, n ? CLUSTERC_ENOMEM : CLUSTERC_ETOPOLOGY, "%s: %s",
                                    CLUSTERC__RNAME(r),
                                    n ? "out of memory fanning out" : "no node in the map");
        return 1;
    }
    nodes_of(e, r, all, to);
    plan(e, r, f);
    for (size_t i = 0; i < n; i++)
        part_new(e, f, i, clusterc__req_text(r), r->len, to[i]);
    free(to);
    return start(e, r, f);
}
