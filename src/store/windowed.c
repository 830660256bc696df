/* The in-memory store for window, session and join-buffer layouts: a map from each record key to
 * that key's small sorted array of fixed-width suffixes and values, behind the ordinary
 * eddy_kv_store table of operations.
 *
 * Why. Every key of a window, session or join-buffer store (store/window.c) is
 *
 *     [record key ...][suffix, w bytes]     w = 8 (window), 12 (window with duplicates),
 *                                               16 (session)
 *
 * and every lookup a stream task makes per record stays within one record key: a window get, a
 * join's fetch of the other side's records, a session find. The general memory store
 * (memory.c) answers a scan by descending its B+tree from the root to a key it has never seen
 * there before (each record's key differs from the last): several cache misses per record. Here
 * one probe of a hash table finds the record key's entries and a search of a short array
 * positions the scan; no tree is read. The search starts from the array's end (galloping back,
 * then bisecting), since a task's lookups want a key's latest entries, and the group's first
 * cache lines are loaded together as soon as the table has found it.
 *
 * Layout.
 *
 *     table: open addressing, linear probing, at most 3/4 full, backward-shift deletion;
 *              slot (16 bytes): [hash of the record key][win_group *] (NULL: empty)
 *              serves every lookup: the slots of 10,000 keys take 256 KiB, which the caches
 *              keep, and the key is compared in the group's header, which the lookup needs
 *     index: a memory store (memory.c)   record key -> win_group * (8 bytes, host order)
 *              its B+tree keeps the order of record keys, for scans across them
 *     win_group (one allocation):
 *       [count, capacity, key length, entry bytes][record key, padded to 8]
 *       [entry x capacity]
 *     entry (entry bytes = 24 + room, room 8 to 56, a multiple of 8):
 *       [suffix as two big-endian words hi, lo, zero-padded][value length][value capacity]
 *       [value: room inline bytes, or a pointer to a buffer in the first 8]
 *
 * Values. A group's inline room is chosen when the group is made, from its first value: that
 * value's length rounded up to 8 when it is 9 to 56 bytes, else 8. The values of one record
 * key (counts, aggregates, a join side's records) are mostly of one size, so they sit in the
 * entries the lookups read anyway (a join's 50-byte records: one line with their suffixes, and
 * no allocation per record); a value longer than the room gets a buffer of its own.
 *
 * Invariants (eddy__kv_windowed_check verifies them all):
 * - every group in the index has count >= 1, but for at most one, empty_group (a removal
 *   emptied it; it stays for a put to refill, see empty_settle); its entries are in strictly
 *   ascending suffix order; a group's record key is the index key that maps to it, and the
 *   table holds it under that key's hash (slot_used groups: close, retention and the check
 *   walk the table's slots);
 * - `lengths` lists each record-key length in use, ascending, with the number of groups of that
 *   length; entry_count is the sum of the counts;
 * - values of at most the group's room are inline (value_cap 0), longer ones in a buffer of
 *   value_cap >= value_len bytes; a tombstone (value_len WIN_TOMBSTONE) exists only inside
 *   remove_many.
 * - version is bumped by every insert or removal of an entry and every move of a group (an
 *   array that grows is copied to a new allocation, and the index updated); not by updates of
 *   a value in place.
 *
 * Order. A full key is [record key][suffix]. Two record keys neither of which is a prefix of
 * the other order all their full keys the same way. But when one extends another ("a" and
 * "a\0\0\0\0\0\0\0\x05"), their entries interleave in byte order. So the record keys are split,
 * in index order, into clusters: a root, the first key not starting with the previous root,
 * and the keys after it that start with it. Clusters are intervals of the global order, in
 * the order of their roots (a key after a cluster differs from its root at a byte where it is
 * greater; a key before differs where it is smaller). A cluster of one key is that key's
 * array; a larger one is materialised by an iterator that reaches it: references to all its
 * entries, sorted by full key. The root of the cluster holding key Q is the shortest record
 * key that is a prefix of Q, found by probing Q's prefixes at each length in `lengths`.
 *
 * When every record key has the same length (`lengths` has one element: fixed-width keys, the
 * common case), no key extends another, clusters are single keys, and a seek to a target T is
 * a probe of T's first L bytes and a binary search; a scan bounded above by a key that starts
 * with the current record key (every per-key scan of window.c) ends at that key's last entry
 * without reading the index's order. Only scans that cross record keys (fetch_all, retention,
 * interactive queries) walk the index's B+tree, once per record key.
 *
 * Iterators are live, as the memory store's: each keeps its position (a segment: one group or
 * a materialised cluster, and an index in it), the version it was taken at and a copy of the
 * last key returned. While the version is unchanged it steps through the segment and on to the
 * next; after a change it seeks again from its last key. Keys and values are copied out, valid
 * until the iterator's next call whatever the store does. The store keeps its last destroyed
 * iterator, buffers and all, for the next one.
 *
 * Keys shorter than w cannot be split and have no place here: put refuses them
 * (EDDY_ERR_INVALID_ARGUMENT), get does not find them. The runtime opens this store only for
 * windowed layouts, whose keys always carry the suffix.
 *
 * Failures. A put allocates (a value buffer, a larger array, a new group and its index entry,
 * room in `lengths` and in the table) before it changes anything; a failed put leaves the store
 * as it was. Removal never allocates (neither the index's deletion nor the table's does).
 * Arrays are not shrunk: a key's array keeps the capacity of its largest count until the key
 * has no entries left.
 *
 * Retention (expire_before, store.h) walks the table's slots: the expired entries of a key
 * (time = the suffix's first 8 bytes) are the front of its array, plus any with a negative
 * time at its end, so each group costs a look at its ends and one move of what stays; nothing
 * is copied out or looked up again. remove_many (the generic retention's batches, which come
 * in key order) marks the doomed entries of one group as tombstones and compacts the array
 * once when the batch moves on to another group. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/logging.h"
#include "store/key_hash.h"
#include "store/store.h"

#define WIN_SUFFIX_BYTES_MAX 16
/* A group's entries hold values of up to its inline room in place, the room chosen when the
 * group is made (see "Values" in the file comment): from MIN to MAX bytes. */
#define WIN_INLINE_VALUE_BYTES_MIN 8
#define WIN_INLINE_VALUE_BYTES_MAX 56
#define WIN_ENTRY_HEAD_BYTES 24 /* hi, lo, value_len, value_cap */
#define WIN_ENTRY_BYTES_MAX (WIN_ENTRY_HEAD_BYTES + WIN_INLINE_VALUE_BYTES_MAX)
#define WIN_GROUP_CAPACITY_MIN 4
#define WIN_SLOTS_MIN 16
/* How far ahead retention's walk of the table loads groups (see ws_expire_before). */
#define WIN_EXPIRE_PREFETCH_SLOTS 8
#define WIN_TOMBSTONE UINT32_MAX
/* Values a forward scan loads ahead of the entry it returns (see values_prefetch). */
#define WIN_PREFETCH_VALUES 2
/* Cache lines of a group loaded at once when the table finds it (see group_prefetch): its
 * header and, with record keys up to 16 bytes, its first 8 entries of 32 bytes. */
#define WIN_GROUP_PREFETCH_LINES 5

/* An entry's head; its group's inline room follows (entry_inline), v.ptr overlaying its first
 * 8 bytes when the value is in a buffer of its own. */
typedef struct win_entry {
    uint64_t hi, lo; /* the suffix's bytes 0-7 and 8-15, big-endian, zero-padded past w */
    uint32_t value_len;
    uint32_t value_cap; /* 0: the value is inline, in the entry's inline room */
    union {
        uint8_t *ptr;
        uint8_t bytes[WIN_INLINE_VALUE_BYTES_MIN];
    } v;
} win_entry;

_Static_assert(sizeof(win_entry) == WIN_ENTRY_HEAD_BYTES + WIN_INLINE_VALUE_BYTES_MIN,
               "the smallest entry is the head and 8 inline bytes: two per cache line");

/* An entry being prepared outside any group, with room for the largest inline value. */
typedef union win_entry_buf {
    win_entry e;
    uint8_t bytes[WIN_ENTRY_BYTES_MAX];
} win_entry_buf;

