/* Tasks: the code of every DSL operator, run depth-first over a sub-topology (see task.h).
 *
 * A record in flight is a `eddy__flow`: the record (key, value, timestamp, headers and the input's
 * topic, partition and offset) plus, for table changes, the old value. Stream operators read
 * only the record; table operators read and write changes as Kafka Streams' Change<V>.
 *
 * Repartition topics carry table changes (a table group-by's output). The value is one of
 *     <old value bytes> 0x00                                the old value (subtract)
 *     <new value bytes> 0x01                                the new value (add)
 *     <new bytes> <old bytes> <new length, 4 bytes BE> 0x02  both: the row changed and kept its
 *                                                           group key (Kafka 3.5+, KIP-904)
 * As in Kafka, a row whose group key changes is sent as two records, old first, then new; the
 * byte format differs from Kafka's and is internal to each application. */
#include "runtime/task_internal.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/logging.h"
#include "eddy/serde.h"
#include "store/store.h"
#include "store/window.h"

/* ---- Captures ------------------------------------------------------------------------------ */

eddy_err eddy__capture_set(eddy__capture *c, eddy_slice s)
{
    c->set = true;
    if (!s.data) {
        c->slice = (eddy_slice){0};
        return EDDY_OK;
    }
    uint8_t *dst = c->inline_bytes;
    if (s.len > sizeof c->inline_bytes) {
        if (s.len > c->heap_capacity) {
            uint8_t *grown = eddy__realloc(c->heap, s.len);
            if (!grown)
                return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory copying a %zu-byte result",
                                  s.len);
            c->heap = grown;
            c->heap_capacity = s.len;
        }
        dst = c->heap;
    }
    if (s.len)
        memcpy(dst, s.data, s.len);
    c->slice = (eddy_slice){dst, s.len};
    return EDDY_OK;
}

void eddy__capture_free(eddy__capture *c)
{
    eddy__free(c->heap);
    c->heap = NULL;
}

void eddy__ctx_init(eddy_ctx *ctx, eddy__task *task, uint32_t node, const eddy__flow *in,
                    eddy__ctx_mode mode)
{
    ctx->task = task;
    ctx->node = node;
    ctx->in = in;
    ctx->mode = mode;
    ctx->change = in ? in->change : false;
    ctx->key.heap = ctx->value.heap = NULL;
    ctx->key.heap_capacity = ctx->value.heap_capacity = 0;
    ctx->key.set = ctx->value.set = false;
    ctx->key.slice = ctx->value.slice = (eddy_slice){0};
    ctx->err = EDDY_OK;
}

void eddy__ctx_done(eddy_ctx *ctx)
{
    eddy__capture_free(&ctx->key);
    eddy__capture_free(&ctx->value);
}

static void ctx_error(eddy_ctx *ctx, eddy_err err)
{
    if (ctx->err == EDDY_OK)
        ctx->err = err;
}

/* ---- Errors --------------------------------------------------------------------------------- */

const eddy__node *eddy__node_at(const eddy__task *task, uint32_t node)
{
    return &task->topology->nodes[node];
}

/* A fatal error: I/O, memory and the log, which no handler may skip. */
static bool error_is_fatal(eddy_err err)
{
    return err == EDDY_ERR_IO || err == EDDY_ERR_NO_SPACE || err == EDDY_ERR_NO_MEMORY ||
           err == EDDY_ERR_FATAL || err == EDDY_ERR_CORRUPT || err == EDDY_ERR_PERMISSION;
}

/* Fails the task with a message naming it and the record that caused the error. */
eddy_err eddy__task_fail(eddy__task *task, const eddy_record *rec, eddy_err err, const char *what)
{
    if (rec && rec->topic)
        snprintf(task->error, sizeof task->error,
                 "task %s: %s at topic %s partition %" PRId32 " offset %" PRId64 ": %s", task->id,
                 what, rec->topic, rec->partition, rec->offset, eddy_last_error());
    else
        snprintf(task->error, sizeof task->error, "task %s: %s: %s", task->id, what,
                 eddy_last_error());
    task->failed = true;
    return eddy__fail(err, "%s", task->error);
}

/* ---- Forwarding ----------------------------------------------------------------------------- */

eddy_err eddy__forward_children(eddy__task *task, uint32_t node, const eddy__flow *out)
{
    const eddy__node *n = eddy__node_at(task, node);
    for (uint32_t i = 0; i < n->children.count; i++) {
        eddy_err err = eddy__run_node(task, n->children.items[i], out);
        if (err != EDDY_OK)
            return err;
    }
    return EDDY_OK;
}

eddy__flow eddy__flow_with(const eddy__flow *in, eddy_slice key, eddy_slice value, eddy_slice old,
                           bool change)
{
    eddy__flow out = *in;
    out.rec.key = key;
    out.rec.value = value;
    out.old = old;
    out.change = change;
    return out;
}

void eddy_forward(eddy_ctx *ctx, eddy_slice key, eddy_slice value)
{
    if (!ctx || ctx->err != EDDY_OK)
        return;
    switch (ctx->mode) {
    case EDDY__CTX_FORWARD: {
        eddy__flow out = eddy__flow_with(ctx->in, key, value, (eddy_slice){0}, false);
        ctx_error(ctx, eddy__forward_children(ctx->task, ctx->node, &out));
        return;
    }
    case EDDY__CTX_CAPTURE_PAIR:
        ctx_error(ctx, eddy__capture_set(&ctx->key, key));
        ctx_error(ctx, eddy__capture_set(&ctx->value, value));
        return;
    default:
        ctx_error(ctx,
                  eddy__fail(EDDY_ERR_STATE, "%s: eddy_forward is not allowed in this callback",
                             eddy__node_at(ctx->task, ctx->node)->name));
    }
}

void eddy_forward_value(eddy_ctx *ctx, eddy_slice value)
{
    if (!ctx || ctx->err != EDDY_OK)
        return;
    switch (ctx->mode) {
    case EDDY__CTX_FORWARD: {
        eddy__flow out = eddy__flow_with(ctx->in, ctx->in->rec.key, value, (eddy_slice){0}, false);
        ctx_error(ctx, eddy__forward_children(ctx->task, ctx->node, &out));
        return;
    }
    case EDDY__CTX_CAPTURE_VALUE:
    case EDDY__CTX_CAPTURE_PAIR:
        ctx_error(ctx, eddy__capture_set(&ctx->value, value));
        if (ctx->mode == EDDY__CTX_CAPTURE_PAIR)
            ctx_error(ctx, eddy__capture_set(&ctx->key, ctx->in->rec.key));
        return;
    default:
        ctx_error(ctx, eddy__fail(EDDY_ERR_STATE,
                                  "%s: eddy_forward_value is not allowed in this callback",
                                  eddy__node_at(ctx->task, ctx->node)->name));
    }
}

eddy_slice eddy__str_slice(const char *s)
{
    return s ? (eddy_slice){s, strlen(s)} : (eddy_slice){0};
}

void eddy_forward_str(eddy_ctx *ctx, const char *key, const char *value)
{
    eddy_forward(ctx, eddy__str_slice(key), eddy__str_slice(value));
}

void eddy_forward_value_str(eddy_ctx *ctx, const char *value)
{
    eddy_forward_value(ctx, eddy__str_slice(value));
}

void eddy_forward_i64(eddy_ctx *ctx, eddy_slice key, int64_t value)
{
    uint8_t bytes[8];
    eddy_int64_encode(value, bytes);
    eddy_forward(ctx, key, (eddy_slice){bytes, 8});
}

