/* info.c -- parsers for INFO replication, CLUSTER NODES, CLUSTER INFO (pure).
 *
 * These texts come from the network, and what is read from them decides
 * where reads go (lag bounds) and what the admin API changes. So every
 * field that is used is checked in full: a number is all digits and fits,
 * an id is 40 hex digits, a slot is 0..16383. A field that fails rejects the
 * whole text with a message naming the line; guessing a value instead would
 * e.g. turn "lag:garbage" into lag 0 and route to a stale replica. Fields
 * not listed here are ignored: servers add new ones in every release.
 */
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "info.h"

/* A line shown in an error is clipped, so a huge line cannot push the
 * reason out of a fixed-size error buffer. */
#define SHOW_MAX 80
#define NSLOTS 16384

/* ------------------------------------------------------------ line reader */

typedef struct lines {
    const char *p, *end;
    const char *what;       /* "INFO replication", "CLUSTER NODES", ... */
    int lineno;             /* 1-based number of the current line */
    const char *line;       /* the current line, without its "\r\n" */
    size_t len;
    char *err;
    size_t errcap;
} lines;

static void lines_init(lines *L, const char *what, const char *text, size_t len,
                       char *err, size_t errcap)
{
    L->p = text;
    L->end = text != NULL ? text + len : text;
    L->what = what;
    L->lineno = 0;
    L->line = NULL;
    L->len = 0;
    L->err = err;
    L->errcap = errcap;
    if (err != NULL && errcap > 0)
        err[0] = '\0';
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int failf(lines *L, const char *fmt, ...)
{
    if (L->err == NULL || L->errcap == 0)
        return -1;
    char msg[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t show = L->len > SHOW_MAX ? SHOW_MAX : L->len;
    if (L->line == NULL) /* about the whole text, not one line */
        snprintf(L->err, L->errcap, "%s: %s", L->what, msg);
    else
        snprintf(L->err, L->errcap, "%s: line %d \"%.*s%s\": %s", L->what, L->lineno,
                 (int)show, L->line, L->len > SHOW_MAX ? "..." : "", msg);
    return -1;
}

/* The next line ("\n" or "\r\n" ended; the last may lack it). Returns 1 and
 * sets L->line/len, 0 at the end, -1 on a NUL byte (which would silently cut
 * a copied name short). */
static int next_line(lines *L)
{
    if (L->p == NULL || L->p >= L->end)
        return 0;
    const char *nl = memchr(L->p, '\n', (size_t)(L->end - L->p));
    const char *stop = nl != NULL ? nl : L->end;
    L->line = L->p;
    L->len = (size_t)(stop - L->p);
    L->p = nl != NULL ? nl + 1 : L->end;
    L->lineno++;
    if (L->len > 0 && L->line[L->len - 1] == '\r')
        L->len--;
    if (memchr(L->line, '\0', L->len) != NULL)
        return failf(L, "contains a NUL byte");
    return 1;
}

/* ---------------------------------------------------------------- numbers */

/* Decimal, optional '-', no spaces or '+' (servers never print them), no
 * overflow. Returns 0 or -1. */
static int parse_ll(const char *s, size_t n, long long *out)
{
    int neg = n > 0 && s[0] == '-';
    size_t i = (size_t)neg;
    unsigned long long v = 0, lim = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
    if (i == n)
        return -1;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (lim - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    /* -v computed in unsigned, then converted: well defined for LLONG_MIN. */
    *out = neg ? (v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v)
               : (long long)v;
    return 0;
}

static int parse_range(const char *s, size_t n, long long lo, long long hi, long long *out)
{
    return parse_ll(s, n, out) == 0 && *out >= lo && *out <= hi ? 0 : -1;
}

/* "12.34", "-1", "0.00": what "%.2f" prints. By hand rather than strtod,
 * which needs a NUL and follows the locale's decimal point. */
static int parse_perc(const char *s, size_t n, double *out)
{
    const char *dot = memchr(s, '.', n);
    size_t ilen = dot != NULL ? (size_t)(dot - s) : n;
    long long ip;
    if (parse_ll(s, ilen, &ip) != 0 || ip > 1000000 || ip < -1000000)
        return -1;
    double frac = 0, scale = 1;
    if (dot != NULL) {
        size_t flen = n - ilen - 1;
        if (flen == 0 || flen > 9)
            return -1;
        for (size_t i = 0; i < flen; i++) {
            if (dot[1 + i] < '0' || dot[1 + i] > '9')
                return -1;
            frac = frac * 10 + (dot[1 + i] - '0');
            scale *= 10;
        }
    }
    *out = s[0] == '-' ? (double)ip - frac / scale : (double)ip + frac / scale;
    return 0;
}

static int word_eq(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && (n == 0 || memcmp(s, w, n) == 0);
}

/* ---------------------------------------------------- "key:value" texts */

typedef enum ftype {
    F_INT,      /* int */
    F_LL,       /* long long */
    F_PERC,     /* double */
    F_STR,      /* char[cap] */
    F_YESNO     /* int: 1 for yes, 0 for no, anything else is an error */
} ftype;

typedef struct field {
    const char *name;
    ftype type;
    size_t off;         /* offset in the output struct */
    size_t cap;         /* F_STR: buffer size */
    const char *yes, *no;
} field;

#define FLD(T, name, type, member) \
    {name, type, offsetof(T, member), sizeof(((T *)0)->member), NULL, NULL}
#define YESNO(T, name, member, yes, no) \
    {name, F_YESNO, offsetof(T, member), sizeof(int), yes, no}

static int store(lines *L, const field *f, void *base, const char *v, size_t n)
{
    char *dst = (char *)base + f->off;
    long long ll;
    switch (f->type) {
    case F_INT:
        if (parse_range(v, n, INT_MIN, INT_MAX, &ll) != 0)
            return failf(L, "%s is not a number", f->name);
        *(int *)(void *)dst = (int)ll;
        return 0;
    case F_LL:
        if (parse_ll(v, n, &ll) != 0)
            return failf(L, "%s is not a number", f->name);
        *(long long *)(void *)dst = ll;
        return 0;
    case F_PERC:
        if (parse_perc(v, n, (double *)(void *)dst) != 0)
            return failf(L, "%s is not a number", f->name);
        return 0;
    case F_STR:
        if (n >= f->cap)
            return failf(L, "%s is too long (%zu bytes)", f->name, n);
        memcpy(dst, v, n);
        dst[n] = '\0';
        return 0;
    case F_YESNO:
        if (!word_eq(v, n, f->yes) && !word_eq(v, n, f->no))
            return failf(L, "%s is neither \"%s\" nor \"%s\"", f->name, f->yes, f->no);
        *(int *)(void *)dst = word_eq(v, n, f->yes);
        return 0;
    }
    return failf(L, "internal: bad field type");
}

/* Store "key:value" if key is in the table; unknown keys are ignored. */
static int store_known(lines *L, const field *tab, size_t ntab, void *base,
                       const char *key, size_t klen, const char *v, size_t vlen)
{
    for (size_t i = 0; i < ntab; i++)
        if (word_eq(key, klen, tab[i].name))
            return store(L, &tab[i], base, v, vlen);
    return 0;
}

/* Split the current line at its first ':' (values may hold more: IPv6). */
static int split_kv(lines *L, const char **key, size_t *klen, const char **v, size_t *vlen)
{
    const char *colon = memchr(L->line, ':', L->len);
    *key = *v = L->line; /* set on every path: gcc -O3 cannot see failf is -1 */
    *klen = *vlen = 0;
    if (colon == NULL || colon == L->line) {
        failf(L, colon == NULL ? "not a \"field:value\" line" : "empty field name");
        return -1;
    }
    *key = L->line;
    *klen = (size_t)(colon - L->line);
    *v = colon + 1;
    *vlen = L->len - *klen - 1;
    return 0;
}

/* -------------------------------------------------------- INFO replication */

#define R clusterc__info_repl
static const field repl_fields[] = {
    YESNO(R, "role", is_primary, "master", "slave"),
    FLD(R, "connected_slaves", F_INT, connected_replicas),
    FLD(R, "master_repl_offset", F_LL, master_repl_offset),
    FLD(R, "master_replid", F_STR, master_replid),
    FLD(R, "master_host", F_STR, master_host),
    FLD(R, "master_port", F_INT, master_port),
    YESNO(R, "master_link_status", master_link_up, "up", "down"),
    FLD(R, "master_last_io_seconds_ago", F_LL, master_last_io_seconds_ago),
    FLD(R, "master_sync_in_progress", F_INT, master_sync_in_progress),
    FLD(R, "master_link_down_since_seconds", F_LL, master_link_down_since_seconds),
    FLD(R, "slave_read_repl_offset", F_LL, slave_read_repl_offset),
    FLD(R, "slave_repl_offset", F_LL, slave_repl_offset),
    FLD(R, "slave_read_only", F_INT, slave_read_only),
    FLD(R, "slave_priority", F_LL, slave_priority),
    FLD(R, "master_sync_total_bytes", F_LL, master_sync_total_bytes),
    FLD(R, "master_sync_read_bytes", F_LL, master_sync_read_bytes),
    FLD(R, "master_sync_left_bytes", F_LL, master_sync_left_bytes),
    FLD(R, "master_sync_perc", F_PERC, master_sync_perc),
    FLD(R, "master_sync_last_io_seconds_ago", F_LL, master_sync_last_io_seconds_ago),
};
#undef R

static void repl_defaults(clusterc__info_repl *r)
{
    memset(r, 0, sizeof(*r));
    r->is_primary = -1; /* until the role line: required, checked at the end */
    r->master_repl_offset = -1;
    r->master_port = -1;
    r->master_link_up = -1;
    r->master_last_io_seconds_ago = -1;
    r->master_sync_in_progress = -1;
    r->master_link_down_since_seconds = -1;
    r->slave_read_repl_offset = -1;
    r->slave_repl_offset = -1;
    r->slave_read_only = -1;
    r->slave_priority = -1;
    r->master_sync_total_bytes = -1;
    r->master_sync_read_bytes = -1;
    r->master_sync_left_bytes = -1;
    r->master_sync_perc = -1;
    r->master_sync_last_io_seconds_ago = -1;
}

/* "slave0" .. "slaveN": "slave" and digits only, unlike slave_repl_offset. */
static int is_replica_key(const char *k, size_t n)
{
    if (n <= 5 || memcmp(k, "slave", 5) != 0)
        return 0;
    for (size_t i = 5; i < n; i++)
        if (k[i] < '0' || k[i] > '9')
            return 0;
    return 1;
}

/* One "key=value" of a replica line into rep; *seen collects what was set. */
static int replica_pair(lines *L, const char *k, size_t kl, const char *v, size_t vl,
                        clusterc__info_replica *rep, unsigned *seen)
{
    long long ll;
    if (word_eq(k, kl, "ip")) {
        if (vl >= sizeof(rep->ip))
            return failf(L, "replica ip is too long");
        memcpy(rep->ip, v, vl);
        rep->ip[vl] = '\0';
        *seen |= 1;
    } else if (word_eq(k, kl, "port")) {
        if (parse_range(v, vl, 0, 65535, &ll) != 0)
            return failf(L, "replica port is not a port number");
        rep->port = (int)ll;
        *seen |= 2;
    } else if (word_eq(k, kl, "state")) {
        if (vl == 0 || vl >= sizeof(rep->state))
            return failf(L, "replica state is empty or too long");
        memcpy(rep->state, v, vl);
        rep->state[vl] = '\0';
        *seen |= 4;
    } else if (word_eq(k, kl, "offset") || word_eq(k, kl, "repl_offset")) {
        /* "repl_offset" is what 2.8.0 printed before the rename. */
        if (parse_ll(v, vl, &rep->offset) != 0)
            return failf(L, "replica offset is not a number");
        *seen |= 8;
    } else if (word_eq(k, kl, "lag")) {
        if (parse_ll(v, vl, &rep->lag) != 0)
            return failf(L, "replica lag is not a number");
    }
    return 0; /* others (Valkey's "type=replica", ...) ignored */
}

static void *grow(lines *L, void *v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return v;
    size_t ncap = *cap ? *cap * 2 : 4;
    void *nv = realloc(v, ncap * size);
    if (nv == NULL) {
        failf(L, "out of memory");
        return NULL;
    }
    *cap = ncap;
    return nv;
}

/* "slaveN:ip=...,port=...,state=...,offset=...,lag=..." appended to r. */
static int parse_replica(lines *L, clusterc__info_repl *r, size_t *cap,
                         const char *v, size_t vlen)
{
    clusterc__info_replica rep;
    memset(&rep, 0, sizeof(rep));
    rep.offset = -1;
    rep.lag = -1;
    unsigned seen = 0;
    const char *p = v, *end = v + vlen;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma != NULL ? comma : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (eq == NULL)
            return failf(L, "replica field without '='");
        if (replica_pair(L, p, (size_t)(eq - p), eq + 1, (size_t)(stop - eq - 1),
                         &rep, &seen) != 0)
            return -1;
        p = comma != NULL ? comma + 1 : end;
    }
    if (seen != 15)
        return failf(L, "replica line lacks ip, port, state or offset");
    clusterc__info_replica *nv = grow(L, r->replicas, r->nreplicas, cap, sizeof(*nv));
    if (nv == NULL)
        return -1;
    r->replicas = nv;
    r->replicas[r->nreplicas++] = rep;
    return 0;
}

/* A "# Section" header: returns 1 and whether it opens Replication. */
static int section_header(const lines *L, int *in_repl)
{
    if (L->len == 0 || L->line[0] != '#')
        return 0;
    const char *s = L->line + 1, *end = L->line + L->len;
    while (s < end && *s == ' ')
        s++;
    *in_repl = (size_t)(end - s) == 11 && memcmp(s, "Replication", 11) == 0;
    return 1;
}

static int repl_line(lines *L, clusterc__info_repl *r, size_t *cap)
{
    const char *k, *v;
    size_t kl, vl;
    if (split_kv(L, &k, &kl, &v, &vl) != 0)
        return -1;
    if (is_replica_key(k, kl))
        return parse_replica(L, r, cap, v, vl);
    return store_known(L, repl_fields, sizeof(repl_fields) / sizeof(repl_fields[0]),
                       r, k, kl, v, vl);
}

int clusterc__info_repl_parse(const char *text, size_t len, clusterc__info_repl *out,
                              char *err, size_t errcap)
{
    lines L;
    size_t cap = 0;
    int in_repl = 1; /* text without headers: all of it is the section */
    int rc;

    lines_init(&L, "INFO replication", text, len, err, errcap);
    repl_defaults(out);
    while ((rc = next_line(&L)) > 0) {
        if (L.len == 0 || section_header(&L, &in_repl) || !in_repl)
            continue;
        if ((rc = repl_line(&L, out, &cap)) != 0)
            break;
    }
    if (rc == 0 && out->is_primary < 0) {
        L.line = NULL;
        L.len = 0;
        rc = failf(&L, "no role line");
    }
    if (rc != 0) {
        clusterc__info_repl_free(out); /* leaves it safe to free again */
        return -1;
    }
    return 0;
}

void clusterc__info_repl_free(clusterc__info_repl *r)
{
    if (r == NULL)
        return;
    free(r->replicas);
    r->replicas = NULL;
    r->nreplicas = 0;
}

/* ------------------------------------------------------------ CLUSTER INFO */

#define C clusterc__cluster_info
static const field cinfo_fields[] = {
    YESNO(C, "cluster_state", state_ok, "ok", "fail"),
    FLD(C, "cluster_slots_assigned", F_LL, slots_assigned),
    FLD(C, "cluster_slots_ok", F_LL, slots_ok),
    FLD(C, "cluster_slots_pfail", F_LL, slots_pfail),
    FLD(C, "cluster_slots_fail", F_LL, slots_fail),
    FLD(C, "cluster_known_nodes", F_LL, known_nodes),
    FLD(C, "cluster_size", F_LL, size),
    FLD(C, "cluster_current_epoch", F_LL, current_epoch),
    FLD(C, "cluster_my_epoch", F_LL, my_epoch),
};
#undef C

int clusterc__cluster_info_parse(const char *text, size_t len, clusterc__cluster_info *out,
                                 char *err, size_t errcap)
{
    lines L;
    int rc, ignored;

    lines_init(&L, "CLUSTER INFO", text, len, err, errcap);
    out->state_ok = -1;
    out->slots_assigned = out->slots_ok = out->slots_pfail = out->slots_fail = -1;
    out->known_nodes = out->size = out->current_epoch = out->my_epoch = -1;
    while ((rc = next_line(&L)) > 0) {
        const char *k, *v;
        size_t kl, vl;
        if (L.len == 0 || section_header(&L, &ignored))
            continue;
        if (split_kv(&L, &k, &kl, &v, &vl) != 0 ||
            store_known(&L, cinfo_fields, sizeof(cinfo_fields) / sizeof(cinfo_fields[0]),
                        out, k, kl, v, vl) != 0)
            return -1;
    }
    return rc == 0 ? 0 : -1;
}

/* ----------------------------------------------------------- CLUSTER NODES */

/* The next space-separated token of the line; 0 when none is left. */
static int next_tok(const char **p, const char *end, const char **tok, size_t *n)
{
    while (*p < end && **p == ' ')
        (*p)++;
    if (*p >= end)
        return 0;
    *tok = *p;
    while (*p < end && **p != ' ')
        (*p)++;
    *n = (size_t)(*p - *tok);
    return 1;
}

static int is_node_id(const char *s, size_t n)
{
    if (n != CLUSTERC__NODE_ID_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return 0;
    return 1;
}

static int copy_id(lines *L, const char *what, char *dst, const char *s, size_t n)
{
    if (!is_node_id(s, n))
        return failf(L, "%s \"%.*s\" is not %d hex digits", what,
                     (int)(n > 48 ? 48 : n), s, CLUSTERC__NODE_ID_LEN);
    memcpy(dst, s, n);
    dst[n] = '\0';
    return 0;
}

/* Control bytes and brackets never belong in an address or a name. */
static int name_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < ' ' || c == 0x7f || c == '[' || c == ']')
            return 0;
    }
    return 1;
}

