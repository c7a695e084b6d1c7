/* test_encode.c -- the RESP encoder (proto/encode.c) against hiredis's own,
 * byte for byte: hand-picked formats, then a large generated set of
 * formats and arguments (empty strings, binary with NUL, %%, every printf
 * conversion with flags, width, precision and length, spaces everywhere,
 * arguments over 64 KB, many arguments and many pieces), and the argv
 * form. Every case runs through the malloc'ed form, the append to a
 * buffer that already holds bytes, and the two-step form; each must give
 * hiredis's bytes and hiredis's result (-2 for an invalid format). Passes
 * against hiredis 0.14 and the 1.x API (CLUSTERC_HIREDIS=1x). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <math.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include "proto/encode.h"

#define FMT_CASES 30000
#define ARGV_CASES 6000
#define NSLOT 12
#define LONG_LEN 70000               /* an argument over 64 KB */

static int mismatches;
static unsigned long cases_run;
static int hiredis_unsafe;           /* 0.14 would read past the format: skip it */

static void show(const char *what, const char *p, size_t n)
{
    fprintf(stderr, "  %s (%zu bytes): \"", what, n);
    for (size_t i = 0; i < n && i < 200; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 32 && c < 127 && c != '"' && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fprintf(stderr, "%s\"\n", n > 200 ? "..." : "");
}

static void mismatch(const char *fmt, const char *why, const char *want, long long wl,
                     const char *got, long long gl)
{
    if (mismatches++ >= 10)
        return;
    fprintf(stderr, "encode mismatch (%s), case %lu\n", why, cases_run);
    if (fmt)
        show("format", fmt, strlen(fmt));
    fprintf(stderr, "  hiredis %lld, ours %lld\n", wl, gl);
    if (want && wl > 0)
        show("hiredis", want, (size_t)wl);
    if (got && gl > 0)
        show("ours", got, (size_t)gl);
}

/* Our result in o (after its prefix plen) against hiredis's h/hl. */
static void compare_obuf(const char *fmt, const char *what, const char *h, long long hl,
                         int rc, const clusterc__obuf *o, size_t plen)
{
    if (hl < 0) {
        if (rc != hl || o->len != plen)
            mismatch(fmt, what, NULL, hl, NULL, rc);
    } else if (rc != 0 || o->len != plen + (size_t)hl ||
               memcmp(o->buf + plen, h, (size_t)hl) != 0 || memcmp(o->buf, "PREFIX", plen) != 0) {
        mismatch(fmt, what, h, hl, o->buf ? o->buf + plen : NULL, (long long)(o->len - plen));
    }
}

/* The two-step form into an exact buffer. */
static void check_two_step(const char *fmt, const char *h, int hl, va_list ap)
{
    clusterc__enc e;
    int rc = clusterc__enc_parse(&e, fmt, ap);
    if (rc < 0 || hl < 0) {
        if (rc != hl)
            mismatch(fmt, "enc_parse", NULL, hl, NULL, rc);
    } else {
        char *b = malloc(e.total ? e.total : 1);
        assert_non_null(b);
        char *end = clusterc__enc_write(&e, b);
        if (e.total != (size_t)hl || end != b + e.total || memcmp(b, h, e.total) != 0)
            mismatch(fmt, "enc_write", h, hl, b, (long long)e.total);
        free(b);
    }
    clusterc__enc_release(&e);
}

/* fmt and its arguments through hiredis and through each of our forms. */
static void check_fmt(const char *fmt, ...)
{
    va_list ap, a1, a2, a3;
    va_start(ap, fmt);
    va_copy(a1, ap);
    va_copy(a2, ap);
    va_copy(a3, ap);
    cases_run++;
    char *h = NULL, *m = NULL;
    int hl = hiredis_unsafe ? -2 : redisvFormatCommand(&h, fmt, ap);
    int ml = clusterc__format_command(&m, fmt, a1);
    if (ml != hl || (hl >= 0 && (memcmp(h, m, (size_t)hl + 1) != 0)))
        mismatch(fmt, "format_command", h, hl, m, ml);
    clusterc__obuf o = { NULL, 0, 0 };
    size_t plen = (cases_run % 3 == 0) ? 0 : 6;
    if (plen) {
        assert_int_equal(clusterc__obuf_reserve(&o, plen), 0);
        memcpy(o.buf, "PREFIX", plen);
        o.len = plen;
    }
    int rc = clusterc__encode_fmt(&o, fmt, a2);
    compare_obuf(fmt, "encode_fmt", h, hl, rc, &o, plen);
    check_two_step(fmt, h, hl, a3);
    clusterc__obuf_release(&o);
    if (h)
        redisFreeCommand(h);
    free(m);
    va_end(a3);
    va_end(a2);
    va_end(a1);
    va_end(ap);
}

static void check_argv(int argc, const char **argv, const size_t *argvlen)
{
    cases_run++;
    char *h = NULL, *m = NULL;
    long long hl = redisFormatCommandArgv(&h, argc, argv, argvlen);
    long long ml = clusterc__format_command_argv(&m, argc, argv, argvlen);
    if (ml != hl || (hl >= 0 && memcmp(h, m, (size_t)hl + 1) != 0))
        mismatch(NULL, "format_command_argv", h, hl, m, ml);
    clusterc__obuf o = { NULL, 0, 0 };
    size_t plen = (cases_run % 2) ? 6 : 0;
    if (plen) {
        assert_int_equal(clusterc__obuf_reserve(&o, plen), 0);
        memcpy(o.buf, "PREFIX", plen);
        o.len = plen;
    }
    int rc = clusterc__encode_argv(&o, argc, argv, argvlen);
    compare_obuf(NULL, "encode_argv", h, hl, rc, &o, plen);
    size_t sz = clusterc__argv_size(argc, argv, argvlen);
    if ((long long)sz != hl)
        mismatch(NULL, "argv_size", NULL, hl, NULL, (long long)sz);
    clusterc__obuf_release(&o);
    if (h)
        redisFreeCommand(h);
    free(m);
}

/* ------------------------------------------------------------ hand-picked */

static void test_hand_picked(void **state)
{
    (void)state;
    static const char bin[] = { 'a', '\0', 'b', '\r', '\n', ' ', '\0' };
    mismatches = 0;
    check_fmt("GET %s", "key");
    check_fmt("SET %s %s", "key", "value");
    check_fmt("SET %s %b", "key", bin, sizeof(bin));
    check_fmt("");
    check_fmt("   ");
    check_fmt("  GET   a  b  ");
    check_fmt("SET key:%s:%d %s", "user", 42, "hello world");
    check_fmt("SET %s %s", "", "");
    check_fmt("%b", (const char *)NULL, (size_t)0);
    check_fmt("%%");
    check_fmt("100%");
    check_fmt("a %% b%%c %%");
    check_fmt("%%s %s", "x");
    check_fmt("%d %i %o %u %x %X", -1, 2, 8, 3u, 255, 255);
    check_fmt("%hhd %hd %ld %lld %lu %llx", 300, 70000, -5L, LLONG_MIN, ULONG_MAX, ULLONG_MAX);
    check_fmt("%e %E %f %F %g %G %a %A", 1.5, -2.5, 3.25, NAN, 1e-300, INFINITY, 0.1, -0.0);
    check_fmt("%#x %08.3d %-5d| %+d % d", 255, 7, 3, 4, 5);
    check_fmt("%-------------d|x", 1);    /* 14 bytes: hiredis writes nothing */
    check_fmt("%0000000000000000d", 1);
    check_fmt("% 12.7f", 3.14);
    check_fmt("%z");
    check_fmt("GET %s %c", "k", 'c');
    check_fmt("%lf", 1.0);
    check_fmt("%Lf", 1.0);
    check_fmt("%hhf", 1.0);
    check_fmt("%5s", "x");
    check_fmt("a %ll", 1LL);
    check_fmt("a %h", 1);
    check_fmt("%.0d%.0d", 0, 0);
    check_fmt("x%.0dy %.0d", 0, 0);
    check_fmt("%70000d", 5);
#if HIREDIS_MAJOR >= 1
    check_fmt("a %5", 1);                  /* 0.14: undefined (reads past the end) */
    check_fmt("a %.", 1);
#endif
    check_fmt("a %0000000000000", 1);      /* the end after 14 bytes: defined in both */
    if (mismatches)
        fail_msg("%d mismatches", mismatches);
}

/* Sizes past what fits are refused, never wrapped. */
static void test_limits(void **state)
{
    (void)state;
    char *t = NULL;
    const char *argv[] = { "a", "b" };
    size_t huge[] = { SIZE_MAX - 3, 1 };
    assert_int_equal(clusterc__format_command_argv(&t, -1, argv, NULL), -1);
    assert_int_equal(clusterc__format_command_argv(&t, 2, argv, huge), -1);
    assert_int_equal(clusterc__argv_size(2, argv, huge), 0);
    clusterc__obuf o = { NULL, 0, 0 };
    assert_int_equal(clusterc__encode_argv(&o, 2, argv, huge), -1);
    assert_int_equal(o.len, 0);
    assert_int_equal(clusterc__encode_argv(&o, 0, argv, NULL), 0);
    assert_int_equal(o.len, 4);
    assert_memory_equal(o.buf, "*0\r\n", 4);
    clusterc__obuf_release(&o);
}

/* -------------------------------------------------------------- generated */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)            /* 0..n-1 */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)((rng_state >> 11) % n);
}

