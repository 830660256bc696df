/* Tests for src/core/error.c and version.c: every code's name and message, the thread-local
 * last-error message, errno mapping, context prefixes and truncation. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread barriers, fork, setenv, sigaction */
#endif

#include "test.h"

#include <errno.h>
#include <pthread.h>

#include "core/error.h"
#include "core/limits.h"

TEST(err_name_and_message_for_every_code)
{
    /* Spelled out (not generated from EDDY_ERRNO_MAP) so that a wrong table shows here. */
    static const struct {
        eddy_err code;
        int value;
        const char *name;
        const char *message;
    } expected[] = {
        {EDDY_OK, 0, "EDDY_ERR_OK", "success"},
        {EDDY_ERR_INVALID_ARGUMENT, -1, "EDDY_ERR_INVALID_ARGUMENT", "invalid argument"},
        {EDDY_ERR_NO_MEMORY, -2, "EDDY_ERR_NO_MEMORY", "out of memory"},
        {EDDY_ERR_IO, -3, "EDDY_ERR_IO", "input/output error"},
        {EDDY_ERR_NOT_FOUND, -4, "EDDY_ERR_NOT_FOUND", "not found"},
        {EDDY_ERR_EXISTS, -5, "EDDY_ERR_EXISTS", "already exists"},
        {EDDY_ERR_CORRUPT, -6, "EDDY_ERR_CORRUPT", "corrupt data"},
        {EDDY_ERR_FORMAT_VERSION, -7, "EDDY_ERR_FORMAT_VERSION", "unsupported format version"},
        {EDDY_ERR_UNKNOWN_TOPIC, -8, "EDDY_ERR_UNKNOWN_TOPIC", "unknown topic"},
        {EDDY_ERR_UNKNOWN_PARTITION, -9, "EDDY_ERR_UNKNOWN_PARTITION", "unknown partition"},
        {EDDY_ERR_OFFSET_OUT_OF_RANGE, -10, "EDDY_ERR_OFFSET_OUT_OF_RANGE", "offset out of range"},
        {EDDY_ERR_TIMED_OUT, -11, "EDDY_ERR_TIMED_OUT", "timed out"},
        {EDDY_ERR_NO_SPACE, -12, "EDDY_ERR_NO_SPACE", "no space left on device"},
        {EDDY_ERR_FATAL, -13, "EDDY_ERR_FATAL", "fatal error: handle unusable"},
        {EDDY_ERR_CONFIG, -14, "EDDY_ERR_CONFIG", "invalid configuration"},
        {EDDY_ERR_TOO_LARGE, -15, "EDDY_ERR_TOO_LARGE", "too large"},
        {EDDY_ERR_BUSY, -16, "EDDY_ERR_BUSY", "resource busy"},
        {EDDY_ERR_STATE, -17, "EDDY_ERR_STATE", "operation not valid in this state"},
        {EDDY_ERR_PERMISSION, -18, "EDDY_ERR_PERMISSION", "permission denied"},
        {EDDY_ERR_END, -19, "EDDY_ERR_END", "end of data"},
        {EDDY_ERR_SERIALIZATION, -20, "EDDY_ERR_SERIALIZATION", "serialization error"},
    };
    size_t count = sizeof(expected) / sizeof(expected[0]);
    for (size_t i = 0; i < count; i++) {
        EXPECT_EQ(expected[i].code, expected[i].value);
        EXPECT_STREQ(eddy_err_name(expected[i].code), expected[i].name);
        EXPECT_STREQ(eddy_strerror(expected[i].code), expected[i].message);
    }
    /* And the table above covers the whole map. */
#define COUNT_CODE(name, value, message) +1
    EXPECT_EQ(count, 0 EDDY_ERRNO_MAP(COUNT_CODE));
#undef COUNT_CODE
}

TEST(err_name_of_unknown_code)
{
    EXPECT_STREQ(eddy_err_name((eddy_err)-999), "EDDY_ERR_UNKNOWN");
    EXPECT_STREQ(eddy_strerror((eddy_err)-999), "unknown error");
    EXPECT_STREQ(eddy_err_name((eddy_err)1), "EDDY_ERR_UNKNOWN");
}

TEST(version_is_0_1_0)
{
    EXPECT_STREQ(eddy_version(), "0.1.0");
}

TEST(last_error_starts_empty_and_keeps_the_message)
{
    EXPECT_STREQ(eddy_last_error(), "");
    EXPECT_EQ(eddy__fail(EDDY_ERR_CORRUPT, "segment %s: bad CRC at position %d", "00042", 4096),
              EDDY_ERR_CORRUPT);
    EXPECT_STREQ(eddy_last_error(), "segment 00042: bad CRC at position 4096");
}

