/* blocking.c -- which commands block, for how long (see blocking.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "blocking.h"

#define MAX_SCAN 64   /* XREAD's BLOCK comes early; past this, not looked for */

typedef struct bulk { const char *p; size_t len; } bulk;

/* Walk "*N\r\n$len\r\narg\r\n...": the array size and up to max arguments
 * (all of them are checked). Returns argc, or -1 when malformed. */
static long walk(const char *p, const char *end, bulk *argv, long max, bulk *last)
{
    char *q;
    if (p >= end || *p != '*')
        return -1;
    long argc = strtol(p + 1, &q, 10);
    if (argc < 1 || q + 2 > end || q[0] != '\r')
        return -1;
    p = q + 2;
    for (long i = 0; i < argc; i++) {
        if (p >= end || *p != '$')
            return -1;
        long n = strtol(p + 1, &q, 10);
        if (n < 0 || q + 2 + n + 2 > end)
            return -1;
        bulk b = { q + 2, (size_t)n };
        if (i < max)
            argv[i] = b;
        *last = b;
        p = q + 2 + n + 2;
    }
    return argc;
}

static int is(bulk b, const char *word)
{
    return b.len == strlen(word) && strncasecmp(b.p, word, b.len) == 0;
}

/* A decimal number of seconds or milliseconds, fractions allowed. */
static int number(bulk b, double scale, int64_t *ms)
{
    char buf[40], *end;
    if (b.len == 0 || b.len >= sizeof(buf))
        return -1;
    memcpy(buf, b.p, b.len);
    buf[b.len] = '\0';
    double v = strtod(buf, &end);
    if (*end != '\0' || !(v >= 0) || v * scale > 9.2e15)
        return -1;
    *ms = (int64_t)(v * scale + 0.999);   /* a fraction of a ms still waits */
    return 1;
}

/* XREAD [COUNT n] [BLOCK ms] STREAMS ...; XREADGROUP GROUP g c [COUNT n]
 * [BLOCK ms] [NOACK] STREAMS ... */
static int xread_block(const bulk *argv, long argc, int64_t *ms)
{
    long i = is(argv[0], "xreadgroup") ? 4 : 1;
    for (; i < argc && i < MAX_SCAN; i++) {
        if (is(argv[i], "streams"))
            return 0;
        if (is(argv[i], "block"))
            return i + 1 < argc && i + 1 < MAX_SCAN ? number(argv[i + 1], 1, ms) : -1;
        if (is(argv[i], "count"))
            i++;
    }
    return 0;
}

int clusterc__block_timeout(const char *resp, size_t len, int64_t *ms)
{
    bulk argv[MAX_SCAN], last = { NULL, 0 };
    long argc = walk(resp, resp + len, argv, MAX_SCAN, &last);
    if (argc < 1)
        return -1;
    bulk name = argv[0];
    if (is(name, "blpop") || is(name, "brpop") || is(name, "bzpopmin") || is(name, "bzpopmax") ||
        is(name, "blmove") || is(name, "brpoplpush"))
        return argc >= 3 ? number(last, 1000, ms) : -1;
    if (is(name, "blmpop") || is(name, "bzmpop"))
        return argc >= 2 ? number(argv[1], 1000, ms) : -1;
    if (is(name, "xread") || is(name, "xreadgroup"))
        return xread_block(argv, argc, ms);
    if (is(name, "wait"))
        return argc == 3 && number(argv[2], 1, ms) == 1 ? 2 : -1;
    if (is(name, "waitaof"))
        return argc == 4 && number(argv[3], 1, ms) == 1 ? 2 : -1;
    return 0;
}

int clusterc__is_session_cmd(const char *name, size_t len)
{
    return (len == 4 && strncasecmp(name, "auth", 4) == 0) ||
           (len == 5 && strncasecmp(name, "hello", 5) == 0);
}

int clusterc__cmd_not_here(const char *name, size_t len, char *why, size_t cap)
{
    int n = (int)(len > 16 ? 16 : len);
    if (clusterc__is_pubsub(name, len))   /* it would make the shared connection a subscriber */
        snprintf(why, cap, "%.*s: not through the command functions: Pub/Sub has its own API "
                 "(clusterc_async_subscribe, clusterc_subscribe)", n, name);
    else if (clusterc__is_session_cmd(name, len))
        snprintf(why, cap, "%.*s: not through the command functions: it would change one "
                 "connection of many; set username and password in the options", n, name);
    else
        return 0;
    return 1;
}

int clusterc__is_pubsub(const char *name, size_t len)
{
    static const char *const list[] = { "subscribe", "psubscribe", "ssubscribe", "unsubscribe",
                                        "punsubscribe", "sunsubscribe", "monitor" };
    if (len < 7 || len > 12)   /* GET, SET...: out at once */
        return 0;
    for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
        if (strlen(list[i]) == len && strncasecmp(list[i], name, len) == 0)
            return 1;
    return 0;
}
