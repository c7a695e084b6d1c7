/* fanout.c -- commands that run on more than one node (pure).
 *
 * Two parts: the routing policies (Redis 7's COMMAND "tips", learned from
 * the server or taken from the built-in table below), and the split of a
 * multi-key command into one sub-command per slot. Merging the nodes'
 * replies into one is fanout_merge.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "errors.h"
#include "fanout.h"
#include "clusterc/clusterc.h"

static const char *const req_names[] = {"default", "all_shards", "all_nodes", "multi_shard",
                                        "special"};
static const char *const resp_names[] = {"default", "one_succeeded", "all_succeeded",
                                         "agg_logical_and", "agg_logical_or", "agg_min",
                                         "agg_max", "agg_sum", "special"};
#define NREQ (sizeof(req_names) / sizeof(req_names[0]))
#define NRESP (sizeof(resp_names) / sizeof(resp_names[0]))

const char *clusterc__req_policy_name(clusterc__req_policy p)
{
    return (unsigned)p < NREQ ? req_names[p] : "?";
}

const char *clusterc__resp_policy_name(clusterc__resp_policy p)
{
    return (unsigned)p < NRESP ? resp_names[p] : "?";
}

/* ============================================================ policy table */

typedef struct polent {
    const char *name; /* lowercase, NUL-terminated; "container|sub" */
    clusterc__fanpolicy pol;
} polent;

struct clusterc__policytable {
    const polent *ents;
    size_t n;
    polent *owned;    /* learned tables: the entries */
    char *names;      /* learned tables: one block holding every name */
};

