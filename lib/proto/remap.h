/* remap.h -- announced node addresses -> addresses the client dials
 * (internal, pure). */
#ifndef CLUSTERC_REMAP_H
#define CLUSTERC_REMAP_H
#include <stddef.h>
#include "clusterc/clusterc.h"
#include "addr.h"

/* One entry of the static address map (announced -> dialled). */
typedef struct clusterc__remap {
    clusterc__addr from, to;
} clusterc__remap;

/* Parse "announced=dialled,..." (node_address_map). NULL or "" is an empty
 * map. Returns 0 with *out malloc'ed (free()) and *n entries, or -1 with err
 * naming the bad entry (*out NULL), or -2 when out of memory. */
int clusterc__remap_parse(const char *spec, clusterc__remap **out, size_t *n,
                          char *err, size_t errcap);

/* Where to dial the announced address in: the static map first, then the
 * callback fn (NULL = none; its answer is used only when it returns 1 with
 * a valid port and a NUL-terminated host), else in itself. */
void clusterc__remap_apply(const clusterc__remap *map, size_t n, clusterc_remap_fn *fn,
                           void *arg, const clusterc__addr *in, clusterc__addr *out);
#endif
