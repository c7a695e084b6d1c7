/* test_backoff.c -- RNG determinism and backoff bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "proto/backoff.h"

static void test_rand_deterministic(void **state)
{
    (void)state;
    uint64_t a = 42, b = 42, c = 43;
    for (int i = 0; i < 100; i++)
        assert_true(clusterc__rand(&a) == clusterc__rand(&b));
    assert_true(clusterc__rand(&a) != clusterc__rand(&c));
    /* Seed 0 is a valid state (splitmix64 has no bad seeds). */
    uint64_t z = 0;
    assert_true(clusterc__rand(&z) != 0);
}

static void test_rand_below(void **state)
{
    (void)state;
    uint64_t s = 7;
    int seen[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint32_t v = clusterc__rand_below(&s, 10);
        assert_true(v < 10);
        seen[v]++;
    }
    /* Roughly uniform: each bucket within 10% of 10000. */
    for (int i = 0; i < 10; i++)
        assert_in_range(seen[i], 9000, 11000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(clusterc__rand_below(&s, 1), 0);
    for (int i = 0; i < 1000; i++)
        assert_true(clusterc__rand_below(&s, UINT32_MAX) < UINT32_MAX);
}

static void test_bounds(void **state)
{
    (void)state;
    static const uint32_t mins[] = {1, 8, 100, 3};
    static const uint32_t maxs[] = {1, 512, 10000, 7};
    for (uint64_t seed = 0; seed < 50; seed++) {
        for (size_t k = 0; k < 4; k++) {
            uint64_t rng = seed;
            for (int attempt = 0; attempt < 64; attempt++) {
                uint64_t d = (uint64_t)mins[k] << (attempt < 40 ? attempt : 40);
                if (d > maxs[k])
                    d = maxs[k];
                uint32_t v = clusterc__backoff_ms(attempt, mins[k], maxs[k], &rng);
                assert_true(v >= 1);
                assert_true(v <= maxs[k]);
                assert_true(v <= d);
                assert_true(v >= d / 2);
            }
        }
    }
}

/* The range grows with attempt and stops at the cap: for every attempt the
 * largest of many draws lies close below d = min(max, min << attempt), and d
 * never shrinks. (Comparing raw maxima between attempts would be flaky once
 * capped: two draws of [256, 512] need not be ordered.) */
static void test_monotonic_cap(void **state)
{
    (void)state;
    uint64_t rng = 1;
    uint32_t prev_d = 0;
    for (int attempt = 0; attempt < 1000; attempt += (attempt < 40 ? 1 : 97)) {
        uint32_t d = attempt < 7 ? 8u << attempt : 512u;
        uint32_t hi = 0;
        for (int i = 0; i < 200; i++) {
            uint32_t v = clusterc__backoff_ms(attempt, 8, 512, &rng);
            if (v > hi)
                hi = v;
        }
        assert_true(d >= prev_d);
        assert_true(hi <= d);
        assert_true(hi >= d - d / 10);
        prev_d = d;
    }
    assert_int_equal(prev_d, 512);
}

static void test_no_overflow(void **state)
{
    (void)state;
    uint64_t rng = 99;
    for (int i = 0; i < 100; i++) {
        uint32_t v = clusterc__backoff_ms(1000, 8, 512, &rng);
        assert_in_range(v, 256, 512);
        v = clusterc__backoff_ms(1000, UINT32_MAX, UINT32_MAX, &rng);
        assert_true(v >= UINT32_MAX / 2);
        v = clusterc__backoff_ms(2147483647, 1, UINT32_MAX, &rng);
        assert_true(v >= UINT32_MAX / 2);
    }
    assert_int_equal(clusterc__backoff_ms(5, 0, 512, &rng), 0);
    assert_int_equal(clusterc__backoff_ms(5, 8, 0, &rng), 0);
    assert_int_equal(clusterc__backoff_ms(-3, 1, 1, &rng), 1);
    /* min above max: the cap wins. */
    assert_true(clusterc__backoff_ms(0, 100, 10, &rng) <= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rand_deterministic),
        cmocka_unit_test(test_rand_below),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_monotonic_cap),
        cmocka_unit_test(test_no_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
