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
