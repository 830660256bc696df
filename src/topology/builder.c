/* The DSL builder: each operator of streams.h becomes processor nodes, stores and topics, built
 * the way Kafka Streams' InternalStreamsBuilder builds them, so that every generated name,
 * every burned counter value and every repartition comes out as in Kafka Streams:
 *
 * - one counter per builder; each generated name is PREFIX + %010d of it, and Kafka "burns" a
 *   value in places even when a user name is used (kept here: names given later with
 *   eddy_*_named() rename nodes whose number was already taken);
 * - store names are PREFIX + "STATE-STORE-" + %010d of the same counter;
 * - a key-changing operator (map, flat-map, select-key, a user processor) marks the stream;
 *   a grouping or join of a marked stream repartitions first (filter, sink, topic, source);
 * - each operator is also a node of Kafka's "graph" (eddy__graph_node), whose build priority
 *   decides the order in which Kafka writes processors, hence sub-topology numbers.
 *
 * Misuse never crashes: the first error is kept in the builder, and the failing operator
 * returns a dead handle on which every operator is a no-op.
 *
 * The time-based operators of windows.h live in windows.c, built from the toolkit this file
 * shares through topology.h (node, store and handle makers, repartitions, getters). */
#include "topology/topology.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/limits.h"

#define KSTREAM_SOURCE "KSTREAM-SOURCE-"
#define KSTREAM_SINK "KSTREAM-SINK-"
#define KSTREAM_FILTER "KSTREAM-FILTER-"
#define KSTREAM_MAP "KSTREAM-MAP-"
#define KSTREAM_MAPVALUES "KSTREAM-MAPVALUES-"
#define KSTREAM_FLATMAP "KSTREAM-FLATMAP-"
#define KSTREAM_FLATMAPVALUES "KSTREAM-FLATMAPVALUES-"
#define KSTREAM_KEY_SELECT "KSTREAM-KEY-SELECT-"
#define KSTREAM_PEEK "KSTREAM-PEEK-"
#define KSTREAM_FOREACH "KSTREAM-FOREACH-"
#define KSTREAM_MERGE "KSTREAM-MERGE-"
#define KSTREAM_BRANCH "KSTREAM-BRANCH-"
#define KSTREAM_REPARTITION "KSTREAM-REPARTITION-"
#define KSTREAM_PROCESSOR "KSTREAM-PROCESSOR-"
#define KSTREAM_AGGREGATE "KSTREAM-AGGREGATE-"
#define KSTREAM_REDUCE "KSTREAM-REDUCE-"
#define KSTREAM_JOIN "KSTREAM-JOIN-"
#define KSTREAM_LEFTJOIN "KSTREAM-LEFTJOIN-"
#define KTABLE_SOURCE "KTABLE-SOURCE-"
#define KTABLE_FILTER "KTABLE-FILTER-"
#define KTABLE_MAPVALUES "KTABLE-MAPVALUES-"
#define KTABLE_TOSTREAM "KTABLE-TOSTREAM-"
#define KTABLE_SELECT "KTABLE-SELECT-"
#define KTABLE_AGGREGATE "KTABLE-AGGREGATE-"
#define KTABLE_REDUCE "KTABLE-REDUCE-"
#define STATE_STORE "STATE-STORE-"
#define REPARTITION_SUFFIX "-repartition"

#define H(x) ((eddy__handle *)(void *)(x))

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                              */

eddy__node_type eddy__op_type(eddy__op op)
{
    switch (op) {
    case EDDY__OP_SOURCE:
        return EDDY__NODE_SOURCE;
    case EDDY__OP_SINK:
        return EDDY__NODE_SINK;
    default:
        return EDDY__NODE_PROCESSOR;
    }
}

eddy_err eddy__ids_push(eddy__ids *ids, uint32_t id)
{
    if (ids->count == ids->capacity) {
        uint32_t capacity = ids->capacity ? ids->capacity * 2 : 4;
        uint32_t *grown = eddy__realloc(ids->items, capacity * sizeof *grown);
        if (!grown)
            return EDDY_ERR_NO_MEMORY;
        ids->items = grown;
        ids->capacity = capacity;
    }
    ids->items[ids->count++] = id;
    return EDDY_OK;
}

bool eddy__ids_contains(const eddy__ids *ids, uint32_t id)
{
    for (uint32_t i = 0; i < ids->count; i++)
        if (ids->items[i] == id)
            return true;
    return false;
}

void eddy__ids_free(eddy__ids *ids)
{
    eddy__free(ids->items);
    memset(ids, 0, sizeof *ids);
}

eddy_err eddy__ids_copy(eddy__ids *to, const eddy__ids *from)
{
    for (uint32_t i = 0; i < from->count; i++) {
        if (eddy__ids_contains(to, from->items[i]))
            continue;
        eddy_err err = eddy__ids_push(to, from->items[i]);
        if (err != EDDY_OK)
            return err;
    }
    return EDDY_OK;
}

/* Grows *array (of element_size elements, *capacity of them) to hold one more. */
static eddy_err grow(void **array, uint32_t count, uint32_t *capacity, size_t element_size)
{
    if (count < *capacity)
        return EDDY_OK;
    uint32_t grown_capacity = *capacity ? *capacity * 2 : 16;
    void *grown = eddy__realloc(*array, grown_capacity * element_size);
    if (!grown)
        return EDDY_ERR_NO_MEMORY;
    *array = grown;
    *capacity = grown_capacity;
    return EDDY_OK;
}

eddy_err eddy__builder_fail(eddy_builder *builder, eddy_err err, const char *fmt, ...)
{
    if (builder->error != EDDY_OK)
        return builder->error;
    char message[EDDY_ERROR_MESSAGE_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    builder->error = err;
    builder->error_message = eddy__strdup(message); /* NULL: eddy_strerror() stands in */
    return err;
}

eddy_err eddy__fail_no_memory(eddy_builder *builder, const char *function)
{
    return eddy__builder_fail(builder, EDDY_ERR_NO_MEMORY, "%s: out of memory", function);
}

/* Kafka's rule for names (Named.validate) and topics: 1-249 of [a-zA-Z0-9._-], not . or .. */
static bool name_valid(const char *name)
{
    size_t length = strlen(name);
    if (length == 0 || length > EDDY__NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return false;
    for (const char *c = name; *c; c++) {
        bool valid = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-';
        if (!valid)
            return false;
    }
    return true;
}

/* Checks a user-given name; records an error naming the operator and what was named. */
bool eddy__check_name(eddy_builder *builder, const char *function, const char *what,
                      const char *name)
{
    if (!name) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: %s is NULL", function, what);
        return false;
    }
    if (!name_valid(name)) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT,
                           "%s: %s \"%.64s\" is not valid: names are 1-%d characters of "
                           "[a-zA-Z0-9._-], not \".\" or \"..\"",
                           function, what, name, EDDY__NAME_MAX);
        return false;
    }
    return true;
}

char *eddy__format_string(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int length = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    if (length < 0)
        return NULL;
    char *s = eddy__malloc((size_t)length + 1);
    if (!s)
        return NULL;
    va_start(args, fmt);
    vsnprintf(s, (size_t)length + 1, fmt, args);
    va_end(args);
    return s;
}

/* Kafka's newProcessorName: prefix + %010d of the counter, which it increments. */
char *eddy__new_processor_name(eddy_builder *builder, const char *prefix)
{
    return eddy__format_string("%s%010" PRIu64, prefix, builder->name_counter++);
}

/* Kafka's newStoreName: prefix + "STATE-STORE-" + %010d. */
char *eddy__new_store_name(eddy_builder *builder, const char *prefix)
{
    return eddy__format_string("%s" STATE_STORE "%010" PRIu64, prefix, builder->name_counter++);
}

/* Kafka's store name for a source table: topic + "-STATE-STORE-" + %010d. */
static char *table_store_name(eddy_builder *builder, const char *topic)
{
    return eddy__format_string("%s-" STATE_STORE "%010" PRIu64, topic, builder->name_counter++);
}

/* Kafka generates a name it does not use, to keep later numbers stable ("burns" it). */
static void burn_name(eddy_builder *builder)
{
    builder->name_counter++;
}

/* A user name (copied, the counter burned as Kafka's orElseGenerateWithPrefix does) or a
 * generated one. */
static char *user_or_generated_name(eddy_builder *builder, const char *name, const char *prefix)
{
    if (!name)
        return eddy__new_processor_name(builder, prefix);
    burn_name(builder);
    return eddy__strdup(name);
}

eddy__handle *eddy__dead_handle(eddy_builder *builder, eddy__handle_kind kind)
{
    eddy__handle *handle = &builder->dead[kind];
    handle->builder = builder;
    handle->kind = kind;
    handle->dead = true;
    return handle;
}

eddy__handle *eddy__handle_new(eddy_builder *builder, eddy__handle_kind kind, const char *function)
{
    eddy__handle *handle = eddy__calloc(1, sizeof *handle);
    if (!handle || grow((void **)&builder->handles, builder->handle_count,
                        &builder->handle_capacity, sizeof *builder->handles) != EDDY_OK) {
        eddy__free(handle);
        eddy__fail_no_memory(builder, function);
        return eddy__dead_handle(builder, kind);
    }
    builder->handles[builder->handle_count++] = handle;
    handle->builder = builder;
    handle->kind = kind;
    handle->node = EDDY__NONE;
    handle->graph_node = EDDY__NONE;
    handle->join_repartition_graph_node = EDDY__NONE;
    handle->join_repartition_source = EDDY__NONE;
    handle->select_node = EDDY__NONE;
    handle->repartition_graph_node = EDDY__NONE;
    handle->repartition_source = EDDY__NONE;
    handle->store = EDDY__NONE;
    handle->global_store = EDDY__NONE;
    return handle;
}

/* The builder of a handle argument, after checking its kind; NULL for a NULL handle (which has
 * no builder to remember the error in). *usable is false when the operator must do nothing. */
eddy_builder *eddy__handle_builder(eddy__handle *handle, eddy__handle_kind kind,
                                   const char *function, bool *usable)
{
    *usable = false;
    if (!handle)
        return NULL;
    eddy_builder *builder = handle->builder;
    if (handle->kind != kind) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT,
                           "%s: the handle is of the wrong kind", function);
        return builder;
    }
    eddy__builder_unbuild(builder);
    *usable = !handle->dead;
    return builder;
}

const char *eddy__node_name(const eddy_builder *builder, uint32_t node)
{
    return node == EDDY__NONE ? "(none)" : builder->nodes[node].name;
}

/* ------------------------------------------------------------------------------------------ */
/* Graph, nodes, stores, topics                                                               */

/* Kafka's addGraphNode: links child under parent and gives the child a new build priority. */
eddy_err eddy__graph_add(eddy_builder *builder, uint32_t parent, uint32_t child)
{
    eddy__graph_node *p = &builder->graph_nodes[parent];
    eddy__graph_node *c = &builder->graph_nodes[child];
    eddy_err err = eddy__ids_push(&p->children, child);
    if (err == EDDY_OK && !eddy__ids_contains(&c->parents, parent))
        err = eddy__ids_push(&c->parents, parent);
    c->priority = builder->priority_counter++;
    return err;
}

static uint32_t graph_node_new(eddy_builder *builder)
{
    if (grow((void **)&builder->graph_nodes, builder->graph_node_count,
             &builder->graph_node_capacity, sizeof *builder->graph_nodes) != EDDY_OK)
        return EDDY__NONE;
    uint32_t index = builder->graph_node_count++;
    memset(&builder->graph_nodes[index], 0, sizeof builder->graph_nodes[index]);
    return index;
}

