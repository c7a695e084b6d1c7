/* admin_check.c -- clusterc_admin_check: redis-cli's `--cluster check`
 * (every node's CLUSTER NODES agrees on the slot map, all 16384 slots are
 * served, no slot is left migrating or importing) plus what the lab adds:
 * primaries without a replica, replica links and lag. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "admin_int.h"
#include "proto/info.h"

/* What one node said about itself and the cluster. */
typedef struct probe {
    const clusterc_cluster_node *node;   /* its line in the entry view */
    char addr[272];
    int reachable;
    clusterc_cluster_node *view;         /* its own CLUSTER NODES */
    size_t nview;
    char *sig;                           /* config signature of view */
    int state_ok;
    clusterc_replication repl;
    int have_repl;
} probe;

typedef struct checker {
    clusterc_client *c;
    clusterc_cluster_node *entry;        /* the first answering node's view */
    size_t nentry;
    probe *p;
    size_t np;
    clusterc_check_result *r;
    size_t problems_cap;
    int oom;
} checker;

/* ------------------------------------------------------------- problems */

static void problem(checker *k, const char *fmt, ...) CLUSTERC_PRINTF(2, 3);
static void problem(checker *k, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    clusterc_check_result *r = k->r;
    if (r->nproblems == k->problems_cap) {
        size_t cap = k->problems_cap ? k->problems_cap * 2 : 8;
        char **v = realloc(r->problems, cap * sizeof(*v));
        if (!v) {
            k->oom = 1;
            return;
        }
        r->problems = v;
        k->problems_cap = cap;
    }
    char *s = malloc(strlen(line) + 1);
    if (!s) {
        k->oom = 1;
        return;
    }
    strcpy(s, line);
    r->problems[r->nproblems++] = s;
}

/* ---------------------------------------------------------------- probing */

static int skip_node(const clusterc_cluster_node *n)
{
    /* Nodes still in handshake, or without an address, cannot be asked. */
    return (n->flags & (CLUSTERC_NODE_HANDSHAKE | CLUSTERC_NODE_NOADDR)) || n->port == 0;
}

static void probe_one(checker *k, probe *p)
{
    clusterc_cluster_info ci;
    clusterc__admin_addr(p->node, p->addr, sizeof(p->addr));
    if (clusterc__admin_nodes_from(k->c, p->addr, &p->view, &p->nview, NULL) < 0 ||
        clusterc_admin_cluster_info(k->c, p->addr, &ci) < 0) {
        /* Out of memory here is this process's failure, not the node's:
         * the check fails with ENOMEM rather than call the node unreachable. */
        if (clusterc_error(k->c) == CLUSTERC_ENOMEM)
            k->oom = 1;
        problem(k, "%s: unreachable (%s)", p->addr, clusterc_errstr(k->c));
        k->r->unreachable++;
        return;
    }
    p->reachable = 1;
    p->state_ok = ci.state_ok == 1;
    p->sig = clusterc__admin_config_signature(p->view, p->nview);
    if (!p->sig)
        k->oom = 1;
    p->have_repl = clusterc_admin_replication(k->c, p->addr, &p->repl) == 0;
    if (!p->have_repl && clusterc_error(k->c) == CLUSTERC_ENOMEM)
        k->oom = 1;
    if (!p->have_repl)
        problem(k, "%s: INFO replication failed (%s)", p->addr, clusterc_errstr(k->c));
}

static int probe_all(checker *k)
{
    k->p = calloc(k->nentry ? k->nentry : 1, sizeof(*k->p));
    if (!k->p)
        return -1;
    for (size_t i = 0; i < k->nentry; i++) {
        if (skip_node(&k->entry[i]))
            continue;
        probe *p = &k->p[k->np++];
        p->node = &k->entry[i];
        probe_one(k, p);
    }
    return 0;
}

/* ------------------------------------------------------------- the checks */

static void check_config(checker *k)
{
    const probe *first = NULL;
    k->r->config_agrees = 1;
    k->r->cluster_state_ok = 1;
    for (size_t i = 0; i < k->np; i++) {
        const probe *p = &k->p[i];
        if (!p->reachable)
            continue;
        if (!p->state_ok) {
            k->r->cluster_state_ok = 0;
            problem(k, "%s: cluster_state is not ok", p->addr);
        }
        if (!first) {
            first = p;
        } else if (p->sig && first->sig && strcmp(p->sig, first->sig) != 0) {
            k->r->config_agrees = 0;
            problem(k, "%s: slot configuration differs from %s's", p->addr, first->addr);
        }
    }
    if (!first)
        k->r->config_agrees = k->r->cluster_state_ok = 0;
}

/* Coverage and open slots from each node's own line: only a node's own
 * line carries its [slot->-id] / [slot-<-id] markers, and what a node
 * serves is what it says of itself. */
