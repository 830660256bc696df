/**
 * @file common.h
 * @brief What every eddy module shares: the export macro, error codes, slices, the version.
 *
 * Errors: every fallible function returns an ::eddy_err (0 = ::EDDY_OK, negative = failure).
 * When a function fails it also leaves a one-line message, naming the input that was wrong,
 * in a thread-local buffer read with eddy_last_error(). The message stays valid until the
 * next failing eddy call on the same thread.
 */
#ifndef EDDY_COMMON_H
#define EDDY_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(EDDY_BUILDING)
#define EDDY_EXPORT __attribute__((visibility("default")))
#else
#define EDDY_EXPORT
#endif

/**
 * The one list of eddy's errors: X(symbol, value, message). The enum, eddy_err_name() and
 * eddy_strerror() are all generated from it, so a new error is one line here.
 */
#define EDDY_ERRNO_MAP(X)                                                                          \
    X(OK, 0, "success")                                                                            \
    X(INVALID_ARGUMENT, -1, "invalid argument")                                                    \
    X(NO_MEMORY, -2, "out of memory")                                                              \
    X(IO, -3, "input/output error")                                                                \
    X(NOT_FOUND, -4, "not found")                                                                  \
    X(EXISTS, -5, "already exists")                                                                \
    X(CORRUPT, -6, "corrupt data")                                                                 \
    X(FORMAT_VERSION, -7, "unsupported format version")                                            \
    X(UNKNOWN_TOPIC, -8, "unknown topic")                                                          \
    X(UNKNOWN_PARTITION, -9, "unknown partition")                                                  \
    X(OFFSET_OUT_OF_RANGE, -10, "offset out of range")                                             \
    X(TIMED_OUT, -11, "timed out")                                                                 \
    X(NO_SPACE, -12, "no space left on device")                                                    \
    X(FATAL, -13, "fatal error: handle unusable")                                                  \
    X(CONFIG, -14, "invalid configuration")                                                        \
    X(TOO_LARGE, -15, "too large")                                                                 \
    X(BUSY, -16, "resource busy")                                                                  \
    X(STATE, -17, "operation not valid in this state")                                             \
    X(PERMISSION, -18, "permission denied")                                                        \
    X(END, -19, "end of data")                                                                     \
    X(SERIALIZATION, -20, "serialization error")

/** Error codes. 0 is success; every failure is negative. */
typedef enum eddy_err {
#define EDDY__ERR_ENUM(name, value, message) EDDY_ERR_##name = (value),
    EDDY_ERRNO_MAP(EDDY__ERR_ENUM)
#undef EDDY__ERR_ENUM
} eddy_err;

#define EDDY_OK EDDY_ERR_OK

/** The error's symbolic name, e.g. "EDDY_ERR_CORRUPT"; a static string. */
EDDY_EXPORT const char *eddy_err_name(eddy_err err);

/** A short human message for the error code; a static string. */
EDDY_EXPORT const char *eddy_strerror(eddy_err err);

/**
 * The detailed message of the last failing eddy call on this thread, e.g.
 * "topic 'orders': partition 7 does not exist (topic has 3 partitions)". Never NULL; an empty
 * string when no call has failed yet. Valid until the next failing call on this thread.
 */
EDDY_EXPORT const char *eddy_last_error(void);

/** A borrowed byte range. A slice with data == NULL is null (a null key, a tombstone value),
 *  which is distinct from an empty slice (data != NULL, len == 0). */
typedef struct eddy_slice {
    const void *data;
    size_t len;
} eddy_slice;

/**
 * Frees memory that eddy handed to the caller (eddy_string_dup(), eddy_json_encode(),
 * descriptions, ...). Such memory must be freed with this function, never with free(): eddy
 * counts its allocations. NULL is a no-op.
 */
EDDY_EXPORT void eddy_free(void *ptr);

/** eddy's version as "MAJOR.MINOR.PATCH"; a static string. */
EDDY_EXPORT const char *eddy_version(void);

#ifdef __cplusplus
}
#endif
#endif
