/**
 * @file streams.h
 * @brief The stream-processing DSL: Kafka Streams' StreamsBuilder, KStream, KTable and
 *        friends in C. Build a topology here; run it with the runtime.
 *
 * ```c
 * eddy_builder *b = eddy_builder_new();
 * eddy_stream *lines = eddy_stream_from(b, "text-lines", eddy_serde_string(), eddy_serde_string());
 * eddy_table *counts = eddy_count(eddy_group_by_key(eddy_flat_map(lines, split_words, NULL)),
 *                                 "counts");
 * eddy_table_to(counts, "word-counts");
 * ```
 *
 * **Ownership.** Every handle (::eddy_stream, ::eddy_table, ::eddy_grouped_stream,
 * ::eddy_grouped_table, ::eddy_global_table, ::eddy_branches, ::eddy_sink) belongs to the
 * builder that made it and stays valid until eddy_builder_destroy(); handles are never freed
 * one by one. A handle may be used any number of times (a stream can feed several operators).
 * Callbacks and their opaque pointers are borrowed: they must outlive the running application.
 * Names, topics and store names are copied.
 *
 * **Errors.** Operators do not return errors: a bad argument (a NULL callback, a bad or
 * duplicate name, a handle from another builder, ...) is remembered in the builder, the first
 * one wins, and eddy_builder_check(), eddy_builder_describe() and the runtime's build report it
 * with a message naming the operator. An operator that failed still returns a usable handle of
 * the builder (a dead one: operators applied to it do nothing), so chains never crash. Only an
 * operator given a NULL handle returns NULL, since it has no builder to remember the error in.
 *
 * **Names** follow Kafka Streams exactly (docs/streams.md): every processor, store and internal
 * topic gets a deterministic name, `PREFIX-%010d` from one counter per builder, such as
 * KSTREAM-SOURCE-0000000000 or KSTREAM-AGGREGATE-STATE-STORE-0000000003, so a topology
 * described here reads like the same topology described by Kafka Streams. Users may name
 * processors (eddy_stream_named(), ...), stores (the store_name arguments) and repartition
 * topics (eddy_grouped_named(), eddy_repartition()). A name is 1-249 characters of
 * [a-zA-Z0-9._-], not "." or "..", as Kafka requires.
 *
 * **Threads.** A builder is used by one thread at a time.
 */
#ifndef EDDY_STREAMS_H
#define EDDY_STREAMS_H

#include <stdbool.h>

#include "eddy/common.h"
#include "eddy/log.h"
#include "eddy/processor.h"
#include "eddy/serde.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Builds a topology (Kafka's StreamsBuilder). Opaque. */
typedef struct eddy_builder eddy_builder;
/** A record stream (Kafka's KStream). Opaque; owned by its builder. */
typedef struct eddy_stream eddy_stream;
/** A changelog table (Kafka's KTable). Opaque; owned by its builder. */
typedef struct eddy_table eddy_table;
/** A stream grouped by key, ready to aggregate (Kafka's KGroupedStream). */
typedef struct eddy_grouped_stream eddy_grouped_stream;
/** A table re-grouped by a new key, ready to aggregate (Kafka's KGroupedTable). */
typedef struct eddy_grouped_table eddy_grouped_table;
/** A table every instance holds in full (Kafka's GlobalKTable). */
typedef struct eddy_global_table eddy_global_table;
/** The result of eddy_split(): add branches to it (Kafka's BranchedKStream). */
typedef struct eddy_branches eddy_branches;
/** A terminal processor (a sink or a foreach), returned only so that it can be named. */
typedef struct eddy_sink eddy_sink;

/* ------------------------------------------------------------------------------------------ */
/* Callbacks (the functions they call to emit results are in processor.h)                     */

/** A predicate: true keeps the record (filter) or selects the branch (split). */
typedef bool (*eddy_predicate_fn)(const eddy_record *record, void *opaque);

/**
 * A mapper: emits with eddy_forward() (map: exactly once; flat-map: any number of times; table
 * group-by: once, the new key and value) or eddy_forward_value() (map-values: once;
 * flat-map-values: any number of times).
 */
typedef void (*eddy_map_fn)(eddy_ctx *ctx, const eddy_record *record, void *opaque);

/** A key selector: sets the new key with eddy_result() (select-key, group-by, the join key of a
 *  stream-global-table join). */
typedef void (*eddy_key_fn)(eddy_ctx *ctx, const eddy_record *record, void *opaque);

