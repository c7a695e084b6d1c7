/* options.c -- option defaults and validation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "addr.h"
#include "errors.h"
#include "options.h"
#include "remap.h"

CLUSTERC_API void clusterc_options_init(clusterc_options *o)
{
    memset(o, 0, sizeof(*o));
    o->connect_timeout_ms = 1000;
    o->command_timeout_ms = 2000;
    o->max_redirects = 3;
    o->max_retries = 16;
    o->retry_backoff_min_ms = 8;
    o->retry_backoff_max_ms = 512;
    o->refresh_min_interval_ms = 1000;
    o->refresh_interval_ms = 60000;
    o->tcp_keepalive_s = 60;
    o->latency_tolerance_us = 1000;
    o->latency_probe_ms = 1000;
    o->failing_ms = 15000;
    o->lag_probe_ms = 1000;
    o->blocking_pool_size = 4;
    o->pubsub_queue_max = 10000;
    o->multi_slot_split = 1;
}

static int range(clusterc__err *err, const char *name, int v, int lo, int hi)
{
    if (v >= lo && v <= hi)
        return 0;
    clusterc__err_set(err, CLUSTERC_EINVAL, "option %s = %d is out of range (%d..%d)",
                      name, v, lo, hi);
    return -1;
}

int clusterc__options_check(const clusterc_options *o, clusterc__err *err)
{
    clusterc__addr *seeds = NULL;
    size_t n = 0;
    char why[256];
    if (!o) {
        clusterc__err_set(err, CLUSTERC_EINVAL, "options: NULL");
        return -1;
    }
    if (!o->seeds || clusterc__seeds_parse(o->seeds, &seeds, &n, why, sizeof(why)) < 0) {
        clusterc__err_set(err, CLUSTERC_EINVAL, "option seeds: %s",
                          o->seeds ? why : "not set (want \"host:port,...\")");
        return -1;
    }
    free(seeds);
    clusterc__remap *map = NULL;
    if (clusterc__remap_parse(o->node_address_map, &map, &n, why, sizeof(why)) < 0) {
        clusterc__err_set(err, CLUSTERC_EINVAL, "option node_address_map: %s", why);
        return -1;
    }
    free(map);
    if (o->max_lag_bytes < 0) {
        clusterc__err_set(err, CLUSTERC_EINVAL, "option max_lag_bytes = %lld is negative",
                          o->max_lag_bytes);
        return -1;
    }
    if (o->username && !o->password) {
        clusterc__err_set(err, CLUSTERC_EINVAL, "option username is set without a password");
        return -1;
    }
    return range(err, "connect_timeout_ms", o->connect_timeout_ms, 1, 3600000) ||
           range(err, "command_timeout_ms", o->command_timeout_ms, 1, 86400000) ||
           range(err, "max_redirects", o->max_redirects, -1, 1000) ||
           range(err, "max_retries", o->max_retries, 0, 1000) ||
           range(err, "retry_backoff_min_ms", o->retry_backoff_min_ms, 1, 60000) ||
           range(err, "retry_backoff_max_ms", o->retry_backoff_max_ms,
                 o->retry_backoff_min_ms, 600000) ||
           range(err, "refresh_min_interval_ms", o->refresh_min_interval_ms, 0, 3600000) ||
           range(err, "refresh_interval_ms", o->refresh_interval_ms, 0, 86400000) ||
           range(err, "tcp_keepalive_s", o->tcp_keepalive_s, 0, 86400) ||
           range(err, "latency_tolerance_us", o->latency_tolerance_us, 0, 60000000) ||
           range(err, "latency_probe_ms", o->latency_probe_ms, 0, 3600000) ||
           range(err, "failing_ms", o->failing_ms, 0, 3600000) ||
           range(err, "max_lag_ms", o->max_lag_ms, 0, 86400000) ||
           range(err, "lag_probe_ms", o->lag_probe_ms, 10, 3600000) ||
           range(err, "blocking_pool_size", o->blocking_pool_size, 1, 1024) ||
           range(err, "pubsub_queue_max", o->pubsub_queue_max, 1, 100000000) ? -1 : 0;
}
