/* benchmark.c -- clusterc-benchmark: GET/SET throughput, latency and client CPU.
 *
 * Modelled on redis-benchmark, for libclusterc's two faces:
 *   async  (default): -c commands kept in flight on one libevent client;
 *   sync:  the blocking face; -P 1 = one command at a time, -P N = append N
 *          commands, then collect N replies.
 * Every request's latency is kept (in µs, one uint32 per request, allocated
 * once) and sorted at the end of a test; client CPU is getrusage(RUSAGE_SELF)
 * user+sys over the test divided by the requests. --no-latency leaves the
 * two clock reads per request out, so the CPU figure is the library's and
 * the load loop's alone, like for like with examples/bench/peer_libvalkey.c
 * (which times nothing per request). Run --help for the flags.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <event2/event.h>
#include <clusterc/async.h>
#include <clusterc/clusterc.h>
#include "bench/bench_keys.h"

#define MAX_TESTS 8
#define KEY_DIGITS 12
#define POPULATE_BATCH 1000

enum test_kind { TEST_GET, TEST_SET };
static const char *const test_names[] = { "GET", "SET" };

typedef struct config {
    char seeds[1024];
    long long requests;
    int inflight;
    int pipeline;
    int tests[MAX_TESTS];
    int ntests;
    int async_face;
    size_t value_size;
    long long keyspace;
    int read_only, route_randomly, route_by_latency;
    const char *read_policy;
    int quiet, csv;
    int hook;               /* --hook: an on_command hook is set */
    int no_latency;         /* --no-latency: no clock read per request */
    int background;         /* --background: subscriptions and BLPOPs open */
    double max_seconds;
    int tls;                /* --tls (or any --tls-* option) */
    int tls_insecure;       /* --tls-insecure */
    const char *tls_ca, *tls_cert, *tls_key, *tls_server_name;
} config;

/* What one test measured. */
typedef struct result {
    long long requests;     /* completed (with or without a reply) */
    long long failures;     /* NULL reply or error reply */
    double seconds;
    double user_s, sys_s;   /* CPU of this process over the test */
} result;

/* ------------------------------------------------------------ helpers */

static uint64_t rng_state = BENCH_RNG_SEED;   /* bench/bench_keys.h */

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

/* "key:" followed by KEY_DIGITS zero-padded digits, written in place. */
static char keybuf[4 + KEY_DIGITS + 1] = "key:000000000000";

static void key_set(uint64_t i)
{
    for (int d = 4 + KEY_DIGITS - 1; d >= 4; d--) {
        keybuf[d] = (char)('0' + i % 10);
        i /= 10;
    }
}

static void key_random(const config *cfg)
{
    key_set(bench_rng_next(&rng_state) % (uint64_t)cfg->keyspace);
}

static char *value;   /* cfg->value_size bytes of 'x' */

/* The argument vector of the next command, pointing at keybuf / value. */
static void make_argv(int kind, const config *cfg, const char **argv, size_t *argvlen,
                      int *argc)
{
    key_random(cfg);
    argv[1] = keybuf;
    argvlen[1] = sizeof(keybuf) - 1;
    if (kind == TEST_GET) {
        argv[0] = "GET";
        argvlen[0] = 3;
        *argc = 2;
    } else {
        argv[0] = "SET";
        argvlen[0] = 3;
        argv[2] = value;
        argvlen[2] = cfg->value_size;
        *argc = 3;
    }
}

static int reply_failed(const redisReply *r)
{
    return r == NULL || r->type == REDIS_REPLY_ERROR;
}

/* ------------------------------------------------------------ latencies */

static uint32_t *lat;       /* one entry per completed request, µs */
static long long nlat;

