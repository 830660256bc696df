/* Windowed aggregations and suppression: Kafka Streams' KStreamWindowAggregate (time windows,
 * tumbling and hopping), KStreamSlidingWindowAggregate, KStreamSessionWindowAggregate and
 * KTableSuppressProcessor, rule for rule (Kafka 3.9's source is the reference; where eddy must
 * differ, the comment at that place says so).
 *
 * Time. Like Kafka, each of these processors keeps its own observed stream time: the largest
 * timestamp of the records that reached it (task->nodes[node].observed_ms), not the task's
 * stream time, which a record filtered out upstream also moves. It lives in memory and starts
 * again after a restart, as Kafka's does.
 *
 * Late records. Time windows: a window is updated only while end > observed - grace. Sliding
 * windows [start, start + d] (both ends inclusive): while end >= observed - grace. Sessions: a
 * record is dropped when its merged session ends before observed - grace - gap (Kafka 3.0+,
 * KAFKA-12718). Each window a record is not added to counts once in task->stats.dropped_late
 * (Kafka's dropped-records sensor) and is logged at debug level.
 *
 * Null keys and values, as Kafka: time and session windows skip records with a null key only
 * (a null value is aggregated: a windowed count counts it); sliding windows skip a null key or
 * value.
 *
 * Output. A change (new aggregate, old aggregate) keyed by the windowed key (windows.h), with
 * the old value only when a descendant needs it. A new window's old value is the initializer's
 * result (0 for counts), as Kafka forwards it. Timestamps: time windows forward the record's
 * timestamp (Kafka forwards max(record, window's latest) from its timestamped store; eddy's
 * window store holds the aggregate alone); sliding windows forward the window's latest record
 * timestamp, as Kafka; sessions the session end, as Kafka. When the store's record cache
 * forwards changes on flush (task->nodes[node].deferred), the processors do not.
 *
 * Sliding-window store values. The sliding algorithm needs each window's latest record
 * timestamp (Kafka's ValueAndTimestamp), so its window store values are
 *
 *     [latest record timestamp, 8 bytes big-endian][aggregate]
 *
 * (Kafka's timestamped-store byte order). Time-window and session stores hold the aggregate
 * alone.
 *
 * Retention. Kafka's window and session stores hide and drop windows (sessions: by end) older
 * than observed - retention + 1. eddy drops them with eddy__window_expire() each time the
 * processor's observed time enters a new segment interval (Kafka's max(retention / 2, 60 s)),
 * so they may linger up to one interval longer; session lookups also skip expired sessions,
 * as Kafka's store does, so merges never see them. (Sliding lookups do not: Kafka's store
 * hides windows by its own latest window start, which eddy does not track; it only matters for
 * a record at the very edge of the grace period.)
 *
 * Suppression buffer. KTableSuppressProcessor's buffer (Kafka's
 * InMemoryTimeOrderedKeyValueChangeBuffer) lives in the node's key-value store, which the
 * runtime logs to a changelog like any store, so a restart restores it. Three kinds of keys,
 * told apart by their first byte:
 *
 *     key                                   value
 *     0x00                                  [records 8][bytes 8]        totals, for the bounds
 *     0x01 [buffer time 8][record key]      empty                       the time index
 *     0x02 [record key]                     [buffer time 8][entry]      the buffered change
 *
 *     entry = [timestamp 8][offset 8][partition 4][topic][header count 4]
 *             ([header key][header value]) x count  [prior value][old value][new value]
 *
 * Integers are big-endian; the buffer time in the index has its sign bit flipped, so that byte
 * order is time order (then key order, as Kafka's BufferKey). A variable field is [length 4]
 * [bytes], length 0xFFFFFFFF for null; the topic keeps its terminating NUL. As in Kafka: a key
 * buffered again keeps its first buffer time and prior value (the old value of its first
 * change) and takes the new change's old and new values and record context; eviction forwards
 * (new, old) with that context, oldest buffer time first; the byte size of an entry is Kafka's
 * estimate (8 + key + prior + old unless equal to prior + new + record context). */
#include "runtime/task_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/logging.h"
#include "eddy/serde.h"
#include "store/window.h"

/* Kafka's smallest segment interval of window and session stores (max(retention / 2, 60 s)). */
#define SEGMENT_INTERVAL_MIN_MS 60000

/* Keys and values built per record fit on the stack up to this size; larger ones allocate. */
#define SCRATCH_INLINE_BYTES 256

/* Windows (sessions) one lookup finds without allocating; more grow on the heap. */
#define FOUND_INLINE_WINDOWS 16

/* Headers of one buffered change forwarded without allocating. */
#define HEADERS_INLINE 8

/* A variable-length field's length for null in the suppression buffer. */
#define FIELD_NULL UINT32_MAX

enum { BUFFER_TOTALS = 0x00, BUFFER_INDEX = 0x01, BUFFER_ENTRY = 0x02 };

/* ---- Arithmetic and bytes -------------------------------------------------------------------- */