void eddy_forward_value_i64(eddy_ctx *ctx, int64_t value)
{
    uint8_t bytes[8];
    eddy_int64_encode(value, bytes);
    eddy_forward_value(ctx, (eddy_slice){bytes, 8});
}

void eddy_forward_to(eddy_ctx *ctx, const char *child, eddy_slice key, eddy_slice value)
{
    if (!ctx || ctx->err != EDDY_OK)
        return;
    const eddy__node *n = eddy__node_at(ctx->task, ctx->node);
    if (ctx->mode != EDDY__CTX_FORWARD || !child) {
        ctx_error(ctx, eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "%s: eddy_forward_to %s", n->name,
                                  child ? "is not allowed in this callback" : "without a child"));
        return;
    }
    for (uint32_t i = 0; i < n->children.count; i++) {
        uint32_t c = n->children.items[i];
        if (strcmp(eddy__node_at(ctx->task, c)->name, child) == 0) {
            eddy__flow out = eddy__flow_with(ctx->in, key, value, (eddy_slice){0}, false);
            ctx_error(ctx, eddy__run_node(ctx->task, c, &out));
            return;
        }
    }
    ctx_error(ctx, eddy__fail(EDDY_ERR_NOT_FOUND, "processor %s has no child named '%s'", n->name,
                              child));
}

void eddy_result(eddy_ctx *ctx, eddy_slice result)
{
    if (!ctx || ctx->err != EDDY_OK)
        return;
    if (ctx->mode != EDDY__CTX_RESULT) {
        ctx_error(ctx, eddy__fail(EDDY_ERR_STATE, "%s: eddy_result is not allowed in this callback",
                                  eddy__node_at(ctx->task, ctx->node)->name));
        return;
    }
    ctx_error(ctx, eddy__capture_set(&ctx->value, result));
}

void eddy_result_str(eddy_ctx *ctx, const char *result)
{
    eddy_result(ctx, eddy__str_slice(result));
}

void eddy_result_i64(eddy_ctx *ctx, int64_t result)
{
    uint8_t bytes[8];
    eddy_int64_encode(result, bytes);
    eddy_result(ctx, (eddy_slice){bytes, 8});
}

eddy_kv_store *eddy_ctx_store(eddy_ctx *ctx, const char *name)
{
    if (!ctx || !name)
        return NULL;
    const eddy__node *n = eddy__node_at(ctx->task, ctx->node);
    for (uint32_t i = 0; i < n->stores.count; i++) {
        uint32_t s = n->stores.items[i];
        if (strcmp(ctx->task->topology->stores[s].name, name) == 0)
            return ctx->task->stores[s];
    }
    return NULL;
}

const char *eddy_ctx_application_id(eddy_ctx *ctx)
{
    return ctx ? ctx->task->host->application_id : NULL;
}

eddy_err eddy_schedule(eddy_ctx *ctx, int64_t interval_ms, eddy_punctuation_type type,
                       eddy_punctuate_fn fn, void *state)
{
    if (!ctx || !fn || interval_ms <= 0 ||
        (type != EDDY_PUNCTUATE_STREAM_TIME && type != EDDY_PUNCTUATE_WALL_CLOCK_TIME))
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "eddy_schedule: needs a context, a callback, an interval > 0 (got "
                          "%" PRId64 ") and a punctuation type",
                          interval_ms);
    eddy__task *task = ctx->task;
    if (task->punctuation_count == task->punctuation_capacity) {
        uint32_t capacity = task->punctuation_capacity ? task->punctuation_capacity * 2 : 4;
        punctuation *grown = eddy__realloc(task->punctuations, capacity * sizeof *grown);
        if (!grown)
            return eddy__fail(EDDY_ERR_NO_MEMORY, "eddy_schedule: out of memory");
        task->punctuations = grown;
        task->punctuation_capacity = capacity;
    }
    /* Kafka: stream time aligns to 0 and fires with the first record; wall-clock time fires
     * one interval from now. */
    int64_t first = type == EDDY_PUNCTUATE_STREAM_TIME
                        ? 0
                        : task->host->wall_clock_ms(task->host->opaque) + interval_ms;
    task->punctuations[task->punctuation_count++] =
        (punctuation){ctx->node, interval_ms, first, type, fn, state};
    return EDDY_OK;
}

/* ---- Stores --------------------------------------------------------------------------------- */

/* Reads `key` into `copy` (the store's bytes may move with the next write). */
eddy_err eddy__store_get_copy(eddy_kv_store *store, eddy_slice key, eddy__capture *copy)
{
    eddy_slice value;
    eddy_err err = eddy_kv_get(store, key, &value);
    if (err == EDDY_ERR_NOT_FOUND)
        return eddy__capture_set(copy, (eddy_slice){0});
    if (err != EDDY_OK)
        return err;
    return eddy__capture_set(copy, value);
}

eddy_err eddy__store_write(eddy_kv_store *store, eddy_slice key, eddy_slice value)
{
    return value.data ? eddy_kv_put(store, key, value) : eddy_kv_delete(store, key);
}

/* ---- Operators ------------------------------------------------------------------------------ */

static eddy_err op_source(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    const eddy__task_host *host = task->host;
    const eddy_serde *ks = n->key_serde ? n->key_serde : host->default_key_serde;
    const eddy_serde *vs = n->value_serde ? n->value_serde : host->default_value_serde;
    eddy__flow out = *in;
    if (task->nodes[node].carries_changes && in->rec.value.data) {
        /* A table change through a repartition topic: the flag byte says which side. */
        eddy_slice v = in->rec.value;
        if (v.len < 1)
            return eddy__fail(EDDY_ERR_CORRUPT, "a repartitioned table change has no flag byte");
        const uint8_t *bytes = v.data;
        uint8_t flag = bytes[v.len - 1];
        eddy_slice payload = {v.data, v.len - 1};
        out.change = true;
        if (flag == CHANGE_FLAG_BOTH) {
            uint32_t new_len = v.len >= 5 ? eddy__be32_get(bytes + v.len - 5) : UINT32_MAX;
            if (new_len > v.len - 5)
                return eddy__fail(EDDY_ERR_CORRUPT, "a repartitioned table change is malformed");
            out.rec.value = (eddy_slice){bytes, new_len};
            out.old = (eddy_slice){bytes + new_len, v.len - 5 - new_len};
        } else {
            out.rec.value = flag == CHANGE_FLAG_NEW ? payload : (eddy_slice){0};
            out.old = flag == CHANGE_FLAG_NEW ? (eddy_slice){0} : payload;
        }
    }
    eddy_err err = EDDY_OK;
    if (ks)
        err = eddy_serde_check(ks, out.rec.key);
    if (err == EDDY_OK && vs) {
        err = eddy_serde_check(vs, out.rec.value);
        if (err == EDDY_OK && out.old.data)
            err = eddy_serde_check(vs, out.old);
    }
    if (err == EDDY_OK)
        return eddy__forward_children(task, node, &out);
    return err; /* the deserialization handler decides (eddy__task_process) */
}

static eddy_err send_record(eddy__task *task, const char *topic, const eddy__flow *in)
{
    return task->host->send(task->host->opaque, task, topic, -1, &in->rec);
}

