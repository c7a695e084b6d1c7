/* conn.c -- connections: connect, handshake, batched writes, replies.
 *
 * All socket I/O of the library lives here. The owner decides what to send
 * where; this file only moves bytes, matches replies to the FIFO of what
 * was sent, and reports through the owner's clusterc__conn_ops (conn.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/util.h>
#include "clusterc/clusterc.h"
#include "conn.h"
#include "conn_int.h"
#include "conn_fifo.h"
#include "proto/options.h"
#include "proto/encode.h"

#define READ_CHUNK 16384
#if !defined(SCM_TIMESTAMPNS) && defined(SO_TIMESTAMPNS)
#define SCM_TIMESTAMPNS SO_TIMESTAMPNS   /* the same value on Linux */
#endif

static void read_cb(evutil_socket_t fd, short what, void *arg);
static void write_cb(evutil_socket_t fd, short what, void *arg);

/* ------------------------------------------------------- output buffer */

/* What an idle connection keeps of a burst's output buffer: past it, the
 * buffer is given back once written, as hiredis frees its own. */
#define OBUF_KEEP 65536u

/* realloc, but the old block (it held AUTH, maybe) is wiped before free. */
static char *grow_wiped(clusterc__conn *n, size_t cap)
{
    char *b = malloc(cap);
    if (!b)
        return NULL;
    if (n->olen)
        memcpy(b, n->obuf, n->olen);
    clusterc__secret_wipe(n->obuf, n->ocap);
    free(n->obuf);
    return b;
}

/* Free the output buffer, wiped first when AUTH may have gone through it. */
static void obuf_free(clusterc__conn *n)
{
    if (n->cfg->password)
        clusterc__secret_wipe(n->obuf, n->ocap);
    free(n->obuf);
    n->obuf = NULL;
    n->ocap = 0;
}

static int obuf_append(clusterc__conn *n, const char *p, size_t len)
{
    if (n->opos > 0 && n->opos == n->olen)
        n->opos = n->olen = 0;
    if (n->olen + len > n->ocap) {
        /* Compact before growing: the written prefix is dead weight. */
        if (n->opos > 0) {
            memmove(n->obuf, n->obuf + n->opos, n->olen - n->opos);
            n->olen -= n->opos;
            n->opos = 0;
        }
        if (n->olen + len > n->ocap) {
            size_t cap = n->ocap ? n->ocap : 4096;
            while (cap < n->olen + len)
                cap *= 2;
            char *b = n->cfg->password ? grow_wiped(n, cap) : realloc(n->obuf, cap);
            if (!b)
                return -1;
            n->obuf = b;
            n->ocap = cap;
        }
    }
    memcpy(n->obuf + n->olen, p, len);
    n->olen += len;
    n->out_total += len;
    return 0;
}

/* Append one command and its FIFO entry, or neither. */
static int queue_cmd(clusterc__conn *n, void *tag, uint8_t kind,
                     const char *cmd, size_t len)
{
    uint64_t start = n->out_total;
    if (fifo_push(n, tag, kind, start) < 0)
        return -1;
    if (obuf_append(n, cmd, len) < 0) {
        n->fcount--;
        return -1;
    }
    return 0;
}

static int queue_fmt(clusterc__conn *n, uint8_t kind, int argc, const char **argv)
{
    char *cmd = NULL;
    int len = clusterc__format_argv(&cmd, argc, argv, NULL);
    if (len < 0)
        return -1;
    int rc = queue_cmd(n, NULL, kind, cmd, (size_t)len);
    if (kind == FIFO_AUTH)
        clusterc__secret_wipe(cmd, (size_t)len);
    free(cmd);
    return rc;
}

/* ------------------------------------------------------------ lifecycle */

static redisReader *new_reader(clusterc__conn *c)
{
    redisReader *r = redisReaderCreate();
#if !defined(HIREDIS_MAJOR) || HIREDIS_MAJOR < 1
    /* hiredis 0.14 frees an idle buffer past maxbuf and asserts if the new
     * empty one cannot be allocated (1.x reports out of memory): keep the
     * buffer instead, at the cost of a connection keeping its peak size. */
    if (r)
        r->maxbuf = 0;
#endif
    if (r) {   /* the arena and pool functions find their state here (reply_arena.h) */
        c->actx.plain = r->fn;
        c->actx.cur = NULL;
        c->actx.pool = c->cfg->reply_pool;
        r->privdata = &c->actx;
    }
    return r;
}

