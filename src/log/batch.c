/* Kafka RecordBatch v2, the unit eddy's log stores: encoding, header parsing, CRC check and
 * zero-copy record iteration. Segment files are a plain concatenation of these batches, byte
 * for byte what a Kafka broker keeps in its .log files (docs/log-format.md).
 *
 * BATCH HEADER
 *
 * 61 bytes, fixed-width integers in big-endian (network) order:
 *
 *   offset size  field                 CRC  meaning
 *   ------ ----  --------------------  ---  ------------------------------------------------
 *        0    8  baseOffset            no   offset of the batch's first offset slot
 *        8    4  batchLength           no   bytes after this field: batch size - 12
 *       12    4  partitionLeaderEpoch  no   Kafka's leader epoch; eddy writes 0
 *       16    1  magic                 no   format version: always 2
 *       17    4  crc                   no   CRC-32C (Castagnoli) of bytes 21 .. end of batch
 *       21    2  attributes            yes  bits 0-2 compression (0 none, 1 gzip, 2 snappy,
 *                                           3 lz4, 4 zstd), bit 3 timestamp type
 *                                           (1 = LogAppendTime), bit 4 transactional,
 *                                           bit 5 control batch, bit 6 delete horizon set
 *       23    4  lastOffsetDelta       yes  last offset - baseOffset (>= record count - 1;
 *                                           larger after compaction removed records)
 *       27    8  baseTimestamp         yes  first record's timestamp, ms since the epoch
 *       35    8  maxTimestamp          yes  largest record timestamp in the batch
 *       43    8  producerId            yes  -1: no idempotent producer
 *       51    2  producerEpoch         yes  -1
 *       53    4  baseSequence          yes  -1
 *       57    4  recordCount           yes  number of records that follow
 *       61    -  records               yes  recordCount records, back to back
 *
 * RECORD
 *
 * Variable-length fields use zig-zag LEB128 varints (protobuf's sint32/sint64: 0 -> 0x00,
 * -1 -> 0x01, 1 -> 0x02, 63 -> 0x7e, 64 -> 0x80 0x01):
 *
 *   field               type               meaning
 *   ------------------  -----------------  ------------------------------------------------
 *   length              varint             bytes of the record after this field
 *   attributes          int8               unused by Kafka; written 0, ignored on read
 *   timestampDelta      varlong            timestamp - baseTimestamp
 *   offsetDelta         varint             offset - baseOffset, in [0, lastOffsetDelta]
 *   keyLength           varint             -1: null key
 *   key                 keyLength bytes
 *   valueLength         varint             -1: null value (a tombstone)
 *   value               valueLength bytes
 *   headerCount         varint             >= 0
 *   headers             headerCount times:
 *     headerKeyLength   varint             >= 0 (Kafka header keys are non-null strings)
 *     headerKey         headerKeyLength bytes
 *     headerValueLength varint             -1: null value
 *     headerValue       headerValueLength bytes
 *
 * The smallest record is 7 bytes: a null key and value, no headers, one-byte deltas.
 *
 * WHAT THE CRC COVERS, AND WHY baseOffset IS OUTSIDE IT
 *
 * The CRC-32C covers attributes through the last byte of the last record. Kafka leaves
 * baseOffset, batchLength, partitionLeaderEpoch and magic outside it so that a broker can
 * assign offsets and stamp the leader epoch without recomputing the checksum, and so that a
 * reader can learn the format (magic) before it knows how to check it. eddy relies on the same
 * property: an appender encodes and checksums the batch outside any lock (the expensive part),
 * then, holding the partition's append lock, patches baseOffset with the next offset
 * (eddy__batch_set_base_offset) and writes the bytes. batchLength is protected indirectly: a
 * wrong length moves the CRC's end, which makes the check fail (except by 2^-32 chance).
 *
 * CORRUPT VERSUS INCOMPLETE
 *
 * eddy__batch_parse_header answers EDDY_ERR_END ("incomplete") when fewer than 61 bytes are
 * available, or when the header is plausible but the batch it announces runs past the bytes
 * available: at the end of a segment this is a torn write that recovery truncates. It answers
 * EDDY_ERR_CORRUPT when the header cannot describe any valid batch, whatever follows: magic
 * other than 2, batchLength below 49 or above EDDY_BATCH_BYTES_MAX, a negative baseOffset or
 * lastOffsetDelta, an offset range that overflows int64, a record count that is negative,
 * above EDDY_BATCH_RECORDS_MAX, above lastOffsetDelta + 1, or (uncompressed batches) more
 * records than 7-byte minimum records fit in batchLength. Header validity is judged before
 * completeness, so a garbage length is CORRUPT rather than a wait for bytes that never come.
 * eddy__batch_check_crc answers EDDY_ERR_CORRUPT on a checksum mismatch. The iterator answers
 * EDDY_ERR_CORRUPT for a compressed batch (eddy writes none and reads none), and for any record
 * that does not parse exactly: a varint that is truncated, over-long, out of range or not in
 * its shortest form; a record length below 6 or past the batch end; a field running past the
 * record's end; fields that end before the record's length says; a negative length other than
 * -1 for a nullable field; a negative header key length; a header count that is negative,
 * above EDDY_RECORD_HEADERS_MAX or larger than the bytes left could hold; an offset delta
 * outside [0, lastOffsetDelta] or not above the previous record's; fewer records than
 * recordCount, or bytes left after the last one. A failed iterator stays failed. None of these
 * checks can read outside [batch, batch + size).
 *
 * SPEED
 *
 * Appends of small records must reach tens of millions per second, so encoding allocates
 * nothing per record and, in the steady state, passes over the records once: when the output
 * buffer (which an appender reuses) has spare room, the records are checked and written
 * straight into it, each one's worst-case size checked against the room before it is written.
 * Without the room, a first pass sizes the batch exactly, the buffer grows once, and a second
 * pass writes. A record's length varint comes before the record and counts its bytes, so the
 * record is written after a guessed length size (the previous record's) and moved in the rare
 * case the guess was wrong. Decoding copies nothing: keys, values and headers are slices of the
 * batch, and the header array is reused from record to record (and, with
 * eddy__record_iter_reset, from batch to batch). One- and two-byte varints, most of a batch's,
 * are handled inline below.
 */
