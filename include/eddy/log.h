/**
 * @file log.h
 * @brief The embedded log: a durable, partitioned log in a local directory, shared by any
 *        number of processes on one machine, with Kafka's semantics.
 *
 * A data directory holds topics; a topic has N partitions; each partition is a sequence of
 * segment files holding Kafka RecordBatch v2 batches (docs/log-format.md). Any number of
 * processes may open the same directory and append to and read from the same partitions at
 * the same time.
 *
 * Life cycle: eddy_log_open() → topics, appends, readers, consumers → eddy_log_close().
 * One ::eddy_log handle may be used from several threads at once.
 */
#ifndef EDDY_LOG_H
#define EDDY_LOG_H

#include "eddy/common.h"
#include "eddy/config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eddy_log eddy_log;

/** Flags for eddy_log_open(). */
enum {
    EDDY_LOG_CREATE = 1 << 0, /**< create the data directory when it does not exist */
};

/** Acknowledgement levels for appends (as Kafka's producer `acks`). */
typedef enum eddy_acks {
    EDDY_ACKS_LEADER = 1, /**< acks=1: acknowledged once written to the page cache */
    EDDY_ACKS_ALL = -1,   /**< acks=all: acknowledged once an fdatasync covers the record */
} eddy_acks;

/** A record header: a key (Kafka: a UTF-8 string) and a value (data NULL = null value). */
typedef struct eddy_header {
    eddy_slice key;
    eddy_slice value;
} eddy_header;

/**
 * A record, as appended and as read. On append, eddy reads key, value, headers and timestamp_ms
 * (timestamp_ms < 0 means "now"); offset and partition are ignored. On read, every field is
 * filled; the pointers point into eddy's memory and are valid until the next read on the same
 * reader or consumer (or its destruction).
 */
typedef struct eddy_record {
    eddy_slice key;   /**< data == NULL: null key */
    eddy_slice value; /**< data == NULL: null value (a tombstone) */
    const eddy_header *headers;
    size_t header_count;
    int64_t timestamp_ms;
    int64_t offset;
    int32_t partition;
    const char *topic; /**< on read: the topic's name, valid as the record's other pointers */
} eddy_record;

/* ------------------------------------------------------------------------------------------ */
/* Data directory                                                                             */

/**
 * Opens the data directory @p dir (with ::EDDY_LOG_CREATE, creates it when missing).
 * @param out receives the handle; close it with eddy_log_close().
 * @return EDDY_OK; EDDY_ERR_NOT_FOUND when @p dir does not exist and CREATE was not given;
 *         EDDY_ERR_FORMAT_VERSION when the directory was written by a newer eddy (nothing is
 *         changed); EDDY_ERR_IO / EDDY_ERR_PERMISSION when it cannot be read or written.
 */
EDDY_EXPORT eddy_err eddy_log_open(const char *dir, int flags, eddy_log **out);

/** Closes the handle, its open partitions and files. Flushes nothing that was not appended.
 *  NULL is a no-op. Readers and consumers made from it must be destroyed first. */
EDDY_EXPORT void eddy_log_close(eddy_log *log);

/** The handle's directory path; valid until eddy_log_close(). */
EDDY_EXPORT const char *eddy_log_dir(const eddy_log *log);

/* ------------------------------------------------------------------------------------------ */
/* Topics                                                                                     */

/**
 * Creates a topic with @p partitions partitions (1..10000) and a topic configuration (may be
 * NULL). Known keys: cleanup.policy (delete | compact | compact,delete), retention.ms (-1 =
 * forever), retention.bytes (-1 = no limit), segment.bytes, segment.ms, delete.retention.ms,
 * index.interval.bytes, message.timestamp.type. The configuration is copied.
 * @return EDDY_OK; EDDY_ERR_EXISTS; EDDY_ERR_INVALID_ARGUMENT for a bad name (Kafka's rules:
 *         1-249 characters of [a-zA-Z0-9._-], not "." or "..") or partition count;
 *         EDDY_ERR_CONFIG naming a bad key or value.
 */
EDDY_EXPORT eddy_err eddy_log_topic_create(eddy_log *log, const char *topic, int32_t partitions,
                                           const eddy_config *config);

/** Deletes a topic and its data. Processes that have it open keep their open files until they
 *  close them. EDDY_ERR_UNKNOWN_TOPIC when it does not exist. */
EDDY_EXPORT eddy_err eddy_log_topic_delete(eddy_log *log, const char *topic);

/**
 * Lists the topics in name order.
 * @param names receives an array of @p count strings owned by the caller: free with
 *        eddy_log_names_free().
 */