/* A graph node under `parent` (several parents for merge). EDDY__NONE on failure (recorded). */
uint32_t eddy__graph_node_under(eddy_builder *builder, const uint32_t *parents,
                                uint32_t parent_count, const char *function)
{
    uint32_t index = graph_node_new(builder);
    if (index == EDDY__NONE) {
        eddy__fail_no_memory(builder, function);
        return EDDY__NONE;
    }
    for (uint32_t i = 0; i < parent_count; i++) {
        if (eddy__graph_add(builder, parents[i], index) != EDDY_OK) {
            eddy__fail_no_memory(builder, function);
            return EDDY__NONE;
        }
    }
    return index;
}

/* A node named `name` (taken over, freed on failure) written by graph node `graph`, child of
 * `parent` (EDDY__NONE: none). EDDY__NONE on failure (recorded). */
uint32_t eddy__node_new(eddy_builder *builder, eddy__op op, char *name, uint32_t graph,
                        uint32_t parent, const char *function)
{
    if (!name || graph == EDDY__NONE) {
        eddy__free(name);
        eddy__fail_no_memory(builder, function);
        return EDDY__NONE;
    }
    if (builder->node_count >= EDDY__TOPOLOGY_NODES_MAX) {
        eddy__free(name);
        eddy__builder_fail(builder, EDDY_ERR_TOO_LARGE, "%s: a topology has at most %d processors",
                           function, EDDY__TOPOLOGY_NODES_MAX);
        return EDDY__NONE;
    }
    if (grow((void **)&builder->nodes, builder->node_count, &builder->node_capacity,
             sizeof *builder->nodes) != EDDY_OK) {
        eddy__free(name);
        eddy__fail_no_memory(builder, function);
        return EDDY__NONE;
    }
    uint32_t index = builder->node_count;
    eddy__node *node = &builder->nodes[index];
    memset(node, 0, sizeof *node);
    node->name = name;
    node->op = op;
    node->graph_node = graph;
    node->sink_topic = EDDY__NONE;
    node->store = EDDY__NONE;
    node->join_store = EDDY__NONE;
    node->join_table = EDDY__NONE;
    node->renamed_with[0] = node->renamed_with[1] = EDDY__NONE;
    node->subtopology = -1;
    if (eddy__ids_push(&builder->graph_nodes[graph].members, index) != EDDY_OK) {
        eddy__free(name);
        eddy__fail_no_memory(builder, function);
        return EDDY__NONE;
    }
    builder->node_count++;
    if (parent != EDDY__NONE) {
        if (eddy__ids_push(&node->parents, parent) != EDDY_OK ||
            eddy__ids_push(&builder->nodes[parent].children, index) != EDDY_OK) {
            eddy__fail_no_memory(builder, function);
            return EDDY__NONE;
        }
    }
    return index;
}

uint32_t eddy__store_find(const eddy_builder *builder, const char *name)
{
    for (uint32_t i = 0; i < builder->store_count; i++)
        if (strcmp(builder->stores[i].name, name) == 0)
            return i;
    return EDDY__NONE;
}

/* A new store (name copied). EDDY__NONE on failure, recorded: a name already in use is
 * EDDY_ERR_EXISTS, as Kafka's "StateStore ... is already added". */
uint32_t eddy__store_new(eddy_builder *builder, const char *name, eddy_store_kind kind, bool global,
                         const char *function)
{
    if (!name) {
        eddy__fail_no_memory(builder, function);
        return EDDY__NONE;
    }
    if (eddy__store_find(builder, name) != EDDY__NONE) {
        eddy__builder_fail(builder, EDDY_ERR_EXISTS,
                           "%s: a state store named \"%s\" exists already", function, name);
        return EDDY__NONE;
    }
    char *copy = eddy__strdup(name);
    if (!copy || grow((void **)&builder->stores, builder->store_count, &builder->store_capacity,
                      sizeof *builder->stores) != EDDY_OK) {
        eddy__free(copy);
        eddy__fail_no_memory(builder, function);
        return EDDY__NONE;
    }
    eddy__store *store = &builder->stores[builder->store_count];
    memset(store, 0, sizeof *store);
    store->name = copy;
    store->kind = kind;
    store->changelog = !global;
    store->global = global;
    store->global_topic = EDDY__NONE;
    store->subtopology = -1;
    store->type = EDDY__STORE_KEY_VALUE;
    store->retention_ms = -1;
    store->caching = true;
    return builder->store_count++;
}

eddy_err eddy__connect_store(eddy_builder *builder, uint32_t node, uint32_t store)
{
    if (eddy__ids_contains(&builder->nodes[node].stores, store))
        return EDDY_OK;
    return eddy__ids_push(&builder->nodes[node].stores, store);
}

static uint32_t topic_find(const eddy_builder *builder, const char *name, bool internal)
{
    for (uint32_t i = 0; i < builder->topic_count; i++)
        if (builder->topics[i].internal == internal && strcmp(builder->topics[i].name, name) == 0)
            return i;
    return EDDY__NONE;
}

/* The topic entry for name (made when missing). EDDY__NONE on failure (recorded). */
static uint32_t topic_get(eddy_builder *builder, const char *name, bool internal,
                          const char *function)
{
    uint32_t found = name ? topic_find(builder, name, internal) : EDDY__NONE;
    if (found != EDDY__NONE)
        return found;
    char *copy = name ? eddy__strdup(name) : NULL;
    if (!copy || grow((void **)&builder->topics, builder->topic_count, &builder->topic_capacity,
                      sizeof *builder->topics) != EDDY_OK) {
        eddy__free(copy);
        eddy__fail_no_memory(builder, function);
        return EDDY__NONE;
    }
    eddy__topic *topic = &builder->topics[builder->topic_count];
    memset(topic, 0, sizeof *topic);
    topic->name = copy;
    topic->internal = internal;
    return builder->topic_count++;
}

/* The source node reading topic, if any. */
static uint32_t topic_source(const eddy_builder *builder, uint32_t topic)
{
    for (uint32_t i = 0; i < builder->node_count; i++)
        if (builder->nodes[i].op == EDDY__OP_SOURCE &&
            eddy__ids_contains(&builder->nodes[i].topics, topic))
            return i;
    return EDDY__NONE;
}

static bool node_name_taken(const eddy_builder *builder, const char *name, uint32_t except)
{
    for (uint32_t i = 0; i < builder->node_count; i++)
        if (i != except && strcmp(builder->nodes[i].name, name) == 0)
            return true;
    return false;
}

/* ------------------------------------------------------------------------------------------ */
/* Builder                                                                                    */

eddy_builder *eddy_builder_new(void)
{
    eddy_builder *builder = eddy__calloc(1, sizeof *builder);
    if (!builder)
        return NULL;
    if (graph_node_new(builder) == EDDY__NONE) { /* the root */
        eddy__free(builder);
        return NULL;
    }
    builder->priority_counter = 1;
    return builder;
}

void eddy_builder_destroy(eddy_builder *builder)
{
    if (!builder)
        return;
    eddy__builder_unbuild(builder);
    for (uint32_t i = 0; i < builder->node_count; i++) {
        eddy__node *node = &builder->nodes[i];
        eddy__free(node->name);
        eddy__free(node->pending_store);
        eddy__ids_free(&node->parents);
        eddy__ids_free(&node->children);
        eddy__ids_free(&node->stores);
        eddy__ids_free(&node->topics);
    }
    eddy__free(builder->nodes);
    for (uint32_t i = 0; i < builder->graph_node_count; i++) {
        eddy__ids_free(&builder->graph_nodes[i].parents);
        eddy__ids_free(&builder->graph_nodes[i].children);
        eddy__ids_free(&builder->graph_nodes[i].members);
    }
    eddy__free(builder->graph_nodes);
    for (uint32_t i = 0; i < builder->store_count; i++)
        eddy__free(builder->stores[i].name);
    eddy__free(builder->stores);
    for (uint32_t i = 0; i < builder->topic_count; i++)
        eddy__free(builder->topics[i].name);
    eddy__free(builder->topics);
    for (uint32_t i = 0; i < builder->copartition_count; i++)
        eddy__ids_free(&builder->copartition_sources[i]);
    eddy__free(builder->copartition_sources);
    for (uint32_t i = 0; i < builder->store_option_count; i++)
        eddy__free(builder->store_options[i].name);
    eddy__free(builder->store_options);
    for (uint32_t i = 0; i < builder->handle_count; i++) {
        eddy__handle *handle = builder->handles[i];
        eddy__ids_free(&handle->source_nodes);
        eddy__free(handle->grouped_name);
        eddy__free(handle->prefix);
        eddy__free(handle->inputs);
        eddy__free(handle);
    }
    eddy__free(builder->handles);
    eddy__free(builder->error_message);
    eddy__free(builder);
}

eddy_err eddy_builder_check(eddy_builder *builder)
{
    if (!builder)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_builder_check: builder is NULL");
    const eddy__topology *topology;
    return eddy__builder_build(builder, &topology);
}

/* ------------------------------------------------------------------------------------------ */
/* Handles made by operators                                                                  */

/* A new handle of `kind` for `node`/`graph`, inheriting the serdes and source nodes of `from`
 * (a stream, table or grouped handle, or NULL). */
static eddy__handle *derived_handle(eddy_builder *builder, eddy__handle_kind kind,
                                    const eddy__handle *from, uint32_t node, uint32_t graph,
                                    const char *function)
{
    if (node == EDDY__NONE)
        return eddy__dead_handle(builder, kind);
    eddy__handle *out = eddy__handle_new(builder, kind, function);
    if (out->dead)
        return out;
    out->node = node;
    out->graph_node = graph;
    if (from) {
        out->key_serde = from->key_serde;
        out->value_serde = from->value_serde;
        if (eddy__ids_copy(&out->source_nodes, &from->source_nodes) != EDDY_OK) {
            eddy__fail_no_memory(builder, function);
            return eddy__dead_handle(builder, kind);
        }
    }
    return out;
}

/* A stream handle also inherits whether a key change upstream requires a repartition. */
eddy__handle *eddy__stream_handle(eddy_builder *builder, const eddy__handle *from, uint32_t node,
                                  uint32_t graph, const char *function)
{
    eddy__handle *out = derived_handle(builder, EDDY__HANDLE_STREAM, from, node, graph, function);
    if (!out->dead && from)
        out->repartition_required = from->repartition_required;
    return out;
}

eddy__handle *eddy__table_handle(eddy_builder *builder, const eddy__handle *from, uint32_t node,
                                 uint32_t graph, const char *function)
{
    return derived_handle(builder, EDDY__HANDLE_TABLE, from, node, graph, function);
}

/* One processor under `in` (a live stream or table): the common shape of most operators. */
static uint32_t one_processor(eddy_builder *builder, const eddy__handle *in, eddy__op op,
                              char *name, const char *function, uint32_t *graph)
{
    *graph = eddy__graph_node_under(builder, &in->graph_node, 1, function);
    return eddy__node_new(builder, op, name, *graph, in->node, function);
}

/* ------------------------------------------------------------------------------------------ */
/* Sources                                                                                    */

/* Checks a topic argument and that no other source reads it yet. */
static uint32_t source_topic(eddy_builder *builder, const char *topic, const char *function)
{
    if (!eddy__check_name(builder, function, "topic", topic))
        return EDDY__NONE;
    uint32_t index = topic_get(builder, topic, false, function);
    if (index == EDDY__NONE)
        return EDDY__NONE;
    uint32_t reader = topic_source(builder, index);
    if (reader != EDDY__NONE) {
        eddy__builder_fail(builder, EDDY_ERR_EXISTS,
                           "%s: topic \"%s\" is already read by source %s", function, topic,
                           builder->nodes[reader].name);
        return EDDY__NONE;
    }
    return index;
}