/** An action on each record (peek, foreach); emits nothing. */
typedef void (*eddy_action_fn)(const eddy_record *record, void *opaque);

/** Emits the initial aggregate of a new key with eddy_result(). */
typedef void (*eddy_initializer_fn)(eddy_ctx *ctx, void *opaque);

/**
 * Aggregates @p record into @p aggregate (borrowed, valid during the call) and emits the new
 * aggregate with eddy_result(). Also the type of a table aggregation's adder and subtractor
 * (the subtractor removes the record's old value).
 */
typedef void (*eddy_aggregator_fn)(eddy_ctx *ctx, const eddy_record *record, eddy_slice aggregate,
                                   void *opaque);

/** Combines @p aggregate with @p value (a record of the same key) and emits the new aggregate
 *  with eddy_result(). The first value of a key becomes its aggregate without a call. */
typedef void (*eddy_reducer_fn)(eddy_ctx *ctx, eddy_slice aggregate, const eddy_record *value,
                                void *opaque);

/**
 * Joins a stream record @p left with the table's value for its key and emits the joined value
 * with eddy_result(). In a left join without a match @p right_value is null (data == NULL);
 * inner joins are not called without a match.
 */
typedef void (*eddy_joiner_fn)(eddy_ctx *ctx, const eddy_record *left, eddy_slice right_value,
                               void *opaque);

/** Picks the output topic of a record (eddy_to_fn()); the string must stay valid until the
 *  call returns. NULL drops the record with an error. */
typedef const char *(*eddy_topic_extractor_fn)(const eddy_record *record, void *opaque);

/* ------------------------------------------------------------------------------------------ */
/* The builder                                                                                */

/** A new, empty builder; NULL when out of memory. Free it with eddy_builder_destroy(). */
EDDY_EXPORT eddy_builder *eddy_builder_new(void);

/** Frees the builder and every handle it made. NULL is a no-op. A running application made
 *  from the builder must have stopped first. */
EDDY_EXPORT void eddy_builder_destroy(eddy_builder *builder);

/**
 * The builder's first error: EDDY_OK when every operator so far was valid and the topology
 * can be built; otherwise the error of the first bad operator, whose message (naming the
 * operator and the input) is also left in eddy_last_error(). Also checks what only the whole
 * topology shows: processor names used twice, one repartition topic for two groupings.
 * @return EDDY_OK; EDDY_ERR_INVALID_ARGUMENT; EDDY_ERR_EXISTS (a name or topic used twice);
 *         EDDY_ERR_NOT_FOUND (an unknown store); EDDY_ERR_STATE (an operator applied where it
 *         cannot be, e.g. naming an operator that already has downstream operators);
 *         EDDY_ERR_NO_MEMORY; EDDY_ERR_TOO_LARGE (too many operators).
 */
EDDY_EXPORT eddy_err eddy_builder_check(eddy_builder *builder);

/**
 * Describes the topology as Kafka Streams' TopologyDescription prints it ("Topologies:",
 * sub-topologies with their sources, processors and sinks, global stores), character for
 * character the text Kafka Streams prints for the same topology.
 * @param out receives a NUL-terminated string owned by the caller: free it with eddy_free().
 * @return EDDY_OK; the builder's first error (eddy_builder_check()); EDDY_ERR_NO_MEMORY.
 *         *out is NULL on failure.
 */
EDDY_EXPORT eddy_err eddy_builder_describe(eddy_builder *builder, char **out);

/**
 * Describes the topology as a Graphviz DOT digraph: one cluster per sub-topology, topics as
 * ellipses, processors as boxes, state stores as cylinders (`dot -Tsvg` draws it).
 * @param out receives a NUL-terminated string; free it with eddy_free().
 * @return as eddy_builder_describe().
 */
EDDY_EXPORT eddy_err eddy_builder_describe_dot(eddy_builder *builder, char **out);

/* ------------------------------------------------------------------------------------------ */
/* Sources                                                                                    */

/**
 * A stream of the records of @p topic (processor KSTREAM-SOURCE-<n>).
 * @param key_serde, value_serde the formats of the topic's keys and values; NULL: the
 *        application's default serdes. Borrowed: they must outlive the application.
 * A topic may be the source of only one stream or table (EDDY_ERR_EXISTS otherwise).
 */
EDDY_EXPORT eddy_stream *eddy_stream_from(eddy_builder *builder, const char *topic,
                                          const eddy_serde *key_serde,
                                          const eddy_serde *value_serde);

