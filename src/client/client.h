/* The client seam: admin, producer and consumer, the same for every log eddy runs on.
 *
 * The runtime reaches a log only through this header. A client is made from configuration:
 * `bootstrap.servers` set means Apache Kafka (through librdkafka, src/kafka/), otherwise the
 * embedded log in `log.dir` (default ./eddy-data). Everything below behaves the same on both
 * backends; where a backend cannot help differing, the difference is written at the function.
 * docs/client.md maps each call onto the embedded log and onto librdkafka.
 *
 * Threads: a client's admin calls may be made from several threads at once. A producer or a
 * consumer is used by one thread at a time; its callbacks run on that thread, from inside its
 * own calls (producer: poll and flush; consumer: poll, unsubscribe and close), never from a
 * thread of eddy's. Nothing here starts a thread on the embedded log (librdkafka runs threads of
 * its own, which never call back into eddy's callbacks).
 *
 * Errors: every fallible call returns an ::eddy_err and leaves a message naming the topic and
 * partition (and the configuration key and value) in eddy_last_error(). */
#ifndef EDDY_CLIENT_CLIENT_H
#define EDDY_CLIENT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "eddy/common.h"
#include "eddy/config.h"
#include "eddy/log.h" /* eddy_record, eddy_header, eddy_topic_partition, EDDY_OFFSET_* */

typedef struct eddy__client eddy__client;
typedef struct eddy__producer eddy__producer;
typedef struct eddy__consumer eddy__consumer;

/* Offsets, as librdkafka numbers them: EDDY_OFFSET_BEGINNING (-2), EDDY_OFFSET_END (-1) and
 * EDDY_OFFSET_STORED (-1000, the group's committed offset) come from eddy/log.h. INVALID says
 * "no offset": nothing committed, or (for assign) "keep the partition's current position". */
#define EDDY__OFFSET_INVALID (-1001)

/* A partition and an offset: the next offset to read, for commits, and the start offset, for
 * manual assignment. The topic string is borrowed for the duration of the call. */
typedef struct eddy__topic_partition_offset {
    const char *topic;
    int32_t partition;
    int64_t offset;
} eddy__topic_partition_offset;

/* ---------------------------------------------------------------------------------------- */
/* Client                                                                                   */

/* A client for the log that `config` names (NULL: all defaults): with `bootstrap.servers` set,
 * Kafka, whose librdkafka properties in `config` (security.protocol, ssl.*, sasl.*, ...) apply
 * to every producer, consumer and admin request of the client, and whose `replication.factor`
 * (default -1: the broker's) applies to the topics it creates (no connection is made yet);
 * otherwise the embedded log in `log.dir` (default ./eddy-data), created when missing. The
 * configuration is read at once and not kept.
 * Returns EDDY_OK; EDDY_ERR_CONFIG (naming the key, with librdkafka's reason); errors of
 * eddy_log_open(). */
eddy_err eddy__client_new(const eddy_config *config, eddy__client **out);

/* Whether a backend reads configuration key `key` beyond the seam's own keys (librdkafka's
 * properties, which pass through to the Kafka backend), for code that refuses unknown keys.
 * Returns EDDY_OK when a backend reads it and takes `value`; EDDY_ERR_CONFIG naming key and
 * value when it refuses the value; EDDY_ERR_NOT_FOUND when no backend reads the key. */
eddy_err eddy__client_config_check(const char *key, const char *value);

/* Frees the client. Producers and consumers made from it must be destroyed first. NULL is a
 * no-op. */
void eddy__client_destroy(eddy__client *client);

/* The backend's name: "embedded" or "kafka"; a static string. */
const char *eddy__client_backend(const eddy__client *client);

/* ---------------------------------------------------------------------------------------- */
/* Admin                                                                                    */

/* Flags for eddy__client_topic_create(). */
enum {
    /* An existing topic with the requested partition count is success; with another count it
     * is EDDY_ERR_EXISTS naming both counts (Kafka Streams' check of its internal topics). */
    EDDY__TOPIC_IF_NOT_EXISTS = 1 << 0,
};