int clusterc__conn_init(clusterc__conn *c, struct event_base *base, const clusterc__conn_cfg *cfg,
                        const clusterc__conn_ops *ops, void *owner, const clusterc__addr *a,
                        const char *name)
{
    memset(c, 0, sizeof(*c));
    c->ops = ops;
    c->owner = owner;
    c->cfg = cfg;
    c->base = base;
    c->addr = *a;
    c->name = name;
    c->fd = -1;
    c->reader = new_reader(c);
    return c->reader ? 0 : -1;
}

/* Tear down the socket side; the FIFO is left to the caller. */
static void conn_reset(clusterc__conn *n)
{
    if (n->dns) {
        clusterc__dns_cancel(n->dns);
        n->dns = NULL;
    }
    if (n->ssl) {
        clusterc__tls_session_free(n->ssl, n->state == CLUSTERC__CONN_UP);
        n->ssl = NULL;
    }
    if (n->rev) event_free(n->rev);
    if (n->wev) event_free(n->wev);
    if (n->tev) event_free(n->tev);
    n->rev = n->wev = n->tev = NULL;
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
    n->state = CLUSTERC__CONN_DOWN;
    n->conn_errno = 0;
    n->olen = n->opos = 0;
    n->out_total = n->out_written = 0;
    n->readonly_sent = 0;
    n->auth_wait = 0;
    n->blocking = 0;
    n->got_bytes = 0;
    n->lost_code = 0;
    /* A reader may hold half a reply from the lost stream: start afresh
     * (NULL when out of memory: send_prelude makes one before a dial). */
    redisReaderFree(n->reader);
    n->reader = new_reader(n);
}

void clusterc__conn_close(clusterc__conn *n, int code, const char *msg)
{
    uint64_t written = n->out_written;
    int was_up = n->state == CLUSTERC__CONN_UP;
    snprintf(n->last_err, sizeof(n->last_err), "%s", msg);
    conn_reset(n);
    /* Hand every queued command back; the owner may queue some of them on
     * this very connection again, so detach the FIFO first. */
    clusterc__fifo_ent *fifo = n->fifo;
    size_t head = n->fhead, count = n->fcount, cap = n->fcap;
    n->fifo = NULL;
    n->fhead = n->fcount = n->fcap = 0;
    n->fseq += count;
    /* The cause first, then its effects: the owner learns the connection
     * closed (and may, say, hold off redialling) before the commands it
     * held come back. */
    n->ops->closed(n->owner, code, msg, was_up);
    for (size_t i = 0; i < count; i++) {
        clusterc__fifo_ent ent = fifo[(head + i) & (cap - 1)];
        if (ENT_KIND(&ent) == FIFO_USER && ent.tag)
            n->ops->lost(n->owner, ent.tag, code, msg, ENT_START(&ent) < written);
    }
    free(fifo);
}

void clusterc__conn_shutdown(clusterc__conn *n)
{
    conn_reset(n);
    n->fseq += n->fcount;
    n->fhead = n->fcount = 0;
}

void clusterc__conn_fini(clusterc__conn *n)
{
    conn_reset(n);
    redisReaderFree(n->reader);
    n->reader = NULL;
    free(n->fifo);
    obuf_free(n);
    n->fifo = NULL;
    n->fcount = n->fcap = 0;
}

/* The blocking face reads a lone reply with one blocking recv() (bounded by
 * SO_RCVTIMEO = the command timeout) instead of epoll_wait + recv: every
 * other read and every write pass MSG_DONTWAIT, so the loop never blocks. */