#define P(name, rq, rs, tips) \
    {name, {CLUSTERC__REQ_##rq, CLUSTERC__RESP_##rs, tips}}
#define OUT CLUSTERC__TIP_NONDET_OUTPUT
#define ORD CLUSTERC__TIP_NONDET_ORDER

/* Redis 7.0.15's src/commands/\*.json "command_tips", sorted by name (byte
 * order: '-' before letters, '|' after them). Deviations, each what later
 * Redis says: config|resetstat added (7.2.4: all_nodes, all_succeeded);
 * latency|reset agg_sum (its reply is a count; 7.0 said all_succeeded,
 * 7.2.4 agg_sum); randomkey and scan answer "special" (7.2.0); msetnx left
 * out (7.0 said multi_shard, agg_min; 7.2.0 dropped it: atomic, no split). */
static const polent builtin_ents[] = {
    P("config|resetstat", ALL_NODES, ALL_SUCCEEDED, 0),
    P("config|set", ALL_NODES, ALL_SUCCEEDED, 0),
    P("dbsize", ALL_SHARDS, AGG_SUM, 0),
    P("del", MULTI_SHARD, AGG_SUM, 0),
    P("exists", MULTI_SHARD, AGG_SUM, 0),
    P("flushall", ALL_SHARDS, ALL_SUCCEEDED, 0),
    P("flushdb", ALL_SHARDS, ALL_SUCCEEDED, 0),
    P("function|delete", ALL_SHARDS, ALL_SUCCEEDED, 0),
    P("function|flush", ALL_SHARDS, ALL_SUCCEEDED, 0),
    P("function|kill", ALL_SHARDS, ONE_SUCCEEDED, 0),
    P("function|load", ALL_SHARDS, ALL_SUCCEEDED, 0),
    P("function|restore", ALL_SHARDS, ALL_SUCCEEDED, 0),
    P("function|stats", ALL_SHARDS, SPECIAL, OUT),
    P("info", ALL_SHARDS, SPECIAL, OUT),
    P("keys", ALL_SHARDS, DEFAULT, ORD),
    P("latency|doctor", ALL_NODES, SPECIAL, OUT),
    P("latency|graph", ALL_NODES, SPECIAL, OUT),
    P("latency|histogram", ALL_NODES, SPECIAL, OUT),
    P("latency|history", ALL_NODES, SPECIAL, OUT),
    P("latency|latest", ALL_NODES, SPECIAL, OUT),
    P("latency|reset", ALL_NODES, AGG_SUM, 0),
    P("memory|doctor", ALL_SHARDS, SPECIAL, OUT),
    P("memory|malloc-stats", ALL_SHARDS, SPECIAL, OUT),
    P("memory|purge", ALL_SHARDS, ALL_SUCCEEDED, 0),
    P("memory|stats", ALL_SHARDS, SPECIAL, OUT),
    P("mget", MULTI_SHARD, DEFAULT, 0),
    P("mset", MULTI_SHARD, ALL_SUCCEEDED, 0),
    P("ping", ALL_SHARDS, ALL_SUCCEEDED, 0),
    P("randomkey", ALL_SHARDS, SPECIAL, OUT),
    P("scan", SPECIAL, SPECIAL, OUT),
    P("script|exists", ALL_SHARDS, AGG_AND, 0),
    P("script|flush", ALL_NODES, ALL_SUCCEEDED, 0),
    P("script|kill", ALL_SHARDS, ONE_SUCCEEDED, 0),
    P("script|load", ALL_NODES, ALL_SUCCEEDED, 0),
    P("slowlog|get", ALL_NODES, DEFAULT, OUT),
    P("slowlog|len", ALL_NODES, AGG_SUM, OUT),
    P("slowlog|reset", ALL_NODES, ALL_SUCCEEDED, 0),
    P("touch", MULTI_SHARD, AGG_SUM, 0),
    P("unlink", MULTI_SHARD, AGG_SUM, 0),
    P("wait", ALL_SHARDS, AGG_MIN, 0),
};

#undef P
#undef OUT
#undef ORD

static const clusterc__policytable builtin = {
    builtin_ents, sizeof(builtin_ents) / sizeof(builtin_ents[0]), NULL, NULL};

const clusterc__policytable *clusterc__policytable_builtin(void)
{
    return &builtin;
}

/* ASCII only: the C library's tolower() depends on the locale. */
static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* len bytes of s (any case) against a lowercase NUL-terminated name. */
static int name_cmp(const char *s, size_t len, const char *name)
{
    for (size_t i = 0; i < len; i++) {
        int a = lower((unsigned char)s[i]), b = (unsigned char)name[i];
        if (b == 0 || a != b)
            return b == 0 ? 1 : a - b;
    }
    return name[len] == 0 ? 0 : -1;
}

static const polent *find(const clusterc__policytable *t, const char *s, size_t len)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = name_cmp(s, len, t->ents[mid].name);
        if (c == 0)
            return &t->ents[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *clusterc__policytable_at(const clusterc__policytable *t, size_t i,
                                     clusterc__fanpolicy *out)
{
    if (t == NULL || i >= t->n)
        return NULL;
    *out = t->ents[i].pol;
    return t->ents[i].name;
}

int clusterc__policytable_selfcheck(const clusterc__policytable *t)
{
    for (size_t i = 0; i < t->n; i++) {
        const char *nm = t->ents[i].name;
        for (const char *p = nm; *p; p++)
            if (lower((unsigned char)*p) != (unsigned char)*p) /* bytes >= 0x80 too */
                return -1;
        if (i > 0 && strcmp(t->ents[i - 1].name, nm) >= 0)
            return -1;
        if (find(t, nm, strlen(nm)) != &t->ents[i])
            return -1;
    }
    return 0;
}

int clusterc__policy_by_name(const clusterc__policytable *t, const char *name, size_t len,
                             clusterc__fanpolicy *out)
{
    const clusterc__fanpolicy none = {CLUSTERC__REQ_DEFAULT, CLUSTERC__RESP_DEFAULT, 0};
    const polent *e = find(t != NULL ? t : &builtin, name, len);
    if (e == NULL && t != NULL && t != &builtin)
        e = find(&builtin, name, len);
    *out = e != NULL ? e->pol : none;
    return e != NULL;
}

/* ======================================================= learned from COMMAND */

#define NAME_MAX_LEN 255

static int is_str(const redisReply *r)
{
    return r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* The value after "prefix" in tip t, matched against names[1..n-1] (index 0
 * is "default", never a tip); -1 when t is not this kind or the value is new. */
static int tip_value(const redisReply *t, const char *prefix, const char *const *names,
                     size_t n)
{
    size_t pl = strlen(prefix);
    if (t->len <= pl || name_cmp(t->str, pl, prefix) != 0)
        return -1;
    for (size_t i = 1; i < n; i++)
        if (name_cmp(t->str + pl, t->len - pl, names[i]) == 0)
            return (int)i;
    return -1;
}

static clusterc__fanpolicy tips_parse(const redisReply *tips)
{
    clusterc__fanpolicy p = {CLUSTERC__REQ_DEFAULT, CLUSTERC__RESP_DEFAULT, 0};
    if (tips == NULL || tips->type != REDIS_REPLY_ARRAY)
        return p;   /* malformed: no tips, not fatal */
    for (size_t i = 0; i < tips->elements; i++) {
        const redisReply *t = tips->element[i];
        int v;
        if (!is_str(t))
            continue;
        if ((v = tip_value(t, "request_policy:", req_names, NREQ)) > 0)
            p.req = (clusterc__req_policy)v;
        else if ((v = tip_value(t, "response_policy:", resp_names, NRESP)) > 0)
            p.resp = (clusterc__resp_policy)v;
        else if (name_cmp(t->str, t->len, "nondeterministic_output") == 0)
            p.tips |= CLUSTERC__TIP_NONDET_OUTPUT;
        else if (name_cmp(t->str, t->len, "nondeterministic_output_order") == 0)
            p.tips |= CLUSTERC__TIP_NONDET_ORDER;
    }
    return p;
}

/* An entry with tips: its name, or NULL (too short for tips, or malformed). */
static const redisReply *entry_name(const redisReply *e)
{
    if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements < 8)
        return NULL;
    const redisReply *nm = e->element[0];
    if (!is_str(nm) || nm->len == 0 || nm->len > 2 * NAME_MAX_LEN ||
        memchr(nm->str, '\0', nm->len) != NULL)
        return NULL;
    return nm;
}

typedef struct learn {
    polent *ents;     /* NULL: only count */
    char *names;
    size_t n, bytes;
} learn;

static void learn_one(learn *l, const redisReply *e)
{
    const redisReply *nm = entry_name(e);
    if (nm == NULL)
        return;
    if (l->ents != NULL) {
        char *p = l->names + l->bytes;
        for (size_t k = 0; k < nm->len; k++)
            p[k] = (char)lower((unsigned char)nm->str[k]);
        p[nm->len] = '\0';
        l->ents[l->n].name = p;
        l->ents[l->n].pol = tips_parse(e->element[7]);
    }
    l->n++;
    l->bytes += nm->len + 1;
}

/* Every entry, then its subcommands (index 9: entries of the same shape). */
static void learn_all(learn *l, const redisReply *r)
{
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (entry_name(e) == NULL)
            continue;
        learn_one(l, e);
        const redisReply *subs = e->elements > 9 ? e->element[9] : NULL;
        if (subs != NULL && subs->type == REDIS_REPLY_ARRAY)
            for (size_t k = 0; k < subs->elements; k++)
                learn_one(l, subs->element[k]);
    }
}

static int ent_cmp(const void *a, const void *b)
{
    return strcmp(((const polent *)a)->name, ((const polent *)b)->name);
}

int clusterc__policytable_from_reply(const redisReply *r, clusterc__policytable **out,
                                     char *err, size_t errcap)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "COMMAND reply: not an array");
        return -1;
    }
    learn l = {NULL, NULL, 0, 0};
    learn_all(&l, r);
    clusterc__policytable *t = calloc(1, sizeof(*t));
    l.ents = malloc((l.n + 1) * sizeof(*l.ents));
    l.names = malloc(l.bytes + 1);
    if (t == NULL || l.ents == NULL || l.names == NULL) {
        free(t);
        free(l.ents);
        free(l.names);
        if (err != NULL && errcap > 0)
            snprintf(err, errcap, "COMMAND reply: out of memory");
        return -1;
    }
    l.n = l.bytes = 0;
    learn_all(&l, r);
    qsort(l.ents, l.n, sizeof(*l.ents), ent_cmp);
    size_t n = 0;   /* a name listed twice would break bisection: keep one */
    for (size_t i = 0; i < l.n; i++)
        if (n == 0 || strcmp(l.ents[n - 1].name, l.ents[i].name) != 0)
            l.ents[n++] = l.ents[i];
    t->ents = t->owned = l.ents;
    t->n = n;
    t->names = l.names;
    *out = t;
    return 0;
}

