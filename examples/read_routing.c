/* read_routing.c -- clusterc-read-routing: which node served my reads?
 *
 *   clusterc-read-routing [--seeds h:p,...|URL] [-n READS] [--keys N]
 *                         [--policy LIST|all|none] [--prefix P] [--no-write]
 *                         [--verify] [--tolerance-us US] [--max-lag-ms MS]
 *                         [--stale PAIRS] [--password P]
 *                         [--tls] [--cacert FILE] [--cacertdir DIR]
 *                         [--cert FILE] [--key FILE] [--sni NAME]
 *                         [--insecure] [--tls-min-version V]
 *
 * --seeds also takes a URL (clusterc_options_parse_url: redis://, or
 * rediss:// for TLS, with tls_ca_file=... and the other keys); the TLS flags
 * are redis-cli's and set the clusterc_options tls fields (after the URL).
 *
 * Writes N keys once (PREFIX00000000..; --no-write: they exist already, for
 * example written by clusterc-lab-load), then for each policy (default: all
 * four; --policy takes one, a comma-separated list, all or none) opens a
 * fresh client, runs READS GETs of random keys among them (pipelined in
 * batches of 100) and prints, per node, what clusterc_node_stats() says:
 * reads routed there, the share of its shard's reads, latency EWMA,
 * replication lag and whether the node may serve reads (or why not). With
 * --verify the servers' own counters are read as well (CONFIG RESETSTAT on
 * every node before each policy, INFO commandstats cmdstat_get after) and
 * printed next to the client's.
 *
 * --stale PAIRS: the read_only caution, measured. A client with read_only
 * runs PAIRS times "SET k v, wait for the reply, GET k" (1000 keys
 * PREFIXstale:0000.., a new value each time) and counts the GETs that did
 * not return the value just written (a replica had not applied the write
 * yet); then a client with read_only and read_your_writes does the same.
 * Each run stops after 60 s even if PAIRS is not reached.
 *
 * The password comes from --password or $CLUSTERC_PASSWORD.
 *
 * Exit status: 0; 1 when some read failed, --verify found a mismatch or
 * read_your_writes returned a stale value; 2 for bad flags or a cluster
 * that cannot be reached.
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
#define STALE_KEYS 1000
#define STALE_MAX_S 60.0

static const char *const policies[] = { "master", "read_only", "random", "latency" };
#define NPOLICIES 4

typedef struct config {
    const char *seeds;
    long long reads;
    long long keys;
    unsigned policy_mask;   /* bit p: run policies[p] */
    int verify;
    int no_write;           /* --no-write: the keys exist already */
    const char *prefix;
    const char *password;
    long long stale;        /* --stale PAIRS; 0 = off */
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
"                             [--policy LIST|all|none] [--prefix P] [--no-write]\n"
"                             [--verify] [--tolerance-us US] [--max-lag-ms MS]\n"
"                             [--stale PAIRS] [--password P]\n"
"                             [--tls] [--cacert FILE] [--cacertdir DIR]\n"
"                             [--cert FILE] [--key FILE] [--sni NAME]\n"
"                             [--insecure] [--tls-min-version V]\n"
"  --seeds        seed nodes (default 127.0.0.1:7001), or a redis:// or\n"
"                 rediss:// URL with any clusterc_options_parse_url keys\n"
"  -n             reads per policy (default 10000)\n"
"  --keys         keys written once and read back (default 1000)\n"
"  --prefix       key prefix (default read-routing:): keys PREFIX00000000..\n"
"  --no-write     do not write the keys: they exist (clusterc-lab-load)\n"
"  --policy       master, read_only, random, latency, a comma-separated\n"
"                 list of them, all (default) or none\n"
"  --verify       also count GETs on the servers (CONFIG RESETSTAT + INFO\n"
"                 commandstats on every node; resets their statistics)\n"
"  --tolerance-us latency_tolerance_us for the latency policy (default 1000)\n"
"  --max-lag-ms   max_lag_ms bound (turns on lag polling; default 0 = off)\n"
"  --stale PAIRS  SET then GET PAIRS times with read_only, then with\n"
"                 read_only + read_your_writes; count the stale GETs\n"
"  --password P   AUTH password (default: $CLUSTERC_PASSWORD)\n"
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

/* --policy's value: one policy, a comma-separated list, all or none. */
static unsigned parse_policies(const char *v)
{
    unsigned mask = 0;
    if (strcmp(v, "all") == 0)
        return (1u << NPOLICIES) - 1;
    if (strcmp(v, "none") == 0)
        return 0;
    for (const char *p = v; *p;) {
        size_t n = strcspn(p, ",");
        int found = -1;
        for (int k = 0; k < NPOLICIES; k++)
            if (strlen(policies[k]) == n && strncmp(p, policies[k], n) == 0)
                found = k;
        if (found < 0)
            die_usage("--policy wants master, read_only, random, latency (a comma-separated"
                      " list of them), all or none, not", v);
        mask |= 1u << found;
        p += n;
        if (*p == ',')
            p++;
    }
    if (!mask)
        die_usage("--policy wants at least one policy", v);
    return mask;
}

