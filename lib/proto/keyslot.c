/* keyslot.c -- CRC16-XMODEM and the cluster hash slot of a key (pure). */
#include <string.h>
#include "clusterc/clusterc.h"
#include "keyslot.h"

/*
 * CRC16-XMODEM (poly 0x1021, init 0, no reflection, no final xor), one byte
 * per step with the shift/xor identity for this polynomial instead of a
 * 256-entry table: same speed class, and no 512-byte table to get wrong.
 * x is the top byte of the register mixed with the input; the three
 * shifted copies of x are the polynomial's terms (x^12, x^5, x^0).
 */
uint16_t clusterc__crc16(const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    unsigned crc = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned x = ((crc >> 8) ^ p[i]) & 0xffu;
        x ^= x >> 4;
        crc = ((crc << 8) ^ (x << 12) ^ (x << 5) ^ x) & 0xffffu;
    }
    return (uint16_t)crc;
}

CLUSTERC_API int clusterc_keyslot(const char *key, size_t keylen)
{
    if (key == NULL || keylen == 0)
        return 0;
    /* Hash tag: the bytes between the first '{' and the next '}', only
     * when non-empty ("foo{}{bar}" hashes the whole key, as the spec says). */
    const char *open = memchr(key, '{', keylen);
    if (open != NULL) {
        size_t start = (size_t)(open - key) + 1;
        const char *close = memchr(key + start, '}', keylen - start);
        if (close != NULL && close > key + start)
            return clusterc__crc16(key + start, (size_t)(close - (key + start))) & 16383;
    }
    return clusterc__crc16(key, keylen) & 16383;
}