EDDY_EXPORT eddy_err eddy_log_topic_list(eddy_log *log, char ***names, size_t *count);

/** Frees an array returned by eddy_log_topic_list() or eddy_log_group_list(). */
EDDY_EXPORT void eddy_log_names_free(char **names, size_t count);

/** The topic's partition count. EDDY_ERR_UNKNOWN_TOPIC when it does not exist. */
EDDY_EXPORT eddy_err eddy_log_topic_partitions(eddy_log *log, const char *topic,
                                               int32_t *partitions);

/** A copy of the topic's configuration (caller owns it: eddy_config_destroy()). Keys not set
 *  at creation are absent; their Kafka defaults apply. */
EDDY_EXPORT eddy_err eddy_log_topic_config(eddy_log *log, const char *topic, eddy_config **out);

/**
 * A partition's offsets and size: @p start_offset is the log start offset (first offset
 * still held), @p end_offset the log end offset (offset the next append gets); @p bytes the
 * total size of its segments and @p segments their number. Any pointer may be NULL.
 * @return EDDY_OK; EDDY_ERR_UNKNOWN_TOPIC; EDDY_ERR_UNKNOWN_PARTITION.
 */
EDDY_EXPORT eddy_err eddy_log_partition_info(eddy_log *log, const char *topic, int32_t partition,
                                             int64_t *start_offset, int64_t *end_offset,
                                             int64_t *bytes, int32_t *segments);

/** The partition Kafka's Java default partitioner picks for @p key (murmur2), for a topic with
 *  @p partitions partitions. A null key (data == NULL) gives -1: the caller picks. */
EDDY_EXPORT int32_t eddy_log_partition_for_key(eddy_slice key, int32_t partitions);

/* ------------------------------------------------------------------------------------------ */
/* Appending                                                                                  */

/**
 * Appends @p count records to one partition as one RecordBatch, atomically: readers see all of
 * them or none. Safe to call from several threads and processes at once; offsets are assigned
 * in append order.
 * @param partition the partition, or -1 to choose by the first record's key (murmur2, Kafka's
 *        default partitioner; a null key then picks partition 0 .. n-1 round robin).
 * @param acks EDDY_ACKS_LEADER returns once written; EDDY_ACKS_ALL once fdatasync covers it
 *        (concurrent appenders share syncs: group commit).
 * @param base_offset receives the first record's offset (the others follow); may be NULL.
 * @param partition_out receives the partition chosen; may be NULL.
 * @return EDDY_OK; EDDY_ERR_UNKNOWN_TOPIC; EDDY_ERR_UNKNOWN_PARTITION; EDDY_ERR_TOO_LARGE
 *         when the batch exceeds 16 MiB; EDDY_ERR_NO_SPACE when the disk is full (nothing of
 *         this batch is visible; earlier records are unaffected); EDDY_ERR_FATAL when an
 *         fdatasync failed: the partition is then unusable through this handle (reopen the log),
 *         because the kernel may have dropped the dirty pages it could not write.
 */
EDDY_EXPORT eddy_err eddy_log_append(eddy_log *log, const char *topic, int32_t partition,
                                     const eddy_record *records, size_t count, eddy_acks acks,
                                     int64_t *base_offset, int32_t *partition_out);

/* ------------------------------------------------------------------------------------------ */
/* Reading one partition                                                                      */

typedef struct eddy_log_reader eddy_log_reader;

/** Special start offsets for readers and consumers. */
#define EDDY_OFFSET_BEGINNING (-2)
#define EDDY_OFFSET_END (-1)

/**
 * A reader of one partition from @p offset (an offset, EDDY_OFFSET_BEGINNING or
 * EDDY_OFFSET_END). Readers see records appended by any process, without a syscall per
 * record. A reader is used by one thread at a time.
 * @return EDDY_OK; EDDY_ERR_UNKNOWN_TOPIC; EDDY_ERR_UNKNOWN_PARTITION;
 *         EDDY_ERR_OFFSET_OUT_OF_RANGE when @p offset is before the log start or after the end.
 */
EDDY_EXPORT eddy_err eddy_log_reader_new(eddy_log *log, const char *topic, int32_t partition,
                                         int64_t offset, eddy_log_reader **out);

/** Frees the reader; NULL is a no-op. */
EDDY_EXPORT void eddy_log_reader_destroy(eddy_log_reader *reader);