/** A stream of the records of @p count (>= 1) topics, read by one source processor. */
EDDY_EXPORT eddy_stream *eddy_stream_from_topics(eddy_builder *builder, const char *const *topics,
                                                 size_t count, const eddy_serde *key_serde,
                                                 const eddy_serde *value_serde);

/**
 * A table of the latest value per key of @p topic (a null value deletes the key). Processors
 * KSTREAM-SOURCE-<n> and KTABLE-SOURCE-<n>.
 * @param store_name the store that holds the table, queryable by that name; NULL: Kafka's
 *        generated name `<topic>-STATE-STORE-<n>`, and the table is then materialized only
 *        where an operator needs it (a join, a group-by), as in Kafka Streams.
 */
EDDY_EXPORT eddy_table *eddy_table_from(eddy_builder *builder, const char *topic,
                                        const eddy_serde *key_serde, const eddy_serde *value_serde,
                                        const char *store_name);

/**
 * A global table of @p topic: every instance reads all of its partitions into the store
 * @p store_name (NULL: `<topic>-STATE-STORE-<n>`) at start-up, before processing begins, and
 * keeps it up to date. It has no changelog: the topic is its own.
 */
EDDY_EXPORT eddy_global_table *eddy_global_table_from(eddy_builder *builder, const char *topic,
                                                      const eddy_serde *key_serde,
                                                      const eddy_serde *value_serde,
                                                      const char *store_name);

/* ------------------------------------------------------------------------------------------ */
/* Stateless stream operators. Each returns a new stream (of the same builder).               */

/** Keeps the records for which @p predicate is true (KSTREAM-FILTER-<n>). */
EDDY_EXPORT eddy_stream *eddy_filter(eddy_stream *stream, eddy_predicate_fn predicate,
                                     void *opaque);

/** Keeps the records for which @p predicate is false (KSTREAM-FILTER-<n>, as Kafka names
 *  filterNot). */
EDDY_EXPORT eddy_stream *eddy_filter_not(eddy_stream *stream, eddy_predicate_fn predicate,
                                         void *opaque);

/** Maps each record to one new record: @p mapper calls eddy_forward() once (KSTREAM-MAP-<n>).
 *  Changes keys: a later grouping or join repartitions. */
EDDY_EXPORT eddy_stream *eddy_map(eddy_stream *stream, eddy_map_fn mapper, void *opaque);

/** Maps each value, keeping the key: @p mapper calls eddy_forward_value() once
 *  (KSTREAM-MAPVALUES-<n>). */
EDDY_EXPORT eddy_stream *eddy_map_values(eddy_stream *stream, eddy_map_fn mapper, void *opaque);

/** Maps each record to zero or more records with eddy_forward() (KSTREAM-FLATMAP-<n>). Changes
 *  keys: a later grouping or join repartitions. */
EDDY_EXPORT eddy_stream *eddy_flat_map(eddy_stream *stream, eddy_map_fn mapper, void *opaque);

/** Maps each value to zero or more values with eddy_forward_value(), keeping the key
 *  (KSTREAM-FLATMAPVALUES-<n>). */
EDDY_EXPORT eddy_stream *eddy_flat_map_values(eddy_stream *stream, eddy_map_fn mapper,
                                              void *opaque);

/** Sets a new key, computed by @p selector with eddy_result(), keeping the value
 *  (KSTREAM-KEY-SELECT-<n>). Changes keys: a later grouping or join repartitions. */
EDDY_EXPORT eddy_stream *eddy_select_key(eddy_stream *stream, eddy_key_fn selector, void *opaque);

/** Calls @p action on each record and passes the record on unchanged (KSTREAM-PEEK-<n>). */
EDDY_EXPORT eddy_stream *eddy_peek(eddy_stream *stream, eddy_action_fn action, void *opaque);

/** Calls @p action on each record; terminal (KSTREAM-FOREACH-<n>). */
EDDY_EXPORT eddy_sink *eddy_foreach(eddy_stream *stream, eddy_action_fn action, void *opaque);

/** The records of both streams, interleaved (KSTREAM-MERGE-<n>). Both must belong to the same
 *  builder. */
EDDY_EXPORT eddy_stream *eddy_merge(eddy_stream *stream, eddy_stream *other);

/**
 * Splits a stream into branches (Kafka's `split(Named.as(prefix))`): add branches with
 * eddy_branch() and, optionally, last, eddy_default_branch(). Each record goes to the first
 * branch whose predicate is true, else to the default branch, else nowhere.
 * @param prefix the splitter's name and the prefix of branch names; NULL: KSTREAM-BRANCH-<n>.
 */
