/* route.c -- which node of a shard serves a read (pure).
 *
 * Every pick is one or two passes over the shard's handful of nodes: no
 * allocation, no clock, no I/O. Round-robin state lives in the caller's
 * per-shard cursor rather than in one client-wide counter: go-redis shares a
 * single atomic counter across all shards, so under concurrency a shard can
 * skip replicas and the spread is uneven; a cursor per shard rotates evenly.
 */
#include <stdint.h>
#include "backoff.h"
#include "route.h"

static const char *const inelig_names[CLUSTERC__INELIG_COUNT] = {
    [CLUSTERC__ELIGIBLE] = "ok",
    [CLUSTERC__INELIG_FAILING] = "failing",
    [CLUSTERC__INELIG_LOADING] = "loading",
    [CLUSTERC__INELIG_FAILED] = "failed",
    [CLUSTERC__INELIG_LINK_DOWN] = "link down",
    [CLUSTERC__INELIG_LAG_TIME] = "lag time",
    [CLUSTERC__INELIG_LAG_BYTES] = "lag bytes",
    [CLUSTERC__INELIG_RYW] = "read-your-writes",
    [CLUSTERC__INELIG_NO_READONLY] = "READONLY refused",
};

const char *clusterc__inelig_str(clusterc__inelig why)
{
    if ((unsigned)why >= CLUSTERC__INELIG_COUNT)
        return "unknown";
    return inelig_names[why];
}

/* ------------------------------------------------------------ eligibility */

clusterc__inelig clusterc__route_why(const clusterc__route_cfg *cfg,
                                     const clusterc__route_node *nodes, size_t i,
                                     int64_t now_us)
{
    const clusterc__route_node *nd = &nodes[i];

    if (now_us < nd->failing_until_us)
        return CLUSTERC__INELIG_FAILING;
    if (nd->health_loading || now_us < nd->loading_until_us)
        return CLUSTERC__INELIG_LOADING;
    if (nd->health_failed)
        return CLUSTERC__INELIG_FAILED;
    if (i == 0)
        return CLUSTERC__ELIGIBLE; /* the primary has no link or lag to bound */
    if (nd->readonly_refused)
        return CLUSTERC__INELIG_NO_READONLY;

    if (nd->lag_known && !nd->link_up)
        return CLUSTERC__INELIG_LINK_DOWN;
    /* A bound the user set cannot be promised for a replica no lag poll has
     * reported on yet: treating "unknown" as "fresh" would serve arbitrarily
     * stale reads right after connect or a topology change. Such a replica
     * waits for its first poll; reads meanwhile go elsewhere (at worst the
     * primary, which is never stale). Compare lag_s against max_lag_ms / 1000
     * rather than lag_s * 1000 against max_lag_ms: same answer for whole
     * seconds, and no overflow on a huge lag. */
    if (cfg->max_lag_ms > 0 &&
        (!nd->lag_known || nd->lag_s > cfg->max_lag_ms / 1000))
        return CLUSTERC__INELIG_LAG_TIME;
    if (cfg->max_lag_bytes > 0 &&
        (!nd->lag_known || nd->lag_bytes > cfg->max_lag_bytes))
        return CLUSTERC__INELIG_LAG_BYTES;
    if (nd->ryw_stale)
        return CLUSTERC__INELIG_RYW;
    return CLUSTERC__ELIGIBLE;
}

/* ---------------------------------------------------------------- picking */

/* One pick's inputs, and the filter a scan applies on top of eligibility. */
typedef struct pick {
    const clusterc__route_cfg *cfg;
    const clusterc__route_node *nodes;
    int64_t now_us;
    int band;           /* 1: only nodes with a sample within limit_us */
    int zone;           /* 1: only nodes in the client's zone */
    uint64_t limit_us;  /* best latency + tolerance (64-bit: cannot overflow) */
} pick;

static int usable(const pick *p, size_t i)
{
    if (clusterc__route_why(p->cfg, p->nodes, i, p->now_us) != CLUSTERC__ELIGIBLE)
        return 0;
    if (p->zone && !p->nodes[i].in_zone)
        return 0;
    if (!p->band)
        return 1;
    return p->nodes[i].has_latency && p->nodes[i].latency_us <= p->limit_us;
}

/*
 * Round-robin over the usable nodes of [lo, hi): start at the cursor's
 * position, try each node once, and leave the cursor just past the one
 * chosen. Because the next pick starts right after the last choice, usable
 * nodes are visited in cyclic order even when others in the range are
 * skipped, so N usable nodes get exactly 1/N each. Returns -1 if none.
 */
static int rr(const pick *p, size_t lo, size_t hi, unsigned *cursor)
{
    size_t m = hi - lo;
    if (m == 0)
        return -1;
    size_t start = *cursor % m;
    for (size_t k = 0; k < m; k++) {
        size_t off = (start + k) % m;
        if (usable(p, lo + off)) {
            *cursor = (unsigned)(off + 1);
            return (int)(lo + off);
        }
    }
    return -1;
}

