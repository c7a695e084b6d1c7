/* url.c -- clusterc_options from a go-redis style cluster URL (pure).
 *
 *   redis://[user[:password]@]host[:port][/][?key=value&...]
 *
 * The keys, their meaning and their value syntax follow go-redis's
 * ParseClusterURL so a URL written for a Go service works here unchanged:
 * durations are Go durations ("1m30s", "500ms") or plain integers meaning
 * seconds, `addr` repeats to add seeds, a host without a port gets 6379, and
 * an empty value leaves the option at its default. go-redis's connection
 * pool keys (pool_size, ...) are accepted and checked but have no effect:
 * this client keeps one connection per node, so refusing them would only
 * break URLs shared with Go services. Anything else is an error naming the
 * key, rather than silently ignored: a misspelt "read_onyl=true" that does
 * nothing is worse than a refusal.
 *
 * Errors never show a password (nor the user name). A password holding an
 * unescaped '/', '?' or '#' cuts the authority short, one holding '&' in
 * the query splits its pair, so pieces of it would be read as host, path
 * or key: scan_url looks at the whole URL before anything is parsed, and
 * when it holds an '@' or a password key nothing that may be such a piece
 * is quoted (the parse struct's secret and quiet). A fragment is refused:
 * a redis URL has none, and a '#' is most likely a password's.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "addr.h"
#include "options.h"
#include "url.h"

#define DEFAULT_PORT 6379
#define HINT "percent-encode '/', '?', '#', '&' and '@' in the password"

/* ------------------------------------------------------------ strings */

void clusterc__url_strings_free(clusterc__url_str *list)
{
    while (list) {
        clusterc__url_str *next = list->next;
        clusterc__secret_wipe(list->s, strlen(list->s));   /* a password, maybe */
        free(list);
        list = next;
    }
}

/* Parse state: a working copy of the options, committed only on success. */
typedef struct parse {
    clusterc_options o;
    clusterc__url_str *strs;     /* strings *o will point into */
    char *seeds;                 /* "h:p,h:p" being built */
    size_t seeds_len, seeds_cap;
    int read_timeout_set;
    int write_timeout_set;
    int write_timeout_ms;
    int secret;                  /* the URL holds an '@' or a password key:
                                    host and path text are not quoted */
    int quiet;                   /* query text is not quoted (from the first
                                    password pair on, or all of it when an
                                    '@' follows the authority) */
    int pair;                    /* query pairs seen */
    char vq[256];                /* a value quoted for a message */
    char *err;
    size_t errcap;
} parse;

static int fail(parse *p, const char *fmt, ...) CLUSTERC_PRINTF(2, 3);
static int fail(parse *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (p->err && p->errcap)
        vsnprintf(p->err, p->errcap, fmt, ap);
    va_end(ap);
    return -1;
}

/* A new string node holding len bytes of s, NUL-terminated, not linked. */
static clusterc__url_str *str_new(const char *s, size_t len)
{
    clusterc__url_str *n = malloc(sizeof(*n) + len + 1);
    if (!n)
        return NULL;
    n->next = NULL;
    memcpy(n->s, s, len);
    n->s[len] = '\0';
    return n;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode s[0..len) into a new node (not linked); '+' is a space
 * when plus is set (query strings, as Go's QueryUnescape). NULL with the
 * error set on a bad escape, an encoded NUL (it would cut the C string
 * short and change its meaning) or no memory. */
static clusterc__url_str *decode(parse *p, const char *s, size_t len, int plus, const char *what)
{
    clusterc__url_str *n = str_new(s, len);
    if (!n) {
        fail(p, "out of memory");
        return NULL;
    }
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(n);
                /* Never echo a password (nor a user name, nor what may
                 * be a piece of a password): errors get logged. */
                if (strcmp(what, "password") == 0 || strcmp(what, "user name") == 0 ||
                    p->quiet)
                    fail(p, "URL %s: bad percent-escape (value not shown)", what);
                else
                    fail(p, "URL %s: bad percent-escape in \"%.*s\"", what, (int)len, s);
                return NULL;
            }
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+' && plus) {
            c = ' ';
        }
        n->s[j++] = (char)c;
    }
    n->s[j] = '\0';
    return n;
}

