/* pubsub_int.h -- what pubsub.c (the wanted subscriptions and making the
 * actual ones match) and pubsub_conn.c (the subscriber connections, the
 * pushes they carry) share. Internal to the engine room.
 *
 * A subscription is wanted (in the table) from clusterc__pubsub_want to
 * clusterc__pubsub_unwant. Its pc is the connection it is subscribed, or
 * being subscribed, on; NULL while it waits (no map yet, its connection was
 * lost, its slot is not served). Messages are delivered only from its own
 * pc, so a channel briefly subscribed on two nodes while it moves (both
 * nodes of a shard publish it) is still delivered once.
 */
#ifndef CLUSTERC_PUBSUB_INT_H
#define CLUSTERC_PUBSUB_INT_H
#include <stdint.h>
#include "engine_int.h"

typedef struct ps_conn ps_conn;

typedef struct ps_sub {
    struct ps_sub *next;        /* hash bucket chain */
    int kind;                   /* CLUSTERC_PUBSUB_* */
    char *name;                 /* len bytes, NUL-terminated copy */
    size_t len;
    uint32_t hash;
    clusterc__pubsub_fn *fn;
    void (*ufn)(void);          /* the face's callback, cast back by the face */
    void *u1, *u2;
    ps_conn *pc;                /* where it is (being) subscribed, or NULL */
    int inflight;               /* subscribes sent on pc, not yet confirmed */
    uint8_t subscribed;         /* confirmed on pc */
    uint8_t ever;               /* confirmed once: the next confirmation is a resubscribe */
    int64_t unsub_since;        /* stopped being subscribed then; 0: not counting */
    int refusals;               /* passing refusals (CLUSTERDOWN...) since confirmed */
    int64_t retry_at_us;        /* after one: not subscribed again before then */
} ps_sub;

/* A command sent on a subscriber connection, its reply still to come
 * (pubsub_conn.c). */
typedef struct ps_sent ps_sent;

struct ps_conn {
    clusterc__pubsub *ps;
    clusterc__conn conn;        /* push mode */
    char name[CLUSTERC__ADDR_MAX];  /* "host:port" of the node, the table key */
    ps_conn *next;              /* ps->conns, or ps->retired once closed */
    size_t nsubs;               /* subscriptions whose pc this is */
    uint8_t dirty;              /* bytes wait for the flush event */
    uint8_t retired;            /* closed, on ps->retired */
    /* Sent, unanswered, oldest first: each (S|P)(UN)SUBSCRIBE of one name
     * gets one reply, a confirmation or an error, in order, so an error
     * (RESP2's names no channel) answers the oldest. */
    ps_sent *sent_head, *sent_tail;
};

struct clusterc__pubsub {
    clusterc__engine *e;
    ps_sub **buckets;
    size_t nbuckets, nsubs;
    ps_conn *conns;             /* live connections, at most one per node */
    ps_conn *retired;           /* closed; freed from reap_ev, never inside their callbacks */
    ps_conn *classic;           /* carries the channels and patterns, or NULL */
    char classic_lost[CLUSTERC__ADDR_MAX]; /* node the classic connection was lost on */
    struct event *flush_ev, *reap_ev, *resync_ev;
    int64_t resync_due_us;      /* when resync_ev fires */
    int streak;                 /* subscriber connections lost since a confirmation */
    int draining;
    void *face;                 /* the face's own state (clusterc__pubsub_set_face) */
    void (*face_free)(void *);
};

/* pubsub.c, for pubsub_conn.c */
ps_sub *clusterc__ps_find(clusterc__pubsub *ps, int kind, const char *name, size_t len);
/* pc closed: its subscriptions wait for a resubscribe. */
void clusterc__ps_conn_lost(clusterc__pubsub *ps, ps_conn *pc);
/* The server confirmed a subscribe (sub == 1) or an unsubscribe (0) on pc. */
void clusterc__ps_confirmed(clusterc__pubsub *ps, ps_conn *pc, int kind, const char *name,
                            size_t len, int sub);
/* pc refused a subscribe with MOVED/ASK for slot: the subscriptions of
 * that slot not yet confirmed there go elsewhere, after a backoff. */
void clusterc__ps_slot_refused(clusterc__pubsub *ps, ps_conn *pc, int slot);
/* pc answered our subscribe of (kind, name) with the error reply why (no
 * redirect). for_good (NOPERM, an unknown command...): the subscription is
 * dropped from the wanted ones, counted and reported (an event); else
 * (CLUSTERDOWN, TRYAGAIN, LOADING...) it is sent again after a backoff of
 * its own. pc stays up either way. */
void clusterc__ps_sub_refused(clusterc__pubsub *ps, ps_conn *pc, int kind, const char *name,
                              size_t len, const char *why, size_t why_len, int for_good);
/* Make the actual subscriptions match the wanted ones after delay_ms. */
void clusterc__ps_resync_later(clusterc__pubsub *ps, int delay_ms);

/* pubsub_conn.c, for pubsub.c */
int clusterc__ps_conns_init(clusterc__pubsub *ps);
/* The live connection to the node named name (dialling a), made when
 * create is set. NULL when out of memory, or absent and !create. */
ps_conn *clusterc__ps_conn_get(clusterc__pubsub *ps, const clusterc__addr *a, const char *name,
                               int create);
/* Close pc quietly and free it from the loop. */
void clusterc__ps_conn_retire(clusterc__pubsub *ps, ps_conn *pc);
/* Queue (S|P)SUBSCRIBE (sub) or its UNSUBSCRIBE form for one name. -1 on OOM. */
int clusterc__ps_send(ps_conn *pc, int kind, const char *name, size_t len, int sub);
/* Close and free every connection (drain: quietly, fini: and free). */
void clusterc__ps_conns_close_all(clusterc__pubsub *ps);
void clusterc__ps_conns_fini(clusterc__pubsub *ps);
#endif
