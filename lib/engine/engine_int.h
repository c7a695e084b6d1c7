/* engine_int.h -- the engine's state, shared by the engine room's files
 * (the faces see only engine.h).
 *
 * Who calls whom inside the room. conn.c is below the rest and names none
 * of it: it reports through the clusterc__conn_ops table that nodes.c
 * hands each node's connection. Above it the files call each other where
 * the request's life takes them, which is the simplest honest design:
 *
 *   engine.c    request lifecycle: submit, route, dispatch, deadlines,
 *               retries, completion      -> nodes.c, reads.c, tx.c, refresh.c
 *   nodes.c     node table, conn callbacks, write batching, reaping
 *                                        -> conn.c; classify.c (reply, lost),
 *                                           refresh.c (a member lost), tx.c
 *   classify.c  what a reply or a loss means
 *                                        -> engine.c (dispatch, complete,
 *                                           retry), refresh.c, reads.c
 *   refresh.c   slot-map loads, install, COMMAND
 *                                        -> engine.c (internal requests,
 *                                           redispatch), nodes.c, reads.c
 *   reads.c     read picks, probes, lag polls, RYW, node stats
 *                                        -> engine.c (internal requests)
 *   tx.c        MULTI ... EXEC pinning  -> engine.c, nodes.c
 *   events.c    lifecycle events, the command hook (called by nodes.c,
 *               refresh.c, engine.c; calls only the user)
 *   dns.c       host-name lookups for conn.c (below it, like conn.c)
 *   bpool.c     blocking commands on per-node pools of connections
 *                                        -> conn.c; classify.c (reply, lost)
 *   pubsub.c    wanted subscriptions, kept in step with the map
 *                                        -> pubsub_conn.c, refresh.c, reads.c
 *   pubsub_conn.c subscriber connections (conn.c in push mode), messages
 *                                        -> conn.c, pubsub.c, refresh.c
 */
#ifndef CLUSTERC_ENGINE_INT_H
#define CLUSTERC_ENGINE_INT_H
#include <stdint.h>
#include "proto/backoff.h"
#include "conn.h"
#include "proto/remap.h"
#include "engine.h"
#include "pubsub.h"
#include "proto/route.h"

/* A hint to load a cache line ahead of its use (no effect elsewhere). */
#if defined(__GNUC__) || defined(__clang__)
#define CLUSTERC__PREFETCH(p) __builtin_prefetch(p)
#else
#define CLUSTERC__PREFETCH(p) ((void)(p))
#endif

/* A node of the cluster as the engine sees it: its connection (conn.c),
 * its place in the map, and what read routing measures of it. */
struct clusterc__node {
    clusterc__engine *e;
    clusterc__conn conn;             /* conn.addr: the address dialled */
    char name[CLUSTERC__ADDR_MAX];   /* "host:port", the key in the node table */
    char id[41];
    clusterc__role role;
    clusterc__health health;
    long long repl_offset;

    clusterc__node *dirty_next;      /* engine's flush list */
    uint8_t dirty;
    uint8_t retired;                 /* left the map: freed once its FIFO drains */
    uint64_t map_gen;                /* last map that listed it */
    int64_t fail_until_us;           /* marked failing until then */
    int64_t redial_at_us;            /* a connect failed: no new dial before then */
    uint8_t failing_reported;        /* NODE_FAILING sent, NODE_RECOVERED not yet */

    /* read routing (reads.c) */
    clusterc__addr announced;        /* as the cluster announces it (pre-remap) */
    int shard;                       /* index in the engine's shards, -1 */
    int64_t loading_until_us;        /* answered LOADING/MASTERDOWN to a read */
    uint8_t lag_known, link_up, has_latency, probe_busy, poll_busy, probe_skips;
    uint8_t lag_refused;             /* primary: its last INFO was refused (NOPERM) */
    int64_t lag_s, lag_bytes;        /* from its primary's INFO replication */
    double latency_us;               /* EWMA of PING round trips */
    double probe_best;               /* best round trip of the probe in flight */
    int64_t probe_sent_us;           /* CLOCK_MONOTONIC */
    int64_t probe_sent_rt_us;        /* CLOCK_REALTIME, to compare with conn.rx_stamp_us */
    uint64_t ryw_write_clock;        /* primary: clock of this client's last write */
    uint64_t ryw_ok_clock;           /* replica: writes up to this clock are acked */
    int writes_inflight;             /* primary: this client's writes not answered */
    uint64_t reads, writes, redirects, errors;

