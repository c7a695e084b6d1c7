/* reply_arena.c -- map-load replies built in one arena (reply_arena.h).
 *
 * The arena is a list of chunks, each a malloc'ed block handed out by
 * bumping an offset; a string lives right after its reply object (one
 * bump for both, and the parse finds it on the same cache line). The
 * arena's header and the root object sit at the start of the first chunk;
 * the root is marked by str pointing at that header and len set to a value
 * no string can have, so clusterc__reply_free tells the two kinds apart
 * from the reply alone. hiredis frees a half-built reply only through its
 * root (freeObject, on a protocol error or when the reader goes), so every
 * object below the root is only ever freed with the whole arena.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "reply_arena.h"
#include "reply_pool.h"

#define ARENA_MAGIC ((size_t)0x5eed0a4e0a4e5eedULL)   /* never a string's length */
#define CHUNK_FIRST ((size_t)16 << 10)
#define CHUNK_MAX ((size_t)64 << 10)

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;   /* bytes after the header */
} chunk;

struct clusterc__arena {
    chunk *head;        /* the chunk being filled; its next is older */
    size_t next_cap;    /* the size of the next chunk (doubling to CHUNK_MAX) */
};

#define ALIGN_OF(t) _Alignof(t)
#define ROUND_UP(x, a) (((x) + (a) - 1) & ~((size_t)(a) - 1))

static chunk *chunk_new(size_t cap)
{
    chunk *c = malloc(sizeof(chunk) + cap);
    if (c) {
        c->next = NULL;
        c->used = 0;
        c->cap = cap;
    }
    return c;
}

static void *arena_alloc(struct clusterc__arena *a, size_t size)
{
    chunk *c = a->head;
    size_t at = ROUND_UP(c->used, ALIGN_OF(redisReply));
    if (at > c->cap || size > c->cap - at) {
        size_t cap = a->next_cap > size ? a->next_cap : size;
        chunk *n = chunk_new(cap);
        if (!n)
            return NULL;
        n->next = c;
        a->head = c = n;
        a->next_cap = a->next_cap * 2 > CHUNK_MAX ? CHUNK_MAX : a->next_cap * 2;
        at = 0;
    }
    c->used = at + size;
    return (char *)(c + 1) + at;
}

static void arena_free(struct clusterc__arena *a)
{
    chunk *c = a->head;
    while (c) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
}

void clusterc__reply_free(void *reply)
{
    redisReply *r = reply;
    if (!r)
        return;
    if (r->len == ARENA_MAGIC && r->str)
        arena_free((struct clusterc__arena *)(void *)r->str);
    else if (clusterc__reply_pooled(r))
        clusterc__reply_pool_put(r);
    else
        freeReplyObject(r);
}

/* A zeroed object of task's type with extra bytes after it, hung on its
 * parent; NULL when out of memory. */
static redisReply *child(const redisReadTask *task, size_t extra)
{
    clusterc__arena_ctx *ctx = task->privdata;
    size_t size = ROUND_UP(sizeof(redisReply), ALIGN_OF(redisReply)) + extra;
    if (extra > SIZE_MAX / 2)
        return NULL;
    redisReply *o = arena_alloc(ctx->cur, size);
    if (!o)
        return NULL;
    memset(o, 0, sizeof(*o));
    o->type = task->type;
    redisReply *parent = task->parent->obj;
    parent->element[task->idx] = o;
    return o;
}

static char *after(redisReply *o)
{
    return (char *)o + ROUND_UP(sizeof(redisReply), ALIGN_OF(redisReply));
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    clusterc__arena_ctx *ctx = task->privdata;
    if (!task->parent)
        return ctx->plain->createString(task, str, len);
    redisReply *o = child(task, len + 1);
    if (!o)
        return NULL;
    o->str = after(o);
#ifdef REDIS_REPLY_VERB
    if (task->type == REDIS_REPLY_VERB && len >= 4) {   /* "txt:" header, as hiredis */
        memcpy(o->vtype, str, 3);
        o->vtype[3] = '\0';
        str += 4;
        len -= 4;
    }
#endif
    memcpy(o->str, str, len);
    o->str[len] = '\0';
    o->len = len;
    return o;
}

