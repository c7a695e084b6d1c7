/* cmdtable.h -- where a command's key is and whether it only reads (pure). */
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

typedef struct clusterc__cmdtable clusterc__cmdtable;

/* The built-in table of core commands (static; never freed). */
const clusterc__cmdtable *clusterc__cmdtable_builtin(void);

/*
 * Build a table from a COMMAND (or COMMAND INFO) reply: name, arity, flags,
 * first key, last key, step per entry (Redis 7 extra fields ignored).
 * Commands with movable keys get their key position from the built-in
 * rules (EVAL numkeys, XREAD STREAMS, ...). Returns 0 and *out (free with
 * clusterc__cmdtable_free), or -1 with err saying which entry is malformed.
 */
int clusterc__cmdtable_from_reply(const redisReply *r, clusterc__cmdtable **out,
                                  char *err, size_t errcap);
/* Free a learned table. NULL and the built-in table are harmless no-ops. */
void clusterc__cmdtable_free(clusterc__cmdtable *t);

/* Check the table's invariants (lowercase names, strictly sorted, every name
 * found by lookup). Returns 0 or -1. For the unit tests. */
int clusterc__cmdtable_selfcheck(const clusterc__cmdtable *t);

typedef struct clusterc__cmdinfo {
    unsigned flags;        /* CLUSTERC__CMD_* */
    int slot;              /* slot of the first key, -1 when keyless */
    const char *name;      /* points into the RESP buffer (not NUL-terminated) */
    size_t namelen;
} clusterc__cmdinfo;

/*
 * Inspect a command already in RESP form ("*N\r\n$len\r\nNAME\r\n..."), as
 * redisFormatCommand produced it: find its name, flags and the slot of its
 * first key (argv[first] for fixed positions; EVAL/EVALSHA/FCALL[_RO] use
 * numkeys; XREAD/XREADGROUP the first key after STREAMS; ...). Commands the
 * table does not know: flags 0 (so: primary, never repeated), key argv[1]
 * when present. Returns 0, or -1 if the buffer is not a RESP array of bulk
 * strings (err says where).
 */
int clusterc__cmd_inspect(const clusterc__cmdtable *t, const char *resp, size_t len,
                          clusterc__cmdinfo *out, char *err, size_t errcap);
#endif
