/* test_admin.c -- the admin API's pure decisions over canned CLUSTER NODES
 * text: config signatures, the primary a new replica follows, lookups, lag
 * classes, the report buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "proto/admin_pure.h"
#include "proto/info.h"

#define A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define C "cccccccccccccccccccccccccccccccccccccccc"
#define D "dddddddddddddddddddddddddddddddddddddddd"
#define E "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
#define N "ffffffffffffffffffffffffffffffffffffffff"

/* Three primaries (A with two replicas, B with one, C with none) and an
 * empty primary N listed first, as the lab's 7007 before the reshard. */
static const char view1[] =
    N " 127.0.0.1:7007@17007 master - 0 1700000000000 0 connected\n"
    A " 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460\n"
    B " 127.0.0.1:7002@17002 master - 0 1700000000000 2 connected 5461-10922\n"
    C " 127.0.0.1:7003@17003 master - 0 1700000000000 3 connected 10923-16383\n"
    D " 127.0.0.1:7004@17004 slave " A " 0 1700000000000 1 connected\n"
    E " 127.0.0.1:7005@17005 slave " A " 0 1700000000000 1 connected\n"
    "9999999999999999999999999999999999999999 127.0.0.1:7006@17006 slave " B
    " 0 1700000000000 2 connected\n";

/* The same assignment seen from B: other lines order, no replicas. */
static const char view2[] =
    C " 127.0.0.1:7003@17003 master - 0 1700000000000 3 connected 10923-16383\n"
    B " 127.0.0.1:7002@17002 myself,master - 0 0 2 connected 5461-10922\n"
    A " 127.0.0.1:7001@17001 master - 0 1700000000000 1 connected 0-5460\n";

/* C lost slot 16383 to B. */
static const char view3[] =
    A " 127.0.0.1:7001@17001 master - 0 0 1 connected 0-5460\n"
    B " 127.0.0.1:7002@17002 myself,master - 0 0 2 connected 5461-10922 16383\n"
    C " 127.0.0.1:7003@17003 master - 0 1700000000000 3 connected 10923-16382\n";

static clusterc_cluster_node *parse(const char *text, size_t *n)
{
    clusterc_cluster_node *v;
    char err[256];
    if (clusterc__cluster_nodes_parse(text, strlen(text), &v, n, err, sizeof(err)) < 0)
        fail_msg("parse: %s", err);
    return v;
}

static void test_signature(void **state)
{
    (void)state;
    size_t n1, n2, n3;
    clusterc_cluster_node *v1 = parse(view1, &n1), *v2 = parse(view2, &n2), *v3 = parse(view3, &n3);
    char *s1 = clusterc__admin_config_signature(v1, n1);
    char *s2 = clusterc__admin_config_signature(v2, n2);
    char *s3 = clusterc__admin_config_signature(v3, n3);
    assert_string_equal(s1, A ":0-5460|" B ":5461-10922|" C ":10923-16383");
    assert_string_equal(s1, s2);   /* order of lines and replicas do not matter */
    assert_string_not_equal(s1, s3);
    free(s1);
    free(s2);
    free(s3);
    clusterc_nodes_free(v1, n1);
    clusterc_nodes_free(v2, n2);
    clusterc_nodes_free(v3, n3);
}

static void test_fewest_replicas(void **state)
{
    (void)state;
    size_t n;
    clusterc_cluster_node *v = parse(view1, &n);
    assert_int_equal(clusterc__admin_replica_count(v, n, A), 2);
    assert_int_equal(clusterc__admin_replica_count(v, n, B), 1);
    assert_int_equal(clusterc__admin_replica_count(v, n, C), 0);
    /* N has none either, but serves no slots: C, which holds data, first. */
    assert_string_equal(clusterc__admin_fewest_replicas(v, n, NULL)->id, C);
    assert_string_equal(clusterc__admin_fewest_replicas(v, n, C)->id, B);
    clusterc_nodes_free(v, n);

    /* Only empty primaries: they are chosen (the first with the fewest). */
    v = parse(N " 127.0.0.1:7007@17007 master - 0 0 0 connected\n"
              A " 127.0.0.1:7001@17001 myself,master - 0 0 1 connected\n", &n);
    assert_string_equal(clusterc__admin_fewest_replicas(v, n, NULL)->id, N);
    assert_string_equal(clusterc__admin_fewest_replicas(v, n, N)->id, A);
    clusterc_nodes_free(v, n);

    /* A failed primary is never chosen; a failed replica protects nothing. */
    v = parse(A " 127.0.0.1:7001@17001 master,fail - 0 0 1 connected 0-8191\n"
              B " 127.0.0.1:7002@17002 myself,master - 0 0 2 connected 8192-16383\n"
              D " 127.0.0.1:7004@17004 slave,fail " B " 0 0 2 connected\n", &n);
    assert_string_equal(clusterc__admin_fewest_replicas(v, n, NULL)->id, B);
    assert_int_equal(clusterc__admin_replica_count(v, n, B), 0);
    assert_null(clusterc__admin_fewest_replicas(v, n, B));
    clusterc_nodes_free(v, n);
}

