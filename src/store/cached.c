/* The record cache decorator (Kafka Streams' CachingKeyValueStore): puts and deletes are kept in
 * memory and reach the inner store only at flush (each commit) or when the cache is over its
 * byte budget.
 *
 * Forwarding. With a flush listener (eddy__kv_store_cached_listen), every write that reaches
 * inner (a flush, an eviction, or a write too large to cache) is also reported to the listener
 * with the key, the new value, the value inner held before and the timestamp of the entry's
 * last write, read from the listener's clock: the runtime forwards it downstream, so that an
 * aggregation emits once per key per commit, as Kafka Streams' cached KTables do. With
 * max_bytes 0 every write goes through and is reported at once.
 *
 * Why. A count or an aggregation rewrites the same keys over and over between two commits; the
 * cache folds those writes into one per key, so the inner store (a RocksDB store, and the
 * changelog topic behind a logged store) sees only the last value of each key per commit.
 *
 * Entries. Every cached key has one entry, one allocation holding its key and room for its
 * value (value_cap bytes, which a later value of that size or less reuses: the get-then-put of
 * an aggregation does not allocate once its key is cached). An entry is a value or a delete
 * marker, and is dirty (not yet in inner) or clean (the same as inner's; kept after a flush so
 * that the next get and put of the key need neither the inner store nor an allocation). Delete
 * markers are dropped once written. A hash table of entry pointers (open addressing, linear
 * probing, at most 3/4 full, backward-shift deletion) finds a key's entry.
 *
 * Write order. Entries are also linked in the order of their last write, oldest first; each
 * write moves its entry to the newest end:
 *
 *     oldest -> [k3 dirty] <-> [k1 clean] <-> [k7 dirty] <-> [k2 dirty] <- newest
 *
 * flush writes the dirty entries to inner in that order (k3, k7, k2: a rewritten key comes when
 * it was last written) and then flushes inner. The budget counts, for each entry, its key, its
 * value room and CACHE_ENTRY_OVERHEAD_BYTES; a write that would take it past max_bytes first
 * evicts the oldest other entries (writing the dirty ones to inner) until the new entry fits. An
 * entry larger than the whole budget is not cached: it is written to inner directly, and any
 * cached entry of its key dropped. With max_bytes 0 nothing fits, so every write goes through.
 *
 * Failures. A write that fails (no memory, or inner refusing an eviction) leaves its key as it
 * was; evictions made before the failure are kept, which changes where entries are, not what
 * the store holds. A flush that fails keeps the entries it had not written dirty, in order.
 *
 * Aliasing. A value passed to put may point into the cache itself (the value get returned) or
 * into inner (when get missed the cache). The new entry is filled before anything is evicted,
 * so neither is read after it may have been freed.
 *
 * Iterators merge a snapshot of the dirty entries within their bounds, copied and sorted when
 * the iterator is opened, with an iterator of inner over the same bounds: equal keys come once,
 * with the cache's value, and delete markers hide inner's keys. Clean entries are left out of
 * the snapshot: inner has the same. Later writes through the store are not seen in the
 * snapshot; inner's side behaves as inner's iterators do (live for the memory store). Opening
 * an iterator costs a walk of all entries and a sort of the ones in bounds: fine for the scans
 * of a stream task over a cache of modest size, and simple enough to be obviously correct.
 * An empty cache (always so with max_bytes 0) has nothing to merge: its iterators are inner's,
 * opened there directly (store.c's pass-through layers).
 *
 * close does not flush (as eddy_kv_store_close documents for every store): dirty entries are
 * dropped, like any change made after the last commit, which the runtime reprocesses. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/logging.h"
#include "store/store.h"

#define CACHE_SLOTS_MIN 16
/* Value room is a multiple of this, so values that vary by a few bytes reuse their entry. */
#define CACHE_VALUE_ROUND 16

typedef struct cache_entry {
    struct cache_entry *older; /* the write order list */
    struct cache_entry *newer;
    uint64_t hash;
    uint32_t key_len;
    uint32_t value_len;
    uint32_t value_cap;
    int64_t context_ms; /* the listener clock's time at the last write */
    uint8_t dirty;      /* not yet written to inner */
    uint8_t deleted;    /* a delete marker (value_len 0) */
    uint8_t bytes[];    /* the key, then value_cap bytes of room for the value */
} cache_entry;

