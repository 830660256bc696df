/* Foreign-key table-table joins (KIP-213): the five operators behind eddy_table_fk_join and
 * eddy_table_fk_left_join (include/eddy/windows.h), with the semantics of Kafka Streams' classes
 * of the same roles (org.apache.kafka.streams.kstream.internals.foreignkeyjoin), and the bytes
 * they exchange through the two internal topics and keep in the subscription store.
 *
 *   left table ──> SEND ──> registration topic (key: foreign key)
 *                               │
 *                               v   on the right table's partitions
 *                            RECEIVE ──> SUBSCRIPTION_JOIN ──┐
 *                               │ subscription store          ├──> response topic (key: left key)
 *   right table ─────────> FOREIGN_JOIN (prefix scan) ───────┘            │
 *                                                                         v   on the left's
 *                                          output table <── RESPONSE_JOIN (stale answers dropped)
 *
 * ## Instructions (Kafka's SubscriptionWrapper.Instruction, same byte values)
 *
 *     0 DELETE_KEY_NO_PROPAGATE                 unsubscribe; answer nothing
 *     1 DELETE_KEY_AND_PROPAGATE                unsubscribe; answer null (the result goes)
 *     2 PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE   subscribe; answer the right value, or null
 *     3 PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE      subscribe; answer only when the right row exists
 *
 * SEND (Kafka's SubscriptionSendProcessorSupplier) gets a left change (new value N, old O: the
 * left table always sends old values here) and sends, with FK(v) the extractor's result:
 *
 *   left join   O set:  FK(O) set and FK(O) != FK(N)  ->  1 to FK(O)
 *                       then 2 to FK(N)   (N null or FK(N) null: to a null foreign key)
 *               else N set:               2 to FK(N)  (maybe a null foreign key)
 *   inner join  O set:  FK(O) null: dropped;  N null: 1 to FK(O);
 *                       else FK(N) null: dropped; FK(O) != FK(N): 0 to FK(O); then 2 to FK(N)
 *               else N set:  FK(N) null: dropped; else 3 to FK(N)
 *
 * Foreign keys are compared as bytes. A dropped change (Kafka: "Skipping record due to null
 * foreign key") is counted as a dropped record and logged at warning level.
 *
 * RECEIVE (SubscriptionReceiveProcessorSupplier) drops a subscription with a null foreign key
 * unless its instruction is 2; otherwise, for a non-null foreign key, instructions 0 and 1
 * delete the subscription [FK][PK] from the store and 2 and 3 put it; then it passes the
 * subscription on. SUBSCRIPTION_JOIN (SubscriptionJoinProcessorSupplier) reads the right
 * table's value of the foreign key (null for a null key) and answers as the instruction says.
 * FOREIGN_JOIN (ForeignTableJoinProcessorSupplier) answers every subscriber of a changed right
 * row (a prefix scan of the store by foreign key) with the row's new value, null for a
 * deletion; a right change with a null key is dropped. RESPONSE_JOIN (ResponseJoinProcessor-
 * Supplier) reads the left table's current value of the key: when its hash differs from the
 * answer's (the left row changed since, or is gone while the answer carries a hash, or the
 * other way round) the answer is stale and dropped (counted, logged at debug level);
 * otherwise it forwards, as a change to the output table,
 *
 *     null (a tombstone)       when the right value is null and (inner join, or no left row)
 *     joiner(left, right)      otherwise (left join without a right value: right is null)
 *
 * Timestamps: an answer of SUBSCRIPTION_JOIN carries its subscription's timestamp (Kafka: the
 * larger of it and the right row's, which eddy's table stores do not keep), one of FOREIGN_JOIN
 * the right change's, and the output the answer's.
 *
 * ## Byte formats (internal to eddy: both topics are written and read by the same application)
 *
 * The hash is MurmurHash3 x64-128 (seed 104729, Kafka's Murmur3.hash128) of the left value's
 * bytes, written as two 8-byte big-endian words; a null left value has no hash.
 *
 *     subscription record (registration topic)
 *       key    the foreign key's bytes (null for a left join's null foreign key)
 *       value  [version 1 = 0][instruction 1][flags 1][hash 16][left key ...]
 *              flags: 0x01 = the hash is present (otherwise its 16 bytes are zero)
 *
 *     subscription store entry (KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-n)
 *       key    [foreign key length 4, big-endian][foreign key][left key]  (Kafka's
 *              CombinedKeySchema: a prefix scan by [length][foreign key] finds the subscribers)
 *       value  the subscription's first 19 bytes: [version][instruction][flags][hash]
 *
 *     response record (response topic)
 *       key    the left key
 *       value  [version 1 = 0][flags 1][hash 16][right value ...]
 *              flags: 0x01 = the hash is present, 0x02 = the right value is present (not null)
 *
 * A record with a higher version or a malformed one fails the task (EDDY_ERR_CORRUPT), as
 * Kafka's wrappers throw on an unknown version. */
