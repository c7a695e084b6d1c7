/*
 * clusterc.h -- libclusterc, a Redis Cluster / Valkey client: the blocking face.
 *
 * One client talks to one cluster. It keeps the slot map (CLUSTER SHARDS,
 * falling back to CLUSTER SLOTS), hashes keys to slots, follows MOVED and
 * ASK, retries TRYAGAIN / CLUSTERDOWN / LOADING with backoff, and refreshes
 * the map without storms. The blocking calls here run the same event-driven
 * engine as the libevent face (<clusterc/async.h>) on a private event_base.
 *
 * Replies are hiredis `redisReply` objects; free them with freeReplyObject().
 * A server error reply (WRONGTYPE, NOSCRIPT, ...) is a reply of type
 * REDIS_REPLY_ERROR, not a failure. A failure (no reply at all) is a NULL
 * return; clusterc_error() and clusterc_errstr() say why.
 *
 * Threads: a client is not thread-safe. Use one client per thread (or guard
 * it with your own lock). Different clients share nothing and may be used
 * from different threads at once.
 */
#ifndef CLUSTERC_CLUSTERC_H
#define CLUSTERC_CLUSTERC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CLUSTERC_BUILDING) && defined(__GNUC__)
#define CLUSTERC_API __attribute__((visibility("default")))
#else
#define CLUSTERC_API
#endif

#if defined(__GNUC__)
#define CLUSTERC_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CLUSTERC_PRINTF(fmt, args)
#endif

#define CLUSTERC_VERSION_MAJOR 0
#define CLUSTERC_VERSION_MINOR 1
#define CLUSTERC_VERSION_PATCH 0
#define CLUSTERC_SLOTS 16384

/* ------------------------------------------------------------------ errors */

/*
 * Error codes. Every failing call sets one on its handle; clusterc_strerror()
 * names it, clusterc_errstr() gives the full message with the node and the
 * command involved. Codes are negative so they never collide with counts.
 */
#define CLUSTERC_ERRNO_MAP(X)                                                  \
    X(OK, 0, "success")                                                        \
    X(ENOMEM, -1, "out of memory")                                             \
    X(EINVAL, -2, "invalid argument or option")                                \
    X(ECONNECT, -3, "could not connect")                                       \
    X(EIO, -4, "connection lost")                                              \
    X(ETIMEOUT, -5, "timed out")                                               \
    X(EPROTOCOL, -6, "protocol error")                                         \
    X(ETOPOLOGY, -7, "no usable slot map")                                     \
    X(EREDIRECTS, -8, "too many redirects")                                    \
    X(EAUTH, -9, "authentication failed")                                      \
    X(EUNCERTAIN, -10, "connection lost after a write was sent; it may have run") \
    X(ECLOSED, -11, "client is closed")                                        \
    X(ERETRIES, -12, "too many retries")                                       \
    X(ENOREPLICA, -13, "no eligible replica")                                  \
    X(EUSAGE, -14, "call not allowed now")                                     \
    X(ETLS, -15, "TLS handshake or certificate check failed")                  \
    X(EOVERLOAD, -16, "too many commands in flight")

enum clusterc_errno {
#define CLUSTERC_ERRNO_ENUM(name, code, text) CLUSTERC_##name = code,
    CLUSTERC_ERRNO_MAP(CLUSTERC_ERRNO_ENUM)
#undef CLUSTERC_ERRNO_ENUM
};

/* The fixed text of an error code ("timed out"); "unknown error" for codes
 * not in the list. The string is static: never free it. */
CLUSTERC_API const char *clusterc_strerror(int code);

/* ------------------------------------------------ lifecycle events, hooks */

/*
 * Lifecycle events: what happened to the client as a whole or to one node,
 * reported once per change (a node that stays down is one NODE_FAILING,
 * not one per failed attempt), from the place where the state changed,
 * and before the commands it affects fail.
 *   READY              the first slot map was installed (once per client)
 *   MAP_UPDATED        a later map changed who serves what; detail says what
 *                      ("new primary 127.0.0.1:7004 (was a replica); slots
 *                      moved: 5462; ..."), counted against the last map
 *                      installed (MOVED replies in between included)
 *   NODE_CONNECTED     a connection to node came up (handshake queued)
 *   NODE_DISCONNECTED  a connection that was up closed; code says why
 *                      (not for the connections a drain closes: a drain
 *                      reports DRAINED once, at its end)
 *   NODE_FAILING       node could not be reached or was lost and is now
 *                      avoided (failing_ms); code and detail say why
 *   NODE_RECOVERED     a node that was failing answered again
 *   DRAINED            a graceful close finished: nothing pending, every
 *                      connection closed (the last event of a client)
 *   SUBSCRIBE_REFUSED  a node refused a subscription for good (an ACL user
 *                      without that channel: NOPERM; an unknown command):
 *                      it is dropped from the wanted ones, the others stay
 *                      subscribed. node is the node that refused, code
 *                      CLUSTERC_EUSAGE, detail "<VERB> <name>: <the
 *                      server's error>" (VERB SUBSCRIBE, PSUBSCRIBE or
 *                      SSUBSCRIBE; a name over 200 bytes is cut). Once per
 *                      refusal; stats.subscribes_refused counts them
 * node is "host:port" as dialled, NULL for client-wide events; code is a
 * CLUSTERC_E... for failures, 0 otherwise; detail is words, never NULL.
 * Every pointer is valid only during the callback.
 */
