/* Allocation failures in the key-value stores, SQLite style: a workload runs with the Nth
 * allocation failing (once, or from then on) for N = 1, 2, ... until a run completes with no
 * failure injected, so that every allocation point has failed once. Every failure must be
 * EDDY_ERR_NO_MEMORY, leave the store exactly as before the failed call (checked against a
 * model, and the memory store's invariants), and leak nothing. */
#include "test_store.h"

#include "core/alloc.h"
#include "store/store.h"
#include "test.h"

#define WORKLOAD_KEYS 300

static void key_for(int i, char *key, size_t size)
{
    snprintf(key, size, "key-%05d", (i * 7919) % 100000);
}

/* What the store should hold: values[i] for present[i]. */
typedef struct expectation {
    int present[WORKLOAD_KEYS];
    int value_len[WORKLOAD_KEYS];
} expectation;

static char value_bytes[5000];

static void check_expectation(eddy_kv_store *s, const expectation *x, int check_tree)
{
    for (int i = 0; i < WORKLOAD_KEYS; i++) {
        char key[32];
        key_for(i, key, sizeof(key));
        eddy_slice v;
        if (!x->present[i]) {
            EXPECT_ERR(eddy_kv_get(s, S(key), &v), EDDY_ERR_NOT_FOUND);
            continue;
        }
        EXPECT_OK(eddy_kv_get(s, S(key), &v));
        EXPECT_EQ(v.len, x->value_len[i]);
    }
    if (check_tree)
        EXPECT_OK(eddy__kv_memory_check(s));
}

/* Accepts OK or an injected NO_MEMORY; returns 1 when the call succeeded. */
static int ok_or_no_memory(eddy_err err)
{
    if (err != EDDY_OK && err != EDDY_ERR_NO_MEMORY)
        eddy_test_fail(__FILE__, __LINE__, "expected OK or NO_MEMORY, got %s: %s",
                       eddy_err_name(err), eddy_last_error());
    return err == EDDY_OK;
}

/* Scans with every kind of iterator, tolerating NO_MEMORY, checking what is returned. */
static void scan_all_kinds(eddy_kv_store *s, const expectation *x)
{
    for (int kind = 0; kind < 4; kind++) {
        eddy_kv_iter *it = NULL;
        eddy_err err;
        char long_prefix[400];
        memset(long_prefix, 'k', sizeof(long_prefix));
        switch (kind) {
        case 0:
            err = eddy_kv_all(s, &it);
            break;
        case 1:
            err = eddy_kv_reverse_range(s, S("key-1"), S("key-5"), &it);
            break;
        case 2:
            err = eddy_kv_prefix_scan(s, S("key-0"), &it);
            break;
        default:
            err = eddy_kv_prefix_scan(s, B(long_prefix, sizeof(long_prefix)), &it);
            break;
        }
        if (!ok_or_no_memory(err)) {
            EXPECT_TRUE(it == NULL);
            continue;
        }
        eddy_slice k, v;
        int n = 0, failures = 0;
        while (failures < 3 && (err = eddy_kv_iter_next(it, &k, &v)) != EDDY_ERR_END) {
            if (!ok_or_no_memory(err)) {
                failures++; /* retried: the iterator does not move on a failure */
                continue;
            }
            n++;
        }
        eddy_kv_iter_destroy(it);
        if (kind == 0 && failures < 3) {
            int expected = 0;
            for (int i = 0; i < WORKLOAD_KEYS; i++)
                expected += x->present[i];
            EXPECT_EQ(n, expected);
        }
    }
}

/* Opens a store and runs puts (growing the hash table and the tree), updates growing values
 * out of line, deletes and scans. Returns with the store closed. */
