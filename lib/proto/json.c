/* json.c -- a small JSON writer into a growable buffer (pure). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"

void clusterc__json_init(clusterc__json *j)
{
    memset(j, 0, sizeof(*j));
}

void clusterc__json_free(clusterc__json *j)
{
    free(j->buf);
    clusterc__json_init(j);
}

char *clusterc__json_finish(clusterc__json *j)
{
    char *out = j->oom || !j->buf ? NULL : j->buf;
    if (!out)
        free(j->buf);
    clusterc__json_init(j);   /* ownership of the buffer moves to the caller */
    return out;
}

static int reserve(clusterc__json *j, size_t more)
{
    if (j->oom)
        return -1;
    if (j->len + more + 1 <= j->cap)
        return 0;
    size_t cap = j->cap ? j->cap : 256;
    while (cap < j->len + more + 1)
        cap *= 2;
    char *b = realloc(j->buf, cap);
    if (!b) {
        j->oom = 1;
        return -1;
    }
    j->buf = b;
    j->cap = cap;
    return 0;
}

static void put(clusterc__json *j, const char *s, size_t n)
{
    if (reserve(j, n) < 0)
        return;
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

/* Before a value: a comma when this level already has one (not after a key). */
static void sep(clusterc__json *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->count[j->depth])
        put(j, ",", 1);
    j->count[j->depth] = 1;
}

static void open_level(clusterc__json *j, const char *c)
{
    sep(j);
    put(j, c, 1);
    if (j->depth + 1 >= CLUSTERC__JSON_DEPTH) {
        j->oom = 1;
        return;
    }
    j->count[++j->depth] = 0;
}

static void close_level(clusterc__json *j, const char *c)
{
    if (j->depth > 0)
        j->depth--;
    put(j, c, 1);
}

void clusterc__json_object(clusterc__json *j) { open_level(j, "{"); }
void clusterc__json_object_end(clusterc__json *j) { close_level(j, "}"); }
void clusterc__json_array(clusterc__json *j) { open_level(j, "["); }
void clusterc__json_array_end(clusterc__json *j) { close_level(j, "]"); }

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned cp;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4, cp = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static void escaped(clusterc__json *j, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    put(j, "\"", 1);
    size_t run = 0;   /* bytes copied as they are, written in one put */
    for (size_t i = 0; i < len;) {
        const char *esc = NULL;
        char hex[8];
        size_t n = utf8_len(u + i, len - i);
        switch (u[i]) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (u[i] < 0x20) {
                snprintf(hex, sizeof(hex), "\\u%04x", u[i]);
                esc = hex;
            } else if (n == 0) {
                esc = "\\ufffd";
                n = 1;
            }
        }
        if (esc) {
            put(j, s + i - run, run);
            put(j, esc, strlen(esc));
            run = 0;
            i += n ? n : 1;
        } else {
            run += n;
            i += n;
        }
    }
    put(j, s + len - run, run);
    put(j, "\"", 1);
}

void clusterc__json_key(clusterc__json *j, const char *key)
{
    sep(j);
    escaped(j, key, strlen(key));
    put(j, ":", 1);
    j->after_key = 1;
}

void clusterc__json_strn(clusterc__json *j, const char *s, size_t len)
{
    sep(j);
    escaped(j, s, len);
}

void clusterc__json_str(clusterc__json *j, const char *s)
{
    if (!s)
        clusterc__json_null(j);
    else
        clusterc__json_strn(j, s, strlen(s));
}

static void raw(clusterc__json *j, const char *text)
{
    sep(j);
    put(j, text, strlen(text));
}

void clusterc__json_int(clusterc__json *j, long long v)
{
    char b[32];
    snprintf(b, sizeof(b), "%lld", v);
    raw(j, b);
}

void clusterc__json_uint(clusterc__json *j, unsigned long long v)
{
    char b[32];
    snprintf(b, sizeof(b), "%llu", v);
    raw(j, b);
}

void clusterc__json_double(clusterc__json *j, double v)
{
    char b[40];
    if (!isfinite(v)) {
        raw(j, "null");   /* JSON has no NaN or infinity */
        return;
    }
    snprintf(b, sizeof(b), "%.17g", v);
    /* printf follows LC_NUMERIC: a host program in a comma-decimal locale
     * would get "12,5", which is not JSON. */
    for (char *c = b; *c; c++)
        if (*c == ',')
            *c = '.';
    raw(j, b);
}

void clusterc__json_bool(clusterc__json *j, int v) { raw(j, v ? "true" : "false"); }
void clusterc__json_null(clusterc__json *j) { raw(j, "null"); }

void clusterc__json_kstr(clusterc__json *j, const char *key, const char *s)
{
    clusterc__json_key(j, key);
    clusterc__json_str(j, s);
}

void clusterc__json_kint(clusterc__json *j, const char *key, long long v)
{
    clusterc__json_key(j, key);
    clusterc__json_int(j, v);
}

void clusterc__json_kuint(clusterc__json *j, const char *key, unsigned long long v)
{
    clusterc__json_key(j, key);
    clusterc__json_uint(j, v);
}

/* -1 means "not known": null reads better than a magic number in JSON. */
void clusterc__json_kint_known(clusterc__json *j, const char *key, long long v)
{
    clusterc__json_key(j, key);
    if (v == -1)
        clusterc__json_null(j);
    else
        clusterc__json_int(j, v);
}

void clusterc__json_kbool(clusterc__json *j, const char *key, int v)
{
    clusterc__json_key(j, key);
    clusterc__json_bool(j, v);
}
