/* The time-based part of the DSL (include/eddy/windows.h): windowed and session aggregations,
 * suppression, stream-stream and table-table joins and cogroup, built as Kafka Streams'
 * InternalStreamsBuilder builds them (names, counter values, graph nodes, stores), with the
 * operator toolkit builder.c shares through topology.h. Also the decoders of windowed keys.
 *
 * What each operator writes, with n the counter value its first generated name takes:
 *
 *   windowed count/aggregate  [store KSTREAM-AGGREGATE-STATE-STORE-n] KSTREAM-AGGREGATE-n+1
 *   windowed reduce           [store KSTREAM-REDUCE-STATE-STORE-n]    KSTREAM-REDUCE-n+1
 *       (Kafka's TimeWindowed/SlidingWindowed/SessionWindowedKStreamImpl through the grouped
 *       stream's GroupedStreamAggregateBuilder: a repartition first when keys changed, three
 *       counter values burned between the store and processor names as for eddy_count)
 *   suppress                  KTABLE-SUPPRESS-n, store KTABLE-SUPPRESS-STATE-STORE-n+1
 *   stream-stream join        KSTREAM-WINDOWED-n, -n+1, KSTREAM-JOINTHIS-n+2 (OUTERTHIS for
 *                             outer), KSTREAM-JOINOTHER-n+3 (OUTEROTHER for left and outer),
 *                             KSTREAM-MERGE-n+4; stores <this>-store, <other>-store and for
 *                             left/outer KSTREAM-OUTERSHARED-(n+2)-store (KStreamImplJoin)
 *   table-table join          KTABLE-MERGE-n, KTABLE-JOINTHIS-n+1, KTABLE-JOINOTHER-n+2, for
 *                             inner, left and outer joins alike (KTableImpl.doJoin)
 *   cogroup aggregate         [store COGROUPKSTREAM-AGGREGATE-STATE-STORE-n], per input its
 *                             repartition (3 values) when keys changed, then per input
 *                             COGROUPKSTREAM-AGGREGATE-m, then COGROUPKSTREAM-MERGE-m'
 *                             (CogroupedStreamAggregateBuilder)
 *
 * Stores: window stores for time and sliding windows, session stores for sessions, with Kafka's
 * default retention (time: size + grace; sliding: 2 * time difference + grace; session: gap +
 * grace); join buffers are window stores retaining duplicates, retention before + after +
 * grace, not cached; the unmatched-records store of left and outer joins is a key-value store
 * (Kafka's list-value store of TimestampedKeyAndJoinSide keys) whose key layout the runtime
 * owns; suppression buffers are BUFFER stores, not cached. All are logged. */
#include "topology/topology.h"

#include <inttypes.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "eddy/windows.h"

#define KSTREAM_AGGREGATE "KSTREAM-AGGREGATE-"
#define KSTREAM_REDUCE "KSTREAM-REDUCE-"
#define KSTREAM_WINDOWED "KSTREAM-WINDOWED-"
#define KSTREAM_JOINTHIS "KSTREAM-JOINTHIS-"
#define KSTREAM_JOINOTHER "KSTREAM-JOINOTHER-"
#define KSTREAM_OUTERTHIS "KSTREAM-OUTERTHIS-"
#define KSTREAM_OUTEROTHER "KSTREAM-OUTEROTHER-"
#define KSTREAM_OUTERSHARED "KSTREAM-OUTERSHARED-"
#define KSTREAM_MERGE "KSTREAM-MERGE-"
#define KTABLE_SUPPRESS "KTABLE-SUPPRESS-"
#define KTABLE_JOINTHIS "KTABLE-JOINTHIS-"
#define KTABLE_JOINOTHER "KTABLE-JOINOTHER-"
#define KTABLE_MERGE "KTABLE-MERGE-"
#define COGROUP_AGGREGATE "COGROUPKSTREAM-AGGREGATE-"
#define COGROUP_MERGE "COGROUPKSTREAM-MERGE-"

#define H(x) ((eddy__handle *)(void *)(x))

/* ------------------------------------------------------------------------------------------ */
/* Windowed keys                                                                              */

eddy_err eddy_time_windowed_key(eddy_slice bytes, eddy_slice *key, int64_t *start_ms)
{
    if (!bytes.data || bytes.len < 8)
        return eddy__fail(EDDY_ERR_SERIALIZATION,
                          "time-windowed key: %s%zu bytes, expected the key and 8 bytes of window "
                          "start",
                          bytes.data ? "" : "null, ", bytes.len);
    const uint8_t *data = bytes.data;
    if (key)
        *key = (eddy_slice){data, bytes.len - 8};
    if (start_ms)
        *start_ms = (int64_t)eddy__be64_get(data + bytes.len - 8);
    return EDDY_OK;
}

eddy_err eddy_session_windowed_key(eddy_slice bytes, eddy_slice *key, int64_t *start_ms,
                                   int64_t *end_ms)
{
    if (!bytes.data || bytes.len < 16)
        return eddy__fail(EDDY_ERR_SERIALIZATION,
                          "session-windowed key: %s%zu bytes, expected the key and 16 bytes of "
                          "window end and start",
                          bytes.data ? "" : "null, ", bytes.len);
    const uint8_t *data = bytes.data;
    if (key)
        *key = (eddy_slice){data, bytes.len - 16};
    if (end_ms)
        *end_ms = (int64_t)eddy__be64_get(data + bytes.len - 16);
    if (start_ms)
        *start_ms = (int64_t)eddy__be64_get(data + bytes.len - 8);
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Windowing a grouped stream                                                                 */

/* a + b, or false when it overflows or is negative. */
static bool sum_ms(int64_t a, int64_t b, int64_t *out)
{
    return !__builtin_add_overflow(a, b, out) && *out >= 0;
}

/* A windowed or session stream over a live grouped stream, or the dead handle. `problem` is
 * the argument error (NULL when the windows are valid). */
static eddy__handle *windowed_by(eddy_grouped_stream *grouped_stream, eddy__handle_kind kind,
                                 eddy__op op, eddy__window window, const char *problem,
                                 const char *function)
{
    eddy__handle *grouped = H(grouped_stream);
    bool usable;
    eddy_builder *builder =
        eddy__handle_builder(grouped, EDDY__HANDLE_GROUPED_STREAM, function, &usable);
    if (!builder)
        return NULL;
    if (!usable)
        return eddy__dead_handle(builder, kind);
    if (problem) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: %s (grouping %s)", function,
                           problem, eddy__node_name(builder, grouped->node));
        return eddy__dead_handle(builder, kind);
    }
    eddy__handle *out = eddy__handle_new(builder, kind, function);
    if (out->dead)
        return out;
    out->node = grouped->node;
    out->graph_node = grouped->graph_node;
    out->key_serde = grouped->key_serde;
    out->value_serde = grouped->value_serde;
    out->grouped = grouped;
    out->window_op = op;
    out->window = window;
    return out;
}

