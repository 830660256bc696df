/* The public key-value store functions: argument checks, the translation of prefix scans and
 * unbounded ranges into eddy__kv_bounds, the list of open iterators, and dispatch through each
 * store's operations table (src/store/store.h).
 *
 * Every store keeps its open iterators in a doubly linked list. Closing the store destroys each
 * iterator's implementation half first (a RocksDB iterator must go before its database) and
 * leaves the public half as an ended shell, which eddy_kv_iter_next() reports as EDDY_ERR_STATE
 * and eddy_kv_iter_destroy() frees. This is Kafka Streams' "close open iterators on close".
 *
 * Pass-through layers. A decorator whose iterator would only hand out an inner store's (the
 * changelog, an empty cache) says so through its iter_inner operation, and the iterator is then
 * opened on the innermost such store and listed there: a scan of the runtime's stack (cache,
 * changelog, memory) costs one iterator, not three, each with its allocation, its lock and an
 * indirect call per step. Closing the outer store still ends it: a decorator that passes its
 * iterators through owns the inner store and closes it. A store also keeps the public half of
 * its last destroyed iterator for the next one (window, session and join lookups open one per
 * record). */
#include "store/store.h"

#include <pthread.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/logging.h"

struct eddy_kv_store {
    const eddy__kv_store_ops *ops;
    void *self;
    eddy_kv_iter *iterators; /* open iterators, most recent first */
    /* Guards the list when `concurrent`: a store that is safe for several threads (the locked
     * decorator of a global store) has iterators opened and destroyed on several threads at
     * once. Any other store is used by one thread at a time (include/eddy/store.h), and its
     * scans, one per record in window, session and join lookups, skip the lock. */
    pthread_mutex_t iterators_lock;
    bool concurrent;
    eddy_kv_iter *spare; /* a destroyed iterator's public half, for the next (under the lock) */
    char *name;
    bool kept; /* eddy__kv_store_keep_open: close ends the iterators only */
};

struct eddy_kv_iter {
    const eddy__kv_iter_ops *ops; /* NULL: an empty iterator, or ended by the store's close */
    void *self;
    eddy_kv_store *store; /* NULL once the store has been closed */
    eddy_kv_iter *prev;
    eddy_kv_iter *next;
    int exhausted; /* next returned EDDY_ERR_END: keep returning it without asking again */
};

eddy_err eddy__kv_store_name_check(const char *name)
{
    if (!name)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "store name is NULL");
    size_t len = strlen(name);
    if (len == 0 || len > EDDY_STORE_NAME_MAX)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                          "store name '%.64s': length %zu is not within 1..%d", name, len,
                          EDDY_STORE_NAME_MAX);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "store name '%s' is not allowed", name);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok)
            return eddy__fail(EDDY_ERR_INVALID_ARGUMENT,
                              "store name '%.64s': character %zu is not one of [a-zA-Z0-9._-]",
                              name, i);
    }
    return EDDY_OK;
}

eddy_err eddy__kv_store_wrap(const char *name, const eddy__kv_store_ops *ops, void *self,
                             eddy_kv_store **out)
{
    EDDY_ASSERT(name && ops && out);
    eddy_kv_store *store = eddy__calloc(1, sizeof(*store));
    char *copy = eddy__strdup(name);
    if (!store || !copy) {
        eddy__free(store);
        eddy__free(copy);
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory opening", name);
    }
    store->ops = ops;
    store->self = self;
    store->name = copy;
    pthread_mutex_init(&store->iterators_lock, NULL);
    *out = store;
    return EDDY_OK;
}

void eddy__kv_store_concurrent(eddy_kv_store *store)
{
    store->concurrent = true;
}

static void iterators_lock(eddy_kv_store *store)
{
    if (store->concurrent)
        pthread_mutex_lock(&store->iterators_lock);
}

static void iterators_unlock(eddy_kv_store *store)
{
    if (store->concurrent)
        pthread_mutex_unlock(&store->iterators_lock);
}

void *eddy__kv_store_self(const eddy_kv_store *store)
{
    return store ? store->self : NULL;
}

const char *eddy_kv_store_name(const eddy_kv_store *store)
{
    return store ? store->name : "";
}

