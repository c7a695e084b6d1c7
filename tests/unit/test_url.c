/* test_url.c -- clusterc_options from go-redis style cluster URLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "proto/url.h"

/* Parse url into fresh options, asserting success. */
static void ok(clusterc_options *o, const char *url)
{
    clusterc_options_init(o);
    int rc = clusterc_options_parse_url(o, url);
    if (rc != 0)
        fail_msg("%s: %s", url, clusterc_options_url_error(o));
}

/* Parse url, asserting failure with an error containing want. */
static void bad(const char *url, const char *want)
{
    clusterc_options o;
    clusterc_options_init(&o);
    assert_int_equal(clusterc_options_parse_url(&o, url), -1);
    const char *e = clusterc_options_url_error(&o);
    if (!strstr(e, want))
        fail_msg("%s: error \"%s\" lacks \"%s\"", url, e, want);
    assert_null(o.url_strings);
    assert_null(o.seeds);   /* untouched */
    clusterc_options_release(&o);
}

/* bad(), and the error must not contain secret. */
static void bad_secret(const char *url, const char *want, const char *secret)
{
    clusterc_options o;
    clusterc_options_init(&o);
    assert_int_equal(clusterc_options_parse_url(&o, url), -1);
    const char *e = clusterc_options_url_error(&o);
    if (!strstr(e, want) || strstr(e, secret))
        fail_msg("%s: error \"%s\" lacks \"%s\" or shows \"%s\"", url, e, want, secret);
    clusterc_options_release(&o);
}

static void test_issue_example(void **state)
{
    (void)state;
    clusterc_options o;
    ok(&o, "redis://user:pass@127.0.0.1:7001?addr=127.0.0.1:7002&read_only=true"
           "&route_by_latency=true&route_randomly=false&max_redirects=3&dial_timeout=1s"
           "&read_timeout=2s");
    assert_string_equal(o.seeds, "127.0.0.1:7001,127.0.0.1:7002");
    assert_string_equal(o.username, "user");
    assert_string_equal(o.password, "pass");
    assert_int_equal(o.read_only, 1);
    assert_int_equal(o.route_by_latency, 1);
    assert_int_equal(o.route_randomly, 0);
    assert_int_equal(o.max_redirects, 3);
    assert_int_equal(o.connect_timeout_ms, 1000);
    assert_int_equal(o.command_timeout_ms, 2000);
    assert_string_equal(clusterc_options_url_error(&o), "");
    clusterc_options_release(&o);
    assert_null(o.seeds);
    assert_null(o.password);
    clusterc_options_release(&o);   /* idempotent */
    clusterc_options_release(NULL);
}

/* rediss:// and the TLS keys (the option checks themselves are in
 * test_options.c: a parse only fills fields). */
static void test_tls(void **state)
{
    (void)state;
    clusterc_options o;
    ok(&o, "rediss://u:pw@h1:6380?tls_ca_file=/ca.pem&tls_ca_dir=/cas&tls_cert_file=/c.pem"
           "&tls_key_file=/k.pem&tls_server_name=redis.example&tls_insecure_skip_verify=yes"
           "&tls_min_version=1.3");
    assert_int_equal(o.tls, 1);
    assert_string_equal(o.seeds, "h1:6380");
    assert_string_equal(o.tls_ca_file, "/ca.pem");
    assert_string_equal(o.tls_ca_dir, "/cas");
    assert_string_equal(o.tls_cert_file, "/c.pem");
    assert_string_equal(o.tls_key_file, "/k.pem");
    assert_string_equal(o.tls_server_name, "redis.example");
    assert_int_equal(o.tls_insecure_skip_verify, 1);
    assert_string_equal(o.tls_min_version, "1.3");
    clusterc_options_release(&o);
    assert_null(o.tls_ca_file);   /* released strings are not left dangling */
    ok(&o, "REDISS://h1");
    assert_int_equal(o.tls, 1);
    assert_string_equal(o.seeds, "h1:6379");
    clusterc_options_release(&o);
    ok(&o, "redis://h1?tls=true");
    assert_int_equal(o.tls, 1);
    clusterc_options_release(&o);
    ok(&o, "redis://h1");
    assert_int_equal(o.tls, 0);
    clusterc_options_release(&o);
}

