/* test_arena.c -- map-load replies built in an arena (engine/reply_arena.c):
 * the same tree as hiredis builds, read a byte at a time or at once; a
 * reply that is not an aggregate stays an ordinary one; a reply cut by a
 * protocol error or by the reader going away is freed whole (ASan and the
 * valgrind label catch a leak or a bad free). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include "engine/reply_arena.h"
#include "proto/topology.h"
#include "fake_shards.h"

typedef struct areader { redisReader *r; clusterc__arena_ctx ctx; } areader;

static void areader_init(areader *a)
{
    a->r = redisReaderCreate();
    assert_non_null(a->r);
    a->ctx.plain = a->r->fn;
    a->ctx.cur = NULL;
    a->r->privdata = &a->ctx;
    a->r->fn = &clusterc__arena_fns;
}

/* Feed buf in pieces of step bytes; the one reply it holds. */
static redisReply *read_all(areader *a, const char *buf, size_t len, size_t step)
{
    void *reply = NULL;
    for (size_t at = 0; at < len && !reply; at += step) {
        size_t n = len - at < step ? len - at : step;
        assert_int_equal(redisReaderFeed(a->r, buf + at, n), REDIS_OK);
        assert_int_equal(redisReaderGetReply(a->r, &reply), REDIS_OK);
    }
    assert_non_null(reply);
    return reply;
}

static void same_topology(const clusterc__topology *x, const clusterc__topology *y)
{
    assert_int_equal(x->nshards, y->nshards);
    assert_memory_equal(x->slot_shard, y->slot_shard, sizeof(x->slot_shard));
    for (size_t i = 0; i < x->nshards; i++) {
        assert_int_equal(x->shards[i].nnodes, y->shards[i].nnodes);
        for (size_t j = 0; j < x->shards[i].nnodes; j++) {
            const clusterc__topo_node *a = &x->shards[i].nodes[j], *b = &y->shards[i].nodes[j];
            assert_string_equal(a->id, b->id);
            assert_string_equal(a->addr.host, b->addr.host);
            assert_int_equal(a->addr.port, b->addr.port);
            assert_int_equal(a->role, b->role);
            assert_int_equal(a->health, b->health);
        }
    }
}

static void test_same_map(void **state)
{
    (void)state;
    size_t len;
    char *map = fake_shards_reply(300, 2, NULL, &len);
    redisReader *plain = redisReaderCreate();
    void *ref = NULL;
    assert_int_equal(redisReaderFeed(plain, map, len), REDIS_OK);
    assert_int_equal(redisReaderGetReply(plain, &ref), REDIS_OK);
    clusterc__topology *want = NULL, *got = NULL;
    char err[256];
    assert_int_equal(clusterc__topology_from_shards(ref, "127.0.0.1", &want, err, sizeof(err)), 0);
    static const size_t steps[] = { 1, 7, 4096, (size_t)-1 };
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        areader a;
        areader_init(&a);
        redisReply *r = read_all(&a, map, len, steps[k]);
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->elements, 300);
        assert_int_equal(clusterc__topology_from_shards(r, "127.0.0.1", &got, err, sizeof(err)), 0);
        same_topology(want, got);
        clusterc__topology_free(got);
        clusterc__reply_free(r);
        redisReaderFree(a.r);
    }
    clusterc__topology_free(want);
    freeReplyObject(ref);
    redisReaderFree(plain);
    free(map);
}

/* Every kind of element, nested, and big strings that need chunks of their own. */
static void test_all_kinds(void **state)
{
    (void)state;
    static const char head[] = "*7\r\n:42\r\n$-1\r\n*0\r\n-ERR inner\r\n+OK\r\n*-1\r\n*2\r\n$3\r\nabc\r\n";
    size_t big = 200000;
    char *buf = malloc(sizeof(head) + big + 32);
    assert_non_null(buf);
    size_t n = (size_t)sprintf(buf, "%s$%zu\r\n", head, big);
    memset(buf + n, 'x', big);
    memcpy(buf + n + big, "\r\n", 2);
    areader a;
    areader_init(&a);
    redisReply *r = read_all(&a, buf, n + big + 2, 5000);
    assert_int_equal(r->elements, 7);
    assert_int_equal(r->element[0]->integer, 42);
    assert_int_equal(r->element[1]->type, REDIS_REPLY_NIL);
    assert_int_equal(r->element[2]->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->element[2]->elements, 0);
    assert_string_equal(r->element[3]->str, "ERR inner");
    assert_int_equal(r->element[4]->type, REDIS_REPLY_STATUS);
    assert_int_equal(r->element[5]->type, REDIS_REPLY_NIL);
    assert_string_equal(r->element[6]->element[0]->str, "abc");
    assert_int_equal(r->element[6]->element[1]->len, big);
    assert_int_equal(r->element[6]->element[1]->str[big - 1], 'x');
    assert_int_equal(r->element[6]->element[1]->str[big], '\0');
    clusterc__reply_free(r);
    redisReaderFree(a.r);
    free(buf);
}

/* Not an aggregate: the reader's own objects, freeable by freeReplyObject. */
static void test_plain_roots(void **state)
{
    (void)state;
    static const char *const roots[] = { "-MOVED 1 127.0.0.1:7000\r\n", "+OK\r\n", ":7\r\n",
                                         "$-1\r\n", "$2\r\nhi\r\n" };
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
        areader a;
        areader_init(&a);
        redisReply *r = read_all(&a, roots[i], strlen(roots[i]), 64);
        freeReplyObject(r);
        redisReaderFree(a.r);
    }
}

/* Cut short: by a protocol error, or by the reader being freed. */
static void test_cut_short(void **state)
{
    (void)state;
    size_t len;
    char *map = fake_shards_reply(30, 1, NULL, &len);
    for (int how = 0; how < 2; how++) {
        areader a;
        void *reply = NULL;
        areader_init(&a);
        /* Cut where a node's array starts: '@' is no type in any RESP. */
        const char *at = strstr(map + len / 2, "\r\n*14\r\n");
        assert_non_null(at);
        assert_int_equal(redisReaderFeed(a.r, map, (size_t)(at - map) + 2), REDIS_OK);
        assert_int_equal(redisReaderGetReply(a.r, &reply), REDIS_OK);
        assert_null(reply);
        if (how == 0) {
            assert_int_equal(redisReaderFeed(a.r, "@bad\r\n", 6), REDIS_OK);
            assert_int_equal(redisReaderGetReply(a.r, &reply), REDIS_ERR);
        }
        redisReaderFree(a.r);
    }
    clusterc__reply_free(NULL);
    free(map);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_map),
        cmocka_unit_test(test_all_kinds),
        cmocka_unit_test(test_plain_roots),
        cmocka_unit_test(test_cut_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
