/* alloc_int.h -- what it_alloc's scenarios and its driver share. */
#ifndef CLUSTERC_ALLOC_INT_H
#define CLUSTERC_ALLOC_INT_H
#include <clusterc/clusterc.h>

/* How one run (one N) ended. */
enum {
    OUT_OK = 0,      /* the operation succeeded */
    OUT_ERR,         /* it failed cleanly: a code and a message */
    OUT_FREEABLE,    /* a clean ENOMEM that left the client unable to work
                        (clusterc_connect could not copy its options): it
                        is freed cleanly, as the issue allows */
    OUT_BAD,         /* a wrong result or a wrong/missing code */
    OUT_UNUSABLE,    /* the follow-up without injection failed */
    OUT_SETUP,       /* the test's own setup failed (not the library's) */
    OUT_NKINDS
};

typedef struct alloc_result {
    int outcome;
    int code;            /* clusterc code for OUT_ERR (and OUT_BAD) */
    long counted;        /* allocations counted while armed */
    int injected;        /* the N-th allocation was reached and failed */
    int reader_oom;      /* hiredis's reader ran out of memory and the
                            library called it CLUSTERC_EPROTOCOL */
    char msg[240];       /* errstr, or what was wrong */
} alloc_result;

/* Where the scenarios find their servers. */
typedef struct alloc_env {
    const char *seeds;   /* the real cluster's seeds */
    char seed0[64];      /* its first primary, "127.0.0.1:port" */
    char fake_a[64];     /* fake node A (MOVED / ASK) */
} alloc_env;

/* One scenario, run in a child: set up (disarmed), alloc_arm(n), the
 * operation, alloc_disarm, the follow-up; fills *res. */
typedef void alloc_scenario_fn(const alloc_env *env, long n, alloc_result *res);

/* Record a clean error (or a bad one when code is 0). */
void alloc_set_err(alloc_result *res, int code, const char *msg);
/* Record an outcome with a printf message. */
void alloc_set(alloc_result *res, int outcome, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Disarm and record the counter into res. */
void alloc_stop(alloc_result *res);

/* Scenarios (alloc_scen.c, alloc_scen2.c). */
alloc_scenario_fn scen_connect, scen_command, scen_pipeline, scen_moved, scen_ask,
    scen_refresh, scen_async, scen_url, scen_admin_check;

/* Options for a blocking client on seeds (short timeouts). */
void alloc_options(clusterc_options *o, const char *seeds);
#endif
