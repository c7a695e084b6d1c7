/* bench_keys.h -- the benchmarks' key sequence: clusterc-benchmark,
 * libvalkey's peer (peer_libvalkey.c) and clusterc-floor-bench draw their
 * keys from this one generator and seed, so side by side they ask for the
 * same keys in the same order. */
#ifndef CLUSTERC_BENCH_KEYS_H
#define CLUSTERC_BENCH_KEYS_H

#include <stdint.h>

#define BENCH_RNG_SEED 0x9e3779b97f4a7c15ULL

/* xorshift64*: cheap and good enough to spread keys over slots. */
static inline uint64_t bench_rng_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

#endif