eddy_windowed_stream *eddy_windowed_by_time(eddy_grouped_stream *grouped, int64_t size_ms,
                                            int64_t advance_ms, int64_t grace_ms)
{
    /* Kafka's TimeWindows checks, and that the store's retention (size + grace) fits. */
    int64_t retention;
    const char *problem = size_ms <= 0 ? "size_ms must be > 0"
                          : advance_ms <= 0 || advance_ms > size_ms
                              ? "advance_ms must be > 0 and <= size_ms"
                          : grace_ms < 0                           ? "grace_ms must be >= 0"
                          : !sum_ms(size_ms, grace_ms, &retention) ? "size_ms + grace_ms overflows"
                                                                   : NULL;
    eddy__window window = {.size_ms = size_ms, .advance_ms = advance_ms, .grace_ms = grace_ms};
    return (eddy_windowed_stream *)windowed_by(grouped, EDDY__HANDLE_WINDOWED_STREAM,
                                               EDDY__OP_WINDOW_AGGREGATE, window, problem,
                                               "eddy_windowed_by_time");
}

eddy_windowed_stream *eddy_windowed_by_sliding(eddy_grouped_stream *grouped,
                                               int64_t time_difference_ms, int64_t grace_ms)
{
    /* Kafka's SlidingWindows allows a time difference of 0; its store keeps 2 * difference +
     * grace. */
    int64_t twice, retention;
    const char *problem = time_difference_ms < 0 ? "time_difference_ms must be >= 0"
                          : grace_ms < 0         ? "grace_ms must be >= 0"
                          : !sum_ms(time_difference_ms, time_difference_ms, &twice) ||
                                  !sum_ms(twice, grace_ms, &retention)
                              ? "2 * time_difference_ms + grace_ms overflows"
                              : NULL;
    eddy__window window = {.size_ms = time_difference_ms, .grace_ms = grace_ms};
    return (eddy_windowed_stream *)windowed_by(grouped, EDDY__HANDLE_WINDOWED_STREAM,
                                               EDDY__OP_SLIDING_AGGREGATE, window, problem,
                                               "eddy_windowed_by_sliding");
}

eddy_session_stream *eddy_windowed_by_session(eddy_grouped_stream *grouped, int64_t gap_ms,
                                              int64_t grace_ms)
{
    int64_t retention;
    const char *problem = gap_ms <= 0                             ? "gap_ms must be > 0"
                          : grace_ms < 0                          ? "grace_ms must be >= 0"
                          : !sum_ms(gap_ms, grace_ms, &retention) ? "gap_ms + grace_ms overflows"
                                                                  : NULL;
    eddy__window window = {.gap_ms = gap_ms, .grace_ms = grace_ms};
    return (eddy_session_stream *)windowed_by(grouped, EDDY__HANDLE_SESSION_STREAM,
                                              EDDY__OP_SESSION_AGGREGATE, window, problem,
                                              "eddy_windowed_by_session");
}

/* ------------------------------------------------------------------------------------------ */
/* Windowed aggregations                                                                      */

/* Kafka's default retention of a windowed aggregation's store (Window-, SlidingWindow- and
 * SessionStoreMaterializer.retentionPeriod()); windowed_by checked that it fits. */
static int64_t window_retention(eddy__op op, const eddy__window *window)
{
    switch (op) {
    case EDDY__OP_SLIDING_AGGREGATE:
        return 2 * window->size_ms + window->grace_ms;
    case EDDY__OP_SESSION_AGGREGATE:
        return window->gap_ms + window->grace_ms;
    default:
        return window->size_ms + window->grace_ms;
    }
}

/* The common part of every windowed and session aggregation: the aggregating processor and its
 * window or session store, built by the grouped stream's aggregation (repartition included). */
static eddy__handle *window_aggregation(eddy__handle *in, eddy__handle_kind kind,
                                        eddy__aggregation aggregation, bool callbacks_given,
                                        const char *store_name, const char *function)
{
    bool usable;
    eddy_builder *builder = eddy__handle_builder(in, kind, function, &usable);
    if (!builder)
        return NULL;
    if (!usable)
        return eddy__dead_handle(builder, EDDY__HANDLE_TABLE);
    if (!callbacks_given) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: a callback is NULL (after %s)",
                           function, eddy__node_name(builder, in->node));
        return eddy__dead_handle(builder, EDDY__HANDLE_TABLE);
    }
    eddy__handle *grouped = in->grouped;
    const eddy_serde *value_serde = aggregation == EDDY__AGGREGATION_COUNT    ? eddy_serde_int64()
                                    : aggregation == EDDY__AGGREGATION_REDUCE ? grouped->value_serde
                                                                              : NULL;
    eddy__handle *out = eddy__stream_aggregation(
        grouped, in->window_op,
        aggregation == EDDY__AGGREGATION_REDUCE ? KSTREAM_REDUCE : KSTREAM_AGGREGATE, store_name,
        value_serde, function);
    if (out->dead)
        return out;
    eddy__node *node = &builder->nodes[out->node];
    node->aggregation = aggregation;
    node->window = in->window;
    eddy__store *store = &builder->stores[out->store];
    store->type =
        in->window_op == EDDY__OP_SESSION_AGGREGATE ? EDDY__STORE_SESSION : EDDY__STORE_WINDOW;
    store->retention_ms = window_retention(in->window_op, &in->window);
    /* Session and sliding aggregations scan their store on every record; eddy's record cache
     * merges a range scan with a sorted copy of its dirty entries, which costs the whole cache
     * per scan, so those stores go uncached (every update is emitted; docs/windows.md). Time
     * windows read and write single keys and keep the cache, as in Kafka. */
    if (in->window_op != EDDY__OP_WINDOW_AGGREGATE)
        store->caching = false;
    /* The table's keys are windowed keys (windows.h): no serde of the record key reads them,
     * so they pass as bytes (the store keeps the record key's serde, its keys' first part). */
    out->key_serde = eddy_serde_bytes();
    return out;
}

eddy_table *eddy_windowed_count(eddy_windowed_stream *windowed, const char *store_name)
{
    return (eddy_table *)window_aggregation(H(windowed), EDDY__HANDLE_WINDOWED_STREAM,
                                            EDDY__AGGREGATION_COUNT, true, store_name,
                                            "eddy_windowed_count");
}

eddy_table *eddy_windowed_reduce(eddy_windowed_stream *windowed, eddy_reducer_fn reducer,
                                 void *opaque, const char *store_name)
{
    eddy__handle *out =
        window_aggregation(H(windowed), EDDY__HANDLE_WINDOWED_STREAM, EDDY__AGGREGATION_REDUCE,
                           reducer != NULL, store_name, "eddy_windowed_reduce");
    if (out && !out->dead) {
        out->builder->nodes[out->node].reducer = reducer;
        out->builder->nodes[out->node].opaque = opaque;
    }
    return (eddy_table *)out;
}