/* Link n onto the parse's strings; returns its text. */
static const char *keep(parse *p, clusterc__url_str *n)
{
    n->next = p->strs;
    p->strs = n;
    return n->s;
}

static int seeds_add(parse *p, const char *host, int port)
{
    char one[CLUSTERC__ADDR_MAX];
    clusterc__addr_format(one, sizeof(one), host, port);
    size_t n = strlen(one);
    if (p->seeds_len + n + 2 > p->seeds_cap) {
        size_t cap = (p->seeds_cap ? p->seeds_cap * 2 : 128) + n + 2;
        char *s = realloc(p->seeds, cap);
        if (!s)
            return fail(p, "out of memory");
        p->seeds = s;
        p->seeds_cap = cap;
    }
    if (p->seeds_len)
        p->seeds[p->seeds_len++] = ',';
    memcpy(p->seeds + p->seeds_len, one, n + 1);
    p->seeds_len += n;
    return 0;
}

/* ------------------------------------------------------------ values */

int clusterc__url_bool(const char *s, int *v)
{
    static const char *const yes[] = {"true", "1", "yes"}, *const no[] = {"false", "0", "no"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *v = 1, 0;
        if (strcasecmp(s, no[i]) == 0)
            return *v = 0, 0;
    }
    return -1;
}

/* A whole-string base-10 integer. */
static int parse_ll(const char *s, long long *v)
{
    char *end;
    if (!*s || isspace((unsigned char)*s))
        return -1;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (*end || errno == ERANGE)
        return -1;
    *v = x;
    return 0;
}

/* The unit at *s (Go's list, with both micro signs), advancing *s; its
 * size in nanoseconds, or 0 when there is none. */
