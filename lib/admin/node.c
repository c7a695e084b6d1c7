/* admin_node.c -- membership and roles: add a node (primary or replica),
 * make a replica follow another primary, fail over, remove a node. The
 * sequences are redis-cli --cluster's (add-node, del-node), with bounded
 * waits and errors that say what state a half-done operation left. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "admin_int.h"
#include "proto/info.h"

/* Rewrite the client's error as "<prefix>: <current message>", keeping the
 * code: the inner call named the node and command, the prefix adds what
 * the operation had done so far. */
static int fail_with(clusterc_client *c, const char *prefix)
{
    char why[CLUSTERC__ADMIN_WHY];
    snprintf(why, sizeof(why), "%s", clusterc_errstr(c));
    clusterc__client_set_error(c, clusterc_error(c) ? clusterc_error(c) : CLUSTERC_EPROTOCOL,
                               "%s: %s", prefix, why);
    return -1;
}

/* ------------------------------------------------------- replication wait */

static const char *link_state(const clusterc_replication *r)
{
    if (r->master_link_up == 1 && r->master_sync_in_progress != 1)
        return "connected";
    return r->master_sync_in_progress == 1 ? "sync" : "connecting";
}

/* Poll the replica's INFO replication until it follows host:port (the
 * REPLICATE took effect: until then it may still show the link to its old
 * primary as up) and, with full, until the link is up and no sync runs. */
static int wait_link(clusterc_client *c, const char *addr, const clusterc_cluster_node *primary,
                     int full, const clusterc_admin_opts *o, int64_t t0)
{
    int64_t end = clusterc__admin_now_ms() + o->timeout_ms;
    const char *last = "";
    for (;;) {
        clusterc_replication r;
        if (clusterc_admin_replication(c, addr, &r) == 0) {
            int follows = r.master_port == primary->port && strcmp(r.master_host, primary->host) == 0;
            const char *st = follows ? link_state(&r) : "connect";
            if (strcmp(st, last) != 0 || strcmp(st, "sync") == 0) {
                clusterc_admin_progress p = { "sync", addr, st, -1, -1, -1, 0, 0,
                                              clusterc__admin_now_ms() - t0 };
                if (strcmp(st, "sync") == 0) {
                    p.bytes_total = r.master_sync_total_bytes;
                    p.bytes_done = r.master_sync_read_bytes;
                }
                if (o->progress)
                    o->progress(&p, o->progress_arg);
                last = st;
            }
            clusterc_replication_free(&r);
            if (follows && (!full || strcmp(st, "connected") == 0))
                return 0;
        }
        if (clusterc__admin_now_ms() >= end) {
            clusterc__client_set_error(c, CLUSTERC_ETIMEOUT,
                                       "%s: replication link to %s:%d not %s after %d ms (last state: %s)",
                                       addr, primary->host, primary->port,
                                       full ? "up and synced" : "set", o->timeout_ms,
                                       *last ? last : "unknown");
            return -1;
        }
        clusterc__admin_sleep_ms(o->poll_ms);
    }
}

static int follows(const clusterc_cluster_node *x, const void *primary_id)
{
    return (x->flags & CLUSTERC_NODE_SLAVE) && strcmp(x->primary_id, primary_id) == 0;
}

/* Every node's view lists the node as the primary's replica: then a check,
 * or the next add-node counting replicas, sees the new role everywhere. */
static int wait_follow(clusterc_client *c, const char *addr, const char *id,
                       const clusterc_cluster_node *p, const clusterc_admin_opts *o, int64_t t0)
{
    clusterc_cluster_node *v;
    size_t n;
    int64_t end = clusterc__admin_now_ms() + o->timeout_ms;
    if (clusterc__admin_nodes_from(c, addr, &v, &n, NULL) < 0)
        return -1;
    int ok;
    char behind[272];
    while (!(ok = clusterc__admin_every_view(c, v, n, id, follows, p->id, NULL, behind)) &&
           clusterc__admin_now_ms() < end)
        clusterc__admin_sleep_ms(o->poll_ms);
    clusterc_nodes_free(v, n);
    if (ok)
        clusterc__admin_progress(o, t0, "agree", addr, "every node lists it as a replica");
    else
        clusterc__client_set_error(c, CLUSTERC_ETIMEOUT,
                                   "%s: not every node lists it as a replica of %s:%d after %d ms (%s does not)",
                                   addr, p->host, p->port, o->timeout_ms, behind);
    return ok ? 0 : -1;
}

