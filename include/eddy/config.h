/**
 * @file config.h
 * @brief Configuration: string key/value properties with typed, validated reads.
 *
 * Keys follow Kafka's property names (`retention.ms`, `cleanup.policy`, ...). Values are kept as
 * strings; eddy_config_set() validates keys that eddy knows (type and range) and rejects bad
 * values with a message naming the key and the value. Unknown keys are kept, so that keys for
 * other layers (librdkafka, the application) pass through.
 */
#ifndef EDDY_CONFIG_H
#define EDDY_CONFIG_H

#include "eddy/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eddy_config eddy_config;

/** A new, empty configuration. Returns NULL only when out of memory. Free with
 *  eddy_config_destroy(). */
EDDY_EXPORT eddy_config *eddy_config_new(void);

/** A deep copy of @p config, or NULL when out of memory. */
EDDY_EXPORT eddy_config *eddy_config_copy(const eddy_config *config);

/** Frees the configuration; NULL is a no-op. */
EDDY_EXPORT void eddy_config_destroy(eddy_config *config);

/**
 * Sets @p key to @p value (both copied). Known keys are validated.
 * @return EDDY_OK; EDDY_ERR_CONFIG when the value is invalid for a known key (eddy_last_error()
 *         names the key and the value, e.g. "config retention.ms: 'abc' is not an integer");
 *         EDDY_ERR_INVALID_ARGUMENT for an empty key or a NULL argument.
 */
EDDY_EXPORT eddy_err eddy_config_set(eddy_config *config, const char *key, const char *value);

/** Parses "key=value" and sets it. EDDY_ERR_CONFIG when there is no '='. */
EDDY_EXPORT eddy_err eddy_config_set_pair(eddy_config *config, const char *key_equals_value);

/**
 * Reads a Java-style properties file: one key=value per line, '#' or '!' comments, blank lines
 * ignored, whitespace around keys and values trimmed.
 * @return EDDY_OK; EDDY_ERR_IO when the file cannot be read; EDDY_ERR_CONFIG naming the file
 *         and line of the first bad line (nothing from the file is applied then).
 */
EDDY_EXPORT eddy_err eddy_config_load_file(eddy_config *config, const char *path);

/** The value of @p key, or NULL when unset. Valid until the key is set again or the config is
 *  destroyed. */
EDDY_EXPORT const char *eddy_config_get(const eddy_config *config, const char *key);

/**
 * Reads an integer key, with Kafka's default when unset.
 * @return EDDY_OK; EDDY_ERR_CONFIG when the stored value is not an integer in [min, max].
 */
EDDY_EXPORT eddy_err eddy_config_get_i64(const eddy_config *config, const char *key,
                                         int64_t default_value, int64_t min, int64_t max,
                                         int64_t *out);

/** The number of keys set. */
EDDY_EXPORT size_t eddy_config_count(const eddy_config *config);

/** The i-th key and value in sorted key order (0 <= i < count); pointers as eddy_config_get(). */
EDDY_EXPORT void eddy_config_at(const eddy_config *config, size_t i, const char **key,
                                const char **value);

#ifdef __cplusplus
}
#endif
#endif
