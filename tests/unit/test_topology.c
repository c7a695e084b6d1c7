/* test_topology.c -- slot maps from canned CLUSTER SHARDS / SLOTS replies.
 *
 * Replies are built in memory with a tiny builder (malloc'ed like hiredis's
 * own objects, so freeReplyObject frees them recursively).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "reply_builder.h"
#include <hiredis/hiredis.h>
#include "proto/topology.h"

/* ------------------------------------------------------------ the builder */


/* A CLUSTER SHARDS node with the fields Redis 7.2 sends. ep NULL = nil. */
static redisReply *snode(const char *id, long long port, const char *ep,
                         const char *role, const char *health)
{
    return A(S("id"), S(id), S("port"), I(port), S("ip"), S("10.9.9.9"),
             S("endpoint"), ep ? S(ep) : NIL(), S("role"), S(role),
             S("replication-offset"), I(4242), S("health"), S(health));
}

static redisReply *shard(redisReply *slots, redisReply *nodes)
{
    return A(S("slots"), slots, S("nodes"), nodes);
}

static clusterc__topology dummy;

/* Expect the reply to be rejected with an error mentioning `words`. */
static void rejects(int shards, redisReply *r, const char *words)
{
    clusterc__topology *t = &dummy;
    char err[256] = "";
    int rc = shards ? clusterc__topology_from_shards(r, "asked", &t, err, sizeof(err))
                    : clusterc__topology_from_slots(r, "asked", &t, err, sizeof(err));
    freeReplyObject(r);
    assert_int_equal(rc, -1);
    assert_ptr_equal(t, &dummy); /* no partial result */
    if (strstr(err, words) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err, words);
}

static clusterc__topology *accepts(int shards, redisReply *r)
{
    clusterc__topology *t = NULL;
    char err[256] = "";
    int rc = shards ? clusterc__topology_from_shards(r, "asked", &t, err, sizeof(err))
                    : clusterc__topology_from_slots(r, "asked", &t, err, sizeof(err));
    freeReplyObject(r);
    if (rc != 0)
        fail_msg("rejected: %s", err);
    assert_non_null(t);
    return t;
}

/* -------------------------------------------------------- CLUSTER SHARDS */

static redisReply *three_shards(void)
{
    /* Shard 0: replica listed before the primary; Valkey extras. */
    redisReply *s0 = A(S("slots"), A(I(0), I(5460)),
        S("id"), S("shard-id-0"),
        S("nodes"), A(
            A(S("id"), S("r0"), S("port"), I(7003), S("ip"), S("10.0.0.4"),
              S("endpoint"), S("10.0.0.4"), S("role"), S("replica"),
              S("replication-offset"), I(100), S("health"), S("online"),
              S("availability-zone"), S("az-1")),
            A(S("id"), S("p0"), S("port"), I(7000), S("ip"), S("10.0.0.1"),
              S("endpoint"), S("10.0.0.1"), S("hostname"), S("node-1.example"),
              S("role"), S("master"), S("replication-offset"), I(120),
              S("health"), S("online"), S("availability-zone"), S("az-1"))));
    /* Shard 1: IPv6 primary, a loading and a failed replica. */
    redisReply *s1 = shard(A(I(5461), I(10922)), A(
        snode("p1", 7001, "2001:db8::2", "master", "online"),
        snode("r1a", 7004, "2001:db8::5", "replica", "loading"),
        snode("r1b", 7005, "2001:db8::6", "replica", "fail")));
    /* Shard 2: two ranges; "" and nil endpoints; a "?" replica left out. */
    redisReply *s2 = shard(A(I(10923), I(12000), I(12001), I(16383)), A(
        snode("p2", 7002, "", "master", "online"),
        snode("r2a", 7006, NULL, "replica", "online"),
        snode("r2b", 7007, "?", "replica", "online")));
    /* Shard 3: a new primary that owns no slots yet. */
    redisReply *s3 = shard(EMPTY(), A(snode("p3", 7008, "10.0.0.9", "master", "online")));
    return A(s0, s1, s2, s3);
}

