/* fuzz_cluster_nodes.c -- CLUSTER NODES text -> clusterc__cluster_nodes_parse. */
#include "fuzz_common.h"
#include "proto/info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clusterc__cnode *v = NULL;
    size_t n = 0;
    char err[256];
    if (clusterc__cluster_nodes_parse((const char *)data, size, &v, &n, err, sizeof(err)) == 0) {
        if (n > 0 && v == NULL)
            fuzz_fail("nodes: n > 0 and no array");
        clusterc__cluster_nodes_free(v, n);
    }
    return 0;
}
