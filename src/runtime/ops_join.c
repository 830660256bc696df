/* Stream-stream joins, table-table joins and cogroup aggregation: the operators behind the
 * joins and cogroup of include/eddy/windows.h, with Kafka Streams' semantics. Each rule below
 * names the Kafka class it follows (org.apache.kafka.streams.kstream.internals).
 *
 * ## Stream-stream joins
 *
 * Kafka's KStreamImplJoin writes, for `left.join(right)`:
 *
 *     left ──> WINDOWED (KStreamJoinWindow) ──> JOINTHIS  (KStreamKStreamJoinLeftSide)  ──┐
 *                 │ puts into the left store      fetches the right store                 ├─> MERGE
 *     right ─> WINDOWED (KStreamJoinWindow) ──> JOINOTHER (KStreamKStreamJoinRightSide) ──┘
 *                 │ puts into the right store     fetches the left store
 *
 * A WINDOWED node forwards the record first and then, when its key is not null, puts it into
 * its side's window store, which keeps every record (store/window.h's dups layout, with a
 * sequence number per store and task). The store follows Kafka's window-store retention: it
 * tracks the largest timestamp put into it (observedStreamTime), skips a record timestamped at
 * or before observed - retention, and a fetch sees only records after observed - retention
 * (eddy__window_expire deletes them physically, every max(retention / 2, 1 minute) of observed
 * time, as often as Kafka drops a segment).
 *
 * A join side drops records with a null key or value, except in the outer sides (THIS of left
 * and outer joins, OTHER of outer joins), where a null key and a non-null value joins with null
 * at once (Kafka 3.7+, KIP-962). A record at t fetches the other store's records of its key from
 * max(0, t - before) to max(0, t + after) (for OTHER, before and after swap) and joins each, in
 * timestamp order, with the output timestamp max(t, other's timestamp). The joiner always gets
 * (left value, right value); the record it is given carries the output's key and timestamp and
 * the left value. A joiner that emits nothing (no eddy_result) joins to a null value, as a Java
 * joiner returning null.
 *
 * Left and outer joins (Kafka 3.1+, KIP-633) never emit a record joined with null early. Both
 * sides share a time tracker (stream time: the largest timestamp either join side processed;
 * minTime: a lower bound of the buffered times) and the outer store of unmatched records. An
 * outer side's record that matched nothing is:
 *   - joined with null at once when its window already closed (t + after < stream time, grace
 *     not counted, as Kafka), and otherwise
 *   - appended to the outer store.
 * Every match deletes the matched record's entry from the outer store. Each record of either
 * side (left joins too) whose timestamp equals the stream time first emits the buffered records
 * whose window closed: scanning the outer store in its order, an entry at t of the left side is
 * closed when t + after + grace < stream time (right side: t + before + grace), is joined with
 * null, forwarded with its own key and timestamp, and deleted. Exactly as in Kafka's
 * emitNonJoinedOuterRecords, the scan is skipped while minTime + this side's after + grace >=
 * stream time, stops once an open entry of each side was seen, and leaves minTime at the time
 * of the last entry it visited. Kafka also throttles the scan to once per second of wall-clock
 * time; eddy does not, so results never depend on the wall clock (Kafka's own join tests set
 * that interval to 0).
 *
 * ### Outer store layout (a key-value store, n->outer_store)
 *
 *     key    [timestamp, 8 bytes BE][side, 1 byte: 1 left, 0 right][record key]
 *     value  ([length, 4 bytes BE][record value])...  every unmatched record with that key,
 *                                                      side and timestamp, in arrival order
 *
 * This is Kafka's TimestampedKeyAndJoinSide key (so the store is ordered by time, then right
 * before left, then key) with a list value (Kafka's ListValueStore): a match deletes the whole
 * list, as Kafka's putIfAbsent(key, null). Timestamps are >= 0 (the task drops negative ones),
 * so byte order is time order.
 *
 * ## Table-table joins
 *
 * JOINTHIS gets the left table's changes and reads the right table through its getter; JOINOTHER
 * the other way round; both feed a MERGE. As Kafka's KTableKTableInnerJoin, LeftJoin, RightJoin
 * (the OTHER side of a left join) and OuterJoin, with `other` the other table's current value:
 *
 *     inner   other null: nothing; else (join(new) or null, join(old) or null)
 *     left    THIS: other, new and old all null: nothing; else new/old joined when non-null
 *             OTHER: left row null: nothing; else (join(left, new), join(left, old))
 *     outer   other, new and old all null: nothing; else each side joined unless it and other
 *             are both null
 *
 * so a deletion that ends a join forwards (null, null), a tombstone. The old joined value is
 * computed only when a descendant needs old values (task->nodes[node].send_old). Kafka has the
 * left table of left and outer joins, and the right table of outer joins, send old values (they
 * decide whether a deletion is forwarded): eddy__table_join_needs_old() tells task.c. The
 * output's timestamp is the change's: eddy's table stores keep no timestamps, where Kafka takes
 * the larger of the two rows' timestamps. When the MERGE is materialized (its `store`), the join
 * side writes the joined value there before forwarding, as Kafka's KTableKTableJoinMerger.
 *
 * ## Cogroup
 *
 * Each input's AGGREGATE node is Kafka's KStreamAggregate over the one shared store: records
 * with a null key or value are skipped; the shared initializer starts a new key; this input's
 * aggregator adds the record; the change is forwarded unless the store's cache forwards it. */
