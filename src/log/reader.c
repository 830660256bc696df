/* Reading one partition: eddy_log_reader, and offset lookup by timestamp.
 *
 * A reader maps one segment at a time read-only. The active segment is mapped with room for
 * its maximum size, so records appended later by any process are read straight from the
 * mapping: the only per-batch cost is three atomic loads of the shared state (partition.c)
 * to learn how far the segment is published; no syscall per record or per batch. A closed
 * segment's length is fixed; the reader keeps its file open, so a segment replaced by
 * compaction or deleted by retention stays readable as it was until the reader moves on.
 *
 * Every batch is checked (header and CRC-32C) before its records are returned; a bad batch
 * stops the reader with EDDY_ERR_CORRUPT naming the file and byte position, and the reader
 * stays there.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/limits.h"
#include "log/log_internal.h"
#include "log/notify.h"

struct eddy_log_reader {
    eddy_log *log;
    eddy__partition *p;
    int64_t segment_base;   /* the mapped segment, -1 when none */
    int fd;                 /* open on the mapped segment */
    const uint8_t *data;
    int64_t mapped;
    int64_t closed_size;    /* the segment's final size once it is closed, else -1 */
    int64_t position;       /* next batch's byte position in the segment */
    int64_t next_offset;    /* offset of the next record to return */
    int64_t skip_before_ms; /* skip batches whose records are all older (offset_for_time) */
    int in_batch;
    int64_t batch_position;
    eddy__record_iter it;
};

static void segment_release(eddy_log_reader *r)
{
    eddy__segment_unmap(r->data, r->mapped);
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    r->data = NULL;
    r->mapped = 0;
    r->segment_base = -1;
    r->in_batch = 0;
}

static eddy_err segment_attach(eddy_log_reader *r, int64_t base)
{
    char path[EDDY_PATH_MAX];
    segment_release(r);
    eddy__segment_path(r->p->dir, base, ".log", path, sizeof(path));
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
        return eddy__fail_errno(errno, "cannot open segment %s", path);
    /* Room for the segment to grow to its limit plus one oversized batch. */
    int64_t reserve = r->p->settings.segment_bytes + EDDY_BATCH_BYTES_MAX;
    int64_t size;
    eddy_err err = eddy__segment_map(path, reserve, &r->data, &size, &r->mapped);
    if (err != EDDY_OK) {
        close(r->fd);
        r->fd = -1;
        return err;
    }
    r->segment_base = base;
    r->closed_size = -1;
    r->position = 0;
    return EDDY_OK;
}

/* How many bytes of the mapped segment are readable now. */
static int64_t readable_limit(eddy_log_reader *r)
{
    if (r->closed_size >= 0)
        return r->closed_size;
    int64_t base, size;
    eddy__partition_active(r->p, &base, &size);
    if (base == r->segment_base)
        return size;
    /* The segment was rolled: its length is final now. */
    struct stat st;
    if (fstat(r->fd, &st) == 0)
        r->closed_size = st.st_size;
    return r->closed_size >= 0 ? r->closed_size : 0;
}

/* The segment holding `offset`: the last segment whose base is <= offset. */
static eddy_err segment_for_offset(eddy__partition *p, int64_t offset, int64_t *base)
{
    int64_t *bases;
    size_t count;
    eddy_err err = eddy__segment_list(p->dir, &bases, &count);
    if (err != EDDY_OK)
        return err;
    if (count == 0) {
        eddy__free(bases);
        return eddy__fail(EDDY_ERR_CORRUPT, "partition %s has no segments", p->dir);
    }
    *base = bases[0];
    for (size_t i = 0; i < count && bases[i] <= offset; i++)
        *base = bases[i];
    eddy__free(bases);
    return EDDY_OK;
}

/* The first segment after the current one, or EDDY_ERR_END when there is none yet. */
static eddy_err segment_next(eddy_log_reader *r)
{
    int64_t *bases;
    size_t count;
    eddy_err err = eddy__segment_list(r->p->dir, &bases, &count);
    if (err != EDDY_OK)
        return err;
    int64_t next = -1;
    for (size_t i = 0; i < count; i++) {
        if (bases[i] > r->segment_base) {
            next = bases[i];
            break;
        }
    }
    eddy__free(bases);
    if (next < 0)
        return EDDY_ERR_END;
    if (r->next_offset < atomic_load(&r->p->state->start_offset))
        return eddy__fail(EDDY_ERR_OFFSET_OUT_OF_RANGE,
                          "topic '%s' partition %d: offset %" PRId64
                          " was deleted by retention (log starts at %" PRId64 ")",
                          r->p->topic, r->p->id, r->next_offset,
                          atomic_load(&r->p->state->start_offset));
    return segment_attach(r, next);
}

