/* Window and session stores: key layouts over any eddy_kv_store (memory, RocksDB, or the
 * runtime's cache and changelog decorators), so that windowed state is logged, cached and
 * restored exactly as key-value state is.
 *
 * Layouts (all integers 8 bytes, big-endian, two's complement; the sequence 4 bytes, unsigned).
 * Byte order is time order only for timestamps >= 0 (a negative one would sort after every
 * positive one), so negative timestamps are not supported: the put functions reject them with
 * EDDY_ERR_INVALID_ARGUMENT, and the scans treat negative lower bounds as 0:
 *
 *     window store          [record key][window start]              = Kafka's TimeWindowed key
 *     window store, dups    [record key][timestamp][sequence, 4 bytes] (Kafka's WindowKeySchema
 *                                                                     with retainDuplicates)
 *     session store         [record key][session end][session start] = Kafka's SessionWindowed key
 *
 * Because record keys have different lengths, the entries of one key are not contiguous in
 * byte order when another key extends it (key "a" and key "a\0\0\0\0\0\0\0\x05..."): every
 * scan checks that an entry's length is the key's plus the suffix and that it starts with the
 * key, and skips others.
 *
 * Retention: eddy__window_expire deletes the windows that start (the records timestamped, the
 * sessions that end) before a time; the runtime calls it as stream time advances. Kafka keeps
 * a window while start > stream time - retention, so that bound is before_ms = stream time -
 * retention + 1.
 *
 * Functions here take slices the caller owns for the call; values passed to callbacks are
 * valid during the callback only. They use only the public eddy_kv_* functions (retention's
 * scan also the keys_only hint of store/store.h), and pass the store's own errors through. A record key is a non-null slice (the empty key is a key); a null
 * one is EDDY_ERR_INVALID_ARGUMENT. A record key too long for the store once its suffix is
 * added is EDDY_ERR_TOO_LARGE in the put functions, and is found nowhere by the reads. A
 * callback may change the store (delete the entry it is given, say); what the rest of the scan
 * then sees is the store's iterator rule (live for memory, a snapshot for RocksDB). */
#ifndef EDDY_STORE_WINDOW_H
#define EDDY_STORE_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eddy/store.h"

#define EDDY__WINDOW_SUFFIX_BYTES 8
#define EDDY__WINDOW_DUPS_SUFFIX_BYTES 12
#define EDDY__SESSION_SUFFIX_BYTES 16

/* The suffix width of a windowed store's layout: 16 for a session store, 12 for a window store
 * that retains duplicates (a join buffer), 8 for any other window store. For opening the
 * windowed memory store (store.h: eddy__kv_store_open_memory_windowed). */
static inline size_t eddy__window_suffix_bytes(bool session, bool dups)
{
    return session ? EDDY__SESSION_SUFFIX_BYTES
           : dups  ? EDDY__WINDOW_DUPS_SUFFIX_BYTES
                   : EDDY__WINDOW_SUFFIX_BYTES;
}

/* ---- Window stores ---- */

/* Writes [key][start] into out (key.len + 8 bytes); returns the length. */
size_t eddy__window_key(uint8_t *out, eddy_slice key, int64_t start_ms);

/* Splits a window-store key (dups: with a sequence number) into the record key (pointing into
 * store_key) and the start (dups: the timestamp). EDDY_ERR_CORRUPT when it is too short. */
eddy_err eddy__window_key_split(eddy_slice store_key, bool dups, eddy_slice *key,
                                int64_t *start_ms);

/* The value of `key`'s window starting at `start_ms` (no dups). EDDY_ERR_NOT_FOUND when absent
 * (value null). The value is valid until the next call on the store. */
eddy_err eddy__window_get(eddy_kv_store *store, eddy_slice key, int64_t start_ms,
                          eddy_slice *value);

/* Puts (value non-null) or deletes (value null) `key`'s window starting at start_ms (no dups).
 * EDDY_ERR_INVALID_ARGUMENT for start_ms < 0. */
eddy_err eddy__window_put(eddy_kv_store *store, eddy_slice key, int64_t start_ms,
                          eddy_slice value);

/* Appends a record at `timestamp_ms` to a dups store: each call adds an entry numbered
 * *sequence, which is then incremented (on success only; wrapping at 2^32). The caller keeps it
 * per store, like Kafka's seqnum; records of one key and timestamp come back in sequence order,
 * so in insertion order unless the counter wraps between them. A null value is ignored (no
 * entry, sequence unchanged), as Kafka ignores put(key, null) with retainDuplicates.
 * EDDY_ERR_INVALID_ARGUMENT for timestamp_ms < 0 or a NULL sequence. */