static void set_blocking(clusterc__conn *n)
{
    const clusterc__conn_cfg *o = n->cfg;
    struct timeval tv = { o->command_timeout_ms / 1000, (o->command_timeout_ms % 1000) * 1000 };
    int fl = fcntl(n->fd, F_GETFL);
    if (fl < 0 || fcntl(n->fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
        setsockopt(n->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
        if (fl >= 0)
            (void)fcntl(n->fd, F_SETFL, fl | O_NONBLOCK);   /* loop-only then */
        return;
    }
    n->blocking = 1;
}

void clusterc__conn_up(clusterc__conn *n)
{
    struct event_base *base = n->base;
    if (n->tev)
        event_del(n->tev);
    event_free(n->wev);
    n->wev = event_new(base, n->fd, EV_WRITE, write_cb, n);
    n->rev = event_new(base, n->fd, EV_READ | EV_PERSIST, read_cb, n);
    if (!n->wev || !n->rev || event_add(n->rev, NULL) < 0) {
        char msg[320];
        snprintf(msg, sizeof(msg), "out of memory setting up the connection to %s", n->name);
        clusterc__conn_close(n, CLUSTERC_ENOMEM, msg);
        return;
    }
    n->state = CLUSTERC__CONN_UP;
    n->ops->connected(n->owner);
    if (n->cfg->blocking)
        set_blocking(n);
    clusterc__conn_flush(n);
}

/* READONLY is per connection: with read routing it is in every handshake
 * (so a primary demoted by a failover already has it); without, it is sent
 * once, just before the first read a caller forces onto a replica. */
static int queue_readonly(clusterc__conn *n)
{
    static const char cmd[] = "*1\r\n$8\r\nREADONLY\r\n";
    if (queue_cmd(n, NULL, FIFO_READONLY, cmd, sizeof(cmd) - 1) < 0)
        return -1;
    n->readonly_sent = 1;
    return 0;
}

/* The handshake rides ahead of the first commands in the same write. */
static int queue_handshake(clusterc__conn *n)
{
    const clusterc__conn_cfg *o = n->cfg;
    if (o->password) {
        const char *argv[3] = { "AUTH", o->username ? o->username : o->password,
                                o->password };
        int argc = o->username ? 3 : 2;
        if (!o->username)
            argv[1] = o->password;
        if (queue_fmt(n, FIFO_AUTH, argc, argv) < 0)
            return -1;
        /* Nothing else goes out before AUTH is accepted: pipelined behind a
         * refused AUTH, commands would run as the default user (on nopass
         * out of the box) while the caller is told "authentication failed".
         * That costs one round trip per new connection, only with a password. */
        n->auth_wait = 1;
        n->hold_at = n->out_total;
    }
    if (o->client_name) {
        const char *argv[3] = { "CLIENT", "SETNAME", o->client_name };
        if (queue_fmt(n, FIFO_SETNAME, 3, argv) < 0)
            return -1;
    }
    if (o->readonly && queue_readonly(n) < 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ send */

/* What goes before a command: the handshake and a connect when the
 * connection is down, READONLY, ASKING. The common send needs none of it. */
static int send_prelude(clusterc__conn *n, unsigned flags)
{
    static const char asking[] = "*1\r\n$6\r\nASKING\r\n";
    if (n->state == CLUSTERC__CONN_DOWN) {
        if ((!n->reader && !(n->reader = new_reader(n))) || queue_handshake(n) < 0)
            return -1;
        clusterc__conn_dial(n);   /* failures are reported from the loop */
    }
    if ((flags & CLUSTERC__CONN_READONLY) && !n->readonly_sent && queue_readonly(n) < 0)
        return -1;
    if ((flags & CLUSTERC__CONN_ASKING) &&
        queue_cmd(n, NULL, FIFO_ASKING, asking, sizeof(asking) - 1) < 0)
        return -1;
    return 0;
}

int clusterc__conn_send(clusterc__conn *n, void *tag, const char *cmd, size_t len,
                        unsigned flags, uint32_t *seq)
{
    /* ARENA and POOL only mark the FIFO entry: the common send (an async
     * GET asks for POOL) skips the prelude. */
    if ((n->state == CLUSTERC__CONN_DOWN ||
         (flags & (CLUSTERC__CONN_ASKING | CLUSTERC__CONN_READONLY))) &&
        send_prelude(n, flags) < 0)
        return -1;
    *seq = (uint32_t)(n->fseq + n->fcount);
    if (queue_cmd(n, tag, tag ? FIFO_USER : FIFO_SKIP, cmd, len) < 0)
        return -1;
    clusterc__fifo_ent *ent = ent_at(n, n->fcount - 1);
    ent->w |= ((flags & CLUSTERC__CONN_ARENA) ? ENT_ARENA : 0) |
              ((flags & CLUSTERC__CONN_POOL) ? ENT_POOL : 0);
    if (n->state == CLUSTERC__CONN_UP)
        n->ops->want_write(n->owner);
    return 0;
}

int clusterc__conn_send_raw(clusterc__conn *n, const char *cmd, size_t len)
{
    if (n->state == CLUSTERC__CONN_DOWN && send_prelude(n, 0) < 0)
        return -1;
    if (obuf_append(n, cmd, len) < 0)
        return -1;
    if (n->state == CLUSTERC__CONN_UP)
        n->ops->want_write(n->owner);
    return 0;
}

/* A TLS connection ended: the message, and its code. A server that drops
 * the connection right after the handshake, before any reply, refused
 * this client (TLS 1.3 checks a client certificate only then): ETLS, with
 * what to look at. */
static int tls_lost(clusterc__conn *n, const char *how, const char *why, int tls_err,
                    char *msg, size_t cap)
{
    const char *hint = !tls_err && !n->got_bytes ? clusterc__tls_refusal_hint(n->cfg->tls) : "";
    snprintf(msg, cap, "connection to %s lost%s: TLS: %s%s", n->name, how, why, hint);
    return tls_err || hint[0] ? CLUSTERC_ETLS : CLUSTERC_EIO;
}

/* send() or SSL_write(): bytes written, 0 when the socket is full, -1
 * with msg and *code set when the connection is lost. */
static ssize_t conn_write(clusterc__conn *n, char *msg, size_t cap, int *code)
{
    const char *p = n->obuf + n->opos;
    size_t len = n->olen - n->opos;
    if (n->auth_wait && len > n->hold_at - n->out_written)
        len = (size_t)(n->hold_at - n->out_written);
    if (n->ssl) {
        char why[200];
        int tls_err = 0;
        ssize_t w = clusterc__tls_write(n->ssl, p, len, why, sizeof(why), &tls_err);
        if (w < 0)
            *code = tls_lost(n, " while writing", why, tls_err, msg, cap);
        return w;
    }
    for (;;) {
        /* MSG_NOSIGNAL: a peer that went away is an error to handle, not a
         * SIGPIPE that kills the caller's process. MSG_DONTWAIT: the
         * blocking face's sockets are in blocking mode (see clusterc__conn_up). */
        ssize_t w = send(n->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0)
            return w;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        int mute = (errno == ECONNRESET || errno == EPIPE) && !n->got_bytes && !n->cfg->tls;
        snprintf(msg, cap, "connection to %s lost while writing: %s%s", n->name, strerror(errno),
                 mute ? " before any reply (a TLS port? set tls, or use rediss://)" : "");
        *code = CLUSTERC_EIO;
        return -1;
    }
}

void clusterc__conn_flush(clusterc__conn *n)
{
    while (n->state == CLUSTERC__CONN_UP && n->opos < n->olen) {
        char msg[320];
        if (n->auth_wait && n->out_written >= n->hold_at)
            return;   /* the rest after AUTH's +OK (handshake_reply) */
        int code = 0;
        ssize_t w = conn_write(n, msg, sizeof(msg), &code);
        if (w > 0) {
            n->opos += (size_t)w;
            n->out_written += (uint64_t)w;
        } else if (w == 0) {
            event_add(n->wev, NULL);   /* the rest when the socket drains */
            return;
        } else {
            clusterc__conn_close(n, code, msg);
            return;
        }
    }
    if (n->opos == n->olen) {
        n->opos = n->olen = 0;
        if (n->ocap > OBUF_KEEP)
            obuf_free(n);
    }
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__conn *n = arg;
    void *owner = n->owner;
    const clusterc__conn_ops *ops = n->ops;
    (void)fd; (void)what;
    ops->enter(owner);
    clusterc__conn_flush(n);
    ops->leave(owner);
}

/* ----------------------------------------------------------------- read */

static void handshake_reply(clusterc__conn *n, uint8_t kind, redisReply *reply)
{
    int refused = reply->type == REDIS_REPLY_ERROR;
    if (kind == FIFO_AUTH && refused) {
        char msg[256];
        snprintf(msg, sizeof(msg), "authentication failed on %s: %s", n->name, reply->str);
        freeReplyObject(reply);
        clusterc__conn_close(n, CLUSTERC_EAUTH, msg);
        return;
    }
    if (kind == FIFO_AUTH) {   /* accepted: what waited behind it may go */
        n->auth_wait = 0;
        n->held_end = n->fseq + n->fcount;
        if (clusterc__conn_unwritten(n))
            n->ops->want_write(n->owner);
    }
    /* A replica that refused READONLY answers reads with MOVED to its
     * primary: the owner keeps reads off it (readonly_refused). */
    if (kind == FIFO_READONLY)
        n->readonly_refused = (uint8_t)refused;
    /* SETNAME / READONLY / ASKING errors are not fatal: the command that
     * follows gets its own (more telling) reply. */
    freeReplyObject(reply);
}

/* Returns 0 to keep reading, -1 when the connection was closed meanwhile
 * or the owner wants no more replies now. */
static int dispatch_reply(clusterc__conn *n, redisReply *reply)
{
    if (n->push && (n->fcount == 0 || ENT_KIND(ent_at(n, 0)) == FIFO_USER ||
                    ENT_KIND(ent_at(n, 0)) == FIFO_SKIP)) {
        /* A subscriber's pushes and confirmations: no FIFO past the handshake. */
        if (n->ops->reply(n->owner, NULL, reply) < 0)
            return -1;
        return n->state == CLUSTERC__CONN_UP ? 0 : -1;
    }
    if (n->fcount == 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "protocol error: %s sent a reply nobody asked for", n->name);
        freeReplyObject(reply);
        clusterc__conn_close(n, CLUSTERC_EPROTOCOL, msg);
        return -1;
    }
    clusterc__fifo_ent ent = fifo_pop(n);
    switch (ENT_KIND(&ent)) {
    case FIFO_USER:
        if (n->ops->reply(n->owner, ent.tag, reply) < 0)
            return -1;
        break;
    case FIFO_AUTH:
    case FIFO_SETNAME:
    case FIFO_READONLY:
        handshake_reply(n, (uint8_t)ENT_KIND(&ent), reply);
        break;
    default:   /* untagged or orphaned: maybe an arena reply */
        clusterc__reply_free(reply);
    }
    return n->state == CLUSTERC__CONN_UP ? 0 : -1;
}

/* The reader refused the stream. A TLS record (type byte 0x15, an alert,
 * or 0x16, a handshake) where a reply should be means a TLS port. */
static void protocol_error(clusterc__conn *n)
{
    char msg[300];
    const char *e = n->reader->errstr;
    if (n->reader->err == REDIS_ERR_OOM) {   /* ours, not the server's */
        snprintf(msg, sizeof(msg), "out of memory reading a reply from %s", n->name);
        clusterc__conn_close(n, CLUSTERC_ENOMEM, msg);
        return;
    }
    int tls_bytes = !n->ssl && (strstr(e, "\\x15") || strstr(e, "\\x16"));
    snprintf(msg, sizeof(msg), "protocol error from %s: %s%s", n->name, e,
             tls_bytes ? " (the server answered in TLS: set tls, or use rediss://)" : "");
    clusterc__conn_close(n, tls_bytes ? CLUSTERC_ETLS : CLUSTERC_EPROTOCOL, msg);
}

/* How the next reply is built: as the command at the head of the FIFO
 * asked (an arena, the reply pool), else by the reader's own functions
 * (handshake replies, which conn.c frees with freeReplyObject, included). */
static redisReplyObjectFunctions *reply_fns(const clusterc__conn *n)
{
    if (!n->fcount)
        return n->actx.plain;
    const clusterc__fifo_ent *head = &n->fifo[n->fhead];
    if (head->w & ENT_ARENA)
        return &clusterc__arena_fns;
    return (head->w & ENT_POOL) && n->actx.pool ? &clusterc__pool_fns : n->actx.plain;
}

/* Hand out every complete reply the reader holds; then, if the stream
 * ended (lost[0] set), close. Runs inside enter/leave. */
static void process(clusterc__conn *n, char *lost)
{
    for (;;) {
        void *reply = NULL;
        /* Between replies (ridx -1), the next one is built the way the
         * command at the head of the FIFO asked for; a reply half read
         * keeps the functions it began with, whatever happens to its
         * entry meanwhile (orphaned), so a tree is never of two kinds. */
        if (n->reader->ridx == -1)
            n->reader->fn = reply_fns(n);
        if (redisReaderGetReply(n->reader, &reply) != REDIS_OK) {
            protocol_error(n);
            return;
        }
        if (!reply)
            break;
        if (dispatch_reply(n, reply) < 0)
            return;   /* closed, or the owner is going away */
    }
    if (lost[0] && n->state == CLUSTERC__CONN_UP)
        clusterc__conn_close(n, n->lost_code ? n->lost_code : CLUSTERC_EIO, lost);
}

/* recv(), or recvmsg() with the kernel's arrival time of the data when the
 * owner is probing the connection (c->stamp): a PONG's round trip is then measured to when it
 * reached the host, not to when this client got round to reading it (a
 * blocking client between commands, a busy callback). */
static ssize_t recv_stamped(clusterc__conn *n, char *buf, size_t len, int flags)
{
    if (!n->stamp)
        return recv(n->fd, buf, len, flags);
    char ctl[CMSG_SPACE(sizeof(struct timespec))];
    struct iovec iov = { buf, len };
    struct msghdr mh;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl;
    mh.msg_controllen = sizeof(ctl);
    ssize_t r = recvmsg(n->fd, &mh, flags);
    for (struct cmsghdr *c = r > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
#ifdef SCM_TIMESTAMPNS
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(c), sizeof(ts));
            n->rx_stamp_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        }
#endif
    }
    return r;
}

/* The socket under a TLS session (clusterc__tls_io): the same recv, with
 * the arrival time for probes, and send without SIGPIPE. */
ssize_t clusterc__conn_io_recv(void *arg, char *buf, size_t len)
{
    clusterc__conn *n = arg;
    return recv_stamped(n, buf, len, n->tls_wait ? 0 : MSG_DONTWAIT);
}

ssize_t clusterc__conn_io_send(void *arg, const char *buf, size_t len)
{
    const clusterc__conn *n = arg;
    return send(n->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* One recv into the reader. Returns 1 when bytes came (2: the buffer
 * filled, more may be waiting), 0 when none were waiting (EAGAIN, or a
 * blocking read's timeout), -1 when the stream ended (lost says how). */
/* flags 0: the blocking face's wait (clusterc__conn_read_blocking): the
 * socket reads under SSL_read block, bounded by SO_RCVTIMEO. */
static int read_tls(clusterc__conn *n, char *buf, int flags, char *lost, size_t lostcap)
{
    char why[200];
    int tls_err = 0;
    n->tls_wait = flags == 0;
    ssize_t r = clusterc__tls_read(n->ssl, buf, READ_CHUNK, why, sizeof(why), &tls_err);
    n->tls_wait = 0;
    if (r > 0) {
        redisReaderFeed(n->reader, buf, (size_t)r);
        n->got_bytes = 1;
        return r == READ_CHUNK || clusterc__tls_pending(n->ssl) ? 2 : 1;
    }
    if (r == 0)
        return 0;
    n->lost_code = tls_lost(n, "", why, tls_err, lost, lostcap);
    return -1;
}

/* One recv into the reader. Returns 1 when bytes came (2: the buffer
 * filled, more may be waiting), 0 when none were waiting (EAGAIN, or a
 * blocking read's timeout), -1 when the stream ended (lost says how). */
static int read_once(clusterc__conn *n, int flags, char *lost, size_t lostcap)
{
    char buf[READ_CHUNK];
    if (n->ssl)
        return read_tls(n, buf, flags, lost, lostcap);
    for (;;) {
        ssize_t r = recv_stamped(n, buf, sizeof(buf), flags);
        if (r > 0) {
            redisReaderFeed(n->reader, buf, (size_t)r);
            n->got_bytes = 1;
            return r == (ssize_t)sizeof(buf) ? 2 : 1;   /* 2: more may be waiting */
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        /* A TLS-only port drops (or resets) a plain-text client without a
         * word: say so when nothing ever came back. */
        int mute = (r == 0 || errno == ECONNRESET) && !n->got_bytes && !n->cfg->tls;
        snprintf(lost, lostcap, "connection to %s lost: %s%s", n->name,
                 r == 0 ? "closed by the server" : strerror(errno),
                 mute ? " before any reply (a TLS port? set tls, or use rediss://)" : "");
        n->lost_code = CLUSTERC_EIO;
        return -1;
    }
}

/* Read what is there (one recv() in the common case), then hand out every
 * complete reply. A close that follows data is handled after the data. */
static void read_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__conn *n = arg;
    void *owner = n->owner;
    const clusterc__conn_ops *ops = n->ops;
    char lost[200] = "";
    (void)fd; (void)what;
    while (read_once(n, MSG_DONTWAIT, lost, sizeof(lost)) == 2)
        ;
    ops->enter(owner);
    process(n, lost);
    ops->leave(owner);
}

int clusterc__conn_read_blocking(clusterc__conn *n)
{
    void *owner = n->owner;
    const clusterc__conn_ops *ops = n->ops;
    char lost[200] = "";
    int got;
    if (n->state != CLUSTERC__CONN_UP)
        return -1;
    /* Blocks until the reply (or SO_RCVTIMEO, the command timeout). */
    got = read_once(n, 0, lost, sizeof(lost));
    if (got == 0)
        return -1;
    while (got == 2)
        got = read_once(n, MSG_DONTWAIT, lost, sizeof(lost));
    ops->enter(owner);
    process(n, lost);
    ops->leave(owner);
    return 0;
}
