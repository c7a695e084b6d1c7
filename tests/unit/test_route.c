/* test_route.c -- read routing decisions over fake shard snapshots.
 *
 * Each test builds a shard (index 0 = primary) of healthy nodes, spoils
 * some, and checks the index clusterc__route_pick returns, or how picks
 * spread over many calls with a seeded RNG and one shard cursor.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "proto/route.h"

#define NOW 1000000000LL /* any "now"; deadlines are set around it */
#define MAXN 8

/* A shard of n healthy nodes whose replicas have reported zero lag. */
static void healthy(clusterc__route_node *v, size_t n)
{
    memset(v, 0, n * sizeof(*v));
    for (size_t i = 1; i < n; i++) {
        v[i].lag_known = 1;
        v[i].link_up = 1;
    }
}

static clusterc__route_cfg cfg_of(clusterc__policy policy)
{
    clusterc__route_cfg c;
    memset(&c, 0, sizeof(c));
    c.policy = policy;
    return c;
}

static int pick(const clusterc__route_cfg *c, clusterc__route_mode mode,
                const clusterc__route_node *v, size_t n, unsigned *cursor, uint64_t *rng)
{
    int r = clusterc__route_pick(c, mode, v, n, cursor, rng, NOW);
    assert_true(r >= -1 && r < (int)n);
    return r;
}

/* count[i] = how often node i was picked in `times` picks. */
static void tally(const clusterc__route_cfg *c, clusterc__route_mode mode,
                  const clusterc__route_node *v, size_t n, int times, int *count)
{
    unsigned cursor = 0;
    uint64_t rng = 12345;
    memset(count, 0, n * sizeof(*count));
    for (int k = 0; k < times; k++) {
        int r = pick(c, mode, v, n, &cursor, &rng);
        assert_true(r >= 0);
        count[r]++;
    }
}

/* ---------------------------------------------------------- eligibility */

static clusterc__inelig why(const clusterc__route_cfg *c, const clusterc__route_node *v,
                            size_t i)
{
    return clusterc__route_why(c, v, i, NOW);
}

static void test_why_failing(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_READ_ONLY);
    clusterc__route_node v[2];
    healthy(v, 2);
    v[1].failing_until_us = NOW + 1;
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_FAILING);
    v[1].failing_until_us = NOW; /* the deadline itself is past */
    assert_int_equal(why(&c, v, 1), CLUSTERC__ELIGIBLE);
    v[0].failing_until_us = NOW + 1; /* applies to the primary too */
    assert_int_equal(why(&c, v, 0), CLUSTERC__INELIG_FAILING);
    /* First reason wins: failing before loading and failed. */
    v[0].health_loading = 1;
    v[0].health_failed = 1;
    assert_int_equal(why(&c, v, 0), CLUSTERC__INELIG_FAILING);
}

static void test_why_loading(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_READ_ONLY);
    clusterc__route_node v[2];
    healthy(v, 2);
    v[1].health_loading = 1;
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_LOADING);
    v[1].health_loading = 0;
    v[1].loading_until_us = NOW + 5; /* a -LOADING reply */
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_LOADING);
    v[1].health_failed = 1; /* loading is checked before failed */
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_LOADING);
    v[1].loading_until_us = NOW - 1;
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_FAILED);
    v[0].health_loading = 1;
    assert_int_equal(why(&c, v, 0), CLUSTERC__INELIG_LOADING);
}

static void test_why_failed(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_READ_ONLY);
    clusterc__route_node v[2];
    healthy(v, 2);
    v[1].health_failed = 1;
    v[1].link_up = 0; /* failed is reported before the link */
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_FAILED);
    v[0].health_failed = 1;
    assert_int_equal(why(&c, v, 0), CLUSTERC__INELIG_FAILED);
}

static void test_why_link_down(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_READ_ONLY);
    clusterc__route_node v[2];
    healthy(v, 2);
    v[1].link_up = 0;
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_LINK_DOWN);
    c.max_lag_ms = 1000; /* link before lag */
    v[1].lag_s = 99;
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_LINK_DOWN);
    /* Not polled yet: the link is not known to be down. */
    v[1].lag_known = 0;
    c.max_lag_ms = 0;
    assert_int_equal(why(&c, v, 1), CLUSTERC__ELIGIBLE);
    /* The primary has no link to its primary. */
    v[0].lag_known = 1;
    v[0].link_up = 0;
    assert_int_equal(why(&c, v, 0), CLUSTERC__ELIGIBLE);
}

