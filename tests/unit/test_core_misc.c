/* Tests for the small core modules: buf.c (growth, big-endian helpers), clock.c, and
 * logging.c (levels, EDDY_LOG_LEVEL, sink, the stderr format, assertions that abort). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread barriers, fork, setenv, sigaction */
#endif

#include "test.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/logging.h"

/* ---- buf ---- */

TEST(buf_appends_and_grows)
{
    int64_t before = eddy__alloc_live_bytes();
    eddy__buf buf = {0};
    EXPECT_OK(eddy__buf_append(&buf, NULL, 0));
    EXPECT_EQ(buf.len, 0);
    for (int i = 0; i < 10000; i++) {
        uint8_t byte = (uint8_t)i;
        EXPECT_OK(eddy__buf_append(&buf, &byte, 1));
    }
    EXPECT_EQ(buf.len, 10000);
    EXPECT_GE(buf.cap, 10000);
    for (int i = 0; i < 10000; i++)
        EXPECT_EQ(buf.data[i], (uint8_t)i);
    EXPECT_OK(eddy__buf_reserve(&buf, 50000));
    EXPECT_GE(buf.cap - buf.len, 50000);
    eddy__buf_free(&buf);
    EXPECT_TRUE(buf.data == NULL);
    EXPECT_EQ(buf.len, 0);
    EXPECT_EQ(buf.cap, 0);
    EXPECT_EQ(eddy__alloc_live_bytes(), before);
}

TEST(buf_reserve_rejects_overflowing_sizes)
{
    eddy__buf buf = {0};
    EXPECT_OK(eddy__buf_append(&buf, "ab", 2));
    EXPECT_ERR(eddy__buf_reserve(&buf, SIZE_MAX), EDDY_ERR_NO_MEMORY);
    EXPECT_ERR(eddy__buf_reserve(&buf, SIZE_MAX - 1), EDDY_ERR_NO_MEMORY);
    EXPECT_MEMEQ(buf.data, buf.len, "ab", 2);
    eddy__buf_free(&buf);
}

