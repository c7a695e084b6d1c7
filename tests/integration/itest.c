/* itest.c -- shared helpers for the integration tests. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
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

const char *it_id_of_port(const harness *h, int port)
{
    for (int i = 0; i < harness_count(h); i++)
        if (harness_port(h, i) == port)
            return harness_id(h, i);
    fail_msg("no node on port %d", port);
    return NULL;
}

int it_other_master(const harness *h, int not_port)
{
    for (int i = 0; i < harness_count(h); i++)
        if (harness_port(h, i) != not_port && strcmp(harness_role(h, i), "master") == 0)
            return harness_port(h, i);
    fail_msg("no other master than %d", not_port);
    return -1;
}

void it_node_ok(harness *h, int port, const char *fmt, ...)
{
    char cmd[512];
    va_list ap;
    (void)h;   /* harness_connect knows the password of the running harness */
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    redisContext *c = harness_connect(port);
    if (!c)
        fail_msg("cannot connect to %d for: %s", port, cmd);
    redisReply *r = redisCommand(c, cmd);
    if (!r || r->type == REDIS_REPLY_ERROR)
        fail_msg("%d: %s -> %s", port, cmd, r ? r->str : c->errstr);
    freeReplyObject(r);
    redisFree(c);
}

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

void it_wait_replicas_online(harness *h)
{
    /* Let the replicas acknowledge everything, and every node's CLUSTER
     * SHARDS call them online (it says "loading" while their gossiped
     * offset is 0), before anyone reads. */
    for (int tries = 0; tries < 100; tries++) {
        int loading = 0;
        for (int i = 0; i < harness_count(h); i++) {
            redisReply *r = harness_cmd(h, harness_port(h, i), "CLUSTER SHARDS");
            for (size_t k = 0; r && r->type == REDIS_REPLY_ARRAY && k < r->elements; k++) {
                redisReply *nodes = r->element[k]->element[3];
                for (size_t j = 0; j < nodes->elements; j++) {
                    redisReply *nd = nodes->element[j];
                    for (size_t f = 0; f + 1 < nd->elements; f += 2)
                        if (strcmp(nd->element[f]->str, "health") == 0 &&
                            strcmp(nd->element[f + 1]->str, "online") != 0)
                            loading++;
                }
            }
            freeReplyObject(r);
        }
        if (!loading)
            break;
        nap_ms(100);
    }
    nap_ms(1200);
}

int it_master_port_of(harness *h, int port)
{
    redisReply *r = harness_cmd(h, port, "ROLE");
    int m = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
        r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "slave") == 0 &&
        r->element[2]->type == REDIS_REPLY_INTEGER)
        m = (int)r->element[2]->integer;
    freeReplyObject(r);
    return m;
}

void it_learn_shards(harness *h, int primary[3], int rep[3][2])
{
    int np = 0, nr[3] = { 0, 0, 0 };
    for (int i = 0; i < harness_count(h); i++)
        if (strcmp(harness_role(h, i), "master") == 0 && np < 3)
            primary[np++] = harness_port(h, i);
    assert_int_equal(np, 3);
    for (int i = 0; i < harness_count(h); i++) {
        int m = it_master_port_of(h, harness_port(h, i));
        for (int s = 0; s < 3 && m > 0; s++)
            if (primary[s] == m && nr[s] < 2)
                rep[s][nr[s]++] = harness_port(h, i);
    }
    for (int s = 0; s < 3; s++)
        assert_int_equal(nr[s], 2);
}
