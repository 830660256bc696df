/**
 * @file windows.h
 * @brief Windows, windowed aggregations, suppression, stream–stream joins, table–table joins
 *        and cogroup: the time-based part of Kafka Streams' DSL. Included by streams.h.
 *
 * ```c
 * // orders per customer per minute, emitted once per window when it closes
 * eddy_table *per_minute = eddy_suppress_until_window_closes(
 *     eddy_windowed_count(eddy_windowed_by_time(eddy_group_by_key(orders), 60000, 60000, 0),
 *                         "orders-per-minute"),
 *     0, 0, EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL);
 * ```
 *
 * **Windowed keys.** The key of a windowed table is the record key with its window, in the
 * bytes Kafka's windowed serializers write, so topics interoperate with Java applications:
 *
 * - time windows (tumbling, hopping) and sliding windows: the key, then the window start
 *   (8 bytes, big-endian), as Kafka's TimeWindowedSerde;
 * - session windows: the key, then the window end (8), then the window start (8), as Kafka's
 *   SessionWindowedSerde.
 *
 * eddy_time_windowed_key() and eddy_session_windowed_key() decode them. A time window's end is
 * its start plus the window size (Kafka's TimeWindowedDeserializer needs the size too).
 *
 * **Time.** Windows follow each task's stream time (the largest record timestamp it has seen).
 * A record whose window closed is dropped, counted, and logged at debug level, as Kafka Streams
 * does: for time windows when window end + grace <= stream time; for sliding windows (whose
 * ends are inclusive) when window end + grace < stream time; for sessions when session end +
 * gap + grace < stream time (Kafka 3.0+). Each windowed processor follows its own stream time
 * (the largest timestamp it has seen), as Kafka's do.
 *
 * Ownership and errors are as in streams.h: handles belong to the builder; a bad argument is
 * remembered in the builder and reported by eddy_builder_check().
 */
#ifndef EDDY_WINDOWS_H
#define EDDY_WINDOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eddy/common.h"
#include "eddy/streams.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A grouped stream with time windows (tumbling, hopping or sliding): Kafka's
 *  TimeWindowedKStream. Owned by its builder. */
typedef struct eddy_windowed_stream eddy_windowed_stream;
/** A grouped stream with session windows: Kafka's SessionWindowedKStream. */
typedef struct eddy_session_stream eddy_session_stream;
/** Several grouped streams aggregated into one table: Kafka's CogroupedKStream. */
typedef struct eddy_cogrouped_stream eddy_cogrouped_stream;

/** Merges two session aggregates (@p left the earlier session's) and emits the merged one with
 *  eddy_result(). @p key is a record carrying the key. */
typedef void (*eddy_merger_fn)(eddy_ctx *ctx, const eddy_record *key, eddy_slice left,
                               eddy_slice right, void *opaque);

/* ------------------------------------------------------------------------------------------ */
/* Windowed keys                                                                              */

/** Decodes a time-windowed key (key, start): @p key points into @p bytes.
 *  @return EDDY_OK; EDDY_ERR_SERIALIZATION when shorter than 8 bytes or null. */
EDDY_EXPORT eddy_err eddy_time_windowed_key(eddy_slice bytes, eddy_slice *key, int64_t *start_ms);

/** Decodes a session-windowed key (key, end, start).
 *  @return EDDY_OK; EDDY_ERR_SERIALIZATION when shorter than 16 bytes or null. */
EDDY_EXPORT eddy_err eddy_session_windowed_key(eddy_slice bytes, eddy_slice *key, int64_t *start_ms,
                                               int64_t *end_ms);

/**
 * Decodes a value of a time or sliding window store (Kafka's timestamped window store): the
 * latest record timestamp of the window (8 bytes, big-endian), then the aggregate. What
 * eddy_test_driver_store() and Processor API code see when they read such a store directly;
 * outputs and eddy_app_store_get() carry the aggregate alone. A null slice decodes to null.
 * @return EDDY_OK; EDDY_ERR_SERIALIZATION when shorter than 8 bytes.
 */