static void test_shards_realistic(void **state)
{
    (void)state;
    clusterc__topology *t = accepts(1, three_shards());
    assert_int_equal(t->from_shards, 1);
    assert_int_equal(t->nshards, 4);
    assert_int_equal(clusterc__topology_covered(t), CLUSTERC__NSLOTS);

    const clusterc__topo_shard *s = &t->shards[0];
    assert_int_equal(s->nnodes, 2);
    assert_string_equal(s->nodes[0].id, "p0");
    assert_int_equal(s->nodes[0].role, CLUSTERC__ROLE_PRIMARY);
    assert_string_equal(s->nodes[0].hostname, "node-1.example");
    assert_int_equal(s->nodes[0].repl_offset, 120);
    assert_string_equal(s->nodes[1].id, "r0");
    assert_int_equal(s->nodes[1].role, CLUSTERC__ROLE_REPLICA);
    assert_string_equal(s->nodes[1].addr.host, "10.0.0.4");
    assert_int_equal(s->nodes[1].addr.port, 7003);
    assert_string_equal(s->nodes[1].hostname, "");

    s = &t->shards[1];
    assert_int_equal(s->nnodes, 3);
    assert_string_equal(s->nodes[0].addr.host, "2001:db8::2");
    assert_int_equal(s->nodes[1].health, CLUSTERC__HEALTH_LOADING);
    assert_int_equal(s->nodes[2].health, CLUSTERC__HEALTH_FAIL);
    assert_int_equal(s->nodes[0].health, CLUSTERC__HEALTH_ONLINE);

    s = &t->shards[2];
    assert_int_equal(s->nnodes, 2);
    assert_string_equal(s->nodes[0].addr.host, "asked");
    assert_int_equal(s->nodes[0].addr.port, 7002);
    assert_string_equal(s->nodes[1].addr.host, "asked");
    assert_string_equal(s->nodes[1].id, "r2a");

    assert_int_equal(t->shards[3].nnodes, 1);
    assert_string_equal(t->shards[3].nodes[0].id, "p3");

    assert_int_equal(t->slot_shard[0], 0);
    assert_int_equal(t->slot_shard[5460], 0);
    assert_int_equal(t->slot_shard[5461], 1);
    assert_int_equal(t->slot_shard[10922], 1);
    assert_int_equal(t->slot_shard[10923], 2);
    assert_int_equal(t->slot_shard[12000], 2);
    assert_int_equal(t->slot_shard[12001], 2);
    assert_int_equal(t->slot_shard[16383], 2);
    clusterc__topology_free(t);
}

static void test_shards_unknown_primary(void **state)
{
    (void)state;
    /* Primary at "?": its replicas stay, but nobody serves the slots. A
     * shard whose every node is "?" is dropped. */
    redisReply *r = A(
        shard(A(I(0), I(99)), A(snode("p0", 7000, "?", "master", "online"),
                                snode("r0", 7001, "10.0.0.2", "replica", "online"))),
        shard(A(I(100), I(199)), A(snode("p1", 7002, "?", "master", "online"))),
        shard(A(I(200), I(299)), A(snode("p2", 7003, "10.0.0.3", "master", "online"))));
    clusterc__topology *t = accepts(1, r);
    assert_int_equal(t->nshards, 2);
    assert_int_equal(t->shards[0].nnodes, 1);
    assert_int_equal(t->shards[0].nodes[0].role, CLUSTERC__ROLE_REPLICA);
    assert_int_equal(t->slot_shard[0], -1);
    assert_int_equal(t->slot_shard[150], -1);
    assert_int_equal(t->slot_shard[200], 1);
    assert_int_equal(t->slot_shard[300], -1);
    assert_int_equal(clusterc__topology_covered(t), 100);
    clusterc__topology_free(t);
}

/* Valkey keeps a failed-over primary in its shard: two "master" nodes,
 * the old one with health "fail". The live one must be the primary. */
