/* conn.h -- one multiplexed, pipelined connection (internal).
 *
 * A connection owns a socket, an output buffer written once per loop turn,
 * a hiredis reader, and a FIFO of what was sent, so the n-th reply belongs
 * to the n-th entry. Handshake commands (AUTH, CLIENT SETNAME, READONLY)
 * and ASKING ride in the same FIFO ahead of the commands they serve.
 *
 * It knows nothing of requests, nodes or the engine, as a hiredis adapter
 * or a libevent bufferevent knows nothing of its user: a command is bytes
 * with an opaque tag, and what happens (connected, a reply for a tag, a
 * tag lost with the connection, closed, bytes waiting to be written) is
 * reported through the table of callbacks its owner hands it.
 */
#ifndef CLUSTERC_CONN_H
#define CLUSTERC_CONN_H
#include <stdint.h>
#include <hiredis/hiredis.h>
#include <event2/event.h>
#include "proto/addr.h"
#include "dns.h"
#include "tls.h"
#include "reply_arena.h"
#include "reply_pool.h"

typedef struct clusterc__conn clusterc__conn;

enum clusterc__conn_state {
    CLUSTERC__CONN_DOWN = 0,
    CLUSTERC__CONN_RESOLVING,
    CLUSTERC__CONN_CONNECTING,
    CLUSTERC__CONN_UP
};

/* What every connection of one owner does the same way (the engine fills
 * it from the options). Strings are borrowed: they outlive the connection. */
typedef struct clusterc__conn_cfg {
    int connect_timeout_ms;
    int command_timeout_ms;    /* SO_RCVTIMEO of a blocking socket */
    int tcp_keepalive_s;       /* 0 = off */
    int timestamps;            /* SO_TIMESTAMPNS, for latency probes */
    int blocking;              /* blocking face: socket in blocking mode once up */
    int readonly;              /* READONLY in every handshake */
    const char *username, *password, *client_name;
    clusterc__tls *tls;        /* NULL: plain TCP; else every connection
                                  does a TLS handshake once TCP is up */
    clusterc__reply_pool *reply_pool; /* CLUSTERC__CONN_POOL replies come from it
                                  (owned by the owner; NULL: none are pooled) */
} clusterc__conn_cfg;

/*
 * The owner's side. Every callback gets the owner pointer given to
 * clusterc__conn_init. enter/leave bracket each libevent callback of the
 * connection (the owner's reentrancy guard: it may be freed in leave, never
 * in between). Ownership of a reply passes to the callee.
 */
typedef struct clusterc__conn_ops {
    void (*enter)(void *owner);
    void (*leave)(void *owner);
    clusterc__dns *(*dns)(void *owner);            /* for host names */
    void (*connected)(void *owner);
    /* The reply to a command sent with tag. Returns 0 to go on reading, -1
     * when the owner wants no more replies now (it is going away). */
    int (*reply)(void *owner, void *tag, redisReply *reply);
    /* The connection closed with tag's command unanswered; written: some of
     * its bytes had been written to the socket. Called for each such tag,
     * oldest first, after closed. */
    void (*lost)(void *owner, void *tag, int code, const char *msg, int written);
    /* The connection closed (first of the reports a close makes); was_up:
     * it had come up (else a connect attempt failed). */
    void (*closed)(void *owner, int code, const char *msg, int was_up);
    /* Bytes were queued on a connection that is up: call
     * clusterc__conn_flush soon (the owner batches writes per loop turn). */
    void (*want_write)(void *owner);
} clusterc__conn_ops;

/* 16 bytes a command (issue 17: memory per command in flight). `w` packs
 * its first byte's offset in the output stream (the high 56 bits: 64 PB,
 * never reached) and its kind and marks (the low 8): see conn.c. */
typedef struct clusterc__fifo_ent {
    void *tag;                 /* USER only */
    uint64_t w;                /* start << 8 | pool << 5 | arena << 4 | kind */
} clusterc__fifo_ent;

struct clusterc__conn {
    const clusterc__conn_ops *ops;
    void *owner;
    const clusterc__conn_cfg *cfg;
    struct event_base *base;
    clusterc__addr addr;             /* dialled */
    const char *name;                /* "host:port", for messages (borrowed) */

    int fd;
    int state;                       /* enum clusterc__conn_state */
    int conn_errno;                  /* connect() failed at once: reported from the loop */
    struct event *rev, *wev, *tev;   /* read, write/connect, connect deadline */
    clusterc__dns_lookup *dns;
    redisReader *reader;
    clusterc__arena_ctx actx;        /* the reader's privdata (reply_arena.h) */
    clusterc__ssl *ssl;              /* TLS session (cfg->tls), NULL otherwise */
    clusterc__tls_io tio;            /* how ssl reaches the socket */

    char *obuf;                      /* bytes not yet written: obuf[opos..olen) */
    size_t olen, opos, ocap;
    uint64_t out_total;              /* bytes appended since connect started */
    uint64_t out_written;            /* bytes written since connect started */

    clusterc__fifo_ent *fifo;        /* ring of fcap (a power of two) entries:
                                        fifo[fhead] is the oldest */
    size_t fhead, fcount, fcap;
    uint64_t fseq;                   /* sequence number of fifo[fhead] */

