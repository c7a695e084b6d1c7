/*
 * threaded.h -- libclusterc's thread-safe face, the base of the bindings.
 *
 * The same engine as <clusterc/async.h>, run by the library on a loop
 * thread of its own (with a private event_base). Any thread may submit
 * commands at any time; each submission formats its command in the calling
 * thread, pushes it onto a lock-free stack (one compare-and-swap), and
 * wakes the loop thread only when the stack was empty (an eventfd write).
 * The loop takes the whole stack at once, in submission order, and writes
 * every command taken in one turn in one pass, so commands from many
 * threads share writes to a node exactly as commands of one async caller
 * do. Completions made in one loop turn enter the completion queue
 * together, under one lock.
 *
 * A completion is delivered in one of two ways, chosen per command:
 *
 *   by callback   clusterc_threaded_command*(): fn runs on the loop thread
 *                 (keep it short: it holds up every other command);
 *   by queue      clusterc_threaded_submit*(): a clusterc_completion
 *                 carrying the caller's 64-bit token is appended to the
 *                 client's completion queue. Any thread takes completions
 *                 in batches with clusterc_threaded_poll() (never blocks) or
 *                 clusterc_threaded_wait() (blocks until one is there), or
 *                 waits on clusterc_threaded_fd() in its own poll loop
 *                 (asyncio, Go's netpoller, epoll): the descriptor is
 *                 readable while completions are waiting.
 *
 * Every accepted command completes exactly once, by the way it was
 * submitted. No order is promised between completions of different
 * commands (they go to different nodes, and retries reorder): a caller
 * that needs one command to run after another waits for the first one's
 * completion. A binding built on the queue needs no thread per command in
 * flight, and one call may hand over hundreds of commands
 * (clusterc_threaded_submit_packed) or take hundreds of replies.
 *
 * Errors: submissions return 0, or a negative CLUSTERC_E* code (nothing is
 * kept on the handle, so threads never race for an error string). A
 * command that was accepted and then failed completes with reply NULL,
 * code set and errstr saying why (node, command, what happened), as the
 * other faces report.
 *
 * Threads: every function here may be called from any thread at the same
 * time, except clusterc_threaded_free() (once, when no other thread uses
 * the handle any more) and the rule that the loop thread itself (inside a
 * callback or an event hook) must not call clusterc_threaded_close(),
 * clusterc_threaded_free(), clusterc_threaded_wait() or the calls that
 * wait for the loop (stats): they return CLUSTERC_EUSAGE there instead of
 * deadlocking. options.on_event and options.on_command run on the loop
 * thread.
 *
 * Cost of a crossing (docs/bindings.md has the measured figures): a
 * submission is one format, one small allocation and one compare-and-swap;
 * the wakeup system call is made only when the stack was empty. The
 * completions of one loop turn cost one lock and at most one wakeup of a
 * waiting thread (a futex) or one eventfd write (only once someone asked
 * for clusterc_threaded_fd()).
 */
#ifndef CLUSTERC_THREADED_H
#define CLUSTERC_THREADED_H

#include "clusterc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clusterc_threaded clusterc_threaded;

/* What a completion carries (clusterc_completion.kind). */
#define CLUSTERC_COMPLETION_REPLY 1     /* the end of a command */
#define CLUSTERC_COMPLETION_MESSAGE 2   /* a Pub/Sub message (subscribe) */

/*
 * One completion taken from the queue. The caller owns what it points to
 * once clusterc_threaded_poll/wait returned it, and gives it back with
 * clusterc_completion_release() (which frees the reply too: to keep the
 * reply, set reply to NULL first and freeReplyObject() it later).
 *
 *   token        the caller's token of the command or subscription
 *   kind         CLUSTERC_COMPLETION_REPLY or CLUSTERC_COMPLETION_MESSAGE
 *   reply        REPLY: the server's reply (an error reply such as
 *                WRONGTYPE is a reply, not a failure), or NULL on failure
 *   code         REPLY: 0, or the CLUSTERC_E* code of the failure
 *   errstr       REPLY failed: the message ("timed out waiting for
 *                127.0.0.1:7001 (GET)"); otherwise NULL
 *   pubsub_kind  MESSAGE: CLUSTERC_PUBSUB_CHANNEL, _PATTERN or _SHARD
 *   channel      MESSAGE: the channel, NUL-terminated (channel_len bytes)
 *   pattern      MESSAGE: the pattern that matched (PATTERN), else NULL
 *   payload      MESSAGE: the payload (payload_len bytes, NUL-terminated
 *                after them; it may itself contain NUL)
 */