#define CLUSTERC_EVENT_READY 1
#define CLUSTERC_EVENT_MAP_UPDATED 2
#define CLUSTERC_EVENT_NODE_CONNECTED 3
#define CLUSTERC_EVENT_NODE_DISCONNECTED 4
#define CLUSTERC_EVENT_NODE_FAILING 5
#define CLUSTERC_EVENT_NODE_RECOVERED 6
#define CLUSTERC_EVENT_DRAINED 7
#define CLUSTERC_EVENT_SUBSCRIBE_REFUSED 8

typedef struct clusterc_event {
    int type;            /* CLUSTERC_EVENT_* */
    const char *node;    /* "host:port", NULL for client-wide events */
    int code;            /* CLUSTERC_E... for failures, 0 otherwise */
    const char *detail;  /* words: why, what changed */
} clusterc_event;        /* valid only during the callback */

/*
 * Called on the client's thread, from inside the client's calls (blocking
 * face) or the event loop (async face). The blocking face's callback must
 * not call into its own client; the async face's may send commands,
 * disconnect or free its client (a free then completes once the callback
 * returns). Keep it short: it runs on the request path.
 */
typedef void clusterc_event_fn(const clusterc_event *ev, void *privdata);

/* The name of an event type ("READY", "MAP_UPDATED", ...); "UNKNOWN" for
 * other values. Static: never free it. */
CLUSTERC_API const char *clusterc_event_name(int type);

/*
 * Command hook: once per caller's command, when it completes (the
 * library's own commands, such as map loads and probes, are not reported).
 *   name         the command ("GET", "CLUSTER SHARDS" for a sub-command)
 *   node         the node of its last attempt, NULL if it never left the
 *                client
 *   route        the CLUSTERC_ROUTE_* it was sent with
 *   redirects    MOVED / ASK followed; retries: backoff retries taken
 *   duration_us  from submission to completion (CLOCK_MONOTONIC)
 *   code         0 when a reply came (error replies included), else the
 *                CLUSTERC_E... the caller gets
 * Valid only during the callback; same thread rules as clusterc_event_fn.
 * With no hook set nothing is timed: the hook costs nothing when unset.
 */
typedef struct clusterc_command_info {
    const char *name;
    const char *node;
    int route;
    int redirects;
    int retries;
    int64_t duration_us;
    int code;            /* 0 = a reply came (error replies included) */
} clusterc_command_info;
typedef void clusterc_command_fn(const clusterc_command_info *ci, void *privdata);

/* ------------------------------------------------------------------ pubsub */

/*
 * Pub/Sub. Subscriptions run on connections of their own, never on the
 * multiplexed command connections: classic channels and patterns on one
 * subscriber connection to one node (any node serves them in a cluster),
 * shard channels (SSUBSCRIBE) on one connection per node that owns a
 * subscribed slot (a replica when a read policy is on and it is eligible,
 * as for reads). The client keeps the subscriptions you want and makes the
 * actual ones match: after a failover, a slot migration (the server's
 * SUNSUBSCRIBE), a lost connection or a map change each wanted channel is
 * subscribed again on its current owner, by itself.
 *
 * Delivery is at most once, as Redis Pub/Sub is: a message published while
 * its channel is not subscribed (between a node's failure and the
 * resubscription on its successor, typically node-timeout plus one map
 * load) is lost, and stats.unsubscribed_us says how long that was.
 * A subscription the server refuses for good (NOPERM for an ACL user
 * without the channel, an unknown command) is dropped from the wanted
 * ones, counted in stats.subscribes_refused and reported once by the
 * event CLUSTERC_EVENT_SUBSCRIBE_REFUSED; the connection and the other
 * subscriptions stay up. Refusals that pass (CLUSTERDOWN, TRYAGAIN,
 * LOADING, MASTERDOWN, BUSY) are tried again after a backoff (100 ms
 * doubling to 1 s), MOVED / ASK where they point.
 * Sending SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their UNSUBSCRIBE forms or
 * MONITOR through the command functions fails at once with
 * CLUSTERC_EUSAGE; PUBLISH and SPUBLISH are ordinary commands.
 */
#define CLUSTERC_PUBSUB_CHANNEL 1   /* SUBSCRIBE / message */
#define CLUSTERC_PUBSUB_PATTERN 2   /* PSUBSCRIBE / pmessage */
#define CLUSTERC_PUBSUB_SHARD 3     /* SSUBSCRIBE / smessage */

