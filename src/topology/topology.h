/* The processor graph behind streams.h, and the finished topology the runtime reads.
 *
 * The DSL (builder.c) turns each operator into one or more processor nodes, exactly as Kafka
 * Streams' InternalStreamsBuilder does, so that names, numbering and sub-topologies come out
 * the same. Nodes live in builder->nodes in creation order and refer to each other, to stores
 * and to topics by index. Building (build.c) checks the whole graph, orders it as Kafka writes
 * it to its InternalTopologyBuilder, cuts it into sub-topologies (connected components of
 * parent edges and shared stores), and computes Kafka's description order (describe.c prints
 * it). The runtime then reads the eddy__topology that eddy__builder_build() returns:
 *
 *     builder ──build──> eddy__topology ── subtopologies[] ── nodes (description order)
 *                                       │                  ├─ source / sink / repartition topics
 *                                       │                  └─ stores
 *                                       ├─ nodes[] (kind, op, callbacks, parents, children)
 *                                       ├─ stores[] (kind, changelog), topics[] (internal?)
 *                                       └─ copartition groups (topic lists)
 *
 * Everything the topology points to belongs to the builder and lives until
 * eddy_builder_destroy(); a later operator on the builder invalidates a built topology (build
 * again). */
#ifndef EDDY_TOPOLOGY_TOPOLOGY_H
#define EDDY_TOPOLOGY_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "eddy/streams.h"

/* Limits of one topology: core/limits.h (EDDY_TOPOLOGY_*), under the names this module uses. */
#define EDDY__TOPOLOGY_NODES_MAX EDDY_TOPOLOGY_NODES_MAX
#define EDDY__NAME_MAX EDDY_TOPOLOGY_NAME_MAX
#define EDDY__SOURCE_TOPICS_MAX EDDY_TOPOLOGY_SOURCE_TOPICS_MAX
#define EDDY__PROCESSOR_STORES_MAX EDDY_TOPOLOGY_PROCESSOR_STORES_MAX

/* "No index": a node, store, topic or graph node that is absent. */
#define EDDY__NONE UINT32_MAX

/* What a node does. The runtime switches on this; the description only needs the node type
 * (source, processor, sink) that eddy__op_type() gives. */
