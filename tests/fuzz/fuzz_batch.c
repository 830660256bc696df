/* libFuzzer target for the RecordBatch v2 decoder (src/log/batch.c), the parser that reads
 * segment files and so sees whatever a crash, a bad disk or a hostile file left there.
 *
 * The input is walked as a segment is: batch after batch, each parsed, CRC-checked and
 * iterated (whatever the CRC said, so that mutated records reach the record parser). Besides
 * "no crash, no out-of-bounds read" (ASan, UBSan), it checks the decoder's promises: answers
 * are only OK / END / CORRUPT, records stay inside their batch with offsets strictly increasing
 * within the batch's range, and a batch that decodes re-encodes (eddy__batch_encode_at, as
 * compaction does) to a batch that decodes to the same records, and re-encodes to the same
 * bytes again.
 *
 *   build: cmake -DEDDY_FUZZ=ON -DCMAKE_C_COMPILER=clang ...
 *   run:   build/fuzz/fuzz_batch -max_total_time=60 NEW_CORPUS_DIR tests/fuzz/corpus/batch
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "log/batch.h"

/* Batches walked per input, and records per batch kept for the re-encoding check. */
#define FUZZ_BATCHES_MAX 64
#define FUZZ_RECORDS_MAX 64

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_batch: check failed: %s (line %d)\n", #cond, __LINE__);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct kept_records {
    eddy_record records[FUZZ_RECORDS_MAX];
    int64_t offsets[FUZZ_RECORDS_MAX];
    eddy_header *headers[FUZZ_RECORDS_MAX]; /* copies: the iterator reuses its array */
    size_t count;
} kept_records;

static void kept_free(kept_records *kept)
{
    for (size_t i = 0; i < kept->count; i++)
        free(kept->headers[i]);
    kept->count = 0;
}

static int slice_equal(eddy_slice a, eddy_slice b)
{
    if ((a.data == NULL) != (b.data == NULL) || a.len != b.len)
        return 0;
    return a.len == 0 || memcmp(a.data, b.data, a.len) == 0;
}

static int slice_inside(eddy_slice s, const uint8_t *begin, const uint8_t *end)
{
    if (!s.data)
        return s.len == 0;
    const uint8_t *p = s.data;
    return p >= begin && p <= end && s.len <= (size_t)(end - p);
}

/* Iterates one parsed batch, checking each record; keeps copies of up to FUZZ_RECORDS_MAX
 * records when `kept` is given. Returns the iterator's final answer. */
static eddy_err walk_records(const uint8_t *batch, const eddy__batch_header *h, kept_records *kept)
{
    const uint8_t *end = batch + eddy__batch_size(h);
    eddy__record_iter it;
    eddy__record_iter_init(&it, batch, h);
    eddy_record rec;
    eddy_err err;
    int32_t n = 0;
    int64_t previous = -1;
    while ((err = eddy__record_iter_next(&it, &rec)) == EDDY_OK) {
        n++;
        FUZZ_CHECK(n <= h->record_count);
        FUZZ_CHECK(rec.offset >= h->base_offset && rec.offset <= eddy__batch_last_offset(h));
        FUZZ_CHECK(rec.offset > previous);
        previous = rec.offset;
        FUZZ_CHECK(slice_inside(rec.key, batch, end) && slice_inside(rec.value, batch, end));
        FUZZ_CHECK(rec.header_count <= 1024);
        for (size_t k = 0; k < rec.header_count; k++)
            FUZZ_CHECK(rec.headers[k].key.data != NULL &&
                       slice_inside(rec.headers[k].key, batch, end) &&
                       slice_inside(rec.headers[k].value, batch, end));
        if (kept && kept->count < FUZZ_RECORDS_MAX) {
            size_t i = kept->count++;
            kept->records[i] = rec;
            kept->offsets[i] = rec.offset;
            kept->headers[i] = NULL;
            if (rec.header_count) {
                kept->headers[i] = malloc(rec.header_count * sizeof(eddy_header));
                FUZZ_CHECK(kept->headers[i] != NULL);
                memcpy(kept->headers[i], rec.headers, rec.header_count * sizeof(eddy_header));
            }
            kept->records[i].headers = kept->headers[i];
        }
    }
    FUZZ_CHECK(err == EDDY_ERR_END || err == EDDY_ERR_CORRUPT || err == EDDY_ERR_NO_MEMORY);
    if (err == EDDY_ERR_END)
        FUZZ_CHECK(n == h->record_count);
    eddy__record_iter_free(&it);
    return err;
}

