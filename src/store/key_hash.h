/* The hash of state-store keys, shared by the memory store's table (memory.c) and the windowed
 * store's table of record keys (windowed.c): a multiply-fold over 8-byte words, fast for the
 * short keys of state stores. The seed is per table, so that tables do not share their
 * collisions. */
#ifndef EDDY_STORE_KEY_HASH_H
#define EDDY_STORE_KEY_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t eddy__key_hash_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t eddy__key_hash_mix(uint64_t a, uint64_t b)
{
    __uint128_t product = (__uint128_t)a * b;
    return (uint64_t)product ^ (uint64_t)(product >> 64);
}

static inline uint64_t eddy__key_hash(uint64_t seed, const uint8_t *key, size_t len)
{
    const uint64_t k1 = 0xa0761d6478bd642fULL, k2 = 0xe7037ed1a0b428dbULL,
                   k3 = 0x8ebc6af09c88c6e3ULL;
    uint64_t h = seed ^ ((uint64_t)len * k1);
    while (len > 16) {
        h = eddy__key_hash_mix(eddy__key_hash_load64(key) ^ k2, eddy__key_hash_load64(key + 8) ^ h);
        key += 16;
        len -= 16;
    }
    uint64_t a = 0, b = 0;
    if (len >= 8) {
        a = eddy__key_hash_load64(key);
        b = eddy__key_hash_load64(key + len - 8); /* overlapping: all 8..16 remaining bytes */
    } else if (len > 0) {
        memcpy(&a, key, len);
    }
    h = eddy__key_hash_mix(a ^ k2, b ^ h ^ k3);
    return eddy__key_hash_mix(h ^ k1, k3);
}

#endif
