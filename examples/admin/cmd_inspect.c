/* cmd_inspect.c -- clusterc-admin's read-only commands: info, nodes, check,
 * replication, lag, watch. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "admin_cli.h"

/* --------------------------------------------------------------- snapshot */

/* What info / lag / watch show: the nodes, and for each replica what its
 * primary's INFO replication says about it. */
typedef struct row {
    int have;               /* listed in its primary's slaveN lines */
    char state[24];         /* online, wait_bgsave, send_bulk, ... */
    long long lag_s, lag_bytes;
    int nreplicas;          /* primaries: connected replicas */
    int info_failed;        /* primaries: INFO replication failed */
} row;

typedef struct snap {
    clusterc_cluster_info ci;
    int have_ci;
    clusterc_cluster_node *v;
    size_t n;
    row *rows;
    size_t *order;          /* primaries, each followed by its replicas */
} snap;

static void snap_free(snap *s)
{
    clusterc_nodes_free(s->v, s->n);
    free(s->rows);
    free(s->order);
    memset(s, 0, sizeof *s);
}

static int addr_match(const char *host, int port, const clusterc_cluster_node *n)
{
    return port == n->port && strcmp(host, n->host) == 0;
}

/* Order: each primary (by address) followed by its replicas, then nodes
 * whose primary is unknown. */
static void snap_order(snap *s)
{
    size_t k = 0;
    char *done = calloc(s->n ? s->n : 1, 1);
    if (!done) return;
    for (size_t i = 0; i < s->n; i++) {
        if (!node_is_primary(&s->v[i])) continue;
        s->order[k++] = i;
        done[i] = 1;
        for (size_t j = 0; j < s->n; j++)
            if (!done[j] && !node_is_primary(&s->v[j]) &&
                strcmp(s->v[j].primary_id, s->v[i].id) == 0) {
                s->order[k++] = j;
                done[j] = 1;
            }
    }
    for (size_t i = 0; i < s->n; i++)
        if (!done[i]) s->order[k++] = i;
    free(done);
}

/* Load a snapshot; with_repl also asks every primary for INFO replication.
 * Returns 0, or -1 with the reason in clusterc_errstr(c). */
static int snap_load(clusterc_client *c, snap *s, int with_ci, int with_repl)
{
    memset(s, 0, sizeof *s);
    if (clusterc_admin_nodes(c, NULL, &s->v, &s->n) != 0) return -1;
    /* CLUSTER INFO from the node that just answered (its "myself" line):
     * asking for "any node" would fetch CLUSTER NODES a second time. */
    for (size_t i = 0; with_ci && i < s->n; i++)
        if (s->v[i].flags & CLUSTERC_NODE_MYSELF) {
            char me[300];
            node_addr(&s->v[i], me, sizeof me);
            s->have_ci = clusterc_admin_cluster_info(c, me, &s->ci) == 0;
        }
    nodes_sort(s->v, s->n);
    s->rows = calloc(s->n ? s->n : 1, sizeof *s->rows);
    s->order = calloc(s->n ? s->n : 1, sizeof *s->order);
    if (!s->rows || !s->order) {
        snap_free(s);
        return -1;
    }
    for (size_t i = 0; i < s->n; i++) s->rows[i].lag_s = s->rows[i].lag_bytes = -1;
    snap_order(s);
    for (size_t i = 0; with_repl && i < s->n; i++) {
        const clusterc_cluster_node *p = &s->v[i];
        if (!node_is_primary(p) || !p->port || (p->flags & CLUSTERC_NODE_FAIL)) continue;
        char addr[300];
        node_addr(p, addr, sizeof addr);
        clusterc_replication r;
        if (clusterc_admin_replication(c, addr, &r) != 0) {
            s->rows[i].info_failed = 1;
            continue;
        }
        s->rows[i].nreplicas = r.connected_replicas;
        for (size_t l = 0; l < r.nreplicas; l++) {
            const clusterc_replica_link *L = &r.replicas[l];
            for (size_t j = 0; j < s->n; j++) {
                if (!addr_match(L->ip, L->port, &s->v[j])) continue;
                row *w = &s->rows[j];
                w->have = 1;
                snprintf(w->state, sizeof w->state, "%s", L->state);
                w->lag_s = L->lag;
                w->lag_bytes = r.master_repl_offset - L->offset;
                if (w->lag_bytes < 0) w->lag_bytes = 0;
            }
        }
        clusterc_replication_free(&r);
    }
    return 0;
}

