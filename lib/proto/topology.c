/* topology.c -- the slot map, built from CLUSTER SHARDS or CLUSTER SLOTS (pure).
 *
 * Both parsers check every element they use before trusting it: the reply
 * comes from the network, and a half-built map is worse than none (a wrong
 * slot owner sends writes to the wrong node until the next MOVED). So any
 * malformed element rejects the whole reply, with a message that says which
 * shard/entry and node and what was wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "topology.h"

#define UNCLAIMED (-1)
#define UNSERVED (-2) /* claimed by a range whose primary is unknown ("?") */

typedef struct builder {
    clusterc__topology *t;
    size_t cap;             /* allocated entries in t->shards */
    const char *asked_host;
    const char *what;       /* "CLUSTER SHARDS" or "CLUSTER SLOTS" */
    char *err;
    size_t errcap;
    int tls;                /* the client dials TLS ports */
} builder;

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int failf(builder *b, const char *where, const char *fmt, ...)
{
    if (b->err == NULL || b->errcap == 0)
        return -1;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(b->err, b->errcap, "%s: %s%s%s", b->what, where,
             where[0] ? ": " : "", msg);
    return -1;
}

static int is_str(const redisReply *r)
{
    return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

static int str_eq(const redisReply *r, const char *s)
{
    return is_str(r) && r->len == strlen(s) && memcmp(r->str, s, r->len) == 0;
}

static clusterc__topology *topology_new(void)
{
    clusterc__topology *t = calloc(1, sizeof(*t));
    if (t != NULL)
        for (int i = 0; i < CLUSTERC__NSLOTS; i++)
            t->slot_shard[i] = UNCLAIMED;
    return t;
}

void clusterc__topology_free(clusterc__topology *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nshards; i++)
        free(t->shards[i].nodes);
    free(t->shards);
    free(t);
}

int clusterc__topology_covered(const clusterc__topology *t)
{
    int n = 0;
    if (t != NULL)
        for (int i = 0; i < CLUSTERC__NSLOTS; i++)
            n += t->slot_shard[i] >= 0;
    return n;
}

/* A new empty shard at the end of t->shards (the caller may drop it again). */
static clusterc__topo_shard *shard_add(builder *b, const char *where)
{
    clusterc__topology *t = b->t;
    if (t->nshards == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 8;
        clusterc__topo_shard *s = realloc(t->shards, cap * sizeof(*s));
        if (s == NULL)
            return failf(b, where, "out of memory"), NULL;
        t->shards = s;
        b->cap = cap;
    }
    clusterc__topo_shard *s = &t->shards[t->nshards++];
    s->nodes = NULL;
    s->nnodes = 0;
    return s;
}

static int node_push(builder *b, const char *where, clusterc__topo_shard *s,
                     const clusterc__topo_node *n)
{
    /* Shards hold a handful of nodes: growing by one is simplest. */
    clusterc__topo_node *v = realloc(s->nodes, (s->nnodes + 1) * sizeof(*v));
    if (v == NULL)
        return failf(b, where, "out of memory");
    s->nodes = v;
    s->nodes[s->nnodes++] = *n;
    return 0;
}

/* Copy a reply string into a fixed buffer, refusing what does not fit or
 * holds a NUL (which would silently cut the name short). */
static int copy_str(builder *b, const char *where, const char *field,
                    char *dst, size_t cap, const redisReply *v)
{
    if (v->len >= cap)
        return failf(b, where, "field \"%s\" is too long (%zu bytes)", field, v->len);
    if (v->len > 0 && memchr(v->str, '\0', v->len) != NULL)
        return failf(b, where, "field \"%s\" contains a NUL byte", field);
    memcpy(dst, v->str, v->len);
    dst[v->len] = '\0';
    return 0;
}

/*
 * Where to dial: NULL or "" means "the host you asked" (the node could not
 * know which of its addresses we reached it on); "?" means the node has no
 * known address, reported as *skip = 1 so the caller leaves it out.
 */