eddy_table *eddy_windowed_aggregate(eddy_windowed_stream *windowed, eddy_initializer_fn initializer,
                                    eddy_aggregator_fn aggregator, void *opaque,
                                    const char *store_name)
{
    eddy__handle *out =
        window_aggregation(H(windowed), EDDY__HANDLE_WINDOWED_STREAM, EDDY__AGGREGATION_AGGREGATE,
                           initializer && aggregator, store_name, "eddy_windowed_aggregate");
    if (out && !out->dead) {
        eddy__node *n = &out->builder->nodes[out->node];
        n->initializer = initializer;
        n->aggregator = aggregator;
        n->opaque = opaque;
    }
    return (eddy_table *)out;
}

eddy_table *eddy_session_count(eddy_session_stream *sessions, const char *store_name)
{
    return (eddy_table *)window_aggregation(H(sessions), EDDY__HANDLE_SESSION_STREAM,
                                            EDDY__AGGREGATION_COUNT, true, store_name,
                                            "eddy_session_count");
}

eddy_table *eddy_session_reduce(eddy_session_stream *sessions, eddy_reducer_fn reducer,
                                void *opaque, const char *store_name)
{
    eddy__handle *out =
        window_aggregation(H(sessions), EDDY__HANDLE_SESSION_STREAM, EDDY__AGGREGATION_REDUCE,
                           reducer != NULL, store_name, "eddy_session_reduce");
    if (out && !out->dead) {
        out->builder->nodes[out->node].reducer = reducer;
        out->builder->nodes[out->node].opaque = opaque;
    }
    return (eddy_table *)out;
}

eddy_table *eddy_session_aggregate(eddy_session_stream *sessions, eddy_initializer_fn initializer,
                                   eddy_aggregator_fn aggregator, eddy_merger_fn merger,
                                   void *opaque, const char *store_name)
{
    eddy__handle *out = window_aggregation(
        H(sessions), EDDY__HANDLE_SESSION_STREAM, EDDY__AGGREGATION_AGGREGATE,
        initializer && aggregator && merger, store_name, "eddy_session_aggregate");
    if (out && !out->dead) {
        eddy__node *n = &out->builder->nodes[out->node];
        n->initializer = initializer;
        n->aggregator = aggregator;
        n->merger = merger;
        n->opaque = opaque;
    }
    return (eddy_table *)out;
}

/* ------------------------------------------------------------------------------------------ */
/* Suppression                                                                                */

/* The windowed aggregation a graph node is, or EDDY__NONE. */
static uint32_t graph_window_node(const eddy_builder *builder, uint32_t graph)
{
    const eddy__graph_node *g = &builder->graph_nodes[graph];
    for (uint32_t i = 0; i < g->members.count; i++) {
        eddy__op op = builder->nodes[g->members.items[i]].op;
        if (op == EDDY__OP_WINDOW_AGGREGATE || op == EDDY__OP_SLIDING_AGGREGATE ||
            op == EDDY__OP_SESSION_AGGREGATE)
            return g->members.items[i];
    }
    return EDDY__NONE;
}

/* How long after a window's end its final result is known (Kafka's suppression duration). */
static int64_t window_close_delay(const eddy__node *node)
{
    return node->op == EDDY__OP_SESSION_AGGREGATE ? node->window.grace_ms + node->window.gap_ms
                                                  : node->window.grace_ms;
}

/* Kafka's GraphGraceSearchUtil.findAndVerifyWindowGrace: every path up the graph from `graph`
 * must reach a windowed aggregation before the root; of those reached, the one whose windows
 * close last (Kafka takes the largest grace). *window_node receives it; EDDY_ERR_NOT_FOUND when
 * a path reaches the root; EDDY_ERR_NO_MEMORY. */
static eddy_err find_window(const eddy_builder *builder, uint32_t graph, uint32_t *window_node)
{
    *window_node = EDDY__NONE;
    uint8_t *seen = eddy__calloc(builder->graph_node_count, 1);
    eddy__ids pending = {0};
    eddy_err err = seen ? eddy__ids_push(&pending, graph) : EDDY_ERR_NO_MEMORY;
    while (err == EDDY_OK && pending.count > 0) {
        uint32_t g = pending.items[--pending.count];
        if (seen[g])
            continue;
        seen[g] = 1;
        uint32_t found = graph_window_node(builder, g);
        const eddy__graph_node *node = &builder->graph_nodes[g];
        if (found != EDDY__NONE) {
            if (*window_node == EDDY__NONE || window_close_delay(&builder->nodes[found]) >
                                                  window_close_delay(&builder->nodes[*window_node]))
                *window_node = found;
        } else if (g == 0 || node->parents.count == 0) {
            err = EDDY_ERR_NOT_FOUND;
        } else {
            for (uint32_t i = 0; i < node->parents.count && err == EDDY_OK; i++)
                err = eddy__ids_push(&pending, node->parents.items[i]);
        }
    }
    eddy__ids_free(&pending);
    eddy__free(seen);
    return err;
}

/* Kafka's KTableImpl.suppress: KTABLE-SUPPRESS-n with its buffer KTABLE-SUPPRESS-STATE-STORE-
 * n+1 (in memory, logged, not cached); the table upstream is made to send old values. */