static void test_shards_failed_over_valkey(void **state)
{
    (void)state;
    redisReply *r = A(shard(A(I(0), I(16383)), A(
        snode("old", 7000, "10.0.0.1", "master", "fail"),
        snode("new", 7003, "10.0.0.4", "master", "online"),
        snode("r2", 7006, "10.0.0.7", "replica", "online"))));
    clusterc__topology *t = accepts(1, r);
    const clusterc__topo_shard *s = &t->shards[0];
    assert_int_equal(s->nnodes, 3);
    assert_string_equal(s->nodes[0].id, "new");
    assert_int_equal(s->nodes[0].role, CLUSTERC__ROLE_PRIMARY);
    assert_string_equal(s->nodes[1].id, "old");
    assert_int_equal(s->nodes[1].role, CLUSTERC__ROLE_REPLICA);
    assert_int_equal(s->nodes[1].health, CLUSTERC__HEALTH_FAIL);
    assert_string_equal(s->nodes[2].id, "r2");
    /* Both failed: the first master stays primary (writes fail until a
     * failover, which is the truth). */
    r = A(shard(A(I(0), I(16383)), A(
        snode("a", 7000, "10.0.0.1", "master", "fail"),
        snode("b", 7003, "10.0.0.4", "master", "fail"))));
    clusterc__topology_free(t);
    t = accepts(1, r);
    assert_string_equal(t->shards[0].nodes[0].id, "a");
    assert_int_equal(t->shards[0].nodes[1].role, CLUSTERC__ROLE_REPLICA);
    clusterc__topology_free(t);
}

static void test_shards_ports_and_empty(void **state)
{
    (void)state;
    /* TLS-only node: tls-port is all there is. No endpoint: use ip. */
    redisReply *r = A(shard(A(I(0), I(16383)), A(
        A(S("id"), S("p"), S("tls-port"), I(6390), S("ip"), S("10.1.1.1"),
          S("role"), S("master")))));
    clusterc__topology *t = accepts(1, r);
    assert_int_equal(t->shards[0].nodes[0].addr.port, 6390);
    assert_string_equal(t->shards[0].nodes[0].addr.host, "10.1.1.1");
    assert_int_equal(t->shards[0].nodes[0].health, CLUSTERC__HEALTH_UNKNOWN);
    assert_int_equal(t->shards[0].nodes[0].repl_offset, -1);
    clusterc__topology_free(t);

    /* Both ports: a plain client dials "port", a TLS client "tls-port". */
    r = A(shard(A(I(0), I(0)), A(
        A(S("port"), I(7000), S("tls-port"), I(6390), S("endpoint"), S("h"),
          S("role"), S("master")))));
    t = accepts(1, r);
    assert_int_equal(t->shards[0].nodes[0].addr.port, 7000);
    assert_string_equal(t->shards[0].nodes[0].id, "");
    clusterc__topology_free(t);
    for (int tls = 0; tls <= 1; tls++) {
        char err[256] = "";
        r = A(shard(A(I(0), I(0)), A(
            A(S("port"), I(7000), S("tls-port"), I(6390), S("endpoint"), S("h"),
              S("role"), S("master")),
            A(S("port"), I(7001), S("endpoint"), S("h"), S("role"), S("replica")),
            A(S("tls-port"), I(6391), S("endpoint"), S("h"), S("role"), S("replica")))));
        t = NULL;
        assert_int_equal(clusterc__topology_from_shards_tls(r, "asked", tls, &t, err,
                                                            sizeof(err)), 0);
        freeReplyObject(r);
        assert_int_equal(t->shards[0].nodes[0].addr.port, tls ? 6390 : 7000);
        assert_int_equal(t->shards[0].nodes[1].addr.port, 7001);   /* the only one given */
        assert_int_equal(t->shards[0].nodes[2].addr.port, 6391);
        clusterc__topology_free(t);
    }

    t = accepts(1, EMPTY());
    assert_int_equal(t->nshards, 0);
    assert_int_equal(clusterc__topology_covered(t), 0);
    clusterc__topology_free(t);
    clusterc__topology_free(NULL);
}

/* One shard with a single node given as key/value pairs. */
#define ONE_NODE(...) A(shard(A(I(0), I(10)), A(A(__VA_ARGS__))))
#define GOOD_FIELDS S("id"), S("n"), S("endpoint"), S("h"), S("role"), S("master")

