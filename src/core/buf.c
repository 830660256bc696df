/* The growable byte buffer behind batch encoding: it grows by doubling and is kept between
 * batches, so that steady-state encoding allocates nothing. */
#include "core/buf.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/logging.h"

/* The first allocation: small enough for a single record, large enough to skip the tiny sizes
 * doubling would otherwise walk through. */
#define BUF_CAPACITY_MIN 64

/* The capacity to grow to for `needed` bytes: doubling (amortised O(1) appends), or exactly
 * `needed` when doubling would overflow. */
static size_t buf_grown_capacity(size_t capacity, size_t needed)
{
    size_t grown = capacity < BUF_CAPACITY_MIN ? BUF_CAPACITY_MIN : capacity;
    while (grown < needed) {
        if (grown > SIZE_MAX / 2)
            return needed;
        grown *= 2;
    }
    return grown;
}

eddy_err eddy__buf_reserve(eddy__buf *buf, size_t extra)
{
    EDDY_ASSERT(buf != NULL && buf->len <= buf->cap);
    if (extra <= buf->cap - buf->len)
        return EDDY_OK;
    if (extra > SIZE_MAX - buf->len)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "buffer of %zu bytes cannot grow by %zu bytes",
                          buf->len, extra);
    size_t capacity = buf_grown_capacity(buf->cap, buf->len + extra);
    uint8_t *data = eddy__realloc(buf->data, capacity);
    if (!data)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory growing a buffer to %zu bytes",
                          capacity);
    buf->data = data;
    buf->cap = capacity;
    return EDDY_OK;
}

eddy_err eddy__buf_append(eddy__buf *buf, const void *data, size_t len)
{
    if (len == 0)
        return EDDY_OK;
    EDDY_ASSERT(data != NULL);
    eddy_err err = eddy__buf_reserve(buf, len);
    if (err != EDDY_OK)
        return err;
    memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    return EDDY_OK;
}

void eddy__buf_free(eddy__buf *buf)
{
    if (!buf)
        return;
    eddy__free(buf->data);
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}
