/* zones.c -- each node's availability zone, for az_affinity.
 *
 * Valkey 8 reports a node's `availability-zone` setting in INFO server as
 * `availability_zone`. While client_az is set, a node is asked once per
 * connection (a restarted node may come back in another zone): when its
 * connection opens for any reason, and, for the nodes of a shard the
 * client reads from, when the first read of that shard is routed (which
 * dials them: connections stay lazy, a shard never read costs nothing).
 * INFO server is an internal command, so a read never waits for it; until
 * a node's answer arrives it counts as outside the zone. A node that answers without the field (Redis,
 * Valkey < 8, no zone set) or refuses INFO (an ACL user without +info) has
 * no zone. Without client_az nothing here runs: no command, no cost.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"
#include "proto/info.h"

int clusterc__zones_init(clusterc__engine *e)
{
    const char *az = e->opt.client_az;
    e->opt.client_az = NULL;   /* the caller's string: ours from here on */
    if (!az || !az[0])
        return 0;
    e->opt.client_az = strdup(az);
    return e->opt.client_az ? 0 : -1;
}

void clusterc__zones_fini(clusterc__engine *e)
{
    free((char *)e->opt.client_az);
    e->opt.client_az = NULL;
}

static void learn(clusterc__engine *e, clusterc__node *n, const redisReply *reply)
{
    const char *v = NULL;
    size_t vlen = 0, mine = strlen(e->opt.client_az);
    n->az[0] = '\0';
    n->in_zone = 0;
    if (reply && reply->type == REDIS_REPLY_STRING &&
        clusterc__info_field(reply->str, reply->len, "availability_zone", &v, &vlen) &&
        vlen > 0) {
        size_t keep = vlen < sizeof(n->az) ? vlen : sizeof(n->az) - 1;
        memcpy(n->az, v, keep);
        n->az[keep] = '\0';
        n->in_zone = vlen == mine && memcmp(v, e->opt.client_az, vlen) == 0;
    }
    if (reply && reply->type == REDIS_REPLY_ERROR && reply->str &&
        strncmp(reply->str, "NOPERM", 6) == 0)
        e->stats.probes_refused++;
    n->az_state = 2;
    n->az_dial = n->conn.dials;
}

static void on_server_info(clusterc__engine *e, clusterc__req *r, redisReply *reply,
                           int code, const char *msg)
{
    clusterc__node *n = r->u1;
    (void)code; (void)msg;
    if (!e->dead) {
        if (reply)
            learn(e, n, reply);
        else
            n->az_state = 0;   /* the connection failed: ask on the next one */
    }
    freeReplyObject(reply);
}

static void ask(clusterc__engine *e, clusterc__node *n)
{
    static const char *argv[2] = { "INFO", "server" };
    if (e->draining || e->dead || n->az_state == 1)
        return;
    n->az_state = 1;
    if (!clusterc__engine_internal(e, n, 2, argv, on_server_info, n))
        n->az_state = 0;
}

/* Nodes already connected whose zone is unknown (new to the map). */
void clusterc__zones_on_map(clusterc__engine *e)
{
    if (!e->opt.client_az)
        return;
    for (size_t i = 0; i < e->nshards; i++)
        for (size_t j = 0; j < e->shards[i].n; j++) {
            clusterc__node *n = e->shards[i].nodes[j];
            if (n->az_state == 0 && n->conn.state == CLUSTERC__CONN_UP)
                ask(e, n);
        }
}

void clusterc__zones_on_read(clusterc__engine *e, clusterc__shard *s)
{
    for (size_t j = 0; j < s->n; j++)
        if (s->nodes[j]->az_state == 0)
            ask(e, s->nodes[j]);
}

void clusterc__zones_on_connect(clusterc__engine *e, clusterc__node *n)
{
    if (!e->opt.client_az || !clusterc__engine_in_map(e, n))
        return;
    if (n->az_state == 0 || (n->az_state == 2 && n->az_dial != n->conn.dials))
        ask(e, n);
}
