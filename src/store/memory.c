/* The in-memory ordered key-value store: a hash table for point reads and writes, and a B+tree
 * over the same keys for ordered scans.
 *
 * Why two structures. A stateful count or aggregation does a get and a put of the same key per
 * record, over more keys than the caches hold, so its cost is the number of cache misses in
 * series per record (one is ~100-250 ns; the arithmetic is noise). A hash table whose slot holds
 * the key and value reaches them in one miss. A B+tree needs several per lookup, but only
 * inserts, deletes and scans use it.
 *
 * Hash table. Open addressing with linear probing over 64-byte slots, one cache line each, a
 * power-of-two number of them, at most 3/4 full, grown by doubling before an insert would pass
 * that; deletion shifts the following run back (no tombstones). A slot holds the key's hash,
 * its entry (below), the key's length and, when key and value fit in its 40 bytes, both of
 * them ("inline"); otherwise the value lives with the entry and the key is compared through
 * the entry. The hash is a multiply-fold over 8-byte words with a per-store seed. Big tables ask
 * for transparent huge pages (fewer TLB misses on random access).
 *
 *     slot (64 B):  [hash 8][entry 8][key_len 4][value_len 4][key bytes | value bytes ... 40]
 *                   value_len == SLOT_VALUE_IN_ENTRY: value in entry->value, key in entry->key
 *
 * Entries. Every key has an entry, one allocation that never moves while the key is present:
 * its hash and its key bytes, then, when the key's first value does not fit in the slot, that
 * value (one allocation per key, and a scan finds key and value in the same cache lines). A
 * value that later outgrows it moves to a buffer of its own, grown geometrically. The B+tree
 * points at entries, and its leaves keep each entry's hash beside it: the way from a leaf to a
 * key's slot (for a scan's inline values) without reading the entry.
 *
 * B+tree. Leaves hold up to MEM_FANOUT entry pointers in key order and are linked both ways.
 * Beside each pointer the node keeps the key's first 32 bytes as four big-endian integers and
 * its length capped at 33 (its "summary"): two keys whose summaries differ, or one of which is
 * at most 32 bytes long, compare without reading their entries, so a search touches the node
 * only, and a scan copies a key of at most 32 bytes out of the leaf. 32 bytes, not 16: window,
 * join and session stores' keys are [record key][time 8][...], the entries of one record key
 * ("user-12345678" and its windows) tie on their first 16 bytes, and with 16 every comparison
 * among them and every key a scan returned read an entry (a cache miss). Inner nodes hold up to
 * MEM_FANOUT children and, for each child i > 0, a separator: the smallest entry of that
 * child's subtree, with its summary. Because separators point at live entries, the tree keeps
 * exactly this invariant, and deleting the first entry of a leaf first redirects the one
 * separator that names it (in the lowest ancestor entered through a child other than the
 * first) to the leaf's second entry. Non-root nodes stay at least half full (MEM_MIN), by
 * borrowing from or merging with a sibling. New keys enter the tree lazily: an insert only
 * appends the entry to a pending list, and the next scan sorts that list and adds it to the
 * tree (see "Bringing the tree up to date"), so that inserts cost no tree descent (several
 * cache misses in a big tree) unless order is actually needed. A delete of a pending key just
 * takes it off the list.
 *
 *     inner:  [ c0 | s1 c1 | s2 c2 | ... ]      s_i = min entry of subtree c_i
 *                |      |
 *     leaves: [e e e] <-> [e e e] <-> ...       summaries beside the entry pointers
 *
 * Failure atomicity. An insert first grows the pending list and the hash table and allocates
 * the entry (with its value when that does not fit in the slot); only then does it change
 * anything, and nothing after that point can fail. A failed put leaves the store as it was.
 * Deletion never allocates. Ordering the pending keys allocates: a rebuild allocates every node
 * before it changes anything, and one-by-one inserts top up a pool of spare nodes (a split at
 * every level and a new root) before each key that needs a descent, so a failure leaves a
 * valid tree with the remaining keys still pending. A
 * slice passed to put may point into the store itself (the value a get returned, which lives in
 * a slot): it is copied before anything moves.
 *
 * Last found. The store remembers the slot its last get or put found, until the next insert or
 * delete; a put of the same key (the get-then-put of every aggregation) compares the key with
 * it and skips the hash computation and the probe.
 *
 * Finger. The store remembers the leaf its last search landed in (NULL after a rebuild, or
 * once that leaf is freed). A seek, a delete or the insert of a pending key whose key lies
 * after that leaf's first entry and at most at its last is done in the leaf, without a descent
 * from the root, when no separator or rebalancing is involved: the delete leaves the leaf at
 * least half full, the insert finds room (a key after the last leaf's last entry, the next of
 * keys put in ascending order, is appended there the same way). A window or session store's
 * work per record is one scan of a key's entries, then the delete and insert of entries beside
 * them: one descent instead of three.
 *
 * Iterators are live cursors: each remembers its leaf and position, the store's version
 * (bumped by every insert and delete of a key, not by value updates) and a copy of the last key
 * it returned. While the version is unchanged it steps along the leaf chain; after a change it
 * brings the tree up to date and seeks again from its last key. It returns copies of keys and
 * values, which stay valid whatever the store does until the iterator's next call, and empty
 * values when the bounds say keys_only (a scan of the leaves alone, for retention). The store
 * keeps its last destroyed iterator, buffers and all, for the next one: window, session and
 * join stores open one per record.
 *
 * Removing many keys (remove_many, retention's batches) pipelines them: each key's slot and
 * entry are fetched a few keys before its removal, so that the cache misses of several removals
 * overlap instead of following one another. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/logging.h"
#include "store/key_hash.h"
#include "store/store.h"

/* Entries per leaf and children per inner node: a leaf's summaries then span a few cache lines
 * searched in 6 steps, and a million keys take 4 levels. */
#define MEM_FANOUT 64
#define MEM_MIN (MEM_FANOUT / 2)
/* Deepest tree: MEM_MIN^16 entries is far beyond any memory. */
#define MEM_HEIGHT_MAX 16
/* Spare nodes kept after deletes free them, beyond what an insert needs. */
#define MEM_SPARE_MAX 8
#define MEM_SLOTS_MIN 16
#define MEM_SLOT_BYTES 64
#define SLOT_INLINE 40
#define SLOT_VALUE_IN_ENTRY UINT32_MAX
/* Tables at least this large ask for transparent huge pages. */
#define MEM_HUGE_PAGE_BYTES (2u * 1024u * 1024u)
/* Key bytes a node keeps beside each entry pointer (the "summary"). 32 holds a whole window,
 * join-buffer or session store key whose record key is up to 16 bytes long (its 8 to 16 bytes
 * of suffix included): the entries of one record key, which tie on their first 16 bytes, then
 * compare without reading their entries, and a scan reads their keys from the leaf. */
#define MEM_SUMMARY_BYTES 32

typedef struct mem_entry {
    uint64_t hash;
    uint8_t *value;     /* the value when it does not fit in the slot, else NULL */
    uint32_t value_len; /* of value, when non-NULL */
    uint32_t value_cap;
    uint32_t key_len;
    uint32_t pending;      /* 0: in the tree; i + 1: at pending[i], not yet in the tree */
    uint8_t value_in_block; /* value is the entry's own bytes after the key, not a buffer */
    uint8_t key[];
} mem_entry;

typedef struct mem_slot {
    uint64_t hash;
    mem_entry *entry; /* NULL: an empty slot */
    uint32_t key_len;
    uint32_t value_len; /* SLOT_VALUE_IN_ENTRY: key and value are the entry's */
    uint8_t bytes[SLOT_INLINE];
} mem_slot;

_Static_assert(sizeof(mem_slot) == MEM_SLOT_BYTES, "a slot is one cache line");

/* A key's first MEM_SUMMARY_BYTES bytes as four big-endian integers (zero-padded), and its
 * length capped at MEM_SUMMARY_BYTES + 1. */
typedef struct key_summary {
    uint64_t w0, w1, w2, w3;
    uint8_t len;
} key_summary;

/* The summaries of a node's keys, one array per word, so that a search reads the words it needs
 * in few cache lines. */
typedef struct mem_summaries {
    uint64_t w0[MEM_FANOUT];
    uint64_t w1[MEM_FANOUT];
    uint64_t w2[MEM_FANOUT];
    uint64_t w3[MEM_FANOUT];
    uint8_t len[MEM_FANOUT];
} mem_summaries;

typedef struct mem_leaf {
    uint32_t count;
    struct mem_leaf *prev;
    struct mem_leaf *next;
    mem_summaries sum;
    mem_entry *entry[MEM_FANOUT];
    uint64_t hash[MEM_FANOUT]; /* entry[i]->hash: a scan finds a value's slot without the entry */
} mem_leaf;

typedef struct mem_inner {
    uint32_t count;    /* children */
    mem_summaries sum; /* summary of sep[i], i >= 1 */
    mem_entry *sep[MEM_FANOUT]; /* sep[i]: the minimum entry under child[i], i >= 1 */
    void *child[MEM_FANOUT];    /* mem_inner above height 1, mem_leaf at height 1 */
    struct mem_inner *next_spare;
} mem_inner;

