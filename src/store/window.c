/* Window and session stores as key layouts over any eddy_kv_store (store/window.h).
 *
 * Everything here goes through the public eddy_kv_* functions (and, for retention,
 * eddy__kv_expire_before and eddy__kv_iter_open_bounds, to say that its scan reads keys only),
 * so the same code serves the memory store, RocksDB, and the runtime's changelogging, caching
 * and locking decorators.
 *
 * Layouts. A record key, then fixed-width big-endian suffixes:
 *
 *     window         [record key ...][start 8]
 *     window, dups   [record key ...][timestamp 8][sequence 4]
 *     session        [record key ...][end 8][start 8]
 *
 * The 8-byte fields are the int64 in two's complement, big-endian. For values >= 0 the byte
 * order of that encoding is numeric order; a negative value would sort after every positive
 * one, so the put functions refuse negative timestamps (EDDY_ERR_INVALID_ARGUMENT) and the
 * scans clamp negative bounds to 0. Kafka's stream time never goes below 0 for windowed state.
 *
 * Scans for one key. The entries of key K with times in [t1, t2] all lie in the byte range
 * [K][t1] .. [K][t2][max of the rest of the suffix], and everything in that range starts with
 * K. But a longer record key that extends K (K' = K + 8 bytes, say) can also fall in it:
 *
 *     "a"[00..00 05]                 key "a", start 5
 *     "a"[00..00 05][00..00 07]      key "a\0\0\0\0\0\0\0\x05", start 7   <- between them
 *     "a"[00..00 09]                 key "a", start 9
 *
 * so each entry's length must be exactly len(K) + suffix for it to be K's. Such foreign entries
 * cost a step each; nothing can avoid that with this layout (Kafka's has the same property).
 *
 * Session find. Sessions of K with end >= E and start <= S are in [K][E] .. [K][INT64_MAX][S]:
 * starting at E skips every older session (the ones a merge never needs), while the upper bound
 * cannot be tightened, as a session that started by S may end at any time after it. In the
 * runtime's use (E = t - gap, S = t + gap, a key's sessions never overlapping) the scan visits
 * only the sessions it returns plus at most the ones ending after S.
 *
 * Expiry. A store that knows these layouts (the windowed memory store, reached through an
 * expiry view whose cache holds nothing) deletes the expired entries itself, per record key
 * (eddy__kv_expire_before). Otherwise: keys are ordered by record key first, so the expired
 * entries are spread through the store and eddy__window_expire reads all of it. It cannot delete
 * while iterating: RocksDB iterators are snapshots (harmless), the memory store's are live
 * (harmless behind the iterator), but the locked decorator's iterators hold a read lock that a
 * delete on the same thread would deadlock on, and a decorator may have other rules. So it collects
 * the doomed keys in bounded batches, destroys the iterator, deletes the batch, and scans again
 * from the last key deleted (range bounds are copied when the iterator opens, so the batch's own
 * copy of that key can be the bound). The scan asks for keys only (the bounds' keys_only hint): the
 * memory store then walks its leaves without reading values. */
#include "store/window.h"

#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/logging.h"
#include "store/store.h"

/* Store keys (or, for scans, both bounds together) up to this many bytes are built on the
 * stack: record keys are usually short, and a put per record should not allocate. */
#define WINDOW_STACK_KEY_BYTES 512

/* An expiry batch holds at most this many keys, or stops growing once its key bytes pass
 * EXPIRE_BATCH_BYTES_MAX (it always holds at least one key, whatever its size): memory stays
 * bounded while a scan of a large store still costs few re-seeks. */
#define EXPIRE_BATCH_KEYS_MAX 1024
#define EXPIRE_BATCH_BYTES_MAX (1024u * 1024u)

/* ---- Encoding ---------------------------------------------------------------------------- */

/* Big-endian 8-byte fields in one load or store each (every key built or split here has one or
 * two; the portable byte-by-byte form compiles to a chain of shifts). */