void clusterc__policytable_free(clusterc__policytable *t)
{
    if (t == NULL || t == &builtin)
        return;
    free(t->owned);
    free(t->names);
    free(t);
}

/* ========================================================= reading RESP */

/* A cursor over "*N\r\n$len\r\n<bytes>\r\n..." that never reads at or past
 * end. cmdtable.c has its own: the two files stay independent. */
typedef struct cursor {
    const char *p, *end;
} cursor;

typedef struct arg {
    const char *p;
    size_t len;
} arg;

static int read_len(cursor *c, char type, long long *out)
{
    const char *p = c->p;
    long long v = 0;
    int digits = 0;
    if (p >= c->end || *p != type)
        return -1;
    for (p++; p < c->end && *p >= '0' && *p <= '9'; p++) {
        if (++digits > 18)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (digits == 0 || c->end - p < 2 || p[0] != '\r' || p[1] != '\n')
        return -1;
    c->p = p + 2;
    *out = v;
    return 0;
}

static int next_arg(cursor *c, arg *a)
{
    long long n;
    if (read_len(c, '$', &n) != 0)
        return -1;
    if ((unsigned long long)(c->end - c->p) < (unsigned long long)n + 2)
        return -1;
    a->p = c->p;
    a->len = (size_t)n;
    if (a->p[n] != '\r' || a->p[n + 1] != '\n')
        return -1;
    c->p += n + 2;
    return 0;
}

/* argc, argv[0] and argv[1] (len 0, p NULL when absent); the whole buffer
 * is checked so a lookup never trusts a truncated command. */
static int head(const char *resp, size_t len, long long *argc, arg *a0, arg *a1)
{
    arg a = {NULL, 0};
    if (resp == NULL)
        return -1;
    cursor c = {resp, resp + len};
    if (read_len(&c, '*', argc) != 0 || *argc < 1)
        return -1;
    a1->p = NULL;
    a1->len = 0;
    for (long long i = 0; i < *argc; i++) {
        if (next_arg(&c, &a) != 0)
            return -1;
        if (i == 0)
            *a0 = a;
        else if (i == 1)
            *a1 = a;
    }
    return c.p == c.end ? 0 : -1;
}

int clusterc__policy_lookup(const clusterc__policytable *t, const char *resp, size_t len,
                            clusterc__fanpolicy *out)
{
    long long argc;
    arg a0 = {NULL, 0}, a1 = {NULL, 0};   /* head() sets both; -O3 cannot tell */
    char both[2 * NAME_MAX_LEN + 2];
    if (head(resp, len, &argc, &a0, &a1) != 0)
        return -1;
    if (argc >= 2 && a0.len <= NAME_MAX_LEN && a1.len <= NAME_MAX_LEN && a1.len > 0) {
        memcpy(both, a0.p, a0.len);
        both[a0.len] = '|';
        memcpy(both + a0.len + 1, a1.p, a1.len);
        /* The subcommand first, in the table that answers for the name. */
        const clusterc__policytable *in = t != NULL ? t : &builtin;
        if (find(in, a0.p, a0.len) == NULL && find(in, both, a0.len + 1 + a1.len) == NULL)
            in = &builtin;
        if (find(in, both, a0.len + 1 + a1.len) != NULL)
            return clusterc__policy_by_name(in, both, a0.len + 1 + a1.len, out);
    }
    return clusterc__policy_by_name(t, a0.p, a0.len, out);
}

/* ================================================================== split */

/* Arguments per key: every argument a key, or key value pairs. MSETNX is
 * not here on purpose: split across nodes it could set some keys and not
 * others, breaking its all-or-nothing promise, so it goes to one node and
 * gets CROSSSLOT there when its keys disagree. */
static int stride_of(arg name)
{
    static const char *const one[] = {"del", "exists", "mget", "touch", "unlink"};
    for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++)
        if (name_cmp(name.p, name.len, one[i]) == 0)
            return 1;
    return name_cmp(name.p, name.len, "mset") == 0 ? 2 : 0;
}

