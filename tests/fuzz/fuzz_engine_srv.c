/* fuzz_engine_srv.c -- the fake cluster behind fuzz_engine.c.
 *
 * The engine's dial seam (clusterc__dial_override, engine/conn_int.h)
 * hands the client one end of a socketpair per connection; this file plays
 * every server on the other ends. It parses what the client writes (its
 * output must be RESP commands), answers the map, handshake and probe
 * commands itself in canned mode, sends each fuzzed chunk to the
 * connection whose oldest request is still unanswered, and fires the
 * engine's timers when the input says time passes: no run waits for a
 * clock, so a run is as deterministic as its input.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/util.h>
#include <hiredis/hiredis.h>
#include "fuzz_common.h"
#include "fuzz_engine.h"
#include "engine/conn_int.h"

/* What a request gets: fuzzed bytes, or (canned mode) a fixed reply. */
enum kind {
    K_FUZZ, K_SHARDS, K_SHARDS_REFUSED, K_SLOTS, K_COMMAND, K_OK, K_PONG, K_INFO, K_ZONE
};

#define QMAX 512                    /* unanswered requests tracked per connection */
#define MAX_FDS (2 * FZ_MAX_CONNS)

typedef struct srv {
    int fd;                         /* server end, -1 once closed */
    int port;                       /* the port the client dialled */
    redisReader *req;               /* parses the client's commands */
    redisReader *rep;               /* the replies written: how many are whole */
    uint64_t qseq[QMAX];            /* unanswered requests: arrival order */
    uint8_t qkind[QMAX];
    size_t qhead, qlen;
    int agg, digits;                /* huge-aggregate scanner state */
    int in_multi;                   /* MULTI sent, EXEC/DISCARD not yet */
} srv;

static struct {
    srv s[FZ_MAX_CONNS];
    int n;                          /* connections made this run */
    int refuse;                     /* dials fail (the input has ended) */
    int canned, slots_only, trace;
    int fds[MAX_FDS];               /* every socket made this run */
    int nfds;
    uint64_t seq;                   /* requests seen, all connections */
} S;

/* ------------------------------------------------------------ canned replies */

/* COMMAND's answer: GET's entry, as redis-server 7.0 gives it (a learned
 * table of one command; the built-in table serves the rest). */
static const char command_get[] =
    "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n*3\r\n"
    "+@read\r\n+@string\r\n+@fast\r\n*0\r\n*1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n"
    "$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n*2\r\n$5\r\n"
    "index\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n$4\r\nspec\r\n*6\r\n"
    "$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n";
static const char shards_refused[] = "-ERR unknown subcommand 'SHARDS'. Try CLUSTER HELP.\r\n";

static char shards_buf[4096], slots_buf[2048];
static size_t shards_len, slots_len;