typedef struct cache_slot {
    uint64_t hash;
    cache_entry *entry; /* NULL: empty */
} cache_slot;

/* What an entry costs beyond its key and value room: the entry header and its hash slot (a
 * table at most 3/4 full has more slots than entries; one each is close enough for a budget). */
#define CACHE_ENTRY_OVERHEAD_BYTES (sizeof(cache_entry) + sizeof(cache_slot))

typedef struct cache_store {
    eddy_kv_store *inner;
    size_t max_bytes;
    size_t bytes; /* cache_entry_bytes of every entry */
    uint64_t seed;
    cache_slot *slots;
    size_t slot_mask; /* slot count - 1, a power of two minus one */
    size_t count;     /* entries */
    cache_entry *oldest;
    cache_entry *newest;
    eddy__kv_flush_fn listener; /* NULL: writes reach inner silently */
    bool listener_old;          /* the listener needs inner's old values (else null is passed) */
    void *listener_opaque;
    const int64_t *clock;
    size_t *shared_bytes; /* the budget's use across the stores sharing it; NULL: own only */
    cache_entry *spare;   /* the last entry dropped, kept for the next new one (a full cache
                           * drops one entry per new one: no allocation per record) */
    size_t spare_bytes;   /* its allocation's size */
    uint8_t *old_copy;    /* inner's value before a reported write */
    size_t old_copy_capacity;
} cache_store;

/* Adds `delta` bytes to this store's use and to the shared budget's. */
static void cache_account(cache_store *s, int64_t delta)
{
    s->bytes = (size_t)((int64_t)s->bytes + delta);
    if (s->shared_bytes)
        *s->shared_bytes = (size_t)((int64_t)*s->shared_bytes + delta);
}

/* The bytes counted against max_bytes: this store's, or every sharing store's. */
static size_t cache_used(const cache_store *s)
{
    return s->shared_bytes ? *s->shared_bytes : s->bytes;
}

static const char *cache_name(const cache_store *s)
{
    return eddy_kv_store_name(s->inner);
}

/* ---- Entries --------------------------------------------------------------------------------- */

static size_t cache_entry_bytes_for(size_t key_len, size_t value_cap)
{
    return CACHE_ENTRY_OVERHEAD_BYTES + key_len + value_cap;
}

static size_t cache_entry_bytes(const cache_entry *e)
{
    return cache_entry_bytes_for(e->key_len, e->value_cap);
}

static eddy_slice cache_entry_key(const cache_entry *e)
{
    return (eddy_slice){e->bytes, e->key_len};
}

static eddy_slice cache_entry_value(const cache_entry *e)
{
    return (eddy_slice){e->bytes + e->key_len, e->value_len};
}

/* Room for a value of len bytes: rounded up, and when the entry had room before, at least half
 * as much again (a value that keeps growing, such as a list aggregate, then reallocates a
 * logarithmic number of times), but never so much that the entry alone passes the budget. */
static size_t cache_value_cap(const cache_store *s, size_t key_len, size_t len, size_t old_cap)
{
    size_t cap = (len + CACHE_VALUE_ROUND - 1) / CACHE_VALUE_ROUND * CACHE_VALUE_ROUND;
    if (old_cap && cap < old_cap + old_cap / 2)
        cap = old_cap + old_cap / 2;
    size_t room = s->max_bytes - cache_entry_bytes_for(key_len, 0); /* >= len: checked before */
    return cap < room ? cap : room;
}

static inline uint64_t hash_mix(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
}

/* A seeded hash over 8-byte words; the per-store seed keeps one store's collisions from being
 * another's. */
static uint64_t cache_key_hash(uint64_t seed, const uint8_t *key, size_t len)
{
    uint64_t h = seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ULL);
    while (len >= 8) {
        uint64_t word;
        memcpy(&word, key, 8);
        h = hash_mix(h ^ word);
        key += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    if (len)
        memcpy(&tail, key, len);
    return hash_mix(h ^ tail ^ 0x5bd1e9955bd1e995ULL);
}

