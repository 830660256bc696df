/* Tests for the time-based DSL (include/eddy/windows.h, src/topology/windows.c): windowed and
 * session aggregations, suppression, stream-stream and table-table joins and cogroup, as
 * topologies (names, counter values, sub-topologies, repartitions, descriptions) and as the
 * node and store fields the runtime reads; the windowed-key decoders; misuse and allocation
 * failures.
 *
 * Most expected descriptions are Kafka Streams' own, copied from the assertions of its unit
 * tests (apache/kafka trunk, Oct 2024), cited at each test with the Java DSL calls; the others
 * are assembled by the same rules and say so. */
#include "test.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "eddy/streams.h"
#include "eddy/windows.h"
#include "topology/topology.h"

/* ---- callbacks (never called: the runtime calls them) ---- */

static bool always(const eddy_record *record, void *opaque)
{
    (void)record;
    (void)opaque;
    return true;
}

static void mapper(eddy_ctx *ctx, const eddy_record *record, void *opaque)
{
    (void)ctx;
    (void)record;
    (void)opaque;
}

static void key_of(eddy_ctx *ctx, const eddy_record *record, void *opaque)
{
    (void)ctx;
    (void)record;
    (void)opaque;
}

static void init(eddy_ctx *ctx, void *opaque)
{
    (void)ctx;
    (void)opaque;
}

static void aggregator(eddy_ctx *ctx, const eddy_record *record, eddy_slice aggregate, void *opaque)
{
    (void)ctx;
    (void)record;
    (void)aggregate;
    (void)opaque;
}

static void other_aggregator(eddy_ctx *ctx, const eddy_record *record, eddy_slice aggregate,
                             void *opaque)
{
    (void)ctx;
    (void)record;
    (void)aggregate;
    (void)opaque;
}

static void reducer(eddy_ctx *ctx, eddy_slice aggregate, const eddy_record *value, void *opaque)
{
    (void)ctx;
    (void)aggregate;
    (void)value;
    (void)opaque;
}

static void merger(eddy_ctx *ctx, const eddy_record *key, eddy_slice left, eddy_slice right,
                   void *opaque)
{
    (void)ctx;
    (void)key;
    (void)left;
    (void)right;
    (void)opaque;
}

static void value_joiner(eddy_ctx *ctx, const eddy_record *left, eddy_slice left_value,
                         eddy_slice right_value, void *opaque)
{
    (void)ctx;
    (void)left;
    (void)left_value;
    (void)right_value;
    (void)opaque;
}

static void joiner(eddy_ctx *ctx, const eddy_record *left, eddy_slice right, void *opaque)
{
    (void)ctx;
    (void)left;
    (void)right;
    (void)opaque;
}

/* ---- helpers ---- */

/* noinline: inlined at -O3, gcc 12 mistakes the returned text for a pointer to the local */
__attribute__((noinline)) static char *describe(eddy_builder *b)
{
    char *text = NULL;
    EXPECT_OK(eddy_builder_describe(b, &text));
    EXPECT_TRUE(text != NULL);
    return text;
}

/* Compares a description with the expected text, printing both on a mismatch. */
#define EXPECT_DESCRIBES(b, expected)                                                              \
    do {                                                                                           \
        char *eddy_test_text_ = describe(b);                                                       \
        if (strcmp(eddy_test_text_, (expected)) != 0) {                                            \
            fprintf(stderr, "---- got ----\n%s---- expected ----\n%s----\n", eddy_test_text_,      \
                    (expected));                                                                   \
            EXPECT_STREQ(eddy_test_text_, (expected));                                             \
        }                                                                                          \
        eddy_free(eddy_test_text_);                                                                \
    } while (0)

static const eddy__topology *build(eddy_builder *b)
{
    const eddy__topology *topology = NULL;
    EXPECT_OK(eddy__builder_build(b, &topology));
    return topology;
}

static uint32_t node_index(const eddy__topology *t, const char *name)
{
    for (uint32_t i = 0; i < t->node_count; i++)
        if (strcmp(t->nodes[i].name, name) == 0)
            return i;
    eddy_test_fail(__FILE__, __LINE__, "no processor named %s", name);
}

static const eddy__node *node_named(const eddy__topology *t, const char *name)
{
    return &t->nodes[node_index(t, name)];
}

static uint32_t store_index(const eddy__topology *t, const char *name)
{
    for (uint32_t i = 0; i < t->store_count; i++)
        if (strcmp(t->stores[i].name, name) == 0)
            return i;
    eddy_test_fail(__FILE__, __LINE__, "no store named %s", name);
}

static const eddy__store *store_named(const eddy__topology *t, const char *name)
{
    return &t->stores[store_index(t, name)];
}

/* The names of a node's parents, joined by ", " (parents in Kafka's predecessor order). */
static void expect_parents(const eddy__topology *t, const char *node, const char *expected)
{
    const eddy__node *n = node_named(t, node);
    char names[1024] = "";
    for (uint32_t i = 0; i < n->parents.count; i++) {
        if (i)
            strcat(names, ", ");
        strcat(names, t->nodes[n->parents.items[i]].name);
    }
    EXPECT_STREQ(names, expected);
}

/* ---- windowed aggregations ---- */

/* TopologyTest.timeWindowZeroArgCountShouldPreserveTopologyStructure:
 *     builder.stream("input-topic").groupByKey()
 *            .windowedBy(TimeWindows.ofSizeWithNoGrace(ofMillis(1))).count();
 * The store name takes 1 (MaterializedInternal), the processor 2. */
TEST(kafka_time_windowed_count)
{
    eddy_builder *b = eddy_builder_new();
    eddy_grouped_stream *g = eddy_group_by_key(eddy_stream_from(b, "input-topic", NULL, NULL));
    eddy_table *counts = eddy_windowed_count(eddy_windowed_by_time(g, 1, 1, 0), NULL);
    EXPECT_TRUE(counts != NULL);
    EXPECT_DESCRIBES(b, "Topologies:\n"
                        "   Sub-topology: 0\n"
                        "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])\n"
                        "      --> KSTREAM-AGGREGATE-0000000002\n"
                        "    Processor: KSTREAM-AGGREGATE-0000000002 (stores: "
                        "[KSTREAM-AGGREGATE-STATE-STORE-0000000001])\n"
                        "      --> none\n"
                        "      <-- KSTREAM-SOURCE-0000000000\n\n");
    eddy_builder_destroy(b);

    /* TopologyTest.timeWindowNamedMaterializedCountShouldPreserveTopologyStructure:
     *     .count(Materialized.as("count-store")...): no store name generated. */
    b = eddy_builder_new();
    g = eddy_group_by_key(eddy_stream_from(b, "input-topic", eddy_serde_string(), NULL));
    eddy_windowed_count(eddy_windowed_by_time(g, 60000, 10000, 5000), "count-store");
    EXPECT_DESCRIBES(b, "Topologies:\n"
                        "   Sub-topology: 0\n"
                        "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])\n"
                        "      --> KSTREAM-AGGREGATE-0000000001\n"
                        "    Processor: KSTREAM-AGGREGATE-0000000001 (stores: [count-store])\n"
                        "      --> none\n"
                        "      <-- KSTREAM-SOURCE-0000000000\n\n");
    /* What the runtime reads: the windows, the aggregation and a window store kept for size +
     * grace (Kafka's WindowStoreMaterializer default). */
    const eddy__topology *t = build(b);
    const eddy__node *aggregate = node_named(t, "KSTREAM-AGGREGATE-0000000001");
    EXPECT_EQ(aggregate->op, EDDY__OP_WINDOW_AGGREGATE);
    EXPECT_EQ(aggregate->aggregation, EDDY__AGGREGATION_COUNT);
    EXPECT_EQ(aggregate->window.size_ms, 60000);
    EXPECT_EQ(aggregate->window.advance_ms, 10000);
    EXPECT_EQ(aggregate->window.gap_ms, 0);
    EXPECT_EQ(aggregate->window.grace_ms, 5000);
    EXPECT_EQ(aggregate->store, store_index(t, "count-store"));
    EXPECT_EQ(aggregate->stores.count, 1);
    const eddy__store *store = store_named(t, "count-store");
    EXPECT_EQ(store->type, EDDY__STORE_WINDOW);
    EXPECT_EQ(store->retention_ms, 65000);
    EXPECT_TRUE(store->caching);
    EXPECT_TRUE(store->changelog);
    EXPECT_TRUE(!store->retain_duplicates);
    EXPECT_TRUE(store->key_serde == eddy_serde_string()); /* the record key's */
    EXPECT_TRUE(store->value_serde == eddy_serde_int64());
    eddy_builder_destroy(b);
}

/* Sliding windows: the shape of Kafka's
 * TopologyTest.slidingWindowZeroArgCountWithTopologyConfigShouldPreserveTopologyStructure
 * (.windowedBy(SlidingWindows.ofTimeDifferenceWithNoGrace(ofMillis(1))).count()), whose header
 * names its topology ("Topology: my-topology:"); an unnamed topology prints "Topologies:". The
 * store keeps 2 * time difference + grace (SlidingWindowStoreMaterializer). */
TEST(kafka_sliding_windowed_count)
{
    eddy_builder *b = eddy_builder_new();
    eddy_grouped_stream *g = eddy_group_by_key(eddy_stream_from(b, "input-topic", NULL, NULL));
    eddy_windowed_count(eddy_windowed_by_sliding(g, 1, 0), NULL);
    EXPECT_DESCRIBES(b, "Topologies:\n"
                        "   Sub-topology: 0\n"
                        "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])\n"
                        "      --> KSTREAM-AGGREGATE-0000000002\n"
                        "    Processor: KSTREAM-AGGREGATE-0000000002 (stores: "
                        "[KSTREAM-AGGREGATE-STATE-STORE-0000000001])\n"
                        "      --> none\n"
                        "      <-- KSTREAM-SOURCE-0000000000\n\n");
    eddy_builder_destroy(b);

    b = eddy_builder_new();
    int tag = 3;
    g = eddy_group_by_key(eddy_stream_from(b, "in", NULL, eddy_serde_string()));
    eddy_table *reduced =
        eddy_windowed_reduce(eddy_windowed_by_sliding(g, 100, 30), reducer, &tag, "sliding-store");
    eddy_table *aggregated =
        eddy_windowed_aggregate(eddy_windowed_by_sliding(g, 0, 0), init, aggregator, &tag, NULL);
    (void)reduced;
    (void)aggregated;
    const eddy__topology *t = build(b);
    /* Reduce is KSTREAM-REDUCE-n (store name none: user's); aggregate generates its store. */
    const eddy__node *reduce = node_named(t, "KSTREAM-REDUCE-0000000001");
    EXPECT_EQ(reduce->op, EDDY__OP_SLIDING_AGGREGATE);
    EXPECT_EQ(reduce->aggregation, EDDY__AGGREGATION_REDUCE);
    EXPECT_TRUE(reduce->reducer == reducer);
    EXPECT_TRUE(reduce->opaque == &tag);
    EXPECT_EQ(reduce->window.size_ms, 100);
    EXPECT_EQ(reduce->window.advance_ms, 0);
    EXPECT_EQ(reduce->window.grace_ms, 30);
    EXPECT_EQ(store_named(t, "sliding-store")->type, EDDY__STORE_WINDOW);
    EXPECT_EQ(store_named(t, "sliding-store")->retention_ms, 230);
    EXPECT_TRUE(store_named(t, "sliding-store")->value_serde == eddy_serde_string());
    const eddy__node *aggregate = node_named(t, "KSTREAM-AGGREGATE-0000000003");
    EXPECT_EQ(aggregate->aggregation, EDDY__AGGREGATION_AGGREGATE);
    EXPECT_TRUE(aggregate->initializer == init);
    EXPECT_TRUE(aggregate->aggregator == aggregator);
    EXPECT_EQ(store_named(t, "KSTREAM-AGGREGATE-STATE-STORE-0000000002")->retention_ms, 0);
    eddy_builder_destroy(b);
}