static eddy_err corrupt_at(eddy_log_reader *r, int64_t position, const char *what)
{
    return eddy__fail(EDDY_ERR_CORRUPT,
                      "corrupt batch in %s/%020" PRId64 ".log at byte %" PRId64 ": %s",
                      r->p->dir, r->segment_base, position, what);
}

/* Moves to the next batch holding records at or after next_offset. EDDY_ERR_END at the end. */
static eddy_err batch_load_next(eddy_log_reader *r)
{
    for (;;) {
        int64_t limit = readable_limit(r);
        if (r->position >= limit) {
            if (r->position > limit)
                return corrupt_at(r, r->position, "segment is shorter than its published size");
            if (r->closed_size < 0)
                return EDDY_ERR_END;
            eddy_err err = segment_next(r);
            if (err != EDDY_OK)
                return err;
            continue;
        }
        eddy__batch_header h;
        const uint8_t *batch = r->data + r->position;
        eddy_err err = eddy__batch_parse_header(batch, (size_t)(limit - r->position), &h);
        if (err == EDDY_OK)
            err = eddy__batch_check_crc(batch, &h);
        if (err != EDDY_OK)
            return corrupt_at(r, r->position, eddy_last_error());
        int64_t position = r->position;
        r->position += (int64_t)eddy__batch_size(&h);
        if (eddy__batch_last_offset(&h) < r->next_offset || h.record_count == 0 ||
            h.max_timestamp < r->skip_before_ms)
            continue;
        eddy__record_iter_reset(&r->it, batch, &h);
        r->in_batch = 1;
        r->batch_position = position;
        return EDDY_OK;
    }
}

/* The next record from the current batch at or after next_offset. EDDY_ERR_END when done. */
static eddy_err batch_next_record(eddy_log_reader *r, eddy_record *record)
{
    for (;;) {
        eddy_err err = eddy__record_iter_next(&r->it, record);
        if (err == EDDY_ERR_END) {
            r->in_batch = 0;
            return err;
        }
        if (err == EDDY_ERR_NO_MEMORY) {
            r->in_batch = 0;
            r->position = r->batch_position; /* retried from this batch on the next call */
            return err;
        }
        if (err != EDDY_OK) {
            r->in_batch = 0;
            r->position = r->batch_position;
            return corrupt_at(r, r->batch_position, eddy_last_error());
        }
        if (record->offset < r->next_offset || record->timestamp_ms < r->skip_before_ms)
            continue;
        if (r->it.h.attributes & EDDY_BATCH_ATTR_TIMESTAMP_TYPE)
            record->timestamp_ms = r->it.h.max_timestamp; /* LogAppendTime */
        record->topic = r->p->topic;
        record->partition = r->p->id;
        r->next_offset = record->offset + 1;
        return EDDY_OK;
    }
}

/* One attempt to read without waiting: EDDY_OK, EDDY_ERR_END, or an error. */
static eddy_err reader_try(eddy_log_reader *r, eddy_record *record)
{
    for (;;) {
        if (r->in_batch) {
            eddy_err err = batch_next_record(r, record);
            if (err != EDDY_ERR_END)
                return err;
        }
        eddy_err err = batch_load_next(r);
        if (err != EDDY_OK)
            return err;
    }
}

eddy_err eddy_log_reader_next(eddy_log_reader *r, int timeout_ms, eddy_record *record)
{
    eddy_err err = reader_try(r, record);
    if (err != EDDY_ERR_END)
        return err;
    int64_t deadline_ns = eddy__monotonic_ns() + (int64_t)timeout_ms * 1000000;
    while (timeout_ms != 0) {
        uint32_t seen = eddy__log_notify_seq(r->log);
        if ((err = reader_try(r, record)) != EDDY_ERR_END)
            return err;
        int left_ms = -1;
        if (timeout_ms > 0) {
            int64_t left_ns = deadline_ns - eddy__monotonic_ns();
            if (left_ns <= 0)
                break;
            left_ms = (int)((left_ns + 999999) / 1000000);
        }
        eddy__log_notify_wait(r->log, seen, left_ms);
    }
    return eddy__fail(EDDY_ERR_TIMED_OUT, "end of topic '%s' partition %d at offset %" PRId64,
                      r->p->topic, r->p->id, r->next_offset);
}

/* Points the reader at `offset` inside its segment, using the offset index as a hint. */
static void position_in_segment(eddy_log_reader *r, int64_t offset)
{
    char path[EDDY_PATH_MAX];
    int64_t position = 0;
    eddy__segment_path(r->p->dir, r->segment_base, ".index", path, sizeof(path));
    if (eddy__index_lookup(path, r->segment_base, offset, &position) != EDDY_OK)
        position = 0;
    /* The index is a hint: use its position only when a valid batch at or before the
     * offset starts there. */
    int64_t limit = readable_limit(r);
    eddy__batch_header h;
    if (position > 0 &&
        (position >= limit ||
         eddy__batch_parse_header(r->data + position, (size_t)(limit - position), &h) != EDDY_OK ||
         eddy__batch_check_crc(r->data + position, &h) != EDDY_OK || h.base_offset > offset))
        position = 0;
    r->position = position;
}