/**
 * The next record. Waits up to @p timeout_ms (0 = do not wait, -1 = forever) for one to be
 * appended when the reader is at the end; a waiting reader wakes within a millisecond of an
 * append by any process.
 * @param record filled as documented at ::eddy_record; valid until the next call.
 * @return EDDY_OK; EDDY_ERR_TIMED_OUT at the end of the partition; EDDY_ERR_CORRUPT when the
 *         next batch fails its CRC or does not parse (eddy_last_error() names the segment file
 *         and byte position; the reader stays at that batch); EDDY_ERR_OFFSET_OUT_OF_RANGE when
 *         retention deleted the reader's position.
 */
EDDY_EXPORT eddy_err eddy_log_reader_next(eddy_log_reader *reader, int timeout_ms,
                                          eddy_record *record);

/** The offset of the next record the reader will return. */
EDDY_EXPORT int64_t eddy_log_reader_position(const eddy_log_reader *reader);

/** Moves the reader to @p offset (as for eddy_log_reader_new()). */
EDDY_EXPORT eddy_err eddy_log_reader_seek(eddy_log_reader *reader, int64_t offset);

/**
 * The earliest offset whose record has a timestamp >= @p timestamp_ms (Kafka's
 * offsetsForTimes); the log end offset when there is none.
 */
EDDY_EXPORT eddy_err eddy_log_offset_for_time(eddy_log *log, const char *topic, int32_t partition,
                                              int64_t timestamp_ms, int64_t *offset);

/* ------------------------------------------------------------------------------------------ */
/* Maintenance and verification                                                               */

/**
 * Applies retention (retention.ms, retention.bytes: whole closed segments are deleted) and, for
 * cleanup.policy=compact, compaction of closed segments (the latest record per key survives;
 * offsets never change; tombstones older than delete.retention.ms go) to every partition of
 * @p topic (NULL: all topics). Safe while other processes append and read. Appends also run
 * retention when they roll a segment.
 */
EDDY_EXPORT eddy_err eddy_log_maintain(eddy_log *log, const char *topic);

/** Forces a segment roll on a partition (the next append starts a new segment). For tests and
 *  for compacting the current tail. */
EDDY_EXPORT eddy_err eddy_log_roll(eddy_log *log, const char *topic, int32_t partition);

/** Receives one line per problem found by eddy_log_verify(). */
typedef void (*eddy_log_verify_cb)(const char *problem, void *opaque);

/**
 * Checks every batch's CRC and structure and every index entry of @p topic (NULL: all topics),
 * reporting each problem (naming the file and byte position or offset) to @p cb.
 * @param problems receives the number of problems found.
 * @return EDDY_OK when the check ran (even if it found problems); an error when it could not.
 */
EDDY_EXPORT eddy_err eddy_log_verify(eddy_log *log, const char *topic, eddy_log_verify_cb cb,
                                     void *opaque, int64_t *problems);

/* ------------------------------------------------------------------------------------------ */
/* Consumers and consumer groups                                                              */

typedef struct eddy_log_consumer eddy_log_consumer;

/** A topic-partition, as passed to rebalance callbacks. */
typedef struct eddy_topic_partition {
    const char *topic;
    int32_t partition;
} eddy_topic_partition;

typedef enum eddy_rebalance_event {
    EDDY_REBALANCE_REVOKE = 0, /**< these partitions are being taken away: commit now */
    EDDY_REBALANCE_ASSIGN = 1, /**< these partitions are now this member's */
} eddy_rebalance_event;

/**
 * Called from inside eddy_log_consumer_poll() on rebalances. On REVOKE, the partitions still
 * belong to this member until the callback returns: no other member gets them before that.
 * The array is valid during the call only.
 */
typedef void (*eddy_rebalance_cb)(eddy_log_consumer *consumer, eddy_rebalance_event event,
                                  const eddy_topic_partition *partitions, size_t count,
                                  void *opaque);

/**
 * A consumer. With a @p group_id it can subscribe as a member of that consumer group (shared by
 * processes on this machine); without one (NULL) it can only be assigned partitions by hand.
 * Config keys: auto.offset.reset (earliest | latest, default latest), enable.auto.commit
 * (default true: offsets are committed on rebalance and close), session.timeout.ms (unused on
 * the embedded log: a dead member is noticed through its released lock).
 * @return EDDY_OK; EDDY_ERR_INVALID_ARGUMENT for a bad group name; EDDY_ERR_CONFIG.
 */
EDDY_EXPORT eddy_err eddy_log_consumer_new(eddy_log *log, const char *group_id,
                                           const eddy_config *config, eddy_log_consumer **out);