static void lat_record(int64_t ns)
{
    int64_t us = ns / 1000;
    lat[nlat++] = us > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of the sorted array. */
static uint32_t pct(double q)
{
    if (nlat == 0)
        return 0;
    long long k = (long long)(q * (double)nlat + 0.999999);
    if (k < 1) k = 1;
    if (k > nlat) k = nlat;
    return lat[k - 1];
}

/* ------------------------------------------------------------ usage */

static void usage(FILE *f)
{
    fprintf(f,
"Usage: clusterc-benchmark [options]\n"
"\n"
"Runs GET / SET load against a Redis Cluster through libclusterc and prints, per\n"
"test: requests, seconds, ops/s, latency p50/p99/p99.9 (µs), client CPU per\n"
"request (user/sys, from getrusage) and failures.\n"
"\n"
"  -h <host>          seed host (default 127.0.0.1)\n"
"  -p <port>          seed port (default 6379)\n"
"  --seeds <h:p,...>  seed list (overrides -h/-p)\n"
"  -n <requests>      requests per test (default 100000)\n"
"  -c <in-flight>     async face: commands kept in flight (default 50)\n"
"  -P <depth>         sync face: append <depth> commands, then read <depth>\n"
"                     replies (default 1: one command at a time)\n"
"  -t <tests>         comma-separated tests, run in order: get,set (default set,get)\n"
"  --face sync|async  which face of the library to drive (default async)\n"
"  -d <bytes>         SET value size (default 3)\n"
"  -r <keyspace>      random keys key:000000000000 .. in [0, keyspace)\n"
"                     (default 10000). Before the first GET test the keyspace is\n"
"                     filled once with pipelined SETs (not measured).\n"
"  --read-policy master|read_only|random|latency\n"
"                     read routing options of the client (default master)\n"
"  --max-seconds <s>  stop a test after this long even if -n is not reached\n"
"                     (default 60)\n"
"  --background       async face: while measuring, keep 50 shard subscriptions\n"
"                     open and 4 BLPOP 0 in flight (what they cost the fast path)\n"
"  --hook             set an on_command hook (it counts commands): what the\n"
"                     command hook costs per request\n"
"  --no-latency       do not time each request (latency is printed as 0): the\n"
"                     CPU figure then holds no clock reads of the benchmark's,\n"
"                     as libvalkey's peer (examples/bench/peer_libvalkey.c)\n"
"  --tls              connect over TLS (OpenSSL), certificates verified against\n"
"                     the system's trust store unless --tls-ca is given\n"
"  --tls-ca <file>    PEM CA bundle the servers' certificates must chain to\n"
"  --tls-cert <file>  client certificate (PEM) for mutual TLS; with --tls-key\n"
"  --tls-key <file>   its private key (PEM)\n"
"  --tls-server-name <name>\n"
"                     SNI and the name the certificates must carry (default:\n"
"                     the host dialled)\n"
"  --tls-insecure     accept any certificate (encrypted, not authenticated:\n"
"                     tests only). Every --tls-* option implies --tls\n"
"  -q                 quiet: one line per test\n"
"  --csv              CSV output (one header line, one line per test)\n"
"  --help             this text\n"
"\n"
"Exit status: 0 all requests got a reply, 1 some failed, 2 bad usage or no\n"
"connection to the cluster.\n");
}

static _Noreturn void die_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "clusterc-benchmark: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry --help.\n");
    exit(2);
}

static long long parse_ll(const char *flag, const char *s, long long min, long long max)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "clusterc-benchmark: bad value for %s: '%s' (want %lld..%lld)\n",
                flag, s, min, max);
        exit(2);
    }
    return v;
}

static void parse_tests(config *cfg, const char *list)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", list);
    cfg->ntests = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int kind;
        if (strcmp(t, "get") == 0 || strcmp(t, "GET") == 0)
            kind = TEST_GET;
        else if (strcmp(t, "set") == 0 || strcmp(t, "SET") == 0)
            kind = TEST_SET;
        else
            die_usage("unknown test '%s' (known: get, set)", t);
        if (cfg->ntests == MAX_TESTS)
            die_usage("too many tests in '%s'", list);
        cfg->tests[cfg->ntests++] = kind;
    }
    if (cfg->ntests == 0)
        die_usage("no test in '%s'", list);
}