eddy_err eddy_log_reader_seek(eddy_log_reader *r, int64_t offset)
{
    eddy__partition_state *s = r->p->state;
    int64_t start = atomic_load(&s->start_offset), end = atomic_load(&s->end_offset);
    if (offset == EDDY_OFFSET_BEGINNING)
        offset = start;
    else if (offset == EDDY_OFFSET_END)
        offset = end;
    if (offset < start || offset > end)
        return eddy__fail(EDDY_ERR_OFFSET_OUT_OF_RANGE,
                          "topic '%s' partition %d: offset %" PRId64
                          " is out of range (log holds %" PRId64 " to %" PRId64 ")",
                          r->p->topic, r->p->id, offset, start, end);
    int64_t base = -1;
    eddy_err err = segment_for_offset(r->p, offset, &base);
    if (err == EDDY_OK && base != r->segment_base)
        err = segment_attach(r, base);
    if (err != EDDY_OK)
        return err;
    r->in_batch = 0;
    r->next_offset = offset;
    position_in_segment(r, offset);
    return EDDY_OK;
}

eddy_err eddy_log_reader_new(eddy_log *log, const char *topic, int32_t partition, int64_t offset,
                             eddy_log_reader **out)
{
    eddy__partition *p;
    eddy_err err = eddy__log_partition(log, topic, partition, &p);
    if (err != EDDY_OK)
        return err;
    eddy_log_reader *r = eddy__calloc(1, sizeof(*r));
    if (!r)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "out of memory");
    r->log = log;
    r->p = p;
    r->fd = -1;
    r->segment_base = -1;
    r->skip_before_ms = INT64_MIN;
    if ((err = eddy_log_reader_seek(r, offset)) != EDDY_OK) {
        eddy_log_reader_destroy(r);
        return err;
    }
    *out = r;
    return EDDY_OK;
}

void eddy_log_reader_destroy(eddy_log_reader *r)
{
    if (!r)
        return;
    segment_release(r);
    eddy__record_iter_free(&r->it);
    eddy__free(r);
}

int64_t eddy_log_reader_position(const eddy_log_reader *r)
{
    return r->next_offset;
}

/* The largest timestamp in a segment: the final time-index entry of a closed segment, the
 * shared state's figure for the active one. INT64_MIN when unknown (then it is scanned). */
static int64_t segment_max_timestamp(eddy__partition *p, int64_t base)
{
    int64_t active_base, size;
    eddy__partition_active(p, &active_base, &size);
    if (base == active_base)
        return atomic_load(&p->state->active_max_timestamp);
    char path[EDDY_PATH_MAX];
    int64_t ts, relative;
    eddy__segment_path(p->dir, base, ".timeindex", path, sizeof(path));
    if (eddy__timeindex_last(path, &ts, &relative) == EDDY_OK)
        return ts;
    return INT64_MAX; /* unknown: scan it */
}

/* The first segment that may hold a record at or after timestamp_ms, and where in it to start. */
static eddy_err time_start(eddy__partition *p, int64_t timestamp_ms, int64_t *offset)
{
    int64_t *bases;
    size_t count;
    eddy_err err = eddy__segment_list(p->dir, &bases, &count);
    if (err != EDDY_OK)
        return err;
    *offset = atomic_load(&p->state->end_offset);
    for (size_t i = 0; i < count; i++) {
        if (segment_max_timestamp(p, bases[i]) < timestamp_ms)
            continue;
        char path[EDDY_PATH_MAX];
        eddy__segment_path(p->dir, bases[i], ".timeindex", path, sizeof(path));
        err = eddy__timeindex_lookup(path, bases[i], timestamp_ms, offset);
        break;
    }
    eddy__free(bases);
    int64_t start = atomic_load(&p->state->start_offset);
    if (*offset < start)
        *offset = start;
    return err;
}

eddy_err eddy_log_offset_for_time(eddy_log *log, const char *topic, int32_t partition,
                                  int64_t timestamp_ms, int64_t *offset)
{
    eddy__partition *p;
    eddy_err err = eddy__log_partition(log, topic, partition, &p);
    int64_t start;
    if (err == EDDY_OK)
        err = time_start(p, timestamp_ms, &start);
    if (err != EDDY_OK)
        return err;
    eddy_log_reader *r;
    if ((err = eddy_log_reader_new(log, topic, partition, start, &r)) != EDDY_OK)
        return err;
    r->skip_before_ms = timestamp_ms;
    eddy_record record;
    err = reader_try(r, &record);
    if (err == EDDY_OK)
        *offset = record.offset;
    else if (err == EDDY_ERR_END) {
        *offset = atomic_load(&p->state->end_offset);
        err = EDDY_OK;
    }
    eddy_log_reader_destroy(r);
    return err;
}
