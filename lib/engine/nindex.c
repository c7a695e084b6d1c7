/* nindex.c -- the node table's two indexes: by "host:port" and by node id.
 *
 * Open addressing with linear probing over positions in e->nodes (0 =
 * empty, else position + 1), FNV-1a hashes, at most half full. A small
 * table of our own rather than a general one: the keys are the nodes' own
 * strings (nothing is copied), the only operations are find, add, and
 * rebuild after the node array is compacted (reaping) or the ids change (a
 * map install), and each is a few lines. Lookups cost O(1) on average, so
 * installing a map of N nodes costs O(N) instead of the O(N^2) of a scan
 * per node (issue 16: 83 % of a 3,000-node load was that scan).
 */
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static const char *key_of(const clusterc__node *n, int by_id)
{
    return by_id ? n->id : n->name;
}

/* Is n the one an id lookup may return (its id index holds only these)? */
static int id_listed(const clusterc__node *n)
{
    return n->id[0] && !n->retired;
}

static void put(clusterc__nindex *x, const clusterc__engine *e, size_t pos)
{
    size_t mask = x->cap - 1;
    size_t i = fnv1a(key_of(e->nodes[pos], x->by_id)) & mask;
    while (x->slot[i])
        i = (i + 1) & mask;
    x->slot[i] = (uint32_t)pos + 1;
}

int clusterc__nindex_rebuild(clusterc__nindex *x, const clusterc__engine *e)
{
    size_t want = 16;
    while (want < 2 * e->nnodes + 2)
        want *= 2;
    if (want != x->cap) {
        uint32_t *s = malloc(want * sizeof(*s));
        if (!s) {
            x->stale = 1;   /* positions may have moved: find scans */
            return -1;
        }
        free(x->slot);
        x->slot = s;
        x->cap = want;
    }
    memset(x->slot, 0, x->cap * sizeof(*x->slot));
    x->used = 0;
    x->stale = 0;
    for (size_t pos = 0; pos < e->nnodes; pos++)
        if (!x->by_id || id_listed(e->nodes[pos])) {
            put(x, e, pos);
            x->used++;
        }
    return 0;
}

int clusterc__nindex_add(clusterc__nindex *x, const clusterc__engine *e, size_t pos)
{
    if (2 * (x->used + 1) > x->cap)
        return clusterc__nindex_rebuild(x, e);   /* lists pos too */
    put(x, e, pos);
    x->used++;
    return 0;
}

clusterc__node *clusterc__nindex_find(const clusterc__nindex *x, const clusterc__engine *e,
                                      const char *key)
{
    if (x->stale) {   /* out of memory once: the slow way, still right */
        for (size_t pos = 0; pos < e->nnodes; pos++)
            if (strcmp(key_of(e->nodes[pos], x->by_id), key) == 0 &&
                (!x->by_id || id_listed(e->nodes[pos])))
                return e->nodes[pos];
        return NULL;
    }
    if (!x->cap)
        return NULL;
    size_t mask = x->cap - 1;
    for (size_t i = fnv1a(key) & mask; x->slot[i]; i = (i + 1) & mask) {
        clusterc__node *n = e->nodes[x->slot[i] - 1];
        if (strcmp(key_of(n, x->by_id), key) == 0 && (!x->by_id || id_listed(n)))
            return n;
    }
    return NULL;
}

void clusterc__nindex_free(clusterc__nindex *x)
{
    free(x->slot);
    x->slot = NULL;
    x->cap = x->used = 0;
}