static void test_every_key_values(void **state)
{
    (void)state;
    clusterc_options o;
    ok(&o, "redis://h1:1?addr=h2:2&read_only=1&route_by_latency=yes&route_randomly=TRUE"
           "&max_redirects=-1&max_retries=5&dial_timeout=250ms&read_timeout=3"
           "&write_timeout=9s&client_name=app%201&username=u&password=p"
           "&min_retry_backoff=10ms&max_retry_backoff=1s&latency_tolerance=2ms"
           "&latency_replicas_only=true&latency_probe=500ms&failing_timeout=1m"
           "&max_lag=5s&max_lag_bytes=1048576&lag_probe=250ms&read_your_writes=No"
           "&refresh_interval=2m&refresh_min_interval=0&node_address_map=a:1%3Db:2"
           "&protocol=2&pool_size=10&pool_fifo=false&min_idle_conns=1&max_idle_conns=2"
           "&max_active_conns=3&pool_timeout=4s&conn_max_idle_time=5m"
           "&conn_max_lifetime=1h&blocking_pool_size=2&pubsub_queue_max=50"
           "&client_az=us-east-1a&az_affinity=2");
    assert_string_equal(o.seeds, "h1:1,h2:2");
    assert_int_equal(o.read_only, 1);
    assert_int_equal(o.route_by_latency, 1);
    assert_int_equal(o.route_randomly, 1);
    assert_int_equal(o.max_redirects, -1);
    assert_int_equal(o.max_retries, 5);
    assert_int_equal(o.connect_timeout_ms, 250);
    assert_int_equal(o.command_timeout_ms, 3000);   /* read_timeout wins over write */
    assert_string_equal(o.client_name, "app 1");
    assert_string_equal(o.client_az, "us-east-1a");
    assert_int_equal(o.az_affinity, 2);
    assert_string_equal(o.username, "u");
    assert_string_equal(o.password, "p");
    assert_int_equal(o.retry_backoff_min_ms, 10);
    assert_int_equal(o.retry_backoff_max_ms, 1000);
    assert_int_equal(o.latency_tolerance_us, 2000);
    assert_int_equal(o.latency_replicas_only, 1);
    assert_int_equal(o.latency_probe_ms, 500);
    assert_int_equal(o.failing_ms, 60000);
    assert_int_equal(o.max_lag_ms, 5000);
    assert_int_equal(o.max_lag_bytes, 1048576);
    assert_int_equal(o.lag_probe_ms, 250);
    assert_int_equal(o.read_your_writes, 0);
    assert_int_equal(o.refresh_interval_ms, 120000);
    assert_int_equal(o.refresh_min_interval_ms, 0);
    assert_string_equal(o.node_address_map, "a:1=b:2");
    assert_int_equal(o.blocking_pool_size, 2);
    assert_int_equal(o.pubsub_queue_max, 50);
    clusterc_options_release(&o);
}

