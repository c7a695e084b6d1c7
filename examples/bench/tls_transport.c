/* tls_transport.c -- the evidence for libclusterc's TLS transport: what a
 * pipelined GET costs the client over one TLS connection, through
 *   thin         SSL_read / SSL_write on the non-blocking socket, driven by
 *                plain libevent events, through a BIO of our own (recv /
 *                send), with our own output buffer: what lib/engine/tls.c
 *                and conn.c do;
 *   bufferevent  libevent's bufferevent_openssl_socket_new: its evbuffers
 *                in and out, bufferevent_write per command;
 *   bufferevent-batched  the same, with the commands a read callback causes
 *                gathered in our own buffer first and handed over in one
 *                bufferevent_write (the kindest use of bufferevents);
 *   plain        (reference) the thin loop without TLS, on a plain port.
 * Both TLS transports use the same SSL_CTX settings (TLS 1.2+, certificate
 * checked against --ca, partial writes), the same hiredis redisReader, the
 * same command bytes; the handshake is done before the measured part.
 *
 * read_ahead (one recv for many records) is on by default for thin, as in
 * the library, and off for bufferevent: libevent 2.1's OpenSSL bufferevent
 * drains what SSL_pending() reports, which ignores whole records already
 * read ahead into OpenSSL's buffer, so with read_ahead on it can wait for a
 * socket event that never comes (seen here: a stall under valgrind). A
 * stalled run (no reply for 3 s) is reported and fails.
 *
 *   clusterc-tls-transport -t thin|bufferevent|bufferevent-batched|plain
 *       -p PORT [-n 200000] [-c 50] [--warm 2000] [--ca FILE] [--read-ahead 0|1]
 *
 * GETs one key holding a 3-byte value (SET first) with -c in flight; after
 * --warm uncounted requests, measures -n requests: wall time and this
 * process's CPU (getrusage user+sys). Prints one CSV line:
 *   transport,requests,seconds,ops_per_sec,cpu_us_per_req,user_us,sys_us,failures,read_ahead
 * Exit status 0, or 1 when anything failed.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define READ_CHUNK 16384   /* conn.c's */
#define KEY "bench:tls:key"

static const char get_cmd[] = "*2\r\n$3\r\nGET\r\n$13\r\n" KEY "\r\n";
static const char set_cmd[] = "*3\r\n$3\r\nSET\r\n$13\r\n" KEY "\r\n$3\r\nxyz\r\n";

enum transport { T_THIN, T_BEV, T_PLAIN };   /* batched: T_BEV + batch */

typedef struct opts {
    enum transport t;
    const char *name;
    int port;
    long long n, warm;
    int inflight;
    int batch;              /* bufferevent-batched */
    const char *ca;
    int read_ahead;
} opts;

/* The run: counts, the clock, the reader; one transport's state. */
typedef struct run {
    const opts *o;
    struct event_base *base;
    redisReader *reader;
    long long issued, completed, failures;
    int64_t t0_ns;
    struct rusage ru0;
    int broken;
    /* thin / plain */
    int fd;
    SSL *ssl;
    struct event *rev, *wev;
    char *obuf;
    size_t olen, opos, ocap;
    /* bufferevent */
    struct bufferevent *bev;
    /* stall watch */
    struct event *watch;
    long long seen;
    int still;
} run;

static _Noreturn void die(const char *what)
{
    unsigned long e = ERR_get_error();
    fprintf(stderr, "clusterc-tls-transport: %s%s%s\n", what, e ? ": " : "",
            e ? ERR_reason_error_string(e) : "");
    exit(1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double tv_s(const struct timeval *tv)
{
    return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* ------------------------------------------------------------ set-up */

static int dial(int port)
{
    struct sockaddr_in sa;
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("connect to 127.0.0.1 failed");
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        die("fcntl");
    return fd;
}

/* The context as lib/engine/tls.c makes it. */
static SSL_CTX *make_ctx(const opts *o)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        die("SSL_CTX_new");
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, o->read_ahead);
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (o->ca) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1)
            die("cannot load the CA file");
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return ctx;
}

/* The library's BIO: recv / send on the socket, never SIGPIPE. */
static int bio_read(BIO *b, char *buf, int len)
{
    ssize_t r = recv(*(int *)BIO_get_data(b), buf, (size_t)len, MSG_DONTWAIT);
    BIO_clear_retry_flags(b);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    return (int)r;
}

