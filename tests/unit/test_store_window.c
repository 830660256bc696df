/* Window and session stores (src/store/window.c) over the memory and RocksDB stores: the key
 * layouts and their splits, puts and gets, fetch order and bounds, entries of longer keys that
 * fall inside a key's range (key "a" and key "a" + 8 bytes that read as a time), duplicates in
 * insertion order, session search boundaries, fetch over all keys, expiry boundaries and expiry
 * over several batches, a random walk against an array model, the decorators (cache, lock),
 * and allocation failures during expiry. */
#include <stdarg.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/limits.h"
#include "store/store.h"
#include "store/window.h"
#include "test.h"
#include "test_store.h"

/* ---- Helpers ------------------------------------------------------------------------------- */

static void appendf(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void appendf(char *out, size_t size, const char *fmt, ...)
{
    size_t used = strlen(out);
    if (used + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + used, size - used, fmt, ap);
    va_end(ap);
}

static void be64(uint8_t *p, int64_t v)
{
    for (int i = 7; i >= 0; i--, v = (int64_t)((uint64_t)v >> 8))
        p[i] = (uint8_t)v;
}

/* What a fetch callback saw, as "start=value start=value ...". */
typedef struct seen {
    char text[65536];
    int calls;
    int stop_after; /* return stop_err on this call (1-based); 0: never */
    eddy_err stop_err;
    int split_checks; /* the store key given splits back into `key` and the start */
    eddy_slice key;
    bool dups;
} seen;

static void seen_reset(seen *s)
{
    memset(s, 0, sizeof(*s));
}

static eddy_err on_window(void *opaque, int64_t start_ms, eddy_slice value, eddy_slice store_key)
{
    seen *s = opaque;
    s->calls++;
    if (s->text[0])
        appendf(s->text, sizeof(s->text), " ");
    appendf(s->text, sizeof(s->text), "%lld=", (long long)start_ms);
    dump_bytes(s->text, sizeof(s->text), value.data, value.len);
    if (s->key.data) {
        eddy_slice key;
        int64_t start;
        EXPECT_OK(eddy__window_key_split(store_key, s->dups, &key, &start));
        EXPECT_MEMEQ(key.data, key.len, s->key.data, s->key.len);
        EXPECT_EQ(start, start_ms);
        s->split_checks++;
    }
    return s->calls == s->stop_after ? s->stop_err : EDDY_OK;
}

static eddy_err on_session(void *opaque, int64_t start_ms, int64_t end_ms, eddy_slice value)
{
    seen *s = opaque;
    s->calls++;
    if (s->text[0])
        appendf(s->text, sizeof(s->text), " ");
    appendf(s->text, sizeof(s->text), "%lld-%lld=", (long long)start_ms, (long long)end_ms);
    dump_bytes(s->text, sizeof(s->text), value.data, value.len);
    return s->calls == s->stop_after ? s->stop_err : EDDY_OK;
}

static eddy_err on_any(void *opaque, eddy_slice key, int64_t start_ms, eddy_slice value,
                       eddy_slice store_key)
{
    seen *s = opaque;
    s->calls++;
    size_t suffix = s->dups ? EDDY__WINDOW_DUPS_SUFFIX_BYTES : EDDY__WINDOW_SUFFIX_BYTES;
    EXPECT_EQ(store_key.len, key.len + suffix);
    EXPECT_TRUE(store_key.data == key.data);
    if (s->text[0])
        appendf(s->text, sizeof(s->text), " ");
    appendf(s->text, sizeof(s->text), "[");
    dump_bytes(s->text, sizeof(s->text), key.data, key.len);
    appendf(s->text, sizeof(s->text), "]%lld=", (long long)start_ms);
    dump_bytes(s->text, sizeof(s->text), value.data, value.len);
    return s->calls == s->stop_after ? s->stop_err : EDDY_OK;
}

static const char *fetch(eddy_kv_store *st, eddy_slice key, bool dups, int64_t from, int64_t to,
                         seen *s)
{
    seen_reset(s);
    s->key = key;
    s->dups = dups;
    EXPECT_OK(eddy__window_fetch(st, key, dups, from, to, on_window, s));
    EXPECT_EQ(s->split_checks, s->calls);
    return s->text;
}

static const char *find(eddy_kv_store *st, eddy_slice key, int64_t earliest_end,
                        int64_t latest_start, seen *s)
{
    seen_reset(s);
    EXPECT_OK(eddy__session_find(st, key, earliest_end, latest_start, on_session, s));
    return s->text;
}

static const char *fetch_all(eddy_kv_store *st, bool dups, int64_t from, int64_t to, seen *s)
{
    seen_reset(s);
    s->dups = dups;
    EXPECT_OK(eddy__window_fetch_all(st, dups, from, to, on_any, s));
    return s->text;
}

static uint64_t count_entries(eddy_kv_store *st)
{
    eddy_kv_iter *it;
    EXPECT_OK(eddy_kv_all(st, &it));
    eddy_slice k, v;
    uint64_t n = 0;
    eddy_err err;
    while ((err = eddy_kv_iter_next(it, &k, &v)) == EDDY_OK)
        n++;
    EXPECT_ERR(err, EDDY_ERR_END);
    eddy_kv_iter_destroy(it);
    return n;
}

/* "a" followed by the 8 bytes of the time t: a key whose windows sort among key "a"'s. */
static eddy_slice a_then_time(uint8_t buf[9], int64_t t)
{
    buf[0] = 'a';
    be64(buf + 1, t);
    return B(buf, 9);
}

/* ---- Layouts --------------------------------------------------------------------------------- */

TEST(layouts_and_splits)
{
    uint8_t out[64];
    EXPECT_EQ(eddy__window_key(out, S("ab"), 0x0102030405060708), 10);
    const uint8_t window[] = {'a', 'b', 1, 2, 3, 4, 5, 6, 7, 8};
    EXPECT_MEMEQ(out, 10, window, sizeof(window));

    eddy_slice key;
    int64_t start, end;
    EXPECT_OK(eddy__window_key_split(B(out, 10), false, &key, &start));
    EXPECT_MEMEQ(key.data, key.len, "ab", 2);
    EXPECT_EQ(start, 0x0102030405060708);
    /* A dups key needs 12 bytes of suffix. */
    EXPECT_ERR(eddy__window_key_split(B(out, 10), true, &key, &start), EDDY_ERR_CORRUPT);
    EXPECT_ERR(eddy__window_key_split(B(out, 7), false, &key, &start), EDDY_ERR_CORRUPT);
    EXPECT_CONTAINS(eddy_last_error(), "7 bytes");

    /* The empty key: the store key is the suffix alone. */
    EXPECT_EQ(eddy__window_key(out, S(""), 5), 8);
    EXPECT_OK(eddy__window_key_split(B(out, 8), false, &key, &start));
    EXPECT_EQ(key.len, 0);
    EXPECT_EQ(start, 5);

    EXPECT_EQ(eddy__session_key(out, S("k"), 3, 0x7fffffffffffffff), 17);
    const uint8_t session[] = {'k', 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                               0,   0,    0,    0,    0,    0,    0,    3};
    EXPECT_MEMEQ(out, 17, session, sizeof(session));
    EXPECT_OK(eddy__session_key_split(B(out, 17), &key, &start, &end));
    EXPECT_MEMEQ(key.data, key.len, "k", 1);
    EXPECT_EQ(start, 3);
    EXPECT_EQ(end, 0x7fffffffffffffff);
    EXPECT_OK(eddy__session_key_split(B(out + 1, 16), &key, &start, &end));
    EXPECT_EQ(key.len, 0);
    EXPECT_ERR(eddy__session_key_split(B(out, 15), &key, &start, &end), EDDY_ERR_CORRUPT);
    EXPECT_ERR(eddy__session_key_split(NONE, &key, &start, &end), EDDY_ERR_INVALID_ARGUMENT);

    /* Byte order is numeric order for timestamps >= 0. */
    const int64_t times[] = {
        0, 1, 255, 256, 65535, 1LL << 32, 1700000000000LL, INT64_MAX - 1, INT64_MAX};
    for (size_t i = 0; i + 1 < sizeof(times) / sizeof(times[0]); i++) {
        uint8_t x[16], y[16];
        size_t xl = eddy__window_key(x, S("k"), times[i]);
        size_t yl = eddy__window_key(y, S("k"), times[i + 1]);
        EXPECT_TRUE(eddy__kv_compare(x, xl, y, yl) < 0);
    }
}

/* ---- Window stores -----------------------------------------------------------------------------
 */

STORE_TEST(window_put_get)
{
    eddy_kv_store *st = open_kind(kind, "windows");
    eddy_slice v;
    EXPECT_ERR(eddy__window_get(st, S("k"), 10, &v), EDDY_ERR_NOT_FOUND);
    EXPECT_TRUE(v.data == NULL);
    EXPECT_OK(eddy__window_put(st, S("k"), 10, S("ten")));
    EXPECT_OK(eddy__window_put(st, S("k"), 20, S("twenty")));
    EXPECT_OK(eddy__window_get(st, S("k"), 10, &v));
    EXPECT_MEMEQ(v.data, v.len, "ten", 3);
    EXPECT_OK(eddy__window_put(st, S("k"), 10, S("TEN")));
    EXPECT_OK(eddy__window_get(st, S("k"), 10, &v));
    EXPECT_MEMEQ(v.data, v.len, "TEN", 3);
    EXPECT_ERR(eddy__window_get(st, S("k"), 11, &v), EDDY_ERR_NOT_FOUND);
    EXPECT_ERR(eddy__window_get(st, S("j"), 10, &v), EDDY_ERR_NOT_FOUND);

    /* It is the kv entry [key][start BE8]. */
    uint8_t raw[16];
    size_t raw_len = eddy__window_key(raw, S("k"), 20);
    EXPECT_OK(eddy_kv_get(st, B(raw, raw_len), &v));
    EXPECT_MEMEQ(v.data, v.len, "twenty", 6);

    /* A null value deletes; deleting what is absent is fine. */
    EXPECT_OK(eddy__window_put(st, S("k"), 10, NONE));
    EXPECT_ERR(eddy__window_get(st, S("k"), 10, &v), EDDY_ERR_NOT_FOUND);
    EXPECT_OK(eddy__window_put(st, S("k"), 10, NONE));

    /* Empty values and the empty key. */
    EXPECT_OK(eddy__window_put(st, S(""), 0, S("")));
    EXPECT_OK(eddy__window_get(st, S(""), 0, &v));
    EXPECT_TRUE(v.data != NULL);
    EXPECT_EQ(v.len, 0);
    EXPECT_OK(eddy__window_put(st, S(""), INT64_MAX, S("max")));
    EXPECT_OK(eddy__window_get(st, S(""), INT64_MAX, &v));
    EXPECT_MEMEQ(v.data, v.len, "max", 3);

    /* Negative times are refused by puts and found nowhere. */
    EXPECT_ERR(eddy__window_put(st, S("k"), -1, S("x")), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_CONTAINS(eddy_last_error(), "-1 is negative");
    EXPECT_CONTAINS(eddy_last_error(), "windows");
    EXPECT_ERR(eddy__window_put(st, S("k"), INT64_MIN, NONE), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy__window_get(st, S("k"), -1, &v), EDDY_ERR_NOT_FOUND);

    /* Bad arguments. */
    EXPECT_ERR(eddy__window_put(st, NONE, 1, S("x")), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy__window_put(NULL, S("k"), 1, S("x")), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy__window_get(st, NONE, 1, &v), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy__window_get(st, S("k"), 1, NULL), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(count_entries(st), 3);
    eddy_kv_store_close(st);
}

STORE_TEST(window_long_keys)
{
    eddy_kv_store *st = open_kind(kind, "long");
    /* Keys past the stack buffer take the allocated path. */
    size_t len = 5000;
    char *key = malloc(len);
    memset(key, 'x', len);
    EXPECT_OK(eddy__window_put(st, B(key, len), 7, S("seven")));
    eddy_slice v;
    EXPECT_OK(eddy__window_get(st, B(key, len), 7, &v));
    EXPECT_MEMEQ(v.data, v.len, "seven", 5);
    seen s;
    EXPECT_STREQ(fetch(st, B(key, len), false, 0, 100, &s), "7=seven");
    /* (A store holds one layout: this window's store key would read as a session of a key 8
     * bytes shorter, so sessions go in their own store.) */
    eddy_kv_store *sessions = open_kind(kind, "long-sessions");
    EXPECT_OK(eddy__session_put(sessions, B(key, len - 8), 1, 2, S("session")));
    EXPECT_STREQ(find(sessions, B(key, len - 8), 0, 100, &s), "1-2=session");
    eddy_kv_store_close(sessions);

    /* A key that cannot fit with its suffix: puts fail, reads find nothing. */
    size_t huge_len = EDDY_KV_KEY_BYTES_MAX;
    char *huge = calloc(1, huge_len);
    EXPECT_ERR(eddy__window_put(st, B(huge, huge_len), 1, S("x")), EDDY_ERR_TOO_LARGE);
    EXPECT_ERR(eddy__window_put(st, B(huge, huge_len - 8), 1, S("x")), EDDY_ERR_OK);
    EXPECT_OK(eddy__window_put(st, B(huge, huge_len - 8), 1, NONE));
    uint32_t seq = 0;
    EXPECT_ERR(eddy__window_put_dup(st, B(huge, huge_len - 8), 1, &seq, S("x")),
               EDDY_ERR_TOO_LARGE);
    EXPECT_EQ(seq, 0);
    EXPECT_ERR(eddy__session_put(st, B(huge, huge_len - 8), 1, 1, S("x")), EDDY_ERR_TOO_LARGE);
    EXPECT_ERR(eddy__window_get(st, B(huge, huge_len), 1, &v), EDDY_ERR_NOT_FOUND);
    EXPECT_STREQ(fetch(st, B(huge, huge_len), false, 0, 100, &s), "");
    EXPECT_STREQ(find(st, B(huge, huge_len), 0, 100, &s), "");
    free(huge);
    free(key);
    eddy_kv_store_close(st);
}

STORE_TEST(window_fetch_order_and_bounds)
{
    eddy_kv_store *st = open_kind(kind, "fetch");
    const int64_t starts[] = {300, 0, 100, 256, 200, 1LL << 40, 255, 1};
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
        char value[32];
        snprintf(value, sizeof(value), "v%lld", (long long)starts[i]);
        EXPECT_OK(eddy__window_put(st, S("k"), starts[i], S(value)));
    }
    EXPECT_OK(eddy__window_put(st, S("j"), 100, S("other")));
    EXPECT_OK(eddy__window_put(st, S("l"), 100, S("other")));
    seen s;
    EXPECT_STREQ(
        fetch(st, S("k"), false, 0, INT64_MAX, &s),
        "0=v0 1=v1 100=v100 200=v200 255=v255 256=v256 300=v300 1099511627776=v1099511627776");
    /* Both bounds inclusive. */
    EXPECT_STREQ(fetch(st, S("k"), false, 100, 256, &s), "100=v100 200=v200 255=v255 256=v256");
    EXPECT_STREQ(fetch(st, S("k"), false, 101, 255, &s), "200=v200 255=v255");
    EXPECT_STREQ(fetch(st, S("k"), false, 255, 255, &s), "255=v255");
    EXPECT_STREQ(fetch(st, S("k"), false, 256, 255, &s), ""); /* from > to */
    EXPECT_STREQ(fetch(st, S("k"), false, 301, 1LL << 39, &s), "");
    /* A negative lower bound is 0; a negative upper bound finds nothing. */
    EXPECT_STREQ(fetch(st, S("k"), false, INT64_MIN, 1, &s), "0=v0 1=v1");
    EXPECT_STREQ(fetch(st, S("k"), false, -5, -1, &s), "");
    EXPECT_STREQ(fetch(st, S("missing"), false, 0, INT64_MAX, &s), "");

    /* A callback's error stops the scan and is returned, END included. */
    seen_reset(&s);
    s.stop_after = 2;
    s.stop_err = EDDY_ERR_STATE;
    EXPECT_ERR(eddy__window_fetch(st, S("k"), false, 0, INT64_MAX, on_window, &s), EDDY_ERR_STATE);
    EXPECT_EQ(s.calls, 2);
    seen_reset(&s);
    s.stop_after = 1;
    s.stop_err = EDDY_ERR_END;
    EXPECT_ERR(eddy__window_fetch(st, S("k"), false, 0, INT64_MAX, on_window, &s), EDDY_ERR_END);
    EXPECT_EQ(s.calls, 1);

    EXPECT_ERR(eddy__window_fetch(st, S("k"), false, 0, 1, NULL, NULL), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy__window_fetch(st, NONE, false, 0, 1, on_window, &s), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy__window_fetch(NULL, S("k"), false, 0, 1, on_window, &s),
               EDDY_ERR_INVALID_ARGUMENT);
    eddy_kv_store_close(st);
}

/* A callback that deletes each entry it is given, through the store key. */
typedef struct deleter {
    eddy_kv_store *store;
    int calls;
} deleter;

static eddy_err delete_entry(void *opaque, int64_t start_ms, eddy_slice value, eddy_slice store_key)
{
    (void)start_ms;
    (void)value;
    deleter *d = opaque;
    d->calls++;
    return eddy_kv_delete(d->store, store_key);
}

STORE_TEST(window_fetch_callback_deletes)
{
    eddy_kv_store *st = open_kind(kind, "deletes");
    for (int64_t t = 0; t < 50; t++)
        EXPECT_OK(eddy__window_put(st, S("k"), t * 10, S("v")));
    deleter d = {st, 0};
    EXPECT_OK(eddy__window_fetch(st, S("k"), false, 100, 299, delete_entry, &d));
    EXPECT_EQ(d.calls, 20);
    seen s;
    EXPECT_STREQ(fetch(st, S("k"), false, 90, 310, &s), "90=v 300=v 310=v");
    EXPECT_EQ(count_entries(st), 30);
    eddy_kv_store_close(st);
}

/* ---- Keys that extend other keys ----------------------------------------------------------- */

STORE_TEST(prefix_key_confusion)
{
    eddy_kv_store *w = open_kind(kind, "w");
    eddy_kv_store *d = open_kind(kind, "d");
    eddy_kv_store *ss = open_kind(kind, "s");
    uint8_t a5[9], a0[9];
    uint8_t a5x[17];
    /* "a" + BE8(5) reads as key "a" at start 5 once a suffix follows; a5x = a5 + BE8(6). */
    a_then_time(a5, 5);
    a_then_time(a0, 0);
    memcpy(a5x, a5, 9);
    be64(a5x + 9, 6);
    const eddy_slice keys[] = {S(""), S("a"), B(a5, 9), B(a0, 9), B(a5x, 17), S("a\xff"), S("b")};
    const char *names[] = {"empty", "a", "a5", "a0", "a5x", "aff", "b"};
    const size_t nkeys = sizeof(keys) / sizeof(keys[0]);
    uint32_t seq = 0;
    for (size_t i = 0; i < nkeys; i++) {
        for (int64_t t = 0; t <= 10; t += 5) {
            char value[32];
            snprintf(value, sizeof(value), "%s@%lld", names[i], (long long)t);
            EXPECT_OK(eddy__window_put(w, keys[i], t, S(value)));
            EXPECT_OK(eddy__window_put_dup(d, keys[i], t, &seq, S(value)));
            EXPECT_OK(eddy__session_put(ss, keys[i], t, t + 2, S(value)));
        }
    }
    seen s;
    for (size_t i = 0; i < nkeys; i++) {
        char expected[256], expected_sessions[256];
        snprintf(expected, sizeof(expected), "0=%s@0 5=%s@5 10=%s@10", names[i], names[i],
                 names[i]);
        snprintf(expected_sessions, sizeof(expected_sessions), "0-2=%s@0 5-7=%s@5 10-12=%s@10",
                 names[i], names[i], names[i]);
        EXPECT_STREQ(fetch(w, keys[i], false, 0, INT64_MAX, &s), expected);
        EXPECT_STREQ(fetch(d, keys[i], true, 0, INT64_MAX, &s), expected);
        EXPECT_STREQ(find(ss, keys[i], 0, INT64_MAX, &s), expected_sessions);
        eddy_slice v;
        char value[32];
        snprintf(value, sizeof(value), "%s@5", names[i]);
        EXPECT_OK(eddy__window_get(w, keys[i], 5, &v));
        EXPECT_MEMEQ(v.data, v.len, value, strlen(value));
    }
    /* Narrow ranges with a key inside them: key "a", starts 3..7, with "a5"'s entries between. */
    EXPECT_STREQ(fetch(w, S("a"), false, 3, 7, &s), "5=a@5");
    EXPECT_STREQ(fetch(d, S("a"), true, 5, 5, &s), "5=a@5");
    EXPECT_STREQ(find(ss, S("a"), 6, 6, &s), "5-7=a@5");
    EXPECT_STREQ(fetch(w, S(""), false, 0, 0, &s), "0=empty@0");

    /* Expiry by time applies to every key alike. */
    uint64_t deleted;
    EXPECT_OK(eddy__window_expire(w, false, false, 5, &deleted));
    EXPECT_EQ(deleted, nkeys);
    EXPECT_OK(eddy__window_expire(d, false, true, 6, &deleted));
    EXPECT_EQ(deleted, 2 * nkeys);
    EXPECT_OK(eddy__window_expire(ss, true, false, 7, &deleted)); /* ends 2 only: 7 is kept */
    EXPECT_EQ(deleted, nkeys);
    EXPECT_STREQ(fetch(w, S("a"), false, 0, INT64_MAX, &s), "5=a@5 10=a@10");
    EXPECT_STREQ(fetch(w, B(a5, 9), false, 0, INT64_MAX, &s), "5=a5@5 10=a5@10");
    EXPECT_STREQ(fetch(d, S(""), true, 0, INT64_MAX, &s), "10=empty@10");
    EXPECT_STREQ(find(ss, B(a5x, 17), 0, INT64_MAX, &s), "5-7=a5x@5 10-12=a5x@10");
    eddy_kv_store_close(w);
    eddy_kv_store_close(d);
    eddy_kv_store_close(ss);
}

/* ---- Duplicates -------------------------------------------------------------------------------
 */

STORE_TEST(dups_keep_insertion_order)
{
    eddy_kv_store *st = open_kind(kind, "dups");
    uint32_t seq = 0;
    EXPECT_OK(eddy__window_put_dup(st, S("k"), 20, &seq, S("first@20")));
    EXPECT_OK(eddy__window_put_dup(st, S("k"), 10, &seq, S("first@10")));
    EXPECT_OK(eddy__window_put_dup(st, S("k"), 20, &seq, S("second@20")));
    EXPECT_OK(eddy__window_put_dup(st, S("k"), 20, &seq, S("second@20"))); /* equal: both kept */
    EXPECT_OK(eddy__window_put_dup(st, S("j"), 20, &seq, S("other")));
    EXPECT_OK(eddy__window_put_dup(st, S("k"), 10, &seq, S("second@10")));
    EXPECT_EQ(seq, 6);
    /* A null value adds nothing and takes no number. */
    EXPECT_OK(eddy__window_put_dup(st, S("k"), 10, &seq, NONE));
    EXPECT_EQ(seq, 6);
    seen s;
    EXPECT_STREQ(fetch(st, S("k"), true, 0, 100, &s),
                 "10=first@10 10=second@10 20=first@20 20=second@20 20=second@20");
    EXPECT_STREQ(fetch(st, S("k"), true, 20, 20, &s), "20=first@20 20=second@20 20=second@20");
    EXPECT_STREQ(fetch(st, S("k"), true, 11, 19, &s), "");

    /* The sequence is big-endian after the timestamp: 255 then 256 stay in order. */
    seq = 255;
    EXPECT_OK(eddy__window_put_dup(st, S("m"), 1, &seq, S("255")));
    EXPECT_OK(eddy__window_put_dup(st, S("m"), 1, &seq, S("256")));
    seq = 0xffffffffu;
    EXPECT_OK(eddy__window_put_dup(st, S("n"), 1, &seq, S("max")));
    EXPECT_EQ(seq, 0); /* wraps */
    EXPECT_STREQ(fetch(st, S("m"), true, 0, 1, &s), "1=255 1=256");
    EXPECT_STREQ(fetch(st, S("n"), true, 1, 1, &s), "1=max");
    uint8_t raw[16] = {'n', 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff};
    eddy_slice v;
    EXPECT_OK(eddy_kv_get(st, B(raw, 13), &v));

    EXPECT_ERR(eddy__window_put_dup(st, S("k"), -1, &seq, S("x")), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy__window_put_dup(st, S("k"), 1, NULL, S("x")), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy__window_put_dup(st, NONE, 1, &seq, S("x")), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(seq, 0);
    eddy_kv_store_close(st);
}

/* ---- Sessions -----------------------------------------------------------------------------------
 */

STORE_TEST(session_find_boundaries)
{
    eddy_kv_store *st = open_kind(kind, "sessions");
    EXPECT_OK(eddy__session_put(st, S("k"), 0, 10, S("A")));
    EXPECT_OK(eddy__session_put(st, S("k"), 20, 30, S("B")));
    EXPECT_OK(eddy__session_put(st, S("k"), 40, 40, S("C"))); /* a single record */
    EXPECT_OK(eddy__session_put(st, S("k"), 50, 1000, S("D")));
    EXPECT_OK(eddy__session_put(st, S("j"), 20, 30, S("other")));
    seen s;
    EXPECT_STREQ(find(st, S("k"), 0, INT64_MAX, &s), "0-10=A 20-30=B 40-40=C 50-1000=D");
    /* end == earliest_end is included, end == earliest_end - 1 is not. */
    EXPECT_STREQ(find(st, S("k"), 30, 45, &s), "20-30=B 40-40=C");
    EXPECT_STREQ(find(st, S("k"), 31, 45, &s), "40-40=C");
    /* start == latest_start is included, start == latest_start + 1 is not. */
    EXPECT_STREQ(find(st, S("k"), 25, 40, &s), "20-30=B 40-40=C");
    EXPECT_STREQ(find(st, S("k"), 25, 39, &s), "20-30=B");
    EXPECT_STREQ(find(st, S("k"), 40, 40, &s), "40-40=C");
    /* A long session is found from any point inside it (end far past latest_start). */
    EXPECT_STREQ(find(st, S("k"), 500, 500, &s), "50-1000=D");
    EXPECT_STREQ(find(st, S("k"), 1000, 50, &s), "50-1000=D");
    EXPECT_STREQ(find(st, S("k"), 1001, INT64_MAX, &s), "");
    EXPECT_STREQ(find(st, S("k"), 11, 19, &s), "");
    /* Kafka's fetch(key) and merge search: latest_start before earliest_end works too. */
    EXPECT_STREQ(find(st, S("k"), 5, 0, &s), "0-10=A");
    EXPECT_STREQ(find(st, S("k"), -100, -1, &s), "");
    EXPECT_STREQ(find(st, S("k"), -100, 0, &s), "0-10=A");

    /* Same end, different starts: in start order. */
    EXPECT_OK(eddy__session_put(st, S("m"), 7, 9, S("late")));
    EXPECT_OK(eddy__session_put(st, S("m"), 3, 9, S("early")));
    EXPECT_STREQ(find(st, S("m"), 9, 9, &s), "3-9=early 7-9=late");
    EXPECT_STREQ(find(st, S("m"), 9, 6, &s), "3-9=early");

    /* Removal, and the sessions a merge replaces. */
    EXPECT_OK(eddy__session_put(st, S("k"), 20, 30, NONE));
    EXPECT_STREQ(find(st, S("k"), 0, 45, &s), "0-10=A 40-40=C");

    /* Callback errors. */
    seen_reset(&s);
    s.stop_after = 1;
    s.stop_err = EDDY_ERR_IO;
    EXPECT_ERR(eddy__session_find(st, S("k"), 0, INT64_MAX, on_session, &s), EDDY_ERR_IO);
    EXPECT_EQ(s.calls, 1);

    /* Bad sessions. */
    EXPECT_ERR(eddy__session_put(st, S("k"), 5, 4, S("x")), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_CONTAINS(eddy_last_error(), "before its start");
    EXPECT_ERR(eddy__session_put(st, S("k"), -1, 4, S("x")), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy__session_put(st, NONE, 1, 4, S("x")), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_ERR(eddy__session_find(st, S("k"), 0, 1, NULL, NULL), EDDY_ERR_INVALID_ARGUMENT);
    eddy_kv_store_close(st);
}

/* ---- Fetch over all keys ------------------------------------------------------------------------
 */

STORE_TEST(window_fetch_all)
{
    eddy_kv_store *st = open_kind(kind, "all");
    uint8_t a5[9];
    a_then_time(a5, 5);
    EXPECT_OK(eddy__window_put(st, S("b"), 1, S("b1")));
    EXPECT_OK(eddy__window_put(st, S("a"), 7, S("a7")));
    EXPECT_OK(eddy__window_put(st, S("a"), 3, S("a3")));
    EXPECT_OK(eddy__window_put(st, B(a5, 9), 2, S("x2")));
    EXPECT_OK(eddy__window_put(st, S(""), 4, S("e4")));
    seen s;
    /* Store order: "" first; "a"@3 < "a"+5+2 (longer, same prefix as "a"@5) < "a"@7. */
    EXPECT_STREQ(fetch_all(st, false, 0, INT64_MAX, &s),
                 "[]4=e4 [a]3=a3 [a\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x05]2=x2 [a]7=a7 [b]1=b1");
    EXPECT_STREQ(fetch_all(st, false, 2, 4, &s),
                 "[]4=e4 [a]3=a3 [a\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x05]2=x2");
    EXPECT_STREQ(fetch_all(st, false, 7, 7, &s), "[a]7=a7");
    EXPECT_STREQ(fetch_all(st, false, 8, 7, &s), "");
    EXPECT_STREQ(fetch_all(st, false, INT64_MIN, 1, &s), "[b]1=b1");

    seen_reset(&s);
    s.stop_after = 2;
    s.stop_err = EDDY_ERR_END;
    EXPECT_ERR(eddy__window_fetch_all(st, false, 0, INT64_MAX, on_any, &s), EDDY_ERR_END);
    EXPECT_EQ(s.calls, 2);

    /* Dups: the record key is what precedes the 12-byte suffix. */
    eddy_kv_store *d = open_kind(kind, "alldups");
    uint32_t seq = 0;
    EXPECT_OK(eddy__window_put_dup(d, S("k"), 5, &seq, S("one")));
    EXPECT_OK(eddy__window_put_dup(d, S("k"), 5, &seq, S("two")));
    EXPECT_OK(eddy__window_put_dup(d, S("j"), 6, &seq, S("three")));
    EXPECT_STREQ(fetch_all(d, true, 0, 10, &s), "[j]6=three [k]5=one [k]5=two");

    /* A key too short for the layout is corruption, reported with the store's name. */
    EXPECT_OK(eddy_kv_put(st, S("short"), S("x")));
    seen_reset(&s);
    EXPECT_ERR(eddy__window_fetch_all(st, false, 0, INT64_MAX, on_any, &s), EDDY_ERR_CORRUPT);
    EXPECT_CONTAINS(eddy_last_error(), "'all'");
    EXPECT_ERR(eddy__window_fetch_all(st, false, 0, INT64_MAX, NULL, NULL),
               EDDY_ERR_INVALID_ARGUMENT);
    eddy_kv_store_close(st);
    eddy_kv_store_close(d);
}

/* ---- Expiry ------------------------------------------------------------------------------------
 */

STORE_TEST(expire_boundaries)
{
    eddy_kv_store *w = open_kind(kind, "w");
    eddy_kv_store *d = open_kind(kind, "d");
    eddy_kv_store *ss = open_kind(kind, "s");
    uint32_t seq = 0;
    for (int64_t t = 98; t <= 101; t++) {
        EXPECT_OK(eddy__window_put(w, S("k"), t, S("v")));
        EXPECT_OK(eddy__window_put_dup(d, S("k"), t, &seq, S("v")));
        EXPECT_OK(eddy__window_put_dup(d, S("k"), t, &seq, S("w")));
        /* Sessions by end: starts well before, so only the end decides. */
        EXPECT_OK(eddy__session_put(ss, S("k"), 0, t, S("v")));
    }
    uint64_t deleted = 99;
    /* Nothing before 0 or at 100 or later... */
    EXPECT_OK(eddy__window_expire(w, false, false, 0, &deleted));
    EXPECT_EQ(deleted, 0);
    EXPECT_OK(eddy__window_expire(w, false, false, -5, NULL));
    /* start == before - 1 goes, start == before stays. */
    EXPECT_OK(eddy__window_expire(w, false, false, 100, &deleted));
    EXPECT_EQ(deleted, 2);
    seen s;
    EXPECT_STREQ(fetch(w, S("k"), false, 0, INT64_MAX, &s), "100=v 101=v");
    EXPECT_OK(eddy__window_expire(w, false, false, 100, &deleted)); /* again: nothing left */
    EXPECT_EQ(deleted, 0);

    EXPECT_OK(eddy__window_expire(d, false, true, 100, &deleted));
    EXPECT_EQ(deleted, 4);
    EXPECT_STREQ(fetch(d, S("k"), true, 0, INT64_MAX, &s), "100=v 100=w 101=v 101=w");

    EXPECT_OK(eddy__window_expire(ss, true, false, 100, &deleted));
    EXPECT_EQ(deleted, 2);
    EXPECT_STREQ(find(ss, S("k"), 0, INT64_MAX, &s), "0-100=v 0-101=v");
    EXPECT_OK(eddy__window_expire(ss, true, false, INT64_MAX, &deleted));
    EXPECT_EQ(deleted, 2);
    EXPECT_EQ(count_entries(ss), 0);

    /* A short key is corruption (and nothing is deleted past it). */
    EXPECT_OK(eddy_kv_put(w, S("bad"), S("x")));
    EXPECT_ERR(eddy__window_expire(w, false, false, 1000, &deleted), EDDY_ERR_CORRUPT);
    EXPECT_CONTAINS(eddy_last_error(), "3-byte key");
    EXPECT_ERR(eddy__window_expire(NULL, false, false, 1000, &deleted), EDDY_ERR_INVALID_ARGUMENT);
    eddy_kv_store_close(w);
    eddy_kv_store_close(d);
    eddy_kv_store_close(ss);
}

/* More entries than a batch holds, expired and kept ones interleaved in store order. */
STORE_TEST(expire_many_batches)
{
    eddy_kv_store *st = open_kind(kind, "many");
    const int keys = 50, per_key = 100; /* 5000 entries */
    for (int k = 0; k < keys; k++) {
        char key[16];
        snprintf(key, sizeof(key), "key-%03d", k);
        for (int t = 0; t < per_key; t++)
            EXPECT_OK(eddy__window_put(st, S(key), (t * 37 + k) % per_key, S("v")));
    }
    EXPECT_EQ(count_entries(st), 5000);
    uint64_t deleted;
    EXPECT_OK(eddy__window_expire(st, false, false, 70, &deleted));
    EXPECT_EQ(deleted, 3500);
    EXPECT_EQ(count_entries(st), 1500);
    seen s;
    for (int k = 0; k < keys; k++) {
        char key[16];
        snprintf(key, sizeof(key), "key-%03d", k);
        fetch(st, S(key), false, 0, INT64_MAX, &s);
        EXPECT_EQ(s.calls, 30);
        fetch(st, S(key), false, 70, 70, &s);
        EXPECT_EQ(s.calls, 1);
    }
    /* Everything, in more than one batch again. */
    EXPECT_OK(eddy__window_expire(st, false, false, INT64_MAX, &deleted));
    EXPECT_EQ(deleted, 1500);
    EXPECT_EQ(count_entries(st), 0);

    /* Batches bounded by bytes: 1500 keys of 2000 bytes (3 MB) in batches of about 1 MiB. */
    char *big = malloc(2000);
    memset(big, 'k', 2000);
    for (int i = 0; i < 1500; i++) {
        snprintf(big, 16, "%06d", i);
        big[6] = 'k';
        EXPECT_OK(eddy__window_put(st, B(big, 2000), i % 3, S("v")));
    }
    EXPECT_OK(eddy__window_expire(st, false, false, 2, &deleted));
    EXPECT_EQ(deleted, 1000);
    EXPECT_EQ(count_entries(st), 500);
    free(big);
    eddy_kv_store_close(st);
}

/* ---- A random walk against an array model -------------------------------------------------------
 */

enum { LAYOUT_WINDOW, LAYOUT_DUPS, LAYOUT_SESSION };

typedef struct model_entry {
    int key;      /* index into model_keys */
    int64_t t1;   /* window start, timestamp, or session start */
    int64_t t2;   /* session end */
    uint32_t seq; /* dups */
    int value;
    uint8_t store_key[64];
    size_t store_key_len;
} model_entry;

#define MODEL_MAX 4096

typedef struct model {
    int layout;
    model_entry entries[MODEL_MAX];
    int count;
} model;

static uint8_t model_a5[9], model_a0[9], model_a5_6[17];
static eddy_slice model_keys[8];
static const int model_key_count = 8;

static void model_keys_init(void)
{
    a_then_time(model_a5, 5);
    a_then_time(model_a0, 0);
    memcpy(model_a5_6, model_a5, 9);
    be64(model_a5_6 + 9, 6);
    model_keys[0] = S("");
    model_keys[1] = S("a");
    model_keys[2] = B(model_a5, 9);
    model_keys[3] = B(model_a0, 9);
    model_keys[4] = B(model_a5_6, 17);
    model_keys[5] = S("a\x01");
    model_keys[6] = S("b");
    model_keys[7] = S("\xff\xff");
}

static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int64_t rng_in(int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1));
}

static void model_entry_key(model_entry *e, int layout)
{
    eddy_slice key = model_keys[e->key];
    if (layout == LAYOUT_WINDOW) {
        e->store_key_len = eddy__window_key(e->store_key, key, e->t1);
    } else if (layout == LAYOUT_SESSION) {
        e->store_key_len = eddy__session_key(e->store_key, key, e->t1, e->t2);
    } else {
        e->store_key_len = eddy__window_key(e->store_key, key, e->t1);
        uint8_t *p = e->store_key + e->store_key_len;
        p[0] = (uint8_t)(e->seq >> 24);
        p[1] = (uint8_t)(e->seq >> 16);
        p[2] = (uint8_t)(e->seq >> 8);
        p[3] = (uint8_t)e->seq;
        e->store_key_len += 4;
    }
}

static int model_entry_compare(const void *a, const void *b)
{
    const model_entry *x = a, *y = b;
    return eddy__kv_compare(x->store_key, x->store_key_len, y->store_key, y->store_key_len);
}

static model_entry *model_find(model *m, const model_entry *e)
{
    for (int i = 0; i < m->count; i++)
        if (model_entry_compare(&m->entries[i], e) == 0)
            return &m->entries[i];
    return NULL;
}

static void model_remove(model *m, model_entry *e)
{
    *e = m->entries[--m->count];
}

/* The model's entries in store order. */
static void model_sort(model *m)
{
    qsort(m->entries, (size_t)m->count, sizeof(m->entries[0]), model_entry_compare);
}

static void model_expect_key(model *m, eddy_kv_store *st, int key, int64_t lo, int64_t hi)
{
    model_sort(m);
    char expected[16384] = "";
    for (int i = 0; i < m->count; i++) {
        const model_entry *e = &m->entries[i];
        if (e->key != key)
            continue;
        if (m->layout == LAYOUT_SESSION) {
            if (e->t2 < lo || e->t1 > hi)
                continue;
            appendf(expected, sizeof(expected), "%s%lld-%lld=v%d", expected[0] ? " " : "",
                    (long long)e->t1, (long long)e->t2, e->value);
        } else {
            if (e->t1 < lo || e->t1 > hi)
                continue;
            appendf(expected, sizeof(expected), "%s%lld=v%d", expected[0] ? " " : "",
                    (long long)e->t1, e->value);
        }
    }
    static seen s;
    if (m->layout == LAYOUT_SESSION)
        find(st, model_keys[key], lo, hi, &s);
    else
        fetch(st, model_keys[key], m->layout == LAYOUT_DUPS, lo, hi, &s);
    EXPECT_STREQ(s.text, expected);
}

static void model_expect_all(model *m, eddy_kv_store *st, int64_t lo, int64_t hi)
{
    model_sort(m);
    static char expected[65536];
    expected[0] = '\0';
    for (int i = 0; i < m->count; i++) {
        const model_entry *e = &m->entries[i];
        if (e->t1 < lo || e->t1 > hi)
            continue;
        appendf(expected, sizeof(expected), "%s[", expected[0] ? " " : "");
        dump_bytes(expected, sizeof(expected), model_keys[e->key].data, model_keys[e->key].len);
        appendf(expected, sizeof(expected), "]%lld=v%d", (long long)e->t1, e->value);
    }
    static seen s;
    EXPECT_STREQ(fetch_all(st, m->layout == LAYOUT_DUPS, lo, hi, &s), expected);
}

static void model_walk(const store_kind *kind, int layout, const char *name, int steps)
{
    static model m;
    memset(&m, 0, sizeof(m));
    m.layout = layout;
    eddy_kv_store *st = open_kind(kind, name);
    uint32_t seq = 0;
    int next_value = 0;
    int64_t base = 0; /* stream time drifts upward so that expiry has work to do */
    for (int step = 0; step < steps; step++) {
        base = step / 20;
        int op = (int)rng_in(0, 99);
        int key = (int)rng_in(0, model_key_count - 1);
        if (op < 60 && m.count < MODEL_MAX - 1) {
            model_entry e = {.key = key, .t1 = base + rng_in(0, 30), .value = next_value++};
            if (layout == LAYOUT_SESSION)
                e.t2 = e.t1 + rng_in(0, 8);
            if (layout == LAYOUT_DUPS)
                e.seq = seq;
            model_entry_key(&e, layout);
            char value[16];
            snprintf(value, sizeof(value), "v%d", e.value);
            if (layout == LAYOUT_WINDOW)
                EXPECT_OK(eddy__window_put(st, model_keys[key], e.t1, S(value)));
            else if (layout == LAYOUT_DUPS)
                EXPECT_OK(eddy__window_put_dup(st, model_keys[key], e.t1, &seq, S(value)));
            else
                EXPECT_OK(eddy__session_put(st, model_keys[key], e.t1, e.t2, S(value)));
            model_entry *old = model_find(&m, &e);
            if (old)
                *old = e;
            else
                m.entries[m.count++] = e;
        } else if (op < 70 && m.count > 0 && layout != LAYOUT_DUPS) {
            model_entry *e = &m.entries[rng_in(0, m.count - 1)];
            if (layout == LAYOUT_WINDOW)
                EXPECT_OK(eddy__window_put(st, model_keys[e->key], e->t1, NONE));
            else
                EXPECT_OK(eddy__session_put(st, model_keys[e->key], e->t1, e->t2, NONE));
            model_remove(&m, e);
        } else if (op < 88) {
            int64_t lo = base + rng_in(-10, 35), hi = lo + rng_in(-2, 20);
            if (rng_in(0, 9) == 0)
                hi = INT64_MAX;
            model_expect_key(&m, st, key, lo, hi);
        } else if (op < 93) {
            int64_t lo = base + rng_in(-10, 30), hi = lo + rng_in(-2, 20);
            if (layout != LAYOUT_SESSION)
                model_expect_all(&m, st, lo, hi);
        } else if (op < 97) {
            int64_t before = base + rng_in(-3, 10);
            uint64_t expected = 0, deleted;
            for (int i = 0; i < m.count;) {
                int64_t t = layout == LAYOUT_SESSION ? m.entries[i].t2 : m.entries[i].t1;
                if (t < before) {
                    model_remove(&m, &m.entries[i]);
                    expected++;
                } else {
                    i++;
                }
            }
            EXPECT_OK(eddy__window_expire(st, layout == LAYOUT_SESSION, layout == LAYOUT_DUPS,
                                          before, &deleted));
            EXPECT_EQ(deleted, expected);
        } else {
            EXPECT_EQ(count_entries(st), m.count);
        }
    }
    for (int k = 0; k < model_key_count; k++)
        model_expect_key(&m, st, k, 0, INT64_MAX);
    EXPECT_EQ(count_entries(st), m.count);
    eddy_kv_store_close(st);
}

STORE_TEST(random_walk_against_model)
{
    model_keys_init();
    rng_state = test_seed() | 1;
    int steps = test_soak() ? 20000 : 3000;
    model_walk(kind, LAYOUT_WINDOW, "walk-window", steps);
    model_walk(kind, LAYOUT_DUPS, "walk-dups", steps);
    model_walk(kind, LAYOUT_SESSION, "walk-session", steps);
}

/* The windowed memory store (store.h: eddy__kv_store_open_memory_windowed) opened with each
 * layout's suffix width: its retention is its own (expire_before), not the scan. */
static eddy_err open_windowed_8(const char *name, eddy_kv_store **out)
{
    return eddy__kv_store_open_memory_windowed(name, EDDY__WINDOW_SUFFIX_BYTES, out);
}

static eddy_err open_windowed_12(const char *name, eddy_kv_store **out)
{
    return eddy__kv_store_open_memory_windowed(name, EDDY__WINDOW_DUPS_SUFFIX_BYTES, out);
}

static eddy_err open_windowed_16(const char *name, eddy_kv_store **out)
{
    return eddy__kv_store_open_memory_windowed(name, EDDY__SESSION_SUFFIX_BYTES, out);
}

static const store_kind windowed_window = {"windowed", 0, 1, open_windowed_8};
static const store_kind windowed_dups = {"windowed", 0, 1, open_windowed_12};
static const store_kind windowed_session = {"windowed", 0, 1, open_windowed_16};

TEST(windowed_random_walk_against_model)
{
    model_keys_init();
    rng_state = test_seed() | 1;
    int steps = test_soak() ? 20000 : 3000;
    model_walk(&windowed_window, LAYOUT_WINDOW, "walk-window", steps);
    model_walk(&windowed_dups, LAYOUT_DUPS, "walk-dups", steps);
    model_walk(&windowed_session, LAYOUT_SESSION, "walk-session", steps);
}

/* ---- Decorators -------------------------------------------------------------------------------
 */

/* Over a record cache (part of the entries cached, part flushed to inner) and a locked store
 * (whose iterators hold a read lock: expiry must not delete while one is open). */
TEST(decorators)
{
    for (int variant = 0; variant < 2; variant++) {
        eddy_kv_store *inner = NULL, *st = NULL;
        EXPECT_OK(eddy_kv_store_open_memory("dec", &inner));
        if (variant == 0)
            EXPECT_OK(eddy__kv_store_cached(inner, 4096, &st));
        else
            EXPECT_OK(eddy__kv_store_locked(inner, &st));
        for (int i = 0; i < 3000; i++) {
            char key[16];
            snprintf(key, sizeof(key), "k%d", i % 30);
            EXPECT_OK(eddy__window_put(st, S(key), i / 30, S("v")));
        }
        seen s;
        fetch(st, S("k7"), false, 10, 19, &s);
        EXPECT_EQ(s.calls, 10);
        uint64_t deleted;
        EXPECT_OK(eddy__window_expire(st, false, false, 60, &deleted));
        EXPECT_EQ(deleted, 1800);
        fetch(st, S("k7"), false, 0, INT64_MAX, &s);
        EXPECT_EQ(s.calls, 40);
        EXPECT_EQ(count_entries(st), 1200);
        EXPECT_OK(eddy_kv_flush(st));
        EXPECT_EQ(count_entries(inner), 1200);
        eddy_kv_store_close(st);
    }
}

/* ---- Expiry through the runtime's stack and its expiry view ---------------------------------- */

/* Counts the changes a change log is given, and applies them to a replica (the restored store
 * of a restart reads the same changes back). */
typedef struct change_count {
    uint64_t changes;
    eddy_kv_store *replica;
} change_count;

static eddy_err count_change(void *opaque, eddy_slice key, eddy_slice value)
{
    change_count *c = opaque;
    c->changes++;
    return eddy_kv_put(c->replica, key, value); /* a null value deletes */
}

/* Expires windows of a store in cache -> changelog -> memory through an expiry view: nothing is
 * logged, clean cache entries go, a dirty one stays to be flushed (and logged) at the next
 * commit; a store restored from the change log expires the same windows. With a windowed
 * inner store and an empty cache, the inner store's own retention does it. */
static void expire_through_view(size_t cache_bytes, bool windowed)
{
    change_count log = {0};
    eddy_kv_store *inner = NULL, *logged = NULL, *cached = NULL, *view = NULL;
    if (windowed)
        EXPECT_OK(open_windowed_8("view", &inner));
    else
        EXPECT_OK(eddy_kv_store_open_memory("view", &inner));
    EXPECT_OK(eddy_kv_store_open_memory("replica", &log.replica));
    EXPECT_OK(eddy__kv_store_logged(inner, count_change, &log, &logged));
    EXPECT_OK(eddy__kv_store_cached(logged, cache_bytes, &cached));
    EXPECT_OK(eddy__kv_store_expiry_view(cached, true, inner, &view));
    for (int i = 0; i < 3000; i++) { /* 30 keys, windows 0..99 */
        char key[16];
        snprintf(key, sizeof(key), "k%d", i % 30);
        EXPECT_OK(eddy__window_put(cached, S(key), i / 30, S("v")));
    }
    EXPECT_OK(eddy_kv_flush(cached));
    EXPECT_OK(eddy__window_put(cached, S("k3"), 10, S("late"))); /* dirty in a cache */
    uint64_t logged_before = log.changes, deleted = 0;
    EXPECT_OK(eddy__window_expire(view, false, false, 60, &deleted));
    EXPECT_EQ(deleted, 1800);
    EXPECT_EQ(log.changes, logged_before); /* expiry logs nothing */
    EXPECT_EQ(count_entries(inner), 1200);
    eddy_slice v;
    if (cache_bytes) {
        EXPECT_OK(eddy__window_get(cached, S("k3"), 10, &v)); /* kept to be flushed */
        EXPECT_MEMEQ(v.data, v.len, "late", 4);
        EXPECT_OK(eddy_kv_flush(cached));
        EXPECT_EQ(log.changes, logged_before + 1);
        EXPECT_EQ(count_entries(inner), 1201); /* back until the next expiry */
    }
    EXPECT_ERR(eddy__window_get(cached, S("k4"), 10, &v), EDDY_ERR_NOT_FOUND);
    EXPECT_OK(eddy__window_get(cached, S("k4"), 60, &v));

    /* The next round drops the flushed window again. A store restored from the log (every
     * change, none of expiry's) then expires to the same entries. */
    EXPECT_OK(eddy__window_expire(view, false, false, 60, &deleted));
    EXPECT_EQ(deleted, (uint64_t)(cache_bytes ? 1 : 0));
    EXPECT_OK(eddy__window_expire(log.replica, false, false, 60, &deleted));
    EXPECT_EQ(deleted, 1800);
    EXPECT_EQ(count_entries(log.replica), 1200);
    EXPECT_EQ(count_entries(inner), 1200);
    EXPECT_OK(windowed ? eddy__kv_windowed_check(inner) : eddy__kv_memory_check(inner));
    EXPECT_OK(eddy__kv_memory_check(log.replica));
    eddy_kv_store_close(view); /* the view owns neither store */
    eddy_kv_store_close(cached);
    eddy_kv_store_close(log.replica);
}

TEST(expire_through_the_expiry_view)
{
    expire_through_view(1 << 20, false);
    expire_through_view(0, false);
    expire_through_view(1 << 20, true);
    expire_through_view(0, true);
}

/* ---- Scan cost and deletes under open iterators, seen through a probe ---------------------- */

/* A decorator over a memory store that counts iterator steps and open iterators, and the
 * deletes made while an iterator is open (which would deadlock a locked store). */
typedef struct probe {
    eddy_kv_store *inner;
    int open_iterators;
    uint64_t iterators_opened;
    uint64_t steps;
    uint64_t deletes_while_open;
} probe;

typedef struct probe_iter {
    probe *probe;
    eddy_kv_iter *inner;
} probe_iter;

static eddy_err probe_get(void *self, eddy_slice key, eddy_slice *value)
{
    return eddy_kv_get(((probe *)self)->inner, key, value);
}

static eddy_err probe_put(void *self, eddy_slice key, eddy_slice value)
{
    return eddy_kv_put(((probe *)self)->inner, key, value);
}

static eddy_err probe_remove(void *self, eddy_slice key)
{
    probe *p = self;
    if (p->open_iterators > 0)
        p->deletes_while_open++;
    return eddy_kv_delete(p->inner, key);
}

static eddy_err probe_next(void *self, eddy_slice *key, eddy_slice *value)
{
    probe_iter *it = self;
    it->probe->steps++;
    return eddy_kv_iter_next(it->inner, key, value);
}

static void probe_iter_destroy(void *self)
{
    probe_iter *it = self;
    it->probe->open_iterators--;
    eddy_kv_iter_destroy(it->inner);
    free(it);
}

static const eddy__kv_iter_ops probe_iter_ops = {probe_next, probe_iter_destroy};

static eddy_err probe_iter_open(void *self, const eddy__kv_bounds *bounds,
                                const eddy__kv_iter_ops **iter_ops, void **iter)
{
    probe *p = self;
    EXPECT_TRUE(bounds->to_inclusive || !bounds->to.data); /* window.c uses ranges and all only */
    probe_iter *it = calloc(1, sizeof(*it));
    it->probe = p;
    eddy_err err = bounds->reverse
                       ? eddy_kv_reverse_range(p->inner, bounds->from, bounds->to, &it->inner)
                       : eddy_kv_range(p->inner, bounds->from, bounds->to, &it->inner);
    if (err != EDDY_OK) {
        free(it);
        return err;
    }
    p->open_iterators++;
    p->iterators_opened++;
    *iter_ops = &probe_iter_ops;
    *iter = it;
    return EDDY_OK;
}

static eddy_err probe_count(void *self, uint64_t *count)
{
    return eddy_kv_approximate_count(((probe *)self)->inner, count);
}

static eddy_err probe_flush(void *self)
{
    return eddy_kv_flush(((probe *)self)->inner);
}

static void probe_close(void *self)
{
    probe *p = self;
    eddy_kv_store_close(p->inner);
}

static const eddy__kv_store_ops probe_ops = {
    .get = probe_get,
    .put = probe_put,
    .remove = probe_remove,
    .iter_open = probe_iter_open,
    .approximate_count = probe_count,
    .flush = probe_flush,
    .close = probe_close,
};

static eddy_kv_store *probe_open(probe *p)
{
    memset(p, 0, sizeof(*p));
    EXPECT_OK(eddy_kv_store_open_memory("probe", &p->inner));
    eddy_kv_store *st = NULL;
    EXPECT_OK(eddy__kv_store_wrap("probe", &probe_ops, p, &st));
    return st;
}

TEST(scans_visit_only_what_they_need)
{
    probe p;
    eddy_kv_store *st = probe_open(&p);
    /* 1000 sessions of "k" ([10i, 10i + 5]), and neighbours on both sides. */
    for (int64_t i = 0; i < 1000; i++) {
        EXPECT_OK(eddy__session_put(st, S("j"), 10 * i, 10 * i + 5, S("j")));
        EXPECT_OK(eddy__session_put(st, S("k"), 10 * i, 10 * i + 5, S("k")));
        EXPECT_OK(eddy__session_put(st, S("l"), 10 * i, 10 * i + 5, S("l")));
    }
    seen s;
    p.steps = 0;
    /* A merge search at time 9987 with gap 3: [9984, 9990]. */
    EXPECT_STREQ(find(st, S("k"), 9984, 9990, &s), "9980-9985=k 9990-9995=k");
    EXPECT_LE(p.steps, 3); /* two sessions and the end: the older 998 are never read */
    p.steps = 0;
    EXPECT_STREQ(find(st, S("k"), 5006, 5007, &s), ""); /* between [5000, 5005] and [5010, 5015] */
    EXPECT_LE(p.steps, 500); /* the 499 ending later (one could span it), and the end */
    eddy_kv_store_close(st);

    st = probe_open(&p);
    for (int64_t i = 0; i < 1000; i++) {
        EXPECT_OK(eddy__window_put(st, S("j"), i, S("j")));
        EXPECT_OK(eddy__window_put(st, S("k"), i, S("k")));
        EXPECT_OK(eddy__window_put(st, S("l"), i, S("l")));
    }
    p.steps = 0;
    fetch(st, S("k"), false, 500, 502, &s);
    EXPECT_EQ(s.calls, 3);
    EXPECT_LE(p.steps, 4);

    /* Expiry deletes only between scans, and scans again after each full batch. */
    uint64_t deleted;
    p.iterators_opened = 0;
    EXPECT_OK(eddy__window_expire(st, false, false, 900, &deleted));
    EXPECT_EQ(deleted, 2700);
    EXPECT_EQ(p.deletes_while_open, 0);
    EXPECT_EQ(p.iterators_opened, 3); /* 1024 + 1024 + 652 */
    EXPECT_EQ(p.open_iterators, 0);
    eddy_kv_store_close(st);
}

/* ---- Allocation failures ------------------------------------------------------------------------
 */

/* Expiry with the Nth allocation failing, for every N: the call fails with NO_MEMORY or
 * succeeds, a retry finishes the job, and nothing leaks. */
TEST(expire_allocation_failures)
{
    int64_t live_before = eddy__alloc_live_bytes();
    int failed_calls = 0;
    for (uint64_t n = 1;; n++) {
        eddy_kv_store *st = NULL;
        EXPECT_OK(eddy_kv_store_open_memory("faults", &st));
        for (int i = 0; i < 2500; i++) {
            char key[16];
            snprintf(key, sizeof(key), "k%d", i % 25);
            EXPECT_OK(eddy__window_put(st, S(key), i / 25, S("v")));
        }
        seen s;
        fetch(st, S("k3"), false, 0, INT64_MAX, &s); /* bring the memory store's order up to date */
        uint64_t deleted = 0, retried = 0;
        eddy__alloc_fail_after(n, (n & 1) == 0);
        eddy_err err = eddy__window_expire(st, false, false, 50, &deleted);
        uint64_t injected = eddy__alloc_failures_injected();
        eddy__alloc_fail_after(0, 0);
        if (err != EDDY_OK) {
            EXPECT_ERR(err, EDDY_ERR_NO_MEMORY);
            EXPECT_TRUE(injected > 0);
            failed_calls++;
        }
        EXPECT_OK(eddy__window_expire(st, false, false, 50, &retried));
        EXPECT_EQ(deleted + retried, 1250);
        EXPECT_EQ(count_entries(st), 1250);
        EXPECT_OK(eddy__kv_memory_check(st));

        /* Fetch and session find under the same failure. */
        eddy__alloc_fail_after(n, 1);
        err = eddy__window_fetch(st, S("k3"), false, 0, INT64_MAX, on_window, &s);
        eddy__alloc_fail_after(0, 0);
        EXPECT_TRUE(err == EDDY_OK || err == EDDY_ERR_NO_MEMORY);
        eddy_kv_store_close(st);
        EXPECT_EQ(eddy__alloc_live_bytes(), live_before);
        if (injected == 0 && err == EDDY_OK)
            break;
        EXPECT_TRUE(n < 10000);
    }
    EXPECT_GE(failed_calls, 4); /* iterators, the batch, its growth, the deletes */
}