/* Session windows after a key change: the first half of Kafka's
 * SuppressTopologyTest.ANONYMOUS_FINAL_TOPOLOGY (see kafka_suppress_until_window_closes), and
 * the fields: a session store kept for gap + grace (SessionStoreMaterializer). */
TEST(session_aggregations)
{
    eddy_builder *b = eddy_builder_new();
    int tag = 5;
    eddy_grouped_stream *g = eddy_group_by(eddy_stream_from(b, "input", NULL, NULL), key_of, NULL);
    eddy_table *sessions = eddy_session_aggregate(eddy_windowed_by_session(g, 300, 60), init,
                                                  aggregator, merger, &tag, "sessions");
    eddy_to(eddy_to_stream(sessions), "out");
    EXPECT_DESCRIBES(b, "Topologies:\n"
                        "   Sub-topology: 0\n"
                        "    Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n"
                        "      --> KSTREAM-KEY-SELECT-0000000001\n"
                        "    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])\n"
                        "      --> sessions-repartition-filter\n"
                        "      <-- KSTREAM-SOURCE-0000000000\n"
                        "    Processor: sessions-repartition-filter (stores: [])\n"
                        "      --> sessions-repartition-sink\n"
                        "      <-- KSTREAM-KEY-SELECT-0000000001\n"
                        "    Sink: sessions-repartition-sink (topic: sessions-repartition)\n"
                        "      <-- sessions-repartition-filter\n"
                        "\n"
                        "  Sub-topology: 1\n"
                        "    Source: sessions-repartition-source (topics: [sessions-repartition])\n"
                        "      --> KSTREAM-AGGREGATE-0000000002\n"
                        "    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [sessions])\n"
                        "      --> KTABLE-TOSTREAM-0000000006\n"
                        "      <-- sessions-repartition-source\n"
                        "    Processor: KTABLE-TOSTREAM-0000000006 (stores: [])\n"
                        "      --> KSTREAM-SINK-0000000007\n"
                        "      <-- KSTREAM-AGGREGATE-0000000002\n"
                        "    Sink: KSTREAM-SINK-0000000007 (topic: out)\n"
                        "      <-- KTABLE-TOSTREAM-0000000006\n"
                        "\n");
    const eddy__topology *t = build(b);
    const eddy__node *aggregate = node_named(t, "KSTREAM-AGGREGATE-0000000002");
    EXPECT_EQ(aggregate->op, EDDY__OP_SESSION_AGGREGATE);
    EXPECT_EQ(aggregate->aggregation, EDDY__AGGREGATION_AGGREGATE);
    EXPECT_EQ(aggregate->window.gap_ms, 300);
    EXPECT_EQ(aggregate->window.grace_ms, 60);
    EXPECT_EQ(aggregate->window.size_ms, 0);
    EXPECT_TRUE(aggregate->merger == merger);
    EXPECT_TRUE(aggregate->initializer == init);
    EXPECT_TRUE(aggregate->aggregator == aggregator);
    EXPECT_TRUE(aggregate->opaque == &tag);
    const eddy__store *store = store_named(t, "sessions");
    EXPECT_EQ(store->type, EDDY__STORE_SESSION);
    EXPECT_EQ(store->retention_ms, 360);
    EXPECT_TRUE(!store->caching); /* sessions scan their store per record: uncached */
    EXPECT_TRUE(store->changelog);
    /* Windowed keys are not the record key's serde: the table passes them as bytes. */
    EXPECT_TRUE(node_named(t, "KSTREAM-SINK-0000000007")->key_serde == eddy_serde_bytes());
    eddy_builder_destroy(b);

    /* Count and reduce: no merger (the runtime merges counts by adding, reductions by the
     * reducer, as Kafka's countMerger and mergerForAggregator). */
    b = eddy_builder_new();
    g = eddy_group_by_key(eddy_stream_from(b, "in", NULL, NULL));
    eddy_session_count(eddy_windowed_by_session(g, 10, 0), NULL);
    eddy_session_reduce(eddy_windowed_by_session(g, 10, 0), reducer, NULL, NULL);
    t = build(b);
    EXPECT_EQ(node_named(t, "KSTREAM-AGGREGATE-0000000002")->aggregation, EDDY__AGGREGATION_COUNT);
    EXPECT_TRUE(node_named(t, "KSTREAM-AGGREGATE-0000000002")->merger == NULL);
    EXPECT_EQ(node_named(t, "KSTREAM-REDUCE-0000000004")->op, EDDY__OP_SESSION_AGGREGATE);
    EXPECT_EQ(store_named(t, "KSTREAM-REDUCE-STATE-STORE-0000000003")->type, EDDY__STORE_SESSION);
    EXPECT_EQ(store_named(t, "KSTREAM-REDUCE-STATE-STORE-0000000003")->retention_ms, 10);
    eddy_builder_destroy(b);
}

/* A windowed stream shares its grouped stream's repartition (Kafka's windowed streams share the
 * KGroupedStream's GroupedStreamAggregateBuilder): a named grouping makes one repartition for
 * a windowed and a plain count, each burning three counter values. */
TEST(windowed_aggregations_share_the_grouping_repartition)
{
    eddy_builder *b = eddy_builder_new();
    eddy_grouped_stream *g = eddy_grouped_named(
        eddy_group_by_key(eddy_map(eddy_stream_from(b, "in", NULL, NULL), mapper, NULL)), "by");
    eddy_windowed_count(eddy_windowed_by_time(g, 10, 10, 0), NULL);
    eddy_count(g, NULL);
    const eddy__topology *t = build(b);
    /* map 1; windowed: store 2, processor 3, repartition 4-6; count: store 7, 8, 9-11. */
    expect_parents(t, "KSTREAM-AGGREGATE-0000000003", "by-repartition-source");
    expect_parents(t, "KSTREAM-AGGREGATE-0000000008", "by-repartition-source");
    uint32_t internal = 0;
    for (uint32_t i = 0; i < t->topic_count; i++)
        internal += t->topics[i].internal;
    EXPECT_EQ(internal, 1);
    EXPECT_EQ(t->subtopology_count, 2);
    eddy_builder_destroy(b);
}

/* ---- suppression ---- */

/* SuppressTopologyTest.shouldUseNumberingForAnonymousFinalSuppressionNode:
 *     .groupBy((k, v) -> k, Grouped.with(...))
 *     .windowedBy(SessionWindows.ofInactivityGapAndGrace(ofMillis(5L), ofMillis(5L)))
 *     .count(Materialized.as("counts").withCachingDisabled())
 *     .suppress(untilWindowCloses(unbounded())).toStream()
 *     .map((k, v) -> new KeyValue<>(k.toString(), v)).to("output-suppressed", ...); */
TEST(kafka_suppress_until_window_closes)
{
    eddy_builder *b = eddy_builder_new();
    eddy_grouped_stream *g = eddy_group_by(eddy_stream_from(b, "input", NULL, NULL), key_of, NULL);
    eddy_table *counts = eddy_session_count(eddy_windowed_by_session(g, 5, 5), "counts");
    eddy_table *final =
        eddy_suppress_until_window_closes(counts, 0, 0, EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL);
    eddy_to(eddy_map(eddy_to_stream(final), mapper, NULL), "output-suppressed");
    EXPECT_DESCRIBES(b, "Topologies:\n"
                        "   Sub-topology: 0\n"
                        "    Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n"
                        "      --> KSTREAM-KEY-SELECT-0000000001\n"
                        "    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])\n"
                        "      --> counts-repartition-filter\n"
                        "      <-- KSTREAM-SOURCE-0000000000\n"
                        "    Processor: counts-repartition-filter (stores: [])\n"
                        "      --> counts-repartition-sink\n"
                        "      <-- KSTREAM-KEY-SELECT-0000000001\n"
                        "    Sink: counts-repartition-sink (topic: counts-repartition)\n"
                        "      <-- counts-repartition-filter\n"
                        "\n"
                        "  Sub-topology: 1\n"
                        "    Source: counts-repartition-source (topics: [counts-repartition])\n"
                        "      --> KSTREAM-AGGREGATE-0000000002\n"
                        "    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [counts])\n"
                        "      --> KTABLE-SUPPRESS-0000000006\n"
                        "      <-- counts-repartition-source\n"
                        "    Processor: KTABLE-SUPPRESS-0000000006 (stores: "
                        "[KTABLE-SUPPRESS-STATE-STORE-0000000007])\n"
                        "      --> KTABLE-TOSTREAM-0000000008\n"
                        "      <-- KSTREAM-AGGREGATE-0000000002\n"
                        "    Processor: KTABLE-TOSTREAM-0000000008 (stores: [])\n"
                        "      --> KSTREAM-MAP-0000000009\n"
                        "      <-- KTABLE-SUPPRESS-0000000006\n"
                        "    Processor: KSTREAM-MAP-0000000009 (stores: [])\n"
                        "      --> KSTREAM-SINK-0000000010\n"
                        "      <-- KTABLE-TOSTREAM-0000000008\n"
                        "    Sink: KSTREAM-SINK-0000000010 (topic: output-suppressed)\n"
                        "      <-- KSTREAM-MAP-0000000009\n"
                        "\n");
    const eddy__topology *t = build(b);
    const eddy__node *suppress = node_named(t, "KTABLE-SUPPRESS-0000000006");
    EXPECT_EQ(suppress->op, EDDY__OP_SUPPRESS);
    EXPECT_EQ(suppress->suppress.time_limit_ms, -1);
    EXPECT_EQ(suppress->suppress.window_node, node_index(t, "KSTREAM-AGGREGATE-0000000002"));
    EXPECT_EQ(suppress->suppress.max_records, 0);
    EXPECT_EQ(suppress->suppress.max_bytes, 0);
    EXPECT_EQ(suppress->suppress.when_full, EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL);
    EXPECT_EQ(suppress->store, store_index(t, "KTABLE-SUPPRESS-STATE-STORE-0000000007"));
    const eddy__store *buffer = store_named(t, "KTABLE-SUPPRESS-STATE-STORE-0000000007");
    EXPECT_EQ(buffer->type, EDDY__STORE_BUFFER);
    EXPECT_TRUE(!buffer->caching);
    EXPECT_TRUE(buffer->changelog);
    EXPECT_EQ(buffer->retention_ms, -1);
    eddy_builder_destroy(b);
}

/* SuppressTopologyTest.shouldUseNumberingForAnonymousSuppressionNode:
 *     .groupByKey().count().suppress(untilTimeLimit(Duration.ofSeconds(1), unbounded()))
 *     .toStream().to("output", ...); */