static eddy_err op_sink(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (n->sink_topic == EDDY__NONE) {
        const char *topic = n->extractor(&in->rec, n->opaque);
        if (!topic)
            return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "%s: the topic extractor returned NULL",
                              n->name);
        return send_record(task, topic, in);
    }
    const char *topic = task->topic_names[n->sink_topic];
    if (!in->change || !task->topology->topics[n->sink_topic].internal)
        return send_record(task, topic, in);
    /* A table change into a repartition topic (the encoding is in the file comment). */
    bool both = in->rec.value.data && in->old.data;
    eddy_slice side = in->rec.value.data ? in->rec.value : in->old;
    size_t size = both ? in->rec.value.len + in->old.len + 5 : side.len + 1;
    eddy__capture buf = {0};
    uint8_t *bytes = size <= sizeof buf.inline_bytes ? buf.inline_bytes : eddy__malloc(size);
    if (!bytes)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory encoding a table change");
    if (side.len)
        memcpy(bytes, side.data, side.len);
    if (both) {
        if (in->old.len)
            memcpy(bytes + side.len, in->old.data, in->old.len);
        eddy__be32_put(bytes + side.len + in->old.len, (uint32_t)side.len);
        bytes[size - 1] = CHANGE_FLAG_BOTH;
    } else {
        bytes[size - 1] = in->rec.value.data ? CHANGE_FLAG_NEW : CHANGE_FLAG_OLD;
    }
    eddy__flow out =
        eddy__flow_with(in, in->rec.key, (eddy_slice){bytes, size}, (eddy_slice){0}, false);
    eddy_err err = send_record(task, topic, &out);
    if (bytes != buf.inline_bytes)
        eddy__free(bytes);
    return err;
}

/* Calls a mapper (map, flat-map, their value variants, process) in forwarding mode. */
static eddy_err op_mapper(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    eddy_ctx ctx;
    eddy__ctx_init(&ctx, task, node, in, EDDY__CTX_FORWARD);
    ctx.change = false;
    if (n->op == EDDY__OP_PROCESS)
        n->def.process(&ctx, &in->rec, task->nodes[node].processor_state);
    else
        n->map(&ctx, &in->rec, n->opaque);
    eddy__ctx_done(&ctx);
    return ctx.err;
}

/* Runs a key selector or other single-result callback; *out gets the captured result. */
static eddy_err call_key_fn(eddy__task *task, uint32_t node, eddy_key_fn fn, const eddy__flow *in,
                            eddy_ctx *ctx)
{
    eddy__ctx_init(ctx, task, node, in, EDDY__CTX_RESULT);
    fn(ctx, &in->rec, eddy__node_at(task, node)->opaque);
    return ctx->err;
}

static eddy_err op_select_key(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    eddy_ctx ctx;
    eddy_err err = call_key_fn(task, node, eddy__node_at(task, node)->key, in, &ctx);
    if (err == EDDY_OK) {
        eddy__flow out =
            eddy__flow_with(in, ctx.value.slice, in->rec.value, (eddy_slice){0}, false);
        err = eddy__forward_children(task, node, &out);
    }
    eddy__ctx_done(&ctx);
    return err;
}

static eddy_err op_split(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    for (uint32_t i = 0; i < n->children.count; i++) {
        const eddy__node *branch = eddy__node_at(task, n->children.items[i]);
        if (!branch->predicate || branch->predicate(&in->rec, branch->opaque))
            return eddy__run_node(task, n->children.items[i], in);
    }
    return EDDY_OK;
}

/* Stream aggregations: count, reduce, aggregate (Kafka's KStreamAggregate / KStreamReduce). */
static eddy_err op_stream_aggregate(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (!in->rec.key.data || !in->rec.value.data) {
        EDDY_DEBUG("runtime",
                   "task %s: %s skips a record with a null key or value (offset %" PRId64 ")",
                   task->id, n->name, in->rec.offset);
        return EDDY_OK;
    }
    eddy_kv_store *store = task->stores[n->store];
    eddy_ctx ctx;
    eddy__ctx_init(&ctx, task, node, in, EDDY__CTX_RESULT);
    eddy__capture old = {0};
    eddy_err err = eddy__store_get_copy(store, in->rec.key, &old);
    eddy_slice result = {0};
    uint8_t count_bytes[8];
    if (err == EDDY_OK) {
        switch (n->op) {
        case EDDY__OP_STREAM_COUNT: {
            int64_t count = 0;
            if (old.slice.data && eddy_int64_decode(old.slice, &count) != EDDY_OK)
                count = 0;
            eddy_int64_encode(count + 1, count_bytes);
            result = (eddy_slice){count_bytes, 8};
            break;
        }
        case EDDY__OP_STREAM_REDUCE:
            if (!old.slice.data) {
                result = in->rec.value;
            } else {
                n->reducer(&ctx, old.slice, &in->rec, n->opaque);
                result = ctx.value.slice;
            }
            break;
        default: { /* aggregate */
            eddy_slice agg = old.slice;
            eddy__capture init = {0};
            if (!agg.data) {
                eddy_ctx ictx;
                eddy__ctx_init(&ictx, task, node, in, EDDY__CTX_RESULT);
                n->initializer(&ictx, n->opaque);
                err = ictx.err;
                if (err == EDDY_OK)
                    err = eddy__capture_set(&init, ictx.value.slice);
                eddy__ctx_done(&ictx);
                agg = init.slice;
            }
            if (err == EDDY_OK) {
                n->aggregator(&ctx, &in->rec, agg, n->opaque);
                result = ctx.value.slice;
            }
            eddy__capture_free(&init);
            break;
        }
        }
    }
    if (err == EDDY_OK)
        err = ctx.err;
    if (err == EDDY_OK)
        err = eddy__store_write(store, in->rec.key, result);
    if (err == EDDY_OK && !task->nodes[node].deferred) {
        eddy__flow out =
            eddy__flow_with(in, in->rec.key, result,
                            task->nodes[node].send_old ? old.slice : (eddy_slice){0}, true);
        err = eddy__forward_children(task, node, &out);
    }
    eddy__capture_free(&old);
    eddy__ctx_done(&ctx);
    return err;
}

static eddy_err op_table_source(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (!in->rec.key.data) {
        EDDY_WARN("runtime",
                  "task %s: %s skips a record with a null key (topic %s offset %" PRId64 ")",
                  task->id, n->name, in->rec.topic ? in->rec.topic : "?", in->rec.offset);
        return EDDY_OK;
    }
    if (n->store == EDDY__NONE) {
        eddy__flow out = eddy__flow_with(in, in->rec.key, in->rec.value, (eddy_slice){0}, true);
        return eddy__forward_children(task, node, &out);
    }
    eddy_kv_store *store = task->stores[n->store];
    eddy__capture old = {0};
    eddy_err err = eddy__store_get_copy(store, in->rec.key, &old);
    if (err == EDDY_OK)
        err = eddy__store_write(store, in->rec.key, in->rec.value);
    if (err == EDDY_OK && n->op == EDDY__OP_TABLE_SOURCE && !task->nodes[node].deferred) {
        eddy__flow out =
            eddy__flow_with(in, in->rec.key, in->rec.value,
                            task->nodes[node].send_old ? old.slice : (eddy_slice){0}, true);
        err = eddy__forward_children(task, node, &out);
    }
    eddy__capture_free(&old);
    return err;
}

/* A table filter's verdict on one side of a change (Kafka's KTableFilter.computeValue). */
static eddy_slice filter_side(const eddy__node *n, const eddy__flow *in, eddy_slice value)
{
    if (!value.data)
        return value;
    eddy_record rec = in->rec;
    rec.value = value;
    bool keep = n->predicate(&rec, n->opaque);
    if (n->op == EDDY__OP_TABLE_FILTER_NOT)
        keep = !keep;
    return keep ? value : (eddy_slice){0};
}

