/* tls.c -- TLS over OpenSSL: the context, sessions, and errors in words.
 *
 * A thin layer rather than libevent's OpenSSL bufferevents: conn.c already
 * owns its buffers, its FIFO and its batching of writes per loop turn, and
 * a bufferevent would add a second set of buffers and callbacks on every
 * request (docs/architecture.md, "TLS"). Here OpenSSL encrypts straight
 * from conn.c's output buffer and decrypts into its read chunk; the socket
 * is reached through a BIO of our own that calls conn.c back.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "tls.h"

struct clusterc__tls {
    SSL_CTX *ctx;
    BIO_METHOD *bio;      /* the socket BIO over clusterc__tls_io */
    char *server_name;    /* tls_server_name, or NULL: the dialled host */
    int verify;
    int has_cert;         /* a client certificate is configured */
};

/* ------------------------------------------------------------ the BIO */

static int bio_read(BIO *b, char *buf, int len)
{
    const clusterc__tls_io *io = BIO_get_data(b);
    ssize_t r = io->recv(io->arg, buf, (size_t)len);
    BIO_clear_retry_flags(b);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    return (int)r;
}

static int bio_write(BIO *b, const char *buf, int len)
{
    const clusterc__tls_io *io = BIO_get_data(b);
    ssize_t w = io->send(io->arg, buf, (size_t)len);
    BIO_clear_retry_flags(b);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)w;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b; (void)num; (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;   /* writes are never buffered here */
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *bio_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "clusterc socket");
    if (m && (!BIO_meth_set_read(m, bio_read) || !BIO_meth_set_write(m, bio_write) ||
              !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create))) {
        BIO_meth_free(m);
        m = NULL;
    }
    return m;
}

/* ------------------------------------------------------------ the context */

/* OpenSSL's oldest queued error in words (the root cause), queue emptied. */
static const char *ssl_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    snprintf(buf, cap, "%s", r ? r : e ? "unknown OpenSSL error" : "no details");
    return buf;
}

static int bad_file(char *err, size_t cap, const char *opt, const char *file, const char *what)
{
    char r[160];
    if (access(file, R_OK) < 0)
        snprintf(err, cap, "option %s = \"%s\": cannot read it: %s", opt, file, strerror(errno));
    else
        snprintf(err, cap, "option %s = \"%s\": %s (OpenSSL: %s)", opt, file, what,
                 ssl_reason(r, sizeof(r)));
    ERR_clear_error();
    return -1;
}

static int load_trust(clusterc__tls *t, const clusterc_options *o, char *err, size_t cap)
{
    if (o->tls_insecure_skip_verify) {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
        return 0;
    }
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    t->verify = 1;
    if (!o->tls_ca_file && !o->tls_ca_dir) {
        if (SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
            char r[160];
            snprintf(err, cap, "TLS: cannot load the system's trust store (OpenSSL: %s)",
                     ssl_reason(r, sizeof(r)));
            return -1;
        }
        return 0;
    }
    if (o->tls_ca_dir && access(o->tls_ca_dir, R_OK | X_OK) < 0) {
        snprintf(err, cap, "option tls_ca_dir = \"%s\": cannot read it: %s", o->tls_ca_dir,
                 strerror(errno));
        return -1;
    }
    if (SSL_CTX_load_verify_locations(t->ctx, o->tls_ca_file, o->tls_ca_dir) != 1)
        return bad_file(err, cap, o->tls_ca_file ? "tls_ca_file" : "tls_ca_dir",
                        o->tls_ca_file ? o->tls_ca_file : o->tls_ca_dir,
                        "not a PEM CA certificate bundle");
    return 0;
}