typedef enum eddy__op {
    EDDY__OP_SOURCE,              /* reads topics (stream, table, global or repartition source) */
    EDDY__OP_SINK,                /* writes a topic, or the topic an extractor picks */
    EDDY__OP_FILTER,              /* predicate true: forward */
    EDDY__OP_FILTER_NOT,          /* predicate false: forward */
    EDDY__OP_MAP,                 /* map_fn: one eddy_forward */
    EDDY__OP_MAP_VALUES,          /* map_fn: one eddy_forward_value */
    EDDY__OP_FLAT_MAP,            /* map_fn: n eddy_forward */
    EDDY__OP_FLAT_MAP_VALUES,     /* map_fn: n eddy_forward_value */
    EDDY__OP_SELECT_KEY,          /* key_fn: new key, same value (also group_by's selector) */
    EDDY__OP_PEEK,                /* action_fn, then forward */
    EDDY__OP_FOREACH,             /* action_fn; terminal */
    EDDY__OP_MERGE,               /* forward from every parent */
    EDDY__OP_SPLIT,               /* first child branch whose predicate holds (branch order) */
    EDDY__OP_BRANCH,              /* pass-through child of a split; predicate NULL: default */
    EDDY__OP_REPARTITION_FILTER,  /* pass-through in front of a repartition sink (Kafka's) */
    EDDY__OP_PROCESS,             /* user processor (def) */
    EDDY__OP_STREAM_COUNT,        /* store: key -> int64 count */
    EDDY__OP_STREAM_REDUCE,       /* store: key -> reduced value */
    EDDY__OP_STREAM_AGGREGATE,    /* store: key -> aggregate */
    EDDY__OP_TABLE_SOURCE,        /* materializes (if store) and forwards changes */
    EDDY__OP_TABLE_FILTER,        /* predicate; a filtered-out row forwards a deletion */
    EDDY__OP_TABLE_FILTER_NOT,    /* as TABLE_FILTER, predicate negated */
    EDDY__OP_TABLE_MAP_VALUES,    /* map_fn on the value of each change */
    EDDY__OP_TABLE_TO_STREAM,     /* changes -> records */
    EDDY__OP_TABLE_SELECT,        /* map_fn on new and old value: (key', value') pairs */
    EDDY__OP_TABLE_COUNT,         /* store: +1 adder side, -1 subtractor side */
    EDDY__OP_TABLE_REDUCE,        /* store: reducer adder / subtractor */
    EDDY__OP_TABLE_AGGREGATE,     /* store: initializer, aggregator adder / subtractor */
    EDDY__OP_JOIN_TABLE,          /* stream record x table getter store (inner) */
    EDDY__OP_LEFT_JOIN_TABLE,     /* stream record x table getter store (left) */
    EDDY__OP_JOIN_GLOBAL,         /* key_fn -> global store lookup (inner) */
    EDDY__OP_LEFT_JOIN_GLOBAL,    /* key_fn -> global store lookup (left) */
    EDDY__OP_GLOBAL_TABLE_SOURCE, /* keeps a global store up to date */

    /* Windows (windows.h). Node fields: `window`, `aggregation`, callbacks as the
     * non-windowed aggregations, `merger` for session aggregations with AGGREGATE (NULL for
     * session count and reduce, which merge by adding and by the reducer, as Kafka's
     * countMerger and mergerForAggregator). `store` is a window store (time and sliding
     * windows) or a session store; the output is a change keyed by the windowed key
     * (windows.h's byte layout). */
    EDDY__OP_WINDOW_AGGREGATE,  /* time (tumbling, hopping) windows: KStreamWindowAggregate */
    EDDY__OP_SLIDING_AGGREGATE, /* sliding windows: KStreamSlidingWindowAggregate */
    EDDY__OP_SESSION_AGGREGATE, /* session windows: KStreamSessionWindowAggregate */
    EDDY__OP_SUPPRESS,          /* KTableSuppressProcessor: `suppress`, `store` is its buffer */

    /* Stream-stream joins (KStreamImpl.join: JoinWindows). For each side, a WINDOWED node puts
     * the record into its side's window store (`store`) and forwards it; a JOIN node of the
     * same side then joins it with the other side's store (`join_store`), and both JOIN nodes
     * feed one MERGE node. `join` holds the window and kind; `outer_store` is the store of
     * unmatched records of left/outer joins (EDDY__NONE for inner), a key-value store whose
     * key layout the runtime chooses. JOIN nodes also name their own side's store in `store`
     * (`stores`, as Kafka connects them, lists only the other side's and the shared one). */
    EDDY__OP_STREAM_JOIN_WINDOW, /* KSTREAM-WINDOWED-n: KStreamJoinWindow */
    EDDY__OP_STREAM_JOIN_THIS,   /* KSTREAM-JOINTHIS-n / OUTERTHIS-n: left record */
    EDDY__OP_STREAM_JOIN_OTHER,  /* KSTREAM-JOINOTHER-n / OUTEROTHER-n: right record */

    /* Table-table joins (KTableKTableJoin and friends): THIS gets left changes and reads the
     * right table's getter (`join_table`, `join_store`); OTHER the other way round (its
     * `join_table` is the left table); both feed a MERGE (pass-through, EDDY__OP_MERGE) whose
     * output may be materialized (`store`). */
    EDDY__OP_TABLE_JOIN_THIS,  /* KTABLE-JOINTHIS-n (inner, left and outer joins alike) */
    EDDY__OP_TABLE_JOIN_OTHER, /* KTABLE-JOINOTHER-n (inner, left and outer joins alike) */

    /* Cogroup: one AGGREGATE node per input (all sharing `store`, each with its `aggregator`
     * and the shared `initializer`) feeding a pass-through MERGE (EDDY__OP_MERGE). */
    EDDY__OP_COGROUP_AGGREGATE, /* COGROUPKSTREAM-AGGREGATE-n */

    /* Foreign-key table-table joins (KIP-213, Kafka's KTableImpl.doJoinOnForeignKey; fk_join.c
     * builds them, src/runtime/ops_fk.c runs them and defines the bytes they exchange). On the
     * left table's side, SEND gets its changes, computes each row's foreign key with `key` and
     * writes subscriptions keyed by foreign key to the registration topic. On the right table's
     * side, RECEIVE keeps them in the subscription store (`store`) and SUBSCRIPTION_JOIN answers
     * each with the right table's value for its foreign key (getter `join_table`, `join_store`)
     * through the response topic, keyed by the left key; FOREIGN_JOIN, a child of the right
     * table, answers every subscriber of a changed right row (`store`: the subscription store).
     * Back on the left table's side, RESPONSE_JOIN drops answers computed for an older left
     * value and joins the others (`value_joiner`; the left table's getter `join_table`,
     * `join_store`) into changes for the output, a TABLE_SOURCE (KTABLE-FK-JOIN-OUTPUT-n) that
     * is materialized only when an operator needs it, as Kafka's KTableSource. `join.kind`
     * (INNER or LEFT) is set on SEND and RESPONSE_JOIN. */
    EDDY__OP_FK_SUBSCRIPTION_SEND,    /* KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-n */
    EDDY__OP_FK_SUBSCRIPTION_RECEIVE, /* KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-n */
    EDDY__OP_FK_SUBSCRIPTION_JOIN,    /* KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-n+1 */
    EDDY__OP_FK_FOREIGN_JOIN,         /* KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-n+2 */
    EDDY__OP_FK_RESPONSE_JOIN, /* KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-n */
} eddy__op;