typedef struct clusterc_message {
    int kind;                 /* CLUSTERC_PUBSUB_CHANNEL, _PATTERN or _SHARD */
    const char *channel; size_t channel_len;
    const char *pattern; size_t pattern_len;   /* NULL unless kind == _PATTERN */
    const char *payload; size_t payload_len;
} clusterc_message;          /* valid only during the callback (async) or
                                until the next call on the client (blocking) */

/* ----------------------------------------------------------------- options */

/*
 * Address remap: nodes announce the addresses they see themselves at
 * (CLUSTER SHARDS / SLOTS, MOVED, ASK); a client outside their network (a
 * Docker network seen through published ports, a proxy) dials others.
 * Called with an announced host and port; write the address to dial into
 * out_host (NUL-terminated, at most out_cap bytes) and *out_port and return
 * 1, or return 0 to dial the announced address. Called from the client's
 * thread, during map loads and redirects; must not call into the client.
 */
typedef int clusterc_remap_fn(const char *host, int port, char *out_host, size_t out_cap,
                              int *out_port, void *arg);

/*
 * Options for a client. Always call clusterc_options_init() first, then set
 * the fields you need: new fields get sane defaults that way. The client
 * copies every string it is given, so the options may be freed or reused
 * after clusterc_connect() / clusterc_async_connect() returns.
 */
