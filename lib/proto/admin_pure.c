/* admin_pure.c -- the admin API's pure decisions: which primary a new
 * replica follows, when two nodes agree on the slot map, lag classes.
 * Kept apart from the I/O so they can be tested on canned CLUSTER NODES
 * text. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "admin_pure.h"
#include "info.h"

/* ------------------------------------------------------------ text buffer */

void clusterc__sbuf_printf(clusterc__sbuf *b, const char *fmt, ...)
{
    va_list ap;
    if (b->oom)
        return;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0)
        return;
    if (b->len + (size_t)need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + (size_t)need + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
}

char *clusterc__sbuf_take(clusterc__sbuf *b)
{
    char *s = b->oom ? NULL : b->p ? b->p : calloc(1, 1);
    if (b->oom)
        free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
    return s;
}

/* ------------------------------------------------------------ public bits */

CLUSTERC_API void clusterc_nodes_free(clusterc_cluster_node *v, size_t n)
{
    clusterc__cluster_nodes_free(v, n);
}

CLUSTERC_API int clusterc_node_slot_count(const clusterc_cluster_node *n)
{
    int total = 0;
    for (size_t i = 0; n && i < n->nslots; i++)
        total += n->slots[i].end - n->slots[i].start + 1;
    return total;
}

/* Unknown lag (negative: the primary does not list the replica) counts as
 * critical: a replica nobody can vouch for must not look healthy. */
CLUSTERC_API clusterc_lag_class clusterc_lag_classify(long long lag_s)
{
    if (lag_s == 0)
        return CLUSTERC_LAG_PERFECT;
    if (lag_s >= 1 && lag_s <= 5)
        return CLUSTERC_LAG_GOOD;
    if (lag_s > 5 && lag_s <= 30)
        return CLUSTERC_LAG_WARNING;
    return CLUSTERC_LAG_CRITICAL;
}

CLUSTERC_API const char *clusterc_lag_class_str(clusterc_lag_class c)
{
    switch (c) {
    case CLUSTERC_LAG_PERFECT: return "perfect";
    case CLUSTERC_LAG_GOOD: return "good";
    case CLUSTERC_LAG_WARNING: return "warning";
    case CLUSTERC_LAG_CRITICAL: return "critical";
    }
    return "unknown";
}

/* ------------------------------------------------------------ node lists */

void clusterc__admin_addr(const clusterc_cluster_node *n, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s:%d", n->host, n->port);
}

const clusterc_cluster_node *clusterc__admin_find(const clusterc_cluster_node *v, size_t n,
                                                  const char *key)
{
    char addr[300];
    for (size_t i = 0; key && i < n; i++) {
        if (strcmp(v[i].id, key) == 0)
            return &v[i];
        clusterc__admin_addr(&v[i], addr, sizeof(addr));
        if (v[i].port != 0 && strcmp(addr, key) == 0)
            return &v[i];
    }
    return NULL;
}

int clusterc__admin_askable(const clusterc_cluster_node *x)
{
    return x->port != 0 &&
           !(x->flags & (CLUSTERC_NODE_FAIL | CLUSTERC_NODE_NOADDR | CLUSTERC_NODE_HANDSHAKE));
}

const clusterc_cluster_node *clusterc__admin_myself(const clusterc_cluster_node *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].flags & CLUSTERC_NODE_MYSELF)
            return &v[i];
    return NULL;
}

int clusterc__admin_replica_count(const clusterc_cluster_node *v, size_t n,
                                  const char *primary_id)
{
    int count = 0;
    for (size_t i = 0; i < n; i++)
        if ((v[i].flags & CLUSTERC_NODE_SLAVE) && !(v[i].flags & CLUSTERC_NODE_FAIL) &&
            strcmp(v[i].primary_id, primary_id) == 0)
            count++;
    return count;
}

