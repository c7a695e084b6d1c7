/* cmdtable.c -- where a command's key is and whether it only reads (pure).
 *
 * Two tables share one shape: the built-in one below (Redis 7.0 core
 * commands, so routing works before COMMAND has been asked, and against
 * servers that deny COMMAND by ACL), and one learned from a COMMAND reply
 * (modules, newer commands). Both are sorted by lowercase name and searched
 * by bisection: lookups happen once per command sent.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmdtable.h"
#include "clusterc/clusterc.h"

/* How to find the first key. RULE_FIXED is the server's first-key field;
 * the others are the "movable keys" commands whose key the server can only
 * locate by parsing the arguments, as we do. */
typedef enum {
    RULE_FIXED = 0, /* argv[first] (keyless when first is 0) */
    RULE_NUMKEYS,   /* numkeys at argv[nk], first key argv[nk + 1] if numkeys > 0 */
    RULE_STREAMS,   /* XREAD / XREADGROUP: the argument after STREAMS */
    RULE_MIGRATE,   /* argv[3], or after KEYS when argv[3] is "" */
    RULE_SUBKEY,    /* CONTAINER <sub> key: argv[2] when present */
    RULE_MEMORY     /* MEMORY USAGE key: argv[2]; other MEMORY subcommands keyless */
} keyrule;

typedef struct cmdent {
    const char *name; /* lowercase, NUL-terminated */
    unsigned flags;
    int first, last, step;
    keyrule rule;
    int nk;           /* RULE_NUMKEYS: position of numkeys */
} cmdent;

struct clusterc__cmdtable {
    const cmdent *ents;
    size_t n;
    cmdent *owned;    /* learned tables: the entries, freed with the table */
    char *names;      /* learned tables: one block holding every name */
};

#define R CLUSTERC__CMD_READONLY
#define W CLUSTERC__CMD_WRITE
#define B CLUSTERC__CMD_BLOCKING
#define MU CLUSTERC__CMD_MULTI
#define EX CLUSTERC__CMD_EXEC
#define K(name, fl, f, l, s) {name, (fl) | CLUSTERC__CMD_KNOWN, f, l, s, RULE_FIXED, 0}
#define NK(name, fl, nk) {name, (fl) | CLUSTERC__CMD_KNOWN, 0, 0, 0, RULE_NUMKEYS, nk}
#define X(name, fl, rule) {name, (fl) | CLUSTERC__CMD_KNOWN, 0, 0, 0, rule, 0}

/* Sorted by name (byte order, '_' before letters): bisection depends on it,
 * and clusterc__cmdtable_selfcheck() (run by the unit tests) verifies it.
 * Flags are the server's readonly/write as COMMAND reports them in 7.0; EVAL
 * and FCALL are neither (the script decides), so they go to primaries. */
