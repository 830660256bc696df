/* Tests for src/core/crc32c.c: published check values, and the hardware path against the
 * portable one (and both against a bit-at-a-time reference) on random data of random lengths
 * and alignments. */
#include "test.h"

#include "core/crc32c.h"

/* The textbook definition, one bit at a time: slow, obviously right, shares no table or
 * instruction with the code under test. */
static uint32_t crc32c_reference(uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return ~crc;
}

/* xorshift64*: a seeded generator so a failure reproduces with EDDY_TEST_SEED. */
static uint64_t random_next(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545f4914f6cdd1dull;
}

static uint64_t random_seeded(void)
{
    return test_seed() * 0x9e3779b97f4a7c15ull + 1;
}

static void fill_random(uint8_t *p, size_t len, uint64_t *state)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)random_next(state);
}

TEST(crc32c_check_value)
{
    /* The CRC catalogue's check value for CRC-32C ("CRC-32/ISCSI"). */
    EXPECT_EQ(eddy__crc32c(0, "123456789", 9), 0xe3069283u);
    EXPECT_EQ(eddy__crc32c_portable(0, "123456789", 9), 0xe3069283u);
    EXPECT_EQ(crc32c_reference(0, (const uint8_t *)"123456789", 9), 0xe3069283u);
}

TEST(crc32c_empty_input_is_zero)
{
    EXPECT_EQ(eddy__crc32c(0, NULL, 0), 0);
    EXPECT_EQ(eddy__crc32c_portable(0, NULL, 0), 0);
    EXPECT_EQ(eddy__crc32c(0x12345678, "", 0), 0x12345678);
}

TEST(crc32c_rfc3720_vectors)
{
    /* RFC 3720 (iSCSI), appendix B.4: 32 bytes of 0x00, of 0xFF, ascending, descending. */
    uint8_t zeros[32], ones[32], ascending[32], descending[32];
    for (int i = 0; i < 32; i++) {
        zeros[i] = 0;
        ones[i] = 0xff;
        ascending[i] = (uint8_t)i;
        descending[i] = (uint8_t)(31 - i);
    }
    EXPECT_EQ(eddy__crc32c(0, zeros, 32), 0x8a9136aau);
    EXPECT_EQ(eddy__crc32c(0, ones, 32), 0x62a8ab43u);
    EXPECT_EQ(eddy__crc32c(0, ascending, 32), 0x46dd794eu);
    EXPECT_EQ(eddy__crc32c(0, descending, 32), 0x113fdb5cu);
    EXPECT_EQ(eddy__crc32c_portable(0, zeros, 32), 0x8a9136aau);
    EXPECT_EQ(eddy__crc32c_portable(0, ones, 32), 0x62a8ab43u);
    EXPECT_EQ(eddy__crc32c_portable(0, ascending, 32), 0x46dd794eu);
    EXPECT_EQ(eddy__crc32c_portable(0, descending, 32), 0x113fdb5cu);
}

TEST(crc32c_reports_path)
{
    int hardware = eddy__crc32c_hardware();
    EXPECT_TRUE(hardware == 0 || hardware == 1);
#if defined(__x86_64__)
    __builtin_cpu_init();
    EXPECT_EQ(hardware, __builtin_cpu_supports("sse4.2") ? 1 : 0);
#endif
    printf("    crc32c path: %s\n", hardware ? "sse4.2" : "portable");
}

/* Lengths around every boundary the implementations care about: the 8-byte step, the 3 x 256
 * and 3 x 8192 interleaved blocks. */
TEST(crc32c_paths_agree_at_block_boundaries)
{
    static const size_t lengths[] = {1,   7,   8,   9,    15,   16,   63,    64,    255,   256,
                                     767, 768, 769, 1535, 1536, 8192, 24575, 24576, 24577, 49160};
    uint64_t state = random_seeded();
    uint8_t *buffer = malloc(49160 + 16);
    fill_random(buffer, 49160 + 16, &state);
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++)
        for (size_t align = 0; align < 8; align++) {
            const uint8_t *p = buffer + align;
            uint32_t expected = crc32c_reference(0, p, lengths[i]);
            EXPECT_EQ(eddy__crc32c(0, p, lengths[i]), expected);
            EXPECT_EQ(eddy__crc32c_portable(0, p, lengths[i]), expected);
        }
    free(buffer);
}

TEST(crc32c_paths_agree_on_random_buffers)
{
    uint64_t state = random_seeded();
    size_t capacity = 100000 + 64;
    uint8_t *buffer = malloc(capacity);
    for (int round = 0; round < 300; round++) {
        /* Mostly short (batches of small records), some long enough for the 3 x 8192 path. */
        size_t len = random_next(&state) % (round % 10 == 0 ? 100000 : 2000);
        size_t align = random_next(&state) % 64;
        uint32_t seed_crc = (uint32_t)random_next(&state);
        fill_random(buffer + align, len, &state);
        uint32_t hardware = eddy__crc32c(seed_crc, buffer + align, len);
        uint32_t portable = eddy__crc32c_portable(seed_crc, buffer + align, len);
        if (hardware != portable)
            eddy_test_fail(__FILE__, __LINE__, "len %zu align %zu: %08x != %08x", len, align,
                           hardware, portable);
        if (len < 4096)
            EXPECT_EQ(portable, crc32c_reference(seed_crc, buffer + align, len));
    }
    free(buffer);
}

TEST(crc32c_continues_across_splits)
{
    uint64_t state = random_seeded();
    uint8_t buffer[30000];
    fill_random(buffer, sizeof(buffer), &state);
    uint32_t whole = eddy__crc32c(0, buffer, sizeof(buffer));
    for (int round = 0; round < 50; round++) {
        size_t split = random_next(&state) % (sizeof(buffer) + 1);
        uint32_t first = eddy__crc32c(0, buffer, split);
        EXPECT_EQ(eddy__crc32c(first, buffer + split, sizeof(buffer) - split), whole);
        uint32_t first_portable = eddy__crc32c_portable(0, buffer, split);
        EXPECT_EQ(eddy__crc32c_portable(first_portable, buffer + split, sizeof(buffer) - split),
                  whole);
    }
}

TEST(crc32c_detects_every_single_bit_flip)
{
    uint8_t buffer[1024];
    uint64_t state = random_seeded();
    fill_random(buffer, sizeof(buffer), &state);
    uint32_t original = eddy__crc32c(0, buffer, sizeof(buffer));
    for (size_t bit = 0; bit < sizeof(buffer) * 8; bit++) {
        buffer[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        EXPECT_NE(eddy__crc32c(0, buffer, sizeof(buffer)), original);
        buffer[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}
