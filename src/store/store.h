/* The key-value store seam: the table of operations every store implements, and the wrapper
 * that turns an implementation into a public eddy_kv_store.
 *
 * The public functions in include/eddy/store.h check their arguments, translate prefix scans
 * and unbounded ranges into one bounds form, keep the list of open iterators (so that closing a
 * store ends them) and then call the implementation through these tables. An implementation is
 * the memory store, the RocksDB store, or a decorator (changelogging, record cache, metrics)
 * that holds an inner eddy_kv_store and forwards to it with the public functions:
 *
 *     eddy_kv_store (public handle)          eddy_kv_store (inner)
 *       ops -> cache decorator ops   --->      ops -> rocksdb ops
 *       self -> decorator state                self -> rocksdb state
 *
 * Arguments reaching an implementation are already checked: keys are non-null and within
 * EDDY_KV_KEY_BYTES_MAX, values passed to put are non-null (a null value arrives as remove) and
 * within EDDY_KV_VALUE_BYTES_MAX. */
#ifndef EDDY_STORE_STORE_H
#define EDDY_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eddy/store.h"

/* Which keys an iterator visits: from <= key (when from is non-null), key <= to or key < to (as
 * to_inclusive says, when to is non-null), ascending or descending. The slices are borrowed for
 * the call that opens the iterator: an implementation copies what it keeps. keys_only is a hint
 * that the caller reads no value: an implementation may then return empty values (the memory
 * store does, saving a cache miss per entry); a decorator forwarding the bounds passes it on,
 * and one that merges or ignores it still returns the right values. */
typedef struct eddy__kv_bounds {
    eddy_slice from;
    eddy_slice to;
    int to_inclusive;
    int reverse;
    int keys_only;
} eddy__kv_bounds;

/* An implementation's iterator. next returns EDDY_OK with key and value valid until the next
 * call on the iterator, EDDY_ERR_END (again on every later call), or an error set with
 * eddy__fail. destroy frees it; it is called before the store's close when the store is closed
 * first. */
typedef struct eddy__kv_iter_ops {
    eddy_err (*next)(void *iter, eddy_slice *key, eddy_slice *value);
    void (*destroy)(void *iter);
} eddy__kv_iter_ops;

/* An implementation's store operations; self is the pointer given to eddy__kv_store_wrap.
 * get returns EDDY_ERR_NOT_FOUND without a message for an absent key, and sets *value to a null
 * slice whenever it does not return EDDY_OK. iter_open sets *iter_ops and *iter on success.
 * close frees self (its iterators are already destroyed).
 *
 * iter_inner (may be NULL) is for decorators whose iterators would only pass an inner store's
 * through unchanged (the changelog always, the cache while it holds nothing): it returns that
 * inner store, or NULL when this store must open its own iterator. The public functions then
 * open the iterator on the inner store directly (one iterator instead of one per layer), and it
 * is listed, and ended, there: so only a decorator that owns the inner store (closing it closes
 * inner) may return it.
 *
 * remove_many (may be NULL: the public function removes the keys one by one) removes several
 * keys, each as remove would, and may overlap the memory accesses of one key's removal with the
 * next ones' (the bulk deletes of retention). On failure some keys may be removed already.
 *
 * expire_before (may be NULL) is retention done by the store itself, for the windowed layouts
 * of store/window.h: it deletes every key whose suffix (its last suffix_bytes bytes) starts
 * with a big-endian int64 time below before_ms, as a scan deleting them one by one would, and
 * adds their number to *deleted. It sets *handled false, and changes nothing, when it cannot
 * (another layout, or a decorator that must see each deleted key); the caller then scans. */
typedef struct eddy__kv_store_ops {
    eddy_err (*get)(void *self, eddy_slice key, eddy_slice *value);
    eddy_err (*put)(void *self, eddy_slice key, eddy_slice value);
    eddy_err (*remove)(void *self, eddy_slice key);
    eddy_err (*iter_open)(void *self, const eddy__kv_bounds *bounds,
                          const eddy__kv_iter_ops **iter_ops, void **iter);
    eddy_err (*approximate_count)(void *self, uint64_t *count);
    eddy_err (*flush)(void *self);
    void (*close)(void *self);
    eddy_kv_store *(*iter_inner)(void *self);
    eddy_err (*remove_many)(void *self, const eddy_slice *keys, size_t count);
    eddy_err (*expire_before)(void *self, size_t suffix_bytes, int64_t before_ms, bool *handled,
                              uint64_t *deleted);
} eddy__kv_store_ops;

