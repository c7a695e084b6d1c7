/* info.h -- parsers for INFO replication, CLUSTER NODES, CLUSTER INFO (pure).
 *
 * Text in, structs out; no I/O. Unknown fields are ignored (servers add
 * them), malformed lines are rejected with a message naming the line.
 */
#ifndef CLUSTERC_INFO_H
#define CLUSTERC_INFO_H
#include <stddef.h>
#include <stdint.h>
#include "clusterc/admin.h"

/* ------------------------------------------------------ INFO replication */

/* The parsed views are the public ones of <clusterc/admin.h>: the admin
 * API hands them out as they are. */
typedef clusterc_replica_link clusterc__info_replica;
typedef clusterc_replication clusterc__info_repl;

/* Parse the text of INFO replication (or of a full INFO: other sections
 * are skipped). Returns 0, or -1 with err naming the malformed line. On
 * success free with clusterc__info_repl_free. */
int clusterc__info_repl_parse(const char *text, size_t len, clusterc__info_repl *out,
                              char *err, size_t errcap);
void clusterc__info_repl_free(clusterc__info_repl *r);

/* The value of "key:value" in INFO text (any section): 1 with *val pointing
 * into text and *vlen its length (without "\r"), or 0 when no line has the
 * key. Used for INFO server's availability_zone (Valkey 8). */
int clusterc__info_field(const char *text, size_t len, const char *key, const char **val,
                         size_t *vlen);

/* ---------------------------------------------------------- CLUSTER NODES */

#define CLUSTERC__NODE_ID_LEN 40       /* node ids are 40 hex digits */
#define CLUSTERC__NODE_HOSTNAME_MAX 257 /* cluster-announce-hostname: 256 + NUL */

enum {
    CLUSTERC__CNODE_MYSELF = CLUSTERC_NODE_MYSELF,
    CLUSTERC__CNODE_MASTER = CLUSTERC_NODE_MASTER,
    CLUSTERC__CNODE_SLAVE = CLUSTERC_NODE_SLAVE,
    CLUSTERC__CNODE_PFAIL = CLUSTERC_NODE_PFAIL,
    CLUSTERC__CNODE_FAIL = CLUSTERC_NODE_FAIL,
    CLUSTERC__CNODE_HANDSHAKE = CLUSTERC_NODE_HANDSHAKE,
    CLUSTERC__CNODE_NOADDR = CLUSTERC_NODE_NOADDR,
    CLUSTERC__CNODE_NOFAILOVER = CLUSTERC_NODE_NOFAILOVER,
    CLUSTERC__CNODE_NOFLAGS = CLUSTERC_NODE_NOFLAGS
};

typedef clusterc_slot_range clusterc__slot_range;
typedef clusterc_slot_move clusterc__slot_move;
typedef clusterc_cluster_node clusterc__cnode;

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

typedef clusterc_cluster_info clusterc__cluster_info;

/* Parse the text of CLUSTER INFO. Returns 0, or -1 with err naming the
 * malformed line (*out then unspecified). Nothing to free. */
int clusterc__cluster_info_parse(const char *text, size_t len, clusterc__cluster_info *out,
                                 char *err, size_t errcap);

#endif
