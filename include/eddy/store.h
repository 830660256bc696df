/**
 * @file store.h
 * @brief Key-value state stores: the interface, an in-memory ordered store and a RocksDB store.
 *
 * A key-value store maps byte-string keys to byte-string values, kept in the order of the keys'
 * unsigned bytes (memcmp order, then shorter first: Kafka Streams' `Bytes` order), so that
 * ranges and prefixes can be scanned. It is Kafka Streams' `KeyValueStore<Bytes, byte[]>`:
 * serdes turn typed keys and values into bytes above it, and the runtime wraps it in a
 * changelogging layer and a record cache, which implement this same interface.
 *
 * **Keys and values.** A key is a non-null slice (`data != NULL`); the empty key is a key like
 * any other. A value passed to eddy_kv_put() may be null (`data == NULL`), which deletes the key
 * as Kafka's `put(key, null)` does; an empty value (`data != NULL`, `len == 0`) is stored and
 * read back as empty. Keys are at most 16 MiB, and so are values: both must fit in one changelog
 * record.
 *
 * **Threads.** A store, and every iterator over it, is used by one thread at a time (a stream
 * task's thread); callers serialise any other access.
 *
 * **Lifetimes.** Slices passed in are borrowed for the duration of the call: the store copies
 * what it keeps. Slices handed out are owned by the store or the iterator and stay valid as each
 * function states. The name is owned by the store until eddy_kv_store_close().
 *
 * **Iterators and modification.** An iterator stays safe to use while the store is modified
 * through the same store handle (a processor that deletes the keys it scans, say). What it then
 * returns depends on the implementation and is stated at each opener; every implementation
 * returns each key at most once, in order, and never a key outside its bounds. Closing the store
 * ends its open iterators: eddy_kv_iter_next() then returns ::EDDY_ERR_STATE, and each must still
 * be destroyed with eddy_kv_iter_destroy().
 *
 * **Errors.** Every function returning ::eddy_err leaves a message naming the store in
 * eddy_last_error() when it fails. ::EDDY_ERR_NOT_FOUND (eddy_kv_get) and ::EDDY_ERR_END
 * (eddy_kv_iter_next) are ordinary outcomes, reported without touching eddy_last_error().
 */
#ifndef EDDY_STORE_H
#define EDDY_STORE_H

#include "eddy/common.h"
#include "eddy/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An open key-value store (opaque). */
typedef struct eddy_kv_store eddy_kv_store;

/** An iterator over a range of a store's keys, in key order or in reverse (opaque). */
typedef struct eddy_kv_iter eddy_kv_iter;

/* ---- Opening ------------------------------------------------------------------------------ */

/**
 * Opens an empty in-memory store (Kafka Streams' `Stores.inMemoryKeyValueStore`): a hash table
 * for point reads and writes (small keys and values inline in its cache-line slots) and a
 * B+tree for order, which new keys enter when the next scan needs them (that scan sorts them
 * first; workloads that never scan never pay for order). Nothing survives
 * eddy_kv_store_close(); the runtime restores it from its changelog.
 *
 * Iterators over a memory store are *live*: an iterator returns the store's current contents at
 * each step, so a key put ahead of its position (in its direction) before it gets there is
 * returned, a key deleted ahead of it is not, and a value updated ahead of it is returned with
 * the new value; changes behind it are not seen. Keys present and unchanged throughout are
 * returned exactly once.
 *
 * @param name  the store's name: 1 to 249 characters from [a-zA-Z0-9._-] (Kafka
 *              Streams' rule for store names, which become topic and directory names); copied.
 * @param out   receives the store on success; close it with eddy_kv_store_close().
 * @return ::EDDY_OK; ::EDDY_ERR_INVALID_ARGUMENT for a bad name or a NULL argument;
 *         ::EDDY_ERR_NO_MEMORY.
 */
EDDY_EXPORT eddy_err eddy_kv_store_open_memory(const char *name, eddy_kv_store **out);

