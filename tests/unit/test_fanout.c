/* test_fanout.c -- routing policies from COMMAND tips and the built-in
 * table, splitting multi-key commands by slot, merging replies. */
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
#include "proto/fanout.h"

/* ------------------------------------------------------------- helpers */

/* argv (NULL-terminated) formatted as hiredis does, in a buffer of exactly
 * that length (no NUL after it) so a read past len is caught. */
static char *format(size_t *len, const char *const *argv)
{
    int argc = 0;
    while (argv[argc] != NULL)
        argc++;
    char *cmd = NULL;
    int n = redisFormatCommandArgv(&cmd, argc, (const char **)argv, NULL);
    assert_true(n > 0);
    char *exact = malloc((size_t)n);
    assert_non_null(exact);
    memcpy(exact, cmd, (size_t)n);
    free(cmd);
    *len = (size_t)n;
    return exact;
}

#define CMD(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Policy of argv with table t; returns lookup's result. */
static int policy_of(const clusterc__policytable *t, const char *const *argv,
                     clusterc__fanpolicy *p)
{
    size_t len;
    char *buf = format(&len, argv);
    int rc = clusterc__policy_lookup(t, buf, len, p);
    free(buf);
    return rc;
}

static void expect_policy(const clusterc__policytable *t, const char *const *argv, int known,
                          clusterc__req_policy req, clusterc__resp_policy resp)
{
    clusterc__fanpolicy p;
    assert_int_equal(policy_of(t, argv, &p), known);
    if (p.req != req || p.resp != resp)
        fail_msg("%s %s: got %s/%s, want %s/%s", argv[0], argv[1] ? argv[1] : "",
                 clusterc__req_policy_name(p.req), clusterc__resp_policy_name(p.resp),
                 clusterc__req_policy_name(req), clusterc__resp_policy_name(resp));
}

#define B clusterc__policytable_builtin()
#define REQ(x) CLUSTERC__REQ_##x
#define RESP(x) CLUSTERC__RESP_##x

static redisReply *E(const char *s)
{
    redisReply *r = S(s);
    r->type = REDIS_REPLY_ERROR;
    return r;
}

static int slot(const char *k)
{
    return clusterc_keyslot(k, strlen(k));
}

/* ------------------------------------------------------- built-in table */

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(clusterc__req_policy_name(REQ(ALL_SHARDS)), "all_shards");
    assert_string_equal(clusterc__req_policy_name(REQ(DEFAULT)), "default");
    assert_string_equal(clusterc__req_policy_name((clusterc__req_policy)99), "?");
    assert_string_equal(clusterc__resp_policy_name(RESP(AGG_AND)), "agg_logical_and");
    assert_string_equal(clusterc__resp_policy_name(RESP(SPECIAL)), "special");
    assert_string_equal(clusterc__resp_policy_name((clusterc__resp_policy)-1), "?");
}