static void test_find(void **state)
{
    (void)state;
    size_t n;
    int slots[CLUSTERC_SLOTS];
    clusterc_cluster_node *v = parse(view3, &n);
    assert_string_equal(clusterc__admin_find(v, n, "127.0.0.1:7003")->id, C);
    assert_string_equal(clusterc__admin_find(v, n, B)->host, "127.0.0.1");
    assert_null(clusterc__admin_find(v, n, "127.0.0.1:7009"));
    assert_null(clusterc__admin_find(v, n, "127.0.0.1"));
    assert_string_equal(clusterc__admin_myself(v, n)->id, B);
    const clusterc_cluster_node *b = clusterc__admin_find(v, n, B);
    assert_int_equal(clusterc_node_slot_count(b), 5463);
    assert_int_equal(clusterc__admin_slot_list(b, slots), 5463);
    assert_int_equal(slots[0], 5461);
    assert_int_equal(slots[5462], 16383);
    clusterc_nodes_free(v, n);
}

/* A replica's line for its primary against the primary's own line. */
static void test_slots_differ(void **state)
{
    (void)state;
    size_t n;
    clusterc_cluster_node *v = parse(view3, &n);
    const clusterc_cluster_node *b = clusterc__admin_find(v, n, B);
    assert_int_equal(clusterc__admin_slots_differ(b, b), -1);
    assert_int_equal(clusterc__admin_slots_differ(b, NULL), 5461);
    assert_int_equal(clusterc__admin_slots_differ(NULL, NULL), -1);
    clusterc_cluster_node c = *b;          /* B serves 5461-10922 and 16383 */
    clusterc_slot_range r[3] = { { 5461, 10921 }, { 16383, 16383 }, { 1, 0 } };
    c.slots = r;
    c.nslots = 3;                          /* an empty range counts for nothing */
    assert_int_equal(clusterc__admin_slots_differ(b, &c), 10922);   /* not yet heard of */
    r[0].end = 10000;
    r[2] = (clusterc_slot_range){ 9000, 10922 };                     /* overlapping ranges */
    assert_int_equal(clusterc__admin_slots_differ(&c, b), -1);
    r[1].start = 16382;                                              /* moved away, still listed */
    assert_int_equal(clusterc__admin_slots_differ(b, &c), 16382);
    clusterc_nodes_free(v, n);
}

static void test_lag_classes(void **state)
{
    (void)state;
    assert_int_equal(clusterc_lag_classify(0), CLUSTERC_LAG_PERFECT);
    assert_int_equal(clusterc_lag_classify(1), CLUSTERC_LAG_GOOD);
    assert_int_equal(clusterc_lag_classify(5), CLUSTERC_LAG_GOOD);
    assert_int_equal(clusterc_lag_classify(6), CLUSTERC_LAG_WARNING);
    assert_int_equal(clusterc_lag_classify(30), CLUSTERC_LAG_WARNING);
    assert_int_equal(clusterc_lag_classify(31), CLUSTERC_LAG_CRITICAL);
    assert_int_equal(clusterc_lag_classify(-1), CLUSTERC_LAG_CRITICAL);  /* unknown */
    assert_string_equal(clusterc_lag_class_str(CLUSTERC_LAG_WARNING), "warning");
    assert_string_equal(clusterc_lag_class_str(CLUSTERC_LAG_PERFECT), "perfect");
}

static void test_sbuf(void **state)
{
    (void)state;
    clusterc__sbuf b = { 0 };
    char *s = clusterc__sbuf_take(&b);
    assert_string_equal(s, "");
    free(s);
    for (int i = 0; i < 1000; i++)
        clusterc__sbuf_printf(&b, "%d,", i);
    s = clusterc__sbuf_take(&b);
    assert_int_equal(strncmp(s, "0,1,2,", 6), 0);
    assert_int_equal(strcmp(s + strlen(s) - 4, "999,"), 0);
    free(s);
    assert_null(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_fewest_replicas),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_slots_differ),
        cmocka_unit_test(test_lag_classes),
        cmocka_unit_test(test_sbuf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
