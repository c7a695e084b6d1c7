/* reqpool.c -- requests reused (issue 17): a free list per engine.
 *
 * Every request of an engine is one allocation of the same size, so a
 * freed one can serve the next without
 * going back to malloc: in a steady load (N in flight, one completing, one
 * submitted) no request is allocated at all. The list is kept short
 * (REQPOOL_MAX): a burst of thousands of commands gives its memory back
 * afterwards instead of holding it for the client's life. The engine is
 * single-threaded, so the list needs no lock. */
#include <stdlib.h>
#include "engine_int.h"

#define REQPOOL_MAX 512

clusterc__req *clusterc__req_mem_get(clusterc__engine *e)
{
    if (e->req_free) {
        void *p = e->req_free;
        e->req_free = *(void **)p;
        e->req_nfree--;
        return p;
    }
    return malloc(sizeof(clusterc__req));
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

/* What a queued GET costs (docs/benchmarks.md): keep it in sight. */
_Static_assert(sizeof(void *) != 8 || sizeof(clusterc__req) <= 184,
               "the request grew: move what few commands need into clusterc__req_x");