eddy_err eddy__window_put_dup(eddy_kv_store *store, eddy_slice key, int64_t timestamp_ms,
                              uint32_t *sequence, eddy_slice value);

/* Called for each entry found: the window start (dups: the record's timestamp), the value, and
 * the full store key (for deleting it). A non-OK return stops the scan and is returned. */
typedef eddy_err (*eddy__window_fn)(void *opaque, int64_t start_ms, eddy_slice value,
                                    eddy_slice store_key);

/* Calls fn for `key`'s windows (dups: records) with from_ms <= start <= to_ms, in start order
 * (then sequence order). Nothing when to_ms < from_ms. One range scan from [key][from_ms] to
 * [key][to_ms]; entries of longer keys that fall in it are skipped. */
eddy_err eddy__window_fetch(eddy_kv_store *store, eddy_slice key, bool dups, int64_t from_ms,
                            int64_t to_ms, eddy__window_fn fn, void *opaque);

/* Calls fn (with the record key too) for every entry of every key with from_ms <= start <=
 * to_ms, in store order (record key, then start, then sequence): for the unmatched-records
 * buffer of outer joins and for tests. Reads the whole store; EDDY_ERR_CORRUPT for a store key
 * shorter than the layout's suffix. */
typedef eddy_err (*eddy__window_all_fn)(void *opaque, eddy_slice key, int64_t start_ms,
                                        eddy_slice value, eddy_slice store_key);
eddy_err eddy__window_fetch_all(eddy_kv_store *store, bool dups, int64_t from_ms, int64_t to_ms,
                                eddy__window_all_fn fn, void *opaque);

/* ---- Session stores ---- */

/* Writes [key][end][start] into out (key.len + 16 bytes); returns the length. */
size_t eddy__session_key(uint8_t *out, eddy_slice key, int64_t start_ms, int64_t end_ms);

/* Splits a session-store key into the record key (pointing into store_key), the start and the
 * end. EDDY_ERR_CORRUPT when it is shorter than 16 bytes. */
eddy_err eddy__session_key_split(eddy_slice store_key, eddy_slice *key, int64_t *start_ms,
                                 int64_t *end_ms);

/* Puts (value non-null) or removes (null) the session [start_ms, end_ms] of key.
 * EDDY_ERR_INVALID_ARGUMENT for start_ms < 0 or end_ms < start_ms. */
eddy_err eddy__session_put(eddy_kv_store *store, eddy_slice key, int64_t start_ms,
                           int64_t end_ms, eddy_slice value);

typedef eddy_err (*eddy__session_fn)(void *opaque, int64_t start_ms, int64_t end_ms,
                                     eddy_slice value);

/* Calls fn for `key`'s sessions with end >= earliest_end_ms and start <= latest_start_ms (Kafka's
 * SessionStore.findSessions), both bounds inclusive, in end order (then start order). The scan
 * starts at [key][earliest_end_ms], so sessions that ended earlier cost nothing; every session
 * of the key ending later is visited (a session starting by latest_start_ms may end at any
 * time). */
eddy_err eddy__session_find(eddy_kv_store *store, eddy_slice key, int64_t earliest_end_ms,
                            int64_t latest_start_ms, eddy__session_fn fn, void *opaque);

/* ---- Retention ---- */

/* Deletes every window whose start (dups: timestamp) is < before_ms, or every session whose end
 * is < before_ms (session = true). Returns how many were deleted through *deleted (may be
 * NULL; on failure, how many the batches before the failing one deleted: some of the failing
 * batch's may be gone too). Cost: one scan of the whole store (keys are ordered by record key
 * first), so the caller should not call it on every record; a store that does retention itself
 * (store.h: expire_before, the windowed memory store) looks at each record key's oldest
 * entries instead, and deletes the same keys.
 * Deletions are made in batches of up to 1024 keys between scans (never while an iterator is
 * open), so that it works over live, snapshot and locking iterators alike. EDDY_ERR_CORRUPT
 * for a store key shorter than the layout's suffix. */
eddy_err eddy__window_expire(eddy_kv_store *store, bool session, bool dups, int64_t before_ms,
                             uint64_t *deleted);

#endif
