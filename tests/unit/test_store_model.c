/* Model-based tests of the key-value stores: long random sequences of puts, deletes, gets and
 * scans (ranges with random bounds, prefixes, all, forward and reverse) against a sorted array,
 * with keys built to stress the comparisons (empty keys, 0x00 and 0xff bytes, keys that are
 * prefixes of others, long keys) and values from empty to a few KiB. The memory store's B+tree
 * and hash table invariants are checked along the way, through growth to several levels, a
 * shrink to nothing and growth again. A second test modifies the store while iterating and
 * checks each implementation's promise. Failures print the seed (EDDY_TEST_SEED replays it). */
#include "test_store.h"

#include <stdio.h>
#include <stdlib.h>

#include "store/store.h"
#include "test.h"

/* ---- Random numbers (splitmix64) ---------------------------------------------------------- */

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

/* ---- The model: a sorted array of owned keys and values ------------------------------------ */

typedef struct model_entry {
    uint8_t *key;
    size_t key_len;
    uint8_t *value;
    size_t value_len;
} model_entry;

typedef struct model {
    model_entry *entries;
    size_t count;
    size_t capacity;
} model;

static int model_compare(const void *a, size_t a_len, const void *b, size_t b_len)
{
    return eddy__kv_compare(a, a_len, b, b_len);
}

