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
    o->max_inflight = 100000;
    o->max_node_queue = 10000;
}

/* A volatile pointer to memset: the call cannot be proven dead, so it is
 * not removed even though the memory is freed right after. */
static void *(*const volatile wipe_fn)(void *, int, size_t) = memset;

void clusterc__secret_wipe(void *p, size_t n)
{
    if (p && n)
        wipe_fn(p, 0, n);
}

void clusterc__secret_free(char *s)
{
    if (s)
        clusterc__secret_wipe(s, strlen(s));
    free(s);
}

static int range(clusterc__err *err, const char *name, int v, int lo, int hi)
{
    if (v >= lo && v <= hi)
        return 0;
    clusterc__err_set(err, CLUSTERC_EINVAL, "option %s = %d is out of range (%d..%d)",
                      name, v, lo, hi);
    return -1;
}

/* TLS options make sense together and with tls on (a CA file given with
 * tls off is a forgotten tls = 1, not something to ignore). Files are
 * checked when the client builds its TLS context. */
static int check_tls(const clusterc_options *o, clusterc__err *err)
{
    const char *names[] = {"tls_ca_file", "tls_ca_dir", "tls_cert_file", "tls_key_file",
                           "tls_server_name", "tls_min_version"};
    const char *vals[] = {o->tls_ca_file, o->tls_ca_dir, o->tls_cert_file, o->tls_key_file,
                          o->tls_server_name, o->tls_min_version};
    if (o->tls != 0 && o->tls != 1)
        return clusterc__err_set(err, CLUSTERC_EINVAL, "option tls = %d: want 0 or 1", o->tls), -1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (vals[i] && !o->tls)
            return clusterc__err_set(err, CLUSTERC_EINVAL, "option %s is set but tls is off "
                                     "(set tls = 1, or use a rediss:// URL)", names[i]), -1;
    if (o->tls_insecure_skip_verify && !o->tls)
        return clusterc__err_set(err, CLUSTERC_EINVAL, "option tls_insecure_skip_verify is set "
                                 "but tls is off"), -1;
    if (!o->tls_cert_file != !o->tls_key_file)
        return clusterc__err_set(err, CLUSTERC_EINVAL, "option %s is set without %s",
                                 o->tls_cert_file ? "tls_cert_file" : "tls_key_file",
                                 o->tls_cert_file ? "tls_key_file" : "tls_cert_file"), -1;
    if (o->tls_min_version && strcmp(o->tls_min_version, "1.2") != 0 &&
        strcmp(o->tls_min_version, "1.3") != 0)
        return clusterc__err_set(err, CLUSTERC_EINVAL, "option tls_min_version = \"%.20s\": "
                                 "want \"1.2\" or \"1.3\"", o->tls_min_version), -1;
    if (o->tls_server_name && !o->tls_server_name[0])
        return clusterc__err_set(err, CLUSTERC_EINVAL, "option tls_server_name is empty"), -1;
    return 0;
}

/* Zone names are compared whole, and kept (node stats) up to 63 bytes. */
static int check_az(const clusterc_options *o, clusterc__err *err)
{
    if (o->az_affinity < 0 || o->az_affinity > 2)
        return clusterc__err_set(err, CLUSTERC_EINVAL, "option az_affinity = %d: want 0 (off), "
                                 "1 (replicas in client_az first) or 2 (then its primary)",
                                 o->az_affinity), -1;
    if (o->az_affinity && (!o->client_az || !o->client_az[0]))
        return clusterc__err_set(err, CLUSTERC_EINVAL, "option az_affinity needs client_az "
                                 "(the zone this client runs in)"), -1;
    if (o->client_az && strlen(o->client_az) > 63)
        return clusterc__err_set(err, CLUSTERC_EINVAL, "option client_az is longer than 63 "
                                 "bytes"), -1;
    return 0;
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
    if (o->seeds && strchr(o->seeds, '@')) {   /* never quoted: it may hold a password */
        clusterc__err_set(err, CLUSTERC_EINVAL, "option seeds: a seed holds '@' (a URL with "
                          "user info? pass URLs to clusterc_options_parse_url; seeds are "
                          "host:port)");
        return -1;
    }
    int rc = o->seeds ? clusterc__seeds_parse(o->seeds, &seeds, &n, why, sizeof(why)) : -1;
    if (rc < 0) {
        clusterc__err_set(err, rc == -2 ? CLUSTERC_ENOMEM : CLUSTERC_EINVAL, "option seeds: %s",
                          o->seeds ? why : "not set (want \"host:port,...\")");
        return -1;
    }
    free(seeds);
    clusterc__remap *map = NULL;
    rc = clusterc__remap_parse(o->node_address_map, &map, &n, why, sizeof(why));
    if (rc < 0) {
        clusterc__err_set(err, rc == -2 ? CLUSTERC_ENOMEM : CLUSTERC_EINVAL,
                          "option node_address_map: %s", why);
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
    if (check_tls(o, err) < 0 || check_az(o, err) < 0)
        return -1;
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
           range(err, "pubsub_queue_max", o->pubsub_queue_max, 1, 100000000) ||
           range(err, "max_inflight", o->max_inflight, 0, 1000000000) ||
           range(err, "max_node_queue", o->max_node_queue, 0, 1000000000) ? -1 : 0;
}
