/* pubsub_conn.c -- subscriber connections and the pushes they carry.
 *
 * A subscriber connection is a clusterc__conn in push mode (conn.h): the
 * handshake goes through its FIFO as usual; everything after it (messages,
 * confirmations, errors) comes to sc_reply untagged, in the order the
 * server sent it. One connection per node, keyed by "host:port", shared by
 * the channels and patterns (when that node was picked for them) and the
 * shard channels the node serves.
 *
 * Connections are never freed inside their own callbacks (conn.c still
 * holds them on the way out): a closed one goes on ps->retired and reap_ev
 * frees it from the loop.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pubsub_int.h"
#include "proto/push.h"
#include "proto/redirect.h"
#include "proto/encode.h"

static void flush_cb(evutil_socket_t fd, short what, void *arg);
static void reap_cb(evutil_socket_t fd, short what, void *arg);

/* ------------------------------------------------------------- sending */

static const char *const verbs[2][4] = {
    { "", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE" },
    { "", "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE" },
};

struct ps_sent {
    ps_sent *next;
    int kind;
    int sub;
    size_t len;
    char name[];        /* len bytes */
};

static void sent_push(ps_conn *pc, ps_sent *t)
{
    t->next = NULL;
    if (pc->sent_tail)
        pc->sent_tail->next = t;
    else
        pc->sent_head = t;
    pc->sent_tail = t;
}

/* The oldest command still unanswered, taken off the list, or NULL. */
static ps_sent *sent_pop(ps_conn *pc)
{
    ps_sent *t = pc->sent_head;
    if (t && !(pc->sent_head = t->next))
        pc->sent_tail = NULL;
    return t;
}

static void sent_clear(ps_conn *pc)
{
    for (ps_sent *t; (t = sent_pop(pc));)
        free(t);
}

/* One name per command: SSUBSCRIBE of channels in different slots is
 * CROSSSLOT, and one reply per command keeps errors attributable (each
 * command is remembered on pc->sent until its reply comes). */
int clusterc__ps_send(ps_conn *pc, int kind, const char *name, size_t len, int sub)
{
    const char *argv[2] = { verbs[sub != 0][kind], name };
    size_t lens[2] = { strlen(argv[0]), len };
    char *cmd = NULL;
    ps_sent *t = malloc(sizeof(*t) + len);
    if (!t)
        return -1;
    t->kind = kind;
    t->sub = sub != 0;
    t->len = len;
    memcpy(t->name, name, len);
    int n = clusterc__format_argv(&cmd, 2, argv, lens);
    int rc = n < 0 ? -1 : clusterc__conn_send_raw(&pc->conn, cmd, (size_t)n);
    if (n >= 0)
        free(cmd);
    if (rc < 0) {
        free(t);
        return -1;
    }
    sent_push(pc, t);
    return 0;
}

/* ----------------------------------------------------------- the pushes */

/* message / pmessage / smessage: to the subscription's callback, if it is
 * still wanted and this is its connection. */
static void deliver(ps_conn *pc, const clusterc__push *p)
{
    clusterc__pubsub *ps = pc->ps;
    const redisReply *name = p->name;
    ps_sub *s = clusterc__ps_find(ps, p->kind, name->str, name->len);
    if (!s || s->pc != pc)
        return;
    clusterc_message m;
    m.kind = p->kind;
    m.channel = p->channel->str;
    m.channel_len = p->channel->len;
    m.pattern = p->kind == CLUSTERC_PUBSUB_PATTERN ? name->str : NULL;
    m.pattern_len = p->kind == CLUSTERC_PUBSUB_PATTERN ? name->len : 0;
    m.payload = p->payload->str;
    m.payload_len = p->payload->len;
    ps->e->stats.messages++;
    /* m points into the reply, not into s: the callback may unsubscribe. */
    s->fn(ps->e, &m, s->ufn, s->u1, s->u2);
}

/* Errors that pass: the cluster is between states (a failover, a slot
 * moving, a node loading or running a script). */
static int passing(clusterc__errkind k, const redisReply *r)
{
    return k == CLUSTERC__ERR_TRYAGAIN || k == CLUSTERC__ERR_CLUSTERDOWN ||
           k == CLUSTERC__ERR_LOADING || k == CLUSTERC__ERR_MASTERDOWN ||
           k == CLUSTERC__ERR_READONLY || k == CLUSTERC__ERR_MALFORMED ||
           (r->len >= 4 && memcmp(r->str, "BUSY", 4) == 0 && (r->len == 4 || r->str[4] == ' '));
}

/* An error reply: the answer to the oldest command on pc (t). MOVED names
 * the slot: the subscriptions of that slot still waiting for a
 * confirmation here failed, and go where MOVED says once the map agrees
 * (the slot is patched now, a load follows). Any other refusal is that one
 * subscription's: the connection and the others on it stay (the server
 * keeps them). A refused UNSUBSCRIBE changes nothing: that name has left pc
 * already, its messages are dropped. An error nobody asked for means the
 * stream cannot be trusted: the connection closes. */
static void refused(ps_conn *pc, const redisReply *r)
{
    clusterc__pubsub *ps = pc->ps;
    clusterc__engine *e = ps->e;
    clusterc__redirect rd;
    char msg[300];
    ps_sent *t = sent_pop(pc);
    clusterc__errkind k = clusterc__classify_error(r->str, r->len, pc->conn.addr.host, &rd);
    if (k == CLUSTERC__ERR_MOVED || k == CLUSTERC__ERR_ASK) {
        clusterc__addr dial;
        clusterc__refresh_request(e, "subscribe refused", 1);
        clusterc__engine_remap(e, &rd.target, &dial);
        clusterc__node *to = clusterc__engine_node(e, &dial, 1);
        if (to && k == CLUSTERC__ERR_MOVED)
            clusterc__engine_patch_slot(e, rd.slot, to);
        clusterc__ps_slot_refused(ps, pc, rd.slot);
    } else if (t && t->sub) {
        int for_good = !passing(k, r);
        if (!for_good)
            clusterc__refresh_request(e, "subscribe refused", 1);
        clusterc__ps_sub_refused(ps, pc, t->kind, t->name, t->len, r->str, r->len, for_good);
    } else if (!t) {
        snprintf(msg, sizeof(msg), "subscriber connection to %s: unexpected error: %.*s",
                 pc->name, (int)(r->len > 200 ? 200 : r->len), r->str);
        clusterc__conn_close(&pc->conn, CLUSTERC_EPROTOCOL, msg);
    }
    free(t);
}

/* A confirmation answers the oldest command when it names it; one that
 * does not is the server's own (the SUNSUBSCRIBE of a migrated slot). */
static void confirmation(ps_conn *pc, const clusterc__push *p)
{
    const redisReply *name = p->name;
    int sub = p->what == CLUSTERC__PUSH_SUBSCRIBE;
    ps_sent *t = pc->sent_head;
    if (t && t->kind == p->kind && t->sub == sub && name->type == REDIS_REPLY_STRING &&
        t->len == name->len && memcmp(t->name, name->str, t->len) == 0)
        free(sent_pop(pc));
    if (name->type == REDIS_REPLY_STRING)
        clusterc__ps_confirmed(pc->ps, pc, p->kind, name->str, name->len, sub);
}

static void malformed(ps_conn *pc, const redisReply *r)
{
    char msg[200];
    snprintf(msg, sizeof(msg), "protocol error from %s: a subscriber connection got %s",
             pc->name, r->type == REDIS_REPLY_ARRAY ? "an array that is no Pub/Sub push"
                                                   : "a reply that is no Pub/Sub push");
    clusterc__conn_close(&pc->conn, CLUSTERC_EPROTOCOL, msg);
}

static void on_push(ps_conn *pc, const redisReply *r)
{
    if (r->type == REDIS_REPLY_ERROR) {
        refused(pc, r);
        return;
    }
    clusterc__push p;
    if (!clusterc__push_parse(r, &p)) {
        malformed(pc, r);
        return;
    }
    if (p.what == CLUSTERC__PUSH_PONG)
        return;   /* PING in subscribed mode: ours is keepalive, not PING */
    if (p.what == CLUSTERC__PUSH_MESSAGE)
        deliver(pc, &p);
    else
        confirmation(pc, &p);
}

/* --------------------------------------------------- connection callbacks */

static void sc_enter(void *owner) { clusterc__engine_enter(((ps_conn *)owner)->ps->e); }
static void sc_leave(void *owner) { clusterc__engine_leave(((ps_conn *)owner)->ps->e); }

static clusterc__dns *sc_dns(void *owner)
{
    return clusterc__engine_dns(((ps_conn *)owner)->ps->e);
}

static void sc_connected(void *owner)
{
    ((ps_conn *)owner)->ps->e->stats.connects++;
}

static int sc_reply(void *owner, void *tag, redisReply *reply)
{
    ps_conn *pc = owner;
    clusterc__engine *e = pc->ps->e;
    (void)tag;
    if (!e->dead && !pc->retired)
        on_push(pc, reply);
    freeReplyObject(reply);
    /* A callback freed the client, or this connection closed: stop. */
    return e->dead || pc->retired || pc->conn.state != CLUSTERC__CONN_UP ? -1 : 0;
}

static void sc_lost(void *owner, void *tag, int code, const char *msg, int written)
{
    (void)owner; (void)tag; (void)code; (void)msg; (void)written;   /* no tags: never */
}

static void sc_closed(void *owner, int code, const char *msg, int was_up)
{
    ps_conn *pc = owner;
    clusterc__pubsub *ps = pc->ps;
    (void)code; (void)msg; (void)was_up;
    sent_clear(pc);   /* nothing sent on it will be answered */
    if (pc->retired || ps->draining || ps->e->dead)
        return;
    clusterc__ps_conn_lost(ps, pc);
    clusterc__ps_conn_retire(ps, pc);
    clusterc__refresh_request(ps->e, "subscriber connection lost", 0);
}

static void sc_want_write(void *owner)
{
    ps_conn *pc = owner;
    if (pc->dirty)
        return;
    pc->dirty = 1;
    event_active(pc->ps->flush_ev, 0, 0);   /* one write per connection per loop turn */
}

static const clusterc__conn_ops sc_ops = {
    sc_enter, sc_leave, sc_dns, sc_connected, sc_reply, sc_lost, sc_closed, sc_want_write,
};

/* ------------------------------------------------------------ the table */

ps_conn *clusterc__ps_conn_get(clusterc__pubsub *ps, const clusterc__addr *a, const char *name,
                               int create)
{
    clusterc__engine *e = ps->e;
    for (ps_conn *pc = ps->conns; pc; pc = pc->next)
        if (strcmp(pc->name, name) == 0)
            return pc;
    if (!create)
        return NULL;
    ps_conn *pc = calloc(1, sizeof(*pc));
    if (!pc)
        return NULL;
    pc->ps = ps;
    snprintf(pc->name, sizeof(pc->name), "%s", name);
    if (clusterc__conn_init(&pc->conn, e->base, &e->conn_cfg, &sc_ops, pc, a, pc->name) < 0) {
        free(pc);
        return NULL;
    }
    pc->conn.push = 1;
    pc->next = ps->conns;
    ps->conns = pc;
    return pc;
}

void clusterc__ps_conn_retire(clusterc__pubsub *ps, ps_conn *pc)
{
    if (pc->retired)
        return;
    ps_conn **pp = &ps->conns;
    while (*pp && *pp != pc)
        pp = &(*pp)->next;
    if (*pp)
        *pp = pc->next;
    if (pc == ps->classic)
        ps->classic = NULL;
    pc->retired = 1;
    pc->dirty = 0;
    clusterc__conn_shutdown(&pc->conn);   /* closing unsubscribes everything on it */
    pc->next = ps->retired;
    ps->retired = pc;
    event_active(ps->reap_ev, 0, 0);
}

int clusterc__ps_conns_init(clusterc__pubsub *ps)
{
    ps->flush_ev = event_new(ps->e->base, -1, 0, flush_cb, ps);
    ps->reap_ev = event_new(ps->e->base, -1, 0, reap_cb, ps);
    return ps->flush_ev && ps->reap_ev ? 0 : -1;
}

static void free_list(ps_conn *pc)
{
    while (pc) {
        ps_conn *next = pc->next;
        clusterc__conn_fini(&pc->conn);
        sent_clear(pc);
        free(pc);
        pc = next;
    }
}

void clusterc__ps_conns_close_all(clusterc__pubsub *ps)
{
    while (ps->conns)
        clusterc__ps_conn_retire(ps, ps->conns);
    if (ps->flush_ev)
        event_del(ps->flush_ev);
}

void clusterc__ps_conns_fini(clusterc__pubsub *ps)
{
    free_list(ps->conns);
    free_list(ps->retired);
    ps->conns = ps->retired = ps->classic = NULL;
    if (ps->flush_ev) event_free(ps->flush_ev);
    if (ps->reap_ev) event_free(ps->reap_ev);
    ps->flush_ev = ps->reap_ev = NULL;
}

/* ------------------------------------------------------------ the loop */

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__pubsub *ps = arg;
    clusterc__engine *e = ps->e;
    (void)fd; (void)what;
    clusterc__engine_enter(e);
    /* A flush may close a connection (and so change the list): rescan. */
    for (ps_conn *pc = ps->conns; pc && !e->dead;) {
        if (!pc->dirty) {
            pc = pc->next;
            continue;
        }
        pc->dirty = 0;
        clusterc__conn_flush(&pc->conn);
        pc = ps->conns;
    }
    clusterc__engine_leave(e);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
    clusterc__pubsub *ps = arg;
    (void)fd; (void)what;
    free_list(ps->retired);
    ps->retired = NULL;
}