typedef struct clusterc_options {
    /* Comma-separated seed nodes: "host:port,host:port". IPv6 as
     * "[::1]:7001"; hostnames are resolved with libevent's resolver.
     * Seeds are tried in order until one returns the slot map. Required. */
    const char *seeds;
    const char *username;      /* ACL user for AUTH; NULL = "default" */
    const char *password;      /* NULL = no AUTH */
    const char *client_name;   /* CLIENT SETNAME on every connection; NULL = none */
    int connect_timeout_ms;    /* per connection attempt; default 1000 */
    int command_timeout_ms;    /* one deadline across all attempts of a
                                  command (redirects, retries); default 2000.
                                  A blocking command (BLPOP, BLMOVE, XREAD
                                  BLOCK, WAIT...) gets its own timeout plus
                                  this; one that blocks forever (timeout 0)
                                  has no deadline, but a lost connection
                                  still fails it */
    int max_redirects;         /* MOVED/ASK followed per command; default 3;
                                  -1 = never follow (the redirect is an error) */
    int max_retries;           /* TRYAGAIN/CLUSTERDOWN/LOADING/lost-connection
                                  retries per command, within its deadline;
                                  default 16 */
    int retry_backoff_min_ms;  /* first retry waits about this; default 8 */
    int retry_backoff_max_ms;  /* backoff cap (exponential, each wait drawn
                                  from [d/2, d]: equal jitter);
                                  default 512 */
    int refresh_min_interval_ms; /* at most one slot-map refresh per this;
                                    default 1000 */
    int refresh_interval_ms;   /* periodic refresh; default 60000; 0 = off */
    int tcp_keepalive_s;       /* TCP keepalive idle time; default 60; 0 = off */
    int blocking_pool_size;    /* connections per node for blocking commands
                                  (BLPOP, XREAD BLOCK, WAIT...), opened when
                                  needed and reused; more wait for one to
                                  free up; default 4 */
    int multi_slot_split;      /* split MGET/MSET/DEL/EXISTS... whose keys
                                  are in several slots (1, the default), or
                                  send them whole and get the server's
                                  CROSSSLOT error (0) */
    int max_inflight;          /* callers' commands unfinished, per client;
                                  beyond it a submit fails at once with
                                  CLUSTERC_EOVERLOAD, nothing sent. Default
                                  100000 (about 23 MB for small commands);
                                  0 = no bound */
    int max_node_queue;        /* commands queued for a node whose connection
                                  is not up; beyond it they fail at once
                                  with CLUSTERC_EOVERLOAD. Default 10000;
                                  0 = no bound */
    int pubsub_queue_max;      /* blocking face: messages kept until
                                  clusterc_next_message takes them; past
                                  this the oldest is dropped (counted in
                                  stats.messages_dropped); default 10000 */

    /* Read routing (go-redis ReadOnly / RouteRandomly / RouteByLatency).
     * Precedence: route_by_latency > route_randomly > read_only; either of
     * the first two implies read_only. */
    int read_only;
    int route_by_latency;
    int route_randomly;
    int latency_tolerance_us;  /* route_by_latency: nodes within this of the
                                  fastest share reads round-robin; default
                                  1000; 0 = strict minimum */
    int latency_replicas_only; /* route_by_latency among replicas only; the
                                  primary is the last resort; default 0 */
    int latency_probe_ms;      /* PING round-trip probe period per node
                                  (EWMA); default 1000; 0 = off */
    int failing_ms;            /* a node whose connection failed (or that
                                  answered LOADING/MASTERDOWN to a read) gets
                                  no reads for this long; default 15000 */
    int max_lag_ms;            /* exclude replicas whose lag (whole seconds,
                                  as INFO replication reports it) exceeds
                                  this; default 0 = no bound */
    long long max_lag_bytes;   /* exclude replicas whose acknowledged offset
                                  trails the primary's by more; 0 = no bound */
    int lag_probe_ms;          /* INFO replication poll period per primary,
                                  when a lag bound or read_your_writes is on;
                                  default 1000 */
    int read_your_writes;      /* 1: once a write this client sent to a
                                  shard was answered, its later reads of that
                                  shard go to the primary or to a replica a
                                  lag poll (sent with none of its writes to
                                  that primary unanswered) showed caught up.
                                  Not covered: other clients' writes, keyless
                                  writes, failover losses, reads pipelined
                                  before the write's reply
                                  (docs/read-routing.md). Default 0 */
    const char *client_az;     /* this client's availability zone; nodes'
                                  zones come from INFO server's
                                  availability_zone (Valkey 8); NULL = none */
    int az_affinity;           /* reads (policy above, or round-robin) go to
                                  eligible replicas in client_az first, then
                                  any replica, then the primary; 2: the
                                  primary in client_az before other zones;
                                  needs client_az; default 0 */
    const char *node_address_map;  /* static remap "announced=dialled,...",
                                      e.g. "172.30.0.17:7007=127.0.0.1:7007";
                                      NULL = none */
    clusterc_remap_fn *node_address_remap;  /* remap callback (after the
                                               static map); NULL = none */
    void *node_address_remap_arg;

    /* TLS (OpenSSL) for every connection the client opens: commands,
     * blocking commands, subscribers, admin. The handshake is non-blocking
     * and counts against connect_timeout_ms. With tls on, nodes are dialled
     * at the TLS port they announce (CLUSTER SHARDS "tls-port"; CLUSTER
     * SLOTS over TLS gives it), remapped like any address. The server's
     * certificate is verified, host name (or IP SAN) included, unless
     * tls_insecure_skip_verify. Files are read once, at connect; an
     * unreadable file fails clusterc_connect with CLUSTERC_EINVAL naming it. */
    int tls;                       /* 1: TLS; "rediss://" sets it; default 0 */
    const char *tls_ca_file;       /* PEM CA bundle; NULL (and tls_ca_dir
                                      NULL) = the system's trust store */
    const char *tls_ca_dir;        /* directory of hashed CA certificates
                                      (c_rehash); NULL = none */
    const char *tls_cert_file;     /* client certificate (PEM), mutual TLS */
    const char *tls_key_file;      /* its unencrypted PEM key (both or none) */
    const char *tls_server_name;   /* SNI, and the name the certificate must
                                      carry; NULL = the host dialled (a name
                                      or an IP address, checked against the
                                      IP SANs) */
    int tls_insecure_skip_verify;  /* 1: accept ANY certificate, of anyone:
                                      the connection is encrypted but not
                                      authenticated, so a machine in the
                                      path can read and change everything,
                                      password included. Tests only.
                                      Default 0 */
    const char *tls_min_version;   /* "1.2" (NULL: the default) or "1.3" */

    /* Lifecycle events and the command hook (see above); set here so the
     * events of connecting (READY, the first NODE_CONNECTED) are seen.
     * NULL = off. */
    clusterc_event_fn *on_event;
    void *event_privdata;
    clusterc_command_fn *on_command;
    void *command_privdata;

    /* Owned by clusterc_options_parse_url (strings it made); freed by
     * clusterc_options_release. Leave alone. */
    void *url_strings;
    char url_error[256];
} clusterc_options;

/* Fill *o with the documented defaults (seeds NULL, no auth). */
CLUSTERC_API void clusterc_options_init(clusterc_options *o);

