/* Hashing: Kafka's murmur2, bit-exact with org.apache.kafka.common.utils.Utils.murmur2, so that
 * a key lands in the same partition whichever client (Java, librdkafka's murmur2 partitioners,
 * eddy) wrote it; and FNV-1a 64 for eddy's own in-memory tables.
 *
 * Java computes murmur2 in `int` with wrapping multiplication and `>>>` shifts. Here the same
 * steps run in uint32_t (whose arithmetic wraps by definition) and only the result is read as
 * signed, which gives the same bits without signed overflow. */
#include "core/hash.h"

#include "core/logging.h"

#define MURMUR2_SEED 0x9747b28cu
#define MURMUR2_MULTIPLIER 0x5bd1e995u
#define MURMUR2_SHIFT 24

#define FNV1A64_OFFSET_BASIS 0xcbf29ce484222325u
#define FNV1A64_PRIME 0x100000001b3u

/* Little-endian, byte by byte, as Java assembles each 4-byte word: independent of the host's
 * byte order and of the key's alignment. */
static uint32_t murmur2_load_word(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads an unsigned 32-bit pattern as Java's int: the same bits, two's complement. */
static int32_t murmur2_as_int32(uint32_t bits)
{
    return bits <= INT32_MAX ? (int32_t)bits : -(int32_t)(~bits) - 1;
}

int32_t eddy__murmur2(const void *data, size_t len)
{
    EDDY_ASSERT(data != NULL || len == 0);
    const uint8_t *bytes = data;
    uint32_t h = MURMUR2_SEED ^ (uint32_t)len;
    size_t words = len / 4;
    for (size_t i = 0; i < words; i++) {
        uint32_t k = murmur2_load_word(bytes + 4 * i);
        k *= MURMUR2_MULTIPLIER;
        k ^= k >> MURMUR2_SHIFT;
        k *= MURMUR2_MULTIPLIER;
        h *= MURMUR2_MULTIPLIER;
        h ^= k;
    }
    /* Indexes rather than a tail pointer: with an empty key, data may be NULL, and even
     * NULL + 0 is undefined. */
    size_t tail = 4 * words;
    switch (len % 4) {
    case 3:
        h ^= (uint32_t)bytes[tail + 2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)bytes[tail + 1] << 8;
        /* fall through */
    case 1:
        h ^= bytes[tail];
        h *= MURMUR2_MULTIPLIER;
    }
    h ^= h >> 13;
    h *= MURMUR2_MULTIPLIER;
    h ^= h >> 15;
    return murmur2_as_int32(h);
}

int32_t eddy__partition_for_key(const void *key, size_t len, int32_t partitions)
{
    EDDY_ASSERT(partitions > 0);
    /* Kafka's Utils.toPositive clears the sign bit (it is not abs(), which would differ for
     * negative hashes and overflow for INT32_MIN). */
    int32_t positive = eddy__murmur2(key, len) & 0x7fffffff;
    return positive % partitions;
}

uint64_t eddy__hash64(const void *data, size_t len)
{
    EDDY_ASSERT(data != NULL || len == 0);
    const uint8_t *bytes = data;
    uint64_t hash = FNV1A64_OFFSET_BASIS;
    for (size_t i = 0; i < len; i++) {
        hash ^= bytes[i];
        hash *= FNV1A64_PRIME;
    }
    return hash;
}
