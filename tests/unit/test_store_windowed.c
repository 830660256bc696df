/* Model-based tests of the windowed memory store (src/store/windowed.c) against the general
 * memory store: the same random puts, deletes (one by one and in batches), gets, ranges with
 * random bounds (full keys, cut keys, short strings, none), reverse ranges, prefix scans,
 * keys-only scans, and iterators advanced in lockstep while both stores are written between
 * their steps. Record keys come in two families: all of one length (the store's fast path),
 * and of mixed lengths with bytes 0x00 and 0xff and keys that extend others by a suffix's
 * width, so that entries of different record keys interleave in byte order. Every suffix
 * width of the layouts (8, 12, 16) is run, with retention (eddy__window_expire) too: the
 * windowed store drops expired entries itself, the memory store by its scan, and both must
 * delete the same keys, times with the top bit set (negative int64s, sorting last) included.
 * Then allocation failures, SQLite style: the Nth
 * allocation fails (once, or from then on) until a run completes without one; every failure
 * is EDDY_ERR_NO_MEMORY and leaves the store as it was, and nothing leaks. Failures print the
 * seed (EDDY_TEST_SEED replays it). */
#include "test_store.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "store/store.h"
#include "store/window.h"
#include "test.h"

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t rng_below(uint32_t n)
{
    return (uint32_t)(rng_next() % n);
}

static const uint8_t alphabet[] = {0x00, 0x01, 'a', 0xff};

/* A record key: fixed length 3, or (mixed) 2 or 3 bytes, or such a key extended by one or two
 * suffix-wide runs (so that "ab" and "ab" + w bytes both exist), or rarely one byte. */
static size_t make_record_key(uint8_t *out, int mixed, size_t w)
{
    size_t len = 3;
    if (mixed) { /* one byte, rarely: a prefix of many keys, so a large cluster */
        uint32_t r = rng_below(100);
        len = r == 0 ? 1 : r < 40 ? 2 : r < 70 ? 3 : 2 + rng_below(2) + w * (1 + rng_below(2));
    }
    for (size_t i = 0; i < len; i++)
        out[i] = alphabet[rng_below(4)];
    return len;
}

static size_t make_suffix(uint8_t *out, size_t w)
{
    memset(out, 0, w);
    for (int i = 0; i < 2; i++)
        out[rng_below((uint32_t)w)] = alphabet[rng_below(4)];
    return w;
}

static size_t make_key(uint8_t *out, int mixed, size_t w)
{
    size_t n = make_record_key(out, mixed, w);
    return n + make_suffix(out + n, w);
}

static size_t make_value(uint8_t *out)
{
    uint32_t r = rng_below(10);
    size_t len = r < 3 ? rng_below(9) : r < 9 ? rng_below(64) : rng_below(600);
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)rng_next();
    return len;
}

/* A bound: none, a key, a cut key or a short random string. */
static eddy_slice make_bound(uint8_t *buf, int mixed, size_t w)
{
    uint32_t r = rng_below(10);
    if (r == 0)
        return NONE;
    size_t len = make_key(buf, mixed, w);
    if (r < 4)
        len = rng_below((uint32_t)len + 1);
    return B(buf, len);
}

/* Reads one step from both iterators and compares. Returns 0 once both ended. */
static int step_both(eddy_kv_iter *a, eddy_kv_iter *b, int keys_only)
{
    eddy_slice ka, va, kb, vb;
    eddy_err ea = eddy_kv_iter_next(a, &ka, &va);
    eddy_err eb = eddy_kv_iter_next(b, &kb, &vb);
    EXPECT_EQ(ea, eb);
    if (ea != EDDY_OK)
        return 0;
    EXPECT_MEMEQ(ka.data, ka.len, kb.data, kb.len);
    EXPECT_TRUE(va.data != NULL);
    if (!keys_only)
        EXPECT_MEMEQ(va.data, va.len, vb.data, vb.len);
    return 1;
}

