/* Varints as Kafka's record format uses them: unsigned LEB128 and zig-zag signed, 32 and 64 bit.
 * Decoders never read past `end` and reject over-long encodings. */
#ifndef EDDY_CORE_VARINT_H
#define EDDY_CORE_VARINT_H

#include <stddef.h>
#include <stdint.h>

#define EDDY_VARINT64_MAX_BYTES 10
#define EDDY_VARINT32_MAX_BYTES 5

/* Encoders write to buf (which must have room for the max bytes) and return the bytes written. */
size_t eddy__varint_put_u64(uint8_t *buf, uint64_t value);
size_t eddy__varint_put_i64(uint8_t *buf, int64_t value); /* zig-zag */
size_t eddy__varint_put_i32(uint8_t *buf, int32_t value); /* zig-zag */
size_t eddy__varint_size_u64(uint64_t value);
size_t eddy__varint_size_i64(int64_t value);
size_t eddy__varint_size_i32(int32_t value);

/* Decoders: on success return bytes consumed (>0) and write *out; return 0 when the input is
 * truncated, over-long, or (for 32-bit) out of range. */
size_t eddy__varint_get_u64(const uint8_t *p, const uint8_t *end, uint64_t *out);
size_t eddy__varint_get_i64(const uint8_t *p, const uint8_t *end, int64_t *out);
size_t eddy__varint_get_i32(const uint8_t *p, const uint8_t *end, int32_t *out);

#endif
