/* json.h -- a small JSON writer into a growable buffer (pure, internal).
 *
 * Values are written in order; commas and key/value colons are placed by
 * the writer. Strings are escaped (quotes, backslash, control characters)
 * and UTF-8 passes through; a byte that is not valid UTF-8 becomes U+FFFD,
 * so the output always parses (reply data may be arbitrary bytes). Out of
 * memory is sticky: later calls do nothing and finish returns NULL.
 */
#ifndef CLUSTERC_JSON_H
#define CLUSTERC_JSON_H
#include <stddef.h>

#define CLUSTERC__JSON_DEPTH 32

typedef struct clusterc__json {
    char *buf;
    size_t len, cap;
    int oom;                 /* an allocation failed (or nesting too deep) */
    int depth;
    int after_key;           /* the next value follows "key": */
    unsigned char count[CLUSTERC__JSON_DEPTH];  /* 1: this level has a value */
} clusterc__json;

void clusterc__json_init(clusterc__json *j);
/* Free the buffer (for error paths; after finish the caller owns it). */
void clusterc__json_free(clusterc__json *j);
/* The text (malloc'ed, NUL-terminated; the caller frees it), or NULL when
 * out of memory (or nothing was written). Leaves j empty. */
char *clusterc__json_finish(clusterc__json *j);

void clusterc__json_object(clusterc__json *j);      /* { */
void clusterc__json_object_end(clusterc__json *j);  /* } */
void clusterc__json_array(clusterc__json *j);       /* [ */
void clusterc__json_array_end(clusterc__json *j);   /* ] */
void clusterc__json_key(clusterc__json *j, const char *key);   /* "key": */

void clusterc__json_str(clusterc__json *j, const char *s);     /* NULL -> null */
void clusterc__json_strn(clusterc__json *j, const char *s, size_t len);
void clusterc__json_int(clusterc__json *j, long long v);
void clusterc__json_uint(clusterc__json *j, unsigned long long v);
void clusterc__json_double(clusterc__json *j, double v);       /* NaN/inf -> null */
void clusterc__json_bool(clusterc__json *j, int v);
void clusterc__json_null(clusterc__json *j);

/* key + value in one call, for the common object member. */
void clusterc__json_kstr(clusterc__json *j, const char *key, const char *s);
void clusterc__json_kint(clusterc__json *j, const char *key, long long v);
void clusterc__json_kuint(clusterc__json *j, const char *key, unsigned long long v);
/* An int where -1 means "not known": written as null. */
void clusterc__json_kint_known(clusterc__json *j, const char *key, long long v);
void clusterc__json_kbool(clusterc__json *j, const char *key, int v);
#endif
