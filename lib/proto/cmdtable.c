/* cmdtable.c -- where a command's key is, whether it only reads, and what
 * else the engine asks of its name (pure).
 *
 * Two tables share one shape (cmdtable_int.h): the built-in one below
 * (Redis 7.0 core commands, so routing works before COMMAND has been asked,
 * and against servers that deny COMMAND by ACL), and one learned from a
 * COMMAND reply (modules, newer commands). Both are found by one hash of
 * the name (cmdtable_int.h): a lookup happens once per command sent, and
 * its entry answers every question the engine has about the name
 * (CLUSTERC__CMDP_*). Inspecting the RESP command is cmdinspect.c.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmdtable_int.h"
#include "fanout.h"
#include "clusterc/clusterc.h"

#define R CLUSTERC__CMD_READONLY
#define W CLUSTERC__CMD_WRITE
#define B CLUSTERC__CMD_BLOCKING
#define MU CLUSTERC__CMD_MULTI
#define EX CLUSTERC__CMD_EXEC
#define KN CLUSTERC__CMD_KNOWN
#define NH CLUSTERC__CMDP_NOT_HERE
#define CO CLUSTERC__CMDP_CONTAINER
#define FO CLUSTERC__CMDP_FANOUT
#define E(name, fl, f, l, s, rule, nk, props) \
    {name, sizeof(name) - 1, fl, props, f, l, s, rule, nk}
#define K(name, fl, f, l, s) E(name, (fl) | KN, f, l, s, RULE_FIXED, 0, 0)
#define KP(name, fl, f, l, s, props) E(name, (fl) | KN, f, l, s, RULE_FIXED, 0, props)
#define NK(name, fl, nk) E(name, (fl) | KN, 0, 0, 0, RULE_NUMKEYS, nk, 0)
#define X(name, fl, rule) E(name, (fl) | KN, 0, 0, 0, rule, 0, 0)
#define XP(name, fl, rule, props) E(name, (fl) | KN, 0, 0, 0, rule, 0, props)
/* Kept only for its props: not KNOWN and key argv[1], so it inspects
 * exactly as a name in no table does (flags 0, the slot of argv[1]). */
#define U(name, props) E(name, 0, 1, 1, 1, RULE_FIXED, 0, props)

/* Sorted by name (byte order, '_' before letters): clusterc__cmdtable_selfcheck()
 * (run by the unit tests) verifies it. Flags are the server's readonly/write
 * as COMMAND reports them in 7.0; EVAL and FCALL are neither (the script
 * decides), so they go to primaries.
 *
 * Props (CLUSTERC__CMDP_*, cmdtable.h), checked name by name against the
 * functions that answered them before by test_cmdtable's test_props_agree:
 * NH  clusterc__cmd_not_here refuses it (blocking.c: Pub/Sub and MONITOR,
 *     AUTH, HELLO);
 * CO  a container, shown with its sub-command (cmdname.c's list);
 * FO  engine/fanout.c's clusterc__fanout_mark can mark it: a multi-key
 *     command it splits (DEL, EXISTS, MGET, MSET, TOUCH, UNLINK), or a name
 *     with a built-in policy (proto/fanout.c) of all_shards or all_nodes
 *     whose response policy is not "special", alone or as "name|sub". */
