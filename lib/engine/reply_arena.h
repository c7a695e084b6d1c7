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

/* The reader's privdata, for these functions and the reply pool's
 * (reply_pool.h), whichever are set. */
typedef struct clusterc__arena_ctx {
    redisReplyObjectFunctions *plain;   /* the reader's own functions */
    struct clusterc__arena *cur;        /* the arena of the reply being read */
    struct clusterc__reply_pool *pool;  /* where pooled replies come from (NULL: none) */
} clusterc__arena_ctx;

extern redisReplyObjectFunctions clusterc__arena_fns;

/* Free a reply built any way: in an arena, from a reply pool
 * (reply_pool.h), or by hiredis's functions (NULL is fine). */
void clusterc__reply_free(void *reply);
#endif
