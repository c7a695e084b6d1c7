/* fuzz_encode.c -- the RESP encoder (proto/encode.c) against hiredis's
 * redisvFormatCommand / redisFormatCommandArgv on fuzzed commands: the
 * bytes and the result must be the same, in every form (malloc'ed, the
 * append to a buffer already holding bytes, the two steps).
 *
 * Input: byte 0 picks the form (bit 0: argv; bit 1: argv with lengths).
 *   format: bytes 1.. up to a NUL are the format, the bytes after it feed
 *     the arguments. A fuzzed format could name conversions whose
 *     arguments are not there, so it is tamed first, by rules of its own
 *     (not the encoder's): the first five conversions among %s, %b, and
 *     %[flags][width][.prec](d|i|u|x|hd|hhd|lld|llx) get an argument each
 *     (a string, bytes, an int, a long long, taken from the feed); %% and a
 *     '%' at the end stay; a '%' before a byte no conversion can start
 *     with (a letter outside them, say %z) stays too, an invalid format
 *     for both; any other '%' becomes "%%".
 *   argv: from byte 1, up to 64 arguments, each a length byte and bytes. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_common.h"
#include "proto/encode.h"

#define NSLOT 5
enum { T_STR, T_BIN, T_INT, T_LL };

typedef struct slot {
    char *s;                         /* T_STR: NUL-terminated */
    char *b;                         /* T_BIN */
    size_t bl;
    int d;
    long long ll;
} slot;

typedef struct feed {
    const uint8_t *p;
    size_t n;
} feed;

static size_t take(feed *f, void *dst, size_t want)
{
    size_t k = want < f->n ? want : f->n;
    if (k)
        memcpy(dst, f->p, k);
    if (k < want)
        memset((char *)dst + k, 0, want - k);
    f->p += k;
    f->n -= k;
    return k;
}

/* Storage for the strings the slots point to. */
static char store[NSLOT][256];

static void fill_slot(slot *s, int k, int type, feed *f)
{
    uint8_t len = 0;
    memset(s, 0, sizeof(*s));
    switch (type) {
    case T_STR:
    case T_BIN:
        take(f, &len, 1);
        len = (uint8_t)take(f, store[k], len);
        store[k][len] = '\0';
        s->s = store[k];
        s->b = len ? store[k] : NULL;
        s->bl = len;
        break;
    case T_INT: take(f, &s->d, sizeof(s->d)); break;
    default: take(f, &s->ll, sizeof(s->ll)); break;
    }
}

/* The length of an int or long long conversion at p ('%'), *type set; 0
 * when p starts none of the forms the harness feeds. */
static size_t int_conv(const char *p, int *type)
{
    size_t i = 1, k;
    for (k = 0; k < 16 && p[i] && strchr("#0-+ ", p[i]); k++)
        i++;
    for (k = 0; k < 3 && p[i] >= '0' && p[i] <= '9'; k++)
        i++;
    if (p[i] == '.') {
        i++;
        for (k = 0; k < 2 && p[i] >= '0' && p[i] <= '9'; k++)
            i++;
    }
    if (p[i] >= '0' && p[i] <= '9')
        return 0;                    /* more digits than fed: no */
    *type = T_INT;
    if (p[i] && strchr("diux", p[i]))
        return i + 1;
    if (p[i] == 'h' && p[i + 1] == 'd')
        return i + 2;
    if (p[i] == 'h' && p[i + 1] == 'h' && p[i + 2] == 'd')
        return i + 3;
    *type = T_LL;
    if (p[i] == 'l' && p[i + 1] == 'l' && p[i + 2] && strchr("dx", p[i + 2]))
        return i + 3;
    return 0;
}

/* The tamed format of in into out (room for 2 * strlen(in) + 1), the
 * types of its conversions in types[]; returns how many. */
static int tame(const char *in, char *out, int *types)
{
    int n = 0;
    size_t o = 0;
    for (size_t i = 0; in[i];) {
        if (in[i] != '%' || in[i + 1] == '\0' || in[i + 1] == '%') {
            size_t k = (in[i] == '%' && in[i + 1] == '%') ? 2 : 1;
            memcpy(out + o, in + i, k);
            o += k;
            i += k;
            continue;
        }
        size_t len = 0;
        int type = T_STR;
        if (in[i + 1] == 's' || in[i + 1] == 'b') {
            len = 2;
            type = in[i + 1] == 's' ? T_STR : T_BIN;
        } else {
            len = int_conv(in + i, &type);
        }
        if (len && n < NSLOT) {
            types[n++] = type;
            memcpy(out + o, in + i, len);
            o += len;
            i += len;
        } else if (strchr("sbdiouxXeEfFgGaAhl0123456789.#-+ ", in[i + 1])) {
            out[o++] = '%';          /* might start a conversion: made literal */
            out[o++] = '%';
            i++;
        } else {
            out[o++] = in[i++];      /* no conversion starts so: invalid for both */
        }
    }
    out[o] = '\0';
    return n;
}

static void compare(const char *what, const char *h, long long hl, const char *m, long long ml)
{
    if (ml != hl || (hl >= 0 && memcmp(h, m, (size_t)hl) != 0))
        fuzz_fail(what);
}