static void test_why_lag_time(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_READ_ONLY);
    clusterc__route_node v[2];
    healthy(v, 2);
    c.max_lag_ms = 2000;
    v[1].lag_s = 2; /* 2000 ms: at the bound, allowed */
    assert_int_equal(why(&c, v, 1), CLUSTERC__ELIGIBLE);
    v[1].lag_s = 3;
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_LAG_TIME);
    c.max_lag_ms = 2500; /* 3000 > 2500 */
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_LAG_TIME);
    c.max_lag_ms = 3000;
    assert_int_equal(why(&c, v, 1), CLUSTERC__ELIGIBLE);
    v[1].lag_s = INT64_MAX; /* no overflow */
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_LAG_TIME);
    /* Unknown lag with a bound set: no promise can be kept yet. */
    v[1].lag_known = 0;
    v[1].lag_s = 0;
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_LAG_TIME);
    /* No bound: lag does not matter. */
    c.max_lag_ms = 0;
    v[1].lag_known = 1;
    v[1].lag_s = 1000000;
    assert_int_equal(why(&c, v, 1), CLUSTERC__ELIGIBLE);
    /* Bounds never apply to the primary. */
    c.max_lag_ms = 1;
    v[0].lag_s = 50;
    assert_int_equal(why(&c, v, 0), CLUSTERC__ELIGIBLE);
}

static void test_why_lag_bytes(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_READ_ONLY);
    clusterc__route_node v[2];
    healthy(v, 2);
    c.max_lag_bytes = 1024;
    v[1].lag_bytes = 1024;
    assert_int_equal(why(&c, v, 1), CLUSTERC__ELIGIBLE);
    v[1].lag_bytes = 1025;
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_LAG_BYTES);
    c.max_lag_ms = 1000; /* time is checked before bytes */
    v[1].lag_s = 5;
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_LAG_TIME);
    c.max_lag_ms = 0;
    v[1].lag_known = 0; /* unknown: ineligible under a byte bound */
    v[1].lag_bytes = 0;
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_LAG_BYTES);
    v[0].lag_bytes = 1 << 30;
    assert_int_equal(why(&c, v, 0), CLUSTERC__ELIGIBLE);
}

static void test_why_ryw(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_READ_ONLY);
    clusterc__route_node v[2];
    healthy(v, 2);
    v[1].ryw_stale = 1;
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_RYW);
    c.max_lag_bytes = 10; /* lag is checked before read-your-writes */
    v[1].lag_bytes = 11;
    assert_int_equal(why(&c, v, 1), CLUSTERC__INELIG_LAG_BYTES);
    v[0].ryw_stale = 1; /* the primary has every write */
    assert_int_equal(why(&c, v, 0), CLUSTERC__ELIGIBLE);
}

static void test_inelig_str(void **state)
{
    (void)state;
    assert_string_equal(clusterc__inelig_str(CLUSTERC__ELIGIBLE), "ok");
    assert_string_equal(clusterc__inelig_str(CLUSTERC__INELIG_FAILING), "failing");
    assert_string_equal(clusterc__inelig_str(CLUSTERC__INELIG_LOADING), "loading");
    assert_string_equal(clusterc__inelig_str(CLUSTERC__INELIG_FAILED), "failed");
    for (int i = 0; i < CLUSTERC__INELIG_COUNT; i++) {
        const char *s = clusterc__inelig_str((clusterc__inelig)i);
        assert_non_null(s);
        assert_true(s[0] != '\0');
        assert_string_not_equal(s, "unknown");
        for (int j = 0; j < i; j++) /* distinct */
            assert_string_not_equal(s, clusterc__inelig_str((clusterc__inelig)j));
    }
    assert_string_equal(clusterc__inelig_str(CLUSTERC__INELIG_COUNT), "unknown");
    assert_string_equal(clusterc__inelig_str((clusterc__inelig)-1), "unknown");
}

/* ---------------------------------------------------- primary / read-only */

