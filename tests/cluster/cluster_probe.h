/*
 * cluster_probe.h -- what the servers of a harness cluster say, for tests
 * that check a client's behaviour from the servers' side: command counts
 * (INFO commandstats), roles, the primary of a key, a slot moved by hand,
 * and a delay proxy (delay_proxy.py) in front of a node.
 *
 * Header-only (static inline) so a test program takes it without a build
 * change; it needs hiredis, harness.h and clusterc_keyslot. Every function
 * returns -1 on failure (printing why on stderr) and never asserts, so the
 * caller decides what a failure means. Not thread-safe, like the harness.
 */
#ifndef CLUSTERC_TEST_CLUSTER_PROBE_H
#define CLUSTERC_TEST_CLUSTER_PROBE_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#include <clusterc/clusterc.h>
#include "harness.h"

/* One command (hiredis format) on port that must neither fail nor reply
 * an error: 0 / -1. */
static inline int probe_ok(harness *h, int port, const char *fmt, ...)
{
    va_list ap;
    redisContext *c = harness_connect(port);
    redisReply *r = NULL;
    (void)h;   /* harness_connect knows the password of the running harness */
    if (c) {
        va_start(ap, fmt);
        r = redisvCommand(c, fmt, ap);
        va_end(ap);
    }
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (!ok)
        fprintf(stderr, "probe: %d: %s -> %s\n", port, fmt,
                r ? r->str : c ? c->errstr : "cannot connect");
    freeReplyObject(r);
    redisFree(c);
    return ok ? 0 : -1;
}

/* Calls of one command on one node since its last CONFIG RESETSTAT, from
 * INFO commandstats. Redis 7 counts sub-commands apart: "cluster|shards".
 * 0 when never called; -1 when the node does not answer. */
static inline long long probe_cmdstat(harness *h, int port, const char *cmd)
{
    char needle[96];
    redisReply *r = harness_cmd(h, port, "INFO commandstats");
    if (!r || r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return -1;
    }
    snprintf(needle, sizeof(needle), "cmdstat_%s:calls=", cmd);
    const char *p = strstr(r->str, needle);
    long long calls = p ? atoll(p + strlen(needle)) : 0;
    freeReplyObject(r);
    return calls;
}

/* CONFIG RESETSTAT on every node. */
static inline int probe_reset_stats(harness *h)
{
    for (int i = 0; i < harness_count(h); i++)
        if (probe_ok(h, harness_port(h, i), "CONFIG RESETSTAT") < 0)
            return -1;
    return 0;
}

/* Slot-map loads (CLUSTER SHARDS and CLUSTER SLOTS) every node served since
 * probe_reset_stats. harness_primary_of_slot sends CLUSTER SLOTS: do not
 * call it in between. */
static inline long long probe_map_loads(harness *h)
{
    long long n = 0;
    for (int i = 0; i < harness_count(h); i++) {
        long long a = probe_cmdstat(h, harness_port(h, i), "cluster|shards");
        long long b = probe_cmdstat(h, harness_port(h, i), "cluster|slots");
        if (a < 0 || b < 0)
            return -1;
        n += a + b;
    }
    return n;
}

/* The primary port port replicates from (ROLE), 0 for a primary, -1 when it
 * does not answer. */
static inline int probe_primary_of(harness *h, int port)
{
    redisReply *r = harness_cmd(h, port, "ROLE");
    int m = -1;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
        strcmp(r->element[0]->str, "slave") == 0)
        m = (int)r->element[2]->integer;
    else if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
             strcmp(r->element[0]->str, "master") == 0)
        m = 0;
    freeReplyObject(r);
    return m;
}

/* A replica of primary (the first in port order), or -1. */
static inline int probe_replica_of(harness *h, int primary)
{
    for (int i = 0; i < harness_count(h); i++)
        if (probe_primary_of(h, harness_port(h, i)) == primary)
            return harness_port(h, i);
    return -1;
}

/* A key "prefix:N" whose slot the primary on port serves, into out. */
static inline int probe_key_on(harness *h, int port, const char *prefix, char *out, size_t cap)
{
    for (int i = 0; i < 100000; i++) {
        snprintf(out, cap, "%s:%d", prefix, i);
        if (harness_primary_of_slot(h, clusterc_keyslot(out, strlen(out))) == port)
            return 0;
    }
    fprintf(stderr, "probe: no key on %d\n", port);
    return -1;
}