TEST(big_endian_helpers)
{
    uint8_t bytes[8];
    eddy__be16_put(bytes, 0x1234);
    EXPECT_MEMEQ(bytes, 2, "\x12\x34", 2);
    EXPECT_EQ(eddy__be16_get(bytes), 0x1234);
    eddy__be32_put(bytes, 0xdeadbeef);
    EXPECT_MEMEQ(bytes, 4, "\xde\xad\xbe\xef", 4);
    EXPECT_EQ(eddy__be32_get(bytes), 0xdeadbeef);
    eddy__be64_put(bytes, 0x0102030405060708ull);
    EXPECT_MEMEQ(bytes, 8, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    EXPECT_TRUE(eddy__be64_get(bytes) == 0x0102030405060708ull);
}

/* ---- clock ---- */

TEST(clock_now_and_monotonic)
{
    int64_t now = eddy__now_ms();
    EXPECT_GE(now, 1577836800000LL); /* after 2020-01-01 */
    EXPECT_LE(now, 4102444800000LL); /* before 2100-01-01 */
    int64_t start = eddy__monotonic_ns();
    eddy__sleep_ms(20);
    int64_t elapsed_ns = eddy__monotonic_ns() - start;
    EXPECT_GE(elapsed_ns, 20 * 1000000LL);
    EXPECT_LE(elapsed_ns, 5000 * 1000000LL);
    start = eddy__monotonic_ns();
    eddy__sleep_ms(0);
    eddy__sleep_ms(-5);
    EXPECT_LE(eddy__monotonic_ns() - start, 1000 * 1000000LL);
}

static void ignore_signal(int signal_number)
{
    (void)signal_number;
}

TEST(clock_sleep_resumes_after_signals)
{
    struct sigaction action = {.sa_handler = ignore_signal};
    sigaction(SIGUSR1, &action, NULL);
    pid_t parent = getpid();
    pid_t child = fork();
    if (child == 0) {
        for (int i = 0; i < 5; i++) {
            usleep(10000);
            kill(parent, SIGUSR1);
        }
        _exit(0);
    }
    int64_t start = eddy__monotonic_ns();
    eddy__sleep_ms(150);
    int64_t elapsed_ns = eddy__monotonic_ns() - start;
    waitpid(child, NULL, 0);
    EXPECT_GE(elapsed_ns, 150 * 1000000LL);
}

/* ---- logging ---- */

typedef struct captured_log {
    int calls;
    eddy_log_level level;
    char module[64];
    char message[256];
} captured_log;

static void capture_sink(eddy_log_level level, const char *module, const char *message,
                         void *opaque)
{
    captured_log *captured = opaque;
    captured->calls++;
    captured->level = level;
    snprintf(captured->module, sizeof(captured->module), "%s", module);
    snprintf(captured->message, sizeof(captured->message), "%s", message);
}

TEST(logging_default_level_is_warn)
{
    unsetenv("EDDY_LOG_LEVEL");
    EXPECT_TRUE(eddy__log_enabled(EDDY_LOG_ERROR));
    EXPECT_TRUE(eddy__log_enabled(EDDY_LOG_WARN));
    EXPECT_TRUE(!eddy__log_enabled(EDDY_LOG_INFO));
    EXPECT_TRUE(!eddy__log_enabled(EDDY_LOG_DEBUG));
}

TEST(logging_level_from_environment)
{
    setenv("EDDY_LOG_LEVEL", "DeBuG", 1);
    EXPECT_TRUE(eddy__log_enabled(EDDY_LOG_DEBUG));
}

TEST(logging_environment_error_level)
{
    setenv("EDDY_LOG_LEVEL", "error", 1);
    EXPECT_TRUE(eddy__log_enabled(EDDY_LOG_ERROR));
    EXPECT_TRUE(!eddy__log_enabled(EDDY_LOG_WARN));
}

TEST(logging_bad_environment_value_warns_and_uses_warn)
{
    captured_log captured = {0};
    eddy_logging_set_sink(capture_sink, &captured);
    setenv("EDDY_LOG_LEVEL", "loud", 1);
    EXPECT_TRUE(eddy__log_enabled(EDDY_LOG_WARN));
    EXPECT_TRUE(!eddy__log_enabled(EDDY_LOG_INFO));
    EXPECT_EQ(captured.calls, 1);
    EXPECT_CONTAINS(captured.message, "EDDY_LOG_LEVEL 'loud' is not one of");
    eddy_logging_set_sink(NULL, NULL);
}

TEST(logging_set_level_overrides_environment)
{
    setenv("EDDY_LOG_LEVEL", "debug", 1);
    eddy_logging_set_level(EDDY_LOG_ERROR);
    EXPECT_TRUE(!eddy__log_enabled(EDDY_LOG_WARN));
    eddy_logging_set_level(EDDY_LOG_INFO);
    EXPECT_TRUE(eddy__log_enabled(EDDY_LOG_INFO));
    EXPECT_TRUE(!eddy__log_enabled(EDDY_LOG_DEBUG));
}

TEST(logging_sink_receives_enabled_messages)
{
    captured_log captured = {0};
    eddy_logging_set_sink(capture_sink, &captured);
    eddy_logging_set_level(EDDY_LOG_INFO);
    EDDY_DEBUG("log", "hidden %d", 1);
    EXPECT_EQ(captured.calls, 0);
    EDDY_INFO("log", "partition %s-%d opened", "orders", 3);
    EXPECT_EQ(captured.calls, 1);
    EXPECT_EQ(captured.level, EDDY_LOG_INFO);
    EXPECT_STREQ(captured.module, "log");
    EXPECT_STREQ(captured.message, "partition orders-3 opened");
    EDDY_ERROR("group", "lost");
    EXPECT_EQ(captured.calls, 2);
    EXPECT_EQ(captured.level, EDDY_LOG_ERROR);
    eddy_logging_set_sink(NULL, NULL);
}

/* Runs fn in a child with stderr redirected to a file; returns the text and the wait status. */
static int run_capturing_stderr(void (*fn)(void), char *out, size_t size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/stderr.txt", test_tmpdir());
    fflush(stderr);
    pid_t child = fork();
    if (child == 0) {
        if (!freopen(path, "w", stderr))
            _exit(99);
        fn();
        fflush(stderr);
        _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    FILE *file = fopen(path, "r");
    size_t len = file ? fread(out, 1, size - 1, file) : 0;
    out[len] = '\0';
    if (file)
        fclose(file);
    return status;
}

static void log_one_warning(void)
{
    eddy_logging_set_level(EDDY_LOG_WARN);
    EDDY_WARN("log", "truncated %d bytes", 112);
    EDDY_INFO("log", "not shown");
}

TEST(logging_stderr_format)
{
    char text[4096];
    int status = run_capturing_stderr(log_one_warning, text, sizeof(text));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* "2025-01-31T12:34:56.789Z WARN  log: truncated 112 bytes\n" */
    EXPECT_CONTAINS(text, " WARN  log: truncated 112 bytes\n");
    EXPECT_TRUE(strstr(text, "not shown") == NULL);
    EXPECT_EQ(text[4], '-');
    EXPECT_EQ(text[10], 'T');
    EXPECT_EQ(text[19], '.');
    EXPECT_EQ(text[23], 'Z');
    EXPECT_EQ(strchr(text, '\n') - text, (long)strlen(text) - 1); /* exactly one line */
}

static void fail_an_assertion(void)
{
    int answer = 41;
    EDDY_ASSERT(answer == 42);
}

TEST(assertion_failure_prints_and_aborts)
{
    char text[4096];
    int status = run_capturing_stderr(fail_an_assertion, text, sizeof(text));
    EXPECT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGABRT);
    EXPECT_CONTAINS(text, "assertion failed: answer == 42");
    EXPECT_CONTAINS(text, "test_core_misc.c:");
}
