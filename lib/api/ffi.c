/* ffi.c -- the surface for foreign callers: connect by URL, walk replies
 * through accessors, and read the node stats as JSON text (the admin views
 * are in admin/views_json.c), so a binding (ctypes, cgo) never lays out a
 * struct of this library or of hiredis. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "client_int.h"
#include "face_int.h"
#include "proto/json.h"

/* ------------------------------------------------------------ connect */

CLUSTERC_API clusterc_client *clusterc_connect_url(const char *url)
{
    return clusterc_connect_url_hooks(url, NULL, NULL, NULL, NULL);
}

CLUSTERC_API clusterc_client *clusterc_connect_url_hooks(const char *url,
                                                         clusterc_event_fn *on_event,
                                                         void *event_privdata,
                                                         clusterc_command_fn *on_command,
                                                         void *command_privdata)
{
    clusterc_options o;
    clusterc_options_init(&o);
    o.on_event = on_event;
    o.event_privdata = event_privdata;
    o.on_command = on_command;
    o.command_privdata = command_privdata;
    if (clusterc_options_parse_url(&o, url) < 0) {
        /* A client that only carries the error, like clusterc_connect
         * gives for bad options: the caller has one way to learn why. */
        clusterc_options none;
        clusterc_options_init(&none);
        clusterc_client *c = clusterc_connect(&none);
        if (c)
            clusterc__client_set_error(c, CLUSTERC_EINVAL, "%s", clusterc_options_url_error(&o));
        return c;
    }
    clusterc_client *c = clusterc_connect(&o);   /* copies every string */
    clusterc_options_release(&o);
    return c;
}

/* ------------------------------------------------------------ replies */

CLUSTERC_API int clusterc_reply_type(const redisReply *r)
{
    return r ? r->type : 0;
}

CLUSTERC_API long long clusterc_reply_integer(const redisReply *r)
{
    return r ? r->integer : 0;
}

static int has_text(int type)
{
    switch (type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
#ifdef REDIS_REPLY_VERB   /* hiredis 1.x (RESP3): these carry text in str too */
    case REDIS_REPLY_VERB:
    case REDIS_REPLY_DOUBLE:
    case REDIS_REPLY_BIGNUM:
#endif
        return 1;
    default:
        return 0;
    }
}

CLUSTERC_API const char *clusterc_reply_str(const redisReply *r, size_t *len)
{
    const char *s = r && has_text(r->type) ? r->str : NULL;
    if (len)
        *len = s ? r->len : 0;
    return s;
}

static int has_elements(int type)
{
#ifdef REDIS_REPLY_MAP
    if (type == REDIS_REPLY_MAP || type == REDIS_REPLY_SET || type == REDIS_REPLY_PUSH)
        return 1;
#endif
    return type == REDIS_REPLY_ARRAY;
}

CLUSTERC_API size_t clusterc_reply_elements(const redisReply *r)
{
    return r && has_elements(r->type) ? r->elements : 0;
}

CLUSTERC_API const redisReply *clusterc_reply_element(const redisReply *r, size_t i)
{
    return i < clusterc_reply_elements(r) ? r->element[i] : NULL;
}

CLUSTERC_API void clusterc_reply_free(redisReply *r)
{
    if (r)
        freeReplyObject(r);
}

CLUSTERC_API void clusterc_free_string(char *s)
{
    free(s);
}

/* ------------------------------------------------------------ JSON */

static void node_info_json(clusterc__json *j, const clusterc_node_info *n)
{
    clusterc__json_object(j);
    clusterc__json_kstr(j, "addr", n->addr);
    clusterc__json_kstr(j, "announced", n->announced);
    clusterc__json_kstr(j, "id", n->id);
    clusterc__json_kstr(j, "role", n->is_primary ? "primary" : "replica");
    clusterc__json_kint(j, "shard", n->shard);
    clusterc__json_kbool(j, "connected", n->connected);
    clusterc__json_kuint(j, "reads", n->reads);
    clusterc__json_kuint(j, "writes", n->writes);
    clusterc__json_kuint(j, "redirects", n->redirects);
    clusterc__json_kuint(j, "errors", n->errors);
    clusterc__json_kint_known(j, "latency_us", n->latency_us);
    clusterc__json_kint_known(j, "lag_s", n->lag_s);
    clusterc__json_kint_known(j, "lag_bytes", n->lag_bytes);
    clusterc__json_kstr(j, "az", n->az);
    clusterc__json_kbool(j, "eligible", n->eligible);
    clusterc__json_kstr(j, "why", n->why ? n->why : "");
    clusterc__json_object_end(j);
}

CLUSTERC_API char *clusterc_node_stats_json(const clusterc_client *cc)
{
    /* The error is the client's state, not its view: setting it on a const
     * handle is what clusterc_errstr's contract asks for. */
    clusterc_client *c = (clusterc_client *)cc;
    if (!c)
        return NULL;
    int n = clusterc_node_stats(c, NULL, 0);
    if (n < 0) {
        clusterc__client_set_error(c, CLUSTERC_ETOPOLOGY, "node stats: no slot map yet");
        return NULL;
    }
    clusterc_node_info *v = calloc((size_t)n + 1, sizeof(*v));
    if (!v) {
        clusterc__client_set_error(c, CLUSTERC_ENOMEM, "node stats: out of memory");
        return NULL;
    }
    int got = clusterc_node_stats(c, v, n);   /* no call in between: same map */
    char *s = clusterc__nodes_json(v, got < n ? got : n);
    free(v);
    if (!s)
        clusterc__client_set_error(c, CLUSTERC_ENOMEM, "JSON view: out of memory");
    return s;
}

char *clusterc__nodes_json(const clusterc_node_info *v, int n)
{
    clusterc__json j;
    clusterc__json_init(&j);
    clusterc__json_array(&j);
    for (int i = 0; i < n; i++)
        node_info_json(&j, &v[i]);
    clusterc__json_array_end(&j);
    return clusterc__json_finish(&j);
}