#include <inttypes.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/logging.h"
#include "runtime/task_internal.h"
#include "store/window.h"

#define OUTER_KEY_PREFIX_BYTES 9 /* [timestamp 8][side 1] */
#define OUTER_LIST_LENGTH_BYTES 4
#define OUTER_SIDE_RIGHT 0
#define OUTER_SIDE_LEFT 1
/* A join's window store is expired physically each time its observed time has moved on by
 * max(retention / 2, this): Kafka's segment interval, so as much is kept as Kafka's segmented
 * stores keep, and the full scan of eddy__window_expire stays rare. */
#define JOIN_EXPIRE_INTERVAL_MIN_MS 60000
/* Keys up to this size are built on the stack; longer ones are allocated. */
#define JOIN_KEY_INLINE_BYTES 256

/* ---- Small helpers --------------------------------------------------------------------------- */

/* A byte buffer that lives on the stack while small. */
typedef struct join_buffer {
    uint8_t inline_bytes[JOIN_KEY_INLINE_BYTES];
    uint8_t *data;
    size_t len;
} join_buffer;

static eddy_err buffer_init(join_buffer *b, size_t len)
{
    b->len = len;
    b->data = len <= sizeof b->inline_bytes ? b->inline_bytes : eddy__malloc(len);
    if (!b->data)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory making a %zu-byte join key", len);
    return EDDY_OK;
}

static void buffer_free(join_buffer *b)
{
    if (b->data != b->inline_bytes)
        eddy__free(b->data);
    b->data = NULL;
}

static eddy_slice buffer_slice(const join_buffer *b)
{
    return (eddy_slice){b->data, b->len};
}

/* Calls the node's value joiner on (left, right) and captures what it emits into `into` (null
 * when it emits nothing). The record it gets carries `key`, `timestamp_ms` and the left value. */
static eddy_err call_value_joiner(eddy__task *task, uint32_t node, const eddy__flow *in,
                                  eddy_slice key, int64_t timestamp_ms, eddy_slice left,
                                  eddy_slice right, eddy__capture *into)
{
    const eddy__node *n = eddy__node_at(task, node);
    eddy__flow side = eddy__flow_with(in, key, left, (eddy_slice){0}, false);
    side.rec.timestamp_ms = timestamp_ms;
    eddy_ctx ctx;
    eddy__ctx_init(&ctx, task, node, &side, EDDY__CTX_RESULT);
    n->value_joiner(&ctx, &side.rec, left, right, n->opaque);
    eddy_err err = ctx.err;
    if (err == EDDY_OK)
        err = eddy__capture_set(into, ctx.value.slice);
    eddy__ctx_done(&ctx);
    return err;
}

