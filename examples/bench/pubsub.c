/* pubsub.c -- Pub/Sub figures for docs/benchmarks.md (clusterc-pubsub-bench).
 *
 *   clusterc-pubsub-bench --seeds h:p rate [--messages N]
 *       one async client subscribed to 50 shard channels (spread over every
 *       shard) receives N SPUBLISHes sent by a second client on the same
 *       loop (200 in flight): messages received per second.
 *   clusterc-pubsub-bench --seeds h:p gap --channel C [--seconds S]
 *       one shard channel; a SPUBLISH every 2 ms; prints the longest time
 *       between two received messages (run a failover meanwhile: that is
 *       the resubscribe gap), and the client's resubscribes and
 *       unsubscribed time. examples/bench/pubsub.sh drives both.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <clusterc/async.h>

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct event_base *base;
static clusterc_async *sub, *pub;
static long long received, sent, answered, target;
static int64_t first_us, last_us, worst_gap_us, stop_us;

static void on_msg(clusterc_async *a, const clusterc_message *m, void *pd)
{
    (void)a; (void)m; (void)pd;
    int64_t t = now_us();
    if (!first_us)
        first_us = t;
    else if (t - last_us > worst_gap_us)
        worst_gap_us = t - last_us;
    last_us = t;
    received++;
}

static void publish_more(void);

static void on_pub(clusterc_async *a, redisReply *r, void *pd)
{
    (void)a; (void)r; (void)pd;
    answered++;
    publish_more();
}

static void publish_more(void)
{
    while (sent < target && sent - answered < 200) {
        sent++;
        clusterc_async_command(pub, on_pub, NULL, "SPUBLISH {ch%lld} x", sent % 50);
    }
}

static clusterc_async *client(const char *seeds)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = seeds;
    clusterc_async *a = clusterc_async_connect(base, &o);
    if (!a || clusterc_async_error(a)) {
        fprintf(stderr, "cannot connect: %s\n", a ? clusterc_async_errstr(a) : "no memory");
        exit(2);
    }
    return a;
}

static void run_for(int64_t us)
{
    int64_t end = now_us() + us;
    struct timeval tv = { 0, 1000 };
    while (now_us() < end && (target == 0 || received < target)) {
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
}

static void rate(long long n)
{
    char ch[16];
    for (int i = 0; i < 50; i++) {
        snprintf(ch, sizeof(ch), "{ch%d}", i);
        clusterc_async_ssubscribe(sub, ch, on_msg, NULL);
    }
    run_for(1500000);   /* subscribed everywhere */
    target = n;
    int64_t t0 = now_us();
    publish_more();
    run_for(60000000);
    double s = (double)(last_us - t0) / 1e6;
    printf("rate: %lld of %lld messages in %.2f s: %.0f messages/s\n", received, n, s,
           s > 0 ? received / s : 0.0);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    clusterc_async_command(pub, NULL, NULL, "SPUBLISH %s x", (const char *)arg);
}

static void gap(const char *channel, int seconds)
{
    struct timeval every = { 0, 2000 };
    struct event *t = event_new(base, -1, EV_PERSIST, tick, (void *)channel);
    clusterc_async_ssubscribe(sub, channel, on_msg, NULL);
    run_for(1000000);
    worst_gap_us = 0;
    event_add(t, &every);
    stop_us = now_us() + (int64_t)seconds * 1000000;
    run_for((int64_t)seconds * 1000000);
    event_free(t);
    clusterc_stats st;
    clusterc_async_get_stats(sub, &st);
    printf("gap: longest silence %.1f ms; %lld messages; resubscribes %llu; unsubscribed %.1f ms\n",
           worst_gap_us / 1000.0, received, (unsigned long long)st.resubscribes,
           st.unsubscribed_us / 1000.0);
}

int main(int argc, char **argv)
{
    const char *seeds = NULL, *mode = NULL, *channel = "{gap}";
    long long n = 200000;
    int seconds = 10;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) seeds = argv[++i];
        else if (strcmp(argv[i], "--messages") == 0 && i + 1 < argc) n = atoll(argv[++i]);
        else if (strcmp(argv[i], "--channel") == 0 && i + 1 < argc) channel = argv[++i];
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = atoi(argv[++i]);
        else mode = argv[i];
    }
    if (!seeds || !mode || (strcmp(mode, "rate") && strcmp(mode, "gap")) || n < 1 || seconds < 1) {
        fprintf(stderr, "usage: clusterc-pubsub-bench --seeds h:p rate [--messages N] | "
                        "gap [--channel C] [--seconds S]\n");
        return 2;
    }
    base = event_base_new();
    sub = client(seeds);
    pub = client(seeds);
    if (strcmp(mode, "rate") == 0)
        rate(n);
    else
        gap(channel, seconds);
    clusterc_async_disconnect(sub);
    clusterc_async_disconnect(pub);
    event_base_dispatch(base);
    clusterc_async_free(sub);
    clusterc_async_free(pub);
    event_base_free(base);
    return 0;
}
