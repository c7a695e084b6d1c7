/* test_secrets.c -- a password never appears in what the pure layer says:
 * URL parse errors (beyond test_url.c's three cases: passwords holding the
 * URL's own delimiters, errors found after a valid user info, the query's
 * password), option errors, and the names that messages and the command
 * hook give commands that carry a password (AUTH, HELLO, CONFIG SET,
 * ACL SETUSER, MIGRATE ... AUTH2). docs/security.md says why each matters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <hiredis/hiredis.h>
#include "proto/cmdname.h"
#include "proto/cmdtable.h"
#include "proto/options.h"
#include "proto/url.h"

/* Any fragment of a secret at least this long counts as shown. */
#define FRAGMENT 3

/* Whether text holds a run of FRAGMENT or more bytes of secret (the whole
 * secret when it is shorter), so a message that shows half a password fails
 * as surely as one that shows all of it. */
static int shows(const char *text, const char *secret)
{
    size_t n = strlen(secret), k = n < FRAGMENT ? n : FRAGMENT;
    char frag[64];
    if (n == 0)
        return 0;
    for (size_t i = 0; i + k <= n && k < sizeof(frag); i++) {
        memcpy(frag, secret + i, k);
        frag[k] = '\0';
        if (strstr(text, frag))
            return 1;
    }
    return 0;
}

/* url fails to parse; its error says want and shows no part of secret, and
 * the options are untouched. */
static void refused(const char *url, const char *want, const char *secret)
{
    clusterc_options o;
    clusterc_options_init(&o);
    assert_int_equal(clusterc_options_parse_url(&o, url), -1);
    const char *e = clusterc_options_url_error(&o);
    if (want && !strstr(e, want))
        fail_msg("%s: error \"%s\" lacks \"%s\"", url, e, want);
    if (shows(e, secret))
        fail_msg("%s: error \"%s\" shows part of the secret \"%s\"", url, e, secret);
    assert_null(o.password);
    assert_null(o.url_strings);
    clusterc_options_release(&o);
}

/* Errors found after a valid user info name the part at fault, never the
 * password before it. */
static void test_url_errors_after_userinfo(void **state)
{
    (void)state;
    refused("redis://app:Zq9xW@h:0", "port must be", "Zq9xW");
    refused("redis://app:Zq9xW@h:abc", "bad address", "Zq9xW");
    refused("redis://app:Zq9xW@::1:7001", "brackets", "Zq9xW");
    refused("redis://app:Zq9xW@[::1:7001", "missing ']'", "Zq9xW");
    refused("redis://app:Zq9xW@h:1/2", "database 0", "Zq9xW");
    refused("redis://app:Zq9xW@h:1?foo=1", "unknown URL key \"foo\"", "Zq9xW");
    refused("redis://app:Zq9xW@h:1?read_only=maybe", "bad boolean", "Zq9xW");
    refused("redis://app:Zq9xW@h:1?addr=h:0", "addr", "Zq9xW");
    refused("redis://app:Zq9xW@h:1?dial_timeout=x", "dial_timeout", "Zq9xW");
    refused("redis://app:Zq9xW@h:1?client_name=%", "client_name", "Zq9xW");
    refused("redis://:Zq9xW@h:1?max_redirects=-2", "max_redirects", "Zq9xW");
    /* An escape error in the password (test_url.c checks one) at the end,
     * in the middle, an encoded NUL; in the query form too. */
    refused("redis://app:Zq9xW%@h:1", "URL password", "Zq9xW");
    refused("redis://app:Zq%G19xW@h:1", "URL password", "Zq%G19xW");
    refused("redis://app:Zq9%00xW@h:1", "URL password", "Zq9%00xW");
    refused("redis://h:1?username=app&password=Zq9xW%4", "URL password", "Zq9xW");
}

