/* test_cmdtable.c -- command lookup, COMMAND replies, and RESP inspection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>
#include "reply_builder.h"
#include <hiredis/hiredis.h>
#include "clusterc/clusterc.h"
#include "proto/blocking.h"
#include "proto/cmdname.h"
#include "proto/cmdtable.h"
#include "proto/encode.h"
#include "proto/fanout.h"
#include "proto/keyslot.h"

#define MAXARGS 16

/* Format argv as hiredis does, then copy it into a buffer of exactly that
 * length (no NUL after it) so any read past len is caught. */
static char *format(size_t *len, const char *const *argv)
{
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    char *cmd = NULL;
    int n = redisFormatCommandArgv(&cmd, argc, (const char **)argv, NULL);
    assert_true(n > 0);
    char *exact = malloc((size_t)n);
    memcpy(exact, cmd, (size_t)n);
    free(cmd);
    *len = (size_t)n;
    return exact;
}

/* What the engine does for a command a face encoded from argv: the
 * encoder says where the arguments are, and the inspector does not parse.
 * It must find exactly what clusterc__cmd_inspect finds in the same text
 * (want), name included. */
static void expect_args_agree(const clusterc__cmdtable *t, int argc, const char *const *argv,
                              const size_t *argvlen, const clusterc__cmdinfo *want)
{
    size_t len = clusterc__argv_size(argc, argv, argvlen);
    char *buf = malloc(len);
    clusterc__cmdargs ca;
    clusterc__cmdinfo got;
    assert_non_null(buf);
    assert_ptr_equal(clusterc__argv_write_args(buf, argc, argv, argvlen, &ca), buf + len);
    assert_ptr_equal(ca.end, buf + len);
    assert_int_equal(ca.argc, argc);
    clusterc__cmd_inspect_args(t, &ca, &got);
    assert_int_equal(got.flags, want->flags);
    assert_int_equal(got.props, want->props);
    assert_int_equal(got.slot, want->slot);
    assert_int_equal(got.namelen, want->namelen);
    assert_memory_equal(got.name, want->name, got.namelen);
    free(buf);
}

/* Inspect argv (NULL-terminated) with table t; return the info. Every
 * command the tests inspect is also inspected the encoder's way. */
static clusterc__cmdinfo inspect_with(const clusterc__cmdtable *t, const char *const *argv)
{
    size_t len;
    char *buf = format(&len, argv);
    clusterc__cmdinfo info;
    char err[128] = "";
    if (clusterc__cmd_inspect(t, buf, len, &info, err, sizeof(err)) != 0)
        fail_msg("inspect failed: %s", err);
    assert_int_equal(info.namelen, strlen(argv[0]));
    assert_memory_equal(info.name, argv[0], info.namelen);
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    expect_args_agree(t, argc, argv, NULL, &info);
    free(buf);
    return info;
}

#define CMD(...) ((const char *const[]){__VA_ARGS__, NULL})
#define INSPECT(...) inspect_with(clusterc__cmdtable_builtin(), CMD(__VA_ARGS__))

static int slot(const char *k)
{
    return clusterc_keyslot(k, strlen(k));
}

static const unsigned KNOWN = CLUSTERC__CMD_KNOWN;
static const unsigned RO = CLUSTERC__CMD_READONLY | CLUSTERC__CMD_KNOWN;
static const unsigned WR = CLUSTERC__CMD_WRITE | CLUSTERC__CMD_KNOWN;

static void expect(clusterc__cmdinfo info, unsigned flags, int s)
{
    assert_int_equal(info.flags, flags);
    assert_int_equal(info.slot, s);
}

static void test_builtin_sorted(void **state)
{
    (void)state;
    assert_int_equal(clusterc__cmdtable_selfcheck(clusterc__cmdtable_builtin()), 0);
    clusterc__cmdtable_free(NULL); /* harmless */
    clusterc__cmdtable_free((clusterc__cmdtable *)clusterc__cmdtable_builtin());
}

static void test_builtin_fixed(void **state)
{
    (void)state;
    expect(INSPECT("GET", "foo"), RO, 12182);
    expect(INSPECT("get", "foo"), RO, 12182);
    expect(INSPECT("gEt", "foo"), RO, 12182);
    expect(INSPECT("SET", "bar", "1"), WR, 5061);
    expect(INSPECT("MGET", "a", "b", "c"), RO, slot("a"));
    expect(INSPECT("MSET", "{t}a", "1", "{t}b", "2"), WR, slot("t"));
    expect(INSPECT("BITOP", "AND", "dest", "a", "b"), WR, slot("dest"));
    expect(INSPECT("SPUBLISH", "chan", "msg"), KNOWN, slot("chan"));
    expect(INSPECT("WATCH", "k"), KNOWN, slot("k"));
    expect(INSPECT("SORT_RO", "k"), RO, slot("k"));
    expect(INSPECT("GEORADIUS", "g", "0", "0", "1", "km"), WR, slot("g"));
    expect(INSPECT("ZUNIONSTORE", "dest", "2", "a", "b"), WR, slot("dest"));
    /* Arguments missing: no key to hash, the server will answer the error. */
    expect(INSPECT("GET"), RO, -1);
}