static void test_builtin(void **state)
{
    (void)state;
    assert_int_equal(clusterc__policytable_selfcheck(B), 0);
    clusterc__policytable_free(NULL);   /* harmless */
    clusterc__policytable_free((clusterc__policytable *)B);
    expect_policy(B, CMD("DBSIZE"), 1, REQ(ALL_SHARDS), RESP(AGG_SUM));
    expect_policy(B, CMD("dbsize"), 1, REQ(ALL_SHARDS), RESP(AGG_SUM));
    expect_policy(B, CMD("KEYS", "*"), 1, REQ(ALL_SHARDS), RESP(DEFAULT));
    expect_policy(B, CMD("SCAN", "0"), 1, REQ(SPECIAL), RESP(SPECIAL));
    expect_policy(B, CMD("FLUSHALL"), 1, REQ(ALL_SHARDS), RESP(ALL_SUCCEEDED));
    expect_policy(B, CMD("flushdb", "ASYNC"), 1, REQ(ALL_SHARDS), RESP(ALL_SUCCEEDED));
    expect_policy(B, CMD("SCRIPT", "LOAD", "return 1"), 1, REQ(ALL_NODES), RESP(ALL_SUCCEEDED));
    expect_policy(B, CMD("script", "flush"), 1, REQ(ALL_NODES), RESP(ALL_SUCCEEDED));
    expect_policy(B, CMD("Script", "Exists", "ab"), 1, REQ(ALL_SHARDS), RESP(AGG_AND));
    expect_policy(B, CMD("SCRIPT", "KILL"), 1, REQ(ALL_SHARDS), RESP(ONE_SUCCEEDED));
    expect_policy(B, CMD("FUNCTION", "LOAD", "x"), 1, REQ(ALL_SHARDS), RESP(ALL_SUCCEEDED));
    expect_policy(B, CMD("FUNCTION", "DELETE", "l"), 1, REQ(ALL_SHARDS), RESP(ALL_SUCCEEDED));
    expect_policy(B, CMD("FUNCTION", "FLUSH"), 1, REQ(ALL_SHARDS), RESP(ALL_SUCCEEDED));
    expect_policy(B, CMD("FUNCTION", "RESTORE", "x"), 1, REQ(ALL_SHARDS), RESP(ALL_SUCCEEDED));
    expect_policy(B, CMD("CONFIG", "SET", "a", "b"), 1, REQ(ALL_NODES), RESP(ALL_SUCCEEDED));
    expect_policy(B, CMD("CONFIG", "RESETSTAT"), 1, REQ(ALL_NODES), RESP(ALL_SUCCEEDED));
    expect_policy(B, CMD("PING"), 1, REQ(ALL_SHARDS), RESP(ALL_SUCCEEDED));
    expect_policy(B, CMD("MGET", "a", "b"), 1, REQ(MULTI_SHARD), RESP(DEFAULT));
    expect_policy(B, CMD("MSET", "a", "1"), 1, REQ(MULTI_SHARD), RESP(ALL_SUCCEEDED));
    expect_policy(B, CMD("DEL", "a"), 1, REQ(MULTI_SHARD), RESP(AGG_SUM));
    expect_policy(B, CMD("UNLINK", "a"), 1, REQ(MULTI_SHARD), RESP(AGG_SUM));
    expect_policy(B, CMD("EXISTS", "a"), 1, REQ(MULTI_SHARD), RESP(AGG_SUM));
    expect_policy(B, CMD("TOUCH", "a"), 1, REQ(MULTI_SHARD), RESP(AGG_SUM));
    expect_policy(B, CMD("WAIT", "1", "0"), 1, REQ(ALL_SHARDS), RESP(AGG_MIN));
    /* Not in the table: the defaults. MSETNX is atomic: never fanned out. */
    expect_policy(B, CMD("MSETNX", "a", "1"), 0, REQ(DEFAULT), RESP(DEFAULT));
    expect_policy(B, CMD("GET", "a"), 0, REQ(DEFAULT), RESP(DEFAULT));
    expect_policy(B, CMD("CONFIG", "GET", "x"), 0, REQ(DEFAULT), RESP(DEFAULT));
    expect_policy(NULL, CMD("DBSIZE"), 1, REQ(ALL_SHARDS), RESP(AGG_SUM));
    clusterc__fanpolicy p;
    assert_int_equal(clusterc__policy_lookup(B, "*1\r\n$6\r\nDBSIZE\r", 15, &p), -1);
    assert_int_equal(clusterc__policy_lookup(B, "*0\r\n", 4, &p), -1);
    assert_int_equal(clusterc__policy_lookup(B, NULL, 0, &p), -1);
    assert_int_equal(clusterc__policy_by_name(B, "KEYS", 4, &p), 1);
    assert_int_equal(p.tips, CLUSTERC__TIP_NONDET_ORDER);
}

/* --------------------------------------------------- learned from COMMAND */

/* A Redis 7 COMMAND entry: 10 fields, tips at 7, subcommands at 9. */
static redisReply *entry7(const char *name, redisReply *tips, redisReply *subs)
{
    return A(S(name), I(-1), EMPTY(), I(0), I(0), I(0), EMPTY(), tips, EMPTY(),
             subs != NULL ? subs : EMPTY());
}

/* A Redis 6.0 entry: acl categories but no tips. */
static redisReply *entry6(const char *name)
{
    return A(S(name), I(-1), EMPTY(), I(0), I(0), I(0), EMPTY());
}