static int64_t add_saturating(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

static int64_t sub_saturating(int64_t a, int64_t b)
{
    if (b == INT64_MIN)
        return a >= 0 ? INT64_MAX : a - INT64_MIN;
    return add_saturating(a, -b);
}

static int64_t max_i64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t be64_read(const uint8_t *p)
{
    return (int64_t)eddy__be64_get(p);
}

/* A byte buffer on the stack that moves to the heap when it outgrows it. It points into
 * itself: never copy one. */
typedef struct scratch {
    uint8_t *data;
    size_t len;
    size_t capacity;
    uint8_t inline_bytes[SCRATCH_INLINE_BYTES];
} scratch;

static void scratch_init(scratch *s)
{
    s->data = s->inline_bytes;
    s->len = 0;
    s->capacity = sizeof s->inline_bytes;
}

static void scratch_free(scratch *s)
{
    if (s->data != s->inline_bytes)
        eddy__free(s->data);
    scratch_init(s);
}

static eddy_err scratch_reserve(scratch *s, size_t extra)
{
    if (extra <= s->capacity - s->len)
        return EDDY_OK;
    if (extra > SIZE_MAX / 2 - s->len)
        return eddy__fail(EDDY_ERR_TOO_LARGE, "a %zu-byte buffer is too large", extra);
    size_t capacity = s->capacity * 2;
    while (capacity - s->len < extra)
        capacity *= 2;
    uint8_t *grown =
        s->data == s->inline_bytes ? eddy__malloc(capacity) : eddy__realloc(s->data, capacity);
    if (!grown)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory for a %zu-byte buffer", capacity);
    if (s->data == s->inline_bytes && s->len)
        memcpy(grown, s->inline_bytes, s->len);
    s->data = grown;
    s->capacity = capacity;
    return EDDY_OK;
}

static eddy_err scratch_append(scratch *s, const void *bytes, size_t len)
{
    eddy_err err = scratch_reserve(s, len);
    if (err == EDDY_OK && len) {
        memcpy(s->data + s->len, bytes, len);
        s->len += len;
    }
    return err;
}

static eddy_err scratch_u32(scratch *s, uint32_t value)
{
    uint8_t bytes[4];
    eddy__be32_put(bytes, value);
    return scratch_append(s, bytes, 4);
}

static eddy_err scratch_i64(scratch *s, int64_t value)
{
    uint8_t bytes[8];
    eddy__be64_put(bytes, (uint64_t)value);
    return scratch_append(s, bytes, 8);
}

static eddy_slice scratch_slice(const scratch *s)
{
    return (eddy_slice){s->data, s->len};
}

/* [key][start 8]: a time or sliding window's windowed key (and window store key). */
static eddy_err windowed_key(scratch *s, eddy_slice key, int64_t start_ms)
{
    s->len = 0;
    eddy_err err = scratch_reserve(s, key.len + EDDY__WINDOW_SUFFIX_BYTES);
    if (err == EDDY_OK)
        s->len = eddy__window_key(s->data, key, start_ms);
    return err;
}

/* [key][end 8][start 8]: a session's windowed key (and session store key). */
static eddy_err session_windowed_key(scratch *s, eddy_slice key, int64_t start_ms, int64_t end_ms)
{
    s->len = 0;
    eddy_err err = scratch_reserve(s, key.len + EDDY__SESSION_SUFFIX_BYTES);
    if (err == EDDY_OK)
        s->len = eddy__session_key(s->data, key, start_ms, end_ms);
    return err;
}

/* ---- Shared by the aggregations -------------------------------------------------------------- */

/* Updates the node's observed stream time with ts; returns the previous one. */
static int64_t observe(eddy__task *task, uint32_t node, int64_t ts)
{
    int64_t previous = task->nodes[node].observed_ms;
    task->nodes[node].observed_ms = max_i64(previous, ts);
    return previous;
}

static void skip_null(eddy__task *task, uint32_t node, const eddy__flow *in, const char *what)
{
    EDDY_DEBUG("runtime",
               "task %s: %s skips a record with a null %s (topic %s partition %" PRId32
               " offset %" PRId64 ")",
               task->id, eddy__node_at(task, node)->name, what, in->rec.topic ? in->rec.topic : "?",
               in->rec.partition, in->rec.offset);
}

/* Counts and logs a record not added to the window [start, end) (inclusive: [start, end]). */
static void drop_late(eddy__task *task, uint32_t node, const eddy__flow *in, int64_t start_ms,
                      int64_t end_ms, bool end_inclusive, int64_t close_ms)
{
    eddy__task_count_dropped(task, &task->stats.dropped_late);
    EDDY_DEBUG("runtime",
               "task %s: %s skips a record for an expired window: topic %s partition %" PRId32
               " offset %" PRId64 " timestamp %" PRId64 " window [%" PRId64 ",%" PRId64
               "%c expiration %" PRId64 " stream time %" PRId64,
               task->id, eddy__node_at(task, node)->name, in->rec.topic ? in->rec.topic : "?",
               in->rec.partition, in->rec.offset, in->rec.timestamp_ms, start_ms, end_ms,
               end_inclusive ? ']' : ')', close_ms, task->nodes[node].observed_ms);
}

/* Calls the callback a RESULT context was made for and copies what it emitted into out. */
static eddy_err ctx_result(eddy_ctx *ctx, eddy__capture *out)
{
    eddy_err err = ctx->err;
    if (err == EDDY_OK)
        err = eddy__capture_set(out, ctx->value.slice);
    eddy__ctx_done(ctx);
    return err;
}

/* The aggregate a new window starts from: 0 for counts, null for reduce (Kafka's
 * reduceInitializer), the initializer's result for aggregate. */
static eddy_err agg_initial(eddy__task *task, uint32_t node, const eddy__flow *in,
                            eddy__capture *out)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (n->aggregation == EDDY__AGGREGATION_COUNT) {
        uint8_t zero[8];
        eddy_int64_encode(0, zero);
        return eddy__capture_set(out, (eddy_slice){zero, 8});
    }
    if (n->aggregation == EDDY__AGGREGATION_REDUCE)
        return eddy__capture_set(out, (eddy_slice){0});
    eddy_ctx ctx;
    eddy__ctx_init(&ctx, task, node, in, EDDY__CTX_RESULT);
    n->initializer(&ctx, n->opaque);
    return ctx_result(&ctx, out);
}

static int64_t count_of(eddy_slice agg)
{
    int64_t count = 0;
    if (agg.data && eddy_int64_decode(agg, &count) != EDDY_OK)
        count = 0;
    return count;
}

/* Adds the record to `agg` (Kafka's count aggregator, aggregatorForReducer, or the user's). */
static eddy_err agg_add(eddy__task *task, uint32_t node, const eddy__flow *in, eddy_slice agg,
                        eddy__capture *out)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (n->aggregation == EDDY__AGGREGATION_COUNT) {
        uint8_t bytes[8];
        eddy_int64_encode(count_of(agg) + 1, bytes);
        return eddy__capture_set(out, (eddy_slice){bytes, 8});
    }
    if (n->aggregation == EDDY__AGGREGATION_REDUCE && !agg.data)
        return eddy__capture_set(out, in->rec.value);
    eddy_ctx ctx;
    eddy__ctx_init(&ctx, task, node, in, EDDY__CTX_RESULT);
    if (n->aggregation == EDDY__AGGREGATION_REDUCE)
        n->reducer(&ctx, agg, &in->rec, n->opaque);
    else
        n->aggregator(&ctx, &in->rec, agg, n->opaque);
    return ctx_result(&ctx, out);
}

/* Merges a found session's aggregate into the running one (Kafka's session mergers: counts add;
 * reduce is mergerForAggregator(aggregatorForReducer): the reducer with the found session's
 * aggregate as the value; aggregate calls the user's merger). */
static eddy_err agg_merge(eddy__task *task, uint32_t node, const eddy__flow *in, eddy_slice left,
                          eddy_slice right, eddy__capture *out)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (n->aggregation == EDDY__AGGREGATION_COUNT) {
        uint8_t bytes[8];
        eddy_int64_encode(count_of(left) + count_of(right), bytes);
        return eddy__capture_set(out, (eddy_slice){bytes, 8});
    }
    if (n->aggregation == EDDY__AGGREGATION_REDUCE && !left.data)
        return eddy__capture_set(out, right);
    eddy__flow side = eddy__flow_with(in, in->rec.key, right, (eddy_slice){0}, false);
    eddy_ctx ctx;
    eddy__ctx_init(&ctx, task, node, &side, EDDY__CTX_RESULT);
    if (n->aggregation == EDDY__AGGREGATION_REDUCE)
        n->reducer(&ctx, left, &side.rec, n->opaque);
    else
        n->merger(&ctx, &in->rec, left, right, n->opaque);
    return ctx_result(&ctx, out);
}

/* Forwards the change (value, old) keyed by `windowed_key` at `timestamp_ms`. */
static eddy_err forward_change(eddy__task *task, uint32_t node, const eddy__flow *in,
                               eddy_slice windowed_key, eddy_slice value, eddy_slice old,
                               int64_t timestamp_ms)
{
    if (task->nodes[node].deferred)
        return EDDY_OK;
    eddy__flow out = eddy__flow_with(in, windowed_key, value,
                                     task->nodes[node].send_old ? old : (eddy_slice){0}, true);
    out.rec.timestamp_ms = timestamp_ms;
    return eddy__forward_children(task, node, &out);
}

/* Whether observed time has entered a new interval (of `interval` ms) since previous_ms, that is
 * previous_ms / interval != observed_ms / interval, without two 64-bit divisions per record:
 * the start of the next interval is kept in the node's state, and recomputed only when time
 * reaches it (or when it is not known, or would overflow). */