static void test_shards_malformed(void **state)
{
    (void)state;
    rejects(1, I(3), "reply is not an array");
    rejects(1, NULL, "not an array");
    rejects(1, A(I(1)), "shard 0: shard is not an array");
    rejects(1, A(A(S("slots"))), "odd number");
    rejects(1, A(A(I(1), I(2))), "key that is not a string");
    rejects(1, A(A(S("nodes"), EMPTY())), "\"slots\" is missing");
    rejects(1, A(shard(I(5), EMPTY())), "\"slots\" is not an array");
    rejects(1, A(shard(A(I(5)), EMPTY())), "odd number");
    rejects(1, A(shard(A(S("0"), I(5)), EMPTY())), "non-integer");
    rejects(1, A(shard(A(I(0), I(16384)), EMPTY())), "outside 0..16383");
    rejects(1, A(shard(A(I(-1), I(5)), EMPTY())), "outside 0..16383");
    rejects(1, A(shard(A(I(10), I(5)), EMPTY())), "reversed");
    rejects(1, A(A(S("slots"), EMPTY())), "\"nodes\" is missing");
    rejects(1, A(shard(EMPTY(), S("x"))), "\"nodes\" is not an array");
    rejects(1, A(shard(EMPTY(), A(S("x")))), "shard 0, node 0: node is not an array");
    rejects(1, ONE_NODE(GOOD_FIELDS, S("port"), S("7000")), "field \"port\" is not an integer");
    rejects(1, ONE_NODE(GOOD_FIELDS, S("port"), I(0)), "port 0 is out of range");
    rejects(1, ONE_NODE(GOOD_FIELDS, S("port"), I(65536)), "out of range");
    rejects(1, ONE_NODE(GOOD_FIELDS, S("tls-port"), NIL()), "\"tls-port\" is not an integer");
    rejects(1, ONE_NODE(GOOD_FIELDS), "\"port\" is missing");
    rejects(1, ONE_NODE(S("port"), I(1), S("endpoint"), S("h")), "\"role\" is missing");
    rejects(1, ONE_NODE(S("port"), I(1), S("endpoint"), S("h"), S("role"), S("boss")),
            "unknown role \"boss\"");
    rejects(1, ONE_NODE(S("port"), I(1), S("endpoint"), S("h"), S("role"), I(1)),
            "\"role\" is not a string");
    rejects(1, ONE_NODE(S("port"), I(1), S("role"), S("master")), "\"endpoint\" is missing");
    rejects(1, ONE_NODE(S("port"), I(1), S("endpoint"), I(4), S("role"), S("master")),
            "endpoint is not a string");
    rejects(1, ONE_NODE(GOOD_FIELDS, S("port"), I(1), S("hostname"), I(3)),
            "\"hostname\" is not a string");
    rejects(1, ONE_NODE(GOOD_FIELDS, S("port"), I(1), S("replication-offset"), S("1")),
            "\"replication-offset\" is not an integer");
    rejects(1, ONE_NODE(GOOD_FIELDS, S("port"), I(1), S("health"), I(1)),
            "\"health\" is not a string");
    rejects(1, ONE_NODE(S("id"), S("0123456789012345678901234567890123456789X"),
                        S("endpoint"), S("h"), S("role"), S("master"), S("port"), I(1)),
            "\"id\" is too long");
}

static void test_shards_error_location(void **state)
{
    (void)state;
    /* A bad field deep in a reply that has already built two shards: the
     * message names the place, and nothing built so far leaks. */
    redisReply *r = three_shards();
    redisReply *port = r->element[2]->element[3]->element[1]->element[3];
    port->type = REDIS_REPLY_STRING;
    port->str = malloc(5);
    memcpy(port->str, "7006", 5);
    port->len = 4;
    clusterc__topology *t = &dummy;
    char err[256];
    assert_int_equal(clusterc__topology_from_shards(r, "asked", &t, err, sizeof(err)), -1);
    assert_string_equal(err, "CLUSTER SHARDS: shard 2, node 1: field \"port\" is not an integer");
    assert_ptr_equal(t, &dummy);
    freeReplyObject(r);

    /* Two shards claiming one slot. */
    r = A(shard(A(I(0), I(100)), A(snode("a", 1, "h", "master", "online"))),
          shard(A(I(200), I(300), I(100), I(150)), A(snode("b", 2, "h", "master", "online"))));
    rejects(1, r, "shard 1: slot 100 is claimed twice");
    /* Even when the first claimant has no dialable primary. */
    r = A(shard(A(I(0), I(100)), A(snode("a", 1, "?", "master", "online"))),
          shard(A(I(50), I(60)), A(snode("b", 2, "h", "master", "online"))));
    rejects(1, r, "slot 50 is claimed twice");
    /* A tiny error buffer truncates instead of overflowing; none is fine too. */
    char tiny[8];
    t = &dummy;
    r = A(I(1));
    assert_int_equal(clusterc__topology_from_shards(r, "x", &t, tiny, sizeof(tiny)), -1);
    assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
    assert_int_equal(clusterc__topology_from_shards(r, "x", &t, NULL, 0), -1);
    freeReplyObject(r);
}