    /* availability zone (zones.c; only with client_az set) */
    char az[64];                     /* INFO server's availability_zone, "" none */
    uint8_t az_state;                /* 0 unknown, 1 asked, 2 known */
    uint8_t in_zone;                 /* its zone is client_az */
    uint32_t az_dial;                /* conn.dials when it was learned */

    /* blocking commands (bpool.c): connections of their own, opened when
     * needed up to blocking_pool_size; requests wait here for a free one */
    struct clusterc__bconn **bpool;
    int nbpool;
    clusterc__req *bwait_head, *bwait_tail;
};

/* An index over e->nodes by "host:port" or by node id (nindex.c). */
typedef struct clusterc__nindex {
    uint32_t *slot;                /* position in e->nodes + 1; 0 = empty */
    size_t cap, used;
    int by_id;                     /* keyed by id (listed: in the map, not retired) */
    int stale;                     /* a rebuild ran out of memory: find scans */
} clusterc__nindex;

/* A shard as the engine routes it: node pointers, nodes[0] the primary. */
typedef struct clusterc__shard {
    clusterc__node **nodes;
    size_t n;
    unsigned cursor;               /* this shard's read round-robin position */
    uint8_t zones_asked;           /* az_affinity: its nodes' zones were asked */
} clusterc__shard;

struct clusterc__engine {
    struct event_base *base;
    clusterc_options opt;          /* strings below are our own copies */
    clusterc__addr *seeds;
    size_t nseeds;
    clusterc__dns *dns;            /* created on the first host name */
    clusterc__conn_cfg conn_cfg;   /* what every node connection shares */
    clusterc__tls *tls;            /* TLS context (opt.tls), else NULL */

    clusterc__node **nodes;        /* every node we know or knew */
    size_t nnodes, nodes_cap;
    clusterc__nindex by_name, by_id;   /* O(1) lookups into nodes */
    void *req_free[2];             /* reqpool.c: requests kept for reuse, by
                                      block size (clusterc__req.big) */
    size_t req_nfree[2];
    clusterc__done_fn *face_done[CLUSTERC__FACE_DONE];   /* clusterc__req.done_ix */
    void *cmd_free;                /* reqpool.c: small command buffers kept */
    size_t cmd_nfree;

    clusterc__shard *shards;
    size_t nshards;
    int16_t slot_shard[CLUSTERC__NSLOTS];
    uint64_t map_gen;              /* 0 until the first map is installed */
    unsigned keyless_rr;

    const clusterc__cmdtable *cmds;/* learned table, or the built-in one */
    clusterc__cmdtable *learned;
    int cmds_state;                /* 0 not asked, 1 asking, 2 learned */
    int64_t cmds_retry_us;         /* COMMAND failed: not asked again before this */
    size_t user_pending;           /* callers' requests not finished (max_inflight) */
    clusterc__node *map_from;      /* the node that answered the map being
                                      installed (set only during that call) */

    clusterc__req *wait_head, *wait_tail; /* requests waiting for a map */
    clusterc__req *backoff_head;   /* requests waiting out a retry backoff */
    clusterc__req *later_head, *later_tail; /* complete next loop turn (timers.c) */
    size_t nlater;
    struct event *later_ev;
    /* timers.c: deadlines, in submission order (the command timeout) and
     * sorted (blocking commands' own); one timer for both. */
    clusterc__req *dl_head, *dl_tail, *bl_head, *bl_tail;
    struct event *dl_ev;
    int64_t dl_armed_us;           /* when dl_ev fires, if dl_armed */
    int dl_armed;

    struct event *flush_ev;        /* one write per node per loop turn */
    clusterc__node *dirty;
    struct event *reap_ev;         /* frees retired nodes outside callbacks */

    /* refresh.c */
    struct event *refresh_ev;      /* deferred / rate-limited start */
    struct event *periodic_ev;
    int refresh_inflight, refresh_again, refresh_scheduled, refresh_force;
    int64_t refresh_due_us;        /* when the scheduled load starts */
    char refresh_at[CLUSTERC__ADDR_MAX]; /* the node the load in flight asks */
    uint64_t refresh_map_gen;      /* map_gen when the load in flight began */
    int refresh_again_force;       /* the follow-up load was asked for forced */
    int64_t last_refresh_us;
    int use_slots;                 /* server lacks CLUSTER SHARDS */
    clusterc__addr *cands;         /* nodes to ask, in order */
    size_t ncands, cand_idx;
    char refresh_log[CLUSTERC__ERRSTR_MAX];
    int refresh_code;
    uint64_t refresh_runs;         /* refreshes finished, either way */
    int settle_ms;                 /* re-check delay while the map settles, 0 = settled */

