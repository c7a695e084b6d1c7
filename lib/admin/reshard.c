/* admin_reshard.c -- clusterc_admin_reshard: move slots between primaries
 * one at a time as redis-cli's clusterManagerMoveSlot does. The order
 * matters: the target is set IMPORTING before the source is set MIGRATING,
 * so that an ASK the source sends is always accepted by the target; the
 * target learns it owns the slot before the source does (redis #7116), so
 * a MOVED from the source never points at a node that would bounce it
 * back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "admin_int.h"

typedef struct mover {
    clusterc_client *c;
    const clusterc_admin_opts *o;
    const clusterc_cluster_node *from, *to;
    const clusterc_cluster_node *v;
    size_t n;
    char from_addr[272], to_addr[272];
    int64_t t0;
    long long keys;
    int done, total;
} mover;

static void report(const mover *m, const char *state)
{
    if (!m->o->progress)
        return;
    clusterc_admin_progress p = { "migrate", m->from_addr, state, -1, -1, m->keys, m->done,
                                  m->total, clusterc__admin_now_ms() - m->t0 };
    m->o->progress(&p, m->o->progress_arg);
}

/* MIGRATE's arguments before the keys into head (room for 10): the key
 * is "" (the KEYS form: a format string cannot express an empty argument,
 * hence argv), then the client's own credentials, which the source passes
 * to the target (AUTH2 user password, or AUTH password for the default
 * user); without them a password-protected target answers NOAUTH. They
 * are never in a message: a failure quotes the server's reply only. */
static size_t migrate_head(const mover *m, const char **head, char *port, char *tmo)
{
    const char *user, *password;
    size_t n = 0;
    clusterc__client_auth(m->c, &user, &password);
    snprintf(port, 16, "%d", m->to->port);
    snprintf(tmo, 16, "%d", m->o->migrate_timeout_ms);
    head[n++] = "MIGRATE";
    head[n++] = m->to->host;
    head[n++] = port;
    head[n++] = "";
    head[n++] = "0";
    head[n++] = tmo;
    if (password && user && user[0]) {
        head[n++] = "AUTH2";
        head[n++] = user;
        head[n++] = password;
    } else if (password) {
        head[n++] = "AUTH";
        head[n++] = password;
    }
    head[n++] = "KEYS";
    return n;
}

/* One MIGRATE of the keys in r. Without REPLACE: a key that exists on the
 * target (BUSYKEY) would be overwritten and one of the two values lost. */
static int migrate_keys(mover *m, int slot, const redisReply *keys)
{
    const char *head[10];
    char port[16], tmo[16];
    size_t nhead = migrate_head(m, head, port, tmo), argc = nhead + keys->elements;
    const char **argv = malloc(argc * sizeof(*argv));
    size_t *lens = malloc(argc * sizeof(*lens));
    if (!argv || !lens) {
        free(argv);
        free(lens);
        clusterc__client_set_error(m->c, CLUSTERC_ENOMEM, "reshard: out of memory");
        return -1;
    }
    for (size_t i = 0; i < nhead; i++) {
        argv[i] = head[i];
        lens[i] = strlen(head[i]);
    }
    for (size_t i = 0; i < keys->elements; i++) {
        argv[nhead + i] = keys->element[i]->str;
        lens[nhead + i] = keys->element[i]->len;
    }
    redisReply *r = clusterc_command_to_node_argv(m->c, m->from_addr, (int)argc, argv, lens);
    free(argv);
    free(lens);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        /* Redis wraps the target's error: "ERR Target instance replied
         * with error: BUSYKEY ...". */
        int busy = r && strstr(r->str, "BUSYKEY") != NULL;
        clusterc__client_set_error(m->c, r ? CLUSTERC_EPROTOCOL : clusterc_error(m->c),
                                   "%s: MIGRATE of slot %d to %s failed: %s%s", m->from_addr, slot,
                                   m->to_addr, r ? r->str : clusterc_errstr(m->c),
                                   busy ? "; the key exists on both nodes, nothing was overwritten" : "");
        freeReplyObject(r);
        return -1;
    }
    freeReplyObject(r);
    m->keys += (long long)keys->elements;
    return 0;
}