/* Makes a public store of an implementation. name (copied) must already be valid. On success
 * the store owns self and frees it through ops->close; on failure (EDDY_ERR_NO_MEMORY) the
 * caller still owns self. ops must outlive the store (a static table). */
eddy_err eddy__kv_store_wrap(const char *name, const eddy__kv_store_ops *ops, void *self,
                             eddy_kv_store **out);

/* While `keep` is set, eddy_kv_store_close(store) ends the store's iterators and leaves it open:
 * the runtime takes an in-memory store out from under the decorators that own it (closing
 * them closes it) to give it to the next task of its partition. Clear it before the last
 * close. */
void eddy__kv_store_keep_open(eddy_kv_store *store, bool keep);

/* The implementation state behind a store (for a decorator that knows what it wraps, and for
 * tests). */
void *eddy__kv_store_self(const eddy_kv_store *store);

/* Checks a store name: 1 to EDDY_STORE_NAME_MAX characters from [a-zA-Z0-9._-], not "." or "..".
 * EDDY_ERR_INVALID_ARGUMENT with a message quoting the name otherwise. */
eddy_err eddy__kv_store_name_check(const char *name);

/* Unsigned lexicographic order of two byte strings, shorter first on a common prefix (Kafka's
 * Bytes.compareTo): negative, zero or positive. */
static inline int eddy__kv_compare(const void *a, size_t a_len, const void *b, size_t b_len)
{
    size_t common = a_len < b_len ? a_len : b_len;
    int c = common ? __builtin_memcmp(a, b, common) : 0;
    if (c != 0)
        return c;
    return (a_len > b_len) - (a_len < b_len);
}

/* ---- Decorators (logged.c, cached.c, locked.c) ---------------------------------------- */

/* Receives every change a logged store makes: a put (value non-null) or a delete (value null).
 * The slices are valid during the call. A non-OK return fails the write that caused it (the
 * inner store is written first; the runtime treats a failed change log as fatal for the task). */
typedef eddy_err (*eddy__kv_log_fn)(void *opaque, eddy_slice key, eddy_slice value);

/* A changelogging store (Kafka's ChangeLoggingKeyValueBytesStore): every put and delete goes to
 * `inner` and then to `log`. Reads go to inner. On success the decorator owns inner (closing it
 * closes inner); on failure the caller still owns inner. The name is inner's. */
eddy_err eddy__kv_store_logged(eddy_kv_store *inner, eddy__kv_log_fn log, void *opaque,
                               eddy_kv_store **out);

/* A record cache in front of `inner` (Kafka's CachingKeyValueStore, without forwarding): puts
 * and deletes are kept in memory, folded per key (only a key's latest value is kept), and
 * written to inner (in write order of their last change) by flush, or when the dirty entries
 * exceed max_bytes (the least recently written ones first). Reads see the cache over inner;
 * iterators merge the two in key order. max_bytes 0 writes through. Ownership as logged. */
eddy_err eddy__kv_store_cached(eddy_kv_store *inner, size_t max_bytes, eddy_kv_store **out);

/* Told about every write a cached store makes to its inner store (flush, eviction, or a write
 * too large to cache): the key, the new value (null: deleted), inner's value before the write
 * (null: absent) and the clock's time at the key's last write. A cached deletion of a key inner
 * does not hold is not reported; a write too large to cache (every write, with max_bytes 0)
 * always is. Slices are valid during the call. A non-OK return fails the flush (or the put
 * that evicted). */
typedef eddy_err (*eddy__kv_flush_fn)(void *opaque, eddy_slice key, eddy_slice new_value,
                                      eddy_slice old_value, int64_t context_ms);

/* Sets the flush listener of a store made by eddy__kv_store_cached (only such a store). `clock`
 * (may be NULL: 0) is read at each write to time-stamp the entry. Without `old_values` the
 * listener gets a null old value for puts and for deletions written through (one lookup in
 * inner less per write). */
void eddy__kv_store_cached_listen(eddy_kv_store *cached, eddy__kv_flush_fn listener, void *opaque,
                                  const int64_t *clock, bool old_values);

