/* tx.c -- MULTI ... EXEC on one node.
 *
 * A transaction must run on the node that owns its keys, but MULTI names
 * no key. So MULTI is answered +OK here and held back; the first command
 * with a key (or EXEC/DISCARD, if none comes) picks the node, MULTI is
 * sent there, and every command up to EXEC/DISCARD is pinned to it: no
 * redirects are followed inside (the server's MOVED in the queue makes EXEC
 * fail with EXECABORT, which the caller sees), no retries after a lost
 * connection. This is what the cluster spec allows; splitting a
 * transaction across nodes is not possible.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "engine_int.h"

static redisReply *make_reply(const char *resp)
{
    void *reply = NULL;
    redisReader *rd = redisReaderCreate();
    if (!rd)
        return NULL;
    /* Building it with hiredis's own reader keeps freeReplyObject valid
     * whatever hiredis version and allocator are in use. */
    if (redisReaderFeed(rd, resp, strlen(resp)) != REDIS_OK ||
        redisReaderGetReply(rd, &reply) != REDIS_OK)
        reply = NULL;
    redisReaderFree(rd);
    return reply;
}

static int answer(clusterc__engine *e, clusterc__req *r, const char *resp)
{
    redisReply *reply = make_reply(resp);
    if (!reply)
        return 0;   /* out of memory: let the server answer instead */
    clusterc__engine_complete_later(e, r, reply);
    return 1;
}

static int answer_aborted(clusterc__engine *e, clusterc__req *r, int ends);

/* First command of the transaction with a node: send the held MULTI. */
static int open_tx(clusterc__engine *e, clusterc__req *r)
{
    static const char multi[] = "*1\r\n$5\r\nMULTI\r\n";
    int noreplica;
    r->pinned = 1;   /* a transaction runs on the primary: no read routing */
    r->blocking = 0;
    clusterc__node *n = r->slot >= 0 ? clusterc__engine_route(e, r, &noreplica)
                                     : clusterc__engine_route_keyless(e);
    if (!n || clusterc__node_send_skip(n, multi, sizeof(multi) - 1) < 0) {
        char resp[sizeof(e->tx_why) + 64];
        if (n)
            snprintf(e->tx_why, sizeof(e->tx_why), "out of memory queuing MULTI for %s", n->name);
        else if (e->map_gen == 0)
            snprintf(e->tx_why, sizeof(e->tx_why), "no node to run the transaction on (no slot "
                     "map yet)");
        else
            snprintf(e->tx_why, sizeof(e->tx_why), "no node serves slot %d for the "
                     "transaction", r->slot);
        /* MULTI was never sent: what follows up to EXEC/DISCARD must not
         * run as plain commands (the fuzzer's finding), so it is answered
         * here as after a queuing error (answer_aborted). */
        if (r->flags & CLUSTERC__CMD_EXEC)
            return answer_aborted(e, r, 1);
        e->tx_state = 3;
        snprintf(resp, sizeof(resp), "-ERR clusterc: %s; MULTI was dropped\r\n", e->tx_why);
        return answer(e, r, resp);
    }
    e->tx_state = 2;
    e->tx_node = n;   /* kept from reaping until the transaction ends */
    return 0;
}

/* The transaction's MULTI is gone (its connection was lost, or it could
 * not be placed: e->tx_why says which), so what follows must not reach a
 * node as plain commands. Up to EXEC/DISCARD everything is answered here,
 * as a server answers after a queuing error. */
static int answer_aborted(clusterc__engine *e, clusterc__req *r, int ends)
{
    char resp[sizeof(e->tx_why) + 96];
    if (!ends)
        snprintf(resp, sizeof(resp), "-ERR clusterc: not queued: %s, and the transaction was "
                 "discarded\r\n", e->tx_why);
    else if (strcasecmp(CLUSTERC__RNAME(r), "DISCARD") == 0)
        snprintf(resp, sizeof(resp), "+OK\r\n");
    else
        snprintf(resp, sizeof(resp), "-EXECABORT Transaction discarded because %s\r\n",
                 e->tx_why);
    if (ends)
        e->tx_state = 0;
    if (answer(e, r, resp))
        return 1;
    /* Out of memory for a local reply: fail it rather than send it. */
    clusterc__engine_fail_later(e, r, CLUSTERC_ENOMEM, "out of memory");
    return 1;
}

void clusterc__tx_node_lost(clusterc__engine *e, clusterc__node *n)
{
    if (e->tx_state == 2 && e->tx_node == n) {
        e->tx_state = 3;
        e->tx_node = NULL;
        snprintf(e->tx_why, sizeof(e->tx_why), "the connection to %s was lost inside MULTI",
                 n->name);
    }
}

int clusterc__tx_submit(clusterc__engine *e, clusterc__req *r)
{
    int ends = (r->flags & CLUSTERC__CMD_EXEC) != 0;
    if (e->tx_state == 3)
        return answer_aborted(e, r, ends);
    if (r->flags & CLUSTERC__CMD_MULTI) {
        if (e->tx_state == 1)
            return answer(e, r, "-ERR MULTI calls can not be nested\r\n");
        if (e->tx_state == 0) {
            e->tx_state = 1;
            return answer(e, r, "+OK\r\n");
        }
    }
    if (e->tx_state == 0)
        return 0;
    if (e->tx_state == 1 && (r->slot >= 0 || ends) && open_tx(e, r))
        return 1;
    if (e->tx_state == 2) {
        clusterc__req_x *x = clusterc__req_ext(r);
        if (!x) {
            clusterc__engine_fail_later(e, r, CLUSTERC_ENOMEM, "%s: out of memory inside MULTI",
                                        CLUSTERC__RNAME(r));
            return 1;
        }
        x->target = e->tx_node;
        r->pinned = 1;
        r->blocking = 0;   /* queued by the server, not blocking: on the tx's connection */
    }
    if (ends) {
        e->tx_state = 0;
        e->tx_node = NULL;
    }
    return 0;
}