TEST(kafka_suppress_until_time_limit)
{
    eddy_builder *b = eddy_builder_new();
    eddy_table *counts =
        eddy_count(eddy_group_by_key(eddy_stream_from(b, "input", NULL, NULL)), NULL);
    eddy_table_to(
        eddy_suppress_until_time_limit(counts, 1000, 100, 4096, EDDY_SUPPRESS_EMIT_EARLY_WHEN_FULL),
        "output");
    EXPECT_DESCRIBES(b, "Topologies:\n"
                        "   Sub-topology: 0\n"
                        "    Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n"
                        "      --> KSTREAM-AGGREGATE-0000000002\n"
                        "    Processor: KSTREAM-AGGREGATE-0000000002 (stores: "
                        "[KSTREAM-AGGREGATE-STATE-STORE-0000000001])\n"
                        "      --> KTABLE-SUPPRESS-0000000003\n"
                        "      <-- KSTREAM-SOURCE-0000000000\n"
                        "    Processor: KTABLE-SUPPRESS-0000000003 (stores: "
                        "[KTABLE-SUPPRESS-STATE-STORE-0000000004])\n"
                        "      --> KTABLE-TOSTREAM-0000000005\n"
                        "      <-- KSTREAM-AGGREGATE-0000000002\n"
                        "    Processor: KTABLE-TOSTREAM-0000000005 (stores: [])\n"
                        "      --> KSTREAM-SINK-0000000006\n"
                        "      <-- KTABLE-SUPPRESS-0000000003\n"
                        "    Sink: KSTREAM-SINK-0000000006 (topic: output)\n"
                        "      <-- KTABLE-TOSTREAM-0000000005\n"
                        "\n");
    const eddy__topology *t = build(b);
    const eddy__node *suppress = node_named(t, "KTABLE-SUPPRESS-0000000003");
    EXPECT_EQ(suppress->suppress.time_limit_ms, 1000);
    EXPECT_EQ(suppress->suppress.window_node, EDDY__NONE);
    EXPECT_EQ(suppress->suppress.max_records, 100);
    EXPECT_EQ(suppress->suppress.max_bytes, 4096);
    EXPECT_EQ(suppress->suppress.when_full, EDDY_SUPPRESS_EMIT_EARLY_WHEN_FULL);
    eddy_builder_destroy(b);

    /* Suppressing a source table makes it send old values: Kafka's
     * KTableSuppressProcessorSupplier materializes the source table. */
    b = eddy_builder_new();
    eddy_table_to(eddy_suppress_until_time_limit(eddy_table_from(b, "t", NULL, NULL, NULL), 0, 0, 0,
                                                 EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL),
                  "out");
    t = build(b);
    EXPECT_EQ(node_named(t, "KTABLE-SOURCE-0000000002")->store,
              store_index(t, "t-STATE-STORE-0000000000"));
    eddy_builder_destroy(b);
}

/* Kafka's GraphGraceSearchUtil: the window is found up through table operators; through a join
 * of windowed tables every side must be windowed and the latest-closing windows win (a session
 * closes gap + grace after its end). */
TEST(suppress_finds_the_windows_upstream)
{
    eddy_builder *b = eddy_builder_new();
    eddy_grouped_stream *g = eddy_group_by_key(eddy_stream_from(b, "in", NULL, NULL));
    eddy_table *time = eddy_windowed_count(eddy_windowed_by_time(g, 100, 100, 20), NULL);
    eddy_table *sessions = eddy_session_count(eddy_windowed_by_session(g, 30, 10), NULL);
    eddy_table *filtered = eddy_table_filter(time, always, NULL);
    eddy_suppress_until_window_closes(filtered, 0, 0, EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL);
    eddy_table *joined = eddy_table_join(time, sessions, value_joiner, NULL);
    eddy_suppress_until_window_closes(joined, 0, 0, EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL);
    const eddy__topology *t = build(b);
    /* time: store 1, processor 2; sessions: 3, 4; filter 5; suppress 6 (store 7); join: merge
     * 8, this 9, other 10; suppress 11. */
    EXPECT_EQ(node_named(t, "KTABLE-SUPPRESS-0000000006")->suppress.window_node,
              node_index(t, "KSTREAM-AGGREGATE-0000000002"));
    EXPECT_EQ(node_named(t, "KTABLE-SUPPRESS-0000000011")->suppress.window_node,
              node_index(t, "KSTREAM-AGGREGATE-0000000004"));
    eddy_builder_destroy(b);
}

/* ---- stream-stream joins ---- */

/* TopologyTest.streamStreamJoinTopologyWithDefaultStoresNames:
 *     stream1 = builder.stream("input-topic1"); stream2 = builder.stream("input-topic2");
 *     stream1.join(stream2, joiner, JoinWindows.of(ofMillis(100)), StreamJoined.with(...)); */
TEST(kafka_stream_stream_inner_join)
{
    eddy_builder *b = eddy_builder_new();
    int tag = 9;
    eddy_stream *s1 = eddy_stream_from(b, "input-topic1", eddy_serde_int32(), NULL);
    eddy_stream *s2 = eddy_stream_from(b, "input-topic2", eddy_serde_int32(), NULL);
    eddy_stream *joined = eddy_join_stream(s1, s2, value_joiner, &tag, 100, 100, 0);
    EXPECT_DESCRIBES(b, "Topologies:\n"
                        "   Sub-topology: 0\n"
                        "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])\n"
                        "      --> KSTREAM-WINDOWED-0000000002\n"
                        "    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])\n"
                        "      --> KSTREAM-WINDOWED-0000000003\n"
                        "    Processor: KSTREAM-WINDOWED-0000000002 (stores: "
                        "[KSTREAM-JOINTHIS-0000000004-store])\n"
                        "      --> KSTREAM-JOINTHIS-0000000004\n"
                        "      <-- KSTREAM-SOURCE-0000000000\n"
                        "    Processor: KSTREAM-WINDOWED-0000000003 (stores: "
                        "[KSTREAM-JOINOTHER-0000000005-store])\n"
                        "      --> KSTREAM-JOINOTHER-0000000005\n"
                        "      <-- KSTREAM-SOURCE-0000000001\n"
                        "    Processor: KSTREAM-JOINOTHER-0000000005 (stores: "
                        "[KSTREAM-JOINTHIS-0000000004-store])\n"
                        "      --> KSTREAM-MERGE-0000000006\n"
                        "      <-- KSTREAM-WINDOWED-0000000003\n"
                        "    Processor: KSTREAM-JOINTHIS-0000000004 (stores: "
                        "[KSTREAM-JOINOTHER-0000000005-store])\n"
                        "      --> KSTREAM-MERGE-0000000006\n"
                        "      <-- KSTREAM-WINDOWED-0000000002\n"
                        "    Processor: KSTREAM-MERGE-0000000006 (stores: [])\n"
                        "      --> none\n"
                        "      <-- KSTREAM-JOINTHIS-0000000004, KSTREAM-JOINOTHER-0000000005\n\n");
    const eddy__topology *t = build(b);
    uint32_t this_store = store_index(t, "KSTREAM-JOINTHIS-0000000004-store");
    uint32_t other_store = store_index(t, "KSTREAM-JOINOTHER-0000000005-store");
    const eddy__node *this_windowed = node_named(t, "KSTREAM-WINDOWED-0000000002");
    EXPECT_EQ(this_windowed->op, EDDY__OP_STREAM_JOIN_WINDOW);
    EXPECT_EQ(this_windowed->store, this_store);
    EXPECT_EQ(node_named(t, "KSTREAM-WINDOWED-0000000003")->store, other_store);
    const eddy__node *this_join = node_named(t, "KSTREAM-JOINTHIS-0000000004");
    EXPECT_EQ(this_join->op, EDDY__OP_STREAM_JOIN_THIS);
    EXPECT_EQ(this_join->store, this_store);
    EXPECT_EQ(this_join->join_store, other_store);
    EXPECT_EQ(this_join->outer_store, EDDY__NONE);
    EXPECT_EQ(this_join->join.kind, EDDY__JOIN_INNER);
    EXPECT_EQ(this_join->join.before_ms, 100);
    EXPECT_EQ(this_join->join.after_ms, 100);
    EXPECT_EQ(this_join->join.grace_ms, 0);
    EXPECT_TRUE(this_join->value_joiner == value_joiner);
    EXPECT_TRUE(this_join->opaque == &tag);
    const eddy__node *other_join = node_named(t, "KSTREAM-JOINOTHER-0000000005");
    EXPECT_EQ(other_join->op, EDDY__OP_STREAM_JOIN_OTHER);
    EXPECT_EQ(other_join->store, other_store);
    EXPECT_EQ(other_join->join_store, this_store);
    EXPECT_TRUE(other_join->value_joiner == value_joiner);
    EXPECT_EQ(node_named(t, "KSTREAM-MERGE-0000000006")->op, EDDY__OP_MERGE);
    for (uint32_t i = 0; i < 2; i++) {
        const eddy__store *store = &t->stores[i == 0 ? this_store : other_store];
        EXPECT_EQ(store->type, EDDY__STORE_WINDOW);
        EXPECT_EQ(store->retention_ms, 200); /* before + after + grace */
        EXPECT_TRUE(store->retain_duplicates);
        EXPECT_TRUE(!store->caching);
        EXPECT_TRUE(store->changelog);
    }
    EXPECT_EQ(t->store_count, 2);
    /* The inputs are co-partitioned; the joined stream keeps the key serde both share. */
    EXPECT_EQ(t->copartition_group_count, 1);
    EXPECT_EQ(t->copartition_groups[0].count, 2);
    EXPECT_TRUE(((eddy__handle *)(void *)joined)->key_serde == eddy_serde_int32());
    eddy_builder_destroy(b);
}

/* TopologyTest.streamStreamLeftJoinTopologyWithDefaultStoresNames:
 *     stream1.leftJoin(stream2, joiner, JoinWindows.ofTimeDifferenceWithNoGrace(ofMillis(100)),
 *                      StreamJoined.with(...));
 * A left join names its other side OUTEROTHER and shares KSTREAM-OUTERSHARED-<this n>-store. */
TEST(kafka_stream_stream_left_join)
{
    eddy_builder *b = eddy_builder_new();
    eddy_stream *s1 = eddy_stream_from(b, "input-topic1", NULL, NULL);
    eddy_stream *s2 = eddy_stream_from(b, "input-topic2", NULL, NULL);
    eddy_left_join_stream(s1, s2, value_joiner, NULL, 100, 100, 0);
    EXPECT_DESCRIBES(
        b, "Topologies:\n"
           "   Sub-topology: 0\n"
           "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])\n"
           "      --> KSTREAM-WINDOWED-0000000002\n"
           "    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])\n"
           "      --> KSTREAM-WINDOWED-0000000003\n"
           "    Processor: KSTREAM-WINDOWED-0000000002 (stores: "
           "[KSTREAM-JOINTHIS-0000000004-store])\n"
           "      --> KSTREAM-JOINTHIS-0000000004\n"
           "      <-- KSTREAM-SOURCE-0000000000\n"
           "    Processor: KSTREAM-WINDOWED-0000000003 (stores: "
           "[KSTREAM-OUTEROTHER-0000000005-store])\n"
           "      --> KSTREAM-OUTEROTHER-0000000005\n"
           "      <-- KSTREAM-SOURCE-0000000001\n"
           "    Processor: KSTREAM-JOINTHIS-0000000004 (stores: "
           "[KSTREAM-OUTEROTHER-0000000005-store, KSTREAM-OUTERSHARED-0000000004-store])\n"
           "      --> KSTREAM-MERGE-0000000006\n"
           "      <-- KSTREAM-WINDOWED-0000000002\n"
           "    Processor: KSTREAM-OUTEROTHER-0000000005 (stores: "
           "[KSTREAM-JOINTHIS-0000000004-store, KSTREAM-OUTERSHARED-0000000004-store])\n"
           "      --> KSTREAM-MERGE-0000000006\n"
           "      <-- KSTREAM-WINDOWED-0000000003\n"
           "    Processor: KSTREAM-MERGE-0000000006 (stores: [])\n"
           "      --> none\n"
           "      <-- KSTREAM-JOINTHIS-0000000004, KSTREAM-OUTEROTHER-0000000005\n\n");
    const eddy__topology *t = build(b);
    uint32_t outer = store_index(t, "KSTREAM-OUTERSHARED-0000000004-store");
    const eddy__node *this_join = node_named(t, "KSTREAM-JOINTHIS-0000000004");
    const eddy__node *other_join = node_named(t, "KSTREAM-OUTEROTHER-0000000005");
    EXPECT_EQ(this_join->join.kind, EDDY__JOIN_LEFT);
    EXPECT_EQ(this_join->outer_store, outer);
    EXPECT_EQ(other_join->outer_store, outer);
    EXPECT_EQ(other_join->join_store, store_index(t, "KSTREAM-JOINTHIS-0000000004-store"));
    EXPECT_EQ(node_named(t, "KSTREAM-WINDOWED-0000000002")->outer_store, EDDY__NONE);
    const eddy__store *shared = &t->stores[outer];
    EXPECT_EQ(shared->type, EDDY__STORE_KEY_VALUE); /* the runtime owns its key layout */
    EXPECT_TRUE(!shared->caching);
    EXPECT_TRUE(shared->changelog);
    EXPECT_TRUE(!shared->retain_duplicates);
    EXPECT_EQ(t->store_count, 3);
    eddy_builder_destroy(b);
}

