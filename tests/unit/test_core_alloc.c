/* Tests for src/core/alloc.c and its users under fault injection: the Nth allocation fails once
 * or persistently; the configuration and buffer code must then return NULL or
 * EDDY_ERR_NO_MEMORY, stay usable, and leak nothing (live bytes return to where they were). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread barriers, fork, setenv, sigaction */
#endif

#include "test.h"

#include "core/alloc.h"
#include "core/buf.h"
#include "eddy/config.h"

TEST(alloc_counts_live_bytes)
{
    int64_t before = eddy__alloc_live_bytes();
    char *p = eddy__malloc(100);
    EXPECT_TRUE(p != NULL);
    EXPECT_GE(eddy__alloc_live_bytes() - before, 100);
    p = eddy__realloc(p, 10000);
    EXPECT_TRUE(p != NULL);
    EXPECT_GE(eddy__alloc_live_bytes() - before, 10000);
    int *zeroed = eddy__calloc(16, sizeof(int));
    EXPECT_TRUE(zeroed != NULL);
    for (int i = 0; i < 16; i++)
        EXPECT_EQ(zeroed[i], 0);
    char *copy = eddy__strdup("hello");
    char *prefix = eddy__strndup("hello", 3);
    EXPECT_STREQ(copy, "hello");
    EXPECT_STREQ(prefix, "hel");
    eddy__free(p);
    eddy__free(zeroed);
    eddy__free(copy);
    eddy__free(prefix);
    eddy__free(NULL);
    EXPECT_EQ(eddy__alloc_live_bytes(), before);
}

TEST(alloc_zero_bytes_is_not_failure)
{
    void *p = eddy__malloc(0);
    void *q = eddy__calloc(0, 8);
    EXPECT_TRUE(p != NULL && q != NULL);
    p = eddy__realloc(p, 0);
    EXPECT_TRUE(p != NULL);
    eddy__free(p);
    eddy__free(q);
}

TEST(alloc_fail_once)
{
    eddy__alloc_fail_after(3, 0);
    void *first = eddy__malloc(8);
    void *second = eddy__malloc(8);
    void *third = eddy__malloc(8);
    void *fourth = eddy__malloc(8);
    EXPECT_TRUE(first != NULL && second != NULL);
    EXPECT_TRUE(third == NULL);
    EXPECT_TRUE(fourth != NULL);
    EXPECT_EQ(eddy__alloc_failures_injected(), 1);
    eddy__free(first);
    eddy__free(second);
    eddy__free(fourth);
    eddy__alloc_fail_after(0, 0);
}

TEST(alloc_fail_persistently)
{
    eddy__alloc_fail_after(2, 1);
    char *first = eddy__strdup("ok");
    EXPECT_TRUE(first != NULL);
    EXPECT_TRUE(eddy__calloc(1, 1) == NULL);
    EXPECT_TRUE(eddy__strndup("x", 1) == NULL);
    EXPECT_TRUE(eddy__malloc(1) == NULL);
    /* A failed realloc leaves the block as it was. */
    EXPECT_TRUE(eddy__realloc(first, 100) == NULL);
    EXPECT_STREQ(first, "ok");
    EXPECT_EQ(eddy__alloc_failures_injected(), 4);
    eddy__alloc_fail_after(0, 0);
    void *after = eddy__malloc(1);
    EXPECT_TRUE(after != NULL);
    eddy__free(after);
    eddy__free(first);
}

TEST(config_new_returns_null_when_out_of_memory)
{
    int64_t before = eddy__alloc_live_bytes();
    eddy__alloc_fail_after(1, 0);
    EXPECT_TRUE(eddy_config_new() == NULL);
    eddy__alloc_fail_after(0, 0);
    EXPECT_EQ(eddy__alloc_live_bytes(), before);
}