static void config_defaults(config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->requests = 100000;
    cfg->inflight = 50;
    cfg->pipeline = 1;
    cfg->async_face = 1;
    cfg->value_size = 3;
    cfg->keyspace = 10000;
    cfg->max_seconds = 60;
    cfg->read_policy = "master";
    parse_tests(cfg, "set,get");
}

/* An option without a value: 1 if a is one (and it was applied), else 0. */
static int parse_flag(config *cfg, const char *a)
{
    if (strcmp(a, "--help") == 0) {
        usage(stdout);
        exit(0);
    } else if (strcmp(a, "-q") == 0) {
        cfg->quiet = 1;
    } else if (strcmp(a, "--csv") == 0) {
        cfg->csv = 1;
    } else if (strcmp(a, "--hook") == 0) {
        cfg->hook = 1;
    } else if (strcmp(a, "--no-latency") == 0) {
        cfg->no_latency = 1;
    } else if (strcmp(a, "--background") == 0) {
        cfg->background = 1;
    } else if (strcmp(a, "--tls") == 0) {
        cfg->tls = 1;
    } else if (strcmp(a, "--tls-insecure") == 0) {
        cfg->tls = cfg->tls_insecure = 1;
    } else {
        return 0;
    }
    return 1;
}

static void parse_read_policy(config *cfg, const char *v)
{
    cfg->read_policy = v;
    if (strcmp(v, "master") == 0) {
        /* primaries only: the default */
    } else if (strcmp(v, "read_only") == 0) cfg->read_only = 1;
    else if (strcmp(v, "random") == 0) cfg->route_randomly = 1;
    else if (strcmp(v, "latency") == 0) cfg->route_by_latency = 1;
    else die_usage("--read-policy wants master, read_only, random or latency, not '%s'", v);
}

/* --tls-ca, --tls-cert, --tls-key, --tls-server-name: 1 if a is one. */
static int parse_tls_value(config *cfg, const char *a, const char *v)
{
    if (strcmp(a, "--tls-ca") == 0) cfg->tls_ca = v;
    else if (strcmp(a, "--tls-cert") == 0) cfg->tls_cert = v;
    else if (strcmp(a, "--tls-key") == 0) cfg->tls_key = v;
    else if (strcmp(a, "--tls-server-name") == 0) cfg->tls_server_name = v;
    else return 0;
    cfg->tls = 1;
    return 1;
}

/* An option with a value (v); the seed goes to *host, *port, *seeds. */
static void parse_value(config *cfg, const char *a, const char *v, const char **host,
                        long long *port, const char **seeds)
{
    if (strcmp(a, "-h") == 0) *host = v;
    else if (strcmp(a, "-p") == 0) *port = parse_ll(a, v, 1, 65535);
    else if (strcmp(a, "--seeds") == 0) *seeds = v;
    else if (strcmp(a, "-n") == 0) cfg->requests = parse_ll(a, v, 1, 1000000000LL);
    else if (strcmp(a, "-c") == 0) cfg->inflight = (int)parse_ll(a, v, 1, 1000000);
    else if (strcmp(a, "-P") == 0) cfg->pipeline = (int)parse_ll(a, v, 1, 1000000);
    else if (strcmp(a, "-t") == 0) parse_tests(cfg, v);
    else if (strcmp(a, "-d") == 0) cfg->value_size = (size_t)parse_ll(a, v, 0, 512LL << 20);
    else if (strcmp(a, "-r") == 0) cfg->keyspace = parse_ll(a, v, 1, 999999999999LL);
    else if (strcmp(a, "--max-seconds") == 0)
        cfg->max_seconds = (double)parse_ll(a, v, 1, 86400);
    else if (strcmp(a, "--face") == 0) {
        if (strcmp(v, "async") == 0) cfg->async_face = 1;
        else if (strcmp(v, "sync") == 0) cfg->async_face = 0;
        else die_usage("--face wants sync or async, not '%s'", v);
    } else if (strcmp(a, "--read-policy") == 0) {
        parse_read_policy(cfg, v);
    } else if (!parse_tls_value(cfg, a, v)) {
        die_usage("unknown option '%s'", a);
    }
}

