/* fuzz_cmdtable.c -- COMMAND (INFO) reply bytes -> hiredis reader ->
 * clusterc__cmdtable_from_reply and clusterc__policytable_from_reply; a
 * learned table must pass its self-check and inspect commands. */
#include <string.h>
#include "fuzz_common.h"
#include "proto/cmdtable.h"
#include "proto/fanout.h"

static const char *const probes[] = {
    "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
    "*5\r\n$4\r\nEVAL\r\n$1\r\ns\r\n$1\r\n1\r\n$1\r\nk\r\n$1\r\na\r\n",
    "*4\r\n$5\r\nXREAD\r\n$7\r\nSTREAMS\r\n$1\r\nk\r\n$1\r\n0\r\n",
    "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$1\r\n*\r\n",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReply *r;
    if (fuzz_replies(data, size, &r, 1) != 1)
        return 0;
    char err[256];
    clusterc__cmdtable *t = NULL;
    if (clusterc__cmdtable_from_reply(r, &t, err, sizeof(err)) == 0) {
        if (clusterc__cmdtable_selfcheck(t) != 0)
            fuzz_fail("cmdtable: learned table fails its self-check");
        for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
            clusterc__cmdinfo ci;
            if (clusterc__cmd_inspect(t, probes[i], strlen(probes[i]), &ci, err, sizeof(err)) != 0)
                fuzz_fail("cmdtable: a well-formed command does not inspect");
        }
        clusterc__cmdtable_free(t);
    }
    clusterc__policytable *p = NULL;
    if (clusterc__policytable_from_reply(r, &p, err, sizeof(err)) == 0) {
        if (clusterc__policytable_selfcheck(p) != 0)
            fuzz_fail("policytable: learned table fails its self-check");
        clusterc__fanpolicy fp;
        (void)clusterc__policy_lookup(p, probes[3], strlen(probes[3]), &fp);
        clusterc__policytable_free(p);
    }
    freeReplyObject(r);
    return 0;
}
