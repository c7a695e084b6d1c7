/* conn.c -- node connections: connect, handshake, batched writes, replies.
 *
 * All socket and libevent I/O of the library lives here. The engine decides
 * what to send where; this file only moves bytes and matches replies to the
 * FIFO of what was sent.
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
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include "conn.h"

#define READ_CHUNK 16384
#if !defined(SCM_TIMESTAMPNS) && defined(SO_TIMESTAMPNS)
#define SCM_TIMESTAMPNS SO_TIMESTAMPNS   /* the same value on Linux */
#endif

static void read_cb(evutil_socket_t fd, short what, void *arg);
static void write_cb(evutil_socket_t fd, short what, void *arg);

/* ------------------------------------------------------------ the FIFO */

static int fifo_push(clusterc__node *n, clusterc__req *r, uint8_t kind, uint64_t start)
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
    ent->req = r;
    ent->kind = kind;
    ent->start = start;
    n->fcount++;
    return 0;
}

static clusterc__fifo_ent fifo_pop(clusterc__node *n)
{
    clusterc__fifo_ent ent = n->fifo[n->fhead];
    n->fhead = (n->fhead + 1) % n->fcap;
    n->fcount--;
    n->fseq++;
    return ent;
}

void clusterc__node_orphan(clusterc__node *n, uint64_t seq)
{
    if (seq < n->fseq || seq >= n->fseq + n->fcount)
        return;
    clusterc__fifo_ent *ent = &n->fifo[(n->fhead + (seq - n->fseq)) % n->fcap];
    ent->kind = CLUSTERC__FIFO_SKIP;
    ent->req = NULL;
}

/* ------------------------------------------------------- output buffer */

static int obuf_append(clusterc__node *n, const char *p, size_t len)
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
static int queue_cmd(clusterc__node *n, clusterc__req *r, uint8_t kind,
                     const char *cmd, size_t len)
{
    uint64_t start = n->out_total;
    if (fifo_push(n, r, kind, start) < 0)
        return -1;
    if (obuf_append(n, cmd, len) < 0) {
        n->fcount--;
        return -1;
    }
    return 0;
}

static int queue_fmt(clusterc__node *n, uint8_t kind, int argc, const char **argv)
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

clusterc__node *clusterc__node_new(clusterc__engine *e, const clusterc__addr *a)
{
    clusterc__node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->e = e;
    n->addr = *a;
    clusterc__addr_format(n->name, sizeof(n->name), a->host, a->port);
    n->fd = -1;
    n->shard = -1;
    n->announced = *a;
    n->repl_offset = -1;
    n->health = CLUSTERC__HEALTH_UNKNOWN;
    n->reader = redisReaderCreate();
    if (!n->reader) {
        free(n);
        return NULL;
    }
    return n;
}

/* Tear down the socket side; the FIFO is left to the caller. */
static void conn_reset(clusterc__node *n)
{
    if (n->dns) {
        evdns_getaddrinfo_cancel(n->dns);
        n->dns = NULL;
    }
    if (n->rev) event_free(n->rev);
    if (n->wev) event_free(n->wev);
    if (n->tev) event_free(n->tev);
    n->rev = n->wev = n->tev = NULL;
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
    n->state = CLUSTERC__NODE_DOWN;
    n->conn_errno = 0;
    n->olen = n->opos = 0;
    n->out_total = n->out_written = 0;
    n->readonly_sent = 0;
    n->blocking = 0;
    /* A reader may hold half a reply from the lost stream: start afresh. */
    redisReaderFree(n->reader);
    n->reader = redisReaderCreate();
}

void clusterc__node_close(clusterc__node *n, int code, const char *msg)
{
    clusterc__engine *e = n->e;
    uint64_t written = n->out_written;
    snprintf(n->last_err, sizeof(n->last_err), "%s", msg);
    conn_reset(n);
    /* Hand every queued request back; the engine may queue some of them on
     * this very node again, so detach the FIFO first. */
    clusterc__fifo_ent *fifo = n->fifo;
    size_t head = n->fhead, count = n->fcount, cap = n->fcap;
    n->fifo = NULL;
    n->fhead = n->fcount = n->fcap = 0;
    n->fseq += count;
    for (size_t i = 0; i < count; i++) {
        clusterc__fifo_ent ent = fifo[(head + i) % cap];
        if (ent.kind != CLUSTERC__FIFO_USER || !ent.req)
            continue;
        ent.req->node = NULL;
        if (!clusterc__engine_dead(e))
            clusterc__engine_lost(e, n, ent.req, code, msg, ent.start < written);
    }
    free(fifo);
    clusterc__engine_node_failed(e, n);
}