/* The root starts a new arena: its header, then the root, in chunk one. */
static void *create_root(const redisReadTask *task, size_t elements)
{
    clusterc__arena_ctx *ctx = task->privdata;
    size_t head = ROUND_UP(sizeof(struct clusterc__arena), ALIGN_OF(redisReply));
    size_t need = head + sizeof(redisReply) + elements * sizeof(redisReply *);
    if (elements > SIZE_MAX / 4 / sizeof(redisReply *))
        return NULL;
    chunk *c = chunk_new(need > CHUNK_FIRST ? need : CHUNK_FIRST);
    if (!c)
        return NULL;
    struct clusterc__arena *a = (struct clusterc__arena *)(void *)(c + 1);
    a->head = c;
    a->next_cap = CHUNK_FIRST * 2;
    c->used = head;
    redisReply *o = arena_alloc(a, sizeof(redisReply) + elements * sizeof(redisReply *));
    memset(o, 0, sizeof(*o));
    o->type = task->type;
    o->str = (char *)(void *)a;
    o->len = ARENA_MAGIC;
    o->elements = elements;
    if (elements) {
        o->element = (redisReply **)(void *)(o + 1);
        memset(o->element, 0, elements * sizeof(redisReply *));
    }
    ctx->cur = a;
    return o;
}

static void *create_array(const redisReadTask *task, size_t elements)
{
    if (!task->parent)
        return create_root(task, elements);
    if (elements > SIZE_MAX / 4 / sizeof(redisReply *))
        return NULL;
    redisReply *o = child(task, elements * sizeof(redisReply *));
    if (!o)
        return NULL;
    o->elements = elements;
    if (elements) {
        o->element = (redisReply **)(void *)after(o);
        memset(o->element, 0, elements * sizeof(redisReply *));
    }
    return o;
}

static void *create_integer(const redisReadTask *task, long long value)
{
    clusterc__arena_ctx *ctx = task->privdata;
    if (!task->parent)
        return ctx->plain->createInteger(task, value);
    redisReply *o = child(task, 0);
    if (o)
        o->integer = value;
    return o;
}

static void *create_nil(const redisReadTask *task)
{
    clusterc__arena_ctx *ctx = task->privdata;
    if (!task->parent)
        return ctx->plain->createNil(task);
    redisReply *o = child(task, 0);
    if (o)   /* the task says what was read ($-1 or *-1), not what it is */
        o->type = REDIS_REPLY_NIL;
    return o;
}

static void free_object(void *reply)
{
    clusterc__reply_free(reply);
}

#if defined(HIREDIS_MAJOR) && HIREDIS_MAJOR >= 1
/* RESP3 types (hiredis 1.x): this RESP2 client never asks for them, but a
 * reply tree must never hold the reader's placeholder for a missing
 * function. */
static void *create_double(const redisReadTask *task, double value, char *str, size_t len)
{
    clusterc__arena_ctx *ctx = task->privdata;
    if (!task->parent)
        return ctx->plain->createDouble(task, value, str, len);
    redisReply *o = child(task, len + 1);
    if (!o)
        return NULL;
    o->dval = value;
    o->str = after(o);
    memcpy(o->str, str, len);
    o->str[len] = '\0';
    o->len = len;
    return o;
}

static void *create_bool(const redisReadTask *task, int value)
{
    clusterc__arena_ctx *ctx = task->privdata;
    if (!task->parent)
        return ctx->plain->createBool(task, value);
    redisReply *o = child(task, 0);
    if (o)
        o->integer = value != 0;
    return o;
}

redisReplyObjectFunctions clusterc__arena_fns = {
    .createString = create_string, .createArray = create_array,
    .createInteger = create_integer, .createDouble = create_double,
    .createNil = create_nil, .createBool = create_bool, .freeObject = free_object,
};
#else
/* hiredis 0.14 counts elements in an int (never negative here: a nil
 * aggregate comes through createNil). */
static void *create_array_int(const redisReadTask *task, int elements)
{
    return create_array(task, elements > 0 ? (size_t)elements : 0);
}

redisReplyObjectFunctions clusterc__arena_fns = {
    .createString = create_string, .createArray = create_array_int,
    .createInteger = create_integer, .createNil = create_nil, .freeObject = free_object,
};
#endif