typedef struct clusterc_completion {
    uint64_t token;
    int kind;
    int code;
    redisReply *reply;
    char *errstr;
    int pubsub_kind;
    char *channel;
    size_t channel_len;
    char *pattern;
    char *payload;
    size_t payload_len;
} clusterc_completion;

/*
 * A reply callback, on the loop thread. reply is the server's reply or
 * NULL on failure (then code and errstr say why; errstr valid during the
 * call). The library frees reply after the callback returns: copy what
 * you keep. The callback may submit more commands (any clusterc_threaded_*
 * submission), but not close or free the client.
 */
typedef void clusterc_threaded_fn(clusterc_threaded *t, redisReply *reply, int code,
                                  const char *errstr, void *privdata);

/*
 * Start a client: create its event_base and loop thread and start loading
 * the slot map (commands submitted meanwhile wait for it, as on the async
 * face). o is copied; it may be freed once this returns. Returns NULL only
 * when out of memory or no thread could be started. Invalid options give a
 * client whose clusterc_threaded_error() is set and which refuses every
 * command (CLUSTERC_EINVAL).
 */
CLUSTERC_API clusterc_threaded *clusterc_threaded_connect(const clusterc_options *o);

/* The same from a URL (clusterc_options_parse_url); a bad URL gives a
 * client carrying the parse error, as above. For bindings. */
CLUSTERC_API clusterc_threaded *clusterc_threaded_connect_url(const char *url);

/* The error that made the client unusable at connect (invalid options, a
 * TLS file that cannot be used), or 0 / "" . Set once, before connect
 * returns, so any thread may read it. */
CLUSTERC_API int clusterc_threaded_error(const clusterc_threaded *t);
CLUSTERC_API const char *clusterc_threaded_errstr(const clusterc_threaded *t);

/* ------------------------------------------------------------- callbacks */

/*
 * Submit a command whose completion runs fn on the loop thread (fn NULL:
 * fire and forget). Format as hiredis's (%s, %b with a size_t length).
 * route is a CLUSTERC_ROUTE_* value (CLUSTERC_ROUTE_DEFAULT: the client's
 * read policy). Returns 0 when accepted (fn will run exactly once, on the
 * loop thread, never inside this call), or a negative CLUSTERC_E* code
 * when refused (then fn never runs): CLUSTERC_EINVAL bad format or route,
 * CLUSTERC_ENOMEM, CLUSTERC_ECLOSED after clusterc_threaded_close().
 */
CLUSTERC_API int clusterc_threaded_command(clusterc_threaded *t, int route,
                                           clusterc_threaded_fn *fn, void *privdata,
                                           const char *fmt, ...) CLUSTERC_PRINTF(5, 6);
CLUSTERC_API int clusterc_threaded_command_argv(clusterc_threaded *t, int route,
                                                clusterc_threaded_fn *fn, void *privdata,
                                                int argc, const char **argv,
                                                const size_t *argvlen);

/* ----------------------------------------------------------------- queue */

/*
 * Submit a command whose completion goes to the completion queue with
 * token (the caller's: a sequence number, an index, a pointer; the
 * library never looks at it). Same formats, routes and return values as
 * above. node, in _to_node, names one node by "host:port" or node id as
 * clusterc_command_to_node does.
 */
CLUSTERC_API int clusterc_threaded_submit(clusterc_threaded *t, uint64_t token, int route,
                                          const char *fmt, ...) CLUSTERC_PRINTF(4, 5);
CLUSTERC_API int clusterc_threaded_submit_argv(clusterc_threaded *t, uint64_t token, int route,
                                               int argc, const char **argv,
                                               const size_t *argvlen);
CLUSTERC_API int clusterc_threaded_submit_to_node(clusterc_threaded *t, uint64_t token,
                                                  const char *node, int argc,
                                                  const char **argv, const size_t *argvlen);

/*
 * Submit n commands in one call, packed for foreign callers (no array of
 * pointers to build): command i has argc[i] arguments; the lengths of all
 * arguments of all commands follow one another in lens, and their bytes
 * one another in buf. tokens[i] is command i's token; routes may be NULL
 * (every command CLUSTERC_ROUTE_DEFAULT). The loop is woken once for the
 * batch. Returns the number of commands accepted, which is n unless one
 * was refused: then commands 0 .. result-1 were accepted (they complete),
 * the rest were not, and *err (when err is not NULL) is the refusal's
 * code. A command with argc[i] < 1 is refused (CLUSTERC_EINVAL).
 */
CLUSTERC_API int clusterc_threaded_submit_packed(clusterc_threaded *t, int n,
                                                 const uint64_t *tokens, const int *routes,
                                                 const int *argc, const size_t *lens,
                                                 const char *buf, int *err);

