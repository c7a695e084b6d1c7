/* push.c -- Pub/Sub pushes, decoded and shape-checked (see push.h). */
#include <string.h>
#include "clusterc/clusterc.h"
#include "push.h"

typedef struct push_kind {
    const char *word;
    int kind;
    int what;
    size_t elements;
} push_kind;

static const push_kind pushes[] = {
    { "message", CLUSTERC_PUBSUB_CHANNEL, CLUSTERC__PUSH_MESSAGE, 3 },
    { "smessage", CLUSTERC_PUBSUB_SHARD, CLUSTERC__PUSH_MESSAGE, 3 },
    { "pmessage", CLUSTERC_PUBSUB_PATTERN, CLUSTERC__PUSH_MESSAGE, 4 },
    { "subscribe", CLUSTERC_PUBSUB_CHANNEL, CLUSTERC__PUSH_SUBSCRIBE, 3 },
    { "ssubscribe", CLUSTERC_PUBSUB_SHARD, CLUSTERC__PUSH_SUBSCRIBE, 3 },
    { "psubscribe", CLUSTERC_PUBSUB_PATTERN, CLUSTERC__PUSH_SUBSCRIBE, 3 },
    { "unsubscribe", CLUSTERC_PUBSUB_CHANNEL, CLUSTERC__PUSH_UNSUBSCRIBE, 3 },
    { "sunsubscribe", CLUSTERC_PUBSUB_SHARD, CLUSTERC__PUSH_UNSUBSCRIBE, 3 },
    { "punsubscribe", CLUSTERC_PUBSUB_PATTERN, CLUSTERC__PUSH_UNSUBSCRIBE, 3 },
};

static int is_str(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING;
}

/* Every element after the word has the type its place wants. */
static int shaped(const push_kind *p, const redisReply *r)
{
    for (size_t j = 1; j < p->elements; j++) {
        const redisReply *x = r->element[j];
        int ok = p->what == CLUSTERC__PUSH_MESSAGE || j == 1 ? is_str(x)
                                                              : x->type == REDIS_REPLY_INTEGER;
        /* UNSUBSCRIBE with no channel left answers a nil name. */
        if (!ok && !(p->what == CLUSTERC__PUSH_UNSUBSCRIBE && j == 1 &&
                     x->type == REDIS_REPLY_NIL))
            return 0;
    }
    return 1;
}

int clusterc__push_parse(const redisReply *r, clusterc__push *out)
{
    memset(out, 0, sizeof(*out));
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || !is_str(r->element[0]))
        return 0;
    const char *word = r->element[0]->str;
    if (r->elements == 2 && strcmp(word, "pong") == 0) {
        out->what = CLUSTERC__PUSH_PONG;
        return 1;
    }
    for (size_t i = 0; i < sizeof(pushes) / sizeof(pushes[0]); i++) {
        const push_kind *p = &pushes[i];
        if (strcmp(word, p->word) != 0 || r->elements != p->elements)
            continue;
        if (!shaped(p, r))
            return 0;
        out->what = p->what;
        out->kind = p->kind;
        out->name = r->element[1];
        if (p->what == CLUSTERC__PUSH_MESSAGE) {
            out->channel = r->element[p->elements - 2];
            out->payload = r->element[p->elements - 1];
        }
        return 1;
    }
    return 0;
}
