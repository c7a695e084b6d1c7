/* threaded_int.h -- the thread-safe face's pieces (internal): the handle,
 * the jobs that carry a command from a submitting thread to the loop thread
 * and back as its completion, and the completion queue (threaded_cq.c). */
#ifndef CLUSTERC_THREADED_INT_H
#define CLUSTERC_THREADED_INT_H
#include <pthread.h>
#include <stdatomic.h>
#include "clusterc/threaded.h"
#include "clusterc/async.h"
#include "proto/errors.h"

enum { TJ_CMD = 1, TJ_SUB, TJ_UNSUB, TJ_CALL, TJ_CLOSE };

/*
 * One job: allocated by the submitting thread, run by the loop thread, and
 * (queue mode) reused as the completion's queue entry, so completing never
 * allocates and so never fails.
 */
typedef struct tjob {
    struct tjob *next;
    int type;
    int route;
    clusterc_threaded_fn *fn;     /* callback mode, else NULL */
    void *pd;
    uint8_t to_queue;             /* queue mode: c goes to the completion queue */
    char *cmd;                    /* TJ_CMD: RESP text (free()), len bytes */
    int len;
    char *node;                   /* TJ_CMD pinned: "host:port" or id (free()) */
    int kind;                     /* TJ_SUB / TJ_UNSUB: CLUSTERC_PUBSUB_* */
    void (*call)(clusterc_threaded *t, void *arg);   /* TJ_CALL */
    void *arg;
    clusterc_completion c;        /* token; the result once completed */
} tjob;

/* A wakeup descriptor: an eventfd, or a pipe where there is none. */
typedef struct twake {
    int rfd, wfd;
} twake;
int clusterc__twake_open(twake *w);
void clusterc__twake_signal(const twake *w);
void clusterc__twake_drain(const twake *w);
void clusterc__twake_close(twake *w);

struct clusterc_threaded {
    clusterc__err err;            /* set once, before connect returns */
    clusterc_async *a;            /* the engine's face, loop thread only */
    struct event_base *base;
    struct event *sub_ev;
    pthread_t thr;
    int thr_started;

    /* submissions: a lock-free stack (newest first) that the loop takes
     * whole and reverses; whoever pushes onto an empty stack wakes the
     * loop. TSTACK_CLOSED once the loop has stopped taking. */
    _Atomic(tjob *) sub_top;
    atomic_int close_asked;       /* commands are refused from now on */
    twake sub_wake;

    /* completions made in this loop turn (loop thread only), published to
     * the queue at once at the end of the turn: one lock per turn */
    tjob *lq_head, *lq_tail;
    long lq_n;
    struct event *pub_ev;

    /* completions (threaded_cq.c) */
    pthread_mutex_t cq_mu;
    pthread_cond_t cq_cond;
    tjob *cq_head, *cq_tail;
    long cq_n;
    int cq_waiters;
    uint64_t cq_wake_gen;         /* clusterc_threaded_wakeup() count */
    int cq_signaled;              /* cq_wake readable */
    atomic_int fd_used;           /* someone asked for the fd: keep it level */
    int loop_done;                /* the loop thread has stopped */
    twake cq_wake;

    pthread_mutex_t close_mu;     /* one closer joins the thread */
    int joined;
    atomic_long pending;
    clusterc_stats final_stats;   /* the counters when the loop stopped */
    struct tsub *subs;            /* subscriptions' tokens (loop thread) */
    tjob close_job;               /* the close request: never allocated */
};

/* threaded.c: hand a chain of n jobs to the loop, linked newest first (first
 * is the last submitted; last->next is overwritten): one atomic exchange,
 * one wakeup at most. 0, or the refusal's code (the jobs are then freed). */
int clusterc__threaded_enqueue(clusterc_threaded *t, tjob *first, tjob *last, long n);

/* The stack's mark after the loop stopped taking jobs. */
extern tjob clusterc__tstack_closed;
#define TSTACK_CLOSED (&clusterc__tstack_closed)

/* threaded_cq.c */
void clusterc__tcq_init(clusterc_threaded *t);
/* Append a chain of n completed jobs (one lock). */
void clusterc__tcq_push(clusterc_threaded *t, tjob *first, tjob *last, long n);
void clusterc__tcq_closed(clusterc_threaded *t);   /* the loop stopped */
void clusterc__tcq_release_all(clusterc_threaded *t);

/* threaded_loop.c */
void *clusterc__tloop_main(void *arg);
/* Register the face's completion with e (before the loop thread starts). */
struct clusterc__engine;
void clusterc__tloop_faces(struct clusterc__engine *e);
void clusterc__tloop_on_sub(evutil_socket_t fd, short what, void *arg);
void clusterc__tloop_publish(evutil_socket_t fd, short what, void *arg);
void clusterc__tjob_free(tjob *j);
int clusterc__tloop_is_self(const clusterc_threaded *t);
#endif