typedef struct mem_store {
    char name[EDDY_STORE_NAME_MAX + 1];
    uint64_t seed;
    mem_slot *slots; /* 64-byte aligned, inside slots_raw */
    void *slots_raw;
    size_t slot_mask; /* slots - 1 */
    size_t count;     /* keys */
    void *root;       /* a mem_leaf when height == 0 */
    int height;       /* inner levels above the leaves */
    mem_leaf *first;  /* leftmost and rightmost leaves */
    mem_leaf *last;
    mem_leaf *finger; /* the leaf the last search landed in (NULL: none); see "Finger" */
    uint64_t version;     /* bumped by every insert and delete of a key */
    mem_slot *last_found; /* valid while version == last_found_version */
    uint64_t last_found_version;
    mem_leaf *spare_leaves; /* linked through next */
    int spare_leaf_count;
    mem_inner *spare_inners;
    int spare_inner_count;
    struct mem_iter *spare_iter; /* a destroyed iterator kept for the next (NULL: none) */
    mem_entry **pending; /* keys inserted since the tree was last brought up to date */
    size_t pending_count;
    size_t pending_cap;
} mem_store;

/* A path from the root to a leaf: the inner node at each level and the child taken. */
typedef struct mem_path {
    mem_inner *node[MEM_HEIGHT_MAX];
    uint32_t index[MEM_HEIGHT_MAX];
    mem_leaf *leaf;
    uint32_t pos;
    int found;
} mem_path;

/* ---- Keys ---------------------------------------------------------------------------------- */

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Big-endian words in one load or store (the portable byte-by-byte form compiles to a chain of
 * shifts, and summaries are made on every search). */
static inline uint64_t load_be64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return __builtin_bswap64(load64(p));
#else
    return eddy__be64_get(p);
#endif
}

static inline void store_be64(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
    memcpy(p, &v, 8);
#else
    eddy__be64_put(p, v);
#endif
}

static inline key_summary key_summarise(const uint8_t *key, size_t len)
{
    uint8_t bytes[MEM_SUMMARY_BYTES] = {0};
    memcpy(bytes, key, len < MEM_SUMMARY_BYTES ? len : MEM_SUMMARY_BYTES);
    key_summary k = {load_be64(bytes), load_be64(bytes + 8), load_be64(bytes + 16),
                     load_be64(bytes + 24),
                     (uint8_t)(len > MEM_SUMMARY_BYTES ? MEM_SUMMARY_BYTES + 1 : len)};
    return k;
}

/* Compares two summaries: negative, zero or positive, or MEM_SUMMARY_TIE when they are equal
 * and both keys are longer than the summary (only the keys themselves can tell). Unequal
 * padded prefixes decide alone; equal ones of keys that fit differ only in length (the shorter
 * is a prefix). */
#define MEM_SUMMARY_TIE 2
static inline int summary_compare(const key_summary *k, const mem_summaries *sum, uint32_t i)
{
    if (k->w0 != sum->w0[i])
        return k->w0 < sum->w0[i] ? -1 : 1;
    if (k->w1 != sum->w1[i])
        return k->w1 < sum->w1[i] ? -1 : 1;
    if (k->w2 != sum->w2[i])
        return k->w2 < sum->w2[i] ? -1 : 1;
    if (k->w3 != sum->w3[i])
        return k->w3 < sum->w3[i] ? -1 : 1;
    if (k->len <= MEM_SUMMARY_BYTES || sum->len[i] <= MEM_SUMMARY_BYTES)
        return (k->len > sum->len[i]) - (k->len < sum->len[i]);
    return MEM_SUMMARY_TIE;
}

/* The same for two summaries outside nodes. */
static inline int summary_compare_pair(const key_summary *a, const key_summary *b)
{
    if (a->w0 != b->w0)
        return a->w0 < b->w0 ? -1 : 1;
    if (a->w1 != b->w1)
        return a->w1 < b->w1 ? -1 : 1;
    if (a->w2 != b->w2)
        return a->w2 < b->w2 ? -1 : 1;
    if (a->w3 != b->w3)
        return a->w3 < b->w3 ? -1 : 1;
    if (a->len <= MEM_SUMMARY_BYTES || b->len <= MEM_SUMMARY_BYTES)
        return (a->len > b->len) - (a->len < b->len);
    return MEM_SUMMARY_TIE;
}

/* Compares a key (with its summary) with the entry at index i of a node, reading the entry only
 * when the summaries tie. */
static inline int key_compare_at(const key_summary *k, const uint8_t *key, size_t len,
                                 const mem_summaries *sum, mem_entry *const *entries, uint32_t i)
{
    int c = summary_compare(k, sum, i);
    if (c != MEM_SUMMARY_TIE)
        return c;
    return eddy__kv_compare(key, len, entries[i]->key, entries[i]->key_len);
}

static inline uint32_t load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Equality of short byte strings in a few word compares: the last word overlaps the one before
 * it instead of finishing byte by byte (the hot path compares every key once or twice). */
static inline int bytes_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    if (len >= 8) {
        const uint8_t *a_last = a + len - 8, *b_last = b + len - 8;
        for (; a < a_last; a += 8, b += 8)
            if (load64(a) != load64(b))
                return 0;
        return load64(a_last) == load64(b_last);
    }
    if (len >= 4)
        return load32(a) == load32(b) && load32(a + len - 4) == load32(b + len - 4);
    if (len == 0)
        return 1;
    return a[0] == b[0] && a[len / 2] == b[len / 2] && a[len - 1] == b[len - 1];
}

/* memmove for the at most SLOT_INLINE bytes of an inline value: every load before any store,
 * so overlapping ranges (a value put from the slice a get returned) are safe. */
static inline void small_move(uint8_t *dst, const uint8_t *src, size_t len)
{
    if (len > 16) {
        memmove(dst, src, len);
    } else if (len >= 8) {
        uint64_t first = load64(src), last = load64(src + len - 8);
        memcpy(dst + len - 8, &last, 8);
        memcpy(dst, &first, 8);
    } else if (len >= 4) {
        uint32_t first = load32(src), last = load32(src + len - 4);
        memcpy(dst + len - 4, &last, 4);
        memcpy(dst, &first, 4);
    } else if (len > 0) {
        uint8_t first = src[0], middle = src[len / 2], last = src[len - 1];
        dst[0] = first;
        dst[len / 2] = middle;
        dst[len - 1] = last;
    }
}

/* The key hash (store/key_hash.h), seeded per store so that tables do not share their
 * collisions. */
static inline uint64_t key_hash(uint64_t seed, const uint8_t *key, size_t len)
{
    return eddy__key_hash(seed, key, len);
}

/* ---- Slots ---------------------------------------------------------------------------------- */

static inline int slot_is_inline(const mem_slot *slot)
{
    return slot->value_len != SLOT_VALUE_IN_ENTRY;
}

static inline int slot_key_equals(const mem_slot *slot, const uint8_t *key, size_t len)
{
    if (slot->key_len != len)
        return 0;
    return bytes_equal(slot_is_inline(slot) ? slot->bytes : slot->entry->key, key, len);
}

static inline eddy_slice slot_value(const mem_slot *slot)
{
    eddy_slice v;
    if (slot_is_inline(slot)) {
        v.data = slot->bytes + slot->key_len;
        v.len = slot->value_len;
    } else {
        v.data = slot->entry->value;
        v.len = slot->entry->value_len;
    }
    return v;
}

static inline int fits_inline(size_t key_len, size_t value_len)
{
    return key_len + value_len <= SLOT_INLINE;
}

static inline mem_slot *slot_find(const mem_store *s, uint64_t hash, const uint8_t *key, size_t len)
{
    size_t i = hash & s->slot_mask;
    for (;;) {
        mem_slot *slot = &s->slots[i];
        if (!slot->entry)
            return NULL;
        if (slot->hash == hash && slot_key_equals(slot, key, len))
            return slot;
        i = (i + 1) & s->slot_mask;
    }
}

static mem_slot *slot_free_for(mem_slot *slots, size_t mask, uint64_t hash)
{
    size_t i = hash & mask;
    while (slots[i].entry)
        i = (i + 1) & mask;
    return &slots[i];
}