static int set_endpoint(builder *b, const char *where, clusterc__topo_node *n,
                        const redisReply *ep, int *skip)
{
    *skip = 0;
    if (ep == NULL || ep->type == REDIS_REPLY_NIL || (is_str(ep) && ep->len == 0)) {
        const char *h = b->asked_host ? b->asked_host : "";
        if (strlen(h) >= sizeof(n->addr.host))
            return failf(b, where, "asked host is too long");
        strcpy(n->addr.host, h);
        return 0;
    }
    if (!is_str(ep))
        return failf(b, where, "endpoint is not a string");
    if (str_eq(ep, "?")) {
        *skip = 1;
        return 0;
    }
    return copy_str(b, where, "endpoint", n->addr.host, sizeof(n->addr.host), ep);
}

static int check_port(builder *b, const char *where, long long port)
{
    if (port < 1 || port > 65535)
        return failf(b, where, "port %lld is out of range", port);
    return 0;
}

static int check_id(builder *b, const char *where, clusterc__topo_node *n,
                    const redisReply *v)
{
    if (v == NULL || v->type == REDIS_REPLY_NIL)
        return 0;
    if (!is_str(v))
        return failf(b, where, "field \"id\" is not a string");
    return copy_str(b, where, "id", n->id, sizeof(n->id), v);
}

static void node_init(clusterc__topo_node *n, clusterc__role role)
{
    memset(n, 0, sizeof(*n));
    n->role = role;
    n->health = CLUSTERC__HEALTH_UNKNOWN;
    n->repl_offset = -1;
}

/* Claim [start, end] for shard index idx, refusing a slot claimed twice. */
static int claim(builder *b, const char *where, long long start, long long end,
                 int idx)
{
    if (start < 0 || start >= CLUSTERC__NSLOTS || end < 0 || end >= CLUSTERC__NSLOTS)
        return failf(b, where, "slot range %lld-%lld is outside 0..16383", start, end);
    if (start > end)
        return failf(b, where, "slot range %lld-%lld is reversed", start, end);
    for (long long s = start; s <= end; s++) {
        if (b->t->slot_shard[s] != UNCLAIMED)
            return failf(b, where, "slot %lld is claimed twice", s);
        b->t->slot_shard[s] = (int16_t)idx;
    }
    return 0;
}

/* ============================================================ CLUSTER SHARDS */

/* RESP2 renders maps as flat [key, value, ...] arrays. Checked once here so
 * lookups can trust the shape. */
static int check_map(builder *b, const char *where, const char *what,
                     const redisReply *r)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        return failf(b, where, "%s is not an array", what);
    if (r->elements % 2 != 0)
        return failf(b, where, "%s has an odd number of elements", what);
    for (size_t i = 0; i < r->elements; i += 2)
        if (!is_str(r->element[i]))
            return failf(b, where, "%s has a key that is not a string", what);
    return 0;
}

/* The value for key, NULL when absent. Unknown keys (Valkey's shard "id",
 * "availability-zone", future fields) are simply never asked for. */
static const redisReply *map_get(const redisReply *m, const char *key)
{
    for (size_t i = 0; i + 1 < m->elements; i += 2)
        if (str_eq(m->element[i], key))
            return m->element[i + 1];
    return NULL;
}

/* An optional integer field: 0 absent, 1 present (*out set), -1 wrong type. */
static int val_int(builder *b, const char *where, const redisReply *v,
                   const char *key, long long *out)
{
    if (v == NULL)
        return 0;
    if (v->type != REDIS_REPLY_INTEGER)
        return failf(b, where, "field \"%s\" is not an integer", key);
    *out = v->integer;
    return 1;
}

/* An optional string field (nil counts as absent): NULL absent or error. */
static const redisReply *val_str(builder *b, const char *where, const redisReply *v,
                                 const char *key, int *bad)
{
    *bad = 0;
    if (v == NULL || v->type == REDIS_REPLY_NIL)
        return NULL;
    if (!is_str(v)) {
        *bad = 1;
        failf(b, where, "field \"%s\" is not a string", key);
        return NULL;
    }
    return v;
}

/* A shard node's fields, found in one pass over its [key, value, ...]
 * array (the first of a repeated key wins, as a lookup per key would):
 * thousands of nodes make a lookup per field a real cost (issue 16). */