static void test_builtin_keyless_and_flags(void **state)
{
    (void)state;
    expect(INSPECT("PING"), KNOWN, -1);
    expect(INSPECT("INFO", "replication"), KNOWN, -1);
    expect(INSPECT("CLUSTER", "SHARDS"), KNOWN, -1);
    expect(INSPECT("SCAN", "0"), RO, -1);
    expect(INSPECT("KEYS", "*"), RO, -1);
    expect(INSPECT("FLUSHALL"), WR, -1);
    expect(INSPECT("CONFIG", "GET", "maxmemory"), KNOWN, -1);
    expect(INSPECT("MULTI"), KNOWN | CLUSTERC__CMD_MULTI, -1);
    expect(INSPECT("exec"), KNOWN | CLUSTERC__CMD_EXEC, -1);
    expect(INSPECT("DISCARD"), KNOWN | CLUSTERC__CMD_EXEC, -1);
    expect(INSPECT("WAIT", "1", "0"), KNOWN | CLUSTERC__CMD_BLOCKING, -1);
    expect(INSPECT("BLPOP", "q", "0"), WR | CLUSTERC__CMD_BLOCKING, slot("q"));
    expect(INSPECT("BRPOPLPUSH", "a", "b", "0"), WR | CLUSTERC__CMD_BLOCKING, slot("a"));
    expect(INSPECT("BZPOPMIN", "z", "0"), WR | CLUSTERC__CMD_BLOCKING, slot("z"));
}

static void test_builtin_movable(void **state)
{
    (void)state;
    expect(INSPECT("EVAL", "return 1", "0"), KNOWN, -1);
    expect(INSPECT("EVAL", "return 1", "2", "k1", "k2", "a"), KNOWN, slot("k1"));
    expect(INSPECT("evalsha_ro", "abc", "1", "k"), RO, slot("k"));
    expect(INSPECT("FCALL", "f", "1", "k"), KNOWN, slot("k"));
    expect(INSPECT("FCALL_RO", "f", "0"), RO, -1);
    expect(INSPECT("EVAL", "s", "x", "k"), KNOWN, -1);  /* bad numkeys */
    expect(INSPECT("EVAL", "s", "1"), KNOWN, -1);       /* key missing */
    expect(INSPECT("EVAL", "s"), KNOWN, -1);
    expect(INSPECT("XREAD", "COUNT", "10", "BLOCK", "0", "STREAMS", "s1", "s2", "0", "0"),
           RO | CLUSTERC__CMD_BLOCKING, slot("s1"));
    expect(INSPECT("xread", "streams", "s1", "0"), RO | CLUSTERC__CMD_BLOCKING, slot("s1"));
    expect(INSPECT("XREADGROUP", "GROUP", "streams", "streams", "STREAMS", "k", ">"),
           WR | CLUSTERC__CMD_BLOCKING, slot("k"));
    expect(INSPECT("XREAD", "COUNT", "1"), RO | CLUSTERC__CMD_BLOCKING, -1);
    expect(INSPECT("XREAD", "STREAMS"), RO | CLUSTERC__CMD_BLOCKING, -1);
    expect(INSPECT("ZUNION", "2", "a", "b"), RO, slot("a"));
    expect(INSPECT("ZINTERCARD", "1", "a"), RO, slot("a"));
    expect(INSPECT("SINTERCARD", "2", "x", "y"), RO, slot("x"));
    expect(INSPECT("LMPOP", "1", "l", "LEFT"), WR, slot("l"));
    expect(INSPECT("BLMPOP", "0", "2", "a", "b", "LEFT"), WR | CLUSTERC__CMD_BLOCKING, slot("a"));
    expect(INSPECT("BZMPOP", "0", "1", "z", "MIN"), WR | CLUSTERC__CMD_BLOCKING, slot("z"));
    expect(INSPECT("MIGRATE", "h", "7000", "k", "0", "5000"), WR, slot("k"));
    expect(INSPECT("MIGRATE", "h", "7000", "", "0", "5000", "AUTH", "keys", "KEYS", "a", "b"),
           WR, slot("a"));
    expect(INSPECT("MIGRATE", "h", "7000", "", "0", "5000", "AUTH2", "u", "keys"), WR, -1);
    expect(INSPECT("OBJECT", "ENCODING", "k"), RO, slot("k"));
    expect(INSPECT("OBJECT", "HELP"), RO, -1);
    expect(INSPECT("XINFO", "STREAM", "s"), RO, slot("s"));
    expect(INSPECT("XGROUP", "CREATE", "s", "g", "$"), WR, slot("s"));
    expect(INSPECT("MEMORY", "USAGE", "k"), RO, slot("k"));
    expect(INSPECT("memory", "usage", "k"), RO, slot("k"));
    expect(INSPECT("MEMORY", "STATS"), RO, -1);
}

/* A huge XREAD without STREAMS is scanned once (this would take minutes if
 * each argument were found by walking from the start). */
static void test_long_scan(void **state)
{
    (void)state;
    enum { N = 200000 };
    const char **argv = calloc(N + 2, sizeof(*argv));
    argv[0] = "XREAD";
    for (int i = 1; i <= N; i++)
        argv[i] = (i == N) ? "streams" : "x";
    size_t len;
    char *buf = format(&len, argv);
    clusterc__cmdinfo info;
    assert_int_equal(clusterc__cmd_inspect(NULL, buf, len, &info, NULL, 0), 0);
    assert_int_equal(info.slot, -1); /* STREAMS is last: no key after it */
    free(buf);
    argv[N] = "k";
    argv[N - 1] = "STREAMS";
    buf = format(&len, argv);
    assert_int_equal(clusterc__cmd_inspect(NULL, buf, len, &info, NULL, 0), 0);
    assert_int_equal(info.slot, slot("k"));
    free(buf);
    free(argv);
}

