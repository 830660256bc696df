/* The foreign-key table-table join of include/eddy/windows.h (eddy_table_fk_join,
 * eddy_table_fk_left_join), built exactly as Kafka Streams' KTableImpl.doJoinOnForeignKey
 * builds it (no Named, no Materialized), with the operator toolkit of topology.h.
 *
 * With n the counter value its first name takes, the join writes (graph nodes in brackets,
 * each under the one before unless said otherwise):
 *
 *   n     topic      KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-n-topic (internal)
 *   n+1   [under the left table]  KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-n+1   subscription send
 *   n+2   [ ]        KTABLE-SINK-n+2    -> the registration topic
 *   n+3   [ ]        KTABLE-SOURCE-n+3  <- the registration topic
 *   n+4   [under the root: Kafka's StateStoreNode]
 *                    store KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-n+4 (not cached, logged)
 *   n+5   [under the source]  KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-n+5  receive (the store)
 *   n+6   [ ]        KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-n+6  join with the right table
 *                                                               (reads the right table's store)
 *   n+7   [under the right table]  KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-n+7  right changes
 *                                                               (the subscription store)
 *   n+8   topic      KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-n+8-topic (internal)
 *   n+9   [under n+6's and n+7's]  KTABLE-SINK-n+9  -> the response topic
 *   n+10  [ ]        KTABLE-SOURCE-n+10 <- the response topic
 *   n+11  [ ]        KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-n+11
 *                                                               (reads the left table's store)
 *   n+12  [ ]        KTABLE-FK-JOIN-OUTPUT-n+12  the result (a KTableSource)
 *   n+13             store name KTABLE-FK-JOIN-OUTPUT-STATE-STORE-n+13, used only if the result
 *                    is materialized (an operator reads it)
 *
 * Before any of it both tables are made to send old values (Kafka's enableSendingOldValues:
 * their source tables are materialized). The registration topic is co-partitioned with the
 * right table's sources, the response topic with the left table's (Kafka's copartitionSources),
 * so the runtime gives each the partition count of that side's input topics. The result's
 * "source nodes" are the left table's plus the response source, as in Kafka. */
#include "topology/topology.h"

#include <string.h>

#include "core/alloc.h"
#include "eddy/windows.h"

#define FK_JOIN_SUBSCRIPTION_REGISTRATION "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-"
#define FK_JOIN_SUBSCRIPTION_RESPONSE "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-"
#define FK_JOIN_SUBSCRIPTION_PROCESSOR "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-"
#define FK_JOIN_RESOLVER "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-"
#define FK_JOIN_STATE_STORE "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-"
#define FK_JOIN_OUTPUT "KTABLE-FK-JOIN-OUTPUT-"
#define KTABLE_SINK "KTABLE-SINK-"
#define KTABLE_SOURCE "KTABLE-SOURCE-"
#define TOPIC_SUFFIX "-topic"

#define H(x) ((eddy__handle *)(void *)(x))

/* Every name the join generates, in Kafka's counter order (see the file comment). */
typedef struct fk_names {
    char *registration_topic, *registration, *registration_sink, *registration_source;
    char *store, *receive, *subscription_join, *foreign_join;
    char *response_topic, *response_sink, *response_source, *resolver, *output, *output_store;
} fk_names;

#define FK_NAME_COUNT (sizeof(fk_names) / sizeof(char *))

static void fk_names_free(fk_names *names)
{
    char **all = (char **)names;
    for (size_t i = 0; i < FK_NAME_COUNT; i++)
        eddy__free(all[i]);
    memset(names, 0, sizeof *names);
}

/* A topic name: Kafka's newProcessorName(prefix) + "-topic". */
static char *topic_name(eddy_builder *builder, const char *prefix)
{
    char *name = eddy__new_processor_name(builder, prefix);
    char *topic = name ? eddy__format_string("%s" TOPIC_SUFFIX, name) : NULL;
    eddy__free(name);
    return topic;
}

