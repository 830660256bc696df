/* Tests for src/core/varint.c: known encodings, round trips over edge values, and rejection of
 * truncated, over-long, non-shortest and out-of-range input, read from exactly-sized heap
 * copies so that ASan catches any read past the end. */
#include "test.h"

#include "core/varint.h"

/* The decoders below read from a heap copy of exactly `len` bytes, so that ASan reports any
 * read past `end`. The end pointer passes through an empty asm: GCC assumes a const pointer
 * argument is read, and seeing one point just past a malloc'd block it knows the contents of,
 * it warns (falsely, at -O2) that uninitialised memory may be used. */
static const uint8_t *heap_copy_end(const uint8_t *end)
{
    __asm__("" : "+r"(end));
    return end;
}

static size_t decode_u64(const uint8_t *bytes, size_t len, uint64_t *out)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, bytes, len);
    size_t consumed = eddy__varint_get_u64(copy, heap_copy_end(copy + len), out);
    free(copy);
    return consumed;
}

static size_t decode_i64(const uint8_t *bytes, size_t len, int64_t *out)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, bytes, len);
    size_t consumed = eddy__varint_get_i64(copy, heap_copy_end(copy + len), out);
    free(copy);
    return consumed;
}

static size_t decode_i32(const uint8_t *bytes, size_t len, int32_t *out)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, bytes, len);
    size_t consumed = eddy__varint_get_i32(copy, heap_copy_end(copy + len), out);
    free(copy);
    return consumed;
}

static void expect_i32_encoding(int32_t value, const uint8_t *expected, size_t expected_len)
{
    uint8_t buf[EDDY_VARINT32_MAX_BYTES];
    size_t len = eddy__varint_put_i32(buf, value);
    EXPECT_MEMEQ(buf, len, expected, expected_len);
    EXPECT_EQ(eddy__varint_size_i32(value), expected_len);
    int32_t decoded = 0;
    EXPECT_EQ(decode_i32(expected, expected_len, &decoded), expected_len);
    EXPECT_EQ(decoded, value);
}