void eddy_kv_store_close(eddy_kv_store *store)
{
    if (!store)
        return;
    for (eddy_kv_iter *it = store->iterators; it; it = it->next) {
        if (it->ops)
            it->ops->destroy(it->self);
        it->ops = NULL;
        it->self = NULL;
        it->store = NULL;
    }
    /* The shells stay with their owners, unlinked: each is freed by eddy_kv_iter_destroy. */
    for (eddy_kv_iter *it = store->iterators, *next; it; it = next) {
        next = it->next;
        it->prev = it->next = NULL;
    }
    store->iterators = NULL;
    if (store->kept)
        return;
    store->ops->close(store->self);
    eddy__free(store->spare);
    pthread_mutex_destroy(&store->iterators_lock);
    eddy__free(store->name);
    eddy__free(store);
}

void eddy__kv_store_keep_open(eddy_kv_store *store, bool keep)
{
    store->kept = keep;
}

/* ---- Point operations -------------------------------------------------------------------- */

/* The failure of a NULL store or a null key (kept out of line: the checks are on every call). */
static eddy_err __attribute__((noinline, cold))
store_check_failed(const eddy_kv_store *store, const char *what, eddy_slice key)
{
    if (!store)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "%s: store is NULL", what);
    EDDY_ASSERT(!key.data);
    return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "store '%s': %s: the key is null", store->name,
                      what);
}

static inline eddy_err store_check(const eddy_kv_store *store, const char *what, eddy_slice key)
{
    if (__builtin_expect(!store || !key.data, 0))
        return store_check_failed(store, what, key);
    return EDDY_OK;
}

eddy_err eddy_kv_get(eddy_kv_store *store, eddy_slice key, eddy_slice *value)
{
    eddy_err err = store_check(store, "get", key);
    if (err != EDDY_OK)
        return err;
    if (!value)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "store '%s': get: value is NULL", store->name);
    if (__builtin_expect(key.len > EDDY_KV_KEY_BYTES_MAX, 0)) {
        value->data = NULL;
        value->len = 0;
        return EDDY_ERR_NOT_FOUND; /* no such key can have been put */
    }
    return store->ops->get(store->self, key, value);
}

eddy_err eddy_kv_put(eddy_kv_store *store, eddy_slice key, eddy_slice value)
{
    eddy_err err = store_check(store, "put", key);
    if (err != EDDY_OK)
        return err;
    if (__builtin_expect(key.len > EDDY_KV_KEY_BYTES_MAX, 0))
        return eddy__fail(EDDY_ERR_TOO_LARGE, "store '%s': put: a %zu-byte key is over %u bytes",
                          store->name, key.len, EDDY_KV_KEY_BYTES_MAX);
    if (!value.data)
        return store->ops->remove(store->self, key);
    if (value.len > EDDY_KV_VALUE_BYTES_MAX)
        return eddy__fail(EDDY_ERR_TOO_LARGE, "store '%s': put: a %zu-byte value is over %u bytes",
                          store->name, value.len, EDDY_KV_VALUE_BYTES_MAX);
    return store->ops->put(store->self, key, value);
}

eddy_err eddy_kv_delete(eddy_kv_store *store, eddy_slice key)
{
    eddy_err err = store_check(store, "delete", key);
    if (err != EDDY_OK)
        return err;
    if (key.len > EDDY_KV_KEY_BYTES_MAX)
        return EDDY_OK; /* absent by construction */
    return store->ops->remove(store->self, key);
}

eddy_err eddy_kv_approximate_count(eddy_kv_store *store, uint64_t *count)
{
    if (!store || !count)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "approximate_count: NULL argument");
    *count = 0;
    return store->ops->approximate_count(store->self, count);
}

eddy_err eddy_kv_flush(eddy_kv_store *store)
{
    if (!store)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "flush: store is NULL");
    return store->ops->flush(store->self);
}

/* ---- Iteration --------------------------------------------------------------------------- */

/* The store an iterator of `store` is opened on: the innermost of the pass-through layers (see
 * the file comment). The chain ends: each layer's inner store is a different, owned store. */
static eddy_kv_store *iter_home(eddy_kv_store *store)
{
    for (;;) {
        eddy_kv_store *inner = store->ops->iter_inner ? store->ops->iter_inner(store->self) : NULL;
        if (!inner)
            return store;
        EDDY_ASSERT(inner != store);
        store = inner;
    }
}

/* Links `it` (ops and self set) into home's list, taking home's spare public half when `it` is
 * NULL; returns the linked iterator, or NULL when there was no spare. */
