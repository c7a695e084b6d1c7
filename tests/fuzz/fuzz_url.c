/* fuzz_url.c -- a cluster URL -> clusterc_options_parse_url (twice on the
 * same options, as a re-parse does) -> clusterc__options_check; and the
 * URL's duration and boolean value parsers. */
#include <stdlib.h>
#include "fuzz_common.h"
#include "proto/options.h"
#include "proto/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    clusterc_options o;
    clusterc_options_init(&o);
    for (int i = 0; i < 2; i++) {
        if (clusterc_options_parse_url(&o, s) == 0) {
            clusterc__err e;
            clusterc__err_clear(&e);
            (void)clusterc__options_check(&o, &e);
        } else if (clusterc_options_url_error(&o)[0] == '\0') {
            fuzz_fail("url: failed parse without a message");
        }
    }
    clusterc_options_release(&o);
    int64_t ns;
    int b;
    (void)clusterc__url_duration(s, &ns);
    (void)clusterc__url_bool(s, &b);
    free(s);
    return 0;
}