/**
 * Opens (creating when missing) a RocksDB store in the directory `dir/name` (Kafka Streams'
 * `Stores.persistentKeyValueStore`), creating `dir` and its parents as needed.
 *
 * RocksDB is configured as Kafka Streams configures it: no write-ahead log (the changelog
 * topic gives durability, and eddy_kv_flush() makes the files current at each commit), a 16 MiB
 * write buffer with at most 3 of them, universal compaction, no compression, a block-based table
 * with 4 KiB blocks, a 50 MiB LRU block cache and a full Bloom filter of 10 bits per key,
 * filters optimised for hits, background threads for max(CPUs, 2), RocksDB's own log at ERROR
 * level. These keys of @p config (NULL: all defaults) change the sizes:
 *
 * | key | default | range |
 * |---|---|---|
 * | `rocksdb.write.buffer.size` | 16777216 | 65536 .. 2^40 bytes |
 * | `rocksdb.max.write.buffers` | 3 | 2 .. 64 |
 * | `rocksdb.block.cache.size` | 52428800 | 0 .. 2^40 bytes (0: no block cache) |
 * | `rocksdb.block.size` | 4096 | 256 .. 16777216 bytes |
 *
 * Iterators over a RocksDB store see a *snapshot* taken when the iterator is opened: changes
 * made afterwards are not returned.
 *
 * Data written but not flushed is lost when the process dies (there is no WAL): it is restored
 * from the changelog. A database that cannot be read is reported, never repaired: the runtime
 * wipes it with eddy_kv_store_wipe_rocksdb() and restores it from the changelog.
 *
 * @param name    the store's name, as for eddy_kv_store_open_memory(); the directory's last
 *                component. Copied.
 * @param dir     the parent directory (a task's state directory); borrowed for the call.
 * @param config  size options as above, or NULL; borrowed for the call.
 * @param out     receives the store on success.
 * @return ::EDDY_OK; ::EDDY_ERR_INVALID_ARGUMENT for a bad name or a NULL argument;
 *         ::EDDY_ERR_CONFIG for a bad option value (the message names the key);
 *         ::EDDY_ERR_CORRUPT when the files in `dir/name` are not a readable database (a
 *         damaged CURRENT, MANIFEST, table or options file, or one of them missing) and
 *         ::EDDY_ERR_IO (or ::EDDY_ERR_NO_SPACE, ::EDDY_ERR_PERMISSION) when they cannot be
 *         read or created: the message names the directory and quotes RocksDB's error;
 *         ::EDDY_ERR_BUSY when another process (or handle) has the database open;
 *         ::EDDY_ERR_NO_MEMORY.
 */
EDDY_EXPORT eddy_err eddy_kv_store_open_rocksdb(const char *name, const char *dir,
                                                const eddy_config *config, eddy_kv_store **out);

/**
 * Deletes the directory `dir/name` of a RocksDB store and everything in it, so that the next
 * eddy_kv_store_open_rocksdb() starts empty (after a corrupt store, or to drop local state). The
 * store must not be open. A missing directory is not an error.
 * @return ::EDDY_OK; ::EDDY_ERR_INVALID_ARGUMENT for a bad name or a NULL argument; ::EDDY_ERR_IO
 *         (or ::EDDY_ERR_PERMISSION) naming the path that could not be removed.
 */
EDDY_EXPORT eddy_err eddy_kv_store_wipe_rocksdb(const char *dir, const char *name);

/**
 * Closes the store and frees it; NULL is a no-op. Open iterators are ended (see above) and must
 * still be destroyed. Does not flush: a RocksDB store loses writes made since the last
 * eddy_kv_flush() only if RocksDB's own flush at close fails, and the changelog restores
 * them; call eddy_kv_flush() first to make them durable.
 */
EDDY_EXPORT void eddy_kv_store_close(eddy_kv_store *store);

/** The store's name, as given at open; owned by the store, valid until it is closed. */
EDDY_EXPORT const char *eddy_kv_store_name(const eddy_kv_store *store);

/* ---- Point operations -------------------------------------------------------------------- */

/**
 * Reads the value of @p key.
 * @param value  receives the value on success, owned by the store: valid until the next call on
 *               the same store (any function taking it, including iterator calls) or its close.
 * @return ::EDDY_OK; ::EDDY_ERR_NOT_FOUND when the key is absent (@p value is set to a null
 *         slice; eddy_last_error() is untouched); ::EDDY_ERR_INVALID_ARGUMENT for a null key or
 *         a NULL argument; ::EDDY_ERR_IO or ::EDDY_ERR_CORRUPT from a RocksDB read.
 */
EDDY_EXPORT eddy_err eddy_kv_get(eddy_kv_store *store, eddy_slice key, eddy_slice *value);

/**
 * Sets @p key to @p value (both copied), or deletes the key when @p value is null.
 * @return ::EDDY_OK; ::EDDY_ERR_INVALID_ARGUMENT for a null key; ::EDDY_ERR_TOO_LARGE for a key
 *         or value over its limit; ::EDDY_ERR_NO_MEMORY (the store is unchanged);
 *         ::EDDY_ERR_IO, ::EDDY_ERR_NO_SPACE from RocksDB.
 */