static void test_primary_policy_and_mode(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_PRIMARY);
    clusterc__route_node v[3];
    unsigned cursor = 0;
    uint64_t rng = 1;
    healthy(v, 3);
    for (int k = 0; k < 10; k++)
        assert_int_equal(pick(&c, CLUSTERC__MODE_DEFAULT, v, 3, &cursor, &rng), 0);
    /* MODE_PRIMARY wins over every policy, even with the primary failing. */
    v[0].failing_until_us = NOW + 1;
    for (int p = CLUSTERC__POLICY_PRIMARY; p <= CLUSTERC__POLICY_LATENCY; p++) {
        c = cfg_of((clusterc__policy)p);
        for (int k = 0; k < 10; k++)
            assert_int_equal(pick(&c, CLUSTERC__MODE_PRIMARY, v, 3, &cursor, &rng), 0);
    }
    /* The primary policy does not even look at the nodes' state. */
    c = cfg_of(CLUSTERC__POLICY_PRIMARY);
    assert_int_equal(pick(&c, CLUSTERC__MODE_DEFAULT, v, 3, &cursor, &rng), 0);
}

static void test_read_only_even(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_READ_ONLY);
    clusterc__route_node v[4];
    int count[4];
    healthy(v, 4);
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 4, 3000, count);
    assert_int_equal(count[0], 0);
    assert_int_equal(count[1], 1000);
    assert_int_equal(count[2], 1000);
    assert_int_equal(count[3], 1000);
    /* Strict rotation, in order. */
    unsigned cursor = 0;
    uint64_t rng = 0;
    for (int k = 0; k < 9; k++)
        assert_int_equal(pick(&c, CLUSTERC__MODE_DEFAULT, v, 4, &cursor, &rng), 1 + k % 3);
}

static void test_read_only_skips(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_READ_ONLY);
    clusterc__route_node v[4];
    int count[4];
    healthy(v, 4);
    v[2].health_loading = 1;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 4, 3000, count);
    assert_int_equal(count[0], 0);
    assert_int_equal(count[1], 1500);
    assert_int_equal(count[2], 0);
    assert_int_equal(count[3], 1500);
    /* The cursor ends just past the replica chosen. */
    unsigned cursor = 0;
    uint64_t rng = 0;
    assert_int_equal(pick(&c, CLUSTERC__MODE_DEFAULT, v, 4, &cursor, &rng), 1);
    assert_int_equal(cursor, 1);
    assert_int_equal(pick(&c, CLUSTERC__MODE_DEFAULT, v, 4, &cursor, &rng), 3);
    assert_int_equal(cursor, 3);
    /* Any cursor value works, however large. */
    cursor = UINT32_MAX;
    int r = pick(&c, CLUSTERC__MODE_DEFAULT, v, 4, &cursor, &rng);
    assert_true(r == 1 || r == 3);
}

static void test_cursor_per_shard(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_READ_ONLY);
    clusterc__route_node a[3], b[4];
    unsigned ca = 0, cb = 0;
    uint64_t rng = 0;
    int na[3] = {0}, nb[4] = {0};
    healthy(a, 3);
    healthy(b, 4);
    /* Interleaved picks on two shards: each rotates on its own. */
    for (int k = 0; k < 600; k++) {
        na[pick(&c, CLUSTERC__MODE_DEFAULT, a, 3, &ca, &rng)]++;
        if (k % 2 == 0)
            nb[pick(&c, CLUSTERC__MODE_DEFAULT, b, 4, &cb, &rng)]++;
    }
    assert_int_equal(na[1], 300);
    assert_int_equal(na[2], 300);
    assert_int_equal(nb[1], 100);
    assert_int_equal(nb[2], 100);
    assert_int_equal(nb[3], 100);
}

