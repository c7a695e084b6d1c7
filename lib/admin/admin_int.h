/* admin_int.h -- helpers shared by the admin files (internal): one command
 * to one node with its failure put into words, parsed views, waits,
 * progress reports. Everything here runs over the public blocking API. */
#ifndef CLUSTERC_ADMIN_INT_H
#define CLUSTERC_ADMIN_INT_H
#include <stdint.h>
#include "proto/admin_pure.h"
#include "api/client_int.h"
#include "clusterc/admin.h"

/* Run a command on one node. A non-error reply is returned (caller
 * frees). On failure (no reply, or an error reply) the client's error says
 * "<node>: <what>: <reason>" and NULL is returned. */
redisReply *clusterc__admin_call(clusterc_client *c, const char *node, const char *what,
                                 const char *fmt, ...) CLUSTERC_PRINTF(4, 5);
/* The same, for commands whose reply is only +OK: 0 or -1. */
int clusterc__admin_ok(clusterc_client *c, const char *node, const char *what,
                       const char *fmt, ...) CLUSTERC_PRINTF(4, 5);

/* The text of a bulk or verbatim reply, else NULL. */
const char *clusterc__admin_text(const redisReply *r, size_t *len);

/* clusterc_admin_nodes, also returning (addr, may be NULL, 272 bytes)
 * which node answered. */
int clusterc__admin_nodes_from(clusterc_client *c, const char *node, clusterc_cluster_node **out,
                               size_t *n, char *addr);

/* clusterc__admin_nodes_from(c, NULL, ...), preferring the first view that
 * lists key (an id or "host:port"; NULL: any view): one node's view may
 * lag the others by a moment of gossip. */
int clusterc__admin_nodes_knowing(clusterc_client *c, const char *key, clusterc_cluster_node **out,
                                  size_t *n, char *addr);

/* The id or "host:port" key resolved against a fresh CLUSTER NODES: *v and *n
 * is the view (caller frees with clusterc_nodes_free), *node the entry.
 * Unknown -> -1 with the error naming key. */
int clusterc__admin_resolve(clusterc_client *c, const char *key, clusterc_cluster_node **v,
                            size_t *n, const clusterc_cluster_node **node);

/* The options to use: o, or the defaults in *def when o is NULL. */
const clusterc_admin_opts *clusterc__admin_opts(const clusterc_admin_opts *o,
                                                clusterc_admin_opts *def);

/* Room for a copied error message. */
#define CLUSTERC__ADMIN_WHY 400

int64_t clusterc__admin_now_ms(void);
void clusterc__admin_sleep_ms(int ms);

/* Call the progress callback, if any, with the given fields (the rest -1/0). */
void clusterc__admin_progress(const clusterc_admin_opts *o, int64_t t0, const char *step,
                              const char *node, const char *state);

/* Clear the client's error: the operation succeeded. */
void clusterc__admin_success(clusterc_client *c);

/* admin_agree.c. A test on one node's entry in some view. */
typedef int (*clusterc__admin_view_pred)(const clusterc_cluster_node *x, const void *arg);

/* Node x's own CLUSTER NODES (free with clusterc_nodes_free) when x is
 * askable (clusterc__admin_askable) and answers; else -1. */
int clusterc__admin_view_of(clusterc_client *c, const clusterc_cluster_node *x,
                            clusterc_cluster_node **w, size_t *nw);

/* 1 when at least one and every reachable, askable node of v lists node id
 * and pred holds for that entry (unreachable nodes are not asked). *self
 * (may be NULL): pred holds in node id's own view. behind (may be NULL,
 * 272 bytes): the first node whose view disagrees, for messages. */
int clusterc__admin_every_view(clusterc_client *c, const clusterc_cluster_node *v, size_t n,
                               const char *id, clusterc__admin_view_pred pred, const void *arg,
                               int *self, char *behind);

/* 1 when replica x's view lists its primary (as v names it) serving
 * exactly the slots the primary's own view says it serves, or when that
 * cannot be told (either node does not answer, or the primary is not in
 * v); 0 when they differ, with *slot the lowest slot they differ on. */
int clusterc__admin_knows_primary_slots(clusterc_client *c, const clusterc_cluster_node *x,
                                        const clusterc_cluster_node *v, size_t n, int *slot);

/* Replace each node's role and primary id in v with what that node says
 * of itself (its "myself" line); nodes that do not answer keep theirs. */
void clusterc__admin_own_roles(clusterc_client *c, clusterc_cluster_node *v, size_t n);
#endif