static double duration_unit(const char **s)
{
    static const struct { const char *name; double ns; } units[] = {
        {"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3}, {"ms", 1e6},
        {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t n = strlen(units[i].name);
        if (strncmp(*s, units[i].name, n) == 0) {
            *s += n;
            return units[i].ns;
        }
    }
    return 0;
}

int clusterc__url_duration(const char *s, int64_t *ns)
{
    long long secs;
    if (parse_ll(s, &secs) == 0) {   /* go-redis: a plain number is seconds */
        if (secs > INT64_MAX / 1000000000 || secs < -(INT64_MAX / 1000000000))
            return -1;
        *ns = (int64_t)secs * 1000000000;
        return 0;
    }
    int neg = 0;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (!*s)
        return -1;
    double total = 0;
    while (*s) {
        double whole = 0, frac = 0, scale = 1;
        int digits = 0;
        for (; isdigit((unsigned char)*s); s++, digits++)
            whole = whole * 10 + (*s - '0');
        if (*s == '.')
            for (s++; isdigit((unsigned char)*s); s++, digits++)
                frac += (*s - '0') * (scale /= 10);
        if (!digits)
            return -1;
        double unit = duration_unit(&s);
        if (unit == 0)
            return -1;   /* Go requires a unit on every number but a lone 0 */
        total += (whole + frac) * unit;
        if (total > 9.2e18)
            return -1;
    }
    *ns = (int64_t)(total + 0.5) * (neg ? -1 : 1);
    return 0;
}

/* ------------------------------------------------------------ the keys */

enum kind {
    K_BOOL, K_INT, K_LL, K_MS, K_US, K_STR, K_ADDR, K_READ_TIMEOUT, K_WRITE_TIMEOUT,
    K_RETRIES, K_PROTOCOL, K_POOL_INT, K_POOL_BOOL, K_POOL_DUR
};

typedef struct key {
    const char *name;
    enum kind kind;
    size_t off;               /* field in clusterc_options */
    long long lo, hi;         /* accepted range, in the field's unit */
} key;

#define F(field) offsetof(clusterc_options, field)
static const key Keys[] = {
    /* go-redis's keys */
    {"addr", K_ADDR, 0, 0, 0},
    {"read_only", K_BOOL, F(read_only), 0, 1},
    {"route_by_latency", K_BOOL, F(route_by_latency), 0, 1},
    {"route_randomly", K_BOOL, F(route_randomly), 0, 1},
    {"max_redirects", K_INT, F(max_redirects), -1, 1000},
    {"max_retries", K_RETRIES, F(max_retries), -1, 1000},   /* -1: none, as go-redis */
    {"dial_timeout", K_MS, F(connect_timeout_ms), 1, 3600000},
    {"read_timeout", K_READ_TIMEOUT, F(command_timeout_ms), 1, 86400000},
    {"write_timeout", K_WRITE_TIMEOUT, F(command_timeout_ms), 1, 86400000},
    {"min_retry_backoff", K_MS, F(retry_backoff_min_ms), 1, 60000},
    {"max_retry_backoff", K_MS, F(retry_backoff_max_ms), 1, 600000},
    {"client_name", K_STR, F(client_name), 0, 0},
    {"username", K_STR, F(username), 0, 0},
    {"password", K_STR, F(password), 0, 0},
    {"protocol", K_PROTOCOL, 0, 2, 2},   /* RESP2 only (hiredis 0.14 has no RESP3) */
    {"pool_fifo", K_POOL_BOOL, 0, 0, 1},
    {"pool_size", K_POOL_INT, 0, 0, INT_MAX},
    {"min_idle_conns", K_POOL_INT, 0, 0, INT_MAX},
    {"max_idle_conns", K_POOL_INT, 0, 0, INT_MAX},
    {"max_active_conns", K_POOL_INT, 0, 0, INT_MAX},
    {"pool_timeout", K_POOL_DUR, 0, 0, 0},
    {"conn_max_idle_time", K_POOL_DUR, 0, 0, 0},
    {"conn_max_lifetime", K_POOL_DUR, 0, 0, 0},
    /* this library's */
    {"latency_tolerance", K_US, F(latency_tolerance_us), 0, 60000000},
    {"latency_replicas_only", K_BOOL, F(latency_replicas_only), 0, 1},
    {"latency_probe", K_MS, F(latency_probe_ms), 0, 3600000},
    {"failing_timeout", K_MS, F(failing_ms), 0, 3600000},
    {"max_lag", K_MS, F(max_lag_ms), 0, 86400000},
    {"max_lag_bytes", K_LL, F(max_lag_bytes), 0, LLONG_MAX},
    {"lag_probe", K_MS, F(lag_probe_ms), 10, 3600000},
    {"blocking_pool_size", K_INT, F(blocking_pool_size), 1, 1024},
    {"pubsub_queue_max", K_INT, F(pubsub_queue_max), 1, 100000000},
    {"max_inflight", K_INT, F(max_inflight), 0, 1000000000},
    {"max_node_queue", K_INT, F(max_node_queue), 0, 1000000000},
    {"read_your_writes", K_BOOL, F(read_your_writes), 0, 1},
    {"client_az", K_STR, F(client_az), 0, 0},
    {"az_affinity", K_INT, F(az_affinity), 0, 2},
    {"refresh_interval", K_MS, F(refresh_interval_ms), 0, 86400000},
    {"refresh_min_interval", K_MS, F(refresh_min_interval_ms), 0, 3600000},
    {"node_address_map", K_STR, F(node_address_map), 0, 0},
    {"tls", K_BOOL, F(tls), 0, 1},
    {"tls_ca_file", K_STR, F(tls_ca_file), 0, 0},
    {"tls_ca_dir", K_STR, F(tls_ca_dir), 0, 0},
    {"tls_cert_file", K_STR, F(tls_cert_file), 0, 0},
    {"tls_key_file", K_STR, F(tls_key_file), 0, 0},
    {"tls_server_name", K_STR, F(tls_server_name), 0, 0},
    {"tls_insecure_skip_verify", K_BOOL, F(tls_insecure_skip_verify), 0, 1},
    {"tls_min_version", K_STR, F(tls_min_version), 0, 0},
};
#undef F

static const key *find_key(const char *name)
{
    for (size_t i = 0; i < sizeof(Keys) / sizeof(Keys[0]); i++)
        if (strcmp(Keys[i].name, name) == 0)
            return &Keys[i];
    return NULL;
}

/* The key s[0..len) percent-decodes to (query rules), or NULL: unknown,
 * or a bad escape (the parse proper reports those). */
static const key *raw_key(const char *s, size_t len)
{
    char name[32];
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return NULL;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (j + 1 >= sizeof(name))
            return NULL;
        name[j++] = (char)c;
    }
    name[j] = '\0';
    return find_key(name);
}

static int is_password(const key *k)
{
    return k && strcmp(k->name, "password") == 0;
}

/* v quoted for a message, or, past a password, a note that it is not. */
static const char *shown(parse *p, const char *v)
{
    if (p->quiet)
        return "(value not shown)";
    snprintf(p->vq, sizeof(p->vq), "\"%s\"", v);
    return p->vq;
}

/* The reason of an addr.c message ('bad address "text": reason'), without
 * the text (no reason holds '": '). */
static const char *addr_reason(const char *why)
{
    const char *r = NULL;
    for (const char *q = strstr(why, "\": "); q; q = strstr(q + 1, "\": "))
        r = q + 3;
    return r ? r : "bad address";
}

static int out_of_range(parse *p, const key *k, const char *v, const char *unit)
{
    return fail(p, "URL key \"%s\": %s is out of range (%lld..%lld%s)", k->name, shown(p, v),
                k->lo, k->hi, unit);
}

/* A duration in the key's unit (ms or us, rounded up so that a positive
 * duration never becomes 0, which often means "off"). */
static int set_duration(parse *p, const key *k, const char *v, long long *out)
{
    int64_t ns;
    if (clusterc__url_duration(v, &ns) < 0)
        return fail(p, "URL key \"%s\": bad duration %s", k->name, shown(p, v));
    int64_t per = k->kind == K_US ? 1000 : 1000000;
    long long x = ns >= 0 ? (long long)((ns + per - 1) / per) : -(long long)(-ns / per);
    if (k->kind == K_POOL_DUR)
        return 0;
    if (x < k->lo || x > k->hi)
        return out_of_range(p, k, v, k->kind == K_US ? " us" : " ms");
    *out = x;
    return 0;
}

static int set_int(parse *p, const key *k, const char *v, long long *out)
{
    if (parse_ll(v, out) < 0)
        return fail(p, "URL key \"%s\": bad integer %s", k->name, shown(p, v));
    if (*out < k->lo || *out > k->hi)
        return out_of_range(p, k, v, "");
    return 0;
}

static int apply(parse *p, const key *k, const char *v, size_t vlen)
{
    char *field = (char *)&p->o + k->off;
    long long x = 0;
    int b;
    switch (k->kind) {
    case K_ADDR: {
        clusterc__addr a;
        char why[300];
        int bad = clusterc__addr_parse(v, vlen, &a, why, sizeof(why)) < 0;
        if (bad && p->quiet)
            return fail(p, "URL key \"addr\": bad address (value not shown): %s (want host:port)",
                        addr_reason(why));
        if (bad || !a.host[0])
            return fail(p, "URL key \"addr\": %s (want host:port)", bad ? why : "missing host");
        return seeds_add(p, a.host, a.port);
    }
    case K_BOOL:
    case K_POOL_BOOL:
        if (clusterc__url_bool(v, &b) < 0)
            return fail(p, "URL key \"%s\": bad boolean %s (want true/false/1/0/yes/no)",
                        k->name, shown(p, v));
        if (k->kind == K_BOOL)
            *(int *)field = b;
        return 0;
    case K_INT:
    case K_RETRIES:
    case K_PROTOCOL:
    case K_POOL_INT:
        if (set_int(p, k, v, &x) < 0)
            return -1;
        if (k->kind == K_INT || k->kind == K_RETRIES)
            *(int *)field = k->kind == K_RETRIES && x < 0 ? 0 : (int)x;
        return 0;
    case K_LL:
        if (set_int(p, k, v, &x) < 0)
            return -1;
        *(long long *)field = x;
        return 0;
    case K_MS:
    case K_US:
    case K_READ_TIMEOUT:
    case K_POOL_DUR:
        if (set_duration(p, k, v, &x) < 0)
            return -1;
        if (k->kind != K_POOL_DUR)
            *(int *)field = (int)x;
        p->read_timeout_set |= k->kind == K_READ_TIMEOUT;
        return 0;
    case K_WRITE_TIMEOUT:   /* one deadline per command here: used when no read_timeout */
        if (set_duration(p, k, v, &x) < 0)
            return -1;
        p->write_timeout_set = 1;
        p->write_timeout_ms = (int)x;
        return 0;
    case K_STR:
        return 0;   /* handled by the caller, which owns the decoded string */
    }
    return 0;
}

/* One "key=value" of the query. An empty value leaves the option as it was
 * (go-redis reads "" as the zero value, which there means the default). */
static int query_pair(parse *p, const char *s, size_t len)
{
    const char *eq = memchr(s, '=', len);
    size_t klen = eq ? (size_t)(eq - s) : len;
    clusterc__url_str *kn = decode(p, s, klen, 1, "query key");
    if (!kn)
        return -1;
    const key *k = find_key(kn->s);
    if (!k && p->quiet)   /* maybe a piece of a password cut at an '&' */
        fail(p, "unknown URL key in query pair %d (not shown: it may be part of the password; "
             "an unescaped '&' in the password? " HINT ")", p->pair);
    else if (!k)
        fail(p, "unknown URL key \"%s\"", kn->s);
    if (!k) {
        free(kn);
        return -1;
    }
    free(kn);
    const char *vs = eq ? eq + 1 : s + len;
    clusterc__url_str *vn = decode(p, vs, (size_t)(s + len - vs), 1, k->name);
    if (!vn)
        return -1;
    if (!vn->s[0] && k->kind != K_ADDR) {
        free(vn);
        return 0;
    }
    if (k->kind == K_STR) {   /* ownership: the node moves to p->strs, *o points into it */
        *(const char **)((char *)&p->o + k->off) = keep(p, vn);
        return 0;
    }
    int rc = apply(p, k, vn->s, strlen(vn->s));
    free(vn);
    return rc;
}

static int parse_query(parse *p, const char *q)
{
    while (*q) {
        size_t len = strcspn(q, "&");
        p->pair += len > 0;
        /* A password may hold '&': nothing from its pair on is quoted. */
        if (is_password(raw_key(q, strcspn(q, "=&"))))
            p->quiet = 1;
        if (len && query_pair(p, q, len) < 0)
            return -1;
        q += len;
        if (*q == '&')
            q++;
    }
    return 0;
}

/* ------------------------------------------------------------ the URL */

/* user[:password], percent-decoded. An empty user means the default user
 * (go-redis sends AUTH password alone then). */
static int parse_userinfo(parse *p, const char *s, size_t len)
{
    const char *colon = memchr(s, ':', len);
    size_t ulen = colon ? (size_t)(colon - s) : len;
    if (ulen) {
        clusterc__url_str *u = decode(p, s, ulen, 0, "user name");
        if (!u)
            return -1;
        p->o.username = keep(p, u);
    }
    if (colon) {
        clusterc__url_str *pw = decode(p, colon + 1, len - ulen - 1, 0, "password");
        if (!pw)
            return -1;
        p->o.password = keep(p, pw);
    }
    return 0;
}

/* A host error: the host text quoted, unless the URL holds a password (a
 * piece of it may be what is read as the host). */
static int host_fail(parse *p, const char *s, size_t len, const char *why)
{
    if (p->secret)
        return fail(p, "URL host (not shown: the URL holds a password): %s", why);
    return fail(p, "URL host \"%.*s\": %s", (int)len, s, why);
}

/* host[:port] of the authority; [v6] in brackets; no port = 6379, no host =
 * localhost (go-redis's defaults). */
static int parse_host(parse *p, const char *s, size_t len)
{
    char text[CLUSTERC__ADDR_MAX + 8];
    const char *port = NULL;
    if (len == 0)
        return seeds_add(p, "localhost", DEFAULT_PORT);
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return host_fail(p, s, len, "missing ']'");
        if (close + 1 < s + len) {
            if (close[1] != ':')
                return host_fail(p, s, len, "junk after ']'");
            port = close + 1;
        }
    } else {
        port = memchr(s, ':', len);
        if (port && memchr(port + 1, ':', (size_t)(s + len - port - 1)))
            return host_fail(p, s, len, "an IPv6 address needs brackets");
    }
    if (len >= CLUSTERC__ADDR_MAX)
        return host_fail(p, s, len, "too long");
    if (!port || port + 1 == s + len)   /* "host" or "host:" */
        snprintf(text, sizeof(text), "%.*s:%d", (int)(port ? len - 1 : len), s, DEFAULT_PORT);
    else
        snprintf(text, sizeof(text), "%.*s", (int)len, s);
    clusterc__addr a;
    char why[300], hidden[320];
    int bad = clusterc__addr_parse(text, strlen(text), &a, why, sizeof(why)) < 0;
    if (bad && p->secret) {
        snprintf(hidden, sizeof(hidden), "bad address: %s", addr_reason(why));
        return host_fail(p, s, len, hidden);
    }
    if (bad || !a.host[0])
        return host_fail(p, s, len, bad ? why : "missing host");
    return seeds_add(p, a.host, a.port);
}

