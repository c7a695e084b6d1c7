/* fake_shards.c -- a cluster of any size without servers (issue 16): the
 * engine's dial seam (clusterc__dial_override) hands every connection one
 * end of a socketpair, and a thread answers on the other end: CLUSTER
 * SHARDS with a synthetic map of P primaries with R replicas each, COMMAND
 * with an error unless asked otherwise, everything else +OK. Nothing is
 * dialled: the map's addresses (127.0.0.1, ports 10000 and up) are names.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdarg.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include "engine/conn_int.h"
#include "fake_shards.h"

#define MAX_CONNS 512

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    pthread_t thread;
    int fds[MAX_CONNS];
    int port[MAX_CONNS];        /* the port each connection was dialled to */
    long gets[MAX_CONNS];       /* GETs each connection received */
    redisReader *rd[MAX_CONNS];
    int nfds, stop, wake[2];
    char *map;            /* the CLUSTER SHARDS reply */
    size_t maplen;
    int command_ok;       /* COMMAND answered (an empty table) or refused */
    long shards_served, commands_served;
} F;

/* ------------------------------------------------------------ the map */

typedef struct buf { char *p; size_t len, cap; } buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...)
{
    va_list ap;
    if (!b->p) {   /* never format into NULL + 0 (UBSan) */
        b->cap = 4096;
        b->p = malloc(b->cap);
        if (!b->p)
            abort();
    }
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + 4096;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
}

static void node(buf *b, int idx, int primary, unsigned gen)
{
    put(b, "*14\r\n$2\r\nid\r\n$40\r\n%08x%032d\r\n$4\r\nport\r\n:%d\r\n"
           "$2\r\nip\r\n$9\r\n127.0.0.1\r\n$8\r\nendpoint\r\n$9\r\n127.0.0.1\r\n"
           "$4\r\nrole\r\n$%d\r\n%s\r\n$18\r\nreplication-offset\r\n:1000\r\n"
           "$6\r\nhealth\r\n$6\r\nonline\r\n",
        gen, idx, FAKE_SHARDS_PORT0 + idx, primary ? 6 : 7, primary ? "master" : "replica");
}

char *fake_shards_reply(int primaries, int replicas, const int *port_of, size_t *len)
{
    buf b = { NULL, 0, 0 };
    put(&b, "*%d\r\n", primaries);
    for (int k = 0; k < primaries; k++) {
        int lo = (int)((long)k * 16384 / primaries);
        int hi = (int)((long)(k + 1) * 16384 / primaries) - 1;
        put(&b, "*4\r\n$5\r\nslots\r\n*2\r\n:%d\r\n:%d\r\n$5\r\nnodes\r\n*%d\r\n", lo, hi,
            1 + replicas);
        for (int j = 0; j <= replicas; j++) {
            int idx = k * (1 + replicas) + j;
            node(&b, port_of ? port_of[idx] : idx, j == 0, 0);
        }
    }
    *len = b.len;
    return b.p;
}

void fake_shards_set_map(char *reply, size_t len)
{
    pthread_mutex_lock(&mu);
    free(F.map);
    F.map = reply;
    F.maplen = len;
    pthread_mutex_unlock(&mu);
}

/* ------------------------------------------------------------ serving */

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;   /* the client went away */
        p += w;
        n -= (size_t)w;
    }
}

static void answer(int i, int fd, const redisReply *cmd)
{
    const char *name = cmd->type == REDIS_REPLY_ARRAY && cmd->elements > 0 ? cmd->element[0]->str : "";
    const char *sub = cmd->elements > 1 ? cmd->element[1]->str : "";
    if (strcasecmp(name, "CLUSTER") == 0 && strcasecmp(sub, "SHARDS") == 0) {
        /* No lock while writing: the client thread may be dialling (and so
         * waiting for the lock) instead of reading. The map only changes
         * between loads, from that same thread. */
        write_all(fd, F.map, F.maplen);
        F.shards_served++;
    } else if (strcasecmp(name, "COMMAND") == 0) {
        F.commands_served++;
        const char *r = F.command_ok ? "*0\r\n" : "-NOPERM no COMMAND for this user\r\n";
        write_all(fd, r, strlen(r));
    } else {
        if (strcasecmp(name, "GET") == 0)
            F.gets[i]++;
        write_all(fd, "+OK\r\n", 5);
    }
}

/* Read what one connection sent and answer each command; 0 when it closed. */
static int serve(int i)
{
    char tmp[16384];
    ssize_t n = read(F.fds[i], tmp, sizeof(tmp));
    if (n <= 0)
        return 0;
    redisReaderFeed(F.rd[i], tmp, (size_t)n);
    void *r;
    while (redisReaderGetReply(F.rd[i], &r) == REDIS_OK && r) {
        answer(i, F.fds[i], r);
        freeReplyObject(r);
    }
    return 1;
}

static void *server(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p[MAX_CONNS + 1];
        pthread_mutex_lock(&mu);
        int n = F.nfds, stop = F.stop;
        for (int i = 0; i < n; i++)
            p[i] = (struct pollfd){ F.fds[i], POLLIN, 0 };
        pthread_mutex_unlock(&mu);
        if (stop)
            return NULL;
        p[n] = (struct pollfd){ F.wake[0], POLLIN, 0 };
        if (poll(p, (nfds_t)n + 1, 1000) <= 0)
            continue;
        if (p[n].revents) {
            char c;
            (void)!read(F.wake[0], &c, 1);
        }
        for (int i = 0; i < n; i++)
            if (p[i].revents && !serve(i)) {
                pthread_mutex_lock(&mu);
                close(F.fds[i]);
                F.fds[i] = -1;   /* kept in place: indexes stay valid */
                pthread_mutex_unlock(&mu);
            }
    }
}

static int dial(const char *host, int port)
{
    int sv[2];
    (void)host;
    if (F.nfds >= MAX_CONNS || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    pthread_mutex_lock(&mu);
    F.rd[F.nfds] = redisReaderCreate();
    F.port[F.nfds] = port;
    F.gets[F.nfds] = 0;
    F.fds[F.nfds++] = sv[1];
    pthread_mutex_unlock(&mu);
    (void)!write(F.wake[1], "w", 1);
    return sv[0];
}

int fake_shards_start(int command_ok)
{
    F.command_ok = command_ok;
    if (pipe(F.wake) < 0 || pthread_create(&F.thread, NULL, server, NULL) != 0)
        return -1;
    clusterc__dial_override = dial;
    return 0;
}

void fake_shards_stop(void)
{
    pthread_mutex_lock(&mu);
    F.stop = 1;
    pthread_mutex_unlock(&mu);
    (void)!write(F.wake[1], "w", 1);
    pthread_join(F.thread, NULL);
    for (int i = 0; i < F.nfds; i++) {
        if (F.fds[i] >= 0)
            close(F.fds[i]);
        redisReaderFree(F.rd[i]);
    }
    close(F.wake[0]);
    close(F.wake[1]);
    free(F.map);
    F.map = NULL;
    F.nfds = F.stop = 0;
    F.shards_served = F.commands_served = 0;
    clusterc__dial_override = NULL;
}

long fake_shards_served(void)
{
    return F.shards_served;
}

long fake_shards_commands(void)
{
    return F.commands_served;
}

long fake_shards_gets(int port)
{
    long n = 0;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < F.nfds; i++)
        if (F.port[i] == port)
            n += F.gets[i];
    pthread_mutex_unlock(&mu);
    return n;
}

int fake_shards_dials(void)
{
    return F.nfds;
}
