/* test_reply_pool.c -- async replies reused (engine/reply_pool.c): RESP
 * bytes through a redisReader with the pool's functions set. Strings
 * (short, at the inline size, longer, empty), status, integer and nil
 * come from the pool; an error and an array, with everything in it, are
 * the reader's own (freeReplyObject-able); a released block is the next
 * reply's; at most CLUSTERC__REPLY_POOL_MAX blocks are kept;
 * clusterc__reply_free frees arena, pooled and ordinary replies; a reply
 * cut short or a pool freed with a reply out leaks nothing (ASan and the
 * valgrind label catch a leak or a bad free). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include "engine/reply_arena.h"
#include "engine/reply_pool.h"

typedef struct preader {
    redisReader *r;
    clusterc__arena_ctx ctx;
    clusterc__reply_pool *pool;
} preader;

/* A reader set up as conn.c sets one up, with the pool's functions on. */
static void preader_init(preader *p)
{
    p->pool = clusterc__reply_pool_new();
    assert_non_null(p->pool);
    p->r = redisReaderCreate();
    assert_non_null(p->r);
    p->ctx.plain = p->r->fn;
    p->ctx.cur = NULL;
    p->ctx.pool = p->pool;
    p->r->privdata = &p->ctx;
    p->r->fn = &clusterc__pool_fns;
}

static void preader_fini(preader *p)
{
    redisReaderFree(p->r);
    assert_int_equal(clusterc__reply_pool_lent(p->pool), 0);
    clusterc__reply_pool_free(p->pool);
}

/* Feed len bytes in pieces of step; the one reply they make. */
static redisReply *read_step(preader *p, const char *buf, size_t len, size_t step)
{
    void *reply = NULL;
    for (size_t at = 0; at < len; at += step) {
        size_t n = len - at < step ? len - at : step;
        assert_null(reply);
        assert_int_equal(redisReaderFeed(p->r, buf + at, n), REDIS_OK);
        assert_int_equal(redisReaderGetReply(p->r, &reply), REDIS_OK);
    }
    assert_non_null(reply);
    return reply;
}

static redisReply *read_one(preader *p, const char *resp)
{
    return read_step(p, resp, strlen(resp), (size_t)-1);
}

static int str_inline(const redisReply *r)
{
    return r->str == (const char *)r + sizeof(redisReply);
}

/* A bulk string of len bytes of c. */
static char *bulk(size_t len, char c, size_t *out_len)
{
    char *buf = malloc(len + 32);
    assert_non_null(buf);
    size_t n = (size_t)sprintf(buf, "$%zu\r\n", len);
    memset(buf + n, c, len);
    memcpy(buf + n + len, "\r\n", 2);
    *out_len = n + len + 2;
    return buf;
}

static void check_string(preader *p, size_t len, int want_inline)
{
    size_t n;
    char *buf = bulk(len, 'v', &n);
    static const size_t steps[] = { 1, 3, (size_t)-1 };
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        redisReply *r = read_step(p, buf, n, steps[k]);
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_true(clusterc__reply_pooled(r));
        assert_int_equal(r->len, len);
        assert_int_equal(r->elements, 0);
        assert_int_equal(r->integer, 0);
        assert_int_equal(str_inline(r), want_inline);
        for (size_t i = 0; i < len; i++)
            assert_int_equal(r->str[i], 'v');
        assert_int_equal(r->str[len], '\0');
        assert_int_equal(clusterc__reply_pool_lent(p->pool), 1);
        clusterc__reply_free(r);
        assert_int_equal(clusterc__reply_pool_lent(p->pool), 0);
    }
    free(buf);
}

static void test_strings(void **state)
{
    (void)state;
    preader p;
    preader_init(&p);
    check_string(&p, 3, 1);
    check_string(&p, 0, 1);
    check_string(&p, CLUSTERC__REPLY_INLINE - 1, 1);   /* its NUL just fits */
    check_string(&p, CLUSTERC__REPLY_INLINE, 0);       /* malloc'ed on its own */
    check_string(&p, 100000, 0);
    preader_fini(&p);
}

