/* Describing a built topology: the text of Kafka Streams' TopologyDescription.toString(), and
 * a Graphviz DOT drawing.
 *
 * The text, character for character as Kafka prints it (InternalTopologyBuilder):
 *
 *     Topologies:\n
 *     ␣ then, per sub-topology in id order, "  " and either
 *       "Sub-topology: <id>\n" + per node "    <node>\n" + "\n"
 *       "Sub-topology: <id> for global store (will not generate tasks)\n"
 *           + "    <source>\n" + "    <processor>\n"
 *     nodes:
 *       "Source: <name> (topics: [<t1>, <t2>])\n      --> <children>"
 *       "Processor: <name> (stores: [<s1>, <s2>])\n      --> <children>\n      <-- <parents>"
 *       "Sink: <name> (topic: <topic>)\n      <-- <parents>"
 *     where <children>/<parents> are names joined by ", ", or "none".
 *
 * So the first sub-topology line starts with three spaces and later ones with two (the space
 * after "Topologies:\n" is Kafka's). Topics and stores print in Java HashSet order; nodes and
 * their neighbours in the order build.c computed. Repartition topics print without the
 * application id, as Kafka describes a topology before it knows it. */
#include "topology/topology.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"

static eddy_err append(eddy__buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static eddy_err append(eddy__buf *buf, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int length = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    if (length < 0)
        return EDDY_ERR_INVALID_ARGUMENT;
    eddy_err err = eddy__buf_reserve(buf, (size_t)length + 1);
    if (err != EDDY_OK)
        return err;
    va_start(args, fmt);
    vsnprintf((char *)buf->data + buf->len, (size_t)length + 1, fmt, args);
    va_end(args);
    buf->len += (size_t)length;
    return EDDY_OK;
}

/* Node names joined by ", ", or "none" (Kafka's nodeNames()). */
static eddy_err append_node_names(eddy__buf *buf, const eddy_builder *builder, const eddy__ids *ids)
{
    if (ids->count == 0)
        return append(buf, "none");
    eddy_err err = EDDY_OK;
    for (uint32_t i = 0; i < ids->count && err == EDDY_OK; i++)
        err = append(buf, "%s%s", i ? ", " : "", builder->nodes[ids->items[i]].name);
    return err;
}

/* "[a, b]" in the order of Java's `new HashSet<>(names)`. */
static eddy_err append_java_set(eddy__buf *buf, const char *const *names, uint32_t count)
{
    uint32_t order_small[16];
    uint32_t *order = count <= 16 ? order_small : eddy__malloc(count * sizeof *order);
    if (!order)
        return EDDY_ERR_NO_MEMORY;
    eddy_err err = eddy__java_hash_order(names, count, eddy__java_copy_capacity(count), order);
    if (err == EDDY_OK)
        err = append(buf, "[");
    for (uint32_t i = 0; i < count && err == EDDY_OK; i++)
        err = append(buf, "%s%s", i ? ", " : "", names[order[i]]);
    if (err == EDDY_OK)
        err = append(buf, "]");
    if (order != order_small)
        eddy__free(order);
    return err;
}

static eddy_err append_topics(eddy__buf *buf, const eddy_builder *builder, const eddy__node *node)
{
    const char *small[16];
    uint32_t count = node->topics.count;
    const char **names = count <= 16 ? small : eddy__malloc(count * sizeof *names);
    if (!names)
        return EDDY_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < count; i++)
        names[i] = builder->topics[node->topics.items[i]].name;
    eddy_err err = append_java_set(buf, names, count);
    if (names != small)
        eddy__free(names);
    return err;
}

static eddy_err append_stores(eddy__buf *buf, const eddy_builder *builder, const eddy__node *node)
{
    const char *small[16];
    uint32_t count = node->stores.count;
    const char **names = count <= 16 ? small : eddy__malloc(count * sizeof *names);
    if (!names)
        return EDDY_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < count; i++)
        names[i] = builder->stores[node->stores.items[i]].name;
    eddy_err err = append_java_set(buf, names, count);
    if (names != small)
        eddy__free(names);
    return err;
}

