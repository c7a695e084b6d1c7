/*
 * test_harness.c -- smoke test of the cluster harness itself: start 3
 * primaries with a replica each, kill a replica, restart it, wait for the
 * cluster to heal, write through the slot owner, stop, and check that no
 * server is left listening. Then the same over TLS (mutual TLS: --tls
 * --tls-auth-clients), where harness_cmd goes through `harness.py cmd`.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define BASE_PORT 30900 /* this program's own range; see harness.h */
#define TLS_BASE_PORT 22990 /* the TLS self-test: 22990-22995 */

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

/* 1 if something accepts TCP connections on 127.0.0.1:port. */
static int listening(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int file_exists(const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

/* 3+1 over mutual TLS: the C face works through harness.py cmd. */
static int tls_smoke(void)
{
    harness *h = harness_start(TLS_BASE_PORT, 3, 1, "--tls --tls-auth-clients");
    if (!h)
        return 1;
    CHECK(harness_count(h) == 6 && count_role(h, "slave") == 3);
    CHECK(harness_tls_dir(h) != NULL && file_exists(harness_tls_dir(h), "ca.crt"));
    CHECK(file_exists(harness_tls_dir(h), "client.key") && file_exists(harness_tls_dir(h), "expired.crt"));
    CHECK(harness_connect(TLS_BASE_PORT) == NULL); /* hiredis 0.14: no TLS */
    int replica = harness_nth_port(h, "slave", 0);
    CHECK(harness_kill(h, replica, "KILL") == 0 && !listening(replica));
    CHECK(harness_restart(h, replica) == 0);
    CHECK(harness_wait_ok(h, 30) == 0 && count_role(h, "slave") == 3);

    int owner = harness_primary_of_slot(h, 12182);
    CHECK(owner > 0);
    CHECK(reply_is(harness_cmd(h, owner, "SET foo %b", "b\r\n\0r", (size_t)5), "OK"));
    redisReply *r = harness_cmd(h, owner, "GET foo");
    CHECK(r && r->type == REDIS_REPLY_STRING && r->len == 5 && memcmp(r->str, "b\r\n\0r", 5) == 0);
    freeReplyObject(r);
    r = harness_cmd(h, owner, "NO-SUCH-COMMAND");
    CHECK(r && r->type == REDIS_REPLY_ERROR);
    freeReplyObject(r);
    r = harness_cmd(h, owner, "CLUSTER SLOTS");
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3);
    freeReplyObject(r);
    CHECK(harness_cmd(h, TLS_BASE_PORT + 20, "PING") == NULL); /* nothing there */

    harness_stop(h);
    h = NULL;
    for (int i = 0; i < 6; i++)
        CHECK(!listening(TLS_BASE_PORT + i));
    return 0;
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
    if (tls_smoke() != 0)
        return 1;
    printf("test_harness: ok\n");
    return 0;
}
