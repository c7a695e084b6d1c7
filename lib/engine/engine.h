/* engine.h -- the one engine behind both faces (internal).
 *
 * A request is a command in RESP form plus its routing facts. The engine
 * routes it to a node, queues it on that node's connection, and classifies
 * the reply: done, redirect, retry later, or failure. The faces create
 * requests and receive completions through their done function.
 */
#ifndef CLUSTERC_ENGINE_H
#define CLUSTERC_ENGINE_H
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <event2/event.h>
#include "clusterc/clusterc.h"
#include "proto/addr.h"
#include "proto/cmdtable.h"
#include "proto/errors.h"
#include "proto/topology.h"

typedef struct clusterc__engine clusterc__engine;
typedef struct clusterc__node clusterc__node;
typedef struct clusterc__req clusterc__req;

/*
 * Completion: exactly once per request. reply is the server's reply (NULL on
 * failure, then code/msg say why). Ownership of reply passes to the callee.
 * The engine frees the request itself after the callback returns.
 */
typedef void clusterc__done_fn(clusterc__engine *e, clusterc__req *r,
                               redisReply *reply, int code, const char *msg);

enum clusterc__req_state {
    CLUSTERC__REQ_NEW = 0,
    CLUSTERC__REQ_WAITING,   /* on e->waiting: needs a slot map */
    CLUSTERC__REQ_QUEUED,    /* in a node's FIFO (maybe written) */
    CLUSTERC__REQ_BACKOFF,   /* retry timer armed */
    CLUSTERC__REQ_POOLWAIT,  /* blocking: waits for a free pool connection of node */
    CLUSTERC__REQ_FANOUT,    /* its parts run on several nodes (fanout.c) */
    CLUSTERC__REQ_DONE
};

/* What only some requests need (a blocking command's timeout, a retry's
 * timer and last error, a local answer, a fan-out, read-your-writes, the
 * command hook's clock): allocated on first use (clusterc__req_x), so the
 * request every GET pays for stays small (issue 17: 104 bytes, from 640). */
typedef struct clusterc__req_x {
    int64_t block_ms;         /* the server-side timeout, 0 = forever */
    struct clusterc__bconn *bconn; /* QUEUED on a pool connection: which */
    struct clusterc__fan *fanout;  /* FANOUT: its parts */
    int64_t t0_us;            /* submitted (only with the command hook set) */
    redisReply *synth;        /* a reply made locally (MULTI), delivered from the loop */
    char *fail_msg;           /* a failure decided in the caller's call, delivered
                                 from the loop (malloc'ed), with r->fail_code */
    clusterc__node *ryw_node; /* read_your_writes: the primary counting this write */
    clusterc__node *target;   /* ASK target or pinned node, else NULL */
    clusterc__node *last_node;/* where its last attempt went: kept for those who
                                 ask (the command hook, a fan-out's parts), who
                                 have this part from the start */
    struct event *retry_ev;   /* the backoff timer, made on the first retry */
    int last_code;            /* the code of the last transient error */
    char last[128];           /* last transient error, for the final message */
    clusterc__done_fn *done;  /* the completion of a request whose function is
                                 not one of its faces' (done_ix 0): internal
                                 requests, a fan-out's parts */
} clusterc__req_x;

