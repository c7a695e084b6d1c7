/*
 * consumer.c -- a program built against an *installed* libclusterc, by
 * pkg-config and by find_package(clusterc). It only proves that the headers,
 * the library and its dependencies resolve; no server is needed.
 */
#include <clusterc/async.h>
#include <clusterc/clusterc.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    clusterc_options o;
    clusterc_options_init(&o);
    int slot = clusterc_keyslot("foo", 3);
    int slot2 = clusterc_keyslot("123456789", 9);
    printf("keyslot(foo) = %d, keyslot(123456789) = %d, strerror(ETIMEOUT) = %s\n", slot,
           slot2, clusterc_strerror(CLUSTERC_ETIMEOUT));
    /* 12182 and 12739 are Redis's own values (CLUSTER KEYSLOT). */
    if (slot != 12182 || slot2 != 12739 || o.seeds != NULL || o.connect_timeout_ms != 1000)
        return 1;
    if (strcmp(clusterc_strerror(CLUSTERC_ETIMEOUT), "timed out") != 0)
        return 1;
    return 0;
}
