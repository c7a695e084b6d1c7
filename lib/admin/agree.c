/* admin_agree.c -- what the nodes say about each other. Gossip carries a
 * role change (REPLICATE, FAILOVER) to the other nodes a few hundred ms
 * after the node itself made it, so one node's CLUSTER NODES can be stale
 * about another's role. Decisions that depend on roles use each node's own
 * line, and operations that change a role wait until every view agrees. */
#include <stdio.h>
#include <string.h>
#include "admin_int.h"

int clusterc__admin_view_of(clusterc_client *c, const clusterc_cluster_node *x,
                            clusterc_cluster_node **w, size_t *nw)
{
    char a[272];
    if (!clusterc__admin_askable(x))
        return -1;
    clusterc__admin_addr(x, a, sizeof(a));
    return clusterc__admin_nodes_from(c, a, w, nw, NULL);
}

int clusterc__admin_every_view(clusterc_client *c, const clusterc_cluster_node *v, size_t n,
                               const char *id, clusterc__admin_view_pred pred, const void *arg,
                               int *self, char *behind)
{
    int all = 1, asked = 0;
    if (self)
        *self = 0;
    if (behind)
        snprintf(behind, 272, "no node answered");
    for (size_t i = 0; i < n; i++) {
        clusterc_cluster_node *w;
        size_t nw;
        if (clusterc__admin_view_of(c, &v[i], &w, &nw) < 0)
            continue;   /* unreachable: not asked, as redis-cli skips it */
        asked++;
        const clusterc_cluster_node *x = clusterc__admin_find(w, nw, id);
        int yes = x && pred(x, arg);
        if (self && strcmp(v[i].id, id) == 0)
            *self = yes;
        if (!yes && all && behind)
            clusterc__admin_addr(&v[i], behind, 272);
        all &= yes;
        clusterc_nodes_free(w, nw);
    }
    /* Nobody answering is not agreement. */
    return asked > 0 && all;
}

/* The primary's own line for itself, and replica x's line for it. */
int clusterc__admin_knows_primary_slots(clusterc_client *c, const clusterc_cluster_node *x,
                                        const clusterc_cluster_node *v, size_t n, int *slot)
{
    const clusterc_cluster_node *p = clusterc__admin_find(v, n, x->primary_id);
    clusterc_cluster_node *pw = NULL, *xw = NULL;
    size_t npw = 0, nxw = 0;
    int known = 1;
    *slot = -1;
    if (p && clusterc__admin_view_of(c, p, &pw, &npw) == 0 &&
        clusterc__admin_view_of(c, x, &xw, &nxw) == 0) {
        const clusterc_cluster_node *own = clusterc__admin_myself(pw, npw);
        if (own && strcmp(own->id, p->id) == 0) {
            *slot = clusterc__admin_slots_differ(own, clusterc__admin_find(xw, nxw, p->id));
            known = *slot < 0;
        }
    }
    clusterc_nodes_free(pw, npw);
    clusterc_nodes_free(xw, nxw);
    clusterc__admin_success(c);   /* a node that does not answer decides nothing */
    return known;
}

void clusterc__admin_own_roles(clusterc_client *c, clusterc_cluster_node *v, size_t n)
{
    const unsigned role = CLUSTERC_NODE_MASTER | CLUSTERC_NODE_SLAVE;
    for (size_t i = 0; i < n; i++) {
        clusterc_cluster_node *w;
        size_t nw;
        if (clusterc__admin_view_of(c, &v[i], &w, &nw) < 0)
            continue;   /* keep what the first view said */
        const clusterc_cluster_node *me = clusterc__admin_myself(w, nw);
        if (me && strcmp(me->id, v[i].id) == 0) {
            v[i].flags = (v[i].flags & ~role) | (me->flags & role);
            memcpy(v[i].primary_id, me->primary_id, sizeof(v[i].primary_id));
        }
        clusterc_nodes_free(w, nw);
    }
    clusterc__admin_success(c);   /* an unreachable node is not a failure here */
}