/* ---- The hash table -------------------------------------------------------------------------- */

static cache_slot *cache_slot_find(const cache_store *s, uint64_t hash, eddy_slice key)
{
    for (size_t i = hash & s->slot_mask;; i = (i + 1) & s->slot_mask) {
        cache_slot *slot = &s->slots[i];
        if (!slot->entry)
            return NULL;
        const cache_entry *e = slot->entry;
        if (slot->hash == hash && e->key_len == key.len &&
            (key.len == 0 || memcmp(e->bytes, key.data, key.len) == 0))
            return slot;
    }
}

static cache_slot *cache_slot_of(const cache_store *s, const cache_entry *e)
{
    for (size_t i = e->hash & s->slot_mask;; i = (i + 1) & s->slot_mask) {
        EDDY_ASSERT(s->slots[i].entry != NULL);
        if (s->slots[i].entry == e)
            return &s->slots[i];
    }
}

static cache_slot *cache_slot_free_for(cache_slot *slots, size_t mask, uint64_t hash)
{
    size_t i = hash & mask;
    while (slots[i].entry)
        i = (i + 1) & mask;
    return &slots[i];
}

/* Makes room for one more entry, doubling the table when it would pass 3/4 full. */
static eddy_err cache_slots_reserve(cache_store *s)
{
    size_t slot_count = s->slot_mask + 1;
    if ((s->count + 1) * 4 <= slot_count * 3)
        return EDDY_OK;
    size_t grown = slot_count * 2;
    cache_slot *slots = eddy__calloc(grown, sizeof(*slots));
    if (!slots)
        return eddy__fail(EDDY_ERR_NO_MEMORY,
                          "store '%s': out of memory growing the cache to %zu slots", cache_name(s),
                          grown);
    for (size_t i = 0; i < slot_count; i++)
        if (s->slots[i].entry)
            *cache_slot_free_for(slots, grown - 1, s->slots[i].hash) = s->slots[i];
    eddy__free(s->slots);
    s->slots = slots;
    s->slot_mask = grown - 1;
    return EDDY_OK;
}

/* Empties a slot and moves later slots of the run back, so that no lookup meets a hole. */
static void cache_slot_remove(cache_store *s, cache_slot *slot)
{
    size_t mask = s->slot_mask, hole = (size_t)(slot - s->slots);
    for (size_t i = (hole + 1) & mask; s->slots[i].entry; i = (i + 1) & mask) {
        size_t home = s->slots[i].hash & mask;
        /* The entry at i may fill the hole when the hole is within its probe run [home, i). */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            s->slots[hole] = s->slots[i];
            hole = i;
        }
    }
    s->slots[hole].entry = NULL;
    s->slots[hole].hash = 0;
}

/* ---- The write order list -------------------------------------------------------------------- */

static void cache_list_unlink(cache_store *s, cache_entry *e)
{
    if (e->older)
        e->older->newer = e->newer;
    else
        s->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        s->newest = e->older;
    e->older = e->newer = NULL;
}

static void cache_list_append(cache_store *s, cache_entry *e)
{
    e->older = s->newest;
    e->newer = NULL;
    if (s->newest)
        s->newest->newer = e;
    else
        s->oldest = e;
    s->newest = e;
}

/* ---- Writing, evicting and dropping entries -------------------------------------------------- */

/* Copies inner's value of key (null when absent) into s->old_copy: the write that follows may
 * move the bytes inner returned. */
static eddy_err cache_inner_old(cache_store *s, eddy_slice key, eddy_slice *old)
{
    eddy_slice v;
    eddy_err err = eddy_kv_get(s->inner, key, &v);
    *old = (eddy_slice){NULL, 0};
    if (err == EDDY_ERR_NOT_FOUND)
        return EDDY_OK;
    if (err != EDDY_OK)
        return err;
    if (v.len > s->old_copy_capacity || !s->old_copy) {
        uint8_t *grown = eddy__realloc(s->old_copy, v.len ? v.len : 1);
        if (!grown)
            return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory", cache_name(s));
        s->old_copy = grown;
        s->old_copy_capacity = v.len ? v.len : 1;
    }
    if (v.len)
        memcpy(s->old_copy, v.data, v.len);
    *old = (eddy_slice){s->old_copy, v.len};
    return EDDY_OK;
}