static eddy_err op_table_filter(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    bool send_old = task->nodes[node].send_old;
    eddy_slice new_value = filter_side(n, in, in->rec.value);
    eddy_slice old_value = send_old ? filter_side(n, in, in->old) : (eddy_slice){0};
    if (send_old && !new_value.data && !old_value.data)
        return EDDY_OK;
    eddy__flow out = eddy__flow_with(in, in->rec.key, new_value, old_value, true);
    return eddy__forward_children(task, node, &out);
}

/* Maps one side of a change with a value mapper into `into` (null stays null). */
static eddy_err map_value_side(eddy__task *task, uint32_t node, const eddy__flow *in,
                               eddy_slice value, eddy__capture *into)
{
    if (!value.data)
        return eddy__capture_set(into, value);
    const eddy__node *n = eddy__node_at(task, node);
    eddy__flow side = eddy__flow_with(in, in->rec.key, value, (eddy_slice){0}, false);
    eddy_ctx ctx;
    eddy__ctx_init(&ctx, task, node, &side, EDDY__CTX_CAPTURE_VALUE);
    n->map(&ctx, &side.rec, n->opaque);
    eddy_err err = ctx.err;
    if (err == EDDY_OK)
        err = eddy__capture_set(into, ctx.value.slice);
    eddy__ctx_done(&ctx);
    return err;
}

static eddy_err op_table_map_values(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    eddy__capture new_value = {0}, old_value = {0};
    eddy_err err = map_value_side(task, node, in, in->rec.value, &new_value);
    if (err == EDDY_OK && task->nodes[node].send_old)
        err = map_value_side(task, node, in, in->old, &old_value);
    if (err == EDDY_OK) {
        eddy__flow out = eddy__flow_with(in, in->rec.key, new_value.slice, old_value.slice, true);
        err = eddy__forward_children(task, node, &out);
    }
    eddy__capture_free(&new_value);
    eddy__capture_free(&old_value);
    return err;
}

/* A table group-by's mapper on one side: the (key, value) pair it forwards, if any. */
static eddy_err select_side(eddy__task *task, uint32_t node, const eddy__flow *in, eddy_slice value,
                            eddy_ctx *ctx)
{
    eddy__flow side = eddy__flow_with(in, in->rec.key, value, (eddy_slice){0}, false);
    eddy__ctx_init(ctx, task, node, &side, EDDY__CTX_CAPTURE_PAIR);
    if (!value.data)
        return EDDY_OK;
    const eddy__node *n = eddy__node_at(task, node);
    n->map(ctx, &side.rec, n->opaque);
    return ctx->err;
}

/* Kafka's KTableRepartitionMap: the old pair (subtract) first, then the new one (add); a pair
 * whose key or value is null is skipped. When both pairs have the same key, one change carries
 * both values, so the aggregation subtracts and adds in one step and emits once (KIP-904). */
static eddy_err op_table_select(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    if (!in->rec.key.data)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "%s: the key of a row of the grouped table is null",
                          eddy__node_at(task, node)->name);
    eddy_ctx new_pair, old_pair;
    eddy_err err = select_side(task, node, in, in->rec.value, &new_pair);
    if (err == EDDY_OK)
        err = select_side(task, node, in, in->old, &old_pair);
    else
        eddy__ctx_init(&old_pair, task, node, in, EDDY__CTX_CAPTURE_PAIR);
    bool has_old = old_pair.key.slice.data && old_pair.value.slice.data;
    bool has_new = new_pair.key.slice.data && new_pair.value.slice.data;
    if (err == EDDY_OK && has_old && has_new &&
        eddy__kv_compare(old_pair.key.slice.data, old_pair.key.slice.len, new_pair.key.slice.data,
                         new_pair.key.slice.len) == 0) {
        eddy__flow out = eddy__flow_with(in, new_pair.key.slice, new_pair.value.slice,
                                         old_pair.value.slice, true);
        err = eddy__forward_children(task, node, &out);
        has_old = has_new = false;
    }
    if (err == EDDY_OK && has_old) {
        eddy__flow out =
            eddy__flow_with(in, old_pair.key.slice, (eddy_slice){0}, old_pair.value.slice, true);
        err = eddy__forward_children(task, node, &out);
    }
    if (err == EDDY_OK && has_new) {
        eddy__flow out =
            eddy__flow_with(in, new_pair.key.slice, new_pair.value.slice, (eddy_slice){0}, true);
        err = eddy__forward_children(task, node, &out);
    }
    eddy__ctx_done(&new_pair);
    eddy__ctx_done(&old_pair);
    return err;
}

/* One step of a table aggregation: adder or subtractor (count: +1 / -1). */
static eddy_err table_aggregate_step(eddy__task *task, uint32_t node, const eddy__flow *in,
                                     eddy_slice value, eddy_slice agg, bool add,
                                     eddy__capture *into)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (n->op == EDDY__OP_TABLE_COUNT) {
        int64_t count = 0;
        if (agg.data && eddy_int64_decode(agg, &count) != EDDY_OK)
            count = 0;
        uint8_t bytes[8];
        eddy_int64_encode(count + (add ? 1 : -1), bytes);
        return eddy__capture_set(into, (eddy_slice){bytes, 8});
    }
    eddy_record rec = in->rec;
    rec.value = value;
    eddy__flow side = eddy__flow_with(in, in->rec.key, value, (eddy_slice){0}, false);
    eddy_ctx ctx;
    eddy__ctx_init(&ctx, task, node, &side, EDDY__CTX_RESULT);
    if (n->op == EDDY__OP_TABLE_REDUCE)
        (add ? n->reducer : n->reducer_subtractor)(&ctx, agg, &rec, n->opaque);
    else
        (add ? n->aggregator : n->subtractor)(&ctx, &rec, agg, n->opaque);
    eddy_err err = ctx.err;
    if (err == EDDY_OK)
        err = eddy__capture_set(into, ctx.value.slice);
    eddy__ctx_done(&ctx);
    return err;
}

static eddy_err table_initial(eddy__task *task, uint32_t node, const eddy__flow *in,
                              eddy__capture *into)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (n->op == EDDY__OP_TABLE_COUNT) {
        uint8_t zero[8];
        eddy_int64_encode(0, zero);
        return eddy__capture_set(into, (eddy_slice){zero, 8});
    }
    eddy_ctx ctx;
    eddy__ctx_init(&ctx, task, node, in, EDDY__CTX_RESULT);
    n->initializer(&ctx, n->opaque);
    eddy_err err = ctx.err;
    if (err == EDDY_OK)
        err = eddy__capture_set(into, ctx.value.slice);
    eddy__ctx_done(&ctx);
    return err;
}

/* Kafka's KTableAggregate / KTableReduce: subtract the old value, then add the new one. */
static eddy_err op_table_aggregate(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (!in->rec.key.data)
        return EDDY_OK;
    eddy_kv_store *store = task->stores[n->store];
    eddy__capture old = {0}, mid = {0}, init = {0}, result = {0};
    eddy_err err = eddy__store_get_copy(store, in->rec.key, &old);
    eddy_slice agg = old.slice;
    if (err == EDDY_OK && in->old.data && agg.data) {
        err = table_aggregate_step(task, node, in, in->old, agg, false, &mid);
        agg = mid.slice;
    }
    if (err == EDDY_OK && in->rec.value.data) {
        if (!agg.data && n->op == EDDY__OP_TABLE_REDUCE) {
            err = eddy__capture_set(&result, in->rec.value);
        } else {
            if (!agg.data) {
                err = table_initial(task, node, in, &init);
                agg = init.slice;
            }
            if (err == EDDY_OK)
                err = table_aggregate_step(task, node, in, in->rec.value, agg, true, &result);
        }
        agg = result.slice;
    }
    if (err == EDDY_OK)
        err = eddy__store_write(store, in->rec.key, agg);
    if (err == EDDY_OK && !task->nodes[node].deferred) {
        eddy__flow out = eddy__flow_with(
            in, in->rec.key, agg, task->nodes[node].send_old ? old.slice : (eddy_slice){0}, true);
        err = eddy__forward_children(task, node, &out);
    }
    eddy__capture_free(&old);
    eddy__capture_free(&mid);
    eddy__capture_free(&init);
    eddy__capture_free(&result);
    return err;
}