/* Re-encodes a fully decoded batch as compaction would and checks the round trip. */
static void check_reencode(const eddy__batch_header *h, const kept_records *kept)
{
    eddy__buf once = {0}, twice = {0};
    eddy_err err = eddy__batch_encode_at(&once, h, h->base_offset, eddy__batch_last_offset(h),
                                         kept->records, kept->offsets, kept->count);
    if (err != EDDY_OK) {
        FUZZ_CHECK(err == EDDY_ERR_TOO_LARGE || err == EDDY_ERR_NO_MEMORY);
        return;
    }
    eddy__batch_header h2;
    FUZZ_CHECK(eddy__batch_parse_header(once.data, once.len, &h2) == EDDY_OK);
    FUZZ_CHECK(eddy__batch_size(&h2) == once.len);
    FUZZ_CHECK(eddy__batch_check_crc(once.data, &h2) == EDDY_OK);
    FUZZ_CHECK(h2.base_offset == h->base_offset && h2.last_offset_delta == h->last_offset_delta);
    FUZZ_CHECK(h2.record_count == (int32_t)kept->count);
    kept_records again = {0};
    FUZZ_CHECK(walk_records(once.data, &h2, &again) == EDDY_ERR_END);
    FUZZ_CHECK(again.count == kept->count);
    for (size_t i = 0; i < kept->count; i++) {
        const eddy_record *a = &kept->records[i], *b = &again.records[i];
        FUZZ_CHECK(slice_equal(a->key, b->key) && slice_equal(a->value, b->value));
        FUZZ_CHECK(a->offset == b->offset && a->timestamp_ms == b->timestamp_ms);
        FUZZ_CHECK(a->header_count == b->header_count);
        for (size_t k = 0; k < a->header_count; k++)
            FUZZ_CHECK(slice_equal(a->headers[k].key, b->headers[k].key) &&
                       slice_equal(a->headers[k].value, b->headers[k].value));
    }
    /* Encoding is canonical: encoding the decoded re-encoding gives the same bytes. */
    FUZZ_CHECK(eddy__batch_encode_at(&twice, &h2, h2.base_offset, eddy__batch_last_offset(&h2),
                                     again.records, again.offsets, again.count) == EDDY_OK);
    FUZZ_CHECK(twice.len == once.len && memcmp(twice.data, once.data, once.len) == 0);
    kept_free(&again);
    eddy__buf_free(&once);
    eddy__buf_free(&twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    for (int b = 0; b < FUZZ_BATCHES_MAX && pos < size; b++) {
        eddy__batch_header h;
        eddy_err err = eddy__batch_parse_header(data + pos, size - pos, &h);
        FUZZ_CHECK(err == EDDY_OK || err == EDDY_ERR_END || err == EDDY_ERR_CORRUPT);
        if (err != EDDY_OK)
            break;
        size_t batch_size = eddy__batch_size(&h);
        FUZZ_CHECK(batch_size >= 61 && batch_size <= size - pos);
        err = eddy__batch_check_crc(data + pos, &h);
        FUZZ_CHECK(err == EDDY_OK || err == EDDY_ERR_CORRUPT);
        kept_records kept = {0};
        err = walk_records(data + pos, &h, &kept);
        if (err == EDDY_ERR_END && h.record_count <= FUZZ_RECORDS_MAX)
            check_reencode(&h, &kept);
        kept_free(&kept);
        pos += batch_size;
    }
    return 0;
}