/* ------------------------------------------------------------ add a node */

/* redis-cli's clusterManagerNodeIsEmpty and more: a node that holds keys
 * or knows other nodes would bring its data or its cluster along. */
static int check_new(clusterc_client *c, const char *addr, char *new_id)
{
    size_t len;
    clusterc_cluster_info ci;
    redisReply *r = clusterc__admin_call(c, addr, "PING", "PING");
    if (!r)
        return fail_with(c, "new node does not answer");
    freeReplyObject(r);
    if (!(r = clusterc__admin_call(c, addr, "INFO cluster", "INFO cluster")))
        return -1;
    const char *t = clusterc__admin_text(r, &len);
    int enabled = t && strstr(t, "cluster_enabled:1") != NULL;
    freeReplyObject(r);
    if (!enabled) {
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "%s: not in cluster mode (cluster_enabled is not 1)", addr);
        return -1;
    }
    if (!(r = clusterc__admin_call(c, addr, "DBSIZE", "DBSIZE")))
        return -1;
    long long keys = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    if (keys != 0) {
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "%s: holds %lld keys; a new node must be empty", addr, keys);
        return -1;
    }
    if (clusterc_admin_cluster_info(c, addr, &ci) < 0)
        return -1;
    if (ci.known_nodes != 1) {
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "%s: already knows %lld other nodes; a new node must know only itself",
                                   addr, ci.known_nodes - 1);
        return -1;
    }
    if (!(r = clusterc__admin_call(c, addr, "CLUSTER MYID", "CLUSTER MYID")))
        return -1;
    t = clusterc__admin_text(r, &len);
    int ok = t && len == 40;
    snprintf(new_id, 41, "%.*s", ok ? 40 : 0, ok ? t : "");
    freeReplyObject(r);
    if (!ok)
        clusterc__client_set_error(c, CLUSTERC_EPROTOCOL, "%s: CLUSTER MYID: not a 40-character node id", addr);
    return ok ? 0 : -1;
}

static const clusterc_cluster_node *choose_primary(clusterc_client *c, const clusterc_cluster_node *v,
                                                   size_t n, const char *primary_id)
{
    char entry[272] = "?";
    const clusterc_cluster_node *me = clusterc__admin_myself(v, n);
    if (me)
        clusterc__admin_addr(me, entry, sizeof(entry));
    if (!primary_id) {
        const clusterc_cluster_node *p = clusterc__admin_fewest_replicas(v, n, NULL);
        if (!p)
            clusterc__client_set_error(c, CLUSTERC_EINVAL, "the cluster has no primary to follow");
        return p;
    }
    const clusterc_cluster_node *p = clusterc__admin_find(v, n, primary_id);
    if (!p)
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "%s: no such primary in the cluster (as %s sees it)",
                                   primary_id, entry);
    else if (!(p->flags & CLUSTERC_NODE_MASTER))
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "%s: is a replica, not a primary", primary_id);
    return p && (p->flags & CLUSTERC_NODE_MASTER) ? p : NULL;
}

/* The part of the check add-node insists on. An unprotected primary is
 * not a refusal: adding its replica is what fixes it. Replicas learn new
 * slot owners by gossip, a second or so after a reshard: a disagreement
 * alone is polled (within timeout_ms) before it counts. */
