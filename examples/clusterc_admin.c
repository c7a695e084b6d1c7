/* clusterc_admin.c -- clusterc-admin, the lab's cluster administration tool:
 * inspect, check, add a replica or a primary, fail over, reshard, remove,
 * watch. Every subcommand is a thin layer over <clusterc/admin.h>; the
 * commands live in examples/admin/cmd_inspect.c and cmd_ops.c, shared helpers in
 * examples/admin/util.c.
 *
 *   clusterc-admin [--json] [--password P] [--timeout MS] [--wait-timeout MS]
 *                  [--tls] [--cacert FILE] [--cacertdir DIR] [--cert FILE]
 *                  [--key FILE] [--sni NAME] [--insecure] [--tls-min-version V]
 *                  COMMAND ARGS...
 *
 * The TLS options are redis-cli's; they set clusterc_options' tls fields.
 *
 * Exit status: 0 success; 1 `check` found problems; 2 the operation could
 * not run (the reason on stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin_cli.h"

typedef int cmd_fn(cli *g, int argc, char **argv);

static const struct command {
    const char *name;
    cmd_fn *fn;
    const char *args;
    const char *summary;
} commands[] = {
    {"info", cmd_info, "SEED", "CLUSTER INFO summary and each node's role and slots"},
    {"nodes", cmd_nodes, "SEED", "CLUSTER NODES, parsed, as a table"},
    {"check", cmd_check, "SEED",
     "slots covered, config agrees, no open slots, every primary has a replica\n"
     "                (exit 0 healthy and all protected, 1 problems found)"},
    {"add-node", cmd_add_node, "NEW SEED [--replica] [--master-id ID] [--no-wait]",
     "join NEW to SEED's cluster, as an empty primary or a replica\n"
     "                (--master-id implies --replica); prints the sync states"},
    {"replicate", cmd_replicate, "NODE PRIMARY_ID",
     "make replica NODE follow PRIMARY_ID (CLUSTER REPLICATE) and wait for the link"},
    {"replication", cmd_replication, "NODE",
     "INFO replication of NODE and of the other side (its primary, or its replicas)"},
    {"lag", cmd_lag, "SEED [--watch] [--interval S] [--count N]",
     "each replica's lag in seconds and bytes, classified\n"
     "                (0 s perfect, 1-5 good, 5-30 warning, 30+ critical)"},
    {"failover", cmd_failover, "REPLICA [--force|--takeover]",
     "CLUSTER FAILOVER on REPLICA, wait until every node sees it as a primary"},
    {"reshard", cmd_reshard, "SEED --from ID --to ID --slots N",
     "move N slots (and their keys) from one primary to another"},
    {"remove-node", cmd_remove_node, "SEED ID",
     "remove a node that serves no slots (its replicas move elsewhere)"},
    {"watch", cmd_watch, "SEED [--interval S] [--count N]",
     "live table of nodes, roles, slots, links and lag (Ctrl-C stops)"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [global options] COMMAND ARGS...\n"
            "\n"
            "Redis Cluster administration through libclusterc (<clusterc/admin.h>).\n"
            "SEED, NEW, NODE, REPLICA are host:port; ids are 40-char node ids.\n"
            "\n"
            "Commands:\n",
            prog);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-12s  %s\n                %s\n", commands[i].name, commands[i].args,
                commands[i].summary);
    fprintf(f,
            "\n"
            "Global options (anywhere on the line):\n"
            "  --json              one JSON object per command (per refresh for watch/lag --watch)\n"
            "  --password P        AUTH password (default: $CLUSTERC_PASSWORD)\n"
            "  --timeout MS        bound on each network command (default 2000)\n"
            "  --wait-timeout MS   bound on each wait: join, sync, failover (default 60000)\n"
            "  -h, --help          this text; `%s help COMMAND` or `COMMAND --help` for one\n"
            "\n"
            "TLS (global options too):\n"
            "%s"
            "\n"
            "Exit status: 0 success; 1 `check` found problems; 2 the operation could not run.\n",
            prog, cli_tls_usage);
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

/* Shared with the commands: print one command's usage line. */
int cli_usage(cli *g, const char *msg)
{
    const struct command *c = g->cmd ? find_command(g->cmd) : NULL;
    if (msg) fprintf(stderr, "%s %s: %s\n", g->prog, g->cmd ? g->cmd : "", msg);
    if (c) fprintf(stderr, "usage: %s %s %s\n       %s\n", g->prog, c->name, c->args, c->summary);
    return CLI_FAIL;
}

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    return 0;
}

int main(int argc, char **argv)
{
    cli g;
    memset(&g, 0, sizeof g);
    g.prog = "clusterc-admin";
    g.password = getenv("CLUSTERC_PASSWORD");
    if (g.password && !*g.password) g.password = NULL;
    g.tty = isatty(STDOUT_FILENO);

    /* Pull the global options out of argv, wherever they are. */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) return CLI_FAIL;
    int nrest = 0, help = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int bad = 0;
        const char *v;
        long long n;
        int tls;
        if (strcmp(a, "--json") == 0) {
            g.json = 1;
        } else if ((tls = cli_tls_opt(&g, argc, argv, &i)) != 0) {
            if (tls < 0) return CLI_FAIL;
        } else if ((v = opt_arg(argc, argv, &i, "--password", &bad)) || bad) {
            if (bad) return cli_failf(&g, "--password needs a value");
            g.password = *v ? v : NULL;
        } else if ((v = opt_arg(argc, argv, &i, "--timeout", &bad)) || bad) {
            if (bad || parse_int(v, 1, 3600000, &n) != 0)
                return cli_failf(&g, "--timeout needs milliseconds (1..3600000)");
            g.timeout_ms = (int)n;
        } else if ((v = opt_arg(argc, argv, &i, "--wait-timeout", &bad)) || bad) {
            if (bad || parse_int(v, 1, 86400000, &n) != 0)
                return cli_failf(&g, "--wait-timeout needs milliseconds");
            g.wait_ms = (int)n;
        } else if (nrest == 0 && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            help = 1;
        } else {
            rest[nrest++] = argv[i];
        }
    }
    if (nrest == 0) {
        usage(help ? stdout : stderr, g.prog);
        free(rest);
        return help ? CLI_OK : CLI_FAIL;
    }
    if (strcmp(rest[0], "help") == 0) {
        const struct command *c = nrest > 1 ? find_command(rest[1]) : NULL;
        if (!c) {
            usage(stdout, g.prog);
        } else {
            printf("usage: %s %s %s\n       %s\n", g.prog, c->name, c->args, c->summary);
        }
        free(rest);
        return CLI_OK;
    }
    const struct command *c = find_command(rest[0]);
    if (!c) {
        fprintf(stderr, "%s: unknown command '%s' (try --help)\n", g.prog, rest[0]);
        free(rest);
        return CLI_FAIL;
    }
    g.cmd = c->name;
    if (wants_help(nrest, rest)) {
        printf("usage: %s %s %s\n       %s\n", g.prog, c->name, c->args, c->summary);
        free(rest);
        return CLI_OK;
    }
    int rc = c->fn(&g, nrest, rest);
    fflush(stdout);
    free(rest);
    return rc;
}
