/* cmd_ops.c -- clusterc-admin's commands that change the cluster: add-node,
 * replicate, failover, reshard, remove-node. Progress goes to stdout (to
 * stderr with --json, so stdout stays one JSON object). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "admin_cli.h"

/* --------------------------------------------------------------- progress */

typedef struct progress {
    cli *g;
    FILE *out;
    char step[32], node[300], state[64];
    int64_t last_bytes_ms;
    long long last_bytes;
    int last_slots;
    int64_t last_slot_ms;
    /* Replication link states seen, in order: connect -> ... -> connected. */
    char seen[8][24];
    int nseen;
} progress;

static int is_link_state(const char *s)
{
    static const char *const states[] = {"connect", "connecting", "sync", "connected",
                                         "handshake"};
    for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
        if (strcmp(s, states[i]) == 0) return 1;
    return 0;
}

static void on_progress(const clusterc_admin_progress *p, void *arg)
{
    progress *pr = arg;
    const char *step = p->step ? p->step : "";
    const char *node = p->node ? p->node : "";
    const char *state = p->state ? p->state : "";
    int changed = strcmp(step, pr->step) || strcmp(node, pr->node) || strcmp(state, pr->state);

    if (p->slots_total > 0) {
        /* reshard: one update per slot; on a terminal rewrite one line. */
        if (p->slots_done == pr->last_slots) return;  /* "moving" -> "moved": same slot */
        int last = p->slots_done >= p->slots_total;
        int every = p->slots_total / 16 > 0 ? p->slots_total / 16 : 1;
        pr->last_slots = p->slots_done;
        snprintf(pr->step, sizeof pr->step, "%s", step);
        snprintf(pr->node, sizeof pr->node, "%s", node);
        snprintf(pr->state, sizeof pr->state, "%s", state);
        if (pr->g->tty && !pr->g->json) {
            fprintf(pr->out, "\r  [%7.2fs] %-8s slot %d/%d  keys moved %lld  %s\033[K%s",
                    p->elapsed_ms / 1000.0, step, p->slots_done, p->slots_total,
                    p->keys_done < 0 ? 0 : p->keys_done, state, last ? "\n" : "");
        } else if (last || p->slots_done % every == 0 || p->slots_done <= 1) {
            fprintf(pr->out, "  [%7.2fs] %-8s slot %d/%d  keys moved %lld  %s\n",
                    p->elapsed_ms / 1000.0, step, p->slots_done, p->slots_total,
                    p->keys_done < 0 ? 0 : p->keys_done, state);
        }
        fflush(pr->out);
        return;
    }
    /* A full sync reports bytes as they arrive: at most one line a second. */
    if (!changed) {
        if (p->bytes_done < 0 || p->bytes_done == pr->last_bytes ||
            p->elapsed_ms - pr->last_bytes_ms < 1000)
            return;
    }
    snprintf(pr->step, sizeof pr->step, "%s", step);
    snprintf(pr->node, sizeof pr->node, "%s", node);
    snprintf(pr->state, sizeof pr->state, "%s", state);
    pr->last_bytes = p->bytes_done;
    pr->last_bytes_ms = p->elapsed_ms;
    if (is_link_state(state) && (pr->nseen == 0 || strcmp(pr->seen[pr->nseen - 1], state) != 0) &&
        pr->nseen < 8)
        snprintf(pr->seen[pr->nseen++], sizeof pr->seen[0], "%s", state);

    fprintf(pr->out, "  [%7.2fs] %-9s %-21s %s", p->elapsed_ms / 1000.0, step, node, state);
    if (p->bytes_done >= 0) {
        if (p->bytes_total > 0)
            fprintf(pr->out, " (%lld/%lld bytes)", p->bytes_done, p->bytes_total);
        else
            fprintf(pr->out, " (%lld bytes)", p->bytes_done);
    }
    if (p->keys_done >= 0) fprintf(pr->out, " (%lld keys)", p->keys_done);
    fputc('\n', pr->out);
    fflush(pr->out);
}

static void progress_init(progress *pr, cli *g, clusterc_admin_opts *o)
{
    memset(pr, 0, sizeof *pr);
    pr->g = g;
    pr->out = g->json ? stderr : stdout;
    pr->last_bytes = -1;
    pr->last_slots = -1;
    cli_admin_opts(g, o);
    o->progress = on_progress;
    o->progress_arg = pr;
}

static void print_seen(const progress *pr)
{
    if (pr->nseen == 0) return;
    fprintf(pr->out, "  link states seen:");
    for (int i = 0; i < pr->nseen; i++) fprintf(pr->out, "%s %s", i ? " ->" : "", pr->seen[i]);
    fputc('\n', pr->out);
}