static void test_status_integer_nil(void **state)
{
    (void)state;
    preader p;
    preader_init(&p);
    redisReply *r = read_one(&p, "+OK\r\n");
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    assert_true(clusterc__reply_pooled(r));
    assert_string_equal(r->str, "OK");
    assert_int_equal(r->len, 2);
    assert_true(str_inline(r));
    clusterc__reply_free(r);
    static const struct { const char *resp; long long v; } ints[] = {
        { ":42\r\n", 42 }, { ":-7\r\n", -7 }, { ":0\r\n", 0 },
        { ":9223372036854775807\r\n", INT64_MAX },
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        r = read_one(&p, ints[i].resp);
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        assert_true(clusterc__reply_pooled(r));
        assert_true(r->integer == ints[i].v);
        assert_null(r->str);
        assert_int_equal(r->len, 0);
        clusterc__reply_free(r);
    }
    static const char *const nils[] = { "$-1\r\n", "*-1\r\n" };
    for (size_t i = 0; i < 2; i++) {
        r = read_one(&p, nils[i]);
        assert_int_equal(r->type, REDIS_REPLY_NIL);
        assert_true(clusterc__reply_pooled(r));
        assert_null(r->str);
        assert_int_equal(r->elements, 0);
        clusterc__reply_free(r);
    }
    preader_fini(&p);
}

/* Several replies in one feed, each built as it comes. */
static void test_sequence(void **state)
{
    (void)state;
    static const char resp[] = "+OK\r\n:1\r\n$1\r\nx\r\n-ERR no\r\n*1\r\n$1\r\ny\r\n$-1\r\n";
    static const int types[] = { REDIS_REPLY_STATUS, REDIS_REPLY_INTEGER, REDIS_REPLY_STRING,
                                 REDIS_REPLY_ERROR, REDIS_REPLY_ARRAY, REDIS_REPLY_NIL };
    preader p;
    preader_init(&p);
    redisReply *got[6];
    assert_int_equal(redisReaderFeed(p.r, resp, sizeof(resp) - 1), REDIS_OK);
    for (size_t i = 0; i < 6; i++) {
        void *reply = NULL;
        assert_int_equal(redisReaderGetReply(p.r, &reply), REDIS_OK);
        assert_non_null(reply);
        got[i] = reply;
        assert_int_equal(got[i]->type, types[i]);
        int aggregate_or_error = types[i] == REDIS_REPLY_ERROR || types[i] == REDIS_REPLY_ARRAY;
        assert_int_equal(clusterc__reply_pooled(got[i]), !aggregate_or_error);
    }
    assert_int_equal(clusterc__reply_pool_lent(p.pool), 4);
    for (size_t i = 0; i < 6; i++)
        clusterc__reply_free(got[i]);
    assert_int_equal(clusterc__reply_pool_nfree(p.pool), 4);
    preader_fini(&p);
}

/* An error and an aggregate (with all it holds) are ordinary replies. */
static void test_error_and_array_plain(void **state)
{
    (void)state;
    preader p;
    preader_init(&p);
    redisReply *r = read_one(&p, "-MOVED 3999 127.0.0.1:7001\r\n");
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_null(r->element);
    assert_false(clusterc__reply_pooled(r));
    assert_string_equal(r->str, "MOVED 3999 127.0.0.1:7001");
    freeReplyObject(r);
    static const char arr[] = "*6\r\n$3\r\nfoo\r\n:5\r\n$-1\r\n+OK\r\n*2\r\n$1\r\na\r\n*-1\r\n*0\r\n";
    for (size_t step = 1; step <= sizeof(arr); step += 7) {
        r = read_step(&p, arr, sizeof(arr) - 1, step);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->elements, 6);
        assert_false(clusterc__reply_pooled(r));
        for (size_t i = 0; i < 6; i++)
            assert_false(clusterc__reply_pooled(r->element[i]));
        assert_string_equal(r->element[0]->str, "foo");
        assert_int_equal(r->element[1]->integer, 5);
        assert_int_equal(r->element[2]->type, REDIS_REPLY_NIL);
        assert_int_equal(r->element[3]->type, REDIS_REPLY_STATUS);
        assert_string_equal(r->element[4]->element[0]->str, "a");
        assert_int_equal(r->element[4]->element[1]->type, REDIS_REPLY_NIL);
        assert_int_equal(r->element[5]->elements, 0);
        freeReplyObject(r);
    }
    r = read_one(&p, "*0\r\n");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_false(clusterc__reply_pooled(r));
    clusterc__reply_free(r);
    assert_int_equal(clusterc__reply_pool_nfree(p.pool), 0);   /* none ever lent */
    preader_fini(&p);
}

/* A released block is the next reply's: the pool allocates nothing. */
static void test_reuse(void **state)
{
    (void)state;
    preader p;
    preader_init(&p);
    redisReply *a = read_one(&p, "$3\r\nabc\r\n");
    clusterc__reply_free(a);
    assert_int_equal(clusterc__reply_pool_nfree(p.pool), 1);
    redisReply *b = read_one(&p, ":12\r\n");
    assert_ptr_equal(a, b);   /* not dereferenced: compared only */
    assert_int_equal(b->integer, 12);
    assert_null(b->str);
    assert_int_equal(clusterc__reply_pool_nfree(p.pool), 0);
    redisReply *c = read_one(&p, "$3\r\ndef\r\n");
    assert_ptr_not_equal(b, c);
    clusterc__reply_free(b);
    clusterc__reply_free(c);
    redisReply *d = read_one(&p, "$2\r\nxy\r\n");
    assert_ptr_equal(d, c);   /* the most recently released first */
    assert_string_equal(d->str, "xy");
    clusterc__reply_free(d);
    preader_fini(&p);
}

