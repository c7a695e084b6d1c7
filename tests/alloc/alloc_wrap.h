/* alloc_wrap.h -- the N-th allocation fails (issue 12, item 2).
 *
 * it_alloc is linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
 * --wrap=strdup: every call to those functions from an object linked into
 * the executable (libclusterc.a's objects, libhiredis.a's when it is linked
 * statically, the test's own) lands in __wrap_*, which counts it while the
 * counter is armed and fails the N-th (NULL, errno ENOMEM). Shared
 * libraries (libevent, OpenSSL, libc's own getaddrinfo...) are not reached:
 * their calls bind inside their own objects. free() is not wrapped. */
#ifndef CLUSTERC_ALLOC_WRAP_H
#define CLUSTERC_ALLOC_WRAP_H
#include <stddef.h>

/* Start counting; the fail_at-th allocation from now fails (0: none). */
void alloc_arm(long fail_at);
/* Stop counting; returns how many allocations were counted. */
long alloc_disarm(void);
/* 1 when the armed allocation failed since the last alloc_arm. */
int alloc_injected(void);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
#endif