static void be64_store(uint8_t *p, int64_t value)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t u = __builtin_bswap64((uint64_t)value);
    memcpy(p, &u, 8);
#else
    eddy__be64_put(p, (uint64_t)value);
#endif
}

static int64_t be64_load(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t u;
    memcpy(&u, p, 8);
    return (int64_t)__builtin_bswap64(u);
#else
    return (int64_t)eddy__be64_get(p);
#endif
}

static void be32_store(uint8_t *p, uint32_t value)
{
    p[0] = (uint8_t)(value >> 24);
    p[1] = (uint8_t)(value >> 16);
    p[2] = (uint8_t)(value >> 8);
    p[3] = (uint8_t)value;
}

static size_t key_copy(uint8_t *out, eddy_slice key)
{
    if (key.len > 0)
        memcpy(out, key.data, key.len);
    return key.len;
}

size_t eddy__window_key(uint8_t *out, eddy_slice key, int64_t start_ms)
{
    EDDY_ASSERT(out && (key.data || key.len == 0));
    size_t n = key_copy(out, key);
    be64_store(out + n, start_ms);
    return n + EDDY__WINDOW_SUFFIX_BYTES;
}

size_t eddy__session_key(uint8_t *out, eddy_slice key, int64_t start_ms, int64_t end_ms)
{
    EDDY_ASSERT(out && (key.data || key.len == 0));
    size_t n = key_copy(out, key);
    be64_store(out + n, end_ms);
    be64_store(out + n + 8, start_ms);
    return n + EDDY__SESSION_SUFFIX_BYTES;
}

static size_t dup_key(uint8_t *out, eddy_slice key, int64_t timestamp_ms, uint32_t sequence)
{
    size_t n = key_copy(out, key);
    be64_store(out + n, timestamp_ms);
    be32_store(out + n + 8, sequence);
    return n + EDDY__WINDOW_DUPS_SUFFIX_BYTES;
}

eddy_err eddy__window_key_split(eddy_slice store_key, bool dups, eddy_slice *key, int64_t *start_ms)
{
    if (!store_key.data || !key || !start_ms)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "window key split: NULL argument");
    size_t suffix = dups ? EDDY__WINDOW_DUPS_SUFFIX_BYTES : EDDY__WINDOW_SUFFIX_BYTES;
    if (store_key.len < suffix)
        return eddy__fail(EDDY_ERR_CORRUPT,
                          "window store key of %zu bytes is shorter than its %zu-byte suffix",
                          store_key.len, suffix);
    key->data = store_key.data;
    key->len = store_key.len - suffix;
    *start_ms = be64_load((const uint8_t *)store_key.data + key->len);
    return EDDY_OK;
}

eddy_err eddy__session_key_split(eddy_slice store_key, eddy_slice *key, int64_t *start_ms,
                                 int64_t *end_ms)
{
    if (!store_key.data || !key || !start_ms || !end_ms)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "session key split: NULL argument");
    if (store_key.len < EDDY__SESSION_SUFFIX_BYTES)
        return eddy__fail(EDDY_ERR_CORRUPT,
                          "session store key of %zu bytes is shorter than its %d-byte suffix",
                          store_key.len, EDDY__SESSION_SUFFIX_BYTES);
    key->data = store_key.data;
    key->len = store_key.len - EDDY__SESSION_SUFFIX_BYTES;
    const uint8_t *suffix = (const uint8_t *)store_key.data + key->len;
    *end_ms = be64_load(suffix);
    *start_ms = be64_load(suffix + 8);
    return EDDY_OK;
}

/* ---- Shared helpers ---------------------------------------------------------------------- */

/* A buffer for store keys: the stack array when they fit, else one allocation. It points into
 * itself, so it must not be copied. */
typedef struct key_buffer {
    uint8_t *data;
    uint8_t small[WINDOW_STACK_KEY_BYTES];
} key_buffer;