/* Opens the same random iterator on both stores. */
static void open_both(eddy_kv_store *model, eddy_kv_store *s, int mixed, size_t w, eddy_kv_iter **a,
                      eddy_kv_iter **b, int *keys_only)
{
    static uint8_t from_buf[64], to_buf[64];
    eddy_slice from = make_bound(from_buf, mixed, w), to = make_bound(to_buf, mixed, w);
    uint32_t kind = rng_below(6);
    *keys_only = 0;
    if (kind == 0) {
        EXPECT_OK(eddy_kv_range(model, from, to, a));
        EXPECT_OK(eddy_kv_range(s, from, to, b));
    } else if (kind == 1) {
        EXPECT_OK(eddy_kv_reverse_range(model, from, to, a));
        EXPECT_OK(eddy_kv_reverse_range(s, from, to, b));
    } else if (kind == 2 && from.data) {
        EXPECT_OK(eddy_kv_prefix_scan(model, from, a));
        EXPECT_OK(eddy_kv_prefix_scan(s, from, b));
    } else {
        eddy__kv_bounds bounds = {.from = from,
                                  .to = to,
                                  .to_inclusive = (int)rng_below(2),
                                  .reverse = kind == 3,
                                  .keys_only = kind == 4};
        *keys_only = kind == 4;
        EXPECT_OK(eddy__kv_iter_open_bounds(model, &bounds, a));
        EXPECT_OK(eddy__kv_iter_open_bounds(s, &bounds, b));
    }
}

/* One random write (put, delete or batch delete) to both stores. */
static void write_both(eddy_kv_store *model, eddy_kv_store *s, int mixed, size_t w)
{
    static uint8_t key[64], value[600], keys[16][64];
    uint32_t r = rng_below(10);
    if (r < 6) {
        size_t kl = make_key(key, mixed, w), vl = make_value(value);
        EXPECT_OK(eddy_kv_put(model, B(key, kl), B(value, vl)));
        EXPECT_OK(eddy_kv_put(s, B(key, kl), B(value, vl)));
    } else if (r < 9) {
        size_t kl = make_key(key, mixed, w);
        EXPECT_OK(eddy_kv_delete(model, B(key, kl)));
        EXPECT_OK(eddy_kv_delete(s, B(key, kl)));
    } else {
        /* A batch as retention makes: keys of one record key in order, and some others. */
        eddy_slice batch[16];
        size_t n = rng_below(16) + 1, rl = make_record_key(keys[0], mixed, w);
        for (size_t i = 0; i < n; i++) {
            size_t kl = rl;
            if (rng_below(4) == 0)
                kl = make_record_key(keys[i], mixed, w);
            else if (i > 0)
                memcpy(keys[i], keys[0], rl);
            batch[i] = B(keys[i], kl + make_suffix(keys[i] + kl, w));
        }
        EXPECT_OK(eddy__kv_delete_many(model, batch, n));
        EXPECT_OK(eddy__kv_delete_many(s, batch, n));
    }
}

/* Retention on both: the windowed store's own (expire_before) against the memory store's scan,
 * with a bound that is a time of some suffix, a small time, or one past every time. */
static void expire_both(eddy_kv_store *model, eddy_kv_store *s, size_t w)
{
    uint8_t suffix[16];
    make_suffix(suffix, w);
    int64_t before = 0;
    for (int i = 0; i < 8; i++)
        before = (int64_t)(((uint64_t)before << 8) | suffix[i]);
    uint32_t r = rng_below(4);
    if (r == 0)
        before = rng_below(1000);
    else if (r == 1)
        before = INT64_MAX;
    uint64_t a = 0, b = 0;
    EXPECT_OK(eddy__window_expire(model, w == 16, w == 12, before, &a));
    EXPECT_OK(eddy__window_expire(s, w == 16, w == 12, before, &b));
    EXPECT_EQ(a, b);
}

static void check_all(eddy_kv_store *model, eddy_kv_store *s)
{
    EXPECT_OK(eddy__kv_windowed_check(s));
    uint64_t a, b;
    EXPECT_OK(eddy_kv_approximate_count(model, &a));
    EXPECT_OK(eddy_kv_approximate_count(s, &b));
    EXPECT_EQ(a, b);
    eddy_kv_iter *ia, *ib;
    EXPECT_OK(eddy_kv_all(model, &ia));
    EXPECT_OK(eddy_kv_all(s, &ib));
    while (step_both(ia, ib, 0))
        ;
    eddy_kv_iter_destroy(ia);
    eddy_kv_iter_destroy(ib);
    EXPECT_OK(eddy_kv_reverse_all(model, &ia));
    EXPECT_OK(eddy_kv_reverse_all(s, &ib));
    while (step_both(ia, ib, 0))
        ;
    eddy_kv_iter_destroy(ia);
    eddy_kv_iter_destroy(ib);
}

static void check_get(eddy_kv_store *model, eddy_kv_store *s, int mixed, size_t w)
{
    static uint8_t key[64];
    size_t kl = make_key(key, mixed, w);
    if (rng_below(8) == 0)
        kl = rng_below((uint32_t)w); /* too short to hold a suffix: absent */
    eddy_slice va, vb;
    eddy_err ea = eddy_kv_get(model, B(key, kl), &va);
    eddy_err eb = eddy_kv_get(s, B(key, kl), &vb);
    EXPECT_EQ(ea, eb);
    if (ea == EDDY_OK)
        EXPECT_MEMEQ(va.data, va.len, vb.data, vb.len);
}

