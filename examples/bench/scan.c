/* scan.c -- keys/s of the cluster-wide SCAN (clusterc-scan-bench).
 *   clusterc-scan-bench --seeds h:p [--keys N] [--count C]
 * Fills N keys (pipelined SETs; default 100000), then scans them all with
 * clusterc_scan_next and reports keys/s and how many were seen (and twice). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <clusterc/clusterc.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fill(clusterc_client *c, long n)
{
    for (long i = 0; i < n; i += 1000) {
        long end = i + 1000 < n ? i + 1000 : n;
        for (long k = i; k < end; k++)
            clusterc_append_command(c, "SET sb:%ld v", k);
        for (long k = i; k < end; k++) {
            void *r;
            if (clusterc_get_reply(c, &r) < 0)
                return fprintf(stderr, "SET: %s\n", clusterc_errstr(c)), -1;
            freeReplyObject(r);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *seeds = NULL;
    long n = 100000, count = 1000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seeds") == 0) seeds = argv[i + 1];
        else if (strcmp(argv[i], "--keys") == 0) n = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--count") == 0) count = atol(argv[i + 1]);
    }
    if (!seeds || n < 1)
        return fprintf(stderr, "usage: clusterc-scan-bench --seeds h:p [--keys N] [--count C]\n"), 2;
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = seeds;
    clusterc_client *c = clusterc_connect(&o);
    if (!c || clusterc_error(c) || fill(c, n) < 0)
        return 2;
    unsigned char *seen = calloc((size_t)n, 1);
    long total = 0, dup = 0, batches = 0;
    double t0 = now_s();
    clusterc_scan *s = clusterc_scan_start(c, "sb:*", count, NULL);
    redisReply *keys;
    int rc;
    while ((rc = clusterc_scan_next(s, &keys)) == 1) {
        batches++;
        for (size_t i = 0; i < keys->elements; i++) {
            long k = atol(keys->element[i]->str + 3);
            total++;
            if (k >= 0 && k < n && seen[k]++)
                dup++;
        }
        freeReplyObject(keys);
    }
    double dt = now_s() - t0;
    clusterc_scan_free(s);
    if (rc < 0)
        fprintf(stderr, "scan failed: %s\n", clusterc_errstr(c));
    printf("scan: %ld keys in %.2f s (%ld batches, COUNT %ld): %.0f keys/s; duplicates %ld\n",
           total, dt, batches, count, total / dt, dup);
    free(seen);
    clusterc_free(c);
    return rc < 0 || total - dup != n;
}
