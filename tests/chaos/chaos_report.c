/* chaos_report.c -- the end of a chaos run: one block on stderr, one
 * key=value line (stdout and stderr), and the pass criteria. */
#include <stdio.h>
#include "chaos.h"

#define FD_SLACK 2
#define RSS_BOUND_KB (8 * 1024)

static const char *code_name(int i)
{
    switch (-i) {
#define CHAOS_NAME(name, code, text) case code: return #name;
        CLUSTERC_ERRNO_MAP(CHAOS_NAME)
#undef CHAOS_NAME
    default: return "unknown";
    }
}

static void block(const totals *t, const char *server)
{
    const chaos_stats *s = &t->st;
    fprintf(stderr, "==== chaos report (%s, %d s of faults) ====\n", server, t->seconds);
    fprintf(stderr, "commands %lld, succeeded %lld, failed %lld\n", s->commands, s->ok,
            s->commands - s->ok);
    for (int c = 0; c < 3; c++)
        fprintf(stderr, "  client %-8s commands %lld failed %lld uncertain %lld lost %lld stale %lld "
                "maps deferred %lld\n", t->cl[c]->name, t->cl[c]->st.commands,
                t->cl[c]->st.commands - t->cl[c]->st.ok, t->cl[c]->st.uncertain_writes,
                t->cl[c]->st.lost_acked, t->cl[c]->st.stale_reads, t->cl[c]->st.maps_deferred);
    for (int i = 1; i < CHAOS_NCODES; i++)
        if (s->errors[i])
            fprintf(stderr, "  %-12s (%s): %lld\n", code_name(i), clusterc_strerror(-i), s->errors[i]);
    fprintf(stderr, "error replies reaching the caller: %lld; undocumented codes: %lld\n",
            s->err_replies, s->undocumented);
    fprintf(stderr, "EUNCERTAIN writes: %lld\n", s->uncertain_writes);
    fprintf(stderr, "longest outage per shard (ms): %lld %lld %lld\n",
            (long long)s->outage_ms[0], (long long)s->outage_ms[1], (long long)s->outage_ms[2]);
    fprintf(stderr, "lost acknowledged writes: %lld (GETs below the last acknowledged SET; "
            "reported, not failed: Redis/Valkey replicate asynchronously, so a SIGKILL failover "
            "may drop acknowledged writes; bursts during manual failovers are docs/"
            "reliability.md, Chaos, finding 3)\n", s->lost_acked);
    fprintf(stderr, "stale reads (replica client, read_only): %lld\n", s->stale_reads);
    fprintf(stderr, "values never written (library bug if > 0): %lld\n", s->phantom);
    fprintf(stderr, "faults:");
    for (int i = 0; i < 6; i++)
        fprintf(stderr, " %s=%lld(failed %lld)", chaos_fault_names[i], chaos_F.count[i],
                chaos_F.failed[i]);
    fprintf(stderr, "; keys migrated by reshards: %lld; cluster not ok 30 s after a fault: %lld "
            "(repaired with --cluster fix: %lld)\n", chaos_F.keys_migrated, chaos_F.not_ok,
            chaos_F.repairs);
    fprintf(stderr, "failed commands while each fault ran (and settled, +1 s):");
    for (int i = 0; i < 6; i++)
        fprintf(stderr, " %s=%lld", chaos_fault_names[i], s->by_fault[i]);
    fprintf(stderr, " none=%lld\n", s->by_fault[6]);
    fprintf(stderr, "final round: %lld pairs, %lld failed\n", s->final_pairs, s->final_failures);
    fprintf(stderr, "fds %d -> %d (slack %d); RSS %ld KB -> %ld KB (bound +%d KB)\n", t->fd0,
            t->fd1, FD_SLACK, t->rss0, t->rss1, RSS_BOUND_KB);
}

static void kv(FILE *f, const totals *t, const char *server)
{
    const chaos_stats *s = &t->st;
    fprintf(f, "CHAOS server=%s seconds=%d seed=%u commands=%lld ok=%lld", server, t->seconds,
            chaos_F.seed0, s->commands, s->ok);
    for (int i = 1; i < CHAOS_NCODES; i++)
        if (s->errors[i])
            fprintf(f, " err_%s=%lld", code_name(i), s->errors[i]);
    fprintf(f, " error_replies=%lld undocumented=%lld uncertain_writes=%lld", s->err_replies,
            s->undocumented, s->uncertain_writes);
    for (int i = 0; i < CHAOS_SHARDS; i++)
        fprintf(f, " outage_ms_shard%d=%lld", i, (long long)s->outage_ms[i]);
    fprintf(f, " lost_acked_server=%lld stale_reads=%lld phantom=%lld maps_deferred=%lld",
            s->lost_acked, s->stale_reads, s->phantom, s->maps_deferred);
    for (int i = 0; i < 6; i++)
        fprintf(f, " %s=%lld failed_during_%s=%lld", chaos_fault_names[i], chaos_F.count[i],
                chaos_fault_names[i], s->by_fault[i]);
    fprintf(f, " keys_migrated=%lld not_ok=%lld repairs=%lld fault_failed=%lld final_failed=%lld fd_start=%d fd_end=%d rss_kb_start=%ld "
            "rss_kb_end=%ld hang=%d\n", chaos_F.keys_migrated, chaos_F.not_ok, chaos_F.repairs, chaos_F.failed[0] + chaos_F.failed[1] + chaos_F.failed[2]
            + chaos_F.failed[3] + chaos_F.failed[4] + chaos_F.failed[5], s->final_failures,
            t->fd0, t->fd1, t->rss0, t->rss1, t->hang);
}

void chaos_report(const totals *t, const char *server)
{
    block(t, server);
    kv(stderr, t, server);
    kv(stdout, t, server);
    fflush(stdout);
}

/* 0 = pass. Lost acknowledged writes and stale reads are reported, not
 * failed: they are the server's and the read policy's. */
int chaos_verdict(const totals *t)
{
    const chaos_stats *s = &t->st;
    int bad = 0;
#define CHAOS_CHECK(cond, why) \
    if (!(cond)) { fprintf(stderr, "chaos: FAIL: %s\n", why); bad = 1; }
    CHAOS_CHECK(!t->hang, "a hang");
    CHAOS_CHECK(!atomic_load(&chaos_F.broken), "the cluster did not come back to ok");
    CHAOS_CHECK(s->undocumented == 0, "a command failed with an undocumented code");
    CHAOS_CHECK(s->err_replies == 0, "an error reply reached the caller");
    CHAOS_CHECK(s->phantom == 0, "a GET returned a value never written");
    CHAOS_CHECK(s->final_pairs > 0 && s->final_failures == 0, "the final round failed");
    /* Without the warm-up PINGs the baseline lacks the connections a
     * client opens later to nodes it had no reason to use at first. */
    int slack = FD_SLACK + (t->cl[0]->warm_ping ? 0 : 3 * CHAOS_MAX_NODES);
    CHAOS_CHECK(t->fd0 > 0 && t->fd1 <= t->fd0 + slack, "file descriptors grew");
    CHAOS_CHECK(t->rss0 > 0 && t->rss1 - t->rss0 < RSS_BOUND_KB, "RSS grew past the bound");
#undef CHAOS_CHECK
    fprintf(stderr, "chaos: %s\n", bad ? "FAIL" : "PASS");
    return bad;
}