#include "log/batch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/crc32c.h"
#include "core/error.h"
#include "core/limits.h"
#include "core/logging.h"
#include "core/varint.h"

/* Byte positions of the header fields (see the table above). */
enum {
    BATCH_OFFSET_BASE_OFFSET = 0,
    BATCH_OFFSET_LENGTH = 8,
    BATCH_OFFSET_LEADER_EPOCH = 12,
    BATCH_OFFSET_MAGIC = 16,
    BATCH_OFFSET_LAST_OFFSET_DELTA = 23,
    BATCH_OFFSET_FIRST_TIMESTAMP = 27,
    BATCH_OFFSET_MAX_TIMESTAMP = 35,
    BATCH_OFFSET_PRODUCER_ID = 43,
    BATCH_OFFSET_PRODUCER_EPOCH = 51,
    BATCH_OFFSET_BASE_SEQUENCE = 53,
    BATCH_OFFSET_RECORD_COUNT = 57,
};

#define BATCH_MAGIC 2
/* batchLength of a batch without records: the header minus baseOffset and batchLength. */
#define BATCH_LENGTH_MIN (EDDY_BATCH_HEADER_SIZE - EDDY_BATCH_LOG_OVERHEAD)
/* Smallest record after its length field: attributes, timestampDelta, offsetDelta,
 * keyLength, valueLength, headerCount, one byte each. */
#define RECORD_BODY_BYTES_MIN 6
/* Smallest record including its one-byte length field. */
#define RECORD_BYTES_MIN (RECORD_BODY_BYTES_MIN + 1)
/* Smallest header: an empty key (one-byte length) and a null value (0x01). */
#define HEADER_BYTES_MIN 2
/* The zig-zag varint of -1, marking a null key or value. */
#define VARINT_MINUS_ONE 0x01

/* ------------------------------------------------------------------------------------------ */
/* Varint fast paths                                                                          */

/* Most varints in a batch are one or two bytes (attributes-adjacent deltas, lengths below
 * 8 KiB, header counts), and these functions run several times per record on the hot append
 * and read paths. The shortest forms of those are handled inline here; everything else goes to
 * core/varint.c, which also owns the rules for rejecting bad encodings (a one- or two-byte
 * form accepted here is one core/varint.c accepts too: a single byte below 0x80, or a byte with
 * the continuation bit followed by a non-zero final byte). */

static inline uint32_t zigzag32(int32_t v)
{
    return ((uint32_t)v << 1) ^ (0u - ((uint32_t)v >> 31));
}

static inline int32_t unzigzag32(uint32_t u)
{
    uint32_t bits = (u >> 1) ^ (0u - (u & 1u));
    return bits <= INT32_MAX ? (int32_t)bits : -(int32_t)(~bits) - 1;
}

static inline uint64_t zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (0u - ((uint64_t)v >> 63));
}

/* Bytes of the shortest varint of u: one per started group of 7 bits, floor(log2(u | 1)) / 7
 * + 1, computed as (bit * 9 + 73) / 64, which is exact for every bit index 0..63, without a
 * loop or a branch. */
static inline size_t varint_size_u64(uint64_t u)
{
    unsigned bit = 63u - (unsigned)__builtin_clzll(u | 1u);
    return (bit * 9u + 73u) >> 6;
}

/* Lengths, counts and offset deltas are never negative, so their zig-zag form is just twice
 * the value: these skip the sign handling. */
static inline size_t varint_size_length(uint64_t len)
{
    return varint_size_u64(len << 1);
}

/* Writes the varint of len, which must be at most INT32_MAX. */
static inline size_t varint_put_length(uint8_t *p, size_t len)
{
    uint32_t u = (uint32_t)len << 1;
    if (u < (1u << 7)) {
        p[0] = (uint8_t)u;
        return 1;
    }
    if (u < (1u << 14)) {
        p[0] = (uint8_t)(u | 0x80u);
        p[1] = (uint8_t)(u >> 7);
        return 2;
    }
    return eddy__varint_put_u64(p, u);
}

static inline size_t varint_size_i64(int64_t v)
{
    return varint_size_u64(zigzag64(v));
}

static inline size_t varint_put_i64(uint8_t *p, int64_t v)
{
    if (v >= -64 && v < 64) {
        p[0] = (uint8_t)zigzag32((int32_t)v);
        return 1;
    }
    return eddy__varint_put_i64(p, v);
}

static inline size_t varint_get_i32(const uint8_t *p, const uint8_t *end, int32_t *out)
{
    if (p < end && p[0] < 0x80) {
        *out = unzigzag32(p[0]);
        return 1;
    }
    if (end - p >= 2 && p[1] < 0x80 && p[1] != 0) {
        *out = unzigzag32((uint32_t)(p[0] & 0x7f) | (uint32_t)p[1] << 7);
        return 2;
    }
    return eddy__varint_get_i32(p, end, out);
}