static redisReply *canned_command(void)
{
    redisReply *config_subs =
        A(entry7("config|set", A(S("request_policy:all_nodes"),
                                 S("response_policy:all_succeeded")), NULL),
          entry7("config|get", EMPTY(), NULL),
          I(7) /* malformed subcommand: skipped */);
    return A(entry7("dbsize", A(S("request_policy:all_shards"), S("response_policy:agg_sum")),
                    NULL),
             entry7("config", EMPTY(), config_subs),
             entry7("get", EMPTY(), NULL),
             entry7("keys", A(S("request_policy:all_shards"),
                              S("nondeterministic_output_order")), NULL),
             entry7("weird", A(S("request_policy:bogus"), I(3), S("response_policy:"),
                               S("response_policy:agg_max"), NIL()), NULL),
             entry7("notips", I(1), NULL),
             entry7("UPPER", A(ST("REQUEST_POLICY:ALL_NODES"), S("nondeterministic_output")),
                    NULL),
             entry7("dbsize", EMPTY(), NULL) /* listed twice: one kept */,
             entry6("flushall"),
             I(5) /* malformed entry: skipped */,
             A(I(1), I(2), I(3), I(4), I(5), I(6), I(7), EMPTY()) /* no name */);
}

static void test_learned(void **state)
{
    (void)state;
    redisReply *r = canned_command();
    clusterc__policytable *t = NULL;
    char err[128] = "";
    assert_int_equal(clusterc__policytable_from_reply(r, &t, err, sizeof(err)), 0);
    freeReplyObject(r);   /* the table owns its names */
    assert_int_equal(clusterc__policytable_selfcheck(t), 0);
    expect_policy(t, CMD("DBSIZE"), 1, REQ(ALL_SHARDS), RESP(AGG_SUM));
    expect_policy(t, CMD("config", "set", "a", "b"), 1, REQ(ALL_NODES), RESP(ALL_SUCCEEDED));
    expect_policy(t, CMD("CONFIG", "GET", "a"), 1, REQ(DEFAULT), RESP(DEFAULT));
    /* The server listed CONFIG and its subcommands: its word, even where
     * the built-in table says more (RESETSTAT has tips only from 7.2). */
    expect_policy(t, CMD("CONFIG", "RESETSTAT"), 1, REQ(DEFAULT), RESP(DEFAULT));
    expect_policy(t, CMD("CONFIG"), 1, REQ(DEFAULT), RESP(DEFAULT));
    expect_policy(t, CMD("GET", "k"), 1, REQ(DEFAULT), RESP(DEFAULT));
    expect_policy(t, CMD("weird"), 1, REQ(DEFAULT), RESP(AGG_MAX));
    expect_policy(t, CMD("notips"), 1, REQ(DEFAULT), RESP(DEFAULT));
    expect_policy(t, CMD("upper"), 1, REQ(ALL_NODES), RESP(DEFAULT));
    /* No tips in the reply (a 6.x entry) or not listed: the built-in table. */
    expect_policy(t, CMD("FLUSHALL"), 1, REQ(ALL_SHARDS), RESP(ALL_SUCCEEDED));
    expect_policy(t, CMD("SCRIPT", "LOAD", "x"), 1, REQ(ALL_NODES), RESP(ALL_SUCCEEDED));
    expect_policy(t, CMD("WAIT", "1", "0"), 1, REQ(ALL_SHARDS), RESP(AGG_MIN));
    expect_policy(t, CMD("SET", "k", "v"), 0, REQ(DEFAULT), RESP(DEFAULT));
    clusterc__fanpolicy p;
    assert_int_equal(clusterc__policy_by_name(t, "keys", 4, &p), 1);
    assert_int_equal(p.tips, CLUSTERC__TIP_NONDET_ORDER);
    assert_int_equal(clusterc__policy_by_name(t, "UPPER", 5, &p), 1);
    assert_int_equal(p.tips, CLUSTERC__TIP_NONDET_OUTPUT);
    /* Names in order: the duplicate and the malformed ones are gone. */
    static const char *const names[] = {"config", "config|get", "config|set", "dbsize", "get",
                                        "keys", "notips", "upper", "weird"};
    size_t i = 0;
    for (const char *nm; (nm = clusterc__policytable_at(t, i, &p)) != NULL; i++) {
        assert_true(i < sizeof(names) / sizeof(names[0]));
        assert_string_equal(nm, names[i]);
    }
    assert_int_equal(i, sizeof(names) / sizeof(names[0]));
    clusterc__policytable_free(t);
}