static int check_cluster(clusterc_client *c, const clusterc_admin_opts *o)
{
    clusterc_check_result *r;
    int64_t end = clusterc__admin_now_ms() + o->timeout_ms;
    for (;;) {
        if (clusterc_admin_check(c, &r) < 0)
            return -1;
        if (r->config_agrees || r->slots_covered != CLUSTERC_SLOTS || r->open_slots ||
            clusterc__admin_now_ms() >= end)
            break;
        clusterc_check_free(r);
        clusterc__admin_sleep_ms(o->poll_ms);
    }
    int bad = r->slots_covered != CLUSTERC_SLOTS || !r->config_agrees || r->open_slots;
    if (bad)
        clusterc__client_set_error(c, CLUSTERC_EUSAGE,
                                   "cluster check failed (%d slots covered, configuration %s, %d open slots): %s",
                                   r->slots_covered, r->config_agrees ? "agrees" : "differs",
                                   r->open_slots, r->nproblems ? r->problems[0] : "");
    clusterc_check_free(r);
    return bad ? -1 : 0;
}

/* CLUSTER MEET goes to the new node with an existing node's IP (MEET
 * needs an address, not a name); the bus port only when it is not the
 * default port+10000, as older servers take only two arguments. */
static int meet(clusterc_client *c, const char *addr, const clusterc_cluster_node *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const clusterc_cluster_node *x = &v[i];
        if (!clusterc__admin_askable(x) || (x->flags & CLUSTERC_NODE_PFAIL))
            continue;
        if (x->bus_port == x->port + 10000 || x->bus_port == 0)
            return clusterc__admin_ok(c, addr, "CLUSTER MEET", "CLUSTER MEET %s %d", x->host, x->port);
        return clusterc__admin_ok(c, addr, "CLUSTER MEET", "CLUSTER MEET %s %d %d", x->host,
                                  x->port, x->bus_port);
    }
    clusterc__client_set_error(c, CLUSTERC_ETOPOLOGY, "no healthy node of the cluster to meet");
    return -1;
}

/* A new primary gets the cluster's functions (FUNCTION DUMP on a member,
 * RESTORE on the new node), as redis-cli does: a key routed to it must find
 * the same FCALL targets as anywhere else. A member that cannot DUMP (a
 * server without functions) means there is nothing to copy; a new node
 * that already has functions is refused rather than merged. */
static int copy_functions(clusterc_client *c, const char *addr, const clusterc_cluster_node *v,
                          size_t n)
{
    char from[272];
    size_t len;
    int silent = 0;
    for (size_t i = 0; i < n; i++) {
        if (!clusterc__admin_askable(&v[i]) || (v[i].flags & CLUSTERC_NODE_PFAIL))
            continue;
        snprintf(from, sizeof(from), "%s:%d", v[i].host, v[i].port);
        redisReply *dump = clusterc_command_to_node(c, from, "FUNCTION DUMP");
        if (!dump) {
            silent++;
            continue;   /* this member did not answer: ask the next one */
        }
        if (dump->type != REDIS_REPLY_STRING) {
            freeReplyObject(dump);
            return 0;   /* an error reply: a server without functions */
        }
        redisReply *list = clusterc__admin_call(c, addr, "FUNCTION LIST", "FUNCTION LIST");
        if (!list) {
            freeReplyObject(dump);
            return -1;
        }
        int has = list->type == REDIS_REPLY_ARRAY && list->elements > 0;
        freeReplyObject(list);
        if (has) {
            freeReplyObject(dump);
            clusterc__client_set_error(c, CLUSTERC_EINVAL,
                                       "%s: the new node already has functions loaded", addr);
            return -1;
        }
        const char *payload = clusterc__admin_text(dump, &len);
        const char *argv[3] = { "FUNCTION", "RESTORE", payload };
        size_t lens[3] = { 8, 7, len };
        redisReply *r = clusterc_command_to_node_argv(c, addr, 3, argv, lens);
        freeReplyObject(dump);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        if (!ok && r)
            clusterc__client_set_error(c, CLUSTERC_EPROTOCOL, "%s: FUNCTION RESTORE: %s", addr,
                                       r->str);
        freeReplyObject(r);
        return ok ? 0 : -1;
    }
    if (silent)   /* functions may exist; adding without them would lose them */
        return fail_with(c, "no member answered FUNCTION DUMP");
    return 0;
}

