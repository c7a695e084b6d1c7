/*
 * harness.c -- C face of tests/cluster/harness.py (see harness.h).
 *
 * Every operation shells out to the script, which owns all process
 * management; this file only builds command lines and reads the JSON state
 * line the script prints. The JSON is our own fixed shape (flat node objects,
 * no nesting), so a few strstr-based lookups are enough. Over TLS, commands
 * go through `harness.py cmd` too: the request is formatted here into a
 * file, the reply's RESP bytes come back in another, and a hiredis reader
 * turns them into the redisReply a plain connection would have given.
 */
#define _POSIX_C_SOURCE 200809L

#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef HARNESS_SCRIPT
#error "HARNESS_SCRIPT must be defined (path of harness.py)"
#endif
#ifndef HARNESS_PYTHON
#define HARNESS_PYTHON "python3"
#endif

#define HARNESS_MAX_NODES 64
#define HARNESS_OUT_MAX (64 * 1024)

struct harness_node {
    int port;
    int pid;
    char role[16];
    char id[48];
};

struct harness {
    char dir[256];
    char password[128];
    int has_password;
    int tls;
    char tls_dir[300];
    int count;
    struct harness_node nodes[HARNESS_MAX_NODES];
    char seeds[HARNESS_MAX_NODES * 24];
};

/* harness_connect() takes only a port, so the password of the running
 * harness lives here. */
static char current_password[128];
static int current_has_password;

/* Running TLS harnesses, so that harness_connect() can tell a TLS port. */
#define HARNESS_MAX_TLS 16
static const harness *tls_live[HARNESS_MAX_TLS];

static void tls_register(const harness *h, int on)
{
    for (int i = 0; i < HARNESS_MAX_TLS; i++) {
        if (on && !tls_live[i]) {
            tls_live[i] = h;
            return;
        }
        if (!on && tls_live[i] == h)
            tls_live[i] = NULL;
    }
}

static int tls_port(int port)
{
    for (int i = 0; i < HARNESS_MAX_TLS; i++)
        for (int k = 0; tls_live[i] && k < tls_live[i]->count; k++)
            if (tls_live[i]->nodes[k].port == port)
                return 1;
    return 0;
}

/* ------------------------------------------------------------ the script */

/* Run the script with args; stdout into out (NUL-terminated), stderr passes
 * through. Returns the exit status, -1 if it could not run. */
