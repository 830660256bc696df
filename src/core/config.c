/* Configuration: string properties kept sorted by key, validated on set for the keys eddy
 * knows, read from Java-style properties files.
 *
 * Entries live in one array sorted by key (binary search, memmove to insert): configurations
 * hold tens of keys and are read at start-up, so a flat array beats a hash table in code and
 * in memory, and eddy_config_at() iterates in sorted order for free.
 *
 * Validation happens in eddy_config_set(), so that a bad value is reported where it was
 * written (a --set flag, a line of a file), not later where it is used. Keys eddy does not know
 * are kept unchecked: they belong to librdkafka or the application.
 *
 * Properties files: one `key=value` or `key: value` per line, split at the first '=' or ':';
 * whitespace around keys and values trimmed; blank lines and lines starting with '#' or '!'
 * ignored. Java's backslash escapes and line continuations are not supported: a line ending
 * in a backslash is rejected rather than read differently than Java would. Loading is
 * all-or-nothing: the file is applied to a copy, which replaces the configuration only when
 * every line was good. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strcasecmp, strnlen */
#endif

#include "eddy/config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/logging.h"

typedef struct config_entry {
    char *key;
    char *value;
} config_entry;

struct eddy_config {
    config_entry *entries; /* sorted by strcmp of key */
    size_t count;
    size_t capacity;
};

/* ---- Known keys ------------------------------------------------------------------------- */

typedef enum config_type {
    CONFIG_TYPE_INTEGER, /* a decimal int64 in [min, max] */
    CONFIG_TYPE_CHOICE,  /* exactly one of `choices` */
    CONFIG_TYPE_BOOLEAN, /* true or false, any case (as Java's ConfigDef) */
} config_type;

typedef struct config_known_key {
    const char *name;
    config_type type;
    int64_t min;
    int64_t max;
    const char *const *choices; /* NULL-terminated */
} config_known_key;

static const char *const config_cleanup_policies[] = {"delete", "compact", "compact,delete",
                                                      "delete,compact", NULL};
static const char *const config_timestamp_types[] = {"CreateTime", "LogAppendTime", NULL};
static const char *const config_offset_resets[] = {"earliest", "latest", "none", NULL};
static const char *const config_acks[] = {"all", "-1", "1", "0", NULL};

/* Kafka's names and ranges; sorted by name for the reader. */
static const config_known_key config_known_keys[] = {
    {"acks", CONFIG_TYPE_CHOICE, 0, 0, config_acks},
    {"auto.commit.interval.ms", CONFIG_TYPE_INTEGER, 0, EDDY_AUTO_COMMIT_INTERVAL_MS_MAX, NULL},
    {"auto.offset.reset", CONFIG_TYPE_CHOICE, 0, 0, config_offset_resets},
    {"batch.size", CONFIG_TYPE_INTEGER, 1, EDDY_PRODUCER_BATCH_BYTES_MAX, NULL},
    {"cleanup.policy", CONFIG_TYPE_CHOICE, 0, 0, config_cleanup_policies},
    {"commit.interval.ms", CONFIG_TYPE_INTEGER, 0, INT64_MAX, NULL},
    {"delete.retention.ms", CONFIG_TYPE_INTEGER, 0, INT64_MAX, NULL},
    {"enable.auto.commit", CONFIG_TYPE_BOOLEAN, 0, 0, NULL},
    {"index.interval.bytes", CONFIG_TYPE_INTEGER, 0, INT64_MAX, NULL},
    {"linger.ms", CONFIG_TYPE_INTEGER, 0, EDDY_PRODUCER_LINGER_MS_MAX, NULL},
    {"message.timestamp.type", CONFIG_TYPE_CHOICE, 0, 0, config_timestamp_types},
    {"num.stream.threads", CONFIG_TYPE_INTEGER, 1, INT64_MAX, NULL},
    {"queue.buffering.max.messages", CONFIG_TYPE_INTEGER, 1, EDDY_PRODUCER_QUEUE_RECORDS_MAX,
     NULL},
    {"retention.bytes", CONFIG_TYPE_INTEGER, -1, INT64_MAX, NULL},
    {"retention.ms", CONFIG_TYPE_INTEGER, -1, INT64_MAX, NULL},
    {"segment.bytes", CONFIG_TYPE_INTEGER, EDDY_SEGMENT_BYTES_MIN, EDDY_SEGMENT_BYTES_MAX, NULL},
    {"segment.ms", CONFIG_TYPE_INTEGER, 1, INT64_MAX, NULL},
    {"session.timeout.ms", CONFIG_TYPE_INTEGER, 1, INT64_MAX, NULL},
};

