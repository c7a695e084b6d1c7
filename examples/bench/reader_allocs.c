/* reader_allocs.c -- what hiredis's reader allocates per bulk-string reply.
 *
 * Feeds N replies "$3\r\nxxx\r\n" to a redisReader, 50 per feed (like 50
 * GETs in flight), takes each reply and frees it. Run it under
 * malloc_count.so for two values of N: the difference divided by the
 * difference in N is the allocations per reply.
 *
 *   cc -O2 -o reader_allocs examples/bench/reader_allocs.c $(pkg-config --cflags --libs hiredis)
 *   LD_PRELOAD=./malloc_count.so ./reader_allocs 100000
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    const char one[] = "$3\r\nxxx\r\n";
    char batch[50 * (sizeof(one) - 1)];
    for (int i = 0; i < 50; i++)
        memcpy(batch + i * (sizeof(one) - 1), one, sizeof(one) - 1);
    redisReader *rd = redisReaderCreate();
    long got = 0;
    while (got < n) {
        redisReaderFeed(rd, batch, sizeof(batch));
        for (int i = 0; i < 50; i++) {
            void *reply;
            if (redisReaderGetReply(rd, &reply) != REDIS_OK || !reply) {
                fprintf(stderr, "reader error\n");
                return 1;
            }
            freeReplyObject(reply);
            got++;
        }
    }
    redisReaderFree(rd);
    printf("%ld replies\n", got);
    return 0;
}
