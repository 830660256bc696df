/* The key-value store contract, run against every implementation (memory and RocksDB): point
 * operations, null and empty keys and values, key order, ranges, prefix scans, reverse scans,
 * counts, iteration while the store changes, and closing with open iterators. */
#include "test_store.h"

#include <stdlib.h>

#include "eddy/store.h"
#include "test.h"

static void expect_value(eddy_kv_store *store, eddy_slice key, const char *expected)
{
    eddy_slice v;
    if (!expected) {
        EXPECT_ERR(eddy_kv_get(store, key, &v), EDDY_ERR_NOT_FOUND);
        EXPECT_TRUE(v.data == NULL);
        return;
    }
    EXPECT_OK(eddy_kv_get(store, key, &v));
    EXPECT_TRUE(v.data != NULL);
    EXPECT_MEMEQ(v.data, v.len, expected, strlen(expected));
}

STORE_TEST(put_get_delete)
{
    eddy_kv_store *s = open_kind(kind, "counts");
    EXPECT_STREQ(eddy_kv_store_name(s), "counts");
    expect_value(s, S("a"), NULL);
    EXPECT_OK(eddy_kv_put(s, S("a"), S("1")));
    expect_value(s, S("a"), "1");
    EXPECT_OK(eddy_kv_put(s, S("a"), S("a much longer value than before, past any inline room")));
    expect_value(s, S("a"), "a much longer value than before, past any inline room");
    EXPECT_OK(eddy_kv_put(s, S("a"), S("2")));
    expect_value(s, S("a"), "2");
    EXPECT_OK(eddy_kv_delete(s, S("a")));
    expect_value(s, S("a"), NULL);
    EXPECT_OK(eddy_kv_delete(s, S("a"))); /* absent: not an error */
    EXPECT_OK(eddy_kv_delete(s, S("never")));

    /* put(k, null) deletes, as in Kafka. */
    EXPECT_OK(eddy_kv_put(s, S("b"), S("x")));
    EXPECT_OK(eddy_kv_put(s, S("b"), NONE));
    expect_value(s, S("b"), NULL);
    EXPECT_OK(eddy_kv_put(s, S("b"), NONE)); /* absent */

    /* An empty value is a value, not a deletion. */
    EXPECT_OK(eddy_kv_put(s, S("empty"), S("")));
    eddy_slice v;
    EXPECT_OK(eddy_kv_get(s, S("empty"), &v));
    EXPECT_TRUE(v.data != NULL);
    EXPECT_EQ(v.len, 0);

    /* The empty key is a key. */
    expect_value(s, S(""), NULL);
    EXPECT_OK(eddy_kv_put(s, S(""), S("empty key")));
    expect_value(s, S(""), "empty key");

    /* Binary keys: NUL and 0xff bytes, and keys that differ only in them. */
    const uint8_t k1[] = {0x00}, k2[] = {0x00, 0x00}, k3[] = {0xff}, k4[] = {0xff, 0x00};
    EXPECT_OK(eddy_kv_put(s, B(k1, 1), S("k1")));
    EXPECT_OK(eddy_kv_put(s, B(k2, 2), S("k2")));
    EXPECT_OK(eddy_kv_put(s, B(k3, 1), S("k3")));
    EXPECT_OK(eddy_kv_put(s, B(k4, 2), S("k4")));
    expect_value(s, B(k1, 1), "k1");
    expect_value(s, B(k2, 2), "k2");
    expect_value(s, B(k3, 1), "k3");
    expect_value(s, B(k4, 2), "k4");

    /* A value may be put from the slice get returned (the store must not free it first). */
    EXPECT_OK(eddy_kv_get(s, B(k4, 2), &v));
    EXPECT_OK(eddy_kv_put(s, B(k4, 2), v));
    expect_value(s, B(k4, 2), "k4");
    EXPECT_OK(eddy_kv_get(s, B(k4, 2), &v));
    EXPECT_OK(eddy_kv_put(s, S("copy"), v));
    expect_value(s, S("copy"), "k4");
    eddy_kv_store_close(s);
}

