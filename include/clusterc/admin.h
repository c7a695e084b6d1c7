/*
 * admin.h -- libclusterc's cluster administration: inspect nodes and
 * replication, check the cluster, add a replica (or a primary), make a
 * replica follow another primary, fail over, move slots, remove a node.
 * What `redis-cli --cluster` does, as a library, with timeouts and errors
 * that name the node and the step.
 *
 * Every call takes a blocking client (clusterc_connect) and runs on it:
 * the same single-threaded rules apply. Calls return 0 on success and -1 on
 * failure; clusterc_errstr(c) then says which node and which step failed,
 * and, for operations that change the cluster, what state they left it in.
 * Parsed views are plain structs owned by the caller and freed with the
 * matching _free function (NULL is a harmless no-op for all of them).
 */
#ifndef CLUSTERC_ADMIN_H
#define CLUSTERC_ADMIN_H

#include <stddef.h>
#include <stdint.h>
#include "clusterc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --------------------------------------------------------- CLUSTER NODES */

/* Flags of a CLUSTER NODES line. */
#define CLUSTERC_NODE_MYSELF     (1u << 0)
#define CLUSTERC_NODE_MASTER     (1u << 1)
#define CLUSTERC_NODE_SLAVE      (1u << 2)
#define CLUSTERC_NODE_PFAIL      (1u << 3)   /* "fail?" */
#define CLUSTERC_NODE_FAIL       (1u << 4)
#define CLUSTERC_NODE_HANDSHAKE  (1u << 5)
#define CLUSTERC_NODE_NOADDR     (1u << 6)
#define CLUSTERC_NODE_NOFAILOVER (1u << 7)
#define CLUSTERC_NODE_NOFLAGS    (1u << 8)

/* The CLUSTER NODES word of one flag bit ("myself", "master", "slave",
 * "fail?", ...), or NULL for a bit that is not a flag. Static string. */
CLUSTERC_API const char *clusterc_node_flag_name(unsigned bit);

typedef struct clusterc_slot_range {
    int start, end;                 /* inclusive, 0..16383 */
} clusterc_slot_range;

typedef struct clusterc_slot_move { /* "[slot->-id]" migrating / "[slot-<-id]" importing */
    int slot;
    char node[41];                  /* target (migrating) or source (importing) */
} clusterc_slot_move;

typedef struct clusterc_cluster_node {
    char id[41];
    char host[256];                 /* "" when unknown (":0@0") */
    int port;                       /* 0 when unknown */
    int bus_port;
    char hostname[257];             /* "" when none */
    unsigned flags;                 /* CLUSTERC_NODE_* */
    char primary_id[41];            /* a replica's primary, "" for a primary */
    long long ping_sent, pong_recv; /* unix ms */
    long long config_epoch;
    int link_connected;
    clusterc_slot_range *slots;     /* nslots ranges */
    size_t nslots;
    clusterc_slot_move *migrating;  /* only on the answering node's own line */
    size_t nmigrating;
    clusterc_slot_move *importing;
    size_t nimporting;
} clusterc_cluster_node;

/* CLUSTER NODES of one node (address or id; NULL = any node of the map),
 * parsed. *out is a new array of *n nodes (free with clusterc_nodes_free). */
CLUSTERC_API int clusterc_admin_nodes(clusterc_client *c, const char *node,
                                      clusterc_cluster_node **out, size_t *n);
CLUSTERC_API void clusterc_nodes_free(clusterc_cluster_node *v, size_t n);

/* Number of slots a node serves (sum of its ranges). */
CLUSTERC_API int clusterc_node_slot_count(const clusterc_cluster_node *n);

/* ------------------------------------------------------ INFO replication */

typedef struct clusterc_replica_link {   /* a primary's "slaveN:" line */
    char ip[64];
    int port;
    char state[24];                 /* online, wait_bgsave, send_bulk, ... */
    long long offset;               /* acknowledged replication offset */
    long long lag;                  /* seconds since its last ACK */
} clusterc_replica_link;

typedef struct clusterc_replication {
    int is_primary;                 /* role:master */
    int connected_replicas;
    long long master_repl_offset;
    char master_replid[48];
    clusterc_replica_link *replicas;
    size_t nreplicas;
    /* replica side (-1 / "" when absent) */
    char master_host[256];
    int master_port;
    int master_link_up;
    long long master_last_io_seconds_ago;
    int master_sync_in_progress;
    long long master_link_down_since_seconds;
    long long slave_read_repl_offset;
    long long slave_repl_offset;
    int slave_read_only;
    long long slave_priority;
    long long master_sync_total_bytes;   /* during a full sync */
    long long master_sync_read_bytes;
    long long master_sync_left_bytes;
    double master_sync_perc;
    long long master_sync_last_io_seconds_ago;
} clusterc_replication;

/* INFO replication of one node, parsed into *out (free with
 * clusterc_replication_free, which frees the replicas array). */
CLUSTERC_API int clusterc_admin_replication(clusterc_client *c, const char *node,
                                            clusterc_replication *out);
