/* itest.h -- shared helpers for the integration tests (cmocka + harness). */
#ifndef CLUSTERC_ITEST_H
#define CLUSTERC_ITEST_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <clusterc/async.h>
#include <clusterc/clusterc.h>
#include "harness.h"

/* A blocking client on the harness's seeds; opts may be NULL (defaults). */
clusterc_client *it_client(const harness *h, const clusterc_options *opts);

/* Run base until *flag is non-zero or timeout_ms passes; returns *flag. */
int it_loop_until(struct event_base *base, const int *flag, int timeout_ms);

/* Milliseconds on a monotonic clock. */
int64_t it_now_ms(void);

/* Assert that r is a reply of the given type (and free nothing). */
void it_expect_str(redisReply *r, const char *want);
#endif

/* The node id of the node on port, or fail the test. */
const char *it_id_of_port(const harness *h, int port);

/* A master port other than `not`, or fail. */
int it_other_master(const harness *h, int not_port);

/* Run a command on a node and require a +OK / non-error reply. */
void it_node_ok(harness *h, int port, const char *fmt, ...);

/* Wait (bounded, about 10 s) until every node's CLUSTER SHARDS calls every
 * replica online, then 1.2 s more for acknowledgements. */
void it_wait_replicas_online(harness *h);

/* The primary a replica on port follows (ROLE), or -1 (a primary, no answer). */
int it_master_port_of(harness *h, int port);

/* A 3 primaries x 2 replicas cluster's shards: primary[s], rep[s][0..1]. */
void it_learn_shards(harness *h, int primary[3], int rep[3][2]);