static int parse_scheme(parse *p, const char **s)
{
    if (strncasecmp(*s, "redis://", 8) == 0) {
        *s += 8;
        return 0;
    }
    if (strncasecmp(*s, "rediss://", 9) == 0) {
        *s += 9;
        p->o.tls = 1;
        return 0;
    }
    /* Only the scheme is shown: the rest may hold user:password@. */
    size_t n = strcspn(*s, ":/@");
    return fail(p, "URL scheme \"%.*s\": must be redis:// or rediss://", (int)(n > 20 ? 20 : n),
                *s);
}

/* Whether the query q (after '?', up to '#' or the end) holds an '@' where
 * none can be: in a key, or in the value of a key that is not a string
 * (strings, the password first, may hold one). Sets p->secret on a
 * password pair. */
static int query_stray_at(parse *p, const char *q)
{
    int stray = 0;
    while (*q && *q != '#') {
        size_t len = strcspn(q, "&#"), klen = strcspn(q, "=&#");
        const key *k = raw_key(q, klen);
        const char *at = memchr(q, '@', len);
        p->secret |= is_password(k);
        if (at && (at < q + klen || !k || k->kind != K_STR))
            stray = 1;
        q += len;
        if (*q == '&')
            q++;
    }
    return stray;
}

/* Before anything is parsed, so that no error quotes a piece of a
 * password: s is the URL after the scheme, its authority alen bytes long.
 * Sets p->secret (an '@' anywhere, or a password key) and p->quiet (an '@'
 * after the authority: what precedes it may be user info, so no query text
 * is quoted). Refuses an '@' after the authority where none can be (the
 * path, a key, a value that is not a string, the fragment): the user info
 * then holds an unescaped '/', '?' or '#'. Refuses a fragment: a redis URL
 * has none, and a '#' is most likely a password's, which would be cut. */