static inline size_t varint_get_i64(const uint8_t *p, const uint8_t *end, int64_t *out)
{
    if (p < end && p[0] < 0x80) {
        *out = unzigzag32(p[0]);
        return 1;
    }
    return eddy__varint_get_i64(p, end, out);
}

/* ------------------------------------------------------------------------------------------ */
/* Encoding                                                                                   */

/* What one encode call writes: the header's fields (length and crc are computed) and where the
 * records' timestamps and offsets come from. */
typedef struct encode_plan {
    eddy__batch_header h;
    const eddy_record *records;
    size_t count;
    const int64_t *offsets; /* NULL: record i has offset delta i */
    int substitute_now;     /* timestamps < 0 become now_ms (fresh appends, not compaction) */
    int64_t now_ms;
} encode_plan;

/* The most bytes a record takes besides the bytes of its key, value, header count and headers:
 * length (5), attributes (1), timestamp delta (10), offset delta (5), key and value lengths
 * (5 each). record_put writes a record no further than this past those bytes. */
#define RECORD_OVERHEAD_MAX                                                                        \
    (EDDY_VARINT32_MAX_BYTES + 1 + EDDY_VARINT64_MAX_BYTES + 3 * EDDY_VARINT32_MAX_BYTES)

static int64_t plan_timestamp(const encode_plan *plan, size_t i)
{
    int64_t ts = plan->records[i].timestamp_ms;
    return plan->substitute_now && ts < 0 ? plan->now_ms : ts;
}

/* Timestamp deltas wrap in two's complement rather than overflow, so any pair of int64
 * timestamps round-trips (the decoder adds back with the same wrapping). */
static int64_t plan_timestamp_delta(const encode_plan *plan, size_t i)
{
    return (int64_t)((uint64_t)plan_timestamp(plan, i) - (uint64_t)plan->h.first_timestamp);
}

/* Never negative: offsets are asserted to lie in [base offset, last offset]. */
static int32_t plan_offset_delta(const encode_plan *plan, size_t i)
{
    if (!plan->offsets)
        return (int32_t)i;
    return (int32_t)(plan->offsets[i] - plan->h.base_offset);
}

/* Bytes a key, value or header value takes: its length varint and its bytes. */
static uint64_t slice_size(eddy_slice s)
{
    if (!s.data)
        return 1;
    return varint_size_length(s.len) + s.len;
}

/* Bytes of a record's header count and headers. */
static uint64_t headers_size(const eddy_record *r)
{
    uint64_t size = varint_size_length(r->header_count);
    for (size_t k = 0; k < r->header_count; k++) {
        size += varint_size_length(r->headers[k].key.len) + r->headers[k].key.len;
        size += slice_size(r->headers[k].value);
    }
    return size;
}

/* Bytes of record i after its length field. Every slice length must already be checked to be
 * at most EDDY_BATCH_BYTES_MAX, so the sum cannot overflow 64 bits. */
static uint64_t record_body_size(const encode_plan *plan, size_t i)
{
    const eddy_record *r = &plan->records[i];
    uint64_t size = 1; /* attributes */
    size += varint_size_i64(plan_timestamp_delta(plan, i));
    size += varint_size_length((uint64_t)plan_offset_delta(plan, i));
    size += slice_size(r->key) + slice_size(r->value);
    size += headers_size(r);
    return size;
}

/* Refuses a record whose sizes the format (or our limits) cannot carry. */
static eddy_err record_check(const eddy_record *r, size_t i)
{
    if (r->key.len > EDDY_BATCH_BYTES_MAX || r->value.len > EDDY_BATCH_BYTES_MAX)
        return eddy__fail(EDDY_ERR_TOO_LARGE,
                          "record %zu: key of %zu bytes or value of %zu bytes is above the "
                          "%u-byte batch limit",
                          i, r->key.len, r->value.len, EDDY_BATCH_BYTES_MAX);
    if (r->header_count > EDDY_RECORD_HEADERS_MAX)
        return eddy__fail(EDDY_ERR_TOO_LARGE, "record %zu: %zu headers, above the limit of %d", i,
                          r->header_count, EDDY_RECORD_HEADERS_MAX);
    EDDY_ASSERT(r->header_count == 0 || r->headers);
    for (size_t k = 0; k < r->header_count; k++) {
        const eddy_header *hd = &r->headers[k];
        EDDY_ASSERT(hd->key.data || hd->key.len == 0);
        if (hd->key.len > EDDY_BATCH_BYTES_MAX || hd->value.len > EDDY_BATCH_BYTES_MAX)
            return eddy__fail(EDDY_ERR_TOO_LARGE,
                              "record %zu: header %zu is above the %u-byte batch limit", i, k,
                              EDDY_BATCH_BYTES_MAX);
    }
    return EDDY_OK;
}

/* Checks every record, completes the max timestamp when the plan computes it, and returns the
 * batch's exact size, stopping as soon as it passes EDDY_BATCH_BYTES_MAX. The order of its
 * checks decides which error a bad batch gets. */