/* Uniform over the eligible nodes of [lo, hi); -1 if none. */
static int random_pick(const pick *p, size_t lo, size_t hi, uint64_t *rng)
{
    uint32_t count = 0;
    for (size_t i = lo; i < hi; i++)
        count += usable(p, i);
    if (count == 0)
        return -1;
    uint32_t r = clusterc__rand_below(rng, count);
    for (size_t i = lo; i < hi; i++)
        if (usable(p, i) && r-- == 0)
            return (int)i;
    return -1; /* not reached: the count above found r + 1 usable nodes */
}

/*
 * Lowest latency over the eligible nodes of [lo, hi). A strict minimum
 * piles every read onto one node when several are about equally close
 * (go-redis #3974); instead every node within tolerance of the best shares
 * the load in turn. Nodes never probed are used only if no eligible node
 * has a sample: an unknown latency is not a low one. -1 if none eligible.
 */
static int latency_pick(pick *p, size_t lo, size_t hi, unsigned *cursor)
{
    int sampled = 0;
    uint32_t best = UINT32_MAX;
    for (size_t i = lo; i < hi; i++) {
        if (!usable(p, i) || !p->nodes[i].has_latency)
            continue;
        sampled = 1;
        if (p->nodes[i].latency_us < best)
            best = p->nodes[i].latency_us;
    }
    if (sampled) {
        p->band = 1;
        p->limit_us = (uint64_t)best + p->cfg->tolerance_us;
    }
    int r = rr(p, lo, hi, cursor);
    p->band = 0;
    return r;
}

/* The policy's choice over [lo, hi), or -1 when no node there is eligible. */
static int by_policy(pick *p, clusterc__policy policy, size_t lo, size_t hi,
                     unsigned *cursor, uint64_t *rng)
{
    switch (policy) {
    case CLUSTERC__POLICY_RANDOM:
        return random_pick(p, lo, hi, rng);
    case CLUSTERC__POLICY_LATENCY:
        return latency_pick(p, lo, hi, cursor);
    case CLUSTERC__POLICY_PRIMARY:
    case CLUSTERC__POLICY_READ_ONLY:
    default:
        return rr(p, lo, hi, cursor);
    }
}

/* Zone affinity: the policy's choice among the zone's replicas, then (az 2)
 * the zone's primary, then among all replicas; -1 if none is eligible. The
 * primary comes first in its stage only for MODE_ANY (a peer there). */
static int zone_pick(pick *p, clusterc__route_mode mode, size_t n, unsigned *cursor,
                     uint64_t *rng)
{
    size_t lo = mode == CLUSTERC__MODE_ANY ? 0 : 1;
    clusterc__policy pol = p->cfg->policy == CLUSTERC__POLICY_PRIMARY
        ? CLUSTERC__POLICY_READ_ONLY : p->cfg->policy;
    p->zone = 1;
    int r = by_policy(p, pol, lo, n, cursor, rng);
    if (r < 0 && p->cfg->az == 2 && mode == CLUSTERC__MODE_DEFAULT && usable(p, 0))
        r = 0;
    p->zone = 0;
    return r >= 0 ? r : by_policy(p, pol, lo, n, cursor, rng);
}

int clusterc__route_pick(const clusterc__route_cfg *cfg, clusterc__route_mode mode,
                         const clusterc__route_node *nodes, size_t n,
                         unsigned *cursor, uint64_t *rng, int64_t now_us)
{
    pick p = {cfg, nodes, now_us, 0, 0, 0};
    int r;

    if (n == 0)
        return -1; /* outside the contract; never invent index 0 of nothing */
    if (cfg->az && mode != CLUSTERC__MODE_PRIMARY) {
        r = zone_pick(&p, mode, n, cursor, rng);
        return r >= 0 || mode == CLUSTERC__MODE_REPLICA ? r : 0;
    }
    switch (mode) {
    case CLUSTERC__MODE_PRIMARY:
        return 0;
    case CLUSTERC__MODE_REPLICA:
        /* Replicas only. "Random" becomes round-robin here: the caller asked
         * for a replica, not for spreading over the whole shard. */
        if (cfg->policy == CLUSTERC__POLICY_LATENCY)
            return latency_pick(&p, 1, n, cursor);
        return rr(&p, 1, n, cursor);
    case CLUSTERC__MODE_ANY:
        /* The primary is one peer among the nodes, whatever the policy
         * (latency_replicas_only included: ANY says the primary is fine). */
        r = by_policy(&p, cfg->policy, 0, n, cursor, rng);
        return r >= 0 ? r : 0;
    case CLUSTERC__MODE_DEFAULT:
    default:
        break;
    }

    switch (cfg->policy) {
    case CLUSTERC__POLICY_READ_ONLY:
        r = rr(&p, 1, n, cursor);
        break;
    case CLUSTERC__POLICY_RANDOM:
        r = random_pick(&p, 0, n, rng);
        break;
    case CLUSTERC__POLICY_LATENCY:
        /* Replicas-only keeps the primary for writes (go-redis #3023) and
         * falls back to it only when no replica is eligible. */
        r = latency_pick(&p, cfg->latency_replicas_only ? 1 : 0, n, cursor);
        break;
    case CLUSTERC__POLICY_PRIMARY:
    default:
        r = 0;
        break;
    }
    /* No eligible node: the primary, as the last resort. The read then
     * succeeds or fails there on its own; failing here would only hide
     * which node was tried. */
    return r >= 0 ? r : 0;
}
