/* dns.h -- host-name lookups that can be abandoned at any time (internal).
 *
 * libevent's evdns delivers the cancellation of a lookup later, from the
 * loop, and needs its evdns_base alive until then: freeing the base first
 * leaks the lookup (and a callback arriving after its owner is gone would
 * touch freed memory). So every lookup goes through a holder that counts
 * the lookups still owed a callback; an owner that goes away releases the
 * holder, which frees itself (and the evdns_base) once the last one landed.
 */
#ifndef CLUSTERC_DNS_H
#define CLUSTERC_DNS_H
#include <event2/event.h>
#include <event2/util.h>

typedef struct clusterc__dns clusterc__dns;
typedef struct clusterc__dns_lookup clusterc__dns_lookup;

/* result, res as evdns_getaddrinfo gives them; res belongs to the callee. */
typedef void clusterc__dns_fn(int result, struct evutil_addrinfo *res, void *arg);

/* A holder on base; the evdns_base is made on the first lookup. NULL on OOM. */
clusterc__dns *clusterc__dns_new(struct event_base *base);

/* Resolve host:port (TCP). fn runs exactly once unless the lookup is
 * cancelled first, maybe from inside this call. Returns the lookup while
 * it is in flight, NULL when it already finished (fn ran) or could not
 * start (fn ran with an error). */
clusterc__dns_lookup *clusterc__dns_resolve(clusterc__dns *d, const char *host, int port,
                                            clusterc__dns_fn *fn, void *arg);

/* fn will not run for l; its memory goes when libevent lets go of it. */
void clusterc__dns_cancel(clusterc__dns_lookup *l);

/* The owner is done with d: freed now if no lookup is owed a callback,
 * else once the last cancellation lands (from the loop). NULL-safe. */
void clusterc__dns_release(clusterc__dns *d);

/* Lookups still owed a callback (in flight or cancelled, not yet landed). */
int clusterc__dns_outstanding(const clusterc__dns *d);
#endif
