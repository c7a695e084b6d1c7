/* it_alloc.c -- allocation-failure injection (issue 12, item 2;
 * docs/reliability.md "Allocation failures").
 *
 * For each scenario, N = 1, 2, 3, ...: a fork()ed child sets the scenario
 * up, fails the N-th allocation of its operation (alloc_wrap.c), and
 * checks what came out: success, or a clean error with a code, and the
 * client usable afterwards. The child exits normally, so LeakSanitizer
 * (the ASan build) checks it for leaks with its N known; a crash, a leak
 * or a hang (alarm) is counted per N. The sequence ends at the first N
 * the operation completes without reaching: its allocation points.
 *
 * Servers: a 3+3 redis cluster on 23800-23805 (bus 33800-33805) and two
 * fake nodes on 23850-23851 (tests/fake/fake_server.py) for MOVED and ASK.
 * Environment: ALLOC_ONLY=name runs one scenario; ALLOC_MAX_N caps N. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "alloc_int.h"
#include "alloc_wrap.h"
#include "harness.h"

#define BASE_PORT 23800
#define FAKE_A 23850
#define FAKE_B 23851
#define CHILD_ALARM_S 30
#define SEEN_HIREDIS_ASSERT 1
#define SEEN_LEAK 2
#define DENSE_HEAD 400
#define DENSE_TAIL 800
#define MIDDLE_RUNS 200

typedef struct scenario {
    const char *name;
    const char *what;
    alloc_scenario_fn *fn;
} scenario;

static const scenario scenarios[] = {
    { "url", "clusterc_options_parse_url, every key", scen_url },
    { "connect", "clusterc_connect: first map load, COMMAND table", scen_connect },
    { "command", "SET then GET", scen_command },
    { "pipeline", "append_command x10 across nodes + get_reply", scen_pipeline },
    { "moved", "GET answered -MOVED (fake nodes)", scen_moved },
    { "ask", "GET answered -ASK (fake nodes)", scen_ask },
    { "refresh", "clusterc_refresh", scen_refresh },
    { "async", "clusterc_async_command + callback", scen_async },
    { "admin_check", "clusterc_admin_check on 3+3", scen_admin_check },
};

typedef struct tally {
    long points;           /* allocations of a run with no injection */
    long probe;            /* the same, counted before the sequence */
    long runs;
    long hiredis_aborts;   /* hiredis 0.14's assert in redisReaderFeed */
    long reader_oom;       /* clean errors where the reader's OOM came as EPROTOCOL */
    long kinds[OUT_NKINDS];
    long crashes, leaks, hangs;
    int codes[8];          /* distinct codes seen on clean errors */
    int ncodes;
    double seconds;
} tally;

static const char *kind_name[OUT_NKINDS] = { "ok", "error", "freeable", "BAD", "UNUSABLE", "setup" };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ALLOC_SELFTEST_LEAK=1: every child leaks, to show the ASan build
 * reports a leak with its N. */
static void selftest_leak(void)
{
    static void *volatile sink;
    sink = malloc(99);
    if (sink)
        sink = NULL;
}