static void workload(const store_kind *kind, int check_tree)
{
    eddy_kv_store *s = NULL;
    if (!kind->exact_count) { /* RocksDB keeps what the last run wrote: start empty */
        char dir[4200];
        snprintf(dir, sizeof(dir), "%s/rocksdb", test_tmpdir());
        EXPECT_OK(eddy_kv_store_wipe_rocksdb(dir, "faults"));
    }
    if (!ok_or_no_memory(kind->open("faults", &s))) {
        EXPECT_TRUE(s == NULL);
        return;
    }
    expectation x = {{0}, {0}};
    for (int i = 0; i < WORKLOAD_KEYS; i++) {
        char key[32];
        key_for(i, key, sizeof(key));
        int len = i % 25 == 0 ? 60 + i : i % 17; /* some too long for a slot */
        if (ok_or_no_memory(eddy_kv_put(s, S(key), B(value_bytes, (size_t)len)))) {
            x.present[i] = 1;
            x.value_len[i] = len;
        }
    }
    check_expectation(s, &x, check_tree);
    for (int i = 0; i < WORKLOAD_KEYS; i += 3) {
        char key[32];
        key_for(i, key, sizeof(key));
        int len = 100 + i * 10;
        if (ok_or_no_memory(eddy_kv_put(s, S(key), B(value_bytes, (size_t)len)))) {
            x.present[i] = 1;
            x.value_len[i] = len;
        }
    }
    check_expectation(s, &x, check_tree);
    scan_all_kinds(s, &x);
    for (int i = 0; i < WORKLOAD_KEYS; i += 2) {
        char key[32];
        key_for(i, key, sizeof(key));
        EXPECT_OK(eddy_kv_delete(s, S(key))); /* deletion never allocates */
        x.present[i] = 0;
    }
    check_expectation(s, &x, check_tree);
    scan_all_kinds(s, &x);
    eddy_kv_store_close(s);
}

static void run_until_every_point_failed(const store_kind *kind, int persistent, int check_tree)
{
    memset(value_bytes, 'v', sizeof(value_bytes));
    int64_t live_before = eddy__alloc_live_bytes();
    uint64_t n;
    for (n = 1; n < 100000; n++) {
        eddy__alloc_fail_after(n, persistent);
        workload(kind, check_tree);
        int injected = eddy__alloc_failures_injected() > 0;
        eddy__alloc_fail_after(0, 0);
        EXPECT_EQ(eddy__alloc_live_bytes(), live_before);
        if (!injected)
            break;
    }
    printf("    %s, %s failures: every one of %llu allocation points failed\n", kind->name,
           persistent ? "persistent" : "one-shot", (unsigned long long)(n - 1));
    EXPECT_GE(n, 10);
}

TEST(memory_allocation_failures_once)
{
    run_until_every_point_failed(&store_kind_memory, 0, 1);
}

TEST(memory_allocation_failures_persistent)
{
    run_until_every_point_failed(&store_kind_memory, 1, 1);
}

TEST(rocksdb_allocation_failures_once)
{
    run_until_every_point_failed(&store_kind_rocksdb, 0, 0);
}

/* Counts the keys with a full scan; NO_MEMORY (from ordering new keys) is returned as -1. */
static int64_t scan_count(eddy_kv_store *s)
{
    eddy_kv_iter *it;
    eddy_err err = eddy_kv_all(s, &it);
    if (err != EDDY_OK) {
        EXPECT_ERR(err, EDDY_ERR_NO_MEMORY);
        return -1;
    }
    eddy_slice k, v;
    int64_t n = 0;
    while ((err = eddy_kv_iter_next(it, &k, &v)) == EDDY_OK)
        n++;
    eddy_kv_iter_destroy(it);
    if (err != EDDY_ERR_END) {
        EXPECT_ERR(err, EDDY_ERR_NO_MEMORY);
        return -1;
    }
    return n;
}

/* A deep tree: new keys are ordered into a tree of 5,000 keys (three levels) by the next scan,
 * with each allocation of that ordering failing in turn (once, or from then on); splits at
 * every level need spare nodes taken before anything moves, and a failed ordering leaves the
 * rest pending for the next scan. Batches of 1,000 are inserted one by one into the tree, all
 * between two of its keys (so that one leaf splits again and again, past the spare nodes kept
 * from earlier deletes); batches of 3,000, spread out, rebuild it. */