static eddy_err append_node(eddy__buf *buf, const eddy_builder *builder, uint32_t index)
{
    const eddy__node *node = &builder->nodes[index];
    eddy_err err;
    switch (eddy__op_type(node->op)) {
    case EDDY__NODE_SOURCE:
        err = append(buf, "Source: %s (topics: ", node->name);
        if (err == EDDY_OK)
            err = append_topics(buf, builder, node);
        if (err == EDDY_OK)
            err = append(buf, ")\n      --> ");
        if (err == EDDY_OK)
            err = append_node_names(buf, builder, &node->description_children);
        return err;
    case EDDY__NODE_SINK:
        /* Kafka prints an extractor's Java object; a C function has no class, so its type
         * stands in. */
        if (node->sink_topic != EDDY__NONE)
            err = append(buf, "Sink: %s (topic: %s)\n      <-- ", node->name,
                         builder->topics[node->sink_topic].name);
        else
            err = append(buf, "Sink: %s (extractor class: eddy_topic_extractor_fn)\n      <-- ",
                         node->name);
        if (err == EDDY_OK)
            err = append_node_names(buf, builder, &node->description_parents);
        return err;
    case EDDY__NODE_PROCESSOR:
        break;
    }
    err = append(buf, "Processor: %s (stores: ", node->name);
    if (err == EDDY_OK)
        err = append_stores(buf, builder, node);
    if (err == EDDY_OK)
        err = append(buf, ")\n      --> ");
    if (err == EDDY_OK)
        err = append_node_names(buf, builder, &node->description_children);
    if (err == EDDY_OK)
        err = append(buf, "\n      <-- ");
    if (err == EDDY_OK)
        err = append_node_names(buf, builder, &node->description_parents);
    return err;
}

/* Hands the buffer's bytes to the caller as a NUL-terminated string. */
static eddy_err finish(eddy__buf *buf, eddy_err err, char **out)
{
    if (err == EDDY_OK)
        err = eddy__buf_append(buf, "", 1);
    if (err != EDDY_OK) {
        eddy__buf_free(buf);
        return eddy__fail(err, "describing the topology: %s", eddy_strerror(err));
    }
    *out = (char *)buf->data;
    return EDDY_OK;
}

eddy_err eddy__describe_text(const eddy_builder *builder, char **out)
{
    eddy__buf buf = {0};
    eddy_err err = append(&buf, "Topologies:\n ");
    for (uint32_t s = 0; s < builder->subtopology_count && err == EDDY_OK; s++) {
        const eddy__subtopology *sub = &builder->subtopologies[s];
        if (sub->global)
            err = append(&buf, "  Sub-topology: %d for global store (will not generate tasks)\n",
                         sub->id);
        else
            err = append(&buf, "  Sub-topology: %d\n", sub->id);
        for (uint32_t i = 0; i < sub->nodes.count && err == EDDY_OK; i++) {
            err = append(&buf, "    ");
            if (err == EDDY_OK)
                err = append_node(&buf, builder, sub->nodes.items[i]);
            if (err == EDDY_OK)
                err = append(&buf, "\n");
        }
        if (err == EDDY_OK && !sub->global)
            err = append(&buf, "\n");
    }
    return finish(&buf, err, out);
}

/* ---- DOT ---- */

/* A DOT quoted string: names are [a-zA-Z0-9._-] but escape anyway. */
static eddy_err append_quoted(eddy__buf *buf, const char *kind, const char *name)
{
    eddy_err err = append(buf, "\"%s", kind);
    for (const char *c = name; *c && err == EDDY_OK; c++)
        err = (*c == '"' || *c == '\\') ? append(buf, "\\%c", *c) : append(buf, "%c", *c);
    if (err == EDDY_OK)
        err = append(buf, "\"");
    return err;
}

static eddy_err dot_declare(eddy__buf *buf, const char *indent, const char *kind, const char *name,
                            const char *attributes)
{
    eddy_err err = append(buf, "%s", indent);
    if (err == EDDY_OK)
        err = append_quoted(buf, kind, name);
    if (err == EDDY_OK)
        err = append(buf, " [label=");
    if (err == EDDY_OK)
        err = append_quoted(buf, "", name);
    if (err == EDDY_OK)
        err = append(buf, ", %s];\n", attributes);
    return err;
}

static eddy_err dot_edge(eddy__buf *buf, const char *from_kind, const char *from,
                         const char *to_kind, const char *to, const char *attributes)
{
    eddy_err err = append(buf, "  ");
    if (err == EDDY_OK)
        err = append_quoted(buf, from_kind, from);
    if (err == EDDY_OK)
        err = append(buf, " -> ");
    if (err == EDDY_OK)
        err = append_quoted(buf, to_kind, to);
    if (err == EDDY_OK)
        err = append(buf, "%s;\n", attributes);
    return err;
}

