/* it_tls_refuse.c -- issue 11, the refusals: every way a TLS connection can
 * be wrong gives a clear error (the node, the reason in words, the right
 * code) within the connect timeout, against real redis-server TLS nodes
 * started by the harness (--tls): a wrong CA, a host name mismatch (and
 * tls_server_name curing it), an expired certificate, a plain-text client
 * on a TLS port and the reverse, tls_insecure_skip_verify, mutual TLS
 * with and without a client certificate, a server frozen mid-handshake
 * (a blocking connect times out; an async client freed then leaks
 * nothing), and bad option values.
 * Ports: one-node clusters on 22950 (server.crt), 22951 (wrongname.crt),
 * 22952 (expired.crt), 22953 (mutual TLS), 22954 (plain); bus ports
 * 12950-12954. "--handshake-only" (the valgrind run) starts only the
 * first, on 22960 (bus 12960), and runs only the free mid-handshake. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include "itest.h"
#ifdef CLUSTERC_TEST_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif

#define BASE 22950
#define BASE_VALGRIND 22960
#define CONNECT_MS 800
#define BOUND_MS (3 * CONNECT_MS)   /* generous: a refusal is one handshake */

enum { GOOD, WRONGNAME, EXPIRED, MUTUAL, PLAIN, NCLUSTERS };
static const char *const START_ARGS[NCLUSTERS] = {
    "--tls", "--tls --tls-cert wrongname", "--tls --tls-cert expired",
    "--tls --tls-auth-clients", NULL,
};
static harness *H[NCLUSTERS];
static int base_port = BASE;
/* What a failed assertion leaves behind, released by cleanup(). */
static struct { clusterc_client *c; clusterc_async *a; struct event_base *base; pid_t frozen; } L;

/* ------------------------------------------------------------ helpers */

static void leak_check(void)
{
#ifdef CLUSTERC_TEST_SANITIZED
    assert_int_equal(__lsan_do_recoverable_leak_check(), 0);
#endif
}

/* DIR/name of cluster k's certificates (the paths live until the next
 * eight calls: enough for one options struct). */
static const char *cert(int k, const char *name)
{
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    const char *dir = harness_tls_dir(H[k]);
    assert_non_null(dir);
    snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
    return p;
}

/* TLS options for cluster k, trusting the test CA of cluster GOOD (every
 * cluster has its own CA; k's own is the right one). */
static void tls_opts(clusterc_options *o, int k)
{
    clusterc_options_init(o);
    o->seeds = harness_seeds(H[k]);
    o->tls = 1;
    o->tls_ca_file = cert(k == PLAIN ? GOOD : k, "ca.crt");
    o->connect_timeout_ms = CONNECT_MS;
    o->command_timeout_ms = 2000;
}

static int contains_any(const char *text, const char *alternatives)
{
    char alt[256];
    snprintf(alt, sizeof(alt), "%s", alternatives);
    char *save = NULL;
    for (char *w = strtok_r(alt, "|", &save); w; w = strtok_r(NULL, "|", &save)) {
        size_t n = strlen(w);
        for (const char *p = text; *p; p++)
            if (strncasecmp(p, w, n) == 0)
                return 1;
    }
    return 0;
}

/* clusterc_connect(o) must fail with code (0: any code), within BOUND_MS,
 * with an errstr naming the node of cluster k and saying one of the
 * "|"-separated words (any case) of each of want and want2 (NULL: no check). */
static void expect_refused(const clusterc_options *o, int code, int k, const char *want,
                           const char *want2)
{
    char node[32];
    int64_t t0 = it_now_ms();
    L.c = clusterc_connect(o);
    int64_t took = it_now_ms() - t0;
    assert_non_null(L.c);
    const char *e = clusterc_errstr(L.c);
    int got = clusterc_error(L.c);
    fprintf(stderr, "  refused in %lld ms, code %d (%s): %s\n", (long long)took, got,
            clusterc_strerror(got), e);
    snprintf(node, sizeof(node), "127.0.0.1:%d", harness_port(H[k], 0));
    if (got == 0 || (code != 0 && got != code))
        fail_msg("want code %d (%s), got %d", code, clusterc_strerror(code), got);
    if (!strstr(e, node))
        fail_msg("the error does not name the node %s", node);
    if (!contains_any(e, want) || (want2 && !contains_any(e, want2)))
        fail_msg("the error says none of \"%s\"%s%s", want, want2 ? " or of " : "",
                 want2 ? want2 : "");
    if (took > BOUND_MS)
        fail_msg("took %lld ms, bound %d ms", (long long)took, BOUND_MS);
    clusterc_free(L.c);
    L.c = NULL;
}

