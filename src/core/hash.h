/* Hashing: Kafka's murmur2, used by its Java default partitioner. */
#ifndef EDDY_CORE_HASH_H
#define EDDY_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Kafka's Utils.murmur2 (seed 0x9747b28c), bit-exact with the Java client. */
int32_t eddy__murmur2(const void *data, size_t len);

/* The Java default partitioner for a non-null key: toPositive(murmur2(key)) % partitions. */
int32_t eddy__partition_for_key(const void *key, size_t len, int32_t partitions);

/* FNV-1a 64, for in-memory hash tables (not a wire format). */
uint64_t eddy__hash64(const void *data, size_t len);

#endif
