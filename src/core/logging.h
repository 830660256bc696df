/* Levelled logging to stderr (or a sink set through eddy/logging.h). */
#ifndef EDDY_CORE_LOGGING_H
#define EDDY_CORE_LOGGING_H

#include "eddy/logging.h"

void eddy__logf(eddy_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int eddy__log_enabled(eddy_log_level level);

#define EDDY_LOG(level, module, ...)                                                               \
    do {                                                                                           \
        if (eddy__log_enabled(level))                                                              \
            eddy__logf(level, module, __VA_ARGS__);                                                \
    } while (0)
#define EDDY_ERROR(module, ...) EDDY_LOG(EDDY_LOG_ERROR, module, __VA_ARGS__)
#define EDDY_WARN(module, ...) EDDY_LOG(EDDY_LOG_WARN, module, __VA_ARGS__)
#define EDDY_INFO(module, ...) EDDY_LOG(EDDY_LOG_INFO, module, __VA_ARGS__)
#define EDDY_DEBUG(module, ...) EDDY_LOG(EDDY_LOG_DEBUG, module, __VA_ARGS__)

/* Assertions that stay on in release builds: they guard our own invariants, never input. */
#define EDDY_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            eddy__assert_fail(#cond, __FILE__, __LINE__);                                          \
    } while (0)
_Noreturn void eddy__assert_fail(const char *cond, const char *file, int line);

#endif