static eddy_err plan_size(encode_plan *plan, size_t *total_out)
{
    uint64_t total = EDDY_BATCH_HEADER_SIZE;
    for (size_t i = 0; i < plan->count; i++) {
        eddy_err err = record_check(&plan->records[i], i);
        if (err != EDDY_OK)
            return err;
        if (plan->substitute_now) {
            int64_t ts = plan_timestamp(plan, i);
            if (ts > plan->h.max_timestamp)
                plan->h.max_timestamp = ts;
        }
        /* A body above INT32_MAX (many large headers) is sized as the longer varint it cannot
         * be; either way it takes the total past the limit. */
        uint64_t body = record_body_size(plan, i);
        total += varint_size_length(body) + body;
        if (total > EDDY_BATCH_BYTES_MAX)
            return eddy__fail(EDDY_ERR_TOO_LARGE,
                              "record batch of %zu records: record %zu takes it past the "
                              "%u-byte limit",
                              plan->count, i, EDDY_BATCH_BYTES_MAX);
    }
    *total_out = (size_t)total;
    return EDDY_OK;
}

/* memcpy, with the short lengths of typical keys done as two overlapping moves rather than a
 * library call. len may be 0 (src is then not read, and may be NULL). */
static inline void copy_bytes(uint8_t *p, const uint8_t *src, size_t len)
{
    if (len > 16) {
        memcpy(p, src, len);
    } else if (len >= 8) {
        uint64_t head, tail;
        memcpy(&head, src, 8);
        memcpy(&tail, src + len - 8, 8);
        memcpy(p, &head, 8);
        memcpy(p + len - 8, &tail, 8);
    } else if (len >= 4) {
        uint32_t head, tail;
        memcpy(&head, src, 4);
        memcpy(&tail, src + len - 4, 4);
        memcpy(p, &head, 4);
        memcpy(p + len - 4, &tail, 4);
    } else {
        for (size_t k = 0; k < len; k++)
            p[k] = src[k];
    }
}

static inline uint8_t *put_slice(uint8_t *p, eddy_slice s)
{
    if (!s.data) {
        *p++ = VARINT_MINUS_ONE;
        return p;
    }
    p += varint_put_length(p, s.len);
    copy_bytes(p, s.data, s.len);
    return p + s.len;
}

static void header_put(uint8_t *b, const eddy__batch_header *h)
{
    eddy__be64_put(b + BATCH_OFFSET_BASE_OFFSET, (uint64_t)h->base_offset);
    eddy__be32_put(b + BATCH_OFFSET_LENGTH, (uint32_t)h->length);
    eddy__be32_put(b + BATCH_OFFSET_LEADER_EPOCH, (uint32_t)h->partition_leader_epoch);
    b[BATCH_OFFSET_MAGIC] = (uint8_t)h->magic;
    eddy__be32_put(b + EDDY_BATCH_CRC_OFFSET, 0); /* filled in last */
    eddy__be16_put(b + EDDY_BATCH_ATTRIBUTES_OFFSET, (uint16_t)h->attributes);
    eddy__be32_put(b + BATCH_OFFSET_LAST_OFFSET_DELTA, (uint32_t)h->last_offset_delta);
    eddy__be64_put(b + BATCH_OFFSET_FIRST_TIMESTAMP, (uint64_t)h->first_timestamp);
    eddy__be64_put(b + BATCH_OFFSET_MAX_TIMESTAMP, (uint64_t)h->max_timestamp);
    eddy__be64_put(b + BATCH_OFFSET_PRODUCER_ID, (uint64_t)h->producer_id);
    eddy__be16_put(b + BATCH_OFFSET_PRODUCER_EPOCH, (uint16_t)h->producer_epoch);
    eddy__be32_put(b + BATCH_OFFSET_BASE_SEQUENCE, (uint32_t)h->base_sequence);
    eddy__be32_put(b + BATCH_OFFSET_RECORD_COUNT, (uint32_t)h->record_count);
}

/* Writes a record's header count and headers at p; returns the byte after them. */
static uint8_t *headers_put(uint8_t *p, const eddy_record *r)
{
    p += varint_put_length(p, r->header_count);
    for (size_t k = 0; k < r->header_count; k++) {
        const eddy_header *hd = &r->headers[k];
        p += varint_put_length(p, hd->key.len);
        copy_bytes(p, hd->key.data, hd->key.len);
        p += hd->key.len;
        p = put_slice(p, hd->value);
    }
    return p;
}

/* Writes record i at p with the given deltas and returns the byte after it; or returns NULL,
 * having written nothing to rely on, when record_check refuses the record or when the record
 * might not fit before `end` (whatever the varints' sizes: RECORD_OVERHEAD_MAX). A record
 * without headers whose key and value are below the limit, nearly every record, needs one
 * comparison for record_check's part.
 *
 * The record's length comes first but is a varint of the size of what follows, known only
 * once written. So the body is written after *guess bytes, the previous record's length size
 * (records in a batch tend to be alike); when the length needs another size, the body moves
 * (within the record's worst case, the body starting at most 5 bytes in) and the guess follows.
 *
 * The record's fields are read before any byte is written: stores through p may alias
 * anything, so the compiler would load them again after every store. The function is forced
 * inline into both loops of plan_put_records: GCC keeps it out of line otherwise, which costs
 * a tenth of the encoding time. */
