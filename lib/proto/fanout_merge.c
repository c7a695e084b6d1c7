/* fanout_merge.c -- the replies of a command that ran on several nodes,
 * merged into one (pure). The policies and the split are in fanout.c.
 *
 * Replies are built by writing RESP and parsing it with hiredis's own
 * reader (as engine/tx.c does): building redisReply structs by hand would
 * tie freeReplyObject to one hiredis version's allocator and layout.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fanout.h"

/* ============================================================ writing RESP */

/* A growing buffer; after a failed allocation it only counts (oom set). */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    sb_put(b, tmp, n > 0 ? (size_t)n : 0);
}

/* A line ("+..." or "-..."): CR and LF would end it early, so they become
 * spaces; a status or error from a server never has them anyway. */
static void sb_line(sbuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
        sb_put(b, &ch, 1);
    }
}

/* A copy of reply r as RESP. RESP3 types exist only in hiredis 1.x. */
static void sb_reply(sbuf *b, const redisReply *r)
{
    switch (r->type) {
    case REDIS_REPLY_STRING:
        sb_printf(b, "$%zu\r\n", (size_t)r->len);
        sb_put(b, r->str, r->len);
        sb_put(b, "\r\n", 2);
        return;
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
        sb_put(b, r->type == REDIS_REPLY_STATUS ? "+" : "-", 1);
        sb_line(b, r->str, r->len);
        sb_put(b, "\r\n", 2);
        return;
    case REDIS_REPLY_INTEGER:
        sb_printf(b, ":%lld\r\n", (long long)r->integer);
        return;
    case REDIS_REPLY_ARRAY:
        sb_printf(b, "*%zu\r\n", (size_t)r->elements);
        for (size_t i = 0; i < r->elements; i++)
            sb_reply(b, r->element[i]);
        return;
#ifdef REDIS_REPLY_DOUBLE
    case REDIS_REPLY_DOUBLE:
        sb_put(b, ",", 1);
        sb_line(b, r->str, r->len);
        sb_put(b, "\r\n", 2);
        return;
    case REDIS_REPLY_BOOL:
        sb_printf(b, "#%c\r\n", r->integer ? 't' : 'f');
        return;
#endif
    default:   /* nil, and RESP3 aggregates this RESP2 client never asks for */
        sb_put(b, "$-1\r\n", 5);
        return;
    }
}

/* Parse the buffer into a reply with hiredis's reader, and free it. */
static redisReply *sb_finish(sbuf *b)
{
    void *reply = NULL;
    redisReader *rd = b->oom ? NULL : redisReaderCreate();
    if (rd != NULL) {
        if (redisReaderFeed(rd, b->p, b->len) != REDIS_OK ||
            redisReaderGetReply(rd, &reply) != REDIS_OK)
            reply = NULL;
        redisReaderFree(rd);
    }
    free(b->p);
    return reply;
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static redisReply *error_reply(const char *fmt, ...)
{
    char msg[300];
    sbuf b = {NULL, 0, 0, 0};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sb_put(&b, "-", 1);
    sb_line(&b, msg, strlen(msg));
    sb_put(&b, "\r\n", 2);
    return sb_finish(&b);
}

/* ================================================================== merge */

static const char *node_of(const clusterc__part *p)
{
    return p->node != NULL ? p->node : "?";
}

static int is_error(const clusterc__part *p)
{
    return p->reply == NULL || p->reply->type == REDIS_REPLY_ERROR;
}

/* A node's error, naming the node after the error code so the code still
 * leads ("-WRONGTYPE 10.0.0.1:7001: Operation against..."). */
static redisReply *node_error(const clusterc__part *p)
{
    sbuf b = {NULL, 0, 0, 0};
    const redisReply *r = p->reply;
    size_t code = 0;
    if (r == NULL)
        return error_reply("ERR %s: no reply", node_of(p));
    while (code < r->len && r->str[code] >= 'A' && r->str[code] <= 'Z')
        code++;
    if (code == 0 || code >= r->len || r->str[code] != ' ')
        code = 0;   /* no error code: ERR */
    sb_put(&b, "-", 1);
    sb_line(&b, code ? r->str : "ERR", code ? code : 3);
    sb_put(&b, " ", 1);
    sb_line(&b, node_of(p), strlen(node_of(p)));
    sb_put(&b, ": ", 2);
    sb_line(&b, r->str + (code ? code + 1 : 0), r->len - (code ? code + 1 : 0));
    sb_put(&b, "\r\n", 2);
    return sb_finish(&b);
}

static redisReply *copy_of(const redisReply *r)
{
    sbuf b = {NULL, 0, 0, 0};
    sb_reply(&b, r);
    return sb_finish(&b);
}

static long long fold(clusterc__resp_policy p, long long acc, long long v)
{
    switch (p) {
    case CLUSTERC__RESP_AGG_AND:
        return acc && v;
    case CLUSTERC__RESP_AGG_OR:
        return acc || v;
    case CLUSTERC__RESP_AGG_MIN:
        return v < acc ? v : acc;
    case CLUSTERC__RESP_AGG_MAX:
        return v > acc ? v : acc;
    default:   /* sum; wraps rather than overflowing (undefined) */
        return (long long)((unsigned long long)acc + (unsigned long long)v);
    }
}

/* The shape every reply must have: an integer, or an array of m integers. */
static int agg_shape_ok(const redisReply *r, const redisReply *first)
{
    if (first->type == REDIS_REPLY_INTEGER)
        return r->type == REDIS_REPLY_INTEGER;
    if (first->type != REDIS_REPLY_ARRAY || r->type != REDIS_REPLY_ARRAY ||
        r->elements != first->elements)
        return 0;
    for (size_t j = 0; j < r->elements; j++)
        if (r->element[j]->type != REDIS_REPLY_INTEGER)
            return 0;
    return 1;
}

static long long agg_at(clusterc__resp_policy p, const clusterc__part *parts, size_t n,
                        size_t j)
{
    const redisReply *r0 = parts[0].reply;
    long long acc = r0->type == REDIS_REPLY_INTEGER ? r0->integer : r0->element[j]->integer;
    if (p == CLUSTERC__RESP_AGG_AND || p == CLUSTERC__RESP_AGG_OR)
        acc = acc != 0;
    for (size_t i = 1; i < n; i++) {
        const redisReply *r = parts[i].reply;
        acc = fold(p, acc, r->type == REDIS_REPLY_INTEGER ? r->integer : r->element[j]->integer);
    }
    return acc;
}

static redisReply *aggregate(clusterc__resp_policy p, const clusterc__part *parts, size_t n)
{
    const redisReply *r0 = parts[0].reply;
    for (size_t i = 0; i < n; i++)
        if (!agg_shape_ok(parts[i].reply, r0))
            return error_reply("ERR clusterc: %s: the reply of %s is not %s",
                               clusterc__resp_policy_name(p), node_of(&parts[i]),
                               r0->type == REDIS_REPLY_ARRAY
                                   ? "an array of integers as long as the others'"
                                   : "an integer");
    sbuf b = {NULL, 0, 0, 0};
    if (r0->type == REDIS_REPLY_INTEGER) {
        sb_printf(&b, ":%lld\r\n", agg_at(p, parts, n, 0));
    } else {
        sb_printf(&b, "*%zu\r\n", (size_t)r0->elements);
        for (size_t j = 0; j < r0->elements; j++)
            sb_printf(&b, ":%lld\r\n", agg_at(p, parts, n, j));
    }
    return sb_finish(&b);
}

/* KEYS: every array's elements in one array (node order); else the first. */
static redisReply *concat(const clusterc__part *parts, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (parts[i].reply->type != REDIS_REPLY_ARRAY)
            return copy_of(parts[0].reply);
        total += parts[i].reply->elements;
    }
    sbuf b = {NULL, 0, 0, 0};
    sb_printf(&b, "*%zu\r\n", total);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < parts[i].reply->elements; j++)
            sb_reply(&b, parts[i].reply->element[j]);
    return sb_finish(&b);
}