/* Makes room for one more key. Fails only for lack of memory, leaving the table as it was. */
static eddy_err slots_reserve(mem_store *s)
{
    size_t capacity = s->slot_mask + 1;
    if ((s->count + 1) * 4 <= capacity * 3)
        return EDDY_OK;
    size_t grown = capacity * 2, bytes = grown * sizeof(mem_slot);
    void *raw = eddy__calloc(1, bytes + MEM_SLOT_BYTES - 1);
    if (!raw)
        return eddy__fail(EDDY_ERR_NO_MEMORY,
                          "store '%s': out of memory growing the hash table to %zu slots", s->name,
                          grown);
    uintptr_t aligned = ((uintptr_t)raw + MEM_SLOT_BYTES - 1) & ~(uintptr_t)(MEM_SLOT_BYTES - 1);
    mem_slot *slots = (mem_slot *)aligned;
    if (bytes >= 2 * MEM_HUGE_PAGE_BYTES) {
        /* Advice only: the table is touched at random, where 2 MiB pages save TLB misses. */
        uintptr_t start =
            (aligned + MEM_HUGE_PAGE_BYTES - 1) & ~(uintptr_t)(MEM_HUGE_PAGE_BYTES - 1);
        uintptr_t end = (aligned + bytes) & ~(uintptr_t)(MEM_HUGE_PAGE_BYTES - 1);
        if (end > start)
            (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
    }
    for (size_t i = 0; i < capacity; i++)
        if (s->slots[i].entry)
            *slot_free_for(slots, grown - 1, s->slots[i].hash) = s->slots[i];
    eddy__free(s->slots_raw);
    s->slots_raw = raw;
    s->slots = slots;
    s->slot_mask = grown - 1;
    s->last_found = NULL; /* it pointed into the old table (and the insert may yet fail) */
    return EDDY_OK;
}

/* Empties a slot and shifts back the entries after it that probed past it. */
static void slot_remove(mem_store *s, mem_slot *slot)
{
    size_t mask = s->slot_mask, hole = (size_t)(slot - s->slots), j = hole;
    for (;;) {
        j = (j + 1) & mask;
        if (!s->slots[j].entry)
            break;
        size_t home = s->slots[j].hash & mask;
        /* The entry at j may fill the hole unless its home lies cyclically in (hole, j]. */
        int stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (stays)
            continue;
        s->slots[hole] = s->slots[j];
        hole = j;
    }
    memset(&s->slots[hole], 0, sizeof(mem_slot));
}

/* ---- Nodes and the spare pool -------------------------------------------------------------- */

static void leaf_release(mem_store *s, mem_leaf *leaf)
{
    if (s->finger == leaf)
        s->finger = NULL;
    if (s->spare_leaf_count >= MEM_SPARE_MAX) {
        eddy__free(leaf);
        return;
    }
    leaf->next = s->spare_leaves;
    s->spare_leaves = leaf;
    s->spare_leaf_count++;
}

static void inner_release(mem_store *s, mem_inner *inner)
{
    if (s->spare_inner_count >= MEM_SPARE_MAX + MEM_HEIGHT_MAX) {
        eddy__free(inner);
        return;
    }
    inner->next_spare = s->spare_inners;
    s->spare_inners = inner;
    s->spare_inner_count++;
}

static mem_leaf *leaf_take(mem_store *s)
{
    mem_leaf *leaf = s->spare_leaves;
    EDDY_ASSERT(leaf != NULL);
    s->spare_leaves = leaf->next;
    s->spare_leaf_count--;
    memset(leaf, 0, sizeof(*leaf));
    return leaf;
}

static mem_inner *inner_take(mem_store *s)
{
    mem_inner *inner = s->spare_inners;
    EDDY_ASSERT(inner != NULL);
    s->spare_inners = inner->next_spare;
    s->spare_inner_count--;
    memset(inner, 0, sizeof(*inner));
    return inner;
}

/* Ensures the spares an insert may use: one leaf, and an inner node per level plus a root. */
static eddy_err spares_reserve(mem_store *s)
{
    while (s->spare_leaf_count < 1) {
        mem_leaf *leaf = eddy__malloc(sizeof(*leaf));
        if (!leaf)
            goto no_memory;
        leaf->next = s->spare_leaves;
        s->spare_leaves = leaf;
        s->spare_leaf_count++;
    }
    while (s->spare_inner_count < s->height + 1) {
        mem_inner *inner = eddy__malloc(sizeof(*inner));
        if (!inner)
            goto no_memory;
        inner->next_spare = s->spare_inners;
        s->spare_inners = inner;
        s->spare_inner_count++;
    }
    return EDDY_OK;
no_memory:
    return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory growing the tree", s->name);
}

/* ---- Searching the tree ------------------------------------------------------------------- */

/* Starts loading a node's summaries. A binary search over a leaf's 64 summaries touches four
 * or five cache lines one after the other; asking for all of them first lets the memory system
 * fetch them together, which halves the cost of a descent through nodes not in cache. */
static inline void summaries_prefetch(const mem_summaries *sum, uint32_t count)
{
    for (uint32_t i = 0; i < count; i += 8) {
        __builtin_prefetch(&sum->w0[i]);
        __builtin_prefetch(&sum->w1[i]);
        __builtin_prefetch(&sum->w2[i]);
        __builtin_prefetch(&sum->w3[i]);
    }
}

/* The child of an inner node whose subtree holds key: the last i with sep[i] <= key, or 0. */
static uint32_t inner_child_for(const mem_inner *n, const key_summary *k, const uint8_t *key,
                                size_t len)
{
    uint32_t lo = 1, hi = n->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (key_compare_at(k, key, len, &n->sum, n->sep, mid) >= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo - 1;
}

/* The first position in a leaf whose entry is >= key; *found says whether it equals key. */
static uint32_t leaf_lower_bound(const mem_leaf *leaf, const key_summary *k, const uint8_t *key,
                                 size_t len, int *found)
{
    uint32_t lo = 0, hi = leaf->count;
    int equal = 0;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = key_compare_at(k, key, len, &leaf->sum, leaf->entry, mid);
        if (c > 0) {
            lo = mid + 1;
        } else {
            equal = c == 0;
            hi = mid;
        }
    }
    *found = equal && lo < leaf->count;
    return lo;
}

/* Descends to the leaf where key is or would be, recording the path. */
static void tree_descend(const mem_store *s, const uint8_t *key, size_t len, mem_path *path)
{
    key_summary k = key_summarise(key, len);
    void *node = s->root;
    for (int level = 0; level < s->height; level++) {
        mem_inner *inner = node;
        summaries_prefetch(&inner->sum, inner->count);
        uint32_t i = inner_child_for(inner, &k, key, len);
        path->node[level] = inner;
        path->index[level] = i;
        node = inner->child[i];
    }
    path->leaf = node;
    summaries_prefetch(&path->leaf->sum, path->leaf->count);
    path->pos = leaf_lower_bound(path->leaf, &k, key, len, &path->found);
}

/* Whether key lies strictly after the first entry of the finger leaf and at most at its last,
 * and if so its lower bound there (*pos >= 1: the leaf's minimum is not involved, so no
 * separator is either). Reads only the finger leaf, which the last operation touched. */
static int finger_lower_bound(const mem_store *s, const uint8_t *key, size_t len, uint32_t *pos,
                              int *found)
{
    const mem_leaf *leaf = s->finger;
    if (!leaf || leaf->count < 2)
        return 0;
    key_summary k = key_summarise(key, len);
    if (key_compare_at(&k, key, len, &leaf->sum, leaf->entry, 0) <= 0 ||
        key_compare_at(&k, key, len, &leaf->sum, leaf->entry, leaf->count - 1) > 0)
        return 0;
    *pos = leaf_lower_bound(leaf, &k, key, len, found);
    EDDY_ASSERT(*pos >= 1 && *pos < leaf->count);
    return 1;
}

/* Positions *leaf and *pos at the first entry >= key, through the finger when it holds key,
 * else by a descent from the root; the finger then points there. *found: the entry is key. */
static void tree_lower_bound(mem_store *s, const uint8_t *key, size_t len, mem_leaf **leaf,
                             uint32_t *pos, int *found)
{
    if (finger_lower_bound(s, key, len, pos, found)) {
        *leaf = s->finger;
        return;
    }
    mem_path path;
    tree_descend(s, key, len, &path);
    s->finger = *leaf = path.leaf;
    *pos = path.pos;
    *found = path.found;
}

static mem_entry *subtree_min(const void *node, int height)
{
    while (height > 0) {
        node = ((const mem_inner *)node)->child[0];
        height--;
    }
    const mem_leaf *leaf = node;
    return leaf->count ? leaf->entry[0] : NULL;
}

/* ---- Inserting ---------------------------------------------------------------------------- */

static void summary_set(mem_summaries *sum, uint32_t i, const key_summary *k)
{
    sum->w0[i] = k->w0;
    sum->w1[i] = k->w1;
    sum->w2[i] = k->w2;
    sum->w3[i] = k->w3;
    sum->len[i] = k->len;
}

static void leaf_set(mem_leaf *leaf, uint32_t i, mem_entry *entry)
{
    key_summary k = key_summarise(entry->key, entry->key_len);
    summary_set(&leaf->sum, i, &k);
    leaf->entry[i] = entry;
    leaf->hash[i] = entry->hash;
}

static void set_sep(mem_inner *n, uint32_t i, mem_entry *sep)
{
    key_summary k = key_summarise(sep->key, sep->key_len);
    summary_set(&n->sum, i, &k);
    n->sep[i] = sep;
}

/* Moves count summaries from index from of src to index to of dst (which may be src). */
static void summaries_move(mem_summaries *dst, uint32_t to, const mem_summaries *src,
                           uint32_t from, uint32_t count)
{
    memmove(&dst->w0[to], &src->w0[from], count * sizeof(dst->w0[0]));
    memmove(&dst->w1[to], &src->w1[from], count * sizeof(dst->w1[0]));
    memmove(&dst->w2[to], &src->w2[from], count * sizeof(dst->w2[0]));
    memmove(&dst->w3[to], &src->w3[from], count * sizeof(dst->w3[0]));
    memmove(&dst->len[to], &src->len[from], count * sizeof(dst->len[0]));
}

/* Moves count items of every per-entry array of a leaf from index from to index to. */
static void leaf_move(mem_leaf *dst, uint32_t to, const mem_leaf *src, uint32_t from,
                      uint32_t count)
{
    summaries_move(&dst->sum, to, &src->sum, from, count);
    memmove(&dst->entry[to], &src->entry[from], count * sizeof(dst->entry[0]));
    memmove(&dst->hash[to], &src->hash[from], count * sizeof(dst->hash[0]));
}

/* The same for separators (with their summaries) of inner nodes; children move separately. */
static void sep_move(mem_inner *dst, uint32_t to, const mem_inner *src, uint32_t from,
                     uint32_t count)
{
    summaries_move(&dst->sum, to, &src->sum, from, count);
    memmove(&dst->sep[to], &src->sep[from], count * sizeof(dst->sep[0]));
}

static void leaf_insert_at(mem_leaf *leaf, uint32_t pos, mem_entry *entry)
{
    EDDY_ASSERT(leaf->count < MEM_FANOUT && pos <= leaf->count);
    leaf_move(leaf, pos + 1, leaf, pos, leaf->count - pos);
    leaf_set(leaf, pos, entry);
    leaf->count++;
}

/* Inserts child (whose minimum is sep) at position pos >= 1 of an inner node with room. */
static void inner_insert_at(mem_inner *n, uint32_t pos, mem_entry *sep, void *child)
{
    EDDY_ASSERT(n->count < MEM_FANOUT && pos >= 1 && pos <= n->count);
    uint32_t tail = n->count - pos;
    sep_move(n, pos + 1, n, pos, tail);
    memmove(&n->child[pos + 1], &n->child[pos], tail * sizeof(n->child[0]));
    set_sep(n, pos, sep);
    n->child[pos] = child;
    n->count++;
}

/* Adds (sep, right) after the child at path->index[level] of path->node[level], splitting
 * upwards as needed; level -1 means above the root. Uses only spare nodes. */
static void tree_insert_child(mem_store *s, mem_path *path, int level, mem_entry *sep, void *right)
{
    while (level >= 0) {
        mem_inner *n = path->node[level];
        uint32_t pos = path->index[level] + 1;
        if (n->count < MEM_FANOUT) {
            inner_insert_at(n, pos, sep, right);
            return;
        }
        /* Split: children [0, half) stay, [half, FANOUT) move; sep[half] goes up. */
        const uint32_t half = MEM_FANOUT / 2;
        mem_inner *r = inner_take(s);
        r->count = MEM_FANOUT - half;
        memcpy(&r->child[0], &n->child[half], r->count * sizeof(r->child[0]));
        sep_move(r, 1, n, half + 1, r->count - 1);
        mem_entry *up = n->sep[half];
        n->count = half;
        if (pos <= half)
            inner_insert_at(n, pos, sep, right);
        else
            inner_insert_at(r, pos - half, sep, right);
        sep = up;
        right = r;
        level--;
    }
    mem_inner *root = inner_take(s);
    root->count = 2;
    root->child[0] = s->root;
    root->child[1] = right;
    set_sep(root, 1, sep);
    s->root = root;
    s->height++;
    EDDY_ASSERT(s->height < MEM_HEIGHT_MAX);
}

/* Inserts a new entry at the position path found (not present). */
static void tree_insert(mem_store *s, mem_path *path, mem_entry *entry)
{
    mem_leaf *leaf = path->leaf;
    if (leaf->count < MEM_FANOUT) {
        leaf_insert_at(leaf, path->pos, entry);
        return;
    }
    /* Split in halves: both stay at least MEM_MIN full, which deletion relies on. */
    mem_leaf *r = leaf_take(s);
    const uint32_t keep = MEM_FANOUT / 2;
    r->count = MEM_FANOUT - keep;
    leaf_move(r, 0, leaf, keep, r->count);
    leaf->count = keep;
    r->prev = leaf;
    r->next = leaf->next;
    if (leaf->next)
        leaf->next->prev = r;
    else
        s->last = r;
    leaf->next = r;
    if (path->pos <= keep)
        leaf_insert_at(leaf, path->pos, entry);
    else
        leaf_insert_at(r, path->pos - keep, entry);
    tree_insert_child(s, path, s->height - 1, r->entry[0], r);
}

/* ---- Deleting ------------------------------------------------------------------------------ */

static void leaf_remove_at(mem_leaf *leaf, uint32_t pos)
{
    leaf_move(leaf, pos, leaf, pos + 1, leaf->count - pos - 1);
    leaf->count--;
}

/* Removes child pos >= 1 and its separator from an inner node. */
static void inner_remove_at(mem_inner *n, uint32_t pos)
{
    EDDY_ASSERT(pos >= 1 && pos < n->count);
    uint32_t tail = n->count - pos - 1;
    sep_move(n, pos, n, pos + 1, tail);
    memmove(&n->child[pos], &n->child[pos + 1], tail * sizeof(n->child[0]));
    n->count--;
}

static void leaf_unlink(mem_store *s, mem_leaf *leaf)
{
    if (leaf->prev)
        leaf->prev->next = leaf->next;
    else
        s->first = leaf->next;
    if (leaf->next)
        leaf->next->prev = leaf->prev;
    else
        s->last = leaf->prev;
}

/* Rebalances an underfull leaf (child index i of parent p). Returns 1 when p lost a child. */
static int leaf_rebalance(mem_store *s, mem_leaf *leaf, mem_inner *p, uint32_t i)
{
    mem_leaf *right = i + 1 < p->count ? p->child[i + 1] : NULL;
    mem_leaf *left = i > 0 ? p->child[i - 1] : NULL;
    if (right && right->count > MEM_MIN) {
        leaf_move(leaf, leaf->count, right, 0, 1);
        leaf->count++;
        leaf_remove_at(right, 0);
        set_sep(p, i + 1, right->entry[0]);
        return 0;
    }
    if (left && left->count > MEM_MIN) {
        leaf_move(leaf, 1, leaf, 0, leaf->count);
        leaf_move(leaf, 0, left, left->count - 1, 1);
        leaf->count++;
        left->count--;
        set_sep(p, i, leaf->entry[0]);
        return 0;
    }
    if (right) {
        leaf_move(leaf, leaf->count, right, 0, right->count);
        leaf->count += right->count;
        leaf_unlink(s, right);
        inner_remove_at(p, i + 1);
        leaf_release(s, right);
    } else {
        EDDY_ASSERT(left != NULL);
        leaf_move(left, left->count, leaf, 0, leaf->count);
        left->count += leaf->count;
        leaf_unlink(s, leaf);
        inner_remove_at(p, i);
        leaf_release(s, leaf);
    }
    return 1;
}

/* Appends src's children to dst, with sep (the minimum of src) in front of src's first. */
static void inner_append(mem_inner *dst, mem_entry *sep, const mem_inner *src)
{
    uint32_t at = dst->count;
    EDDY_ASSERT(at + src->count <= MEM_FANOUT);
    set_sep(dst, at, sep);
    memcpy(&dst->child[at], &src->child[0], src->count * sizeof(src->child[0]));
    sep_move(dst, at + 1, src, 1, src->count - 1);
    dst->count += src->count;
}

/* Rebalances an underfull inner node n (child index i of parent p). Returns 1 when p lost a
 * child. */
static int inner_rebalance(mem_store *s, mem_inner *n, mem_inner *p, uint32_t i)
{
    mem_inner *right = i + 1 < p->count ? p->child[i + 1] : NULL;
    mem_inner *left = i > 0 ? p->child[i - 1] : NULL;
    if (right && right->count > MEM_MIN) {
        /* right's first child moves to n's end; its minimum was right's separator in p. */
        set_sep(n, n->count, p->sep[i + 1]);
        n->child[n->count] = right->child[0];
        n->count++;
        set_sep(p, i + 1, right->sep[1]);
        right->child[0] = right->child[1];
        inner_remove_at(right, 1);
        return 0;
    }
    if (left && left->count > MEM_MIN) {
        /* left's last child moves to n's front; n's old minimum becomes n's sep[1]. */
        uint32_t last = left->count - 1;
        memmove(&n->child[1], &n->child[0], n->count * sizeof(n->child[0]));
        sep_move(n, 2, n, 1, n->count - 1);
        set_sep(n, 1, p->sep[i]);
        n->child[0] = left->child[last];
        n->count++;
        set_sep(p, i, left->sep[last]);
        left->count--;
        return 0;
    }
    if (right) {
        inner_append(n, p->sep[i + 1], right);
        inner_remove_at(p, i + 1);
        inner_release(s, right);
    } else {
        EDDY_ASSERT(left != NULL);
        inner_append(left, p->sep[i], n);
        inner_remove_at(p, i);
        inner_release(s, n);
    }
    return 1;
}

/* Removes the entry at the position path found. */
static void tree_remove(mem_store *s, mem_path *path)
{
    mem_leaf *leaf = path->leaf;
    EDDY_ASSERT(path->found && path->pos < leaf->count);
    if (path->pos == 0 && s->height > 0) {
        /* The entry may be a separator: in the lowest ancestor entered through a child other
         * than the first. Its successor in the leaf is the subtree's new minimum (a non-root
         * leaf holds at least MEM_MIN >= 2 entries). */
        EDDY_ASSERT(leaf->count >= 2);
        for (int level = s->height - 1; level >= 0; level--) {
            if (path->index[level] > 0) {
                EDDY_ASSERT(path->node[level]->sep[path->index[level]] == leaf->entry[0]);
                set_sep(path->node[level], path->index[level], leaf->entry[1]);
                break;
            }
        }
    }
    leaf_remove_at(leaf, path->pos);
    if (s->height == 0 || leaf->count >= MEM_MIN)
        return;
    int level = s->height - 1;
    int shrunk = leaf_rebalance(s, leaf, path->node[level], path->index[level]);
    while (shrunk && level > 0) {
        mem_inner *n = path->node[level];
        if (n->count >= MEM_MIN)
            return;
        shrunk = inner_rebalance(s, n, path->node[level - 1], path->index[level - 1]);
        level--;
    }
    mem_inner *root = s->root;
    if (s->height > 0 && root->count == 1) {
        s->root = root->child[0];
        s->height--;
        inner_release(s, root);
    }
}

/* Removes an entry of the tree: from the finger leaf when it holds the entry after its first
 * and stays at least half full without it (no separator or rebalancing is involved), else
 * through a descent. */
static void tree_remove_entry(mem_store *s, mem_entry *e)
{
    uint32_t pos;
    int found;
    mem_leaf *leaf = s->finger;
    if (finger_lower_bound(s, e->key, e->key_len, &pos, &found) &&
        (leaf->count > MEM_MIN || s->height == 0)) {
        EDDY_ASSERT(found && leaf->entry[pos] == e);
        leaf_remove_at(leaf, pos);
        return;
    }
    mem_path path;
    tree_descend(s, e->key, e->key_len, &path);
    EDDY_ASSERT(path.found && path.leaf->entry[path.pos] == e);
    s->finger = path.leaf; /* cleared if the rebalancing frees it */
    tree_remove(s, &path);
}

/* ---- Bringing the tree up to date ------------------------------------------------------- */

static void tree_free(void *node, int height);
static int position_settle_forward(mem_leaf **leaf, uint32_t *pos);

/* Keys are inserted into the hash table at once and into the tree only when a scan needs order:
 * until then their entries wait in the pending list. A workload that never scans (counts,
 * aggregations, latest-value tables) never pays for ordering; one that scans after every insert
 * pays what an eager tree would (one insert per scan); one that scans now and then pays a sort
 * of what was inserted in between plus sorted inserts, or a bottom-up rebuild when that is
 * cheaper, both far cheaper per key than random inserts into a tree larger than the caches. */

/* Nodes holding count items (entries, or children): one when they fit, else as many as hold
 * MEM_BUILD_FILL each (rounded up), which keeps every node within [MEM_MIN, MEM_FANOUT] and
 * leaves room for later inserts. */
#define MEM_BUILD_FILL 48

static size_t nodes_for(size_t count)
{
    return count <= MEM_FANOUT ? 1 : (count + MEM_BUILD_FILL - 1) / MEM_BUILD_FILL;
}

typedef struct sort_item {
    key_summary k;
    mem_entry *entry;
} sort_item;

static int sort_item_compare(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    int c = summary_compare_pair(&x->k, &y->k);
    if (c != MEM_SUMMARY_TIE)
        return c;
    return eddy__kv_compare(x->entry->key, x->entry->key_len, y->entry->key, y->entry->key_len);
}

static eddy_err pending_reserve(mem_store *s)
{
    if (s->pending_count < s->pending_cap)
        return EDDY_OK;
    size_t cap = s->pending_cap ? s->pending_cap * 2 : 64;
    mem_entry **grown = eddy__realloc(s->pending, cap * sizeof(*grown));
    if (!grown)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory for %zu new keys", s->name,
                          cap);
    s->pending = grown;
    s->pending_cap = cap;
    return EDDY_OK;
}

