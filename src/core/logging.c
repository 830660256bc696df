/* Levelled logging: one line per message to stderr, or to a sink the application installs.
 *
 *   2025-01-31T12:34:56.789Z WARN  log: partition orders-3: truncated 112 bytes at position 4096
 *
 * The level starts as EDDY_LOG_LEVEL (error, warn, info, debug; default warn), read at the first
 * log call, unless eddy_logging_set_level() came first. The level check is one relaxed atomic
 * load, so disabled debug logging costs next to nothing on hot paths. Each line is formatted
 * into a stack buffer and written with one call, so lines from different threads do not mix
 * and logging never allocates. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* gmtime_r, strcasecmp */
#endif

#include "core/logging.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "core/limits.h"

/* -1 until the first use reads EDDY_LOG_LEVEL. */
#define LOGGING_LEVEL_UNSET (-1)

static _Atomic int logging_level = LOGGING_LEVEL_UNSET;

/* Set before threads start (documented in eddy/logging.h), so plain variables suffice. */
static eddy_log_sink logging_sink;
static void *logging_sink_opaque;

static const char *const logging_level_names[] = {"error", "warn", "info", "debug"};
static const char *const logging_level_labels[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};

static int logging_clamp(int level)
{
    if (level < EDDY_LOG_ERROR)
        return EDDY_LOG_ERROR;
    if (level > EDDY_LOG_DEBUG)
        return EDDY_LOG_DEBUG;
    return level;
}

/* Returns the level EDDY_LOG_LEVEL names, or -1 when it names none. */
static int logging_parse_level(const char *text)
{
    for (int level = EDDY_LOG_ERROR; level <= EDDY_LOG_DEBUG; level++)
        if (strcasecmp(text, logging_level_names[level]) == 0)
            return level;
    if (strcasecmp(text, "warning") == 0)
        return EDDY_LOG_WARN;
    return -1;
}

static int logging_level_init(void)
{
    const char *text = getenv("EDDY_LOG_LEVEL");
    int level = text && *text ? logging_parse_level(text) : EDDY_LOG_WARN;
    int unset = LOGGING_LEVEL_UNSET;
    int bad_value = level < 0;
    if (bad_value)
        level = EDDY_LOG_WARN;
    /* Only the thread that installs the level reports a bad value, so it is reported once. */
    if (atomic_compare_exchange_strong(&logging_level, &unset, level) && bad_value)
        eddy__logf(EDDY_LOG_WARN, "logging",
                   "EDDY_LOG_LEVEL '%s' is not one of error, warn, info, debug; using warn", text);
    return atomic_load_explicit(&logging_level, memory_order_relaxed);
}

int eddy__log_enabled(eddy_log_level level)
{
    int current = atomic_load_explicit(&logging_level, memory_order_relaxed);
    if (current == LOGGING_LEVEL_UNSET)
        current = logging_level_init();
    return (int)level <= current;
}

void eddy_logging_set_level(eddy_log_level level)
{
    atomic_store_explicit(&logging_level, logging_clamp((int)level), memory_order_relaxed);
}

void eddy_logging_set_sink(eddy_log_sink sink, void *opaque)
{
    logging_sink = sink;
    logging_sink_opaque = sink ? opaque : NULL;
}

/* "2025-01-31T12:34:56.789Z": UTC, so lines from machines in different zones sort together. */
static void logging_format_time(char *out, size_t size)
{
    int64_t now_ms = eddy__now_ms();
    time_t seconds = (time_t)(now_ms / 1000);
    struct tm utc;
    gmtime_r(&seconds, &utc);
    char date[32];
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(out, size, "%s.%03dZ", date, (int)(now_ms % 1000));
}

static void logging_write_stderr(eddy_log_level level, const char *module, const char *message)
{
    char timestamp[48];
    char line[EDDY_LOG_MESSAGE_MAX + 128];
    logging_format_time(timestamp, sizeof(timestamp));
    int len = snprintf(line, sizeof(line), "%s %s %s: %s\n", timestamp,
                       logging_level_labels[logging_clamp((int)level)], module, message);
    if (len < 0)
        return;
    size_t size = (size_t)len;
    if (size >= sizeof(line)) { /* truncated: keep the line ending */
        size = sizeof(line) - 1;
        line[size - 1] = '\n';
    }
    fwrite(line, 1, size, stderr);
}

void eddy__logf(eddy_log_level level, const char *module, const char *fmt, ...)
{
    char message[EDDY_LOG_MESSAGE_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof(message), fmt, args);
    va_end(args);
    if (!module)
        module = "eddy";
    if (logging_sink)
        logging_sink(level, module, message, logging_sink_opaque);
    else
        logging_write_stderr(level, module, message);
}

/* Always to stderr, whatever the sink: the process is about to die and stderr is where a
 * crash is looked for. A sink also gets it, for applications that log only to files. */
void eddy__assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "eddy: assertion failed: %s (%s:%d)\n", cond, file, line);
    fflush(stderr);
    if (logging_sink) {
        char message[EDDY_LOG_MESSAGE_MAX];
        snprintf(message, sizeof(message), "assertion failed: %s (%s:%d)", cond, file, line);
        logging_sink(EDDY_LOG_ERROR, "assert", message, logging_sink_opaque);
    }
    abort();
}
