/* test_addr.c -- host:port parsing, formatting and seed lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "proto/addr.h"
#include "proto/options.h"

/* Parse from a malloc'ed buffer of exactly strlen(s) bytes, so ASan and
 * valgrind catch any read past len. */
static int parse(const char *s, clusterc__addr *a, char *err, size_t cap)
{
    size_t n = strlen(s);
    char *buf = malloc(n ? n : 1);
    memcpy(buf, s, n);
    int rc = clusterc__addr_parse(buf, n, a, err, cap);
    free(buf);
    return rc;
}

static void ok(const char *s, const char *host, int port)
{
    clusterc__addr a;
    char err[128] = "";
    assert_int_equal(parse(s, &a, err, sizeof(err)), 0);
    assert_string_equal(a.host, host);
    assert_int_equal(a.port, port);
}

static void bad(const char *s, const char *why)
{
    clusterc__addr a;
    char err[256] = "";
    assert_int_equal(parse(s, &a, err, sizeof(err)), -1);
    if (strstr(err, why) == NULL)
        fail_msg("\"%s\": error \"%s\" lacks \"%s\"", s, err, why);
}

static void test_forms(void **state)
{
    (void)state;
    ok("127.0.0.1:7000", "127.0.0.1", 7000);
    ok("redis-1.example.com:6379", "redis-1.example.com", 6379);
    ok("[::1]:7001", "::1", 7001);
    ok("[fe80::1%eth0]:7001", "fe80::1%eth0", 7001);
    ok("::1:7001", "::1", 7001);
    ok("2001:db8::2:65535", "2001:db8::2", 65535);
    ok(":7001", "", 7001);
    ok("[]:1", "", 1);
    ok("h:1", "h", 1);
    ok("my-host_1.example:1", "my-host_1.example", 1);
    ok("[fe80::1%25eth0]:7001", "fe80::1%25eth0", 7001);
}

static void test_errors(void **state)
{
    (void)state;
    bad("", "missing port");
    bad("localhost", "missing port");
    bad("localhost:", "missing port");
    bad("[::1]", "missing port");
    bad("[::1]:", "missing port");
    bad("[::1]7001", "missing port");
    bad("[::1:7001", "missing ']'");
    bad("h:0", "port");
    bad("h:65536", "port");
    bad("h:99999999", "port");
    bad("h:-1", "port");
    bad("h:+1", "port");
    bad("h:7a", "port");
    bad("h:7 ", "port");
    bad("h 1:7000", "invalid character in host (a space or control byte)");
    bad("h\t1:7000", "a space or control byte");
    bad("h\n:7000", "a space or control byte");
    bad("h\x7f:7000", "a space or control byte");
    /* A URL's characters: a host holding them would carry a password to
     * the resolver and into every message naming the node. */
    bad("app:pw@127.0.0.1:7001", "invalid character '@' in host");
    bad("redis://h:7001", "invalid character '/' in host");
    bad("h?x:7001", "invalid character '?' in host");
    bad("h#x:7001", "invalid character '#' in host");
    bad("[a@b]:7001", "invalid character '@' in host");
    bad("h]:7001", "invalid character ']' in host");
    /* The error names the text. */
    bad("nohost", "\"nohost\"");
    char longhost[CLUSTERC__HOST_MAX + 8];
    memset(longhost, 'a', CLUSTERC__HOST_MAX);
    strcpy(longhost + CLUSTERC__HOST_MAX, ":1");
    bad(longhost, "too long");
    /* The longest host that fits. */
    longhost[CLUSTERC__HOST_MAX - 1] = ':';
    longhost[CLUSTERC__HOST_MAX] = '9';
    longhost[CLUSTERC__HOST_MAX + 1] = '\0';
    clusterc__addr a;
    assert_int_equal(parse(longhost, &a, NULL, 0), 0);
    assert_int_equal(strlen(a.host), CLUSTERC__HOST_MAX - 1);
}

static void test_format(void **state)
{
    (void)state;
    char buf[CLUSTERC__ADDR_MAX];
    assert_string_equal(clusterc__addr_format(buf, sizeof(buf), "10.0.0.1", 7000), "10.0.0.1:7000");
    assert_string_equal(clusterc__addr_format(buf, sizeof(buf), "::1", 7001), "[::1]:7001");
    char small[6];
    assert_string_equal(clusterc__addr_format(small, sizeof(small), "abcdef", 1), "abcde");
    /* Round trip. */
    clusterc__addr a;
    assert_int_equal(parse(clusterc__addr_format(buf, sizeof(buf), "fe80::2", 9), &a, NULL, 0), 0);
    assert_string_equal(a.host, "fe80::2");
    assert_int_equal(a.port, 9);
}

static void test_seeds(void **state)
{
    (void)state;
    clusterc__addr *v = NULL;
    size_t n = 0;
    char err[256];
    assert_int_equal(clusterc__seeds_parse(" a:1, [::1]:2 ,,b:3 , ", &v, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 3);
    assert_string_equal(v[0].host, "a");
    assert_int_equal(v[0].port, 1);
    assert_string_equal(v[1].host, "::1");
    assert_int_equal(v[1].port, 2);
    assert_string_equal(v[2].host, "b");
    free(v);

    assert_int_equal(clusterc__seeds_parse("one:1", &v, &n, err, sizeof(err)), 0);
    assert_int_equal(n, 1);
    free(v);

    assert_int_equal(clusterc__seeds_parse("a:1,b:0,c:3", &v, &n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "\"b:0\""));
    assert_int_equal(clusterc__seeds_parse("a:1,nope", &v, &n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "\"nope\""));
    assert_int_equal(clusterc__seeds_parse("a:1,:7001", &v, &n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "\":7001\": missing host"));
    assert_int_equal(clusterc__seeds_parse("a:1,u:p@b:2", &v, &n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "invalid character '@'"));
    assert_int_equal(clusterc__seeds_parse("redis://b:2", &v, &n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "invalid character '/'"));
    assert_int_equal(clusterc__seeds_parse("", &v, &n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(clusterc__seeds_parse(" , ,", &v, &n, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(clusterc__seeds_parse(NULL, &v, &n, err, sizeof(err)), -1);
}

/* The seeds option holding a URL: named, never quoted (it may hold a
 * password); one without user info is quoted with the bad character. */
static void test_seeds_option(void **state)
{
    (void)state;
    static const char *const urls[] = {"redis://app:pw@h:1", "app:pw@h:1", "h:1, :pw@h:2",
                                       "rediss://:pw@[::1]:1"};
    clusterc_options o;
    clusterc__err err;
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        clusterc_options_init(&o);
        o.seeds = urls[i];
        assert_int_equal(clusterc__options_check(&o, &err), -1);
        assert_int_equal(err.code, CLUSTERC_EINVAL);
        assert_string_equal(err.str, "option seeds: a seed holds '@' (a URL with user info? "
                                     "pass URLs to clusterc_options_parse_url; seeds are "
                                     "host:port)");
    }
    o.seeds = "redis://h:1";
    assert_int_equal(clusterc__options_check(&o, &err), -1);
    assert_non_null(strstr(err.str, "option seeds: bad address \"redis://h:1\": "
                                    "invalid character '/' in host"));
    o.seeds = "h:1,h2:2";
    assert_int_equal(clusterc__options_check(&o, &err), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_seeds),
        cmocka_unit_test(test_seeds_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