/* Joins (left, right) and forwards (key, joined) at timestamp_ms to the node's children. */
static eddy_err join_forward(eddy__task *task, uint32_t node, const eddy__flow *in, eddy_slice key,
                             int64_t timestamp_ms, eddy_slice left, eddy_slice right)
{
    eddy__capture joined;
    eddy__capture_init(&joined);
    eddy_err err = call_value_joiner(task, node, in, key, timestamp_ms, left, right, &joined);
    if (err == EDDY_OK) {
        eddy__flow out = eddy__flow_with(in, key, joined.slice, (eddy_slice){0}, false);
        out.rec.timestamp_ms = timestamp_ms;
        err = eddy__forward_children(task, node, &out);
    }
    eddy__capture_free(&joined);
    return err;
}

/* ---- Stream-stream joins: the WINDOWED node -------------------------------------------------- */

static eddy__join_state *join_state(eddy__task *task, uint32_t node)
{
    eddy__join_state *state = &task->nodes[node].join;
    if (!state->started) {
        state->started = true;
        state->observed_ms = -1;
        state->stream_time_ms = -1;
        state->min_time_ms = INT64_MAX;
    }
    return state;
}

/* Kafka's window-store put with retainDuplicates: observed time moves first; a record at or
 * before observed - retention is skipped; a null value adds nothing. */
static eddy_err window_buffer_put(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    const eddy__store *def = &task->topology->stores[n->store];
    eddy_kv_store *store = task->stores[n->store];
    eddy__join_state *state = join_state(task, node);
    int64_t ts = in->rec.timestamp_ms;
    if (ts > state->observed_ms)
        state->observed_ms = ts;
    int64_t retention = def->retention_ms;
    if (retention >= 0 && ts <= state->observed_ms - retention) {
        EDDY_DEBUG("runtime",
                   "task %s: %s skips a record at %" PRId64 " for the expired store %s "
                   "(observed time %" PRId64 ", retention %" PRId64 " ms)",
                   task->id, n->name, ts, def->name, state->observed_ms, retention);
        return EDDY_OK;
    }
    if (!in->rec.value.data)
        return EDDY_OK;
    eddy_err err = eddy__window_put_dup(store, in->rec.key, ts, &state->sequence, in->rec.value);
    if (err != EDDY_OK || retention < 0)
        return err;
    /* Physical expiry now and then; fetches already hide what it will delete. */
    int64_t live_from = state->observed_ms - retention + 1;
    int64_t interval =
        retention / 2 > JOIN_EXPIRE_INTERVAL_MIN_MS ? retention / 2 : JOIN_EXPIRE_INTERVAL_MIN_MS;
    if (live_from - state->expired_ms >= interval) {
        err = eddy__window_expire(eddy__task_expiry_store(task, n->store), false, true, live_from,
                                  NULL);
        if (err == EDDY_OK)
            state->expired_ms = live_from;
    }
    return err;
}

/* KStreamJoinWindow: forward, then buffer (a null key is never joined, so not buffered). */
eddy_err eddy__op_stream_join_window(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    EDDY_ASSERT(n->store != EDDY__NONE && task->stores[n->store]);
    eddy_err err = eddy__forward_children(task, node, in);
    if (err != EDDY_OK || !in->rec.key.data)
        return err;
    return window_buffer_put(task, node, in);
}

/* ---- Stream-stream joins: the join sides ----------------------------------------------------- */

/* The other side's join node: the join node whose WINDOWED parent writes the store this side
 * reads. Cached in the node's state. */
