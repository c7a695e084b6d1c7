/* test_push.c -- Pub/Sub pushes decoded and shape-checked (proto/push.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "clusterc/clusterc.h"
#include "proto/push.h"
#include "reply_builder.h"

/* Parse r (freed), expecting ok; *out's pointers are not used after. */
static int parse(redisReply *r, clusterc__push *out)
{
    int ok = clusterc__push_parse(r, out);
    freeReplyObject(r);
    return ok;
}

static void test_messages(void **state)
{
    (void)state;
    clusterc__push p;
    redisReply *r = A(S("message"), S("ch"), S("hi"));
    assert_int_equal(clusterc__push_parse(r, &p), 1);
    assert_int_equal(p.what, CLUSTERC__PUSH_MESSAGE);
    assert_int_equal(p.kind, CLUSTERC_PUBSUB_CHANNEL);
    assert_string_equal(p.name->str, "ch");
    assert_string_equal(p.channel->str, "ch");
    assert_string_equal(p.payload->str, "hi");
    freeReplyObject(r);
    r = A(S("pmessage"), S("c*"), S("c1"), S("x"));
    assert_int_equal(clusterc__push_parse(r, &p), 1);
    assert_int_equal(p.kind, CLUSTERC_PUBSUB_PATTERN);
    assert_string_equal(p.name->str, "c*");
    assert_string_equal(p.channel->str, "c1");
    assert_string_equal(p.payload->str, "x");
    freeReplyObject(r);
    r = A(S("smessage"), S("{t}"), S(""));
    assert_int_equal(clusterc__push_parse(r, &p), 1);
    assert_int_equal(p.kind, CLUSTERC_PUBSUB_SHARD);
    freeReplyObject(r);
}

static void test_confirmations(void **state)
{
    (void)state;
    clusterc__push p;
    assert_int_equal(parse(A(S("ssubscribe"), S("{t}"), I(1)), &p), 1);
    assert_int_equal(p.what, CLUSTERC__PUSH_SUBSCRIBE);
    assert_int_equal(p.kind, CLUSTERC_PUBSUB_SHARD);
    assert_int_equal(parse(A(S("punsubscribe"), S("h*"), I(0)), &p), 1);
    assert_int_equal(p.what, CLUSTERC__PUSH_UNSUBSCRIBE);
    assert_int_equal(p.kind, CLUSTERC_PUBSUB_PATTERN);
    /* UNSUBSCRIBE with nothing left names nil. */
    assert_int_equal(parse(A(S("unsubscribe"), NIL(), I(0)), &p), 1);
    assert_int_equal(parse(A(S("pong"), S("")), &p), 1);
    assert_int_equal(p.what, CLUSTERC__PUSH_PONG);
}

static void test_malformed(void **state)
{
    (void)state;
    clusterc__push p;
    assert_int_equal(clusterc__push_parse(NULL, &p), 0);
    assert_int_equal(parse(S("message"), &p), 0);                       /* not an array */
    assert_int_equal(parse(A(S("message"), S("ch")), &p), 0);           /* too short */
    assert_int_equal(parse(A(S("message"), S("ch"), I(3)), &p), 0);     /* payload no string */
    assert_int_equal(parse(A(S("subscribe"), NIL(), I(1)), &p), 0);     /* nil only in unsub */
    assert_int_equal(parse(A(S("subscribe"), S("c"), S("1")), &p), 0);  /* count no integer */
    assert_int_equal(parse(A(S("pmessage"), S("c*"), S("c")), &p), 0);  /* pmessage has 4 */
    assert_int_equal(parse(A(S("MESSAGE"), S("c"), S("x")), &p), 0);    /* words are lower */
    assert_int_equal(parse(A(I(1), S("c"), S("x")), &p), 0);
    assert_int_equal(parse(A(S("pong"), S(""), S("")), &p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_confirmations),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