static const char *link_str(const clusterc_cluster_node *n)
{
    if (n->flags & CLUSTERC_NODE_FAIL) return "FAIL";
    if (n->flags & CLUSTERC_NODE_PFAIL) return "fail?";
    if (n->flags & CLUSTERC_NODE_HANDSHAKE) return "handshake";
    return n->link_connected ? "connected" : "disconnected";
}

static void json_ci(const snap *s)
{
    const clusterc_cluster_info *ci = &s->ci;
    if (!s->have_ci) {
        printf("null");
        return;
    }
    printf("{\"state_ok\":%s,\"slots_assigned\":%lld,\"slots_ok\":%lld,\"slots_pfail\":%lld,"
           "\"slots_fail\":%lld,\"known_nodes\":%lld,\"size\":%lld,\"current_epoch\":%lld,"
           "\"my_epoch\":%lld}",
           ci->state_ok < 0 ? "null" : ci->state_ok ? "true" : "false", ci->slots_assigned,
           ci->slots_ok, ci->slots_pfail, ci->slots_fail, ci->known_nodes, ci->size,
           ci->current_epoch, ci->my_epoch);
}

static void print_ci(const snap *s)
{
    const clusterc_cluster_info *ci = &s->ci;
    if (!s->have_ci) {
        printf("cluster_state:?  (CLUSTER INFO failed)\n");
        return;
    }
    printf("cluster_state:%s  slots assigned:%lld ok:%lld pfail:%lld fail:%lld  "
           "known_nodes:%lld  size:%lld  current_epoch:%lld\n",
           ci->state_ok < 0 ? "?" : ci->state_ok ? "ok" : "fail", ci->slots_assigned, ci->slots_ok,
           ci->slots_pfail, ci->slots_fail, ci->known_nodes, ci->size, ci->current_epoch);
}

/* One node as a JSON object (no closing brace when open_end). */
static void json_node(const snap *s, size_t i)
{
    const clusterc_cluster_node *n = &s->v[i];
    const clusterc_cluster_node *p = node_by_id(s->v, s->n, n->primary_id);
    char addr[300], paddr[300], flags[128];
    node_addr(n, addr, sizeof addr);
    node_flags_str(n->flags, flags, sizeof flags);
    char *ranges = node_ranges_str(n);
    printf("{\"addr\":");
    jstr(stdout, addr);
    printf(",\"id\":");
    jstr(stdout, n->id);
    printf(",\"role\":");
    jstr(stdout, node_role(n));
    printf(",\"flags\":");
    jstr(stdout, flags);
    printf(",\"primary_id\":");
    jstr(stdout, n->primary_id[0] ? n->primary_id : NULL);
    if (p) node_addr(p, paddr, sizeof paddr);
    printf(",\"primary\":");
    jstr(stdout, p ? paddr : NULL);
    printf(",\"hostname\":");
    jstr(stdout, n->hostname);
    printf(",\"bus_port\":%d,\"config_epoch\":%lld,\"link\":", n->bus_port, n->config_epoch);
    jstr(stdout, link_str(n));
    printf(",\"slots\":%d,\"ranges\":", clusterc_node_slot_count(n));
    jstr(stdout, ranges ? ranges : "");
    printf(",\"migrating\":[");
    for (size_t k = 0; k < n->nmigrating; k++)
        printf("%s{\"slot\":%d,\"to\":\"%s\"}", k ? "," : "", n->migrating[k].slot,
               n->migrating[k].node);
    printf("],\"importing\":[");
    for (size_t k = 0; k < n->nimporting; k++)
        printf("%s{\"slot\":%d,\"from\":\"%s\"}", k ? "," : "", n->importing[k].slot,
               n->importing[k].node);
    printf("]");
    const row *w = &s->rows[i];
    if (!node_is_primary(n)) {
        printf(",\"repl_state\":");
        jstr(stdout, w->have ? w->state : NULL);
        if (w->have) {
            clusterc_lag_class lc = clusterc_lag_classify(w->lag_s);
            printf(",\"lag_s\":%lld,\"lag_bytes\":%lld,\"lag_class\":", w->lag_s, w->lag_bytes);
            jstr(stdout, clusterc_lag_class_str(lc));
        }
    }
    printf("}");
    free(ranges);
}

