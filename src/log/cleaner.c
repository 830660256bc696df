/* Log maintenance: retention, compaction and verification.
 *
 * Retention (cleanup.policy contains delete) removes whole closed segments from the front of a
 * partition: a segment goes when its largest timestamp (the final time-index entry written at
 * roll) is older than retention.ms, or while the partition without it is still at least
 * retention.bytes. The active segment is never removed. The log start offset moves to the next
 * segment's base *before* the files are unlinked, so a reader never looks for a segment that
 * is gone without learning that its offset is out of range.
 *
 * Compaction (cleanup.policy contains compact) rewrites closed segments keeping, for each key,
 * only its latest record in the whole partition (closed segments and the published part of the
 * active one). Offsets never change: each batch is re-encoded with its original base offset and
 * last offset (batch.c's encode_at), so a batch may hold records with gaps between offsets.
 * Tombstones (null values) that are the latest for their key are kept until their batch's
 * largest timestamp is older than delete.retention.ms, then dropped. Records with a null key
 * are kept. A rewritten segment is written beside the old one (<base>.log.cleaned, with its
 * indexes), fdatasynced, and renamed over it: a crash leaves the old or the new segment, never a
 * mix; leftover .cleaned files are ignored and overwritten. Readers that had the old file open
 * keep reading it whole.
 *
 * Retention runs under the partition's append lock (after a roll) and takes the clean lock
 * without waiting; compaction holds the clean lock only, so appends continue meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/logging.h"
#include "log/log_internal.h"

void eddy__partition_retention_locked(eddy__partition *p);

static int64_t file_size(const char *dir, int64_t base, const char *ext)
{
    char path[EDDY_PATH_MAX];
    struct stat st;
    eddy__segment_path(dir, base, ext, path, sizeof(path));
    return stat(path, &st) == 0 ? st.st_size : 0;
}

static void segment_unlink(const char *dir, int64_t base)
{
    static const char *const exts[] = {".log", ".index", ".timeindex"};
    for (size_t i = 0; i < 3; i++) {
        char path[EDDY_PATH_MAX];
        eddy__segment_path(dir, base, exts[i], path, sizeof(path));
        unlink(path);
    }
}

/* The largest record timestamp of a closed segment: its final time-index entry, or a scan. */
static int64_t closed_segment_max_timestamp(const char *dir, int64_t base)
{
    char path[EDDY_PATH_MAX];
    int64_t ts, relative;
    eddy__segment_path(dir, base, ".timeindex", path, sizeof(path));
    if (eddy__timeindex_last(path, &ts, &relative) == EDDY_OK)
        return ts;
    eddy__segment_path(dir, base, ".log", path, sizeof(path));
    const uint8_t *data;
    int64_t size, mapped, position = 0, max_ts = INT64_MIN;
    if (eddy__segment_map(path, 0, &data, &size, &mapped) != EDDY_OK)
        return INT64_MAX; /* unreadable: keep it */
    while (position < size) {
        eddy__batch_header h;
        if (eddy__batch_parse_header(data + position, (size_t)(size - position), &h) != EDDY_OK)
            break;
        if (h.max_timestamp > max_ts)
            max_ts = h.max_timestamp;
        position += (int64_t)eddy__batch_size(&h);
    }
    eddy__segment_unmap(data, mapped);
    return max_ts;
}

static int segment_expired(eddy__partition *p, int64_t base, int64_t size, int64_t total,
                           int64_t now_ms)
{
    const eddy__topic_settings *s = &p->settings;
    if (s->retention_bytes >= 0 && total - size >= s->retention_bytes)
        return 1;
    if (s->retention_ms >= 0) {
        int64_t max_ts = closed_segment_max_timestamp(p->dir, base);
        if (max_ts != INT64_MAX && now_ms - max_ts > s->retention_ms)
            return 1;
    }
    return 0;
}