static eddy_err key_buffer_init(key_buffer *b, eddy_kv_store *store, const char *what, size_t len)
{
    b->data = len <= sizeof(b->small) ? b->small : eddy__malloc(len);
    if (!b->data)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': %s: out of memory for a %zu-byte key",
                          eddy_kv_store_name(store), what, len);
    return EDDY_OK;
}

static void key_buffer_free(key_buffer *b)
{
    if (b->data != b->small)
        eddy__free(b->data);
    b->data = NULL;
}

/* Checks a store and record key. *fits is false when key plus suffix would be over the store's
 * key limit: no such entry can exist (reads find nothing; puts fail with TOO_LARGE). */
static eddy_err args_check(eddy_kv_store *store, const char *what, eddy_slice key, size_t suffix,
                           bool *fits)
{
    if (!store)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "%s: store is NULL", what);
    if (!key.data)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "store '%s': %s: the key is null",
                          eddy_kv_store_name(store), what);
    *fits = key.len <= EDDY_KV_KEY_BYTES_MAX - suffix;
    return EDDY_OK;
}

static eddy_err too_large(eddy_kv_store *store, const char *what, eddy_slice key, size_t suffix)
{
    return eddy__fail(EDDY_ERR_TOO_LARGE,
                      "store '%s': %s: a %zu-byte key and its %zu-byte suffix are over %u bytes",
                      eddy_kv_store_name(store), what, key.len, suffix, EDDY_KV_KEY_BYTES_MAX);
}

static eddy_err negative_time(eddy_kv_store *store, const char *what, const char *field,
                              int64_t value)
{
    return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                      "store '%s': %s: %s %lld is negative (window and session stores hold "
                      "timestamps >= 0)",
                      eddy_kv_store_name(store), what, field, (long long)value);
}

/* Whether store_key is an entry of key in a layout with `suffix` bytes after the record key. */
static bool entry_of_key(eddy_slice store_key, eddy_slice key, size_t suffix)
{
    return store_key.len == key.len + suffix &&
           (key.len == 0 || memcmp(store_key.data, key.data, key.len) == 0);
}

/* Called for each entry of the scanned key with its suffix. */
typedef eddy_err (*entry_fn)(void *opaque, const uint8_t *suffix, eddy_slice value,
                             eddy_slice store_key);

/* Calls fn for the entries of key in [from, to] (store keys, both inclusive), skipping those of
 * other keys. A non-OK return from fn stops the scan and is returned as is (even EDDY_ERR_END). */
static eddy_err key_scan(eddy_kv_store *store, eddy_slice key, size_t suffix, eddy_slice from,
                         eddy_slice to, entry_fn fn, void *opaque)
{
    eddy_kv_iter *it = NULL;
    eddy_err err = eddy_kv_range(store, from, to, &it);
    if (err != EDDY_OK)
        return err;
    eddy_slice k, v;
    bool from_callback = false;
    while ((err = eddy_kv_iter_next(it, &k, &v)) == EDDY_OK) {
        if (!entry_of_key(k, key, suffix))
            continue;
        err = fn(opaque, (const uint8_t *)k.data + key.len, v, k);
        if (err != EDDY_OK) {
            from_callback = true;
            break;
        }
    }
    eddy_kv_iter_destroy(it);
    return err == EDDY_ERR_END && !from_callback ? EDDY_OK : err;
}

/* ---- Window stores ----------------------------------------------------------------------- */

eddy_err eddy__window_get(eddy_kv_store *store, eddy_slice key, int64_t start_ms, eddy_slice *value)
{
    bool fits = false;
    if (!value)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "window get: value is NULL");
    value->data = NULL;
    value->len = 0;
    eddy_err err = args_check(store, "window get", key, EDDY__WINDOW_SUFFIX_BYTES, &fits);
    if (err != EDDY_OK)
        return err;
    if (!fits || start_ms < 0)
        return EDDY_ERR_NOT_FOUND; /* no such window can have been put */
    key_buffer b;
    err = key_buffer_init(&b, store, "window get", key.len + EDDY__WINDOW_SUFFIX_BYTES);
    if (err != EDDY_OK)
        return err;
    eddy_slice store_key = {b.data, eddy__window_key(b.data, key, start_ms)};
    err = eddy_kv_get(store, store_key, value);
    key_buffer_free(&b);
    return err;
}