static void test_defaults_kept(void **state)
{
    (void)state;
    clusterc_options o;
    ok(&o, "redis://127.0.0.1:7001");
    clusterc_options d;
    clusterc_options_init(&d);
    assert_string_equal(o.seeds, "127.0.0.1:7001");
    assert_null(o.username);
    assert_null(o.password);
    assert_int_equal(o.connect_timeout_ms, d.connect_timeout_ms);
    assert_int_equal(o.command_timeout_ms, d.command_timeout_ms);
    assert_int_equal(o.max_redirects, d.max_redirects);
    clusterc_options_release(&o);
    /* An empty value leaves the field alone (go-redis: "" is the default). */
    ok(&o, "redis://h:1?dial_timeout=&read_only=&max_redirects=");
    assert_int_equal(o.connect_timeout_ms, d.connect_timeout_ms);
    assert_int_equal(o.read_only, 0);
    assert_int_equal(o.max_redirects, 3);
    clusterc_options_release(&o);
    /* Fields set before the parse stay. */
    clusterc_options_init(&o);
    o.tcp_keepalive_s = 7;
    o.max_retries = 2;
    assert_int_equal(clusterc_options_parse_url(&o, "redis://h:1?read_only=true"), 0);
    assert_int_equal(o.tcp_keepalive_s, 7);
    assert_int_equal(o.max_retries, 2);
    clusterc_options_release(&o);
}

static void test_write_timeout(void **state)
{
    (void)state;
    clusterc_options o;
    ok(&o, "redis://h:1?write_timeout=5s");
    assert_int_equal(o.command_timeout_ms, 5000);
    clusterc_options_release(&o);
    ok(&o, "redis://h:1?read_timeout=1s&write_timeout=5s");   /* either order */
    assert_int_equal(o.command_timeout_ms, 1000);
    clusterc_options_release(&o);
    ok(&o, "redis://h:1?write_timeout=5s&read_timeout=1s");
    assert_int_equal(o.command_timeout_ms, 1000);
    clusterc_options_release(&o);
}

static void test_durations(void **state)
{
    (void)state;
    static const struct { const char *s; int64_t ns; } good[] = {
        {"1s", 1000000000LL}, {"500ms", 500000000LL}, {"1m30s", 90000000000LL},
        {"2h", 7200000000000LL}, {"250us", 250000LL}, {"250\xc2\xb5s", 250000LL},
        {"250\xce\xbcs", 250000LL}, {"10ns", 10}, {"1.5s", 1500000000LL},
        {".5s", 500000000LL}, {"1h2m3s4ms", 3723004000000LL}, {"7", 7000000000LL},
        {"0", 0}, {"-1", -1000000000LL}, {"-1.5s", -1500000000LL}, {"+2s", 2000000000LL},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t ns = -42;
        if (clusterc__url_duration(good[i].s, &ns) != 0)
            fail_msg("duration \"%s\" refused", good[i].s);
        if (ns != good[i].ns)
            fail_msg("duration \"%s\" = %lld, want %lld", good[i].s, (long long)ns,
                     (long long)good[i].ns);
    }
    static const char *const badv[] = {"", "x", "1", "s", "1x", "1.s.", "5 s", "1s ", "-",
                                       "1e3s", "9999999999h", "1..5s", "ms"};
    for (size_t i = 0; i < sizeof(badv) / sizeof(badv[0]); i++) {
        int64_t ns;
        if (i == 2)
            continue;   /* "1" is good (plain seconds); kept to show the contrast */
        if (clusterc__url_duration(badv[i], &ns) == 0)
            fail_msg("duration \"%s\" accepted", badv[i]);
    }
    /* Rounding up to the field's unit: a positive duration is never 0. */
    clusterc_options o;
    ok(&o, "redis://h:1?dial_timeout=1us&latency_tolerance=1ns&read_timeout=1500us");
    assert_int_equal(o.connect_timeout_ms, 1);
    assert_int_equal(o.latency_tolerance_us, 1);
    assert_int_equal(o.command_timeout_ms, 2);
    clusterc_options_release(&o);
}

static void test_booleans(void **state)
{
    (void)state;
    static const char *const t[] = {"true", "TRUE", "True", "1", "yes", "YES"};
    static const char *const f[] = {"false", "FALSE", "0", "no", "No"};
    int v;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        v = -1;
        assert_int_equal(clusterc__url_bool(t[i], &v), 0);
        assert_int_equal(v, 1);
    }
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        v = -1;
        assert_int_equal(clusterc__url_bool(f[i], &v), 0);
        assert_int_equal(v, 0);
    }
    assert_int_equal(clusterc__url_bool("2", &v), -1);
    assert_int_equal(clusterc__url_bool("on", &v), -1);
    assert_int_equal(clusterc__url_bool("", &v), -1);
    assert_int_equal(clusterc__url_bool("truex", &v), -1);
}