static int scan_url(parse *p, const char *s, size_t alen)
{
    const char *rest = s + alen, *frag = strchr(rest, '#');
    size_t plen = strcspn(rest, "?#");
    int stray = memchr(rest, '@', plen) != NULL || (frag && strchr(frag, '@'));
    p->secret = strchr(s, '@') != NULL;
    p->quiet = strchr(rest, '@') != NULL;
    if (rest[plen] == '?')
        stray |= query_stray_at(p, rest + plen + 1);
    if (stray)
        return fail(p, "URL: an '@' after the host (text not shown): an unescaped '/', '?' or "
                    "'#' in the user info? " HINT);
    if (frag)
        return fail(p, "URL: '#' is not allowed: a redis URL has no fragment (%s)",
                    p->secret ? "a '#' in the password? " HINT
                              : "percent-encode a '#' in a value as %23");
    return 0;
}

static int parse_all(parse *p, const char *url)
{
    const char *s = url;
    if (parse_scheme(p, &s) < 0)
        return -1;
    size_t alen = strcspn(s, "/?#");
    if (scan_url(p, s, alen) < 0)
        return -1;
    const char *at = NULL;
    for (const char *c = s; c < s + alen; c++)
        if (*c == '@')
            at = c;   /* the last '@': a password may hold an unescaped one */
    if (at && parse_userinfo(p, s, (size_t)(at - s)) < 0)
        return -1;
    const char *host = at ? at + 1 : s;
    if (parse_host(p, host, (size_t)(s + alen - host)) < 0)
        return -1;
    s += alen;
    if (*s == '/') {   /* a cluster has one database: "", "/" or "/0" */
        size_t plen = strcspn(s, "?");
        if (p->secret && !(plen == 1 || (plen == 2 && s[1] == '0')))
            return fail(p, "URL path (not shown: the URL holds a password): a cluster has "
                        "only database 0");
        if (!(plen == 1 || (plen == 2 && s[1] == '0')))
            return fail(p, "URL path \"%.*s\": a cluster has only database 0", (int)plen, s);
        s += plen;
    }
    if (*s == '?') {
        clusterc__url_str *q = str_new(s + 1, strlen(s + 1));
        if (!q)
            return fail(p, "out of memory");
        int rc = parse_query(p, q->s);
        clusterc__secret_wipe(q->s, strlen(q->s));   /* it held ?password=, maybe */
        free(q);
        if (rc < 0)
            return -1;
    }
    if (p->write_timeout_set && !p->read_timeout_set)
        p->o.command_timeout_ms = p->write_timeout_ms;
    return 0;
}