static void run_windowed_model(size_t w, int mixed, uint32_t operations)
{
    rng_state = test_seed() ^ (w * 31 + (size_t)mixed);
    eddy_kv_store *model, *s;
    EXPECT_OK(eddy_kv_store_open_memory("model", &model));
    EXPECT_OK(eddy__kv_store_open_memory_windowed("windowed", w, &s));
    eddy_kv_iter *live_a = NULL, *live_b = NULL;
    int live_keys_only = 0;
    for (uint32_t op = 0; op < operations; op++) {
        uint32_t r = rng_below(100);
        if (r < 44) {
            write_both(model, s, mixed, w);
        } else if (r < 45) {
            expire_both(model, s, w);
        } else if (r < 60) {
            check_get(model, s, mixed, w);
        } else if (r < 75) { /* a whole scan, or a few steps of one */
            eddy_kv_iter *a, *b;
            int keys_only;
            open_both(model, s, mixed, w, &a, &b, &keys_only);
            uint32_t limit = rng_below(2) ? UINT32_MAX : rng_below(4);
            for (uint32_t i = 0; i < limit && step_both(a, b, keys_only); i++)
                ;
            eddy_kv_iter_destroy(a);
            eddy_kv_iter_destroy(b);
        } else { /* the long-lived iterators, advanced between writes */
            if (!live_a)
                open_both(model, s, mixed, w, &live_a, &live_b, &live_keys_only);
            if (!step_both(live_a, live_b, live_keys_only) || rng_below(30) == 0) {
                eddy_kv_iter_destroy(live_a);
                eddy_kv_iter_destroy(live_b);
                live_a = live_b = NULL;
            }
        }
        if (op % 2000 == 1999)
            check_all(model, s);
    }
    check_all(model, s);
    /* Closing with an iterator open ends it, as for every store. */
    if (live_a) {
        eddy_kv_iter_destroy(live_a);
        eddy_kv_store_close(s);
        eddy_slice k, v;
        EXPECT_ERR(eddy_kv_iter_next(live_b, &k, &v), EDDY_ERR_STATE);
        eddy_kv_iter_destroy(live_b);
    } else {
        eddy_kv_store_close(s);
    }
    eddy_kv_store_close(model);
}

TEST(windowed_model_uniform_keys)
{
    run_windowed_model(8, 0, 40000);
    run_windowed_model(12, 0, 40000);
    run_windowed_model(16, 0, 40000);
}

TEST(windowed_model_prefix_related_keys)
{
    run_windowed_model(8, 1, 25000);
    run_windowed_model(12, 1, 25000);
    run_windowed_model(16, 1, 25000);
}

TEST(windowed_interleaved_record_keys)
{
    /* "a" + [00..05] < "a" + [00..05] + [00..07] < "a" + [00..09]: the entries of "a" and of
     * its extension interleave, forward and reverse. */
    eddy_kv_store *s;
    EXPECT_OK(eddy__kv_store_open_memory_windowed("interleave", 8, &s));
    uint8_t k1[9] = {'a', 0, 0, 0, 0, 0, 0, 0, 5};
    uint8_t k2[17] = {'a', 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 7};
    uint8_t k3[9] = {'a', 0, 0, 0, 0, 0, 0, 0, 9};
    EXPECT_OK(eddy_kv_put(s, B(k3, 9), S("3")));
    EXPECT_OK(eddy_kv_put(s, B(k2, 17), S("2")));
    EXPECT_OK(eddy_kv_put(s, B(k1, 9), S("1")));
    const char *order = "123";
    for (int reverse = 0; reverse < 2; reverse++) {
        eddy_kv_iter *it;
        EXPECT_OK(reverse ? eddy_kv_reverse_all(s, &it) : eddy_kv_all(s, &it));
        eddy_slice k, v;
        for (int i = 0; i < 3; i++) {
            EXPECT_OK(eddy_kv_iter_next(it, &k, &v));
            EXPECT_MEMEQ(v.data, v.len, &order[reverse ? 2 - i : i], 1);
        }
        EXPECT_ERR(eddy_kv_iter_next(it, &k, &v), EDDY_ERR_END);
        eddy_kv_iter_destroy(it);
    }
    EXPECT_ERR(eddy_kv_put(s, S("short"), S("x")), EDDY_ERR_INVALID_ARGUMENT);
    EXPECT_CONTAINS(eddy_last_error(), "store 'interleave'");
    EXPECT_OK(eddy__kv_windowed_check(s));
    eddy_kv_store_close(s);
}