/* One node's view knows the new node and every (non-failed) node of
 * want, none still in handshake. */
static int view_settled(const clusterc_cluster_node *v, size_t n, const clusterc_cluster_node *want,
                        size_t nwant, const char *new_id)
{
    const clusterc_cluster_node *x = clusterc__admin_find(v, n, new_id);
    if (!x || (x->flags & CLUSTERC_NODE_HANDSHAKE))
        return 0;
    for (size_t i = 0; i < nwant; i++) {
        x = clusterc__admin_find(v, n, want[i].id);
        /* A failed or handshaking entry (whose id is temporary) need not
         * be known everywhere. */
        if (clusterc__admin_askable(&want[i]) && (!x || (x->flags & CLUSTERC_NODE_HANDSHAKE)))
            return 0;
    }
    return 1;
}

/* redis-cli's clusterManagerWaitForClusterJoin, bounded: every node (and
 * the new one) lists every other, and their config signatures agree. */
static int joined(clusterc_client *c, const char *addr, const char *new_id,
                  const clusterc_cluster_node *v, size_t n)
{
    char *first = NULL;
    int ok = 1;
    for (size_t i = 0; ok && i <= n; i++) {
        clusterc_cluster_node *w;
        size_t nw;
        if ((i < n ? clusterc__admin_view_of(c, &v[i], &w, &nw)
                   : clusterc__admin_nodes_from(c, addr, &w, &nw, NULL)) < 0)
            continue;   /* unreachable: not asked (as redis-cli skips it) */
        char *sig = clusterc__admin_config_signature(w, nw);
        ok = view_settled(w, nw, v, n, new_id) && sig &&
             (!first || strcmp(first, sig) == 0);
        if (!first)
            first = sig;
        else
            free(sig);
        clusterc_nodes_free(w, nw);
    }
    free(first);
    /* A node that just joined answers CLUSTERDOWN (and so refuses MIGRATE
     * and reads) until it has learnt every slot's owner, and a primary
     * waits a further 2 s after startup (CLUSTER_WRITABLE_DELAY). */
    clusterc_cluster_info ci;
    return ok && clusterc_admin_cluster_info(c, addr, &ci) == 0 && ci.state_ok == 1;
}

static int wait_join(clusterc_client *c, const char *addr, const char *new_id,
                     const clusterc_cluster_node *v, size_t n, const clusterc_admin_opts *o,
                     int64_t t0)
{
    int64_t end = clusterc__admin_now_ms() + o->timeout_ms;
    clusterc__admin_progress(o, t0, "join", addr, "waiting for every node to know it");
    while (!joined(c, addr, new_id, v, n)) {
        if (clusterc__admin_now_ms() >= end) {
            clusterc__client_set_error(c, CLUSTERC_ETIMEOUT,
                                       "%s was sent CLUSTER MEET but the nodes did not all know it and agree within %d ms; it may still join as an empty primary",
                                       addr, o->timeout_ms);
            return -1;
        }
        clusterc__admin_sleep_ms(o->poll_ms);
    }
    clusterc__admin_progress(o, t0, "join", addr, "joined");
    return 0;
}