/* The child: run the scenario at n, send the result up fd, exit. */
static void child(const scenario *s, const alloc_env *env, long n, int fd, FILE *err)
{
    alarm(CHILD_ALARM_S);
    dup2(fileno(err), 2);
    alloc_result r;
    memset(&r, 0, sizeof(r));
    s->fn(env, n, &r);
    if (getenv("ALLOC_SELFTEST_LEAK"))
        selftest_leak();
    if (write(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
        _exit(99);
    close(fd);
    exit(0);   /* not _exit: LeakSanitizer runs at exit */
}

/* Copy what the child wrote on stderr to ours; SEEN_HIREDIS_ASSERT when
 * it holds hiredis 0.14's assertion in redisReaderFeed (sdsempty failing
 * after it freed a large idle buffer: read.c asserts instead of reporting
 * OOM), SEEN_LEAK for a LeakSanitizer report (its exit code is ASan's, 1). */
static int relay_stderr(FILE *err)
{
    char line[512];
    int seen = 0;
    rewind(err);
    while (fgets(line, sizeof(line), err)) {
        fputs(line, stderr);
        if (strstr(line, "redisReaderFeed: Assertion `r->buf != NULL'"))
            seen |= SEEN_HIREDIS_ASSERT;
        if (strstr(line, "ERROR: LeakSanitizer"))
            seen |= SEEN_LEAK;
    }
    fclose(err);
    return seen;
}

/* Judge how the child ended; 0 when it sent a result and exited well. */
static int judge_exit(const scenario *s, long n, int st, int seen, tally *t)
{
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM) {
        fprintf(stderr, "!! %s N=%ld: HANG (no end in %d s)\n", s->name, n, CHILD_ALARM_S);
        t->hangs++;
    } else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT && (seen & SEEN_HIREDIS_ASSERT)) {
        fprintf(stderr, "-- %s N=%ld: hiredis 0.14 abort in redisReaderFeed (known)\n", s->name, n);
        t->hiredis_aborts++;
    } else if (WIFSIGNALED(st)) {
        fprintf(stderr, "!! %s N=%ld: CRASH (signal %d)\n", s->name, n, WTERMSIG(st));
        t->crashes++;
    } else if (seen & SEEN_LEAK) {
        fprintf(stderr, "!! %s N=%ld: LEAK (LeakSanitizer's report above)\n", s->name, n);
        t->leaks++;
    } else if (WEXITSTATUS(st) != 0) {
        fprintf(stderr, "!! %s N=%ld: CRASH (exit %d)\n", s->name, n, WEXITSTATUS(st));
        t->crashes++;
    } else {
        return 0;
    }
    return -1;
}

/* Run the scenario at n in a child; 0 with *res filled, or -1 when the
 * child crashed, leaked or hung (said on stderr with n). */
static int run_child(const scenario *s, const alloc_env *env, long n, alloc_result *res, tally *t)
{
    int fds[2];
    FILE *err = tmpfile();
    if (!err || pipe(fds) != 0)
        return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child(s, env, n, fds[1], err);
    }
    close(fds[1]);
    memset(res, 0, sizeof(*res));
    ssize_t got = read(fds[0], res, sizeof(*res));
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    int bad = judge_exit(s, n, st, relay_stderr(err), t);
    if (!bad && got != (ssize_t)sizeof(*res)) {
        fprintf(stderr, "!! %s N=%ld: no result from the child\n", s->name, n);
        t->crashes++;
        bad = -1;
    }
    return bad || got != (ssize_t)sizeof(*res) ? -1 : 0;
}

static void note_code(tally *t, int code)
{
    for (int i = 0; i < t->ncodes; i++)
        if (t->codes[i] == code)
            return;
    if (t->ncodes < 8)
        t->codes[t->ncodes++] = code;
}

/* The next N after n: every one, except in the middle of a scenario of
 * more than DENSE_HEAD + DENSE_TAIL points (the connect scenario: hiredis
 * parsing the COMMAND reply), which is sampled at about MIDDLE_RUNS
 * points (ALLOC_FULL=1: every one). */
static long next_n(long n, long probe)
{
    long mid_lo = DENSE_HEAD, mid_hi = probe - DENSE_TAIL;
    if (getenv("ALLOC_FULL") || n < mid_lo || n >= mid_hi)
        return n + 1;
    long step = (mid_hi - mid_lo) / MIDDLE_RUNS;
    return n + (step > 1 ? step : 1);
}

