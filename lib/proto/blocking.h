/* blocking.h -- which commands block, for how long, and which belong to
 * Pub/Sub (pure). */
#ifndef CLUSTERC_BLOCKING_H
#define CLUSTERC_BLOCKING_H
#include <stddef.h>
#include <stdint.h>

/*
 * The server-side timeout of a blocking command in RESP form (as
 * redisFormatCommand made it): BLPOP, BRPOP, BZPOPMIN, BZPOPMAX (last
 * argument, seconds), BLMOVE, BRPOPLPUSH (last, seconds), BLMPOP, BZMPOP
 * (argv[1], seconds), XREAD / XREADGROUP with BLOCK (milliseconds), WAIT
 * (argv[2], ms), WAITAOF (argv[3], ms). Seconds may be fractional ("0.5").
 * Returns 1 with *ms (0 = block forever); 2 with *ms for WAIT and WAITAOF,
 * which wait for the writes of the connection they run on and so must run
 * on the connection that carried those writes, not a connection of their
 * own; 0 when the command does not block (XREAD without BLOCK, any other
 * command); -1 when its timeout cannot be read (the server will refuse
 * it: send it as a plain command).
 */
int clusterc__block_timeout(const char *resp, size_t len, int64_t *ms);

/* SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, UNSUBSCRIBE, PUNSUBSCRIBE,
 * SUNSUBSCRIBE, MONITOR (any case): commands that turn a connection into
 * something else and must not go through the command functions. */
int clusterc__is_pubsub(const char *name, size_t len);

/* AUTH and HELLO: they change one connection's user or protocol, not the
 * client's (which has many connections, each authenticated by the
 * handshake with the options' credentials, and parses RESP2 only). */
int clusterc__is_session_cmd(const char *name, size_t len);

/* A command the command functions refuse (Pub/Sub, AUTH, HELLO): 1 with
 * why saying what to use instead, else 0. */
int clusterc__cmd_not_here(const char *name, size_t len, char *why, size_t cap);
#endif