/* TopologyTest.streamStreamOuterJoinTopologyWithDefaultStoresNames:
 *     stream1.outerJoin(stream2, joiner, JoinWindows.ofTimeDifferenceWithNoGrace(ofMillis(100)),
 *                       StreamJoined.with(...)); */
TEST(kafka_stream_stream_outer_join)
{
    eddy_builder *b = eddy_builder_new();
    eddy_stream *s1 = eddy_stream_from(b, "input-topic1", NULL, NULL);
    eddy_stream *s2 = eddy_stream_from(b, "input-topic2", NULL, NULL);
    eddy_outer_join_stream(s1, s2, value_joiner, NULL, 100, 100, 0);
    EXPECT_DESCRIBES(
        b, "Topologies:\n"
           "   Sub-topology: 0\n"
           "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])\n"
           "      --> KSTREAM-WINDOWED-0000000002\n"
           "    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])\n"
           "      --> KSTREAM-WINDOWED-0000000003\n"
           "    Processor: KSTREAM-WINDOWED-0000000002 (stores: "
           "[KSTREAM-OUTERTHIS-0000000004-store])\n"
           "      --> KSTREAM-OUTERTHIS-0000000004\n"
           "      <-- KSTREAM-SOURCE-0000000000\n"
           "    Processor: KSTREAM-WINDOWED-0000000003 (stores: "
           "[KSTREAM-OUTEROTHER-0000000005-store])\n"
           "      --> KSTREAM-OUTEROTHER-0000000005\n"
           "      <-- KSTREAM-SOURCE-0000000001\n"
           "    Processor: KSTREAM-OUTEROTHER-0000000005 (stores: "
           "[KSTREAM-OUTERTHIS-0000000004-store, KSTREAM-OUTERSHARED-0000000004-store])\n"
           "      --> KSTREAM-MERGE-0000000006\n"
           "      <-- KSTREAM-WINDOWED-0000000003\n"
           "    Processor: KSTREAM-OUTERTHIS-0000000004 (stores: "
           "[KSTREAM-OUTEROTHER-0000000005-store, KSTREAM-OUTERSHARED-0000000004-store])\n"
           "      --> KSTREAM-MERGE-0000000006\n"
           "      <-- KSTREAM-WINDOWED-0000000002\n"
           "    Processor: KSTREAM-MERGE-0000000006 (stores: [])\n"
           "      --> none\n"
           "      <-- KSTREAM-OUTERTHIS-0000000004, KSTREAM-OUTEROTHER-0000000005\n\n");
    const eddy__topology *t = build(b);
    EXPECT_EQ(node_named(t, "KSTREAM-OUTERTHIS-0000000004")->join.kind, EDDY__JOIN_OUTER);
    EXPECT_EQ(node_named(t, "KSTREAM-OUTERTHIS-0000000004")->outer_store,
              store_index(t, "KSTREAM-OUTERSHARED-0000000004-store"));
    eddy_builder_destroy(b);
}

/* KStreamKStreamJoinTest.shouldReuseRepartitionTopicWithGeneratedName
 * (expectedTopologyWithGeneratedRepartitionTopic):
 *     newStream = stream1.map((k, v) -> new KeyValue<>(v, k));
 *     newStream.join(stream2, joiner, JoinWindows.ofTimeDifferenceWithNoGrace(ofMillis(100)))
 *              .to("out-one");
 *     newStream.join(stream3, joiner, ...).to("out-to");
 * The second join reuses the first's repartition and still burns three counter values. */
TEST(kafka_stream_stream_joins_reuse_repartition)
{
    eddy_builder *b = eddy_builder_new();
    eddy_stream *s1 = eddy_stream_from(b, "topic", NULL, NULL);
    eddy_stream *s2 = eddy_stream_from(b, "topic2", NULL, NULL);
    eddy_stream *s3 = eddy_stream_from(b, "topic3", NULL, NULL);
    eddy_stream *mapped = eddy_map(s1, mapper, NULL);
    eddy_to(eddy_join_stream(mapped, s2, value_joiner, NULL, 100, 100, 0), "out-one");
    eddy_to(eddy_join_stream(mapped, s3, value_joiner, NULL, 100, 100, 0), "out-to");
    EXPECT_DESCRIBES(
        b, "Topologies:\n"
           "   Sub-topology: 0\n"
           "    Source: KSTREAM-SOURCE-0000000000 (topics: [topic])\n"
           "      --> KSTREAM-MAP-0000000003\n"
           "    Processor: KSTREAM-MAP-0000000003 (stores: [])\n"
           "      --> KSTREAM-FILTER-0000000005\n"
           "      <-- KSTREAM-SOURCE-0000000000\n"
           "    Processor: KSTREAM-FILTER-0000000005 (stores: [])\n"
           "      --> KSTREAM-SINK-0000000004\n"
           "      <-- KSTREAM-MAP-0000000003\n"
           "    Sink: KSTREAM-SINK-0000000004 (topic: KSTREAM-MAP-0000000003-repartition)\n"
           "      <-- KSTREAM-FILTER-0000000005\n"
           "\n"
           "  Sub-topology: 1\n"
           "    Source: KSTREAM-SOURCE-0000000006 (topics: [KSTREAM-MAP-0000000003-repartition])\n"
           "      --> KSTREAM-WINDOWED-0000000007, KSTREAM-WINDOWED-0000000016\n"
           "    Source: KSTREAM-SOURCE-0000000001 (topics: [topic2])\n"
           "      --> KSTREAM-WINDOWED-0000000008\n"
           "    Source: KSTREAM-SOURCE-0000000002 (topics: [topic3])\n"
           "      --> KSTREAM-WINDOWED-0000000017\n"
           "    Processor: KSTREAM-WINDOWED-0000000007 (stores: "
           "[KSTREAM-JOINTHIS-0000000009-store])\n"
           "      --> KSTREAM-JOINTHIS-0000000009\n"
           "      <-- KSTREAM-SOURCE-0000000006\n"
           "    Processor: KSTREAM-WINDOWED-0000000008 (stores: "
           "[KSTREAM-JOINOTHER-0000000010-store])\n"
           "      --> KSTREAM-JOINOTHER-0000000010\n"
           "      <-- KSTREAM-SOURCE-0000000001\n"
           "    Processor: KSTREAM-WINDOWED-0000000016 (stores: "
           "[KSTREAM-JOINTHIS-0000000018-store])\n"
           "      --> KSTREAM-JOINTHIS-0000000018\n"
           "      <-- KSTREAM-SOURCE-0000000006\n"
           "    Processor: KSTREAM-WINDOWED-0000000017 (stores: "
           "[KSTREAM-JOINOTHER-0000000019-store])\n"
           "      --> KSTREAM-JOINOTHER-0000000019\n"
           "      <-- KSTREAM-SOURCE-0000000002\n"
           "    Processor: KSTREAM-JOINOTHER-0000000010 (stores: "
           "[KSTREAM-JOINTHIS-0000000009-store])\n"
           "      --> KSTREAM-MERGE-0000000011\n"
           "      <-- KSTREAM-WINDOWED-0000000008\n"
           "    Processor: KSTREAM-JOINOTHER-0000000019 (stores: "
           "[KSTREAM-JOINTHIS-0000000018-store])\n"
           "      --> KSTREAM-MERGE-0000000020\n"
           "      <-- KSTREAM-WINDOWED-0000000017\n"
           "    Processor: KSTREAM-JOINTHIS-0000000009 (stores: "
           "[KSTREAM-JOINOTHER-0000000010-store])\n"
           "      --> KSTREAM-MERGE-0000000011\n"
           "      <-- KSTREAM-WINDOWED-0000000007\n"
           "    Processor: KSTREAM-JOINTHIS-0000000018 (stores: "
           "[KSTREAM-JOINOTHER-0000000019-store])\n"
           "      --> KSTREAM-MERGE-0000000020\n"
           "      <-- KSTREAM-WINDOWED-0000000016\n"
           "    Processor: KSTREAM-MERGE-0000000011 (stores: [])\n"
           "      --> KSTREAM-SINK-0000000012\n"
           "      <-- KSTREAM-JOINTHIS-0000000009, KSTREAM-JOINOTHER-0000000010\n"
           "    Processor: KSTREAM-MERGE-0000000020 (stores: [])\n"
           "      --> KSTREAM-SINK-0000000021\n"
           "      <-- KSTREAM-JOINTHIS-0000000018, KSTREAM-JOINOTHER-0000000019\n"
           "    Sink: KSTREAM-SINK-0000000012 (topic: out-one)\n"
           "      <-- KSTREAM-MERGE-0000000011\n"
           "    Sink: KSTREAM-SINK-0000000021 (topic: out-to)\n"
           "      <-- KSTREAM-MERGE-0000000020\n\n");
    /* Co-partitioning: the repartition topic with topic2, and with topic3 (merged). */
    const eddy__topology *t = build(b);
    EXPECT_EQ(t->copartition_group_count, 1);
    EXPECT_EQ(t->copartition_groups[0].count, 3);
    eddy_builder_destroy(b);
}

/* A join whose right side changed keys repartitions that side, named after its processor (an
 * unnamed StreamJoined); both sides changed: left first. Assembled by KStreamImpl.doJoin's
 * rules; the joined stream needs no repartition itself. */
TEST(stream_stream_join_repartitions_each_side)
{
    eddy_builder *b = eddy_builder_new();
    eddy_stream *left = eddy_select_key(eddy_stream_from(b, "left", NULL, NULL), key_of, NULL);
    eddy_stream *right = eddy_map(eddy_stream_from(b, "right", NULL, NULL), mapper, NULL);
    eddy_stream *joined = eddy_join_stream(left, right, value_joiner, NULL, 10, 0, 5);
    eddy_count(eddy_group_by_key(joined), "counts");
    const eddy__topology *t = build(b);
    /* sources 0, 2; key-select 1, map 3; left repartition 4-6, right 7-9; windowed 10, 11. */
    expect_parents(t, "KSTREAM-WINDOWED-0000000010", "KSTREAM-SOURCE-0000000006");
    expect_parents(t, "KSTREAM-WINDOWED-0000000011", "KSTREAM-SOURCE-0000000009");
    EXPECT_STREQ(t->topics[t->nodes[node_index(t, "KSTREAM-SINK-0000000004")].sink_topic].name,
                 "KSTREAM-KEY-SELECT-0000000001-repartition");
    EXPECT_STREQ(t->topics[t->nodes[node_index(t, "KSTREAM-SINK-0000000007")].sink_topic].name,
                 "KSTREAM-MAP-0000000003-repartition");
    expect_parents(t, "KSTREAM-MERGE-0000000014",
                   "KSTREAM-JOINTHIS-0000000012, "
                   "KSTREAM-JOINOTHER-0000000013");
    /* The count reads the join's output directly: no third repartition. */
    expect_parents(t, "KSTREAM-AGGREGATE-0000000015", "KSTREAM-MERGE-0000000014");
    EXPECT_EQ(store_named(t, "KSTREAM-JOINTHIS-0000000012-store")->retention_ms, 15);
    EXPECT_EQ(t->subtopology_count, 3);
    EXPECT_EQ(t->copartition_group_count, 1);
    EXPECT_EQ(t->copartition_groups[0].count, 2);
    for (uint32_t i = 0; i < t->copartition_groups[0].count; i++)
        EXPECT_TRUE(t->topics[t->copartition_groups[0].items[i]].internal);
    eddy_builder_destroy(b);
}

