/* read_routing.c -- clusterc-read-routing: which node served my reads?
 *
 *   clusterc-read-routing [--seeds h:p,...|URL] [-n READS] [--keys N]
 *                         [--policy master|read_only|random|latency|all]
 *                         [--verify] [--tolerance-us US] [--max-lag-ms MS]
 *                         [--tls] [--cacert FILE] [--cacertdir DIR]
 *                         [--cert FILE] [--key FILE] [--sni NAME]
 *                         [--insecure] [--tls-min-version V]
 *
 * --seeds also takes a URL (clusterc_options_parse_url: redis://, or
 * rediss:// for TLS, with tls_ca_file=... and the other keys); the TLS flags
 * are redis-cli's and set the clusterc_options tls fields (after the URL).
 *
 * Writes N keys once, then for each policy (default: all four) opens a fresh
 * client, runs READS GETs of those keys (pipelined in batches of 100) and
 * prints, per node, what clusterc_node_stats() says: reads routed there, the
 * share of its shard's reads, latency EWMA, replication lag and whether the
 * node may serve reads (or why not). With --verify the servers' own counters
 * are read as well (CONFIG RESETSTAT on every node before each policy,
 * INFO commandstats cmdstat_get after) and printed next to the client's.
 *
 * Exit status: 0; 1 when some read failed or --verify found a mismatch;
 * 2 for bad flags or a cluster that cannot be reached.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <clusterc/clusterc.h>

#define MAX_NODES 256
#define BATCH 100

static const char *const policies[] = { "master", "read_only", "random", "latency" };
#define NPOLICIES 4

typedef struct config {
    const char *seeds;
    long long reads;
    long long keys;
    int policy;          /* index into policies, -1 = all */
    int verify;
    int tolerance_us;    /* -1 = library default */
    int max_lag_ms;
    /* TLS flags: tls 0 = none given (a rediss:// URL may still set TLS). */
    int tls;
    const char *tls_ca_file, *tls_ca_dir, *tls_cert_file, *tls_key_file;
    const char *tls_server_name, *tls_min_version;
    int tls_insecure;
} config;

static void usage(FILE *f)
{
    fprintf(f,
"usage: clusterc-read-routing [--seeds h:p,...|URL] [-n READS] [--keys N]\n"
"                             [--policy master|read_only|random|latency|all]\n"
"                             [--verify] [--tolerance-us US] [--max-lag-ms MS]\n"
"                             [--tls] [--cacert FILE] [--cacertdir DIR]\n"
"                             [--cert FILE] [--key FILE] [--sni NAME]\n"
"                             [--insecure] [--tls-min-version V]\n"
"  --seeds        seed nodes (default 127.0.0.1:7001), or a redis:// or\n"
"                 rediss:// URL with any clusterc_options_parse_url keys\n"
"  -n             reads per policy (default 10000)\n"
"  --keys         keys written once and read back (default 1000)\n"
"  --policy       one read policy, or all (default)\n"
"  --verify       also count GETs on the servers (CONFIG RESETSTAT + INFO\n"
"                 commandstats on every node; resets their statistics)\n"
"  --tolerance-us latency_tolerance_us for the latency policy (default 1000)\n"
"  --max-lag-ms   max_lag_ms bound (turns on lag polling; default 0 = off)\n"
"TLS (redis-cli's flags; each one implies --tls):\n"
"  --tls          connect over TLS\n"
"  --cacert FILE  CA bundle (PEM) the servers' certificates must chain to\n"
"                 (default: the system's trust store)\n"
"  --cacertdir DIR\n"
"                 directory of hashed CA certificates\n"
"  --cert FILE    client certificate (PEM), for mutual TLS\n"
"  --key FILE     its private key (PEM)\n"
"  --sni NAME     server name sent and checked (default: the host dialled)\n"
"  --insecure     do not verify certificates (encrypted, not authenticated)\n"
"  --tls-min-version V\n"
"                 1.2 (default) or 1.3\n");
}

static void die_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "clusterc-read-routing: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    usage(stderr);
    exit(2);
}