void clusterc__node_free(clusterc__node *n)
{
    if (!n)
        return;
    conn_reset(n);
    redisReaderFree(n->reader);
    free(n->fifo);
    free(n->obuf);
    free(n);
}

/* --------------------------------------------------------------- connect */

static void fail_connect(clusterc__node *n, const char *what, int err)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "cannot connect to %s: %s%s%s", n->name, what,
             err ? ": " : "", err ? strerror(err) : "");
    clusterc__node_close(n, CLUSTERC_ECONNECT, msg);
}

static void set_sockopts(clusterc__node *n, int fd)
{
    int one = 1;
    const clusterc_options *o = clusterc__engine_opts(n->e);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
#ifdef SO_TIMESTAMPNS
    if (o->route_by_latency && o->latency_probe_ms > 0)   /* see recv_stamped */
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
static void set_blocking(clusterc__node *n)
{
    const clusterc_options *o = clusterc__engine_opts(n->e);
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

static void on_connected(clusterc__node *n)
{
    struct event_base *base = clusterc__engine_base(n->e);
    if (n->tev)
        event_del(n->tev);
    event_free(n->wev);
    n->wev = event_new(base, n->fd, EV_WRITE, write_cb, n);
    n->rev = event_new(base, n->fd, EV_READ | EV_PERSIST, read_cb, n);
    if (!n->wev || !n->rev || event_add(n->rev, NULL) < 0) {
        char msg[320];
        snprintf(msg, sizeof(msg), "out of memory setting up the connection to %s", n->name);
        clusterc__node_close(n, CLUSTERC_ENOMEM, msg);
        return;
    }
    n->state = CLUSTERC__NODE_UP;
    clusterc__engine_connected(n->e);
    if (clusterc__engine_blocking(n->e))
        set_blocking(n);
    clusterc__node_flush(n);
}

static void connect_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__node *n = arg;
    clusterc__engine *e = n->e;
    int err = n->conn_errno;
    socklen_t len = sizeof(err);
    (void)what;
    if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    clusterc__engine_enter(e);
    if (err)
        fail_connect(n, "connect", err);
    else
        on_connected(n);
    clusterc__engine_leave(e);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__node *n = arg;
    clusterc__engine *e = n->e;
    char what_s[64];
    (void)fd; (void)what;
    snprintf(what_s, sizeof(what_s), "no answer within %d ms",
             clusterc__engine_opts(n->e)->connect_timeout_ms);
    clusterc__engine_enter(e);
    if (n->last_err[0] && n->state == CLUSTERC__NODE_RESOLVING) {
        /* A copy: node_close writes its message into n->last_err. */
        char why[sizeof(n->last_err)];
        snprintf(why, sizeof(why), "%s", n->last_err);
        clusterc__node_close(n, CLUSTERC_ECONNECT, why);   /* deferred failure */
    } else
        fail_connect(n, what_s, 0);
    clusterc__engine_leave(e);
}

/* A connection attempt that failed before any I/O (socket(), no memory)
 * while the caller is still submitting: report it from the loop through
 * the connect timer, as a failed DNS lookup is, so the request just queued
 * fails at once with the real reason instead of waiting for its deadline. */
static void defer_fail(clusterc__node *n, const char *what, int err)
{
    if (!n->tev) {
        fail_connect(n, what, err);
        return;
    }
    snprintf(n->last_err, sizeof(n->last_err), "cannot connect to %s: %s%s%s", n->name, what,
             err ? ": " : "", err ? strerror(err) : "");
    n->state = CLUSTERC__NODE_RESOLVING;   /* deadline_cb reports last_err */
    event_active(n->tev, EV_TIMEOUT, 0);
}

static void connect_addr(clusterc__node *n, const struct sockaddr *sa, socklen_t salen)
{
    struct event_base *base = clusterc__engine_base(n->e);
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        defer_fail(n, "socket", errno);
        return;
    }
    set_sockopts(n, fd);
    n->fd = fd;
    n->state = CLUSTERC__NODE_CONNECTING;
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
    clusterc__node *n = arg;
    clusterc__engine *e = n->e;
    n->dns = NULL;
    if (result == EVUTIL_EAI_CANCEL)
        return;
    clusterc__engine_enter(e);
    if (result != 0 || !res) {
        snprintf(n->last_err, sizeof(n->last_err), "cannot resolve %s: %s", n->addr.host,
                 evutil_gai_strerror(result));
        if (n->tev)   /* report from the loop: we may be inside node_send */
            event_active(n->tev, EV_TIMEOUT, 0);
    } else {
        connect_addr(n, res->ai_addr, (socklen_t)res->ai_addrlen);
    }
    if (res)
        evutil_freeaddrinfo(res);
    clusterc__engine_leave(e);
}

