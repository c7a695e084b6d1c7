/* dns.c -- host-name lookups that can be abandoned at any time (see dns.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/dns.h>
#include "dns.h"

struct clusterc__dns {
    struct event_base *base;
    struct evdns_base *evdns;
    int outstanding;    /* lookups whose callback has not landed */
    int released;       /* the owner is gone: free once outstanding is 0 */
};

struct clusterc__dns_lookup {
    clusterc__dns *d;
    clusterc__dns_fn *fn;   /* NULL once cancelled */
    void *arg;
    struct evdns_getaddrinfo_request *req;
    int in_call;            /* evdns_getaddrinfo has not returned yet */
    int landed;             /* the callback ran inside that call */
};

clusterc__dns *clusterc__dns_new(struct event_base *base)
{
    clusterc__dns *d = calloc(1, sizeof(*d));
    if (d)
        d->base = base;
    return d;
}

static void dns_destroy(clusterc__dns *d)
{
    if (d->evdns)
        evdns_base_free(d->evdns, 0);
    free(d);
}

/* From the loop, never from inside an evdns callback: evdns may still be
 * using its base when the callback returns. */
static void destroy_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd; (void)what;
    dns_destroy(arg);
}

static void landed(clusterc__dns *d)
{
    static const struct timeval now = { 0, 0 };
    if (--d->outstanding == 0 && d->released &&
        event_base_once(d->base, -1, EV_TIMEOUT, destroy_cb, d, &now) < 0)
        dns_destroy(d);   /* no memory for the timer: better now than never */
}

static void on_result(int result, struct evutil_addrinfo *res, void *arg)
{
    clusterc__dns_lookup *l = arg;
    clusterc__dns *d = l->d;
    if (l->fn)
        l->fn(result, res, l->arg);
    else if (res)
        evutil_freeaddrinfo(res);
    if (l->in_call) {   /* answered at once: clusterc__dns_resolve frees l */
        l->landed = 1;
        return;
    }
    free(l);
    landed(d);
}

clusterc__dns_lookup *clusterc__dns_resolve(clusterc__dns *d, const char *host, int port,
                                            clusterc__dns_fn *fn, void *arg)
{
    struct evutil_addrinfo hints;
    char ports[8];
    clusterc__dns_lookup *l = calloc(1, sizeof(*l));
    if (!d->evdns)
        d->evdns = evdns_base_new(d->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    if (!l || !d->evdns) {
        free(l);
        fn(EVUTIL_EAI_MEMORY, NULL, arg);
        return NULL;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(ports, sizeof(ports), "%d", port);
    l->d = d;
    l->fn = fn;
    l->arg = arg;
    l->in_call = 1;
    d->outstanding++;
    /* Returns NULL when the callback already ran (a hosts-file hit, an
     * immediate failure). */
    l->req = evdns_getaddrinfo(d->evdns, host, ports, &hints, on_result, l);
    l->in_call = 0;
    if (l->landed) {
        free(l);
        d->outstanding--;
        return NULL;
    }
    return l;
}

void clusterc__dns_cancel(clusterc__dns_lookup *l)
{
    if (!l || !l->fn)
        return;
    l->fn = NULL;
    /* The cancellation lands from the loop (on_result drops it); until
     * then evdns holds l and needs its base. */
    if (l->req)
        evdns_getaddrinfo_cancel(l->req);
}

void clusterc__dns_release(clusterc__dns *d)
{
    if (!d)
        return;
    d->released = 1;
    if (d->outstanding == 0)
        dns_destroy(d);
}

int clusterc__dns_outstanding(const clusterc__dns *d) { return d ? d->outstanding : 0; }
