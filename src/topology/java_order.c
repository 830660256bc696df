/* The orders of two Java collections, reproduced in C, because Kafka Streams' topology
 * description inherits them and eddy prints the same text:
 *
 * - java.util.HashMap / HashSet iteration: by bucket (the key's String.hashCode, spread as
 *   h ^ (h >>> 16), masked by the table size), and within a bucket by insertion. The table
 *   starts at 16 buckets (or the copy constructor's size), doubles when the entry count passes
 *   3/4 of it, and also doubles (below 64 buckets) when one bucket would exceed 8 entries.
 *   Beyond 64 buckets such a bucket becomes a tree, whose order this file does not reproduce:
 *   that takes nine processor names of one sub-topology colliding in six hash bits.
 *
 * - java.util.TreeSet insertion: a red-black tree (CLR's algorithm, as TreeMap implements it).
 *   Kafka sorts each node's predecessors and successors by a comparator that reads sub-tree
 *   sizes which keep growing while the sets are filled, so the printed order depends on the
 *   tree's shape at each insertion; only the same tree reproduces it. */
#include "topology/topology.h"

#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

/* java.util.HashMap's constants. */
#define JAVA_DEFAULT_CAPACITY 16u
#define JAVA_TREEIFY_THRESHOLD 8u
#define JAVA_MIN_TREEIFY_CAPACITY 64u
#define JAVA_MAXIMUM_CAPACITY (1u << 30)

int32_t eddy__java_string_hash(const char *s)
{
    /* Names are ASCII ([a-zA-Z0-9._-]), so UTF-16 code units are the bytes. Unsigned
     * arithmetic wraps exactly as Java's int does. */
    uint32_t h = 0;
    for (; *s; s++)
        h = 31u * h + (uint8_t)*s;
    return (int32_t)h;
}

static uint32_t java_spread(int32_t hash)
{
    uint32_t h = (uint32_t)hash;
    return h ^ (h >> 16);
}

static uint32_t java_table_size_for(uint32_t capacity)
{
    uint32_t size = 1;
    while (size < capacity && size < JAVA_MAXIMUM_CAPACITY)
        size <<= 1;
    return size;
}

uint32_t eddy__java_copy_capacity(uint32_t count)
{
    /* new HashSet<>(c): new HashMap<>(Math.max((int) (c.size() / .75f) + 1, 16)), computed in
     * float as Java does. */
    float scaled = (float)count / .75f;
    uint32_t initial = (uint32_t)scaled + 1;
    if (initial < JAVA_DEFAULT_CAPACITY)
        initial = JAVA_DEFAULT_CAPACITY;
    return java_table_size_for(initial);
}

/* Bucket sizes of the first `inserted` keys in a table of `capacity` buckets, in a fresh
 * array that replaces *bucket_sizes. */
static eddy_err java_count_buckets(const uint32_t *spread, uint32_t inserted, uint32_t capacity,
                                   uint32_t **bucket_sizes)
{
    uint32_t *sizes = eddy__calloc(capacity, sizeof *sizes);
    if (!sizes)
        return EDDY_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < inserted; i++)
        sizes[spread[i] & (capacity - 1)]++;
    eddy__free(*bucket_sizes);
    *bucket_sizes = sizes;
    return EDDY_OK;
}

/* The final table capacity after inserting every key, following HashMap.putVal's resizes. */
static eddy_err java_final_capacity(const uint32_t *spread, uint32_t count, uint32_t capacity,
                                    uint32_t *out)
{
    uint32_t *bucket_sizes = NULL;
    eddy_err err = java_count_buckets(spread, 0, capacity, &bucket_sizes);
    uint32_t size = 0;
    for (uint32_t i = 0; i < count && err == EDDY_OK; i++) {
        uint32_t bucket = spread[i] & (capacity - 1);
        uint32_t existing = bucket_sizes[bucket]++;
        if (existing >= JAVA_TREEIFY_THRESHOLD && capacity < JAVA_MIN_TREEIFY_CAPACITY) {
            capacity *= 2; /* treeifyBin() resizes small tables instead of making a tree */
            err = java_count_buckets(spread, i + 1, capacity, &bucket_sizes);
        }
        size++;
        if (err == EDDY_OK && size > capacity / 4 * 3 && capacity < JAVA_MAXIMUM_CAPACITY) {
            capacity *= 2;
            err = java_count_buckets(spread, i + 1, capacity, &bucket_sizes);
        }
    }
    eddy__free(bucket_sizes);
    *out = capacity;
    return err;
}