typedef struct node_fields {
    const redisReply *id, *port, *tls_port, *endpoint, *ip, *role, *health, *offset,
        *hostname;
} node_fields;

static void fields_of(const redisReply *m, node_fields *f)
{
    static const struct { const char *key; size_t off; } known[] = {
        {"id", offsetof(node_fields, id)}, {"port", offsetof(node_fields, port)},
        {"tls-port", offsetof(node_fields, tls_port)},
        {"endpoint", offsetof(node_fields, endpoint)}, {"ip", offsetof(node_fields, ip)},
        {"role", offsetof(node_fields, role)}, {"health", offsetof(node_fields, health)},
        {"replication-offset", offsetof(node_fields, offset)},
        {"hostname", offsetof(node_fields, hostname)},
    };
    memset(f, 0, sizeof(*f));
    for (size_t i = 0; i + 1 < m->elements; i += 2) {
        const redisReply *k = m->element[i];
        for (size_t j = 0; j < sizeof(known) / sizeof(known[0]); j++) {
            const redisReply **slot = (const redisReply **)((char *)f + known[j].off);
            if (k->str[0] == known[j].key[0] && str_eq(k, known[j].key)) {
                if (*slot == NULL)
                    *slot = m->element[i + 1];
                break;
            }
        }
    }
}

static int shard_node_role(builder *b, const char *where, const node_fields *f,
                           clusterc__topo_node *n)
{
    int bad;
    const redisReply *v = val_str(b, where, f->role, "role", &bad);
    if (bad)
        return -1;
    if (v == NULL)
        return failf(b, where, "field \"role\" is missing");
    if (str_eq(v, "master") || str_eq(v, "primary"))
        n->role = CLUSTERC__ROLE_PRIMARY;
    else if (str_eq(v, "replica") || str_eq(v, "slave"))
        n->role = CLUSTERC__ROLE_REPLICA;
    else
        return failf(b, where, "unknown role \"%.*s\"", (int)(v->len > 40 ? 40 : v->len), v->str);
    v = val_str(b, where, f->health, "health", &bad);
    if (bad)
        return -1;
    if (v == NULL)
        n->health = CLUSTERC__HEALTH_UNKNOWN;
    else if (str_eq(v, "online"))
        n->health = CLUSTERC__HEALTH_ONLINE;
    else if (str_eq(v, "loading"))
        n->health = CLUSTERC__HEALTH_LOADING;
    else if (str_eq(v, "fail") || str_eq(v, "failed"))
        n->health = CLUSTERC__HEALTH_FAIL;
    else
        n->health = CLUSTERC__HEALTH_UNKNOWN; /* a future state: do not guess */
    return 0;
}

/* One node of a shard. *skip = 1 when its endpoint is "?" (left out). */
static int shard_node(builder *b, const char *where, const redisReply *m,
                      clusterc__topo_node *n, int *skip)
{
    long long port = 0, tls = 0;
    int bad, has_port, has_tls;
    node_fields f;
    node_init(n, CLUSTERC__ROLE_REPLICA);
    if (check_map(b, where, "node", m) != 0)
        return -1;
    fields_of(m, &f);
    if (check_id(b, where, n, f.id) != 0)
        return -1;
    /* The port this client speaks: "tls-port" for a TLS client, "port"
     * for a plain one; a node announcing only the other gets that one (a
     * TLS-only node has no "port"), and the dial says what is wrong. */
    if ((has_port = val_int(b, where, f.port, "port", &port)) < 0 ||
        (has_tls = val_int(b, where, f.tls_port, "tls-port", &tls)) < 0)
        return -1;
    if (!has_port && !has_tls)
        return failf(b, where, "field \"port\" is missing");
    const redisReply *ep = f.endpoint ? f.endpoint : f.ip;
    if (ep == NULL)
        return failf(b, where, "field \"endpoint\" is missing");
    if (set_endpoint(b, where, n, ep, skip) != 0)
        return -1;
    if (shard_node_role(b, where, &f, n) != 0)
        return -1;
    if (val_int(b, where, f.offset, "replication-offset", &n->repl_offset) < 0)
        return -1;
    const redisReply *hn = val_str(b, where, f.hostname, "hostname", &bad);
    if (bad || (hn != NULL && copy_str(b, where, "hostname", n->hostname,
                                       sizeof(n->hostname), hn) != 0))
        return -1;
    if (*skip)
        return 0; /* an unknown node may carry port 0: nothing to check */
    long long use = (b->tls ? has_tls : !has_port) ? tls : port;
    n->addr.port = (int)use;
    return check_port(b, where, use);
}

