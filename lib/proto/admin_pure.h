/* admin_pure.h -- the decisions of the admin API that need no I/O
 * (internal): config signatures, choosing a primary, finding nodes in a
 * parsed CLUSTER NODES, a growable text buffer for reports. */
#ifndef CLUSTERC_ADMIN_PURE_H
#define CLUSTERC_ADMIN_PURE_H
#include <stddef.h>
#include "clusterc/admin.h"

/* ------------------------------------------------------------ text buffer */

/* A NUL-terminated string that grows; after a failed allocation it stays
 * as it was and oom is set, so callers check once at the end. */
typedef struct clusterc__sbuf {
    char *p;
    size_t len, cap;
    int oom;
} clusterc__sbuf;

void clusterc__sbuf_printf(clusterc__sbuf *b, const char *fmt, ...) CLUSTERC_PRINTF(2, 3);
/* Hand the string over (caller frees; "" if nothing was written, NULL on
 * out-of-memory) and reset b. */
char *clusterc__sbuf_take(clusterc__sbuf *b);

/* ------------------------------------------------------------ node lists */

/* "host:port" of a node into buf. */
void clusterc__admin_addr(const clusterc_cluster_node *n, char *buf, size_t cap);

/* The node whose id is key, or whose "host:port" is key; NULL if none. */
const clusterc_cluster_node *clusterc__admin_find(const clusterc_cluster_node *v, size_t n,
                                                  const char *key);

/* Worth sending a command to: has an address and is not flagged fail,
 * noaddr or handshake. */
int clusterc__admin_askable(const clusterc_cluster_node *x);

/* The node flagged myself; NULL if none. */
const clusterc_cluster_node *clusterc__admin_myself(const clusterc_cluster_node *v, size_t n);

/* Replicas following primary_id (those flagged fail not counted: they
 * protect nothing). */
int clusterc__admin_replica_count(const clusterc_cluster_node *v, size_t n,
                                  const char *primary_id);

/* The primary with the fewest replicas, the first such in list order,
 * skipping exclude_id (may be NULL) and failed primaries. Primaries that
 * serve slots are preferred: a replica of an empty primary protects no
 * data. NULL when there is no primary. */
const clusterc_cluster_node *clusterc__admin_fewest_replicas(const clusterc_cluster_node *v,
                                                             size_t n, const char *exclude_id);

/* redis-cli's config signature of one node's view: "id:ranges" of every
 * node that serves slots, sorted, joined by "|". Two nodes agree on the
 * slot assignment when their signatures are equal. Caller frees; NULL on
 * out-of-memory. */
char *clusterc__admin_config_signature(const clusterc_cluster_node *v, size_t n);

/* The slots a node serves, ascending, into out (16384 ints); returns how
 * many. */
int clusterc__admin_slot_list(const clusterc_cluster_node *node, int *out);
/* The lowest slot that exactly one of a and b serves (two nodes' views of
 * one node's slots; NULL serves none), or -1 when they list the same. */
int clusterc__admin_slots_differ(const clusterc_cluster_node *a, const clusterc_cluster_node *b);
#endif