EDDY_EXPORT eddy_err eddy_window_store_value(eddy_slice stored, eddy_slice *aggregate,
                                             int64_t *timestamp_ms);

/* ------------------------------------------------------------------------------------------ */
/* Windowing a grouped stream                                                                 */

/**
 * Time windows of @p size_ms advancing by @p advance_ms (Kafka's TimeWindows.ofSizeAndGrace
 * and advanceBy): tumbling when advance == size, hopping when advance < size (a record then
 * falls in size/advance windows). Windows are aligned to the epoch: [k*advance, k*advance+size).
 * @param grace_ms how long after a window's end records are still accepted (>= 0).
 * Errors (in the builder): size <= 0, advance <= 0 or > size, grace < 0.
 */
EDDY_EXPORT eddy_windowed_stream *eddy_windowed_by_time(eddy_grouped_stream *grouped,
                                                        int64_t size_ms, int64_t advance_ms,
                                                        int64_t grace_ms);

/**
 * Sliding windows (Kafka's SlidingWindows.ofTimeDifferenceAndGrace): a window [t-d, t] ends at
 * each record, and one starts just after each record, so that every set of records within
 * @p time_difference_ms of each other is aggregated exactly once.
 */
EDDY_EXPORT eddy_windowed_stream *eddy_windowed_by_sliding(eddy_grouped_stream *grouped,
                                                           int64_t time_difference_ms,
                                                           int64_t grace_ms);

/**
 * Session windows (Kafka's SessionWindows.ofInactivityGapAndGrace): a key's records closer
 * than @p gap_ms to each other form one session; a record that bridges two sessions merges
 * them.
 */
EDDY_EXPORT eddy_session_stream *eddy_windowed_by_session(eddy_grouped_stream *grouped,
                                                          int64_t gap_ms, int64_t grace_ms);

/* ------------------------------------------------------------------------------------------ */
/* Windowed aggregations: tables keyed by windowed keys                                       */

/**
 * Counts records per key and window (KSTREAM-AGGREGATE-<n>) into the window store
 * @p store_name (NULL: KSTREAM-AGGREGATE-STATE-STORE-<n>), logged to its changelog
 * (compact,delete; the store keeps windows for Kafka's default retention: size + grace for
 * time windows, 2 × time difference + grace for sliding windows, gap + grace for sessions; the
 * changelog a day longer, Kafka's windowstore.changelog.additional.retention.ms).
 * Values are int64. Records with a null key are skipped (and, for sliding windows only, records
 * with a null value: Kafka's rule).
 */
EDDY_EXPORT eddy_table *eddy_windowed_count(eddy_windowed_stream *windowed, const char *store_name);
EDDY_EXPORT eddy_table *eddy_windowed_reduce(eddy_windowed_stream *windowed,
                                             eddy_reducer_fn reducer, void *opaque,
                                             const char *store_name);
EDDY_EXPORT eddy_table *eddy_windowed_aggregate(eddy_windowed_stream *windowed,
                                                eddy_initializer_fn initializer,
                                                eddy_aggregator_fn aggregator, void *opaque,
                                                const char *store_name);

/** Session count (KSTREAM-AGGREGATE-<n>): a merged-away session emits a tombstone for its old
 *  windowed key. */
EDDY_EXPORT eddy_table *eddy_session_count(eddy_session_stream *sessions, const char *store_name);
EDDY_EXPORT eddy_table *eddy_session_reduce(eddy_session_stream *sessions, eddy_reducer_fn reducer,
                                            void *opaque, const char *store_name);
/**
 * Session aggregation with a @p merger. When a record falls within the gap of existing
 * sessions of its key, they merge into one: as Kafka does, the merged aggregate starts from the
 * initializer's value, and the merger is called once per existing session (@p left the
 * aggregate so far, @p right that session's), then the aggregator adds the record. Each
 * merged-away session's windowed key gets a tombstone. A session is keyed [key][end][start].
 */
EDDY_EXPORT eddy_table *eddy_session_aggregate(eddy_session_stream *sessions,
                                               eddy_initializer_fn initializer,
                                               eddy_aggregator_fn aggregator, eddy_merger_fn merger,
                                               void *opaque, const char *store_name);