static int bio_write(BIO *b, const char *buf, int len)
{
    ssize_t w = send(*(int *)BIO_get_data(b), buf, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);
    BIO_clear_retry_flags(b);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)w;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b; (void)num; (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO *socket_bio(int *fd)
{
    static BIO_METHOD *m;
    if (!m) {
        m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "bench socket");
        if (!m || !BIO_meth_set_read(m, bio_read) || !BIO_meth_set_write(m, bio_write) ||
            !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create))
            die("BIO_meth_new");
    }
    BIO *b = BIO_new(m);
    if (!b)
        die("BIO_new");
    BIO_set_data(b, fd);
    return b;
}

/* A session on r->fd, handshake done (blocking on poll; not measured).
 * thin: our BIO; bufferevent: a socket BIO, as libevent expects. */
static void tls_open(run *r, SSL_CTX *ctx)
{
    r->ssl = SSL_new(ctx);
    if (!r->ssl || (r->o->ca && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(r->ssl),
                                                              "127.0.0.1") != 1))
        die("SSL_new");
    if (r->o->t == T_THIN) {
        BIO *b = socket_bio(&r->fd);
        SSL_set_bio(r->ssl, b, b);
    } else if (SSL_set_fd(r->ssl, r->fd) != 1) {
        die("SSL_set_fd");
    }
    SSL_set_connect_state(r->ssl);
    for (;;) {
        int rc = SSL_do_handshake(r->ssl), e = SSL_get_error(r->ssl, rc);
        if (rc == 1)
            return;
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
            die("TLS handshake failed");
        struct pollfd p = { r->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, 0 };
        if (poll(&p, 1, 5000) <= 0)
            die("TLS handshake: no answer within 5 s");
    }
}

/* ------------------------------------------------------------ replies */

static void issue(run *r);

/* Every complete reply: count it, keep -c in flight, stop at the end. */
static void drain_replies(run *r)
{
    void *reply;
    for (;;) {
        reply = NULL;
        if (redisReaderGetReply(r->reader, &reply) != REDIS_OK) {
            fprintf(stderr, "clusterc-tls-transport: protocol error: %s\n", r->reader->errstr);
            r->broken = 1;
            event_base_loopbreak(r->base);
            return;
        }
        if (!reply)
            return;
        const redisReply *rep = reply;
        if (r->completed > 0 && (rep->type != REDIS_REPLY_STRING || rep->len != 3))
            r->failures++;   /* the first reply is SET's +OK */
        freeReplyObject(reply);
        r->completed++;
        if (r->completed == r->o->warm + 1) {   /* SET + warm-up done */
            getrusage(RUSAGE_SELF, &r->ru0);
            r->t0_ns = now_ns();
        }
        if (r->issued < r->o->warm + r->o->n + 1)
            issue(r);
        else if (r->completed == r->issued)
            event_base_loopbreak(r->base);
    }
}

/* ------------------------------------------------------------ thin */

static void obuf_append(run *r, const char *p, size_t len)
{
    if (r->olen + len > r->ocap) {
        size_t cap = r->ocap ? r->ocap * 2 : 4096;
        while (cap < r->olen + len)
            cap *= 2;
        if (!(r->obuf = realloc(r->obuf, cap)))
            die("out of memory");
        r->ocap = cap;
    }
    memcpy(r->obuf + r->olen, p, len);
    r->olen += len;
}

/* conn_write + clusterc__conn_flush: all of the output buffer, or wait. */
static void thin_flush(run *r)
{
    while (r->opos < r->olen) {
        const char *p = r->obuf + r->opos;
        size_t len = r->olen - r->opos;
        ssize_t w;
        if (r->ssl) {
            ERR_clear_error();
            int rc = SSL_write(r->ssl, p, (int)len);
            w = rc > 0 ? rc : SSL_get_error(r->ssl, rc) == SSL_ERROR_WANT_WRITE ? 0 : -1;
        } else {
            w = send(r->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                w = 0;
        }
        if (w < 0)
            die("write failed");
        if (w == 0) {
            event_add(r->wev, NULL);
            return;
        }
        r->opos += (size_t)w;
    }
    r->opos = r->olen = 0;
}

static void thin_write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    thin_flush(arg);
}

