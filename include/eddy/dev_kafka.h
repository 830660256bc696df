/**
 * @file dev_kafka.h
 * @brief A development Kafka cluster: librdkafka's in-memory mock cluster, run inside this
 *        process, with a control channel other processes can use to create topics and inject
 *        faults.
 *
 * **For development and tests only.** The cluster keeps everything in memory, and its data
 * dies with the process. It answers Produce, Fetch, Metadata, the consumer-group and offset
 * APIs and (API-only) the transaction APIs, but no Admin API (no CreateTopics, DeleteTopics
 * or configs), no compaction, no real transactional isolation, no de-duplication for
 * idempotent producers, no TLS/SASL; each partition keeps only its last ~5 MiB (or 100,000
 * batches), older data is dropped silently.
 *
 * Because it answers no CreateTopics, topics are created here: by
 * eddy_dev_kafka_create_topic() in the owning process, or from any process on the same
 * machine with eddy_dev_kafka_create_topic_at(), which asks the cluster through its control
 * channel (a Linux abstract-namespace unix socket named after the first broker's port).
 *
 * Beware: the mock also creates a topic, with 4 partitions, whenever a client's Metadata
 * request names a topic it does not know (whatever `allow.auto.create.topics` says). Such
 * topics are not known to this module: create topics before any client names them, and list
 * topics with a Metadata request for all topics.
 *
 * Life cycle: eddy_dev_kafka_start() → bootstrap address, topics, faults →
 * eddy_dev_kafka_stop(). The functions on an ::eddy_dev_kafka may be called from several
 * threads at once.
 */
#ifndef EDDY_DEV_KAFKA_H
#define EDDY_DEV_KAFKA_H

#include "eddy/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A running development cluster (opaque). */
typedef struct eddy_dev_kafka eddy_dev_kafka;

/** Most brokers a development cluster may have. */
#define EDDY_DEV_KAFKA_BROKERS_MAX 9

/** Most partitions eddy_dev_kafka_create_topic() gives one topic. */
#define EDDY_DEV_KAFKA_PARTITIONS_MAX 10000

/** Most topics one cluster's registry holds (bounds the `topics` reply). */
#define EDDY_DEV_KAFKA_TOPICS_MAX 1000

/** Longest control request line, in bytes, newline included. */
#define EDDY_DEV_KAFKA_LINE_MAX 4096

/** Longest control reply line, in bytes, newline included: the `topics` reply of
 *  ::EDDY_DEV_KAFKA_TOPICS_MAX topics of the longest names fits. */
#define EDDY_DEV_KAFKA_REPLY_MAX 262144

/**
 * Starts a mock cluster of @p brokers brokers (ids 1..brokers) listening on 127.0.0.1 at
 * ports the kernel chooses, and its control channel.
 * @param brokers 1 to ::EDDY_DEV_KAFKA_BROKERS_MAX.
 * @param out receives the cluster; stop it with eddy_dev_kafka_stop().
 * @return EDDY_OK; EDDY_ERR_INVALID_ARGUMENT for a bad @p brokers; EDDY_ERR_EXISTS when
 *         another process already serves a control channel for the same port (should not
 *         happen); EDDY_ERR_IO when librdkafka or the socket cannot be set up;
 *         EDDY_ERR_NO_MEMORY.
 */
EDDY_EXPORT eddy_err eddy_dev_kafka_start(int brokers, eddy_dev_kafka **out);

/**
 * Receives a one-line description of each change made to the cluster, e.g. "created topic
 * 'orders' with 3 partitions" or "broker 2 down", whoever asked for it (a local call or the
 * control channel). Called on the thread that made the change, never while @p dk holds a lock,
 * so it may call functions of @p dk; @p message is valid during the call only.
 */
typedef void (*eddy_dev_kafka_event_fn)(const char *message, void *opaque);

/** Sets (or, with NULL, clears) the function that receives change descriptions. */
EDDY_EXPORT void eddy_dev_kafka_set_event_callback(eddy_dev_kafka *dk, eddy_dev_kafka_event_fn fn,
                                                   void *opaque);

/** Stops the control channel and the cluster, dropping all its data. NULL is a no-op.
 *  Clients still connected see their connections close. */
EDDY_EXPORT void eddy_dev_kafka_stop(eddy_dev_kafka *dk);

/** The bootstrap address, "127.0.0.1:PORT,127.0.0.1:PORT,..." (one entry per broker).
 *  Owned by @p dk; valid until eddy_dev_kafka_stop(). */
EDDY_EXPORT const char *eddy_dev_kafka_bootstrap(const eddy_dev_kafka *dk);

/**
 * Creates topic @p name with @p partitions partitions. Metadata reports a replication factor
 * of the broker count, at most 3 (the mock replicates nothing; each partition lives on its
 * leader).
 * @param name a Kafka topic name: 1 to 249 characters of [a-zA-Z0-9._-], not "." or "..".
 * @param partitions 1 to ::EDDY_DEV_KAFKA_PARTITIONS_MAX.
 * @return EDDY_OK; EDDY_ERR_EXISTS when @p name exists (created here, or auto-created by the
 *         mock when a client named it: then with 4 partitions, and not listed by `topics`);
 *         EDDY_ERR_INVALID_ARGUMENT for a bad name or count; EDDY_ERR_TOO_LARGE when the
 *         registry holds ::EDDY_DEV_KAFKA_TOPICS_MAX topics; EDDY_ERR_IO when the mock refuses;
 *         EDDY_ERR_NO_MEMORY.
 */