/* A source node for `topics` under a new graph node below the root. */
static uint32_t source_node(eddy_builder *builder, char *name, const uint32_t *topics,
                            uint32_t topic_count, uint32_t graph, const eddy_serde *key_serde,
                            const eddy_serde *value_serde, const char *function)
{
    uint32_t node = eddy__node_new(builder, EDDY__OP_SOURCE, name, graph, EDDY__NONE, function);
    if (node == EDDY__NONE)
        return EDDY__NONE;
    for (uint32_t i = 0; i < topic_count; i++) {
        if (eddy__ids_push(&builder->nodes[node].topics, topics[i]) != EDDY_OK) {
            eddy__fail_no_memory(builder, function);
            return EDDY__NONE;
        }
    }
    builder->nodes[node].key_serde = key_serde;
    builder->nodes[node].value_serde = value_serde;
    return node;
}

eddy_stream *eddy_stream_from_topics(eddy_builder *builder, const char *const *topics, size_t count,
                                     const eddy_serde *key_serde, const eddy_serde *value_serde)
{
    static const char function[] = "eddy_stream_from";
    if (!builder)
        return NULL;
    eddy__builder_unbuild(builder);
    if (!topics || count == 0 || count > EDDY__SOURCE_TOPICS_MAX) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT,
                           "%s: a source reads 1-%d topics (got %zu%s)", function,
                           EDDY__SOURCE_TOPICS_MAX, count, topics ? "" : ", topics NULL");
        return (eddy_stream *)eddy__dead_handle(builder, EDDY__HANDLE_STREAM);
    }
    uint32_t indices[EDDY__SOURCE_TOPICS_MAX];
    for (size_t i = 0; i < count; i++) {
        indices[i] = source_topic(builder, topics[i], function);
        if (indices[i] == EDDY__NONE)
            return (eddy_stream *)eddy__dead_handle(builder, EDDY__HANDLE_STREAM);
        for (size_t j = 0; j < i; j++) {
            if (indices[j] == indices[i]) {
                eddy__builder_fail(builder, EDDY_ERR_EXISTS, "%s: topic \"%s\" is listed twice",
                                   function, topics[i]);
                return (eddy_stream *)eddy__dead_handle(builder, EDDY__HANDLE_STREAM);
            }
        }
    }
    uint32_t root = 0;
    uint32_t graph = eddy__graph_node_under(builder, &root, 1, function);
    uint32_t node = source_node(builder, eddy__new_processor_name(builder, KSTREAM_SOURCE), indices,
                                (uint32_t)count, graph, key_serde, value_serde, function);
    eddy__handle *out = eddy__stream_handle(builder, NULL, node, graph, function);
    if (out->dead)
        return (eddy_stream *)out;
    out->key_serde = key_serde;
    out->value_serde = value_serde;
    if (eddy__ids_push(&out->source_nodes, node) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return (eddy_stream *)eddy__dead_handle(builder, EDDY__HANDLE_STREAM);
    }
    return (eddy_stream *)out;
}

eddy_stream *eddy_stream_from(eddy_builder *builder, const char *topic, const eddy_serde *key_serde,
                              const eddy_serde *value_serde)
{
    if (!builder)
        return NULL;
    if (!topic) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "eddy_stream_from: topic is NULL");
        return (eddy_stream *)eddy__dead_handle(builder, EDDY__HANDLE_STREAM);
    }
    return eddy_stream_from_topics(builder, &topic, 1, key_serde, value_serde);
}

/* Creates and connects the store of a table source (Kafka's KTableSource.materialize()). */
static uint32_t materialize_table_source(eddy_builder *builder, uint32_t node, const char *function)
{
    eddy__node *n = &builder->nodes[node];
    if (n->store != EDDY__NONE)
        return n->store;
    uint32_t store =
        eddy__store_new(builder, n->pending_store, EDDY_STORE_DEFAULT, false, function);
    if (store == EDDY__NONE)
        return EDDY__NONE;
    n = &builder->nodes[node];
    if (eddy__connect_store(builder, node, store) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return EDDY__NONE;
    }
    n->store = store;
    builder->stores[store].key_serde = builder->nodes[n->parents.items[0]].key_serde;
    builder->stores[store].value_serde = builder->nodes[n->parents.items[0]].value_serde;
    return store;
}

eddy_table *eddy_table_from(eddy_builder *builder, const char *topic, const eddy_serde *key_serde,
                            const eddy_serde *value_serde, const char *store_name)
{
    static const char function[] = "eddy_table_from";
    if (!builder)
        return NULL;
    eddy__builder_unbuild(builder);
    if (store_name && !eddy__check_name(builder, function, "store name", store_name))
        return (eddy_table *)eddy__dead_handle(builder, EDDY__HANDLE_TABLE);
    uint32_t topic_index = source_topic(builder, topic, function);
    if (topic_index == EDDY__NONE)
        return (eddy_table *)eddy__dead_handle(builder, EDDY__HANDLE_TABLE);
    /* Kafka: the store name (topic + "-STATE-STORE-n") first, then the two processors. */
    char *store = store_name ? eddy__strdup(store_name) : table_store_name(builder, topic);
    uint32_t root = 0;
    uint32_t graph = eddy__graph_node_under(builder, &root, 1, function);
    uint32_t source = source_node(builder, eddy__new_processor_name(builder, KSTREAM_SOURCE),
                                  &topic_index, 1, graph, key_serde, value_serde, function);
    uint32_t node = source == EDDY__NONE
                        ? EDDY__NONE
                        : eddy__node_new(builder, EDDY__OP_TABLE_SOURCE,
                                         eddy__new_processor_name(builder, KTABLE_SOURCE), graph,
                                         source, function);
    if (node == EDDY__NONE || !store) {
        eddy__free(store);
        if (!store)
            eddy__fail_no_memory(builder, function);
        return (eddy_table *)eddy__dead_handle(builder, EDDY__HANDLE_TABLE);
    }
    eddy__node *n = &builder->nodes[node];
    n->pending_store = store;
    n->renamed_with[0] = source;
    n->rename_suffix[0] = "-source";
    if (store_name && materialize_table_source(builder, node, function) == EDDY__NONE)
        return (eddy_table *)eddy__dead_handle(builder, EDDY__HANDLE_TABLE);
    eddy__handle *out = eddy__table_handle(builder, NULL, node, graph, function);
    if (out->dead)
        return (eddy_table *)out;
    out->key_serde = key_serde;
    out->value_serde = value_serde;
    if (eddy__ids_push(&out->source_nodes, source) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return (eddy_table *)eddy__dead_handle(builder, EDDY__HANDLE_TABLE);
    }
    return (eddy_table *)out;
}

eddy_global_table *eddy_global_table_from(eddy_builder *builder, const char *topic,
                                          const eddy_serde *key_serde,
                                          const eddy_serde *value_serde, const char *store_name)
{
    static const char function[] = "eddy_global_table_from";
    if (!builder)
        return NULL;
    eddy__builder_unbuild(builder);
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_GLOBAL_TABLE);
    if (store_name && !eddy__check_name(builder, function, "store name", store_name))
        return (eddy_global_table *)dead;
    uint32_t topic_index = source_topic(builder, topic, function);
    if (topic_index == EDDY__NONE)
        return (eddy_global_table *)dead;
    char *name = store_name ? eddy__strdup(store_name) : table_store_name(builder, topic);
    uint32_t store = eddy__store_new(builder, name, EDDY_STORE_DEFAULT, true, function);
    eddy__free(name);
    if (store == EDDY__NONE)
        return (eddy_global_table *)dead;
    builder->stores[store].global_topic = topic_index;
    builder->stores[store].key_serde = key_serde;
    builder->stores[store].value_serde = value_serde;
    builder->topics[topic_index].global = true;
    uint32_t root = 0;
    uint32_t graph = eddy__graph_node_under(builder, &root, 1, function);
    uint32_t source = source_node(builder, eddy__new_processor_name(builder, KSTREAM_SOURCE),
                                  &topic_index, 1, graph, key_serde, value_serde, function);
    uint32_t node = source == EDDY__NONE
                        ? EDDY__NONE
                        : eddy__node_new(builder, EDDY__OP_GLOBAL_TABLE_SOURCE,
                                         eddy__new_processor_name(builder, KTABLE_SOURCE), graph,
                                         source, function);
    if (node == EDDY__NONE || eddy__connect_store(builder, node, store) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return (eddy_global_table *)dead;
    }
    builder->nodes[node].store = store;
    builder->nodes[node].renamed_with[0] = source;
    builder->nodes[node].rename_suffix[0] = "-source";
    eddy__handle *out = eddy__handle_new(builder, EDDY__HANDLE_GLOBAL_TABLE, function);
    if (out->dead)
        return (eddy_global_table *)out;
    out->node = node;
    out->graph_node = graph;
    out->global_store = store;
    out->key_serde = key_serde;
    out->value_serde = value_serde;
    return (eddy_global_table *)out;
}

/* ------------------------------------------------------------------------------------------ */
/* Stateless stream operators                                                                 */

/* The shape of filter, map, peek, table filter, ...: one processor with one callback under a
 * stream or a table (`kind`), giving a handle of the same kind. */
static eddy__handle *single_operator(eddy__handle *in, eddy__handle_kind kind, eddy__op op,
                                     const char *prefix, const void *callback, const char *function)
{
    bool usable;
    eddy_builder *builder = eddy__handle_builder(in, kind, function, &usable);
    if (!builder)
        return NULL;
    if (!usable)
        return eddy__dead_handle(builder, kind);
    if (!callback) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT,
                           "%s: the callback is NULL (after %s)", function,
                           eddy__node_name(builder, in->node));
        return eddy__dead_handle(builder, kind);
    }
    uint32_t graph;
    uint32_t node =
        one_processor(builder, in, op, eddy__new_processor_name(builder, prefix), function, &graph);
    return kind == EDDY__HANDLE_STREAM ? eddy__stream_handle(builder, in, node, graph, function)
                                       : eddy__table_handle(builder, in, node, graph, function);
}

static eddy__handle *stream_operator(eddy__handle *in, eddy__op op, const char *prefix,
                                     const void *callback, const char *function)
{
    return single_operator(in, EDDY__HANDLE_STREAM, op, prefix, callback, function);
}

eddy_stream *eddy_filter(eddy_stream *stream, eddy_predicate_fn predicate, void *opaque)
{
    eddy__handle *out = stream_operator(H(stream), EDDY__OP_FILTER, KSTREAM_FILTER,
                                        (const void *)predicate, "eddy_filter");
    if (out && !out->dead) {
        out->builder->nodes[out->node].predicate = predicate;
        out->builder->nodes[out->node].opaque = opaque;
    }
    return (eddy_stream *)out;
}

eddy_stream *eddy_filter_not(eddy_stream *stream, eddy_predicate_fn predicate, void *opaque)
{
    eddy__handle *out = stream_operator(H(stream), EDDY__OP_FILTER_NOT, KSTREAM_FILTER,
                                        (const void *)predicate, "eddy_filter_not");
    if (out && !out->dead) {
        out->builder->nodes[out->node].predicate = predicate;
        out->builder->nodes[out->node].opaque = opaque;
    }
    return (eddy_stream *)out;
}

/* map, map-values, flat-map, flat-map-values: how each changes serdes and keys. */
static eddy_stream *mapper_operator(eddy_stream *stream, eddy__op op, const char *prefix,
                                    eddy_map_fn mapper, void *opaque, const char *function)
{
    eddy__handle *out = stream_operator(H(stream), op, prefix, (const void *)mapper, function);
    if (!out || out->dead)
        return (eddy_stream *)out;
    out->builder->nodes[out->node].map = mapper;
    out->builder->nodes[out->node].opaque = opaque;
    out->value_serde = NULL;
    if (op == EDDY__OP_MAP || op == EDDY__OP_FLAT_MAP) {
        out->key_serde = NULL;
        out->repartition_required = true;
    }
    return (eddy_stream *)out;
}

