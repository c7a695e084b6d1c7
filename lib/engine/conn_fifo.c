/* conn_fifo.c -- what a connection's owner asks of its FIFO (conn.h):
 * forget a command, whether it was written, its tags, take the oldest. */
#include "conn_fifo.h"

void clusterc__conn_orphan(clusterc__conn *n, uint32_t low)
{
    uint64_t seq = clusterc__conn_unwrap(n, low);
    if (seq < n->fseq || seq >= n->fseq + n->fcount)
        return;
    clusterc__fifo_ent *ent = ent_at(n, (size_t)(seq - n->fseq));
    ent->w = (ent->w & ~(uint64_t)ENT_KIND_MASK) | FIFO_SKIP;
    ent->tag = NULL;
}

int clusterc__conn_sent(const clusterc__conn *n, uint32_t low)
{
    uint64_t seq = clusterc__conn_unwrap(n, low);
    if (seq < n->fseq || seq >= n->fseq + n->fcount)
        return 0;
    return ENT_START(ent_at(n, (size_t)(seq - n->fseq))) < n->out_written;
}

void clusterc__conn_each_tag(const clusterc__conn *n, void (*fn)(void *tag, void *arg), void *arg)
{
    for (size_t i = 0; i < n->fcount; i++) {
        const clusterc__fifo_ent *ent = ent_at(n, i);
        if (ENT_KIND(ent) == FIFO_USER && ent->tag)
            fn(ent->tag, arg);
    }
}

int clusterc__conn_has_tags(const clusterc__conn *n)
{
    for (size_t i = 0; i < n->fcount; i++) {
        const clusterc__fifo_ent *ent = ent_at(n, i);
        if (ENT_KIND(ent) == FIFO_USER && ent->tag)
            return 1;
    }
    return 0;
}

int clusterc__conn_take(clusterc__conn *n, void **tag)
{
    if (n->fcount == 0)
        return 0;
    clusterc__fifo_ent ent = fifo_pop(n);
    *tag = ENT_KIND(&ent) == FIFO_USER ? ent.tag : NULL;
    return 1;
}