#include <inttypes.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/logging.h"
#include "runtime/task_internal.h"

#define FK_VERSION 0
#define FK_HASH_BYTES 16
#define FK_HASH_SEED 104729u
#define FK_FLAG_HASH 0x01
#define FK_FLAG_VALUE 0x02
#define FK_KEY_LENGTH_BYTES 4
/* [version][instruction][flags][hash] */
#define FK_SUBSCRIPTION_HEADER_BYTES (3 + FK_HASH_BYTES)
/* [version][flags][hash] */
#define FK_RESPONSE_HEADER_BYTES (2 + FK_HASH_BYTES)
/* Records up to this size are built on the stack; longer ones are allocated. */
#define FK_INLINE_BYTES 256

typedef enum fk_instruction {
    FK_DELETE_KEY_NO_PROPAGATE = 0,
    FK_DELETE_KEY_AND_PROPAGATE = 1,
    FK_PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE = 2,
    FK_PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE = 3,
} fk_instruction;

/* A left value's hash; absent for a null value (Kafka's null long[]). */
typedef struct fk_hash {
    bool present;
    uint8_t bytes[FK_HASH_BYTES];
} fk_hash;

/* A subscription record's value, parsed (pointers into the record). */
typedef struct fk_subscription {
    fk_instruction instruction;
    fk_hash hash;
    eddy_slice primary_key;
    eddy_slice header; /* the bytes the store keeps */
} fk_subscription;

/* ---- Hashing --------------------------------------------------------------------------------- */

static uint64_t rotate_left(uint64_t x, int bits)
{
    return (x << bits) | (x >> (64 - bits));
}

static uint64_t final_mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static uint64_t little_endian_64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

void eddy__murmur3_128(const void *data, size_t len, uint32_t seed, uint64_t out[2])
{
    static const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
    const uint8_t *bytes = data;
    uint64_t h1 = seed, h2 = seed;
    size_t blocks = len / 16;
    for (size_t i = 0; i < blocks; i++) {
        uint64_t k1 = little_endian_64(bytes + 16 * i), k2 = little_endian_64(bytes + 16 * i + 8);
        h1 ^= rotate_left(k1 * c1, 31) * c2;
        h1 = (rotate_left(h1, 27) + h2) * 5 + 0x52dce729;
        h2 ^= rotate_left(k2 * c2, 33) * c1;
        h2 = (rotate_left(h2, 31) + h1) * 5 + 0x38495ab5;
    }
    const uint8_t *tail = bytes + 16 * blocks;
    size_t rest = len % 16;
    uint64_t k1 = 0, k2 = 0;
    for (size_t i = 8; i < rest; i++)
        k2 |= (uint64_t)tail[i] << (8 * (i - 8));
    for (size_t i = 0; i < rest && i < 8; i++)
        k1 |= (uint64_t)tail[i] << (8 * i);
    if (rest > 8)
        h2 ^= rotate_left(k2 * c2, 33) * c1;
    if (rest > 0)
        h1 ^= rotate_left(k1 * c1, 31) * c2;
    h1 ^= (uint64_t)len;
    h2 ^= (uint64_t)len;
    h1 += h2;
    h2 += h1;
    h1 = final_mix(h1);
    h2 = final_mix(h2);
    h1 += h2;
    h2 += h1;
    out[0] = h1;
    out[1] = h2;
}

static fk_hash hash_of(eddy_slice value)
{
    fk_hash hash = {0};
    if (!value.data)
        return hash;
    uint64_t words[2];
    eddy__murmur3_128(value.data, value.len, FK_HASH_SEED, words);
    eddy__be64_put(hash.bytes, words[0]);
    eddy__be64_put(hash.bytes + 8, words[1]);
    hash.present = true;
    return hash;
}

/* Kafka's Arrays.equals on the two long[] (null equals null only). */
static bool hash_equal(const fk_hash *a, const fk_hash *b)
{
    if (a->present != b->present)
        return false;
    return !a->present || memcmp(a->bytes, b->bytes, FK_HASH_BYTES) == 0;
}