/* ------------------------------------------------------------- info, nodes */

int cmd_info(cli *g, int argc, char **argv)
{
    if (argc != 2) return cli_usage(g, "expects SEED");
    clusterc_client *c = cli_connect(g, argv[1]);
    if (!c) return CLI_FAIL;
    snap s;
    if (snap_load(c, &s, 1, 0) != 0) {
        int rc = cli_fail(g, c, "CLUSTER NODES");
        clusterc_free(c);
        return rc;
    }
    if (g->json) {
        json_begin(g, 1);
        printf(",\"cluster\":");
        json_ci(&s);
        printf(",\"nodes\":[");
        for (size_t k = 0; k < s.n; k++) {
            if (k) printf(",");
            json_node(&s, s.order[k]);
        }
        printf("]");
        json_end();
    } else {
        print_ci(&s);
        printf("%-22s %-8s %-6s %-12s %s\n", "ADDRESS", "ROLE", "SLOTS", "LINK", "DETAIL");
        for (size_t k = 0; k < s.n; k++) {
            const clusterc_cluster_node *n = &s.v[s.order[k]];
            char addr[300], paddr[300];
            node_addr(n, addr, sizeof addr);
            if (node_is_primary(n)) {
                int nrep = 0;
                for (size_t j = 0; j < s.n; j++)
                    nrep += strcmp(s.v[j].primary_id, n->id) == 0;
                char *ranges = node_ranges_str(n);
                printf("%-22s %-8s %-6d %-12s %s  replicas:%d  %.8s\n", addr, "primary",
                       clusterc_node_slot_count(n), link_str(n),
                       ranges && *ranges ? ranges : "(no slots)", nrep, n->id);
                free(ranges);
            } else {
                const clusterc_cluster_node *p = node_by_id(s.v, s.n, n->primary_id);
                if (p) node_addr(p, paddr, sizeof paddr);
                printf("  %-20s %-8s %-6s %-12s of %s  %.8s\n", addr, node_role(n), "-",
                       link_str(n), p ? paddr : n->primary_id[0] ? n->primary_id : "?", n->id);
            }
        }
    }
    snap_free(&s);
    clusterc_free(c);
    return CLI_OK;
}