/* Creates `topic` with `partitions` partitions and a topic configuration (NULL: the log's
 * defaults; keys as Kafka's: cleanup.policy, retention.ms, segment.bytes, ...). On Kafka the
 * replication factor is the client configuration's `replication.factor` (default -1: the
 * broker's default), as in Kafka Streams.
 * Returns EDDY_OK; EDDY_ERR_EXISTS; EDDY_ERR_INVALID_ARGUMENT for a bad name or count;
 * EDDY_ERR_CONFIG for a bad topic configuration. */
eddy_err eddy__client_topic_create(eddy__client *client, const char *topic, int32_t partitions,
                                   const eddy_config *topic_config, int flags);

/* Deletes a topic and its data. EDDY_ERR_UNKNOWN_TOPIC when it does not exist. */
eddy_err eddy__client_topic_delete(eddy__client *client, const char *topic);

/* The topic's partition count. EDDY_ERR_UNKNOWN_TOPIC when it does not exist. */
eddy_err eddy__client_topic_partitions(eddy__client *client, const char *topic,
                                       int32_t *partitions);

/* The topics, in name order: an array of `count` strings the caller frees with
 * eddy__client_names_free(). */
eddy_err eddy__client_topic_list(eddy__client *client, char ***names, size_t *count);
void eddy__client_names_free(char **names, size_t count);

/* A partition's watermarks: `low` is the first offset still held (log start), `high` the offset
 * the next record gets (log end; Kafka's high watermark). Either pointer may be NULL.
 * Returns EDDY_OK; EDDY_ERR_UNKNOWN_TOPIC; EDDY_ERR_UNKNOWN_PARTITION. */
eddy_err eddy__client_watermarks(eddy__client *client, const char *topic, int32_t partition,
                                 int64_t *low, int64_t *high);

/* ---------------------------------------------------------------------------------------- */
/* Producer                                                                                 */

/* The outcome of one record: where it landed, or why it did not. Valid during the callback. */
typedef struct eddy__delivery {
    const char *topic;
    int32_t partition;   /* the partition chosen (also on failure, when one was chosen) */
    int64_t offset;      /* the record's offset; -1 on failure */
    eddy_err err;        /* EDDY_OK, or why the record was not written (eddy_last_error() says
                          * more during the callback) */
    void *record_opaque; /* as given to eddy__producer_send() */
} eddy__delivery;

/* Called once for every record eddy__producer_send() accepted, in send order per partition,
 * from inside eddy__producer_poll() or eddy__producer_flush(). It may send more records; it
 * must not poll, flush or destroy the producer. */
typedef void (*eddy__delivery_cb)(eddy__producer *producer, const eddy__delivery *delivery,
                                  void *opaque);

/* A producer. `cb` (may be NULL) receives every record's delivery report, with `opaque`.
 * Configuration (NULL: defaults, librdkafka's), each key checked here with a message naming key
 * and value:
 *   acks                          all | -1 | 1 | 0 (default all). all: a record is reported
 *                                 once it is durable (fdatasync on the embedded log, all in-sync
 *                                 replicas on Kafka). 1 and 0: once written; on the embedded log
 *                                 0 behaves as 1 and still reports offsets.
 *   linger.ms                     0..900000 (default 5, librdkafka's and Kafka 4.0's default;
 *                                 Kafka Streams sets 100): how long a partition's batch may wait
 *                                 to fill before it is written.
 *   batch.size                    bytes, 1..16776192 (default 1000000, librdkafka's; the Java
 *                                 producer's is 16384): a partition's batch is written when the
 *                                 next record would take it past this size (a larger record goes
 *                                 alone). With acks=all each embedded batch waits for one
 *                                 fdatasync, so small batches cost throughput.
 *   queue.buffering.max.messages  1..10000000 (default 100000, librdkafka's): records sent and
 *                                 not yet reported; beyond it send is refused (EDDY_ERR_BUSY)
 *                                 until poll serves reports.
 * Returns EDDY_OK; EDDY_ERR_CONFIG; EDDY_ERR_NO_MEMORY. */