eddy_stream *eddy_map(eddy_stream *stream, eddy_map_fn mapper, void *opaque)
{
    return mapper_operator(stream, EDDY__OP_MAP, KSTREAM_MAP, mapper, opaque, "eddy_map");
}

eddy_stream *eddy_map_values(eddy_stream *stream, eddy_map_fn mapper, void *opaque)
{
    return mapper_operator(stream, EDDY__OP_MAP_VALUES, KSTREAM_MAPVALUES, mapper, opaque,
                           "eddy_map_values");
}

eddy_stream *eddy_flat_map(eddy_stream *stream, eddy_map_fn mapper, void *opaque)
{
    return mapper_operator(stream, EDDY__OP_FLAT_MAP, KSTREAM_FLATMAP, mapper, opaque,
                           "eddy_flat_map");
}

eddy_stream *eddy_flat_map_values(eddy_stream *stream, eddy_map_fn mapper, void *opaque)
{
    return mapper_operator(stream, EDDY__OP_FLAT_MAP_VALUES, KSTREAM_FLATMAPVALUES, mapper, opaque,
                           "eddy_flat_map_values");
}

eddy_stream *eddy_select_key(eddy_stream *stream, eddy_key_fn selector, void *opaque)
{
    eddy__handle *out = stream_operator(H(stream), EDDY__OP_SELECT_KEY, KSTREAM_KEY_SELECT,
                                        (const void *)selector, "eddy_select_key");
    if (out && !out->dead) {
        out->builder->nodes[out->node].key = selector;
        out->builder->nodes[out->node].opaque = opaque;
        out->key_serde = NULL;
        out->repartition_required = true;
    }
    return (eddy_stream *)out;
}

eddy_stream *eddy_peek(eddy_stream *stream, eddy_action_fn action, void *opaque)
{
    eddy__handle *out =
        stream_operator(H(stream), EDDY__OP_PEEK, KSTREAM_PEEK, (const void *)action, "eddy_peek");
    if (out && !out->dead) {
        out->builder->nodes[out->node].action = action;
        out->builder->nodes[out->node].opaque = opaque;
    }
    return (eddy_stream *)out;
}

/* A sink handle for a terminal node. */
static eddy_sink *sink_handle(eddy_builder *builder, uint32_t node, const char *function)
{
    if (node == EDDY__NONE)
        return (eddy_sink *)eddy__dead_handle(builder, EDDY__HANDLE_SINK);
    eddy__handle *out = eddy__handle_new(builder, EDDY__HANDLE_SINK, function);
    if (!out->dead)
        out->node = node;
    return (eddy_sink *)out;
}

eddy_sink *eddy_foreach(eddy_stream *stream, eddy_action_fn action, void *opaque)
{
    eddy__handle *out = stream_operator(H(stream), EDDY__OP_FOREACH, KSTREAM_FOREACH,
                                        (const void *)action, "eddy_foreach");
    if (!out)
        return NULL;
    if (out->dead)
        return (eddy_sink *)eddy__dead_handle(out->builder, EDDY__HANDLE_SINK);
    out->builder->nodes[out->node].action = action;
    out->builder->nodes[out->node].opaque = opaque;
    /* The stream handle made on the way is simply never handed out. */
    return sink_handle(out->builder, out->node, "eddy_foreach");
}

/* Checks that `other` is a live stream of `builder`; records the error otherwise. */
bool eddy__same_builder(eddy_builder *builder, const eddy__handle *other, eddy__handle_kind kind,
                        const char *what, const char *function)
{
    if (!other) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: %s is NULL", function, what);
        return false;
    }
    if (other->builder != builder) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: %s belongs to another builder",
                           function, what);
        return false;
    }
    if (other->kind != kind) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: %s is of the wrong kind",
                           function, what);
        return false;
    }
    return !other->dead;
}

eddy_stream *eddy_merge(eddy_stream *stream, eddy_stream *other)
{
    static const char function[] = "eddy_merge";
    eddy__handle *in = H(stream), *in2 = H(other);
    bool usable;
    eddy_builder *builder = eddy__handle_builder(in, EDDY__HANDLE_STREAM, function, &usable);
    if (!builder)
        return NULL;
    if (!usable ||
        !eddy__same_builder(builder, in2, EDDY__HANDLE_STREAM, "the other stream", function))
        return (eddy_stream *)eddy__dead_handle(builder, EDDY__HANDLE_STREAM);
    char *name = eddy__new_processor_name(builder, KSTREAM_MERGE);
    uint32_t parents[2] = {in->graph_node, in2->graph_node};
    uint32_t graph = eddy__graph_node_under(builder, parents,
                                            in->graph_node == in2->graph_node ? 1 : 2, function);
    uint32_t node = eddy__node_new(builder, EDDY__OP_MERGE, name, graph, in->node, function);
    if (node != EDDY__NONE && in2->node != in->node) {
        if (eddy__ids_push(&builder->nodes[node].parents, in2->node) != EDDY_OK ||
            eddy__ids_push(&builder->nodes[in2->node].children, node) != EDDY_OK) {
            eddy__fail_no_memory(builder, function);
            node = EDDY__NONE;
        }
    }
    eddy__handle *out = eddy__stream_handle(builder, in, node, graph, function);
    if (out->dead)
        return (eddy_stream *)out;
    /* Kafka drops both serdes: neither can safely stand for both streams. */
    out->key_serde = NULL;
    out->value_serde = NULL;
    out->repartition_required = in->repartition_required || in2->repartition_required;
    if (eddy__ids_copy(&out->source_nodes, &in2->source_nodes) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return (eddy_stream *)eddy__dead_handle(builder, EDDY__HANDLE_STREAM);
    }
    return (eddy_stream *)out;
}

eddy_branches *eddy_split(eddy_stream *stream, const char *prefix)
{
    static const char function[] = "eddy_split";
    eddy__handle *in = H(stream);
    bool usable;
    eddy_builder *builder = eddy__handle_builder(in, EDDY__HANDLE_STREAM, function, &usable);
    if (!builder)
        return NULL;
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_BRANCHES);
    if (!usable || (prefix && !eddy__check_name(builder, function, "prefix", prefix)))
        return (eddy_branches *)dead;
    uint32_t graph;
    uint32_t node =
        one_processor(builder, in, EDDY__OP_SPLIT,
                      user_or_generated_name(builder, prefix, KSTREAM_BRANCH), function, &graph);
    if (node == EDDY__NONE)
        return (eddy_branches *)dead;
    eddy__handle *out = eddy__handle_new(builder, EDDY__HANDLE_BRANCHES, function);
    if (out->dead)
        return (eddy_branches *)out;
    out->node = node;
    out->graph_node = graph;
    out->key_serde = in->key_serde;
    out->value_serde = in->value_serde;
    out->repartition_required = in->repartition_required;
    out->prefix = eddy__strdup(builder->nodes[node].name);
    if (!out->prefix || eddy__ids_copy(&out->source_nodes, &in->source_nodes) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return (eddy_branches *)dead;
    }
    return (eddy_branches *)out;
}

/* Kafka's createBranch: the child is named splitter + (name or position), and a counter value
 * is burned for it. Position 0 is the default branch. */
static eddy_stream *add_branch(eddy_branches *branches, const char *name,
                               eddy_predicate_fn predicate, void *opaque, bool is_default,
                               const char *function)
{
    eddy__handle *in = H(branches);
    bool usable;
    eddy_builder *builder = eddy__handle_builder(in, EDDY__HANDLE_BRANCHES, function, &usable);
    if (!builder)
        return NULL;
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_STREAM);
    if (!usable)
        return (eddy_stream *)dead;
    if (in->default_added) {
        eddy__builder_fail(builder, EDDY_ERR_STATE,
                           "%s: split %s already has its default branch, which comes last",
                           function, in->prefix);
        return (eddy_stream *)dead;
    }
    if (!is_default && !predicate) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT,
                           "%s: the predicate is NULL (split %s)", function, in->prefix);
        return (eddy_stream *)dead;
    }
    uint32_t position = is_default ? 0 : in->branch_count + 1;
    char *child = name ? eddy__format_string("%s%s", in->prefix, name)
                       : eddy__format_string("%s%" PRIu32, in->prefix, position);
    if (child && !eddy__check_name(builder, function, "branch name", child)) {
        eddy__free(child);
        return (eddy_stream *)dead;
    }
    if (child && node_name_taken(builder, child, EDDY__NONE)) {
        eddy__builder_fail(builder, EDDY_ERR_EXISTS, "%s: split %s has a branch named %s already",
                           function, in->prefix, child);
        eddy__free(child);
        return (eddy_stream *)dead;
    }
    burn_name(builder);
    uint32_t graph;
    uint32_t node = one_processor(builder, in, EDDY__OP_BRANCH, child, function, &graph);
    if (node == EDDY__NONE)
        return (eddy_stream *)dead;
    builder->nodes[node].predicate = predicate;
    builder->nodes[node].opaque = opaque;
    if (is_default)
        in->default_added = true;
    else
        in->branch_count++;
    return (eddy_stream *)eddy__stream_handle(builder, in, node, graph, function);
}

eddy_stream *eddy_branch(eddy_branches *branches, const char *name, eddy_predicate_fn predicate,
                         void *opaque)
{
    return add_branch(branches, name, predicate, opaque, false, "eddy_branch");
}

eddy_stream *eddy_default_branch(eddy_branches *branches, const char *name)
{
    return add_branch(branches, name, NULL, NULL, true, "eddy_default_branch");
}

static eddy_sink *sink_operator(eddy_stream *stream, const char *topic,
                                eddy_topic_extractor_fn extractor, void *opaque,
                                const char *function)
{
    eddy__handle *in = H(stream);
    bool usable;
    eddy_builder *builder = eddy__handle_builder(in, EDDY__HANDLE_STREAM, function, &usable);
    if (!builder)
        return NULL;
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_SINK);
    if (!usable)
        return (eddy_sink *)dead;
    uint32_t topic_index = EDDY__NONE;
    if (!extractor) {
        if (!eddy__check_name(builder, function, "topic", topic))
            return (eddy_sink *)dead;
        topic_index = topic_get(builder, topic, false, function);
        if (topic_index == EDDY__NONE)
            return (eddy_sink *)dead;
    }
    uint32_t graph;
    uint32_t node =
        one_processor(builder, in, EDDY__OP_SINK, eddy__new_processor_name(builder, KSTREAM_SINK),
                      function, &graph);
    if (node == EDDY__NONE)
        return (eddy_sink *)dead;
    eddy__node *n = &builder->nodes[node];
    n->sink_topic = topic_index;
    n->extractor = extractor;
    n->opaque = opaque;
    n->key_serde = in->key_serde;
    n->value_serde = in->value_serde;
    return sink_handle(builder, node, function);
}

eddy_sink *eddy_to(eddy_stream *stream, const char *topic)
{
    return sink_operator(stream, topic, NULL, NULL, "eddy_to");
}

eddy_sink *eddy_to_fn(eddy_stream *stream, eddy_topic_extractor_fn extractor, void *opaque)
{
    if (stream && !extractor && H(stream)->kind == EDDY__HANDLE_STREAM) {
        eddy__builder_fail(H(stream)->builder, EDDY_ERR_INVALID_ARGUMENT,
                           "eddy_to_fn: the topic extractor is NULL (after %s)",
                           eddy__node_name(H(stream)->builder, H(stream)->node));
        return (eddy_sink *)eddy__dead_handle(H(stream)->builder, EDDY__HANDLE_SINK);
    }
    return sink_operator(stream, NULL, extractor, opaque, "eddy_to_fn");
}