int cmd_nodes(cli *g, int argc, char **argv)
{
    if (argc != 2) return cli_usage(g, "expects SEED");
    clusterc_client *c = cli_connect(g, argv[1]);
    if (!c) return CLI_FAIL;
    snap s;
    if (snap_load(c, &s, 0, 0) != 0) {
        int rc = cli_fail(g, c, "CLUSTER NODES");
        clusterc_free(c);
        return rc;
    }
    if (g->json) {
        json_begin(g, 1);
        printf(",\"nodes\":[");
        for (size_t i = 0; i < s.n; i++) {
            if (i) printf(",");
            json_node(&s, i);
        }
        printf("]");
        json_end();
    } else {
        printf("%-40s  %-21s %-22s %-40s  %5s %-12s %s\n", "ID", "ADDRESS", "FLAGS", "PRIMARY",
               "EPOCH", "LINK", "SLOTS");
        for (size_t i = 0; i < s.n; i++) {
            const clusterc_cluster_node *n = &s.v[i];
            char addr[300], flags[128];
            node_addr(n, addr, sizeof addr);
            node_flags_str(n->flags, flags, sizeof flags);
            char *ranges = node_ranges_str(n);
            printf("%-40s  %-21s %-22s %-40s  %5lld %-12s %s", n->id, addr, flags,
                   n->primary_id[0] ? n->primary_id : "-", n->config_epoch, link_str(n),
                   ranges ? ranges : "");
            for (size_t k = 0; k < n->nmigrating; k++)
                printf(" [%d->-%.8s]", n->migrating[k].slot, n->migrating[k].node);
            for (size_t k = 0; k < n->nimporting; k++)
                printf(" [%d-<-%.8s]", n->importing[k].slot, n->importing[k].node);
            printf("\n");
            free(ranges);
        }
    }
    snap_free(&s);
    clusterc_free(c);
    return CLI_OK;
}

/* ------------------------------------------------------------------ check */

int cmd_check(cli *g, int argc, char **argv)
{
    if (argc != 2) return cli_usage(g, "expects SEED");
    clusterc_client *c = cli_connect(g, argv[1]);
    if (!c) return CLI_FAIL;
    clusterc_check_result *r = NULL;
    if (clusterc_admin_check(c, &r) != 0 || !r) {
        int rc = cli_fail(g, c, "check");
        clusterc_free(c);
        return rc;
    }
    int rc = r->ok ? CLI_OK : CLI_PROBLEMS;
    if (g->json) {
        json_begin(g, 1);
        printf(",\"healthy\":%s,\"cluster_state_ok\":%s,\"slots_covered\":%d,"
               "\"config_agrees\":%s,\"open_slots\":%d,\"unprotected\":%d,\"unreachable\":%d",
               r->ok ? "true" : "false", r->cluster_state_ok ? "true" : "false",
               r->slots_covered, r->config_agrees ? "true" : "false", r->open_slots,
               r->unprotected, r->unreachable);
        printf(",\"primaries\":[");
        for (size_t i = 0; i < r->nprimaries; i++) {
            const clusterc_check_primary *p = &r->primaries[i];
            printf("%s{\"addr\":", i ? "," : "");
            jstr(stdout, p->addr);
            printf(",\"id\":");
            jstr(stdout, p->id);
            printf(",\"slots\":%d,\"replicas\":%d}", p->slots, p->replicas);
        }
        printf("],\"replicas\":[");
        for (size_t i = 0; i < r->nreplicas; i++) {
            const clusterc_check_replica *q = &r->replicas[i];
            printf("%s{\"addr\":", i ? "," : "");
            jstr(stdout, q->addr);
            printf(",\"id\":");
            jstr(stdout, q->id);
            printf(",\"primary_id\":");
            jstr(stdout, q->primary_id);
            printf(",\"link_up\":%s,\"lag_s\":%lld,\"lag_bytes\":%lld,\"lag_class\":",
                   q->link_up ? "true" : "false", q->lag_s, q->lag_bytes);
            jstr(stdout, clusterc_lag_class_str(q->lag_class));
            printf("}");
        }
        printf("],\"problems\":[");
        for (size_t i = 0; i < r->nproblems; i++) {
            if (i) printf(",");
            jstr(stdout, r->problems[i]);
        }
        printf("],\"report\":");
        jstr(stdout, r->report);
        json_end();
    } else {
        if (r->report && *r->report) {
            fputs(r->report, stdout);
            if (r->report[strlen(r->report) - 1] != '\n') putchar('\n');
        }
        if (r->ok) {
            printf("check: healthy - all %zu primaries protected\n", r->nprimaries);
        } else {
            size_t np = r->nproblems ? r->nproblems : 1;
            printf("check: %zu problem%s found\n", np, np == 1 ? "" : "s");
            /* The report names each problem; without one, list them here. */
            for (size_t i = 0; !(r->report && *r->report) && i < r->nproblems; i++)
                printf("  - %s\n", r->problems[i]);
            if (!r->nproblems) printf("  - cluster not healthy (no detail given)\n");
        }
    }
    clusterc_check_free(r);
    clusterc_free(c);
    return rc;
}