/* "ip:port@cport[,hostname[,aux=value...]]". The port follows the LAST
 * colon before '@': IPv6 addresses are printed without brackets. */
static int parse_address(lines *L, clusterc__cnode *nd, const char *s, size_t n)
{
    const char *comma = memchr(s, ',', n);
    size_t alen = comma != NULL ? (size_t)(comma - s) : n;
    const char *at = memchr(s, '@', alen);
    size_t hplen = at != NULL ? (size_t)(at - s) : alen; /* no '@' before 4.0 */
    const char *colon = NULL;
    long long v;

    for (size_t i = hplen; i-- > 0;)
        if (s[i] == ':') {
            colon = s + i;
            break;
        }
    if (colon == NULL)
        return failf(L, "address has no port");
    size_t hlen = (size_t)(colon - s);
    if (hlen >= sizeof(nd->host) || !name_ok(s, hlen))
        return failf(L, "bad host in address");
    if (parse_range(colon + 1, (size_t)(s + hplen - colon - 1), 0, 65535, &v) != 0)
        return failf(L, "bad port in address");
    nd->port = (int)v;
    if (at != NULL) {
        if (parse_range(at + 1, (size_t)(s + alen - at - 1), 0, 65535, &v) != 0)
            return failf(L, "bad cluster bus port in address");
        nd->bus_port = (int)v;
    }
    memcpy(nd->host, s, hlen);
    nd->host[hlen] = '\0';
    if (comma != NULL) {
        const char *h = comma + 1, *end = s + n;
        const char *c2 = memchr(h, ',', (size_t)(end - h));
        size_t nlen = (size_t)((c2 != NULL ? c2 : end) - h);
        if (nlen >= sizeof(nd->hostname) || !name_ok(h, nlen))
            return failf(L, "bad hostname in address");
        memcpy(nd->hostname, h, nlen);
        nd->hostname[nlen] = '\0';
    }
    return 0;
}