/* Writes key's value or deletion to inner and reports it to the listener, if any. A cached
 * deletion of a key inner does not hold is not reported (Kafka's caching store forwards only
 * when the new or the old value is non-null); a write-through (`uncached`) always is, as Kafka
 * forwards every update when caching is off. */
static eddy_err cache_inner_write(cache_store *s, eddy_slice key, eddy_slice value, int deleted,
                                  int64_t context_ms, bool uncached)
{
    eddy_slice old = {NULL, 0};
    /* Reading the old value costs a lookup in inner: only when the listener uses it, or to tell
     * a cached deletion of an absent key (not reported). A write-through deletion is reported
     * whatever inner held, so it needs no lookup (a session merge deletes per record). */
    bool need_old = s->listener_old || (deleted && !uncached);
    eddy_err err = s->listener && need_old ? cache_inner_old(s, key, &old) : EDDY_OK;
    if (err == EDDY_OK)
        err = deleted ? eddy_kv_delete(s->inner, key) : eddy_kv_put(s->inner, key, value);
    if (err != EDDY_OK || !s->listener || (deleted && !old.data && !uncached))
        return err;
    return s->listener(s->listener_opaque, key, deleted ? (eddy_slice){NULL, 0} : value, old,
                       context_ms);
}

/* Writes a dirty entry's value or deletion to inner. */
static eddy_err cache_entry_write(cache_store *s, const cache_entry *e)
{
    EDDY_ASSERT(e->dirty);
    return cache_inner_write(s, cache_entry_key(e), cache_entry_value(e), e->deleted, e->context_ms,
                             false);
}

/* Removes an entry from the cache and frees it (it must be clean or no longer needed). */
/* Frees an entry's memory, or keeps it as the spare. */
static void cache_entry_free(cache_store *s, cache_entry *e)
{
    size_t size = sizeof(*e) + e->key_len + e->value_cap;
    if (s->spare && s->spare_bytes >= size) {
        eddy__free(e);
        return;
    }
    eddy__free(s->spare);
    s->spare = e;
    s->spare_bytes = size;
}

static void cache_entry_drop(cache_store *s, cache_entry *e)
{
    cache_slot_remove(s, cache_slot_of(s, e));
    cache_list_unlink(s, e);
    s->count--;
    cache_account(s, -(int64_t)cache_entry_bytes(e));
    cache_entry_free(s, e);
}

/* Evicts the least recently written entries other than `keep` (written to inner when dirty)
 * until `incoming` more bytes fit in the budget, counting keep's bytes as already gone. With a
 * shared budget, only this store's entries are evicted: when it has none left the budget is
 * exceeded until the other stores' next writes evict theirs. */
static eddy_err cache_evict_for(cache_store *s, const cache_entry *keep, size_t incoming)
{
    size_t kept = keep ? cache_entry_bytes(keep) : 0;
    EDDY_ASSERT(incoming <= s->max_bytes);
    while (cache_used(s) - kept + incoming > s->max_bytes) {
        cache_entry *e = s->oldest != keep ? s->oldest : s->oldest->newer;
        if (!e && s->shared_bytes)
            break;
        EDDY_ASSERT(e != NULL); /* keep alone is gone from the count, and incoming fits */
        if (e->dirty) {
            eddy_err err = cache_entry_write(s, e);
            if (err != EDDY_OK)
                return err;
        }
        cache_entry_drop(s, e);
    }
    return EDDY_OK;
}

/* A new entry for key holding value (or a delete marker), with value room cap; NULL when out of
 * memory. Not yet in the table or the list. */