/* ------------------------------------------------------------ replication */

static void print_replica_side(const char *addr, const clusterc_replication *r)
{
    printf("== %s (replica side)\n", addr);
    printf("role:slave\nmaster_host:%s\nmaster_port:%d\nmaster_link_status:%s\n", r->master_host,
           r->master_port, r->master_link_up > 0 ? "up" : "down");
    printf("master_last_io_seconds_ago:%lld\nmaster_sync_in_progress:%d\n",
           r->master_last_io_seconds_ago, r->master_sync_in_progress);
    if (r->master_link_down_since_seconds >= 0)
        printf("master_link_down_since_seconds:%lld\n", r->master_link_down_since_seconds);
    if (r->master_sync_in_progress > 0)
        printf("master_sync_total_bytes:%lld\nmaster_sync_read_bytes:%lld\n"
               "master_sync_left_bytes:%lld\nmaster_sync_perc:%.2f\n",
               r->master_sync_total_bytes, r->master_sync_read_bytes, r->master_sync_left_bytes,
               r->master_sync_perc);
    printf("slave_read_repl_offset:%lld\nslave_repl_offset:%lld\nslave_read_only:%d\n"
           "slave_priority:%lld\n",
           r->slave_read_repl_offset, r->slave_repl_offset, r->slave_read_only, r->slave_priority);
}

/* The primary's side; only_host/only_port != 0 marks the replica asked about. */
static void print_primary_side(const char *addr, const clusterc_replication *r, const char *mark_ip,
                               int mark_port, const char *title)
{
    printf("== %s (%s)\n", addr, title);
    printf("role:master\nconnected_slaves:%d\nmaster_replid:%s\nmaster_repl_offset:%lld\n",
           r->connected_replicas, r->master_replid, r->master_repl_offset);
    for (size_t i = 0; i < r->nreplicas; i++) {
        const clusterc_replica_link *L = &r->replicas[i];
        long long behind = r->master_repl_offset - L->offset;
        printf("slave%zu:ip=%s,port=%d,state=%s,offset=%lld,lag=%lld", i, L->ip, L->port, L->state,
               L->offset, L->lag);
        printf("   (%lld bytes behind, %s%s)\n", behind < 0 ? 0 : behind,
               clusterc_lag_class_str(clusterc_lag_classify(L->lag)),
               mark_port && L->port == mark_port && strcmp(L->ip, mark_ip) == 0 ? "; this replica"
                                                                                 : "");
    }
}

static void json_replication(const clusterc_replication *r)
{
    printf("{\"role\":\"%s\"", r->is_primary ? "master" : "slave");
    if (r->is_primary) {
        printf(",\"connected_slaves\":%d,\"master_replid\":", r->connected_replicas);
        jstr(stdout, r->master_replid);
        printf(",\"master_repl_offset\":%lld,\"slaves\":[", r->master_repl_offset);
        for (size_t i = 0; i < r->nreplicas; i++) {
            const clusterc_replica_link *L = &r->replicas[i];
            printf("%s{\"ip\":", i ? "," : "");
            jstr(stdout, L->ip);
            printf(",\"port\":%d,\"state\":", L->port);
            jstr(stdout, L->state);
            printf(",\"offset\":%lld,\"lag\":%lld,\"lag_bytes\":%lld,\"lag_class\":\"%s\"}",
                   L->offset, L->lag, r->master_repl_offset - L->offset,
                   clusterc_lag_class_str(clusterc_lag_classify(L->lag)));
        }
        printf("]");
    } else {
        printf(",\"master_host\":");
        jstr(stdout, r->master_host);
        printf(",\"master_port\":%d,\"master_link_status\":\"%s\","
               "\"master_last_io_seconds_ago\":%lld,\"master_sync_in_progress\":%d,"
               "\"master_link_down_since_seconds\":%lld,\"slave_read_repl_offset\":%lld,"
               "\"slave_repl_offset\":%lld,\"slave_read_only\":%d,\"slave_priority\":%lld,"
               "\"master_sync_total_bytes\":%lld,\"master_sync_read_bytes\":%lld",
               r->master_port, r->master_link_up > 0 ? "up" : "down",
               r->master_last_io_seconds_ago, r->master_sync_in_progress,
               r->master_link_down_since_seconds, r->slave_read_repl_offset, r->slave_repl_offset,
               r->slave_read_only, r->slave_priority, r->master_sync_total_bytes,
               r->master_sync_read_bytes);
    }
    printf("}");
}

