/* conn_fifo.h -- a connection's FIFO of what was sent (internal to
 * conn.c and conn_fifo.c): a ring of 16-byte entries, each the tag of the
 * command whose reply comes n-th and one word packing its kind, two marks
 * and its first byte's offset in the output stream. Push and pop are
 * inline: one of each per command. */
#ifndef CLUSTERC_CONN_FIFO_H
#define CLUSTERC_CONN_FIFO_H
#include <stdlib.h>
#include "conn.h"

enum fifo_kind {
    FIFO_USER = 0,   /* a tagged command: its reply goes to ops->reply */
    FIFO_SKIP,       /* reply is dropped (untagged, or orphaned) */
    FIFO_ASKING,     /* +OK of ASKING */
    FIFO_AUTH,       /* handshake: an error fails the connection */
    FIFO_SETNAME,
    FIFO_READONLY
};

/* An entry's packed word (conn.h): kind, marks, and where it starts. */
#define ENT_KIND_MASK 0x0fu
#define ENT_ARENA 0x10u   /* its reply is built in an arena (CLUSTERC__CONN_ARENA) */
#define ENT_POOL 0x20u    /* its reply may come from the pool (CLUSTERC__CONN_POOL) */

#define ENT_KIND(ent) ((unsigned)((ent)->w & ENT_KIND_MASK))
#define ENT_START(ent) ((ent)->w >> 8)

/* The i-th oldest entry (fcap is a power of two: a mask, not a division). */
static inline clusterc__fifo_ent *ent_at(const clusterc__conn *n, size_t i)
{
    return &n->fifo[(n->fhead + i) & (n->fcap - 1)];
}

static inline int fifo_push(clusterc__conn *n, void *tag, uint8_t kind, uint64_t start)
{
    if (n->fcount == n->fcap) {
        size_t cap = n->fcap ? n->fcap * 2 : 16;
        clusterc__fifo_ent *f = malloc(cap * sizeof(*f));
        if (!f)
            return -1;
        for (size_t i = 0; i < n->fcount; i++)
            f[i] = *ent_at(n, i);
        free(n->fifo);
        n->fifo = f;
        n->fcap = cap;
        n->fhead = 0;
    }
    clusterc__fifo_ent *ent = ent_at(n, n->fcount);
    ent->tag = tag;
    ent->w = start << 8 | kind;
    n->fcount++;
    return 0;
}

/* What an idle connection keeps of a burst's FIFO ring: past it, the ring
 * is given back once empty (conn.c does the same with its output buffer),
 * so a burst of 100,000 commands does not stay in every connection it went
 * through for the connection's life. */
#define FIFO_KEEP 4096u

static inline clusterc__fifo_ent fifo_pop(clusterc__conn *n)
{
    clusterc__fifo_ent ent = n->fifo[n->fhead];
    n->fhead = (n->fhead + 1) & (n->fcap - 1);
    n->fcount--;
    n->fseq++;
    if (n->fcount == 0 && n->fcap > FIFO_KEEP) {
        free(n->fifo);
        n->fifo = NULL;
        n->fcap = n->fhead = 0;
    }
    return ent;
}

#endif