static void parse_args(config *cfg, int argc, char **argv)
{
    const char *host = "127.0.0.1", *seeds = NULL;
    long long port = 6379;
    config_defaults(cfg);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (parse_flag(cfg, a))
            continue;
        char pat[64];
        snprintf(pat, sizeof(pat), " %s ", a);
        if (strlen(a) > 32 || !strstr(" -h -p --seeds -n -c -P -t -d -r --max-seconds"
                                      " --face --read-policy --tls-ca --tls-cert --tls-key"
                                      " --tls-server-name ", pat))
            die_usage("unknown option '%s'", a);
        if (!v)
            die_usage("option %s needs a value", a);
        parse_value(cfg, a, v, &host, &port, &seeds);
        i++;
    }
    if (!cfg->tls_cert != !cfg->tls_key)
        die_usage("%s", "--tls-cert and --tls-key go together");
    if (seeds) {
        if (strlen(seeds) >= sizeof(cfg->seeds))
            die_usage("--seeds too long: '%s'", seeds);
        snprintf(cfg->seeds, sizeof(cfg->seeds), "%s", seeds);
    } else {
        int n = strchr(host, ':') ? snprintf(cfg->seeds, sizeof(cfg->seeds), "[%s]:%lld", host, port)
                                  : snprintf(cfg->seeds, sizeof(cfg->seeds), "%s:%lld", host, port);
        if (n < 0 || (size_t)n >= sizeof(cfg->seeds))
            die_usage("host too long: '%s'", host);
    }
}

static unsigned long long hooked;   /* --hook: commands the hook saw */

static void count_command(const clusterc_command_info *ci, void *privdata)
{
    (void)ci; (void)privdata;
    hooked++;
}

/* --background: work that must not slow the fast path down. The BLPOPs
 * never get an element; they end with NULL when the client goes. */
static void ignore_message(clusterc_async *a, const clusterc_message *m, void *privdata)
{
    (void)a; (void)m; (void)privdata;
}

static void background_start(clusterc_async *a)
{
    char name[32];
    for (int i = 0; i < 50; i++) {
        snprintf(name, sizeof(name), "bench:chan:%d", i);
        if (clusterc_async_ssubscribe(a, name, ignore_message, NULL) < 0)
            fprintf(stderr, "clusterc-benchmark: ssubscribe: %s\n", clusterc_async_errstr(a));
    }
    for (int i = 0; i < 4; i++)
        if (clusterc_async_command(a, NULL, NULL, "BLPOP bench:never:%d 0", i) < 0)
            fprintf(stderr, "clusterc-benchmark: BLPOP: %s\n", clusterc_async_errstr(a));
}

static void options_from(const config *cfg, clusterc_options *o)
{
    clusterc_options_init(o);
    o->seeds = cfg->seeds;
    if (cfg->hook)
        o->on_command = count_command;
    o->read_only = cfg->read_only;
    o->route_randomly = cfg->route_randomly;
    o->route_by_latency = cfg->route_by_latency;
    o->tls = cfg->tls;
    o->tls_ca_file = cfg->tls_ca;
    o->tls_cert_file = cfg->tls_cert;
    o->tls_key_file = cfg->tls_key;
    o->tls_server_name = cfg->tls_server_name;
    o->tls_insecure_skip_verify = cfg->tls_insecure;
}

/* ------------------------------------------------------------ populate */

