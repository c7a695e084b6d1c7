/* threaded_cq.c -- the thread-safe face's completion queue: the loop thread
 * appends finished jobs, any thread takes them in batches, waiting on a
 * condition variable or on a descriptor that is readable while the queue
 * is not empty. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/eventfd.h>
#endif
#include <fcntl.h>
#include "threaded_int.h"

/* ------------------------------------------------------------ wakeups */

int clusterc__twake_open(twake *w)
{
#if defined(__linux__)
    w->rfd = w->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return w->rfd < 0 ? -1 : 0;
#else
    int p[2];
    if (pipe(p) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
        fcntl(p[i], F_SETFD, FD_CLOEXEC);
    }
    w->rfd = p[0];
    w->wfd = p[1];
    return 0;
#endif
}

void clusterc__twake_signal(const twake *w)
{
    uint64_t one = 1;
    /* Full (a pipe) or overflowing (never, for an eventfd) both mean the
     * reader has a wakeup waiting already. */
    while (write(w->wfd, &one, w->rfd == w->wfd ? sizeof(one) : 1) < 0 && errno == EINTR) {
    }
}

void clusterc__twake_drain(const twake *w)
{
    uint64_t buf[8];
    ssize_t n;
    do
        n = read(w->rfd, buf, w->rfd == w->wfd ? sizeof(uint64_t) : sizeof(buf));
    while (n > 0 ? w->rfd != w->wfd : n < 0 && errno == EINTR);
}

void clusterc__twake_close(twake *w)
{
    if (w->rfd >= 0)
        close(w->rfd);
    if (w->wfd >= 0 && w->wfd != w->rfd)
        close(w->wfd);
    w->rfd = w->wfd = -1;
}

/* ------------------------------------------------------------- queue */

void clusterc__tcq_init(clusterc_threaded *t)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cq_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&t->cq_mu, NULL);
}

/* Under cq_mu: the descriptor follows the queue (readable iff not empty),
 * but only for a caller who asked for it: a binding that waits on the
 * condition variable pays no system call per batch. */
static void fd_follow(clusterc_threaded *t)
{
    if (t->cq_n > 0 || t->loop_done) {
        if (!t->cq_signaled && atomic_load_explicit(&t->fd_used, memory_order_relaxed)) {
            t->cq_signaled = 1;
            clusterc__twake_signal(&t->cq_wake);
        }
    } else if (t->cq_signaled) {
        t->cq_signaled = 0;
        clusterc__twake_drain(&t->cq_wake);
    }
}

void clusterc__tcq_push(clusterc_threaded *t, tjob *first, tjob *last, long n)
{
    last->next = NULL;
    pthread_mutex_lock(&t->cq_mu);
    if (t->cq_tail)
        t->cq_tail->next = first;
    else
        t->cq_head = first;
    t->cq_tail = last;
    /* Waiters sleep only on an empty queue; one woken waiter wakes the
     * next if it leaves completions behind (take). */
    if (t->cq_n == 0 && t->cq_waiters > 0)
        pthread_cond_signal(&t->cq_cond);
    t->cq_n += n;
    fd_follow(t);
    pthread_mutex_unlock(&t->cq_mu);
}

void clusterc__tcq_closed(clusterc_threaded *t)
{
    pthread_mutex_lock(&t->cq_mu);
    t->loop_done = 1;
    pthread_cond_broadcast(&t->cq_cond);
    fd_follow(t);
    pthread_mutex_unlock(&t->cq_mu);
}

/* Under cq_mu: unlink up to max jobs; the caller copies them out after
 * unlocking. */
static tjob *take_locked(clusterc_threaded *t, int max, int *n)
{
    tjob *head = t->cq_head, *last = NULL, *j = head;
    int k = 0;
    while (j && k < max) {
        last = j;
        j = j->next;
        k++;
    }
    if (last) {
        last->next = NULL;
        t->cq_head = j;
        if (!j)
            t->cq_tail = NULL;
        t->cq_n -= k;
    }
    if (t->cq_n > 0 && t->cq_waiters > 0)
        pthread_cond_signal(&t->cq_cond);
    fd_follow(t);
    *n = k;
    return k ? head : NULL;
}