/* A flag without a value at argv[i]: 1 taken, 0 not one. */
static int parse_switch(config *cfg, const char *a)
{
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        usage(stdout);
        exit(0);
    }
    if (strcmp(a, "--verify") == 0)
        cfg->verify = 1;
    else if (strcmp(a, "--no-write") == 0)
        cfg->no_write = 1;
    else
        return 0;
    return 1;
}

static void parse_args(config *cfg, int argc, char **argv)
{
    static const char *const valued[] = { "--seeds", "-n", "--keys", "--policy", "--tolerance-us",
                                          "--max-lag-ms", "--prefix", "--stale", "--password" };
    memset(cfg, 0, sizeof *cfg);
    cfg->seeds = "127.0.0.1:7001";
    cfg->reads = 10000;
    cfg->keys = 1000;
    cfg->policy_mask = (1u << NPOLICIES) - 1;
    cfg->tolerance_us = -1;
    cfg->prefix = "read-routing:";
    cfg->password = getenv("CLUSTERC_PASSWORD");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        size_t k = 0;
        if (parse_switch(cfg, a) || parse_tls_flag(cfg, argc, argv, &i))
            continue;
        while (k < sizeof valued / sizeof valued[0] && strcmp(a, valued[k]) != 0)
            k++;
        if (k == sizeof valued / sizeof valued[0])
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
        else if (strcmp(a, "--prefix") == 0) cfg->prefix = v;
        else if (strcmp(a, "--stale") == 0) cfg->stale = parse_num(a, v, 1, 100000000LL);
        else if (strcmp(a, "--password") == 0) cfg->password = v;
        else cfg->policy_mask = parse_policies(v);
    }
    if (cfg->password && !*cfg->password)
        cfg->password = NULL;
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
    if (cfg->password)
        o->password = cfg->password;
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

static int key_of(const config *cfg, long long i, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s%08lld", cfg->prefix, i);
    return n < (int)cap ? n : (int)cap - 1;
}

