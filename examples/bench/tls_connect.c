/* tls_connect.c -- what a new connection costs, plain or TLS: N times
 * clusterc_connect with one seed, then clusterc_free, one after the other.
 * Per cycle, from the start of clusterc_connect:
 *   up     to the seed's NODE_CONNECTED event: TCP connect, and with --tls
 *          the whole TLS handshake (certificate checks included);
 *   ready  to READY: the first slot map installed (one connection so far:
 *          the seed's, and its CLUSTER SHARDS);
 *   cycle  to the end of clusterc_free. The cycle holds more than the seed's
 *          connection: once the map is in, the client asks one primary for
 *          COMMAND (a second connection, here), and clusterc_free waits for
 *          what is in flight;
 * and this process's CPU (getrusage user+sys; the servers' work is not in
 * it) to READY and over the whole cycle, and the connections that came up
 * per cycle (NODE_CONNECTED events). TLS minus plain to READY = one
 * handshake, plus what making the client's TLS context costs (SSL_CTX_new
 * and reading the CA file, once per client, not per connection):
 * --ctx-only measures that part alone, as lib/engine/tls.c does it.
 *
 *   clusterc-tls-connect --seed HOST:PORT [-n 200] [--tls] [--tls-ca FILE]
 *                        [--timeout-ms MS]
 *   clusterc-tls-connect --ctx-only [-n 200] [--tls-ca FILE]
 * --timeout-ms sets connect_timeout_ms and command_timeout_ms (default: the
 * library's): under valgrind a handshake can outlast 1 s and be retried.
 * Prints one CSV line:
 *   mode,cycles,up_ms_p50,ready_ms_p50,cycle_ms_p50,cpu_ready_us,cpu_cycle_us,conns_per_cycle
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <openssl/ssl.h>
#include <clusterc/clusterc.h>

#define MAX_CYCLES 100000

typedef struct opts {
    const char *seed, *ca;
    int n, tls, ctx_only, timeout_ms;
} opts;

static int64_t t_start, t_up, t_ready;
static int64_t *up_us, *ready_us, *cycle_us;
static double cpu_start, cpu_ready;   /* s, this cycle */
static long long ups;                 /* NODE_CONNECTED events, all cycles */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* This process's CPU so far, user + sys, in seconds. */
static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double median_ms(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp64);
    return (double)v[(n - 1) / 2] / 1000.0;
}

static void on_event(const clusterc_event *ev, void *privdata)
{
    (void)privdata;
    if (ev->type == CLUSTERC_EVENT_NODE_CONNECTED) {
        ups++;
        if (!t_up)
            t_up = now_us();
    } else if (ev->type == CLUSTERC_EVENT_READY && !t_ready) {
        t_ready = now_us();
        cpu_ready = cpu_now() - cpu_start;
    }
}

/* One client: connect, wait for the map, free. Returns 0, or -1 when it
 * failed; adds the CPU to READY to *ready_s. */
static int cycle(const opts *p, int i, double *ready_s)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = p->seed;
    o.tls = p->tls;
    o.tls_ca_file = p->ca;
    o.on_event = on_event;
    if (p->timeout_ms > 0)
        o.connect_timeout_ms = o.command_timeout_ms = p->timeout_ms;
    t_up = t_ready = 0;
    cpu_start = cpu_now();
    t_start = now_us();
    clusterc_client *c = clusterc_connect(&o);
    if (!c || clusterc_error(c) || !t_up || !t_ready) {
        fprintf(stderr, "clusterc-tls-connect: %s: %s\n", p->seed,
                c ? clusterc_errstr(c) : "out of memory");
        clusterc_free(c);
        return -1;
    }
    clusterc_free(c);
    up_us[i] = t_up - t_start;
    ready_us[i] = t_ready - t_start;
    cycle_us[i] = now_us() - t_start;
    *ready_s += cpu_ready;
    return 0;
}

/* What clusterc__tls_new does per client: the context, the CA file. */
static int ctx_cycle(const opts *p, int i, double *ready_s)
{
    int64_t t0 = now_us();
    double c0 = cpu_now();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return -1;
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = p->ca ? SSL_CTX_load_verify_locations(ctx, p->ca, NULL)
                   : SSL_CTX_set_default_verify_paths(ctx);
    SSL_CTX_free(ctx);
    up_us[i] = ready_us[i] = cycle_us[i] = now_us() - t0;
    *ready_s += cpu_now() - c0;
    return ok == 1 ? 0 : -1;
}

static void parse(opts *p, int argc, char **argv)
{
    memset(p, 0, sizeof(*p));
    p->n = 200;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--tls") == 0) p->tls = 1;
        else if (strcmp(a, "--ctx-only") == 0) p->ctx_only = 1;
        else if (strcmp(a, "--seed") == 0 && v) p->seed = argv[++i];
        else if (strcmp(a, "--tls-ca") == 0 && v) p->ca = argv[++i], p->tls = 1;
        else if (strcmp(a, "-n") == 0 && v) p->n = atoi(argv[++i]);
        else if (strcmp(a, "--timeout-ms") == 0 && v) p->timeout_ms = atoi(argv[++i]);
        else p->n = 0, i = argc;
    }
    if (p->n < 1 || p->n > MAX_CYCLES || (!p->seed && !p->ctx_only)) {
        fprintf(stderr, "usage: clusterc-tls-connect --seed HOST:PORT [-n 200] [--tls] "
                        "[--tls-ca FILE] [--timeout-ms MS]\n"
                        "       clusterc-tls-connect --ctx-only [-n 200] [--tls-ca FILE]\n");
        exit(2);
    }
}

int main(int argc, char **argv)
{
    opts p;
    double ready_s = 0;
    parse(&p, argc, argv);
    up_us = calloc((size_t)p.n, sizeof(*up_us));
    ready_us = calloc((size_t)p.n, sizeof(*ready_us));
    cycle_us = calloc((size_t)p.n, sizeof(*cycle_us));
    if (!up_us || !ready_us || !cycle_us)
        return 2;
    double c0 = cpu_now();
    for (int i = 0; i < p.n; i++)
        if ((p.ctx_only ? ctx_cycle(&p, i, &ready_s) : cycle(&p, i, &ready_s)) < 0)
            return 1;
    double cpu = cpu_now() - c0;
    printf("%s,%d,%.3f,%.3f,%.3f,%.1f,%.1f,%.2f\n", p.ctx_only ? "ctx" : p.tls ? "tls" : "plain",
           p.n, median_ms(up_us, p.n), median_ms(ready_us, p.n), median_ms(cycle_us, p.n),
           ready_s * 1e6 / p.n, cpu * 1e6 / p.n, (double)ups / p.n);
    free(up_us);
    free(ready_us);
    free(cycle_us);
    return 0;
}