eddy_err eddy__java_hash_order(const char *const *names, uint32_t count, uint32_t initial_capacity,
                               uint32_t *order)
{
    if (count == 0)
        return EDDY_OK;
    uint32_t *spread = eddy__malloc(count * sizeof *spread);
    if (!spread)
        return EDDY_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < count; i++)
        spread[i] = java_spread(eddy__java_string_hash(names[i]));
    uint32_t capacity = 0;
    eddy_err err = java_final_capacity(spread, count, initial_capacity, &capacity);
    if (err == EDDY_OK) {
        /* A stable counting sort by bucket: within a bucket, insertion order. */
        uint32_t *starts = eddy__calloc((size_t)capacity + 1, sizeof *starts);
        if (!starts) {
            err = EDDY_ERR_NO_MEMORY;
        } else {
            for (uint32_t i = 0; i < count; i++)
                starts[(spread[i] & (capacity - 1)) + 1]++;
            for (uint32_t b = 0; b < capacity; b++)
                starts[b + 1] += starts[b];
            for (uint32_t i = 0; i < count; i++)
                order[starts[spread[i] & (capacity - 1)]++] = i;
            eddy__free(starts);
        }
    }
    eddy__free(spread);
    return err;
}

/* ---- TreeSet ---- */

#define E(tree, index) ((tree)->entries[index])

static uint32_t tree_parent(const eddy__java_tree *tree, uint32_t x)
{
    return x == EDDY__NONE ? EDDY__NONE : E(tree, x).parent;
}

static uint32_t tree_left(const eddy__java_tree *tree, uint32_t x)
{
    return x == EDDY__NONE ? EDDY__NONE : E(tree, x).left;
}

static uint32_t tree_right(const eddy__java_tree *tree, uint32_t x)
{
    return x == EDDY__NONE ? EDDY__NONE : E(tree, x).right;
}

/* Java's colorOf(null) is BLACK. */
static bool tree_is_red(const eddy__java_tree *tree, uint32_t x)
{
    return x != EDDY__NONE && E(tree, x).red;
}

static void tree_set_red(eddy__java_tree *tree, uint32_t x, bool red)
{
    if (x != EDDY__NONE)
        E(tree, x).red = red;
}

static void tree_rotate_left(eddy__java_tree *tree, uint32_t p)
{
    if (p == EDDY__NONE)
        return;
    uint32_t r = E(tree, p).right;
    E(tree, p).right = E(tree, r).left;
    if (E(tree, r).left != EDDY__NONE)
        E(tree, E(tree, r).left).parent = p;
    E(tree, r).parent = E(tree, p).parent;
    if (E(tree, p).parent == EDDY__NONE)
        tree->root = r;
    else if (E(tree, E(tree, p).parent).left == p)
        E(tree, E(tree, p).parent).left = r;
    else
        E(tree, E(tree, p).parent).right = r;
    E(tree, r).left = p;
    E(tree, p).parent = r;
}

static void tree_rotate_right(eddy__java_tree *tree, uint32_t p)
{
    if (p == EDDY__NONE)
        return;
    uint32_t l = E(tree, p).left;
    E(tree, p).left = E(tree, l).right;
    if (E(tree, l).right != EDDY__NONE)
        E(tree, E(tree, l).right).parent = p;
    E(tree, l).parent = E(tree, p).parent;
    if (E(tree, p).parent == EDDY__NONE)
        tree->root = l;
    else if (E(tree, E(tree, p).parent).right == p)
        E(tree, E(tree, p).parent).right = l;
    else
        E(tree, E(tree, p).parent).left = l;
    E(tree, l).right = p;
    E(tree, p).parent = l;
}

