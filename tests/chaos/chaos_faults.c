/* chaos_faults.c -- the fault thread: until its end time, one fault at a
 * time, each bounded, the cluster brought back to ok after each. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <clusterc/admin.h>
#include "chaos.h"

const char *const chaos_fault_names[6] = {
    "kill_primary", "stop_primary", "failover", "reshard", "kill_replica", "client_kill",
};

static int rnd(chaos_faults *f, int n)
{
    f->seed = f->seed * 1103515245u + 12345u;
    return (int)((f->seed >> 16) % (unsigned)n);
}

static int pick(chaos_faults *f, const char *role)
{
    int n = 0;
    for (int i = 0; i < harness_count(f->h); i++)
        n += strcmp(harness_role(f->h, i), role) == 0;
    return n ? harness_nth_port(f->h, role, rnd(f, n)) : -1;
}

static const char *id_of(chaos_faults *f, int port)
{
    for (int i = 0; i < harness_count(f->h); i++)
        if (harness_port(f->h, i) == port)
            return harness_id(f->h, i);
    return NULL;
}

/* SIGKILL a primary, wait for its replica to take over, start it again. */
static int kill_node(chaos_faults *f, int port)
{
    if (port < 0 || harness_kill(f->h, port, "KILL") < 0)
        return -1;
    int rc = harness_wait_ok(f->h, 30);         /* the live nodes agree again */
    if (harness_restart(f->h, port) < 0)
        return -1;
    return rc;
}

static int stop_primary(chaos_faults *f)
{
    int port = pick(f, "master");
    if (port < 0 || harness_kill(f->h, port, "STOP") < 0)
        return -1;
    chaos_sleep_ms(f->node_timeout_ms / 2);     /* below node-timeout */
    return harness_kill(f->h, port, "CONT");
}

static clusterc_client *admin_client(chaos_faults *f)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = harness_seeds(f->h);
    clusterc_client *c = clusterc_connect(&o);
    if (c && clusterc_error(c)) {
        fprintf(stderr, "chaos[faults]: admin connect: %s\n", clusterc_errstr(c));
        clusterc_free(c);
        return NULL;
    }
    return c;
}

static void on_progress(const clusterc_admin_progress *p, void *arg)
{
    long long *keys = arg;
    if (p->keys_done > *keys)
        *keys = p->keys_done;
}

static int admin_fault(chaos_faults *f, int kind)
{
    clusterc_client *c = admin_client(f);
    if (!c)
        return -1;
    clusterc_admin_opts ao;
    clusterc_admin_opts_init(&ao);
    ao.timeout_ms = 20000;
    ao.migrate_timeout_ms = 5000;
    long long keys = 0;
    ao.progress = on_progress;
    ao.progress_arg = &keys;
    int rc;
    char addr[32];
    if (kind == 2) {
        snprintf(addr, sizeof addr, "127.0.0.1:%d", pick(f, "slave"));
        rc = clusterc_admin_failover(c, addr, CLUSTERC_FAILOVER_DEFAULT, &ao);
    } else {
        int from = pick(f, "master"), to = from;
        while (to == from)
            to = pick(f, "master");
        rc = clusterc_admin_reshard(c, id_of(f, from), id_of(f, to), 4, &ao);
        snprintf(addr, sizeof addr, "%d->%d", from, to);
    }
    if (rc < 0)
        fprintf(stderr, "chaos[faults]: %s %s: %s\n", chaos_fault_names[kind], addr,
                clusterc_errstr(c));
    f->keys_migrated += keys;
    clusterc_free(c);
    return rc;
}

/* CLIENT KILL TYPE normal on a random node: every client connection to it
 * is dropped (the killer's own is skipped). */
static int client_kill(chaos_faults *f)
{
    int port = harness_port(f->h, rnd(f, harness_count(f->h)));
    redisReply *r = harness_cmd(f->h, port, "CLIENT KILL TYPE normal");
    int rc = r && r->type == REDIS_REPLY_INTEGER ? 0 : -1;
    freeReplyObject(r);
    return rc;
}

