/* push.h -- what a subscriber connection receives, decoded (pure).
 *
 * RESP2 pushes are arrays: "message" channel payload, "smessage" channel
 * payload, "pmessage" pattern channel payload, and the confirmations
 * "(s|p)subscribe" name count and "(s|p)unsubscribe" name count (the name
 * nil when nothing is left); "pong" "" answers a PING in subscribed mode.
 * clusterc__push_parse checks the shape so the engine can trust it.
 */
#ifndef CLUSTERC_PUSH_H
#define CLUSTERC_PUSH_H
#include <hiredis/hiredis.h>

enum clusterc__push_what {
    CLUSTERC__PUSH_MESSAGE = 0,
    CLUSTERC__PUSH_SUBSCRIBE,
    CLUSTERC__PUSH_UNSUBSCRIBE,
    CLUSTERC__PUSH_PONG
};

typedef struct clusterc__push {
    int what;                     /* enum clusterc__push_what */
    int kind;                     /* CLUSTERC_PUBSUB_CHANNEL, _PATTERN or _SHARD */
    const redisReply *name;       /* the subscription: channel, or pattern for
                                     pmessage; a string, or nil for an
                                     unsubscribe with nothing left */
    const redisReply *channel;    /* message: the channel (a string) */
    const redisReply *payload;    /* message: the payload (a string) */
} clusterc__push;

/* Decode r into *out (pointers into r). Returns 1, or 0 when r is no
 * well-formed push (the caller closes the stream). */
int clusterc__push_parse(const redisReply *r, clusterc__push *out);
#endif
