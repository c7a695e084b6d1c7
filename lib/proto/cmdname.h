/* cmdname.h -- a command's name for messages (pure). */
#ifndef CLUSTERC_CMDNAME_H
#define CLUSTERC_CMDNAME_H
#include <stddef.h>

/* Write into out (cap bytes, NUL-terminated) the name of the command in
 * RESP form resp (len bytes) whose argv[0] is name (namelen bytes, a
 * pointer into resp): the command as given ("get"), or for a container
 * command (CLUSTER, CONFIG, CLIENT, ...) both words in capitals ("CLUSTER
 * SHARDS", "CONFIG GET") when they fit. */
void clusterc__cmd_display_name(const char *resp, size_t len, const char *name, size_t namelen,
                                char *out, size_t cap);

/* Whether name may be a container command (the first letter and length
 * of one): inline, so GET and SET pay two tests, not a call. */
static inline int clusterc__cmd_maybe_container(const char *name, size_t len)
{
    switch (name[0] | 0x20) {
    case 'a': case 'c': case 'f': case 'l': case 'm': case 'o': case 'p': case 's': case 'x':
        return len >= 3 && len <= 8 && (len != 3 || (name[0] | 0x20) == 'a');
    default:
        return 0;
    }
}
#endif
