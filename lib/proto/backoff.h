/* backoff.h -- retry backoff and the engine's RNG (pure). */
#ifndef CLUSTERC_BACKOFF_H
#define CLUSTERC_BACKOFF_H
#include <stdint.h>

/* splitmix64: small, fast, seedable; state is any 64-bit value. */
uint64_t clusterc__rand(uint64_t *state);

/* A uniform integer in [0, n) (n > 0). */
uint32_t clusterc__rand_below(uint64_t *state, uint32_t n);

/*
 * Backoff before retry number `attempt` (0 = first retry): "equal jitter"
 * exponential, i.e. d = min(max_ms, min_ms << attempt), result uniform in
 * [d/2, d]. Always >= 1 when min_ms >= 1, never > max_ms. Large attempt
 * values do not overflow.
 */
uint32_t clusterc__backoff_ms(int attempt, uint32_t min_ms, uint32_t max_ms,
                              uint64_t *rng);
#endif