static eddy_err op_table_to_stream(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    eddy__flow out = eddy__flow_with(in, in->rec.key, in->rec.value, (eddy_slice){0}, false);
    return eddy__forward_children(task, node, &out);
}

/* The value a table's getter gives for `key` (Kafka's KTableValueGetter): the store's value,
 * then the unmaterialized filters and map-values between the store and the table. */
/* Whether a time or sliding window aggregation owns the store: its values carry a timestamp
 * prefix (Kafka's timestamped window store). */
static bool store_is_timestamped(const eddy__topology *t, uint32_t store)
{
    for (uint32_t i = 0; i < t->node_count; i++)
        if (t->nodes[i].store == store && (t->nodes[i].op == EDDY__OP_SLIDING_AGGREGATE ||
                                           t->nodes[i].op == EDDY__OP_WINDOW_AGGREGATE))
            return true;
    return false;
}

eddy_err eddy__table_get(eddy__task *task, uint32_t table_node, uint32_t store,
                         const eddy__flow *in, eddy__capture *into)
{
    uint32_t chain[64];
    uint32_t depth = 0;
    for (uint32_t n = table_node; n != EDDY__NONE && depth < 64;) {
        const eddy__node *node = eddy__node_at(task, n);
        if (node->store == store || node->op == EDDY__OP_TABLE_SOURCE ||
            (node->op != EDDY__OP_TABLE_FILTER && node->op != EDDY__OP_TABLE_FILTER_NOT &&
             node->op != EDDY__OP_TABLE_MAP_VALUES))
            break;
        chain[depth++] = n;
        n = node->parents.items[0];
    }
    eddy_err err = eddy__store_get_copy(task->stores[store], in->rec.key, into);
    if (err == EDDY_OK && into->slice.data && store_is_timestamped(task->topology, store)) {
        int64_t time_ms;
        err = eddy__sliding_value(into->slice, &into->slice, &time_ms);
    }
    while (err == EDDY_OK && depth > 0 && into->slice.data) {
        uint32_t n = chain[--depth];
        const eddy__node *node = eddy__node_at(task, n);
        if (node->op == EDDY__OP_TABLE_MAP_VALUES) {
            eddy__capture mapped = {0};
            err = map_value_side(task, n, in, into->slice, &mapped);
            if (err == EDDY_OK)
                err = eddy__capture_set(into, mapped.slice);
            eddy__capture_free(&mapped);
        } else {
            into->slice = filter_side(node, in, into->slice);
        }
    }
    return err;
}

static eddy_err join_emit(eddy__task *task, uint32_t node, const eddy__flow *in, eddy_slice right)
{
    const eddy__node *n = eddy__node_at(task, node);
    eddy_ctx ctx;
    eddy__ctx_init(&ctx, task, node, in, EDDY__CTX_RESULT);
    n->joiner(&ctx, &in->rec, right, n->opaque);
    eddy_err err = ctx.err;
    /* No result is a null joined value, forwarded as Kafka forwards a ValueJoiner's null. */
    if (err == EDDY_OK) {
        eddy__flow out = eddy__flow_with(in, in->rec.key, ctx.value.slice, (eddy_slice){0}, false);
        err = eddy__forward_children(task, node, &out);
    }
    eddy__ctx_done(&ctx);
    return err;
}

static eddy_err op_join_table(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    bool left = n->op == EDDY__OP_LEFT_JOIN_TABLE;
    if (!in->rec.value.data || (!in->rec.key.data && !left))
        return EDDY_OK;
    eddy__capture right = {0};
    eddy_err err = EDDY_OK;
    if (in->rec.key.data)
        err = eddy__table_get(task, n->join_table, n->join_store, in, &right);
    if (err == EDDY_OK && (right.slice.data || left))
        err = join_emit(task, node, in, right.slice);
    eddy__capture_free(&right);
    return err;
}

static eddy_err op_join_global(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    bool left = n->op == EDDY__OP_LEFT_JOIN_GLOBAL;
    if (!in->rec.value.data)
        return EDDY_OK;
    eddy_ctx kctx;
    eddy_err err = call_key_fn(task, node, n->key, in, &kctx);
    eddy__capture right = {0};
    if (err == EDDY_OK && kctx.value.slice.data)
        err = eddy__store_get_copy(task->stores[n->join_store], kctx.value.slice, &right);
    if (err == EDDY_OK && (right.slice.data || left))
        err = join_emit(task, node, in, right.slice);
    eddy__capture_free(&right);
    eddy__ctx_done(&kctx);
    return err;
}

eddy_err eddy__run_node(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    switch (n->op) {
    case EDDY__OP_SOURCE:
        return op_source(task, node, in);
    case EDDY__OP_SINK:
        return op_sink(task, node, in);
    case EDDY__OP_FILTER:
    case EDDY__OP_FILTER_NOT: {
        bool keep = n->predicate(&in->rec, n->opaque);
        if (keep != (n->op == EDDY__OP_FILTER))
            return EDDY_OK;
        return eddy__forward_children(task, node, in);
    }
    case EDDY__OP_MAP:
    case EDDY__OP_MAP_VALUES:
    case EDDY__OP_FLAT_MAP:
    case EDDY__OP_FLAT_MAP_VALUES:
    case EDDY__OP_PROCESS:
        return op_mapper(task, node, in);
    case EDDY__OP_SELECT_KEY:
        return op_select_key(task, node, in);
    case EDDY__OP_PEEK:
        n->action(&in->rec, n->opaque);
        return eddy__forward_children(task, node, in);
    case EDDY__OP_FOREACH:
        n->action(&in->rec, n->opaque);
        return EDDY_OK;
    case EDDY__OP_MERGE:
    case EDDY__OP_BRANCH:
        return eddy__forward_children(task, node, in);
    case EDDY__OP_REPARTITION_FILTER:
        /* Kafka drops null keys before a repartition topic. */
        return in->rec.key.data ? eddy__forward_children(task, node, in) : EDDY_OK;
    case EDDY__OP_SPLIT:
        return op_split(task, node, in);
    case EDDY__OP_STREAM_COUNT:
    case EDDY__OP_STREAM_REDUCE:
    case EDDY__OP_STREAM_AGGREGATE:
        return op_stream_aggregate(task, node, in);
    case EDDY__OP_TABLE_SOURCE:
    case EDDY__OP_GLOBAL_TABLE_SOURCE:
        return op_table_source(task, node, in);
    case EDDY__OP_TABLE_FILTER:
    case EDDY__OP_TABLE_FILTER_NOT:
        return op_table_filter(task, node, in);
    case EDDY__OP_TABLE_MAP_VALUES:
        return op_table_map_values(task, node, in);
    case EDDY__OP_TABLE_TO_STREAM:
        return op_table_to_stream(task, node, in);
    case EDDY__OP_TABLE_SELECT:
        return op_table_select(task, node, in);
    case EDDY__OP_TABLE_COUNT:
    case EDDY__OP_TABLE_REDUCE:
    case EDDY__OP_TABLE_AGGREGATE:
        return op_table_aggregate(task, node, in);
    case EDDY__OP_JOIN_TABLE:
    case EDDY__OP_LEFT_JOIN_TABLE:
        return op_join_table(task, node, in);
    case EDDY__OP_JOIN_GLOBAL:
    case EDDY__OP_LEFT_JOIN_GLOBAL:
        return op_join_global(task, node, in);
    case EDDY__OP_WINDOW_AGGREGATE:
        return eddy__op_window_aggregate(task, node, in);
    case EDDY__OP_SLIDING_AGGREGATE:
        return eddy__op_sliding_aggregate(task, node, in);
    case EDDY__OP_SESSION_AGGREGATE:
        return eddy__op_session_aggregate(task, node, in);
    case EDDY__OP_SUPPRESS:
        return eddy__op_suppress(task, node, in);
    case EDDY__OP_STREAM_JOIN_WINDOW:
        return eddy__op_stream_join_window(task, node, in);
    case EDDY__OP_STREAM_JOIN_THIS:
    case EDDY__OP_STREAM_JOIN_OTHER:
        return eddy__op_stream_join(task, node, in);
    case EDDY__OP_TABLE_JOIN_THIS:
    case EDDY__OP_TABLE_JOIN_OTHER:
        return eddy__op_table_join(task, node, in);
    case EDDY__OP_COGROUP_AGGREGATE:
        return eddy__op_cogroup_aggregate(task, node, in);
    case EDDY__OP_FK_SUBSCRIPTION_SEND:
        return eddy__op_fk_subscription_send(task, node, in);
    case EDDY__OP_FK_SUBSCRIPTION_RECEIVE:
        return eddy__op_fk_subscription_receive(task, node, in);
    case EDDY__OP_FK_SUBSCRIPTION_JOIN:
        return eddy__op_fk_subscription_join(task, node, in);
    case EDDY__OP_FK_FOREIGN_JOIN:
        return eddy__op_fk_foreign_join(task, node, in);
    case EDDY__OP_FK_RESPONSE_JOIN:
        return eddy__op_fk_response_join(task, node, in);
    }
    return eddy__fail(EDDY_ERR_STATE, "processor %s has an unknown operator", n->name);
}