static char *long_str, *long_bin;          /* LONG_LEN bytes each */
static char rand_str[16][24];              /* random bytes, no NUL */

static const char *pick_str(void)
{
    static const char *const pool[] = { "", "a", "key", "hello world", "  ", " lead", "trail ",
                                        "%s%d%%", "\r\n", "tab\there", "\xc3\xa9t\xc3\xa9",
                                        "a b c d e f" };
    uint32_t r = rnd(1000);
    if (r < 4)
        return long_str;
    if (r < 300)
        return rand_str[rnd(16)];
    return pool[rnd(sizeof(pool) / sizeof(pool[0]))];
}

static void pick_bin(const char **p, size_t *n)
{
    static const char raw[] = "\0a\0b \r\n\0\xff%s";
    uint32_t r = rnd(1000);
    if (r < 4) {
        *p = long_bin;
        *n = LONG_LEN;
    } else if (r < 100) {
        *p = NULL;
        *n = 0;
    } else {
        size_t off = rnd(sizeof(raw));
        *p = raw + off;
        *n = rnd((uint32_t)(sizeof(raw) - off));
    }
}

static const int ints[] = { 0, 1, -1, 7, 42, 255, 256, -128, 65535, INT_MAX, INT_MIN, 100000 };
static const long longs[] = { 0, -1, LONG_MAX, LONG_MIN, 123456789L, 4096 };
static const long long llongs[] = { 0, -1, LLONG_MAX, LLONG_MIN, 1LL << 40, 99 };
static double dbls[] = { 0.0, -0.0, 1.0, -2.5, 3.141592653589793, 1e300, -1e-300, 5e-324,
                         123456.789, 0.1, 0, 0 };