/** Leaves the group (committing positions when enable.auto.commit) and frees the consumer.
 *  NULL is a no-op. */
EDDY_EXPORT void eddy_log_consumer_destroy(eddy_log_consumer *consumer);

/**
 * Joins the group for @p topics. Partitions are assigned with the range strategy across the
 * group's live members; rebalances happen inside eddy_log_consumer_poll() and call @p cb.
 * @return EDDY_OK; EDDY_ERR_UNKNOWN_TOPIC; EDDY_ERR_STATE without a group id; EDDY_ERR_BUSY
 *         when the group already has the maximum number of members.
 */
EDDY_EXPORT eddy_err eddy_log_consumer_subscribe(eddy_log_consumer *consumer,
                                                 const char *const *topics, size_t count,
                                                 eddy_rebalance_cb cb, void *opaque);

/** Assigns one partition by hand, starting at @p offset (or EDDY_OFFSET_BEGINNING / END, or
 *  EDDY_OFFSET_STORED: the group's committed offset, else auto.offset.reset). */
#define EDDY_OFFSET_STORED (-1000)
EDDY_EXPORT eddy_err eddy_log_consumer_assign(eddy_log_consumer *consumer, const char *topic,
                                              int32_t partition, int64_t offset);

/**
 * The next record from any assigned partition that is not paused, waiting up to @p timeout_ms
 * (-1 forever). Also runs the group protocol: rebalance callbacks are called from here.
 * @param record filled as documented at ::eddy_record. NULL runs the group protocol only: one
 *        round of it (rebalances, their callbacks) without reading a record, so no position
 *        moves, and without waiting (@p timeout_ms is ignored); it returns EDDY_OK, or the
 *        protocol's error. A manually assigned consumer has no protocol: EDDY_OK at once.
 * @return EDDY_OK; EDDY_ERR_TIMED_OUT when nothing arrived; EDDY_ERR_CORRUPT (see reader);
 *         EDDY_ERR_STATE when neither subscribed nor assigned, or called from a callback.
 */
EDDY_EXPORT eddy_err eddy_log_consumer_poll(eddy_log_consumer *consumer, int timeout_ms,
                                            eddy_record *record);

/** Commits, durably, the position (offset of the next record to read) of every assigned
 *  partition to the group. EDDY_ERR_STATE without a group. */
EDDY_EXPORT eddy_err eddy_log_consumer_commit(eddy_log_consumer *consumer);

/** Commits one offset for one partition (the offset of the next record to read): as
 *  eddy_log_consumer_commit_offsets() with one entry. */
EDDY_EXPORT eddy_err eddy_log_consumer_commit_offset(eddy_log_consumer *consumer,
                                                     const char *topic, int32_t partition,
                                                     int64_t offset);

/**
 * Commits @p count offsets (each the offset of the next record to read of @p partitions[i]) in
 * one durable write: all of them or, on error, none. Offsets of partitions not listed stay as
 * they were (commits merge). A partition listed twice gets its last offset. Both arrays are
 * read during the call only.
 * @return EDDY_OK (also for @p count 0); EDDY_ERR_STATE without a group id, or when the
 *         consumer is subscribed and a listed partition is not assigned to it (a member
 *         commits only partitions it owns; the message names the partition; nothing is
 *         written); EDDY_ERR_INVALID_ARGUMENT naming a bad topic, partition or negative offset;
 *         EDDY_ERR_IO / EDDY_ERR_NO_SPACE when the write or its sync failed (the previous
 *         offsets stay); EDDY_ERR_NO_MEMORY.
 */
EDDY_EXPORT eddy_err eddy_log_consumer_commit_offsets(eddy_log_consumer *consumer,
                                                      const eddy_topic_partition *partitions,
                                                      const int64_t *offsets, size_t count);

/**
 * Pauses assigned partitions: poll returns no records from them until they are resumed. A
 * paused partition keeps its position and stays assigned (a subscribed member keeps it in the
 * group; rebalances go on). Pausing a paused partition does nothing. A partition that leaves
 * the assignment forgets its pause: when it is assigned again (ASSIGN, or
 * eddy_log_consumer_assign() again) it starts unpaused. May be called from a rebalance callback.
 * @param partitions @p count partitions, read during the call only.
 * @return EDDY_OK; EDDY_ERR_STATE naming the first listed partition that is not assigned to
 *         the consumer (unlike librdkafka, which ignores it); then nothing is paused.
 */
EDDY_EXPORT eddy_err eddy_log_consumer_pause(eddy_log_consumer *consumer,
                                             const eddy_topic_partition *partitions, size_t count);

