/* errors.c -- the error table, event names and the per-handle message. */
#include <stdarg.h>
#include <stdio.h>
#include "errors.h"

CLUSTERC_API const char *clusterc_strerror(int code)
{
    switch (code) {
#define CLUSTERC_ERRNO_CASE(name, num, text) case num: return text;
    CLUSTERC_ERRNO_MAP(CLUSTERC_ERRNO_CASE)
#undef CLUSTERC_ERRNO_CASE
    default: return "unknown error";
    }
}

void clusterc__err_vset(clusterc__err *e, int code, const char *fmt, va_list ap)
{
    e->code = code;
    vsnprintf(e->str, sizeof(e->str), fmt, ap);
}

void clusterc__err_set(clusterc__err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    clusterc__err_vset(e, code, fmt, ap);
    va_end(ap);
}

void clusterc__err_clear(clusterc__err *e)
{
    e->code = 0;
    e->str[0] = '\0';
}

CLUSTERC_API const char *clusterc_event_name(int type)
{
    switch (type) {
    case CLUSTERC_EVENT_READY: return "READY";
    case CLUSTERC_EVENT_MAP_UPDATED: return "MAP_UPDATED";
    case CLUSTERC_EVENT_NODE_CONNECTED: return "NODE_CONNECTED";
    case CLUSTERC_EVENT_NODE_DISCONNECTED: return "NODE_DISCONNECTED";
    case CLUSTERC_EVENT_NODE_FAILING: return "NODE_FAILING";
    case CLUSTERC_EVENT_NODE_RECOVERED: return "NODE_RECOVERED";
    case CLUSTERC_EVENT_DRAINED: return "DRAINED";
    case CLUSTERC_EVENT_SUBSCRIBE_REFUSED: return "SUBSCRIBE_REFUSED";
    default: return "UNKNOWN";
    }
}

int clusterc__fail(char *err, size_t cap, const char *fmt, ...)
{
    if (err != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, cap, fmt, ap);
        va_end(ap);
    }
    return -1;
}
