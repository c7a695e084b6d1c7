/* addr.h -- host:port parsing and formatting (pure). */
#ifndef CLUSTERC_ADDR_H
#define CLUSTERC_ADDR_H
#include <stddef.h>

#define CLUSTERC__HOST_MAX 256  /* longest host name kept, NUL included */
#define CLUSTERC__ADDR_MAX (CLUSTERC__HOST_MAX + 8) /* "[host]:65535" */

typedef struct clusterc__addr {
    char host[CLUSTERC__HOST_MAX]; /* no brackets, even for IPv6 */
    int port;                      /* 1..65535 */
} clusterc__addr;

/*
 * Parse one "host:port" of len bytes. Accepts "[v6]:port", and a bare IPv6
 * address whose port follows the last colon ("::1:7001", as CLUSTER NODES and
 * MOVED print them). An empty host ("" or ":7001") gives host "" (the caller
 * decides what that means: the protocol says "the host you asked").
 * Returns 0, or -1 with a reason in err (which names the text).
 */
int clusterc__addr_parse(const char *s, size_t len, clusterc__addr *out,
                         char *err, size_t errcap);

/* Write the canonical form ("host:port", "[v6]:port") into out. Returns out. */
char *clusterc__addr_format(char *out, size_t cap, const char *host, int port);

/*
 * Split a comma-separated seed list into a new array (*out, *n), freed with
 * free(). Blank entries around commas are ignored; an empty list is an
 * error. Returns 0, or -1 with err naming the bad entry, or -2 when out
 * of memory.
 */
int clusterc__seeds_parse(const char *seeds, clusterc__addr **out, size_t *n,
                          char *err, size_t errcap);
#endif