/* Deletes expired closed segments from the front. Under append_lock. */
static void retention_apply(eddy__partition *p)
{
    int64_t *bases;
    size_t count;
    if (eddy__segment_list(p->dir, &bases, &count) != EDDY_OK)
        return;
    int64_t active = atomic_load(&p->state->active_base), total = 0;
    for (size_t i = 0; i < count; i++)
        total += file_size(p->dir, bases[i], ".log");
    int64_t now_ms = eddy__now_ms();
    size_t deleted = 0;
    for (size_t i = 0; i + 1 < count && bases[i] < active; i++) {
        int64_t size = file_size(p->dir, bases[i], ".log");
        if (!segment_expired(p, bases[i], size, total, now_ms))
            break;
        atomic_store(&p->state->start_offset, bases[i + 1]);
        segment_unlink(p->dir, bases[i]);
        total -= size;
        deleted++;
    }
    eddy__free(bases);
    if (deleted > 0) {
        atomic_fetch_add(&p->state->segments_generation, 1);
        eddy__fsync_dir(p->dir);
        EDDY_INFO("log", "%s: retention deleted %zu segment(s)", p->dir, deleted);
    }
}

void eddy__partition_retention_locked(eddy__partition *p)
{
    if (!p->settings.cleanup_delete)
        return;
    /* Compaction may be rewriting a segment: never wait for it under the append lock. */
    int rc = pthread_mutex_trylock(&p->state->clean_lock);
    if (rc == EOWNERDEAD)
        pthread_mutex_consistent(&p->state->clean_lock);
    else if (rc != 0)
        return;
    retention_apply(p);
    pthread_mutex_unlock(&p->state->clean_lock);
}

/* ---- Compaction -------------------------------------------------------------------------- */

/* Latest offset per key: open addressing over 64-bit key hashes, keys compared in full. */
typedef struct key_slot {
    uint64_t hash;
    int64_t offset; /* -1: empty slot */
    uint8_t *key;
    size_t key_len;
} key_slot;

typedef struct key_map {
    key_slot *slots;
    size_t cap;
    size_t count;
} key_map;

static eddy_err key_map_grow(key_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    key_slot *slots = eddy__malloc(cap * sizeof(*slots));
    if (!slots)
        return eddy__fail(EDDY_ERR_NO_MEMORY, "compaction: out of memory for the key map");
    for (size_t i = 0; i < cap; i++)
        slots[i].offset = -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].offset < 0)
            continue;
        size_t j = m->slots[i].hash & (cap - 1);
        while (slots[j].offset >= 0)
            j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    eddy__free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return EDDY_OK;
}

static key_slot *key_map_find(key_map *m, eddy_slice key, uint64_t hash)
{
    size_t j = hash & (m->cap - 1);
    while (m->slots[j].offset >= 0) {
        key_slot *s = &m->slots[j];
        if (s->hash == hash && s->key_len == key.len && memcmp(s->key, key.data, key.len) == 0)
            return s;
        j = (j + 1) & (m->cap - 1);
    }
    return &m->slots[j];
}

static eddy_err key_map_put(key_map *m, eddy_slice key, int64_t offset)
{
    if ((m->count + 1) * 2 > m->cap) {
        eddy_err err = key_map_grow(m);
        if (err != EDDY_OK)
            return err;
    }
    uint64_t hash = eddy__hash64(key.data, key.len);
    key_slot *s = key_map_find(m, key, hash);
    if (s->offset < 0) {
        s->key = eddy__malloc(key.len ? key.len : 1);
        if (!s->key)
            return eddy__fail(EDDY_ERR_NO_MEMORY, "compaction: out of memory for keys");
        memcpy(s->key, key.data, key.len);
        s->key_len = key.len;
        s->hash = hash;
        m->count++;
    }
    s->offset = offset;
    return EDDY_OK;
}

static int64_t key_map_get(key_map *m, eddy_slice key)
{
    key_slot *s = key_map_find(m, key, eddy__hash64(key.data, key.len));
    return s->offset;
}