/* The password in the query, then an error elsewhere in the query. */
static void test_url_query_password(void **state)
{
    (void)state;
    /* Not quoted (F5): after a password pair an unknown key may be a piece
     * of the password cut at an unescaped '&' ("Zq9x&Wk7v==" reads as a key
     * "Wk7v" with a value "="), so the error names its position instead. */
    refused("redis://h:1?password=Zq9xW&bogus=1", "unknown URL key in query pair 2", "Zq9xW");
    refused("redis://h:1?password=Zq9xW&read_only=maybe", "read_only", "Zq9xW");
    refused("redis://h:1?password=Zq9xW&addr=nohostport", "addr", "Zq9xW");
    refused("redis://u:pw1@h:1?password=Zq9xW&max_lag=x", "max_lag", "Zq9xW");
}

/* A long password with a bad escape: neither shown nor overflowing. */
static void test_url_long_password(void **state)
{
    (void)state;
    static char url[9000], pw[8000];
    for (size_t i = 0; i < sizeof(pw) - 1; i++)
        pw[i] = (char)('a' + (i * 7) % 26);
    pw[sizeof(pw) - 1] = '\0';
    snprintf(url, sizeof(url), "redis://app:%s%%zz@h:1", pw);
    refused(url, "URL password", pw);
    snprintf(url, sizeof(url), "redis://app:%s@h:99999", pw);
    refused(url, "port must be", pw);
}

/* A password holding '/', '?' or '#' unescaped (base64 passwords hold '/'
 * and '+'): the authority ends at the first of them, so the '@' that ends
 * the user info is not in it. The parse must fail (or succeed) without
 * quoting any piece of the password, before or after the delimiter. */
static void test_url_password_with_delimiters(void **state)
{
    (void)state;
    refused("redis://app:Zq9x/Wk7v@h:1", NULL, "Zq9x/Wk7v");
    refused("redis://:Zq9x/Wk7v@h:1", NULL, "Zq9x/Wk7v");
    refused("redis://app:Zq9x?Wk7v@h:1", NULL, "Zq9x?Wk7v");
    refused("redis://app:Zq9x#Wk7v@h:1", NULL, "Zq9x#Wk7v");
    /* A prefix that happens to read as host:port. */
    refused("redis://app:7001/Wk7v@h:1", NULL, "Wk7v");
}

/* The query's password holding an unescaped '&': the rest reads as a key. */
static void test_url_query_password_with_ampersand(void **state)
{
    (void)state;
    refused("redis://h:1?password=Zq9x&Wk7v", NULL, "Wk7v");
}

/* A URL handed to the seeds option (a plausible mistake): the error
 * names the option but shows no password. */
static void test_seeds_holding_a_url(void **state)
{
    (void)state;
    static const char *const seeds[] = {
        "redis://app:Zq9xW@127.0.0.1:7001", "app:Zq9xW@127.0.0.1:7001",
        "127.0.0.1:7001,redis://:Zq9xW@127.0.0.1:7002",
    };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        clusterc_options o;
        clusterc__err err;
        clusterc_options_init(&o);
        o.seeds = seeds[i];
        o.password = "Zq9xW";
        if (clusterc__options_check(&o, &err) == 0)
            fail_msg("seeds \"%s\" accepted: its host would be resolved through DNS and "
                     "shown as a node name", seeds[i]);
        assert_int_equal(err.code, CLUSTERC_EINVAL);
        assert_non_null(strstr(err.str, "seeds"));
        if (shows(err.str, "Zq9xW"))
            fail_msg("seeds \"%s\": error \"%s\" shows the password", seeds[i], err.str);
    }
}

/* Other option errors never echo the password field. */
static void test_option_errors(void **state)
{
    (void)state;
    clusterc_options o;
    clusterc__err err;
    clusterc_options_init(&o);
    o.seeds = "127.0.0.1:7001";
    o.password = "Zq9xW";
    o.username = "app";
    o.connect_timeout_ms = 0;
    assert_int_equal(clusterc__options_check(&o, &err), -1);
    assert_false(shows(err.str, "Zq9xW"));
    o.connect_timeout_ms = 1000;
    o.max_lag_bytes = -1;
    assert_int_equal(clusterc__options_check(&o, &err), -1);
    assert_false(shows(err.str, "Zq9xW"));
    o.max_lag_bytes = 0;
    assert_int_equal(clusterc__options_check(&o, &err), 0);
}

