/* The changelogging store decorator (Kafka Streams' ChangeLoggingKeyValueBytesStore): every put
 * and delete is applied to the inner store and then handed to a log function, which the runtime
 * points at the store's changelog topic. Restoring a store replays that log, so the log must
 * see every change the inner store made, in the order it made them; reads, scans, counts and
 * flushes need nothing from the log and go straight to the inner store (an iterator of the
 * logged store is opened on the inner store itself: store.c's pass-through layers).
 *
 * The inner store is written first, as Kafka does: a change the log refused fails the call
 * (the runtime then treats the task as failed and restores it), while a change the inner store
 * refused never reaches the log.
 *
 * Slices that alias the inner store. A caller may pass to put the value that get just returned
 * (the aggregation "read, change, write back" pattern). That value lives in the inner store, and
 * writing the inner store may move or free it before the log sees it. The decorator remembers
 * the last value its get returned and, when a key or value to write overlaps it, logs a copy
 * made before the inner write (in buffers kept across calls, so the copy does not allocate in
 * the steady state). Iterator slices need no such care: they stay valid whatever is done to
 * the store. */
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/logging.h"
#include "store/store.h"

typedef struct logged_store {
    eddy_kv_store *inner;
    eddy__kv_log_fn log;
    void *opaque;
    eddy_slice last_got; /* the value the last get returned (owned by inner), or null */
    eddy__buf key_copy;  /* copies of aliasing slices (see the file comment) */
    eddy__buf value_copy;
} logged_store;

/* ---- Slices that alias the last value read --------------------------------------------------- */

/* Whether a and b share a byte or touch (closed ranges, so that an empty slice pointing into or
 * just past the last value also counts: its pointer may dangle after the inner write too). */
static int slice_aliases(eddy_slice a, eddy_slice b)
{
    if (!a.data || !b.data)
        return 0;
    uintptr_t a_begin = (uintptr_t)a.data, b_begin = (uintptr_t)b.data;
    return a_begin <= b_begin + b.len && b_begin <= a_begin + a.len;
}

/* Replaces *slice by a copy in buf when it aliases the last value got. */
static eddy_err slice_detach(logged_store *s, eddy_slice *slice, eddy__buf *buf)
{
    static const uint8_t empty[1];
    if (!slice_aliases(*slice, s->last_got))
        return EDDY_OK;
    if (slice->len == 0) {
        slice->data = empty;
        return EDDY_OK;
    }
    buf->len = 0;
    if (eddy__buf_append(buf, slice->data, slice->len) != EDDY_OK)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory copying a %zu-byte slice",
                          eddy_kv_store_name(s->inner), slice->len);
    slice->data = buf->data;
    return EDDY_OK;
}

/* ---- Store operations ------------------------------------------------------------------------ */

static eddy_err logged_get(void *self, eddy_slice key, eddy_slice *value)
{
    logged_store *s = self;
    eddy_err err = eddy_kv_get(s->inner, key, value);
    s->last_got = err == EDDY_OK ? *value : (eddy_slice){NULL, 0};
    return err;
}

/* Writes one change (value null: a delete) to inner, then to the log. */
static eddy_err logged_write(logged_store *s, eddy_slice key, eddy_slice value)
{
    eddy_err err = slice_detach(s, &key, &s->key_copy);
    if (err == EDDY_OK)
        err = slice_detach(s, &value, &s->value_copy);
    if (err != EDDY_OK)
        return err;
    s->last_got = (eddy_slice){NULL, 0}; /* any write ends its validity */
    err = value.data ? eddy_kv_put(s->inner, key, value) : eddy_kv_delete(s->inner, key);
    if (err != EDDY_OK)
        return err;
    err = s->log(s->opaque, key, value);
    if (err != EDDY_OK)
        return eddy__fail_context(err, "store '%s': logging a %zu-byte key's %s",
                                  eddy_kv_store_name(s->inner), key.len,
                                  value.data ? "put" : "delete");
    return EDDY_OK;
}

static eddy_err logged_put(void *self, eddy_slice key, eddy_slice value)
{
    EDDY_ASSERT(value.data);
    return logged_write(self, key, value);
}

static eddy_err logged_remove(void *self, eddy_slice key)
{
    return logged_write(self, key, (eddy_slice){NULL, 0});
}

static eddy_err logged_approximate_count(void *self, uint64_t *count)
{
    return eddy_kv_approximate_count(((logged_store *)self)->inner, count);
}

static eddy_err logged_flush(void *self)
{
    return eddy_kv_flush(((logged_store *)self)->inner);
}

static void logged_close(void *self)
{
    logged_store *s = self;
    eddy_kv_store_close(s->inner);
    eddy__buf_free(&s->key_copy);
    eddy__buf_free(&s->value_copy);
    eddy__free(s);
}

/* ---- Iterators ------------------------------------------------------------------------------- */

/* Reads are not logged: the inner store's iterator is the logged store's. The public functions
 * open it on inner directly (logged_iter_inner); logged_iter_open serves a direct call. */
static eddy_kv_store *logged_iter_inner(void *self)
{
    return ((logged_store *)self)->inner;
}

static eddy_err logged_iter_open(void *self, const eddy__kv_bounds *bounds,
                                 const eddy__kv_iter_ops **iter_ops, void **iter)
{
    return eddy__kv_iter_open_passthrough(((logged_store *)self)->inner, bounds, iter_ops, iter);
}

static const eddy__kv_store_ops logged_ops = {
    .get = logged_get,
    .put = logged_put,
    .remove = logged_remove,
    .iter_open = logged_iter_open,
    .approximate_count = logged_approximate_count,
    .flush = logged_flush,
    .close = logged_close,
    .iter_inner = logged_iter_inner,
};

eddy_err eddy__kv_store_logged(eddy_kv_store *inner, eddy__kv_log_fn log, void *opaque,
                               eddy_kv_store **out)
{
    EDDY_ASSERT(inner && log && out);
    *out = NULL;
    logged_store *s = eddy__calloc(1, sizeof(*s));
    if (!s)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "store '%s': out of memory adding a change log",
                          eddy_kv_store_name(inner));
    s->inner = inner;
    s->log = log;
    s->opaque = opaque;
    eddy_err err = eddy__kv_store_wrap(eddy_kv_store_name(inner), &logged_ops, s, out);
    if (err != EDDY_OK)
        eddy__free(s); /* not logged_close: the caller keeps inner */
    return err;
}