/* Numeric addresses connect at once; names go through libevent's resolver. */
static void start_connect(clusterc__node *n)
{
    struct sockaddr_storage ss;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    const clusterc_options *o = clusterc__engine_opts(n->e);
    struct timeval tv = { o->connect_timeout_ms / 1000, (o->connect_timeout_ms % 1000) * 1000 };

    n->tev = evtimer_new(clusterc__engine_base(n->e), deadline_cb, n);
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
        struct evutil_addrinfo hints;
        char port[8];
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        snprintf(port, sizeof(port), "%d", n->addr.port);
        n->state = CLUSTERC__NODE_RESOLVING;
        n->last_err[0] = '\0';
        n->dns = evdns_getaddrinfo(clusterc__engine_dns(n->e), n->addr.host, port,
                                   &hints, dns_cb, n);
    }
}

/* READONLY is per connection: with read routing it is in every handshake
 * (so a primary demoted by a failover already has it); without, it is sent
 * once, just before the first read a caller forces onto a replica. */
static int queue_readonly(clusterc__node *n)
{
    static const char cmd[] = "*1\r\n$8\r\nREADONLY\r\n";
    if (queue_cmd(n, NULL, CLUSTERC__FIFO_READONLY, cmd, sizeof(cmd) - 1) < 0)
        return -1;
    n->readonly_sent = 1;
    return 0;
}