/*
 * Set options from a URL, with the keys go-redis's ParseClusterURL takes:
 *   redis://[user:password@]host:port[?addr=host:port&addr=...&key=value...]
 * go-redis keys: addr (more seeds, repeatable), read_only, route_by_latency,
 * route_randomly, max_redirects, dial_timeout, read_timeout, write_timeout
 * (durations: "1s", "500ms", "2m", or plain seconds), client_name, username,
 * password, max_retries, min_retry_backoff, max_retry_backoff (durations);
 * this library's: latency_tolerance (duration), latency_replicas_only,
 * latency_probe (duration), failing_timeout (duration), max_lag (duration),
 * max_lag_bytes, lag_probe (duration), read_your_writes, refresh_interval,
 * refresh_min_interval (durations), node_address_map, blocking_pool_size,
 * pubsub_queue_max, max_inflight, max_node_queue; TLS: tls, tls_ca_file,
 * tls_ca_dir, tls_cert_file, tls_key_file, tls_server_name,
 * tls_insecure_skip_verify, tls_min_version (the fields of the same names). Booleans: true/false/1/0/yes/no.
 * "rediss://" sets tls (its port still defaults to 6379). The port
 * defaults to 6379; the path may only be "/" or "/0". An empty value
 * ("key=") keeps the default, as in go-redis (except addr=). go-redis's
 * pool keys (pool_size, min_idle_conns, pool_timeout, conn_max_idle_time...)
 * are accepted and ignored: this client keeps one connection per node.
 * Fields the URL does not name keep their values, so call
 * clusterc_options_init first; a failed parse changes nothing.
 * Percent-encode '/', '?', '#', '&' and '@' in a user name or password
 * (base64 passwords hold '/'), and '#' and '&' in any value. A '#' is
 * refused: a redis URL has no fragment (go-redis ignores one), and a '#'
 * there is most likely an unescaped character of a password, which would
 * otherwise be cut short silently. An '@' after the host where none can
 * be (the path, a key, a value that is not a string) is refused as a user
 * info holding an unescaped '/', '?' or '#'.
 * Returns 0, or -1 when a key is unknown or a value bad: then
 * clusterc_options_url_error(o) says what is wrong, naming the key and,
 * when it cannot be part of a secret, the text at fault. It never shows a
 * password or user name: when the URL holds an '@' or a password key, the
 * host and path are not quoted, nor any query text from the password pair
 * on (all of the query when an '@' follows the host), since a password
 * with an unescaped delimiter is read in pieces as host, path or keys.
 * Strings the URL provides are owned by *o until
 * clusterc_options_release(o) (or the next parse), and copied by
 * clusterc_connect as usual.
 */
CLUSTERC_API int clusterc_options_parse_url(clusterc_options *o, const char *url);
CLUSTERC_API const char *clusterc_options_url_error(const clusterc_options *o);
/* Free what clusterc_options_parse_url allocated (NULL-safe, idempotent). */
CLUSTERC_API void clusterc_options_release(clusterc_options *o);

/* --------------------------------------------------------------- keyslot */

/* The hash slot (0..16383) of a key: CRC16-XMODEM of the key, or of its hash
 * tag (the bytes between the first '{' and the next '}', when non-empty),
 * modulo 16384. key may hold any bytes; keylen 0 gives slot 0. */
CLUSTERC_API int clusterc_keyslot(const char *key, size_t keylen);

/* ------------------------------------------------------------ the client */

typedef struct clusterc_client clusterc_client;

/*
 * Create a client and load the slot map from the seeds (blocking, bounded by
 * connect_timeout_ms per seed). Returns NULL only when out of memory. When
 * the map cannot be loaded (bad options, every seed down, wrong password) the
 * client is still returned with clusterc_error() set and the reason in
 * clusterc_errstr(), naming each seed and what went wrong with it; later
 * commands try the seeds again. Free the client with clusterc_free() in all
 * cases.
 */
CLUSTERC_API clusterc_client *clusterc_connect(const clusterc_options *o);

/* clusterc_options_init + clusterc_options_parse_url + clusterc_connect in
 * one call, for bindings that would rather not lay out clusterc_options.
 * Returns NULL only when out of memory; a bad URL gives a client whose
 * clusterc_error() is CLUSTERC_EINVAL and whose errstr names the key. */
CLUSTERC_API clusterc_client *clusterc_connect_url(const char *url);

/* clusterc_connect_url with the lifecycle event and command hooks set
 * (clusterc_options.on_event ... command_privdata), for bindings: a
 * binding lays out clusterc_event and clusterc_command_info only. Any
 * hook may be NULL. */
CLUSTERC_API clusterc_client *clusterc_connect_url_hooks(const char *url,
                                                         clusterc_event_fn *on_event,
                                                         void *event_privdata,
                                                         clusterc_command_fn *on_command,
                                                         void *command_privdata);

/* Close every connection and free the client. Replies already returned stay
 * valid (they belong to the caller). Appended commands whose replies were
 * not collected are drained first: each finishes or fails by its own
 * deadline (no map load, no reconnect meanwhile), so a write appended
 * before the free is not cut off mid-flight; their replies are then
 * dropped. So clusterc_free returns within command_timeout_ms of the
 * oldest uncollected command (at once when none is pending), after the
 * DRAINED event; a blocking command that would block forever (BLPOP k 0)
 * gets command_timeout_ms from the free. clusterc_free(NULL) is a
 * harmless no-op. */
CLUSTERC_API void clusterc_free(clusterc_client *c);

/* The code (CLUSTERC_E...) of the last failure on this client, 0 if the last
 * call succeeded. */
CLUSTERC_API int clusterc_error(const clusterc_client *c);

/* The message of the last failure ("" when none). It names the node and the
 * command where they apply. Valid until the next call on the client. */
CLUSTERC_API const char *clusterc_errstr(const clusterc_client *c);

