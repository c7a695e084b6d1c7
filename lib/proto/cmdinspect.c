/* cmdinspect.c -- a command in RESP form: its name, flags, props and the
 * slot of its first key (pure; the tables are cmdtable.c's).
 *
 * Every command sent comes through here once, so the common case is kept
 * short: one pass over the argument headers (which also validates the
 * buffer), one key of the name for both tables (cmdtable_int.h), and the
 * key rule. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "errors.h"
#include "cmdtable_int.h"
#include "clusterc/clusterc.h"

typedef clusterc__cmdarg arg;
typedef clusterc__cmdargs cmdargs;

/* More digits of a length whose first, v, is at p[-1]; then CRLF. At most
 * 18 digits, so the value cannot overflow (more wrap harmlessly in
 * unsigned arithmetic and are refused): RESP lengths beyond that are
 * garbage anyway. Returns the byte after the CRLF, or NULL. */
static const char *read_len_more(const char *p, const char *end, uint64_t v, uint64_t *out)
{
    const char *first = p - 1;
    unsigned d;
    while (p < end && (d = (unsigned)(unsigned char)*p - '0') < 10u) {
        v = v * 10 + d;
        p++;
    }
    if (p - first > 18 || end - p < 2 || p[0] != '\r' || p[1] != '\n')
        return NULL;
    *out = v;
    return p + 2;
}

/* "<type><digits>\r\n" at p: the value in *out and the byte after the CRLF,
 * or NULL. Never reads at or past end. The shortest header, "$0\r\n", is 4
 * bytes: that one test covers the type, the first digit and the CRLF of a
 * one-digit length (argc, names); two digits (most keys) take one more. */
static inline const char *read_len(const char *p, const char *end, char type, uint64_t *out)
{
    if (end - p < 4 || p[0] != type)
        return NULL;
    uint64_t v = (unsigned)(unsigned char)p[1] - '0';
    if (v > 9)
        return NULL;
    if (p[2] == '\r' && p[3] == '\n') {
        *out = v;
        return p + 4;
    }
    unsigned d = (unsigned)(unsigned char)p[2] - '0';
    if (d < 10u && end - p >= 5 && p[3] == '\r' && p[4] == '\n') {
        *out = v * 10 + d;
        return p + 5;
    }
    return read_len_more(p + 2, end, v, out);
}


/* The argument at p of an already validated command, and the byte after it. */
static const char *next_valid(const char *p, arg *a)
{
    size_t n = 0;
    for (p++; *p != '\r'; p++)
        n = n * 10 + (size_t)(*p - '0');
    a->p = p + 2;
    a->len = n;
    return p + 2 + n + 2;
}

/* Where argv[i] (1 <= i <= argc) of a validated command starts. */
static const char *start_of(const cmdargs *ca, long long i)
{
    arg a;
    const char *p = ca->argv[0].p + ca->argv[0].len + 2;
    for (long long k = 1; k < i; k++)
        p = next_valid(p, &a);
    return p;
}

static arg arg_walk(const cmdargs *ca, long long i)
{
    arg a;
    next_valid(start_of(ca, i), &a);
    return a;
}

/* argv[i] (i < argc): kept for the first four, else walked to; key
 * positions past argv[3] are rare and scans below use one pointer. */
static inline arg arg_at(const cmdargs *ca, long long i)
{
    return i < 4 ? ca->argv[i] : arg_walk(ca, i);
}

/* a (any case) is the lowercase word w. */
static int arg_is(arg a, const char *w)
{
    size_t i = 0;
    for (; i < a.len && w[i] != '\0'; i++)
        if (clusterc__cmd_lower((unsigned char)a.p[i]) != (unsigned char)w[i])
            return 0;
    return i == a.len && w[i] == '\0';
}

/* numkeys as a small non-negative decimal; -1 when not a number. */
static long long arg_num(arg a)
{
    long long v = 0;
    if (a.len == 0 || a.len > 9)
        return -1;
    for (size_t i = 0; i < a.len; i++) {
        if (a.p[i] < '0' || a.p[i] > '9')
            return -1;
        v = v * 10 + (a.p[i] - '0');
    }
    return v;
}

/* Scan argv[from..] for the keyword `word` (any case), skipping the values
 * that follow each option in opts. Returns the index after the keyword, or
 * -1. One pass, so a huge command costs O(n), not O(n^2). */
typedef struct opt {
    const char *name;
    int nvalues;
} opt;

static long long key_after(const cmdargs *ca, long long from, const char *word,
                           const opt *opts, size_t nopts)
{
    if (from >= ca->argc)
        return -1;
    const char *p = start_of(ca, from);
    long long skip = 0;
    for (long long i = from; i < ca->argc; i++) {
        arg a;
        p = next_valid(p, &a);
        if (skip > 0) {
            skip--;
            continue;
        }
        if (arg_is(a, word))
            return i + 1;
        for (size_t k = 0; k < nopts; k++)
            if (arg_is(a, opts[k].name))
                skip = opts[k].nvalues;
    }
    return -1;
}

