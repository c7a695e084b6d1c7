/*
 * harness.h -- a C face for tests over tests/cluster/harness.py.
 *
 * harness_start() runs `harness.py start` which launches N primaries with R
 * replicas each as local redis-server processes on 127.0.0.1, builds the
 * cluster with `redis-cli --cluster create` (or by hand for N < 3), waits
 * until every node reports cluster_state:ok, and leaves a watchdog that kills
 * the servers when this test process exits (even by crashing) or after 30
 * minutes. harness_stop() tears everything down at once.
 *
 * PORTS: each test program must use its own base port so ctest -j can run
 * them side by side. Convention: 30000 + 100*k, k unique per test program
 * (k = 9, base 30900, is the harness's own smoke test). Nodes take
 * base .. base+N*(1+R)-1 and their cluster bus ports (port-10000 for bases
 * 30000-30999 on Redis 7, to stay out of the ephemeral range; port+10000
 * otherwise). Passing 0 uses
 * $CLUSTERC_TEST_PORT_BASE or 30000. Start refuses if a port is in use.
 *
 * This is test code: it uses hiredis's blocking API and prints diagnostics
 * to stderr. One harness at a time per process for the password-aware
 * harness_connect(); not thread-safe.
 *
 * TLS: extra_args "--tls" starts a cluster that speaks TLS only: every node
 * has `port 0` and `tls-port P` (P is the port reported here, as without
 * TLS), tls-cluster and tls-replication on, and certificates made by
 * examples/lab/tls-certs.sh into harness_tls_dir(h) (ca.crt, server.*,
 * client.*, other-ca.crt, wrongname.*, expired.*: see that script).
 * "--tls-auth-clients" adds `tls-auth-clients yes` (mutual TLS: clients
 * need client.crt/client.key); "--tls-cert wrongname|expired" gives every
 * node that certificate instead of server.crt (expired: one node only, as
 * nodes refuse each other's expired certificates). The harness's own
 * traffic (readiness checks, redis-cli, harness_cmd) uses TLS without
 * verifying anything and presents client.crt. hiredis 0.14 has no TLS, so
 * harness_connect() returns NULL for the ports of a running TLS harness;
 * harness_cmd() and harness_primary_of_slot() still work (through
 * `harness.py cmd`: a python process per call, about 0.1 s each).
 */
#ifndef CLUSTERC_TEST_HARNESS_H
#define CLUSTERC_TEST_HARNESS_H

#include <hiredis/hiredis.h>

typedef struct harness harness;

/* Start a cluster. extra_args are appended to the `harness.py start`
 * command line (shell syntax), e.g. "--password pw" or
 * "--extra 'maxmemory 10mb' --node-timeout 1000"; NULL for none.
 * Returns NULL (after printing why on stderr) on failure. */
harness *harness_start(int base_port, int primaries, int replicas, const char *extra_args);

/* Kill every server, wait for them, remove the harness directory and free h.
 * NULL is a harmless no-op. */
void harness_stop(harness *h);

/* Nodes in port order, 0 <= i < harness_count(h). Roles are "master" or
 * "slave" as of the last start / wait_ok (a failover changes them: call
 * harness_wait_ok to refresh). Strings are owned by h. */
int harness_count(const harness *h);
int harness_port(const harness *h, int i);
int harness_pid(const harness *h, int i);
const char *harness_role(const harness *h, int i);
const char *harness_id(const harness *h, int i);
/* The port of the node with that role: the n-th (from 0) master/slave, or -1. */
int harness_nth_port(const harness *h, const char *role, int n);

/* "127.0.0.1:p1,127.0.0.1:p2,..." for every node; owned by h. */
const char *harness_seeds(const harness *h);
/* The password the cluster was started with, or NULL. */
const char *harness_password(const harness *h);
/* The directory of the cluster's certificates (no trailing slash; owned by
 * h, removed by harness_stop), or NULL when it was not started with --tls. */
const char *harness_tls_dir(const harness *h);

/* Send signal "KILL", "TERM", "STOP" or "CONT" to the node on port. KILL and
 * TERM wait until it is gone. 0 on success, -1 on failure. */
int harness_kill(harness *h, int port, const char *signal);
/* Start a killed node again with its config and nodes.conf; waits for PING
 * (not for the cluster: use harness_wait_ok). 0 / -1. */
int harness_restart(harness *h, int port);
/* Wait until every live node reports cluster_state:ok, knows every node, and
 * every live replica's link is up; refreshes roles. 0 / -1 on timeout. */
int harness_wait_ok(harness *h, int timeout_s);

/* A blocking hiredis connection to 127.0.0.1:port with a 2 s timeout,
 * authenticated when the running harness has a password. NULL on failure,
 * and always NULL for a port of a running TLS harness (use harness_cmd).
 * Free with redisFree(). */
redisContext *harness_connect(int port);

/* One command on a fresh connection to port. Returns the reply (free with
 * freeReplyObject; error replies are replies) or NULL on I/O failure.
 * Over TLS when h is a TLS harness: the command is formatted here (any
 * hiredis format), sent by `harness.py cmd`, and its reply's RESP bytes
 * are parsed back with a hiredis reader, so the reply is the same. */
redisReply *harness_cmd(harness *h, int port, const char *fmt, ...);

/* The port of the master serving slot, from CLUSTER SLOTS of the first live
 * node that answers; -1 if none does. */
int harness_primary_of_slot(harness *h, int slot);

#endif /* CLUSTERC_TEST_HARNESS_H */
