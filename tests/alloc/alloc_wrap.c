/* alloc_wrap.c -- the counter behind --wrap=malloc,calloc,realloc,strdup. */
#include <errno.h>
#include "alloc_wrap.h"

static int armed;
static long counted;
static long fail_at;
static int injected;

void alloc_arm(long n)
{
    counted = 0;
    fail_at = n;
    injected = 0;
    armed = 1;
}

long alloc_disarm(void)
{
    armed = 0;
    return counted;
}

int alloc_injected(void)
{
    return injected;
}

/* 1 when this allocation is the one to fail. */
static int fail_now(void)
{
    if (!armed)
        return 0;
    counted++;
    if (counted != fail_at)
        return 0;
    injected = 1;
    errno = ENOMEM;
    return 1;
}

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fail_now() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
    return fail_now() ? NULL : __real_strdup(s);
}