static void test_learned_bad(void **state)
{
    (void)state;
    clusterc__policytable *t = NULL;
    char err[128] = "";
    redisReply *r = I(1);
    assert_int_equal(clusterc__policytable_from_reply(r, &t, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not an array"));
    assert_int_equal(clusterc__policytable_from_reply(NULL, &t, NULL, 0), -1);
    freeReplyObject(r);
    r = EMPTY();   /* an empty COMMAND reply: an empty table, all built-in */
    assert_int_equal(clusterc__policytable_from_reply(r, &t, err, sizeof(err)), 0);
    expect_policy(t, CMD("DBSIZE"), 1, REQ(ALL_SHARDS), RESP(AGG_SUM));
    clusterc__policytable_free(t);
    freeReplyObject(r);
}

/* ---------------------------------------------------------------- split */

/* Split argv; returns the result, *s filled when it is 1. */
static int split(const char *const *argv, clusterc__split *s)
{
    size_t len;
    char *buf = format(&len, argv);
    char err[128] = "";
    int rc = clusterc__fanout_split(buf, len, s, err, sizeof(err));
    free(buf);
    if (rc < 0)
        fail_msg("split failed: %s", err);
    return rc;
}

/* Sub-command i is exactly argv, its slot that of argv[1], its keys pos. */
static void expect_sub(const clusterc__split *s, size_t i, const char *const *argv,
                       const size_t *pos, size_t npos)
{
    size_t len;
    char *want = format(&len, argv);
    assert_true(i < s->nsub);
    assert_int_equal(s->sub[i].len, len);
    assert_memory_equal(s->sub[i].resp, want, len);
    assert_int_equal(s->sub[i].slot, slot(argv[1]));
    assert_int_equal(s->sub[i].nkeys, npos);
    for (size_t j = 0; j < npos; j++)
        assert_int_equal(s->sub[i].keypos[j], pos[j]);
    free(want);
}

#define POS(...) ((const size_t[]){__VA_ARGS__}), \
    (sizeof((const size_t[]){__VA_ARGS__}) / sizeof(size_t))

static void test_split_three_slots(void **state)
{
    (void)state;
    /* slots: b 3300 < c 7365 < a 15495; hash tags put {a}1 with a. */
    assert_true(slot("b") < slot("c") && slot("c") < slot("a"));
    assert_int_equal(slot("{a}1"), slot("a"));
    assert_int_equal(slot("x{b}"), slot("b"));
    clusterc__split s;
    assert_int_equal(split(CMD("MGET", "{a}1", "b", "a", "c", "x{b}", "{a}1"), &s), 1);
    assert_int_equal(s.nkeys, 6);
    assert_int_equal(s.nsub, 3);
    expect_sub(&s, 0, CMD("MGET", "b", "x{b}"), POS(1, 4));
    expect_sub(&s, 1, CMD("MGET", "c"), POS(3));
    expect_sub(&s, 2, CMD("MGET", "{a}1", "a", "{a}1"), POS(0, 2, 5));
    clusterc__split_free(&s);
    clusterc__split_free(&s);   /* emptied: harmless twice */
    clusterc__split_free(NULL);
    assert_int_equal(split(CMD("del", "c", "a"), &s), 1);
    expect_sub(&s, 0, CMD("del", "c"), POS(0));
    expect_sub(&s, 1, CMD("del", "a"), POS(1));
    clusterc__split_free(&s);
}

static void test_split_mset(void **state)
{
    (void)state;
    clusterc__split s;
    assert_int_equal(split(CMD("MSET", "a", "1", "b", "", "{a}z", "3\r\n"), &s), 1);
    assert_int_equal(s.nkeys, 3);
    assert_int_equal(s.nsub, 2);
    expect_sub(&s, 0, CMD("MSET", "b", ""), POS(1));
    expect_sub(&s, 1, CMD("MSET", "a", "1", "{a}z", "3\r\n"), POS(0, 2));
    clusterc__split_free(&s);
}

static void test_split_not(void **state)
{
    (void)state;
    clusterc__split s;
    assert_int_equal(split(CMD("MGET", "{t}a", "{t}b", "t"), &s), 0);
    assert_int_equal(s.nsub, 0);
    assert_null(s.sub);
    assert_int_equal(split(CMD("DEL", "x"), &s), 0);
    assert_int_equal(split(CMD("MSETNX", "a", "1", "b", "2"), &s), 0);   /* atomic */
    assert_int_equal(split(CMD("GET", "a"), &s), 0);
    assert_int_equal(split(CMD("SUNIONSTORE", "a", "b", "c"), &s), 0);
    assert_int_equal(split(CMD("MSET", "a", "1", "b"), &s), 0);   /* arity: the server says */
    assert_int_equal(split(CMD("MGET"), &s), 0);
    char err[128] = "";
    static const char bad[] = "*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb";
    assert_int_equal(clusterc__fanout_split(bad, sizeof(bad) - 1, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "truncated"));
    assert_int_equal(clusterc__fanout_split("$3\r\nfoo\r\n", 9, &s, err, sizeof(err)), -1);
    assert_int_equal(clusterc__fanout_split(NULL, 0, &s, NULL, 0), -1);
    /* Found by fuzz_cmd_inspect (tests/fuzz/regressions/cmd_inspect/
     * split-huge-argc): a count the buffer cannot hold is truncation, not
     * a malloc of argc entries (it was "out of memory" here). */
    static const char huge[] = "*433333333333333333\r\n$3\r\nDEL\r\n\r";
    err[0] = '\0';
    assert_int_equal(clusterc__fanout_split(huge, sizeof(huge) - 1, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "truncated"));
    assert_null(s.sub);
}

/* Found by fuzz_cmdtable (tests/fuzz/regressions/cmdtable/
 * selfcheck-high-byte-name): the self-check compared a lowered unsigned
 * byte with a signed char, so a name byte >= 0x80 failed it. */
static void test_learned_high_byte_name(void **state)
{
    (void)state;
    redisReply *r = A(A(S("\xe3x"), I(1), EMPTY(), I(0), I(0), I(0), EMPTY(), EMPTY()),
                      A(S("dbsize"), I(1), EMPTY(), I(0), I(0), I(0),
                        A(S("request_policy:all_shards"), S("response_policy:agg_sum")), EMPTY()));
    clusterc__policytable *t = NULL;
    char err[128] = "";
    assert_int_equal(clusterc__policytable_from_reply(r, &t, err, sizeof(err)), 0);
    freeReplyObject(r);
    clusterc__fanpolicy p;
    assert_non_null(clusterc__policytable_at(t, 1, &p)); /* both recorded */
    assert_int_equal(clusterc__policytable_selfcheck(t), 0);
    clusterc__policytable_free(t);
}

/* ---------------------------------------------------------------- merge */

typedef struct parts {
    clusterc__part p[4];
    redisReply *own[4];
    size_t n;
} parts;

static const char *const nodes[] = {"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003",
                                    "127.0.0.1:7004"};

/* Parts from replies (NULL-terminated), node i named nodes[i]. The list
 * ends at the first NULL, so a lost reply is set afterwards. */
static parts mk(redisReply *first, ...)
{
    parts ps;
    va_list ap;
    memset(&ps, 0, sizeof(ps));
    va_start(ap, first);
    for (redisReply *r = first; r != NULL; r = va_arg(ap, redisReply *)) {
        ps.own[ps.n] = r;
        ps.p[ps.n].reply = r;
        ps.p[ps.n].node = nodes[ps.n];
        ps.n++;
    }
    va_end(ap);
    return ps;
}
#define MK(...) mk(__VA_ARGS__, (redisReply *)NULL)

static void drop(parts *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->own[i] != NULL)
            freeReplyObject(ps->own[i]);
}

static redisReply *merged(clusterc__resp_policy pol, parts ps)
{
    redisReply *r = clusterc__fanout_merge(pol, ps.p, ps.n);
    assert_non_null(r);
    drop(&ps);
    return r;
}

static void expect_int(redisReply *r, long long v)
{
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, v);
    freeReplyObject(r);
}