/* CLR's insertion fix-up: restores the red-black properties after inserting x. */
static void tree_fix_after_insertion(eddy__java_tree *tree, uint32_t x)
{
    E(tree, x).red = true;
    while (x != EDDY__NONE && x != tree->root && E(tree, E(tree, x).parent).red) {
        uint32_t parent = tree_parent(tree, x);
        uint32_t grandparent = tree_parent(tree, parent);
        if (parent == tree_left(tree, grandparent)) {
            uint32_t uncle = tree_right(tree, grandparent);
            if (tree_is_red(tree, uncle)) {
                tree_set_red(tree, parent, false);
                tree_set_red(tree, uncle, false);
                tree_set_red(tree, grandparent, true);
                x = grandparent;
            } else {
                if (x == tree_right(tree, parent)) {
                    x = parent;
                    tree_rotate_left(tree, x);
                }
                tree_set_red(tree, tree_parent(tree, x), false);
                tree_set_red(tree, tree_parent(tree, tree_parent(tree, x)), true);
                tree_rotate_right(tree, tree_parent(tree, tree_parent(tree, x)));
            }
        } else {
            uint32_t uncle = tree_left(tree, grandparent);
            if (tree_is_red(tree, uncle)) {
                tree_set_red(tree, parent, false);
                tree_set_red(tree, uncle, false);
                tree_set_red(tree, grandparent, true);
                x = grandparent;
            } else {
                if (x == tree_left(tree, parent)) {
                    x = parent;
                    tree_rotate_right(tree, x);
                }
                tree_set_red(tree, tree_parent(tree, x), false);
                tree_set_red(tree, tree_parent(tree, tree_parent(tree, x)), true);
                tree_rotate_left(tree, tree_parent(tree, tree_parent(tree, x)));
            }
        }
    }
    E(tree, tree->root).red = false;
}

eddy_err eddy__java_tree_add(eddy__java_tree *tree, uint32_t key, eddy__java_compare_fn compare,
                             void *opaque)
{
    if (tree->count == 0)
        tree->root = EDDY__NONE;
    uint32_t parent = EDDY__NONE;
    int cmp = 0;
    for (uint32_t t = tree->root; t != EDDY__NONE;) {
        parent = t;
        cmp = compare(key, E(tree, t).key, opaque);
        if (cmp < 0)
            t = E(tree, t).left;
        else if (cmp > 0)
            t = E(tree, t).right;
        else
            return EDDY_OK; /* already present */
    }
    if (tree->count == tree->capacity) {
        uint32_t capacity = tree->capacity ? tree->capacity * 2 : 4;
        void *grown = eddy__realloc(tree->entries, capacity * sizeof *tree->entries);
        if (!grown)
            return EDDY_ERR_NO_MEMORY;
        tree->entries = grown;
        tree->capacity = capacity;
    }
    uint32_t e = tree->count++;
    E(tree, e) = (struct eddy__java_tree_entry){
        .key = key, .left = EDDY__NONE, .right = EDDY__NONE, .parent = parent, .red = false};
    if (parent == EDDY__NONE) {
        tree->root = e;
        return EDDY_OK;
    }
    if (cmp < 0)
        E(tree, parent).left = e;
    else
        E(tree, parent).right = e;
    tree_fix_after_insertion(tree, e);
    return EDDY_OK;
}

eddy_err eddy__java_tree_keys(const eddy__java_tree *tree, eddy__ids *out)
{
    if (tree->count == 0)
        return EDDY_OK;
    /* In-order walk through parent links: leftmost, then successors. */
    uint32_t x = tree->root;
    while (E(tree, x).left != EDDY__NONE)
        x = E(tree, x).left;
    while (x != EDDY__NONE) {
        eddy_err err = eddy__ids_push(out, E(tree, x).key);
        if (err != EDDY_OK)
            return err;
        if (E(tree, x).right != EDDY__NONE) {
            x = E(tree, x).right;
            while (E(tree, x).left != EDDY__NONE)
                x = E(tree, x).left;
        } else {
            uint32_t child = x;
            x = E(tree, x).parent;
            while (x != EDDY__NONE && child == E(tree, x).right) {
                child = x;
                x = E(tree, x).parent;
            }
        }
    }
    return EDDY_OK;
}

void eddy__java_tree_free(eddy__java_tree *tree)
{
    eddy__free(tree->entries);
    memset(tree, 0, sizeof *tree);
}