/* What a windowed or cogrouped aggregation computes. */
typedef enum eddy__aggregation {
    EDDY__AGGREGATION_COUNT,     /* int64 counts */
    EDDY__AGGREGATION_REDUCE,    /* `reducer` */
    EDDY__AGGREGATION_AGGREGATE, /* `initializer`, `aggregator` */
} eddy__aggregation;

/* Windows of a windowed aggregation (and of the suppression after it). */
typedef struct eddy__window {
    int64_t size_ms;    /* time: window size; sliding: the time difference; session: 0 */
    int64_t advance_ms; /* time: the advance (== size when tumbling); others: 0 */
    int64_t gap_ms;     /* session: the inactivity gap; others: 0 */
    int64_t grace_ms;
} eddy__window;

typedef enum eddy__join_kind {
    EDDY__JOIN_INNER,
    EDDY__JOIN_LEFT,
    EDDY__JOIN_OUTER,
} eddy__join_kind;

/* A stream-stream join's window (JoinWindows) and kind. */
typedef struct eddy__join {
    eddy__join_kind kind;
    int64_t before_ms; /* a left record at t joins right records from t - before_ms ... */
    int64_t after_ms;  /* ... to t + after_ms; a right record at t: left from t - after_ms to
                        * t + before_ms */
    int64_t grace_ms;
} eddy__join;

/* Suppression (Kafka's Suppressed). */
typedef struct eddy__suppress {
    int64_t time_limit_ms; /* untilTimeLimit; -1: untilWindowCloses (the window from
                            * `window_node`) */
    uint32_t window_node;  /* untilWindowCloses: the windowed aggregation upstream */
    size_t max_records;    /* 0: unbounded */
    size_t max_bytes;      /* 0: unbounded */
    eddy_suppress_full when_full;
} eddy__suppress;

typedef enum eddy__node_type {
    EDDY__NODE_SOURCE,
    EDDY__NODE_PROCESSOR,
    EDDY__NODE_SINK,
} eddy__node_type;

/* A growable array of indices. */
typedef struct eddy__ids {
    uint32_t *items;
    uint32_t count;
    uint32_t capacity;
} eddy__ids;

