/* The expiry view of a decorated store: what retention deletes through.
 *
 * The runtime stacks a record cache and a changelog over each task store. Retention must delete
 * expired windows without either: Kafka drops expired segments silently, forwarding nothing
 * downstream and writing no changelog tombstones (the changelog's own retention removes them
 * there). The view reads the innermost store (a scan of it costs no merge with the cache) and
 * deletes there, dropping the key's clean cache entry too. A dirty cache entry (an update of the
 * window not yet forwarded) stays: the next commit's flush still forwards and logs it, as
 * Kafka's caching stores do, and puts the window back in the inner store until the next expiry
 * round removes it again. */
#include "core/alloc.h"
#include "core/error.h"
#include "store/store.h"

typedef struct expiry_view {
    eddy_kv_store *outer; /* the cache over everything (may not be a cache) */
    eddy_kv_store *inner; /* read and deleted from: under the changelog */
    bool outer_cached;
} expiry_view;

static eddy_err view_get(void *self, eddy_slice key, eddy_slice *value)
{
    return eddy_kv_get(((expiry_view *)self)->inner, key, value);
}

static eddy_err view_put(void *self, eddy_slice key, eddy_slice value)
{
    (void)key, (void)value;
    return eddy__fail(EDDY_ERR_STATE, "store '%s': the expiry view only deletes",
                      eddy_kv_store_name(((expiry_view *)self)->outer));
}

static eddy_err view_remove(void *self, eddy_slice key)
{
    expiry_view *v = self;
    if (v->outer_cached)
        eddy__kv_store_cached_forget(v->outer, key);
    return eddy_kv_delete(v->inner, key);
}

/* Deletes a batch of keys: forgets their clean cache entries, then removes them from inner in
 * one call (the memory store overlaps the removals' cache misses). */
static eddy_err view_remove_many(void *self, const eddy_slice *keys, size_t count)
{
    expiry_view *v = self;
    for (size_t i = 0; i < count && v->outer_cached; i++)
        eddy__kv_store_cached_forget(v->outer, keys[i]);
    return eddy__kv_delete_many(v->inner, keys, count);
}

/* inner's iterator, listed on the view as well as on inner: the view does not own inner, so
 * closing the view must still end it (a pass-through layer of store.c would list it on inner
 * only). */
static eddy_err view_iter_open(void *self, const eddy__kv_bounds *bounds,
                               const eddy__kv_iter_ops **ops, void **out)
{
    return eddy__kv_iter_open_passthrough(((expiry_view *)self)->inner, bounds, ops, out);
}

/* inner's own retention, when no cache entry needs forgetting: with entries cached (clean
 * ones to drop, dirty ones to keep) each deleted key must pass view_remove, so the caller
 * scans instead. */
static eddy_err view_expire_before(void *self, size_t suffix_bytes, int64_t before_ms,
                                   bool *handled, uint64_t *deleted)
{
    expiry_view *v = self;
    *handled = false;
    *deleted = 0;
    if (v->outer_cached && !eddy__kv_store_cached_empty(v->outer))
        return EDDY_OK;
    return eddy__kv_expire_before(v->inner, suffix_bytes, before_ms, handled, deleted);
}

static eddy_err view_count(void *self, uint64_t *count)
{
    return eddy_kv_approximate_count(((expiry_view *)self)->inner, count);
}

static eddy_err view_flush(void *self)
{
    (void)self;
    return EDDY_OK;
}

static void view_close(void *self)
{
    eddy__free(self); /* the stores belong to the runtime */
}

static const eddy__kv_store_ops view_ops = {
    .get = view_get,
    .put = view_put,
    .remove = view_remove,
    .iter_open = view_iter_open,
    .approximate_count = view_count,
    .flush = view_flush,
    .close = view_close,
    .remove_many = view_remove_many,
    .expire_before = view_expire_before,
};

eddy_err eddy__kv_store_expiry_view(eddy_kv_store *outer, bool outer_cached, eddy_kv_store *inner,
                                    eddy_kv_store **out)
{
    expiry_view *v = eddy__calloc(1, sizeof *v);
    if (!v)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory",
                          eddy_kv_store_name(outer));
    v->outer = outer;
    v->inner = inner;
    v->outer_cached = outer_cached;
    eddy_err err = eddy__kv_store_wrap(eddy_kv_store_name(outer), &view_ops, v, out);
    if (err != EDDY_OK)
        eddy__free(v);
    return err;
}