static int load_identity(clusterc__tls *t, const clusterc_options *o, char *err, size_t cap)
{
    if (!o->tls_cert_file)
        return 0;
    t->has_cert = 1;
    if (SSL_CTX_use_certificate_chain_file(t->ctx, o->tls_cert_file) != 1)
        return bad_file(err, cap, "tls_cert_file", o->tls_cert_file, "not a PEM certificate");
    if (SSL_CTX_use_PrivateKey_file(t->ctx, o->tls_key_file, SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_error()) != X509_R_KEY_VALUES_MISMATCH)
        return bad_file(err, cap, "tls_key_file", o->tls_key_file,
                        "not an unencrypted PEM private key");
    /* A readable key of another certificate fails above with "key values
     * mismatch" (OpenSSL 3) or only here (older ones): say it in words. */
    if (ERR_peek_error() || SSL_CTX_check_private_key(t->ctx) != 1) {
        snprintf(err, cap, "option tls_key_file = \"%s\": does not match tls_cert_file \"%s\"",
                 o->tls_key_file, o->tls_cert_file);
        ERR_clear_error();
        return -1;
    }
    return 0;
}

clusterc__tls *clusterc__tls_new(const clusterc_options *o, char *err, size_t cap, int *oom)
{
    clusterc__tls *t = calloc(1, sizeof(*t));
    *oom = 0;
    if (!t || !(t->ctx = SSL_CTX_new(TLS_client_method())) || !(t->bio = bio_method()) ||
        (o->tls_server_name && !(t->server_name = strdup(o->tls_server_name)))) {
        *oom = 1;
        snprintf(err, cap, "out of memory setting up TLS");
        clusterc__tls_free(t);
        return NULL;
    }
    /* Partial writes and a moving buffer: conn.c hands SSL_write whatever
     * of its output buffer is unwritten, and may grow (move) it between a
     * write that must be retried and the retry. */
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Read whole socket buffers, not record by record (one recv for many
     * small replies); conn.c drains what is left (clusterc__tls_pending). */
    SSL_CTX_set_read_ahead(t->ctx, 1);
    SSL_CTX_set_min_proto_version(t->ctx, o->tls_min_version &&
                                  strcmp(o->tls_min_version, "1.3") == 0
                                      ? TLS1_3_VERSION : TLS1_2_VERSION);
    if (load_trust(t, o, err, cap) < 0 || load_identity(t, o, err, cap) < 0) {
        clusterc__tls_free(t);
        return NULL;
    }
    return t;
}

void clusterc__tls_free(clusterc__tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    BIO_meth_free(t->bio);
    free(t->server_name);
    free(t);
}

/* ------------------------------------------------------------ sessions */

static int set_peer_name(SSL *s, const char *name, int verify)
{
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    /* SNI carries host names only (RFC 6066); an address is checked
     * against the certificate's IP SANs instead. */
    if (!is_ip && SSL_set_tlsext_host_name(s, name) != 1)
        return -1;
    if (!verify)
        return 0;
    if (is_ip)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), name) == 1 ? 0 : -1;
    SSL_set_hostflags(s, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(s, name) == 1 ? 0 : -1;
}

clusterc__ssl *clusterc__tls_session(clusterc__tls *t, const clusterc__tls_io *io,
                                     const char *host)
{
    SSL *s = SSL_new(t->ctx);
    BIO *b = s ? BIO_new(t->bio) : NULL;
    if (!b || set_peer_name(s, t->server_name ? t->server_name : host, t->verify) < 0) {
        BIO_free(b);
        SSL_free(s);
        ERR_clear_error();
        return NULL;
    }
    BIO_set_data(b, (void *)io);
    SSL_set_bio(s, b, b);
    SSL_set_connect_state(s);
    return s;
}

void clusterc__tls_session_free(clusterc__ssl *s, int was_up)
{
    if (!s)
        return;
    /* close_notify, once, without waiting for the peer's: a clean end of
     * the stream for the server's log; the socket is closed next anyway. */
    if (was_up)
        (void)SSL_shutdown(s);
    ERR_clear_error();
    SSL_free(s);
}

/* ------------------------------------------------------------ errors */