static int run_script(const char *args, char *out, size_t outsz)
{
    char cmd[2048];
    size_t len = 0;
    int n = snprintf(cmd, sizeof cmd, "'%s' '%s' %s", HARNESS_PYTHON, HARNESS_SCRIPT, args);
    if (n < 0 || (size_t)n >= sizeof cmd)
        return -1;
    fflush(NULL); /* popen's child must not re-emit our buffered output */
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t r;
    while (len + 1 < outsz && (r = fread(out + len, 1, outsz - 1 - len, p)) > 0)
        len += r;
    out[len] = '\0';
    int st = pclose(p);
    return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

static int run_dir_cmd(harness *h, const char *verb, const char *more, char *out, size_t outsz)
{
    char args[1024];
    snprintf(args, sizeof args, "%s --dir '%s' %s", verb, h->dir, more ? more : "");
    return run_script(args, out, outsz);
}

/* ------------------------------------------------------------ JSON bits */

/* Value start of "key": inside [obj, end), or NULL. */
static const char *json_value(const char *obj, const char *end, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(obj, pat);
    if (!p || p >= end)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    return p;
}

static int json_int(const char *obj, const char *end, const char *key)
{
    const char *v = json_value(obj, end, key);
    return (v && *v != 'n') ? atoi(v) : -1;
}

/* Copy a string value into out; "" for null or missing. 1 if a string. */
static int json_str(const char *obj, const char *end, const char *key, char *out, size_t outsz)
{
    const char *v = json_value(obj, end, key);
    out[0] = '\0';
    if (!v || *v != '"')
        return 0;
    const char *q = strchr(v + 1, '"');
    if (!q)
        return 0;
    size_t n = (size_t)(q - v - 1) < outsz - 1 ? (size_t)(q - v - 1) : outsz - 1;
    memcpy(out, v + 1, n);
    out[n] = '\0';
    return 1;
}

static int parse_state(harness *h, const char *json)
{
    const char *p = strstr(json, "\"nodes\"");
    if (!p)
        return -1;
    h->has_password = json_str(json, p, "password", h->password, sizeof h->password);
    h->tls = json_str(json, p, "tls_dir", h->tls_dir, sizeof h->tls_dir);
    h->count = 0;
    while ((p = strchr(p, '{')) != NULL && h->count < HARNESS_MAX_NODES) {
        const char *end = strchr(p, '}');
        if (!end)
            return -1;
        struct harness_node *n = &h->nodes[h->count++];
        n->port = json_int(p, end, "port");
        n->pid = json_int(p, end, "pid");
        json_str(p, end, "role", n->role, sizeof n->role);
        json_str(p, end, "id", n->id, sizeof n->id);
        p = end;
    }
    return h->count > 0 ? 0 : -1;
}

static void build_seeds(harness *h)
{
    size_t len = 0;
    h->seeds[0] = '\0';
    for (int i = 0; i < h->count; i++)
        len += (size_t)snprintf(h->seeds + len, sizeof h->seeds - len, "%s127.0.0.1:%d",
                                i ? "," : "", h->nodes[i].port);
}

/* ------------------------------------------------------------ lifecycle */

static int default_base(void)
{
    const char *e = getenv("CLUSTERC_TEST_PORT_BASE");
    return (e && atoi(e) > 0) ? atoi(e) : 30000;
}

/* CLUSTERC_TEST_PORT_SHIFT moves every test's ports, so a second run of the
 * same test (against Valkey, say) can go side by side with the first. */
static int port_shift(void)
{
    const char *e = getenv("CLUSTERC_TEST_PORT_SHIFT");
    return e ? atoi(e) : 0;
}

harness *harness_start(int base_port, int primaries, int replicas, const char *extra_args)
{
    harness *h = calloc(1, sizeof *h);
    char *out = malloc(HARNESS_OUT_MAX);
    char args[1536];
    if (!h || !out)
        goto fail;
    if (base_port == 0)
        base_port = default_base();
    base_port += port_shift();
    const char *tmp = getenv("TMPDIR");
    snprintf(h->dir, sizeof h->dir, "%s/clusterc-harness-%d-%ld", tmp && *tmp ? tmp : "/tmp",
             base_port, (long)getpid());
    snprintf(args, sizeof args,
             "start --dir '%s' --base %d --primaries %d --replicas %d --owner-pid %ld %s",
             h->dir, base_port, primaries, replicas, (long)getpid(), extra_args ? extra_args : "");
    int rc = run_script(args, out, HARNESS_OUT_MAX);
    if (rc != 0 || parse_state(h, out) != 0) {
        fprintf(stderr, "harness_start(base %d, %d+%d): failed (exit %d)\n", base_port,
                primaries, replicas, rc);
        goto fail;
    }
    build_seeds(h);
    if (h->tls)
        tls_register(h, 1);
    memcpy(current_password, h->password, sizeof current_password);
    current_has_password = h->has_password;
    free(out);
    return h;
fail:
    free(out);
    free(h);
    return NULL;
}

void harness_stop(harness *h)
{
    char out[256];
    if (!h)
        return;
    if (run_dir_cmd(h, "stop", NULL, out, sizeof out) != 0)
        fprintf(stderr, "harness_stop(%s): stop reported a failure\n", h->dir);
    tls_register(h, 0);
    current_has_password = 0;
    free(h);
}

/* ------------------------------------------------------------ accessors */

int harness_count(const harness *h) { return h->count; }

static const struct harness_node *node_at(const harness *h, int i)
{
    return (i >= 0 && i < h->count) ? &h->nodes[i] : NULL;
}

int harness_port(const harness *h, int i) { return node_at(h, i) ? node_at(h, i)->port : -1; }
int harness_pid(const harness *h, int i) { return node_at(h, i) ? node_at(h, i)->pid : -1; }
const char *harness_role(const harness *h, int i) { return node_at(h, i) ? node_at(h, i)->role : NULL; }
const char *harness_id(const harness *h, int i) { return node_at(h, i) ? node_at(h, i)->id : NULL; }
const char *harness_seeds(const harness *h) { return h->seeds; }
const char *harness_password(const harness *h) { return h->has_password ? h->password : NULL; }
const char *harness_tls_dir(const harness *h) { return h->tls ? h->tls_dir : NULL; }

int harness_nth_port(const harness *h, const char *role, int n)
{
    for (int i = 0; i < h->count; i++)
        if (strcmp(h->nodes[i].role, role) == 0 && n-- == 0)
            return h->nodes[i].port;
    return -1;
}

/* ------------------------------------------------------------ operations */

/* Run a verb that prints the state JSON on success and reload it. */
static int run_and_reload(harness *h, const char *verb, const char *more)
{
    char *out = malloc(HARNESS_OUT_MAX);
    if (!out)
        return -1;
    int rc = run_dir_cmd(h, verb, more, out, HARNESS_OUT_MAX);
    if (rc == 0 && parse_state(h, out) != 0)
        rc = -1;
    free(out);
    return rc == 0 ? 0 : -1;
}

int harness_kill(harness *h, int port, const char *signal)
{
    char more[64], out[256];
    snprintf(more, sizeof more, "--port %d --signal %s", port, signal ? signal : "KILL");
    return run_dir_cmd(h, "kill", more, out, sizeof out) == 0 ? 0 : -1;
}

int harness_restart(harness *h, int port)
{
    char more[32];
    snprintf(more, sizeof more, "--port %d", port);
    return run_and_reload(h, "restart", more);
}

int harness_wait_ok(harness *h, int timeout_s)
{
    char more[32];
    snprintf(more, sizeof more, "--timeout %d", timeout_s);
    return run_and_reload(h, "wait-ok", more);
}

redisContext *harness_connect(int port)
{
    struct timeval tv = {2, 0};
    if (tls_port(port))
        return NULL; /* hiredis 0.14 speaks no TLS */
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        if (c)
            redisFree(c);
        return NULL;
    }
    if (current_has_password) {
        redisReply *r = redisCommand(c, "AUTH %s", current_password);
        int ok = r && r->type != REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

/* The whole file at path (malloc'd, *len bytes), or NULL. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (f)
        fclose(f);
    *len = buf ? (size_t)n : 0;
    return buf;
}

/* The first reply in the RESP bytes of the file at path, or NULL. */
static redisReply *reply_from_file(const char *path)
{
    size_t len;
    char *buf = read_file(path, &len);
    redisReader *rd = buf ? redisReaderCreate() : NULL;
    void *reply = NULL;
    if (rd && redisReaderFeed(rd, buf, len) == REDIS_OK && redisReaderGetReply(rd, &reply) != REDIS_OK)
        reply = NULL;
    if (rd)
        redisReaderFree(rd);
    free(buf);
    return reply;
}

/* harness_cmd over TLS: `harness.py cmd` sends the formatted request. */
static redisReply *tls_cmd(harness *h, int port, const char *fmt, va_list ap)
{
    char in[320], out[320], more[800], log[256];
    char *req = NULL;
    int len = redisvFormatCommand(&req, fmt, ap);
    if (len < 0 || !req)
        return NULL;
    snprintf(in, sizeof in, "%s/cmd-in.resp", h->dir);
    snprintf(out, sizeof out, "%s/cmd-out.resp", h->dir);
    FILE *f = fopen(in, "wb");
    int ok = f && fwrite(req, 1, (size_t)len, f) == (size_t)len;
    if (f && fclose(f) != 0)
        ok = 0;
    redisFreeCommand(req);
    remove(out);
    snprintf(more, sizeof more, "--port %d --resp-in '%s' --out '%s'", port, in, out);
    redisReply *r = ok && run_dir_cmd(h, "cmd", more, log, sizeof log) == 0 ? reply_from_file(out) : NULL;
    remove(in);
    remove(out);
    return r;
}

redisReply *harness_cmd(harness *h, int port, const char *fmt, ...)
{
    /* Plain: the password is process-wide; h documents which cluster. */
    va_list ap;
    va_start(ap, fmt);
    if (h && h->tls) {
        redisReply *r = tls_cmd(h, port, fmt, ap);
        va_end(ap);
        return r;
    }
    redisContext *c = harness_connect(port);
    redisReply *r = c ? redisvCommand(c, fmt, ap) : NULL;
    va_end(ap);
    if (c)
        redisFree(c);
    return r;
}

/* CLUSTER SLOTS entries: [start, end, [ip, port, id], replicas...]. */
static int slot_owner(const redisReply *r, int slot)
{
    for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3)
            continue;
        if (slot >= e->element[0]->integer && slot <= e->element[1]->integer &&
            e->element[2]->type == REDIS_REPLY_ARRAY && e->element[2]->elements >= 2)
            return (int)e->element[2]->element[1]->integer;
    }
    return -1;
}

int harness_primary_of_slot(harness *h, int slot)
{
    for (int i = 0; i < h->count; i++) {
        redisReply *r = harness_cmd(h, h->nodes[i].port, "CLUSTER SLOTS");
        if (!r)
            continue;
        int port = slot_owner(r, slot);
        freeReplyObject(r);
        if (port > 0)
            return port;
    }
    return -1;
}
