/* inflight_mem.c -- clusterc-inflight-mem: heap bytes per command in flight
 * on the async face (issue 17), counted by malloc itself (mallinfo2), not
 * by RSS, so the figure is exact and repeatable.
 *
 *   clusterc-inflight-mem -p PORT [-n COMMANDS] [--cmd get|set] [--long-keys] [--written]
 *
 * --written: the primaries are paused first (CLIENT PAUSE ALL, 3 s), and
 * the heap is read again once the loop has written every command: what a
 * command in flight holds while it waits for its reply (the output buffer
 * is given back once written, conn.c).
 *
 * Keys are bench:0 .. bench:999, or with --long-keys clusterc-benchmark's
 * 16-byte key:000000000000 .. (a text too long for the request's small
 * block: the figure for keys of 12 to 27 bytes).
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
static int long_keys, written_too;
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
    const char *set = long_keys ? "SET key:%012ld xxxxxxxxxx" : "SET bench:%ld xxxxxxxxxx";
    const char *get = long_keys ? "GET key:%012ld" : "GET bench:%ld";
    return clusterc_async_command(a, done_cb, NULL, strcmp(cmd, "set") == 0 ? set : get, i % 1000);
}

static void paused_cb(clusterc_async *a, redisReply *reply, void *pd)
{
    (void)a;
    *(int *)pd = reply && reply->type != REDIS_REPLY_ERROR ? 1 : -1;
    event_base_loopbreak(base);
}

/* CLIENT PAUSE every primary for ms: what is sent meanwhile is written
 * (the servers still read it) but not answered. */
static int pause_primaries(clusterc_async *a, int ms)
{
    int ok = 0;
    if (clusterc_async_command_route(a, CLUSTERC_ROUTE_ALL_PRIMARIES, paused_cb, &ok,
                                     "CLIENT PAUSE %d ALL", ms) != 0)
        return -1;
    event_base_dispatch(base);
    return ok == 1 ? 0 : -1;
}

/* Submit n (after those already answered) and run until all answered.
 * queued_bytes: the heap's growth with all n submitted, none written;
 * written_bytes (when not NULL, the primaries paused first): its growth
 * once the loop has written them all, none answered yet. */
static int round_of(clusterc_async *a, const char *cmd, long n, size_t *queued_bytes,
                    size_t *written_bytes)
{
    if (written_bytes && pause_primaries(a, 3000) < 0) {
        fprintf(stderr, "CLIENT PAUSE failed\n");
        return -1;
    }
    size_t before = heap_used();
    long answered_before = answered;
    want = answered + n;
    for (long i = 0; i < n; i++)
        if (submit(a, cmd, i) != 0) {
            fprintf(stderr, "submit %ld refused: %s\n", i, clusterc_async_errstr(a));
            return -1;
        }
    if (queued_bytes)
        *queued_bytes = heap_used() - before;
    if (written_bytes) {
        struct timeval tv = { 0, 500000 };   /* writes take a few ms; the pause 3 s */
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
        *written_bytes = heap_used() - before;
        if (answered != answered_before) {
            fprintf(stderr, "replies came during the pause: no figure\n");
            return -1;
        }
    }
    event_base_dispatch(base);
    return answered == want ? 0 : -1;
}

int main(int argc, char **argv)
{
    int port = 0;
    long n = 100000;
    const char *cmd = "get";
    for (int i = 1; i < argc; i++) {
        int more = i + 1 < argc;
        if (strcmp(argv[i], "--long-keys") == 0) long_keys = 1;
        else if (strcmp(argv[i], "--written") == 0) written_too = 1;
        else if (more && strcmp(argv[i], "-p") == 0) port = atoi(argv[++i]);
        else if (more && strcmp(argv[i], "-n") == 0) n = atol(argv[++i]);
        else if (more && strcmp(argv[i], "--cmd") == 0) cmd = argv[++i];
        else { port = 0; break; }   /* unknown: the usage below */
    }
    if (port <= 0 || n < 1 || n > 10000000 || (strcmp(cmd, "get") && strcmp(cmd, "set"))) {
        fprintf(stderr, "usage: clusterc-inflight-mem -p PORT [-n 1..10000000] [--cmd get|set] "
                "[--long-keys] [--written]\n");
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
    size_t queued = 0, written = 0;
    if (!a || round_of(a, cmd, 2000, NULL, NULL) < 0 ||
        round_of(a, cmd, n, &queued, written_too ? &written : NULL) < 0) {
        fprintf(stderr, "failed: %s\n", a ? clusterc_async_errstr(a) : "connect");
        return 1;
    }
    size_t after = heap_used();
    /* RESP of "GET bench:123" and "SET bench:123 xxxxxxxxxx" (3-digit keys),
     * or of the same with key:000000000123 */
    size_t resp = strcmp(cmd, "set") == 0 ? (long_keys ? 53 : 45) : (long_keys ? 36 : 28);
    printf("cmd=%s,commands=%ld,failed=%ld,heap_bytes_per_queued=%.1f,resp_bytes=%zu,"
           "per_written_est=%.1f,", cmd, n, failed, (double)queued / (double)n,
           resp, (double)queued / (double)n - (double)resp);
    if (written_too)
        printf("heap_bytes_per_written=%.1f,", (double)written / (double)n);
    printf("heap_after_kb=%zu\n", after / 1024);
    clusterc_async_free(a);
    event_base_free(base);
    return failed != 0;
}