__attribute__((always_inline)) static inline uint8_t *
record_put(uint8_t *p, const uint8_t *end, const eddy_record *r, size_t i, int64_t timestamp_delta,
           int32_t offset_delta, size_t *guess)
{
    eddy_slice key = r->key;
    eddy_slice value = r->value;
    size_t header_count = r->header_count;
    uint64_t headers = 1; /* the header count of a record without headers */
    if ((key.len | value.len) >= EDDY_BATCH_BYTES_MAX || header_count != 0) {
        if (record_check(r, i) != EDDY_OK)
            return NULL;
        headers = headers_size(r);
    }
    uint64_t bytes = (key.data ? key.len : 0) + (value.data ? value.len : 0) + headers;
    if (bytes + RECORD_OVERHEAD_MAX > (uint64_t)(end - p))
        return NULL;
    uint8_t *body = p + *guess;
    uint8_t *q = body;
    *q++ = 0; /* attributes */
    q += varint_put_i64(q, timestamp_delta);
    q += varint_put_length(q, (size_t)offset_delta);
    q = put_slice(q, key);
    q = put_slice(q, value);
    if (header_count == 0)
        *q++ = 0; /* the varint of 0 */
    else
        q = headers_put(q, r);
    size_t body_size = (size_t)(q - body);
    size_t length_size = varint_size_length(body_size);
    if (length_size != *guess) {
        memmove(p + length_size, body, body_size);
        *guess = length_size;
    }
    varint_put_length(p, body_size);
    return p + length_size + body_size;
}

/* Writes the plan's records from p on, and the max timestamp when the plan computes it.
 * Returns the byte after the last record, or NULL when record_put refused one: then end - p
 * was too small, or plan_size will return an error. With end - p at least the records' exact
 * size plus RECORD_OVERHEAD_MAX, every record of a batch that plan_size accepts fits: a record
 * takes at least 6 bytes besides the ones record_put counts, so the room it asks for exceeds
 * its exact size by less than RECORD_OVERHEAD_MAX.
 *
 * Fresh appends (offset delta i, timestamps < 0 meaning now) have a loop of their own, with
 * the plan's fields in locals, as they are most of what eddy encodes. */
static uint8_t *plan_put_records(uint8_t *p, const uint8_t *end, encode_plan *plan)
{
    const eddy_record *records = plan->records;
    size_t count = plan->count;
    size_t guess = 1;
    if (plan->offsets || !plan->substitute_now) {
        for (size_t i = 0; i < count && p; i++)
            p = record_put(p, end, &records[i], i, plan_timestamp_delta(plan, i),
                           plan_offset_delta(plan, i), &guess);
        return p;
    }
    int64_t now_ms = plan->now_ms;
    uint64_t first_timestamp = (uint64_t)plan->h.first_timestamp;
    int64_t max_timestamp = plan->h.max_timestamp;
    for (size_t i = 0; i < count && p; i++) {
        int64_t ts = records[i].timestamp_ms < 0 ? now_ms : records[i].timestamp_ms;
        max_timestamp = ts > max_timestamp ? ts : max_timestamp;
        p = record_put(p, end, &records[i], i, (int64_t)((uint64_t)ts - first_timestamp),
                       (int32_t)i, &guess);
    }
    if (p)
        plan->h.max_timestamp = max_timestamp;
    return p;
}

/* Encodes in one pass over the records when out already has the room (the appender reuses its
 * buffer, so after the first batches it does): the records are checked as they are written
 * into the spare capacity, and nothing counts until out->len grows at the end. Otherwise, and
 * when a record is refused or the batch is too large, plan_size sizes the batch exactly and
 * picks the error, out grows once, and the records are written again. Then the header and the
 * CRC. */
static eddy_err plan_encode(eddy__buf *out, encode_plan *plan)
{
    /* Room beyond this cannot be needed by a batch within the limit: it bounds the work spent
     * on one that is not. */
    size_t room = out->cap - out->len;
    if (room > (size_t)EDDY_BATCH_BYTES_MAX + RECORD_OVERHEAD_MAX)
        room = (size_t)EDDY_BATCH_BYTES_MAX + RECORD_OVERHEAD_MAX;
    uint8_t *b = NULL;
    uint8_t *p = NULL;
    if (room >= EDDY_BATCH_HEADER_SIZE + RECORD_OVERHEAD_MAX) {
        b = out->data + out->len;
        p = plan_put_records(b + EDDY_BATCH_HEADER_SIZE, b + room, plan);
    }
    if (!p || (size_t)(p - b) > EDDY_BATCH_BYTES_MAX) {
        size_t total = 0;
        eddy_err err = plan_size(plan, &total);
        if (err != EDDY_OK)
            return err;
        size_t reserve = total + RECORD_OVERHEAD_MAX;
        err = eddy__buf_reserve(out, reserve);
        if (err != EDDY_OK)
            return eddy__fail(err, "record batch of %zu records: cannot reserve %zu bytes",
                              plan->count, reserve);
        b = out->data + out->len;
        p = plan_put_records(b + EDDY_BATCH_HEADER_SIZE, b + reserve, plan);
        EDDY_ASSERT(p && (size_t)(p - b) == total);
    }
    size_t total = (size_t)(p - b);
    plan->h.length = (int32_t)(total - EDDY_BATCH_LOG_OVERHEAD);
    header_put(b, &plan->h);
    uint32_t crc =
        eddy__crc32c(0, b + EDDY_BATCH_ATTRIBUTES_OFFSET, total - EDDY_BATCH_ATTRIBUTES_OFFSET);
    eddy__be32_put(b + EDDY_BATCH_CRC_OFFSET, crc);
    out->len += total;
    return EDDY_OK;
}