    uint64_t rng;
    clusterc_stats stats;
    clusterc__err err;             /* why the last refresh failed */
    size_t pending;                /* live requests */
    int depth;                     /* callbacks on the stack */
    int clock_ok;                  /* entered from the loop: clock_us holds */
    int64_t clock_us;              /* the time of that entry (timers.c) */
    int dead;                      /* free requested */
    int draining;
    int drained;                   /* DRAINED sent: nothing pending, all closed */
    int ready_sent;                /* READY sent (the first map) */
    int16_t *ev_slot;              /* on_event: slot -> shard of the installed map */
    char (*ev_ids)[41];            /* on_event: each installed shard's primary id */
    /* reads.c */
    clusterc__route_cfg rcfg;
    int read_routing;              /* a read policy is on */
    int lag_polling;               /* a lag bound or read_your_writes is on */
    struct event *probe_ev, *lag_ev;
    uint64_t ryw_clock;
    clusterc__remap *remap;        /* static address map */
    size_t nremap;

    int tx_state;                  /* tx.c: 0 none, 1 MULTI held, 2 pinned,
                                      3 aborted (MULTI lost or never placed) */
    clusterc__node *tx_node;       /* state 2: never reaped meanwhile */
    char tx_why[320];              /* state 3: why MULTI is gone (words) */
    void (*on_destroy)(void *);
    void *on_destroy_arg;
    int64_t last_loop_us;          /* when the blocking face last ran the loop */
    clusterc__pubsub *ps;          /* pubsub.c */
    struct clusterc__policytable *policies; /* fanout.c: learned tips, or NULL */
};

int64_t clusterc__now_us(void);

/* events.c: lifecycle events and the command hook (clusterc.h). Call only
 * inside enter/leave (or engine_free): a callback may free the client. */
void clusterc__emit(clusterc__engine *e, int type, const clusterc__node *n, int code,
                    const char *fmt, ...) CLUSTERC_PRINTF(5, 6);
void clusterc__hook_command(clusterc__engine *e, const clusterc__req *r, int code);
static inline int clusterc__events_on(const clusterc__engine *e) { return e->opt.on_event != 0; }

/* nindex.c: rebuild (after e->nodes was compacted, or ids changed), add
 * the node at pos (just appended), find by key; -1 only when out of memory
 * (the index then falls back to scanning, never to a wrong answer). */
int clusterc__nindex_rebuild(clusterc__nindex *x, const clusterc__engine *e);
int clusterc__nindex_add(clusterc__nindex *x, const clusterc__engine *e, size_t pos);
clusterc__node *clusterc__nindex_find(const clusterc__nindex *x, const clusterc__engine *e,
                                      const char *key);
void clusterc__nindex_free(clusterc__nindex *x);

/* nodes.c: the node table, each node's connection wired to the engine,
 * write batching, and reaping. */
clusterc__node *clusterc__engine_node(clusterc__engine *e, const clusterc__addr *a, int create);
/* The engine's resolver (made on first use; NULL when out of memory). */
clusterc__dns *clusterc__engine_dns(clusterc__engine *e);
void clusterc__node_free(clusterc__node *n);
/* Queue a command whose reply nobody wants (MULTI of a transaction whose
 * +OK was already given). Returns 0 or -1 on OOM. */
int clusterc__node_send_skip(clusterc__node *n, const char *cmd, size_t len);
void clusterc__engine_mark_dirty(clusterc__engine *e, clusterc__node *n);
void clusterc__engine_schedule_reap(clusterc__engine *e);
/* n is about to be freed: requests between attempts forget it. */
void clusterc__engine_forget_node(clusterc__engine *e, const clusterc__node *n);
/* Every request queued on a node completes with code/msg (engine free). */
void clusterc__nodes_fail_all(clusterc__engine *e, int code, const char *msg);
/* The TLS context every connection shares, from o (before the options are
 * copied: the file names are not kept). -1 on failure: err says why when
 * it was a file (EINVAL), else it was memory. */