struct clusterc__req {
    clusterc__engine *e;
    uint32_t len;             /* of its RESP text (clusterc__req_text) */
    unsigned flags;           /* CLUSTERC__CMD_* */
    int16_t slot;             /* -1 keyless */
    uint16_t redirects, retries;
    int16_t fail_code;        /* a failure delivered from the loop (x->fail_msg) */
    union {
        uint32_t seq;         /* QUEUED: its FIFO position on that node (its low
                                 32 bits: conn.h) */
        uint32_t waited_gen;  /* WAITING: map generation when it started (low bits) */
    };
    uint8_t state;            /* enum clusterc__req_state */
    /* Small fields as bits (issue 17: the request is 104 bytes with room
     * for a GET's text in the same 144-byte block). */
    unsigned dl : 2;          /* on a deadline list (timers.c): 0 no, 1 the
                                 command timeout's, 2 a blocking command's own */
    unsigned route_mode : 3;  /* clusterc__route_mode for reads */
    unsigned blocking : 2;    /* 1: blocks on a pool connection (bpool.c); 2: blocks
                                 on its node's connection (WAIT); x->block_ms its timeout */
    unsigned fan : 2;         /* fanout.c: 1 may split by slot, 2 all shards/nodes by
                                 its policy, 3 explicit route to all or each */
    unsigned text_out : 1;    /* the text is not in inl: inl holds its address
                                 (clusterc__req_text), the text is a block of
                                 the engine's command pool (cmd_pooled) or
                                 malloc'ed (reqpool.c) */
    unsigned cmd_pooled : 1;  /* text_out, in a block of the command pool */
    unsigned asking : 1;      /* send ASKING before it (ASK redirect) */
    unsigned internal : 1;    /* engine's own (refresh, COMMAND) */
    unsigned pinned : 1;      /* target is fixed: no redirects, no retries */
    unsigned child : 1;       /* a part of a fanned-out caller's command */
    unsigned reply_pool : 1;  /* the async face frees its reply after the callback:
                                 it may be built in the reply pool (reply_pool.h) */
    unsigned later : 1;       /* BACKOFF: on the later list (completes next turn) */
    unsigned big : 1;         /* its block is CLUSTERC__REQ_ALLOC_BIG bytes */
    unsigned done_ix : 2;     /* its completion: the engine's face_done[done_ix - 1]
                                 (clusterc__engine_face_done), 0 its own, x->done */
    clusterc__node *node;     /* QUEUED: the node holding it */
    clusterc__req *wnext, *wprev; /* the one list it waits on (WAITING, BACKOFF,
                                     POOLWAIT) */
    clusterc__req *dnext, *dprev; /* its deadline list (timers.c) */
    int64_t deadline_us;      /* on a deadline list: when it times out */
    union {                   /* the face's data: */
        void *u1;             /* what it points at (its client, an internal
                                 request's node) */
        void (*fn)(void);     /* or the async face's callback, cast back by the
                                 face: its client is the engine's owner */
    };
    void *u2;                 /* and one more word (privdata) */
    clusterc__req_x *x;       /* NULL until needed */
    char inl[];               /* a short command's text lives here: at most
                                 CLUSTERC__REQ_INLINE bytes with its NUL; else
                                 (text_out) the text's address */
};

/* r's RESP text, r->len bytes and a NUL. Where a text too long for the
 * request's block is kept, its address takes the block's text room, so the
 * record every command pays for has no pointer for it (issue 17). */
static inline char *clusterc__req_text(const clusterc__req *r)
{
    char *p = (char *)r->inl;
    if (r->text_out)
        memcpy(&p, r->inl, sizeof(p));
    return p;
}

static inline void clusterc__req_set_text_out(clusterc__req *r, char *text)
{
    r->text_out = 1;
    memcpy(r->inl, &text, sizeof(text));
}

/* A request is one block: the record and room for a short command's text,
 * which then needs no block of its own. CLUSTERC__REQ_ALLOC bytes (a
 * 144-byte malloc chunk) hold a text of up to CLUSTERC__REQ_INLINE - 1
 * bytes (a GET of a key of up to 11 bytes); a big one, for a text the face
 * knows to be a little longer, CLUSTERC__REQ_ALLOC_BIG (160; up to 47
 * bytes: a key of up to 27). The command name messages show is read from
 * the text when needed (clusterc__req_name), not kept. */
#define CLUSTERC__REQ_ALLOC 136u
#define CLUSTERC__REQ_ALLOC_BIG 152u
#define CLUSTERC__REQ_INLINE (CLUSTERC__REQ_ALLOC - sizeof(clusterc__req))
#define CLUSTERC__REQ_INLINE_BIG (CLUSTERC__REQ_ALLOC_BIG - sizeof(clusterc__req))

/* The command's name for messages and the command hook, read from its text
 * into buf (cap bytes): "GET", "CLUSTER SHARDS". Returns buf. */
const char *clusterc__req_name(const clusterc__req *r, char *buf, size_t cap);
#define CLUSTERC__REQ_NAME_MAX 30
/* The same into a buffer that lives to the end of the caller's block. */
#define CLUSTERC__RNAME(r) \
    clusterc__req_name((r), (char[CLUSTERC__REQ_NAME_MAX]){ 0 }, CLUSTERC__REQ_NAME_MAX)