static void pending_remove(mem_store *s, mem_entry *e)
{
    size_t i = e->pending - 1;
    EDDY_ASSERT(i < s->pending_count && s->pending[i] == e);
    mem_entry *last = s->pending[--s->pending_count];
    s->pending[i] = last;
    last->pending = (uint32_t)(i + 1);
    e->pending = 0;
}

/* Inserts a new entry without a descent when that is possible without a split or a change of
 * any separator: inside the finger leaf (after its first entry) when it has room, or after the
 * last entry of the last leaf (keys put in ascending order). Returns whether it did. */
static int tree_insert_near(mem_store *s, mem_entry *e)
{
    uint32_t pos;
    int found;
    if (finger_lower_bound(s, e->key, e->key_len, &pos, &found) && s->finger->count < MEM_FANOUT) {
        EDDY_ASSERT(!found);
        leaf_insert_at(s->finger, pos, e);
        return 1;
    }
    mem_leaf *last = s->last;
    if (last->count == MEM_FANOUT)
        return 0;
    if (last->count > 0) {
        key_summary k = key_summarise(e->key, e->key_len);
        if (key_compare_at(&k, e->key, e->key_len, &last->sum, last->entry, last->count - 1) <= 0)
            return 0;
    }
    leaf_insert_at(last, last->count, e);
    s->finger = last;
    return 1;
}

