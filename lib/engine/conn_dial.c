/* conn_dial.c -- opening a connection: DNS, TCP connect, TLS handshake,
 * all under one deadline (connect_timeout_ms), failures in words.
 *
 * Nothing here blocks: each step waits for its socket event, and every
 * failure is reported from the loop (never from inside the caller's
 * submit). Once open, conn.c takes over (clusterc__conn_up).
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <event2/event.h>
#include <event2/util.h>
#include "clusterc/clusterc.h"
#include "conn.h"
#include "conn_int.h"

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

/* ------------------------------------------------------------ TLS */

static void handshake_cb(evutil_socket_t fd, short what, void *arg);

/* One step of the handshake: done, failed, or wait for the socket. It runs
 * under the connect deadline (n->tev), like the TCP connect before it. */
static void handshake_step(clusterc__conn *n)
{
    char why[256], msg[400];
    int want_write = 0;
    int rc = clusterc__tls_handshake(n->ssl, &want_write, why, sizeof(why));
    if (rc == 1) {
        clusterc__conn_up(n);
        return;
    }
    if (rc < 0) {
        snprintf(msg, sizeof(msg), "TLS handshake with %s failed: %s", n->name, why);
        clusterc__conn_close(n, CLUSTERC_ETLS, msg);
        return;
    }
    event_free(n->wev);
    n->wev = event_new(n->base, n->fd, want_write ? EV_WRITE : EV_READ, handshake_cb, n);
    if (!n->wev || event_add(n->wev, NULL) < 0) {
        snprintf(msg, sizeof(msg), "out of memory in the TLS handshake with %s", n->name);
        clusterc__conn_close(n, CLUSTERC_ENOMEM, msg);
    }
}

static void handshake_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__conn *n = arg;
    void *owner = n->owner;
    const clusterc__conn_ops *ops = n->ops;
    (void)fd; (void)what;
    ops->enter(owner);
    handshake_step(n);
    ops->leave(owner);
}

static void start_tls(clusterc__conn *n)
{
    n->tio.recv = clusterc__conn_io_recv;
    n->tio.send = clusterc__conn_io_send;
    n->tio.arg = n;
    n->ssl = clusterc__tls_session(n->cfg->tls, &n->tio, n->addr.host);
    if (!n->ssl) {
        char msg[320];
        snprintf(msg, sizeof(msg), "out of memory starting TLS with %s", n->name);
        clusterc__conn_close(n, CLUSTERC_ENOMEM, msg);
        return;
    }
    handshake_step(n);
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
    else if (n->cfg->tls)
        start_tls(n);
    else
        clusterc__conn_up(n);
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
    } else if (n->ssl) {
        /* A plain-text server reads the ClientHello as a command that
         * never ends: it waits, as we do. */
        char msg[300];
        snprintf(msg, sizeof(msg), "cannot connect to %s: TLS handshake got no answer within "
                 "%d ms (a plain-text port, which takes the handshake for an unfinished "
                 "command? or a server that stopped answering)",
                 n->name, n->cfg->connect_timeout_ms);
        clusterc__conn_close(n, CLUSTERC_ECONNECT, msg);
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

clusterc__dial_fn *clusterc__dial_override;

/* The seam's socket stands for a connect that completed (or failed). */
static void dial_given(clusterc__conn *n)
{
    int fd = clusterc__dial_override(n->addr.host, n->addr.port);
    if (fd < 0) {
        defer_fail(n, "connect", errno);
        return;
    }
    n->fd = fd;
    n->state = CLUSTERC__CONN_CONNECTING;
    n->wev = event_new(n->base, fd, EV_WRITE, connect_cb, n);
    if (!n->wev)
        defer_fail(n, "out of memory", 0);
    else
        event_add(n->wev, NULL);
}

/* Numeric addresses connect at once; names go through libevent's resolver. */
void clusterc__conn_dial(clusterc__conn *n)
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
    if (clusterc__dial_override) {
        dial_given(n);
        return;
    }
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