/* One read: 1 bytes came and more may wait, 0 done for now, -1 closed. */
static int thin_read_once(run *r, char *buf)
{
    if (r->ssl) {
        ERR_clear_error();
        int rc = SSL_read(r->ssl, buf, READ_CHUNK);
        if (rc > 0) {
            redisReaderFeed(r->reader, buf, (size_t)rc);
            return rc == READ_CHUNK || SSL_has_pending(r->ssl);
        }
        return SSL_get_error(r->ssl, rc) == SSL_ERROR_WANT_READ ? 0 : -1;
    }
    ssize_t n = recv(r->fd, buf, READ_CHUNK, MSG_DONTWAIT);
    if (n > 0) {
        redisReaderFeed(r->reader, buf, (size_t)n);
        return n == READ_CHUNK;
    }
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
}

/* conn.c's read_cb: read what is there, hand out the replies, then write
 * what they caused in one go. */
static void thin_read_cb(evutil_socket_t fd, short what, void *arg)
{
    run *r = arg;
    char buf[READ_CHUNK];
    int rc;
    (void)fd; (void)what;
    while ((rc = thin_read_once(r, buf)) == 1)
        ;
    drain_replies(r);
    if (rc < 0) {
        fprintf(stderr, "clusterc-tls-transport: connection lost\n");
        r->broken = 1;
        event_base_loopbreak(r->base);
        return;
    }
    thin_flush(r);
}

static void thin_start(run *r)
{
    r->rev = event_new(r->base, r->fd, EV_READ | EV_PERSIST, thin_read_cb, r);
    r->wev = event_new(r->base, r->fd, EV_WRITE, thin_write_cb, r);
    if (!r->rev || !r->wev || event_add(r->rev, NULL) < 0)
        die("event_new");
}

/* ------------------------------------------------------------ bufferevent */

/* bufferevent-batched: what the replies caused, in one bufferevent_write. */
static void bev_flush(run *r)
{
    if (r->olen && bufferevent_write(r->bev, r->obuf, r->olen) < 0)
        die("bufferevent_write");
    r->olen = 0;
}

static void bev_read_cb(struct bufferevent *bev, void *arg)
{
    run *r = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_iovec v[16];
    size_t total = 0;
    int n = evbuffer_peek(in, -1, NULL, v, 16);
    for (int i = 0; i < n && i < 16; i++) {
        redisReaderFeed(r->reader, v[i].iov_base, v[i].iov_len);
        total += v[i].iov_len;
    }
    evbuffer_drain(in, total);
    drain_replies(r);
    bev_flush(r);
}

static void bev_event_cb(struct bufferevent *bev, short what, void *arg)
{
    run *r = arg;
    unsigned long e = bufferevent_get_openssl_error(bev);
    fprintf(stderr, "clusterc-tls-transport: bufferevent event 0x%x%s%s\n", (unsigned)what,
            e ? ": " : "", e ? ERR_reason_error_string(e) : "");
    r->broken = 1;
    event_base_loopbreak(r->base);
}

static void bev_start(run *r)
{
    r->bev = bufferevent_openssl_socket_new(r->base, r->fd, r->ssl, BUFFEREVENT_SSL_OPEN,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (!r->bev)
        die("bufferevent_openssl_socket_new");
    r->ssl = NULL;   /* the bufferevent owns it, and the socket */
    r->fd = -1;
    bufferevent_setcb(r->bev, bev_read_cb, NULL, bev_event_cb, r);
    if (bufferevent_enable(r->bev, EV_READ | EV_WRITE) < 0)
        die("bufferevent_enable");
}

static void issue(run *r)
{
    const char *cmd = r->issued == 0 ? set_cmd : get_cmd;
    size_t len = r->issued == 0 ? sizeof(set_cmd) - 1 : sizeof(get_cmd) - 1;
    if (r->bev && !r->o->batch) {
        if (bufferevent_write(r->bev, cmd, len) < 0)
            die("bufferevent_write");
    } else {
        obuf_append(r, cmd, len);
    }
    r->issued++;
}

/* ------------------------------------------------------------ main */

/* Once a second: a run with no reply for 3 s is stalled. */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
    run *r = arg;
    (void)fd; (void)what;
    r->still = r->completed == r->seen ? r->still + 1 : 0;
    r->seen = r->completed;
    if (r->still < 3)
        return;
    fprintf(stderr, "clusterc-tls-transport: %s stalled: no reply for 3 s, %lld of %lld "
            "received%s\n", r->o->name, r->completed, r->issued,
            r->o->read_ahead && r->o->t == T_BEV ? " (bufferevent with read_ahead: see the "
            "top of tls_transport.c)" : "");
    r->broken = 1;
    event_base_loopbreak(r->base);
}

