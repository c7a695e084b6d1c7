/* floor.c -- the system's share of a pipelined GET, measured with no client
 * library at all: the lower bound any client's CPU per GET has on this host
 * (docs/benchmarks.md, "Pipelined: the floor").
 *
 * The same load as `clusterc-benchmark --face sync -P P` and libvalkey's
 * peer with -P: P random GETs split by slot over the primaries, one send
 * per node, then each node read until its share of the replies is in. What
 * it leaves out is everything a client does in user space: the commands
 * are written by memcpy into a fixed buffer per node, and the replies are
 * counted, not built. Only the system calls remain (one send and one
 * receive per node per batch, as both clients make), so the kernel's work
 * per GET is the same and the user-space work is near nothing.
 *
 *   clusterc-floor-bench PORT REQUESTS P KEYSPACE
 * Prints the peer's CSV line: floor,requests,seconds,ops_per_sec,
 * cpu_us_per_req,failures. Keys are key:000000000000 .. as
 * clusterc-benchmark writes them. The slot map comes from CLUSTER SLOTS of
 * 127.0.0.1:PORT; every node is dialled at 127.0.0.1 on the port it
 * announces (a loopback cluster, as the benchmarks start).
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include <clusterc/clusterc.h>
#include "bench_keys.h"

#define MAX_NODES 16
#define OUT_CAP (36 * 1024)   /* a batch of up to 1,024 GETs of 16-byte keys */
#define IN_CAP 65536

typedef struct node {
    int port, fd;
    int want;                 /* replies this batch still owes */
    size_t olen, ilen;
    char out[OUT_CAP];
    char in[IN_CAP];
} node;

static node nodes[MAX_NODES];
static int nnodes;
static int16_t slot_node[16384];
static uint64_t rng_state = BENCH_RNG_SEED;
static char keybuf[] = "key:000000000000";
static long long failures;

static void die(const char *what)
{
    perror(what);
    exit(2);
}

static double now_s(int cpu)
{
    if (cpu) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* CLUSTER SLOTS of the seed, parsed by hiredis's reader. */
static redisReply *cluster_slots(int port)
{
    static const char cmd[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";
    int fd = dial(port);
    if (send(fd, cmd, sizeof(cmd) - 1, 0) != (ssize_t)sizeof(cmd) - 1)
        die("send");
    redisReader *rd = redisReaderCreate();
    void *reply = NULL;
    char buf[16384];
    while (!reply) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            die("recv");
        if (redisReaderFeed(rd, buf, (size_t)n) != REDIS_OK ||
            redisReaderGetReply(rd, &reply) != REDIS_OK) {
            fprintf(stderr, "floor: bad CLUSTER SLOTS reply\n");
            exit(2);
        }
    }
    redisReaderFree(rd);
    close(fd);
    return reply;
}

static int node_of_port(int port)
{
    for (int i = 0; i < nnodes; i++)
        if (nodes[i].port == port)
            return i;
    if (nnodes == MAX_NODES) {
        fprintf(stderr, "floor: more than %d primaries\n", MAX_NODES);
        exit(2);
    }
    nodes[nnodes].port = port;
    nodes[nnodes].fd = dial(port);
    return nnodes++;
}

static void load_map(int port)
{
    redisReply *r = cluster_slots(port);
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        fprintf(stderr, "floor: CLUSTER SLOTS: no slots (is this a cluster?)\n");
        exit(2);
    }
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2) {
            fprintf(stderr, "floor: CLUSTER SLOTS: unexpected entry %zu\n", i);
            exit(2);
        }
        int k = node_of_port((int)e->element[2]->element[1]->integer);
        for (long long s = e->element[0]->integer; s <= e->element[1]->integer; s++)
            slot_node[s & 16383] = (int16_t)k;
    }
    freeReplyObject(r);
}

static void append_get(uint64_t keyspace)
{
    static const char head[] = "*2\r\n$3\r\nGET\r\n$16\r\n";
    uint64_t x = bench_rng_next(&rng_state) % keyspace;
    for (int d = (int)sizeof(keybuf) - 2; d >= 4; d--, x /= 10)
        keybuf[d] = (char)('0' + x % 10);
    node *n = &nodes[slot_node[clusterc_keyslot(keybuf, sizeof(keybuf) - 1)]];
    char *o = n->out + n->olen;
    memcpy(o, head, sizeof(head) - 1);
    memcpy(o + sizeof(head) - 1, keybuf, sizeof(keybuf) - 1);
    memcpy(o + sizeof(head) - 1 + sizeof(keybuf) - 1, "\r\n", 2);
    n->olen += sizeof(head) - 1 + sizeof(keybuf) - 1 + 2;
    n->want++;
}

/* Consume the complete replies at the front of n->in (a GET answers a bulk
 * string, nil, or an error); returns the bytes used. */
static size_t count_replies(node *n)
{
    size_t pos = 0;
    while (n->want > 0) {
        const char *p = n->in + pos, *nl = memchr(p, '\n', n->ilen - pos);
        if (!nl)
            break;
        size_t need = (size_t)(nl - p) + 1;
        if (p[0] == '$') {
            long v = strtol(p + 1, NULL, 10);
            need += v >= 0 ? (size_t)v + 2 : 0;
        } else {
            failures++;   /* an error (MOVED on a changing map, say) */
        }
        if (n->ilen - pos < need)
            break;
        pos += need;
        n->want--;
    }
    return pos;
}

static void read_node(node *n)
{
    for (;;) {
        size_t used = count_replies(n);
        memmove(n->in, n->in + used, n->ilen - used);
        n->ilen -= used;
        if (n->want == 0)
            return;
        if (n->ilen == IN_CAP) {
            fprintf(stderr, "floor: a reply of more than %d bytes\n", IN_CAP);
            exit(2);
        }
        ssize_t got = recv(n->fd, n->in + n->ilen, IN_CAP - n->ilen, 0);
        if (got <= 0)
            die("recv");
        n->ilen += (size_t)got;
    }
}

static void batch(long long count, uint64_t keyspace)
{
    for (long long i = 0; i < count; i++)
        append_get(keyspace);
    for (int k = 0; k < nnodes; k++) {
        node *n = &nodes[k];
        if (n->olen && send(n->fd, n->out, n->olen, 0) != (ssize_t)n->olen)
            die("send");   /* 36 KB at most: one send on loopback */
        n->olen = 0;
    }
    for (int k = 0; k < nnodes; k++)
        read_node(&nodes[k]);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: clusterc-floor-bench PORT REQUESTS P KEYSPACE\n");
        return 2;
    }
    int port = atoi(argv[1]);
    long long requests = atoll(argv[2]), p = atoll(argv[3]);
    uint64_t keyspace = strtoull(argv[4], NULL, 10);
    if (port <= 0 || requests <= 0 || p <= 0 || p > 1024 || keyspace == 0) {
        fprintf(stderr, "clusterc-floor-bench: bad arguments (P is 1 to 1024)\n");
        return 2;
    }
    load_map(port);
    batch(200, keyspace);   /* uncounted, as the peer's first 200 */
    double t0 = now_s(0), c0 = now_s(1);
    for (long long done = 0; done < requests; done += p)
        batch(requests - done < p ? requests - done : p, keyspace);
    double secs = now_s(0) - t0, cpu = now_s(1) - c0;
    printf("floor,%lld,%.3f,%.0f,%.3f,%lld\n", requests, secs, (double)requests / secs,
           cpu / (double)requests * 1e6, failures);
    return failures != 0;
}