/* N = 1, 2, ... until a run completes without reaching N. */
static void run_scenario(const scenario *s, const alloc_env *env, long max_n, tally *t)
{
    double start = now_s();
    alloc_result res;
    memset(t, 0, sizeof(*t));
    /* A run with no injection first: how many points to expect. */
    if (run_child(s, env, 0, &res, t) != 0 || res.outcome != OUT_OK)
        fprintf(stderr, "!! %s: the run without injection failed: %s\n", s->name, res.msg);
    t->probe = res.counted;
    for (long n = 1; n <= max_n; n = next_n(n, t->probe)) {
        double t0 = now_s();
        t->runs++;
        if (run_child(s, env, n, &res, t) != 0)
            continue;
        t->kinds[res.outcome]++;
        if (res.outcome == OUT_ERR)
            note_code(t, res.code);
        t->reader_oom += res.reader_oom;
        if (res.outcome >= OUT_BAD)
            fprintf(stderr, "!! %s N=%ld: %s: %s\n", s->name, n, kind_name[res.outcome], res.msg);
        else if (getenv("ALLOC_VERBOSE"))
            fprintf(stderr, "   %s N=%ld (%.0f ms): %s %s\n", s->name, n, (now_s() - t0) * 1000,
                    kind_name[res.outcome], res.msg);
        if (!res.injected) {
            t->points = res.counted;
            if (res.outcome != OUT_OK)
                fprintf(stderr, "!! %s: the run without injection did not succeed\n", s->name);
            break;
        }
    }
    t->seconds = now_s() - start;
}

static void print_row(const scenario *s, const tally *t)
{
    char codes[160] = "";
    for (int i = 0; i < t->ncodes; i++) {
        size_t len = strlen(codes);
        snprintf(codes + len, sizeof(codes) - len, "%s%s", i ? ", " : "", clusterc_strerror(t->codes[i]));
    }
    printf("| %s | %s | %ld | %ld | %ld | %ld | %s | %ld | %ld | %ld | %ld | %ld | %ld | %ld | %ld | %.1f |\n",
           s->name, s->what, t->points, t->runs, t->kinds[OUT_OK], t->kinds[OUT_ERR],
           t->ncodes ? codes : "-", t->reader_oom, t->kinds[OUT_FREEABLE], t->kinds[OUT_BAD],
           t->kinds[OUT_UNUSABLE], t->crashes, t->leaks, t->hangs, t->hiredis_aborts, t->seconds);
}

static int tally_failed(const tally *t)
{
    return t->points == 0 || t->kinds[OUT_BAD] || t->kinds[OUT_UNUSABLE] || t->kinds[OUT_SETUP] ||
           t->crashes || t->leaks || t->hangs;
}

/* ------------------------------------------------------- fake nodes */

/* One shard's CLUSTER SHARDS entry: every slot on 127.0.0.1:port. */
static void shards_all_on(int port, char *out, size_t cap)
{
    snprintf(out, cap,
             "*1\\r\\n*4\\r\\n$5\\r\\nslots\\r\\n*2\\r\\n:0\\r\\n:16383\\r\\n"
             "$5\\r\\nnodes\\r\\n*1\\r\\n*14\\r\\n"
             "$2\\r\\nid\\r\\n$40\\r\\n%040d\\r\\n$4\\r\\nport\\r\\n:%d\\r\\n"
             "$2\\r\\nip\\r\\n$9\\r\\n127.0.0.1\\r\\n$8\\r\\nendpoint\\r\\n$9\\r\\n127.0.0.1\\r\\n"
             "$4\\r\\nrole\\r\\n$6\\r\\nmaster\\r\\n$18\\r\\nreplication-offset\\r\\n:0\\r\\n"
             "$6\\r\\nhealth\\r\\n$6\\r\\nonline\\r\\n", port, port);
}

/* Write a script for a fake node into a temporary file (path in out). */
static int write_script(char *out, size_t cap, const char *text)
{
    snprintf(out, cap, "/tmp/clusterc-alloc-XXXXXX");
    int fd = mkstemp(out);
    if (fd < 0)
        return -1;
    ssize_t len = (ssize_t)strlen(text);
    int ok = write(fd, text, (size_t)len) == len;
    close(fd);
    return ok ? 0 : -1;
}

/* Node A sends foo (slot 12182) to B with MOVED and bar (slot 5061) with
 * ASK; B serves both. Standing rules only: the scripts never complete
 * (EXPECT of a command nobody sends), so the nodes live until killed. */
