/* lab_load.c -- clusterc-lab-load: fill the lab's cluster with data, fast.
 *
 *   clusterc-lab-load [--seeds h:p,...|URL] [--keys N] [--value-size B]
 *                     [--prefix P] [--batch N] [--max-seconds S]
 *                     [--rate KEYS_PER_S] [--round R]
 *                     [--password P] [--tls] [--cacert FILE] [--cacertdir DIR]
 *                     [--cert FILE] [--key FILE] [--sni NAME] [--insecure]
 *
 * Writes N keys PREFIX00000000.. with values of B bytes (random printable
 * characters, so the RDB of a full sync cannot compress them away) through
 * the blocking face, pipelined: BATCH SETs appended across every primary,
 * then their replies read. The keys hash over all 16384 slots, so every
 * primary gets its share. Bounded: stops after --max-seconds even if N is
 * not reached. --rate paces the writes (a steady stream of writes, as the
 * lab runs while a replica syncs); --round R picks other values for the same
 * keys (a rewrite changes them). Then prints, per node of the map, DBSIZE and
 * used_memory (from the servers), so the share each primary (and replica)
 * holds is seen (--no-table: not).
 *
 * --seeds takes a redis:// or rediss:// URL too; the TLS flags are
 * redis-cli's (as clusterc-read-routing's). The password comes from
 * --password or $CLUSTERC_PASSWORD.
 *
 * Exit status: 0 all keys written; 1 some SET failed or the time bound was
 * hit; 2 bad flags or no cluster.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <clusterc/clusterc.h>

#define MAX_NODES 64
#define POOL 65536   /* random printable bytes; each value is a slice */

typedef struct config {
    const char *seeds, *prefix, *password;
    long long keys, batch;
    long long value_size;
    long long rate, round;
    int no_table;
    double max_seconds;
    int tls, tls_insecure;
    const char *tls_ca_file, *tls_ca_dir, *tls_cert_file, *tls_key_file, *tls_server_name;
} config;

static void usage(FILE *f)
{
    fprintf(f,
"usage: clusterc-lab-load [--seeds h:p,...|URL] [--keys N] [--value-size B]\n"
"                         [--prefix P] [--batch N] [--max-seconds S] [--password P]\n"
"                         [--rate KEYS_PER_S] [--round R] [--no-table]\n"
"                         [--tls] [--cacert FILE] [--cacertdir DIR] [--cert FILE]\n"
"                         [--key FILE] [--sni NAME] [--insecure]\n"
"  --seeds        seed nodes (default 127.0.0.1:7001), or a redis:// / rediss:// URL\n"
"  --keys         keys to write (default 200000): PREFIX00000000..\n"
"  --value-size   bytes per value (default 150; random printable characters)\n"
"  --prefix       key prefix (default lab:)\n"
"  --batch        SETs appended before their replies are read (default 1000)\n"
"  --max-seconds  stop writing after this long (default 60)\n"
"  --rate         at most this many keys a second (default 0: as fast as it goes)\n"
"  --round        values of round R (default 0): rewrite the keys with other values\n"
"  --no-table     do not print each node's DBSIZE and used_memory\n"
"  --password     AUTH password (default: $CLUSTERC_PASSWORD)\n"
"TLS flags as redis-cli's; each implies --tls.\n");
}

static void die_usage(const char *msg, const char *arg)
{
    fprintf(stderr, "clusterc-lab-load: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    usage(stderr);
    exit(2);
}

static long long parse_num(const char *flag, const char *v, long long lo, long long hi)
{
    char *end;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || x < lo || x > hi) {
        fprintf(stderr, "clusterc-lab-load: %s wants a number from %lld to %lld, not '%s'\n",
                flag, lo, hi, v);
        exit(2);
    }
    return x;
}

/* Options with a value; returns its address in cfg, NULL if a is not one. */
static const char **string_opt(config *cfg, const char *a)
{
    static const char *const names[] = { "--seeds", "--prefix", "--password", "--cacert",
                                         "--cacertdir", "--cert", "--key", "--sni" };
    const char **fields[] = { &cfg->seeds, &cfg->prefix, &cfg->password, &cfg->tls_ca_file,
                              &cfg->tls_ca_dir, &cfg->tls_cert_file, &cfg->tls_key_file,
                              &cfg->tls_server_name };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (strcmp(a, names[k]) == 0) {
            if (k >= 3)
                cfg->tls = 1;
            return fields[k];
        }
    return NULL;
}