typedef struct argset {
    const char *s[NSLOT], *b[NSLOT];
    size_t bl[NSLOT];
    int i[NSLOT];
    long l[NSLOT];
    long long ll[NSLOT];
    double d[NSLOT];
} argset;

/* Argument lists of fixed types, in the order a generated format takes
 * them ('s' %s, 'b' %b, 'i' int, 'l' long, 'L' long long, 'd' double); a
 * format may stop early: the rest is not read. */
static const char *const patterns[] = {
    "sbilLdsbiLds", "idsLblisdbLl", "bssiiddLLllb", "dLlibsdisbLl",
    "ssssssssssss", "bbbbbbbbbbbb", "iiiiiiiiiiii", "dddddddddddd",
};

#define S(j) a->s[j]
#define B(j) (char *)a->b[j], a->bl[j]
#define I(j) a->i[j]
#define L(j) a->l[j]
#define LL(j) a->ll[j]
#define D(j) a->d[j]

static void call_pattern(int k, const char *f, const argset *a)
{
    switch (k) {
    case 0: check_fmt(f, S(0), B(1), I(2), L(3), LL(4), D(5), S(6), B(7), I(8), LL(9), D(10), S(11)); break;
    case 1: check_fmt(f, I(0), D(1), S(2), LL(3), B(4), L(5), I(6), S(7), D(8), B(9), LL(10), L(11)); break;
    case 2: check_fmt(f, B(0), S(1), S(2), I(3), I(4), D(5), D(6), LL(7), LL(8), L(9), L(10), B(11)); break;
    case 3: check_fmt(f, D(0), LL(1), L(2), I(3), B(4), S(5), D(6), I(7), S(8), B(9), LL(10), L(11)); break;
    case 4: check_fmt(f, S(0), S(1), S(2), S(3), S(4), S(5), S(6), S(7), S(8), S(9), S(10), S(11)); break;
    case 5: check_fmt(f, B(0), B(1), B(2), B(3), B(4), B(5), B(6), B(7), B(8), B(9), B(10), B(11)); break;
    case 6: check_fmt(f, I(0), I(1), I(2), I(3), I(4), I(5), I(6), I(7), I(8), I(9), I(10), I(11)); break;
    default: check_fmt(f, D(0), D(1), D(2), D(3), D(4), D(5), D(6), D(7), D(8), D(9), D(10), D(11)); break;
    }
}

