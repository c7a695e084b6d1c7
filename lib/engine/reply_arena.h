/* reply_arena.h -- map-load replies built in one arena (issue 16).
 *
 * A CLUSTER SHARDS reply of 30,000 nodes is about 450,000 reply objects:
 * built by hiredis's default functions that is one calloc and one malloc
 * each, and as many frees, about 60 % of a map load's instructions, on a
 * heap the size of the reply. These reader functions put an aggregate
 * reply (the whole tree) in a few large chunks freed at once instead. The
 * objects are ordinary redisReply structs, so the topology parse reads
 * them as it reads any reply; only freeing differs.
 *
 * They are switched on for one reply at a time, by the connection (conn.c)
 * while the command at the head of its FIFO asked for them (a map load),
 * so no other reply, on either face, is ever one of these. A reply that is
 * not an aggregate (an error) is built by the reader's own functions.
 * Free every reply that may be an arena one with clusterc__reply_free.
 */
#ifndef CLUSTERC_REPLY_ARENA_H
#define CLUSTERC_REPLY_ARENA_H
#include <hiredis/hiredis.h>

/* The reader's privdata while the arena functions are set. It lives in the
 * connection, beside the reader, and keeps the chunks of the last map
 * load's reply for the next one (up to ARENA_SPARE_MAX bytes): handing
 * them back to malloc let it give the memory back to the system, and the
 * next load paid a page fault per 4 KB again (about 1,900 a load at 30,000
 * nodes, the largest part of the time that grew faster than the work). */
typedef struct clusterc__arena_ctx {
    redisReplyObjectFunctions *plain;   /* the reader's own functions */
    struct clusterc__arena *cur;        /* the arena of the reply being read */
    struct clusterc__chunk *spare;      /* chunks kept for the next reply */
    size_t spare_bytes;
} clusterc__arena_ctx;

/* Release the kept chunks (the connection is going away). Every arena
 * reply read through ctx must have been freed first. */
void clusterc__arena_ctx_fini(clusterc__arena_ctx *ctx);

extern redisReplyObjectFunctions clusterc__arena_fns;

/* Free a reply built either way (NULL is fine). */
void clusterc__reply_free(void *reply);
#endif