TEST(config_set_returns_no_memory_and_keeps_old_value)
{
    eddy_config *config = eddy_config_new();
    EXPECT_OK(eddy_config_set(config, "retention.ms", "100"));
    eddy__alloc_fail_after(1, 1);
    EXPECT_ERR(eddy_config_set(config, "retention.ms", "200"), EDDY_ERR_NO_MEMORY);
    EXPECT_STREQ(eddy_last_error(), "config retention.ms: out of memory");
    EXPECT_ERR(eddy_config_set(config, "new.key", "x"), EDDY_ERR_NO_MEMORY);
    EXPECT_TRUE(eddy_config_copy(config) == NULL);
    eddy__alloc_fail_after(0, 0);
    EXPECT_STREQ(eddy_config_get(config, "retention.ms"), "100");
    EXPECT_TRUE(eddy_config_get(config, "new.key") == NULL);
    EXPECT_EQ(eddy_config_count(config), 1);
    eddy_config_destroy(config);
}

/* One run of everything config does that allocates. Under injection any step may fail with
 * NULL or NO_MEMORY, and then the objects must still be consistent and destroyable. */
static void config_workload(const char *path)
{
    eddy_config *config = eddy_config_new();
    if (!config)
        return;
    const char *keys[] = {"m", "retention.ms",
                          "a", "z",
                          "b", "c",
                          "d", "e",
                          "f", "g",
                          "h", "i",
                          "j", "k",
                          "l", "n",
                          "o", "p",
                          "q", "r"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        eddy_err err = eddy_config_set(config, keys[i], "1");
        EXPECT_TRUE(err == EDDY_OK || err == EDDY_ERR_NO_MEMORY);
    }
    eddy_err err = eddy_config_set(config, "retention.ms", "2"); /* replace */
    EXPECT_TRUE(err == EDDY_OK || err == EDDY_ERR_NO_MEMORY);
    size_t count_before_load = eddy_config_count(config);
    err = eddy_config_load_file(config, path);
    EXPECT_TRUE(err == EDDY_OK || err == EDDY_ERR_NO_MEMORY);
    if (err == EDDY_OK)
        EXPECT_STREQ(eddy_config_get(config, "from.file"), "yes");
    else
        EXPECT_EQ(eddy_config_count(config), count_before_load); /* all or nothing */
    eddy_config *copy = eddy_config_copy(config);
    if (copy)
        EXPECT_EQ(eddy_config_count(copy), eddy_config_count(config));
    eddy_config_destroy(copy);
    eddy_config_destroy(config);
}

/* SQLite-style: fail allocation 1, then 2, ... until a run completes with nothing injected,
 * so that every allocation point in the workload has been failed once. */
static void run_config_workload_under_injection(int persistent)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/fault.properties", test_tmpdir());
    FILE *file = fopen(path, "w");
    fputs("# a file\nfrom.file=yes\nsegment.bytes=1048576\nx.1=a\nx.2=b\n", file);
    fclose(file);
    int64_t before = eddy__alloc_live_bytes();
    uint64_t n;
    for (n = 1; n < 10000; n++) {
        eddy__alloc_fail_after(n, persistent);
        config_workload(path);
        uint64_t injected = eddy__alloc_failures_injected();
        eddy__alloc_fail_after(0, 0);
        if (eddy__alloc_live_bytes() != before)
            eddy_test_fail(__FILE__, __LINE__, "leak after failing allocation %llu: %lld bytes",
                           (unsigned long long)n, (long long)(eddy__alloc_live_bytes() - before));
        if (injected == 0)
            break;
    }
    EXPECT_GE(n, 10); /* the workload really allocates, so injection really ran */
    EXPECT_TRUE(n < 10000);
}

TEST(config_survives_every_failed_allocation_once)
{
    run_config_workload_under_injection(0);
}

TEST(config_survives_every_failed_allocation_persistently)
{
    run_config_workload_under_injection(1);
}

TEST(buf_reserve_failure_leaves_buffer_unchanged)
{
    eddy__buf buf = {0};
    EXPECT_OK(eddy__buf_append(&buf, "abc", 3));
    uint8_t *data = buf.data;
    size_t cap = buf.cap;
    eddy__alloc_fail_after(1, 0);
    EXPECT_ERR(eddy__buf_reserve(&buf, cap * 4), EDDY_ERR_NO_MEMORY);
    EXPECT_CONTAINS(eddy_last_error(), "out of memory growing a buffer");
    EXPECT_TRUE(buf.data == data);
    EXPECT_EQ(buf.cap, cap);
    EXPECT_MEMEQ(buf.data, buf.len, "abc", 3);
    eddy__buf_free(&buf);
}
