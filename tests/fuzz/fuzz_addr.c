/* fuzz_addr.c -- "host:port" -> clusterc__addr_parse (and back through
 * clusterc__addr_format), and a seed list -> clusterc__seeds_parse. */
#include <stdlib.h>
#include <string.h>
#include "fuzz_common.h"
#include "proto/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clusterc__addr a, b;
    char err[512], text[CLUSTERC__ADDR_MAX];
    if (clusterc__addr_parse((const char *)data, size, &a, err, sizeof(err)) == 0) {
        if (a.port < 1 || a.port > 65535)
            fuzz_fail("addr: port out of range");
        if (memchr(a.host, '\0', sizeof(a.host)) == NULL)
            fuzz_fail("addr: host not terminated");
        /* What parse accepted, format writes in a form parse reads back. */
        if (memchr(data, '\0', size) == NULL && a.host[0] != '\0') {
            clusterc__addr_format(text, sizeof(text), a.host, a.port);
            if (clusterc__addr_parse(text, strlen(text), &b, err, sizeof(err)) != 0 ||
                b.port != a.port || strcmp(a.host, b.host) != 0)
                fuzz_fail("addr: format does not parse back");
        }
    }
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    clusterc__addr *v = NULL;
    size_t n = 0;
    if (clusterc__seeds_parse(s, &v, &n, err, sizeof(err)) == 0) {
        if (n == 0)
            fuzz_fail("seeds: success with no seed");
        free(v);
    }
    free(s);
    return 0;
}