/* Fill the keyspace once with pipelined SETs (blocking face, not measured). */
static int populate(clusterc_client *c, const config *cfg)
{
    const char *argv[3] = { "SET", keybuf, value };
    size_t argvlen[3] = { 3, sizeof(keybuf) - 1, cfg->value_size };
    long long failed = 0;
    for (long long i = 0; i < cfg->keyspace; i += POPULATE_BATCH) {
        long long end = i + POPULATE_BATCH < cfg->keyspace ? i + POPULATE_BATCH : cfg->keyspace;
        for (long long k = i; k < end; k++) {
            key_set((uint64_t)k);
            if (clusterc_append_command_argv(c, 3, argv, argvlen) < 0) {
                fprintf(stderr, "clusterc-benchmark: populate: %s\n", clusterc_errstr(c));
                return -1;
            }
        }
        for (long long k = i; k < end; k++) {
            void *r;
            if (clusterc_get_reply(c, &r) < 0 || reply_failed(r))
                failed++;
            if (r)
                freeReplyObject(r);
        }
    }
    if (failed) {
        fprintf(stderr, "clusterc-benchmark: populate: %lld of %lld SETs failed (%s)\n",
                failed, cfg->keyspace, clusterc_errstr(c));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ async face */

typedef struct async_run {
    const config *cfg;
    struct event_base *base;
    clusterc_async *a;
    int kind;
    long long issued, completed, failures;
    int64_t stop_at_ns;     /* --max-seconds */
    int stopping;           /* issue no more */
    int64_t *start_ns;      /* per in-flight slot */
} async_run;

static async_run arun;

static void async_cb(clusterc_async *a, redisReply *reply, void *privdata);

static int async_issue(async_run *ar, size_t slot)
{
    const char *argv[3];
    size_t argvlen[3];
    int argc;
    make_argv(ar->kind, ar->cfg, argv, argvlen, &argc);
    if (!ar->cfg->no_latency)
        ar->start_ns[slot] = now_ns();
    if (clusterc_async_command_argv(ar->a, async_cb, (void *)(uintptr_t)slot, argc, argv,
                                    argvlen) < 0) {
        fprintf(stderr, "clusterc-benchmark: cannot queue a command: %s\n",
                clusterc_async_errstr(ar->a));
        return -1;
    }
    ar->issued++;
    return 0;
}

static void async_cb(clusterc_async *a, redisReply *reply, void *privdata)
{
    async_run *ar = &arun;
    size_t slot = (size_t)(uintptr_t)privdata;
    (void)a;
    ar->completed++;
    /* Without latencies the clock is read every 1024 replies, for
     * --max-seconds only. */
    if (!ar->cfg->no_latency || (ar->completed & 1023) == 0) {
        int64_t t = now_ns();
        if (!ar->cfg->no_latency)
            lat_record(t - ar->start_ns[slot]);
        if (t >= ar->stop_at_ns)
            ar->stopping = 1;
    }
    if (reply_failed(reply))
        ar->failures++;
    if (!ar->stopping && ar->issued < ar->cfg->requests) {
        if (async_issue(ar, slot) < 0)
            ar->stopping = 1;
    }
    if (ar->completed == ar->issued && (ar->stopping || ar->issued >= ar->cfg->requests))
        event_base_loopbreak(ar->base);
}

static void run_async(const config *cfg, struct event_base *base, clusterc_async *a, int kind,
                      result *res)
{
    async_run *ar = &arun;
    int64_t t0 = now_ns();
    ar->cfg = cfg;
    ar->base = base;
    ar->a = a;
    ar->kind = kind;
    ar->issued = ar->completed = ar->failures = 0;
    ar->stopping = 0;
    ar->stop_at_ns = t0 + (int64_t)(cfg->max_seconds * 1e9);
    long long first = cfg->inflight < cfg->requests ? cfg->inflight : cfg->requests;
    for (long long i = 0; i < first; i++)
        if (async_issue(ar, (size_t)i) < 0)
            break;
    if (ar->issued > 0)
        event_base_dispatch(base);
    res->seconds = (double)(now_ns() - t0) / 1e9;
    res->requests = ar->completed;
    res->failures = ar->failures;
}

/* A few uncounted commands so every primary's connection is open. */
static void async_warmup(const config *cfg, struct event_base *base, clusterc_async *a)
{
    config w = *cfg;
    w.requests = 200;
    w.inflight = cfg->inflight < 20 ? cfg->inflight : 20;
    w.max_seconds = 10;
    long long saved = nlat;
    run_async(&w, base, a, TEST_GET, &(result){0});
    nlat = saved;
}

/* ------------------------------------------------------------ sync face */

static void run_sync(const config *cfg, clusterc_client *c, int kind, result *res)
{
    const char *argv[3];
    size_t argvlen[3];
    int argc;
    int64_t t0 = now_ns();
    int64_t stop_at = t0 + (int64_t)(cfg->max_seconds * 1e9);
    long long done = 0, failures = 0;

    if (cfg->pipeline == 1) {
        while (done < cfg->requests) {
            make_argv(kind, cfg, argv, argvlen, &argc);
            int timed = !cfg->no_latency || (done & 1023) == 0;
            int64_t s = cfg->no_latency ? 0 : now_ns();
            redisReply *r = clusterc_command_argv(c, argc, argv, argvlen);
            int64_t t = timed ? now_ns() : 0;
            if (!cfg->no_latency)
                lat_record(t - s);
            if (reply_failed(r))
                failures++;
            if (r)
                freeReplyObject(r);
            done++;
            if (t >= stop_at)
                break;
        }
    } else {
        while (done < cfg->requests) {
            long long batch = cfg->requests - done < cfg->pipeline ? cfg->requests - done
                                                                    : cfg->pipeline;
            long long queued = 0;
            int64_t s = cfg->no_latency ? 0 : now_ns();
            for (long long i = 0; i < batch; i++) {
                make_argv(kind, cfg, argv, argvlen, &argc);
                if (clusterc_append_command_argv(c, argc, argv, argvlen) < 0) {
                    failures++;
                    done++;
                    continue;
                }
                queued++;
            }
            int64_t t = s;
            for (long long i = 0; i < queued; i++) {
                void *r;
                int rc = clusterc_get_reply(c, &r);
                if (!cfg->no_latency) {
                    t = now_ns();
                    lat_record(t - s);   /* from the start of the batch */
                }
                if (rc < 0 || reply_failed(r))
                    failures++;
                if (r)
                    freeReplyObject(r);
                done++;
            }
            if (cfg->no_latency && (done & 1023) < (long long)queued)
                t = now_ns();   /* about every 1024 replies, for --max-seconds */
            if (t >= stop_at)
                break;
        }
    }
    res->seconds = (double)(now_ns() - t0) / 1e9;
    res->requests = done;
    res->failures = failures;
}

/* ------------------------------------------------------------ report */

static void report(const config *cfg, int kind, const result *r)
{
    qsort(lat, (size_t)nlat, sizeof(*lat), cmp_u32);
    double n = r->requests > 0 ? (double)r->requests : 1;
    double ops = r->seconds > 0 ? (double)r->requests / r->seconds : 0;
    double cpu_us = (r->user_s + r->sys_s) * 1e6 / n;
    double user_us = r->user_s * 1e6 / n, sys_us = r->sys_s * 1e6 / n;
    uint32_t p50 = pct(0.50), p99 = pct(0.99), p999 = pct(0.999);
    uint32_t max = nlat ? lat[nlat - 1] : 0;
    const char *face = cfg->async_face ? "async" : "sync";
    int depth = cfg->async_face ? cfg->inflight : cfg->pipeline;

    if (cfg->csv) {
        printf("%s,%s,%d,%lld,%.3f,%.1f,%u,%u,%u,%u,%.3f,%.3f,%.3f,%lld\n", test_names[kind],
               face, depth, r->requests, r->seconds, ops, p50, p99, p999, max, cpu_us, user_us,
               sys_us, r->failures);
    } else if (cfg->quiet) {
        printf("%s: %.1f requests per second, p50=%u p99=%u p99.9=%u usec, "
               "cpu=%.2f usec/req (user %.2f sys %.2f), failures=%lld\n",
               test_names[kind], ops, p50, p99, p999, cpu_us, user_us, sys_us, r->failures);
    } else {
        printf("====== %s ======\n", test_names[kind]);
        printf("  %lld requests completed in %.3f seconds\n", r->requests, r->seconds);
        if (cfg->async_face)
            printf("  async face, %d in flight", cfg->inflight);
        else
            printf("  blocking face, pipeline %d", cfg->pipeline);
        printf(", %zu byte values, keyspace %lld, read policy %s%s\n", cfg->value_size,
               cfg->keyspace, cfg->read_policy, cfg->tls ? ", TLS" : "");
        printf("  throughput: %.1f requests per second\n", ops);
        if (cfg->no_latency)
            printf("  latency: not measured (--no-latency)\n");
        else
            printf("  latency (usec): p50 %u  p99 %u  p99.9 %u  max %u\n", p50, p99, p999, max);
        printf("  client CPU per request (usec): %.3f (user %.3f, sys %.3f)\n", cpu_us, user_us,
               sys_us);
        printf("  failures: %lld\n\n", r->failures);
    }
    fflush(stdout);
}

/* ------------------------------------------------------------ main */

/* The SET value, the latencies and the async face's start times. */
static int alloc_buffers(const config *cfg)
{
    value = malloc(cfg->value_size + 1);
    /* --no-latency keeps none (one entry, so the checks below hold). */
    lat = malloc((size_t)(cfg->no_latency ? 1 : cfg->requests) * sizeof(*lat));
    arun.start_ns = malloc((size_t)cfg->inflight * sizeof(*arun.start_ns));
    if (!value || !lat || !arun.start_ns) {
        fprintf(stderr, "clusterc-benchmark: out of memory for %lld latencies\n", cfg->requests);
        return -1;
    }
    memset(value, 'x', cfg->value_size);
    value[cfg->value_size] = '\0';
    return 0;
}

int main(int argc, char **argv)
{
    config cfg;
    clusterc_options o;
    int populated = 0, any_failed = 0;
    struct event_base *base = NULL;
    clusterc_async *a = NULL;

    parse_args(&cfg, argc, argv);
    options_from(&cfg, &o);
    if (alloc_buffers(&cfg) < 0)
        return 2;

    /* The blocking client checks the cluster is reachable (the async face
     * loads its map in the background), fills the keyspace and, for the
     * sync face, runs the tests. */
    clusterc_client *c = clusterc_connect(&o);
    if (!c || clusterc_error(c)) {
        fprintf(stderr, "clusterc-benchmark: cannot connect to %s: %s\n", cfg.seeds,
                c ? clusterc_errstr(c) : "out of memory");
        clusterc_free(c);
        return 2;
    }
    if (cfg.async_face) {
        base = event_base_new();
        a = base ? clusterc_async_connect(base, &o) : NULL;
        if (!a || clusterc_async_error(a)) {
            fprintf(stderr, "clusterc-benchmark: async client: %s\n",
                    a ? clusterc_async_errstr(a) : "out of memory");
            return 2;
        }
    }
    if (cfg.csv)
        printf("test,face,depth,requests,seconds,ops_per_sec,p50_us,p99_us,p999_us,max_us,"
               "cpu_us_per_req,user_us_per_req,sys_us_per_req,failures\n");

    for (int i = 0; i < cfg.ntests; i++) {
        int kind = cfg.tests[i];
        result res = { 0 };
        struct rusage ru0, ru1;
        if (kind == TEST_GET && !populated) {
            if (populate(c, &cfg) < 0) {
                clusterc_free(c);
                return 2;
            }
            populated = 1;
        }
        if (a && i == 0) {
            async_warmup(&cfg, base, a);
            if (cfg.background)
                background_start(a);
        }
        nlat = 0;
        getrusage(RUSAGE_SELF, &ru0);
        if (cfg.async_face)
            run_async(&cfg, base, a, kind, &res);
        else
            run_sync(&cfg, c, kind, &res);
        getrusage(RUSAGE_SELF, &ru1);
        res.user_s = tv_s(&ru1.ru_utime) - tv_s(&ru0.ru_utime);
        res.sys_s = tv_s(&ru1.ru_stime) - tv_s(&ru0.ru_stime);
        if (res.failures)
            any_failed = 1;
        report(&cfg, kind, &res);
    }

    if (a) {
        clusterc_async_disconnect(a);
        event_base_dispatch(base);   /* ends once every connection is closed */
        clusterc_async_free(a);
        event_base_free(base);
    }
    clusterc_free(c);
    free(lat);
    free(arun.start_ns);
    free(value);
    return any_failed ? 1 : 0;
}