static void test_unknown(void **state)
{
    (void)state;
    expect(INSPECT("FOO.BAR", "k", "v"), 0, slot("k"));
    expect(INSPECT("NOSUCH"), 0, -1);
    expect(INSPECT("GETX", "k"), 0, slot("k"));
    expect(INSPECT("GE", "k"), 0, slot("k"));
    expect(INSPECT("", "k"), 0, slot("k"));
}

/* Every malformed or truncated buffer is refused without reading past it. */
static void refuse(const char *text, size_t n)
{
    char *buf = malloc(n ? n : 1);
    memcpy(buf, text, n);
    clusterc__cmdinfo info;
    char err[128] = "";
    int rc = clusterc__cmd_inspect(NULL, buf, n, &info, err, sizeof(err));
    free(buf);
    if (rc != -1)
        fail_msg("accepted \"%.*s\"", (int)n, text);
    assert_true(err[0] != '\0');
}

static void test_inspect_garbage(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "*", "*1", "*1\r", "*0\r\n", "*-1\r\n", "*x\r\n", "+OK\r\n",
        "*1\r\n", "*1\r\n$", "*1\r\n$3", "*1\r\n$3\r\nGE", "*1\r\n$3\r\nGET",
        "*1\r\n$3\r\nGET\r", "*1\r\n$3\r\nGETX\n", "*1\r\n$-1\r\n", "*1\r\n:1\r\n",
        "*2\r\n$3\r\nGET\r\n", "*1\r\n$99999999999999999999\r\n",
        "*1\r\n$4\r\nGET\r\n", "*1\r\n$3\r\nGET\r\nextra", "*1\n$3\r\nGET\r\n",
        "*99999999999999999999\r\n", "*1\r\n$ 3\r\nGET\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        refuse(bad[i], strlen(bad[i]));

    /* Every strict prefix of a valid command is refused. */
    size_t len;
    char *full = format(&len, CMD("EVAL", "return 1", "1", "key", "arg"));
    for (size_t cut = 0; cut < len; cut++)
        refuse(full, cut);
    clusterc__cmdinfo info;
    assert_int_equal(clusterc__cmd_inspect(NULL, full, len, &info, NULL, 0), 0);
    assert_int_equal(info.slot, slot("key"));
    free(full);
    assert_int_equal(clusterc__cmd_inspect(NULL, NULL, 0, &info, NULL, 0), -1);

    /* Binary-safe: a key holding CRLF and NUL bytes. */
    const char bin[] = "*2\r\n$3\r\nGET\r\n$4\r\na\r\n\0\r\n";
    char *b = malloc(sizeof(bin) - 1);
    memcpy(b, bin, sizeof(bin) - 1);
    assert_int_equal(clusterc__cmd_inspect(NULL, b, sizeof(bin) - 1, &info, NULL, 0), 0);
    assert_int_equal(info.slot, clusterc_keyslot("a\r\n\0", 4));
    free(b);
}


/* ----------------------------------------------------------------- props */

/* engine/fanout.c's may_split list, copied (the engine room cannot be
 * linked here): the multi-key commands clusterc__fanout_mark splits. */
static int may_split(const char *name, size_t len)
{
    static const char *const list[] = { "del", "mget", "mset", "touch", "unlink", "exists" };
    for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
        if (strlen(list[i]) == len && strncasecmp(list[i], name, len) == 0)
            return 1;
    return 0;
}

/* What clusterc__fanout_mark does with a keyless command's policy. */
static int policy_marks(const clusterc__policytable *pt, const char *const *argv)
{
    size_t len;
    char *buf = format(&len, argv);
    clusterc__fanpolicy pol;
    int known = clusterc__policy_lookup(pt, buf, len, &pol);
    free(buf);
    assert_true(known >= 0);
    return known == 1 && (pol.req == CLUSTERC__REQ_ALL_SHARDS || pol.req == CLUSTERC__REQ_ALL_NODES) &&
           pol.resp != CLUSTERC__RESP_SPECIAL;
}

/* Whether clusterc__fanout_mark can mark some command named name (len
 * bytes, any case) under policy table pt: a split, or, keyless, its name
 * or "name|sub" for any sub either table has (the old engine's test). */
static int fanout_can_mark(const clusterc__policytable *pt, const char *name, size_t len)
{
    char nm[300], sub[300];
    const clusterc__policytable *tabs[2] = {pt, clusterc__policytable_builtin()};
    clusterc__fanpolicy pol;
    if (may_split(name, len))
        return 1;
    assert_true(len < sizeof(nm));
    memcpy(nm, name, len);
    nm[len] = '\0';
    if (policy_marks(pt, CMD(nm)))
        return 1;
    for (int k = 0; k < 2; k++) {
        const char *pn;
        for (size_t i = 0; tabs[k] != NULL && (pn = clusterc__policytable_at(tabs[k], i, &pol)); i++)
            if (strlen(pn) > len && pn[len] == '|' && strncasecmp(pn, name, len) == 0 &&
                strlen(pn + len + 1) < sizeof(sub)) {
                strcpy(sub, pn + len + 1);
                if (policy_marks(pt, CMD(nm, sub)))
                    return 1;
            }
    }
    return 0;
}

/* Whether the engine's old test shows name with its sub-command:
 * clusterc__cmd_maybe_container, then clusterc__cmd_display_name. */