EDDY_EXPORT eddy_err eddy_dev_kafka_create_topic(eddy_dev_kafka *dk, const char *name,
                                                 int32_t partitions);

/**
 * Fault injection: takes broker @p broker_id down (its connections close and it accepts no
 * new ones) or brings it up again.
 * @return EDDY_OK; EDDY_ERR_INVALID_ARGUMENT when @p broker_id is not 1..brokers.
 */
EDDY_EXPORT eddy_err eddy_dev_kafka_broker_down(eddy_dev_kafka *dk, int32_t broker_id);
/** The reverse of eddy_dev_kafka_broker_down(); same errors. */
EDDY_EXPORT eddy_err eddy_dev_kafka_broker_up(eddy_dev_kafka *dk, int32_t broker_id);

/**
 * Fault injection: makes broker @p broker_id the leader of @p topic's partition @p partition
 * (clients learn it from their next Metadata request, after NOT_LEADER errors). A
 * @p broker_id of -1 leaves the partition without a leader. Only topics created through this
 * module qualify: the mock would silently create any other.
 * @return EDDY_OK; EDDY_ERR_INVALID_ARGUMENT for a bad broker id; EDDY_ERR_UNKNOWN_TOPIC when
 *         this module did not create @p topic; EDDY_ERR_UNKNOWN_PARTITION for a partition
 *         number outside the topic.
 */
EDDY_EXPORT eddy_err eddy_dev_kafka_set_leader(eddy_dev_kafka *dk, const char *topic,
                                               int32_t partition, int32_t broker_id);

/**
 * Fault injection: the next @p count requests with Kafka API key @p api_key (0 = Produce,
 * 1 = Fetch, 3 = Metadata, ...), on any broker, fail with Kafka error code @p error_code
 * (e.g. 6 = NOT_LEADER_FOR_PARTITION, 7 = REQUEST_TIMED_OUT; librdkafka's -195, a transport
 * error, closes the connection instead).
 * @param api_key 0 to 32767 (a key no client sends is accepted and never used).
 * @param count 1 to 1000.
 * @param error_code a Kafka error code (-1, or 1 up to the last code librdkafka knows) or a
 *        librdkafka internal code (-199..-101).
 * @return EDDY_OK; EDDY_ERR_INVALID_ARGUMENT for an out-of-range key, count or code;
 *         EDDY_ERR_NO_MEMORY.
 */
EDDY_EXPORT eddy_err eddy_dev_kafka_push_request_errors(eddy_dev_kafka *dk, int16_t api_key,
                                                        int count, int32_t error_code);

/**
 * Asks the development cluster whose bootstrap address is @p bootstrap (as printed by
 * `eddy dev kafka`: "HOST:PORT[,HOST:PORT...]"; only entries whose host is localhost or
 * 127.0.0.1 are tried, each by its port) to create topic @p topic with @p partitions
 * partitions. Another process may own the cluster. Meant for code that meets a broker which
 * answers no CreateTopics: if this returns EDDY_ERR_NOT_FOUND, it is not a dev cluster.
 * Blocks up to about 5 seconds.
 * @return EDDY_OK; EDDY_ERR_EXISTS when the cluster already created @p topic;
 *         EDDY_ERR_NOT_FOUND when no development cluster answers at any entry of
 *         @p bootstrap (no control channel there); EDDY_ERR_INVALID_ARGUMENT for a bad topic
 *         name, partition count or address (the cluster's reason is in eddy_last_error());
 *         EDDY_ERR_IO / EDDY_ERR_TIMED_OUT when the channel fails mid-request.
 */
EDDY_EXPORT eddy_err eddy_dev_kafka_create_topic_at(const char *bootstrap, const char *topic,
                                                    int32_t partitions);

/**
 * Sends one control request line @p line (without newline; see docs/cli.md, `eddy dev
 * kafka`, for the requests: `create-topic NAME PARTITIONS`, `topics`, `broker-down ID`,
 * `broker-up ID`, `leader TOPIC PARTITION ID`, `request-errors API_KEY COUNT ERROR_CODE`) to
 * the development cluster at @p bootstrap (ERROR_CODE may also be librdkafka's name for the
 * code, e.g. `NOT_LEADER_FOR_PARTITION` or `_TRANSPORT`), and copies its one reply line,
 * without newline, into @p reply (NUL-terminated, truncated to @p reply_cap - 1 bytes). The reply
 * is `ok`, `ok ...` (for `topics`: `ok NAME:PARTITIONS ...`), `exists` or `error MESSAGE`.
 * @return EDDY_OK when a reply arrived (whatever it says); EDDY_ERR_NOT_FOUND when no
 *         development cluster answers at @p bootstrap; EDDY_ERR_INVALID_ARGUMENT for an
 *         empty, over-long or multi-line @p line, a bad address or @p reply_cap == 0;
 *         EDDY_ERR_IO / EDDY_ERR_TIMED_OUT when the channel fails mid-request.
 */
EDDY_EXPORT eddy_err eddy_dev_kafka_request_at(const char *bootstrap, const char *line, char *reply,
                                               size_t reply_cap);

#ifdef __cplusplus
}
#endif
#endif
