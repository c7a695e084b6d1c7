/* inspect.c -- clusterc-inspect-bench: the cost of clusterc__cmd_inspect
 * (lib/proto/cmdinspect.c, cmdtable.c) and clusterc_keyslot per command,
 * the per-command work every request pays before it is queued (issue 17).
 *
 *   clusterc-inspect-bench [N]          the table below, ns per call
 *   clusterc-inspect-bench ROW N        only ROW, N times (for callgrind)
 *
 * Rows (N calls each, best of 5, one core):
 *   get        GET key:000042 with the built-in table
 *   set        SET key:000042 value-of-16bytes, built-in table
 *   mget       MGET of three keys
 *   evalsha    EVALSHA sha 1 key arg (a numkeys rule)
 *   lget       GET with a table learned from a COMMAND reply
 *   lhget      HGET with that learned table, which lacks HGET: the
 *              built-in table answers after the learned one misses
 *   unknown    FOO.BAR key (in no table)
 *   keyslot    clusterc_keyslot("key:000042") alone
 *
 * Instructions per call, exact and repeatable (what the issue asks):
 *   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \
 *       clusterc-inspect-bench get 100000
 *   callgrind_annotate --inclusive=yes /tmp/cg.out | grep clusterc__cmd_inspect
 * and divide by N. Built by hand:
 *   gcc -O2 -I lib -I include examples/bench/inspect.c lib/proto/cmdtable.c \
 *       lib/proto/cmdinspect.c lib/proto/fanout.c lib/proto/keyslot.c -lhiredis \
 *       -o /tmp/inspect-bench
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hiredis/hiredis.h>
#include "clusterc/clusterc.h"
#include "proto/cmdtable.h"

static volatile long sink;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef struct row {
    const char *name;
    const char *fmt;             /* redisFormatCommand format; NULL: keyslot */
    int learned;
    char *cmd;
    int len;
} row;

static row rows[] = {
    {"get", "GET key:000042", 0, NULL, 0},
    {"set", "SET key:000042 value-of-16bytes", 0, NULL, 0},
    {"mget", "MGET key:000042 key:000043 key:000044", 0, NULL, 0},
    {"evalsha", "EVALSHA 0123456789abcdef0123456789abcdef01234567 1 key:000042 a", 0, NULL, 0},
    {"lget", "GET key:000042", 1, NULL, 0},
    {"lhget", "HGET key:000042 f", 1, NULL, 0},
    {"unknown", "FOO.BAR key:000042", 0, NULL, 0},
    {"keyslot", NULL, 0, NULL, 0},
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

/* A learned table as COMMAND would teach it (GET, SET, a module command):
 * parsed from RESP so the bench needs no server. */
static clusterc__cmdtable *learned_table(void)
{
    static const char reply[] =
        "*3\r\n"
        "*6\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"
        "*6\r\n$3\r\nset\r\n:-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:1\r\n:1\r\n"
        "*6\r\n$9\r\nft.search\r\n:-3\r\n*1\r\n+readonly\r\n:1\r\n:1\r\n:1\r\n";
    redisReader *rd = redisReaderCreate();
    void *r = NULL;
    clusterc__cmdtable *t = NULL;
    char err[128];
    if (rd == NULL || redisReaderFeed(rd, reply, sizeof(reply) - 1) != REDIS_OK ||
        redisReaderGetReply(rd, &r) != REDIS_OK || r == NULL ||
        clusterc__cmdtable_from_reply(r, &t, err, sizeof(err)) != 0) {
        fprintf(stderr, "inspect-bench: cannot build the learned table\n");
        exit(1);
    }
    freeReplyObject(r);
    redisReaderFree(rd);
    return t;
}

static void run(const row *r, const clusterc__cmdtable *t, long n)
{
    clusterc__cmdinfo info;
    if (r->fmt == NULL) {
        for (long i = 0; i < n; i++)
            sink += clusterc_keyslot("key:000042", 10);
        return;
    }
    for (long i = 0; i < n; i++) {
        if (clusterc__cmd_inspect(t, r->cmd, (size_t)r->len, &info, NULL, 0) != 0)
            exit(1);
        sink += info.slot;
    }
}

int main(int argc, char **argv)
{
    const clusterc__cmdtable *builtin = clusterc__cmdtable_builtin();
    clusterc__cmdtable *learned = learned_table();
    const char *only = argc > 2 ? argv[1] : NULL;
    long n = atol(argc > 2 ? argv[2] : argc > 1 ? argv[1] : "5000000");
    if (n <= 0)
        return 2;
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].fmt != NULL)
            rows[i].len = redisFormatCommand(&rows[i].cmd, rows[i].fmt);
    for (size_t i = 0; i < NROWS; i++) {
        row *r = &rows[i];
        const clusterc__cmdtable *t = r->learned ? learned : builtin;
        if (only != NULL) {
            if (strcmp(only, r->name) == 0)
                run(r, t, n);
            continue;
        }
        double best = 1e18;
        for (int k = 0; k < 5; k++) {
            double t0 = now_ns();
            run(r, t, n);
            double ns = (now_ns() - t0) / (double)n;
            best = ns < best ? ns : best;
        }
        printf("%-10s %8.2f ns\n", r->name, best);
    }
    for (size_t i = 0; i < NROWS; i++)
        redisFreeCommand(rows[i].cmd);
    clusterc__cmdtable_free(learned);
    return 0;
}
