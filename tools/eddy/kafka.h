/*
 * The eddy command line against Kafka: what kafka.c, kafka_produce.c and kafka_consume.c share.
 *
 * With --brokers, -X bootstrap.servers=... or $EDDY_BROKERS (cli_global.kafka), each command
 * talks to Kafka through librdkafka directly, as kcat does, instead of opening the embedded
 * log. The commands parse and check their flags exactly as for the embedded log (the same
 * functions), then call the cli_kafka_* function below, which prints the same tables and
 * record formats.
 *
 * Every call that waits on the brokers is bounded by --timeout-ms (cli_global.timeout_ms); a
 * timeout is one error line naming the bootstrap address and the last error librdkafka
 * reported. librdkafka's own log lines are dropped unless --verbose, so a failure prints one
 * line.
 *
 * Two facts of librdkafka's mock cluster (`eddy dev kafka`, see ../shared/notes/kafka-mock.md)
 * shape this code: it creates any topic a Metadata request names (so topics are only ever
 * looked up in a Metadata request for all topics), and it answers no Admin API (so topic
 * create falls back to the development cluster's control channel, and the other admin calls
 * say plainly that the broker did not answer).
 */
#ifndef EDDY_CLI_KAFKA_H
#define EDDY_CLI_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "cli.h"

/** A librdkafka handle and what error messages say about it. */
typedef struct cli_kafka {
    rd_kafka_t *handle;
    char bootstrap[512]; /**< bootstrap.servers as configured, for messages */
    int timeout_ms;      /**< --timeout-ms */
} cli_kafka;

/**
 * Builds a client configuration: client.id, then the @p defaults pairs (a NULL-terminated
 * list "key", "value", ...; may be NULL: eddy's defaults for this client, e.g. acks=all), then
 * --brokers / $EDDY_BROKERS, then every -X property in order, so that -X overrides eddy's
 * defaults. librdkafka's log lines go to stderr with --verbose only.
 * @return CLI_EXIT_OK and the configuration in @p out (owned by the caller until
 *         cli_kafka_open() takes it); CLI_EXIT_USAGE after one error line quoting librdkafka's
 *         message for a property it refuses.
 */
int cli_kafka_conf(const cli_global *global, const char *const *defaults, rd_kafka_conf_t **out);

/** Sets one property on @p conf; a refused one prints librdkafka's message naming
 *  @p key and @p value, and returns CLI_EXIT_USAGE. */
int cli_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value);

/**
 * Creates the client from @p conf, which it takes whether it succeeds or not.
 * @return CLI_EXIT_OK; CLI_EXIT_USAGE when librdkafka refuses the configuration as a whole.
 */
int cli_kafka_open(const cli_global *global, rd_kafka_type_t type, rd_kafka_conf_t *conf,
                   cli_kafka *out);

/** Opens a client for metadata and admin requests: no defaults, the -X properties only. */
int cli_kafka_open_admin(const cli_global *global, cli_kafka *out);

/** Destroys the client without a consumer close (the consumer closes it first when it joined
 *  a group). A zeroed @p kafka is a no-op. */
void cli_kafka_close(cli_kafka *kafka);

/** Prints "no answer from the brokers at ... within N ms while WHAT" with librdkafka's last
 *  error, and returns CLI_EXIT_RUNTIME. */
int cli_kafka_timeout_error(cli_kafka *kafka, const char *what);

/** Prints one line for a failed librdkafka call @p what, and returns CLI_EXIT_RUNTIME. */
int cli_kafka_error(cli_kafka *kafka, rd_kafka_resp_err_t err, const char *what);

/**
 * Fetches the metadata of every topic (never of named topics: the mock would create them).
 * @return CLI_EXIT_OK and @p out (free with rd_kafka_metadata_destroy()), or CLI_EXIT_RUNTIME
 *         after one error line.
 */
int cli_kafka_metadata(cli_kafka *kafka, const struct rd_kafka_metadata **out);

/** The topic named @p name in @p metadata, or NULL. */
const struct rd_kafka_metadata_topic *cli_kafka_find_topic(const struct rd_kafka_metadata *metadata,
                                                           const char *name);

/** Looks up @p topic's partition count in an all-topics Metadata request; an unknown topic is
 *  an error line naming the brokers. @return CLI_EXIT_OK or CLI_EXIT_RUNTIME. */
int cli_kafka_topic_partitions(cli_kafka *kafka, const char *topic, int32_t *partitions);

/** The low and high watermarks of one partition (ListOffsets), within the timeout. */
int cli_kafka_watermarks(cli_kafka *kafka, const char *topic, int32_t partition, int64_t *low,
                         int64_t *high);

/* The commands themselves are declared in cli.h, beside their embedded counterparts. */

#endif