eddy_err eddy__window_put(eddy_kv_store *store, eddy_slice key, int64_t start_ms, eddy_slice value)
{
    bool fits = false;
    eddy_err err = args_check(store, "window put", key, EDDY__WINDOW_SUFFIX_BYTES, &fits);
    if (err != EDDY_OK)
        return err;
    if (!fits)
        return too_large(store, "window put", key, EDDY__WINDOW_SUFFIX_BYTES);
    if (start_ms < 0)
        return negative_time(store, "window put", "window start", start_ms);
    key_buffer b;
    err = key_buffer_init(&b, store, "window put", key.len + EDDY__WINDOW_SUFFIX_BYTES);
    if (err != EDDY_OK)
        return err;
    eddy_slice store_key = {b.data, eddy__window_key(b.data, key, start_ms)};
    err = eddy_kv_put(store, store_key, value); /* a null value deletes */
    key_buffer_free(&b);
    return err;
}

eddy_err eddy__window_put_dup(eddy_kv_store *store, eddy_slice key, int64_t timestamp_ms,
                              uint32_t *sequence, eddy_slice value)
{
    bool fits = false;
    eddy_err err = args_check(store, "window put", key, EDDY__WINDOW_DUPS_SUFFIX_BYTES, &fits);
    if (err != EDDY_OK)
        return err;
    if (!sequence)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "store '%s': window put: sequence is NULL",
                          eddy_kv_store_name(store));
    if (!fits)
        return too_large(store, "window put", key, EDDY__WINDOW_DUPS_SUFFIX_BYTES);
    if (timestamp_ms < 0)
        return negative_time(store, "window put", "timestamp", timestamp_ms);
    if (!value.data)
        return EDDY_OK; /* Kafka ignores put(key, null) in a store that retains duplicates */
    key_buffer b;
    err = key_buffer_init(&b, store, "window put", key.len + EDDY__WINDOW_DUPS_SUFFIX_BYTES);
    if (err != EDDY_OK)
        return err;
    eddy_slice store_key = {b.data, dup_key(b.data, key, timestamp_ms, *sequence)};
    err = eddy_kv_put(store, store_key, value);
    key_buffer_free(&b);
    if (err == EDDY_OK)
        (*sequence)++; /* wraps at 2^32, as Kafka's seqnum wraps at 2^31 */
    return err;
}

typedef struct window_fetch_state {
    eddy__window_fn fn;
    void *opaque;
} window_fetch_state;

static eddy_err window_fetch_entry(void *opaque, const uint8_t *suffix, eddy_slice value,
                                   eddy_slice store_key)
{
    window_fetch_state *state = opaque;
    return state->fn(state->opaque, be64_load(suffix), value, store_key);
}

eddy_err eddy__window_fetch(eddy_kv_store *store, eddy_slice key, bool dups, int64_t from_ms,
                            int64_t to_ms, eddy__window_fn fn, void *opaque)
{
    size_t suffix = dups ? EDDY__WINDOW_DUPS_SUFFIX_BYTES : EDDY__WINDOW_SUFFIX_BYTES;
    bool fits = false;
    eddy_err err = args_check(store, "window fetch", key, suffix, &fits);
    if (err != EDDY_OK)
        return err;
    if (!fn)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "store '%s': window fetch: fn is NULL",
                          eddy_kv_store_name(store));
    if (from_ms < 0)
        from_ms = 0; /* nothing is stored before 0 */
    if (!fits || to_ms < from_ms)
        return EDDY_OK;

    /* [key][from] .. [key][to] (dups: [key][to][ff ff ff ff], the last sequence at `to`). */
    size_t len = key.len + suffix;
    key_buffer b;
    err = key_buffer_init(&b, store, "window fetch", 2 * len);
    if (err != EDDY_OK)
        return err;
    uint8_t *from = b.data, *to = b.data + len;
    size_t n = key_copy(from, key);
    memset(from + n, 0, suffix);
    be64_store(from + n, from_ms);
    key_copy(to, key);
    memset(to + n, 0xff, suffix);
    be64_store(to + n, to_ms);

    window_fetch_state state = {fn, opaque};
    eddy_slice from_slice = {from, len}, to_slice = {to, len};
    err = key_scan(store, key, suffix, from_slice, to_slice, window_fetch_entry, &state);
    key_buffer_free(&b);
    return err;
}

