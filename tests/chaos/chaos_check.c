/* chaos_check.c -- what a SET or GET reply says: counts by outcome and
 * code, outage runs per shard, lost acknowledged writes and stale reads. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "chaos.h"

int64_t chaos_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void chaos_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int code_index(int code)
{
    return (code < 0 && -code < CHAOS_NCODES - 1) ? -code : CHAOS_NCODES - 1;
}

/* One command finished: ok or failed with code (0 for an error reply). A
 * shard's outage run starts at the submission of its first failed command
 * after a success and ends when a command to it succeeds again. */
void chaos_note(chaos_stats *st, const chaos_key *k, int ok, int code, int64_t t_submit)
{
    int64_t now = chaos_now_ms();
    st->commands++;
    if (ok) {
        st->ok++;
        if (st->fail_since[k->shard]) {
            int64_t run = now - st->fail_since[k->shard];
            if (run > st->outage_ms[k->shard])
                st->outage_ms[k->shard] = run;
            st->fail_since[k->shard] = 0;
        }
        return;
    }
    int fk = atomic_load(&chaos_F.current);
    st->by_fault[fk >= 0 && fk < 6 ? fk : 6]++;
    if (code != 0) {
        st->errors[code_index(code)]++;
        if (code_index(code) == CHAOS_NCODES - 1 || code == CLUSTERC_OK)
            st->undocumented++;
    }
    if (!st->fail_since[k->shard])
        st->fail_since[k->shard] = t_submit ? t_submit : 1;
}

void chaos_close_runs(chaos_stats *st)
{
    int64_t now = chaos_now_ms();
    for (int s = 0; s < CHAOS_SHARDS; s++) {
        if (st->fail_since[s] && now - st->fail_since[s] > st->outage_ms[s])
            st->outage_ms[s] = now - st->fail_since[s];
        st->fail_since[s] = 0;
    }
}

static void note_error_reply(chaos_client *cl, const chaos_key *k, const char *cmd,
                             const redisReply *r)
{
    cl->st.err_replies++;
    if (cl->st.err_replies <= 5)
        fprintf(stderr, "chaos[%s]: %s %s: error reply: %s\n", cl->name, cmd, k->name, r->str);
}

static void note_failure(chaos_client *cl, const char *cmd, const chaos_key *k, int code)
{
    snprintf(cl->last_err, sizeof cl->last_err, "%s %s: %s", cmd, k->name,
             clusterc_strerror(code));
    if (code == 0 || code_index(code) == CHAOS_NCODES - 1)
        fprintf(stderr, "chaos[%s]: %s %s failed with an undocumented code %d\n", cl->name,
                cmd, k->name, code);
}

/* A SET of version ver finished: r is its reply or NULL (code says why). */
int chaos_set_done(chaos_client *cl, chaos_key *k, const redisReply *r, int code, long ver)
{
    int ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
    if (r && r->type == REDIS_REPLY_ERROR)
        note_error_reply(cl, k, "SET", r);
    else if (!r) {
        note_failure(cl, "SET", k, code);
        if (code == CLUSTERC_EUNCERTAIN)
            cl->st.uncertain_writes++;
    }
    chaos_note(&cl->st, k, ok, r ? 0 : code, k->t_submit);
    if (ok && ver > k->acked) {
        k->acked = ver;
        snprintf(k->acked_node, sizeof(k->acked_node), "%s", cl->last_node);
    }
    return ok;
}

/* A GET finished. Returns the version read (0 for nil), or -1 when the
 * command failed. A version below the last acknowledged one is a lost
 * write (primary reads) or a stale read (replica reads); one above the
 * highest sent is a reply that belongs to nobody (a library bug). */
int chaos_get_done(chaos_client *cl, chaos_key *k, const redisReply *r, int code)
{
    int ok = r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_NIL);
    if (r && r->type == REDIS_REPLY_ERROR)
        note_error_reply(cl, k, "GET", r);
    else if (!r)
        note_failure(cl, "GET", k, code);
    chaos_note(&cl->st, k, ok, r ? 0 : code, k->t_submit);
    if (!ok)
        return -1;
    long v = r->type == REDIS_REPLY_STRING && r->str[0] == 'v' ? strtol(r->str + 1, NULL, 10) : 0;
    if (r->type == REDIS_REPLY_STRING && r->str[0] != 'v')
        v = k->attempted + 1;                 /* garbage: counts as phantom */
    if (v > k->attempted) {
        cl->st.phantom++;
        fprintf(stderr, "chaos[%s]: GET %s returned %s, never written (highest sent v%ld)\n",
                cl->name, k->name, r->type == REDIS_REPLY_STRING ? r->str : "nil", k->attempted);
    } else if (v < k->acked) {
        if (cl->replica_reads) {
            cl->st.stale_reads++;
        } else {
            cl->st.lost_acked++;
            fprintf(stderr, "chaos[%s]: t=%lld GET %s returned v%ld, below the acknowledged "
                    "v%ld (a write the server lost)%s%s%s%s\n", cl->name, (long long)chaos_now_ms(),
                    k->name, v, k->acked, cl->last_node[0] ? "; served by " : "", cl->last_node,
                    k->acked_node[0] ? ", acknowledged by " : "", k->acked_node);
            k->acked = v;                     /* count each loss once */
        }
    }
    return (int)(v > 0x7fffffffL ? 0x7fffffffL : v);
}
