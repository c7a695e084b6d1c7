/* redirect.h -- classify cluster error replies (pure). */
#ifndef CLUSTERC_REDIRECT_H
#define CLUSTERC_REDIRECT_H
#include <stddef.h>
#include "addr.h"

typedef enum clusterc__errkind {
    CLUSTERC__ERR_OTHER = 0,  /* an ordinary error reply: give it to the caller */
    CLUSTERC__ERR_MOVED,      /* -MOVED <slot> <host:port> */
    CLUSTERC__ERR_ASK,        /* -ASK <slot> <host:port> */
    CLUSTERC__ERR_TRYAGAIN,   /* -TRYAGAIN ... */
    CLUSTERC__ERR_CLUSTERDOWN,/* -CLUSTERDOWN ... */
    CLUSTERC__ERR_LOADING,    /* -LOADING ... */
    CLUSTERC__ERR_MASTERDOWN, /* -MASTERDOWN ... */
    CLUSTERC__ERR_READONLY,   /* -READONLY You can't write against a read only replica */
    CLUSTERC__ERR_MALFORMED   /* starts like MOVED/ASK but cannot be parsed */
} clusterc__errkind;

typedef struct clusterc__redirect {
    clusterc__errkind kind;
    int slot;                 /* MOVED/ASK: 0..16383 */
    clusterc__addr target;    /* MOVED/ASK: where to go; empty endpoint is
                                 replaced by self_host */
} clusterc__redirect;

/*
 * Classify the text of an error reply (str, len: without the leading '-').
 * self_host is the host of the node that sent it, used when the endpoint is
 * empty ("-MOVED 3999 :6381"). Never reads past len; garbage or truncated
 * MOVED/ASK texts give CLUSTERC__ERR_MALFORMED. Returns out->kind.
 */
clusterc__errkind clusterc__classify_error(const char *str, size_t len,
                                           const char *self_host,
                                           clusterc__redirect *out);
#endif