static void expect_ints(redisReply *r, size_t n, const long long *v)
{
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r->element[i]->type, REDIS_REPLY_INTEGER);
        assert_int_equal(r->element[i]->integer, v[i]);
    }
    freeReplyObject(r);
}
#define INTS(...) (sizeof((const long long[]){__VA_ARGS__}) / sizeof(long long)), \
    ((const long long[]){__VA_ARGS__})

static void expect_str(redisReply *r, int type, const char *s)
{
    assert_int_equal(r->type, type);
    assert_string_equal(r->str, s);
    assert_int_equal(r->len, strlen(s));
    freeReplyObject(r);
}

static void test_merge_aggregates(void **state)
{
    (void)state;
    expect_int(merged(RESP(AGG_SUM), MK(I(3), I(4), I(5))), 12);
    expect_int(merged(RESP(AGG_MIN), MK(I(3), I(-4), I(5))), -4);
    expect_int(merged(RESP(AGG_MAX), MK(I(3), I(-4), I(5))), 5);
    expect_int(merged(RESP(AGG_AND), MK(I(1), I(1), I(1))), 1);
    expect_int(merged(RESP(AGG_AND), MK(I(1), I(0), I(1))), 0);
    expect_int(merged(RESP(AGG_OR), MK(I(0), I(0), I(2))), 1);
    expect_int(merged(RESP(AGG_OR), MK(I(0), I(0))), 0);
    expect_int(merged(RESP(AGG_SUM), MK(I(7))), 7);
    expect_ints(merged(RESP(AGG_SUM), MK(A(I(1), I(2)), A(I(3), I(4)))), INTS(4, 6));
    expect_ints(merged(RESP(AGG_MIN), MK(A(I(1), I(9)), A(I(3), I(4)))), INTS(1, 4));
    expect_ints(merged(RESP(AGG_MAX), MK(A(I(1), I(9)), A(I(3), I(4)))), INTS(3, 9));
    /* SCRIPT EXISTS a b c: loaded where every shard has it */
    expect_ints(merged(RESP(AGG_AND), MK(A(I(1), I(1), I(0)), A(I(1), I(0), I(0)))),
                INTS(1, 0, 0));
    expect_ints(merged(RESP(AGG_OR), MK(A(I(1), I(0), I(0)), A(I(0), I(0), I(1)))),
                INTS(1, 0, 1));
    expect_ints(merged(RESP(AGG_SUM), MK(EMPTY(), EMPTY())), 0, NULL);
}