TEST(fail_may_quote_the_previous_message)
{
    eddy__fail(EDDY_ERR_IO, "disk said no");
    eddy__fail(EDDY_ERR_FATAL, "giving up after '%s'", eddy_last_error());
    EXPECT_STREQ(eddy_last_error(), "giving up after 'disk said no'");
}

TEST(fail_context_prefixes_and_keeps_the_code)
{
    eddy__fail(EDDY_ERR_NOT_FOUND, "offset 7 not found");
    EXPECT_EQ(eddy__fail_context(EDDY_ERR_NOT_FOUND, "partition %s-%d", "orders", 3),
              EDDY_ERR_NOT_FOUND);
    EXPECT_STREQ(eddy_last_error(), "partition orders-3: offset 7 not found");
}

TEST(fail_errno_maps_and_appends_strerror)
{
    EXPECT_EQ(eddy__fail_errno(ENOSPC, "append %s", "x"), EDDY_ERR_NO_SPACE);
    EXPECT_CONTAINS(eddy_last_error(), "append x: ");
    EXPECT_CONTAINS(eddy_last_error(), strerror(ENOSPC));
    EXPECT_EQ(eddy__fail_errno(EDQUOT, "a"), EDDY_ERR_NO_SPACE);
    EXPECT_EQ(eddy__fail_errno(ENOENT, "open %s", "/nope"), EDDY_ERR_NOT_FOUND);
    EXPECT_STREQ(eddy_last_error(), "open /nope: No such file or directory");
    EXPECT_EQ(eddy__fail_errno(EACCES, "a"), EDDY_ERR_PERMISSION);
    EXPECT_EQ(eddy__fail_errno(EPERM, "a"), EDDY_ERR_PERMISSION);
    EXPECT_EQ(eddy__fail_errno(ENOMEM, "a"), EDDY_ERR_NO_MEMORY);
    EXPECT_EQ(eddy__fail_errno(EEXIST, "a"), EDDY_ERR_EXISTS);
    EXPECT_EQ(eddy__fail_errno(EIO, "a"), EDDY_ERR_IO);
    EXPECT_EQ(eddy__fail_errno(EBADF, "a"), EDDY_ERR_IO);
}

TEST(long_messages_are_truncated_not_overflowed)
{
    char long_text[4 * EDDY_ERROR_MESSAGE_MAX];
    memset(long_text, 'x', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    eddy__fail(EDDY_ERR_IO, "%s", long_text);
    EXPECT_EQ(strlen(eddy_last_error()), EDDY_ERROR_MESSAGE_MAX - 1);
    eddy__fail_context(EDDY_ERR_IO, "%s", long_text);
    EXPECT_EQ(strlen(eddy_last_error()), EDDY_ERROR_MESSAGE_MAX - 1);
    eddy__fail_errno(EIO, "%s", long_text);
    EXPECT_EQ(strlen(eddy_last_error()), EDDY_ERROR_MESSAGE_MAX - 1);
}

typedef struct thread_result {
    const char *name;
    char seen_at_start[64];
    char seen_after_fail[64];
    pthread_barrier_t *barrier;
} thread_result;

static void *fail_in_thread(void *arg)
{
    thread_result *result = arg;
    snprintf(result->seen_at_start, sizeof(result->seen_at_start), "%s", eddy_last_error());
    eddy__fail(EDDY_ERR_BUSY, "thread %s", result->name);
    /* Both threads have failed before either reads back: a shared buffer would show the
     * other thread's message. */
    pthread_barrier_wait(result->barrier);
    snprintf(result->seen_after_fail, sizeof(result->seen_after_fail), "%s", eddy_last_error());
    return NULL;
}

TEST(last_error_is_thread_local)
{
    eddy__fail(EDDY_ERR_IO, "main thread");
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    thread_result a = {.name = "a", .barrier = &barrier};
    thread_result b = {.name = "b", .barrier = &barrier};
    pthread_t thread_a, thread_b;
    EXPECT_EQ(pthread_create(&thread_a, NULL, fail_in_thread, &a), 0);
    EXPECT_EQ(pthread_create(&thread_b, NULL, fail_in_thread, &b), 0);
    pthread_join(thread_a, NULL);
    pthread_join(thread_b, NULL);
    pthread_barrier_destroy(&barrier);
    EXPECT_STREQ(a.seen_at_start, "");
    EXPECT_STREQ(b.seen_at_start, "");
    EXPECT_STREQ(a.seen_after_fail, "thread a");
    EXPECT_STREQ(b.seen_after_fail, "thread b");
    EXPECT_STREQ(eddy_last_error(), "main thread");
}