static void test_fallback_to_primary(void **state)
{
    (void)state;
    clusterc__route_node v[3];
    unsigned cursor = 0;
    uint64_t rng = 9;
    healthy(v, 3);
    v[1].failing_until_us = NOW + 1;
    v[2].link_up = 0;
    for (int p = CLUSTERC__POLICY_READ_ONLY; p <= CLUSTERC__POLICY_LATENCY; p++) {
        clusterc__route_cfg c = cfg_of((clusterc__policy)p);
        c.latency_replicas_only = 1;
        for (int k = 0; k < 20; k++) {
            assert_int_equal(pick(&c, CLUSTERC__MODE_DEFAULT, v, 3, &cursor, &rng), 0);
            assert_int_equal(pick(&c, CLUSTERC__MODE_ANY, v, 3, &cursor, &rng), 0);
        }
    }
    /* Last resort: the primary even when it is ineligible itself. */
    v[0].health_failed = 1;
    for (int p = CLUSTERC__POLICY_PRIMARY; p <= CLUSTERC__POLICY_LATENCY; p++) {
        clusterc__route_cfg c = cfg_of((clusterc__policy)p);
        assert_int_equal(pick(&c, CLUSTERC__MODE_DEFAULT, v, 3, &cursor, &rng), 0);
        assert_int_equal(pick(&c, CLUSTERC__MODE_ANY, v, 3, &cursor, &rng), 0);
    }
    /* A shard of just a primary. */
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_READ_ONLY);
    assert_int_equal(pick(&c, CLUSTERC__MODE_DEFAULT, v, 1, &cursor, &rng), 0);
}

/* ----------------------------------------------------------------- random */

static void test_random_distribution(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_RANDOM);
    clusterc__route_node v[3];
    int count[3];
    healthy(v, 3);
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 30000, count);
    for (int i = 0; i < 3; i++) /* the primary is a candidate too */
        assert_in_range(count[i], 9400, 10600);
    /* An ineligible node is never chosen; the others share evenly. */
    v[1].health_failed = 1;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 30000, count);
    assert_int_equal(count[1], 0);
    assert_in_range(count[0], 14300, 15700);
    assert_in_range(count[2], 14300, 15700);
    /* The same seed gives the same choices. */
    unsigned cursor = 0;
    uint64_t r1 = 77, r2 = 77;
    healthy(v, 3);
    for (int k = 0; k < 100; k++)
        assert_int_equal(pick(&c, CLUSTERC__MODE_DEFAULT, v, 3, &cursor, &r1),
                         pick(&c, CLUSTERC__MODE_DEFAULT, v, 3, &cursor, &r2));
}

static void test_random_primary_only(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_RANDOM);
    clusterc__route_node v[3];
    int count[3];
    healthy(v, 3);
    v[1].health_loading = 1;
    v[2].ryw_stale = 1;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 1000, count);
    assert_int_equal(count[0], 1000);
}

/* ---------------------------------------------------------------- latency */

static void set_lat(clusterc__route_node *v, size_t n, const uint32_t *us)
{
    for (size_t i = 0; i < n; i++) {
        v[i].has_latency = 1;
        v[i].latency_us = us[i];
    }
}

static void test_latency_strict(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_LATENCY);
    clusterc__route_node v[3];
    int count[3];
    healthy(v, 3);
    set_lat(v, 3, (const uint32_t[]){500, 300, 900});
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 100, count);
    assert_int_equal(count[1], 100);
    /* The primary is a candidate and wins when closest. */
    v[0].latency_us = 100;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 100, count);
    assert_int_equal(count[0], 100);
    /* An ineligible closest node is passed over for the next closest. */
    v[0].failing_until_us = NOW + 1;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 100, count);
    assert_int_equal(count[1], 100);
}

static void test_latency_band(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_LATENCY);
    clusterc__route_node v[3];
    int count[3];
    healthy(v, 3);
    c.latency_replicas_only = 1;
    set_lat(v, 3, (const uint32_t[]){50, 300, 900});
    c.tolerance_us = 1000; /* 900 <= 300 + 1000: both replicas share */
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 3000, count);
    assert_int_equal(count[0], 0);
    assert_int_equal(count[1], 1500);
    assert_int_equal(count[2], 1500);
    c.tolerance_us = 0; /* strict minimum */
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 3000, count);
    assert_int_equal(count[1], 3000);
    assert_int_equal(count[2], 0);
    c.tolerance_us = 600; /* edge: 900 == 300 + 600 is inside */
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 3000, count);
    assert_int_equal(count[1], 1500);
    assert_int_equal(count[2], 1500);
    c.tolerance_us = 599;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 3000, count);
    assert_int_equal(count[2], 0);
    /* Primary included: all three within the band share evenly. */
    c.latency_replicas_only = 0;
    c.tolerance_us = 1000;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 3000, count);
    assert_int_equal(count[0], 1000);
    assert_int_equal(count[1], 1000);
    assert_int_equal(count[2], 1000);
    /* Huge latency and tolerance: no overflow wrap. */
    set_lat(v, 3, (const uint32_t[]){UINT32_MAX, UINT32_MAX - 1, 7});
    c.tolerance_us = UINT32_MAX;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 3000, count);
    assert_int_equal(count[0], 1000);
}