static eddy_table *suppress(eddy_table *table, bool until_close, const eddy__suppress *spec,
                            const char *function)
{
    eddy__handle *in = H(table);
    bool usable;
    eddy_builder *builder = eddy__handle_builder(in, EDDY__HANDLE_TABLE, function, &usable);
    if (!builder)
        return NULL;
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_TABLE);
    if (!usable)
        return (eddy_table *)dead;
    const char *problem =
        spec->when_full != EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL &&
                spec->when_full != EDDY_SUPPRESS_EMIT_EARLY_WHEN_FULL
            ? "when_full is not an eddy_suppress_full"
        : until_close && spec->when_full == EDDY_SUPPRESS_EMIT_EARLY_WHEN_FULL
            ? "emitting early would break the final results: a buffer until windows close must "
              "shut down when full (Kafka's StrictBufferConfig)"
        : !until_close && spec->time_limit_ms < 0 ? "time_limit_ms must be >= 0"
                                                  : NULL;
    if (problem) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: %s (after %s)", function,
                           problem, eddy__node_name(builder, in->node));
        return (eddy_table *)dead;
    }
    char *name = eddy__new_processor_name(builder, KTABLE_SUPPRESS);
    uint32_t window_node = EDDY__NONE;
    if (until_close) {
        eddy_err err = find_window(builder, in->graph_node, &window_node);
        if (err != EDDY_OK) {
            eddy__free(name);
            if (err == EDDY_ERR_NO_MEMORY)
                eddy__fail_no_memory(builder, function);
            else
                eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT,
                                   "%s: table %s is not (only) the result of windowed "
                                   "aggregations: window close time is only defined for them",
                                   function, eddy__node_name(builder, in->node));
            return (eddy_table *)dead;
        }
    }
    char *store_name = eddy__new_store_name(builder, KTABLE_SUPPRESS);
    uint32_t graph = eddy__graph_node_under(builder, &in->graph_node, 1, function);
    uint32_t node = eddy__node_new(builder, EDDY__OP_SUPPRESS, name, graph, in->node, function);
    uint32_t store = EDDY__NONE;
    if (node != EDDY__NONE)
        store = store_name
                    ? eddy__store_new(builder, store_name, EDDY_STORE_MEMORY, false, function)
                    : (eddy__fail_no_memory(builder, function), EDDY__NONE);
    eddy__free(store_name);
    if (store == EDDY__NONE || eddy__table_send_old_values(builder, in->node, function) != EDDY_OK)
        return (eddy_table *)dead;
    if (eddy__connect_store(builder, node, store) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return (eddy_table *)dead;
    }
    eddy__store *s = &builder->stores[store];
    s->type = EDDY__STORE_BUFFER;
    s->caching = false;
    s->key_serde = in->key_serde;
    s->value_serde = in->value_serde;
    eddy__node *n = &builder->nodes[node];
    n->store = store;
    n->suppress = *spec;
    n->suppress.window_node = window_node;
    eddy__handle *out = eddy__table_handle(builder, in, node, graph, function);
    if (out->dead)
        return (eddy_table *)out;
    /* Kafka's suppressed table names its parent as its only "source node" (a processor, which
     * co-partitioning then ignores). */
    eddy__ids_free(&out->source_nodes);
    if (eddy__ids_push(&out->source_nodes, in->node) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return (eddy_table *)dead;
    }
    return (eddy_table *)out;
}

eddy_table *eddy_suppress_until_window_closes(eddy_table *table, size_t max_records,
                                              size_t max_bytes, eddy_suppress_full when_full)
{
    eddy__suppress spec = {.time_limit_ms = -1,
                           .window_node = EDDY__NONE,
                           .max_records = max_records,
                           .max_bytes = max_bytes,
                           .when_full = when_full};
    return suppress(table, true, &spec, "eddy_suppress_until_window_closes");
}

eddy_table *eddy_suppress_until_time_limit(eddy_table *table, int64_t time_limit_ms,
                                           size_t max_records, size_t max_bytes,
                                           eddy_suppress_full when_full)
{
    eddy__suppress spec = {.time_limit_ms = time_limit_ms,
                           .window_node = EDDY__NONE,
                           .max_records = max_records,
                           .max_bytes = max_bytes,
                           .when_full = when_full};
    return suppress(table, false, &spec, "eddy_suppress_until_time_limit");
}

/* ------------------------------------------------------------------------------------------ */
/* Stream-stream joins                                                                        */

/* The stores of one stream-stream join. */
typedef struct join_stores {
    uint32_t this_store, other_store, outer_store;
} join_stores;

/* A join buffer (Kafka's StreamJoinedStoreFactory): a window store of every record, not
 * cached, retention before + after + grace. */
static uint32_t join_buffer(eddy_builder *builder, const char *processor, const eddy__join *join,
                            const eddy__handle *side, const char *function)
{
    char *name = eddy__format_string("%s-store", processor);
    uint32_t store = name ? eddy__store_new(builder, name, EDDY_STORE_DEFAULT, false, function)
                          : (eddy__fail_no_memory(builder, function), EDDY__NONE);
    eddy__free(name);
    if (store == EDDY__NONE)
        return EDDY__NONE;
    eddy__store *s = &builder->stores[store];
    s->type = EDDY__STORE_WINDOW;
    s->retention_ms = join->before_ms + join->after_ms + join->grace_ms;
    s->retain_duplicates = true;
    s->caching = false;
    s->key_serde = side->key_serde;
    s->value_serde = side->value_serde;
    return store;
}

/* The three stores, in Kafka's order: this side's, the other side's, then for left and outer
 * joins KSTREAM-OUTERSHARED-<JOINTHIS/OUTERTHIS number>-store (OuterStreamJoinStoreFactory). */
static bool join_stores_new(eddy_builder *builder, const char *this_name, const char *other_name,
                            const eddy__join *join, const eddy__handle *left,
                            const eddy__handle *right, join_stores *stores, const char *function)
{
    stores->this_store = join_buffer(builder, this_name, join, left, function);
    stores->other_store = stores->this_store == EDDY__NONE
                              ? EDDY__NONE
                              : join_buffer(builder, other_name, join, right, function);
    stores->outer_store = EDDY__NONE;
    if (stores->other_store == EDDY__NONE)
        return false;
    if (join->kind == EDDY__JOIN_INNER)
        return true;
    const char *number =
        this_name + strlen(join->kind == EDDY__JOIN_OUTER ? KSTREAM_OUTERTHIS : KSTREAM_JOINTHIS);
    char *name = eddy__format_string(KSTREAM_OUTERSHARED "%s-store", number);
    stores->outer_store = name ? eddy__store_new(builder, name, EDDY_STORE_DEFAULT, false, function)
                               : (eddy__fail_no_memory(builder, function), EDDY__NONE);
    eddy__free(name);
    if (stores->outer_store == EDDY__NONE)
        return false;
    builder->stores[stores->outer_store].caching = false;
    builder->stores[stores->outer_store].key_serde = left->key_serde;
    return true;
}

/* Sets the fields the nodes of a join share. */
static void join_node_set(eddy__node *node, uint32_t store, uint32_t join_store,
                          uint32_t outer_store, const eddy__join *join, eddy_value_joiner_fn joiner,
                          void *opaque)
{
    node->store = store;
    node->join_store = join_store;
    node->outer_store = outer_store;
    node->join = *join;
    node->value_joiner = joiner;
    node->opaque = opaque;
}

/* Connects node to the stores listed (EDDY__NONE skipped). */
static bool connect_stores(eddy_builder *builder, uint32_t node, uint32_t a, uint32_t b,
                           const char *function)
{
    eddy_err err = EDDY_OK;
    if (a != EDDY__NONE)
        err = eddy__connect_store(builder, node, a);
    if (err == EDDY_OK && b != EDDY__NONE)
        err = eddy__connect_store(builder, node, b);
    if (err != EDDY_OK)
        eddy__fail_no_memory(builder, function);
    return err == EDDY_OK;
}

/* A second parent for a node made with one (merges). */
static bool add_parent(eddy_builder *builder, uint32_t node, uint32_t parent, const char *function)
{
    if (eddy__ids_contains(&builder->nodes[node].parents, parent))
        return true;
    if (eddy__ids_push(&builder->nodes[node].parents, parent) != EDDY_OK ||
        eddy__ids_push(&builder->nodes[parent].children, node) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return false;
    }
    return true;
}