EDDY_EXPORT eddy_branches *eddy_split(eddy_stream *stream, const char *prefix);

/**
 * Adds a branch taking the records for which @p predicate is true (and no earlier branch's).
 * @param name appended to the prefix to name the branch's processor; NULL: its position,
 *        1 for the first branch (Kafka's rule).
 * @return the branch's stream.
 */
EDDY_EXPORT eddy_stream *eddy_branch(eddy_branches *branches, const char *name,
                                     eddy_predicate_fn predicate, void *opaque);

/** Adds the branch that takes every record no other branch took; named prefix + @p name, or
 *  prefix + "0" when @p name is NULL. No branch may be added after it. */
EDDY_EXPORT eddy_stream *eddy_default_branch(eddy_branches *branches, const char *name);

/** Writes the stream to @p topic (KSTREAM-SINK-<n>). */
EDDY_EXPORT eddy_sink *eddy_to(eddy_stream *stream, const char *topic);

/** Writes each record to the topic @p extractor picks for it (KSTREAM-SINK-<n>). */
EDDY_EXPORT eddy_sink *eddy_to_fn(eddy_stream *stream, eddy_topic_extractor_fn extractor,
                                  void *opaque);

/**
 * Writes the stream through a repartition topic and reads it back (Kafka's `repartition()`),
 * so that records are partitioned by their current key.
 * @param name the topic is `<application.id>-<name>-repartition`; NULL: KSTREAM-REPARTITION-<n>.
 * @param partitions the topic's partition count; 0: as many as the input topics.
 */
EDDY_EXPORT eddy_stream *eddy_repartition(eddy_stream *stream, const char *name,
                                          int32_t partitions);

/* ------------------------------------------------------------------------------------------ */
/* Grouping and aggregation                                                                   */

/** Groups by the current key. When an operator upstream changed keys (map, flat-map,
 *  select-key, a user processor), the aggregation repartitions first, as Kafka Streams does. */
EDDY_EXPORT eddy_grouped_stream *eddy_group_by_key(eddy_stream *stream);

/** Groups by a new key, computed by @p selector with eddy_result() (KSTREAM-KEY-SELECT-<n>);
 *  the aggregation repartitions first through `<application.id>-<name>-repartition`. */
EDDY_EXPORT eddy_grouped_stream *eddy_group_by(eddy_stream *stream, eddy_key_fn selector,
                                               void *opaque);

/**
 * Names the grouping (Kafka's `Grouped.as(name)`): its repartition topic becomes
 * `<name>-repartition` (instead of `<store>-repartition`), and for eddy_group_by() the key
 * selector processor is named @p name. Aggregations of one named grouping share one
 * repartition topic. Must come before the first aggregation.
 * @return @p grouped.
 */
EDDY_EXPORT eddy_grouped_stream *eddy_grouped_named(eddy_grouped_stream *grouped, const char *name);

/**
 * Counts records per key into a table of int64 counts (KSTREAM-AGGREGATE-<n>) held in the
 * store @p store_name (NULL: KSTREAM-AGGREGATE-STATE-STORE-<n>), queryable by that name and
 * logged to `<application.id>-<store>-changelog`. Records with a null key are skipped.
 */
EDDY_EXPORT eddy_table *eddy_count(eddy_grouped_stream *grouped, const char *store_name);

/** Reduces the values per key with @p reducer (KSTREAM-REDUCE-<n>; store NULL:
 *  KSTREAM-REDUCE-STATE-STORE-<n>). */
EDDY_EXPORT eddy_table *eddy_reduce(eddy_grouped_stream *grouped, eddy_reducer_fn reducer,
                                    void *opaque, const char *store_name);

/** Aggregates the values per key, starting from @p initializer's result
 *  (KSTREAM-AGGREGATE-<n>; store NULL: KSTREAM-AGGREGATE-STATE-STORE-<n>). */
EDDY_EXPORT eddy_table *eddy_aggregate(eddy_grouped_stream *grouped,
                                       eddy_initializer_fn initializer,
                                       eddy_aggregator_fn aggregator, void *opaque,
                                       const char *store_name);

/* ------------------------------------------------------------------------------------------ */
/* Table operators                                                                            */

/** Keeps the rows for which @p predicate is true; other rows become deletions
 *  (KTABLE-FILTER-<n>). Not materialized: reads go through the parent table. */