/* Move the primary to nodes[0], keeping the replicas in reply order.
 * Valkey keeps a failed-over primary in its shard (shard ids are stable),
 * so a shard may list two "master" nodes until the old one rejoins as a
 * replica: the live one (health not "fail") is the primary, and any other
 * is kept as a failed member that no command is routed to. */
static int primary_first(clusterc__topo_shard *s)
{
    size_t pick = s->nnodes;
    for (size_t i = 0; i < s->nnodes; i++) {
        if (s->nodes[i].role != CLUSTERC__ROLE_PRIMARY)
            continue;
        if (pick == s->nnodes || (s->nodes[pick].health == CLUSTERC__HEALTH_FAIL &&
                                  s->nodes[i].health != CLUSTERC__HEALTH_FAIL))
            pick = i;
    }
    if (pick == s->nnodes)
        return 0;
    for (size_t i = 0; i < s->nnodes; i++)
        if (i != pick && s->nodes[i].role == CLUSTERC__ROLE_PRIMARY)
            s->nodes[i].role = CLUSTERC__ROLE_REPLICA;
    clusterc__topo_node p = s->nodes[pick];
    memmove(&s->nodes[1], &s->nodes[0], pick * sizeof(p));
    s->nodes[0] = p;
    return 1;
}

static int shard_slots(builder *b, const char *where, const redisReply *slots, int idx)
{
    if (slots == NULL)
        return failf(b, where, "field \"slots\" is missing");
    if (slots->type != REDIS_REPLY_ARRAY)
        return failf(b, where, "field \"slots\" is not an array");
    if (slots->elements % 2 != 0)
        return failf(b, where, "field \"slots\" has an odd number of elements");
    for (size_t i = 0; i < slots->elements; i += 2) {
        const redisReply *lo = slots->element[i], *hi = slots->element[i + 1];
        if (lo->type != REDIS_REPLY_INTEGER || hi->type != REDIS_REPLY_INTEGER)
            return failf(b, where, "field \"slots\" holds a non-integer");
        if (claim(b, where, lo->integer, hi->integer, idx) != 0)
            return -1;
    }
    return 0;
}

/* Write i in decimal and a NUL (at most 21 bytes). */
static void put_index(char *out, size_t i)
{
    char d[21];
    size_t n = 0;
    do
        d[n++] = (char)('0' + i % 10);
    while ((i /= 10) != 0);
    while (n > 0)
        *out++ = d[--n];
    *out = '\0';
}

/* One shard; *served is set to whether it has a primary to send slots to. */
static int shard_parse(builder *b, size_t i, const redisReply *m, int *served)
{
    char where[64], nwhere[96];
    memcpy(where, "shard ", 6);
    put_index(where + 6, i);
    if (check_map(b, where, "shard", m) != 0)
        return -1;
    if (shard_slots(b, where, map_get(m, "slots"), (int)i) != 0)
        return -1;
    const redisReply *nodes = map_get(m, "nodes");
    if (nodes == NULL)
        return failf(b, where, "field \"nodes\" is missing");
    if (nodes->type != REDIS_REPLY_ARRAY)
        return failf(b, where, "field \"nodes\" is not an array");
    clusterc__topo_shard *s = shard_add(b, where);
    if (s == NULL)
        return -1;
    size_t wlen = strlen(where);
    memcpy(nwhere, where, wlen);
    memcpy(nwhere + wlen, ", node ", 7);
    /* Room for every listed node at once, each parsed in place: a node is
     * over 500 bytes, and growing the array by one and copying each node in
     * was most of the parse's cost at thousands of nodes. */
    if (nodes->elements > 0 &&
        (s->nodes = malloc(nodes->elements * sizeof(*s->nodes))) == NULL)
        return failf(b, where, "out of memory");
    for (size_t j = 0; j < nodes->elements; j++) {
        int skip = 0;
        put_index(nwhere + wlen + 7, j);   /* no snprintf per node */
        if (shard_node(b, nwhere, nodes->element[j], &s->nodes[s->nnodes], &skip) != 0)
            return -1;
        s->nnodes += !skip;
    }
    *served = primary_first(s);
    if (s->nnodes == 0) {
        /* Nothing to dial: drop it so every kept shard has nodes[0]. */
        free(s->nodes);
        b->t->nshards--;
    }
    return 0;
}