int clusterc__nodes_tls(clusterc__engine *e, const clusterc_options *o, clusterc__err *err);
int clusterc__nodes_init(clusterc__engine *e);
/* overload.c: r is for n, whose connection is not up; when n already holds
 * max_node_queue commands, r fails (later, from the loop) and 1 is returned. */
int clusterc__node_queue_full(clusterc__engine *e, clusterc__node *n, clusterc__req *r);
void clusterc__nodes_fini(clusterc__engine *e);

void clusterc__engine_redispatch_waiting(clusterc__engine *e, int failed, int code, const char *msg);
/* No map: shards freed, map_gen 0 (a drained engine, engine free). */
void clusterc__engine_drop_map(clusterc__engine *e);   /* refresh.c */

/* reqpool.c: the memory of requests kept on a free list for the next one,
 * so a steady load allocates none. get returns an uninitialised request or
 * NULL; put takes back what get gave; fini releases the list. */
/* A request's block: CLUSTERC__REQ_ALLOC bytes, or CLUSTERC__REQ_ALLOC_BIG
 * when big (the record and room for a text of up to 47 bytes). */
clusterc__req *clusterc__req_mem_get(clusterc__engine *e, int big);
void clusterc__req_mem_put(clusterc__engine *e, void *p, int big);
void clusterc__reqpool_fini(clusterc__engine *e);
/* Give back a block of the command pool (a request's cmd, cmd_pooled). */
void clusterc__cmdbuf_put(clusterc__engine *e, char *p);
void clusterc__engine_fetch_commands(clusterc__engine *e);
/* MOVED: point one slot at a node's shard right away (a refresh follows). */
void clusterc__engine_patch_slot(clusterc__engine *e, int slot, clusterc__node *to);

/* classify.c: what a reply means, and what a lost connection means for a
 * request it held (nodes.c calls both from the connection's callbacks). */
void clusterc__engine_on_reply(clusterc__engine *e, clusterc__node *n,
                               clusterc__req *r, redisReply *reply);
void clusterc__engine_lost(clusterc__engine *e, clusterc__node *n, clusterc__req *r,
                           int code, const char *msg, int written);

/* engine.c, for classify.c and tx.c: the request lifecycle. */
void clusterc__engine_dispatch(clusterc__engine *e, clusterc__req *r);
void clusterc__engine_complete(clusterc__engine *e, clusterc__req *r, redisReply *reply,
                               int code, const char *msg);
void clusterc__engine_fail(clusterc__engine *e, clusterc__req *r, int code, const char *fmt, ...)
    CLUSTERC_PRINTF(4, 5);
/* Back out of a callback bracket (depth++ ... ) that never destroys e:
 * at depth 0 the entry's clock (clusterc__engine_enter) is no longer
 * valid, whichever path took it there. */
static inline void clusterc__engine_unwind(clusterc__engine *e)
{
    if (--e->depth == 0)
        e->clock_ok = 0;
}

/* timers.c: the deadline lists, the later list and retry timers. */
int clusterc__timers_init(clusterc__engine *e);
void clusterc__timers_fini(clusterc__engine *e);
/* A drained engine: the deadline timer off when no request is left on it. */
void clusterc__timers_quiet(clusterc__engine *e);
/* r times out ms from now (it must be on no deadline list). */
void clusterc__dl_add(clusterc__engine *e, clusterc__req *r, int64_t ms);
void clusterc__dl_unlink(clusterc__engine *e, clusterc__req *r);   /* if on one */
/* r leaves BACKOFF (its timer stopped, or taken off the later list). */
void clusterc__backoff_detach(clusterc__engine *e, clusterc__req *r);
/* r's deadline passed: it fails, saying where it was. */
void clusterc__engine_timed_out(clusterc__engine *e, clusterc__req *r);
/* Keep a transient error for r's final message (code 0: keep the code). */
void clusterc__req_note(clusterc__req *r, int code, const char *fmt, ...) CLUSTERC_PRINTF(3, 4);
/* Try again after a backoff, within the retry budget; why names the cause. */
void clusterc__engine_retry_later(clusterc__engine *e, clusterc__req *r, int code,
                                  const char *why);

/* Where r goes now; NULL when it has to wait for a map, or (with
 * *noreplica set) when CLUSTERC_ROUTE_REPLICA finds no eligible replica. */