static const config_known_key *config_find_known_key(const char *key)
{
    size_t count = sizeof(config_known_keys) / sizeof(config_known_keys[0]);
    for (size_t i = 0; i < count; i++)
        if (strcmp(config_known_keys[i].name, key) == 0)
            return &config_known_keys[i];
    return NULL;
}

/* ---- Validation ------------------------------------------------------------------------- */

/* Parses a whole string as a decimal int64 (optional sign, digits, nothing else).
 * Returns 1 when parsed, 0 when not an integer, -1 when an integer outside int64. */
static int config_parse_i64(const char *text, int64_t *out)
{
    const char *digits = (text[0] == '-' || text[0] == '+') ? text + 1 : text;
    if (digits[0] < '0' || digits[0] > '9')
        return 0;
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (*end != '\0')
        return 0;
    if (errno == ERANGE)
        return -1;
    *out = value;
    return 1;
}

static eddy_err config_fail_range(const char *key, const char *value, int64_t min, int64_t max)
{
    if (max == INT64_MAX)
        return eddy__fail(EDDY_ERR_CONFIG, "config %s: '%s' is out of range (minimum %" PRId64 ")",
                          key, value, min);
    return eddy__fail(EDDY_ERR_CONFIG,
                      "config %s: '%s' is out of range (%" PRId64 " to %" PRId64 ")", key, value,
                      min, max);
}

/* Checks that value is an integer in [min, max]; writes it to *out when it is. */
static eddy_err config_check_integer(const char *key, const char *value, int64_t min, int64_t max,
                                     int64_t *out)
{
    int64_t parsed = 0;
    int status = config_parse_i64(value, &parsed);
    if (status == 0)
        return eddy__fail(EDDY_ERR_CONFIG, "config %s: '%s' is not an integer", key, value);
    if (status < 0 || parsed < min || parsed > max)
        return config_fail_range(key, value, min, max);
    *out = parsed;
    return EDDY_OK;
}

static eddy_err config_check_choice(const config_known_key *known, const char *value)
{
    for (size_t i = 0; known->choices[i]; i++)
        if (strcmp(value, known->choices[i]) == 0)
            return EDDY_OK;
    char allowed[EDDY_ERROR_MESSAGE_MAX] = "";
    size_t used = 0;
    for (size_t i = 0; known->choices[i] && used < sizeof(allowed); i++)
        used += (size_t)snprintf(allowed + used, sizeof(allowed) - used, "%s%s", i ? ", " : "",
                                 known->choices[i]);
    return eddy__fail(EDDY_ERR_CONFIG, "config %s: '%s' is not one of %s", known->name, value,
                      allowed);
}

static eddy_err config_validate(const char *key, const char *value)
{
    const config_known_key *known = config_find_known_key(key);
    if (!known)
        return EDDY_OK;
    int64_t ignored;
    switch (known->type) {
    case CONFIG_TYPE_INTEGER:
        return config_check_integer(key, value, known->min, known->max, &ignored);
    case CONFIG_TYPE_CHOICE:
        return config_check_choice(known, value);
    case CONFIG_TYPE_BOOLEAN:
        if (strcasecmp(value, "true") == 0 || strcasecmp(value, "false") == 0)
            return EDDY_OK;
        return eddy__fail(EDDY_ERR_CONFIG, "config %s: '%s' is not one of true, false", key, value);
    }
    return EDDY_OK;
}