static void check_slots(checker *k)
{
    unsigned char covered[CLUSTERC_SLOTS] = { 0 }, open[CLUSTERC_SLOTS] = { 0 };
    for (size_t i = 0; i < k->np; i++) {
        const probe *p = &k->p[i];
        const clusterc_cluster_node *me =
            p->reachable ? clusterc__admin_myself(p->view, p->nview) : NULL;
        if (!me)
            continue;
        for (size_t j = 0; (me->flags & CLUSTERC_NODE_MASTER) && j < me->nslots; j++)
            for (int s = me->slots[j].start; s <= me->slots[j].end; s++)
                covered[s] = 1;
        for (size_t j = 0; j < me->nmigrating; j++) {
            problem(k, "%s: slot %d is migrating to %.8s", p->addr, me->migrating[j].slot,
                    me->migrating[j].node);
            open[me->migrating[j].slot] = 1;
        }
        for (size_t j = 0; j < me->nimporting; j++) {
            problem(k, "%s: slot %d is importing from %.8s", p->addr, me->importing[j].slot,
                    me->importing[j].node);
            open[me->importing[j].slot] = 1;
        }
    }
    for (int s = 0; s < CLUSTERC_SLOTS; s++) {
        k->r->slots_covered += covered[s];
        k->r->open_slots += open[s];
    }
    if (k->r->slots_covered != CLUSTERC_SLOTS)
        problem(k, "only %d of %d slots are covered", k->r->slots_covered, CLUSTERC_SLOTS);
}

static const probe *probe_of(const checker *k, const char *id)
{
    for (size_t i = 0; i < k->np; i++)
        if (strcmp(k->p[i].node->id, id) == 0)
            return &k->p[i];
    return NULL;
}

static void check_primaries(checker *k)
{
    clusterc_check_result *r = k->r;
    for (size_t i = 0; i < k->nentry; i++) {
        const clusterc_cluster_node *n = &k->entry[i];
        if (skip_node(n) || !(n->flags & CLUSTERC_NODE_MASTER))
            continue;
        clusterc_check_primary *cp = &r->primaries[r->nprimaries++];
        clusterc__admin_addr(n, cp->addr, sizeof(cp->addr));
        snprintf(cp->id, sizeof(cp->id), "%s", n->id);
        cp->slots = clusterc_node_slot_count(n);
        cp->replicas = clusterc__admin_replica_count(k->entry, k->nentry, n->id);
        if (cp->slots > 0 && cp->replicas == 0) {
            r->unprotected++;
            problem(k, "%s: no replica - %d slots at risk", cp->addr, cp->slots);
        }
    }
}

/* Lag as the primary sees it (its slaveN line, matched by ip:port): the
 * seconds since the replica's last REPLCONF ACK and the bytes it trails. */
static void replica_lag(const checker *k, const clusterc_cluster_node *n,
                        clusterc_check_replica *cr)
{
    const probe *pp = probe_of(k, n->primary_id);
    cr->lag_s = cr->lag_bytes = -1;
    if (!pp || !pp->have_repl)
        return;
    for (size_t j = 0; j < pp->repl.nreplicas; j++) {
        const clusterc_replica_link *l = &pp->repl.replicas[j];
        if (l->port == n->port && strcmp(l->ip, n->host) == 0) {
            cr->lag_s = l->lag;
            cr->lag_bytes = pp->repl.master_repl_offset - l->offset;
        }
    }
}

static void check_replicas(checker *k)
{
    clusterc_check_result *r = k->r;
    for (size_t i = 0; i < k->nentry; i++) {
        const clusterc_cluster_node *n = &k->entry[i];
        if (skip_node(n) || !(n->flags & CLUSTERC_NODE_SLAVE))
            continue;
        clusterc_check_replica *cr = &r->replicas[r->nreplicas++];
        const probe *me = probe_of(k, n->id);
        clusterc__admin_addr(n, cr->addr, sizeof(cr->addr));
        snprintf(cr->id, sizeof(cr->id), "%s", n->id);
        snprintf(cr->primary_id, sizeof(cr->primary_id), "%s", n->primary_id);
        cr->link_up = me && me->have_repl && me->repl.master_link_up == 1;
        replica_lag(k, n, cr);
        cr->lag_class = clusterc_lag_classify(cr->lag_s);
        if (!cr->link_up)
            problem(k, "%s: replica link to its primary is down", cr->addr);
    }
}

/* ----------------------------------------------------------------- report */

static const char *addr_of_id(const checker *k, const char *id)
{
    const probe *p = probe_of(k, id);
    return p ? p->addr : id;
}