EDDY_EXPORT eddy_table *eddy_table_filter(eddy_table *table, eddy_predicate_fn predicate,
                                          void *opaque);

/** Keeps the rows for which @p predicate is false (KTABLE-FILTER-<n>). */
EDDY_EXPORT eddy_table *eddy_table_filter_not(eddy_table *table, eddy_predicate_fn predicate,
                                              void *opaque);

/** Maps each row's value with eddy_forward_value() (KTABLE-MAPVALUES-<n>). */
EDDY_EXPORT eddy_table *eddy_table_map_values(eddy_table *table, eddy_map_fn mapper, void *opaque);

/** The table's changes as a stream (KTABLE-TOSTREAM-<n>). */
EDDY_EXPORT eddy_stream *eddy_to_stream(eddy_table *table);

/** Writes the table's changes to @p topic: eddy_to(eddy_to_stream(table), topic). */
EDDY_EXPORT eddy_sink *eddy_table_to(eddy_table *table, const char *topic);

/**
 * Re-groups the table by a new key and value, computed by @p mapper with one eddy_forward()
 * (KTABLE-SELECT-<n>); the aggregation repartitions through
 * `<application.id>-<store or name>-repartition`. Materializes the table it reads, because an
 * update must subtract the row's old value.
 */
EDDY_EXPORT eddy_grouped_table *eddy_table_group_by(eddy_table *table, eddy_map_fn mapper,
                                                    void *opaque);

/** Names the table grouping (Kafka's `Grouped.as`): the select processor is named @p name and
 *  the repartition topic `<name>-repartition`. Before the first aggregation. */
EDDY_EXPORT eddy_grouped_table *eddy_grouped_table_named(eddy_grouped_table *grouped,
                                                         const char *name);

/** Counts rows per new key: +1 on the adder side, -1 on the subtractor side
 *  (KTABLE-AGGREGATE-<n>; store NULL: KTABLE-AGGREGATE-STATE-STORE-<n>). */
EDDY_EXPORT eddy_table *eddy_table_count(eddy_grouped_table *grouped, const char *store_name);

/** Reduces rows per new key: @p adder for a row's new value, @p subtractor for its old one
 *  (KTABLE-REDUCE-<n>; store NULL: KTABLE-AGGREGATE-STATE-STORE-<n>, as Kafka names it). */
EDDY_EXPORT eddy_table *eddy_table_reduce(eddy_grouped_table *grouped, eddy_reducer_fn adder,
                                          eddy_reducer_fn subtractor, void *opaque,
                                          const char *store_name);

/** Aggregates rows per new key (KTABLE-AGGREGATE-<n>): @p adder adds a row's new value,
 *  @p subtractor removes its old value, starting from @p initializer's result. */
EDDY_EXPORT eddy_table *eddy_table_aggregate(eddy_grouped_table *grouped,
                                             eddy_initializer_fn initializer,
                                             eddy_aggregator_fn adder,
                                             eddy_aggregator_fn subtractor, void *opaque,
                                             const char *store_name);

/* ------------------------------------------------------------------------------------------ */
/* Joins                                                                                      */

/**
 * Joins each stream record with the table's current value for its key (KSTREAM-JOIN-<n>):
 * records without a match, with a null key or a null value are dropped. The stream's and the
 * table's source topics must be co-partitioned (checked at start); when the stream's keys were
 * changed upstream, it is repartitioned first through `<processor>-repartition`.
 */
EDDY_EXPORT eddy_stream *eddy_join_table(eddy_stream *stream, eddy_table *table,
                                         eddy_joiner_fn joiner, void *opaque);

/** As eddy_join_table(), but a record without a match is joined with null
 *  (KSTREAM-LEFTJOIN-<n>). */
EDDY_EXPORT eddy_stream *eddy_left_join_table(eddy_stream *stream, eddy_table *table,
                                              eddy_joiner_fn joiner, void *opaque);

/**
 * Joins each stream record with the global table's value for the key @p key_selector computes
 * (KSTREAM-LEFTJOIN-<n>, for inner joins too: Kafka Streams names both so). No
 * co-partitioning and no repartitioning is needed.
 */
EDDY_EXPORT eddy_stream *eddy_join_global(eddy_stream *stream, eddy_global_table *table,
                                          eddy_key_fn key_selector, eddy_joiner_fn joiner,
                                          void *opaque);