static void key_map_free(key_map *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].offset >= 0)
            eddy__free(m->slots[i].key);
    eddy__free(m->slots);
}

/* Calls fn for every record of the segment's first `limit` bytes (-1: the whole file), then
 * once with NULL arguments while the records' bytes are still mapped. */
typedef eddy_err (*record_fn)(const eddy__batch_header *h, const eddy_record *rec, void *opaque);

static eddy_err segment_records(const char *dir, int64_t base, int64_t limit, record_fn fn,
                                void *opaque)
{
    char path[EDDY_PATH_MAX];
    eddy__segment_path(dir, base, ".log", path, sizeof(path));
    const uint8_t *data;
    int64_t size, mapped, position = 0;
    eddy_err err = eddy__segment_map(path, 0, &data, &size, &mapped);
    if (err != EDDY_OK)
        return err;
    if (limit >= 0 && limit < size)
        size = limit;
    eddy__record_iter it = {0};
    while (err == EDDY_OK && position < size) {
        eddy__batch_header h;
        err = eddy__batch_parse_header(data + position, (size_t)(size - position), &h);
        if (err == EDDY_OK)
            err = eddy__batch_check_crc(data + position, &h);
        if (err != EDDY_OK) {
            err = eddy__fail(EDDY_ERR_CORRUPT, "compaction stopped at corrupt batch in %s at byte %"
                             PRId64, path, position);
            break;
        }
        eddy__record_iter_reset(&it, data + position, &h);
        eddy_record rec;
        while (err == EDDY_OK && (err = eddy__record_iter_next(&it, &rec)) == EDDY_OK)
            err = fn(&h, &rec, opaque);
        if (err == EDDY_ERR_END)
            err = EDDY_OK;
        position += (int64_t)eddy__batch_size(&h);
    }
    if (err == EDDY_OK)
        err = fn(NULL, NULL, opaque);
    eddy__record_iter_free(&it);
    eddy__segment_unmap(data, mapped);
    return err;
}

static eddy_err map_record(const eddy__batch_header *h, const eddy_record *rec, void *opaque)
{
    (void)h;
    if (!rec || !rec->key.data)
        return EDDY_OK;
    return key_map_put(opaque, rec->key, rec->offset);
}

/* The rewrite of one segment: survivors of the current batch, then the output buffers. */
typedef struct rewrite {
    eddy__partition *p;
    key_map *map;
    int64_t now_ms;
    eddy__batch_header batch;  /* the input batch being filtered */
    int64_t batch_base;        /* -1 before the first batch */
    eddy_record *records;
    int64_t *offsets;
    size_t count, cap;
    size_t dropped;
    eddy__buf out;
} rewrite;

static eddy_err rewrite_flush(rewrite *w, int last)
{
    if (w->batch_base < 0 || (w->count == 0 && !last))
        return EDDY_OK;
    return eddy__batch_encode_at(&w->out, &w->batch, w->batch.base_offset,
                                 eddy__batch_last_offset(&w->batch), w->records, w->offsets,
                                 w->count);
}

static int record_survives(rewrite *w, const eddy__batch_header *h, const eddy_record *rec)
{
    if (!rec->key.data)
        return 1;
    if (key_map_get(w->map, rec->key) != rec->offset)
        return 0;
    if (!rec->value.data && w->now_ms - h->max_timestamp > w->p->settings.delete_retention_ms)
        return 0; /* an old tombstone: its key is gone for good */
    return 1;
}

