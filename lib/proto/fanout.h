/* fanout.h -- commands that run on more than one node: their routing
 * policies, the split of multi-key commands by slot, and the merge of the
 * replies into one (pure: fanout.c, fanout_merge.c). docs/commands.md has
 * the table and the rules. */
#ifndef CLUSTERC_FANOUT_H
#define CLUSTERC_FANOUT_H
#include <stddef.h>
#include <hiredis/hiredis.h>

/* Where a command goes: the server's "request_policy:<x>" tip. */
typedef enum clusterc__req_policy {
    CLUSTERC__REQ_DEFAULT = 0,   /* no tip: the slot of its keys, or any one node when keyless */
    CLUSTERC__REQ_ALL_SHARDS,    /* every primary (DBSIZE, KEYS, FLUSHALL) */
    CLUSTERC__REQ_ALL_NODES,     /* every node, replicas too (CONFIG SET, SCRIPT LOAD) */
    CLUSTERC__REQ_MULTI_SHARD,   /* one sub-command per slot of its keys (MGET, DEL) */
    CLUSTERC__REQ_SPECIAL        /* needs its own code (SCAN) */
} clusterc__req_policy;

/* How the replies become one: the server's "response_policy:<x>" tip. */
typedef enum clusterc__resp_policy {
    CLUSTERC__RESP_DEFAULT = 0,  /* arrays concatenated (KEYS); keyed: in key order (MGET) */
    CLUSTERC__RESP_ONE_SUCCEEDED,/* the first reply that is not an error */
    CLUSTERC__RESP_ALL_SUCCEEDED,/* any error is the answer; else the first reply */
    CLUSTERC__RESP_AGG_AND,      /* agg_logical_and of 0/1 integers, arrays element-wise */
    CLUSTERC__RESP_AGG_OR,       /* agg_logical_or */
    CLUSTERC__RESP_AGG_MIN,      /* agg_min of integers, arrays element-wise */
    CLUSTERC__RESP_AGG_MAX,      /* agg_max */
    CLUSTERC__RESP_AGG_SUM,      /* agg_sum */
    CLUSTERC__RESP_SPECIAL       /* needs its own code (INFO, FUNCTION STATS) */
} clusterc__resp_policy;

#define CLUSTERC__TIP_NONDET_OUTPUT 0x01u /* "nondeterministic_output" */
#define CLUSTERC__TIP_NONDET_ORDER  0x02u /* "nondeterministic_output_order" */

typedef struct clusterc__fanpolicy {
    clusterc__req_policy req;
    clusterc__resp_policy resp;
    unsigned tips;               /* CLUSTERC__TIP_* */
} clusterc__fanpolicy;

/* The tip's value ("all_shards", "agg_sum"; "default" for the defaults);
 * static strings, "?" for a value out of range. */
const char *clusterc__req_policy_name(clusterc__req_policy p);
const char *clusterc__resp_policy_name(clusterc__resp_policy p);

/* ============================================================ policy table */

typedef struct clusterc__policytable clusterc__policytable;

/* The built-in policies: Redis 7.0's tips (deviations in docs/commands.md),
 * for servers whose COMMAND has no tips (6.x) or cannot be asked. Static. */
const clusterc__policytable *clusterc__policytable_builtin(void);

/*
 * Learn the policies from a COMMAND (or COMMAND INFO) reply: the tips at
 * index 7 of each entry and of each subcommand entry at index 9 (named
 * "container|sub"). An entry with fewer than 8 elements (a server without
 * tips) is not recorded, so lookups of it use the built-in table; one with
 * tips recorded, even none, is the server's word. Malformed entries and
 * tips, and tip values not known here, are skipped. Returns 0 and *out (free
 * with clusterc__policytable_free), or -1 when r is not an array or memory
 * runs out (err says which).
 */
int clusterc__policytable_from_reply(const redisReply *r, clusterc__policytable **out,
                                     char *err, size_t errcap);
/* Free a learned table. NULL and the built-in table are harmless no-ops. */
void clusterc__policytable_free(clusterc__policytable *t);

/* Entries, in name order: the name ("script|load", lowercase; static or
 * owned by t) and *out, or NULL when i >= the count. For tests and docs. */
const char *clusterc__policytable_at(const clusterc__policytable *t, size_t i,
                                     clusterc__fanpolicy *out);