static int shows_sub(const char *name)
{
    size_t len;
    char *buf = format(&len, CMD(name, "sub"));
    const char *p = strchr(strchr(buf, '$'), '\n') + 1;   /* argv[0] */
    size_t n = strlen(name);
    char out[80] = "";
    int shown = 0;
    if (clusterc__cmd_maybe_container(p, n)) {
        clusterc__cmd_display_name(buf, len, p, n, out, sizeof(out));
        shown = strchr(out, ' ') != NULL;
    }
    /* Called without the inline pre-test, it says the same. */
    clusterc__cmd_display_name(buf, len, p, n, out, sizeof(out));
    assert_int_equal(shown, strchr(out, ' ') != NULL);
    free(buf);
    return shown;
}

/* name's props under t agree with the functions the engine asked before
 * (FANOUT exactly when exact: a name the table has, with the built-in
 * policies); returns the info of "name sub". */
static clusterc__cmdinfo props_agree(const clusterc__cmdtable *t, const clusterc__policytable *pt,
                                     const char *name, int exact)
{
    char why[200];
    size_t n = strlen(name);
    clusterc__cmdinfo info = inspect_with(t, CMD(name, "sub"));
    clusterc__cmdinfo alone = inspect_with(t, CMD(name));
    assert_int_equal(info.props, alone.props);   /* the name's, not the arguments' */
    if (((info.props & CLUSTERC__CMDP_NOT_HERE) != 0) != clusterc__cmd_not_here(name, n, why, sizeof(why)))
        fail_msg("%s: NOT_HERE %u", name, info.props);
    if (((info.props & CLUSTERC__CMDP_CONTAINER) != 0) != shows_sub(name))
        fail_msg("%s: CONTAINER %u", name, info.props);
    int can = fanout_can_mark(pt, name, n);
    if (exact && ((info.props & CLUSTERC__CMDP_FANOUT) != 0) != can)
        fail_msg("%s: FANOUT %u, fanout_mark can mark: %d", name, info.props, can);
    /* The engine's test (cmdtable.h) never misses what the old one caught. */
    if (can && !(info.props & CLUSTERC__CMDP_FANOUT) &&
        !(alone.slot < 0 && !(alone.flags & CLUSTERC__CMD_KNOWN)))
        fail_msg("%s: the engine would miss a fan-out", name);
    return info;
}

/* name in three cases: as is, capitals, and alternating. */
static void case_variants(const char *name, char v[3][300])
{
    size_t n = strlen(name);
    assert_true(n < 300);
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)name[i];
        int up = c >= 'a' && c <= 'z';
        v[0][i] = (char)c;
        v[1][i] = (char)(up ? c - 32 : c);
        v[2][i] = (char)(up && i % 2 ? c - 32 : c);
    }
}

static void test_props_agree(void **state)
{
    (void)state;
    const clusterc__cmdtable *t = clusterc__cmdtable_builtin();
    const char *nm;
    unsigned flags, props;
    size_t i, seen = 0;
    for (i = 0; (nm = clusterc__cmdtable_at(t, i, &flags, &props)) != NULL; i++) {
        char v[3][300];
        case_variants(nm, v);
        for (int k = 0; k < 3; k++) {
            clusterc__cmdinfo info = props_agree(t, NULL, v[k], 1);
            assert_int_equal(info.props, props);
            assert_int_equal(info.flags, flags);
        }
        seen += props != 0;
    }
    assert_true(i > 200 && seen >= 30);
    /* Names in no table: no props, and what the old tests said of them. */
    static const char *const unknown[] = {
        "", "a", "ge", "getx", "foo.bar", "subscribes", "monitorx", "authx", "helloo",
        "clusters", "configs", "module2", "dels", "mgett", "msetnx2", "touchy", "e",
        "config|set", "CONFIG|SET", "latency|reset", "script|load", "dbsize|x", "ping|",
        "info|x", "xinfo2", "\xc1uth", "d\xc5l", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
    };
    for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        char v[3][300];
        case_variants(unknown[i], v);
        for (int k = 0; k < 3; k++) {
            clusterc__cmdinfo info = props_agree(t, NULL, v[k], 0);
            assert_int_equal(info.props, 0);
            assert_int_equal(info.flags, 0);
        }
    }
    /* Kept for their props only: inspected exactly as unknown names. */
    expect(INSPECT("SUBSCRIBE", "ch"), 0, slot("ch"));
    expect(INSPECT("ssubscribe", "ch"), 0, slot("ch"));
    expect(INSPECT("MODULE", "LIST"), 0, slot("LIST"));
    expect(INSPECT("PUNSUBSCRIBE"), 0, -1);
}

/* A name with a NUL or a byte >= 0x80 where a capital would be is another
 * name: the word-at-a-time lowering touches ASCII capitals only. */
static void test_lookup_exact(void **state)
{
    (void)state;
    const char nul[] = "*2\r\n$4\r\nget\0\r\n$1\r\nk\r\n";
    clusterc__cmdinfo info;
    assert_int_equal(clusterc__cmd_inspect(NULL, nul, sizeof(nul) - 1, &info, NULL, 0), 0);
    assert_int_equal(info.flags, 0);
    expect(INSPECT("G\xc5T", "k"), 0, slot("k"));      /* 0xc5: 'E' | 0x80 */
    expect(INSPECT("GET@", "k"), 0, slot("k"));
    expect(INSPECT("GE[", "k"), 0, slot("k"));          /* '[' is 'Z' + 1 */
    expect(INSPECT("georadiusbymember_RO", "k"), RO, slot("k"));
    expect(INSPECT("GEORADIUSBYMEMBER_RX", "k"), 0, slot("k"));
    expect(INSPECT("GEORADIUSBYMEMBER_RO_", "k"), 0, slot("k"));
    /* A name at the very end of the buffer (fewer than eight bytes left). */
    const char end[] = "*1\r\n$4\r\nPiNg\r\n";
    char *b = malloc(sizeof(end) - 1);
    memcpy(b, end, sizeof(end) - 1);
    assert_int_equal(clusterc__cmd_inspect(NULL, b, sizeof(end) - 1, &info, NULL, 0), 0);
    assert_int_equal(info.flags, KNOWN);
    assert_int_equal(info.props, CLUSTERC__CMDP_FANOUT);
    free(b);
}