static uint64_t count_entries(eddy_kv_store *st)
{
    eddy_kv_iter *it;
    EXPECT_OK(eddy_kv_all(st, &it));
    eddy_slice k, v;
    uint64_t n = 0;
    while (eddy_kv_iter_next(it, &k, &v) == EDDY_OK)
        n++;
    eddy_kv_iter_destroy(it);
    return n;
}

/* A removal that empties a record key's group leaves the group for a put to refill (a session
 * merge removes a key's only session, then puts the merged one); reads see it as absent, and
 * an iterator, another emptied group or retention drops it. */
TEST(windowed_emptied_group_refilled_or_dropped)
{
    eddy_kv_store *s;
    EXPECT_OK(eddy__kv_store_open_memory_windowed("sessions", 16, &s));
    uint8_t a1[20] = "user", a2[20] = "user", b1[20] = "othr";
    a1[19] = 1;
    a2[19] = 2;
    b1[19] = 1;
    eddy_slice v;
    EXPECT_OK(eddy_kv_put(s, B(a1, 20), S("one")));
    EXPECT_OK(eddy_kv_delete(s, B(a1, 20)));
    EXPECT_OK(eddy__kv_windowed_check(s));
    EXPECT_ERR(eddy_kv_get(s, B(a1, 20), &v), EDDY_ERR_NOT_FOUND);
    EXPECT_OK(eddy_kv_delete(s, B(a1, 20)));
    EXPECT_EQ(count_entries(s), 0); /* an iterator drops the empty group */
    EXPECT_OK(eddy__kv_windowed_check(s));

    /* Refilled by the next put of its record key. */
    EXPECT_OK(eddy_kv_put(s, B(a1, 20), S("one")));
    EXPECT_OK(eddy_kv_delete(s, B(a1, 20)));
    EXPECT_OK(eddy_kv_put(s, B(a2, 20), S("two")));
    EXPECT_OK(eddy__kv_windowed_check(s));
    EXPECT_OK(eddy_kv_get(s, B(a2, 20), &v));
    EXPECT_MEMEQ(v.data, v.len, "two", 3);
    EXPECT_EQ(count_entries(s), 1);

    /* Another group emptied drops the first; retention drops the second. */
    EXPECT_OK(eddy_kv_put(s, B(b1, 20), S("b")));
    EXPECT_OK(eddy_kv_delete(s, B(a2, 20)));
    EXPECT_OK(eddy_kv_delete(s, B(b1, 20)));
    EXPECT_OK(eddy__kv_windowed_check(s));
    uint64_t deleted = 99;
    EXPECT_OK(eddy__window_expire(s, true, false, 1, &deleted));
    EXPECT_EQ(deleted, 0);
    EXPECT_OK(eddy__kv_windowed_check(s));
    uint64_t count = 1;
    EXPECT_OK(eddy_kv_approximate_count(s, &count));
    EXPECT_EQ(count, 0);
    eddy_kv_store_close(s);
}

/* Values live in their entries up to the inline room a group takes from its first value (8 to
 * 56 bytes), longer ones in buffers of their own; updates move between the two. */
TEST(windowed_values_inline_and_in_buffers)
{
    static const size_t sizes[] = {0, 3, 8, 9, 50, 56, 57, 300};
    const size_t n = sizeof(sizes) / sizeof(sizes[0]);
    eddy_kv_store *model, *s;
    EXPECT_OK(eddy_kv_store_open_memory("model", &model));
    EXPECT_OK(eddy__kv_store_open_memory_windowed("values", 12, &s));
    static uint8_t value[320];
    for (size_t i = 0; i < sizeof(value); i++)
        value[i] = (uint8_t)(i * 7 + 1);
    for (int round = 0; round < 3; round++) {
        for (size_t first = 0; first < n; first++) { /* a record key per first size */
            for (size_t e = 0; e < 2 * n; e++) {     /* its entries, of every size */
                uint8_t key[14] = {'k', (uint8_t)first};
                key[13] = (uint8_t)e;
                size_t len = sizes[(first + e + (size_t)round * 3) % n];
                EXPECT_OK(eddy_kv_put(model, B(key, 14), B(value + round, len)));
                EXPECT_OK(eddy_kv_put(s, B(key, 14), B(value + round, len)));
            }
        }
        EXPECT_OK(eddy__kv_windowed_check(s));
        check_all(model, s);
    }
    eddy_kv_store_close(s);
    eddy_kv_store_close(model);
}