static const cmdent builtin_ents[] = {
    K("acl", 0, 0, 0, 0),
    K("append", W, 1, 1, 1),
    K("asking", 0, 0, 0, 0),
    K("auth", 0, 0, 0, 0),
    K("bgrewriteaof", 0, 0, 0, 0),
    K("bgsave", 0, 0, 0, 0),
    K("bitcount", R, 1, 1, 1),
    K("bitfield", W, 1, 1, 1),
    K("bitfield_ro", R, 1, 1, 1),
    K("bitop", W, 2, -1, 1),
    K("bitpos", R, 1, 1, 1),
    K("blmove", W | B, 1, 2, 1),
    NK("blmpop", W | B, 2),
    K("blpop", W | B, 1, -2, 1),
    K("brpop", W | B, 1, -2, 1),
    K("brpoplpush", W | B, 1, 2, 1),
    NK("bzmpop", W | B, 2),
    K("bzpopmax", W | B, 1, -2, 1),
    K("bzpopmin", W | B, 1, -2, 1),
    K("client", 0, 0, 0, 0),
    K("cluster", 0, 0, 0, 0),
    K("command", 0, 0, 0, 0),
    K("config", 0, 0, 0, 0),
    K("copy", W, 1, 2, 1),
    K("dbsize", R, 0, 0, 0),
    K("debug", 0, 0, 0, 0),
    K("decr", W, 1, 1, 1),
    K("decrby", W, 1, 1, 1),
    K("del", W, 1, -1, 1),
    K("discard", EX, 0, 0, 0),
    K("dump", R, 1, 1, 1),
    K("echo", 0, 0, 0, 0),
    NK("eval", 0, 2),
    NK("eval_ro", R, 2),
    NK("evalsha", 0, 2),
    NK("evalsha_ro", R, 2),
    K("exec", EX, 0, 0, 0),
    K("exists", R, 1, -1, 1),
    K("expire", W, 1, 1, 1),
    K("expireat", W, 1, 1, 1),
    K("expiretime", R, 1, 1, 1),
    NK("fcall", 0, 2),
    NK("fcall_ro", R, 2),
    K("flushall", W, 0, 0, 0),
    K("flushdb", W, 0, 0, 0),
    K("function", 0, 0, 0, 0),
    K("geoadd", W, 1, 1, 1),
    K("geodist", R, 1, 1, 1),
    K("geohash", R, 1, 1, 1),
    K("geopos", R, 1, 1, 1),
    K("georadius", W, 1, 1, 1),
    K("georadius_ro", R, 1, 1, 1),
    K("georadiusbymember", W, 1, 1, 1),
    K("georadiusbymember_ro", R, 1, 1, 1),
    K("geosearch", R, 1, 1, 1),
    K("geosearchstore", W, 1, 2, 1),
    K("get", R, 1, 1, 1),
    K("getbit", R, 1, 1, 1),
    K("getdel", W, 1, 1, 1),
    K("getex", W, 1, 1, 1),
    K("getrange", R, 1, 1, 1),
    K("getset", W, 1, 1, 1),
    K("hdel", W, 1, 1, 1),
    K("hello", 0, 0, 0, 0),
    K("hexists", R, 1, 1, 1),
    K("hget", R, 1, 1, 1),
    K("hgetall", R, 1, 1, 1),
    K("hincrby", W, 1, 1, 1),
    K("hincrbyfloat", W, 1, 1, 1),
    K("hkeys", R, 1, 1, 1),
    K("hlen", R, 1, 1, 1),
    K("hmget", R, 1, 1, 1),
    K("hmset", W, 1, 1, 1),
    K("hrandfield", R, 1, 1, 1),
    K("hscan", R, 1, 1, 1),
    K("hset", W, 1, 1, 1),
    K("hsetnx", W, 1, 1, 1),
    K("hstrlen", R, 1, 1, 1),
    K("hvals", R, 1, 1, 1),
    K("incr", W, 1, 1, 1),
    K("incrby", W, 1, 1, 1),
    K("incrbyfloat", W, 1, 1, 1),
    K("info", 0, 0, 0, 0),
    K("keys", R, 0, 0, 0),
    K("lastsave", 0, 0, 0, 0),
    K("latency", 0, 0, 0, 0),
    K("lcs", R, 1, 2, 1),
    K("lindex", R, 1, 1, 1),
    K("linsert", W, 1, 1, 1),
    K("llen", R, 1, 1, 1),
    K("lmove", W, 1, 2, 1),
    NK("lmpop", W, 1),
    K("lolwut", R, 0, 0, 0),
    K("lpop", W, 1, 1, 1),
    K("lpos", R, 1, 1, 1),
    K("lpush", W, 1, 1, 1),
    K("lpushx", W, 1, 1, 1),
    K("lrange", R, 1, 1, 1),
    K("lrem", W, 1, 1, 1),
    K("lset", W, 1, 1, 1),
    K("ltrim", W, 1, 1, 1),
    X("memory", R, RULE_MEMORY),
    K("mget", R, 1, -1, 1),
    X("migrate", W, RULE_MIGRATE),
    K("monitor", 0, 0, 0, 0),
    K("move", W, 1, 1, 1),
    K("mset", W, 1, -1, 2),
    K("msetnx", W, 1, -1, 2),
    K("multi", MU, 0, 0, 0),
    X("object", R, RULE_SUBKEY),
    K("persist", W, 1, 1, 1),
    K("pexpire", W, 1, 1, 1),
    K("pexpireat", W, 1, 1, 1),
    K("pexpiretime", R, 1, 1, 1),
    K("pfadd", W, 1, 1, 1),
    K("pfcount", R, 1, -1, 1),
    K("pfmerge", W, 1, -1, 1),
    K("ping", 0, 0, 0, 0),
    K("psetex", W, 1, 1, 1),
    K("pttl", R, 1, 1, 1),
    K("publish", 0, 0, 0, 0),
    K("pubsub", 0, 0, 0, 0),
    K("quit", 0, 0, 0, 0),
    K("randomkey", R, 0, 0, 0),
    K("readonly", 0, 0, 0, 0),
    K("readwrite", 0, 0, 0, 0),
    K("rename", W, 1, 2, 1),
    K("renamenx", W, 1, 2, 1),
    K("reset", 0, 0, 0, 0),
    K("restore", W, 1, 1, 1),
    K("role", 0, 0, 0, 0),
    K("rpop", W, 1, 1, 1),
    K("rpoplpush", W, 1, 2, 1),
    K("rpush", W, 1, 1, 1),
    K("rpushx", W, 1, 1, 1),
    K("sadd", W, 1, 1, 1),
    K("save", 0, 0, 0, 0),
    K("scan", R, 0, 0, 0),
    K("scard", R, 1, 1, 1),
    K("script", 0, 0, 0, 0),
    K("sdiff", R, 1, -1, 1),
    K("sdiffstore", W, 1, -1, 1),
    K("select", 0, 0, 0, 0),
    K("set", W, 1, 1, 1),
    K("setbit", W, 1, 1, 1),
    K("setex", W, 1, 1, 1),
    K("setnx", W, 1, 1, 1),
    K("setrange", W, 1, 1, 1),
    K("shutdown", 0, 0, 0, 0),
    K("sinter", R, 1, -1, 1),
    NK("sintercard", R, 1),
    K("sinterstore", W, 1, -1, 1),
    K("sismember", R, 1, 1, 1),
    K("slowlog", 0, 0, 0, 0),
    K("smembers", R, 1, 1, 1),
    K("smismember", R, 1, 1, 1),
    K("smove", W, 1, 2, 1),
    K("sort", W, 1, 1, 1),
    K("sort_ro", R, 1, 1, 1),
    K("spop", W, 1, 1, 1),
    K("spublish", 0, 1, 1, 1),
    K("srandmember", R, 1, 1, 1),
    K("srem", W, 1, 1, 1),
    K("sscan", R, 1, 1, 1),
    K("strlen", R, 1, 1, 1),
    K("substr", R, 1, 1, 1),
    K("sunion", R, 1, -1, 1),
    K("sunionstore", W, 1, -1, 1),
    K("swapdb", W, 0, 0, 0),
    K("time", 0, 0, 0, 0),
    K("touch", R, 1, -1, 1),
    K("ttl", R, 1, 1, 1),
    K("type", R, 1, 1, 1),
    K("unlink", W, 1, -1, 1),
    K("unwatch", 0, 0, 0, 0),
    K("wait", B, 0, 0, 0),
    K("watch", 0, 1, -1, 1),
    K("xack", W, 1, 1, 1),
    K("xadd", W, 1, 1, 1),
    K("xautoclaim", W, 1, 1, 1),
    K("xclaim", W, 1, 1, 1),
    K("xdel", W, 1, 1, 1),
    X("xgroup", W, RULE_SUBKEY),
    X("xinfo", R, RULE_SUBKEY),
    K("xlen", R, 1, 1, 1),
    K("xpending", R, 1, 1, 1),
    K("xrange", R, 1, 1, 1),
    X("xread", R | B, RULE_STREAMS),
    X("xreadgroup", W | B, RULE_STREAMS),
    K("xrevrange", R, 1, 1, 1),
    K("xsetid", W, 1, 1, 1),
    K("xtrim", W, 1, 1, 1),
    K("zadd", W, 1, 1, 1),
    K("zcard", R, 1, 1, 1),
    K("zcount", R, 1, 1, 1),
    NK("zdiff", R, 1),
    K("zdiffstore", W, 1, 1, 1),
    K("zincrby", W, 1, 1, 1),
    NK("zinter", R, 1),
    NK("zintercard", R, 1),
    K("zinterstore", W, 1, 1, 1),
    K("zlexcount", R, 1, 1, 1),
    NK("zmpop", W, 1),
    K("zmscore", R, 1, 1, 1),
    K("zpopmax", W, 1, 1, 1),
    K("zpopmin", W, 1, 1, 1),
    K("zrandmember", R, 1, 1, 1),
    K("zrange", R, 1, 1, 1),
    K("zrangebylex", R, 1, 1, 1),
    K("zrangebyscore", R, 1, 1, 1),
    K("zrangestore", W, 1, 2, 1),
    K("zrank", R, 1, 1, 1),
    K("zrem", W, 1, 1, 1),
    K("zremrangebylex", W, 1, 1, 1),
    K("zremrangebyrank", W, 1, 1, 1),
    K("zremrangebyscore", W, 1, 1, 1),
    K("zrevrange", R, 1, 1, 1),
    K("zrevrangebylex", R, 1, 1, 1),
    K("zrevrangebyscore", R, 1, 1, 1),
    K("zrevrank", R, 1, 1, 1),
    K("zscan", R, 1, 1, 1),
    K("zscore", R, 1, 1, 1),
    NK("zunion", R, 1),
    K("zunionstore", W, 1, 1, 1),
};

