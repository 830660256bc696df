/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of Kafka's RecordBatch
 * v2: initial value ~0, final complement, so crc("123456789") = 0xE3069283.
 *
 * Two implementations give identical results; the first call picks one for the process:
 *
 *   SSE4.2 (x86-64 CPUs that have it): the crc32 instruction, 8 bytes at a time. One chain of
 *     crc32 instructions runs at a third of the CPU's peak, because each instruction waits 3
 *     cycles for the previous result. So long inputs are cut into three adjacent blocks whose
 *     CRCs run interleaved, then joined: crc(A || B) = shift(crc(A), |B|) ^ crc'(B), where
 *     crc'(B) starts from 0 and shift() appends |B| zero bytes to a CRC register. Appending
 *     zeros is linear over GF(2), so shift() is a 32x32 bit matrix, applied as four 256-entry
 *     tables built at start-up for the two block sizes used (the method of Mark Adler's crc32c.c).
 *
 *   portable (everything else): slicing-by-8, eight 256-entry tables that fold 8 input bytes into
 *     the register per step. Also exported for tests, which check both paths agree.
 */
#include "core/crc32c.h"

#include <pthread.h>
#include <string.h>

#include "core/logging.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_HAVE_SSE42 1
#include <nmmintrin.h>
#else
#define CRC32C_HAVE_SSE42 0
#endif

#define CRC32C_POLY 0x82f63b78u

static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;
static int crc32c_use_hardware;

/* slicing_table[k][b]: the register contribution of byte b followed by k zero bytes. */
static uint32_t crc32c_slicing_table[8][256];

static void crc32c_build_slicing_table(void)
{
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 1) ? (crc >> 1) ^ CRC32C_POLY : crc >> 1;
        crc32c_slicing_table[0][byte] = crc;
    }
    for (int k = 1; k < 8; k++)
        for (int byte = 0; byte < 256; byte++) {
            uint32_t previous = crc32c_slicing_table[k - 1][byte];
            crc32c_slicing_table[k][byte] =
                (previous >> 8) ^ crc32c_slicing_table[0][previous & 0xff];
        }
}

/* Little-endian by bytes: correct on any host, and one load on x86 and ARM. */
static inline uint32_t crc32c_load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t crc32c_slicing8(uint32_t crc, const uint8_t *p, size_t len)
{
    const uint32_t(*table)[256] = (const uint32_t(*)[256])crc32c_slicing_table;
    uint32_t reg = ~crc;
    for (; len >= 8; p += 8, len -= 8) {
        uint32_t low = crc32c_load_le32(p) ^ reg;
        uint32_t high = crc32c_load_le32(p + 4);
        reg = table[7][low & 0xff] ^ table[6][(low >> 8) & 0xff] ^ table[5][(low >> 16) & 0xff] ^
              table[4][low >> 24] ^ table[3][high & 0xff] ^ table[2][(high >> 8) & 0xff] ^
              table[1][(high >> 16) & 0xff] ^ table[0][high >> 24];
    }
    for (; len > 0; p++, len--)
        reg = table[0][(reg ^ *p) & 0xff] ^ (reg >> 8);
    return ~reg;
}

#if CRC32C_HAVE_SSE42

/* Interleaved block sizes (powers of two): LONG amortises the joins on large inputs, SHORT
 * still pays off for the few-hundred-byte batches of small records. */
#define CRC32C_LONG 8192
#define CRC32C_SHORT 256

/* shift tables: zeros[k][b] is the effect on the register of byte b in position k after
 * appending LONG (or SHORT) zero bytes. */
static uint32_t crc32c_shift_long[4][256];
static uint32_t crc32c_shift_short[4][256];

/* A 32x32 matrix over GF(2) times a vector: column i of the matrix is the image of bit i. */
static uint32_t gf2_matrix_times(const uint32_t matrix[32], uint32_t vector)
{
    uint32_t sum = 0;
    for (int i = 0; vector != 0; i++, vector >>= 1)
        if (vector & 1)
            sum ^= matrix[i];
    return sum;
}

static void gf2_matrix_square(uint32_t matrix[32])
{
    uint32_t square[32];
    for (int i = 0; i < 32; i++)
        square[i] = gf2_matrix_times(matrix, matrix[i]);
    memcpy(matrix, square, sizeof(square));
}

/* The operator appending `zero_bytes` (a power of two) zero bytes to the register: start from
 * one zero bit (shift right, fold the polynomial in when bit 0 was set) and square it up. */