static eddy_kv_iter *iter_link(eddy_kv_store *home, eddy_kv_iter *it,
                               const eddy__kv_iter_ops *ops, void *self)
{
    iterators_lock(home);
    if (!it) {
        it = home->spare;
        home->spare = NULL;
    }
    if (it) {
        *it = (eddy_kv_iter){.ops = ops, .self = self, .store = home, .next = home->iterators};
        if (home->iterators)
            home->iterators->prev = it;
        home->iterators = it;
    }
    iterators_unlock(home);
    return it;
}

/* Opens an iterator over bounds; empty says the range holds no key whatever the store holds, so
 * no implementation iterator is made. */
static eddy_err iter_open(eddy_kv_store *store, const eddy__kv_bounds *bounds, int empty,
                          eddy_kv_iter **out)
{
    eddy_kv_store *home = iter_home(store);
    const eddy__kv_iter_ops *ops = NULL;
    void *self = NULL;
    if (!empty) {
        eddy_err err = home->ops->iter_open(home->self, bounds, &ops, &self);
        if (err != EDDY_OK)
            return err;
    }
    eddy_kv_iter *it = iter_link(home, NULL, ops, self);
    if (!it) {
        eddy_kv_iter *fresh = eddy__calloc(1, sizeof(*fresh));
        if (!fresh) {
            if (ops)
                ops->destroy(self);
            return eddy__fail(EDDY_ERR_NO_MEMORY,
                              "store '%s': out of memory opening an iterator", store->name);
        }
        it = iter_link(home, fresh, ops, self);
    }
    *out = it;
    return EDDY_OK;
}

static eddy_err iter_args(const eddy_kv_store *store, const char *what, eddy_kv_iter **out)
{
    if (!store || !out)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "%s: NULL argument", what);
    *out = NULL;
    return EDDY_OK;
}

static eddy_err range_open(eddy_kv_store *store, eddy_slice from, eddy_slice to, int reverse,
                           eddy_kv_iter **out)
{
    eddy__kv_bounds bounds = {.from = from, .to = to, .to_inclusive = 1, .reverse = reverse};
    int empty = from.data && to.data && eddy__kv_compare(from.data, from.len, to.data, to.len) > 0;
    return iter_open(store, &bounds, empty, out);
}

eddy_err eddy_kv_range(eddy_kv_store *store, eddy_slice from, eddy_slice to, eddy_kv_iter **out)
{
    eddy_err err = iter_args(store, "range", out);
    return err != EDDY_OK ? err : range_open(store, from, to, 0, out);
}

eddy_err eddy_kv_reverse_range(eddy_kv_store *store, eddy_slice from, eddy_slice to,
                               eddy_kv_iter **out)
{
    eddy_err err = iter_args(store, "reverse_range", out);
    return err != EDDY_OK ? err : range_open(store, from, to, 1, out);
}

eddy_err eddy_kv_all(eddy_kv_store *store, eddy_kv_iter **out)
{
    eddy_slice none = {NULL, 0};
    eddy_err err = iter_args(store, "all", out);
    return err != EDDY_OK ? err : range_open(store, none, none, 0, out);
}

eddy_err eddy_kv_reverse_all(eddy_kv_store *store, eddy_kv_iter **out)
{
    eddy_slice none = {NULL, 0};
    eddy_err err = iter_args(store, "reverse_all", out);
    return err != EDDY_OK ? err : range_open(store, none, none, 1, out);
}

/* The keys starting with prefix are those in [prefix, successor), where the successor is the
 * prefix without its trailing 0xff bytes and with its last byte incremented ("ab\xff" -> "ac");
 * a prefix of 0xff bytes only (or the empty prefix) has no successor: the range is unbounded
 * above. */
eddy_err eddy_kv_prefix_scan(eddy_kv_store *store, eddy_slice prefix, eddy_kv_iter **out)
{
    eddy_err err = iter_args(store, "prefix_scan", out);
    if (err != EDDY_OK)
        return err;
    if (!prefix.data)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "store '%s': prefix_scan: null prefix",
                          store->name);
    const uint8_t *p = prefix.data;
    size_t successor_len = prefix.len;
    while (successor_len > 0 && p[successor_len - 1] == 0xff)
        successor_len--;
    eddy__kv_bounds bounds = {.from = prefix, .to = {NULL, 0}, .to_inclusive = 0, .reverse = 0};
    if (successor_len == 0)
        return iter_open(store, &bounds, 0, out);

    uint8_t small[256];
    uint8_t *successor = successor_len <= sizeof(small) ? small : eddy__malloc(successor_len);
    if (!successor)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory opening a prefix scan",
                          store->name);
    memcpy(successor, p, successor_len);
    successor[successor_len - 1]++;
    bounds.to.data = successor;
    bounds.to.len = successor_len;
    err = iter_open(store, &bounds, 0, out);
    if (successor != small)
        eddy__free(successor);
    return err;
}

