/* example.c -- the README's usage example: connect, write, read, pipeline.
 *
 *   clusterc-example 127.0.0.1:7001[,host:port...]
 */
#include <stdio.h>
#include <clusterc/clusterc.h>

int main(int argc, char **argv)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = argc > 1 ? argv[1] : "127.0.0.1:7001";

    clusterc_client *c = clusterc_connect(&o);
    if (!c || clusterc_error(c)) {
        fprintf(stderr, "connect: %s\n", c ? clusterc_errstr(c) : "out of memory");
        clusterc_free(c);
        return 1;
    }
    redisReply *r = clusterc_command(c, "SET %s %s", "greeting", "hello from libclusterc");
    if (r) freeReplyObject(r);
    r = clusterc_command(c, "GET %s", "greeting");
    if (!r) {
        fprintf(stderr, "GET: %s\n", clusterc_errstr(c));
        clusterc_free(c);
        return 1;
    }
    printf("GET greeting -> %s (slot %d)\n", r->str, clusterc_keyslot("greeting", 8));
    freeReplyObject(r);

    /* Pipelining across nodes: replies come back in call order. */
    for (int i = 0; i < 5; i++)
        clusterc_append_command(c, "INCR counter:%d", i);
    for (int i = 0; i < 5; i++) {
        void *reply;
        if (clusterc_get_reply(c, &reply) == 0) {
            printf("INCR counter:%d -> %lld\n", i, ((redisReply *)reply)->integer);
            freeReplyObject(reply);
        } else {
            fprintf(stderr, "INCR counter:%d: %s\n", i, clusterc_errstr(c));
        }
    }
    clusterc_free(c);
    return 0;
}