/* ---- Construction --------------------------------------------------------------------------- */

static bool op_is_table_aggregation(eddy__op op)
{
    return op == EDDY__OP_TABLE_COUNT || op == EDDY__OP_TABLE_REDUCE ||
           op == EDDY__OP_TABLE_AGGREGATE;
}

static bool needs_old_values(const eddy__topology *t, uint32_t node, uint32_t depth);

bool eddy__store_owner_sends_old(const eddy__topology *topology, uint32_t store)
{
    for (uint32_t i = 0; i < topology->node_count; i++)
        if (topology->nodes[i].store == store && needs_old_values(topology, i, 0))
            return true;
    return false;
}

/* Whether `node` must send old values: a child that subtracts them (a table group-by), or a
 * pass-through table operator that must. */
static bool needs_old_values(const eddy__topology *t, uint32_t node, uint32_t depth)
{
    const eddy__node *n = &t->nodes[node];
    if (depth > t->node_count)
        return false;
    for (uint32_t i = 0; i < n->children.count; i++) {
        const eddy__node *c = &t->nodes[n->children.items[i]];
        /* A table group-by subtracts old values; Kafka's suppression always asks for them. */
        if (c->op == EDDY__OP_TABLE_SELECT || c->op == EDDY__OP_SUPPRESS ||
            eddy__table_join_needs_old(t, n->children.items[i]) ||
            eddy__fk_needs_old(t, n->children.items[i]))
            return true;
        /* A MERGE passes on what it gets (a table-table join's or a cogroup's), and a
         * table-table join side joins the old values it gets into the old values it sends. */
        if ((c->op == EDDY__OP_TABLE_FILTER || c->op == EDDY__OP_TABLE_FILTER_NOT ||
             c->op == EDDY__OP_TABLE_MAP_VALUES || c->op == EDDY__OP_MERGE ||
             c->op == EDDY__OP_TABLE_JOIN_THIS || c->op == EDDY__OP_TABLE_JOIN_OTHER) &&
            needs_old_values(t, n->children.items[i], depth + 1))
            return true;
    }
    return false;
}

static bool op_forwards_store_changes(eddy__op op)
{
    return op == EDDY__OP_STREAM_COUNT || op == EDDY__OP_STREAM_REDUCE ||
           op == EDDY__OP_STREAM_AGGREGATE || op == EDDY__OP_TABLE_SOURCE ||
           op == EDDY__OP_COGROUP_AGGREGATE || op == EDDY__OP_WINDOW_AGGREGATE ||
           op == EDDY__OP_SLIDING_AGGREGATE || op == EDDY__OP_SESSION_AGGREGATE ||
           op_is_table_aggregation(op);
}

bool eddy__store_forwards_changes(const eddy__topology *topology, uint32_t store)
{
    for (uint32_t i = 0; i < topology->node_count; i++)
        if (topology->nodes[i].store == store && op_forwards_store_changes(topology->nodes[i].op))
            return true;
    return false;
}

static eddy_err task_prepare_nodes(eddy__task *task)
{
    const eddy__topology *t = task->topology;
    const eddy__subtopology *sub = &t->subtopologies[task->subtopology];
    for (uint32_t i = 0; i < sub->nodes.count; i++) {
        uint32_t node = sub->nodes.items[i];
        const eddy__node *n = &t->nodes[node];
        task->nodes[node].send_old = needs_old_values(t, node, 0);
        if (n->op == EDDY__OP_SOURCE) {
            for (uint32_t c = 0; c < n->children.count; c++)
                if (op_is_table_aggregation(t->nodes[n->children.items[c]].op))
                    task->nodes[node].carries_changes = true;
        }
        for (uint32_t s = 0; s < n->stores.count; s++) {
            uint32_t store = n->stores.items[s];
            if (task->stores[store])
                continue;
            eddy_err err =
                task->host->open_store(task->host->opaque, task, store, &task->stores[store]);
            if (err != EDDY_OK)
                return err;
        }
        uint32_t extra[2] = {n->store, n->join_store};
        for (int s = 0; s < 2; s++) {
            if (extra[s] == EDDY__NONE || task->stores[extra[s]])
                continue;
            eddy_err err =
                task->host->open_store(task->host->opaque, task, extra[s], &task->stores[extra[s]]);
            if (err != EDDY_OK)
                return err;
        }
        task->nodes[node].deferred =
            n->store != EDDY__NONE && op_forwards_store_changes(n->op) &&
            task->host->forwards_on_flush &&
            task->host->forwards_on_flush(task->host->opaque, task, n->store);
    }
    return EDDY_OK;
}

static eddy_err task_init_processors(eddy__task *task)
{
    const eddy__topology *t = task->topology;
    const eddy__subtopology *sub = &t->subtopologies[task->subtopology];
    for (uint32_t i = 0; i < sub->nodes.count; i++) {
        uint32_t node = sub->nodes.items[i];
        const eddy__node *n = &t->nodes[node];
        if (n->op != EDDY__OP_PROCESS)
            continue;
        eddy__node_state *state = &task->nodes[node];
        state->processor_state = n->def.opaque;
        if (n->def.init) {
            eddy_ctx ctx;
            eddy__ctx_init(&ctx, task, node, NULL, EDDY__CTX_INIT);
            eddy_err err = n->def.init(&ctx, n->def.opaque, &state->processor_state);
            eddy__ctx_done(&ctx);
            if (err != EDDY_OK)
                return eddy__fail(err, "task %s: the init of processor %s failed: %s", task->id,
                                  n->name, eddy_last_error());
        }
        state->initialized = true;
    }
    return EDDY_OK;
}