static eddy_err config_check_arguments(const eddy_config *config, const char *key,
                                       const char *value)
{
    if (!config || !key || !value)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "config set: NULL %s",
                          !config ? "config"
                          : !key  ? "key"
                                  : "value");
    if (key[0] == '\0')
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "config set: empty key");
    if (strnlen(key, EDDY_CONFIG_LINE_MAX + 1) > EDDY_CONFIG_LINE_MAX)
        return eddy__fail(EDDY_ERR_CONFIG, "config: a key is longer than %d bytes",
                          EDDY_CONFIG_LINE_MAX);
    if (strnlen(value, EDDY_CONFIG_LINE_MAX + 1) > EDDY_CONFIG_LINE_MAX)
        return eddy__fail(EDDY_ERR_CONFIG, "config %s: the value is longer than %d bytes", key,
                          EDDY_CONFIG_LINE_MAX);
    return EDDY_OK;
}

/* ---- The sorted entry array ------------------------------------------------------------- */

/* Binary search: returns 1 and the entry's index when found, else 0 and where it would go. */
static int config_search(const eddy_config *config, const char *key, size_t *index)
{
    size_t low = 0, high = config->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        int order = strcmp(config->entries[middle].key, key);
        if (order == 0) {
            *index = middle;
            return 1;
        }
        if (order < 0)
            low = middle + 1;
        else
            high = middle;
    }
    *index = low;
    return 0;
}

static eddy_err config_reserve(eddy_config *config, size_t needed)
{
    if (needed <= config->capacity)
        return EDDY_OK;
    size_t capacity = config->capacity ? config->capacity * 2 : 16;
    while (capacity < needed)
        capacity *= 2;
    config_entry *entries = eddy__realloc(config->entries, capacity * sizeof(*entries));
    if (!entries)
        return EDDY_ERR_NO_MEMORY;
    config->entries = entries;
    config->capacity = capacity;
    return EDDY_OK;
}

static eddy_err config_replace_value(config_entry *entry, const char *value)
{
    char *copy = eddy__strdup(value);
    if (!copy)
        return EDDY_ERR_NO_MEMORY;
    eddy__free(entry->value);
    entry->value = copy;
    return EDDY_OK;
}

static eddy_err config_insert(eddy_config *config, size_t index, const char *key, const char *value)
{
    if (config_reserve(config, config->count + 1) != EDDY_OK)
        return EDDY_ERR_NO_MEMORY;
    char *key_copy = eddy__strdup(key);
    char *value_copy = eddy__strdup(value);
    if (!key_copy || !value_copy) {
        eddy__free(key_copy);
        eddy__free(value_copy);
        return EDDY_ERR_NO_MEMORY;
    }
    config_entry *slot = &config->entries[index];
    memmove(slot + 1, slot, (config->count - index) * sizeof(*slot));
    slot->key = key_copy;
    slot->value = value_copy;
    config->count++;
    return EDDY_OK;
}

/* Stores a validated pair; on failure the configuration is unchanged. */
static eddy_err config_store(eddy_config *config, const char *key, const char *value)
{
    size_t index;
    eddy_err err;
    if (config_search(config, key, &index))
        err = config_replace_value(&config->entries[index], value);
    else
        err = config_insert(config, index, key, value);
    if (err != EDDY_OK)
        return eddy__fail(err, "config %s: out of memory", key);
    return EDDY_OK;
}

/* ---- Public API ------------------------------------------------------------------------- */

eddy_config *eddy_config_new(void)
{
    return eddy__calloc(1, sizeof(eddy_config));
}