typedef struct eddy__node {
    char *name;
    eddy__op op;
    uint32_t graph_node;           /* the graph node that writes it (build order) */
    eddy__ids parents;             /* in the order Kafka passes predecessors */
    eddy__ids children;            /* in creation order */
    eddy__ids stores;              /* connected stores, in connection order */
    eddy__ids topics;              /* SOURCE: the topics read */
    uint32_t sink_topic;           /* SINK: the topic written, or EDDY__NONE with an extractor */
    const eddy_serde *key_serde;   /* SOURCE/SINK: NULL = application default */
    const eddy_serde *value_serde; /* SOURCE/SINK */

    /* Callbacks: which are set depends on op (see eddy__op). */
    eddy_predicate_fn predicate;
    eddy_map_fn map;
    eddy_key_fn key;
    eddy_action_fn action;
    eddy_initializer_fn initializer;
    eddy_aggregator_fn aggregator; /* aggregate; table adder */
    eddy_aggregator_fn subtractor; /* table aggregate */
    eddy_reducer_fn reducer;       /* reduce; table reduce adder */
    eddy_reducer_fn reducer_subtractor;
    eddy_joiner_fn joiner;
    eddy_value_joiner_fn value_joiner; /* stream-stream and table-table joins */
    eddy_merger_fn merger;             /* SESSION_AGGREGATE of AGGREGATE */
    eddy_topic_extractor_fn extractor;
    eddy_processor_def def; /* PROCESS; def.name is NULL (the name is `name`) */
    void *opaque;
    void *initializer_opaque; /* COGROUP_AGGREGATE: the initializer's (`opaque` is the
                               * aggregator's, which each input has its own) */

    uint32_t store;      /* aggregations, TABLE_SOURCE (once materialized), GLOBAL_TABLE_SOURCE */
    uint32_t join_store; /* JOIN_TABLE/LEFT_JOIN_TABLE: the table's store; *_GLOBAL: global store */
    uint32_t join_table; /* JOIN_TABLE/LEFT_JOIN_TABLE, TABLE_JOIN_*: the other table's node
                          * (its value getter runs the unmaterialized table operators between
                          * join_store and it) */
    uint32_t outer_store; /* STREAM_JOIN_THIS/OTHER of left and outer joins: unmatched records */
    eddy__aggregation aggregation; /* WINDOW/SLIDING/SESSION/COGROUP aggregations */
    eddy__window window;           /* WINDOW/SLIDING/SESSION_AGGREGATE */
    eddy__join join;               /* STREAM_JOIN_*, TABLE_JOIN_* (kind only) */
    eddy__suppress suppress;       /* SUPPRESS */
    char *pending_store; /* TABLE_SOURCE: the store name, until an operator materializes it */
    uint32_t renamed_with[2]; /* nodes renamed along with this one (see eddy_table_named) */
    const char *rename_suffix[2];

    /* Filled by build. */
    int32_t subtopology;
    uint32_t write_position;        /* position in Kafka's write order (nodeFactories) */
    eddy__ids description_children; /* "-->" in Kafka's order */
    eddy__ids description_parents;  /* "<--" in Kafka's order */
} eddy__node;

/* The shape of a store's keys (store/window.h has the window and session layouts). */
typedef enum eddy__store_type {
    EDDY__STORE_KEY_VALUE = 0,
    EDDY__STORE_WINDOW,   /* windowed aggregations, stream-stream join buffers */
    EDDY__STORE_SESSION,  /* session aggregations */
    EDDY__STORE_BUFFER,   /* a suppression buffer (key-value, logged) */
} eddy__store_type;

typedef struct eddy__store {
    char *name;
    eddy_store_kind kind;
    eddy__store_type type;
    int64_t retention_ms;  /* WINDOW, SESSION: how long windows are kept (-1: not windowed) */
    bool retain_duplicates; /* WINDOW of a stream-stream join: every record kept, with a
                             * sequence number (Kafka's retainDuplicates; Kafka logs these
                             * with cleanup.policy=delete, no compaction) */
    bool caching;           /* the runtime puts a record cache in front (false for join
                             * buffers and suppression buffers, as Kafka) */
    bool changelog;        /* logged to <application.id>-<name>-changelog */
    bool global;           /* a global table's store: filled from its topic, no changelog */
    uint32_t global_topic; /* global: the topic it is read from */
    const eddy_serde *key_serde;
    const eddy_serde *value_serde;
    int32_t subtopology; /* filled by build */
} eddy__store;

typedef struct eddy__topic {
    char *name;         /* internal: without the "<application.id>-" prefix */
    bool internal;      /* a repartition topic */
    bool global;        /* read by a global table */
    int32_t partitions; /* internal: requested partition count, 0 = as its inputs */
} eddy__topic;