/* ------------------------------------------------------------------------------------------ */
/* Suppression                                                                                */

/** What a full suppression buffer does (Kafka's BufferConfig strategies). */
typedef enum eddy_suppress_full {
    EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL = 0, /**< fail the task (Kafka's shutDownWhenFull) */
    EDDY_SUPPRESS_EMIT_EARLY_WHEN_FULL = 1 /**< emit the oldest records early */
} eddy_suppress_full;

/**
 * Emits each window's final result only, once the window closes (window end + grace <= stream
 * time; for sessions, session end + gap + grace): Kafka's
 * `suppress(Suppressed.untilWindowCloses(...))` (KTABLE-SUPPRESS-<n>). Only on a windowed table.
 * The buffer holds at most @p max_records records and @p max_bytes bytes (0: unbounded), and is
 * logged to a changelog so a restart loses nothing.
 */
EDDY_EXPORT eddy_table *eddy_suppress_until_window_closes(eddy_table *table, size_t max_records,
                                                          size_t max_bytes,
                                                          eddy_suppress_full when_full);

/** Emits a key's latest update once @p time_limit_ms of stream time passed since its first
 *  buffered update (Kafka's `Suppressed.untilTimeLimit`). Any table. */
EDDY_EXPORT eddy_table *eddy_suppress_until_time_limit(eddy_table *table, int64_t time_limit_ms,
                                                       size_t max_records, size_t max_bytes,
                                                       eddy_suppress_full when_full);

/* ------------------------------------------------------------------------------------------ */
/* Stream–stream joins                                                                        */

/** Joins a record of each side; emits the joined value with eddy_result(). In left and outer
 *  joins the missing side is null (data == NULL). */
typedef void (*eddy_value_joiner_fn)(eddy_ctx *ctx, const eddy_record *left, eddy_slice left_value,
                                     eddy_slice right_value, void *opaque);

/**
 * Joins two streams of the same keys within a join window (Kafka's JoinWindows): a left
 * record at time t joins the right records of its key from t - @p before_ms to t + @p after_ms
 * (and the other way round). Both sides are buffered in window stores named after the join
 * processors (KSTREAM-JOINTHIS-<n>-store and KSTREAM-JOINOTHER-<n>-store for inner joins;
 * left joins use OUTEROTHER for the right side, outer joins OUTERTHIS and OUTEROTHER). The
 * inputs must be co-partitioned; changed keys
 * repartition first. Records with a null value are dropped; a null key is dropped by inner
 * joins and joined with null at once by left and outer joins (Kafka 3.7+).
 */
EDDY_EXPORT eddy_stream *eddy_join_stream(eddy_stream *left, eddy_stream *right,
                                          eddy_value_joiner_fn joiner, void *opaque,
                                          int64_t before_ms, int64_t after_ms, int64_t grace_ms);

/** Left join: a left record without a match is joined with null, once its window has closed
 *  (never early, Kafka 3.1+ semantics), from a buffer of unmatched records. */
EDDY_EXPORT eddy_stream *eddy_left_join_stream(eddy_stream *left, eddy_stream *right,
                                               eddy_value_joiner_fn joiner, void *opaque,
                                               int64_t before_ms, int64_t after_ms,
                                               int64_t grace_ms);

/** Outer join: unmatched records of either side are joined with null when their window
 *  closes. */
EDDY_EXPORT eddy_stream *eddy_outer_join_stream(eddy_stream *left, eddy_stream *right,
                                                eddy_value_joiner_fn joiner, void *opaque,
                                                int64_t before_ms, int64_t after_ms,
                                                int64_t grace_ms);

/* ------------------------------------------------------------------------------------------ */
/* Table–table joins                                                                          */

/** Joins two tables on their keys (KTABLE-JOINTHIS/JOINOTHER/MERGE processors): every change
 *  of either side emits the joined row (or a tombstone when it no longer joins). */
EDDY_EXPORT eddy_table *eddy_table_join(eddy_table *left, eddy_table *right,
                                        eddy_value_joiner_fn joiner, void *opaque);
