/* encode.c -- clusterc-encode-bench: nanoseconds per command encoded,
 * hiredis's redisFormatCommand against the library's encoder
 * (lib/proto/encode.c), for GET key and SET key value, format and argv.
 *
 *   clusterc-encode-bench [N]      (default N = 2,000,000 per row)
 *
 * Rows, each the best of 5 runs of N commands (wall-clock, one core):
 *   hiredis fmt        redisFormatCommand, then free (what it costs alone)
 *   hiredis fmt+copy   the same, the bytes copied into an output buffer
 *                      first (what the engine pays today)
 *   clusterc fmt       clusterc__encode_fmt into a reused buffer
 *   clusterc fmt alloc clusterc__format_command (malloc'ed, like hiredis)
 *   hiredis argv       redisFormatCommandArgv, then free
 *   clusterc argv      clusterc__encode_argv into a reused buffer */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hiredis/hiredis.h>
#include "proto/encode.h"

static volatile size_t sink;
static clusterc__obuf out;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int ours_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = clusterc__encode_fmt(&out, fmt, ap);
    va_end(ap);
    return rc;
}

static int ours_alloc(char **cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = clusterc__format_command(cmd, fmt, ap);
    va_end(ap);
    return rc;
}

/* What one row runs: command c (0 GET, 1 SET) by encoder e. */
static void one(int e, int c)
{
    static const char *const argv_get[] = { "GET", "key:000042" };
    static const char *const argv_set[] = { "SET", "key:000042", "value-of-16bytes" };
    const char *key = "key:000042", *val = "value-of-16bytes";
    char *cmd = NULL;
    int len = 0;
    switch (e) {
    case 0:
    case 1:
        len = c ? redisFormatCommand(&cmd, "SET %s %s", key, val)
                : redisFormatCommand(&cmd, "GET %s", key);
        if (e == 1) {            /* the engine's copy into its buffer */
            if (out.len + (size_t)len > out.cap)
                out.len = 0;
            memcpy(out.buf + out.len, cmd, (size_t)len);
            out.len += (size_t)len;
        }
        redisFreeCommand(cmd);
        break;
    case 2:
        out.len = 0;
        len = c ? ours_fmt("SET %s %s", key, val) : ours_fmt("GET %s", key);
        len = (int)out.len;
        break;
    case 3:
        len = c ? ours_alloc(&cmd, "SET %s %s", key, val) : ours_alloc(&cmd, "GET %s", key);
        free(cmd);
        break;
    case 4:
        len = (int)(c ? redisFormatCommandArgv(&cmd, 3, (const char **)argv_set, NULL)
                      : redisFormatCommandArgv(&cmd, 2, (const char **)argv_get, NULL));
        redisFreeCommand(cmd);
        break;
    default:
        out.len = 0;
        (void)(c ? clusterc__encode_argv(&out, 3, argv_set, NULL)
                 : clusterc__encode_argv(&out, 2, argv_get, NULL));
        len = (int)out.len;
        break;
    }
    sink += (size_t)len;
}

int main(int argc, char **argv)
{
    static const char *const names[] = { "hiredis fmt", "hiredis fmt+copy", "clusterc fmt",
                                         "clusterc fmt alloc", "hiredis argv", "clusterc argv" };
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    if (n <= 0 || clusterc__obuf_reserve(&out, 1 << 16) < 0)
        return 1;
    printf("%-20s %12s %12s\n", "ns per command", "GET key", "SET key val");
    for (int e = 0; e < 6; e++) {
        double best[2];
        for (int c = 0; c < 2; c++) {
            best[c] = 1e18;
            for (int run = 0; run < 5; run++) {
                double t0 = now_ns();
                for (long i = 0; i < n; i++)
                    one(e, c);
                double ns = (now_ns() - t0) / (double)n;
                if (ns < best[c])
                    best[c] = ns;
            }
        }
        printf("%-20s %12.1f %12.1f\n", names[e], best[0], best[1]);
    }
    clusterc__obuf_release(&out);
    return sink == 0;
}
