/* reply_pool.c -- async replies reused (reply_pool.h).
 *
 * A free list of blocks of one size. A block is handed out as a zeroed
 * redisReply at its start, `element` pointing at the pool (the mark
 * clusterc__reply_free goes by, and the way back on release), and goes
 * back to the head of the list when released, so the next reply reuses the
 * block still in cache. Past CLUSTERC__REPLY_POOL_MAX free blocks it is
 * freed instead. hiredis builds a non-aggregate top-level reply in one
 * call, never half, so the reader never holds a pooled reply when it is
 * freed; what it may hold is an aggregate, built by its own functions,
 * which freeObject (clusterc__reply_free) frees as usual.
 */
#include <stdlib.h>
#include <string.h>
#include "reply_arena.h"
#include "reply_pool.h"

typedef union block {
    struct {
        redisReply r;   /* first: a reply's address is its block's */
        char str[CLUSTERC__REPLY_INLINE];
    } b;
    union block *next;  /* while on the free list */
} block;

_Static_assert(sizeof(block) == CLUSTERC__REPLY_BLOCK, "a block is the reply and its string");

struct clusterc__reply_pool {
    block *free;        /* the most recently released first */
    size_t nfree;
    size_t lent;        /* blocks in replies not yet released */
    int closed;         /* freed while some were lent: the last release frees it */
};

clusterc__reply_pool *clusterc__reply_pool_new(void)
{
    return calloc(1, sizeof(clusterc__reply_pool));
}

void clusterc__reply_pool_free(clusterc__reply_pool *p)
{
    if (!p)
        return;
    while (p->free) {
        block *next = p->free->next;
        free(p->free);
        p->free = next;
    }
    p->nfree = 0;
    if (p->lent)
        p->closed = 1;
    else
        free(p);
}

size_t clusterc__reply_pool_nfree(const clusterc__reply_pool *p) { return p->nfree; }
size_t clusterc__reply_pool_lent(const clusterc__reply_pool *p) { return p->lent; }

/* A zeroed reply of type from p's free list, else a new block; NULL when
 * out of memory (the reader then reports REDIS_ERR_OOM). */
static redisReply *get(clusterc__reply_pool *p, int type)
{
    block *b = p->free;
    if (b) {
        p->free = b->next;
        p->nfree--;
    } else if (!(b = malloc(sizeof(*b)))) {
        return NULL;
    }
    p->lent++;
    memset(&b->b.r, 0, sizeof(b->b.r));
    b->b.r.type = type;
    b->b.r.element = (redisReply **)(void *)p;
    return &b->b.r;
}

void clusterc__reply_pool_put(redisReply *r)
{
    clusterc__reply_pool *p = (clusterc__reply_pool *)(void *)r->element;
    block *b = (block *)(void *)r;
    if (r->str != b->b.str)   /* a long string, or NULL (integer, nil) */
        free(r->str);
    p->lent--;
    if (p->nfree < CLUSTERC__REPLY_POOL_MAX && !p->closed) {
        b->next = p->free;
        p->free = b;
        p->nfree++;
        return;
    }
    free(b);
    if (p->closed && p->lent == 0)
        free(p);
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    clusterc__arena_ctx *ctx = task->privdata;
    /* Errors stay ordinary: the engine reads them, and may keep one. */
    if (task->parent || (task->type != REDIS_REPLY_STRING && task->type != REDIS_REPLY_STATUS))
        return ctx->plain->createString(task, str, len);
    redisReply *o = get(ctx->pool, task->type);
    if (!o)
        return NULL;
    char *s = len < CLUSTERC__REPLY_INLINE ? ((block *)(void *)o)->b.str : malloc(len + 1);
    if (!s) {
        clusterc__reply_pool_put(o);
        return NULL;
    }
    memcpy(s, str, len);
    s[len] = '\0';
    o->str = s;
    o->len = len;
    return o;
}

static void *create_integer(const redisReadTask *task, long long value)
{
    clusterc__arena_ctx *ctx = task->privdata;
    if (task->parent)
        return ctx->plain->createInteger(task, value);
    redisReply *o = get(ctx->pool, REDIS_REPLY_INTEGER);
    if (o)
        o->integer = value;
    return o;
}

static void *create_nil(const redisReadTask *task)
{
    clusterc__arena_ctx *ctx = task->privdata;
    if (task->parent)
        return ctx->plain->createNil(task);
    /* The task says what was read ($-1 or *-1), not what it is. */
    return get(ctx->pool, REDIS_REPLY_NIL);
}

static void free_object(void *reply)
{
    clusterc__reply_free(reply);
}

#if defined(HIREDIS_MAJOR) && HIREDIS_MAJOR >= 1
/* Aggregates and the RESP3 types (this RESP2 client never asks for them)
 * are the reader's own. */
static void *create_array(const redisReadTask *task, size_t elements)
{
    return ((clusterc__arena_ctx *)task->privdata)->plain->createArray(task, elements);
}

static void *create_double(const redisReadTask *task, double value, char *str, size_t len)
{
    return ((clusterc__arena_ctx *)task->privdata)->plain->createDouble(task, value, str, len);
}

static void *create_bool(const redisReadTask *task, int value)
{
    return ((clusterc__arena_ctx *)task->privdata)->plain->createBool(task, value);
}

redisReplyObjectFunctions clusterc__pool_fns = {
    .createString = create_string, .createArray = create_array,
    .createInteger = create_integer, .createDouble = create_double,
    .createNil = create_nil, .createBool = create_bool, .freeObject = free_object,
};
#else
static void *create_array(const redisReadTask *task, int elements)
{
    return ((clusterc__arena_ctx *)task->privdata)->plain->createArray(task, elements);
}

redisReplyObjectFunctions clusterc__pool_fns = {
    .createString = create_string, .createArray = create_array,
    .createInteger = create_integer, .createNil = create_nil, .freeObject = free_object,
};
#endif