/* r's rare part, allocated (zeroed) on first use; NULL when out of memory. */
clusterc__req_x *clusterc__req_ext(clusterc__req *r);
/* Read-only views of the rare part (no allocation). */
static inline int64_t clusterc__req_block_ms(const clusterc__req *r)
{
    return r->x ? r->x->block_ms : 0;
}
static inline struct clusterc__bconn *clusterc__req_bconn(const clusterc__req *r)
{
    return r->x ? r->x->bconn : NULL;
}
static inline clusterc__node *clusterc__req_target(const clusterc__req *r)
{
    return r->x ? r->x->target : NULL;
}
static inline const char *clusterc__req_last(const clusterc__req *r)
{
    return r->x ? r->x->last : "";
}

/* Create / free the engine on a caller's event_base. The options must have
 * been validated (clusterc__options_check). Returns NULL on OOM, or when
 * the TLS files cannot be used: then err says which and why (EINVAL). */
clusterc__engine *clusterc__engine_new(struct event_base *base, const clusterc_options *o,
                                       clusterc__err *err);

/* Fail every pending request with code/msg (callbacks run), close all
 * connections and free. Safe from inside a completion callback: the
 * engine is then only marked and freed when the callback returns. */
void clusterc__engine_free(clusterc__engine *e, int code, const char *msg);

/* Graceful close: no new map load, probe or reconnect; each pending
 * request finishes or fails by its own deadline; a connection closes as
 * soon as nothing waits on it, and once nothing is pending at all every
 * resource that keeps the loop alive is gone and DRAINED is sent. */
void clusterc__engine_drain(clusterc__engine *e);
/* The drain finished (DRAINED sent). */
int clusterc__engine_drained(const clusterc__engine *e);

/* A new request for a formatted command (ownership of cmd passes to it).
 * Returns NULL (and frees cmd) on OOM or when the command is not valid RESP
 * (err set). */
clusterc__req *clusterc__req_new(clusterc__engine *e, char *cmd, size_t len,
                                 clusterc__done_fn *done, clusterc__err *err);
/* A command formatted for a request by a face (reqpool.c):
 *   cmd     the NUL-terminated RESP text: the text area of a request's
 *           block when it fits (CLUSTERC__REQ_INLINE_BIG bytes with its
 *           NUL), else a pooled buffer (CLUSTERC__CMDBUF), else malloc'ed
 *           (always malloc'ed when e is NULL, a client whose options were
 *           rejected);
 *   len     its length, -1 out of memory or -2 an invalid format (cmd
 *           NULL), as clusterc__format_command;
 *   pooled  which: 2 the text area of a request's block (the request
 *           made from t is that block), 1 a pooled buffer, 0 malloc'ed;
 *           the request gives it back, clusterc__cmdtext_release when no
 *           request took it (never free() it);
 *   ca      for the argv form, where the arguments are, so the request
 *           does not parse them again (ca.argc 0: not known).
 * Only on the engine's thread. */
#define CLUSTERC__CMDBUF 56   /* a 64-byte malloc chunk */
typedef struct clusterc__cmdtext {
    char *cmd;
    int len, pooled;
    clusterc__cmdargs ca;
} clusterc__cmdtext;
void clusterc__cmdtext_format(clusterc__engine *e, clusterc__cmdtext *t, const char *fmt,
                              va_list ap);
void clusterc__cmdtext_argv(clusterc__engine *e, clusterc__cmdtext *t, int argc,
                            const char *const *argv, const size_t *argvlen);

/* clusterc__req_new for a formatted text t (t->len >= 0), which passes to
 * the request (or is given back on failure). A text short enough moves
 * into the request's own block (CLUSTERC__REQ_INLINE). */
clusterc__req *clusterc__req_new_text(clusterc__engine *e, const clusterc__cmdtext *t,
                                      clusterc__done_fn *done, clusterc__err *err);
/* A face's completion function, registered for e's requests when the face
 * makes e (up to CLUSTERC__FACE_DONE per engine; a face has one or two):
 * its requests then name it by an index in two bits, where any other keeps
 * a pointer in its rare part (allocated: slower, not wrong). */