static const struct {
    const char *name;
    unsigned bit;
} node_flags[] = {
    {"myself", CLUSTERC__CNODE_MYSELF},     {"master", CLUSTERC__CNODE_MASTER},
    {"slave", CLUSTERC__CNODE_SLAVE},       {"fail?", CLUSTERC__CNODE_PFAIL},
    {"fail", CLUSTERC__CNODE_FAIL},         {"handshake", CLUSTERC__CNODE_HANDSHAKE},
    {"noaddr", CLUSTERC__CNODE_NOADDR},     {"nofailover", CLUSTERC__CNODE_NOFAILOVER},
    {"noflags", CLUSTERC__CNODE_NOFLAGS},
};

/* Unknown flags are ignored: a newer server may add some. */
static unsigned parse_flags(const char *s, size_t n)
{
    unsigned bits = 0;
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t fl = (size_t)((comma != NULL ? comma : end) - p);
        for (size_t i = 0; i < sizeof(node_flags) / sizeof(node_flags[0]); i++)
            if (word_eq(p, fl, node_flags[i].name))
                bits |= node_flags[i].bit;
        p = comma != NULL ? comma + 1 : end;
    }
    return bits;
}

/* Grow a node's array by one element (doubling; these are short). */
typedef struct slot_caps {
    size_t slots, migrating, importing;
} slot_caps;