typedef struct win_group {
    uint32_t count;
    uint32_t capacity;
    uint32_t key_len;
    uint32_t entry_bytes; /* WIN_ENTRY_HEAD_BYTES + the inline room, a multiple of 8 */
    uint8_t key[];        /* padded to 8, then the entries */
} win_group;

/* A slot of the table of groups: a record key's hash and its group (NULL: an empty slot). */
typedef struct win_slot {
    uint64_t hash;
    win_group *group;
} win_slot;

typedef struct win_length {
    uint32_t len;
    uint32_t groups;
} win_length;

typedef struct win_iter win_iter;

typedef struct win_store {
    size_t w; /* suffix bytes */
    eddy_kv_store *index;
    win_slot *slots;  /* the table of groups, by record key (see "Layout") */
    size_t slot_mask; /* slot count - 1, a power of two minus one; 0 while slots is NULL */
    size_t slot_used;
    uint64_t seed;
    uint64_t entry_count;
    uint64_t version;
    win_length *lengths;
    size_t length_count;
    size_t length_cap;
    win_group *empty_group; /* emptied by a removal, still indexed (see empty_settle) */
    win_group *last_group;  /* the group the last lookup found: moved along by group_grow,
                             * cleared by group_drop, so it stays valid across other changes */
    win_iter *spare_iter;
    char name[EDDY_STORE_NAME_MAX + 1];
} win_store;

/* Entry i of g (i <= capacity: one past the last is a valid end). */
static win_entry *entry_at(const win_group *g, size_t i)
{
    size_t padded = ((size_t)g->key_len + 7) & ~(size_t)7;
    uint8_t *entries = (uint8_t *)(uintptr_t)g->key + padded;
    return (win_entry *)(void *)(entries + i * g->entry_bytes);
}

static size_t inline_room(const win_group *g)
{
    return g->entry_bytes - WIN_ENTRY_HEAD_BYTES;
}

/* The inline room a new group gets for its first value: the value's length rounded up to 8
 * when it is at most WIN_INLINE_VALUE_BYTES_MAX, else the minimum (the value goes to a buffer).
 * The values of one key's windows, sessions or buffered records are mostly of one size. */
static size_t inline_room_for(size_t value_len)
{
    if (value_len <= WIN_INLINE_VALUE_BYTES_MIN || value_len > WIN_INLINE_VALUE_BYTES_MAX)
        return WIN_INLINE_VALUE_BYTES_MIN;
    return (value_len + 7) & ~(size_t)7;
}

static uint8_t *entry_inline(win_entry *e)
{
    return (uint8_t *)e + WIN_ENTRY_HEAD_BYTES;
}

static uint64_t be64_load(const uint8_t *p)
{
    uint64_t u;
    memcpy(&u, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    u = __builtin_bswap64(u);
#endif
    return u;
}

static void be64_store(uint8_t *p, uint64_t u)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    u = __builtin_bswap64(u);
#endif
    memcpy(p, &u, 8);
}

static void suffix_load(const uint8_t *p, size_t w, uint64_t *hi, uint64_t *lo)
{
    uint8_t b[WIN_SUFFIX_BYTES_MAX] = {0};
    memcpy(b, p, w);
    *hi = be64_load(b);
    *lo = be64_load(b + 8);
}

static void suffix_store(const win_entry *e, size_t w, uint8_t *out)
{
    uint8_t b[WIN_SUFFIX_BYTES_MAX];
    be64_store(b, e->hi);
    be64_store(b + 8, e->lo);
    memcpy(out, b, w);
}

static const uint8_t *entry_value(const win_entry *e)
{
    return e->value_cap ? e->v.ptr : (const uint8_t *)e + WIN_ENTRY_HEAD_BYTES;
}

/* ---- Comparisons ------------------------------------------------------------------------- */

/* A target's bytes after a record key it starts with, prepared for comparing with suffixes:
 * its first min(w, length) bytes as masked words, and the order of a suffix equal on those
 * bytes (the shorter of the two sorts first). */
typedef struct win_probe {
    uint64_t hi, lo, mask_hi, mask_lo;
    int tie;
} win_probe;

static win_probe probe_make(const uint8_t *tail, size_t tail_len, size_t w)
{
    size_t m = tail_len < w ? tail_len : w;
    uint8_t b[WIN_SUFFIX_BYTES_MAX] = {0}, mask[WIN_SUFFIX_BYTES_MAX] = {0};
    if (m > 0) {
        memcpy(b, tail, m);
        memset(mask, 0xff, m);
    }
    win_probe p = {be64_load(b), be64_load(b + 8), be64_load(mask), be64_load(mask + 8),
                   w < tail_len   ? -1
                   : w > tail_len ? 1
                                  : 0};
    return p;
}

/* The sign of (suffix of e) - (probe's tail). */
static int probe_compare(const win_entry *e, const win_probe *p)
{
    uint64_t hi = e->hi & p->mask_hi;
    if (hi != p->hi)
        return hi < p->hi ? -1 : 1;
    uint64_t lo = e->lo & p->mask_lo;
    if (lo != p->lo)
        return lo < p->lo ? -1 : 1;
    return p->tie;
}

/* The sign of [g's key][e's suffix] - t, in full-key byte order. */
static int full_compare(const win_group *g, const win_entry *e, size_t w, const uint8_t *t,
                        size_t t_len)
{
    size_t common = g->key_len < t_len ? g->key_len : t_len;
    int c = common ? memcmp(g->key, t, common) : 0;
    if (c != 0)
        return c;
    if (t_len <= g->key_len)
        return 1; /* t is a prefix of the full key, which is longer */
    win_probe p = probe_make(t + g->key_len, t_len - g->key_len, w);
    return probe_compare(e, &p);
}

static bool starts_with(const uint8_t *bytes, size_t len, const uint8_t *prefix, size_t prefix_len)
{
    return len >= prefix_len && (prefix_len == 0 || memcmp(bytes, prefix, prefix_len) == 0);
}

/* The first entry of g comparing >= p (> p when !inclusive), searched from the end. A stream
 * task's lookups want a key's latest entries: a join's window around the record's time, the
 * sessions ending last, a new window or record after all the others. Probing back from the
 * last entry at distances 1, 2, 4, ... and then bisecting the last gap touches only the cache
 * lines near the answer (which the scan that follows reads anyway), where a plain bisection
 * starts in the middle of the array; a target far from the end still costs O(log count)
 * comparisons. */