/*
 * Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
 * BZPOPMAX, BZMPOP, XREAD / XREADGROUP with BLOCK) run on connections of
 * their own, a small pool per node (blocking_pool_size), so they never hold
 * up other commands to that node; their deadline is their own timeout plus
 * command_timeout_ms. A pool connection whose command timed out is closed,
 * not reused. A blocking write (BLMOVE, BLPOP's pop) whose connection is
 * lost after it was sent fails with CLUSTERC_EUNCERTAIN and is not resent.
 * WAIT and WAITAOF count the writes of the connection they run on, so they
 * run on the node's shared connection (it waits behind them), with the
 * same deadline rule; send them with clusterc_command_to_node to the
 * primary that took the writes.
 *
 * Run one command and wait for its reply. The command is formatted like
 * hiredis's redisCommand ("%s" for C strings, "%b" for binary data with a
 * size_t length). Returns the reply, owned by the caller (freeReplyObject),
 * or NULL on failure (clusterc_errstr says why: timeout, connection lost,
 * too many redirects...). Error replies from the server are replies.
 */
CLUSTERC_API redisReply *clusterc_command(clusterc_client *c, const char *fmt, ...)
    CLUSTERC_PRINTF(2, 3);
CLUSTERC_API redisReply *clusterc_vcommand(clusterc_client *c, const char *fmt, va_list ap);

/* The same with an argument vector; argvlen may be NULL when every argument
 * is a NUL-terminated string. */
CLUSTERC_API redisReply *clusterc_command_argv(clusterc_client *c, int argc,
                                               const char **argv, const size_t *argvlen);

/*
 * Pipelining. clusterc_append_command() queues a command (routed at once,
 * sent to its node on the next clusterc_get_reply); clusterc_get_reply()
 * waits for the oldest queued command and returns its reply in *reply (owned
 * by the caller). Replies come back in call order, whatever nodes served
 * them. Both return 0 on success and -1 on failure. A command that failed
 * (timeout, ...) makes its clusterc_get_reply return -1 with *reply = NULL;
 * the next call returns the next command's reply. clusterc_get_reply with
 * nothing queued returns -1 (CLUSTERC_EUSAGE).
 */
CLUSTERC_API int clusterc_append_command(clusterc_client *c, const char *fmt, ...)
    CLUSTERC_PRINTF(2, 3);
CLUSTERC_API int clusterc_vappend_command(clusterc_client *c, const char *fmt, va_list ap);
CLUSTERC_API int clusterc_append_command_argv(clusterc_client *c, int argc,
                                              const char **argv, const size_t *argvlen);
CLUSTERC_API int clusterc_get_reply(clusterc_client *c, void **reply);

/*
 * Reload the slot map now (blocking), bypassing the rate limit. Returns 0 or
 * -1 (clusterc_errstr says which nodes were asked and why each failed).
 */
CLUSTERC_API int clusterc_refresh(clusterc_client *c);

/*
 * Give the client's background work (latency probes, lag polls, slot-map
 * refreshes, reconnects, replies to appended commands) timeout_ms of time,
 * then return; 0 runs what is due without waiting. A blocking client has
 * no thread of its own and otherwise does this work only inside its calls,
 * so an idle one keeps stale latencies and lag figures until its next
 * command: an application with idle periods calls this from its idle hook
 * (or a timer) to keep them current. Returns 0, or -1 when timeout_ms is
 * negative or the client was never set up (clusterc_errstr says why).
 * Thread rules: as for every call on a client, one thread at a time.
 */
CLUSTERC_API int clusterc_poll(clusterc_client *c, int timeout_ms);

/* ------------------------------------------------------- per-command route */

/*
 * Where one command may go, overriding the client's read policy for that
 * call only. Writes always go to the primary whatever the mode.
 *   CLUSTERC_ROUTE_DEFAULT  the client's policy
 *   CLUSTERC_ROUTE_PRIMARY  the primary: a read that must be fresh
 *   CLUSTERC_ROUTE_REPLICA  an eligible replica, or fail with
 *                           CLUSTERC_ENOREPLICA when none is
 *   CLUSTERC_ROUTE_ANY      the client's policy with the primary as a peer
 *   CLUSTERC_ROUTE_ALL_PRIMARIES  every primary; the replies merged by the
 *                           command's response policy (see "Commands that
 *                           span the cluster" below)
 *   CLUSTERC_ROUTE_ALL_NODES      every node of the map, replicas too;
 *                           merged the same way
 *   CLUSTERC_ROUTE_EACH_PRIMARY   every primary, unmerged: the reply is an
 *                           array of [address, reply] pairs, one per node,
 *                           a node's error reply in its place
 *   CLUSTERC_ROUTE_EACH_NODE      the same over every node
 */
#define CLUSTERC_ROUTE_DEFAULT 0
#define CLUSTERC_ROUTE_PRIMARY 1
#define CLUSTERC_ROUTE_REPLICA 2
#define CLUSTERC_ROUTE_ANY 3
#define CLUSTERC_ROUTE_ALL_PRIMARIES 4
#define CLUSTERC_ROUTE_ALL_NODES 5
#define CLUSTERC_ROUTE_EACH_PRIMARY 6
#define CLUSTERC_ROUTE_EACH_NODE 7