static void parse_args(config *cfg, int argc, char **argv)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->seeds = "127.0.0.1:7001";
    cfg->prefix = "lab:";
    cfg->keys = 200000;
    cfg->value_size = 150;
    cfg->batch = 1000;
    cfg->max_seconds = 60;
    cfg->password = getenv("CLUSTERC_PASSWORD");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **field;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(a, "--no-table") == 0) {
            cfg->no_table = 1;
            continue;
        }
        if (strcmp(a, "--tls") == 0 || strcmp(a, "--insecure") == 0) {
            cfg->tls = 1;
            cfg->tls_insecure |= strcmp(a, "--insecure") == 0;
            continue;
        }
        field = string_opt(cfg, a);
        if (!field && strcmp(a, "--keys") && strcmp(a, "--value-size") && strcmp(a, "--batch") &&
            strcmp(a, "--max-seconds") && strcmp(a, "--rate") && strcmp(a, "--round"))
            die_usage("unknown option", a);
        if (i + 1 >= argc)
            die_usage("option needs a value", a);
        const char *v = argv[++i];
        if (field) *field = v;
        else if (strcmp(a, "--keys") == 0) cfg->keys = parse_num(a, v, 1, 100000000LL);
        else if (strcmp(a, "--value-size") == 0) cfg->value_size = parse_num(a, v, 1, POOL / 2);
        else if (strcmp(a, "--batch") == 0) cfg->batch = parse_num(a, v, 1, 100000);
        else if (strcmp(a, "--rate") == 0) cfg->rate = parse_num(a, v, 0, 100000000LL);
        else if (strcmp(a, "--round") == 0) cfg->round = parse_num(a, v, 0, 1000000);
        else cfg->max_seconds = (double)parse_num(a, v, 1, 86400);
    }
    if (cfg->password && !*cfg->password)
        cfg->password = NULL;
    if (cfg->rate && cfg->batch > cfg->rate / 50 + 1)   /* about 50 batches a second */
        cfg->batch = cfg->rate / 50 + 1;
}

