/* Varints as Kafka's RecordBatch v2 writes them (the same as protobuf's):
 *
 *   unsigned:  7 value bits per byte, least significant group first; the high bit of a byte is
 *              set when another byte follows.        300 -> AC 02
 *   signed:    zig-zag first, so small magnitudes of either sign stay short:
 *              0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3, ...  INT32_MIN -> FF FF FF FF 0F
 *
 * The decoders read untrusted bytes (a segment file may be torn or corrupt), so they never read
 * at or past `end` and accept exactly one encoding per value: they reject input that ends inside
 * a varint, more bytes than the type can need (10 for 64 bits, 5 for 32), bits beyond the
 * type's width in the last byte, and non-shortest forms (a final 0x00 group after a
 * continuation, e.g. 80 00 for 0). eddy and Kafka's clients only ever write the shortest form,
 * so anything else is corruption. */
#include "core/varint.h"

#include "core/logging.h"

#define VARINT_CONTINUATION 0x80u
#define VARINT_PAYLOAD 0x7fu

static uint64_t zigzag_encode64(int64_t value)
{
    /* (value << 1) ^ (value >> 63), written with unsigned arithmetic: shifting a negative
     * signed value is undefined (left) or implementation-defined (right) in C. */
    uint64_t bits = (uint64_t)value;
    return (bits << 1) ^ (0 - (bits >> 63));
}

static int64_t zigzag_decode64(uint64_t encoded)
{
    uint64_t bits = (encoded >> 1) ^ (0 - (encoded & 1));
    return bits <= INT64_MAX ? (int64_t)bits : -(int64_t)(~bits) - 1;
}

size_t eddy__varint_put_u64(uint8_t *buf, uint64_t value)
{
    size_t written = 0;
    while (value > VARINT_PAYLOAD) {
        buf[written++] = (uint8_t)((value & VARINT_PAYLOAD) | VARINT_CONTINUATION);
        value >>= 7;
    }
    buf[written++] = (uint8_t)value;
    EDDY_ASSERT(written <= EDDY_VARINT64_MAX_BYTES);
    return written;
}

size_t eddy__varint_put_i64(uint8_t *buf, int64_t value)
{
    return eddy__varint_put_u64(buf, zigzag_encode64(value));
}

size_t eddy__varint_put_i32(uint8_t *buf, int32_t value)
{
    /* Zig-zag of a 32-bit value fits in 32 bits, so this is Kafka's 32-bit varint, at most 5
     * bytes. */
    return eddy__varint_put_u64(buf, zigzag_encode64(value));
}

size_t eddy__varint_size_u64(uint64_t value)
{
    if (value == 0)
        return 1;
    size_t bits = 64 - (size_t)__builtin_clzll(value);
    return (bits + 6) / 7;
}

size_t eddy__varint_size_i64(int64_t value)
{
    return eddy__varint_size_u64(zigzag_encode64(value));
}

size_t eddy__varint_size_i32(int32_t value)
{
    return eddy__varint_size_u64(zigzag_encode64(value));
}

/* The unsigned decoder behind all three: reads at most max_bytes and accepts only values below
 * 2^value_bits. Returns the bytes consumed, or 0 for truncated, over-long or too-wide input. */
static size_t varint_decode(const uint8_t *p, const uint8_t *end, size_t max_bytes,
                            unsigned value_bits, uint64_t *out)
{
    uint64_t value = 0;
    for (size_t i = 0; i < max_bytes; i++) {
        if (p + i >= end)
            return 0;
        uint64_t group = p[i] & VARINT_PAYLOAD;
        unsigned shift = 7 * (unsigned)i;
        if (shift + 7 > value_bits && (group >> (value_bits - shift)) != 0)
            return 0;
        value |= group << shift;
        if ((p[i] & VARINT_CONTINUATION) == 0) {
            if (i > 0 && p[i] == 0)
                return 0;
            *out = value;
            return i + 1;
        }
    }
    return 0;
}

size_t eddy__varint_get_u64(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
    EDDY_ASSERT(p != NULL && p <= end && out != NULL);
    return varint_decode(p, end, EDDY_VARINT64_MAX_BYTES, 64, out);
}

size_t eddy__varint_get_i64(const uint8_t *p, const uint8_t *end, int64_t *out)
{
    uint64_t encoded;
    size_t consumed = eddy__varint_get_u64(p, end, &encoded);
    if (consumed)
        *out = zigzag_decode64(encoded);
    return consumed;
}

size_t eddy__varint_get_i32(const uint8_t *p, const uint8_t *end, int32_t *out)
{
    EDDY_ASSERT(p != NULL && p <= end && out != NULL);
    uint64_t encoded;
    size_t consumed = varint_decode(p, end, EDDY_VARINT32_MAX_BYTES, 32, &encoded);
    if (consumed)
        *out = (int32_t)zigzag_decode64(encoded);
    return consumed;
}