/* The first index whose key is >= key. */
static size_t model_lower_bound(const model *m, const void *key, size_t len)
{
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (model_compare(m->entries[mid].key, m->entries[mid].key_len, key, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static model_entry *model_find(model *m, const void *key, size_t len)
{
    size_t i = model_lower_bound(m, key, len);
    if (i < m->count && model_compare(m->entries[i].key, m->entries[i].key_len, key, len) == 0)
        return &m->entries[i];
    return NULL;
}

static uint8_t *copy_bytes(const void *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    EXPECT_TRUE(copy != NULL);
    if (len)
        memcpy(copy, data, len);
    return copy;
}

static void model_put(model *m, const void *key, size_t key_len, const void *value,
                      size_t value_len)
{
    size_t i = model_lower_bound(m, key, key_len);
    if (i < m->count &&
        model_compare(m->entries[i].key, m->entries[i].key_len, key, key_len) == 0) {
        free(m->entries[i].value);
        m->entries[i].value = copy_bytes(value, value_len);
        m->entries[i].value_len = value_len;
        return;
    }
    if (m->count == m->capacity) {
        m->capacity = m->capacity ? m->capacity * 2 : 64;
        m->entries = realloc(m->entries, m->capacity * sizeof(*m->entries));
        EXPECT_TRUE(m->entries != NULL);
    }
    memmove(&m->entries[i + 1], &m->entries[i], (m->count - i) * sizeof(*m->entries));
    m->entries[i].key = copy_bytes(key, key_len);
    m->entries[i].key_len = key_len;
    m->entries[i].value = copy_bytes(value, value_len);
    m->entries[i].value_len = value_len;
    m->count++;
}

static void model_delete(model *m, const void *key, size_t key_len)
{
    model_entry *e = model_find(m, key, key_len);
    if (!e)
        return;
    free(e->key);
    free(e->value);
    size_t i = (size_t)(e - m->entries);
    memmove(&m->entries[i], &m->entries[i + 1], (m->count - i - 1) * sizeof(*m->entries));
    m->count--;
}

static void model_free(model *m)
{
    for (size_t i = 0; i < m->count; i++) {
        free(m->entries[i].key);
        free(m->entries[i].value);
    }
    free(m->entries);
    memset(m, 0, sizeof(*m));
}

/* ---- Keys and values ------------------------------------------------------------------------ */

/* Bytes that make comparisons interesting: the extremes, the sign boundary, and two letters. */
static const uint8_t key_alphabet[] = {0x00, 0x01, 'a', 'b', 0x7f, 0x80, 0xfe, 0xff};

/* A window store's key ([13-byte record key][time 8], 21 bytes) or a session store's ([record
 * key][end 8][start 8], 29 bytes), for ids close together sharing a record key: keys that tie
 * on their first 16 bytes, and the session ones on the memory store's whole 24-byte summary. */
static size_t make_window_key(uint32_t id, uint8_t *out, int session)
{
    uint32_t record = id / 64, time = id % 64;
    int n = snprintf((char *)out, 14, "user-%08u", record);
    EXPECT_EQ(n, 13);
    for (int i = 0; i < 8; i++)
        out[13 + i] = (uint8_t)((i == 7 ? time : i == 6 ? 0x5a : 0) & 0xff);
    if (!session)
        return 21;
    for (int i = 0; i < 8; i++)
        out[21 + i] = (uint8_t)(i == 7 ? time * 3 : 0);
    return 29;
}

/* The key numbered id in a space of `space` keys: short keys over the alphabet (many of them
 * prefixes of others; different ids can give the same key, which is fine), a fixed-width
 * numbered family so that the space is large, window and session store keys, and now and then
 * a long key. */
static size_t make_key(uint32_t id, uint8_t *out)
{
    uint64_t h = id * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
    switch (id % 8) {
    case 2:
    case 3:
        return make_window_key(id, out, id % 8 == 3);
    case 0: { /* short alphabet keys, 0 to 5 bytes */
        size_t len = h % 6;
        for (size_t i = 0; i < len; i++)
            out[i] = key_alphabet[(h >> (3 * i + 8)) & 7];
        return len;
    }
    case 1: { /* long keys sharing a long prefix */
        size_t len = 100 + h % 300;
        memset(out, 0xab, len);
        out[len - 1] = (uint8_t)id;
        out[len - 2] = (uint8_t)(id >> 8);
        return len;
    }
    default: { /* the numbered family: alphabet byte, then 3 bytes of id, then 0-4 more */
        out[0] = key_alphabet[h & 7];
        out[1] = (uint8_t)(id >> 16);
        out[2] = (uint8_t)(id >> 8);
        out[3] = (uint8_t)id;
        size_t extra = (h >> 8) % 5;
        for (size_t i = 0; i < extra; i++)
            out[4 + i] = key_alphabet[(h >> (12 + 3 * i)) & 7];
        return 4 + extra;
    }
    }
}

static size_t make_value(uint8_t *out, size_t max)
{
    uint32_t r = rng_below(100);
    size_t len = r < 5 ? 0 : r < 90 ? rng_below(24) : r < 99 ? rng_below(300) : rng_below(4000);
    if (len > max)
        len = max;
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)rng_next();
    return len;
}

/* ---- Checks ---------------------------------------------------------------------------------- */

static void check_get(eddy_kv_store *s, model *m, const uint8_t *key, size_t len)
{
    eddy_slice v;
    model_entry *e = model_find(m, key, len);
    if (!e) {
        EXPECT_ERR(eddy_kv_get(s, B(key, len), &v), EDDY_ERR_NOT_FOUND);
        return;
    }
    EXPECT_OK(eddy_kv_get(s, B(key, len), &v));
    EXPECT_TRUE(v.data != NULL);
    EXPECT_EQ(v.len, e->value_len);
    EXPECT_TRUE(v.len == 0 || memcmp(v.data, e->value, v.len) == 0);
}

/* Compares an iterator with the model entries [begin, end) (ascending) or (end, begin] walked
 * down (descending), reading at most limit entries; destroys the iterator. keys_only: the
 * iterator was opened with that hint, so a value may also come back empty. */
static void check_scan_values(eddy_kv_iter *it, const model *m, size_t begin, size_t end,
                              int reverse, size_t limit, int keys_only)
{
    size_t expected = end > begin ? end - begin : 0;
    size_t read = 0;
    eddy_slice k, v;
    eddy_err err = EDDY_OK;
    while (read < limit && (err = eddy_kv_iter_next(it, &k, &v)) == EDDY_OK) {
        EXPECT_TRUE(read < expected);
        const model_entry *e = &m->entries[reverse ? end - 1 - read : begin + read];
        EXPECT_MEMEQ(k.data, k.len, e->key, e->key_len);
        if (!keys_only || v.len != 0)
            EXPECT_EQ(v.len, e->value_len);
        EXPECT_TRUE(v.len == 0 || memcmp(v.data, e->value, v.len) == 0);
        read++;
    }
    if (read < limit) {
        EXPECT_ERR(err, EDDY_ERR_END);
        EXPECT_EQ(read, expected);
    }
    eddy_kv_iter_destroy(it);
}

static void check_scan(eddy_kv_iter *it, const model *m, size_t begin, size_t end, int reverse,
                       size_t limit)
{
    check_scan_values(it, m, begin, end, reverse, limit, 0);
}

static void random_bound(uint32_t space, uint8_t *buf, eddy_slice *bound)
{
    if (rng_below(8) == 0) {
        *bound = NONE;
        return;
    }
    size_t len = make_key(rng_below(space), buf);
    if (rng_below(4) == 0 && len > 0)
        len = rng_below((uint32_t)len); /* a cut key: lands between keys */
    *bound = B(buf, len);
}

static void check_random_scan(eddy_kv_store *s, const model *m, uint32_t space)
{
    uint8_t from_buf[512], to_buf[512];
    eddy_slice from, to;
    random_bound(space, from_buf, &from);
    random_bound(space, to_buf, &to);
    size_t limit = rng_below(10) == 0 ? SIZE_MAX : 40;
    eddy_kv_iter *it;
    uint32_t kind = rng_below(4);
    if (kind == 0 || kind == 1) {
        size_t begin = from.data ? model_lower_bound(m, from.data, from.len) : 0;
        size_t end = m->count;
        if (to.data) {
            end = model_lower_bound(m, to.data, to.len);
            if (end < m->count &&
                model_compare(m->entries[end].key, m->entries[end].key_len, to.data, to.len) == 0)
                end++;
        }
        if (from.data && to.data && model_compare(from.data, from.len, to.data, to.len) > 0)
            end = begin; /* from > to: empty */
        /* Now and then with the keys_only hint (as retention scans), when not from > to. */
        int keys_only = end > begin && rng_below(3) == 0;
        eddy__kv_bounds bounds = {from, to, 1, kind == 1, keys_only};
        if (keys_only)
            EXPECT_OK(eddy__kv_iter_open_bounds(s, &bounds, &it));
        else if (kind == 0)
            EXPECT_OK(eddy_kv_range(s, from, to, &it));
        else
            EXPECT_OK(eddy_kv_reverse_range(s, from, to, &it));
        check_scan_values(it, m, begin, end, kind == 1, limit, keys_only);
    } else if (kind == 2) {
        /* A prefix: a cut of a present key (usually), or of a random one. */
        uint8_t prefix[512];
        size_t len;
        if (m->count > 0 && rng_below(4) != 0) {
            const model_entry *e = &m->entries[rng_below((uint32_t)m->count)];
            len = e->key_len ? rng_below((uint32_t)e->key_len + 1) : 0;
            if (len > sizeof(prefix))
                len = sizeof(prefix);
            memcpy(prefix, e->key, len);
        } else {
            len = rng_below(3);
            for (size_t i = 0; i < len; i++)
                prefix[i] = key_alphabet[rng_below(8)];
        }
        size_t begin = model_lower_bound(m, prefix, len), end = begin;
        while (end < m->count && m->entries[end].key_len >= len &&
               memcmp(m->entries[end].key, prefix, len) == 0)
            end++;
        EXPECT_OK(eddy_kv_prefix_scan(s, B(prefix, len), &it));
        check_scan(it, m, begin, end, 0, limit);
    } else {
        /* Two iterators open at once: the memory store keeps one destroyed iterator for reuse
         * and frees the other. */
        int reverse = (int)rng_below(2);
        eddy_kv_iter *other;
        EXPECT_OK(eddy_kv_all(s, &other));
        EXPECT_OK(reverse ? eddy_kv_reverse_all(s, &it) : eddy_kv_all(s, &it));
        check_scan(it, m, 0, m->count, reverse, limit);
        check_scan(other, m, 0, m->count, 0, limit);
    }
}

static void check_everything(eddy_kv_store *s, const store_kind *kind, const model *m)
{
    if (kind->exact_count)
        EXPECT_OK(eddy__kv_memory_check(s)); /* before a scan orders the new keys */
    eddy_kv_iter *it;
    EXPECT_OK(eddy_kv_all(s, &it));
    check_scan(it, m, 0, m->count, 0, SIZE_MAX);
    if (kind->exact_count) {
        uint64_t count;
        EXPECT_OK(eddy_kv_approximate_count(s, &count));
        EXPECT_EQ(count, m->count);
        EXPECT_OK(eddy__kv_memory_check(s));
    }
}

/* ---- The random walk ------------------------------------------------------------------------- */

typedef struct phase {
    uint32_t operations;
    uint32_t put_percent; /* then delete, get, scan share the rest */
    uint32_t delete_percent;
    uint32_t get_percent;
    uint32_t local_percent; /* operations on a key near the previous one (a window store's) */
} phase;

static void run_model(const store_kind *kind, uint32_t space, const phase *phases, int phase_count)
{
    rng_state = test_seed();
    eddy_kv_store *s = open_kind(kind, "model");
    model m = {0};
    static uint8_t key[512], value[4096];
    uint64_t step = 0;
    uint32_t id = 0;
    for (int p = 0; p < phase_count; p++) {
        for (uint32_t op = 0; op < phases[p].operations; op++, step++) {
            uint32_t r = rng_below(100);
            /* Local: the next key of the same kind within a few ids, where the memory store's
             * finger (the leaf of its last search) should serve the operation. */
            if (rng_below(100) < phases[p].local_percent)
                id = (id + 8 * (rng_below(7) + 1)) % space;
            else
                id = rng_below(space);
            size_t key_len = make_key(id, key);
            if (r < phases[p].put_percent) {
                size_t value_len = make_value(value, sizeof(value));
                EXPECT_OK(eddy_kv_put(s, B(key, key_len), B(value, value_len)));
                model_put(&m, key, key_len, value, value_len);
            } else if (r < phases[p].put_percent + phases[p].delete_percent) {
                if (m.count > 0 && rng_below(2) == 0) { /* usually a present key */
                    const model_entry *e = &m.entries[rng_below((uint32_t)m.count)];
                    key_len = e->key_len;
                    memcpy(key, e->key, key_len);
                }
                if (rng_below(4) == 0)
                    EXPECT_OK(eddy_kv_put(s, B(key, key_len), NONE));
                else
                    EXPECT_OK(eddy_kv_delete(s, B(key, key_len)));
                model_delete(&m, key, key_len);
            } else if (r <
                       phases[p].put_percent + phases[p].delete_percent + phases[p].get_percent) {
                check_get(s, &m, key, key_len);
            } else {
                check_random_scan(s, &m, space);
            }
            if (step % 5000 == 4999) {
                check_everything(s, kind, &m);
                if (!kind->exact_count && rng_below(2) == 0)
                    EXPECT_OK(eddy_kv_flush(s));
            }
        }
        check_everything(s, kind, &m);
    }
    eddy_kv_store_close(s);
    model_free(&m);
}

TEST(memory_model_random_operations)
{
    /* Grow to ~15,000 keys (a three-level tree), shrink to nothing (merges, borrowing, root
     * collapse), grow again. */
    const phase phases[] = {
        {60000, 70, 5, 15, 0},
        {30000, 5, 85, 5, 0},
        {40000, 1, 98, 1, 0},
        {40000, 50, 30, 10, 0},
    };
    run_model(&store_kind_memory, 30000, phases, 4);
}

TEST(rocksdb_model_random_operations)
{
    const phase phases[] = {
        {20000, 70, 5, 15, 0},
        {10000, 5, 85, 5, 0},
        {10000, 1, 98, 1, 0},
        {10000, 50, 30, 10, 0},
    };
    run_model(&store_kind_rocksdb, 10000, phases, 4);
}

TEST(memory_model_small_key_space)
{
    /* Few keys, many overwrites: values growing and shrinking in place and out of line. */
    const phase phases[] = {{100000, 45, 25, 15, 0}};
    run_model(&store_kind_memory, 200, phases, 1);
}

TEST(memory_model_local_operations)
{
    /* Operations mostly near the previous one, as a window, session or join store sees them:
     * a scan, then deletes and puts of the keys it found. Grows to ~10,000 keys, shrinks, and
     * grows again. */
    const phase phases[] = {
        {50000, 60, 10, 10, 90},
        {40000, 5, 85, 5, 90},
        {40000, 45, 35, 10, 70},
    };
    run_model(&store_kind_memory, 30000, phases, 3);
}

/* ---- Modification during iteration --------------------------------------------------------- */

/* Iterates while putting and deleting random keys, and checks the promise: for snapshot
 * iterators, exactly the contents at creation; for live ones, keys in strictly increasing (or
 * decreasing) order, each present with its current value when returned, and every key present
 * at creation and untouched since returned. */
static void run_iterate_while_modifying(const store_kind *kind)
{
    rng_state = test_seed() ^ 0x5555;
    eddy_kv_store *s = open_kind(kind, "modifying");
    model m = {0};
    const uint32_t space = 4000;
    static uint8_t key[512], value[4096];
    for (int i = 0; i < 3000; i++) {
        size_t key_len = make_key(rng_below(space), key);
        size_t value_len = make_value(value, 64);
        EXPECT_OK(eddy_kv_put(s, B(key, key_len), B(value, value_len)));
        model_put(&m, key, key_len, value, value_len);
    }
    for (int round = 0; round < 40; round++) {
        int reverse = round % 2;
        model at_start = {0};
        for (size_t i = 0; i < m.count; i++)
            model_put(&at_start, m.entries[i].key, m.entries[i].key_len, m.entries[i].value,
                      m.entries[i].value_len);
        model touched = {0}; /* keys put or deleted during the iteration */
        model returned = {0};
        eddy_kv_iter *it;
        EXPECT_OK(reverse ? eddy_kv_reverse_all(s, &it) : eddy_kv_all(s, &it));
        eddy_slice k, v;
        uint8_t last[512];
        size_t last_len = 0;
        int have_last = 0;
        while (eddy_kv_iter_next(it, &k, &v) == EDDY_OK) {
            if (have_last) {
                int c = eddy__kv_compare(k.data, k.len, last, last_len);
                EXPECT_TRUE(reverse ? c < 0 : c > 0);
            }
            memcpy(last, k.data, k.len);
            last_len = k.len;
            have_last = 1;
            model_put(&returned, k.data, k.len, "", 0);
            const model_entry *e = kind->snapshot_iterators ? model_find(&at_start, k.data, k.len)
                                                            : model_find(&m, k.data, k.len);
            EXPECT_TRUE(e != NULL);
            EXPECT_EQ(v.len, e->value_len);
            EXPECT_TRUE(v.len == 0 || memcmp(v.data, e->value, v.len) == 0);
            /* Change a few keys, near and far. */
            for (uint32_t n = rng_below(3); n > 0; n--) {
                size_t key_len = make_key(rng_below(space), key);
                model_put(&touched, key, key_len, "", 0);
                if (rng_below(2) == 0) {
                    size_t value_len = make_value(value, 64);
                    EXPECT_OK(eddy_kv_put(s, B(key, key_len), B(value, value_len)));
                    model_put(&m, key, key_len, value, value_len);
                } else {
                    EXPECT_OK(eddy_kv_delete(s, B(key, key_len)));
                    model_delete(&m, key, key_len);
                }
            }
        }
        eddy_kv_iter_destroy(it);
        for (size_t i = 0; i < at_start.count; i++) {
            const model_entry *e = &at_start.entries[i];
            int must = kind->snapshot_iterators || !model_find(&touched, e->key, e->key_len);
            if (must)
                EXPECT_TRUE(model_find(&returned, e->key, e->key_len) != NULL);
        }
        if (kind->snapshot_iterators)
            EXPECT_EQ(returned.count, at_start.count);
        if (kind->exact_count)
            EXPECT_OK(eddy__kv_memory_check(s));
        model_free(&at_start);
        model_free(&touched);
        model_free(&returned);
    }
    check_everything(s, kind, &m);
    eddy_kv_store_close(s);
    model_free(&m);
}

TEST(memory_iterate_while_modifying)
{
    run_iterate_while_modifying(&store_kind_memory);
}

TEST(rocksdb_iterate_while_modifying)
{
    run_iterate_while_modifying(&store_kind_rocksdb);
}
