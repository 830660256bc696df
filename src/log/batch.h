/* Kafka RecordBatch v2: encoding, header parsing, CRC check and record iteration.
 * The byte layout is documented at the top of batch.c and in docs/log-format.md. */
#ifndef EDDY_LOG_BATCH_H
#define EDDY_LOG_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "eddy/log.h"

/* Size of the fixed batch header (baseOffset .. recordCount). */
#define EDDY_BATCH_HEADER_SIZE 61
/* Bytes before batchLength's coverage starts: baseOffset (8) + batchLength (4). */
#define EDDY_BATCH_LOG_OVERHEAD 12
/* Offset of the CRC field and of the first byte it covers (attributes). */
#define EDDY_BATCH_CRC_OFFSET 17
#define EDDY_BATCH_ATTRIBUTES_OFFSET 21

/* Attribute bits (Kafka's). eddy writes uncompressed batches and refuses compressed ones. */
#define EDDY_BATCH_ATTR_COMPRESSION_MASK 0x07
#define EDDY_BATCH_ATTR_TIMESTAMP_TYPE 0x08 /* 1 = LogAppendTime */
#define EDDY_BATCH_ATTR_TRANSACTIONAL 0x10
#define EDDY_BATCH_ATTR_CONTROL 0x20

typedef struct eddy__batch_header {
    int64_t base_offset;
    int32_t length; /* batchLength: bytes after this field */
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t first_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} eddy__batch_header;

/* Total bytes of the batch on disk: length + 12. */
static inline size_t eddy__batch_size(const eddy__batch_header *h)
{
    return (size_t)h->length + EDDY_BATCH_LOG_OVERHEAD;
}

/* Last offset in the batch: base_offset + last_offset_delta. */
static inline int64_t eddy__batch_last_offset(const eddy__batch_header *h)
{
    return h->base_offset + h->last_offset_delta;
}

/* Encodes `count` records (count >= 1) as one batch appended to `out` (out->len grows by the
 * batch size). baseOffset is written as 0 (the appender patches it with
 * eddy__batch_set_base_offset, which the CRC does not cover), producer id -1, epoch -1,
 * sequence -1, leader epoch 0. A record's timestamp_ms < 0 becomes now_ms. Record offset deltas
 * are 0..count-1. Returns EDDY_ERR_TOO_LARGE when the batch would exceed EDDY_BATCH_BYTES_MAX
 * (out->len unchanged), EDDY_ERR_NO_MEMORY. */
eddy_err eddy__batch_encode(eddy__buf *out, const eddy_record *records, size_t count,
                            int64_t now_ms);

/* Encodes records keeping given offsets (for compaction): offsets[i] is record i's absolute
 * offset, strictly increasing, first >= base_offset; the batch's base offset is base_offset
 * and its last offset delta is last_offset - base_offset (so a batch keeps its offset range
 * even when records were removed from it). The header fields first/max timestamp, producer
 * fields and attributes come from `like` (the original batch's header). count may be 0 (an
 * empty batch that only preserves the offset range, as Kafka keeps). */
eddy_err eddy__batch_encode_at(eddy__buf *out, const eddy__batch_header *like,
                               int64_t base_offset, int64_t last_offset,
                               const eddy_record *records, const int64_t *offsets, size_t count);

/* Patches the base offset of an encoded batch in place. */
void eddy__batch_set_base_offset(uint8_t *batch, int64_t base_offset);

/* Parses the fixed header from `avail` bytes at p.
 * Returns EDDY_OK when the whole batch (header and body) is within avail;
 * EDDY_ERR_END when avail is too short to hold the header or the whole batch (a torn tail
 * when at the end of a file); EDDY_ERR_CORRUPT when the header is impossible (magic != 2,
 * length < 49, length > EDDY_BATCH_BYTES_MAX, negative record count, record count above
 * last_offset_delta + 1). Does not check the CRC. Never reads beyond p + avail. */
eddy_err eddy__batch_parse_header(const uint8_t *p, size_t avail, eddy__batch_header *h);

/* Checks the CRC-32C over attributes..end. EDDY_OK or EDDY_ERR_CORRUPT. */
eddy_err eddy__batch_check_crc(const uint8_t *batch, const eddy__batch_header *h);

/* Iterates the records of a parsed (and CRC-checked) batch without copying: keys, values and
 * headers point into the batch bytes. The header array is reused between records. */
typedef struct eddy__record_iter {
    const uint8_t *p;
    const uint8_t *end;
    eddy__batch_header h;
    int32_t index;
    eddy_header *headers;
    size_t headers_cap;
    /* Smallest offset delta the next record may have: offsets within a batch strictly increase
     * (compaction leaves gaps, never reorders). Set by init and reset. */
    int64_t next_offset_delta_min;
} eddy__record_iter;

void eddy__record_iter_init(eddy__record_iter *it, const uint8_t *batch,
                            const eddy__batch_header *h);
/* Fills rec (key, value, headers, timestamp_ms, offset; partition and topic untouched).
 * EDDY_OK; EDDY_ERR_END after the last record; EDDY_ERR_CORRUPT when a record does not parse
 * within the batch (lengths past the end, bad varints, offsets out of the batch's range, too
 * many headers, compression); a failed iterator keeps answering CORRUPT. EDDY_ERR_NO_MEMORY
 * when the header array cannot grow: that does not fail the iterator, the call may be retried. */
eddy_err eddy__record_iter_next(eddy__record_iter *it, eddy_record *rec);
void eddy__record_iter_free(eddy__record_iter *it);

/* Like eddy__record_iter_init for an iterator that was initialised before (and not freed since)
 * or is zero-filled: keeps its header array, so a reader can walk batch after batch without
 * allocating. */
void eddy__record_iter_reset(eddy__record_iter *it, const uint8_t *batch,
                             const eddy__batch_header *h);

#endif