static eddy_err join_peer(eddy__task *task, uint32_t node, uint32_t *out)
{
    eddy__join_state *state = join_state(task, node);
    if (state->peer_plus_one) {
        *out = state->peer_plus_one - 1;
        return EDDY_OK;
    }
    const eddy__topology *t = task->topology;
    const eddy__node *n = &t->nodes[node];
    eddy__op peer_op =
        n->op == EDDY__OP_STREAM_JOIN_THIS ? EDDY__OP_STREAM_JOIN_OTHER : EDDY__OP_STREAM_JOIN_THIS;
    const eddy__subtopology *sub = &t->subtopologies[task->subtopology];
    for (uint32_t i = 0; i < sub->nodes.count; i++) {
        uint32_t candidate = sub->nodes.items[i];
        const eddy__node *c = &t->nodes[candidate];
        if (c->op != peer_op || c->parents.count == 0)
            continue;
        const eddy__node *window = &t->nodes[c->parents.items[0]];
        if (window->op == EDDY__OP_STREAM_JOIN_WINDOW && window->store == n->join_store &&
            c->join_store != EDDY__NONE && n->parents.count > 0 &&
            t->nodes[n->parents.items[0]].store == c->join_store) {
            state->peer_plus_one = candidate + 1;
            *out = candidate;
            return EDDY_OK;
        }
    }
    return eddy__fail(EDDY_ERR_STATE, "processor %s: the other side of its join is missing",
                      n->name);
}

/* What one join side needs while it runs. */
typedef struct join_side {
    eddy__task *task;
    uint32_t node;
    const eddy__flow *in;
    bool left;                  /* JOINTHIS: the record is the left one */
    bool outer;                 /* its unmatched records join with null */
    int64_t before_ms;          /* other records from t - before_ms ... */
    int64_t after_ms;           /* ... to t + after_ms */
    eddy__join_state *tracker;  /* shared with the other side (on the JOINTHIS node) */
    eddy_kv_store *outer_store; /* NULL for inner joins */
    uint32_t matches;
} join_side;

static size_t outer_key(uint8_t *out, int64_t timestamp_ms, bool left, eddy_slice key)
{
    eddy__be64_put(out, (uint64_t)timestamp_ms);
    out[8] = left ? OUTER_SIDE_LEFT : OUTER_SIDE_RIGHT;
    if (key.len)
        memcpy(out + OUTER_KEY_PREFIX_BYTES, key.data, key.len);
    return OUTER_KEY_PREFIX_BYTES + key.len;
}

/* Appends the record to its (timestamp, side, key) list in the outer store. */
static eddy_err outer_store_append(const join_side *s)
{
    const eddy_record *rec = &s->in->rec;
    join_buffer key, value;
    eddy_err err = buffer_init(&key, OUTER_KEY_PREFIX_BYTES + rec->key.len);
    if (err != EDDY_OK)
        return err;
    outer_key(key.data, rec->timestamp_ms, s->left, rec->key);
    eddy__capture list = {0};
    err = eddy__store_get_copy(s->outer_store, buffer_slice(&key), &list);
    if (err == EDDY_OK && rec->value.len > UINT32_MAX - OUTER_LIST_LENGTH_BYTES)
        err = eddy__fail(EDDY_ERR_TOO_LARGE, "a %zu-byte value is too large to buffer",
                         rec->value.len);
    if (err == EDDY_OK)
        err = buffer_init(&value, list.slice.len + OUTER_LIST_LENGTH_BYTES + rec->value.len);
    if (err == EDDY_OK) {
        if (list.slice.len)
            memcpy(value.data, list.slice.data, list.slice.len);
        eddy__be32_put(value.data + list.slice.len, (uint32_t)rec->value.len);
        if (rec->value.len)
            memcpy(value.data + list.slice.len + OUTER_LIST_LENGTH_BYTES, rec->value.data,
                   rec->value.len);
        err = eddy_kv_put(s->outer_store, buffer_slice(&key), buffer_slice(&value));
        buffer_free(&value);
    }
    eddy__capture_free(&list);
    buffer_free(&key);
    return err;
}