static size_t group_lower_bound(win_group *g, const win_probe *p, bool inclusive)
{
    size_t low = 0, high = g->count, step = 1;
    /* Every entry at or after `high` is not before the target; every one before `low` is. */
    while (high > low) {
        size_t at = high > step ? high - step : 0;
        int c = probe_compare(entry_at(g, at), p);
        if (c < 0 || (c == 0 && !inclusive)) {
            low = at + 1;
            break;
        }
        high = at;
        step *= 2;
    }
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        int c = probe_compare(entry_at(g, mid), p);
        if (c < 0 || (c == 0 && !inclusive))
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

/* The first entry of g whose suffix is >= (hi, lo), and whether it is equal. */
static size_t group_search(win_group *g, uint64_t hi, uint64_t lo, bool *equal)
{
    win_probe exact = {hi, lo, UINT64_MAX, UINT64_MAX, 0};
    size_t i = group_lower_bound(g, &exact, true);
    *equal = i < g->count && entry_at(g, i)->hi == hi && entry_at(g, i)->lo == lo;
    return i;
}

/* ---- Groups and the index ---------------------------------------------------------------- */

/* Starts loading the first WIN_GROUP_PREFETCH_LINES cache lines of a group just found in the
 * table. Its header and its entries are cache misses, and the header must be read before an
 * entry can be located: loaded together, a small group's lines arrive in the time of one miss
 * instead of two or three in turn. */
static void group_prefetch(const win_group *g)
{
    const char *bytes = (const char *)g;
    for (int line = 0; line < WIN_GROUP_PREFETCH_LINES; line++)
        __builtin_prefetch(bytes + 64 * line);
}

/* ---- The table of groups ----------------------------------------------------------------- */

static uint64_t record_key_hash(const win_store *s, const uint8_t *key, size_t len)
{
    return eddy__key_hash(s->seed, key, len);
}

/* The group of a record key, or NULL. A slot whose hash matches has its group's first lines
 * loaded at once (group_prefetch) before the key is compared in the group's header. The probe
 * ends: the table is at most 3/4 full. */
static win_group *table_find(const win_store *s, const uint8_t *key, size_t len)
{
    if (!s->slots)
        return NULL;
    uint64_t hash = record_key_hash(s, key, len);
    for (size_t i = hash & s->slot_mask;; i = (i + 1) & s->slot_mask) {
        const win_slot *slot = &s->slots[i];
        if (!slot->group)
            return NULL;
        if (slot->hash != hash)
            continue;
        win_group *g = slot->group;
        group_prefetch(g);
        if (g->key_len == len && (len == 0 || memcmp(g->key, key, len) == 0))
            return g;
    }
}

static void table_place(win_slot *slots, size_t mask, win_slot entry)
{
    size_t i = entry.hash & mask;
    while (slots[i].group)
        i = (i + 1) & mask;
    slots[i] = entry;
}

/* Room for one more group, so that adding one cannot fail afterwards (doubling the table when
 * it would pass 3/4 full). */
static eddy_err table_reserve(win_store *s)
{
    size_t count = s->slots ? s->slot_mask + 1 : 0;
    if ((s->slot_used + 1) * 4 <= count * 3)
        return EDDY_OK;
    size_t grown = count ? 2 * count : WIN_SLOTS_MIN;
    win_slot *slots = eddy__calloc(grown, sizeof(*slots));
    if (!slots)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory", s->name);
    for (size_t i = 0; i < count; i++)
        if (s->slots[i].group)
            table_place(slots, grown - 1, s->slots[i]);
    eddy__free(s->slots);
    s->slots = slots;
    s->slot_mask = grown - 1;
    return EDDY_OK;
}

static void table_insert(win_store *s, win_group *g)
{
    EDDY_ASSERT(s->slots && (s->slot_used + 1) * 4 <= (s->slot_mask + 1) * 3);
    table_place(s->slots, s->slot_mask, (win_slot){record_key_hash(s, g->key, g->key_len), g});
    s->slot_used++;
}

static win_slot *table_slot_of(win_store *s, const win_group *g)
{
    uint64_t hash = record_key_hash(s, g->key, g->key_len);
    for (size_t i = hash & s->slot_mask;; i = (i + 1) & s->slot_mask) {
        EDDY_ASSERT(s->slots[i].group != NULL); /* g is in the table */
        if (s->slots[i].group == g)
            return &s->slots[i];
    }
}

/* Empties g's slot and moves later slots of the run back, so that no probe meets a hole. */
static void table_remove(win_store *s, const win_group *g)
{
    size_t mask = s->slot_mask, hole = (size_t)(table_slot_of(s, g) - s->slots);
    for (size_t i = (hole + 1) & mask; s->slots[i].group; i = (i + 1) & mask) {
        size_t home = s->slots[i].hash & mask;
        /* The slot at i may fill the hole when the hole is within its probe run [home, i). */
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            s->slots[hole] = s->slots[i];
            hole = i;
        }
    }
    s->slots[hole] = (win_slot){0, NULL};
    s->slot_used--;
}

static win_group *group_find(win_store *s, const uint8_t *key, size_t len)
{
    win_group *g = s->last_group;
    if (g && g->key_len == len && (len == 0 || memcmp(g->key, key, len) == 0))
        return g;
    if ((g = table_find(s, key, len)) != NULL)
        s->last_group = g;
    return g;
}

static eddy_err index_set(win_store *s, win_group *g)
{
    eddy_slice k = {g->key, g->key_len}, v = {&g, sizeof(g)};
    return eddy_kv_put(s->index, k, v);
}

/* The record key next to `key` in byte order: the first after it (at it, when inclusive), or
 * with reverse the last before it (at it); with no key, the first or last of all. NULL: none. */
static eddy_err index_neighbour(win_store *s, const uint8_t *key, size_t len, bool has_key,
                                bool inclusive, bool reverse, win_group **out)
{
    eddy__kv_bounds bounds = {.reverse = reverse};
    eddy_slice k = {key, len};
    if (has_key && reverse) {
        bounds.to = k;
        bounds.to_inclusive = inclusive;
    } else if (has_key) {
        bounds.from = k;
    }
    eddy_kv_iter *it = NULL;
    eddy_err err = eddy__kv_iter_open_bounds(s->index, &bounds, &it);
    if (err != EDDY_OK)
        return err;
    *out = NULL;
    eddy_slice ik, iv;
    while ((err = eddy_kv_iter_next(it, &ik, &iv)) == EDDY_OK) {
        if (has_key && !reverse && !inclusive && eddy__kv_compare(ik.data, ik.len, key, len) == 0)
            continue;
        memcpy(out, iv.data, sizeof(*out));
        break;
    }
    eddy_kv_iter_destroy(it);
    return err == EDDY_ERR_END ? EDDY_OK : err;
}

static size_t lengths_find(const win_store *s, size_t len)
{
    size_t i = 0;
    while (i < s->length_count && s->lengths[i].len < len)
        i++;
    return i;
}

/* Room for one more length, so that adding a group cannot fail afterwards. */
static eddy_err lengths_reserve(win_store *s)
{
    if (s->length_count < s->length_cap)
        return EDDY_OK;
    size_t cap = s->length_cap ? 2 * s->length_cap : 4;
    win_length *lengths = eddy__realloc(s->lengths, cap * sizeof(*lengths));
    if (!lengths)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory", s->name);
    s->lengths = lengths;
    s->length_cap = cap;
    return EDDY_OK;
}

static void lengths_add(win_store *s, size_t len)
{
    size_t i = lengths_find(s, len);
    if (i < s->length_count && s->lengths[i].len == len) {
        s->lengths[i].groups++;
        return;
    }
    EDDY_ASSERT(s->length_count < s->length_cap);
    memmove(&s->lengths[i + 1], &s->lengths[i], (s->length_count - i) * sizeof(*s->lengths));
    s->lengths[i] = (win_length){(uint32_t)len, 1};
    s->length_count++;
}

static void lengths_remove(win_store *s, size_t len)
{
    size_t i = lengths_find(s, len);
    EDDY_ASSERT(i < s->length_count && s->lengths[i].len == len && s->lengths[i].groups > 0);
    if (--s->lengths[i].groups > 0)
        return;
    memmove(&s->lengths[i], &s->lengths[i + 1], (s->length_count - i - 1) * sizeof(*s->lengths));
    s->length_count--;
}

/* Whether every record key has the same length (see "Order" in the file comment). */
static bool lengths_uniform(const win_store *s)
{
    return s->length_count <= 1;
}

static win_group *group_alloc(win_store *s, const uint8_t *key, size_t key_len, size_t capacity,
                              size_t room)
{
    size_t padded = (key_len + 7) & ~(size_t)7, entry_bytes = WIN_ENTRY_HEAD_BYTES + room;
    EDDY_ASSERT(room >= WIN_INLINE_VALUE_BYTES_MIN && room <= WIN_INLINE_VALUE_BYTES_MAX &&
                room % 8 == 0);
    win_group *g = eddy__malloc(sizeof(win_group) + padded + capacity * entry_bytes);
    if (!g) {
        eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory", s->name);
        return NULL;
    }
    g->count = 0;
    g->capacity = (uint32_t)capacity;
    g->key_len = (uint32_t)key_len;
    g->entry_bytes = (uint32_t)entry_bytes;
    if (key_len > 0)
        memcpy(g->key, key, key_len);
    return g;
}

/* Moves *g to an allocation with twice the room. On failure *g is unchanged. */
static eddy_err group_grow(win_store *s, win_group **g)
{
    win_group *old = *g;
    if (old->capacity > UINT32_MAX / 2)
        return eddy__fail(EDDY_ERR_TOO_LARGE, "store '%s': too many entries for one key", s->name);
    win_group *bigger =
        group_alloc(s, old->key, old->key_len, 2 * (size_t)old->capacity, inline_room(old));
    if (!bigger)
        return EDDY_ERR_NO_MEMORY;
    memcpy(entry_at(bigger, 0), entry_at(old, 0), old->count * (size_t)old->entry_bytes);
    bigger->count = old->count;
    eddy_err err = index_set(s, bigger);
    if (err != EDDY_OK) {
        eddy__free(bigger);
        return err;
    }
    table_slot_of(s, old)->group = bigger;
    if (s->last_group == old)
        s->last_group = bigger;
    eddy__free(old);
    s->version++;
    *g = bigger;
    return EDDY_OK;
}

