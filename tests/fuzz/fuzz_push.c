/* fuzz_push.c -- what a subscriber connection reads -> clusterc__push_parse.
 * Up to 8 replies per input, as a stream of pushes would come; a decoded
 * push must point at strings where the engine reads strings. */
#include <string.h>
#include "fuzz_common.h"
#include "clusterc/clusterc.h"
#include "proto/push.h"

#define MAXREPLIES 8

static void check(const clusterc__push *p)
{
    if (p->what == CLUSTERC__PUSH_PONG)
        return;
    if (p->kind < CLUSTERC_PUBSUB_CHANNEL || p->kind > CLUSTERC_PUBSUB_SHARD)
        fuzz_fail("push kind out of range");
    if (!p->name)
        fuzz_fail("push without a name");
    if (p->what == CLUSTERC__PUSH_MESSAGE) {
        if (p->name->type != REDIS_REPLY_STRING || !p->channel || !p->payload ||
            p->channel->type != REDIS_REPLY_STRING || p->payload->type != REDIS_REPLY_STRING)
            fuzz_fail("message whose name, channel or payload is no string");
    } else if (p->name->type != REDIS_REPLY_STRING &&
               !(p->what == CLUSTERC__PUSH_UNSUBSCRIBE && p->name->type == REDIS_REPLY_NIL)) {
        fuzz_fail("confirmation whose name is no string");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReply *r[MAXREPLIES];
    size_t n = fuzz_replies(data, size, r, MAXREPLIES);
    for (size_t i = 0; i < n; i++) {
        clusterc__push p;
        if (clusterc__push_parse(r[i], &p))
            check(&p);
        freeReplyObject(r[i]);
    }
    return 0;
}