static cache_entry *cache_entry_new(cache_store *s, uint64_t hash, eddy_slice key, eddy_slice value,
                                    int deleted, size_t cap)
{
    cache_entry *e = NULL;
    if (s->spare && s->spare_bytes >= sizeof(*e) + key.len + cap) {
        e = s->spare; /* its room is larger or equal: the value keeps it */
        cap = s->spare_bytes - sizeof(*e) - key.len;
        s->spare = NULL;
    } else {
        e = eddy__malloc(sizeof(*e) + key.len + cap);
    }
    if (!e)
        return NULL;
    memset(e, 0, sizeof(*e));
    e->hash = hash;
    e->key_len = (uint32_t)key.len;
    e->value_len = (uint32_t)value.len;
    e->value_cap = (uint32_t)cap;
    e->dirty = 1;
    e->deleted = (uint8_t)deleted;
    if (key.len)
        memcpy(e->bytes, key.data, key.len);
    if (value.len)
        memcpy(e->bytes + key.len, value.data, value.len);
    return e;
}

/* A write too large for the whole cache: straight to inner, and any cached entry of the key is
 * then stale. */
static eddy_err cache_write_through(cache_store *s, cache_entry *e, eddy_slice key,
                                    eddy_slice value, int deleted)
{
    eddy_err err = cache_inner_write(s, key, value, deleted, s->clock ? *s->clock : 0, true);
    if (err == EDDY_OK && e)
        cache_entry_drop(s, e);
    return err;
}

/* Puts value (deleted 0) or a delete marker (deleted 1, value null) for key. */
static eddy_err cache_write(cache_store *s, eddy_slice key, eddy_slice value, int deleted)
{
    /* An empty cache with no room for this write (always so with max_bytes 0: join buffers,
     * session stores, a cache turned off) writes through without hashing the key. */
    if (s->count == 0 && cache_entry_bytes_for(key.len, value.len) > s->max_bytes)
        return cache_write_through(s, NULL, key, value, deleted);
    uint64_t hash = cache_key_hash(s->seed, key.data, key.len);
    cache_slot *slot = s->count ? cache_slot_find(s, hash, key) : NULL;
    cache_entry *e = slot ? slot->entry : NULL;
    if (e && value.len <= e->value_cap) {
        /* The common update: the new value in the old room (memmove: it may be the old value). */
        if (value.len)
            memmove(e->bytes + e->key_len, value.data, value.len);
        e->value_len = (uint32_t)value.len;
        e->deleted = (uint8_t)deleted;
        e->dirty = 1;
        e->context_ms = s->clock ? *s->clock : 0;
        if (e != s->newest) {
            cache_list_unlink(s, e);
            cache_list_append(s, e);
        }
        return EDDY_OK;
    }
    if (cache_entry_bytes_for(key.len, value.len) > s->max_bytes)
        return cache_write_through(s, e, key, value, deleted);

    if (!e) {
        eddy_err err = cache_slots_reserve(s);
        if (err != EDDY_OK)
            return err;
    }
    size_t cap = cache_value_cap(s, key.len, value.len, e ? e->value_cap : 0);
    cache_entry *fresh = cache_entry_new(s, hash, key, value, deleted, cap);
    if (!fresh)
        return eddy__fail(EDDY_ERR_NO_MEMORY,
                          "store '%s': out of memory caching a %zu-byte key and %zu-byte value",
                          cache_name(s), key.len, value.len);
    fresh->context_ms = s->clock ? *s->clock : 0;
    /* From here on key and value may dangle (an eviction may have freed what they pointed
     * into): only fresh's copies are used. */
    eddy_err err = cache_evict_for(s, e, cache_entry_bytes(fresh));
    if (err != EDDY_OK) {
        eddy__free(fresh);
        return err;
    }
    if (e) {
        cache_slot_of(s, e)->entry = fresh;
        cache_list_unlink(s, e);
        cache_account(s, -(int64_t)cache_entry_bytes(e));
        eddy__free(e);
    } else {
        cache_slot *free_slot = cache_slot_free_for(s->slots, s->slot_mask, hash);
        free_slot->hash = hash;
        free_slot->entry = fresh;
        s->count++;
    }
    cache_list_append(s, fresh);
    cache_account(s, (int64_t)cache_entry_bytes(fresh));
    return EDDY_OK;
}

/* ---- Store operations ------------------------------------------------------------------------ */