/* A burst gives its memory back: at most CLUSTERC__REPLY_POOL_MAX kept. */
static void test_bound(void **state)
{
    (void)state;
    enum { N = CLUSTERC__REPLY_POOL_MAX + 40 };
    redisReply **held = malloc(N * sizeof(*held));
    assert_non_null(held);
    preader p;
    preader_init(&p);
    for (size_t i = 0; i < N; i++)
        held[i] = read_one(&p, (i & 1) ? "$5\r\nhello\r\n" : ":1\r\n");
    assert_int_equal(clusterc__reply_pool_lent(p.pool), N);
    for (size_t i = 0; i < N; i++)
        clusterc__reply_free(held[i]);
    assert_int_equal(clusterc__reply_pool_nfree(p.pool), CLUSTERC__REPLY_POOL_MAX);
    assert_int_equal(clusterc__reply_pool_lent(p.pool), 0);
    preader_fini(&p);
    free(held);
}

/* clusterc__reply_free on every kind: arena, pooled, ordinary, NULL. */
static void test_reply_free_kinds(void **state)
{
    (void)state;
    static const char arr[] = "*2\r\n$3\r\nabc\r\n:1\r\n";
    preader p;
    preader_init(&p);
    p.r->fn = &clusterc__arena_fns;   /* as conn.c does for a map load */
    redisReply *arena = read_one(&p, arr);
    assert_false(clusterc__reply_pooled(arena));
    assert_string_equal(arena->element[0]->str, "abc");
    p.r->fn = &clusterc__pool_fns;
    redisReply *pooled = read_one(&p, "$3\r\nabc\r\n");
    p.r->fn = p.ctx.plain;
    redisReply *plain_str = read_one(&p, "$3\r\nabc\r\n");
    redisReply *plain_arr = read_one(&p, arr);
    assert_false(clusterc__reply_pooled(plain_str));
    clusterc__reply_free(arena);
    clusterc__reply_free(pooled);
    clusterc__reply_free(plain_str);
    clusterc__reply_free(plain_arr);
    clusterc__reply_free(NULL);
    assert_int_equal(clusterc__reply_pool_nfree(p.pool), 1);
    preader_fini(&p);
}

/* Cut short: an aggregate half read when the reader goes, or refused by
 * a protocol error, is freed whole through the pool's freeObject. */
static void test_cut_short(void **state)
{
    (void)state;
    static const char *const cuts[] = { "*3\r\n$3\r\nfoo\r\n*2\r\n:1\r\n", "$10\r\nabc", "*2\r\n" };
    for (int how = 0; how < 2; how++) {
        for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
            preader p;
            void *reply = NULL;
            preader_init(&p);
            assert_int_equal(redisReaderFeed(p.r, cuts[i], strlen(cuts[i])), REDIS_OK);
            assert_int_equal(redisReaderGetReply(p.r, &reply), REDIS_OK);
            assert_null(reply);
            if (how == 1 && cuts[i][0] == '*') {   /* '\r' is no type in any RESP */
                assert_int_equal(redisReaderFeed(p.r, "\r\n@bad\r\n", 8), REDIS_OK);
                (void)redisReaderGetReply(p.r, &reply);
                assert_null(reply);
            }
            preader_fini(&p);
        }
    }
}

/* The pool freed while a reply is out (the engine going first): the
 * reply's release frees its block and the pool. */
static void test_pool_freed_first(void **state)
{
    (void)state;
    preader p;
    preader_init(&p);
    redisReply *kept = read_one(&p, "$3\r\nabc\r\n");
    redisReply *gone = read_one(&p, ":3\r\n");
    size_t n;
    char *buf = bulk(500, 'z', &n);
    redisReply *big = read_step(&p, buf, n, (size_t)-1);
    free(buf);
    clusterc__reply_free(gone);
    redisReaderFree(p.r);
    clusterc__reply_pool_free(p.pool);   /* the free block goes now */
    assert_string_equal(kept->str, "abc");
    clusterc__reply_free(kept);
    clusterc__reply_free(big);           /* the last one out frees the pool */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_status_integer_nil),
        cmocka_unit_test(test_sequence),
        cmocka_unit_test(test_error_and_array_plain),
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_reply_free_kinds),
        cmocka_unit_test(test_cut_short),
        cmocka_unit_test(test_pool_freed_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