#undef K
#undef NK
#undef X

static const clusterc__cmdtable builtin = {
    builtin_ents, sizeof(builtin_ents) / sizeof(builtin_ents[0]), NULL, NULL};

const clusterc__cmdtable *clusterc__cmdtable_builtin(void)
{
    return &builtin;
}

/* ASCII only: command names are ASCII, and the C library's tolower()
 * depends on the locale (Turkish 'I'). */
static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Compare len bytes of s (any case) with a lowercase NUL-terminated name. */
static int name_cmp(const char *s, size_t len, const char *name)
{
    for (size_t i = 0; i < len; i++) {
        int a = lower((unsigned char)s[i]), b = (unsigned char)name[i];
        if (b == 0 || a != b)
            return b == 0 ? 1 : a - b;
    }
    return name[len] == 0 ? 0 : -1;
}

static const cmdent *lookup(const clusterc__cmdtable *t, const char *s, size_t len)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(s, len, t->ents[mid].name);
        if (c == 0)
            return &t->ents[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int clusterc__cmdtable_selfcheck(const clusterc__cmdtable *t)
{
    for (size_t i = 0; i < t->n; i++) {
        const char *nm = t->ents[i].name;
        for (const char *p = nm; *p; p++)
            if (lower((unsigned char)*p) != (unsigned char)*p) /* bytes >= 0x80 too */
                return -1;
        if (i > 0 && strcmp(t->ents[i - 1].name, nm) >= 0)
            return -1;
        if (lookup(t, nm, strlen(nm)) != &t->ents[i])
            return -1;
    }
    return 0;
}

/* ======================================================= learned from COMMAND */

#define NAME_MAX_LEN 255 /* module commands ("ft.aggregate") are short too */
#define KEYPOS_MAX 1000000

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int entry_fail(char *err, size_t errcap, size_t i, const char *fmt, ...)
{
    if (err != NULL && errcap > 0) {
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(err, errcap, "COMMAND reply: entry %zu: %s", i, msg);
    }
    return -1;
}

static int is_str(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

static int str_is(const redisReply *r, const char *s)
{
    return name_cmp(r->str, r->len, s) == 0;   /* equal only at equal length */
}

/* Check one entry's shape and return the server flags as CLUSTERC__CMD_*;
 * *movable says whether the server cannot place the keys itself. */
static int entry_check(const redisReply *e, size_t i, unsigned *flags, int *movable,
                       char *err, size_t errcap)
{
    if (e == NULL || e->type != REDIS_REPLY_ARRAY)
        return entry_fail(err, errcap, i, "not an array");
    if (e->elements < 6)
        return entry_fail(err, errcap, i, "%zu elements, expected at least 6", e->elements);
    const redisReply *name = e->element[0];
    if (!is_str(name) || name->len == 0 || name->len > NAME_MAX_LEN ||
        memchr(name->str, '\0', name->len) != NULL)
        return entry_fail(err, errcap, i, "name is not a valid string");
    static const char *const what[] = {"arity", "first key", "last key", "step"};
    static const int at[] = {1, 3, 4, 5};
    for (int k = 0; k < 4; k++) {
        const redisReply *v = e->element[at[k]];
        if (v->type != REDIS_REPLY_INTEGER)
            return entry_fail(err, errcap, i, "\"%.*s\": %s is not an integer",
                              (int)name->len, name->str, what[k]);
        /* Stored as int; no command has anywhere near this many arguments. */
        if (v->integer < -KEYPOS_MAX || v->integer > KEYPOS_MAX)
            return entry_fail(err, errcap, i, "\"%.*s\": %s %lld is out of range",
                              (int)name->len, name->str, what[k], v->integer);
    }
    const redisReply *fl = e->element[2];
    if (fl->type != REDIS_REPLY_ARRAY)
        return entry_fail(err, errcap, i, "\"%.*s\": flags is not an array",
                          (int)name->len, name->str);
    *flags = CLUSTERC__CMD_KNOWN;
    *movable = e->element[3]->integer <= 0;
    for (size_t j = 0; j < fl->elements; j++) {
        const redisReply *f = fl->element[j];
        if (!is_str(f))
            return entry_fail(err, errcap, i, "\"%.*s\": flag %zu is not a string",
                              (int)name->len, name->str, j);
        if (str_is(f, "readonly"))
            *flags |= CLUSTERC__CMD_READONLY;
        else if (str_is(f, "write"))
            *flags |= CLUSTERC__CMD_WRITE;
        else if (str_is(f, "blocking"))
            *flags |= CLUSTERC__CMD_BLOCKING;
        else if (str_is(f, "movablekeys"))
            *movable = 1;
    }
    return 0;
}

/* Fill a learned entry; name already copied. Movable-key commands and
 * containers take the built-in rule of the same name when there is one:
 * the reply's legacy key range cannot describe them. */
static void entry_fill(cmdent *c, const redisReply *e, unsigned flags, int movable)
{
    const cmdent *b = lookup(&builtin, c->name, strlen(c->name));
    c->flags = flags;
    c->first = (int)e->element[3]->integer;
    c->last = (int)e->element[4]->integer;
    c->step = (int)e->element[5]->integer;
    c->rule = RULE_FIXED;
    c->nk = 0;
    if (b == NULL)
        return;
    /* MULTI/EXEC and "may block" are client-side notions (WAIT, XREAD have
     * no server "blocking" flag in every version): keep ours. */
    c->flags |= b->flags & (CLUSTERC__CMD_MULTI | CLUSTERC__CMD_EXEC | CLUSTERC__CMD_BLOCKING);
    if (!(flags & (CLUSTERC__CMD_READONLY | CLUSTERC__CMD_WRITE)))
        c->flags |= b->flags & (CLUSTERC__CMD_READONLY | CLUSTERC__CMD_WRITE);
    if (movable && (b->rule != RULE_FIXED || b->first > 0)) {
        c->rule = b->rule;
        c->nk = b->nk;
        c->first = b->first;
        c->last = b->last;
        c->step = b->step;
    }
}

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const cmdent *)a)->name, ((const cmdent *)b)->name);
}

