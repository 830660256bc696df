/* eddy's unit-test runner: named tests, each run in its own child process with a timeout,
 * assertions that print both sides on failure. Usage:
 *
 *     TEST(varint_round_trip) { EXPECT_EQ(decode(encode(5)), 5); }
 *
 * A test binary runs all its tests, or those whose names are given as arguments.
 * EDDY_TEST_TIMEOUT_S (default 120) bounds each test. */
#ifndef EDDY_TEST_H
#define EDDY_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eddy/common.h"

typedef void (*eddy_test_fn)(void);
void eddy_test_register(const char *name, eddy_test_fn fn);
_Noreturn void eddy_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A fresh empty directory for this test, removed after the test passes. */
const char *test_tmpdir(void);
/* Path of a file in the build tree next to the test binaries (e.g. the eddy CLI). */
const char *test_build_path(const char *name);
/* Seed for randomised tests: EDDY_TEST_SEED or time; printed on failure. */
uint64_t test_seed(void);
/* Soak mode (make soak): long-running variants of tests. */
int test_soak(void);

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void register_##name(void)                                 \
    {                                                                                              \
        eddy_test_register(#name, test_##name);                                                    \
    }                                                                                              \
    static void test_##name(void)

#define EXPECT_TRUE(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            eddy_test_fail(__FILE__, __LINE__, "expected true: %s", #cond);                        \
    } while (0)

#define EXPECT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long eddy_test_a_ = (long long)(a), eddy_test_b_ = (long long)(b);                    \
        if (eddy_test_a_ != eddy_test_b_)                                                          \
            eddy_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, eddy_test_a_,     \
                           eddy_test_b_);                                                          \
    } while (0)

#define EXPECT_NE(a, b)                                                                            \
    do {                                                                                           \
        long long eddy_test_a_ = (long long)(a), eddy_test_b_ = (long long)(b);                    \
        if (eddy_test_a_ == eddy_test_b_)                                                          \
            eddy_test_fail(__FILE__, __LINE__, "%s != %s: both %lld", #a, #b, eddy_test_a_);       \
    } while (0)

#define EXPECT_GE(a, b)                                                                            \
    do {                                                                                           \
        long long eddy_test_a_ = (long long)(a), eddy_test_b_ = (long long)(b);                    \
        if (!(eddy_test_a_ >= eddy_test_b_))                                                       \
            eddy_test_fail(__FILE__, __LINE__, "%s >= %s: %lld < %lld", #a, #b, eddy_test_a_,      \
                           eddy_test_b_);                                                          \
    } while (0)

#define EXPECT_LE(a, b) EXPECT_GE(b, a)

#define EXPECT_STREQ(a, b)                                                                         \
    do {                                                                                           \
        const char *eddy_test_a_ = (a), *eddy_test_b_ = (b);                                       \
        if (!eddy_test_a_ || !eddy_test_b_ || strcmp(eddy_test_a_, eddy_test_b_) != 0)             \
            eddy_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,               \
                           eddy_test_a_ ? eddy_test_a_ : "(null)",                                 \
                           eddy_test_b_ ? eddy_test_b_ : "(null)");                                \
    } while (0)

#define EXPECT_CONTAINS(haystack, needle)                                                          \
    do {                                                                                           \
        const char *eddy_test_h_ = (haystack), *eddy_test_n_ = (needle);                           \
        if (!eddy_test_h_ || !strstr(eddy_test_h_, eddy_test_n_))                                 \
            eddy_test_fail(__FILE__, __LINE__, "%s contains \"%s\": got \"%s\"", #haystack,        \
                           eddy_test_n_, eddy_test_h_ ? eddy_test_h_ : "(null)");                  \
    } while (0)

#define EXPECT_MEMEQ(a, alen, b, blen)                                                             \
    do {                                                                                           \
        size_t eddy_test_al_ = (alen), eddy_test_bl_ = (blen);                                     \
        if (eddy_test_al_ != eddy_test_bl_ || memcmp((a), (b), eddy_test_al_) != 0)               \
            eddy_test_fail(__FILE__, __LINE__, "%s == %s: \"%.*s\" (%zu) != \"%.*s\" (%zu)", #a,   \
                           #b, (int)eddy_test_al_, (const char *)(a), eddy_test_al_,               \
                           (int)eddy_test_bl_, (const char *)(b), eddy_test_bl_);                  \
    } while (0)

/* An eddy call that must succeed; on failure prints the error name and eddy_last_error(). */
#define EXPECT_OK(expr)                                                                            \
    do {                                                                                           \
        eddy_err eddy_test_e_ = (expr);                                                            \
        if (eddy_test_e_ != EDDY_OK)                                                               \
            eddy_test_fail(__FILE__, __LINE__, "%s failed: %s: %s", #expr,                         \
                           eddy_err_name(eddy_test_e_), eddy_last_error());                        \
    } while (0)

/* An eddy call that must fail with a given code. */
#define EXPECT_ERR(expr, code)                                                                     \
    do {                                                                                           \
        eddy_err eddy_test_e_ = (expr);                                                            \
        if (eddy_test_e_ != (code))                                                                \
            eddy_test_fail(__FILE__, __LINE__, "%s: expected %s, got %s (%s)", #expr,              \
                           eddy_err_name(code), eddy_err_name(eddy_test_e_), eddy_last_error());   \
    } while (0)

#endif