/* ------------------------------------------------------------------------------------------ */
/* Repartitioning                                                                             */

/* Kafka's `prefix.matches("KSTREAM.*-[0-9]{10}")`: a generated name keeps generated processor
 * names for its repartition. */
static bool generated_looking(const char *prefix)
{
    size_t length = strlen(prefix);
    if (strncmp(prefix, "KSTREAM", 7) != 0 || length < 7 + 11)
        return false;
    if (prefix[length - 11] != '-')
        return false;
    for (size_t i = length - 10; i < length; i++)
        if (prefix[i] < '0' || prefix[i] > '9')
            return false;
    return true;
}

void eddy__repartition_names_free(eddy__repartition_names *names)
{
    eddy__free(names->topic);
    eddy__free(names->filter);
    eddy__free(names->sink);
    eddy__free(names->source);
    memset(names, 0, sizeof *names);
}

bool eddy__repartition_names_make(eddy_builder *builder, const char *prefix,
                                  eddy__repartition_names *names, const char *function)
{
    size_t length = strlen(prefix), suffix = strlen(REPARTITION_SUFFIX);
    bool has_suffix = length >= suffix && strcmp(prefix + length - suffix, REPARTITION_SUFFIX) == 0;
    names->topic =
        has_suffix ? eddy__strdup(prefix) : eddy__format_string("%s" REPARTITION_SUFFIX, prefix);
    char *sink = eddy__new_processor_name(builder, KSTREAM_SINK);
    char *filter = eddy__new_processor_name(builder, KSTREAM_FILTER);
    char *source = eddy__new_processor_name(builder, KSTREAM_SOURCE);
    if (generated_looking(prefix)) {
        names->sink = sink;
        names->filter = filter;
        names->source = source;
    } else {
        eddy__free(sink);
        eddy__free(filter);
        eddy__free(source);
        names->sink = names->topic ? eddy__format_string("%s-sink", names->topic) : NULL;
        names->filter = names->topic ? eddy__format_string("%s-filter", names->topic) : NULL;
        names->source = names->topic ? eddy__format_string("%s-source", names->topic) : NULL;
    }
    if (!names->topic || !names->sink || !names->filter || !names->source) {
        eddy__repartition_names_free(names);
        eddy__fail_no_memory(builder, function);
        return false;
    }
    return true;
}

/* A new internal topic; a name in use is an error, as in Kafka Streams. */
static uint32_t repartition_topic_new(eddy_builder *builder, const char *name, int32_t partitions,
                                      const char *function)
{
    if (topic_find(builder, name, true) != EDDY__NONE) {
        eddy__builder_fail(builder, EDDY_ERR_EXISTS,
                           "%s: repartition topic \"%s\" is already used by another grouping or "
                           "repartition: name them apart",
                           function, name);
        return EDDY__NONE;
    }
    uint32_t topic = topic_get(builder, name, true, function);
    if (topic != EDDY__NONE)
        builder->topics[topic].partitions = partitions;
    return topic;
}

uint32_t eddy__internal_topic_new(eddy_builder *builder, const char *name, int32_t partitions,
                                  const char *function)
{
    return repartition_topic_new(builder, name, partitions, function);
}

uint32_t eddy__source_new(eddy_builder *builder, char *name, uint32_t topic, uint32_t graph,
                          const eddy_serde *key_serde, const eddy_serde *value_serde,
                          const char *function)
{
    return source_node(builder, name, &topic, 1, graph, key_serde, value_serde, function);
}

/* Writes a repartition under `parent` (node, graph node): filter -> sink -> topic and a source,
 * in the order Kafka writes them. *source_out receives the source node. Returns the graph
 * node, or EDDY__NONE (recorded). Takes the names over. */
uint32_t eddy__repartition_new(eddy_builder *builder, uint32_t parent_node, uint32_t parent_graph,
                               eddy__repartition_names *names, int32_t partitions, bool with_filter,
                               const eddy__handle *in, uint32_t *source_out, const char *function)
{
    uint32_t topic = repartition_topic_new(builder, names->topic, partitions, function);
    if (topic == EDDY__NONE) {
        eddy__repartition_names_free(names);
        return EDDY__NONE;
    }
    uint32_t graph = eddy__graph_node_under(builder, &parent_graph, 1, function);
    uint32_t sink_parent = parent_node, sink = EDDY__NONE, source = EDDY__NONE;
    /* eddy__node_new and source_node take each name over, so each is cleared once handed on. */
    if (with_filter) {
        sink_parent = eddy__node_new(builder, EDDY__OP_REPARTITION_FILTER, names->filter, graph,
                                     parent_node, function);
        names->filter = NULL;
    }
    if (sink_parent != EDDY__NONE) {
        sink = eddy__node_new(builder, EDDY__OP_SINK, names->sink, graph, sink_parent, function);
        names->sink = NULL;
    }
    if (sink != EDDY__NONE) {
        source = source_node(builder, names->source, &topic, 1, graph, in->key_serde,
                             in->value_serde, function);
        names->source = NULL;
    }
    eddy__repartition_names_free(names);
    if (source == EDDY__NONE)
        return EDDY__NONE;
    builder->nodes[sink].sink_topic = topic;
    builder->nodes[sink].key_serde = in->key_serde;
    builder->nodes[sink].value_serde = in->value_serde;
    *source_out = source;
    return graph;
}

eddy_stream *eddy_repartition(eddy_stream *stream, const char *name, int32_t partitions)
{
    static const char function[] = "eddy_repartition";
    eddy__handle *in = H(stream);
    bool usable;
    eddy_builder *builder = eddy__handle_builder(in, EDDY__HANDLE_STREAM, function, &usable);
    if (!builder)
        return NULL;
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_STREAM);
    if (!usable || (name && !eddy__check_name(builder, function, "name", name)))
        return (eddy_stream *)dead;
    if (partitions < 0 || partitions > EDDY_PARTITIONS_MAX) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT,
                           "%s: partitions %" PRId32 " is out of range (0 = as the input, or 1-%d)",
                           function, partitions, EDDY_PARTITIONS_MAX);
        return (eddy_stream *)dead;
    }
    /* Kafka: a user name is taken as is (no counter burned), else KSTREAM-REPARTITION-<n>. */
    char *prefix =
        name ? eddy__strdup(name) : eddy__new_processor_name(builder, KSTREAM_REPARTITION);
    eddy__repartition_names names = {0};
    bool named = prefix && eddy__repartition_names_make(builder, prefix, &names, function);
    if (!prefix)
        eddy__fail_no_memory(builder, function);
    eddy__free(prefix);
    if (!named)
        return (eddy_stream *)dead;
    uint32_t source = EDDY__NONE;
    uint32_t graph = eddy__repartition_new(builder, in->node, in->graph_node, &names, partitions,
                                           true, in, &source, function);
    if (graph == EDDY__NONE)
        return (eddy_stream *)dead;
    eddy__handle *out = eddy__stream_handle(builder, in, source, graph, function);
    if (out->dead)
        return (eddy_stream *)out;
    out->repartition_required = false;
    eddy__ids_free(&out->source_nodes);
    if (eddy__ids_push(&out->source_nodes, source) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return (eddy_stream *)dead;
    }
    return (eddy_stream *)out;
}

/* ------------------------------------------------------------------------------------------ */
/* Grouping and aggregation of streams                                                        */

static eddy__handle *grouped_handle(eddy_builder *builder, const eddy__handle *in,
                                    eddy__handle_kind kind, uint32_t node, uint32_t graph,
                                    const char *function)
{
    if (node == EDDY__NONE)
        return eddy__dead_handle(builder, kind);
    eddy__handle *out = eddy__handle_new(builder, kind, function);
    if (out->dead)
        return out;
    out->node = node;
    out->graph_node = graph;
    out->key_serde = in->key_serde;
    out->value_serde = in->value_serde;
    out->repartition_required = in->repartition_required;
    if (eddy__ids_copy(&out->source_nodes, &in->source_nodes) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return eddy__dead_handle(builder, kind);
    }
    return out;
}

eddy_grouped_stream *eddy_group_by_key(eddy_stream *stream)
{
    static const char function[] = "eddy_group_by_key";
    eddy__handle *in = H(stream);
    bool usable;
    eddy_builder *builder = eddy__handle_builder(in, EDDY__HANDLE_STREAM, function, &usable);
    if (!builder)
        return NULL;
    if (!usable)
        return (eddy_grouped_stream *)eddy__dead_handle(builder, EDDY__HANDLE_GROUPED_STREAM);
    return (eddy_grouped_stream *)grouped_handle(builder, in, EDDY__HANDLE_GROUPED_STREAM, in->node,
                                                 in->graph_node, function);
}

eddy_grouped_stream *eddy_group_by(eddy_stream *stream, eddy_key_fn selector, void *opaque)
{
    static const char function[] = "eddy_group_by";
    eddy__handle *selected = H(eddy_select_key(stream, selector, opaque));
    if (!selected)
        return NULL;
    eddy_builder *builder = selected->builder;
    if (selected->dead)
        return (eddy_grouped_stream *)eddy__dead_handle(builder, EDDY__HANDLE_GROUPED_STREAM);
    eddy__handle *out = grouped_handle(builder, selected, EDDY__HANDLE_GROUPED_STREAM,
                                       selected->node, selected->graph_node, function);
    if (!out->dead)
        out->select_node = selected->node;
    return (eddy_grouped_stream *)out;
}

/* Renames node (and the nodes renamed with it), unless something is attached downstream. */
static bool rename_node(eddy_builder *builder, uint32_t node, const char *name,
                        const char *function)
{
    if (!eddy__check_name(builder, function, "name", name))
        return false;
    eddy__node *n = &builder->nodes[node];
    if (n->children.count > 0) {
        eddy__builder_fail(builder, EDDY_ERR_STATE,
                           "%s: cannot name %s \"%s\": operators are already attached downstream "
                           "of it (name an operator right after making it)",
                           function, n->name, name);
        return false;
    }
    char *names[3] = {eddy__strdup(name), NULL, NULL};
    bool ok = names[0] != NULL;
    for (int i = 0; i < 2 && ok; i++) {
        if (n->renamed_with[i] == EDDY__NONE)
            continue;
        names[i + 1] = eddy__format_string("%s%s", name, n->rename_suffix[i]);
        ok = names[i + 1] != NULL;
    }
    if (!ok) {
        for (int i = 0; i < 3; i++)
            eddy__free(names[i]);
        eddy__fail_no_memory(builder, function);
        return false;
    }
    uint32_t targets[3] = {node, n->renamed_with[0], n->renamed_with[1]};
    for (int i = 0; i < 3; i++) {
        if (!names[i])
            continue;
        bool taken = false;
        for (uint32_t j = 0; j < builder->node_count && !taken; j++)
            taken = j != targets[0] && j != targets[1] && j != targets[2] &&
                    strcmp(builder->nodes[j].name, names[i]) == 0;
        if (taken || (i > 0 && strlen(names[i]) > EDDY__NAME_MAX)) {
            eddy__builder_fail(builder, EDDY_ERR_EXISTS,
                               "%s: cannot name %s \"%s\": a processor is named so already",
                               function, builder->nodes[targets[i]].name, names[i]);
            for (int k = 0; k < 3; k++)
                eddy__free(names[k]);
            return false;
        }
    }
    for (int i = 0; i < 3; i++) {
        if (!names[i])
            continue;
        eddy__free(builder->nodes[targets[i]].name);
        builder->nodes[targets[i]].name = names[i];
    }
    return true;
}

