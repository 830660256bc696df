/* What the key-value store tests share: the two implementations as a table of openers, slice
 * helpers, and a printer of iterator contents (binary bytes as \xNN) for readable comparisons.
 * Each test file that includes it runs its suites against every kind with STORE_TEST. */
#ifndef EDDY_TEST_STORE_H
#define EDDY_TEST_STORE_H

#include <stdio.h>
#include <string.h>

#include "eddy/store.h"
#include "test.h"

typedef struct store_kind {
    const char *name;
    int snapshot_iterators; /* iterators see the store as it was when they were opened */
    int exact_count;        /* approximate_count is exact */
    eddy_err (*open)(const char *name, eddy_kv_store **out);
} store_kind;

static inline eddy_err store_kind_open_memory(const char *name, eddy_kv_store **out)
{
    return eddy_kv_store_open_memory(name, out);
}

static inline eddy_err store_kind_open_rocksdb(const char *name, eddy_kv_store **out)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/rocksdb", test_tmpdir());
    return eddy_kv_store_open_rocksdb(name, dir, NULL, out);
}

static const store_kind store_kind_memory = {"memory", 0, 1, store_kind_open_memory};
static const store_kind store_kind_rocksdb = {"rocksdb", 1, 0, store_kind_open_rocksdb};

/* Defines a suite body run as two tests, memory_<name> and rocksdb_<name>. */
#define STORE_TEST(name)                                                                           \
    static void name##_body(const store_kind *kind);                                               \
    TEST(memory_##name)                                                                            \
    {                                                                                              \
        name##_body(&store_kind_memory);                                                           \
    }                                                                                              \
    TEST(rocksdb_##name)                                                                           \
    {                                                                                              \
        name##_body(&store_kind_rocksdb);                                                          \
    }                                                                                              \
    static void name##_body(const store_kind *kind)

static inline eddy_slice S(const char *s)
{
    eddy_slice slice = {s, strlen(s)};
    return slice;
}

static inline eddy_slice B(const void *data, size_t len)
{
    eddy_slice slice = {data, len};
    return slice;
}

static const eddy_slice NONE = {NULL, 0};

static inline eddy_kv_store *open_kind(const store_kind *kind, const char *name)
{
    eddy_kv_store *store = NULL;
    EXPECT_OK(kind->open(name, &store));
    return store;
}

/* Appends bytes to out as text: printable ASCII as is, the rest (and '\\', ' ', '=') as \xNN. */
static inline void dump_bytes(char *out, size_t size, const void *data, size_t len)
{
    size_t used = strlen(out);
    const unsigned char *p = data;
    for (size_t i = 0; i < len && used + 5 < size; i++) {
        if (p[i] > 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '=')
            out[used++] = (char)p[i];
        else
            used += (size_t)snprintf(out + used, size - used, "\\x%02x", p[i]);
    }
    out[used] = '\0';
}

/* Reads the iterator to its end as "k=v k=v ...", destroys it, and returns out. */
static inline const char *drain(eddy_kv_iter *it, char *out, size_t size)
{
    out[0] = '\0';
    eddy_slice k, v;
    eddy_err err;
    int first = 1;
    while ((err = eddy_kv_iter_next(it, &k, &v)) == EDDY_OK) {
        EXPECT_TRUE(k.data != NULL && v.data != NULL);
        if (!first)
            strncat(out, " ", size - strlen(out) - 1);
        first = 0;
        dump_bytes(out, size, k.data, k.len);
        strncat(out, "=", size - strlen(out) - 1);
        dump_bytes(out, size, v.data, v.len);
    }
    EXPECT_ERR(err, EDDY_ERR_END);
    EXPECT_ERR(eddy_kv_iter_next(it, &k, &v), EDDY_ERR_END); /* and stays ended */
    eddy_kv_iter_destroy(it);
    return out;
}

#endif
