/* fuzz_redirect.c -- error reply text -> clusterc__classify_error. */
#include <string.h>
#include "fuzz_common.h"
#include "proto/redirect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clusterc__redirect rd;
    memset(&rd, 0, sizeof(rd));
    clusterc__errkind k = clusterc__classify_error((const char *)data, size, "10.0.0.9", &rd);
    if (k != rd.kind)
        fuzz_fail("returned kind != out->kind");
    if (k == CLUSTERC__ERR_MOVED || k == CLUSTERC__ERR_ASK) {
        if (rd.slot < 0 || rd.slot > 16383)
            fuzz_fail("redirect slot out of range");
        if (rd.target.port < 1 || rd.target.port > 65535)
            fuzz_fail("redirect port out of range");
        if (memchr(rd.target.host, '\0', sizeof(rd.target.host)) == NULL)
            fuzz_fail("redirect host not terminated");
    }
    return 0;
}