CLUSTERC_API void clusterc_replication_free(clusterc_replication *r);

/* Lag classes, as the lab reads them: 0 s perfect, 1-5 good, 5-30 warning,
 * 30+ critical. A negative lag (unknown: its primary does not list the
 * replica) is critical too. */
typedef enum clusterc_lag_class {
    CLUSTERC_LAG_PERFECT = 0,
    CLUSTERC_LAG_GOOD,
    CLUSTERC_LAG_WARNING,
    CLUSTERC_LAG_CRITICAL
} clusterc_lag_class;
CLUSTERC_API clusterc_lag_class clusterc_lag_classify(long long lag_s);
CLUSTERC_API const char *clusterc_lag_class_str(clusterc_lag_class c);  /* "perfect", ... */

/* ---------------------------------------------------------- CLUSTER INFO */

typedef struct clusterc_cluster_info {  /* every field -1 when absent */
    int state_ok;                   /* cluster_state:ok */
    long long slots_assigned, slots_ok, slots_pfail, slots_fail;
    long long known_nodes;
    long long size;
    long long current_epoch, my_epoch;
} clusterc_cluster_info;

CLUSTERC_API int clusterc_admin_cluster_info(clusterc_client *c, const char *node,
                                             clusterc_cluster_info *out);

/* ------------------------------------------------------------- operations */

/* Progress of a long operation, for a callback that prints or logs it. */
typedef struct clusterc_admin_progress {
    const char *step;      /* "check", "meet", "join", "replicate", "sync",
                              "agree", "failover", "migrate", "forget", ... */
    const char *node;      /* the node concerned, "host:port" */
    const char *state;     /* replication link: "connect", "connecting",
                              "sync", "connected"; else a short text */
    long long bytes_total; /* full sync: RDB size when the server says, else -1 */
    long long bytes_done;  /* full sync: bytes read so far, else -1 */
    long long keys_done;   /* reshard: keys moved; else -1 */
    int slots_done, slots_total;  /* reshard; else 0 */
    int64_t elapsed_ms;    /* since the operation began */
} clusterc_admin_progress;

typedef void clusterc_admin_progress_fn(const clusterc_admin_progress *p, void *arg);

typedef struct clusterc_admin_opts {
    int timeout_ms;        /* bound on each wait (join, sync, failover);
                              default 60000 (redis-cli waits forever) */
    int wait_sync;         /* add_node/replicate: wait until the replica's
                              link is up and the initial sync is done;
                              default 1 */
    int poll_ms;           /* how often waits poll; default 200 */
    int migrate_batch;     /* reshard: keys per MIGRATE; default 100 */
    int migrate_timeout_ms;/* reshard: MIGRATE timeout; default 60000 */
    clusterc_admin_progress_fn *progress;   /* NULL = silent */
    void *progress_arg;
} clusterc_admin_opts;

/* Fill *o with the defaults above. */
CLUSTERC_API void clusterc_admin_opts_init(clusterc_admin_opts *o);

/*
 * Add the node at new_addr ("host:port") to the cluster the client is
 * connected to, as redis-cli --cluster add-node does, with its checks
 * first: the new node answers, has cluster mode enabled, holds no keys and
 * knows only itself; for a replica, primary_id names an existing primary
 * (NULL: the primary with the fewest replicas, the first such, counting
 * each replica by what it says of itself, not by one node's possibly
 * stale view); the cluster
 * check passes (all slots covered, configuration agrees, no open slots).
 * Any refusal leaves the cluster unchanged and says why. Then: CLUSTER MEET
 * sent to the new node, a wait until every node knows it and the
 * configuration agrees, and for a replica CLUSTER REPLICATE, (wait_sync)
 * a wait for the initial sync, and a wait until every reachable node lists
 * it as that primary's replica (step "agree"), all reported through the
 * progress callback.
 * as_replica 0 adds an empty primary (no slots: see clusterc_admin_reshard).
 * chosen_primary (may be NULL; 41 bytes) receives the primary's id.
 */
CLUSTERC_API int clusterc_admin_add_node(clusterc_client *c, const char *new_addr,
                                         int as_replica, const char *primary_id,
                                         const clusterc_admin_opts *o, char *chosen_primary);

/* Make a replica (address or id) follow the primary primary_id (CLUSTER
 * REPLICATE), then wait until its link is up (and synced, with wait_sync)
 * and every reachable node lists it as primary_id's replica, so a check or
 * add-node run right after sees the new role everywhere. The lab's fix for
 * a replica that follows the wrong primary. */
CLUSTERC_API int clusterc_admin_replicate(clusterc_client *c, const char *node,
                                          const char *primary_id, const clusterc_admin_opts *o);

#define CLUSTERC_FAILOVER_DEFAULT 0
#define CLUSTERC_FAILOVER_FORCE 1
#define CLUSTERC_FAILOVER_TAKEOVER 2

