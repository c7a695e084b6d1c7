/* peer_libvalkey.c -- the same GET load as clusterc-benchmark, through
 * libvalkey's cluster client, for a side-by-side figure in one run.
 *
 * Not built by CMake: examples/bench/fastpath.sh compiles it against a
 * libvalkey built under /tmp (never part of this project) and leaves the
 * peer's column out when there is none.
 *
 *   peer-libvalkey PORT REQUESTS INFLIGHT KEYSPACE   (INFLIGHT 0 = blocking,
 *                                                     one command at a time;
 *                                                     -P = blocking, P appended
 *                                                     then P replies read)
 * Prints one CSV line: face,requests,seconds,ops_per_sec,cpu_us_per_req,failures
 * Keys are key:000000000000 .. as clusterc-benchmark writes them (it fills
 * the keyspace first; run it before this).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <event2/event.h>
#include <valkey/adapters/libevent.h>
#include <valkey/cluster.h>
#include "bench_keys.h"

static uint64_t rng_state = BENCH_RNG_SEED;
static char keybuf[] = "key:000000000000";
static long long requests, issued, completed, failures;
static uint64_t keyspace;
static struct event_base *base;

static void key_random(void)
{
    uint64_t i = bench_rng_next(&rng_state) % keyspace;
    for (int d = (int)sizeof(keybuf) - 2; d >= 4; d--, i /= 10)
        keybuf[d] = (char)('0' + i % 10);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void get_cb(valkeyClusterAsyncContext *acc, void *r, void *pd);

static void issue(valkeyClusterAsyncContext *acc)
{
    const char *argv[2] = { "GET", keybuf };
    size_t argvlen[2] = { 3, sizeof(keybuf) - 1 };
    key_random();
    if (valkeyClusterAsyncCommandArgv(acc, get_cb, NULL, 2, argv, argvlen) != VALKEY_OK) {
        fprintf(stderr, "peer-libvalkey: %s\n", acc->errstr);
        exit(2);
    }
    issued++;
}

static void get_cb(valkeyClusterAsyncContext *acc, void *r, void *pd)
{
    valkeyReply *reply = r;
    (void)pd;
    completed++;
    if (!reply || reply->type == VALKEY_REPLY_ERROR)
        failures++;
    if (issued < requests)
        issue(acc);
    else if (completed == issued)
        event_base_loopbreak(base);
}

static void run_async(const char *seed, long long inflight, double *secs, double *cpu)
{
    valkeyClusterOptions o;
    memset(&o, 0, sizeof(o));
    o.initial_nodes = seed;
    o.options = VALKEY_OPT_BLOCKING_INITIAL_UPDATE;
    base = event_base_new();
    valkeyClusterOptionsUseLibevent(&o, base);
    valkeyClusterAsyncContext *acc = valkeyClusterAsyncConnectWithOptions(&o);
    if (!acc || acc->err) {
        fprintf(stderr, "peer-libvalkey: connect: %s\n", acc ? acc->errstr : "no memory");
        exit(2);
    }
    long long want = requests;
    requests = 200;   /* warm-up: every primary's connection open */
    for (int i = 0; i < 20; i++)
        issue(acc);
    event_base_dispatch(base);
    requests = want;
    issued = completed = failures = 0;
    double t0 = now_s(), c0 = cpu_s();
    for (long long i = 0; i < inflight && i < requests; i++)
        issue(acc);
    event_base_dispatch(base);
    *secs = now_s() - t0;
    *cpu = cpu_s() - c0;
    valkeyClusterAsyncFree(acc);
    event_base_free(base);
}

/* The blocking cluster context, or exit 2. */
static valkeyClusterContext *connect_sync(const char *seed)
{
    valkeyClusterOptions o;
    memset(&o, 0, sizeof(o));
    o.initial_nodes = seed;
    valkeyClusterContext *cc = valkeyClusterConnectWithOptions(&o);
    if (!cc || cc->err) {
        fprintf(stderr, "peer-libvalkey: connect: %s\n", cc ? cc->errstr : "no memory");
        exit(2);
    }
    return cc;
}

static void run_sync(const char *seed, double *secs, double *cpu)
{
    valkeyClusterContext *cc = connect_sync(seed);
    const char *argv[2] = { "GET", keybuf };
    size_t argvlen[2] = { 3, sizeof(keybuf) - 1 };
    double t0 = 0, c0 = 0;
    for (long long i = -200; i < requests; i++) {   /* 200 uncounted first */
        if (i == 0) {
            t0 = now_s();
            c0 = cpu_s();
        }
        key_random();
        valkeyReply *r = valkeyClusterCommandArgv(cc, 2, argv, argvlen);
        if (i >= 0) {
            completed++;
            failures += !r || r->type == VALKEY_REPLY_ERROR;
        }
        if (r)
            freeReplyObject(r);
    }
    *secs = now_s() - t0;
    *cpu = cpu_s() - c0;
    valkeyClusterFree(cc);
}

/* The blocking face pipelined: p commands appended (valkeyClusterAppendCommandArgv),
 * then their p replies read, as clusterc-benchmark --face sync -P p does. */
static void run_pipelined(const char *seed, long long p, double *secs, double *cpu)
{
    valkeyClusterContext *cc = connect_sync(seed);
    const char *argv[2] = { "GET", keybuf };
    size_t argvlen[2] = { 3, sizeof(keybuf) - 1 };
    double t0 = 0, c0 = 0;
    for (long long done = -200; done < requests;) {   /* 200 uncounted first */
        if (done == 0) {
            t0 = now_s();
            c0 = cpu_s();
        }
        long long n = done < 0 ? 200 : (requests - done < p ? requests - done : p);
        for (long long i = 0; i < n; i++) {
            key_random();
            if (valkeyClusterAppendCommandArgv(cc, 2, argv, argvlen) != VALKEY_OK) {
                fprintf(stderr, "peer-libvalkey: append: %s\n", cc->errstr);
                exit(2);
            }
        }
        for (long long i = 0; i < n; i++) {
            void *r = NULL;
            int rc = valkeyClusterGetReply(cc, &r);
            if (done >= 0) {
                completed++;
                failures += rc != VALKEY_OK || !r || ((valkeyReply *)r)->type == VALKEY_REPLY_ERROR;
            }
            if (r)
                freeReplyObject(r);
        }
        valkeyClusterReset(cc);
        done += n;
    }
    *secs = now_s() - t0;
    *cpu = cpu_s() - c0;
    valkeyClusterFree(cc);
}

int main(int argc, char **argv)
{
    char seed[64];
    double secs, cpu;
    if (argc != 5) {
        fprintf(stderr, "usage: peer-libvalkey PORT REQUESTS INFLIGHT KEYSPACE\n");
        return 2;
    }
    snprintf(seed, sizeof(seed), "127.0.0.1:%s", argv[1]);
    requests = atoll(argv[2]);
    long long inflight = atoll(argv[3]);
    keyspace = (uint64_t)atoll(argv[4]);
    if (requests <= 0 || keyspace == 0) {
        fprintf(stderr, "peer-libvalkey: bad arguments\n");
        return 2;
    }
    if (inflight > 0)
        run_async(seed, inflight, &secs, &cpu);
    else if (inflight < 0)
        run_pipelined(seed, -inflight, &secs, &cpu);
    else
        run_sync(seed, &secs, &cpu);
    printf("%s,%lld,%.3f,%.0f,%.3f,%lld\n",
           inflight > 0 ? "async" : inflight < 0 ? "pipelined" : "sync", completed, secs,
           (double)completed / secs, cpu * 1e6 / (double)completed, failures);
    return failures ? 1 : 0;
}
