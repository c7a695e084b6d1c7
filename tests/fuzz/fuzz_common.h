/* fuzz_common.h -- what the libFuzzer harnesses share (tests/fuzz/). */
#ifndef CLUSTERC_FUZZ_COMMON_H
#define CLUSTERC_FUZZ_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>

/* libFuzzer's entry point, declared for -Wmissing-prototypes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when data announces an aggregate (*, %, ~, >, |) of more than 9999
 * elements anywhere: hiredis allocates the element array up front, and a
 * 2^40-element array is hiredis's problem (docs/security.md, F11), not the
 * parser's under test. Such inputs are skipped. */
int fuzz_huge_aggregate(const uint8_t *data, size_t size);

/* Up to max replies read from data by a hiredis redisReader, into out[];
 * returns how many (0 when the bytes are not one complete reply or the
 * reader reports a protocol error). Free each with freeReplyObject. */
size_t fuzz_replies(const uint8_t *data, size_t size, redisReply **out, size_t max);

/* data as a new NUL-terminated string (cut at the first NUL). */
char *fuzz_cstr(const uint8_t *data, size_t size);

/* abort() with a message: a broken invariant is a finding, like a crash. */
void fuzz_fail(const char *what);
#endif
