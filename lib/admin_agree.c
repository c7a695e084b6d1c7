/* admin_agree.c -- what the nodes say about each other. Gossip carries a
 * role change (REPLICATE, FAILOVER) to the other nodes a few hundred ms
 * after the node itself made it, so one node's CLUSTER NODES can be stale
 * about another's role. Decisions that depend on roles use each node's own
 * line, and operations that change a role wait until every view agrees. */
#include <stdio.h>
#include <string.h>
#include "admin_int.h"

static int askable(const clusterc_cluster_node *x)
{
    return x->port != 0 &&
           !(x->flags & (CLUSTERC_NODE_FAIL | CLUSTERC_NODE_NOADDR | CLUSTERC_NODE_HANDSHAKE));
}

int clusterc__admin_every_view(clusterc_client *c, const clusterc_cluster_node *v, size_t n,
                               const char *id, clusterc__admin_view_pred pred, const void *arg,
                               int *self)
{
    int all = 1;
    if (self)
        *self = 0;
    for (size_t i = 0; i < n; i++) {
        clusterc_cluster_node *w;
        size_t nw;
        char a[272];
        if (!askable(&v[i]))
            continue;
        clusterc__admin_addr(&v[i], a, sizeof(a));
        if (clusterc__admin_nodes_from(c, a, &w, &nw, NULL) < 0)
            continue;   /* unreachable: not asked, as redis-cli skips it */
        const clusterc_cluster_node *x = clusterc__admin_find(w, nw, id);
        int yes = x && pred(x, arg);
        if (self && strcmp(v[i].id, id) == 0)
            *self = yes;
        all &= yes;
        clusterc_nodes_free(w, nw);
    }
    return all;
}

void clusterc__admin_own_roles(clusterc_client *c, clusterc_cluster_node *v, size_t n)
{
    const unsigned role = CLUSTERC_NODE_MASTER | CLUSTERC_NODE_SLAVE;
    for (size_t i = 0; i < n; i++) {
        clusterc_cluster_node *w;
        size_t nw;
        char a[272];
        if (!askable(&v[i]))
            continue;
        clusterc__admin_addr(&v[i], a, sizeof(a));
        if (clusterc__admin_nodes_from(c, a, &w, &nw, NULL) < 0)
            continue;   /* keep what the first view said */
        for (size_t j = 0; j < nw; j++)
            if ((w[j].flags & CLUSTERC_NODE_MYSELF) && strcmp(w[j].id, v[i].id) == 0) {
                v[i].flags = (v[i].flags & ~role) | (w[j].flags & role);
                memcpy(v[i].primary_id, w[j].primary_id, sizeof(v[i].primary_id));
            }
        clusterc_nodes_free(w, nw);
    }
    clusterc__admin_success(c);   /* an unreachable node is not a failure here */
}
