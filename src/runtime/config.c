/* The runtime's configuration: Kafka Streams' keys, read and checked once at start (runtime.h).
 * Unknown keys are errors here (unlike eddy_config, which keeps them for other layers), so that
 * a misspelt key is named at start instead of silently ignored. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client/client.h"
#include "core/error.h"
#include "eddy/serde.h"
#include "runtime/runtime.h"

/* Keys the runtime or a layer below it reads. */
static const char *const known_keys[] = {"application.id",
                                         "application.server",
                                         "bootstrap.servers",
                                         "client.id",
                                         "commit.interval.ms",
                                         "default.deserialization.exception.handler",
                                         "default.dsl.store",
                                         "default.key.serde",
                                         "default.production.exception.handler",
                                         "default.value.serde",
                                         "errors.dead.letter.queue.topic.name",
                                         "log.dir",
                                         "max.task.idle.ms",
                                         "num.standby.replicas",
                                         "num.stream.threads",
                                         "poll.ms",
                                         "processing.exception.handler",
                                         "processing.guarantee",
                                         "replication.factor",
                                         "state.dir",
                                         "statestore.cache.max.bytes",
                                         "cache.max.bytes.buffering",
                                         "session.timeout.ms",
                                         "auto.offset.reset",
                                         "linger.ms",
                                         "batch.size",
                                         "acks",
                                         "queue.buffering.max.messages",
                                         "rocksdb.write.buffer.size",
                                         "rocksdb.max.write.buffers",
                                         "rocksdb.block.cache.size",
                                         "rocksdb.block.size",
                                         "segment.bytes",
                                         "segment.ms",
                                         "retention.ms",
                                         "retention.bytes",
                                         "eddy.create.topics",
                                         "default.timestamp.extractor",
                                         NULL};

static const char *const known_prefixes[] = {
    "consumer.",        "producer.", "main.consumer.", "restore.consumer.",
    "global.consumer.", "topic.",    "admin.",         NULL};

static bool key_known(const char *key)
{
    for (size_t i = 0; known_keys[i]; i++)
        if (strcmp(known_keys[i], key) == 0)
            return true;
    for (size_t i = 0; known_prefixes[i]; i++)
        if (strncmp(known_prefixes[i], key, strlen(known_prefixes[i])) == 0)
            return true;
    return false;
}