static void report_nodes(const checker *k, clusterc__sbuf *b)
{
    const clusterc_check_result *r = k->r;
    for (size_t i = 0; i < r->nprimaries; i++)
        clusterc__sbuf_printf(b, "%s (%.8s...) -> %d slots | %d replica%s\n",
                              r->primaries[i].addr, r->primaries[i].id, r->primaries[i].slots,
                              r->primaries[i].replicas, r->primaries[i].replicas == 1 ? "" : "s");
    for (size_t i = 0; i < r->nreplicas; i++) {
        const clusterc_check_replica *cr = &r->replicas[i];
        clusterc__sbuf_printf(b, "%s (%.8s...) replica of %s: link %s, ", cr->addr, cr->id,
                              addr_of_id(k, cr->primary_id), cr->link_up ? "up" : "down");
        if (cr->lag_s < 0)
            clusterc__sbuf_printf(b, "lag unknown (%s)\n", clusterc_lag_class_str(cr->lag_class));
        else
            clusterc__sbuf_printf(b, "lag %llds (%s), %lld bytes behind\n", cr->lag_s,
                                  clusterc_lag_class_str(cr->lag_class), cr->lag_bytes);
    }
}

static char *report(const checker *k, const char *entry_addr)
{
    const clusterc_check_result *r = k->r;
    clusterc__sbuf b = { 0 };
    clusterc__sbuf_printf(&b, ">>> Performing Cluster Check (using node %s)\n", entry_addr);
    report_nodes(k, &b);
    clusterc__sbuf_printf(&b, r->config_agrees ? "[OK] All nodes agree about slots configuration.\n"
                                               : "[ERR] Nodes don't agree about configuration!\n");
    if (r->open_slots)
        clusterc__sbuf_printf(&b, "[WARNING] %d slots open (migrating or importing).\n",
                              r->open_slots);
    else
        clusterc__sbuf_printf(&b, "[OK] No open slots.\n");
    if (r->slots_covered == CLUSTERC_SLOTS)
        clusterc__sbuf_printf(&b, "[OK] All %d slots covered.\n", CLUSTERC_SLOTS);
    else
        clusterc__sbuf_printf(&b, "[ERR] Not all %d slots are covered by nodes (%d are).\n",
                              CLUSTERC_SLOTS, r->slots_covered);
    for (size_t i = 0; i < r->nproblems; i++)
        clusterc__sbuf_printf(&b, "%s\n", r->problems[i]);
    if (r->ok)
        clusterc__sbuf_printf(&b, "[OK] Cluster healthy, every primary has a replica.\n");
    else
        clusterc__sbuf_printf(&b, "[ERR] %zu problem(s) found.\n", r->nproblems);
    return clusterc__sbuf_take(&b);
}

/* ------------------------------------------------------------------ entry */

static void checker_free(checker *k)
{
    for (size_t i = 0; i < k->np; i++) {
        clusterc_nodes_free(k->p[i].view, k->p[i].nview);
        free(k->p[i].sig);
        clusterc_replication_free(&k->p[i].repl);
    }
    free(k->p);
    clusterc_nodes_free(k->entry, k->nentry);
}

static int run(checker *k, const char *entry_addr)
{
    clusterc_check_result *r = k->r;
    size_t cap = k->nentry ? k->nentry : 1;
    r->primaries = calloc(cap, sizeof(*r->primaries));
    r->replicas = calloc(cap, sizeof(*r->replicas));
    if (!r->primaries || !r->replicas || probe_all(k) < 0)
        return -1;
    check_config(k);
    check_slots(k);
    check_primaries(k);
    check_replicas(k);
    int links_up = 1;
    for (size_t i = 0; i < r->nreplicas; i++)
        links_up &= r->replicas[i].link_up;
    r->ok = r->cluster_state_ok && r->slots_covered == CLUSTERC_SLOTS && r->config_agrees &&
            r->open_slots == 0 && r->unprotected == 0 && links_up && r->unreachable == 0;
    r->report = report(k, entry_addr);
    return k->oom || !r->report ? -1 : 0;
}

CLUSTERC_API int clusterc_admin_check(clusterc_client *c, clusterc_check_result **out)
{
    checker k;
    char entry_addr[272];
    memset(&k, 0, sizeof(k));
    k.c = c;
    if (!out) {
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "clusterc_admin_check: out is required");
        return -1;
    }
    *out = NULL;
    if (clusterc__admin_nodes_from(c, NULL, &k.entry, &k.nentry, entry_addr) < 0)
        return -1;
    k.r = calloc(1, sizeof(*k.r));
    if (!k.r || run(&k, entry_addr) < 0) {
        checker_free(&k);
        clusterc_check_free(k.r);
        clusterc__client_set_error(c, CLUSTERC_ENOMEM, "cluster check: out of memory");
        return -1;
    }
    checker_free(&k);
    *out = k.r;
    clusterc__admin_success(c);
    return 0;
}

CLUSTERC_API void clusterc_check_free(clusterc_check_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nproblems; i++)
        free(r->problems[i]);
    free(r->problems);
    free(r->primaries);
    free(r->replicas);
    free(r->report);
    free(r);
}