/* Takes an emptied group out of the index and frees it. */
static void group_drop(win_store *s, win_group *g)
{
    EDDY_ASSERT(g->count == 0);
    eddy_slice k = {g->key, g->key_len};
    eddy_err err = eddy_kv_delete(s->index, k);
    EDDY_ASSERT(err == EDDY_OK); /* the memory store's deletion does not allocate */
    (void)err;
    lengths_remove(s, g->key_len);
    table_remove(s, g);
    if (s->last_group == g)
        s->last_group = NULL;
    if (s->empty_group == g)
        s->empty_group = NULL;
    eddy__free(g);
    s->version++;
}

/* Drops the group a removal emptied, if any. A removal that empties its group leaves it in
 * the index until the next one does, an iterator moves, or retention runs: a session merge
 * removes a key's only session and then puts the merged one, which then refills the group
 * instead of dropping it from the index and making it again. Point reads and writes treat an
 * empty group as absent; iterators, which assume every group has an entry, settle first. */
static void empty_settle(win_store *s)
{
    if (s->empty_group)
        group_drop(s, s->empty_group);
}

/* ---- Values ------------------------------------------------------------------------------ */

/* Fills e's value with a copy of `value` (which may point into the store), in place when it
 * fits the `room` inline bytes of e's group, else in a buffer of its own. */
static eddy_err value_prepare(win_store *s, size_t room, win_entry *e, eddy_slice value)
{
    e->value_len = (uint32_t)value.len;
    if (value.len <= room) {
        e->value_cap = 0;
        memset(entry_inline(e) + value.len, 0, room - value.len);
        if (value.len > 0)
            memcpy(entry_inline(e), value.data, value.len);
        return EDDY_OK;
    }
    e->v.ptr = eddy__malloc(value.len);
    if (!e->v.ptr)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory for a %zu-byte value",
                          s->name, value.len);
    memcpy(e->v.ptr, value.data, value.len);
    e->value_cap = (uint32_t)value.len;
    return EDDY_OK;
}

static void value_free(win_entry *e)
{
    if (e->value_cap)
        eddy__free(e->v.ptr);
    e->value_cap = 0;
}

/* Replaces e's value. A value that fits the current buffer is moved in place (memmove: it may
 * be the entry's own value); a larger one gets a buffer grown geometrically, so that a value
 * growing by a little per record is not reallocated every time. */
static eddy_err value_set(win_store *s, size_t room, win_entry *e, eddy_slice value)
{
    if (value.len <= room) {
        uint8_t copy[WIN_INLINE_VALUE_BYTES_MAX];
        if (value.len > 0)
            memcpy(copy, value.data, value.len);
        value_free(e);
        eddy_slice inline_value = {copy, value.len};
        return value_prepare(s, room, e, inline_value);
    }
    if (e->value_cap >= value.len) {
        memmove(e->v.ptr, value.data, value.len);
        e->value_len = (uint32_t)value.len;
        return EDDY_OK;
    }
    size_t cap = e->value_cap ? 2 * (size_t)e->value_cap : value.len;
    if (cap < value.len || cap > EDDY_KV_VALUE_BYTES_MAX)
        cap = value.len;
    uint8_t *buffer = eddy__malloc(cap);
    if (!buffer)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory for a %zu-byte value",
                          s->name, value.len);
    memcpy(buffer, value.data, value.len);
    value_free(e);
    e->v.ptr = buffer;
    e->value_cap = (uint32_t)cap;
    e->value_len = (uint32_t)value.len;
    return EDDY_OK;
}

/* ---- Point operations -------------------------------------------------------------------- */

static eddy_err ws_get(void *self, eddy_slice key, eddy_slice *value)
{
    win_store *s = self;
    value->data = NULL;
    value->len = 0;
    if (key.len < s->w)
        return EDDY_ERR_NOT_FOUND; /* no such key can have been put */
    size_t record_len = key.len - s->w;
    win_group *g = group_find(s, key.data, record_len);
    if (!g)
        return EDDY_ERR_NOT_FOUND;
    uint64_t hi, lo;
    suffix_load((const uint8_t *)key.data + record_len, s->w, &hi, &lo);
    bool equal;
    size_t i = group_search(g, hi, lo, &equal);
    if (!equal)
        return EDDY_ERR_NOT_FOUND;
    win_entry *e = entry_at(g, i);
    value->data = entry_value(e);
    value->len = e->value_len;
    return EDDY_OK;
}

/* Inserts an entry at position i of *g (prepared for g's inline room: its value already
 * copied). */
static eddy_err entry_insert(win_store *s, win_group *g, size_t i, const win_entry_buf *prepared)
{
    if (g->count == g->capacity) {
        eddy_err err = group_grow(s, &g);
        if (err != EDDY_OK)
            return err;
    }
    memmove(entry_at(g, i + 1), entry_at(g, i), (g->count - i) * (size_t)g->entry_bytes);
    memcpy(entry_at(g, i), prepared->bytes, g->entry_bytes);
    if (s->empty_group == g)
        s->empty_group = NULL; /* refilled */
    g->count++;
    s->entry_count++;
    s->version++;
    return EDDY_OK;
}

/* Makes the group of a record key not in the store yet, holding one entry (prepared for the
 * inline room `room`). */
static eddy_err group_create(win_store *s, const uint8_t *key, size_t key_len, size_t room,
                             const win_entry_buf *prepared)
{
    eddy_err err = lengths_reserve(s);
    if (err == EDDY_OK)
        err = table_reserve(s);
    if (err != EDDY_OK)
        return err;
    win_group *g = group_alloc(s, key, key_len, WIN_GROUP_CAPACITY_MIN, room);
    if (!g)
        return EDDY_ERR_NO_MEMORY;
    if ((err = index_set(s, g)) != EDDY_OK) {
        eddy__free(g);
        return err;
    }
    table_insert(s, g);
    lengths_add(s, key_len);
    memcpy(entry_at(g, 0), prepared->bytes, g->entry_bytes);
    g->count = 1;
    s->entry_count++;
    s->version++;
    return EDDY_OK;
}

static eddy_err short_key(const win_store *s, size_t len)
{
    return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                      "store '%s': put: a %zu-byte key is shorter than the %zu-byte suffix every "
                      "key of this windowed store carries",
                      s->name, len, s->w);
}

static eddy_err ws_put(void *self, eddy_slice key, eddy_slice value)
{
    win_store *s = self;
    if (key.len < s->w)
        return short_key(s, key.len);
    size_t record_len = key.len - s->w;
    win_entry_buf prepared;
    suffix_load((const uint8_t *)key.data + record_len, s->w, &prepared.e.hi, &prepared.e.lo);
    win_group *g = group_find(s, key.data, record_len);
    bool equal = false;
    size_t i = g ? group_search(g, prepared.e.hi, prepared.e.lo, &equal) : 0;
    if (equal)
        return value_set(s, inline_room(g), entry_at(g, i), value);
    /* The value is copied before anything moves: it may point into the store. */
    size_t room = g ? inline_room(g) : inline_room_for(value.len);
    eddy_err err = value_prepare(s, room, &prepared.e, value);
    if (err != EDDY_OK)
        return err;
    err = g ? entry_insert(s, g, i, &prepared)
            : group_create(s, key.data, record_len, room, &prepared);
    if (err != EDDY_OK)
        value_free(&prepared.e);
    return err;
}

static void entry_remove(win_store *s, win_group *g, size_t i)
{
    value_free(entry_at(g, i));
    memmove(entry_at(g, i), entry_at(g, i + 1), (g->count - i - 1) * (size_t)g->entry_bytes);
    g->count--;
    s->entry_count--;
    s->version++;
    if (g->count == 0) {
        empty_settle(s); /* at most one empty group waits */
        s->empty_group = g;
    }
}

