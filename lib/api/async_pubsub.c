/* async_pubsub.c -- Pub/Sub on the libevent face (async.h): the wanted
 * subscriptions go to the engine (engine/pubsub.c), which calls back here
 * for each message, inside its reentrancy guard, so the user's callback
 * may free or disconnect the client. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include "face_int.h"
#include "engine/pubsub.h"

static void on_message(clusterc__engine *e, const clusterc_message *m, void (*ufn)(void),
                       void *u1, void *u2)
{
    clusterc_message_fn *fn = (clusterc_message_fn *)ufn;
    (void)e;
    fn((clusterc_async *)u1, m, u2);
}

/* The same refusals as a command (async.c submit): a client that was
 * never set up keeps the error that says why; a closing one refuses. */
static int want(clusterc_async *a, int kind, const char *name, clusterc_message_fn *fn,
                void *privdata)
{
    clusterc__engine *e = a ? clusterc__async_engine(a) : NULL;
    if (!e)
        return -1;
    if (!fn || !name) {
        clusterc__err_set(clusterc__async_err(a), CLUSTERC_EINVAL, "%s is NULL",
                          fn ? "the name" : "the message callback");
        return -1;
    }
    return clusterc__pubsub_want(e, kind, name, strlen(name), on_message, (void (*)(void))fn, a,
                                 privdata, clusterc__async_err(a));
}

CLUSTERC_API int clusterc_async_subscribe(clusterc_async *a, const char *channel,
                                          clusterc_message_fn *fn, void *privdata)
{
    return want(a, CLUSTERC_PUBSUB_CHANNEL, channel, fn, privdata);
}

CLUSTERC_API int clusterc_async_psubscribe(clusterc_async *a, const char *pattern,
                                           clusterc_message_fn *fn, void *privdata)
{
    return want(a, CLUSTERC_PUBSUB_PATTERN, pattern, fn, privdata);
}

CLUSTERC_API int clusterc_async_ssubscribe(clusterc_async *a, const char *channel,
                                           clusterc_message_fn *fn, void *privdata)
{
    return want(a, CLUSTERC_PUBSUB_SHARD, channel, fn, privdata);
}

CLUSTERC_API int clusterc_async_unsubscribe(clusterc_async *a, int kind,
                                            const char *channel_or_pattern)
{
    clusterc__engine *e = a ? clusterc__async_engine(a) : NULL;
    if (!e)
        return -1;
    const char *name = channel_or_pattern;
    return clusterc__pubsub_unwant(e, kind, name, name ? strlen(name) : 0,
                                   clusterc__async_err(a));
}