int clusterc__cmdtable_from_reply(const redisReply *r, clusterc__cmdtable **out,
                                  char *err, size_t errcap)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "COMMAND reply: not an array");
        return -1;
    }
    size_t namebytes = 0;
    for (size_t i = 0; i < r->elements; i++) {
        unsigned flags;
        int movable;
        if (entry_check(r->element[i], i, &flags, &movable, err, errcap) != 0)
            return -1;
        namebytes += r->element[i]->element[0]->len + 1;
    }
    clusterc__cmdtable *t = calloc(1, sizeof(*t));
    cmdent *ents = malloc((r->elements + 1) * sizeof(*ents));
    char *names = malloc(namebytes + 1);
    if (t == NULL || ents == NULL || names == NULL) {
        free(t);
        free(ents);
        free(names);
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "COMMAND reply: out of memory");
        return -1;
    }
    char *p = names;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i], *nm = e->element[0];
        unsigned flags;
        int movable;
        entry_check(e, i, &flags, &movable, NULL, 0); /* checked above */
        for (size_t k = 0; k < nm->len; k++)
            p[k] = (char)lower((unsigned char)nm->str[k]);
        p[nm->len] = '\0';
        ents[i].name = p;
        p += nm->len + 1;
        entry_fill(&ents[i], e, flags, movable);
    }
    qsort(ents, r->elements, sizeof(*ents), ent_cmp);
    /* A name listed twice would break bisection's uniqueness: keep one. */
    size_t n = 0;
    for (size_t i = 0; i < r->elements; i++)
        if (n == 0 || strcmp(ents[n - 1].name, ents[i].name) != 0)
            ents[n++] = ents[i];
    t->ents = t->owned = ents;
    t->n = n;
    t->names = names;
    *out = t;
    return 0;
}