clusterc__node *clusterc__engine_route(clusterc__engine *e, clusterc__req *r, int *noreplica);
clusterc__node *clusterc__engine_route_keyless(clusterc__engine *e);
/* Complete r with a reply made here, from the loop (never inside submit). */
void clusterc__engine_complete_later(clusterc__engine *e, clusterc__req *r, redisReply *reply);
/* Fail r from the loop, not from inside the call that submitted it: a
 * callback must never run inside clusterc_async_command (async.h). */
void clusterc__engine_fail_later(clusterc__engine *e, clusterc__req *r, int code, const char *fmt,
                                 ...) CLUSTERC_PRINTF(4, 5);

/* tx.c: MULTI ... EXEC goes to one node. Returns 1 when it took r over
 * (answered locally), 0 to dispatch it (maybe pinned). */
int clusterc__tx_submit(clusterc__engine *e, clusterc__req *r);
/* n's connection failed: a transaction pinned there is aborted. */
void clusterc__tx_node_lost(clusterc__engine *e, clusterc__node *n);

/* reads.c: read routing, latency and lag probes, read-your-writes. */
int clusterc__reads_init(clusterc__engine *e);
void clusterc__reads_fini(clusterc__engine *e);
void clusterc__reads_on_map(clusterc__engine *e);       /* a map was installed */
/* Index of the shard node that serves read r, or -1 (MODE_REPLICA, none). */
int clusterc__reads_pick(clusterc__engine *e, clusterc__shard *s, clusterc__req *r);
int clusterc__reads_applies(const clusterc__engine *e, const clusterc__req *r);
/* zones.c: each node's availability zone, learned with INFO server on
 * every new connection while client_az is set (az_affinity's input). */
int clusterc__zones_init(clusterc__engine *e);    /* copies client_az; -1 OOM */
void clusterc__zones_fini(clusterc__engine *e);
void clusterc__zones_on_map(clusterc__engine *e);
/* A read of shard s is being routed (az_affinity on): ask its nodes whose
 * zone is unknown (dialling them). */
void clusterc__zones_on_read(clusterc__engine *e, clusterc__shard *s);
void clusterc__zones_on_connect(clusterc__engine *e, clusterc__node *n);

/* A request goes out to n (or comes back): bookkeeping for stats and RYW. */
void clusterc__reads_sent(clusterc__engine *e, clusterc__req *r, clusterc__node *n);
void clusterc__reads_done(clusterc__engine *e, clusterc__req *r);
/* LOADING / MASTERDOWN from a replica to a read: 1 when handled (re-routed). */
int clusterc__reads_replica_refused(clusterc__engine *e, clusterc__node *n, clusterc__req *r);

/* The address to dial for an announced one (node_address_map, then the
 * remap callback). */
void clusterc__engine_remap(const clusterc__engine *e, const clusterc__addr *in,
                            clusterc__addr *out);

/* n serves as a replica in the live map: not its shard's primary, which a
 * MOVED may have changed since the map load that set n->role. */
static inline int clusterc__node_is_live_replica(const clusterc__node *n)
{
    const clusterc__engine *e = n->e;
    if (n->shard >= 0 && (size_t)n->shard < e->nshards && e->shards[n->shard].n)
        return e->shards[n->shard].nodes[0] != n;
    return n->role == CLUSTERC__ROLE_REPLICA;
}

/* refresh.c: a map load's completion. Its reply is built in an arena
 * (reply_arena.h; free it with clusterc__reply_free): allocating and
 * freeing a large map's reply object by object was most of a load. */
void clusterc__refresh_on_map(clusterc__engine *e, clusterc__req *r, redisReply *reply,
                              int code, const char *msg);

/* r's completion function: its face's (done_ix), else its own (x). */
static inline clusterc__done_fn *clusterc__req_done(const clusterc__req *r)
{
    return r->done_ix ? r->e->face_done[r->done_ix - 1] : r->x->done;
}

/* Queue r on n (after ASKING, READONLY when needed). Returns 0, or -1 when
 * out of memory (nothing of r queued). Inline: it is on every request's path. */