static void test_percent_decoding(void **state)
{
    (void)state;
    clusterc_options o;
    ok(&o, "redis://us%65r%3Aname:p%40ss%3Aw%2Fd+@h:1?client_name=a+b%26c%3D");
    assert_string_equal(o.username, "user:name");
    assert_string_equal(o.password, "p@ss:w/d+");   /* '+' is literal outside the query */
    assert_string_equal(o.client_name, "a b&c=");
    clusterc_options_release(&o);
    /* An unescaped '@' in the password: the last '@' ends the user info. */
    ok(&o, "redis://:p@ss@h:1");
    assert_null(o.username);
    assert_string_equal(o.password, "p@ss");
    assert_string_equal(o.seeds, "h:1");
    clusterc_options_release(&o);
    ok(&o, "redis://u:@h:1");
    assert_string_equal(o.username, "u");
    assert_string_equal(o.password, "");
    clusterc_options_release(&o);
    /* Keys may be escaped too. */
    ok(&o, "redis://h:1?read%5Fonly=true");
    assert_int_equal(o.read_only, 1);
    clusterc_options_release(&o);
    bad("redis://u:p%zz@h:1", "password");
    bad("redis://u:p%4@h:1", "bad percent-escape");
    bad("redis://u:p%00x@h:1", "bad percent-escape");
    bad("redis://h:1?client_name=%", "client_name");
}

static void test_hosts(void **state)
{
    (void)state;
    clusterc_options o;
    ok(&o, "redis://[::1]:7001?addr=[fe80::1]:7002&addr=[::1]:7003");
    assert_string_equal(o.seeds, "[::1]:7001,[fe80::1]:7002,[::1]:7003");
    clusterc_options_release(&o);
    ok(&o, "redis://[::1]");
    assert_string_equal(o.seeds, "[::1]:6379");
    clusterc_options_release(&o);
    ok(&o, "redis://example.com");
    assert_string_equal(o.seeds, "example.com:6379");
    clusterc_options_release(&o);
    ok(&o, "redis://example.com:/");
    assert_string_equal(o.seeds, "example.com:6379");
    clusterc_options_release(&o);
    ok(&o, "redis://");
    assert_string_equal(o.seeds, "localhost:6379");
    clusterc_options_release(&o);
    ok(&o, "REDIS://h:1/0?addr=a:2&addr=b:3&addr=c:4");
    assert_string_equal(o.seeds, "h:1,a:2,b:3,c:4");
    clusterc_options_release(&o);
    /* A fragment is refused (it was ignored): a redis URL has none, and a
     * '#' is most likely an unescaped character of a value, cut there. */
    bad("REDIS://h:1/0?addr=a:2#frag", "'#' is not allowed: a redis URL has no fragment");
    bad("redis://h:1#", "'#' is not allowed");
    bad("redis://h:1?client_name=a#b", "percent-encode a '#' in a value as %23");
    ok(&o, "redis://h:1/");
    clusterc_options_release(&o);
    bad("redis://::1:7001", "brackets");
    bad("redis://[::1:7001", "missing ']'");
    bad("redis://[::1]x7001", "junk");
    bad("redis://h:0", "bad address");
    bad("redis://h:65536", "bad address");
    bad("redis://h:65536", "port must be a number in 1..65535");   /* the reason is kept */
    bad("redis://h:1?addr=h:0", "URL key \"addr\": bad address \"h:0\": port must be");
    bad("redis://h:abc", "bad address");
    bad("redis://h:1/2", "database 0");
    bad("redis://h:1?addr=nohostport", "URL key \"addr\": bad address \"nohostport\"");
    bad("redis://h:1?addr=:7002", "addr");
    bad("redis://h:1?addr=", "addr");
}

