/* util.c -- clusterc-admin helpers: connecting, errors, JSON strings, node
 * formatting, option parsing, interruptible sleep. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin_cli.h"

clusterc_client *cli_connect(cli *g, const char *seed)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.seeds = seed;
    o.password = g->password;
    o.client_name = "clusterc-admin";
    if (g->timeout_ms > 0) {
        o.command_timeout_ms = g->timeout_ms;
        if (g->timeout_ms < o.connect_timeout_ms) o.connect_timeout_ms = g->timeout_ms;
    }
    if (g->tls) {
        o.tls = 1;
        o.tls_ca_file = g->tls_ca_file;
        o.tls_ca_dir = g->tls_ca_dir;
        o.tls_cert_file = g->tls_cert_file;
        o.tls_key_file = g->tls_key_file;
        o.tls_server_name = g->tls_server_name;
        o.tls_insecure_skip_verify = g->tls_insecure;
        o.tls_min_version = g->tls_min_version;
    }
    clusterc_client *c = clusterc_connect(&o);
    if (!c) {
        cli_failf(g, "out of memory");
        return NULL;
    }
    if (clusterc_error(c)) {
        char what[300];
        snprintf(what, sizeof what, "connect %s", seed);
        cli_fail(g, c, what);
        clusterc_free(c);
        return NULL;
    }
    return c;
}

const char cli_tls_usage[] =
    "  --tls               connect over TLS (the options below imply it)\n"
    "  --cacert FILE       CA bundle (PEM) the servers' certificates must chain to\n"
    "                      (default: the system's trust store)\n"
    "  --cacertdir DIR     directory of hashed CA certificates\n"
    "  --cert FILE         client certificate (PEM), for mutual TLS\n"
    "  --key FILE          its private key (PEM)\n"
    "  --sni NAME          server name sent and checked (default: the host dialled)\n"
    "  --insecure          do not verify the servers' certificates (encrypted but\n"
    "                      not authenticated: for a throw-away lab only)\n"
    "  --tls-min-version V 1.2 (default) or 1.3\n";

int cli_tls_opt(cli *g, int argc, char **argv, int *i)
{
    static const struct {
        const char *name;
        size_t off;
    } files[] = {
        {"--cacert", offsetof(cli, tls_ca_file)},
        {"--cacertdir", offsetof(cli, tls_ca_dir)},
        {"--cert", offsetof(cli, tls_cert_file)},
        {"--key", offsetof(cli, tls_key_file)},
        {"--sni", offsetof(cli, tls_server_name)},
        {"--tls-min-version", offsetof(cli, tls_min_version)},
    };
    if (strcmp(argv[*i], "--tls") == 0 || strcmp(argv[*i], "--insecure") == 0) {
        g->tls = 1;
        if (argv[*i][2] == 'i') g->tls_insecure = 1;
        return 1;
    }
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        int bad = 0;
        const char *v = opt_arg(argc, argv, i, files[k].name, &bad);
        if (!v && !bad) continue;
        if (bad || !*v) {
            cli_failf(g, "%s needs a value", files[k].name);
            return -1;
        }
        *(const char **)(void *)((char *)g + files[k].off) = v;
        g->tls = 1;
        return 1;
    }
    return 0;
}

void cli_admin_opts(cli *g, clusterc_admin_opts *o)
{
    clusterc_admin_opts_init(o);
    if (g->wait_ms > 0) o->timeout_ms = g->wait_ms;
}

static void fail_msg(cli *g, const char *msg)
{
    fprintf(stderr, "%s%s%s: %s\n", g->prog, g->cmd ? " " : "", g->cmd ? g->cmd : "", msg);
    if (g->json) {
        json_begin(g, 0);
        printf(",\"error\":");
        jstr(stdout, msg);
        json_end();
    }
}

int cli_fail(cli *g, clusterc_client *c, const char *what)
{
    char msg[2048];
    const char *why = c ? clusterc_errstr(c) : "";
    snprintf(msg, sizeof msg, "%s: %s", what, why && *why ? why : "failed");
    fail_msg(g, msg);
    return CLI_FAIL;
}

int cli_failf(cli *g, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail_msg(g, msg);
    return CLI_FAIL;
}

/* ------------------------------------------------------------------ JSON */

void jstr(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);  /* UTF-8 passes through */
        }
    }
    fputc('"', f);
}