static bool fk_names_make(eddy_builder *builder, fk_names *names, const char *function)
{
    names->registration_topic = topic_name(builder, FK_JOIN_SUBSCRIPTION_REGISTRATION);
    names->registration = eddy__new_processor_name(builder, FK_JOIN_SUBSCRIPTION_REGISTRATION);
    names->registration_sink = eddy__new_processor_name(builder, KTABLE_SINK);
    names->registration_source = eddy__new_processor_name(builder, KTABLE_SOURCE);
    /* Kafka names the subscription store with newProcessorName, hence no "STATE-STORE-" infix
     * beyond the prefix's own. */
    names->store = eddy__new_processor_name(builder, FK_JOIN_STATE_STORE);
    names->receive = eddy__new_processor_name(builder, FK_JOIN_SUBSCRIPTION_PROCESSOR);
    names->subscription_join = eddy__new_processor_name(builder, FK_JOIN_SUBSCRIPTION_PROCESSOR);
    names->foreign_join = eddy__new_processor_name(builder, FK_JOIN_SUBSCRIPTION_PROCESSOR);
    names->response_topic = topic_name(builder, FK_JOIN_SUBSCRIPTION_RESPONSE);
    names->response_sink = eddy__new_processor_name(builder, KTABLE_SINK);
    names->response_source = eddy__new_processor_name(builder, KTABLE_SOURCE);
    names->resolver = eddy__new_processor_name(builder, FK_JOIN_RESOLVER);
    names->output = eddy__new_processor_name(builder, FK_JOIN_OUTPUT);
    names->output_store = eddy__new_store_name(builder, FK_JOIN_OUTPUT);
    char **all = (char **)names;
    for (size_t i = 0; i < FK_NAME_COUNT; i++) {
        if (!all[i]) {
            eddy__fail_no_memory(builder, function);
            return false;
        }
    }
    return true;
}

/* A second parent for a node made with one (the response sink). */
static bool add_parent(eddy_builder *builder, uint32_t node, uint32_t parent, const char *function)
{
    if (eddy__ids_push(&builder->nodes[node].parents, parent) != EDDY_OK ||
        eddy__ids_push(&builder->nodes[parent].children, node) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return false;
    }
    return true;
}

/* Kafka's copartitionSources(table's source nodes + source). */
static bool copartition_with(eddy_builder *builder, const eddy__handle *table, uint32_t source,
                             const char *function)
{
    eddy__ids sources = {0};
    eddy_err err = eddy__ids_copy(&sources, &table->source_nodes);
    if (err == EDDY_OK)
        err = eddy__ids_push(&sources, source);
    if (err == EDDY_OK)
        err = eddy__copartition(builder, &sources);
    eddy__ids_free(&sources);
    if (err != EDDY_OK)
        eddy__fail_no_memory(builder, function);
    return err == EDDY_OK;
}

/* One processor `op` named `*name` (taken over) under `parent`, in a new graph node under
 * `parent_graph`, connected to `store` (EDDY__NONE: none). *graph receives its graph node. */
static uint32_t fk_processor(eddy_builder *builder, eddy__op op, char **name, uint32_t parent,
                             uint32_t parent_graph, uint32_t store, uint32_t *graph,
                             const char *function)
{
    *graph = eddy__graph_node_under(builder, &parent_graph, 1, function);
    uint32_t node = eddy__node_new(builder, op, *name, *graph, parent, function);
    *name = NULL;
    if (node != EDDY__NONE && store != EDDY__NONE &&
        eddy__connect_store(builder, node, store) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return EDDY__NONE;
    }
    return node;
}

/* An internal topic with its sink (under `parents`, in a new graph node under their graph
 * nodes) and its source (in a graph node under the sink's). *source_out and *graph_out receive
 * the source and its graph node; returns the sink, or EDDY__NONE. */
static uint32_t fk_topic(eddy_builder *builder, const char *topic, char **sink_name,
                         char **source_name, const uint32_t *parents, const uint32_t *graphs,
                         uint32_t parent_count, const eddy_serde *key_serde, uint32_t *source_out,
                         uint32_t *graph_out, const char *function)
{
    uint32_t topic_index = eddy__internal_topic_new(builder, topic, 0, function);
    if (topic_index == EDDY__NONE)
        return EDDY__NONE;
    uint32_t sink_graph = eddy__graph_node_under(builder, graphs, parent_count, function);
    uint32_t sink =
        eddy__node_new(builder, EDDY__OP_SINK, *sink_name, sink_graph, parents[0], function);
    *sink_name = NULL;
    for (uint32_t i = 1; i < parent_count && sink != EDDY__NONE; i++)
        if (!add_parent(builder, sink, parents[i], function))
            sink = EDDY__NONE;
    if (sink == EDDY__NONE)
        return EDDY__NONE;
    eddy__node *s = &builder->nodes[sink];
    s->sink_topic = topic_index;
    s->key_serde = key_serde;
    s->value_serde = eddy_serde_bytes(); /* eddy's own subscription and response bytes */
    *graph_out = eddy__graph_node_under(builder, &sink_graph, 1, function);
    *source_out = eddy__source_new(builder, *source_name, topic_index, *graph_out, key_serde,
                                   eddy_serde_bytes(), function);
    *source_name = NULL;
    return *source_out == EDDY__NONE ? EDDY__NONE : sink;
}