static const clusterc_cluster_node *fewest(const clusterc_cluster_node *v, size_t n,
                                           const char *exclude_id, int need_slots)
{
    const clusterc_cluster_node *best = NULL;
    int best_count = 0;
    for (size_t i = 0; i < n; i++) {
        const clusterc_cluster_node *p = &v[i];
        if (!(p->flags & CLUSTERC_NODE_MASTER) || !clusterc__admin_askable(p))
            continue;
        if ((exclude_id && strcmp(p->id, exclude_id) == 0) || (need_slots && p->nslots == 0))
            continue;
        int count = clusterc__admin_replica_count(v, n, p->id);
        if (!best || count < best_count) {   /* strictly fewer: the first such wins */
            best = p;
            best_count = count;
        }
    }
    return best;
}

const clusterc_cluster_node *clusterc__admin_fewest_replicas(const clusterc_cluster_node *v,
                                                             size_t n, const char *exclude_id)
{
    const clusterc_cluster_node *p = fewest(v, n, exclude_id, 1);
    return p ? p : fewest(v, n, exclude_id, 0);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *clusterc__admin_config_signature(const clusterc_cluster_node *v, size_t n)
{
    char **parts = calloc(n ? n : 1, sizeof(*parts));
    size_t np = 0;
    clusterc__sbuf b = { 0 };
    if (!parts)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (v[i].nslots == 0)
            continue;
        clusterc__sbuf_printf(&b, "%s:", v[i].id);
        for (size_t j = 0; j < v[i].nslots; j++)
            clusterc__sbuf_printf(&b, j ? ",%d-%d" : "%d-%d", v[i].slots[j].start,
                                  v[i].slots[j].end);
        parts[np] = clusterc__sbuf_take(&b);
        if (!parts[np++])
            goto oom;
    }
    /* Sorted: nodes list other nodes in no particular order. */
    qsort(parts, np, sizeof(*parts), cmp_str);
    for (size_t i = 0; i < np; i++)
        clusterc__sbuf_printf(&b, i ? "|%s" : "%s", parts[i]);
    for (size_t i = 0; i < np; i++)
        free(parts[i]);
    free(parts);
    return clusterc__sbuf_take(&b);
oom:
    for (size_t i = 0; i < np; i++)
        free(parts[i]);
    free(parts);
    return NULL;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int clusterc__admin_slot_list(const clusterc_cluster_node *node, int *out)
{
    int k = 0;
    for (size_t i = 0; i < node->nslots; i++)
        for (int s = node->slots[i].start; s <= node->slots[i].end && k < CLUSTERC_SLOTS; s++)
            out[k++] = s;
    qsort(out, (size_t)k, sizeof(*out), cmp_int);
    return k;
}

static void slot_bits(const clusterc_cluster_node *node, unsigned char *bits)
{
    memset(bits, 0, CLUSTERC_SLOTS / 8);
    for (size_t i = 0; node && i < node->nslots; i++)
        for (int s = node->slots[i].start; s <= node->slots[i].end && s < CLUSTERC_SLOTS; s++)
            if (s >= 0)
                bits[s / 8] |= (unsigned char)(1u << (s % 8));
}

int clusterc__admin_slots_differ(const clusterc_cluster_node *a, const clusterc_cluster_node *b)
{
    unsigned char x[CLUSTERC_SLOTS / 8], y[CLUSTERC_SLOTS / 8];
    slot_bits(a, x);
    slot_bits(b, y);
    for (int i = 0; i < CLUSTERC_SLOTS / 8; i++)
        if (x[i] != y[i])
            for (int k = 0; k < 8; k++)
                if ((x[i] ^ y[i]) & (1u << k))
                    return i * 8 + k;
    return -1;
}

CLUSTERC_API const char *clusterc_node_flag_name(unsigned bit)
{
    switch (bit) {
    case CLUSTERC_NODE_MYSELF: return "myself";
    case CLUSTERC_NODE_MASTER: return "master";
    case CLUSTERC_NODE_SLAVE: return "slave";
    case CLUSTERC_NODE_PFAIL: return "fail?";
    case CLUSTERC_NODE_FAIL: return "fail";
    case CLUSTERC_NODE_HANDSHAKE: return "handshake";
    case CLUSTERC_NODE_NOADDR: return "noaddr";
    case CLUSTERC_NODE_NOFAILOVER: return "nofailover";
    case CLUSTERC_NODE_NOFLAGS: return "noflags";
    default: return NULL;
    }
}