/* ---- Small helpers --------------------------------------------------------------------------- */

/* A byte buffer that lives on the stack while small. */
typedef struct fk_buffer {
    uint8_t inline_bytes[FK_INLINE_BYTES];
    uint8_t *data;
    size_t len;
} fk_buffer;

static eddy_err buffer_init(fk_buffer *b, size_t len)
{
    b->len = len;
    b->data = len <= sizeof b->inline_bytes ? b->inline_bytes : eddy__malloc(len);
    if (!b->data)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory making a %zu-byte join record", len);
    return EDDY_OK;
}

static void buffer_free(fk_buffer *b)
{
    if (b->data != b->inline_bytes)
        eddy__free(b->data);
    b->data = NULL;
}

static eddy_slice buffer_slice(const fk_buffer *b)
{
    return (eddy_slice){b->data, b->len};
}

/* Byte equality of two nullable slices (null equals null only). */
static bool slice_equal(eddy_slice a, eddy_slice b)
{
    if (!a.data || !b.data)
        return !a.data && !b.data;
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* Counts and logs a record a join processor drops. */
static void fk_drop(eddy__task *task, uint32_t node, const eddy__flow *in, const char *why)
{
    EDDY_WARN("runtime", "task %s: %s skips a record: %s (topic %s offset %" PRId64 ")", task->id,
              eddy__node_at(task, node)->name, why, in->rec.topic ? in->rec.topic : "?",
              in->rec.offset);
    eddy__task_count_dropped(task, &task->nodes[node].dropped_records);
}

/* The [length][foreign key] prefix of the subscription store's keys, followed by `primary`
 * (null: the prefix only), into `key`. */
static eddy_err combined_key(eddy_slice foreign, eddy_slice primary, fk_buffer *key)
{
    if (foreign.len > UINT32_MAX)
        return eddy__fail(EDDY_ERR_TOO_LARGE, "a %zu-byte foreign key is too long", foreign.len);
    eddy_err err = buffer_init(key, FK_KEY_LENGTH_BYTES + foreign.len + primary.len);
    if (err != EDDY_OK)
        return err;
    eddy__be32_put(key->data, (uint32_t)foreign.len);
    if (foreign.len)
        memcpy(key->data + FK_KEY_LENGTH_BYTES, foreign.data, foreign.len);
    if (primary.len)
        memcpy(key->data + FK_KEY_LENGTH_BYTES + foreign.len, primary.data, primary.len);
    return EDDY_OK;
}

/* Parses a subscription record's value. EDDY_ERR_CORRUPT when malformed. */
static eddy_err subscription_parse(const eddy__task *task, uint32_t node, eddy_slice value,
                                   fk_subscription *out)
{
    const uint8_t *bytes = value.data;
    if (!bytes || value.len < FK_SUBSCRIPTION_HEADER_BYTES || bytes[0] != FK_VERSION ||
        bytes[1] > FK_PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE)
        return eddy__fail(
            EDDY_ERR_CORRUPT, "%s: a malformed foreign-key join subscription (%zu bytes%s)",
            eddy__node_at(task, node)->name, value.len,
            bytes && value.len > 0 && bytes[0] != FK_VERSION ? ", of a later version" : "");
    out->instruction = (fk_instruction)bytes[1];
    out->hash.present = (bytes[2] & FK_FLAG_HASH) != 0;
    memcpy(out->hash.bytes, bytes + 3, FK_HASH_BYTES);
    out->primary_key = (eddy_slice){bytes + FK_SUBSCRIPTION_HEADER_BYTES,
                                    value.len - FK_SUBSCRIPTION_HEADER_BYTES};
    out->header = (eddy_slice){bytes, FK_SUBSCRIPTION_HEADER_BYTES};
    return EDDY_OK;
}

/* Writes the response (key `primary`, the hash, the right value `foreign`) to the node's
 * children with the given timestamp. */
static eddy_err response_forward(eddy__task *task, uint32_t node, const eddy__flow *in,
                                 eddy_slice primary, const fk_hash *hash, eddy_slice foreign,
                                 int64_t timestamp_ms)
{
    fk_buffer value;
    eddy_err err = buffer_init(&value, FK_RESPONSE_HEADER_BYTES + foreign.len);
    if (err != EDDY_OK)
        return err;
    value.data[0] = FK_VERSION;
    value.data[1] =
        (uint8_t)((hash->present ? FK_FLAG_HASH : 0) | (foreign.data ? FK_FLAG_VALUE : 0));
    memcpy(value.data + 2, hash->bytes, FK_HASH_BYTES);
    if (foreign.len)
        memcpy(value.data + FK_RESPONSE_HEADER_BYTES, foreign.data, foreign.len);
    eddy__flow out = eddy__flow_with(in, primary, buffer_slice(&value), (eddy_slice){0}, false);
    out.rec.timestamp_ms = timestamp_ms;
    err = eddy__forward_children(task, node, &out);
    buffer_free(&value);
    return err;
}

/* ---- SEND: the left table's changes ---------------------------------------------------------- */

/* What SEND needs while it handles one change. */
typedef struct fk_sender {
    eddy__task *task;
    uint32_t node;
    const eddy__flow *in;
    fk_hash hash; /* of the new value */
} fk_sender;

/* The extractor's foreign key of the left row (key of `in`, `value`), into ctx's value capture
 * (null when it gives none). Free with eddy__ctx_done(). */
static eddy_err foreign_key_of(const fk_sender *s, eddy_slice value, eddy_ctx *ctx)
{
    const eddy__node *n = eddy__node_at(s->task, s->node);
    eddy__flow row = eddy__flow_with(s->in, s->in->rec.key, value, (eddy_slice){0}, false);
    eddy__ctx_init(ctx, s->task, s->node, &row, EDDY__CTX_RESULT);
    n->key(ctx, &row.rec, n->opaque);
    ctx->in = NULL; /* `row` ends here; only the captured result is read */
    return ctx->err;
}

/* Sends one subscription to `foreign` (a null foreign key is sent as a null key). */
static eddy_err subscription_send(const fk_sender *s, eddy_slice foreign,
                                  fk_instruction instruction)
{
    eddy_slice primary = s->in->rec.key;
    fk_buffer value;
    eddy_err err = buffer_init(&value, FK_SUBSCRIPTION_HEADER_BYTES + primary.len);
    if (err != EDDY_OK)
        return err;
    value.data[0] = FK_VERSION;
    value.data[1] = (uint8_t)instruction;
    value.data[2] = s->hash.present ? FK_FLAG_HASH : 0;
    memcpy(value.data + 3, s->hash.bytes, FK_HASH_BYTES);
    if (primary.len)
        memcpy(value.data + FK_SUBSCRIPTION_HEADER_BYTES, primary.data, primary.len);
    eddy__flow out = eddy__flow_with(s->in, foreign, buffer_slice(&value), (eddy_slice){0}, false);
    err = eddy__forward_children(s->task, s->node, &out);
    buffer_free(&value);
    return err;
}

/* Kafka's leftJoinInstructions (see the file comment). */
static eddy_err send_left_join(const fk_sender *s, eddy_slice old_fk, eddy_slice new_fk)
{
    const eddy__flow *in = s->in;
    if (!in->old.data && !in->rec.value.data)
        return EDDY_OK;
    if (in->old.data && old_fk.data && !slice_equal(new_fk, old_fk)) {
        eddy_err err = subscription_send(s, old_fk, FK_DELETE_KEY_AND_PROPAGATE);
        if (err != EDDY_OK)
            return err;
    }
    return subscription_send(s, new_fk, FK_PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE);
}

/* Kafka's defaultJoinInstructions (see the file comment). */
static eddy_err send_inner_join(const fk_sender *s, eddy_slice old_fk, eddy_slice new_fk)
{
    const eddy__flow *in = s->in;
    if (in->old.data) {
        if (!old_fk.data || (in->rec.value.data && !new_fk.data)) {
            fk_drop(s->task, s->node, in, "null foreign key");
            return EDDY_OK;
        }
        if (!in->rec.value.data)
            return subscription_send(s, old_fk, FK_DELETE_KEY_AND_PROPAGATE);
        if (!slice_equal(new_fk, old_fk)) {
            eddy_err err = subscription_send(s, old_fk, FK_DELETE_KEY_NO_PROPAGATE);
            if (err != EDDY_OK)
                return err;
        }
        return subscription_send(s, new_fk, FK_PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE);
    }
    if (!in->rec.value.data)
        return EDDY_OK;
    if (!new_fk.data) {
        fk_drop(s->task, s->node, in, "null foreign key");
        return EDDY_OK;
    }
    return subscription_send(s, new_fk, FK_PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE);
}

eddy_err eddy__op_fk_subscription_send(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (!in->rec.key.data) {
        fk_drop(task, node, in, "null key");
        return EDDY_OK;
    }
    fk_sender s = {.task = task, .node = node, .in = in, .hash = hash_of(in->rec.value)};
    /* The old value's key is computed first, as Kafka's extractor sees them. */
    eddy_ctx old_ctx, new_ctx;
    eddy__ctx_init(&old_ctx, task, node, NULL, EDDY__CTX_RESULT);
    eddy__ctx_init(&new_ctx, task, node, NULL, EDDY__CTX_RESULT);
    eddy_err err = EDDY_OK;
    if (in->old.data)
        err = foreign_key_of(&s, in->old, &old_ctx);
    if (err == EDDY_OK && in->rec.value.data)
        err = foreign_key_of(&s, in->rec.value, &new_ctx);
    if (err == EDDY_OK)
        err = n->join.kind == EDDY__JOIN_LEFT
                  ? send_left_join(&s, old_ctx.value.slice, new_ctx.value.slice)
                  : send_inner_join(&s, old_ctx.value.slice, new_ctx.value.slice);
    eddy__ctx_done(&old_ctx);
    eddy__ctx_done(&new_ctx);
    return err;
}

/* ---- RECEIVE and SUBSCRIPTION_JOIN: on the right table's partitions -------------------------- */

eddy_err eddy__op_fk_subscription_receive(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    fk_subscription sub = {0};
    eddy_err err = subscription_parse(task, node, in->rec.value, &sub);
    if (err != EDDY_OK)
        return err;
    eddy_slice foreign = in->rec.key;
    if (!foreign.data) {
        if (sub.instruction != FK_PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE) {
            fk_drop(task, node, in, "null foreign key");
            return EDDY_OK;
        }
        return eddy__forward_children(task, node, in);
    }
    eddy_kv_store *store = task->stores[n->store];
    EDDY_ASSERT(store != NULL);
    fk_buffer key;
    err = combined_key(foreign, sub.primary_key, &key);
    if (err != EDDY_OK)
        return err;
    eddy__capture old = {0};
    err = eddy__store_get_copy(store, buffer_slice(&key), &old);
    if (err == EDDY_OK) {
        bool unsubscribe = sub.instruction == FK_DELETE_KEY_AND_PROPAGATE ||
                           sub.instruction == FK_DELETE_KEY_NO_PROPAGATE;
        err = unsubscribe ? eddy_kv_delete(store, buffer_slice(&key))
                          : eddy_kv_put(store, buffer_slice(&key), sub.header);
    }
    if (err == EDDY_OK) {
        eddy__flow out = eddy__flow_with(in, foreign, in->rec.value, old.slice, true);
        err = eddy__forward_children(task, node, &out);
    }
    eddy__capture_free(&old);
    buffer_free(&key);
    return err;
}

eddy_err eddy__op_fk_subscription_join(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    fk_subscription sub = {0};
    eddy_err err = subscription_parse(task, node, in->rec.value, &sub);
    if (err != EDDY_OK || sub.instruction == FK_DELETE_KEY_NO_PROPAGATE)
        return err;
    eddy__capture foreign = {0};
    if (in->rec.key.data) {
        eddy__flow lookup =
            eddy__flow_with(in, in->rec.key, (eddy_slice){0}, (eddy_slice){0}, false);
        err = eddy__table_get(task, n->join_table, n->join_store, &lookup, &foreign);
    }
    eddy_slice value = foreign.slice;
    if (err == EDDY_OK) {
        switch (sub.instruction) {
        case FK_DELETE_KEY_AND_PROPAGATE:
            value = (eddy_slice){0};
            break;
        case FK_PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE:
            if (!value.data)
                goto done;
            break;
        default:
            break;
        }
        err = response_forward(task, node, in, sub.primary_key, &sub.hash, value,
                               in->rec.timestamp_ms);
    }
done:
    eddy__capture_free(&foreign);
    return err;
}

/* ---- FOREIGN_JOIN: the right table's changes ------------------------------------------------- */

eddy_err eddy__op_fk_foreign_join(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    if (!in->rec.key.data) {
        fk_drop(task, node, in, "null key");
        return EDDY_OK;
    }
    eddy_kv_store *store = task->stores[n->store];
    EDDY_ASSERT(store != NULL);
    fk_buffer prefix;
    eddy_err err = combined_key(in->rec.key, (eddy_slice){0}, &prefix);
    if (err != EDDY_OK)
        return err;
    eddy_kv_iter *iter = NULL;
    err = eddy_kv_prefix_scan(store, buffer_slice(&prefix), &iter);
    eddy_slice key, value;
    while (err == EDDY_OK && (err = eddy_kv_iter_next(iter, &key, &value)) == EDDY_OK) {
        const uint8_t *header = value.data;
        if (key.len < prefix.len || value.len != FK_SUBSCRIPTION_HEADER_BYTES ||
            header[0] != FK_VERSION) {
            err = eddy__fail(EDDY_ERR_CORRUPT, "store %s: a malformed subscription",
                             eddy_kv_store_name(store));
            break;
        }
        fk_hash hash = {.present = (header[2] & FK_FLAG_HASH) != 0};
        memcpy(hash.bytes, header + 3, FK_HASH_BYTES);
        eddy_slice primary = {(const uint8_t *)key.data + prefix.len, key.len - prefix.len};
        err = response_forward(task, node, in, primary, &hash, in->rec.value, in->rec.timestamp_ms);
    }
    eddy_kv_iter_destroy(iter);
    buffer_free(&prefix);
    return err == EDDY_ERR_END ? EDDY_OK : err;
}

/* ---- RESPONSE_JOIN: back on the left table's partitions -------------------------------------- */

/* Joins (left, right) with the node's value joiner into `into` (null when it emits nothing).
 * The record it gets carries the left key and value. */
static eddy_err call_joiner(eddy__task *task, uint32_t node, const eddy__flow *in, eddy_slice left,
                            eddy_slice right, eddy__capture *into)
{
    const eddy__node *n = eddy__node_at(task, node);
    eddy__flow row = eddy__flow_with(in, in->rec.key, left, (eddy_slice){0}, false);
    eddy_ctx ctx;
    eddy__ctx_init(&ctx, task, node, &row, EDDY__CTX_RESULT);
    n->value_joiner(&ctx, &row.rec, left, right, n->opaque);
    eddy_err err = ctx.err;
    if (err == EDDY_OK)
        err = eddy__capture_set(into, ctx.value.slice);
    eddy__ctx_done(&ctx);
    return err;
}

eddy_err eddy__op_fk_response_join(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    const eddy__node *n = eddy__node_at(task, node);
    const uint8_t *bytes = in->rec.value.data;
    if (!bytes || in->rec.value.len < FK_RESPONSE_HEADER_BYTES || bytes[0] != FK_VERSION ||
        !in->rec.key.data)
        return eddy__fail(EDDY_ERR_CORRUPT, "%s: a malformed foreign-key join response", n->name);
    fk_hash answered = {.present = (bytes[1] & FK_FLAG_HASH) != 0};
    memcpy(answered.bytes, bytes + 2, FK_HASH_BYTES);
    eddy_slice foreign = {0};
    if (bytes[1] & FK_FLAG_VALUE)
        foreign = (eddy_slice){bytes + FK_RESPONSE_HEADER_BYTES,
                               in->rec.value.len - FK_RESPONSE_HEADER_BYTES};
    eddy__capture current = {0}, joined = {0};
    eddy_err err = eddy__table_get(task, n->join_table, n->join_store, in, &current);
    if (err == EDDY_OK) {
        fk_hash now = hash_of(current.slice);
        if (!hash_equal(&answered, &now)) {
            EDDY_DEBUG("runtime",
                       "task %s: %s drops a response computed for an older value (offset %" PRId64
                       ")",
                       task->id, n->name, in->rec.offset);
            eddy__task_count_dropped(task, &task->nodes[node].dropped_records);
            goto done;
        }
        bool tombstone = !foreign.data && (n->join.kind != EDDY__JOIN_LEFT || !current.slice.data);
        if (!tombstone)
            err = call_joiner(task, node, in, current.slice, foreign, &joined);
    }
    if (err == EDDY_OK) {
        eddy__flow out = eddy__flow_with(in, in->rec.key, joined.slice, (eddy_slice){0}, true);
        err = eddy__forward_children(task, node, &out);
    }
done:
    eddy__capture_free(&current);
    eddy__capture_free(&joined);
    return err;
}

bool eddy__fk_needs_old(const eddy__topology *topology, uint32_t child)
{
    return topology->nodes[child].op == EDDY__OP_FK_SUBSCRIPTION_SEND;
}
