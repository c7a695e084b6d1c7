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

#define READ_CHUNK 16384
#if !defined(SCM_TIMESTAMPNS) && defined(SO_TIMESTAMPNS)
#define SCM_TIMESTAMPNS SO_TIMESTAMPNS   /* the same value on Linux */
#endif

static void read_cb(evutil_socket_t fd, short what, void *arg);
static void write_cb(evutil_socket_t fd, short what, void *arg);

enum fifo_kind {
    FIFO_USER = 0,   /* a tagged command: its reply goes to ops->reply */
    FIFO_SKIP,       /* reply is dropped (untagged, or orphaned) */
    FIFO_ASKING,     /* +OK of ASKING */
    FIFO_AUTH,       /* handshake: an error fails the connection */
    FIFO_SETNAME,
    FIFO_READONLY
};

/* ------------------------------------------------------------ the FIFO */

static int fifo_push(clusterc__conn *n, void *tag, uint8_t kind, uint64_t start)
{
    if (n->fcount == n->fcap) {
        size_t cap = n->fcap ? n->fcap * 2 : 16;
        clusterc__fifo_ent *f = malloc(cap * sizeof(*f));
        if (!f)
            return -1;
        for (size_t i = 0; i < n->fcount; i++)
            f[i] = n->fifo[(n->fhead + i) % n->fcap];
        free(n->fifo);
        n->fifo = f;
        n->fcap = cap;
        n->fhead = 0;
    }
    clusterc__fifo_ent *ent = &n->fifo[(n->fhead + n->fcount) % n->fcap];
    ent->tag = tag;
    ent->kind = kind;
    ent->start = start;
    n->fcount++;
    return 0;
}

static clusterc__fifo_ent fifo_pop(clusterc__conn *n)
{
    clusterc__fifo_ent ent = n->fifo[n->fhead];
    n->fhead = (n->fhead + 1) % n->fcap;
    n->fcount--;
    n->fseq++;
    return ent;
}

void clusterc__conn_orphan(clusterc__conn *n, uint64_t seq)
{
    if (seq < n->fseq || seq >= n->fseq + n->fcount)
        return;
    clusterc__fifo_ent *ent = &n->fifo[(n->fhead + (seq - n->fseq)) % n->fcap];
    ent->kind = FIFO_SKIP;
    ent->tag = NULL;
}

int clusterc__conn_sent(const clusterc__conn *n, uint64_t seq)
{
    if (seq < n->fseq || seq >= n->fseq + n->fcount)
        return 0;
    return n->fifo[(n->fhead + (seq - n->fseq)) % n->fcap].start < n->out_written;
}

void clusterc__conn_each_tag(const clusterc__conn *n, void (*fn)(void *tag, void *arg), void *arg)
{
    for (size_t i = 0; i < n->fcount; i++) {
        const clusterc__fifo_ent *ent = &n->fifo[(n->fhead + i) % n->fcap];
        if (ent->kind == FIFO_USER && ent->tag)
            fn(ent->tag, arg);
    }
}

int clusterc__conn_has_tags(const clusterc__conn *n)
{
    for (size_t i = 0; i < n->fcount; i++) {
        const clusterc__fifo_ent *ent = &n->fifo[(n->fhead + i) % n->fcap];
        if (ent->kind == FIFO_USER && ent->tag)
            return 1;
    }
    return 0;
}

int clusterc__conn_take(clusterc__conn *n, void **tag)
{
    if (n->fcount == 0)
        return 0;
    clusterc__fifo_ent ent = fifo_pop(n);
    *tag = ent.kind == FIFO_USER ? ent.tag : NULL;
    return 1;
}

/* ------------------------------------------------------- output buffer */

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
            char *b = realloc(n->obuf, cap);
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
    int len = redisFormatCommandArgv(&cmd, argc, argv, NULL);
    if (len < 0)
        return -1;
    int rc = queue_cmd(n, NULL, kind, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return rc;
}