/* A match: the other record is joined, so its unmatched entry (if any) goes. */
static eddy_err outer_store_forget(const join_side *s, int64_t other_timestamp_ms)
{
    join_buffer key;
    eddy_err err = buffer_init(&key, OUTER_KEY_PREFIX_BYTES + s->in->rec.key.len);
    if (err != EDDY_OK)
        return err;
    outer_key(key.data, other_timestamp_ms, !s->left, s->in->rec.key);
    eddy_slice value;
    err = eddy_kv_get(s->outer_store, buffer_slice(&key), &value);
    if (err == EDDY_OK)
        err = eddy_kv_delete(s->outer_store, buffer_slice(&key));
    else if (err == EDDY_ERR_NOT_FOUND)
        err = EDDY_OK;
    buffer_free(&key);
    return err;
}

/* Joins every value of one outer-store entry with null and forwards it. */
static eddy_err outer_entry_emit(const join_side *s, eddy_slice store_key, eddy_slice list)
{
    const uint8_t *bytes = store_key.data;
    int64_t timestamp_ms = (int64_t)eddy__be64_get(bytes);
    bool left = bytes[8] == OUTER_SIDE_LEFT;
    eddy_slice key = {bytes + OUTER_KEY_PREFIX_BYTES, store_key.len - OUTER_KEY_PREFIX_BYTES};
    const uint8_t *p = list.data;
    size_t rest = list.len;
    while (rest > 0) {
        if (rest < OUTER_LIST_LENGTH_BYTES || eddy__be32_get(p) > rest - OUTER_LIST_LENGTH_BYTES)
            return eddy__fail(EDDY_ERR_CORRUPT, "store %s: a malformed unmatched-records list",
                              eddy_kv_store_name(s->outer_store));
        eddy_slice value = {p + OUTER_LIST_LENGTH_BYTES, eddy__be32_get(p)};
        eddy_slice none = {0};
        eddy_err err = join_forward(s->task, s->node, s->in, key, timestamp_ms, left ? value : none,
                                    left ? none : value);
        if (err != EDDY_OK)
            return err;
        p += OUTER_LIST_LENGTH_BYTES + value.len;
        rest -= OUTER_LIST_LENGTH_BYTES + value.len;
    }
    return EDDY_OK;
}

/* Kafka's emitNonJoinedOuterRecords (see the file comment), without the wall-clock throttle. */
static eddy_err outer_store_emit_closed(const join_side *s)
{
    const eddy__join *j = &eddy__node_at(s->task, s->node)->join;
    eddy__join_state *tracker = s->tracker;
    /* Kafka's minTime starts at Long.MAX_VALUE, where its sum overflows and the scan runs. */
    if (tracker->min_time_ms != INT64_MAX &&
        tracker->min_time_ms + s->after_ms + j->grace_ms >= tracker->stream_time_ms)
        return EDDY_OK;
    tracker->min_time_ms = INT64_MAX;
    eddy_kv_iter *iter;
    eddy_err err = eddy_kv_all(s->outer_store, &iter);
    if (err != EDDY_OK)
        return err;
    bool left_open = false, right_open = false;
    eddy_slice key, value;
    while ((err = eddy_kv_iter_next(iter, &key, &value)) == EDDY_OK) {
        if (key.len < OUTER_KEY_PREFIX_BYTES) {
            err = eddy__fail(EDDY_ERR_CORRUPT, "store %s: a %zu-byte key is too short",
                             eddy_kv_store_name(s->outer_store), key.len);
            break;
        }
        const uint8_t *bytes = key.data;
        int64_t timestamp_ms = (int64_t)eddy__be64_get(bytes);
        bool left = bytes[8] == OUTER_SIDE_LEFT;
        tracker->min_time_ms = timestamp_ms;
        if (left_open && right_open)
            break;
        int64_t look_ms = left ? j->after_ms : j->before_ms;
        if (timestamp_ms + look_ms + j->grace_ms >= tracker->stream_time_ms) {
            if (left)
                left_open = true;
            else
                right_open = true;
            continue;
        }
        err = outer_entry_emit(s, key, value);
        if (err == EDDY_OK)
            err = eddy_kv_delete(s->outer_store, key);
        if (err != EDDY_OK)
            break;
    }
    eddy_kv_iter_destroy(iter);
    return err == EDDY_ERR_END ? EDDY_OK : err;
}

