/* The Kafka backend of the client seam, over librdkafka: what its files (kafka.c: the client,
 * configuration and admin; producer.c; consumer.c) share. Nothing outside src/kafka/ includes
 * this header; client.c reaches the backend through eddy__kafka_client_new() (backend.h). */
#ifndef EDDY_KAFKA_KAFKA_H
#define EDDY_KAFKA_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>

#include "client/backend.h"

#define KAFKA_MODULE "kafka"

/* How long a metadata, watermark or committed-offset request may take. The seam's calls are
 * synchronous; a broker that does not answer within this is reported as EDDY_ERR_TIMED_OUT
 * rather than hanging the stream thread. */
#define KAFKA_REQUEST_TIMEOUT_MS 5000

/* How long an admin request (CreateTopics, DeleteTopics) may take. librdkafka's mock cluster
 * answers neither: it times out after this, so it is kept short. */
#define KAFKA_ADMIN_TIMEOUT_MS 5000

typedef struct kafka_client {
    eddy__client base;
    rd_kafka_conf_t *conf; /* the client configuration's librdkafka properties, for every handle */
    rd_kafka_t *admin;     /* a producer-type handle for admin and metadata requests */
    char *bootstrap;       /* bootstrap.servers, for messages and the dev cluster's channel */
    int32_t replication_factor; /* -1: the broker's default */
    /* Set once CreateTopics (DeleteTopics) went unanswered: later calls skip the wait. Admin
     * calls may come from several threads. */
    _Atomic int no_create_topics, no_delete_topics;
} kafka_client;

/* Applies the librdkafka properties among `config`'s keys to `conf` (eddy's and Kafka
 * Streams' own keys, and the seam's producer and consumer keys, are left out). `what` names
 * the caller in messages. EDDY_ERR_CONFIG naming key and value with librdkafka's reason. */
eddy_err eddy__kafka_conf_apply(rd_kafka_conf_t *conf, const eddy_config *config, const char *what);

/* Sets one property that eddy chooses itself; a failure is eddy's bug or a librdkafka that
 * lacks the property, reported as EDDY_ERR_CONFIG. */
eddy_err eddy__kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
                              const char *what);

/* A copy of the client's base configuration, with eddy's log and error callbacks. NULL when
 * out of memory (with a message). */
rd_kafka_conf_t *eddy__kafka_conf_dup(const kafka_client *client);

/* librdkafka's error callback for producers and consumers (served by their polls, so on the
 * caller's thread): librdkafka recovers from most errors itself, so they are logged; a fatal
 * error also fails the handle's next call. */
void eddy__kafka_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque);

/* librdkafka's error as eddy's, with a message "<context>: <librdkafka's reason>". */
eddy_err eddy__kafka_fail(rd_kafka_resp_err_t err, const char *context);

/* eddy's code for a librdkafka error. */
eddy_err eddy__kafka_err(rd_kafka_resp_err_t err);

/* Looks `topic` up in a metadata request for all topics (a request naming the topic would make
 * some brokers, and librdkafka's mock cluster always, create it). `partitions` receives its
 * partition count. EDDY_ERR_UNKNOWN_TOPIC when the cluster has no such topic. */
eddy_err eddy__kafka_topic_partitions(rd_kafka_t *rk, const char *topic, int32_t *partitions);

/* Checks that `topic` exists and has `partition`: UNKNOWN_TOPIC or UNKNOWN_PARTITION naming
 * both, prefixed by `what`. */
eddy_err eddy__kafka_partition_check(rd_kafka_t *rk, const char *what, const char *topic,
                                     int32_t partition);

/* Admin operations (admin.c), for the client's table: backend.h's eddy__client_ops. */
eddy_err eddy__kafka_topic_create(eddy__client *client, const char *topic, int32_t partitions,
                                  const eddy_config *topic_config);
eddy_err eddy__kafka_topic_delete(eddy__client *client, const char *topic);
eddy_err eddy__kafka_admin_partitions(eddy__client *client, const char *topic, int32_t *partitions);
eddy_err eddy__kafka_topic_list(eddy__client *client, char ***names, size_t *count);
eddy_err eddy__kafka_watermarks(eddy__client *client, const char *topic, int32_t partition,
                                int64_t *low, int64_t *high);

/* Producer and consumer constructors (producer.c, consumer.c), for the client's table. */
eddy_err eddy__kafka_producer_new(eddy__client *client, const eddy__producer_settings *settings,
                                  const eddy_config *config, eddy__producer **out);
eddy_err eddy__kafka_consumer_new(eddy__client *client, const char *group_id,
                                  const eddy__consumer_settings *settings,
                                  const eddy_config *config, eddy__consumer **out);

#endif