static void test_latency_unsampled(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_LATENCY);
    clusterc__route_node v[4];
    int count[4];
    healthy(v, 4);
    /* No samples at all: round-robin over the eligible candidates. */
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 4, 4000, count);
    for (int i = 0; i < 4; i++)
        assert_int_equal(count[i], 1000);
    c.latency_replicas_only = 1;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 4, 3000, count);
    assert_int_equal(count[0], 0);
    assert_int_equal(count[1], 1000);
    /* One sampled node beats unsampled ones, however slow it is. */
    v[3].has_latency = 1;
    v[3].latency_us = 900000;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 4, 300, count);
    assert_int_equal(count[3], 300);
    /* ... unless it is ineligible: then the unsampled share again. */
    v[3].health_failed = 1;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 4, 300, count);
    assert_int_equal(count[1], 150);
    assert_int_equal(count[2], 150);
}

static void test_latency_replicas_only(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_LATENCY);
    clusterc__route_node v[3];
    int count[3];
    healthy(v, 3);
    c.latency_replicas_only = 1;
    set_lat(v, 3, (const uint32_t[]){10, 800, 400});
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 100, count);
    assert_int_equal(count[2], 100); /* the closer replica, not the primary */
    v[2].lag_known = 1;
    v[2].link_up = 0;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 100, count);
    assert_int_equal(count[1], 100);
    v[1].ryw_stale = 1; /* no replica left: the primary */
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 100, count);
    assert_int_equal(count[0], 100);
    /* MODE_ANY treats the primary as a peer even so. */
    healthy(v, 3);
    set_lat(v, 3, (const uint32_t[]){10, 800, 400});
    tally(&c, CLUSTERC__MODE_ANY, v, 3, 100, count);
    assert_int_equal(count[0], 100);
}

/* ------------------------------------------------------- zone affinity */

/* Shard: primary 0 in zone c; replicas 1, 3 in zone a (the client's), 2, 4
 * in zone b: the order is a's replicas, [a's primary], any replica, primary. */
static void test_az_order(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_PRIMARY);
    clusterc__route_node v[5];
    int count[5];
    healthy(v, 5);
    c.az = 1;
    v[1].in_zone = v[3].in_zone = 1;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 5, 1000, count);
    assert_int_equal(count[1], 500);
    assert_int_equal(count[3], 500);
    v[1].failing_until_us = NOW + 1;   /* one zone-a replica left */
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 5, 100, count);
    assert_int_equal(count[3], 100);
    v[3].health_failed = 1;            /* none in a: zone b's, round-robin */
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 5, 100, count);
    assert_int_equal(count[2], 50);
    assert_int_equal(count[4], 50);
    v[2].ryw_stale = v[4].lag_known = 1;
    v[4].link_up = 0;                  /* no eligible replica: the primary */
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 5, 100, count);
    assert_int_equal(count[0], 100);
}

static void test_az_primary_in_zone(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_READ_ONLY);
    clusterc__route_node v[3];
    int count[3];
    healthy(v, 3);
    v[0].in_zone = v[1].in_zone = 1;   /* primary and replica 1 in a, 2 in b */
    c.az = 2;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 100, count);
    assert_int_equal(count[1], 100);   /* the zone's replicas come first */
    v[1].health_loading = 1;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 100, count);
    assert_int_equal(count[0], 100);   /* az 2: then the zone's primary */
    c.az = 1;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 3, 100, count);
    assert_int_equal(count[2], 100);   /* az 1: any replica before it */
    /* MODE_REPLICA never falls to the primary; MODE_PRIMARY ignores zones. */
    v[2].health_failed = 1;
    unsigned cursor = 0;
    uint64_t rng = 1;
    assert_int_equal(pick(&c, CLUSTERC__MODE_REPLICA, v, 3, &cursor, &rng), -1);
    v[1].health_loading = 0;
    assert_int_equal(pick(&c, CLUSTERC__MODE_PRIMARY, v, 3, &cursor, &rng), 0);
    assert_int_equal(pick(&c, CLUSTERC__MODE_REPLICA, v, 3, &cursor, &rng), 1);
}

