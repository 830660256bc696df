/* Building a topology: the whole-graph checks, Kafka's write order, sub-topologies and the
 * description order, and the per-sub-topology lists the runtime reads (topology.h).
 *
 * Kafka Streams derives all of these from the order in which it writes processors into its
 * InternalTopologyBuilder and from Java collection orders:
 *
 *  1. Write order. InternalStreamsBuilder pops its graph nodes from a priority queue by build
 *     priority (the order operators were added, renewed when a node is added again), writing a
 *     node once all its parents are written, and pushing its children.
 *  2. Sub-topologies are the connected components of parent edges and shared stores, numbered
 *     in write order of their first node. Global tables' components are numbered alike and
 *     described as global stores.
 *  3. Description order (describeSubtopology): the component's node names go into a HashSet
 *     and a HashMap; in the map's iteration order each node is linked to its predecessors,
 *     inserted into TreeSets sorted by "sub-tree size" (descending) then name, while sizes
 *     grow. A sub-tree size is the number of paths from the node down (itself included). The
 *     nodes of a sub-topology are then listed by final size and name.
 *
 * java_order.c reproduces the HashMap and TreeSet behaviour this needs. */
#include "topology/topology.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

/* Work bound for size propagation: Kafka's recursion follows every path, which multiplies in
 * chains of merges; past this many steps the topology is refused rather than described. */
#define SIZE_UPDATE_STEPS_MAX 100000000ull

/* ------------------------------------------------------------------------------------------ */
/* Releasing                                                                                  */

void eddy__builder_unbuild(eddy_builder *builder)
{
    if (!builder->built)
        return;
    for (uint32_t i = 0; i < builder->node_count; i++) {
        eddy__ids_free(&builder->nodes[i].description_children);
        eddy__ids_free(&builder->nodes[i].description_parents);
        builder->nodes[i].subtopology = -1;
    }
    for (uint32_t i = 0; i < builder->store_count; i++)
        builder->stores[i].subtopology = -1;
    for (uint32_t i = 0; i < builder->subtopology_count; i++) {
        eddy__subtopology *sub = &builder->subtopologies[i];
        eddy__ids_free(&sub->nodes);
        eddy__ids_free(&sub->source_topics);
        eddy__ids_free(&sub->sink_topics);
        eddy__ids_free(&sub->repartition_topics);
        eddy__ids_free(&sub->stores);
    }
    eddy__free(builder->subtopologies);
    builder->subtopologies = NULL;
    builder->subtopology_count = 0;
    for (uint32_t i = 0; i < builder->copartition_group_count; i++)
        eddy__ids_free(&builder->copartition_groups[i]);
    eddy__free(builder->copartition_groups);
    builder->copartition_groups = NULL;
    builder->copartition_group_count = 0;
    memset(&builder->topology, 0, sizeof builder->topology);
    builder->built = false;
}

/* ------------------------------------------------------------------------------------------ */
/* Checks                                                                                     */

static int compare_names(const void *a, const void *b, void *opaque)
{
    const eddy_builder *builder = opaque;
    return strcmp(builder->nodes[*(const uint32_t *)a].name,
                  builder->nodes[*(const uint32_t *)b].name);
}

static eddy_err check_unique_names(eddy_builder *builder)
{
    uint32_t count = builder->node_count;
    if (count < 2)
        return EDDY_OK;
    uint32_t *sorted = eddy__malloc(count * sizeof *sorted);
    if (!sorted)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "building the topology: out of memory");
    for (uint32_t i = 0; i < count; i++)
        sorted[i] = i;
    qsort_r(sorted, count, sizeof *sorted, compare_names, builder);
    eddy_err err = EDDY_OK;
    for (uint32_t i = 1; i < count && err == EDDY_OK; i++) {
        const char *name = builder->nodes[sorted[i]].name;
        if (strcmp(builder->nodes[sorted[i - 1]].name, name) == 0)
            err = eddy__builder_fail(builder, EDDY_ERR_EXISTS,
                                     "topology: two processors are named \"%s\" (a user name "
                                     "that a generated name reached; pick another)",
                                     name);
    }
    eddy__free(sorted);
    return err;
}

