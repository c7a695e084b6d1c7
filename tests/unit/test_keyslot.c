/* test_keyslot.c -- CRC16 and hash slots, with the spec's examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "clusterc/clusterc.h"
#include "proto/keyslot.h"

static int slot(const char *k)
{
    return clusterc_keyslot(k, strlen(k));
}

static void test_crc16_check_value(void **state)
{
    (void)state;
    /* The XMODEM check value, as the cluster spec gives it. */
    assert_int_equal(clusterc__crc16("123456789", 9), 0x31C3);
    assert_int_equal(clusterc__crc16("", 0), 0);
}

static void test_known_slots(void **state)
{
    (void)state;
    assert_int_equal(slot("foo"), 12182);
    assert_int_equal(slot("bar"), 5061);
    assert_int_equal(slot("123456789"), 0x31C3 & 16383);
}

static void test_hash_tags(void **state)
{
    (void)state;
    assert_int_equal(slot("{user1000}.following"), slot("{user1000}.followers"));
    assert_int_equal(slot("{user1000}.following"), slot("user1000"));
    /* Empty tag: the whole key is hashed. */
    assert_int_equal(slot("foo{}{bar}"), clusterc__crc16("foo{}{bar}", 10) & 16383);
    assert_int_not_equal(slot("foo{}{bar}"), slot("bar"));
    /* From the first '{' to the next '}'. */
    assert_int_equal(slot("foo{{bar}}"), slot("{bar"));
    assert_int_equal(slot("foo{bar}{zap}"), slot("bar"));
    /* No closing brace: whole key. */
    assert_int_equal(slot("foo{bar"), clusterc__crc16("foo{bar", 7) & 16383);
    assert_int_equal(slot("}foo{"), clusterc__crc16("}foo{", 5) & 16383);
    assert_int_equal(slot("{a}"), slot("a"));
}

static void test_empty_and_binary(void **state)
{
    (void)state;
    assert_int_equal(clusterc_keyslot("", 0), 0);
    assert_int_equal(clusterc_keyslot(NULL, 0), 0);
    /* Bytes after a NUL count; keylen is the truth. */
    const char bin[] = {'a', '\0', 'b'};
    assert_int_equal(clusterc_keyslot(bin, 3), clusterc__crc16(bin, 3) & 16383);
    assert_int_not_equal(clusterc_keyslot(bin, 3), clusterc_keyslot("a", 1));
    /* A tag at the very end of an exact-length buffer is read safely. */
    char *k = malloc(5);
    memcpy(k, "x{ab}", 5);
    assert_int_equal(clusterc_keyslot(k, 5), slot("ab"));
    assert_int_equal(clusterc_keyslot(k, 2), slot("x{"));
    free(k);
}

static void test_range(void **state)
{
    (void)state;
    char key[16];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(key, sizeof(key), "k%d", i);
        int s = clusterc_keyslot(key, (size_t)n);
        assert_true(s >= 0 && s < CLUSTERC_SLOTS);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16_check_value),
        cmocka_unit_test(test_known_slots),
        cmocka_unit_test(test_hash_tags),
        cmocka_unit_test(test_empty_and_binary),
        cmocka_unit_test(test_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
