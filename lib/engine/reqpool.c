/* reqpool.c -- requests reused (issue 17): a free list per engine.
 *
 * Every request of an engine is one allocation of the same size (the
 * request and its two timers), so a freed one can serve the next without
 * going back to malloc: in a steady load (N in flight, one completing, one
 * submitted) no request is allocated at all. The list is kept short
 * (REQPOOL_MAX): a burst of thousands of commands gives its memory back
 * afterwards instead of holding it for the client's life. The engine is
 * single-threaded, so the list needs no lock. */
#include <stdlib.h>
#include "engine_int.h"

#define REQPOOL_MAX 512

void *clusterc__req_mem_get(clusterc__engine *e, size_t size)
{
    if (e->req_free && size == e->req_size) {
        void *p = e->req_free;
        e->req_free = *(void **)p;
        e->req_nfree--;
        return p;
    }
    e->req_size = size;   /* the same for the engine's life (libevent's event size) */
    return malloc(size);
}

void clusterc__req_mem_put(clusterc__engine *e, void *p)
{
    if (!p)
        return;
    if (e->req_nfree >= REQPOOL_MAX) {
        free(p);
        return;
    }
    *(void **)p = e->req_free;
    e->req_free = p;
    e->req_nfree++;
}

void clusterc__reqpool_fini(clusterc__engine *e)
{
    while (e->req_free) {
        void *next = *(void **)e->req_free;
        free(e->req_free);
        e->req_free = next;
    }
    e->req_nfree = 0;
}