static eddy_err ws_remove(void *self, eddy_slice key)
{
    win_store *s = self;
    if (key.len < s->w)
        return EDDY_OK; /* absent by construction */
    size_t record_len = key.len - s->w;
    win_group *g = group_find(s, key.data, record_len);
    if (!g)
        return EDDY_OK;
    uint64_t hi, lo;
    suffix_load((const uint8_t *)key.data + record_len, s->w, &hi, &lo);
    bool equal;
    size_t i = group_search(g, hi, lo, &equal);
    if (equal)
        entry_remove(s, g, i);
    return EDDY_OK;
}

/* Drops the tombstones remove_many left in g, in one pass. */
static void group_compact(win_store *s, win_group *g)
{
    size_t kept = 0;
    for (size_t i = 0; i < g->count; i++) {
        if (entry_at(g, i)->value_len == WIN_TOMBSTONE)
            continue;
        if (kept != i)
            memcpy(entry_at(g, kept), entry_at(g, i), g->entry_bytes);
        kept++;
    }
    s->entry_count -= g->count - kept;
    g->count = (uint32_t)kept;
    s->version++;
    if (kept == 0)
        group_drop(s, g);
}

static eddy_err ws_remove_many(void *self, const eddy_slice *keys, size_t count)
{
    win_store *s = self;
    win_group *marked = NULL; /* the group holding tombstones, compacted before another is used */
    for (size_t k = 0; k < count; k++) {
        if (keys[k].len < s->w)
            continue;
        const uint8_t *key = keys[k].data;
        size_t record_len = keys[k].len - s->w;
        win_group *g = marked;
        if (!g || g->key_len != record_len || (record_len && memcmp(g->key, key, record_len))) {
            if (marked)
                group_compact(s, marked);
            marked = NULL;
            if (!(g = group_find(s, key, record_len)))
                continue;
        }
        uint64_t hi, lo;
        suffix_load(key + record_len, s->w, &hi, &lo);
        bool equal;
        size_t i = group_search(g, hi, lo, &equal);
        win_entry *e = entry_at(g, i);
        if (!equal || e->value_len == WIN_TOMBSTONE)
            continue;
        value_free(e);
        e->value_len = WIN_TOMBSTONE; /* the suffix stays: the array is still ordered */
        marked = g;
    }
    if (marked)
        group_compact(s, marked);
    return EDDY_OK;
}

/* Drops g's entries whose time (the suffix's first 8 bytes as a big-endian int64) is below
 * before_ms > 0, and g itself when it empties; returns how many. Entries are in suffix order,
 * so the expired ones are a prefix, plus any with a negative time (bytes >= 0x80...), which
 * sort last: a group with nothing expired costs a look at its first and last entries. */
static size_t group_expire(win_store *s, win_group *g, int64_t before_ms)
{
    if (g->count == 0) {
        group_drop(s, g); /* the empty group a removal left */
        return 0;
    }
    size_t head = 0, tail = g->count;
    while (head < tail && entry_at(g, head)->hi < (uint64_t)before_ms)
        head++;
    while (tail > head && (int64_t)entry_at(g, tail - 1)->hi < 0)
        tail--;
    size_t removed = g->count - (tail - head);
    if (removed == 0)
        return 0;
    for (size_t i = 0; i < head; i++)
        value_free(entry_at(g, i));
    for (size_t i = tail; i < g->count; i++)
        value_free(entry_at(g, i));
    memmove(entry_at(g, 0), entry_at(g, head), (tail - head) * (size_t)g->entry_bytes);
    g->count = (uint32_t)(tail - head);
    s->entry_count -= removed;
    s->version++;
    if (g->count == 0)
        group_drop(s, g);
    return removed;
}

/* Retention in one pass over the groups (store.h: expire_before): a key's expired entries are
 * the front of its array, so no key is copied out or looked up again, and a key with nothing
 * expired costs one cache line. Other layouts are left to the generic scan. */
static eddy_err ws_expire_before(void *self, size_t suffix_bytes, int64_t before_ms, bool *handled,
                                 uint64_t *deleted)
{
    win_store *s = self;
    *deleted = 0;
    *handled = suffix_bytes == s->w && s->w >= 8;
    if (!*handled || before_ms <= 0)
        return EDDY_OK;
    /* The slots in order, the groups a few slots ahead loaded in advance (the walk's cache misses
     * overlap). A group dropped leaves its slot empty or filled by a later one of its probe run
     * (backward-shift deletion), which is then visited in its place: every group is visited, a
     * run that wraps past the end possibly twice, which finds nothing more to expire. Bounded:
     * each step moves on or removes a group. */
    for (size_t i = 0; s->slots && i <= s->slot_mask;) {
        if (i + WIN_EXPIRE_PREFETCH_SLOTS <= s->slot_mask &&
            s->slots[i + WIN_EXPIRE_PREFETCH_SLOTS].group)
            __builtin_prefetch(s->slots[i + WIN_EXPIRE_PREFETCH_SLOTS].group);
        win_group *g = s->slots[i].group;
        if (!g) {
            i++;
            continue;
        }
        *deleted += group_expire(s, g, before_ms);
        if (s->slots[i].group == g)
            i++; /* kept: on to the next slot */
    }
    return EDDY_OK;
}

static eddy_err ws_approximate_count(void *self, uint64_t *count)
{
    *count = ((win_store *)self)->entry_count;
    return EDDY_OK;
}

static eddy_err ws_flush(void *self)
{
    (void)self;
    return EDDY_OK;
}

/* ---- Iterators --------------------------------------------------------------------------- */

/* An entry of a materialised cluster. */
typedef struct win_ref {
    win_group *group;
    uint32_t index;
    uint32_t w;
} win_ref;

enum { ITER_FRESH, ITER_AT, ITER_END };

struct win_iter {
    win_store *store;
    uint8_t *bounds; /* from, then to */
    size_t bounds_cap;
    size_t from_len, to_len;
    bool has_from, has_to, to_inclusive, reverse, keys_only;
    int state;
    bool stale;       /* a call failed midway: seek again from the last key */
    uint64_t version; /* the store's, when the position was taken */
    /* The segment: one group (refs unused), or a cluster materialised in refs. */
    win_group *seg_first; /* the root, first in key order */
    win_group *seg_last;  /* the last record key of the segment in index order */
    bool seg_cluster;
    win_ref *refs;
    size_t ref_count, ref_cap;
    size_t pos;
    uint8_t *key_buf; /* the last key returned: the output, then where to seek again */
    size_t key_len, key_cap;
    uint8_t *value_buf;
    size_t value_cap;
    /* An iterator of the index in this one's direction, whose last key is index_last's while
     * the store is at index_version: the next record key is then one step of it, not a seek
     * (a scan across the whole store, retention's, crosses every record key). */
    eddy_kv_iter *index_it;
    win_group *index_last;
    uint64_t index_version;
};

static const uint8_t *iter_from(const win_iter *it)
{
    return it->bounds;
}

static const uint8_t *iter_to(const win_iter *it)
{
    return it->bounds + it->from_len;
}

static size_t segment_size(const win_iter *it)
{
    return it->seg_cluster ? it->ref_count : it->seg_first->count;
}

static void segment_entry(const win_iter *it, size_t pos, win_group **g, win_entry **e)
{
    if (it->seg_cluster) {
        *g = it->refs[pos].group;
        *e = entry_at(*g, it->refs[pos].index);
    } else {
        *g = it->seg_first;
        *e = entry_at(*g, pos);
    }
}

/* Compares the concatenations a[0] a[1] and b[0] b[1] in byte order, without copying them. */
static int concat_compare(const uint8_t *const a[2], const size_t a_len[2],
                          const uint8_t *const b[2], const size_t b_len[2])
{
    size_t ai = 0, ao = 0, bi = 0, bo = 0;
    /* Each round consumes all of a piece on one side at least: at most four rounds. */
    for (;;) {
        while (ai < 2 && ao == a_len[ai])
            ai++, ao = 0;
        while (bi < 2 && bo == b_len[bi])
            bi++, bo = 0;
        if (ai == 2 || bi == 2)
            return (ai < 2) - (bi < 2);
        size_t n = a_len[ai] - ao < b_len[bi] - bo ? a_len[ai] - ao : b_len[bi] - bo;
        int c = memcmp(a[ai] + ao, b[bi] + bo, n);
        if (c != 0)
            return c;
        ao += n;
        bo += n;
    }
}

