/* face_int.h -- what the Pub/Sub faces (async_pubsub.c, client_pubsub.c)
 * need of the handles async.c and client.c define (internal). The handles
 * stay opaque outside their own files: these are the only doors. */
#ifndef CLUSTERC_FACE_INT_H
#define CLUSTERC_FACE_INT_H
#include "clusterc/async.h"
#include "engine/engine.h"

/* The engine, or NULL when the options were rejected (the handle's error
 * says why). */
clusterc__engine *clusterc__async_engine(const clusterc_async *a);
clusterc__engine *clusterc__client_engine(const clusterc_client *c);
/* The handle's error, for a failing call to set. */
clusterc__err *clusterc__async_err(clusterc_async *a);
/* ffi.c: the JSON of a node list (n entries of v), for clusterc_node_stats_json
 * and the thread-safe face. NULL when out of memory. */
char *clusterc__nodes_json(const clusterc_node_info *v, int n);
#endif