eddy_err eddy__producer_new(eddy__client *client, const eddy_config *config, eddy__delivery_cb cb,
                            void *opaque, eddy__producer **out);

/* Sends one record to `topic`: the record's key, value, headers and timestamp_ms (< 0: now)
 * are copied before this returns (its other fields are ignored), and `record_opaque` comes back
 * in its delivery report.
 * `partition` -1 chooses one: murmur2 of the key modulo the partition count, as Kafka's Java
 * default partitioner and librdkafka's murmur2_random do; a null key sticks to one partition
 * until that partition's batch is written, then moves to the next (round robin): the Java
 * producer's sticky partitioning, with round robin instead of a random pick.
 * On the embedded log the record is buffered per partition and written as part of one batch
 * when the batch is full (batch.size), or once linger.ms has passed, which is checked by send,
 * poll and flush: a producer nobody calls does not write (Kafka's backend writes from
 * librdkafka's threads). Records to one partition keep their send order.
 * Returns EDDY_OK (the record will be reported); EDDY_ERR_UNKNOWN_TOPIC; EDDY_ERR_UNKNOWN_
 * PARTITION; EDDY_ERR_TOO_LARGE when the record cannot fit a batch; EDDY_ERR_BUSY when
 * queue.buffering.max.messages records await reports; EDDY_ERR_INVALID_ARGUMENT. A refused
 * record is not reported. Kafka may also report an unknown topic later, through the callback. */
eddy_err eddy__producer_send(eddy__producer *producer, const char *topic, int32_t partition,
                             const eddy_record *record, void *record_opaque);

/* Writes the batches whose linger.ms has passed and calls the delivery callback for every
 * record reported since the last poll. When there is nothing to report yet but records are
 * buffered, waits up to `timeout_ms` (0: not at all, -1: as long as needed) for the next batch
 * to come due. Returns the number of reports served (>= 0), or EDDY_ERR_STATE when called from
 * a delivery callback. */
int eddy__producer_poll(eddy__producer *producer, int timeout_ms);

/* Writes every buffered record and serves every delivery report. Returns EDDY_OK when every
 * record reported since the previous flush was written; otherwise the first failure among them
 * (its message in eddy_last_error()); EDDY_ERR_TIMED_OUT when records remain unreported after
 * `timeout_ms` (-1: no limit; the embedded log's writes are synchronous, so it never times out);
 * EDDY_ERR_STATE when called from a delivery callback. */
eddy_err eddy__producer_flush(eddy__producer *producer, int timeout_ms);

/* Records sent and not yet reported (buffered, or written and awaiting poll): librdkafka's
 * rd_kafka_outq_len. */
size_t eddy__producer_outstanding(const eddy__producer *producer);

/* Frees the producer. Records not yet written are dropped unreported (with a warning naming
 * how many): flush first to keep them. NULL is a no-op. */
void eddy__producer_destroy(eddy__producer *producer);

/* ---------------------------------------------------------------------------------------- */
/* Consumer                                                                                 */

typedef enum eddy__rebalance_event {
    /* These partitions are now this consumer's, at their committed offsets (else per
     * auto.offset.reset); the callback may seek or pause them. */
    EDDY__REBALANCE_ASSIGN = 1,
    /* These partitions are being taken away. They stay this consumer's until the callback
     * returns: commit their offsets from the callback. */
    EDDY__REBALANCE_REVOKE = 2,
    /* These partitions were already taken away (Kafka: the session expired): do not commit.
     * The embedded log never loses partitions this way: a member is only ever dropped when its
     * process died. */
    EDDY__REBALANCE_LOST = 3,
} eddy__rebalance_event;

/* Called on group changes, from inside eddy__consumer_poll() (and unsubscribe and close). The
 * lists are incremental: ASSIGN adds partitions to the assignment, REVOKE and LOST remove them.
 * The array and its strings are valid during the call. The callback may commit, seek, pause,
 * resume and ask for positions; it must not poll, subscribe, assign or close. */