static void test_merge_shape_errors(void **state)
{
    (void)state;
    expect_str(merged(RESP(AGG_SUM), MK(I(1), S("x"))), REDIS_REPLY_ERROR,
               "ERR clusterc: agg_sum: the reply of 127.0.0.1:7002 is not an integer");
    expect_str(merged(RESP(AGG_MIN), MK(A(I(1)), A(I(1), I(2)))), REDIS_REPLY_ERROR,
               "ERR clusterc: agg_min: the reply of 127.0.0.1:7002 is not an array of "
               "integers as long as the others'");
    expect_str(merged(RESP(AGG_AND), MK(A(S("1")), A(I(1)))), REDIS_REPLY_ERROR,
               "ERR clusterc: agg_logical_and: the reply of 127.0.0.1:7001 is not an array "
               "of integers as long as the others'");
    expect_str(merged(RESP(AGG_MAX), MK(ST("OK"))), REDIS_REPLY_ERROR,
               "ERR clusterc: agg_max: the reply of 127.0.0.1:7001 is not an integer");
}

static void test_merge_errors_name_node(void **state)
{
    (void)state;
    expect_str(merged(RESP(AGG_SUM), MK(I(1), E("ERR unknown thing"), E("ERR other"))),
               REDIS_REPLY_ERROR, "ERR 127.0.0.1:7002: unknown thing");
    expect_str(merged(RESP(ALL_SUCCEEDED), MK(ST("OK"), ST("OK"), E("WRONGTYPE Operation"))),
               REDIS_REPLY_ERROR, "WRONGTYPE 127.0.0.1:7003: Operation");
    expect_str(merged(RESP(DEFAULT), MK(A(S("k")), E("oops no code"))), REDIS_REPLY_ERROR,
               "ERR 127.0.0.1:7002: oops no code");
    expect_str(merged(RESP(AGG_MIN), MK(E("NOSCRIPT"))), REDIS_REPLY_ERROR,
               "ERR 127.0.0.1:7001: NOSCRIPT");
    /* A node that gave no reply, and a part with no node name. */
    parts ps = MK(I(1), I(2));
    freeReplyObject(ps.own[1]);
    ps.own[1] = NULL;
    ps.p[1].reply = NULL;
    expect_str(merged(RESP(AGG_SUM), ps), REDIS_REPLY_ERROR, "ERR 127.0.0.1:7002: no reply");
    ps = MK(E("ERR x\r\ny"));
    ps.p[0].node = NULL;
    expect_str(merged(RESP(ALL_SUCCEEDED), ps), REDIS_REPLY_ERROR, "ERR ?: x  y");
}