#define CLUSTERC__FACE_DONE 3
void clusterc__engine_face_done(clusterc__engine *e, clusterc__done_fn *done);
/* The same for a caller's command: refused at once, with CLUSTERC_EOVERLOAD
 * in err (the text given back), when max_inflight of them are unfinished
 * (overload.c). */
clusterc__req *clusterc__req_new_user(clusterc__engine *e, const clusterc__cmdtext *t,
                                      clusterc__done_fn *done, clusterc__err *err);
/* Give back a text that no request took. */
void clusterc__cmdtext_release(clusterc__engine *e, const clusterc__cmdtext *t);
/* The request block whose text area cmd is (pooled 2). */
clusterc__req *clusterc__req_of_text(char *cmd);

/* Free a request that was never submitted (the face gave up on it). */
void clusterc__req_free(clusterc__req *r);

/* Pin r to one node named by "host:port" or node id (no redirects, no
 * retries). Returns 0, or -1 with err set (unknown id, bad address). */
int clusterc__req_pin(clusterc__engine *e, clusterc__req *r, const char *node,
                      clusterc__err *err);

/* Send a request. Completion always comes later, from the event loop, never
 * from inside this call. */
void clusterc__engine_submit(clusterc__engine *e, clusterc__req *r);

/* Write queued output now instead of at the end of the loop turn (the
 * blocking face calls it to save a loop iteration). */
void clusterc__engine_flush_now(clusterc__engine *e);

/* Load the slot map now (bootstrap, clusterc_refresh); force skips the rate
 * limit (also for the follow-up when a load is already in flight). Returns
 * the clusterc__engine_refresh_runs() value at which a load started after
 * this call has ended. */
uint64_t clusterc__engine_refresh(clusterc__engine *e, int force);
uint64_t clusterc__engine_refresh_runs(const clusterc__engine *e); /* finished, ok or not */
const clusterc__err *clusterc__engine_last_error(const clusterc__engine *e);

struct event_base *clusterc__engine_base(const clusterc__engine *e);
/* clusterc_node_stats for either face. */
int clusterc__engine_node_stats(const clusterc__engine *e, clusterc_node_info *out, int max);
const clusterc_stats *clusterc__engine_stats(const clusterc__engine *e);
/* The engine's copy of the options (its own strings; the TLS ones are NULL:
 * they live in the TLS context). Valid as long as the engine. */
const clusterc_options *clusterc__engine_options(const clusterc__engine *e);

/* Called once when the engine is finally freed (maybe later than
 * clusterc__engine_free, when that ran inside a callback). */
void clusterc__engine_on_destroy(clusterc__engine *e, void (*fn)(void *), void *arg);
/* That arg: the face that owns e (the async face's client), or NULL. */
void *clusterc__engine_owner(const clusterc__engine *e);

/* The blocking face: sockets go to blocking mode after connecting, so a
 * lone reply can be awaited with one recv() (see wait_fast). */
void clusterc__engine_set_blocking(clusterc__engine *e);

/* If every live request is the caller's (no probe, refresh or fan-out
 * part in flight), r's bytes are all written, and the loop ran within the
 * last 10 ms (so timers are never starved), wait for its reply with one
 * blocking recv() instead of a loop turn (epoll_wait + recv). Returns 1
 * when it read (check whether r completed), 0 when the loop must run. */
int clusterc__engine_wait_fast(clusterc__engine *e, clusterc__req *r);
void clusterc__engine_loop_ran(clusterc__engine *e);

/* Copy the primary of slot in the current map ("host:port" as announced,
 * NUL-terminated, at most cap bytes) into out. Returns 0, or -1 when there
 * is no map or the slot is not served. (The cluster-wide SCAN.) */
int clusterc__engine_slot_owner(const clusterc__engine *e, int slot, char *out, size_t cap);

/* Reentrancy guard for callbacks: a face that calls out to the user wraps
 * the call so a free from inside it is deferred. */
void clusterc__engine_enter(clusterc__engine *e);
void clusterc__engine_leave(clusterc__engine *e);  /* may free e */

#endif