static bool expiry_due(eddy__node_state *state, int64_t previous_ms, int64_t observed_ms,
                       int64_t interval)
{
    if (previous_ms < 0 || observed_ms < 0 || observed_ms > INT64_MAX - interval)
        return previous_ms / interval != observed_ms / interval;
    if (state->expiry_due_ms == 0 || previous_ms >= state->expiry_due_ms)
        state->expiry_due_ms = (previous_ms / interval + 1) * interval;
    if (observed_ms < state->expiry_due_ms)
        return false;
    state->expiry_due_ms = (observed_ms / interval + 1) * interval;
    return true;
}

/* Drops the store's expired windows (sessions) when the node's observed time has entered a new
 * segment interval since `previous_ms` (see the file comment). */
static eddy_err expire(eddy__task *task, uint32_t node, int64_t previous_ms)
{
    const eddy__node *n = eddy__node_at(task, node);
    const eddy__store *s = &task->topology->stores[n->store];
    int64_t observed = task->nodes[node].observed_ms;
    if (s->retention_ms < 0)
        return EDDY_OK;
    int64_t interval = max_i64(s->retention_ms / 2, SEGMENT_INTERVAL_MIN_MS);
    if (!expiry_due(&task->nodes[node], previous_ms, observed, interval))
        return EDDY_OK;
    int64_t before = add_saturating(sub_saturating(observed, s->retention_ms), 1);
    uint64_t deleted = 0;
    eddy_err err = eddy__window_expire(eddy__task_expiry_store(task, n->store),
                                       s->type == EDDY__STORE_SESSION, false, before, &deleted);
    if (err == EDDY_OK && deleted > 0)
        EDDY_DEBUG("runtime", "task %s: %s dropped %" PRIu64 " expired windows before %" PRId64,
                   task->id, n->name, deleted, before);
    return err;
}

/* ---- Time windows ---------------------------------------------------------------------------- */

/* A window's aggregate and its latest record timestamp (Kafka's ValueAndTimestamp; a null
 * aggregate is a null ValueAndTimestamp). */
typedef struct timed_agg {
    eddy_slice agg;
    int64_t time_ms;
} timed_agg;

/* Puts [time][agg] as the window starting at start_ms (null agg: deletes it). */
static eddy_err sliding_put(eddy_kv_store *store, eddy_slice key, int64_t start_ms, timed_agg value)
{
    if (!value.agg.data)
        return eddy__window_put(store, key, start_ms, (eddy_slice){0});
    scratch bytes;
    scratch_init(&bytes);
    eddy_err err = scratch_i64(&bytes, value.time_ms);
    if (err == EDDY_OK)
        err = scratch_append(&bytes, value.agg.data, value.agg.len);
    if (err == EDDY_OK)
        err = eddy__window_put(store, key, start_ms, scratch_slice(&bytes));
    scratch_free(&bytes);
    return err;
}

/* Adds the record to `key`'s window starting at start_ms and forwards the change. */
static eddy_err time_window_update(eddy__task *task, uint32_t node, const eddy__flow *in,
                                   int64_t start_ms)
{
    const eddy__node *n = eddy__node_at(task, node);
    eddy_kv_store *store = task->stores[n->store];
    eddy__capture old, init, result;
    eddy__capture_init(&old);
    eddy__capture_init(&init);
    eddy__capture_init(&result);
    scratch key;
    scratch_init(&key);
    eddy_slice stored;
    eddy_err err = eddy__window_get(store, in->rec.key, start_ms, &stored);
    if (err == EDDY_ERR_NOT_FOUND) {
        err = EDDY_OK;
        stored = (eddy_slice){0};
    }
    if (err == EDDY_OK)
        err = eddy__capture_set(&old, stored); /* the store's bytes move at the next write */
    /* Values are [latest record timestamp][aggregate] (Kafka's timestamped window store): an
     * update carries the larger of the record's and the window's timestamps. */
    eddy_slice agg = {0};
    int64_t window_time = 0;
    if (err == EDDY_OK)
        err = eddy__sliding_value(old.slice, &agg, &window_time);
    int64_t time_ms = agg.data && window_time > in->rec.timestamp_ms ? window_time
                                                                       : in->rec.timestamp_ms;
    if (err == EDDY_OK && !agg.data) {
        err = agg_initial(task, node, in, &init);
        agg = init.slice;
    }
    if (err == EDDY_OK)
        err = agg_add(task, node, in, agg, &result);
    if (err == EDDY_OK)
        err = sliding_put(store, in->rec.key, start_ms, (timed_agg){result.slice, time_ms});
    if (err == EDDY_OK)
        err = windowed_key(&key, in->rec.key, start_ms);
    if (err == EDDY_OK)
        err = forward_change(task, node, in, scratch_slice(&key), result.slice, agg, time_ms);
    scratch_free(&key);
    eddy__capture_free(&old);
    eddy__capture_free(&init);
    eddy__capture_free(&result);
    return err;
}

/* Kafka's KStreamWindowAggregate: the record goes into every window TimeWindows.windowsFor
 * gives, [k * advance, k * advance + size) containing its timestamp, oldest first. */
eddy_err eddy__op_window_aggregate(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (!in->rec.key.data) {
        skip_null(task, node, in, "key");
        return EDDY_OK;
    }
    int64_t size = n->window.size_ms, advance = n->window.advance_ms;
    EDDY_ASSERT(size > 0 && advance > 0 && advance <= size);
    int64_t ts = in->rec.timestamp_ms;
    int64_t previous = observe(task, node, ts);
    int64_t close_ms = sub_saturating(task->nodes[node].observed_ms, n->window.grace_ms);
    int64_t start = max_i64(0, ts - size + advance) / advance * advance;
    eddy_err err = EDDY_OK;
    while (err == EDDY_OK && start <= ts) {
        int64_t end = add_saturating(start, size);
        if (end > close_ms)
            err = time_window_update(task, node, in, start);
        else
            drop_late(task, node, in, start, end, false, close_ms);
        if (start > INT64_MAX - advance)
            break;
        start += advance;
    }
    if (err == EDDY_OK)
        err = expire(task, node, previous);
    return err;
}

/* ---- Windows found by a lookup (sliding windows, sessions) ----------------------------------- */

typedef struct found_window {
    int64_t start_ms;
    int64_t end_ms;  /* sessions: the end; sliding windows: start + time difference */
    int64_t time_ms; /* sliding windows: the latest record timestamp in the window */
    size_t offset;   /* the aggregate, in the list's bytes */
    size_t len;
    bool null_value;
} found_window;

/* Copies of the windows a lookup found, in the store's order, so that the store can be written
 * while they are processed (no store is written during a scan). Never copy one. */
typedef struct found_list {
    found_window *items;
    uint32_t count, capacity;
    found_window inline_items[FOUND_INLINE_WINDOWS];
    scratch bytes;
    eddy_kv_store *store;
    int64_t time_difference_ms; /* sliding windows */
    int64_t visible_from_ms;    /* sessions: those ending earlier have expired */
} found_list;

static void found_init(found_list *list, eddy_kv_store *store)
{
    list->items = list->inline_items;
    list->count = 0;
    list->capacity = FOUND_INLINE_WINDOWS;
    scratch_init(&list->bytes);
    list->store = store;
    list->time_difference_ms = 0;
    list->visible_from_ms = INT64_MIN;
}