static void json_seen(const progress *pr)
{
    printf(",\"link_states\":[");
    for (int i = 0; i < pr->nseen; i++) {
        if (i) printf(",");
        jstr(stdout, pr->seen[i]);
    }
    printf("]");
}

static int is_node_id(const char *s)
{
    if (strlen(s) != 40) return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return 0;
    return 1;
}

/* --------------------------------------------------------------- add-node */

int cmd_add_node(cli *g, int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL}, *master_id = NULL;
    int npos = 0, replica = 0, nowait = 0;
    for (int i = 1; i < argc; i++) {
        int bad = 0;
        const char *v;
        if (strcmp(argv[i], "--replica") == 0 || strcmp(argv[i], "--cluster-slave") == 0) {
            replica = 1;
        } else if (strcmp(argv[i], "--no-wait") == 0) {
            nowait = 1;
        } else if ((v = opt_arg(argc, argv, &i, "--master-id", &bad)) || bad) {
            if (bad || !is_node_id(v)) return cli_usage(g, "--master-id needs a 40-char node id");
            master_id = v;
            replica = 1;
        } else if (argv[i][0] == '-') {
            return cli_usage(g, "unknown option");
        } else if (npos < 2) {
            pos[npos++] = argv[i];
        } else {
            return cli_usage(g, "too many arguments");
        }
    }
    if (npos != 2) return cli_usage(g, "expects NEW SEED");
    clusterc_client *c = cli_connect(g, pos[1]);
    if (!c) return CLI_FAIL;
    clusterc_admin_opts o;
    progress pr;
    progress_init(&pr, g, &o);
    o.wait_sync = !nowait;
    fprintf(pr.out, "add-node %s to the cluster of %s as %s%s%s\n", pos[0], pos[1],
            replica ? "a replica" : "an empty primary",
            replica ? (master_id ? " of " : " of the primary with the fewest replicas") : "",
            master_id ? master_id : "");
    char chosen[41] = "";
    if (clusterc_admin_add_node(c, pos[0], replica, master_id, &o, chosen) != 0) {
        int rc = cli_fail(g, c, "add-node");
        clusterc_free(c);
        return rc;
    }
    if (g->json) {
        json_begin(g, 1);
        printf(",\"node\":");
        jstr(stdout, pos[0]);
        printf(",\"role\":\"%s\",\"primary_id\":", replica ? "replica" : "primary");
        jstr(stdout, replica && chosen[0] ? chosen : NULL);
        json_seen(&pr);
        json_end();
    } else {
        print_seen(&pr);
        if (replica)
            printf("added %s as a replica of %s\n", pos[0], chosen[0] ? chosen : "?");
        else
            printf("added %s as a primary with no slots (give it some: clusterc-admin reshard)\n",
                   pos[0]);
    }
    clusterc_free(c);
    return CLI_OK;
}

/* -------------------------------------------------------------- replicate */

int cmd_replicate(cli *g, int argc, char **argv)
{
    if (argc != 3) return cli_usage(g, "expects NODE PRIMARY_ID");
    if (!is_node_id(argv[2])) return cli_usage(g, "PRIMARY_ID must be a 40-char node id");
    clusterc_client *c = cli_connect(g, argv[1]);
    if (!c) return CLI_FAIL;
    clusterc_admin_opts o;
    progress pr;
    progress_init(&pr, g, &o);
    fprintf(pr.out, "replicate: %s to follow %s\n", argv[1], argv[2]);
    if (clusterc_admin_replicate(c, argv[1], argv[2], &o) != 0) {
        int rc = cli_fail(g, c, "replicate");
        clusterc_free(c);
        return rc;
    }
    if (g->json) {
        json_begin(g, 1);
        printf(",\"node\":");
        jstr(stdout, argv[1]);
        printf(",\"primary_id\":");
        jstr(stdout, argv[2]);
        json_seen(&pr);
        json_end();
    } else {
        print_seen(&pr);
        printf("%s now replicates %s, link up\n", argv[1], argv[2]);
    }
    clusterc_free(c);
    return CLI_OK;
}

/* --------------------------------------------------------------- failover */

