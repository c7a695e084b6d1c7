/* fuzz_cmd_inspect.c -- a command in RESP form (what redisFormatCommand
 * makes) -> clusterc__cmd_inspect, clusterc__policy_lookup and
 * clusterc__fanout_split; every part of a split inspects to its slot, the
 * props agree with the tests the engine made before them, and the same
 * arguments encoded again inspect the same without a parse. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "fuzz_common.h"
#include "proto/blocking.h"
#include "proto/cmdname.h"
#include "proto/cmdtable.h"
#include "proto/encode.h"
#include "proto/fanout.h"

/* The props against clusterc__cmd_not_here, clusterc__cmd_display_name and
 * what clusterc__fanout_mark (engine/fanout.c) can mark, under the built-in
 * policies: FANOUT, or unknown and keyless (cmdtable.h), whenever it can. */
static void check_props(const char *resp, size_t size, const clusterc__cmdinfo *ci)
{
    static const char *const split[] = {"del", "mget", "mset", "touch", "unlink", "exists"};
    char why[200], shown[64];
    int not_here = clusterc__cmd_not_here(ci->name, ci->namelen, why, sizeof(why));
    if (((ci->props & CLUSTERC__CMDP_NOT_HERE) != 0) != not_here)
        fuzz_fail("props: NOT_HERE disagrees with clusterc__cmd_not_here");
    clusterc__cmd_display_name(resp, size, ci->name, ci->namelen, shown, sizeof(shown));
    if (!(ci->props & CLUSTERC__CMDP_CONTAINER) && ci->namelen < sizeof(shown) - 1 &&
        shown[ci->namelen] == ' ')
        fuzz_fail("props: a container without CONTAINER");
    if ((ci->props & CLUSTERC__CMDP_CONTAINER) &&
        !clusterc__cmd_maybe_container(ci->name, ci->namelen))
        fuzz_fail("props: CONTAINER where the inline pre-test says no");
    int marks = 0;
    for (size_t i = 0; i < sizeof(split) / sizeof(split[0]); i++)
        if (strlen(split[i]) == ci->namelen && strncasecmp(split[i], ci->name, ci->namelen) == 0)
            marks = 1;
    clusterc__fanpolicy pol;
    if (ci->slot < 0 && clusterc__policy_lookup(NULL, resp, size, &pol) == 1 &&
        (pol.req == CLUSTERC__REQ_ALL_SHARDS || pol.req == CLUSTERC__REQ_ALL_NODES) &&
        pol.resp != CLUSTERC__RESP_SPECIAL)
        marks = 1;
    if (marks && !(ci->props & CLUSTERC__CMDP_FANOUT) &&
        !(ci->slot < 0 && !(ci->flags & CLUSTERC__CMD_KNOWN)))
        fuzz_fail("props: the engine's test would miss a fan-out");
}

/* A valid command's arguments, walked from its text (at most 64), encoded
 * again with clusterc__argv_write_args: clusterc__cmd_inspect_args of that
 * must find what the inspector found in the text (the engine's way for a
 * command a face encoded from argv). */
static void check_args(const clusterc__cmdtable *t, const char *resp, const clusterc__cmdinfo *ci)
{
    const char *argv[64];
    size_t argvlen[64];
    char *end;
    long long argc = strtoll(resp + 1, &end, 10);
    const char *p = end + 2;
    if (argc < 1 || argc > 64)
        return;
    for (long long i = 0; i < argc; i++) {
        argvlen[i] = (size_t)strtoull(p + 1, &end, 10);
        argv[i] = end + 2;
        p = argv[i] + argvlen[i] + 2;
    }
    size_t len = clusterc__argv_size((int)argc, argv, argvlen);
    char *buf = malloc(len);
    clusterc__cmdargs ca;
    clusterc__cmdinfo got;
    if (!buf)
        return;
    clusterc__argv_write_args(buf, (int)argc, argv, argvlen, &ca);
    clusterc__cmd_inspect_args(t, &ca, &got);
    if (got.flags != ci->flags || got.props != ci->props || got.slot != ci->slot ||
        got.namelen != ci->namelen || memcmp(got.name, ci->name, got.namelen) != 0)
        fuzz_fail("inspect_args: the encoder's arguments inspect differently");
    free(buf);
}

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
        check_props(resp, size, &ci);
        check_args(t, resp, &ci);
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