static size_t put(char *b, size_t cap, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t put(char *b, size_t cap, size_t at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = at < cap ? vsnprintf(b + at, cap - at, fmt, ap) : 0;
    va_end(ap);
    if (k < 0 || at + (size_t)k >= cap)
        fuzz_fail("canned reply buffer too small");
    return at + (size_t)k;
}

/* A healthy 3+3 cluster: shard i served by 24901+i, its replica 24904+i. */
static void build_maps(void)
{
    static const int lo[3] = { 0, 5461, 10923 }, hi[3] = { 5460, 10922, 16383 };
    size_t k = put(shards_buf, sizeof(shards_buf), 0, "*3\r\n");
    size_t m = put(slots_buf, sizeof(slots_buf), 0, "*3\r\n");
    for (int i = 0; i < 3; i++) {
        k = put(shards_buf, sizeof(shards_buf), k, "*4\r\n$5\r\nslots\r\n*2\r\n:%d\r\n:%d\r\n"
                "$5\r\nnodes\r\n*2\r\n", lo[i], hi[i]);
        m = put(slots_buf, sizeof(slots_buf), m, "*4\r\n:%d\r\n:%d\r\n", lo[i], hi[i]);
        for (int j = 0; j < 2; j++) {
            int port = 24901 + i + 3 * j;
            k = put(shards_buf, sizeof(shards_buf), k,
                    "*14\r\n$2\r\nid\r\n$40\r\n%040d\r\n$4\r\nport\r\n:%d\r\n$2\r\nip\r\n"
                    "$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n$4\r\nrole\r\n"
                    "$%d\r\n%s\r\n$18\r\nreplication-offset\r\n:420\r\n$6\r\nhealth\r\n"
                    "$6\r\nonline\r\n", port, port, j ? 7 : 6, j ? "replica" : "master");
            m = put(slots_buf, sizeof(slots_buf), m, "*3\r\n$9\r\n127.0.0.1\r\n:%d\r\n"
                    "$40\r\n%040d\r\n", port, port);
        }
    }
    shards_len = k;
    slots_len = m;
}

/* INFO server of the node at port, as Valkey 8 tells its zone: the
 * primaries and the first replica in az-1, the other replicas in az-2. */
static size_t zone_reply(char *b, size_t cap, int port)
{
    char body[200];
    size_t n = put(body, sizeof(body), 0, "# Server\r\nvalkey_version:8.0.1\r\n"
                   "availability_zone:az-%d\r\ntcp_port:%d\r\n", port <= 24904 ? 1 : 2, port);
    return put(b, cap, 0, "$%zu\r\n%s\r\n", n, body);
}

/* INFO replication of the node at port: primaries list their replica,
 * caught up. */
static size_t info_reply(char *b, size_t cap, int port)
{
    char body[300];
    size_t n = port >= 24901 && port <= 24903
        ? put(body, sizeof(body), 0, "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n"
              "slave0:ip=127.0.0.1,port=%d,state=online,offset=420,lag=0\r\n"
              "master_repl_offset:420\r\n", port + 3)
        : put(body, sizeof(body), 0, "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\n"
              "master_port:%d\r\nmaster_link_status:up\r\nslave_repl_offset:420\r\n"
              "master_repl_offset:420\r\n", port - 3);
    return put(b, cap, 0, "$%zu\r\n%s\r\n", n, body);
}

static int arg_is(const redisReply *r, size_t i, const char *s)
{
    size_t n = strlen(s);
    return i < r->elements && r->element[i]->len == n && strncasecmp(r->element[i]->str, s, n) == 0;
}

static uint8_t classify(const redisReply *r)
{
    if (!S.canned)
        return K_FUZZ;
    if (arg_is(r, 0, "CLUSTER") && arg_is(r, 1, "SHARDS"))
        return S.slots_only ? K_SHARDS_REFUSED : K_SHARDS;
    if (arg_is(r, 0, "CLUSTER") && arg_is(r, 1, "SLOTS"))
        return K_SLOTS;
    if (arg_is(r, 0, "COMMAND"))
        return K_COMMAND;
    if (arg_is(r, 0, "READONLY") || arg_is(r, 0, "ASKING") || arg_is(r, 0, "AUTH") ||
        (arg_is(r, 0, "CLIENT") && arg_is(r, 1, "SETNAME")))
        return K_OK;
    if (arg_is(r, 0, "PING") && r->elements == 1)   /* a latency probe */
        return K_PONG;
    if (arg_is(r, 0, "INFO") && arg_is(r, 1, "replication") && r->elements == 2)   /* a lag poll */
        return K_INFO;
    if (arg_is(r, 0, "INFO") && arg_is(r, 1, "server") && r->elements == 2)   /* its zone */
        return K_ZONE;
    return K_FUZZ;
}

/* ------------------------------------------------------------ connections */

static int fz_dial(const char *host, int port)
{
    int sv[2];
    if (!host || !host[0] || port < 1 || port > 65535)
        fuzz_fail("dial of a bad address");
    if (S.refuse || S.n >= FZ_MAX_CONNS) {
        errno = ECONNREFUSED;
        return -1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    srv *c = &S.s[S.n++];
    memset(c, 0, sizeof(*c));
    c->fd = sv[1];
    c->port = port;
    c->req = redisReaderCreate();
    c->rep = redisReaderCreate();
    if (!c->req || !c->rep)
        fuzz_fail("out of memory");
    S.fds[S.nfds++] = sv[0];
    S.fds[S.nfds++] = sv[1];
    if (S.trace)
        fprintf(stderr, "[srv] conn %d: dialled %s:%d\n", S.n - 1, host, port);
    return sv[0];
}

void fz_srv_begin(int canned, int slots_only, int trace)
{
    if (!shards_len)
        build_maps();
    S.n = S.refuse = S.nfds = 0;   /* fz_dial clears each connection it makes */
    S.seq = 0;
    S.canned = canned;
    S.slots_only = slots_only;
    S.trace = trace;
    clusterc__dial_override = fz_dial;
}

static void srv_close(srv *c)
{
    if (c->fd < 0)
        return;
    close(c->fd);
    c->fd = -1;
    c->qlen = 0;
}

/* The whole replies among the bytes written so far answer that many
 * requests. A stream hiredis refuses answers nothing more: the client
 * closes the connection when it reads it. */
static void count_replies(srv *c, const char *p, size_t n)
{
    void *r;
    if (c->rep->err)
        return;
    redisReaderFeed(c->rep, p, n);
    while (redisReaderGetReply(c->rep, &r) == REDIS_OK && r) {
        freeReplyObject(r);
        if (c->qlen) {
            c->qhead = (c->qhead + 1) % QMAX;
            c->qlen--;
        }
    }
    if (c->rep->err)
        c->qlen = 0;
}

static void srv_write(srv *c, const char *p, size_t n)
{
    size_t off = 0;
    while (off < n && c->fd >= 0) {
        ssize_t w = send(c->fd, p + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;   /* the client stopped reading: the rest is lost */
        } else {
            srv_close(c);   /* the client closed its end */
            return;
        }
    }
    count_replies(c, p, off);
}

/* No reply half-written: a canned one may go next. */
static int rep_idle(const redisReader *r)
{
    return !r->err && r->pos == r->len && r->ridx <= 0;
}

static void answer_canned(srv *c)
{
    char info[512];
    while (c->fd >= 0 && c->qlen && c->qkind[c->qhead] != K_FUZZ && rep_idle(c->rep)) {
        switch (c->qkind[c->qhead]) {
        case K_SHARDS: srv_write(c, shards_buf, shards_len); break;
        case K_SHARDS_REFUSED: srv_write(c, shards_refused, sizeof(shards_refused) - 1); break;
        case K_SLOTS: srv_write(c, slots_buf, slots_len); break;
        case K_COMMAND: srv_write(c, command_get, sizeof(command_get) - 1); break;
        case K_OK: srv_write(c, "+OK\r\n", 5); break;
        case K_PONG: srv_write(c, "+PONG\r\n", 7); break;
        case K_ZONE: srv_write(c, info, zone_reply(info, sizeof(info), c->port)); break;
        default: srv_write(c, info, info_reply(info, sizeof(info), c->port)); break;
        }
    }
}

static void trace_cmd(const srv *c, const redisReply *r, uint8_t kind)
{
    fprintf(stderr, "[srv] conn %d (:%d) <- #%llu", (int)(c - S.s), c->port,
            (unsigned long long)S.seq);
    for (size_t i = 0; i < r->elements && i < 6; i++)
        fprintf(stderr, " %.*s", (int)(r->element[i]->len < 40 ? r->element[i]->len : 40),
                r->element[i]->str);
    fprintf(stderr, "%s\n", kind == K_FUZZ ? "" : "  (canned)");
}

/* The programs send EXEC and DISCARD only after their MULTI: one that
 * reaches a server outside MULTI means the commands before it ran one by
 * one, not as the transaction the caller was told was open. */
static void tx_check(srv *c, const redisReply *r)
{
    if (arg_is(r, 0, "MULTI")) {
        c->in_multi = 1;
    } else if (arg_is(r, 0, "EXEC") || arg_is(r, 0, "DISCARD")) {
        if (!c->in_multi)
            fuzz_fail("EXEC or DISCARD reached a server outside MULTI: the commands queued "
                      "in the transaction ran on their own");
        c->in_multi = 0;
    }
}

/* The client's output is RESP commands: arrays of bulk strings. */
static void take_commands(srv *c)
{
    void *v;
    for (;;) {
        if (redisReaderGetReply(c->req, &v) != REDIS_OK)
            fuzz_fail("the client wrote bytes that are not RESP");
        if (!v)
            return;
        redisReply *r = v;
        if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
            fuzz_fail("the client wrote something other than a command");
        for (size_t i = 0; i < r->elements; i++)
            if (r->element[i]->type != REDIS_REPLY_STRING)
                fuzz_fail("the client wrote a command with a non-string argument");
        tx_check(c, r);
        uint8_t kind = classify(r);
        if (S.trace)
            trace_cmd(c, r, kind);
        if (c->qlen < QMAX) {
            size_t at = (c->qhead + c->qlen) % QMAX;
            c->qseq[at] = S.seq;
            c->qkind[at] = kind;
            c->qlen++;
        }
        S.seq++;
        freeReplyObject(r);
    }
}

static void srv_read(srv *c)
{
    char buf[16384];
    for (;;) {
        ssize_t r = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (r > 0) {
            redisReaderFeed(c->req, buf, (size_t)r);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        take_commands(c);
        if (S.trace)
            fprintf(stderr, "[srv] conn %d: closed by the client\n", (int)(c - S.s));
        srv_close(c);
        return;
    }
    take_commands(c);
    answer_canned(c);
}

void fz_srv_poll(void)
{
    struct pollfd pf[FZ_MAX_CONNS];
    int idx[FZ_MAX_CONNS], n = 0;
    for (int i = 0; i < S.n; i++) {
        if (S.s[i].fd < 0)
            continue;
        pf[n].fd = S.s[i].fd;
        pf[n].events = POLLIN;
        pf[n].revents = 0;
        idx[n++] = i;
    }
    if (n == 0 || poll(pf, (nfds_t)n, 0) <= 0)
        return;
    for (int k = 0; k < n; k++)
        if (pf[k].revents)
            srv_read(&S.s[idx[k]]);
}

/* 1 when p announces an aggregate of 10000+ elements: a type byte then
 * five digits, anywhere (hiredis finds a type byte right after a bulk
 * payload, whatever the two bytes it skips there were). */
static int huge_aggregate(srv *c, const uint8_t *p, size_t n)
{
    int agg = c->agg, digits = c->digits;
    for (size_t i = 0; i < n; i++) {
        uint8_t ch = p[i];
        if (ch == '*' || ch == '%' || ch == '~' || ch == '>' || ch == '|') {
            agg = 1;
            digits = 0;
        } else if (agg == 1 && ch == '-' && digits == 0) {
            agg = 2;
        } else if (agg && ch >= '0' && ch <= '9') {
            if (++digits > 4)
                return 1;
        } else {
            agg = 0;
        }
    }
    c->agg = agg;
    c->digits = digits;
    return 0;
}

static srv *target(void)
{
    srv *best = NULL, *first = NULL;
    for (int i = 0; i < S.n; i++) {
        srv *c = &S.s[i];
        if (c->fd < 0)
            continue;
        if (!first)
            first = c;
        if (c->qlen && (!best || c->qseq[c->qhead] < best->qseq[best->qhead]))
            best = c;
    }
    return best ? best : first;
}

int fz_srv_deliver(const uint8_t *p, size_t n)
{
    srv *c = target();
    if (!c)
        return 0;
    if (huge_aggregate(c, p, n))
        return -1;
    if (S.trace)
        fprintf(stderr, "[srv] conn %d -> %zu bytes%s\n", (int)(c - S.s), n,
                c->qlen ? "" : " (nothing asked)");
    srv_write(c, (const char *)p, n);
    answer_canned(c);
    return 0;
}

void fz_srv_trace_next(void)
{
    const srv *c = target();
    if (c && c->qlen)
        fprintf(stderr, "[srv] next: #%llu\n", (unsigned long long)c->qseq[c->qhead]);
    else
        fprintf(stderr, "[srv] next: none\n");
}

void fz_srv_close_all(void)
{
    for (int i = 0; i < S.n; i++)
        srv_close(&S.s[i]);
    S.refuse = 1;
}

void fz_srv_end(void)
{
    for (int i = 0; i < S.n; i++) {
        srv_close(&S.s[i]);
        redisReaderFree(S.s[i].req);
        redisReaderFree(S.s[i].rep);
    }
    for (int i = 0; i < S.nfds; i++)
        if (fcntl(S.fds[i], F_GETFD) != -1)
            fuzz_fail("a socket outlived the client");
    S.n = S.nfds = 0;
}

/* ------------------------------------------------------------ time */

typedef struct due {
    struct event *ev;
    struct timeval at;
    size_t order;
} due;

typedef struct dues {
    due v[256];
    size_t n;
    struct timeval limit;
} dues;

static int collect(const struct event_base *b, const struct event *ev, void *arg)
{
    dues *d = arg;
    struct timeval at;
    (void)b;
    if (!event_pending(ev, EV_TIMEOUT, &at) || evutil_timercmp(&at, &d->limit, >))
        return 0;
    if (d->n < sizeof(d->v) / sizeof(d->v[0])) {
        d->v[d->n].ev = (struct event *)ev;   /* made active below, outside the walk */
        d->v[d->n].at = at;
        d->v[d->n].order = d->n;
        d->n++;
    }
    return 0;
}

static int by_time(const void *x, const void *y)
{
    const due *a = x, *b = y;
    if (evutil_timercmp(&a->at, &b->at, !=))
        return evutil_timercmp(&a->at, &b->at, <) ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

void fz_warp(struct event_base *base, int64_t horizon_ms)
{
    static dues d;
    struct timeval now, h = { (long)(horizon_ms / 1000), (long)(horizon_ms % 1000) * 1000 };
    d.n = 0;
    evutil_gettimeofday(&now, NULL);
    evutil_timeradd(&now, &h, &d.limit);
    event_base_foreach_event(base, collect, &d);
    qsort(d.v, d.n, sizeof(d.v[0]), by_time);
    if (S.trace)
        fprintf(stderr, "[srv] %lld ms pass: %zu timers fire\n", (long long)horizon_ms, d.n);
    for (size_t i = 0; i < d.n; i++)
        event_active(d.v[i].ev, EV_TIMEOUT, 1);
}