static _Noreturn void usage(void)
{
    fprintf(stderr, "usage: clusterc-tls-transport -t thin|bufferevent|bufferevent-batched|plain\n"
                    "           -p PORT [-n 200000] [-c 50] [--warm 2000] [--ca FILE]\n"
                    "           [--read-ahead 0|1]\n");
    exit(2);
}

static void parse(opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    o->n = 200000;
    o->warm = 2000;
    o->inflight = 50;
    o->read_ahead = -1;
    if ((argc - 1) % 2)
        usage();
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "-t") == 0) o->name = v;
        else if (strcmp(a, "-p") == 0) o->port = atoi(v);
        else if (strcmp(a, "-n") == 0) o->n = atoll(v);
        else if (strcmp(a, "-c") == 0) o->inflight = atoi(v);
        else if (strcmp(a, "--warm") == 0) o->warm = atoll(v);
        else if (strcmp(a, "--ca") == 0) o->ca = v;
        else if (strcmp(a, "--read-ahead") == 0) o->read_ahead = atoi(v);
        else usage();
    }
    if (!o->name || o->port <= 0 || o->port > 65535 || o->n < 1 || o->warm < 0 ||
        o->inflight < 1)
        usage();
    if (strcmp(o->name, "thin") == 0) o->t = T_THIN;
    else if (strcmp(o->name, "bufferevent") == 0) o->t = T_BEV;
    else if (strcmp(o->name, "bufferevent-batched") == 0) o->t = T_BEV, o->batch = 1;
    else if (strcmp(o->name, "plain") == 0) o->t = T_PLAIN;
    else usage();
    if (o->read_ahead < 0)
        o->read_ahead = o->t == T_THIN;
}

static void report(const run *r)
{
    struct rusage ru1;
    getrusage(RUSAGE_SELF, &ru1);
    double secs = (double)(now_ns() - r->t0_ns) / 1e9, n = (double)r->o->n;
    double user = tv_s(&ru1.ru_utime) - tv_s(&r->ru0.ru_utime);
    double sys = tv_s(&ru1.ru_stime) - tv_s(&r->ru0.ru_stime);
    printf("%s,%lld,%.3f,%.0f,%.3f,%.3f,%.3f,%lld,%d\n", r->o->name, r->o->n, secs, n / secs,
           (user + sys) * 1e6 / n, user * 1e6 / n, sys * 1e6 / n, r->failures,
           r->o->t == T_PLAIN ? 0 : r->o->read_ahead);
}

int main(int argc, char **argv)
{
    opts o;
    run r;
    parse(&o, argc, argv);
    memset(&r, 0, sizeof(r));
    r.o = &o;
    r.base = event_base_new();
    r.reader = redisReaderCreate();
    if (!r.base || !r.reader)
        die("out of memory");
    r.fd = dial(o.port);
    SSL_CTX *ctx = o.t == T_PLAIN ? NULL : make_ctx(&o);
    if (ctx)
        tls_open(&r, ctx);
    if (o.t == T_BEV)
        bev_start(&r);
    else
        thin_start(&r);
    long long first = o.inflight < o.warm + o.n + 1 ? o.inflight : o.warm + o.n + 1;
    for (long long i = 0; i < first; i++)
        issue(&r);
    if (r.bev)
        bev_flush(&r);
    else
        thin_flush(&r);
    struct timeval sec = { 1, 0 };
    r.watch = event_new(r.base, -1, EV_PERSIST, watch_cb, &r);
    if (!r.watch || event_add(r.watch, &sec) < 0)
        die("event_new");
    event_base_dispatch(r.base);
    event_free(r.watch);
    if (!r.broken)
        report(&r);
    if (r.rev)
        event_free(r.rev);
    if (r.wev)
        event_free(r.wev);
    if (r.bev)
        bufferevent_free(r.bev);   /* and its SSL, and the socket */
    if (r.ssl) {
        (void)SSL_shutdown(r.ssl);
        SSL_free(r.ssl);
    }
    if (r.fd >= 0)
        close(r.fd);
    free(r.obuf);
    redisReaderFree(r.reader);
    SSL_CTX_free(ctx);
    event_base_free(r.base);
    return r.broken || r.failures ? 1 : 0;
}
