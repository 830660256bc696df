/* Errors: the names and messages of eddy_err (generated from EDDY_ERRNO_MAP), and the
 * thread-local "last error" message that every failing call leaves behind.
 *
 * Each thread owns one message buffer of EDDY_ERROR_MESSAGE_MAX bytes. A failing function
 * formats its message with eddy__fail() and returns the code in the same statement; callers
 * higher up may prefix it with eddy__fail_context() ("segment 42: " + the original), so the
 * message a user finally reads names every layer's input. Messages longer than the buffer are
 * truncated, never overflowed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerror_r */
#endif

#include "core/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "core/logging.h"

static _Thread_local char error_message[EDDY_ERROR_MESSAGE_MAX];

const char *eddy_err_name(eddy_err err)
{
    switch (err) {
#define EDDY__ERR_NAME_CASE(name, value, message)                                                  \
    case EDDY_ERR_##name:                                                                          \
        return "EDDY_ERR_" #name;
        EDDY_ERRNO_MAP(EDDY__ERR_NAME_CASE)
#undef EDDY__ERR_NAME_CASE
    }
    return "EDDY_ERR_UNKNOWN";
}

const char *eddy_strerror(eddy_err err)
{
    switch (err) {
#define EDDY__ERR_MESSAGE_CASE(name, value, message)                                               \
    case EDDY_ERR_##name:                                                                          \
        return message;
        EDDY_ERRNO_MAP(EDDY__ERR_MESSAGE_CASE)
#undef EDDY__ERR_MESSAGE_CASE
    }
    return "unknown error";
}

const char *eddy_last_error(void)
{
    return error_message;
}

/* Formats into a local buffer first: an argument may be eddy_last_error() itself (a caller
 * quoting the previous failure), and vsnprintf must not read the buffer it is writing. */
static void error_set_message(const char *fmt, va_list args)
{
    char formatted[EDDY_ERROR_MESSAGE_MAX];
    vsnprintf(formatted, sizeof(formatted), fmt, args);
    memcpy(error_message, formatted, sizeof(error_message));
}

eddy_err eddy__fail(eddy_err err, const char *fmt, ...)
{
    EDDY_ASSERT(err < 0);
    va_list args;
    va_start(args, fmt);
    error_set_message(fmt, args);
    va_end(args);
    return err;
}

/* glibc with _GNU_SOURCE has the GNU strerror_r, which returns the text rather than filling the
 * buffer; the POSIX one returns a status. */
static const char *error_errno_text(int errnum, char *buffer, size_t size)
{
#if defined(__GLIBC__) && defined(_GNU_SOURCE)
    return strerror_r(errnum, buffer, size);
#else
    if (strerror_r(errnum, buffer, size) != 0)
        snprintf(buffer, size, "errno %d", errnum);
    return buffer;
#endif
}

static eddy_err error_from_errno(int errnum)
{
    switch (errnum) {
    case ENOSPC:
    case EDQUOT:
        return EDDY_ERR_NO_SPACE;
    case ENOENT:
        return EDDY_ERR_NOT_FOUND;
    case EACCES:
    case EPERM:
        return EDDY_ERR_PERMISSION;
    case ENOMEM:
        return EDDY_ERR_NO_MEMORY;
    case EEXIST:
        return EDDY_ERR_EXISTS;
    default:
        return EDDY_ERR_IO;
    }
}

/* Writes "first: second" into out[size], truncating an over-long result (snprintf's return
 * is consumed so that GCC knows the truncation is intended). */
static void error_join(char *out, size_t size, const char *first, const char *second)
{
    int len = snprintf(out, size, "%s: %s", first, second);
    EDDY_ASSERT(len >= 0);
}

eddy_err eddy__fail_errno(int errnum, const char *fmt, ...)
{
    char formatted[EDDY_ERROR_MESSAGE_MAX];
    char errno_buffer[128];
    va_list args;
    va_start(args, fmt);
    vsnprintf(formatted, sizeof(formatted), fmt, args);
    va_end(args);
    const char *errno_text = error_errno_text(errnum, errno_buffer, sizeof(errno_buffer));
    error_join(error_message, sizeof(error_message), formatted, errno_text);
    return error_from_errno(errnum);
}

eddy_err eddy__fail_context(eddy_err err, const char *fmt, ...)
{
    EDDY_ASSERT(err < 0);
    char prefix[EDDY_ERROR_MESSAGE_MAX];
    char combined[EDDY_ERROR_MESSAGE_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, args);
    va_end(args);
    error_join(combined, sizeof(combined), prefix, error_message);
    memcpy(error_message, combined, sizeof(error_message));
    return err;
}