/* One sub-topology (or global store group) of the built topology. */
typedef struct eddy__subtopology {
    int32_t id;
    bool global;                  /* a global store's group: no tasks, read by every instance */
    eddy__ids nodes;              /* in Kafka's description order */
    eddy__ids source_topics;      /* every topic its sources read (internal ones too) */
    eddy__ids sink_topics;        /* every static topic its sinks write */
    eddy__ids repartition_topics; /* the internal topics among source_topics */
    eddy__ids stores;
} eddy__subtopology;

/* The built topology; see the file comment. */
typedef struct eddy__topology {
    const eddy__node *nodes;
    uint32_t node_count;
    const eddy__store *stores;
    uint32_t store_count;
    const eddy__topic *topics;
    uint32_t topic_count;
    const eddy__subtopology *subtopologies;
    uint32_t subtopology_count;
    const eddy__ids *copartition_groups; /* topic indices; overlapping groups merged */
    uint32_t copartition_group_count;
    eddy_timestamp_extractor_fn timestamp_extractor; /* NULL: the configured built-in one */
    void *timestamp_opaque;
} eddy__topology;

/* A node in Kafka's InternalStreamsBuilder graph: one DSL operator, writing one or more
 * processors. Kept only to reproduce the order in which Kafka writes processors. */
typedef struct eddy__graph_node {
    uint64_t priority; /* build priority: reset each time the node is added to a parent */
    eddy__ids parents;
    eddy__ids children; /* may hold a child twice, as Kafka's */
    eddy__ids members;  /* processor nodes, in write order */
} eddy__graph_node;

/* Handles: one struct for every public handle type. */
typedef enum eddy__handle_kind {
    EDDY__HANDLE_STREAM,
    EDDY__HANDLE_TABLE,
    EDDY__HANDLE_GROUPED_STREAM,
    EDDY__HANDLE_GROUPED_TABLE,
    EDDY__HANDLE_GLOBAL_TABLE,
    EDDY__HANDLE_BRANCHES,
    EDDY__HANDLE_SINK,
    EDDY__HANDLE_WINDOWED_STREAM,  /* eddy_windowed_stream: time or sliding windows */
    EDDY__HANDLE_SESSION_STREAM,   /* eddy_session_stream */
    EDDY__HANDLE_COGROUPED_STREAM, /* eddy_cogrouped_stream */
    EDDY__HANDLE_KINDS
} eddy__handle_kind;

typedef struct eddy__handle {
    eddy_builder *builder;
    eddy__handle_kind kind;
    bool dead;           /* an operator failed: operators on it do nothing */
    uint32_t node;       /* the node that produced it */
    uint32_t graph_node; /* its graph node (children attach to it) */
    const eddy_serde *key_serde;
    const eddy_serde *value_serde;
    bool repartition_required; /* keys changed upstream */
    eddy__ids source_nodes;    /* Kafka's subTopologySourceNodes: for co-partitioning */
    /* Streams: the repartition made for a join, reused by later joins (Kafka's). */
    uint32_t join_repartition_graph_node;
    uint32_t join_repartition_source;
    /* Grouped streams and tables. */
    char *grouped_name;
    uint32_t select_node;            /* group_by's key selector, renamed by eddy_grouped_named */
    uint32_t repartition_graph_node; /* reused when the grouping is named */
    uint32_t repartition_source;
    bool aggregated;
    /* Tables: the materialized store, if any (getter stores are found through parents). */
    uint32_t store;
    /* Global tables. */
    uint32_t global_store;
    /* Branches. */
    char *prefix;
    uint32_t branch_count;
    bool default_added;
    /* Windowed and session streams: the grouped stream windowed (whose repartition they share,
     * as Kafka's windowed streams share their KGroupedStream's aggregate builder), and the
     * windows: window_op is the aggregation's operator (WINDOW, SLIDING or SESSION). */
    struct eddy__handle *grouped;
    eddy__op window_op;
    eddy__window window;
    /* Cogrouped streams: the inputs in cogroup order, each with its aggregator and its own
     * repartition (Kafka's CogroupedStreamAggregateBuilder keeps them apart from the grouped
     * stream's), reused when the cogroup is aggregated again. */
    struct eddy__cogroup_input {
        struct eddy__handle *grouped;
        eddy_aggregator_fn aggregator;
    void *opaque;
        uint32_t repartition_graph_node; /* EDDY__NONE until a repartition is made */
    uint32_t repartition_source;
    } * inputs;
    uint32_t input_count, input_capacity;
} eddy__handle;