static void run(const char *fmt, ...)
{
    va_list ap, a1, a2, a3;
    va_start(ap, fmt);
    va_copy(a1, ap);
    va_copy(a2, ap);
    va_copy(a3, ap);
    char *h = NULL, *m = NULL;
    int hl = redisvFormatCommand(&h, fmt, ap);
    int ml = clusterc__format_command(&m, fmt, a1);
    compare("encode: format_command differs from hiredis", h, hl, m, ml);
    clusterc__obuf o = { NULL, 0, 0 };
    if (clusterc__obuf_reserve(&o, 3) < 0)
        fuzz_fail("encode: reserve");
    memcpy(o.buf, "pre", 3);
    o.len = 3;
    int rc = clusterc__encode_fmt(&o, fmt, a2);
    if (rc < 0 && o.len != 3)
        fuzz_fail("encode: encode_fmt failed but appended");
    compare("encode: encode_fmt differs from hiredis", h, hl, o.buf + 3,
            rc < 0 ? rc : (long long)o.len - 3);
    clusterc__enc e;
    rc = clusterc__enc_parse(&e, fmt, a3);
    if (rc == 0) {
        char *b = malloc(e.total);
        if (!b || clusterc__enc_write(&e, b) != b + e.total)
            fuzz_fail("encode: enc_write");
        compare("encode: enc_write differs from hiredis", h, hl, b, (long long)e.total);
        free(b);
    } else if (rc != hl) {
        fuzz_fail("encode: enc_parse result differs from hiredis");
    }
    clusterc__enc_release(&e);
    clusterc__obuf_release(&o);
    if (h)
        redisFreeCommand(h);
    free(m);
    va_end(a3);
    va_end(a2);
    va_end(a1);
    va_end(ap);
}

/* Every sequence of NSLOT types, one call each: a format takes a prefix. */
#define T0(k) sl[k].s
#define T1(k) sl[k].b, sl[k].bl
#define T2(k) sl[k].d
#define T3(k) sl[k].ll
#define C5(a, b, c, d, e) \
    case a + 4 * b + 16 * c + 64 * d + 256 * e: run(fmt, T##a(0), T##b(1), T##c(2), T##d(3), T##e(4)); break;
#define C4(a, b, c, d) C5(a, b, c, d, 0) C5(a, b, c, d, 1) C5(a, b, c, d, 2) C5(a, b, c, d, 3)
#define C3(a, b, c) C4(a, b, c, 0) C4(a, b, c, 1) C4(a, b, c, 2) C4(a, b, c, 3)
#define C2(a, b) C3(a, b, 0) C3(a, b, 1) C3(a, b, 2) C3(a, b, 3)
#define C1(a) C2(a, 0) C2(a, 1) C2(a, 2) C2(a, 3)

static void call(const char *fmt, const int *types, const slot *sl)
{
    int code = types[0] + 4 * types[1] + 16 * types[2] + 64 * types[3] + 256 * types[4];
    switch (code) {
        C1(0) C1(1) C1(2) C1(3)
    default: break;
    }
}

static void fuzz_format(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t flen = nul ? (size_t)(nul - data) : size;
    char *in = malloc(flen + 1), *fmt = malloc(2 * flen + 1);
    if (!in || !fmt)
        fuzz_fail("encode: malloc");
    memcpy(in, data, flen);
    in[flen] = '\0';
    int types[NSLOT] = { T_STR, T_STR, T_STR, T_STR, T_STR };
    int n = tame(in, fmt, types);
    feed f = { data + flen, size - flen };
    if (f.n) {                               /* the NUL */
        f.p++;
        f.n--;
    }
    slot sl[NSLOT];
    for (int k = 0; k < NSLOT; k++)
        fill_slot(&sl[k], k, k < n ? types[k] : T_STR, &f);
    call(fmt, types, sl);
    free(fmt);
    free(in);
}

static void fuzz_argv(const uint8_t *data, size_t size, int lens)
{
    const char *argv[64];
    size_t argvlen[64];
    char *copy[64];
    feed f = { data, size };
    int argc = 0;
    while (argc < 64 && f.n > 0) {
        uint8_t len = 0;
        take(&f, &len, 1);
        copy[argc] = malloc((size_t)len + 1);
        if (!copy[argc])
            fuzz_fail("encode: malloc");
        len = (uint8_t)take(&f, copy[argc], len);
        copy[argc][len] = '\0';
        argv[argc] = copy[argc];
        argvlen[argc] = len;
        argc++;
    }
    char *h = NULL, *m = NULL;
    long long hl = redisFormatCommandArgv(&h, argc, argv, lens ? argvlen : NULL);
    long long ml = clusterc__format_command_argv(&m, argc, argv, lens ? argvlen : NULL);
    compare("encode: format_command_argv differs from hiredis", h, hl, m, ml);
    clusterc__obuf o = { NULL, 0, 0 };
    if (clusterc__encode_argv(&o, argc, argv, lens ? argvlen : NULL) < 0)
        fuzz_fail("encode: encode_argv failed");
    compare("encode: encode_argv differs from hiredis", h, hl, o.buf, (long long)o.len);
    clusterc__obuf_release(&o);
    if (h)
        redisFreeCommand(h);
    free(m);
    for (int k = 0; k < argc; k++)
        free(copy[k]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 4096)
        return 0;
    if (data[0] & 1)
        fuzz_argv(data + 1, size - 1, data[0] & 2);
    else
        fuzz_format(data + 1, size - 1);
    return 0;
}
