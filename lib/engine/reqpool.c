/* reqpool.c -- requests reused (issue 17): free lists per engine.
 *
 * A request is one block of one of two sizes (CLUSTERC__REQ_ALLOC and
 * CLUSTERC__REQ_ALLOC_BIG: the record and room for a short text), each
 * size with its own free list, so a freed one can serve the next without
 * going back to malloc: in a steady load (N in flight, one completing, one
 * submitted) no request is allocated at all. Each list is kept short
 * (REQPOOL_MAX): a burst of thousands of commands gives its memory back
 * afterwards instead of holding it for the client's life. The engine is
 * single-threaded, so the lists need no lock. */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include "engine_int.h"
#include "proto/encode.h"

#define REQPOOL_MAX 512

clusterc__req *clusterc__req_mem_get(clusterc__engine *e, int big)
{
    if (e->req_free[big]) {
        void *p = e->req_free[big];
        e->req_free[big] = *(void **)p;
        e->req_nfree[big]--;
        return p;
    }
    return malloc(big ? CLUSTERC__REQ_ALLOC_BIG : CLUSTERC__REQ_ALLOC);
}

void clusterc__req_mem_put(clusterc__engine *e, void *p, int big)
{
    if (!p)
        return;
    if (e->req_nfree[big] >= REQPOOL_MAX) {
        free(p);
        return;
    }
    *(void **)p = e->req_free[big];
    e->req_free[big] = p;
    e->req_nfree[big]++;
}

/* ------------------------------------------------- command buffers
 * A face formats a command into a block from a free list of
 * CLUSTERC__CMDBUF-byte blocks instead of malloc. A text short enough (a
 * GET's is about 30 bytes) then moves into its request's own block and the
 * buffer comes straight back; a longer one stays with the request and
 * comes back when it is freed. So a steady load of small commands
 * allocates nothing at all. A block is an ordinary malloc'ed one, so free() on it is never
 * wrong (a path that does not know it came from here just loses it). */

static char *cmdbuf_get(clusterc__engine *e)
{
    if (e->cmd_free) {
        char *p = e->cmd_free;
        e->cmd_free = *(void **)(void *)p;
        e->cmd_nfree--;
        return p;
    }
    return malloc(CLUSTERC__CMDBUF);
}

void clusterc__cmdbuf_put(clusterc__engine *e, char *p)
{
    if (e->cmd_nfree >= REQPOOL_MAX) {
        free(p);
        return;
    }
    *(void **)(void *)p = e->cmd_free;
    e->cmd_free = p;
    e->cmd_nfree++;
}

/* Room for total bytes and a NUL: the text area of a request's own block
 * (pooled 2: the request to be is that block, so the text is written once,
 * where it stays; a big block for a text of 32 to 47 bytes), a pooled
 * buffer (1) or malloc (0). */
static char *cmd_room(clusterc__engine *e, size_t total, int *pooled)
{
    if (e && total < CLUSTERC__REQ_INLINE_BIG) {
        clusterc__req *r = clusterc__req_mem_get(e, total >= CLUSTERC__REQ_INLINE);
        *pooled = r ? 2 : 0;
        return r ? r->inl : NULL;
    }
    *pooled = e && total < CLUSTERC__CMDBUF;
    return *pooled ? cmdbuf_get(e) : malloc(total + 1);
}

void clusterc__cmdtext_format(clusterc__engine *e, clusterc__cmdtext *t, const char *fmt,
                              va_list ap)
{
    clusterc__enc enc;
    int rc = clusterc__enc_parse(&enc, fmt, ap);
    t->cmd = NULL;
    t->pooled = 0;
    t->ca.argc = 0;
    if (rc == 0 && (enc.total > (size_t)INT_MAX || !(t->cmd = cmd_room(e, enc.total, &t->pooled))))
        rc = -1;
    if (rc == 0) {
        clusterc__enc_write(&enc, t->cmd)[0] = '\0';
        rc = (int)enc.total;
    }
    clusterc__enc_release(&enc);
    t->len = rc;
}

void clusterc__cmdtext_argv(clusterc__engine *e, clusterc__cmdtext *t, int argc,
                            const char *const *argv, const size_t *argvlen)
{
    size_t total = clusterc__argv_size(argc, argv, argvlen);
    t->pooled = 0;
    t->ca.argc = 0;
    t->len = -1;
    if (total == 0 || total > (size_t)INT_MAX || !(t->cmd = cmd_room(e, total, &t->pooled))) {
        t->cmd = NULL;
        return;
    }
    /* An empty command is not one: left to the inspector to say so. */
    clusterc__argv_write_args(t->cmd, argc, argv, argvlen, argc >= 1 ? &t->ca : NULL)[0] = '\0';
    t->len = (int)total;
}

clusterc__req *clusterc__req_of_text(char *cmd)
{
    return (clusterc__req *)(void *)(cmd - offsetof(clusterc__req, inl));
}

void clusterc__cmdtext_release(clusterc__engine *e, const clusterc__cmdtext *t)
{
    if (t->pooled == 2)
        clusterc__req_mem_put(e, clusterc__req_of_text(t->cmd),
                              t->len >= (int)CLUSTERC__REQ_INLINE);
    else if (t->pooled && e)
        clusterc__cmdbuf_put(e, t->cmd);
    else
        free(t->cmd);
}

void clusterc__reqpool_fini(clusterc__engine *e)
{
    while (e->cmd_free) {
        void *next = *(void **)e->cmd_free;
        free(e->cmd_free);
        e->cmd_free = next;
    }
    e->cmd_nfree = 0;
    for (int big = 0; big < 2; big++) {
        while (e->req_free[big]) {
            void *next = *(void **)e->req_free[big];
            free(e->req_free[big]);
            e->req_free[big] = next;
        }
        e->req_nfree[big] = 0;
    }
}

/* What a GET in flight costs (docs/benchmarks.md): keep it in sight. The
 * blocks are 144- and 160-byte malloc chunks; the record leaves 32 and 48
 * bytes of them for the text (a GET of a key of up to 11 and 27 bytes). */
_Static_assert(sizeof(void *) != 8 || sizeof(clusterc__req) <= 104,
               "the request grew: move what few commands need into clusterc__req_x");
_Static_assert(CLUSTERC__REQ_ALLOC > sizeof(clusterc__req) + 8,
               "no room for a command's text in the request's block");