/* The names KStreamImplJoin.join generates, in its order. */
typedef struct join_names {
    char *this_windowed, *other_windowed, *this_join, *other_join, *merge;
} join_names;

static bool join_names_new(eddy_builder *builder, eddy__join_kind kind, join_names *names,
                           const char *function)
{
    names->this_windowed = eddy__new_processor_name(builder, KSTREAM_WINDOWED);
    names->other_windowed = eddy__new_processor_name(builder, KSTREAM_WINDOWED);
    names->this_join = eddy__new_processor_name(
        builder, kind == EDDY__JOIN_OUTER ? KSTREAM_OUTERTHIS : KSTREAM_JOINTHIS);
    names->other_join = eddy__new_processor_name(
        builder, kind == EDDY__JOIN_INNER ? KSTREAM_JOINOTHER : KSTREAM_OUTEROTHER);
    names->merge = eddy__new_processor_name(builder, KSTREAM_MERGE);
    if (names->this_windowed && names->other_windowed && names->this_join && names->other_join &&
        names->merge)
        return true;
    eddy__fail_no_memory(builder, function);
    return false;
}

static void join_names_free(join_names *names)
{
    eddy__free(names->this_windowed);
    eddy__free(names->other_windowed);
    eddy__free(names->this_join);
    eddy__free(names->other_join);
    eddy__free(names->merge);
    memset(names, 0, sizeof *names);
}

/* Checks a stream-stream join's arguments (Kafka's JoinWindows: before + after >= 0, grace >=
 * 0; and that the buffers' retention fits). The error message, or NULL. */
static const char *join_window_problem(const eddy__join *join)
{
    int64_t size, retention;
    if (join->grace_ms < 0)
        return "grace_ms must be >= 0";
    if (__builtin_add_overflow(join->before_ms, join->after_ms, &size) || size < 0)
        return "before_ms + after_ms (the window size) must be >= 0";
    if (!sum_ms(size, join->grace_ms, &retention))
        return "before_ms + after_ms + grace_ms overflows";
    return NULL;
}

/* The processors of a join (KStreamImplJoin.join and StreamStreamJoinNode.writeToTopology):
 * a windowed node under each side, JOINTHIS/JOINOTHER in one graph node under both sides,
 * then the merge. Returns the merge node; *graph_out its graph node. Takes the names over. */
static uint32_t join_processors(eddy_builder *builder, join_names *names, const uint32_t inputs[2],
                                const uint32_t input_graphs[2], const join_stores *stores,
                                const eddy__join *join, eddy_value_joiner_fn joiner, void *opaque,
                                uint32_t *graph_out, const char *function)
{
    uint32_t this_graph = eddy__graph_node_under(builder, &input_graphs[0], 1, function);
    uint32_t this_windowed = eddy__node_new(builder, EDDY__OP_STREAM_JOIN_WINDOW,
                                            names->this_windowed, this_graph, inputs[0], function);
    names->this_windowed = NULL;
    if (this_windowed == EDDY__NONE)
        return EDDY__NONE;
    uint32_t other_graph = eddy__graph_node_under(builder, &input_graphs[1], 1, function);
    uint32_t other_windowed =
        eddy__node_new(builder, EDDY__OP_STREAM_JOIN_WINDOW, names->other_windowed, other_graph,
                       inputs[1], function);
    names->other_windowed = NULL;
    if (other_windowed == EDDY__NONE)
        return EDDY__NONE;
    uint32_t join_graph = eddy__graph_node_under(
        builder, input_graphs, input_graphs[0] == input_graphs[1] ? 1 : 2, function);
    /* Each step takes its name over (freed on failure); the caller frees names not reached. */
    uint32_t this_join = eddy__node_new(builder, EDDY__OP_STREAM_JOIN_THIS, names->this_join,
                                        join_graph, this_windowed, function);
    names->this_join = NULL;
    if (this_join == EDDY__NONE)
        return EDDY__NONE;
    uint32_t other_join = eddy__node_new(builder, EDDY__OP_STREAM_JOIN_OTHER, names->other_join,
                                         join_graph, other_windowed, function);
    names->other_join = NULL;
    if (other_join == EDDY__NONE)
        return EDDY__NONE;
    uint32_t merge =
        eddy__node_new(builder, EDDY__OP_MERGE, names->merge, join_graph, this_join, function);
    names->merge = NULL;
    if (merge == EDDY__NONE || !add_parent(builder, merge, other_join, function))
        return EDDY__NONE;
    /* Kafka's addStateStore calls: this buffer to this-windowed and JOINOTHER, the other
     * buffer to other-windowed and JOINTHIS, the shared store to both joins. */
    if (!connect_stores(builder, this_windowed, stores->this_store, EDDY__NONE, function) ||
        !connect_stores(builder, other_windowed, stores->other_store, EDDY__NONE, function) ||
        !connect_stores(builder, this_join, stores->other_store, stores->outer_store, function) ||
        !connect_stores(builder, other_join, stores->this_store, stores->outer_store, function))
        return EDDY__NONE;
    join_names_free(names);
    join_node_set(&builder->nodes[this_windowed], stores->this_store, EDDY__NONE, EDDY__NONE, join,
                  NULL, NULL);
    join_node_set(&builder->nodes[other_windowed], stores->other_store, EDDY__NONE, EDDY__NONE,
                  join, NULL, NULL);
    join_node_set(&builder->nodes[this_join], stores->this_store, stores->other_store,
                  stores->outer_store, join, joiner, opaque);
    join_node_set(&builder->nodes[other_join], stores->other_store, stores->this_store,
                  stores->outer_store, join, joiner, opaque);
    *graph_out = join_graph;
    return merge;
}

/* The source nodes a join input brings to co-partitioning: the repartition's source when one
 * was made for it (not Kafka's: it names a fresh source that exists only when the repartition
 * was made now; eddy_join_table does the same), else the stream's sources. */
static eddy_err join_sources(const eddy__handle *in, uint32_t input, eddy__ids *sources)
{
    return in->repartition_required
               ? (eddy__ids_contains(sources, input) ? EDDY_OK : eddy__ids_push(sources, input))
               : eddy__ids_copy(sources, &in->source_nodes);
}

