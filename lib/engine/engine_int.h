/* engine_int.h -- the engine's state, shared by engine.c and refresh.c only. */
#ifndef CLUSTERC_ENGINE_INT_H
#define CLUSTERC_ENGINE_INT_H
#include <stdint.h>
#include "proto/backoff.h"
#include "conn.h"
#include "proto/remap.h"
#include "engine.h"
#include "proto/route.h"

/* A shard as the engine routes it: node pointers, nodes[0] the primary. */
typedef struct clusterc__shard {
    clusterc__node **nodes;
    size_t n;
    unsigned cursor;               /* this shard's read round-robin position */
} clusterc__shard;

struct clusterc__engine {
    struct event_base *base;
    clusterc_options opt;          /* strings below are our own copies */
    clusterc__addr *seeds;
    size_t nseeds;
    struct evdns_base *dns;        /* created on the first host name */
    const struct timeval *cmd_tv;  /* libevent common timeout: O(1) arming */

    clusterc__node **nodes;        /* every node we know or knew */
    size_t nnodes, nodes_cap;

    clusterc__shard *shards;
    size_t nshards;
    int16_t slot_shard[CLUSTERC__NSLOTS];
    uint64_t map_gen;              /* 0 until the first map is installed */
    unsigned keyless_rr;

    const clusterc__cmdtable *cmds;/* learned table, or the built-in one */
    clusterc__cmdtable *learned;
    int cmds_state;                /* 0 not asked, 1 asking, 2 learned */

    clusterc__req *wait_head, *wait_tail; /* requests waiting for a map */
    clusterc__req *backoff_head;   /* requests waiting out a retry backoff */

    struct event *flush_ev;        /* one write per node per loop turn */
    clusterc__node *dirty;
    struct event *reap_ev;         /* frees retired nodes outside callbacks */

    /* refresh.c */
    struct event *refresh_ev;      /* deferred / rate-limited start */
    struct event *periodic_ev;
    int refresh_inflight, refresh_again, refresh_scheduled, refresh_force;
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
    int dead;                      /* free requested */
    int draining;
    /* reads.c */
    clusterc__route_cfg rcfg;
    int read_routing;              /* a read policy is on */
    int lag_polling;               /* a lag bound or read_your_writes is on */
    struct event *probe_ev, *lag_ev;
    uint64_t ryw_clock;
    clusterc__remap *remap;        /* static address map */
    size_t nremap;

    int tx_state;                  /* tx.c: 0 none, 1 MULTI held, 2 pinned,
                                      3 aborted (its connection was lost) */
    clusterc__node *tx_node;       /* state 2: never reaped meanwhile */
    char tx_lost[272];             /* state 3: the node whose connection went */
    void (*on_destroy)(void *);
    void *on_destroy_arg;
    int blocking;                  /* the blocking face owns this engine */
    int64_t last_loop_us;          /* when the blocking face last ran the loop */
};

int64_t clusterc__now_us(void);
clusterc__node *clusterc__engine_node(clusterc__engine *e, const clusterc__addr *a, int create);
void clusterc__engine_redispatch_waiting(clusterc__engine *e, int failed, int code, const char *msg);
void clusterc__engine_schedule_reap(clusterc__engine *e);
void clusterc__engine_fetch_commands(clusterc__engine *e);
/* MOVED: point one slot at a node's shard right away (a refresh follows). */
void clusterc__engine_patch_slot(clusterc__engine *e, int slot, clusterc__node *to);

/* engine.c, for classify.c and tx.c: the request lifecycle. */
void clusterc__engine_dispatch(clusterc__engine *e, clusterc__req *r);
void clusterc__engine_complete(clusterc__engine *e, clusterc__req *r, redisReply *reply,
                               int code, const char *msg);
void clusterc__engine_fail(clusterc__engine *e, clusterc__req *r, int code, const char *fmt, ...)
    CLUSTERC_PRINTF(4, 5);
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
/* A request goes out to n (or comes back): bookkeeping for stats and RYW. */
void clusterc__reads_sent(clusterc__engine *e, clusterc__req *r, clusterc__node *n);
void clusterc__reads_done(clusterc__engine *e, clusterc__req *r);
/* LOADING / MASTERDOWN from a replica to a read: 1 when handled (re-routed). */
int clusterc__reads_replica_refused(clusterc__engine *e, clusterc__node *n, clusterc__req *r);

/* The address to dial for an announced one (node_address_map, then the
 * remap callback). */
void clusterc__engine_remap(const clusterc__engine *e, const clusterc__addr *in,
                            clusterc__addr *out);

/* The current map lists n (a node reached only through
 * clusterc_command_to_node, or a seed, is not a member). Implies it is
 * neither retired nor a bare seed: installing a map clears both. */
static inline int clusterc__engine_in_map(const clusterc__engine *e, const clusterc__node *n)
{
    return e->map_gen > 0 && n->map_gen == e->map_gen;
}

/* refresh.c */
int clusterc__refresh_init(clusterc__engine *e);
void clusterc__refresh_request(clusterc__engine *e, const char *why);
void clusterc__refresh_fini(clusterc__engine *e);

/* Internal request to one node: no redirects followed, no retries. */
clusterc__req *clusterc__engine_internal(clusterc__engine *e, clusterc__node *n,
                                         int argc, const char **argv,
                                         clusterc__done_fn *done, void *u1);
#endif