/* Refused at clusterc_connect, before any dial, naming the option. */
static void expect_einval(const clusterc_options *o, const char *option)
{
    L.c = clusterc_connect(o);
    assert_non_null(L.c);
    fprintf(stderr, "  code %d: %s\n", clusterc_error(L.c), clusterc_errstr(L.c));
    assert_int_equal(clusterc_error(L.c), CLUSTERC_EINVAL);
    if (!strstr(clusterc_errstr(L.c), option))
        fail_msg("the error does not name %s", option);
    clusterc_free(L.c);
    L.c = NULL;
}

/* connect(o) works: SET then GET of a key through it. */
static void expect_works(const clusterc_options *o)
{
    L.c = clusterc_connect(o);
    assert_non_null(L.c);
    if (clusterc_error(L.c))
        fail_msg("connect: %s", clusterc_errstr(L.c));
    redisReply *r = clusterc_command(L.c, "SET %s %s", "tls:k", "v1");
    if (!r)
        fail_msg("SET: %s", clusterc_errstr(L.c));
    it_expect_str(r, "OK");
    freeReplyObject(r);
    r = clusterc_command(L.c, "GET %s", "tls:k");
    if (!r)
        fail_msg("GET: %s", clusterc_errstr(L.c));
    it_expect_str(r, "v1");
    freeReplyObject(r);
    clusterc_free(L.c);
    L.c = NULL;
}

static void freeze(int k, int on)
{
    pid_t pid = harness_pid(H[k], 0);
    assert_true(pid > 0);
    assert_int_equal(kill(pid, on ? SIGSTOP : SIGCONT), 0);
    L.frozen = on ? pid : 0;
}

/* Connections to 127.0.0.1:port that the kernel accepted and that have
 * bytes waiting unread (a ClientHello at a frozen server), by `ss` (it
 * filters in the kernel: /proc/net/tcp takes seconds on a busy machine);
 * -1 when ss is missing. */
static int hellos_waiting(int port)
{
    char cmd[160], line[512];
    int n = 0;
    snprintf(cmd, sizeof(cmd), "command -v ss >/dev/null || exit 3; "
             "ss -Htn state established '( sport = :%d )' 2>/dev/null", port);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof(line), p)) {
        unsigned long recv_q;
        if (sscanf(line, "%lu", &recv_q) == 1 && recv_q > 0)
            n++;
    }
    int st = pclose(p);
    return WIFEXITED(st) && WEXITSTATUS(st) == 3 ? -1 : n;
}

static int cleanup(void **state)
{
    (void)state;
    if (L.frozen > 0)
        kill(L.frozen, SIGCONT);
    clusterc_async_free(L.a);
    if (L.base)
        event_base_free(L.base);
    clusterc_free(L.c);
    memset(&L, 0, sizeof(L));
    return 0;
}

/* ------------------------------------------------------------ setup */

static int setup_clusters(void **state)
{
    (void)state;
    for (int k = 0; k < NCLUSTERS; k++) {
        H[k] = harness_start(base_port + k, 1, 0, START_ARGS[k]);
        if (!H[k] || (START_ARGS[k] && !harness_tls_dir(H[k])))
            return -1;
    }
    return 0;
}

static int setup_good_only(void **state)
{
    (void)state;
    H[GOOD] = harness_start(base_port, 1, 0, START_ARGS[GOOD]);
    return H[GOOD] && harness_tls_dir(H[GOOD]) ? 0 : -1;
}

static int teardown_clusters(void **state)
{
    (void)state;
    cleanup(NULL);
    for (int k = 0; k < NCLUSTERS; k++) {
        harness_stop(H[k]);
        H[k] = NULL;
    }
    return 0;
}

/* ------------------------------------------------------------ cases */

/* The baseline the refusals are measured against: the right CA works. */
static void test_tls_works(void **state)
{
    (void)state;
    clusterc_options o;
    tls_opts(&o, GOOD);
    expect_works(&o);
    o.tls_min_version = "1.3";
    expect_works(&o);
}

