/* Internal error helpers: record a failure's message for eddy_last_error() and return it. */
#ifndef EDDY_CORE_ERROR_H
#define EDDY_CORE_ERROR_H

#include "eddy/common.h"

/* Formats the thread's last-error message and returns err, so callers can write
 * `return eddy__fail(EDDY_ERR_CORRUPT, "segment %s: bad CRC at position %llu", ...);`. */
eddy_err eddy__fail(eddy_err err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like eddy__fail, adding ": <strerror(errnum)>" and mapping errnum to an eddy_err
 * (ENOSPC, EDQUOT -> NO_SPACE; ENOENT -> NOT_FOUND; EACCES, EPERM -> PERMISSION;
 * ENOMEM -> NO_MEMORY; EEXIST -> EXISTS; else IO). */
eddy_err eddy__fail_errno(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current last-error message with "prefix: " (keeps the code). */
eddy_err eddy__fail_context(eddy_err err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