eddy_err eddy__batch_encode(eddy__buf *out, const eddy_record *records, size_t count,
                            int64_t now_ms)
{
    EDDY_ASSERT(out);
    EDDY_ASSERT(records);
    EDDY_ASSERT(count >= 1);
    if (count > EDDY_BATCH_RECORDS_MAX)
        return eddy__fail(EDDY_ERR_TOO_LARGE, "record batch of %zu records: above the limit of %d",
                          count, EDDY_BATCH_RECORDS_MAX);
    encode_plan plan = {
        .records = records,
        .count = count,
        .offsets = NULL,
        .substitute_now = 1,
        .now_ms = now_ms,
    };
    plan.h.base_offset = 0;
    plan.h.partition_leader_epoch = 0;
    plan.h.magic = BATCH_MAGIC;
    plan.h.attributes = 0;
    plan.h.last_offset_delta = (int32_t)(count - 1);
    plan.h.first_timestamp = plan_timestamp(&plan, 0);
    plan.h.max_timestamp = plan.h.first_timestamp; /* raised by plan_size */
    plan.h.producer_id = -1;
    plan.h.producer_epoch = -1;
    plan.h.base_sequence = -1;
    plan.h.record_count = (int32_t)count;
    return plan_encode(out, &plan);
}

/* For compaction. Besides what batch.h lists, the partition leader epoch is kept from `like`
 * too, as Kafka's log cleaner does; compression bits are dropped because the records are
 * written uncompressed. Record timestamps are written as they are (no "now"), as deltas from
 * like's first timestamp. */
eddy_err eddy__batch_encode_at(eddy__buf *out, const eddy__batch_header *like, int64_t base_offset,
                               int64_t last_offset, const eddy_record *records,
                               const int64_t *offsets, size_t count)
{
    EDDY_ASSERT(out);
    EDDY_ASSERT(like);
    EDDY_ASSERT(count == 0 || (records && offsets));
    EDDY_ASSERT(base_offset >= 0);
    EDDY_ASSERT(last_offset >= base_offset);
    EDDY_ASSERT(last_offset - base_offset <= INT32_MAX);
    for (size_t i = 0; i < count; i++) {
        EDDY_ASSERT(offsets[i] >= base_offset && offsets[i] <= last_offset);
        EDDY_ASSERT(i == 0 || offsets[i] > offsets[i - 1]);
    }
    if (count > EDDY_BATCH_RECORDS_MAX)
        return eddy__fail(EDDY_ERR_TOO_LARGE, "record batch of %zu records: above the limit of %d",
                          count, EDDY_BATCH_RECORDS_MAX);
    encode_plan plan = {
        .h = *like,
        .records = records,
        .count = count,
        .offsets = offsets,
        .substitute_now = 0,
        .now_ms = 0,
    };
    plan.h.base_offset = base_offset;
    plan.h.magic = BATCH_MAGIC;
    plan.h.attributes = (int16_t)(like->attributes & ~EDDY_BATCH_ATTR_COMPRESSION_MASK);
    plan.h.last_offset_delta = (int32_t)(last_offset - base_offset);
    plan.h.record_count = (int32_t)count;
    return plan_encode(out, &plan);
}

void eddy__batch_set_base_offset(uint8_t *batch, int64_t base_offset)
{
    EDDY_ASSERT(batch);
    EDDY_ASSERT(base_offset >= 0);
    eddy__be64_put(batch + BATCH_OFFSET_BASE_OFFSET, (uint64_t)base_offset);
}

/* ------------------------------------------------------------------------------------------ */
/* Header and CRC                                                                             */

static void header_get(const uint8_t *p, eddy__batch_header *h)
{
    h->base_offset = (int64_t)eddy__be64_get(p + BATCH_OFFSET_BASE_OFFSET);
    h->length = (int32_t)eddy__be32_get(p + BATCH_OFFSET_LENGTH);
    h->partition_leader_epoch = (int32_t)eddy__be32_get(p + BATCH_OFFSET_LEADER_EPOCH);
    h->magic = (int8_t)p[BATCH_OFFSET_MAGIC];
    h->crc = eddy__be32_get(p + EDDY_BATCH_CRC_OFFSET);
    h->attributes = (int16_t)eddy__be16_get(p + EDDY_BATCH_ATTRIBUTES_OFFSET);
    h->last_offset_delta = (int32_t)eddy__be32_get(p + BATCH_OFFSET_LAST_OFFSET_DELTA);
    h->first_timestamp = (int64_t)eddy__be64_get(p + BATCH_OFFSET_FIRST_TIMESTAMP);
    h->max_timestamp = (int64_t)eddy__be64_get(p + BATCH_OFFSET_MAX_TIMESTAMP);
    h->producer_id = (int64_t)eddy__be64_get(p + BATCH_OFFSET_PRODUCER_ID);
    h->producer_epoch = (int16_t)eddy__be16_get(p + BATCH_OFFSET_PRODUCER_EPOCH);
    h->base_sequence = (int32_t)eddy__be32_get(p + BATCH_OFFSET_BASE_SEQUENCE);
    h->record_count = (int32_t)eddy__be32_get(p + BATCH_OFFSET_RECORD_COUNT);
}