/* --------------------------------------------------------- CLUSTER SLOTS */

static void test_slots_realistic(void **state)
{
    (void)state;
    redisReply *r = A(
        A(I(0), I(100), A(S("10.0.0.1"), I(7000), S("id1"), A(S("hostname"), S("h1"))),
                        A(S("10.0.0.2"), I(7001), S("id2"), EMPTY())),
        A(I(101), I(200), A(S("10.0.0.3"), I(7002), S("id3"))),
        A(I(201), I(5000), A(S("10.0.0.1"), I(7000), S("id1"), A(S("ip"), S("10.0.0.1"), S("hostname"), S("h1"))),
                           A(S("10.0.0.2"), I(7001), S("id2")),
                           A(S("10.0.0.5"), I(7005), S("id5"))),
        A(I(5001), I(6000), A(S(""), I(7010), S("id10")), A(NIL(), I(7011), S("id11")),
                            A(S("?"), I(7012), S("id12"))),
        A(I(6001), I(7000), A(S("?"), I(7020), S("id20"))),
        A(I(7001), I(8000), A(S("10.0.0.7"), I(7030))),
        A(I(8001), I(8100), A(S("10.0.0.7"), I(7030)), A(S("10.0.0.8"), I(7031))));
    clusterc__topology *t = accepts(0, r);
    assert_int_equal(t->from_shards, 0);
    assert_int_equal(t->nshards, 4);
    assert_int_equal(clusterc__topology_covered(t), 5001 + 1000 + 1100);

    const clusterc__topo_shard *s = &t->shards[0];
    assert_int_equal(s->nnodes, 3);
    assert_string_equal(s->nodes[0].id, "id1");
    assert_string_equal(s->nodes[0].hostname, "h1");
    assert_int_equal(s->nodes[0].role, CLUSTERC__ROLE_PRIMARY);
    assert_int_equal(s->nodes[0].health, CLUSTERC__HEALTH_UNKNOWN);
    assert_int_equal(s->nodes[0].repl_offset, -1);
    assert_string_equal(s->nodes[1].id, "id2");
    assert_int_equal(s->nodes[1].role, CLUSTERC__ROLE_REPLICA);
    assert_string_equal(s->nodes[2].id, "id5");

    assert_string_equal(t->shards[1].nodes[0].id, "id3");
    assert_int_equal(t->shards[1].nnodes, 1);

    s = &t->shards[2];
    assert_int_equal(s->nnodes, 2);
    assert_string_equal(s->nodes[0].addr.host, "asked");
    assert_int_equal(s->nodes[0].addr.port, 7010);
    assert_string_equal(s->nodes[1].addr.host, "asked");
    assert_int_equal(s->nodes[1].addr.port, 7011);

    s = &t->shards[3];
    assert_int_equal(s->nnodes, 2);
    assert_string_equal(s->nodes[0].addr.host, "10.0.0.7");
    assert_string_equal(s->nodes[1].addr.host, "10.0.0.8");

    assert_int_equal(t->slot_shard[0], 0);
    assert_int_equal(t->slot_shard[150], 1);
    assert_int_equal(t->slot_shard[4000], 0);
    assert_int_equal(t->slot_shard[5500], 2);
    assert_int_equal(t->slot_shard[6500], -1);
    assert_int_equal(t->slot_shard[7500], 3);
    assert_int_equal(t->slot_shard[8100], 3);
    assert_int_equal(t->slot_shard[8101], -1);
    clusterc__topology_free(t);
}

