/* views_json.c -- the admin views as JSON text, for bindings (ctypes, cgo)
 * that would rather not lay out the admin structs: each is the admin call
 * of the same name, turned into JSON. */
#include <stdlib.h>
#include <string.h>
#include "admin_int.h"
#include "proto/json.h"

/* The text, or NULL with ENOMEM set on the client. */
static char *finish(clusterc_client *c, clusterc__json *j)
{
    char *s = clusterc__json_finish(j);
    if (!s)
        clusterc__client_set_error(c, CLUSTERC_ENOMEM, "JSON view: out of memory");
    return s;
}

static void flags_json(clusterc__json *j, unsigned flags)
{
    clusterc__json_key(j, "flags");
    clusterc__json_array(j);
    for (unsigned bit = 1; bit <= CLUSTERC_NODE_NOFLAGS; bit <<= 1)
        if ((flags & bit) && clusterc_node_flag_name(bit))
            clusterc__json_str(j, clusterc_node_flag_name(bit));
    clusterc__json_array_end(j);
}

static void moves_json(clusterc__json *j, const char *key, const clusterc_slot_move *m,
                       size_t n)
{
    clusterc__json_key(j, key);
    clusterc__json_array(j);
    for (size_t i = 0; i < n; i++) {
        clusterc__json_object(j);
        clusterc__json_kint(j, "slot", m[i].slot);
        clusterc__json_kstr(j, "node", m[i].node);
        clusterc__json_object_end(j);
    }
    clusterc__json_array_end(j);
}

static void cluster_node_json(clusterc__json *j, const clusterc_cluster_node *n)
{
    clusterc__json_object(j);
    clusterc__json_kstr(j, "id", n->id);
    clusterc__json_kstr(j, "host", n->host);
    clusterc__json_kint(j, "port", n->port);
    clusterc__json_kint(j, "bus_port", n->bus_port);
    clusterc__json_kstr(j, "hostname", n->hostname);
    flags_json(j, n->flags);
    clusterc__json_kstr(j, "role", (n->flags & CLUSTERC_NODE_SLAVE) ? "replica" : "primary");
    clusterc__json_kstr(j, "primary_id", n->primary_id);
    clusterc__json_kint(j, "ping_sent", n->ping_sent);
    clusterc__json_kint(j, "pong_recv", n->pong_recv);
    clusterc__json_kint(j, "config_epoch", n->config_epoch);
    clusterc__json_kbool(j, "link_connected", n->link_connected);
    clusterc__json_kint(j, "slot_count", clusterc_node_slot_count(n));
    clusterc__json_key(j, "slots");
    clusterc__json_array(j);
    for (size_t i = 0; i < n->nslots; i++) {
        clusterc__json_array(j);
        clusterc__json_int(j, n->slots[i].start);
        clusterc__json_int(j, n->slots[i].end);
        clusterc__json_array_end(j);
    }
    clusterc__json_array_end(j);
    moves_json(j, "migrating", n->migrating, n->nmigrating);
    moves_json(j, "importing", n->importing, n->nimporting);
    clusterc__json_object_end(j);
}

CLUSTERC_API char *clusterc_admin_nodes_json(clusterc_client *c, const char *node)
{
    clusterc_cluster_node *v = NULL;
    size_t n = 0;
    if (!c || clusterc_admin_nodes(c, node, &v, &n) < 0)
        return NULL;   /* the admin call set the error */
    clusterc__json j;
    clusterc__json_init(&j);
    clusterc__json_array(&j);
    for (size_t i = 0; i < n; i++)
        cluster_node_json(&j, &v[i]);
    clusterc__json_array_end(&j);
    clusterc_nodes_free(v, n);
    return finish(c, &j);
}

static void replica_links_json(clusterc__json *j, const clusterc_replication *r)
{
    clusterc__json_key(j, "replicas");
    clusterc__json_array(j);
    for (size_t i = 0; i < r->nreplicas; i++) {
        const clusterc_replica_link *l = &r->replicas[i];
        clusterc__json_object(j);
        clusterc__json_kstr(j, "ip", l->ip);
        clusterc__json_kint(j, "port", l->port);
        clusterc__json_kstr(j, "state", l->state);
        clusterc__json_kint(j, "offset", l->offset);
        clusterc__json_kint_known(j, "lag", l->lag);   /* -1: not reported */
        clusterc__json_kstr(j, "lag_class", clusterc_lag_class_str(clusterc_lag_classify(l->lag)));
        clusterc__json_object_end(j);
    }
    clusterc__json_array_end(j);
}