/* The header checks that need no bytes beyond the header (see CORRUPT VERSUS INCOMPLETE). */
static eddy_err header_validate(const eddy__batch_header *h)
{
    long long base = (long long)h->base_offset;
    if (h->magic != BATCH_MAGIC)
        return eddy__fail(EDDY_ERR_CORRUPT,
                          "record batch at offset %lld: magic %d (eddy reads RecordBatch v2, "
                          "magic 2)",
                          base, h->magic);
    if (h->length < BATCH_LENGTH_MIN || (uint32_t)h->length > EDDY_BATCH_BYTES_MAX)
        return eddy__fail(EDDY_ERR_CORRUPT,
                          "record batch at offset %lld: batch length %d outside [%d, %u]", base,
                          h->length, BATCH_LENGTH_MIN, EDDY_BATCH_BYTES_MAX);
    if (h->base_offset < 0 || h->last_offset_delta < 0 ||
        h->base_offset > INT64_MAX - h->last_offset_delta)
        return eddy__fail(EDDY_ERR_CORRUPT,
                          "record batch at offset %lld: impossible offset range (last offset "
                          "delta %d)",
                          base, h->last_offset_delta);
    if (h->record_count < 0 || h->record_count > EDDY_BATCH_RECORDS_MAX ||
        (int64_t)h->record_count > (int64_t)h->last_offset_delta + 1)
        return eddy__fail(EDDY_ERR_CORRUPT,
                          "record batch at offset %lld: record count %d outside [0, %lld]", base,
                          h->record_count, (long long)h->last_offset_delta + 1);
    /* A compressed body can hold more records than its bytes would uncompressed. */
    if ((h->attributes & EDDY_BATCH_ATTR_COMPRESSION_MASK) == 0 &&
        (int64_t)h->record_count * RECORD_BYTES_MIN > (int64_t)h->length - BATCH_LENGTH_MIN)
        return eddy__fail(EDDY_ERR_CORRUPT,
                          "record batch at offset %lld: %d records cannot fit in %d bytes", base,
                          h->record_count, h->length - BATCH_LENGTH_MIN);
    return EDDY_OK;
}

/* EDDY_ERR_END is an ordinary outcome at the tail of a log (a reader polling, a torn write
 * found by recovery), so it leaves no error message; it is also cheap. */
eddy_err eddy__batch_parse_header(const uint8_t *p, size_t avail, eddy__batch_header *h)
{
    EDDY_ASSERT(h);
    EDDY_ASSERT(p || avail == 0);
    if (avail < EDDY_BATCH_HEADER_SIZE)
        return EDDY_ERR_END;
    header_get(p, h);
    eddy_err err = header_validate(h);
    if (err != EDDY_OK)
        return err;
    if (avail < eddy__batch_size(h))
        return EDDY_ERR_END;
    return EDDY_OK;
}