/* Wait up to timeout_ms until the replica on port holds key = value
 * (READONLY, then GET), so a test that kills the primary next knows the
 * write survives. 0 / -1. */
static inline int probe_replicated(int port, const char *key, const char *value, int timeout_ms)
{
    redisContext *c = harness_connect(port);
    redisReply *r = c ? redisCommand(c, "READONLY") : NULL;
    int ok = 0;
    freeReplyObject(r);
    for (int waited = 0; c && !ok && waited <= timeout_ms; waited += 20) {
        r = redisCommand(c, "GET %s", key);
        ok = r && r->type == REDIS_REPLY_STRING && strcmp(r->str, value) == 0;
        freeReplyObject(r);
        if (!ok)
            usleep(20000);
    }
    redisFree(c);
    if (!ok)
        fprintf(stderr, "probe: %d does not hold %s=%s\n", port, key, value);
    return ok ? 0 : -1;
}

static inline const char *probe_id(const harness *h, int port)
{
    for (int i = 0; i < harness_count(h); i++)
        if (harness_port(h, i) == port)
            return harness_id(h, i);
    return "unknown";
}

static inline int probe_setslot(harness *h, int port, int slot, const char *how, int node)
{
    return probe_ok(h, port, "CLUSTER SETSLOT %d %s %s", slot, how, probe_id(h, node));
}

/* Open a slot move as redis-cli does: IMPORTING on the target, then
 * MIGRATING on the source (so no key is ever without a home). The caller
 * MIGRATEs the keys, then calls probe_slot_close. */
static inline int probe_slot_open(harness *h, int slot, int src, int dst)
{
    if (probe_setslot(h, dst, slot, "IMPORTING", src) < 0)
        return -1;
    return probe_setslot(h, src, slot, "MIGRATING", dst);
}

/* SETSLOT NODE on the target first (it bumps the target's config epoch, so
 * the move wins in every node's view, replicas included), then the source,
 * then every other primary. */
static inline int probe_slot_close(harness *h, int slot, int src, int dst)
{
    if (probe_setslot(h, dst, slot, "NODE", dst) < 0 ||
        probe_setslot(h, src, slot, "NODE", dst) < 0)
        return -1;
    for (int i = 0; i < harness_count(h); i++) {
        int p = harness_port(h, i);
        if (p != src && p != dst && strcmp(harness_role(h, i), "master") == 0 &&
            probe_setslot(h, p, slot, "NODE", dst) < 0)
            return -1;
    }
    return 0;
}

/* Start tests/cluster/delay_proxy.py on listen, in front of target, adding
 * delay_ms to each round trip; returns its pid once it accepts connections
 * (stop it with probe_delay_proxy_stop), or -1. It exits by itself after
 * 300 s. */
static inline pid_t probe_delay_proxy(const char *python, const char *script, int listen,
                                      int target, int delay_ms)
{
    char cmd[1024], line[64];
    snprintf(cmd, sizeof(cmd), "'%s' '%s' --listen %d --target %d --delay-ms %d "
             "--max-life 300 >/dev/null 2>&1 & echo $!", python, script, listen, target, delay_ms);
    fflush(NULL);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    pid_t pid = fgets(line, sizeof(line), p) ? (pid_t)atoi(line) : -1;
    pclose(p);
    for (int i = 0; pid > 0 && i < 100; i++) {
        redisContext *rc = redisConnect("127.0.0.1", listen);
        int ok = rc && !rc->err;
        redisFree(rc);
        if (ok)
            return pid;
        usleep(50000);
    }
    fprintf(stderr, "probe: the delay proxy on %d did not start\n", listen);
    if (pid > 0)
        kill(pid, SIGTERM);
    return -1;
}

/* SIGTERM the proxy and wait (up to 5 s) until its port refuses, so a new
 * proxy can take the port and no client reaches the old one. */
static inline void probe_delay_proxy_stop(pid_t pid, int listen)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 250; i++) {
        redisContext *rc = redisConnect("127.0.0.1", listen);
        int up = rc && !rc->err;
        redisFree(rc);
        if (!up)
            return;
        usleep(20000);
    }
    fprintf(stderr, "probe: the delay proxy on %d is still up\n", listen);
}

#endif /* CLUSTERC_TEST_CLUSTER_PROBE_H */
