/* test_reqmem.c -- what a command in flight costs (issue 17), held to it:
 * the request record's size and the room its block leaves for a text; a
 * face's text written straight into that room (a GET), or into a pooled
 * buffer, or malloc'ed, by its length; each given back on every way out
 * (an invalid command, a refused one: ASan and the valgrind label catch
 * a leak or a bad free); the command name messages show, read from the
 * text; a FIFO position kept in 32 bits, across the wrap. An engine is
 * made on an event_base but never dials: nothing is submitted. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <event2/event.h>
#include "engine/engine.h"
#include "engine/conn.h"
#include "proto/encode.h"
#include "proto/options.h"

static void nop_done(clusterc__engine *e, clusterc__req *r, redisReply *reply, int code,
                     const char *msg)
{
    (void)e; (void)r; (void)reply; (void)code; (void)msg;
}

typedef struct world {
    struct event_base *base;
    clusterc__engine *e;
} world;

static int setup(void **state)
{
    static world w;
    clusterc_options o;
    clusterc__err err = { 0 };
    clusterc_options_init(&o);
    o.seeds = "127.0.0.1:1";   /* never dialled: nothing is submitted */
    w.base = event_base_new();
    if (!w.base || clusterc__options_check(&o, &err) < 0)
        return -1;
    w.e = clusterc__engine_new(w.base, &o, &err);
    *state = &w;
    return w.e ? 0 : -1;
}

static int teardown(void **state)
{
    world *w = *state;
    clusterc__engine_free(w->e, CLUSTERC_ECLOSED, "test over");
    event_base_free(w->base);
    return 0;
}

static void test_sizes(void **state)
{
    (void)state;
    /* The record leaves a GET of a short key room in its own block, and
     * the block is a 144-byte malloc chunk (docs/benchmarks.md). */
    assert_true(sizeof(clusterc__req) <= 104);
    assert_true(CLUSTERC__REQ_INLINE >= 32);
    assert_true(CLUSTERC__REQ_INLINE_BIG >= 48);
    assert_int_equal(offsetof(clusterc__req, inl), sizeof(clusterc__req));
    assert_int_equal(sizeof(clusterc__fifo_ent), 16);
}

/* Format argv into a text as a face does, make a request of it, and say
 * where the text went. */
static int text_goes(clusterc__engine *e, int argc, const char **argv, int *pooled, int *big)
{
    clusterc__cmdtext t;
    clusterc__err err = { 0 };
    clusterc__cmdtext_argv(e, &t, argc, argv, NULL);
    assert_true(t.len > 0);
    *pooled = t.pooled;
    clusterc__req *r = clusterc__req_new_text(e, &t, nop_done, &err);
    assert_non_null(r);
    int inl = !r->text_out && clusterc__req_text(r) == r->inl;
    *big = r->big;
    assert_int_equal(r->len, (uint32_t)t.len);
    assert_int_equal(clusterc__req_text(r)[r->len], '\0');
    assert_memory_equal(clusterc__req_text(r), "*2\r\n$3\r\nGET\r\n$", 14);
    clusterc__req_free(r);
    return inl;
}

static void test_text_placement(void **state)
{
    world *w = *state;
    static char mid[31], big[1001];   /* 50 bytes of RESP: a pooled buffer */
    memset(mid, 'm', sizeof(mid) - 1);
    memset(big, 'b', sizeof(big) - 1);
    const char *get_short[] = { "GET", "bench:123" };         /* 28 bytes of RESP */
    const char *get_longer[] = { "GET", "key:000000000042" };  /* 36: a big block */
    const char *get_mid[] = { "GET", mid };
    const char *get_big[] = { "GET", big };
    int pooled, bigblock;
    for (int round = 0; round < 3; round++) {   /* fresh blocks, then reused ones */
        assert_true(text_goes(w->e, 2, get_short, &pooled, &bigblock));
        assert_int_equal(pooled, 2);   /* written where it stays */
        assert_false(bigblock);
        assert_true(text_goes(w->e, 2, get_longer, &pooled, &bigblock));
        assert_int_equal(pooled, 2);
        assert_true(bigblock);
        assert_false(text_goes(w->e, 2, get_mid, &pooled, &bigblock));
        assert_int_equal(pooled, 1);
        assert_false(text_goes(w->e, 2, get_big, &pooled, &bigblock));
        assert_int_equal(pooled, 0);
    }
}

/* A text no request takes goes back whatever it was. */
static void test_text_given_back(void **state)
{
    world *w = *state;
    clusterc__err err = { 0 };
    clusterc__cmdtext t;
    /* Refused after inspection (SUBSCRIBE has its own API), in each kind
     * of room. */
    static char mid[26], big[1001];
    memset(mid, 'c', sizeof(mid) - 1);
    memset(big, 'c', sizeof(big) - 1);
    const char *chans[] = { "c", "channel:0000001", mid, big };   /* 26, 39, 51 bytes, more */
    const int room[] = { 2, 2, 1, 0 };
    for (int i = 0; i < 4; i++) {
        const char *argv[] = { "SUBSCRIBE", chans[i] };
        clusterc__cmdtext_argv(w->e, &t, 2, argv, NULL);
        assert_int_equal(t.pooled, room[i]);
        assert_null(clusterc__req_new_text(w->e, &t, nop_done, &err));
        assert_int_equal(err.code, CLUSTERC_EUSAGE);
    }
    /* Formatted, then given back unused (a face refusing a bad route). */
    clusterc__cmdtext_argv(w->e, &t, 1, (const char *[]){ "PING" }, NULL);
    assert_int_equal(t.pooled, 2);
    clusterc__cmdtext_release(w->e, &t);
    /* Without an engine (rejected options) everything is malloc'ed. */
    clusterc__cmdtext_argv(NULL, &t, 1, (const char *[]){ "PING" }, NULL);
    assert_int_equal(t.pooled, 0);
    clusterc__cmdtext_release(NULL, &t);
}

