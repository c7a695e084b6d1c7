/*
 * async.h -- libclusterc's libevent face.
 *
 * The same engine as the blocking face (<clusterc/clusterc.h>), driven by the
 * caller's struct event_base. Commands are queued at once and written to
 * their nodes once per loop turn (many commands to one node in one turn are
 * one write); replies arrive through callbacks.
 *
 * Threads: one async client per event_base, used only from the thread that
 * runs that base. Callbacks run from inside the loop.
 */
#ifndef CLUSTERC_ASYNC_H
#define CLUSTERC_ASYNC_H

#include <event2/event.h>
#include "clusterc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clusterc_async clusterc_async;

/*
 * A reply callback. reply is the server's reply, or NULL when the command
 * failed (clusterc_async_error / clusterc_async_errstr say why, valid during
 * the callback). The library frees reply after the callback returns: copy
 * what you keep, and never pass it to freeReplyObject. A string, status,
 * integer or nil reply is taken from a pool of the client's and reused for
 * a later reply (its `element` is then not NULL: read `type`, as for any
 * reply). The callback may send more commands, and may call
 * clusterc_async_disconnect() or clusterc_async_free() on its own client.
 */
typedef void clusterc_async_fn(clusterc_async *a, redisReply *reply, void *privdata);

/*
 * Create an async client on base and start loading the slot map from the
 * seeds (in the background: commands sent meanwhile wait for it). Returns
 * NULL only when out of memory. Invalid options give a client whose
 * clusterc_async_error() is set and which refuses commands. base must
 * outlive the client.
 */
CLUSTERC_API clusterc_async *clusterc_async_connect(struct event_base *base,
                                                    const clusterc_options *o);

/*
 * Queue a command (hiredis format: "%s", "%b"+size_t). Returns 0 when queued
 * (fn will run exactly once, later, from the loop, never from inside this
 * call), or -1 when refused (bad format, client disconnecting or freed,
 * out of memory): then fn never runs and clusterc_async_errstr says why.
 * fn may be NULL (fire and forget).
 */
CLUSTERC_API int clusterc_async_command(clusterc_async *a, clusterc_async_fn *fn,
                                        void *privdata, const char *fmt, ...)
    CLUSTERC_PRINTF(4, 5);
CLUSTERC_API int clusterc_async_vcommand(clusterc_async *a, clusterc_async_fn *fn,
                                         void *privdata, const char *fmt, va_list ap);
CLUSTERC_API int clusterc_async_command_argv(clusterc_async *a, clusterc_async_fn *fn,
                                             void *privdata, int argc, const char **argv,
                                             const size_t *argvlen);

/* The same with a per-command route (CLUSTERC_ROUTE_*, see clusterc.h). */
CLUSTERC_API int clusterc_async_command_route(clusterc_async *a, int route, clusterc_async_fn *fn,
                                              void *privdata, const char *fmt, ...)
    CLUSTERC_PRINTF(5, 6);
CLUSTERC_API int clusterc_async_command_route_argv(clusterc_async *a, int route,
                                                   clusterc_async_fn *fn, void *privdata,
                                                   int argc, const char **argv,
                                                   const size_t *argvlen);

/* The same to one node (address or node id), as clusterc_command_to_node. */
CLUSTERC_API int clusterc_async_command_to_node(clusterc_async *a, const char *node,
                                                clusterc_async_fn *fn, void *privdata,
                                                const char *fmt, ...)
    CLUSTERC_PRINTF(5, 6);

/*
 * Graceful close (a drain): refuse new commands; start no map load, probe,
 * lag poll or reconnect; let each pending command finish or fail by its
 * own deadline (command_timeout_ms from when it was sent; a blocking
 * command that would block forever gets command_timeout_ms from the
 * drain); close each
 * connection as soon as nothing is pending on it, and at once one whose
 * command timed out (its reply may still come, half-sent). Once nothing is
 * pending, every socket, timer and resolver of the client is gone and the
 * DRAINED event is sent, so event_base_dispatch() returns within the
 * longest pending deadline (once nothing else of yours is pending), even
 * when a node is frozen, closed or leaves a reply half-sent. Every
 * callback still runs exactly once. The client stays allocated until
 * clusterc_async_free(). Safe inside a callback; a second call does
 * nothing.
 */
CLUSTERC_API void clusterc_async_disconnect(clusterc_async *a);

/*
 * Immediate close: every pending callback runs now with reply NULL
 * (CLUSTERC_ECLOSED), connections close, memory is released. Safe inside a
 * callback of this client (the release then happens when the callback
 * returns). One thing outlives the call: a host-name lookup in flight is
 * cancelled, and libevent delivers the cancellation from the loop, so the
 * resolver's memory goes at the next turn of base: run the loop once more
 * (or keep running it) before event_base_free(base).
 * clusterc_async_free(NULL) is a harmless no-op.
 */
