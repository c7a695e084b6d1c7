/* startup.c -- what a fleet of clients starting at once costs the cluster:
 * N async clients connect on one event_base at the same moment, each sends
 * one GET right away (it waits for the first map), and the program reports
 * the time until every client sent READY and how many CLUSTER SHARDS /
 * SLOTS calls the servers saw (INFO commandstats, cmdstat_cluster, summed
 * over every node of the map, before and after).
 *
 *   clusterc-startup --seeds h:p[,h:p] [--clients N]
 *
 * Put the seed behind tests/cluster/delay_proxy.py to see the effect of a
 * slow first load (the commands sent meanwhile must not ask for more). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <clusterc/async.h>

#define MAX_CLIENTS 1000

static int64_t t0_us, ready_us[MAX_CLIENTS];
static int nready, ngot, nclients;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_event(const clusterc_event *ev, void *privdata)
{
    int64_t *slot = privdata;
    if (ev->type == CLUSTERC_EVENT_READY && *slot == 0) {
        *slot = now_us() - t0_us;
        nready++;
    }
}

static void on_get(clusterc_async *a, redisReply *r, void *privdata)
{
    (void)privdata;
    if (!r)
        fprintf(stderr, "GET failed: %s\n", clusterc_async_errstr(a));
    ngot++;
}

/* Calls of one command in an INFO commandstats text (Redis 7 counts
 * sub-commands apart: "cmdstat_cluster|shards:calls=N,..."). */
static long long calls_of(const char *info, const char *name)
{
    char key[64];
    snprintf(key, sizeof(key), "cmdstat_%s:calls=", name);
    const char *p = strstr(info, key);
    return p ? atoll(p + strlen(key)) : 0;
}

/* CLUSTER SHARDS and CLUSTER SLOTS calls over every node of c's map. */
static long long cluster_calls(clusterc_client *c)
{
    clusterc_node_info info[256];
    long long sum = 0;
    int n = clusterc_node_stats(c, info, 256);
    for (int i = 0; i < n && i < 256; i++) {
        redisReply *r = clusterc_command_to_node(c, info[i].addr, "INFO commandstats");
        if (r && r->type == REDIS_REPLY_STRING)
            sum += calls_of(r->str, "cluster|shards") + calls_of(r->str, "cluster|slots");
        freeReplyObject(r);
    }
    return sum;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void run(const char *seeds, struct event_base *base, clusterc_async **as)
{
    t0_us = now_us();
    for (int i = 0; i < nclients; i++) {
        clusterc_options o;
        clusterc_options_init(&o);
        o.seeds = seeds;
        o.command_timeout_ms = 5000;
        o.on_event = on_event;
        o.event_privdata = &ready_us[i];
        as[i] = clusterc_async_connect(base, &o);
        if (!as[i] || clusterc_async_command(as[i], on_get, NULL, "GET startup:%d", i) < 0)
            exit(2);
    }
    for (int turns = 0; ngot < nclients && turns < 1000000; turns++)
        event_base_loop(base, EVLOOP_ONCE);
    for (int i = 0; i < nclients; i++)
        clusterc_async_disconnect(as[i]);
    event_base_dispatch(base);
}

int main(int argc, char **argv)
{
    const char *seeds = NULL;
    nclients = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seeds") == 0) seeds = argv[i + 1];
        else if (strcmp(argv[i], "--clients") == 0) nclients = atoi(argv[i + 1]);
    }
    if (!seeds || nclients < 1 || nclients > MAX_CLIENTS) {
        fprintf(stderr, "usage: clusterc-startup --seeds h:p[,h:p] [--clients 1..%d]\n", MAX_CLIENTS);
        return 2;
    }
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = seeds;
    clusterc_client *stats = clusterc_connect(&o);
    if (!stats || clusterc_error(stats)) {
        fprintf(stderr, "cannot reach %s: %s\n", seeds, stats ? clusterc_errstr(stats) : "no memory");
        return 2;
    }
    long long before = cluster_calls(stats);
    struct event_base *base = event_base_new();
    clusterc_async **as = calloc((size_t)nclients, sizeof(*as));
    run(seeds, base, as);
    long long loads = cluster_calls(stats) - before;
    uint64_t refreshes = 0;
    for (int i = 0; i < nclients; i++) {
        clusterc_stats st;
        clusterc_async_get_stats(as[i], &st);
        refreshes += st.refreshes;
        clusterc_async_free(as[i]);
    }
    qsort(ready_us, (size_t)nclients, sizeof(ready_us[0]), cmp64);
    printf("clients %d, ready %d, GETs answered %d\n", nclients, nready, ngot);
    printf("time to READY: median %.1f ms, max %.1f ms\n", ready_us[nclients / 2] / 1000.0,
           ready_us[nclients - 1] / 1000.0);
    printf("CLUSTER calls seen by the servers: %lld (%.2f per client); client map loads: %llu\n",
           loads, (double)loads / nclients, (unsigned long long)refreshes);
    free(as);
    event_base_free(base);
    clusterc_free(stats);
    return nready == nclients ? 0 : 1;
}