static void test_merge_succeeded(void **state)
{
    (void)state;
    expect_str(merged(RESP(ALL_SUCCEEDED), MK(ST("OK"), ST("OK"), ST("OK"))),
               REDIS_REPLY_STATUS, "OK");
    expect_str(merged(RESP(ALL_SUCCEEDED), MK(S("sha1"), S("sha1"))), REDIS_REPLY_STRING,
               "sha1");
    expect_str(merged(RESP(ONE_SUCCEEDED), MK(E("NOTBUSY No scripts"), ST("OK"))),
               REDIS_REPLY_STATUS, "OK");
    expect_str(merged(RESP(ONE_SUCCEEDED), MK(E("NOTBUSY a"), E("NOTBUSY b"))),
               REDIS_REPLY_ERROR, "NOTBUSY 127.0.0.1:7001: a");
    expect_str(merged(RESP(SPECIAL), MK(S("x"))), REDIS_REPLY_ERROR,
               "ERR clusterc: response_policy:special has no generic merge");
    redisReply *r = clusterc__fanout_merge(RESP(AGG_SUM), NULL, 0);
    expect_str(r, REDIS_REPLY_ERROR, "ERR clusterc: no replies to merge");
}

static void test_merge_default(void **state)
{
    (void)state;
    /* KEYS on three shards: one array, node order, binary-safe copies. */
    redisReply *r = merged(RESP(DEFAULT), MK(A(S("a"), S("b")), EMPTY(), A(S("c\r\n"), NIL())));
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 4);
    assert_string_equal(r->element[0]->str, "a");
    assert_string_equal(r->element[1]->str, "b");
    assert_int_equal(r->element[2]->len, 3);
    assert_memory_equal(r->element[2]->str, "c\r\n", 3);
    assert_int_equal(r->element[3]->type, REDIS_REPLY_NIL);
    freeReplyObject(r);
    /* Not arrays: the first reply; nested arrays are copied whole. */
    expect_str(merged(RESP(DEFAULT), MK(S("x"), S("y"))), REDIS_REPLY_STRING, "x");
    r = merged(RESP(DEFAULT), MK(A(A(I(1), S("v")), ST("s"))));
    assert_int_equal(r->elements, 2);
    assert_int_equal(r->element[0]->element[0]->integer, 1);
    assert_string_equal(r->element[0]->element[1]->str, "v");
    assert_int_equal(r->element[1]->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
}

/* ----------------------------------------------------------- reassembly */