/* Kafka's KStreamImpl.doJoin with default StreamJoined and KStreamImplJoin.join. */
static eddy_stream *stream_join(eddy_stream *left, eddy_stream *right, eddy_value_joiner_fn joiner,
                                void *opaque, const eddy__join *join, const char *function)
{
    eddy__handle *in = H(left), *other = H(right);
    bool usable;
    eddy_builder *builder = eddy__handle_builder(in, EDDY__HANDLE_STREAM, function, &usable);
    if (!builder)
        return NULL;
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_STREAM);
    if (!usable ||
        !eddy__same_builder(builder, other, EDDY__HANDLE_STREAM, "the other stream", function))
        return (eddy_stream *)dead;
    const char *problem = joiner ? join_window_problem(join) : "the joiner is NULL";
    if (problem) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: %s (after %s)", function,
                           problem, eddy__node_name(builder, in->node));
        return (eddy_stream *)dead;
    }
    uint32_t graphs[2], inputs[2];
    inputs[0] = eddy__join_input(builder, in, &graphs[0], function);
    inputs[1] = inputs[0] == EDDY__NONE ? EDDY__NONE
                                        : eddy__join_input(builder, other, &graphs[1], function);
    if (inputs[1] == EDDY__NONE)
        return (eddy_stream *)dead;
    eddy__ids sources = {0};
    eddy_err err = join_sources(in, inputs[0], &sources);
    if (err == EDDY_OK)
        err = join_sources(other, inputs[1], &sources);
    if (err == EDDY_OK)
        err = eddy__copartition(builder, &sources);
    if (err != EDDY_OK) {
        eddy__ids_free(&sources);
        eddy__fail_no_memory(builder, function);
        return (eddy_stream *)dead;
    }
    join_names names = {0};
    join_stores stores;
    uint32_t graph = EDDY__NONE, merge = EDDY__NONE;
    if (join_names_new(builder, join->kind, &names, function) &&
        join_stores_new(builder, names.this_join, names.other_join, join, in, other, &stores,
                        function))
        merge = join_processors(builder, &names, inputs, graphs, &stores, join, joiner, opaque,
                                &graph, function);
    join_names_free(&names);
    eddy__handle *out = eddy__stream_handle(builder, NULL, merge, graph, function);
    if (out->dead) {
        eddy__ids_free(&sources);
        return (eddy_stream *)out;
    }
    /* Kafka keeps neither serde (it cannot tell the key serdes apart; C can). */
    out->key_serde = in->key_serde == other->key_serde ? in->key_serde : NULL;
    out->source_nodes = sources;
    return (eddy_stream *)out;
}

eddy_stream *eddy_join_stream(eddy_stream *left, eddy_stream *right, eddy_value_joiner_fn joiner,
                              void *opaque, int64_t before_ms, int64_t after_ms, int64_t grace_ms)
{
    eddy__join join = {EDDY__JOIN_INNER, before_ms, after_ms, grace_ms};
    return stream_join(left, right, joiner, opaque, &join, "eddy_join_stream");
}

eddy_stream *eddy_left_join_stream(eddy_stream *left, eddy_stream *right,
                                   eddy_value_joiner_fn joiner, void *opaque, int64_t before_ms,
                                   int64_t after_ms, int64_t grace_ms)
{
    eddy__join join = {EDDY__JOIN_LEFT, before_ms, after_ms, grace_ms};
    return stream_join(left, right, joiner, opaque, &join, "eddy_left_join_stream");
}

eddy_stream *eddy_outer_join_stream(eddy_stream *left, eddy_stream *right,
                                    eddy_value_joiner_fn joiner, void *opaque, int64_t before_ms,
                                    int64_t after_ms, int64_t grace_ms)
{
    eddy__join join = {EDDY__JOIN_OUTER, before_ms, after_ms, grace_ms};
    return stream_join(left, right, joiner, opaque, &join, "eddy_outer_join_stream");
}

/* ------------------------------------------------------------------------------------------ */
/* Table-table joins                                                                          */

/* One side's join processor: reads the other table through its getter store. */
static uint32_t table_join_side(eddy_builder *builder, eddy__op op, char *name, uint32_t graph,
                                uint32_t table, uint32_t other_table, uint32_t other_store,
                                eddy__join_kind kind, eddy_value_joiner_fn joiner, void *opaque,
                                const char *function)
{
    uint32_t node = eddy__node_new(builder, op, name, graph, table, function);
    if (node == EDDY__NONE || !connect_stores(builder, node, other_store, EDDY__NONE, function))
        return EDDY__NONE;
    eddy__node *n = &builder->nodes[node];
    n->join_store = other_store;
    n->join_table = other_table;
    n->join.kind = kind;
    n->value_joiner = joiner;
    n->opaque = opaque;
    return node;
}

/* Kafka's KTableImpl.doJoin (no Materialized): the merge's name first, co-partitioning, old
 * values from the outer sides, both getters (materializing source tables), then JOINTHIS and
 * JOINOTHER, written with the merge by one graph node under both tables. */
static eddy_table *table_join(eddy_table *left, eddy_table *right, eddy_value_joiner_fn joiner,
                              void *opaque, eddy__join_kind kind, const char *function)
{
    eddy__handle *in = H(left), *other = H(right);
    bool usable;
    eddy_builder *builder = eddy__handle_builder(in, EDDY__HANDLE_TABLE, function, &usable);
    if (!builder)
        return NULL;
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_TABLE);
    if (!usable ||
        !eddy__same_builder(builder, other, EDDY__HANDLE_TABLE, "the other table", function))
        return (eddy_table *)dead;
    if (!joiner) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: the joiner is NULL (after %s)",
                           function, eddy__node_name(builder, in->node));
        return (eddy_table *)dead;
    }
    char *merge_name = eddy__new_processor_name(builder, KTABLE_MERGE);
    eddy__ids sources = {0};
    eddy_err err = eddy__ids_copy(&sources, &in->source_nodes);
    if (err == EDDY_OK)
        err = eddy__ids_copy(&sources, &other->source_nodes);
    if (err == EDDY_OK)
        err = eddy__copartition(builder, &sources);
    if (err != EDDY_OK || !merge_name) {
        eddy__free(merge_name);
        eddy__ids_free(&sources);
        eddy__fail_no_memory(builder, function);
        return (eddy_table *)dead;
    }
    uint32_t left_store = EDDY__NONE, right_store = EDDY__NONE;
    if ((kind == EDDY__JOIN_INNER ||
         eddy__table_send_old_values(builder, in->node, function) == EDDY_OK) &&
        (kind != EDDY__JOIN_OUTER ||
         eddy__table_send_old_values(builder, other->node, function) == EDDY_OK))
        left_store = eddy__table_getter_store(builder, in->node, function);
    if (left_store != EDDY__NONE)
        right_store = eddy__table_getter_store(builder, other->node, function);
    char *this_name = eddy__new_processor_name(builder, KTABLE_JOINTHIS);
    char *other_name = eddy__new_processor_name(builder, KTABLE_JOINOTHER);
    uint32_t graph = EDDY__NONE, merge = EDDY__NONE;
    if (right_store != EDDY__NONE) {
        uint32_t graphs[2] = {in->graph_node, other->graph_node};
        graph = eddy__graph_node_under(builder, graphs, graphs[0] == graphs[1] ? 1 : 2, function);
    }
    /* Each step takes its name over (freed on failure); names not reached are freed below. */
    uint32_t this_join = EDDY__NONE, other_join = EDDY__NONE;
    if (graph != EDDY__NONE) {
        this_join = table_join_side(builder, EDDY__OP_TABLE_JOIN_THIS, this_name, graph, in->node,
                                    other->node, right_store, kind, joiner, opaque, function);
        this_name = NULL;
    }
    if (this_join != EDDY__NONE) {
        other_join =
            table_join_side(builder, EDDY__OP_TABLE_JOIN_OTHER, other_name, graph, other->node,
                            in->node, left_store, kind, joiner, opaque, function);
        other_name = NULL;
    }
    if (other_join != EDDY__NONE) {
        merge = eddy__node_new(builder, EDDY__OP_MERGE, merge_name, graph, this_join, function);
        merge_name = NULL;
        if (merge != EDDY__NONE && !add_parent(builder, merge, other_join, function))
            merge = EDDY__NONE;
    }
    eddy__free(this_name);
    eddy__free(other_name);
    eddy__free(merge_name);
    eddy__handle *out = eddy__table_handle(builder, NULL, merge, graph, function);
    if (out->dead) {
        eddy__ids_free(&sources);
        return (eddy_table *)out;
    }
    out->key_serde = in->key_serde;
    out->source_nodes = sources;
    return (eddy_table *)out;
}