int cmd_failover(cli *g, int argc, char **argv)
{
    const char *node = NULL;
    int mode = CLUSTERC_FAILOVER_DEFAULT;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0 && mode == CLUSTERC_FAILOVER_DEFAULT)
            mode = CLUSTERC_FAILOVER_FORCE;
        else if (strcmp(argv[i], "--takeover") == 0 && mode == CLUSTERC_FAILOVER_DEFAULT)
            mode = CLUSTERC_FAILOVER_TAKEOVER;
        else if (argv[i][0] == '-')
            return cli_usage(g, "unknown option (at most one of --force, --takeover)");
        else if (!node)
            node = argv[i];
        else
            return cli_usage(g, "too many arguments");
    }
    if (!node) return cli_usage(g, "expects REPLICA");
    static const char *const names[] = {"default", "force", "takeover"};
    clusterc_client *c = cli_connect(g, node);
    if (!c) return CLI_FAIL;
    clusterc_admin_opts o;
    progress pr;
    progress_init(&pr, g, &o);
    fprintf(pr.out, "failover (%s) on %s\n", names[mode], node);
    if (clusterc_admin_failover(c, node, mode, &o) != 0) {
        int rc = cli_fail(g, c, "failover");
        clusterc_free(c);
        return rc;
    }
    if (g->json) {
        json_begin(g, 1);
        printf(",\"node\":");
        jstr(stdout, node);
        printf(",\"mode\":\"%s\"", names[mode]);
        json_end();
    } else {
        printf("%s is now a primary in every reachable node's view\n", node);
    }
    clusterc_free(c);
    return CLI_OK;
}

/* ---------------------------------------------------------------- reshard */

int cmd_reshard(cli *g, int argc, char **argv)
{
    const char *seed = NULL, *from = NULL, *to = NULL;
    long long nslots = 0;
    for (int i = 1; i < argc; i++) {
        int bad = 0;
        const char *v;
        if ((v = opt_arg(argc, argv, &i, "--from", &bad)) || bad) {
            if (bad || !is_node_id(v)) return cli_usage(g, "--from needs a 40-char node id");
            from = v;
        } else if ((v = opt_arg(argc, argv, &i, "--to", &bad)) || bad) {
            if (bad || !is_node_id(v)) return cli_usage(g, "--to needs a 40-char node id");
            to = v;
        } else if ((v = opt_arg(argc, argv, &i, "--slots", &bad)) || bad) {
            if (bad || parse_int(v, 1, CLUSTERC_SLOTS, &nslots) != 0)
                return cli_usage(g, "--slots needs a number 1..16384");
        } else if (argv[i][0] == '-') {
            return cli_usage(g, "unknown option");
        } else if (!seed) {
            seed = argv[i];
        } else {
            return cli_usage(g, "too many arguments");
        }
    }
    if (!seed || !from || !to || !nslots) return cli_usage(g, "expects SEED --from --to --slots");
    if (strcmp(from, to) == 0) return cli_usage(g, "--from and --to are the same node");
    clusterc_client *c = cli_connect(g, seed);
    if (!c) return CLI_FAIL;
    clusterc_admin_opts o;
    progress pr;
    progress_init(&pr, g, &o);
    fprintf(pr.out, "reshard: %lld slots from %.8s to %.8s\n", nslots, from, to);
    if (clusterc_admin_reshard(c, from, to, (int)nslots, &o) != 0) {
        if (pr.g->tty && !g->json && pr.last_slots >= 0) fputc('\n', pr.out);
        int rc = cli_fail(g, c, "reshard");
        clusterc_free(c);
        return rc;
    }
    if (g->json) {
        json_begin(g, 1);
        printf(",\"from\":");
        jstr(stdout, from);
        printf(",\"to\":");
        jstr(stdout, to);
        printf(",\"slots\":%lld", nslots);
        json_end();
    } else {
        printf("moved %lld slots from %s to %s\n", nslots, from, to);
    }
    clusterc_free(c);
    return CLI_OK;
}

/* ------------------------------------------------------------ remove-node */

int cmd_remove_node(cli *g, int argc, char **argv)
{
    if (argc != 3) return cli_usage(g, "expects SEED ID");
    if (!is_node_id(argv[2])) return cli_usage(g, "ID must be a 40-char node id");
    clusterc_client *c = cli_connect(g, argv[1]);
    if (!c) return CLI_FAIL;
    clusterc_admin_opts o;
    progress pr;
    progress_init(&pr, g, &o);
    fprintf(pr.out, "remove-node %s\n", argv[2]);
    if (clusterc_admin_remove_node(c, argv[2], &o) != 0) {
        int rc = cli_fail(g, c, "remove-node");
        clusterc_free(c);
        return rc;
    }
    if (g->json) {
        json_begin(g, 1);
        printf(",\"id\":");
        jstr(stdout, argv[2]);
        json_end();
    } else {
        printf("removed %s (forgotten by every node, reset)\n", argv[2]);
    }
    clusterc_free(c);
    return CLI_OK;
}
