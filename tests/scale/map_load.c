/* map_load.c -- what a slot-map load costs as the cluster grows (issue 16):
 * synthetic CLUSTER SHARDS replies of 3 ... 10,000 primaries served through
 * the engine's dial seam (fake_shards.c), so the real path runs from the
 * socket's bytes through hiredis, the topology parse and the install,
 * with no server. For each size: the client thread's CPU per load
 * (CLOCK_THREAD_CPUTIME_ID, median of LOADS clusterc_refresh calls), the
 * first load (clusterc_connect), and resident memory per node.
 *
 *   build/tests/scale/map_load [PxR ...]     default: 3x2 10x2 ... 10000x2
 *   MAP_LOADS=5 (loads per size)
 * Growth is printed per step and scaled to a tripling of the node count.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <clusterc/clusterc.h>
#include "fake_shards.h"

static double thread_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long rss_kb(void)
{
    long size = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &size, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct result { int nodes; double load_ms, first_ms, kb_per_node; } result;

static int measure(int primaries, int replicas, int loads, result *out)
{
    size_t len;
    char *reply = fake_shards_reply(primaries, replicas, NULL, &len);
    if (fake_shards_start(0) < 0)
        return -1;
    fake_shards_set_map(reply, len);
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = "127.0.0.1:9999";
    o.refresh_interval_ms = 0;
    o.command_timeout_ms = 60000;
    long kb0 = rss_kb();
    double t0 = thread_ms();
    clusterc_client *c = clusterc_connect(&o);
    out->first_ms = thread_ms() - t0;
    if (!c || clusterc_error(c)) {
        fprintf(stderr, "map_load: connect: %s\n", c ? clusterc_errstr(c) : "out of memory");
        clusterc_free(c);
        fake_shards_stop();
        return -1;
    }
    double *ms = calloc((size_t)loads, sizeof(*ms));
    for (int i = 0; i < loads; i++) {
        double t = thread_ms();
        if (clusterc_refresh(c) < 0)
            fprintf(stderr, "map_load: refresh: %s\n", clusterc_errstr(c));
        ms[i] = thread_ms() - t;
    }
    qsort(ms, (size_t)loads, sizeof(*ms), cmp_double);
    out->nodes = primaries * (1 + replicas);
    out->load_ms = ms[loads / 2];
    out->kb_per_node = (double)(rss_kb() - kb0) / out->nodes;
    free(ms);
    clusterc_free(c);
    fake_shards_stop();
    return 0;
}

int main(int argc, char **argv)
{
    static const char *dflt[] = { "3x2", "10x2", "30x2", "100x2", "300x2", "1000x2", "3000x2",
                                  "10000x2" };
    const char *e = getenv("MAP_LOADS");
    int loads = e && atoi(e) > 0 ? atoi(e) : 5, n = argc > 1 ? argc - 1 : 8;
    const char **cfg = argc > 1 ? (const char **)argv + 1 : dflt;
    result prev = { 0, 0, 0, 0 };
    printf("%-18s %7s %12s %12s %10s %8s %12s\n", "primaries x (1+r)", "nodes", "load CPU ms",
           "first load", "KB/node", "growth", "per tripling");
    for (int i = 0; i < n; i++) {
        int p = 0, r = 0;
        result res;
        if (sscanf(cfg[i], "%dx%d", &p, &r) != 2 || p < 1 || p > 16384 || r < 0 || r > 8) {
            fprintf(stderr, "map_load: \"%s\": want PxR (1 <= P <= 16384, 0 <= R <= 8)\n", cfg[i]);
            return 2;
        }
        if (measure(p, r, loads, &res) < 0)
            return 1;
        char growth[16] = "", tripling[16] = "";
        if (prev.nodes && prev.load_ms > 0) {
            double g = res.load_ms / prev.load_ms;
            double per3 = pow(g, log(3.0) / log((double)res.nodes / prev.nodes));
            snprintf(growth, sizeof(growth), "%.2fx", g);
            snprintf(tripling, sizeof(tripling), "%.2fx", per3);
        }
        printf("%6d x %-9d %7d %12.3f %12.3f %10.2f %8s %12s\n", p, 1 + r, res.nodes, res.load_ms,
               res.first_ms, res.kb_per_node, growth, tripling);
        fflush(stdout);
        prev = res;
    }
    return 0;
}