eddy_table *eddy_table_join(eddy_table *left, eddy_table *right, eddy_value_joiner_fn joiner,
                            void *opaque)
{
    return table_join(left, right, joiner, opaque, EDDY__JOIN_INNER, "eddy_table_join");
}

eddy_table *eddy_table_left_join(eddy_table *left, eddy_table *right, eddy_value_joiner_fn joiner,
                                 void *opaque)
{
    return table_join(left, right, joiner, opaque, EDDY__JOIN_LEFT, "eddy_table_left_join");
}

eddy_table *eddy_table_outer_join(eddy_table *left, eddy_table *right, eddy_value_joiner_fn joiner,
                                  void *opaque)
{
    return table_join(left, right, joiner, opaque, EDDY__JOIN_OUTER, "eddy_table_outer_join");
}

/* ------------------------------------------------------------------------------------------ */
/* Cogroup                                                                                    */

/* Adds (or, for a grouped stream already in, replaces: Kafka's LinkedHashMap.put) an input. */
static bool cogroup_input_put(eddy_builder *builder, eddy__handle *cogrouped, eddy__handle *grouped,
                              eddy_aggregator_fn aggregator, void *opaque, const char *function)
{
    for (uint32_t i = 0; i < cogrouped->input_count; i++) {
        if (cogrouped->inputs[i].grouped == grouped) {
            cogrouped->inputs[i].aggregator = aggregator;
            cogrouped->inputs[i].opaque = opaque;
            return true;
        }
    }
    if (cogrouped->input_count >= EDDY__TOPOLOGY_NODES_MAX) {
        eddy__builder_fail(builder, EDDY_ERR_TOO_LARGE, "%s: a cogroup has at most %d inputs",
                           function, EDDY__TOPOLOGY_NODES_MAX);
        return false;
    }
    if (cogrouped->input_count == cogrouped->input_capacity) {
        uint32_t capacity = cogrouped->input_capacity ? cogrouped->input_capacity * 2 : 4;
        void *grown = eddy__realloc(cogrouped->inputs, capacity * sizeof *cogrouped->inputs);
        if (!grown) {
            eddy__fail_no_memory(builder, function);
            return false;
        }
        cogrouped->inputs = grown;
        cogrouped->input_capacity = capacity;
    }
    cogrouped->inputs[cogrouped->input_count++] = (struct eddy__cogroup_input){
        .grouped = grouped,
        .aggregator = aggregator,
        .opaque = opaque,
        .repartition_graph_node = EDDY__NONE,
        .repartition_source = EDDY__NONE,
    };
    return true;
}

eddy_cogrouped_stream *eddy_cogroup(eddy_grouped_stream *grouped_stream,
                                    eddy_aggregator_fn aggregator, void *opaque)
{
    static const char function[] = "eddy_cogroup";
    eddy__handle *grouped = H(grouped_stream);
    bool usable;
    eddy_builder *builder =
        eddy__handle_builder(grouped, EDDY__HANDLE_GROUPED_STREAM, function, &usable);
    if (!builder)
        return NULL;
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_COGROUPED_STREAM);
    if (!usable)
        return (eddy_cogrouped_stream *)dead;
    if (!aggregator) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT,
                           "%s: the aggregator is NULL (grouping %s)", function,
                           eddy__node_name(builder, grouped->node));
        return (eddy_cogrouped_stream *)dead;
    }
    eddy__handle *out = eddy__handle_new(builder, EDDY__HANDLE_COGROUPED_STREAM, function);
    if (out->dead)
        return (eddy_cogrouped_stream *)out;
    out->node = grouped->node;
    out->graph_node = grouped->graph_node;
    if (!cogroup_input_put(builder, out, grouped, aggregator, opaque, function))
        return (eddy_cogrouped_stream *)dead;
    return (eddy_cogrouped_stream *)out;
}

eddy_cogrouped_stream *eddy_cogroup_add(eddy_cogrouped_stream *cogrouped_stream,
                                        eddy_grouped_stream *grouped_stream,
                                        eddy_aggregator_fn aggregator, void *opaque)
{
    static const char function[] = "eddy_cogroup_add";
    eddy__handle *cogrouped = H(cogrouped_stream), *grouped = H(grouped_stream);
    bool usable;
    eddy_builder *builder =
        eddy__handle_builder(cogrouped, EDDY__HANDLE_COGROUPED_STREAM, function, &usable);
    if (!builder)
        return NULL;
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_COGROUPED_STREAM);
    if (!usable || !eddy__same_builder(builder, grouped, EDDY__HANDLE_GROUPED_STREAM,
                                       "the grouped stream", function))
        return (eddy_cogrouped_stream *)dead;
    if (!aggregator) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT,
                           "%s: the aggregator is NULL (grouping %s)", function,
                           eddy__node_name(builder, grouped->node));
        return (eddy_cogrouped_stream *)dead;
    }
    if (!cogroup_input_put(builder, cogrouped, grouped, aggregator, opaque, function))
        return (eddy_cogrouped_stream *)dead;
    return (eddy_cogrouped_stream *)cogrouped;
}

/* CogroupedStreamAggregateBuilder.processRepartitions: each input whose keys changed gets a
 * repartition named after its grouping or the store (three counter values each time), made the
 * first time this cogroup is aggregated and reused (without re-adding it) later. Then Kafka
 * co-partitions the grouped streams' own source nodes (those before any repartition). */