void eddy_config_destroy(eddy_config *config)
{
    if (!config)
        return;
    for (size_t i = 0; i < config->count; i++) {
        eddy__free(config->entries[i].key);
        eddy__free(config->entries[i].value);
    }
    eddy__free(config->entries);
    eddy__free(config);
}

eddy_config *eddy_config_copy(const eddy_config *config)
{
    if (!config)
        return NULL;
    eddy_config *copy = eddy_config_new();
    if (!copy || config_reserve(copy, config->count) != EDDY_OK)
        goto fail;
    for (size_t i = 0; i < config->count; i++) {
        config_entry *entry = &copy->entries[i];
        entry->key = eddy__strdup(config->entries[i].key);
        entry->value = eddy__strdup(config->entries[i].value);
        copy->count++; /* counted before checking, so destroy frees a half-made entry */
        if (!entry->key || !entry->value)
            goto fail;
    }
    return copy;
fail:
    eddy_config_destroy(copy);
    return NULL;
}

eddy_err eddy_config_set(eddy_config *config, const char *key, const char *value)
{
    eddy_err err = config_check_arguments(config, key, value);
    if (err != EDDY_OK)
        return err;
    err = config_validate(key, value);
    if (err != EDDY_OK)
        return err;
    return config_store(config, key, value);
}

/* Trims the whitespace Java's Properties skips (and '\r', for files written on Windows). */
static char *config_trim(char *text)
{
    static const char whitespace[] = " \t\f\r\v";
    while (*text && strchr(whitespace, *text))
        text++;
    size_t len = strlen(text);
    while (len > 0 && strchr(whitespace, text[len - 1]))
        text[--len] = '\0';
    return text;
}

eddy_err eddy_config_set_pair(eddy_config *config, const char *key_equals_value)
{
    if (!config || !key_equals_value)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "config set: NULL argument");
    char pair[EDDY_CONFIG_LINE_MAX + 1];
    if (strnlen(key_equals_value, sizeof(pair)) >= sizeof(pair))
        return eddy__fail(EDDY_ERR_CONFIG, "config: '%.40s...' is longer than %d bytes",
                          key_equals_value, EDDY_CONFIG_LINE_MAX);
    strcpy(pair, key_equals_value);
    char *equals = strchr(pair, '=');
    if (!equals)
        return eddy__fail(EDDY_ERR_CONFIG, "config: '%s' is not key=value", key_equals_value);
    *equals = '\0';
    char *key = config_trim(pair);
    if (key[0] == '\0')
        return eddy__fail(EDDY_ERR_CONFIG, "config: '%s' has an empty key", key_equals_value);
    return eddy_config_set(config, key, config_trim(equals + 1));
}

const char *eddy_config_get(const eddy_config *config, const char *key)
{
    size_t index;
    if (!config || !key || !config_search(config, key, &index))
        return NULL;
    return config->entries[index].value;
}

eddy_err eddy_config_get_i64(const eddy_config *config, const char *key, int64_t default_value,
                             int64_t min, int64_t max, int64_t *out)
{
    if (!key || !out)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "config get: NULL %s", key ? "out" : "key");
    if (min > max)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "config %s: empty range (minimum %" PRId64 " > maximum %" PRId64 ")", key,
                          min, max);
    const char *value = eddy_config_get(config, key);
    if (!value) {
        *out = default_value;
        return EDDY_OK;
    }
    return config_check_integer(key, value, min, max, out);
}

size_t eddy_config_count(const eddy_config *config)
{
    return config ? config->count : 0;
}

void eddy_config_at(const eddy_config *config, size_t i, const char **key, const char **value)
{
    EDDY_ASSERT(config != NULL && i < config->count);
    if (key)
        *key = config->entries[i].key;
    if (value)
        *value = config->entries[i].value;
}

/* ---- Properties files ------------------------------------------------------------------- */

typedef enum config_line_status {
    CONFIG_LINE_READ,
    CONFIG_LINE_END,
    CONFIG_LINE_TOO_LONG,
    CONFIG_LINE_NUL,
    CONFIG_LINE_IO_ERROR,
} config_line_status;