/* The right table's side: the registration topic, the subscription store, the receiving and
 * joining processors and the processor of right changes. Returns the subscription join node;
 * *foreign_out the right-changes node, *graphs_out their graph nodes. */
static uint32_t fk_right_side(eddy_builder *builder, fk_names *names, const eddy__handle *in,
                              const eddy__handle *other, uint32_t send, uint32_t send_graph,
                              uint32_t *foreign_out, uint32_t graphs_out[2], const char *function)
{
    uint32_t source, source_graph, graph;
    if (fk_topic(builder, names->registration_topic, &names->registration_sink,
                 &names->registration_source, &send, &send_graph, 1, other->key_serde, &source,
                 &source_graph, function) == EDDY__NONE ||
        !copartition_with(builder, other, source, function))
        return EDDY__NONE;
    /* Kafka's addStateStore puts a StateStoreNode under the root. */
    uint32_t root = 0;
    if (eddy__graph_node_under(builder, &root, 1, function) == EDDY__NONE)
        return EDDY__NONE;
    uint32_t store = eddy__store_new(builder, names->store, EDDY_STORE_DEFAULT, false, function);
    if (store == EDDY__NONE)
        return EDDY__NONE;
    eddy__store *s = &builder->stores[store];
    s->caching = false; /* Kafka's SubscriptionStoreFactory: caching always disabled */
    s->key_serde = eddy_serde_bytes();
    s->value_serde = eddy_serde_bytes();
    uint32_t receive = fk_processor(builder, EDDY__OP_FK_SUBSCRIPTION_RECEIVE, &names->receive,
                                    source, source_graph, store, &graph, function);
    if (receive == EDDY__NONE)
        return EDDY__NONE;
    builder->nodes[receive].store = store;
    uint32_t right_store = eddy__table_getter_store(builder, other->node, function);
    if (right_store == EDDY__NONE)
        return EDDY__NONE;
    uint32_t join = fk_processor(builder, EDDY__OP_FK_SUBSCRIPTION_JOIN, &names->subscription_join,
                                 receive, graph, right_store, &graphs_out[0], function);
    if (join == EDDY__NONE)
        return EDDY__NONE;
    builder->nodes[join].join_store = right_store;
    builder->nodes[join].join_table = other->node;
    uint32_t foreign =
        fk_processor(builder, EDDY__OP_FK_FOREIGN_JOIN, &names->foreign_join, other->node,
                     other->graph_node, store, &graphs_out[1], function);
    if (foreign == EDDY__NONE)
        return EDDY__NONE;
    builder->nodes[foreign].store = store;
    builder->nodes[join].key_serde = in->key_serde;
    *foreign_out = foreign;
    return join;
}

/* The whole join (see the file comment). Returns the output node; *graph_out its graph node;
 * *response_source_out the response topic's source. */