/* Inserts sorted items one by one (the tree is large next to them). On failure the items not
 * inserted stay pending. */
static eddy_err tree_insert_sorted(mem_store *s, const sort_item *items, size_t count)
{
    eddy_err err = EDDY_OK;
    size_t done = 0;
    for (; done < count; done++) {
        mem_entry *e = items[done].entry;
        if (!tree_insert_near(s, e)) {
            err = spares_reserve(s);
            if (err != EDDY_OK)
                break;
            mem_path path;
            tree_descend(s, e->key, e->key_len, &path);
            EDDY_ASSERT(!path.found);
            s->finger = path.leaf; /* a split keeps it a leaf of the tree */
            tree_insert(s, &path, e);
        }
        e->pending = 0;
    }
    s->pending_count = 0;
    for (size_t i = done; i < count; i++) {
        s->pending[s->pending_count++] = items[i].entry;
        items[i].entry->pending = (uint32_t)s->pending_count;
    }
    return err;
}

/* Fills new leaves with the old tree's entries (along its leaf chain) merged with the sorted
 * items, as evenly as nodes_for() planned, and links them. */
static void rebuild_fill_leaves(mem_store *s, mem_leaf **leaves, size_t leaf_count,
                                const sort_item *items, size_t count)
{
    size_t item = 0;
    mem_leaf *old = s->first;
    uint32_t old_pos = 0;
    for (size_t j = 0; j < leaf_count; j++) {
        mem_leaf *leaf = leaves[j];
        size_t fill = s->count / leaf_count + (j < s->count % leaf_count ? 1 : 0);
        for (uint32_t t = 0; t < fill; t++) {
            position_settle_forward(&old, &old_pos);
            int take_old = old != NULL;
            if (take_old && item < count) {
                const sort_item *it = &items[item];
                take_old = key_compare_at(&it->k, it->entry->key, it->entry->key_len, &old->sum,
                                          old->entry, old_pos) > 0;
            }
            if (take_old) {
                leaf_move(leaf, t, old, old_pos, 1);
                old_pos++;
            } else {
                EDDY_ASSERT(item < count);
                leaf_set(leaf, t, items[item].entry);
                items[item].entry->pending = 0;
                item++;
            }
        }
        leaf->count = (uint32_t)fill;
        leaf->prev = j > 0 ? leaves[j - 1] : NULL;
        leaf->next = j + 1 < leaf_count ? leaves[j + 1] : NULL;
    }
    EDDY_ASSERT(item == count);
}

/* Fills the inner levels: each node takes a consecutive run of the level below, separators
 * their minimums. Returns the root. */
static void *rebuild_link_levels(void **nodes, const size_t *level_size, int levels)
{
    void **below = nodes;
    for (int level = 1; level < levels; level++) {
        void **here = below + level_size[level - 1];
        size_t children = level_size[level - 1], n = level_size[level], next_child = 0;
        for (size_t j = 0; j < n; j++) {
            mem_inner *inner = here[j];
            inner->count = (uint32_t)(children / n + (j < children % n ? 1 : 0));
            for (uint32_t c = 0; c < inner->count; c++) {
                inner->child[c] = below[next_child++];
                if (c > 0)
                    set_sep(inner, c, subtree_min(inner->child[c], level - 1));
            }
        }
        below = here;
    }
    return below[0];
}

/* Builds a new tree bottom-up from the old one's entries merged with sorted items, and frees
 * the old one. Every node is allocated before anything changes. */
static eddy_err tree_rebuild(mem_store *s, const sort_item *items, size_t count)
{
    size_t level_size[MEM_HEIGHT_MAX + 1], total_nodes = 0;
    int levels = 0;
    for (size_t n = nodes_for(s->count);; n = nodes_for(n)) {
        EDDY_ASSERT(levels <= MEM_HEIGHT_MAX);
        level_size[levels++] = n;
        total_nodes += n;
        if (n == 1)
            break;
    }
    void **nodes = eddy__calloc(total_nodes, sizeof(*nodes));
    if (!nodes)
        goto no_memory;
    for (size_t i = 0; i < total_nodes; i++) {
        nodes[i] = eddy__calloc(1, i < level_size[0] ? sizeof(mem_leaf) : sizeof(mem_inner));
        if (!nodes[i]) {
            for (size_t j = 0; j < i; j++)
                eddy__free(nodes[j]);
            eddy__free(nodes);
            goto no_memory;
        }
    }
    mem_leaf **leaves = (mem_leaf **)nodes;
    rebuild_fill_leaves(s, leaves, level_size[0], items, count);
    void *root = rebuild_link_levels(nodes, level_size, levels);
    if (s->root)
        tree_free(s->root, s->height);
    s->root = root;
    s->height = levels - 1;
    s->first = leaves[0];
    s->last = leaves[level_size[0] - 1];
    s->finger = NULL; /* the old leaves are gone */
    s->pending_count = 0;
    eddy__free(nodes);
    return EDDY_OK;
no_memory:
    return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory ordering %zu keys", s->name,
                      s->count);
}

/* Puts the pending keys into the tree (before a scan). On failure (EDDY_ERR_NO_MEMORY) every
 * key is still present and the tree is valid; some keys may still be pending. */
static eddy_err tree_update(mem_store *s)
{
    size_t count = s->pending_count;
    if (count == 0)
        return EDDY_OK;
    sort_item *items = eddy__malloc(count * sizeof(*items));
    if (!items)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory ordering %zu new keys",
                          s->name, count);
    for (size_t i = 0; i < count; i++) {
        mem_entry *e = s->pending[i];
        items[i] = (sort_item){key_summarise(e->key, e->key_len), e};
    }
    qsort(items, count, sizeof(*items), sort_item_compare);
    size_t in_tree = s->count - count;
    eddy_err err =
        count * 4 > in_tree ? tree_rebuild(s, items, count) : tree_insert_sorted(s, items, count);
    eddy__free(items);
    s->version++; /* leaves moved: iterators seek again */
    return err;
}

