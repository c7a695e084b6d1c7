/* fake_shards.h -- synthetic clusters of any size behind the engine's dial
 * seam, for the scale benchmark and tests (tests/scale/, issue 16). One
 * fake at a time per process; start it before creating the client. */
#ifndef CLUSTERC_FAKE_SHARDS_H
#define CLUSTERC_FAKE_SHARDS_H
#include <stddef.h>

#define FAKE_SHARDS_PORT0 10000   /* node number k is 127.0.0.1:(10000 + k) */

/* A CLUSTER SHARDS reply (malloc'ed, *len bytes) of primaries shards with
 * replicas replicas each, slots split evenly. Node at position i (shard
 * i / (1 + replicas), primary first) is node number port_of[i], or i when
 * port_of is NULL; its id is derived from that number. */
char *fake_shards_reply(int primaries, int replicas, const int *port_of, size_t *len);

/* Serve reply (ownership passes) to every CLUSTER SHARDS from now on. */
void fake_shards_set_map(char *reply, size_t len);

/* Start answering (command_ok: COMMAND gets an empty table, else NOPERM)
 * and set the dial seam; 0 or -1. stop undoes both. */
int fake_shards_start(int command_ok);
void fake_shards_stop(void);

/* How many CLUSTER SHARDS / COMMAND were answered so far; GETs received
 * by connections dialled to port; connections dialled (each a socketpair). */
long fake_shards_served(void);
long fake_shards_commands(void);
long fake_shards_gets(int port);
int fake_shards_dials(void);
#endif