int clusterc__url_parse(const char *url, clusterc_options *o, clusterc__url_str **strings_out,
                        char *err, size_t errcap)
{
    parse p;
    memset(&p, 0, sizeof(p));
    p.o = *o;
    p.err = err;
    p.errcap = errcap;
    *strings_out = NULL;
    if (!url) {
        fail(&p, "URL: NULL");
        return -1;
    }
    if (parse_all(&p, url) < 0) {
        clusterc__url_strings_free(p.strs);
        free(p.seeds);
        return -1;
    }
    clusterc__url_str *seeds = str_new(p.seeds, p.seeds_len);
    free(p.seeds);
    if (!seeds) {
        clusterc__url_strings_free(p.strs);
        fail(&p, "out of memory");
        return -1;
    }
    p.o.seeds = keep(&p, seeds);
    *o = p.o;
    *strings_out = p.strs;
    return 0;
}

/* ------------------------------------------------------------ public */

static int owned_by(const clusterc__url_str *list, const char *s)
{
    for (; list; list = list->next)
        if (list->s == s)
            return 1;
    return 0;
}

/* Clear the string fields that point into list (about to be freed). */
static void forget_strings(clusterc_options *o, const clusterc__url_str *list)
{
    const char **fields[] = {&o->seeds, &o->username, &o->password, &o->client_name,
                             &o->node_address_map, &o->tls_ca_file, &o->tls_ca_dir,
                             &o->tls_cert_file, &o->tls_key_file, &o->tls_server_name,
                             &o->tls_min_version, &o->client_az};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (*fields[i] && owned_by(list, *fields[i]))
            *fields[i] = NULL;
}

CLUSTERC_API int clusterc_options_parse_url(clusterc_options *o, const char *url)
{
    if (!o)
        return -1;
    clusterc__url_str *old = o->url_strings, *fresh;
    char err[sizeof(o->url_error)];
    if (clusterc__url_parse(url, o, &fresh, err, sizeof(err)) < 0) {
        memcpy(o->url_error, err, sizeof(err));
        return -1;
    }
    /* The previous parse's strings go now; fields this URL did not set but
     * that still point into them are cleared rather than left dangling. */
    forget_strings(o, old);
    clusterc__url_strings_free(old);
    o->url_strings = fresh;
    o->url_error[0] = '\0';
    return 0;
}

CLUSTERC_API const char *clusterc_options_url_error(const clusterc_options *o)
{
    return o ? o->url_error : "";
}

CLUSTERC_API void clusterc_options_release(clusterc_options *o)
{
    if (!o || !o->url_strings)
        return;
    clusterc__url_str *list = o->url_strings;
    forget_strings(o, list);
    clusterc__url_strings_free(list);
    o->url_strings = NULL;
}