typedef struct fbuf {
    char s[8192];
    size_t n;
} fbuf;

static void put(fbuf *f, const char *s)
{
    size_t n = strlen(s);
    if (f->n + n < sizeof(f->s)) {
        memcpy(f->s + f->n, s, n);
        f->n += n;
        f->s[f->n] = '\0';
    }
}

static void put_c(fbuf *f, char c)
{
    char s[2] = { c, '\0' };
    put(f, s);
}

/* '%', flags, width, precision: the front of a printf conversion. */
static void put_spec_front(fbuf *f)
{
    static const char flags[] = "#0-+ ";
    put_c(f, '%');
    uint32_t nf = rnd(100) < 3 ? 13 : rnd(4);       /* 13: the 14-byte quirk */
    for (uint32_t j = 0; j < nf; j++)
        put_c(f, flags[rnd(5)]);
    uint32_t r = rnd(1000);
    char num[16];
    if (r < 4)
        put(f, "70000");
    else if (r < 500) {
        snprintf(num, sizeof(num), "%u", rnd(r < 100 ? 1000 : 40));
        put(f, num);
    }
    if (rnd(100) < 35) {
        put_c(f, '.');
        if (rnd(4)) {
            snprintf(num, sizeof(num), "%u", rnd(rnd(4) ? 20 : 400));
            put(f, num);
        }
    }
}

/* A conversion for the slot of type t, its argument stored in a. */
static void put_conversion(fbuf *f, char t, int j, argset *a)
{
    static const char intc[] = "diouxX", dblc[] = "eEfFgGaA";
    switch (t) {
    case 's': put(f, "%s"); a->s[j] = pick_str(); return;
    case 'b': put(f, "%b"); pick_bin(&a->b[j], &a->bl[j]); return;
    default: break;
    }
    put_spec_front(f);
    if (t == 'd') {
        put_c(f, dblc[rnd(8)]);
        return;
    }
    if (t == 'i') {
        uint32_t r = rnd(3);
        put(f, r == 0 ? "" : r == 1 ? "h" : "hh");
    } else {
        put(f, t == 'l' ? "l" : "ll");
    }
    put_c(f, intc[rnd(6)]);
}

static void put_literal(fbuf *f)
{
    static const char *const pool[] = { "GET", "SET", "key:", ":", "a", "x y", "\t", "\r\n",
                                        "\xff\xfe", "%%", "a%%b", "{tag}", "0", "-" };
    uint32_t r = rnd(100);
    if (r < 30) {
        put(f, pool[rnd(sizeof(pool) / sizeof(pool[0]))]);
    } else if (r < 60) {
        uint32_t n = 1 + rnd(3);
        while (n--)
            put_c(f, ' ');
    } else {
        uint32_t n = 1 + rnd(8);
        while (n--) {
            char c = (char)(1 + rnd(255));
            put_c(f, c == '%' ? ' ' : c);
        }
    }
}

/* What may end a format: nothing, a lone '%', an invalid conversion, a
 * conversion cut by the end. */
static void put_ending(fbuf *f, const char *pat, int slot)
{
    static const char *const invalid[] = { "%z", "%c", "%p", "%lf", "%Lf", "%hhf", "%5s",
                                           "%-b", "%q", "%hhhd", "%llld", "%hl", "%ll",
                                           "%h", "%.3lf", "%n", "%y%", "%-+hhq" };
    uint32_t r = rnd(100);
    hiredis_unsafe = 0;
    if (r < 5) {
        put_c(f, '%');
    } else if (r < 10) {
        put(f, invalid[rnd(sizeof(invalid) / sizeof(invalid[0]))]);
        put(f, rnd(2) ? " tail" : "");
    } else if (r < 13) {
        put(f, rnd(2) ? " %5" : "%-.");          /* cut: 0.14 reads past the end */
#if HIREDIS_MAJOR < 1
        hiredis_unsafe = 1;
#endif
    } else if (r < 15 && slot < NSLOT && pat[slot] == 'i') {
        put(f, " %0000000000000");               /* cut after 14 bytes: defined */
    }
}

