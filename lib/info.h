/* info.h -- parsers for INFO replication, CLUSTER NODES, CLUSTER INFO (pure).
 *
 * Text in, structs out; no I/O. Unknown fields are ignored (servers add
 * them), malformed lines are rejected with a message naming the line.
 */
#ifndef CLUSTERC_INFO_H
#define CLUSTERC_INFO_H
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------ INFO replication */

typedef struct clusterc__info_replica {   /* "slaveN:ip=...,port=...,state=...,offset=...,lag=..." */
    char ip[64];
    int port;
    char state[24];          /* online, wait_bgsave, send_bulk, ... */
    long long offset;        /* acknowledged replication offset */
    long long lag;           /* seconds since its last REPLCONF ACK */
} clusterc__info_replica;

typedef struct clusterc__info_repl {
    int is_primary;                   /* role:master (1) or role:slave (0) */
    /* primary side */
    int connected_replicas;           /* connected_slaves */
    long long master_repl_offset;     /* both roles report it */
    char master_replid[48];
    clusterc__info_replica *replicas; /* nreplicas entries, malloc'ed */
    size_t nreplicas;
    /* replica side (-1 / "" when absent) */
    char master_host[256];
    int master_port;
    int master_link_up;               /* master_link_status:up */
    long long master_last_io_seconds_ago;
    int master_sync_in_progress;
    long long master_link_down_since_seconds;
    long long slave_read_repl_offset;
    long long slave_repl_offset;
    int slave_read_only;
    long long slave_priority;
    /* during a full sync (master_sync_in_progress:1), when the server says */
    long long master_sync_total_bytes;
    long long master_sync_read_bytes;
    long long master_sync_left_bytes;
    double master_sync_perc;
    long long master_sync_last_io_seconds_ago;
} clusterc__info_repl;

/* Parse the text of INFO replication (or of a full INFO: other sections
 * are skipped). Returns 0, or -1 with err naming the malformed line. On
 * success free with clusterc__info_repl_free. */
int clusterc__info_repl_parse(const char *text, size_t len, clusterc__info_repl *out,
                              char *err, size_t errcap);
void clusterc__info_repl_free(clusterc__info_repl *r);

/* ---------------------------------------------------------- CLUSTER NODES */

#define CLUSTERC__NODE_ID_LEN 40       /* node ids are 40 hex digits */
#define CLUSTERC__NODE_HOSTNAME_MAX 257 /* cluster-announce-hostname: 256 + NUL */

/* Flags of a CLUSTER NODES line ("noflags" sets CLUSTERC__CNODE_NOFLAGS). */
enum {
    CLUSTERC__CNODE_MYSELF = 1u << 0,
    CLUSTERC__CNODE_MASTER = 1u << 1,
    CLUSTERC__CNODE_SLAVE = 1u << 2,
    CLUSTERC__CNODE_PFAIL = 1u << 3,      /* "fail?" */
    CLUSTERC__CNODE_FAIL = 1u << 4,
    CLUSTERC__CNODE_HANDSHAKE = 1u << 5,
    CLUSTERC__CNODE_NOADDR = 1u << 6,
    CLUSTERC__CNODE_NOFAILOVER = 1u << 7,
    CLUSTERC__CNODE_NOFLAGS = 1u << 8
};

typedef struct clusterc__slot_range {
    int start, end;                       /* inclusive, 0..16383 */
} clusterc__slot_range;

typedef struct clusterc__slot_move {      /* "[slot->-id]" or "[slot-<-id]" */
    int slot;
    char node[CLUSTERC__NODE_ID_LEN + 1]; /* target (migrating) or source (importing) */
} clusterc__slot_move;

typedef struct clusterc__cnode {
    char id[CLUSTERC__NODE_ID_LEN + 1];
    char host[256];                       /* "" when unknown (":0@0", ":7000@17000") */
    int port;                             /* 0 when unknown */
    int bus_port;                         /* 0 when unknown or not printed (< 4.0) */
    char hostname[CLUSTERC__NODE_HOSTNAME_MAX]; /* "" when none */
    unsigned flags;                       /* CLUSTERC__CNODE_* */
    char primary_id[CLUSTERC__NODE_ID_LEN + 1]; /* "" for "-" */
    long long ping_sent;                  /* unix ms, 0 = no ping pending */
    long long pong_recv;                  /* unix ms */
    long long config_epoch;
    int link_connected;                   /* link-state: connected (1) / disconnected (0) */
    clusterc__slot_range *slots;          /* nslots entries, malloc'ed (NULL if none) */
    size_t nslots;
    clusterc__slot_move *migrating;       /* only on the "myself" line */
    size_t nmigrating;
    clusterc__slot_move *importing;
    size_t nimporting;
} clusterc__cnode;

/*
 * Parse the text of CLUSTER NODES: one node per line, "\n" or "\r\n",
 * blank lines skipped. Host and port split at the last colon before '@'
 * (IPv6 addresses are printed without brackets). Fields after the hostname
 * (",key=value" aux fields) and unknown flags are ignored. Returns 0 with a
 * new array in *out (NULL when there are no lines) and its length in *n;
 * free with clusterc__cluster_nodes_free. Returns -1 with err naming the
 * line and the field, *out and *n untouched.
 */
int clusterc__cluster_nodes_parse(const char *text, size_t len, clusterc__cnode **out,
                                  size_t *n, char *err, size_t errcap);
/* Frees the array and what its entries own. NULL is a harmless no-op. */
void clusterc__cluster_nodes_free(clusterc__cnode *v, size_t n);

/* ----------------------------------------------------------- CLUSTER INFO */

typedef struct clusterc__cluster_info {   /* every field -1 when absent */
    int state_ok;                         /* cluster_state: ok (1), fail (0) */
    long long slots_assigned;
    long long slots_ok;
    long long slots_pfail;
    long long slots_fail;
    long long known_nodes;
    long long size;                       /* cluster_size: primaries serving slots */
    long long current_epoch;
    long long my_epoch;
} clusterc__cluster_info;

/* Parse the text of CLUSTER INFO. Returns 0, or -1 with err naming the
 * malformed line (*out then unspecified). Nothing to free. */
int clusterc__cluster_info_parse(const char *text, size_t len, clusterc__cluster_info *out,
                                 char *err, size_t errcap);

#endif