/* ------------------------------------------------------------ lifecycle */

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
    c->reader = redisReaderCreate();
    return c->reader ? 0 : -1;
}

/* Tear down the socket side; the FIFO is left to the caller. */
static void conn_reset(clusterc__conn *n)
{
    if (n->dns) {
        clusterc__dns_cancel(n->dns);
        n->dns = NULL;
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
    n->blocking = 0;
    /* A reader may hold half a reply from the lost stream: start afresh. */
    redisReaderFree(n->reader);
    n->reader = redisReaderCreate();
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
        clusterc__fifo_ent ent = fifo[(head + i) % cap];
        if (ent.kind == FIFO_USER && ent.tag)
            n->ops->lost(n->owner, ent.tag, code, msg, ent.start < written);
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
    free(n->obuf);
    n->fifo = NULL;
    n->obuf = NULL;
    n->fcount = n->fcap = n->ocap = 0;
}

/* --------------------------------------------------------------- connect */

static void fail_connect(clusterc__conn *n, const char *what, int err)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "cannot connect to %s: %s%s%s", n->name, what,
             err ? ": " : "", err ? strerror(err) : "");
    clusterc__conn_close(n, CLUSTERC_ECONNECT, msg);
}

static void set_sockopts(clusterc__conn *n, int fd)
{
    int one = 1;
    const clusterc__conn_cfg *o = n->cfg;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
#ifdef SO_TIMESTAMPNS
    if (o->timestamps)   /* see recv_stamped */
        (void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
#endif
    if (o->tcp_keepalive_s > 0) {
        int idle = o->tcp_keepalive_s, intvl = o->tcp_keepalive_s / 3 + 1, cnt = 3;
        (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
#ifdef TCP_KEEPIDLE
        (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
        (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
        (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
#else
        (void)idle; (void)intvl; (void)cnt;
#endif
    }
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

static void on_connected(clusterc__conn *n)
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

static void connect_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__conn *n = arg;
    void *owner = n->owner;
    const clusterc__conn_ops *ops = n->ops;
    int err = n->conn_errno;
    socklen_t len = sizeof(err);
    (void)what;
    if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    ops->enter(owner);
    if (err)
        fail_connect(n, "connect", err);
    else
        on_connected(n);
    ops->leave(owner);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__conn *n = arg;
    void *owner = n->owner;
    const clusterc__conn_ops *ops = n->ops;
    char what_s[64];
    (void)fd; (void)what;
    snprintf(what_s, sizeof(what_s), "no answer within %d ms", n->cfg->connect_timeout_ms);
    ops->enter(owner);
    if (n->last_err[0] && n->state == CLUSTERC__CONN_RESOLVING) {
        /* A copy: conn_close writes its message into n->last_err. */
        char why[sizeof(n->last_err)];
        snprintf(why, sizeof(why), "%s", n->last_err);
        clusterc__conn_close(n, CLUSTERC_ECONNECT, why);   /* deferred failure */
    } else if (n->state == CLUSTERC__CONN_RESOLVING) {
        /* The root cause is the lookup, not the connect that never began. */
        snprintf(what_s, sizeof(what_s), "DNS lookup of %.40s got no answer within %d ms",
                 n->addr.host, n->cfg->connect_timeout_ms);
        fail_connect(n, what_s, 0);
    } else
        fail_connect(n, what_s, 0);
    ops->leave(owner);
}

/* A connection attempt that failed before any I/O (socket(), no memory)
 * while the caller is still submitting: report it from the loop through
 * the connect timer, as a failed DNS lookup is, so the command just queued
 * fails at once with the real reason instead of waiting for its deadline. */
static void defer_fail(clusterc__conn *n, const char *what, int err)
{
    if (!n->tev) {
        fail_connect(n, what, err);
        return;
    }
    snprintf(n->last_err, sizeof(n->last_err), "cannot connect to %s: %s%s%s", n->name, what,
             err ? ": " : "", err ? strerror(err) : "");
    n->state = CLUSTERC__CONN_RESOLVING;   /* deadline_cb reports last_err */
    event_active(n->tev, EV_TIMEOUT, 0);
}

static void connect_addr(clusterc__conn *n, const struct sockaddr *sa, socklen_t salen)
{
    struct event_base *base = n->base;
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        defer_fail(n, "socket", errno);
        return;
    }
    set_sockopts(n, fd);
    n->fd = fd;
    n->state = CLUSTERC__CONN_CONNECTING;
    n->wev = event_new(base, fd, EV_WRITE, connect_cb, n);
    if (!n->wev) {
        defer_fail(n, "out of memory", 0);
        return;
    }
    if (connect(fd, sa, salen) < 0 && errno != EINPROGRESS) {
        /* Report from the loop, never from inside the caller's submit. */
        n->conn_errno = errno;
        event_active(n->wev, EV_WRITE, 0);
        return;
    }
    event_add(n->wev, NULL);
}

static void dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
    clusterc__conn *n = arg;
    void *owner = n->owner;
    const clusterc__conn_ops *ops = n->ops;
    n->dns = NULL;
    ops->enter(owner);
    if (result != 0 || !res) {
        snprintf(n->last_err, sizeof(n->last_err), "cannot connect to %s: DNS lookup of %s failed: %s",
                 n->name, n->addr.host, evutil_gai_strerror(result));
        if (n->tev)   /* report from the loop: we may be inside conn_send */
            event_active(n->tev, EV_TIMEOUT, 0);
    } else {
        connect_addr(n, res->ai_addr, (socklen_t)res->ai_addrlen);
    }
    if (res)
        evutil_freeaddrinfo(res);
    ops->leave(owner);
}

/* Numeric addresses connect at once; names go through libevent's resolver. */
static void start_connect(clusterc__conn *n)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    const clusterc__conn_cfg *o = n->cfg;
    struct timeval tv = { o->connect_timeout_ms / 1000, (o->connect_timeout_ms % 1000) * 1000 };

    n->dials++;
    n->tev = evtimer_new(n->base, deadline_cb, n);
    if (n->tev)
        evtimer_add(n->tev, &tv);
    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, n->addr.host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)n->addr.port);
        connect_addr(n, (struct sockaddr *)s4, sizeof(*s4));
    } else if (inet_pton(AF_INET6, n->addr.host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)n->addr.port);
        connect_addr(n, (struct sockaddr *)s6, sizeof(*s6));
    } else {
        clusterc__dns *d = n->ops->dns(n->owner);
        n->state = CLUSTERC__CONN_RESOLVING;
        n->last_err[0] = '\0';
        if (!d)
            defer_fail(n, "out of memory for the resolver", 0);
        else   /* NULL when dns_cb already ran (a hosts-file hit) */
            n->dns = clusterc__dns_resolve(d, n->addr.host, n->addr.port, dns_cb, n);
    }
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
        if (queue_handshake(n) < 0)
            return -1;
        start_connect(n);   /* failures are reported from the loop */
    }
    if ((flags & CLUSTERC__CONN_READONLY) && !n->readonly_sent && queue_readonly(n) < 0)
        return -1;
    if ((flags & CLUSTERC__CONN_ASKING) &&
        queue_cmd(n, NULL, FIFO_ASKING, asking, sizeof(asking) - 1) < 0)
        return -1;
    return 0;
}

