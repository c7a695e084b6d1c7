/* itest.c -- shared helpers for the integration tests. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <time.h>
#include "itest.h"

clusterc_client *it_client(const harness *h, const clusterc_options *opts)
{
    clusterc_options o;
    if (opts)
        o = *opts;
    else
        clusterc_options_init(&o);
    o.seeds = harness_seeds(h);
    if (!o.password)
        o.password = harness_password(h);
    clusterc_client *c = clusterc_connect(&o);
    assert_non_null(c);
    if (clusterc_error(c))
        fail_msg("connect: %s", clusterc_errstr(c));
    return c;
}

int64_t it_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what; (void)arg;
}

int it_loop_until(struct event_base *base, const int *flag, int timeout_ms)
{
    int64_t end = it_now_ms() + timeout_ms;
    /* A periodic no-op timer makes each EVLOOP_ONCE return at least every
     * 10 ms, so the deadline is checked even when nothing happens. */
    struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = { 0, 10000 };
    event_add(t, &tv);
    while (!*flag && it_now_ms() < end)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
    return *flag;
}

void it_expect_str(redisReply *r, const char *want)
{
    assert_non_null(r);
    if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)
        fail_msg("reply type %d (%s), want \"%s\"", r->type,
                 r->type == REDIS_REPLY_ERROR ? r->str : "-", want);
    assert_string_equal(r->str, want);
}
