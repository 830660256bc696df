/* The runtime's configuration (Kafka Streams' property names), shared by the application
 * (app.c) and the test driver (driver.c). docs/configuration.md lists every key. */
#ifndef EDDY_RUNTIME_RUNTIME_H
#define EDDY_RUNTIME_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "eddy/config.h"
#include "eddy/streams.h"
#include "runtime/task.h"

#define EDDY__PATH_MAX 4096

typedef struct eddy__streams_config {
    char application_id[250];
    int64_t commit_interval_ms;     /* commit.interval.ms (30000; 100 for exactly_once_v2) */
    int32_t num_stream_threads;     /* num.stream.threads (1) */
    char state_dir[EDDY__PATH_MAX]; /* state.dir (./eddy-state) */
    int64_t cache_max_bytes;        /* statestore.cache.max.bytes (10485760) */
    eddy__deser_handler deser_handler;
    char dlq_topic[250];                   /* errors.dead.letter.queue.topic.name */
    bool processing_continue;              /* processing.exception.handler */
    bool production_continue;              /* default.production.exception.handler */
    const eddy_serde *default_key_serde;   /* default.key.serde (bytes) */
    const eddy_serde *default_value_serde; /* default.value.serde (bytes) */
    eddy_store_kind default_store;         /* default.dsl.store (rocksDB) */
    int64_t poll_ms;                       /* poll.ms (100) */
    int64_t max_task_idle_ms;              /* max.task.idle.ms (0; -1: never wait) */
    int32_t num_standby_replicas;          /* num.standby.replicas (0) */
    eddy__timestamp_mode timestamp_mode;   /* default.timestamp.extractor */
} eddy__streams_config;

/* Reads and checks `config` (NULL: defaults). `default_application_id` is used when
 * application.id is unset (NULL: it is required). Every key must be known: a Kafka Streams key,
 * a client, topic or RocksDB key eddy knows, or one with a consumer./producer./main.consumer./
 * restore.consumer./global.consumer./topic./admin. prefix. EDDY_ERR_CONFIG naming the key
 * otherwise. */
eddy_err eddy__streams_config_parse(const eddy_config *config, const char *default_application_id,
                                    eddy__streams_config *out);

#endif
