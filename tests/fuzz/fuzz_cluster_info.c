/* fuzz_cluster_info.c -- CLUSTER INFO text -> clusterc__cluster_info_parse. */
#include "fuzz_common.h"
#include "proto/info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clusterc__cluster_info ci;
    char err[256];
    (void)clusterc__cluster_info_parse((const char *)data, size, &ci, err, sizeof(err));
    return 0;
}