/* With route_by_latency the band is the zone's: a closer replica in another
 * zone does not draw reads while one in the zone is eligible. */
static void test_az_latency_within_zone(void **state)
{
    (void)state;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_LATENCY);
    clusterc__route_node v[4];
    int count[4];
    healthy(v, 4);
    c.az = 1;
    c.tolerance_us = 100;
    set_lat(v, 4, (const uint32_t[]){50, 900, 100, 1000});
    v[1].in_zone = v[3].in_zone = 1;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 4, 100, count);
    assert_int_equal(count[1], 50);    /* 900 and 1000: within 100 of each other */
    assert_int_equal(count[3], 50);
    c.tolerance_us = 0;
    tally(&c, CLUSTERC__MODE_DEFAULT, v, 4, 100, count);
    assert_int_equal(count[1], 100);   /* strict minimum inside the zone */
}

/* ------------------------------------------------------- per-command modes */

static void test_mode_replica(void **state)
{
    (void)state;
    clusterc__route_node v[4];
    int count[4];
    healthy(v, 4);
    /* Round-robin over replicas for the primary, read-only, random policies. */
    for (int p = CLUSTERC__POLICY_PRIMARY; p <= CLUSTERC__POLICY_RANDOM; p++) {
        clusterc__route_cfg c = cfg_of((clusterc__policy)p);
        tally(&c, CLUSTERC__MODE_REPLICA, v, 4, 3000, count);
        assert_int_equal(count[0], 0);
        assert_int_equal(count[1], 1000);
        assert_int_equal(count[2], 1000);
        assert_int_equal(count[3], 1000);
    }
    /* Latency rule over replicas only, even with a closer primary. */
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_LATENCY);
    set_lat(v, 4, (const uint32_t[]){1, 500, 200, 700});
    tally(&c, CLUSTERC__MODE_REPLICA, v, 4, 100, count);
    assert_int_equal(count[2], 100);
    c.tolerance_us = 400;
    tally(&c, CLUSTERC__MODE_REPLICA, v, 4, 100, count);
    assert_int_equal(count[1], 50);
    assert_int_equal(count[2], 50);
}

static void test_mode_replica_none(void **state)
{
    (void)state;
    clusterc__route_node v[3];
    unsigned cursor = 0;
    uint64_t rng = 3;
    healthy(v, 3);
    v[1].health_failed = 1;
    v[2].loading_until_us = NOW + 1000;
    for (int p = CLUSTERC__POLICY_PRIMARY; p <= CLUSTERC__POLICY_LATENCY; p++) {
        clusterc__route_cfg c = cfg_of((clusterc__policy)p);
        assert_int_equal(pick(&c, CLUSTERC__MODE_REPLICA, v, 3, &cursor, &rng), -1);
        /* A shard with no replica at all. */
        assert_int_equal(pick(&c, CLUSTERC__MODE_REPLICA, v, 1, &cursor, &rng), -1);
    }
    /* The primary being fine does not matter; a healthy replica does. */
    v[2].loading_until_us = 0;
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_READ_ONLY);
    assert_int_equal(pick(&c, CLUSTERC__MODE_REPLICA, v, 3, &cursor, &rng), 2);
}

static void test_mode_any(void **state)
{
    (void)state;
    clusterc__route_node v[3];
    int count[3];
    healthy(v, 3);
    /* Primary and read-only policies: round-robin over all nodes. */
    for (int p = CLUSTERC__POLICY_PRIMARY; p <= CLUSTERC__POLICY_READ_ONLY; p++) {
        clusterc__route_cfg c = cfg_of((clusterc__policy)p);
        tally(&c, CLUSTERC__MODE_ANY, v, 3, 3000, count);
        for (int i = 0; i < 3; i++)
            assert_int_equal(count[i], 1000);
    }
    clusterc__route_cfg c = cfg_of(CLUSTERC__POLICY_READ_ONLY);
    v[1].failing_until_us = NOW + 1;
    tally(&c, CLUSTERC__MODE_ANY, v, 3, 3000, count);
    assert_int_equal(count[0], 1500);
    assert_int_equal(count[1], 0);
    assert_int_equal(count[2], 1500);
    /* Random: uniform, primary included. */
    healthy(v, 3);
    c = cfg_of(CLUSTERC__POLICY_RANDOM);
    tally(&c, CLUSTERC__MODE_ANY, v, 3, 30000, count);
    for (int i = 0; i < 3; i++)
        assert_in_range(count[i], 9400, 10600);
    /* Latency: the closest node, primary included. */
    c = cfg_of(CLUSTERC__POLICY_LATENCY);
    set_lat(v, 3, (const uint32_t[]){200, 300, 100});
    tally(&c, CLUSTERC__MODE_ANY, v, 3, 100, count);
    assert_int_equal(count[2], 100);
}