static eddy_err cache_get(void *self, eddy_slice key, eddy_slice *value)
{
    cache_store *s = self;
    if (s->count) {
        cache_slot *slot = cache_slot_find(s, cache_key_hash(s->seed, key.data, key.len), key);
        if (slot) {
            if (slot->entry->deleted) {
                *value = (eddy_slice){NULL, 0};
                return EDDY_ERR_NOT_FOUND;
            }
            *value = cache_entry_value(slot->entry);
            return EDDY_OK;
        }
    }
    return eddy_kv_get(s->inner, key, value);
}

static eddy_err cache_put(void *self, eddy_slice key, eddy_slice value)
{
    EDDY_ASSERT(value.data);
    return cache_write(self, key, value, 0);
}

static eddy_err cache_remove(void *self, eddy_slice key)
{
    return cache_write(self, key, (eddy_slice){NULL, 0}, 1);
}

/* inner's count plus the dirty values: exact when every dirty value is a new key; an updated
 * key counts twice and a pending delete not at all until the next flush. */
static eddy_err cache_approximate_count(void *self, uint64_t *count)
{
    cache_store *s = self;
    eddy_err err = eddy_kv_approximate_count(s->inner, count);
    if (err != EDDY_OK)
        return err;
    for (const cache_entry *e = s->oldest; e; e = e->newer)
        *count += e->dirty && !e->deleted;
    return EDDY_OK;
}

static eddy_err cache_flush(void *self)
{
    cache_store *s = self;
    for (cache_entry *e = s->oldest, *newer; e; e = newer) {
        newer = e->newer;
        if (!e->dirty)
            continue;
        eddy_err err = cache_entry_write(s, e);
        if (err != EDDY_OK)
            return err;
        e->dirty = 0;
        if (e->deleted)
            cache_entry_drop(s, e);
    }
    return eddy_kv_flush(s->inner);
}

static void cache_close(void *self)
{
    cache_store *s = self;
    for (cache_entry *e = s->oldest, *newer; e; e = newer) {
        newer = e->newer;
        eddy__free(e);
    }
    if (s->shared_bytes)
        *s->shared_bytes -= s->bytes;
    eddy__free(s->slots);
    eddy__free(s->old_copy);
    eddy__free(s->spare);
    eddy_kv_store_close(s->inner);
    eddy__free(s);
}

/* ---- Iterators ------------------------------------------------------------------------------- */

/* A copied dirty entry; key and value point into the iterator's allocation. */
typedef struct cache_item {
    const uint8_t *key;
    const uint8_t *value;
    uint32_t key_len;
    uint32_t value_len;
    int deleted;
} cache_item;

enum { INNER_NEEDED, INNER_HELD, INNER_ENDED };

/* One allocation: the iterator, then its items sorted by key, then the upper bound when it is
 * exclusive, then the items' key and value bytes. */
typedef struct cache_iter {
    eddy_kv_iter *inner;
    int inner_state;      /* INNER_HELD: inner_key, inner_value are inner's next entry */
    eddy_slice inner_key; /* owned by inner, valid until its next step */
    eddy_slice inner_value;
    int reverse;
    int skip_to; /* the upper bound is exclusive: skip inner's key equal to it */
    eddy_slice to;
    size_t item_count;
    size_t items_taken;
    cache_item items[];
} cache_iter;

static int cache_item_compare(const void *a, const void *b)
{
    const cache_item *x = a, *y = b;
    return eddy__kv_compare(x->key, x->key_len, y->key, y->key_len);
}

static int cache_in_bounds(const eddy__kv_bounds *bounds, const cache_entry *e)
{
    if (bounds->from.data &&
        eddy__kv_compare(e->bytes, e->key_len, bounds->from.data, bounds->from.len) < 0)
        return 0;
    if (bounds->to.data) {
        int c = eddy__kv_compare(e->bytes, e->key_len, bounds->to.data, bounds->to.len);
        return c < 0 || (c == 0 && bounds->to_inclusive);
    }
    return 1;
}