#define ENTRY(node) A(I(0), I(10), node)

static void test_slots_malformed(void **state)
{
    (void)state;
    rejects(0, S("x"), "reply is not an array");
    rejects(0, A(I(1)), "entry 0: entry is not an array");
    rejects(0, A(A(I(0), I(1))), "expected at least 3");
    rejects(0, A(A(S("0"), I(1), A(S("h"), I(1)))), "slot range is not two integers");
    rejects(0, A(A(I(0), NIL(), A(S("h"), I(1)))), "slot range is not two integers");
    rejects(0, A(A(I(0), I(16384), A(S("h"), I(1)))), "outside 0..16383");
    rejects(0, A(A(I(-5), I(3), A(S("h"), I(1)))), "outside 0..16383");
    rejects(0, A(A(I(9), I(3), A(S("h"), I(1)))), "reversed");
    rejects(0, A(ENTRY(S("h:1"))), "entry 0, node 0: node is not an array");
    rejects(0, A(ENTRY(A(S("h")))), "expected at least 2");
    rejects(0, A(ENTRY(A(S("h"), S("1")))), "port is not an integer");
    rejects(0, A(ENTRY(A(S("h"), I(0)))), "port 0 is out of range");
    rejects(0, A(ENTRY(A(S("h"), I(65536)))), "out of range");
    rejects(0, A(ENTRY(A(I(1), I(1)))), "endpoint is not a string");
    rejects(0, A(ENTRY(A(S("h"), I(1), I(5)))), "\"id\" is not a string");
    rejects(0, A(ENTRY(A(S("h"), I(1), S("id"), S("meta")))), "metadata is not an array");
    rejects(0, A(ENTRY(A(S("h"), I(1), S("id"), A(S("hostname"))))), "odd number");
    rejects(0, A(ENTRY(A(S("h"), I(1), S("id"), A(S("hostname"), I(1))))),
            "\"hostname\" is not a string");
    rejects(0, A(A(I(0), I(10), A(S("h"), I(1)), A(S("r"), S("2")))),
            "entry 0, node 1: port is not an integer");
    rejects(0, A(A(I(0), I(100), A(S("a"), I(1))), A(I(50), I(150), A(S("b"), I(2)))),
            "entry 1: slot 50 is claimed twice");
    /* Same primary twice for one slot is still a double claim. */
    rejects(0, A(A(I(0), I(0), A(S("a"), I(1))), A(I(0), I(0), A(S("a"), I(1)))),
            "slot 0 is claimed twice");
    /* An unknown primary still claims its range. */
    rejects(0, A(A(I(0), I(100), A(S("?"), I(1))), A(I(100), I(150), A(S("b"), I(2)))),
            "slot 100 is claimed twice");
}

static void test_slots_empty(void **state)
{
    (void)state;
    clusterc__topology *t = accepts(0, EMPTY());
    assert_int_equal(t->nshards, 0);
    assert_int_equal(clusterc__topology_covered(t), 0);
    for (int s = 0; s < CLUSTERC__NSLOTS; s++)
        assert_int_equal(t->slot_shard[s], -1);
    clusterc__topology_free(t);
    /* NULL asked host with an empty endpoint: host "". */
    redisReply *r = A(A(I(0), I(16383), A(S(""), I(7000))));
    t = NULL;
    char err[128];
    assert_int_equal(clusterc__topology_from_slots(r, NULL, &t, err, sizeof(err)), 0);
    assert_string_equal(t->shards[0].nodes[0].addr.host, "");
    assert_int_equal(clusterc__topology_covered(t), CLUSTERC__NSLOTS);
    clusterc__topology_free(t);
    freeReplyObject(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shards_realistic),
        cmocka_unit_test(test_shards_unknown_primary),
        cmocka_unit_test(test_shards_failed_over_valkey),
        cmocka_unit_test(test_shards_ports_and_empty),
        cmocka_unit_test(test_shards_malformed),
        cmocka_unit_test(test_shards_error_location),
        cmocka_unit_test(test_slots_realistic),
        cmocka_unit_test(test_slots_malformed),
        cmocka_unit_test(test_slots_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
