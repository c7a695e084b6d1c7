/*
 * stats.h -- libclusterc's counters and per-node views: what the client did
 * (clusterc_stats) and what it knows of each node of the map, with why a
 * node gets no reads (clusterc_node_info). Part of <clusterc/clusterc.h>,
 * which includes it; the async face has its own getters in <clusterc/async.h>.
 *
 * Threads: as the client itself (call from the thread that uses it).
 */
#ifndef CLUSTERC_STATS_H
#define CLUSTERC_STATS_H
#include <stdint.h>
#include "clusterc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ stats */

/* Counters since the client was created (both faces keep them). */
typedef struct clusterc_stats {
    uint64_t commands;     /* commands submitted */
    uint64_t moved;        /* MOVED replies followed */
    uint64_t ask;          /* ASK replies followed */
    uint64_t retries;      /* TRYAGAIN / CLUSTERDOWN / LOADING / reconnect retries */
    uint64_t refreshes;    /* slot-map loads run (CLUSTER SHARDS / SLOTS
                              rounds, whatever their outcome) */
    uint64_t refresh_requests; /* triggers: MOVED, lost nodes, timeouts,
                                  the periodic timer... (coalesced) */
    uint64_t connects;     /* connections opened */
    uint64_t failures;     /* commands that failed (no reply) */
    uint64_t blocking_conns;   /* connections opened for blocking commands */
    uint64_t messages;     /* Pub/Sub messages delivered */
    uint64_t messages_dropped; /* blocking face: dropped from a full queue */
    uint64_t resubscribes; /* subscriptions made again after a failover, a
                              migration, a lost connection or a map change */
    uint64_t unsubscribed_us;  /* summed time wanted subscriptions spent not
                                  subscribed after their first subscribe */
    uint64_t probes_refused;   /* lag polls (INFO) and latency probes (PING)
                                  a node refused, as an ACL user without
                                  +info or +ping gets (NOPERM): see
                                  lag_unavailable */
    int lag_unavailable;       /* 1: a lag bound or read_your_writes is on,
                                  but INFO is refused, so replica lag is
                                  unknown: replicas that need a lag figure
                                  get no reads (node why: "lag unavailable")
                                  and those reads go to the primary */
    uint64_t subscribes_refused;  /* subscriptions a node refused for good
                                     (NOPERM...): SUBSCRIBE_REFUSED event */
    uint64_t maps_deferred;    /* maps that demoted our primary, put off
                                  until that node itself was asked */
} clusterc_stats;

/* Copy the counters into *out. */
CLUSTERC_API void clusterc_get_stats(const clusterc_client *c, clusterc_stats *out);

/* What the client knows of one node: where reads go, and why not. */
typedef struct clusterc_node_info {
    char addr[272];        /* dialled address "host:port" */
    char announced[272];   /* address the cluster announces (before remap) */
    char id[41];           /* node id, "" if unknown */
    int is_primary;        /* role in the current map */
    int shard;             /* shard index in the current map, -1 if none */
    int connected;         /* a connection is up */
    uint64_t reads;        /* read-only commands sent to it */
    uint64_t writes;       /* other commands sent to it */
    uint64_t redirects;    /* MOVED/ASK it answered */
    uint64_t errors;       /* connection failures and retryable error replies */
    int64_t latency_us;    /* PING round-trip EWMA, -1 before the first sample */
    int64_t lag_s;         /* replica lag from the last poll, -1 unknown */
    int64_t lag_bytes;     /* replica offset behind its primary, -1 unknown */
    char az[64];           /* its zone (with client_az set), "" = none */
    int eligible;          /* may serve reads now */
    const char *why;       /* "ok" or why not ("failing", "loading", "link
                              down", "lag time", "lag bytes", "lag
                              unavailable" (INFO refused), "READONLY refused"
                              (ACL), "read-your-writes"...); static string */
} clusterc_node_info;

/*
 * Fill out[0..max) with the nodes of the current map (primaries and
 * replicas, by shard). Returns how many nodes there are (which may be more
 * than max), or -1 when there is no map yet.
 */
CLUSTERC_API int clusterc_node_stats(const clusterc_client *c, clusterc_node_info *out, int max);

#ifdef __cplusplus
}
#endif
#endif /* CLUSTERC_STATS_H */