/* Slots were claimed with the reply's shard index; turn that into the index
 * in t->shards, or -1 where the shard was dropped or has no primary. */
static void remap_slots(clusterc__topology *t, const int *final)
{
    for (int s = 0; s < CLUSTERC__NSLOTS; s++)
        if (t->slot_shard[s] >= 0)
            t->slot_shard[s] = (int16_t)final[t->slot_shard[s]];
}

int clusterc__topology_from_shards(const redisReply *r, const char *asked_host,
                                   clusterc__topology **out, char *err, size_t errcap)
{
    return clusterc__topology_from_shards_tls(r, asked_host, 0, out, err, errcap);
}

int clusterc__topology_from_shards_tls(const redisReply *r, const char *asked_host, int tls,
                                       clusterc__topology **out, char *err, size_t errcap)
{
    builder b = {NULL, 0, asked_host, "CLUSTER SHARDS", err, errcap, tls};
    if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        return failf(&b, "", "reply is not an array");
    if (r->elements > INT16_MAX)
        return failf(&b, "", "too many shards (%zu)", r->elements);
    int *final = malloc((r->elements + 1) * sizeof(*final));
    b.t = topology_new();
    if (final == NULL || b.t == NULL) {
        free(final);
        free(b.t);
        return failf(&b, "", "out of memory");
    }
    for (size_t i = 0; i < r->elements; i++) {
        int served = 0;
        size_t before = b.t->nshards;
        if (shard_parse(&b, i, r->element[i], &served) != 0) {
            free(final);
            clusterc__topology_free(b.t);
            return -1;
        }
        final[i] = (served && b.t->nshards > before) ? (int)before : -1;
    }
    remap_slots(b.t, final);
    free(final);
    b.t->from_shards = 1;
    *out = b.t;
    return 0;
}

/* ============================================================= CLUSTER SLOTS */

/* One node of a SLOTS entry: [endpoint, port, id?, {metadata}?]. */
static int slots_node(builder *b, const char *where, const redisReply *r,
                      clusterc__role role, clusterc__topo_node *n, int *skip)
{
    node_init(n, role);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        return failf(b, where, "node is not an array");
    if (r->elements < 2)
        return failf(b, where, "node has %zu elements, expected at least 2", r->elements);
    if (set_endpoint(b, where, n, r->element[0], skip) != 0)
        return -1;
    if (r->element[1]->type != REDIS_REPLY_INTEGER)
        return failf(b, where, "port is not an integer");
    if (r->elements > 2 && check_id(b, where, n, r->element[2]) != 0)
        return -1;
    if (r->elements > 3) {
        /* Redis 7 metadata map (flat in RESP2): only "hostname" is used. */
        const redisReply *meta = r->element[3];
        int bad;
        if (check_map(b, where, "metadata", meta) != 0)
            return -1;
        const redisReply *hn = val_str(b, where, map_get(meta, "hostname"), "hostname", &bad);
        if (bad || (hn != NULL && copy_str(b, where, "hostname", n->hostname,
                                           sizeof(n->hostname), hn) != 0))
            return -1;
    }
    if (*skip)
        return 0;
    n->addr.port = (int)r->element[1]->integer;
    return check_port(b, where, r->element[1]->integer);
}