static void test_errors(void **state)
{
    (void)state;
    bad("redis://h:1?foo=1", "unknown URL key \"foo\"");
    bad("redis://h:1?read_only=true&Read_Only=true", "unknown URL key \"Read_Only\"");
    bad("redis://h:1?dial_timeout=x", "URL key \"dial_timeout\": bad duration \"x\"");
    bad("redis://h:1?read_timeout=1q", "URL key \"read_timeout\": bad duration \"1q\"");
    bad("redis://h:1?dial_timeout=0", "URL key \"dial_timeout\": \"0\" is out of range");
    bad("redis://h:1?dial_timeout=-1s", "out of range");
    bad("redis://h:1?read_only=maybe", "URL key \"read_only\": bad boolean \"maybe\"");
    bad("redis://h:1?pool_fifo=x", "URL key \"pool_fifo\": bad boolean");
    bad("redis://h:1?max_redirects=-2", "URL key \"max_redirects\": \"-2\" is out of range");
    bad("redis://h:1?max_redirects=3x", "URL key \"max_redirects\": bad integer \"3x\"");
    bad("redis://h:1?max_redirects=99999999999999999999", "bad integer");
    bad("redis://h:1?max_lag_bytes=-1", "max_lag_bytes");
    bad("redis://h:1?lag_probe=1ms", "lag_probe");
    bad("redis://h:1?blocking_pool_size=0", "blocking_pool_size");
    bad("redis://h:1?protocol=3", "URL key \"protocol\"");
    bad("redis://h:1?pool_size=-1", "pool_size");
    bad("redis://h:1?tls=2", "URL key \"tls\"");
    bad("rediss://h:1?tls_insecure_skip_verify=maybe", "tls_insecure_skip_verify");
    bad("http://h:1", "scheme");
    bad_secret("http://user:hunter2@h:1", "URL scheme \"http\": must be redis:// or rediss://",
               "hunter2");
    bad_secret("redis://u:hunter2%4@h:1", "URL password: bad percent-escape", "hunter2");
    bad_secret("redis://h:1?password=hunter2%zz", "URL password: bad percent-escape", "hunter2");
    bad("h:1", "scheme");
    clusterc_options o;
    clusterc_options_init(&o);
    assert_int_equal(clusterc_options_parse_url(&o, NULL), -1);
    assert_int_equal(clusterc_options_parse_url(NULL, "redis://h:1"), -1);
    assert_string_equal(clusterc_options_url_error(NULL), "");
}

#define HINT "percent-encode '/', '?', '#', '&' and '@' in the password"

/* A password holding the URL's delimiters unescaped (base64 passwords hold
 * '/'): refused with a way to fix it, and no piece of it shown. */