static long long parse_num(const char *flag, const char *v, long long lo, long long hi)
{
    char *end;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, "clusterc-read-routing: %s wants a number from %lld to %lld, not '%s'\n",
                flag, lo, hi, v);
        exit(2);
    }
    return x;
}

/* A TLS flag at argv[*i]: 1 taken (*i past its value), 0 not one. */
static int parse_tls_flag(config *cfg, int argc, char **argv, int *i)
{
    static const char *const names[] = { "--cacert", "--cacertdir", "--cert", "--key",
                                         "--sni", "--tls-min-version" };
    const char **fields[] = { &cfg->tls_ca_file, &cfg->tls_ca_dir, &cfg->tls_cert_file,
                              &cfg->tls_key_file, &cfg->tls_server_name,
                              &cfg->tls_min_version };
    const char *a = argv[*i];
    if (strcmp(a, "--tls") == 0 || strcmp(a, "--insecure") == 0) {
        cfg->tls = 1;
        if (strcmp(a, "--insecure") == 0)
            cfg->tls_insecure = 1;
        return 1;
    }
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (strcmp(a, names[k]) != 0)
            continue;
        if (*i + 1 >= argc || !*argv[*i + 1])
            die_usage("option needs a value", a);
        *fields[k] = argv[++*i];
        cfg->tls = 1;
        return 1;
    }
    return 0;
}

static void parse_args(config *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seeds = "127.0.0.1:7001";
    cfg->reads = 10000;
    cfg->keys = 1000;
    cfg->policy = -1;
    cfg->tolerance_us = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (parse_tls_flag(cfg, argc, argv, &i))
            continue;
        if (strcmp(a, "--verify") == 0) {
            cfg->verify = 1;
            continue;
        }
        if (strcmp(a, "--seeds") && strcmp(a, "-n") && strcmp(a, "--keys") &&
            strcmp(a, "--policy") && strcmp(a, "--tolerance-us") && strcmp(a, "--max-lag-ms"))
            die_usage("unknown option", a);
        if (i + 1 >= argc)
            die_usage("option needs a value", a);
        const char *v = argv[++i];
        if (strcmp(a, "--seeds") == 0) cfg->seeds = v;
        else if (strcmp(a, "-n") == 0) cfg->reads = parse_num(a, v, 1, 1000000000LL);
        else if (strcmp(a, "--keys") == 0) cfg->keys = parse_num(a, v, 1, 100000000LL);
        else if (strcmp(a, "--tolerance-us") == 0)
            cfg->tolerance_us = (int)parse_num(a, v, 0, 60000000);
        else if (strcmp(a, "--max-lag-ms") == 0)
            cfg->max_lag_ms = (int)parse_num(a, v, 0, 86400000);
        else {
            cfg->policy = -2;
            if (strcmp(v, "all") == 0)
                cfg->policy = -1;
            for (int p = 0; p < NPOLICIES; p++)
                if (strcmp(v, policies[p]) == 0)
                    cfg->policy = p;
            if (cfg->policy == -2)
                die_usage("--policy wants master, read_only, random, latency or all, not", v);
        }
    }
}

static int is_url(const char *s)
{
    return strncmp(s, "redis://", 8) == 0 || strncmp(s, "rediss://", 9) == 0;
}

/* Release with clusterc_options_release (the URL's strings). */
static void options_for(const config *cfg, int policy, clusterc_options *o)
{
    clusterc_options_init(o);
    if (is_url(cfg->seeds)) {
        if (clusterc_options_parse_url(o, cfg->seeds) != 0) {
            fprintf(stderr, "clusterc-read-routing: --seeds URL: %s\n",
                    clusterc_options_url_error(o));
            exit(2);
        }
    } else {
        o->seeds = cfg->seeds;
    }
    if (cfg->tls) {
        o->tls = 1;
        o->tls_ca_file = cfg->tls_ca_file;
        o->tls_ca_dir = cfg->tls_ca_dir;
        o->tls_cert_file = cfg->tls_cert_file;
        o->tls_key_file = cfg->tls_key_file;
        o->tls_server_name = cfg->tls_server_name;
        o->tls_insecure_skip_verify = cfg->tls_insecure;
        o->tls_min_version = cfg->tls_min_version;
    }
    o->read_only = policy == 1;
    o->route_randomly = policy == 2;
    o->route_by_latency = policy == 3;
    if (cfg->tolerance_us >= 0)
        o->latency_tolerance_us = cfg->tolerance_us;
    o->max_lag_ms = cfg->max_lag_ms;
}

