/* fuzz_engine.h -- between the engine harness (fuzz_engine.c) and the fake
 * cluster it runs against (fuzz_engine_srv.c). */
#ifndef CLUSTERC_FUZZ_ENGINE_H
#define CLUSTERC_FUZZ_ENGINE_H
#include <stddef.h>
#include <stdint.h>

struct event_base;

/* Connections one input may open; later dials fail (ECONNREFUSED). */
#define FZ_MAX_CONNS 16

/* Start a run: no connection yet, the dial seam installed. canned: answer
 * the map, handshake and probe commands with fixed replies of a healthy
 * 3+3 cluster (127.0.0.1:24901..24906); slots_only: in canned mode, refuse
 * CLUSTER SHARDS as Redis 6 does, so the client falls back to CLUSTER
 * SLOTS. trace: say on stderr what the client sends and where each chunk
 * goes (FUZZ_ENGINE_TRACE=1, for writing seeds). */
void fz_srv_begin(int canned, int slots_only, int trace);

/* Read what the client wrote on every server end (its commands must be
 * well-formed RESP: a finding otherwise) and answer the canned ones that
 * are due. */
void fz_srv_poll(void);

/* Write fuzzed server bytes to the connection whose oldest request is
 * unanswered (the first open one when none waits; dropped when none is
 * open). Returns 0, or -1 when the bytes would announce an aggregate of
 * 10000 or more elements (hiredis allocates its array up front: hiredis's
 * problem, not ours); the input ends there. */
int fz_srv_deliver(const uint8_t *p, size_t n);

/* Trace mode: say which request the next chunk would answer
 * ("[srv] next: #seq", or "none"): tests/fuzz/engine_seeds.py asks it. */
void fz_srv_trace_next(void);

/* Close every server end: the client sees EOF; dials fail from now on. */
void fz_srv_close_all(void);

/* After the event base is freed: every socket the run made must be
 * closed (a finding otherwise); the readers are freed. */
void fz_srv_end(void);

/* Time passes: every pending timer of base due within horizon_ms fires
 * (made active, earliest first), at the next turn of the loop. No run
 * waits for a real clock: the timeouts are set long enough that none
 * expires by itself while an input runs. */
void fz_warp(struct event_base *base, int64_t horizon_ms);
#endif
