/* encode.h -- the library's own RESP encoder (pure): commands in the
 * format language of hiredis's redisFormatCommand, or as argv, written as
 * RESP arrays of bulk strings straight into a caller's buffer.
 *
 * The format language (byte for byte what hiredis produces, proven by
 * tests/unit/test_encode.c and tests/fuzz/fuzz_encode.c):
 *   - a space separates arguments; runs of spaces, leading and trailing
 *     spaces make no empty argument; every other byte is literal;
 *   - %s a C string, %b a pointer and a size_t (binary safe), %% a '%';
 *     an interpolated string is one argument whatever it holds (spaces
 *     too), and an empty %s or %b still makes an (empty) argument;
 *   - a printf conversion of an int (d i o u x X, with the length
 *     modifiers hh h l ll) or of a double (e E f F g G a A), with flags
 *     "#0-+ ", a width and a precision (digits only, no '*'), formatted by
 *     snprintf; anything else after '%' is an invalid format (-2). A
 *     conversion of 14 bytes or more ('%' to the conversion letter) takes
 *     its argument but writes nothing, and the bytes after "%x" are read
 *     on as literal text: hiredis does so.
 *   - a '%' as the last byte is literal; a conversion cut by the end of
 *     the format ("a %5") is invalid (-2) as in hiredis 1.x. hiredis 0.14
 *     reads past the end of such a format (undefined), except when the
 *     cut conversion has 14 bytes or more: then it takes an int and reads
 *     on, and so does this encoder when built against 0.14 (HIREDIS_MAJOR).
 * Results: 0 (or a length) on success, -1 out of memory (or a size past
 * what fits), -2 an invalid format; on failure nothing is appended. */
#ifndef CLUSTERC_ENCODE_H
#define CLUSTERC_ENCODE_H
#include <stdarg.h>
#include <stddef.h>

/* A growable output buffer: bytes buf[0..len), room for cap. The engine's
 * connection buffer has the same three fields (obuf, olen, ocap). */
typedef struct clusterc__obuf {
    char *buf;
    size_t len, cap;
} clusterc__obuf;

/* Room for at least more bytes after len (capacity doubled from 4096,
 * like the connection buffer): 0, or -1 out of memory (nothing changed). */
int clusterc__obuf_reserve(clusterc__obuf *o, size_t more);
void clusterc__obuf_release(clusterc__obuf *o);

/* ------------------------------------------------ the format form, in two steps
 * For a caller with a buffer of its own (the engine's output buffer, with
 * its compaction and its wiping): clusterc__enc_parse reads the format and
 * its arguments once and leaves the exact size in e->total; the caller
 * makes room and clusterc__enc_write writes the e->total bytes there; then
 * clusterc__enc_release (also after a failed parse). The segments point
 * into the format and the arguments, which must outlive the write; an
 * encoding lives where it was parsed (it points into itself: no copying).
 * Small commands (16 arguments, 16 pieces, 64 bytes of printf output)
 * allocate nothing. The engine's connection buffer, for one:
 *     if (clusterc__enc_parse(&e, fmt, ap) == 0 && <room for e.total at obuf + olen>)
 *         clusterc__enc_write(&e, obuf + olen), olen += e.total;
 *     clusterc__enc_release(&e); */
typedef struct clusterc__enc_seg {
    const char *p;                   /* NULL: the next len bytes of scr */
    size_t len;
} clusterc__enc_seg;

typedef struct clusterc__enc {
    size_t total;                    /* bytes of RESP, once parsed */
    size_t argc, argcap;
    size_t nseg, segcap;
    size_t scrlen, scrcap;           /* printf output, in segment order */
    size_t *arglen;                  /* arg0 or the heap */
    clusterc__enc_seg *seg;          /* seg0 or the heap */
    char *scr;                       /* scr0 or the heap */
    size_t arg0[16];
    clusterc__enc_seg seg0[16];
    char scr0[64];
} clusterc__enc;

/* 0, -1 or -2. ap is used up as vprintf uses it. */
int clusterc__enc_parse(clusterc__enc *e, const char *fmt, va_list ap);
/* Writes e->total bytes at dst; returns dst + e->total. */
char *clusterc__enc_write(const clusterc__enc *e, char *dst);
void clusterc__enc_release(clusterc__enc *e);

/* ------------------------------------------------ one call
 * Append the command to out: 0, -1 or -2 (out unchanged on failure). */
int clusterc__encode_fmt(clusterc__obuf *out, const char *fmt, va_list ap);
/* argvlen NULL: strlen of each argument. 0 or -1 (argc < 0, OOM). */
int clusterc__encode_argv(clusterc__obuf *out, int argc, const char *const *argv,
                          const size_t *argvlen);

/* The argv form in two steps: the size (0 when argc < 0 or the size does
 * not fit a size_t), then the bytes at dst (returns dst + size). */
size_t clusterc__argv_size(int argc, const char *const *argv, const size_t *argvlen);
char *clusterc__argv_write(char *dst, int argc, const char *const *argv, const size_t *argvlen);
/* The same, also telling ca where the arguments landed (argc >= 1; ca->end
 * the returned pointer): clusterc__cmd_inspect_args then needs no parse. */
struct clusterc__cmdargs;
char *clusterc__argv_write_args(char *dst, int argc, const char *const *argv,
                                const size_t *argvlen, struct clusterc__cmdargs *ca);

/* Like redisvFormatCommand / redisFormatCommandArgv: *target a malloc'ed,
 * NUL-terminated command (free() it); returns its length, -1 or -2. */
int clusterc__format_command(char **target, const char *fmt, va_list ap);
long long clusterc__format_command_argv(char **target, int argc, const char *const *argv,
                                        const size_t *argvlen);
/* The same with an int result (-1 also when the command passes INT_MAX
 * bytes), as the faces keep command lengths. */
int clusterc__format_argv(char **target, int argc, const char *const *argv,
                          const size_t *argvlen);
#endif