/** As eddy_join_global(), but a record without a match is joined with null. */
EDDY_EXPORT eddy_stream *eddy_left_join_global(eddy_stream *stream, eddy_global_table *table,
                                               eddy_key_fn key_selector, eddy_joiner_fn joiner,
                                               void *opaque);

/* ------------------------------------------------------------------------------------------ */
/* Processor API                                                                              */

/** Kinds of state store. */
typedef enum eddy_store_kind {
    EDDY_STORE_DEFAULT = 0, /**< the application's `default.dsl.store` (rocksDB unless set) */
    EDDY_STORE_MEMORY = 1,  /**< in memory, ordered by key; restored from the changelog */
    EDDY_STORE_ROCKSDB = 2  /**< RocksDB in `state.dir` */
} eddy_store_kind;

/**
 * Adds a key-value store for user processors (eddy_process()), logged to the changelog topic
 * `<application.id>-<name>-changelog`. Errors (remembered in the builder): a bad or duplicate
 * store name.
 */
EDDY_EXPORT void eddy_builder_add_store(eddy_builder *builder, const char *name,
                                        eddy_store_kind kind);

/**
 * Sets the kind of a store and whether it has a changelog: any store of the topology, added
 * with eddy_builder_add_store() or made by an operator (its store_name). Takes effect at
 * build; a name that no store has by then is an error (EDDY_ERR_NOT_FOUND). A store without a
 * changelog starts empty each time its task starts (after a restart, a crash or a move).
 */
EDDY_EXPORT void eddy_builder_store_options(eddy_builder *builder, const char *name,
                                            eddy_store_kind kind, bool changelog);

/**
 * Runs the user processor @p def on each record (KSTREAM-PROCESSOR-<n>, or def->name), with
 * access to the @p store_count stores named in @p store_names (added before with
 * eddy_builder_add_store()). The definition is copied. The result stream carries what the
 * processor forwards; its keys count as changed (a later grouping repartitions).
 */
EDDY_EXPORT eddy_stream *eddy_process(eddy_stream *stream, const eddy_processor_def *def,
                                      const char *const *store_names, size_t store_count);

/* ------------------------------------------------------------------------------------------ */
/* Time                                                                                       */

/**
 * A timestamp extractor (Kafka's TimestampExtractor): the event time of a record read from a
 * source topic, in ms. @p partition_time_ms is the task's stream time so far (-1 before any
 * record). A negative result drops the record with a warning, as Kafka Streams does.
 */
typedef int64_t (*eddy_timestamp_extractor_fn)(const eddy_record *record,
                                               int64_t partition_time_ms, void *opaque);

/**
 * Sets the timestamp extractor of every source of the topology (Kafka's
 * `default.timestamp.extractor` as code). Without one, the `default.timestamp.extractor`
 * configuration key picks a built-in extractor (record timestamps; docs/runtime.md).
 * @p opaque is borrowed.
 */
EDDY_EXPORT void eddy_builder_set_timestamp_extractor(eddy_builder *builder,
                                                      eddy_timestamp_extractor_fn extractor,
                                                      void *opaque);

/* ------------------------------------------------------------------------------------------ */
/* Naming                                                                                     */

/**
 * Names the processor that produced @p stream (Kafka's `Named.as(name)` / `Consumed.as(name)`
 * on the operator that made it). Allowed only before anything is attached downstream of it
 * (EDDY_ERR_STATE otherwise), so that a name is never changed after another name was derived
 * from it. For a branch, the branch's processor is renamed.
 * @return @p stream.
 */
EDDY_EXPORT eddy_stream *eddy_stream_named(eddy_stream *stream, const char *name);

/**
 * Names the processor that produced @p table. For a table from eddy_table_from() the table
 * processor becomes @p name and its source `<name>-source` (Kafka's `Consumed.as`); for a
 * table aggregation the repartition sink and source become `<name>-sink` and `<name>-source`
 * (Kafka's `Named` on the aggregation). Same rule as eddy_stream_named().
 */
EDDY_EXPORT eddy_table *eddy_table_named(eddy_table *table, const char *name);

/** Names a global table's processor @p name and its source `<name>-source`. */
EDDY_EXPORT eddy_global_table *eddy_global_table_named(eddy_global_table *table, const char *name);

/** Names a sink or foreach processor (Kafka's `Produced.as` / `Named.as`). */
EDDY_EXPORT eddy_sink *eddy_sink_named(eddy_sink *sink, const char *name);

#ifdef __cplusplus
}
#endif

/* Windows, stream-stream and table-table joins, suppression and cogroup. */
#include "eddy/windows.h"

#endif