static void found_free(found_list *list)
{
    if (list->items != list->inline_items)
        eddy__free(list->items);
    scratch_free(&list->bytes);
}

static eddy_slice found_value(const found_list *list, uint32_t i)
{
    const found_window *w = &list->items[i];
    return w->null_value ? (eddy_slice){0} : (eddy_slice){list->bytes.data + w->offset, w->len};
}

static eddy_err found_add(found_list *list, found_window window, eddy_slice value)
{
    if (list->count == list->capacity) {
        if (list->capacity > UINT32_MAX / 2)
            return eddy__fail(EDDY_ERR_TOO_LARGE, "store '%s': too many windows in one lookup",
                              eddy_kv_store_name(list->store));
        uint32_t capacity = list->capacity * 2;
        found_window *grown = list->items == list->inline_items
                                  ? eddy__malloc(capacity * sizeof *grown)
                                  : eddy__realloc(list->items, capacity * sizeof *grown);
        if (!grown)
            return eddy__fail(EDDY_ERR_NO_MEMORY,
                              "store '%s': out of memory for %" PRIu32 " windows",
                              eddy_kv_store_name(list->store), capacity);
        if (list->items == list->inline_items)
            memcpy(grown, list->inline_items, sizeof list->inline_items);
        list->items = grown;
        list->capacity = capacity;
    }
    window.null_value = !value.data;
    window.offset = list->bytes.len;
    window.len = value.len;
    eddy_err err = scratch_append(&list->bytes, value.data, value.data ? value.len : 0);
    if (err == EDDY_OK)
        list->items[list->count++] = window;
    return err;
}

/* ---- Sliding windows ------------------------------------------------------------------------- */


static eddy_err sliding_found(void *opaque, int64_t start_ms, eddy_slice value,
                              eddy_slice store_key)
{
    (void)store_key;
    found_list *list = opaque;
    eddy_slice agg;
    found_window w = {.start_ms = start_ms,
                      .end_ms = add_saturating(start_ms, list->time_difference_ms)};
    eddy_err err = eddy__sliding_value(value, &agg, &w.time_ms);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "store '%s'", eddy_kv_store_name(list->store));
    return found_add(list, w, agg);
}

static timed_agg found_timed(const found_list *list, uint32_t i)
{
    return (timed_agg){found_value(list, i), list->items[i].time_ms};
}

eddy_err eddy__sliding_value(eddy_slice stored, eddy_slice *agg, int64_t *time_ms)
{
    *agg = (eddy_slice){0};
    *time_ms = 0;
    if (!stored.data)
        return EDDY_OK;
    if (stored.len < 8)
        return eddy__fail(EDDY_ERR_CORRUPT,
                          "a sliding window's stored value of %zu bytes has no timestamp",
                          stored.len);
    *time_ms = be64_read(stored.data);
    *agg = (eddy_slice){(const uint8_t *)stored.data + 8, stored.len - 8};
    return EDDY_OK;
}

/* Puts a window and forwards its change (the window's own timestamp). */
static eddy_err sliding_put_forward(eddy__task *task, uint32_t node, const eddy__flow *in,
                                    int64_t start_ms, timed_agg value, eddy_slice old)
{
    const eddy__node *n = eddy__node_at(task, node);
    scratch key;
    scratch_init(&key);
    eddy_err err = sliding_put(task->stores[n->store], in->rec.key, start_ms, value);
    if (err == EDDY_OK)
        err = windowed_key(&key, in->rec.key, start_ms);
    if (err == EDDY_OK)
        err = forward_change(task, node, in, scratch_slice(&key), value.agg, old, value.time_ms);
    scratch_free(&key);
    return err;
}

/* Kafka's updateWindowAndForward: adds the record to the window [start, start + d] whose
 * current value is `current`, unless the window has closed. */
static eddy_err sliding_update(eddy__task *task, uint32_t node, const eddy__flow *in,
                               int64_t start_ms, timed_agg current, int64_t close_ms)
{
    const eddy__node *n = eddy__node_at(task, node);
    int64_t end = add_saturating(start_ms, n->window.size_ms);
    if (end < close_ms) {
        drop_late(task, node, in, start_ms, end, true, close_ms);
        return EDDY_OK;
    }
    int64_t ts = in->rec.timestamp_ms;
    eddy__capture result;
    eddy__capture_init(&result);
    eddy_err err = agg_add(task, node, in, current.agg, &result);
    timed_agg updated = {result.slice, current.agg.data ? max_i64(ts, current.time_ms) : ts};
    if (err == EDDY_OK)
        err = sliding_put_forward(task, node, in, start_ms, updated, current.agg);
    eddy__capture_free(&result);
    return err;
}

/* Kafka's createPreviousRecordRightWindow (and a left window without a previous record): a new
 * window [start, start + d] holding the initial aggregate plus this record. */
static eddy_err sliding_create(eddy__task *task, uint32_t node, const eddy__flow *in,
                               int64_t start_ms, int64_t close_ms)
{
    eddy__capture init;
    eddy__capture_init(&init);
    eddy_err err = agg_initial(task, node, in, &init);
    if (err == EDDY_OK)
        err = sliding_update(task, node, in, start_ms,
                             (timed_agg){init.slice, in->rec.timestamp_ms}, close_ms);
    eddy__capture_free(&init);
    return err;
}

/* What a lookup learned for createWindows (Kafka's local variables of the same names). */
typedef struct sliding_scan {
    int64_t visited_from; /* items[visited_from ..] were visited (windowStartTimes) */
    int64_t left;         /* index of leftWinAgg, -1: null */
    int64_t right;        /* index of rightWinAgg, -1: null */
    bool left_created, right_created;
    bool has_previous;
    int64_t previous_ms; /* previousRecordTimestamp */
} sliding_scan;

static bool sliding_visited(const found_list *list, const sliding_scan *scan, int64_t start_ms)
{
    for (int64_t i = scan->visited_from; i < (int64_t)list->count; i++)
        if (list->items[i].start_ms == start_ms)
            return true;
    return false;
}

/* Kafka's createWindows, after processReverse. */
static eddy_err sliding_create_windows(eddy__task *task, uint32_t node, const eddy__flow *in,
                                       const found_list *list, const sliding_scan *scan,
                                       int64_t close_ms)
{
    int64_t d = eddy__node_at(task, node)->window.size_ms;
    int64_t ts = in->rec.timestamp_ms;
    eddy_err err = EDDY_OK;
    if (scan->has_previous) {
        /* the previous record's right window, if missing and this record falls in it */
        int64_t start = scan->previous_ms + 1;
        if (!sliding_visited(list, scan, start) && add_saturating(start, d) >= ts)
            err = sliding_create(task, node, in, start, close_ms);
    }
    if (err == EDDY_OK && !scan->left_created) {
        /* this record's left window [ts - d, ts], holding the previous record's aggregate when
         * that record falls in it (with this record's timestamp, as Kafka) */
        if (scan->has_previous && ts - d <= scan->previous_ms) {
            EDDY_ASSERT(scan->left >= 0); /* has_previous without left_created comes with it */
            err =
                sliding_update(task, node, in, ts - d,
                               (timed_agg){found_value(list, (uint32_t)scan->left), ts}, close_ms);
        } else {
            err = sliding_create(task, node, in, ts - d, close_ms);
        }
    }
    if (err == EDDY_OK && !scan->right_created && scan->right >= 0 &&
        list->items[scan->right].time_ms > ts)
        /* this record's right window takes the later records' aggregate as it is */
        err = sliding_put_forward(task, node, in, ts + 1, found_timed(list, (uint32_t)scan->right),
                                  (eddy_slice){0});
    return err;
}