static eddy__handle *grouping_named(eddy__handle *grouped, eddy__handle_kind kind, const char *name,
                                    const char *function)
{
    bool usable;
    eddy_builder *builder = eddy__handle_builder(grouped, kind, function, &usable);
    if (!builder)
        return NULL;
    if (!usable || !eddy__check_name(builder, function, "name", name))
        return grouped;
    if (grouped->aggregated || grouped->grouped_name) {
        eddy__builder_fail(builder, EDDY_ERR_STATE,
                           "%s: the grouping of %s is %s already: name it before aggregating",
                           function, eddy__node_name(builder, grouped->node),
                           grouped->aggregated ? "aggregated" : "named");
        return grouped;
    }
    if (grouped->select_node != EDDY__NONE &&
        !rename_node(builder, grouped->select_node, name, function))
        return grouped;
    grouped->grouped_name = eddy__strdup(name);
    if (!grouped->grouped_name)
        eddy__fail_no_memory(builder, function);
    return grouped;
}

eddy_grouped_stream *eddy_grouped_named(eddy_grouped_stream *grouped, const char *name)
{
    return (eddy_grouped_stream *)grouping_named(H(grouped), EDDY__HANDLE_GROUPED_STREAM, name,
                                                 "eddy_grouped_named");
}

/* The store name of an aggregation: the user's (checked) or PREFIX-STATE-STORE-<n>. */
char *eddy__aggregation_store_name(eddy_builder *builder, const char *store_name,
                                   const char *prefix, const char *function)
{
    if (store_name) {
        if (!eddy__check_name(builder, function, "store name", store_name))
            return NULL;
        if (eddy__store_find(builder, store_name) != EDDY__NONE) {
            eddy__builder_fail(builder, EDDY_ERR_EXISTS,
                               "%s: a state store named \"%s\" exists already", function,
                               store_name);
            return NULL;
        }
        char *copy = eddy__strdup(store_name);
        if (!copy)
            eddy__fail_no_memory(builder, function);
        return copy;
    }
    char *generated = eddy__new_store_name(builder, prefix);
    if (!generated)
        eddy__fail_no_memory(builder, function);
    return generated;
}

/* Kafka's GroupedStreamAggregateBuilder.build: repartition first when keys changed (reusing a
 * named grouping's repartition), then the aggregating processor with its store. */
eddy__handle *eddy__stream_aggregation(eddy__handle *grouped, eddy__op op, const char *prefix,
                                       const char *store_name, const eddy_serde *value_serde,
                                       const char *function)
{
    eddy_builder *builder = grouped->builder;
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_TABLE);
    char *store = eddy__aggregation_store_name(builder, store_name, prefix, function);
    if (!store)
        return dead;
    char *name = eddy__new_processor_name(builder, prefix);
    uint32_t parent = grouped->node, parent_graph = grouped->graph_node;
    bool repartitioned = false;
    if (!name) {
        eddy__fail_no_memory(builder, function);
        goto fail;
    }
    if (grouped->repartition_required) {
        eddy__repartition_names names = {0};
        if (!eddy__repartition_names_make(
                builder, grouped->grouped_name ? grouped->grouped_name : store, &names, function))
            goto fail;
        if (grouped->repartition_graph_node == EDDY__NONE || !grouped->grouped_name) {
            uint32_t source = EDDY__NONE;
            uint32_t graph = eddy__repartition_new(builder, grouped->node, grouped->graph_node,
                                                   &names, 0, true, grouped, &source, function);
            if (graph == EDDY__NONE)
                goto fail;
            grouped->repartition_graph_node = graph;
            grouped->repartition_source = source;
        } else {
            eddy__repartition_names_free(&names);
            /* Kafka adds the reused repartition node to its parent again, which gives it a
             * new build priority. */
            if (eddy__graph_add(builder, grouped->graph_node, grouped->repartition_graph_node) !=
                EDDY_OK) {
                eddy__fail_no_memory(builder, function);
                goto fail;
            }
        }
        parent = grouped->repartition_source;
        parent_graph = grouped->repartition_graph_node;
        repartitioned = true;
    }
    uint32_t graph = eddy__graph_node_under(builder, &parent_graph, 1, function);
    uint32_t node = eddy__node_new(builder, op, name, graph, parent, function);
    name = NULL;
    if (node == EDDY__NONE)
        goto fail;
    uint32_t store_index = eddy__store_new(builder, store, EDDY_STORE_DEFAULT, false, function);
    eddy__free(store);
    store = NULL;
    if (store_index == EDDY__NONE)
        return dead;
    if (eddy__connect_store(builder, node, store_index) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return dead;
    }
    builder->nodes[node].store = store_index;
    grouped->aggregated = true;
    eddy__handle *out = eddy__table_handle(builder, grouped, node, graph, function);
    if (out->dead)
        return out;
    out->store = store_index;
    if (repartitioned) {
        eddy__ids_free(&out->source_nodes);
        if (eddy__ids_push(&out->source_nodes, grouped->repartition_source) != EDDY_OK) {
            eddy__fail_no_memory(builder, function);
            return dead;
        }
    }
    out->value_serde = value_serde;
    builder->stores[store_index].key_serde = out->key_serde;
    builder->stores[store_index].value_serde = out->value_serde;
    return out;
fail:
    eddy__free(store);
    eddy__free(name);
    return dead;
}

static eddy__handle *aggregation_input(eddy_grouped_stream *grouped, const void *callback,
                                       const void *callback2, const char *function)
{
    bool usable;
    eddy__handle *in = H(grouped);
    eddy_builder *builder =
        eddy__handle_builder(in, EDDY__HANDLE_GROUPED_STREAM, function, &usable);
    if (!builder)
        return NULL;
    if (!usable)
        return eddy__dead_handle(builder, EDDY__HANDLE_TABLE);
    if (!callback || !callback2) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: a callback is NULL (after %s)",
                           function, eddy__node_name(builder, in->node));
        return eddy__dead_handle(builder, EDDY__HANDLE_TABLE);
    }
    return in;
}

eddy_table *eddy_count(eddy_grouped_stream *grouped, const char *store_name)
{
    eddy__handle *in = aggregation_input(grouped, "", "", "eddy_count");
    if (!in || in->dead)
        return (eddy_table *)in;
    return (eddy_table *)eddy__stream_aggregation(in, EDDY__OP_STREAM_COUNT, KSTREAM_AGGREGATE,
                                                  store_name, eddy_serde_int64(), "eddy_count");
}

eddy_table *eddy_reduce(eddy_grouped_stream *grouped, eddy_reducer_fn reducer, void *opaque,
                        const char *store_name)
{
    eddy__handle *in = aggregation_input(grouped, (const void *)reducer, "", "eddy_reduce");
    if (!in || in->dead)
        return (eddy_table *)in;
    eddy__handle *out = eddy__stream_aggregation(in, EDDY__OP_STREAM_REDUCE, KSTREAM_REDUCE,
                                                 store_name, in->value_serde, "eddy_reduce");
    if (!out->dead) {
        out->builder->nodes[out->node].reducer = reducer;
        out->builder->nodes[out->node].opaque = opaque;
    }
    return (eddy_table *)out;
}

eddy_table *eddy_aggregate(eddy_grouped_stream *grouped, eddy_initializer_fn initializer,
                           eddy_aggregator_fn aggregator, void *opaque, const char *store_name)
{
    eddy__handle *in = aggregation_input(grouped, (const void *)initializer,
                                         (const void *)aggregator, "eddy_aggregate");
    if (!in || in->dead)
        return (eddy_table *)in;
    eddy__handle *out = eddy__stream_aggregation(in, EDDY__OP_STREAM_AGGREGATE, KSTREAM_AGGREGATE,
                                                 store_name, NULL, "eddy_aggregate");
    if (!out->dead) {
        out->builder->nodes[out->node].initializer = initializer;
        out->builder->nodes[out->node].aggregator = aggregator;
        out->builder->nodes[out->node].opaque = opaque;
    }
    return (eddy_table *)out;
}

/* ------------------------------------------------------------------------------------------ */
/* Tables                                                                                     */

/* The store a reader of `table` uses (Kafka's valueGetterSupplier().storeNames()): up through
 * unmaterialized filters and map-values to a store, materializing a source table if needed
 * (Kafka's KTableSource.materialize()); a cogroup's merge reads its aggregations' store.
 * EDDY__NONE (recorded) where Kafka's getter reads several stores, which the runtime's value
 * getters do not: a table-table join's result (both sides' stores) and a suppression (its
 * buffer, then its parent's). */
uint32_t eddy__table_getter_store(eddy_builder *builder, uint32_t table, const char *function)
{
    uint32_t node = table;
    for (uint32_t steps = 0; steps <= builder->node_count; steps++) {
        const eddy__node *n = &builder->nodes[node];
        switch (n->op) {
        case EDDY__OP_TABLE_SOURCE:
            return materialize_table_source(builder, node, function);
        case EDDY__OP_TABLE_FILTER:
        case EDDY__OP_TABLE_FILTER_NOT:
        case EDDY__OP_TABLE_MAP_VALUES:
            node = n->parents.items[0];
            continue;
        case EDDY__OP_MERGE: /* a cogroup's, or a table-table join's (several stores) */
            if (builder->nodes[n->parents.items[0]].op == EDDY__OP_COGROUP_AGGREGATE)
                return builder->nodes[n->parents.items[0]].store;
            break;
        case EDDY__OP_SUPPRESS: /* its buffer, then its parent's stores */
            break;
        default:
            if (n->store != EDDY__NONE)
                return n->store;
            break;
        }
        break;
    }
    eddy__builder_fail(builder, EDDY_ERR_STATE,
                       "%s: table %s%s%s: its values come from several stores (a table-table "
                       "join's or a suppression's result), which value getters do not read yet",
                       function, builder->nodes[table].name, node == table ? "" : ", read through ",
                       node == table ? "" : builder->nodes[node].name);
    return EDDY__NONE;
}

/* Kafka's enableSendingOldValues(true): the changes of `table` must carry old values, so every
 * source table it reads through pass-through operators (filters, map-values, suppressions,
 * both sides of table-table joins) is materialized. Aggregations keep their own store.
 * EDDY_OK, or the error (recorded). */
eddy_err eddy__table_send_old_values(eddy_builder *builder, uint32_t table, const char *function)
{
    eddy__ids pending = {0};
    eddy_err err = eddy__ids_push(&pending, table);
    if (err != EDDY_OK)
        err = eddy__fail_no_memory(builder, function);
    while (err == EDDY_OK && pending.count > 0) {
        uint32_t node = pending.items[--pending.count];
        const eddy__node *n = &builder->nodes[node];
        switch (n->op) {
        case EDDY__OP_TABLE_SOURCE:
            if (materialize_table_source(builder, node, function) == EDDY__NONE)
                err = builder->error;
            break;
        case EDDY__OP_TABLE_FILTER:
        case EDDY__OP_TABLE_FILTER_NOT:
        case EDDY__OP_TABLE_MAP_VALUES:
        case EDDY__OP_SUPPRESS:
        case EDDY__OP_TABLE_JOIN_THIS:
        case EDDY__OP_TABLE_JOIN_OTHER:
        case EDDY__OP_MERGE: /* a table-table join's (a cogroup's has aggregations above) */
            for (uint32_t i = 0; i < n->parents.count && err == EDDY_OK; i++)
                err = eddy__ids_push(&pending, n->parents.items[i]);
            if (err != EDDY_OK)
                err = eddy__fail_no_memory(builder, function);
            break;
        default:
            break;
        }
    }
    eddy__ids_free(&pending);
    return err;
}

static eddy__handle *table_operator(eddy__handle *in, eddy__op op, const char *prefix,
                                    const void *callback, const char *function)
{
    return single_operator(in, EDDY__HANDLE_TABLE, op, prefix, callback, function);
}