static void test_reassemble(void **state)
{
    (void)state;
    clusterc__split s;
    assert_int_equal(split(CMD("MGET", "{a}1", "b", "a", "c", "x{b}"), &s), 1);
    /* parts answer s.sub[] in order: b's slot, c's, a's */
    parts ps = MK(A(S("vb"), NIL()), A(S("vc")), A(NIL(), S("va")));
    redisReply *r = clusterc__fanout_reassemble(&s, ps.p, ps.n);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 5);
    assert_int_equal(r->element[0]->type, REDIS_REPLY_NIL);   /* {a}1 */
    assert_string_equal(r->element[1]->str, "vb");
    assert_string_equal(r->element[2]->str, "va");
    assert_string_equal(r->element[3]->str, "vc");
    assert_int_equal(r->element[4]->type, REDIS_REPLY_NIL);   /* x{b} */
    freeReplyObject(r);
    drop(&ps);

    ps = MK(A(S("vb"), NIL()), E("CLUSTERDOWN The cluster is down"), A(NIL(), NIL()));
    expect_str(clusterc__fanout_reassemble(&s, ps.p, ps.n), REDIS_REPLY_ERROR,
               "CLUSTERDOWN 127.0.0.1:7002: The cluster is down");
    drop(&ps);
    ps = MK(A(S("vb"), NIL()), A(S("vc"), S("extra")), A(NIL(), NIL()));
    expect_str(clusterc__fanout_reassemble(&s, ps.p, ps.n), REDIS_REPLY_ERROR,
               "ERR clusterc: 127.0.0.1:7002 answered 1 keys with another count");
    drop(&ps);
    ps = MK(A(S("vb"), NIL()), I(1), A(NIL(), NIL()));
    expect_str(clusterc__fanout_reassemble(&s, ps.p, ps.n), REDIS_REPLY_ERROR,
               "ERR clusterc: 127.0.0.1:7002 answered 1 keys with no array");
    expect_str(clusterc__fanout_reassemble(&s, ps.p, 2), REDIS_REPLY_ERROR,
               "ERR clusterc: 2 replies for 3 sub-commands");
    drop(&ps);
    clusterc__split_free(&s);
}

/* DEL and MSET over a split: the generic merges do it. */
static void test_split_then_merge(void **state)
{
    (void)state;
    expect_int(merged(RESP(AGG_SUM), MK(I(2), I(0), I(1))), 3);
    expect_str(merged(RESP(ALL_SUCCEEDED), MK(ST("OK"), ST("OK"))), REDIS_REPLY_STATUS, "OK");
    expect_str(merged(RESP(ALL_SUCCEEDED), MK(ST("OK"), E("MOVED 3999 127.0.0.1:7005"))),
               REDIS_REPLY_ERROR, "MOVED 127.0.0.1:7002: 3999 127.0.0.1:7005");
}

/* ------------------------------------------------------------------ docs */

/* docs/commands.md lists every built-in entry as
 * "| `SCRIPT LOAD` | `all_nodes` | `all_succeeded` |". */
static void test_docs_table(void **state)
{
    (void)state;
    char path[1024];
    const char *here = __FILE__, *cut = strstr(here, "tests/unit/");
    if (cut == NULL) {
        skip();
        return;
    }
    snprintf(path, sizeof(path), "%.*sdocs/commands.md", (int)(cut - here), here);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    static char doc[65536];
    size_t n = fread(doc, 1, sizeof(doc) - 1, f);
    fclose(f);
    doc[n] = '\0';
    clusterc__fanpolicy p;
    const char *nm;
    for (size_t i = 0; (nm = clusterc__policytable_at(B, i, &p)) != NULL; i++) {
        char cmd[100], row[200];
        size_t k = 0;
        for (; nm[k] != '\0' && k < sizeof(cmd) - 1; k++)   /* "script|load": SCRIPT LOAD */
            cmd[k] = nm[k] == '|' ? ' ' : (nm[k] >= 'a' && nm[k] <= 'z') ? nm[k] - 32 : nm[k];
        cmd[k] = '\0';
        snprintf(row, sizeof(row), "| `%s` | `%s` | `%s` |", cmd,
                 clusterc__req_policy_name(p.req), clusterc__resp_policy_name(p.resp));
        if (strstr(doc, row) == NULL)
            fail_msg("docs/commands.md lacks the row %s", row);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_builtin),
        cmocka_unit_test(test_learned),
        cmocka_unit_test(test_learned_bad),
        cmocka_unit_test(test_learned_high_byte_name),
        cmocka_unit_test(test_split_three_slots),
        cmocka_unit_test(test_split_mset),
        cmocka_unit_test(test_split_not),
        cmocka_unit_test(test_merge_aggregates),
        cmocka_unit_test(test_merge_shape_errors),
        cmocka_unit_test(test_merge_errors_name_node),
        cmocka_unit_test(test_merge_succeeded),
        cmocka_unit_test(test_merge_default),
        cmocka_unit_test(test_reassemble),
        cmocka_unit_test(test_split_then_merge),
        cmocka_unit_test(test_docs_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