/* The replica side; absent fields (-1, "") are null. */
static void replica_side_json(clusterc__json *j, const clusterc_replication *r)
{
    clusterc__json_kstr(j, "master_host", r->master_host[0] ? r->master_host : NULL);
    clusterc__json_kint_known(j, "master_port", r->master_port);
    clusterc__json_key(j, "master_link_up");
    if (r->master_link_up < 0)
        clusterc__json_null(j);
    else
        clusterc__json_bool(j, r->master_link_up);
    clusterc__json_kint_known(j, "master_last_io_seconds_ago", r->master_last_io_seconds_ago);
    clusterc__json_kint_known(j, "master_sync_in_progress", r->master_sync_in_progress);
    clusterc__json_kint_known(j, "master_link_down_since_seconds", r->master_link_down_since_seconds);
    clusterc__json_kint_known(j, "slave_read_repl_offset", r->slave_read_repl_offset);
    clusterc__json_kint_known(j, "slave_repl_offset", r->slave_repl_offset);
    clusterc__json_kint_known(j, "slave_read_only", r->slave_read_only);
    clusterc__json_kint_known(j, "slave_priority", r->slave_priority);
    clusterc__json_kint_known(j, "master_sync_total_bytes", r->master_sync_total_bytes);
    clusterc__json_kint_known(j, "master_sync_read_bytes", r->master_sync_read_bytes);
    clusterc__json_kint_known(j, "master_sync_left_bytes", r->master_sync_left_bytes);
    clusterc__json_key(j, "master_sync_perc");
    if (r->master_sync_perc < 0)
        clusterc__json_null(j);
    else
        clusterc__json_double(j, r->master_sync_perc);
    clusterc__json_kint_known(j, "master_sync_last_io_seconds_ago", r->master_sync_last_io_seconds_ago);
}

CLUSTERC_API char *clusterc_admin_replication_json(clusterc_client *c, const char *node)
{
    clusterc_replication r;
    memset(&r, 0, sizeof(r));
    if (!c || clusterc_admin_replication(c, node, &r) < 0)
        return NULL;
    clusterc__json j;
    clusterc__json_init(&j);
    clusterc__json_object(&j);
    clusterc__json_kstr(&j, "role", r.is_primary ? "primary" : "replica");
    clusterc__json_kint_known(&j, "connected_replicas", r.connected_replicas);
    clusterc__json_kint_known(&j, "master_repl_offset", r.master_repl_offset);
    clusterc__json_kstr(&j, "master_replid", r.master_replid);
    replica_links_json(&j, &r);
    replica_side_json(&j, &r);
    clusterc__json_object_end(&j);
    clusterc_replication_free(&r);
    return finish(c, &j);
}

static void check_members_json(clusterc__json *j, const clusterc_check_result *r)
{
    clusterc__json_key(j, "primaries");
    clusterc__json_array(j);
    for (size_t i = 0; i < r->nprimaries; i++) {
        const clusterc_check_primary *p = &r->primaries[i];
        clusterc__json_object(j);
        clusterc__json_kstr(j, "addr", p->addr);
        clusterc__json_kstr(j, "id", p->id);
        clusterc__json_kint(j, "slots", p->slots);
        clusterc__json_kint(j, "replicas", p->replicas);
        clusterc__json_object_end(j);
    }
    clusterc__json_array_end(j);
    clusterc__json_key(j, "replicas");
    clusterc__json_array(j);
    for (size_t i = 0; i < r->nreplicas; i++) {
        const clusterc_check_replica *p = &r->replicas[i];
        clusterc__json_object(j);
        clusterc__json_kstr(j, "addr", p->addr);
        clusterc__json_kstr(j, "id", p->id);
        clusterc__json_kstr(j, "primary_id", p->primary_id);
        clusterc__json_kbool(j, "link_up", p->link_up);
        clusterc__json_kint_known(j, "lag_s", p->lag_s);
        clusterc__json_kint(j, "lag_bytes", p->lag_bytes);
        clusterc__json_kstr(j, "lag_class", clusterc_lag_class_str(p->lag_class));
        clusterc__json_object_end(j);
    }
    clusterc__json_array_end(j);
}

CLUSTERC_API char *clusterc_admin_check_json(clusterc_client *c)
{
    clusterc_check_result *r = NULL;
    if (!c || clusterc_admin_check(c, &r) < 0)
        return NULL;
    clusterc__json j;
    clusterc__json_init(&j);
    clusterc__json_object(&j);
    clusterc__json_kbool(&j, "ok", r->ok);
    clusterc__json_kbool(&j, "cluster_state_ok", r->cluster_state_ok);
    clusterc__json_kint(&j, "slots_covered", r->slots_covered);
    clusterc__json_kbool(&j, "config_agrees", r->config_agrees);
    clusterc__json_kint(&j, "open_slots", r->open_slots);
    clusterc__json_kint(&j, "unprotected", r->unprotected);
    clusterc__json_kint(&j, "unreachable", r->unreachable);
    check_members_json(&j, r);
    clusterc__json_key(&j, "problems");
    clusterc__json_array(&j);
    for (size_t i = 0; i < r->nproblems; i++)
        clusterc__json_str(&j, r->problems[i]);
    clusterc__json_array_end(&j);
    clusterc__json_kstr(&j, "report", r->report ? r->report : "");
    clusterc__json_object_end(&j);
    clusterc_check_free(r);
    return finish(c, &j);
}
