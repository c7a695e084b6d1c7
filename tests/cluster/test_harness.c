/*
 * test_harness.c -- smoke test of the cluster harness itself: start 3
 * primaries with a replica each, kill a replica, restart it, wait for the
 * cluster to heal, write through the slot owner, stop, and check that no
 * server is left listening.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BASE_PORT 30900 /* this program's own range; see harness.h */

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            harness_stop(h);                                                    \
            return 1;                                                           \
        }                                                                       \
    } while (0)

static int count_role(const harness *h, const char *role)
{
    int n = 0;
    for (int i = 0; i < harness_count(h); i++)
        n += strcmp(harness_role(h, i), role) == 0;
    return n;
}

static int reply_is(redisReply *r, const char *status)
{
    int ok = r && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING) &&
             strcmp(r->str, status) == 0;
    if (r)
        freeReplyObject(r);
    return ok;
}

int main(void)
{
    harness *h = harness_start(BASE_PORT, 3, 1, NULL);
    if (!h)
        return 1;
    CHECK(harness_count(h) == 6);
    CHECK(count_role(h, "master") == 3 && count_role(h, "slave") == 3);
    CHECK(strlen(harness_id(h, 0)) == 40);
    CHECK(strncmp(harness_seeds(h), "127.0.0.1:30900,127.0.0.1:30901", 31) == 0);

    int replica = harness_nth_port(h, "slave", 0);
    CHECK(replica > 0);
    CHECK(harness_kill(h, replica, "KILL") == 0);
    redisContext *c = harness_connect(replica);
    CHECK(c == NULL);
    CHECK(harness_restart(h, replica) == 0);
    CHECK(harness_wait_ok(h, 30) == 0);
    CHECK(count_role(h, "slave") == 3);

    int owner = harness_primary_of_slot(h, 12182); /* slot of "foo" */
    CHECK(owner > 0);
    CHECK(reply_is(harness_cmd(h, owner, "SET foo %s", "bar"), "OK"));
    CHECK(reply_is(harness_cmd(h, owner, "GET foo"), "bar"));

    int ports[6];
    for (int i = 0; i < 6; i++)
        ports[i] = harness_port(h, i);
    harness_stop(h);
    h = NULL;
    for (int i = 0; i < 6; i++) {
        c = harness_connect(ports[i]);
        CHECK(c == NULL);
    }
    printf("test_harness: ok\n");
    return 0;
}
