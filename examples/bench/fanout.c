/* fanout.c -- figures of commands that span the cluster (clusterc-fanout-bench).
 *
 *   clusterc-fanout-bench --seeds h:p mget [--rounds N]
 *       MGET of 100 keys over many slots (split by slot, one at a time),
 *       beside the same 100 keys as 100 GETs pipelined: requests/s and
 *       client CPU per key.
 *   clusterc-fanout-bench --seeds h:p dbsize [--rounds N]
 *       DBSIZE fanned out to every primary: median and p99 latency.
 * examples/bench/fanout.sh runs both on 3 and on 8 primaries. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <clusterc/clusterc.h>

#define NKEYS 100

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static char keys[NKEYS][16];
static const char *argv_mget[NKEYS + 1];

static void report(const char *what, int rounds, double wall, double cpu)
{
    printf("%-22s %8.0f requests/s (%d x %d keys), %.3f µs client CPU per key\n", what,
           rounds / wall, rounds, NKEYS, cpu / ((double)rounds * NKEYS) * 1e6);
}

static int mget(clusterc_client *c, int rounds)
{
    argv_mget[0] = "MGET";
    for (int i = 0; i < NKEYS; i++) {
        snprintf(keys[i], sizeof(keys[i]), "fk:%d", i);
        argv_mget[i + 1] = keys[i];
        freeReplyObject(clusterc_command(c, "SET %s v", keys[i]));
    }
    double t0 = now_s(), c0 = cpu_s();
    for (int r = 0; r < rounds; r++) {
        redisReply *rep = clusterc_command_argv(c, NKEYS + 1, argv_mget, NULL);
        if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != NKEYS)
            return fprintf(stderr, "MGET failed: %s\n", clusterc_errstr(c)), 1;
        freeReplyObject(rep);
    }
    report("split MGET of 100", rounds, now_s() - t0, cpu_s() - c0);
    t0 = now_s(), c0 = cpu_s();
    for (int r = 0; r < rounds; r++) {
        void *rep;
        for (int i = 0; i < NKEYS; i++)
            clusterc_append_command(c, "GET %s", keys[i]);
        for (int i = 0; i < NKEYS; i++) {
            if (clusterc_get_reply(c, &rep) < 0)
                return fprintf(stderr, "GET failed: %s\n", clusterc_errstr(c)), 1;
            freeReplyObject(rep);
        }
    }
    report("100 GETs pipelined", rounds, now_s() - t0, cpu_s() - c0);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int dbsize(clusterc_client *c, int rounds)
{
    double *lat = calloc((size_t)rounds, sizeof(*lat));
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();
        redisReply *rep = clusterc_command(c, "DBSIZE");
        lat[r] = (now_s() - t0) * 1e6;
        if (!rep || rep->type != REDIS_REPLY_INTEGER)
            return fprintf(stderr, "DBSIZE failed: %s\n", clusterc_errstr(c)), free(lat), 1;
        freeReplyObject(rep);
    }
    qsort(lat, (size_t)rounds, sizeof(*lat), cmp);
    clusterc_node_info info[64];
    int n = clusterc_node_stats(c, info, 64), primaries = 0;
    for (int i = 0; i < n && i < 64; i++)
        primaries += info[i].is_primary;
    printf("DBSIZE on %d primaries: median %.0f µs, p99 %.0f µs (%d calls)\n", primaries,
           lat[rounds / 2], lat[rounds * 99 / 100], rounds);
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    const char *seeds = NULL, *mode = NULL;
    int rounds = 2000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) seeds = argv[++i];
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = atoi(argv[++i]);
        else mode = argv[i];
    }
    if (!seeds || !mode || rounds < 1 || (strcmp(mode, "mget") && strcmp(mode, "dbsize"))) {
        fprintf(stderr, "usage: clusterc-fanout-bench --seeds h:p mget|dbsize [--rounds N]\n");
        return 2;
    }
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = seeds;
    clusterc_client *c = clusterc_connect(&o);
    if (!c || clusterc_error(c))
        return fprintf(stderr, "cannot connect: %s\n", c ? clusterc_errstr(c) : "no memory"), 2;
    int rc = strcmp(mode, "mget") == 0 ? mget(c, rounds) : dbsize(c, rounds);
    clusterc_free(c);
    return rc;
}