/* One record of the other side's store within the window: join and forward. */
static eddy_err join_match(void *opaque, int64_t other_timestamp_ms, eddy_slice other_value,
                           eddy_slice store_key)
{
    (void)store_key;
    join_side *s = opaque;
    s->matches++;
    if (s->outer_store) {
        eddy_err err = outer_store_forget(s, other_timestamp_ms);
        if (err != EDDY_OK)
            return err;
    }
    const eddy_record *rec = &s->in->rec;
    int64_t timestamp_ms =
        rec->timestamp_ms > other_timestamp_ms ? rec->timestamp_ms : other_timestamp_ms;
    return join_forward(s->task, s->node, s->in, rec->key, timestamp_ms,
                        s->left ? rec->value : other_value, s->left ? other_value : rec->value);
}

/* The earliest time the other side's store still shows (Kafka's observed - retention + 1). */
static int64_t other_store_live_from(eddy__task *task, uint32_t peer)
{
    const eddy__node *p = eddy__node_at(task, peer);
    uint32_t window = p->parents.items[0];
    const eddy__join_state *state = &task->nodes[window].join;
    int64_t retention = task->topology->stores[eddy__node_at(task, window)->store].retention_ms;
    if (!state->started || state->observed_ms < 0 || retention < 0)
        return 0;
    return state->observed_ms - retention + 1;
}

static eddy_err join_side_init(eddy__task *task, uint32_t node, const eddy__flow *in, join_side *s,
                               uint32_t *peer)
{
    const eddy__node *n = eddy__node_at(task, node);
    const eddy__join *j = &n->join;
    eddy_err err = join_peer(task, node, peer);
    if (err != EDDY_OK)
        return err;
    *s = (join_side){.task = task, .node = node, .in = in};
    s->left = n->op == EDDY__OP_STREAM_JOIN_THIS;
    s->outer = s->left ? j->kind != EDDY__JOIN_INNER : j->kind == EDDY__JOIN_OUTER;
    s->before_ms = s->left ? j->before_ms : j->after_ms;
    s->after_ms = s->left ? j->after_ms : j->before_ms;
    s->tracker = join_state(task, s->left ? node : *peer);
    if (n->outer_store != EDDY__NONE) {
        s->outer_store = task->stores[n->outer_store];
        if (!s->outer_store)
            return eddy__fail(EDDY_ERR_STATE, "processor %s: its store %s is not connected",
                              n->name, task->topology->stores[n->outer_store].name);
    }
    if (!task->stores[n->join_store])
        return eddy__fail(EDDY_ERR_STATE, "processor %s: its store %s is not connected", n->name,
                          task->topology->stores[n->join_store].name);
    return EDDY_OK;
}