static const char *verify_hint(long v)
{
    switch (v) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return " (unknown CA: the certificate's issuer is not in tls_ca_file, tls_ca_dir "
               "or the system's trust store)";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return " (host name mismatch: the certificate does not carry the name or address "
               "dialled; set tls_server_name to a name it carries)";
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return " (the server's certificate has expired)";
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return " (the server's certificate is not valid yet: check both clocks)";
    default:
        return "";
    }
}

static const char *reason_hint(int reason)
{
    switch (reason) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_HTTP_REQUEST:
#ifdef SSL_R_RECORD_LAYER_FAILURE
    case SSL_R_RECORD_LAYER_FAILURE:
#endif
        return " (the server does not speak TLS there: a plain-text port? dial the node's "
               "tls-port, or drop tls)";
#ifdef SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
#endif
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        return " (does the server require a client certificate? set tls_cert_file and "
               "tls_key_file)";
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
        return " (the server refused this client's certificate)";
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_UNSUPPORTED_PROTOCOL:
        return " (no TLS version both sides accept: see tls_min_version)";
    default:
        return "";
    }
}

/* After a failed SSL call: what went wrong, in words, queue emptied. */
static void describe(SSL *s, int ssl_err, int rc, char *why, size_t cap)
{
    unsigned long e = ERR_peek_error();
    int reason = e ? ERR_GET_REASON(e) : 0;
    long v = SSL_get_verify_result(s);
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && v != X509_V_OK) {
        snprintf(why, cap, "certificate verify failed: %s%s", X509_verify_cert_error_string(v),
                 verify_hint(v));
    } else if (ssl_err == SSL_ERROR_ZERO_RETURN ||
               (ssl_err == SSL_ERROR_SYSCALL && !e && (rc == 0 || errno == 0))
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
               || reason == SSL_R_UNEXPECTED_EOF_WHILE_READING
#endif
    ) {
        snprintf(why, cap, "closed by the server");
    } else if (ssl_err == SSL_ERROR_SYSCALL && !e) {
        snprintf(why, cap, "%s", strerror(errno));
    } else {
        char r[160];
        ssl_reason(r, sizeof(r));
        snprintf(why, cap, "%s%s", r, reason_hint(reason));
    }
    ERR_clear_error();
}

/* ------------------------------------------------------------ I/O */

int clusterc__tls_handshake(clusterc__ssl *s, int *want_write, char *why, size_t cap)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(s);
    if (rc == 1)
        return 1;
    int e = SSL_get_error(s, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *want_write = e == SSL_ERROR_WANT_WRITE;
        return 0;
    }
    describe(s, e, rc, why, cap);
    return -1;
}

/* Shared by read and write: rc <= 0 from SSL_read / SSL_write. */
static ssize_t io_failed(SSL *s, int rc, char *why, size_t cap, int *tls_err)
{
    int e = SSL_get_error(s, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    *tls_err = e == SSL_ERROR_SSL;
    describe(s, e, rc, why, cap);
    return -1;
}

ssize_t clusterc__tls_read(clusterc__ssl *s, char *buf, size_t len, char *why, size_t cap,
                           int *tls_err)
{
    ERR_clear_error();
    int rc = SSL_read(s, buf, len > INT_MAX ? INT_MAX : (int)len);
    return rc > 0 ? rc : io_failed(s, rc, why, cap, tls_err);
}

ssize_t clusterc__tls_write(clusterc__ssl *s, const char *buf, size_t len, char *why, size_t cap,
                            int *tls_err)
{
    ERR_clear_error();
    int rc = SSL_write(s, buf, len > INT_MAX ? INT_MAX : (int)len);
    return rc > 0 ? rc : io_failed(s, rc, why, cap, tls_err);
}

const char *clusterc__tls_refusal_hint(const clusterc__tls *t)
{
    return t->has_cert
        ? " (closed before any reply, right after the handshake: the server may have "
          "refused this client's certificate)"
        : " (closed before any reply, right after the handshake: does the server require a "
          "client certificate? set tls_cert_file and tls_key_file)";
}

int clusterc__tls_pending(const clusterc__ssl *s)
{
    return SSL_has_pending(s);
}