static clusterc_client *connect_or_exit(const config *cfg)
{
    clusterc_options o;
    clusterc_options_init(&o);
    if (strncmp(cfg->seeds, "redis://", 8) == 0 || strncmp(cfg->seeds, "rediss://", 9) == 0) {
        if (clusterc_options_parse_url(&o, cfg->seeds) != 0) {
            fprintf(stderr, "clusterc-lab-load: --seeds URL: %s\n", clusterc_options_url_error(&o));
            exit(2);
        }
    } else {
        o.seeds = cfg->seeds;
    }
    if (cfg->password)
        o.password = cfg->password;
    if (cfg->tls) {
        o.tls = 1;
        o.tls_ca_file = cfg->tls_ca_file;
        o.tls_ca_dir = cfg->tls_ca_dir;
        o.tls_cert_file = cfg->tls_cert_file;
        o.tls_key_file = cfg->tls_key_file;
        o.tls_server_name = cfg->tls_server_name;
        o.tls_insecure_skip_verify = cfg->tls_insecure;
    }
    clusterc_client *c = clusterc_connect(&o);
    clusterc_options_release(&o);
    if (!c || clusterc_error(c)) {
        fprintf(stderr, "clusterc-lab-load: cannot connect to %s: %s\n", cfg->seeds,
                c ? clusterc_errstr(c) : "out of memory");
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

static void sleep_until(double t)
{
    double d = t - now_s();
    if (d <= 0)
        return;
    struct timespec ts = { (time_t)d, (long)((d - (double)(time_t)d) * 1e9) };
    nanosleep(&ts, NULL);
}

static void fill_pool(char *pool)
{
    static const char alphabet[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < POOL; i++) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;   /* xorshift64* */
        pool[i] = alphabet[((x * 0x2545F4914F6CDD1DULL) >> 58) & 63];
    }
}

/* Writes the keys; returns how many SETs failed (not counting unwritten). */
static long long load(clusterc_client *c, const config *cfg, const char *pool,
                      long long *written, int *timed_out)
{
    char key[128];
    long long failed = 0, done = 0;
    double t0 = now_s(), deadline = t0 + cfg->max_seconds;
    *timed_out = 0;
    while (done < cfg->keys) {
        long long n = cfg->keys - done < cfg->batch ? cfg->keys - done : cfg->batch, queued = 0;
        for (long long i = 0; i < n; i++) {
            long long k = done + i;
            int kl = snprintf(key, sizeof key, "%.*s%08lld", (int)(sizeof key - 24), cfg->prefix, k);
            uint64_t at = (uint64_t)k * 7919u + (uint64_t)cfg->round * 104729u;
            size_t off = (size_t)(at % (uint64_t)(POOL - cfg->value_size));
            const char *argv[3] = { "SET", key, pool + off };
            size_t argvlen[3] = { 3, (size_t)kl, (size_t)cfg->value_size };
            if (clusterc_append_command_argv(c, 3, argv, argvlen) < 0)
                failed++;
            else
                queued++;
        }
        for (long long i = 0; i < queued; i++) {
            void *r = NULL;
            if (clusterc_get_reply(c, &r) < 0 || !r || ((redisReply *)r)->type == REDIS_REPLY_ERROR)
                failed++;
            if (r)
                freeReplyObject(r);
        }
        done += n;
        if (cfg->rate && done < cfg->keys)
            sleep_until(t0 + (double)done / (double)cfg->rate);
        if (done < cfg->keys && now_s() > deadline) {
            *timed_out = 1;
            break;
        }
    }
    *written = done;
    return failed;
}

/* "field:value" of an INFO reply, copied into out; "?" when absent. */
static void info_field(clusterc_client *c, const char *node, const char *section,
                       const char *field, char *out, size_t cap)
{
    redisReply *r = clusterc_command_to_node(c, node, "INFO %s", section);
    snprintf(out, cap, "?");
    /* A bulk string (RESP2), or a verbatim string (type 14) on newer hiredis. */
    if (r && (r->type == REDIS_REPLY_STRING || r->type == 14) && r->str) {
        char pat[64];
        snprintf(pat, sizeof pat, "\n%s:", field);
        const char *p = strstr(r->str, pat);
        if (p) {
            p += strlen(pat);
            size_t n = strcspn(p, "\r\n");
            snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
        }
    }
    if (r)
        freeReplyObject(r);
}

static void print_nodes(clusterc_client *c)
{
    static clusterc_node_info nodes[MAX_NODES];
    int n = clusterc_node_stats(c, nodes, MAX_NODES);
    if (n > MAX_NODES)
        n = MAX_NODES;
    printf("  %-21s %-7s %5s %9s %12s\n", "node", "role", "shard", "keys", "used_memory");
    for (int i = 0; i < n; i++) {
        redisReply *r = clusterc_command_to_node(c, nodes[i].announced, "DBSIZE");
        char mem[64];
        info_field(c, nodes[i].announced, "memory", "used_memory_human", mem, sizeof mem);
        if (r && r->type == REDIS_REPLY_INTEGER)
            printf("  %-21s %-7s %5d %9lld %12s\n", nodes[i].addr,
                   nodes[i].is_primary ? "primary" : "replica", nodes[i].shard, r->integer, mem);
        else
            printf("  %-21s %-7s %5d %9s %12s\n", nodes[i].addr,
                   nodes[i].is_primary ? "primary" : "replica", nodes[i].shard, "?", mem);
        if (r)
            freeReplyObject(r);
    }
}

int main(int argc, char **argv)
{
    config cfg;
    static char pool[POOL];
    long long written = 0;
    int timed_out = 0;

    parse_args(&cfg, argc, argv);
    fill_pool(pool);
    clusterc_client *c = connect_or_exit(&cfg);

    double t0 = now_s();
    long long failed = load(c, &cfg, pool, &written, &timed_out);
    double secs = now_s() - t0;
    double mb = (double)written * (double)cfg.value_size / 1e6;
    printf("wrote %lld keys (%s%08lld..%s%08lld), %.1f MB of values (%lld B each), in %.2f s"
           " (%.0f keys/s, pipelined in batches of %lld); %lld failed\n",
           written, cfg.prefix, 0LL, cfg.prefix, written ? written - 1 : 0, mb, cfg.value_size,
           secs, secs > 0 ? (double)written / secs : 0.0, cfg.batch, failed);
    if (timed_out)
        printf("stopped at --max-seconds %.0f: %lld of %lld keys written\n", cfg.max_seconds,
               written, cfg.keys);
    if (failed)
        fprintf(stderr, "clusterc-lab-load: %lld SETs failed (last error: %s)\n", failed,
                clusterc_errstr(c));
    if (!cfg.no_table)
        print_nodes(c);
    clusterc_free(c);
    return failed || timed_out ? 1 : 0;
}