/* ---- table-table joins ---- */

/* The shape of Kafka's KStreamImplTest.shouldSupportTableTableJoinWithKStreamToKTable
 * (table1.join(table2, joiner).toStream().to("output")), with builder.table() sources as eddy
 * has no toTable(): the store names take 0 and 3, the merge 6 before JOINTHIS 7 and JOINOTHER
 * 8 (KTableImpl.doJoin), and both source tables are materialized for the getters. */
TEST(table_table_join_describes_as_kafka_streams)
{
    eddy_builder *b = eddy_builder_new();
    int tag = 2;
    eddy_table *t1 = eddy_table_from(b, "left", eddy_serde_string(), NULL, NULL);
    eddy_table *t2 = eddy_table_from(b, "right", eddy_serde_string(), NULL, NULL);
    eddy_table_to(eddy_table_join(t1, t2, value_joiner, &tag), "output");
    EXPECT_DESCRIBES(b, "Topologies:\n"
                        "   Sub-topology: 0\n"
                        "    Source: KSTREAM-SOURCE-0000000001 (topics: [left])\n"
                        "      --> KTABLE-SOURCE-0000000002\n"
                        "    Source: KSTREAM-SOURCE-0000000004 (topics: [right])\n"
                        "      --> KTABLE-SOURCE-0000000005\n"
                        "    Processor: KTABLE-SOURCE-0000000002 (stores: "
                        "[left-STATE-STORE-0000000000])\n"
                        "      --> KTABLE-JOINTHIS-0000000007\n"
                        "      <-- KSTREAM-SOURCE-0000000001\n"
                        "    Processor: KTABLE-SOURCE-0000000005 (stores: "
                        "[right-STATE-STORE-0000000003])\n"
                        "      --> KTABLE-JOINOTHER-0000000008\n"
                        "      <-- KSTREAM-SOURCE-0000000004\n"
                        "    Processor: KTABLE-JOINOTHER-0000000008 (stores: "
                        "[left-STATE-STORE-0000000000])\n"
                        "      --> KTABLE-MERGE-0000000006\n"
                        "      <-- KTABLE-SOURCE-0000000005\n"
                        "    Processor: KTABLE-JOINTHIS-0000000007 (stores: "
                        "[right-STATE-STORE-0000000003])\n"
                        "      --> KTABLE-MERGE-0000000006\n"
                        "      <-- KTABLE-SOURCE-0000000002\n"
                        "    Processor: KTABLE-MERGE-0000000006 (stores: [])\n"
                        "      --> KTABLE-TOSTREAM-0000000009\n"
                        "      <-- KTABLE-JOINTHIS-0000000007, KTABLE-JOINOTHER-0000000008\n"
                        "    Processor: KTABLE-TOSTREAM-0000000009 (stores: [])\n"
                        "      --> KSTREAM-SINK-0000000010\n"
                        "      <-- KTABLE-MERGE-0000000006\n"
                        "    Sink: KSTREAM-SINK-0000000010 (topic: output)\n"
                        "      <-- KTABLE-TOSTREAM-0000000009\n"
                        "\n");
    const eddy__topology *t = build(b);
    uint32_t left_store = store_index(t, "left-STATE-STORE-0000000000");
    uint32_t right_store = store_index(t, "right-STATE-STORE-0000000003");
    const eddy__node *this_join = node_named(t, "KTABLE-JOINTHIS-0000000007");
    EXPECT_EQ(this_join->op, EDDY__OP_TABLE_JOIN_THIS);
    EXPECT_EQ(this_join->join.kind, EDDY__JOIN_INNER);
    EXPECT_EQ(this_join->join_store, right_store);
    EXPECT_EQ(this_join->join_table, node_index(t, "KTABLE-SOURCE-0000000005"));
    EXPECT_TRUE(this_join->value_joiner == value_joiner);
    EXPECT_TRUE(this_join->opaque == &tag);
    const eddy__node *other_join = node_named(t, "KTABLE-JOINOTHER-0000000008");
    EXPECT_EQ(other_join->op, EDDY__OP_TABLE_JOIN_OTHER);
    EXPECT_EQ(other_join->join_store, left_store);
    EXPECT_EQ(other_join->join_table, node_index(t, "KTABLE-SOURCE-0000000002"));
    const eddy__node *merge = node_named(t, "KTABLE-MERGE-0000000006");
    EXPECT_EQ(merge->op, EDDY__OP_MERGE);
    EXPECT_EQ(merge->store, EDDY__NONE);
    EXPECT_EQ(store_named(t, "left-STATE-STORE-0000000000")->type, EDDY__STORE_KEY_VALUE);
    EXPECT_TRUE(store_named(t, "left-STATE-STORE-0000000000")->caching);
    EXPECT_EQ(store_named(t, "left-STATE-STORE-0000000000")->retention_ms, -1);
    EXPECT_EQ(t->copartition_group_count, 1);
    EXPECT_EQ(t->copartition_groups[0].count, 2);
    eddy_builder_destroy(b);
}

/* Left and outer joins keep Kafka's KTABLE-JOINTHIS/-JOINOTHER names; through a filter the
 * getter reads the store above it; a joined table can be grouped (its sides send old values)
 * and joined to a stream only when its getter reads one store. */
TEST(table_table_join_kinds_and_getters)
{
    eddy_builder *b = eddy_builder_new();
    eddy_table *t1 = eddy_table_from(b, "a", NULL, NULL, NULL);
    eddy_table *t2 = eddy_table_filter(eddy_table_from(b, "b", NULL, NULL, NULL), always, NULL);
    eddy_table *left = eddy_table_left_join(t1, t2, value_joiner, NULL);
    eddy_table *outer = eddy_table_outer_join(t2, t1, value_joiner, NULL);
    eddy_table_count(eddy_table_group_by(outer, mapper, NULL), NULL);
    (void)left;
    const eddy__topology *t = build(b);
    /* a: 0-2; b: 3-5; filter 6; left: merge 7, 8, 9; outer: merge 10, 11, 12. */
    const eddy__node *left_this = node_named(t, "KTABLE-JOINTHIS-0000000008");
    EXPECT_EQ(left_this->join.kind, EDDY__JOIN_LEFT);
    EXPECT_EQ(left_this->join_store, store_index(t, "b-STATE-STORE-0000000003"));
    EXPECT_EQ(left_this->join_table, node_index(t, "KTABLE-FILTER-0000000006"));
    expect_parents(t, "KTABLE-JOINOTHER-0000000009", "KTABLE-FILTER-0000000006");
    EXPECT_EQ(node_named(t, "KTABLE-JOINOTHER-0000000012")->join.kind, EDDY__JOIN_OUTER);
    expect_parents(t, "KTABLE-MERGE-0000000010",
                   "KTABLE-JOINTHIS-0000000011, KTABLE-JOINOTHER-0000000012");
    expect_parents(t, "KTABLE-SELECT-0000000013", "KTABLE-MERGE-0000000010");
    eddy_builder_destroy(b);

    b = eddy_builder_new();
    t1 = eddy_table_from(b, "a", NULL, NULL, NULL);
    t2 = eddy_table_from(b, "b", NULL, NULL, NULL);
    eddy_join_table(eddy_stream_from(b, "s", NULL, NULL),
                    eddy_table_join(t1, t2, value_joiner, NULL), joiner, NULL);
    EXPECT_ERR(eddy_builder_check(b), EDDY_ERR_STATE);
    EXPECT_CONTAINS(eddy_last_error(), "eddy_join_table: table KTABLE-MERGE-0000000006");
    eddy_builder_destroy(b);
}

/* ---- cogroup ---- */

/* CogroupedKStreamImplTest.shouldNameRepartitionTopic:
 *     groupedOne = stream1.map(...).groupByKey(Grouped.as("repartition-test"));
 *     groupedTwo = test2.groupByKey();
 *     groupedOne.cogroup(agg).cogroup(groupedTwo, agg).aggregate(init).toStream().to(OUTPUT); */
TEST(kafka_cogroup_names_repartition_topic)
{
    eddy_builder *b = eddy_builder_new();
    int tag1 = 1, tag2 = 2, tag3 = 3;
    eddy_stream *s1 = eddy_stream_from(b, "one", eddy_serde_string(), NULL);
    eddy_stream *s2 = eddy_stream_from(b, "two", eddy_serde_string(), NULL);
    eddy_grouped_stream *g1 =
        eddy_grouped_named(eddy_group_by_key(eddy_map(s1, mapper, NULL)), "repartition-test");
    eddy_grouped_stream *g2 = eddy_group_by_key(s2);
    eddy_table *table = eddy_cogroup_aggregate(
        eddy_cogroup_add(eddy_cogroup(g1, aggregator, &tag1), g2, other_aggregator, &tag2), init,
        &tag3, NULL);
    eddy_table_to(table, "output");
    EXPECT_DESCRIBES(
        b, "Topologies:\n"
           "   Sub-topology: 0\n"
           "    Source: KSTREAM-SOURCE-0000000000 (topics: [one])\n"
           "      --> KSTREAM-MAP-0000000002\n"
           "    Processor: KSTREAM-MAP-0000000002 (stores: [])\n"
           "      --> repartition-test-repartition-filter\n"
           "      <-- KSTREAM-SOURCE-0000000000\n"
           "    Processor: repartition-test-repartition-filter (stores: [])\n"
           "      --> repartition-test-repartition-sink\n"
           "      <-- KSTREAM-MAP-0000000002\n"
           "    Sink: repartition-test-repartition-sink (topic: repartition-test-repartition)\n"
           "      <-- repartition-test-repartition-filter\n\n"
           "  Sub-topology: 1\n"
           "    Source: KSTREAM-SOURCE-0000000001 (topics: [two])\n"
           "      --> COGROUPKSTREAM-AGGREGATE-0000000008\n"
           "    Source: repartition-test-repartition-source (topics: "
           "[repartition-test-repartition])\n"
           "      --> COGROUPKSTREAM-AGGREGATE-0000000007\n"
           "    Processor: COGROUPKSTREAM-AGGREGATE-0000000007 (stores: "
           "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003])\n"
           "      --> COGROUPKSTREAM-MERGE-0000000009\n"
           "      <-- repartition-test-repartition-source\n"
           "    Processor: COGROUPKSTREAM-AGGREGATE-0000000008 (stores: "
           "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003])\n"
           "      --> COGROUPKSTREAM-MERGE-0000000009\n"
           "      <-- KSTREAM-SOURCE-0000000001\n"
           "    Processor: COGROUPKSTREAM-MERGE-0000000009 (stores: [])\n"
           "      --> KTABLE-TOSTREAM-0000000010\n"
           "      <-- COGROUPKSTREAM-AGGREGATE-0000000007, COGROUPKSTREAM-AGGREGATE-0000000008\n"
           "    Processor: KTABLE-TOSTREAM-0000000010 (stores: [])\n"
           "      --> KSTREAM-SINK-0000000011\n"
           "      <-- COGROUPKSTREAM-MERGE-0000000009\n"
           "    Sink: KSTREAM-SINK-0000000011 (topic: output)\n"
           "      <-- KTABLE-TOSTREAM-0000000010\n\n");
    const eddy__topology *t = build(b);
    uint32_t store = store_index(t, "COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003");
    const eddy__node *first = node_named(t, "COGROUPKSTREAM-AGGREGATE-0000000007");
    const eddy__node *second = node_named(t, "COGROUPKSTREAM-AGGREGATE-0000000008");
    EXPECT_EQ(first->op, EDDY__OP_COGROUP_AGGREGATE);
    EXPECT_EQ(first->aggregation, EDDY__AGGREGATION_AGGREGATE);
    EXPECT_EQ(first->store, store);
    EXPECT_EQ(second->store, store);
    EXPECT_TRUE(first->aggregator == aggregator);
    EXPECT_TRUE(first->opaque == &tag1);
    EXPECT_TRUE(second->aggregator == other_aggregator);
    EXPECT_TRUE(second->opaque == &tag2);
    EXPECT_TRUE(first->initializer == init && second->initializer == init);
    EXPECT_TRUE(first->initializer_opaque == &tag3 && second->initializer_opaque == &tag3);
    EXPECT_EQ(node_named(t, "COGROUPKSTREAM-MERGE-0000000009")->op, EDDY__OP_MERGE);
    EXPECT_EQ(t->stores[store].type, EDDY__STORE_KEY_VALUE);
    EXPECT_TRUE(t->stores[store].caching);
    EXPECT_TRUE(t->stores[store].changelog);
    /* The inputs' key serdes differ (the map dropped one): the default. */
    EXPECT_TRUE(t->stores[store].key_serde == NULL);
    /* Kafka co-partitions the grouped streams' own sources: the topics before repartitioning. */
    EXPECT_EQ(t->copartition_group_count, 1);
    EXPECT_EQ(t->copartition_groups[0].count, 2);
    for (uint32_t i = 0; i < 2; i++)
        EXPECT_TRUE(!t->topics[t->copartition_groups[0].items[i]].internal);
    eddy_builder_destroy(b);
}

