/* test_cmdtable.c -- command lookup, COMMAND replies, and RESP inspection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "reply_builder.h"
#include <hiredis/hiredis.h>
#include "clusterc/clusterc.h"
#include "proto/cmdtable.h"

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

/* Inspect argv (NULL-terminated) with table t; return the info. */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