eddy_err eddy__task_new(const eddy__task_host *host, uint32_t subtopology, int32_t partition,
                        eddy__task **out)
{
    *out = NULL;
    const eddy__topology *t = host->topology;
    eddy__task *task = eddy__calloc(1, sizeof *task);
    if (!task)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory making a task");
    task->host = host;
    task->topology = t;
    task->subtopology = subtopology;
    task->partition = partition;
    task->stream_time = -1;
    if (t->subtopologies[subtopology].global)
        snprintf(task->id, sizeof task->id, "global");
    else
        snprintf(task->id, sizeof task->id, "%" PRId32 "_%" PRId32,
                 t->subtopologies[subtopology].id, partition);
    task->nodes = eddy__calloc(t->node_count ? t->node_count : 1, sizeof *task->nodes);
    task->stores = eddy__calloc(t->store_count ? t->store_count : 1, sizeof *task->stores);
    task->topic_names = eddy__calloc(t->topic_count ? t->topic_count : 1, sizeof(char *));
    eddy_err err = EDDY_OK;
    if (!task->nodes || !task->stores || !task->topic_names)
        err = eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory making task %s", task->id);
    for (uint32_t i = 0; err == EDDY_OK && i < t->topic_count; i++) {
        char name[512];
        eddy__topic_full_name(&t->topics[i], host->application_id, name, sizeof name);
        task->topic_names[i] = eddy__strdup(name);
        if (!task->topic_names[i])
            err = eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory making task %s", task->id);
    }
    if (err == EDDY_OK)
        err = task_prepare_nodes(task);
    if (err == EDDY_OK)
        err = task_init_processors(task);
    if (err != EDDY_OK) {
        eddy__task_destroy(task);
        return err;
    }
    *out = task;
    return EDDY_OK;
}

void eddy__task_destroy(eddy__task *task)
{
    if (!task)
        return;
    const eddy__topology *t = task->topology;
    if (task->nodes) {
        for (uint32_t i = 0; i < t->node_count; i++) {
            const eddy__node *n = &t->nodes[i];
            if (n->op == EDDY__OP_PROCESS && task->nodes[i].initialized && n->def.close)
                n->def.close(task->nodes[i].processor_state, n->def.opaque);
        }
    }
    if (task->topic_names)
        for (uint32_t i = 0; i < t->topic_count; i++)
            eddy__free(task->topic_names[i]);
    eddy__free(task->topic_names);
    eddy__free(task->nodes);
    eddy__free(task->stores);
    eddy__free(task->punctuations);
    eddy__free(task);
}

/* ---- Processing ----------------------------------------------------------------------------- */

static uint32_t source_for_topic(eddy__task *task, const char *topic)
{
    if (topic == task->last_topic) /* the same string as the previous record's */
        return task->last_source;
    const eddy__topology *t = task->topology;
    const eddy__subtopology *sub = &t->subtopologies[task->subtopology];
    for (uint32_t i = 0; i < sub->nodes.count; i++) {
        const eddy__node *n = &t->nodes[sub->nodes.items[i]];
        if (n->op != EDDY__OP_SOURCE)
            continue;
        for (uint32_t k = 0; k < n->topics.count; k++)
            if (strcmp(task->topic_names[n->topics.items[k]], topic) == 0) {
                task->last_topic = topic;
                task->last_source = sub->nodes.items[i];
                return sub->nodes.items[i];
            }
    }
    return EDDY__NONE;
}

/* Sends a record that could not be deserialized to the dead-letter topic, with headers saying
 * why and where it came from (Kafka's KIP-1034 headers). */
static eddy_err send_dead_letter(eddy__task *task, const eddy_record *rec, const char *why)
{
    char partition[16], offset[24];
    snprintf(partition, sizeof partition, "%" PRId32, rec->partition);
    snprintf(offset, sizeof offset, "%" PRId64, rec->offset);
    eddy_header headers[4] = {
        {eddy__str_slice("__streams.errors.exception"), eddy__str_slice(why)},
        {eddy__str_slice("__streams.errors.topic"), eddy__str_slice(rec->topic)},
        {eddy__str_slice("__streams.errors.partition"), eddy__str_slice(partition)},
        {eddy__str_slice("__streams.errors.offset"), eddy__str_slice(offset)},
    };
    eddy_record dead = *rec;
    dead.headers = headers;
    dead.header_count = 4;
    return task->host->send(task->host->opaque, task, task->host->dlq_topic, -1, &dead);
}

static eddy_err handle_deserialization_error(eddy__task *task, const eddy_record *rec, eddy_err err)
{
    char why[512];
    snprintf(why, sizeof why, "%s", eddy_last_error());
    switch (task->host->deser_handler) {
    case EDDY__DESER_CONTINUE:
        EDDY_WARN("runtime",
                  "task %s: skipping a record that cannot be deserialized at topic %s partition "
                  "%" PRId32 " offset %" PRId64 ": %s",
                  task->id, rec->topic, rec->partition, rec->offset, why);
        eddy__task_count_dropped(task, &task->stats.skipped_deserialize);
        return EDDY_OK;
    case EDDY__DESER_DLQ:
        EDDY_WARN("runtime",
                  "task %s: sending a record that cannot be deserialized at topic %s partition "
                  "%" PRId32 " offset %" PRId64 " to %s: %s",
                  task->id, rec->topic, rec->partition, rec->offset, task->host->dlq_topic, why);
        eddy__task_count_dropped(task, &task->stats.skipped_deserialize);
        err = send_dead_letter(task, rec, why);
        if (err == EDDY_OK)
            return EDDY_OK;
        return eddy__task_fail(task, rec, err, "writing to the dead-letter topic");
    default:
        return eddy__task_fail(task, rec, err, "deserialization failed");
    }
}

static eddy_err punctuate(eddy__task *task, eddy_punctuation_type type, int64_t now)
{
    for (uint32_t i = 0; i < task->punctuation_count; i++) {
        punctuation *p = &task->punctuations[i];
        if (p->type != type || p->next_ms > now)
            continue;
        /* Kafka's PunctuationSchedule.next: skip missed intervals, fire once. */
        int64_t next = p->next_ms + p->interval_ms;
        if (now >= next)
            next = p->next_ms + ((now - p->next_ms) / p->interval_ms + 1) * p->interval_ms;
        p->next_ms = next;
        eddy__flow none = {0};
        none.rec.timestamp_ms = now;
        none.rec.offset = -1;
        none.rec.partition = task->partition;
        eddy_ctx ctx;
        eddy__ctx_init(&ctx, task, p->node, &none, EDDY__CTX_FORWARD);
        p->fn(&ctx, now, p->state);
        eddy__ctx_done(&ctx);
        if (ctx.err != EDDY_OK)
            return eddy__task_fail(task, NULL, ctx.err, "punctuation failed");
    }
    return EDDY_OK;
}

/* The record's event time: the topology's extractor, else the configured built-in one
 * (Kafka's semantics for each; a negative result makes the caller skip the record). */