redisReply *clusterc__fanout_merge(clusterc__resp_policy p, const clusterc__part *parts,
                                   size_t n)
{
    if (parts == NULL || n == 0)
        return error_reply("ERR clusterc: no replies to merge");
    if (p == CLUSTERC__RESP_ONE_SUCCEEDED) {
        for (size_t i = 0; i < n; i++)
            if (!is_error(&parts[i]))
                return copy_of(parts[i].reply);
        return node_error(&parts[0]);
    }
    for (size_t i = 0; i < n; i++)
        if (is_error(&parts[i]))
            return node_error(&parts[i]);
    switch (p) {
    case CLUSTERC__RESP_DEFAULT:
        return concat(parts, n);
    case CLUSTERC__RESP_ALL_SUCCEEDED:
        return copy_of(parts[0].reply);
    case CLUSTERC__RESP_AGG_AND:
    case CLUSTERC__RESP_AGG_OR:
    case CLUSTERC__RESP_AGG_MIN:
    case CLUSTERC__RESP_AGG_MAX:
    case CLUSTERC__RESP_AGG_SUM:
        return aggregate(p, parts, n);
    default:
        return error_reply("ERR clusterc: response_policy:%s has no generic merge",
                           clusterc__resp_policy_name(p));
    }
}

redisReply *clusterc__fanout_reassemble(const clusterc__split *s, const clusterc__part *parts,
                                        size_t n)
{
    if (s == NULL || parts == NULL || n != s->nsub)
        return error_reply("ERR clusterc: %zu replies for %zu sub-commands", n,
                           s != NULL ? s->nsub : (size_t)0);
    for (size_t i = 0; i < n; i++)
        if (is_error(&parts[i]))
            return node_error(&parts[i]);
    for (size_t i = 0; i < n; i++) {
        const redisReply *r = parts[i].reply;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != s->sub[i].nkeys)
            return error_reply("ERR clusterc: %s answered %zu keys with %s", node_of(&parts[i]),
                               s->sub[i].nkeys,
                               r->type == REDIS_REPLY_ARRAY ? "another count" : "no array");
    }
    const redisReply **at = calloc(s->nkeys ? s->nkeys : 1, sizeof(*at));
    if (at == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < s->sub[i].nkeys; j++)
            at[s->sub[i].keypos[j]] = parts[i].reply->element[j];
    sbuf b = {NULL, 0, 0, 0};
    sb_printf(&b, "*%zu\r\n", s->nkeys);
    for (size_t k = 0; k < s->nkeys; k++) {
        if (at[k] != NULL)
            sb_reply(&b, at[k]);
        else
            sb_put(&b, "$-1\r\n", 5);   /* only a hand-made split leaves a hole */
    }
    free(at);
    return sb_finish(&b);
}

/* ================================================================== pairs */

redisReply *clusterc__fanout_pairs(const clusterc__part *parts, size_t n)
{
    sbuf b = {NULL, 0, 0, 0};
    sb_printf(&b, "*%zu\r\n", n);
    for (size_t i = 0; i < n; i++) {
        const char *node = node_of(&parts[i]);
        sb_printf(&b, "*2\r\n$%zu\r\n", strlen(node));
        sb_put(&b, node, strlen(node));
        sb_put(&b, "\r\n", 2);
        if (parts[i].reply)
            sb_reply(&b, parts[i].reply);
        else
            sb_put(&b, "-ERR clusterc: no reply\r\n", 25);
    }
    return sb_finish(&b);
}