/* The next item in the iterator's direction, or NULL. */
static const cache_item *cache_iter_item(const cache_iter *it)
{
    if (it->items_taken == it->item_count)
        return NULL;
    size_t i = it->reverse ? it->item_count - 1 - it->items_taken : it->items_taken;
    return &it->items[i];
}

/* Makes inner's next entry held, unless inner has ended. */
static eddy_err cache_iter_pull(cache_iter *it)
{
    while (it->inner_state == INNER_NEEDED) {
        eddy_err err = eddy_kv_iter_next(it->inner, &it->inner_key, &it->inner_value);
        if (err == EDDY_ERR_END) {
            it->inner_state = INNER_ENDED;
        } else if (err != EDDY_OK) {
            return err; /* still needed: a retry asks again */
        } else if (it->skip_to && eddy__kv_compare(it->inner_key.data, it->inner_key.len,
                                                   it->to.data, it->to.len) == 0) {
            it->skip_to = 0;
        } else {
            it->inner_state = INNER_HELD;
        }
    }
    return EDDY_OK;
}

static eddy_err cache_iter_next(void *self, eddy_slice *key, eddy_slice *value)
{
    cache_iter *it = self;
    for (;;) {
        eddy_err err = cache_iter_pull(it);
        if (err != EDDY_OK)
            return err;
        const cache_item *item = cache_iter_item(it);
        int held = it->inner_state == INNER_HELD;
        if (!item && !held)
            return EDDY_ERR_END;
        /* order < 0: the item comes first; 0: the same key, the item wins; > 0: inner's first. */
        int order;
        if (!held || !item) {
            order = held ? 1 : -1;
        } else {
            order =
                eddy__kv_compare(item->key, item->key_len, it->inner_key.data, it->inner_key.len);
            if (it->reverse)
                order = -order;
        }
        if (order > 0) {
            it->inner_state = INNER_NEEDED;
            *key = it->inner_key;
            *value = it->inner_value;
            return EDDY_OK;
        }
        it->items_taken++;
        if (order == 0)
            it->inner_state = INNER_NEEDED;
        if (item->deleted)
            continue;
        *key = (eddy_slice){item->key, item->key_len};
        *value = (eddy_slice){item->value, item->value_len};
        return EDDY_OK;
    }
}

static void cache_iter_destroy(void *self)
{
    cache_iter *it = self;
    eddy_kv_iter_destroy(it->inner);
    eddy__free(it);
}

static const eddy__kv_iter_ops cache_iter_ops = {
    .next = cache_iter_next,
    .destroy = cache_iter_destroy,
};

/* Allocates the iterator with a sorted copy of the dirty entries within bounds. */
static cache_iter *cache_iter_snapshot(const cache_store *s, const eddy__kv_bounds *bounds)
{
    size_t item_count = 0, byte_count = 0;
    for (const cache_entry *e = s->oldest; e; e = e->newer) {
        if (e->dirty && cache_in_bounds(bounds, e)) {
            item_count++;
            byte_count += e->key_len + e->value_len;
        }
    }
    int skip_to = bounds->to.data && !bounds->to_inclusive;
    size_t to_len = skip_to ? bounds->to.len : 0;
    cache_iter *it =
        eddy__malloc(sizeof(*it) + item_count * sizeof(cache_item) + to_len + byte_count);
    if (!it)
        return NULL;
    memset(it, 0, sizeof(*it));
    uint8_t *bytes = (uint8_t *)&it->items[item_count];
    it->reverse = bounds->reverse;
    it->skip_to = skip_to;
    it->to = (eddy_slice){bytes, to_len};
    if (to_len)
        memcpy(bytes, bounds->to.data, to_len);
    bytes += to_len;
    for (const cache_entry *e = s->oldest; e; e = e->newer) {
        if (!e->dirty || !cache_in_bounds(bounds, e))
            continue;
        cache_item *item = &it->items[it->item_count++];
        item->key = bytes;
        item->key_len = e->key_len;
        item->value = bytes + e->key_len;
        item->value_len = e->value_len;
        item->deleted = e->deleted;
        memcpy(bytes, e->bytes, (size_t)e->key_len + e->value_len);
        bytes += e->key_len + e->value_len;
    }
    EDDY_ASSERT(it->item_count == item_count);
    if (item_count > 1)
        qsort(it->items, item_count, sizeof(cache_item), cache_item_compare);
    return it;
}