static eddy_table *table_filter(eddy_table *table, eddy__op op, eddy_predicate_fn predicate,
                                void *opaque, const char *function)
{
    eddy__handle *out =
        table_operator(H(table), op, KTABLE_FILTER, (const void *)predicate, function);
    if (out && !out->dead) {
        out->builder->nodes[out->node].predicate = predicate;
        out->builder->nodes[out->node].opaque = opaque;
    }
    return (eddy_table *)out;
}

eddy_table *eddy_table_filter(eddy_table *table, eddy_predicate_fn predicate, void *opaque)
{
    return table_filter(table, EDDY__OP_TABLE_FILTER, predicate, opaque, "eddy_table_filter");
}

eddy_table *eddy_table_filter_not(eddy_table *table, eddy_predicate_fn predicate, void *opaque)
{
    return table_filter(table, EDDY__OP_TABLE_FILTER_NOT, predicate, opaque,
                        "eddy_table_filter_not");
}

eddy_table *eddy_table_map_values(eddy_table *table, eddy_map_fn mapper, void *opaque)
{
    eddy__handle *out = table_operator(H(table), EDDY__OP_TABLE_MAP_VALUES, KTABLE_MAPVALUES,
                                       (const void *)mapper, "eddy_table_map_values");
    if (out && !out->dead) {
        out->builder->nodes[out->node].map = mapper;
        out->builder->nodes[out->node].opaque = opaque;
        out->value_serde = NULL;
    }
    return (eddy_table *)out;
}

eddy_stream *eddy_to_stream(eddy_table *table)
{
    static const char function[] = "eddy_to_stream";
    eddy__handle *in = H(table);
    bool usable;
    eddy_builder *builder = eddy__handle_builder(in, EDDY__HANDLE_TABLE, function, &usable);
    if (!builder)
        return NULL;
    if (!usable)
        return (eddy_stream *)eddy__dead_handle(builder, EDDY__HANDLE_STREAM);
    uint32_t graph;
    uint32_t node =
        one_processor(builder, in, EDDY__OP_TABLE_TO_STREAM,
                      eddy__new_processor_name(builder, KTABLE_TOSTREAM), function, &graph);
    eddy__handle *out = eddy__stream_handle(builder, in, node, graph, function);
    if (!out->dead)
        out->repartition_required = false;
    return (eddy_stream *)out;
}

eddy_sink *eddy_table_to(eddy_table *table, const char *topic)
{
    eddy_stream *stream = eddy_to_stream(table);
    if (!stream)
        return NULL;
    return eddy_to(stream, topic);
}

eddy_grouped_table *eddy_table_group_by(eddy_table *table, eddy_map_fn mapper, void *opaque)
{
    static const char function[] = "eddy_table_group_by";
    eddy__handle *selected = table_operator(H(table), EDDY__OP_TABLE_SELECT, KTABLE_SELECT,
                                            (const void *)mapper, function);
    if (!selected)
        return NULL;
    eddy_builder *builder = selected->builder;
    if (selected->dead)
        return (eddy_grouped_table *)eddy__dead_handle(builder, EDDY__HANDLE_GROUPED_TABLE);
    builder->nodes[selected->node].map = mapper;
    builder->nodes[selected->node].opaque = opaque;
    /* An update must subtract the old row: the table read must keep old values. */
    if (eddy__table_send_old_values(builder, H(table)->node, function) != EDDY_OK)
        return (eddy_grouped_table *)eddy__dead_handle(builder, EDDY__HANDLE_GROUPED_TABLE);
    eddy__handle *out = grouped_handle(builder, selected, EDDY__HANDLE_GROUPED_TABLE,
                                       selected->node, selected->graph_node, function);
    if (!out->dead) {
        out->select_node = selected->node;
        out->key_serde = NULL;
        out->value_serde = NULL;
    }
    return (eddy_grouped_table *)out;
}

eddy_grouped_table *eddy_grouped_table_named(eddy_grouped_table *grouped, const char *name)
{
    return (eddy_grouped_table *)grouping_named(H(grouped), EDDY__HANDLE_GROUPED_TABLE, name,
                                                "eddy_grouped_table_named");
}

/* Kafka's KGroupedTableImpl.doAggregate: sink and source names, then the processor's; the
 * repartition (sink -> topic -> source, no filter) is reused for a named grouping. */
static eddy__handle *table_aggregation(eddy_grouped_table *grouped_table, eddy__op op,
                                       const char *store_name, bool callbacks_given,
                                       const char *function)
{
    eddy__handle *grouped = H(grouped_table);
    bool usable;
    eddy_builder *builder =
        eddy__handle_builder(grouped, EDDY__HANDLE_GROUPED_TABLE, function, &usable);
    if (!builder)
        return NULL;
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_TABLE);
    if (!usable)
        return dead;
    if (!callbacks_given) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: a callback is NULL (after %s)",
                           function, eddy__node_name(builder, grouped->node));
        return dead;
    }
    char *store = eddy__aggregation_store_name(builder, store_name, KTABLE_AGGREGATE, function);
    if (!store)
        return dead;
    char *sink_name = eddy__new_processor_name(builder, KSTREAM_SINK);
    char *source_name = eddy__new_processor_name(builder, KSTREAM_SOURCE);
    char *name = eddy__new_processor_name(builder, op == EDDY__OP_TABLE_REDUCE ? KTABLE_REDUCE
                                                                               : KTABLE_AGGREGATE);
    char *topic = eddy__format_string("%s" REPARTITION_SUFFIX,
                                      grouped->grouped_name ? grouped->grouped_name : store);
    uint32_t node = EDDY__NONE, graph = EDDY__NONE;
    bool fresh = grouped->repartition_graph_node == EDDY__NONE || !grouped->grouped_name;
    if (!sink_name || !source_name || !name || !topic) {
        eddy__fail_no_memory(builder, function);
        goto done;
    }
    if (fresh) {
        eddy__repartition_names names = {.topic = topic, .sink = sink_name, .source = source_name};
        topic = sink_name = source_name = NULL;
        uint32_t source = EDDY__NONE;
        uint32_t repartition = eddy__repartition_new(builder, grouped->node, grouped->graph_node,
                                                     &names, 0, false, grouped, &source, function);
        if (repartition == EDDY__NONE)
            goto done;
        grouped->repartition_graph_node = repartition;
        grouped->repartition_source = source;
    } else if (eddy__graph_add(builder, grouped->graph_node, grouped->repartition_graph_node) !=
               EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        goto done;
    }
    graph = eddy__graph_node_under(builder, &grouped->repartition_graph_node, 1, function);
    node = eddy__node_new(builder, op, name, graph, grouped->repartition_source, function);
    name = NULL;
    if (node == EDDY__NONE)
        goto done;
    uint32_t store_index = eddy__store_new(builder, store, EDDY_STORE_DEFAULT, false, function);
    if (store_index == EDDY__NONE || eddy__connect_store(builder, node, store_index) != EDDY_OK) {
        if (store_index != EDDY__NONE)
            eddy__fail_no_memory(builder, function);
        node = EDDY__NONE;
        goto done;
    }
    builder->nodes[node].store = store_index;
    if (fresh) {
        /* Naming the aggregation names its repartition's sink and source too (Kafka's). */
        uint32_t source = grouped->repartition_source;
        builder->nodes[node].renamed_with[0] =
            builder->graph_nodes[grouped->repartition_graph_node].members.items[0];
        builder->nodes[node].rename_suffix[0] = "-sink";
        builder->nodes[node].renamed_with[1] = source;
        builder->nodes[node].rename_suffix[1] = "-source";
    }
done:
    eddy__free(store);
    eddy__free(sink_name);
    eddy__free(source_name);
    eddy__free(name);
    eddy__free(topic);
    if (node == EDDY__NONE)
        return dead;
    grouped->aggregated = true;
    eddy__handle *out = eddy__table_handle(builder, grouped, node, graph, function);
    if (out->dead)
        return out;
    out->store = builder->nodes[node].store;
    eddy__ids_free(&out->source_nodes);
    if (eddy__ids_push(&out->source_nodes, grouped->repartition_source) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        return dead;
    }
    return out;
}

eddy_table *eddy_table_count(eddy_grouped_table *grouped, const char *store_name)
{
    eddy__handle *out =
        table_aggregation(grouped, EDDY__OP_TABLE_COUNT, store_name, true, "eddy_table_count");
    if (out && !out->dead) {
        out->value_serde = eddy_serde_int64();
        out->builder->stores[out->store].value_serde = out->value_serde;
    }
    return (eddy_table *)out;
}

eddy_table *eddy_table_reduce(eddy_grouped_table *grouped, eddy_reducer_fn adder,
                              eddy_reducer_fn subtractor, void *opaque, const char *store_name)
{
    eddy__handle *out = table_aggregation(grouped, EDDY__OP_TABLE_REDUCE, store_name,
                                          adder && subtractor, "eddy_table_reduce");
    if (out && !out->dead) {
        eddy__node *n = &out->builder->nodes[out->node];
        n->reducer = adder;
        n->reducer_subtractor = subtractor;
        n->opaque = opaque;
    }
    return (eddy_table *)out;
}

eddy_table *eddy_table_aggregate(eddy_grouped_table *grouped, eddy_initializer_fn initializer,
                                 eddy_aggregator_fn adder, eddy_aggregator_fn subtractor,
                                 void *opaque, const char *store_name)
{
    eddy__handle *out =
        table_aggregation(grouped, EDDY__OP_TABLE_AGGREGATE, store_name,
                          initializer && adder && subtractor, "eddy_table_aggregate");
    if (out && !out->dead) {
        eddy__node *n = &out->builder->nodes[out->node];
        n->initializer = initializer;
        n->aggregator = adder;
        n->subtractor = subtractor;
        n->opaque = opaque;
    }
    return (eddy_table *)out;
}

/* ------------------------------------------------------------------------------------------ */
/* Joins                                                                                      */

eddy_err eddy__copartition(eddy_builder *builder, const eddy__ids *sources)
{
    if (grow((void **)&builder->copartition_sources, builder->copartition_count,
             &builder->copartition_capacity, sizeof *builder->copartition_sources) != EDDY_OK)
        return EDDY_ERR_NO_MEMORY;
    eddy__ids *group = &builder->copartition_sources[builder->copartition_count];
    memset(group, 0, sizeof *group);
    builder->copartition_count++;
    return eddy__ids_copy(group, sources);
}

/* Kafka's repartitionForJoin, for a stream whose keys changed: a repartition named after the
 * stream's processor, made by the first join and reused by every later one (three counter
 * values burned each time). Returns the node a join attaches to (the repartition's source, or
 * the stream's own node) and its graph node; EDDY__NONE on failure (recorded). */
uint32_t eddy__join_input(eddy_builder *builder, eddy__handle *in, uint32_t *graph,
                          const char *function)
{
    *graph = in->graph_node;
    if (!in->repartition_required)
        return in->node;
    eddy__repartition_names names = {0};
    if (!eddy__repartition_names_make(builder, builder->nodes[in->node].name, &names, function))
        return EDDY__NONE;
    if (in->join_repartition_graph_node == EDDY__NONE) {
        uint32_t source = EDDY__NONE;
        uint32_t repartition = eddy__repartition_new(builder, in->node, in->graph_node, &names, 0,
                                                     true, in, &source, function);
        if (repartition == EDDY__NONE)
            return EDDY__NONE;
        in->join_repartition_graph_node = repartition;
        in->join_repartition_source = source;
    } else {
        eddy__repartition_names_free(&names);
    }
    *graph = in->join_repartition_graph_node;
    return in->join_repartition_source;
}