int clusterc__conn_send(clusterc__conn *n, void *tag, const char *cmd, size_t len,
                        unsigned flags, uint64_t *seq)
{
    if ((n->state == CLUSTERC__CONN_DOWN || flags) && send_prelude(n, flags) < 0)
        return -1;
    *seq = n->fseq + n->fcount;
    if (queue_cmd(n, tag, tag ? FIFO_USER : FIFO_SKIP, cmd, len) < 0)
        return -1;
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

void clusterc__conn_flush(clusterc__conn *n)
{
    while (n->state == CLUSTERC__CONN_UP && n->opos < n->olen) {
        /* MSG_NOSIGNAL: a peer that went away is an error to handle, not a
         * SIGPIPE that kills the caller's process. MSG_DONTWAIT: the
         * blocking face's sockets are in blocking mode (see on_connected). */
        ssize_t w = send(n->fd, n->obuf + n->opos, n->olen - n->opos,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            n->opos += (size_t)w;
            n->out_written += (uint64_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            event_add(n->wev, NULL);   /* the rest when the socket drains */
            return;
        } else {
            char msg[200];
            snprintf(msg, sizeof(msg), "connection to %s lost while writing: %s",
                     n->name, strerror(errno));
            clusterc__conn_close(n, CLUSTERC_EIO, msg);
            return;
        }
    }
    if (n->opos == n->olen)
        n->opos = n->olen = 0;
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
    if (kind == FIFO_AUTH && reply->type == REDIS_REPLY_ERROR) {
        char msg[256];
        snprintf(msg, sizeof(msg), "authentication failed on %s: %s", n->name, reply->str);
        freeReplyObject(reply);
        clusterc__conn_close(n, CLUSTERC_EAUTH, msg);
        return;
    }
    /* SETNAME / READONLY / ASKING errors are not fatal: the command that
     * follows gets its own (more telling) reply. */
    freeReplyObject(reply);
}

/* Returns 0 to keep reading, -1 when the connection was closed meanwhile
 * or the owner wants no more replies now. */
static int dispatch_reply(clusterc__conn *n, redisReply *reply)
{
    if (n->push && (n->fcount == 0 || n->fifo[n->fhead].kind == FIFO_USER ||
                    n->fifo[n->fhead].kind == FIFO_SKIP)) {
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
    switch (ent.kind) {
    case FIFO_USER:
        if (n->ops->reply(n->owner, ent.tag, reply) < 0)
            return -1;
        break;
    case FIFO_AUTH:
    case FIFO_SETNAME:
    case FIFO_READONLY:
        handshake_reply(n, ent.kind, reply);
        break;
    default:
        freeReplyObject(reply);
    }
    return n->state == CLUSTERC__CONN_UP ? 0 : -1;
}

/* Hand out every complete reply the reader holds; then, if the stream
 * ended (lost[0] set), close. Runs inside enter/leave. */
static void process(clusterc__conn *n, char *lost)
{
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(n->reader, &reply) != REDIS_OK) {
            char msg[200];
            snprintf(msg, sizeof(msg), "protocol error from %s: %s", n->name,
                     n->reader->errstr);
            clusterc__conn_close(n, CLUSTERC_EPROTOCOL, msg);
            return;
        }
        if (!reply)
            break;
        if (dispatch_reply(n, reply) < 0)
            return;   /* closed, or the owner is going away */
    }
    if (lost[0] && n->state == CLUSTERC__CONN_UP)
        clusterc__conn_close(n, CLUSTERC_EIO, lost);
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

/* One recv into the reader. Returns 1 when bytes came (2: the buffer
 * filled, more may be waiting), 0 when none were waiting (EAGAIN, or a
 * blocking read's timeout), -1 when the stream ended (lost says how). */
static int read_once(clusterc__conn *n, int flags, char *lost, size_t lostcap)
{
    char buf[READ_CHUNK];
    for (;;) {
        ssize_t r = recv_stamped(n, buf, sizeof(buf), flags);
        if (r > 0) {
            redisReaderFeed(n->reader, buf, (size_t)r);
            return r == (ssize_t)sizeof(buf) ? 2 : 1;   /* 2: more may be waiting */
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        snprintf(lost, lostcap, "connection to %s lost: %s", n->name,
                 r == 0 ? "closed by the server" : strerror(errno));
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
