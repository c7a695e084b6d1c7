/* encode.c -- the RESP encoder (pure): hiredis's format language and the
 * argv form, written once, straight where the caller wants the bytes.
 *
 * The format form reads the format and its arguments once, keeping each
 * argument as pieces (pointers into the format and the caller's strings,
 * or printf output in a small scratch area) and its length; the size is
 * then known, and the write copies every byte once, headers by hand. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include "encode.h"
#include "cmdtable.h"

/* -------------------------------------------------------------- helpers */

static size_t digits(size_t v)
{
    size_t n = 1;
    for (;;) {
        if (v < 10)
            return n;
        if (v < 100)
            return n + 1;
        if (v < 1000)
            return n + 2;
        if (v < 10000)
            return n + 3;
        v /= 10000;
        n += 4;
    }
}

/* "<c><v>\r\n" at w; returns the byte after it. */
static char *put_header(char *w, char c, size_t v)
{
    *w++ = c;
    if (v < 10) {
        *w++ = (char)('0' + v);
    } else {
        size_t n = digits(v);
        char *q = w + n;
        w = q;
        do {
            *--q = (char)('0' + v % 10);
            v /= 10;
        } while (v);
    }
    *w++ = '\r';
    *w++ = '\n';
    return w;
}

/* One bulk string's size, "$<len>\r\n<bytes>\r\n"; 0 when it overflows. */
static size_t bulk_size(size_t len)
{
    size_t head = digits(len) + 5;
    return len > SIZE_MAX - head ? 0 : len + head;
}

/* An array that starts in place (inline0) doubled, to the heap: the new
 * array, or NULL (the old one kept). */
static void *grow_array(void *arr, const void *inline0, size_t *cap, size_t used, size_t elem,
                        size_t need)
{
    size_t ncap = *cap;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem)
            return NULL;
        ncap *= 2;
    }
    void *n;
    if (arr == inline0) {
        n = malloc(ncap * elem);
        if (n && used)
            memcpy(n, arr, used * elem);
    } else {
        n = realloc(arr, ncap * elem);
    }
    if (n)
        *cap = ncap;
    return n;
}

/* ------------------------------------------------------- output buffer */

int clusterc__obuf_reserve(clusterc__obuf *o, size_t more)
{
    if (o->cap - o->len >= more)
        return 0;
    if (more > SIZE_MAX - o->len)
        return -1;
    size_t need = o->len + more, cap = o->cap ? o->cap : 4096;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *b = realloc(o->buf, cap);
    if (!b)
        return -1;
    o->buf = b;
    o->cap = cap;
    return 0;
}

void clusterc__obuf_release(clusterc__obuf *o)
{
    free(o->buf);
    o->buf = NULL;
    o->len = o->cap = 0;
}

/* ------------------------------------------------------ the format form */

enum { K_INT, K_LONG, K_LLONG, K_DOUBLE };

static int is_intconv(char c)
{
    return c != '\0' && strchr("diouxX", c) != NULL;
}

/* The kind of the printf conversion whose flags start at s (after '%'),
 * *end at its conversion letter; -1 when hiredis rejects it. */
static int conv_kind(const char *s, const char **end)
{
    while (*s != '\0' && strchr("#0-+ ", *s) != NULL)
        s++;
    while (*s >= '0' && *s <= '9')
        s++;
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    int kind = K_INT;
    if (*s == '\0') {
#if HIREDIS_MAJOR >= 1
        return -1;                   /* 1.x: invalid */
#else
        *end = s;                    /* 0.14: an int conversion (see conversion()) */
        return K_INT;
#endif
    }
    if (is_intconv(*s)) {
        *end = s;
        return K_INT;
    }
    if (strchr("eEfFgGaA", *s) != NULL) {
        *end = s;
        return K_DOUBLE;
    }
    if (s[0] == 'h')
        s += s[1] == 'h' ? 2 : 1;
    else if (s[0] == 'l' && s[1] == 'l')
        s += 2, kind = K_LLONG;
    else if (s[0] == 'l')
        s += 1, kind = K_LONG;
    else
        return -1;
    if (!is_intconv(*s))
        return -1;
    *end = s;
    return kind;
}

typedef union {
    int i;
    long l;
    long long ll;
    double d;
} conv_value;

/* snprintf of spec and v appended to the scratch area; *n its length. */
static int print_value(clusterc__enc *e, const char *spec, int kind, const conv_value *v,
                       size_t *n)
{
    for (;;) {
        size_t room = e->scrcap - e->scrlen;
        char *dst = e->scr + e->scrlen;
        int r;
        switch (kind) {
        case K_INT: r = snprintf(dst, room, spec, v->i); break;
        case K_LONG: r = snprintf(dst, room, spec, v->l); break;
        case K_LLONG: r = snprintf(dst, room, spec, v->ll); break;
        default: r = snprintf(dst, room, spec, v->d); break;
        }
        if (r < 0)
            return -1;
        if ((size_t)r < room) {
            e->scrlen += (size_t)r;
            *n = (size_t)r;
            return 0;
        }
        char *s = grow_array(e->scr, e->scr0, &e->scrcap, e->scrlen, 1,
                             e->scrlen + (size_t)r + 1);
        if (!s)
            return -1;
        e->scr = s;
    }
}

