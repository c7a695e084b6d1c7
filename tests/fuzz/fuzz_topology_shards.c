/* fuzz_topology_shards.c -- CLUSTER SHARDS reply bytes -> hiredis reader ->
 * clusterc__topology_from_shards (plain and TLS). */
#include <stdlib.h>
#include "fuzz_common.h"
#include "proto/topology.h"

static void check(const clusterc__topology *t)
{
    for (int s = 0; s < CLUSTERC__NSLOTS; s++) {
        int k = t->slot_shard[s];
        if (k < -1 || (k >= 0 && (size_t)k >= t->nshards))
            fuzz_fail("slot_shard out of range");
        if (k >= 0 && t->shards[k].nnodes == 0)
            fuzz_fail("slot served by a shard without nodes");
    }
    if (clusterc__topology_covered(t) > CLUSTERC__NSLOTS)
        fuzz_fail("covered > 16384");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReply *r;
    if (fuzz_replies(data, size, &r, 1) != 1)
        return 0;
    char err[256];
    for (int tls = 0; tls <= 1; tls++) {
        clusterc__topology *t = NULL;
        if (clusterc__topology_from_shards_tls(r, "10.0.0.9", tls, &t, err, sizeof(err)) == 0) {
            check(t);
            clusterc__topology_free(t);
        }
    }
    freeReplyObject(r);
    return 0;
}