/*
 * Commands that span the cluster. Redis 7's COMMAND tips (learned at first
 * use; a built-in table of the same for servers without tips, see
 * docs/commands.md) say where a command goes and how its replies merge:
 * - all_shards / all_nodes (DBSIZE, KEYS, FLUSHALL, SCRIPT LOAD, CONFIG
 *   SET...): sent to every primary / node, the replies merged by the
 *   response policy: summed (DBSIZE), min, max, logical and/or, arrays
 *   concatenated (KEYS), or the first error (all_succeeded). An error reply
 *   from any node is an error reply of the whole, naming the node; a node
 *   that cannot be reached fails the whole (within its one deadline), the
 *   message naming it.
 * - multi_shard (MGET, MSET, DEL, UNLINK, EXISTS, TOUCH) with keys in more
 *   than one slot: split by slot, each part sent to its slot's owner (and
 *   following MOVED/ASK/retries on its own), the reply re-assembled in your
 *   key order (MGET), summed (DEL, EXISTS...) or OK only if every part is
 *   (MSET). Not atomic across slots: some parts may be applied when another
 *   fails. Inside MULTI nothing is split (the server's CROSSSLOT stands);
 *   MSETNX is never split. multi_slot_split = 0 turns splitting off.
 */

CLUSTERC_API redisReply *clusterc_command_route(clusterc_client *c, int route,
                                                const char *fmt, ...)
    CLUSTERC_PRINTF(3, 4);
CLUSTERC_API redisReply *clusterc_vcommand_route(clusterc_client *c, int route,
                                                 const char *fmt, va_list ap);
CLUSTERC_API redisReply *clusterc_command_route_argv(clusterc_client *c, int route, int argc,
                                                     const char **argv, const size_t *argvlen);

/* ------------------------------------------------------ cluster-wide SCAN */

/*
 * SCAN over the whole cluster, correct while slots move and primaries fail
 * over. It keeps which of the 16384 slots it has finished, not which nodes:
 * it takes the lowest unfinished slot, SCANs that slot's primary (in the
 * current map) from cursor 0 to the end, keeping only keys of the
 * unfinished slots that primary served when its scan began (a node also
 * returns keys of slots it imports or lost). When that node's cursor comes
 * back 0 it is asked (CLUSTER NODES) which slots it owns: a slot is
 * finished only when the node still owns it, is not migrating it, and the
 * client's map still gives it to that node. A slot that moved (or began to
 * move) during the node's scan stays unfinished and is scanned again on its
 * new owner.
 *
 * Guarantees: every key present for the whole scan is returned at least
 * once. A key may be returned more than once when its slot moved, its
 * primary failed over, or a node's SCAN failed mid-way (its slots are
 * scanned again from the start). A finished slot is never scanned again.
 * Keys added or removed during the scan may or may not be returned. The
 * order is SCAN's (by slot owner, then the server's order); batches are
 * never empty.
 *
 * match and type are SCAN's MATCH and TYPE (NULL: all keys, any type;
 * TYPE needs Redis 6+); count_hint is SCAN's COUNT per step (<= 0: 10), a
 * hint of the work per step, not of the batch size: a batch holds about
 * count_hint keys or fewer (keys of other slots are dropped), and steps that
 * find no key are skipped.
 *
 * Errors: a failed step (node down or lost, timeout, LOADING, an error
 * reply, no owner for a slot in the map, a node that no longer serves the
 * slots the map gave it) drops that node, refreshes the map, waits (100 ms,
 * doubling, at most 1 s) and tries again from the lowest unfinished slot;
 * after 10 failed steps in a row, or 10 s after the first of them, the call
 * returns -1 with clusterc_errstr naming the last node and error. A failed
 * scan may be continued with clusterc_scan_next (it tries again) or freed.
 *
 * clusterc_scan_start: a new scan (nothing is sent yet), or NULL when out
 * of memory or c's options were rejected (clusterc_errstr says why).
 * match and type are copied.
 * clusterc_scan_next: 1 with *keys a new array reply of key strings (the
 * caller frees it with freeReplyObject), 0 when the scan is finished (*keys
 * NULL; later calls return 0 again), -1 on failure (*keys NULL).
 * clusterc_scan_free: frees the scan, finished or not (nothing is pending
 * between calls); NULL is a harmless no-op. Free every scan before its
 * client.
 * Threads: a scan is part of its client: the client's thread rules apply;
 * several scans of one client may run interleaved.
 */
typedef struct clusterc_scan clusterc_scan;
CLUSTERC_API clusterc_scan *clusterc_scan_start(clusterc_client *c, const char *match,
                                                long count_hint, const char *type);
CLUSTERC_API int clusterc_scan_next(clusterc_scan *s, redisReply **keys);
CLUSTERC_API void clusterc_scan_free(clusterc_scan *s);