/* Orders two references by full key, for qsort. */
static int ref_compare(const void *x, const void *y)
{
    const win_ref *a = x, *b = y;
    uint8_t a_suffix[WIN_SUFFIX_BYTES_MAX], b_suffix[WIN_SUFFIX_BYTES_MAX];
    suffix_store(entry_at(a->group, a->index), a->w, a_suffix);
    suffix_store(entry_at(b->group, b->index), b->w, b_suffix);
    const uint8_t *const a_parts[2] = {a->group->key, a_suffix};
    const uint8_t *const b_parts[2] = {b->group->key, b_suffix};
    const size_t a_lens[2] = {a->group->key_len, a->w};
    const size_t b_lens[2] = {b->group->key_len, b->w};
    return concat_compare(a_parts, a_lens, b_parts, b_lens);
}

/* Materialises the cluster of the groups from `root` to `last` (in index order, `count` of
 * them): references to all their entries, sorted by full key. */
static eddy_err cluster_materialise(win_iter *it, win_group **members, size_t count)
{
    win_store *s = it->store;
    size_t total = 0;
    for (size_t m = 0; m < count; m++)
        total += members[m]->count;
    if (total > it->ref_cap) {
        win_ref *refs = eddy__realloc(it->refs, total * sizeof(*refs));
        if (!refs)
            return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory in an iterator",
                              s->name);
        it->refs = refs;
        it->ref_cap = total;
    }
    size_t n = 0;
    for (size_t m = 0; m < count; m++)
        for (uint32_t i = 0; i < members[m]->count; i++)
            it->refs[n++] = (win_ref){members[m], i, (uint32_t)s->w};
    qsort(it->refs, n, sizeof(*it->refs), ref_compare);
    it->ref_count = n;
    return EDDY_OK;
}

/* Makes the cluster rooted at `root` the iterator's segment: the root alone when every record
 * key has one length, else the root and the record keys after it that start with it. */
static eddy_err segment_load(win_iter *it, win_group *root)
{
    win_store *s = it->store;
    it->seg_first = it->seg_last = root;
    it->seg_cluster = false;
    if (lengths_uniform(s))
        return EDDY_OK;
    eddy__kv_bounds bounds = {.from = {root->key, root->key_len}};
    eddy_kv_iter *index_it = NULL;
    eddy_err err = eddy__kv_iter_open_bounds(s->index, &bounds, &index_it);
    if (err != EDDY_OK)
        return err;
    win_group **members = NULL;
    size_t count = 0, cap = 0;
    eddy_slice k, v;
    while ((err = eddy_kv_iter_next(index_it, &k, &v)) == EDDY_OK &&
           starts_with(k.data, k.len, root->key, root->key_len)) {
        if (count == cap) {
            cap = cap ? 2 * cap : 8;
            win_group **more = eddy__realloc(members, cap * sizeof(*more));
            if (!more) {
                err = eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory in an iterator",
                                 s->name);
                break;
            }
            members = more;
        }
        memcpy(&members[count++], v.data, sizeof(*members));
    }
    eddy_kv_iter_destroy(index_it);
    if (err == EDDY_OK || err == EDDY_ERR_END) {
        err = EDDY_OK;
        if (count > 1) {
            it->seg_last = members[count - 1];
            it->seg_cluster = true;
            err = cluster_materialise(it, members, count);
        }
    }
    eddy__free(members);
    return err;
}

/* The root of the cluster holding record key q: its shortest prefix that is a record key. */
static win_group *cluster_root(win_store *s, win_group *q)
{
    for (size_t i = 0; i < s->length_count && s->lengths[i].len < q->key_len; i++) {
        win_group *p = group_find(s, q->key, s->lengths[i].len);
        if (p)
            return p;
    }
    return q;
}

/* The first position of the segment comparing >= t (> t when !inclusive), or its size. */
static size_t segment_lower_bound(win_iter *it, const uint8_t *t, size_t t_len, bool inclusive)
{
    size_t low = 0, high = segment_size(it);
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        win_group *g;
        win_entry *e;
        segment_entry(it, mid, &g, &e);
        int c = full_compare(g, e, it->store->w, t, t_len);
        if (c < 0 || (c == 0 && !inclusive))
            low = mid + 1;
        else
            high = mid;
    }
    return low;
}

/* Makes `root` (a cluster's root, or NULL: none) the segment, at its first entry. */
static eddy_err enter_forward(win_iter *it, win_group *root, bool *found)
{
    *found = false;
    if (!root)
        return EDDY_OK;
    eddy_err err = segment_load(it, root);
    if (err != EDDY_OK)
        return err;
    it->pos = 0;
    *found = true;
    return EDDY_OK;
}

/* Makes the cluster holding record key `last` (NULL: none) the segment, at its last entry. */
static eddy_err enter_reverse(win_iter *it, win_group *last, bool *found)
{
    *found = false;
    if (!last)
        return EDDY_OK;
    eddy_err err = segment_load(it, cluster_root(it->store, last));
    if (err != EDDY_OK)
        return err;
    it->pos = segment_size(it) - 1;
    *found = true;
    return EDDY_OK;
}

/* The record key after `from` in the iterator's direction (NULL: none), for a store whose
 * record keys have one length: a step of the kept index iterator when it stands at `from`,
 * else a new one opened there. */
static eddy_err index_step(win_iter *it, win_group *from, win_group **out)
{
    win_store *s = it->store;
    eddy_slice k = {from->key, from->key_len}, v;
    eddy_err err = EDDY_OK;
    *out = NULL;
    if (!it->index_it || it->index_last != from || it->index_version != s->version) {
        eddy_kv_iter_destroy(it->index_it);
        it->index_it = NULL;
        eddy__kv_bounds bounds = {.reverse = it->reverse};
        if (it->reverse)
            bounds.to = k; /* exclusive */
        else
            bounds.from = k;
        if ((err = eddy__kv_iter_open_bounds(s->index, &bounds, &it->index_it)) != EDDY_OK)
            return err;
        it->index_last = NULL;
    }
    eddy_slice key;
    while ((err = eddy_kv_iter_next(it->index_it, &key, &v)) == EDDY_OK) {
        if (!it->reverse && eddy__kv_compare(key.data, key.len, k.data, k.len) == 0)
            continue; /* a range includes its start: step past it */
        memcpy(out, v.data, sizeof(*out));
        break;
    }
    it->index_last = *out;
    it->index_version = s->version;
    return err == EDDY_ERR_END ? EDDY_OK : err;
}

/* Moves to the first entry of the segment after the current one. A key after the segment
 * differs from its root at a byte where it is greater, so when the upper bound starts with the
 * root nothing after the segment is in bounds: the per-key scans of window.c end here without
 * reading the index's order. */
static eddy_err advance_forward(win_iter *it, bool *found)
{
    *found = false;
    win_group *root = it->seg_first, *last = it->seg_last;
    if (it->has_to && starts_with(iter_to(it), it->to_len, root->key, root->key_len))
        return EDDY_OK;
    win_group *next = NULL;
    eddy_err err = lengths_uniform(it->store) ? index_step(it, last, &next)
                                              : index_neighbour(it->store, last->key, last->key_len,
                                                                true, false, false, &next);
    return err != EDDY_OK ? err : enter_forward(it, next, found);
}

/* Moves to the last entry of the segment before the current one (the mirror of the above). */
static eddy_err advance_reverse(win_iter *it, bool *found)
{
    *found = false;
    win_group *root = it->seg_first;
    if (it->has_from && starts_with(iter_from(it), it->from_len, root->key, root->key_len))
        return EDDY_OK;
    win_group *prev = NULL;
    eddy_err err = lengths_uniform(it->store) ? index_step(it, root, &prev)
                                              : index_neighbour(it->store, root->key, root->key_len,
                                                                true, false, true, &prev);
    return err != EDDY_OK ? err : enter_reverse(it, prev, found);
}

static void segment_single(win_iter *it, win_group *g, size_t pos)
{
    it->seg_first = it->seg_last = g;
    it->seg_cluster = false;
    it->pos = pos;
}