/* Lowercase names, strictly sorted, each found by lookup: 0, or -1. */
int clusterc__policytable_selfcheck(const clusterc__policytable *t);

/* The policy of a name ("dbsize", "Script|Load": any case). Returns 1 and
 * *out when t (or, for a learned t, the built-in table) knows it; else 0
 * and the defaults. t NULL means the built-in table. */
int clusterc__policy_by_name(const clusterc__policytable *t, const char *name, size_t len,
                             clusterc__fanpolicy *out);

/*
 * The policy of a command in RESP form ("*N\r\n$len\r\nNAME\r\n..."): its
 * "name|argv[1]" when the table has it (CONFIG SET, SCRIPT LOAD), else its
 * name. Returns 1 (known), 0 (not known: defaults in *out), or -1 when the
 * buffer is not a RESP array of bulk strings.
 */
int clusterc__policy_lookup(const clusterc__policytable *t, const char *resp, size_t len,
                            clusterc__fanpolicy *out);

/* ================================================================== split */

typedef struct clusterc__subcmd {
    int slot;
    const char *resp;            /* RESP text, in the split's block */
    size_t len;
    size_t nkeys;
    const size_t *keypos;        /* keypos[j]: the original index of this part's key j */
} clusterc__subcmd;

typedef struct clusterc__split {
    size_t nkeys;                /* keys (MSET: pairs) in the original command */
    size_t nsub;
    clusterc__subcmd *sub;       /* ascending slot */
    char *text;                  /* owned: every sub-command's RESP */
    size_t *keypos;              /* owned: every sub-command's keypos */
} clusterc__split;

/*
 * Split a multi-key command into one sub-command per slot: MGET, DEL,
 * UNLINK, EXISTS, TOUCH (every argument a key) and MSET (key value pairs).
 * Keys of one slot stay in one sub-command, in their original relative
 * order (duplicates too: DEL k k counts k twice, as the server does).
 * MSETNX is never split: it sets all or nothing, which only one node can
 * promise. Returns 1 and *out (free with clusterc__split_free) when there
 * are two slots or more; 0 (out empty) when the command is not one of
 * these, has one slot, or has the wrong arity (the server will say so);
 * -1 when the buffer is not a RESP array of bulk strings or memory runs
 * out (err says which).
 */
int clusterc__fanout_split(const char *resp, size_t len, clusterc__split *out,
                           char *err, size_t errcap);
/* Free what a split owns and empty it. NULL is a harmless no-op. */
void clusterc__split_free(clusterc__split *s);

/* ================================================================== merge */

/* One node's answer: reply NULL means the node gave none (lost). */
typedef struct clusterc__part {
    const redisReply *reply;     /* borrowed */
    const char *node;            /* "host:port", for messages; NULL: "?" */
} clusterc__part;

/*
 * Merge n replies by policy into one new reply (free with freeReplyObject);
 * the parts are only read. An error reply (or NULL) from any node is the
 * answer, its text prefixed with the node ("-WRONGTYPE 10.0.0.1:7001: ...")
 * -- except ONE_SUCCEEDED, which answers an error only when all failed.
 * ALL_SUCCEEDED: the first reply. AGG_*: integers, or arrays of integers of
 * one length element-wise, else an error naming the node. DEFAULT: arrays
 * concatenated, otherwise the first reply. SPECIAL: an error (the caller
 * must merge such commands itself). Returns NULL only when out of memory.
 */
redisReply *clusterc__fanout_merge(clusterc__resp_policy p, const clusterc__part *parts,
                                   size_t n);

/*
 * Unmerged (the EACH routes): an array of [node, reply] pairs in parts'
 * order, node as a bulk string ("host:port"), each reply copied as it came
 * (an error reply in its place; a missing one as "-ERR clusterc: no
 * reply"). A new reply (freeReplyObject), NULL only when out of memory.
 */
redisReply *clusterc__fanout_pairs(const clusterc__part *parts, size_t n);

/*
 * MGET's answer: parts[i] answers s->sub[i] (n == s->nsub), each an array
 * of s->sub[i].nkeys values; the result has s->nkeys values in the original
 * key order, nils kept. An error or a wrong shape names the node. Returns a
 * new reply (freeReplyObject), NULL only when out of memory.
 */
redisReply *clusterc__fanout_reassemble(const clusterc__split *s, const clusterc__part *parts,
                                        size_t n);
#endif
