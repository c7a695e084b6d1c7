/* url.h -- clusterc_options from a go-redis style cluster URL (pure). */
#ifndef CLUSTERC_URL_H
#define CLUSTERC_URL_H
#include <stddef.h>
#include <stdint.h>
#include "clusterc/clusterc.h"

/* Strings made by a parse, one allocation each, chained; what
 * clusterc_options.url_strings points to. */
typedef struct clusterc__url_str {
    struct clusterc__url_str *next;
    char s[];
} clusterc__url_str;

/* Free a chain (NULL-safe). */
void clusterc__url_strings_free(clusterc__url_str *list);

/*
 * Parse url into *o. All or nothing: on success every key the URL names is
 * set in *o, the strings the URL provides (seeds, user, password, ...) are
 * chained on a new list returned in *strings_out (the caller owns it; *o
 * points into it), and 0 is returned. On failure *o is unchanged, nothing
 * is allocated, err holds the reason (naming the key, and the value unless
 * it may hold a secret: docs/security.md), and -1
 * is returned. o->url_strings and o->url_error are not touched.
 */
int clusterc__url_parse(const char *url, clusterc_options *o, clusterc__url_str **strings_out,
                        char *err, size_t errcap);

/* A Go duration ("1m30s", "500ms", "250us", "1.5h") or a plain integer
 * meaning seconds (go-redis's rule), into nanoseconds. 0 / -1. */
int clusterc__url_duration(const char *s, int64_t *ns);

/* true/false/1/0/yes/no, any case, into *v. 0 / -1. */
int clusterc__url_bool(const char *s, int *v);
#endif