static int move_keys(mover *m, int slot)
{
    for (;;) {
        redisReply *r = clusterc__admin_call(m->c, m->from_addr, "CLUSTER GETKEYSINSLOT",
                                             "CLUSTER GETKEYSINSLOT %d %d", slot, m->o->migrate_batch);
        if (!r)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
            freeReplyObject(r);
            return 0;
        }
        int rc = migrate_keys(m, slot, r);
        freeReplyObject(r);
        if (rc < 0)
            return -1;
        report(m, "moving");
    }
}

/* Append to the client's error what state the slot was left in. */
static int slot_left(mover *m, int slot, const char *state)
{
    char why[CLUSTERC__ADMIN_WHY];
    snprintf(why, sizeof(why), "%s", clusterc_errstr(m->c));
    clusterc__client_set_error(m->c, clusterc_error(m->c) ? clusterc_error(m->c) : CLUSTERC_EPROTOCOL,
                               "%s; slot %d %s", why, slot, state);
    return -1;
}

/* SETSLOT NODE everywhere: target, then source, then every other primary
 * (replicas follow their primary). A source that has become a replica
 * answers "Please use SETSLOT only with masters": harmless. Each failure
 * says what the slot's state is at that point. */
static int set_owner(mover *m, int slot)
{
    char state[700];
    if (clusterc__admin_ok(m->c, m->to_addr, "CLUSTER SETSLOT NODE", "CLUSTER SETSLOT %d NODE %s",
                           slot, m->to->id) < 0) {
        snprintf(state, sizeof(state), "is left open (migrating on %s, importing on %s)",
                 m->from_addr, m->to_addr);
        return slot_left(m, slot, state);
    }
    redisReply *r = clusterc_command_to_node(m->c, m->from_addr, "CLUSTER SETSLOT %d NODE %s",
                                             slot, m->to->id);
    if (!r || (r->type == REDIS_REPLY_ERROR && !strstr(r->str, "only with masters"))) {
        if (r)
            clusterc__client_set_error(m->c, CLUSTERC_EPROTOCOL, "%s: CLUSTER SETSLOT NODE: %s",
                                       m->from_addr, r->str);
        freeReplyObject(r);
        snprintf(state, sizeof(state), "is owned by %s but still migrating on %s", m->to_addr,
                 m->from_addr);
        return slot_left(m, slot, state);
    }
    freeReplyObject(r);
    for (size_t i = 0; i < m->n; i++) {
        const clusterc_cluster_node *x = &m->v[i];
        char a[272];
        if (x == m->from || x == m->to || !(x->flags & CLUSTERC_NODE_MASTER) ||
            !clusterc__admin_askable(x))
            continue;
        clusterc__admin_addr(x, a, sizeof(a));
        /* A node the view still calls a primary may have just been
         * demoted (a failover moments ago; views lag by a gossip round):
         * it refuses SETSLOT, and as a replica it needs none. */
        r = clusterc_command_to_node(m->c, a, "CLUSTER SETSLOT %d NODE %s", slot, m->to->id);
        int demoted = r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "only with masters");
        int failed = !r || (r->type == REDIS_REPLY_ERROR && !demoted);
        if (r && failed)
            clusterc__client_set_error(m->c, CLUSTERC_EPROTOCOL, "%s: CLUSTER SETSLOT NODE: %s",
                                       a, r->str);
        freeReplyObject(r);
        if (failed)
            return slot_left(m, slot, "moved; that primary learns the owner by gossip");
    }
    return 0;
}