static int add_replica(clusterc_client *c, const char *addr, const char *id,
                       const clusterc_cluster_node *p, const clusterc_admin_opts *o, int64_t t0)
{
    char msg[400];
    clusterc__admin_progress(o, t0, "replicate", addr, p->id);
    if (clusterc__admin_ok(c, addr, "CLUSTER REPLICATE", "CLUSTER REPLICATE %s", p->id) < 0)
        return fail_with(c, "node joined the cluster as an empty primary but CLUSTER REPLICATE failed");
    if (o->wait_sync && wait_link(c, addr, p, 1, o, t0) < 0) {
        snprintf(msg, sizeof(msg), "node joined as a replica of %s:%d but its initial sync is not done",
                 p->host, p->port);
        return fail_with(c, msg);
    }
    if (wait_follow(c, addr, id, p, o, t0) < 0)
        return fail_with(c, "node is a replica, but the news has not reached every node");
    return 0;
}

static int add_node(clusterc_client *c, const char *addr, int as_replica, const char *primary_id,
                    const clusterc_admin_opts *o, char *chosen, clusterc_cluster_node *v, size_t n)
{
    int64_t t0 = clusterc__admin_now_ms();
    char new_id[41];
    const clusterc_cluster_node *p = NULL;
    clusterc__admin_progress(o, t0, "check", addr, "checking the new node and the cluster");
    if (check_new(c, addr, new_id) < 0)
        return -1;
    if (as_replica && !(p = choose_primary(c, v, n, primary_id)))
        return -1;
    if (p && chosen)
        snprintf(chosen, 41, "%s", p->id);
    if (check_cluster(c, o) < 0)
        return fail_with(c, "not adding the node");
    if (!as_replica) {
        clusterc__admin_progress(o, t0, "functions", addr, "FUNCTION DUMP / RESTORE");
        if (copy_functions(c, addr, v, n) < 0)
            return fail_with(c, "not adding the node");
    }
    clusterc__admin_progress(o, t0, "meet", addr, "CLUSTER MEET");
    if (meet(c, addr, v, n) < 0)
        return fail_with(c, "CLUSTER MEET failed; the cluster is unchanged");
    if (wait_join(c, addr, new_id, v, n, o, t0) < 0)
        return -1;
    if (p && add_replica(c, addr, new_id, p, o, t0) < 0)
        return -1;
    if (clusterc_refresh(c) < 0)
        return fail_with(c, "node added, but reloading the slot map failed");
    clusterc__admin_success(c);
    return 0;
}

CLUSTERC_API int clusterc_admin_add_node(clusterc_client *c, const char *new_addr,
                                         int as_replica, const char *primary_id,
                                         const clusterc_admin_opts *o, char *chosen_primary)
{
    clusterc_admin_opts def;
    clusterc_cluster_node *v;
    size_t n;
    if (!new_addr || !strchr(new_addr, ':')) {
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "add node: \"%s\" is not host:port",
                                   new_addr ? new_addr : "(null)");
        return -1;
    }
    if (chosen_primary)
        chosen_primary[0] = '\0';
    o = clusterc__admin_opts(o, &def);
    if (clusterc__admin_nodes_knowing(c, as_replica ? primary_id : NULL, &v, &n, NULL) < 0)
        return -1;
    /* "Fewest replicas" counts what the replicas themselves say: another
     * node's view may not have heard of a REPLICATE done a moment ago. */
    if (as_replica && !primary_id)
        clusterc__admin_own_roles(c, v, n);
    int rc = add_node(c, new_addr, as_replica, primary_id, o, chosen_primary, v, n);
    clusterc_nodes_free(v, n);
    return rc;
}

/* ------------------------------------------------------------- replicate */

