/* fuzz_info_repl.c -- INFO replication text -> clusterc__info_repl_parse. */
#include <string.h>
#include "fuzz_common.h"
#include "proto/info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clusterc__info_repl r;
    char err[256];
    memset(&r, 0, sizeof(r));
    if (clusterc__info_repl_parse((const char *)data, size, &r, err, sizeof(err)) == 0)
        clusterc__info_repl_free(&r);
    return 0;
}