static void split_addr(const char *addr, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(addr, ':');
    size_t hl = colon ? (size_t)(colon - addr) : strlen(addr);
    if (hl >= cap) hl = cap - 1;
    if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
        memcpy(host, addr + 1, hl - 2);
        host[hl - 2] = '\0';
    } else {
        memcpy(host, addr, hl);
        host[hl] = '\0';
    }
    *port = colon ? atoi(colon + 1) : 0;
}

int cmd_replication(cli *g, int argc, char **argv)
{
    if (argc != 2) return cli_usage(g, "expects NODE");
    const char *node = argv[1];
    clusterc_client *c = cli_connect(g, node);
    if (!c) return CLI_FAIL;
    clusterc_replication r;
    if (clusterc_admin_replication(c, node, &r) != 0) {
        int rc = cli_fail(g, c, "INFO replication");
        clusterc_free(c);
        return rc;
    }
    char host[256];
    int port;
    split_addr(node, host, sizeof host, &port);
    if (g->json) {
        json_begin(g, 1);
        printf(",\"node\":");
        jstr(stdout, node);
        printf(",\"replication\":");
        json_replication(&r);
        printf(",\"peers\":[");
    }
    if (!r.is_primary) {
        if (!g->json) print_replica_side(node, &r);
        char paddr[300];
        snprintf(paddr, sizeof paddr, "%s:%d", r.master_host, r.master_port);
        clusterc_replication p;
        if (r.master_host[0] && r.master_port > 0 && clusterc_admin_replication(c, paddr, &p) == 0) {
            if (g->json) {
                printf("{\"addr\":");
                jstr(stdout, paddr);
                printf(",\"replication\":");
                json_replication(&p);
                printf("}");
            } else {
                print_primary_side(paddr, &p, host, port, "its primary's side");
            }
            clusterc_replication_free(&p);
        } else if (!g->json) {
            printf("== %s (its primary): not reachable: %s\n", paddr, clusterc_errstr(c));
        }
    } else {
        if (!g->json) print_primary_side(node, &r, "", 0, "primary side");
        for (size_t i = 0; i < r.nreplicas; i++) {
            char raddr[300];
            snprintf(raddr, sizeof raddr, "%s:%d", r.replicas[i].ip, r.replicas[i].port);
            clusterc_replication q;
            if (clusterc_admin_replication(c, raddr, &q) != 0) {
                if (!g->json) printf("== %s: not reachable: %s\n", raddr, clusterc_errstr(c));
                continue;
            }
            if (g->json) {
                printf("%s{\"addr\":", i ? "," : "");
                jstr(stdout, raddr);
                printf(",\"replication\":");
                json_replication(&q);
                printf("}");
            } else {
                print_replica_side(raddr, &q);
            }
            clusterc_replication_free(&q);
        }
    }
    if (g->json) {
        printf("]");
        json_end();
    }
    clusterc_replication_free(&r);
    clusterc_free(c);
    return CLI_OK;
}

/* -------------------------------------------------------------- lag, watch */

