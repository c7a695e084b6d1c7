/* topology.h -- the slot map, built from CLUSTER SHARDS or CLUSTER SLOTS (pure). */
#ifndef CLUSTERC_TOPOLOGY_H
#define CLUSTERC_TOPOLOGY_H
#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include "addr.h"

#define CLUSTERC__NSLOTS 16384

typedef enum { CLUSTERC__ROLE_PRIMARY = 0, CLUSTERC__ROLE_REPLICA = 1 } clusterc__role;
typedef enum {
    CLUSTERC__HEALTH_ONLINE = 0,
    CLUSTERC__HEALTH_LOADING,
    CLUSTERC__HEALTH_FAIL,
    CLUSTERC__HEALTH_UNKNOWN   /* CLUSTER SLOTS gives no health */
} clusterc__health;

typedef struct clusterc__topo_node {
    clusterc__addr addr;       /* where to dial (endpoint, or the asked host) */
    char id[41];               /* node id, "" when the reply has none */
    clusterc__role role;
    clusterc__health health;
    long long repl_offset;     /* SHARDS "replication-offset"; -1 unknown */
    char hostname[CLUSTERC__HOST_MAX]; /* SHARDS/SLOTS hostname, "" if none */
} clusterc__topo_node;

typedef struct clusterc__topo_shard {
    clusterc__topo_node *nodes; /* nodes[0] is the primary */
    size_t nnodes;
} clusterc__topo_shard;

typedef struct clusterc__topology {
    clusterc__topo_shard *shards;
    size_t nshards;
    int16_t slot_shard[CLUSTERC__NSLOTS]; /* shard index, -1 = not served */
    int from_shards;                      /* 1: CLUSTER SHARDS, 0: SLOTS */
} clusterc__topology;

/*
 * Build a topology from a CLUSTER SHARDS reply (RESP2 arrays of key/value
 * pairs). asked_host is the host of the node that answered: used for an
 * empty or NULL endpoint. A node whose endpoint is "?" (unknown) is left out;
 * a shard with no primary that can be dialled serves no slot. Slots outside
 * 0..16383, reversed ranges, wrong types or missing fields reject the whole
 * reply: returns -1 with err saying what and where, *out untouched.
 * Returns 0 and a new topology in *out (free with clusterc__topology_free).
 */
int clusterc__topology_from_shards(const redisReply *r, const char *asked_host,
                                   clusterc__topology **out, char *err, size_t errcap);
/* The same for a client whose connections are TLS (tls != 0): each node
 * is dialled at its "tls-port" when it announces one. */
int clusterc__topology_from_shards_tls(const redisReply *r, const char *asked_host, int tls,
                                       clusterc__topology **out, char *err, size_t errcap);

/* The same from a CLUSTER SLOTS reply: ranges with the same primary are one
 * shard; replicas are the entries after the primary. */
int clusterc__topology_from_slots(const redisReply *r, const char *asked_host,
                                  clusterc__topology **out, char *err, size_t errcap);

/* Number of slots served (0..16384). */
int clusterc__topology_covered(const clusterc__topology *t);

void clusterc__topology_free(clusterc__topology *t);
#endif
