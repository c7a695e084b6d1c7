/* cmdtable.h -- where a command's key is, whether it only reads, and what
 * else the engine asks of its name (pure: cmdtable.c, cmdinspect.c). */
#ifndef CLUSTERC_CMDTABLE_H
#define CLUSTERC_CMDTABLE_H
#include <stddef.h>
#include <hiredis/hiredis.h>

#define CLUSTERC__CMD_READONLY  0x01u /* server flag "readonly": safe on a replica, safe to repeat */
#define CLUSTERC__CMD_WRITE     0x02u /* server flag "write" */
#define CLUSTERC__CMD_KNOWN     0x04u /* the table knows the command */
#define CLUSTERC__CMD_MULTI     0x08u /* MULTI */
#define CLUSTERC__CMD_EXEC      0x10u /* EXEC or DISCARD: ends a transaction */
#define CLUSTERC__CMD_BLOCKING  0x20u /* may block (BLPOP, XREAD BLOCK, WAIT...) */

/*
 * Props: what the engine asks of a command's name besides routing, answered
 * by the same lookup (clusterc__cmdinfo.props). For every name each bit
 * agrees with the function that answered the question before (test_cmdtable's
 * test_props_agree checks every built-in name, in any case, and unknown ones):
 */
/* clusterc__cmd_not_here() refuses it: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE,
 * UNSUBSCRIBE, PUNSUBSCRIBE, SUNSUBSCRIBE, MONITOR, AUTH, HELLO. */
#define CLUSTERC__CMDP_NOT_HERE  0x01u
/* A container whose display name needs its sub-command ("CONFIG GET"):
 * clusterc__cmd_display_name() adds it exactly for these names. */
#define CLUSTERC__CMDP_CONTAINER 0x02u
/* clusterc__fanout_mark (engine/fanout.c) may mark the command: a multi-key
 * command it splits (DEL, EXISTS, MGET, MSET, TOUCH, UNLINK), or a name
 * that reaches an all_shards / all_nodes policy not answered "special",
 * alone or as "name|sub" (built in, or in a learned table's tips: see
 * clusterc__cmdinfo for the one case the bit cannot see). */
#define CLUSTERC__CMDP_FANOUT    0x04u

typedef struct clusterc__cmdtable clusterc__cmdtable;

/* The built-in table of core commands (static; never freed). Its hash
 * index is built on the first call, once per process (thread-safe). */
const clusterc__cmdtable *clusterc__cmdtable_builtin(void);

/*
 * Build a table from a COMMAND (or COMMAND INFO) reply: name, arity, flags,
 * first key, last key, step per entry. Commands with movable keys get their
 * key position from the built-in rules (EVAL numkeys, XREAD STREAMS, ...).
 * Props are the built-in entry's of the same name, plus FANOUT where the
 * reply's Redis 7 tips (read as proto/fanout.c reads them) give the name an
 * all_shards / all_nodes policy. Returns 0 and *out (free with
 * clusterc__cmdtable_free), or -1 with err saying which entry is malformed
 * (or that memory ran out).
 */
int clusterc__cmdtable_from_reply(const redisReply *r, clusterc__cmdtable **out,
                                  char *err, size_t errcap);
/* Free a learned table. NULL and the built-in table are harmless no-ops. */
void clusterc__cmdtable_free(clusterc__cmdtable *t);

/* Check the table's invariants (lowercase names, strictly sorted, every name
 * found by lookup, the index half empty). Returns 0 or -1. For the unit tests. */
int clusterc__cmdtable_selfcheck(const clusterc__cmdtable *t);

/* Entry i in name order: its lowercase name, *flags (CLUSTERC__CMD_*; no
 * KNOWN: kept for its props only, inspected as unknown) and *props; NULL
 * when i is past the end. For the unit tests. */
const char *clusterc__cmdtable_at(const clusterc__cmdtable *t, size_t i, unsigned *flags,
                                  unsigned *props);

/*
 * What clusterc__cmd_inspect found. props (CLUSTERC__CMDP_*) replaces the
 * engine's separate name tests, from the same lookup:
 *   NOT_HERE   set exactly when clusterc__cmd_not_here(name) is 1 (call it
 *              then, for its message);
 *   CONTAINER  set exactly when clusterc__cmd_display_name() would add the
 *              sub-command (call it then);
 *   FANOUT     clusterc__fanout_mark may mark the command. It cannot see one
 *              case: a name in no table (flags without CLUSTERC__CMD_KNOWN)
 *              and keyless (slot -1) may still name a policy ("CONFIG|SET"
 *              sent as one word, a learned tip's odd name). So the engine
 *              calls clusterc__fanout_mark when
 *                (props & CLUSTERC__CMDP_FANOUT) ||
 *                (slot < 0 && !(flags & CLUSTERC__CMD_KNOWN))
 *              and so misses nothing the old first-letter-or-keyless test
 *              caught. For a learned table the bit may also be set where
 *              the server's tips say less than the built-in policies: the
 *              mark then finds nothing to do.
 */
typedef struct clusterc__cmdinfo {
    unsigned flags;        /* CLUSTERC__CMD_* */
    unsigned props;        /* CLUSTERC__CMDP_* */
    int slot;              /* slot of the first key, -1 when keyless */
    const char *name;      /* points into the RESP buffer (not NUL-terminated) */
    size_t namelen;
} clusterc__cmdinfo;

/* A command's arguments as RESP text: argc, and where the first four
 * (at most argc) start in the text and how long they are; end is the byte
 * after the last one's CRLF. The inspector fills it while validating; the
 * library's encoder fills it while writing (clusterc__argv_write_args), so
 * a command it encoded itself is not parsed again. */
typedef struct clusterc__cmdarg {
    const char *p;
    size_t len;
} clusterc__cmdarg;

typedef struct clusterc__cmdargs {
    const char *end;
    long long argc;
    clusterc__cmdarg argv[4]; /* argv[i] is set for i < argc only, and only those are read */
} clusterc__cmdargs;

/*
 * Inspect a command already in RESP form ("*N\r\n$len\r\nNAME\r\n..."), as
 * redisFormatCommand produced it: find its name, flags, props and the slot
 * of its first key (argv[first] for fixed positions; EVAL/EVALSHA/FCALL[_RO]
 * use numkeys; XREAD/XREADGROUP the first key after STREAMS; ...), with one
 * lookup of the name (t NULL: the built-in table; a learned t that lacks
 * the name: the built-in table's entry). Commands no table knows: flags 0
 * (so: primary, never repeated), props 0 (a learned table's: see
 * cmdtable.c's miss_props), key argv[1] when present. Returns 0, or -1 if
 * the buffer is not a RESP array of bulk strings (err says where).
 */
int clusterc__cmd_inspect(const clusterc__cmdtable *t, const char *resp, size_t len,
                          clusterc__cmdinfo *out, char *err, size_t errcap);
/* The same for a command whose arguments are known (ca, filled by the
 * encoder for valid RESP text of ca->argc >= 1 arguments): no validation,
 * the same answer as clusterc__cmd_inspect of that text. */
void clusterc__cmd_inspect_args(const clusterc__cmdtable *t, const clusterc__cmdargs *ca,
                                clusterc__cmdinfo *out);
#endif