static int loop_opts(cli *g, int argc, char **argv, int allow_watch, int *watch, double *interval,
                     long long *count)
{
    *interval = 1.0;
    *count = 0;
    if (watch) *watch = 0;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        int bad = 0;
        const char *v;
        if (allow_watch && strcmp(argv[i], "--watch") == 0) {
            *watch = 1;
        } else if ((v = opt_arg(argc, argv, &i, "--interval", &bad)) || bad) {
            if (bad || parse_interval(v, interval) != 0)
                return cli_usage(g, "--interval needs seconds (0.05..3600)");
        } else if ((v = opt_arg(argc, argv, &i, "--count", &bad)) || bad) {
            if (bad || parse_int(v, 1, 1000000000LL, count) != 0)
                return cli_usage(g, "--count needs a positive number");
        } else if (argv[i][0] == '-') {
            return cli_usage(g, "unknown option");
        } else {
            if (npos++) return cli_usage(g, "expects one SEED");
            argv[1] = argv[i];
        }
    }
    return npos == 1 ? 0 : cli_usage(g, "expects SEED");
}

static void stamp(char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, cap, "%H:%M:%S", &tm);
}

static void print_lag(cli *g, const snap *s)
{
    char ts[16];
    stamp(ts, sizeof ts);
    if (g->json) {
        json_begin(g, 1);
        printf(",\"time\":\"%s\",\"replicas\":[", ts);
    } else {
        printf("%-22s %-22s %-12s %6s %10s  %s\n", "REPLICA", "PRIMARY", "STATE", "LAG_S",
               "LAG_BYTES", "CLASS");
    }
    int first = 1;
    for (size_t k = 0; k < s->n; k++) {
        size_t i = s->order[k];
        const clusterc_cluster_node *n = &s->v[i];
        char addr[300], paddr[300] = "?";
        node_addr(n, addr, sizeof addr);
        if (node_is_primary(n)) {
            int nrep = 0;
            for (size_t j = 0; j < s->n; j++) nrep += strcmp(s->v[j].primary_id, n->id) == 0;
            if (nrep || g->json) continue;
            if (clusterc_node_slot_count(n) > 0)
                printf("%-22s %-22s %-12s %6s %10s  %s\n", "(none)", addr, "-", "-", "-",
                       "no replica");
            continue;
        }
        const clusterc_cluster_node *p = node_by_id(s->v, s->n, n->primary_id);
        if (p) node_addr(p, paddr, sizeof paddr);
        const row *w = &s->rows[i];
        const char *cls = w->have ? clusterc_lag_class_str(clusterc_lag_classify(w->lag_s))
                                  : "unknown";
        if (g->json) {
            printf("%s{\"replica\":", first ? "" : ",");
            jstr(stdout, addr);
            printf(",\"primary\":");
            jstr(stdout, p ? paddr : NULL);
            printf(",\"state\":");
            jstr(stdout, w->have ? w->state : NULL);
            printf(",\"lag_s\":%lld,\"lag_bytes\":%lld,\"class\":\"%s\"}", w->lag_s, w->lag_bytes,
                   cls);
        } else if (w->have) {
            printf("%-22s %-22s %-12s %6lld %10lld  %s\n", addr, paddr, w->state, w->lag_s,
                   w->lag_bytes, cls);
        } else {
            printf("%-22s %-22s %-12s %6s %10s  %s\n", addr, paddr,
                   (n->flags & CLUSTERC_NODE_FAIL) ? "FAIL" : "not listed", "-", "-", cls);
        }
        first = 0;
    }
    if (g->json) {
        printf("]");
        json_end();
    }
}