typedef struct keyrec {
    int slot;
    size_t idx;         /* position among the keys */
    const char *start;  /* the key's "$len\r\n" (and its value's, MSET) */
    size_t span;
} keyrec;

static int key_cmp(const void *a, const void *b)
{
    const keyrec *x = a, *y = b;
    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

/* Read the keys after the name; *nkeys 0 when the command does not split. */
static int read_keys(cursor *c, long long argc, int stride, keyrec **out, size_t *nkeys)
{
    *out = NULL;
    *nkeys = 0;
    if (stride == 0 || argc < 2 || (argc - 1) % stride != 0)
        return 0;
    /* Each argument takes 6 bytes at least ("$0\r\n\r\n"): a count the
     * buffer cannot hold is a truncated command, not an allocation. */
    if ((unsigned long long)(argc - 1) > (unsigned long long)(c->end - c->p) / 6)
        return -1;
    size_t n = (size_t)(argc - 1) / (size_t)stride;
    keyrec *k = malloc(n * sizeof(*k));
    if (k == NULL)
        return -2;
    for (size_t i = 0; i < n; i++) {
        arg a, v;
        k[i].start = c->p;
        k[i].idx = i;
        if (next_arg(c, &a) != 0 || (stride == 2 && next_arg(c, &v) != 0)) {
            free(k);
            return -1;
        }
        k[i].slot = clusterc_keyslot(a.p, a.len);
        k[i].span = (size_t)(c->p - k[i].start);
    }
    *out = k;
    *nkeys = n;
    return 0;
}

/* Write the sub-commands of sorted keys k[0..n) into s (allocated). */
static int build_parts(clusterc__split *s, const keyrec *k, size_t n, int stride,
                       const char *name, size_t namespan)
{
    size_t nsub = 0, bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || k[i].slot != k[i - 1].slot)
            nsub++, bytes += 24 + namespan;   /* "*<count>\r\n" and the name */
        bytes += k[i].span;
    }
    s->sub = calloc(nsub, sizeof(*s->sub));
    s->text = malloc(bytes);
    s->keypos = malloc(n * sizeof(*s->keypos));
    if (s->sub == NULL || s->text == NULL || s->keypos == NULL)
        return -1;
    char *p = s->text;
    for (size_t i = 0, j; i < n; i = j) {
        clusterc__subcmd *sc = &s->sub[s->nsub++];
        for (j = i; j < n && k[j].slot == k[i].slot; j++)
            s->keypos[j] = k[j].idx;
        sc->slot = k[i].slot;
        sc->nkeys = j - i;
        sc->keypos = &s->keypos[i];
        sc->resp = p;
        p += sprintf(p, "*%zu\r\n", 1 + sc->nkeys * (size_t)stride);
        memcpy(p, name, namespan);
        p += namespan;
        for (size_t m = i; m < j; m++) {
            memcpy(p, k[m].start, k[m].span);
            p += k[m].span;
        }
        sc->len = (size_t)(p - sc->resp);
    }
    s->nkeys = n;
    return 0;
}

