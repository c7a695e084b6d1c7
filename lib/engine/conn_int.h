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
#endif