static inline int clusterc__node_send(clusterc__node *n, clusterc__req *r)
{
    unsigned flags = r->asking ? CLUSTERC__CONN_ASKING : 0;
    if (r->internal && r->x->done == clusterc__refresh_on_map)   /* internal: x made */
        flags |= CLUSTERC__CONN_ARENA;
    if (r->reply_pool && !r->child && !r->internal)   /* the async face's: reply_pool.h */
        flags |= CLUSTERC__CONN_POOL;
    /* Without read routing READONLY is not in the handshake: a keyed read
     * the caller forces onto a replica gets it first, once per connection.
     * Keyless reads (PING, INFO) need none, and the connection would keep
     * it: were the node later a primary, then demoted, a GET sent by a map
     * not yet updated would be served from its data, not answered MOVED. */
    if ((r->flags & CLUSTERC__CMD_READONLY) && !r->internal && r->slot >= 0 &&
        clusterc__node_is_live_replica(n))
        flags |= CLUSTERC__CONN_READONLY;
    if (clusterc__conn_send(&n->conn, r, clusterc__req_text(r), r->len, flags, &r->seq) < 0)
        return -1;
    r->node = n;
    if (r->x)
        r->x->last_node = n;
    return 0;
}

/* The current map lists n (a node reached only through
 * clusterc_command_to_node, or a seed, is not a member). Implies it is
 * neither retired nor a bare seed: installing a map clears both. */
static inline int clusterc__engine_in_map(const clusterc__engine *e, const clusterc__node *n)
{
    return e->map_gen > 0 && n->map_gen == e->map_gen;
}

/* bpool.c: blocking commands on connections of their own, per node, so
 * they never hold up the node's multiplexed connection. */
/* Send r (r->blocking == 1) on a free pool connection of n, opening one if
 * the pool is not full, else queue it until one frees up. 0, or -1 on OOM. */
int clusterc__bpool_send(clusterc__engine *e, clusterc__node *n, clusterc__req *r);
/* r leaves before its reply (deadline, failure): its connection is closed,
 * since the reply may still come; a request queued for one is unlinked. */
void clusterc__bpool_abandon(clusterc__req *r);
/* Some bytes of r (on a pool connection) were written. */
int clusterc__bpool_sent(const clusterc__req *r);
/* Commands on n's pool or waiting for it. */
int clusterc__bpool_busy(const clusterc__node *n);
/* Engine free: every request on n's pool or waiting for it completes. */
void clusterc__bpool_fail_all(clusterc__engine *e, clusterc__node *n, int code, const char *msg);
/* Call fn for every request on n's pool or waiting for it. */
void clusterc__bpool_each(const clusterc__node *n, void (*fn)(void *req, void *arg), void *arg);
/* Drain: close n's idle pool connections. */
void clusterc__bpool_close_idle(clusterc__node *n);
/* n is freed: its pool goes (nothing is on it any more). */
void clusterc__bpool_fini(clusterc__node *n);

/* fanout.c: commands that span the cluster (the COMMAND tips' routing
 * policies): all shards / all nodes with merged replies, multi-key commands
 * split by slot, the explicit ALL / EACH routes. */
/* Mark r at creation (only names whose props say they may fan out). */
void clusterc__fanout_mark(clusterc__engine *e, clusterc__req *r, const char *name, size_t len);
/* r (r->fan set) runs as parts now: 1 when it took r over, 0 to route it
 * as one command (one slot after all, or no map yet: it waits). */
int clusterc__fanout_dispatch(clusterc__engine *e, clusterc__req *r);
/* r leaves (completes, fails): its parts still out are orphaned. */
void clusterc__fanout_abandon(clusterc__req *r);
/* Learn the routing policies from the COMMAND reply. */
void clusterc__fanout_learn(clusterc__engine *e, const redisReply *reply);

/* refresh.c */
int clusterc__refresh_init(clusterc__engine *e);
/* A reason to reload the map. A load in flight absorbs it unless stale is
 * set: the trigger shows that the map the load will install may already
 * be out of date (a MOVED or READONLY answered after the load began, a
 * caller's explicit refresh). Nothing loads while the engine drains. */
void clusterc__refresh_request(clusterc__engine *e, const char *why, int stale);
void clusterc__refresh_drain(clusterc__engine *e);
/* Where the map load stands, for a message: "; the map load in flight:
 * CLUSTER SHARDS sent to X, no answer yet", "; the last map load failed:
 * ...", or "". */
void clusterc__refresh_status(const clusterc__engine *e, char *buf, size_t cap);
/* How long until the scheduled load starts (0: in flight, due, or none). */
int64_t clusterc__refresh_held_us(const clusterc__engine *e);
void clusterc__refresh_fini(clusterc__engine *e);

/* Internal request to one node: no redirects followed, no retries. */
clusterc__req *clusterc__engine_internal(clusterc__engine *e, clusterc__node *n,
                                         int argc, const char **argv,
                                         clusterc__done_fn *done, void *u1);
#endif