/* A serde by eddy's short name or by Kafka's class name. */
static const eddy_serde *serde_named(const char *name)
{
    static const struct {
        const char *names[3];
        const eddy_serde *(*serde)(void);
    } table[] = {
        {{"bytes", "org.apache.kafka.common.serialization.Serdes$ByteArraySerde",
          "org.apache.kafka.common.serialization.Serdes$BytesSerde"},
         eddy_serde_bytes},
        {{"string", "org.apache.kafka.common.serialization.Serdes$StringSerde", NULL},
         eddy_serde_string},
        {{"int32", "org.apache.kafka.common.serialization.Serdes$IntegerSerde", NULL},
         eddy_serde_int32},
        {{"int64", "org.apache.kafka.common.serialization.Serdes$LongSerde", NULL},
         eddy_serde_int64},
        {{"double", "org.apache.kafka.common.serialization.Serdes$DoubleSerde", NULL},
         eddy_serde_double},
        {{"json", NULL, NULL}, eddy_serde_json},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        for (size_t k = 0; k < 3 && table[i].names[k]; k++)
            if (strcmp(table[i].names[k], name) == 0)
                return table[i].serde();
    return NULL;
}

static eddy_err read_serde(const eddy_config *config, const char *key, const eddy_serde **out)
{
    const char *value = config ? eddy_config_get(config, key) : NULL;
    *out = eddy_serde_bytes();
    if (!value)
        return EDDY_OK;
    *out = serde_named(value);
    if (!*out)
        return eddy__fail(EDDY_ERR_CONFIG,
                          "config %s: '%s' is not a serde (bytes, string, int32, int64, double, "
                          "json, or Kafka's Serdes class names)",
                          key, value);
    return EDDY_OK;
}

/* logAndFail / logAndContinue, or Kafka's class names ending so. */
static eddy_err read_handler(const eddy_config *config, const char *key, bool *continue_out)
{
    const char *value = config ? eddy_config_get(config, key) : NULL;
    *continue_out = false;
    if (!value)
        return EDDY_OK;
    const char *last = strrchr(value, '.');
    last = last ? last + 1 : value;
    if (strcasecmp(last, "logAndFail") == 0 || strcmp(last, "LogAndFailExceptionHandler") == 0 ||
        strcmp(last, "LogAndFailProcessingExceptionHandler") == 0 ||
        strcmp(last, "DefaultProductionExceptionHandler") == 0)
        return EDDY_OK;
    if (strcasecmp(last, "logAndContinue") == 0 ||
        strcmp(last, "LogAndContinueExceptionHandler") == 0 ||
        strcmp(last, "LogAndContinueProcessingExceptionHandler") == 0 ||
        strcmp(last, "LogAndContinueProductionExceptionHandler") == 0) {
        *continue_out = true;
        return EDDY_OK;
    }
    return eddy__fail(EDDY_ERR_CONFIG, "config %s: '%s' is not one of logAndFail, logAndContinue",
                      key, value);
}

/* default.timestamp.extractor: a built-in extractor by Kafka's class name (short or full). */
static eddy_err read_timestamp_extractor(const eddy_config *config, eddy__streams_config *out)
{
    static const struct {
        const char *name;
        eddy__timestamp_mode mode;
    } extractors[] = {
        {"FailOnInvalidTimestamp", EDDY__TIMESTAMP_FAIL_ON_INVALID},
        {"LogAndSkipOnInvalidTimestamp", EDDY__TIMESTAMP_SKIP_ON_INVALID},
        {"UsePartitionTimeOnInvalidTimestamp", EDDY__TIMESTAMP_PARTITION_TIME},
        {"WallclockTimestampExtractor", EDDY__TIMESTAMP_WALL_CLOCK},
    };
    const char *value = config ? eddy_config_get(config, "default.timestamp.extractor") : NULL;
    out->timestamp_mode = EDDY__TIMESTAMP_FAIL_ON_INVALID;
    if (!value)
        return EDDY_OK;
    const char *last = strrchr(value, '.');
    last = last ? last + 1 : value;
    for (size_t i = 0; i < sizeof extractors / sizeof extractors[0]; i++) {
        if (strcmp(last, extractors[i].name) == 0) {
            out->timestamp_mode = extractors[i].mode;
            return EDDY_OK;
        }
    }
    return eddy__fail(EDDY_ERR_CONFIG,
                      "config default.timestamp.extractor: '%s' is not one of "
                      "FailOnInvalidTimestamp, LogAndSkipOnInvalidTimestamp, "
                      "UsePartitionTimeOnInvalidTimestamp, WallclockTimestampExtractor (a custom "
                      "extractor is set in code: eddy_builder_set_timestamp_extractor)",
                      value);
}

static eddy_err read_choices(const eddy_config *config, eddy__streams_config *out)
{
    const char *guarantee = config ? eddy_config_get(config, "processing.guarantee") : NULL;
    if (guarantee && strcmp(guarantee, "at_least_once") != 0)
        return eddy__fail(EDDY_ERR_CONFIG,
                          "config processing.guarantee: '%s' is not supported (this eddy runs "
                          "at_least_once only)",
                          guarantee);
    const char *store = config ? eddy_config_get(config, "default.dsl.store") : NULL;
    out->default_store = EDDY_STORE_ROCKSDB;
    if (store && strcasecmp(store, "in_memory") == 0)
        out->default_store = EDDY_STORE_MEMORY;
    else if (store && strcasecmp(store, "rocksDB") != 0)
        return eddy__fail(EDDY_ERR_CONFIG,
                          "config default.dsl.store: '%s' is not one of rocksDB, "
                          "in_memory",
                          store);
    bool deser_continue = false;
    eddy_err err =
        read_handler(config, "default.deserialization.exception.handler", &deser_continue);
    if (err == EDDY_OK)
        err = read_handler(config, "processing.exception.handler", &out->processing_continue);
    if (err == EDDY_OK)
        err =
            read_handler(config, "default.production.exception.handler", &out->production_continue);
    if (err != EDDY_OK)
        return err;
    out->deser_handler = deser_continue ? EDDY__DESER_CONTINUE : EDDY__DESER_FAIL;
    const char *dlq =
        config ? eddy_config_get(config, "errors.dead.letter.queue.topic.name") : NULL;
    if (dlq && *dlq) {
        if (strlen(dlq) >= sizeof out->dlq_topic)
            return eddy__fail(EDDY_ERR_CONFIG,
                              "config errors.dead.letter.queue.topic.name: too long");
        snprintf(out->dlq_topic, sizeof out->dlq_topic, "%s", dlq);
        out->deser_handler = EDDY__DESER_DLQ;
    }
    return EDDY_OK;
}

static eddy_err read_numbers(const eddy_config *config, eddy__streams_config *out)
{
    int64_t threads = 1, cache = 10485760, commit = 30000, poll = 100, idle = 0, standbys = 0;
    eddy_config *empty = NULL;
    const eddy_config *c = config;
    if (!c) {
        empty = eddy_config_new();
        if (!empty)
            return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory reading the configuration");
        c = empty;
    }
    /* Kafka's older name for the cache size is accepted when the new one is unset. */
    const char *cache_key = eddy_config_get(c, "statestore.cache.max.bytes") ||
                                    !eddy_config_get(c, "cache.max.bytes.buffering")
                                ? "statestore.cache.max.bytes"
                                : "cache.max.bytes.buffering";
    eddy_err err = eddy_config_get_i64(c, "num.stream.threads", 1, 1, 64, &threads);
    if (err == EDDY_OK)
        err = eddy_config_get_i64(c, cache_key, 10485760, 0, INT64_MAX / 2, &cache);
    if (err == EDDY_OK)
        err = eddy_config_get_i64(c, "commit.interval.ms", 30000, 0, INT64_MAX / 2, &commit);
    if (err == EDDY_OK)
        err = eddy_config_get_i64(c, "poll.ms", 100, 0, 60000, &poll);
    if (err == EDDY_OK)
        err = eddy_config_get_i64(c, "max.task.idle.ms", 0, -1, 86400000, &idle);
    if (err == EDDY_OK)
        err = eddy_config_get_i64(c, "num.standby.replicas", 0, 0, 100, &standbys);
    eddy_config_destroy(empty);
    out->num_stream_threads = (int32_t)threads;
    out->cache_max_bytes = cache;
    out->commit_interval_ms = commit;
    out->poll_ms = poll;
    out->max_task_idle_ms = idle;
    out->num_standby_replicas = (int32_t)standbys;
    return err;
}

eddy_err eddy__streams_config_parse(const eddy_config *config, const char *default_application_id,
                                    eddy__streams_config *out)
{
    memset(out, 0, sizeof *out);
    size_t count = config ? eddy_config_count(config) : 0;
    for (size_t i = 0; i < count; i++) {
        const char *key, *value;
        eddy_config_at(config, i, &key, &value);
        if (key_known(key))
            continue;
        /* librdkafka's properties (security.protocol, ssl.*, sasl.*, ...) pass through to the
         * Kafka backend, which checks their values the way librdkafka does. */
        eddy_err err = eddy__client_config_check(key, value);
        if (err == EDDY_ERR_CONFIG)
            return err;
        if (err != EDDY_OK)
            return eddy__fail(EDDY_ERR_CONFIG,
                              "config: unknown key '%s' (docs/configuration.md "
                              "lists the keys; librdkafka's properties pass through)",
                              key);
    }
    const char *id = config ? eddy_config_get(config, "application.id") : NULL;
    if (!id)
        id = default_application_id;
    if (!id)
        return eddy__fail(EDDY_ERR_CONFIG, "config application.id: required (the name of the "
                                           "application: its consumer group and the prefix of "
                                           "its internal topics)");
    size_t len = strlen(id);
    if (len == 0 || len > 200 ||
        strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "0123456789._-") != len)
        return eddy__fail(EDDY_ERR_CONFIG,
                          "config application.id: '%s' must be 1-200 characters of "
                          "[a-zA-Z0-9._-]",
                          id);
    snprintf(out->application_id, sizeof out->application_id, "%s", id);
    const char *dir = config ? eddy_config_get(config, "state.dir") : NULL;
    if (dir && (!*dir || strlen(dir) >= sizeof out->state_dir - 300))
        return eddy__fail(EDDY_ERR_CONFIG, "config state.dir: '%s' is not a usable directory path",
                          dir);
    snprintf(out->state_dir, sizeof out->state_dir, "%s", dir ? dir : "eddy-state");
    eddy_err err = read_numbers(config, out);
    if (err == EDDY_OK)
        err = read_choices(config, out);
    if (err == EDDY_OK)
        err = read_timestamp_extractor(config, out);
    if (err == EDDY_OK)
        err = read_serde(config, "default.key.serde", &out->default_key_serde);
    if (err == EDDY_OK)
        err = read_serde(config, "default.value.serde", &out->default_value_serde);
    return err;
}