static clusterc_client *connect_or_exit(const clusterc_options *o)
{
    clusterc_client *c = clusterc_connect(o);
    if (!c || clusterc_error(c)) {
        fprintf(stderr, "clusterc-read-routing: cannot connect to %s: %s\n",
                o->seeds ? o->seeds : "(no seeds)", c ? clusterc_errstr(c) : "out of memory");
        clusterc_free(c);
        exit(2);
    }
    return c;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int key_of(long long i, char *buf, size_t cap)
{
    return snprintf(buf, cap, "read-routing:%08lld", i);
}

/* Pipelined commands in batches; returns how many got no reply or an error. */
static long long run_batch(clusterc_client *c, const char *cmd, const config *cfg,
                           long long count, uint64_t *rng)
{
    long long failed = 0;
    char key[64];
    for (long long done = 0; done < count;) {
        long long n = count - done < BATCH ? count - done : BATCH, queued = 0;
        for (long long i = 0; i < n; i++) {
            long long k;
            if (rng) {
                uint64_t x = *rng;   /* xorshift64* */
                x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
                *rng = x;
                k = (long long)((x * 0x2545F4914F6CDD1DULL) % (uint64_t)cfg->keys);
            } else {
                k = done + i;
            }
            int kl = key_of(k, key, sizeof(key));
            const char *argv[3] = { cmd, key, key };
            size_t argvlen[3] = { strlen(cmd), (size_t)kl, (size_t)kl };
            if (clusterc_append_command_argv(c, rng ? 2 : 3, argv, argvlen) < 0)
                failed++;
            else
                queued++;
        }
        for (long long i = 0; i < queued; i++) {
            void *r = NULL;
            if (clusterc_get_reply(c, &r) < 0 || !r ||
                ((redisReply *)r)->type == REDIS_REPLY_ERROR)
                failed++;
            if (r)
                freeReplyObject(r);
        }
        done += n;
    }
    return failed;
}

/* cmdstat_get calls from one node's INFO commandstats; -1 if unreadable. */
static long long server_gets(clusterc_client *admin, const char *node)
{
    redisReply *r = clusterc_command_to_node(admin, node, "INFO commandstats");
    long long calls = -1;
    /* A bulk string (RESP2), or a verbatim string (type 14) on newer hiredis. */
    if (r && (r->type == REDIS_REPLY_STRING || r->type == 14) && r->str) {
        const char *p = strstr(r->str, "cmdstat_get:calls=");
        calls = p ? strtoll(p + strlen("cmdstat_get:calls="), NULL, 10) : 0;
    }
    if (r)
        freeReplyObject(r);
    return calls;
}

static int reset_stats(clusterc_client *admin, const clusterc_node_info *nodes, int n)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        redisReply *r = clusterc_command_to_node(admin, nodes[i].announced, "CONFIG RESETSTAT");
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "clusterc-read-routing: CONFIG RESETSTAT on %s: %s\n",
                    nodes[i].announced, r ? r->str : clusterc_errstr(admin));
            bad = 1;
        }
        if (r)
            freeReplyObject(r);
    }
    return bad ? -1 : 0;
}

