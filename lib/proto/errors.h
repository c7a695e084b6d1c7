/* errors.h -- setting the per-handle error (internal). */
#ifndef CLUSTERC_ERRORS_H
#define CLUSTERC_ERRORS_H
#include <stdarg.h>
#include <stddef.h>
#include "clusterc/clusterc.h"

#define CLUSTERC__ERRSTR_MAX 512

typedef struct clusterc__err {
    int code;
    char str[CLUSTERC__ERRSTR_MAX];
} clusterc__err;

/* Set code and a printf-style message. */
void clusterc__err_set(clusterc__err *e, int code, const char *fmt, ...)
    CLUSTERC_PRINTF(3, 4);
void clusterc__err_vset(clusterc__err *e, int code, const char *fmt, va_list ap);
void clusterc__err_clear(clusterc__err *e);
/* For the pure parsers' (char *err, size_t cap) convention: format the
 * message into err when err is not NULL and cap > 0; returns -1. */
int clusterc__fail(char *err, size_t cap, const char *fmt, ...) CLUSTERC_PRINTF(3, 4);
#endif