/* "[slot->-id]" (migrating to id) or "[slot-<-id]" (importing from id). */
static int parse_move(lines *L, clusterc__cnode *nd, slot_caps *caps,
                      const char *s, size_t n)
{
    const char *dash = n > 2 ? memchr(s + 1, '-', n - 2) : NULL;
    long long slot;
    if (s[n - 1] != ']' || dash == NULL || (size_t)(s + n - 1 - dash) < 3 ||
        parse_range(s + 1, (size_t)(dash - s - 1), 0, NSLOTS - 1, &slot) != 0)
        return failf(L, "bad migrating/importing entry \"%.*s\"", (int)(n > 60 ? 60 : n), s);
    int importing = dash[1] == '<';
    if ((dash[1] != '<' && dash[1] != '>') || dash[2] != '-')
        return failf(L, "bad migrating/importing entry \"%.*s\"", (int)(n > 60 ? 60 : n), s);
    clusterc__slot_move **vp = importing ? &nd->importing : &nd->migrating;
    size_t *np = importing ? &nd->nimporting : &nd->nmigrating;
    clusterc__slot_move *v = grow(L, *vp, *np, importing ? &caps->importing
                                                         : &caps->migrating, sizeof(*v));
    if (v == NULL)
        return -1;
    *vp = v;
    v[*np].slot = (int)slot;
    if (copy_id(L, importing ? "importing source" : "migrating target", v[*np].node,
                dash + 3, (size_t)(s + n - 1 - dash - 3)) != 0)
        return -1;
    (*np)++;
    return 0;
}