static int hand_out(clusterc_threaded *t, tjob *j, clusterc_completion *out)
{
    int k = 0;
    while (j) {
        tjob *next = j->next;
        out[k++] = j->c;
        free(j);
        j = next;
    }
    atomic_fetch_sub(&t->pending, k);
    return k;
}

CLUSTERC_API int clusterc_threaded_poll(clusterc_threaded *t, clusterc_completion *out, int max)
{
    if (!t || !out || max <= 0)
        return CLUSTERC_EINVAL;
    int n;
    pthread_mutex_lock(&t->cq_mu);
    tjob *j = take_locked(t, max, &n);
    int done = t->loop_done || t->err.code;
    pthread_mutex_unlock(&t->cq_mu);
    if (!n && done)
        return CLUSTERC_ECLOSED;
    return hand_out(t, j, out);
}

static void deadline_of(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

CLUSTERC_API int clusterc_threaded_wait(clusterc_threaded *t, clusterc_completion *out, int max,
                                        int timeout_ms)
{
    if (!t || !out || max <= 0)
        return CLUSTERC_EINVAL;
    if (clusterc__tloop_is_self(t))
        return CLUSTERC_EUSAGE;
    struct timespec until;
    if (timeout_ms >= 0)
        deadline_of(&until, timeout_ms);
    int n, timed_out = 0;
    pthread_mutex_lock(&t->cq_mu);
    uint64_t gen = t->cq_wake_gen;
    while (t->cq_n == 0 && !t->loop_done && !t->err.code && gen == t->cq_wake_gen &&
           !timed_out) {
        t->cq_waiters++;
        if (timeout_ms < 0)
            pthread_cond_wait(&t->cq_cond, &t->cq_mu);
        else
            timed_out = pthread_cond_timedwait(&t->cq_cond, &t->cq_mu, &until) == ETIMEDOUT;
        t->cq_waiters--;
    }
    tjob *j = take_locked(t, max, &n);
    int done = t->loop_done || t->err.code;
    pthread_mutex_unlock(&t->cq_mu);
    if (!n && done)
        return CLUSTERC_ECLOSED;
    return hand_out(t, j, out);
}

CLUSTERC_API void clusterc_threaded_wakeup(clusterc_threaded *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->cq_mu);
    t->cq_wake_gen++;
    pthread_cond_broadcast(&t->cq_cond);
    pthread_mutex_unlock(&t->cq_mu);
}

CLUSTERC_API int clusterc_threaded_fd(const clusterc_threaded *tc)
{
    clusterc_threaded *t = (clusterc_threaded *)tc;   /* the fd's state is not the view */
    if (!t)
        return -1;
    if (!atomic_exchange(&t->fd_used, 1)) {
        pthread_mutex_lock(&t->cq_mu);
        fd_follow(t);   /* completions may be waiting already */
        pthread_mutex_unlock(&t->cq_mu);
    }
    return t->cq_wake.rfd;
}

CLUSTERC_API void clusterc_completion_release(clusterc_completion *c)
{
    if (!c)
        return;
    if (c->reply)
        freeReplyObject(c->reply);
    free(c->errstr);
    free(c->channel);   /* pattern and payload share its allocation */
    uint64_t token = c->token;
    memset(c, 0, sizeof(*c));
    c->token = token;
}

CLUSTERC_API void clusterc_completion_release_n(clusterc_completion *c, int n)
{
    for (int i = 0; c && i < n; i++)
        clusterc_completion_release(&c[i]);
}

void clusterc__tcq_release_all(clusterc_threaded *t)
{
    tjob *j = t->cq_head;
    while (j) {
        tjob *next = j->next;
        clusterc_completion_release(&j->c);
        free(j);
        j = next;
    }
    t->cq_head = t->cq_tail = NULL;
    t->cq_n = 0;
}