/* The printf conversion at *cp ('%'): its argument taken, its output (*n
 * bytes, maybe 0) in the scratch area, *cp past it. */
static int conversion(clusterc__enc *e, const char **cp, va_list *ap, size_t *n)
{
    const char *c = *cp, *end;
    int kind = conv_kind(c + 1, &end);
    if (kind < 0)
        return -2;
    size_t l = (size_t)(end - c) + 1;
    /* 0.14 only: a conversion cut by the format's end. hiredis 0.14 then
     * reads past the end of the format (undefined): refused here. */
    if (*end == '\0' && l < 14)
        return -2;
    conv_value v;
    switch (kind) {
    case K_INT: v.i = va_arg(*ap, int); break;
    case K_LONG: v.l = va_arg(*ap, long); break;
    case K_LLONG: v.ll = va_arg(*ap, long long); break;
    default: v.d = va_arg(*ap, double); break;
    }
    *n = 0;
    if (l >= 14) {                   /* hiredis: too long, argument taken, */
        *cp = c + 2;                 /* nothing written, read on after "%x" */
        return 0;
    }
    *cp = end + 1;
    char spec[16];
    memcpy(spec, c, l);
    spec[l] = '\0';
    return print_value(e, spec, kind, &v, n);
}

static int add_seg(clusterc__enc *e, const char *p, size_t n, size_t *cur)
{
    if (n > SIZE_MAX - *cur)
        return -1;
    if (e->nseg == e->segcap) {
        clusterc__enc_seg *s = grow_array(e->seg, e->seg0, &e->segcap, e->nseg,
                                          sizeof(*s), e->nseg + 1);
        if (!s)
            return -1;
        e->seg = s;
    }
    e->seg[e->nseg].p = p;
    e->seg[e->nseg].len = n;
    e->nseg++;
    *cur += n;
    return 0;
}

static int close_arg(clusterc__enc *e, size_t len)
{
    if (e->argc == e->argcap) {
        size_t *a = grow_array(e->arglen, e->arg0, &e->argcap, e->argc, sizeof(*a),
                               e->argc + 1);
        if (!a)
            return -1;
        e->arglen = a;
    }
    e->arglen[e->argc++] = len;
    size_t b = bulk_size(len);
    if (b == 0 || b > SIZE_MAX - e->total)
        return -1;
    e->total += b;
    return 0;
}

static int parse(clusterc__enc *e, const char *c, va_list *ap)
{
    size_t cur = 0;                  /* bytes of the argument being read */
    int touched = 0, rc = 0;
    while (*c != '\0' && rc == 0) {
        if (*c == ' ') {
            if (touched)
                rc = close_arg(e, cur);
            cur = 0;
            touched = 0;
            c++;
            continue;
        }
        const char *p = NULL;
        size_t n = 0;
        if (*c != '%' || c[1] == '\0') {
            p = c;                   /* a run of literal bytes */
            do
                c++;
            while (*c != '\0' && *c != ' ' && (*c != '%' || c[1] == '\0'));
            n = (size_t)(c - p);
        } else if (c[1] == 's') {
            p = va_arg(*ap, char *);
            n = strlen(p);
            c += 2;
        } else if (c[1] == 'b') {
            p = va_arg(*ap, char *);
            n = va_arg(*ap, size_t);
            c += 2;
        } else if (c[1] == '%') {
            p = c + 1;
            n = 1;
            c += 2;
        } else {
            rc = conversion(e, &c, ap, &n);
        }
        touched = 1;
        if (rc == 0 && n > 0)
            rc = add_seg(e, p, n, &cur);
    }
    if (rc == 0 && touched)
        rc = close_arg(e, cur);
    return rc;
}

int clusterc__enc_parse(clusterc__enc *e, const char *fmt, va_list ap)
{
    e->total = e->argc = e->nseg = e->scrlen = 0;
    e->argcap = sizeof(e->arg0) / sizeof(e->arg0[0]);
    e->segcap = sizeof(e->seg0) / sizeof(e->seg0[0]);
    e->scrcap = sizeof(e->scr0);
    e->arglen = e->arg0;
    e->seg = e->seg0;
    e->scr = e->scr0;
    va_list aq;
    va_copy(aq, ap);
    int rc = parse(e, fmt, &aq);
    va_end(aq);
    if (rc == 0) {
        size_t head = digits(e->argc) + 3;
        if (e->total > SIZE_MAX - head)
            return -1;
        e->total += head;
    }
    return rc;
}