/* Kafka's processReverse (what Kafka runs with its built-in stores, which iterate backwards):
 * the windows from ts - 2d to ts + 1, latest first. */
static eddy_err sliding_process(eddy__task *task, uint32_t node, const eddy__flow *in,
                                int64_t close_ms)
{
    const eddy__node *n = eddy__node_at(task, node);
    int64_t d = n->window.size_ms, ts = in->rec.timestamp_ms;
    found_list list;
    found_init(&list, task->stores[n->store]);
    list.time_difference_ms = d;
    int64_t next = add_saturating(ts, 1);
    eddy_err err = eddy__window_fetch(list.store, in->rec.key, false,
                                      max_i64(0, sub_saturating(sub_saturating(ts, d), d)), next,
                                      sliding_found, &list);
    sliding_scan scan = {.visited_from = list.count, .left = -1, .right = -1};
    bool done = false;
    for (int64_t i = (int64_t)list.count - 1; err == EDDY_OK && i >= 0 && !done; i--) {
        const found_window *w = &list.items[i];
        scan.visited_from = i;
        if (w->start_ms == next) {
            scan.right_created = true;
        } else if (w->end_ms > ts) {
            if (scan.right < 0)
                scan.right = i;
            err = sliding_update(task, node, in, w->start_ms, found_timed(&list, (uint32_t)i),
                                 close_ms);
        } else if (w->end_ms == ts) {
            scan.left_created = true;
            err = sliding_update(task, node, in, w->start_ms, found_timed(&list, (uint32_t)i),
                                 close_ms);
            if (w->time_ms >= ts) { /* a record at ts came before: nothing to create */
                found_free(&list);
                return err;
            }
            scan.has_previous = true;
            scan.previous_ms = w->time_ms;
        } else {
            scan.left = i;
            scan.has_previous = true;
            scan.previous_ms = w->time_ms;
            done = true;
        }
    }
    if (err == EDDY_OK)
        err = sliding_create_windows(task, node, in, &list, &scan, close_ms);
    found_free(&list);
    return err;
}

/* Kafka's processEarly: a record at 0 <= ts < d. Its left window would start before 0, so it
 * goes into the window [0, d] that holds every early record; right windows are made as usual. */
static eddy_err sliding_process_early(eddy__task *task, uint32_t node, const eddy__flow *in,
                                      int64_t close_ms)
{
    const eddy__node *n = eddy__node_at(task, node);
    int64_t ts = in->rec.timestamp_ms;
    found_list list;
    found_init(&list, task->stores[n->store]);
    list.time_difference_ms = n->window.size_ms;
    eddy_err err =
        eddy__window_fetch(list.store, in->rec.key, false, 0, ts + 1, sliding_found, &list);
    sliding_scan scan = {.visited_from = 0, .left = -1, .right = -1};
    int64_t combined = -1;
    for (uint32_t i = 0; err == EDDY_OK && i < list.count; i++) {
        const found_window *w = &list.items[i];
        if (w->start_ms == 0) {
            combined = i;
            if (w->time_ms < ts) {
                scan.has_previous = true;
                scan.previous_ms = w->time_ms;
            }
        } else if (w->start_ms <= ts) {
            scan.right = i;
            err = sliding_update(task, node, in, w->start_ms, found_timed(&list, i), close_ms);
        } else if (w->start_ms == ts + 1) {
            scan.right_created = true;
        } else {
            err = eddy__fail(EDDY_ERR_CORRUPT,
                             "%s: unexpected window starting at %" PRId64
                             " for an early record at %" PRId64,
                             n->name, w->start_ms, ts);
        }
    }
    /* with no right window found, the early records after this one are in the combined one */
    if (scan.right < 0 && combined >= 0 && list.items[combined].time_ms > ts)
        scan.right = combined;
    if (err == EDDY_OK && !scan.right_created && scan.right >= 0 &&
        list.items[scan.right].time_ms > ts)
        err = sliding_put_forward(task, node, in, ts + 1, found_timed(&list, (uint32_t)scan.right),
                                  (eddy_slice){0});
    if (err == EDDY_OK && scan.has_previous && !sliding_visited(&list, &scan, scan.previous_ms + 1))
        err = sliding_create(task, node, in, scan.previous_ms + 1, close_ms);
    if (err == EDDY_OK && combined < 0)
        err = sliding_create(task, node, in, 0, close_ms);
    else if (err == EDDY_OK)
        err = sliding_update(task, node, in, 0, found_timed(&list, (uint32_t)combined), close_ms);
    found_free(&list);
    return err;
}

/* Kafka's KStreamSlidingWindowAggregate. */
eddy_err eddy__op_sliding_aggregate(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (!in->rec.key.data || !in->rec.value.data) {
        skip_null(task, node, in, in->rec.key.data ? "value" : "key");
        return EDDY_OK;
    }
    int64_t d = n->window.size_ms, ts = in->rec.timestamp_ms;
    EDDY_ASSERT(d >= 0);
    int64_t previous = observe(task, node, ts);
    int64_t close_ms = sub_saturating(task->nodes[node].observed_ms, n->window.grace_ms);
    eddy_err err = EDDY_OK;
    if (add_saturating(ts, d) < close_ms)
        drop_late(task, node, in, ts, add_saturating(ts, d), true, close_ms);
    else if (ts < d)
        err = sliding_process_early(task, node, in, close_ms);
    else
        err = sliding_process(task, node, in, close_ms);
    if (err == EDDY_OK)
        err = expire(task, node, previous);
    return err;
}

/* ---- Session windows ------------------------------------------------------------------------- */

static eddy_err session_found(void *opaque, int64_t start_ms, int64_t end_ms, eddy_slice value)
{
    found_list *list = opaque;
    if (end_ms < list->visible_from_ms)
        return EDDY_OK; /* expired: Kafka's store no longer returns it */
    found_window w = {.start_ms = start_ms, .end_ms = end_ms};
    return found_add(list, w, value);
}

/* Removes the sessions merged into a new one, forwarding a tombstone for each (Kafka: new
 * null, old its aggregate, at its end). */
static eddy_err session_remove_merged(eddy__task *task, uint32_t node, const eddy__flow *in,
                                      const found_list *list)
{
    scratch key;
    scratch_init(&key);
    eddy_err err = EDDY_OK;
    for (uint32_t i = 0; err == EDDY_OK && i < list->count; i++) {
        const found_window *w = &list->items[i];
        err = eddy__session_put(list->store, in->rec.key, w->start_ms, w->end_ms, (eddy_slice){0});
        if (err == EDDY_OK)
            err = session_windowed_key(&key, in->rec.key, w->start_ms, w->end_ms);
        if (err == EDDY_OK)
            err = forward_change(task, node, in, scratch_slice(&key), (eddy_slice){0},
                                 found_value(list, i), w->end_ms);
    }
    scratch_free(&key);
    return err;
}