/* Makes a store made by eddy__kv_store_cached (still empty) count its bytes in
 * `*shared_bytes`, shared by several caches with one max_bytes (Kafka's cache per stream
 * thread): a write past the budget evicts this store's oldest entries. The counter must outlive
 * the stores and be used by one thread. */
void eddy__kv_store_cached_share(eddy_kv_store *cached, size_t *shared_bytes);

/* Drops `key`'s clean entry from a cached store (made by eddy__kv_store_cached), for deleting
 * below the cache. A dirty entry (an update not flushed yet) is kept: the next flush still
 * writes and reports it. */
void eddy__kv_store_cached_forget(eddy_kv_store *cached, eddy_slice key);

/* A view of a decorated store for retention: reads and deletes go to `inner` (below the
 * changelog), and a deleted key's clean entry is dropped from outer's cache (when outer_cached;
 * a dirty one stays to be flushed), so that expiry itself forwards and logs nothing. Owns
 * neither store. */
eddy_err eddy__kv_store_expiry_view(eddy_kv_store *outer, bool outer_cached, eddy_kv_store *inner,
                                    eddy_kv_store **out);

/* For a decorator's iter_open: an iterator of `inner` over the same bounds, returned as the
 * decorator's own (no copy, no merge). */
eddy_err eddy__kv_iter_open_passthrough(eddy_kv_store *inner, const eddy__kv_bounds *bounds,
                                        const eddy__kv_iter_ops **iter_ops, void **iter);

/* Deletes `count` keys (non-null slices; bytes borrowed for the call) from `store`, as
 * eddy_kv_delete would one by one, through the store's remove_many when it has one (retention's
 * batches). Stops at the first failure, which is returned; keys before it may be deleted. */
eddy_err eddy__kv_delete_many(eddy_kv_store *store, const eddy_slice *keys, size_t count);

/* Retention by the store itself (see expire_before above): *handled false when `store` has no
 * such operation or declined, and then nothing was deleted. *deleted is the number deleted. */
eddy_err eddy__kv_expire_before(eddy_kv_store *store, size_t suffix_bytes, int64_t before_ms,
                                bool *handled, uint64_t *deleted);

/* Whether a store made by eddy__kv_store_cached holds no entry (with max_bytes 0, always). */
bool eddy__kv_store_cached_empty(eddy_kv_store *cached);

/* Opens an iterator over `store` with already checked bounds (for decorators that forward
 * their iterators). */
eddy_err eddy__kv_iter_open_bounds(eddy_kv_store *store, const eddy__kv_bounds *bounds,
                                   eddy_kv_iter **out);

/* Makes the list of a store's open iterators safe for opening and destroying iterators on several
 * threads at once (by default a store is used by one thread at a time, and the list is not
 * locked). For the locked decorator's store; call before the store is shared. */
void eddy__kv_store_concurrent(eddy_kv_store *store);

/* Serializes access to `inner` with a readers-writer lock, for a global store that one thread
 * writes while others read. Iterators hold the read lock until destroyed. Ownership as logged. */
eddy_err eddy__kv_store_locked(eddy_kv_store *inner, eddy_kv_store **out);

/* Opens an empty in-memory store specialised for the window, session and join-buffer layouts
 * of store/window.h (windowed.c): every key is [record key][suffix of suffix_bytes bytes], and
 * each record key's entries are a sorted array found through a hash probe, so that a scan
 * within one record key reads no tree. It is a complete eddy_kv_store (global byte order in
 * every iterator, live iterators as the memory store's), except that put refuses a key
 * shorter than suffix_bytes (EDDY_ERR_INVALID_ARGUMENT) and get never finds one. suffix_bytes
 * is 1 to 16 (8: window, 12: window with duplicates, 16: session). Errors as
 * eddy_kv_store_open_memory. */
eddy_err eddy__kv_store_open_memory_windowed(const char *name, size_t suffix_bytes,
                                             eddy_kv_store **out);

/* For tests of the windowed memory store: checks its invariants (each group ordered and
 * non-empty and mapped by the index, the key-length list, the counts) and its index's,
 * returning EDDY_ERR_CORRUPT naming the first one broken. */
eddy_err eddy__kv_windowed_check(eddy_kv_store *store);

/* For tests of the memory store: checks every invariant of its hash table and B+tree (order,
 * separators, fill, leaf links, counts), returning EDDY_ERR_CORRUPT with a message naming the
 * first one broken. */
eddy_err eddy__kv_memory_check(eddy_kv_store *store);

#endif