static const char *dot_node_shape(const eddy__node *node)
{
    switch (eddy__op_type(node->op)) {
    case EDDY__NODE_SOURCE:
        return "shape=box, style=\"rounded,filled\", fillcolor=\"#dbeafe\"";
    case EDDY__NODE_SINK:
        return "shape=box, style=\"rounded,filled\", fillcolor=\"#fde68a\"";
    case EDDY__NODE_PROCESSOR:
        break;
    }
    return "shape=box";
}

static eddy_err dot_subtopology(eddy__buf *buf, const eddy_builder *builder,
                                const eddy__subtopology *sub)
{
    eddy_err err = append(buf, "  subgraph cluster_%d {\n    label=\"Sub-topology: %d%s\";\n",
                          sub->id, sub->id, sub->global ? " (global store)" : "");
    for (uint32_t i = 0; i < sub->nodes.count && err == EDDY_OK; i++) {
        const eddy__node *node = &builder->nodes[sub->nodes.items[i]];
        err = dot_declare(buf, "    ", "p:", node->name, dot_node_shape(node));
    }
    for (uint32_t i = 0; i < sub->stores.count && err == EDDY_OK; i++)
        err = dot_declare(buf, "    ", "s:", builder->stores[sub->stores.items[i]].name,
                          "shape=cylinder");
    if (err == EDDY_OK)
        err = append(buf, "  }\n");
    return err;
}

static eddy_err dot_edges(eddy__buf *buf, const eddy_builder *builder, const eddy__node *node)
{
    eddy_err err = EDDY_OK;
    for (uint32_t t = 0; t < node->topics.count && err == EDDY_OK; t++)
        err =
            dot_edge(buf, "t:", builder->topics[node->topics.items[t]].name, "p:", node->name, "");
    for (uint32_t c = 0; c < node->description_children.count && err == EDDY_OK; c++)
        err = dot_edge(buf, "p:", node->name,
                       "p:", builder->nodes[node->description_children.items[c]].name, "");
    if (err == EDDY_OK && node->op == EDDY__OP_SINK && node->sink_topic != EDDY__NONE)
        err = dot_edge(buf, "p:", node->name, "t:", builder->topics[node->sink_topic].name, "");
    for (uint32_t s = 0; s < node->stores.count && err == EDDY_OK; s++)
        err = dot_edge(buf, "p:", node->name, "s:", builder->stores[node->stores.items[s]].name,
                       " [dir=both, style=dashed, arrowsize=0.6]");
    return err;
}

eddy_err eddy__describe_dot(const eddy_builder *builder, char **out)
{
    eddy__buf buf = {0};
    eddy_err err = append(&buf, "digraph topology {\n"
                                "  rankdir=TB;\n"
                                "  node [fontname=\"Helvetica\", fontsize=10];\n"
                                "  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (uint32_t s = 0; s < builder->subtopology_count && err == EDDY_OK; s++)
        err = dot_subtopology(&buf, builder, &builder->subtopologies[s]);
    /* Topics outside the clusters: they are what connects sub-topologies. */
    for (uint32_t t = 0; t < builder->topic_count && err == EDDY_OK; t++) {
        const eddy__topic *topic = &builder->topics[t];
        err = dot_declare(&buf, "  ", "t:", topic->name,
                          topic->internal ? "shape=ellipse, style=dashed" : "shape=ellipse");
    }
    for (uint32_t n = 0; n < builder->node_count && err == EDDY_OK; n++)
        err = dot_edges(&buf, builder, &builder->nodes[n]);
    if (err == EDDY_OK)
        err = append(&buf, "}\n");
    return finish(&buf, err, out);
}

/* ---- Public entry points ---- */

eddy_err eddy_builder_describe(eddy_builder *builder, char **out)
{
    if (out)
        *out = NULL;
    if (!builder || !out)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_builder_describe: %s is NULL",
                          builder ? "out" : "builder");
    const eddy__topology *topology;
    eddy_err err = eddy__builder_build(builder, &topology);
    if (err != EDDY_OK)
        return err;
    return eddy__describe_text(builder, out);
}

eddy_err eddy_builder_describe_dot(eddy_builder *builder, char **out)
{
    if (out)
        *out = NULL;
    if (!builder || !out)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_builder_describe_dot: %s is NULL",
                          builder ? "out" : "builder");
    const eddy__topology *topology;
    eddy_err err = eddy__builder_build(builder, &topology);
    if (err != EDDY_OK)
        return err;
    return eddy__describe_dot(builder, out);
}