CLUSTERC_API int clusterc_admin_replicate(clusterc_client *c, const char *node,
                                          const char *primary_id, const clusterc_admin_opts *o)
{
    clusterc_admin_opts def;
    clusterc_cluster_node *v;
    size_t n;
    const clusterc_cluster_node *x, *p;
    char addr[272];
    int64_t t0 = clusterc__admin_now_ms();
    o = clusterc__admin_opts(o, &def);
    if (!primary_id || !*primary_id) {
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "replicate %s: no primary id given",
                                   node ? node : "(null)");
        return -1;
    }
    if (clusterc__admin_resolve(c, node, &v, &n, &x) < 0)
        return -1;
    clusterc__admin_addr(x, addr, sizeof(addr));
    int rc = -1;
    if (!(p = choose_primary(c, v, n, primary_id)))
        goto out;
    if (strcmp(p->id, x->id) == 0) {
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "%s: cannot replicate itself", addr);
        goto out;
    }
    clusterc__admin_progress(o, t0, "replicate", addr, p->id);
    if (clusterc__admin_ok(c, addr, "CLUSTER REPLICATE", "CLUSTER REPLICATE %s", p->id) < 0)
        goto out;
    if (wait_link(c, addr, p, o->wait_sync, o, t0) < 0) {
        fail_with(c, "CLUSTER REPLICATE was accepted but the replica did not come up");
        goto out;
    }
    if (wait_follow(c, addr, x->id, p, o, t0) < 0) {
        fail_with(c, "the replica follows the new primary, but the news has not reached every node");
        goto out;
    }
    rc = clusterc_refresh(c) < 0 ? fail_with(c, "replicating, but reloading the slot map failed") : 0;
out:
    clusterc_nodes_free(v, n);
    if (rc == 0)
        clusterc__admin_success(c);
    return rc;
}

/* -------------------------------------------------------------- failover */

static int is_primary(const clusterc_cluster_node *x, const void *arg)
{
    (void)arg;
    return (x->flags & CLUSTERC_NODE_MASTER) != 0;
}

/* The old primary after a failover: a replica now, or failing. */
static int is_demoted(const clusterc_cluster_node *x, const void *arg)
{
    (void)arg;
    return (x->flags & (CLUSTERC_NODE_SLAVE | CLUSTERC_NODE_FAIL | CLUSTERC_NODE_PFAIL)) != 0;
}

/* A default failover is agreed with the old primary, which is alive and
 * becomes a replica: wait (up to DEMOTE_WAIT_MS more) until every node
 * says so too, so that the next admin call (a fail-back, a reshard) does
 * not find it still listed as a primary somewhere. Best effort: the
 * failover itself is done, so running out of time is not a failure (a
 * primary frozen for seconds can take ten more to be seen as demoted
 * everywhere). FORCE and TAKEOVER skip it: the old primary is often down,
 * and being marked failing takes the node timeout. */
#define DEMOTE_WAIT_MS 5000
static void wait_demoted(clusterc_client *c, const char *addr, const clusterc_cluster_node *x,
                         const clusterc_cluster_node *v, size_t n, int64_t end,
                         const clusterc_admin_opts *o, int64_t t0)
{
    int64_t until = clusterc__admin_now_ms() + DEMOTE_WAIT_MS;
    if (!x->primary_id[0])
        return;
    if (until > end)
        until = end;
    while (!clusterc__admin_every_view(c, v, n, x->primary_id, is_demoted, NULL, NULL, NULL)) {
        if (clusterc__admin_now_ms() >= until) {
            clusterc__admin_progress(o, t0, "failover", addr,
                                     "the old primary is not yet a replica everywhere");
            return;
        }
        clusterc__admin_sleep_ms(o->poll_ms);
    }
}

/* A promoted replica claims the slots its own view says its primary
 * serves. One it has not heard of yet by gossip (a reshard into the
 * primary a moment ago) is left with no owner once the old primary steps
 * down, and one it still lists after the primary gave it away is taken
 * back (docs/reliability.md, "Chaos", finding 1): wait, within the
 * failover's time, until its view of the primary's slots is the
 * primary's own. A primary that does not answer (FORCE, TAKEOVER) leaves
 * nothing to compare. */
