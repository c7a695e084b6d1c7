/* cmdname.c -- a command's name as messages and the command hook show it
 * (pure): the command, and for a container command its sub-command. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "cmdname.h"

/* Commands whose first argument is the telling part of their name in a
 * message ("CLUSTER SHARDS", "CONFIG SET"): container commands. */
static int has_subcommand(const char *name, size_t len)
{
    static const char *const list[] = { "CLUSTER", "CONFIG", "CLIENT", "COMMAND", "XINFO",
                                        "OBJECT", "MEMORY", "SCRIPT", "FUNCTION", "ACL",
                                        "XGROUP", "PUBSUB", "SLOWLOG", "LATENCY", "MODULE" };
    if (!clusterc__cmd_maybe_container(name, len))
        return 0;
    for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
        if (strlen(list[i]) == len && strncasecmp(list[i], name, len) == 0)
            return 1;
    return 0;
}

void clusterc__cmd_display_name(const char *resp, size_t len, const char *name, size_t namelen,
                                char *out, size_t cap)
{
    size_t k = namelen < cap - 1 ? namelen : cap - 1;
    memcpy(out, name, k);
    out[k] = '\0';
    if (!has_subcommand(name, namelen))
        return;
    /* After "NAME\r\n" comes "$len\r\nARG\r\n" when there is an argument. */
    const char *p = name + namelen + 2, *end = resp + len;
    if (p >= end || *p != '$')
        return;
    char *q;
    long alen = strtol(p + 1, &q, 10);
    if (alen <= 0 || q + 2 + alen > end || k + 1 + (size_t)alen >= cap)
        return;
    for (size_t i = 0; i < k; i++)
        out[i] = (char)toupper((unsigned char)out[i]);
    out[k] = ' ';
    for (long i = 0; i < alen; i++)
        out[k + 1 + (size_t)i] = (char)toupper((unsigned char)q[2 + i]);
    out[k + 1 + (size_t)alen] = '\0';
}