struct eddy_builder {
    eddy_err error; /* first error; EDDY_OK while none */
    char *error_message;
    uint64_t name_counter; /* Kafka's index: one per generated name */
    uint64_t priority_counter;
    eddy__node *nodes;
    uint32_t node_count, node_capacity;
    eddy__graph_node *graph_nodes; /* [0] is the root */
    uint32_t graph_node_count, graph_node_capacity;
    eddy__store *stores;
    uint32_t store_count, store_capacity;
    eddy__topic *topics;
    uint32_t topic_count, topic_capacity;
    eddy__ids *copartition_sources; /* groups of source nodes, as Kafka records them */
    uint32_t copartition_count, copartition_capacity;
    struct eddy__store_option {
    char *name;
    eddy_store_kind kind;
        bool changelog;
    } * store_options;
    uint32_t store_option_count, store_option_capacity;
    eddy__handle **handles;
    uint32_t handle_count, handle_capacity;
    eddy__handle dead[EDDY__HANDLE_KINDS]; /* returned when an operator fails */

    eddy_timestamp_extractor_fn timestamp_extractor;
    void *timestamp_opaque;

    /* The built topology (build.c); valid while built is true. */
    bool built;
    eddy__topology topology;
    eddy__subtopology *subtopologies;
    uint32_t subtopology_count;
    eddy__ids *copartition_groups;
    uint32_t copartition_group_count;
};

/* ---- builder.c ---- */

eddy__node_type eddy__op_type(eddy__op op);