STORE_TEST(bad_arguments)
{
    eddy_kv_store *s = open_kind(kind, "args");
    eddy_slice v;
    EXPECT_ERR(eddy_kv_get(s, NONE, &v), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_CONTAINS(eddy_last_error(), "store 'args': get: the key is null");
    EXPECT_ERR(eddy_kv_put(s, NONE, S("v")), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_kv_delete(s, NONE), EDDY_ERR_INVALID_ARGUMENT);
    eddy_kv_iter *it;
    EXPECT_ERR(eddy_kv_prefix_scan(s, NONE, &it), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_kv_get(NULL, S("k"), &v), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy_kv_all(s, NULL), EDDY_ERR_INVALID_ARGUMENT);

    /* Keys and values over 16 MiB are refused; a key that long cannot be present. */
    size_t big = 16u * 1024u * 1024u + 1;
    char *huge = calloc(1, big);
    EXPECT_TRUE(huge != NULL);
    EXPECT_ERR(eddy_kv_put(s, B(huge, big), S("v")), EDDY_ERR_TOO_LARGE);
    EXPECT_CONTAINS(eddy_last_error(), "16777217-byte key");
    EXPECT_ERR(eddy_kv_put(s, S("k"), B(huge, big)), EDDY_ERR_TOO_LARGE);
    EXPECT_CONTAINS(eddy_last_error(), "16777217-byte value");
    EXPECT_ERR(eddy_kv_get(s, B(huge, big), &v), EDDY_ERR_NOT_FOUND);
    EXPECT_OK(eddy_kv_delete(s, B(huge, big)));
    /* Exactly at the limit is fine. */
    EXPECT_OK(eddy_kv_put(s, S("k"), B(huge, big - 1)));
    EXPECT_OK(eddy_kv_get(s, S("k"), &v));
    EXPECT_EQ(v.len, big - 1);
    free(huge);
    eddy_kv_store_close(s);

    eddy_kv_store *t = NULL;
    EXPECT_ERR(kind->open("bad/name", &t), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_CONTAINS(eddy_last_error(), "bad/name");
    EXPECT_ERR(kind->open("", &t), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(kind->open("..", &t), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(kind->open(NULL, &t), EDDY_ERR_INVALID_ARGUMENT);
    char long_name[300];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    EXPECT_ERR(kind->open(long_name, &t), EDDY_ERR_INVALID_ARGUMENT);
    long_name[249] = '\0';
    EXPECT_OK(kind->open(long_name, &t));
    eddy_kv_store_close(t);
    eddy_kv_store_close(NULL);
    eddy_kv_iter_destroy(NULL);
}

/* Keys whose order shows unsigned bytes and shorter-first: "" < "\x00" < "a" < "a\x00" < "ab"
 * < "b" < "\x7f" < "\x80" < "\xff" < "\xff\xff". */
static void put_ordered_keys(eddy_kv_store *s)
{
    static const char *const keys[] = {"b", "\xff\xff", "a", "\x80", "ab", "\x7f", "\xff"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        EXPECT_OK(eddy_kv_put(s, S(keys[i]), S("v")));
    EXPECT_OK(eddy_kv_put(s, S(""), S("v")));
    EXPECT_OK(eddy_kv_put(s, B("\x00", 1), S("v")));
    EXPECT_OK(eddy_kv_put(s, B("a\x00", 2), S("v")));
}

STORE_TEST(order_is_unsigned_bytes_shorter_first)
{
    eddy_kv_store *s = open_kind(kind, "order");
    put_ordered_keys(s);
    char out[1024];
    eddy_kv_iter *it;
    EXPECT_OK(eddy_kv_all(s, &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "=v \\x00=v a=v a\\x00=v ab=v b=v \\x7f=v \\x80=v "
                                              "\\xff=v \\xff\\xff=v");
    EXPECT_OK(eddy_kv_reverse_all(s, &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "\\xff\\xff=v \\xff=v \\x80=v \\x7f=v b=v ab=v "
                                              "a\\x00=v a=v \\x00=v =v");
    eddy_kv_store_close(s);
}

static void put_letters(eddy_kv_store *s)
{
    const char *keys[] = {"a", "b", "c", "d", "e", "f"};
    for (int i = 0; i < 6; i++) {
        char value[8];
        snprintf(value, sizeof(value), "%d", i + 1);
        EXPECT_OK(eddy_kv_put(s, S(keys[i]), S(value)));
    }
}

STORE_TEST(ranges_are_inclusive_and_may_be_unbounded)
{
    eddy_kv_store *s = open_kind(kind, "ranges");
    put_letters(s);
    char out[1024];
    eddy_kv_iter *it;
    EXPECT_OK(eddy_kv_range(s, S("b"), S("d"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "b=2 c=3 d=4");
    EXPECT_OK(eddy_kv_reverse_range(s, S("b"), S("d"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "d=4 c=3 b=2");
    /* Bounds between keys. */
    EXPECT_OK(eddy_kv_range(s, S("bb"), S("dd"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "c=3 d=4");
    EXPECT_OK(eddy_kv_reverse_range(s, S("bb"), S("dd"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "d=4 c=3");
    /* One key. */
    EXPECT_OK(eddy_kv_range(s, S("c"), S("c"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "c=3");
    EXPECT_OK(eddy_kv_reverse_range(s, S("c"), S("c"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "c=3");
    /* Unbounded ends. */
    EXPECT_OK(eddy_kv_range(s, NONE, S("b"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "a=1 b=2");
    EXPECT_OK(eddy_kv_range(s, S("e"), NONE, &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "e=5 f=6");
    EXPECT_OK(eddy_kv_reverse_range(s, NONE, S("b"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "b=2 a=1");
    EXPECT_OK(eddy_kv_reverse_range(s, S("e"), NONE, &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "f=6 e=5");
    EXPECT_OK(eddy_kv_range(s, NONE, NONE, &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "a=1 b=2 c=3 d=4 e=5 f=6");
    /* from > to: empty, like Kafka. */
    EXPECT_OK(eddy_kv_range(s, S("d"), S("b"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "");
    EXPECT_OK(eddy_kv_reverse_range(s, S("d"), S("b"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "");
    /* Ranges outside the keys. */
    EXPECT_OK(eddy_kv_range(s, S("g"), S("z"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "");
    EXPECT_OK(eddy_kv_reverse_range(s, S(""), S("0"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "");
    /* The empty key as a bound is a real bound, the smallest key. */
    EXPECT_OK(eddy_kv_put(s, S(""), S("0")));
    EXPECT_OK(eddy_kv_range(s, S(""), S(""), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "=0");
    EXPECT_OK(eddy_kv_reverse_range(s, S(""), S("a"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "a=1 =0");
    eddy_kv_store_close(s);
}

STORE_TEST(empty_store_iterates_nothing)
{
    eddy_kv_store *s = open_kind(kind, "empty");
    char out[64];
    eddy_kv_iter *it;
    EXPECT_OK(eddy_kv_all(s, &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "");
    EXPECT_OK(eddy_kv_reverse_all(s, &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "");
    EXPECT_OK(eddy_kv_prefix_scan(s, S("a"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "");
    EXPECT_OK(eddy_kv_range(s, S("a"), S("b"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "");
    uint64_t count = 99;
    EXPECT_OK(eddy_kv_approximate_count(s, &count));
    EXPECT_EQ(count, 0);
    EXPECT_OK(eddy_kv_flush(s));
    eddy_kv_store_close(s);
}

STORE_TEST(prefix_scan)
{
    eddy_kv_store *s = open_kind(kind, "prefix");
    const char *keys[] = {"a", "ab", "abc", "abd", "ac", "b"};
    for (int i = 0; i < 6; i++)
        EXPECT_OK(eddy_kv_put(s, S(keys[i]), S("v")));
    EXPECT_OK(eddy_kv_put(s, B("ab\xff", 3), S("v")));
    EXPECT_OK(eddy_kv_put(s, B("ab\xff\xff", 4), S("v")));
    EXPECT_OK(eddy_kv_put(s, B("\xff", 1), S("v")));
    EXPECT_OK(eddy_kv_put(s, B("\xff\xff\x01", 3), S("v")));
    char out[1024];
    eddy_kv_iter *it;
    EXPECT_OK(eddy_kv_prefix_scan(s, S("ab"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "ab=v abc=v abd=v ab\\xff=v ab\\xff\\xff=v");
    EXPECT_OK(eddy_kv_prefix_scan(s, S("abc"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "abc=v");
    EXPECT_OK(eddy_kv_prefix_scan(s, S("abz"), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "");
    /* A prefix ending in 0xff: its successor carries into the byte before. */
    EXPECT_OK(eddy_kv_prefix_scan(s, B("ab\xff", 3), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "ab\\xff=v ab\\xff\\xff=v");
    /* A prefix of 0xff bytes only has no successor. */
    EXPECT_OK(eddy_kv_prefix_scan(s, B("\xff", 1), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "\\xff=v \\xff\\xff\\x01=v");
    EXPECT_OK(eddy_kv_prefix_scan(s, B("\xff\xff", 2), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "\\xff\\xff\\x01=v");
    /* The empty prefix is every key. */
    EXPECT_OK(eddy_kv_prefix_scan(s, S(""), &it));
    EXPECT_STREQ(drain(it, out, sizeof(out)), "a=v ab=v abc=v abd=v ab\\xff=v ab\\xff\\xff=v ac=v "
                                              "b=v \\xff=v \\xff\\xff\\x01=v");
    /* A long prefix (past the stack buffer for the successor). */
    char long_key[600];
    memset(long_key, 'q', sizeof(long_key));
    EXPECT_OK(eddy_kv_put(s, B(long_key, 600), S("long")));
    EXPECT_OK(eddy_kv_prefix_scan(s, B(long_key, 500), &it));
    eddy_slice k, v;
    EXPECT_OK(eddy_kv_iter_next(it, &k, &v));
    EXPECT_EQ(k.len, 600);
    EXPECT_ERR(eddy_kv_iter_next(it, &k, &v), EDDY_ERR_END);
    eddy_kv_iter_destroy(it);
    eddy_kv_store_close(s);
}

STORE_TEST(approximate_count)
{
    eddy_kv_store *s = open_kind(kind, "count");
    for (int i = 0; i < 1000; i++) {
        char key[16];
        snprintf(key, sizeof(key), "key-%04d", i);
        EXPECT_OK(eddy_kv_put(s, S(key), S("v")));
    }
    uint64_t count = 0;
    EXPECT_OK(eddy_kv_approximate_count(s, &count));
    EXPECT_EQ(count, 1000); /* RocksDB counts its write buffer's entries exactly */
    for (int i = 0; i < 1000; i += 2) {
        char key[16];
        snprintf(key, sizeof(key), "key-%04d", i);
        EXPECT_OK(eddy_kv_delete(s, S(key)));
    }
    EXPECT_OK(eddy_kv_flush(s));
    EXPECT_OK(eddy_kv_approximate_count(s, &count));
    if (kind->exact_count) {
        EXPECT_EQ(count, 500);
    } else {
        /* RocksDB subtracts each deletion as if it cancelled a put in another file: here the
         * flushed file holds 500 values and 500 tombstones, which it estimates as 0 keys. */
        EXPECT_LE(count, 1500);
    }
    eddy_kv_store_close(s);
}

STORE_TEST(many_keys_in_order)
{
    /* Enough keys for a B+tree of three levels (64 per node) and a hash table of several MiB,
     * in a scrambled order. */
    eddy_kv_store *s = open_kind(kind, "many");
    const int n = 60000;
    for (int i = 0; i < n; i++) {
        int k = (int)(((int64_t)i * 7919) % n); /* 7919 is prime: a permutation */
        char key[16], value[16];
        snprintf(key, sizeof(key), "%08d", k);
        snprintf(value, sizeof(value), "v%d", k);
        EXPECT_OK(eddy_kv_put(s, S(key), S(value)));
    }
    eddy_kv_iter *it;
    EXPECT_OK(eddy_kv_all(s, &it));
    eddy_slice k, v;
    int expected = 0;
    while (eddy_kv_iter_next(it, &k, &v) == EDDY_OK) {
        char key[16];
        snprintf(key, sizeof(key), "%08d", expected);
        EXPECT_MEMEQ(k.data, k.len, key, strlen(key));
        expected++;
    }
    EXPECT_EQ(expected, n);
    eddy_kv_iter_destroy(it);
    EXPECT_OK(eddy_kv_reverse_range(s, S("00010000"), S("00010999"), &it));
    expected = 10999;
    while (eddy_kv_iter_next(it, &k, &v) == EDDY_OK) {
        char key[16];
        snprintf(key, sizeof(key), "%08d", expected);
        EXPECT_MEMEQ(k.data, k.len, key, strlen(key));
        expected--;
    }
    EXPECT_EQ(expected, 9999);
    eddy_kv_iter_destroy(it);
    /* Delete all but every 100th, from the middle outwards, and check again. */
    for (int i = 0; i < n; i++) {
        int k = (n / 2 + (i % 2 ? i / 2 + 1 : -(i / 2))) % n;
        if (k % 100 == 0)
            continue;
        char key[16];
        snprintf(key, sizeof(key), "%08d", k);
        EXPECT_OK(eddy_kv_delete(s, S(key)));
    }
    EXPECT_OK(eddy_kv_all(s, &it));
    expected = 0;
    while (eddy_kv_iter_next(it, &k, &v) == EDDY_OK) {
        char key[16];
        snprintf(key, sizeof(key), "%08d", expected);
        EXPECT_MEMEQ(k.data, k.len, key, strlen(key));
        expected += 100;
    }
    EXPECT_EQ(expected, n);
    eddy_kv_iter_destroy(it);
    eddy_kv_store_close(s);
}

/* ---- Iteration while the store changes ---------------------------------------------------- */

STORE_TEST(delete_every_key_while_iterating)
{
    eddy_kv_store *s = open_kind(kind, "deleting");
    for (int i = 0; i < 3000; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%05d", i);
        EXPECT_OK(eddy_kv_put(s, S(key), S(key)));
    }
    for (int reverse = 0; reverse <= 1; reverse++) {
        eddy_kv_iter *it;
        EXPECT_OK(reverse ? eddy_kv_reverse_all(s, &it) : eddy_kv_all(s, &it));
        eddy_slice k, v;
        int seen = 0;
        while (eddy_kv_iter_next(it, &k, &v) == EDDY_OK) {
            char key[16];
            snprintf(key, sizeof(key), "k%05d", reverse ? 2999 - seen : seen);
            EXPECT_MEMEQ(k.data, k.len, key, strlen(key));
            EXPECT_MEMEQ(v.data, v.len, key, strlen(key));
            if (!reverse || seen % 2 == 0)
                EXPECT_OK(eddy_kv_delete(s, k));
            /* The slices stay valid after the store changed. */
            EXPECT_MEMEQ(k.data, k.len, key, strlen(key));
            seen++;
        }
        eddy_kv_iter_destroy(it);
        if (!reverse) {
            EXPECT_EQ(seen, 3000);
            uint64_t count = 1;
            EXPECT_OK(eddy_kv_approximate_count(s, &count));
            if (kind->exact_count)
                EXPECT_EQ(count, 0);
            for (int i = 0; i < 3000; i++) {
                char key[16];
                snprintf(key, sizeof(key), "k%05d", i);
                EXPECT_OK(eddy_kv_put(s, S(key), S(key)));
            }
        } else {
            EXPECT_EQ(seen, 3000);
        }
    }
    eddy_kv_store_close(s);
}

STORE_TEST(changes_ahead_of_an_iterator)
{
    eddy_kv_store *s = open_kind(kind, "ahead");
    put_letters(s); /* a=1 .. f=6 */
    eddy_kv_iter *it;
    EXPECT_OK(eddy_kv_all(s, &it));
    eddy_slice k, v;
    EXPECT_OK(eddy_kv_iter_next(it, &k, &v));
    EXPECT_MEMEQ(k.data, k.len, "a", 1);
    /* Ahead: insert "cc", delete "d", update "e"; behind: insert "0", delete "a". */
    EXPECT_OK(eddy_kv_put(s, S("cc"), S("new")));
    EXPECT_OK(eddy_kv_delete(s, S("d")));
    EXPECT_OK(eddy_kv_put(s, S("e"), S("changed")));
    EXPECT_OK(eddy_kv_put(s, S("0"), S("behind")));
    EXPECT_OK(eddy_kv_delete(s, S("a")));
    EXPECT_MEMEQ(k.data, k.len, "a", 1);
    EXPECT_MEMEQ(v.data, v.len, "1", 1);
    char out[256];
    if (kind->snapshot_iterators)
        EXPECT_STREQ(drain(it, out, sizeof(out)), "b=2 c=3 d=4 e=5 f=6");
    else
        EXPECT_STREQ(drain(it, out, sizeof(out)), "b=2 c=3 cc=new e=changed f=6");

    /* A range iterator does not run past its end when keys appear beyond it. */
    EXPECT_OK(eddy_kv_range(s, S("b"), S("c"), &it));
    EXPECT_OK(eddy_kv_iter_next(it, &k, &v));
    EXPECT_OK(eddy_kv_put(s, S("bb"), S("in")));
    EXPECT_OK(eddy_kv_put(s, S("ca"), S("out")));
    if (kind->snapshot_iterators)
        EXPECT_STREQ(drain(it, out, sizeof(out)), "c=3");
    else
        EXPECT_STREQ(drain(it, out, sizeof(out)), "bb=in c=3");

    /* Reverse: changes below the cursor are ahead of it. */
    EXPECT_OK(eddy_kv_reverse_range(s, S("b"), S("e"), &it));
    EXPECT_OK(eddy_kv_iter_next(it, &k, &v));
    EXPECT_MEMEQ(k.data, k.len, "e", 1);
    EXPECT_OK(eddy_kv_delete(s, S("e")));
    EXPECT_OK(eddy_kv_delete(s, S("c")));
    EXPECT_OK(eddy_kv_put(s, S("ba"), S("new")));
    if (kind->snapshot_iterators)
        EXPECT_STREQ(drain(it, out, sizeof(out)), "cc=new ca=out c=3 bb=in b=2");
    else
        EXPECT_STREQ(drain(it, out, sizeof(out)), "cc=new ca=out bb=in ba=new b=2");
    eddy_kv_store_close(s);
}

STORE_TEST(slices_outlive_store_changes)
{
    eddy_kv_store *s = open_kind(kind, "slices");
    EXPECT_OK(eddy_kv_put(s, S("k"), S("first value")));
    EXPECT_OK(eddy_kv_put(s, S("l"), S("second")));
    eddy_kv_iter *it;
    EXPECT_OK(eddy_kv_all(s, &it));
    eddy_slice k, v;
    EXPECT_OK(eddy_kv_iter_next(it, &k, &v));
    /* Replace the value with a much larger one, then delete the key, and churn the store. */
    char large[4096];
    memset(large, 'x', sizeof(large));
    EXPECT_OK(eddy_kv_put(s, S("k"), B(large, sizeof(large))));
    EXPECT_OK(eddy_kv_delete(s, S("k")));
    for (int i = 0; i < 500; i++) {
        char key[16];
        snprintf(key, sizeof(key), "churn%d", i);
        EXPECT_OK(eddy_kv_put(s, S(key), S(key)));
    }
    EXPECT_MEMEQ(k.data, k.len, "k", 1);
    EXPECT_MEMEQ(v.data, v.len, "first value", 11);
    eddy_kv_iter_destroy(it);

    /* A get's value is valid until the next call on the store. */
    eddy_slice got;
    EXPECT_OK(eddy_kv_get(s, S("l"), &got));
    EXPECT_MEMEQ(got.data, got.len, "second", 6);
    eddy_kv_store_close(s);
}

STORE_TEST(close_ends_open_iterators)
{
    eddy_kv_store *s = open_kind(kind, "closing");
    put_letters(s);
    eddy_kv_iter *a, *b, *c, *empty;
    EXPECT_OK(eddy_kv_all(s, &a));
    EXPECT_OK(eddy_kv_prefix_scan(s, S("c"), &b));
    EXPECT_OK(eddy_kv_reverse_all(s, &c));
    EXPECT_OK(eddy_kv_range(s, S("z"), S("a"), &empty));
    eddy_slice k, v;
    EXPECT_OK(eddy_kv_iter_next(a, &k, &v));
    eddy_kv_iter_destroy(b); /* destroyed before the close: unlinked */
    eddy_kv_store_close(s);
    EXPECT_ERR(eddy_kv_iter_next(a, &k, &v), EDDY_ERR_STATE);
    EXPECT_CONTAINS(eddy_last_error(), "closed");
    EXPECT_ERR(eddy_kv_iter_next(c, &k, &v), EDDY_ERR_STATE);
    EXPECT_ERR(eddy_kv_iter_next(empty, &k, &v), EDDY_ERR_STATE);
    eddy_kv_iter_destroy(a);
    eddy_kv_iter_destroy(c);
    eddy_kv_iter_destroy(empty);
}

STORE_TEST(many_iterators)
{
    eddy_kv_store *s = open_kind(kind, "iterators");
    put_letters(s);
    eddy_kv_iter *its[50];
    for (int i = 0; i < 50; i++)
        EXPECT_OK(eddy_kv_all(s, &its[i]));
    /* Destroy in an order that exercises unlinking from the middle, front and back. */
    for (int i = 0; i < 50; i += 2)
        eddy_kv_iter_destroy(its[i]);
    for (int i = 1; i < 50; i += 2) {
        eddy_slice k, v;
        EXPECT_OK(eddy_kv_iter_next(its[i], &k, &v));
        EXPECT_MEMEQ(k.data, k.len, "a", 1);
    }
    for (int i = 49; i >= 25; i -= 2)
        eddy_kv_iter_destroy(its[i]);
    eddy_kv_store_close(s);
    for (int i = 1; i < 25; i += 2)
        eddy_kv_iter_destroy(its[i]);
}

STORE_TEST(two_stores_are_independent)
{
    eddy_kv_store *a = open_kind(kind, "one");
    eddy_kv_store *b = open_kind(kind, "two");
    EXPECT_OK(eddy_kv_put(a, S("k"), S("a")));
    EXPECT_OK(eddy_kv_put(b, S("k"), S("b")));
    expect_value(a, S("k"), "a");
    expect_value(b, S("k"), "b");
    eddy_kv_store_close(a);
    expect_value(b, S("k"), "b");
    eddy_kv_store_close(b);
}
