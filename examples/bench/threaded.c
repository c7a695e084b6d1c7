/* threaded.c -- clusterc-threaded-bench: GETs through the thread-safe face
 * (threaded.h) from T submitting threads, against the same GETs from one
 * thread on the libevent face (async.h), with the same number of commands
 * in flight. Prints client CPU per GET (getrusage of the whole process:
 * every thread, user + system) and GETs per second for each.
 *
 *   clusterc-threaded-bench -p PORT [-n GETS] [-T THREADS] [-c IN_FLIGHT]
 *                           [--mode queue|packed|callback|async]
 *
 * queue    each thread submits its share of the in-flight window one
 *          command at a time (clusterc_threaded_submit_argv); one consumer
 *          thread takes completions in batches (clusterc_threaded_wait) and
 *          hands each thread back its credits (how a binding works);
 * packed   the same, each thread's window in one clusterc_threaded_submit_packed;
 * callback completions by callback on the loop thread;
 * async    the single-threaded libevent face, the baseline.
 * --refill 1: instead of waiting for its whole window, a thread tops its
 * window up each time half of it has come back (the pipeline never drains).
 * The threaded modes set the keys (bench:0 .. bench:999) first, not
 * measured; a GET of a missing key (nil) counts as answered. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <clusterc/async.h>
#include <clusterc/threaded.h>

#define KEYS 1000
#define MAXT 64

typedef struct sub {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int credits;              /* completions the thread has not taken yet */
    int want;                 /* wake the thread once credits reach it */
    long failed;
} sub;