static void print_watch(cli *g, const snap *s, const char *seed)
{
    char ts[16];
    stamp(ts, sizeof ts);
    if (g->json) {
        json_begin(g, 1);
        printf(",\"time\":\"%s\",\"cluster\":", ts);
        json_ci(s);
        printf(",\"nodes\":[");
        for (size_t k = 0; k < s->n; k++) {
            if (k) printf(",");
            json_node(s, s->order[k]);
        }
        printf("]");
        json_end();
        return;
    }
    printf("clusterc-admin watch %s   %s   (Ctrl-C to stop)\n", seed, ts);
    print_ci(s);
    printf("%-22s %-8s %6s %-22s %-12s %-12s %6s %10s  %s\n", "ADDRESS", "ROLE", "SLOTS",
           "PRIMARY", "LINK", "REPL", "LAG_S", "LAG_BYTES", "CLASS");
    for (size_t k = 0; k < s->n; k++) {
        size_t i = s->order[k];
        const clusterc_cluster_node *n = &s->v[i];
        const row *w = &s->rows[i];
        char addr[300], paddr[300] = "-";
        node_addr(n, addr, sizeof addr);
        if (node_is_primary(n)) {
            char repl[24];
            if (w->info_failed)
                snprintf(repl, sizeof repl, "no INFO");
            else
                snprintf(repl, sizeof repl, "%d replica%s", w->nreplicas,
                         w->nreplicas == 1 ? "" : "s");
            printf("%-22s %-8s %6d %-22s %-12s %-12s %6s %10s  %s\n", addr, "primary",
                   clusterc_node_slot_count(n), "-", link_str(n), repl, "-", "-",
                   w->nreplicas || !clusterc_node_slot_count(n) ? "" : "UNPROTECTED");
            continue;
        }
        const clusterc_cluster_node *p = node_by_id(s->v, s->n, n->primary_id);
        if (p) node_addr(p, paddr, sizeof paddr);
        if (w->have)
            printf("  %-20s %-8s %6s %-22s %-12s %-12s %6lld %10lld  %s\n", addr, node_role(n),
                   "-", paddr, link_str(n), w->state, w->lag_s, w->lag_bytes,
                   clusterc_lag_class_str(clusterc_lag_classify(w->lag_s)));
        else
            printf("  %-20s %-8s %6s %-22s %-12s %-12s %6s %10s  %s\n", addr, node_role(n), "-",
                   paddr, link_str(n), "-", "-", "-", "");
    }
}

static int loop(cli *g, const char *seed, int watch_mode, int repeat, double interval,
                long long count)
{
    clusterc_client *c = cli_connect(g, seed);
    if (!c) return CLI_FAIL;
    cli_catch_sigint();
    int rc = CLI_OK;
    for (long long iter = 0; !cli_interrupted(); iter++) {
        snap s;
        int ok = snap_load(c, &s, watch_mode, 1) == 0;
        if (repeat && g->tty && !g->json) printf("\033[H\033[2J");
        if (!ok) {
            if (!repeat) {
                rc = cli_fail(g, c, "CLUSTER NODES");
                break;
            }
            /* Keep watching through a failover: say why and try again. */
            char ts[16];
            stamp(ts, sizeof ts);
            printf("%s  no answer: %s\n", ts, clusterc_errstr(c));
            clusterc_refresh(c);
        } else {
            if (watch_mode)
                print_watch(g, &s, seed);
            else
                print_lag(g, &s);
            snap_free(&s);
        }
        fflush(stdout);
        if (!repeat || (count && iter + 1 >= count)) break;
        if (!g->tty || g->json) {
            if (!g->json) printf("\n");
        }
        if (cli_sleep(interval)) break;
    }
    clusterc_free(c);
    return rc;
}

int cmd_lag(cli *g, int argc, char **argv)
{
    int watch;
    double interval;
    long long count;
    if (loop_opts(g, argc, argv, 1, &watch, &interval, &count) != 0) return CLI_FAIL;
    return loop(g, argv[1], 0, watch || count > 0, interval, count);
}

int cmd_watch(cli *g, int argc, char **argv)
{
    double interval;
    long long count;
    if (loop_opts(g, argc, argv, 0, NULL, &interval, &count) != 0) return CLI_FAIL;
    return loop(g, argv[1], 1, 1, interval, count);
}