static clusterc__req *req_of(clusterc__engine *e, int argc, const char **argv)
{
    char *cmd = NULL;
    clusterc__err err = { 0 };
    int len = clusterc__format_argv(&cmd, argc, argv, NULL);
    assert_true(len > 0);
    clusterc__req *r = clusterc__req_new(e, cmd, (size_t)len, nop_done, &err);
    assert_non_null(r);
    return r;
}

static const char *name_of(clusterc__engine *e, const char *a0, const char *a1, int internal,
                           char *buf, size_t cap)
{
    const char *argv[] = { a0, a1 };
    clusterc__req *r = req_of(e, a1 ? 2 : 1, argv);
    r->internal = internal != 0;
    clusterc__req_name(r, buf, cap);
    clusterc__req_free(r);
    return buf;
}

static void test_names(void **state)
{
    world *w = *state;
    char b[CLUSTERC__REQ_NAME_MAX];
    assert_string_equal(name_of(w->e, "get", "k", 0, b, sizeof(b)), "get");
    assert_string_equal(name_of(w->e, "config", "get", 0, b, sizeof(b)), "CONFIG GET");
    assert_string_equal(name_of(w->e, "CLUSTER", "SHARDS", 1, b, sizeof(b)), "CLUSTER SHARDS");
    assert_string_equal(name_of(w->e, "INFO", "replication", 1, b, sizeof(b)),
                        "INFO replication");
    assert_string_equal(name_of(w->e, "PING", NULL, 1, b, sizeof(b)), "PING");
    /* A long name is cut to the buffer, never past it. */
    assert_string_equal(name_of(w->e, "abcdefghijklmnopqrstuvwxyz0123456789", NULL, 0, b,
                                sizeof(b)), "abcdefghijklmnopqrstuvwxyz012");
    /* The macro's buffer lives to the end of the enclosing block. */
    clusterc__req *r = req_of(w->e, 3, (const char *[]){ "HGET", "h", "f" });
    assert_string_equal(CLUSTERC__RNAME(r), "HGET");
    clusterc__req_free(r);
}

/* A FIFO position kept in its low 32 bits names the same entry across the
 * wrap, and an answered one names none. */
static void test_seq_wrap(void **state)
{
    (void)state;
    static clusterc__conn c;
    c.fseq = (5ull << 32) + 0xfffffff0u;   /* 16 entries before a wrap */
    c.fcount = 40;
    for (uint64_t s = c.fseq; s < c.fseq + c.fcount; s++)
        assert_true(clusterc__conn_unwrap(&c, (uint32_t)s) == s);
    uint64_t gone = clusterc__conn_unwrap(&c, (uint32_t)(c.fseq - 1));
    assert_true(gone >= c.fseq + c.fcount);
    c.held_end = c.fseq + 20;   /* the first 20 waited behind AUTH */
    assert_true(clusterc__conn_was_held(&c, (uint32_t)(c.fseq + 19)));
    assert_false(clusterc__conn_was_held(&c, (uint32_t)(c.fseq + 20)));
    assert_int_equal(clusterc__conn_sent(&c, (uint32_t)(c.fseq - 1)), 0);
}

static void done_a(clusterc__engine *e, clusterc__req *r, redisReply *reply, int code,
                   const char *msg)
{
    nop_done(e, r, reply, code, msg);
}

static void done_b(clusterc__engine *e, clusterc__req *r, redisReply *reply, int code,
                   const char *msg)
{
    nop_done(e, r, reply, code, msg);
}

static void done_c(clusterc__engine *e, clusterc__req *r, redisReply *reply, int code,
                   const char *msg)
{
    nop_done(e, r, reply, code, msg);
}

static clusterc__req *get_req(clusterc__engine *e, clusterc__done_fn *done)
{
    const char *argv[] = { "GET", "k" };
    clusterc__cmdtext t;
    clusterc__err err = { 0 };
    clusterc__cmdtext_argv(e, &t, 2, argv, NULL);
    clusterc__req *r = clusterc__req_new_text(e, &t, done, &err);
    assert_non_null(r);
    return r;
}

/* A face's registered completion costs a request two bits; any other, its
 * rare part; registering more than fit (or again) changes nothing. */
static void test_done_index(void **state)
{
    world *w = *state;
    clusterc__req *r = get_req(w->e, done_a);
    assert_int_equal(r->done_ix, 0);
    assert_non_null(r->x);
    assert_ptr_equal(r->x->done, done_a);
    clusterc__req_free(r);
    clusterc__done_fn *fns[] = { done_a, done_b, done_c };
    for (int i = 0; i < 3; i++) {
        clusterc__engine_face_done(w->e, fns[i]);
        clusterc__engine_face_done(w->e, fns[i]);   /* once is enough */
    }
    clusterc__engine_face_done(w->e, nop_done);    /* no room left */
    for (int i = 0; i < 3; i++) {
        r = get_req(w->e, fns[i]);
        assert_int_equal(r->done_ix, i + 1);
        assert_null(r->x);
        clusterc__req_free(r);
    }
    r = get_req(w->e, nop_done);
    assert_int_equal(r->done_ix, 0);
    assert_ptr_equal(r->x->done, nop_done);
    clusterc__req_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_text_placement),
        cmocka_unit_test(test_text_given_back),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_seq_wrap),
        cmocka_unit_test(test_done_index),   /* last: it fills the engine's table */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