/* CogroupedKStreamImplTest.shouldInsertRepartitionsTopicForUpstreamKeyModificationWith-
 * GroupedReusedInSameCogroups: two cogroups of the same grouped streams, each with its own
 * repartition named after its store. */
TEST(kafka_cogroups_of_the_same_groupings)
{
    eddy_builder *b = eddy_builder_new();
    eddy_stream *s1 = eddy_stream_from(b, "one", NULL, NULL);
    eddy_stream *s2 = eddy_stream_from(b, "two", NULL, NULL);
    eddy_grouped_stream *g1 = eddy_group_by_key(eddy_map(s1, mapper, NULL));
    eddy_grouped_stream *g2 = eddy_group_by_key(s2);
    eddy_table *two = eddy_cogroup_aggregate(
        eddy_cogroup_add(eddy_cogroup(g1, aggregator, NULL), g2, aggregator, NULL), init, NULL,
        NULL);
    eddy_table *one = eddy_cogroup_aggregate(
        eddy_cogroup_add(eddy_cogroup(g1, aggregator, NULL), g2, aggregator, NULL), init, NULL,
        NULL);
    eddy_table_to(one, "output");
    eddy_table_to(two, "OUTPUT2");
    EXPECT_DESCRIBES(
        b,
        "Topologies:\n"
        "   Sub-topology: 0\n"
        "    Source: KSTREAM-SOURCE-0000000000 (topics: [one])\n"
        "      --> KSTREAM-MAP-0000000002\n"
        "    Processor: KSTREAM-MAP-0000000002 (stores: [])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000010-repartition-filter, "
        "COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition-filter\n"
        "      <-- KSTREAM-SOURCE-0000000000\n"
        "    Processor: COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition-filter "
        "(stores: [])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition-sink\n"
        "      <-- KSTREAM-MAP-0000000002\n"
        "    Processor: COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000010-repartition-filter "
        "(stores: [])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000010-repartition-sink\n"
        "      <-- KSTREAM-MAP-0000000002\n"
        "    Sink: COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition-sink (topic: "
        "COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition)\n"
        "      <-- COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition-filter\n"
        "    Sink: COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000010-repartition-sink (topic: "
        "COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000010-repartition)\n"
        "      <-- COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000010-repartition-filter\n\n"
        "  Sub-topology: 1\n"
        "    Source: KSTREAM-SOURCE-0000000001 (topics: [two])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-0000000008, COGROUPKSTREAM-AGGREGATE-0000000015\n"
        "    Source: COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition-source (topics: "
        "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-0000000007\n"
        "    Source: COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000010-repartition-source (topics: "
        "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000010-repartition])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-0000000014\n"
        "    Processor: COGROUPKSTREAM-AGGREGATE-0000000007 (stores: "
        "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003])\n"
        "      --> COGROUPKSTREAM-MERGE-0000000009\n"
        "      <-- COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition-source\n"
        "    Processor: COGROUPKSTREAM-AGGREGATE-0000000008 (stores: "
        "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003])\n"
        "      --> COGROUPKSTREAM-MERGE-0000000009\n"
        "      <-- KSTREAM-SOURCE-0000000001\n"
        "    Processor: COGROUPKSTREAM-AGGREGATE-0000000014 (stores: "
        "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000010])\n"
        "      --> COGROUPKSTREAM-MERGE-0000000016\n"
        "      <-- COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000010-repartition-source\n"
        "    Processor: COGROUPKSTREAM-AGGREGATE-0000000015 (stores: "
        "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000010])\n"
        "      --> COGROUPKSTREAM-MERGE-0000000016\n"
        "      <-- KSTREAM-SOURCE-0000000001\n"
        "    Processor: COGROUPKSTREAM-MERGE-0000000009 (stores: [])\n"
        "      --> KTABLE-TOSTREAM-0000000019\n"
        "      <-- COGROUPKSTREAM-AGGREGATE-0000000007, COGROUPKSTREAM-AGGREGATE-0000000008\n"
        "    Processor: COGROUPKSTREAM-MERGE-0000000016 (stores: [])\n"
        "      --> KTABLE-TOSTREAM-0000000017\n"
        "      <-- COGROUPKSTREAM-AGGREGATE-0000000014, COGROUPKSTREAM-AGGREGATE-0000000015\n"
        "    Processor: KTABLE-TOSTREAM-0000000017 (stores: [])\n"
        "      --> KSTREAM-SINK-0000000018\n"
        "      <-- COGROUPKSTREAM-MERGE-0000000016\n"
        "    Processor: KTABLE-TOSTREAM-0000000019 (stores: [])\n"
        "      --> KSTREAM-SINK-0000000020\n"
        "      <-- COGROUPKSTREAM-MERGE-0000000009\n"
        "    Sink: KSTREAM-SINK-0000000018 (topic: output)\n"
        "      <-- KTABLE-TOSTREAM-0000000017\n"
        "    Sink: KSTREAM-SINK-0000000020 (topic: OUTPUT2)\n"
        "      <-- KTABLE-TOSTREAM-0000000019\n\n");
    eddy_builder_destroy(b);
}

/* CogroupedKStreamImplTest.shouldInsertRepartitionsTopicForUpstreamKeyModificationWith-
 * GroupedReusedInDifferentCogroups: the second cogroup's sub-topology comes first (Kafka's
 * build priorities). */
TEST(kafka_cogroups_sharing_a_grouping)
{
    eddy_builder *b = eddy_builder_new();
    eddy_stream *s1 = eddy_stream_from(b, "one", NULL, NULL);
    eddy_stream *s2 = eddy_stream_from(b, "two", NULL, NULL);
    eddy_stream *s3 = eddy_stream_from(b, "three", NULL, NULL);
    eddy_grouped_stream *g1 = eddy_group_by_key(eddy_map(s1, mapper, NULL));
    eddy_grouped_stream *g2 = eddy_group_by_key(s2);
    eddy_grouped_stream *g3 = eddy_group_by_key(s3);
    eddy_cogroup_aggregate(
        eddy_cogroup_add(eddy_cogroup(g1, aggregator, NULL), g3, aggregator, NULL), init, NULL,
        NULL);
    eddy_cogroup_aggregate(
        eddy_cogroup_add(eddy_cogroup(g1, aggregator, NULL), g2, aggregator, NULL), init, NULL,
        NULL);
    EXPECT_DESCRIBES(
        b,
        "Topologies:\n"
        "   Sub-topology: 0\n"
        "    Source: KSTREAM-SOURCE-0000000000 (topics: [one])\n"
        "      --> KSTREAM-MAP-0000000003\n"
        "    Processor: KSTREAM-MAP-0000000003 (stores: [])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000004-repartition-filter, "
        "COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000011-repartition-filter\n"
        "      <-- KSTREAM-SOURCE-0000000000\n"
        "    Processor: COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000004-repartition-filter "
        "(stores: [])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000004-repartition-sink\n"
        "      <-- KSTREAM-MAP-0000000003\n"
        "    Processor: COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000011-repartition-filter "
        "(stores: [])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000011-repartition-sink\n"
        "      <-- KSTREAM-MAP-0000000003\n"
        "    Sink: COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000004-repartition-sink (topic: "
        "COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000004-repartition)\n"
        "      <-- COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000004-repartition-filter\n"
        "    Sink: COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000011-repartition-sink (topic: "
        "COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000011-repartition)\n"
        "      <-- COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000011-repartition-filter\n\n"
        "  Sub-topology: 1\n"
        "    Source: COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000011-repartition-source (topics: "
        "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000011-repartition])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-0000000015\n"
        "    Source: KSTREAM-SOURCE-0000000001 (topics: [two])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-0000000016\n"
        "    Processor: COGROUPKSTREAM-AGGREGATE-0000000015 (stores: "
        "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000011])\n"
        "      --> COGROUPKSTREAM-MERGE-0000000017\n"
        "      <-- COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000011-repartition-source\n"
        "    Processor: COGROUPKSTREAM-AGGREGATE-0000000016 (stores: "
        "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000011])\n"
        "      --> COGROUPKSTREAM-MERGE-0000000017\n"
        "      <-- KSTREAM-SOURCE-0000000001\n"
        "    Processor: COGROUPKSTREAM-MERGE-0000000017 (stores: [])\n"
        "      --> none\n"
        "      <-- COGROUPKSTREAM-AGGREGATE-0000000015, COGROUPKSTREAM-AGGREGATE-0000000016\n\n"
        "  Sub-topology: 2\n"
        "    Source: COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000004-repartition-source (topics: "
        "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000004-repartition])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-0000000008\n"
        "    Source: KSTREAM-SOURCE-0000000002 (topics: [three])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-0000000009\n"
        "    Processor: COGROUPKSTREAM-AGGREGATE-0000000008 (stores: "
        "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000004])\n"
        "      --> COGROUPKSTREAM-MERGE-0000000010\n"
        "      <-- COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000004-repartition-source\n"
        "    Processor: COGROUPKSTREAM-AGGREGATE-0000000009 (stores: "
        "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000004])\n"
        "      --> COGROUPKSTREAM-MERGE-0000000010\n"
        "      <-- KSTREAM-SOURCE-0000000002\n"
        "    Processor: COGROUPKSTREAM-MERGE-0000000010 (stores: [])\n"
        "      --> none\n"
        "      <-- COGROUPKSTREAM-AGGREGATE-0000000008, COGROUPKSTREAM-AGGREGATE-0000000009\n\n");
    eddy_builder_destroy(b);
}

/* CogroupedKStreamImplTest.shouldInsertRepartitionsTopicForUpstreamKeyModificationWith-
 * GroupedReused: the cogroup's repartition is its own; the grouped stream's aggregation makes
 * another (generated names, from its generated store name). */
