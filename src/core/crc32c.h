/* CRC-32C (Castagnoli), as Kafka's RecordBatch uses: SSE4.2 instruction when the CPU has it,
 * a portable table-driven fallback otherwise (chosen once at first use). */
#ifndef EDDY_CORE_CRC32C_H
#define EDDY_CORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: start with crc = 0; eddy__crc32c(eddy__crc32c(0, a), b) == crc of a||b. */
uint32_t eddy__crc32c(uint32_t crc, const void *data, size_t len);

/* The portable implementation, exposed so tests can compare the two paths. */
uint32_t eddy__crc32c_portable(uint32_t crc, const void *data, size_t len);

/* 1 when eddy__crc32c uses the SSE4.2 instruction on this machine, 0 when it is the portable
 * path (for tests and benchmarks to report which one they measured). */
int eddy__crc32c_hardware(void);

#endif