/* ------------------------------------------------------ learned from COMMAND */


static redisReply *command_reply(void)
{
    return A(
        /* Redis 7 entries carry ACL categories, tips, key specs, subcommands. */
        A(S("get"), I(2), A(ST("readonly"), ST("fast")), I(1), I(1), I(1),
          A(ST("@read"), ST("@string")), EMPTY(), EMPTY(), EMPTY()),
        A(S("set"), I(-3), A(ST("write"), ST("denyoom")), I(1), I(1), I(1)),
        A(S("eval"), I(-3), A(ST("noscript"), ST("stale"), ST("skip_monitor"),
          ST("may_replicate"), ST("no_mandatory_keys"), ST("movablekeys")), I(0), I(0), I(0)),
        A(S("xread"), I(-4), A(ST("readonly"), ST("blocking"), ST("movablekeys")),
          I(0), I(0), I(0)),
        A(S("zunionstore"), I(-4), A(ST("write"), ST("denyoom"), ST("movablekeys")),
          I(1), I(1), I(1)),
        A(S("object"), I(-2), EMPTY(), I(0), I(0), I(0)),
        A(S("multi"), I(1), A(ST("noscript"), ST("loading"), ST("fast")), I(0), I(0), I(0)),
        A(S("FT.SEARCH"), I(-3), A(S("readonly")), I(1), I(1), I(1)),
        A(S("mymod.movable"), I(-2), A(ST("write"), ST("movablekeys")), I(0), I(0), I(0)),
        A(S("mymod.second"), I(-3), A(ST("write")), I(2), I(2), I(1)),
        A(S("Get"), I(2), A(ST("write")), I(1), I(1), I(1))); /* duplicate: one kept */
}

/* Found by fuzz_cmdtable (tests/fuzz/regressions/cmdtable/
 * selfcheck-high-byte-name): the self-check compared a lowered unsigned
 * byte with a signed char, so a name byte >= 0x80 failed it. */
static void test_from_reply_high_byte_name(void **state)
{
    (void)state;
    redisReply *r = A(A(S("ev\xe3l"), I(-3), EMPTY(), I(0), I(0), I(0)),
                      A(S("get"), I(2), A(ST("readonly")), I(1), I(1), I(1)));
    clusterc__cmdtable *t = NULL;
    char err[256] = "";
    assert_int_equal(clusterc__cmdtable_from_reply(r, &t, err, sizeof(err)), 0);
    freeReplyObject(r);
    assert_int_equal(clusterc__cmdtable_selfcheck(t), 0);
    clusterc__cmdtable_free(t);
}

static void test_from_reply(void **state)
{
    (void)state;
    redisReply *r = command_reply();
    clusterc__cmdtable *t = NULL;
    char err[256] = "";
    assert_int_equal(clusterc__cmdtable_from_reply(r, &t, err, sizeof(err)), 0);
    freeReplyObject(r); /* the table keeps its own copies */
    assert_int_equal(clusterc__cmdtable_selfcheck(t), 0);

    assert_int_equal(inspect_with(t, CMD("GET", "foo")).slot, 12182);
    assert_true(inspect_with(t, CMD("GET", "foo")).flags & CLUSTERC__CMD_KNOWN);
    expect(inspect_with(t, CMD("SET", "k", "v")), WR, slot("k"));
    expect(inspect_with(t, CMD("EVAL", "s", "1", "k")), KNOWN, slot("k"));
    expect(inspect_with(t, CMD("EVAL", "s", "0")), KNOWN, -1);
    expect(inspect_with(t, CMD("XREAD", "STREAMS", "s", "0")),
           RO | CLUSTERC__CMD_BLOCKING, slot("s"));
    expect(inspect_with(t, CMD("ZUNIONSTORE", "d", "1", "a")), WR, slot("d"));
    expect(inspect_with(t, CMD("OBJECT", "FREQ", "k")), RO, slot("k"));
    expect(inspect_with(t, CMD("MULTI")), KNOWN | CLUSTERC__CMD_MULTI, -1);
    expect(inspect_with(t, CMD("ft.search", "idx", "q")), RO, slot("idx"));
    expect(inspect_with(t, CMD("MYMOD.MOVABLE", "k")), WR, -1);
    expect(inspect_with(t, CMD("mymod.second", "a", "b")), WR, slot("b"));
    /* Not in the learned table: the built-in rules still apply. */
    expect(inspect_with(t, CMD("HGET", "h", "f")), RO, slot("h"));
    expect(inspect_with(t, CMD("NOPE", "k")), 0, slot("k"));
    clusterc__cmdtable_free(t);

    r = EMPTY();
    assert_int_equal(clusterc__cmdtable_from_reply(r, &t, err, sizeof(err)), 0);
    expect(inspect_with(t, CMD("GET", "foo")), RO, 12182);
    clusterc__cmdtable_free(t);
    freeReplyObject(r);
}