TEST(kafka_cogroup_and_aggregation_of_one_grouping)
{
    eddy_builder *b = eddy_builder_new();
    eddy_stream *s1 = eddy_stream_from(b, "one", NULL, NULL);
    eddy_stream *s2 = eddy_stream_from(b, "two", NULL, NULL);
    eddy_grouped_stream *g1 = eddy_group_by_key(eddy_map(s1, mapper, NULL));
    eddy_grouped_stream *g2 = eddy_group_by_key(s2);
    eddy_cogroup_aggregate(
        eddy_cogroup_add(eddy_cogroup(g1, aggregator, NULL), g2, aggregator, NULL), init, NULL,
        NULL);
    eddy_aggregate(g1, init, aggregator, NULL, NULL);
    EXPECT_DESCRIBES(
        b,
        "Topologies:\n"
        "   Sub-topology: 0\n"
        "    Source: KSTREAM-SOURCE-0000000000 (topics: [one])\n"
        "      --> KSTREAM-MAP-0000000002\n"
        "    Processor: KSTREAM-MAP-0000000002 (stores: [])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition-filter, "
        "KSTREAM-FILTER-0000000013\n"
        "      <-- KSTREAM-SOURCE-0000000000\n"
        "    Processor: COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition-filter "
        "(stores: [])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition-sink\n"
        "      <-- KSTREAM-MAP-0000000002\n"
        "    Processor: KSTREAM-FILTER-0000000013 (stores: [])\n"
        "      --> KSTREAM-SINK-0000000012\n"
        "      <-- KSTREAM-MAP-0000000002\n"
        "    Sink: COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition-sink (topic: "
        "COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition)\n"
        "      <-- COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition-filter\n"
        "    Sink: KSTREAM-SINK-0000000012 (topic: "
        "KSTREAM-AGGREGATE-STATE-STORE-0000000010-repartition)\n"
        "      <-- KSTREAM-FILTER-0000000013\n\n"
        "  Sub-topology: 1\n"
        "    Source: COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition-source (topics: "
        "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-0000000007\n"
        "    Source: KSTREAM-SOURCE-0000000001 (topics: [two])\n"
        "      --> COGROUPKSTREAM-AGGREGATE-0000000008\n"
        "    Processor: COGROUPKSTREAM-AGGREGATE-0000000007 (stores: "
        "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003])\n"
        "      --> COGROUPKSTREAM-MERGE-0000000009\n"
        "      <-- COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition-source\n"
        "    Processor: COGROUPKSTREAM-AGGREGATE-0000000008 (stores: "
        "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000003])\n"
        "      --> COGROUPKSTREAM-MERGE-0000000009\n"
        "      <-- KSTREAM-SOURCE-0000000001\n"
        "    Processor: COGROUPKSTREAM-MERGE-0000000009 (stores: [])\n"
        "      --> none\n"
        "      <-- COGROUPKSTREAM-AGGREGATE-0000000007, COGROUPKSTREAM-AGGREGATE-0000000008\n\n"
        "  Sub-topology: 2\n"
        "    Source: KSTREAM-SOURCE-0000000014 (topics: "
        "[KSTREAM-AGGREGATE-STATE-STORE-0000000010-repartition])\n"
        "      --> KSTREAM-AGGREGATE-0000000011\n"
        "    Processor: KSTREAM-AGGREGATE-0000000011 (stores: "
        "[KSTREAM-AGGREGATE-STATE-STORE-0000000010])\n"
        "      --> none\n"
        "      <-- KSTREAM-SOURCE-0000000014\n\n");
    eddy_builder_destroy(b);
}

/* CogroupedKStreamImplTest.shouldInsertRepartitionsTopicForCogroupsUsedTwice: a cogroup
 * aggregated twice reuses its repartition (named after the grouping) without re-adding it. */
TEST(kafka_cogroup_aggregated_twice)
{
    eddy_builder *b = eddy_builder_new();
    eddy_grouped_stream *g = eddy_grouped_named(
        eddy_group_by_key(eddy_map(eddy_stream_from(b, "one", NULL, NULL), mapper, NULL)), "foo");
    eddy_cogrouped_stream *one = eddy_cogroup(g, aggregator, NULL);
    eddy_cogroup_aggregate(one, init, NULL, NULL);
    eddy_cogroup_aggregate(one, init, NULL, NULL);
    EXPECT_DESCRIBES(
        b, "Topologies:\n"
           "   Sub-topology: 0\n"
           "    Source: KSTREAM-SOURCE-0000000000 (topics: [one])\n"
           "      --> KSTREAM-MAP-0000000001\n"
           "    Processor: KSTREAM-MAP-0000000001 (stores: [])\n"
           "      --> foo-repartition-filter\n"
           "      <-- KSTREAM-SOURCE-0000000000\n"
           "    Processor: foo-repartition-filter (stores: [])\n"
           "      --> foo-repartition-sink\n"
           "      <-- KSTREAM-MAP-0000000001\n"
           "    Sink: foo-repartition-sink (topic: foo-repartition)\n"
           "      <-- foo-repartition-filter\n\n"
           "  Sub-topology: 1\n"
           "    Source: foo-repartition-source (topics: [foo-repartition])\n"
           "      --> COGROUPKSTREAM-AGGREGATE-0000000006, COGROUPKSTREAM-AGGREGATE-0000000012\n"
           "    Processor: COGROUPKSTREAM-AGGREGATE-0000000006 (stores: "
           "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000002])\n"
           "      --> COGROUPKSTREAM-MERGE-0000000007\n"
           "      <-- foo-repartition-source\n"
           "    Processor: COGROUPKSTREAM-AGGREGATE-0000000012 (stores: "
           "[COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000008])\n"
           "      --> COGROUPKSTREAM-MERGE-0000000013\n"
           "      <-- foo-repartition-source\n"
           "    Processor: COGROUPKSTREAM-MERGE-0000000007 (stores: [])\n"
           "      --> none\n"
           "      <-- COGROUPKSTREAM-AGGREGATE-0000000006\n"
           "    Processor: COGROUPKSTREAM-MERGE-0000000013 (stores: [])\n"
           "      --> none\n"
           "      <-- COGROUPKSTREAM-AGGREGATE-0000000012\n\n");
    eddy_builder_destroy(b);
}

/* Adding a grouped stream again replaces its aggregator in place (Kafka's LinkedHashMap.put);
 * a cogroup's table can be joined with a stream (its getter reads the cogroup's store). */
TEST(cogroup_add_again_replaces_and_table_reads_its_store)
{
    eddy_builder *b = eddy_builder_new();
    eddy_grouped_stream *g1 = eddy_group_by_key(eddy_stream_from(b, "a", NULL, NULL));
    eddy_grouped_stream *g2 = eddy_group_by_key(eddy_stream_from(b, "b", NULL, NULL));
    eddy_cogrouped_stream *c = eddy_cogroup(g1, aggregator, NULL);
    EXPECT_TRUE(eddy_cogroup_add(c, g2, aggregator, NULL) == c);
    eddy_cogroup_add(c, g1, other_aggregator, NULL);
    eddy_table *table = eddy_cogroup_aggregate(c, init, NULL, "agg");
    eddy_join_table(eddy_stream_from(b, "s", NULL, NULL), table, joiner, NULL);
    const eddy__topology *t = build(b);
    /* sources 0, 1; aggregations 2, 3; merge 4; source 5; join 6. */
    EXPECT_TRUE(node_named(t, "COGROUPKSTREAM-AGGREGATE-0000000002")->aggregator ==
                other_aggregator);
    expect_parents(t, "COGROUPKSTREAM-AGGREGATE-0000000002", "KSTREAM-SOURCE-0000000000");
    expect_parents(t, "COGROUPKSTREAM-MERGE-0000000004",
                   "COGROUPKSTREAM-AGGREGATE-0000000002, COGROUPKSTREAM-AGGREGATE-0000000003");
    const eddy__node *join = node_named(t, "KSTREAM-JOIN-0000000006");
    EXPECT_EQ(join->join_store, store_index(t, "agg"));
    EXPECT_EQ(join->join_table, node_index(t, "COGROUPKSTREAM-MERGE-0000000004"));
    EXPECT_EQ(t->subtopology_count, 1);
    eddy_builder_destroy(b);
}

/* ---- windowed keys ---- */

