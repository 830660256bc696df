/* A growable byte buffer, reused across batches so hot paths do not allocate per record. */
#ifndef EDDY_CORE_BUF_H
#define EDDY_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "eddy/common.h"

typedef struct eddy__buf {
    uint8_t *data;
    size_t len;
    size_t cap;
} eddy__buf;

/* Ensures room for `extra` more bytes. EDDY_ERR_NO_MEMORY on failure (buffer unchanged). */
eddy_err eddy__buf_reserve(eddy__buf *buf, size_t extra);
/* Appends bytes (reserving as needed). */
eddy_err eddy__buf_append(eddy__buf *buf, const void *data, size_t len);
/* Frees the memory and zeroes the struct. */
void eddy__buf_free(eddy__buf *buf);

/* Big-endian fixed-width stores and loads, as Kafka's wire format. */
static inline void eddy__be16_put(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void eddy__be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void eddy__be64_put(uint8_t *p, uint64_t v)
{
    eddy__be32_put(p, (uint32_t)(v >> 32));
    eddy__be32_put(p + 4, (uint32_t)v);
}
static inline uint16_t eddy__be16_get(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t eddy__be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t eddy__be64_get(const uint8_t *p)
{
    return (uint64_t)eddy__be32_get(p) << 32 | eddy__be32_get(p + 4);
}

#endif