static eddy_err rewrite_record(const eddy__batch_header *h, const eddy_record *rec, void *opaque)
{
    rewrite *w = opaque;
    if (!h)
        return rewrite_flush(w, 1);
    if (h->base_offset != w->batch_base) {
        eddy_err err = rewrite_flush(w, 0);
        if (err != EDDY_OK)
            return err;
        w->batch = *h;
        w->batch_base = h->base_offset;
        w->count = 0;
    }
    if (!record_survives(w, h, rec)) {
        w->dropped++;
        return EDDY_OK;
    }
    if (w->count == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 256;
        eddy_record *r = eddy__realloc(w->records, cap * sizeof(*r));
        if (r)
            w->records = r;
        int64_t *o = eddy__realloc(w->offsets, cap * sizeof(*o));
        if (o)
            w->offsets = o;
        if (!r || !o)
            return eddy__fail(EDDY_ERR_NO_MEMORY, "compaction: out of memory");
        w->cap = cap;
    }
    /* The record's bytes stay valid: the segment stays mapped until the rewrite is done. */
    w->records[w->count] = *rec;
    w->offsets[w->count] = rec->offset;
    w->count++;
    return EDDY_OK;
}

/* Writes bytes to <path>.cleaned and fdatasyncs it. */
static eddy_err write_cleaned(const char *path, const uint8_t *data, size_t len)
{
    char tmp[EDDY_PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.cleaned", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return eddy__fail_errno(errno, "cannot create %s", tmp);
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            unlink(tmp);
            return eddy__fail_errno(err, "cannot write %s", tmp);
        }
        done += (size_t)n;
    }
    int rc = fdatasync(fd) == 0 ? 0 : errno;
    close(fd);
    if (rc != 0) {
        unlink(tmp);
        return eddy__fail_errno(rc, "cannot fdatasync %s", tmp);
    }
    return EDDY_OK;
}

typedef struct index_build {
    int64_t base, interval, last_position, max_ts, last_ts, end;
    eddy__buf index, timeindex;
} index_build;

static int index_build_visit(const uint8_t *batch, const eddy__batch_header *h, int64_t position,
                             void *opaque)
{
    (void)batch;
    index_build *b = opaque;
    uint8_t entry[EDDY_TIMEINDEX_ENTRY_SIZE];
    uint32_t relative = (uint32_t)(h->base_offset - b->base);
    if (position > 0 && position - b->last_position >= b->interval) {
        eddy__be32_put(entry, relative);
        eddy__be32_put(entry + 4, (uint32_t)position);
        eddy__buf_append(&b->index, entry, EDDY_INDEX_ENTRY_SIZE);
        b->last_position = position;
        if (b->max_ts > b->last_ts) {
            eddy__be64_put(entry, (uint64_t)b->max_ts);
            eddy__be32_put(entry + 8, relative);
            eddy__buf_append(&b->timeindex, entry, EDDY_TIMEINDEX_ENTRY_SIZE);
            b->last_ts = b->max_ts;
        }
    }
    if (h->max_timestamp > b->max_ts)
        b->max_ts = h->max_timestamp;
    b->end = eddy__batch_last_offset(h) + 1;
    return 0;
}

/* Installs a rewritten segment: indexes first, then the log (the log's rename is the commit;
 * indexes are hints, so a crash between renames leaves the old log with new hints, which
 * readers detect and ignore). */
static eddy_err segment_install(eddy__partition *p, int64_t base, const eddy__buf *log_bytes)
{
    index_build b = {.base = base, .interval = p->settings.index_interval_bytes,
                     .max_ts = INT64_MIN, .last_ts = INT64_MIN, .end = base};
    int64_t valid_end;
    eddy__segment_walk(log_bytes->data, (int64_t)log_bytes->len, 0, index_build_visit, &b,
                       &valid_end);
    if (b.max_ts > b.last_ts) {
        uint8_t entry[EDDY_TIMEINDEX_ENTRY_SIZE];
        eddy__be64_put(entry, (uint64_t)b.max_ts);
        eddy__be32_put(entry + 8, (uint32_t)(b.end - base));
        eddy__buf_append(&b.timeindex, entry, sizeof(entry));
    }
    static const char *const exts[] = {".index", ".timeindex", ".log"};
    const eddy__buf *bufs[] = {&b.index, &b.timeindex, log_bytes};
    eddy_err err = EDDY_OK;
    for (size_t i = 0; i < 3 && err == EDDY_OK; i++) {
        char path[EDDY_PATH_MAX], tmp[EDDY_PATH_MAX];
        eddy__segment_path(p->dir, base, exts[i], path, sizeof(path));
        snprintf(tmp, sizeof(tmp), "%s.cleaned", path);
        err = write_cleaned(path, bufs[i]->data, bufs[i]->len);
        if (err == EDDY_OK && rename(tmp, path) != 0)
            err = eddy__fail_errno(errno, "cannot install compacted %s", path);
    }
    eddy__buf_free(&b.index);
    eddy__buf_free(&b.timeindex);
    return err == EDDY_OK ? eddy__fsync_dir(p->dir) : err;
}

