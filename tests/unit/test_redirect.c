/* test_redirect.c -- classifying error replies, from exact-length buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "proto/redirect.h"

/* Classify from a malloc'ed buffer of exactly strlen(s) bytes with no NUL
 * after it: ASan and valgrind catch any read past len. */
static clusterc__errkind classify(const char *s, const char *self, clusterc__redirect *r)
{
    size_t n = strlen(s);
    char *buf = malloc(n ? n : 1);
    memcpy(buf, s, n);
    clusterc__errkind k = clusterc__classify_error(buf, n, self, r);
    free(buf);
    return k;
}

static void expect(const char *s, clusterc__errkind kind, int slot, const char *host, int port)
{
    clusterc__redirect r;
    assert_int_equal(classify(s, "10.0.0.9", &r), kind);
    assert_int_equal(r.kind, kind);
    assert_int_equal(r.slot, slot);
    assert_string_equal(r.target.host, host);
    assert_int_equal(r.target.port, port);
}

static void test_moved_ask(void **state)
{
    (void)state;
    expect("MOVED 3999 127.0.0.1:6381", CLUSTERC__ERR_MOVED, 3999, "127.0.0.1", 6381);
    expect("ASK 3999 127.0.0.1:6381", CLUSTERC__ERR_ASK, 3999, "127.0.0.1", 6381);
    expect("MOVED 0 a:1", CLUSTERC__ERR_MOVED, 0, "a", 1);
    expect("MOVED 16383 a:65535", CLUSTERC__ERR_MOVED, 16383, "a", 65535);
    /* Empty endpoint: the node that answered. */
    expect("MOVED 3999 :6381", CLUSTERC__ERR_MOVED, 3999, "10.0.0.9", 6381);
    expect("ASK 12 :7000", CLUSTERC__ERR_ASK, 12, "10.0.0.9", 7000);
    /* IPv6, bare and bracketed; host names. */
    expect("MOVED 3999 ::1:6381", CLUSTERC__ERR_MOVED, 3999, "::1", 6381);
    expect("MOVED 3999 [::1]:6381", CLUSTERC__ERR_MOVED, 3999, "::1", 6381);
    expect("MOVED 3999 2001:db8::7:7002", CLUSTERC__ERR_MOVED, 3999, "2001:db8::7", 7002);
    expect("ASK 5 node-3.cluster.local:6379", CLUSTERC__ERR_ASK, 5, "node-3.cluster.local", 6379);
    /* Extra words after the endpoint are ignored. */
    expect("MOVED 1 a:2 extra", CLUSTERC__ERR_MOVED, 1, "a", 2);

    clusterc__redirect r;
    assert_int_equal(classify("MOVED 1 :2", NULL, &r), CLUSTERC__ERR_MOVED);
    assert_string_equal(r.target.host, "");
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "MOVED", "ASK", "MOVED ", "MOVED 1", "MOVED 1 ", "MOVED 99999 h:1",
        "MOVED 16384 h:1", "MOVED abc h:1", "MOVED -1 h:1", "MOVED 1 h",
        "ASK 1 :", "ASK 1 h:0", "ASK 1 h:70000", "MOVED  1 h:1", "MOVED 1  h:1",
        "MOVED 123456 h:1", "ASK 1 [::1", "MOVED 1x h:1",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        clusterc__redirect r;
        if (classify(texts[i], "self", &r) != CLUSTERC__ERR_MALFORMED)
            fail_msg("\"%s\" is not MALFORMED", texts[i]);
        assert_int_equal(r.slot, -1);
    }
}

static void test_other_kinds(void **state)
{
    (void)state;
    expect("TRYAGAIN Multiple keys request during rehashing of slot",
           CLUSTERC__ERR_TRYAGAIN, -1, "", 0);
    expect("CLUSTERDOWN The cluster is down", CLUSTERC__ERR_CLUSTERDOWN, -1, "", 0);
    expect("CLUSTERDOWN Hash slot not served", CLUSTERC__ERR_CLUSTERDOWN, -1, "", 0);
    expect("LOADING Redis is loading the dataset in memory", CLUSTERC__ERR_LOADING, -1, "", 0);
    expect("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
           CLUSTERC__ERR_MASTERDOWN, -1, "", 0);
    expect("READONLY You can't write against a read only replica.",
           CLUSTERC__ERR_READONLY, -1, "", 0);
    /* The word alone counts. */
    expect("TRYAGAIN", CLUSTERC__ERR_TRYAGAIN, -1, "", 0);
    expect("LOADING", CLUSTERC__ERR_LOADING, -1, "", 0);
}

static void test_ordinary(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "ERR unknown command", "WRONGTYPE Operation against a key", "LOADINGX foo",
        "MOVEDX 1 a:1", "ASKING", "TRYAGAINNOW", "CLUSTERDOWNX", "readonly x",
        "moved 1 a:1", "", "M", "NOSCRIPT No matching script", " MOVED 1 a:1",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        clusterc__redirect r;
        if (classify(texts[i], "self", &r) != CLUSTERC__ERR_OTHER)
            fail_msg("\"%s\" is not OTHER", texts[i]);
    }
    clusterc__redirect r;
    assert_int_equal(clusterc__classify_error(NULL, 0, NULL, &r), CLUSTERC__ERR_OTHER);
}

/* A prefix of a valid redirect, cut at every length, never reads past the
 * cut and is only taken for a redirect once a port digit is in (a shorter
 * port is valid text: nothing can tell "638" from a cut "6381"). */
static void test_every_truncation(void **state)
{
    (void)state;
    const char *full = "MOVED 3999 [2001:db8::1]:6381";
    size_t n = strlen(full);
    for (size_t cut = 0; cut <= n; cut++) {
        char *buf = malloc(cut ? cut : 1);
        memcpy(buf, full, cut);
        clusterc__redirect r;
        clusterc__errkind k = clusterc__classify_error(buf, cut, "s", &r);
        free(buf);
        if (cut > n - 4)
            assert_int_equal(k, CLUSTERC__ERR_MOVED);
        else if (cut >= 5)
            assert_int_equal(k, CLUSTERC__ERR_MALFORMED);
        else
            assert_int_equal(k, CLUSTERC__ERR_OTHER);
    }
}

static void test_self_host_too_long(void **state)
{
    (void)state;
    char self[CLUSTERC__HOST_MAX + 10];
    memset(self, 'h', sizeof(self) - 1);
    self[sizeof(self) - 1] = '\0';
    clusterc__redirect r;
    assert_int_equal(classify("MOVED 1 :2", self, &r), CLUSTERC__ERR_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moved_ask),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_other_kinds),
        cmocka_unit_test(test_ordinary),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_self_host_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