/* KStreamKStreamJoin's processor, for either side (see the file comment). */
eddy_err eddy__op_stream_join(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    join_side s;
    uint32_t peer = EDDY__NONE;
    eddy_err err = join_side_init(task, node, in, &s, &peer);
    if (err != EDDY_OK)
        return err;
    const eddy_record *rec = &in->rec;
    int64_t ts = rec->timestamp_ms;
    if (ts > s.tracker->stream_time_ms)
        s.tracker->stream_time_ms = ts;
    eddy_slice none = {0};
    if (s.outer && !rec->key.data && rec->value.data)
        return join_forward(task, node, in, rec->key, ts, s.left ? rec->value : none,
                            s.left ? none : rec->value);
    if (!rec->key.data || !rec->value.data) {
        EDDY_DEBUG("runtime",
                   "task %s: %s skips a record with a null key or value (offset %" PRId64 ")",
                   task->id, n->name, rec->offset);
        return EDDY_OK;
    }
    if (s.outer_store && ts == s.tracker->stream_time_ms) {
        err = outer_store_emit_closed(&s);
        if (err != EDDY_OK)
            return err;
    }
    int64_t from = ts - s.before_ms > 0 ? ts - s.before_ms : 0;
    int64_t to = ts + s.after_ms > 0 ? ts + s.after_ms : 0;
    int64_t live_from = other_store_live_from(task, peer);
    err = eddy__window_fetch(task->stores[n->join_store], rec->key, true,
                             from > live_from ? from : live_from, to, join_match, &s);
    if (err != EDDY_OK || !s.outer || s.matches > 0)
        return err;
    if (!s.outer_store || to < s.tracker->stream_time_ms)
        return join_forward(task, node, in, rec->key, ts, s.left ? rec->value : none,
                            s.left ? none : rec->value);
    if (ts < s.tracker->min_time_ms)
        s.tracker->min_time_ms = ts;
    return outer_store_append(&s);
}

/* ---- Table-table joins ----------------------------------------------------------------------- */

bool eddy__table_join_needs_old(const eddy__topology *topology, uint32_t child)
{
    const eddy__node *c = &topology->nodes[child];
    if (c->op == EDDY__OP_TABLE_JOIN_THIS)
        return c->join.kind != EDDY__JOIN_INNER;
    if (c->op == EDDY__OP_TABLE_JOIN_OTHER)
        return c->join.kind == EDDY__JOIN_OUTER;
    return false;
}

/* Joins this side's value with the other table's, in (left, right) order; null stays null only
 * if `apply` is false. */
static eddy_err table_join_side(eddy__task *task, uint32_t node, const eddy__flow *in, bool apply,
                                eddy_slice this_value, eddy_slice other, eddy__capture *into)
{
    if (!apply)
        return eddy__capture_set(into, (eddy_slice){0});
    bool left = eddy__node_at(task, node)->op == EDDY__OP_TABLE_JOIN_THIS;
    return call_value_joiner(task, node, in, in->rec.key, in->rec.timestamp_ms,
                             left ? this_value : other, left ? other : this_value, into);
}

/* Writes the joined row into the MERGE's store when the joined table is materialized. */
static eddy_err table_join_materialize(eddy__task *task, uint32_t node, eddy_slice key,
                                       eddy_slice value)
{
    const eddy__node *n = eddy__node_at(task, node);
    for (uint32_t i = 0; i < n->children.count; i++) {
        const eddy__node *merge = eddy__node_at(task, n->children.items[i]);
        if (merge->op != EDDY__OP_MERGE || merge->store == EDDY__NONE)
            continue;
        eddy_err err = eddy__store_write(task->stores[merge->store], key, value);
        if (err != EDDY_OK)
            return err;
    }
    return EDDY_OK;
}