/* Reads one line, without its '\n', into line[EDDY_CONFIG_LINE_MAX + 1]. */
static config_line_status config_read_line(FILE *file, char *line)
{
    size_t len = 0;
    int c;
    while ((c = getc(file)) != EOF && c != '\n') {
        if (c == '\0')
            return CONFIG_LINE_NUL;
        if (len == EDDY_CONFIG_LINE_MAX)
            return CONFIG_LINE_TOO_LONG;
        line[len++] = (char)c;
    }
    line[len] = '\0';
    if (c == EOF && ferror(file))
        return CONFIG_LINE_IO_ERROR;
    if (c == EOF && len == 0)
        return CONFIG_LINE_END;
    return CONFIG_LINE_READ;
}

static eddy_err config_apply_line(eddy_config *staged, char *line, const char *path,
                                  int line_number)
{
    char *text = config_trim(line);
    if (text[0] == '\0' || text[0] == '#' || text[0] == '!')
        return EDDY_OK;
    char *separator = strpbrk(text, "=:");
    if (!separator)
        return eddy__fail(EDDY_ERR_CONFIG, "%s:%d: expected key=value, got '%s'", path, line_number,
                          text);
    if (text[strlen(text) - 1] == '\\')
        return eddy__fail(EDDY_ERR_CONFIG, "%s:%d: line continuations are not supported", path,
                          line_number);
    *separator = '\0';
    char *key = config_trim(text);
    if (key[0] == '\0')
        return eddy__fail(EDDY_ERR_CONFIG, "%s:%d: empty key", path, line_number);
    eddy_err err = eddy_config_set(staged, key, config_trim(separator + 1));
    if (err != EDDY_OK)
        return eddy__fail_context(err, "%s:%d", path, line_number);
    return EDDY_OK;
}

static eddy_err config_fail_line(config_line_status status, const char *path, int line_number)
{
    switch (status) {
    case CONFIG_LINE_TOO_LONG:
        return eddy__fail(EDDY_ERR_CONFIG, "%s:%d: line is longer than %d bytes", path, line_number,
                          EDDY_CONFIG_LINE_MAX);
    case CONFIG_LINE_NUL:
        return eddy__fail(EDDY_ERR_CONFIG, "%s:%d: line contains a NUL byte", path, line_number);
    default:
        eddy__fail_errno(errno, "%s:%d: read error", path, line_number);
        return EDDY_ERR_IO;
    }
}

static eddy_err config_read_file(eddy_config *staged, FILE *file, const char *path)
{
    char line[EDDY_CONFIG_LINE_MAX + 1];
    for (int line_number = 1;; line_number++) {
        config_line_status status = config_read_line(file, line);
        if (status == CONFIG_LINE_END)
            return EDDY_OK;
        if (status != CONFIG_LINE_READ)
            return config_fail_line(status, path, line_number);
        eddy_err err = config_apply_line(staged, line, path, line_number);
        if (err != EDDY_OK)
            return err;
    }
}

static void config_swap(eddy_config *a, eddy_config *b)
{
    eddy_config saved = *a;
    *a = *b;
    *b = saved;
}

eddy_err eddy_config_load_file(eddy_config *config, const char *path)
{
    if (!config || !path)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "config load: NULL argument");
    FILE *file = fopen(path, "r");
    if (!file) {
        eddy__fail_errno(errno, "config file %s", path);
        return EDDY_ERR_IO;
    }
    eddy_err err = EDDY_OK;
    eddy_config *staged = eddy_config_copy(config);
    if (!staged)
        err = eddy__fail(EDDY_ERR_NO_MEMORY, "config file %s: out of memory", path);
    else
        err = config_read_file(staged, file, path);
    fclose(file);
    if (err == EDDY_OK)
        config_swap(config, staged);
    eddy_config_destroy(staged);
    return err;
}