/* With nothing cached (always so without a budget) an iterator is inner's own: the public
 * functions then open it on inner directly. */
static eddy_kv_store *cache_iter_inner(void *self)
{
    cache_store *s = self;
    return s->count == 0 ? s->inner : NULL;
}

static eddy_err cache_iter_open(void *self, const eddy__kv_bounds *bounds,
                                const eddy__kv_iter_ops **iter_ops, void **iter)
{
    cache_store *s = self;
    if (s->count == 0) /* nothing cached (always so without a budget): inner's iterator */
        return eddy__kv_iter_open_passthrough(s->inner, bounds, iter_ops, iter);
    cache_iter *it = cache_iter_snapshot(s, bounds);
    if (!it)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory opening an iterator",
                          cache_name(s));
    eddy_err err = bounds->reverse
                       ? eddy_kv_reverse_range(s->inner, bounds->from, bounds->to, &it->inner)
                       : eddy_kv_range(s->inner, bounds->from, bounds->to, &it->inner);
    if (err != EDDY_OK) {
        eddy__free(it);
        return err;
    }
    *iter_ops = &cache_iter_ops;
    *iter = it;
    return EDDY_OK;
}

static const eddy__kv_store_ops cache_ops = {
    .get = cache_get,
    .put = cache_put,
    .remove = cache_remove,
    .iter_open = cache_iter_open,
    .approximate_count = cache_approximate_count,
    .flush = cache_flush,
    .close = cache_close,
    .iter_inner = cache_iter_inner,
};

eddy_err eddy__kv_store_cached(eddy_kv_store *inner, size_t max_bytes, eddy_kv_store **out)
{
    EDDY_ASSERT(inner && out);
    *out = NULL;
    cache_store *s = eddy__calloc(1, sizeof(*s));
    cache_slot *slots = eddy__calloc(CACHE_SLOTS_MIN, sizeof(cache_slot));
    if (!s || !slots) {
        eddy__free(s);
        eddy__free(slots);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory adding a cache",
                          eddy_kv_store_name(inner));
    }
    s->inner = inner;
    s->max_bytes = max_bytes;
    s->seed = (uint64_t)eddy__monotonic_ns() ^ (uint64_t)(uintptr_t)s;
    s->slots = slots;
    s->slot_mask = CACHE_SLOTS_MIN - 1;
    eddy_err err = eddy__kv_store_wrap(eddy_kv_store_name(inner), &cache_ops, s, out);
    if (err != EDDY_OK) {
        eddy__free(slots); /* not cache_close: the caller keeps inner */
        eddy__free(s);
    }
    return err;
}

void eddy__kv_store_cached_listen(eddy_kv_store *store, eddy__kv_flush_fn listener, void *opaque,
                                  const int64_t *clock, bool old_values)
{
    cache_store *s = eddy__kv_store_self(store);
    s->listener_old = old_values;
    s->listener = listener;
    s->listener_opaque = opaque;
    s->clock = clock;
}

void eddy__kv_store_cached_share(eddy_kv_store *store, size_t *shared_bytes)
{
    cache_store *s = eddy__kv_store_self(store);
    EDDY_ASSERT(s->bytes == 0);
    s->shared_bytes = shared_bytes;
}

bool eddy__kv_store_cached_empty(eddy_kv_store *store)
{
    return ((cache_store *)eddy__kv_store_self(store))->count == 0;
}

void eddy__kv_store_cached_forget(eddy_kv_store *store, eddy_slice key)
{
    cache_store *s = eddy__kv_store_self(store);
    if (s->count == 0)
        return;
    cache_slot *slot = cache_slot_find(s, cache_key_hash(s->seed, key.data, key.len), key);
    /* A dirty entry is an update not yet forwarded or logged: it stays, so that the next flush
     * still emits it (Kafka's caching store flushes updates of windows that expired since). */
    if (slot && !slot->entry->dirty)
        cache_entry_drop(s, slot->entry);
}