static void test_wrong_ca(void **state)
{
    (void)state;
    clusterc_options o;
    tls_opts(&o, GOOD);
    o.tls_ca_file = cert(GOOD, "other-ca.crt");
    expect_refused(&o, CLUSTERC_ETLS, GOOD, "unknown CA", "issuer|trust");
}

static void test_name_mismatch(void **state)
{
    (void)state;
    clusterc_options o;
    tls_opts(&o, WRONGNAME);   /* dialled as 127.0.0.1; the certificate says wrong.example */
    expect_refused(&o, CLUSTERC_ETLS, WRONGNAME, "mismatch", "tls_server_name");
    o.tls_server_name = "wrong.example";
    expect_works(&o);
    o.tls_server_name = "localhost";   /* a name, but not the certificate's */
    expect_refused(&o, CLUSTERC_ETLS, WRONGNAME, "mismatch", NULL);
}

static void test_expired(void **state)
{
    (void)state;
    clusterc_options o;
    tls_opts(&o, EXPIRED);
    expect_refused(&o, CLUSTERC_ETLS, EXPIRED, "expired", NULL);
}

static void test_insecure_skip_verify(void **state)
{
    (void)state;
    clusterc_options o;
    tls_opts(&o, GOOD);
    o.tls_ca_file = cert(GOOD, "other-ca.crt");
    o.tls_insecure_skip_verify = 1;
    expect_works(&o);
    tls_opts(&o, WRONGNAME);
    o.tls_insecure_skip_verify = 1;
    expect_works(&o);
    tls_opts(&o, EXPIRED);
    o.tls_ca_file = NULL;   /* the system store: trusts none of these */
    o.tls_insecure_skip_verify = 1;
    expect_works(&o);
}

/* A plain-text client on a TLS port: the server drops it without a word. */
static void test_plain_client_on_tls_port(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc_options_init(&o);   /* no tls_* option: with tls off they are refused */
    o.seeds = harness_seeds(H[GOOD]);
    o.connect_timeout_ms = CONNECT_MS;
    expect_refused(&o, 0, GOOD, "tls|rediss", NULL);
    tls_opts(&o, GOOD);
    o.tls = 0;
    expect_einval(&o, "tls_ca_file");
}

/* A TLS client on a plain port: the server takes the ClientHello for a
 * command (an error reply, or a wait for its end). */
static void test_tls_client_on_plain_port(void **state)
{
    (void)state;
    clusterc_options o;
    tls_opts(&o, PLAIN);
    expect_refused(&o, 0, PLAIN, "plain", "tls");
}

static void test_mutual_tls(void **state)
{
    (void)state;
    clusterc_options o;
    tls_opts(&o, MUTUAL);
    /* TLS 1.3: the server refuses after the client's handshake is done,
     * racing its first command (a write may meet the reset): each time. */
    for (int i = 0; i < 5; i++)
        expect_refused(&o, CLUSTERC_ETLS, MUTUAL, "tls_cert_file|client certificate", NULL);
    o.tls_cert_file = cert(MUTUAL, "client.crt");
    o.tls_key_file = cert(MUTUAL, "client.key");
    expect_works(&o);
    /* A client certificate of another CA: the server refuses it. */
    o.tls_cert_file = cert(GOOD, "client.crt");
    o.tls_key_file = cert(GOOD, "client.key");
    expect_refused(&o, CLUSTERC_ETLS, MUTUAL, "certificate", NULL);
}

static void test_bad_options(void **state)
{
    (void)state;
    clusterc_options o;
    tls_opts(&o, GOOD);
    o.tls_cert_file = cert(GOOD, "client.crt");   /* without its key */
    expect_einval(&o, "tls_key_file");
    tls_opts(&o, GOOD);
    o.tls_ca_file = "/nonexistent/clusterc/ca.crt";
    expect_einval(&o, "tls_ca_file");
    tls_opts(&o, GOOD);
    o.tls_ca_file = cert(GOOD, "ca.key");   /* readable, not a certificate */
    expect_einval(&o, "tls_ca_file");
    tls_opts(&o, GOOD);
    o.tls_min_version = "1.0";
    expect_einval(&o, "tls_min_version");
    tls_opts(&o, GOOD);
    o.tls_cert_file = cert(GOOD, "client.crt");   /* a key of another certificate */
    o.tls_key_file = cert(GOOD, "server.key");
    expect_einval(&o, "tls_key_file");
}

