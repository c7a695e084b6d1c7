/* overload.c -- the bounds that keep a client's memory in check when the
 * servers are slower than the application (max_inflight), or a node is
 * away while commands for it keep coming (max_node_queue).
 *
 * Both refuse rather than wait: a caller's command beyond a bound fails at
 * once with CLUSTERC_EOVERLOAD, so the application sees the overload where
 * it can act on it (shed, slow down), instead of memory growing until the
 * deadlines catch up.
 */
#include <stdio.h>
#include <stdlib.h>
#include "engine_int.h"

clusterc__req *clusterc__req_new_user(clusterc__engine *e, const clusterc__cmdtext *t,
                                      clusterc__done_fn *done, clusterc__err *err)
{
    if (e->opt.max_inflight > 0 && e->user_pending >= (size_t)e->opt.max_inflight) {
        clusterc__err_set(err, CLUSTERC_EOVERLOAD, "overloaded: %zu commands are in flight "
                          "(max_inflight %d): this one was not sent", e->user_pending,
                          e->opt.max_inflight);
        clusterc__cmdtext_release(e, t);
        return NULL;
    }
    return clusterc__req_new_text(e, t, done, err);
}

int clusterc__node_queue_full(clusterc__engine *e, clusterc__node *n, clusterc__req *r)
{
    if (e->opt.max_node_queue <= 0 || n->conn.fcount < (size_t)e->opt.max_node_queue ||
        r->internal)
        return 0;
    clusterc__engine_fail_later(e, r, CLUSTERC_EOVERLOAD, "%s: %s is not connected and already "
                                "holds %zu commands (max_node_queue %d): not sent",
                                CLUSTERC__RNAME(r), n->name, n->conn.fcount,
                                e->opt.max_node_queue);
    return 1;
}
