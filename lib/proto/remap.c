/* remap.c -- announced node addresses -> addresses the client dials.
 *
 * What ioredis calls natMap and redis-py address_remap: the static map
 * ("172.30.0.17:7007=127.0.0.1:7007,...") is looked up first, then the
 * caller's callback. Seeds are never remapped: they are dial addresses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "remap.h"

static int parse_pair(const char *s, size_t len, clusterc__remap *out, char *err, size_t errcap)
{
    const char *eq = memchr(s, '=', len);
    char why[200];
    if (!eq) {
        snprintf(err, errcap, "entry \"%.*s\" has no '=' (want announced=dialled)", (int)len, s);
        return -1;
    }
    if (clusterc__addr_parse(s, (size_t)(eq - s), &out->from, why, sizeof(why)) < 0 ||
        clusterc__addr_parse(eq + 1, len - (size_t)(eq - s) - 1, &out->to, why, sizeof(why)) < 0) {
        snprintf(err, errcap, "entry \"%.*s\": %s", (int)len, s, why);
        return -1;
    }
    if (!out->from.host[0] || !out->to.host[0]) {
        snprintf(err, errcap, "entry \"%.*s\": both sides need a host", (int)len, s);
        return -1;
    }
    return 0;
}

int clusterc__remap_parse(const char *spec, clusterc__remap **out, size_t *n,
                          char *err, size_t errcap)
{
    size_t cap = 1, k = 0;
    *out = NULL;
    *n = 0;
    if (!spec || !*spec)
        return 0;
    for (const char *p = spec; *p; p++)
        cap += *p == ',';
    clusterc__remap *v = calloc(cap, sizeof(*v));
    if (!v) {
        snprintf(err, errcap, "out of memory");
        return -2;
    }
    for (const char *p = spec; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && *p == ' ') { p++; len--; }
        while (len > 0 && p[len - 1] == ' ') len--;
        if (len > 0 && parse_pair(p, len, &v[k++], err, errcap) < 0) {
            free(v);
            return -1;
        }
        p = end ? end + 1 : p + len;
        if (!end)
            break;
    }
    *out = v;
    *n = k;
    return 0;
}

void clusterc__remap_apply(const clusterc__remap *map, size_t n, clusterc_remap_fn *fn,
                           void *arg, const clusterc__addr *in, clusterc__addr *out)
{
    *out = *in;
    for (size_t i = 0; i < n; i++) {
        if (map[i].from.port == in->port && strcmp(map[i].from.host, in->host) == 0) {
            *out = map[i].to;
            return;
        }
    }
    if (fn) {
        clusterc__addr t;
        memset(&t, 0, sizeof(t));
        if (fn(in->host, in->port, t.host, sizeof(t.host), &t.port, arg) == 1 &&
            t.port > 0 && t.port <= 65535 && memchr(t.host, '\0', sizeof(t.host)))
            *out = t;
    }
}