static eddy_stream *join_table(eddy_stream *stream, eddy_table *table, eddy_joiner_fn joiner,
                               void *opaque, bool left, const char *function)
{
    eddy__handle *in = H(stream), *other = H(table);
    bool usable;
    eddy_builder *builder = eddy__handle_builder(in, EDDY__HANDLE_STREAM, function, &usable);
    if (!builder)
        return NULL;
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_STREAM);
    if (!usable || !eddy__same_builder(builder, other, EDDY__HANDLE_TABLE, "the table", function))
        return (eddy_stream *)dead;
    if (!joiner) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: the joiner is NULL (after %s)",
                           function, eddy__node_name(builder, in->node));
        return (eddy_stream *)dead;
    }
    uint32_t parent_graph;
    uint32_t parent = eddy__join_input(builder, in, &parent_graph, function);
    if (parent == EDDY__NONE)
        return (eddy_stream *)dead;
    eddy__ids sources = {0};
    eddy_err err = in->repartition_required ? eddy__ids_push(&sources, parent)
                                            : eddy__ids_copy(&sources, &in->source_nodes);
    if (err == EDDY_OK)
        err = eddy__ids_copy(&sources, &other->source_nodes);
    if (err == EDDY_OK)
        err = eddy__copartition(builder, &sources);
    if (err != EDDY_OK) {
        eddy__ids_free(&sources);
        eddy__fail_no_memory(builder, function);
        return (eddy_stream *)dead;
    }
    char *name = eddy__new_processor_name(builder, left ? KSTREAM_LEFTJOIN : KSTREAM_JOIN);
    uint32_t store = eddy__table_getter_store(builder, other->node, function);
    uint32_t graph = eddy__graph_node_under(builder, &parent_graph, 1, function);
    uint32_t node =
        store == EDDY__NONE
            ? (eddy__free(name), EDDY__NONE)
            : eddy__node_new(builder, left ? EDDY__OP_LEFT_JOIN_TABLE : EDDY__OP_JOIN_TABLE, name,
                             graph, parent, function);
    if (node != EDDY__NONE && eddy__connect_store(builder, node, store) != EDDY_OK) {
        eddy__fail_no_memory(builder, function);
        node = EDDY__NONE;
    }
    if (node == EDDY__NONE) {
        eddy__ids_free(&sources);
        return (eddy_stream *)dead;
    }
    builder->nodes[node].join_store = store;
    builder->nodes[node].join_table = other->node;
    builder->nodes[node].joiner = joiner;
    builder->nodes[node].opaque = opaque;
    eddy__handle *out = eddy__stream_handle(builder, NULL, node, graph, function);
    if (!out->dead) {
        out->key_serde = in->key_serde;
        out->source_nodes = sources;
        return (eddy_stream *)out;
    }
    eddy__ids_free(&sources);
    return (eddy_stream *)out;
}

eddy_stream *eddy_join_table(eddy_stream *stream, eddy_table *table, eddy_joiner_fn joiner,
                             void *opaque)
{
    return join_table(stream, table, joiner, opaque, false, "eddy_join_table");
}

eddy_stream *eddy_left_join_table(eddy_stream *stream, eddy_table *table, eddy_joiner_fn joiner,
                                  void *opaque)
{
    return join_table(stream, table, joiner, opaque, true, "eddy_left_join_table");
}

static eddy_stream *join_global(eddy_stream *stream, eddy_global_table *table,
                                eddy_key_fn key_selector, eddy_joiner_fn joiner, void *opaque,
                                bool left, const char *function)
{
    eddy__handle *in = H(stream), *other = H(table);
    bool usable;
    eddy_builder *builder = eddy__handle_builder(in, EDDY__HANDLE_STREAM, function, &usable);
    if (!builder)
        return NULL;
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_STREAM);
    if (!usable || !eddy__same_builder(builder, other, EDDY__HANDLE_GLOBAL_TABLE,
                                       "the global table", function))
        return (eddy_stream *)dead;
    if (!key_selector || !joiner) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: the %s is NULL (after %s)",
                           function, key_selector ? "joiner" : "key selector",
                           eddy__node_name(builder, in->node));
        return (eddy_stream *)dead;
    }
    /* Kafka names inner and left global joins KSTREAM-LEFTJOIN- alike. */
    uint32_t graph;
    uint32_t node =
        one_processor(builder, in, left ? EDDY__OP_LEFT_JOIN_GLOBAL : EDDY__OP_JOIN_GLOBAL,
                      eddy__new_processor_name(builder, KSTREAM_LEFTJOIN), function, &graph);
    if (node == EDDY__NONE)
        return (eddy_stream *)dead;
    eddy__node *n = &builder->nodes[node];
    n->join_store = other->global_store;
    n->key = key_selector;
    n->joiner = joiner;
    n->opaque = opaque;
    eddy__handle *out = eddy__stream_handle(builder, in, node, graph, function);
    if (!out->dead)
        out->value_serde = NULL;
    return (eddy_stream *)out;
}

eddy_stream *eddy_join_global(eddy_stream *stream, eddy_global_table *table,
                              eddy_key_fn key_selector, eddy_joiner_fn joiner, void *opaque)
{
    return join_global(stream, table, key_selector, joiner, opaque, false, "eddy_join_global");
}

eddy_stream *eddy_left_join_global(eddy_stream *stream, eddy_global_table *table,
                                   eddy_key_fn key_selector, eddy_joiner_fn joiner, void *opaque)
{
    return join_global(stream, table, key_selector, joiner, opaque, true, "eddy_left_join_global");
}

/* ------------------------------------------------------------------------------------------ */
/* Processor API                                                                              */

void eddy_builder_add_store(eddy_builder *builder, const char *name, eddy_store_kind kind)
{
    static const char function[] = "eddy_builder_add_store";
    if (!builder)
        return;
    eddy__builder_unbuild(builder);
    if (!eddy__check_name(builder, function, "store name", name))
        return;
    if (kind != EDDY_STORE_DEFAULT && kind != EDDY_STORE_MEMORY && kind != EDDY_STORE_ROCKSDB) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: store \"%s\": unknown kind %d",
                           function, name, (int)kind);
        return;
    }
    eddy__store_new(builder, name, kind, false, function);
}

void eddy_builder_set_timestamp_extractor(eddy_builder *builder,
                                          eddy_timestamp_extractor_fn extractor, void *opaque)
{
    if (!builder)
        return;
    eddy__builder_unbuild(builder);
    builder->timestamp_extractor = extractor;
    builder->timestamp_opaque = opaque;
}

void eddy_builder_store_options(eddy_builder *builder, const char *name, eddy_store_kind kind,
                                bool changelog)
{
    static const char function[] = "eddy_builder_store_options";
    if (!builder)
        return;
    eddy__builder_unbuild(builder);
    if (!eddy__check_name(builder, function, "store name", name))
        return;
    if (kind != EDDY_STORE_DEFAULT && kind != EDDY_STORE_MEMORY && kind != EDDY_STORE_ROCKSDB) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: store \"%s\": unknown kind %d",
                           function, name, (int)kind);
        return;
    }
    char *copy = eddy__strdup(name);
    if (!copy || grow((void **)&builder->store_options, builder->store_option_count,
                      &builder->store_option_capacity, sizeof *builder->store_options) != EDDY_OK) {
        eddy__free(copy);
        eddy__fail_no_memory(builder, function);
        return;
    }
    builder->store_options[builder->store_option_count++] =
        (struct eddy__store_option){.name = copy, .kind = kind, .changelog = changelog};
}

eddy_stream *eddy_process(eddy_stream *stream, const eddy_processor_def *def,
                          const char *const *store_names, size_t store_count)
{
    static const char function[] = "eddy_process";
    eddy__handle *in = H(stream);
    bool usable;
    eddy_builder *builder = eddy__handle_builder(in, EDDY__HANDLE_STREAM, function, &usable);
    if (!builder)
        return NULL;
    eddy__handle *dead = eddy__dead_handle(builder, EDDY__HANDLE_STREAM);
    if (!usable)
        return (eddy_stream *)dead;
    if (!def || !def->process) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT,
                           "%s: the processor definition%s is NULL (after %s)", function,
                           def ? "'s process callback" : "", eddy__node_name(builder, in->node));
        return (eddy_stream *)dead;
    }
    if (def->name && !eddy__check_name(builder, function, "processor name", def->name))
        return (eddy_stream *)dead;
    if ((store_count > 0 && !store_names) || store_count > EDDY__PROCESSOR_STORES_MAX) {
        eddy__builder_fail(builder, EDDY_ERR_INVALID_ARGUMENT, "%s: %zu store names%s (at most %d)",
                           function, store_count, store_names ? "" : " but store_names is NULL",
                           EDDY__PROCESSOR_STORES_MAX);
        return (eddy_stream *)dead;
    }
    for (size_t i = 0; i < store_count; i++) {
        if (!eddy__check_name(builder, function, "store name", store_names[i]))
            return (eddy_stream *)dead;
        uint32_t store = eddy__store_find(builder, store_names[i]);
        if (store == EDDY__NONE || builder->stores[store].global) {
            eddy__builder_fail(
                builder, store == EDDY__NONE ? EDDY_ERR_NOT_FOUND : EDDY_ERR_INVALID_ARGUMENT,
                "%s: processor %s: %s \"%s\"%s", function, def->name ? def->name : "(unnamed)",
                store == EDDY__NONE ? "no state store named" : "store", store_names[i],
                store == EDDY__NONE ? " (add it with eddy_builder_add_store() first)"
                                    : " is a global table's, readable by every processor");
            return (eddy_stream *)dead;
        }
    }
    /* Kafka's process(): a Named is used as is; otherwise KSTREAM-PROCESSOR-<n>. */
    char *name =
        def->name ? eddy__strdup(def->name) : eddy__new_processor_name(builder, KSTREAM_PROCESSOR);
    uint32_t graph;
    uint32_t node = one_processor(builder, in, EDDY__OP_PROCESS, name, function, &graph);
    if (node == EDDY__NONE)
        return (eddy_stream *)dead;
    eddy__node *n = &builder->nodes[node];
    n->def = *def;
    n->def.name = NULL;
    n->opaque = def->opaque;
    for (size_t i = 0; i < store_count; i++) {
        if (eddy__connect_store(builder, node, eddy__store_find(builder, store_names[i])) !=
            EDDY_OK) {
            eddy__fail_no_memory(builder, function);
            return (eddy_stream *)dead;
        }
    }
    eddy__handle *out = eddy__stream_handle(builder, in, node, graph, function);
    if (!out->dead) {
        out->key_serde = NULL;
        out->value_serde = NULL;
        out->repartition_required = true;
    }
    return (eddy_stream *)out;
}

/* ------------------------------------------------------------------------------------------ */
/* Naming                                                                                     */

static void *name_handle(eddy__handle *handle, eddy__handle_kind kind, const char *name,
                         const char *function)
{
    bool usable;
    eddy_builder *builder = eddy__handle_builder(handle, kind, function, &usable);
    if (!builder)
        return NULL;
    if (usable)
        rename_node(builder, handle->node, name, function);
    return handle;
}

eddy_stream *eddy_stream_named(eddy_stream *stream, const char *name)
{
    return name_handle(H(stream), EDDY__HANDLE_STREAM, name, "eddy_stream_named");
}

eddy_table *eddy_table_named(eddy_table *table, const char *name)
{
    return name_handle(H(table), EDDY__HANDLE_TABLE, name, "eddy_table_named");
}

eddy_global_table *eddy_global_table_named(eddy_global_table *table, const char *name)
{
    return name_handle(H(table), EDDY__HANDLE_GLOBAL_TABLE, name, "eddy_global_table_named");
}

eddy_sink *eddy_sink_named(eddy_sink *sink, const char *name)
{
    return name_handle(H(sink), EDDY__HANDLE_SINK, name, "eddy_sink_named");
}