static void gen_format(fbuf *f, int k, argset *a)
{
    const char *pat = patterns[k];
    int slot = 0;
    f->n = 0;
    f->s[0] = '\0';
    uint32_t mode = rnd(100), parts = rnd(16);
    if (mode < 3)
        parts = 200 + rnd(300);                  /* many arguments */
    int glued = mode >= 3 && mode < 8;       /* many pieces, one argument */
    if (glued)
        parts = 20 + rnd(20);
    for (uint32_t p = 0; p < parts; p++) {
        uint32_t r = rnd(100);
        if (r < 50 && slot < NSLOT) {
            put_conversion(f, pat[slot], slot, a);
            slot++;
        } else if (glued) {
            put(f, rnd(2) ? "k" : "%%");
        } else if (r < 95) {
            put_literal(f);
        } else {
            put(f, "%%");
        }
    }
    put_ending(f, pat, slot);
}

static void gen_args(argset *a)
{
    for (int j = 0; j < NSLOT; j++) {
        a->s[j] = pick_str();
        pick_bin(&a->b[j], &a->bl[j]);
        a->i[j] = rnd(4) ? ints[rnd(12)] : (int)(rnd(UINT32_MAX) - INT32_MAX);
        a->l[j] = longs[rnd(6)];
        a->ll[j] = llongs[rnd(6)];
        a->d[j] = rnd(4) ? dbls[rnd(12)] : (double)rnd(1000000) / 7.0 - 1000.0;
    }
}

static void fill_pools(void)
{
    long_str = malloc(LONG_LEN + 1);
    long_bin = malloc(LONG_LEN);
    assert_non_null(long_str);
    assert_non_null(long_bin);
    for (size_t j = 0; j < LONG_LEN; j++) {
        long_str[j] = (char)('a' + j % 26);
        long_bin[j] = (char)(j * 31 % 256);
    }
    long_str[LONG_LEN / 2] = ' ';
    long_str[LONG_LEN] = '\0';
    for (int j = 0; j < 16; j++) {
        size_t n = rnd(sizeof(rand_str[j]));
        for (size_t q = 0; q < n; q++)
            rand_str[j][q] = (char)(1 + rnd(255));
        rand_str[j][n] = '\0';
    }
    dbls[10] = NAN;
    dbls[11] = -INFINITY;
}

/* Under the valgrind twin a tenth of the generated cases: they look for
 * memory errors, which any case shows; the native run keeps the breadth. */
static int cases(int n)
{
    return getenv("CLUSTERC_UNDER_VALGRIND") ? n / 10 : n;
}

static void test_generated_formats(void **state)
{
    (void)state;
    static fbuf f;
    argset a;
    rng_state = 0x9e3779b97f4a7c15ULL;
    mismatches = 0;
    fill_pools();
    for (int n = 0; n < cases(FMT_CASES); n++) {
        int k = (int)rnd(sizeof(patterns) / sizeof(patterns[0]));
        gen_args(&a);
        gen_format(&f, k, &a);
        call_pattern(k, f.s, &a);
    }
    hiredis_unsafe = 0;
    if (mismatches)
        fail_msg("%d mismatches in %d generated formats", mismatches, cases(FMT_CASES));
}

static void test_generated_argv(void **state)
{
    (void)state;
    enum { MAXARGS = 3000 };
    static const char *argv[MAXARGS];
    static size_t argvlen[MAXARGS];
    rng_state = 0x243f6a8885a308d3ULL;
    mismatches = 0;
    for (int n = 0; n < cases(ARGV_CASES); n++) {
        int argc = rnd(100) < 2 ? (int)(1000 + rnd(MAXARGS - 1000)) : (int)rnd(30);
        int lens = (int)rnd(2);
        for (int j = 0; j < argc; j++) {
            if (lens && rnd(2)) {
                pick_bin(&argv[j], &argvlen[j]);
            } else {
                argv[j] = rnd(200) ? pick_str() : long_str;
                argvlen[j] = strlen(argv[j]);
            }
        }
        check_argv(argc, argv, lens ? argvlen : NULL);
    }
    free(long_str);
    free(long_bin);
    if (mismatches)
        fail_msg("%d mismatches in %d generated argv", mismatches, cases(ARGV_CASES));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_picked),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_generated_formats),
        cmocka_unit_test(test_generated_argv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