/* Positions at the first entry >= t (> t when !inclusive); *found false when there is none. */
static eddy_err seek_forward(win_iter *it, const uint8_t *t, size_t t_len, bool inclusive,
                             bool *found)
{
    win_store *s = it->store;
    *found = false;
    if (s->entry_count == 0)
        return EDDY_OK;
    win_group *g = NULL;
    eddy_err err;
    if (lengths_uniform(s)) {
        size_t len = s->lengths[0].len;
        if (t_len < len) { /* the record keys >= t all extend t or exceed it */
            err = index_neighbour(s, t, t_len, true, true, false, &g);
            return err != EDDY_OK ? err : enter_forward(it, g, found);
        }
        if ((g = group_find(s, t, len)) != NULL) {
            win_probe p = probe_make(t + len, t_len - len, s->w);
            size_t i = group_lower_bound(g, &p, inclusive);
            if (i < g->count) {
                segment_single(it, g, i);
                *found = true;
                return EDDY_OK;
            }
        }
        if (it->has_to && starts_with(iter_to(it), it->to_len, t, len))
            return EDDY_OK; /* as in advance_forward */
        err = index_neighbour(s, t, len, true, false, false, &g);
        return err != EDDY_OK ? err : enter_forward(it, g, found);
    }
    /* Every cluster before the one holding the last record key <= t lies below t, and every
     * one after it above (see "Order"). */
    if ((err = index_neighbour(s, t, t_len, true, true, true, &g)) != EDDY_OK)
        return err;
    if (!g) {
        err = index_neighbour(s, NULL, 0, false, true, false, &g);
        return err != EDDY_OK ? err : enter_forward(it, g, found);
    }
    if ((err = segment_load(it, cluster_root(s, g))) != EDDY_OK)
        return err;
    it->pos = segment_lower_bound(it, t, t_len, inclusive);
    if (it->pos < segment_size(it)) {
        *found = true;
        return EDDY_OK;
    }
    return advance_forward(it, found);
}

/* Positions at the last entry <= t (< t when !inclusive); the mirror of seek_forward. */
static eddy_err seek_reverse(win_iter *it, const uint8_t *t, size_t t_len, bool inclusive,
                             bool *found)
{
    win_store *s = it->store;
    *found = false;
    if (s->entry_count == 0)
        return EDDY_OK;
    win_group *g = NULL;
    eddy_err err;
    if (lengths_uniform(s)) {
        size_t len = s->lengths[0].len;
        if (t_len < len) { /* a record key extending t is above it */
            err = index_neighbour(s, t, t_len, true, true, true, &g);
            return err != EDDY_OK ? err : enter_reverse(it, g, found);
        }
        if ((g = group_find(s, t, len)) != NULL) {
            win_probe p = probe_make(t + len, t_len - len, s->w);
            size_t i = group_lower_bound(g, &p, !inclusive); /* the first entry past t */
            if (i > 0) {
                segment_single(it, g, i - 1);
                *found = true;
                return EDDY_OK;
            }
        }
        if (it->has_from && starts_with(iter_from(it), it->from_len, t, len))
            return EDDY_OK; /* as in advance_reverse */
        err = index_neighbour(s, t, len, true, false, true, &g);
        return err != EDDY_OK ? err : enter_reverse(it, g, found);
    }
    if ((err = index_neighbour(s, t, t_len, true, true, true, &g)) != EDDY_OK)
        return err;
    if (!g)
        return EDDY_OK;
    if ((err = segment_load(it, cluster_root(s, g))) != EDDY_OK)
        return err;
    size_t i = segment_lower_bound(it, t, t_len, !inclusive);
    if (i > 0) {
        it->pos = i - 1;
        *found = true;
        return EDDY_OK;
    }
    return advance_reverse(it, found);
}

/* Positions at the first entry in bounds, or the last when reverse. */
static eddy_err iter_start(win_iter *it, bool *found)
{
    static const uint8_t nothing[1] = {0};
    if (!it->reverse)
        return it->has_from ? seek_forward(it, iter_from(it), it->from_len, true, found)
                            : seek_forward(it, nothing, 0, true, found);
    if (it->has_to)
        return seek_reverse(it, iter_to(it), it->to_len, it->to_inclusive, found);
    *found = false;
    if (it->store->entry_count == 0)
        return EDDY_OK;
    win_group *last = NULL;
    eddy_err err = index_neighbour(it->store, NULL, 0, false, true, true, &last);
    return err != EDDY_OK ? err : enter_reverse(it, last, found);
}

static eddy_err iter_step(win_iter *it, bool *found)
{
    if (!it->reverse) {
        if (it->pos + 1 < segment_size(it)) {
            it->pos++;
            *found = true;
            return EDDY_OK;
        }
        return advance_forward(it, found);
    }
    if (it->pos > 0) {
        it->pos--;
        *found = true;
        return EDDY_OK;
    }
    return advance_reverse(it, found);
}

static eddy_err buffer_reserve(win_store *s, uint8_t **buffer, size_t *cap, size_t need)
{
    if (need <= *cap)
        return EDDY_OK;
    size_t grown = *cap ? *cap : 64;
    while (grown < need)
        grown *= 2;
    uint8_t *bigger = eddy__realloc(*buffer, grown); /* keeps the last key for a re-seek */
    if (!bigger)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory in an iterator", s->name);
    *buffer = bigger;
    *cap = grown;
    return EDDY_OK;
}

/* Whether `key` is past the bound the iterator moves towards. */
static bool iter_beyond(const win_iter *it, const uint8_t *key, size_t len)
{
    if (it->reverse)
        return it->has_from && eddy__kv_compare(key, len, iter_from(it), it->from_len) < 0;
    if (!it->has_to)
        return false;
    int c = eddy__kv_compare(key, len, iter_to(it), it->to_len);
    return c > 0 || (c == 0 && !it->to_inclusive);
}

static eddy_err wi_position(win_iter *it, bool *found)
{
    if (it->state == ITER_FRESH)
        return iter_start(it, found);
    if (it->stale || it->version != it->store->version) /* changed: seek past the last key */
        return it->reverse ? seek_reverse(it, it->key_buf, it->key_len, false, found)
                           : seek_forward(it, it->key_buf, it->key_len, false, found);
    return iter_step(it, found);
}

/* Starts loading the values of the next WIN_PREFETCH_VALUES entries after the current one of a
 * forward scan within one group. A value longer than 8 bytes is an allocation of its own, a
 * cache miss away from its entry; the caller of a scan works on each entry before asking for
 * the next (a join forwards each match), so values loaded ahead overlap their misses with that
 * work instead of waiting for each in turn. */
static void values_prefetch(const win_iter *it)
{
    if (it->keys_only || it->reverse || it->seg_cluster)
        return;
    const win_group *g = it->seg_first;
    for (size_t i = it->pos + 1; i <= it->pos + WIN_PREFETCH_VALUES && i < g->count; i++)
        if (entry_at(g, i)->value_cap)
            __builtin_prefetch(entry_at(g, i)->v.ptr);
}

static eddy_err wi_next(void *self, eddy_slice *key, eddy_slice *value)
{
    static const uint8_t empty[1] = {0};
    win_iter *it = self;
    win_store *s = it->store;
    if (it->state == ITER_END)
        return EDDY_ERR_END;
    empty_settle(s); /* positions assume no empty group */
    bool found = false;
    eddy_err err = wi_position(it, &found);
    if (err != EDDY_OK) {
        it->stale = true;
        return err;
    }
    if (!found) {
        it->state = ITER_END;
        return EDDY_ERR_END;
    }
    win_group *g;
    win_entry *e;
    segment_entry(it, it->pos, &g, &e);
    size_t key_len = g->key_len + s->w, value_len = it->keys_only ? 0 : e->value_len;
    if ((err = buffer_reserve(s, &it->key_buf, &it->key_cap, key_len)) != EDDY_OK ||
        (err = buffer_reserve(s, &it->value_buf, &it->value_cap, value_len)) != EDDY_OK) {
        it->stale = true;
        return err;
    }
    if (g->key_len > 0)
        memcpy(it->key_buf, g->key, g->key_len);
    suffix_store(e, s->w, it->key_buf + g->key_len);
    it->key_len = key_len;
    if (iter_beyond(it, it->key_buf, key_len)) {
        it->state = ITER_END;
        return EDDY_ERR_END;
    }
    values_prefetch(it);
    if (value_len > 0)
        memcpy(it->value_buf, entry_value(e), value_len);
    it->state = ITER_AT;
    it->stale = false;
    it->version = s->version;
    key->data = it->key_buf;
    key->len = key_len;
    value->data = value_len > 0 ? it->value_buf : empty;
    value->len = value_len;
    return EDDY_OK;
}