static void bad_reply(redisReply *r, const char *words)
{
    clusterc__cmdtable *t = (clusterc__cmdtable *)&t;
    char err[256] = "";
    assert_int_equal(clusterc__cmdtable_from_reply(r, &t, err, sizeof(err)), -1);
    assert_ptr_equal(t, (clusterc__cmdtable *)&t);
    freeReplyObject(r);
    if (strstr(err, words) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err, words);
}

#define GOOD A(S("get"), I(2), A(ST("readonly")), I(1), I(1), I(1))

static void test_from_reply_malformed(void **state)
{
    (void)state;
    bad_reply(S("x"), "not an array");
    bad_reply(A(GOOD, I(3)), "entry 1: not an array");
    bad_reply(A(A(S("get"), I(2), EMPTY(), I(1), I(1))), "entry 0: 5 elements");
    bad_reply(A(GOOD, A(I(5), I(2), EMPTY(), I(1), I(1), I(1))), "entry 1: name");
    bad_reply(A(A(S(""), I(2), EMPTY(), I(1), I(1), I(1))), "name");
    bad_reply(A(A(S("get"), S("2"), EMPTY(), I(1), I(1), I(1))), "\"get\": arity is not an integer");
    bad_reply(A(A(S("get"), I(2), S("readonly"), I(1), I(1), I(1))), "flags is not an array");
    bad_reply(A(A(S("get"), I(2), A(I(1)), I(1), I(1), I(1))), "flag 0 is not a string");
    bad_reply(A(A(S("get"), I(2), EMPTY(), S("1"), I(1), I(1))), "first key is not an integer");
    bad_reply(A(A(S("get"), I(2), EMPTY(), I(1), I(1), EMPTY())), "step is not an integer");
    bad_reply(A(A(S("get"), I(2), EMPTY(), I(1LL << 40), I(1), I(1))),
              "first key 1099511627776 is out of range");
}

/* An entry of Redis 7's shape: tips at 7, subcommands at 9. */
static redisReply *ent7(const char *name, long long first, redisReply *tips, redisReply *subs)
{
    return A(S(name), I(-2), EMPTY(), I(first), I(first), I(first > 0 ? 1 : 0), EMPTY(), tips,
             EMPTY(), subs);
}

static void learn_both(redisReply *r, clusterc__cmdtable **t, clusterc__policytable **pt)
{
    char err[256] = "";
    assert_int_equal(clusterc__cmdtable_from_reply(r, t, err, sizeof(err)), 0);
    assert_int_equal(clusterc__policytable_from_reply(r, pt, err, sizeof(err)), 0);
    assert_int_equal(clusterc__cmdtable_selfcheck(*t), 0);
    freeReplyObject(r);
}

/* Learned entries answer the props: the built-in entry's, and FANOUT from
 * the reply's own tips (a module command with request_policy:all_shards). */
static void test_learned_props(void **state)
{
    (void)state;
    clusterc__cmdtable *t;
    clusterc__policytable *pt;
    learn_both(A(ent7("get", 1, EMPTY(), EMPTY()),
                 ent7("config", 0, EMPTY(),
                      A(ent7("config|set", 0, A(S("request_policy:all_nodes"),
                                                S("response_policy:all_succeeded")), EMPTY()))),
                 ent7("mod.all", 0, A(S("REQUEST_POLICY:ALL_SHARDS")), EMPTY()),
                 ent7("mod.special", 0, A(S("request_policy:all_shards"),
                                          S("response_policy:special")), EMPTY()),
                 ent7("mod.cont", 0, EMPTY(),
                      A(ent7("mod.cont|go", 0, A(S("request_policy:all_nodes")), EMPTY()))),
                 ent7("mod.plain", 1, EMPTY(), EMPTY()),
                 ent7("info", 0, A(S("request_policy:all_shards"), S("response_policy:special")),
                      EMPTY()),
                 ent7("dbsize", 0, EMPTY(), EMPTY()),
                 A(S("subscribe"), I(-2), EMPTY(), I(0), I(0), I(0)),
                 A(S("ssubscribe"), I(-2), EMPTY(), I(1), I(-1), I(1)),
                 A(S("Hello"), I(-1), EMPTY(), I(0), I(0), I(0)),
                 A(S("cluster"), I(-2), EMPTY(), I(0), I(0), I(0))),
               &t, &pt);
    static const struct { const char *name; unsigned props; } want[] = {
        {"get", 0}, {"config", CLUSTERC__CMDP_CONTAINER | CLUSTERC__CMDP_FANOUT},
        {"mod.all", CLUSTERC__CMDP_FANOUT}, {"mod.special", 0},
        {"mod.cont", CLUSTERC__CMDP_FANOUT}, {"mod.plain", 0}, {"info", 0},
        {"dbsize", CLUSTERC__CMDP_FANOUT},   /* the built-in's: a lookup more at worst */
        {"subscribe", CLUSTERC__CMDP_NOT_HERE}, {"ssubscribe", CLUSTERC__CMDP_NOT_HERE},
        {"hello", CLUSTERC__CMDP_NOT_HERE}, {"cluster", CLUSTERC__CMDP_CONTAINER},
        /* Not learned: the built-in table answers. */
        {"hget", 0}, {"ping", CLUSTERC__CMDP_FANOUT}, {"auth", CLUSTERC__CMDP_NOT_HERE},
        {"xinfo", CLUSTERC__CMDP_CONTAINER}, {"nope", 0}, {"mod.cont|go", 0},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char v[3][300];
        case_variants(want[i].name, v);
        for (int k = 0; k < 3; k++)
            if (props_agree(t, pt, v[k], 0).props != want[i].props)
                fail_msg("%s: props %u, want %u", v[k], props_agree(t, pt, v[k], 0).props,
                         want[i].props);
    }
    /* Flags and slots are the server's, as before props. */
    expect(inspect_with(t, CMD("SSUBSCRIBE", "ch")), KNOWN, slot("ch"));
    expect(inspect_with(t, CMD("SUBSCRIBE", "ch")), KNOWN, -1);
    expect(inspect_with(t, CMD("MOD.PLAIN", "k")), KNOWN, slot("k"));
    clusterc__cmdtable_free(t);
    clusterc__policytable_free(pt);
}