TEST(varint_known_encodings)
{
    /* Zig-zag and LEB128 as in the protobuf encoding guide and Kafka's ByteUtils. */
    expect_i32_encoding(0, (const uint8_t[]){0x00}, 1);
    expect_i32_encoding(-1, (const uint8_t[]){0x01}, 1);
    expect_i32_encoding(1, (const uint8_t[]){0x02}, 1);
    expect_i32_encoding(-2, (const uint8_t[]){0x03}, 1);
    expect_i32_encoding(63, (const uint8_t[]){0x7e}, 1);
    expect_i32_encoding(-64, (const uint8_t[]){0x7f}, 1);
    expect_i32_encoding(64, (const uint8_t[]){0x80, 0x01}, 2);
    expect_i32_encoding(150, (const uint8_t[]){0xac, 0x02}, 2);
    expect_i32_encoding(INT32_MAX, (const uint8_t[]){0xfe, 0xff, 0xff, 0xff, 0x0f}, 5);
    expect_i32_encoding(INT32_MIN, (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x0f}, 5);

    uint8_t buf[EDDY_VARINT64_MAX_BYTES];
    EXPECT_EQ(eddy__varint_put_u64(buf, 300), 2);
    EXPECT_MEMEQ(buf, 2, "\xac\x02", 2);
    EXPECT_EQ(eddy__varint_put_u64(buf, UINT64_MAX), 10);
    EXPECT_MEMEQ(buf, 10, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
    EXPECT_EQ(eddy__varint_put_i64(buf, INT64_MIN), 10);
    EXPECT_MEMEQ(buf, 10, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 10);
}

static const int64_t edge_values[] = {
    0,
    1,
    -1,
    2,
    -2,
    63,
    -64,
    64,
    -65,
    127,
    128,
    -128,
    -129,
    255,
    256,
    8191,
    8192,
    16383,
    16384,
    2097151,
    2097152,
    INT32_MAX,
    INT32_MIN,
    (int64_t)INT32_MAX + 1,
    (int64_t)INT32_MIN - 1,
    INT64_MAX,
    INT64_MIN,
    INT64_MAX - 1,
    INT64_MIN + 1,
    (int64_t)1 << 62,
    -((int64_t)1 << 62),
};

TEST(varint_i64_round_trips_edge_values)
{
    for (size_t i = 0; i < sizeof(edge_values) / sizeof(edge_values[0]); i++) {
        uint8_t buf[EDDY_VARINT64_MAX_BYTES];
        size_t len = eddy__varint_put_i64(buf, edge_values[i]);
        EXPECT_EQ(len, eddy__varint_size_i64(edge_values[i]));
        int64_t decoded = 0;
        EXPECT_EQ(decode_i64(buf, len, &decoded), len);
        EXPECT_EQ(decoded, edge_values[i]);
    }
}

TEST(varint_i32_round_trips_edge_values)
{
    for (size_t i = 0; i < sizeof(edge_values) / sizeof(edge_values[0]); i++) {
        if (edge_values[i] < INT32_MIN || edge_values[i] > INT32_MAX)
            continue;
        int32_t value = (int32_t)edge_values[i];
        uint8_t buf[EDDY_VARINT32_MAX_BYTES];
        size_t len = eddy__varint_put_i32(buf, value);
        EXPECT_EQ(len, eddy__varint_size_i32(value));
        EXPECT_LE(len, EDDY_VARINT32_MAX_BYTES);
        int32_t decoded = 0;
        EXPECT_EQ(decode_i32(buf, len, &decoded), len);
        EXPECT_EQ(decoded, value);
    }
}

TEST(varint_u64_sizes_at_every_group_boundary)
{
    /* 2^(7k) - 1 is the largest value in k bytes; 2^(7k) needs k + 1. */
    for (unsigned k = 1; k <= 9; k++) {
        uint64_t boundary = (uint64_t)1 << (7 * k);
        uint8_t buf[EDDY_VARINT64_MAX_BYTES];
        EXPECT_EQ(eddy__varint_put_u64(buf, boundary - 1), k);
        EXPECT_EQ(eddy__varint_size_u64(boundary - 1), k);
        EXPECT_EQ(eddy__varint_put_u64(buf, boundary), k + 1);
        EXPECT_EQ(eddy__varint_size_u64(boundary), k + 1);
        uint64_t decoded = 0;
        EXPECT_EQ(decode_u64(buf, k + 1, &decoded), k + 1);
        EXPECT_TRUE(decoded == boundary);
    }
    EXPECT_EQ(eddy__varint_size_u64(0), 1);
    EXPECT_EQ(eddy__varint_size_u64(UINT64_MAX), 10);
}

TEST(varint_random_round_trips)
{
    uint64_t state = test_seed() * 0x9e3779b97f4a7c15ull + 1;
    for (int i = 0; i < 100000; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        /* Shift by a random amount so that every length is exercised, not mostly 10 bytes. */
        int64_t value = (int64_t)(state >> (state % 64));
        if (state & 1)
            value = -value;
        uint8_t buf[EDDY_VARINT64_MAX_BYTES];
        size_t len = eddy__varint_put_i64(buf, value);
        int64_t decoded = 0;
        EXPECT_EQ(eddy__varint_get_i64(buf, buf + len, &decoded), len);
        EXPECT_EQ(decoded, value);
    }
}

TEST(varint_decoders_read_only_their_bytes)
{
    /* A varint followed by other data: consumed is the varint's length, not the buffer's. */
    const uint8_t bytes[] = {0xac, 0x02, 0xff, 0xff};
    uint64_t value = 0;
    EXPECT_EQ(decode_u64(bytes, sizeof(bytes), &value), 2);
    EXPECT_EQ(value, 300);
}

TEST(varint_truncated_input_is_rejected)
{
    uint8_t buf[EDDY_VARINT64_MAX_BYTES];
    for (size_t i = 0; i < sizeof(edge_values) / sizeof(edge_values[0]); i++) {
        size_t len = eddy__varint_put_i64(buf, edge_values[i]);
        for (size_t prefix = 0; prefix < len; prefix++) {
            int64_t value = 12345;
            EXPECT_EQ(decode_i64(buf, prefix, &value), 0);
            EXPECT_EQ(value, 12345); /* untouched on failure */
        }
    }
    int32_t value32 = 0;
    EXPECT_EQ(decode_i32((const uint8_t[]){0xff, 0xff, 0xff, 0xff}, 4, &value32), 0);
    EXPECT_EQ(decode_i32((const uint8_t[]){0x80}, 1, &value32), 0);
    EXPECT_EQ(decode_i32((const uint8_t[]){0}, 0, &value32), 0);
}

TEST(varint_over_long_input_is_rejected)
{
    uint64_t u = 0;
    int64_t i64 = 0;
    int32_t i32 = 0;
    /* Eleven bytes: more than any 64-bit value needs. */
    const uint8_t eleven[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00};
    EXPECT_EQ(decode_u64(eleven, sizeof(eleven), &u), 0);
    EXPECT_EQ(decode_i64(eleven, sizeof(eleven), &i64), 0);
    /* Ten bytes whose last carries bits beyond 2^64. */
    const uint8_t too_wide[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    EXPECT_EQ(decode_u64(too_wide, sizeof(too_wide), &u), 0);
    /* Non-shortest forms: 0 as two bytes, 1 as three. */
    EXPECT_EQ(decode_u64((const uint8_t[]){0x80, 0x00}, 2, &u), 0);
    EXPECT_EQ(decode_u64((const uint8_t[]){0x81, 0x80, 0x00}, 3, &u), 0);
    EXPECT_EQ(decode_i32((const uint8_t[]){0x80, 0x00}, 2, &i32), 0);
    /* Six bytes for a 32-bit varint. */
    const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    EXPECT_EQ(decode_i32(six, sizeof(six), &i32), 0);
}

TEST(varint_i32_out_of_range_is_rejected)
{
    int32_t value = 7;
    /* 2^32 zig-zag encoded would be INT32 out of range: a fifth byte above 0x0f. */
    EXPECT_EQ(decode_i32((const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x1f}, 5, &value), 0);
    EXPECT_EQ(decode_i32((const uint8_t[]){0x80, 0x80, 0x80, 0x80, 0x10}, 5, &value), 0);
    EXPECT_EQ(value, 7);
    /* The same bytes are a fine 64-bit varint. */
    int64_t wide = 0;
    EXPECT_EQ(decode_i64((const uint8_t[]){0x80, 0x80, 0x80, 0x80, 0x10}, 5, &wide), 5);
    EXPECT_EQ(wide, (int64_t)1 << 31);
}
