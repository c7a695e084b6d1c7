/* redirect.c -- classify cluster error replies (pure). */
#include <string.h>
#include "redirect.h"

/* The error codes the engine acts on. Matched as the whole first word, so a
 * module error such as "LOADINGX" or "MOVEDTO" stays an ordinary error. */
static const struct {
    const char *word;
    clusterc__errkind kind;
} codes[] = {
    {"MOVED", CLUSTERC__ERR_MOVED},
    {"ASK", CLUSTERC__ERR_ASK},
    {"TRYAGAIN", CLUSTERC__ERR_TRYAGAIN},
    {"CLUSTERDOWN", CLUSTERC__ERR_CLUSTERDOWN},
    {"LOADING", CLUSTERC__ERR_LOADING},
    {"MASTERDOWN", CLUSTERC__ERR_MASTERDOWN},
    {"READONLY", CLUSTERC__ERR_READONLY},
};

/* Length of the token starting at s (up to a space or end). */
static size_t token_len(const char *s, size_t len)
{
    size_t n = 0;
    while (n < len && s[n] != ' ')
        n++;
    return n;
}

/* "<slot> <endpoint:port>" after the code word. Anything after the
 * endpoint (after a space) is ignored: a future server may append detail,
 * and the slot and target are all we need. */
static int parse_target(const char *s, size_t len, const char *self_host,
                        clusterc__redirect *out)
{
    size_t n = token_len(s, len);
    if (n == 0 || n > 5)
        return -1;
    int slot = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        slot = slot * 10 + (s[i] - '0');
    }
    if (slot > 16383 || n == len)
        return -1;
    s += n + 1;
    len -= n + 1;
    n = token_len(s, len);
    if (n == 0 || clusterc__addr_parse(s, n, &out->target, NULL, 0) != 0)
        return -1;
    /* "MOVED 3999 :6381": the spec says an empty endpoint is the node that
     * answered, on the given port. */
    if (out->target.host[0] == '\0' && self_host != NULL) {
        size_t hl = strlen(self_host);
        if (hl >= sizeof(out->target.host))
            return -1;
        memcpy(out->target.host, self_host, hl + 1);
    }
    out->slot = slot;
    return 0;
}

clusterc__errkind clusterc__classify_error(const char *str, size_t len,
                                           const char *self_host,
                                           clusterc__redirect *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = CLUSTERC__ERR_OTHER;
    out->slot = -1;
    if (str == NULL)
        return out->kind;
    size_t w = token_len(str, len);
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (strlen(codes[i].word) == w && memcmp(codes[i].word, str, w) == 0) {
            out->kind = codes[i].kind;
            break;
        }
    }
    if (out->kind == CLUSTERC__ERR_MOVED || out->kind == CLUSTERC__ERR_ASK) {
        /* A MOVED/ASK we cannot follow must not look like an ordinary error
         * to the caller: it means the client or the server is broken. */
        if (w == len || parse_target(str + w + 1, len - w - 1, self_host, out) != 0) {
            memset(&out->target, 0, sizeof(out->target));
            out->slot = -1;
            out->kind = CLUSTERC__ERR_MALFORMED;
        }
    }
    return out->kind;
}