static int wait_slots_known(clusterc_client *c, const char *addr, const clusterc_cluster_node *x,
                            const clusterc_cluster_node *v, size_t n, int64_t end,
                            const clusterc_admin_opts *o, int64_t t0)
{
    int slot, waited = 0;
    while (!clusterc__admin_knows_primary_slots(c, x, v, n, &slot)) {
        if (!waited++)
            clusterc__admin_progress(o, t0, "failover", addr,
                                     "waiting until it lists every slot of its primary");
        if (clusterc__admin_now_ms() >= end) {
            clusterc__client_set_error(c, CLUSTERC_ETIMEOUT,
                                       "%s: its view of its primary's slots still differs from the primary's own on slot %d after %d ms; not failed over, as the promotion would leave that slot with the wrong owner or none",
                                       addr, slot, o->timeout_ms);
            return -1;
        }
        clusterc__admin_sleep_ms(o->poll_ms);
    }
    return 0;
}

static int send_failover(clusterc_client *c, const char *addr, int mode)
{
    const char *arg = mode == CLUSTERC_FAILOVER_FORCE      ? " FORCE"
                      : mode == CLUSTERC_FAILOVER_TAKEOVER ? " TAKEOVER"
                                                           : "";
    return clusterc__admin_ok(c, addr, "CLUSTER FAILOVER", "CLUSTER FAILOVER%s", arg);
}

static int failover(clusterc_client *c, const char *addr, const clusterc_cluster_node *x, int mode,
                    const clusterc_cluster_node *v, size_t n, const clusterc_admin_opts *o)
{
    int64_t t0 = clusterc__admin_now_ms(), end = t0 + o->timeout_ms, next = t0 + 6000;
    int resends = 0, self = 0;
    if (wait_slots_known(c, addr, x, v, n, end, o, t0) < 0)
        return -1;
    clusterc__admin_progress(o, t0, "failover", addr, "CLUSTER FAILOVER");
    if (send_failover(c, addr, mode) < 0)
        return -1;
    char behind[272];
    while (!clusterc__admin_every_view(c, v, n, x->id, is_primary, NULL, &self, behind)) {
        int64_t now = clusterc__admin_now_ms();
        if (now >= end) {
            clusterc__client_set_error(c, CLUSTERC_ETIMEOUT,
                                       "%s: failover not seen by every node within %d ms (the replica %s itself a primary; %s does not list it as one)",
                                       addr, o->timeout_ms, self ? "is" : "is not", behind);
            return -1;
        }
        /* A default manual failover gives up server-side after 5 s when
         * the primary does not answer it (e.g. it does not list this
         * replica yet right after the cluster formed): ask again. */
        if (!self && now >= next && resends < 2) {
            resends++;
            next = now + 6000;
            clusterc__admin_progress(o, t0, "failover", addr, "CLUSTER FAILOVER again");
            if (send_failover(c, addr, mode) < 0)
                return -1;
        }
        clusterc__admin_sleep_ms(o->poll_ms);
    }
    if (mode == CLUSTERC_FAILOVER_DEFAULT)
        wait_demoted(c, addr, x, v, n, end, o, t0);
    clusterc__admin_progress(o, t0, "failover", addr, "primary");
    return 0;
}

CLUSTERC_API int clusterc_admin_failover(clusterc_client *c, const char *replica, int mode,
                                         const clusterc_admin_opts *o)
{
    clusterc_admin_opts def;
    clusterc_cluster_node *v;
    size_t n;
    const clusterc_cluster_node *x;
    char addr[272];
    o = clusterc__admin_opts(o, &def);
    if (mode < CLUSTERC_FAILOVER_DEFAULT || mode > CLUSTERC_FAILOVER_TAKEOVER) {
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "failover: mode %d is not a CLUSTERC_FAILOVER_* value", mode);
        return -1;
    }
    if (clusterc__admin_resolve(c, replica, &v, &n, &x) < 0)
        return -1;
    clusterc__admin_addr(x, addr, sizeof(addr));
    int rc = -1;
    if (!(x->flags & CLUSTERC_NODE_SLAVE))
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "%s: is a primary, not a replica; nothing to fail over", addr);
    else if (failover(c, addr, x, mode, v, n, o) == 0)
        rc = clusterc_refresh(c) < 0 ? fail_with(c, "failover done, but reloading the slot map failed") : 0;
    clusterc_nodes_free(v, n);
    if (rc == 0)
        clusterc__admin_success(c);
    return rc;
}

