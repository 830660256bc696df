/* Window and session stores: key layouts over any eddy_kv_store (memory, RocksDB, or the
 * runtime's cache and changelog decorators), so that windowed state is logged, cached and
 * restored exactly as key-value state is.
 *
 * Layouts (all integers 8 bytes, big-endian, two's complement; timestamps are >= 0 in
 * practice, so byte order is time order):
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
 * Retention: eddy__window_expire deletes the windows (sessions) that ended before a time; the
 * runtime calls it as stream time advances.
 *
 * Functions here take slices the caller owns for the call; values passed to callbacks are
 * valid during the callback only. */
#ifndef EDDY_STORE_WINDOW_H
#define EDDY_STORE_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "eddy/store.h"

#define EDDY__WINDOW_SUFFIX_BYTES 8
#define EDDY__WINDOW_DUPS_SUFFIX_BYTES 12
#define EDDY__SESSION_SUFFIX_BYTES 16

/* ---- Window stores ---- */

/* Writes [key][start] into out (key.len + 8 bytes); returns the length. */
size_t eddy__window_key(uint8_t *out, eddy_slice key, int64_t start_ms);

/* Splits a window-store key (dups: with a sequence number) into the record key and the start.
 * EDDY_ERR_CORRUPT when it is too short. */
eddy_err eddy__window_key_split(eddy_slice store_key, bool dups, eddy_slice *key,
                                int64_t *start_ms);

/* The value of `key`'s window starting at `start_ms` (no dups). EDDY_ERR_NOT_FOUND when absent
 * (value null). The value is valid until the next call on the store. */
eddy_err eddy__window_get(eddy_kv_store *store, eddy_slice key, int64_t start_ms,
                          eddy_slice *value);

/* Puts (value non-null) or deletes (value null) `key`'s window starting at start_ms (no dups). */
eddy_err eddy__window_put(eddy_kv_store *store, eddy_slice key, int64_t start_ms,
                          eddy_slice value);

/* Appends a record at `timestamp_ms` to a dups store: each call adds an entry, numbered by
 * *sequence (incremented; the caller keeps it per store, like Kafka's seqnum). */
eddy_err eddy__window_put_dup(eddy_kv_store *store, eddy_slice key, int64_t timestamp_ms,
                              uint32_t *sequence, eddy_slice value);

/* Called for each entry found: the window start (dups: the record's timestamp), the value, and
 * the full store key (for deleting it). A non-OK return stops the scan and is returned. */
typedef eddy_err (*eddy__window_fn)(void *opaque, int64_t start_ms, eddy_slice value,
                                    eddy_slice store_key);

/* Calls fn for `key`'s windows (dups: records) with from_ms <= start <= to_ms, in start order
 * (then sequence order). */
eddy_err eddy__window_fetch(eddy_kv_store *store, eddy_slice key, bool dups, int64_t from_ms,
                            int64_t to_ms, eddy__window_fn fn, void *opaque);

/* Calls fn (with the record key too) for every entry of every key with from_ms <= start <=
 * to_ms, in store order: for the unmatched-records buffer of outer joins and for tests. */
typedef eddy_err (*eddy__window_all_fn)(void *opaque, eddy_slice key, int64_t start_ms,
                                        eddy_slice value, eddy_slice store_key);
eddy_err eddy__window_fetch_all(eddy_kv_store *store, bool dups, int64_t from_ms, int64_t to_ms,
                                eddy__window_all_fn fn, void *opaque);

/* ---- Session stores ---- */

/* Writes [key][end][start] into out (key.len + 16 bytes); returns the length. */
size_t eddy__session_key(uint8_t *out, eddy_slice key, int64_t start_ms, int64_t end_ms);

eddy_err eddy__session_key_split(eddy_slice store_key, eddy_slice *key, int64_t *start_ms,
                                 int64_t *end_ms);

/* Puts (value non-null) or removes (null) the session [start_ms, end_ms] of key. */
eddy_err eddy__session_put(eddy_kv_store *store, eddy_slice key, int64_t start_ms,
                           int64_t end_ms, eddy_slice value);

typedef eddy_err (*eddy__session_fn)(void *opaque, int64_t start_ms, int64_t end_ms,
                                     eddy_slice value);

/* Calls fn for `key`'s sessions with end >= earliest_end_ms and start <= latest_start_ms (Kafka's
 * SessionStore.findSessions), in end order. */
eddy_err eddy__session_find(eddy_kv_store *store, eddy_slice key, int64_t earliest_end_ms,
                            int64_t latest_start_ms, eddy__session_fn fn, void *opaque);

/* ---- Retention ---- */

/* Deletes every window whose start (dups: timestamp) is < before_ms, or every session whose end
 * is < before_ms (session = true). Returns how many were deleted through *deleted (may be
 * NULL). Cost: one scan of the store. */
eddy_err eddy__window_expire(eddy_kv_store *store, bool session, bool dups, int64_t before_ms,
                             uint64_t *deleted);

#endif