CLUSTERC_API void clusterc_async_free(clusterc_async *a);

/* ------------------------------------------------------------------ pubsub */

/*
 * A message callback (see "Pub/Sub" in clusterc.h for the guarantees). m
 * and its strings are valid only during the callback. The callback may
 * send commands, (un)subscribe, disconnect or free the client.
 */
typedef void clusterc_message_fn(clusterc_async *a, const clusterc_message *m, void *privdata);

/*
 * Subscribe to a channel (SUBSCRIBE), a pattern (PSUBSCRIBE) or a shard
 * channel (SSUBSCRIBE, on the node owning the channel's slot). fn runs for
 * each message of it, with privdata. Returns 0 when accepted (the
 * subscription is made, and made again after failovers, in the
 * background), -1 when refused (client disconnecting, empty name, out of
 * memory; clusterc_async_errstr says why). Subscribing again to the same
 * name replaces fn and privdata.
 */
CLUSTERC_API int clusterc_async_subscribe(clusterc_async *a, const char *channel,
                                          clusterc_message_fn *fn, void *privdata);
CLUSTERC_API int clusterc_async_psubscribe(clusterc_async *a, const char *pattern,
                                           clusterc_message_fn *fn, void *privdata);
CLUSTERC_API int clusterc_async_ssubscribe(clusterc_async *a, const char *channel,
                                           clusterc_message_fn *fn, void *privdata);
/* Drop a subscription of that kind (CLUSTERC_PUBSUB_*): no callback for it
 * runs after this returns. 0, or -1 when it was not subscribed. */
CLUSTERC_API int clusterc_async_unsubscribe(clusterc_async *a, int kind,
                                            const char *channel_or_pattern);

/* ------------------------------------------------------ cluster-wide SCAN */

/*
 * The cluster-wide SCAN of clusterc.h ("cluster-wide SCAN": the same
 * algorithm, guarantees, filters and retry bounds) on the libevent face.
 * clusterc_async_scan_start returns a new scan (nothing sent yet), or NULL
 * when out of memory or a's options were rejected (clusterc_async_errstr).
 * clusterc_async_scan_next asks for the next batch: it returns 0 and fn
 * runs exactly once, later, from the loop (never inside this call), or -1
 * when a step is already running (CLUSTERC_EUSAGE; fn never runs). fn gets
 *   status 1   keys: a non-empty array reply of key strings, now owned by
 *              the callee (freeReplyObject)
 *   status 0   finished (keys NULL)
 *   status -1  failed after the retries (keys NULL); clusterc_async_errstr
 *              says why, and a later next tries again
 * While it retries the map is refreshed in the background and a timer on
 * a's event_base waits between tries. fn may call clusterc_async_scan_next
 * (the usual loop) or clusterc_async_scan_free on s. clusterc_async_scan_free
 * may be called at any time (a pending command's reply is then dropped
 * when it comes; no callback runs after it); NULL is a harmless no-op.
 * Free every scan before clusterc_async_free(a), at the latest from its
 * callback with status -1 (a scan waiting between retries holds a timer on
 * base and would use the freed client). Same thread rules as a.
 */
typedef struct clusterc_async_scan clusterc_async_scan;
typedef void clusterc_async_scan_fn(clusterc_async_scan *s, redisReply *keys, int status,
                                    void *privdata);
CLUSTERC_API clusterc_async_scan *clusterc_async_scan_start(clusterc_async *a, const char *match,
                                                            long count_hint, const char *type);
CLUSTERC_API int clusterc_async_scan_next(clusterc_async_scan *s, clusterc_async_scan_fn *fn,
                                          void *privdata);
CLUSTERC_API void clusterc_async_scan_free(clusterc_async_scan *s);

/* Last failure on this client (code and message), as for the blocking face. */
CLUSTERC_API int clusterc_async_error(const clusterc_async *a);
CLUSTERC_API const char *clusterc_async_errstr(const clusterc_async *a);

/* Counters since creation. */
CLUSTERC_API void clusterc_async_get_stats(const clusterc_async *a, clusterc_stats *out);

/* Per-node view, as clusterc_node_stats(); -1 (no map) once a graceful
 * disconnect has completed. */
CLUSTERC_API int clusterc_async_node_stats(const clusterc_async *a, clusterc_node_info *out,
                                           int max);

#ifdef __cplusplus
}
#endif
#endif /* CLUSTERC_ASYNC_H */