/* ---- Values ---------------------------------------------------------------------------------- */

/* A buffer for a value that does not fit in its slot: at least len bytes, at least twice the
 * previous capacity, so that a value growing by appends costs amortised O(1) copies. */
static uint8_t *value_buffer_new(const mem_store *s, const mem_entry *e, size_t len,
                                 uint32_t *cap_out)
{
    size_t cap = (size_t)e->value_cap * 2;
    if (cap < len)
        cap = len;
    if (cap > EDDY_KV_VALUE_BYTES_MAX)
        cap = EDDY_KV_VALUE_BYTES_MAX;
    uint8_t *buffer = eddy__malloc(cap);
    if (!buffer) {
        eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory storing a %zu-byte value",
                   s->name, len);
        return NULL;
    }
    *cap_out = (uint32_t)cap;
    return buffer;
}

/* Frees an entry's value buffer (not the bytes allocated with the entry); value becomes NULL. */
static void entry_value_release(mem_entry *e)
{
    if (!e->value_in_block)
        eddy__free(e->value);
    e->value = NULL;
    e->value_in_block = 0;
}

/* Replaces the value of a present key; fails only when a larger value needs a new buffer. The
 * value may point into the slot or the entry's buffer: it is read before either changes. */
static eddy_err slot_set_value(mem_store *s, mem_slot *slot, eddy_slice value)
{
    mem_entry *e = slot->entry;
    size_t key_len = slot->key_len;
    if (fits_inline(key_len, value.len)) {
        if (slot_is_inline(slot)) {
            small_move(slot->bytes + key_len, value.data, value.len);
        } else {
            memcpy(slot->bytes, e->key, key_len);
            if (value.len)
                memcpy(slot->bytes + key_len, value.data, value.len);
            entry_value_release(e);
            e->value_len = e->value_cap = 0;
        }
        slot->value_len = (uint32_t)value.len;
        return EDDY_OK;
    }
    if (!e->value || e->value_cap < value.len) {
        uint32_t cap;
        uint8_t *buffer = value_buffer_new(s, e, value.len, &cap);
        if (!buffer)
            return EDDY_ERR_NO_MEMORY;
        memcpy(buffer, value.data, value.len);
        entry_value_release(e);
        e->value = buffer;
        e->value_cap = cap;
    } else {
        memmove(e->value, value.data, value.len);
    }
    e->value_len = (uint32_t)value.len;
    slot->value_len = SLOT_VALUE_IN_ENTRY;
    return EDDY_OK;
}

static void entry_free(mem_entry *e)
{
    entry_value_release(e);
    eddy__free(e);
}

/* ---- Store operations ---------------------------------------------------------------------- */

static eddy_err mem_get(void *self, eddy_slice key, eddy_slice *value)
{
    mem_store *s = self;
    mem_slot *slot = slot_find(s, key_hash(s->seed, key.data, key.len), key.data, key.len);
    s->last_found = slot;
    s->last_found_version = s->version;
    if (!slot) {
        value->data = NULL;
        value->len = 0;
        return EDDY_ERR_NOT_FOUND;
    }
    *value = slot_value(slot);
    return EDDY_OK;
}

static eddy_err __attribute__((noinline))
mem_insert(mem_store *s, uint64_t hash, eddy_slice key, eddy_slice value)
{
    eddy_err err = pending_reserve(s);
    if (err == EDDY_OK)
        err = slots_reserve(s);
    if (err != EDDY_OK)
        return err;
    /* A value too large for the slot is allocated with the entry, after the key: one allocation
     * per key, and a scan reads key and value together. A later larger value moves to a buffer
     * of its own. */
    int in_slot = fits_inline(key.len, value.len);
    size_t value_bytes = in_slot ? 0 : value.len;
    mem_entry *e = eddy__malloc(sizeof(mem_entry) + key.len + value_bytes);
    if (!e)
        return eddy__fail(EDDY_ERR_NO_MEMORY,
                          "store '%s': out of memory storing a %zu-byte key and %zu-byte value",
                          s->name, key.len, value_bytes);
    memset(e, 0, sizeof(*e));
    e->hash = hash;
    e->key_len = (uint32_t)key.len;
    if (key.len)
        memcpy(e->key, key.data, key.len);
    if (!in_slot) {
        e->value = e->key + key.len;
        e->value_in_block = 1;
        memcpy(e->value, value.data, value.len);
        e->value_len = e->value_cap = (uint32_t)value.len;
    }
    /* Nothing below fails. */
    s->pending[s->pending_count++] = e;
    e->pending = (uint32_t)s->pending_count;
    mem_slot *slot = slot_free_for(s->slots, s->slot_mask, hash);
    slot->hash = hash;
    slot->entry = e;
    slot->key_len = (uint32_t)key.len;
    if (in_slot) {
        slot->value_len = (uint32_t)value.len;
        if (key.len)
            memcpy(slot->bytes, key.data, key.len);
        if (value.len)
            memcpy(slot->bytes + key.len, value.data, value.len);
    } else {
        slot->value_len = SLOT_VALUE_IN_ENTRY;
    }
    s->count++;
    s->version++;
    s->last_found = slot;
    s->last_found_version = s->version;
    return EDDY_OK;
}

/* Copies a slice into copy when it points into the slot table, which an insert may move. Such
 * a slice is at most SLOT_INLINE bytes: the inline key or value of some slot. */
static eddy_slice unalias(const mem_store *s, eddy_slice slice, uint8_t copy[SLOT_INLINE])
{
    uintptr_t p = (uintptr_t)slice.data, begin = (uintptr_t)s->slots,
              end = begin + (s->slot_mask + 1) * sizeof(mem_slot);
    if (p < begin || p >= end || slice.len > SLOT_INLINE)
        return slice; /* (longer: not something a get returned) */
    if (slice.len)
        memcpy(copy, slice.data, slice.len);
    slice.data = copy;
    return slice;
}

/* A put that did not find its key in the last found slot (kept out of line, so that the
 * common case stays a short function). */
static eddy_err __attribute__((noinline))
mem_put_lookup(mem_store *s, eddy_slice key, eddy_slice value)
{
    uint64_t hash = key_hash(s->seed, key.data, key.len);
    mem_slot *slot = slot_find(s, hash, key.data, key.len);
    if (slot) {
        s->last_found = slot;
        s->last_found_version = s->version;
        return slot_set_value(s, slot, value);
    }
    uint8_t key_copy[SLOT_INLINE], value_copy[SLOT_INLINE];
    return mem_insert(s, hash, unalias(s, key, key_copy), unalias(s, value, value_copy));
}

static eddy_err mem_put(void *self, eddy_slice key, eddy_slice value)
{
    mem_store *s = self;
    mem_slot *slot = s->last_found;
    if (slot && s->last_found_version == s->version && slot_key_equals(slot, key.data, key.len)) {
        if (slot_is_inline(slot) && fits_inline(key.len, value.len)) {
            /* The update of every aggregation: a value of the same kind in the same slot. */
            small_move(slot->bytes + key.len, value.data, value.len);
            slot->value_len = (uint32_t)value.len;
            return EDDY_OK;
        }
        return slot_set_value(s, slot, value);
    }
    return mem_put_lookup(s, key, value);
}

/* Removes key, whose hash is given, when present. */
static void mem_remove_hashed(mem_store *s, uint64_t hash, eddy_slice key)
{
    mem_slot *slot = slot_find(s, hash, key.data, key.len);
    if (!slot)
        return;
    mem_entry *e = slot->entry;
    if (e->pending)
        pending_remove(s, e);
    else
        tree_remove_entry(s, e);
    slot_remove(s, slot);
    s->count--;
    s->version++;
    entry_free(e);
}

static eddy_err mem_remove(void *self, eddy_slice key)
{
    mem_store *s = self;
    mem_remove_hashed(s, key_hash(s->seed, key.data, key.len), key);
    return EDDY_OK;
}

/* Starts fetching the entry of the first slot in hash's probe run that carries hash (most
 * likely key's; its slot line was fetched earlier), without comparing keys: the comparison would
 * wait for the very entry being fetched. */
static void entry_prefetch(const mem_store *s, uint64_t hash)
{
    for (size_t i = hash & s->slot_mask;; i = (i + 1) & s->slot_mask) {
        const mem_slot *slot = &s->slots[i];
        if (!slot->entry)
            return;
        if (slot->hash == hash) {
            __builtin_prefetch(slot->entry);
            return;
        }
    }
}

/* Removing a key from a large store waits for two cache misses in series (its slot, then its
 * entry, which the key comparison and the tree need), and one removal after another waits for
 * each. Retention removes keys in batches, so this pipeline overlaps them: key i's slot line
 * (and the next, which the removal's backward shift reads) is fetched when i is hashed, its
 * entry MEM_REMOVE_AHEAD / 2 keys later, and it is removed MEM_REMOVE_AHEAD keys later.
 * Removals move slots but never entries, so a fetched line is at worst useless, never wrong. */
#define MEM_REMOVE_AHEAD 16