/* Merges the found sessions with the record's [ts, ts] into `agg`, *start_ms, *end_ms. */
static eddy_err session_merge(eddy__task *task, uint32_t node, const eddy__flow *in,
                              const found_list *list, eddy__capture *agg, int64_t *start_ms,
                              int64_t *end_ms)
{
    eddy__capture merged;
    eddy__capture_init(&merged);
    eddy_err err = agg_initial(task, node, in, agg);
    for (uint32_t i = 0; err == EDDY_OK && i < list->count; i++) {
        err = agg_merge(task, node, in, agg->slice, found_value(list, i), &merged);
        if (err == EDDY_OK)
            err = eddy__capture_set(agg, merged.slice);
        if (list->items[i].start_ms < *start_ms)
            *start_ms = list->items[i].start_ms;
        if (list->items[i].end_ms > *end_ms)
            *end_ms = list->items[i].end_ms;
    }
    eddy__capture_free(&merged);
    return err;
}

/* Kafka's KStreamSessionWindowAggregate: the sessions of the key that end at or after ts - gap
 * and start at or before ts + gap merge with the record into one session. */
eddy_err eddy__op_session_aggregate(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (!in->rec.key.data) {
        skip_null(task, node, in, "key");
        return EDDY_OK;
    }
    int64_t ts = in->rec.timestamp_ms, gap = n->window.gap_ms;
    int64_t previous = observe(task, node, ts);
    int64_t close_ms =
        sub_saturating(sub_saturating(task->nodes[node].observed_ms, n->window.grace_ms), gap);
    int64_t retention = task->topology->stores[n->store].retention_ms;
    found_list list;
    found_init(&list, task->stores[n->store]);
    if (retention >= 0)
        list.visible_from_ms = add_saturating(sub_saturating(previous, retention), 1);
    eddy_err err = eddy__session_find(list.store, in->rec.key, sub_saturating(ts, gap),
                                      add_saturating(ts, gap), session_found, &list);
    eddy__capture agg, result;
    eddy__capture_init(&agg);
    eddy__capture_init(&result);
    int64_t start = ts, end = ts;
    if (err == EDDY_OK)
        err = session_merge(task, node, in, &list, &agg, &start, &end);
    if (err == EDDY_OK && end < close_ms) {
        drop_late(task, node, in, start, end, true, close_ms);
    } else if (err == EDDY_OK) {
        if (start != ts || end != ts)
            err = session_remove_merged(task, node, in, &list);
        if (err == EDDY_OK)
            err = agg_add(task, node, in, agg.slice, &result);
        if (err == EDDY_OK)
            err = eddy__session_put(list.store, in->rec.key, start, end, result.slice);
        scratch key;
        scratch_init(&key);
        if (err == EDDY_OK)
            err = session_windowed_key(&key, in->rec.key, start, end);
        if (err == EDDY_OK)
            err = forward_change(task, node, in, scratch_slice(&key), result.slice, (eddy_slice){0},
                                 end);
        scratch_free(&key);
    }
    eddy__capture_free(&agg);
    eddy__capture_free(&result);
    found_free(&list);
    if (err == EDDY_OK)
        err = expire(task, node, previous);
    return err;
}

/* ---- Suppression ----------------------------------------------------------------------------- */

/* A buffered change decoded from its entry (slices point into the entry's bytes). */
typedef struct buffered {
    int64_t buffer_time_ms;
    int64_t timestamp_ms;
    int64_t offset;
    int32_t partition;
    eddy_slice topic; /* with its NUL; null when the record had no topic */
    uint32_t header_count;
    const uint8_t *headers; /* the encoded headers */
    uint64_t header_bytes;  /* their keys' and values' lengths, for the size estimate */
    eddy_slice prior, old, value;
} buffered;

/* The buffer's totals (the 0x00 entry), changed in memory and written once per record. */
typedef struct buffer_totals {
    uint64_t records;
    uint64_t bytes;
    bool dirty;
} buffer_totals;

typedef struct reader {
    const uint8_t *p;
    size_t left;
    bool bad;
} reader;

static const uint8_t *read_bytes(reader *r, size_t len)
{
    if (r->bad || len > r->left) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += len;
    r->left -= len;
    return p;
}

static int64_t read_i64(reader *r)
{
    const uint8_t *p = read_bytes(r, 8);
    return p ? be64_read(p) : 0;
}

static uint32_t read_u32(reader *r)
{
    const uint8_t *p = read_bytes(r, 4);
    return p ? eddy__be32_get(p) : 0;
}

static eddy_slice read_field(reader *r)
{
    uint32_t len = read_u32(r);
    if (r->bad || len == FIELD_NULL)
        return (eddy_slice){0};
    const uint8_t *p = read_bytes(r, len);
    return p ? (eddy_slice){p, len} : (eddy_slice){0};
}

static eddy_err write_field(scratch *s, eddy_slice value)
{
    if (!value.data)
        return scratch_u32(s, FIELD_NULL);
    if (value.len >= FIELD_NULL)
        return eddy__fail(EDDY_ERR_TOO_LARGE, "a %zu-byte value cannot be buffered", value.len);
    eddy_err err = scratch_u32(s, (uint32_t)value.len);
    return err == EDDY_OK ? scratch_append(s, value.data, value.len) : err;
}

static size_t slice_len(eddy_slice s)
{
    return s.data ? s.len : 0;
}