/* "slot" or "start-end". */
static int parse_slots(lines *L, clusterc__cnode *nd, slot_caps *caps,
                       const char *s, size_t n)
{
    const char *dash = memchr(s, '-', n);
    size_t alen = dash != NULL ? (size_t)(dash - s) : n;
    long long a, b;
    if (parse_range(s, alen, 0, NSLOTS - 1, &a) != 0 ||
        (dash != NULL &&
         parse_range(dash + 1, (size_t)(s + n - dash - 1), 0, NSLOTS - 1, &b) != 0))
        return failf(L, "bad slot \"%.*s\"", (int)(n > 40 ? 40 : n), s);
    if (dash == NULL)
        b = a;
    if (b < a)
        return failf(L, "reversed slot range %lld-%lld", a, b);
    clusterc__slot_range *v = grow(L, nd->slots, nd->nslots, &caps->slots, sizeof(*v));
    if (v == NULL)
        return -1;
    nd->slots = v;
    v[nd->nslots].start = (int)a;
    v[nd->nslots].end = (int)b;
    nd->nslots++;
    return 0;
}

static void cnode_clear(clusterc__cnode *nd)
{
    free(nd->slots);
    free(nd->migrating);
    free(nd->importing);
}

/* Fields 5..8: ping-sent, pong-recv, config-epoch, link-state. */
static int parse_numbers(lines *L, clusterc__cnode *nd, const char *tok[], const size_t n[])
{
    static const char *const names[] = {"ping-sent", "pong-recv", "config-epoch"};
    long long *dst[] = {&nd->ping_sent, &nd->pong_recv, &nd->config_epoch};
    for (int i = 0; i < 3; i++)
        if (parse_range(tok[i], n[i], 0, LLONG_MAX, dst[i]) != 0)
            return failf(L, "%s is not a number", names[i]);
    if (word_eq(tok[3], n[3], "connected"))
        nd->link_connected = 1;
    else if (word_eq(tok[3], n[3], "disconnected"))
        nd->link_connected = 0;
    else
        return failf(L, "link-state is neither \"connected\" nor \"disconnected\"");
    return 0;
}