static void iter_free(win_iter *it)
{
    eddy__free(it->bounds);
    eddy__free(it->refs);
    eddy__free(it->key_buf);
    eddy__free(it->value_buf);
    eddy__free(it);
}

static void wi_destroy(void *self)
{
    win_iter *it = self;
    win_store *s = it->store;
    eddy_kv_iter_destroy(it->index_it); /* before the index can be closed */
    it->index_it = NULL;
    if (!s->spare_iter)
        s->spare_iter = it; /* window, session and join lookups open one per record */
    else
        iter_free(it);
}

static const eddy__kv_iter_ops win_iter_ops = {wi_next, wi_destroy};

static eddy_err ws_iter_open(void *self, const eddy__kv_bounds *bounds,
                             const eddy__kv_iter_ops **iter_ops, void **iter)
{
    win_store *s = self;
    win_iter *it = s->spare_iter;
    if (!it && !(it = eddy__calloc(1, sizeof(*it))))
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory opening an iterator",
                          s->name);
    s->spare_iter = NULL;
    it->store = s;
    size_t from_len = bounds->from.data ? bounds->from.len : 0;
    size_t to_len = bounds->to.data ? bounds->to.len : 0;
    /* One byte more: an empty bound still needs a non-null pointer (a null one is no bound). */
    eddy_err err = buffer_reserve(s, &it->bounds, &it->bounds_cap, from_len + to_len + 1);
    if (err != EDDY_OK) {
        wi_destroy(it);
        return err;
    }
    if (from_len)
        memcpy(it->bounds, bounds->from.data, from_len);
    if (to_len)
        memcpy(it->bounds + from_len, bounds->to.data, to_len);
    it->from_len = from_len;
    it->to_len = to_len;
    it->has_from = bounds->from.data != NULL;
    it->has_to = bounds->to.data != NULL;
    it->to_inclusive = bounds->to_inclusive != 0;
    it->reverse = bounds->reverse != 0;
    it->keys_only = bounds->keys_only != 0;
    it->state = ITER_FRESH;
    it->stale = false;
    it->key_len = 0;
    *iter_ops = &win_iter_ops;
    *iter = it;
    return EDDY_OK;
}

/* ---- Opening, closing, checking ---------------------------------------------------------- */

static void ws_close(void *self)
{
    win_store *s = self;
    for (size_t slot = 0; s->slots && slot <= s->slot_mask; slot++) {
        win_group *g = s->slots[slot].group;
        for (uint32_t i = 0; g && i < g->count; i++)
            value_free(entry_at(g, i));
        eddy__free(g);
    }
    if (s->spare_iter)
        iter_free(s->spare_iter);
    eddy__free(s->slots);
    eddy_kv_store_close(s->index);
    eddy__free(s->lengths);
    eddy__free(s);
}

static const eddy__kv_store_ops win_store_ops = {
    .get = ws_get,
    .put = ws_put,
    .remove = ws_remove,
    .iter_open = ws_iter_open,
    .approximate_count = ws_approximate_count,
    .flush = ws_flush,
    .close = ws_close,
    .iter_inner = NULL,
    .remove_many = ws_remove_many,
    .expire_before = ws_expire_before,
};

eddy_err eddy__kv_store_open_memory_windowed(const char *name, size_t suffix_bytes,
                                             eddy_kv_store **out)
{
    if (!out)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "open windowed memory store: out is NULL");
    *out = NULL;
    eddy_err err = eddy__kv_store_name_check(name);
    if (err != EDDY_OK)
        return err;
    if (suffix_bytes < 1 || suffix_bytes > WIN_SUFFIX_BYTES_MAX)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "store '%s': a windowed store's suffix of %zu bytes is not within 1..%d",
                          name, suffix_bytes, WIN_SUFFIX_BYTES_MAX);
    win_store *s = eddy__calloc(1, sizeof(*s));
    if (!s)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory opening", name);
    s->w = suffix_bytes;
    s->seed = (uint64_t)eddy__monotonic_ns() ^ (uint64_t)(uintptr_t)s;
    snprintf(s->name, sizeof(s->name), "%s", name);
    if ((err = eddy_kv_store_open_memory(name, &s->index)) != EDDY_OK) {
        eddy__free(s);
        return err;
    }
    if ((err = eddy__kv_store_wrap(name, &win_store_ops, s, out)) != EDDY_OK)
        ws_close(s);
    return err;
}

static eddy_err check_group(win_store *s, win_group *g, uint64_t *entries)
{
    if ((g->count == 0 && g != s->empty_group) || g->count > g->capacity ||
        (g == s->empty_group && g->count != 0))
        return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': a group holds %u of %u entries", s->name,
                          g->count, g->capacity);
    size_t room = inline_room(g);
    if (g->entry_bytes % 8 || room < WIN_INLINE_VALUE_BYTES_MIN ||
        room > WIN_INLINE_VALUE_BYTES_MAX)
        return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': a group's entries are %u bytes", s->name,
                          g->entry_bytes);
    for (uint32_t i = 0; i < g->count; i++) {
        const win_entry *e = entry_at(g, i), *before = i > 0 ? entry_at(g, i - 1) : NULL;
        if (e->value_len == WIN_TOMBSTONE || (e->value_cap && e->value_cap < e->value_len) ||
            (!e->value_cap && e->value_len > room))
            return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': entry %u has a bad value", s->name, i);
        if (before && (before->hi > e->hi || (before->hi == e->hi && before->lo >= e->lo)))
            return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': entries %u and %u out of order",
                              s->name, i - 1, i);
    }
    eddy_slice value, k = {g->key, g->key_len};
    win_group *mapped = NULL;
    if (eddy_kv_get(s->index, k, &value) == EDDY_OK && value.len == sizeof(mapped))
        memcpy(&mapped, value.data, sizeof(mapped));
    if (mapped != g || table_find(s, g->key, g->key_len) != g)
        return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': a group is not the index's or the table's",
                          s->name);
    *entries += g->count;
    return EDDY_OK;
}

eddy_err eddy__kv_windowed_check(eddy_kv_store *store)
{
    win_store *s = eddy__kv_store_self(store);
    uint64_t entries = 0, groups = 0, index_count = 0;
    uint64_t by_length = 0;
    for (size_t slot = 0; s->slots && slot <= s->slot_mask; slot++) {
        win_group *g = s->slots[slot].group;
        if (!g)
            continue;
        groups++;
        eddy_err err = check_group(s, g, &entries);
        if (err != EDDY_OK)
            return err;
        size_t i = lengths_find(s, g->key_len);
        if (i == s->length_count || s->lengths[i].len != g->key_len)
            return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': a key length is not listed", s->name);
    }
    for (size_t i = 0; i < s->length_count; i++) {
        if (s->lengths[i].groups == 0 || (i > 0 && s->lengths[i - 1].len >= s->lengths[i].len))
            return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': bad length list", s->name);
        by_length += s->lengths[i].groups;
    }
    eddy_err err = eddy_kv_approximate_count(s->index, &index_count);
    if (err != EDDY_OK)
        return err;
    if (entries != s->entry_count || groups != index_count || groups != by_length ||
        groups != s->slot_used)
        return eddy__fail(EDDY_ERR_CORRUPT,
                          "store '%s': %llu entries counted, %llu kept; %llu groups, %llu in the "
                          "index, %llu by length, %llu in the table",
                          s->name, (unsigned long long)entries, (unsigned long long)s->entry_count,
                          (unsigned long long)groups, (unsigned long long)index_count,
                          (unsigned long long)by_length, (unsigned long long)s->slot_used);
    return eddy__kv_memory_check(s->index);
}