eddy_err eddy__batch_check_crc(const uint8_t *batch, const eddy__batch_header *h)
{
    EDDY_ASSERT(batch);
    EDDY_ASSERT(h);
    EDDY_ASSERT(h->length >= BATCH_LENGTH_MIN);
    size_t covered = eddy__batch_size(h) - EDDY_BATCH_ATTRIBUTES_OFFSET;
    uint32_t crc = eddy__crc32c(0, batch + EDDY_BATCH_ATTRIBUTES_OFFSET, covered);
    if (crc != h->crc)
        return eddy__fail(EDDY_ERR_CORRUPT,
                          "record batch at offset %lld: CRC-32C mismatch (stored 0x%08x, "
                          "computed 0x%08x over %zu bytes)",
                          (long long)h->base_offset, (unsigned)h->crc, (unsigned)crc, covered);
    return EDDY_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Record iteration                                                                           */

void eddy__record_iter_init(eddy__record_iter *it, const uint8_t *batch,
                            const eddy__batch_header *h)
{
    EDDY_ASSERT(it);
    it->headers = NULL;
    it->headers_cap = 0;
    eddy__record_iter_reset(it, batch, h);
}

void eddy__record_iter_reset(eddy__record_iter *it, const uint8_t *batch,
                             const eddy__batch_header *h)
{
    EDDY_ASSERT(it);
    EDDY_ASSERT(batch);
    EDDY_ASSERT(h);
    EDDY_ASSERT(h->length >= BATCH_LENGTH_MIN);
    it->h = *h;
    it->p = batch + EDDY_BATCH_HEADER_SIZE;
    it->end = batch + eddy__batch_size(h);
    it->index = 0;
    it->next_offset_delta_min = 0;
}

void eddy__record_iter_free(eddy__record_iter *it)
{
    if (!it)
        return;
    eddy__free(it->headers);
    it->headers = NULL;
    it->headers_cap = 0;
}

/* Marks the iterator failed (it->p == NULL: every later call answers CORRUPT) and records why,
 * naming the batch and the record. */
static eddy_err iter_corrupt(eddy__record_iter *it, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static eddy_err iter_corrupt(eddy__record_iter *it, const char *fmt, ...)
{
    char detail[EDDY_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    it->p = NULL;
    return eddy__fail(EDDY_ERR_CORRUPT,
                      "record batch at offset %lld: record index %d of %d records: %s",
                      (long long)it->h.base_offset, it->index, it->h.record_count, detail);
}

/* Reads a length-prefixed byte string within [*p, end). Returns 1 with *p advanced, or 0 when
 * the length varint is bad, negative (other than -1 when nullable) or runs past end. */
static int get_bytes(const uint8_t **p, const uint8_t *end, int nullable, eddy_slice *out)
{
    int32_t len;
    size_t n = varint_get_i32(*p, end, &len);
    if (n == 0)
        return 0;
    const uint8_t *q = *p + n;
    if (len == -1 && nullable) {
        out->data = NULL;
        out->len = 0;
    } else {
        if (len < 0 || len > end - q)
            return 0;
        out->data = q;
        out->len = (size_t)len;
        q += len;
    }
    *p = q;
    return 1;
}

/* Makes room for `count` headers (count <= EDDY_RECORD_HEADERS_MAX), growing geometrically so
 * that a reader's allocations stop after the first few records. */
static eddy_err iter_reserve_headers(eddy__record_iter *it, size_t count)
{
    if (count <= it->headers_cap)
        return EDDY_OK;
    size_t cap = it->headers_cap ? it->headers_cap * 2 : 8;
    if (cap < count)
        cap = count;
    if (cap > EDDY_RECORD_HEADERS_MAX)
        cap = EDDY_RECORD_HEADERS_MAX;
    eddy_header *headers = eddy__realloc(it->headers, cap * sizeof(*headers));
    if (!headers)
        return eddy__fail(EDDY_ERR_NO_MEMORY,
                          "record batch at offset %lld: no memory for %zu record headers",
                          (long long)it->h.base_offset, cap);
    it->headers = headers;
    it->headers_cap = cap;
    return EDDY_OK;
}

/* Parses the headers of a record whose bytes run to `end`. */
static eddy_err record_headers_parse(eddy__record_iter *it, const uint8_t **pp, const uint8_t *end,
                                     size_t *count_out)
{
    const uint8_t *p = *pp;
    int32_t count;
    size_t n = varint_get_i32(p, end, &count);
    if (n == 0)
        return iter_corrupt(it, "bad header count varint");
    p += n;
    if (count < 0 || count > EDDY_RECORD_HEADERS_MAX || (int64_t)count * HEADER_BYTES_MIN > end - p)
        return iter_corrupt(it, "header count %d outside [0, %d] or beyond the %td bytes left",
                            count, EDDY_RECORD_HEADERS_MAX, end - p);
    eddy_err err = iter_reserve_headers(it, (size_t)count);
    if (err != EDDY_OK)
        return err;
    for (int32_t k = 0; k < count; k++) {
        eddy_header *hd = &it->headers[k];
        if (!get_bytes(&p, end, 0, &hd->key))
            return iter_corrupt(it, "header %d: bad key length", k);
        if (!get_bytes(&p, end, 1, &hd->value))
            return iter_corrupt(it, "header %d: bad value length", k);
    }
    *pp = p;
    *count_out = (size_t)count;
    return EDDY_OK;
}

/* Parses the record at it->p into rec; it->p moves past it only on success. */
static eddy_err record_parse(eddy__record_iter *it, eddy_record *rec)
{
    const uint8_t *p = it->p;
    int32_t length;
    size_t n = varint_get_i32(p, it->end, &length);
    if (n == 0)
        return iter_corrupt(it, "bad length varint");
    p += n;
    if (length < RECORD_BODY_BYTES_MIN || length > it->end - p)
        return iter_corrupt(it, "length %d outside [%d, %td bytes left in the batch]", length,
                            RECORD_BODY_BYTES_MIN, it->end - p);
    const uint8_t *end = p + length;
    p++; /* attributes: unused by Kafka, ignored */
    int64_t timestamp_delta;
    n = varint_get_i64(p, end, &timestamp_delta);
    if (n == 0)
        return iter_corrupt(it, "bad timestamp delta varint");
    p += n;
    int32_t offset_delta;
    n = varint_get_i32(p, end, &offset_delta);
    if (n == 0)
        return iter_corrupt(it, "bad offset delta varint");
    p += n;
    if (offset_delta < it->next_offset_delta_min || offset_delta > it->h.last_offset_delta)
        return iter_corrupt(it, "offset delta %d outside [%lld, %d]", offset_delta,
                            (long long)it->next_offset_delta_min, it->h.last_offset_delta);
    if (!get_bytes(&p, end, 1, &rec->key))
        return iter_corrupt(it, "bad key length");
    if (!get_bytes(&p, end, 1, &rec->value))
        return iter_corrupt(it, "bad value length");
    size_t header_count = 0;
    eddy_err err = record_headers_parse(it, &p, end, &header_count);
    if (err != EDDY_OK)
        return err;
    if (p != end)
        return iter_corrupt(it, "length %d but its fields end %td bytes earlier", length, end - p);

    rec->headers = header_count ? it->headers : NULL;
    rec->header_count = header_count;
    /* With LogAppendTime the broker's time, kept in maxTimestamp, is every record's time. */
    if (it->h.attributes & EDDY_BATCH_ATTR_TIMESTAMP_TYPE)
        rec->timestamp_ms = it->h.max_timestamp;
    else
        rec->timestamp_ms = (int64_t)((uint64_t)it->h.first_timestamp + (uint64_t)timestamp_delta);
    rec->offset = (int64_t)((uint64_t)it->h.base_offset + (uint64_t)offset_delta);
    it->next_offset_delta_min = (int64_t)offset_delta + 1;
    it->index++;
    it->p = end;
    return EDDY_OK;
}

eddy_err eddy__record_iter_next(eddy__record_iter *it, eddy_record *rec)
{
    EDDY_ASSERT(it);
    EDDY_ASSERT(rec);
    if (!it->p)
        return EDDY_ERR_CORRUPT; /* failed earlier: the message of that failure stands */
    int compression = it->h.attributes & EDDY_BATCH_ATTR_COMPRESSION_MASK;
    if (compression != 0)
        return iter_corrupt(it,
                            "compression codec %d is not supported (eddy reads and writes "
                            "uncompressed batches only)",
                            compression);
    if (it->index >= it->h.record_count) {
        if (it->p != it->end)
            return iter_corrupt(it, "%td bytes after the last record", it->end - it->p);
        return EDDY_ERR_END;
    }
    return record_parse(it, rec);
}