static eddy_err segment_compact(eddy__partition *p, key_map *map, int64_t base, size_t *dropped)
{
    rewrite w = {.p = p, .map = map, .now_ms = eddy__now_ms(), .batch_base = -1};
    eddy_err err = segment_records(p->dir, base, -1, rewrite_record, &w);
    if (err == EDDY_OK && w.dropped > 0)
        err = segment_install(p, base, &w.out);
    *dropped += w.dropped;
    eddy__free(w.records);
    eddy__free(w.offsets);
    eddy__buf_free(&w.out);
    return err;
}

static eddy_err partition_compact(eddy__partition *p)
{
    int64_t *bases;
    size_t count;
    eddy_err err = eddy__segment_list(p->dir, &bases, &count);
    if (err != EDDY_OK)
        return err;
    int64_t active, active_size;
    eddy__partition_active(p, &active, &active_size);
    key_map map = {0};
    for (size_t i = 0; i < count && err == EDDY_OK; i++)
        err = segment_records(p->dir, bases[i], bases[i] == active ? active_size : -1,
                              map_record, &map);
    size_t dropped = 0;
    for (size_t i = 0; i < count && err == EDDY_OK && bases[i] < active; i++)
        err = segment_compact(p, &map, bases[i], &dropped);
    key_map_free(&map);
    eddy__free(bases);
    if (dropped > 0) {
        atomic_fetch_add(&p->state->segments_generation, 1);
        EDDY_INFO("log", "%s: compaction removed %zu record(s)", p->dir, dropped);
    }
    return err;
}

static eddy_err partition_maintain(eddy__partition *p)
{
    int rc = pthread_mutex_lock(&p->state->clean_lock);
    if (rc == EOWNERDEAD)
        pthread_mutex_consistent(&p->state->clean_lock);
    else if (rc != 0)
        return eddy__fail_errno(rc, "cannot lock cleaner of %s", p->dir);
    eddy_err err = EDDY_OK;
    if (p->settings.cleanup_compact)
        err = partition_compact(p);
    if (err == EDDY_OK && p->settings.cleanup_delete) {
        err = eddy__partition_lock(p);
        if (err == EDDY_OK) {
            retention_apply(p);
            eddy__partition_unlock(p);
        }
    }
    pthread_mutex_unlock(&p->state->clean_lock);
    return err;
}

static eddy_err topic_maintain(eddy_log *log, const char *topic)
{
    int32_t partitions;
    eddy_err err = eddy_log_topic_partitions(log, topic, &partitions);
    for (int32_t i = 0; i < partitions && err == EDDY_OK; i++) {
        eddy__partition *p;
        err = eddy__log_partition(log, topic, i, &p);
        if (err == EDDY_OK)
            err = partition_maintain(p);
    }
    return err;
}

eddy_err eddy_log_maintain(eddy_log *log, const char *topic)
{
    if (topic)
        return topic_maintain(log, topic);
    char **names;
    size_t count;
    eddy_err err = eddy_log_topic_list(log, &names, &count);
    for (size_t i = 0; i < count && err == EDDY_OK; i++)
        err = topic_maintain(log, names[i]);
    eddy_log_names_free(names, count);
    return err;
}

/* ---- Verification ------------------------------------------------------------------------ */

