/* fuzz_fanout_merge.c -- replies from several nodes -> the fan-out merges.
 * First byte: the response policy and which part is missing; the rest:
 * up to 6 RESP replies, one per node. Every policy, the EACH pairs and
 * MGET's reassembly (for a fixed MGET split over the parts) run on them. */
#include <string.h>
#include "fuzz_common.h"
#include "proto/fanout.h"

#define MAXPARTS 6

/* Three slots: a and {a}x share one. */
static const char mget[] =
    "*5\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n$4\r\n{a}x\r\n$1\r\nc\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    redisReply *r[MAXPARTS];
    size_t n = fuzz_replies(data + 1, size - 1, r, MAXPARTS);
    if (n == 0)
        return 0;
    static const char *const names[MAXPARTS] = {
        "10.0.0.1:7001", "10.0.0.2:7002", NULL, "[::1]:7004", "h5:7005", "h6:7006"};
    clusterc__part parts[MAXPARTS];
    size_t missing = (data[0] >> 4) % (MAXPARTS + 1); /* MAXPARTS: none missing */
    for (size_t i = 0; i < n; i++) {
        parts[i].reply = i == missing ? NULL : r[i];
        parts[i].node = names[i];
    }
    for (int p = CLUSTERC__RESP_DEFAULT; p <= CLUSTERC__RESP_SPECIAL; p++) {
        if ((data[0] & 0x0f) != 0x0f && p != (data[0] & 0x0f) % (CLUSTERC__RESP_SPECIAL + 1))
            continue; /* 0x?f: every policy, else the one named */
        redisReply *m = clusterc__fanout_merge((clusterc__resp_policy)p, parts, n);
        if (m)
            freeReplyObject(m);
    }
    redisReply *pairs = clusterc__fanout_pairs(parts, n);
    if (pairs)
        freeReplyObject(pairs);
    clusterc__split sp;
    char err[256];
    memset(&sp, 0, sizeof(sp));
    if (clusterc__fanout_split(mget, sizeof(mget) - 1, &sp, err, sizeof(err)) == 1) {
        if (sp.nsub <= n) {
            redisReply *m = clusterc__fanout_reassemble(&sp, parts, sp.nsub);
            if (m)
                freeReplyObject(m);
        }
        clusterc__split_free(&sp);
    }
    for (size_t i = 0; i < n; i++)
        freeReplyObject(r[i]);
    return 0;
}