void clusterc__cmdtable_free(clusterc__cmdtable *t)
{
    if (t == NULL || t == &builtin)
        return;
    free(t->owned);
    free(t->names);
    free(t);
}

/* ========================================================= inspecting RESP */

typedef struct arg {
    const char *p;
    size_t len;
} arg;

/* Walks "$len\r\n<bytes>\r\n" elements; never reads at or past end. */
typedef struct cursor {
    const char *p, *end;
} cursor;

/* A decimal length after the type byte, then CRLF. 18 digits at most so
 * the value cannot overflow; RESP lengths beyond that are garbage anyway. */
static int read_len(cursor *c, char type, long long *out)
{
    const char *p = c->p;
    long long v = 0;
    int digits = 0;
    if (p >= c->end || *p != type)
        return -1;
    for (p++; p < c->end && *p >= '0' && *p <= '9'; p++) {
        if (++digits > 18)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (digits == 0 || c->end - p < 2 || p[0] != '\r' || p[1] != '\n')
        return -1;
    c->p = p + 2;
    *out = v;
    return 0;
}

static int next_arg(cursor *c, arg *a)
{
    long long n;
    if (read_len(c, '$', &n) != 0)
        return -1;
    if ((unsigned long long)(c->end - c->p) < (unsigned long long)n + 2)
        return -1;
    a->p = c->p;
    a->len = (size_t)n;
    if (a->p[n] != '\r' || a->p[n + 1] != '\n')
        return -1;
    c->p += n + 2;
    return 0;
}

/* The command after validation: argc, and where argv[1] starts, so the key
 * rules can walk from there without re-checking. */
typedef struct cmdargs {
    const char *resp, *end;
    long long argc;
    arg argv[4]; /* the first four arguments (fewer when argc < 4) */
} cmdargs;

/* A cursor before argv[i] (i <= argc) of an already validated command. */
static cursor cursor_at(const cmdargs *ca, long long i)
{
    cursor c = {ca->resp, ca->end};
    long long n;
    arg a;
    read_len(&c, '*', &n);
    for (long long k = 0; k < i; k++)
        next_arg(&c, &a);
    return c;
}

/* argv[i] (i < argc): kept for the first four, else walked to; key
 * positions past argv[3] are rare and scans below use one cursor. */
static arg arg_at(const cmdargs *ca, long long i)
{
    if (i < 4)
        return ca->argv[i];
    cursor c = cursor_at(ca, i);
    arg a = {NULL, 0};
    next_arg(&c, &a);
    return a;
}

static int arg_is(arg a, const char *lower_word)
{
    return name_cmp(a.p, a.len, lower_word) == 0;   /* per argument: no strlen */
}

/* numkeys as a small non-negative decimal; -1 when not a number. */
static long long arg_num(arg a)
{
    long long v = 0;
    if (a.len == 0 || a.len > 9)
        return -1;
    for (size_t i = 0; i < a.len; i++) {
        if (a.p[i] < '0' || a.p[i] > '9')
            return -1;
        v = v * 10 + (a.p[i] - '0');
    }
    return v;
}

/* Scan argv[from..] for the keyword `word` (any case), skipping the values
 * that follow each option in opts. Returns the index after the keyword, or
 * -1. One cursor pass, so a huge command costs O(n), not O(n^2). */
typedef struct opt {
    const char *name;
    int nvalues;
} opt;

static long long key_after(const cmdargs *ca, long long from, const char *word,
                           const opt *opts, size_t nopts)
{
    if (from >= ca->argc)
        return -1;
    cursor c = cursor_at(ca, from);
    long long skip = 0;
    for (long long i = from; i < ca->argc; i++) {
        arg a;
        next_arg(&c, &a);
        if (skip > 0) {
            skip--;
            continue;
        }
        if (arg_is(a, word))
            return i + 1;
        for (size_t k = 0; k < nopts; k++)
            if (arg_is(a, opts[k].name))
                skip = opts[k].nvalues;
    }
    return -1;
}

/* XREAD [COUNT n] [BLOCK ms] STREAMS k...; XREADGROUP GROUP g c [COUNT n]
 * [BLOCK ms] [NOACK] STREAMS k... Option values are skipped so a group or
 * consumer named "streams" is not taken for the keyword. */
static long long key_after_streams(const cmdargs *ca)
{
    static const opt opts[] = {{"group", 2}, {"count", 1}, {"block", 1}};
    return key_after(ca, 1, "streams", opts, sizeof(opts) / sizeof(opts[0]));
}

/* MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw]
 * [AUTH2 user pw] [KEYS k...] */
static long long key_migrate(const cmdargs *ca)
{
    static const opt opts[] = {{"auth", 1}, {"auth2", 2}};
    if (ca->argc > 3 && arg_at(ca, 3).len > 0)
        return 3;
    return key_after(ca, 6, "keys", opts, sizeof(opts) / sizeof(opts[0]));
}

/* Index of the first key in argv, or -1 when the command has none. */
static long long first_key(const cmdent *e, const cmdargs *ca)
{
    long long n;
    switch (e->rule) {
    case RULE_FIXED:
        return e->first > 0 ? e->first : -1;
    case RULE_NUMKEYS:
        if (ca->argc <= e->nk)
            return -1;
        n = arg_num(arg_at(ca, e->nk));
        return n > 0 ? e->nk + 1 : -1;
    case RULE_STREAMS:
        return key_after_streams(ca);
    case RULE_MIGRATE:
        return key_migrate(ca);
    case RULE_SUBKEY:
        return 2;
    case RULE_MEMORY:
        return (ca->argc > 1 && arg_is(ca->argv[1], "usage")) ? 2 : -1;
    }
    return -1;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int resp_fail(char *err, size_t errcap, const char *fmt, ...)
{
    if (err != NULL && errcap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Check the whole buffer is one array of bulk strings, keeping argv[0..3]. */
static int parse_args(const char *resp, size_t len, cmdargs *ca, char *err, size_t errcap)
{
    cursor c = {resp, resp + len};
    memset(ca, 0, sizeof(*ca));
    ca->resp = resp;
    ca->end = resp + len;
    if (read_len(&c, '*', &ca->argc) != 0)
        return resp_fail(err, errcap, "command: bad array header");
    if (ca->argc < 1)
        return resp_fail(err, errcap, "command: empty array");
    for (long long i = 0; i < ca->argc; i++) {
        arg a;
        if (next_arg(&c, &a) != 0)
            return resp_fail(err, errcap, "command: argument %lld is not a bulk string "
                             "or is truncated (byte %zu)", i, (size_t)(c.p - resp));
        if (i < 4)
            ca->argv[i] = a;
    }
    if (c.p != c.end)
        return resp_fail(err, errcap, "command: %zu trailing bytes",
                         (size_t)(c.end - c.p));
    return 0;
}

int clusterc__cmd_inspect(const clusterc__cmdtable *t, const char *resp, size_t len,
                          clusterc__cmdinfo *out, char *err, size_t errcap)
{
    cmdargs ca;
    if (resp == NULL)
        return resp_fail(err, errcap, "command: no buffer");
    if (parse_args(resp, len, &ca, err, errcap) != 0)
        return -1;
    const cmdent *e = lookup(t != NULL ? t : &builtin, ca.argv[0].p, ca.argv[0].len);
    /* Not in a learned table may still be a core command the server hides
     * from COMMAND (ACL): the built-in rules beat guessing. */
    if (e == NULL && t != NULL && t != &builtin)
        e = lookup(&builtin, ca.argv[0].p, ca.argv[0].len);
    long long k;
    out->name = ca.argv[0].p;
    out->namelen = ca.argv[0].len;
    if (e != NULL) {
        out->flags = e->flags;
        k = first_key(e, &ca);
    } else {
        out->flags = 0; /* unknown: primary only, never repeated */
        k = 1;
    }
    if (k >= 1 && k < ca.argc) {
        arg key = arg_at(&ca, k);
        out->slot = clusterc_keyslot(key.p, key.len);
    } else {
        out->slot = -1;
    }
    return 0;
}