static bool slices_equal(eddy_slice a, eddy_slice b)
{
    if (!a.data || !b.data)
        return !a.data && !b.data;
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* Kafka's computeRecordSize: buffer time, key, prior, old unless equal to prior, new, and the
 * record context (timestamp, offset, topic, partition, headers). */
static uint64_t buffered_size(eddy_slice key, const buffered *b)
{
    uint64_t size = 8 + key.len + slice_len(b->prior) + slice_len(b->value);
    if (!slices_equal(b->prior, b->old))
        size += slice_len(b->old);
    size += 8 + 8 + 4 + (b->topic.data ? b->topic.len - 1 : 0) + b->header_bytes;
    return size;
}

static eddy_err buffer_corrupt(eddy__task *task, uint32_t node, const char *what)
{
    const eddy__node *n = eddy__node_at(task, node);
    return eddy__fail(EDDY_ERR_CORRUPT, "store '%s' of %s: %s",
                      task->topology->stores[n->store].name, n->name, what);
}

/* Decodes an entry value ([buffer time][entry]). */
static eddy_err buffered_decode(eddy__task *task, uint32_t node, eddy_slice bytes, buffered *out)
{
    reader r = {bytes.data, bytes.len, false};
    out->buffer_time_ms = read_i64(&r);
    out->timestamp_ms = read_i64(&r);
    out->offset = read_i64(&r);
    out->partition = (int32_t)read_u32(&r);
    out->topic = read_field(&r);
    if (out->topic.data &&
        (out->topic.len == 0 || ((const uint8_t *)out->topic.data)[out->topic.len - 1] != 0))
        r.bad = true;
    out->header_count = read_u32(&r);
    if (out->header_count > EDDY_RECORD_HEADERS_MAX)
        r.bad = true;
    out->headers = r.p;
    out->header_bytes = 0;
    for (uint32_t i = 0; i < out->header_count && !r.bad; i++) {
        out->header_bytes += slice_len(read_field(&r));
        out->header_bytes += slice_len(read_field(&r));
    }
    out->prior = read_field(&r);
    out->old = read_field(&r);
    out->value = read_field(&r);
    if (r.bad || r.left != 0)
        return buffer_corrupt(task, node, "a buffered change is malformed");
    return EDDY_OK;
}

/* Encodes the change `in` as an entry value with the given buffer time and prior value. */
static eddy_err buffered_encode(const eddy__flow *in, int64_t buffer_time_ms, eddy_slice prior,
                                scratch *out, uint64_t *header_bytes)
{
    const eddy_record *rec = &in->rec;
    eddy_err err = scratch_i64(out, buffer_time_ms);
    if (err == EDDY_OK)
        err = scratch_i64(out, rec->timestamp_ms);
    if (err == EDDY_OK)
        err = scratch_i64(out, rec->offset);
    if (err == EDDY_OK)
        err = scratch_u32(out, (uint32_t)rec->partition);
    if (err == EDDY_OK)
        err = write_field(out, rec->topic ? (eddy_slice){rec->topic, strlen(rec->topic) + 1}
                                          : (eddy_slice){0});
    if (err == EDDY_OK)
        err = scratch_u32(out, (uint32_t)rec->header_count);
    *header_bytes = 0;
    for (size_t i = 0; err == EDDY_OK && i < rec->header_count; i++) {
        err = write_field(out, rec->headers[i].key);
        if (err == EDDY_OK)
            err = write_field(out, rec->headers[i].value);
        *header_bytes += slice_len(rec->headers[i].key) + slice_len(rec->headers[i].value);
    }
    if (err == EDDY_OK)
        err = write_field(out, prior);
    if (err == EDDY_OK)
        err = write_field(out, in->old);
    if (err == EDDY_OK)
        err = write_field(out, rec->value);
    return err;
}

/* Store keys: 0x02 [key] and 0x01 [time][key]. */
static eddy_err entry_key(scratch *s, eddy_slice key)
{
    s->len = 0;
    uint8_t tag = BUFFER_ENTRY;
    eddy_err err = scratch_append(s, &tag, 1);
    return err == EDDY_OK ? scratch_append(s, key.data, key.len) : err;
}

static eddy_err index_key(scratch *s, int64_t time_ms, eddy_slice key)
{
    s->len = 0;
    uint8_t head[9];
    head[0] = BUFFER_INDEX;
    eddy__be64_put(head + 1, (uint64_t)time_ms ^ 0x8000000000000000u);
    eddy_err err = scratch_append(s, head, 9);
    return err == EDDY_OK ? scratch_append(s, key.data, key.len) : err;
}

static eddy_err totals_read(eddy_kv_store *store, buffer_totals *totals)
{
    uint8_t tag = BUFFER_TOTALS;
    eddy_slice value;
    *totals = (buffer_totals){0};
    eddy_err err = eddy_kv_get(store, (eddy_slice){&tag, 1}, &value);
    if (err == EDDY_ERR_NOT_FOUND)
        return EDDY_OK;
    if (err != EDDY_OK)
        return err;
    if (value.len != 16)
        return eddy__fail(EDDY_ERR_CORRUPT,
                          "store '%s': the suppression buffer's totals are "
                          "%zu bytes, not 16",
                          eddy_kv_store_name(store), value.len);
    totals->records = eddy__be64_get(value.data);
    totals->bytes = eddy__be64_get((const uint8_t *)value.data + 8);
    return EDDY_OK;
}

static eddy_err totals_write(eddy_kv_store *store, const buffer_totals *totals)
{
    if (!totals->dirty)
        return EDDY_OK;
    uint8_t tag = BUFFER_TOTALS, bytes[16];
    eddy__be64_put(bytes, totals->records);
    eddy__be64_put(bytes + 8, totals->bytes);
    return eddy_kv_put(store, (eddy_slice){&tag, 1}, (eddy_slice){bytes, 16});
}

/* Kafka's buffer.put: buffers the change `in` of its key at time_ms (a key already buffered
 * keeps its place and prior value). */
static eddy_err suppress_buffer(eddy__task *task, uint32_t node, const eddy__flow *in,
                                int64_t time_ms, buffer_totals *totals)
{
    eddy_kv_store *store = task->stores[eddy__node_at(task, node)->store];
    eddy_slice key = in->rec.key;
    scratch ekey, ikey, value;
    scratch_init(&ekey);
    scratch_init(&ikey);
    scratch_init(&value);
    eddy__capture existing = {0};
    buffered before = {0};
    eddy_err err = entry_key(&ekey, key);
    if (err == EDDY_OK)
        err = eddy__store_get_copy(store, scratch_slice(&ekey), &existing);
    if (err == EDDY_OK && existing.slice.data)
        err = buffered_decode(task, node, existing.slice, &before);
    buffered after = {0};
    after.prior = existing.slice.data ? before.prior : in->old;
    after.buffer_time_ms = existing.slice.data ? before.buffer_time_ms : time_ms;
    if (err == EDDY_OK)
        err = buffered_encode(in, after.buffer_time_ms, after.prior, &value, &after.header_bytes);
    if (err == EDDY_OK)
        err = eddy_kv_put(store, scratch_slice(&ekey), scratch_slice(&value));
    if (err == EDDY_OK && !existing.slice.data) {
        static const uint8_t empty[1];
        err = index_key(&ikey, time_ms, key);
        if (err == EDDY_OK)
            err = eddy_kv_put(store, scratch_slice(&ikey), (eddy_slice){empty, 0});
        totals->records++;
    }
    if (err == EDDY_OK) {
        after.old = in->old;
        after.value = in->rec.value;
        after.topic = in->rec.topic ? (eddy_slice){in->rec.topic, strlen(in->rec.topic) + 1}
                                    : (eddy_slice){0};
        if (existing.slice.data)
            totals->bytes -= buffered_size(key, &before);
        totals->bytes += buffered_size(key, &after);
        totals->dirty = true;
    }
    eddy__capture_free(&existing);
    scratch_free(&ekey);
    scratch_free(&ikey);
    scratch_free(&value);
    return err;
}

/* Forwards a buffered change with its record context (Kafka's KTableSuppressProcessor.emit). */
static eddy_err suppress_forward(eddy__task *task, uint32_t node, const eddy__flow *in,
                                 eddy_slice key, const buffered *b)
{
    eddy_header inline_headers[HEADERS_INLINE];
    eddy_header *headers = inline_headers;
    if (b->header_count > HEADERS_INLINE &&
        !(headers = eddy__malloc(b->header_count * sizeof *headers)))
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory for %" PRIu32 " headers",
                          b->header_count);
    reader r = {b->headers, SIZE_MAX, false};
    for (uint32_t i = 0; i < b->header_count; i++) {
        headers[i].key = read_field(&r);
        headers[i].value = read_field(&r);
    }
    eddy__flow out = eddy__flow_with(in, key, b->value,
                                     task->nodes[node].send_old ? b->old : (eddy_slice){0}, true);
    out.rec.timestamp_ms = b->timestamp_ms;
    out.rec.offset = b->offset;
    out.rec.partition = b->partition;
    out.rec.topic = b->topic.data ? (const char *)b->topic.data : NULL;
    out.rec.headers = b->header_count ? headers : NULL;
    out.rec.header_count = b->header_count;
    eddy_err err = eddy__forward_children(task, node, &out);
    if (headers != inline_headers)
        eddy__free(headers);
    return err;
}

