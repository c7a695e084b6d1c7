/* inflight_mem.c -- clusterc-inflight-mem: heap bytes per command in flight
 * on the async face (issue 17), counted by malloc itself (mallinfo2), not
 * by RSS, so the figure is exact and repeatable.
 *
 *   clusterc-inflight-mem -p PORT [-n COMMANDS] [--cmd get|set]
 *
 * It connects, sends one round of GETs so every primary's connection is up
 * and the request free list is warm, then submits n commands without
 * letting the loop run: each is then a request (with its command text in
 * the same block when short, else a block of its own), its entry in a
 * node's FIFO and its bytes in that node's output buffer. The
 * heap in use before and after, divided by n, is the cost of one queued
 * command. Then the loop runs until all have answered, and the heap in use
 * is printed again (what the client keeps: free lists, buffers at peak).
 * The output buffer's share is the command's RESP length, printed too:
 * once written, a command waiting for its reply holds the rest. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <clusterc/async.h>

static long answered, failed, want;
static struct event_base *base;

static void done_cb(clusterc_async *a, redisReply *reply, void *pd)
{
    (void)a; (void)pd;
    failed += reply == NULL || reply->type == REDIS_REPLY_ERROR;
    if (++answered == want)
        event_base_loopbreak(base);
}

static size_t heap_used(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;   /* large blocks (a FIFO, a buffer) are mmapped */
}

static int submit(clusterc_async *a, const char *cmd, long i)
{
    if (strcmp(cmd, "set") == 0)
        return clusterc_async_command(a, done_cb, NULL, "SET bench:%ld xxxxxxxxxx", i % 1000);
    return clusterc_async_command(a, done_cb, NULL, "GET bench:%ld", i % 1000);
}

/* Submit n (after those already answered) and run until all answered. */
static int round_of(clusterc_async *a, const char *cmd, long n, size_t *queued_bytes)
{
    size_t before = heap_used();
    want = answered + n;
    for (long i = 0; i < n; i++)
        if (submit(a, cmd, i) != 0) {
            fprintf(stderr, "submit %ld refused: %s\n", i, clusterc_async_errstr(a));
            return -1;
        }
    if (queued_bytes)
        *queued_bytes = heap_used() - before;
    event_base_dispatch(base);
    return answered == want ? 0 : -1;
}

int main(int argc, char **argv)
{
    int port = 0;
    long n = 100000;
    const char *cmd = "get";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-p") == 0) port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-n") == 0) n = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--cmd") == 0) cmd = argv[i + 1];
        else break;
    }
    if (port <= 0 || n < 1 || n > 10000000 || (strcmp(cmd, "get") && strcmp(cmd, "set"))) {
        fprintf(stderr, "usage: clusterc-inflight-mem -p PORT [-n 1..10000000] [--cmd get|set]\n");
        return 2;
    }
    base = event_base_new();
    clusterc_options o;
    clusterc_options_init(&o);
    char seed[32];
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", port);
    o.seeds = seed;
    o.command_timeout_ms = 60000;   /* n queued at once must not time out */
    o.max_inflight = 0;             /* no cap: n is the point */
    clusterc_async *a = clusterc_async_connect(base, &o);
    size_t queued = 0;
    if (!a || round_of(a, cmd, 2000, NULL) < 0 || round_of(a, cmd, n, &queued) < 0) {
        fprintf(stderr, "failed: %s\n", a ? clusterc_async_errstr(a) : "connect");
        return 1;
    }
    size_t after = heap_used();
    /* RESP of "GET bench:123" and "SET bench:123 xxxxxxxxxx" (3-digit keys) */
    size_t resp = strcmp(cmd, "set") == 0 ? 45 : 28;
    printf("cmd=%s,commands=%ld,failed=%ld,heap_bytes_per_queued=%.1f,resp_bytes=%zu,"
           "per_written_est=%.1f,heap_after_kb=%zu\n", cmd, n, failed, (double)queued / (double)n,
           resp, (double)queued / (double)n - (double)resp, after / 1024);
    clusterc_async_free(a);
    event_base_free(base);
    return failed != 0;
}