char *clusterc__enc_write(const clusterc__enc *e, char *w)
{
    const clusterc__enc_seg *s = e->seg;
    const char *scr = e->scr;
    w = put_header(w, '*', e->argc);
    for (size_t i = 0; i < e->argc; i++) {
        size_t left = e->arglen[i];
        w = put_header(w, '$', left);
        while (left > 0) {
            const char *src = s->p;
            if (!src) {
                src = scr;
                scr += s->len;
            }
            memcpy(w, src, s->len);
            w += s->len;
            left -= s->len;
            s++;
        }
        *w++ = '\r';
        *w++ = '\n';
    }
    return w;
}

void clusterc__enc_release(clusterc__enc *e)
{
    if (e->arglen != e->arg0)
        free(e->arglen);
    if (e->seg != e->seg0)
        free(e->seg);
    if (e->scr != e->scr0)
        free(e->scr);
    e->arglen = e->arg0;
    e->seg = e->seg0;
    e->scr = e->scr0;
}

int clusterc__encode_fmt(clusterc__obuf *out, const char *fmt, va_list ap)
{
    clusterc__enc e;
    int rc = clusterc__enc_parse(&e, fmt, ap);
    if (rc == 0)
        rc = clusterc__obuf_reserve(out, e.total);
    if (rc == 0) {
        clusterc__enc_write(&e, out->buf + out->len);
        out->len += e.total;
    }
    clusterc__enc_release(&e);
    return rc;
}

int clusterc__format_command(char **target, const char *fmt, va_list ap)
{
    clusterc__enc e;
    int rc = clusterc__enc_parse(&e, fmt, ap);
    if (rc == 0 && e.total > (size_t)INT_MAX)
        rc = -1;
    char *cmd = rc == 0 ? malloc(e.total + 1) : NULL;
    if (rc == 0 && !cmd)
        rc = -1;
    if (rc == 0) {
        clusterc__enc_write(&e, cmd)[0] = '\0';
        *target = cmd;
        rc = (int)e.total;
    }
    clusterc__enc_release(&e);
    return rc;
}

/* --------------------------------------------------------- the argv form */

size_t clusterc__argv_size(int argc, const char *const *argv, const size_t *argvlen)
{
    if (argc < 0)
        return 0;
    size_t total = digits((size_t)argc) + 3;
    for (int i = 0; i < argc; i++) {
        size_t b = bulk_size(argvlen ? argvlen[i] : strlen(argv[i]));
        if (b == 0 || b > SIZE_MAX - total)
            return 0;
        total += b;
    }
    return total;
}

char *clusterc__argv_write_args(char *w, int argc, const char *const *argv,
                                const size_t *argvlen, clusterc__cmdargs *ca)
{
    w = put_header(w, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t len = argvlen ? argvlen[i] : strlen(argv[i]);
        w = put_header(w, '$', len);
        if (ca && i < 4) {
            ca->argv[i].p = w;
            ca->argv[i].len = len;
        }
        if (len)
            memcpy(w, argv[i], len);
        w += len;
        *w++ = '\r';
        *w++ = '\n';
    }
    if (ca) {
        ca->argc = argc;
        ca->end = w;
    }
    return w;
}

char *clusterc__argv_write(char *w, int argc, const char *const *argv, const size_t *argvlen)
{
    return clusterc__argv_write_args(w, argc, argv, argvlen, NULL);
}

int clusterc__encode_argv(clusterc__obuf *out, int argc, const char *const *argv,
                          const size_t *argvlen)
{
    size_t size = clusterc__argv_size(argc, argv, argvlen);
    if (size == 0 || clusterc__obuf_reserve(out, size) < 0)
        return -1;
    clusterc__argv_write(out->buf + out->len, argc, argv, argvlen);
    out->len += size;
    return 0;
}

long long clusterc__format_command_argv(char **target, int argc, const char *const *argv,
                                        const size_t *argvlen)
{
    size_t size = clusterc__argv_size(argc, argv, argvlen);
    if (size == 0 || size > (size_t)INT64_MAX - 1)
        return -1;
    char *cmd = malloc(size + 1);
    if (!cmd)
        return -1;
    clusterc__argv_write(cmd, argc, argv, argvlen)[0] = '\0';
    *target = cmd;
    return (long long)size;
}

int clusterc__format_argv(char **target, int argc, const char *const *argv,
                          const size_t *argvlen)
{
    long long n = clusterc__format_command_argv(target, argc, argv, argvlen);
    if (n > INT_MAX) {   /* the faces keep lengths in an int, as hiredis 0.14 */
        free(*target);
        *target = NULL;
        return -1;
    }
    return (int)n;
}