/* Evicts the oldest buffered change if its buffer time is <= up_to_ms (INT64_MAX: whatever its
 * time): forwards it (final results drop tombstones, as Kafka's safeToDropTombstones) and
 * removes it. *evicted says whether there was one. */
static eddy_err suppress_evict(eddy__task *task, uint32_t node, const eddy__flow *in,
                               int64_t up_to_ms, buffer_totals *totals, bool *evicted)
{
    const eddy__node *n = eddy__node_at(task, node);
    eddy_kv_store *store = task->stores[n->store];
    *evicted = false;
    uint8_t tag = BUFFER_INDEX;
    eddy_kv_iter *it = NULL;
    eddy__capture index = {0}, entry = {0};
    eddy_slice k, v;
    eddy_err err = eddy_kv_prefix_scan(store, (eddy_slice){&tag, 1}, &it);
    if (err == EDDY_OK) {
        err = eddy_kv_iter_next(it, &k, &v);
        if (err == EDDY_OK)
            err = eddy__capture_set(&index, k); /* valid beyond the iterator */
        eddy_kv_iter_destroy(it);
    }
    if (err == EDDY_ERR_END || (err == EDDY_OK && index.slice.len < 9))
        err = err == EDDY_ERR_END ? EDDY_OK : buffer_corrupt(task, node, "a short index key");
    int64_t time_ms = 0;
    if (err == EDDY_OK && index.slice.data)
        time_ms =
            (int64_t)(eddy__be64_get((const uint8_t *)index.slice.data + 1) ^ 0x8000000000000000u);
    if (err != EDDY_OK || !index.slice.data || time_ms > up_to_ms) {
        eddy__capture_free(&index);
        return err;
    }
    eddy_slice key = {(const uint8_t *)index.slice.data + 9, index.slice.len - 9};
    scratch ekey;
    scratch_init(&ekey);
    buffered b = {0};
    err = entry_key(&ekey, key);
    if (err == EDDY_OK)
        err = eddy__store_get_copy(store, scratch_slice(&ekey), &entry);
    if (err == EDDY_OK && !entry.slice.data)
        err = buffer_corrupt(task, node, "an index entry has no buffered change");
    if (err == EDDY_OK)
        err = buffered_decode(task, node, entry.slice, &b);
    if (err == EDDY_OK && (b.value.data || n->suppress.time_limit_ms >= 0))
        err = suppress_forward(task, node, in, key, &b);
    if (err == EDDY_OK)
        err = eddy_kv_delete(store, index.slice);
    if (err == EDDY_OK)
        err = eddy_kv_delete(store, scratch_slice(&ekey));
    if (err == EDDY_OK) {
        totals->records--;
        totals->bytes -= buffered_size(key, &b);
        totals->dirty = true;
        *evicted = true;
    }
    scratch_free(&ekey);
    eddy__capture_free(&index);
    eddy__capture_free(&entry);
    return err;
}

static bool over_capacity(const eddy__suppress *s, const buffer_totals *totals)
{
    return (s->max_records > 0 && totals->records > s->max_records) ||
           (s->max_bytes > 0 && totals->bytes > s->max_bytes);
}

/* Kafka's enforceConstraints: evict what is due, then deal with a full buffer. */
static eddy_err suppress_enforce(eddy__task *task, uint32_t node, const eddy__flow *in,
                                 int64_t duration_ms, buffer_totals *totals)
{
    const eddy__node *n = eddy__node_at(task, node);
    int64_t expiry = sub_saturating(task->nodes[node].observed_ms, duration_ms);
    bool evicted = true;
    eddy_err err = EDDY_OK;
    while (err == EDDY_OK && evicted)
        err = suppress_evict(task, node, in, expiry, totals, &evicted);
    if (err != EDDY_OK || !over_capacity(&n->suppress, totals))
        return err;
    if (n->suppress.when_full == EDDY_SUPPRESS_EMIT_EARLY_WHEN_FULL) {
        evicted = true;
        while (err == EDDY_OK && evicted && over_capacity(&n->suppress, totals))
            err = suppress_evict(task, node, in, INT64_MAX, totals, &evicted);
        return err;
    }
    eddy__fail(EDDY_ERR_TOO_LARGE,
               "%s buffer exceeded its max capacity. Currently [%" PRIu64
               "/%zu] records and [%" PRIu64 "/%zu] bytes (0: unbounded)",
               n->name, totals->records, n->suppress.max_records, totals->bytes,
               n->suppress.max_bytes);
    return eddy__task_fail(task, &in->rec, EDDY_ERR_TOO_LARGE, "the suppression buffer is full");
}

/* The buffer time of a change (Kafka's TimeDefinitions) and how long after it the change is
 * emitted (Kafka's suppressDurationMillis: for untilWindowCloses, the window's grace, plus the
 * inactivity gap for sessions, as Kafka's GraphGraceSearchUtil). */
static eddy_err suppress_time(eddy__task *task, uint32_t node, const eddy__flow *in,
                              int64_t *time_ms, int64_t *duration_ms)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (n->suppress.time_limit_ms >= 0) {
        *time_ms = in->rec.timestamp_ms;
        *duration_ms = n->suppress.time_limit_ms;
        return EDDY_OK;
    }
    EDDY_ASSERT(n->suppress.window_node != EDDY__NONE);
    const eddy__node *w = eddy__node_at(task, n->suppress.window_node);
    eddy_slice key = in->rec.key;
    bool session = w->op == EDDY__OP_SESSION_AGGREGATE;
    size_t suffix = session ? EDDY__SESSION_SUFFIX_BYTES : EDDY__WINDOW_SUFFIX_BYTES;
    if (key.len < suffix)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "%s: a %zu-byte key is not a windowed key of %s", n->name, key.len,
                          w->name);
    const uint8_t *p = (const uint8_t *)key.data + key.len - suffix;
    *time_ms = session ? be64_read(p) : add_saturating(be64_read(p), w->window.size_ms);
    *duration_ms =
        session ? add_saturating(w->window.grace_ms, w->window.gap_ms) : w->window.grace_ms;
    return EDDY_OK;
}

/* Kafka's KTableSuppressProcessor: buffer the change, then emit what is due. */
eddy_err eddy__op_suppress(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    eddy_kv_store *store = task->stores[n->store];
    if (!in->rec.key.data) {
        skip_null(task, node, in, "key");
        return EDDY_OK;
    }
    observe(task, node, in->rec.timestamp_ms);
    int64_t time_ms = 0, duration_ms = 0;
    buffer_totals totals;
    eddy_err err = suppress_time(task, node, in, &time_ms, &duration_ms);
    if (err == EDDY_OK)
        err = totals_read(store, &totals);
    if (err == EDDY_OK)
        err = suppress_buffer(task, node, in, time_ms, &totals);
    if (err == EDDY_OK)
        err = suppress_enforce(task, node, in, duration_ms, &totals);
    if (err == EDDY_OK)
        err = totals_write(store, &totals);
    return err;
}

eddy_err eddy_window_store_value(eddy_slice stored, eddy_slice *aggregate, int64_t *timestamp_ms)
{
    if (!aggregate || !timestamp_ms)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "eddy_window_store_value: NULL argument");
    eddy_err err = eddy__sliding_value(stored, aggregate, timestamp_ms);
    return err == EDDY_OK ? EDDY_OK : eddy__fail(EDDY_ERR_SERIALIZATION, "%s", eddy_last_error());
}