static int run_fault(chaos_faults *f, int kind)
{
    switch (kind) {
    case 0: return kill_node(f, pick(f, "master"));
    case 1: return stop_primary(f);
    case 2: case 3: return admin_fault(f, kind);
    case 4: return kill_node(f, pick(f, "slave"));
    default: return client_kill(f);
    }
}

/* Print each failing node's view, then let the server's own tool assign
 * what a node sees unassigned (`redis-cli --cluster fix`): the cluster
 * can disagree about a slot's owner after a reshard, restarts and a
 * failover (docs/reliability.md, "Chaos"); that is the server's state, not
 * the clients', and the run goes on once it is repaired. */
static void repair(chaos_faults *f)
{
    for (int i = 0; i < harness_count(f->h); i++) {
        int port = harness_port(f->h, i);
        redisReply *r = harness_cmd(f->h, port, "CLUSTER INFO");
        int failing = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:fail");
        freeReplyObject(r);
        if (!failing)
            continue;
        r = harness_cmd(f->h, port, "CLUSTER NODES");
        fprintf(stderr, "chaos[faults]: %d says cluster_state:fail; its view:\n%s", port,
                r && r->type == REDIS_REPLY_STRING ? r->str : "(none)\n");
        freeReplyObject(r);
    }
    const char *srv = getenv("CLUSTERC_TEST_SERVER");
    char cmd[256];
    /* redis-cli 7.0 asks "Fix these slots by covering with a random
     * node?" even with --cluster-yes, and gives up on no answer: it is
     * given one. */
    snprintf(cmd, sizeof cmd, "yes yes | timeout 60 %s --cluster fix 127.0.0.1:%d --cluster-yes "
             ">&2", srv && strstr(srv, "valkey") ? "valkey-cli" : "redis-cli",
             harness_port(f->h, 0));
    f->repairs++;
    if (system(cmd) != 0)
        fprintf(stderr, "chaos[faults]: %s failed\n", cmd);
}

/* Back to ok: every node up and agreeing; after 30 s, a repair and 60 s
 * more. */
static void settle(chaos_faults *f)
{
    if (harness_wait_ok(f->h, 30) == 0)
        return;
    f->not_ok++;
    fprintf(stderr, "chaos[faults]: cluster not ok 30 s after a fault: repairing\n");
    repair(f);
    if (harness_wait_ok(f->h, 60) == 0)
        return;
    atomic_store(&f->broken, 1);
}

/* CHAOS_FAULTS="failover,reshard": only those kinds (to study one);
 * unset or naming none of them: all six. */
static unsigned fault_mask(void)
{
    const char *want = getenv("CHAOS_FAULTS");
    unsigned mask = 0;
    for (int k = 0; want && k < 6; k++) {
        size_t len = strlen(chaos_fault_names[k]);
        for (const char *p = strstr(want, chaos_fault_names[k]); p && !(mask & (1u << k));
             p = strstr(p + 1, chaos_fault_names[k]))
            if ((p == want || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
                mask |= 1u << k;
    }
    return mask ? mask : 0x3fu;
}

void *chaos_fault_thread(void *arg)
{
    chaos_faults *f = arg;
    int order[6] = { 0, 1, 2, 3, 4, 5 }, next = 6;
    unsigned mask = fault_mask();
    while (chaos_now_ms() < f->end_ms && !atomic_load(&f->broken)) {
        if (next == 6) {                       /* a new shuffled cycle */
            for (int i = 5; i > 0; i--) {
                int j = rnd(f, i + 1), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            next = 0;
        }
        int kind = order[next++];
        if (!(mask & (1u << kind)))
            continue;
        int64_t t0 = chaos_now_ms();
        atomic_store(&f->current, kind);
        int rc = run_fault(f, kind);
        f->count[kind]++;
        f->failed[kind] += rc < 0;
        settle(f);
        fprintf(stderr, "chaos[faults]: t=%lld %-12s %s in %lld ms (with settling)\n",
                (long long)t0, chaos_fault_names[kind], rc < 0 ? "FAILED" : "done",
                (long long)(chaos_now_ms() - t0));
        atomic_store(&f->progress_ms, chaos_now_ms());
        chaos_sleep_ms(1000);
        atomic_store(&f->current, -1);
    }
    atomic_store(&f->done, 1);
    return NULL;
}