typedef void (*eddy__rebalance_cb)(eddy__consumer *consumer, eddy__rebalance_event event,
                                   const eddy_topic_partition *partitions, size_t count,
                                   void *opaque);

/* A consumer. With a `group_id` it can subscribe as a member of that group and commit offsets;
 * without one (NULL) it can only be assigned partitions by hand (restoration consumers).
 * Configuration (NULL: defaults):
 *   auto.offset.reset        earliest | latest | none (default latest, Kafka's; Kafka Streams
 *                            sets earliest): where a partition without a committed offset, or
 *                            whose position is out of range, starts; none makes that an error.
 *   enable.auto.commit       true | false (default false here, unlike Kafka: the runtime commits
 *                            itself): commit positions every auto.commit.interval.ms, before
 *                            revoking partitions, and on close.
 *   auto.commit.interval.ms  0..86400000 (default 5000).
 * Returns EDDY_OK; EDDY_ERR_CONFIG; EDDY_ERR_INVALID_ARGUMENT for a bad group id. */
eddy_err eddy__consumer_new(eddy__client *client, const char *group_id, const eddy_config *config,
                            eddy__consumer **out);

/* Joins the group for `topics` (1..64 topics; calling again replaces the subscription).
 * Partitions are spread over the members with the range strategy (co-partitioned topics give
 * one member the same partition numbers); rebalances run inside eddy__consumer_poll() and call
 * `cb`. Returns EDDY_OK; EDDY_ERR_UNKNOWN_TOPIC (embedded; Kafka reports unknown topics later);
 * EDDY_ERR_STATE without a group id or with a manual assignment. */
eddy_err eddy__consumer_subscribe(eddy__consumer *consumer, const char *const *topics, size_t count,
                                  eddy__rebalance_cb cb, void *opaque);

/* Leaves the group: REVOKE for every assigned partition (auto-committing first when enabled).
 * The consumer may then subscribe again or be assigned partitions. */
eddy_err eddy__consumer_unsubscribe(eddy__consumer *consumer);

/* Replaces the manual assignment with `count` partitions (0: none), each starting at its
 * offset: an offset >= 0, EDDY_OFFSET_BEGINNING, EDDY_OFFSET_END, EDDY_OFFSET_STORED (the
 * group's committed offset, else auto.offset.reset), or EDDY__OFFSET_INVALID (keep the position
 * of a partition already assigned; a new one as STORED). Partitions kept stay paused if paused.
 * Returns EDDY_OK; EDDY_ERR_UNKNOWN_TOPIC; EDDY_ERR_UNKNOWN_PARTITION; EDDY_ERR_INVALID_ARGUMENT
 * for a bad offset or a partition listed twice (nothing changes then); EDDY_ERR_STATE when
 * subscribed. */
eddy_err eddy__consumer_assign(eddy__consumer *consumer,
                               const eddy__topic_partition_offset *partitions, size_t count);

/* eddy__consumer_assign(consumer, NULL, 0). */
eddy_err eddy__consumer_unassign(eddy__consumer *consumer);

/* The current assignment (subscribed or manual): an array valid until the next call of this
 * function or the next change of the assignment (a poll, assign, unsubscribe or close). */
eddy_err eddy__consumer_assignment(eddy__consumer *consumer,
                                   const eddy_topic_partition **partitions, size_t *count);

/* The next record from any assigned partition that is not paused, waiting up to `timeout_ms`
 * (0: not at all; -1: no limit). Runs the group protocol (rebalance callbacks are called from
 * here). `record` is filled as eddy_record documents; its pointers are valid until the next
 * poll, seek, assign, close or destroy of this consumer (a seek or reassignment may release
 * the memory behind them). Each call advances the record's partition's position
 * to its offset + 1.
 * Returns EDDY_OK; EDDY_ERR_TIMED_OUT when nothing came; EDDY_ERR_OFFSET_OUT_OF_RANGE
 * (auto.offset.reset=none) and EDDY_ERR_CORRUPT naming topic and partition; EDDY_ERR_STATE from
 * a rebalance callback or after close. */