/* Tips under names the table does not list as commands: a tip reached by a
 * name only the built-in table has (LASTSAVE X) puts FANOUT on every miss
 * of the learned table; one reached by a name in no table is the engine's
 * unknown-and-keyless case; a command name with '|' gets its own mark. */
static void test_learned_props_odd_names(void **state)
{
    (void)state;
    clusterc__cmdtable *t;
    clusterc__policytable *pt;
    learn_both(A(ent7("mod.x", 0, EMPTY(),
                      A(ent7("lastsave|x", 0, A(S("request_policy:all_shards")), EMPTY()),
                        ent7("zzz|y", 0, A(S("request_policy:all_shards")), EMPTY()))),
                 ent7("a|b", 0, EMPTY(),
                      A(ent7("a|b|c", 0, A(S("request_policy:all_nodes")), EMPTY())))),
               &t, &pt);
    static const char *const names[] = {"mod.x", "lastsave", "zzz", "zzz|y", "a|b", "a",
                                        "a|b|c", "hget", "ping", "nope"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        (void)props_agree(t, pt, names[i], 0);
    assert_int_equal(inspect_with(t, CMD("a|B")).props, CLUSTERC__CMDP_FANOUT);
    assert_int_equal(inspect_with(t, CMD("mod.x")).props, 0);
    assert_int_equal(inspect_with(t, CMD("LASTSAVE")).props, CLUSTERC__CMDP_FANOUT);
    assert_int_equal(inspect_with(t, CMD("HGET", "h", "f")).props, CLUSTERC__CMDP_FANOUT);
    clusterc__cmdtable_free(t);
    clusterc__policytable_free(pt);

    /* A learned table of every built-in name (no tips): the same props. */
    const clusterc__cmdtable *b = clusterc__cmdtable_builtin();
    redisReply *r = EMPTY();
    const char *nm;
    unsigned flags, props;
    size_t n;
    for (n = 0; clusterc__cmdtable_at(b, n, &flags, &props) != NULL; n++)
        ;
    r->element = calloc(n, sizeof(*r->element));
    for (size_t i = 0; (nm = clusterc__cmdtable_at(b, i, &flags, &props)) != NULL; i++)
        r->element[r->elements++] = A(S(nm), I(-1), EMPTY(), I(0), I(0), I(0));
    learn_both(r, &t, &pt);
    for (size_t i = 0; (nm = clusterc__cmdtable_at(b, i, &flags, &props)) != NULL; i++)
        if (props_agree(t, pt, nm, 1).props != props)
            fail_msg("%s: learned props differ", nm);
    clusterc__cmdtable_free(t);
    clusterc__policytable_free(pt);
}

/* ------------------------------------------------------------ key slots */

/* CRC16-XMODEM by its definition, a bit at a time. */
static uint16_t crc_ref(const unsigned char *p, size_t n)
{
    unsigned crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (unsigned)p[i] << 8;
        for (int b = 0; b < 8; b++)
            crc = ((crc & 0x8000u) ? (crc << 1) ^ 0x1021u : crc << 1) & 0xffffu;
    }
    return (uint16_t)crc;
}

static int slot_ref(const unsigned char *k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (k[i] == '{') {
            for (size_t j = i + 1; j < n; j++)
                if (k[j] == '}')
                    return j > i + 1 ? crc_ref(k + i + 1, j - i - 1) & 16383 : crc_ref(k, n) & 16383;
            break;
        }
    return crc_ref(k, n) & 16383;
}

/* keyslot.c's two tables against the definition: every one- and two-byte
 * input reads each entry of both; then random keys, tags included, also
 * as inspect hashes them (lengths of one to three digits). */
/* Random commands: a built-in name (any casing) or none, then up to 11
 * arguments drawn from the words the key rules look for, numbers, hash
 * tags and binary bytes. The encoder's arguments must inspect as the text
 * does, for every one. */