/* Same node: by id when both have one (ids survive address changes), else
 * by address. */
static int same_node(const clusterc__topo_node *a, const clusterc__topo_node *b)
{
    if (a->id[0] && b->id[0])
        return strcmp(a->id, b->id) == 0;
    return a->addr.port == b->addr.port && strcmp(a->addr.host, b->addr.host) == 0;
}

/* The shard whose primary is p, created if new. Returns its index or -1. */
static int shard_for_primary(builder *b, const char *where, const clusterc__topo_node *p)
{
    for (size_t i = 0; i < b->t->nshards; i++)
        if (same_node(&b->t->shards[i].nodes[0], p))
            return (int)i;
    clusterc__topo_shard *s = shard_add(b, where);
    if (s == NULL)
        return -1;
    if (node_push(b, where, s, p) != 0) {
        b->t->nshards--;
        return -1;
    }
    return (int)(b->t->nshards - 1);
}

/* Replicas listed after the primary; a later range of the same primary
 * lists them again, so add only the ones not already there. */
static int slots_replicas(builder *b, const char *where, const redisReply *e,
                          int idx, int served)
{
    char nwhere[96];
    for (size_t j = 3; j < e->elements; j++) {
        clusterc__topo_node n;
        int skip = 0, dup = 0;
        snprintf(nwhere, sizeof(nwhere), "%s, node %zu", where, j - 2);
        if (slots_node(b, nwhere, e->element[j], CLUSTERC__ROLE_REPLICA, &n, &skip) != 0)
            return -1;
        if (skip || !served)
            continue;
        clusterc__topo_shard *s = &b->t->shards[idx];
        for (size_t k = 0; k < s->nnodes && !dup; k++)
            dup = same_node(&s->nodes[k], &n);
        if (!dup && node_push(b, nwhere, s, &n) != 0)
            return -1;
    }
    return 0;
}

static int slots_entry(builder *b, size_t i, const redisReply *e)
{
    char where[64], nwhere[96];
    snprintf(where, sizeof(where), "entry %zu", i);
    snprintf(nwhere, sizeof(nwhere), "%s, node 0", where);
    if (e == NULL || e->type != REDIS_REPLY_ARRAY)
        return failf(b, where, "entry is not an array");
    if (e->elements < 3)
        return failf(b, where, "entry has %zu elements, expected at least 3", e->elements);
    if (e->element[0]->type != REDIS_REPLY_INTEGER || e->element[1]->type != REDIS_REPLY_INTEGER)
        return failf(b, where, "slot range is not two integers");
    clusterc__topo_node p;
    int skip = 0, idx = UNSERVED;
    if (slots_node(b, nwhere, e->element[2], CLUSTERC__ROLE_PRIMARY, &p, &skip) != 0)
        return -1;
    /* A primary at "?" cannot be dialled: its range stays unserved, but is
     * still claimed so an overlapping entry is caught. */
    if (!skip && (idx = shard_for_primary(b, nwhere, &p)) < 0)
        return -1;
    if (claim(b, where, e->element[0]->integer, e->element[1]->integer, idx) != 0)
        return -1;
    return slots_replicas(b, where, e, idx, !skip);
}

int clusterc__topology_from_slots(const redisReply *r, const char *asked_host,
                                  clusterc__topology **out, char *err, size_t errcap)
{
    builder b = {NULL, 0, asked_host, "CLUSTER SLOTS", err, errcap, 0};
    if (r == NULL || r->type != REDIS_REPLY_ARRAY)
        return failf(&b, "", "reply is not an array");
    if ((b.t = topology_new()) == NULL)
        return failf(&b, "", "out of memory");
    for (size_t i = 0; i < r->elements; i++) {
        if (slots_entry(&b, i, r->element[i]) != 0) {
            clusterc__topology_free(b.t);
            return -1;
        }
    }
    for (int s = 0; s < CLUSTERC__NSLOTS; s++)
        if (b.t->slot_shard[s] == UNSERVED)
            b.t->slot_shard[s] = UNCLAIMED;
    b.t->from_shards = 0;
    *out = b.t;
    return 0;
}
