/*
 * chaos.h -- the chaos suite (issue 12, item 3): three clients (an async
 * one on its own event_base, a blocking one, a blocking one reading from
 * replicas) doing SET+GET pairs with checks while a fault thread kills,
 * freezes, fails over and reshards a 3+3 cluster. See docs/reliability.md,
 * "Chaos".
 */
#ifndef CLUSTERC_CHAOS_H
#define CLUSTERC_CHAOS_H
#include <stdatomic.h>
#include <stdint.h>
#include <clusterc/clusterc.h>
#include "harness.h"

#define CHAOS_SHARDS 3
#define CHAOS_KEYS 48          /* keys per client */
#define CHAOS_NCODES 17        /* -code 0..15, 16 = unknown */
#define CHAOS_MAX_NODES 6

/* Phases, set by main, read by every worker. */
enum { PH_RUN, PH_QUIESCE, PH_FINAL, PH_CLOSE };

typedef struct chaos_key {
    char name[48];
    int shard;                 /* owner of its slot at start: 0..2 */
    long acked;                /* highest version whose SET was answered OK */
    long attempted;            /* highest version ever sent */
    /* async state */
    int busy;                  /* 0 idle, 1 SET in flight, 2 GET in flight */
    long ver;                  /* version of the SET in flight */
    int64_t t_submit;
    int final;                 /* the pair belongs to the final round */
    char acked_node[24];       /* CHAOS_TRACE: the node that acknowledged it */
} chaos_key;

typedef struct chaos_stats {
    long long commands, ok;
    long long errors[CHAOS_NCODES];
    long long err_replies;     /* server error replies reaching the caller */
    long long undocumented;    /* NULL replies with code 0 or an unknown code */
    long long uncertain_writes;
    long long lost_acked, stale_reads, phantom;
    long long maps_deferred;   /* the client's stats.maps_deferred at its close */
    int64_t outage_ms[CHAOS_SHARDS];
    int64_t fail_since[CHAOS_SHARDS];
    long long final_failures, final_pairs;
    long long by_fault[7];     /* failures while each fault ran; 6 = none */
} chaos_stats;

typedef struct chaos_client {
    const char *name;          /* "async", "blocking", "replica" */
    int replica_reads;         /* read_only: stale reads are expected */
    chaos_key keys[CHAOS_KEYS];
    chaos_stats st;
    char seeds[512];
    char nodes[CHAOS_MAX_NODES][32];
    int nnodes;
    int pace_us;
    int warm_ping;             /* PING every node before the baseline */
    _Atomic int64_t progress_ms;   /* last completion (hang detection) */
    atomic_int warm, final_done, closed;
    char last_err[256];
    char last_node[64];        /* CHAOS_TRACE: node of the last completed command */
} chaos_client;

typedef struct chaos_faults {
    harness *h;
    int node_timeout_ms;
    int64_t end_ms;
    unsigned seed, seed0;
    long long keys_migrated;
    long long count[6], failed[6];
    long long not_ok;          /* wait_ok failures after a fault */
    long long repairs;         /* redis-cli --cluster fix runs */
    _Atomic int64_t progress_ms;
    atomic_int done, broken;
    atomic_int current;        /* the fault running (and settling), or -1 */
} chaos_faults;

typedef struct totals {
    chaos_stats st;
    int fd0, fd1;
    long rss0, rss1;
    int seconds, hang;
    const chaos_client *cl[3];
} totals;

extern atomic_int chaos_phase;
extern chaos_faults chaos_F;

/* chaos_report.c */
void chaos_report(const totals *t, const char *server);
int chaos_verdict(const totals *t);

int64_t chaos_now_ms(void);
void chaos_sleep_ms(int ms);

/* chaos_check.c */
void chaos_note(chaos_stats *st, const chaos_key *k, int ok, int code, int64_t t_submit);
int chaos_set_done(chaos_client *cl, chaos_key *k, const redisReply *r, int code, long ver);
int chaos_get_done(chaos_client *cl, chaos_key *k, const redisReply *r, int code);
void chaos_close_runs(chaos_stats *st);

/* chaos_clients.c */
void *chaos_blocking_thread(void *arg);
void *chaos_async_thread(void *arg);

/* chaos_faults.c */
void *chaos_fault_thread(void *arg);
extern const char *const chaos_fault_names[6];
#endif