static void test_args_agree_random(void **state)
{
    (void)state;
    static const char *const words[] = {
        "streams", "STREAMS", "keys", "usage", "group", "count", "block", "auth", "auth2",
        "0", "1", "2", "3", "12", "-1", "k", "{t}a", "a{t}", "", "x\0y", "\xff\xfe", "123456",
    };
    const size_t nwords = sizeof(words) / sizeof(words[0]);
    const clusterc__cmdtable *t = clusterc__cmdtable_builtin();
    size_t nnames = 0;
    unsigned fl, pr;
    while (clusterc__cmdtable_at(t, nnames, &fl, &pr) != NULL)
        nnames++;
    uint32_t x = 88172645u;
    char name[64];
    const char *argv[12];
    size_t argvlen[12];
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        const char *n = x % 16 ? clusterc__cmdtable_at(t, x % nnames, &fl, &pr) : "nosuchcmd";
        size_t nl = strlen(n);
        for (size_t j = 0; j < nl && j < sizeof(name); j++)
            name[j] = (x >> (j % 24)) & 1 ? (char)(n[j] ^ ('a' ^ 'A') * (n[j] >= 'a' && n[j] <= 'z'))
                                           : n[j];
        argv[0] = name;
        argvlen[0] = nl < sizeof(name) ? nl : sizeof(name);
        int argc = 1 + (int)((x >> 8) % 12);
        for (int k = 1; k < argc; k++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            const char *w = words[x % nwords];
            argv[k] = w;
            argvlen[k] = w[0] == 'x' && w[1] == '\0' ? 3 : strlen(w);
        }
        size_t len = clusterc__argv_size(argc, argv, argvlen);
        char *buf = malloc(len);
        clusterc__cmdinfo want;
        char err[128];
        assert_non_null(buf);
        clusterc__argv_write(buf, argc, argv, argvlen);
        if (clusterc__cmd_inspect(t, buf, len, &want, err, sizeof(err)) != 0)
            fail_msg("inspect failed: %s", err);
        expect_args_agree(t, argc, argv, argvlen, &want);
        free(buf);
    }
}

static void test_crc16_tables(void **state)
{
    (void)state;
    unsigned char k[300];
    for (unsigned a = 0; a < 256; a++) {
        k[0] = (unsigned char)a;
        assert_int_equal(clusterc__crc16((const char *)k, 1), crc_ref(k, 1));
        for (unsigned b = 0; b < 256; b++) {
            k[1] = (unsigned char)b;
            if (clusterc__crc16((const char *)k, 2) != crc_ref(k, 2))
                fail_msg("crc16 of %02x %02x", a, b);
        }
    }
    for (unsigned a = 0; a < 256; a++) {   /* every entry of the 4-byte step */
        for (unsigned b = 0; b < 256; b++) {
            k[0] = (unsigned char)a;
            k[1] = (unsigned char)b;
            k[2] = (unsigned char)(a * 7 + b);
            k[3] = (unsigned char)(b * 13 + a * 3);
            if (clusterc__crc16((const char *)k, 4) != crc_ref(k, 4))
                fail_msg("crc16 of %02x %02x %02x %02x", a, b, k[2], k[3]);
        }
    }
    uint32_t x = 2463534242u;
    static const char alpha[] = "ab{}:0\xff";
    for (int i = 0; i < 20000; i++) {
        size_t n = (x >> 7) % (i < 19000 ? 40 : sizeof(k));
        for (size_t j = 0; j < n; j++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            k[j] = j % 3 ? (unsigned char)alpha[x % (sizeof(alpha) - 1)] : (unsigned char)x;
        }
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        assert_int_equal(clusterc__crc16((const char *)k, n), crc_ref(k, n));
        assert_int_equal(clusterc_keyslot((const char *)k, n), n ? slot_ref(k, n) : 0);
        if (i % 10 == 0) {
            char key[301];
            memcpy(key, k, n);
            key[n] = '\0';
            if (memchr(k, '\0', n) == NULL && n > 0)
                assert_int_equal(INSPECT("GET", key).slot, slot_ref(k, n));
        }
    }
}

/* Lengths: leading zeros and up to 18 digits as before; 19 refused. */
static void test_lengths(void **state)
{
    (void)state;
    static const char ok18[] = "*000000000000000001\r\n$000000000000000003\r\nGET\r\n";
    static const char bad19[] = "*1\r\n$0000000000000000003\r\nGET\r\n";
    static const char two[] = "*2\r\n$03\r\nget\r\n$10\r\n0123456789\r\n";
    clusterc__cmdinfo info;
    char err[128] = "";
    assert_int_equal(clusterc__cmd_inspect(NULL, ok18, sizeof(ok18) - 1, &info, NULL, 0), 0);
    assert_int_equal(info.flags, RO);
    assert_int_equal(clusterc__cmd_inspect(NULL, bad19, sizeof(bad19) - 1, &info, err,
                                           sizeof(err)), -1);
    assert_string_equal(err, "command: argument 0 is not a bulk string or is truncated (byte 4)");
    assert_int_equal(clusterc__cmd_inspect(NULL, two, sizeof(two) - 1, &info, NULL, 0), 0);
    assert_int_equal(info.slot, slot("0123456789"));
    static const char trunc[] = "*1\r\n$3\r\nGETX";
    assert_int_equal(clusterc__cmd_inspect(NULL, trunc, sizeof(trunc) - 1, &info, err,
                                           sizeof(err)), -1);
    assert_string_equal(err, "command: argument 0 is not a bulk string or is truncated (byte 8)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_sorted),
        cmocka_unit_test(test_builtin_fixed),
        cmocka_unit_test(test_builtin_keyless_and_flags),
        cmocka_unit_test(test_builtin_movable),
        cmocka_unit_test(test_long_scan),
        cmocka_unit_test(test_unknown),
        cmocka_unit_test(test_inspect_garbage),
        cmocka_unit_test(test_from_reply),
        cmocka_unit_test(test_from_reply_high_byte_name),
        cmocka_unit_test(test_from_reply_malformed),
        cmocka_unit_test(test_props_agree),
        cmocka_unit_test(test_lookup_exact),
        cmocka_unit_test(test_learned_props),
        cmocka_unit_test(test_learned_props_odd_names),
        cmocka_unit_test(test_args_agree_random),
        cmocka_unit_test(test_crc16_tables),
        cmocka_unit_test(test_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