eddy_err eddy_kv_iter_next(eddy_kv_iter *iter, eddy_slice *key, eddy_slice *value)
{
    if (!iter || !key || !value)
        return eddy__fail(EDDY_ERR_INVALID_ARGUMENT, "iter_next: NULL argument");
    key->data = value->data = NULL;
    key->len = value->len = 0;
    if (!iter->store)
        return eddy__fail(EDDY_ERR_STATE, "iterator: its store has been closed");
    if (!iter->ops || iter->exhausted)
        return EDDY_ERR_END;
    eddy_err err = iter->ops->next(iter->self, key, value);
    if (err == EDDY_ERR_END)
        iter->exhausted = 1;
    return err;
}

void eddy_kv_iter_destroy(eddy_kv_iter *iter)
{
    if (!iter)
        return;
    eddy_kv_store *store = iter->store;
    if (!store) { /* ended by the store's close: the shell alone is left */
        eddy__free(iter);
        return;
    }
    if (iter->ops)
        iter->ops->destroy(iter->self);
    iterators_lock(store);
    if (iter->prev)
        iter->prev->next = iter->next;
    else
        store->iterators = iter->next;
    if (iter->next)
        iter->next->prev = iter->prev;
    eddy_kv_iter *unkept = store->spare ? iter : NULL;
    if (!unkept)
        store->spare = iter;
    iterators_unlock(store);
    eddy__free(unkept);
}

eddy_err eddy__kv_delete_many(eddy_kv_store *store, const eddy_slice *keys, size_t count)
{
    EDDY_ASSERT(store && (keys || count == 0));
    /* The implementation gets checked keys only; any other goes the one-by-one way, which
     * reports a null key and ignores one too long to be stored. */
    bool checked = store->ops->remove_many != NULL;
    for (size_t i = 0; i < count && checked; i++)
        checked = keys[i].data && keys[i].len <= EDDY_KV_KEY_BYTES_MAX;
    if (checked)
        return count ? store->ops->remove_many(store->self, keys, count) : EDDY_OK;
    for (size_t i = 0; i < count; i++) {
        eddy_err err = eddy_kv_delete(store, keys[i]);
        if (err != EDDY_OK)
            return err;
    }
    return EDDY_OK;
}

eddy_err eddy__kv_expire_before(eddy_kv_store *store, size_t suffix_bytes, int64_t before_ms,
                                bool *handled, uint64_t *deleted)
{
    EDDY_ASSERT(store && handled && deleted);
    *handled = false;
    *deleted = 0;
    if (!store->ops->expire_before)
        return EDDY_OK;
    return store->ops->expire_before(store->self, suffix_bytes, before_ms, handled, deleted);
}

eddy_err eddy__kv_iter_open_bounds(eddy_kv_store *store, const eddy__kv_bounds *bounds,
                                   eddy_kv_iter **out)
{
    return iter_open(store, bounds, 0, out);
}

/* A decorator's iterator that is simply an iterator of the store under it. */
static eddy_err passthrough_next(void *iter, eddy_slice *key, eddy_slice *value)
{
    return eddy_kv_iter_next(iter, key, value);
}

static void passthrough_destroy(void *iter)
{
    eddy_kv_iter_destroy(iter);
}

static const eddy__kv_iter_ops passthrough_ops = {passthrough_next, passthrough_destroy};

eddy_err eddy__kv_iter_open_passthrough(eddy_kv_store *inner, const eddy__kv_bounds *bounds,
                                        const eddy__kv_iter_ops **iter_ops, void **iter)
{
    eddy_kv_iter *it = NULL;
    eddy_err err = iter_open(inner, bounds, 0, &it);
    if (err != EDDY_OK)
        return err;
    *iter_ops = &passthrough_ops;
    *iter = it;
    return EDDY_OK;
}