static void test_password_delimiters(void **state)
{
    (void)state;
    static const char *const at_after[] = {
        "redis://app:Zq9x/Wk7v@h:1", "redis://:Zq9x/Wk7v@h:1", "redis://app:Zq9x?Wk7v@h:1",
        "redis://app:Zq9x#Wk7v@h:1", "redis://app:Zq9x?Wk=7v@h:1", "redis://app:Zq9x/Wk/7v@h:1/",
        "redis://app:p@ss/Wk7v@h:1", "redis://app:7001?read_only=1@h:1",
    };
    for (size_t i = 0; i < sizeof(at_after) / sizeof(at_after[0]); i++) {
        bad_secret(at_after[i], "URL: an '@' after the host (text not shown)", "Wk");
        bad_secret(at_after[i], HINT, "Zq9x");
    }
    bad_secret("redis://app:7001/Wk7v@h:1", HINT, "7001");   /* reads as host:port */
    /* user info in an addr value */
    bad_secret("redis://h:1?addr=app:Zq9x@h:2", "'@' after the host", "Zq9x");
    /* In the query: a '&' splits the pair, a '#' starts a fragment. */
    bad_secret("redis://h:1?password=Zq9x&Wk7v", "unknown URL key in query pair 2", "Wk7v");
    bad_secret("redis://h:1?password=Zq9x&Wk7v==", HINT, "Wk7v");
    bad_secret("redis://h:1?p%61ssword=Zq9x&Wk7v", "query pair 2", "Wk7v");
    bad_secret("redis://h:1?read_only=1&password=Zq9x&Wk7v&max_lag=1s", "query pair 3", "Wk7v");
    bad_secret("redis://h:1?password=Zq9x#Wk7v", "'#' is not allowed", "Wk7v");
    bad_secret("redis://h:1?password=Zq9x#Wk7v", "a '#' in the password? " HINT, "Zq9x");
    bad_secret("redis://app:Zq9xWk7v@h:1#x", "a '#' in the password?", "Zq9x");
    /* Encoded, each of them works. */
    clusterc_options o;
    ok(&o, "redis://app:Zq9x%2FWk%3F7v%23%26%40@h:1?addr=h:2");
    assert_string_equal(o.password, "Zq9x/Wk?7v#&@");
    assert_string_equal(o.seeds, "h:1,h:2");
    clusterc_options_release(&o);
    ok(&o, "redis://h:1?password=Zq9x%2FWk%3F7v%23%26%40&username=app");
    assert_string_equal(o.password, "Zq9x/Wk?7v#&@");
    assert_string_equal(o.username, "app");
    clusterc_options_release(&o);
    /* '@' may stay unescaped in a string value, and in the user info. */
    ok(&o, "redis://h:1?password=p@ss&client_name=a@b");
    assert_string_equal(o.password, "p@ss");
    assert_string_equal(o.client_name, "a@b");
    clusterc_options_release(&o);
}

/* With a password in the URL, host and path are not quoted (the reason
 * is); query text is, up to the password pair (all of the query with an
 * '@' after the host), never after it. */
static void test_errors_with_a_password(void **state)
{
    (void)state;
    bad_secret("redis://app:Zq9x@h:0", "URL host (not shown: the URL holds a password): "
               "bad address: port must be a number in 1..65535", "h:0");
    bad_secret("redis://app:Zq9x@hq9:x", "bad address: port must be", "hq9");
    bad_secret("redis://app:Zq9x@app:1:2", "an IPv6 address needs brackets", "app:1");
    bad_secret("redis://app:Zq9x@[::1]x1", "junk after ']'", "::1");
    bad_secret("redis://app:Zq9x@h:1/2", "URL path (not shown: the URL holds a password): "
               "a cluster has only database 0", "/2");
    bad_secret("redis://h:abc?password=Zq9x", "URL host (not shown", "abc");
    bad_secret("redis://us%zzer:Zq9x@h:1", "URL user name: bad percent-escape (value not shown)",
               "us%zz");
    bad_secret("redis://h:1?password=Zq9x&read_only=mayb", "URL key \"read_only\": bad boolean "
               "(value not shown)", "mayb");
    bad_secret("redis://h:1?password=Zq9x&dial_timeout=Wk7v", "URL key \"dial_timeout\": bad "
               "duration (value not shown)", "Wk7v");
    bad_secret("redis://h:1?password=Zq9x&max_redirects=-27", "(value not shown) is out of range",
               "-27");
    bad_secret("redis://h:1?password=Zq9x&max_redirects=7v", "bad integer (value not shown)", "7v");
    bad_secret("redis://h:1?password=Zq9x&addr=Wk:0", "URL key \"addr\": bad address (value "
               "not shown): port must be", "Wk:0");
    bad_secret("redis://h:1?password=Zq9x&client_name=Wk%", "URL client_name: bad "
               "percent-escape (value not shown)", "Wk");
    bad_secret("redis://h:1?password=p@ss&client_name=Wk%", "(value not shown)", "Wk");
    /* Before the password pair, and after a whole user info: quoted. */
    bad("redis://h:1?foo=1&password=Zq9x", "unknown URL key \"foo\"");
    bad("redis://h:1?read_only=maybe&password=Zq9x", "bad boolean \"maybe\"");
    bad("redis://app:Zq9x@h:1?foo=1", "unknown URL key \"foo\"");
    bad("redis://app:Zq9x@h:1?dial_timeout=x", "bad duration \"x\"");
    /* Without a password the text is named, as before. */
    bad("redis://h:1:2", "URL host \"h:1:2\"");
    bad("redis://h:1/2", "URL path \"/2\"");
}