int clusterc__fanout_split(const char *resp, size_t len, clusterc__split *out,
                           char *err, size_t errcap)
{
    long long argc;
    arg name;
    keyrec *k;
    size_t n;
    memset(out, 0, sizeof(*out));
    if (resp == NULL)
        return clusterc__fail(err, errcap, "command: no buffer");
    cursor c = {resp, resp + len};
    if (read_len(&c, '*', &argc) != 0 || argc < 1)
        return clusterc__fail(err, errcap, "command: bad array header");
    const char *name_at = c.p;
    if (next_arg(&c, &name) != 0)
        return clusterc__fail(err, errcap, "command: the name is not a bulk string");
    int stride = stride_of(name);
    int rc = read_keys(&c, argc, stride, &k, &n);
    if (rc == -2)
        return clusterc__fail(err, errcap, "command: out of memory splitting it");
    if (rc != 0 || (n > 0 && c.p != c.end)) {
        free(k);
        return clusterc__fail(err, errcap, "command: an argument is not a bulk string or is truncated");
    }
    size_t i = 1;
    while (i < n && k[i].slot == k[0].slot)
        i++;
    if (i >= n) {   /* not splittable, or one slot: unchanged */
        free(k);
        return 0;
    }
    qsort(k, n, sizeof(*k), key_cmp);
    rc = build_parts(out, k, n, stride, name_at, (size_t)(name.p + name.len + 2 - name_at));
    free(k);
    if (rc != 0) {
        clusterc__split_free(out);
        return clusterc__fail(err, errcap, "command: out of memory splitting it");
    }
    return 1;
}

void clusterc__split_free(clusterc__split *s)
{
    if (s == NULL)
        return;
    free(s->sub);
    free(s->text);
    free(s->keypos);
    memset(s, 0, sizeof(*s));
}
