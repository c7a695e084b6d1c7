/* admin_cli.h -- shared bits of clusterc-admin (examples/clusterc_admin.c
 * and the files in examples/admin/): global options, output helpers, the commands. */
#ifndef CLUSTERC_ADMIN_CLI_H
#define CLUSTERC_ADMIN_CLI_H

#include <stdio.h>
#include <clusterc/clusterc.h>
#include <clusterc/admin.h>

/* Exit statuses. */
#define CLI_OK 0
#define CLI_PROBLEMS 1   /* check: problems found */
#define CLI_FAIL 2       /* the operation could not run */

typedef struct cli {
    const char *prog;
    const char *cmd;        /* subcommand name */
    int json;
    const char *password;
    int timeout_ms;         /* per network command; 0 = library default */
    int wait_ms;            /* bound on each admin wait; 0 = library default */
    int tty;                /* stdout is a terminal */
    /* TLS (--tls, --cacert, ...; the clusterc_options fields of the same
     * meaning). tls 0 = plain TCP, and the rest is ignored. */
    int tls;
    const char *tls_ca_file, *tls_ca_dir, *tls_cert_file, *tls_key_file;
    const char *tls_server_name, *tls_min_version;
    int tls_insecure;
} cli;

/* Connect a blocking client seeded with `seed`; NULL (reason printed) on
 * failure. */
clusterc_client *cli_connect(cli *g, const char *seed);
/* A TLS global option at argv[*i] (--tls, --cacert FILE, --cacertdir DIR,
 * --cert FILE, --key FILE, --sni NAME, --insecure, --tls-min-version V;
 * each but --tls implies --tls): 1 taken (*i advanced past its value),
 * 0 not a TLS option, -1 bad (reason printed). */
int cli_tls_opt(cli *g, int argc, char **argv, int *i);
/* The usage lines of those options. */
extern const char cli_tls_usage[];
/* Admin options from the global flags, progress printing on. */
void cli_admin_opts(cli *g, clusterc_admin_opts *o);

/* Print "prog cmd: what: errstr" on stderr (and a JSON error object on
 * stdout with --json); returns CLI_FAIL. */
int cli_fail(cli *g, clusterc_client *c, const char *what);
int cli_failf(cli *g, const char *fmt, ...) CLUSTERC_PRINTF(2, 3);
/* A usage error for the current command: message + usage, CLI_FAIL. */
int cli_usage(cli *g, const char *msg);

/* JSON output: a quoted, escaped string (NULL -> null). */
void jstr(FILE *f, const char *s);
/* Begin / end the per-command JSON object: {"command":"x","ok":true, ... } */
void json_begin(cli *g, int ok);
void json_end(void);

/* Helpers over parsed nodes. */
const char *node_role(const clusterc_cluster_node *n);     /* primary/replica/... */
void node_flags_str(unsigned flags, char *buf, size_t cap);
void node_addr(const clusterc_cluster_node *n, char *buf, size_t cap);
char *node_ranges_str(const clusterc_cluster_node *n);      /* malloc'd "0-5460 ..." */
const clusterc_cluster_node *node_by_id(const clusterc_cluster_node *v, size_t n,
                                        const char *id);
void nodes_sort(clusterc_cluster_node *v, size_t n);       /* by host, port */
int node_is_primary(const clusterc_cluster_node *n);

/* Parse "--name VALUE" at argv[*i]; returns the value (advancing *i) or
 * NULL when argv[*i] is not that option. Missing value: *bad = 1. */
const char *opt_arg(int argc, char **argv, int *i, const char *name, int *bad);
int parse_int(const char *s, long long lo, long long hi, long long *out);
int parse_interval(const char *s, double *out);

/* Sleep up to `seconds`, returning early (1) when interrupted by Ctrl-C. */
int cli_sleep(double seconds);
int cli_interrupted(void);
void cli_catch_sigint(void);

/* The subcommands (cmd_inspect.c, cmd_ops.c). argv[0] is the command name. */
int cmd_info(cli *g, int argc, char **argv);
int cmd_nodes(cli *g, int argc, char **argv);
int cmd_check(cli *g, int argc, char **argv);
int cmd_add_node(cli *g, int argc, char **argv);
int cmd_replicate(cli *g, int argc, char **argv);
int cmd_replication(cli *g, int argc, char **argv);
int cmd_lag(cli *g, int argc, char **argv);
int cmd_failover(cli *g, int argc, char **argv);
int cmd_reshard(cli *g, int argc, char **argv);
int cmd_remove_node(cli *g, int argc, char **argv);
int cmd_watch(cli *g, int argc, char **argv);

#endif
