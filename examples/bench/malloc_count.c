/* malloc_count.c -- LD_PRELOAD shim that counts heap allocation calls.
 *
 * Counts malloc, calloc, realloc (and posix_memalign / aligned_alloc /
 * memalign, which the libraries measured here do not use) and frees, forwards
 * every call to glibc's own allocator, and prints the totals on stderr when
 * the process exits:
 *
 *   cc -O2 -shared -fPIC -o malloc_count.so examples/bench/malloc_count.c
 *   LD_PRELOAD=./malloc_count.so clusterc-benchmark ...
 *
 * glibc only (__libc_malloc and friends). The counters are atomic, so
 * threaded programs are counted correctly too.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static atomic_ulong n_malloc, n_calloc, n_realloc, n_memalign, n_free;

void *malloc(size_t size)
{
    atomic_fetch_add_explicit(&n_malloc, 1, memory_order_relaxed);
    return __libc_malloc(size);
}

void *calloc(size_t nmemb, size_t size)
{
    atomic_fetch_add_explicit(&n_calloc, 1, memory_order_relaxed);
    return __libc_calloc(nmemb, size);
}

void *realloc(void *p, size_t size)
{
    atomic_fetch_add_explicit(&n_realloc, 1, memory_order_relaxed);
    return __libc_realloc(p, size);
}

void *memalign(size_t align, size_t size)
{
    atomic_fetch_add_explicit(&n_memalign, 1, memory_order_relaxed);
    return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
    return memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    void *p = memalign(align, size);
    if (!p)
        return 12; /* ENOMEM */
    *out = p;
    return 0;
}

void free(void *p)
{
    if (p)
        atomic_fetch_add_explicit(&n_free, 1, memory_order_relaxed);
    __libc_free(p);
}

__attribute__((destructor)) static void report(void)
{
    char buf[256];
    unsigned long m = atomic_load(&n_malloc), c = atomic_load(&n_calloc),
                  r = atomic_load(&n_realloc), a = atomic_load(&n_memalign);
    /* snprintf + write: no stdio buffering (and no allocation) at exit. */
    int len = snprintf(buf, sizeof(buf),
                       "malloc_count: malloc=%lu calloc=%lu realloc=%lu memalign=%lu "
                       "total=%lu free=%lu\n",
                       m, c, r, a, m + c + r + a, atomic_load(&n_free));
    if (len > 0)
        (void)!write(2, buf, (size_t)len);
}