/* Only the primary is eligible (so MODE_ANY must have picked it eligibly). */
static int primary_only(const clusterc__route_cfg *c, const clusterc__route_node *v, size_t n)
{
    if (clusterc__route_why(c, v, 0, NOW) != CLUSTERC__ELIGIBLE)
        return 0;
    for (size_t i = 1; i < n; i++)
        if (clusterc__route_why(c, v, i, NOW) == CLUSTERC__ELIGIBLE)
            return 0;
    return 1;
}

static void test_never_out_of_range(void **state)
{
    (void)state;
    /* Many random shard states: every pick is a valid index; a replica
     * picked is eligible; -1 only from MODE_REPLICA. */
    uint64_t seed = 2024;
    clusterc__route_node v[MAXN];
    for (int round = 0; round < 2000; round++) {
        size_t n = 1 + (size_t)(round % MAXN);
        memset(v, 0, sizeof(v));
        for (size_t i = 0; i < n; i++) {
            unsigned bits = (unsigned)(seed = seed * 6364136223846793005ull + 1) >> 7;
            v[i].failing_until_us = (bits & 1) ? NOW + 1 : 0;
            v[i].lag_known = (bits >> 1) & 1;
            v[i].link_up = (bits >> 2) & 1;
            v[i].has_latency = (bits >> 3) & 1;
            v[i].latency_us = (bits >> 4) & 1023;
        }
        for (int p = CLUSTERC__POLICY_PRIMARY; p <= CLUSTERC__POLICY_LATENCY; p++) {
            for (int m = CLUSTERC__MODE_DEFAULT; m <= CLUSTERC__MODE_ANY; m++) {
                clusterc__route_cfg c = cfg_of((clusterc__policy)p);
                c.latency_replicas_only = round & 1;
                c.tolerance_us = (uint32_t)(round % 3) * 100;
                unsigned cursor = (unsigned)round * 2654435761u;
                uint64_t rng = (uint64_t)round;
                int r = pick(&c, (clusterc__route_mode)m, v, n, &cursor, &rng);
                if (m != CLUSTERC__MODE_REPLICA)
                    assert_true(r >= 0);
                if (r > 0 || (r == 0 && m == CLUSTERC__MODE_ANY && primary_only(&c, v, n)))
                    assert_int_equal(clusterc__route_why(&c, v, (size_t)r, NOW),
                                     CLUSTERC__ELIGIBLE);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_why_failing),
        cmocka_unit_test(test_why_loading),
        cmocka_unit_test(test_why_failed),
        cmocka_unit_test(test_why_link_down),
        cmocka_unit_test(test_why_lag_time),
        cmocka_unit_test(test_why_lag_bytes),
        cmocka_unit_test(test_why_ryw),
        cmocka_unit_test(test_inelig_str),
        cmocka_unit_test(test_primary_policy_and_mode),
        cmocka_unit_test(test_read_only_even),
        cmocka_unit_test(test_read_only_skips),
        cmocka_unit_test(test_cursor_per_shard),
        cmocka_unit_test(test_fallback_to_primary),
        cmocka_unit_test(test_random_distribution),
        cmocka_unit_test(test_random_primary_only),
        cmocka_unit_test(test_latency_strict),
        cmocka_unit_test(test_latency_band),
        cmocka_unit_test(test_latency_unsampled),
        cmocka_unit_test(test_latency_replicas_only),
        cmocka_unit_test(test_az_order),
        cmocka_unit_test(test_az_primary_in_zone),
        cmocka_unit_test(test_az_latency_within_zone),
        cmocka_unit_test(test_mode_replica),
        cmocka_unit_test(test_mode_replica_none),
        cmocka_unit_test(test_mode_any),
        cmocka_unit_test(test_never_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