/* XREAD [COUNT n] [BLOCK ms] STREAMS k...; XREADGROUP GROUP g c [COUNT n]
 * [BLOCK ms] [NOACK] STREAMS k... Option values are skipped so a group or
 * consumer named "streams" is not taken for the keyword. */
static long long key_after_streams(const cmdargs *ca)
{
    static const opt opts[] = {{"group", 2}, {"count", 1}, {"block", 1}};
    return key_after(ca, 1, "streams", opts, sizeof(opts) / sizeof(opts[0]));
}

/* MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw]
 * [AUTH2 user pw] [KEYS k...] */
static long long key_migrate(const cmdargs *ca)
{
    static const opt opts[] = {{"auth", 1}, {"auth2", 2}};
    if (ca->argc > 3 && arg_at(ca, 3).len > 0)
        return 3;
    return key_after(ca, 6, "keys", opts, sizeof(opts) / sizeof(opts[0]));
}

/* Index of the first key in argv, or -1 when the command has none. */
static long long first_key(const cmdent *e, const cmdargs *ca)
{
    long long n;
    switch (e->rule) {
    case RULE_FIXED:
        return e->first > 0 ? e->first : -1;
    case RULE_NUMKEYS:
        if (ca->argc <= e->nk)
            return -1;
        n = arg_num(arg_at(ca, e->nk));
        return n > 0 ? e->nk + 1 : -1;
    case RULE_STREAMS:
        return key_after_streams(ca);
    case RULE_MIGRATE:
        return key_migrate(ca);
    case RULE_SUBKEY:
        return 2;
    case RULE_MEMORY:
        return (ca->argc > 1 && arg_is(ca->argv[1], "usage")) ? 2 : -1;
    }
    return -1;
}

/* Check the whole buffer is one array of bulk strings, keeping argv[0..3].
 * No memset of ca: only what the key rules read is written. */
static int parse_args(const char *resp, size_t len, cmdargs *ca, char *err, size_t errcap)
{
    const char *end = resp + len, *p, *q;
    uint64_t argc, n;
    ca->end = end;
    if ((p = read_len(resp, end, '*', &argc)) == NULL)
        return clusterc__fail(err, errcap, "command: bad array header");
    if (argc < 1)
        return clusterc__fail(err, errcap, "command: empty array");
    ca->argc = (long long)argc;
    for (uint64_t i = 0; i < argc; i++) {
        q = read_len(p, end, '$', &n);
        if (q == NULL || (uint64_t)(end - q) < n + 2 || q[n] != '\r' || q[n + 1] != '\n')
            return clusterc__fail(err, errcap, "command: argument %lld is not a bulk string "
                             "or is truncated (byte %zu)", (long long)i,
                             (size_t)((q != NULL ? q : p) - resp));
        if (i < 4) {
            ca->argv[i].p = q;
            ca->argv[i].len = (size_t)n;
        }
        p = q + n + 2;
    }
    if (p != end)
        return clusterc__fail(err, errcap, "command: %zu trailing bytes", (size_t)(end - p));
    return 0;
}

/* The entry for name in t, else in its fallback (the built-in table: "not
 * in a learned table may still be a core command the server hides from
 * COMMAND (ACL): the built-in rules beat guessing"), with one key of the
 * name for both. *props gets the learned table's miss_props on a miss. */
static const cmdent *lookup(const clusterc__cmdtable *t, arg name, const char *end,
                            unsigned *props)
{
    const clusterc__cmdtable *fb = t->fallback;
    *props = 0;
    if (name.len > t->maxlen && (fb == NULL || name.len > fb->maxlen))
        return NULL;   /* longer than any name: no hash of a huge argument */
    cmdkey k = clusterc__cmd_key(name.p, name.len, (size_t)(end - name.p));
    const cmdent *e = clusterc__cmd_find(t, name.p, name.len, k);
    if (e != NULL || fb == NULL)
        return e;
    *props = t->miss_props;
    return clusterc__cmd_find(fb, name.p, name.len, k);
}

void clusterc__cmd_inspect_args(const clusterc__cmdtable *t, const cmdargs *ca,
                                clusterc__cmdinfo *out)
{
    unsigned props;
    const cmdent *e = lookup(t != NULL ? t : clusterc__cmdtable_builtin(), ca->argv[0], ca->end,
                             &props);
    long long k;
    out->name = ca->argv[0].p;
    out->namelen = ca->argv[0].len;
    if (e != NULL) {
        out->flags = e->flags;
        props |= e->props;
        k = first_key(e, ca);
    } else {
        out->flags = 0; /* unknown: primary only, never repeated */
        k = 1;
    }
    out->props = props;
    if (k >= 1 && k < ca->argc) {
        arg key = arg_at(ca, k);
        out->slot = clusterc_keyslot(key.p, key.len);
    } else {
        out->slot = -1;
    }
}

int clusterc__cmd_inspect(const clusterc__cmdtable *t, const char *resp, size_t len,
                          clusterc__cmdinfo *out, char *err, size_t errcap)
{
    cmdargs ca;
    if (resp == NULL)
        return clusterc__fail(err, errcap, "command: no buffer");
    if (parse_args(resp, len, &ca, err, errcap) != 0)
        return -1;
    clusterc__cmd_inspect_args(t, &ca, out);
    return 0;
}