/* max_retries=-1 is go-redis's "no retries". */
static void test_retries(void **state)
{
    (void)state;
    clusterc_options o;
    ok(&o, "redis://h:1?max_retries=-1");
    assert_int_equal(o.max_retries, 0);
    clusterc_options_release(&o);
}

/* A failed parse leaves the options as they were; a second parse frees the
 * first's strings and clears fields that pointed into them. */
static void test_reparse(void **state)
{
    (void)state;
    clusterc_options o;
    ok(&o, "redis://u:p@h:1?client_name=x&read_only=true");
    assert_int_equal(clusterc_options_parse_url(&o, "redis://h:2?route_randomly=true&bogus=1"),
                     -1);
    assert_string_equal(o.seeds, "h:1");
    assert_string_equal(o.client_name, "x");
    assert_int_equal(o.route_randomly, 0);
    assert_non_null(strstr(clusterc_options_url_error(&o), "bogus"));
    assert_int_equal(clusterc_options_parse_url(&o, "redis://h:2?max_lag=1s"), 0);
    assert_string_equal(o.seeds, "h:2");
    assert_null(o.client_name);
    assert_null(o.username);
    assert_null(o.password);
    assert_int_equal(o.read_only, 1);   /* not a string: kept */
    assert_string_equal(clusterc_options_url_error(&o), "");
    /* A caller's own string survives a parse. */
    static const char mine[] = "mine";
    o.client_name = mine;
    assert_int_equal(clusterc_options_parse_url(&o, "redis://h:3"), 0);
    assert_ptr_equal(o.client_name, mine);
    clusterc_options_release(&o);
    assert_ptr_equal(o.client_name, mine);
}

/* Long inputs: many seeds, an error quoting a long value (truncated, not
 * overflowing url_error). */
static void test_long(void **state)
{
    (void)state;
    char url[8192] = "redis://h:1?";
    for (int i = 0; i < 300; i++) {
        char one[32];
        snprintf(one, sizeof(one), "addr=n%d:%d&", i, 1000 + i);
        strcat(url, one);
    }
    clusterc_options o;
    ok(&o, url);
    assert_non_null(strstr(o.seeds, ",n299:1299"));
    clusterc_options_release(&o);
    char big[2048] = "redis://h:1?dial_timeout=";
    memset(big + strlen(big), 'x', 1500);
    clusterc_options_init(&o);
    assert_int_equal(clusterc_options_parse_url(&o, big), -1);
    assert_true(strlen(clusterc_options_url_error(&o)) < sizeof(o.url_error));
    assert_non_null(strstr(clusterc_options_url_error(&o), "dial_timeout"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_example),    cmocka_unit_test(test_every_key_values),
        cmocka_unit_test(test_defaults_kept),    cmocka_unit_test(test_write_timeout),
        cmocka_unit_test(test_durations),        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_percent_decoding), cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_errors),           cmocka_unit_test(test_retries),
        cmocka_unit_test(test_reparse),          cmocka_unit_test(test_long),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_password_delimiters),
        cmocka_unit_test(test_errors_with_a_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