static eddy_err apply_store_options(eddy_builder *builder)
{
    for (uint32_t i = 0; i < builder->store_option_count; i++) {
        const struct eddy__store_option *option = &builder->store_options[i];
        eddy__store *store = NULL;
        for (uint32_t j = 0; j < builder->store_count && !store; j++)
            if (strcmp(builder->stores[j].name, option->name) == 0)
                store = &builder->stores[j];
        if (!store)
            return eddy__builder_fail(builder, EDDY_ERR_NOT_FOUND,
                                      "eddy_builder_store_options: the topology has no state "
                                      "store named \"%s\"",
                                      option->name);
        store->kind = option->kind;
        store->changelog = option->changelog && !store->global;
    }
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Write order: Kafka's priority queue over graph nodes                                       */

typedef struct heap {
    uint32_t *items; /* graph node indices, min-heap by priority */
    uint32_t count;
    const eddy__graph_node *graph;
} heap;

static bool heap_less(const heap *h, uint32_t a, uint32_t b)
{
    return h->graph[h->items[a]].priority < h->graph[h->items[b]].priority;
}

static void heap_swap(heap *h, uint32_t a, uint32_t b)
{
    uint32_t t = h->items[a];
    h->items[a] = h->items[b];
    h->items[b] = t;
}

static void heap_push(heap *h, uint32_t item)
{
    uint32_t i = h->count++;
    h->items[i] = item;
    while (i > 0 && heap_less(h, i, (i - 1) / 2)) {
        heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static uint32_t heap_pop(heap *h)
{
    uint32_t top = h->items[0];
    h->items[0] = h->items[--h->count];
    for (uint32_t i = 0;;) {
        uint32_t smallest = i, l = 2 * i + 1, r = 2 * i + 2;
        if (l < h->count && heap_less(h, l, smallest))
            smallest = l;
        if (r < h->count && heap_less(h, r, smallest))
            smallest = r;
        if (smallest == i)
            break;
        heap_swap(h, i, smallest);
        i = smallest;
    }
    return top;
}

/* Fills order[] (node indices) in Kafka's write order. A graph node already waiting in the
 * queue is not pushed again: a second entry would pop at the same priority and write nothing
 * more, so the order is the same and the work stays linear. */
static eddy_err write_order(const eddy_builder *builder, uint32_t *order)
{
    uint32_t count = builder->graph_node_count;
    heap h = {.graph = builder->graph_nodes};
    h.items = eddy__malloc(count * sizeof *h.items);
    uint8_t *pending = eddy__calloc(count, 1);
    uint8_t *written = eddy__calloc(count, 1);
    if (!h.items || !pending || !written) {
        eddy__free(h.items);
        eddy__free(pending);
        eddy__free(written);
        return EDDY_ERR_NO_MEMORY;
    }
    uint32_t position = 0;
    heap_push(&h, 0);
    pending[0] = 1;
    while (h.count > 0) {
        uint32_t g = heap_pop(&h);
        pending[g] = 0;
        const eddy__graph_node *node = &builder->graph_nodes[g];
        bool parents_written = true;
        for (uint32_t i = 0; i < node->parents.count; i++)
            parents_written = parents_written && written[node->parents.items[i]];
        if (parents_written && !written[g]) {
            written[g] = 1;
            for (uint32_t i = 0; i < node->members.count; i++)
                order[position++] = node->members.items[i];
        }
        for (uint32_t i = 0; i < node->children.count; i++) {
            uint32_t child = node->children.items[i];
            if (!pending[child]) {
                pending[child] = 1;
                heap_push(&h, child);
            }
        }
    }
    eddy__free(h.items);
    eddy__free(pending);
    eddy__free(written);
    return position == builder->node_count ? EDDY_OK : EDDY_ERR_STATE;
}

/* ------------------------------------------------------------------------------------------ */
/* Sub-topologies                                                                             */

static uint32_t union_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

static void union_join(uint32_t *parent, uint32_t a, uint32_t b)
{
    a = union_find(parent, a);
    b = union_find(parent, b);
    if (a != b)
        parent[b] = a;
}

/* Assigns node->subtopology (numbered by first node in write order); returns the count. */
static eddy_err assign_subtopologies(eddy_builder *builder, const uint32_t *order,
                                     uint32_t *count_out)
{
    uint32_t n = builder->node_count;
    uint32_t *parent = eddy__malloc((n + 1) * sizeof *parent);
    uint32_t *store_user = eddy__malloc((builder->store_count + 1) * sizeof *store_user);
    int32_t *root_id = eddy__malloc((n + 1) * sizeof *root_id);
    if (!parent || !store_user || !root_id) {
        eddy__free(parent);
        eddy__free(store_user);
        eddy__free(root_id);
        return EDDY_ERR_NO_MEMORY;
    }
    for (uint32_t i = 0; i < n; i++) {
        parent[i] = i;
        root_id[i] = -1;
    }
    for (uint32_t i = 0; i < builder->store_count; i++)
        store_user[i] = EDDY__NONE;
    for (uint32_t i = 0; i < n; i++) {
        const eddy__node *node = &builder->nodes[i];
        for (uint32_t p = 0; p < node->parents.count; p++)
            union_join(parent, node->parents.items[p], i);
        for (uint32_t s = 0; s < node->stores.count; s++) {
            uint32_t store = node->stores.items[s];
            if (store_user[store] == EDDY__NONE)
                store_user[store] = i;
            else
                union_join(parent, store_user[store], i);
        }
    }
    int32_t next = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t root = union_find(parent, order[i]);
        if (root_id[root] < 0)
            root_id[root] = next++;
        builder->nodes[order[i]].subtopology = root_id[root];
        builder->nodes[order[i]].write_position = i;
    }
    eddy__free(parent);
    eddy__free(store_user);
    eddy__free(root_id);
    *count_out = (uint32_t)next;
    return EDDY_OK;
}

/* ---- Kafka's describeSubtopology ---- */

typedef struct describe_state {
    const eddy_builder *builder;
    int32_t *size;                              /* by node index; Java int arithmetic (wrapping) */
    eddy__java_tree *predecessors, *successors; /* by node index */
    uint64_t steps;
} describe_state;

/* Kafka's NodeComparator: equal for the same node, else larger sub-tree first, then name. */
static int compare_nodes(uint32_t a, uint32_t b, void *opaque)
{
    const describe_state *state = opaque;
    if (a == b)
        return 0;
    int32_t difference = (int32_t)((uint32_t)state->size[b] - (uint32_t)state->size[a]);
    if (difference != 0)
        return difference < 0 ? -1 : 1;
    return strcmp(state->builder->nodes[a].name, state->builder->nodes[b].name);
}

/* Kafka's updateSize: add delta to node and, recursively, to every predecessor linked so far
 * (once per path). Iterative, with an explicit stack, so deep chains cannot overflow ours. */
static eddy_err update_size(describe_state *state, uint32_t node, int32_t delta)
{
    eddy__ids stack = {0};
    eddy_err err = eddy__ids_push(&stack, node);
    while (err == EDDY_OK && stack.count > 0) {
        uint32_t x = stack.items[--stack.count];
        if (++state->steps > SIZE_UPDATE_STEPS_MAX) {
            err = EDDY_ERR_TOO_LARGE;
            break;
        }
        state->size[x] = (int32_t)((uint32_t)state->size[x] + (uint32_t)delta);
        const eddy__java_tree *preds = &state->predecessors[x];
        for (uint32_t i = 0; i < preds->count && err == EDDY_OK; i++)
            err = eddy__ids_push(&stack, preds->entries[i].key);
    }
    eddy__ids_free(&stack);
    return err;
}

static int compare_final(const void *a, const void *b, void *opaque)
{
    const describe_state *state = opaque;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (state->size[x] != state->size[y])
        return state->size[x] > state->size[y] ? -1 : 1;
    return strcmp(state->builder->nodes[x].name, state->builder->nodes[y].name);
}

/* Orders the members of one sub-topology (in write order) as Kafka describes them. */
static eddy_err describe_order(eddy_builder *builder, describe_state *state, eddy__ids *members,
                               eddy__subtopology *sub)
{
    uint32_t count = members->count;
    const char **names = eddy__malloc(count * sizeof *names);
    uint32_t *order = eddy__malloc(count * sizeof *order);
    eddy_err err = names && order ? EDDY_OK : EDDY_ERR_NO_MEMORY;
    for (uint32_t i = 0; err == EDDY_OK && i < count; i++)
        names[i] = builder->nodes[members->items[i]].name;
    if (err == EDDY_OK)
        err = eddy__java_hash_order(names, count, 16, order);
    for (uint32_t i = 0; err == EDDY_OK && i < count; i++) {
        uint32_t x = members->items[order[i]];
        const eddy__node *node = &builder->nodes[x];
        for (uint32_t p = 0; err == EDDY_OK && p < node->parents.count; p++) {
            uint32_t pred = node->parents.items[p];
            err = eddy__java_tree_add(&state->predecessors[x], pred, compare_nodes, state);
            if (err == EDDY_OK)
                err = eddy__java_tree_add(&state->successors[pred], x, compare_nodes, state);
            if (err == EDDY_OK)
                err = update_size(state, pred, state->size[x]);
        }
    }
    for (uint32_t i = 0; err == EDDY_OK && i < count; i++) {
        uint32_t x = members->items[i];
        eddy__node *node = &builder->nodes[x];
        err = eddy__java_tree_keys(&state->successors[x], &node->description_children);
        if (err == EDDY_OK)
            err = eddy__java_tree_keys(&state->predecessors[x], &node->description_parents);
    }
    if (err == EDDY_OK) {
        for (uint32_t i = 0; i < count && err == EDDY_OK; i++)
            err = eddy__ids_push(&sub->nodes, members->items[i]);
        if (err == EDDY_OK)
            qsort_r(sub->nodes.items, sub->nodes.count, sizeof *sub->nodes.items, compare_final,
                    state);
    }
    eddy__free(names);
    eddy__free(order);
    return err;
}

/* A global store's group: its source, then its processor (Kafka's GlobalStore description). */
static eddy_err describe_global(eddy_builder *builder, eddy__ids *members, eddy__subtopology *sub)
{
    uint32_t source = EDDY__NONE, processor = EDDY__NONE;
    for (uint32_t i = 0; i < members->count; i++) {
        if (builder->nodes[members->items[i]].op == EDDY__OP_SOURCE)
            source = members->items[i];
        else
            processor = members->items[i];
    }
    if (source == EDDY__NONE || processor == EDDY__NONE || members->count != 2)
        return EDDY_ERR_STATE;
    eddy_err err = eddy__ids_push(&sub->nodes, source);
    if (err == EDDY_OK)
        err = eddy__ids_push(&sub->nodes, processor);
    if (err == EDDY_OK)
        err = eddy__ids_push(&builder->nodes[source].description_children, processor);
    if (err == EDDY_OK)
        err = eddy__ids_push(&builder->nodes[processor].description_parents, source);
    return err;
}

static bool is_global_source(const eddy_builder *builder, const eddy__node *node)
{
    return node->op == EDDY__OP_SOURCE && node->topics.count == 1 &&
           builder->topics[node->topics.items[0]].global;
}

static eddy_err push_unique(eddy__ids *ids, uint32_t id)
{
    return eddy__ids_contains(ids, id) ? EDDY_OK : eddy__ids_push(ids, id);
}

/* Topics and stores of each sub-topology, for the runtime. */
static eddy_err fill_runtime_lists(eddy_builder *builder, eddy__subtopology *sub)
{
    eddy_err err = EDDY_OK;
    for (uint32_t i = 0; i < sub->nodes.count && err == EDDY_OK; i++) {
        eddy__node *node = &builder->nodes[sub->nodes.items[i]];
        for (uint32_t t = 0; t < node->topics.count && err == EDDY_OK; t++) {
            uint32_t topic = node->topics.items[t];
            err = push_unique(&sub->source_topics, topic);
            if (err == EDDY_OK && builder->topics[topic].internal)
                err = push_unique(&sub->repartition_topics, topic);
        }
        if (err == EDDY_OK && node->op == EDDY__OP_SINK && node->sink_topic != EDDY__NONE)
            err = push_unique(&sub->sink_topics, node->sink_topic);
        for (uint32_t s = 0; s < node->stores.count && err == EDDY_OK; s++) {
            err = push_unique(&sub->stores, node->stores.items[s]);
            builder->stores[node->stores.items[s]].subtopology = sub->id;
        }
    }
    return err;
}

/* Kafka's copartition groups, as topics; groups sharing a topic are merged. */
static eddy_err build_copartition_groups(eddy_builder *builder)
{
    uint32_t count = builder->copartition_count;
    if (count == 0)
        return EDDY_OK;
    builder->copartition_groups = eddy__calloc(count, sizeof *builder->copartition_groups);
    if (!builder->copartition_groups)
        return EDDY_ERR_NO_MEMORY;
    eddy_err err = EDDY_OK;
    for (uint32_t g = 0; g < count && err == EDDY_OK; g++) {
        eddy__ids topics = {0};
        const eddy__ids *sources = &builder->copartition_sources[g];
        for (uint32_t i = 0; i < sources->count && err == EDDY_OK; i++) {
            const eddy__node *source = &builder->nodes[sources->items[i]];
            for (uint32_t t = 0; t < source->topics.count && err == EDDY_OK; t++)
                err = push_unique(&topics, source->topics.items[t]);
        }
        /* Merge into the first existing group sharing a topic, repeatedly. */
        for (uint32_t existing = 0;
             existing < builder->copartition_group_count && err == EDDY_OK;) {
            eddy__ids *other = &builder->copartition_groups[existing];
            bool shares = false;
            for (uint32_t t = 0; t < topics.count && !shares; t++)
                shares = eddy__ids_contains(other, topics.items[t]);
            if (!shares) {
                existing++;
                continue;
            }
            for (uint32_t t = 0; t < other->count && err == EDDY_OK; t++)
                err = push_unique(&topics, other->items[t]);
            eddy__ids_free(other);
            *other = builder->copartition_groups[--builder->copartition_group_count];
            memset(&builder->copartition_groups[builder->copartition_group_count], 0,
                   sizeof *other);
        }
        builder->copartition_groups[builder->copartition_group_count++] = topics;
    }
    return err;
}

static eddy_err build_subtopologies(eddy_builder *builder, const uint32_t *order,
                                    uint32_t subtopology_count)
{
    uint32_t n = builder->node_count;
    eddy__ids *members = eddy__calloc(subtopology_count + 1, sizeof *members);
    describe_state state = {.builder = builder};
    state.size = eddy__malloc((n + 1) * sizeof *state.size);
    state.predecessors = eddy__calloc(n + 1, sizeof *state.predecessors);
    state.successors = eddy__calloc(n + 1, sizeof *state.successors);
    builder->subtopologies = eddy__calloc(subtopology_count + 1, sizeof *builder->subtopologies);
    eddy_err err =
        members && state.size && state.predecessors && state.successors && builder->subtopologies
            ? EDDY_OK
            : EDDY_ERR_NO_MEMORY;
    if (err == EDDY_OK)
        builder->subtopology_count = subtopology_count;
    for (uint32_t i = 0; i < n && err == EDDY_OK; i++) {
        state.size[i] = 1;
        err = eddy__ids_push(&members[builder->nodes[order[i]].subtopology], order[i]);
    }
    for (uint32_t s = 0; s < subtopology_count && err == EDDY_OK; s++) {
        eddy__subtopology *sub = &builder->subtopologies[s];
        sub->id = (int32_t)s;
        for (uint32_t i = 0; i < members[s].count && !sub->global; i++)
            sub->global = is_global_source(builder, &builder->nodes[members[s].items[i]]);
        err = sub->global ? describe_global(builder, &members[s], sub)
                          : describe_order(builder, &state, &members[s], sub);
        if (err == EDDY_OK)
            err = fill_runtime_lists(builder, sub);
    }
    for (uint32_t s = 0; members && s < subtopology_count; s++)
        eddy__ids_free(&members[s]);
    for (uint32_t i = 0; state.predecessors && state.successors && i < n; i++) {
        eddy__java_tree_free(&state.predecessors[i]);
        eddy__java_tree_free(&state.successors[i]);
    }
    eddy__free(members);
    eddy__free(state.size);
    eddy__free(state.predecessors);
    eddy__free(state.successors);
    return err;
}

eddy_err eddy__builder_build(eddy_builder *builder, const eddy__topology **out)
{
    *out = NULL;
    if (builder->built) {
        *out = &builder->topology;
        return EDDY_OK;
    }
    if (builder->error == EDDY_OK) {
        eddy_err err = check_unique_names(builder);
        if (err != EDDY_OK && builder->error == EDDY_OK)
            return err; /* out of memory: not the builder's error; a later build tries again */
    }
    if (builder->error == EDDY_OK)
        apply_store_options(builder);
    if (builder->error != EDDY_OK)
        return eddy__fail(builder->error, "%s",
                          builder->error_message ? builder->error_message
                                                 : eddy_strerror(builder->error));
    uint32_t *order = eddy__malloc((builder->node_count + 1) * sizeof *order);
    if (!order)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "building the topology: out of memory");
    uint32_t subtopology_count = 0;
    builder->built = true; /* so that unbuild frees whatever the steps below made */
    eddy_err err = write_order(builder, order);
    if (err == EDDY_OK)
        err = assign_subtopologies(builder, order, &subtopology_count);
    if (err == EDDY_OK)
        err = build_subtopologies(builder, order, subtopology_count);
    if (err == EDDY_OK)
        err = build_copartition_groups(builder);
    eddy__free(order);
    if (err != EDDY_OK) {
        eddy__builder_unbuild(builder);
        if (err == EDDY_ERR_TOO_LARGE)
            return eddy__fail(err, "building the topology: too many paths through merges to "
                                   "describe it as Kafka Streams does");
        return eddy__fail(err, "building the topology: %s", eddy_strerror(err));
    }
    builder->topology = (eddy__topology){
        .nodes = builder->nodes,
        .node_count = builder->node_count,
        .stores = builder->stores,
        .store_count = builder->store_count,
        .topics = builder->topics,
        .topic_count = builder->topic_count,
        .subtopologies = builder->subtopologies,
        .subtopology_count = builder->subtopology_count,
        .copartition_groups = builder->copartition_groups,
        .copartition_group_count = builder->copartition_group_count,
        .timestamp_extractor = builder->timestamp_extractor,
        .timestamp_opaque = builder->timestamp_opaque,
    };
    *out = &builder->topology;
    return EDDY_OK;
}

int eddy__topic_full_name(const eddy__topic *topic, const char *application_id, char *buf,
                          size_t size)
{
    if (topic->internal)
        return snprintf(buf, size, "%s-%s", application_id, topic->name);
    return snprintf(buf, size, "%s", topic->name);
}

int eddy__store_changelog_name(const eddy__store *store, const char *application_id, char *buf,
                               size_t size)
{
    return snprintf(buf, size, "%s-%s-changelog", application_id, store->name);
}