/* Fails with CORRUPT for a key too short to hold the layout's suffix. */
static eddy_err short_key(eddy_kv_store *store, const char *what, size_t len, size_t suffix)
{
    return eddy__fail(EDDY_ERR_CORRUPT,
                      "store '%s': %s: a %zu-byte key is shorter than the %zu-byte suffix of "
                      "the store's layout",
                      eddy_kv_store_name(store), what, len, suffix);
}

eddy_err eddy__window_fetch_all(eddy_kv_store *store, bool dups, int64_t from_ms, int64_t to_ms,
                                eddy__window_all_fn fn, void *opaque)
{
    if (!store || !fn)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "window fetch all: NULL argument");
    if (to_ms < from_ms)
        return EDDY_OK;
    size_t suffix = dups ? EDDY__WINDOW_DUPS_SUFFIX_BYTES : EDDY__WINDOW_SUFFIX_BYTES;
    eddy_kv_iter *it = NULL;
    eddy_err err = eddy_kv_all(store, &it);
    if (err != EDDY_OK)
        return err;
    eddy_slice k, v;
    bool from_callback = false;
    while ((err = eddy_kv_iter_next(it, &k, &v)) == EDDY_OK) {
        if (k.len < suffix) {
            err = short_key(store, "window fetch all", k.len, suffix);
            break;
        }
        eddy_slice record_key = {k.data, k.len - suffix};
        int64_t start_ms = be64_load((const uint8_t *)k.data + record_key.len);
        if (start_ms < from_ms || start_ms > to_ms)
            continue;
        err = fn(opaque, record_key, start_ms, v, k);
        if (err != EDDY_OK) {
            from_callback = true;
            break;
        }
    }
    eddy_kv_iter_destroy(it);
    return err == EDDY_ERR_END && !from_callback ? EDDY_OK : err;
}

/* ---- Session stores ---------------------------------------------------------------------- */

eddy_err eddy__session_put(eddy_kv_store *store, eddy_slice key, int64_t start_ms, int64_t end_ms,
                           eddy_slice value)
{
    bool fits = false;
    eddy_err err = args_check(store, "session put", key, EDDY__SESSION_SUFFIX_BYTES, &fits);
    if (err != EDDY_OK)
        return err;
    if (!fits)
        return too_large(store, "session put", key, EDDY__SESSION_SUFFIX_BYTES);
    if (start_ms < 0)
        return negative_time(store, "session put", "session start", start_ms);
    if (end_ms < start_ms)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "store '%s': session put: session end %lld is before its start %lld",
                          eddy_kv_store_name(store), (long long)end_ms, (long long)start_ms);
    key_buffer b;
    err = key_buffer_init(&b, store, "session put", key.len + EDDY__SESSION_SUFFIX_BYTES);
    if (err != EDDY_OK)
        return err;
    eddy_slice store_key = {b.data, eddy__session_key(b.data, key, start_ms, end_ms)};
    err = eddy_kv_put(store, store_key, value); /* a null value deletes */
    key_buffer_free(&b);
    return err;
}

typedef struct session_find_state {
    int64_t earliest_end_ms;
    int64_t latest_start_ms;
    eddy__session_fn fn;
    void *opaque;
} session_find_state;