static bool cogroup_repartitions(eddy_builder *builder, eddy__handle *cogrouped, const char *store,
                                 const char *function)
{
    eddy__ids sources = {0};
    eddy_err err = EDDY_OK;
    for (uint32_t i = 0; i < cogrouped->input_count && err == EDDY_OK; i++) {
        struct eddy__cogroup_input *input = &cogrouped->inputs[i];
        eddy__handle *grouped = input->grouped;
        err = eddy__ids_copy(&sources, &grouped->source_nodes);
        if (err != EDDY_OK || !grouped->repartition_required)
            continue;
        eddy__repartition_names names = {0};
        if (!eddy__repartition_names_make(
                builder, grouped->grouped_name ? grouped->grouped_name : store, &names, function))
            goto fail;
        if (input->repartition_graph_node != EDDY__NONE) {
            eddy__repartition_names_free(&names);
            continue;
        }
        uint32_t source = EDDY__NONE;
        uint32_t graph = eddy__repartition_new(builder, grouped->node, grouped->graph_node, &names,
                                               0, true, grouped, &source, function);
        if (graph == EDDY__NONE)
            goto fail;
        input->repartition_graph_node = graph;
        input->repartition_source = source;
    }
    if (err == EDDY_OK)
        err = eddy__copartition(builder, &sources);
    eddy__ids_free(&sources);
    if (err != EDDY_OK)
        eddy__fail_no_memory(builder, function);
    return err == EDDY_OK;
fail:
    eddy__ids_free(&sources);
    return false;
}

/* One COGROUPKSTREAM-AGGREGATE-n under input i (or its repartition); the first makes the store
 * (*store, named store_name), the others connect it. */
static uint32_t cogroup_aggregator(eddy_builder *builder, const eddy__handle *cogrouped, uint32_t i,
                                   const char *store_name, uint32_t *store,
                                   eddy_initializer_fn initializer, void *opaque,
                                   uint32_t *graph_out, const char *function)
{
    const struct eddy__cogroup_input *input = &cogrouped->inputs[i];
    bool repartitioned = input->repartition_graph_node != EDDY__NONE;
    uint32_t parent = repartitioned ? input->repartition_source : input->grouped->node;
    uint32_t parent_graph =
        repartitioned ? input->repartition_graph_node : input->grouped->graph_node;
    char *name = eddy__new_processor_name(builder, COGROUP_AGGREGATE);
    *graph_out = eddy__graph_node_under(builder, &parent_graph, 1, function);
    uint32_t node =
        eddy__node_new(builder, EDDY__OP_COGROUP_AGGREGATE, name, *graph_out, parent, function);
    if (node == EDDY__NONE)
        return EDDY__NONE;
    if (*store == EDDY__NONE) {
        *store = eddy__store_new(builder, store_name, EDDY_STORE_DEFAULT, false, function);
        if (*store == EDDY__NONE)
            return EDDY__NONE;
    }
    if (!connect_stores(builder, node, *store, EDDY__NONE, function))
        return EDDY__NONE;
    eddy__node *n = &builder->nodes[node];
    n->store = *store;
    n->aggregation = EDDY__AGGREGATION_AGGREGATE;
    n->initializer = initializer;
    n->initializer_opaque = opaque;
    n->aggregator = input->aggregator;
    n->opaque = input->opaque;
    return node;
}

/* The key serde the inputs share, or NULL (the default) when they differ. */
static const eddy_serde *cogroup_key_serde(const eddy__handle *cogrouped)
{
    const eddy_serde *serde = cogrouped->inputs[0].grouped->key_serde;
    for (uint32_t i = 1; i < cogrouped->input_count; i++)
        if (cogrouped->inputs[i].grouped->key_serde != serde)
            return NULL;
    return serde;
}

/* Kafka's CogroupedKStreamImpl.aggregate and CogroupedStreamAggregateBuilder.build: the store
 * name, the repartitions, one aggregating processor per input sharing the store, the merge. */
eddy_table *eddy_cogroup_aggregate(eddy_cogrouped_stream *cogrouped_stream,
                                   eddy_initializer_fn initializer, void *opaque,
                                   const char *store_name)
{
    static const char function[] = "eddy_cogroup_aggregate";
    eddy__handle *cogrouped = H(cogrouped_stream);
    bool usable;
    eddy_builder *builder =
        eddy__handle_builder(cogrouped, EDDY__HANDLE_COGROUPED_STREAM, function, &usable);
    if (!builder)
        return NULL;
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_TABLE);
    if (!usable)
        return (eddy_table *)dead;
    if (!initializer) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT,
                           "%s: the initializer is NULL (cogroup of %s)", function,
                           eddy__node_name(builder, cogrouped->node));
        return (eddy_table *)dead;
    }
    char *store_copy =
        eddy__aggregation_store_name(builder, store_name, COGROUP_AGGREGATE, function);
    if (!store_copy || !cogroup_repartitions(builder, cogrouped, store_copy, function)) {
        eddy__free(store_copy);
        return (eddy_table *)dead;
    }
    uint32_t store = EDDY__NONE, first = EDDY__NONE;
    eddy__ids graphs = {0}, aggregators = {0};
    bool ok = true;
    for (uint32_t i = 0; i < cogrouped->input_count && ok; i++) {
        uint32_t graph;
        uint32_t node = cogroup_aggregator(builder, cogrouped, i, store_copy, &store, initializer,
                                           opaque, &graph, function);
        ok = node != EDDY__NONE;
        if (ok && (eddy__ids_push(&graphs, graph) != EDDY_OK ||
                   eddy__ids_push(&aggregators, node) != EDDY_OK)) {
            eddy__fail_no_memory(builder, function);
            ok = false;
        }
        cogrouped->inputs[i].grouped->aggregated = true;
    }
    eddy__free(store_copy);
    uint32_t merge = EDDY__NONE, graph = EDDY__NONE;
    if (ok) {
        char *name = eddy__new_processor_name(builder, COGROUP_MERGE);
        first = aggregators.items[0];
        graph = eddy__graph_node_under(builder, graphs.items, graphs.count, function);
        merge = eddy__node_new(builder, EDDY__OP_MERGE, name, graph, first, function);
        for (uint32_t i = 1; i < aggregators.count && merge != EDDY__NONE; i++)
            if (!add_parent(builder, merge, aggregators.items[i], function))
                merge = EDDY__NONE;
    }
    eddy__ids_free(&graphs);
    eddy__ids_free(&aggregators);
    eddy__handle *out = eddy__table_handle(builder, NULL, merge, graph, function);
    if (out->dead)
        return (eddy_table *)out;
    out->key_serde = cogroup_key_serde(cogrouped);
    out->store = store;
    builder->stores[store].key_serde = out->key_serde;
    /* Kafka's cogrouped table names its merge as its only "source node" (a processor, which
     * co-partitioning then ignores). */
    if (eddy__ids_push(&out->source_nodes, merge) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return (eddy_table *)dead;
    }
    return (eddy_table *)out;
}
