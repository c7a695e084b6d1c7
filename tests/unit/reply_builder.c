/* reply_builder.c -- canned redisReply trees for unit tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "reply_builder.h"

redisReply *rb_new(int type)
{
    redisReply *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->type = type;
    return r;
}

redisReply *S(const char *s)
{
    redisReply *r = rb_new(REDIS_REPLY_STRING);
    r->len = strlen(s);
    r->str = malloc(r->len + 1);
    assert_non_null(r->str);
    memcpy(r->str, s, r->len + 1);
    return r;
}

redisReply *ST(const char *s)
{
    redisReply *r = S(s);
    r->type = REDIS_REPLY_STATUS;
    return r;
}

redisReply *I(long long v)
{
    redisReply *r = rb_new(REDIS_REPLY_INTEGER);
    r->integer = v;
    return r;
}

redisReply *NIL(void)
{
    return rb_new(REDIS_REPLY_NIL);
}

redisReply *rb_array(redisReply *first, ...)
{
    redisReply *r = rb_new(REDIS_REPLY_ARRAY);
    va_list ap;
    size_t n = 0;
    va_start(ap, first);
    for (redisReply *e = first; e != NULL; e = va_arg(ap, redisReply *))
        n++;
    va_end(ap);
    r->elements = n;
    r->element = n ? calloc(n, sizeof(*r->element)) : NULL;
    va_start(ap, first);
    n = 0;
    for (redisReply *e = first; e != NULL; e = va_arg(ap, redisReply *))
        r->element[n++] = e;
    va_end(ap);
    return r;
}
