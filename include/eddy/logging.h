/**
 * @file logging.h
 * @brief eddy's levelled log output (to stderr by default).
 *
 * The default level is WARN, or the value of the environment variable EDDY_LOG_LEVEL
 * (error, warn, info, debug).
 */
#ifndef EDDY_LOGGING_H
#define EDDY_LOGGING_H

#include "eddy/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum eddy_log_level {
    EDDY_LOG_ERROR = 0,
    EDDY_LOG_WARN = 1,
    EDDY_LOG_INFO = 2,
    EDDY_LOG_DEBUG = 3,
} eddy_log_level;

/** A sink receives each message (without a trailing newline); @p module names the subsystem. */
typedef void (*eddy_log_sink)(eddy_log_level level, const char *module, const char *message,
                              void *opaque);

/** Sets the most verbose level emitted. Thread-safe. */
EDDY_EXPORT void eddy_logging_set_level(eddy_log_level level);

/** Routes messages to @p sink (NULL restores stderr). Set it before starting threads. */
EDDY_EXPORT void eddy_logging_set_sink(eddy_log_sink sink, void *opaque);

#ifdef __cplusplus
}
#endif
#endif