/* ------------------------------------------------------------ one node */

/*
 * Send a command to one node, chosen by address ("host:port", as the
 * cluster announces it; node_address_map / remap apply) or by its 40-char
 * node id. No redirect is followed and nothing is retried: a MOVED or
 * LOADING comes back as the reply. A node that is not in the map is dialled
 * anyway (a new node about to join, for example). Returns the reply (caller
 * frees) or NULL: unknown id, bad address, connection failure, timeout.
 */
CLUSTERC_API redisReply *clusterc_command_to_node(clusterc_client *c, const char *node,
                                                  const char *fmt, ...)
    CLUSTERC_PRINTF(3, 4);
CLUSTERC_API redisReply *clusterc_vcommand_to_node(clusterc_client *c, const char *node,
                                                   const char *fmt, va_list ap);
CLUSTERC_API redisReply *clusterc_command_to_node_argv(clusterc_client *c, const char *node,
                                                       int argc, const char **argv,
                                                       const size_t *argvlen);

/* ------------------------------------------------------ pubsub, blocking */

/*
 * Subscribe the blocking client to a channel, pattern or shard channel
 * (kind CLUSTERC_PUBSUB_*). Returns 0 once the wish is recorded (the
 * subscription is made in the background, and made again after failovers:
 * see the Pub/Sub section above), -1 when refused (bad kind, empty name,
 * out of memory; clusterc_errstr says why). Subscribing twice is harmless.
 * The server's answer comes after this returns: a refusal (NOPERM) is not
 * this call's error but CLUSTERC_EVENT_SUBSCRIBE_REFUSED (options.on_event)
 * and stats.subscribes_refused; the name is then no longer subscribed
 * (clusterc_unsubscribe of it fails with EINVAL), and subscribing again
 * asks the server again.
 */
CLUSTERC_API int clusterc_subscribe(clusterc_client *c, int kind, const char *name);
/* Drop a subscription: its messages still queued are dropped too, so
 * clusterc_next_message returns none of it after this. 0, or -1 when it
 * was not subscribed (EINVAL). */
CLUSTERC_API int clusterc_unsubscribe(clusterc_client *c, int kind, const char *name);

/*
 * Wait up to timeout_ms (0: do not wait) for the next message of any
 * subscription. Returns 1 with *m filled (its strings stay valid until the
 * next call on c), 0 when none came in time, -1 on error (clusterc_errstr).
 * Messages that arrive while the client runs other calls are queued (up to
 * pubsub_queue_max). While it waits the client also does its background
 * work, as clusterc_poll does.
 */
CLUSTERC_API int clusterc_next_message(clusterc_client *c, clusterc_message *m, int timeout_ms);

/* ----------------------------------------------------- replies, for FFI */

/*
 * Accessors so a binding can walk a redisReply without knowing its layout.
 * Types are hiredis's REDIS_REPLY_* values (also as CLUSTERC_REPLY_*); with
 * hiredis 1.x RESP3 types (7..14) may appear too. All accept NULL (type 0,
 * zero / NULL results). Pointers stay valid until the reply is freed.
 */
#define CLUSTERC_REPLY_STRING 1
#define CLUSTERC_REPLY_ARRAY 2
#define CLUSTERC_REPLY_INTEGER 3
#define CLUSTERC_REPLY_NIL 4
#define CLUSTERC_REPLY_STATUS 5
#define CLUSTERC_REPLY_ERROR 6
CLUSTERC_API int clusterc_reply_type(const redisReply *r);
CLUSTERC_API long long clusterc_reply_integer(const redisReply *r);
/* String, status, error (and RESP3 verbatim/double/bignum) text; *len set
 * when len is not NULL. NULL for other types. */
CLUSTERC_API const char *clusterc_reply_str(const redisReply *r, size_t *len);
CLUSTERC_API size_t clusterc_reply_elements(const redisReply *r);
/* Element i of an array (NULL when out of range). Owned by r. */
CLUSTERC_API const redisReply *clusterc_reply_element(const redisReply *r, size_t i);
/* freeReplyObject, under this library's name. NULL-safe. */
CLUSTERC_API void clusterc_reply_free(redisReply *r);

/*
 * JSON views for bindings (each returns a malloc'ed NUL-terminated string
 * freed with clusterc_free_string, or NULL with clusterc_errstr set):
 *   clusterc_node_stats_json   [{"addr":...,"id":...,"role":"primary",...}, ...]
 */
CLUSTERC_API char *clusterc_node_stats_json(const clusterc_client *c);
CLUSTERC_API void clusterc_free_string(char *s);

/* Counters and per-node views (clusterc_stats, clusterc_node_info):
 * <clusterc/stats.h>, included at the end of this header. */

#ifdef __cplusplus
}
#endif
#include "stats.h"
#endif /* CLUSTERC_CLUSTERC_H */