TEST(windowed_key_decoders)
{
    const uint8_t time_key[] = {'k', 'e', 'y', 0, 0, 0, 0, 0, 0, 0x01, 0x02};
    eddy_slice key;
    int64_t start = 0, end = 0;
    EXPECT_OK(eddy_time_windowed_key((eddy_slice){time_key, sizeof time_key}, &key, &start));
    EXPECT_MEMEQ(key.data, key.len, "key", 3);
    EXPECT_EQ(start, 0x0102);
    const uint8_t session_key[] = {'k', 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 10};
    EXPECT_OK(eddy_session_windowed_key((eddy_slice){session_key, sizeof session_key}, &key, &start,
                                        &end));
    EXPECT_MEMEQ(key.data, key.len, "k", 1);
    EXPECT_EQ(start, 10);
    EXPECT_EQ(end, 20);
    /* An empty record key; a negative start (two's complement). */
    const uint8_t negative[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
    EXPECT_OK(eddy_time_windowed_key((eddy_slice){negative, 8}, &key, &start));
    EXPECT_EQ(key.len, 0);
    EXPECT_EQ(start, -2);
    EXPECT_ERR(eddy_time_windowed_key((eddy_slice){time_key, 7}, &key, &start),
               EDDY_ERR_SERIALIZATION);
    EXPECT_CONTAINS(eddy_last_error(), "7 bytes");
    EXPECT_ERR(eddy_time_windowed_key((eddy_slice){NULL, 0}, &key, &start), EDDY_ERR_SERIALIZATION);
    EXPECT_ERR(eddy_session_windowed_key((eddy_slice){session_key, 15}, &key, &start, &end),
               EDDY_ERR_SERIALIZATION);
    EXPECT_ERR(eddy_session_windowed_key((eddy_slice){NULL, 0}, &key, &start, &end),
               EDDY_ERR_SERIALIZATION);
}

/* ---- misuse ---- */

TEST(null_handles_return_null_without_crashing)
{
    EXPECT_TRUE(eddy_windowed_by_time(NULL, 1, 1, 0) == NULL);
    EXPECT_TRUE(eddy_windowed_by_sliding(NULL, 1, 0) == NULL);
    EXPECT_TRUE(eddy_windowed_by_session(NULL, 1, 0) == NULL);
    EXPECT_TRUE(eddy_windowed_count(NULL, NULL) == NULL);
    EXPECT_TRUE(eddy_session_count(NULL, NULL) == NULL);
    EXPECT_TRUE(eddy_suppress_until_window_closes(NULL, 0, 0, 0) == NULL);
    EXPECT_TRUE(eddy_suppress_until_time_limit(NULL, 1, 0, 0, 0) == NULL);
    EXPECT_TRUE(eddy_join_stream(NULL, NULL, value_joiner, NULL, 1, 1, 0) == NULL);
    EXPECT_TRUE(eddy_table_join(NULL, NULL, value_joiner, NULL) == NULL);
    EXPECT_TRUE(eddy_cogroup(NULL, aggregator, NULL) == NULL);
    EXPECT_TRUE(eddy_cogroup_add(NULL, NULL, aggregator, NULL) == NULL);
    EXPECT_TRUE(eddy_cogroup_aggregate(NULL, init, NULL, NULL) == NULL);
}

/* Runs `build_fn` on a fresh builder and expects the first error to be `err` with a message
 * containing `needle`. */
static void expect_misuse(void (*build_fn)(eddy_builder *), eddy_err err, const char *needle)
{
    eddy_builder *b = eddy_builder_new();
    build_fn(b);
    EXPECT_ERR(eddy_builder_check(b), err);
    EXPECT_CONTAINS(eddy_last_error(), needle);
    char *text = (char *)1;
    EXPECT_ERR(eddy_builder_describe(b, &text), err);
    EXPECT_TRUE(text == NULL);
    eddy_builder_destroy(b);
}

static eddy_grouped_stream *grouped(eddy_builder *b)
{
    return eddy_group_by_key(eddy_stream_from(b, "in", NULL, NULL));
}

static void misuse_zero_size(eddy_builder *b)
{
    /* The chain goes on with dead handles; nothing crashes, nothing is added. */
    eddy_table_to(eddy_suppress_until_window_closes(
                      eddy_windowed_count(eddy_windowed_by_time(grouped(b), 0, 1, 0), NULL), 0, 0,
                      EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL),
                  "out");
}

static void misuse_advance_over_size(eddy_builder *b)
{
    eddy_windowed_by_time(grouped(b), 10, 11, 0);
}

static void misuse_negative_grace(eddy_builder *b)
{
    eddy_windowed_by_session(grouped(b), 10, -1);
}

static void misuse_zero_gap(eddy_builder *b)
{
    eddy_windowed_by_session(grouped(b), 0, 0);
}

static void misuse_negative_difference(eddy_builder *b)
{
    eddy_windowed_by_sliding(grouped(b), -1, 0);
}

static void misuse_retention_overflow(eddy_builder *b)
{
    eddy_windowed_by_sliding(grouped(b), INT64_MAX / 2 + 1, 0);
}

static void misuse_null_reducer(eddy_builder *b)
{
    eddy_windowed_reduce(eddy_windowed_by_time(grouped(b), 10, 10, 0), NULL, NULL, NULL);
}

static void misuse_null_merger(eddy_builder *b)
{
    eddy_session_aggregate(eddy_windowed_by_session(grouped(b), 10, 0), init, aggregator, NULL,
                           NULL, NULL);
}

static void misuse_store_name_taken(eddy_builder *b)
{
    eddy_count(grouped(b), "taken");
    eddy_windowed_count(
        eddy_windowed_by_time(eddy_group_by_key(eddy_stream_from(b, "x", NULL, NULL)), 10, 10, 0),
        "taken");
}

static void misuse_suppress_not_windowed(eddy_builder *b)
{
    eddy_suppress_until_window_closes(eddy_count(grouped(b), NULL), 0, 0,
                                      EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL);
}

static void misuse_suppress_half_windowed(eddy_builder *b)
{
    eddy_grouped_stream *g = grouped(b);
    eddy_table *windowed = eddy_windowed_count(eddy_windowed_by_time(g, 10, 10, 0), NULL);
    eddy_table *plain = eddy_table_from(b, "t", NULL, NULL, NULL);
    eddy_suppress_until_window_closes(eddy_table_join(windowed, plain, value_joiner, NULL), 0, 0,
                                      EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL);
}

static void misuse_suppress_emit_early_final(eddy_builder *b)
{
    eddy_suppress_until_window_closes(
        eddy_windowed_count(eddy_windowed_by_time(grouped(b), 10, 10, 0), NULL), 10, 0,
        EDDY_SUPPRESS_EMIT_EARLY_WHEN_FULL);
}

static void misuse_suppress_bad_strategy(eddy_builder *b)
{
    eddy_suppress_until_time_limit(eddy_count(grouped(b), NULL), 10, 0, 0, (eddy_suppress_full)7);
}

static void misuse_suppress_negative_limit(eddy_builder *b)
{
    eddy_suppress_until_time_limit(eddy_count(grouped(b), NULL), -1, 0, 0,
                                   EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL);
}

static void misuse_join_window_negative(eddy_builder *b)
{
    eddy_stream *s = eddy_stream_from(b, "a", NULL, NULL);
    eddy_join_stream(s, eddy_stream_from(b, "b", NULL, NULL), value_joiner, NULL, -10, 5, 0);
}

static void misuse_join_null_joiner(eddy_builder *b)
{
    eddy_stream *s = eddy_stream_from(b, "a", NULL, NULL);
    eddy_outer_join_stream(s, eddy_stream_from(b, "b", NULL, NULL), NULL, NULL, 1, 1, 0);
}

static void misuse_join_other_builder(eddy_builder *b)
{
    eddy_builder *other = eddy_builder_new();
    eddy_stream *theirs = eddy_stream_from(other, "in", NULL, NULL);
    eddy_left_join_stream(eddy_stream_from(b, "mine", NULL, NULL), theirs, value_joiner, NULL, 1, 1,
                          0);
    eddy_builder_destroy(other);
}

static void misuse_table_join_null_joiner(eddy_builder *b)
{
    eddy_table *t = eddy_table_from(b, "a", NULL, NULL, NULL);
    eddy_table_outer_join(t, eddy_table_from(b, "b", NULL, NULL, NULL), NULL, NULL);
}

static void misuse_table_join_of_joined_table(eddy_builder *b)
{
    eddy_table *a = eddy_table_from(b, "a", NULL, NULL, NULL);
    eddy_table *c = eddy_table_from(b, "c", NULL, NULL, NULL);
    eddy_table *ab =
        eddy_table_join(a, eddy_table_from(b, "b", NULL, NULL, NULL), value_joiner, NULL);
    eddy_table_join(ab, c, value_joiner, NULL);
}

static void misuse_cogroup_null_aggregator(eddy_builder *b)
{
    eddy_cogroup(grouped(b), NULL, NULL);
}

static void misuse_cogroup_other_builder(eddy_builder *b)
{
    eddy_builder *other = eddy_builder_new();
    eddy_grouped_stream *theirs = eddy_group_by_key(eddy_stream_from(other, "in", NULL, NULL));
    eddy_cogroup_add(eddy_cogroup(grouped(b), aggregator, NULL), theirs, aggregator, NULL);
    eddy_builder_destroy(other);
}

static void misuse_cogroup_null_initializer(eddy_builder *b)
{
    eddy_cogroup_aggregate(eddy_cogroup(grouped(b), aggregator, NULL), NULL, NULL, NULL);
}

static void misuse_wrong_handle_kind(eddy_builder *b)
{
    /* A grouped stream passed as a windowed stream (C's casts allow it). */
    eddy_windowed_count((eddy_windowed_stream *)(void *)grouped(b), NULL);
}

TEST(misuse_is_remembered_with_the_operator_named)
{
    expect_misuse(misuse_zero_size, EDDY_ERR_INVALID_ARGUMENT,
                  "eddy_windowed_by_time: size_ms must be > 0");
    expect_misuse(misuse_advance_over_size, EDDY_ERR_INVALID_ARGUMENT, "advance_ms");
    expect_misuse(misuse_negative_grace, EDDY_ERR_INVALID_ARGUMENT,
                  "eddy_windowed_by_session: grace_ms must be >= 0");
    expect_misuse(misuse_zero_gap, EDDY_ERR_INVALID_ARGUMENT, "gap_ms must be > 0");
    expect_misuse(misuse_negative_difference, EDDY_ERR_INVALID_ARGUMENT, "time_difference_ms");
    expect_misuse(misuse_retention_overflow, EDDY_ERR_INVALID_ARGUMENT, "overflows");
    expect_misuse(misuse_null_reducer, EDDY_ERR_INVALID_ARGUMENT,
                  "eddy_windowed_reduce: a callback is NULL");
    expect_misuse(misuse_null_merger, EDDY_ERR_INVALID_ARGUMENT,
                  "eddy_session_aggregate: a callback is NULL");
    expect_misuse(misuse_store_name_taken, EDDY_ERR_EXISTS, "\"taken\"");
    expect_misuse(misuse_suppress_not_windowed, EDDY_ERR_INVALID_ARGUMENT,
                  "eddy_suppress_until_window_closes: table KSTREAM-AGGREGATE-0000000002");
    expect_misuse(misuse_suppress_half_windowed, EDDY_ERR_INVALID_ARGUMENT, "KTABLE-MERGE-");
    expect_misuse(misuse_suppress_emit_early_final, EDDY_ERR_INVALID_ARGUMENT,
                  "shut down when full");
    expect_misuse(misuse_suppress_bad_strategy, EDDY_ERR_INVALID_ARGUMENT, "when_full");
    expect_misuse(misuse_suppress_negative_limit, EDDY_ERR_INVALID_ARGUMENT, "time_limit_ms");
    expect_misuse(misuse_join_window_negative, EDDY_ERR_INVALID_ARGUMENT,
                  "eddy_join_stream: before_ms + after_ms");
    expect_misuse(misuse_join_null_joiner, EDDY_ERR_INVALID_ARGUMENT,
                  "eddy_outer_join_stream: the joiner is NULL");
    expect_misuse(misuse_join_other_builder, EDDY_ERR_INVALID_ARGUMENT, "another builder");
    expect_misuse(misuse_table_join_null_joiner, EDDY_ERR_INVALID_ARGUMENT,
                  "eddy_table_outer_join: the joiner is NULL");
    expect_misuse(misuse_table_join_of_joined_table, EDDY_ERR_STATE, "several stores");
    expect_misuse(misuse_cogroup_null_aggregator, EDDY_ERR_INVALID_ARGUMENT,
                  "eddy_cogroup: the aggregator is NULL");
    expect_misuse(misuse_cogroup_other_builder, EDDY_ERR_INVALID_ARGUMENT, "another builder");
    expect_misuse(misuse_cogroup_null_initializer, EDDY_ERR_INVALID_ARGUMENT,
                  "eddy_cogroup_aggregate: the initializer is NULL");
    expect_misuse(misuse_wrong_handle_kind, EDDY_ERR_INVALID_ARGUMENT, "wrong kind");
}

/* ---- allocation failures ---- */

static eddy_err build_and_describe_everything(void)
{
    eddy_builder *b = eddy_builder_new();
    if (!b)
        return EDDY_ERR_NO_MEMORY;
    eddy_stream *s = eddy_stream_from(b, "in", NULL, NULL);
    eddy_stream *keyed = eddy_map(s, mapper, NULL);
    eddy_grouped_stream *g = eddy_grouped_named(eddy_group_by_key(keyed), "g");
    eddy_table *time =
        eddy_windowed_aggregate(eddy_windowed_by_time(g, 10, 5, 1), init, aggregator, NULL, NULL);
    eddy_table_to(eddy_suppress_until_window_closes(time, 0, 0, EDDY_SUPPRESS_SHUT_DOWN_WHEN_FULL),
                  "final");
    eddy_windowed_count(eddy_windowed_by_sliding(g, 10, 0), NULL);
    eddy_session_aggregate(eddy_windowed_by_session(g, 10, 0), init, aggregator, merger, NULL,
                           "sessions");
    eddy_stream *other = eddy_stream_from(b, "other", NULL, NULL);
    eddy_to(eddy_outer_join_stream(keyed, other, value_joiner, NULL, 5, 5, 1), "joined");
    eddy_table *t1 = eddy_table_from(b, "t1", NULL, NULL, NULL);
    eddy_table *t2 = eddy_table_from(b, "t2", NULL, NULL, NULL);
    eddy_table_to(eddy_suppress_until_time_limit(eddy_table_left_join(t1, t2, value_joiner, NULL),
                                                 100, 10, 0, EDDY_SUPPRESS_EMIT_EARLY_WHEN_FULL),
                  "tables");
    eddy_cogrouped_stream *c = eddy_cogroup(eddy_group_by_key(keyed), aggregator, NULL);
    c = eddy_cogroup_add(c, eddy_group_by_key(other), aggregator, NULL);
    eddy_table_to(eddy_cogroup_aggregate(c, init, NULL, NULL), "cogrouped");
    char *text = NULL, *dot = NULL;
    eddy_err err = eddy_builder_describe(b, &text);
    if (err == EDDY_OK)
        err = eddy_builder_describe_dot(b, &dot);
    eddy_free(text);
    eddy_free(dot);
    eddy_builder_destroy(b);
    return err;
}

TEST(allocation_failures_never_crash_or_leak)
{
    int64_t before = eddy__alloc_live_bytes();
    EXPECT_OK(build_and_describe_everything());
    EXPECT_EQ(eddy__alloc_live_bytes(), before);
    for (uint64_t n = 1; n < 100000; n++) {
        eddy__alloc_fail_after(n, 1);
        eddy_err err = build_and_describe_everything();
        uint64_t injected = eddy__alloc_failures_injected();
        eddy__alloc_fail_after(0, 0);
        EXPECT_EQ(eddy__alloc_live_bytes(), before);
        if (injected == 0) {
            EXPECT_OK(err);
            EXPECT_GE(n, 100);
            return;
        }
        EXPECT_ERR(err, EDDY_ERR_NO_MEMORY);
    }
    EXPECT_TRUE(false); /* never got through without a failure */
}