/* ---------------------------------------------- a frozen handshake */

/* A blocking connect to a server that accepted (the kernel did) and never
 * answers the ClientHello: a handshake timeout, within the bound. */
static void test_handshake_timeout(void **state)
{
    (void)state;
    clusterc_options o;
    tls_opts(&o, GOOD);
    freeze(GOOD, 1);
    expect_refused(&o, 0, GOOD, "handshake", "within|timed out|timeout");
    freeze(GOOD, 0);
}

typedef struct rec { int calls, code; char err[400]; } rec;

static void on_rec(clusterc_async *a, redisReply *r, void *p)
{
    rec *x = p;
    x->calls++;
    x->code = r ? 0 : clusterc_async_error(a);
    snprintf(x->err, sizeof(x->err), "%s", r ? "" : clusterc_async_errstr(a));
}

/* An async client freed while its handshake waits for the server: the
 * pending command ends once (ECLOSED), nothing is left in the loop and
 * nothing leaks (ASan; valgrind in it_tls_refuse_valgrind). */
static void test_free_in_handshake(void **state)
{
    (void)state;
    clusterc_options o;
    rec r = {0, 0, ""};
    int never = 0, port = harness_port(H[GOOD], 0);
    tls_opts(&o, GOOD);
    o.connect_timeout_ms = o.command_timeout_ms = 30000;   /* the free, not a timeout, ends it */
    freeze(GOOD, 1);
    int before = hellos_waiting(port);
    L.base = event_base_new();
    assert_non_null(L.base);
    L.a = clusterc_async_connect(L.base, &o);
    assert_non_null(L.a);
    assert_int_equal(clusterc_async_command(L.a, on_rec, &r, "GET %s", "tls:k"), 0);
    it_loop_until(L.base, &never, 50);
    for (int i = 0; i < 50 && before >= 0 && hellos_waiting(port) <= before; i++)
        it_loop_until(L.base, &never, 20);
    if (before < 0)
        fprintf(stderr, "  (no ss here: not checking that the ClientHello reached the server)\n");
    else
        assert_true(hellos_waiting(port) > before);   /* the ClientHello waits at the server */
    if (r.calls)
        fail_msg("the command ended before the free: code %d: %s", r.code, r.err);
    clusterc_async_free(L.a);
    L.a = NULL;
    assert_int_equal(r.calls, 1);
    assert_int_equal(r.code, CLUSTERC_ECLOSED);
    assert_int_equal(event_base_dispatch(L.base), 1);   /* nothing of ours left */
    event_base_free(L.base);
    L.base = NULL;
    freeze(GOOD, 0);
    leak_check();
}

int main(int argc, char **argv)
{
    const struct CMUnitTest all[] = {
        cmocka_unit_test_teardown(test_tls_works, cleanup),
        cmocka_unit_test_teardown(test_wrong_ca, cleanup),
        cmocka_unit_test_teardown(test_name_mismatch, cleanup),
        cmocka_unit_test_teardown(test_expired, cleanup),
        cmocka_unit_test_teardown(test_insecure_skip_verify, cleanup),
        cmocka_unit_test_teardown(test_plain_client_on_tls_port, cleanup),
        cmocka_unit_test_teardown(test_tls_client_on_plain_port, cleanup),
        cmocka_unit_test_teardown(test_mutual_tls, cleanup),
        cmocka_unit_test_teardown(test_bad_options, cleanup),
        cmocka_unit_test_teardown(test_handshake_timeout, cleanup),
        cmocka_unit_test_teardown(test_free_in_handshake, cleanup),
    };
    const struct CMUnitTest handshake[] = {   /* valgrind: no timing, the free only */
        cmocka_unit_test_teardown(test_free_in_handshake, cleanup),
    };
    if (argc > 1 && strcmp(argv[1], "--handshake-only") == 0) {
        base_port = BASE_VALGRIND;
        return cmocka_run_group_tests_name("it_tls_refuse (handshake)", handshake,
                                           setup_good_only, teardown_clusters);
    }
    return cmocka_run_group_tests_name("it_tls_refuse", all, setup_clusters, teardown_clusters);
}