/* The handshake rides ahead of the first commands in the same write. */
static int queue_handshake(clusterc__node *n)
{
    const clusterc_options *o = clusterc__engine_opts(n->e);
    if (o->password) {
        const char *argv[3] = { "AUTH", o->username ? o->username : o->password,
                                o->password };
        int argc = o->username ? 3 : 2;
        if (!o->username)
            argv[1] = o->password;
        if (queue_fmt(n, CLUSTERC__FIFO_AUTH, argc, argv) < 0)
            return -1;
    }
    if (o->client_name) {
        const char *argv[3] = { "CLIENT", "SETNAME", o->client_name };
        if (queue_fmt(n, CLUSTERC__FIFO_SETNAME, 3, argv) < 0)
            return -1;
    }
    if (clusterc__engine_readonly_conns(n->e) && queue_readonly(n) < 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ send */

int clusterc__node_send(clusterc__node *n, clusterc__req *r)
{
    static const char asking[] = "*1\r\n$6\r\nASKING\r\n";
    if (n->state == CLUSTERC__NODE_DOWN) {
        if (queue_handshake(n) < 0)
            return -1;
        start_connect(n);   /* failures are reported from the loop */
    }
    if (!n->readonly_sent && n->role == CLUSTERC__ROLE_REPLICA &&
        (r->flags & CLUSTERC__CMD_READONLY) && !r->internal && queue_readonly(n) < 0)
        return -1;
    if (r->asking && queue_cmd(n, NULL, CLUSTERC__FIFO_ASKING, asking, sizeof(asking) - 1) < 0)
        return -1;
    r->seq = n->fseq + n->fcount;
    if (queue_cmd(n, r, CLUSTERC__FIFO_USER, r->cmd, r->len) < 0)
        return -1;
    r->node = n;
    if (n->state == CLUSTERC__NODE_UP)
        clusterc__engine_mark_dirty(n->e, n);
    return 0;
}

int clusterc__node_send_skip(clusterc__node *n, const char *cmd, size_t len)
{
    if (n->state == CLUSTERC__NODE_DOWN) {
        if (queue_handshake(n) < 0)
            return -1;
        start_connect(n);
    }
    if (queue_cmd(n, NULL, CLUSTERC__FIFO_SKIP, cmd, len) < 0)
        return -1;
    if (n->state == CLUSTERC__NODE_UP)
        clusterc__engine_mark_dirty(n->e, n);
    return 0;
}

void clusterc__node_flush(clusterc__node *n)
{
    while (n->state == CLUSTERC__NODE_UP && n->opos < n->olen) {
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
            clusterc__node_close(n, CLUSTERC_EIO, msg);
            return;
        }
    }
    if (n->opos == n->olen)
        n->opos = n->olen = 0;
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__node *n = arg;
    clusterc__engine *e = n->e;
    (void)fd; (void)what;
    clusterc__engine_enter(e);
    clusterc__node_flush(n);
    clusterc__engine_leave(e);
}

/* ----------------------------------------------------------------- read */

static void handshake_reply(clusterc__node *n, uint8_t kind, redisReply *reply)
{
    if (kind == CLUSTERC__FIFO_AUTH && reply->type == REDIS_REPLY_ERROR) {
        char msg[256];
        snprintf(msg, sizeof(msg), "authentication failed on %s: %s", n->name, reply->str);
        freeReplyObject(reply);
        clusterc__node_close(n, CLUSTERC_EAUTH, msg);
        return;
    }
    /* SETNAME / READONLY / ASKING errors are not fatal: the command that
     * follows gets its own (more telling) reply. */
    freeReplyObject(reply);
}

/* Returns 0 to keep reading, -1 when the node was closed meanwhile. */
static int dispatch_reply(clusterc__node *n, redisReply *reply)
{
    if (n->fcount == 0) {
        char msg[200];
        snprintf(msg, sizeof(msg), "protocol error: %s sent a reply nobody asked for", n->name);
        freeReplyObject(reply);
        clusterc__node_close(n, CLUSTERC_EPROTOCOL, msg);
        return -1;
    }
    clusterc__fifo_ent ent = fifo_pop(n);
    switch (ent.kind) {
    case CLUSTERC__FIFO_USER:
        ent.req->node = NULL;
        clusterc__engine_on_reply(n->e, n, ent.req, reply);
        break;
    case CLUSTERC__FIFO_AUTH:
    case CLUSTERC__FIFO_SETNAME:
    case CLUSTERC__FIFO_READONLY:
        handshake_reply(n, ent.kind, reply);
        break;
    default:
        freeReplyObject(reply);
    }
    return n->state == CLUSTERC__NODE_UP ? 0 : -1;
}

/* Hand out every complete reply the reader holds; then, if the stream
 * ended (lost[0] set), close. Runs inside enter/leave. */
static void process(clusterc__node *n, char *lost)
{
    clusterc__engine *e = n->e;
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(n->reader, &reply) != REDIS_OK) {
            char msg[200];
            snprintf(msg, sizeof(msg), "protocol error from %s: %s", n->name,
                     n->reader->errstr);
            clusterc__node_close(n, CLUSTERC_EPROTOCOL, msg);
            return;
        }
        if (!reply)
            break;
        if (dispatch_reply(n, reply) < 0 || clusterc__engine_dead(e))
            return;   /* closed or dying already */
    }
    if (lost[0] && n->state == CLUSTERC__NODE_UP)
        clusterc__node_close(n, CLUSTERC_EIO, lost);
}

/* One recv into the reader. Returns 1 when bytes came, 0 when none were
 * waiting (EAGAIN, or a blocking read's timeout), -1 when the stream ended
 * (lost says how). */
/* recv(), or recvmsg() with the kernel's arrival time of the data when the
 * node is being probed: a PONG's round trip is then measured to when it
 * reached the host, not to when this client got round to reading it (a
 * blocking client between commands, a busy callback). */
static ssize_t recv_stamped(clusterc__node *n, char *buf, size_t len, int flags)
{
    if (!n->probe_busy)
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

static int read_once(clusterc__node *n, int flags, char *lost, size_t lostcap)
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
    clusterc__node *n = arg;
    clusterc__engine *e = n->e;
    char lost[200] = "";
    (void)fd; (void)what;
    while (read_once(n, MSG_DONTWAIT, lost, sizeof(lost)) == 2)
        ;
    clusterc__engine_enter(e);
    process(n, lost);
    clusterc__engine_leave(e);
}

int clusterc__node_read_blocking(clusterc__node *n)
{
    clusterc__engine *e = n->e;
    char lost[200] = "";
    int got;
    if (n->state != CLUSTERC__NODE_UP)
        return -1;
    /* Blocks until the reply (or SO_RCVTIMEO, the command timeout). */
    got = read_once(n, 0, lost, sizeof(lost));
    if (got == 0)
        return -1;
    while (got == 2)
        got = read_once(n, MSG_DONTWAIT, lost, sizeof(lost));
    clusterc__engine_enter(e);
    process(n, lost);
    clusterc__engine_leave(e);
    return 0;
}
