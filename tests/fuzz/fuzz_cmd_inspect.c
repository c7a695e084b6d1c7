/* fuzz_cmd_inspect.c -- a command in RESP form (what redisFormatCommand
 * makes) -> clusterc__cmd_inspect, clusterc__policy_lookup and
 * clusterc__fanout_split; every part of a split inspects to its slot. */
#include <string.h>
#include "fuzz_common.h"
#include "proto/cmdtable.h"
#include "proto/fanout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *resp = (const char *)data;
    const clusterc__cmdtable *t = clusterc__cmdtable_builtin();
    char err[256];
    clusterc__cmdinfo ci;
    if (clusterc__cmd_inspect(t, resp, size, &ci, err, sizeof(err)) == 0) {
        if (ci.slot < -1 || ci.slot > 16383)
            fuzz_fail("inspect: slot out of range");
        if (ci.name < resp || ci.namelen > size || ci.name + ci.namelen > resp + size)
            fuzz_fail("inspect: name outside the buffer");
    }
    clusterc__fanpolicy fp;
    (void)clusterc__policy_lookup(NULL, resp, size, &fp);
    clusterc__split sp;
    memset(&sp, 0, sizeof(sp));
    if (clusterc__fanout_split(resp, size, &sp, err, sizeof(err)) == 1) {
        if (sp.nsub < 2)
            fuzz_fail("split: fewer than two parts");
        for (size_t i = 0; i < sp.nsub; i++) {
            const clusterc__subcmd *sc = &sp.sub[i];
            if (clusterc__cmd_inspect(t, sc->resp, sc->len, &ci, err, sizeof(err)) != 0)
                fuzz_fail("split: a part does not inspect");
            if (ci.slot != sc->slot)
                fuzz_fail("split: a part's first key is not in its slot");
            for (size_t j = 0; j < sc->nkeys; j++)
                if (sc->keypos[j] >= sp.nkeys)
                    fuzz_fail("split: key position out of range");
        }
        clusterc__split_free(&sp);
    }
    return 0;
}