static void batch_key(int batch, int i, char *key, size_t size)
{
    if (batch <= 1000)
        snprintf(key, size, "base-004000-%04d", i * 7919 % batch);
    else
        snprintf(key, size, "base-%06d", (i * 7919 % batch) * 2 + 1);
}

static void deep_tree_faults(int batch, int persistent)
{
    eddy_kv_store *s;
    EXPECT_OK(eddy_kv_store_open_memory("deep", &s));
    for (int i = 0; i < 5000; i++) {
        char key[32];
        snprintf(key, sizeof(key), "base-%06d", i * 2);
        EXPECT_OK(eddy_kv_put(s, S(key), S("v")));
    }
    EXPECT_EQ(scan_count(s), 5000);
    uint64_t n;
    for (n = 1; n < 10000; n++) {
        for (int i = 0; i < batch; i++) {
            char key[32];
            batch_key(batch, i, key, sizeof(key));
            EXPECT_OK(eddy_kv_put(s, S(key), S("new")));
        }
        eddy__alloc_fail_after(n, persistent);
        int64_t scanned = scan_count(s);
        int injected = eddy__alloc_failures_injected() > 0;
        eddy__alloc_fail_after(0, 0);
        EXPECT_TRUE(scanned == -1 || scanned == 5000 + batch);
        EXPECT_EQ(scanned == -1, injected);
        EXPECT_OK(eddy__kv_memory_check(s));
        EXPECT_EQ(scan_count(s), 5000 + batch); /* the next scan finishes the ordering */
        EXPECT_OK(eddy__kv_memory_check(s));
        for (int i = 0; i < batch; i++) {
            char key[32];
            batch_key(batch, i, key, sizeof(key));
            EXPECT_OK(eddy_kv_delete(s, S(key)));
        }
        EXPECT_OK(eddy__kv_memory_check(s));
        if (!injected)
            break;
    }
    printf("    batch of %d, %s failures: every one of %llu allocation points failed\n", batch,
           persistent ? "persistent" : "one-shot", (unsigned long long)(n - 1));
    EXPECT_GE(n, 5);
    eddy_kv_store_close(s);
}

TEST(memory_allocation_failures_ordering_into_a_deep_tree)
{
    deep_tree_faults(1000, 0);
    deep_tree_faults(1000, 1);
}

TEST(memory_allocation_failures_rebuilding_a_deep_tree)
{
    deep_tree_faults(3000, 0);
    deep_tree_faults(3000, 1);
}

TEST(memory_iterator_copy_failure_is_retryable)
{
    eddy_kv_store *s;
    EXPECT_OK(eddy_kv_store_open_memory("retry", &s));
    EXPECT_OK(eddy_kv_put(s, S("a"), S("1")));
    EXPECT_OK(eddy_kv_put(s, S("b"), S("2")));
    eddy_kv_iter *it;
    EXPECT_OK(eddy_kv_all(s, &it));
    eddy_slice k, v;
    eddy__alloc_fail_after(1, 0);
    EXPECT_ERR(eddy_kv_iter_next(it, &k, &v), EDDY_ERR_NO_MEMORY);
    EXPECT_CONTAINS(eddy_last_error(), "store 'retry'");
    eddy__alloc_fail_after(0, 0);
    EXPECT_OK(eddy_kv_iter_next(it, &k, &v));
    EXPECT_MEMEQ(k.data, k.len, "a", 1);
    EXPECT_OK(eddy_kv_iter_next(it, &k, &v));
    EXPECT_MEMEQ(k.data, k.len, "b", 1);
    EXPECT_ERR(eddy_kv_iter_next(it, &k, &v), EDDY_ERR_END);
    eddy_kv_iter_destroy(it);
    eddy_kv_store_close(s);
}