/* ----------------------------------------------------------- remove node */

/* The removed primary's replicas move first: a node refuses to FORGET its
 * own primary. */
static int move_replicas(clusterc_client *c, const clusterc_cluster_node *x,
                         clusterc_cluster_node *v, size_t n, const clusterc_admin_opts *o,
                         int64_t t0)
{
    clusterc__admin_own_roles(c, v, n);
    for (size_t i = 0; i < n; i++) {
        char a[272];
        /* A failed replica cannot be told; it keeps its old primary. */
        if (!(v[i].flags & CLUSTERC_NODE_SLAVE) || strcmp(v[i].primary_id, x->id) != 0 ||
            !clusterc__admin_askable(&v[i]))
            continue;
        const clusterc_cluster_node *p = clusterc__admin_fewest_replicas(v, n, x->id);
        if (!p) {
            clusterc__client_set_error(c, CLUSTERC_EUSAGE, "no other primary for the replicas of %s", x->id);
            return -1;
        }
        clusterc__admin_addr(&v[i], a, sizeof(a));
        clusterc__admin_progress(o, t0, "replicate", a, p->id);
        if (clusterc__admin_ok(c, a, "CLUSTER REPLICATE", "CLUSTER REPLICATE %s", p->id) < 0)
            return fail_with(c, "moving the replicas of the removed node failed; the node is still a member");
        /* Counted from now on: two replicas do not both go to one primary. */
        memcpy(v[i].primary_id, p->id, sizeof(v[i].primary_id));
    }
    return 0;
}

static int remove_node(clusterc_client *c, const clusterc_cluster_node *x,
                       clusterc_cluster_node *v, size_t n, const clusterc_admin_opts *o)
{
    int64_t t0 = clusterc__admin_now_ms();
    char addr[272], a[272];
    clusterc__admin_addr(x, addr, sizeof(addr));
    if (clusterc_node_slot_count(x) > 0) {
        clusterc__client_set_error(c, CLUSTERC_EUSAGE, "%s: serves %d slots; reshard them away first",
                                   addr, clusterc_node_slot_count(x));
        return -1;
    }
    if (move_replicas(c, x, v, n, o, t0) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        /* A failed node cannot be told; it is skipped rather than leaving
         * the removal half done. */
        if (&v[i] == x || !clusterc__admin_askable(&v[i]))
            continue;
        clusterc__admin_addr(&v[i], a, sizeof(a));
        clusterc__admin_progress(o, t0, "forget", a, x->id);
        if (clusterc__admin_ok(c, a, "CLUSTER FORGET", "CLUSTER FORGET %s", x->id) < 0)
            return fail_with(c, "some nodes have forgotten the node and others not (run again)");
    }
    /* Reset so it forgets the cluster too and does not gossip its way
     * back in; it may be down already, which is fine. */
    clusterc__admin_progress(o, t0, "reset", addr, "CLUSTER RESET SOFT");
    redisReply *r = clusterc_command_to_node(c, addr, "CLUSTER RESET SOFT");
    freeReplyObject(r);
    if (clusterc_refresh(c) < 0)
        return fail_with(c, "node removed, but reloading the slot map failed");
    return 0;
}

CLUSTERC_API int clusterc_admin_remove_node(clusterc_client *c, const char *id,
                                            const clusterc_admin_opts *o)
{
    clusterc_admin_opts def;
    clusterc_cluster_node *v;
    size_t n;
    const clusterc_cluster_node *x;
    o = clusterc__admin_opts(o, &def);
    if (clusterc__admin_resolve(c, id, &v, &n, &x) < 0)
        return -1;
    int rc = remove_node(c, x, v, n, o);
    clusterc_nodes_free(v, n);
    if (rc == 0)
        clusterc__admin_success(c);
    return rc;
}