/* Records the builder's first error (later ones are ignored) and returns it. */
eddy_err eddy__builder_fail(eddy_builder *builder, eddy_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends to an index array. EDDY_ERR_NO_MEMORY when it cannot grow. */
eddy_err eddy__ids_push(eddy__ids *ids, uint32_t id);
bool eddy__ids_contains(const eddy__ids *ids, uint32_t id);
void eddy__ids_free(eddy__ids *ids);
/* Appends the ids of `from` that `to` lacks. */
eddy_err eddy__ids_copy(eddy__ids *to, const eddy__ids *from);

/* The builder's operator toolkit, shared by builder.c and windows.c. Functions that return an
 * index return EDDY__NONE on failure and those that return a pointer NULL, with the error
 * recorded in the builder unless said otherwise; `function` names the public operator for
 * the message. */

/* Records "<function>: out of memory" and returns EDDY_ERR_NO_MEMORY. */
eddy_err eddy__fail_no_memory(eddy_builder *builder, const char *function);
/* Checks a user-given name (Kafka's Named rules); records an error naming `what`. */
bool eddy__check_name(eddy_builder *builder, const char *function, const char *what,
                      const char *name);
/* A formatted string from eddy__malloc (NULL when out of memory; nothing recorded). */
char *eddy__format_string(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Kafka's newProcessorName (prefix + %010d of the counter, incremented) and newStoreName
 * (prefix + "STATE-STORE-" + %010d). NULL when out of memory (nothing recorded; the counter is
 * incremented anyway). */
char *eddy__new_processor_name(eddy_builder *builder, const char *prefix);
char *eddy__new_store_name(eddy_builder *builder, const char *prefix);
/* A node's name, or "(none)". */
const char *eddy__node_name(const eddy_builder *builder, uint32_t node);

/* The builder's dead handle of `kind`: every operator on it does nothing. */
eddy__handle *eddy__dead_handle(eddy_builder *builder, eddy__handle_kind kind);
/* A new live handle (fields EDDY__NONE), or the dead one when out of memory. */
eddy__handle *eddy__handle_new(eddy_builder *builder, eddy__handle_kind kind, const char *function);
/* The builder of an operator's handle argument after checking its kind (NULL for a NULL
 * handle); *usable is false when the operator must do nothing (wrong kind: recorded; dead).
 * Invalidates a built topology. */
eddy_builder *eddy__handle_builder(eddy__handle *handle, eddy__handle_kind kind,
                                   const char *function, bool *usable);
/* Checks that `other` (named `what` in errors) is a handle of `builder` of `kind`: false,
 * recorded, when not; false, silently, when it is dead. */
bool eddy__same_builder(eddy_builder *builder, const eddy__handle *other, eddy__handle_kind kind,
                        const char *what, const char *function);
/* Stream and table handles for `node`/`graph`, inheriting serdes and source nodes of `from`
 * (and, for streams, whether keys changed); dead when node is EDDY__NONE. */
eddy__handle *eddy__stream_handle(eddy_builder *builder, const eddy__handle *from, uint32_t node,
                                  uint32_t graph, const char *function);
eddy__handle *eddy__table_handle(eddy_builder *builder, const eddy__handle *from, uint32_t node,
                                 uint32_t graph, const char *function);

/* Kafka's addGraphNode: links child under parent and gives the child a new build priority. */
eddy_err eddy__graph_add(eddy_builder *builder, uint32_t parent, uint32_t child);
/* A new graph node under each of `parents` (Kafka's addGraphNode once per parent). */
uint32_t eddy__graph_node_under(eddy_builder *builder, const uint32_t *parents,
                                uint32_t parent_count, const char *function);
/* A node named `name` (taken over, freed on failure) written by graph node `graph`, child of
 * `parent` (EDDY__NONE: none). */
uint32_t eddy__node_new(eddy_builder *builder, eddy__op op, char *name, uint32_t graph,
                        uint32_t parent, const char *function);
/* A store named `name` (copied): key-value, cached, logged unless global, retention -1.
 * A name in use is EDDY_ERR_EXISTS. */
uint32_t eddy__store_new(eddy_builder *builder, const char *name, eddy_store_kind kind, bool global,
                         const char *function);
uint32_t eddy__store_find(const eddy_builder *builder, const char *name);
/* Connects a store to a node (once). EDDY_ERR_NO_MEMORY, not recorded. */
eddy_err eddy__connect_store(eddy_builder *builder, uint32_t node, uint32_t store);
/* Kafka's copartitionSources: the topics of these source nodes must be co-partitioned.
 * EDDY_ERR_NO_MEMORY, not recorded. */
eddy_err eddy__copartition(eddy_builder *builder, const eddy__ids *sources);

/* The names Kafka's createRepartitionedSource gives: the topic, and filter, sink and source
 * processors. Making them burns three counter values, whatever is made of them. */
typedef struct eddy__repartition_names {
    char *topic, *filter, *sink, *source;
} eddy__repartition_names;
bool eddy__repartition_names_make(eddy_builder *builder, const char *prefix,
                                  eddy__repartition_names *names, const char *function);
void eddy__repartition_names_free(eddy__repartition_names *names);
/* Writes a repartition under `parent_node` (graph node `parent_graph`): [filter ->] sink ->
 * topic and a source reading it, with `in`'s serdes. Takes the names over. Returns the graph
 * node; *source_out the source node. */
uint32_t eddy__repartition_new(eddy_builder *builder, uint32_t parent_node, uint32_t parent_graph,
                               eddy__repartition_names *names, int32_t partitions, bool with_filter,
                               const eddy__handle *in, uint32_t *source_out, const char *function);
/* A new internal topic `name` (copied; the runtime prefixes "<application.id>-") with
 * `partitions` (0: computed at start). A name in use is EDDY_ERR_EXISTS. */
uint32_t eddy__internal_topic_new(eddy_builder *builder, const char *name, int32_t partitions,
                                  const char *function);
/* A source node named `name` (taken over) reading `topic`, written by graph node `graph`. */
uint32_t eddy__source_new(eddy_builder *builder, char *name, uint32_t topic, uint32_t graph,
                          const eddy_serde *key_serde, const eddy_serde *value_serde,
                          const char *function);
/* Kafka's repartitionForJoin: see builder.c. Returns the node a join attaches to. */
uint32_t eddy__join_input(eddy_builder *builder, eddy__handle *in, uint32_t *graph,
                          const char *function);

/* The store name of an aggregation: the user's (checked, not in use) or
 * PREFIX-STATE-STORE-<n>. */
char *eddy__aggregation_store_name(eddy_builder *builder, const char *store_name,
                                   const char *prefix, const char *function);
/* Kafka's GroupedStreamAggregateBuilder.build for a live grouped stream: store name, processor
 * name (prefix + n), the repartition when keys changed, the processor `op` with its store.
 * Returns the table handle (dead on failure), whose value serde is `value_serde`. */
eddy__handle *eddy__stream_aggregation(eddy__handle *grouped, eddy__op op, const char *prefix,
                                       const char *store_name, const eddy_serde *value_serde,
                                       const char *function);
/* The one store a reader of a table uses (Kafka's value getter), materializing a source
 * table; EDDY__NONE (recorded) when the getter would need several. */
uint32_t eddy__table_getter_store(eddy_builder *builder, uint32_t table, const char *function);
/* Kafka's enableSendingOldValues(true): materializes the source tables a table reads through
 * pass-through operators. */
eddy_err eddy__table_send_old_values(eddy_builder *builder, uint32_t table, const char *function);

/* ---- build.c ---- */

/* Checks and builds the topology (see the file comment). The result belongs to the builder;
 * valid until the next operator on it or its destruction.
 * EDDY_OK; the builder's first error; EDDY_ERR_EXISTS for a name or repartition topic used
 * twice; EDDY_ERR_NOT_FOUND for store options naming no store; EDDY_ERR_NO_MEMORY. */
eddy_err eddy__builder_build(eddy_builder *builder, const eddy__topology **out);

/* Frees what build made (the builder calls it before changing and at destruction). */
void eddy__builder_unbuild(eddy_builder *builder);

/* "<application.id>-<name>" for internal topics, the name for others. Returns the length
 * snprintf would write (truncated to size). */
int eddy__topic_full_name(const eddy__topic *topic, const char *application_id, char *buf,
                          size_t size);

/* "<application.id>-<store>-changelog". */
int eddy__store_changelog_name(const eddy__store *store, const char *application_id, char *buf,
                          size_t size);

/* ---- java_order.c: Java collection orders Kafka's description inherits ---- */

/* Java's String.hashCode for an ASCII string. */
int32_t eddy__java_string_hash(const char *s);

/* The iteration order of a java.util.HashMap/HashSet into which `names[0..count)` were put in
 * order, created with `initial_capacity` (16 for `new HashMap<>()`; for a copy constructor,
 * eddy__java_copy_capacity(count)). Writes the permutation to order (count entries). */
eddy_err eddy__java_hash_order(const char *const *names, uint32_t count, uint32_t initial_capacity,
                               uint32_t *order);

/* The table capacity of `new HashSet<>(collection of count)`. */
uint32_t eddy__java_copy_capacity(uint32_t count);

/* A java.util.TreeSet (red-black tree) whose comparator reads mutable state, reproduced with
 * its exact insertion behaviour: Kafka's description sorts node sets by sizes that change
 * while the sets are filled, so the order printed depends on the tree's shape. */
typedef struct eddy__java_tree {
    struct eddy__java_tree_entry {
        uint32_t key;
        uint32_t left, right, parent; /* EDDY__NONE = null */
        bool red;
    } * entries;
    uint32_t count, capacity;
    uint32_t root;
} eddy__java_tree;

typedef int (*eddy__java_compare_fn)(uint32_t a, uint32_t b, void *opaque);

/* Adds key unless the comparator finds it equal to an entry (returns EDDY_OK either way). */
eddy_err eddy__java_tree_add(eddy__java_tree *tree, uint32_t key, eddy__java_compare_fn compare,
                             void *opaque);
/* The keys in order. */
eddy_err eddy__java_tree_keys(const eddy__java_tree *tree, eddy__ids *out);
void eddy__java_tree_free(eddy__java_tree *tree);

/* ---- describe.c ---- */

eddy_err eddy__describe_text(const eddy_builder *builder, char **out);
eddy_err eddy__describe_dot(const eddy_builder *builder, char **out);

#endif