static struct {
    int port, threads, inflight, refill;
    long n;
    const char *mode;
    clusterc_threaded *t;
    sub subs[MAXT];
    atomic_long failed;
} B = {.threads = 4, .inflight = 50, .n = 1000000, .mode = "queue"};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void credit(int w, int ok)
{
    sub *s = &B.subs[w];
    pthread_mutex_lock(&s->mu);
    s->failed += !ok;
    if (++s->credits == s->want)   /* enough done: wake the thread */
        pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

static void *consumer(void *arg)
{
    (void)arg;
    clusterc_completion out[256];
    int n;
    while ((n = clusterc_threaded_wait(B.t, out, 256, -1)) >= 0)
        for (int i = 0; i < n; i++) {
            credit((int)(out[i].token % MAXT), out[i].reply != NULL);
            clusterc_completion_release(&out[i]);
        }
    return NULL;
}

static void on_reply(clusterc_threaded *t, redisReply *r, int code, const char *e, void *pd)
{
    (void)t;
    (void)code;
    (void)e;
    credit((int)(uintptr_t)pd, r != NULL);
}

/* Submit one window of w commands for thread id, starting at key k. */
static void submit_window(int id, int w, long k)
{
    char keys[64][16];
    const char *argv[2] = {"GET", NULL};
    if (strcmp(B.mode, "packed") == 0) {
        uint64_t tok[64];
        int argc[64];
        size_t lens[128];
        char buf[64 * 20];
        size_t at = 0;
        for (int i = 0; i < w; i++) {
            int len = snprintf(buf + at, 20, "GETbench:%ld", (k + i) % KEYS);
            tok[i] = (uint64_t)id;
            argc[i] = 2;
            lens[2 * i] = 3;
            lens[2 * i + 1] = (size_t)len - 3;
            at += (size_t)len;
        }
        if (clusterc_threaded_submit_packed(B.t, w, tok, NULL, argc, lens, buf, NULL) != w)
            abort();
        return;
    }
    for (int i = 0; i < w; i++) {
        snprintf(keys[i], sizeof(keys[i]), "bench:%ld", (k + i) % KEYS);
        argv[1] = keys[i];
        int rc = strcmp(B.mode, "callback") == 0
                     ? clusterc_threaded_command_argv(B.t, 0, on_reply, (void *)(uintptr_t)id,
                                                      2, argv, NULL)
                     : clusterc_threaded_submit_argv(B.t, (uint64_t)id, 0, 2, argv, NULL);
        if (rc != 0)
            abort();
    }
}

/* Wait until want completions of thread s are in; take them all. */
static int take_credits(sub *s, int want)
{
    pthread_mutex_lock(&s->mu);
    s->want = want;
    while (s->credits < want)
        pthread_cond_wait(&s->cond, &s->mu);
    int got = s->credits;
    s->credits = 0;
    pthread_mutex_unlock(&s->mu);
    return got;
}

/* Windows: submit w, wait for all w. --refill: keep w in flight, topping
 * up whenever half the window has come back. */
static void *submitter(void *arg)
{
    int id = (int)(intptr_t)arg;
    sub *s = &B.subs[id];
    int w = B.inflight / B.threads;
    if (w < 1)
        w = 1;
    if (w > 64)
        w = 64;
    long share = B.n / B.threads, sent = 0, outstanding = 0;
    while (sent < share) {
        int k = (int)(share - sent < w - outstanding ? share - sent : w - outstanding);
        submit_window(id, k, sent + id * 7);
        sent += k;
        outstanding += k;
        int want = B.refill ? (w / 2 > 0 ? w / 2 : 1) : (int)outstanding;
        outstanding -= take_credits(s, want < outstanding ? want : (int)outstanding);
    }
    while (outstanding > 0)
        outstanding -= take_credits(s, 1);
    return NULL;
}

static int run_threaded(void)
{
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", B.port);
    B.t = clusterc_threaded_connect_url(url);
    if (!B.t || clusterc_threaded_error(B.t)) {
        fprintf(stderr, "connect: %s\n", B.t ? clusterc_threaded_errstr(B.t) : "out of memory");
        return 1;
    }
    for (int i = 0; i < KEYS; i++)   /* set the keys; waited for by the warm-up */
        clusterc_threaded_submit(B.t, MAXT - 1, 0, "SET bench:%d v%d", i, i);
    clusterc_completion c;
    for (int got = 0; got < KEYS;)
        if (clusterc_threaded_wait(B.t, &c, 1, 5000) == 1) {
            got++;
            clusterc_completion_release(&c);
        } else {
            fprintf(stderr, "populate timed out\n");
            return 1;
        }
    pthread_t cons, th[MAXT];
    pthread_create(&cons, NULL, consumer, NULL);
    for (int i = 0; i < B.threads; i++) {
        pthread_mutex_init(&B.subs[i].mu, NULL);
        pthread_cond_init(&B.subs[i].cond, NULL);
    }
    double t0 = now_s(), c0 = cpu_s();
    for (int i = 0; i < B.threads; i++)
        pthread_create(&th[i], NULL, submitter, (void *)(intptr_t)i);
    for (int i = 0; i < B.threads; i++)
        pthread_join(th[i], NULL);
    double t1 = now_s(), c1 = cpu_s();
    clusterc_threaded_close(B.t);
    pthread_join(cons, NULL);
    long failed = 0, n = (B.n / B.threads) * B.threads;
    for (int i = 0; i < B.threads; i++)
        failed += B.subs[i].failed;
    printf("threaded-%s,threads=%d,in_flight=%d,gets=%ld,failed=%ld,ops_per_s=%.0f,"
           "cpu_us_per_get=%.3f\n", B.mode, B.threads, B.inflight, n, failed,
           (double)n / (t1 - t0), (c1 - c0) * 1e6 / (double)n);
    clusterc_threaded_free(B.t);
    return failed != 0;
}

/* ------------------------------------------------ the libevent baseline */

static long a_sent, a_done, a_failed;
static void a_cb(clusterc_async *a, redisReply *r, void *pd)
{
    (void)pd;
    a_done++;
    a_failed += !r;
    if (a_sent < B.n) {
        a_sent++;
        clusterc_async_command(a, a_cb, NULL, "GET bench:%ld", a_sent % KEYS);
    } else if (a_done == B.n) {
        clusterc_async_disconnect(a);
    }
}

static int run_async(void)
{
    struct event_base *base = event_base_new();
    clusterc_options o;
    clusterc_options_init(&o);
    char seed[32];
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", B.port);
    o.seeds = seed;
    clusterc_async *a = clusterc_async_connect(base, &o);
    double t0 = now_s(), c0 = cpu_s();
    for (; a_sent < B.inflight && a_sent < B.n; a_sent++)
        clusterc_async_command(a, a_cb, NULL, "GET bench:%ld", a_sent % KEYS);
    event_base_dispatch(base);
    double t1 = now_s(), c1 = cpu_s();
    printf("async,threads=1,in_flight=%d,gets=%ld,failed=%ld,ops_per_s=%.0f,"
           "cpu_us_per_get=%.3f\n", B.inflight, B.n, a_failed, (double)B.n / (t1 - t0),
           (c1 - c0) * 1e6 / (double)B.n);
    clusterc_async_free(a);
    event_base_free(base);
    return a_failed != 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-p") == 0) B.port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-n") == 0) B.n = atol(argv[i + 1]);
        else if (strcmp(argv[i], "-T") == 0) B.threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-c") == 0) B.inflight = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--mode") == 0) B.mode = argv[i + 1];
        else if (strcmp(argv[i], "--refill") == 0) B.refill = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "unknown flag %s\n", argv[i]);
            return 2;
        }
    }
    if (B.port <= 0 || B.threads < 1 || B.threads >= MAXT - 1 || B.n < 1 || B.inflight < 1) {
        fprintf(stderr, "usage: clusterc-threaded-bench -p PORT [-n GETS] [-T THREADS 1..62] "
                        "[-c IN_FLIGHT] [--mode queue|packed|callback|async] [--refill 0|1]\n");
        return 2;
    }
    return strcmp(B.mode, "async") == 0 ? run_async() : run_threaded();
}