EDDY_EXPORT eddy_err eddy_kv_put(eddy_kv_store *store, eddy_slice key, eddy_slice value);

/**
 * Deletes @p key; deleting an absent key is not an error (Kafka's `delete` returns the old value;
 * read it first with eddy_kv_get() when it is needed).
 * @return ::EDDY_OK; ::EDDY_ERR_INVALID_ARGUMENT for a null key; ::EDDY_ERR_IO from RocksDB.
 */
EDDY_EXPORT eddy_err eddy_kv_delete(eddy_kv_store *store, eddy_slice key);

/**
 * An estimate of the number of keys (Kafka's `approximateNumEntries`): exact for the memory
 * store; RocksDB's "rocksdb.estimate-num-keys", which is exact for its write buffers but
 * estimates table files as values minus tombstones, so it may be far off either way until
 * compaction (even 0 right after deletions are flushed, as each tombstone is assumed to cancel
 * a value in another file).
 * @return ::EDDY_OK; ::EDDY_ERR_IO when RocksDB cannot say.
 */
EDDY_EXPORT eddy_err eddy_kv_approximate_count(eddy_kv_store *store, uint64_t *count);

/**
 * Makes what was written so far durable in the store's own files (a no-op for the memory
 * store; RocksDB flushes its write buffers into SST files and waits for it). The runtime calls
 * it at each commit, before it writes the changelog offsets checkpoint.
 * @return ::EDDY_OK; ::EDDY_ERR_IO, ::EDDY_ERR_NO_SPACE from RocksDB.
 */
EDDY_EXPORT eddy_err eddy_kv_flush(eddy_kv_store *store);

/* ---- Iteration --------------------------------------------------------------------------- */

/**
 * An iterator over the keys in [from, to], both ends inclusive (Kafka's `range(from, to)`), in
 * ascending order. A null @p from or @p to leaves that end unbounded. When from > to the
 * iterator is empty (as in Kafka, which logs a warning). The bounds are copied.
 * @param out  receives the iterator; destroy it with eddy_kv_iter_destroy().
 * @return ::EDDY_OK; ::EDDY_ERR_INVALID_ARGUMENT for a NULL argument; ::EDDY_ERR_NO_MEMORY.
 */
EDDY_EXPORT eddy_err eddy_kv_range(eddy_kv_store *store, eddy_slice from, eddy_slice to,
                                   eddy_kv_iter **out);

/** Like eddy_kv_range(), in descending order (Kafka's `reverseRange(from, to)`). */
EDDY_EXPORT eddy_err eddy_kv_reverse_range(eddy_kv_store *store, eddy_slice from, eddy_slice to,
                                           eddy_kv_iter **out);

/**
 * An iterator over the keys starting with @p prefix, in ascending order (Kafka's `prefixScan`).
 * An empty prefix gives every key. The prefix is copied.
 * @return as eddy_kv_range(); ::EDDY_ERR_INVALID_ARGUMENT for a null prefix.
 */
EDDY_EXPORT eddy_err eddy_kv_prefix_scan(eddy_kv_store *store, eddy_slice prefix,
                                         eddy_kv_iter **out);

/** An iterator over every key in ascending order (Kafka's `all()`); as eddy_kv_range(). */
EDDY_EXPORT eddy_err eddy_kv_all(eddy_kv_store *store, eddy_kv_iter **out);

/** An iterator over every key in descending order (Kafka's `reverseAll()`). */
EDDY_EXPORT eddy_err eddy_kv_reverse_all(eddy_kv_store *store, eddy_kv_iter **out);

/**
 * Advances the iterator and returns the key and value it reaches.
 * @param key, value  receive the entry, owned by the iterator: valid until the next call on this
 *                    iterator or its destruction, whatever is done to the store meanwhile.
 * @return ::EDDY_OK; ::EDDY_ERR_END when there are no more keys (and on every later call);
 *         ::EDDY_ERR_STATE when the store has been closed; ::EDDY_ERR_NO_MEMORY;
 *         ::EDDY_ERR_IO or ::EDDY_ERR_CORRUPT from RocksDB.
 */
EDDY_EXPORT eddy_err eddy_kv_iter_next(eddy_kv_iter *iter, eddy_slice *key, eddy_slice *value);

/** Frees the iterator; NULL is a no-op. Allowed before or after its store is closed. */
EDDY_EXPORT void eddy_kv_iter_destroy(eddy_kv_iter *iter);

#ifdef __cplusplus
}
#endif
#endif