/* CLUSTER FAILOVER [FORCE|TAKEOVER] on a replica. First, when its primary
 * answers, wait until the replica's view of the primary's slots is the
 * primary's own: a replica promoted before gossip told it of a slot just
 * resharded in leaves that slot with no owner (CLUSTERC_ETIMEOUT after
 * o->timeout_ms, naming the slot, and nothing is sent). Then wait until every
 * reachable node sees it as a primary (CLUSTERC_ETIMEOUT after
 * o->timeout_ms, naming the node that lags). A default (agreed) failover
 * then also waits, up to 5 s more and within o->timeout_ms, until every
 * reachable node lists the old primary as a replica (or failing), so a
 * fail-back or a reshard right after usually finds the roles settled
 * everywhere; that wait running out is not a failure. */
CLUSTERC_API int clusterc_admin_failover(clusterc_client *c, const char *replica, int mode,
                                         const clusterc_admin_opts *o);

/*
 * Move nslots slots from primary from_id to primary to_id, one slot at a
 * time as redis-cli does: SETSLOT IMPORTING on the target, MIGRATING on
 * the source, GETKEYSINSLOT + MIGRATE in batches, then SETSLOT NODE on the
 * target, the source and every other primary. Keys are never dropped
 * (MIGRATE without REPLACE; a BUSYKEY stops the move with the slot left
 * open and named). Clients keep working meanwhile through ASK and MOVED.
 */
CLUSTERC_API int clusterc_admin_reshard(clusterc_client *c, const char *from_id,
                                        const char *to_id, int nslots,
                                        const clusterc_admin_opts *o);

/* Remove a node that serves no slots: its replicas are moved to other
 * primaries (each to the one with the fewest replicas at that point, as
 * the replicas themselves report), every other node FORGETs it (a node
 * flagged fail cannot be told and is skipped, replicas included; it may
 * gossip the removed node back when it returns, as with redis-cli), and it
 * is reset (CLUSTER
 * RESET SOFT) so it can join again later. */
CLUSTERC_API int clusterc_admin_remove_node(clusterc_client *c, const char *id,
                                            const clusterc_admin_opts *o);

/* ------------------------------------------------------------------ check */

typedef struct clusterc_check_primary {
    char addr[272];        /* "host:port" */
    char id[41];
    int slots;             /* slots served */
    int replicas;          /* replicas following it */
} clusterc_check_primary;

typedef struct clusterc_check_replica {
    char addr[272];
    char id[41];
    char primary_id[41];
    int link_up;           /* master_link_status:up (from the replica) */
    long long lag_s;       /* from its primary's INFO, -1 unknown */
    long long lag_bytes;   /* primary's offset - replica's acknowledged one */
    clusterc_lag_class lag_class;
} clusterc_check_replica;

typedef struct clusterc_check_result {
    int ok;                /* 1: healthy and every primary has a replica */
    int cluster_state_ok;  /* CLUSTER INFO cluster_state:ok on every node */
    int slots_covered;     /* 0..16384 */
    int config_agrees;     /* every node has the same slot assignment */
    int open_slots;        /* slots migrating or importing somewhere */
    int unprotected;       /* primaries with slots and no replica */
    int unreachable;       /* nodes that did not answer */
    clusterc_check_primary *primaries;
    size_t nprimaries;
    clusterc_check_replica *replicas;
    size_t nreplicas;
    char **problems;       /* each problem found, in words; nproblems */
    size_t nproblems;
    char *report;          /* the whole printable report */
} clusterc_check_result;

/*
 * Check the cluster: all 16384 slots covered, nodes agree on the slot
 * assignment, no open slots, every primary has at least one replica (an
 * unprotected one is named as the lab does: "127.0.0.1:7007: no replica -
 * 4096 slots at risk"), replicas' links up, lag classified. Returns 0 when
 * the check ran (look at (*out)->ok) and -1 when it could not run at all.
 * Free *out with clusterc_check_free.
 */
CLUSTERC_API int clusterc_admin_check(clusterc_client *c, clusterc_check_result **out);
CLUSTERC_API void clusterc_check_free(clusterc_check_result *r);

/* ------------------------------------------------------------ JSON, for FFI */

/*
 * The views as JSON text (malloc'ed, freed with clusterc_free_string; NULL
 * on failure with clusterc_errstr set), for bindings:
 *   clusterc_admin_nodes_json        [{"id":..,"host":..,"port":..,"flags":[..],
 *                                      "primary_id":..,"slots":[[0,5460],..],..}]
 *   clusterc_admin_replication_json  {"role":"primary"|"replica",...,"replicas":[..]}
 *   clusterc_admin_check_json        {"ok":true,...,"problems":[..],"report":".."}
 * A number the server did not report (-1 in the C view) is JSON null.
 */
CLUSTERC_API char *clusterc_admin_nodes_json(clusterc_client *c, const char *node);
CLUSTERC_API char *clusterc_admin_replication_json(clusterc_client *c, const char *node);
CLUSTERC_API char *clusterc_admin_check_json(clusterc_client *c);

#ifdef __cplusplus
}
#endif
#endif /* CLUSTERC_ADMIN_H */