/* KTableKTableInnerJoin / LeftJoin / RightJoin / OuterJoin (see the file comment). */
eddy_err eddy__op_table_join(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (!in->rec.key.data) {
        EDDY_DEBUG("runtime", "task %s: %s skips a change with a null key (offset %" PRId64 ")",
                   task->id, n->name, in->rec.offset);
        return EDDY_OK;
    }
    bool this_side = n->op == EDDY__OP_TABLE_JOIN_THIS;
    bool send_old = task->nodes[node].send_old;
    eddy__capture other = {0}, new_joined = {0}, old_joined = {0};
    eddy_err err = eddy__table_get(task, n->join_table, n->join_store, in, &other);
    eddy_slice o = other.slice, new_value = in->rec.value, old_value = in->old;
    bool skip, apply_new, apply_old;
    switch (n->join.kind) {
    case EDDY__JOIN_INNER:
        skip = !o.data;
        apply_new = new_value.data != NULL;
        apply_old = send_old && old_value.data;
        break;
    case EDDY__JOIN_LEFT:
        if (this_side) {
            skip = !o.data && !new_value.data && !old_value.data;
            apply_new = new_value.data != NULL;
            apply_old = send_old && old_value.data;
        } else { /* KTableKTableRightJoin: the left row joins whatever the right side is */
            skip = !o.data;
            apply_new = true;
            apply_old = send_old;
        }
        break;
    default: /* outer */
        skip = !o.data && !new_value.data && !old_value.data;
        apply_new = o.data || new_value.data;
        apply_old = send_old && (o.data || old_value.data);
        break;
    }
    if (err == EDDY_OK && !skip)
        err = table_join_side(task, node, in, apply_new, new_value, o, &new_joined);
    if (err == EDDY_OK && !skip)
        err = table_join_side(task, node, in, apply_old, old_value, o, &old_joined);
    if (err == EDDY_OK && !skip)
        err = table_join_materialize(task, node, in->rec.key, new_joined.slice);
    if (err == EDDY_OK && !skip) {
        eddy__flow out = eddy__flow_with(in, in->rec.key, new_joined.slice, old_joined.slice, true);
        err = eddy__forward_children(task, node, &out);
    }
    eddy__capture_free(&other);
    eddy__capture_free(&new_joined);
    eddy__capture_free(&old_joined);
    return err;
}

/* ---- Cogroup --------------------------------------------------------------------------------- */

/* The shared initializer's value, into `into`. */
static eddy_err cogroup_initial(eddy__task *task, uint32_t node, const eddy__flow *in,
                                eddy__capture *into)
{
    const eddy__node *n = eddy__node_at(task, node);
    eddy_ctx ctx;
    eddy__ctx_init(&ctx, task, node, in, EDDY__CTX_RESULT);
    n->initializer(&ctx, n->initializer_opaque);
    eddy_err err = ctx.err;
    if (err == EDDY_OK)
        err = eddy__capture_set(into, ctx.value.slice);
    eddy__ctx_done(&ctx);
    return err;
}

/* KStreamAggregate of one cogrouped input over the shared store. */
eddy_err eddy__op_cogroup_aggregate(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (!in->rec.key.data || !in->rec.value.data) {
        EDDY_DEBUG("runtime",
                   "task %s: %s skips a record with a null key or value (offset %" PRId64 ")",
                   task->id, n->name, in->rec.offset);
        return EDDY_OK;
    }
    eddy_kv_store *store = task->stores[n->store];
    EDDY_ASSERT(store != NULL);
    eddy__capture old = {0}, init = {0};
    eddy_err err = eddy__store_get_copy(store, in->rec.key, &old);
    eddy_slice agg = old.slice;
    if (err == EDDY_OK && !agg.data) {
        err = cogroup_initial(task, node, in, &init);
        agg = init.slice;
    }
    eddy_ctx ctx;
    eddy__ctx_init(&ctx, task, node, in, EDDY__CTX_RESULT);
    if (err == EDDY_OK) {
        n->aggregator(&ctx, &in->rec, agg, n->opaque);
        err = ctx.err;
    }
    eddy_slice result = ctx.value.slice;
    if (err == EDDY_OK)
        err = eddy__store_write(store, in->rec.key, result);
    if (err == EDDY_OK && !task->nodes[node].deferred) {
        eddy__flow out =
            eddy__flow_with(in, in->rec.key, result,
                            task->nodes[node].send_old ? old.slice : (eddy_slice){0}, true);
        err = eddy__forward_children(task, node, &out);
    }
    eddy__ctx_done(&ctx);
    eddy__capture_free(&old);
    eddy__capture_free(&init);
    return err;
}