static int move_slot(mover *m, int slot)
{
    char state[700];
    snprintf(state, sizeof(state), "is left open (migrating on %s, importing on %s)",
             m->from_addr, m->to_addr);
    if (clusterc__admin_ok(m->c, m->to_addr, "CLUSTER SETSLOT IMPORTING",
                           "CLUSTER SETSLOT %d IMPORTING %s", slot, m->from->id) < 0)
        return -1;   /* nothing changed */
    if (clusterc__admin_ok(m->c, m->from_addr, "CLUSTER SETSLOT MIGRATING",
                           "CLUSTER SETSLOT %d MIGRATING %s", slot, m->to->id) < 0)
        return slot_left(m, slot, "is left importing on the target");
    report(m, "moving");
    if (move_keys(m, slot) < 0)
        return slot_left(m, slot, state);
    if (set_owner(m, slot) < 0)
        return -1;
    m->done++;
    report(m, "moved");
    return 0;
}

static const clusterc_cluster_node *primary(clusterc_client *c, const clusterc_cluster_node *v,
                                            size_t n, const char *id, const char *role)
{
    const clusterc_cluster_node *x = clusterc__admin_find(v, n, id);
    if (!x)
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "reshard: %s node %s: no such node", role, id);
    else if (!(x->flags & CLUSTERC_NODE_MASTER))
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "reshard: %s node %s: is a replica, not a primary", role, id);
    return x && (x->flags & CLUSTERC_NODE_MASTER) ? x : NULL;
}

static int reshard(mover *m, const char *from_id, const char *to_id, int nslots)
{
    if (!(m->from = primary(m->c, m->v, m->n, from_id, "source")) ||
        !(m->to = primary(m->c, m->v, m->n, to_id, "target")))
        return -1;
    if (m->from == m->to) {
        clusterc__client_set_error(m->c, CLUSTERC_EINVAL, "reshard: source and target are the same node");
        return -1;
    }
    clusterc__admin_addr(m->from, m->from_addr, sizeof(m->from_addr));
    clusterc__admin_addr(m->to, m->to_addr, sizeof(m->to_addr));
    int *slots = malloc(CLUSTERC_SLOTS * sizeof(*slots));
    if (!slots) {
        clusterc__client_set_error(m->c, CLUSTERC_ENOMEM, "reshard: out of memory");
        return -1;
    }
    int have = clusterc__admin_slot_list(m->from, slots), rc = 0;
    if (have < nslots) {
        clusterc__client_set_error(m->c, CLUSTERC_EINVAL, "reshard: %s serves %d slots, fewer than %d",
                                   m->from_addr, have, nslots);
        rc = -1;
    }
    m->total = nslots;
    for (int i = 0; rc == 0 && i < nslots; i++)
        rc = move_slot(m, slots[i]);
    free(slots);
    return rc;
}

CLUSTERC_API int clusterc_admin_reshard(clusterc_client *c, const char *from_id,
                                        const char *to_id, int nslots,
                                        const clusterc_admin_opts *o)
{
    clusterc_admin_opts def;
    clusterc_cluster_node *v;
    mover m;
    memset(&m, 0, sizeof(m));
    m.c = c;
    m.o = clusterc__admin_opts(o, &def);
    m.t0 = clusterc__admin_now_ms();
    if (!from_id || !to_id || nslots <= 0 || nslots > CLUSTERC_SLOTS || m.o->migrate_batch <= 0) {
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "reshard: need two node ids, 1..16384 slots and a batch > 0");
        return -1;
    }
    /* The target may be a node added a moment ago: a view that lists it. */
    if (clusterc__admin_nodes_knowing(c, to_id, &v, &m.n, NULL) < 0)
        return -1;
    m.v = v;
    int rc = reshard(&m, from_id, to_id, nslots);
    clusterc_nodes_free(v, m.n);
    /* The map changed even when a slot failed midway; the refresh must
     * not replace the message saying which slot is open. */
    char why[CLUSTERC__ADMIN_WHY + 100];
    int code = clusterc_error(c);
    snprintf(why, sizeof(why), "%s", clusterc_errstr(c));
    int refreshed = clusterc_refresh(c) == 0;
    if (rc < 0)
        clusterc__client_set_error(c, code, "%s (%d of %d slots moved)", why, m.done, m.total);
    else if (!refreshed)
        clusterc__client_set_error(c, clusterc_error(c), "slots moved, but reloading the slot map failed");
    else
        clusterc__admin_success(c);
    return rc == 0 && refreshed ? 0 : -1;
}