static eddy_err mem_remove_many(void *self, const eddy_slice *keys, size_t count)
{
    mem_store *s = self;
    uint64_t hashes[MEM_REMOVE_AHEAD];
    /* Removal first: key i's hash takes the ring place of key i - MEM_REMOVE_AHEAD. */
    for (size_t i = 0; i < count + MEM_REMOVE_AHEAD; i++) {
        size_t due = i - MEM_REMOVE_AHEAD, half = i - MEM_REMOVE_AHEAD / 2;
        if (i >= MEM_REMOVE_AHEAD && due < count)
            mem_remove_hashed(s, hashes[due % MEM_REMOVE_AHEAD], keys[due]);
        if (i >= MEM_REMOVE_AHEAD / 2 && half < count)
            entry_prefetch(s, hashes[half % MEM_REMOVE_AHEAD]);
        if (i < count) {
            uint64_t hash = key_hash(s->seed, keys[i].data, keys[i].len);
            hashes[i % MEM_REMOVE_AHEAD] = hash;
            /* and the next slot: the removal shifts the rest of the probe run back */
            __builtin_prefetch(&s->slots[hash & s->slot_mask]);
            __builtin_prefetch(&s->slots[(hash + 1) & s->slot_mask]);
        }
    }
    return EDDY_OK;
}

static eddy_err mem_approximate_count(void *self, uint64_t *count)
{
    *count = ((mem_store *)self)->count;
    return EDDY_OK;
}

static eddy_err mem_flush(void *self)
{
    (void)self;
    return EDDY_OK;
}

static void tree_free(void *node, int height)
{
    if (height > 0) {
        mem_inner *inner = node;
        for (uint32_t i = 0; i < inner->count; i++)
            tree_free(inner->child[i], height - 1);
    }
    eddy__free(node);
}

static void mem_iter_free(struct mem_iter *it);

static void mem_close(void *self)
{
    mem_store *s = self;
    if (s->slots) {
        for (size_t i = 0; i <= s->slot_mask; i++)
            if (s->slots[i].entry)
                entry_free(s->slots[i].entry);
    }
    eddy__free(s->slots_raw);
    eddy__free(s->pending);
    if (s->spare_iter)
        mem_iter_free(s->spare_iter);
    if (s->root)
        tree_free(s->root, s->height);
    while (s->spare_leaves) {
        mem_leaf *next = s->spare_leaves->next;
        eddy__free(s->spare_leaves);
        s->spare_leaves = next;
    }
    while (s->spare_inners) {
        mem_inner *next = s->spare_inners->next_spare;
        eddy__free(s->spare_inners);
        s->spare_inners = next;
    }
    eddy__free(s);
}

/* ---- Iterators ----------------------------------------------------------------------------- */

typedef struct mem_iter {
    mem_store *store;
    int reverse;
    int has_from;
    int has_to;
    int to_inclusive;
    int keys_only; /* values come back empty (the bounds' hint) */
    int started;
    uint64_t version; /* the store's version when leaf and pos were set */
    mem_leaf *leaf;   /* the last entry returned: leaf->entry[pos] */
    uint32_t pos;
    eddy__buf from; /* the bounds, and their summaries for comparing in the leaves */
    eddy__buf to;
    key_summary from_summary;
    key_summary to_summary;
    eddy__buf key; /* copies of the last entry returned */
    eddy__buf value;
} mem_iter;

/* Moves (leaf, pos) forward to a real entry: past the end of a leaf to the next leaf's first. */
static int position_settle_forward(mem_leaf **leaf, uint32_t *pos)
{
    while (*leaf && *pos >= (*leaf)->count) {
        *leaf = (*leaf)->next;
        *pos = 0;
    }
    return *leaf != NULL;
}

/* Moves (leaf, pos) one entry back; pos == 0 steps to the previous leaf's last. */
static int position_step_back(mem_leaf **leaf, uint32_t *pos)
{
    if (*pos > 0) {
        (*pos)--;
        return 1;
    }
    do {
        *leaf = (*leaf)->prev;
    } while (*leaf && (*leaf)->count == 0);
    if (!*leaf)
        return 0;
    *pos = (*leaf)->count - 1;
    return 1;
}

/* The first entry >= key (or > key when strictly). */
static int seek_forward(mem_store *s, const uint8_t *key, size_t len, int strictly,
                        mem_leaf **leaf, uint32_t *pos)
{
    int found;
    tree_lower_bound(s, key, len, leaf, pos, &found);
    *pos += strictly && found ? 1 : 0;
    return position_settle_forward(leaf, pos);
}

/* The last entry <= key (or < key when strictly). */
static int seek_backward(mem_store *s, const uint8_t *key, size_t len, int strictly,
                         mem_leaf **leaf, uint32_t *pos)
{
    int found;
    tree_lower_bound(s, key, len, leaf, pos, &found);
    if (found && !strictly)
        return 1;
    /* *pos is the first entry > key (or == key when strictly): step before it. */
    return position_step_back(leaf, pos);
}

/* Positions the iterator at the entry its next call should return; 0 when there is none. The
 * tree is up to date (the store's version only changes when keys come or go, and every such
 * change is followed by a seek, which brings the tree up to date first). */
static int iter_position(mem_iter *it, mem_leaf **leaf, uint32_t *pos)
{
    mem_store *s = it->store;
    if (!it->started) {
        if (!it->reverse) {
            if (it->has_from)
                return seek_forward(s, it->from.data, it->from.len, 0, leaf, pos);
            *leaf = s->first;
            *pos = 0;
            return position_settle_forward(leaf, pos);
        }
        if (it->has_to)
            return seek_backward(s, it->to.data, it->to.len, !it->to_inclusive, leaf, pos);
        *leaf = s->last;
        *pos = s->last->count;
        return position_step_back(leaf, pos);
    }
    if (it->version != s->version) {
        if (!it->reverse)
            return seek_forward(s, it->key.data, it->key.len, 1, leaf, pos);
        return seek_backward(s, it->key.data, it->key.len, 1, leaf, pos);
    }
    *leaf = it->leaf;
    *pos = it->pos;
    if (!it->reverse) {
        (*pos)++;
        return position_settle_forward(leaf, pos);
    }
    return position_step_back(leaf, pos);
}

/* Whether the entry at (leaf, pos) is within the far bound, compared through the leaf's
 * summaries (the entry is read only on a tie). */
static int iter_in_bounds(const mem_iter *it, const mem_leaf *leaf, uint32_t pos)
{
    if (!it->reverse) {
        if (!it->has_to)
            return 1;
        int c = key_compare_at(&it->to_summary, it->to.data, it->to.len, &leaf->sum, leaf->entry,
                               pos); /* the bound against the entry */
        return c > 0 || (c == 0 && it->to_inclusive);
    }
    return !it->has_from || key_compare_at(&it->from_summary, it->from.data, it->from.len,
                                           &leaf->sum, leaf->entry, pos) <= 0;
}

static eddy_err buf_set(eddy__buf *buf, const void *data, size_t len)
{
    buf->len = 0;
    /* One byte more, so that an empty key or value still has a non-null pointer. */
    eddy_err err = eddy__buf_reserve(buf, len + 1);
    if (err != EDDY_OK)
        return err;
    if (len)
        memcpy(buf->data, data, len);
    buf->len = len;
    return EDDY_OK;
}

/* The key of the entry at (leaf, pos): from the leaf's summary when it holds the whole key (no
 * read of the entry, a cache miss in a large store), else the entry's. */
static eddy_slice leaf_key(const mem_leaf *leaf, uint32_t pos, uint8_t bytes[MEM_SUMMARY_BYTES])
{
    if (leaf->sum.len[pos] > MEM_SUMMARY_BYTES)
        return (eddy_slice){leaf->entry[pos]->key, leaf->entry[pos]->key_len};
    store_be64(bytes, leaf->sum.w0[pos]);
    store_be64(bytes + 8, leaf->sum.w1[pos]);
    store_be64(bytes + 16, leaf->sum.w2[pos]);
    store_be64(bytes + 24, leaf->sum.w3[pos]);
    return (eddy_slice){bytes, leaf->sum.len[pos]};
}

/* The value of the entry at (leaf, pos): the entry's own when too large for the slot, else the
 * slot's, which the hash kept in the leaf finds; the slot is fetched while the entry is read, so
 * that either way the value costs about one cache miss. */
static eddy_slice leaf_value(const mem_store *s, const mem_leaf *leaf, uint32_t pos)
{
    const mem_entry *e = leaf->entry[pos];
    size_t i = leaf->hash[pos] & s->slot_mask;
    __builtin_prefetch(&s->slots[i]);
    if (e->value)
        return (eddy_slice){e->value, e->value_len};
    while (s->slots[i].entry != e) {
        EDDY_ASSERT(s->slots[i].entry != NULL);
        i = (i + 1) & s->slot_mask;
    }
    return slot_value(&s->slots[i]);
}

static eddy_err mem_iter_next(void *self, eddy_slice *key, eddy_slice *value)
{
    mem_iter *it = self;
    if (!it->started || it->version != it->store->version) {
        eddy_err err = tree_update(it->store);
        if (err != EDDY_OK)
            return err;
    }
    mem_leaf *leaf;
    uint32_t pos;
    if (!iter_position(it, &leaf, &pos))
        return EDDY_ERR_END;
    if (!iter_in_bounds(it, leaf, pos))
        return EDDY_ERR_END;
    /* The caller works on this entry before asking for the next: start fetching that one. */
    uint32_t ahead = it->reverse ? pos - 1 : pos + 1;
    if (!it->keys_only && ahead < leaf->count)
        __builtin_prefetch(leaf->entry[ahead]);
    uint8_t key_bytes[MEM_SUMMARY_BYTES];
    eddy_slice k = leaf_key(leaf, pos, key_bytes);
    eddy_slice v = it->keys_only ? (eddy_slice){NULL, 0} : leaf_value(it->store, leaf, pos);
    /* Copy first, and move only when the copies succeeded: a failed call can be retried. */
    if (buf_set(&it->value, v.data, v.len) != EDDY_OK || buf_set(&it->key, k.data, k.len) != EDDY_OK)
        return eddy__fail(EDDY_ERR_NO_MEMORY,
                          "store '%s': out of memory copying a %zu-byte key and %zu-byte value",
                          it->store->name, k.len, v.len);
    it->started = 1;
    it->leaf = leaf;
    it->pos = pos;
    it->version = it->store->version;
    key->data = it->key.data;
    key->len = it->key.len;
    value->data = it->value.data;
    value->len = it->value.len;
    return EDDY_OK;
}