/* The name a command gets in messages and in the command hook, for one
 * given as argv. */
static void display_name(int argc, const char *const *args, char *out, size_t cap)
{
    char *cmd = NULL, err[200] = "";
    const char *argv[16];
    for (int i = 0; i < argc && i < 16; i++)
        argv[i] = args[i];
    int len = redisFormatCommandArgv(&cmd, argc, argv, NULL);
    clusterc__cmdinfo info;
    assert_true(len > 0);
    assert_int_equal(clusterc__cmd_inspect(clusterc__cmdtable_builtin(), cmd, (size_t)len, &info,
                                           err, sizeof(err)), 0);
    snprintf(out, cap, "%.*s", (int)info.namelen, info.name);
    if (clusterc__cmd_maybe_container(info.name, info.namelen))
        clusterc__cmd_display_name(cmd, (size_t)len, info.name, info.namelen, out, cap);
    /* The same command cut short: the error says where, not what. */
    assert_int_equal(clusterc__cmd_inspect(clusterc__cmdtable_builtin(), cmd, (size_t)len - 3,
                                           &info, err, sizeof(err)), -1);
    assert_false(shows(err, "Zq9xW"));
    redisFreeCommand(cmd);
}

static void test_command_names(void **state)
{
    (void)state;
    static const struct { int argc; const char *argv[12]; const char *want; } cases[] = {
        {2, {"AUTH", "Zq9xW"}, "AUTH"},
        {3, {"AUTH", "app", "Zq9xW"}, "AUTH"},
        {5, {"HELLO", "3", "AUTH", "app", "Zq9xW"}, "HELLO"},
        {4, {"CONFIG", "SET", "requirepass", "Zq9xW"}, "CONFIG SET"},
        {4, {"config", "set", "masterauth", "Zq9xW"}, "CONFIG SET"},
        {5, {"ACL", "SETUSER", "app", "on", ">Zq9xW"}, "ACL SETUSER"},
        {11, {"MIGRATE", "h", "1", "", "0", "5000", "AUTH", "Zq9xW", "KEYS", "k1", "k2"},
         "MIGRATE"},
        {11, {"MIGRATE", "h", "1", "", "0", "5000", "AUTH2", "app", "Zq9xW", "KEYS", "k"},
         "MIGRATE"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char name[64];
        display_name(cases[i].argc, cases[i].argv, name, sizeof(name));
        assert_string_equal(name, cases[i].want);
        assert_false(shows(name, "Zq9xW"));
    }
}

/* The MIGRATE forms find their key past AUTH / AUTH2 values, so a password
 * is never hashed as a key (nor routed by). */
static void test_migrate_key_after_auth(void **state)
{
    (void)state;
    const char *argv[] = {"MIGRATE", "h", "1", "", "0", "5000", "AUTH2", "app", "Zq9xW",
                          "KEYS", "k1"};
    char *cmd = NULL, err[200];
    int len = redisFormatCommandArgv(&cmd, 11, argv, NULL);
    clusterc__cmdinfo info;
    assert_int_equal(clusterc__cmd_inspect(clusterc__cmdtable_builtin(), cmd, (size_t)len, &info,
                                           err, sizeof(err)), 0);
    assert_int_equal(info.slot, clusterc_keyslot("k1", 2));
    redisFreeCommand(cmd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_errors_after_userinfo),
        cmocka_unit_test(test_url_query_password),
        cmocka_unit_test(test_url_long_password),
        cmocka_unit_test(test_url_password_with_delimiters),
        cmocka_unit_test(test_url_query_password_with_ampersand),
        cmocka_unit_test(test_seeds_holding_a_url),
        cmocka_unit_test(test_option_errors),
        cmocka_unit_test(test_command_names),
        cmocka_unit_test(test_migrate_key_after_auth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
