/* fuzz_common.c -- hiredis reader and string helpers for the harnesses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_common.h"

int fuzz_huge_aggregate(const uint8_t *data, size_t size)
{
    /* Anywhere, not only at a line's start: hiredis 0.14 skips a bulk
     * string's two terminator bytes unchecked, so "$0\r\n\no*62222222222"
     * reads 'o' as the terminator and the '*' as the next header (the long
     * run's fanout_merge out-of-memory, docs/reliability.md). */
    for (size_t i = 0; i < size; i++) {
        uint8_t c = data[i];
        if (c != '*' && c != '%' && c != '~' && c != '>' && c != '|')
            continue;
        size_t j = i + 1, digits = 0;
        if (j < size && data[j] == '-')
            j++;
        while (j < size && data[j] >= '0' && data[j] <= '9' && digits < 6) {
            j++;
            digits++;
        }
        if (digits > 4)
            return 1;
    }
    return 0;
}

size_t fuzz_replies(const uint8_t *data, size_t size, redisReply **out, size_t max)
{
    if (fuzz_huge_aggregate(data, size))
        return 0;
    redisReader *rd = redisReaderCreate();
    if (!rd)
        return 0;
    size_t n = 0;
    if (redisReaderFeed(rd, (const char *)data, size) == REDIS_OK) {
        while (n < max) {
            void *r = NULL;
            if (redisReaderGetReply(rd, &r) != REDIS_OK || r == NULL)
                break;
            out[n++] = r;
        }
    }
    redisReaderFree(rd);
    return n;
}

char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return NULL;
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

void fuzz_fail(const char *what)
{
    fprintf(stderr, "fuzz invariant broken: %s\n", what);
    abort();
}