static void crc32c_build_shift_table(uint32_t table[4][256], size_t zero_bytes)
{
    uint32_t op[32];
    op[0] = CRC32C_POLY;
    for (int i = 1; i < 32; i++)
        op[i] = 1u << (i - 1);
    for (size_t bits = 1; bits < 8 * zero_bytes; bits *= 2)
        gf2_matrix_square(op);
    for (uint32_t byte = 0; byte < 256; byte++)
        for (int k = 0; k < 4; k++)
            table[k][byte] = gf2_matrix_times(op, byte << (8 * k));
}

static inline uint32_t crc32c_shift(const uint32_t table[4][256], uint32_t reg)
{
    return table[0][reg & 0xff] ^ table[1][(reg >> 8) & 0xff] ^ table[2][(reg >> 16) & 0xff] ^
           table[3][reg >> 24];
}

static inline uint64_t crc32c_load_u64(const uint8_t *p)
{
    uint64_t value;
    memcpy(&value, p, sizeof(value)); /* unaligned-safe; compiles to one load */
    return value;
}

/* Three interleaved chains over adjacent blocks of block_size bytes, joined with `table`.
 * Consumes whole groups of 3 * block_size bytes; returns the register. */
__attribute__((target("sse4.2"))) static inline uint64_t
crc32c_sse42_blocks(uint64_t reg, const uint8_t **p, size_t *len, size_t block_size,
                    const uint32_t table[4][256])
{
    while (*len >= 3 * block_size) {
        const uint8_t *block = *p;
        const uint8_t *end = block + block_size;
        uint64_t reg1 = 0, reg2 = 0;
        for (; block < end; block += 8) {
            reg = _mm_crc32_u64(reg, crc32c_load_u64(block));
            reg1 = _mm_crc32_u64(reg1, crc32c_load_u64(block + block_size));
            reg2 = _mm_crc32_u64(reg2, crc32c_load_u64(block + 2 * block_size));
        }
        reg = crc32c_shift(table, (uint32_t)reg) ^ reg1;
        reg = crc32c_shift(table, (uint32_t)reg) ^ reg2;
        *p += 3 * block_size;
        *len -= 3 * block_size;
    }
    return reg;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p,
                                                               size_t len)
{
    uint64_t reg = ~crc;
    /* Align to 8 so that the 8-byte loads below never straddle a cache line needlessly. */
    for (; len > 0 && ((uintptr_t)p & 7) != 0; p++, len--)
        reg = _mm_crc32_u8((uint32_t)reg, *p);
    reg =
        crc32c_sse42_blocks(reg, &p, &len, CRC32C_LONG, (const uint32_t(*)[256])crc32c_shift_long);
    reg = crc32c_sse42_blocks(reg, &p, &len, CRC32C_SHORT,
                              (const uint32_t(*)[256])crc32c_shift_short);
    for (; len >= 8; p += 8, len -= 8)
        reg = _mm_crc32_u64(reg, crc32c_load_u64(p));
    for (; len > 0; p++, len--)
        reg = _mm_crc32_u8((uint32_t)reg, *p);
    return ~(uint32_t)reg;
}

static int crc32c_cpu_has_sse42(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2");
}

#endif /* CRC32C_HAVE_SSE42 */

static void crc32c_init(void)
{
    crc32c_build_slicing_table();
#if CRC32C_HAVE_SSE42
    if (crc32c_cpu_has_sse42()) {
        crc32c_build_shift_table(crc32c_shift_long, CRC32C_LONG);
        crc32c_build_shift_table(crc32c_shift_short, CRC32C_SHORT);
        crc32c_use_hardware = 1;
    }
#endif
}

uint32_t eddy__crc32c(uint32_t crc, const void *data, size_t len)
{
    EDDY_ASSERT(data != NULL || len == 0);
    pthread_once(&crc32c_once, crc32c_init);
#if CRC32C_HAVE_SSE42
    if (crc32c_use_hardware)
        return crc32c_sse42(crc, data, len);
#endif
    return crc32c_slicing8(crc, data, len);
}

uint32_t eddy__crc32c_portable(uint32_t crc, const void *data, size_t len)
{
    EDDY_ASSERT(data != NULL || len == 0);
    pthread_once(&crc32c_once, crc32c_init);
    return crc32c_slicing8(crc, data, len);
}

int eddy__crc32c_hardware(void)
{
    pthread_once(&crc32c_once, crc32c_init);
    return crc32c_use_hardware;
}
