/* client_pubsub.c -- Pub/Sub on the blocking face (clusterc.h): the
 * engine delivers each message into a queue here, whenever the client's
 * loop runs (inside any call); clusterc_next_message takes them out.
 *
 * The queue is the face's state beside the engine
 * (clusterc__pubsub_set_face): made on first use, freed with the engine
 * in clusterc_free, so client.c needs no field for it.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include "client_int.h"
#include "face_int.h"
#include "engine/pubsub.h"

/* One queued message: its three strings, NUL-terminated, in one block. */
typedef struct qmsg {
    struct qmsg *next;
    int kind;
    size_t channel_len, pattern_len, payload_len;
    char data[];   /* channel \0 pattern \0 payload \0 */
} qmsg;

typedef struct client_ps {
    clusterc__engine *e;
    qmsg *head, *tail;
    size_t count;
    qmsg *last;            /* handed out: valid until the next call */
    struct event *timer;   /* clusterc_next_message's timeout */
    int timed_out;
} client_ps;

static void free_ps(void *arg)
{
    client_ps *ps = arg;
    while (ps->head) {
        qmsg *q = ps->head;
        ps->head = q->next;
        free(q);
    }
    free(ps->last);
    if (ps->timer)
        event_free(ps->timer);
    free(ps);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    ((client_ps *)arg)->timed_out = 1;
}

static client_ps *get_ps(clusterc_client *c, clusterc__engine *e)
{
    client_ps *ps = clusterc__pubsub_face(e);
    if (ps)
        return ps;
    ps = calloc(1, sizeof(*ps));
    if (!ps || !(ps->timer = evtimer_new(clusterc__engine_base(e), timer_cb, ps))) {
        free(ps);
        clusterc__client_set_error(c, CLUSTERC_ENOMEM, "Pub/Sub: out of memory");
        return NULL;
    }
    ps->e = e;
    clusterc__pubsub_set_face(e, ps, free_ps);   /* owned by the engine from here */
    return ps;
}

/* A message for the queue: copied (the engine's lives for this call only);
 * a full queue drops its oldest, as a slow subscriber on a server would
 * be cut off, but without losing the subscription. */
static void on_message(clusterc__engine *e, const clusterc_message *m, void (*ufn)(void),
                       void *u1, void *u2)
{
    client_ps *ps = u1;
    (void)ufn; (void)u2;
    size_t n = m->channel_len + m->pattern_len + m->payload_len + 3;
    qmsg *q = malloc(sizeof(*q) + n);
    if (!q) {
        clusterc__pubsub_count_dropped(e);
        return;
    }
    q->next = NULL;
    q->kind = m->kind;
    q->channel_len = m->channel_len;
    q->pattern_len = m->pattern_len;
    q->payload_len = m->payload_len;
    char *p = q->data;
    memcpy(p, m->channel, m->channel_len);
    p[m->channel_len] = '\0';
    p += m->channel_len + 1;
    if (m->pattern_len)
        memcpy(p, m->pattern, m->pattern_len);
    p[m->pattern_len] = '\0';
    p += m->pattern_len + 1;
    memcpy(p, m->payload, m->payload_len);
    p[m->payload_len] = '\0';
    if (ps->count >= (size_t)clusterc__pubsub_queue_max(e)) {
        qmsg *old = ps->head;
        ps->head = old->next;
        if (!ps->head)
            ps->tail = NULL;
        free(old);
        ps->count--;
        clusterc__pubsub_count_dropped(e);
    }
    if (ps->tail)
        ps->tail->next = q;
    else
        ps->head = q;
    ps->tail = q;
    ps->count++;
}

static void clear_error(clusterc_client *c) { clusterc__client_set_error(c, 0, "%s", ""); }

