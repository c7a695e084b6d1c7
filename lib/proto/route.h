/* route.h -- which node of a shard serves a read (pure).
 *
 * The engine takes a snapshot of the shard's nodes (health, latency, lag)
 * and asks this function; it has no I/O and no clock of its own, so unit
 * tests drive it with fake snapshots and a seeded RNG.
 */
#ifndef CLUSTERC_ROUTE_H
#define CLUSTERC_ROUTE_H
#include <stddef.h>
#include <stdint.h>

/* Read policies, in go-redis's precedence. */
typedef enum clusterc__policy {
    CLUSTERC__POLICY_PRIMARY = 0,   /* no read routing: everything to the primary */
    CLUSTERC__POLICY_READ_ONLY,     /* replicas round-robin, primary as fallback */
    CLUSTERC__POLICY_RANDOM,        /* uniform over eligible primary + replicas */
    CLUSTERC__POLICY_LATENCY        /* lowest latency, tolerance band round-robin */
} clusterc__policy;

/* Per-command override (mirrors CLUSTERC_ROUTE_* in clusterc.h). */
typedef enum clusterc__route_mode {
    CLUSTERC__MODE_DEFAULT = 0,     /* the client's policy */
    CLUSTERC__MODE_PRIMARY,         /* always the primary */
    CLUSTERC__MODE_REPLICA,         /* a replica or nothing (-1, ENOREPLICA) */
    CLUSTERC__MODE_ANY              /* the policy, primary allowed as a peer */
} clusterc__route_mode;

/* Why a node may not serve a read now (first reason that applies). */
typedef enum clusterc__inelig {
    CLUSTERC__ELIGIBLE = 0,
    CLUSTERC__INELIG_FAILING,       /* connection error within failing_ms */
    CLUSTERC__INELIG_LOADING,       /* SHARDS health "loading" or a LOADING reply */
    CLUSTERC__INELIG_FAILED,        /* SHARDS health "fail" */
    CLUSTERC__INELIG_LINK_DOWN,     /* replica's link to its primary is down */
    CLUSTERC__INELIG_LAG_TIME,      /* lag (s) above max_lag_ms */
    CLUSTERC__INELIG_LAG_BYTES,     /* offset behind by more than max_lag_bytes */
    CLUSTERC__INELIG_RYW,           /* has not acknowledged this client's last write */
    CLUSTERC__INELIG_NO_READONLY,   /* refused READONLY (ACL): would answer MOVED */
    CLUSTERC__INELIG_COUNT
} clusterc__inelig;

/* Short text for a reason ("ok", "failing", "loading", ...). Static. */
const char *clusterc__inelig_str(clusterc__inelig why);

/* What the engine knows of one node at routing time. */
typedef struct clusterc__route_node {
    int64_t failing_until_us;   /* ineligible while now < this */
    int64_t loading_until_us;   /* ineligible while now < this */
    uint8_t health_loading;     /* from CLUSTER SHARDS */
    uint8_t health_failed;      /* from CLUSTER SHARDS */
    uint8_t readonly_refused;   /* READONLY was refused (ACL): no reads on a replica */
    uint8_t lag_known;          /* a lag poll has reported on this replica */
    uint8_t link_up;            /* lag poll: listed by its primary, state=online */
    int64_t lag_s;              /* lag poll: seconds since its last ACK */
    int64_t lag_bytes;          /* lag poll: master_repl_offset - its offset */
    uint8_t ryw_stale;          /* read-your-writes: not yet caught up */
    uint8_t has_latency;        /* at least one probe sample */
    uint8_t in_zone;            /* its availability zone is the client's */
    uint32_t latency_us;        /* EWMA of PING round trips */
} clusterc__route_node;

typedef struct clusterc__route_cfg {
    clusterc__policy policy;
    int latency_replicas_only;  /* latency policy: replicas first, primary last resort */
    uint32_t tolerance_us;      /* latency band; 0 = strict minimum */
    int64_t max_lag_ms;         /* 0 = no bound */
    int64_t max_lag_bytes;      /* 0 = no bound */
    int az;                     /* zone affinity: 0 off; 1 replicas in the
                                   client's zone first; 2 then its primary too */
} clusterc__route_cfg;

/* Why node i of a shard is (in)eligible at now_us. Index 0 is the primary:
 * link and lag bounds apply to replicas only. */
clusterc__inelig clusterc__route_why(const clusterc__route_cfg *cfg,
                                     const clusterc__route_node *nodes, size_t i,
                                     int64_t now_us);

/*
 * Pick the node (index into nodes, 0 = primary) that serves a read of this
 * shard. With cfg->az the policy (round-robin, random or latency) picks
 * within each stage in turn: eligible replicas in the client's zone; the
 * primary, if in that zone (az 2); any eligible replica; the primary. n >= 1. *cursor is the shard's own round-robin position (kept by
 * the caller per shard, so shards rotate independently). rng feeds the
 * random policy. Returns the index, or -1 only for MODE_REPLICA when no
 * replica is eligible. With no eligible node at all (and not MODE_REPLICA)
 * the primary is returned: the read then fails or succeeds on its own.
 */
int clusterc__route_pick(const clusterc__route_cfg *cfg, clusterc__route_mode mode,
                         const clusterc__route_node *nodes, size_t n,
                         unsigned *cursor, uint64_t *rng, int64_t now_us);
#endif