static int fake_scripts(char files[2][64])
{
    static char a[4096], b[4096];
    char map[1024];
    shards_all_on(FAKE_A, map, sizeof(map));
    snprintf(a, sizeof(a),
             "ALWAYS COMMAND => -ERR no COMMAND here\\r\\n\n"
             "ALWAYS CLUSTER SHARDS => %s\n"
             "ALWAYS GET foo => -MOVED 12182 127.0.0.1:%d\\r\\n\n"
             "ALWAYS GET bar => -ASK 5061 127.0.0.1:%d\\r\\n\n"
             "EXPECT NEVER-SENT\n", map, FAKE_B, FAKE_B);
    shards_all_on(FAKE_B, map, sizeof(map));
    snprintf(b, sizeof(b),
             "ALWAYS COMMAND => -ERR no COMMAND here\\r\\n\n"
             "ALWAYS CLUSTER SHARDS => %s\n"
             "ALWAYS ASKING => +OK\\r\\n\n"
             "ALWAYS GET foo => $10\\r\\nmoved-here\\r\\n\n"
             "ALWAYS GET bar => $10\\r\\nasked-here\\r\\n\n"
             "EXPECT NEVER-SENT\n", map);
    return write_script(files[0], 64, a) == 0 && write_script(files[1], 64, b) == 0 ? 0 : -1;
}

/* Start the fake nodes; their pid, or -1. */
static pid_t fake_start(char files[2][64])
{
    char la[96], lb[96], line[128];
    int fds[2];
    if (fake_scripts(files) != 0 || pipe(fds) != 0)
        return -1;
    snprintf(la, sizeof(la), "%d:%s", FAKE_A, files[0]);
    snprintf(lb, sizeof(lb), "%d:%s", FAKE_B, files[1]);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(PYTHON, PYTHON, FAKE_SERVER, "--quiet", "--timeout", "900", "--listen", la,
              "--listen", lb, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    int ready = f && fgets(line, sizeof(line), f) && strstr(line, "READY");
    if (f)
        fclose(f);
    if (!ready) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

/* ---------------------------------------------------------------- main */

static int run_all(const alloc_env *env, long max_n, const char *only)
{
    int failed = 0;
    tally t;
    double start = now_s();
    printf("| scenario | operation | allocation points | runs | ok | clean errors | codes | "
           "of which reader OOM as EPROTOCOL | freed, not usable | bad | unusable | crash | leak | "
           "hang | hiredis 0.14 abort | s |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        if (only && strcmp(only, scenarios[i].name) != 0)
            continue;
        run_scenario(&scenarios[i], env, max_n, &t);
        print_row(&scenarios[i], &t);
        fflush(stdout);
        failed |= tally_failed(&t);
    }
    printf("total %.1f s\n", now_s() - start);
    return failed;
}

int main(void)
{
    const char *only = getenv("ALLOC_ONLY");
    long max_n = getenv("ALLOC_MAX_N") ? atol(getenv("ALLOC_MAX_N")) : 100000;
    alloc_env env;
    memset(&env, 0, sizeof(env));
    signal(SIGPIPE, SIG_IGN);
    harness *h = harness_start(BASE_PORT, 3, 1, NULL);
    if (!h)
        return 1;
    char files[2][64];
    pid_t fake = fake_start(files);
    if (fake < 0) {
        fprintf(stderr, "cannot start the fake nodes\n");
        harness_stop(h);
        return 1;
    }
    env.seeds = harness_seeds(h);
    snprintf(env.seed0, sizeof(env.seed0), "127.0.0.1:%d", harness_nth_port(h, "master", 0));
    snprintf(env.fake_a, sizeof(env.fake_a), "127.0.0.1:%d", FAKE_A);
    int failed = run_all(&env, max_n, only);
    kill(fake, SIGTERM);
    waitpid(fake, NULL, 0);
    unlink(files[0]);
    unlink(files[1]);
    harness_stop(h);
    return failed;
}