static void mem_iter_free(mem_iter *it)
{
    eddy__buf_free(&it->from);
    eddy__buf_free(&it->to);
    eddy__buf_free(&it->key);
    eddy__buf_free(&it->value);
    eddy__free(it);
}

/* Keeps the iterator (and its buffers' memory) for the store's next one, when none is kept yet:
 * window, session and join stores open an iterator per record. */
static void mem_iter_destroy(void *self)
{
    mem_iter *it = self;
    mem_store *s = it->store;
    if (s->spare_iter) {
        mem_iter_free(it);
        return;
    }
    s->spare_iter = it;
}

static const eddy__kv_iter_ops mem_iter_ops = {
    .next = mem_iter_next,
    .destroy = mem_iter_destroy,
};

static eddy_err mem_iter_open(void *self, const eddy__kv_bounds *bounds,
                              const eddy__kv_iter_ops **iter_ops, void **iter)
{
    mem_store *s = self;
    mem_iter *it = s->spare_iter;
    if (it) {
        s->spare_iter = NULL;
    } else if (!(it = eddy__calloc(1, sizeof(*it)))) {
        goto no_memory;
    }
    it->store = s;
    it->reverse = bounds->reverse;
    it->to_inclusive = bounds->to_inclusive;
    it->keys_only = bounds->keys_only;
    it->started = 0;
    it->has_from = bounds->from.data != NULL;
    it->has_to = bounds->to.data != NULL;
    if ((it->has_from && buf_set(&it->from, bounds->from.data, bounds->from.len) != EDDY_OK) ||
        (it->has_to && buf_set(&it->to, bounds->to.data, bounds->to.len) != EDDY_OK)) {
        mem_iter_free(it);
        goto no_memory;
    }
    if (it->has_from)
        it->from_summary = key_summarise(it->from.data, it->from.len);
    if (it->has_to)
        it->to_summary = key_summarise(it->to.data, it->to.len);
    *iter_ops = &mem_iter_ops;
    *iter = it;
    return EDDY_OK;
no_memory:
    return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory opening an iterator", s->name);
}

static const eddy__kv_store_ops mem_ops = {
    .get = mem_get,
    .put = mem_put,
    .remove = mem_remove,
    .iter_open = mem_iter_open,
    .approximate_count = mem_approximate_count,
    .flush = mem_flush,
    .close = mem_close,
    .remove_many = mem_remove_many,
};

eddy_err eddy_kv_store_open_memory(const char *name, eddy_kv_store **out)
{
    if (!out)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "open_memory: out is NULL");
    *out = NULL;
    eddy_err err = eddy__kv_store_name_check(name);
    if (err != EDDY_OK)
        return err;
    mem_store *s = eddy__calloc(1, sizeof(*s));
    if (!s)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory opening", name);
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->seed = (uint64_t)eddy__monotonic_ns() ^ (uint64_t)(uintptr_t)s;
    s->slots_raw = eddy__calloc(1, MEM_SLOTS_MIN * sizeof(mem_slot) + MEM_SLOT_BYTES - 1);
    s->slots = (mem_slot *)(((uintptr_t)s->slots_raw + MEM_SLOT_BYTES - 1) &
                            ~(uintptr_t)(MEM_SLOT_BYTES - 1));
    s->slot_mask = MEM_SLOTS_MIN - 1;
    mem_leaf *root = eddy__calloc(1, sizeof(*root));
    s->root = s->first = s->last = root;
    if (!s->slots_raw || !root) {
        s->slots = NULL;
        mem_close(s);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory opening", name);
    }
    err = eddy__kv_store_wrap(name, &mem_ops, s, out);
    if (err != EDDY_OK)
        mem_close(s);
    return err;
}

/* ---- Invariant check (tests) --------------------------------------------------------------- */

typedef struct mem_check {
    const mem_store *s;
    mem_leaf *next_leaf; /* the leaf the in-order walk expects next */
    const mem_entry *previous;
    size_t entries;
    int finger_seen; /* the finger is one of the tree's leaves */
} mem_check;

static int summary_matches(const mem_summaries *sum, uint32_t i, const mem_entry *e)
{
    key_summary k = key_summarise(e->key, e->key_len);
    return summary_compare(&k, sum, i) == (k.len > MEM_SUMMARY_BYTES ? MEM_SUMMARY_TIE : 0);
}

static eddy_err check_leaf(mem_check *c, const mem_leaf *leaf, int is_root)
{
    const mem_store *s = c->s;
    if (leaf != c->next_leaf)
        return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': leaf chain out of order", s->name);
    if (leaf->count > MEM_FANOUT || (!is_root && leaf->count < MEM_MIN))
        return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': leaf holds %u entries", s->name,
                          leaf->count);
    for (uint32_t i = 0; i < leaf->count; i++) {
        const mem_entry *e = leaf->entry[i];
        if (!summary_matches(&leaf->sum, i, e) || leaf->hash[i] != e->hash)
            return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': stale summary", s->name);
        if (c->previous &&
            eddy__kv_compare(c->previous->key, c->previous->key_len, e->key, e->key_len) >= 0)
            return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': keys out of order", s->name);
        c->previous = e;
        c->entries++;
    }
    if (leaf == s->finger)
        c->finger_seen = 1;
    c->next_leaf = leaf->next;
    return EDDY_OK;
}

static eddy_err check_node(mem_check *c, const void *node, int height, int is_root)
{
    const mem_store *s = c->s;
    if (height == 0)
        return check_leaf(c, node, is_root);
    const mem_inner *n = node;
    if (n->count > MEM_FANOUT || n->count < (is_root ? 2u : (uint32_t)MEM_MIN))
        return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': inner node has %u children", s->name,
                          n->count);
    for (uint32_t i = 0; i < n->count; i++) {
        if (i > 0) {
            if (n->sep[i] != subtree_min(n->child[i], height - 1))
                return eddy__fail(EDDY_ERR_CORRUPT,
                                  "store '%s': separator %u is not its subtree's minimum", s->name,
                                  i);
            if (!summary_matches(&n->sum, i, n->sep[i]))
                return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': stale separator summary", s->name);
        }
        eddy_err err = check_node(c, n->child[i], height - 1, 0);
        if (err != EDDY_OK)
            return err;
    }
    return EDDY_OK;
}

static eddy_err check_slot(const mem_store *s, size_t i)
{
    const mem_slot *slot = &s->slots[i];
    const mem_entry *e = slot->entry;
    if (slot->hash != e->hash || e->hash != key_hash(s->seed, e->key, e->key_len) ||
        slot_find(s, slot->hash, e->key, e->key_len) != slot || slot->key_len != e->key_len)
        return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': hash slot %zu unreachable", s->name, i);
    if (slot_is_inline(slot) != (e->value == NULL) ||
        (e->value_in_block && e->value != e->key + e->key_len) ||
        slot_is_inline(slot) != fits_inline(e->key_len, slot_value(slot).len) ||
        (slot_is_inline(slot) && !bytes_equal(slot->bytes, e->key, e->key_len)))
        return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': slot %zu holds its value wrongly", s->name,
                          i);
    if (e->pending) {
        if (e->pending > s->pending_count || s->pending[e->pending - 1] != e)
            return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': pending entry not in its place",
                              s->name);
        return EDDY_OK;
    }
    mem_path path;
    tree_descend(s, e->key, e->key_len, &path);
    if (!path.found || path.leaf->entry[path.pos] != e)
        return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': hashed entry not in the tree", s->name);
    return EDDY_OK;
}

eddy_err eddy__kv_memory_check(eddy_kv_store *store)
{
    const mem_store *s = eddy__kv_store_self(store);
    mem_check c = {.s = s, .next_leaf = s->first};
    eddy_err err = check_node(&c, s->root, s->height, 1);
    if (err != EDDY_OK)
        return err;
    if (c.next_leaf != NULL)
        return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': leaf chain longer than the tree", s->name);
    if (s->finger && !c.finger_seen)
        return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': the finger is not a leaf of the tree",
                          s->name);
    if (c.entries + s->pending_count != s->count)
        return eddy__fail(EDDY_ERR_CORRUPT,
                          "store '%s': tree holds %zu entries and %zu are pending, count is %zu",
                          s->name, c.entries, s->pending_count, s->count);
    for (size_t i = 0; i < s->pending_count; i++)
        if (s->pending[i]->pending != i + 1)
            return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': pending entry %zu misplaced", s->name,
                              i);
    if (((uintptr_t)s->slots & (MEM_SLOT_BYTES - 1)) != 0)
        return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': slots not aligned", s->name);
    size_t in_table = 0;
    for (size_t i = 0; i <= s->slot_mask; i++) {
        if (!s->slots[i].entry)
            continue;
        in_table++;
        err = check_slot(s, i);
        if (err != EDDY_OK)
            return err;
    }
    if (in_table != s->count)
        return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': hash holds %zu entries, count is %zu",
                          s->name, in_table, s->count);
    if (s->count * 4 > (s->slot_mask + 1) * 3)
        return eddy__fail(EDDY_ERR_CORRUPT, "store '%s': hash table over 3/4 full", s->name);
    return EDDY_OK;
}