static eddy_err session_find_entry(void *opaque, const uint8_t *suffix, eddy_slice value,
                                   eddy_slice store_key)
{
    (void)store_key;
    session_find_state *state = opaque;
    int64_t end_ms = be64_load(suffix), start_ms = be64_load(suffix + 8);
    /* The range bounds end from below only; start is checked here. */
    if (end_ms < state->earliest_end_ms || start_ms > state->latest_start_ms || start_ms < 0)
        return EDDY_OK;
    return state->fn(state->opaque, start_ms, end_ms, value);
}

eddy_err eddy__session_find(eddy_kv_store *store, eddy_slice key, int64_t earliest_end_ms,
                            int64_t latest_start_ms, eddy__session_fn fn, void *opaque)
{
    bool fits = false;
    eddy_err err = args_check(store, "session find", key, EDDY__SESSION_SUFFIX_BYTES, &fits);
    if (err != EDDY_OK)
        return err;
    if (!fn)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "store '%s': session find: fn is NULL",
                          eddy_kv_store_name(store));
    if (earliest_end_ms < 0)
        earliest_end_ms = 0; /* nothing is stored before 0 */
    if (!fits || latest_start_ms < 0)
        return EDDY_OK;

    /* [key][earliest end] .. [key][INT64_MAX][latest start]: see the file comment. */
    size_t len = key.len + EDDY__SESSION_SUFFIX_BYTES;
    key_buffer b;
    err = key_buffer_init(&b, store, "session find", 2 * len);
    if (err != EDDY_OK)
        return err;
    uint8_t *from = b.data, *to = b.data + len;
    size_t from_len = key_copy(from, key);
    be64_store(from + from_len, earliest_end_ms);
    from_len += 8;
    eddy__session_key(to, key, latest_start_ms, INT64_MAX);

    session_find_state state = {earliest_end_ms, latest_start_ms, fn, opaque};
    eddy_slice from_slice = {from, from_len}, to_slice = {to, len};
    err = key_scan(store, key, EDDY__SESSION_SUFFIX_BYTES, from_slice, to_slice, session_find_entry,
                   &state);
    key_buffer_free(&b);
    return err;
}

/* ---- Retention --------------------------------------------------------------------------- */

/* Keys to delete: key i is bytes[offsets[i] .. offsets[i + 1]). */
typedef struct expire_batch {
    size_t count;
    size_t offsets[EXPIRE_BATCH_KEYS_MAX + 1];
    eddy_slice keys[EXPIRE_BATCH_KEYS_MAX]; /* the keys as slices, for deleting them in one call */
    uint8_t *bytes;
    size_t bytes_capacity;
} expire_batch;

static eddy_slice expire_batch_key(const expire_batch *batch, size_t i)
{
    EDDY_ASSERT(i < batch->count);
    eddy_slice key = {batch->bytes + batch->offsets[i], batch->offsets[i + 1] - batch->offsets[i]};
    return key;
}

static bool expire_batch_full(const expire_batch *batch)
{
    return batch->count == EXPIRE_BATCH_KEYS_MAX ||
           batch->offsets[batch->count] >= EXPIRE_BATCH_BYTES_MAX;
}

static eddy_err expire_batch_add(eddy_kv_store *store, expire_batch *batch, eddy_slice key)
{
    EDDY_ASSERT(!expire_batch_full(batch));
    size_t used = batch->offsets[batch->count];
    if (key.len > batch->bytes_capacity - used) {
        size_t capacity = batch->bytes_capacity ? batch->bytes_capacity : 4096;
        while (capacity - used < key.len)
            capacity *= 2; /* used < 1 MiB and key.len <= 16 MiB + 16: no overflow */
        uint8_t *bytes = eddy__realloc(batch->bytes, capacity);
        if (!bytes)
            return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': expire: out of memory",
                              eddy_kv_store_name(store));
        batch->bytes = bytes;
        batch->bytes_capacity = capacity;
    }
    if (key.len > 0)
        memcpy(batch->bytes + used, key.data, key.len);
    batch->count++;
    batch->offsets[batch->count] = used + key.len;
    return EDDY_OK;
}

