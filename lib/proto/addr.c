/* addr.c -- host:port parsing and formatting (pure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "addr.h"

/* The text shown in error messages is clipped so a huge bogus input cannot
 * push the reason out of a fixed-size error buffer. */
#define SHOW_MAX 80

static int fail(char *err, size_t errcap, const char *s, size_t len, const char *why)
{
    if (err != NULL && errcap > 0)
        snprintf(err, errcap, "bad address \"%.*s%s\": %s",
                 (int)(len > SHOW_MAX ? SHOW_MAX : len), s,
                 len > SHOW_MAX ? "..." : "", why);
    return -1;
}

/* Port: 1..5 decimal digits, 1..65535. No sign, no spaces: the servers never
 * print them, so anything else is a corrupted or mistyped address. */
static int parse_port(const char *p, size_t n)
{
    if (n == 0 || n > 5)
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return (v >= 1 && v <= 65535) ? v : -1;
}

/* Control bytes, spaces and brackets never belong in a host name or
 * address; rejecting them here keeps them out of logs and resolvers. Nor do
 * '@', '/', '?' and '#': they are a URL's ("redis://user:pass@host:port"),
 * and a host that holds them would carry a password to the resolver and
 * into every message naming the node. Returns the bad byte, or 0. */
static int host_bad_char(const char *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= ' ' || c == 0x7f || strchr("[]@/?#", c))
            return c ? c : ' ';
    }
    return 0;
}

int clusterc__addr_parse(const char *s, size_t len, clusterc__addr *out,
                         char *err, size_t errcap)
{
    const char *host, *port;
    size_t hostlen, portlen;

    if (s == NULL)
        return fail(err, errcap, "", 0, "no address");
    if (len > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (close == NULL)
            return fail(err, errcap, s, len, "missing ']'");
        host = s + 1;
        hostlen = (size_t)(close - host);
        size_t rest = len - (size_t)(close - s) - 1;
        if (rest == 0 || close[1] != ':')
            return fail(err, errcap, s, len, "missing port");
        port = close + 2;
        portlen = rest - 1;
    } else {
        /* Split at the last colon: bare IPv6 ("::1:7001") is how CLUSTER
         * NODES and MOVED print it, and host names cannot hold a colon. */
        const char *colon = NULL;
        for (size_t i = len; i > 0; i--) {
            if (s[i - 1] == ':') {
                colon = s + i - 1;
                break;
            }
        }
        if (colon == NULL)
            return fail(err, errcap, s, len, "missing port");
        host = s;
        hostlen = (size_t)(colon - s);
        port = colon + 1;
        portlen = len - hostlen - 1;
    }
    if (portlen == 0)
        return fail(err, errcap, s, len, "missing port");
    int p = parse_port(port, portlen);
    if (p < 0)
        return fail(err, errcap, s, len, "port must be a number in 1..65535");
    if (hostlen >= CLUSTERC__HOST_MAX)
        return fail(err, errcap, s, len, "host name too long");
    int bad = host_bad_char(host, hostlen);
    if (bad) {
        char why[64];
        if (bad <= ' ' || bad == 0x7f)
            snprintf(why, sizeof(why), "invalid character in host (a space or control byte)");
        else
            snprintf(why, sizeof(why), "invalid character '%c' in host", bad);
        return fail(err, errcap, s, len, why);
    }
    memcpy(out->host, host, hostlen);
    out->host[hostlen] = '\0';
    out->port = p;
    return 0;
}

char *clusterc__addr_format(char *out, size_t cap, const char *host, int port)
{
    if (out == NULL || cap == 0)
        return out;
    /* A colon in the host can only be IPv6: bracket it so the result parses
     * back unambiguously (the last-colon rule would also work, but brackets
     * are what people and other tools expect). */
    /* By hand, not snprintf: installing a map formats every node's name
     * (the node table's key), and at thousands of nodes snprintf's format
     * parsing was a tenth of a map load (issue 16). Same output, cut to
     * cap the way snprintf cuts. */
    char tmp[CLUSTERC__ADDR_MAX + 16], digits[12];
    size_t len = strlen(host), n = 0, d = 0;
    int v6 = memchr(host, ':', len) != NULL;
    unsigned u = port < 0 ? 0u - (unsigned)port : (unsigned)port;
    do
        digits[d++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (port < 0)
        digits[d++] = '-';
    if (len > sizeof(tmp) - 16)
        len = sizeof(tmp) - 16;   /* hosts are shorter: parse caps them */
    if (v6)
        tmp[n++] = '[';
    memcpy(tmp + n, host, len);
    n += len;
    if (v6)
        tmp[n++] = ']';
    tmp[n++] = ':';
    while (d > 0)
        tmp[n++] = digits[--d];
    size_t keep = n < cap ? n : cap - 1;
    memcpy(out, tmp, keep);
    out[keep] = '\0';
    return out;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int clusterc__seeds_parse(const char *seeds, clusterc__addr **out, size_t *n,
                          char *err, size_t errcap)
{
    size_t cap = 1, count = 0;
    if (seeds == NULL)
        seeds = "";
    for (const char *p = seeds; *p; p++)
        cap += (*p == ',');
    clusterc__addr *v = malloc(cap * sizeof(*v));
    if (v == NULL) {
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "out of memory");
        return -2;
    }
    const char *p = seeds;
    for (;;) {
        const char *end = strchr(p, ',');
        if (end == NULL)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && is_blank(*a))
            a++;
        while (b > a && is_blank(b[-1]))
            b--;
        /* A seed must be dialled, so unlike a topology entry (":7001",
         * an unknown host) it needs a host. */
        if (b > a && (clusterc__addr_parse(a, (size_t)(b - a), &v[count], err, errcap) != 0 ||
                      (!v[count].host[0] && fail(err, errcap, a, (size_t)(b - a), "missing host") < 0))) {
            free(v);
            return -1;
        }
        count += b > a;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    if (count == 0) {
        free(v);
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "seed list \"%.*s\" is empty", SHOW_MAX, seeds);
        return -1;
    }
    *out = v;
    *n = count;
    return 0;
}