eddy_err eddy__consumer_poll(eddy__consumer *consumer, int timeout_ms, eddy_record *record);

/* Moves an assigned partition's position to `offset` (>= 0, EDDY_OFFSET_BEGINNING or
 * EDDY_OFFSET_END): the next record polled from it is the one at that offset (or the next one
 * after it). Positions past the end or before the start are handled by auto.offset.reset at the
 * next read. Returns EDDY_OK; EDDY_ERR_STATE when the partition is not assigned;
 * EDDY_ERR_INVALID_ARGUMENT. */
eddy_err eddy__consumer_seek(eddy__consumer *consumer, const char *topic, int32_t partition,
                             int64_t offset);

/* An assigned partition's position: the offset of the next record poll will return from it.
 * EDDY__OFFSET_INVALID while unknown (auto.offset.reset=none without a committed offset).
 * Returns EDDY_OK; EDDY_ERR_STATE when the partition is not assigned. */
eddy_err eddy__consumer_position(eddy__consumer *consumer, const char *topic, int32_t partition,
                                 int64_t *offset);

/* How many records of an assigned partition are known to be there and not yet returned by poll:
 * the partition's end offset as last seen, minus its position, without a request to the log
 * (for the runtime's choice between waiting for an input and processing what it has, Kafka
 * Streams' max.task.idle.ms). *lag is >= 0, or -1 while it is not known (Kafka: before the
 * first fetch response for the partition, or before its start position is known).
 * Returns EDDY_OK; EDDY_ERR_STATE when the partition is not assigned. */
eddy_err eddy__consumer_lag(eddy__consumer *consumer, const char *topic, int32_t partition,
                            int64_t *lag);

/* The consumer's member id in its group, into buf (NUL-terminated; truncated to size - 1): the
 * id the group's assignor sorts members by. "" while it is not a member (before its first
 * assignment, after unsubscribe, or in manual mode). Returns EDDY_OK; EDDY_ERR_STATE when the
 * consumer is closed. */
eddy_err eddy__consumer_member_id(eddy__consumer *consumer, char *buf, size_t size);

/* Stops (pause) and restarts (resume) reading assigned partitions: from the next poll on a
 * paused partition returns no records, and keeps its position; the group keeps it assigned.
 * Pausing a paused partition or resuming a running one does nothing. Returns EDDY_OK;
 * EDDY_ERR_STATE naming the first partition that is not assigned (nothing changes then). */
eddy_err eddy__consumer_pause(eddy__consumer *consumer, const eddy_topic_partition *partitions,
                              size_t count);
eddy_err eddy__consumer_resume(eddy__consumer *consumer, const eddy_topic_partition *partitions,
                               size_t count);

/* Commits offsets to the group, synchronously and durably, all in one write: each offset is
 * the next offset to read (the position after the last record processed). `offsets` NULL (and
 * count 0) commits the current position of every assigned partition. A subscribed member only
 * commits partitions assigned to it (EDDY_ERR_STATE otherwise, so that a late commit cannot move
 * another member's offsets). Returns EDDY_OK; EDDY_ERR_STATE without a group id;
 * EDDY_ERR_INVALID_ARGUMENT for an offset < 0; EDDY_ERR_IO and kin when the write failed. */
eddy_err eddy__consumer_commit(eddy__consumer *consumer,
                               const eddy__topic_partition_offset *offsets, size_t count);

/* The group's committed offset for a partition (any partition, assigned or not), or
 * EDDY__OFFSET_INVALID when none was committed. EDDY_ERR_STATE without a group id. */
eddy_err eddy__consumer_committed(eddy__consumer *consumer, const char *topic, int32_t partition,
                                  int64_t *offset);

/* Leaves the group (REVOKE callbacks, auto-commit when enabled) and releases the partitions;
 * the consumer then only accepts destroy. Returns the first error met, having done all it
 * could. */
eddy_err eddy__consumer_close(eddy__consumer *consumer);

/* Closes (when not closed yet) and frees the consumer. NULL is a no-op. */
void eddy__consumer_destroy(eddy__consumer *consumer);

#endif
