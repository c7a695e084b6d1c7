/* conn.h -- one multiplexed, pipelined connection per node (internal).
 *
 * A node owns a socket, an output buffer written once per loop turn, a
 * hiredis reader, and a FIFO of what was sent, so the n-th reply belongs to
 * the n-th entry. Handshake commands (AUTH, CLIENT SETNAME, READONLY) and
 * ASKING ride in the same FIFO ahead of the commands they serve.
 */
#ifndef CLUSTERC_CONN_H
#define CLUSTERC_CONN_H
#include <stdint.h>
#include <hiredis/hiredis.h>
#include "engine.h"
#include "proto/topology.h"

enum clusterc__node_state {
    CLUSTERC__NODE_DOWN = 0,
    CLUSTERC__NODE_RESOLVING,
    CLUSTERC__NODE_CONNECTING,
    CLUSTERC__NODE_UP
};

enum clusterc__fifo_kind {
    CLUSTERC__FIFO_USER = 0,   /* a request: the engine classifies its reply */
    CLUSTERC__FIFO_SKIP,       /* reply is dropped (timed-out request) */
    CLUSTERC__FIFO_ASKING,     /* +OK of ASKING */
    CLUSTERC__FIFO_AUTH,       /* handshake: an error fails the connection */
    CLUSTERC__FIFO_SETNAME,
    CLUSTERC__FIFO_READONLY
};

typedef struct clusterc__fifo_ent {
    clusterc__req *req;        /* USER only */
    uint64_t start;            /* its first byte's offset in the output stream */
    uint8_t kind;
} clusterc__fifo_ent;

struct clusterc__node {
    clusterc__engine *e;
    clusterc__addr addr;
    char name[CLUSTERC__ADDR_MAX];   /* "host:port", the key in the node table */
    char id[41];
    clusterc__role role;
    clusterc__health health;
    long long repl_offset;

    int fd;
    int state;                       /* enum clusterc__node_state */
    int conn_errno;                  /* connect() failed at once: reported from the loop */
    struct event *rev, *wev, *tev;   /* read, write/connect, connect deadline */
    struct evdns_getaddrinfo_request *dns;
    redisReader *reader;

    char *obuf;                      /* bytes not yet written: obuf[opos..olen) */
    size_t olen, opos, ocap;
    uint64_t out_total;              /* bytes appended since connect started */
    uint64_t out_written;            /* bytes written since connect started */

    clusterc__fifo_ent *fifo;        /* ring: fifo[fhead] is the oldest */
    size_t fhead, fcount, fcap;
    uint64_t fseq;                   /* sequence number of fifo[fhead] */

    clusterc__node *dirty_next;      /* engine's flush list */
    uint8_t dirty;
    uint8_t retired;                 /* left the map: freed once its FIFO drains */
    uint64_t map_gen;                /* last map that listed it */
    int64_t fail_until_us;           /* marked failing until then */
    char last_err[128];

    /* read routing (reads.c) */
    clusterc__addr announced;        /* as the cluster announces it (pre-remap) */
    int shard;                       /* index in the engine's shards, -1 */
    int64_t loading_until_us;        /* answered LOADING/MASTERDOWN to a read */
    uint8_t lag_known, link_up, has_latency, probe_busy, poll_busy, probe_skips;
    uint8_t readonly_sent;           /* READONLY went out on this connection */
    uint8_t blocking;                /* socket in blocking mode (blocking face) */
    int64_t lag_s, lag_bytes;        /* from its primary's INFO replication */
    double latency_us;               /* EWMA of PING round trips */
    double probe_best;               /* best round trip of the probe in flight */
    int64_t probe_sent_us;           /* CLOCK_MONOTONIC */
    int64_t probe_sent_rt_us;        /* CLOCK_REALTIME, to compare with rx_stamp_us */
    int64_t rx_stamp_us;             /* kernel arrival time of the last probed read */
    uint64_t ryw_write_clock;        /* primary: clock of this client's last write */
    uint64_t ryw_ok_clock;           /* replica: writes up to this clock are acked */
    int writes_inflight;             /* primary: this client's writes not answered */
    uint64_t reads, writes, redirects, errors;
};

clusterc__node *clusterc__node_new(clusterc__engine *e, const clusterc__addr *a);

/* Queue a request (after ASKING when r->asking). Starts connecting when the
 * node is down. Returns 0, or -1 on OOM (nothing queued). */
int clusterc__node_send(clusterc__node *n, clusterc__req *r);

/* Queue a command whose reply nobody wants (MULTI of a transaction whose
 * +OK was already given). Returns 0 or -1 on OOM. */
int clusterc__node_send_skip(clusterc__node *n, const char *cmd, size_t len);

/* Write what is queued (no-op unless connected). */
void clusterc__node_flush(clusterc__node *n);

/* Blocking face: wait for the reply in one blocking recv() and hand out
 * what came. Only on a node in blocking mode. Returns 0 when something was
 * read (or the connection closed), -1 when nothing came in time. */
int clusterc__node_read_blocking(clusterc__node *n);

/* Forget a queued request whose caller gave up: its reply will be dropped. */
void clusterc__node_orphan(clusterc__node *n, uint64_t seq);

/* Close the connection. Each queued request goes back to the engine through
 * clusterc__engine_lost(), which retries or fails it. */
void clusterc__node_close(clusterc__node *n, int code, const char *msg);

/* Close without handing requests back (the engine already failed them). */
void clusterc__node_free(clusterc__node *n);

/* Called by conn.c, implemented by the engine. */
void clusterc__engine_on_reply(clusterc__engine *e, clusterc__node *n,
                               clusterc__req *r, redisReply *reply);
void clusterc__engine_lost(clusterc__engine *e, clusterc__node *n, clusterc__req *r,
                           int code, const char *msg, int written);
void clusterc__engine_mark_dirty(clusterc__engine *e, clusterc__node *n);
void clusterc__engine_node_failed(clusterc__engine *e, clusterc__node *n);
/* A connection came up (counted in clusterc_stats.connects). */
void clusterc__engine_connected(clusterc__engine *e);
struct evdns_base *clusterc__engine_dns(clusterc__engine *e);
const clusterc_options *clusterc__engine_opts(const clusterc__engine *e);
int clusterc__engine_readonly_conns(const clusterc__engine *e);
int clusterc__engine_dead(const clusterc__engine *e);
int clusterc__engine_blocking(const clusterc__engine *e);
#endif