EDDY_EXPORT eddy_table *eddy_table_left_join(eddy_table *left, eddy_table *right,
                                             eddy_value_joiner_fn joiner, void *opaque);
EDDY_EXPORT eddy_table *eddy_table_outer_join(eddy_table *left, eddy_table *right,
                                              eddy_value_joiner_fn joiner, void *opaque);

/**
 * Joins each row of @p left with the row of @p right whose key @p foreign_key computes from it
 * (Kafka's `KTable#join(other, foreignKeyExtractor, joiner)`, KIP-213). The result is keyed by
 * the left key: one row per left row that has a match, the joiner's value of (left value,
 * right value). Every change of either side updates it; a left row whose match goes away (its
 * foreign key changes, or the right row is deleted) gets a tombstone.
 *
 * Unlike the other table joins, the tables need not be co-partitioned, nor have the same key
 * type, nor the same partition count: the join sends each left row's subscription to the
 * right table's partition through the internal topic
 * `<application.id>-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-<n>-topic` (partitioned as the
 * right table's input), keeps subscriptions in KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-<n>, and
 * answers through `<application.id>-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-<n>-topic` (partitioned
 * as the left table's input). An answer computed for an older left value is dropped, so the
 * result is eventually the join of the tables' latest rows.
 *
 * @param left, right tables of the same builder (the same table joins itself: a hierarchy).
 * @param foreign_key computes the right table's key from a left row (given as a record: key,
 *        value) with eddy_result(); no result, or a null one, is a null foreign key: the row
 *        joins nothing (an inner join skips it, as Kafka does: a row whose foreign key becomes
 *        null keeps its last result).
 * @param joiner emits the joined value with eddy_result() from (left value, right value); its
 *        record carries the left key and value. A joiner that emits nothing gives a tombstone.
 * @param opaque passed to both callbacks.
 * @return the joined table (KTABLE-FK-JOIN-OUTPUT-<n>), materialized in
 *         KTABLE-FK-JOIN-OUTPUT-STATE-STORE-<n> only when an operator reads it. Both inputs are
 *         materialized (their source tables' stores), as in Kafka.
 * Errors (in the builder): a NULL callback; a table of another builder; an input whose values
 * come from several stores (a table-table join's or a suppression's result).
 */
EDDY_EXPORT eddy_table *eddy_table_fk_join(eddy_table *left, eddy_table *right,
                                           eddy_key_fn foreign_key, eddy_value_joiner_fn joiner,
                                           void *opaque);

/**
 * As eddy_table_fk_join(), but every left row is in the result (Kafka's
 * `KTable#leftJoin(other, foreignKeyExtractor, joiner)`): without a match, including with a null
 * foreign key, it is joined with null (right_value.data == NULL).
 */
EDDY_EXPORT eddy_table *eddy_table_fk_left_join(eddy_table *left, eddy_table *right,
                                                eddy_key_fn foreign_key,
                                                eddy_value_joiner_fn joiner, void *opaque);

/* ------------------------------------------------------------------------------------------ */
/* Cogroup                                                                                    */

/** Starts a cogroup with @p grouped and its @p aggregator (Kafka's KGroupedStream#cogroup). */
EDDY_EXPORT eddy_cogrouped_stream *eddy_cogroup(eddy_grouped_stream *grouped,
                                                eddy_aggregator_fn aggregator, void *opaque);

/** Adds another grouped stream (same key type; co-partitioned) with its own aggregator. */
EDDY_EXPORT eddy_cogrouped_stream *eddy_cogroup_add(eddy_cogrouped_stream *cogrouped,
                                                    eddy_grouped_stream *grouped,
                                                    eddy_aggregator_fn aggregator, void *opaque);

/** Aggregates every cogrouped stream into one table (COGROUPKSTREAM-AGGREGATE-<n> per input,
 *  COGROUPKSTREAM-MERGE-<n>) in the store @p store_name. */
EDDY_EXPORT eddy_table *eddy_cogroup_aggregate(eddy_cogrouped_stream *cogrouped,
                                               eddy_initializer_fn initializer, void *opaque,
                                               const char *store_name);

#ifdef __cplusplus
}
#endif
#endif