/* Pipelined commands in batches; returns how many got no reply or an error. */
static long long run_batch(clusterc_client *c, const char *cmd, const config *cfg,
                           long long count, uint64_t *rng)
{
    long long failed = 0;
    char key[256];
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
            int kl = key_of(cfg, k, key, sizeof(key));
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

/* One policy: a fresh client, cfg->reads GETs, the table. 1 on a failure. */
static int run_policy(const config *cfg, int p, clusterc_client *admin)
{
    static clusterc_node_info nodes[MAX_NODES];
    long long srv[MAX_NODES];
    clusterc_options o;
    int status = 0;

    options_for(cfg, p, &o);
    clusterc_client *c = connect_or_exit(&o);
    clusterc_options_release(&o);
    int n = clusterc_node_stats(c, nodes, MAX_NODES);
    if (n > MAX_NODES)
        n = MAX_NODES;
    if (cfg->verify && n > 0 && reset_stats(admin, nodes, n) < 0)
        status = 1;

    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    double t0 = now_s();
    long long failed = run_batch(c, "GET", cfg, cfg->reads, &rng);
    double secs = now_s() - t0;

    n = clusterc_node_stats(c, nodes, MAX_NODES);
    if (n > MAX_NODES)
        n = MAX_NODES;
    if (cfg->verify)
        for (int i = 0; i < n; i++)
            srv[i] = server_gets(admin, nodes[i].announced);

    printf("\n%s: %lld reads in %.2f s, %lld failed\n", policies[p], cfg->reads, secs, failed);
    if (n < 0)
        printf("  (no slot map)\n");
    else
        print_table(nodes, n, cfg->verify ? srv : NULL);
    if (cfg->verify) {
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
    return status;
}

/* What one --stale run saw. */
typedef struct stale_result {
    long long pairs, stale, failed;
    unsigned long long replica_reads, primary_reads;
    double secs;
} stale_result;

/* One SET k v (its reply awaited), then GET k at once: 1 stale, 0 fresh,
 * -1 when a command failed. */
static int stale_pair(clusterc_client *c, const char *key, int kl, const char *val, int vl)
{
    const char *argv[3] = { "SET", key, val };
    size_t argvlen[3] = { 3, (size_t)kl, (size_t)vl };
    redisReply *r = clusterc_command_argv(c, 3, argv, argvlen);
    int ok = r && r->type != REDIS_REPLY_ERROR;
    if (r)
        freeReplyObject(r);
    if (!ok)
        return -1;
    argv[0] = "GET";
    argvlen[0] = 3;
    r = clusterc_command_argv(c, 2, argv, argvlen);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    int stale = r->type != REDIS_REPLY_STRING || r->len != (size_t)vl || memcmp(r->str, val, (size_t)vl);
    freeReplyObject(r);
    return stale;
}

static void stale_run(const config *cfg, int ryw, stale_result *res)
{
    static clusterc_node_info nodes[MAX_NODES];
    clusterc_options o;
    char key[256], val[64];
    options_for(cfg, 1, &o);
    o.read_your_writes = ryw;
    clusterc_client *c = connect_or_exit(&o);
    clusterc_options_release(&o);

    memset(res, 0, sizeof *res);
    double t0 = now_s();
    for (long long i = 0; i < cfg->stale; i++) {
        if ((i & 255) == 0 && now_s() - t0 > STALE_MAX_S)
            break;
        int kl = snprintf(key, sizeof key, "%sstale:%04lld", cfg->prefix, i % STALE_KEYS);
        int vl = snprintf(val, sizeof val, "%s-%lld", ryw ? "ryw" : "ro", i);
        int st = stale_pair(c, key, kl < (int)sizeof key ? kl : (int)sizeof key - 1, val, vl);
        res->pairs++;
        if (st < 0)
            res->failed++;
        else
            res->stale += st;
    }
    res->secs = now_s() - t0;
    int n = clusterc_node_stats(c, nodes, MAX_NODES);
    for (int i = 0; i < n && i < MAX_NODES; i++) {
        if (nodes[i].is_primary)
            res->primary_reads += nodes[i].reads;
        else
            res->replica_reads += nodes[i].reads;
    }
    clusterc_free(c);
}

/* --stale: read_only, then read_only + read_your_writes. 1 on a failure or
 * a stale read under read_your_writes. */
static int run_stale(const config *cfg)
{
    static const char *const names[2] = { "read_only", "read_only + read_your_writes" };
    stale_result res[2];
    int status = 0;
    printf("\nstale reads: %lld pairs per client of SET k v (reply awaited), then GET k at once;"
           " keys %sstale:0000..%04d, a new value each time\n",
           cfg->stale, cfg->prefix, STALE_KEYS - 1);
    for (int ryw = 0; ryw < 2; ryw++) {
        stale_result *r = &res[ryw];
        stale_run(cfg, ryw, r);
        printf("  %-29s %6lld stale of %lld GETs (%.2f%%); GETs served by replicas %llu,"
               " by primaries %llu; %lld failed; %.2f s\n",
               names[ryw], r->stale, r->pairs,
               r->pairs ? 100.0 * (double)r->stale / (double)r->pairs : 0.0,
               r->replica_reads, r->primary_reads, r->failed, r->secs);
        if (r->failed || r->pairs < cfg->stale)
            status = 1;
    }
    if (res[1].stale) {
        printf("  read_your_writes returned %lld stale values: that is a bug\n", res[1].stale);
        status = 1;
    }
    return status;
}

int main(int argc, char **argv)
{
    config cfg;
    clusterc_options o;
    int status = 0;

    parse_args(&cfg, argc, argv);

    /* The admin client writes the keys and, with --verify, talks to each
     * node; it routes nothing to replicas. */
    options_for(&cfg, 0, &o);
    clusterc_client *admin = connect_or_exit(&o);
    clusterc_options_release(&o);
    if (cfg.policy_mask && !cfg.no_write && run_batch(admin, "SET", &cfg, cfg.keys, NULL)) {
        fprintf(stderr, "clusterc-read-routing: writing %lld keys failed: %s\n", cfg.keys,
                clusterc_errstr(admin));
        clusterc_free(admin);
        return 2;
    }
    if (cfg.policy_mask)
        printf("%s %lld keys (%s%08d..); %lld GETs per policy, fresh client each%s\n",
               cfg.no_write ? "reading" : "wrote", cfg.keys, cfg.prefix, 0, cfg.reads,
               cfg.verify ? "; server counts from INFO commandstats" : "");

    for (int p = 0; p < NPOLICIES; p++)
        if (cfg.policy_mask & (1u << p))
            status |= run_policy(&cfg, p, admin);
    if (cfg.policy_mask && !cfg.max_lag_ms)
        printf("\nlag ?: not polled (the client polls INFO replication only when a lag bound"
               " is set: --max-lag-ms)\n");
    if (cfg.stale)
        status |= run_stale(&cfg);
    clusterc_free(admin);
    return status;
}