typedef struct verifier {
    eddy_log_verify_cb cb;
    void *opaque;
    int64_t problems;
    /* the segment being verified */
    const char *path;
    int64_t base;
    int64_t *starts; /* batch start positions, base offsets and max timestamps, for indexes */
    int64_t *start_offsets;
    int64_t *start_max_ts;
    size_t starts_count, starts_cap;
    int64_t next_offset; /* offsets must not go backwards */
    int64_t valid_end;   /* bytes of the segment that walked cleanly */
    int walk_ok;         /* the whole segment walked cleanly */
} verifier;

static void problem(verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(verifier *v, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    v->problems++;
    if (v->cb)
        v->cb(line, v->opaque);
}

static int verify_visit(const uint8_t *batch, const eddy__batch_header *h, int64_t position,
                        void *opaque)
{
    verifier *v = opaque;
    if (h->base_offset < v->next_offset || h->base_offset < v->base) {
        problem(v, "%s: batch at byte %" PRId64 " has base offset %" PRId64
                " but offsets before it reach %" PRId64, v->path, position, h->base_offset,
                v->next_offset - 1);
        return 1;
    }
    eddy__record_iter it;
    eddy__record_iter_init(&it, batch, h);
    eddy_record rec;
    eddy_err err;
    while ((err = eddy__record_iter_next(&it, &rec)) == EDDY_OK) {
    }
    eddy__record_iter_free(&it);
    if (err != EDDY_ERR_END) {
        problem(v, "%s: batch at byte %" PRId64 " (offset %" PRId64 "): %s", v->path, position,
                h->base_offset, eddy_last_error());
        return 1;
    }
    if (v->starts_count == v->starts_cap) {
        size_t cap = v->starts_cap ? v->starts_cap * 2 : 256;
        int64_t *s = eddy__realloc(v->starts, cap * sizeof(*s));
        if (s)
            v->starts = s;
        int64_t *o = eddy__realloc(v->start_offsets, cap * sizeof(*o));
        if (o)
            v->start_offsets = o;
        int64_t *t = eddy__realloc(v->start_max_ts, cap * sizeof(*t));
        if (t)
            v->start_max_ts = t;
        if (!s || !o || !t)
            return 1;
        v->starts_cap = cap;
    }
    v->starts[v->starts_count] = position;
    v->start_max_ts[v->starts_count] = h->max_timestamp;
    v->start_offsets[v->starts_count++] = h->base_offset;
    v->next_offset = eddy__batch_last_offset(h) + 1;
    return 0;
}

static void verify_index(verifier *v, const char *dir, int64_t base)
{
    char path[EDDY_PATH_MAX];
    eddy__segment_path(dir, base, ".index", path, sizeof(path));
    FILE *f = fopen(path, "rb");
    if (!f)
        return; /* a missing index is rebuilt on recovery; not a problem */
    uint8_t entry[EDDY_INDEX_ENTRY_SIZE];
    size_t i = 0, n = 0;
    while (fread(entry, 1, sizeof(entry), f) == sizeof(entry)) {
        int64_t offset = base + eddy__be32_get(entry), position = eddy__be32_get(entry + 4);
        if (!v->walk_ok && position >= v->valid_end)
            break; /* beyond a corrupt batch (already reported): nothing to check against */
        while (i < v->starts_count && v->starts[i] < position)
            i++;
        if (i == v->starts_count || v->starts[i] != position || v->start_offsets[i] != offset) {
            problem(v, "%s: entry %zu (offset %" PRId64 ", byte %" PRId64
                    ") does not point at a batch start", path, n, offset, position);
            break;
        }
        n++;
    }
    fclose(f);
}

/* Each time-index entry (T, O) promises that every record below offset O has a timestamp of at
 * most T; entries never go backwards. */
static void verify_timeindex(verifier *v, const char *dir, int64_t base)
{
    char path[EDDY_PATH_MAX];
    eddy__segment_path(dir, base, ".timeindex", path, sizeof(path));
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    uint8_t entry[EDDY_TIMEINDEX_ENTRY_SIZE];
    size_t i = 0, n = 0;
    int64_t max_ts = INT64_MIN, last_ts = INT64_MIN, last_offset = base;
    while (fread(entry, 1, sizeof(entry), f) == sizeof(entry)) {
        int64_t ts = (int64_t)eddy__be64_get(entry), offset = base + eddy__be32_get(entry + 8);
        if (!v->walk_ok && offset > v->next_offset)
            break; /* beyond a corrupt batch (already reported) */
        while (i < v->starts_count && v->start_offsets[i] < offset)
            if (v->start_max_ts[i++] > max_ts)
                max_ts = v->start_max_ts[i - 1];
        if (ts < last_ts || offset < last_offset || offset > v->next_offset || max_ts > ts) {
            problem(v, "%s: entry %zu (timestamp %" PRId64 ", offset %" PRId64
                    ") contradicts the segment's records", path, n, ts, offset);
            break;
        }
        last_ts = ts;
        last_offset = offset;
        n++;
    }
    fclose(f);
}

static void verify_segment(verifier *v, const char *dir, int64_t base)
{
    char path[EDDY_PATH_MAX];
    eddy__segment_path(dir, base, ".log", path, sizeof(path));
    const uint8_t *data;
    int64_t size, mapped, valid_end;
    if (eddy__segment_map(path, 0, &data, &size, &mapped) != EDDY_OK) {
        problem(v, "%s: %s", path, eddy_last_error());
        return;
    }
    v->path = path;
    v->base = base;
    v->starts_count = 0;
    int64_t before = v->problems;
    eddy_err err = eddy__segment_walk(data, size, 0, verify_visit, v, &valid_end);
    v->valid_end = valid_end;
    v->walk_ok = err == EDDY_OK;
    if (err != EDDY_OK && v->problems == before)
        problem(v, "%s: corrupt batch at byte %" PRId64 " (after offset %" PRId64 "): %s", path,
                valid_end, v->next_offset - 1,
                err == EDDY_ERR_END ? "incomplete batch" : eddy_last_error());
    eddy__segment_unmap(data, mapped);
    verify_index(v, dir, base);
    verify_timeindex(v, dir, base);
}

static eddy_err verify_topic(eddy_log *log, const char *topic, verifier *v)
{
    int32_t partitions;
    eddy_err err = eddy_log_topic_partitions(log, topic, &partitions);
    if (err != EDDY_OK)
        return err;
    char topic_dir[EDDY_PATH_MAX];
    eddy__topic_dir(log, topic, topic_dir, sizeof(topic_dir));
    for (int32_t i = 0; i < partitions; i++) {
        char dir[EDDY_PATH_MAX];
        int64_t *bases;
        size_t count;
        snprintf(dir, sizeof(dir), "%s/%d", topic_dir, i);
        if (eddy__segment_list(dir, &bases, &count) != EDDY_OK) {
            problem(v, "%s: %s", dir, eddy_last_error());
            continue;
        }
        v->next_offset = 0;
        for (size_t j = 0; j < count; j++)
            verify_segment(v, dir, bases[j]);
        eddy__free(bases);
    }
    return EDDY_OK;
}

eddy_err eddy_log_verify(eddy_log *log, const char *topic, eddy_log_verify_cb cb, void *opaque,
                         int64_t *problems)
{
    verifier v = {.cb = cb, .opaque = opaque};
    eddy_err err = EDDY_OK;
    if (topic) {
        err = verify_topic(log, topic, &v);
    } else {
        char **names;
        size_t count;
        err = eddy_log_topic_list(log, &names, &count);
        for (size_t i = 0; i < count && err == EDDY_OK; i++)
            err = verify_topic(log, names[i], &v);
        eddy_log_names_free(names, count);
    }
    eddy__free(v.starts);
    eddy__free(v.start_offsets);
    eddy__free(v.start_max_ts);
    if (problems)
        *problems = v.problems;
    return err;
}
