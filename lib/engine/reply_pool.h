/* reply_pool.h -- async replies reused (issue 17, "pooled replies").
 *
 * Built by hiredis's default functions, every reply to a GET is a calloc
 * (the redisReply) and a malloc (its string), and two frees right after
 * the async face's callback, which is where the reply's life ends (async.h
 * says so). These reader functions take a top-level string, status,
 * integer or nil reply from a per-engine free list of fixed-size blocks
 * instead, the string inline in the block when it fits, so a steady async
 * GET/SET load allocates nothing for its replies.
 *
 * Only such replies come from the pool. An error (MOVED, ASK, TRYAGAIN...:
 * the engine inspects them and may keep one) and every aggregate, with all
 * it holds, are built by the reader's own functions, as are the RESP3 types
 * of hiredis 1.x. The functions are switched on for one reply at a time, by
 * the connection (conn.c), when the command at the head of its FIFO asked
 * for them (CLUSTERC__CONN_POOL: an async caller's command), so a pooled
 * reply only ever reaches the async face's completion. The reader's
 * privdata is its clusterc__arena_ctx (reply_arena.h), whose pool field
 * names the pool.
 *
 * A pooled reply carries its pool in `element`, which hiredis (0.14 and
 * 1.x: freeReplyObject, the reader) never reads for a non-aggregate reply
 * and leaves NULL in every one it builds; so the reply alone says what it
 * is, and clusterc__reply_free (reply_arena.h) gives it back. It must
 * never reach freeReplyObject. The engine is single-threaded: no locks.
 */
#ifndef CLUSTERC_REPLY_POOL_H
#define CLUSTERC_REPLY_POOL_H
#include <stddef.h>
#include <hiredis/hiredis.h>

typedef struct clusterc__reply_pool clusterc__reply_pool;

/* A block is the reply and, after it, the inline string: two cache lines.
 * A string of up to CLUSTERC__REPLY_INLINE - 1 bytes (its NUL after it)
 * lives there; a longer one is malloc'ed on its own and freed on release. */
#define CLUSTERC__REPLY_BLOCK 128
#define CLUSTERC__REPLY_INLINE (CLUSTERC__REPLY_BLOCK - sizeof(redisReply))
/* Free blocks kept: enough for a few hundred commands in flight; a burst
 * beyond it gives its memory back as its replies are released. */
#define CLUSTERC__REPLY_POOL_MAX 256

extern redisReplyObjectFunctions clusterc__pool_fns;

/* An empty pool, or NULL when out of memory. */
clusterc__reply_pool *clusterc__reply_pool_new(void);

/* Free the pool and its free blocks (NULL is fine). Replies still out are
 * not lost: each frees itself when released, the last one the pool too. */
void clusterc__reply_pool_free(clusterc__reply_pool *p);

/* r came from a pool (see above: `element` set on a non-aggregate). */
static inline int clusterc__reply_pooled(const redisReply *r)
{
    return r->element != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
                                  r->type == REDIS_REPLY_INTEGER || r->type == REDIS_REPLY_NIL);
}

/* Give a pooled reply back (clusterc__reply_free calls it). */
void clusterc__reply_pool_put(redisReply *r);

/* Free blocks kept, and blocks out in replies not yet released (tests). */
size_t clusterc__reply_pool_nfree(const clusterc__reply_pool *p);
size_t clusterc__reply_pool_lent(const clusterc__reply_pool *p);
#endif