/* ---- Allocation failures ----------------------------------------------------------------- */

#define FAULT_KEYS 120

/* Key i: one of 12 record keys (some extending others), one of 10 suffixes. */
static size_t fault_key(int i, uint8_t *out)
{
    static const char *records[] = {"k",  "k0000000", "ka", "kb", "kc", "kd",
                                    "ke", "kf",       "kg", "kh", "ki", "k\xff"};
    size_t n = strlen(records[i % 12]);
    memcpy(out, records[i % 12], n);
    memset(out + n, 0, 8);
    out[n + 7] = (uint8_t)(i / 12 * 3);
    return n + 8;
}

typedef struct fault_state {
    int present[FAULT_KEYS];
    size_t value_len[FAULT_KEYS];
} fault_state;

static int ok_or_no_memory(eddy_err err)
{
    if (err != EDDY_OK && err != EDDY_ERR_NO_MEMORY)
        eddy_test_fail(__FILE__, __LINE__, "expected OK or NO_MEMORY, got %s: %s",
                       eddy_err_name(err), eddy_last_error());
    return err == EDDY_OK;
}

static void fault_check(eddy_kv_store *s, const fault_state *x)
{
    size_t present = 0;
    for (int i = 0; i < FAULT_KEYS; i++) {
        uint8_t key[32];
        size_t kl = fault_key(i, key);
        eddy_slice v;
        if (!x->present[i]) {
            EXPECT_ERR(eddy_kv_get(s, B(key, kl), &v), EDDY_ERR_NOT_FOUND);
            continue;
        }
        present++;
        EXPECT_OK(eddy_kv_get(s, B(key, kl), &v));
        EXPECT_EQ(v.len, x->value_len[i]);
    }
    uint64_t count;
    EXPECT_OK(eddy_kv_approximate_count(s, &count));
    EXPECT_EQ(count, present);
    EXPECT_OK(eddy__kv_windowed_check(s));
}

/* Puts, updates (growing values), deletes and scans, each possibly failing. */
static void fault_workload(eddy_kv_store *s, fault_state *x)
{
    static uint8_t value[3000];
    for (int round = 0; round < 3; round++) {
        for (int j = 0; j < FAULT_KEYS; j++) {
            int i = (j * 37 + round * 11) % FAULT_KEYS;
            uint8_t key[32];
            size_t kl = fault_key(i, key);
            size_t vl = (size_t)((i * 13 + round * 700) % 2900);
            if (round == 2 && i % 3 == 0) {
                EXPECT_OK(eddy_kv_delete(s, B(key, kl))); /* deletion never allocates */
                x->present[i] = 0;
            } else if (ok_or_no_memory(eddy_kv_put(s, B(key, kl), B(value, vl)))) {
                x->present[i] = 1;
                x->value_len[i] = vl;
            }
        }
        for (int reverse = 0; reverse < 2; reverse++) {
            eddy_kv_iter *it = NULL;
            if (!ok_or_no_memory(reverse ? eddy_kv_reverse_all(s, &it) : eddy_kv_all(s, &it)))
                continue;
            eddy_slice k, v;
            eddy_err err;
            int failures = 0; /* a failed step can be retried */
            while ((err = eddy_kv_iter_next(it, &k, &v)) == EDDY_OK || err == EDDY_ERR_NO_MEMORY)
                if (err == EDDY_ERR_NO_MEMORY && ++failures > 1000)
                    break;
            eddy_kv_iter_destroy(it);
        }
    }
}

static void windowed_faults(int persistent)
{
    uint64_t n;
    for (n = 1; n < 100000; n++) {
        int64_t live_before = eddy__alloc_live_bytes();
        eddy_kv_store *s;
        EXPECT_OK(eddy__kv_store_open_memory_windowed("faults", 8, &s));
        fault_state x = {{0}, {0}};
        eddy__alloc_fail_after(n, persistent);
        fault_workload(s, &x);
        int injected = eddy__alloc_failures_injected() > 0;
        eddy__alloc_fail_after(0, 0);
        fault_check(s, &x);
        eddy_kv_store_close(s);
        EXPECT_EQ(eddy__alloc_live_bytes(), live_before);
        if (!injected)
            break;
    }
    printf("    %s failures: every one of %llu allocation points failed\n",
           persistent ? "persistent" : "one-shot", (unsigned long long)(n - 1));
    EXPECT_GE(n, 10);
}

TEST(windowed_allocation_failures_once)
{
    windowed_faults(0);
}

TEST(windowed_allocation_failures_persistent)
{
    windowed_faults(1);
}