/* One line into *nd (zeroed by the caller; freed by it on error too). */
static int parse_node_line(lines *L, clusterc__cnode *nd)
{
    const char *p = L->line, *end = L->line + L->len;
    const char *tok[8];
    size_t n[8];
    slot_caps caps = {0, 0, 0};

    for (int i = 0; i < 8; i++)
        if (!next_tok(&p, end, &tok[i], &n[i]))
            return failf(L, "%d fields, at least 8 expected", i);
    if (copy_id(L, "node id", nd->id, tok[0], n[0]) != 0 ||
        parse_address(L, nd, tok[1], n[1]) != 0)
        return -1;
    nd->flags = parse_flags(tok[2], n[2]);
    if (!word_eq(tok[3], n[3], "-") && copy_id(L, "primary id", nd->primary_id, tok[3], n[3]) != 0)
        return -1;
    if (parse_numbers(L, nd, tok + 4, n + 4) != 0)
        return -1;
    const char *s;
    size_t sl;
    while (next_tok(&p, end, &s, &sl)) {
        int rc = s[0] == '[' ? parse_move(L, nd, &caps, s, sl)
                             : parse_slots(L, nd, &caps, s, sl);
        if (rc != 0)
            return -1;
    }
    return 0;
}

int clusterc__cluster_nodes_parse(const char *text, size_t len, clusterc__cnode **out,
                                  size_t *n, char *err, size_t errcap)
{
    lines L;
    clusterc__cnode *v = NULL;
    size_t nv = 0, cap = 0;
    int rc;

    lines_init(&L, "CLUSTER NODES", text, len, err, errcap);
    while ((rc = next_line(&L)) > 0) {
        if (L.len == 0)
            continue;
        clusterc__cnode *nv2 = grow(&L, v, nv, &cap, sizeof(*v));
        if (nv2 == NULL) {
            rc = -1;
            break;
        }
        v = nv2;
        memset(&v[nv], 0, sizeof(v[nv]));
        if (parse_node_line(&L, &v[nv]) != 0) {
            cnode_clear(&v[nv]); /* the half-built node owns its arrays too */
            rc = -1;
            break;
        }
        nv++;
    }
    if (rc != 0) {
        clusterc__cluster_nodes_free(v, nv);
        return -1;
    }
    *out = v; /* ownership passes to the caller */
    *n = nv;
    return 0;
}

void clusterc__cluster_nodes_free(clusterc__cnode *v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        cnode_clear(&v[i]);
    free(v);
}

/* ------------------------------------------------------------ one field */

int clusterc__info_field(const char *text, size_t len, const char *key, const char **val,
                         size_t *vlen)
{
    size_t klen = strlen(key);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        if ((size_t)(eol - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == ':') {
            const char *v = p + klen + 1, *ve = eol;
            if (ve > v && ve[-1] == '\r')
                ve--;
            *val = v;
            *vlen = (size_t)(ve - v);
            return 1;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}
