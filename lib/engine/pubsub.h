/* pubsub.h -- Pub/Sub in the engine (internal): the subscriptions the
 * client wants, and the subscriber connections that carry them.
 *
 * Classic channels and patterns ride one subscriber connection to one node
 * of the map; shard channels one connection per node owning a subscribed
 * slot. pubsub.c makes the actual subscriptions match the wanted ones after
 * every map change, lost connection or server-sent SUNSUBSCRIBE. Subscriber
 * connections are clusterc__conn in push mode (conn.h), with their own ops.
 */
#ifndef CLUSTERC_PUBSUB_H
#define CLUSTERC_PUBSUB_H
#include <stddef.h>
#include "clusterc/clusterc.h"
#include "proto/errors.h"

typedef struct clusterc__engine clusterc__engine;
typedef struct clusterc__pubsub clusterc__pubsub;

/* A message for the face: m valid during the call; ufn, u1, u2 as given to
 * want. Runs inside the engine's enter/leave: it may free the client (the
 * engine stops reading that connection) or (un)subscribe. */
typedef void clusterc__pubsub_fn(clusterc__engine *e, const clusterc_message *m,
                                 void (*ufn)(void), void *u1, void *u2);

int clusterc__pubsub_init(clusterc__engine *e);      /* engine_new; -1 on OOM */
void clusterc__pubsub_fini(clusterc__engine *e);     /* engine destroy: free all, quietly */
void clusterc__pubsub_on_map(clusterc__engine *e);   /* a map was installed */
void clusterc__pubsub_drain(clusterc__engine *e);    /* drain: close subscriber conns */

/* Want a subscription (kind CLUSTERC_PUBSUB_*; name of len bytes). Again
 * for the same kind and name replaces fn/ufn/u1/u2. Never calls fn from
 * inside. 0, or -1 with err set (ECLOSED draining, EINVAL, ENOMEM). */
int clusterc__pubsub_want(clusterc__engine *e, int kind, const char *name, size_t len,
                          clusterc__pubsub_fn *fn, void (*ufn)(void), void *u1, void *u2,
                          clusterc__err *err);
/* Stop wanting it: no fn call for it after this. 0, or -1 (not wanted). */
int clusterc__pubsub_unwant(clusterc__engine *e, int kind, const char *name, size_t len,
                            clusterc__err *err);

/* State a face keeps beside the engine (the blocking face's message
 * queue): freed with face_free when the engine is, never before. */
void clusterc__pubsub_set_face(clusterc__engine *e, void *face, void (*face_free)(void *));
void *clusterc__pubsub_face(const clusterc__engine *e);
int clusterc__pubsub_queue_max(const clusterc__engine *e);   /* options.pubsub_queue_max */
void clusterc__pubsub_count_dropped(clusterc__engine *e);    /* stats.messages_dropped++ */
#endif
