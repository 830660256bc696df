/*
 * The command line's helpers: one-line errors, strict number parsing, allocation that cannot
 * fail, opening the data directory, and the routing of the library's log messages.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

void cli_error(const char *format, ...)
{
    char message[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    /* One write, so that the line stays whole when several processes share stderr. */
    fprintf(stderr, "eddy: %s\n", message);
    fflush(stderr);
}

int cli_usage_error(const cli_command *command, const char *format, ...)
{
    char message[1024];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof(message), format, args);
    va_end(args);
    cli_error("%s (see 'eddy %s --help')", message, command->path);
    return CLI_EXIT_USAGE;
}

int cli_library_error(eddy_err err, const char *context)
{
    const char *detail = eddy_last_error();
    if (detail != NULL && detail[0] != '\0') {
        cli_error("%s", detail);
    } else {
        cli_error("%s: %s", context, eddy_strerror(err));
    }
    return CLI_EXIT_RUNTIME;
}

bool cli_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out)
{
    /* strtoll accepts leading spaces and an empty string; a flag's value must be digits. */
    const char *digits = text[0] == '-' || text[0] == '+' ? text + 1 : text;
    if (digits[0] < '0' || digits[0] > '9') {
        return false;
    }
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max) {
        return false;
    }
    *out = (int64_t)value;
    return true;
}

bool cli_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 249 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static void out_of_memory(size_t bytes)
{
    cli_error("out of memory (allocating %zu bytes)", bytes);
    exit(CLI_EXIT_RUNTIME);
}

void *cli_alloc(size_t bytes)
{
    void *pointer = malloc(bytes ? bytes : 1);
    if (pointer == NULL) {
        out_of_memory(bytes);
    }
    return pointer;
}

void *cli_realloc(void *pointer, size_t bytes)
{
    void *grown = realloc(pointer, bytes ? bytes : 1);
    if (grown == NULL) {
        out_of_memory(bytes);
    }
    return grown;
}

char *cli_strdup(const char *text)
{
    size_t len = strlen(text) + 1;
    char *copy = cli_alloc(len);
    memcpy(copy, text, len);
    return copy;
}

int cli_log_open(const cli_global *global, bool create, eddy_log **out)
{
    const char *dir = global->data_dir;
    if (dir[0] == '\0') {
        cli_error("--data: the data directory name is empty");
        return CLI_EXIT_USAGE;
    }
    struct stat st;
    if (!create && stat(dir, &st) != 0 && errno == ENOENT) {
        /* Reading commands must not create the directory; say why nothing is there. */
        cli_error("data directory '%s' does not exist (use --data DIR or EDDY_DATA)", dir);
        return CLI_EXIT_RUNTIME;
    }
    eddy_err err = eddy_log_open(dir, create ? EDDY_LOG_CREATE : 0, out);
    if (err == EDDY_ERR_NOT_FOUND) {
        cli_error("data directory '%s' does not exist (use --data DIR or EDDY_DATA)", dir);
        return CLI_EXIT_RUNTIME;
    }
    if (err != EDDY_OK) {
        return cli_library_error(err, dir);
    }
    return CLI_EXIT_OK;
}

int cli_topic_partitions(eddy_log *log, const char *topic, int32_t *partitions)
{
    eddy_err err = eddy_log_topic_partitions(log, topic, partitions);
    if (err == EDDY_ERR_UNKNOWN_TOPIC) {
        cli_error("unknown topic '%s' in '%s' (see 'eddy topic list')", topic, eddy_log_dir(log));
        return CLI_EXIT_RUNTIME;
    }
    if (err != EDDY_OK) {
        return cli_library_error(err, topic);
    }
    return CLI_EXIT_OK;
}

int cli_partition_error(const char *topic, int64_t partition, int32_t partitions)
{
    cli_error("partition %lld does not exist: topic '%s' has %d partitions (0..%d)",
              (long long)partition, topic, (int)partitions, (int)partitions - 1);
    return CLI_EXIT_RUNTIME;
}

static const char *level_name(eddy_log_level level)
{
    switch (level) {
    case EDDY_LOG_ERROR:
        return "error";
    case EDDY_LOG_WARN:
        return "warning";
    case EDDY_LOG_INFO:
        return "info";
    case EDDY_LOG_DEBUG:
        return "debug";
    }
    return "log";
}

static void verbose_sink(eddy_log_level level, const char *module, const char *message,
                         void *opaque)
{
    (void)opaque;
    fprintf(stderr, "eddy: %s: %s: %s\n", level_name(level), module, message);
}

static void silent_sink(eddy_log_level level, const char *module, const char *message, void *opaque)
{
    (void)level, (void)module, (void)message, (void)opaque;
}

void cli_logging_setup(const cli_global *global)
{
    /* The library logs a failure and also returns it; the command line reports the returned
     * error once, so by default the log is silent. EDDY_LOG_LEVEL keeps the library's own
     * default routing for those who asked for it. */
    if (global->verbose) {
        eddy_logging_set_level(EDDY_LOG_INFO);
        eddy_logging_set_sink(verbose_sink, NULL);
    } else if (getenv("EDDY_LOG_LEVEL") == NULL) {
        eddy_logging_set_sink(silent_sink, NULL);
    }
}