static eddy_err extract_timestamp(eddy__task *task, const eddy_record *record, int64_t *out)
{
    const eddy__topology *t = task->topology;
    if (t->timestamp_extractor) {
        *out = t->timestamp_extractor(record, task->stream_time, t->timestamp_opaque);
        return EDDY_OK;
    }
    *out = record->timestamp_ms;
    switch (task->host->timestamp_mode) {
    case EDDY__TIMESTAMP_WALL_CLOCK:
        *out = task->host->wall_clock_ms(task->host->opaque);
        return EDDY_OK;
    case EDDY__TIMESTAMP_PARTITION_TIME:
        if (*out < 0) {
            if (task->stream_time < 0)
                return eddy__task_fail(task, record,
                                       eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                                                  "invalid timestamp %" PRId64
                                                  " and no partition time yet",
                                                  record->timestamp_ms),
                                       "extracting the timestamp");
            *out = task->stream_time;
        }
        return EDDY_OK;
    case EDDY__TIMESTAMP_SKIP_ON_INVALID:
        return EDDY_OK;
    default:
        if (*out >= 0)
            return EDDY_OK;
        eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                   "invalid (negative) timestamp %" PRId64 " (FailOnInvalidTimestamp; set "
                   "default.timestamp.extractor to skip such records)",
                   record->timestamp_ms);
        return eddy__task_fail(task, record, EDDY_ERR_INVALID_ARGUMENT, "extracting the timestamp");
    }
}

int64_t eddy__task_timestamp_of(const eddy__task *task, const eddy_record *record)
{
    const eddy__topology *t = task->topology;
    if (t->timestamp_extractor)
        return t->timestamp_extractor(record, task->stream_time, t->timestamp_opaque);
    if (task->host->timestamp_mode == EDDY__TIMESTAMP_WALL_CLOCK)
        return task->host->wall_clock_ms(task->host->opaque);
    return record->timestamp_ms;
}

eddy_err eddy__task_process(eddy__task *task, const eddy_record *record)
{
    if (task->failed)
        return eddy__fail(EDDY_ERR_STATE, "%s", task->error);
    uint32_t source = source_for_topic(task, record->topic);
    if (source == EDDY__NONE)
        return eddy__fail(EDDY_ERR_UNKNOWN_TOPIC, "task %s reads no topic %s", task->id,
                          record->topic);
    task->stats.processed++;
    eddy__flow in = {.rec = *record};
    eddy_err err = extract_timestamp(task, record, &in.rec.timestamp_ms);
    if (err != EDDY_OK)
        return err;
    if (in.rec.timestamp_ms < 0) {
        eddy__task_count_dropped(task, &task->stats.skipped_timestamp);
        EDDY_WARN("runtime",
                  "task %s: skipping a record with the invalid timestamp %" PRId64
                  " at topic %s partition %" PRId32 " offset %" PRId64,
                  task->id, in.rec.timestamp_ms, record->topic, record->partition, record->offset);
        return EDDY_OK;
    }
    if (in.rec.timestamp_ms > task->stream_time)
        task->stream_time = in.rec.timestamp_ms;
    err = eddy__run_node(task, source, &in);
    if (err == EDDY_ERR_SERIALIZATION)
        err = handle_deserialization_error(task, record, err);
    else if (err != EDDY_OK && !task->failed) {
        if (task->host->processing_continue && !error_is_fatal(err)) {
            EDDY_WARN("runtime",
                      "task %s: skipping a record whose processing failed at topic %s partition "
                      "%" PRId32 " offset %" PRId64 ": %s",
                      task->id, record->topic, record->partition, record->offset,
                      eddy_last_error());
            eddy__task_count_dropped(task, &task->stats.skipped_processing);
            err = EDDY_OK;
        } else {
            err = eddy__task_fail(task, record, err, "processing failed");
        }
    }
    if (err != EDDY_OK)
        return err;
    return punctuate(task, EDDY_PUNCTUATE_STREAM_TIME, task->stream_time);
}

eddy_kv_store *eddy__task_expiry_store(eddy__task *task, uint32_t store)
{
    eddy_kv_store *view =
        task->host->expiry_store ? task->host->expiry_store(task->host->opaque, task, store) : NULL;
    return view ? view : task->stores[store];
}

void eddy__task_count_dropped(eddy__task *task, uint64_t *counter)
{
    (*counter)++;
    if (task->host->dropped_records)
        atomic_fetch_add(task->host->dropped_records, 1);
}

eddy_err eddy__task_store_flushed(eddy__task *task, uint32_t store, eddy_slice key,
                                  eddy_slice new_value, eddy_slice old_value, int64_t timestamp_ms)
{
    if (task->failed)
        return eddy__fail(EDDY_ERR_STATE, "%s", task->error);
    const eddy__topology *t = task->topology;
    const eddy__subtopology *sub = &t->subtopologies[task->subtopology];
    uint32_t from = task->flushed_store == store ? task->flushed_at : 0;
    for (uint32_t i = from; i < sub->nodes.count; i++) {
        uint32_t node = sub->nodes.items[i];
        if (t->nodes[node].store != store || !task->nodes[node].deferred)
            continue;
        task->flushed_store = store; /* a flush reports many changes of one store */
        task->flushed_at = i;
        if (t->nodes[node].op == EDDY__OP_SLIDING_AGGREGATE ||
            t->nodes[node].op == EDDY__OP_WINDOW_AGGREGATE) {
            /* Time and sliding windows store [latest record timestamp][aggregate]: forward the
             * aggregate, timestamped by that record. */
            int64_t new_time = timestamp_ms, old_time = 0;
            eddy_err err = eddy__sliding_value(new_value, &new_value, &new_time);
            if (err == EDDY_OK)
                err = eddy__sliding_value(old_value, &old_value, &old_time);
            if (err != EDDY_OK)
                return eddy__task_fail(task, NULL, err, "forwarding a cached change");
            if (new_value.data)
                timestamp_ms = new_time;
        } else if (t->nodes[node].op == EDDY__OP_SESSION_AGGREGATE) {
            /* Kafka forwards a session's changes at the session's end. */
            eddy_slice record_key;
            int64_t start_ms, end_ms;
            if (eddy__session_key_split(key, &record_key, &start_ms, &end_ms) == EDDY_OK)
                timestamp_ms = end_ms;
        }
        eddy__flow out = {0};
        out.rec.key = key;
        out.rec.value = new_value;
        out.rec.timestamp_ms = timestamp_ms;
        out.rec.partition = task->partition;
        out.rec.offset = -1;
        out.old = task->nodes[node].send_old ? old_value : (eddy_slice){0};
        out.change = true;
        eddy_err err = eddy__forward_children(task, node, &out);
        if (err != EDDY_OK)
            return eddy__task_fail(task, NULL, err, "forwarding a cached change");
        return EDDY_OK;
    }
    return EDDY_OK;
}

eddy_err eddy__task_punctuate_wall_clock(eddy__task *task, int64_t now_ms)
{
    if (task->failed)
        return eddy__fail(EDDY_ERR_STATE, "%s", task->error);
    return punctuate(task, EDDY_PUNCTUATE_WALL_CLOCK_TIME, now_ms);
}

int64_t eddy__task_stream_time(const eddy__task *task)
{
    return task->stream_time;
}

const char *eddy__task_id(const eddy__task *task)
{
    return task->id;
}

uint32_t eddy__task_subtopology(const eddy__task *task)
{
    return task->subtopology;
}

int32_t eddy__task_partition(const eddy__task *task)
{
    return task->partition;
}

const char *eddy__task_error(const eddy__task *task)
{
    return task->error;
}

const eddy__task_stats *eddy__task_stats_get(const eddy__task *task)
{
    return &task->stats;
}

uint32_t eddy__subtopology_source_topics(const eddy__topology *topology, uint32_t subtopology,
                                         const char *application_id, char names[][256],
                                         uint32_t max)
{
    const eddy__subtopology *sub = &topology->subtopologies[subtopology];
    for (uint32_t i = 0; i < sub->source_topics.count && i < max; i++)
        eddy__topic_full_name(&topology->topics[sub->source_topics.items[i]], application_id,
                              names[i], 256);
    return sub->source_topics.count;
}