static void print_table(const clusterc_node_info *nodes, int n, const long long *srv)
{
    uint64_t shard_reads[MAX_NODES] = { 0 };
    for (int i = 0; i < n; i++)
        if (nodes[i].shard >= 0 && nodes[i].shard < MAX_NODES)
            shard_reads[nodes[i].shard] += nodes[i].reads;

    printf("  %-21s %-7s %5s %9s %7s", "node", "role", "shard", "reads", "%shard");
    if (srv)
        printf(" %9s", "srv GETs");
    printf(" %8s %11s  %s\n", "lat µs", "lag", "eligible"); /* µ: 2 bytes, 1 column */
    for (int i = 0; i < n; i++) {
        const clusterc_node_info *x = &nodes[i];
        uint64_t tot = x->shard >= 0 && x->shard < MAX_NODES ? shard_reads[x->shard] : 0;
        char lat[24], lag[48], pct[16];
        if (x->latency_us >= 0)
            snprintf(lat, sizeof(lat), "%lld", (long long)x->latency_us);
        else
            snprintf(lat, sizeof(lat), "-");
        if (x->is_primary)
            snprintf(lag, sizeof(lag), "-");
        else if (x->lag_s >= 0)
            snprintf(lag, sizeof(lag), "%llds/%lldB", (long long)x->lag_s,
                     (long long)x->lag_bytes);
        else
            snprintf(lag, sizeof(lag), "?");
        if (tot)
            snprintf(pct, sizeof(pct), "%.1f%%", 100.0 * (double)x->reads / (double)tot);
        else
            snprintf(pct, sizeof(pct), "-");
        printf("  %-21s %-7s %5d %9llu %7s", x->addr, x->is_primary ? "primary" : "replica",
               x->shard, (unsigned long long)x->reads, pct);
        if (srv) {
            if (srv[i] >= 0)
                printf(" %9lld", srv[i]);
            else
                printf(" %9s", "?");
        }
        printf(" %7s %11s  %s\n", lat, lag, x->eligible ? "yes" : x->why);
    }
}

int main(int argc, char **argv)
{
    config cfg;
    clusterc_options o;
    int status = 0;
    static clusterc_node_info nodes[MAX_NODES];

    parse_args(&cfg, argc, argv);

    /* The admin client writes the keys and, with --verify, talks to each
     * node; it routes nothing to replicas. */
    options_for(&cfg, 0, &o);
    clusterc_client *admin = connect_or_exit(&o);
    clusterc_options_release(&o);
    if (run_batch(admin, "SET", &cfg, cfg.keys, NULL)) {
        fprintf(stderr, "clusterc-read-routing: writing %lld keys failed: %s\n", cfg.keys,
                clusterc_errstr(admin));
        clusterc_free(admin);
        return 2;
    }
    printf("wrote %lld keys (read-routing:00000000..); %lld GETs per policy, fresh client each%s\n",
           cfg.keys, cfg.reads, cfg.verify ? "; server counts from INFO commandstats" : "");

    for (int p = 0; p < NPOLICIES; p++) {
        if (cfg.policy >= 0 && cfg.policy != p)
            continue;
        options_for(&cfg, p, &o);
        clusterc_client *c = connect_or_exit(&o);
        clusterc_options_release(&o);
        int n = clusterc_node_stats(c, nodes, MAX_NODES);
        if (n > MAX_NODES)
            n = MAX_NODES;
        if (cfg.verify && n > 0 && reset_stats(admin, nodes, n) < 0)
            status = 1;

        uint64_t rng = 0x9e3779b97f4a7c15ULL;
        double t0 = now_s();
        long long failed = run_batch(c, "GET", &cfg, cfg.reads, &rng);
        double secs = now_s() - t0;

        n = clusterc_node_stats(c, nodes, MAX_NODES);
        if (n > MAX_NODES)
            n = MAX_NODES;
        long long srv[MAX_NODES];
        if (cfg.verify)
            for (int i = 0; i < n; i++)
                srv[i] = server_gets(admin, nodes[i].announced);

        printf("\n%s: %lld reads in %.2f s, %lld failed\n", policies[p], cfg.reads, secs, failed);
        if (n < 0)
            printf("  (no slot map)\n");
        else
            print_table(nodes, n, cfg.verify ? srv : NULL);
        if (cfg.verify) {
            for (int i = 0; i < n; i++)
                if (srv[i] != (long long)nodes[i].reads) {
                    printf("  mismatch: %s served %lld GETs, the client routed %llu there\n",
                           nodes[i].addr, srv[i], (unsigned long long)nodes[i].reads);
                    status = 1;
                }
        }
        if (failed)
            status = 1;
        clusterc_free(c);
    }
    if (!cfg.max_lag_ms)
        printf("\nlag ?: not polled (the client polls INFO replication only when a lag bound"
               " is set: --max-lag-ms)\n");
    clusterc_free(admin);
    return status;
}