CLUSTERC_API int clusterc_subscribe(clusterc_client *c, int kind, const char *name)
{
    clusterc__engine *e = c ? clusterc__client_engine(c) : NULL;
    clusterc__err err;
    if (!e)
        return -1;   /* the options were rejected: the error says why */
    client_ps *ps = get_ps(c, e);
    if (!ps)
        return -1;
    if (clusterc__pubsub_want(e, kind, name, name ? strlen(name) : 0, on_message, NULL, ps, NULL,
                              &err) < 0) {
        clusterc__client_set_error(c, err.code, "%s", err.str);
        return -1;
    }
    /* Start the SUBSCRIBE on its way; the rest happens whenever the loop
     * runs (any call on c). */
    event_base_loop(clusterc__engine_base(e), EVLOOP_NONBLOCK);
    clusterc__engine_loop_ran(e);
    clear_error(c);
    return 0;
}

/* The subscription's name in a queued message: the pattern of a pmessage,
 * else the channel. */
static int queued_for(const qmsg *q, int kind, const char *name, size_t len)
{
    if (q->kind != kind)
        return 0;
    if (kind == CLUSTERC_PUBSUB_PATTERN)
        return q->pattern_len == len && memcmp(q->data + q->channel_len + 1, name, len) == 0;
    return q->channel_len == len && memcmp(q->data, name, len) == 0;
}

/* After an unsubscribe nothing of it comes out, as on the async face. */
static void purge(client_ps *ps, int kind, const char *name)
{
    size_t len = strlen(name);
    qmsg **pp = &ps->head;
    ps->tail = NULL;
    while (*pp) {
        qmsg *q = *pp;
        if (queued_for(q, kind, name, len)) {
            *pp = q->next;
            free(q);
            ps->count--;
            continue;
        }
        ps->tail = q;
        pp = &q->next;
    }
}

CLUSTERC_API int clusterc_unsubscribe(clusterc_client *c, int kind, const char *name)
{
    clusterc__engine *e = c ? clusterc__client_engine(c) : NULL;
    clusterc__err err;
    if (!e)
        return -1;
    if (clusterc__pubsub_unwant(e, kind, name, name ? strlen(name) : 0, &err) < 0) {
        clusterc__client_set_error(c, err.code, "%s", err.str);
        return -1;
    }
    client_ps *ps = clusterc__pubsub_face(e);
    if (ps && name)
        purge(ps, kind, name);
    clear_error(c);
    return 0;
}

/* Run the client's loop until a message is queued or timeout_ms passed
 * (0: one pass that does not block). */
static void wait_message(client_ps *ps, int timeout_ms)
{
    struct event_base *base = clusterc__engine_base(ps->e);
    if (timeout_ms == 0) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        clusterc__engine_loop_ran(ps->e);
        return;
    }
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    ps->timed_out = 0;
    evtimer_add(ps->timer, &tv);
    while (!ps->head && !ps->timed_out) {
        event_base_loop(base, EVLOOP_ONCE);
        clusterc__engine_loop_ran(ps->e);
    }
    evtimer_del(ps->timer);
}

CLUSTERC_API int clusterc_next_message(clusterc_client *c, clusterc_message *m, int timeout_ms)
{
    clusterc__engine *e = c ? clusterc__client_engine(c) : NULL;
    if (!e)
        return -1;
    if (!m || timeout_ms < 0) {
        clusterc__client_set_error(c, CLUSTERC_EINVAL, "clusterc_next_message: %s",
                                   m ? "timeout_ms is negative" : "m is NULL");
        return -1;
    }
    client_ps *ps = get_ps(c, e);
    if (!ps)
        return -1;
    free(ps->last);   /* the strings of the message returned last time */
    ps->last = NULL;
    if (!ps->head)
        wait_message(ps, timeout_ms);
    clear_error(c);
    qmsg *q = ps->head;
    if (!q)
        return 0;
    ps->head = q->next;
    if (!ps->head)
        ps->tail = NULL;
    ps->count--;
    ps->last = q;
    m->kind = q->kind;
    m->channel = q->data;
    m->channel_len = q->channel_len;
    m->pattern = q->kind == CLUSTERC_PUBSUB_PATTERN ? q->data + q->channel_len + 1 : NULL;
    m->pattern_len = q->pattern_len;
    m->payload = q->data + q->channel_len + q->pattern_len + 2;
    m->payload_len = q->payload_len;
    return 1;
}