/** Resumes paused partitions: poll reads them again from the position they kept. Resuming a
 *  partition that is not paused does nothing. Errors as eddy_log_consumer_pause(). */
EDDY_EXPORT eddy_err eddy_log_consumer_resume(eddy_log_consumer *consumer,
                                              const eddy_topic_partition *partitions, size_t count);

/**
 * Moves an assigned partition's position (subscribed or manual) to @p offset, or to
 * EDDY_OFFSET_BEGINNING / EDDY_OFFSET_END; the next record poll returns from it has that
 * offset. An offset outside the log is not an error here: the next read of the partition
 * resets it per auto.offset.reset (or fails with EDDY_ERR_OFFSET_OUT_OF_RANGE for none), as
 * Kafka does. A paused partition stays paused. May be called from a rebalance callback.
 * @return EDDY_OK; EDDY_ERR_STATE naming the partition when it is not assigned;
 *         EDDY_ERR_INVALID_ARGUMENT for another negative offset.
 */
EDDY_EXPORT eddy_err eddy_log_consumer_seek(eddy_log_consumer *consumer, const char *topic,
                                            int32_t partition, int64_t offset);

/**
 * An assigned partition's position: the offset of the next record poll would return from it.
 * A start not yet resolved (the committed offset, beginning, end, auto.offset.reset) is
 * resolved now, and polls then read from there.
 * @param offset receives the position.
 * @return EDDY_OK; EDDY_ERR_STATE naming the partition when it is not assigned;
 *         EDDY_ERR_OFFSET_OUT_OF_RANGE when the start is out of range and auto.offset.reset is
 *         none; EDDY_ERR_UNKNOWN_TOPIC when the topic was deleted.
 */
EDDY_EXPORT eddy_err eddy_log_consumer_position(eddy_log_consumer *consumer, const char *topic,
                                                int32_t partition, int64_t *offset);

/**
 * Drops every manual assignment (eddy_log_consumer_assign()); the consumer is then neither
 * assigned nor subscribed, and may assign again or (with a group id) subscribe. With a group
 * id and enable.auto.commit, the positions are committed first, as on destroy.
 * @return EDDY_OK (also when nothing is assigned); EDDY_ERR_STATE while subscribed (leave the
 *         group with eddy_log_consumer_destroy()); the commit's error, and then the assignment
 *         is unchanged.
 */
EDDY_EXPORT eddy_err eddy_log_consumer_unassign(eddy_log_consumer *consumer);

/** The consumer's current assignment; the array is valid until the next poll.  */
EDDY_EXPORT eddy_err eddy_log_consumer_assignment(eddy_log_consumer *consumer,
                                                  const eddy_topic_partition **partitions,
                                                  size_t *count);

/** The consumer's member id in its group (e.g. "eddy-4242-1"), or NULL before subscribing. */
EDDY_EXPORT const char *eddy_log_consumer_member_id(const eddy_log_consumer *consumer);

/** Lists the consumer groups that have committed offsets or members, in name order (free with
 *  eddy_log_names_free()). */
EDDY_EXPORT eddy_err eddy_log_group_list(eddy_log *log, char ***names, size_t *count);

/** A group's committed offset for a partition; EDDY_ERR_NOT_FOUND when none was committed. */
EDDY_EXPORT eddy_err eddy_log_group_committed(eddy_log *log, const char *group, const char *topic,
                                              int32_t partition, int64_t *offset);

/** Receives one live member of a group and the partitions it owns (valid during the call). */
typedef void (*eddy_group_member_cb)(const char *member_id, int pid,
                                     const eddy_topic_partition *owned, size_t count,
                                     void *opaque);

/**
 * Describes a group: calls @p member_cb for each live member, and reports the group's
 * generation (increments at every rebalance). Dead members are cleaned up first.
 * @return EDDY_OK; EDDY_ERR_NOT_FOUND when no such group exists.
 */
EDDY_EXPORT eddy_err eddy_log_group_describe(eddy_log *log, const char *group,
                                             eddy_group_member_cb member_cb, void *opaque,
                                             int64_t *generation);

/** Receives one committed offset of a group. */
typedef void (*eddy_group_offset_cb)(const char *topic, int32_t partition, int64_t offset,
                                     void *opaque);

/** Calls @p cb for each committed offset of @p group, ordered by topic then partition. */
EDDY_EXPORT eddy_err eddy_log_group_offsets(eddy_log *log, const char *group,
                                            eddy_group_offset_cb cb, void *opaque);

#ifdef __cplusplus
}
#endif
#endif