/* Scans from `resume` (null: the start), collecting the keys of entries whose time (the first
 * 8 bytes of the suffix: window start, timestamp or session end) is before before_ms, until the
 * batch is full (*more = true) or the store ends. The batch is allocated on first need, and
 * emptied once the iterator is open (resume may point into it: the range copied it). */
static eddy_err expire_collect(eddy_kv_store *store, size_t suffix, int64_t before_ms,
                               eddy_slice resume, expire_batch **batch, bool *more)
{
    eddy_kv_iter *it = NULL;
    /* Keys only: the memory store then reads its leaves alone, not each entry's value. */
    eddy__kv_bounds bounds = {.from = resume, .to = {NULL, 0}, .keys_only = 1};
    eddy_err err = eddy__kv_iter_open_bounds(store, &bounds, &it);
    if (err != EDDY_OK)
        return err;
    if (*batch)
        (*batch)->count = 0;
    *more = false;
    eddy_slice k, v;
    while ((err = eddy_kv_iter_next(it, &k, &v)) == EDDY_OK) {
        if (k.len < suffix) {
            err = short_key(store, "expire", k.len, suffix);
            break;
        }
        if (be64_load((const uint8_t *)k.data + k.len - suffix) >= before_ms)
            continue;
        if (!*batch && !(*batch = eddy__calloc(1, sizeof(**batch)))) {
            err = eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': expire: out of memory",
                             eddy_kv_store_name(store));
            break;
        }
        if ((err = expire_batch_add(store, *batch, k)) != EDDY_OK)
            break;
        if (expire_batch_full(*batch)) {
            *more = true;
            break;
        }
    }
    eddy_kv_iter_destroy(it);
    return err == EDDY_ERR_END ? EDDY_OK : err;
}

eddy_err eddy__window_expire(eddy_kv_store *store, bool session, bool dups, int64_t before_ms,
                             uint64_t *deleted)
{
    if (deleted)
        *deleted = 0;
    if (!store)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "expire: store is NULL");
    if (before_ms <= 0)
        return EDDY_OK; /* nothing is stored before 0 */
    size_t suffix = session ? EDDY__SESSION_SUFFIX_BYTES
                    : dups  ? EDDY__WINDOW_DUPS_SUFFIX_BYTES
                            : EDDY__WINDOW_SUFFIX_BYTES;
    /* A store that knows the layout drops the expired entries itself, without this scan. */
    bool handled = false;
    uint64_t dropped = 0;
    eddy_err err = eddy__kv_expire_before(store, suffix, before_ms, &handled, &dropped);
    if (err != EDDY_OK || handled) {
        if (deleted)
            *deleted = dropped;
        return err;
    }
    expire_batch *batch = NULL;
    eddy_slice resume = {NULL, 0};
    /* Each round deletes a full batch and resumes after its last key, so the rounds are
     * bounded by the store's size over EXPIRE_BATCH_KEYS_MAX, plus one. */
    for (;;) {
        bool more;
        err = expire_collect(store, suffix, before_ms, resume, &batch, &more);
        if (err != EDDY_OK || !batch || batch->count == 0)
            break;
        /* One call for the batch: the memory store overlaps the removals' cache misses. */
        for (size_t i = 0; i < batch->count; i++)
            batch->keys[i] = expire_batch_key(batch, i);
        err = eddy__kv_delete_many(store, batch->keys, batch->count);
        if (err == EDDY_OK && deleted)
            *deleted += batch->count;
        if (err != EDDY_OK || !more)
            break;
        resume = expire_batch_key(batch, batch->count - 1);
    }
    if (batch)
        eddy__free(batch->bytes);
    eddy__free(batch);
    return err;
}
