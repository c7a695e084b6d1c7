/* chaos_main.c -- it_chaos: a 3+3 cluster (node-timeout 1000 ms) on ports
 * 23700-23705 (bus 13700-13705; CLUSTERC_TEST_PORT_SHIFT=1500 for Valkey:
 * 25200-25205), three clients under load and a fault thread for
 * CHAOS_SECONDS (default 40), then a final round, a report and the pass
 * criteria (docs/reliability.md, "Chaos"). Exit 0 = pass. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "chaos.h"

#define CHAOS_BASE_PORT 23700
#define FD_SLACK 2
#define RSS_BOUND_KB (8 * 1024)
#define HANG_CLIENT_MS 30000
#define HANG_FAULTS_MS 240000

atomic_int chaos_phase = PH_RUN;

static chaos_client CL[3];
chaos_faults chaos_F;
#define F chaos_F

static int env_int(const char *name, int dflt)
{
    const char *e = getenv(name);
    return e && atoi(e) > 0 ? atoi(e) : dflt;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3;                 /* ".", ".." and the directory's own fd */
}

static long rss_kb(void)
{
    long size = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &rss) != 2)
        rss = -1;
    fclose(f);
    return rss < 0 ? -1 : rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The primary port serving each slot, from one CLUSTER SLOTS. */
static int slot_owners(harness *h, int *owner)
{
    redisReply *r = harness_cmd(h, harness_nth_port(h, "master", 0), "CLUSTER SLOTS");
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        for (long long s = e->element[0]->integer; s <= e->element[1]->integer; s++)
            owner[s] = (int)e->element[2]->element[1]->integer;
    }
    freeReplyObject(r);
    return 0;
}

/* Keys: one in four is in a slot the reshard fault moves (it moves the
 * lowest slots of its source: the first 4 slots of each initial range), named with a hash tag found by trying; the rest spread. */
static void make_keys(chaos_client *cl, const int *owner, const int *masters)
{
    static const int hot_base[CHAOS_SHARDS] = { 0, 5461, 10923 };
    for (int i = 0; i < CHAOS_KEYS; i++) {
        chaos_key *k = &cl->keys[i];
        if (i % 4 == 0) {
            int want = hot_base[(i / 4) % CHAOS_SHARDS] + i / 12;
            char tag[24];
            for (int t = 0;; t++) {
                snprintf(tag, sizeof tag, "h%d", t);
                if (clusterc_keyslot(tag, strlen(tag)) == want)
                    break;
            }
            snprintf(k->name, sizeof k->name, "{%s}chaos:%s:%d", tag, cl->name, i);
        } else {
            snprintf(k->name, sizeof k->name, "chaos:%s:%d", cl->name, i);
        }
        int port = owner[clusterc_keyslot(k->name, strlen(k->name))];
        for (int s = 0; s < CHAOS_SHARDS; s++)
            if (masters[s] == port)
                k->shard = s;
    }
}

static int setup_clients(harness *h, int pace_ms)
{
    static int owner[CLUSTERC_SLOTS];
    int masters[CHAOS_SHARDS];
    static const char *const names[3] = { "async", "blocking", "replica" };
    if (slot_owners(h, owner) < 0)
        return -1;
    for (int s = 0; s < CHAOS_SHARDS; s++)
        masters[s] = harness_nth_port(h, "master", s);
    for (int c = 0; c < 3; c++) {
        chaos_client *cl = &CL[c];
        cl->name = names[c];
        cl->replica_reads = c == 2;
        /* CHAOS_WARM_PING=0: no PING to each node at start (the PING to a
         * replica puts READONLY on that connection for good: see
         * docs/reliability.md, "Chaos", finding 3). */
        cl->warm_ping = getenv("CHAOS_WARM_PING") == NULL || atoi(getenv("CHAOS_WARM_PING")) != 0;
        cl->pace_us = c == 0 ? pace_ms * 1000 : pace_ms * 200;   /* tick / sleep */
        snprintf(cl->seeds, sizeof cl->seeds, "%s", harness_seeds(h));
        cl->nnodes = harness_count(h) < CHAOS_MAX_NODES ? harness_count(h) : CHAOS_MAX_NODES;
        for (int i = 0; i < cl->nnodes; i++)
            snprintf(cl->nodes[i], sizeof cl->nodes[i], "127.0.0.1:%d", harness_port(h, i));
        make_keys(cl, owner, masters);
        atomic_store(&cl->progress_ms, chaos_now_ms());
    }
    return 0;
}

/* Wait until every client's flag (an atomic_int at offset off) is set, or
 * timeout_ms passes. */
static int wait_all(size_t off, int timeout_ms)
{
    int64_t end = chaos_now_ms() + timeout_ms;
    for (;;) {
        int all = 1;
        for (int c = 0; c < 3; c++)
            all &= atomic_load((atomic_int *)((char *)&CL[c] + off)) != 0;
        if (all)
            return 0;
        if (chaos_now_ms() > end)
            return -1;
        chaos_sleep_ms(20);
    }
}