    uint32_t dials;                  /* connection attempts started, ever */
    uint8_t readonly_sent;           /* READONLY went out on this connection */
    uint8_t readonly_refused;        /* the server refused READONLY (an ACL user
                                        without +readonly); kept across reconnects
                                        until a READONLY is accepted */
    uint8_t auth_wait;               /* AUTH is out, unanswered: nothing past
                                        hold_at is written until it is +OK */
    uint64_t hold_at;                /* stream offset just past AUTH */
    uint64_t held_end;               /* FIFO seqs below this waited for AUTH */
    uint8_t push;                    /* subscriber: replies past the handshake go to
                                        ops->reply with a NULL tag (clusterc__conn_send_raw) */
    uint8_t blocking;                /* socket in blocking mode */
    uint8_t stamp;                   /* read the kernel's arrival time (a probe is out) */
    uint8_t got_bytes;               /* something was read since connect (for hints) */
    uint8_t tls_wait;                /* the socket read under SSL_read may block */
    int lost_code;                   /* the code of a stream that ended (read_once) */
    int64_t rx_stamp_us;             /* CLOCK_REALTIME arrival of the last stamped read */
    char last_err[128];              /* why it last failed */
};

/* Set up a closed connection. Returns 0, or -1 when out of memory. */
int clusterc__conn_init(clusterc__conn *c, struct event_base *base, const clusterc__conn_cfg *cfg,
                        const clusterc__conn_ops *ops, void *owner, const clusterc__addr *a,
                        const char *name);

/* Close without reporting anything and release everything (the owner has
 * already dealt with the tags). */
void clusterc__conn_fini(clusterc__conn *c);

#define CLUSTERC__CONN_ASKING 1u     /* ASKING goes right before the command */
#define CLUSTERC__CONN_READONLY 2u   /* the command needs READONLY on this connection */
/* Its reply, when an aggregate, is built in an arena (reply_arena.h): the
 * owner frees it with clusterc__reply_free. For the map load only. */
#define CLUSTERC__CONN_ARENA 4u
/* Its reply, when a string, status, integer or nil, comes from cfg's reply
 * pool (reply_pool.h): the owner frees it with clusterc__reply_free. For
 * replies whose life ends in the owner's hands (the async face). */
#define CLUSTERC__CONN_POOL 8u

/* A FIFO entry's sequence number as an owner keeps it: its low 32 bits
 * (4 bytes a request, issue 17). The connection counts in 64 bits, and
 * every entry still in its FIFO is within 2^32 of the head, so the low bits
 * name one entry; an entry already answered maps to none. */
static inline uint64_t clusterc__conn_unwrap(const clusterc__conn *c, uint32_t seq)
{
    return c->fseq + (uint32_t)(seq - (uint32_t)c->fseq);
}

/* Queue a command (tag NULL: nobody wants its reply). Starts connecting
 * when the connection is down; failures come later, from the loop. Returns
 * 0 with *seq its FIFO sequence number (low bits, above), or -1 when out of
 * memory (the command is not queued). */
int clusterc__conn_send(clusterc__conn *c, void *tag, const char *cmd, size_t len,
                        unsigned flags, uint32_t *seq);

/* A subscriber connection (c->push set): queue bytes with no FIFO entry;
 * whatever the server sends back, past the handshake, goes to ops->reply
 * with a NULL tag. Starts connecting when down, like clusterc__conn_send.
 * Returns 0 or -1 when out of memory. */
int clusterc__conn_send_raw(clusterc__conn *c, const char *cmd, size_t len);

/* Write what is queued (no-op unless up). */
void clusterc__conn_flush(clusterc__conn *c);

/* Blocking mode only: wait for the reply in one blocking recv() and hand
 * out what came. Returns 0 when something was read (or the connection
 * closed), -1 when nothing came in time. */
int clusterc__conn_read_blocking(clusterc__conn *c);

/* Forget a queued command whose caller gave up: its reply will be dropped. */
void clusterc__conn_orphan(clusterc__conn *c, uint32_t seq);

/* Take the oldest FIFO entry out without waiting for its reply (the owner
 * is failing everything). Returns 1 with *tag (NULL for an entry nobody
 * waits for), or 0 when the FIFO is empty. */
int clusterc__conn_take(clusterc__conn *c, void **tag);

/* Close: ops->closed runs, then every unanswered tag goes back through
 * ops->lost. */
void clusterc__conn_close(clusterc__conn *c, int code, const char *msg);

/* Some bytes of the command queued as seq were written to the socket (so
 * the server may have run it). 0 for a seq no longer in the FIFO. */
int clusterc__conn_sent(const clusterc__conn *c, uint32_t seq);

/* The command queued as seq waited behind AUTH and went out only when it
 * was accepted: its deadline ran while it could not be sent, so a timeout
 * says nothing of the connection. */
static inline int clusterc__conn_was_held(const clusterc__conn *c, uint32_t seq)
{
    return clusterc__conn_unwrap(c, seq) < c->held_end;
}

/* Call fn(tag, arg) for every tag in the FIFO, oldest first. */
void clusterc__conn_each_tag(const clusterc__conn *c, void (*fn)(void *tag, void *arg), void *arg);

/* A command in the FIFO still has a tag (someone waits for its reply). */
int clusterc__conn_has_tags(const clusterc__conn *c);

/* Close quietly, reporting nothing: for an owner that is closing down and
 * has no tag left in the FIFO (untagged entries are dropped). */
void clusterc__conn_shutdown(clusterc__conn *c);

static inline size_t clusterc__conn_unwritten(const clusterc__conn *c) { return c->olen - c->opos; }
#endif