/*
 * Take up to max completions (oldest first) into out; never blocks.
 * Returns how many were taken (0: none waiting), or CLUSTERC_ECLOSED once
 * the client is closed and the queue is empty (nothing will ever come).
 */
CLUSTERC_API int clusterc_threaded_poll(clusterc_threaded *t, clusterc_completion *out, int max);

/*
 * The same, waiting up to timeout_ms (-1: without limit) for at least one
 * completion. Returns the number taken, 0 on timeout or when
 * clusterc_threaded_wakeup() was called, CLUSTERC_ECLOSED as above,
 * CLUSTERC_EUSAGE on the loop thread. Several threads may wait at once.
 */
CLUSTERC_API int clusterc_threaded_wait(clusterc_threaded *t, clusterc_completion *out, int max,
                                        int timeout_ms);

/* Make every clusterc_threaded_wait() in progress return (0) now, e.g. to
 * stop a thread that waits for completions. */
CLUSTERC_API void clusterc_threaded_wakeup(clusterc_threaded *t);

/*
 * A descriptor that is readable while the completion queue is not empty
 * (an eventfd on Linux): register it with your poll loop and call
 * clusterc_threaded_poll() when it fires, until it returns 0. Owned by
 * the client; do not read or close it. Valid until clusterc_threaded_free().
 */
CLUSTERC_API int clusterc_threaded_fd(const clusterc_threaded *t);

/* Give back what a completion points to (reply, errstr, message strings)
 * and clear it. NULL is a harmless no-op. _n releases c[0] .. c[n-1] in
 * one call (for bindings: one crossing per batch, not per reply). */
CLUSTERC_API void clusterc_completion_release(clusterc_completion *c);
CLUSTERC_API void clusterc_completion_release_n(clusterc_completion *c, int n);

/* --------------------------------------------------------------- pubsub */

/*
 * Subscribe (kind CLUSTERC_PUBSUB_CHANNEL, _PATTERN or _SHARD) with the
 * guarantees of the async face (made again after failovers). Each message
 * arrives in the completion queue as a MESSAGE completion with token.
 * Subscribing again to the same name replaces the token. Returns 0, or a
 * negative CLUSTERC_E* code (EINVAL: empty name or bad kind, ECLOSED).
 * _unsubscribe: no message of that subscription is queued after the loop
 * takes the request (messages already queued stay there).
 */
CLUSTERC_API int clusterc_threaded_subscribe(clusterc_threaded *t, uint64_t token, int kind,
                                             const char *name);
CLUSTERC_API int clusterc_threaded_unsubscribe(clusterc_threaded *t, int kind, const char *name);

/* -------------------------------------------------------------- lifecycle */

/*
 * Graceful close, as clusterc_async_disconnect(): refuse new submissions
 * (CLUSTERC_ECLOSED; a command that races with the close may instead be
 * accepted and then complete with CLUSTERC_ECLOSED), let each accepted command finish or fail by its own
 * deadline, then stop the loop thread; returns once it has stopped (within
 * the longest pending deadline). Every accepted command has completed by
 * then: its callback ran, or its completion is in the queue, which stays
 * readable (poll/wait hand out what is left, then CLUSTERC_ECLOSED).
 * Waiters are woken. A second call does nothing. CLUSTERC_EUSAGE on the
 * loop thread, else 0.
 */
CLUSTERC_API int clusterc_threaded_close(clusterc_threaded *t);

/* Close if not closed, release the completions nobody took, free the
 * client. Call once, when no other thread uses it. NULL: no-op. */
CLUSTERC_API void clusterc_threaded_free(clusterc_threaded *t);

/* ----------------------------------------------------------- observation */

/* Counters since creation (asked of the loop thread, so it waits for one
 * loop turn); after clusterc_threaded_close() has returned, the final
 * counters. 0, or CLUSTERC_ECLOSED while a close is under way /
 * CLUSTERC_EUSAGE on the loop thread (then *out is zeroed). */
CLUSTERC_API int clusterc_threaded_get_stats(clusterc_threaded *t, clusterc_stats *out);

/* The per-node view as JSON text, as clusterc_node_stats_json(); free it
 * with free(). NULL when out of memory, closed, or on the loop thread. */
CLUSTERC_API char *clusterc_threaded_node_stats_json(clusterc_threaded *t);

/* Commands submitted and not yet completed (including completions not yet
 * taken from the queue: they count until poll/wait hands them out). */
CLUSTERC_API long clusterc_threaded_pending(const clusterc_threaded *t);

#ifdef __cplusplus
}
#endif
#endif /* CLUSTERC_THREADED_H */
