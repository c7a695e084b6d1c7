/* conn_int.h -- between conn.c (bytes on an open connection) and
 * conn_dial.c (opening it: DNS, TCP connect, TLS handshake, deadline). */
#ifndef CLUSTERC_CONN_INT_H
#define CLUSTERC_CONN_INT_H
#include "conn.h"

/* Start opening n (state DOWN): failures are reported from the loop. */
void clusterc__conn_dial(clusterc__conn *n);

/* The connection is open (TCP, and TLS when configured): set up its read
 * and write events, report connected, write what is queued. */
void clusterc__conn_up(clusterc__conn *n);

/* The socket as a TLS session reaches it (clusterc__tls_io); arg is n. */
ssize_t clusterc__conn_io_recv(void *arg, char *buf, size_t len);
ssize_t clusterc__conn_io_send(void *arg, const char *buf, size_t len);

/* A test seam, NULL in every program but the engine's fuzz harness
 * (tests/fuzz/fuzz_engine.c): when set, every dial takes its socket from
 * it instead of DNS + connect (the harness hands out one end of a
 * socketpair and plays the server on the other), so the whole reply path
 * runs on bytes that never touched a network. Returns a connected,
 * non-blocking fd, or -1 with errno set (the dial then fails as a refused
 * connect would). Set it before any client exists; not thread-safe. */
typedef int clusterc__dial_fn(const char *host, int port);
extern clusterc__dial_fn *clusterc__dial_override;
#endif