/* While the faults run: a client with no completion for 30 s (a command's
 * deadline is 2 s) or a fault thread silent for 240 s is a hang. */
static int watch(void)
{
    atomic_store(&F.progress_ms, chaos_now_ms());
    while (!atomic_load(&F.done)) {
        int64_t now = chaos_now_ms();
        for (int c = 0; c < 3; c++)
            if (now - atomic_load(&CL[c].progress_ms) > HANG_CLIENT_MS) {
                fprintf(stderr, "chaos: HANG: client %s completed nothing for %d s (last: %s)\n",
                        CL[c].name, HANG_CLIENT_MS / 1000, CL[c].last_err);
                return -1;
            }
        if (now - atomic_load(&F.progress_ms) > HANG_FAULTS_MS) {
            fprintf(stderr, "chaos: HANG: the fault thread is stuck\n");
            return -1;
        }
        chaos_sleep_ms(200);
    }
    return 0;
}

static void sum_stats(totals *t)
{
    for (int c = 0; c < 3; c++) {
        const chaos_stats *s = &CL[c].st;
        t->st.commands += s->commands;
        t->st.ok += s->ok;
        for (int i = 0; i < CHAOS_NCODES; i++)
            t->st.errors[i] += s->errors[i];
        t->st.err_replies += s->err_replies;
        t->st.undocumented += s->undocumented;
        t->st.uncertain_writes += s->uncertain_writes;
        t->st.lost_acked += s->lost_acked;
        t->st.stale_reads += s->stale_reads;
        t->st.maps_deferred += s->maps_deferred;
        t->st.phantom += s->phantom;
        t->st.final_failures += s->final_failures;
        t->st.final_pairs += s->final_pairs;
        for (int i = 0; i < 7; i++)
            t->st.by_fault[i] += s->by_fault[i];
        for (int i = 0; i < CHAOS_SHARDS; i++)
            if (s->outage_ms[i] > t->st.outage_ms[i])
                t->st.outage_ms[i] = s->outage_ms[i];
    }
}

static int run(harness *h, totals *t)
{
    pthread_t th[3], ft;
    for (int c = 0; c < 3; c++)
        pthread_create(&th[c], NULL, c == 0 ? chaos_async_thread : chaos_blocking_thread, &CL[c]);
    if (wait_all(offsetof(chaos_client, warm), 30000) < 0)
        fprintf(stderr, "chaos: warm-up took more than 30 s\n");
    chaos_sleep_ms(2000);
    t->fd0 = count_fds();
    t->rss0 = rss_kb();
    F.h = h;
    F.end_ms = chaos_now_ms() + (int64_t)t->seconds * 1000;
    pthread_create(&ft, NULL, chaos_fault_thread, &F);
    if (watch() < 0) {
        t->hang = 1;
        return -1;
    }
    pthread_join(ft, NULL);
    atomic_store(&chaos_phase, PH_QUIESCE);
    if (harness_wait_ok(h, 60) < 0)
        atomic_store(&F.broken, 1);
    atomic_store(&chaos_phase, PH_FINAL);
    if (wait_all(offsetof(chaos_client, final_done), 120000) < 0) {
        fprintf(stderr, "chaos: HANG: the final round did not end in 120 s\n");
        t->hang = 1;
        return -1;
    }
    t->fd1 = count_fds();
    t->rss1 = rss_kb();
    atomic_store(&chaos_phase, PH_CLOSE);
    if (wait_all(offsetof(chaos_client, closed), 30000) < 0) {
        fprintf(stderr, "chaos: HANG: a client did not close in 30 s\n");
        t->hang = 1;
        return -1;
    }
    for (int c = 0; c < 3; c++)
        pthread_join(th[c], NULL);
    return 0;
}

int main(void)
{
    static totals t;
    t.seconds = env_int("CHAOS_SECONDS", 40);
    F.node_timeout_ms = 1000;
    F.seed = (unsigned)env_int("CHAOS_SEED", (int)(getpid() ^ (int)time(NULL)) & 0x7fffffff);
    F.seed0 = F.seed;
    atomic_store(&F.current, -1);
    for (int c = 0; c < 3; c++)
        t.cl[c] = &CL[c];
    const char *server = getenv("CLUSTERC_TEST_SERVER");
    server = server && *server ? server : "redis-server";
    fprintf(stderr, "chaos: %s, %d s of faults, seed %u\n", server, t.seconds, F.seed);
    harness *h = harness_start(CHAOS_BASE_PORT, 3, 1, "--node-timeout 1000");
    if (!h || setup_clients(h, env_int("CHAOS_PACE_MS", 10)) < 0)
        return 1;
    int rc = run(h, &t);
    for (int c = 0; c < 3; c++)
        chaos_close_runs(&CL[c].st);
    sum_stats(&t);
    chaos_report(&t, server);
    if (rc < 0) {
        fprintf(stderr, "chaos: FAIL (hang); the servers die with this process\n");
        _exit(1);
    }
    harness_stop(h);
    return chaos_verdict(&t) == 0 ? 0 : 1;
}
