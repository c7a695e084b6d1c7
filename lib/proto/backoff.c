/* backoff.c -- retry backoff and the engine's RNG (pure). */
#include "backoff.h"

/* splitmix64 (Steele, Lea, Flood 2014): one add and a mixing function, good
 * enough for jitter and replica choice; not for anything secret. */
uint64_t clusterc__rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Multiply-shift (Lemire) instead of modulo: no division, and the bias is
 * at most n / 2^32, far below anything jitter or replica choice can show. */
uint32_t clusterc__rand_below(uint64_t *state, uint32_t n)
{
    uint64_t r = clusterc__rand(state) >> 32;
    return (uint32_t)((r * (uint64_t)n) >> 32);
}

uint32_t clusterc__backoff_ms(int attempt, uint32_t min_ms, uint32_t max_ms,
                              uint64_t *rng)
{
    /* Double step by step and stop at the cap, rather than computing
     * min_ms << attempt, which is undefined once attempt reaches the width. */
    uint64_t d = min_ms;
    for (int i = 0; i < attempt && d != 0 && d < max_ms; i++)
        d <<= 1;
    if (d > max_ms)
        d = max_ms;
    if (d == 0)
        return 0;
    uint32_t hi = (uint32_t)d;
    uint32_t lo = hi / 2;
    if (lo == 0)
        lo = 1; /* d == 1: [0, 1] would allow 0, and the header promises >= 1 */
    /* hi - lo + 1 cannot overflow: lo >= 1. */
    return lo + clusterc__rand_below(rng, hi - lo + 1);
}