static const cmdent builtin_ents[] = {
    KP("acl", 0, 0, 0, 0, CO),
    K("append", W, 1, 1, 1),
    K("asking", 0, 0, 0, 0),
    KP("auth", 0, 0, 0, 0, NH),
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
    KP("client", 0, 0, 0, 0, CO),
    KP("cluster", 0, 0, 0, 0, CO),
    KP("command", 0, 0, 0, 0, CO),
    KP("config", 0, 0, 0, 0, CO | FO),
    K("copy", W, 1, 2, 1),
    KP("dbsize", R, 0, 0, 0, FO),
    K("debug", 0, 0, 0, 0),
    K("decr", W, 1, 1, 1),
    K("decrby", W, 1, 1, 1),
    KP("del", W, 1, -1, 1, FO),
    K("discard", EX, 0, 0, 0),
    K("dump", R, 1, 1, 1),
    K("echo", 0, 0, 0, 0),
    NK("eval", 0, 2),
    NK("eval_ro", R, 2),
    NK("evalsha", 0, 2),
    NK("evalsha_ro", R, 2),
    K("exec", EX, 0, 0, 0),
    KP("exists", R, 1, -1, 1, FO),
    K("expire", W, 1, 1, 1),
    K("expireat", W, 1, 1, 1),
    K("expiretime", R, 1, 1, 1),
    NK("fcall", 0, 2),
    NK("fcall_ro", R, 2),
    KP("flushall", W, 0, 0, 0, FO),
    KP("flushdb", W, 0, 0, 0, FO),
    KP("function", 0, 0, 0, 0, CO | FO),
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
    KP("hello", 0, 0, 0, 0, NH),
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
    KP("keys", R, 0, 0, 0, FO),
    K("lastsave", 0, 0, 0, 0),
    KP("latency", 0, 0, 0, 0, CO | FO),
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
    XP("memory", R, RULE_MEMORY, CO | FO),
    KP("mget", R, 1, -1, 1, FO),
    X("migrate", W, RULE_MIGRATE),
    U("module", CO),
    KP("monitor", 0, 0, 0, 0, NH),
    K("move", W, 1, 1, 1),
    KP("mset", W, 1, -1, 2, FO),
    K("msetnx", W, 1, -1, 2),
    K("multi", MU, 0, 0, 0),
    XP("object", R, RULE_SUBKEY, CO),
    K("persist", W, 1, 1, 1),
    K("pexpire", W, 1, 1, 1),
    K("pexpireat", W, 1, 1, 1),
    K("pexpiretime", R, 1, 1, 1),
    K("pfadd", W, 1, 1, 1),
    K("pfcount", R, 1, -1, 1),
    K("pfmerge", W, 1, -1, 1),
    KP("ping", 0, 0, 0, 0, FO),
    K("psetex", W, 1, 1, 1),
    U("psubscribe", NH),
    K("pttl", R, 1, 1, 1),
    K("publish", 0, 0, 0, 0),
    KP("pubsub", 0, 0, 0, 0, CO),
    U("punsubscribe", NH),
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
    KP("script", 0, 0, 0, 0, CO | FO),
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
    KP("slowlog", 0, 0, 0, 0, CO | FO),
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
    U("ssubscribe", NH),
    K("strlen", R, 1, 1, 1),
    U("subscribe", NH),
    K("substr", R, 1, 1, 1),
    K("sunion", R, 1, -1, 1),
    K("sunionstore", W, 1, -1, 1),
    U("sunsubscribe", NH),
    K("swapdb", W, 0, 0, 0),
    K("time", 0, 0, 0, 0),
    KP("touch", R, 1, -1, 1, FO),
    K("ttl", R, 1, 1, 1),
    K("type", R, 1, 1, 1),
    KP("unlink", W, 1, -1, 1, FO),
    U("unsubscribe", NH),
    K("unwatch", 0, 0, 0, 0),
    KP("wait", B, 0, 0, 0, FO),
    K("watch", 0, 1, -1, 1),
    K("xack", W, 1, 1, 1),
    K("xadd", W, 1, 1, 1),
    K("xautoclaim", W, 1, 1, 1),
    K("xclaim", W, 1, 1, 1),
    K("xdel", W, 1, 1, 1),
    XP("xgroup", W, RULE_SUBKEY, CO),
    XP("xinfo", R, RULE_SUBKEY, CO),
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

#undef E
#undef K
#undef KP
#undef NK
#undef X
#undef XP
#undef U

/* ============================================================ the index */

#define NBUILTIN (sizeof(builtin_ents) / sizeof(builtin_ents[0]))
#define BUILTIN_CAP 512u   /* a power of two, at least twice the entries */
_Static_assert(2 * NBUILTIN <= BUILTIN_CAP, "raise BUILTIN_CAP to the next power of two");

/*
 * The built-in index (8 KB) is built at run time, once per process, by
 * pthread_once, rather than generated into this file: generated, it would
 * be 512 slots of hashes and words to regenerate by a script at every edit
 * of the table above; built, it costs a few microseconds once. Thread
 * safety without a lock on the lookup path: every way to reach the
 * built-in table (clusterc__cmdtable_builtin(), clusterc__cmd_inspect with
 * NULL, a learned table's fallback, set by clusterc__cmdtable_from_reply)
 * goes through pthread_once first, which returns only after the build and
 * makes its writes visible to the caller; engines in other threads get
 * their table pointer from such a caller through whatever synchronisation
 * hands them the engine. After that the index is only read.
 */
static cmdslot builtin_index[BUILTIN_CAP];
static clusterc__cmdtable builtin = {
    .ents = builtin_ents, .n = NBUILTIN, .index = builtin_index, .mask = BUILTIN_CAP - 1};
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

/* Put entry i of ents at its hash's first free slot; cap (mask + 1) is at
 * least 2n, so a free slot is always near. Also records the longest name. */
static void index_fill(cmdslot *index, size_t mask, const cmdent *ents, size_t n,
                       size_t *maxlen)
{
    *maxlen = 0;
    for (size_t i = 0; i < n; i++) {
        cmdkey k = clusterc__cmd_key(ents[i].name, ents[i].len, ents[i].len);
        size_t s = k.h & mask;
        while (index[s].ent != 0)
            s = (s + 1) & mask;
        index[s].w = k.w;
        index[s].ent = (uint32_t)(i + 1);
        index[s].len = (uint32_t)ents[i].len;
        if (ents[i].len > *maxlen)
            *maxlen = ents[i].len;
    }
}

static void builtin_build(void)
{
    index_fill(builtin_index, BUILTIN_CAP - 1, builtin_ents, NBUILTIN, &builtin.maxlen);
}

const clusterc__cmdtable *clusterc__cmdtable_builtin(void)
{
    pthread_once(&builtin_once, builtin_build);
    return &builtin;
}

static const cmdent *find(const clusterc__cmdtable *t, const char *s, size_t len)
{
    return clusterc__cmd_find(t, s, len, clusterc__cmd_key(s, len, len));
}

const char *clusterc__cmdtable_at(const clusterc__cmdtable *t, size_t i, unsigned *flags,
                                  unsigned *props)
{
    if (t == NULL || i >= t->n)
        return NULL;
    *flags = t->ents[i].flags;
    *props = t->ents[i].props;
    return t->ents[i].name;
}

int clusterc__cmdtable_selfcheck(const clusterc__cmdtable *t)
{
    size_t used = 0;
    for (size_t i = 0; i <= t->mask; i++)
        if (t->index[i].ent != 0 && (t->index[i].ent > t->n || ++used > t->n))
            return -1;
    if (used != t->n || 2 * t->n > t->mask + 1)
        return -1;   /* every entry indexed once; half empty, so misses end */
    for (size_t i = 0; i < t->n; i++) {
        const char *nm = t->ents[i].name;
        for (const char *p = nm; *p; p++)
            if (clusterc__cmd_lower((unsigned char)*p) != (unsigned char)*p) /* bytes >= 0x80 too */
                return -1;
        if (strlen(nm) != t->ents[i].len || t->ents[i].len > t->maxlen)
            return -1;
        if (i > 0 && strcmp(t->ents[i - 1].name, nm) >= 0)
            return -1;
        if (find(t, nm, t->ents[i].len) != &t->ents[i])
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

static int reply_fail(char *err, size_t errcap, const char *what)
{
    if (err != NULL && errcap > 0)
        snprintf(err, errcap, "COMMAND reply: %s", what);
    return -1;
}

static int is_str(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

/* r's text (any case) is the lowercase word s; equal only at equal length. */
static int str_is(const redisReply *r, const char *s)
{
    size_t i = 0;
    for (; i < r->len && s[i] != '\0'; i++)
        if (clusterc__cmd_lower((unsigned char)r->str[i]) != (unsigned char)s[i])
            return 0;
    return i == r->len && s[i] == '\0';
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

/* Fill a learned entry; name and len already set. The props are the
 * built-in entry's (they are this library's questions, not the server's;
 * FANOUT may be added from the reply's tips by learn_fanout). Movable-key
 * commands and containers take the built-in rule of the same name when
 * there is one: the reply's legacy key range cannot describe them. */
static void entry_fill(cmdent *c, const redisReply *e, unsigned flags, int movable)
{
    const cmdent *b = find(&builtin, c->name, c->len);
    c->flags = flags;
    c->props = 0;
    c->first = (int)e->element[3]->integer;
    c->last = (int)e->element[4]->integer;
    c->step = (int)e->element[5]->integer;
    c->rule = RULE_FIXED;
    c->nk = 0;
    if (b == NULL)
        return;
    c->props = b->props;
    if (!(b->flags & CLUSTERC__CMD_KNOWN))
        return;   /* kept for its props only (SUBSCRIBE): no rules to lend */
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

/* Whether engine/fanout.c's clusterc__fanout_mark marks a keyless command
 * with policy p (it must say the same). */
static int policy_fans_out(const clusterc__fanpolicy *p)
{
    return (p->req == CLUSTERC__REQ_ALL_SHARDS || p->req == CLUSTERC__REQ_ALL_NODES) &&
           p->resp != CLUSTERC__RESP_SPECIAL;
}

/* A policy named nm ("dbsize", "config|set", "a|b|c") is reached by the
 * command whose name is nm or nm up to a '|' (clusterc__policy_lookup tries
 * "argv[0]|argv[1]", then argv[0]). Each such name gets FANOUT: on its
 * entry; or, when this table lacks it but the built-in table (the
 * fallback) has it, on every miss of this table (miss_props), since the
 * fallback entry does not know this server's tips. A name in neither
 * table is unknown: clusterc__cmdinfo's contract covers it. */
static void mark_fanout(clusterc__cmdtable *t, const char *nm)
{
    size_t len = strlen(nm);
    for (size_t k = 0; k <= len; k++) {
        if (k < len && nm[k] != '|')
            continue;
        const cmdent *e = find(t, nm, k);
        if (e != NULL)
            t->owned[e - t->ents].props |= CLUSTERC__CMDP_FANOUT;
        else if (find(&builtin, nm, k) != NULL)
            t->miss_props |= CLUSTERC__CMDP_FANOUT;
    }
}

/* FANOUT from the reply's own tips, read by proto/fanout.c's parser (the
 * engine learns its policies from this same reply): a module command with
 * request_policy:all_shards is marked as DBSIZE is. Only what can add
 * marks is looked at: the built-in props stay (a server whose tips say
 * less just costs the engine a lookup that marks nothing). */
static int learn_fanout(clusterc__cmdtable *t, const redisReply *r)
{
    clusterc__policytable *pt = NULL;
    clusterc__fanpolicy pol;
    const char *nm;
    if (clusterc__policytable_from_reply(r, &pt, NULL, 0) != 0)
        return -1;   /* r is an array: out of memory */
    for (size_t i = 0; (nm = clusterc__policytable_at(pt, i, &pol)) != NULL; i++)
        if (policy_fans_out(&pol))
            mark_fanout(t, nm);
    clusterc__policytable_free(pt);
    return 0;
}

/* Copy every entry's lowercase name into names and fill it; sort by name
 * and keep one entry per name (a name listed twice is one command). */
static size_t ents_fill(cmdent *ents, char *names, const redisReply *r)
{
    char *p = names;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i], *nm = e->element[0];
        unsigned flags;
        int movable;
        entry_check(e, i, &flags, &movable, NULL, 0); /* checked before */
        for (size_t k = 0; k < nm->len; k++)
            p[k] = (char)clusterc__cmd_lower((unsigned char)nm->str[k]);
        p[nm->len] = '\0';
        ents[i].name = p;
        ents[i].len = nm->len;
        p += nm->len + 1;
        entry_fill(&ents[i], e, flags, movable);
    }
    qsort(ents, r->elements, sizeof(*ents), ent_cmp);
    size_t n = 0;
    for (size_t i = 0; i < r->elements; i++)
        if (n == 0 || strcmp(ents[n - 1].name, ents[i].name) != 0)
            ents[n++] = ents[i];
    return n;
}

int clusterc__cmdtable_from_reply(const redisReply *r, clusterc__cmdtable **out,
                                  char *err, size_t errcap)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        return reply_fail(err, errcap, "not an array");
    size_t namebytes = 0, cap = 8;
    for (size_t i = 0; i < r->elements; i++) {
        unsigned flags;
        int movable;
        if (entry_check(r->element[i], i, &flags, &movable, err, errcap) != 0)
            return -1;
        namebytes += r->element[i]->element[0]->len + 1;
    }
    if (r->elements > UINT32_MAX / 4)
        return reply_fail(err, errcap, "too many entries");
    while (cap < 2 * r->elements)
        cap *= 2;
    clusterc__cmdtable *t = calloc(1, sizeof(*t));
    cmdent *ents = malloc((r->elements + 1) * sizeof(*ents));
    char *names = malloc(namebytes + 1);
    cmdslot *index = calloc(cap, sizeof(*index));
    if (t == NULL || ents == NULL || names == NULL || index == NULL) {
        free(t);
        free(ents);
        free(names);
        free(index);
        return reply_fail(err, errcap, "out of memory");
    }
    t->fallback = clusterc__cmdtable_builtin();   /* built before entry_fill reads it */
    t->ents = t->owned = ents;
    t->names = names;
    t->n = ents_fill(ents, names, r);
    t->index = t->owned_index = index;
    t->mask = cap - 1;
    index_fill(index, t->mask, ents, t->n, &t->maxlen);
    if (learn_fanout(t, r) != 0) {
        clusterc__cmdtable_free(t);
        return reply_fail(err, errcap, "out of memory");
    }
    *out = t;
    return 0;
}

void clusterc__cmdtable_free(clusterc__cmdtable *t)
{
    if (t == NULL || t == &builtin)
        return;
    free(t->owned);
    free(t->names);
    free(t->owned_index);
    free(t);
}
