/* tls.h -- TLS over OpenSSL for connections (internal).
 *
 * One clusterc__tls per client holds the SSL_CTX: trust store, client
 * certificate, minimum version, all loaded once when the client is made.
 * Each connection then gets an SSL object on its own non-blocking socket
 * once TCP is up; conn.c drives the handshake from its events and moves
 * bytes through clusterc__tls_read / clusterc__tls_write instead of
 * recv()/send(). Nothing here knows of the engine.
 */
#ifndef CLUSTERC_TLS_H
#define CLUSTERC_TLS_H
#include <stddef.h>
#include <sys/types.h>
#include "clusterc/clusterc.h"

typedef struct clusterc__tls clusterc__tls;
typedef struct ssl_st clusterc__ssl;   /* OpenSSL's SSL, without its headers */

/* Build the context from o's tls_* options. Returns NULL with err naming
 * the option and the reason (unreadable file, key not matching the
 * certificate...); *oom set when that was memory. */
clusterc__tls *clusterc__tls_new(const clusterc_options *o, char *err, size_t cap, int *oom);
void clusterc__tls_free(clusterc__tls *t);

/* The socket side of a session: OpenSSL reads and writes the socket
 * through these (conn.c's recv with the kernel's arrival time, send with
 * MSG_NOSIGNAL, so a peer gone away is an error, never a SIGPIPE). Both
 * return what recv()/send() return, errno included. */
typedef struct clusterc__tls_io {
    ssize_t (*recv)(void *arg, char *buf, size_t len);
    ssize_t (*send)(void *arg, const char *buf, size_t len);
    void *arg;
} clusterc__tls_io;

/* A session over io to host (what was dialled: the name checked unless
 * tls_server_name is set). io is borrowed and must outlive the session.
 * NULL when out of memory. */
clusterc__ssl *clusterc__tls_session(clusterc__tls *t, const clusterc__tls_io *io,
                                     const char *host);
void clusterc__tls_session_free(clusterc__ssl *s, int was_up);

/* One step of the handshake. Returns 1 when done, 0 when it must wait
 * (*want_write says for what), -1 when it failed: why (at most cap bytes)
 * then says why in words, with a hint where one helps. */
int clusterc__tls_handshake(clusterc__ssl *s, int *want_write, char *why, size_t cap);

/* Like recv()/send() on a non-blocking socket: bytes moved (> 0), 0 for
 * "nothing now, wait" (read: nothing buffered; write: wait for the
 * socket), -1 when the stream ended or failed (why says how; *tls_err set
 * when the failure is TLS's own, an alert or a bad record, rather than a
 * plain close or a socket error). A read returning the full len may have
 * more buffered: call again. */
ssize_t clusterc__tls_read(clusterc__ssl *s, char *buf, size_t len, char *why, size_t cap,
                           int *tls_err);
ssize_t clusterc__tls_write(clusterc__ssl *s, const char *buf, size_t len, char *why, size_t cap,
                            int *tls_err);

/* What to say of a server that closed a TLS connection right after the
 * handshake, before any reply: it refused this client's certificate, or
 * wanted one (" (...)", static). */
const char *clusterc__tls_refusal_hint(const clusterc__tls *t);

/* Decrypted or received bytes wait inside the session (read again before
 * waiting for the socket). */
int clusterc__tls_pending(const clusterc__ssl *s);
#endif