static uint32_t fk_build(eddy_builder *builder, fk_names *names, const eddy__handle *in,
                         const eddy__handle *other, eddy_key_fn foreign_key,
                         eddy_value_joiner_fn joiner, void *opaque, eddy__join_kind kind,
                         uint32_t *graph_out, uint32_t *response_source_out, const char *function)
{
    uint32_t send_graph, graphs[2], foreign, source, source_graph, graph;
    uint32_t send = fk_processor(builder, EDDY__OP_FK_SUBSCRIPTION_SEND, &names->registration,
                                 in->node, in->graph_node, EDDY__NONE, &send_graph, function);
    if (send == EDDY__NONE)
        return EDDY__NONE;
    eddy__node *n = &builder->nodes[send];
    n->key = foreign_key;
    n->opaque = opaque;
    n->join.kind = kind;
    uint32_t join =
        fk_right_side(builder, names, in, other, send, send_graph, &foreign, graphs, function);
    if (join == EDDY__NONE)
        return EDDY__NONE;
    uint32_t parents[2] = {join, foreign};
    if (fk_topic(builder, names->response_topic, &names->response_sink, &names->response_source,
                 parents, graphs, 2, in->key_serde, &source, &source_graph,
                 function) == EDDY__NONE ||
        !copartition_with(builder, in, source, function))
        return EDDY__NONE;
    uint32_t left_store = eddy__table_getter_store(builder, in->node, function);
    if (left_store == EDDY__NONE)
        return EDDY__NONE;
    uint32_t resolver = fk_processor(builder, EDDY__OP_FK_RESPONSE_JOIN, &names->resolver, source,
                                     source_graph, left_store, &graph, function);
    if (resolver == EDDY__NONE)
        return EDDY__NONE;
    n = &builder->nodes[resolver];
    n->join_store = left_store;
    n->join_table = in->node;
    n->join.kind = kind;
    n->value_joiner = joiner;
    n->opaque = opaque;
    n->key_serde = in->key_serde; /* the output store's key serde, should it be materialized */
    uint32_t output = fk_processor(builder, EDDY__OP_TABLE_SOURCE, &names->output, resolver, graph,
                                   EDDY__NONE, graph_out, function);
    if (output == EDDY__NONE)
        return EDDY__NONE;
    builder->nodes[output].pending_store = names->output_store;
    names->output_store = NULL;
    *response_source_out = source;
    return output;
}

/* eddy__table_send_old_values, making sure a failure is recorded (it returns its first
 * allocation failure without recording it). */
static bool send_old_values(eddy_builder *builder, uint32_t table, const char *function)
{
    eddy_err err = eddy__table_send_old_values(builder, table, function);
    if (err != EDDY_OK && builder->error == EDDY_OK)
        eddy__fail_no_memory(builder, function);
    return err == EDDY_OK;
}

static eddy_table *fk_join(eddy_table *left, eddy_table *right, eddy_key_fn foreign_key,
                           eddy_value_joiner_fn joiner, void *opaque, eddy__join_kind kind,
                           const char *function)
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
    if (!foreign_key || !joiner) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: the %s is NULL (after %s)",
                           function, foreign_key ? "joiner" : "foreign-key extractor",
                           eddy__node_name(builder, in->node));
        return (eddy_table *)dead;
    }
    /* Kafka: the right table sends old values (an optimization there), then the left one (its
     * subscriptions must be withdrawn from the old foreign key). */
    if (!send_old_values(builder, other->node, function) ||
        !send_old_values(builder, in->node, function))
        return (eddy_table *)dead;
    fk_names names = {0};
    uint32_t graph = EDDY__NONE, response_source = EDDY__NONE, output = EDDY__NONE;
    if (fk_names_make(builder, &names, function))
        output = fk_build(builder, &names, in, other, foreign_key, joiner, opaque, kind, &graph,
                          &response_source, function);
    fk_names_free(&names);
    eddy__handle *out = eddy__table_handle(builder, NULL, output, graph, function);
    if (out->dead)
        return (eddy_table *)out;
    out->key_serde = in->key_serde;
    /* Kafka's resultSourceNodes: the left table's source nodes and the response source. */
    if (eddy__ids_copy(&out->source_nodes, &in->source_nodes) != EDDY_OK ||
        eddy__ids_push(&out->source_nodes, response_source) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return (eddy_table *)dead;
    }
    return (eddy_table *)out;
}

eddy_table *eddy_table_fk_join(eddy_table *left, eddy_table *right, eddy_key_fn foreign_key,
                               eddy_value_joiner_fn joiner, void *opaque)
{
    return fk_join(left, right, foreign_key, joiner, opaque, EDDY__JOIN_INNER,
                   "eddy_table_fk_join");
}

eddy_table *eddy_table_fk_left_join(eddy_table *left, eddy_table *right, eddy_key_fn foreign_key,
                                    eddy_value_joiner_fn joiner, void *opaque)
{
    return fk_join(left, right, foreign_key, joiner, opaque, EDDY__JOIN_LEFT,
                   "eddy_table_fk_left_join");
}