void json_begin(cli *g, int ok)
{
    printf("{\"command\":");
    jstr(stdout, g->cmd);
    printf(",\"ok\":%s", ok ? "true" : "false");
}

void json_end(void)
{
    printf("}\n");
    fflush(stdout);
}

/* ----------------------------------------------------------------- nodes */

int node_is_primary(const clusterc_cluster_node *n)
{
    return (n->flags & CLUSTERC_NODE_MASTER) != 0;
}

const char *node_role(const clusterc_cluster_node *n)
{
    if (n->flags & CLUSTERC_NODE_MASTER) return "primary";
    if (n->flags & CLUSTERC_NODE_SLAVE) return "replica";
    if (n->flags & CLUSTERC_NODE_HANDSHAKE) return "handshake";
    return "unknown";
}

void node_flags_str(unsigned flags, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (unsigned bit = 1; bit <= CLUSTERC_NODE_NOFLAGS; bit <<= 1) {
        const char *name = clusterc_node_flag_name(bit);
        if (!(flags & bit) || !name) continue;
        int k = snprintf(buf + len, cap - len, "%s%s", len ? "," : "", name);
        if (k < 0 || (size_t)k >= cap - len) break;
        len += (size_t)k;
    }
    if (!len) snprintf(buf, cap, "-");
}

void node_addr(const clusterc_cluster_node *n, char *buf, size_t cap)
{
    if (!n->host[0] || n->port == 0)
        snprintf(buf, cap, "?:0");
    else if (strchr(n->host, ':'))
        snprintf(buf, cap, "[%s]:%d", n->host, n->port);
    else
        snprintf(buf, cap, "%s:%d", n->host, n->port);
}

char *node_ranges_str(const clusterc_cluster_node *n)
{
    size_t cap = n->nslots * 14 + 2, len = 0;
    char *s = malloc(cap);
    if (!s) return NULL;
    s[0] = '\0';
    for (size_t i = 0; i < n->nslots; i++) {
        const clusterc_slot_range *r = &n->slots[i];
        int k = r->start == r->end
                    ? snprintf(s + len, cap - len, "%s%d", len ? " " : "", r->start)
                    : snprintf(s + len, cap - len, "%s%d-%d", len ? " " : "", r->start, r->end);
        if (k < 0 || (size_t)k >= cap - len) break;
        len += (size_t)k;
    }
    return s;
}

const clusterc_cluster_node *node_by_id(const clusterc_cluster_node *v, size_t n, const char *id)
{
    for (size_t i = 0; id && *id && i < n; i++)
        if (strcmp(v[i].id, id) == 0) return &v[i];
    return NULL;
}

static int node_cmp(const void *a, const void *b)
{
    const clusterc_cluster_node *x = a, *y = b;
    int k = strcmp(x->host, y->host);
    return k ? k : (x->port > y->port) - (x->port < y->port);
}

void nodes_sort(clusterc_cluster_node *v, size_t n)
{
    if (n > 1) qsort(v, n, sizeof *v, node_cmp);
}

/* --------------------------------------------------------------- options */

const char *opt_arg(int argc, char **argv, int *i, const char *name, int *bad)
{
    size_t len = strlen(name);
    const char *a = argv[*i];
    *bad = 0;
    if (strncmp(a, name, len) != 0) return NULL;
    if (a[len] == '=') return a + len + 1;
    if (a[len] != '\0') return NULL;
    if (*i + 1 >= argc) {
        *bad = 1;
        return NULL;
    }
    return argv[++*i];
}

int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    if (!s || !*s) return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int parse_interval(const char *s, double *out)
{
    char *end;
    if (!s || !*s) return -1;
    double v = strtod(s, &end);
    if (*end || !(v >= 0.05 && v <= 3600)) return -1;
    *out = v;
    return 0;
}

/* ----------------------------------------------------------------- Ctrl-C */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

void cli_catch_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_interrupted(void)
{
    return interrupted != 0;
}

int cli_sleep(double seconds)
{
    struct timespec end, now;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += (time_t)seconds;
    end.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
    if (end.tv_nsec >= 1000000000L) {
        end.tv_sec++;
        end.tv_nsec -= 1000000000L;
    }
    while (!interrupted) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long left_ms = (long long)(end.tv_sec - now.tv_sec) * 1000 +
                            (end.tv_nsec - now.tv_nsec) / 1000000;
        if (left_ms <= 0) return 0;
        struct timespec ts = {0, (left_ms > 50 ? 50 : left_ms) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 1;
}
